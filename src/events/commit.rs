//! Group commit: the records of requests that arrive while a write is in flight are written
//! together, in one store transaction per dataset, once it ends. A burst of small requests
//! costs a few durable commits instead of one each, and every request is answered only once
//! the write holding its records has committed.
//!
//! The first request to find no write in flight writes everything queued, its own records
//! included; those that queue meanwhile wait for it, and the next of them writes what queued
//! during its write. The write runs in a task of its own, so a request whose client goes away
//! does not cancel the others' write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};
use tokio::sync::oneshot;

use super::Target;
use crate::store::{DynDatasetStore, LoadMode, StoreError, StoreResult};

/// Requests written in one go, at most.
const MAX_REQUESTS: usize = 1024;

struct Pending {
    target: Arc<Target>,
    rows: Vec<Vec<String>>,
    done: oneshot::Sender<StoreResult<()>>,
}

/// Writes records that arrive one by one with group commit.
pub struct GroupCommit {
    store: DynDatasetStore,
    queue: Arc<Mutex<Vec<Pending>>>,
    writing: Arc<tokio::sync::Mutex<()>>,
    stats: Arc<Stats>,
}

/// What a [`GroupCommit`] did so far.
#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    writes: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// A writer into `store`.
    pub fn new(store: DynDatasetStore) -> Self {
        GroupCommit {
            store,
            queue: Arc::default(),
            writing: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// Requests written so far, and the store writes (transactions) they took.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.requests.load(Ordering::Relaxed),
            self.stats.writes.load(Ordering::Relaxed),
        )
    }

    /// Adds `rows` to the target dataset, as records that arrived one by one
    /// ([`LoadMode::Put`]); returns once they are durable.
    pub async fn write(&self, target: Arc<Target>, rows: Vec<Vec<String>>) -> StoreResult<()> {
        let (done, mut answer) = oneshot::channel();
        lock(&self.queue).push(Pending { target, rows, done });
        loop {
            let guard = self.writing.clone().lock_owned().await;
            // Written by the write that just ended?
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::Invalid(
                        "the write of these records was cancelled".to_owned(),
                    ))
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = {
                let mut queue = lock(&self.queue);
                let n = queue.len().min(MAX_REQUESTS);
                queue.drain(..n).collect::<Vec<_>>()
            };
            let store = self.store.clone();
            let stats = self.stats.clone();
            let task = tokio::spawn(async move {
                stats
                    .requests
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                let writes = write_all(store.as_ref(), batch).await;
                stats.writes.fetch_add(writes, Ordering::Relaxed);
                drop(guard);
            });
            let _ = task.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes the queued requests, one transaction per dataset (in the order the datasets first
/// appear), and answers each request with its dataset's outcome; returns the transactions.
async fn write_all(store: &dyn crate::store::DatasetStore, batch: Vec<Pending>) -> u64 {
    let mut groups: Vec<(Arc<Target>, Vec<Pending>)> = Vec::new();
    for p in batch {
        // Records built for other columns (the schema was replaced in between) go in a
        // write of their own, which the store refuses for its width.
        let same = |t: &Arc<Target>| {
            t.group_arn == p.target.group_arn
                && t.dataset_type == p.target.dataset_type
                && t.columns == p.target.columns
        };
        match groups.iter_mut().find(|(t, _)| same(t)) {
            Some((_, ps)) => ps.push(p),
            None => groups.push((p.target.clone(), vec![p])),
        }
    }
    let writes = groups.len() as u64;
    for (target, pending) in groups {
        let mut all = target.batch(&[]);
        for p in &pending {
            for row in &p.rows {
                all.push_row(row.iter().map(String::as_str));
            }
        }
        let rows = stream::iter([Ok(all)]).boxed();
        let result = store
            .load_records(
                &target.group_arn,
                target.dataset_type,
                LoadMode::Put,
                rows,
                None,
            )
            .await;
        for p in pending {
            let _ = p.done.send(match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(again(e)),
            });
        }
    }
    writes
}

/// The same error for another waiter (store errors do not clone: a backend's source is
/// kept as its text).
fn again(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound(s) => StoreError::NotFound(s.clone()),
        StoreError::AlreadyExists(s) => StoreError::AlreadyExists(s.clone()),
        StoreError::InUse(s) => StoreError::InUse(s.clone()),
        StoreError::Invalid(s) => StoreError::Invalid(s.clone()),
        StoreError::LeaseLost(s) => StoreError::LeaseLost(s.clone()),
        StoreError::Backend { store, source } => StoreError::Backend {
            store,
            source: source.to_string().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Dataset, DatasetAttrs, DatasetGroup, DatasetType};

    fn target(group: &str, t: DatasetType, columns: &[&str]) -> Arc<Target> {
        let d = Dataset {
            dataset_group_arn: group.to_owned(),
            dataset_type: t,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            attrs: DatasetAttrs::default(),
        };
        Arc::new(Target::new(&d, None))
    }

    /// Requests that arrive during a write share the next one, each is answered with its
    /// own dataset's outcome, and every record answered OK is in the store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_shares_writes_and_each_request_gets_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let store: DynDatasetStore = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/burst";
        store
            .create_dataset_group(
                &DatasetGroup {
                    name: "burst".into(),
                    dataset_group_arn: group.into(),
                    ..DatasetGroup::default()
                },
                &[],
            )
            .await
            .unwrap();
        let inter = target(group, DatasetType::Interactions, &["USER_ID", "ITEM_ID"]);
        store
            .create_dataset(
                &Dataset {
                    dataset_group_arn: group.into(),
                    dataset_type: DatasetType::Interactions,
                    columns: inter.columns.clone(),
                    attrs: DatasetAttrs::default(),
                },
                &[],
            )
            .await
            .unwrap();
        // No Users dataset: its requests fail, and only they.
        let users = target(group, DatasetType::Users, &["USER_ID", "AGE"]);
        // Built for columns the dataset no longer has (its schema replaced meanwhile): kept
        // out of the others' write, and refused.
        let stale = target(
            group,
            DatasetType::Interactions,
            &["USER_ID", "ITEM_ID", "X"],
        );
        let writer = Arc::new(GroupCommit::new(store.clone()));
        let requests = 64;
        let tasks: Vec<_> = (0..requests)
            .map(|i| {
                let writer = writer.clone();
                let t = match i % 8 {
                    7 => users.clone(),
                    6 => stale.clone(),
                    _ => inter.clone(),
                };
                tokio::spawn(async move {
                    let row: Vec<String> =
                        (0..t.columns.len()).map(|c| format!("v{i}-{c}")).collect();
                    (i, writer.write(t, vec![row; 3]).await)
                })
            })
            .collect();
        for task in tasks {
            let (i, result) = task.await.unwrap();
            match (i % 8, result) {
                (0..=5, Ok(())) => {}
                (6, Err(StoreError::Invalid(_))) => {}
                (7, Err(StoreError::NotFound(_))) => {}
                (_, other) => panic!("request {i}: {other:?}"),
            }
        }
        let ok = requests / 8 * 6;
        assert_eq!(
            store
                .count_records(group, DatasetType::Interactions)
                .await
                .unwrap(),
            3 * ok
        );
        let (answered, writes) = writer.stats();
        assert_eq!(answered, requests);
        assert!(
            writes * 2 <= requests,
            "{writes} writes for {requests} requests"
        );
    }
}
