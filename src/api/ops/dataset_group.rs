//! CreateDatasetGroup, DescribeDatasetGroup, ListDatasetGroups, DeleteDatasetGroup.
//!
//! A group's status follows [`lifecycle`] from its creation time.

use serde_json::{json, Value};

use super::{lifecycle, tagging, OpResult};
use crate::api::dto::{self, Shape};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, KMS_KEY_ARN, NAME, ROLE_ARN};
use crate::api::AppState;
use crate::jobs::now_epoch;
use crate::store::ArnScope;
use crate::store::{DatasetGroup, GroupAttrs, StoreError};

pub use super::ACTIVE;

/// The group's status now and when it last changed.
pub fn status(state: &AppState, group: &DatasetGroup) -> (&'static str, f64) {
    match lifecycle(state, group.creation_date_time) {
        (ACTIVE, at) if failure(state, group).is_some() => ("CREATE FAILED", at),
        other => other,
    }
}

/// Why a group's creation fails: its KMS key is not one its role can use (not in
/// `--kms-keys`). Derived from the serving process's key list, as the status is from the
/// group's age.
pub fn failure(state: &AppState, group: &DatasetGroup) -> Option<String> {
    let keys = state.config.kms_keys.as_ref()?;
    let key = group.attrs.kms_key_arn.as_ref()?;
    if keys.contains(key) {
        return None;
    }
    let role = group.attrs.role_arn.as_deref().unwrap_or("(none)");
    Some(format!(
        "the role {role} cannot use the KMS key {key}: the key does not exist or its policy does not allow the role (--kms-keys)"
    ))
}

/// Finds a group that is `ACTIVE`: `ResourceNotFoundException` if there is none,
/// `ResourceInUseException` while it is still being created.
pub async fn find_active(state: &AppState, arn: &str) -> Result<DatasetGroup, ApiError> {
    let group = find(state, arn).await?;
    let (status, _) = status(state, &group);
    if status != ACTIVE {
        return Err(ApiError::in_use(format!(
            "the dataset group {arn} is {status}; wait until it is ACTIVE"
        )));
    }
    Ok(group)
}

fn describe_json(state: &AppState, g: &DatasetGroup, shape: Shape) -> Value {
    let (status, at) = status(state, g);
    let mut v = dto::dataset_group(g, (status, at), shape);
    if status == "CREATE FAILED" {
        v["failureReason"] = json!(failure(state, g));
    }
    v
}

/// Finds a group by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<DatasetGroup, ApiError> {
    state
        .store
        .dataset_group(arn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the dataset group {arn} does not exist")))
}

/// CreateDatasetGroup.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let role_arn = input.opt_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    let kms_key_arn = input.opt_str("kmsKeyArn", 0, 2048, Some(&KMS_KEY_ARN))?;
    let domain = input.opt_enum("domain", &["ECOMMERCE", "VIDEO_ON_DEMAND"])?;
    let tags = tagging::creation_tags(input)?;
    match (&role_arn, &kms_key_arn) {
        (Some(_), None) => {
            return Err(ApiError::invalid_input(
                "a roleArn is only allowed together with a kmsKeyArn",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid_input(
                "a kmsKeyArn needs a roleArn that can use it",
            ))
        }
        _ => {}
    }
    let group = DatasetGroup {
        dataset_group_arn: scope.dataset_group_arn(&name),
        name: name.clone(),
        creation_date_time: now_epoch(),
        attrs: GroupAttrs {
            role_arn,
            kms_key_arn,
            domain: domain.clone(),
        },
    };
    if state
        .deleting
        .view(&group.dataset_group_arn, state.config.transition)
        .is_some()
    {
        return Err(ApiError::already_exists(format!(
            "a dataset group named {name} is being deleted; create it again once it is gone"
        )));
    }
    match state.store.create_dataset_group(&group, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "a dataset group named {name} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let mut out = json!({ "datasetGroupArn": group.dataset_group_arn });
    if let Some(d) = domain {
        out["domain"] = json!(d);
    }
    Ok(out)
}

/// DescribeDatasetGroup.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "datasetGroup": deleting }));
    }
    let group = find(state, &arn).await?;
    Ok(json!({ "datasetGroup": describe_json(state, &group, Shape::Describe) }))
}

/// ListDatasetGroups: the groups of the request's account and region, oldest first.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let groups: Vec<DatasetGroup> = state
        .store
        .list_dataset_groups()
        .await?
        .into_iter()
        .filter(|g| g.dataset_group_arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(groups, "datasetGroups", |g| {
        describe_json(state, g, Shape::Summary)
    }))
}

/// DeleteDatasetGroup: refused while datasets remain (or one is being deleted); then the
/// group leaves the store at once and shows `DELETE PENDING` for the transition time
/// ([`crate::api::deleting`]).
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::in_use(format!(
            "the dataset group {arn} is already being deleted"
        )));
    }
    if state.deleting.has_part_of(&arn, state.config.transition) {
        return Err(ApiError::in_use(format!(
            "the dataset group {arn} has a dataset or event tracker that is being deleted; wait until it is gone"
        )));
    }
    let group = find(state, &arn).await?;
    // What belongs to the group must go first, as on AWS.
    for (kind, what) in [
        (crate::model::training::SOLUTION_KIND, "solution"),
        (super::filter::KIND, "filter"),
        (crate::model::training::RECOMMENDER_KIND, "recommender"),
        (crate::import::attribution::KIND, "metric attribution"),
    ] {
        if let Some(r) = state.store.list_resources(kind, Some(&arn)).await?.first() {
            return Err(ApiError::in_use(format!(
                "the dataset group {arn} still has the {what} {}; delete it first",
                r.arn
            )));
        }
    }
    match state.store.delete_dataset_group(&arn).await {
        Ok(()) => {
            let described = describe_json(state, &group, Shape::Describe);
            let states = &crate::api::deleting::GROUP_STATES;
            state.deleting.note(&arn, described, states, None);
            Ok(json!({}))
        }
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "the dataset group {arn} does not exist"
        ))),
        Err(StoreError::InUse(message)) => Err(ApiError::in_use(message)),
        Err(e) => Err(e.into()),
    }
}
