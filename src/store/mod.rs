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
//! | `mod.rs` | the resource types and the [`DatasetStore`] trait |
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

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use self::arn::{dataset_arn, parse_dataset_arn, validate_name, ArnScope, DEFAULT_ACCOUNT_ID};
pub use self::error::{StoreError, StoreResult};
pub use self::ids::{IdSpill, UserIds};
pub use self::resource::{Blob, Resource};
use crate::jobs::model::{Job, JobKind, Lease};

/// The longest ID (user, item or action), in characters: the service's limit.
pub const MAX_ID_CHARS: usize = 256;

/// The dataset types of a dataset group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DatasetType {
    /// Item interactions: `USER_ID`, `ITEM_ID`, `TIMESTAMP`, ...
    Interactions,
    /// Item metadata: `ITEM_ID`, ...
    Items,
    /// User metadata: `USER_ID`, ...
    Users,
    /// Action metadata: `ACTION_ID`, ...
    Actions,
    /// Action interactions: `USER_ID`, `ACTION_ID`, `TIMESTAMP`, `EVENT_TYPE`, ...
    #[serde(rename = "Action_Interactions")]
    ActionInteractions,
}

impl DatasetType {
    /// Every type, in a fixed order.
    pub const ALL: [DatasetType; 5] = [
        DatasetType::Interactions,
        DatasetType::Items,
        DatasetType::Users,
        DatasetType::Actions,
        DatasetType::ActionInteractions,
    ];

    /// The service's name for the type (`CreateDataset`'s `datasetType`).
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetType::Interactions => "Interactions",
            DatasetType::Items => "Items",
            DatasetType::Users => "Users",
            DatasetType::Actions => "Actions",
            DatasetType::ActionInteractions => "Action_Interactions",
        }
    }

    /// The upper-case form used in dataset ARNs (`dataset/{group}/INTERACTIONS`).
    pub fn arn_suffix(self) -> &'static str {
        match self {
            DatasetType::Interactions => "INTERACTIONS",
            DatasetType::Items => "ITEMS",
            DatasetType::Users => "USERS",
            DatasetType::Actions => "ACTIONS",
            DatasetType::ActionInteractions => "ACTION_INTERACTIONS",
        }
    }

    /// The column a record of this type must have and that records are clustered by:
    /// `USER_ID` for the types a data deletion job purges, else the item or action id.
    pub fn key_column(self) -> &'static str {
        match self {
            DatasetType::Users | DatasetType::Interactions | DatasetType::ActionInteractions => {
                "USER_ID"
            }
            DatasetType::Items => "ITEM_ID",
            DatasetType::Actions => "ACTION_ID",
        }
    }

    /// True for the metadata types (Users, Items, Actions): one record per id, so an
    /// incremental load replaces the record of an id it holds again.
    pub fn keyed_by_id(self) -> bool {
        matches!(
            self,
            DatasetType::Users | DatasetType::Items | DatasetType::Actions
        )
    }

    /// True for the types whose records a data deletion job removes.
    pub fn holds_users(self) -> bool {
        self.key_column() == "USER_ID"
    }
}

impl fmt::Display for DatasetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetType {
    type Err = String;
    /// Case-insensitive, as the service documents for `datasetType`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown dataset type {s:?}: expected Interactions, Items, Users, Actions or Action_Interactions")
            })
    }
}

/// A dataset group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetGroup {
    /// The group's name.
    pub name: String,
    /// `arn:aws:personalize:{region}:{account}:dataset-group/{name}`; the store's key.
    pub dataset_group_arn: String,
    /// Epoch seconds.
    pub creation_date_time: f64,
    /// Everything else the API records about the group.
    #[serde(flatten)]
    pub attrs: GroupAttrs,
}

/// What `CreateDatasetGroup` records besides the name, kept as given. (Tags are kept apart,
/// by resource ARN: see [`DatasetStore::tags`].)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupAttrs {
    /// The IAM role for the KMS key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role_arn: Option<String>,
    /// The KMS key that would encrypt the group's data.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kms_key_arn: Option<String>,
    /// `ECOMMERCE` or `VIDEO_ON_DEMAND` for a domain dataset group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub domain: Option<String>,
}

/// Records read by key ([`DatasetStore::records_of`]), with their dataset's columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keyed {
    /// The dataset's columns, in the records' order.
    pub columns: Vec<String>,
    /// The records.
    pub rows: Vec<Vec<String>>,
}

impl Keyed {
    /// The position of `column`, if the dataset has it.
    pub fn column(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }
}

/// A resource's tags, as `(key, value)` in the order they were first set.
pub type Tags = Vec<Tag>;

/// One tag: its key and value.
pub type Tag = (String, String);

/// A dataset: one type within a group, with the columns its records have.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// The group it belongs to.
    pub dataset_group_arn: String,
    /// Its type (one dataset per type per group).
    pub dataset_type: DatasetType,
    /// Column names, in order; always includes the type's [`DatasetType::key_column`].
    pub columns: Vec<String>,
    /// Everything else the API records about the dataset.
    #[serde(flatten)]
    pub attrs: DatasetAttrs,
}

impl Dataset {
    /// `arn:aws:personalize:{region}:{account}:dataset/{group name}/{TYPE}`.
    pub fn arn(&self) -> String {
        dataset_arn(&self.dataset_group_arn, self.dataset_type)
    }
}

/// What `CreateDataset` records besides the group, type and columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetAttrs {
    /// The dataset's name.
    pub name: String,
    /// The schema its columns come from; none for a dataset made by the `import` command
    /// from a CSV header.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schema_arn: Option<String>,
    /// Epoch seconds.
    #[serde(default)]
    pub creation_date_time: f64,
    /// The ID `PutActionInteractions` names an Action_Interactions dataset by (the service
    /// makes one with the dataset); none for other types.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tracking_id: Option<String>,
    /// The dataset's last schema replacement (`UpdateDataset`), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latest_update: Option<DatasetUpdate>,
}

/// A replacement of a dataset's schema, as `DescribeDataset`'s `latestDatasetUpdate` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetUpdate {
    /// The schema asked for.
    pub schema_arn: String,
    /// Why the schema could not replace the dataset's (which kept its own); none when it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_reason: Option<String>,
    /// Epoch seconds.
    pub creation_date_time: f64,
}

/// For each of `new` columns, the position among `old` of the column of that name (`None`: a
/// new column, null in every record); [`StoreError::Invalid`] if `new` lacks one of `old`.
pub fn column_map(old: &[String], new: &[String]) -> StoreResult<Vec<Option<usize>>> {
    if let Some(dropped) = old.iter().find(|c| !new.contains(c)) {
        return Err(StoreError::Invalid(format!(
            "the column {dropped} would be dropped; a dataset's columns can only be added to"
        )));
    }
    Ok(new
        .iter()
        .map(|c| old.iter().position(|o| o == c))
        .collect())
}

/// A record's values in the new column order ([`column_map`]).
pub fn remap<'a>(map: &'a [Option<usize>], values: &'a [String]) -> impl Iterator<Item = &'a str> {
    map.iter()
        .map(move |i| i.map_or("", |i| values[i].as_str()))
}

/// An event tracker: what `PutEvents` names by its tracking ID to append interactions to a
/// group's Interactions dataset. A group has at most one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTracker {
    /// The tracker's name.
    pub name: String,
    /// `arn:aws:personalize:{region}:{account}:event-tracker/{id}`; the store's key.
    pub event_tracker_arn: String,
    /// The ID `PutEvents` carries; unique in the store.
    pub tracking_id: String,
    /// The group it feeds.
    pub dataset_group_arn: String,
    /// Epoch seconds.
    pub creation_date_time: f64,
}

impl DatasetAttrs {
    /// A new dataset's tracking ID: a fresh UUID for an Action_Interactions dataset, none
    /// for the other types.
    pub fn new_tracking_id(t: DatasetType) -> Option<String> {
        (t == DatasetType::ActionInteractions).then(|| uuid::Uuid::new_v4().to_string())
    }
}

/// A schema: an Avro record, account-wide, used by datasets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// The schema's name.
    pub name: String,
    /// `arn:aws:personalize:{region}:{account}:schema/{name}`; the store's key.
    pub schema_arn: String,
    /// The Avro JSON, as given.
    pub schema: String,
    /// `ECOMMERCE` or `VIDEO_ON_DEMAND` for a domain schema.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub domain: Option<String>,
    /// Epoch seconds.
    pub creation_date_time: f64,
}

/// Rows to load, packed flat: `width` values per row, concatenated in `buf`, each ending at
/// the matching offset in `ends`. One allocation per batch instead of one per value.
#[derive(Debug, Clone, Default)]
pub struct RowBatch {
    width: usize,
    buf: String,
    ends: Vec<usize>,
}

impl RowBatch {
    /// An empty batch of rows with `width` columns.
    pub fn new(width: usize) -> Self {
        RowBatch {
            width: width.max(1),
            buf: String::new(),
            ends: Vec::new(),
        }
    }

    /// Appends one value; every `width` values make a row.
    pub fn push_value(&mut self, value: &str) {
        self.buf.push_str(value);
        self.ends.push(self.buf.len());
    }

    /// Appends a whole row. Panics in debug builds if its width is wrong.
    pub fn push_row<'a>(&mut self, row: impl IntoIterator<Item = &'a str>) {
        let before = self.ends.len();
        for v in row {
            self.push_value(v);
        }
        debug_assert_eq!(self.ends.len() - before, self.width);
    }

    /// Columns per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// [`StoreError::Invalid`] unless the rows have the dataset's `width` columns.
    pub fn check_width(&self, width: usize) -> StoreResult<()> {
        if self.width != width {
            return Err(StoreError::Invalid(format!(
                "rows have {} values, the dataset has {width} columns",
                self.width
            )));
        }
        Ok(())
    }

    /// Complete rows held.
    pub fn rows(&self) -> usize {
        self.ends.len() / self.width
    }

    /// Bytes of values held.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Row `i`'s values.
    pub fn row(&self, i: usize) -> impl Iterator<Item = &str> + '_ {
        let first = i * self.width;
        (first..first + self.width).map(move |j| {
            let start = if j == 0 { 0 } else { self.ends[j - 1] };
            &self.buf[start..self.ends[j]]
        })
    }
}

/// Records removed by a purge, per dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeCounts {
    /// `(dataset type, records deleted)` for each purged dataset of the group, in
    /// [`DatasetType::ALL`] order.
    pub per_dataset: Vec<(DatasetType, u64)>,
    /// Time spent making the purge durable, when the store can tell it apart (zero
    /// otherwise).
    #[serde(skip)]
    pub commit: Duration,
}

impl PurgeCounts {
    /// Records deleted across all datasets: the job's `numDeleted`.
    pub fn total(&self) -> u64 {
        self.per_dataset.iter().map(|(_, n)| n).sum()
    }
}

/// What [`DatasetStore::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compacted {
    /// Users whose records were erased (counted once per dataset).
    pub users: u64,
    /// Records erased.
    pub records: u64,
    /// False when the store could not finish moving its files into their final state (a
    /// reader of SQLite held an older snapshot): the next compaction does it.
    pub checkpointed: bool,
    /// Time taken.
    pub seconds: f64,
}

/// How a load treats the records a dataset already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// They are all replaced (a `FULL` import).
    Replace,
    /// They stay (an `INCREMENTAL` import); in a dataset [`DatasetType::keyed_by_id`], those
    /// of an id loaded again are replaced.
    Append,
    /// As [`LoadMode::Append`], for records that arrived one by one (`personalize-events`):
    /// they are marked so, a scan can take them apart ([`Ingestion`]), and a
    /// [`LoadMode::Replace`] keeps them (it then adds its records as an append does, so in a
    /// dataset keyed by id a new record replaces the put one of its id).
    Put,
}

impl LoadMode {
    /// Whether the records a dataset holds stay (all but those of ids loaded again).
    pub fn appends(self) -> bool {
        matches!(self, LoadMode::Append | LoadMode::Put)
    }
}

/// Which records a scan reads, by how they arrived (an export job's `ingestionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ingestion {
    /// Those loaded in bulk (imports, [`LoadMode::Replace`] and [`LoadMode::Append`]).
    Bulk,
    /// Those that arrived one by one ([`LoadMode::Put`]).
    Put,
    /// Every record.
    #[default]
    All,
}

impl Ingestion {
    /// Whether a record put one by one (`put`) or loaded in bulk is read.
    pub fn takes(self, put: bool) -> bool {
        match self {
            Ingestion::Bulk => !put,
            Ingestion::Put => put,
            Ingestion::All => true,
        }
    }
}

impl FromStr for Ingestion {
    type Err = String;
    /// `BULK`, `PUT` or `ALL`, as `ingestionMode` names them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "BULK" => Ok(Ingestion::Bulk),
            "PUT" => Ok(Ingestion::Put),
            "ALL" => Ok(Ingestion::All),
            _ => Err(format!(
                "unknown ingestion mode {s:?}: expected BULK, PUT or ALL"
            )),
        }
    }
}

/// A job whose writes commit with its terminal status: the store writes the job
/// `Succeeded` in the same transaction as the records, and only while `lease` is held.
#[derive(Debug, Clone)]
pub struct JobCommit {
    /// The job, as its worker holds it.
    pub job: Job,
    /// The worker's lease on it.
    pub lease: Lease,
}

/// Which job a claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// The oldest claimable job of any kind.
    Next,
    /// This job, if it is claimable.
    Job(&'a str),
}

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

/// Checks a column name: letters, digits and `_`, not starting with a digit (Avro names).
pub fn validate_column(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') || name.len() > 150 {
        return Err(format!(
            "invalid column name {name:?}: names are letters, digits and '_', not starting with a digit"
        ));
    }
    Ok(())
}

/// Checks a dataset's columns: valid, unique, and holding the type's key column.
pub fn validate_columns(dataset_type: DatasetType, columns: &[String]) -> Result<(), String> {
    for (i, c) in columns.iter().enumerate() {
        validate_column(c)?;
        if columns[..i].contains(c) {
            return Err(format!("column {c:?} appears twice"));
        }
    }
    let key = dataset_type.key_column();
    if !columns.iter().any(|c| c == key) {
        return Err(format!(
            "a {dataset_type} dataset needs a {key} column; found {}",
            columns.join(",")
        ));
    }
    Ok(())
}
