//! Stage 3: the distinct user IDs of all input files.
//!
//! Parsers collect IDs into [`IdBatch`]es (flat buffers) and hand each full batch to an
//! [`IdSetBuilder`], which every parser shares: the set is split by hash into [`SHARDS`]
//! shards, each behind its own lock, and a batch is inserted one shard at a time, so parsers
//! on different cores rarely wait for each other and each shard's table stays small enough
//! to live in the CPU cache while it is worked on. Each distinct ID is stored once, in its
//! shard's byte arena (no allocation per ID).
//!
//! Memory is bounded: past [`ID_BUDGET_BYTES`] of IDs and tables, the shards are emptied into
//! an [`IdSpill`] (sorted runs in temp files) and start again; the spill's merge drops the
//! IDs seen on both sides. Without a spill the sorted set is the shards' arenas and a 12-byte
//! index per ID; after one, the IDs end to end and 4 bytes per ID.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hashbrown::HashTable;

use crate::store::{IdSpill, StoreError, StoreResult, UserIds};

/// Bytes the shards' IDs and tables may take before they spill (their allocations can take
/// up to twice as much).
pub const ID_BUDGET_BYTES: usize = 24 * 1024 * 1024;

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

    /// About how many bytes the shard's IDs and table take.
    fn bytes(&self) -> usize {
        self.ids.byte_len() + self.ids.len() * (4 + 17)
    }
}

/// Builds the sorted distinct IDs from batches sent by many parsers at once.
#[derive(Debug)]
pub struct IdSetBuilder {
    shards: Box<[Mutex<Shard>]>,
    /// What the shards hold, about ([`Shard::bytes`]).
    bytes: AtomicUsize,
    budget: usize,
    /// Where the shards go once they pass the budget; and the first error writing it.
    spill: Mutex<(Option<IdSpill>, Option<std::io::Error>)>,
}

impl Default for IdSetBuilder {
    fn default() -> Self {
        IdSetBuilder::with_budget(ID_BUDGET_BYTES)
    }
}

impl IdSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        IdSetBuilder::default()
    }

    /// An empty builder that spills past `budget` bytes.
    pub fn with_budget(budget: usize) -> Self {
        IdSetBuilder {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            bytes: AtomicUsize::new(0),
            budget,
            spill: Mutex::new((None, None)),
        }
    }

    /// Empties every shard into the spill (which one caller at a time does).
    fn spill(&self) {
        let mut spill = self.spill.lock().unwrap_or_else(|e| e.into_inner());
        if self.bytes.load(Ordering::Relaxed) <= self.budget {
            return; // another parser spilled meanwhile
        }
        let (sink, error) = &mut *spill;
        let sink = sink.get_or_insert_with(IdSpill::new);
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if error.is_none() {
                if let Err(e) = shard.ids.iter().try_for_each(|id| sink.push(id)) {
                    *error = Some(e);
                }
            }
            self.bytes.fetch_sub(shard.bytes(), Ordering::Relaxed);
            shard.ids.clear();
            shard.table.clear();
        }
        tracing::debug!("spilled the distinct IDs to disk");
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
            let before = shard.bytes();
            for &(hash, id) in group {
                added += shard.insert(hash, id) as u64;
            }
            self.bytes
                .fetch_add(shard.bytes() - before, Ordering::Relaxed);
        }
        if self.bytes.load(Ordering::Relaxed) > self.budget {
            self.spill();
        }
        added
    }

    /// The distinct IDs in byte order. Fails only when a spill could not be written or read.
    pub fn into_sorted(self) -> StoreResult<UserIds> {
        let spill_failed = |e: std::io::Error| {
            StoreError::Invalid(format!("cannot spill the user IDs to disk: {e}"))
        };
        let (spill, error) = self.spill.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = error {
            return Err(spill_failed(e));
        }
        let shards = self
            .shards
            .into_vec()
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()));
        let Some(mut spill) = spill else {
            return Ok(UserIdSet {
                shards: shards.collect(),
            }
            .into_sorted());
        };
        for shard in shards {
            for id in shard.ids.iter() {
                spill.push(id).map_err(spill_failed)?;
            }
        }
        spill.finish()
    }

    /// The finished set, for tests of the set alone (a spilled builder's IDs are not in it).
    #[cfg(test)]
    pub(crate) fn finish(self) -> UserIdSet {
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
        for budget in [ID_BUDGET_BYTES, 4096] {
            many_ids_from_many_threads(budget);
        }
    }

    /// With a small budget the shards spill many times, IDs seen before and after a spill
    /// included; the sorted set is the same.
    fn many_ids_from_many_threads(budget: usize) {
        // Shared long prefixes, lengths on both sides of the 16-byte key, and non-ASCII.
        let ids: Vec<String> = (0..20_000)
            .map(|i| match i % 4 {
                0 => format!("u{i:020}"),
                1 => format!("u{i:08}"),
                2 => format!("ü{i}"),
                _ => format!("u{:020}x", i / 2),
            })
            .collect();
        let builder = IdSetBuilder::with_budget(budget);
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
        let spilled = builder.spill.lock().unwrap().0.is_some();
        assert_eq!(spilled, budget < ID_BUDGET_BYTES);
        let sorted = builder.into_sorted().unwrap();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(sorted.len(), want.len());
        assert!(ids.iter().all(|id| sorted.contains(id)));
        assert!(!sorted.contains("u"));
        assert_eq!(sorted.iter().collect::<Vec<_>>(), want);
    }
}
