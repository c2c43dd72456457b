//! The dataset import job: what `DescribeDatasetImportJob` returns, and how the worker runs
//! one through [`crate::import::import_dataset`].

use serde::{Deserialize, Serialize};

use crate::import::{import_dataset, ImportMode, ImportOptions};
use crate::job::{now_epoch, ArnScope, DataSource};
use crate::source::{DynObjectSource, S3Location};
use crate::store::{dataset_by_arn, DatasetStore, StoreResult};

/// The status of a dataset import job: the service's resource statuses, with their spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateStatus {
    /// Accepted, not started.
    #[serde(rename = "CREATE PENDING")]
    Pending,
    /// Loading.
    #[serde(rename = "CREATE IN_PROGRESS")]
    InProgress,
    /// Done: the records are in the dataset.
    #[serde(rename = "ACTIVE")]
    Active,
    /// Nothing changed; `failureReason` says why.
    #[serde(rename = "CREATE FAILED")]
    Failed,
}

impl CreateStatus {
    /// True for `ACTIVE` and `CREATE FAILED`.
    pub fn is_terminal(self) -> bool {
        matches!(self, CreateStatus::Active | CreateStatus::Failed)
    }
}

/// A dataset import job, shaped like the service's `DatasetImportJob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetImportJob {
    /// The job's name, unique per account and region.
    pub job_name: String,
    /// `arn:aws:personalize:{region}:{account}:dataset-import-job/{jobName}`.
    pub dataset_import_job_arn: String,
    /// The dataset loaded.
    pub dataset_arn: String,
    /// The input location: one object or a folder.
    pub data_source: DataSource,
    /// The IAM role the service would assume to read the input (stored, not used locally).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role_arn: Option<String>,
    /// `FULL` or `INCREMENTAL`.
    pub import_mode: ImportMode,
    /// Stored as given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub publish_attribution_metrics_to_s3: Option<bool>,
    /// The job's status.
    pub status: CreateStatus,
    /// Why a `CREATE FAILED` job failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_reason: Option<String>,
    /// Epoch seconds.
    pub creation_date_time: f64,
    /// Epoch seconds of the last status change.
    pub last_updated_date_time: f64,
}

impl DatasetImportJob {
    /// A new `CREATE PENDING` job.
    pub fn new(
        scope: &ArnScope,
        job_name: &str,
        dataset_arn: &str,
        data_location: &str,
        import_mode: ImportMode,
    ) -> Self {
        let now = now_epoch();
        DatasetImportJob {
            job_name: job_name.to_owned(),
            dataset_import_job_arn: format!(
                "arn:aws:personalize:{}:{}:dataset-import-job/{job_name}",
                scope.region, scope.account
            ),
            dataset_arn: dataset_arn.to_owned(),
            data_source: DataSource {
                data_location: data_location.to_owned(),
            },
            role_arn: None,
            import_mode,
            publish_attribution_metrics_to_s3: None,
            status: CreateStatus::Pending,
            failure_reason: None,
            creation_date_time: now,
            last_updated_date_time: now,
        }
    }

    /// Moves to `status`, stamping the update time (never backwards).
    pub fn set_status(&mut self, status: CreateStatus) {
        self.status = status;
        self.last_updated_date_time = now_epoch().max(self.last_updated_date_time);
    }
}

/// Runs a `CREATE PENDING` job to its end: `CREATE IN_PROGRESS`, then `ACTIVE` with the
/// records loaded, or `CREATE FAILED` with the reason and the dataset unchanged. The error is
/// the store's, when it cannot record the job's status.
pub async fn run(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    mut job: DatasetImportJob,
) -> StoreResult<DatasetImportJob> {
    job.set_status(CreateStatus::InProgress);
    job.failure_reason = None;
    store.update_import_job(&job).await?;
    match load(store, source, &job).await {
        Ok(records) => {
            tracing::info!(job = %job.job_name, records, "dataset import job ACTIVE");
            job.set_status(CreateStatus::Active);
        }
        Err(reason) => {
            tracing::info!(job = %job.job_name, %reason, "dataset import job CREATE FAILED");
            job.set_status(CreateStatus::Failed);
            job.failure_reason = Some(reason);
        }
    }
    store.update_import_job(&job).await?;
    Ok(job)
}

async fn load(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: &DatasetImportJob,
) -> Result<u64, String> {
    let dataset = dataset_by_arn(store, &job.dataset_arn)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the dataset {} no longer exists", job.dataset_arn))?;
    let location = S3Location::parse(&job.data_source.data_location).map_err(|e| e.to_string())?;
    let options = ImportOptions::with_schema_of(store, Some(&dataset), job.import_mode)
        .await
        .map_err(|e| e.to_string())?;
    import_dataset(
        store,
        source,
        &dataset.dataset_group_arn,
        dataset.dataset_type,
        &location,
        &options,
    )
    .await
    .map(|report| report.records)
    .map_err(|e| e.to_string())
}
