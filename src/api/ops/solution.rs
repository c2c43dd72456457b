//! CreateSolution, DescribeSolution, ListSolutions, UpdateSolution, DeleteSolution: a recipe and its
//! configuration for a dataset group, kept as a store resource of kind `solution`. Its
//! status follows [`lifecycle`] from its creation time, as a group's does; its versions are
//! training jobs ([`super::solution_version`]).

use serde_json::{json, Map, Value};

use super::{dataset_group, lifecycle, solution_version, tagging, OpResult, ACTIVE};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::{now_epoch, JobKind, JobStatus};
use crate::store::{ArnScope, Resource, StoreError};
use crate::train::catalog;

/// The kind of a solution's record in the store.
pub const KIND: &str = crate::model::training::SOLUTION_KIND;

/// The recipe `performAutoML` chooses when the request names none.
const AUTO_ML_RECIPE: &str = "arn:aws:personalize:::recipe/aws-user-personalization-v2";

/// Finds a solution by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Resource, ApiError> {
    match state.store.resource(arn).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(ApiError::not_found(format!(
            "the solution {arn} does not exist"
        ))),
    }
}

/// Checks `solutionConfig` against the recipe: `eventValueThreshold` a number,
/// `algorithmHyperParameters` the family's, in range, `autoTrainingConfig` a schedule of
/// 1 to 30 days.
fn check_config(config: &Input, recipe: &catalog::Recipe) -> Result<(), ApiError> {
    if let Some(t) = config.opt_str("eventValueThreshold", 0, 256, None)? {
        t.trim().parse::<f64>().map_err(|_| {
            ApiError::invalid_input(format!(
                "solutionConfig.eventValueThreshold {t:?} is not a number"
            ))
        })?;
    }
    if let Some(Value::Object(given)) = config.raw("algorithmHyperParameters") {
        let known = recipe.family.hyperparameters();
        for (k, v) in given {
            let Some(h) = known.iter().find(|h| h.name == k) else {
                let names: Vec<&str> = known.iter().map(|h| h.name).collect();
                return Err(ApiError::invalid_input(format!(
                    "solutionConfig.algorithmHyperParameters: {} has no hyperparameter {k:?} (it has: {})",
                    recipe.name,
                    names.join(", ")
                )));
            };
            let n = v.as_str().and_then(|v| v.trim().parse::<i64>().ok());
            if !n.is_some_and(|n| (h.min..=h.max).contains(&n)) {
                return Err(ApiError::invalid_input(format!(
                    "solutionConfig.algorithmHyperParameters.{k} must be an integer from {} to {}, as a string; got {v}",
                    h.min, h.max
                )));
            }
        }
    }
    if let Some(auto) = config.opt_object("autoTrainingConfig")? {
        check_schedule(&auto, "solutionConfig.autoTrainingConfig")?;
    }
    Ok(())
}

/// CreateSolution.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let auto_ml = input.opt_bool("performAutoML")?.unwrap_or(false);
    let hpo = input.opt_bool("performHPO")?.unwrap_or(false);
    let auto_training = input.opt_bool("performAutoTraining")?.unwrap_or(true);
    let incremental = input.opt_bool("performIncrementalUpdate")?;
    let event_type = input.opt_str("eventType", 0, 256, None)?;
    let recipe_arn = match input.opt_str("recipeArn", 0, 256, Some(&ARN))? {
        Some(r) if auto_ml => {
            return Err(ApiError::invalid_input(format!(
                "recipeArn ({r}) must be omitted when performAutoML is true"
            )))
        }
        Some(r) => r,
        None if auto_ml => AUTO_ML_RECIPE.to_owned(),
        None => {
            return Err(ApiError::invalid_input(
                "the member 'recipeArn' is required unless performAutoML is true",
            ))
        }
    };
    let recipe = catalog::recipe(&recipe_arn)
        .ok_or_else(|| ApiError::not_found(format!("the recipe {recipe_arn} does not exist")))?;
    if recipe.domain.is_some() {
        return Err(ApiError::invalid_input(format!(
            "the recipe {recipe_arn} is a domain use case: create a recommender with it, not a solution"
        )));
    }
    if incremental == Some(true) && recipe.name != "aws-semantic-similarity" {
        return Err(ApiError::invalid_input(
            "performIncrementalUpdate is only for the aws-semantic-similarity recipe",
        ));
    }
    let config = input.opt_object("solutionConfig")?;
    if let Some(c) = &config {
        check_config(c, recipe)?;
    }
    let tags = tagging::creation_tags(input)?;
    let group = dataset_group::find_active(state, &group_arn).await?;
    let arn = format!("{}solution/{name}", scope.prefix());
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::already_exists(format!(
            "a solution named {name} is being deleted; create it again once it is gone"
        )));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("datasetGroupArn".into(), json!(group.dataset_group_arn));
    body.insert("recipeArn".into(), json!(recipe_arn));
    body.insert("performHPO".into(), json!(hpo));
    body.insert("performAutoML".into(), json!(auto_ml));
    body.insert("performAutoTraining".into(), json!(auto_training));
    if let Some(i) = incremental {
        body.insert("performIncrementalUpdate".into(), json!(i));
    }
    if let Some(e) = event_type {
        body.insert("eventType".into(), json!(e));
    }
    if let Some(c) = input.raw("solutionConfig") {
        body.insert("solutionConfig".into(), c.clone());
    }
    if auto_ml {
        body.insert(
            "autoMLResult".into(),
            json!({ "bestRecipeArn": recipe_arn }),
        );
    }
    let solution = Resource {
        arn: arn.clone(),
        kind: KIND.to_owned(),
        parent: Some(group.dataset_group_arn),
        status: ACTIVE.to_owned(),
        body: Value::Object(body),
        created: now_epoch(),
    };
    match state.store.create_resource(&solution, &tags).await {
        Ok(()) => Ok(json!({ "solutionArn": arn })),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(format!(
            "a solution named {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The solution's status now and when it last changed.
pub fn status(state: &AppState, s: &Resource) -> (&'static str, f64) {
    lifecycle(state, s.created)
}

/// DescribeSolution: the solution as created, its status, and its latest version; a
/// solution deleted less than the transition time ago shows `DELETE PENDING`, then `DELETE
/// IN_PROGRESS`.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "solution": deleting }));
    }
    let s = find(state, &arn).await?;
    let (status, updated) = status(state, &s);
    let mut v = s.body.clone();
    if let Some(created) = v["latestSolutionUpdate"]["creationDateTime"].as_f64() {
        let (status, at) = lifecycle(state, created);
        v["latestSolutionUpdate"]["status"] = json!(status);
        v["latestSolutionUpdate"]["lastUpdatedDateTime"] = json!(at);
    }
    v["solutionArn"] = json!(s.arn);
    v["status"] = json!(status);
    v["creationDateTime"] = json!(s.created);
    v["lastUpdatedDateTime"] = json!(updated);
    let versions = state.store.list_jobs(JobKind::Training, Some(&arn)).await?;
    if let Some(latest) = versions.first() {
        v["latestSolutionVersion"] = solution_version::summary(latest);
    }
    Ok(json!({ "solution": v }))
}

/// The schedule of an `autoTrainingConfig`, checked: `rate(N days)`, N from 1 to 30.
fn check_schedule(auto: &Input, at: &str) -> Result<(), ApiError> {
    if let Some(e) = auto.opt_str("schedulingExpression", 1, 16, None)? {
        if crate::model::auto::schedule_days(&e).is_none() {
            return Err(ApiError::invalid_input(format!(
                "{at}.schedulingExpression {e:?} must be rate(N days), N from 1 to 30"
            )));
        }
    }
    Ok(())
}

/// UpdateSolution: `performAutoTraining`, `performIncrementalUpdate` and
/// `solutionUpdateConfig` (`autoTrainingConfig`, `eventsConfig`) take effect at once for the
/// versions trained after it; DescribeSolution shows the update as `latestSolutionUpdate`,
/// its status moving like a new resource's. The solution must be ACTIVE, and its previous
/// update done (else ResourceInUseException).
pub async fn update(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionArn", 0, 256, Some(&ARN))?;
    let auto_training = input.opt_bool("performAutoTraining")?;
    let incremental = input.opt_bool("performIncrementalUpdate")?;
    let config = input.opt_object("solutionUpdateConfig")?;
    if let Some(auto) = config
        .as_ref()
        .map(|c| c.opt_object("autoTrainingConfig"))
        .transpose()?
        .flatten()
    {
        check_schedule(&auto, "solutionUpdateConfig.autoTrainingConfig")?;
    }
    let mut s = find(state, &arn).await?;
    let (status, _) = status(state, &s);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the solution {arn} is {status}; wait until it is ACTIVE"
        )));
    }
    if let Some(created) = s.body["latestSolutionUpdate"]["creationDateTime"].as_f64() {
        let (previous, _) = lifecycle(state, created);
        if previous != ACTIVE {
            return Err(ApiError::in_use(format!(
                "the solution {arn} has an update still {previous}"
            )));
        }
    }
    if incremental == Some(true)
        && !s.body["recipeArn"]
            .as_str()
            .is_some_and(|r| r.ends_with("/aws-semantic-similarity"))
    {
        return Err(ApiError::invalid_input(
            "performIncrementalUpdate is only for the aws-semantic-similarity recipe",
        ));
    }
    let now = now_epoch();
    let mut update = Map::new();
    if let Some(a) = auto_training {
        s.body["performAutoTraining"] = json!(a);
        update.insert("performAutoTraining".into(), json!(a));
    }
    if let Some(i) = incremental {
        s.body["performIncrementalUpdate"] = json!(i);
        update.insert("performIncrementalUpdate".into(), json!(i));
    }
    if let Some(c) = input.raw("solutionUpdateConfig") {
        if !s.body["solutionConfig"].is_object() {
            s.body["solutionConfig"] = json!({});
        }
        for member in ["autoTrainingConfig", "eventsConfig"] {
            if !c[member].is_null() {
                s.body["solutionConfig"][member] = c[member].clone();
            }
        }
        update.insert("solutionUpdateConfig".into(), c.clone());
    }
    update.insert("creationDateTime".into(), json!(now));
    s.body["latestSolutionUpdate"] = Value::Object(update);
    state.store.write_resources(&[s], &[], None).await?;
    Ok(json!({ "solutionArn": arn }))
}

/// ListSolutions: of one group or of the account and region, oldest first.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let solutions: Vec<Resource> = state
        .store
        .list_resources(KIND, group.as_deref())
        .await?
        .into_iter()
        .filter(|s| s.arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(solutions, "solutions", |s| {
        let (status, updated) = status(state, s);
        json!({
            "name": s.body["name"],
            "solutionArn": s.arn,
            "status": status,
            "creationDateTime": s.created,
            "lastUpdatedDateTime": updated,
            "recipeArn": s.body["recipeArn"],
        })
    }))
}

/// DeleteSolution: the solution and its versions' models; refused while a version trains.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("solutionArn", 0, 256, Some(&ARN))?;
    find(state, &arn).await?;
    if let Some(c) = state
        .store
        .list_resources(super::campaign::KIND, Some(&arn))
        .await?
        .first()
    {
        return Err(ApiError::in_use(format!(
            "the campaign {} serves a version of the solution {arn}; delete it first",
            c.arn
        )));
    }
    let versions = state.store.list_jobs(JobKind::Training, Some(&arn)).await?;
    if let Some(v) = versions
        .iter()
        .find(|v| matches!(v.status, JobStatus::Pending | JobStatus::InProgress))
    {
        return Err(ApiError::in_use(format!(
            "the solution {arn} has the version {} still training; wait until it ends",
            v.arn
        )));
    }
    for v in &versions {
        for record in [v.arn.clone(), crate::model::training::stop_request(&v.arn)] {
            match state.store.delete_resource(&record).await {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let described = describe(state, input).await?["solution"].clone();
    state.store.delete_resource(&arn).await?;
    state
        .deleting
        .note(&arn, described, &crate::api::deleting::DATASET_STATES, None);
    Ok(json!({}))
}
