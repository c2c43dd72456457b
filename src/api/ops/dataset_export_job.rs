//! CreateDatasetExportJob, DescribeDatasetExportJob, ListDatasetExportJobs. Jobs are run by
//! the worker ([`crate::worker`]) through [`crate::export::run`].

use super::{dataset, jobs, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, ARN, KMS_KEY_ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::jobs::{Job, JobKind, JobSpec};
use crate::store::ArnScope;

/// `S3DataConfig`: where an export goes.
struct S3DataConfig {
    path: String,
    kms_key_arn: Option<String>,
}

fn nested(e: ApiError, member: &str, path: &str) -> ApiError {
    ApiError {
        message: e
            .message
            .replace(&format!("'{member}'"), &format!("'{path}'")),
        ..e
    }
}

/// The required `jobOutput.s3DataDestination` of a request.
fn job_output(input: &Input) -> Result<S3DataConfig, ApiError> {
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
    Ok(S3DataConfig { path, kms_key_arn })
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
    crate::export::output_location(&output.path, &job_name).map_err(ApiError::invalid_input)?;
    let spec = JobSpec::Export {
        dataset_arn,
        ingestion_mode,
        path: output.path,
        kms_key_arn: output.kms_key_arn,
    };
    let mut job = Job::new(scope.job_arn(JobKind::Export, &job_name), &job_name, spec);
    job.role_arn = Some(role_arn);
    jobs::create(state, job, tags).await
}

/// DescribeDatasetExportJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    jobs::describe(state, JobKind::Export, input).await
}

/// ListDatasetExportJobs: newest first, of one dataset or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    jobs::list(state, scope, JobKind::Export, "datasetArn", input).await
}
