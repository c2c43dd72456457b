//! `delete-users --dry-run` and `verify`: a deletion job's input read exactly as a job reads
//! it ([`crate::deletion::preview`]), then what the store holds of its users. Nothing is
//! written: no job is recorded, nothing deleted.

use std::io::IsTerminal;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{print_json, CliError, EXIT_FAILED};
use crate::deletion::preview::{preview, Preview};
use crate::deletion::{DeletionOptions, Progress};
use crate::jobs::now_epoch;
use crate::source::{DynObjectSource, S3Location};
use crate::store::matching::DatasetMatch;
use crate::store::DatasetStore;

/// Unknown IDs a dry run names.
const DRY_RUN_SHOWN: usize = 10;

/// Remaining users `verify` names per dataset.
const VERIFY_SHOWN: usize = 10_000;

/// What to read and where.
pub(super) struct Audit<'a> {
    pub store: &'a dyn DatasetStore,
    pub source: DynObjectSource,
    pub group_arn: String,
    pub location: S3Location,
    pub opts: DeletionOptions,
}

impl Audit<'_> {
    async fn run(&self, keep: usize) -> Result<Result<Preview, String>, CliError> {
        let progress = Arc::new(Progress::default());
        let source = self.source.clone();
        match preview(
            self.store,
            source,
            &self.group_arn,
            &self.location,
            &self.opts,
            progress,
            keep,
        )
        .await
        {
            Ok(p) => Ok(Ok(p)),
            Err(crate::deletion::report::JobFailure::Store(e)) => Err(e.into()),
            Err(failure) => Ok(Err(failure.to_string())),
        }
    }

    fn head(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("datasetGroupArn".into(), json!(self.group_arn));
        m.insert("dataLocation".into(), json!(self.location.to_string()));
        m
    }
}

fn failed(mut head: Map<String, Value>, reason: String) -> Result<i32, CliError> {
    head.insert("failureReason".into(), json!(reason));
    print_json(&Value::Object(head));
    Ok(EXIT_FAILED)
}

fn dataset_name(d: &DatasetMatch) -> String {
    d.dataset_type.as_str().to_owned()
}

/// `delete-users --dry-run`: what a job would delete per dataset, the IDs that match
/// nothing, and the input's figures. Exit 0, or 1 if the input cannot be read (the reason a
/// job would fail with).
pub(super) async fn dry_run(audit: Audit<'_>) -> Result<i32, CliError> {
    let mut out = audit.head();
    out.insert("dryRun".into(), json!(true));
    let p = match audit.run(DRY_RUN_SHOWN).await? {
        Ok(p) => p,
        Err(reason) => return failed(out, reason),
    };
    let would: Map<String, Value> = p
        .matched
        .per_dataset
        .iter()
        .map(|d| {
            (
                dataset_name(d),
                json!({"records": d.records, "users": d.users}),
            )
        })
        .collect();
    out.insert("numDeleted".into(), json!(p.matched.records()));
    out.insert("wouldDelete".into(), Value::Object(would));
    out.insert(
        "unknownIds".into(),
        json!({"count": p.matched.unknown, "first": p.matched.first_unknown}),
    );
    out.insert("input".into(), json!(p.input));
    out.insert("skippedObjects".into(), json!(p.input.skipped_objects));
    out.insert("phaseSeconds".into(), json!(p.phases));
    print_json(&Value::Object(out));
    Ok(0)
}

/// `verify`: every listed user that still has records, per dataset, and the models that may
/// hold what the deletion removed ([`super::models`]); exit 1 if any user is left, or any
/// such model is deployed (a campaign or recommender serves it), or if the input cannot be
/// read; 0 otherwise. JSON, or a table on a terminal.
pub(super) async fn verify(audit: Audit<'_>) -> Result<i32, CliError> {
    let mut out = audit.head();
    let p = match audit.run(VERIFY_SHOWN).await? {
        Ok(p) => p,
        Err(reason) => return failed(out, reason),
    };
    let left: u64 = p.matched.per_dataset.iter().map(|d| d.users).sum();
    let (store, source) = (audit.store, &audit.source);
    let models =
        super::models::report(store, source, &audit.group_arn, &audit.location, &p.ids).await?;
    let deployed = !models.deployed.is_empty();
    let remaining: Map<String, Value> = p
        .matched
        .per_dataset
        .iter()
        .map(|d| {
            let v = json!({
                "users": d.users,
                "records": d.records,
                "userIds": d.found,
                "userIdsTruncated": d.users > d.found.len() as u64,
            });
            (dataset_name(d), v)
        })
        .collect();
    if std::io::stdout().is_terminal() {
        println!(
            "{:<20} {:>12} {:>14}",
            "dataset", "users left", "records left"
        );
        for d in &p.matched.per_dataset {
            println!("{:<20} {:>12} {:>14}", dataset_name(d), d.users, d.records);
        }
        let (listed, location, group) = (p.input.distinct_ids, &audit.location, &audit.group_arn);
        for (arn, version) in &models.deployed {
            println!("still deployed: {arn} serves {version}, trained before the deletion");
        }
        for n in &models.batch_outputs {
            match &n.error {
                None => println!(
                    "batch output: {} (written by {}) names deleted users in {} lines; a deletion job does not delete batch outputs",
                    n.object, n.job, n.users
                ),
                Some(e) => println!("batch output: {} (written by {}) could not be read: {e}", n.object, n.job),
            }
        }
        if left == 0 && !deployed {
            println!("verified: none of the {listed} users listed under {location} has records in {group}, and no deployed model was trained on them");
        } else if left == 0 {
            println!("NOT verified: no records are left, but models trained before the deletion are still deployed: train new versions and update the campaigns");
        } else {
            println!("NOT verified: users listed under {location} still have records in {group} ({left} in all datasets, of {listed} listed)");
        }
    } else {
        out.insert("verified".into(), json!(left == 0 && !deployed));
        out.insert("models".into(), models.json());
        out.insert("checkedAt".into(), json!(now_epoch()));
        out.insert("usersListed".into(), json!(p.input.distinct_ids));
        out.insert("remaining".into(), Value::Object(remaining));
        out.insert("input".into(), json!(p.input));
        out.insert("skippedObjects".into(), json!(p.input.skipped_objects));
        print_json(&Value::Object(out));
    }
    Ok(if left == 0 && !deployed {
        0
    } else {
        EXIT_FAILED
    })
}
