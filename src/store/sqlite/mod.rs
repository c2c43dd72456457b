//! The embedded default store: one SQLite file.
//!
//! Layout, chosen for purging by user: each dataset's records live in a table of their own,
//! `records_{dataset id}`. User-bearing datasets (Users, Interactions, Action_Interactions)
//! keep ONE row per user, its records packed in a blob ([`packed`]): a purge is one B-tree
//! delete per user, and a load sorts the records by user outside SQLite ([`sort`], bounded
//! memory) and inserts the users in key order. Items and Actions are plain rowid tables with
//! positional columns `c0, c1, ...` (the dataset row holds their names). The database runs in
//! WAL mode with `synchronous=FULL`: a committed job is on disk.

mod packed;
mod sort;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    Dataset, DatasetGroup, DatasetStore, DatasetType, FinishJob, PurgeCounts, RowBatch, Schema,
    StoreError, StoreResult, Tags,
};
use crate::deletion::dedupe::UserIdSet;
use crate::export::DatasetExportJob;
use crate::import_job::DatasetImportJob;
use crate::job::DataDeletionJob;

/// The file name of the database inside a data directory.
pub const DB_FILE: &str = "personalize-local.sqlite";

/// Temporary tables (staged loads, staged purge IDs) live in temp files, so their memory is
/// bounded by the page cache, not by their size.
///
/// Pages of 64 KiB, SQLite's largest: a purge touches most leaf pages of a big dataset, and
/// fewer, larger pages halve its time (W1: 2.3 s against 5.2 s with 4 KiB pages, measured).
const PAGE_SIZE: u32 = 65536;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`).
const CACHE_KIB: i64 = 128 * 1024;

/// Page cache of a purge, in KiB. A purge visits each page once, in key order, so a large
/// cache would only hold pages it is done with; the ID list it works through already takes
/// memory that grows with the input.
const PURGE_CACHE_KIB: i64 = 64 * 1024;

const SCHEMA_VERSION: i64 = 6;

const MIGRATION_1: &str = "
CREATE TABLE dataset_groups (
    arn      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    created  REAL NOT NULL
);
CREATE TABLE datasets (
    id           INTEGER PRIMARY KEY,
    group_arn    TEXT NOT NULL REFERENCES dataset_groups(arn),
    dataset_type TEXT NOT NULL,
    columns      TEXT NOT NULL,
    UNIQUE (group_arn, dataset_type)
);
CREATE TABLE data_deletion_jobs (
    seq       INTEGER PRIMARY KEY,
    arn       TEXT NOT NULL UNIQUE,
    group_arn TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX data_deletion_jobs_group ON data_deletion_jobs (group_arn, seq);
";

/// Dataset groups keep the API's optional members (role, KMS key, domain, tags) as JSON.
const MIGRATION_2: &str = "ALTER TABLE dataset_groups ADD COLUMN attrs TEXT NOT NULL DEFAULT '{}';";

/// Schemas; datasets keep their name, schema and creation time as JSON; tags move out of the
/// groups' attributes into one table for every kind of resource.
const MIGRATION_3: &str = "
ALTER TABLE datasets ADD COLUMN attrs TEXT NOT NULL DEFAULT '{}';
CREATE TABLE schemas (
    arn  TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
INSERT INTO tags (arn, key, value)
    SELECT g.arn, json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]')
    FROM dataset_groups g, json_each(g.attrs, '$.tags') t;
UPDATE dataset_groups SET attrs = json_remove(attrs, '$.tags');
";

/// Dataset import jobs, kept like data deletion jobs.
const MIGRATION_4: &str = "
CREATE TABLE dataset_import_jobs (
    seq         INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    dataset_arn TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX dataset_import_jobs_dataset ON dataset_import_jobs (dataset_arn, seq);
";

/// Dataset export jobs, kept like import jobs.
const MIGRATION_5: &str = "
CREATE TABLE dataset_export_jobs (
    seq         INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    dataset_arn TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX dataset_export_jobs_dataset ON dataset_export_jobs (dataset_arn, seq);
";

/// Records of user-bearing datasets move to the packed layout (done in [`migrate_to_packed`]);
/// each dataset remembers the last load sequence number it gave.
const MIGRATION_6: &str = "ALTER TABLE datasets ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 0;";

/// A dataset store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

type DbResult<T> = Result<T, StoreError>;

/// SQLite's default: a commit that leaves more pages than this in the write-ahead log
/// copies them into the database file before it returns.
const AUTOCHECKPOINT_PAGES: i64 = 1000;

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend {
        store: "sqlite",
        source: Box::new(e),
    }
}

/// Temp-file errors of the external sort.
impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        backend(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        backend(e)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`/[`DB_FILE`].
    pub fn open_dir(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        SqliteStore::open(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the store in the database file `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        // The page size only takes effect on a new database, so it comes first.
        conn.execute_batch(&format!(
            "PRAGMA page_size = {PAGE_SIZE};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = FILE;
             PRAGMA cache_size = -{CACHE_KIB};
             PRAGMA busy_timeout = 10000;"
        ))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f`, a transaction that writes much (a load, a purge), like [`Self::with_conn`]
    /// but without the automatic checkpoint at its commit: the commit is durable once its
    /// pages are in the write-ahead log, and copying them into the database file waits for
    /// [`DatasetStore::checkpoint`], after the job.
    async fn with_large_write<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        self.with_conn(move |conn| {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            let result = f(conn);
            conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
            result
        })
        .await
    }

    /// Runs `f` on the connection in a blocking thread.
    async fn with_conn<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // No await happens under this lock; a panic in `f` rolls its transaction back
            // when the transaction is dropped, so a poisoned lock is still consistent.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

fn migrate(conn: &mut Connection) -> DbResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "the database was written by a newer personalize-local (schema {version}, this one knows {SCHEMA_VERSION})"
        )));
    }
    for (to, sql) in [
        (1, MIGRATION_1),
        (2, MIGRATION_2),
        (3, MIGRATION_3),
        (4, MIGRATION_4),
        (5, MIGRATION_5),
        (6, MIGRATION_6),
    ] {
        if version < to {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            if to == 6 {
                migrate_to_packed(&tx)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {to}"))?;
            tx.commit()?;
        }
    }
    Ok(())
}

/// Converts every user-bearing dataset's table to the packed layout.
fn migrate_to_packed(conn: &Connection) -> DbResult<()> {
    let datasets: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, dataset_type, columns FROM datasets")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, t, columns) in datasets {
        let t: DatasetType = t.parse().map_err(StoreError::Invalid)?;
        if !t.holds_users() {
            continue;
        }
        let columns: Vec<String> = serde_json::from_str(&columns).map_err(backend)?;
        let last = packed::convert_from_rows(conn, id, columns.len(), key_index(t, &columns))?;
        conn.execute(
            "UPDATE datasets SET next_seq = ?2 WHERE id = ?1",
            params![id, last as i64],
        )?;
    }
    Ok(())
}

const GROUP_COLUMNS: &str = "SELECT arn, name, created, attrs FROM dataset_groups";

type GroupRow = (String, String, f64, String);

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn group_from_row((arn, name, created, attrs): GroupRow) -> DbResult<DatasetGroup> {
    Ok(DatasetGroup {
        dataset_group_arn: arn,
        name,
        creation_date_time: created,
        attrs: serde_json::from_str(&attrs).map_err(backend)?,
    })
}

/// A dataset's row id and its column names.
fn dataset_row(
    conn: &Connection,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Option<(i64, Vec<String>)>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, columns FROM datasets WHERE group_arn = ?1 AND dataset_type = ?2",
            params![group_arn, t.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((id, cols)) => Ok(Some((id, serde_json::from_str(&cols).map_err(backend)?))),
    }
}

/// A dataset with everything recorded about it.
fn dataset_full(conn: &Connection, group_arn: &str, t: DatasetType) -> DbResult<Option<Dataset>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT columns, attrs FROM datasets WHERE group_arn = ?1 AND dataset_type = ?2",
            params![group_arn, t.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(cols, attrs)| {
        Ok(Dataset {
            dataset_group_arn: group_arn.to_owned(),
            dataset_type: t,
            columns: serde_json::from_str(&cols).map_err(backend)?,
            attrs: serde_json::from_str(&attrs).map_err(backend)?,
        })
    })
    .transpose()
}

fn delete_tags(conn: &Connection, arn: &str) -> DbResult<()> {
    conn.execute("DELETE FROM tags WHERE arn = ?1", params![arn])?;
    Ok(())
}

fn require_dataset(
    conn: &Connection,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<(i64, Vec<String>)> {
    dataset_row(conn, group_arn, t)?
        .ok_or_else(|| StoreError::NotFound(format!("{t} dataset of {group_arn}")))
}

fn key_index(t: DatasetType, columns: &[String]) -> usize {
    columns
        .iter()
        .position(|c| c == t.key_column())
        .unwrap_or(0)
}

fn create_records_table(
    conn: &Connection,
    id: i64,
    t: DatasetType,
    columns: &[String],
) -> DbResult<()> {
    if t.holds_users() {
        return packed::create_table(conn, id);
    }
    let cols: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE records_{id} (seq INTEGER PRIMARY KEY, {})",
        cols.join(", ")
    ))?;
    Ok(())
}

fn job_from_json(body: &str) -> DbResult<DataDeletionJob> {
    serde_json::from_str(body).map_err(backend)
}

fn job_to_json(job: &DataDeletionJob) -> DbResult<String> {
    serde_json::to_string(job).map_err(backend)
}

/// The purge in one transaction: every record of `ids` in the group's user-bearing datasets,
/// then the finished job record.
fn purge_in(
    conn: &mut Connection,
    group_arn: &str,
    ids: &UserIdSet,
    finish: FinishJob,
) -> DbResult<(PurgeCounts, DataDeletionJob)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM dataset_groups WHERE arn = ?1",
            params![group_arn],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(group_arn.to_owned()));
    }
    // Per ID, in key order so that consecutive ones land on neighbouring pages: a lookup of
    // how many records the user's row packs, then the row's delete.
    let sorted = ids.sorted();
    let mut counts = PurgeCounts::default();
    for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
        if let Some((id, _)) = dataset_row(&tx, group_arn, t)? {
            let started = std::time::Instant::now();
            // A lookup, then a delete of the page it just read: cheaper than one
            // `DELETE ... RETURNING n`, whose result SQLite buffers per statement.
            let (find, delete) = packed::purge_statements(id);
            let mut find = tx.prepare(&find)?;
            let mut delete = tx.prepare(&delete)?;
            let mut n = 0u64;
            for user in &sorted {
                let packed: Option<i64> = find.query_row(params![user], |r| r.get(0)).optional()?;
                if let Some(records) = packed {
                    delete.execute(params![user])?;
                    n += records as u64;
                }
            }
            tracing::debug!(dataset = %t, records = n, seconds = started.elapsed().as_secs_f64(), "deleted");
            counts.per_dataset.push((t, n));
        }
    }
    let job = finish(&counts);
    let n = tx.execute(
        "UPDATE data_deletion_jobs SET body = ?2 WHERE arn = ?1",
        params![job.data_deletion_job_arn, job_to_json(&job)?],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(job.data_deletion_job_arn));
    }
    let started = std::time::Instant::now();
    tx.commit()?;
    counts.commit = started.elapsed();
    tracing::debug!(seconds = counts.commit.as_secs_f64(), "committed the purge");
    Ok((counts, job))
}

/// How a load treats the records a dataset already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadMode {
    /// They are all replaced.
    Replace,
    /// They stay; in a dataset keyed by id, those of an id loaded again are replaced.
    Append,
}

impl SqliteStore {
    async fn load(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mut batches: BoxStream<'static, StoreResult<RowBatch>>,
        mode: LoadMode,
    ) -> StoreResult<u64> {
        // The blocking side owns the transaction; the async side feeds it batches.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<StoreResult<RowBatch>>(4);
        let group_arn = group_arn.to_owned();
        let writer = self.with_large_write(move |conn| {
            let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (id, columns) = require_dataset(&txn, &group_arn, dataset_type)?;
            let width = columns.len();
            if dataset_type.holds_users() {
                let first_seq: i64 = match mode {
                    LoadMode::Replace => 0,
                    LoadMode::Append => txn.query_row(
                        "SELECT next_seq FROM datasets WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )?,
                };
                let table = packed::Table {
                    id,
                    key: key_index(dataset_type, &columns),
                    width,
                    keyed_by_id: dataset_type.keyed_by_id(),
                };
                let last =
                    packed::load(&txn, &table, mode, first_seq as u64, || rx.blocking_recv())?;
                txn.execute(
                    "UPDATE datasets SET next_seq = ?2 WHERE id = ?1",
                    params![id, last as i64],
                )?;
                let started = std::time::Instant::now();
                txn.commit()?;
                tracing::debug!(
                    seconds = started.elapsed().as_secs_f64(),
                    "committed the load"
                );
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
                LoadMode::Append => txn.query_row(
                    &format!("SELECT coalesce(max(seq), 0) FROM records_{id}"),
                    [],
                    |r| r.get(0),
                )?,
            };
            let mut seq = first_seq;
            let started = std::time::Instant::now();
            {
                let mut insert = txn.prepare(&format!(
                    "INSERT INTO temp.staging (seq, {cols}) VALUES ({})",
                    placeholders.join(", ")
                ))?;
                while let Some(batch) = rx.blocking_recv() {
                    // An error from the producer drops `txn`: rolled back.
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
                LoadMode::Append if dataset_type.keyed_by_id() => {
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
                LoadMode::Append => {}
            }
            txn.execute_batch(&format!(
                "INSERT INTO records_{id} (seq, {cols}) SELECT seq, {cols} FROM {rows} ORDER BY seq;
                 DROP TABLE temp.staging;"
            ))?;
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "copied in key order"
            );
            let started = std::time::Instant::now();
            txn.commit()?;
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "committed the load"
            );
            Ok((seq - first_seq) as u64)
        });
        let feeder = async move {
            while let Some(item) = batches.next().await {
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        };
        let (result, ()) = tokio::join!(writer, feeder);
        result
    }
}

/// The tables of dataset import and export jobs: `(seq, arn, dataset_arn, body)`.
const IMPORT_JOBS: &str = "dataset_import_jobs";
const EXPORT_JOBS: &str = "dataset_export_jobs";

/// A dataset job's record as its table keeps it: the job as JSON, by ARN and dataset.
struct JobDoc {
    arn: String,
    dataset_arn: String,
    body: String,
}

impl JobDoc {
    fn of(arn: &str, dataset_arn: &str, job: &impl serde::Serialize) -> DbResult<JobDoc> {
        Ok(JobDoc {
            arn: arn.to_owned(),
            dataset_arn: dataset_arn.to_owned(),
            body: serde_json::to_string(job).map_err(backend)?,
        })
    }

    fn create(self, conn: &Connection, table: &str) -> DbResult<()> {
        let n = conn.execute(
            &format!(
                "INSERT INTO {table} (arn, dataset_arn, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"
            ),
            params![self.arn, self.dataset_arn, self.body],
        )?;
        if n == 0 {
            return Err(StoreError::AlreadyExists(self.arn));
        }
        Ok(())
    }

    fn update(self, conn: &Connection, table: &str) -> DbResult<()> {
        let n = conn.execute(
            &format!("UPDATE {table} SET body = ?2 WHERE arn = ?1"),
            params![self.arn, self.body],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(self.arn));
        }
        Ok(())
    }

    fn get<T: serde::de::DeserializeOwned>(
        conn: &Connection,
        table: &str,
        arn: &str,
    ) -> DbResult<Option<T>> {
        let body: Option<String> = conn
            .query_row(
                &format!("SELECT body FROM {table} WHERE arn = ?1"),
                params![arn],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| serde_json::from_str(&b).map_err(backend))
            .transpose()
    }

    /// Newest first, of one dataset or all.
    fn list<T: serde::de::DeserializeOwned>(
        conn: &Connection,
        table: &str,
        dataset_arn: Option<&str>,
    ) -> DbResult<Vec<T>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT body FROM {table} WHERE ?1 IS NULL OR dataset_arn = ?1 ORDER BY seq DESC"
        ))?;
        let bodies = stmt
            .query_map(params![dataset_arn], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(backend))
            .collect()
    }
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn create_dataset_group(&self, group: &DatasetGroup) -> StoreResult<()> {
        let group = group.clone();
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT INTO dataset_groups (arn, name, created, attrs) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![
                    group.dataset_group_arn,
                    group.name,
                    group.creation_date_time,
                    serde_json::to_string(&group.attrs).map_err(backend)?
                ],
            )?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(group.dataset_group_arn));
            }
            Ok(())
        })
        .await
    }

    async fn dataset_group(&self, arn: &str) -> StoreResult<Option<DatasetGroup>> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    &format!("{GROUP_COLUMNS} WHERE arn = ?1"),
                    params![arn],
                    group_row,
                )
                .optional()?;
            row.map(group_from_row).transpose()
        })
        .await
    }

    async fn list_dataset_groups(&self) -> StoreResult<Vec<DatasetGroup>> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(&format!("{GROUP_COLUMNS} ORDER BY rowid"))?;
            let rows = stmt
                .query_map([], group_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(group_from_row).collect()
        })
        .await
    }

    async fn delete_dataset_group(&self, arn: &str) -> StoreResult<()> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let datasets: i64 = tx.query_row(
                "SELECT count(*) FROM datasets WHERE group_arn = ?1",
                params![arn],
                |r| r.get(0),
            )?;
            if datasets > 0 {
                return Err(StoreError::InUse(format!(
                    "the dataset group {arn} still has datasets; delete them first"
                )));
            }
            if tx.execute("DELETE FROM dataset_groups WHERE arn = ?1", params![arn])? == 0 {
                return Err(StoreError::NotFound(arn));
            }
            delete_tags(&tx, &arn)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn create_dataset(&self, dataset: &Dataset) -> StoreResult<()> {
        super::validate_columns(dataset.dataset_type, &dataset.columns)
            .map_err(StoreError::Invalid)?;
        let d = dataset.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let group: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM dataset_groups WHERE arn = ?1",
                    params![d.dataset_group_arn],
                    |r| r.get(0),
                )
                .optional()?;
            if group.is_none() {
                return Err(StoreError::NotFound(d.dataset_group_arn));
            }
            if let Some(schema) = &d.attrs.schema_arn {
                let found: Option<i64> = tx
                    .query_row("SELECT 1 FROM schemas WHERE arn = ?1", params![schema], |r| r.get(0))
                    .optional()?;
                if found.is_none() {
                    return Err(StoreError::NotFound(schema.clone()));
                }
            }
            if dataset_row(&tx, &d.dataset_group_arn, d.dataset_type)?.is_some() {
                return Err(StoreError::AlreadyExists(format!(
                    "{} dataset of {}",
                    d.dataset_type, d.dataset_group_arn
                )));
            }
            tx.execute(
                "INSERT INTO datasets (group_arn, dataset_type, columns, attrs) VALUES (?1, ?2, ?3, ?4)",
                params![
                    d.dataset_group_arn,
                    d.dataset_type.as_str(),
                    serde_json::to_string(&d.columns).map_err(backend)?,
                    serde_json::to_string(&d.attrs).map_err(backend)?
                ],
            )?;
            create_records_table(&tx, tx.last_insert_rowid(), d.dataset_type, &d.columns)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn datasets(&self, group_arn: &str) -> StoreResult<Vec<Dataset>> {
        let group_arn = group_arn.to_owned();
        self.with_conn(move |conn| {
            let mut out = Vec::new();
            for t in DatasetType::ALL {
                out.extend(dataset_full(conn, &group_arn, t)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_dataset(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<()> {
        let group_arn = group_arn.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (id, _) = require_dataset(&tx, &group_arn, dataset_type)?;
            tx.execute_batch(&format!("DROP TABLE records_{id}"))?;
            tx.execute("DELETE FROM datasets WHERE id = ?1", params![id])?;
            delete_tags(
                &tx,
                &crate::job::dataset_arn(&group_arn, dataset_type.arn_suffix()),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn create_schema(&self, schema: &Schema) -> StoreResult<()> {
        let schema = schema.clone();
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT INTO schemas (arn, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![
                    schema.schema_arn,
                    serde_json::to_string(&schema).map_err(backend)?
                ],
            )?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(schema.schema_arn));
            }
            Ok(())
        })
        .await
    }

    async fn schema(&self, arn: &str) -> StoreResult<Option<Schema>> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM schemas WHERE arn = ?1",
                    params![arn],
                    |r| r.get(0),
                )
                .optional()?;
            body.map(|b| serde_json::from_str(&b).map_err(backend))
                .transpose()
        })
        .await
    }

    async fn list_schemas(&self) -> StoreResult<Vec<Schema>> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare("SELECT body FROM schemas ORDER BY rowid")?;
            let bodies = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies
                .iter()
                .map(|b| serde_json::from_str(b).map_err(backend))
                .collect()
        })
        .await
    }

    async fn delete_schema(&self, arn: &str) -> StoreResult<()> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let user: Option<(String, String)> = tx
                .query_row(
                    "SELECT group_arn, dataset_type FROM datasets
                     WHERE json_extract(attrs, '$.schemaArn') = ?1 LIMIT 1",
                    params![arn],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((group_arn, t)) = user {
                let suffix = t
                    .parse::<DatasetType>()
                    .map(|t| t.arn_suffix())
                    .unwrap_or("?");
                return Err(StoreError::InUse(format!(
                    "the schema {arn} is used by the dataset {}; delete it first",
                    crate::job::dataset_arn(&group_arn, suffix)
                )));
            }
            if tx.execute("DELETE FROM schemas WHERE arn = ?1", params![arn])? == 0 {
                return Err(StoreError::NotFound(arn));
            }
            delete_tags(&tx, &arn)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn tags(&self, arn: &str) -> StoreResult<Tags> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let mut stmt =
                conn.prepare("SELECT key, value FROM tags WHERE arn = ?1 ORDER BY rowid")?;
            let tags = stmt
                .query_map(params![arn], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(tags)
        })
        .await
    }

    async fn set_tags(&self, arn: &str, tags: &Tags) -> StoreResult<()> {
        let arn = arn.to_owned();
        let tags = tags.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            delete_tags(&tx, &arn)?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                )?;
                for (k, v) in &tags {
                    insert.execute(params![arn, k, v])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn replace_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load(group_arn, dataset_type, batches, LoadMode::Replace)
            .await
    }

    async fn append_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load(group_arn, dataset_type, batches, LoadMode::Append)
            .await
    }

    async fn count_records(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<u64> {
        let group_arn = group_arn.to_owned();
        self.with_conn(move |conn| {
            let (id, _) = require_dataset(conn, &group_arn, dataset_type)?;
            if dataset_type.holds_users() {
                return packed::count(conn, id);
            }
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM records_{id}"), [], |r| {
                    r.get(0)
                })?;
            Ok(n as u64)
        })
        .await
    }

    async fn records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
    ) -> StoreResult<Vec<Vec<String>>> {
        let group_arn = group_arn.to_owned();
        self.with_conn(move |conn| {
            let (id, columns) = require_dataset(conn, &group_arn, dataset_type)?;
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
        })
        .await
    }

    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
    ) -> BoxStream<'static, StoreResult<RowBatch>> {
        // A connection of its own: in WAL mode it reads one snapshot while the store's
        // connection goes on writing, and the reader waits for its consumer, not the store.
        let (tx, rx) = tokio::sync::mpsc::channel::<StoreResult<RowBatch>>(2);
        let path = self.path.clone();
        let group_arn = group_arn.to_owned();
        let batch_rows = batch_rows.max(1);
        tokio::task::spawn_blocking(move || {
            let scan = || -> DbResult<()> {
                let mut conn =
                    Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                // Sorting a clustered table back into load order spills to disk, not memory.
                conn.execute_batch("PRAGMA temp_store = FILE;")?;
                let txn = conn.transaction()?;
                let (id, columns) = require_dataset(&txn, &group_arn, dataset_type)?;
                let width = columns.len();
                if dataset_type.holds_users() {
                    // Users in key order, each user's records in load order.
                    let key = key_index(dataset_type, &columns);
                    let mut batch = RowBatch::new(width);
                    let mut stopped = false;
                    packed::scan(&txn, id, width, key, |_, row| {
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
                    "SELECT {} FROM records_{id} ORDER BY seq",
                    cols.join(", ")
                ))?;
                let mut rows = stmt.query([])?;
                let mut batch = RowBatch::new(width);
                while let Some(row) = rows.next()? {
                    for i in 0..width {
                        let v: Option<String> = row.get(i)?;
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
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
            .boxed()
    }

    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIdSet>,
        finish: FinishJob,
    ) -> StoreResult<(PurgeCounts, DataDeletionJob)> {
        let group_arn = group_arn.to_owned();
        self.with_large_write(move |conn| {
            conn.pragma_update(None, "cache_size", -PURGE_CACHE_KIB)?;
            let purged = purge_in(conn, &group_arn, &ids, finish);
            conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
            purged
        })
        .await
    }

    async fn create_job(&self, job: &DataDeletionJob) -> StoreResult<()> {
        let job = job.clone();
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT INTO data_deletion_jobs (arn, group_arn, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![job.data_deletion_job_arn, job.dataset_group_arn, job_to_json(&job)?],
            )?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(job.data_deletion_job_arn));
            }
            Ok(())
        })
        .await
    }

    async fn update_job(&self, job: &DataDeletionJob) -> StoreResult<()> {
        let job = job.clone();
        self.with_conn(move |conn| {
            let n = conn.execute(
                "UPDATE data_deletion_jobs SET body = ?2 WHERE arn = ?1",
                params![job.data_deletion_job_arn, job_to_json(&job)?],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(job.data_deletion_job_arn));
            }
            Ok(())
        })
        .await
    }

    async fn job(&self, arn: &str) -> StoreResult<Option<DataDeletionJob>> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM data_deletion_jobs WHERE arn = ?1",
                    params![arn],
                    |r| r.get(0),
                )
                .optional()?;
            body.as_deref().map(job_from_json).transpose()
        })
        .await
    }

    async fn create_import_job(&self, job: &DatasetImportJob) -> StoreResult<()> {
        let doc = JobDoc::of(&job.dataset_import_job_arn, &job.dataset_arn, job)?;
        self.with_conn(move |conn| doc.create(conn, IMPORT_JOBS))
            .await
    }

    async fn update_import_job(&self, job: &DatasetImportJob) -> StoreResult<()> {
        let doc = JobDoc::of(&job.dataset_import_job_arn, &job.dataset_arn, job)?;
        self.with_conn(move |conn| doc.update(conn, IMPORT_JOBS))
            .await
    }

    async fn import_job(&self, arn: &str) -> StoreResult<Option<DatasetImportJob>> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| JobDoc::get(conn, IMPORT_JOBS, &arn))
            .await
    }

    async fn list_import_jobs(
        &self,
        dataset_arn: Option<&str>,
    ) -> StoreResult<Vec<DatasetImportJob>> {
        let dataset_arn = dataset_arn.map(str::to_owned);
        self.with_conn(move |conn| JobDoc::list(conn, IMPORT_JOBS, dataset_arn.as_deref()))
            .await
    }

    async fn create_export_job(&self, job: &DatasetExportJob) -> StoreResult<()> {
        let doc = JobDoc::of(&job.dataset_export_job_arn, &job.dataset_arn, job)?;
        self.with_conn(move |conn| doc.create(conn, EXPORT_JOBS))
            .await
    }

    async fn update_export_job(&self, job: &DatasetExportJob) -> StoreResult<()> {
        let doc = JobDoc::of(&job.dataset_export_job_arn, &job.dataset_arn, job)?;
        self.with_conn(move |conn| doc.update(conn, EXPORT_JOBS))
            .await
    }

    async fn export_job(&self, arn: &str) -> StoreResult<Option<DatasetExportJob>> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| JobDoc::get(conn, EXPORT_JOBS, &arn))
            .await
    }

    async fn list_export_jobs(
        &self,
        dataset_arn: Option<&str>,
    ) -> StoreResult<Vec<DatasetExportJob>> {
        let dataset_arn = dataset_arn.map(str::to_owned);
        self.with_conn(move |conn| JobDoc::list(conn, EXPORT_JOBS, dataset_arn.as_deref()))
            .await
    }

    async fn reset(&self) -> StoreResult<()> {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids: Vec<i64> = tx
                .prepare("SELECT id FROM datasets")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                tx.execute_batch(&format!("DROP TABLE records_{id}"))?;
            }
            tx.execute_batch(
                "DELETE FROM datasets; DELETE FROM dataset_groups; DELETE FROM data_deletion_jobs;
                 DELETE FROM schemas; DELETE FROM tags; DELETE FROM dataset_import_jobs;
                 DELETE FROM dataset_export_jobs;",
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn checkpoint(&self) -> StoreResult<()> {
        self.with_conn(|conn| {
            let started = std::time::Instant::now();
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            tracing::debug!(seconds = started.elapsed().as_secs_f64(), "checkpointed");
            Ok(())
        })
        .await
    }

    async fn list_jobs(&self, group_arn: Option<&str>) -> StoreResult<Vec<DataDeletionJob>> {
        let group_arn = group_arn.map(str::to_owned);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT body FROM data_deletion_jobs WHERE ?1 IS NULL OR group_arn = ?1 ORDER BY seq DESC",
            )?;
            let bodies = stmt
                .query_map(params![group_arn], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies.iter().map(|b| job_from_json(b)).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        crate::store::conformance::run_all(&store).await;
    }

    #[tokio::test]
    async fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let group = DatasetGroup {
            name: "g".into(),
            dataset_group_arn: "arn:aws:personalize:us-east-1:000000000000:dataset-group/g".into(),
            creation_date_time: 1.5,
            attrs: crate::store::GroupAttrs {
                role_arn: Some("arn:aws:iam::000000000000:role/r".into()),
                kms_key_arn: None,
                domain: Some("ECOMMERCE".into()),
            },
        };
        let tags = vec![("k".to_string(), "v".to_string())];
        {
            let store = SqliteStore::open_dir(dir.path()).unwrap();
            store.create_dataset_group(&group).await.unwrap();
            store
                .set_tags(&group.dataset_group_arn, &tags)
                .await
                .unwrap();
        }
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(
            store.dataset_group(&group.dataset_group_arn).await.unwrap(),
            Some(group.clone())
        );
        assert_eq!(store.tags(&group.dataset_group_arn).await.unwrap(), tags);
    }

    /// A large write commits without copying its pages into the database file; the
    /// connection's automatic checkpoint is back for everything else, and `checkpoint`
    /// empties the write-ahead log.
    #[tokio::test]
    async fn large_writes_leave_the_checkpoint_to_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let wal = dir.path().join(format!("{DB_FILE}-wal"));
        let seen = store
            .with_large_write(|c| {
                c.execute_batch("CREATE TABLE big (b BLOB)")?;
                Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(seen, 0);
        let after: i64 = store
            .with_conn(|c| Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(after, AUTOCHECKPOINT_PAGES);
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        store.checkpoint().await.unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let reopened = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let tables: i64 = reopened
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'big'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }

    /// A database of schema 2 kept a group's tags in its attributes; opening it moves them to
    /// the tags table and keeps everything else.
    #[tokio::test]
    async fn schema_2_tags_move_to_the_tags_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let arn = "arn:aws:personalize:us-east-1:000000000000:dataset-group/old";
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATION_1).unwrap();
            conn.execute_batch(MIGRATION_2).unwrap();
            conn.execute(
                "INSERT INTO dataset_groups (arn, name, created, attrs) VALUES (?1, 'old', 2.0, ?2)",
                params![arn, r#"{"domain":"ECOMMERCE","tags":[["team","data"],["env","ci"]]}"#],
            )
            .unwrap();
            conn.execute_batch("PRAGMA user_version = 2").unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let group = store.dataset_group(arn).await.unwrap().unwrap();
        assert_eq!(group.attrs.domain.as_deref(), Some("ECOMMERCE"));
        assert_eq!(
            store.tags(arn).await.unwrap(),
            vec![
                ("team".to_string(), "data".to_string()),
                ("env".to_string(), "ci".to_string())
            ]
        );
        let attrs: String = store
            .with_conn(move |c| {
                Ok(c.query_row("SELECT attrs FROM dataset_groups", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert!(!attrs.contains("tags"), "{attrs}");
    }

    /// A database of schema 5 kept one row per record; opening it packs the records of
    /// user-bearing datasets by user and keeps their load order and counts.
    #[tokio::test]
    async fn schema_5_records_are_packed_by_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/old";
        {
            let conn = Connection::open(&path).unwrap();
            for sql in [
                MIGRATION_1,
                MIGRATION_2,
                MIGRATION_3,
                MIGRATION_4,
                MIGRATION_5,
            ] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute(
                "INSERT INTO dataset_groups (arn, name, created) VALUES (?1, 'old', 1.0)",
                params![group],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO datasets (id, group_arn, dataset_type, columns) VALUES (1, ?1, 'Interactions', ?2)",
                params![group, r#"["ITEM_ID","USER_ID","TIMESTAMP"]"#],
            )
            .unwrap();
            conn.execute_batch(
                "CREATE TABLE records_1 (seq INTEGER NOT NULL, c0, c1 TEXT NOT NULL, c2, PRIMARY KEY (c1, seq)) WITHOUT ROWID;
                 INSERT INTO records_1 VALUES (1, 'i1', 'u2', '10'), (2, 'i2', 'u1', '11'), (3, 'i3', 'u2', NULL);
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let t = DatasetType::Interactions;
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        assert_eq!(
            store.records(group, t).await.unwrap(),
            vec![
                row("i1", "u2", "10"),
                row("i2", "u1", "11"),
                row("i3", "u2", "")
            ]
        );
        assert_eq!(store.count_records(group, t).await.unwrap(), 3);
        // New records continue the load order.
        let mut batch = RowBatch::new(3);
        batch.push_row(["i4", "u1", "12"]);
        let batches = futures::stream::iter(vec![Ok(batch)]).boxed();
        store.append_records(group, t, batches).await.unwrap();
        assert_eq!(
            store.records(group, t).await.unwrap().last(),
            Some(&row("i4", "u1", "12"))
        );
    }
}
