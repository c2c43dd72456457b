//! [`UserIds`]: the distinct user IDs a purge removes, in byte order, and [`IdSpill`], which
//! builds them on disk when they are too many to sort in memory.

use std::io;

use super::sort::Sorter;
use super::{StoreError, StoreResult};

/// Distinct user IDs in byte order (the order a B-tree or a sorted merge wants). Either the
/// IDs' bytes stay in the arenas they were collected in (no copy, no allocation per ID) and
/// an index of 12 bytes per ID gives their order and where each one's bytes are; or, built
/// by [`IdSpill`], they lie end to end in order, 4 bytes of index per ID.
#[derive(Debug, Clone, Default)]
pub struct UserIds {
    /// The IDs' bytes, end to end.
    arenas: Vec<String>,
    /// Where each ID is, in byte order; empty when `ends` is used.
    order: Vec<Span>,
    /// When the IDs are `arenas[0]` in order: where each ends.
    ends: Vec<u32>,
}

impl PartialEq for UserIds {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for UserIds {}

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
            ends: Vec::new(),
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
        self.order.len() + self.ends.len()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th ID in byte order.
    pub fn get(&self, i: usize) -> &str {
        if self.ends.is_empty() {
            return arena_id(&self.arenas, self.order[i]);
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arenas[0][start..self.ends[i] as usize]
    }

    /// The IDs in byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Whether `id` is held (a binary search).
    pub fn contains(&self, id: &str) -> bool {
        self.contains_bytes(id.as_bytes())
    }

    /// Whether the ID of these bytes is held.
    pub fn contains_bytes(&self, id: &[u8]) -> bool {
        self.position(id).is_some()
    }

    /// The index of the ID of these bytes, if held (a binary search).
    pub fn position(&self, id: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).as_bytes().cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// IDs given in byte order, distinct, end to end in `buf`, each ending at its `ends`.
    pub(in crate::store) fn packed(buf: String, ends: Vec<u32>) -> Self {
        UserIds {
            arenas: vec![buf],
            order: Vec::new(),
            ends,
        }
    }
}

/// Bytes of IDs an [`IdSpill`] sorts in memory before it writes them out as a run: with
/// short IDs, its index (48 bytes per ID) is the larger part.
const SPILL_RUN_BYTES: usize = 4 * 1024 * 1024;

/// Builds [`UserIds`] from any number of IDs in bounded memory: they are sorted in runs
/// written to temp files, and merged at the end (duplicates dropped) into the packed form.
#[derive(Debug)]
pub struct IdSpill {
    sorter: Sorter,
    /// IDs pushed and their bytes, duplicates included: what the merged set takes at most.
    pushed: usize,
    pushed_bytes: usize,
}

impl Default for IdSpill {
    fn default() -> Self {
        IdSpill::new()
    }
}

impl IdSpill {
    /// Nothing yet.
    pub fn new() -> Self {
        IdSpill::with_run_bytes(SPILL_RUN_BYTES)
    }

    /// Nothing yet, sorting runs of `run_bytes` of IDs.
    pub fn with_run_bytes(run_bytes: usize) -> Self {
        IdSpill {
            sorter: Sorter::new(run_bytes),
            pushed: 0,
            pushed_bytes: 0,
        }
    }

    /// Adds an ID (once or many times).
    pub fn push(&mut self, id: &str) -> io::Result<()> {
        self.pushed += 1;
        self.pushed_bytes += id.len();
        self.sorter.push(id.as_bytes(), &[])
    }

    /// The distinct IDs, in byte order.
    pub fn finish(self) -> StoreResult<UserIds> {
        // Sized for every ID pushed: no copy as they grow, and the pages that duplicates
        // leave unused are never touched, so they take no memory.
        let mut buf = String::with_capacity(self.pushed_bytes);
        let mut ends: Vec<u32> = Vec::with_capacity(self.pushed);
        self.sorter.finish(|k, _, _| -> StoreResult<()> {
            let id = std::str::from_utf8(k)
                .map_err(|_| StoreError::Invalid("a spilled user ID is not UTF-8".into()))?;
            let last_start = match ends.len() {
                0 | 1 => 0,
                n => ends[n - 2] as usize,
            };
            if !ends.is_empty() && &buf[last_start..] == id {
                return Ok(());
            }
            buf.push_str(id);
            let end = u32::try_from(buf.len())
                .map_err(|_| StoreError::Invalid("more than 4 GiB of distinct user IDs".into()))?;
            ends.push(end);
            Ok(())
        })?;
        Ok(UserIds::packed(buf, ends))
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
    fn a_spill_gives_the_same_ids_as_memory() {
        // Enough IDs for several runs, each seen three times, some long.
        let ids: Vec<String> = (0..400_000u32)
            .map(|i| {
                let n = i.wrapping_mul(2_654_435_761) % 150_000;
                if n % 7 == 0 {
                    format!("long-user-id-with-a-shared-prefix-{n}")
                } else {
                    format!("u{n}")
                }
            })
            .collect();
        let mut spill = IdSpill::with_run_bytes(64 * 1024);
        for id in &ids {
            spill.push(id).unwrap();
        }
        let spilled = spill.finish().unwrap();
        let memory: UserIds = ids.iter().map(String::as_str).collect();
        assert_eq!(spilled.len(), memory.len());
        assert!(spilled.iter().eq(memory.iter()));
        assert_eq!(spilled, memory);
        assert!(spilled.contains("u1") && !spilled.contains("u150000"));
        assert!(spilled.ends.len() == spilled.len() && spilled.order.is_empty());
        assert!(IdSpill::new().finish().unwrap().is_empty());
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
