//! The kind-specific part of a job (its [`JobSpec`]) as the SQL backends keep it: a JSON
//! object whose member names are the store's own, not the API's, so the wire format can
//! change without touching what is on disk.

use serde::{Deserialize, Serialize};

use super::{StoreError, StoreResult};
use crate::jobs::model::{ImportMode, JobKind, JobSpec};

/// The kind-specific members, each present for the kinds that have it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SpecRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    publish_metrics: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ingestion_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    training_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    solution: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<serde_json::Value>,
}

pub(super) fn to_json(spec: &JobSpec) -> StoreResult<String> {
    let row = match spec {
        JobSpec::Deletion {
            data_location,
            dry_run,
            ..
        } => SpecRow {
            location: Some(data_location.clone()),
            dry_run: dry_run.then_some(true),
            ..SpecRow::default()
        },
        JobSpec::Import {
            data_location,
            import_mode,
            publish_attribution_metrics_to_s3,
            ..
        } => SpecRow {
            location: Some(data_location.clone()),
            mode: Some(import_mode.as_str().to_owned()),
            publish_metrics: *publish_attribution_metrics_to_s3,
            ..SpecRow::default()
        },
        JobSpec::Export {
            ingestion_mode,
            path,
            kms_key_arn,
            ..
        } => SpecRow {
            ingestion_mode: Some(ingestion_mode.clone()),
            path: Some(path.clone()),
            kms_key_arn: kms_key_arn.clone(),
            ..SpecRow::default()
        },
        JobSpec::Training {
            training_mode,
            training_type,
            solution,
            ..
        } => SpecRow {
            training_mode: Some(training_mode.clone()),
            training_type: Some(training_type.clone()),
            solution: Some(solution.clone()),
            ..SpecRow::default()
        },
        JobSpec::Batch { request, .. } => SpecRow {
            request: Some(request.clone()),
            ..SpecRow::default()
        },
    };
    serde_json::to_string(&row).map_err(|e| StoreError::Invalid(format!("a job spec: {e}")))
}

pub(super) fn from_json(kind: JobKind, target: String, json: &str) -> StoreResult<JobSpec> {
    let row: SpecRow = serde_json::from_str(json)
        .map_err(|e| StoreError::Invalid(format!("a stored {kind} job's spec: {e}")))?;
    let missing = |what: &str| StoreError::Invalid(format!("a stored {kind} job has no {what}"));
    Ok(match kind {
        JobKind::Deletion => JobSpec::Deletion {
            dataset_group_arn: target,
            data_location: row.location.ok_or_else(|| missing("location"))?,
            dry_run: row.dry_run.unwrap_or(false),
        },
        JobKind::Import => JobSpec::Import {
            dataset_arn: target,
            data_location: row.location.ok_or_else(|| missing("location"))?,
            import_mode: row
                .mode
                .as_deref()
                .unwrap_or("FULL")
                .parse::<ImportMode>()
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            publish_attribution_metrics_to_s3: row.publish_metrics,
        },
        JobKind::Training => JobSpec::Training {
            solution_arn: target,
            training_mode: row.training_mode.unwrap_or_else(|| "FULL".to_owned()),
            training_type: row.training_type.unwrap_or_else(|| "MANUAL".to_owned()),
            solution: row.solution.ok_or_else(|| missing("solution"))?,
        },
        JobKind::BatchInference | JobKind::BatchSegment => JobSpec::Batch {
            kind,
            solution_version_arn: target,
            request: row.request.ok_or_else(|| missing("request"))?,
        },
        JobKind::Export => JobSpec::Export {
            dataset_arn: target,
            ingestion_mode: row.ingestion_mode.unwrap_or_else(|| "BULK".to_owned()),
            path: row.path.ok_or_else(|| missing("path"))?,
            kms_key_arn: row.kms_key_arn,
        },
    })
}
