//! What `verify` reports of the models beside the datasets: the solution versions (and
//! recommender models) whose training read the records before the deletion job of the same
//! input COMPLETED (so they may hold what it deleted, as aggregates), the campaigns and
//! recommenders that serve them, and the batch jobs this server ran on them (their outputs
//! in S3 may name the users; outputs outside this server are not known). A model trained
//! after the deletion never saw the users.

use serde_json::{json, Value};

use crate::api::ops::campaign;
use crate::jobs::{JobKind, JobSpec, JobStatus};
use crate::model::training::{RECOMMENDER_KIND, SOLUTION_KIND};
use crate::source::S3Location;
use crate::store::{DatasetStore, StoreResult};

/// The models report: the stale versions, what deploys them, the batch jobs on them.
pub(super) struct ModelsReport {
    /// Versions (and recommender models) that read the records before the deletion.
    pub(super) stale: Vec<String>,
    /// Campaigns and recommenders serving one of them: `(ARN, version)`.
    pub(super) deployed: Vec<(String, String)>,
    /// Batch jobs run on one of them: `(job ARN, output path)`.
    pub(super) batch_outputs: Vec<(String, String)>,
    /// When the deletion job of this input completed, if one did.
    pub(super) deleted_at: Option<f64>,
}

impl ModelsReport {
    pub(super) fn json(&self) -> Value {
        json!({
            "deletionCompletedAt": self.deleted_at,
            "versionsTrainedBeforeTheDeletion": self.stale,
            "deployed": self.deployed.iter().map(|(a, v)| json!({"arn": a, "solutionVersionArn": v})).collect::<Vec<_>>(),
            "batchOutputs": self.batch_outputs.iter().map(|(j, p)| json!({"jobArn": j, "outputPath": p})).collect::<Vec<_>>(),
        })
    }
}

/// The models of `group` that may hold what the deletion of `location` removed.
pub(super) async fn report(
    store: &dyn DatasetStore,
    group: &str,
    location: &S3Location,
) -> StoreResult<ModelsReport> {
    let wanted = location.to_string();
    let deleted_at = store
        .list_jobs(JobKind::Deletion, Some(group))
        .await?
        .into_iter()
        .filter(|j| j.status == JobStatus::Succeeded)
        .filter(|j| matches!(&j.spec, JobSpec::Deletion { data_location, dry_run: false, .. } if *data_location == wanted))
        .map(|j| j.last_updated)
        .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.max(t))));
    let before = deleted_at.unwrap_or(f64::INFINITY);
    let mut owners = store.list_resources(SOLUTION_KIND, Some(group)).await?;
    owners.extend(store.list_resources(RECOMMENDER_KIND, Some(group)).await?);
    let mut stale = Vec::new();
    let mut newest: Vec<(String, Option<String>)> = Vec::new();
    for owner in &owners {
        let versions = store.list_jobs(JobKind::Training, Some(&owner.arn)).await?;
        let active: Vec<_> = versions
            .iter()
            .filter(|v| v.status == JobStatus::Succeeded)
            .collect();
        for v in &active {
            let read_at = store
                .resource(&v.arn)
                .await?
                .and_then(|r| r.body["snapshotAt"].as_f64())
                .unwrap_or(v.created);
            if read_at < before {
                stale.push(v.arn.clone());
            }
        }
        newest.push((owner.arn.clone(), active.first().map(|v| v.arn.clone())));
    }
    let mut deployed = Vec::new();
    for (owner, latest) in &newest {
        if owner.contains(":recommender/") {
            if let Some(v) = latest.as_ref().filter(|v| stale.contains(v)) {
                deployed.push((owner.clone(), v.clone()));
            }
            continue;
        }
        for c in store.list_resources(campaign::KIND, Some(owner)).await? {
            let body = match c.body.get("latestCampaignUpdate") {
                Some(u) => u,
                None => &c.body,
            };
            let version = body["solutionVersionArn"].as_str().unwrap_or_default();
            let served = match version.strip_suffix(campaign::LATEST) {
                Some(_) => latest.clone().unwrap_or_default(),
                None => version.to_owned(),
            };
            if stale.contains(&served) {
                deployed.push((c.arn.clone(), served));
            }
        }
    }
    let mut batch_outputs = Vec::new();
    for kind in [JobKind::BatchInference, JobKind::BatchSegment] {
        for v in &stale {
            for j in store.list_jobs(kind, Some(v)).await? {
                if let JobSpec::Batch { request, .. } = &j.spec {
                    let path = request["jobOutput"]["s3DataDestination"]["path"]
                        .as_str()
                        .unwrap_or_default();
                    batch_outputs.push((j.arn.clone(), path.to_owned()));
                }
            }
        }
    }
    Ok(ModelsReport {
        stale,
        deployed,
        batch_outputs,
        deleted_at,
    })
}
