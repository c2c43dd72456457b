//! Packed records: one user's records in one value (a SQLite blob, a PostgreSQL `bytea`),
//! each record its load sequence number and its values but the user ID, as varint-length-
//! prefixed bytes; concatenating two packed values appends records. Loads sort the records
//! by user outside the database ([`super::sort`], bounded memory) and group them as they come
//! out ([`sort_and_group`]). Shared by the SQL backends.

use super::sort::{read_varint, write_varint, Sorter, RUN_BYTES};
use super::{RowBatch, StoreError, StoreResult};

fn corrupt_io(e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("packed records are corrupt: {e}"))
}

/// Appends one record to a packed blob: its sequence number, then every value but the key.
pub(in crate::store) fn encode<'a>(
    buf: &mut Vec<u8>,
    seq: u64,
    key: usize,
    values: impl Iterator<Item = &'a str>,
) {
    let _ = write_varint(buf, seq);
    for (i, v) in values.enumerate() {
        if i != key {
            let _ = write_varint(buf, v.len() as u64);
            buf.extend_from_slice(v.as_bytes());
        }
    }
}

/// Re-encodes one user's blob into `out`, emptied first: only the records whose sequence
/// number `keep` takes, and with `to` their values moved to new columns (for each, the old
/// column holding its values, [`super::column_map`]) with the key at the given position.
/// Returns how many records `out` holds.
pub(in crate::store) fn rewrite(
    k: &str,
    blob: &[u8],
    (width, key): (usize, usize),
    out: &mut Vec<u8>,
    keep: impl Fn(u64) -> bool,
    to: Option<(&[Option<usize>], usize)>,
) -> StoreResult<u64> {
    out.clear();
    let mut n = 0;
    for (seq, row) in decode(k, blob, width, key)? {
        if !keep(seq) {
            continue;
        }
        match to {
            None => encode(out, seq, key, row.iter().map(String::as_str)),
            Some((map, new_key)) => encode(out, seq, new_key, super::remap(map, &row)),
        }
        n += 1;
    }
    Ok(n)
}

/// The records of one user's blob: `(sequence number, values with the key in place)`.
pub(in crate::store) fn decode(
    k: &str,
    blob: &[u8],
    width: usize,
    key: usize,
) -> StoreResult<Vec<(u64, Vec<String>)>> {
    let corrupt = || StoreError::Invalid(format!("the packed records of {k:?} are corrupt"));
    let mut input = blob;
    let mut out = Vec::new();
    while !input.is_empty() {
        let seq = read_varint(&mut input)
            .map_err(corrupt_io)?
            .ok_or_else(corrupt)?;
        let mut row = Vec::with_capacity(width);
        for i in 0..width {
            if i == key {
                row.push(k.to_owned());
                continue;
            }
            let len = read_varint(&mut input)
                .map_err(corrupt_io)?
                .ok_or_else(corrupt)? as usize;
            if len > input.len() {
                return Err(corrupt());
            }
            let (v, rest) = input.split_at(len);
            row.push(String::from_utf8(v.to_vec()).map_err(|_| corrupt())?);
            input = rest;
        }
        out.push((seq, row));
    }
    Ok(out)
}

/// Gathers the sorted `(key, count, records)` calls of one key and hands each key's records
/// to `flush(key, count, records)`.
pub(in crate::store) struct Grouper<F> {
    pub(in crate::store) key: Vec<u8>,
    pub(in crate::store) blob: Vec<u8>,
    pub(in crate::store) n: i64,
    pub(in crate::store) flush: F,
}

impl<F: FnMut(&str, i64, &[u8]) -> StoreResult<()>> Grouper<F> {
    pub(in crate::store) fn push(&mut self, key: &[u8], n: u64, recs: &[u8]) -> StoreResult<()> {
        if self.n > 0 && key != self.key.as_slice() {
            self.done()?;
        }
        if self.n == 0 {
            self.key.clear();
            self.key.extend_from_slice(key);
        }
        self.blob.extend_from_slice(recs);
        self.n += n as i64;
        Ok(())
    }

    /// Flushes the key in progress.
    pub(in crate::store) fn done(&mut self) -> StoreResult<()> {
        if self.n > 0 {
            let key = std::str::from_utf8(&self.key)
                .map_err(|_| StoreError::Invalid("a user ID is not UTF-8".into()))?;
            (self.flush)(key, self.n, &self.blob)?;
        }
        self.blob.clear();
        self.n = 0;
        Ok(())
    }
}

/// The last record of a packed blob whose records have `width - 1` values each.
pub(in crate::store) fn last_record(blob: &[u8], width: usize) -> StoreResult<&[u8]> {
    let corrupt = || StoreError::Invalid("packed records are corrupt".into());
    let mut input = blob;
    let mut last = blob;
    while !input.is_empty() {
        last = input;
        read_varint(&mut input)
            .map_err(corrupt_io)?
            .ok_or_else(corrupt)?;
        for _ in 1..width {
            let len = read_varint(&mut input)
                .map_err(corrupt_io)?
                .ok_or_else(corrupt)? as usize;
            input = input.get(len..).ok_or_else(corrupt)?;
        }
    }
    Ok(last)
}

/// Users handed from the merging thread to the inserting one at a time.
const MERGE_BATCH: usize = 4096;

/// Users in key order with their packed records, as [`sort_and_group`] hands them over:
/// `(user ID, record count, packed records)`.
pub(in crate::store) type UserBatch = Vec<(String, i64, Vec<u8>)>;

/// Sorts the rows of `next_batch` by their key column (an external sort: memory bounded
/// whatever the row count), numbering them from `first_seq + 1` in arrival order, and hands
/// the users, in key order, each with its packed records in load order, to `sink` in batches.
/// The merge of the sorted runs runs on a thread of its own while `sink` runs on this one.
/// Returns the last sequence number used.
pub(in crate::store) fn sort_and_group(
    next_batch: impl FnMut() -> Option<StoreResult<RowBatch>>,
    width: usize,
    key: usize,
    first_seq: u64,
    sink: impl FnMut(UserBatch) -> StoreResult<()>,
) -> StoreResult<u64> {
    sort(next_batch, width, key)?.group(first_seq, sink)
}

/// Rows sorted by their key into runs, numbered from 1 in arrival order, waiting to be
/// grouped by user ([`Sorted::group`]): the first half of [`sort_and_group`], which needs no
/// database, so that a load can do it before it takes a write lock.
#[derive(Debug)]
pub(in crate::store) struct Sorted {
    sorter: Sorter,
    rows: u64,
}

/// Sorts the rows of `next_batch` by their key column ([`sort_and_group`]'s first half).
pub(in crate::store) fn sort(
    mut next_batch: impl FnMut() -> Option<StoreResult<RowBatch>>,
    width: usize,
    key: usize,
) -> StoreResult<Sorted> {
    let started = std::time::Instant::now();
    let mut sorter = Sorter::new(RUN_BYTES);
    let mut rec = Vec::new();
    let mut seq = 0;
    while let Some(batch) = next_batch() {
        let batch = batch?;
        batch.check_width(width)?;
        for i in 0..batch.rows() {
            seq += 1;
            rec.clear();
            encode(&mut rec, seq, key, batch.row(i));
            let k = batch.row(i).nth(key).unwrap_or_default();
            sorter.push(k.as_bytes(), &rec)?;
        }
    }
    tracing::debug!(
        rows = seq,
        seconds = started.elapsed().as_secs_f64(),
        "sorted into runs"
    );
    Ok(Sorted { sorter, rows: seq })
}

impl Sorted {
    /// Hands the users, in key order, each with its packed records in load order, to `sink`
    /// in batches, every record's sequence number moved on by `first_seq` ([`sort_and_group`]'s
    /// second half). Returns the last sequence number.
    pub(in crate::store) fn group(
        self,
        first_seq: u64,
        mut sink: impl FnMut(UserBatch) -> StoreResult<()>,
    ) -> StoreResult<u64> {
        let Sorted { sorter, rows } = self;
        let (tx, rx) = std::sync::mpsc::sync_channel::<UserBatch>(8);
        let merger = std::thread::spawn(move || -> StoreResult<()> {
            let mut users = Vec::with_capacity(MERGE_BATCH);
            let mut grouper = Grouper {
                key: Vec::new(),
                blob: Vec::new(),
                n: 0,
                flush: |k: &str, n: i64, all: &[u8]| -> StoreResult<()> {
                    users.push((k.to_owned(), n, all.to_vec()));
                    if users.len() >= MERGE_BATCH {
                        let full = std::mem::replace(&mut users, Vec::with_capacity(MERGE_BATCH));
                        tx.send(full)
                            .map_err(|_| StoreError::Invalid("the load stopped".into()))?;
                    }
                    Ok(())
                },
            };
            let mut moved = Vec::new();
            sorter.finish(|k, n, rec| {
                if first_seq == 0 {
                    return grouper.push(k, n, rec);
                }
                // One record: its sequence number first, then its values as they are.
                let mut rest = rec;
                let seq = read_varint(&mut rest).map_err(corrupt_io)?.unwrap_or(0);
                moved.clear();
                let _ = write_varint(&mut moved, seq + first_seq);
                moved.extend_from_slice(rest);
                grouper.push(k, n, &moved)
            })?;
            grouper.done()?;
            drop(grouper);
            if !users.is_empty() {
                let _ = tx.send(users);
            }
            Ok(())
        });
        let mut stored: StoreResult<()> = Ok(());
        for users in rx {
            if let Err(e) = sink(users) {
                stored = Err(e);
                break; // dropping the receiver stops the merger
            }
        }
        let merged = merger
            .join()
            .map_err(|_| StoreError::Invalid("the thread merging the runs panicked".into()))?;
        stored?;
        merged?;
        Ok(first_seq + rows)
    }
}
