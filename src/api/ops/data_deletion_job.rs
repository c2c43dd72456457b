//! CreateDataDeletionJob, DescribeDataDeletionJob, ListDataDeletionJobs. Jobs are run by the
//! worker ([`crate::worker`]); these operations only record and read them.

use super::{dataset_group, jobs, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, ARN, NAME, ROLE_ARN};
use crate::api::AppState;
use crate::jobs::model::DRY_RUN_TAG;
use crate::jobs::{Job, JobKind, JobSpec, JobStatus};
use crate::store::ArnScope;

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
        .list_jobs(JobKind::Deletion, Some(&group_arn))
        .await?
        .iter()
        .filter(|j| j.status == JobStatus::Pending)
        .count();
    if pending >= MAX_PENDING_PER_GROUP {
        return Err(ApiError::limit_exceeded(format!(
            "the dataset group {group_arn} already has {pending} PENDING data deletion jobs; the limit is {MAX_PENDING_PER_GROUP}"
        )));
    }
    let dry_run = tags
        .iter()
        .any(|(k, v)| k == DRY_RUN_TAG && v.eq_ignore_ascii_case("true"));
    let spec = JobSpec::Deletion {
        dataset_group_arn: group_arn,
        data_location: location,
        dry_run,
    };
    let mut job = Job::new(scope.job_arn(JobKind::Deletion, &job_name), &job_name, spec);
    job.role_arn = Some(role_arn);
    jobs::create(state, job, tags).await
}

/// DescribeDataDeletionJob.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    jobs::describe(state, JobKind::Deletion, input).await
}

/// ListDataDeletionJobs: newest first, of one group or of the whole account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    jobs::list(state, scope, JobKind::Deletion, "datasetGroupArn", input).await
}
