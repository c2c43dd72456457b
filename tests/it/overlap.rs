//! A data deletion job overlapping training and an import, as the service's documentation
//! warns against and this server allows (docs/training.md): a version whose snapshot was read
//! before the purge committed is listed by `verify` until replaced, and an import committed
//! after the purge that brings a user's records back is found by `verify`'s datasets part.

use std::time::Duration;

use crate::common::{Backend, TestS3};
use crate::processes::{import_job, planted_solution, put_planted, wait_import, ServeProcess};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_during_training_and_an_import_after_it_are_reported_by_verify() {
    let s3 = TestS3::start(Backend::Embedded, "overlap").await.unwrap();
    put_planted(&s3, &crate::runtime::PLANTED).await;
    s3.put("forget.csv", "USER_ID\nu1\nu2\n").await;
    s3.put(
        "back.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1800000000,click\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();

    // The version reads its snapshot, then waits while another process purges.
    let held = [(
        "PERSONALIZE_LOCAL_FAILPOINTS",
        "training-after-snapshot:sleep=4000",
    )];
    let training = ServeProcess::start_with(&s3, dir.path(), &[], &held);
    let c = crate::api::client(&training.1);
    let (group, solution) = planted_solution(&c, &s3, "overlap").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let trained = crate::training::train(&c, &solution);
    let deleting = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let other = ServeProcess::start(&s3, dir.path());
        let oc = crate::api::client(&other.1);
        crate::api::deletion(&oc, "forget", &group, &s3.location("forget.csv")).await
    };
    let ((version, v), job) = tokio::join!(trained, deleting);
    assert_eq!(
        job.status(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason()
    );
    assert_eq!(v.status(), Some("ACTIVE"), "{:?}", v.failure_reason());
    let ended = |t: Option<&aws_sdk_personalize::primitives::DateTime>| t.unwrap().as_secs_f64();
    assert!(
        ended(v.last_updated_date_time()) > ended(job.last_updated_date_time()),
        "the version ended after the deletion"
    );
    drop(training);

    let verify = [
        "verify",
        "--dataset-group",
        "overlap",
        "--data-location",
        &s3.location("forget.csv"),
    ];
    let out = crate::cli::run(&s3, dir.path(), &verify).await;
    let report = crate::cli::json(&out);
    assert_eq!(report["remaining"]["Interactions"]["users"], 0);
    let stale = report["models"]["versionsTrainedBeforeTheDeletion"]
        .as_array()
        .unwrap();
    assert_eq!(
        stale,
        &[serde_json::json!(version)],
        "its snapshot predates the purge"
    );

    // An import after the purge brings u1's records back: verify fails on the datasets.
    let server = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&server.1);
    let datasets = c
        .list_datasets()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    let dataset = datasets.datasets()[0].dataset_arn().unwrap().to_owned();
    let back = s3.location("back.csv");
    let import = import_job(&c, "back", &dataset, &back, "INCREMENTAL").await;
    assert_eq!(wait_import(&c, &import).await, "ACTIVE");
    drop(server);
    let out = crate::cli::run(&s3, dir.path(), &verify).await;
    assert_eq!(out.status.code(), Some(1));
    let report = crate::cli::json(&out);
    assert_eq!(report["verified"], false);
    assert_eq!(report["remaining"]["Interactions"]["users"], 1);
    assert_eq!(report["remaining"]["Interactions"]["userIds"][0], "u1");
}
