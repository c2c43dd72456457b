//! The in-memory store: the reference implementation, for tests and throw-away runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};

use super::{
    Dataset, DatasetGroup, DatasetStore, DatasetType, FinishJob, PurgeCounts, RowBatch, Schema,
    StoreError, StoreResult, Tags,
};
use crate::deletion::dedupe::UserIdSet;
use crate::export::DatasetExportJob;
use crate::import_job::DatasetImportJob;
use crate::job::DataDeletionJob;

type Rows = Vec<Vec<String>>;

#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<String, DatasetGroup>,
    /// (group ARN, type) -> (dataset, rows).
    datasets: BTreeMap<(String, DatasetType), (Dataset, Rows)>,
    /// ARN -> (creation order, job).
    jobs: BTreeMap<String, (u64, DataDeletionJob)>,
    /// ARN -> (creation order, import job).
    import_jobs: BTreeMap<String, (u64, DatasetImportJob)>,
    /// ARN -> (creation order, export job).
    export_jobs: BTreeMap<String, (u64, DatasetExportJob)>,
    /// ARN -> (creation order, schema).
    schemas: BTreeMap<String, (u64, Schema)>,
    /// Resource ARN -> tags.
    tags: BTreeMap<String, Tags>,
    seq: u64,
}

impl State {
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
    /// Reads every batch, then swaps the new rows in: all or nothing.
    async fn load(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mut batches: BoxStream<'static, StoreResult<RowBatch>>,
        append: bool,
    ) -> StoreResult<u64> {
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
                rows.push(batch.row(i).map(str::to_owned).collect());
            }
        }
        let n = rows.len() as u64;
        let mut s = self.lock();
        let Some(entry) = s.datasets.get_mut(&key) else {
            return Err(StoreError::NotFound(dataset_name(group_arn, dataset_type)));
        };
        if !append {
            entry.1 = rows;
        } else if dataset_type.keyed_by_id() {
            // The last row of an id wins and, like any new record, comes last in load order.
            for row in rows {
                entry.1.retain(|r| r[id_col] != row[id_col]);
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
    async fn create_dataset_group(&self, group: &DatasetGroup) -> StoreResult<()> {
        let mut s = self.lock();
        if s.groups.contains_key(&group.dataset_group_arn) {
            return Err(StoreError::AlreadyExists(group.dataset_group_arn.clone()));
        }
        s.groups
            .insert(group.dataset_group_arn.clone(), group.clone());
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
        s.groups.remove(arn);
        s.tags.remove(arn);
        Ok(())
    }

    async fn create_dataset(&self, dataset: &Dataset) -> StoreResult<()> {
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

    async fn replace_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load(group_arn, dataset_type, batches, false).await
    }

    async fn append_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
    ) -> StoreResult<u64> {
        self.load(group_arn, dataset_type, batches, true).await
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
            Some((_, rows)) => Ok(rows.clone()),
            None => Err(StoreError::NotFound(dataset_name(group_arn, dataset_type))),
        }
    }

    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
    ) -> BoxStream<'static, StoreResult<RowBatch>> {
        let s = self.lock();
        let Some((dataset, rows)) = s.datasets.get(&dataset_key(group_arn, dataset_type)) else {
            let missing = StoreError::NotFound(dataset_name(group_arn, dataset_type));
            return futures::stream::once(async { Err(missing) }).boxed();
        };
        let width = dataset.columns.len();
        let batches: Vec<StoreResult<RowBatch>> = rows
            .chunks(batch_rows.max(1))
            .map(|chunk| {
                let mut b = RowBatch::new(width);
                for r in chunk {
                    b.push_row(r.iter().map(String::as_str));
                }
                Ok(b)
            })
            .collect();
        futures::stream::iter(batches).boxed()
    }

    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIdSet>,
        finish: FinishJob,
    ) -> StoreResult<(PurgeCounts, DataDeletionJob)> {
        let mut s = self.lock();
        if !s.groups.contains_key(group_arn) {
            return Err(StoreError::NotFound(group_arn.to_owned()));
        }
        // Everything happens under one lock, and nothing is written until the job record
        // is known to be writable: no reader sees a half-purged group.
        let mut counts = PurgeCounts::default();
        let mut kept: Vec<(DatasetType, Vec<Vec<String>>)> = Vec::new();
        for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
            if let Some((dataset, rows)) = s.datasets.get(&dataset_key(group_arn, t)) {
                let col = dataset
                    .columns
                    .iter()
                    .position(|c| c == "USER_ID")
                    .unwrap_or(0);
                let remaining: Vec<Vec<String>> = rows
                    .iter()
                    .filter(|r| !ids.contains(&r[col]))
                    .cloned()
                    .collect();
                counts
                    .per_dataset
                    .push((t, (rows.len() - remaining.len()) as u64));
                kept.push((t, remaining));
            }
        }
        let job = finish(&counts);
        let Some(entry) = s.jobs.get_mut(&job.data_deletion_job_arn) else {
            return Err(StoreError::NotFound(job.data_deletion_job_arn));
        };
        entry.1 = job.clone();
        for (t, rows) in kept {
            if let Some(entry) = s.datasets.get_mut(&dataset_key(group_arn, t)) {
                entry.1 = rows;
            }
        }
        Ok((counts, job))
    }

    async fn create_job(&self, job: &DataDeletionJob) -> StoreResult<()> {
        let mut s = self.lock();
        if s.jobs.contains_key(&job.data_deletion_job_arn) {
            return Err(StoreError::AlreadyExists(job.data_deletion_job_arn.clone()));
        }
        let seq = s.next_seq();
        s.jobs
            .insert(job.data_deletion_job_arn.clone(), (seq, job.clone()));
        Ok(())
    }

    async fn update_job(&self, job: &DataDeletionJob) -> StoreResult<()> {
        match self.lock().jobs.get_mut(&job.data_deletion_job_arn) {
            Some(entry) => {
                entry.1 = job.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound(job.data_deletion_job_arn.clone())),
        }
    }

    async fn job(&self, arn: &str) -> StoreResult<Option<DataDeletionJob>> {
        Ok(self.lock().jobs.get(arn).map(|(_, j)| j.clone()))
    }

    async fn create_import_job(&self, job: &DatasetImportJob) -> StoreResult<()> {
        let mut s = self.lock();
        if s.import_jobs.contains_key(&job.dataset_import_job_arn) {
            return Err(StoreError::AlreadyExists(
                job.dataset_import_job_arn.clone(),
            ));
        }
        let seq = s.next_seq();
        s.import_jobs
            .insert(job.dataset_import_job_arn.clone(), (seq, job.clone()));
        Ok(())
    }

    async fn update_import_job(&self, job: &DatasetImportJob) -> StoreResult<()> {
        match self.lock().import_jobs.get_mut(&job.dataset_import_job_arn) {
            Some(entry) => {
                entry.1 = job.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound(job.dataset_import_job_arn.clone())),
        }
    }

    async fn import_job(&self, arn: &str) -> StoreResult<Option<DatasetImportJob>> {
        Ok(self.lock().import_jobs.get(arn).map(|(_, j)| j.clone()))
    }

    async fn list_import_jobs(
        &self,
        dataset_arn: Option<&str>,
    ) -> StoreResult<Vec<DatasetImportJob>> {
        let s = self.lock();
        let mut jobs: Vec<&(u64, DatasetImportJob)> = s
            .import_jobs
            .values()
            .filter(|(_, j)| dataset_arn.is_none_or(|d| j.dataset_arn == d))
            .collect();
        jobs.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        Ok(jobs.into_iter().map(|(_, j)| j.clone()).collect())
    }

    async fn create_export_job(&self, job: &DatasetExportJob) -> StoreResult<()> {
        let mut s = self.lock();
        if s.export_jobs.contains_key(&job.dataset_export_job_arn) {
            return Err(StoreError::AlreadyExists(
                job.dataset_export_job_arn.clone(),
            ));
        }
        let seq = s.next_seq();
        s.export_jobs
            .insert(job.dataset_export_job_arn.clone(), (seq, job.clone()));
        Ok(())
    }

    async fn update_export_job(&self, job: &DatasetExportJob) -> StoreResult<()> {
        match self.lock().export_jobs.get_mut(&job.dataset_export_job_arn) {
            Some(entry) => {
                entry.1 = job.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound(job.dataset_export_job_arn.clone())),
        }
    }

    async fn export_job(&self, arn: &str) -> StoreResult<Option<DatasetExportJob>> {
        Ok(self.lock().export_jobs.get(arn).map(|(_, j)| j.clone()))
    }

    async fn list_export_jobs(
        &self,
        dataset_arn: Option<&str>,
    ) -> StoreResult<Vec<DatasetExportJob>> {
        let s = self.lock();
        let mut jobs: Vec<&(u64, DatasetExportJob)> = s
            .export_jobs
            .values()
            .filter(|(_, j)| dataset_arn.is_none_or(|d| j.dataset_arn == d))
            .collect();
        jobs.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        Ok(jobs.into_iter().map(|(_, j)| j.clone()).collect())
    }

    async fn reset(&self) -> StoreResult<()> {
        *self.lock() = State::default();
        Ok(())
    }

    async fn list_jobs(&self, group_arn: Option<&str>) -> StoreResult<Vec<DataDeletionJob>> {
        let s = self.lock();
        let mut jobs: Vec<&(u64, DataDeletionJob)> = s
            .jobs
            .values()
            .filter(|(_, j)| group_arn.is_none_or(|g| j.dataset_group_arn == g))
            .collect();
        jobs.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        Ok(jobs.into_iter().map(|(_, j)| j.clone()).collect())
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
