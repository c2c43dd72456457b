//! A request's filter: the filter resource it names, checked for the request (ACTIVE, of
//! the model's group, of the right target) and bound to its `filterValues`. What is then
//! answered is chosen by [`crate::answer::select`].

use std::collections::HashMap;

use serde_json::Value;

use super::super::error::ApiError;
use super::super::ops::{filter as filter_op, lifecycle, ACTIVE};
use super::super::AppState;
use crate::answer::deployed::Deployed;
use crate::answer::filter::{self, Dataset, Filter, Target};

/// `filterValues`: at most 25, keys `[A-Za-z0-9_]+` of at most 50 characters, values of at
/// most 1000.
fn values(v: Option<&Value>, at: &str) -> Result<HashMap<String, String>, ApiError> {
    let Some(v) = v else {
        return Ok(HashMap::new());
    };
    let map = v
        .as_object()
        .ok_or_else(|| ApiError::invalid_input(format!("{at} must be a map of strings")))?;
    if map.len() > 25 {
        return Err(ApiError::invalid_input(format!(
            "{at} has {} entries; at most 25",
            map.len()
        )));
    }
    let mut out = HashMap::new();
    for (k, v) in map {
        let key_ok = !k.is_empty()
            && k.len() <= 50
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match v.as_str() {
            Some(v) if key_ok && v.chars().count() <= 1000 => {
                out.insert(k.clone(), v.to_owned());
            }
            _ => {
                return Err(ApiError::invalid_input(format!(
                    "{at} entry {k:?}: keys are 1 to 50 of [A-Za-z0-9_], values strings of at most 1000 characters"
                )))
            }
        }
    }
    Ok(out)
}

/// The filter `arn` of the deployed model's group, ACTIVE, for `target`, bound to `raw`
/// values (`at` names the members in errors).
pub(super) async fn bound(
    state: &AppState,
    d: &Deployed,
    arn: &str,
    raw: Option<&Value>,
    target: Target,
    has_item: bool,
    at: &str,
) -> Result<Filter, ApiError> {
    let values = values(raw, &format!("{at}filterValues"))?;
    let f = filter_op::find(state, arn).await?;
    let (status, _) = lifecycle(state, f.created);
    if status != ACTIVE {
        return Err(ApiError::invalid_input(format!(
            "the filter {arn} is {status}; use it once it is ACTIVE"
        )));
    }
    if f.body["datasetGroupArn"].as_str() != Some(d.group_arn.as_str()) {
        return Err(ApiError::invalid_input(format!(
            "the filter {arn} belongs to another dataset group than the model's ({})",
            d.group_arn
        )));
    }
    let expression = f.body["filterExpression"].as_str().unwrap_or_default();
    let parsed = filter::parse(expression)
        .map_err(|e| ApiError::invalid_input(format!("the filter {arn}: {e}")))?;
    if parsed.stages.iter().any(|s| s.target != target) {
        return Err(ApiError::invalid_input(format!(
            "the filter {arn} does not filter {}",
            match target {
                Target::ActionId => "actions",
                Target::UserId => "users",
                Target::ItemId => "items",
            }
        )));
    }
    if !has_item && filter::reads(&parsed, Dataset::CurrentItem) {
        return Err(ApiError::invalid_input(format!(
            "the filter {arn} uses CurrentItem, which needs an itemId (related-items recipes)"
        )));
    }
    filter::bind(&parsed, &values).map_err(|p| {
        ApiError::invalid_input(format!(
            "{at}filterValues lacks {p}, which the filter's INCLUDE expression needs"
        ))
    })
}
