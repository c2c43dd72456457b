//! How the SQL backends tell records put one by one ([`super::LoadMode::Put`]) from those
//! loaded in bulk: by their load sequence numbers. Each put load takes a run of numbers
//! that no bulk load shares, and the dataset keeps the runs, merged when one continues the
//! last: a burst of puts between two imports is one run, so the list stays short. A record
//! put one by one is one whose number lies in a run; nothing in the records themselves
//! changes.

/// The runs of sequence numbers `(first, last)` that put loads took, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(in crate::store) struct PutRanges(pub(in crate::store) Vec<(u64, u64)>);

impl PutRanges {
    /// Whether the record numbered `seq` was put one by one.
    pub(in crate::store) fn contains(&self, seq: u64) -> bool {
        let i = self.0.partition_point(|&(first, _)| first <= seq);
        i > 0 && seq <= self.0[i - 1].1
    }

    /// True when no record was ever put one by one.
    pub(in crate::store) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The last number a put load took, or 0.
    pub(in crate::store) fn last(&self) -> u64 {
        self.0.last().map_or(0, |&(_, last)| last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_put_when_a_run_holds_it() {
        let r = PutRanges(vec![(3, 5), (9, 9), (20, 40)]);
        let put: Vec<u64> = (0..45).filter(|&s| r.contains(s)).collect();
        let expected: Vec<u64> = (3..=5).chain([9]).chain(20..=40).collect();
        assert_eq!(put, expected);
        assert!(!PutRanges::default().contains(1));
        assert_eq!(r.last(), 40);
    }
}
