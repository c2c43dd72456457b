//! CreateSolutionVersion, DescribeSolutionVersion, ListSolutionVersions,
//! GetSolutionMetrics. A solution version is a training job on the store's queue
//! ([`crate::model::training`]) whose ARN is `<solution ARN>/<8 hex digits>`; the job record
//! gives its status and times, the version record its training's outcome (metrics,
//! training hours), written with the model when it ends.

use serde_json::{json, Value};

use super::{solution, tagging, OpResult, ACTIVE};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::{now_epoch, Job, JobKind, JobSpec, JobStatus};
use crate::model::training;
use crate::store::{ArnScope, Resource, StoreError};

/// The job of the version named `arn`, or `ResourceNotFoundException` (also when its
/// solution was deleted).
pub async fn find(state: &AppState, arn: &str) -> Result<Job, ApiError> {
    let gone = || ApiError::not_found(format!("the solution version {arn} does not exist"));
    let job = match state.store.job(arn).await? {
        Some(j) if j.kind() == JobKind::Training => j,
        _ => return Err(gone()),
    };
    if state.store.resource(job.spec.target_arn()).await?.is_none() {
        return Err(gone());
    }
    Ok(job)
}

fn spec(job: &Job) -> (&str, &str, &Value) {
    match &job.spec {
        JobSpec::Training {
            training_mode,
            training_type,
            solution,
            ..
        } => (training_mode, training_type, solution),
        _ => ("FULL", "MANUAL", &Value::Null),
    }
}

/// A version's status: the job's, but `CREATE STOPPING` while a stop is asked of a running
/// one and `CREATE STOPPED` once it ended stopped.
fn status(job: &Job, stopping: bool) -> &'static str {
    match job.status {
        JobStatus::Failed if job.failure_reason.as_deref() == Some(training::STOPPED) => {
            "CREATE STOPPED"
        }
        JobStatus::Pending | JobStatus::InProgress if stopping => "CREATE STOPPING",
        _ => job.service_status(),
    }
}

/// `SolutionVersionSummary`.
pub fn summary(job: &Job) -> Value {
    summary_with(job, false)
}

fn summary_with(job: &Job, stopping: bool) -> Value {
    let (mode, kind, _) = spec(job);
    let status = status(job, stopping);
    let mut v = json!({
        "solutionVersionArn": job.arn,
        "status": status,
        "trainingMode": mode,
        "trainingType": kind,
        "creationDateTime": job.created,
        "lastUpdatedDateTime": job.last_updated,
    });
    if let Some(r) = job
        .failure_reason
        .as_ref()
        .filter(|_| status == "CREATE FAILED")
    {
        v["failureReason"] = json!(r);
    }
    v
}

/// CreateSolutionVersion: records the training job; the worker trains it.
pub async fn create(state: &AppState, input: &Input) -> OpResult {
    let solution_arn = input.req_str("solutionArn", 0, 256, Some(&ARN))?;
    let name = input.opt_str("name", 1, 63, Some(&NAME))?;
    let mode = input
        .opt_enum("trainingMode", &["FULL", "UPDATE", "AUTOTRAIN"])?
        .unwrap_or_else(|| "FULL".to_owned());
    let tags = tagging::creation_tags(input)?;
    let s = solution::find(state, &solution_arn).await?;
    let (status, _) = solution::status(state, &s);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the solution {solution_arn} is {status}; wait until it is ACTIVE"
        )));
    }
    if mode == "UPDATE" {
        let recipe = s.body["recipeArn"].as_str().unwrap_or_default();
        if !recipe.ends_with("/aws-user-personalization")
            && !recipe.ends_with("/aws-hrnn-coldstart")
        {
            return Err(ApiError::invalid_input(format!(
                "trainingMode UPDATE is only for aws-user-personalization solutions; {recipe} is not one"
            )));
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let arn = format!("{solution_arn}/{}", &id[..8]);
    let mut snapshot = s.body.clone();
    snapshot["solutionArn"] = json!(solution_arn);
    let spec = JobSpec::Training {
        solution_arn,
        training_mode: mode,
        training_type: "MANUAL".to_owned(),
        solution: snapshot,
    };
    let job = Job::new(arn.clone(), name.as_deref().unwrap_or(&id[..8]), spec);
    match state.store.create_job(&job, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "the solution version {arn} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    state.jobs_waiting.notify_one();
    Ok(json!({ "solutionVersionArn": arn }))
}

/// DescribeSolutionVersion.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let job = find(state, &arn).await?;
    let (_, _, solution) = spec(&job);
    let stopping = training::stop_asked(state.store.as_ref(), &arn).await?;
    let mut v = summary_with(&job, stopping);
    v["name"] = json!(job.name);
    v["solutionArn"] = json!(job.spec.target_arn());
    for member in [
        "performHPO",
        "performAutoML",
        "performIncrementalUpdate",
        "recipeArn",
        "eventType",
        "datasetGroupArn",
        "solutionConfig",
    ] {
        if !solution[member].is_null() {
            v[member] = solution[member].clone();
        }
    }
    if let Some(trained) = state.store.resource(&arn).await? {
        v["trainingHours"] = trained.body["trainingHours"].clone();
    }
    Ok(json!({ "solutionVersion": v }))
}

/// ListSolutionVersions: newest first, of one solution or of the account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let solution_arn = input.opt_str("solutionArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    if let Some(s) = &solution_arn {
        solution::find(state, s).await?;
    }
    let prefix = scope.prefix();
    let mut versions = Vec::new();
    let mut exists = std::collections::HashMap::new();
    for job in state
        .store
        .list_jobs(JobKind::Training, solution_arn.as_deref())
        .await?
    {
        if !job.arn.starts_with(&prefix) {
            continue;
        }
        // Whether each solution still exists, looked up once.
        let solution = job.spec.target_arn().to_owned();
        let alive = match exists.get(&solution) {
            Some(&alive) => alive,
            None => {
                let alive = state.store.resource(&solution).await?.is_some();
                exists.insert(solution, alive);
                alive
            }
        };
        if alive {
            versions.push(job);
        }
    }
    Ok(page.answer(versions, "solutionVersions", summary))
}

/// StopSolutionVersionCreation: a pending version stops at once (`CREATE STOPPED`); a
/// training one is `CREATE STOPPING` until its training notices, before it commits, and
/// ends `CREATE STOPPED` with nothing stored. An ended version is ResourceInUseException.
pub async fn stop(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let job = find(state, &arn).await?;
    if job.status.is_terminal() {
        return Err(ApiError::in_use(format!(
            "the solution version {arn} is {}: only a version being created can be stopped",
            status(&job, false)
        )));
    }
    let request = Resource {
        arn: training::stop_request(&arn),
        kind: training::STOP_KIND.to_owned(),
        parent: Some(arn.clone()),
        status: "ACTIVE".to_owned(),
        body: json!({}),
        created: now_epoch(),
    };
    match state.store.create_resource(&request, &[]).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // A version no worker holds yet is stopped here, under a claim of its own.
    if job.status == JobStatus::Pending {
        let lease_for = std::time::Duration::from_secs(30);
        let store = state.store.as_ref();
        if let Some((claimed, lease)) = crate::jobs::run::claim_one(store, &arn, lease_for).await? {
            match store
                .finish(&claimed.failed(training::STOPPED.to_owned()), &lease)
                .await
            {
                Ok(()) | Err(StoreError::LeaseLost(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(json!({}))
}

/// GetSolutionMetrics: what training measured; ResourceInUseException until it is ACTIVE.
pub async fn metrics(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let job = find(state, &arn).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError::in_use(format!(
            "the solution version {arn} is {}; its metrics exist once it is ACTIVE",
            job.service_status()
        )));
    }
    let trained =
        state.store.resource(&arn).await?.ok_or_else(|| {
            ApiError::in_use(format!("the solution version {arn} has no metrics"))
        })?;
    Ok(json!({ "solutionVersionArn": arn, "metrics": trained.body["metrics"] }))
}
