//! The pluggable dataset store: dataset groups, schemas, datasets and their records, tags,
//! and the job queue.
//!
//! [`DatasetStore`] is the smallest contract a backend must meet; everything else is built on
//! it. It speaks only the types of this module and of the job model ([`crate::jobs::model`]),
//! and imports nothing from the layers above it. Backends: [`sqlite::SqliteStore`] (the
//! embedded default, one file) and [`memory::MemoryStore`] (nothing kept). Every backend runs
//! the same checks in the `conformance` module, in the way `object_store` tests all of its
//! stores with one suite. Dialect SQL and row formats stay inside their backend.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the [`DatasetStore`] trait |
//! | `types.rs` | the types it speaks: groups, datasets, schemas, row batches, load modes, claims |
//! | [`arn`] | ARNs, the keys of everything kept |
//! | [`error`] | [`StoreError`] |
//! | [`ids`] | [`UserIds`], the sorted IDs a purge takes |
//! | [`schema`] | Avro schemas and the rules for each dataset type |
//! | [`resource`] | the records and blobs of every other kind of resource |
//! | `conformance.rs` | the checks every backend passes |
//! | `spec.rs` | the row format of a job's request, shared by the SQL backends |
//! | `origin.rs`, `packing.rs`, `sort.rs` | shared by the SQL backends: which records were put one by one; packed records; the external sort |
//! | `stage.rs` | a load's rows received in full (in memory, or a temporary file) before a write lock is taken |
//! | [`memory`], [`sqlite`], [`postgres`] | the backends |

pub mod arn;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod ids;
pub mod matching;
pub mod memory;
mod origin;
mod packing;
pub mod postgres;
pub mod resource;
pub mod schema;
mod sort;
mod spec;
pub mod sqlite;
mod stage;
mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use self::arn::{dataset_arn, parse_dataset_arn, validate_name, ArnScope, DEFAULT_ACCOUNT_ID};
pub use self::error::{StoreError, StoreResult};
pub use self::ids::{IdSpill, UserIds};
pub use self::resource::{Blob, Resource};
pub use self::types::*;
use crate::jobs::model::{Job, JobKind, Lease};

/// The minimum a dataset store must provide.
///
/// Every write is atomic: a load or a purge that fails leaves the store as it was.
#[async_trait]
pub trait DatasetStore: Send + Sync + fmt::Debug + 'static {
    /// Creates a dataset group with its tags, in one transaction;
    /// [`StoreError::AlreadyExists`] if its ARN is taken. (Every `create_*` that takes tags
    /// writes them with the resource: a resource is never seen without the tags it was
    /// created with.)
    async fn create_dataset_group(&self, group: &DatasetGroup, tags: &[Tag]) -> StoreResult<()>;

    /// The group with this ARN, if any.
    async fn dataset_group(&self, arn: &str) -> StoreResult<Option<DatasetGroup>>;

    /// Every group, oldest first.
    async fn list_dataset_groups(&self) -> StoreResult<Vec<DatasetGroup>>;

    /// Deletes a group and its tags; [`StoreError::NotFound`] if there is none,
    /// [`StoreError::InUse`] while it still has datasets or an event tracker.
    async fn delete_dataset_group(&self, arn: &str) -> StoreResult<()>;

    /// Creates a dataset with its tags; [`StoreError::NotFound`] without its group (or its
    /// schema, when it names one), [`StoreError::AlreadyExists`] if the group has one of
    /// that type.
    async fn create_dataset(&self, dataset: &Dataset, tags: &[Tag]) -> StoreResult<()>;

    /// The group's datasets, in [`DatasetType::ALL`] order.
    async fn datasets(&self, group_arn: &str) -> StoreResult<Vec<Dataset>>;

    /// Deletes a dataset with all its records and tags; [`StoreError::NotFound`] if there is
    /// none.
    async fn delete_dataset(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<()>;

    /// Replaces a dataset's attributes with `attrs` and its columns with `columns` (a schema
    /// replaced), in one transaction: every record keeps its value in each column that
    /// stays, wherever it moves, and is null in a new one. [`StoreError::NotFound`] without
    /// the dataset; [`StoreError::Invalid`] if `columns` drops one of the dataset's.
    async fn update_dataset(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        columns: &[String],
        attrs: &DatasetAttrs,
    ) -> StoreResult<()>;

    /// Creates a schema; [`StoreError::AlreadyExists`] if its ARN is taken.
    async fn create_schema(&self, schema: &Schema) -> StoreResult<()>;

    /// The schema with this ARN, if any.
    async fn schema(&self, arn: &str) -> StoreResult<Option<Schema>>;

    /// Every schema, oldest first.
    async fn list_schemas(&self) -> StoreResult<Vec<Schema>>;

    /// Deletes a schema and its tags; [`StoreError::NotFound`] if there is none,
    /// [`StoreError::InUse`] while a dataset uses it.
    async fn delete_schema(&self, arn: &str) -> StoreResult<()>;

    /// The tags of the resource with this ARN (none for an unknown ARN: whether the resource
    /// exists is the caller's question).
    async fn tags(&self, arn: &str) -> StoreResult<Tags>;

    /// Replaces the tags of the resource with this ARN.
    async fn set_tags(&self, arn: &str, tags: &Tags) -> StoreResult<()>;

    /// Loads the rows of `batches` into a dataset in one transaction: [`LoadMode::Replace`]
    /// replaces its records, [`LoadMode::Append`] adds to them. If the stream yields an
    /// error, the dataset keeps its old records and that error is returned. With a
    /// `commit`, the job is written `Succeeded` in the same transaction, and nothing is
    /// written unless its lease is held ([`StoreError::LeaseLost`]): a job's load and its
    /// status are durable together or not at all. Returns the number of rows loaded.
    async fn load_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mode: LoadMode,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
        commit: Option<JobCommit>,
    ) -> StoreResult<u64>;

    /// Replaces every record of a dataset with the rows of `batches` (no job).
    async fn replace_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load_records(group_arn, dataset_type, LoadMode::Replace, batches, None)
            .await
    }

    /// Adds the rows of `batches` to a dataset (no job).
    async fn append_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load_records(group_arn, dataset_type, LoadMode::Append, batches, None)
            .await
    }

    /// How many records a dataset holds.
    async fn count_records(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<u64>;

    /// Every record of a dataset, in load order. For tests and small datasets.
    async fn records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
    ) -> StoreResult<Vec<Vec<String>>>;

    /// The dataset's columns and its records whose key ([`DatasetType::key_column`]: the
    /// user, item or action ID) is one of `keys`: the keys in the order given, each key's
    /// records in load order (`keys` are distinct); a purged user has none;
    /// [`StoreError::NotFound`] without the dataset. For answering one request (a user's
    /// history, a few items' metadata): a backend reads those keys' records only, through
    /// an index, in one read.
    async fn records_of(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        keys: &[String],
    ) -> StoreResult<Keyed>;

    /// The records of a dataset that arrived as `which` says, as a stream of batches of at
    /// most `batch_rows` rows, for exports of any size: a backend must not read them all at
    /// once. The records of one key (user, item or action) come in load order; otherwise the
    /// order is the backend's. [`StoreError::NotFound`] (as the stream's only item) if there
    /// is no such dataset.
    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
        which: Ingestion,
    ) -> BoxStream<'static, StoreResult<RowBatch>>;

    /// Deletes every record whose `USER_ID` is in `ids` from the group's user-bearing
    /// datasets (Users, Interactions, Action_Interactions) and writes the job `Succeeded`
    /// with `numDeleted`, all in ONE transaction and only while the job's lease is held:
    /// the job reads `COMPLETED` exactly when no read path sees the records (a backend may
    /// hide them at once and erase their bytes in [`DatasetStore::compact`]). Returns the
    /// counts and the job as stored.
    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIds>,
        commit: JobCommit,
    ) -> StoreResult<(PurgeCounts, Job)>;

    /// Creates an event tracker with its tags; [`StoreError::NotFound`] without its group,
    /// [`StoreError::AlreadyExists`] if its ARN or tracking ID is taken or its group has a
    /// tracker already.
    async fn create_event_tracker(&self, tracker: &EventTracker, tags: &[Tag]) -> StoreResult<()>;

    /// Every event tracker, oldest first.
    async fn event_trackers(&self) -> StoreResult<Vec<EventTracker>>;

    /// Deletes an event tracker and its tags; [`StoreError::NotFound`] if there is none.
    async fn delete_event_tracker(&self, arn: &str) -> StoreResult<()>;

    // Every other kind of resource (solutions, campaigns, ...), kept by ARN without knowing
    // its kind ([`resource`]).

    /// Creates a resource with its tags, in one transaction; [`StoreError::AlreadyExists`]
    /// if its ARN is taken.
    async fn create_resource(&self, resource: &Resource, tags: &[Tag]) -> StoreResult<()>;

    /// The resource with this ARN, if any.
    async fn resource(&self, arn: &str) -> StoreResult<Option<Resource>>;

    /// The resources of `kind`, oldest first (by creation time, then ARN), only those whose
    /// parent is `parent` when one is given.
    async fn list_resources(&self, kind: &str, parent: Option<&str>) -> StoreResult<Vec<Resource>>;

    /// Writes the records of `resources` (creating or replacing them) and `blobs` (replacing
    /// any under the same ARN), all in one transaction; with a `commit`, the job is written
    /// `Succeeded` in it too, and nothing is written unless its lease is held
    /// ([`StoreError::LeaseLost`]).
    async fn write_resources(
        &self,
        resources: &[Resource],
        blobs: &[Blob],
        commit: Option<JobCommit>,
    ) -> StoreResult<()>;

    /// Deletes a resource with its tags and its blob; [`StoreError::NotFound`] if there is
    /// none.
    async fn delete_resource(&self, arn: &str) -> StoreResult<()>;

    /// The blob stored under this ARN, if any.
    async fn blob(&self, arn: &str) -> StoreResult<Option<bytes::Bytes>>;

    // The job queue: one contract for every kind of job, safe for several workers.

    /// Records a new job as given (normally `Pending`) with its tags, in one transaction: no
    /// worker can claim it before its tags are written; [`StoreError::AlreadyExists`] if its
    /// ARN is taken.
    async fn create_job(&self, job: &Job, tags: &[Tag]) -> StoreResult<()>;

    /// The job with this ARN, if any.
    async fn job(&self, arn: &str) -> StoreResult<Option<Job>>;

    /// The jobs of one kind, newest first, optionally only those whose
    /// [`crate::jobs::JobSpec::target_arn`] is `target_arn`.
    async fn list_jobs(&self, kind: JobKind, target_arn: Option<&str>) -> StoreResult<Vec<Job>>;

    /// Overwrites a job's record outside any lease, for tools and tests (workers end jobs
    /// with [`DatasetStore::finish`]); a job put back to `Pending` loses its lease.
    /// [`StoreError::NotFound`] if it was never created.
    async fn update_job(&self, job: &Job) -> StoreResult<()>;

    /// Claims a job, atomically: the oldest claimable one of any kind ([`Claim::Next`], in
    /// creation order) or one by ARN. Claimable: `Pending`, or `InProgress` with an expired
    /// lease (or none). The claim moves it to `InProgress` and leases it to `worker` for
    /// `lease_for`, with a token larger than any earlier claim's. `None` when nothing is
    /// claimable. Two claimers never get the same job while its lease runs.
    async fn claim(
        &self,
        which: Claim<'_>,
        worker: &str,
        lease_for: Duration,
    ) -> StoreResult<Option<(Job, Lease)>>;

    /// [`DatasetStore::claim`] of the oldest claimable job.
    async fn claim_next(
        &self,
        worker: &str,
        lease_for: Duration,
    ) -> StoreResult<Option<(Job, Lease)>> {
        self.claim(Claim::Next, worker, lease_for).await
    }

    /// Extends a lease that is still held to `lease_for` from now; [`StoreError::LeaseLost`]
    /// if it expired or another claim took the job.
    async fn renew(&self, lease: &Lease, lease_for: Duration) -> StoreResult<Lease>;

    /// Writes a job's final record and releases its lease, only while `lease` is still held
    /// (the fencing check): [`StoreError::LeaseLost`] otherwise, with nothing written.
    async fn finish(&self, job: &Job, lease: &Lease) -> StoreResult<()>;

    /// Empties the store: every group, dataset, record, schema, event tracker, resource,
    /// blob, tag and job (of every kind) is gone.
    async fn reset(&self) -> StoreResult<()>;

    /// Finishes, outside any job's time, what jobs left for later: what a job committed is
    /// already durable and every read path sees it; this makes it final on disk. SQLite
    /// erases the records of users that purges tombstoned (their bytes overwritten) and
    /// copies its write-ahead log into the database file. Runners call it when a job has
    /// ended and when they start; `personalize-local compact` calls it on demand.
    async fn compact(&self) -> StoreResult<Compacted> {
        Ok(Compacted {
            checkpointed: true,
            ..Compacted::default()
        })
    }
}

/// The dataset a dataset ARN (`...:dataset/{group}/{TYPE}`) names, if it exists.
pub async fn dataset_by_arn(store: &dyn DatasetStore, arn: &str) -> StoreResult<Option<Dataset>> {
    let Some((group_arn, t)) = parse_dataset_arn(arn) else {
        return Ok(None);
    };
    Ok(store
        .datasets(&group_arn)
        .await?
        .into_iter()
        .find(|d| d.dataset_type == t))
}

/// Crash tests only: when the environment variable `PERSONALIZE_LOCAL_FAILPOINTS` (entries
/// separated by commas) names `name`, the process aborts here, as `kill -9` would stop it;
/// an entry `name:pause` stops the thread here instead (until the process is killed), so a
/// test can kill the process itself at this point, and `name:sleep=MS` holds it there for
/// `MS` milliseconds, so a test can break something under it (a database connection) and
/// let it go on. Backends call it at the points where a crash must not lose or repeat work.
pub fn failpoint(name: &str) {
    let Ok(points) = std::env::var("PERSONALIZE_LOCAL_FAILPOINTS") else {
        return;
    };
    for point in points.split(',').map(str::trim) {
        let (point, action) = point.split_once(':').unwrap_or((point, "abort"));
        if point != name {
            continue;
        }
        eprintln!("failpoint {name}: {action}");
        if let Some(ms) = action.strip_prefix("sleep=") {
            let ms = ms.parse().unwrap_or(1000);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return;
        }
        if action == "pause" {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        std::process::abort();
    }
}

/// A shared handle to any dataset store.
pub type DynDatasetStore = Arc<dyn DatasetStore>;
