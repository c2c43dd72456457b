//! The compaction: what a purge left for later, done outside the job's time.
//!
//! A purge commits tombstones ([`super::directory`]); the compaction
//! 1. deletes the tombstoned users' rows, removes them from the directory and drops the
//!    tombstones, one tombstone row (about 4,500 users) per immediate transaction, so that a
//!    write waits for one step at most: a crash leaves each row's users hidden by their
//!    tombstone or gone, and every count exact. `secure_delete` zeroes the cells and the
//!    pages the deletes free;
//! 2. erases ([`erase`]): checkpoints the write-ahead log into the database file, truncating
//!    the log, and zeroes the unused bytes of every page the log held ([`super::scrub`]),
//!    where B-tree rebalancing leaves stale copies of cells. The cost follows the pages
//!    written since the last erasure, not the size of the file;
//! 3. rewrites the whole file (`VACUUM`) only when most of it is free, or once for a file
//!    written before `secure_delete` was on (noted by migration 11).
//!
//! The erasure is the only checkpoint: the automatic one and the one at close are off on
//! every connection, so a page written since the last erasure is always in the log. A crash
//! during an erasure leaves the list of pages still to zero in `<database>-erase`, and the
//! next erasure starts from it. So no file of the data dir keeps a deleted record's bytes
//! once a compaction has run to its end.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};

use super::{directory, scrub, DbResult, SqliteStore, CACHE_KIB};
use crate::store::{failpoint, Compacted, UserIds};

/// Compacts the tombstones, one row per transaction (writers wait for one at most),
/// erasing whenever the log has grown past [`ERASE_STEP_LOG_BYTES`]; then rewrites the file
/// if it is mostly free, and erases.
pub(super) async fn compact(store: &SqliteStore) -> DbResult<Compacted> {
    let started = Instant::now();
    let mut done = Compacted::default();
    let (mut pages, mut bytes) = (0, 0);
    let path = store.path().to_owned();
    loop {
        let (step, erased) = store
            .with_large_write({
                let path = path.clone();
                move |conn| {
                    let held = Instant::now();
                    // Each page is visited once, in key order: a large cache would only
                    // hold pages the compaction is done with.
                    conn.pragma_update(None, "cache_size", -COMPACT_CACHE_KIB)?;
                    let step = compact_step(conn);
                    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
                    let step = step?;
                    let stepped = held.elapsed().as_secs_f64();
                    let log = std::fs::metadata(wal_file(&path)).map_or(0, |m| m.len());
                    let erased = if step.is_some() && log > ERASE_STEP_LOG_BYTES {
                        Some(erase(conn, &path)?)
                    } else {
                        None
                    };
                    tracing::debug!(
                        step = stepped,
                        held = held.elapsed().as_secs_f64(),
                        "compaction step"
                    );
                    Ok((step, erased))
                }
            })
            .await?;
        if let Some(e) = erased {
            pages += e.pages;
            bytes += e.bytes;
        }
        let Some((users, records)) = step else {
            break;
        };
        done.users += users;
        done.records += records;
    }
    let (vacuumed, erased) = store
        .with_large_write(move |conn| {
            let vacuumed = vacuum_if_due(conn)?;
            Ok((vacuumed, erase(conn, &path)?))
        })
        .await?;
    done.vacuumed = vacuumed;
    done.checkpointed = erased.checkpointed;
    done.pages_erased = pages + erased.pages;
    done.bytes_erased = bytes + erased.bytes;
    done.seconds = started.elapsed().as_secs_f64();
    done.log();
    Ok(done)
}

/// Page cache of a compaction step, in KiB.
const COMPACT_CACHE_KIB: i64 = 4 * 1024;

/// The log's size past which the compaction erases between its steps, so that no erasure
/// (whose checkpoint holds writers back) copies much more than this.
const ERASE_STEP_LOG_BYTES: u64 = 8 << 20;

/// Deletes the rows of the users of the oldest tombstone row, removes them from the
/// directory and drops the row, in one immediate transaction. Counts stay exact between
/// steps: a dataset's count is its directory's less its tombstones', and each step takes
/// the same users out of both. Returns how many users and records went, or `None` when no
/// tombstone is left.
fn compact_step(conn: &mut Connection) -> DbResult<Option<(u64, u64)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some((row, dataset_id, records, keys)) = directory::oldest_tombstone(&tx)? else {
        return Ok(None);
    };
    let users = delete_users(&tx, dataset_id, &keys)?;
    tx.execute("DELETE FROM tombstones WHERE id = ?1", params![row])?;
    failpoint("compact-before-commit");
    tx.commit()?;
    failpoint("compact-after-commit");
    Ok(Some((users, records)))
}

/// Rewrites the whole file (`VACUUM`) when a migration noted it or most of it is free.
fn vacuum_if_due(conn: &Connection) -> DbResult<bool> {
    let noted: i64 = conn.query_row("SELECT count(*) FROM pending_vacuum", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let total: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    if noted == 0 && (free < VACUUM_MIN_FREE_PAGES || free * 2 <= total) {
        return Ok(false);
    }
    let started = Instant::now();
    conn.execute_batch("VACUUM")?;
    conn.execute("DELETE FROM pending_vacuum", [])?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "vacuumed");
    failpoint("compact-after-vacuum");
    Ok(true)
}

/// Free pages below which a mostly free file is not rewritten (a small file is cheap to keep).
const VACUUM_MIN_FREE_PAGES: i64 = 64;

/// What [`erase`] did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Erased {
    /// False when a reader of an older snapshot held the checkpoint up: the next erasure
    /// does the work (the pages to zero are still listed).
    pub(super) checkpointed: bool,
    /// Pages read to be zeroed.
    pub(super) pages: u64,
    /// Bytes zeroed.
    pub(super) bytes: u64,
}

/// The file that lists the pages an erasure has still to zero (and serializes erasures
/// across processes, by a lock on it).
pub(super) fn erase_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-erase");
    PathBuf::from(name)
}

/// Stands for every page of the file in the erase file.
const ALL_PAGES: u32 = u32::MAX;

/// Checkpoints the write-ahead log (truncating it) and zeroes the unused bytes of every page
/// it held, in the database file. Twice when the first pass zeroed anything: a small commit
/// between them makes every connection of other processes drop pages it cached before the
/// zeroing (so none writes a stale copy back), and the second pass erases that commit's
/// page and whatever another process wrote meanwhile, leaving the log empty.
pub(super) fn erase(conn: &Connection, path: &Path) -> DbResult<Erased> {
    let list = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode_0600()
        .open(erase_file(path))?;
    list.lock()?;
    let mut done = erase_pass(conn, path, &list)?;
    if done.checkpointed && done.bytes > 0 {
        conn.execute("UPDATE erasures SET n = n + 1", [])?;
        let second = erase_pass(conn, path, &list)?;
        done.checkpointed = second.checkpointed;
        done.pages += second.pages;
        done.bytes += second.bytes;
    }
    list.unlock()?;
    Ok(done)
}

fn erase_pass(conn: &Connection, path: &Path, list: &File) -> DbResult<Erased> {
    let started = Instant::now();
    let mut pages = read_list(list)?;
    let (logged, frames) = scrub::wal_pages(&wal_file(path))?;
    if !logged.is_empty() && pages.first() != Some(&ALL_PAGES) {
        pages.extend(logged);
        pages.sort_unstable();
        pages.dedup();
        write_list(list, &pages)?;
    }
    failpoint("erase-before-checkpoint");
    let (busy, log): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    let checkpointed_at = started.elapsed().as_secs_f64();
    if busy != 0 {
        tracing::warn!("the checkpoint could not complete: a reader holds an older snapshot");
        return Ok(Erased::default());
    }
    if log > 0 && log as u64 > frames {
        // Another process committed between the listing and the checkpoint: its pages went
        // into the file unlisted, so every page is zeroed.
        pages = vec![ALL_PAGES];
        write_list(list, &pages)?;
    }
    failpoint("erase-before-scrub");
    let scrubbed = if pages.is_empty() {
        scrub::Scrubbed::default()
    } else if pages.first() == Some(&ALL_PAGES) {
        scrub::scrub_file(path, None)?
    } else {
        scrub::scrub_file(path, Some(&pages))?
    };
    // This connection's cache may hold pages as they were before the zeroing.
    conn.execute_batch("PRAGMA shrink_memory")?;
    if scrubbed.unparsed > 0 {
        // Left as they were: the next compaction rewrites the file.
        erasure_due(conn)?;
    }
    write_list(list, &[])?;
    failpoint("erase-after-scrub");
    tracing::debug!(
        pages = scrubbed.pages,
        rewritten = scrubbed.rewritten,
        bytes = scrubbed.bytes,
        checkpoint = checkpointed_at,
        seconds = started.elapsed().as_secs_f64(),
        "erased"
    );
    Ok(Erased {
        checkpointed: true,
        pages: scrubbed.pages,
        bytes: scrubbed.bytes,
    })
}

/// The write-ahead log of the database file `path`.
pub(super) fn wal_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn read_list(list: &File) -> DbResult<Vec<u32>> {
    let len = list.metadata()?.len() as usize;
    let mut bytes = vec![0u8; len - len % 4];
    list.read_exact_at(&mut bytes, 0)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Replaces the list, durably.
fn write_list(list: &File, pages: &[u32]) -> DbResult<()> {
    list.set_len(0)?;
    if !pages.is_empty() {
        let bytes: Vec<u8> = pages.iter().flat_map(|p| p.to_le_bytes()).collect();
        list.write_all_at(&bytes, 0)?;
    }
    list.sync_data()?;
    Ok(())
}

/// Owner-only permissions for a new file of the data dir.
trait Private {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Private for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// Deletes the rows of a dataset's tombstoned users and drops its tombstones, in the
/// caller's transaction: the compaction's, or an incremental load's into the dataset (the
/// next [`erase`] zeroes what the deletes left). Returns how many users and records went.
pub(super) fn compact_dataset(conn: &Connection, dataset_id: i64) -> DbResult<(u64, u64)> {
    let keys = directory::tombstoned(conn, dataset_id)?;
    if keys.is_empty() {
        return Ok((0, 0));
    }
    let started = Instant::now();
    let records = directory::tombstoned_records(conn, dataset_id)?;
    let users = delete_users(conn, dataset_id, &keys)?;
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

/// Deletes the rows of `keys` (sorted) from a dataset and from its directory; returns how
/// many rows went.
fn delete_users(conn: &Connection, dataset_id: i64, keys: &UserIds) -> DbResult<u64> {
    let mut users = 0u64;
    let mut delete =
        conn.prepare_cached(&format!("DELETE FROM records_{dataset_id} WHERE k = ?1"))?;
    for k in keys.iter() {
        users += delete.execute(params![k])? as u64;
    }
    directory::remove(conn, dataset_id, keys)?;
    Ok(users)
}

/// Notes, in the caller's transaction, that the next [`compact`] must rewrite the whole file.
pub(super) fn erasure_due(conn: &Connection) -> DbResult<()> {
    conn.execute(
        "INSERT INTO pending_vacuum (since) VALUES (?1)",
        params![crate::jobs::now_epoch()],
    )?;
    Ok(())
}
