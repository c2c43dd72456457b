//! CreateEventTracker, DescribeEventTracker, ListEventTrackers, DeleteEventTracker.
//!
//! A tracker's ARN ends in an ID of 8 hex digits and its tracking ID is a UUID, both made at
//! creation. Its status follows [`lifecycle`] from its creation time; a deleted tracker
//! shows `DELETE PENDING` then `DELETE IN_PROGRESS` for the transition time
//! ([`crate::api::deleting`]).

use serde_json::{json, Map, Value};

use super::{dataset_group, lifecycle, tagging, OpResult};
use crate::api::dto::Shape;
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::now_epoch;
use crate::store::{ArnScope, EventTracker, StoreError};

/// The tracker's status now and when it last changed.
pub fn status(state: &AppState, t: &EventTracker) -> (&'static str, f64) {
    lifecycle(state, t.creation_date_time)
}

/// `EventTracker` / `EventTrackerSummary`.
fn to_json(state: &AppState, t: &EventTracker, shape: Shape) -> Value {
    let (status, updated) = status(state, t);
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    m.insert("eventTrackerArn".into(), json!(t.event_tracker_arn));
    if shape == Shape::Describe {
        let account = t.event_tracker_arn.split(':').nth(4).unwrap_or_default();
        m.insert("accountId".into(), json!(account));
        m.insert("trackingId".into(), json!(t.tracking_id));
        m.insert("datasetGroupArn".into(), json!(t.dataset_group_arn));
    }
    m.insert("status".into(), json!(status));
    m.insert("creationDateTime".into(), json!(t.creation_date_time));
    m.insert("lastUpdatedDateTime".into(), json!(updated));
    Value::Object(m)
}

/// The tracker with this ARN, if any.
pub async fn by_arn(state: &AppState, arn: &str) -> Result<Option<EventTracker>, ApiError> {
    let trackers = state.store.event_trackers().await?;
    Ok(trackers.into_iter().find(|t| t.event_tracker_arn == arn))
}

/// The tracker of a group, if it has one.
pub async fn of_group(state: &AppState, group_arn: &str) -> Result<Option<EventTracker>, ApiError> {
    let trackers = state.store.event_trackers().await?;
    Ok(trackers
        .into_iter()
        .find(|t| t.dataset_group_arn == group_arn))
}

/// Finds a tracker by ARN or answers `ResourceNotFoundException`.
async fn find(state: &AppState, arn: &str) -> Result<EventTracker, ApiError> {
    by_arn(state, arn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the event tracker {arn} does not exist")))
}

/// CreateEventTracker: the group must be ACTIVE and have no tracker yet.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let tags = tagging::creation_tags(input)?;
    dataset_group::find_active(state, &group_arn).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let tracker = EventTracker {
        name,
        event_tracker_arn: scope.event_tracker_arn(&id[..8]),
        tracking_id: uuid::Uuid::new_v4().to_string(),
        dataset_group_arn: group_arn.clone(),
        creation_date_time: now_epoch(),
    };
    match state.store.create_event_tracker(&tracker, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(existing)) => {
            return Err(ApiError::already_exists(format!(
                "the dataset group {group_arn} already has the event tracker {existing}; a group has at most one"
            )))
        }
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::not_found(format!(
                "the dataset group {group_arn} does not exist"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(json!({
        "eventTrackerArn": tracker.event_tracker_arn,
        "trackingId": tracker.tracking_id,
    }))
}

/// DescribeEventTracker.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("eventTrackerArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "eventTracker": deleting }));
    }
    let tracker = find(state, &arn).await?;
    Ok(json!({ "eventTracker": to_json(state, &tracker, Shape::Describe) }))
}

/// ListEventTrackers: of one group (none if it does not exist), or of the request's account
/// and region; oldest first.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group_arn = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let trackers: Vec<EventTracker> = state
        .store
        .event_trackers()
        .await?
        .into_iter()
        .filter(|t| t.event_tracker_arn.starts_with(&prefix))
        .filter(|t| group_arn.as_ref().is_none_or(|g| *g == t.dataset_group_arn))
        .collect();
    Ok(page.answer(trackers, "eventTrackers", |t| {
        to_json(state, t, Shape::Summary)
    }))
}

/// DeleteEventTracker: the tracker leaves the store at once (its tracking ID stops
/// working) and shows its deleting states for the transition time.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("eventTrackerArn", 0, 256, Some(&ARN))?;
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::in_use(format!(
            "the event tracker {arn} is already being deleted"
        )));
    }
    let tracker = find(state, &arn).await?;
    match state.store.delete_event_tracker(&arn).await {
        Ok(()) => {
            let described = to_json(state, &tracker, Shape::Describe);
            let states = &crate::api::deleting::DATASET_STATES;
            let group = Some(tracker.dataset_group_arn);
            state.deleting.note(&arn, described, states, group);
            Ok(json!({}))
        }
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "the event tracker {arn} does not exist"
        ))),
        Err(e) => Err(e.into()),
    }
}
