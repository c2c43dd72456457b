//! What a purge of some users would find, read without a write: per user-bearing dataset of
//! a group, their records and how many of them have any, and which users have none at all.
//! Dry runs and `verify` use it; it reads through [`DatasetStore::scan_records`], so it holds
//! for every backend, and it sees what every read path sees (a purged user is not there).

use futures::StreamExt;

use super::{DatasetStore, DatasetType, Ingestion, StoreError, StoreResult, UserIds};

/// Rows read at a time.
const BATCH_ROWS: usize = 64 * 1024;

/// What one dataset holds of the users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetMatch {
    /// The dataset.
    pub dataset_type: DatasetType,
    /// Their records.
    pub records: u64,
    /// How many of the users have records here.
    pub users: u64,
    /// The first users found here (at most the `keep` asked for), in ID order.
    pub found: Vec<String>,
}

/// What a group holds of the users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMatch {
    /// Per user-bearing dataset of the group, in [`DatasetType::ALL`] order.
    pub per_dataset: Vec<DatasetMatch>,
    /// How many of the users have no record in any of them.
    pub unknown: u64,
    /// The first of those (at most `keep`), in ID order.
    pub first_unknown: Vec<String>,
}

impl UserMatch {
    /// Records in every dataset: what a purge would delete.
    pub fn records(&self) -> u64 {
        self.per_dataset.iter().map(|d| d.records).sum()
    }
}

/// Reads what the group's user-bearing datasets hold of `ids`, keeping at most `keep` IDs of
/// each list.
pub async fn match_users(
    store: &dyn DatasetStore,
    group_arn: &str,
    ids: &UserIds,
    keep: usize,
) -> StoreResult<UserMatch> {
    let mut anywhere = Bits::new(ids.len());
    let mut out = UserMatch::default();
    for dataset in store.datasets(group_arn).await? {
        let t = dataset.dataset_type;
        if !t.holds_users() {
            continue;
        }
        let key = dataset
            .columns
            .iter()
            .position(|c| c == t.key_column())
            .ok_or_else(|| StoreError::Invalid(format!("the {t} dataset has no USER_ID")))?;
        let mut here = Bits::new(ids.len());
        let mut m = DatasetMatch {
            dataset_type: t,
            records: 0,
            users: 0,
            found: Vec::new(),
        };
        let mut batches = store.scan_records(group_arn, t, BATCH_ROWS, Ingestion::All);
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            for r in 0..batch.rows() {
                let Some(id) = batch.row(r).nth(key) else {
                    continue;
                };
                if let Some(i) = ids.position(id.as_bytes()) {
                    m.records += 1;
                    if here.set(i) {
                        m.users += 1;
                    }
                    anywhere.set(i);
                }
            }
        }
        m.found = here
            .ones()
            .take(keep)
            .map(|i| ids.get(i).to_owned())
            .collect();
        out.per_dataset.push(m);
    }
    out.per_dataset
        .sort_by_key(|m| DatasetType::ALL.iter().position(|t| *t == m.dataset_type));
    out.unknown = (ids.len() - anywhere.count()) as u64;
    out.first_unknown = (0..ids.len())
        .filter(|&i| !anywhere.get(i))
        .take(keep)
        .map(|i| ids.get(i).to_owned())
        .collect();
    Ok(out)
}

/// One bit per ID.
struct Bits {
    words: Vec<u64>,
    ones: usize,
}

impl Bits {
    fn new(n: usize) -> Self {
        Bits {
            words: vec![0; n.div_ceil(64)],
            ones: 0,
        }
    }

    /// Sets bit `i`; whether it was clear.
    fn set(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let was_clear = self.words[w] & b == 0;
        self.words[w] |= b;
        self.ones += usize::from(was_clear);
        was_clear
    }

    fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }

    fn count(&self) -> usize {
        self.ones
    }

    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.words.len() * 64).filter(move |&i| self.get(i))
    }
}
