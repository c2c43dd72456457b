//! CreateCampaign, DescribeCampaign, ListCampaigns, UpdateCampaign, DeleteCampaign: a
//! solution version deployed for the runtime API, kept as a store resource of kind
//! `campaign` whose parent is the version's solution (so ListCampaigns by `solutionArn`
//! finds the campaigns of every version of it). Its status follows [`lifecycle`] from its
//! creation; an update's from the update, and until the update is ACTIVE the campaign goes
//! on serving what it served before. With `syncWithLatestSolutionVersion` and
//! `<solutionArn>/$LATEST` it serves the solution's newest ACTIVE version.

use serde_json::{json, Map, Value};

use super::{lifecycle, solution, solution_version, tagging, OpResult, ACTIVE};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::{now_epoch, JobKind, JobStatus};
use crate::store::{ArnScope, Resource, StoreError};
use crate::train::catalog;

/// The kind of a campaign's record in the store.
pub const KIND: &str = "campaign";

/// The suffix that asks for a solution's newest ACTIVE version.
pub const LATEST: &str = "/$LATEST";

/// Finds a campaign by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Resource, ApiError> {
    match state.store.resource(arn).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(ApiError::not_found(format!(
            "the campaign {arn} does not exist"
        ))),
    }
}

/// The solution of a version ARN (`<solution ARN>/<id>`, or `.../$LATEST`).
fn solution_of(version_arn: &str) -> &str {
    version_arn.rsplit_once('/').map_or(version_arn, |(s, _)| s)
}

/// The newest ACTIVE version of `solution_arn`, if any.
pub async fn latest_active(
    state: &AppState,
    solution_arn: &str,
) -> Result<Option<String>, ApiError> {
    let versions = state
        .store
        .list_jobs(JobKind::Training, Some(solution_arn))
        .await?;
    Ok(versions
        .into_iter()
        .find(|v| v.status == JobStatus::Succeeded)
        .map(|v| v.arn))
}

/// Checks that `arn` (a version, or `<solution>/$LATEST` when `sync`) can be deployed: an
/// ACTIVE version of a recipe that campaigns serve.
async fn check_version(state: &AppState, arn: &str, sync: bool) -> Result<(), ApiError> {
    let (solution_arn, version) = if let Some(s) = arn.strip_suffix(LATEST) {
        if !sync {
            return Err(ApiError::invalid_input(format!(
                "{arn}: $LATEST needs campaignConfig.syncWithLatestSolutionVersion true"
            )));
        }
        let latest = latest_active(state, s).await?;
        solution::find(state, s).await?;
        let Some(v) = latest else {
            return Err(ApiError::in_use(format!(
                "the solution {s} has no ACTIVE version yet"
            )));
        };
        (s.to_owned(), v)
    } else {
        if sync {
            return Err(ApiError::invalid_input(format!(
                "syncWithLatestSolutionVersion needs solutionVersionArn <solutionArn>/$LATEST, not {arn}"
            )));
        }
        (solution_of(arn).to_owned(), arn.to_owned())
    };
    let job = solution_version::find(state, &version).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError::in_use(format!(
            "the solution version {version} is {}; deploy it once it is ACTIVE",
            job.service_status()
        )));
    }
    let sol = solution::find(state, &solution_arn).await?;
    let recipe = catalog::recipe(sol.body["recipeArn"].as_str().unwrap_or_default());
    if let Some(r) = recipe.filter(|r| r.recipe_type == "USER_SEGMENTATION") {
        return Err(ApiError::invalid_input(format!(
            "{} versions make user segments in batch segment jobs; a campaign cannot serve them",
            r.name
        )));
    }
    Ok(())
}

/// Checks `campaignConfig`.
fn check_config(config: &Input) -> Result<(), ApiError> {
    config.opt_bool("enableMetadataWithRecommendations")?;
    config.opt_bool("syncWithLatestSolutionVersion")?;
    if let Some(Value::Object(e)) = config.raw("itemExplorationConfig") {
        for (k, v) in e {
            let n = v.as_str().and_then(|v| v.trim().parse::<f64>().ok());
            let ok = match k.as_str() {
                "explorationWeight" => n.is_some_and(|n| (0.0..=1.0).contains(&n)),
                "explorationItemAgeCutOff" => n.is_some_and(|n| n > 0.0),
                _ => false,
            };
            if !ok {
                return Err(ApiError::invalid_input(format!(
                    "campaignConfig.itemExplorationConfig.{k} {v}: explorationWeight is 0 to 1, explorationItemAgeCutOff a positive number of days, both strings"
                )));
            }
        }
    }
    if let Some(Value::Object(r)) = config.raw("rankingInfluence") {
        for (k, v) in r {
            if !matches!(k.as_str(), "POPULARITY" | "FRESHNESS")
                || !v.as_f64().is_some_and(|v| (0.0..=1.0).contains(&v))
            {
                return Err(ApiError::invalid_input(format!(
                    "campaignConfig.rankingInfluence.{k} {v}: the keys are POPULARITY and FRESHNESS, the values 0 to 1"
                )));
            }
        }
    }
    Ok(())
}

fn sync(config: Option<&Value>) -> bool {
    config.is_some_and(|c| c["syncWithLatestSolutionVersion"] == json!(true))
}

/// CreateCampaign.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let version = input.req_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let tps = input.opt_int("minProvisionedTPS", 1, 100_000)?.unwrap_or(1);
    if let Some(c) = input.opt_object("campaignConfig")? {
        check_config(&c)?;
    }
    let config = input.raw("campaignConfig").cloned();
    let tags = tagging::creation_tags(input)?;
    check_version(state, &version, sync(config.as_ref())).await?;
    let arn = format!("{}campaign/{name}", scope.prefix());
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::already_exists(format!(
            "a campaign named {name} is being deleted; create it again once it is gone"
        )));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("solutionVersionArn".into(), json!(version));
    body.insert("minProvisionedTPS".into(), json!(tps));
    if let Some(c) = config {
        body.insert("campaignConfig".into(), c);
    }
    let campaign = Resource {
        arn: arn.clone(),
        kind: KIND.to_owned(),
        parent: Some(solution_of(&version).to_owned()),
        status: ACTIVE.to_owned(),
        body: Value::Object(body),
        created: now_epoch(),
    };
    match state.store.create_resource(&campaign, &tags).await {
        Ok(()) => Ok(json!({ "campaignArn": arn })),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(format!(
            "a campaign named {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What a campaign serves now: its body with an ACTIVE update folded in.
pub fn serving(state: &AppState, c: &Resource) -> Value {
    let mut v = c.body.clone();
    let update = &c.body["latestCampaignUpdate"];
    if let Some(created) = update["creationDateTime"].as_f64() {
        if lifecycle(state, created).0 == ACTIVE {
            for member in ["solutionVersionArn", "minProvisionedTPS", "campaignConfig"] {
                if !update[member].is_null() {
                    v[member] = update[member].clone();
                }
            }
        }
    }
    v
}

/// The solution version a campaign answers with now (`$LATEST` resolved), if it has one.
pub async fn served_version(state: &AppState, c: &Resource) -> Result<Option<String>, ApiError> {
    let v = serving(state, c);
    let arn = v["solutionVersionArn"].as_str().unwrap_or_default();
    match arn.strip_suffix(LATEST) {
        Some(solution) => latest_active(state, solution).await,
        None => Ok(Some(arn.to_owned())),
    }
}

/// DescribeCampaign.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("campaignArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "campaign": deleting }));
    }
    let c = find(state, &arn).await?;
    let (status, updated) = lifecycle(state, c.created);
    let mut v = serving(state, &c);
    if let Some(created) = v["latestCampaignUpdate"]["creationDateTime"].as_f64() {
        let (status, at) = lifecycle(state, created);
        v["latestCampaignUpdate"]["status"] = json!(status);
        v["latestCampaignUpdate"]["lastUpdatedDateTime"] = json!(at);
    }
    v["campaignArn"] = json!(c.arn);
    v["status"] = json!(status);
    v["creationDateTime"] = json!(c.created);
    v["lastUpdatedDateTime"] = json!(updated);
    Ok(json!({ "campaign": v }))
}

/// UpdateCampaign: a new version, TPS or configuration, served once the update is ACTIVE.
pub async fn update(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("campaignArn", 0, 256, Some(&ARN))?;
    let version = input.opt_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let tps = input.opt_int("minProvisionedTPS", 1, 100_000)?;
    if let Some(c) = input.opt_object("campaignConfig")? {
        check_config(&c)?;
    }
    let mut c = find(state, &arn).await?;
    let (status, _) = lifecycle(state, c.created);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the campaign {arn} is {status}; wait until it is ACTIVE"
        )));
    }
    if let Some(created) = c.body["latestCampaignUpdate"]["creationDateTime"].as_f64() {
        let (previous, _) = lifecycle(state, created);
        if previous != ACTIVE {
            return Err(ApiError::in_use(format!(
                "the campaign {arn} has an update still {previous}"
            )));
        }
    }
    // The previous update is done: it becomes what the campaign is.
    let mut now = serving(state, &c);
    if let Some(o) = now.as_object_mut() {
        o.remove("latestCampaignUpdate");
    }
    let config = input
        .raw("campaignConfig")
        .cloned()
        .or(now.get("campaignConfig").cloned());
    let target = version.unwrap_or_else(|| {
        now["solutionVersionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    if solution_of(&target) != solution_of(now["solutionVersionArn"].as_str().unwrap_or_default()) {
        return Err(ApiError::invalid_input(format!(
            "{target} is a version of another solution than the campaign's"
        )));
    }
    check_version(state, &target, sync(config.as_ref())).await?;
    let mut update = Map::new();
    update.insert("solutionVersionArn".into(), json!(target));
    update.insert(
        "minProvisionedTPS".into(),
        tps.map_or(now["minProvisionedTPS"].clone(), |t| json!(t)),
    );
    if let Some(cfg) = config {
        update.insert("campaignConfig".into(), cfg);
    }
    update.insert("creationDateTime".into(), json!(now_epoch()));
    now["latestCampaignUpdate"] = Value::Object(update);
    c.body = now;
    state.store.write_resources(&[c], &[], None).await?;
    Ok(json!({ "campaignArn": arn }))
}

/// ListCampaigns: of one solution (any of its versions) or of the account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let solution = input.opt_str("solutionArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let campaigns: Vec<Resource> = state
        .store
        .list_resources(KIND, solution.as_deref())
        .await?
        .into_iter()
        .filter(|c| c.arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(campaigns, "campaigns", |c| {
        let (status, updated) = lifecycle(state, c.created);
        json!({
            "name": c.body["name"],
            "campaignArn": c.arn,
            "status": status,
            "creationDateTime": c.created,
            "lastUpdatedDateTime": updated,
        })
    }))
}

/// DeleteCampaign: gone from the runtime API at once; Describe shows it deleting for the
/// transition time.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("campaignArn", 0, 256, Some(&ARN))?;
    find(state, &arn).await?;
    let described = describe(state, input).await?["campaign"].clone();
    state.store.delete_resource(&arn).await?;
    state
        .deleting
        .note(&arn, described, &crate::api::deleting::DATASET_STATES, None);
    Ok(json!({}))
}
