//! CreateFilter, DescribeFilter, ListFilters, DeleteFilter: a filter expression
//! ([`crate::answer::filter`]) parsed and checked against the dataset group's schemas when
//! it is created (a bad one is InvalidInputException naming what and where), kept as a store
//! resource of kind `filter` under its group. Its status follows [`lifecycle`].

use serde_json::{json, Value};

use super::{dataset_group, lifecycle, tagging, OpResult, ACTIVE};
use crate::answer::filter::{self, Filter};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::now_epoch;
use crate::store::{ArnScope, Resource, StoreError};

/// The kind of a filter's record in the store.
pub const KIND: &str = filter::KIND;

/// Finds a filter by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Resource, ApiError> {
    match state.store.resource(arn).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(ApiError::not_found(format!(
            "the filter {arn} does not exist"
        ))),
    }
}

/// Parses `expression` and checks it against the datasets of `group`.
pub async fn checked(state: &AppState, group: &str, expression: &str) -> Result<Filter, ApiError> {
    let bad = |e: filter::ParseError| ApiError::invalid_input(format!("filterExpression: {e}"));
    let f = filter::parse(expression).map_err(bad)?;
    let datasets = state.store.datasets(group).await?;
    filter::check(&f, |t| {
        datasets
            .iter()
            .find(|d| d.dataset_type == t)
            .map(|d| d.columns.clone())
    })
    .map_err(bad)?;
    Ok(f)
}

/// CreateFilter.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let expression = input.req_str("filterExpression", 1, 2500, None)?;
    let tags = tagging::creation_tags(input)?;
    let group = dataset_group::find_active(state, &group_arn).await?;
    checked(state, &group.dataset_group_arn, &expression).await?;
    let arn = format!("{}filter/{name}", scope.prefix());
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::already_exists(format!(
            "a filter named {name} is being deleted; create it again once it is gone"
        )));
    }
    let f = Resource {
        arn: arn.clone(),
        kind: KIND.to_owned(),
        parent: Some(group.dataset_group_arn.clone()),
        status: ACTIVE.to_owned(),
        body: json!({
            "name": name,
            "datasetGroupArn": group.dataset_group_arn,
            "filterExpression": expression,
        }),
        created: now_epoch(),
    };
    match state.store.create_resource(&f, &tags).await {
        Ok(()) => Ok(json!({ "filterArn": arn })),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(format!(
            "a filter named {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn describe_json(state: &AppState, f: &Resource, full: bool) -> Value {
    let (status, updated) = lifecycle(state, f.created);
    let mut v = json!({
        "name": f.body["name"],
        "filterArn": f.arn,
        "creationDateTime": f.created,
        "lastUpdatedDateTime": updated,
        "datasetGroupArn": f.body["datasetGroupArn"],
        "status": status,
    });
    if full {
        v["filterExpression"] = f.body["filterExpression"].clone();
    }
    v
}

/// DescribeFilter.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("filterArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "filter": deleting }));
    }
    let f = find(state, &arn).await?;
    Ok(json!({ "filter": describe_json(state, &f, true) }))
}

/// ListFilters: of one group or of the account and region, oldest first, under `Filters`.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let filters: Vec<Resource> = state
        .store
        .list_resources(KIND, group.as_deref())
        .await?
        .into_iter()
        .filter(|f| f.arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(filters, "Filters", |f| describe_json(state, f, false)))
}

/// DeleteFilter.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("filterArn", 0, 256, Some(&ARN))?;
    find(state, &arn).await?;
    let described = describe(state, input).await?["filter"].clone();
    state.store.delete_resource(&arn).await?;
    state
        .deleting
        .note(&arn, described, &crate::api::deleting::GROUP_STATES, None);
    Ok(json!({}))
}
