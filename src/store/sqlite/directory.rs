//! The per-user directory and the tombstones of user-bearing datasets.
//!
//! **The directory** (`user_directory`) says how many records each user of a dataset has: the
//! `(user ID, record count)` pairs in key order, packed [`CHUNK_USERS`] to a row. A purge
//! reads it sequentially beside the sorted IDs it removes (one merge, no B-tree probe per ID)
//! and a count is the sum of its rows' totals. Loads keep it exact.
//!
//! **Tombstones** (`tombstones`) are what a purge writes: per dataset, the sorted IDs of the
//! users it removed and how many records they had. A purge commits its tombstones and its
//! job's end in one small write; every read path leaves out tombstoned users; the compaction
//! ([`super::compact`]) then deletes their rows, zeroing the bytes, and drops the tombstones.
//! A load into a dataset compacts its tombstones first (in the load's transaction), so a
//! tombstone never covers records loaded after it.

use rusqlite::{params, Connection, OptionalExtension};

use super::DbResult;
use crate::store::{StoreError, UserIds};

/// Users per directory row: rows of about 3 KB for IDs of 10 bytes (within one 4 KiB page),
/// so that a compaction that removes a few users rewrites a few small rows (erasure costs
/// what is deleted), while a purge reads few enough rows (at W1, 128 users a row made the
/// purge 0.12 s against 0.05 s with 4,096).
pub(super) const CHUNK_USERS: usize = 256;

/// The tables, created by migration 8.
pub(super) const MIGRATION_8: &str = "
CREATE TABLE user_directory (
    id         INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL,
    first      TEXT NOT NULL,
    users      INTEGER NOT NULL,
    records    INTEGER NOT NULL,
    data       BLOB NOT NULL
);
CREATE INDEX user_directory_order ON user_directory (dataset_id, first);
CREATE TABLE tombstones (
    id         INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL,
    users      INTEGER NOT NULL,
    records    INTEGER NOT NULL,
    keys       BLOB NOT NULL
);
CREATE INDEX tombstones_dataset ON tombstones (dataset_id);
CREATE TABLE pending_vacuum (since REAL NOT NULL);
";

fn corrupt(what: &str) -> StoreError {
    StoreError::Invalid(format!("the {what} is corrupt"))
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn take_bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_varint(input)? as usize;
    if len > input.len() {
        return None;
    }
    let (b, rest) = input.split_at(len);
    *input = rest;
    Some(b)
}

/// The `(user ID, record count)` pairs of one directory row.
pub(super) struct Entries<'a> {
    input: &'a [u8],
}

impl<'a> Entries<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Entries { input: data }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = DbResult<(&'a [u8], u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.input.is_empty() {
            return None;
        }
        let entry = take_bytes(&mut self.input)
            .and_then(|k| Some((k, take_varint(&mut self.input)?)))
            .ok_or_else(|| corrupt("user directory"));
        if entry.is_err() {
            self.input = &[];
        }
        Some(entry)
    }
}

/// Writes a dataset's directory rows from pairs given in key order.
pub(super) struct DirectoryWriter<'c> {
    insert: rusqlite::Statement<'c>,
    dataset_id: i64,
    first: Vec<u8>,
    data: Vec<u8>,
    users: i64,
    records: i64,
}

impl<'c> DirectoryWriter<'c> {
    pub(super) fn new(conn: &'c Connection, dataset_id: i64) -> DbResult<Self> {
        Ok(DirectoryWriter {
            insert: conn.prepare(
                "INSERT INTO user_directory (dataset_id, first, users, records, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            dataset_id,
            first: Vec::new(),
            data: Vec::with_capacity(64 * 1024),
            users: 0,
            records: 0,
        })
    }

    /// Adds a user (after every user added before it, in byte order).
    pub(super) fn push(&mut self, k: &[u8], n: u64) -> DbResult<()> {
        if self.users == 0 {
            self.first.clear();
            self.first.extend_from_slice(k);
        }
        put_varint(&mut self.data, k.len() as u64);
        self.data.extend_from_slice(k);
        put_varint(&mut self.data, n);
        self.users += 1;
        self.records += n as i64;
        if self.users as usize >= CHUNK_USERS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> DbResult<()> {
        if self.users > 0 {
            let first = std::str::from_utf8(&self.first).map_err(|_| corrupt("user ID"))?;
            self.insert.execute(params![
                self.dataset_id,
                first,
                self.users,
                self.records,
                self.data
            ])?;
        }
        self.data.clear();
        self.users = 0;
        self.records = 0;
        Ok(())
    }

    /// Writes the last row.
    pub(super) fn finish(mut self) -> DbResult<()> {
        self.flush()
    }
}

/// Removes a dataset's directory and tombstones (its table is dropped or rebuilt: the
/// records that tombstones hid are in pages `secure_delete` zeroes as they are freed).
pub(super) fn clear(conn: &Connection, dataset_id: i64) -> DbResult<()> {
    conn.execute(
        "DELETE FROM user_directory WHERE dataset_id = ?1",
        params![dataset_id],
    )?;
    conn.execute(
        "DELETE FROM tombstones WHERE dataset_id = ?1",
        params![dataset_id],
    )?;
    Ok(())
}

/// Calls `f(data)` for each directory row of a dataset, in key order, until it answers false.
pub(super) fn for_each_row(
    conn: &Connection,
    dataset_id: i64,
    mut f: impl FnMut(&[u8]) -> DbResult<bool>,
) -> DbResult<()> {
    let mut stmt = conn
        .prepare_cached("SELECT data FROM user_directory WHERE dataset_id = ?1 ORDER BY first")?;
    let mut rows = stmt.query(params![dataset_id])?;
    while let Some(r) = rows.next()? {
        if !f(r.get_ref(0)?.as_blob()?)? {
            break;
        }
    }
    Ok(())
}

/// Applies new record counts (`(user ID, count)`, in key order; a count replaces the user's)
/// to a dataset's directory: only the rows whose key range holds a changed user are
/// rewritten (split when they grow past [`CHUNK_USERS`]).
pub(super) fn apply(conn: &Connection, dataset_id: i64, updates: &[(String, u64)]) -> DbResult<()> {
    if updates.is_empty() {
        return Ok(());
    }
    // The rows' ids and first keys, in key order.
    let rows: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, first FROM user_directory WHERE dataset_id = ?1 ORDER BY first",
        )?
        .query_map(params![dataset_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut writer = DirectoryWriter::new(conn, dataset_id)?;
    let mut read = conn.prepare_cached("SELECT data FROM user_directory WHERE id = ?1")?;
    let mut delete = conn.prepare_cached("DELETE FROM user_directory WHERE id = ?1")?;
    let mut next = 0; // the first update not yet written
    for (i, (row_id, _)) in rows.iter().enumerate() {
        // This row covers keys up to the next row's first key.
        let end = rows.get(i + 1).map(|(_, first)| first.as_str());
        let upto = match end {
            Some(end) => next + updates[next..].partition_point(|(k, _)| k.as_str() < end),
            None => updates.len(),
        };
        if upto == next {
            continue;
        }
        let data: Vec<u8> = read.query_row(params![row_id], |r| r.get(0))?;
        let mut mine = updates[next..upto].iter().peekable();
        for entry in Entries::new(&data) {
            let (k, n) = entry?;
            while let Some((u, un)) = mine.next_if(|(u, _)| u.as_bytes() < k) {
                writer.push(u.as_bytes(), *un)?;
            }
            match mine.next_if(|(u, _)| u.as_bytes() == k) {
                Some((u, un)) => writer.push(u.as_bytes(), *un)?,
                None => writer.push(k, n)?,
            }
        }
        for (u, un) in mine {
            writer.push(u.as_bytes(), *un)?;
        }
        writer.flush()?;
        delete.execute(params![row_id])?;
        next = upto;
    }
    // A dataset with no rows yet: every update is new.
    for (u, un) in &updates[next..] {
        writer.push(u.as_bytes(), *un)?;
    }
    writer.finish()
}

/// The sum of the `records` column of a dataset's rows of `table`.
fn sum_records(conn: &Connection, table: &str, dataset_id: i64) -> DbResult<u64> {
    let n: i64 = conn.query_row(
        &format!("SELECT coalesce(sum(records), 0) FROM {table} WHERE dataset_id = ?1"),
        params![dataset_id],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// How many records a dataset's directory counts.
pub(super) fn total(conn: &Connection, dataset_id: i64) -> DbResult<u64> {
    sum_records(conn, "user_directory", dataset_id)
}

/// How many records a dataset's tombstones hide.
pub(super) fn tombstoned_records(conn: &Connection, dataset_id: i64) -> DbResult<u64> {
    sum_records(conn, "tombstones", dataset_id)
}

/// The sorted, distinct IDs of a dataset's tombstones (none once compacted), end to end.
/// [`tombstoned`], or `None` without a tombstone (the usual case: a compaction follows each
/// purge), without reading any.
pub(super) fn tombstoned_if_any(conn: &Connection, dataset_id: i64) -> DbResult<Option<UserIds>> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tombstones WHERE dataset_id = ?1)")?
        .query_row(params![dataset_id], |r| r.get(0))?;
    if any {
        tombstoned(conn, dataset_id).map(Some)
    } else {
        Ok(None)
    }
}

/// The oldest tombstone row of any dataset: its id, its dataset, its records and its IDs
/// (sorted: one purge's part).
pub(super) fn oldest_tombstone(conn: &Connection) -> DbResult<Option<(i64, i64, u64, UserIds)>> {
    let row: Option<(i64, i64, i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, dataset_id, records, keys FROM tombstones ORDER BY id LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((id, dataset_id, records, keys)) = row else {
        return Ok(None);
    };
    let ids = tombstone_ids(&keys).collect::<DbResult<UserIds>>()?;
    Ok(Some((id, dataset_id, records as u64, ids)))
}

/// The IDs of one tombstone row, in its order.
fn tombstone_ids(mut input: &[u8]) -> impl Iterator<Item = DbResult<&str>> {
    std::iter::from_fn(move || {
        if input.is_empty() {
            return None;
        }
        let k = take_bytes(&mut input).and_then(|k| std::str::from_utf8(k).ok());
        if k.is_none() {
            input = &[];
        }
        Some(k.ok_or_else(|| corrupt("tombstone")))
    })
}

pub(super) fn tombstoned(conn: &Connection, dataset_id: i64) -> DbResult<UserIds> {
    let mut stmt =
        conn.prepare_cached("SELECT keys FROM tombstones WHERE dataset_id = ?1 ORDER BY id")?;
    let mut rows = stmt.query(params![dataset_id])?;
    let (mut buf, mut ends) = (String::new(), Vec::<u32>::new());
    // The rows of one purge follow each other in key order; several purges' rows need a sort.
    let mut sorted = true;
    let mut last_start = 0usize;
    while let Some(r) = rows.next()? {
        for k in tombstone_ids(r.get_ref(0)?.as_blob()?) {
            let k = k?;
            if !ends.is_empty() && &buf.as_bytes()[last_start..] >= k.as_bytes() {
                sorted = false;
            }
            last_start = buf.len();
            buf.push_str(k);
            ends.push(u32::try_from(buf.len()).map_err(|_| corrupt("tombstone"))?);
        }
    }
    if sorted {
        return Ok(UserIds::packed(buf, ends));
    }
    let mut start = 0usize;
    let all = ends.iter().map(|&end| {
        let k = &buf[start..end as usize];
        start = end as usize;
        k
    });
    Ok(all.collect())
}

/// The users of a purge found in one dataset: their IDs (packed, sorted) and how many
/// records they have.
#[derive(Debug, Default)]
pub(super) struct Found {
    keys: Vec<u8>,
    pub(super) users: u64,
    pub(super) records: u64,
}

/// Bytes of IDs per tombstone row (about 4,500 users): a purge's memory stays bounded
/// whatever its size, and the compaction erases one row per transaction, short enough that
/// writes waiting for it wait little.
const TOMBSTONE_ROW_BYTES: usize = 64 << 10;

/// Finds which of `ids` have records in a dataset: one merge of the sorted IDs with the
/// directory, leaving out users tombstoned already. Reads only; hands what it finds to
/// `emit` in parts of about [`TOMBSTONE_ROW_BYTES`], in key order.
pub(super) fn find(
    conn: &Connection,
    dataset_id: i64,
    ids: &UserIds,
    mut emit: impl FnMut(Found) -> DbResult<()>,
) -> DbResult<()> {
    let earlier = tombstoned(conn, dataset_id)?;
    let mut found = Found::default();
    let mut want = ids.iter().map(str::as_bytes).peekable();
    for_each_row(conn, dataset_id, |data| {
        for entry in Entries::new(data) {
            let (k, n) = entry?;
            while want.next_if(|w| *w < k).is_some() {}
            match want.peek() {
                // No ID is left to find: the rows after this one are not read.
                None => return Ok(false),
                Some(w) if *w == k => {
                    want.next();
                    if earlier.is_empty() || !earlier.contains_bytes(k) {
                        put_varint(&mut found.keys, k.len() as u64);
                        found.keys.extend_from_slice(k);
                        found.users += 1;
                        found.records += n;
                        if found.keys.len() >= TOMBSTONE_ROW_BYTES {
                            emit(std::mem::take(&mut found))?;
                        }
                    }
                }
                Some(_) => {}
            }
        }
        Ok(true)
    })?;
    if found.users > 0 {
        emit(found)?;
    }
    Ok(())
}

/// Writes what [`find`] found as the dataset's tombstone.
pub(super) fn write_tombstone(conn: &Connection, dataset_id: i64, found: &Found) -> DbResult<()> {
    if found.users > 0 {
        conn.execute(
            "INSERT INTO tombstones (dataset_id, users, records, keys) VALUES (?1, ?2, ?3, ?4)",
            params![
                dataset_id,
                found.users as i64,
                found.records as i64,
                found.keys
            ],
        )?;
    }
    Ok(())
}

/// [`find`], then [`write_tombstone`]; returns the totals.
#[cfg(test)]
fn tombstone(conn: &Connection, dataset_id: i64, ids: &UserIds) -> DbResult<Found> {
    let mut total = Found::default();
    find(conn, dataset_id, ids, |part| {
        write_tombstone(conn, dataset_id, &part)?;
        total.users += part.users;
        total.records += part.records;
        Ok(())
    })?;
    Ok(total)
}

/// Removes `keys` (sorted) from a dataset's directory, rewriting only the rows that held
/// one, one row at a time.
pub(super) fn remove(conn: &Connection, dataset_id: i64, keys: &UserIds) -> DbResult<()> {
    // The row of each doomed key is found by its first key: only the rows that hold a
    // doomed user are read and rewritten.
    let mut find = conn.prepare_cached(
        "SELECT id, data FROM user_directory WHERE dataset_id = ?1 AND first <= ?2
         ORDER BY first DESC LIMIT 1",
    )?;
    let mut update = conn.prepare_cached(
        "UPDATE user_directory SET data = ?2, users = ?3, records = ?4, first = ?5 WHERE id = ?1",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM user_directory WHERE id = ?1")?;
    // Both are in key order: within a row, one merge.
    let mut doomed = keys.iter().map(str::as_bytes).peekable();
    let mut kept = Vec::new();
    let mut last_row = None;
    while let Some(&next) = doomed.peek() {
        // Bound as text: SQLite orders every text before every blob.
        let next = std::str::from_utf8(next).map_err(|_| corrupt("user ID"))?;
        let found: Option<(i64, Vec<u8>)> = find
            .query_row(params![dataset_id, next], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((row_id, data)) = found else {
            doomed.next(); // before the first row: not in the directory
            continue;
        };
        if last_row == Some(row_id) {
            doomed.next(); // past the row's last user, before the next row: not there
            continue;
        }
        last_row = Some(row_id);
        kept.clear();
        let (mut users, mut records, mut dropped) = (0i64, 0i64, false);
        let mut first: Option<String> = None;
        for entry in Entries::new(&data) {
            let (k, n) = entry?;
            while doomed.next_if(|d| *d < k).is_some() {}
            if doomed.next_if(|d| *d == k).is_some() {
                dropped = true;
                continue;
            }
            if first.is_none() {
                first = Some(String::from_utf8(k.to_vec()).map_err(|_| corrupt("user ID"))?);
            }
            put_varint(&mut kept, k.len() as u64);
            kept.extend_from_slice(k);
            put_varint(&mut kept, n);
            users += 1;
            records += n as i64;
        }
        match (dropped, first) {
            (false, _) => {}
            (true, None) => {
                delete.execute(params![row_id])?;
            }
            (true, Some(first)) => {
                update.execute(params![row_id, kept, users, records, first])?;
            }
        }
    }
    Ok(())
}

/// Builds a dataset's directory from its packed table (migration 8).
pub(super) fn build(conn: &Connection, dataset_id: i64) -> DbResult<()> {
    clear(conn, dataset_id)?;
    let mut writer = DirectoryWriter::new(conn, dataset_id)?;
    let mut stmt = conn.prepare(&format!("SELECT k, n FROM records_{dataset_id} ORDER BY k"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let k = r.get_ref(0)?.as_str()?;
        let n: i64 = r.get(1)?;
        writer.push(k.as_bytes(), n as u64)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATION_8).unwrap();
        c
    }

    fn all(c: &Connection, id: i64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for_each_row(c, id, |data| {
            for e in Entries::new(data) {
                let (k, n) = e?;
                out.push((String::from_utf8(k.to_vec()).unwrap(), n));
            }
            Ok(true)
        })
        .unwrap();
        out
    }

    fn rows(c: &Connection, id: i64) -> i64 {
        c.query_row(
            "SELECT count(*) FROM user_directory WHERE dataset_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn updates_merge_into_the_rows_they_fall_in_and_split_them() {
        let c = conn();
        let ids: Vec<(String, u64)> = (0..10_000).map(|i| (format!("u{i:05}"), 2)).collect();
        apply(&c, 1, &ids).unwrap();
        assert_eq!(rows(&c, 1) as usize, 10_000usize.div_ceil(CHUNK_USERS));
        assert_eq!(total(&c, 1).unwrap(), 20_000);
        // Another dataset's directory is apart.
        apply(&c, 2, &[("u00001".into(), 5)]).unwrap();
        // Replacements, new users before the first, in the middle, past the end.
        let mut updates: Vec<(String, u64)> = vec![("a".into(), 1), ("u00005".into(), 7)];
        updates.extend((0..5_000).map(|i| (format!("u05000x{i:04}"), 1)));
        updates.push(("z".into(), 3));
        updates.sort();
        apply(&c, 1, &updates).unwrap();
        let got = all(&c, 1);
        let mut want: Vec<(String, u64)> = ids;
        want[5].1 = 7;
        want.extend(updates.iter().filter(|(k, _)| k != "u00005").cloned());
        want.sort();
        assert_eq!(got, want);
        assert_eq!(
            total(&c, 1).unwrap(),
            want.iter().map(|(_, n)| n).sum::<u64>()
        );
        assert!(rows(&c, 1) >= 4, "the grown row was split");
        assert_eq!(all(&c, 2), vec![("u00001".to_string(), 5)]);
    }

    #[test]
    fn a_tombstone_counts_each_users_records_once_and_remove_drops_them() {
        let c = conn();
        let ids: Vec<(String, u64)> = (0..9_000)
            .map(|i| (format!("u{i:04}"), i % 3 + 1))
            .collect();
        apply(&c, 1, &ids).unwrap();
        let gone: UserIds = ["u0001", "u0002", "nobody", "u8999"].into_iter().collect();
        let t = tombstone(&c, 1, &gone).unwrap();
        assert_eq!((t.users, t.records), (3, 2 + 3 + 3));
        assert_eq!(tombstoned_records(&c, 1).unwrap(), 8);
        // A second purge of the same users finds nothing left.
        let again: UserIds = ["u0002", "u0003"].into_iter().collect();
        let t = tombstone(&c, 1, &again).unwrap();
        assert_eq!((t.users, t.records), (1, 1));
        let hidden = tombstoned(&c, 1).unwrap();
        assert_eq!(
            hidden.iter().collect::<Vec<_>>(),
            ["u0001", "u0002", "u0003", "u8999"]
        );
        remove(&c, 1, &hidden).unwrap();
        let left = all(&c, 1);
        assert_eq!(left.len(), 9_000 - 4);
        assert!(left.iter().all(|(k, _)| !hidden.contains(k)));
        assert_eq!(left[0].0, "u0000");
        assert_eq!(left[1].0, "u0004");
    }
}
