//! The compaction: what a purge left for later, done outside the job's time.
//!
//! A purge commits tombstones ([`super::directory`]); the compaction deletes the tombstoned
//! users' rows, removes them from the directory and drops the tombstones, in one immediate
//! transaction: a crash at any point leaves the store before it (tombstones still hiding the
//! users) or after it. The connection runs with `secure_delete`, so SQLite overwrites the
//! deleted cells and the freed pages with zeros; the checkpoint that follows copies those
//! pages into the database file and truncates the write-ahead log, so no file of the data dir
//! keeps the deleted bytes.

use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};

use super::{directory, DbResult};
use crate::store::{failpoint, Compacted, StoreError};

/// Compacts the tombstones of every dataset, then checkpoints.
pub(super) fn compact(conn: &mut Connection) -> DbResult<Compacted> {
    let started = Instant::now();
    let mut done = Compacted::default();
    let pending: Vec<i64> = conn
        .prepare("SELECT DISTINCT dataset_id FROM tombstones")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !pending.is_empty() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for dataset_id in pending {
            let (users, records) = compact_dataset(&tx, dataset_id)?;
            done.users += users;
            done.records += records;
        }
        failpoint("compact-before-commit");
        tx.commit()?;
        failpoint("compact-after-commit");
    }
    done.checkpointed = checkpoint(conn)?;
    done.seconds = started.elapsed().as_secs_f64();
    if done.records > 0 {
        tracing::info!(
            users = done.users,
            records = done.records,
            seconds = done.seconds,
            "erased the records of deleted users"
        );
    }
    Ok(done)
}

/// Deletes the rows of a dataset's tombstoned users and drops its tombstones, in the caller's
/// transaction. Returns how many users and records went.
pub(super) fn compact_dataset(conn: &Connection, dataset_id: i64) -> DbResult<(u64, u64)> {
    let keys = directory::tombstoned(conn, dataset_id)?;
    if keys.is_empty() {
        return Ok((0, 0));
    }
    let started = Instant::now();
    let records = directory::tombstoned_records(conn, dataset_id)?;
    let mut users = 0u64;
    {
        let mut delete =
            conn.prepare_cached(&format!("DELETE FROM records_{dataset_id} WHERE k = ?1"))?;
        for k in keys.iter() {
            let k = std::str::from_utf8(k)
                .map_err(|_| StoreError::Invalid("a tombstoned user ID is not UTF-8".into()))?;
            users += delete.execute(params![k])? as u64;
        }
    }
    directory::remove(conn, dataset_id, &keys)?;
    conn.execute(
        "DELETE FROM tombstones WHERE dataset_id = ?1",
        params![dataset_id],
    )?;
    tracing::debug!(
        dataset_id,
        users,
        records,
        seconds = started.elapsed().as_secs_f64(),
        "compacted"
    );
    Ok((users, records))
}

/// Copies the write-ahead log into the database file and truncates it. Readers of an older
/// snapshot can hold it up (past the busy timeout it gives up, and the next one does it):
/// returns whether it completed.
pub(super) fn checkpoint(conn: &Connection) -> DbResult<bool> {
    let started = Instant::now();
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        complete = busy == 0,
        "checkpointed"
    );
    if busy != 0 {
        tracing::warn!("the checkpoint could not complete: a reader holds an older snapshot");
    }
    Ok(busy == 0)
}
