//! The layout of user-bearing datasets (Users, Interactions, Action_Interactions): ONE row per
//! user, `(k TEXT PRIMARY KEY, n INTEGER, rows BLOB) WITHOUT ROWID`, where `rows` packs the
//! user's `n` records: for each, its load sequence number and its values but the user ID, as
//! varint-length-prefixed bytes.
//!
//! A load is one insert per user, in key order: records are sorted by user outside SQLite
//! ([`crate::store::sort`], bounded memory) and grouped as they come out. Loads keep the
//! dataset's directory ([`directory`]) exact, and a compaction deletes one row per user.

use rusqlite::{params, Connection, OptionalExtension};

use super::directory::{self, DirectoryWriter};
use super::{DbResult, LoadMode};
use crate::store::packing::{decode, encode, last_record, Grouper, Sorted};

/// Creates the table of a user-bearing dataset.
pub(super) fn create_table(conn: &Connection, id: i64) -> DbResult<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE records_{id} (k TEXT PRIMARY KEY, n INTEGER NOT NULL, rows BLOB NOT NULL) WITHOUT ROWID"
    ))?;
    Ok(())
}

/// A packed table and the shape of its dataset's records.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    /// The dataset's row id: the table is `records_{id}`.
    pub(super) id: i64,
    /// The position of the user ID among the columns.
    pub(super) key: usize,
    /// The number of columns.
    pub(super) width: usize,
    /// True when a user has one record (Users), which an incremental load replaces.
    pub(super) keyed_by_id: bool,
}

/// Loads rows into the packed table `records_{id}` (which [`LoadMode::Replace`] recreates),
/// numbering them from `first_seq + 1`. Returns the last sequence number used.
pub(super) fn load(
    conn: &Connection,
    table: &Table,
    mode: LoadMode,
    first_seq: u64,
    sorted: Sorted,
) -> DbResult<u64> {
    let &Table {
        id,
        key: _,
        width,
        keyed_by_id,
    } = table;
    if mode == LoadMode::Replace {
        conn.execute_batch(&format!("DROP TABLE records_{id}"))?;
        create_table(conn, id)?;
        directory::clear(conn, id)?;
    }
    let upsert = match mode {
        LoadMode::Replace => "",
        LoadMode::Append | LoadMode::Put => {
            "ON CONFLICT (k) DO UPDATE SET n = excluded.n, rows = excluded.rows"
        }
    };
    let mut insert = conn.prepare(&format!(
        "INSERT INTO records_{id} (k, n, rows) VALUES (?1, ?2, ?3) {upsert}"
    ))?;
    let mut existing = conn.prepare(&format!("SELECT n, rows FROM records_{id} WHERE k = ?1"))?;
    let mut merged = Vec::new();
    // A full load writes the directory as the users go in; an incremental one gathers the
    // users' new counts and merges them into the directory at the end.
    let mut fresh = match mode {
        LoadMode::Replace => Some(DirectoryWriter::new(conn, id)?),
        LoadMode::Append | LoadMode::Put => None,
    };
    let mut updates: Vec<(String, u64)> = Vec::new();
    let mut store_user = |k: &str, n: i64, all: &[u8]| -> DbResult<()> {
        let stored = match mode {
            LoadMode::Replace => {
                insert.execute(params![k, n, all])?;
                n
            }
            // The last record of an id replaces whatever the user had.
            LoadMode::Append | LoadMode::Put if keyed_by_id => {
                insert.execute(params![k, 1, last_record(all, width)?])?;
                1
            }
            LoadMode::Append | LoadMode::Put => {
                let old: Option<(i64, Vec<u8>)> = existing
                    .query_row(params![k], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match old {
                    None => {
                        insert.execute(params![k, n, all])?;
                        n
                    }
                    Some((old_n, old_rows)) => {
                        merged.clear();
                        merged.extend_from_slice(&old_rows);
                        merged.extend_from_slice(all);
                        insert.execute(params![k, old_n + n, &merged])?;
                        old_n + n
                    }
                }
            }
        };
        match fresh.as_mut() {
            Some(writer) => writer.push(k.as_bytes(), stored as u64)?,
            None => updates.push((k.to_owned(), stored as u64)),
        }
        Ok(())
    };
    let started = std::time::Instant::now();
    let last = sorted.group(first_seq, |users| {
        for (k, n, all) in &users {
            store_user(k, *n, all)?;
        }
        Ok(())
    })?;
    if let Some(writer) = fresh {
        writer.finish()?;
    }
    directory::apply(conn, id, &updates)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "sorted and inserted by user"
    );
    Ok(last)
}

/// Rewrites every user's packed records ([`crate::store::packing::rewrite`]), deleting a
/// user none is left of. The table must have no tombstones (a compaction ran first); the
/// caller rebuilds the directory if counts changed.
pub(super) fn rewrite_users(
    conn: &Connection,
    id: i64,
    shape: (usize, usize),
    keep: impl Fn(u64) -> bool,
    to: Option<(&[Option<usize>], usize)>,
) -> DbResult<()> {
    let users: Vec<(String, Vec<u8>)> = conn
        .prepare(&format!("SELECT k, rows FROM records_{id}"))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare(&format!(
        "UPDATE records_{id} SET n = ?2, rows = ?3 WHERE k = ?1"
    ))?;
    let mut delete = conn.prepare(&format!("DELETE FROM records_{id} WHERE k = ?1"))?;
    let mut kept = Vec::new();
    for (k, blob) in users {
        match crate::store::packing::rewrite(&k, &blob, shape, &mut kept, &keep, to)? {
            0 => delete.execute(params![k])?,
            n => update.execute(params![k, n as i64, &kept])?,
        };
    }
    Ok(())
}

/// How many records the packed table holds, its tombstoned users' left out.
pub(super) fn count(conn: &Connection, id: i64) -> DbResult<u64> {
    Ok(directory::total(conn, id)?.saturating_sub(directory::tombstoned_records(conn, id)?))
}

/// Every record, in load order.
pub(super) fn records(
    conn: &Connection,
    id: i64,
    width: usize,
    key: usize,
) -> DbResult<Vec<Vec<String>>> {
    let mut all = Vec::new();
    scan(conn, id, width, key, |seq, row| {
        all.push((seq, row));
        Ok(true)
    })?;
    all.sort_by_key(|(seq, _)| *seq);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// Calls `f(sequence number, row)` for every record but those of tombstoned users: users in
/// key order, each user's records in load order; stops when `f` answers false.
pub(super) fn scan(
    conn: &Connection,
    id: i64,
    width: usize,
    key: usize,
    mut f: impl FnMut(u64, Vec<String>) -> DbResult<bool>,
) -> DbResult<()> {
    let hidden = directory::tombstoned(conn, id)?;
    let mut stmt = conn.prepare(&format!("SELECT k, rows FROM records_{id}"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let k: String = r.get(0)?;
        if !hidden.is_empty() && hidden.contains(&k) {
            continue;
        }
        let blob: Vec<u8> = r.get(1)?;
        for (seq, row) in decode(&k, &blob, width, key)? {
            if !f(seq, row)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Converts a table of the schema-5 layout (`(seq, c0, c1, ...)`, clustered by user) to the
/// packed one, in place. Returns the last sequence number.
pub(super) fn convert_from_rows(
    conn: &Connection,
    id: i64,
    width: usize,
    key: usize,
) -> DbResult<u64> {
    let cols: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
    let mut max_seq = 0u64;
    {
        conn.execute_batch(&format!(
            "CREATE TABLE records_{id}_packed (k TEXT PRIMARY KEY, n INTEGER NOT NULL, rows BLOB NOT NULL) WITHOUT ROWID"
        ))?;
        let mut insert = conn.prepare(&format!(
            "INSERT INTO records_{id}_packed (k, n, rows) VALUES (?1, ?2, ?3)"
        ))?;
        let mut grouper = Grouper {
            key: Vec::new(),
            blob: Vec::new(),
            n: 0,
            flush: |k: &str, n: i64, all: &[u8]| -> DbResult<()> {
                insert.execute(params![k, n, all])?;
                Ok(())
            },
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, {} FROM records_{id} ORDER BY c{key}, seq",
            cols.join(", ")
        ))?;
        let mut rows = stmt.query([])?;
        let mut rec = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            max_seq = max_seq.max(seq as u64);
            let values: Vec<String> = (0..width)
                .map(|i| {
                    r.get::<_, Option<String>>(i + 1)
                        .map(Option::unwrap_or_default)
                })
                .collect::<Result<_, _>>()?;
            rec.clear();
            encode(&mut rec, seq as u64, key, values.iter().map(String::as_str));
            grouper.push(values[key].as_bytes(), 1, &rec)?;
        }
        grouper.done()?;
    }
    conn.execute_batch(&format!(
        "DROP TABLE records_{id}; ALTER TABLE records_{id}_packed RENAME TO records_{id};"
    ))?;
    Ok(max_seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_a_blob() {
        let mut blob = Vec::new();
        encode(&mut blob, 7, 1, ["i1", "u1", "", "a,\"b\""].into_iter());
        encode(&mut blob, 300, 1, ["i2", "u1", "é", "x"].into_iter());
        assert_eq!(
            decode("u1", &blob, 4, 1).unwrap(),
            vec![
                (
                    7,
                    vec!["i1".into(), "u1".into(), "".into(), "a,\"b\"".into()]
                ),
                (300, vec!["i2".into(), "u1".into(), "é".into(), "x".into()]),
            ]
        );
        assert!(decode("u1", &blob[..blob.len() - 1], 4, 1).is_err());
        let mut second = Vec::new();
        encode(&mut second, 300, 1, ["i2", "u1", "é", "x"].into_iter());
        assert_eq!(last_record(&blob, 4).unwrap(), &second[..]);
    }
}
