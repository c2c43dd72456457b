//! Stage 4: purge the users' records and record the job's end, in one store transaction.

use std::sync::Arc;

use super::dedupe::UserIdSet;
use crate::job::DataDeletionJob;
use crate::store::{DatasetStore, PurgeCounts, StoreResult};

/// Deletes every record of `ids` from the job's dataset group and stores the job as
/// `COMPLETED` with `numDeleted`, atomically. Returns the finished job and the counts.
pub async fn purge(
    store: &dyn DatasetStore,
    job: &DataDeletionJob,
    ids: UserIdSet,
) -> StoreResult<(DataDeletionJob, PurgeCounts)> {
    let finished = job.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let counts = store
        .purge_users(
            &job.dataset_group_arn,
            Arc::new(ids),
            Box::new(move |counts| {
                let done = finished.completed(counts.total());
                // The caller learns the exact record the store committed.
                let _ = tx.send(done.clone());
                done
            }),
        )
        .await?;
    let done = rx
        .try_recv()
        .unwrap_or_else(|_| job.clone().completed(counts.total()));
    Ok((done, counts))
}
