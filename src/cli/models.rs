//! What `verify` reports of the models beside the datasets: the solution versions (and
//! recommender models) whose training read the records before the deletion job of the same
//! input COMPLETED (so they may hold what it deleted, as aggregates), the campaigns and
//! recommenders that serve them, and the batch outputs in S3 that this server wrote and
//! that name the users (read line by line: a user as a batch inference input, or in a
//! segment). A deletion job does not delete batch outputs (as on the service); outputs
//! written elsewhere are not known here. A model trained after the deletion never saw the
//! users.

use futures::StreamExt;
use serde_json::{json, Value};

use crate::api::ops::campaign;
use crate::jobs::{JobKind, JobSpec, JobStatus};
use crate::model::training::{RECOMMENDER_KIND, SOLUTION_KIND};
use crate::source::{DynObjectSource, Lines, ReadAt, S3Location};
use crate::store::ids::UserIds;
use crate::store::{DatasetStore, StoreResult};

/// The models report: the stale versions, what deploys them, the batch jobs on them.
pub(super) struct ModelsReport {
    /// Versions (and recommender models) that read the records before the deletion.
    pub(super) stale: Vec<String>,
    /// Campaigns and recommenders serving one of them: `(ARN, version)`.
    pub(super) deployed: Vec<(String, String)>,
    /// Batch output objects that name deleted users.
    pub(super) batch_outputs: Vec<Named>,
    /// When the deletion job of this input completed, if one did.
    pub(super) deleted_at: Option<f64>,
}

impl ModelsReport {
    pub(super) fn json(&self) -> Value {
        json!({
            "deletionCompletedAt": self.deleted_at,
            "versionsTrainedBeforeTheDeletion": self.stale,
            "deployed": self.deployed.iter().map(|(a, v)| json!({"arn": a, "solutionVersionArn": v})).collect::<Vec<_>>(),
            "batchOutputs": self.batch_outputs.iter().map(|n| json!({"jobArn": n.job, "object": n.object, "users": n.users, "error": n.error})).collect::<Vec<_>>(),
        })
    }
}

/// A batch output object that names deleted users.
pub(super) struct Named {
    /// The batch job that wrote it.
    pub(super) job: String,
    /// `s3://bucket/key`.
    pub(super) object: String,
    /// How many of its lines name a deleted user.
    pub(super) users: u64,
    /// Why it could not be read to the end, if it could not.
    pub(super) error: Option<String>,
}

/// The models of `group` that may hold what the deletion of `location` (the users `ids`)
/// removed, and the batch outputs that name those users.
pub(super) async fn report(
    store: &dyn DatasetStore,
    source: &DynObjectSource,
    group: &str,
    location: &S3Location,
    ids: &UserIds,
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
    let mut every = Vec::new();
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
            every.push(v.arn.clone());
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
    let mut read = std::collections::HashSet::new();
    for kind in [JobKind::BatchInference, JobKind::BatchSegment] {
        for v in &every {
            for j in store.list_jobs(kind, Some(v)).await? {
                let JobSpec::Batch { request, .. } = &j.spec else {
                    continue;
                };
                let path = request["jobOutput"]["s3DataDestination"]["path"]
                    .as_str()
                    .unwrap_or_default();
                let Ok(path) = S3Location::parse(path) else {
                    continue;
                };
                let mut listing = source.list(&path.bucket, &path.key);
                while let Some(meta) = listing.next().await {
                    let meta = match meta {
                        Ok(meta) => meta,
                        Err(e) => {
                            batch_outputs.push(Named {
                                job: j.arn.clone(),
                                object: path.to_string(),
                                users: 0,
                                error: Some(format!("listing failed: {e}")),
                            });
                            break;
                        }
                    };
                    if meta.key.ends_with(".out") && read.insert(meta.key.clone()) {
                        let named = naming(source, &path.bucket, &meta.key, ids).await;
                        if let Some(mut named) = named {
                            named.job = j.arn.clone();
                            batch_outputs.push(named);
                        }
                    }
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

/// The lines of one batch output that name a user of `ids` (`input.userId`, or one of
/// `output.recommendedUsers`), read as a stream; `None` when none does.
async fn naming(source: &DynObjectSource, bucket: &str, key: &str, ids: &UserIds) -> Option<Named> {
    let object = format!("s3://{bucket}/{key}");
    let mut named = Named {
        job: String::new(),
        object,
        users: 0,
        error: None,
    };
    let names = |line: &[u8]| -> bool {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return false;
        };
        let user = v["input"]["userId"]
            .as_str()
            .is_some_and(|u| ids.contains(u));
        let listed = v["output"]["recommendedUsers"]
            .as_array()
            .is_some_and(|us| {
                us.iter()
                    .any(|u| u.as_str().is_some_and(|u| ids.contains(u)))
            });
        user || listed
    };
    let mut lines = match source.open(bucket, key, ReadAt::default()).await {
        Ok(o) => Lines::new(o.body),
        Err(e) => {
            named.error = Some(e.to_string());
            return Some(named);
        }
    };
    while let Some(line) = lines.next_line().await {
        match line {
            Ok(line) => named.users += u64::from(names(&line)),
            Err(e) => {
                named.error = Some(e.to_string());
                return Some(named);
            }
        }
    }
    (named.users > 0).then_some(named)
}
