//! Items like an item the model does not know (one added to the Items dataset after
//! training, with no interactions): the known items sharing the most of its categorical
//! values, more popular first among equals, then the popular items.

use std::collections::HashMap;

use super::deployed::Deployed;
use super::rank::Scored;

/// A record's categorical values: each `|`-separated value of each field, with its field.
pub fn values<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, value) in fields {
        for v in value.split('|').filter(|v| !v.is_empty()) {
            out.push((field.to_owned(), v.to_owned()));
        }
    }
    out
}

/// At most `limit` known items ranked for a cold item whose categorical values are `mine`:
/// by how many of them each shares (`others`: each known item's ID and values), the more
/// popular first among equals, topped up with popular items; never `item` itself.
pub fn like_cold_item<'a>(
    d: &Deployed,
    item: &str,
    mine: &[(String, String)],
    others: impl Iterator<Item = (&'a str, Vec<(String, String)>)>,
    limit: usize,
) -> Vec<Scored> {
    let popularity: HashMap<u32, f32> = d.model.ranked.iter().copied().collect();
    let mut shared: Vec<(u32, usize, f32)> = Vec::new();
    for (id, theirs) in others {
        let Some(i) = d.item(id).filter(|_| id != item) else {
            continue;
        };
        let n = theirs.iter().filter(|v| mine.contains(v)).count();
        if n > 0 {
            shared.push((i, n, popularity.get(&i).copied().unwrap_or(0.0)));
        }
    }
    shared.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(&b.0)));
    let most = shared.first().map_or(1, |s| s.1) as f32;
    let mut out: Vec<Scored> = shared
        .into_iter()
        .take(limit)
        .map(|(i, n, _)| (i, n as f32 / most))
        .collect();
    let floor = out.last().map_or(1.0, |s| s.1);
    for &(j, p) in &d.model.ranked {
        if out.len() >= limit {
            break;
        }
        if d.id(j) != item && !out.iter().any(|s| s.0 == j) {
            out.push((j, floor * 0.5 * p));
        }
    }
    out
}
