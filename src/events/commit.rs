//! Group commit: the records of requests that arrive while a write is in flight are written
//! together, in one store transaction per dataset, once it ends. A burst of small requests
//! costs a few durable commits instead of one each, and every request is answered only once
//! the write holding its records has committed.
//!
//! The first request to find no write in flight writes everything queued, its own records
//! included; those that queue meanwhile wait for it, and the next of them writes what queued
//! during its write. The write runs in a task of its own, so a request whose client goes away
//! does not cancel the others' write.

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
        }
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
            let task = tokio::spawn(async move {
                write_all(store.as_ref(), batch).await;
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
/// appear), and answers each request with its dataset's outcome.
async fn write_all(store: &dyn crate::store::DatasetStore, batch: Vec<Pending>) {
    let mut groups: Vec<(Arc<Target>, Vec<Pending>)> = Vec::new();
    for p in batch {
        let same = |t: &Arc<Target>| {
            t.group_arn == p.target.group_arn && t.dataset_type == p.target.dataset_type
        };
        match groups.iter_mut().find(|(t, _)| same(t)) {
            Some((_, ps)) => ps.push(p),
            None => groups.push((p.target.clone(), vec![p])),
        }
    }
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
