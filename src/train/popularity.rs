//! Popularity (aws-popularity-count and the "most viewed", "best sellers", "most popular" use
//! cases) and trending (aws-trending-now): one score per item, every item ranked.

use super::snapshot::Snapshot;

/// Items by score, highest first (ties: the item seen first), with their scores.
pub type Ranked = Vec<(u32, f32)>;

fn ranked(scores: Vec<f64>) -> Ranked {
    let mut out: Ranked = scores
        .into_iter()
        .enumerate()
        .filter(|(_, s)| *s > 0.0)
        .map(|(i, s)| (i as u32, s as f32))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// How many distinct users interacted with each item, as a share of all users.
pub fn popularity(s: &Snapshot) -> Ranked {
    let h = s.histories();
    let mut users = vec![0f64; s.items.len()];
    for &i in &h.items {
        users[i as usize] += 1.0;
    }
    let n = h.users().max(1) as f64;
    ranked(users.into_iter().map(|c| c / n).collect())
}

/// Each item's interactions weighted by recency: an interaction `half_life` seconds older
/// than the newest one counts half as much, so items whose interactions grow fastest come
/// first. Scores are normalised to sum to 1.
pub fn trending(s: &Snapshot, half_life: f64) -> Ranked {
    let newest = s.events.iter().map(|e| e.time).max().unwrap_or(0);
    let mut weights = vec![0f64; s.items.len()];
    for e in &s.events {
        let age = (newest - e.time).max(0) as f64;
        weights[e.item as usize] += (-age / half_life.max(1.0) * std::f64::consts::LN_2).exp();
    }
    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    ranked(weights.into_iter().map(|w| w / total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::snapshot::SnapshotBuilder;

    #[test]
    fn popularity_counts_users_and_trending_favours_recent_interactions() {
        let mut b = SnapshotBuilder::default();
        // "old" has three users long ago; "new" two users now; "a" repeats one user.
        for (u, i, t) in [
            ("u1", "old", 0),
            ("u2", "old", 0),
            ("u3", "old", 0),
            ("u1", "new", 1_000_000),
            ("u2", "new", 1_000_000),
            ("u4", "a", 500),
            ("u4", "a", 600),
        ] {
            b.push(u, i, t);
        }
        let s = b.finish();
        let name = |r: &Ranked| {
            r.iter()
                .map(|(i, _)| s.items[*i as usize].clone())
                .collect::<Vec<_>>()
        };
        let p = popularity(&s);
        assert_eq!(name(&p), ["old", "new", "a"]);
        assert_eq!(p[0].1, 0.75);
        let t = trending(&s, 86_400.0);
        assert_eq!(name(&t)[0], "new");
    }
}
