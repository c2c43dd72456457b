//! CreateDatasetImportJob, DescribeDatasetImportJob, ListDatasetImportJobs. Jobs are run by
//! the worker ([`crate::worker`]) through [`crate::import::job::run`].

use super::{dataset, jobs, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::jobs::{ImportMode, Job, JobKind, JobSpec};
use crate::store::ArnScope;

/// The required `dataSource.dataLocation` of a job request.
pub fn data_location(input: &Input) -> Result<String, ApiError> {
    let data_source = input
        .opt_object("dataSource")?
        .ok_or_else(|| ApiError::invalid_input("the required member 'dataSource' is missing"))?;
    data_source
        .opt_str("dataLocation", 0, 256, Some(&S3_LOCATION))
        .map_err(|mut e| {
            e.message = e
                .message
                .replace("'dataLocation'", "'dataSource.dataLocation'");
            e
        })?
        .ok_or_else(|| {
            ApiError::invalid_input("the required member 'dataSource.dataLocation' is missing")
        })
}

/// CreateDatasetImportJob: the dataset must be ACTIVE; `INCREMENTAL` needs records to add to.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let job_name = input.req_str("jobName", 1, 63, Some(&NAME))?;
    let dataset_arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    let location = data_location(input)?;
    let role_arn = input.opt_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    let tags = tagging::creation_tags(input)?;
    let mode = match input
        .opt_enum("importMode", &["FULL", "INCREMENTAL"])?
        .as_deref()
    {
        Some("INCREMENTAL") => ImportMode::Incremental,
        _ => ImportMode::Full,
    };
    let publish = input.opt_bool("publishAttributionMetricsToS3")?;

    let d = dataset::find_active(state, &dataset_arn).await?;
    if mode == ImportMode::Incremental
        && state
            .store
            .count_records(&d.dataset_group_arn, d.dataset_type)
            .await?
            == 0
    {
        return Err(ApiError::invalid_input(format!(
            "the dataset {dataset_arn} holds no records yet; its first import must use the importMode FULL"
        )));
    }
    let spec = JobSpec::Import {
        dataset_arn,
        data_location: location,
        import_mode: mode,
        publish_attribution_metrics_to_s3: publish,
    };
    let mut job = Job::new(scope.job_arn(JobKind::Import, &job_name), &job_name, spec);
    job.role_arn = role_arn;
    jobs::create(state, job, tags).await
}

/// DescribeDatasetImportJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    jobs::describe(state, JobKind::Import, input).await
}

/// ListDatasetImportJobs: newest first, of one dataset or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    jobs::list(state, scope, JobKind::Import, "datasetArn", input).await
}

/// True while an import job of the dataset has not ended.
pub async fn importing(state: &AppState, dataset_arn: &str) -> Result<bool, ApiError> {
    Ok(state
        .store
        .list_jobs(JobKind::Import, Some(dataset_arn))
        .await?
        .iter()
        .any(|j| !j.status.is_terminal()))
}
