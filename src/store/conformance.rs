//! The checks every [`DatasetStore`] must pass, run by each backend's tests.
//!
//! Each check starts from an empty store and creates what it needs under its own ARNs, so
//! the checks can share one store. Not a stable API.

use std::sync::Arc;

use futures::stream::{self, StreamExt};

use std::time::Duration;

use super::{
    ArnScope, Claim, Dataset, DatasetAttrs, DatasetGroup, DatasetStore, DatasetType, JobCommit,
    LoadMode, RowBatch, Schema, StoreError, UserIds,
};
use crate::jobs::{ImportMode, Job, JobKind, JobSpec, JobStatus, Lease};

/// Runs every check against `store`.
pub async fn run_all(store: &dyn DatasetStore) {
    groups_and_datasets(store).await;
    groups_are_listed_and_deleted(store).await;
    schemas_are_listed_and_deleted_once_unused(store).await;
    datasets_are_deleted_with_their_records(store).await;
    tags_belong_to_one_resource(store).await;
    replace_is_all_or_nothing(store).await;
    append_replaces_ids_and_appends_events(store).await;
    scans_stream_every_record_in_batches(store).await;
    purge_removes_only_the_listed_users(store).await;
    purge_is_atomic_with_the_job_record(store).await;
    loads_commit_with_their_job(store).await;
    jobs_are_kept_and_listed_newest_first(store).await;
    claims_take_each_job_once_oldest_first(store).await;
    an_expired_lease_is_claimable_and_fenced(store).await;
    reset_empties_everything(store).await;
}

/// After a reset nothing is left, and the store works as new.
pub async fn reset_empties_everything(store: &dyn DatasetStore) {
    store.reset().await.unwrap();
    assert_eq!(store.list_dataset_groups().await.unwrap(), vec![]);
    assert_eq!(store.list_schemas().await.unwrap(), vec![]);
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

/// Creating and reading groups and datasets, and the errors for duplicates and orphans.
pub async fn groups_and_datasets(store: &dyn DatasetStore) {
    let g = group("conf-groups");
    assert_eq!(
        store.dataset_group(&g.dataset_group_arn).await.unwrap(),
        None
    );
    store.create_dataset_group(&g).await.unwrap();
    assert_eq!(
        store.dataset_group(&g.dataset_group_arn).await.unwrap(),
        Some(g.clone())
    );
    assert!(matches!(
        store.create_dataset_group(&g).await,
        Err(StoreError::AlreadyExists(_))
    ));

    let users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    let inter = dataset(
        &g,
        DatasetType::Interactions,
        &["USER_ID", "ITEM_ID", "TIMESTAMP"],
    );
    store.create_dataset(&users).await.unwrap();
    store.create_dataset(&inter).await.unwrap();
    assert!(matches!(
        store.create_dataset(&users).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let orphan = dataset(&group("conf-missing"), DatasetType::Users, &["USER_ID"]);
    assert!(matches!(
        store.create_dataset(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
    let keyless = dataset(&g, DatasetType::Items, &["NAME"]);
    assert!(matches!(
        store.create_dataset(&keyless).await,
        Err(StoreError::Invalid(_))
    ));
    // Listed in the fixed type order, whatever the creation order.
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![inter.clone(), users.clone()]
    );
    assert_eq!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Users)
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Items)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Groups are listed oldest first, keep their attributes, and go only once they are empty.
pub async fn groups_are_listed_and_deleted(store: &dyn DatasetStore) {
    let mut a = group("conf-list-a");
    a.attrs.domain = Some("VIDEO_ON_DEMAND".into());
    a.attrs.role_arn = Some("arn:aws:iam::000000000000:role/r".into());
    let mut b = group("conf-list-b");
    b.creation_date_time += 1.0;
    store.create_dataset_group(&a).await.unwrap();
    store.create_dataset_group(&b).await.unwrap();
    let listed = store.list_dataset_groups().await.unwrap();
    let pos = |g: &DatasetGroup| listed.iter().position(|x| x == g).unwrap();
    assert!(pos(&a) < pos(&b), "{listed:?}");

    store
        .create_dataset(&dataset(&a, DatasetType::Users, &["USER_ID", "AGE"]))
        .await
        .unwrap();
    let err = store
        .delete_dataset_group(&a.dataset_group_arn)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
    assert_eq!(
        store.dataset_group(&a.dataset_group_arn).await.unwrap(),
        Some(a.clone())
    );

    store
        .set_tags(&b.dataset_group_arn, &vec![("team".into(), "data".into())])
        .await
        .unwrap();
    store
        .delete_dataset_group(&b.dataset_group_arn)
        .await
        .unwrap();
    assert_eq!(
        store.dataset_group(&b.dataset_group_arn).await.unwrap(),
        None
    );
    assert_eq!(store.tags(&b.dataset_group_arn).await.unwrap(), vec![]);
    assert!(!store.list_dataset_groups().await.unwrap().contains(&b));
    let err = store
        .delete_dataset_group(&b.dataset_group_arn)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// Schemas are kept as given, listed oldest first, and deleted only while no dataset uses them.
pub async fn schemas_are_listed_and_deleted_once_unused(store: &dyn DatasetStore) {
    let a = schema("conf-schema-a");
    let mut b = schema("conf-schema-b");
    b.domain = None;
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), None);
    store.create_schema(&a).await.unwrap();
    store.create_schema(&b).await.unwrap();
    assert!(matches!(
        store.create_schema(&a).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), Some(a.clone()));
    let listed = store.list_schemas().await.unwrap();
    let pos = |s: &Schema| listed.iter().position(|x| x == s).unwrap();
    assert!(pos(&a) < pos(&b), "{listed:?}");

    let g = group("conf-schema-user");
    store.create_dataset_group(&g).await.unwrap();
    let mut users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    users.attrs.schema_arn = Some(a.schema_arn.clone());
    store.create_dataset(&users).await.unwrap();
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![users.clone()]
    );
    let mut orphan = dataset(&g, DatasetType::Items, &["ITEM_ID", "PRICE"]);
    orphan.attrs.schema_arn = Some(schema("conf-schema-missing").schema_arn);
    assert!(matches!(
        store.create_dataset(&orphan).await,
        Err(StoreError::NotFound(_))
    ));

    let err = store.delete_schema(&a.schema_arn).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InUse(m) if m.contains(&users.arn())),
        "{err:?}"
    );
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), Some(a.clone()));
    store
        .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
        .await
        .unwrap();
    store
        .set_tags(&a.schema_arn, &vec![("k".into(), "v".into())])
        .await
        .unwrap();
    store.delete_schema(&a.schema_arn).await.unwrap();
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), None);
    assert_eq!(store.tags(&a.schema_arn).await.unwrap(), vec![]);
    assert!(matches!(
        store.delete_schema(&a.schema_arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!store.list_schemas().await.unwrap().contains(&a));
}

/// Deleting a dataset takes its records and tags, leaves the group's other datasets alone,
/// and lets a dataset of the same type be created again, empty.
pub async fn datasets_are_deleted_with_their_records(store: &dyn DatasetStore) {
    let g = group("conf-dataset-delete");
    store.create_dataset_group(&g).await.unwrap();
    let users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    let items = dataset(&g, DatasetType::Items, &["ITEM_ID", "PRICE"]);
    store.create_dataset(&users).await.unwrap();
    store.create_dataset(&items).await.unwrap();
    load(
        store,
        &g,
        DatasetType::Users,
        2,
        &[&["u1", "30"], &["u2", "40"]],
    )
    .await;
    load(store, &g, DatasetType::Items, 2, &[&["i1", "9.5"]]).await;
    store
        .set_tags(&users.arn(), &vec![("k".into(), "v".into())])
        .await
        .unwrap();

    store
        .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![items.clone()]
    );
    assert_eq!(store.tags(&users.arn()).await.unwrap(), vec![]);
    assert_eq!(
        store
            .records(&g.dataset_group_arn, DatasetType::Items)
            .await
            .unwrap(),
        vec![vec!["i1".to_string(), "9.5".to_string()]]
    );
    assert!(matches!(
        store
            .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
            .await,
        Err(StoreError::NotFound(_))
    ));
    store.create_dataset(&users).await.unwrap();
    assert_eq!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Users)
            .await
            .unwrap(),
        0
    );
}

/// Tags are kept per ARN, in the order set, and replaced as a whole.
pub async fn tags_belong_to_one_resource(store: &dyn DatasetStore) {
    let a = group("conf-tags-a").dataset_group_arn;
    let b = group("conf-tags-b").dataset_group_arn;
    assert_eq!(store.tags(&a).await.unwrap(), vec![]);
    let tags = vec![
        ("zeta".to_string(), "1".to_string()),
        ("alpha".to_string(), "".to_string()),
    ];
    store.set_tags(&a, &tags).await.unwrap();
    store
        .set_tags(&b, &vec![("other".into(), "x".into())])
        .await
        .unwrap();
    assert_eq!(store.tags(&a).await.unwrap(), tags);
    store
        .set_tags(&a, &vec![("alpha".into(), "2".into())])
        .await
        .unwrap();
    assert_eq!(
        store.tags(&a).await.unwrap(),
        vec![("alpha".to_string(), "2".to_string())]
    );
    store.set_tags(&a, &vec![]).await.unwrap();
    assert_eq!(store.tags(&a).await.unwrap(), vec![]);
    assert_eq!(
        store.tags(&b).await.unwrap(),
        vec![("other".to_string(), "x".to_string())]
    );
}

/// An incremental load replaces the records of ids loaded again (the last row wins, and
/// comes last in load order), appends events, and changes nothing when its input fails.
pub async fn append_replaces_ids_and_appends_events(store: &dyn DatasetStore) {
    let g = group("conf-append");
    store.create_dataset_group(&g).await.unwrap();
    let arn = &g.dataset_group_arn;
    for (t, cols) in [
        (DatasetType::Users, &["USER_ID", "AGE"][..]),
        (DatasetType::Items, &["ITEM_ID", "PRICE"][..]),
        (DatasetType::Interactions, &["USER_ID", "ITEM_ID"][..]),
    ] {
        store.create_dataset(&dataset(&g, t, cols)).await.unwrap();
    }
    let rows = |v: &[&[&str]]| -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    let append = |t, width, rows: &[&[&str]]| {
        let batches = stream::iter(vec![Ok(batch(width, rows))]).boxed();
        store.append_records(arn, t, batches)
    };
    for t in [DatasetType::Users, DatasetType::Items] {
        load(store, &g, t, 2, &[&["a", "1"], &["b", "2"], &["c", "3"]]).await;
        let n = append(t, 2, &[&["b", "20"], &["d", "4"], &["d", "40"]])
            .await
            .unwrap();
        assert_eq!(n, 3, "{t}");
        assert_eq!(
            store.records(arn, t).await.unwrap(),
            rows(&[&["a", "1"], &["c", "3"], &["b", "20"], &["d", "40"]]),
            "{t}"
        );
    }
    load(store, &g, DatasetType::Interactions, 2, &[&["a", "i1"]]).await;
    append(DatasetType::Interactions, 2, &[&["a", "i1"], &["b", "i2"]])
        .await
        .unwrap();
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        rows(&[&["a", "i1"], &["a", "i1"], &["b", "i2"]])
    );

    // A failing input leaves the dataset as it was.
    let before = store.records(arn, DatasetType::Users).await.unwrap();
    let batches = stream::iter(vec![
        Ok(batch(2, &[&["a", "100"], &["z", "9"]])),
        Err(StoreError::Invalid("bad line 3".into())),
    ])
    .boxed();
    let err = store
        .append_records(arn, DatasetType::Users, batches)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m == "bad line 3"),
        "{err:?}"
    );
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        before
    );
    assert!(matches!(
        append(DatasetType::Actions, 2, &[&["x", "y"]]).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A scan yields every record, each user's in load order, in batches no larger than asked
/// for.
pub async fn scans_stream_every_record_in_batches(store: &dyn DatasetStore) {
    let g = group("conf-scan");
    store.create_dataset_group(&g).await.unwrap();
    store
        .create_dataset(&dataset(
            &g,
            DatasetType::Interactions,
            &["USER_ID", "ITEM_ID"],
        ))
        .await
        .unwrap();
    let rows: Vec<[String; 2]> = (0..7)
        .map(|i| [format!("u{}", 7 - i % 3), format!("i{i}")])
        .collect();
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| vec![r[0].as_str(), r[1].as_str()])
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(|r| r.as_slice()).collect();
    load(store, &g, DatasetType::Interactions, 2, &slices).await;
    let batches: Vec<RowBatch> = store
        .scan_records(&g.dataset_group_arn, DatasetType::Interactions, 3)
        .map(|b| b.unwrap())
        .collect()
        .await;
    assert_eq!(
        batches.iter().map(RowBatch::rows).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    let scanned: Vec<Vec<String>> = batches
        .iter()
        .flat_map(|b| (0..b.rows()).map(move |i| b.row(i).map(str::to_owned).collect()))
        .collect();
    let mut all = store
        .records(&g.dataset_group_arn, DatasetType::Interactions)
        .await
        .unwrap();
    let mut sorted = scanned.clone();
    sorted.sort();
    all.sort();
    assert_eq!(sorted, all);
    let of = |user: &str| -> Vec<String> {
        scanned
            .iter()
            .filter(|r| r[0] == user)
            .map(|r| r[1].clone())
            .collect()
    };
    assert_eq!(of("u7"), ["i0", "i3", "i6"]);
    assert_eq!(of("u5"), ["i2", "i5"]);
    let missing: Vec<_> = store
        .scan_records(&g.dataset_group_arn, DatasetType::Items, 3)
        .collect()
        .await;
    assert!(
        matches!(&missing[..], [Err(StoreError::NotFound(_))]),
        "{missing:?}"
    );
}

/// A load replaces everything, keeps load order, and changes nothing when its input fails.
pub async fn replace_is_all_or_nothing(store: &dyn DatasetStore) {
    let g = group("conf-replace");
    store.create_dataset_group(&g).await.unwrap();
    store
        .create_dataset(&dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]))
        .await
        .unwrap();
    let first: &[&[&str]] = &[&["u2", "30"], &["u1", "40"], &["u2", "31"], &["u3", ""]];
    load(store, &g, DatasetType::Users, 2, first).await;
    let arn = &g.dataset_group_arn;
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(first)
    );

    let second: &[&[&str]] = &[&["u9", "19"]];
    load(store, &g, DatasetType::Users, 2, second).await;
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );

    // A stream that fails after a good batch leaves the old records in place.
    let failing = stream::iter(vec![
        Ok(batch(2, &[&["x1", "1"], &["x2", "2"]])),
        Err(StoreError::Invalid("bad line".into())),
    ])
    .boxed();
    let err = store
        .replace_records(arn, DatasetType::Users, failing)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "bad line");
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );

    // Rows of the wrong width are refused, also without a change.
    let wrong = stream::iter(vec![Ok(batch(3, &[&["a", "b", "c"]]))]).boxed();
    assert!(store
        .replace_records(arn, DatasetType::Users, wrong)
        .await
        .is_err());
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );
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
    store.create_dataset_group(&g).await.unwrap();
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
        store.create_dataset(&dataset(&g, t, cols)).await.unwrap();
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
    store.create_job(&job).await.unwrap();
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

/// A purge removes the listed users' records from Users, Interactions and
/// Action_Interactions, nothing else, in no other group, and records the finished job.
pub async fn purge_removes_only_the_listed_users(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-purge").await;
    let other = purge_fixture(store, "conf-purge-other").await;
    let arn = &f.g.dataset_group_arn;
    let commit = claimed_deletion(store, "conf-purge-job", arn).await;
    let job_arn = commit.job.arn.clone();

    let gone = ["a", "d\"q,", "unknown", "z"];
    let ids: UserIds = gone.iter().copied().collect();
    let (counts, stored) = store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
    assert_eq!(
        counts.per_dataset,
        vec![
            (DatasetType::Interactions, 3),
            (DatasetType::Users, 2),
            (DatasetType::ActionInteractions, 2),
        ]
    );
    assert_eq!(counts.total(), 7);
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        without(&f.users, 0, &gone)
    );
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        without(&f.inter, 1, &gone)
    );
    assert_eq!(
        store.records(arn, DatasetType::Items).await.unwrap(),
        f.items
    );
    assert_eq!(
        store
            .records(arn, DatasetType::ActionInteractions)
            .await
            .unwrap(),
        without(&f.action_inter, 0, &gone)
    );
    let o = &other.g.dataset_group_arn;
    assert_eq!(
        store.records(o, DatasetType::Users).await.unwrap(),
        other.users
    );
    assert_eq!(
        store.records(o, DatasetType::Interactions).await.unwrap(),
        other.inter
    );

    // The job record returned is the one stored, in the same transaction, and it ended.
    assert_eq!(store.job(&job_arn).await.unwrap(), Some(stored.clone()));
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.service_status(), "COMPLETED");
    assert_eq!(stored.num_deleted, Some(7));
    assert!(store
        .claim(Claim::Job(&job_arn), "conf-worker", LEASE)
        .await
        .unwrap()
        .is_none());

    // Purging the same users again (another job) is harmless and deletes nothing more.
    let again = claimed_deletion(store, "conf-purge-again", arn).await;
    let ids: UserIds = gone.iter().copied().collect();
    let (counts, _) = store.purge_users(arn, Arc::new(ids), again).await.unwrap();
    assert_eq!(counts.total(), 0);
}

/// If the job's end cannot be written (its lease is stale, or it was never created), the
/// purge does not happen either.
pub async fn purge_is_atomic_with_the_job_record(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-atomic").await;
    let arn = &f.g.dataset_group_arn;
    // A lease on a job that was never created.
    let ghost = JobCommit {
        job: deletion_job("conf-never-created", arn),
        lease: Lease {
            job_arn: ArnScope::default().job_arn(JobKind::Deletion, "conf-never-created"),
            worker: "conf-worker".into(),
            token: 1,
            expires: crate::jobs::now_epoch() + 60.0,
        },
    };
    let ids: UserIds = ["a", "b"].into_iter().collect();
    let err = store
        .purge_users(arn, Arc::new(ids), ghost)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    // A lease that another claim took over once it expired.
    let stale = claimed_deletion(store, "conf-stale", arn).await;
    let mut expired = stale.clone();
    expired.lease.token += 1; // what the worker holds no longer matches the stored claim
    let ids: UserIds = ["a", "b"].into_iter().collect();
    let err = store
        .purge_users(arn, Arc::new(ids), expired)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        f.users
    );
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        f.inter
    );
    assert_eq!(
        store.job(&stale.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    let missing = ArnScope::default().dataset_group_arn("conf-no-such-group");
    let ids: UserIds = ["a"].into_iter().collect();
    let commit = claimed_deletion(store, "conf-x", &missing).await;
    let err = store
        .purge_users(&missing, Arc::new(ids), commit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// A job's load commits with its `Succeeded`; a load whose lease is lost, or whose rows
/// fail, writes neither records nor status.
pub async fn loads_commit_with_their_job(store: &dyn DatasetStore) {
    let g = group("conf-load-job");
    store.create_dataset_group(&g).await.unwrap();
    let d = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    store.create_dataset(&d).await.unwrap();
    let arn = &g.dataset_group_arn;
    let t = DatasetType::Users;
    load(store, &g, t, 2, &[&["u1", "1"]]).await;

    let claim = |job: Job| async move {
        store.create_job(&job).await.unwrap();
        let (job, lease) = store
            .claim(Claim::Job(&job.arn), "conf-worker", LEASE)
            .await
            .unwrap()
            .unwrap();
        JobCommit { job, lease }
    };
    let rows = |r: &[&[&str]]| stream::iter(vec![Ok(batch(2, r))]).boxed();

    // A stale lease: nothing is loaded, the job stays as it was.
    let mut stale = claim(import_job(
        "conf-load-stale",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    stale.lease.worker = "someone-else".into();
    let err = store
        .load_records(
            arn,
            t,
            LoadMode::Append,
            rows(&[&["u2", "2"]]),
            Some(stale.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(store.count_records(arn, t).await.unwrap(), 1);
    assert_eq!(
        store.job(&stale.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    // Rows that fail: nothing is loaded, the job is not ended.
    let failing = claim(import_job(
        "conf-load-fails",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    let bad = stream::iter(vec![
        Ok(batch(2, &[&["u3", "3"]])),
        Err(StoreError::Invalid("bad row".into())),
    ])
    .boxed();
    let err = store
        .load_records(arn, t, LoadMode::Append, bad, Some(failing.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.count_records(arn, t).await.unwrap(), 1);
    assert_eq!(
        store.job(&failing.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    // A held lease: the rows and the job's end together.
    let ok = claim(import_job(
        "conf-load-ok",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    let n = store
        .load_records(
            arn,
            t,
            LoadMode::Append,
            rows(&[&["u4", "4"]]),
            Some(ok.clone()),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(store.count_records(arn, t).await.unwrap(), 2);
    let ended = store.job(&ok.job.arn).await.unwrap().unwrap();
    assert_eq!(ended.service_status(), "ACTIVE");
    // Its lease is released: the job cannot be finished or loaded through again.
    let err = store.finish(&ended, &ok.lease).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
}

/// Job records of every kind: created once, updated, read back, listed newest first per
/// kind and target, and each kind's fields kept as given.
pub async fn jobs_are_kept_and_listed_newest_first(store: &dyn DatasetStore) {
    let scope = ArnScope::default();
    let g1 = scope.dataset_group_arn("conf-jobs-1");
    let g2 = scope.dataset_group_arn("conf-jobs-2");
    let users = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-jobs-1/USERS";
    let items = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-jobs-1/ITEMS";
    let a = deletion_job("conf-job-a", &g1);
    let b = deletion_job("conf-job-b", &g2);
    let c = deletion_job("conf-job-c", &g1);
    let i1 = import_job("conf-import-a", users, ImportMode::Full);
    let i2 = import_job("conf-import-b", items, ImportMode::Incremental);
    let e1 = export_job("conf-export-a", users);
    for j in [&a, &i1, &b, &e1, &c, &i2] {
        store.create_job(j).await.unwrap();
    }
    for j in [&a, &i1, &e1] {
        assert!(matches!(
            store.create_job(j).await,
            Err(StoreError::AlreadyExists(_))
        ));
    }
    let failed = a.clone().failed("because".into());
    store.update_job(&failed).await.unwrap();
    assert_eq!(store.job(&a.arn).await.unwrap(), Some(failed.clone()));
    for j in [&i1, &i2, &e1, &b] {
        assert_eq!(store.job(&j.arn).await.unwrap().as_ref(), Some(j));
    }
    let ghost = deletion_job("conf-job-ghost", &g1);
    assert!(matches!(
        store.update_job(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.job(&ghost.arn).await.unwrap(), None);

    let names = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.name).collect::<Vec<_>>();
    let list = |kind, target| async move { names(store.list_jobs(kind, target).await.unwrap()) };
    assert_eq!(
        list(JobKind::Deletion, Some(g1.as_str())).await,
        ["conf-job-c", "conf-job-a"]
    );
    let all = list(JobKind::Deletion, None).await;
    let pos = |n: &str| all.iter().position(|x| x == n).unwrap();
    assert!(pos("conf-job-c") < pos("conf-job-b") && pos("conf-job-b") < pos("conf-job-a"));
    assert!(!all.iter().any(|n| n.starts_with("conf-import")));
    assert_eq!(list(JobKind::Import, Some(users)).await, ["conf-import-a"]);
    let imports = list(JobKind::Import, None).await;
    assert_eq!(&imports[..2], ["conf-import-b", "conf-import-a"]);
    assert_eq!(list(JobKind::Export, Some(users)).await, ["conf-export-a"]);
    assert_eq!(
        list(JobKind::Export, Some(items)).await,
        Vec::<String>::new()
    );
}

/// The queue: claims take the oldest claimable job of any kind, each job once, even when
/// many claimers ask at once; a finished job is claimable no more.
pub async fn claims_take_each_job_once_oldest_first(store: &dyn DatasetStore) {
    store.reset().await.unwrap();
    let g = ArnScope::default().dataset_group_arn("conf-queue");
    let d = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-queue/USERS";
    let first = deletion_job("conf-q-1", &g);
    let second = import_job("conf-q-2", d, ImportMode::Full);
    let third = export_job("conf-q-3", d);
    for j in [&first, &second, &third] {
        store.create_job(j).await.unwrap();
    }
    let (job, lease) = store.claim_next("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, first.arn);
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(lease.worker, "w1");
    assert_eq!(lease.job_arn, first.arn);
    assert!(lease.expires > crate::jobs::now_epoch());
    assert_eq!(
        store.job(&first.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );
    // A claim by ARN of a job already held gets nothing.
    assert!(store
        .claim(Claim::Job(&first.arn), "w2", LEASE)
        .await
        .unwrap()
        .is_none());
    let (job, _) = store.claim_next("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, second.arn);
    let (job, lease) = store.claim_next("w3", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, third.arn);
    assert!(store.claim_next("w4", LEASE).await.unwrap().is_none());
    // The end of a held job is written and its lease released: it is claimable no more.
    store
        .finish(&job.failed("no".into()), &lease)
        .await
        .unwrap();
    assert_eq!(
        store
            .job(&third.arn)
            .await
            .unwrap()
            .unwrap()
            .service_status(),
        "CREATE FAILED"
    );
    assert!(store
        .claim(Claim::Job(&third.arn), "w4", LEASE)
        .await
        .unwrap()
        .is_none());

    // Many claimers at once: every job goes to exactly one of them.
    store.reset().await.unwrap();
    let jobs: Vec<Job> = (0..8)
        .map(|i| deletion_job(&format!("conf-race-{i}"), &g))
        .collect();
    for j in &jobs {
        store.create_job(j).await.unwrap();
    }
    let claims = (0..12).map(|w| async move {
        let mut got = Vec::new();
        while let Some((job, _)) = store
            .claim_next(&format!("racer-{w}"), LEASE)
            .await
            .unwrap()
        {
            got.push(job.arn);
        }
        got
    });
    let mut won: Vec<String> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .collect();
    won.sort();
    let mut want: Vec<String> = jobs.iter().map(|j| j.arn.clone()).collect();
    want.sort();
    assert_eq!(won, want, "each job claimed exactly once");
    store.reset().await.unwrap();
}

/// Leases: renewed while held; once expired the job is claimable again with a larger
/// token, and the worker that lost it can neither renew nor finish it (the fencing check).
/// A job left in progress without a lease (by a process that kept none) is claimable.
pub async fn an_expired_lease_is_claimable_and_fenced(store: &dyn DatasetStore) {
    store.reset().await.unwrap();
    let g = ArnScope::default().dataset_group_arn("conf-lease");
    let job = deletion_job("conf-lease-1", &g);
    store.create_job(&job).await.unwrap();
    let short = Duration::from_millis(300);
    let (held, lease) = store.claim_next("w1", short).await.unwrap().unwrap();
    // Renewed: still held after the first lease would have run out.
    let lease = store.renew(&lease, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.claim_next("w2", short).await.unwrap().is_none());
    let lease = store
        .renew(&lease, Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Expired: w2 takes it over.
    let (again, lease2) = store.claim_next("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(again.arn, held.arn);
    assert!(lease2.token > lease.token, "{lease2:?} after {lease:?}");
    let err = store.renew(&lease, LEASE).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    let stale_end = held.clone().failed("w1 gave up".into());
    let err = store.finish(&stale_end, &lease).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        store.job(&held.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );
    // An expired lease that nobody took over cannot commit either.
    let short_job = deletion_job("conf-lease-2", &g);
    store.create_job(&short_job).await.unwrap();
    let (j2, l2) = store
        .claim(Claim::Job(&short_job.arn), "w3", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let err = store
        .finish(&j2.clone().succeeded(None), &l2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    // The new holder ends the first job.
    store.finish(&again.succeeded(None), &lease2).await.unwrap();
    assert_eq!(
        store
            .job(&held.arn)
            .await
            .unwrap()
            .unwrap()
            .service_status(),
        "COMPLETED"
    );

    // In progress with no lease: claimable at once.
    let orphan = deletion_job("conf-lease-orphan", &g);
    store.create_job(&orphan).await.unwrap();
    let mut running = orphan.clone();
    running.set_status(JobStatus::InProgress);
    store.update_job(&running).await.unwrap();
    let (found, _) = store
        .claim(Claim::Job(&orphan.arn), "w4", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.arn, orphan.arn);
    store.reset().await.unwrap();
}
