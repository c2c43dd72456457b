//! The runs of sequence numbers of records put one by one ([`crate::store::origin`]), and
//! what a full load does with those records: keeps them, dropping every other.

use rusqlite::{params, Connection};

use super::{directory, packed, DbResult};
use crate::store::origin::PutRanges;

/// A dataset's runs, in order.
pub(super) fn ranges(conn: &Connection, id: i64) -> DbResult<PutRanges> {
    let runs = conn
        .prepare("SELECT first, last FROM put_ranges WHERE dataset_id = ?1 ORDER BY first")?
        .query_map(params![id], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(PutRanges(runs))
}

/// Notes that a put load took the numbers `first..=last`: the last run grows when this one
/// continues it.
pub(super) fn note(conn: &Connection, id: i64, first: u64, last: u64) -> DbResult<()> {
    if first > last {
        return Ok(());
    }
    let grown = conn.execute(
        "UPDATE put_ranges SET last = ?3 WHERE dataset_id = ?1 AND last = ?2",
        params![id, first as i64 - 1, last as i64],
    )?;
    if grown == 0 {
        conn.execute(
            "INSERT INTO put_ranges (dataset_id, first, last) VALUES (?1, ?2, ?3)",
            params![id, first as i64, last as i64],
        )?;
    }
    Ok(())
}

/// Forgets a dataset's runs (it is deleted).
pub(super) fn clear(conn: &Connection, id: i64) -> DbResult<()> {
    conn.execute("DELETE FROM put_ranges WHERE dataset_id = ?1", params![id])?;
    Ok(())
}

/// Deletes every record loaded in bulk from a packed table, keeping those put one by one,
/// and rebuilds its directory. The table has no tombstones (a compaction ran first).
pub(super) fn drop_bulk_packed(
    conn: &Connection,
    table: &packed::Table,
    puts: &PutRanges,
) -> DbResult<()> {
    let shape = (table.width, table.key);
    packed::rewrite_users(conn, table.id, shape, |seq| puts.contains(seq), None)?;
    directory::build(conn, table.id)
}

/// Deletes every record loaded in bulk from a plain table (Items, Actions).
pub(super) fn drop_bulk_rows(conn: &Connection, id: i64) -> DbResult<()> {
    conn.execute(
        &format!(
            "DELETE FROM records_{id} WHERE NOT EXISTS (
                 SELECT 1 FROM put_ranges p
                 WHERE p.dataset_id = ?1 AND records_{id}.seq BETWEEN p.first AND p.last)"
        ),
        params![id],
    )?;
    Ok(())
}
