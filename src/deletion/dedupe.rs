//! Stage 3: the distinct user IDs of all input files.
//!
//! Parsers collect IDs into [`IdBatch`]es (flat buffers) and hand each full batch to an
//! [`IdSetBuilder`], which every parser shares: the set is split by hash into [`SHARDS`]
//! shards, each behind its own lock, and a batch is inserted one shard at a time, so parsers
//! on different cores rarely wait for each other and each shard's table stays small enough
//! to live in the CPU cache while it is worked on. Each distinct ID is stored once, in its
//! shard's byte arena (no allocation per ID). Memory grows with the number of distinct IDs
//! only, never with the size or number of the input files.

use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::HashTable;

use crate::store::UserIds;

/// Shards of a set; a power of two.
pub const SHARDS: usize = 64;

/// IDs packed into one buffer, as a parser emits them.
#[derive(Debug, Default, Clone)]
pub struct IdBatch {
    buf: String,
    ends: Vec<u32>,
}

impl IdBatch {
    /// Appends one ID.
    pub fn push(&mut self, id: &str) {
        self.buf.push_str(id);
        self.ends.push(self.buf.len() as u32);
    }

    /// IDs held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of IDs held.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Forgets every ID, keeping the buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// The `i`-th ID.
    pub fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        &self.buf[start..self.ends[i] as usize]
    }

    /// The IDs in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&end| {
            let s = &self.buf[start..end as usize];
            start = end as usize;
            s
        })
    }
}

/// The hash every set uses (fixed, so a shard's choice never depends on the process).
fn hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x05ee_d1d5)
}

/// The shard of a hash: bits that the table itself does not use for slots (the low bits)
/// or tags (the top seven).
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS - 1)
}

/// One shard: its distinct IDs end to end, and a table of (hash, ID number).
#[derive(Debug, Default, Clone)]
struct Shard {
    ids: IdBatch,
    table: HashTable<(u64, u32)>,
}

impl Shard {
    fn contains(&self, hash: u64, id: &str) -> bool {
        self.table
            .find(hash, |&(h, i)| h == hash && self.ids.get(i as usize) == id)
            .is_some()
    }

    /// Adds `id`; true if it was new.
    fn insert(&mut self, hash: u64, id: &str) -> bool {
        if self.contains(hash, id) {
            return false;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id);
        self.table.insert_unique(hash, (hash, i), |&(h, _)| h);
        true
    }
}

/// Builds a [`UserIdSet`] from batches sent by many parsers at once.
#[derive(Debug)]
pub struct IdSetBuilder {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for IdSetBuilder {
    fn default() -> Self {
        IdSetBuilder {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl IdSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        IdSetBuilder::default()
    }

    /// Adds every ID of a batch; returns how many were new. The batch is grouped by shard
    /// first, so each shard is locked once per batch.
    pub fn insert_batch(&self, batch: &IdBatch) -> u64 {
        let state = hasher();
        let mut by_shard: Vec<(u64, &str)> =
            batch.iter().map(|id| (state.hash_one(id), id)).collect();
        by_shard.sort_unstable_by_key(|&(h, _)| shard_of(h));
        let mut added = 0u64;
        for group in by_shard.chunk_by(|a, b| shard_of(a.0) == shard_of(b.0)) {
            // A poisoned shard is still a consistent set: an insert completes or never began.
            let mut shard = self.shards[shard_of(group[0].0)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for &(hash, id) in group {
                added += shard.insert(hash, id) as u64;
            }
        }
        added
    }

    /// The finished set.
    pub fn finish(self) -> UserIdSet {
        UserIdSet {
            shards: self
                .shards
                .into_vec()
                .into_iter()
                .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
                .collect(),
        }
    }
}

/// The distinct user IDs of a job.
#[derive(Debug, Clone)]
pub struct UserIdSet {
    shards: Vec<Shard>,
}

impl Default for UserIdSet {
    fn default() -> Self {
        UserIdSet {
            shards: vec![Shard::default(); SHARDS],
        }
    }
}

impl UserIdSet {
    /// An empty set.
    pub fn new() -> Self {
        UserIdSet::default()
    }

    /// Adds one ID; true if it was new.
    pub fn insert(&mut self, id: &str) -> bool {
        let hash = hasher().hash_one(id);
        self.shards[shard_of(hash)].insert(hash, id)
    }

    /// Distinct IDs held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.ids.len()).sum()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        let hash = hasher().hash_one(id);
        self.shards[shard_of(hash)].contains(hash, id)
    }

    /// The IDs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.shards.iter().flat_map(|s| s.ids.iter())
    }

    /// The IDs in byte order as the store takes them: the shards' arenas move over as they
    /// are (no copy), their hash tables are dropped, and an index gives the order.
    pub fn into_sorted(self) -> UserIds {
        UserIds::from_arenas(
            self.shards
                .into_iter()
                .map(|s| (s.ids.buf, s.ids.ends))
                .collect(),
        )
    }
}

impl<'a> FromIterator<&'a str> for UserIdSet {
    fn from_iter<T: IntoIterator<Item = &'a str>>(iter: T) -> Self {
        let mut set = UserIdSet::new();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_dedupe_across_each_other() {
        let mut a = IdBatch::default();
        for id in ["u1", "u2", "u1", ""] {
            a.push(id);
        }
        assert_eq!(a.iter().collect::<Vec<_>>(), ["u1", "u2", "u1", ""]);
        let mut b = IdBatch::default();
        b.push("u2");
        b.push("u3");
        let builder = IdSetBuilder::new();
        assert_eq!(builder.insert_batch(&a), 3);
        assert_eq!(builder.insert_batch(&b), 1);
        let set = builder.finish();
        assert_eq!(set.len(), 4);
        assert!(set.contains("u3") && !set.contains("u4"));
        let sorted = set.into_sorted();
        assert_eq!(sorted.iter().collect::<Vec<_>>(), ["", "u1", "u2", "u3"]);
    }

    #[test]
    fn many_ids_from_many_threads_are_kept_once_and_sorted_bytewise() {
        // Shared long prefixes, lengths on both sides of the 16-byte key, and non-ASCII.
        let ids: Vec<String> = (0..20_000)
            .map(|i| match i % 4 {
                0 => format!("u{i:020}"),
                1 => format!("u{i:08}"),
                2 => format!("ü{i}"),
                _ => format!("u{:020}x", i / 2),
            })
            .collect();
        let builder = IdSetBuilder::new();
        std::thread::scope(|s| {
            for part in ids.chunks(5_000) {
                let builder = &builder;
                s.spawn(move || {
                    // Every ID twice, in two batches.
                    for _ in 0..2 {
                        let mut batch = IdBatch::default();
                        part.iter().for_each(|id| batch.push(id));
                        builder.insert_batch(&batch);
                    }
                });
            }
        });
        let set = builder.finish();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(set.len(), want.len());
        assert!(ids.iter().all(|id| set.contains(id)));
        assert!(!set.contains("u"));
        let sorted = set.into_sorted();
        assert_eq!(sorted.iter().collect::<Vec<_>>(), want);
    }
}
