//! CreateDatasetImportJob, DescribeDatasetImportJob, ListDatasetImportJobs. Jobs are run by
//! the worker ([`crate::worker`]) through [`crate::import_job::run`].

use serde_json::{json, Map, Value};

use super::{dataset, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::import::ImportMode;
use crate::import_job::DatasetImportJob;
use crate::job::ArnScope;
use crate::store::StoreError;

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
    let mut job = DatasetImportJob::new(scope, &job_name, &dataset_arn, &location, mode);
    job.role_arn = role_arn;
    job.publish_attribution_metrics_to_s3 = publish;
    match state.store.create_import_job(&job).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a dataset import job named {job_name} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    tagging::attach(state, &job.dataset_import_job_arn, tags).await?;
    state.jobs_waiting.notify_one();
    Ok(json!({ "datasetImportJobArn": job.dataset_import_job_arn }))
}

/// DescribeDatasetImportJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetImportJobArn", 0, 256, Some(&ARN))?;
    let job = state.store.import_job(&arn).await?.ok_or_else(|| {
        ApiError::not_found(format!("the dataset import job {arn} does not exist"))
    })?;
    Ok(json!({ "datasetImportJob": job }))
}

/// `DatasetImportJobSummary`.
fn summary(job: &DatasetImportJob) -> Value {
    let mut m = Map::new();
    m.insert(
        "datasetImportJobArn".into(),
        json!(job.dataset_import_job_arn),
    );
    m.insert("jobName".into(), json!(job.job_name));
    m.insert("status".into(), json!(job.status));
    m.insert("creationDateTime".into(), json!(job.creation_date_time));
    m.insert(
        "lastUpdatedDateTime".into(),
        json!(job.last_updated_date_time),
    );
    if let Some(r) = &job.failure_reason {
        m.insert("failureReason".into(), json!(r));
    }
    m.insert("importMode".into(), json!(job.import_mode));
    Value::Object(m)
}

/// ListDatasetImportJobs: newest first, of one dataset or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let dataset_arn = input.opt_str("datasetArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = super::scope_prefix(scope);
    let jobs: Vec<DatasetImportJob> = state
        .store
        .list_import_jobs(dataset_arn.as_deref())
        .await?
        .into_iter()
        .filter(|j| j.dataset_import_job_arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(jobs, "datasetImportJobs", summary))
}

/// True while an import job of the dataset has not ended.
pub async fn importing(state: &AppState, dataset_arn: &str) -> Result<bool, ApiError> {
    Ok(state
        .store
        .list_import_jobs(Some(dataset_arn))
        .await?
        .iter()
        .any(|j| !j.status.is_terminal()))
}
