//! Item-item similarity (aws-similar-items, aws-sims, the "frequently bought together",
//! "customers who viewed X", "because you watched X" and "more like X" use cases, and the
//! ground of user-personalization and ranking): two items are as similar as the users who
//! interacted with both, cosine-normalised: `|U(i) ∩ U(j)| / sqrt(|U(i)| |U(j)|)`. Each item
//! keeps its `neighbours` most similar items.
//!
//! Cost: the sum over users of their distinct items squared, in one pass per item over the
//! users of that item with a dense accumulator; memory: the interactions twice (user→items
//! and item→users) plus the kept neighbours. Both cores work, each on half of the items.

use super::snapshot::{Histories, Snapshot};

/// Every item's most similar items, best first, as a compressed table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbours {
    /// Where each item's neighbours start; one more entry than there are items.
    pub starts: Vec<u32>,
    /// The neighbours of every item, one after another.
    pub items: Vec<u32>,
    /// Their similarities, in `(0, 1]`.
    pub sims: Vec<f32>,
}

impl Neighbours {
    /// Item `i`'s neighbours with their similarities, best first.
    pub fn of(&self, i: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        let (a, b) = (
            self.starts[i as usize] as usize,
            self.starts[i as usize + 1] as usize,
        );
        self.items[a..b]
            .iter()
            .copied()
            .zip(self.sims[a..b].iter().copied())
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The users of each item: the transpose of `h`.
fn users_of(h: &Histories, items: usize) -> Histories {
    let mut counts = vec![0u32; items + 1];
    for &i in &h.items {
        counts[i as usize + 1] += 1;
    }
    for i in 0..items {
        counts[i + 1] += counts[i];
    }
    let mut next = counts.clone();
    let mut users = vec![0u32; h.items.len()];
    for u in 0..h.users() as u32 {
        for &i in h.of(u) {
            users[next[i as usize] as usize] = u;
            next[i as usize] += 1;
        }
    }
    Histories {
        starts: counts,
        items: users,
    }
}

/// The `neighbours` most similar items of every item of `s`.
pub fn similarities(s: &Snapshot, neighbours: usize) -> Neighbours {
    let h = s.histories();
    similarities_of(&h, s.items.len(), neighbours)
}

/// [`similarities`] over given histories (a training split's).
pub fn similarities_of(h: &Histories, items: usize, neighbours: usize) -> Neighbours {
    let by_item = users_of(h, items);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = items.div_ceil(threads.max(1)).max(1);
    // Each thread fills a table of its own for a run of items, reusing its buffers; the
    // tables are joined in item order.
    let parts: Vec<Neighbours> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..items)
            .step_by(chunk)
            .map(|first| {
                let (h, by_item) = (&h, &by_item);
                scope.spawn(move || {
                    let last = (first + chunk).min(items);
                    let mut co = vec![0u32; items];
                    let mut touched = Vec::new();
                    let mut best: Vec<(u32, f32)> = Vec::new();
                    let mut out = Neighbours::default();
                    for i in first..last {
                        for &u in by_item.of(i as u32) {
                            for &j in h.of(u) {
                                if j as usize != i {
                                    if co[j as usize] == 0 {
                                        touched.push(j);
                                    }
                                    co[j as usize] += 1;
                                }
                            }
                        }
                        let ni = by_item.of(i as u32).len() as f32;
                        best.clear();
                        best.extend(touched.iter().map(|&j| {
                            let nj = by_item.of(j).len() as f32;
                            (j, co[j as usize] as f32 / (ni * nj).sqrt())
                        }));
                        for &j in &touched {
                            co[j as usize] = 0;
                        }
                        touched.clear();
                        let by_score = |a: &(u32, f32), b: &(u32, f32)| {
                            b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                        };
                        if best.len() > neighbours {
                            best.select_nth_unstable_by(neighbours, by_score);
                            best.truncate(neighbours);
                        }
                        best.sort_by(by_score);
                        out.items.extend(best.iter().map(|b| b.0));
                        out.sims.extend(best.iter().map(|b| b.1));
                        out.starts.push(out.items.len() as u32);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let kept: usize = parts.iter().map(|p| p.items.len()).sum();
    let mut n = Neighbours {
        starts: Vec::with_capacity(items + 1),
        items: Vec::with_capacity(kept),
        sims: Vec::with_capacity(kept),
    };
    n.starts.push(0);
    for part in parts {
        let base = n.items.len() as u32;
        n.starts.extend(part.starts.iter().map(|s| base + s));
        n.items.extend_from_slice(&part.items);
        n.sims.extend_from_slice(&part.sims);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::snapshot::SnapshotBuilder;

    #[test]
    fn items_bought_by_the_same_users_are_the_most_similar() {
        let mut b = SnapshotBuilder::default();
        for u in 0..10 {
            b.push(&format!("u{u}"), "bread", u);
            b.push(&format!("u{u}"), "butter", u);
            if u < 3 {
                b.push(&format!("u{u}"), "jam", u);
            }
        }
        b.push("loner", "caviar", 0);
        let s = b.finish();
        let n = similarities(&s, 10);
        let names = |i: u32| {
            n.of(i)
                .map(|(j, sim)| {
                    (
                        s.items[j as usize].as_str(),
                        (sim * 1000.0).round() / 1000.0,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(0), [("butter", 1.0), ("jam", 0.548)]);
        assert_eq!(names(2), [("bread", 0.548), ("butter", 0.548)]);
        assert!(names(3).is_empty(), "caviar shares no user");
        // Keeping one neighbour keeps the best.
        let one = similarities(&s, 1);
        assert_eq!(one.of(2).count(), 1);
        assert_eq!(one.len(), 4);
    }
}
