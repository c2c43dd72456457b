//! Dry runs and proof of deletion: `delete-users --dry-run`, `verify` and a dry-run data
//! deletion job (the tag `personalize-local:dry-run`) read the input as a job does and
//! delete nothing; their figures are the job's.

use std::collections::HashSet;
use std::time::Duration;

use personalize_local::store::{sqlite::SqliteStore, DatasetStore, DatasetType};

use crate::cli::{import, json, run};
use crate::common::{fixture_ids, fixture_rows, Backend, TestS3};

const GROUP: &str = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g";

/// Records of `file` whose first column is in `gone`, and how many users they are.
fn held_of(file: &str, gone: &HashSet<String>) -> (usize, usize) {
    let rows: Vec<_> = fixture_rows(file)
        .into_iter()
        .filter(|r| gone.contains(&r[0]))
        .collect();
    let users: HashSet<_> = rows.iter().map(|r| r[0].clone()).collect();
    (rows.len(), users.len())
}

async fn counts(dir: &std::path::Path) -> (u64, u64) {
    let store = SqliteStore::open_dir(dir).unwrap();
    let n = |t| {
        let store = &store;
        async move { store.count_records(GROUP, t).await.unwrap() }
    };
    (
        n(DatasetType::Users).await,
        n(DatasetType::Interactions).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_deletes_nothing_and_verify_proves_the_job() {
    let s3 = TestS3::start(Backend::Embedded, "audit").await.unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-nested").await;
    let dir = tempfile::tempdir().unwrap();
    import(&s3, dir.path(), "g", "Users", "datasets/users.csv").await;
    import(
        &s3,
        dir.path(),
        "g",
        "Interactions",
        "datasets/interactions.csv",
    )
    .await;
    let before = counts(dir.path()).await;
    let gone = fixture_ids("deletion-nested");
    let (users_records, users_users) = held_of("users.csv", &gone);
    let (inter_records, inter_users) = held_of("interactions.csv", &gone);
    let known: HashSet<String> = fixture_rows("users.csv")
        .into_iter()
        .chain(fixture_rows("interactions.csv"))
        .map(|r| r[0].clone())
        .collect();
    let mut unknown: Vec<String> = gone.difference(&known).cloned().collect();
    unknown.sort();
    assert!(!unknown.is_empty(), "the fixture lists unknown users");

    let location = s3.location("deletion-nested/");
    let args = [
        "delete-users",
        "--dataset-group",
        "g",
        "--data-location",
        &location,
    ];
    let out = run(&s3, dir.path(), &[&args[..], &["--dry-run"]].concat()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["numDeleted"], users_records + inter_records);
    assert_eq!(v["wouldDelete"]["Users"]["records"], users_records);
    assert_eq!(v["wouldDelete"]["Users"]["users"], users_users);
    assert_eq!(v["wouldDelete"]["Interactions"]["records"], inter_records);
    assert_eq!(v["wouldDelete"]["Interactions"]["users"], inter_users);
    assert_eq!(v["unknownIds"]["count"], unknown.len());
    assert_eq!(v["unknownIds"]["first"], serde_json::json!(unknown));
    assert_eq!(v["input"]["distinctIds"], gone.len());
    assert_eq!(v["skippedObjects"]["count"], 2);
    assert_eq!(
        counts(dir.path()).await,
        before,
        "a dry run deletes nothing"
    );
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let jobs = store
        .list_jobs(personalize_local::jobs::JobKind::Deletion, None)
        .await
        .unwrap();
    assert!(jobs.is_empty(), "a dry run records no job");
    drop(store);

    // Before the job, verify finds the users and fails.
    let verify = [
        "verify",
        "--dataset-group",
        "g",
        "--data-location",
        &location,
    ];
    let out = run(&s3, dir.path(), &verify).await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["verified"], false);
    assert_eq!(v["remaining"]["Users"]["users"], users_users);
    assert_eq!(v["remaining"]["Interactions"]["records"], inter_records);
    let listed: HashSet<String> = v["remaining"]["Users"]["userIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    let in_users: HashSet<String> = fixture_rows("users.csv")
        .into_iter()
        .map(|r| r[0].clone())
        .filter(|u| gone.contains(u))
        .collect();
    assert_eq!(listed, in_users);

    // The job deletes what the dry run said; then verify passes.
    let out = run(&s3, dir.path(), &args).await;
    assert_eq!(
        json(&out)["dataDeletionJob"]["numDeleted"],
        users_records + inter_records
    );
    let out = run(&s3, dir.path(), &verify).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["verified"], true);
    assert_eq!(v["usersListed"], gone.len());
    assert_eq!(v["remaining"]["Users"]["users"], 0);
    assert_eq!(v["remaining"]["Interactions"]["users"], 0);

    // A bad input: both say why, as the job would.
    let bad = s3.location("nothing-here/");
    for cmd in [&args[..3], &verify[..3]] {
        let mut a = cmd.to_vec();
        a.extend(["--data-location", bad.as_str()]);
        if cmd[0] == "delete-users" {
            a.push("--dry-run");
        }
        let out = run(&s3, dir.path(), &a).await;
        assert_eq!(out.status.code(), Some(1), "{a:?}");
        assert_eq!(
            json(&out)["failureReason"],
            format!("no input files found under {bad}")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_job_through_the_api_completes_and_deletes_nothing() {
    use aws_sdk_personalize::types::{DataSource, Tag};

    let server = crate::api::start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = crate::api::group_with_users(&server, "dry").await;
    let before = server
        .store
        .records(&group, DatasetType::Users)
        .await
        .unwrap();
    let gone = fixture_ids("deletion-nested");
    let (would, _) = held_of("users.csv", &gone);
    assert!(would > 0);
    let create = |name: &'static str, dry: Option<&'static str>| {
        let mut req = c
            .create_data_deletion_job()
            .job_name(name)
            .dataset_group_arn(&group)
            .data_source(
                DataSource::builder()
                    .data_location(server.s3.location("deletion-nested/"))
                    .build(),
            )
            .role_arn("arn:aws:iam::000000000000:role/r");
        if let Some(v) = dry {
            let tag = Tag::builder()
                .tag_key("personalize-local:dry-run")
                .tag_value(v);
            req = req.tags(tag.build().unwrap());
        }
        req.send()
    };
    let arn = create("dry", Some("true"))
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let job = crate::api::wait_job(c, &arn).await;
    assert_eq!(
        job.status.as_deref(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(job.num_deleted, Some(would as i32));
    assert_eq!(
        server
            .store
            .records(&group, DatasetType::Users)
            .await
            .unwrap(),
        before
    );

    // Another value is no dry run.
    let arn = create("real", Some("false"))
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let job = crate::api::wait_job(c, &arn).await;
    assert_eq!(job.num_deleted, Some(would as i32));
    let after = server
        .store
        .records(&group, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(after.len(), before.len() - would);
}

/// Whether a job is a dry run is decided when it is created and kept in its spec: a tag
/// removed (or added) before a worker claims it changes nothing, so no worker can purge for
/// real a job created as a dry run, whenever it claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_is_decided_at_creation() {
    use aws_sdk_personalize::types::{DataSource, Tag};
    use personalize_local::worker::{Worker, WorkerConfig};
    let server = crate::api::start(Duration::ZERO, false).await;
    let c = &server.client;
    let group = crate::api::group_with_users(&server, "dry-spec").await;
    let before = server
        .store
        .records(&group, DatasetType::Users)
        .await
        .unwrap();
    let gone = fixture_ids("deletion-nested");
    let (would, _) = held_of("users.csv", &gone);
    assert!(would > 0);
    let tag = |v: &str| {
        Tag::builder()
            .tag_key("personalize-local:dry-run")
            .tag_value(v)
            .build()
            .unwrap()
    };
    let create = |name: &'static str, tags: Vec<Tag>| {
        c.create_data_deletion_job()
            .job_name(name)
            .dataset_group_arn(&group)
            .data_source(
                DataSource::builder()
                    .data_location(server.s3.location("deletion-nested/"))
                    .build(),
            )
            .role_arn("arn:aws:iam::000000000000:role/r")
            .set_tags(Some(tags))
            .send()
    };
    let worker = || {
        Worker::new(
            server.store.clone(),
            server.s3.source(),
            WorkerConfig::default(),
            std::sync::Arc::default(),
        )
    };
    let dry = create("dry", vec![tag("true")])
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    // The tag is there at once, with the job.
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&dry)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    c.untag_resource()
        .resource_arn(&dry)
        .tag_keys("personalize-local:dry-run")
        .send()
        .await
        .unwrap();
    let ran = worker().run_pending().await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].0.num_deleted, Some(would as u64));
    assert_eq!(
        server
            .store
            .records(&group, DatasetType::Users)
            .await
            .unwrap(),
        before,
        "a job created as a dry run deleted for real"
    );

    // And a job created for real stays real, whatever tags it gets later.
    let real = create("real", vec![])
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    c.tag_resource()
        .resource_arn(&real)
        .tags(tag("true"))
        .send()
        .await
        .unwrap();
    let ran = worker().run_pending().await.unwrap();
    assert_eq!(ran.len(), 1);
    let after = server
        .store
        .records(&group, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(after.len(), before.len() - would);
}
