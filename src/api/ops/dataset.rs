//! CreateDataset, DescribeDataset, ListDatasets, DeleteDataset, UpdateDataset.
//!
//! A dataset is one type within a group, `dataset/{group name}/{TYPE}`; its columns are its
//! schema's fields. Its status follows [`lifecycle`] from its creation time.

use serde_json::{json, Value};

use super::{dataset_group, lifecycle, schema, tagging, OpResult, ACTIVE};
use crate::api::dto::{self, Shape};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, DATASET_TYPE, NAME};
use crate::api::AppState;
use crate::jobs::now_epoch;
use crate::store::schema::Fields;
use crate::store::ArnScope;
use crate::store::{dataset_by_arn, Dataset, DatasetAttrs, DatasetType, DatasetUpdate, StoreError};

/// The dataset's status now and when it last changed.
pub fn status(state: &AppState, d: &Dataset) -> (&'static str, f64) {
    lifecycle(state, d.attrs.creation_date_time)
}

fn to_json(state: &AppState, d: &Dataset, shape: Shape) -> Value {
    dto::dataset(d, status(state, d), shape)
}

/// Finds a dataset by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Dataset, ApiError> {
    dataset_by_arn(state.store.as_ref(), arn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the dataset {arn} does not exist")))
}

/// Finds a dataset that is `ACTIVE`: `ResourceNotFoundException` if there is none,
/// `ResourceInUseException` while it is still being created.
pub async fn find_active(state: &AppState, arn: &str) -> Result<Dataset, ApiError> {
    let d = find(state, arn).await?;
    let (status, _) = status(state, &d);
    if status != super::ACTIVE {
        return Err(ApiError::in_use(format!(
            "the dataset {arn} is {status}; wait until it is ACTIVE"
        )));
    }
    Ok(d)
}

/// CreateDataset: the group must be ACTIVE, the schema must fit the type (and the group's
/// domain), and a group has at most one dataset of each type.
pub async fn create(state: &AppState, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let schema_arn = input.req_str("schemaArn", 0, 256, Some(&ARN))?;
    let group_arn = input.req_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let type_name = input.req_str("datasetType", 0, 256, Some(&DATASET_TYPE))?;
    let tags = tagging::creation_tags(input)?;
    let dataset_type: DatasetType = type_name.parse().map_err(ApiError::invalid_input)?;

    let group = dataset_group::find_active(state, &group_arn).await?;
    let schema = schema::find(state, &schema_arn).await?;
    let fields = Fields::parse(&schema.schema).map_err(ApiError::invalid_input)?;
    fields
        .check_for(dataset_type)
        .map_err(ApiError::invalid_input)?;
    if group.attrs.domain != schema.domain {
        let show = |d: &Option<String>| d.clone().unwrap_or_else(|| "no domain".to_owned());
        return Err(ApiError::invalid_input(format!(
            "the schema's domain ({}) differs from the dataset group's ({})",
            show(&schema.domain),
            show(&group.attrs.domain)
        )));
    }
    let dataset = Dataset {
        dataset_group_arn: group_arn.clone(),
        dataset_type,
        columns: fields.names(),
        attrs: DatasetAttrs {
            name,
            schema_arn: Some(schema_arn),
            creation_date_time: now_epoch(),
            tracking_id: DatasetAttrs::new_tracking_id(dataset_type),
            latest_update: None,
        },
    };
    if state
        .deleting
        .view(&dataset.arn(), state.config.transition)
        .is_some()
    {
        return Err(ApiError::already_exists(format!(
            "the dataset group {group_arn}'s dataset of type {dataset_type} is being deleted; create it again once it is gone"
        )));
    }
    match state.store.create_dataset(&dataset, &tags).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::already_exists(format!(
                "the dataset group {group_arn} already has a dataset of type {dataset_type}"
            )))
        }
        Err(StoreError::NotFound(what)) => {
            return Err(ApiError::not_found(format!("{what} does not exist")))
        }
        Err(e) => return Err(e.into()),
    }
    let arn = dataset.arn();
    Ok(json!({ "datasetArn": arn }))
}

/// DescribeDataset.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    if let Some(deleting) = state.deleting.view(&arn, state.config.transition) {
        return Ok(json!({ "dataset": deleting }));
    }
    let dataset = find(state, &arn).await?;
    let mut described = to_json(state, &dataset, Shape::Describe);
    if let Some(u) = &dataset.attrs.latest_update {
        let (status, updated) = update_status(state, u);
        let mut latest = json!({
            "schemaArn": u.schema_arn,
            "status": status,
            "creationDateTime": u.creation_date_time,
            "lastUpdatedDateTime": updated,
        });
        if status == "CREATE FAILED" {
            latest["failureReason"] = json!(u.failure_reason);
        }
        described["latestDatasetUpdate"] = latest;
    }
    // An Interactions dataset shows the tracking ID of its group's event tracker, the one
    // PutEvents appends to it by (an Action_Interactions dataset has its own).
    if dataset.dataset_type == DatasetType::Interactions {
        let group = &dataset.dataset_group_arn;
        if let Some(t) = super::event_tracker::of_group(state, group).await? {
            described["trackingId"] = json!(t.tracking_id);
        }
    }
    Ok(json!({ "dataset": described }))
}

/// ListDatasets: of one group (none if it does not exist), or of every group of the
/// request's account and region; by group age, then type.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let group_arn = input.opt_str("datasetGroupArn", 0, 256, Some(&ARN))?;
    let page = Page::from_input(input)?;
    let groups: Vec<String> = match group_arn {
        Some(g) => vec![g],
        None => {
            let prefix = scope.prefix();
            state
                .store
                .list_dataset_groups()
                .await?
                .into_iter()
                .map(|g| g.dataset_group_arn)
                .filter(|arn| arn.starts_with(&prefix))
                .collect()
        }
    };
    let mut datasets = Vec::new();
    for g in groups {
        datasets.extend(state.store.datasets(&g).await?);
    }
    Ok(page.answer(datasets, "datasets", |d| to_json(state, d, Shape::Summary)))
}

/// DeleteDataset: the dataset and all its records leave the store at once, and it shows its
/// deleting states for the transition time ([`crate::api::deleting`]); refused while an
/// import job of it has not ended.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    if state.deleting.view(&arn, state.config.transition).is_some() {
        return Err(ApiError::in_use(format!(
            "the dataset {arn} is already being deleted"
        )));
    }
    let dataset = find(state, &arn).await?;
    if super::dataset_import_job::importing(state, &arn).await? {
        return Err(ApiError::in_use(format!(
            "the dataset {arn} has a dataset import job in progress; wait until it ends"
        )));
    }
    match state
        .store
        .delete_dataset(&dataset.dataset_group_arn, dataset.dataset_type)
        .await
    {
        Ok(()) => {
            let described = to_json(state, &dataset, Shape::Describe);
            let states = &crate::api::deleting::DATASET_STATES;
            let group = Some(dataset.dataset_group_arn.clone());
            state.deleting.note(&arn, described, states, group);
            Ok(json!({}))
        }
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "the dataset {arn} does not exist"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The status of a schema replacement now, and when it last changed: it moves like a
/// group's, from its creation, and ends `ACTIVE`, or `CREATE FAILED` when the schema did not
/// fit (the dataset kept its own).
pub fn update_status(state: &AppState, u: &DatasetUpdate) -> (&'static str, f64) {
    match lifecycle(state, u.creation_date_time) {
        (ACTIVE, at) if u.failure_reason.is_some() => ("CREATE FAILED", at),
        other => other,
    }
}

/// Why `new` cannot replace the schema `old` of a dataset of type `t` (what follows "the
/// schema ..."): the same required fields, of the same types; every field kept; added
/// fields nullable, since the records held have no value for them.
fn incompatible(old: &Fields, new: &Fields, t: DatasetType) -> Option<String> {
    if let Err(why) = new.check_for(t) {
        return Some(format!("does not fit a {t} dataset: {why}"));
    }
    for f in &old.0 {
        let Some(n) = new.0.iter().find(|n| n.name == f.name) else {
            return Some(format!(
                "lacks the field {}, which the dataset's records have",
                f.name
            ));
        };
        if n.ty != f.ty || n.nullable != f.nullable {
            let show = |ty, nullable| {
                if nullable {
                    format!("{ty} or null")
                } else {
                    format!("{ty}")
                }
            };
            return Some(format!(
                "has the field {} as {}, but the dataset has it as {}",
                f.name,
                show(n.ty, n.nullable),
                show(f.ty, f.nullable)
            ));
        }
    }
    new.0
        .iter()
        .find(|n| !n.nullable && !old.0.iter().any(|f| f.name == n.name))
        .map(|n| {
            format!(
                "adds the field {}, which is not nullable: the dataset's records have no value for it",
                n.name
            )
        })
}

/// UpdateDataset: replaces the dataset's schema. The schema must exist (else
/// ResourceNotFoundException) and the dataset be `ACTIVE`, with no replacement or import job
/// still in progress (else ResourceInUseException). A schema that fits takes effect at once,
/// the records keeping their values by field name and null in added fields; one that does
/// not leaves the dataset as it was, and its update ends `CREATE FAILED` with the reason.
pub async fn update(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("datasetArn", 0, 256, Some(&ARN))?;
    let schema_arn = input.req_str("schemaArn", 0, 256, Some(&ARN))?;
    let d = find_active(state, &arn).await?;
    if let Some(u) = &d.attrs.latest_update {
        let (status, _) = update_status(state, u);
        if status != ACTIVE && status != "CREATE FAILED" {
            return Err(ApiError::in_use(format!(
                "the dataset {arn} has a schema update {status}; wait until it ends"
            )));
        }
    }
    if super::dataset_import_job::importing(state, &arn).await? {
        return Err(ApiError::in_use(format!(
            "the dataset {arn} has a dataset import job in progress; wait until it ends"
        )));
    }
    let Some(current) = &d.attrs.schema_arn else {
        return Err(ApiError::invalid_input(format!(
            "the dataset {arn} was made by the import command from a CSV header and has no schema to replace"
        )));
    };
    let old = schema::find(state, current).await?;
    let old = Fields::parse(&old.schema).map_err(ApiError::invalid_input)?;
    let new = schema::find(state, &schema_arn).await?;
    let group = dataset_group::find(state, &d.dataset_group_arn).await?;
    let fields = Fields::parse(&new.schema).map_err(ApiError::invalid_input)?;
    let failure = if group.attrs.domain != new.domain {
        Some("is of another domain than the dataset group".to_owned())
    } else {
        incompatible(&old, &fields, d.dataset_type)
    };
    let mut attrs = d.attrs.clone();
    let columns = match failure {
        None => {
            attrs.schema_arn = Some(schema_arn.clone());
            fields.names()
        }
        Some(_) => d.columns.clone(),
    };
    attrs.latest_update = Some(DatasetUpdate {
        schema_arn: schema_arn.clone(),
        failure_reason: failure.map(|why| format!("the schema {schema_arn} {why}")),
        creation_date_time: now_epoch(),
    });
    match state
        .store
        .update_dataset(&d.dataset_group_arn, d.dataset_type, &columns, &attrs)
        .await
    {
        Ok(()) => Ok(json!({ "datasetArn": arn })),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "the dataset {arn} does not exist"
        ))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_arns_name_their_group_and_type() {
        assert_eq!(
            crate::store::parse_dataset_arn(
                "arn:aws:personalize:eu-west-1:123456789012:dataset/shop/ACTION_INTERACTIONS"
            ),
            Some((
                "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop".to_owned(),
                DatasetType::ActionInteractions
            ))
        );
        assert_eq!(
            crate::store::parse_dataset_arn(
                "arn:aws:personalize:eu-west-1:123456789012:dataset/shop/Interactions"
            ),
            None
        );
        assert_eq!(
            crate::store::parse_dataset_arn(
                "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop"
            ),
            None
        );
    }
}
