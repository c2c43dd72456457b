//! A stalled S3 cannot hang a job: the embedded S3 freezes mid-body, as `SIGSTOP` would
//! freeze a server, and the job ends `FAILED` within its S3 timeouts or its job timeout,
//! the object named and nothing deleted. Nor can a dead one: killed mid-body, as `kill -9`
//! would kill it, it fails the job the same way.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::{json, run};
use crate::common::{Backend, TestS3};

async fn users_in(dir: &Path) -> u64 {
    use personalize_local::store::{sqlite::SqliteStore, DatasetStore, DatasetType};
    SqliteStore::open_dir(dir)
        .unwrap()
        .count_records(
            "arn:aws:personalize:us-east-1:000000000000:dataset-group/g",
            DatasetType::Users,
        )
        .await
        .unwrap()
}

/// A group `g` whose Users dataset holds two users, and a deletion file of about 900 KB of
/// IDs, the two among them; its location.
async fn two_users_and_a_big_file(s3: &TestS3, dir: &Path) -> String {
    s3.put("in/users.csv", "USER_ID,NOTE\nu0000001,a\nu0000002,b\n")
        .await;
    crate::cli::import(s3, dir, "g", "Users", "in/users.csv").await;
    let mut body = String::from("USER_ID\n");
    for i in 0..100_000 {
        body += &format!("u{i:07}\n");
    }
    s3.put("del/big.csv", body).await;
    s3.location("del/big.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_s3_fails_the_job_instead_of_hanging_it() {
    let s3 = TestS3::start(Backend::Embedded, "stall").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = two_users_and_a_big_file(&s3, dir.path()).await;
    let embedded = s3.embedded.as_ref().unwrap();

    for (flags, reason, within) in [
        (
            // Short S3 timeouts: the stalled body, then every resume, time out.
            &[
                "--s3-stall-seconds",
                "1",
                "--s3-read-timeout-seconds",
                "1",
                "--s3-attempt-timeout-seconds",
                "2",
                "--s3-max-attempts",
                "2",
            ][..],
            format!("reading {location} failed"),
            Duration::from_secs(60),
        ),
        (
            // The default S3 timeouts, and a job timeout shorter than they are.
            &["--job-timeout-seconds", "2"][..],
            format!("the input under {location} was not read within 2 s (the job timeout)"),
            Duration::from_secs(9),
        ),
    ] {
        embedded.freeze_after_bytes(64 * 1024);
        let started = Instant::now();
        let mut args = vec!["delete-users", "--dataset-group", "g", "--data-location"];
        args.push(&location);
        args.extend_from_slice(flags);
        let out = tokio::time::timeout(within, run(&s3, dir.path(), &args))
            .await
            .unwrap_or_else(|_| panic!("{flags:?}: the job still runs after {within:?}"));
        let took = started.elapsed();
        embedded.thaw();
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        let job = &json(&out)["dataDeletionJob"];
        assert_eq!(job["status"], "FAILED", "{flags:?}");
        let why = job["failureReason"].as_str().unwrap();
        assert!(why.starts_with(&reason), "{flags:?}: {why}");
        assert!(why.len() < 300, "{flags:?}: a short reason, not {why}");
        eprintln!("{why}");
        assert!(took < within, "{flags:?}: the job took {took:?}");
        assert_eq!(users_in(dir.path()).await, 2, "nothing is deleted");
    }

    // Thawed, the same job runs to its end.
    let out = run(
        &s3,
        dir.path(),
        &[
            "delete-users",
            "--dataset-group",
            "g",
            "--data-location",
            &location,
        ],
    )
    .await;
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");
    assert_eq!(users_in(dir.path()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_s3_fails_the_job_with_nothing_deleted() {
    let s3 = TestS3::start(Backend::Embedded, "killed").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = two_users_and_a_big_file(&s3, dir.path()).await;
    s3.embedded.as_ref().unwrap().kill_after_bytes(64 * 1024);
    let within = Duration::from_secs(60);
    let started = Instant::now();
    let args = [
        "delete-users",
        "--dataset-group",
        "g",
        "--data-location",
        &location,
    ];
    let out = tokio::time::timeout(within, run(&s3, dir.path(), &args))
        .await
        .expect("the job ends although S3 is gone");
    assert_eq!(out.status.code(), Some(1));
    let job = &json(&out)["dataDeletionJob"];
    assert_eq!(job["status"], "FAILED");
    let why = job["failureReason"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("reading {location} failed")),
        "{why}"
    );
    assert!(why.len() < 300, "a short reason, not {why}");
    eprintln!("killed S3, after {:?}: {why}", started.elapsed());
    assert_eq!(users_in(dir.path()).await, 2, "nothing is deleted");
}

/// S3 frozen whatever the phase (its listing, or mid-body), with the default S3 timeouts
/// and retries: the job ends `FAILED` once its input has made no progress for the
/// no-progress limit (here 2 s; a minute by default), the prefix or object named, not after
/// every attempt has waited out its own timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_without_progress_fails_the_job_within_its_limit() {
    let s3 = TestS3::start(Backend::Embedded, "noprogress")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let object = two_users_and_a_big_file(&s3, dir.path()).await;
    let folder = s3.location("del/");
    let embedded = s3.embedded.as_ref().unwrap();
    for (freeze_after, reason) in [
        (0, format!("listing {folder} failed: NoProgress")),
        (64 * 1024, format!("reading {object} failed: NoProgress")),
    ] {
        embedded.freeze_after_bytes(freeze_after);
        let started = Instant::now();
        let args = [
            "delete-users",
            "--dataset-group",
            "g",
            "--data-location",
            &folder,
            "--s3-no-progress-seconds",
            "2",
        ];
        let out = tokio::time::timeout(Duration::from_secs(30), run(&s3, dir.path(), &args))
            .await
            .expect("the job ends");
        let took = started.elapsed();
        embedded.thaw();
        assert_eq!(out.status.code(), Some(1), "{reason}");
        let job = &json(&out)["dataDeletionJob"];
        assert_eq!(job["status"], "FAILED");
        let why = job["failureReason"].as_str().unwrap();
        assert!(why.starts_with(&reason), "{why}");
        assert!(why.len() < 300, "a short reason, not {why}");
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(8),
            "{reason}: the job took {took:?}"
        );
        assert_eq!(users_in(dir.path()).await, 2, "nothing is deleted");
    }
}

/// An import job whose S3 freezes mid-download holds no write of the process: the rows are
/// received before the store's write lock is taken, so a CreateSchema during the freeze is
/// answered at once (it waited for the whole download, freeze included, when the download
/// ran inside the load's transaction); thawed, the import ends ACTIVE with every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_writes_do_not_wait_for_an_import_download() {
    use personalize_local::store::DatasetType;
    let server = crate::api::start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = crate::api::create_active_group(&server, "frozen-import").await;
    let dataset =
        crate::api_resources::create_dataset(c, &group, "Interactions", "interactions").await;
    let mut body = String::from("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n");
    let rows = 60_000;
    for i in 0..rows {
        body += &format!(
            "u{:05},i{:04},{},click\n",
            i % 5000,
            i % 700,
            1_600_000_000 + i
        );
    }
    server.s3.put("big/interactions.csv", body).await;
    let embedded = server.s3.embedded.as_ref().unwrap();
    embedded.freeze_after_bytes(64 * 1024);
    let job = c
        .create_dataset_import_job()
        .job_name("frozen")
        .dataset_arn(&dataset)
        .data_source(
            aws_sdk_personalize::types::DataSource::builder()
                .data_location(server.s3.location("big/interactions.csv"))
                .build(),
        )
        .role_arn("arn:aws:iam::000000000000:role/r")
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    // The job is downloading, and S3 is frozen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let write = c
        .create_schema()
        .name("during-a-frozen-import")
        .schema(crate::api_resources::schema_fixture("users"))
        .send();
    let answered = tokio::time::timeout(Duration::from_secs(5), write).await;
    let waited = started.elapsed();
    if answered.is_err() {
        embedded.thaw();
        panic!("a write waited over 5 s for a frozen import download");
    }
    answered.unwrap().unwrap();
    let status = c
        .describe_dataset_import_job()
        .dataset_import_job_arn(&job)
        .send()
        .await
        .unwrap()
        .dataset_import_job
        .unwrap()
        .status
        .unwrap();
    embedded.thaw();
    assert_eq!(status, "CREATE IN_PROGRESS", "the import was under way");
    assert!(
        waited < Duration::from_secs(1),
        "a write waited {waited:?} for a frozen import download"
    );
    assert_eq!(
        crate::processes::wait_import(c, &job).await,
        "ACTIVE",
        "thawed, the import ends"
    );
    assert_eq!(
        server
            .store
            .count_records(&group, DatasetType::Interactions)
            .await
            .unwrap(),
        rows as u64
    );
}
