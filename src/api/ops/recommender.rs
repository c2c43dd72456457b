//! CreateRecommender, DescribeRecommender, ListRecommenders, UpdateRecommender,
//! StartRecommender, StopRecommender, DeleteRecommender: a domain use case trained for a
//! domain dataset group, kept as a store resource of kind `recommender` under its group.
//! Its models are training jobs on the queue like solution versions
//! (`<recommenderArn>/<8 hex digits>`): the first is created with it and its status follows
//! that job's until it is ACTIVE; automatic training retrains it every 7 days while it is not
//! stopped; it answers with its newest ACTIVE model. Stop and Start move it through their
//! states over the transition time, as creating resources do.

use serde_json::{json, Map, Value};

use super::{dataset_group, tagging, OpResult, ACTIVE};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::{now_epoch, Job, JobKind, JobSpec, JobStatus};
use crate::model::training::RECOMMENDER_KIND as KIND;
use crate::store::{ArnScope, Resource, StoreError};
use crate::train::catalog;

/// At most this many recommenders per account and region, as the service limits.
pub const MAX_RECOMMENDERS: usize = 15;

/// Finds a recommender by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Resource, ApiError> {
    match state.store.resource(arn).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(ApiError::not_found(format!(
            "the recommender {arn} does not exist"
        ))),
    }
}

fn check_config(config: &Input) -> Result<(), ApiError> {
    config.opt_int("minRecommendationRequestsPerSecond", 1, 100_000)?;
    config.opt_bool("enableMetadataWithRecommendations")?;
    if let Some(t) = config.opt_object("trainingDataConfig")? {
        if let Some(v) = t.raw("excludedDatasetColumns") {
            if !v.is_object() {
                return Err(ApiError::invalid_input(
                    "recommenderConfig.trainingDataConfig.excludedDatasetColumns is a map of dataset type to columns",
                ));
            }
        }
    }
    Ok(())
}

/// A new training job (model) for the recommender `r`.
async fn train(state: &AppState, r: &Resource, kind: &str) -> Result<String, ApiError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let arn = format!("{}/{}", r.arn, &id[..8]);
    let mut solution = r.body.clone();
    solution["solutionArn"] = json!(r.arn);
    let spec = JobSpec::Training {
        solution_arn: r.arn.clone(),
        training_mode: "FULL".to_owned(),
        training_type: kind.to_owned(),
        solution,
    };
    state
        .store
        .create_job(&Job::new(arn.clone(), &id[..8], spec), &[])
        .await?;
    state.jobs_waiting.notify_one();
    Ok(arn)
}

/// CreateRecommender.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let recipe_arn = input.req_str("recipeArn", 0, 256, Some(&ARN))?;
    if let Some(c) = input.opt_object("recommenderConfig")? {
        check_config(&c)?;
    }
    let tags = tagging::creation_tags(input)?;
    let recipe = catalog::recipe(&recipe_arn)
        .ok_or_else(|| ApiError::not_found(format!("the recipe {recipe_arn} does not exist")))?;
    let group = dataset_group::find_active(state, &group_arn).await?;
    let Some(domain) = group.attrs.domain.as_deref() else {
        return Err(ApiError::invalid_input(format!(
            "the dataset group {group_arn} has no domain: recommenders are for domain dataset groups (create a solution and a campaign for a custom one)"
        )));
    };
    if recipe.domain != Some(domain) {
        return Err(ApiError::invalid_input(format!(
            "{recipe_arn} is not a use case of the {domain} domain"
        )));
    }
    let prefix = scope.prefix();
    let existing = state.store.list_resources(KIND, None).await?;
    if existing
        .iter()
        .filter(|r| r.arn.starts_with(&prefix))
        .count()
        >= MAX_RECOMMENDERS
    {
        return Err(ApiError::limit_exceeded(format!(
            "an account has at most {MAX_RECOMMENDERS} recommenders per region"
        )));
    }
    let arn = format!("{prefix}recommender/{name}");
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::already_exists(format!(
            "a recommender named {name} is being deleted; create it again once it is gone"
        )));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("datasetGroupArn".into(), json!(group.dataset_group_arn));
    body.insert("recipeArn".into(), json!(recipe_arn));
    body.insert("performAutoTraining".into(), json!(true));
    if let Some(t) = recipe.required_event_type {
        body.insert("eventType".into(), json!(t));
    }
    let mut config = input.raw("recommenderConfig").cloned().unwrap_or(json!({}));
    if config["minRecommendationRequestsPerSecond"].is_null() {
        config["minRecommendationRequestsPerSecond"] = json!(1);
    }
    body.insert("recommenderConfig".into(), config);
    let r = Resource {
        arn: arn.clone(),
        kind: KIND.to_owned(),
        parent: Some(group.dataset_group_arn),
        status: ACTIVE.to_owned(),
        body: Value::Object(body),
        created: now_epoch(),
    };
    match state.store.create_resource(&r, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a recommender named {name} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    train(state, &r, "MANUAL").await?;
    Ok(json!({ "recommenderArn": arn }))
}

/// The recommender's models, newest first.
async fn models(state: &AppState, arn: &str) -> Result<Vec<Job>, ApiError> {
    Ok(state.store.list_jobs(JobKind::Training, Some(arn)).await?)
}

/// The newest ACTIVE model of the recommender `arn`.
pub async fn serving_model(state: &AppState, arn: &str) -> Result<Option<String>, ApiError> {
    Ok(models(state, arn)
        .await?
        .into_iter()
        .find(|j| j.status == JobStatus::Succeeded)
        .map(|j| j.arn))
}

/// A CREATE-style status of a model's job.
fn job_status(j: &Job) -> &'static str {
    match j.status {
        JobStatus::Pending => "CREATE PENDING",
        JobStatus::InProgress => "CREATE IN_PROGRESS",
        JobStatus::Succeeded => ACTIVE,
        _ => "CREATE FAILED",
    }
}

/// The recommender's status, when it last changed, and why it failed.
pub async fn status(
    state: &AppState,
    r: &Resource,
) -> Result<(String, f64, Option<String>), ApiError> {
    let jobs = models(state, &r.arn).await?;
    if !jobs.iter().any(|j| j.status == JobStatus::Succeeded) {
        let Some(first) = jobs.last() else {
            return Ok(("CREATE PENDING".into(), r.created, None));
        };
        let why = first
            .failure_reason
            .clone()
            .filter(|_| first.status == JobStatus::Failed);
        return Ok((job_status(first).into(), first.last_updated, why));
    }
    let active_since = jobs
        .iter()
        .rev()
        .find(|j| j.status == JobStatus::Succeeded)
        .map_or(r.created, |j| j.last_updated);
    let Some(action) = r.body["state"]["action"].as_str() else {
        return Ok((ACTIVE.into(), active_since, None));
    };
    let at = r.body["state"]["at"].as_f64().unwrap_or(r.created);
    let t = state.config.transition.as_secs_f64();
    let elapsed = now_epoch() - at;
    let (pending, progress, done) = if action == "STOP" {
        ("STOP PENDING", "STOP IN_PROGRESS", "INACTIVE")
    } else {
        ("START PENDING", "START IN_PROGRESS", ACTIVE)
    };
    Ok(if t <= 0.0 || elapsed >= t {
        (done.into(), at + t.max(0.0), None)
    } else if elapsed >= t / 2.0 {
        (progress.into(), at + t / 2.0, None)
    } else {
        (pending.into(), at, None)
    })
}

/// DescribeRecommender: with `modelMetrics` of the model it answers with.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("recommenderArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "recommender": deleting }));
    }
    let r = find(state, &arn).await?;
    let (status, updated, why) = status(state, &r).await?;
    let mut v = json!({
        "recommenderArn": r.arn,
        "datasetGroupArn": r.body["datasetGroupArn"],
        "name": r.body["name"],
        "recipeArn": r.body["recipeArn"],
        "recommenderConfig": r.body["recommenderConfig"],
        "creationDateTime": r.created,
        "lastUpdatedDateTime": updated,
        "status": status,
    });
    if let Some(why) = why {
        v["failureReason"] = json!(why);
    }
    if let Some(update) = r.body.get("latestRecommenderUpdate") {
        let mut u = update.clone();
        let created = update["creationDateTime"].as_f64().unwrap_or(r.created);
        let (s, at) = match update["model"].as_str() {
            Some(model) => match state.store.job(model).await? {
                Some(j) => (job_status(&j), j.last_updated),
                None => (ACTIVE, created),
            },
            None => super::lifecycle(state, created),
        };
        if let Some(o) = u.as_object_mut() {
            o.remove("model");
        }
        u["status"] = json!(s);
        u["lastUpdatedDateTime"] = json!(at);
        v["latestRecommenderUpdate"] = u;
    }
    if let Some(model) = serving_model(state, &arn).await? {
        if let Some(trained) = state.store.resource(&model).await? {
            v["modelMetrics"] = trained.body["metrics"].clone();
        }
    }
    Ok(json!({ "recommender": v }))
}

/// ListRecommenders: of one group or of the account and region, oldest first.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let all: Vec<Resource> = state
        .store
        .list_resources(KIND, group.as_deref())
        .await?
        .into_iter()
        .filter(|r| r.arn.starts_with(&prefix))
        .collect();
    let (page_items, next) = page.apply(all);
    let mut out = Vec::new();
    for r in &page_items {
        let (status, updated, _) = status(state, r).await?;
        out.push(json!({
            "name": r.body["name"],
            "recommenderArn": r.arn,
            "datasetGroupArn": r.body["datasetGroupArn"],
            "recipeArn": r.body["recipeArn"],
            "recommenderConfig": r.body["recommenderConfig"],
            "status": status,
            "creationDateTime": r.created,
            "lastUpdatedDateTime": updated,
        }));
    }
    let mut v = json!({ "recommenders": out });
    if let Some(t) = next {
        v["nextToken"] = json!(t);
    }
    Ok(v)
}

/// UpdateRecommender: a new configuration; a change of `trainingDataConfig` retrains (the
/// old model answers until the new one is ACTIVE).
pub async fn update(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("recommenderArn", 0, 256, Some(&ARN))?;
    let config = input.opt_object("recommenderConfig")?.ok_or_else(|| {
        ApiError::invalid_input("the required member 'recommenderConfig' is missing")
    })?;
    check_config(&config)?;
    let mut r = find(state, &arn).await?;
    let (status, _, _) = status(state, &r).await?;
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the recommender {arn} is {status}; update it when it is ACTIVE"
        )));
    }
    let new = input.raw("recommenderConfig").cloned().unwrap_or(json!({}));
    let retrain = new["trainingDataConfig"] != r.body["recommenderConfig"]["trainingDataConfig"]
        && !new["trainingDataConfig"].is_null();
    let mut merged = r.body["recommenderConfig"].clone();
    if let (Some(m), Some(n)) = (merged.as_object_mut(), new.as_object()) {
        for (k, v) in n {
            m.insert(k.clone(), v.clone());
        }
    }
    r.body["recommenderConfig"] = merged.clone();
    let mut update = json!({ "recommenderConfig": merged, "creationDateTime": now_epoch() });
    if retrain {
        update["model"] = json!(train(state, &r, "MANUAL").await?);
    }
    r.body["latestRecommenderUpdate"] = update;
    state.store.write_resources(&[r], &[], None).await?;
    Ok(json!({ "recommenderArn": arn }))
}

/// StartRecommender and StopRecommender.
pub async fn start_or_stop(state: &AppState, input: &Input, stop: bool) -> OpResult {
    let arn = input.req_str("recommenderArn", 0, 256, Some(&ARN))?;
    let mut r = find(state, &arn).await?;
    let (status, _, _) = status(state, &r).await?;
    let allowed = if stop { ACTIVE } else { "INACTIVE" };
    if status != allowed {
        return Err(ApiError::in_use(format!(
            "the recommender {arn} is {status}; {} needs it {allowed}",
            if stop {
                "StopRecommender"
            } else {
                "StartRecommender"
            }
        )));
    }
    r.body["state"] = json!({ "action": if stop { "STOP" } else { "START" }, "at": now_epoch() });
    // A stopped recommender is not retrained.
    r.body["performAutoTraining"] = json!(!stop);
    state.store.write_resources(&[r], &[], None).await?;
    Ok(json!({ "recommenderArn": arn }))
}

/// DeleteRecommender: the recommender and its models.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("recommenderArn", 0, 256, Some(&ARN))?;
    find(state, &arn).await?;
    let jobs = models(state, &arn).await?;
    if let Some(j) = jobs
        .iter()
        .find(|j| matches!(j.status, JobStatus::Pending | JobStatus::InProgress))
    {
        return Err(ApiError::in_use(format!(
            "the recommender {arn} has the model {} still training; wait until it ends",
            j.arn
        )));
    }
    let described = describe(state, input).await?["recommender"].clone();
    for j in &jobs {
        match state.store.delete_resource(&j.arn).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    state.store.delete_resource(&arn).await?;
    state
        .deleting
        .note(&arn, described, &crate::api::deleting::DATASET_STATES, None);
    Ok(json!({}))
}
