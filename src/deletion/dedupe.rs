//! Stage 3: the distinct user IDs of all input files.
//!
//! Parsers hand IDs over in [`IdBatch`]es (flat buffers, one allocation per batch); the
//! [`UserIdSet`] keeps one copy of each distinct ID. Memory grows with the number of distinct
//! IDs only, never with the size or number of the input files.

use hashbrown::HashSet;

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

/// The distinct user IDs of a job.
#[derive(Debug, Default, Clone)]
pub struct UserIdSet {
    ids: HashSet<Box<str>>,
}

impl UserIdSet {
    /// An empty set.
    pub fn new() -> Self {
        UserIdSet::default()
    }

    /// Adds one ID; true if it was new.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        self.ids.insert(id.into())
    }

    /// Adds every ID of a batch; returns how many were new.
    pub fn extend_batch(&mut self, batch: &IdBatch) -> u64 {
        batch.iter().map(|id| self.insert(id) as u64).sum()
    }

    /// Distinct IDs held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// The IDs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.ids.iter().map(|s| &**s)
    }

    /// The IDs in byte order (what a B-tree wants to be fed).
    pub fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.iter().collect();
        v.sort_unstable();
        v
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
        let mut set = UserIdSet::new();
        assert_eq!(set.extend_batch(&a), 3);
        assert_eq!(set.extend_batch(&b), 1);
        assert_eq!(set.sorted(), ["", "u1", "u2", "u3"]);
        assert!(set.contains("u3") && !set.contains("u4"));
    }
}
