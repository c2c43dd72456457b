//! Stage 4: purge the users' records and record the job's end, in one store transaction.

use std::sync::Arc;

use super::dedupe::UserIdSet;
use crate::job::DataDeletionJob;
use crate::store::{DatasetStore, PurgeCounts, StoreResult};

/// Deletes every record of `ids` from the job's dataset group and stores the job as
/// `COMPLETED` with `numDeleted`, atomically. Returns the counts and the finished job.
pub async fn purge(
    store: &dyn DatasetStore,
    job: &DataDeletionJob,
    ids: UserIdSet,
) -> StoreResult<(PurgeCounts, DataDeletionJob)> {
    let finished = job.clone();
    store
        .purge_users(
            &job.dataset_group_arn,
            Arc::new(ids),
            Box::new(move |counts| finished.completed(counts.total())),
        )
        .await
}
