//! The purge: every record of the listed users hidden by tombstones, in one transaction with
//! the job's end; [`super::compact`] erases them afterwards.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::catalog::dataset_row;
use super::{directory, jobs, DbResult};
use crate::jobs::Job;
use crate::store::{DatasetType, JobCommit, PurgeCounts, StoreError, UserIds};

/// The purge in one immediate transaction: the job's lease checked once SQLite's write lock
/// is held, the users of `ids` tombstoned in each of the group's user-bearing datasets, then
/// the job written `Succeeded` with the count, and one commit for all of it.
pub(super) fn purge(
    conn: &mut Connection,
    path: &Path,
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
    // Per dataset, one merge of the sorted IDs with the directory gives each user's
    // record count, and the users found are written as one tombstone; the compaction erases
    // their rows after the job. The merges only read, so they run at once on connections of
    // their own: this transaction holds the write lock, so they read what it would.
    let mut datasets = Vec::new();
    for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
        if let Some((id, _)) = dataset_row(&tx, group_arn, t)? {
            datasets.push((t, id));
        }
    }
    let started = std::time::Instant::now();
    let found: Vec<DbResult<directory::Found>> = std::thread::scope(|s| {
        let merges: Vec<_> = datasets
            .iter()
            .map(|&(_, id)| {
                s.spawn(move || {
                    let reader =
                        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                    reader.busy_timeout(std::time::Duration::from_secs(10))?;
                    directory::find(&reader, id, ids)
                })
            })
            .collect();
        merges
            .into_iter()
            .map(|m| {
                m.join()
                    .unwrap_or_else(|_| Err(StoreError::Invalid("a purge thread panicked".into())))
            })
            .collect()
    });
    let mut counts = PurgeCounts::default();
    for (&(t, id), found) in datasets.iter().zip(found) {
        let found = found?;
        directory::write_tombstone(&tx, id, &found)?;
        tracing::debug!(dataset = %t, users = found.users, records = found.records, "tombstoned");
        counts.per_dataset.push((t, found.records));
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "found and tombstoned the users"
    );
    let job = commit.job.succeeded(Some(counts.total()));
    jobs::write_final(&tx, &job, &commit.lease)?;
    crate::store::failpoint("purge-before-commit");
    let started = std::time::Instant::now();
    tx.commit()?;
    counts.commit = started.elapsed();
    tracing::debug!(seconds = counts.commit.as_secs_f64(), "committed the purge");
    Ok((counts, job))
}
