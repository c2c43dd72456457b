//! The wire shapes: the one place where the store's records become the service's JSON
//! (`DatasetGroup`, `Dataset`, `Schema`, `DataDeletionJob`, `DatasetImportJob`,
//! `DatasetExportJob` and their summaries). Every Describe and List operation answers
//! through these functions; nothing the store keeps is serialized as it is.

use serde_json::{json, Map, Value};

use crate::jobs::{Job, JobSpec};
use crate::store::{Dataset, DatasetGroup, Schema};

/// Which shape of a resource: its Describe member, or its List summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Everything the Describe operation returns.
    Describe,
    /// The List operation's summary.
    Summary,
}

/// `DatasetGroup` / `DatasetGroupSummary`, with its status and when it last changed.
pub fn dataset_group(g: &DatasetGroup, (status, updated): (&str, f64), shape: Shape) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(g.name));
    m.insert("datasetGroupArn".into(), json!(g.dataset_group_arn));
    m.insert("status".into(), json!(status));
    m.insert("creationDateTime".into(), json!(g.creation_date_time));
    m.insert("lastUpdatedDateTime".into(), json!(updated));
    if let Some(d) = &g.attrs.domain {
        m.insert("domain".into(), json!(d));
    }
    if shape == Shape::Describe {
        if let Some(r) = &g.attrs.role_arn {
            m.insert("roleArn".into(), json!(r));
        }
        if let Some(k) = &g.attrs.kms_key_arn {
            m.insert("kmsKeyArn".into(), json!(k));
        }
    }
    Value::Object(m)
}

/// `Dataset` / `DatasetSummary`, with its status and when it last changed.
pub fn dataset(d: &Dataset, (status, updated): (&str, f64), shape: Shape) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(d.attrs.name));
    m.insert("datasetArn".into(), json!(d.arn()));
    if shape == Shape::Describe {
        m.insert("datasetGroupArn".into(), json!(d.dataset_group_arn));
    }
    m.insert("datasetType".into(), json!(d.dataset_type.arn_suffix()));
    if let (Shape::Describe, Some(s)) = (shape, &d.attrs.schema_arn) {
        m.insert("schemaArn".into(), json!(s));
    }
    m.insert("status".into(), json!(status));
    m.insert("creationDateTime".into(), json!(d.attrs.creation_date_time));
    m.insert("lastUpdatedDateTime".into(), json!(updated));
    if let (Shape::Describe, Some(t)) = (shape, &d.attrs.tracking_id) {
        m.insert("trackingId".into(), json!(t));
    }
    Value::Object(m)
}

/// `DatasetSchema` / `DatasetSchemaSummary`.
pub fn schema(s: &Schema, shape: Shape) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    m.insert("schemaArn".into(), json!(s.schema_arn));
    if shape == Shape::Describe {
        m.insert("schema".into(), json!(s.schema));
    }
    m.insert("creationDateTime".into(), json!(s.creation_date_time));
    m.insert("lastUpdatedDateTime".into(), json!(s.creation_date_time));
    if let Some(d) = &s.domain {
        m.insert("domain".into(), json!(d));
    }
    Value::Object(m)
}

/// The member holding a job in a Describe answer, and the list member of a List answer.
pub fn job_members(kind: crate::jobs::JobKind) -> (&'static str, &'static str) {
    use crate::jobs::JobKind;
    match kind {
        JobKind::Deletion => ("dataDeletionJob", "dataDeletionJobs"),
        JobKind::Import => ("datasetImportJob", "datasetImportJobs"),
        JobKind::Export => ("datasetExportJob", "datasetExportJobs"),
        JobKind::Training => ("solutionVersion", "solutionVersions"),
        JobKind::BatchInference => ("batchInferenceJob", "batchInferenceJobs"),
        JobKind::BatchSegment => ("batchSegmentJob", "batchSegmentJobs"),
    }
}

/// The ARN member of a job of this kind (`dataDeletionJobArn`, ...).
pub fn arn_member(kind: crate::jobs::JobKind) -> &'static str {
    use crate::jobs::JobKind;
    match kind {
        JobKind::Deletion => "dataDeletionJobArn",
        JobKind::Import => "datasetImportJobArn",
        JobKind::Export => "datasetExportJobArn",
        JobKind::Training => "solutionVersionArn",
        JobKind::BatchInference => "batchInferenceJobArn",
        JobKind::BatchSegment => "batchSegmentJobArn",
    }
}

/// What every job shape carries: its name, ARN, status, failure reason and times.
fn common(job: &Job) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("jobName".into(), json!(job.name));
    m.insert(arn_member(job.kind()).into(), json!(job.arn));
    m.insert("status".into(), json!(job.service_status()));
    if let Some(r) = &job.failure_reason {
        m.insert("failureReason".into(), json!(r));
    }
    m.insert("creationDateTime".into(), json!(job.created));
    m.insert("lastUpdatedDateTime".into(), json!(job.last_updated));
    m
}

/// The job as its Describe operation answers it.
pub fn job(job: &Job) -> Value {
    let mut m = common(job);
    if let Some(role) = &job.role_arn {
        m.insert("roleArn".into(), json!(role));
    }
    match &job.spec {
        JobSpec::Deletion {
            dataset_group_arn,
            data_location,
            ..
        } => {
            m.insert("datasetGroupArn".into(), json!(dataset_group_arn));
            m.insert(
                "dataSource".into(),
                json!({ "dataLocation": data_location }),
            );
            if let Some(n) = job.num_deleted {
                m.insert("numDeleted".into(), json!(n));
            }
        }
        JobSpec::Import {
            dataset_arn,
            data_location,
            import_mode,
            publish_attribution_metrics_to_s3,
        } => {
            m.insert("datasetArn".into(), json!(dataset_arn));
            m.insert(
                "dataSource".into(),
                json!({ "dataLocation": data_location }),
            );
            m.insert("importMode".into(), json!(import_mode.as_str()));
            if let Some(p) = publish_attribution_metrics_to_s3 {
                m.insert("publishAttributionMetricsToS3".into(), json!(p));
            }
        }
        JobSpec::Export {
            dataset_arn,
            ingestion_mode,
            path,
            kms_key_arn,
        } => {
            m.insert("datasetArn".into(), json!(dataset_arn));
            m.insert("ingestionMode".into(), json!(ingestion_mode));
            let mut dest = Map::new();
            dest.insert("path".into(), json!(path));
            if let Some(k) = kms_key_arn {
                dest.insert("kmsKeyArn".into(), json!(k));
            }
            m.insert(
                "jobOutput".into(),
                json!({ "s3DataDestination": Value::Object(dest) }),
            );
        }
        // Solution versions have shapes of their own (`api::ops::solution_version`).
        JobSpec::Training { .. } => {}
        JobSpec::Batch {
            solution_version_arn,
            request,
            ..
        } => {
            m.insert("solutionVersionArn".into(), json!(solution_version_arn));
            if let Some(r) = request.as_object() {
                for (k, v) in r {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Value::Object(m)
}

/// The job as its List operation answers it: `DataDeletionJobSummary` (no `numDeleted`,
/// `dataSource` or `roleArn`), `DatasetImportJobSummary` (with `importMode`),
/// `DatasetExportJobSummary`.
pub fn job_summary(job: &Job) -> Value {
    let mut m = common(job);
    match &job.spec {
        JobSpec::Deletion {
            dataset_group_arn, ..
        } => {
            m.insert("datasetGroupArn".into(), json!(dataset_group_arn));
        }
        JobSpec::Import { import_mode, .. } => {
            m.insert("importMode".into(), json!(import_mode.as_str()));
        }
        JobSpec::Batch {
            solution_version_arn,
            request,
            ..
        } => {
            m.insert("solutionVersionArn".into(), json!(solution_version_arn));
            if let Some(mode) = request.get("batchInferenceJobMode") {
                m.insert("batchInferenceJobMode".into(), mode.clone());
            }
        }
        JobSpec::Export { .. } | JobSpec::Training { .. } => {}
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{ImportMode, JobKind};
    use crate::store::ArnScope;

    #[test]
    fn job_json_is_shaped_like_the_service() {
        let scope = ArnScope::default();
        let spec = JobSpec::Deletion {
            dataset_group_arn: "arn:g".into(),
            data_location: "s3://b/p/".into(),
            dry_run: false,
        };
        let j = Job::new(scope.job_arn(JobKind::Deletion, "j"), "j", spec).succeeded(Some(3));
        let v = job(&j);
        assert_eq!(v["status"], "COMPLETED");
        assert_eq!(v["numDeleted"], 3);
        assert_eq!(v["dataSource"]["dataLocation"], "s3://b/p/");
        assert_eq!(
            v["dataDeletionJobArn"],
            "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/j"
        );
        assert!(v["creationDateTime"].is_number());
        assert!(v.get("failureReason").is_none());
        let s = job_summary(&j);
        for absent in ["numDeleted", "dataSource", "roleArn"] {
            assert!(s.get(absent).is_none(), "{absent}");
        }

        let spec = JobSpec::Import {
            dataset_arn: "arn:d".into(),
            data_location: "s3://b/u.csv".into(),
            import_mode: ImportMode::Incremental,
            publish_attribution_metrics_to_s3: Some(false),
        };
        let j = Job::new(scope.job_arn(JobKind::Import, "i"), "i", spec).failed("bad".into());
        let v = job(&j);
        assert_eq!(v["status"], "CREATE FAILED");
        assert_eq!(v["importMode"], "INCREMENTAL");
        assert_eq!(v["publishAttributionMetricsToS3"], false);
        assert_eq!(v["failureReason"], "bad");
        assert_eq!(job_summary(&j)["importMode"], "INCREMENTAL");

        let spec = JobSpec::Export {
            dataset_arn: "arn:d".into(),
            ingestion_mode: "ALL".into(),
            path: "s3://b/out/".into(),
            kms_key_arn: None,
        };
        let mut j = Job::new(scope.job_arn(JobKind::Export, "e"), "e", spec);
        j.role_arn = Some("arn:aws:iam::000000000000:role/r".into());
        let v = job(&j);
        assert_eq!(v["status"], "CREATE PENDING");
        assert_eq!(v["jobOutput"]["s3DataDestination"]["path"], "s3://b/out/");
        assert_eq!(v["roleArn"], "arn:aws:iam::000000000000:role/r");
        assert!(job_summary(&j).get("jobOutput").is_none());
    }
}
