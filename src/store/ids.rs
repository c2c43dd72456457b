//! [`UserIds`]: the distinct user IDs a purge removes, in byte order.

/// Distinct user IDs in byte order (the order a B-tree or a sorted merge wants). The IDs'
/// bytes stay in the arenas they were collected in (no copy, no allocation per ID); an
/// index of 12 bytes per ID gives their order and where each one's bytes are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserIds {
    /// The IDs' bytes, end to end.
    arenas: Vec<String>,
    /// Where each ID is, in byte order.
    order: Vec<Span>,
}

/// An ID's bytes: `arenas[arena][start..start + len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    arena: u32,
    start: u32,
    len: u32,
}

/// The first 16 bytes of `id`, zero-padded, as two big-endian integers: ordered like the
/// bytes, so most comparisons of a sort are settled without a `memcmp`.
fn prefix_key(id: &str) -> (u64, u64) {
    let mut b = [0u8; 16];
    let n = id.len().min(16);
    b[..n].copy_from_slice(&id.as_bytes()[..n]);
    let (hi, lo) = b.split_at(8);
    (
        u64::from_be_bytes(hi.try_into().unwrap_or_default()),
        u64::from_be_bytes(lo.try_into().unwrap_or_default()),
    )
}

fn arena_id(arenas: &[String], at: Span) -> &str {
    let start = at.start as usize;
    &arenas[at.arena as usize][start..start + at.len as usize]
}

impl UserIds {
    /// No IDs.
    pub fn new() -> Self {
        UserIds::default()
    }

    /// Takes the IDs of `arenas` (each a buffer of IDs end to end and the offset where each
    /// ends) and orders them; an ID found twice is kept once.
    pub fn from_arenas(arenas: Vec<(String, Vec<u32>)>) -> Self {
        let total: usize = arenas.iter().map(|(_, ends)| ends.len()).sum();
        let mut keyed: Vec<((u64, u64), Span)> = Vec::with_capacity(total);
        let mut bufs = Vec::with_capacity(arenas.len());
        for (a, (buf, ends)) in arenas.into_iter().enumerate() {
            let mut start = 0u32;
            for end in ends {
                let at = Span {
                    arena: a as u32,
                    start,
                    len: end - start,
                };
                keyed.push((prefix_key(&buf[start as usize..end as usize]), at));
                start = end;
            }
            bufs.push(buf);
        }
        keyed.sort_unstable_by(|(ka, a), (kb, b)| {
            ka.cmp(kb)
                .then_with(|| arena_id(&bufs, *a).cmp(arena_id(&bufs, *b)))
        });
        let mut order: Vec<Span> = Vec::with_capacity(keyed.len());
        for (_, at) in keyed {
            let dup = order
                .last()
                .is_some_and(|&last| arena_id(&bufs, last) == arena_id(&bufs, at));
            if !dup {
                order.push(at);
            }
        }
        UserIds {
            arenas: bufs,
            order,
        }
    }

    /// Sorts and deduplicates any IDs (copied into one arena).
    pub fn from_unsorted<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut buf = String::new();
        let mut ends = Vec::new();
        for id in ids {
            buf.push_str(id);
            ends.push(buf.len() as u32);
        }
        UserIds::from_arenas(vec![(buf, ends)])
    }

    /// IDs held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The `i`-th ID in byte order.
    pub fn get(&self, i: usize) -> &str {
        arena_id(&self.arenas, self.order[i])
    }

    /// The IDs in byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.order.iter().map(move |&at| arena_id(&self.arenas, at))
    }

    /// Whether `id` is held (a binary search).
    pub fn contains(&self, id: &str) -> bool {
        self.order
            .binary_search_by(|&at| arena_id(&self.arenas, at).cmp(id))
            .is_ok()
    }
}

impl<'a> FromIterator<&'a str> for UserIds {
    fn from_iter<T: IntoIterator<Item = &'a str>>(iter: T) -> Self {
        UserIds::from_unsorted(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sorted_distinct_and_searchable() {
        let ids: UserIds = ["b", "a", "ab", "b", "", "é"].into_iter().collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), ["", "a", "ab", "b", "é"]);
        assert_eq!(ids.len(), 5);
        for id in ["", "a", "ab", "b", "é"] {
            assert!(ids.contains(id), "{id}");
        }
        for id in ["aa", "c", "B"] {
            assert!(!ids.contains(id), "{id}");
        }
        assert!(UserIds::new().is_empty());
        assert!(!UserIds::new().contains("a"));
    }

    #[test]
    fn arenas_merge_in_byte_order_past_the_prefix() {
        // IDs that share their first 16 bytes are ordered by the rest.
        let long = |s: &str| format!("u000000000000000{s}");
        let arena = |ids: &[String]| {
            let mut buf = String::new();
            let mut ends = Vec::new();
            for id in ids {
                buf.push_str(id);
                ends.push(buf.len() as u32);
            }
            (buf, ends)
        };
        let ids = UserIds::from_arenas(vec![
            arena(&[long("9"), long("10"), "z".into()]),
            arena(&[long("2"), "a".into(), long("10")]),
        ]);
        let want = [
            "a".to_string(),
            long("10"),
            long("2"),
            long("9"),
            "z".into(),
        ];
        assert_eq!(ids.iter().collect::<Vec<_>>(), want);
        assert!(ids.contains(&long("2")) && !ids.contains(&long("3")));
    }
}
