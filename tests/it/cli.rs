//! The `personalize-local` binary, driven as a user would: import, delete-users, exit codes,
//! JSON on stdout, state kept in the data dir between runs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{collect_files, fixture_ids, fixture_rows, Backend, TestS3};

/// The binary on `data_dir`, in a clean AWS environment: test credentials, `us-east-1`, no
/// instance metadata, and no S3 endpoint, profile or log filter inherited from the caller.
fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_personalize-local"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("PERSONALIZE_LOCAL_S3_ENDPOINT")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs a command to its end without blocking the runtime's workers.
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs the binary with the S3 endpoint and data dir given, and test credentials.
async fn run(s3: &TestS3, data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = command(data_dir);
    cmd.args(args).arg("--s3-endpoint").arg(&s3.endpoint);
    output(cmd).await
}

/// `import` of the fixture users into group `g`.
const IMPORT_USERS: [&str; 6] = [
    "import",
    "--dataset-group",
    "g",
    "--dataset-type",
    "Users",
    "--data-location",
];

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn import(s3: &TestS3, dir: &Path, group: &str, t: &str, key: &str) -> Value {
    let location = s3.location(key);
    let out = run(
        s3,
        dir,
        &[
            "import",
            "--dataset-group",
            group,
            "--dataset-type",
            t,
            "--data-location",
            &location,
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_delete_users_then_state_persists() {
    let s3 = TestS3::start(Backend::Embedded, "cli").await.unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-nested").await;
    s3.upload_tree("bad-header").await;
    let dir = tempfile::tempdir().unwrap();

    let users = import(&s3, dir.path(), "cli-group", "Users", "datasets/users.csv").await;
    assert_eq!(users["records"], fixture_rows("users.csv").len());
    assert_eq!(
        users["datasetArn"],
        "arn:aws:personalize:us-east-1:000000000000:dataset/cli-group/USERS"
    );
    assert_eq!(
        users["columns"],
        serde_json::json!(["USER_ID", "AGE", "MEMBERSHIP"])
    );
    let inter = import(
        &s3,
        dir.path(),
        "cli-group",
        "interactions",
        "datasets/interactions.csv",
    )
    .await;
    assert_eq!(inter["records"], fixture_rows("interactions.csv").len());

    let gone = fixture_ids("deletion-nested");
    let count = |file: &str| {
        fixture_rows(file)
            .iter()
            .filter(|r| gone.contains(&r[0]))
            .count() as u64
    };
    let location = s3.location("deletion-nested/");
    let args = [
        "delete-users",
        "--dataset-group",
        "cli-group",
        "--data-location",
        &location,
        "--job-name",
        "cli-job",
    ];
    let out = run(&s3, dir.path(), &args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let job = &v["dataDeletionJob"];
    assert_eq!(job["status"], "COMPLETED");
    assert_eq!(job["jobName"], "cli-job");
    assert_eq!(
        job["dataDeletionJobArn"],
        "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/cli-job"
    );
    assert_eq!(
        job["datasetGroupArn"],
        "arn:aws:personalize:us-east-1:000000000000:dataset-group/cli-group"
    );
    assert_eq!(job["dataSource"]["dataLocation"], location);
    assert_eq!(
        job["numDeleted"],
        count("users.csv") + count("interactions.csv")
    );
    assert!(job.get("failureReason").is_none());
    assert!(job["creationDateTime"].is_f64() && job["lastUpdatedDateTime"].is_f64());
    assert_eq!(v["numDeletedPerDataset"]["Users"], count("users.csv"));
    assert_eq!(
        v["numDeletedPerDataset"]["Interactions"],
        count("interactions.csv")
    );
    assert_eq!(v["input"]["distinctIds"], gone.len());

    // The data dir kept the job: a second job of that name is refused (usage error, 2).
    let out = run(&s3, dir.path(), &args).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("a data deletion job named cli-job already exists"));

    // A bad file: FAILED, exit 1, the reason names object and line; nothing more deleted.
    let bad = s3.location("bad-header/");
    let out = run(
        &s3,
        dir.path(),
        &[
            "delete-users",
            "--dataset-group",
            "cli-group",
            "--data-location",
            &bad,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["dataDeletionJob"]["status"], "FAILED");
    assert_eq!(
        v["dataDeletionJob"]["failureReason"],
        format!(
            "{} line 1: expected the header USER_ID, found \"ID\"",
            s3.location("bad-header/users.csv")
        )
    );
    assert!(v["dataDeletionJob"].get("numDeleted").is_none());
    assert_eq!(v["numDeletedPerDataset"], serde_json::json!({}));

    // Re-importing shows what the store holds after both jobs: the deleted users are gone.
    let store = personalize_local::store::sqlite::SqliteStore::open_dir(dir.path()).unwrap();
    use personalize_local::store::{DatasetStore, DatasetType};
    let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/cli-group";
    let left = store.records(group, DatasetType::Users).await.unwrap();
    assert_eq!(
        left.len() as u64,
        fixture_rows("users.csv").len() as u64 - count("users.csv")
    );
    assert!(left.iter().all(|r| !gone.contains(&r[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_without_a_job() {
    let s3 = TestS3::start(Backend::Embedded, "cli-usage").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = s3.location("x/");
    for (args, message) in [
        (
            vec![
                "delete-users",
                "--dataset-group",
                "nope",
                "--data-location",
                location.as_str(),
            ],
            "the dataset group nope does not exist",
        ),
        (
            vec![
                "delete-users",
                "--dataset-group",
                "nope",
                "--data-location",
                "http://b/k",
            ],
            "invalid S3 location \"http://b/k\": it must start with s3://",
        ),
        (
            vec![
                "import",
                "--dataset-group",
                "g",
                "--dataset-type",
                "Things",
                "--data-location",
                location.as_str(),
            ],
            "unknown dataset type \"Things\"",
        ),
        (
            vec![
                "import",
                "--dataset-group",
                "bad name",
                "--dataset-type",
                "Users",
                "--data-location",
                location.as_str(),
            ],
            "invalid dataset group name \"bad name\"",
        ),
    ] {
        let out = run(&s3, dir.path(), &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.arg("demo");
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // alice, bob and "carol, jr" go (mallory is unknown): 3 users, 7 interactions.
    assert!(
        stdout.contains("Interactions        14       7"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Users                8       5"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Items                5       5"),
        "{stdout}"
    );
    let json_start = stdout.find("\n{").unwrap();
    let v: Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(v["dataDeletionJob"]["status"], "COMPLETED");
    assert_eq!(v["dataDeletionJob"]["numDeleted"], 10);
    assert_eq!(
        v["dataDeletionJob"]["dataSource"]["dataLocation"],
        "s3://demo/deletion-requests/"
    );
    // Everything but the records' load went through the API.
    for step in [
        "CreateSchema arn:aws:personalize:us-east-1:000000000000:schema/demo-items",
        "CreateDataset arn:aws:personalize:us-east-1:000000000000:dataset/demo-group/INTERACTIONS",
        "> COMPLETED",
    ] {
        assert!(stdout.contains(step), "{step:?} not in {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_named_in_the_reason() {
    let s3 = TestS3::start(Backend::Embedded, "cli-nocreds")
        .await
        .unwrap();
    s3.upload_tree("datasets").await;
    let dir = tempfile::tempdir().unwrap();
    let location = s3.location("datasets/users.csv");
    let mut cmd = command(dir.path());
    cmd.args(IMPORT_USERS)
        .arg(&location)
        .args(["--s3-max-attempts", "1", "--s3-endpoint", &s3.endpoint])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let reason = v["failureReason"].as_str().unwrap();
    let want = format!(
        "reading {} failed: NoCredentials",
        s3.location("datasets/users.csv")
    );
    assert!(reason.starts_with(&want), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_from_the_environment_with_a_host_name_uses_path_style() {
    // `localhost` rather than an IP: only path-style addressing reaches the bucket here.
    let s3 = TestS3::start(Backend::Embedded, "cli-env").await.unwrap();
    s3.upload_tree("datasets").await;
    let endpoint = s3.endpoint.replace("127.0.0.1", "localhost");
    for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
        let dir = tempfile::tempdir().unwrap();
        let location = s3.location("datasets/users.csv");
        let mut cmd = command(dir.path());
        cmd.args(IMPORT_USERS).arg(&location).env(var, &endpoint);
        let out = output(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{var}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            json(&out)["records"],
            fixture_rows("users.csv").len(),
            "{var}"
        );
    }
}

/// A `serve` process on a free port; killed when dropped.
struct ServeProcess(std::process::Child, String);

impl ServeProcess {
    fn start(s3: &TestS3, data_dir: &Path) -> ServeProcess {
        ServeProcess::start_with(s3, data_dir, &[], &[])
    }

    /// A `serve` process with more arguments and environment variables.
    fn start_with(
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
            },
        );
        store.create_job(&job).await.unwrap();
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
        store.create_job(&import).await.unwrap();
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
        store.create_job(&export).await.unwrap();
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

/// The benchmark's workload generator, shared with `benches/deletion`.
#[path = "../../benches/deletion/workload.rs"]
mod workload;

/// The benchmark's workload at a tiny scale, through the binary: it imports as many rows as
/// the generator wrote, and the job reports exactly the counts of its `expected.json` (the
/// check `cargo bench --bench deletion` makes on every run), on every S3 backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_workload_deletes_exactly_what_it_expects() {
    let data = tempfile::tempdir().unwrap();
    let expected = workload::generate(0.002, workload::SEED, data.path()).unwrap();
    assert_eq!(expected["distinct_ids"], 1000);
    assert_eq!(expected["deletion_id_lines"], 4000);
    let mut paths = Vec::new();
    collect_files(data.path(), &mut paths);
    let files: Vec<(String, std::path::PathBuf)> = paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            let key = p
                .strip_prefix(data.path())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (key, p)
        })
        .collect();
    assert_eq!(files.len(), 3 + 12);
    let parts: Vec<&(String, _)> = files
        .iter()
        .filter(|(k, _)| k.starts_with("deletions/"))
        .collect();
    let bodies: Vec<Vec<u8>> = parts
        .iter()
        .map(|(_, p)| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.starts_with("\u{feff}USER_ID\n".as_bytes()))
            .count(),
        1
    );
    assert_eq!(bodies.iter().filter(|b| !b.ends_with(b"\n")).count(), 1);

    for backend in [Backend::Embedded, Backend::Moto, Backend::LocalStack] {
        let Some(s3) = TestS3::start(backend, "workload").await else {
            continue;
        };
        for (key, path) in &files {
            s3.put(key, std::fs::read(path).unwrap()).await;
        }
        let dir = tempfile::tempdir().unwrap();
        for (t, file) in [
            ("Users", "users"),
            ("Items", "items"),
            ("Interactions", "interactions"),
        ] {
            let report = import(&s3, dir.path(), "w", t, &format!("{file}.csv")).await;
            assert_eq!(
                report["records"], expected["rows_before"][file],
                "{backend:?} {t}"
            );
        }
        let location = s3.location("deletions/");
        let out = run(
            &s3,
            dir.path(),
            &[
                "delete-users",
                "--dataset-group",
                "w",
                "--data-location",
                &location,
                "--job-name",
                "w-1",
            ],
        )
        .await;
        let job = json(&out);
        assert_eq!(
            job["dataDeletionJob"]["status"], "COMPLETED",
            "{backend:?} {job}"
        );
        assert_eq!(
            job["dataDeletionJob"]["numDeleted"],
            expected["records_deleted"]
        );
        let per = &job["numDeletedPerDataset"];
        assert_eq!(per["Users"], expected["users_rows_deleted"]);
        assert_eq!(per["Interactions"], expected["interactions_rows_deleted"]);
        assert!(per.get("Items").is_none(), "{per}");
        let input = &job["input"];
        assert_eq!(input["objects"], expected["deletion_files"]);
        assert_eq!(input["idLines"], expected["deletion_id_lines"]);
        assert_eq!(input["distinctIds"], expected["distinct_ids"]);
        assert_eq!(input["bytes"], expected["deletion_bytes"]);
    }
}

/// Waits up to 30 s for a process that is expected to end by itself; its exit status.
fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
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

async fn import_job(
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
async fn wait_import(c: &aws_sdk_personalize::Client, arn: &str) -> String {
    for _ in 0..1500 {
        let job = c
            .describe_dataset_import_job()
            .dataset_import_job_arn(arn)
            .send()
            .await
            .unwrap()
            .dataset_import_job
            .unwrap();
        let status = job.status.unwrap_or_default();
        if status == "ACTIVE" || status == "CREATE FAILED" {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the import job {arn} did not end");
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
    let s3 = TestS3::start(Backend::Embedded, "run-pending")
        .await
        .unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(&s3, dir.path(), &["--no-worker"], &[]);
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

    let out = run(&s3, dir.path(), &["run-pending"]).await;
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

    let out = run(&s3, dir.path(), &["run-pending"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["ran"], 0);

    let missing = deletion_job(&c, "missing", &group, &s3.location("no/such.csv")).await;
    let out = run(&s3, dir.path(), &["run-pending"]).await;
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
    let s3 = TestS3::start(Backend::Embedded, "run-pending-2")
        .await
        .unwrap();
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let api = ServeProcess::start_with(&s3, dir.path(), &["--no-worker"], &[]);
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
    let (a, b) = tokio::join!(
        run(&s3, dir.path(), &["run-pending"]),
        run(&s3, dir.path(), &["run-pending"])
    );
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
