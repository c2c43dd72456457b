//! Metrics that are measured, the way the developer guide describes them: each user's latest
//! item is held out, a model is trained on the rest, and its recommendations for those users
//! are scored against the held-out items (one relevant item per user):
//!
//! - `precision_at_K`: 1/K when the item is in the top K, else 0;
//! - `normalized_discounted_cumulative_gain_at_K`: 1/log2(1 + rank) when it is in the top K;
//! - `mean_reciprocal_rank_at_25`: 1/rank when it is in the top 25;
//! - `coverage`: the share of the training items that appear in any user's top 25;
//!
//! each averaged over the users evaluated: those with at least two distinct items, at most
//! [`MAX_USERS`] of them (every k-th, deterministically, when there are more).

use std::collections::BTreeMap;

use super::snapshot::{Event, Snapshot};

/// Users scored at most.
pub const MAX_USERS: usize = 10_000;

/// The list length the metrics look at.
pub const DEPTH: usize = 25;

/// A training split: the snapshot less each evaluated user's latest item, and those items.
#[derive(Debug, Clone)]
pub struct Split {
    /// What the evaluation model trains on: every interaction but those of a user with the
    /// item held out from them.
    pub train: Snapshot,
    /// `(user, held-out item)`, by user.
    pub held_out: Vec<(u32, u32)>,
}

/// Holds out the latest item of every user with at least two distinct items, sampled down
/// to [`MAX_USERS`].
pub fn split(s: &Snapshot) -> Split {
    let h = s.histories();
    let eligible: Vec<u32> = (0..h.users() as u32)
        .filter(|&u| h.of(u).len() >= 2)
        .collect();
    let step = eligible.len().div_ceil(MAX_USERS).max(1);
    let held_out: Vec<(u32, u32)> = eligible
        .iter()
        .step_by(step)
        .map(|&u| (u, *h.of(u).last().unwrap_or(&0)))
        .collect();
    let mut out = vec![u32::MAX; s.users.len()];
    for &(u, i) in &held_out {
        out[u as usize] = i;
    }
    let events: Vec<Event> = s
        .events
        .iter()
        .filter(|e| out[e.user as usize] != e.item)
        .copied()
        .collect();
    Split {
        train: Snapshot {
            users: s.users.clone(),
            items: s.items.clone(),
            events,
        },
        held_out,
    }
}

/// Scores the top-[`DEPTH`] lists `recommend(user)` gives for the held-out users of `split`.
pub fn evaluate(
    split: &Split,
    mut recommend: impl FnMut(u32) -> Vec<u32>,
) -> BTreeMap<String, f64> {
    let ks = [5usize, 10, 25];
    let mut precision = [0f64; 3];
    let mut ndcg = [0f64; 3];
    let mut mrr = 0f64;
    let mut shown = vec![false; split.train.items.len()];
    for &(u, held) in &split.held_out {
        let list = recommend(u);
        for &i in list.iter().take(DEPTH) {
            if let Some(s) = shown.get_mut(i as usize) {
                *s = true;
            }
        }
        if let Some(at) = list.iter().take(DEPTH).position(|&i| i == held) {
            let rank = at + 1;
            mrr += 1.0 / rank as f64;
            for (k_at, &k) in ks.iter().enumerate() {
                if rank <= k {
                    precision[k_at] += 1.0 / k as f64;
                    ndcg[k_at] += 1.0 / ((rank + 1) as f64).log2();
                }
            }
        }
    }
    let n = split.held_out.len().max(1) as f64;
    let items = split.train.items.len().max(1) as f64;
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    let mut m = BTreeMap::new();
    m.insert(
        "coverage".to_owned(),
        round(shown.iter().filter(|s| **s).count() as f64 / items),
    );
    m.insert("mean_reciprocal_rank_at_25".to_owned(), round(mrr / n));
    for (k_at, k) in ks.iter().enumerate() {
        m.insert(format!("precision_at_{k}"), round(precision[k_at] / n));
        m.insert(
            format!("normalized_discounted_cumulative_gain_at_{k}"),
            round(ndcg[k_at] / n),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::snapshot::SnapshotBuilder;

    #[test]
    fn the_latest_item_is_held_out_and_a_perfect_list_scores_one() {
        let mut b = SnapshotBuilder::default();
        for u in 0..4 {
            b.push(&format!("u{u}"), "a", 1);
            b.push(&format!("u{u}"), "b", 2);
            b.push(&format!("u{u}"), "b", 0);
        }
        b.push("single", "a", 1);
        let s = b.finish();
        let sp = split(&s);
        assert_eq!(
            sp.held_out.len(),
            4,
            "the single-item user is not evaluated"
        );
        assert!(sp.held_out.iter().all(|&(_, i)| i == 1), "b is the latest");
        assert_eq!(
            sp.train.events.len(),
            5,
            "every interaction with b of those users goes"
        );
        let perfect = evaluate(&sp, |_| vec![1, 0]);
        assert_eq!(perfect["precision_at_5"], 0.2);
        assert_eq!(perfect["mean_reciprocal_rank_at_25"], 1.0);
        assert_eq!(perfect["normalized_discounted_cumulative_gain_at_10"], 1.0);
        assert_eq!(perfect["coverage"], 1.0);
        let second = evaluate(&sp, |_| vec![0, 1]);
        assert_eq!(second["mean_reciprocal_rank_at_25"], 0.5);
        let miss = evaluate(&sp, |_| vec![0]);
        assert_eq!(miss["precision_at_25"], 0.0);
        assert_eq!(miss["coverage"], 0.5);
    }
}
