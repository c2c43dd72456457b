//! [`UserIds`]: the distinct user IDs a purge removes, in byte order, packed in one buffer.

/// Distinct user IDs in byte order (the order a B-tree or a sorted merge wants), end to end
/// in one buffer: one allocation for all of them, none per ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserIds {
    buf: String,
    ends: Vec<usize>,
}

impl UserIds {
    /// No IDs.
    pub fn new() -> Self {
        UserIds::default()
    }

    /// Packs IDs that are already in strictly increasing byte order; an ID out of order or
    /// repeated is dropped, so the result is always sorted and distinct.
    pub fn from_sorted<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        UserIds::from_sorted_with_capacity(ids, 0)
    }

    /// [`UserIds::from_sorted`], with room for `bytes` of IDs made at once.
    pub fn from_sorted_with_capacity<'a>(
        ids: impl IntoIterator<Item = &'a str>,
        bytes: usize,
    ) -> Self {
        let ids = ids.into_iter();
        let mut out = UserIds {
            buf: String::with_capacity(bytes),
            ends: Vec::with_capacity(ids.size_hint().0),
        };
        for id in ids {
            if out.last().is_none_or(|last| last < id) {
                out.buf.push_str(id);
                out.ends.push(out.buf.len());
            }
        }
        out
    }

    /// Sorts and deduplicates any IDs.
    pub fn from_unsorted<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut v: Vec<&str> = ids.into_iter().collect();
        v.sort_unstable();
        UserIds::from_sorted(v)
    }

    /// IDs held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no ID is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th ID in byte order.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    fn last(&self) -> Option<&str> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }

    /// The IDs in byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Whether `id` is held (a binary search).
    pub fn contains(&self, id: &str) -> bool {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
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
        // Out-of-order input to from_sorted is dropped, never kept unsorted.
        let s = UserIds::from_sorted(["a", "c", "b", "c", "d"]);
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "c", "d"]);
    }
}
