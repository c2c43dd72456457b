//! What the three job kinds' operations share: recording a new job, Describe and List.

use serde_json::json;

use super::OpResult;
use crate::api::dto;
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN};
use crate::api::AppState;
use crate::jobs::{Job, JobKind};
use crate::store::{ArnScope, StoreError, Tags};

/// Records a new job with its tags, wakes the worker and answers the job's ARN.
pub async fn create(state: &AppState, job: Job, tags: Tags) -> OpResult {
    let kind = job.kind();
    match state.store.create_job(&job, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a {} named {} already exists",
                kind.describe(),
                job.name
            )))
        }
        Err(e) => return Err(e.into()),
    }
    state.jobs_waiting.notify_one();
    Ok(json!({ dto::arn_member(kind): job.arn }))
}

/// The job of `kind` named by the request's ARN member, or `ResourceNotFoundException`.
pub async fn find(state: &AppState, kind: JobKind, arn: &str) -> Result<Job, ApiError> {
    match state.store.job(arn).await? {
        Some(job) if job.kind() == kind => Ok(job),
        _ => Err(ApiError::not_found(format!(
            "the {} {arn} does not exist",
            kind.describe()
        ))),
    }
}

/// Describe*Job.
pub async fn describe(state: &AppState, kind: JobKind, input: &Input) -> OpResult {
    let arn = input.req_str(dto::arn_member(kind), 0, 256, Some(&ARN))?;
    let job = find(state, kind, &arn).await?;
    let (member, _) = dto::job_members(kind);
    Ok(json!({ member: dto::job(&job) }))
}

/// List*Jobs: newest first, of one target (the `filter` member: a dataset group or a
/// dataset) or of the whole account and region.
pub async fn list(
    state: &AppState,
    scope: &ArnScope,
    kind: JobKind,
    filter: &str,
    input: &Input,
) -> OpResult {
    let target = input.opt_str(filter, 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let jobs: Vec<Job> = state
        .store
        .list_jobs(kind, target.as_deref())
        .await?
        .into_iter()
        .filter(|j| j.arn.starts_with(&prefix))
        .collect();
    let (_, list_member) = dto::job_members(kind);
    Ok(page.answer(jobs, list_member, dto::job_summary))
}
