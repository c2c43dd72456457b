//! CreateMetricAttribution, DescribeMetricAttribution, ListMetricAttributions,
//! ListMetricAttributionMetrics, UpdateMetricAttribution, DeleteMetricAttribution: the
//! metrics of a dataset group (at most 10, one attribution per group), kept as a store
//! resource of kind `metric-attribution`; its reports are written after imports
//! ([`crate::import::attribution`]).

use serde_json::{json, Value};

use super::{dataset_group, lifecycle, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::import::attribution::{self, Function, KIND};
use crate::jobs::now_epoch;
use crate::store::{ArnScope, Resource, StoreError};

/// At most this many metrics in one attribution.
const MAX_METRICS: usize = 10;

/// Finds a metric attribution by ARN or answers `ResourceNotFoundException`.
async fn find(state: &AppState, arn: &str) -> Result<Resource, ApiError> {
    match state.store.resource(arn).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(ApiError::not_found(format!(
            "the metric attribution {arn} does not exist"
        ))),
    }
}

/// Checks a list of `MetricAttribute`s against the group's datasets; returns them as given.
async fn checked_metrics(
    state: &AppState,
    group: &str,
    list: &Value,
    member: &str,
) -> Result<Vec<Value>, ApiError> {
    let list = list
        .as_array()
        .ok_or_else(|| ApiError::invalid_input(format!("{member} must be a list")))?;
    if list.len() > MAX_METRICS {
        return Err(ApiError::invalid_input(format!(
            "{member} has {} metrics; at most {MAX_METRICS}",
            list.len()
        )));
    }
    let datasets = state.store.datasets(group).await?;
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let m = Input::from_value(m.clone())?;
        let at = format!("{member}[{i}]");
        let event_type = m.req_str("eventType", 1, 256, None)?;
        let name = m.req_str("metricName", 1, 256, None)?;
        let expression = m.req_str("expression", 1, 256, None)?;
        let function = attribution::parse(&expression)
            .map_err(|e| ApiError::invalid_input(format!("{at}.expression: {e}")))?;
        if let Function::Sum(t, column) = &function {
            let has = datasets
                .iter()
                .find(|d| d.dataset_type == *t)
                .is_none_or(|d| d.columns.iter().any(|c| c == column));
            if !has {
                return Err(ApiError::invalid_input(format!(
                    "{at}.expression: the {t} dataset has no field {column}"
                )));
            }
        }
        out.push(json!({ "eventType": event_type, "metricName": name, "expression": expression }));
    }
    Ok(out)
}

fn check_output(input: &Input) -> Result<Value, ApiError> {
    let config = input.opt_object("metricsOutputConfig")?.ok_or_else(|| {
        ApiError::invalid_input("the required member 'metricsOutputConfig' is missing")
    })?;
    config.req_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    if let Some(dest) = config.opt_object("s3DataDestination")? {
        dest.req_str("path", 0, 256, Some(&S3_LOCATION))?;
    }
    Ok(input
        .raw("metricsOutputConfig")
        .cloned()
        .unwrap_or(Value::Null))
}

fn unique(metrics: &[Value]) -> Result<(), ApiError> {
    for (i, m) in metrics.iter().enumerate() {
        if metrics[..i]
            .iter()
            .any(|o| o["metricName"] == m["metricName"])
        {
            return Err(ApiError::already_exists(format!(
                "the metric {} is given twice",
                m["metricName"]
            )));
        }
    }
    Ok(())
}

/// CreateMetricAttribution.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let output = check_output(input)?;
    let group = dataset_group::find_active(state, &group_arn).await?;
    let list = input
        .raw("metrics")
        .ok_or_else(|| ApiError::invalid_input("the required member 'metrics' is missing"))?;
    let metrics = checked_metrics(state, &group.dataset_group_arn, list, "metrics").await?;
    unique(&metrics)?;
    if let Some(a) = state
        .store
        .list_resources(KIND, Some(&group_arn))
        .await?
        .first()
    {
        return Err(ApiError::already_exists(format!(
            "the dataset group {group_arn} has the metric attribution {} already",
            a.arn
        )));
    }
    let arn = format!("{}metric-attribution/{name}", scope.prefix());
    let r = Resource {
        arn: arn.clone(),
        kind: KIND.to_owned(),
        parent: Some(group_arn.clone()),
        status: "ACTIVE".to_owned(),
        body: json!({
            "name": name,
            "datasetGroupArn": group_arn,
            "metrics": metrics,
            "metricsOutputConfig": output,
        }),
        created: now_epoch(),
    };
    match state.store.create_resource(&r, &[]).await {
        Ok(()) => Ok(json!({ "metricAttributionArn": arn })),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(format!(
            "a metric attribution named {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn summary(state: &AppState, r: &Resource, full: bool) -> Value {
    let (status, updated) = lifecycle(state, r.body["updated"].as_f64().unwrap_or(r.created));
    let mut v = json!({
        "name": r.body["name"],
        "metricAttributionArn": r.arn,
        "status": status,
        "creationDateTime": r.created,
        "lastUpdatedDateTime": updated,
    });
    if full {
        v["datasetGroupArn"] = r.body["datasetGroupArn"].clone();
        v["metricsOutputConfig"] = r.body["metricsOutputConfig"].clone();
    }
    v
}

/// DescribeMetricAttribution.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("metricAttributionArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "metricAttribution": deleting }));
    }
    let r = find(state, &arn).await?;
    Ok(json!({ "metricAttribution": summary(state, &r, true) }))
}

/// ListMetricAttributions: of one group or of the account and region.
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
    Ok(page.answer(all, "metricAttributions", |r| summary(state, r, false)))
}

/// ListMetricAttributionMetrics.
pub async fn list_metrics(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("metricAttributionArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let r = find(state, &arn).await?;
    let metrics: Vec<Value> = r.body["metrics"].as_array().cloned().unwrap_or_default();
    Ok(page.answer(metrics, "metrics", Clone::clone))
}

/// UpdateMetricAttribution: metrics added and removed (by name), a new output.
pub async fn update(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("metricAttributionArn", 0, 256, Some(&ARN))?;
    let remove = input
        .opt_str_list("removeMetrics", (0, MAX_METRICS), 1, 256)?
        .unwrap_or_default();
    let output = match input.has("metricsOutputConfig") {
        true => Some(check_output(input)?),
        false => None,
    };
    let mut r = find(state, &arn).await?;
    let group = r.body["datasetGroupArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let add = match input.raw("addMetrics") {
        Some(list) => checked_metrics(state, &group, list, "addMetrics").await?,
        None => Vec::new(),
    };
    let mut metrics: Vec<Value> = r.body["metrics"].as_array().cloned().unwrap_or_default();
    for name in &remove {
        let before = metrics.len();
        metrics.retain(|m| m["metricName"] != json!(name));
        if metrics.len() == before {
            return Err(ApiError::invalid_input(format!(
                "removeMetrics: the metric attribution has no metric {name}"
            )));
        }
    }
    metrics.extend(add);
    unique(&metrics)?;
    if metrics.len() > MAX_METRICS {
        return Err(ApiError::invalid_input(format!(
            "the metric attribution would have {} metrics; at most {MAX_METRICS}",
            metrics.len()
        )));
    }
    r.body["metrics"] = json!(metrics);
    if let Some(o) = output {
        r.body["metricsOutputConfig"] = o;
    }
    r.body["updated"] = json!(now_epoch());
    state.store.write_resources(&[r], &[], None).await?;
    Ok(json!({ "metricAttributionArn": arn }))
}

/// DeleteMetricAttribution.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("metricAttributionArn", 0, 256, Some(&ARN))?;
    find(state, &arn).await?;
    let described = describe(state, input).await?["metricAttribution"].clone();
    state.store.delete_resource(&arn).await?;
    state
        .deleting
        .note(&arn, described, &crate::api::deleting::GROUP_STATES, None);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DatasetType;

    #[test]
    fn expressions_are_parsed() {
        assert_eq!(attribution::parse("SAMPLECOUNT()"), Ok(Function::Count));
        assert_eq!(
            attribution::parse("sum(Items.price)"),
            Ok(Function::Sum(DatasetType::Items, "PRICE".into()))
        );
        assert!(attribution::parse("AVG(Items.PRICE)").is_err());
        assert!(attribution::parse("SUM(Users.AGE)").is_err());
    }
}
