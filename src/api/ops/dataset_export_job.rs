//! CreateDatasetExportJob, DescribeDatasetExportJob, ListDatasetExportJobs. Jobs are run by
//! the worker ([`crate::worker`]) through [`crate::export::run`].

use serde_json::{json, Map, Value};

use super::{dataset, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, KMS_KEY_ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::export::{DatasetExportJob, JobOutput, S3DataConfig};
use crate::job::ArnScope;
use crate::store::StoreError;

fn nested(e: ApiError, member: &str, path: &str) -> ApiError {
    ApiError {
        message: e
            .message
            .replace(&format!("'{member}'"), &format!("'{path}'")),
        ..e
    }
}

/// The required `jobOutput.s3DataDestination` of a request.
fn job_output(input: &Input) -> Result<JobOutput, ApiError> {
    let missing =
        |m: &str| ApiError::invalid_input(format!("the required member '{m}' is missing"));
    let output = input
        .opt_object("jobOutput")?
        .ok_or_else(|| missing("jobOutput"))?;
    let dest = output
        .opt_object("s3DataDestination")
        .map_err(|e| nested(e, "s3DataDestination", "jobOutput.s3DataDestination"))?
        .ok_or_else(|| missing("jobOutput.s3DataDestination"))?;
    let path = dest
        .opt_str("path", 0, 256, Some(&S3_LOCATION))
        .map_err(|e| nested(e, "path", "jobOutput.s3DataDestination.path"))?
        .ok_or_else(|| missing("jobOutput.s3DataDestination.path"))?;
    let kms_key_arn = dest
        .opt_str("kmsKeyArn", 0, 2048, Some(&KMS_KEY_ARN))
        .map_err(|e| nested(e, "kmsKeyArn", "jobOutput.s3DataDestination.kmsKeyArn"))?;
    Ok(JobOutput {
        s3_data_destination: S3DataConfig { path, kms_key_arn },
    })
}

/// CreateDatasetExportJob: the dataset must be ACTIVE.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let job_name = input.req_str("jobName", 1, 63, Some(&NAME))?;
    let dataset_arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    let ingestion_mode = input
        .opt_enum("ingestionMode", &["BULK", "PUT", "ALL"])?
        .unwrap_or_else(|| "BULK".to_owned());
    let role_arn = input.req_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    let output = job_output(input)?;
    let tags = tagging::creation_tags(input)?;

    dataset::find_active(state, &dataset_arn).await?;
    let mut job = DatasetExportJob::new(scope, &job_name, &dataset_arn, &role_arn, output);
    job.ingestion_mode = ingestion_mode;
    job.output_location().map_err(ApiError::invalid_input)?;
    match state.store.create_export_job(&job).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a dataset export job named {job_name} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    tagging::attach(state, &job.dataset_export_job_arn, tags).await?;
    state.jobs_waiting.notify_one();
    Ok(json!({ "datasetExportJobArn": job.dataset_export_job_arn }))
}

/// DescribeDatasetExportJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetExportJobArn", 0, 256, Some(&ARN))?;
    let job = state.store.export_job(&arn).await?.ok_or_else(|| {
        ApiError::not_found(format!("the dataset export job {arn} does not exist"))
    })?;
    Ok(json!({ "datasetExportJob": job }))
}

/// `DatasetExportJobSummary`.
fn summary(job: &DatasetExportJob) -> Value {
    let mut m = Map::new();
    m.insert(
        "datasetExportJobArn".into(),
        json!(job.dataset_export_job_arn),
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
    Value::Object(m)
}

/// ListDatasetExportJobs: newest first, of one dataset or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let dataset_arn = input.opt_str("datasetArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = super::scope_prefix(scope);
    let jobs: Vec<DatasetExportJob> = state
        .store
        .list_export_jobs(dataset_arn.as_deref())
        .await?
        .into_iter()
        .filter(|j| j.dataset_export_job_arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(jobs, "datasetExportJobs", summary))
}
