//! Automatic training: a solution with `performAutoTraining` (the default) gets a new
//! version, of `trainingType` `AUTOMATIC`, once per period (its
//! `autoTrainingConfig.schedulingExpression`, `rate(7 days)` by default; the first within an
//! hour of its creation, or one period if that is shorter), and only when interactions
//! arrived since its previous version was trained (the Interactions dataset's record count
//! changed, or an import job of it ended since). The worker looks every `check`; a test
//! shortens the period with [`AutoTraining::period`].
//!
//! Several workers sharing a store may look at once: an automatic version's ARN is derived
//! from its solution and the period it falls in, so only one of them creates it.

use std::time::Duration;

use serde_json::{json, Value};

use super::training::{RECOMMENDER_KIND, SOLUTION_KIND};
use crate::jobs::{now_epoch, Job, JobKind, JobSpec, JobStatus};
use crate::store::{dataset_arn, DatasetStore, StoreError, StoreResult};

/// How automatic training runs in a worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoTraining {
    /// How often solutions are looked at.
    pub check: Duration,
    /// The period of every solution, instead of its schedule's (for tests).
    pub period: Option<Duration>,
}

impl Default for AutoTraining {
    fn default() -> Self {
        AutoTraining {
            check: Duration::from_secs(60),
            period: None,
        }
    }
}

/// The days of a schedule `rate(N days)` (or `rate(1 day)`), N from 1 to 30; `None` for
/// anything else.
pub fn schedule_days(expression: &str) -> Option<u32> {
    expression
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.strip_suffix(" days").or_else(|| r.strip_suffix(" day")))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .filter(|d| (1..=30).contains(d))
}

/// The period a solution's schedule gives, 7 days when none is set.
fn scheduled(solution: &Value) -> Duration {
    let days = solution["solutionConfig"]["autoTrainingConfig"]["schedulingExpression"]
        .as_str()
        .and_then(schedule_days)
        .unwrap_or(7);
    Duration::from_secs(u64::from(days) * 86_400)
}

/// An 8-hex-digit ID for the automatic version of `solution` in period `slot`.
fn auto_id(solution: &str, slot: u64) -> String {
    // FNV-1a: stable across processes and builds.
    let mut h: u32 = 0x811c_9dc5;
    for b in solution.bytes().chain(slot.to_le_bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// Looks at every solution and recommender once and creates the automatic versions that are
/// due; returns their ARNs. A recommender retrains every 7 days (or the overriding period)
/// while it is not stopped.
pub async fn tick(store: &dyn DatasetStore, auto: &AutoTraining) -> StoreResult<Vec<String>> {
    let now = now_epoch();
    let mut created = Vec::new();
    let mut all = store.list_resources(SOLUTION_KIND, None).await?;
    all.extend(store.list_resources(RECOMMENDER_KIND, None).await?);
    for s in all {
        if s.body["performAutoTraining"].as_bool() == Some(false) {
            continue;
        }
        let period = auto
            .period
            .unwrap_or_else(|| scheduled(&s.body))
            .as_secs_f64();
        let versions = store.list_jobs(JobKind::Training, Some(&s.arn)).await?;
        if versions
            .iter()
            .any(|v| matches!(v.status, JobStatus::Pending | JobStatus::InProgress))
        {
            continue;
        }
        let latest = versions.first();
        let (since, wait) = match latest {
            Some(v) => (v.created, period),
            None => (s.created, period.min(3600.0)),
        };
        if now - since < wait {
            continue;
        }
        let Some(group) = s.body["datasetGroupArn"].as_str() else {
            continue;
        };
        let family = s.body["recipeArn"]
            .as_str()
            .and_then(crate::train::catalog::recipe)
            .map(|r| r.family);
        let Some(family) = family else {
            continue;
        };
        let (dataset_type, _) = super::training::trained_on(family);
        let records = match store.count_records(group, dataset_type).await {
            Ok(n) => n,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        if let Some(v) = latest {
            let trained = store
                .resource(&v.arn)
                .await?
                .and_then(|r| r.body["datasetRecords"].as_u64());
            let dataset = dataset_arn(group, dataset_type);
            let imported = store
                .list_jobs(JobKind::Import, Some(&dataset))
                .await?
                .iter()
                .any(|j| j.status == JobStatus::Succeeded && j.last_updated > v.created);
            if trained == Some(records) && !imported {
                continue; // nothing new since
            }
        }
        let slot = (now / period.max(1.0)) as u64;
        let id = auto_id(&s.arn, slot);
        let arn = format!("{}/{id}", s.arn);
        let mut solution = s.body.clone();
        solution["solutionArn"] = json!(s.arn);
        let spec = JobSpec::Training {
            solution_arn: s.arn.clone(),
            training_mode: "FULL".to_owned(),
            training_type: "AUTOMATIC".to_owned(),
            solution,
        };
        match store
            .create_job(&Job::new(arn.clone(), &id, spec), &[])
            .await
        {
            Ok(()) => {
                tracing::info!(version = %arn, "automatic training");
                created.push(arn);
            }
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_and_ids() {
        assert_eq!(scheduled(&json!({})), Duration::from_secs(7 * 86_400));
        let s = json!({"solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}}});
        assert_eq!(scheduled(&s), Duration::from_secs(3 * 86_400));
        assert_eq!(schedule_days("rate(1 day)"), Some(1));
        assert_eq!(schedule_days("rate(31 days)"), None);
        assert_eq!(schedule_days("cron(0 * * * ? *)"), None);
        assert_eq!(auto_id("a", 1), auto_id("a", 1));
        assert_ne!(auto_id("a", 1), auto_id("a", 2));
        assert_eq!(auto_id("a", 1).len(), 8);
    }
}
