//! The types the store speaks: dataset groups, datasets and their attributes, schemas,
//! event trackers, batches of rows, what a purge and a compaction did, how a load writes,
//! and the claims of the job queue; with the column rules every backend applies.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{dataset_arn, StoreError, StoreResult};
use crate::jobs::model::{Job, Lease};

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
/// by resource ARN: see [`DatasetStore::tags`](super::DatasetStore::tags).)
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

/// Records read by key ([`DatasetStore::records_of`](super::DatasetStore::records_of)), with
/// their dataset's columns.
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
    pub(super) width: usize,
    pub(super) buf: String,
    pub(super) ends: Vec<usize>,
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

/// What [`DatasetStore::compact`](super::DatasetStore::compact) did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compacted {
    /// Users whose records were erased (counted once per dataset).
    pub users: u64,
    /// Records erased.
    pub records: u64,
    /// Pages gone through: SQLite's pages written since the last erasure, their unused
    /// bytes zeroed; PostgreSQL's pages of the tables it rewrote.
    pub pages_erased: u64,
    /// Bytes erased: zeroed in place (SQLite), or released by the rewrite (PostgreSQL).
    pub bytes_erased: u64,
    /// True when whole tables or the whole file were rewritten (PostgreSQL's `VACUUM FULL`;
    /// SQLite's `VACUUM`, only when most of the file is free).
    pub vacuumed: bool,
    /// False when the store could not finish moving its files into their final state (a
    /// reader of SQLite held an older snapshot): the next compaction does it.
    pub checkpointed: bool,
    /// Time taken.
    pub seconds: f64,
}

impl Compacted {
    /// Logs what an erasure did, when it erased records.
    pub fn log(&self) {
        if self.records > 0 {
            tracing::info!(
                users = self.users,
                records = self.records,
                pages = self.pages_erased,
                bytes = self.bytes_erased,
                vacuumed = self.vacuumed,
                seconds = self.seconds,
                "erased the records of deleted users"
            );
        }
    }
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
