//! The in-memory store: the reference implementation, for tests and throw-away runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};

use super::{
    Blob, Claim, Dataset, DatasetAttrs, DatasetGroup, DatasetStore, DatasetType, EventTracker,
    Ingestion, JobCommit, Keyed, LoadMode, PurgeCounts, Resource, RowBatch, Schema, StoreError,
    StoreResult, Tag, Tags, UserIds,
};
use crate::jobs::model::{Job, JobKind, Lease};

mod queue;
mod resources;

use self::queue::Queued;

/// A record's values, and whether it arrived one by one ([`LoadMode::Put`]).
#[derive(Debug, Clone)]
struct Record {
    values: Vec<String>,
    put: bool,
}

type Rows = Vec<Record>;

#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<String, DatasetGroup>,
    /// (group ARN, type) -> (dataset, rows).
    datasets: BTreeMap<(String, DatasetType), (Dataset, Rows)>,
    /// ARN -> the job, in creation order, with its lease.
    jobs: BTreeMap<String, Queued>,
    /// ARN -> (creation order, schema).
    schemas: BTreeMap<String, (u64, Schema)>,
    /// Resource ARN -> tags.
    tags: BTreeMap<String, Tags>,
    /// Event trackers, oldest first.
    trackers: Vec<EventTracker>,
    /// Resources of every other kind, by ARN.
    resources: BTreeMap<String, Resource>,
    /// Blobs, by ARN.
    blobs: BTreeMap<String, bytes::Bytes>,
    seq: u64,
}

impl State {
    /// A new resource's tags, stored with it under the same lock.
    fn add_tags(&mut self, arn: &str, tags: &[Tag]) {
        if !tags.is_empty() {
            self.tags.insert(arn.to_owned(), tags.to_vec());
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Everything in one mutex-guarded map. A std mutex is right here: no `.await` happens while
/// it is held, and every critical section is short, except a purge, which must be atomic.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave State half-written (every write is one statement
        // or done on a copy), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn dataset_key(group_arn: &str, t: DatasetType) -> (String, DatasetType) {
    (group_arn.to_owned(), t)
}

fn dataset_name(group_arn: &str, t: DatasetType) -> String {
    format!("{t} dataset of {group_arn}")
}

impl MemoryStore {
    /// Reads every batch, then swaps the new rows in (and finishes the job): all or nothing.
    async fn load(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mut batches: BoxStream<'static, StoreResult<RowBatch>>,
        mode: LoadMode,
        commit: Option<JobCommit>,
    ) -> StoreResult<u64> {
        let put = mode == LoadMode::Put;
        let key = dataset_key(group_arn, dataset_type);
        let (width, id_col) = match self.lock().datasets.get(&key) {
            Some((d, _)) => (d.columns.len(), key_column(d)),
            None => return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type))),
        };
        let mut rows: Rows = Vec::new();
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            batch.check_width(width)?;
            for i in 0..batch.rows() {
                let values = batch.row(i).map(str::to_owned).collect();
                rows.push(Record { values, put });
            }
        }
        let n = rows.len() as u64;
        let mut s = self.lock();
        if !s.datasets.contains_key(&key) {
            return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type)));
        }
        // The job's status first: if its lease is lost, nothing is written.
        if let Some(c) = commit {
            s.finish(&c.job.clone().succeeded(None), &c.lease)?;
        }
        let Some(entry) = s.datasets.get_mut(&key) else {
            return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type)));
        };
        // A full load keeps the records put one by one, and is then an append, as in the
        // SQL backends; with none, it replaces every record.
        let puts = entry.1.iter().any(|r| r.put);
        if !mode.appends() {
            entry.1.retain(|r| r.put);
        }
        if !mode.appends() && !puts {
            entry.1 = rows;
        } else if dataset_type.keyed_by_id() {
            // The last row of an id wins and, like any new record, comes last in load order.
            for row in rows {
                entry.1.retain(|r| r.values[id_col] != row.values[id_col]);
                entry.1.push(row);
            }
        } else {
            entry.1.extend(rows);
        }
        Ok(n)
    }
}

fn key_column(d: &Dataset) -> usize {
    d.columns
        .iter()
        .position(|c| c == d.dataset_type.key_column())
        .unwrap_or(0)
}

#[async_trait]
impl DatasetStore for MemoryStore {
    async fn create_dataset_group(&self, group: &DatasetGroup, tags: &[Tag]) -> StoreResult<()> {
        let mut s = self.lock();
        if s.groups.contains_key(&group.dataset_group_arn) {
            return Err(StoreError::AlreadyExists(group.dataset_group_arn.clone()));
        }
        s.groups
            .insert(group.dataset_group_arn.clone(), group.clone());
        s.add_tags(&group.dataset_group_arn, tags);
        Ok(())
    }

    async fn dataset_group(&self, arn: &str) -> StoreResult<Option<DatasetGroup>> {
        Ok(self.lock().groups.get(arn).cloned())
    }

    async fn list_dataset_groups(&self) -> StoreResult<Vec<DatasetGroup>> {
        let s = self.lock();
        let mut groups: Vec<DatasetGroup> = s.groups.values().cloned().collect();
        groups.sort_by(|a, b| {
            a.creation_date_time
                .total_cmp(&b.creation_date_time)
                .then_with(|| a.dataset_group_arn.cmp(&b.dataset_group_arn))
        });
        Ok(groups)
    }

    async fn delete_dataset_group(&self, arn: &str) -> StoreResult<()> {
        let mut s = self.lock();
        if !s.groups.contains_key(arn) {
            return Err(StoreError::NotFound(arn.to_owned()));
        }
        if s.datasets.keys().any(|(g, _)| g == arn) {
            return Err(StoreError::InUse(format!(
                "the dataset group {arn} still has datasets; delete them first"
            )));
        }
        if let Some(t) = s.trackers.iter().find(|t| t.dataset_group_arn == arn) {
            return Err(StoreError::InUse(format!(
                "the dataset group {arn} still has the event tracker {}; delete it first",
                t.event_tracker_arn
            )));
        }
        s.groups.remove(arn);
        s.tags.remove(arn);
        Ok(())
    }

    async fn create_dataset(&self, dataset: &Dataset, tags: &[Tag]) -> StoreResult<()> {
        super::validate_columns(dataset.dataset_type, &dataset.columns)
            .map_err(StoreError::Invalid)?;
        let mut s = self.lock();
        if !s.groups.contains_key(&dataset.dataset_group_arn) {
            return Err(StoreError::NotFound(dataset.dataset_group_arn.clone()));
        }
        if let Some(schema) = &dataset.attrs.schema_arn {
            if !s.schemas.contains_key(schema) {
                return Err(StoreError::NotFound(schema.clone()));
            }
        }
        let key = dataset_key(&dataset.dataset_group_arn, dataset.dataset_type);
        if s.datasets.contains_key(&key) {
            return Err(StoreError::AlreadyExists(dataset_name(&key.0, key.1)));
        }
        s.datasets.insert(key, (dataset.clone(), Vec::new()));
        s.add_tags(&dataset.arn(), tags);
        Ok(())
    }

    async fn datasets(&self, group_arn: &str) -> StoreResult<Vec<Dataset>> {
        let s = self.lock();
        Ok(DatasetType::ALL
            .iter()
            .filter_map(|t| {
                s.datasets
                    .get(&dataset_key(group_arn, *t))
                    .map(|(d, _)| d.clone())
            })
            .collect())
    }

    async fn delete_dataset(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<()> {
        let mut s = self.lock();
        match s.datasets.remove(&dataset_key(group_arn, dataset_type)) {
            Some((d, _)) => {
                s.tags.remove(&d.arn());
                Ok(())
            }
            None => Err(StoreError::NotFound(dataset_name(group_arn, dataset_type))),
        }
    }

    async fn update_dataset(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        columns: &[String],
        attrs: &DatasetAttrs,
    ) -> StoreResult<()> {
        super::validate_columns(dataset_type, columns).map_err(StoreError::Invalid)?;
        let mut s = self.lock();
        let Some((dataset, rows)) = s.datasets.get_mut(&dataset_key(group_arn, dataset_type))
        else {
            return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type)));
        };
        let map = super::column_map(&dataset.columns, columns)?;
        for r in rows.iter_mut() {
            r.values = super::remap(&map, &r.values).map(str::to_owned).collect();
        }
        dataset.columns = columns.to_vec();
        dataset.attrs = attrs.clone();
        Ok(())
    }

    async fn create_schema(&self, schema: &Schema) -> StoreResult<()> {
        let mut s = self.lock();
        if s.schemas.contains_key(&schema.schema_arn) {
            return Err(StoreError::AlreadyExists(schema.schema_arn.clone()));
        }
        let seq = s.next_seq();
        s.schemas
            .insert(schema.schema_arn.clone(), (seq, schema.clone()));
        Ok(())
    }

    async fn schema(&self, arn: &str) -> StoreResult<Option<Schema>> {
        Ok(self.lock().schemas.get(arn).map(|(_, s)| s.clone()))
    }

    async fn list_schemas(&self) -> StoreResult<Vec<Schema>> {
        let s = self.lock();
        let mut schemas: Vec<&(u64, Schema)> = s.schemas.values().collect();
        schemas.sort_by_key(|(seq, _)| *seq);
        Ok(schemas.into_iter().map(|(_, s)| s.clone()).collect())
    }

    async fn delete_schema(&self, arn: &str) -> StoreResult<()> {
        let mut s = self.lock();
        if !s.schemas.contains_key(arn) {
            return Err(StoreError::NotFound(arn.to_owned()));
        }
        if let Some((d, _)) = s
            .datasets
            .values()
            .find(|(d, _)| d.attrs.schema_arn.as_deref() == Some(arn))
        {
            return Err(StoreError::InUse(format!(
                "the schema {arn} is used by the dataset {}; delete it first",
                d.arn()
            )));
        }
        s.schemas.remove(arn);
        s.tags.remove(arn);
        Ok(())
    }

    async fn tags(&self, arn: &str) -> StoreResult<Tags> {
        Ok(self.lock().tags.get(arn).cloned().unwrap_or_default())
    }

    async fn set_tags(&self, arn: &str, tags: &Tags) -> StoreResult<()> {
        let mut s = self.lock();
        if tags.is_empty() {
            s.tags.remove(arn);
        } else {
            s.tags.insert(arn.to_owned(), tags.clone());
        }
        Ok(())
    }

    async fn create_event_tracker(&self, tracker: &EventTracker, tags: &[Tag]) -> StoreResult<()> {
        let mut s = self.lock();
        if !s.groups.contains_key(&tracker.dataset_group_arn) {
            return Err(StoreError::NotFound(tracker.dataset_group_arn.clone()));
        }
        if let Some(t) = s.trackers.iter().find(|t| {
            t.event_tracker_arn == tracker.event_tracker_arn
                || t.tracking_id == tracker.tracking_id
                || t.dataset_group_arn == tracker.dataset_group_arn
        }) {
            return Err(StoreError::AlreadyExists(t.event_tracker_arn.clone()));
        }
        s.trackers.push(tracker.clone());
        s.add_tags(&tracker.event_tracker_arn, tags);
        Ok(())
    }

    async fn event_trackers(&self) -> StoreResult<Vec<EventTracker>> {
        Ok(self.lock().trackers.clone())
    }

    async fn delete_event_tracker(&self, arn: &str) -> StoreResult<()> {
        let mut s = self.lock();
        let before = s.trackers.len();
        s.trackers.retain(|t| t.event_tracker_arn != arn);
        if s.trackers.len() == before {
            return Err(StoreError::NotFound(arn.to_owned()));
        }
        s.tags.remove(arn);
        Ok(())
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
        let s = self.lock();
        match s.datasets.get(&dataset_key(group_arn, dataset_type)) {
            Some((_, rows)) => Ok(rows.len() as u64),
            None => Err(StoreError::NotFound(dataset_name(group_arn, dataset_type))),
        }
    }

    async fn records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
    ) -> StoreResult<Vec<Vec<String>>> {
        let s = self.lock();
        match s.datasets.get(&dataset_key(group_arn, dataset_type)) {
            Some((_, rows)) => Ok(rows.iter().map(|r| r.values.clone()).collect()),
            None => Err(StoreError::NotFound(dataset_name(group_arn, dataset_type))),
        }
    }

    async fn records_of(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        keys: &[String],
    ) -> StoreResult<Keyed> {
        let s = self.lock();
        let Some((dataset, rows)) = s.datasets.get(&dataset_key(group_arn, dataset_type)) else {
            return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type)));
        };
        let k = key_column(dataset);
        let mut out = Vec::new();
        for key in keys {
            out.extend(
                rows.iter()
                    .filter(|r| &r.values[k] == key)
                    .map(|r| r.values.clone()),
            );
        }
        Ok(Keyed {
            columns: dataset.columns.clone(),
            rows: out,
        })
    }

    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
        which: Ingestion,
    ) -> BoxStream<'static, StoreResult<RowBatch>> {
        let s = self.lock();
        let Some((dataset, rows)) = s.datasets.get(&dataset_key(group_arn, dataset_type)) else {
            let missing = StoreError::NotFound(dataset_name(group_arn, dataset_type));
            return futures::stream::once(async { Err(missing) }).boxed();
        };
        let width = dataset.columns.len();
        let taken: Vec<&Record> = rows.iter().filter(|r| which.takes(r.put)).collect();
        let batches: Vec<StoreResult<RowBatch>> = taken
            .chunks(batch_rows.max(1))
            .map(|chunk| {
                let mut b = RowBatch::new(width);
                for r in chunk {
                    b.push_row(r.values.iter().map(String::as_str));
                }
                Ok(b)
            })
            .collect();
        futures::stream::iter(batches).boxed()
    }

    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIds>,
        commit: JobCommit,
    ) -> StoreResult<(PurgeCounts, Job)> {
        let mut s = self.lock();
        if !s.groups.contains_key(group_arn) {
            return Err(StoreError::NotFound(group_arn.to_owned()));
        }
        // Everything happens under one lock, and nothing is written until the job record
        // is known to be writable: no reader sees a half-purged group.
        let mut counts = PurgeCounts::default();
        let mut kept: Vec<(DatasetType, Rows)> = Vec::new();
        for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
            if let Some((dataset, rows)) = s.datasets.get(&dataset_key(group_arn, t)) {
                let col = key_column(dataset);
                let remaining: Rows = rows
                    .iter()
                    .filter(|r| !ids.contains(&r.values[col]))
                    .cloned()
                    .collect();
                counts
                    .per_dataset
                    .push((t, (rows.len() - remaining.len()) as u64));
                kept.push((t, remaining));
            }
        }
        let job = commit.job.succeeded(Some(counts.total()));
        s.finish(&job, &commit.lease)?;
        for (t, rows) in kept {
            if let Some(entry) = s.datasets.get_mut(&dataset_key(group_arn, t)) {
                entry.1 = rows;
            }
        }
        Ok((counts, job))
    }

    async fn create_resource(&self, resource: &Resource, tags: &[Tag]) -> StoreResult<()> {
        self.lock().create_resource(resource, tags)
    }

    async fn resource(&self, arn: &str) -> StoreResult<Option<Resource>> {
        Ok(self.lock().resources.get(arn).cloned())
    }

    async fn list_resources(&self, kind: &str, parent: Option<&str>) -> StoreResult<Vec<Resource>> {
        Ok(self.lock().list_resources(kind, parent))
    }

    async fn write_resources(
        &self,
        resources: &[Resource],
        blobs: &[Blob],
        commit: Option<JobCommit>,
    ) -> StoreResult<()> {
        self.lock().write_resources(resources, blobs, commit)
    }

    async fn delete_resource(&self, arn: &str) -> StoreResult<()> {
        self.lock().delete_resource(arn)
    }

    async fn blob(&self, arn: &str) -> StoreResult<Option<bytes::Bytes>> {
        Ok(self.lock().blob(arn))
    }

    async fn create_job(&self, job: &Job, tags: &[Tag]) -> StoreResult<()> {
        self.lock().create_job(job, tags)
    }

    async fn job(&self, arn: &str) -> StoreResult<Option<Job>> {
        Ok(self.lock().jobs.get(arn).map(|q| q.job.clone()))
    }

    async fn list_jobs(&self, kind: JobKind, target_arn: Option<&str>) -> StoreResult<Vec<Job>> {
        Ok(self.lock().list_jobs(kind, target_arn))
    }

    async fn update_job(&self, job: &Job) -> StoreResult<()> {
        self.lock().update_job(job)
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        worker: &str,
        lease_for: Duration,
    ) -> StoreResult<Option<(Job, Lease)>> {
        Ok(self.lock().claim(which, worker, lease_for))
    }

    async fn renew(&self, lease: &Lease, lease_for: Duration) -> StoreResult<Lease> {
        self.lock().renew(lease, lease_for)
    }

    async fn finish(&self, job: &Job, lease: &Lease) -> StoreResult<()> {
        self.lock().finish(job, lease)
    }

    async fn reset(&self) -> StoreResult<()> {
        *self.lock() = State::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance() {
        let store = super::MemoryStore::new();
        super::super::conformance::run_all(&store).await;
    }
}
