//! Reads of a dataset's records: counts, all of them (small datasets), and streamed scans.

use std::path::PathBuf;

use futures::stream::{BoxStream, StreamExt};
use rusqlite::{Connection, OptionalExtension};

use super::catalog::{key_index, require_dataset};
use super::{directory, packed, puts, DbResult};
use crate::store::packing::decode;
use crate::store::{DatasetType, Ingestion, Keyed, RowBatch, StoreResult};

/// How many records a dataset holds.
pub(super) fn count(
    conn: &Connection,
    group_arn: &str,
    dataset_type: DatasetType,
) -> DbResult<u64> {
    let (id, _) = require_dataset(conn, group_arn, dataset_type)?;
    if dataset_type.holds_users() {
        return packed::count(conn, id);
    }
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM records_{id}"), [], |r| {
        r.get(0)
    })?;
    Ok(n as u64)
}

/// Every record of a dataset, in load order.
pub(super) fn all(
    conn: &Connection,
    group_arn: &str,
    dataset_type: DatasetType,
) -> DbResult<Vec<Vec<String>>> {
    let (id, columns) = require_dataset(conn, group_arn, dataset_type)?;
    if dataset_type.holds_users() {
        let key = key_index(dataset_type, &columns);
        return packed::records(conn, id, columns.len(), key);
    }
    let cols: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM records_{id} ORDER BY seq",
        cols.join(", ")
    ))?;
    let rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                .collect()
        })?
        .collect::<Result<Vec<Vec<String>>, _>>()?;
    Ok(rows)
}

/// The records of `keys`, each key's in load order, through the key's index; a tombstoned
/// user's left out.
pub(super) fn of_keys(
    conn: &Connection,
    group_arn: &str,
    dataset_type: DatasetType,
    keys: &[String],
) -> DbResult<Keyed> {
    let (id, columns) = require_dataset(conn, group_arn, dataset_type)?;
    let (width, key) = (columns.len(), key_index(dataset_type, &columns));
    let mut out = Vec::new();
    if dataset_type.holds_users() {
        let hidden = directory::tombstoned_if_any(conn, id)?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT rows FROM records_{id} WHERE k = ?1"))?;
        for k in keys {
            if hidden.as_ref().is_some_and(|h| h.contains(k)) {
                continue;
            }
            let blob: Option<Vec<u8>> = stmt.query_row([k], |r| r.get(0)).optional()?;
            if let Some(blob) = blob {
                out.extend(decode(k, &blob, width, key)?.into_iter().map(|(_, r)| r));
            }
        }
        return Ok(Keyed { columns, rows: out });
    }
    let cols: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM records_{id} WHERE c{key} = ?1 ORDER BY seq",
        cols.join(", ")
    ))?;
    for k in keys {
        let rows = stmt.query_map([k], |r| {
            (0..width)
                .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                .collect()
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(Keyed { columns, rows: out })
}

/// Every record of a dataset in batches, read by a connection of its own.
pub(super) fn scan(
    path: PathBuf,
    group_arn: &str,
    dataset_type: DatasetType,
    batch_rows: usize,
    which: Ingestion,
) -> BoxStream<'static, StoreResult<RowBatch>> {
    // A connection of its own: in WAL mode it reads one snapshot while the store's
    // connection goes on writing, and the reader waits for its consumer, not the store.
    let (tx, rx) = tokio::sync::mpsc::channel::<StoreResult<RowBatch>>(2);
    let group_arn = group_arn.to_owned();
    let batch_rows = batch_rows.max(1);
    tokio::task::spawn_blocking(move || {
        let scan = || -> DbResult<()> {
            let mut conn = super::conn::read_only(&path)?;
            // Sorting a clustered table back into load order spills to disk, not memory.
            conn.execute_batch("PRAGMA temp_store = FILE;")?;
            let txn = conn.transaction()?;
            let (id, columns) = require_dataset(&txn, &group_arn, dataset_type)?;
            let width = columns.len();
            let puts = puts::ranges(&txn, id)?;
            let taken = |seq: u64| which.takes(puts.contains(seq));
            if dataset_type.holds_users() {
                // Users in key order, each user's records in load order.
                let key = key_index(dataset_type, &columns);
                let mut batch = RowBatch::new(width);
                let mut stopped = false;
                packed::scan(&txn, id, width, key, |seq, row| {
                    if !taken(seq) {
                        return Ok(true);
                    }
                    batch.push_row(row.iter().map(String::as_str));
                    if batch.rows() >= batch_rows {
                        let full = std::mem::replace(&mut batch, RowBatch::new(width));
                        stopped = tx.blocking_send(Ok(full)).is_err();
                    }
                    Ok(!stopped)
                })?;
                if batch.rows() > 0 && !stopped {
                    let _ = tx.blocking_send(Ok(batch));
                }
                return Ok(());
            }
            let cols: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            let mut stmt = txn.prepare(&format!(
                "SELECT seq, {} FROM records_{id} ORDER BY seq",
                cols.join(", ")
            ))?;
            let mut rows = stmt.query([])?;
            let mut batch = RowBatch::new(width);
            while let Some(row) = rows.next()? {
                if !taken(row.get::<_, i64>(0)? as u64) {
                    continue;
                }
                for i in 0..width {
                    let v: Option<String> = row.get(i + 1)?;
                    batch.push_value(v.as_deref().unwrap_or(""));
                }
                if batch.rows() >= batch_rows {
                    let full = std::mem::replace(&mut batch, RowBatch::new(width));
                    if tx.blocking_send(Ok(full)).is_err() {
                        return Ok(()); // the consumer stopped
                    }
                }
            }
            if batch.rows() > 0 {
                let _ = tx.blocking_send(Ok(batch));
            }
            Ok(())
        };
        if let Err(e) = scan() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) }).boxed()
}
