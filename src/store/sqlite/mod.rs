//! The embedded default store: one SQLite file.
//!
//! Layout, chosen for purging by user: each dataset's records live in a table of their own,
//! `records_{dataset id}`. User-bearing datasets (Users, Interactions, Action_Interactions)
//! keep ONE row per user, its records packed in a blob (`packed.rs`): a purge is one B-tree
//! delete per user, and a load sorts the records by user outside SQLite (`store::sort`, bounded
//! memory) and inserts the users in key order. Items and Actions are plain rowid tables with
//! positional columns `c0, c1, ...` (the dataset row holds their names). The database runs in
//! WAL mode with `synchronous=FULL`: a committed job is on disk.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the [`DatasetStore`] impl |
//! | `conn.rs` | opening the file (beside other processes opening it), the writer and the readers |
//! | `migrate.rs` | the versioned schema migrations |
//! | `catalog.rs` | groups, datasets and event trackers: their transactions, row mapping |
//! | `load.rs`, `packed.rs` | loads: external sort by user (`store::sort`), packed rows |
//! | `records.rs` | counts, reads and streamed scans of records |
//! | `purge.rs` | the purge transaction |
//! | `jobs.rs` | the job queue: claims, leases, the fencing check |
//! | `resources.rs` | resources of every other kind, and blobs |

mod catalog;
mod compact;
mod conn;
mod directory;
mod jobs;
mod load;
mod migrate;
mod packed;
mod purge;
mod puts;
mod records;
mod resources;
mod scrub;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use self::catalog::{
    dataset_full, delete_tags, group_from_row, group_row, key_index, require_dataset, GROUP_COLUMNS,
};
use super::{
    dataset_arn, Blob, Claim, Compacted, Dataset, DatasetAttrs, DatasetGroup, DatasetStore,
    DatasetType, EventTracker, Ingestion, JobCommit, Keyed, LoadMode, PurgeCounts, Resource,
    RowBatch, Schema, StoreError, StoreResult, Tag, Tags, UserIds,
};
use crate::jobs::model::{Job, JobKind, Lease};

/// The file name of the database inside a data directory.
pub const DB_FILE: &str = "personalize-local.sqlite";

/// Temporary tables (staged loads, staged purge IDs) live in temp files, so their memory is
/// bounded by the page cache, not by their size.
///
/// Pages of 4 KiB (SQLite's default) for a new file. Erasing a user rewrites the pages that
/// held them (see `compact`), so the cost of a deletion follows the page size: at W1, 1,000
/// users took 0.17 s to erase with 4 KiB pages, 0.24 s with 16 KiB and about 0.45 s with
/// 64 KiB (which a file created before keeps). Erasing 45% of the users touches every page
/// whatever its size, and takes longer with small ones (3.2 s against 2.2 s and 1.9 s);
/// loads took the same time (measured, `benches/deletion`).
const PAGE_SIZE: u32 = 4096;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`).
const CACHE_KIB: i64 = 128 * 1024;

/// A dataset store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for reads, so that they never wait for a write (WAL readers
    /// see the last commit while a load, a purge or a compaction holds the writer).
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per pooled reader: reads beyond them wait for one.
    reading: Arc<tokio::sync::Semaphore>,
    path: PathBuf,
}

/// Read connections kept open; more are opened for a burst and closed after it.
const READERS: usize = 4;

/// Page cache of each read connection, in KiB.
const READER_CACHE_KIB: i64 = 16 * 1024;

/// How much of the file a reader maps instead of copying pages in (address space, not
/// memory): point reads by key (the runtime API's) touch pages where they lie.
const READER_MMAP_BYTES: i64 = 1 << 30;

type DbResult<T> = Result<T, StoreError>;

/// A write that leaves the write-ahead log larger than this is followed by an erasure,
/// which copies the log into the database file (SQLite's automatic checkpoint, which
/// would copy pages before they are erased, is off): 1000 pages, SQLite's default.
const ERASE_AT_LOG_BYTES: u64 = 1000 * PAGE_SIZE as u64;

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

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        backend(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        backend(e)
    }
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn create_dataset_group(&self, group: &DatasetGroup, tags: &[Tag]) -> StoreResult<()> {
        let (group, tags) = (group.clone(), tags.to_vec());
        self.with_conn(move |conn| catalog::create_group(conn, &group, &tags))
            .await
    }

    async fn dataset_group(&self, arn: &str) -> StoreResult<Option<DatasetGroup>> {
        let arn = arn.to_owned();
        self.with_reader(move |conn| {
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
        self.with_reader(move |conn| {
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
        self.with_conn(move |conn| catalog::delete_group(conn, &arn))
            .await
    }

    async fn create_dataset(&self, dataset: &Dataset, tags: &[Tag]) -> StoreResult<()> {
        super::validate_columns(dataset.dataset_type, &dataset.columns)
            .map_err(StoreError::Invalid)?;
        let (d, tags) = (dataset.clone(), tags.to_vec());
        self.with_conn(move |conn| catalog::create_dataset(conn, &d, &tags))
            .await
    }

    async fn datasets(&self, group_arn: &str) -> StoreResult<Vec<Dataset>> {
        let group_arn = group_arn.to_owned();
        self.with_reader(move |conn| {
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
            directory::clear(&tx, id)?;
            puts::clear(&tx, id)?;
            tx.execute("DELETE FROM datasets WHERE id = ?1", params![id])?;
            delete_tags(&tx, &dataset_arn(&group_arn, dataset_type))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn update_dataset(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        columns: &[String],
        attrs: &DatasetAttrs,
    ) -> StoreResult<()> {
        super::validate_columns(dataset_type, columns).map_err(StoreError::Invalid)?;
        let group_arn = group_arn.to_owned();
        let columns = columns.to_vec();
        let attrs = serde_json::to_string(attrs).map_err(backend)?;
        self.with_large_write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (id, old) = require_dataset(&tx, &group_arn, dataset_type)?;
            if old != columns {
                let map = super::column_map(&old, &columns)?;
                if dataset_type.holds_users() {
                    compact::compact_dataset(&tx, id)?;
                }
                catalog::remap_records(&tx, id, dataset_type, &old, &columns, &map)?;
            }
            tx.execute(
                "UPDATE datasets SET columns = ?2, attrs = ?3 WHERE id = ?1",
                params![id, serde_json::to_string(&columns).map_err(backend)?, attrs],
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
        self.with_reader(move |conn| {
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
        self.with_reader(move |conn| {
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
                let t: DatasetType = t.parse().map_err(StoreError::Invalid)?;
                return Err(StoreError::InUse(format!(
                    "the schema {arn} is used by the dataset {}; delete it first",
                    dataset_arn(&group_arn, t)
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
        self.with_reader(move |conn| {
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
            catalog::insert_tags(&tx, &arn, &tags)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn create_event_tracker(&self, tracker: &EventTracker, tags: &[Tag]) -> StoreResult<()> {
        let (t, tags) = (tracker.clone(), tags.to_vec());
        self.with_conn(move |conn| catalog::create_tracker(conn, &t, &tags))
            .await
    }

    async fn event_trackers(&self) -> StoreResult<Vec<EventTracker>> {
        self.with_reader(|conn| {
            let bodies: Vec<String> = conn
                .prepare("SELECT body FROM event_trackers ORDER BY seq")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            bodies
                .iter()
                .map(|b| serde_json::from_str(b).map_err(backend))
                .collect()
        })
        .await
    }

    async fn delete_event_tracker(&self, arn: &str) -> StoreResult<()> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute("DELETE FROM event_trackers WHERE arn = ?1", params![arn])? == 0 {
                return Err(StoreError::NotFound(arn));
            }
            delete_tags(&tx, &arn)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn load_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mode: LoadMode,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
        commit: Option<JobCommit>,
    ) -> StoreResult<u64> {
        self.load(group_arn, dataset_type, batches, mode, commit)
            .await
    }

    async fn count_records(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<u64> {
        let group_arn = group_arn.to_owned();
        self.with_reader(move |conn| records::count(conn, &group_arn, dataset_type))
            .await
    }

    async fn records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
    ) -> StoreResult<Vec<Vec<String>>> {
        let group_arn = group_arn.to_owned();
        self.with_reader(move |conn| records::all(conn, &group_arn, dataset_type))
            .await
    }

    async fn records_of(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        keys: &[String],
    ) -> StoreResult<Keyed> {
        let (group_arn, keys) = (group_arn.to_owned(), keys.to_vec());
        self.with_reader(move |conn| records::of_keys(conn, &group_arn, dataset_type, &keys))
            .await
    }

    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
        which: Ingestion,
    ) -> BoxStream<'static, StoreResult<RowBatch>> {
        records::scan(
            self.path.clone(),
            group_arn,
            dataset_type,
            batch_rows,
            which,
        )
    }

    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIds>,
        commit: JobCommit,
    ) -> StoreResult<(PurgeCounts, Job)> {
        let group_arn = group_arn.to_owned();
        let path = self.path.clone();
        self.with_conn(move |conn| purge::purge(conn, &path, &group_arn, &ids, commit))
            .await
    }

    async fn create_resource(&self, resource: &Resource, tags: &[Tag]) -> StoreResult<()> {
        let (r, tags) = (resource.clone(), tags.to_vec());
        self.with_conn(move |conn| resources::create(conn, &r, &tags))
            .await
    }

    async fn resource(&self, arn: &str) -> StoreResult<Option<Resource>> {
        let arn = arn.to_owned();
        self.with_reader(move |conn| resources::get(conn, &arn))
            .await
    }

    async fn list_resources(&self, kind: &str, parent: Option<&str>) -> StoreResult<Vec<Resource>> {
        let (kind, parent) = (kind.to_owned(), parent.map(str::to_owned));
        self.with_reader(move |conn| resources::list(conn, &kind, parent.as_deref()))
            .await
    }

    async fn write_resources(
        &self,
        resources: &[Resource],
        blobs: &[Blob],
        commit: Option<JobCommit>,
    ) -> StoreResult<()> {
        let (rs, bs) = (resources.to_vec(), blobs.to_vec());
        self.with_conn(move |conn| resources::write(conn, &rs, &bs, commit.as_ref()))
            .await
    }

    async fn delete_resource(&self, arn: &str) -> StoreResult<()> {
        let arn = arn.to_owned();
        self.with_conn(move |conn| resources::delete(conn, &arn))
            .await
    }

    async fn blob(&self, arn: &str) -> StoreResult<Option<bytes::Bytes>> {
        let arn = arn.to_owned();
        self.with_reader(move |conn| resources::blob(conn, &arn))
            .await
    }

    async fn create_job(&self, job: &Job, tags: &[Tag]) -> StoreResult<()> {
        let job = job.clone();
        let tags = tags.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            jobs::create(&tx, &job)?;
            catalog::insert_tags(&tx, &job.arn, &tags)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn job(&self, arn: &str) -> StoreResult<Option<Job>> {
        let arn = arn.to_owned();
        self.with_reader(move |conn| jobs::get(conn, &arn)).await
    }

    async fn list_jobs(&self, kind: JobKind, target_arn: Option<&str>) -> StoreResult<Vec<Job>> {
        let target = target_arn.map(str::to_owned);
        self.with_reader(move |conn| jobs::list(conn, kind, target.as_deref()))
            .await
    }

    async fn update_job(&self, job: &Job) -> StoreResult<()> {
        let job = job.clone();
        self.with_conn(move |conn| jobs::update(conn, &job)).await
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        worker: &str,
        lease_for: Duration,
    ) -> StoreResult<Option<(Job, Lease)>> {
        let arn = match which {
            Claim::Next => None,
            Claim::Job(arn) => Some(arn.to_owned()),
        };
        let worker = worker.to_owned();
        self.with_conn(move |conn| {
            let which = arn.as_deref().map_or(Claim::Next, Claim::Job);
            jobs::claim(conn, which, &worker, lease_for)
        })
        .await
    }

    async fn renew(&self, lease: &Lease, lease_for: Duration) -> StoreResult<Lease> {
        let lease = lease.clone();
        self.with_conn(move |conn| jobs::renew(conn, &lease, lease_for))
            .await
    }

    async fn finish(&self, job: &Job, lease: &Lease) -> StoreResult<()> {
        let (job, lease) = (job.clone(), lease.clone());
        self.with_conn(move |conn| jobs::finish(conn, &job, &lease))
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
                "DELETE FROM event_trackers; DELETE FROM datasets; DELETE FROM dataset_groups;
                 DELETE FROM jobs;
                 DELETE FROM schemas; DELETE FROM tags; DELETE FROM user_directory;
                 DELETE FROM tombstones; DELETE FROM put_ranges;
                 DELETE FROM resources; DELETE FROM blobs;",
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn compact(&self) -> StoreResult<Compacted> {
        compact::compact(self).await
    }
}

#[cfg(test)]
mod tests;
