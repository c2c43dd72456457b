//! The compaction: what a purge left for later, done outside the job's time.
//!
//! A purge commits tombstones ([`super::directory`]); the compaction
//! 1. deletes the tombstoned users' rows, removes them from the directory, drops the
//!    tombstones and notes that a vacuum is due, in one immediate transaction: a crash at
//!    any point leaves the store before it (tombstones still hiding the users) or after it;
//! 2. vacuums: SQLite rewrites the database file from its live records. Deleting a row
//!    leaves its bytes in free space, and even `secure_delete` (which zeroes deleted cells
//!    and freed pages) cannot reach the stale copies of cells that B-tree rebalancing leaves
//!    in the unused space of pages (measured: the erasure test fails with it alone); a
//!    rebuilt file holds none of a deleted record;
//! 3. checkpoints, truncating the write-ahead log, and clears the note.
//!
//! A crash after step 1 leaves the note, and the next compaction vacuums; so no file of the
//! data dir keeps a deleted record's bytes once a compaction has run to its end.

use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};

use super::{directory, DbResult};
use crate::store::{failpoint, Compacted};

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
    let due: i64 = conn.query_row("SELECT count(*) FROM pending_vacuum", [], |r| r.get(0))?;
    if due > 0 {
        let started = Instant::now();
        conn.execute_batch("VACUUM")?;
        tracing::debug!(seconds = started.elapsed().as_secs_f64(), "vacuumed");
        failpoint("compact-after-vacuum");
        done.checkpointed = checkpoint(conn)?;
        // Only once the log is empty: until then it may hold the old pages.
        if done.checkpointed {
            conn.execute("DELETE FROM pending_vacuum", [])?;
            done.checkpointed = checkpoint(conn)?;
        }
    } else {
        done.checkpointed = checkpoint(conn)?;
    }
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

/// Deletes the rows of a dataset's tombstoned users, drops its tombstones and notes that a
/// vacuum is due (the next [`compact`] does it), in the caller's transaction: the
/// compaction's, or an incremental load's into the dataset. Returns how many users and
/// records went.
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
            users += delete.execute(params![k])? as u64;
        }
    }
    directory::remove(conn, dataset_id, &keys)?;
    conn.execute(
        "DELETE FROM tombstones WHERE dataset_id = ?1",
        params![dataset_id],
    )?;
    erasure_due(conn)?;
    tracing::debug!(
        dataset_id,
        users,
        records,
        seconds = started.elapsed().as_secs_f64(),
        "compacted"
    );
    Ok((users, records))
}

/// Notes, in the caller's transaction, that records were dropped and their bytes must leave
/// the file: the next [`compact`] vacuums. Every path that drops records calls it (a
/// compaction, a dataset's deletion, a reset).
pub(super) fn erasure_due(conn: &Connection) -> DbResult<()> {
    conn.execute(
        "INSERT INTO pending_vacuum (since) VALUES (?1)",
        params![crate::jobs::now_epoch()],
    )?;
    Ok(())
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
