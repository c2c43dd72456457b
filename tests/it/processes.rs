//! `serve`, `worker` and `run-pending` processes sharing one data dir, driven through the
//! binary: restarts, crashes at a job's commit, batch runs and workers beside an API.

use std::path::Path;

use crate::cli::{command, json, run};
use crate::common::{fixture_rows, Backend, TestS3};

/// A `serve` process on a free port; killed when dropped.
pub(crate) struct ServeProcess(pub(crate) std::process::Child, pub(crate) String);

impl ServeProcess {
    pub(crate) fn start(s3: &TestS3, data_dir: &Path) -> ServeProcess {
        ServeProcess::start_with(s3, data_dir, &[], &[])
    }

    /// A `serve` process with more arguments and environment variables.
    pub(crate) fn start_with(
        s3: &TestS3,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ServeProcess {
        use std::io::BufRead;
        let mut cmd = command(data_dir);
        cmd.args([
            "serve",
            "--port",
            "0",
            "--transition-ms",
            "0",
            "--s3-endpoint",
            &s3.endpoint,
        ]);
        let mut child = cmd
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoint = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        ServeProcess(child, endpoint)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_state_across_a_restart_and_reruns_interrupted_jobs() {
    use personalize_local::jobs::{ImportMode, Job, JobKind, JobSpec, JobStatus};
    use personalize_local::store::sqlite::SqliteStore;
    use personalize_local::store::ArnScope;
    use personalize_local::store::DatasetStore;

    let s3 = TestS3::start(Backend::Embedded, "restart").await.unwrap();
    s3.upload_tree("deletion-single").await;
    s3.upload_tree("datasets").await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_owned();

    let first = ServeProcess::start(&s3, &data_dir);
    let c = crate::api::client(&first.1);
    let group = c
        .create_dataset_group()
        .name("kept")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let dataset = crate::api_resources::create_dataset(&c, &group, "Users", "users").await;
    c.tag_resource()
        .resource_arn(&dataset)
        .tags(
            aws_sdk_personalize::types::Tag::builder()
                .tag_key("kept")
                .tag_value("yes")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    drop(first); // killed: no graceful shutdown

    // While the server is down, leave a job IN_PROGRESS, as a crash mid-job would.
    {
        let store = SqliteStore::open_dir(&data_dir).unwrap();
        let scope = ArnScope::default();
        // A crash mid-job leaves the job IN_PROGRESS (here with no lease: the claim that
        // held it is gone).
        let interrupted = |kind, name: &str, spec| {
            let mut job = Job::new(scope.job_arn(kind, name), name, spec);
            job.set_status(JobStatus::InProgress);
            job
        };
        let job = interrupted(
            JobKind::Deletion,
            "interrupted",
            JobSpec::Deletion {
                dataset_group_arn: group.clone(),
                data_location: s3.location("deletion-single/requests.csv"),
                dry_run: false,
            },
        );
        store.create_job(&job, &[]).await.unwrap();
        store.update_job(&job).await.unwrap();
        // And an import job, created after it.
        let import = interrupted(
            JobKind::Import,
            "interrupted-import",
            JobSpec::Import {
                dataset_arn: dataset.clone(),
                data_location: s3.location("datasets/users.csv"),
                import_mode: ImportMode::Full,
                publish_attribution_metrics_to_s3: None,
            },
        );
        store.create_job(&import, &[]).await.unwrap();
        store.update_job(&import).await.unwrap();
        // And an export job of that dataset, created after both.
        let mut export = interrupted(
            JobKind::Export,
            "interrupted-export",
            JobSpec::Export {
                dataset_arn: dataset.clone(),
                ingestion_mode: "BULK".into(),
                path: s3.location("exports/"),
                kms_key_arn: None,
            },
        );
        export.role_arn = Some("arn:aws:iam::123456789012:role/r".into());
        store.create_job(&export, &[]).await.unwrap();
        store.update_job(&export).await.unwrap();
    }

    let second = ServeProcess::start(&s3, &data_dir);
    let c = crate::api::client(&second.1);
    let g = c
        .describe_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap()
        .dataset_group
        .unwrap();
    assert_eq!(g.name.as_deref(), Some("kept"));
    assert_eq!(g.status.as_deref(), Some("ACTIVE"));
    let d = c
        .describe_dataset()
        .dataset_arn(&dataset)
        .send()
        .await
        .unwrap()
        .dataset
        .unwrap();
    assert_eq!(d.dataset_type.as_deref(), Some("USERS"));
    let schema = d.schema_arn.unwrap();
    assert!(c.describe_schema().schema_arn(&schema).send().await.is_ok());
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&dataset)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (tags[0].tag_key.as_str(), tags[0].tag_value.as_str()),
        ("kept", "yes")
    );
    let arn = "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/interrupted";
    let job = crate::api::wait_job(&c, arn).await;
    // The Users dataset is empty, so the job deletes nothing, but it does run to its end.
    assert_eq!(
        job.status.as_deref(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(job.num_deleted, Some(0));
    // The import job runs after it and loads the dataset.
    let import_arn =
        "arn:aws:personalize:us-east-1:000000000000:dataset-import-job/interrupted-import";
    let mut status = None;
    for _ in 0..500 {
        let j = c
            .describe_dataset_import_job()
            .dataset_import_job_arn(import_arn)
            .send()
            .await
            .unwrap()
            .dataset_import_job
            .unwrap();
        status = j.status;
        if status.as_deref() == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status.as_deref(), Some("ACTIVE"));
    // Then the export writes the loaded users.
    let export_arn =
        "arn:aws:personalize:us-east-1:000000000000:dataset-export-job/interrupted-export";
    for _ in 0..500 {
        let j = c
            .describe_dataset_export_job()
            .dataset_export_job_arn(export_arn)
            .send()
            .await
            .unwrap()
            .dataset_export_job
            .unwrap();
        status = j.status;
        if status.as_deref() == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status.as_deref(), Some("ACTIVE"));
    let exported = s3
        .client
        .get_object()
        .bucket(&s3.bucket)
        .key("exports/interrupted-export.csv")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec();
    let lines = String::from_utf8(exported).unwrap().lines().count();
    assert_eq!(lines, 1 + crate::common::fixture_rows("users.csv").len());
    drop(second);
    let store = SqliteStore::open_dir(&data_dir).unwrap();
    assert_eq!(
        store
            .records(&group, personalize_local::store::DatasetType::Users)
            .await
            .unwrap(),
        crate::common::fixture_rows("users.csv")
    );
}

/// Waits up to 30 s for a process that is expected to end by itself; its exit status.
pub(crate) fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the process did not end");
}

/// A job's writes and its terminal status commit together. A server killed (abort, as
/// `kill -9`) right after an INCREMENTAL import's records committed must find the job ACTIVE
/// at the restart, not run it again (which loaded the rows twice: 3,000,000 interactions
/// instead of 2,500,000). Killed right before that commit, the job is claimed again once the
/// dead worker's lease expires and loads its rows once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_at_its_commit_loads_its_rows_exactly_once() {
    use personalize_local::store::sqlite::SqliteStore;
    use personalize_local::store::{DatasetStore, DatasetType};

    let s3 = TestS3::start(Backend::Embedded, "failpoint").await.unwrap();
    s3.upload_tree("datasets").await;
    let rows = fixture_rows("interactions.csv").len() as u64;
    let lease = ["--job-lease-seconds", "1"];
    for failpoint in ["load-after-commit", "load-before-commit"] {
        let dir = tempfile::tempdir().unwrap();
        let first = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
        let c = crate::api::client(&first.1);
        let group = c
            .create_dataset_group()
            .name("crash")
            .send()
            .await
            .unwrap()
            .dataset_group_arn
            .unwrap();
        let dataset =
            crate::api_resources::create_dataset(&c, &group, "Interactions", "interactions").await;
        let location = s3.location("datasets/interactions.csv");
        let full = import_job(&c, "full", &dataset, &location, "FULL").await;
        assert_eq!(wait_import(&c, &full).await, "ACTIVE");
        drop(first);

        // This server aborts at the failpoint of the incremental load's commit.
        let env = [("PERSONALIZE_LOCAL_FAILPOINTS", failpoint)];
        let mut crashing = ServeProcess::start_with(&s3, dir.path(), &lease, &env);
        let c = crate::api::client(&crashing.1);
        let incremental = import_job(&c, "more", &dataset, &location, "INCREMENTAL").await;
        let status = wait_exit(&mut crashing.0);
        assert!(!status.success(), "{failpoint}: {status:?}");

        let again = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
        let c = crate::api::client(&again.1);
        assert_eq!(wait_import(&c, &incremental).await, "ACTIVE", "{failpoint}");
        drop(again);
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(
            store
                .count_records(&group, DatasetType::Interactions)
                .await
                .unwrap(),
            2 * rows,
            "{failpoint}: the incremental rows must be loaded exactly once"
        );
    }
}

pub(crate) async fn import_job(
    c: &aws_sdk_personalize::Client,
    name: &str,
    dataset: &str,
    location: &str,
    mode: &str,
) -> String {
    c.create_dataset_import_job()
        .job_name(name)
        .dataset_arn(dataset)
        .data_source(
            aws_sdk_personalize::types::DataSource::builder()
                .data_location(location)
                .build(),
        )
        .import_mode(mode.into())
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap()
}

/// Polls an import job until it ends (30 s at most); its final status.
pub(crate) async fn wait_import(c: &aws_sdk_personalize::Client, arn: &str) -> String {
    wait_ended(arn, || async {
        let job = c
            .describe_dataset_import_job()
            .dataset_import_job_arn(arn)
            .send()
            .await
            .unwrap();
        job.dataset_import_job.unwrap().status.unwrap_or_default()
    })
    .await
}

/// Polls a job's status until it ends (30 s at most); the last status.
pub(crate) async fn wait_ended<F, Fut>(arn: &str, mut status: F) -> String
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    for _ in 0..1500 {
        let status = status().await;
        if status == "ACTIVE" || status == "CREATE FAILED" {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the job {arn} did not end");
}

async fn deletion_job(
    c: &aws_sdk_personalize::Client,
    name: &str,
    group: &str,
    location: &str,
) -> String {
    c.create_data_deletion_job()
        .job_name(name)
        .dataset_group_arn(group)
        .data_source(
            aws_sdk_personalize::types::DataSource::builder()
                .data_location(location)
                .build(),
        )
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap()
}

/// `serve --no-worker` records jobs and runs none; `run-pending` runs every waiting job of
/// every kind, oldest first, prints the summary and exits 0; run again it finds nothing;
/// a job that fails makes it exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pending_drains_the_queue_and_tells_by_its_exit_status() {
    run_pending_drains(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pending_drains_a_postgres_queue() {
    if let Some(server) = crate::common::postgres_url() {
        let url = crate::common::fresh_postgres(&server).await;
        run_pending_drains(&["--store", &url]).await;
    }
}

/// The run-pending check, on the store `store` names (the data dir when empty).
async fn run_pending_drains(store: &[&str]) {
    let s3 = TestS3::start(Backend::Embedded, "run-pending")
        .await
        .unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(
        &s3,
        dir.path(),
        &[&["--no-worker"][..], store].concat(),
        &[],
    );
    let c = crate::api::client(&api.1);
    let group = c
        .create_dataset_group()
        .name("batch")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let users = crate::api_resources::create_dataset(&c, &group, "Users", "users").await;
    let import = import_job(
        &c,
        "load",
        &users,
        &s3.location("datasets/users.csv"),
        "FULL",
    )
    .await;
    let requests = s3.location("deletion-single/requests.csv");
    let delete = deletion_job(&c, "forget", &group, &requests).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let status = c
        .describe_dataset_import_job()
        .dataset_import_job_arn(&import)
        .send()
        .await
        .unwrap()
        .dataset_import_job
        .unwrap()
        .status;
    assert_eq!(
        status.as_deref(),
        Some("CREATE PENDING"),
        "no worker runs it"
    );

    let out = run(&s3, dir.path(), &[&["run-pending"][..], store].concat()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["ran"], 2);
    assert_eq!(v["failed"], 0);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs[0]["jobArn"], import.as_str());
    assert_eq!(jobs[0]["status"], "ACTIVE");
    assert_eq!(jobs[1]["jobArn"], delete.as_str());
    assert_eq!(jobs[1]["status"], "COMPLETED");
    let gone: std::collections::HashSet<String> = ["u05", "u06"].map(String::from).into();
    let want = fixture_rows("users.csv")
        .iter()
        .filter(|r| gone.contains(&r[0]))
        .count();
    assert!(want > 0);
    assert_eq!(jobs[1]["numDeleted"], want);
    // The API process sees what the batch run did.
    let job = crate::api::wait_job(&c, &delete).await;
    assert_eq!(job.num_deleted, Some(want as i32));

    let out = run(&s3, dir.path(), &[&["run-pending"][..], store].concat()).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["ran"], 0);

    let missing = deletion_job(&c, "missing", &group, &s3.location("no/such.csv")).await;
    let out = run(&s3, dir.path(), &[&["run-pending"][..], store].concat()).await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        (v["ran"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["jobs"][0]["jobArn"], missing.as_str());
    assert_eq!(v["jobs"][0]["status"], "FAILED");
    assert!(
        v["jobs"][0]["failureReason"]
            .as_str()
            .unwrap()
            .contains("NoSuchKey"),
        "{v}"
    );
}

/// Two `run-pending` started at once share the queue: every job runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_run_pending_at_once_never_run_the_same_job() {
    two_run_pending(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_run_pending_at_once_on_postgres_never_run_the_same_job() {
    if let Some(server) = crate::common::postgres_url() {
        let url = crate::common::fresh_postgres(&server).await;
        two_run_pending(&["--store", &url]).await;
    }
}

async fn two_run_pending(store: &[&str]) {
    let s3 = TestS3::start(Backend::Embedded, "run-pending-2")
        .await
        .unwrap();
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(
        &s3,
        dir.path(),
        &[&["--no-worker"][..], store].concat(),
        &[],
    );
    let c = crate::api::client(&api.1);
    let mut arns = Vec::new();
    for g in ["two-a", "two-b"] {
        let group = c
            .create_dataset_group()
            .name(g)
            .send()
            .await
            .unwrap()
            .dataset_group_arn
            .unwrap();
        for i in 0..5 {
            let name = format!("{g}-{i}");
            let requests = s3.location("deletion-single/requests.csv");
            arns.push(deletion_job(&c, &name, &group, &requests).await);
        }
    }
    let args = [&["run-pending"][..], store].concat();
    let (a, b) = tokio::join!(run(&s3, dir.path(), &args), run(&s3, dir.path(), &args));
    let mut ran = Vec::new();
    for out in [a, b] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for j in json(&out)["jobs"].as_array().unwrap() {
            assert_eq!(j["status"], "COMPLETED");
            ran.push(j["jobArn"].as_str().unwrap().to_owned());
        }
    }
    ran.sort();
    arns.sort();
    assert_eq!(ran, arns, "each job ran once, by one of the two");
}

/// `worker` runs the jobs that a `serve --no-worker` records, until it is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_runs_the_jobs_an_api_process_records() {
    let s3 = TestS3::start(Backend::Embedded, "worker").await.unwrap();
    s3.upload_tree("datasets").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(&s3, dir.path(), &["--no-worker"], &[]);
    let c = crate::api::client(&api.1);
    let group = c
        .create_dataset_group()
        .name("split")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let users = crate::api_resources::create_dataset(&c, &group, "Users", "users").await;
    let import = import_job(
        &c,
        "load",
        &users,
        &s3.location("datasets/users.csv"),
        "FULL",
    )
    .await;
    let mut worker = command(dir.path())
        .args([
            "worker",
            "--concurrency",
            "2",
            "--s3-endpoint",
            &s3.endpoint,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(wait_import(&c, &import).await, "ACTIVE");
    // SIGTERM stops it.
    let pid = worker.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(wait_exit(&mut worker).success());
}

/// A `worker` process on `store` (a PostgreSQL URL) with a 2 s lease.
fn spawn_worker(
    s3: &TestS3,
    data_dir: &Path,
    store: &str,
    env: &[(&str, &str)],
) -> std::process::Child {
    command(data_dir)
        .args(["worker", "--store", store, "--job-lease-seconds", "2"])
        .args(["--s3-endpoint", &s3.endpoint])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Records of the fixture users and interactions whose USER_ID is in `ids`.
fn fixture_records_of(ids: &[&str]) -> u64 {
    ["users.csv", "interactions.csv"]
        .iter()
        .flat_map(|f| fixture_rows(f))
        .filter(|r| ids.contains(&r[0].as_str()))
        .count() as u64
}

pub(crate) async fn export_job(
    c: &aws_sdk_personalize::Client,
    name: &str,
    dataset: &str,
    path: &str,
) -> String {
    use aws_sdk_personalize::types::{DatasetExportJobOutput, S3DataConfig};
    c.create_dataset_export_job()
        .job_name(name)
        .dataset_arn(dataset)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .job_output(
            DatasetExportJobOutput::builder()
                .s3_data_destination(S3DataConfig::builder().path(path).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dataset_export_job_arn
        .unwrap()
}

/// Polls an export job until it ends (30 s at most); its final status.
pub(crate) async fn wait_export(c: &aws_sdk_personalize::Client, arn: &str) -> String {
    wait_ended(arn, || async {
        let job = c
            .describe_dataset_export_job()
            .dataset_export_job_arn(arn)
            .send()
            .await
            .unwrap();
        job.dataset_export_job.unwrap().status.unwrap_or_default()
    })
    .await
}

/// How many times each job was claimed, from the queue itself.
async fn claims(url: &str) -> std::collections::HashMap<String, i64> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query("SELECT arn, lease_token FROM jobs", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Several processes on one PostgreSQL store, as several machines would run them: two
/// `serve --no-worker` take 20 jobs of every kind and three `worker`s run them, each exactly
/// once (claimed once, each deletion's numDeleted exact). Then a worker is killed with
/// `kill -9` in the middle of a deletion job's purge (held there by a failpoint, its
/// transaction open): nothing is deleted, and once its lease expires another worker runs
/// the job to the end with exact counts; no job is left stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_processes_share_a_postgres_store() {
    use personalize_local::store::postgres::PostgresStore;
    use personalize_local::store::{DatasetStore, DatasetType};

    let Some(server) = crate::common::postgres_url() else {
        return;
    };
    let url = crate::common::fresh_postgres(&server).await;
    let s3 = TestS3::start(Backend::Embedded, "pg-processes")
        .await
        .unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api_args = ["--no-worker", "--store", url.as_str()];
    let apis = [
        ServeProcess::start_with(&s3, dir.path(), &api_args, &[]),
        ServeProcess::start_with(&s3, dir.path(), &api_args, &[]),
    ];
    let clients: Vec<_> = apis.iter().map(|a| crate::api::client(&a.1)).collect();
    let mut workers: Vec<_> = (0..3)
        .map(|_| spawn_worker(&s3, dir.path(), &url, &[]))
        .collect();

    let requests = s3.location("deletion-single/requests.csv");
    let other = s3.location("deletion-single/not-this-one.csv");
    let mut groups = Vec::new();
    let mut imports = Vec::new();
    for (i, name) in ["pg-a", "pg-b", "pg-c", "pg-d"].iter().enumerate() {
        let c = &clients[i % 2];
        let group = c
            .create_dataset_group()
            .name(*name)
            .send()
            .await
            .unwrap()
            .dataset_group_arn
            .unwrap();
        let users = crate::api_resources::create_dataset(c, &group, "Users", "users").await;
        let inter =
            crate::api_resources::create_dataset(c, &group, "Interactions", "interactions").await;
        let users_csv = s3.location("datasets/users.csv");
        let inter_csv = s3.location("datasets/interactions.csv");
        imports.push(import_job(c, &format!("{name}-u"), &users, &users_csv, "FULL").await);
        imports.push(import_job(c, &format!("{name}-i"), &inter, &inter_csv, "FULL").await);
        groups.push((group, users));
    }
    for (i, arn) in imports.iter().enumerate() {
        assert_eq!(wait_import(&clients[(i + 1) % 2], arn).await, "ACTIVE");
    }
    let mut deletions = Vec::new();
    let mut exports = Vec::new();
    for (i, (group, users)) in groups.iter().enumerate() {
        let c = &clients[i % 2];
        let name = |s: &str| format!("pg-{i}-{s}");
        deletions.push((
            deletion_job(c, &name("req"), group, &requests).await,
            &["u05", "u06"][..],
        ));
        deletions.push((
            deletion_job(c, &name("other"), group, &other).await,
            &["u07"][..],
        ));
        exports.push(export_job(c, &name("out"), users, &s3.location("exports/")).await);
    }
    let mut total = 0;
    for (i, (arn, ids)) in deletions.iter().enumerate() {
        let job = crate::api::wait_job(&clients[(i + 1) % 2], arn).await;
        assert_eq!(
            job.status.as_deref(),
            Some("COMPLETED"),
            "{:?}",
            job.failure_reason
        );
        let want = fixture_records_of(ids);
        assert!(want > 0);
        assert_eq!(job.num_deleted, Some(want as i32), "{arn}");
        total += job.num_deleted.unwrap_or_default() as u64;
    }
    assert_eq!(total, 4 * fixture_records_of(&["u05", "u06", "u07"]));
    for arn in &exports {
        assert_eq!(wait_export(&clients[0], arn).await, "ACTIVE");
    }
    let claimed = claims(&url).await;
    assert_eq!(claimed.len(), 20);
    assert!(
        claimed.values().all(|&n| n == 1),
        "every job claimed once: {claimed:?}"
    );
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }

    // A worker killed in the middle of a purge, in a group of its own.
    let store = PostgresStore::connect(&url).await.unwrap();
    let pause = [("PERSONALIZE_LOCAL_FAILPOINTS", "purge-before-commit:pause")];
    let mut doomed = spawn_worker(&s3, dir.path(), &url, &pause);
    let c = &clients[0];
    let group = c
        .create_dataset_group()
        .name("pg-kill")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let users = crate::api_resources::create_dataset(c, &group, "Users", "users").await;
    let inter =
        crate::api_resources::create_dataset(c, &group, "Interactions", "interactions").await;
    for (dataset, file) in [(&users, "users.csv"), (&inter, "interactions.csv")] {
        let location = s3.location(&format!("datasets/{file}"));
        let arn = import_job(
            c,
            &format!("kill-{}", &file[..5]),
            dataset,
            &location,
            "FULL",
        )
        .await;
        assert_eq!(wait_import(c, &arn).await, "ACTIVE");
    }
    let records = || async {
        let mut n = 0;
        for t in [DatasetType::Users, DatasetType::Interactions] {
            n += store.count_records(&group, t).await.unwrap();
        }
        n
    };
    let before = records().await;
    let all = (fixture_rows("users.csv").len() + fixture_rows("interactions.csv").len()) as u64;
    assert_eq!(before, all);
    let arn = deletion_job(c, "killed-mid-purge", &group, &requests).await;
    let mut in_progress = false;
    for _ in 0..500 {
        let job = c
            .describe_data_deletion_job()
            .data_deletion_job_arn(&arn)
            .send()
            .await
            .unwrap()
            .data_deletion_job
            .unwrap();
        if job.status.as_deref() == Some("IN_PROGRESS") {
            in_progress = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(in_progress);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    doomed.kill().unwrap(); // SIGKILL, with the purge's transaction open
    doomed.wait().unwrap();
    assert_eq!(records().await, before, "a killed purge deletes nothing");
    let mut rescuers: Vec<_> = (0..2)
        .map(|_| spawn_worker(&s3, dir.path(), &url, &[]))
        .collect();
    let job = crate::api::wait_job(c, &arn).await;
    assert_eq!(
        job.status.as_deref(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason
    );
    let gone = fixture_records_of(&["u05", "u06"]);
    assert_eq!(job.num_deleted, Some(gone as i32));
    assert_eq!(records().await, before - gone, "deleted once, exactly");
    assert_eq!(
        claims(&url).await[&arn],
        2,
        "claimed by the killed worker, then by one other"
    );
    for w in &mut rescuers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let stuck: Vec<_> = store
        .list_jobs(personalize_local::jobs::JobKind::Deletion, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| !j.status.is_terminal())
        .collect();
    assert!(stuck.is_empty(), "{stuck:?}");
}

/// The database connection of a purge is cut while its transaction is open (the server
/// terminates the session, as a restart or a network failure would): nothing is deleted,
/// and the job ends FAILED with a reason that names the database error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_whose_connection_is_cut_deletes_nothing() {
    use personalize_local::store::postgres::PostgresStore;
    use personalize_local::store::{DatasetStore, DatasetType};

    let Some(server) = crate::common::postgres_url() else {
        return;
    };
    let url = crate::common::fresh_postgres(&server).await;
    let db = url.rsplit('/').next().unwrap().to_owned();
    let s3 = TestS3::start(Backend::Embedded, "pg-cut").await.unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(&s3, dir.path(), &["--no-worker", "--store", &url], &[]);
    let c = crate::api::client(&api.1);
    // The failpoint holds the worker's thread (its lease renewals too) for 3 s: a lease of
    // 10 s outlasts it.
    let mut worker = command(dir.path())
        .args(["worker", "--store", &url, "--job-lease-seconds", "10"])
        .args(["--s3-endpoint", &s3.endpoint])
        .env(
            "PERSONALIZE_LOCAL_FAILPOINTS",
            "purge-before-commit:sleep=3000",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let group = c
        .create_dataset_group()
        .name("pg-cut")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let users = crate::api_resources::create_dataset(&c, &group, "Users", "users").await;
    let import = import_job(&c, "u", &users, &s3.location("datasets/users.csv"), "FULL").await;
    assert_eq!(wait_import(&c, &import).await, "ACTIVE");
    let store = PostgresStore::connect(&url).await.unwrap();
    let before = store
        .count_records(&group, DatasetType::Users)
        .await
        .unwrap();
    let requests = s3.location("deletion-single/requests.csv");
    let arn = deletion_job(&c, "cut", &group, &requests).await;
    for _ in 0..500 {
        let job = crate::api::wait_job_status(&c, &arn).await;
        if job == "IN_PROGRESS" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let cut: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND state = 'idle in transaction') t",
            &[&db],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cut, 1, "the purge's session, in its transaction");
    let job = crate::api::wait_job(&c, &arn).await;
    let after = store
        .count_records(&group, DatasetType::Users)
        .await
        .unwrap();
    // The job's lease still holds, so its failure is recorded at once, under the one claim.
    assert_eq!(job.status.as_deref(), Some("FAILED"));
    let reason = job.failure_reason.unwrap_or_default();
    assert!(
        reason.contains("store failed") && reason.contains("postgres"),
        "{reason}"
    );
    assert_eq!(after, before, "a failed purge deletes nothing");
    assert_eq!(claims(&url).await[&arn], 1);
    let _ = worker.kill();
    let _ = worker.wait();
}

/// Processes started together on a data dir that does not exist yet (a scheduler starting
/// `run-pending` beside `serve`) all open it: each waits for the other's locks, and the
/// migration skips what the other did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_started_together_on_a_new_data_dir_all_open_it() {
    let root = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let dir = root.path().join(format!("new-{round}"));
        let children: Vec<_> = (0..2)
            .map(|_| {
                command(&dir)
                    .arg("migrate")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
                .await
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // Two imports started together on a new dir load both their datasets.
    let Some(s3) = TestS3::start(Backend::Embedded, "newdir").await else {
        return;
    };
    s3.upload_tree("datasets").await;
    for round in 0..3 {
        let dir = root.path().join(format!("imports-{round}"));
        let import = |t: &'static str, key: &str| {
            let mut cmd = command(&dir);
            cmd.args(["import", "--dataset-group", "g", "--dataset-type", t])
                .args(["--data-location", &s3.location(key)])
                .args(["--s3-endpoint", &s3.endpoint]);
            crate::cli::output(cmd)
        };
        let (users, items) = tokio::join!(
            import("Users", "datasets/users.csv"),
            import("Items", "datasets/items.csv")
        );
        for out in [&users, &items] {
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let store = personalize_local::store::sqlite::SqliteStore::open_dir(&dir).unwrap();
        use personalize_local::store::{DatasetStore, DatasetType};
        let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g";
        for (t, file) in [(DatasetType::Users, "users"), (DatasetType::Items, "items")] {
            assert_eq!(
                store.count_records(group, t).await.unwrap(),
                fixture_rows(&format!("{file}.csv")).len() as u64,
                "round {round}: {t}"
            );
        }
    }
}

/// On the embedded store a restarted `serve` takes back at once the job its killed
/// predecessor held (the lease's owner, a process of this host, is gone), instead of
/// waiting out the 30 s lease; and the job's rows load exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_takes_back_a_dead_processs_job_at_once() {
    use personalize_local::store::sqlite::SqliteStore;
    use personalize_local::store::{DatasetStore, DatasetType};

    let s3 = TestS3::start(Backend::Embedded, "deadlease").await.unwrap();
    s3.upload_tree("datasets").await;
    let rows = fixture_rows("interactions.csv").len() as u64;
    let dir = tempfile::tempdir().unwrap();
    // The default lease: 30 s.
    let env = [("PERSONALIZE_LOCAL_FAILPOINTS", "load-before-commit")];
    let mut crashing = ServeProcess::start_with(&s3, dir.path(), &[], &env);
    let c = crate::api::client(&crashing.1);
    let group = c
        .create_dataset_group()
        .name("dead-lease")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let dataset =
        crate::api_resources::create_dataset(&c, &group, "Interactions", "interactions").await;
    let location = s3.location("datasets/interactions.csv");
    let job = import_job(&c, "full", &dataset, &location, "FULL").await;
    let status = wait_exit(&mut crashing.0);
    assert!(!status.success(), "{status:?}");

    let restarted = std::time::Instant::now();
    let again = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&again.1);
    assert_eq!(wait_import(&c, &job).await, "ACTIVE");
    let took = restarted.elapsed();
    assert!(
        took < std::time::Duration::from_secs(10),
        "the job resumed {took:?} after the restart: the dead lease was waited out"
    );
    drop(again);
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(
        store
            .count_records(&group, DatasetType::Interactions)
            .await
            .unwrap(),
        rows
    );
}

/// Puts `planted`'s interactions (as `click` events) at `planted/interactions.csv`.
pub(crate) async fn put_planted(s3: &TestS3, planted: &personalize_local::train::planted::Planted) {
    let mut csv = String::from("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n");
    for (u, i, t) in planted.rows() {
        csv += &format!("{u},{i},{t},click\n");
    }
    s3.put("planted/interactions.csv", csv).await;
}

/// Through `c`: a group `name` whose Interactions dataset is imported from
/// `planted/interactions.csv`, and a user-personalization solution of it, `name` too.
pub(crate) async fn planted_solution(
    c: &aws_sdk_personalize::Client,
    s3: &TestS3,
    name: &str,
) -> (String, String) {
    let group = planted_group(c, s3, name).await;
    let solution = c
        .create_solution()
        .name(name)
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-user-personalization-v2")
        .send()
        .await
        .unwrap()
        .solution_arn
        .unwrap();
    (group, solution)
}

/// Through `c`: a group `name` whose Interactions dataset is imported from
/// `planted/interactions.csv`.
pub(crate) async fn planted_group(
    c: &aws_sdk_personalize::Client,
    s3: &TestS3,
    name: &str,
) -> String {
    let group = c
        .create_dataset_group()
        .name(name)
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let dataset =
        crate::api_resources::create_dataset(c, &group, "Interactions", "interactions").await;
    let location = s3.location("planted/interactions.csv");
    let import = import_job(c, "planted", &dataset, &location, "FULL").await;
    assert_eq!(wait_import(c, &import).await, "ACTIVE");
    group
}

/// `kill -9` of `serve` while a solution version trains (SIGKILL mid-training, and aborts on
/// either side of its commit), then a restart: the version ends ACTIVE once, its model
/// stored, never half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_survives_kill_9() {
    use personalize_local::store::sqlite::SqliteStore;
    use personalize_local::store::DatasetStore;
    use personalize_local::train::planted::Planted;

    let s3 = TestS3::start(Backend::Embedded, "trainkill").await.unwrap();
    let planted = Planted {
        users: 3000,
        items: 400,
        groups: 8,
        per_user: 12,
        affinity: 0.8,
        seed: 5,
    };
    put_planted(&s3, &planted).await;
    for (how, env) in [
        // Held at its commit (the transaction open), then killed.
        (
            "kill -9 at the commit",
            Some("resources-before-commit:pause"),
        ),
        ("abort before the commit", Some("resources-before-commit")),
        ("abort after the commit", Some("resources-after-commit")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let setup = ServeProcess::start(&s3, dir.path());
        let c = crate::api::client(&setup.1);
        let (_, solution) = planted_solution(&c, &s3, "train").await;
        drop(setup);

        let failpoints: Vec<(&str, &str)> = env
            .map(|e| vec![("PERSONALIZE_LOCAL_FAILPOINTS", e)])
            .unwrap_or_default();
        let mut crashing = ServeProcess::start_with(&s3, dir.path(), &[], &failpoints);
        let c = crate::api::client(&crashing.1);
        let version = c
            .create_solution_version()
            .solution_arn(&solution)
            .send()
            .await
            .unwrap()
            .solution_version_arn
            .unwrap();
        let killed = env.is_some_and(|e| e.ends_with(":pause"));
        if killed {
            // Killed once training has begun, and has had the time to reach its commit.
            for _ in 0..500 {
                let v = c
                    .describe_solution_version()
                    .solution_version_arn(&version)
                    .send()
                    .await
                    .unwrap()
                    .solution_version
                    .unwrap();
                if v.status() == Some("CREATE IN_PROGRESS") {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            crashing.0.kill().unwrap();
        }
        let status = wait_exit(&mut crashing.0);
        assert!(!status.success(), "{how}: {status:?}");
        {
            // Nothing half-written: no model without ACTIVE, no ACTIVE without a model.
            let store = SqliteStore::open_dir(dir.path()).unwrap();
            let job = store.job(&version).await.unwrap().unwrap();
            let blob = store.blob(&version).await.unwrap();
            if killed {
                assert!(blob.is_none(), "{how}: a model before the commit");
            }
            assert_eq!(
                job.status == personalize_local::jobs::JobStatus::Succeeded,
                blob.is_some(),
                "{how}: {:?} with a model: {}",
                job.status,
                blob.is_some()
            );
        }

        let again = ServeProcess::start(&s3, dir.path());
        let c = crate::api::client(&again.1);
        let mut last = None;
        for _ in 0..1500 {
            let v = c
                .describe_solution_version()
                .solution_version_arn(&version)
                .send()
                .await
                .unwrap()
                .solution_version
                .unwrap();
            last = v.status().map(str::to_owned);
            if matches!(last.as_deref(), Some("ACTIVE" | "CREATE FAILED")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(last.as_deref(), Some("ACTIVE"), "{how}");
        let metrics = c
            .get_solution_metrics()
            .solution_version_arn(&version)
            .send()
            .await
            .unwrap();
        assert!(metrics.metrics().unwrap()["precision_at_10"] > 0.0, "{how}");
        drop(again);
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let model = store.blob(&version).await.unwrap().expect("a model");
        personalize_local::model::format::Model::decode(&model).unwrap();
    }
}

/// `verify` covers the models: after a data deletion job, a campaign still serving a version
/// trained before it fails verification (exit 1, named in the JSON) until a version trained
/// after it is deployed; the batch jobs run on the old version are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_models_trained_before_a_deletion_until_they_are_replaced() {
    use personalize_local::train::planted::Planted;

    let s3 = TestS3::start(Backend::Embedded, "verifymodels")
        .await
        .unwrap();
    let planted = Planted {
        users: 300,
        items: 60,
        groups: 3,
        per_user: 8,
        affinity: 0.85,
        seed: 3,
    };
    put_planted(&s3, &planted).await;
    s3.put("forget/users.csv", "USER_ID\nu1\nu2\nu3\n").await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&server.1);
    let (group, solution) = planted_solution(&c, &s3, "g").await;
    let (old, v) = crate::training::train(&c, &solution).await;
    assert_eq!(v.status(), Some("ACTIVE"));
    let campaign = crate::runtime::campaign(&c, "live", &old, None).await;
    s3.put(
        "batch/in.json",
        "{\"userId\": \"u1\"}\n{\"userId\": \"u9\"}\n{\"userId\": \"u2\"}\n",
    )
    .await;
    crate::batch::inference(&c, &s3, "before", &old, "batch/in.json", "batch/out/", None).await;
    let job = crate::api::deletion(&c, "forget", &group, &s3.location("forget/users.csv")).await;
    assert_eq!(job.status(), Some("COMPLETED"));
    drop(server);

    let verify = [
        "verify",
        "--dataset-group",
        "g",
        "--data-location",
        &s3.location("forget/users.csv"),
    ];
    let out = crate::cli::run(&s3, dir.path(), &verify).await;
    assert_eq!(out.status.code(), Some(1), "the old model is deployed");
    let v = crate::cli::json(&out);
    assert_eq!(v["verified"], false);
    assert_eq!(
        v["remaining"]["Interactions"]["users"], 0,
        "the records are gone"
    );
    assert_eq!(
        v["models"]["versionsTrainedBeforeTheDeletion"][0],
        old.as_str()
    );
    assert_eq!(v["models"]["deployed"][0]["arn"], campaign.as_str());
    // The batch output written before the deletion names two of the users, in two lines.
    let named = &v["models"]["batchOutputs"];
    assert_eq!(named.as_array().unwrap().len(), 1, "{named}");
    assert_eq!(
        named[0]["object"],
        s3.location("batch/out/in.json.out").as_str()
    );
    assert_eq!(named[0]["users"], 2);

    // A version trained after the deletion, deployed: verified.
    let server = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&server.1);
    let (new, v) = crate::training::train(&c, &solution).await;
    assert_eq!(v.status(), Some("ACTIVE"));
    c.update_campaign()
        .campaign_arn(&campaign)
        .solution_version_arn(&new)
        .send()
        .await
        .unwrap();
    drop(server);
    let out = crate::cli::run(&s3, dir.path(), &verify).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = crate::cli::json(&out);
    assert_eq!(v["verified"], true);
    assert_eq!(
        v["models"]["versionsTrainedBeforeTheDeletion"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(v["models"]["deployed"].as_array().unwrap().is_empty());
}
