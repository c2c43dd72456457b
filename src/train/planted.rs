//! Interactions with planted structure, for tests and benchmarks: users fall in `groups`
//! groups, items too, and a user interacts with items of its own group `affinity` of the
//! time (otherwise with any item); within a group, items are chosen with a skew, so a few
//! are popular everywhere. A model that learns nothing does no better than popularity; one
//! that learns the groups does far better. Deterministic for a seed.

/// How to plant the structure.
#[derive(Debug, Clone, Copy)]
pub struct Planted {
    /// Users, named `u0`, `u1`, ...; user `u` is in group `u % groups`.
    pub users: usize,
    /// Items, named `i0`, `i1`, ...; item `i` is in group `i % groups`.
    pub items: usize,
    /// Groups of users and of items.
    pub groups: usize,
    /// Interactions per user.
    pub per_user: usize,
    /// The share of a user's interactions within its group, in `[0, 1]`.
    pub affinity: f64,
    /// The random stream's seed.
    pub seed: u64,
}

impl Planted {
    /// Every interaction as `(user, item, epoch seconds)`, users one after another, each
    /// user's in time order.
    pub fn rows(&self) -> impl Iterator<Item = (String, String, i64)> + '_ {
        let mut x = self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let groups = self.groups.max(1);
        let per_group = (self.items / groups).max(1);
        (0..self.users).flat_map(move |u| {
            let g = u % groups;
            (0..self.per_user)
                .map(|k| {
                    let r = next();
                    let own = (r % 10_000) as f64 / 10_000.0 < self.affinity;
                    // A skewed pick within a group: the square of a uniform draw.
                    let f = ((r >> 20) % 10_000) as f64 / 10_000.0;
                    let within = ((f * f) * per_group as f64) as usize % per_group;
                    let group = if own { g } else { (r >> 40) as usize % groups };
                    let item = (within * groups + group) % self.items.max(1);
                    let time = 1_700_000_000 + (u * self.per_user + k) as i64;
                    (format!("u{u}"), format!("i{item}"), time)
                })
                .collect::<Vec<_>>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::item_item::similarities;
    use crate::train::metrics::{evaluate, split};
    use crate::train::personalization::recommend;
    use crate::train::popularity::popularity;
    use crate::train::snapshot::SnapshotBuilder;

    /// The structure is there to find: user-personalization's precision at 10 is at least
    /// twice popularity's, and a model swapped for popularity would fail this.
    #[test]
    fn user_personalization_finds_the_planted_groups_and_popularity_does_not() {
        let planted = Planted {
            users: 2000,
            items: 400,
            groups: 8,
            per_user: 12,
            affinity: 0.85,
            seed: 7,
        };
        let mut b = SnapshotBuilder::default();
        for (u, i, t) in planted.rows() {
            b.push(&u, &i, t);
        }
        let s = b.finish();
        let sp = split(&s);
        let h = sp.train.histories();
        let pop = popularity(&sp.train);
        let popular = evaluate(&sp, |u| {
            pop.iter()
                .map(|p| p.0)
                .filter(|i| !h.of(u).contains(i))
                .take(25)
                .collect()
        });
        let n = similarities(&sp.train, 100);
        let personal = evaluate(&sp, |u| {
            recommend(&n, &pop, h.of(u), 100, 25)
                .into_iter()
                .map(|r| r.0)
                .collect()
        });
        let (p, q) = (personal["precision_at_10"], popular["precision_at_10"]);
        eprintln!("precision_at_10: user-personalization {p}, popularity {q}");
        assert!(p >= 2.0 * q, "user-personalization {p} vs popularity {q}");
        assert!(personal["coverage"] > popular["coverage"]);
        // Same data, same model, same metrics.
        let retrained = similarities(&sp.train, 100);
        assert_eq!(retrained, n);
        let again = evaluate(&sp, |u| {
            recommend(&retrained, &pop, h.of(u), 100, 25)
                .into_iter()
                .map(|r| r.0)
                .collect()
        });
        assert_eq!(again, personal);
    }
}
