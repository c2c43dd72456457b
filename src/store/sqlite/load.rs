//! Loads: a dataset's new records in one immediate transaction, with the job's `Succeeded`
//! in the same commit when a job loads them.
//!
//! Every row is received (an S3 download, a parse) before the write lock is taken, so the
//! lock is held to write, never to wait for the network: the rows of a user-bearing dataset
//! are sorted by user into runs on disk first ([`crate::store::packing::sort`]), the others
//! staged ([`crate::store::stage`]); only the merge into the table and the commit hold the
//! lock.

use futures::stream::BoxStream;
use rusqlite::{params, Transaction, TransactionBehavior};

use super::catalog::{create_records_table, key_index, require_dataset};
use super::{compact, jobs, packed, puts, SqliteStore};
use crate::store::packing::{self, Sorted};
use crate::store::{
    failpoint, stage, DatasetType, JobCommit, LoadMode, RowBatch, StoreError, StoreResult,
};

impl SqliteStore {
    /// A load in one immediate transaction, with the job's end when there is one.
    pub(super) async fn load(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
        mode: LoadMode,
        commit: Option<JobCommit>,
    ) -> StoreResult<u64> {
        let started = std::time::Instant::now();
        let group = group_arn.to_owned();
        let (_, read_columns) = self
            .with_reader(move |conn| require_dataset(conn, &group, dataset_type))
            .await?;
        let (mut sorted, mut staged) = (None, None);
        if dataset_type.holds_users() {
            let key = key_index(dataset_type, &read_columns);
            sorted = Some(sort_outside(batches, read_columns.len(), key).await?);
        } else {
            let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
            staged = Some(stage::stage(dir, batches).await?);
        }
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "received the rows"
        );
        let group_arn = group_arn.to_owned();
        self.with_large_write(move |conn| {
            let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(c) = &commit {
                jobs::check_held(&txn, &c.lease)?;
            }
            let (id, columns) = require_dataset(&txn, &group_arn, dataset_type)?;
            if columns != read_columns {
                return Err(StoreError::Invalid(format!(
                    "the {dataset_type} dataset's columns changed while its rows were read; load them again"
                )));
            }
            let width = columns.len();
            // A full load keeps the records put one by one: it drops the others, then
            // appends. Sequence numbers go on from the last put's, never reused.
            let put = mode == LoadMode::Put;
            let puts = puts::ranges(&txn, id)?;
            let mode = match mode {
                LoadMode::Replace if !puts.is_empty() => {
                    if dataset_type.holds_users() {
                        compact::compact_dataset(&txn, id)?;
                        puts::drop_bulk_packed(
                            &txn,
                            &packed_table(id, dataset_type, &columns),
                            &puts,
                        )?;
                    } else {
                        puts::drop_bulk_rows(&txn, id)?;
                    }
                    LoadMode::Append
                }
                LoadMode::Replace => LoadMode::Replace,
                LoadMode::Append | LoadMode::Put => LoadMode::Append,
            };
            if dataset_type.holds_users() {
                // Tombstones hide users' earlier records only: they are erased before
                // new records come in.
                if mode == LoadMode::Append {
                    compact::compact_dataset(&txn, id)?;
                }
                let first_seq: i64 = match mode {
                    LoadMode::Replace => 0,
                    _ => txn.query_row(
                        "SELECT next_seq FROM datasets WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )?,
                };
                let table = packed_table(id, dataset_type, &columns);
                let sorted = sorted.ok_or_else(|| StoreError::Invalid("rows not sorted".into()))?;
                let last = packed::load(&txn, &table, mode, first_seq as u64, sorted)?;
                txn.execute(
                    "UPDATE datasets SET next_seq = ?2 WHERE id = ?1",
                    params![id, last as i64],
                )?;
                if put {
                    puts::note(&txn, id, first_seq as u64 + 1, last)?;
                }
                commit_load(txn, commit)?;
                return Ok(last - first_seq as u64);
            }
            // Items and Actions: rows are staged, then copied over (replacing those of ids
            // loaded again, for an incremental load).
            let cols: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            let cols = cols.join(", ");
            txn.execute_batch(&format!(
                "DROP TABLE IF EXISTS temp.staging;
                 CREATE TEMP TABLE staging (seq INTEGER PRIMARY KEY, {cols});"
            ))?;
            let placeholders: Vec<String> = (1..=width + 1).map(|i| format!("?{i}")).collect();
            // New rows continue the dataset's load order.
            let first_seq: i64 = match mode {
                LoadMode::Replace => 0,
                _ => {
                    let max: i64 = txn.query_row(
                        &format!("SELECT coalesce(max(seq), 0) FROM records_{id}"),
                        [],
                        |r| r.get(0),
                    )?;
                    max.max(puts.last() as i64)
                }
            };
            let mut seq = first_seq;
            let started = std::time::Instant::now();
            {
                let mut insert = txn.prepare(&format!(
                    "INSERT INTO temp.staging (seq, {cols}) VALUES ({})",
                    placeholders.join(", ")
                ))?;
                for batch in staged.iter_mut().flatten() {
                    // An error reading the staged rows drops `txn`: rolled back.
                    let batch = batch?;
                    batch.check_width(width)?;
                    for i in 0..batch.rows() {
                        seq += 1;
                        insert.raw_bind_parameter(1, seq)?;
                        for (j, v) in batch.row(i).enumerate() {
                            insert.raw_bind_parameter(j + 2, v)?;
                        }
                        insert.raw_execute()?;
                    }
                }
            }
            tracing::debug!(
                rows = seq - first_seq,
                seconds = started.elapsed().as_secs_f64(),
                "staged"
            );
            let started = std::time::Instant::now();
            let k = key_index(dataset_type, &columns);
            let mut rows = "temp.staging".to_owned();
            match mode {
                LoadMode::Replace => {
                    txn.execute_batch(&format!("DROP TABLE records_{id}"))?;
                    create_records_table(&txn, id, dataset_type, &columns)?;
                }
                LoadMode::Append | LoadMode::Put if dataset_type.keyed_by_id() => {
                    // The last row of an id replaces the stored record and earlier rows.
                    txn.execute_batch(&format!(
                        "CREATE INDEX IF NOT EXISTS records_{id}_key ON records_{id} (c{k})"
                    ))?;
                    txn.execute_batch(&format!(
                        "DELETE FROM records_{id} WHERE c{k} IN (SELECT c{k} FROM temp.staging)"
                    ))?;
                    rows = format!(
                        "(SELECT * FROM temp.staging WHERE seq IN
                           (SELECT max(seq) FROM temp.staging GROUP BY c{k}))"
                    );
                }
                LoadMode::Append | LoadMode::Put => {}
            }
            txn.execute_batch(&format!(
                "INSERT INTO records_{id} (seq, {cols}) SELECT seq, {cols} FROM {rows} ORDER BY seq;
                 DROP TABLE temp.staging;"
            ))?;
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "copied in key order"
            );
            if put {
                puts::note(&txn, id, first_seq as u64 + 1, seq as u64)?;
            }
            commit_load(txn, commit)?;
            Ok((seq - first_seq) as u64)
        })
        .await
    }
}

/// Sorts every row of `batches` by user on a blocking thread as they arrive
/// ([`packing::sort`]); the stream's first error, with nothing kept.
async fn sort_outside(
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
    width: usize,
    key: usize,
) -> StoreResult<Sorted> {
    use futures::StreamExt;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<StoreResult<RowBatch>>(4);
    let sorter =
        tokio::task::spawn_blocking(move || packing::sort(|| rx.blocking_recv(), width, key));
    while let Some(item) = batches.next().await {
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            break;
        }
    }
    drop(tx);
    sorter
        .await
        .map_err(|e| StoreError::Invalid(format!("the sort stopped: {e}")))?
}

/// Writes the job's end (if any) into the load's transaction and commits both. The
/// failpoints on either side of the commit let crash tests stop the process there.
fn commit_load(txn: Transaction<'_>, commit: Option<JobCommit>) -> StoreResult<()> {
    if let Some(c) = commit {
        jobs::write_final(&txn, &c.job.succeeded(None), &c.lease)?;
    }
    failpoint("load-before-commit");
    let started = std::time::Instant::now();
    txn.commit()?;
    failpoint("load-after-commit");
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "committed the load"
    );
    Ok(())
}

fn packed_table(id: i64, dataset_type: DatasetType, columns: &[String]) -> packed::Table {
    packed::Table {
        id,
        key: key_index(dataset_type, columns),
        width: columns.len(),
        keyed_by_id: dataset_type.keyed_by_id(),
    }
}
