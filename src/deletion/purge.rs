//! Stage 4: purge the users' records and record the job's end, in one store transaction.

use std::sync::Arc;

use crate::jobs::Job;
use crate::store::{DatasetStore, JobCommit, PurgeCounts, StoreResult, UserIds};

/// Deletes every record of `ids` from the dataset group and stores the job as `COMPLETED`
/// with `numDeleted`, atomically and only while the job's lease is held. Returns the counts
/// and the finished job.
pub async fn purge(
    store: &dyn DatasetStore,
    group_arn: &str,
    ids: UserIds,
    commit: JobCommit,
) -> StoreResult<(PurgeCounts, Job)> {
    store.purge_users(group_arn, Arc::new(ids), commit).await
}
