//! Records in PostgreSQL: loads streamed through binary `COPY`, counts, reads and scans.
//!
//! User-bearing datasets (Users, Interactions, Action_Interactions) keep ONE row per user in
//! `user_records (dataset_id, key, n, rows)`: the user's `n` records packed in `rows`
//! ([`crate::store::packing`]), so that a purge deletes one row per user. A load sorts the
//! records by user outside the database (an external sort on a blocking thread, bounded
//! memory) and copies the users in key order. Items and Actions keep one row per record in
//! `records (dataset_id, seq, key, vals)`: `seq` the load order, `key` the item or action id,
//! `vals` the values in the dataset's column order. Empty values are null.

use deadpool_postgres::{Object, Pool};
use futures::stream::{BoxStream, StreamExt};
use futures::SinkExt;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::catalog::require_dataset;
use super::{jobs, DbResult};
use crate::store::origin::PutRanges;
use crate::store::packing::{decode, encode, last_record, rewrite, sort_and_group, UserBatch};
use crate::store::{
    DatasetType, Ingestion, JobCommit, LoadMode, RowBatch, StoreError, StoreResult,
};

pub(super) fn key_index(t: DatasetType, columns: &[String]) -> usize {
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
    batches: BoxStream<'static, StoreResult<RowBatch>>,
    commit: Option<JobCommit>,
) -> StoreResult<u64> {
    let mut batches = batches;
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
    // A full load keeps the records put one by one: it drops the others, then appends.
    // Sequence numbers go on from the dataset's last, never reused.
    let put = mode == LoadMode::Put;
    let puts = put_ranges(&*tx, id).await?;
    let mode = match mode {
        LoadMode::Replace if !puts.is_empty() => {
            drop_bulk(&tx, id, t, key, width, &puts).await?;
            LoadMode::Append
        }
        LoadMode::Replace => LoadMode::Replace,
        LoadMode::Append | LoadMode::Put => LoadMode::Append,
    };
    let (first, last) = if put && t.holds_users() {
        put_users(&tx, id, t, key, width, next, batches).await?
    } else if t.holds_users() {
        load_users(&tx, id, t, mode, key, width, next, batches).await?
    } else {
        load_rows(&tx, id, t, mode, key, width, next, &mut batches).await?
    };
    tx.execute(
        "UPDATE datasets SET next_seq = $2 WHERE id = $1",
        &[&id, &last],
    )
    .await?;
    if put && last > first {
        // The last run grows when this one continues it.
        let grown = tx
            .execute(
                "UPDATE put_ranges SET last = $3 WHERE dataset_id = $1 AND last = $2",
                &[&id, &first, &last],
            )
            .await?;
        if grown == 0 {
            tx.execute(
                "INSERT INTO put_ranges (dataset_id, first, last) VALUES ($1, $2, $3)",
                &[&id, &(first + 1), &last],
            )
            .await?;
        }
    }
    if let Some(c) = commit {
        jobs::write_final(&*tx, &c.job.succeeded(None), &c.lease).await?;
    }
    crate::store::failpoint("load-before-commit");
    tx.commit().await?;
    crate::store::failpoint("load-after-commit");
    if t.holds_users() && !put {
        // The purge plans by the table's row count (`purge::plan`), which autovacuum may not
        // have caught up with yet. After the commit, and cheap: 300 rows sampled, none of
        // their keys or records kept (`purge::MIGRATION_5`, `erase::MIGRATION_4`).
        if let Err(e) = client.batch_execute("ANALYZE user_records").await {
            tracing::warn!(error = %e, "could not analyze user_records after the load");
        }
    }
    Ok((last - first) as u64)
}

/// Loads one row per record (Items, Actions); returns the first and last sequence numbers.
#[allow(clippy::too_many_arguments)]
async fn load_rows(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    t: DatasetType,
    mode: LoadMode,
    key: usize,
    width: usize,
    next: i64,
    batches: &mut BoxStream<'static, StoreResult<RowBatch>>,
) -> DbResult<(i64, i64)> {
    Ok(match mode {
        LoadMode::Replace => {
            tx.execute("DELETE FROM records WHERE dataset_id = $1", &[&id])
                .await?;
            (
                0,
                copy_rows(tx, "records", id, key, width, 0, batches).await?,
            )
        }
        LoadMode::Append | LoadMode::Put if t.keyed_by_id() => {
            // Staged, then the last row of each id replaces what the dataset held for it.
            tx.batch_execute(
                "CREATE TEMP TABLE staging (dataset_id BIGINT, seq BIGINT, key TEXT COLLATE \"C\",
                                            vals TEXT[]) ON COMMIT DROP",
            )
            .await?;
            let last = copy_rows(tx, "staging", id, key, width, next, batches).await?;
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
        LoadMode::Append | LoadMode::Put => (
            next,
            copy_rows(tx, "records", id, key, width, next, batches).await?,
        ),
    })
}

/// Adds records put one by one to a user-bearing dataset: a handful of rows (one group
/// commit's), packed per user here and merged into `user_records` in one statement, without
/// the staging table and `COPY` of a bulk load. Returns the first and last sequence numbers.
async fn put_users(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    t: DatasetType,
    key: usize,
    width: usize,
    next: i64,
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
) -> DbResult<(i64, i64)> {
    let mut users: std::collections::BTreeMap<String, (i32, Vec<u8>)> = Default::default();
    let mut seq = next;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        batch.check_width(width)?;
        for i in 0..batch.rows() {
            seq += 1;
            let k = batch.row(i).nth(key).unwrap_or_default().to_owned();
            let (n, blob) = users.entry(k).or_default();
            // One record per id in a Users dataset: the last one.
            if t.keyed_by_id() {
                blob.clear();
                *n = 0;
            }
            encode(blob, seq as u64, key, batch.row(i));
            *n += 1;
        }
    }
    let merge = if t.keyed_by_id() {
        "n = excluded.n, rows = excluded.rows"
    } else {
        "n = user_records.n + excluded.n, rows = user_records.rows || excluded.rows"
    };
    let (mut keys, mut counts, mut blobs) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (n, blob)) in users {
        keys.push(k);
        counts.push(n);
        blobs.push(blob);
    }
    tx.execute(
        &format!(
            "INSERT INTO user_records (dataset_id, key, n, rows)
             SELECT $1, k, n, r FROM unnest($2::text[], $3::int4[], $4::bytea[]) AS u (k, n, r)
             ON CONFLICT (dataset_id, key) DO UPDATE SET {merge}"
        ),
        &[&id, &keys, &counts, &blobs],
    )
    .await?;
    Ok((next, seq))
}

/// Loads a user-bearing dataset: the rows sorted by user on a blocking thread while this
/// task feeds it and copies the users it hands back; returns the first and last sequence
/// numbers.
#[allow(clippy::too_many_arguments)]
async fn load_users(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    t: DatasetType,
    mode: LoadMode,
    key: usize,
    width: usize,
    next: i64,
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
) -> DbResult<(i64, i64)> {
    let first = match mode {
        LoadMode::Replace => {
            tx.execute("DELETE FROM user_records WHERE dataset_id = $1", &[&id])
                .await?;
            0
        }
        LoadMode::Append | LoadMode::Put => {
            tx.batch_execute(
                "CREATE TEMP TABLE staging_users (dataset_id BIGINT, key TEXT COLLATE \"C\",
                                                  n INTEGER, rows BYTEA) ON COMMIT DROP",
            )
            .await?;
            next
        }
    };
    let target = match mode {
        LoadMode::Replace => "user_records",
        LoadMode::Append | LoadMode::Put => "staging_users",
    };
    // Only the last record of an id replaces what a Users dataset holds for it.
    let keep_last = mode == LoadMode::Append && t.keyed_by_id();
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<StoreResult<RowBatch>>(4);
    let (users_tx, mut users_rx) = tokio::sync::mpsc::channel::<UserBatch>(4);
    let sorter = tokio::task::spawn_blocking(move || {
        sort_and_group(
            || rows_rx.blocking_recv(),
            width,
            key,
            first as u64,
            |users| {
                users_tx
                    .blocking_send(users)
                    .map_err(|_| StoreError::Invalid("the load stopped".into()))
            },
        )
    });
    let feeder = async move {
        while let Some(batch) = batches.next().await {
            let stop = batch.is_err();
            if rows_tx.send(batch).await.is_err() || stop {
                break;
            }
        }
    };
    let copier = async {
        let sink = tx
            .copy_in(&format!(
                "COPY {target} (dataset_id, key, n, rows) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        let writer =
            BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT, Type::INT4, Type::BYTEA]);
        futures::pin_mut!(writer);
        while let Some(users) = users_rx.recv().await {
            for (k, n, all) in &users {
                let (n, all): (i32, &[u8]) = if keep_last {
                    (1, last_record(all, width)?)
                } else {
                    (*n as i32, all)
                };
                let row: [&(dyn ToSql + Sync); 4] = [&id, k, &n, &all];
                writer.as_mut().write(&row).await?;
            }
        }
        writer.finish().await?;
        Ok::<(), StoreError>(())
    };
    let (sorted, (), copied) = tokio::join!(sorter, feeder, copier);
    let last = sorted.map_err(|e| StoreError::Invalid(format!("the sort failed: {e}")))??;
    copied?;
    if mode == LoadMode::Append {
        let merge = if keep_last {
            "n = excluded.n, rows = excluded.rows"
        } else {
            "n = user_records.n + excluded.n, rows = user_records.rows || excluded.rows"
        };
        tx.execute(
            &format!(
                "INSERT INTO user_records (dataset_id, key, n, rows)
                 SELECT dataset_id, key, n, rows FROM staging_users
                 ON CONFLICT (dataset_id, key) DO UPDATE SET {merge}"
            ),
            &[],
        )
        .await?;
    }
    Ok((first, last as i64))
}

/// The runs of sequence numbers of a dataset's records put one by one
/// ([`crate::store::origin`]).
async fn put_ranges(c: &impl GenericClient, id: i64) -> DbResult<PutRanges> {
    let rows = c
        .query(
            "SELECT first, last FROM put_ranges WHERE dataset_id = $1 ORDER BY first",
            &[&id],
        )
        .await?;
    Ok(PutRanges(
        rows.iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
            .collect(),
    ))
}

/// Deletes every record of a dataset but those put one by one.
async fn drop_bulk(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    t: DatasetType,
    key: usize,
    width: usize,
    puts: &PutRanges,
) -> DbResult<()> {
    if !t.holds_users() {
        tx.execute(
            "DELETE FROM records r WHERE r.dataset_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM put_ranges p
                 WHERE p.dataset_id = $1 AND r.seq BETWEEN p.first AND p.last)",
            &[&id],
        )
        .await?;
        return Ok(());
    }
    rewrite_users(tx, id, (width, key), |seq| puts.contains(seq), None).await
}

/// Rewrites every user's packed records ([`rewrite`]), deleting a user none is left of.
async fn rewrite_users(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    shape: (usize, usize),
    keep: impl Fn(u64) -> bool,
    to: Option<(&[Option<usize>], usize)>,
) -> DbResult<()> {
    let rows = tx
        .query(
            "SELECT key, rows FROM user_records WHERE dataset_id = $1",
            &[&id],
        )
        .await?;
    let update = tx
        .prepare("UPDATE user_records SET n = $3, rows = $4 WHERE dataset_id = $1 AND key = $2")
        .await?;
    let delete = tx
        .prepare("DELETE FROM user_records WHERE dataset_id = $1 AND key = $2")
        .await?;
    let mut kept = Vec::new();
    for r in &rows {
        let k: &str = r.get(0);
        match rewrite(k, r.get(1), shape, &mut kept, &keep, to)? {
            0 => tx.execute(&delete, &[&id, &k]).await?,
            n => tx.execute(&update, &[&id, &k, &(n as i32), &kept]).await?,
        };
    }
    Ok(())
}

/// Rewrites a dataset's records for new columns (`map`: for each new column, the old one
/// holding its values).
pub(super) async fn remap(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    t: DatasetType,
    old: &[String],
    new: &[String],
    map: &[Option<usize>],
) -> DbResult<()> {
    if !t.holds_users() {
        // Array elements are 1-based; a new column is empty in every record.
        let values: Vec<String> = map
            .iter()
            .map(|i| i.map_or("''".to_owned(), |i| format!("vals[{}]", i + 1)))
            .collect();
        tx.execute(
            &format!(
                "UPDATE records SET vals = ARRAY[{}]::text[] WHERE dataset_id = $1",
                values.join(", ")
            ),
            &[&id],
        )
        .await?;
        return Ok(());
    }
    let (old_key, new_key) = (key_index(t, old), key_index(t, new));
    rewrite_users(tx, id, (old.len(), old_key), |_| true, Some((map, new_key))).await
}

pub(super) async fn count(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<u64> {
    let (id, _) = require_dataset(c, group_arn, t).await?;
    let sql = if t.holds_users() {
        "SELECT coalesce(sum(n), 0)::bigint FROM user_records WHERE dataset_id = $1"
    } else {
        "SELECT count(*) FROM records WHERE dataset_id = $1"
    };
    let n: i64 = c.query_one(sql, &[&id]).await?.get(0);
    Ok(n as u64)
}

/// In load order.
pub(super) async fn all(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Vec<Vec<String>>> {
    let (id, columns) = require_dataset(c, group_arn, t).await?;
    if t.holds_users() {
        let key = key_index(t, &columns);
        let rows = c
            .query(
                "SELECT key, rows FROM user_records WHERE dataset_id = $1",
                &[&id],
            )
            .await?;
        let mut all = Vec::new();
        for r in &rows {
            all.extend(decode(r.get(0), r.get(1), columns.len(), key)?);
        }
        all.sort_by_key(|(seq, _)| *seq);
        return Ok(all.into_iter().map(|(_, row)| row).collect());
    }
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
    which: Ingestion,
) -> BoxStream<'static, StoreResult<RowBatch>> {
    let (tx, rx) = futures::channel::mpsc::channel::<StoreResult<RowBatch>>(2);
    let group_arn = group_arn.to_owned();
    let batch_rows = batch_rows.max(1);
    tokio::spawn(async move {
        let mut out = tx;
        let scanned = async {
            let mut client = pool.get().await?;
            let txn = client.transaction().await?;
            let (id, columns) = require_dataset(&*txn, &group_arn, t).await?;
            let width = columns.len();
            let puts = put_ranges(&*txn, id).await?;
            let taken = |seq: u64| which.takes(puts.contains(seq));
            let sql = if t.holds_users() {
                "SELECT key, rows FROM user_records WHERE dataset_id = $1 ORDER BY key"
            } else {
                "SELECT seq, vals FROM records WHERE dataset_id = $1 ORDER BY seq"
            };
            let stmt = txn.prepare(sql).await?;
            let portal = txn.bind(&stmt, &[&id]).await?;
            let key = key_index(t, &columns);
            let mut batch = RowBatch::new(width);
            loop {
                // Users come a few hundred at a time; each may hold many records.
                let fetch = if t.holds_users() {
                    512
                } else {
                    batch_rows as i32
                };
                let rows = txn.query_portal(&portal, fetch).await?;
                for r in &rows {
                    let records: Vec<Vec<String>> = if t.holds_users() {
                        decode(r.get(0), r.get(1), width, key)?
                            .into_iter()
                            .filter(|(seq, _)| taken(*seq))
                            .map(|(_, row)| row)
                            .collect()
                    } else if taken(r.get::<_, i64>(0) as u64) {
                        vec![r.get::<_, Vec<String>>(1)]
                    } else {
                        Vec::new()
                    };
                    for row in records {
                        batch.push_row(row.iter().map(String::as_str));
                        if batch.rows() >= batch_rows {
                            let full = std::mem::replace(&mut batch, RowBatch::new(width));
                            if out.send(Ok(full)).await.is_err() {
                                return Ok(()); // the consumer stopped
                            }
                        }
                    }
                }
                if rows.is_empty() {
                    if batch.rows() > 0 {
                        let _ = out.send(Ok(batch)).await;
                    }
                    return Ok::<(), StoreError>(());
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
