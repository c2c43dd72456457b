//! Amazon Personalize Runtime over restJson1, on the same port as the control plane: `POST
//! /recommendations` (GetRecommendations), `/personalize-ranking` (GetPersonalizedRanking)
//! and `/action-recommendations` (GetActionRecommendations), a JSON body in and out.
//! Errors as the events API sends them (InvalidInputException 400,
//! ResourceNotFoundException 404).
//!
//! The answer comes from the campaign's (or recommender's) model and from the records as
//! the store holds them at the request ([`crate::answer`]): a user's history is read by key
//! per request, so a user purged by a COMPLETED data deletion job is answered as a user with
//! no history. What the model aggregated (item similarities, popularity) stays until a new
//! version is trained and deployed, as on AWS.
//!
//! Where the model is silent: `numResults` 0 means the default; scores are the model's
//! scores scaled to sum to 1 over the list answered; `context` is checked and otherwise not
//! used (no recipe here trains on context); answers are deterministic for the same model,
//! records and request, `recommendationId` aside.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::events::rest_error;
use super::input::{Input, ARN};
use super::ops::{campaign, lifecycle, recommender, ACTIVE};
use super::{read_body, request_scope, with_request_id, AppState};
use crate::answer;
use crate::answer::deployed::Deployed;
use crate::answer::filter::{Filter, Target as FilterTarget};
use crate::store::DatasetType;
use crate::train::Family;
use tokio::sync::OnceCell;

mod select;

use crate::answer::select::{self as choice, About, Answered, Promotion};

/// The paths of the runtime API, each with its operation.
pub const ROUTES: [(&str, &str); 3] = [
    ("/recommendations", "GetRecommendations"),
    ("/personalize-ranking", "GetPersonalizedRanking"),
    ("/action-recommendations", "GetActionRecommendations"),
];

/// The runtime routes, to merge into the API's router.
pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for (path, operation) in ROUTES {
        router = router.route(
            path,
            post(move |state: State<Arc<AppState>>, request: Request| {
                serve(state, request, operation)
            }),
        );
    }
    router
}

async fn serve(State(state): State<Arc<AppState>>, request: Request, operation: &str) -> Response {
    let (parts, body) = request.into_parts();
    let body = read_body(axum::body::Body::new(body)).await;
    let result = async {
        let input = Input::parse(&body?)?;
        let scope = request_scope(&parts.headers, &state.config);
        super::ops::in_scope(&scope, &input)?;
        if let Some(fault) = state.faults.operation(operation) {
            tokio::time::sleep(fault.latency).await;
            if let Some((code, message)) = fault.error {
                return Err(ApiError::injected(code, message));
            }
        }
        match operation {
            "GetRecommendations" => recommendations(&state, &input).await,
            "GetPersonalizedRanking" => ranking(&state, &input).await,
            _ => action_recommendations(&state, &input).await,
        }
    }
    .await;
    let resp = match result {
        Ok(v) => {
            let mut resp = (StatusCode::OK, v.to_string()).into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => rest_error(e),
    };
    with_request_id(resp)
}

/// What answers a request: a deployed model and the configuration it is served with.
struct Target {
    deployed: Arc<Deployed>,
    /// `campaignConfig` or `recommenderConfig`.
    config: Value,
}

async fn campaign_target(state: &AppState, arn: &str) -> Result<Target, ApiError> {
    let c = campaign::find(state, arn).await?;
    let (status, _) = lifecycle(state, c.created);
    if status != ACTIVE {
        return Err(ApiError::invalid_input(format!(
            "the campaign {arn} is {status}; it answers once it is ACTIVE"
        )));
    }
    let version = campaign::served_version(state, &c).await?;
    let deployed = match version {
        Some(v) => state.models.get(&*state.store, &v).await?,
        None => None,
    };
    let deployed = deployed.ok_or_else(|| {
        ApiError::not_found(format!(
            "the campaign {arn} has no ACTIVE solution version to answer with"
        ))
    })?;
    Ok(Target {
        deployed,
        config: campaign::serving(state, &c)["campaignConfig"].clone(),
    })
}

async fn recommender_target(state: &AppState, arn: &str) -> Result<Target, ApiError> {
    let r = recommender::find(state, arn).await?;
    let (status, _, _) = recommender::status(state, &r).await?;
    if status != ACTIVE {
        return Err(ApiError::invalid_input(format!(
            "the recommender {arn} is {status}; it answers when it is ACTIVE"
        )));
    }
    let deployed = match recommender::serving_model(state, arn).await? {
        Some(v) => state.models.get(&*state.store, &v).await?,
        None => None,
    };
    let deployed = deployed
        .ok_or_else(|| ApiError::not_found(format!("the recommender {arn} has no ACTIVE model")))?;
    Ok(Target {
        deployed,
        config: r.body["recommenderConfig"].clone(),
    })
}

/// `context`: at most 150 entries, keys `[A-Za-z\d_]+` of at most 150 characters, values of
/// at most 1000.
fn check_context(input: &Input) -> Result<(), ApiError> {
    let Some(v) = input.raw("context") else {
        return Ok(());
    };
    let Some(map) = v.as_object() else {
        return Err(ApiError::invalid_input("context must be a map of strings"));
    };
    if map.len() > 150 {
        return Err(ApiError::invalid_input(format!(
            "context has {} entries; at most 150",
            map.len()
        )));
    }
    for (k, v) in map {
        let key_ok = !k.is_empty()
            && k.len() <= 150
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok || v.as_str().is_none_or(|v| v.chars().count() > 1000) {
            return Err(ApiError::invalid_input(format!(
                "context entry {k:?}: keys are 1 to 150 of [A-Za-z0-9_], values strings of at most 1000 characters"
            )));
        }
    }
    Ok(())
}

/// `metadataColumns`: `{"ITEMS": [column, ...]}`, only when the target enables metadata.
fn metadata_columns(input: &Input, target: &Target) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = input.raw("metadataColumns") else {
        return Ok(None);
    };
    let map = v
        .as_object()
        .ok_or_else(|| ApiError::invalid_input("metadataColumns must be a map"))?;
    if target.config["enableMetadataWithRecommendations"] != json!(true) {
        return Err(ApiError::invalid_input(
            "metadataColumns needs a campaign or recommender created with enableMetadataWithRecommendations",
        ));
    }
    let mut columns = Vec::new();
    for (k, v) in map {
        let list = v
            .as_array()
            .filter(|l| l.len() <= 10 && k == "ITEMS")
            .ok_or_else(|| {
                ApiError::invalid_input(
                    "metadataColumns takes one key, ITEMS, with at most 10 column names",
                )
            })?;
        for c in list {
            let c = c.as_str().ok_or_else(|| {
                ApiError::invalid_input("metadataColumns.ITEMS holds column names")
            })?;
            columns.push(c.to_owned());
        }
    }
    Ok(Some(columns))
}

/// The requested Items columns of `ids`, by item: names matched without regard to case.
async fn metadata(
    state: &AppState,
    group: &str,
    ids: &[String],
    wanted: &[String],
) -> Result<std::collections::HashMap<String, Map<String, Value>>, ApiError> {
    let records = choice::records(&*state.store, group, DatasetType::Items, ids).await?;
    Ok(records
        .into_iter()
        .map(|(id, rec)| {
            let mut m = Map::new();
            for w in wanted {
                if let Some((_, v)) = rec.iter().find(|(c, _)| c.eq_ignore_ascii_case(w)) {
                    m.insert(w.clone(), json!(v));
                }
            }
            (id, m)
        })
        .collect())
}

/// Scales scores to sum to 1 over the list.
fn scaled(list: &[(String, f32)]) -> Vec<(String, f64)> {
    let sum: f64 = list.iter().map(|(_, s)| *s as f64).sum();
    list.iter()
        .map(|(i, s)| {
            let s = if sum > 0.0 { *s as f64 / sum } else { 0.0 };
            (i.clone(), (s * 1e7).round() / 1e7)
        })
        .collect()
}

fn recommendation_id() -> String {
    format!("RID-{}", uuid::Uuid::new_v4())
}

/// GetRecommendations.
async fn recommendations(state: &AppState, input: &Input) -> Result<Value, ApiError> {
    let campaign_arn = input.opt_str("campaignArn", 0, 256, Some(&ARN))?;
    let recommender_arn = input.opt_str("recommenderArn", 0, 256, Some(&ARN))?;
    let user = input.opt_str("userId", 0, 256, None)?;
    let item = input.opt_str("itemId", 0, 256, None)?;
    let asked = input.opt_int("numResults", 0, i64::MAX)?.unwrap_or(0);
    check_context(input)?;
    let (target, arn) = match (campaign_arn, recommender_arn) {
        (Some(c), None) => (campaign_target(state, &c).await?, c),
        (None, Some(r)) => (recommender_target(state, &r).await?, r),
        _ => {
            return Err(ApiError::invalid_input(
                "give exactly one of campaignArn and recommenderArn",
            ))
        }
    };
    let columns = metadata_columns(input, &target)?;
    let max = if columns.is_some() { 50 } else { 500 };
    if asked > max {
        return Err(ApiError::invalid_input(format!(
            "numResults {asked} is over {max}"
        )));
    }
    let n = if asked == 0 { 25 } else { asked as usize };
    let d = &target.deployed;
    if let Some(ids) = state
        .pins
        .find(&arn, user.as_deref(), item.as_deref(), false)
    {
        let list: Vec<Answered> = ids.into_iter().take(n).map(|i| (i, 1.0, None)).collect();
        return item_list(state, d, &list, columns.as_deref(), "itemList").await;
    }
    let seen = OnceCell::new();
    let about = About {
        user: user.as_deref(),
        item: item.as_deref(),
        target: FilterTarget::ItemId,
        history: &seen,
    };
    let filter = request_filter(state, d, input, about).await?;
    let promotion = promotion(state, d, input, about).await?;
    let (filter, promotion) = (filter.as_ref(), promotion.as_ref());
    let list = match d.recipe.recipe_type {
        "USER_PERSONALIZATION" => {
            // Popular and trending items are the same for everyone: no user needed.
            let anyone = matches!(d.model.family, Family::Popularity | Family::Trending);
            let history = match user.as_deref() {
                Some(_) => choice::known_history(&*state.store, d, about).await?,
                None if anyone => Vec::new(),
                None => {
                    return Err(ApiError::invalid_input(format!(
                        "userId is required: {} recommends items for a user",
                        d.recipe.name
                    )))
                }
            };
            let ranked = |limit| answer::items_for_user(d, &history, limit);
            choice::choose(&*state.store, d, ranked, n, filter, promotion, about).await?
        }
        "RELATED_ITEMS" => {
            let item = item.as_deref().ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "itemId is required: {} recommends items like an item",
                    d.recipe.name
                ))
            })?;
            let related = choice::Related::of(&*state.store, d, item).await?;
            let ranked = |limit| related.ranked(d, limit);
            choice::choose(&*state.store, d, ranked, n, filter, promotion, about).await?
        }
        "PERSONALIZED_RANKING" => {
            return Err(ApiError::invalid_input(format!(
                "{} ranks a list: call GetPersonalizedRanking",
                d.recipe.name
            )))
        }
        "PERSONALIZED_ACTIONS" => {
            return Err(ApiError::invalid_input(format!(
                "{} recommends actions: call GetActionRecommendations",
                d.recipe.name
            )))
        }
        other => {
            return Err(ApiError::invalid_input(format!(
                "{} ({other}) does not answer GetRecommendations",
                d.recipe.name
            )))
        }
    };
    item_list(state, d, &list, columns.as_deref(), "itemList").await
}

/// The request's `filterArn`, bound to its `filterValues`.
async fn request_filter(
    state: &AppState,
    d: &Deployed,
    input: &Input,
    about: About<'_>,
) -> Result<Option<Filter>, ApiError> {
    let Some(arn) = input.opt_str("filterArn", 0, 256, Some(&ARN))? else {
        if input.has("filterValues") {
            return Err(ApiError::invalid_input("filterValues needs a filterArn"));
        }
        return Ok(None);
    };
    let raw = input.raw("filterValues");
    let f = select::bound(state, d, &arn, raw, about.target, about.item.is_some(), "").await?;
    Ok(Some(f))
}

/// The request's `promotions` (at most one): a name, 1 to 100 percent, a filter.
async fn promotion(
    state: &AppState,
    d: &Deployed,
    input: &Input,
    about: About<'_>,
) -> Result<Option<Promotion>, ApiError> {
    let Some(list) = input.raw("promotions") else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .filter(|l| l.len() <= 1)
        .ok_or_else(|| ApiError::invalid_input("promotions is a list of at most one promotion"))?;
    let Some(p) = list.first() else {
        return Ok(None);
    };
    let p =
        Input::from_value(p.clone()).map_err(|e| crate::api::input::nested(e, "promotions[0]."))?;
    let name = p.req_str("name", 1, 63, Some(&crate::api::input::NAME))?;
    let percent = p.opt_int("percentPromotedItems", 1, 100)?.ok_or_else(|| {
        ApiError::invalid_input("promotions[0].percentPromotedItems is required (1 to 100)")
    })?;
    let arn = p.req_str("filterArn", 0, 256, Some(&ARN))?;
    let raw = p.raw("filterValues");
    let filter = select::bound(
        state,
        d,
        &arn,
        raw,
        about.target,
        about.item.is_some(),
        "promotions[0].",
    )
    .await?;
    Ok(Some(Promotion {
        name,
        percent,
        filter,
    }))
}

/// `{member: [{itemId, score, metadata}], recommendationId}`.
async fn item_list(
    state: &AppState,
    d: &Deployed,
    list: &[Answered],
    columns: Option<&[String]>,
    member: &str,
) -> Result<Value, ApiError> {
    let ids: Vec<String> = list.iter().map(|(i, _, _)| i.clone()).collect();
    let meta = match columns {
        Some(c) => metadata(state, &d.group_arn, &ids, c).await?,
        None => Default::default(),
    };
    let scores: Vec<(String, f32)> = list.iter().map(|(i, s, _)| (i.clone(), *s)).collect();
    let items: Vec<Value> = scaled(&scores)
        .into_iter()
        .zip(list)
        .map(|((id, score), (_, _, promotion))| {
            let mut v = json!({ "itemId": id, "score": score });
            if let Some(p) = promotion {
                v["promotionName"] = json!(p);
            }
            if columns.is_some() {
                v["metadata"] = Value::Object(meta.get(&id).cloned().unwrap_or_default());
            }
            v
        })
        .collect();
    Ok(json!({ member: items, "recommendationId": recommendation_id() }))
}

/// GetPersonalizedRanking.
async fn ranking(state: &AppState, input: &Input) -> Result<Value, ApiError> {
    let campaign_arn = input.req_str("campaignArn", 0, 256, Some(&ARN))?;
    let user = input.req_str("userId", 0, 256, None)?;
    check_context(input)?;
    let target = campaign_target(state, &campaign_arn).await?;
    let columns = metadata_columns(input, &target)?;
    let max = if columns.is_some() { 50 } else { 500 };
    let list = input.req_str_list("inputList", max, 0, 256, None)?;
    if list.is_empty() {
        return Err(ApiError::invalid_input("inputList needs at least one item"));
    }
    let d = &target.deployed;
    if d.recipe.recipe_type != "PERSONALIZED_RANKING" {
        return Err(ApiError::invalid_input(format!(
            "{} ({}) does not rank lists: GetPersonalizedRanking needs a PERSONALIZED_RANKING campaign",
            d.recipe.name, d.recipe.recipe_type
        )));
    }
    let seen = OnceCell::new();
    let about = About {
        user: Some(&user),
        item: None,
        target: FilterTarget::ItemId,
        history: &seen,
    };
    let filter = request_filter(state, d, input, about).await?;
    let ranked = choice::ranked_list(&*state.store, d, &list, filter.as_ref(), about).await?;
    item_list(state, d, &ranked, columns.as_deref(), "personalizedRanking").await
}

/// GetActionRecommendations.
async fn action_recommendations(state: &AppState, input: &Input) -> Result<Value, ApiError> {
    let campaign_arn = input.req_str("campaignArn", 0, 256, Some(&ARN))?;
    let user = input.req_str("userId", 0, 256, None)?;
    let asked = input.opt_int("numResults", 0, 100)?.unwrap_or(0);
    let n = if asked == 0 { 5 } else { asked as usize };
    let target = campaign_target(state, &campaign_arn).await?;
    let d = &target.deployed;
    if d.recipe.recipe_type != "PERSONALIZED_ACTIONS" {
        return Err(ApiError::invalid_input(format!(
            "{} ({}) does not recommend actions: GetActionRecommendations needs a PERSONALIZED_ACTIONS campaign",
            d.recipe.name, d.recipe.recipe_type
        )));
    }
    let seen = OnceCell::new();
    let about = About {
        user: Some(&user),
        item: None,
        target: FilterTarget::ActionId,
        history: &seen,
    };
    let filter = request_filter(state, d, input, about).await?;
    let list: Vec<(String, f32)> = match state.pins.find(&campaign_arn, Some(&user), None, true) {
        Some(ids) => ids.into_iter().take(n).map(|i| (i, 1.0)).collect(),
        None => {
            let history = choice::known_history(&*state.store, d, about).await?;
            let ranked = |limit| answer::actions_for_user(d, &history, limit);
            let chosen =
                choice::choose(&*state.store, d, ranked, n, filter.as_ref(), None, about).await?;
            chosen.into_iter().map(|(i, s, _)| (i, s)).collect()
        }
    };
    let actions: Vec<Value> = scaled(&list)
        .into_iter()
        .map(|(id, score)| json!({ "actionId": id, "score": score }))
        .collect();
    Ok(json!({ "actionList": actions, "recommendationId": recommendation_id() }))
}
