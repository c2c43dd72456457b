//! Records in PostgreSQL: loads streamed through binary `COPY`, counts, reads and scans.
//!
//! Every dataset's records live in `records (dataset_id, seq, key, vals)`: `seq` is the load
//! order, `key` the record's key column (`USER_ID` for the types a purge removes, else the
//! item or action id) in byte order, `vals` the values in the dataset's column order, empty
//! for null.

use deadpool_postgres::{Object, Pool};
use futures::stream::{BoxStream, StreamExt};
use futures::SinkExt;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::catalog::require_dataset;
use super::{jobs, DbResult};
use crate::store::{DatasetType, JobCommit, LoadMode, RowBatch, StoreError, StoreResult};

fn key_index(t: DatasetType, columns: &[String]) -> usize {
    columns
        .iter()
        .position(|c| c == t.key_column())
        .unwrap_or(0)
}

/// Streams `batches` into `table` (`(dataset_id, seq, key, vals)`) through one binary COPY,
/// numbering rows from `first_seq + 1`; returns the last number used.
async fn copy_rows(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    dataset_id: i64,
    key: usize,
    width: usize,
    first_seq: i64,
    batches: &mut BoxStream<'static, StoreResult<RowBatch>>,
) -> DbResult<i64> {
    let sink = tx
        .copy_in(&format!(
            "COPY {table} (dataset_id, seq, key, vals) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[Type::INT8, Type::INT8, Type::TEXT, Type::TEXT_ARRAY],
    );
    futures::pin_mut!(writer);
    let mut seq = first_seq;
    while let Some(batch) = batches.next().await {
        // An error from the producer drops the transaction: rolled back.
        let batch = batch?;
        batch.check_width(width)?;
        for i in 0..batch.rows() {
            seq += 1;
            let vals: Vec<&str> = batch.row(i).collect();
            let k = vals.get(key).copied().unwrap_or_default();
            let row: [&(dyn ToSql + Sync); 4] = [&dataset_id, &seq, &k, &vals];
            writer.as_mut().write(&row).await?;
        }
    }
    writer.finish().await?;
    Ok(seq)
}

/// A load in one transaction, with the job's end when there is one.
pub(super) async fn load(
    client: &mut Object,
    group_arn: &str,
    t: DatasetType,
    mode: LoadMode,
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
    commit: Option<JobCommit>,
) -> StoreResult<u64> {
    let tx = client.transaction().await?;
    if let Some(c) = &commit {
        jobs::check_held(&*tx, &c.lease).await?;
    }
    let (id, columns) = require_dataset(&*tx, group_arn, t).await?;
    // The dataset's row is locked for the load: two loads of one dataset run one at a time.
    let next: i64 = tx
        .query_one(
            "SELECT next_seq FROM datasets WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .get(0);
    let key = key_index(t, &columns);
    let width = columns.len();
    let (first, last) = match mode {
        LoadMode::Replace => {
            tx.execute("DELETE FROM records WHERE dataset_id = $1", &[&id])
                .await?;
            (
                0,
                copy_rows(&tx, "records", id, key, width, 0, &mut batches).await?,
            )
        }
        LoadMode::Append if t.keyed_by_id() => {
            // Staged, then the last row of each id replaces what the dataset held for it.
            tx.batch_execute(
                "CREATE TEMP TABLE staging (dataset_id BIGINT, seq BIGINT, key TEXT COLLATE \"C\",
                                            vals TEXT[]) ON COMMIT DROP",
            )
            .await?;
            let last = copy_rows(&tx, "staging", id, key, width, next, &mut batches).await?;
            tx.execute(
                "DELETE FROM records r USING (SELECT DISTINCT key FROM staging) s
                 WHERE r.dataset_id = $1 AND r.key = s.key",
                &[&id],
            )
            .await?;
            tx.execute(
                "INSERT INTO records (dataset_id, seq, key, vals)
                 SELECT DISTINCT ON (key) dataset_id, seq, key, vals FROM staging
                 ORDER BY key, seq DESC",
                &[],
            )
            .await?;
            (next, last)
        }
        LoadMode::Append => (
            next,
            copy_rows(&tx, "records", id, key, width, next, &mut batches).await?,
        ),
    };
    tx.execute(
        "UPDATE datasets SET next_seq = $2 WHERE id = $1",
        &[&id, &last],
    )
    .await?;
    if let Some(c) = commit {
        jobs::write_final(&*tx, &c.job.succeeded(None), &c.lease).await?;
    }
    crate::store::failpoint("load-before-commit");
    tx.commit().await?;
    crate::store::failpoint("load-after-commit");
    Ok((last - first) as u64)
}

pub(super) async fn count(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<u64> {
    let (id, _) = require_dataset(c, group_arn, t).await?;
    let n: i64 = c
        .query_one("SELECT count(*) FROM records WHERE dataset_id = $1", &[&id])
        .await?
        .get(0);
    Ok(n as u64)
}

/// In load order.
pub(super) async fn all(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Vec<Vec<String>>> {
    let (id, _) = require_dataset(c, group_arn, t).await?;
    let rows = c
        .query(
            "SELECT vals FROM records WHERE dataset_id = $1 ORDER BY seq",
            &[&id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Every record in batches through a cursor, read by a pooled connection of its own:
/// user-bearing datasets by user (byte order), each user's records in load order; the other
/// types in load order.
pub(super) fn scan(
    pool: Pool,
    group_arn: &str,
    t: DatasetType,
    batch_rows: usize,
) -> BoxStream<'static, StoreResult<RowBatch>> {
    let (tx, rx) = futures::channel::mpsc::channel::<StoreResult<RowBatch>>(2);
    let group_arn = group_arn.to_owned();
    let batch_rows = batch_rows.max(1) as i32;
    tokio::spawn(async move {
        let mut out = tx;
        let scanned = async {
            let mut client = pool.get().await?;
            let txn = client.transaction().await?;
            let (id, columns) = require_dataset(&*txn, &group_arn, t).await?;
            let order = if t.holds_users() { "key, seq" } else { "seq" };
            let stmt = txn
                .prepare(&format!(
                    "SELECT vals FROM records WHERE dataset_id = $1 ORDER BY {order}"
                ))
                .await?;
            let portal = txn.bind(&stmt, &[&id]).await?;
            loop {
                let rows = txn.query_portal(&portal, batch_rows).await?;
                if rows.is_empty() {
                    return Ok::<(), StoreError>(());
                }
                let mut batch = RowBatch::new(columns.len());
                for r in &rows {
                    let vals: Vec<&str> = r.get(0);
                    batch.push_row(vals);
                }
                if out.send(Ok(batch)).await.is_err() {
                    return Ok(()); // the consumer stopped
                }
            }
        }
        .await;
        if let Err(e) = scanned {
            let _ = out.send(Err(e)).await;
        }
    });
    rx.boxed()
}
