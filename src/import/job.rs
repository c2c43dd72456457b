//! The dataset import job: the worker runs one through [`super::import_with_commit`], so the
//! records it loads and its `ACTIVE` status commit in one transaction.

use super::{import_with_commit, ImportError, ImportOptions};
use crate::jobs::run::{run_to_end, JobError};
use crate::jobs::{Job, JobSpec, Lease};
use crate::source::{DynObjectSource, S3Location};
use crate::store::{dataset_by_arn, DatasetStore, JobCommit, StoreError, StoreResult};

/// Runs a claimed import job to its end: `ACTIVE` with the records loaded, or `CREATE
/// FAILED` with the reason and the dataset unchanged. The error is the store's, when it
/// cannot record the job's end.
pub async fn run(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: Job,
    lease: Lease,
    lease_for: std::time::Duration,
) -> StoreResult<Job> {
    // run_to_end logs the job's end, whichever it is.
    let body = |commit: JobCommit| async move { (load(store, source, commit).await, ()) };
    run_to_end(store, job, lease, lease_for, body)
        .await
        .map(|(job, ())| job)
}

async fn load(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    commit: JobCommit,
) -> Result<Job, JobError> {
    let JobSpec::Import {
        dataset_arn,
        data_location,
        import_mode,
        publish_attribution_metrics_to_s3,
    } = &commit.job.spec
    else {
        return Err(JobError::Store(StoreError::Invalid(format!(
            "{} is not a dataset import job",
            commit.job.arn
        ))));
    };
    let dataset = dataset_by_arn(store, dataset_arn)
        .await?
        .ok_or_else(|| JobError::Failed(format!("the dataset {dataset_arn} no longer exists")))?;
    let location = S3Location::parse(data_location).map_err(|e| JobError::Failed(e.to_string()))?;
    let options = ImportOptions::with_schema_of(store, Some(&dataset), *import_mode)
        .await
        .map_err(failure)?;
    let (arn, created) = (commit.job.arn.clone(), commit.job.created);
    let name = commit.job.name.clone();
    let publish = *publish_attribution_metrics_to_s3 == Some(true);
    // The metric attribution's report is written before the records and ACTIVE commit, and
    // taken back if they do not: an ACTIVE job has its report. A process that dies in
    // between leaves the job to be run again, which writes the same report again.
    let report = if publish && dataset.dataset_type == crate::store::DatasetType::Interactions {
        let group = &dataset.dataset_group_arn;
        match super::attribution::report(store, &source, group, &location, (created, &name)).await {
            Ok(at) => at,
            Err(e) => {
                tracing::warn!(error = %e, "the metric attribution report was not written");
                None
            }
        }
    } else {
        None
    };
    crate::store::failpoint("import-after-report");
    let imported = import_with_commit(
        store,
        source.clone(),
        &dataset.dataset_group_arn,
        dataset.dataset_type,
        &location,
        &options,
        Some(commit),
    )
    .await;
    match (&imported, &report) {
        (Err(_), Some(at)) => {
            if let Ok(at) = S3Location::parse(at) {
                if let Err(e) = source.delete(&at.bucket, &at.key).await {
                    tracing::warn!(report = %at, error = %e, "the report of a failed import was not deleted");
                }
            }
        }
        (Ok(_), Some(at)) => tracing::info!(report = %at, "metric attribution report written"),
        _ => {}
    }
    imported.map_err(failure)?;
    // The job as the load's transaction wrote it.
    store
        .job(&arn)
        .await?
        .ok_or_else(|| JobError::Store(StoreError::NotFound(arn)))
}

/// A lost lease stays a store error (nothing may be written); every other failure, the
/// store's included, becomes the job's `failureReason`.
fn failure(e: ImportError) -> JobError {
    match e {
        ImportError::Store(e @ StoreError::LeaseLost(_)) => JobError::Store(e),
        e => JobError::Failed(e.to_string()),
    }
}
