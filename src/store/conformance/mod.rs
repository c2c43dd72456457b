//! The checks every [`DatasetStore`] must pass, run by each backend's tests.
//!
//! Each check starts from an empty store and creates what it needs under its own ARNs, so
//! the checks can share one store. Not a stable API.
//!
//! | file | checks |
//! |---|---|
//! | `catalog.rs` | groups, datasets, schemas, event trackers, tags |
//! | `records.rs` | loads and scans, and their commit with a job's end |
//! | `purges.rs` | purges: what they remove, every read path after them, their commit |
//! | `lookups.rs` | reads by key: a user's records, a few items' |
//! | `queue.rs` | job records of every kind, claims, leases and the fencing check |
//! | `resources.rs` | resources of every other kind by ARN, kind and parent; blobs |

mod catalog;
mod lookups;
mod purges;
mod queue;
mod records;
mod resources;

use std::time::Duration;

use futures::stream::{self, StreamExt};

pub use self::catalog::*;
pub use self::lookups::*;
pub use self::purges::*;
pub use self::queue::*;
pub use self::records::*;
pub use self::resources::*;
use super::{
    ArnScope, Claim, Dataset, DatasetAttrs, DatasetGroup, DatasetStore, DatasetType, DatasetUpdate,
    EventTracker, Ingestion, JobCommit, LoadMode, RowBatch, Schema, StoreError, UserIds,
};
use crate::jobs::model::{ImportMode, Job, JobKind, JobSpec, JobStatus, Lease};

/// Runs every check against `store`.
pub async fn run_all(store: &dyn DatasetStore) {
    groups_and_datasets(store).await;
    groups_are_listed_and_deleted(store).await;
    schemas_are_listed_and_deleted_once_unused(store).await;
    datasets_are_deleted_with_their_records(store).await;
    tags_belong_to_one_resource(store).await;
    event_trackers_are_one_per_group(store).await;
    updates_remap_records_by_column_name(store).await;
    replace_is_all_or_nothing(store).await;
    append_replaces_ids_and_appends_events(store).await;
    puts_are_told_apart_and_survive_a_full_load(store).await;
    scans_stream_every_record_in_batches(store).await;
    purge_removes_only_the_listed_users(store).await;
    purge_is_atomic_with_the_job_record(store).await;
    purged_users_stay_gone_on_every_read_path(store).await;
    purges_of_many_and_of_few_users_agree(store).await;
    records_are_read_by_key(store).await;
    matching_finds_what_a_purge_deletes(store).await;
    loads_commit_with_their_job(store).await;
    jobs_are_kept_and_listed_newest_first(store).await;
    claims_take_each_job_once_oldest_first(store).await;
    an_expired_lease_is_claimable_and_fenced(store).await;
    resources_are_created_with_their_tags(store).await;
    resources_are_kept_by_arn_kind_and_parent(store).await;
    resources_commit_with_their_job(store).await;
    reset_empties_everything(store).await;
}

/// After a reset nothing is left, and the store works as new.
pub async fn reset_empties_everything(store: &dyn DatasetStore) {
    let kept = crate::store::Resource {
        arn: "arn:aws:personalize:us-east-1:000000000000:filter/conf-reset".into(),
        kind: "conf-filter".into(),
        parent: None,
        status: "ACTIVE".into(),
        body: serde_json::json!({}),
        created: 1.0,
    };
    store.create_resource(&kept, &[]).await.unwrap();
    let blob = crate::store::Blob {
        arn: kept.arn.clone(),
        bytes: bytes::Bytes::from_static(b"x"),
    };
    store.write_resources(&[], &[blob], None).await.unwrap();
    store.reset().await.unwrap();
    assert!(store
        .list_resources("conf-filter", None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.blob(&kept.arn).await.unwrap(), None);
    assert_eq!(store.list_dataset_groups().await.unwrap(), vec![]);
    assert_eq!(store.list_schemas().await.unwrap(), vec![]);
    assert_eq!(store.event_trackers().await.unwrap(), vec![]);
    for kind in JobKind::ALL {
        assert_eq!(store.list_jobs(kind, None).await.unwrap(), vec![]);
    }
    assert!(store.claim_next("w", LEASE).await.unwrap().is_none());
    assert_eq!(
        store
            .tags(&group("conf-tags-b").dataset_group_arn)
            .await
            .unwrap(),
        vec![]
    );
    let f = purge_fixture(store, "conf-purge").await;
    assert_eq!(
        store
            .records(&f.g.dataset_group_arn, DatasetType::Users)
            .await
            .unwrap(),
        f.users
    );
    store.reset().await.unwrap();
}

fn group(name: &str) -> DatasetGroup {
    DatasetGroup {
        name: name.to_owned(),
        dataset_group_arn: ArnScope::default().dataset_group_arn(name),
        creation_date_time: 1_700_000_000.25,
        ..DatasetGroup::default()
    }
}

fn dataset(g: &DatasetGroup, t: DatasetType, columns: &[&str]) -> Dataset {
    Dataset {
        dataset_group_arn: g.dataset_group_arn.clone(),
        dataset_type: t,
        columns: columns.iter().map(|s| s.to_string()).collect(),
        attrs: DatasetAttrs {
            name: format!("{}-{}", g.name, t.arn_suffix().to_lowercase()),
            schema_arn: None,
            creation_date_time: 1_700_000_001.5,
            tracking_id: (t == DatasetType::ActionInteractions)
                .then(|| format!("{}-tracking-id", g.name)),
            latest_update: None,
        },
    }
}

fn schema(name: &str) -> Schema {
    Schema {
        name: name.to_owned(),
        schema_arn: format!("arn:aws:personalize:us-east-1:000000000000:schema/{name}"),
        schema: r#"{"type":"record","name":"Users","fields":[{"name":"USER_ID","type":"string"}]}"#
            .to_owned(),
        domain: Some("ECOMMERCE".to_owned()),
        creation_date_time: 1_700_000_002.75,
    }
}

fn batch(width: usize, rows: &[&[&str]]) -> RowBatch {
    let mut b = RowBatch::new(width);
    for r in rows {
        b.push_row(r.iter().copied());
    }
    b
}

async fn load(
    store: &dyn DatasetStore,
    g: &DatasetGroup,
    t: DatasetType,
    width: usize,
    rows: &[&[&str]],
) {
    let batches = stream::iter(vec![Ok(batch(width, rows))]).boxed();
    let n = store
        .replace_records(&g.dataset_group_arn, t, batches)
        .await
        .unwrap();
    assert_eq!(n, rows.len() as u64);
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

struct Fixture {
    g: DatasetGroup,
    users: Vec<Vec<String>>,
    inter: Vec<Vec<String>>,
    items: Vec<Vec<String>>,
    action_inter: Vec<Vec<String>>,
}

async fn purge_fixture(store: &dyn DatasetStore, name: &str) -> Fixture {
    let g = group(name);
    store.create_dataset_group(&g, &[]).await.unwrap();
    for (t, cols) in [
        (DatasetType::Users, &["USER_ID", "AGE"][..]),
        (
            DatasetType::Interactions,
            &["ITEM_ID", "USER_ID", "TIMESTAMP"][..],
        ),
        (DatasetType::Items, &["ITEM_ID", "USER_ID"][..]),
        (
            DatasetType::ActionInteractions,
            &["USER_ID", "ACTION_ID", "TIMESTAMP", "EVENT_TYPE"][..],
        ),
    ] {
        store
            .create_dataset(&dataset(&g, t, cols), &[])
            .await
            .unwrap();
    }
    let users: &[&[&str]] = &[&["a", "1"], &["b", "2"], &["c", "3"], &["d\"q,", "4"]];
    // USER_ID is not the first column here: the store must purge by name, not position.
    let inter: &[&[&str]] = &[
        &["i1", "a", "10"],
        &["i2", "b", "11"],
        &["i1", "a", "12"],
        &["i3", "c", "13"],
        &["i2", "d\"q,", "14"],
        &["i4", "e", "15"],
    ];
    // Items happen to have a USER_ID column: a purge must leave them alone all the same.
    let items: &[&[&str]] = &[&["i1", "a"], &["i2", "b"]];
    let action_inter: &[&[&str]] = &[&["a", "x1", "1", "click"], &["z", "x2", "2", "click"]];
    load(store, &g, DatasetType::Users, 2, users).await;
    load(store, &g, DatasetType::Interactions, 3, inter).await;
    load(store, &g, DatasetType::Items, 2, items).await;
    load(store, &g, DatasetType::ActionInteractions, 4, action_inter).await;
    Fixture {
        g,
        users: strings(users),
        inter: strings(inter),
        items: strings(items),
        action_inter: strings(action_inter),
    }
}

fn without(rows: &[Vec<String>], col: usize, gone: &[&str]) -> Vec<Vec<String>> {
    rows.iter()
        .filter(|r| !gone.contains(&r[col].as_str()))
        .cloned()
        .collect()
}

/// A deletion job of `group`, recorded and claimed: what a worker holds while it purges.
async fn claimed_deletion(store: &dyn DatasetStore, name: &str, group: &str) -> JobCommit {
    let job = deletion_job(name, group);
    store.create_job(&job, &[]).await.unwrap();
    let (job, lease) = store
        .claim(Claim::Job(&job.arn), "conf-worker", LEASE)
        .await
        .unwrap()
        .expect("a new job is claimable");
    JobCommit { job, lease }
}

const LEASE: Duration = Duration::from_secs(30);

fn deletion_job(name: &str, group: &str) -> Job {
    let spec = JobSpec::Deletion {
        dataset_group_arn: group.to_owned(),
        data_location: format!("s3://b/{name}/"),
        dry_run: false,
    };
    Job::new(
        ArnScope::default().job_arn(JobKind::Deletion, name),
        name,
        spec,
    )
}

fn import_job(name: &str, dataset: &str, mode: ImportMode) -> Job {
    let spec = JobSpec::Import {
        dataset_arn: dataset.to_owned(),
        data_location: format!("s3://b/{name}.csv"),
        import_mode: mode,
        publish_attribution_metrics_to_s3: Some(true),
    };
    Job::new(
        ArnScope::default().job_arn(JobKind::Import, name),
        name,
        spec,
    )
}

fn export_job(name: &str, dataset: &str) -> Job {
    let spec = JobSpec::Export {
        dataset_arn: dataset.to_owned(),
        ingestion_mode: "ALL".to_owned(),
        path: "s3://b/out/".to_owned(),
        kms_key_arn: Some("arn:aws:kms:us-east-1:000000000000:key/k".to_owned()),
    };
    let mut job = Job::new(
        ArnScope::default().job_arn(JobKind::Export, name),
        name,
        spec,
    );
    job.role_arn = Some("arn:aws:iam::000000000000:role/r".to_owned());
    job
}
