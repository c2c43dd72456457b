//! The ranked candidates a deployed model gives for a request, best first, each with its
//! score; the API keeps the first ones that pass the request's filter.

use std::collections::HashSet;

use super::deployed::Deployed;
use crate::train::personalization;
use crate::train::Family;

/// An item (or action) by index, with its score.
pub type Scored = (u32, f32);

fn history_length(d: &Deployed) -> usize {
    d.param("history_length", 100).max(1) as usize
}

/// At most `limit` items for a user whose distinct items are `history` (oldest first):
/// popularity and trending rank every user's items alike; the item-item families score
/// items by similarity to the user's latest items, leave out what the user has, and top up
/// with popular items (a user with no history gets those only).
pub fn items_for_user(d: &Deployed, history: &[u32], limit: usize) -> Vec<Scored> {
    let m = &d.model;
    match m.family {
        Family::Popularity | Family::Trending => m.ranked.iter().copied().take(limit).collect(),
        Family::ItemItem | Family::Semantic => match history.last() {
            Some(&last) => related_items(d, last, limit),
            None => m.ranked.iter().copied().take(limit).collect(),
        },
        Family::UserPersonalization
        | Family::Ranking
        | Family::ItemAffinity
        | Family::NextBestAction => {
            personalization::recommend(&m.neighbours, &m.ranked, history, history_length(d), limit)
        }
    }
}

/// The actions a user is most likely to take: [`items_for_user`] over actions.
pub fn actions_for_user(d: &Deployed, history: &[u32], limit: usize) -> Vec<Scored> {
    items_for_user(d, history, limit)
}

/// At most `limit` items like `item`, most similar first, topped up with popular items
/// (scored below every similar one); never `item` itself.
pub fn related_items(d: &Deployed, item: u32, limit: usize) -> Vec<Scored> {
    let m = &d.model;
    let mut out: Vec<Scored> = Vec::new();
    if (item as usize) < m.neighbours.len() {
        out.extend(
            m.neighbours
                .of(item)
                .filter(|(j, _)| *j != item)
                .take(limit),
        );
    }
    if out.len() < limit {
        let floor = out.last().map_or(1.0, |s| s.1);
        let have: HashSet<u32> = out.iter().map(|s| s.0).collect();
        for &(j, p) in &m.ranked {
            if out.len() == limit {
                break;
            }
            if j != item && !have.contains(&j) {
                out.push((j, floor * 0.5 * p));
            }
        }
    }
    out
}

/// The positions of `items` (indexes into the model, `None` for an item it does not know)
/// reordered for a user with `history`: best score first; items without a score keep their
/// order after the scored ones, the unknown ones last.
pub fn rank_items(d: &Deployed, history: &[u32], items: &[Option<u32>]) -> Vec<(usize, f32)> {
    let m = &d.model;
    let mut ranked = match m.family {
        Family::Popularity | Family::Trending => {
            let pos: std::collections::HashMap<u32, f32> = m.ranked.iter().copied().collect();
            let mut r: Vec<(usize, f32)> = items
                .iter()
                .enumerate()
                .map(|(at, i)| (at, i.and_then(|i| pos.get(&i).copied()).unwrap_or(0.0)))
                .collect();
            r.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            r
        }
        _ => personalization::rank(&m.neighbours, history, history_length(d), items),
    };
    // Unknown items last, in their order.
    ranked.sort_by_key(|(at, _)| items[*at].is_none());
    ranked
}
