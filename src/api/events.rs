//! Amazon Personalize Events over restJson1, on the same port as the control plane: `POST
//! /events` (PutEvents), `/users` (PutUsers), `/items` (PutItems), `/actions` (PutActions) and
//! `/action-interactions` (PutActionInteractions), a JSON body in, an empty 200 out. Errors
//! carry their code in `x-amzn-ErrorType` and the body, with the status the model gives it
//! (InvalidInputException 400, ResourceNotFoundException 404, ResourceInUseException 409).
//!
//! Every member is checked against the model's limits. The records are built by
//! [`crate::events::RowBuilder`] and written with group commit
//! ([`crate::events::commit::GroupCommit`]): the answer comes once they are durable.
//!
//! Where the model is silent:
//! - an event without `userId` is recorded under its `sessionId` as the `USER_ID` (so a
//!   deletion job can purge it), as the service attributes a session's events to its user;
//! - `sentAt` and `timestamp` (epoch seconds) are recorded in whole seconds, `impression` as
//!   its IDs joined by `|`, `metricAttribution` as `EVENT_ATTRIBUTION_SOURCE`; a member whose
//!   column the schema lacks (say `eventValue` without `EVENT_VALUE`) is left out;
//! - a tracker or dataset that is not `ACTIVE` yet is ResourceInUseException.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::error::ApiError;
use super::input::{nested, Input, ARN, ATTRIBUTION_SOURCE};
use super::ops::{dataset, event_tracker, schema, ACTIVE};
use super::{read_body, request_scope, with_request_id, AppState};
use crate::events::{RowBuilder, Target};
use crate::store::schema::Fields;
use crate::store::{dataset_arn, ArnScope, Dataset, DatasetType};

/// The paths of the events API, each with its operation.
pub const ROUTES: [(&str, &str); 5] = [
    ("/events", "PutEvents"),
    ("/users", "PutUsers"),
    ("/items", "PutItems"),
    ("/actions", "PutActions"),
    ("/action-interactions", "PutActionInteractions"),
];

/// Property keys an event's `properties` may not have: they are members of their own.
const RESERVED: [&str; 6] = [
    "userId",
    "sessionId",
    "eventType",
    "timestamp",
    "recommendationId",
    "impression",
];

/// The events routes, to merge into the API's router.
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
            "PutEvents" => put_events(&state, &scope, &input).await,
            "PutActionInteractions" => put_action_interactions(&state, &scope, &input).await,
            "PutUsers" => put_metadata(&state, &input, DatasetType::Users).await,
            "PutItems" => put_metadata(&state, &input, DatasetType::Items).await,
            _ => put_metadata(&state, &input, DatasetType::Actions).await,
        }
    }
    .await;
    let resp = match result {
        Ok(()) => {
            let mut resp = StatusCode::OK.into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => rest_error(e),
    };
    with_request_id(resp)
}

/// An error as restJson1 sends it: the modeled status, the code in `x-amzn-ErrorType`.
pub(crate) fn rest_error(mut e: ApiError) -> Response {
    if e.status == StatusCode::BAD_REQUEST {
        e.status = match e.code {
            "ResourceNotFoundException" => StatusCode::NOT_FOUND,
            "ResourceInUseException" => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
    }
    let mut resp = e.into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// A write's outcome as the API answers it: a dataset deleted meanwhile is not found, one
/// whose schema was replaced meanwhile refuses records of the old width.
fn written(result: crate::store::StoreResult<()>) -> Result<(), ApiError> {
    use crate::store::StoreError;
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound(what)) => {
            Err(ApiError::not_found(format!("{what} does not exist")))
        }
        Err(StoreError::Invalid(why)) => Err(ApiError::invalid_input(why)),
        Err(e) => Err(e.into()),
    }
}

/// The target of a dataset that is `ACTIVE`, with its schema's fields.
async fn target(state: &AppState, d: &Dataset) -> Result<Arc<Target>, ApiError> {
    let (status, _) = dataset::status(state, d);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the dataset {} is {status}; wait until it is ACTIVE",
            d.arn()
        )));
    }
    let fields = match &d.attrs.schema_arn {
        Some(arn) => {
            let s = schema::find(state, arn).await?;
            Some(Fields::parse(&s.schema).map_err(ApiError::invalid_input)?)
        }
        None => None,
    };
    Ok(Arc::new(Target::new(d, fields)))
}

/// The members every event and action interaction shares, into their columns.
fn event_members(item: &Input, row: &mut RowBuilder<'_>) -> Result<(), ApiError> {
    if let Some(id) = item.opt_str("eventId", 1, 256, None)? {
        row.set("EVENT_ID", id);
    }
    row.set("EVENT_TYPE", item.req_str("eventType", 1, 256, None)?);
    if let Some(id) = item.opt_str("recommendationId", 1, 40, None)? {
        row.set("RECOMMENDATION_ID", id);
    }
    if let Some(ids) = item.opt_str_list("impression", (1, 25), 1, 256)? {
        row.set("IMPRESSION", ids.join("|"));
    }
    Ok(())
}

fn properties(
    item: &Input,
    row: &mut RowBuilder<'_>,
    max: usize,
    reserved: &[&str],
) -> Result<(), ApiError> {
    if let Some(text) = item.opt_str("properties", 1, max, None)? {
        row.properties(&text, reserved)
            .map_err(|why| ApiError::invalid_input(format!("the member 'properties' {why}")))?;
    }
    Ok(())
}

/// Epoch seconds as the dataset keeps them: whole seconds.
fn seconds(t: f64) -> String {
    (t.floor() as i64).to_string()
}

/// Each item's record, or the first item's error with its path in the request.
fn rows_of(
    items: &[Input],
    member: &str,
    target: &Target,
    build: impl Fn(&Input, &mut RowBuilder<'_>) -> Result<(), ApiError>,
) -> Result<Vec<Vec<String>>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("{member}.{}.member", i + 1);
            let mut row = target.row();
            build(item, &mut row).map_err(|e| nested(e, &prefix))?;
            row.finish()
                .map_err(|why| ApiError::invalid_input(format!("{prefix}: {why}")))
        })
        .collect()
}

/// PutEvents: interactions, into the Interactions dataset of the tracker's group.
async fn put_events(state: &AppState, scope: &ArnScope, input: &Input) -> Result<(), ApiError> {
    let tracking_id = input.req_str("trackingId", 1, 256, None)?;
    let user_id = input.opt_str("userId", 1, 256, None)?;
    let session_id = input.req_str("sessionId", 1, 256, None)?;
    let events = input.req_object_list("eventList", 1, 10)?;
    let tracker = state
        .store
        .event_trackers()
        .await?
        .into_iter()
        .find(|t| t.tracking_id == tracking_id && t.event_tracker_arn.starts_with(&scope.prefix()))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no event tracker has the tracking ID {tracking_id}"
            ))
        })?;
    let (status, _) = event_tracker::status(state, &tracker);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the event tracker {} is {status}; wait until it is ACTIVE",
            tracker.event_tracker_arn
        )));
    }
    let arn = dataset_arn(&tracker.dataset_group_arn, DatasetType::Interactions);
    let d = dataset::find(state, &arn).await.map_err(|_| {
        ApiError::not_found(format!(
            "the dataset group {} of the event tracker has no Interactions dataset",
            tracker.dataset_group_arn
        ))
    })?;
    let target = target(state, &d).await?;
    let user = user_id.unwrap_or(session_id);
    let rows = rows_of(&events, "eventList", &target, |event, row| {
        row.set("USER_ID", user.clone());
        event_members(event, row)?;
        row.set("TIMESTAMP", seconds(event.req_number("sentAt")?));
        if let Some(v) = event.opt_number("eventValue")? {
            row.set("EVENT_VALUE", v.to_string());
        }
        if let Some(id) = event.opt_str("itemId", 1, 256, None)? {
            row.set("ITEM_ID", id);
        }
        if let Some(m) = event.opt_object("metricAttribution")? {
            let source = m
                .req_str("eventAttributionSource", 0, 1024, Some(&ATTRIBUTION_SOURCE))
                .map_err(|e| nested(e, "metricAttribution"))?;
            row.set("EVENT_ATTRIBUTION_SOURCE", source);
        }
        properties(event, row, 1024, &RESERVED)
    })?;
    written(state.events.write(target, rows).await)
}

/// PutActionInteractions: into the Action_Interactions dataset the tracking ID names.
async fn put_action_interactions(
    state: &AppState,
    scope: &ArnScope,
    input: &Input,
) -> Result<(), ApiError> {
    let tracking_id = input.req_str("trackingId", 1, 256, None)?;
    let items = input.req_object_list("actionInteractions", 1, 10)?;
    let prefix = scope.prefix();
    let mut found = None;
    for g in state.store.list_dataset_groups().await? {
        if !g.dataset_group_arn.starts_with(&prefix) {
            continue;
        }
        let datasets = state.store.datasets(&g.dataset_group_arn).await?;
        found = datasets.into_iter().find(|d| {
            d.dataset_type == DatasetType::ActionInteractions
                && d.attrs.tracking_id.as_deref() == Some(tracking_id.as_str())
        });
        if found.is_some() {
            break;
        }
    }
    let d = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "no Action_Interactions dataset has the tracking ID {tracking_id}"
        ))
    })?;
    let target = target(state, &d).await?;
    let rows = rows_of(&items, "actionInteractions", &target, |item, row| {
        row.set("ACTION_ID", item.req_str("actionId", 1, 256, None)?);
        let session = item.req_str("sessionId", 1, 256, None)?;
        let user = item.opt_str("userId", 1, 256, None)?;
        row.set("USER_ID", user.unwrap_or(session));
        row.set("TIMESTAMP", seconds(item.req_number("timestamp")?));
        event_members(item, row)?;
        properties(item, row, 1024, &RESERVED)
    })?;
    written(state.events.write(target, rows).await)
}

/// PutUsers, PutItems, PutActions: one record per ID, inserted or replaced.
async fn put_metadata(state: &AppState, input: &Input, t: DatasetType) -> Result<(), ApiError> {
    let (member, id_member, max_properties) = match t {
        DatasetType::Users => ("users", "userId", 24_000),
        DatasetType::Items => ("items", "itemId", 32_000),
        _ => ("actions", "actionId", 32_000),
    };
    let arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    let items = input.req_object_list(member, 1, 10)?;
    let d = dataset::find(state, &arn).await?;
    if d.dataset_type != t {
        return Err(ApiError::invalid_input(format!(
            "the dataset {arn} is a {} dataset; {member} go to a {t} dataset",
            d.dataset_type
        )));
    }
    let target = target(state, &d).await?;
    let rows = rows_of(&items, member, &target, |item, row| {
        row.set(t.key_column(), item.req_str(id_member, 1, 256, None)?);
        properties(item, row, max_properties, &[])
    })?;
    written(state.events.write(target, rows).await)
}
