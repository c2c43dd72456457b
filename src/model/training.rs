//! The training job: a solution version, claimed from the queue like every other job. It
//! reads the dataset group's interactions as the store holds them when it starts (so a user
//! purged by a COMPLETED data deletion job is never trained on), keeps those the solution
//! asks for (`eventType`, `eventValueThreshold`), checks the service's minimum, measures the
//! metrics on a held-out split, trains the final model on everything, and commits the
//! model, the version's record and the job's `ACTIVE` in one transaction.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use serde_json::{json, Value};

use super::format::Model;
use crate::jobs::run::{run_to_end, JobError};
use crate::jobs::{Job, JobSpec, Lease};
use crate::store::{
    Blob, DatasetStore, DatasetType, Ingestion, JobCommit, Resource, StoreError, StoreResult,
};
use crate::train::metrics::{evaluate, split, DEPTH};
use crate::train::snapshot::{Snapshot, SnapshotBuilder};
use crate::train::{catalog, item_item, personalization, popularity, Family};

/// The kind of a solution's record in the store (written by the API's CreateSolution).
pub const SOLUTION_KIND: &str = "solution";

/// The kind of a recommender's record in the store: trained like a solution (its body holds
/// `datasetGroupArn`, `recipeArn` and the use case's `eventType`), its models its versions.
pub const RECOMMENDER_KIND: &str = "recommender";

/// The kind of a solution version's record in the store.
pub const VERSION_KIND: &str = "solution-version";

/// The `failureReason` of a version stopped by StopSolutionVersionCreation (shown as the
/// status `CREATE STOPPED`).
pub const STOPPED: &str = "stopped by StopSolutionVersionCreation";

/// The ARN of the record that asks a version's training to stop.
pub fn stop_request(version_arn: &str) -> String {
    format!("{version_arn}#stop")
}

/// The kind of that record.
pub const STOP_KIND: &str = "solution-version-stop";

/// Whether a stop was asked for the version `arn`.
pub async fn stop_asked(store: &dyn DatasetStore, arn: &str) -> StoreResult<bool> {
    Ok(store.resource(&stop_request(arn)).await?.is_some())
}

/// At least this many interactions, after the solution's filters.
pub const MIN_INTERACTIONS: usize = 1000;

/// At least this many users with two interactions or more.
pub const MIN_USERS: usize = 25;

/// Runs a claimed training job to its end: `ACTIVE` with the model stored, or `CREATE
/// FAILED` with the reason and nothing stored.
pub async fn run(
    store: &dyn DatasetStore,
    job: Job,
    lease: Lease,
    lease_for: std::time::Duration,
) -> StoreResult<Job> {
    let body = |commit: JobCommit| async move { (train(store, commit).await, ()) };
    run_to_end(store, job, lease, lease_for, body)
        .await
        .map(|(job, ())| job)
}

/// What the solution asks for, read from the snapshot of it the version was created with.
struct Asked {
    group: String,
    recipe: &'static catalog::Recipe,
    event_type: Option<String>,
    threshold: Option<f64>,
    /// `eventsConfig.eventParametersList`: the event types kept, each with its value
    /// threshold (a weight of 0 drops the type; other weights keep it).
    events: Vec<(String, Option<f64>)>,
    params: BTreeMap<String, i64>,
}

fn asked(solution: &Value) -> Result<Asked, JobError> {
    let failed = |why: String| JobError::Failed(why);
    let group = solution["datasetGroupArn"]
        .as_str()
        .ok_or_else(|| failed("the solution names no dataset group".into()))?
        .to_owned();
    let recipe_arn = solution["recipeArn"].as_str().unwrap_or_default();
    let recipe = catalog::recipe(recipe_arn)
        .ok_or_else(|| failed(format!("the recipe {recipe_arn} does not exist")))?;
    let config = &solution["solutionConfig"];
    let threshold = config["eventValueThreshold"]
        .as_str()
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| failed(format!("eventValueThreshold {t:?} is not a number")))
        })
        .transpose()?;
    let mut params: BTreeMap<String, i64> = recipe
        .family
        .hyperparameters()
        .iter()
        .map(|h| (h.name.to_owned(), h.default))
        .collect();
    if let Some(given) = config["algorithmHyperParameters"].as_object() {
        for (k, v) in given {
            if let (Some(slot), Some(v)) = (params.get_mut(k), v.as_str()) {
                *slot = v.parse().unwrap_or(*slot);
            }
        }
    }
    let events = config["eventsConfig"]["eventParametersList"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|p| p["weight"].as_f64().is_none_or(|w| w > 0.0))
                .filter_map(|p| {
                    let t = p["eventType"].as_str()?.to_owned();
                    Some((t, p["eventValueThreshold"].as_f64()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Asked {
        group,
        recipe,
        event_type: solution["eventType"].as_str().map(str::to_owned),
        threshold,
        events,
        params,
    })
}

/// The dataset a family trains on, and its column of the things recommended: the
/// Action_Interactions dataset's `ACTION_ID` for next-best-action, else the Interactions
/// dataset's `ITEM_ID`.
pub fn trained_on(family: Family) -> (DatasetType, &'static str) {
    match family {
        Family::NextBestAction => (DatasetType::ActionInteractions, "ACTION_ID"),
        _ => (DatasetType::Interactions, "ITEM_ID"),
    }
}

/// The group's interactions the solution trains on, and how many records the dataset held.
async fn snapshot(store: &dyn DatasetStore, asked: &Asked) -> Result<(Snapshot, u64), JobError> {
    let (dataset_type, key) = trained_on(asked.recipe.family);
    let dataset = store
        .datasets(&asked.group)
        .await?
        .into_iter()
        .find(|d| d.dataset_type == dataset_type)
        .ok_or_else(|| {
            JobError::Failed(format!(
                "the dataset group {} has no {dataset_type} dataset to train on",
                asked.group
            ))
        })?;
    let col = |name: &str| dataset.columns.iter().position(|c| c == name);
    let (user, item) = (col("USER_ID"), col(key));
    let (Some(user), Some(item)) = (user, item) else {
        return Err(JobError::Failed(format!(
            "the {dataset_type} dataset has no USER_ID or {key} column"
        )));
    };
    let (time, kind, value) = (col("TIMESTAMP"), col("EVENT_TYPE"), col("EVENT_VALUE"));
    if (asked.event_type.is_some() || !asked.events.is_empty()) && kind.is_none() {
        return Err(JobError::Failed(format!(
            "the solution's eventType needs an EVENT_TYPE column, which the {dataset_type} dataset lacks"
        )));
    }
    if asked.threshold.is_some() && value.is_none() {
        return Err(JobError::Failed(format!(
            "the solution's eventValueThreshold needs an EVENT_VALUE column, which the {dataset_type} dataset lacks"
        )));
    }
    let mut builder = SnapshotBuilder::default();
    let mut batches = store.scan_records(&asked.group, dataset_type, 10_000, Ingestion::All);
    let mut records = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        records += batch.rows() as u64;
        for r in 0..batch.rows() {
            let row: Vec<&str> = batch.row(r).collect();
            if let (Some(want), Some(k)) = (&asked.event_type, kind) {
                if !row[k].eq_ignore_ascii_case(want) {
                    continue;
                }
            }
            if let (Some(min), Some(v)) = (asked.threshold, value) {
                if row[v].parse::<f64>().map_or(true, |v| v < min) {
                    continue;
                }
            }
            if let (false, Some(k)) = (asked.events.is_empty(), kind) {
                let Some((_, min)) = asked
                    .events
                    .iter()
                    .find(|(t, _)| row[k].eq_ignore_ascii_case(t))
                else {
                    continue;
                };
                if let (Some(min), Some(v)) = (min, value) {
                    if row[v].parse::<f64>().map_or(true, |v| v < *min) {
                        continue;
                    }
                }
            }
            let t = time.and_then(|t| row[t].parse().ok()).unwrap_or(0);
            builder.push(row[user], row[item], t);
        }
    }
    Ok((builder.finish(), records))
}

/// The service's minimum: what is missing, if anything.
fn too_little(s: &Snapshot, asked: &Asked) -> Option<String> {
    let filtered = match (&asked.event_type, asked.threshold, asked.events.is_empty()) {
        (None, None, true) => String::new(),
        (Some(t), None, true) if asked.recipe.domain.is_some() => {
            format!(" of event type {t} (what {} needs)", asked.recipe.name)
        }
        _ => " after the solution's event type and value filtering".to_owned(),
    };
    if s.events.len() < MIN_INTERACTIONS {
        return Some(format!(
            "there are {} interactions{filtered}; training needs at least {MIN_INTERACTIONS}",
            s.events.len()
        ));
    }
    let h = s.histories();
    let users = (0..h.users() as u32)
        .filter(|&u| h.of(u).len() >= 2)
        .count();
    if users < MIN_USERS {
        return Some(format!(
            "{users} users have at least 2 interactions{filtered}; training needs at least {MIN_USERS}"
        ));
    }
    None
}

/// Trains `family` on `s`.
pub fn fit(family: Family, s: &Snapshot, params: &BTreeMap<String, i64>) -> Result<Model, String> {
    let p = |name: &str| family.param(params, name).max(1) as usize;
    let (ranked, neighbours) = match family {
        Family::Popularity => (popularity::popularity(s), Default::default()),
        Family::Trending => (
            popularity::trending(s, p("half_life_days") as f64 * 86_400.0),
            Default::default(),
        ),
        // Item affinity ranks users at answer time by their current histories against
        // these similarities: the model holds no user.
        // Next best action: the same scores over actions, from action interactions.
        Family::ItemItem
        | Family::UserPersonalization
        | Family::Ranking
        | Family::ItemAffinity
        | Family::NextBestAction => (
            popularity::popularity(s),
            item_item::similarities(s, p("neighbours")),
        ),
        Family::Semantic => {
            return Err(
                "semantic similarity trains from the Items dataset, not from interactions".into(),
            )
        }
    };
    Ok(Model {
        family,
        params: params.clone(),
        items: s.items.to_vec(),
        ranked,
        neighbours,
    })
}

/// The service's metrics of `family` on a held-out split of `s`.
pub fn measure(
    family: Family,
    s: &Snapshot,
    params: &BTreeMap<String, i64>,
) -> Result<BTreeMap<String, f64>, String> {
    let sp = split(s);
    let model = fit(family, &sp.train, params)?;
    let h = sp.train.histories();
    let history = params.get("history_length").copied().unwrap_or(100) as usize;
    Ok(evaluate(&sp, |u| {
        let mine = h.of(u);
        match family {
            Family::Popularity | Family::Trending => model
                .ranked
                .iter()
                .map(|r| r.0)
                .filter(|i| !mine.contains(i))
                .take(DEPTH)
                .collect(),
            // Items like the user's latest one.
            Family::ItemItem => mine
                .last()
                .map(|&last| {
                    model
                        .neighbours
                        .of(last)
                        .map(|n| n.0)
                        .filter(|i| !mine.contains(i))
                        .take(DEPTH)
                        .collect()
                })
                .unwrap_or_default(),
            _ => personalization::recommend(&model.neighbours, &model.ranked, mine, history, DEPTH)
                .into_iter()
                .map(|r| r.0)
                .collect(),
        }
    }))
}

async fn train(store: &dyn DatasetStore, commit: JobCommit) -> Result<Job, JobError> {
    let started = Instant::now();
    // When the snapshot was read: what a data deletion job completed before, it never saw.
    let snapshot_at = crate::jobs::now_epoch();
    let JobSpec::Training {
        solution_arn,
        solution,
        ..
    } = &commit.job.spec
    else {
        return Err(JobError::Store(StoreError::Invalid(format!(
            "{} is not a solution version",
            commit.job.arn
        ))));
    };
    if stop_asked(store, &commit.job.arn).await? {
        return Err(JobError::Failed(STOPPED.to_owned()));
    }
    let asked = asked(solution)?;
    let family = asked.recipe.family;
    let (model, metrics, records) = if family == Family::Semantic {
        super::semantic::train(store, &asked.group, &asked.params).await?
    } else {
        let (s, records) = snapshot(store, &asked).await?;
        crate::store::failpoint("training-after-snapshot");
        if let Some(why) = too_little(&s, &asked) {
            return Err(JobError::Failed(format!(
                "the dataset group {} has too little data to train on: {why}",
                asked.group
            )));
        }
        let params = asked.params.clone();
        // Training is CPU work: off the runtime's threads.
        let (model, metrics) = tokio::task::spawn_blocking(move || {
            let metrics = measure(family, &s, &params)?;
            let model = fit(family, &s, &params)?;
            Ok::<_, String>((model, metrics))
        })
        .await
        .map_err(|e| JobError::Failed(format!("training stopped: {e}")))?
        .map_err(JobError::Failed)?;
        (model, metrics, records)
    };
    let hours = started.elapsed().as_secs_f64() / 3600.0;
    let version = Resource {
        arn: commit.job.arn.clone(),
        kind: VERSION_KIND.to_owned(),
        parent: Some(solution_arn.clone()),
        status: "ACTIVE".to_owned(),
        body: json!({
            "metrics": metrics,
            "trainingHours": hours,
            "items": model.items.len(),
            "datasetRecords": records,
            "snapshotAt": snapshot_at,
            "params": model.params,
        }),
        created: commit.job.created,
    };
    let blob = Blob {
        arn: commit.job.arn.clone(),
        bytes: model.encode(),
    };
    let arn = commit.job.arn.clone();
    // A stop asked while training ends it stopped, nothing stored.
    if stop_asked(store, &arn).await? {
        return Err(JobError::Failed(STOPPED.to_owned()));
    }
    store
        .write_resources(&[version], &[blob], Some(commit))
        .await?;
    tracing::info!(
        version = %arn,
        family = family.as_str(),
        items = model.items.len(),
        seconds = started.elapsed().as_secs_f64(),
        "trained"
    );
    store
        .job(&arn)
        .await?
        .ok_or_else(|| JobError::Store(StoreError::NotFound(arn)))
}
