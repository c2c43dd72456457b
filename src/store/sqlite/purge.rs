//! The purge: every record of the listed users hidden by tombstones, in one transaction with
//! the job's end; [`super::compact`] erases them afterwards.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::catalog::{dataset_row, require_group};
use super::directory::{self, Found};
use super::{jobs, DbResult, CACHE_KIB};
use crate::jobs::Job;
use crate::store::{DatasetType, JobCommit, PurgeCounts, StoreError, UserIds};

/// The writer's page cache during a purge, in KiB. The tombstones are written once and not
/// read again: a small cache spills them to the log as they come, where the connection's own
/// cache held up to 128 MiB of them until the commit. At W10 (5 million users' tombstones)
/// the job's peak RSS went from 305 to 213 MB, the purge took the same 0.7 s.
const PURGE_CACHE_KIB: i64 = 8 * 1024;

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
    conn.pragma_update(None, "cache_size", -PURGE_CACHE_KIB)?;
    let purged = purge_in(conn, path, group_arn, ids, commit);
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    purged
}

fn purge_in(
    conn: &mut Connection,
    path: &Path,
    group_arn: &str,
    ids: &UserIds,
    commit: JobCommit,
) -> DbResult<(PurgeCounts, Job)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    jobs::check_held(&tx, &commit.lease)?;
    require_group(&tx, group_arn)?;
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
    let mut counts = PurgeCounts {
        per_dataset: datasets.iter().map(|&(t, _)| (t, 0)).collect(),
        ..PurgeCounts::default()
    };
    std::thread::scope(|s| -> DbResult<()> {
        // The merges send what they find in parts; this thread writes them as they come.
        let (to_writer, parts) = std::sync::mpsc::sync_channel::<(usize, DbResult<Found>)>(4);
        for (i, &(_, id)) in datasets.iter().enumerate() {
            let to_writer = to_writer.clone();
            s.spawn(move || {
                let merged = (|| {
                    let reader = super::conn::read_only(path)?;
                    directory::find(&reader, id, ids, |part| {
                        to_writer
                            .send((i, Ok(part)))
                            .map_err(|_| StoreError::Invalid("the purge stopped".into()))
                    })
                })();
                if let Err(e) = merged {
                    let _ = to_writer.send((i, Err(e)));
                }
            });
        }
        drop(to_writer);
        // On an error, returning drops `parts`: the merges' sends fail and they stop.
        for (i, part) in parts {
            let part = part?;
            directory::write_tombstone(&tx, datasets[i].1, &part)?;
            counts.per_dataset[i].1 += part.records;
        }
        Ok(())
    })?;
    for &(t, n) in &counts.per_dataset {
        tracing::debug!(dataset = %t, records = n, "tombstoned");
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
