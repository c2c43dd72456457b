//! User-personalization (aws-user-personalization(-v2), the legacy HRNN recipes, "recommended
//! for you", "top picks") and personalized ranking: an item's score for a user is the sum of
//! its similarities ([`super::item_item`]) to the latest `history_length` items of the user's
//! history, the more recent ones weighing more; items the user already has are left out; a
//! user with no history (or no scored item) gets the popular items, so every answer is full.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::item_item::Neighbours;
use super::popularity::Ranked;

/// How much less each older item of a history weighs than the next newer one.
const DECAY: f32 = 0.95;

/// The `n` best items for a user whose distinct items are `history` (oldest first), with
/// their scores, best first; topped up from `popular` (scores scaled below every
/// personalised one) when fewer items are scored.
pub fn recommend(
    neighbours: &Neighbours,
    popular: &Ranked,
    history: &[u32],
    history_length: usize,
    n: usize,
) -> Vec<(u32, f32)> {
    let scores = scores(neighbours, history, history_length);
    let mut best: Vec<(u32, f32)> = scores
        .into_iter()
        .filter(|(i, _)| !history.contains(i))
        .collect();
    let by_score = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if best.len() > n {
        best.select_nth_unstable_by(n, by_score);
        best.truncate(n);
    }
    best.sort_by(by_score);
    if best.len() < n {
        let floor = best.last().map_or(1.0, |b| b.1);
        let known: std::collections::HashSet<u32> = best.iter().map(|b| b.0).collect();
        for &(i, p) in popular {
            if best.len() == n {
                break;
            }
            if !known.contains(&i) && !history.contains(&i) {
                best.push((i, floor * 0.5 * p));
            }
        }
    }
    best
}

/// Items' scores: a fast hash for small integer keys (nothing here comes from a request).
pub type Scores = HashMap<u32, f32, FixedState>;

/// Every item similar to one of the latest `history_length` items of `history`, with its
/// summed, recency-weighted similarity.
pub fn scores(neighbours: &Neighbours, history: &[u32], history_length: usize) -> Scores {
    let recent = &history[history.len().saturating_sub(history_length)..];
    let mut scores = Scores::with_capacity_and_hasher(64, FixedState::default());
    let mut weight = 1.0f32;
    for &i in recent.iter().rev() {
        if (i as usize) < neighbours.len() {
            for (j, sim) in neighbours.of(i) {
                *scores.entry(j).or_default() += weight * sim;
            }
        }
        weight *= DECAY;
    }
    scores
}

/// `items` ranked for a user with `history`: by score, best first; items without a score
/// (unknown to the model, or unrelated) follow in their given order with score 0.
pub fn rank(
    neighbours: &Neighbours,
    history: &[u32],
    history_length: usize,
    items: &[Option<u32>],
) -> Vec<(usize, f32)> {
    let scores = scores(neighbours, history, history_length);
    let mut ranked: Vec<(usize, f32)> = items
        .iter()
        .enumerate()
        .map(|(at, i)| (at, i.and_then(|i| scores.get(&i).copied()).unwrap_or(0.0)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::item_item::similarities;
    use crate::train::popularity::popularity;
    use crate::train::snapshot::SnapshotBuilder;

    #[test]
    fn a_user_gets_what_similar_users_took_and_a_new_user_what_is_popular() {
        let mut b = SnapshotBuilder::default();
        for u in 0..6 {
            let u = format!("u{u}");
            b.push(&u, "tent", 1);
            b.push(&u, "stove", 2);
            b.push(&u, "lamp", 3);
        }
        for u in 0..9 {
            let u = format!("v{u}");
            b.push(&u, "novel", 1);
            b.push(&u, "poems", 2);
        }
        b.push("me", "tent", 5);
        let s = b.finish();
        let n = similarities(&s, 10);
        let pop = popularity(&s);
        let id = |x: &str| s.items.iter().position(|i| i == x).unwrap() as u32;
        let names = |r: &[(u32, f32)]| {
            r.iter()
                .map(|(i, _)| s.items[*i as usize].as_str())
                .collect::<Vec<_>>()
        };
        let mine = recommend(&n, &pop, &[id("tent")], 100, 4);
        // stove and lamp tie (6 of the 7 users of tent each): the item seen first leads.
        assert_eq!(names(&mine)[..2], ["stove", "lamp"]);
        assert_eq!(mine.len(), 4, "topped up with popular items");
        assert!(!names(&mine).contains(&"tent"), "not what the user has");
        let new = recommend(&n, &pop, &[], 100, 2);
        assert_eq!(names(&new), ["novel", "poems"]);
        let ranked = rank(
            &n,
            &[id("tent")],
            100,
            &[Some(id("novel")), None, Some(id("lamp"))],
        );
        assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 0, 1]);
    }
}
