//! CreateDataDeletionJob, DescribeDataDeletionJob, ListDataDeletionJobs. Jobs are run by the
//! worker ([`crate::worker`]); these operations only record and read them.

use serde_json::{json, Value};

use super::{dataset_group, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME, ROLE_ARN};
use crate::api::AppState;
use crate::job::{ArnScope, DataDeletionJob, JobStatus};
use crate::store::StoreError;

/// At most this many jobs may be `PENDING` per dataset group (the service's limit).
pub const MAX_PENDING_PER_GROUP: usize = 5;

/// CreateDataDeletionJob.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let job_name = input.req_str("jobName", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let location = super::dataset_import_job::data_location(input)?;
    let role_arn = input.req_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    let tags = tagging::creation_tags(input)?;

    dataset_group::find_active(state, &group_arn).await?;
    let pending = state
        .store
        .list_jobs(Some(&group_arn))
        .await?
        .iter()
        .filter(|j| j.status == JobStatus::Pending)
        .count();
    if pending >= MAX_PENDING_PER_GROUP {
        return Err(ApiError::limit_exceeded(format!(
            "the dataset group {group_arn} already has {pending} PENDING data deletion jobs; the limit is {MAX_PENDING_PER_GROUP}"
        )));
    }
    let mut job = DataDeletionJob::new(scope, &job_name, &group_arn, &location);
    job.role_arn = Some(role_arn);
    match state.store.create_job(&job).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a data deletion job named {job_name} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    tagging::attach(state, &job.data_deletion_job_arn, tags).await?;
    state.jobs_waiting.notify_one();
    Ok(json!({ "dataDeletionJobArn": job.data_deletion_job_arn }))
}

/// DescribeDataDeletionJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("dataDeletionJobArn", 0, 256, Some(&ARN))?;
    let job = state.store.job(&arn).await?.ok_or_else(|| {
        ApiError::not_found(format!("the data deletion job {arn} does not exist"))
    })?;
    Ok(json!({ "dataDeletionJob": job }))
}

/// `DataDeletionJobSummary`: no `numDeleted`, `dataSource` or `roleArn`.
fn summary(job: &DataDeletionJob) -> Value {
    let mut v = json!({
        "dataDeletionJobArn": job.data_deletion_job_arn,
        "datasetGroupArn": job.dataset_group_arn,
        "jobName": job.job_name,
        "status": job.status,
        "creationDateTime": job.creation_date_time,
        "lastUpdatedDateTime": job.last_updated_date_time,
    });
    if let Some(r) = &job.failure_reason {
        v["failureReason"] = json!(r);
    }
    v
}

/// ListDataDeletionJobs: newest first, of one group or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group_arn = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = super::scope_prefix(scope);
    let jobs: Vec<DataDeletionJob> = state
        .store
        .list_jobs(group_arn.as_deref())
        .await?
        .into_iter()
        .filter(|j| j.data_deletion_job_arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(jobs, "dataDeletionJobs", summary))
}
