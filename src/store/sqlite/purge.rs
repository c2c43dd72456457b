//! The purge: every record of the listed users, in one transaction with the job's end.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::catalog::dataset_row;
use super::{jobs, packed, DbResult};
use crate::jobs::Job;
use crate::store::{DatasetType, JobCommit, PurgeCounts, StoreError, UserIds};

/// The purge in one immediate transaction: the job's lease checked once SQLite's write lock
/// is held, every record of `ids` in the group's user-bearing datasets deleted, then the job
/// written `Succeeded` with the count, and one commit for all of it.
pub(super) fn purge(
    conn: &mut Connection,
    group_arn: &str,
    ids: &UserIds,
    commit: JobCommit,
) -> DbResult<(PurgeCounts, Job)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    jobs::check_held(&tx, &commit.lease)?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM dataset_groups WHERE arn = ?1",
            params![group_arn],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(group_arn.to_owned()));
    }
    // Per ID, in key order so that consecutive ones land on neighbouring pages: a lookup of
    // how many records the user's row packs, then the row's delete.
    let mut counts = PurgeCounts::default();
    for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
        if let Some((id, _)) = dataset_row(&tx, group_arn, t)? {
            let started = std::time::Instant::now();
            // A lookup, then a delete of the page it just read: cheaper than one
            // `DELETE ... RETURNING n`, whose result SQLite buffers per statement.
            let (find, delete) = packed::purge_statements(id);
            let mut find = tx.prepare(&find)?;
            let mut delete = tx.prepare(&delete)?;
            let mut n = 0u64;
            for user in ids.iter() {
                let packed: Option<i64> = find.query_row(params![user], |r| r.get(0)).optional()?;
                if let Some(records) = packed {
                    delete.execute(params![user])?;
                    n += records as u64;
                }
            }
            tracing::debug!(dataset = %t, records = n, seconds = started.elapsed().as_secs_f64(), "deleted");
            counts.per_dataset.push((t, n));
        }
    }
    let job = commit.job.succeeded(Some(counts.total()));
    jobs::write_final(&tx, &job, &commit.lease)?;
    crate::store::failpoint("purge-before-commit");
    let started = std::time::Instant::now();
    tx.commit()?;
    counts.commit = started.elapsed();
    tracing::debug!(seconds = counts.commit.as_secs_f64(), "committed the purge");
    Ok((counts, job))
}
