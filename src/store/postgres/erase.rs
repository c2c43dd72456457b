//! Erasure in PostgreSQL: the rows a deletion removed, made unrecoverable from the database
//! files.
//!
//! A deleted row stays in its heap page (and its index entries and TOAST chunks): `VACUUM`
//! marks its space free but does not overwrite it (measured: the erasure test finds the
//! markers after it), and the write-ahead log keeps every row inserted since its oldest
//! segment. So every path that deletes records notes the table in `pending_erasure` in its
//! own transaction (a purge, a dataset's deletion, a model's, a reset), and the compaction,
//! one at a time across processes (an advisory lock):
//! 1. rewrites each noted table (`VACUUM FULL`: a new file from the live rows, indexes and
//!    TOAST rebuilt; the old file is truncated at the commit and unlinked at the next
//!    checkpoint);
//! 2. switches the log to a new segment and checkpoints: every segment that held the rows is
//!    then before the checkpoint's redo point and PostgreSQL removes it — when
//!    `wal_recycle = off`; with recycling on (PostgreSQL's default) old segments are renamed
//!    for reuse and keep their bytes until overwritten, which the compaction warns of;
//! 3. clears the notes it saw (a note made meanwhile stays for the next compaction).
//!
//! The rewrite costs the size of the table, not of what was deleted: PostgreSQL offers no
//! way to overwrite one dead row. Step 2 needs the rights to run `CHECKPOINT`
//! (`pg_checkpoint`) and `pg_switch_wal()`; without them the compaction reports
//! `checkpointed: false` and says what failed.

use std::time::Instant;

use deadpool_postgres::Object;
use tokio_postgres::GenericClient;

use super::DbResult;
use crate::store::{failpoint, Compacted};

/// The tables holding records or what was learnt from them: only these are rewritten.
const REWRITTEN: [&str; 3] = ["user_records", "records", "blobs"];

/// A note that only the log must be cleared (the tables were emptied by `TRUNCATE`, whose
/// old files go at the next checkpoint).
pub(super) const LOG_ONLY: &str = "log";

/// The advisory lock's key: one erasure at a time ("erasure").
const LOCK_KEY: i64 = 0x6572_6173_7572_6500;

/// The table of notes, created by migration 4, which also stops `ANALYZE` from sampling user
/// IDs and records into `pg_statistic` (a catalog the compaction cannot rewrite).
pub(super) const MIGRATION_4: &str = "
ALTER TABLE user_records ALTER COLUMN key SET STATISTICS 0, ALTER COLUMN rows SET STATISTICS 0;
CREATE TABLE pending_erasure (
    table_name TEXT PRIMARY KEY,
    users      BIGINT NOT NULL DEFAULT 0,
    records    BIGINT NOT NULL DEFAULT 0,
    generation BIGINT NOT NULL DEFAULT 0
);
";

/// Notes, in the caller's transaction, that `table` lost `users`' `records` rows.
pub(super) async fn note(
    c: &impl GenericClient,
    table: &str,
    users: u64,
    records: u64,
) -> DbResult<()> {
    c.execute(
        "INSERT INTO pending_erasure (table_name, users, records) VALUES ($1, $2, $3)
         ON CONFLICT (table_name) DO UPDATE SET
             users = pending_erasure.users + excluded.users,
             records = pending_erasure.records + excluded.records,
             generation = pending_erasure.generation + 1",
        &[&table, &(users as i64), &(records as i64)],
    )
    .await?;
    Ok(())
}

/// Erases what the notes name (see the module's comment).
pub(super) async fn compact(client: &mut Object) -> DbResult<Compacted> {
    let started = Instant::now();
    // A second compaction waits for the first (up to the session's lock timeout), then
    // finds its notes cleared.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = erase(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let mut done = result?;
    unlocked?;
    done.seconds = started.elapsed().as_secs_f64();
    done.log();
    Ok(done)
}

async fn erase(client: &Object) -> DbResult<Compacted> {
    let notes: Vec<(String, i64, i64, i64)> = client
        .query(
            "SELECT table_name, users, records, generation FROM pending_erasure",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let mut done = Compacted {
        checkpointed: true,
        ..Compacted::default()
    };
    if notes.is_empty() {
        return Ok(done);
    }
    failpoint("erase-before-rewrite");
    for (table, users, records, _) in &notes {
        done.users += *users as u64;
        done.records += *records as u64;
        let Some(table) = REWRITTEN.iter().find(|t| *t == table) else {
            continue;
        };
        let started = Instant::now();
        let before = size(client, table).await?;
        client
            .batch_execute(&format!("VACUUM FULL {table}"))
            .await?;
        let after = size(client, table).await?;
        done.vacuumed = true;
        done.pages_erased += before as u64 / 8192;
        done.bytes_erased += (before - after).max(0) as u64;
        tracing::debug!(
            table,
            before,
            after,
            seconds = started.elapsed().as_secs_f64(),
            "rewrote"
        );
    }
    failpoint("erase-after-rewrite");
    match clear_log(client).await {
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(
                error = %e,
                "the deleted rows are gone from the tables, but the write-ahead log may keep them: the store's role needs pg_checkpoint and EXECUTE on pg_switch_wal()"
            );
            done.checkpointed = false;
            return Ok(done);
        }
    }
    for (table, _, _, generation) in &notes {
        client
            .execute(
                "DELETE FROM pending_erasure WHERE table_name = $1 AND generation = $2",
                &[table, generation],
            )
            .await?;
    }
    Ok(done)
}

/// The bytes of a table, its indexes and TOAST included.
async fn size(client: &Object, table: &str) -> DbResult<i64> {
    let row = client
        .query_one(
            "SELECT pg_total_relation_size($1::text::regclass)",
            &[&table],
        )
        .await?;
    Ok(row.get(0))
}

/// Starts a new log segment and checkpoints, so that the segments before it are removed.
async fn clear_log(client: &Object) -> DbResult<()> {
    let started = Instant::now();
    client
        .query_one("SELECT pg_switch_wal()::text", &[])
        .await?;
    client.batch_execute("CHECKPOINT").await?;
    let recycle: String = client.query_one("SHOW wal_recycle", &[]).await?.get(0);
    if recycle == "on" {
        tracing::warn!(
            "wal_recycle is on: PostgreSQL renames old log segments for reuse, and the deleted rows stay in them until they are overwritten; set wal_recycle = off for the erasure to reach the log"
        );
    }
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "cleared the log");
    Ok(())
}
