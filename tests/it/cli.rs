//! The `personalize-local` binary, driven as a user would: import, delete-users, exit codes,
//! JSON on stdout, state kept in the data dir between runs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{collect_files, fixture_ids, fixture_rows, Backend, TestS3};

/// The binary on `data_dir`, in a clean AWS environment: test credentials, `us-east-1`, no
/// instance metadata, and no S3 endpoint, profile or log filter inherited from the caller.
pub(crate) fn command(data_dir: &Path) -> Command {
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
pub(crate) async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs a command to its end, which must exit 0 (its stderr shown otherwise), and returns
/// its JSON output.
pub(crate) async fn succeeded(cmd: Command) -> Value {
    let out = output(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// Runs the binary with the S3 endpoint and data dir given, and test credentials.
pub(crate) async fn run(s3: &TestS3, data_dir: &Path, args: &[&str]) -> Output {
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

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `import` of the object `key` into dataset `t` of `group`; it must succeed.
pub(crate) async fn import(s3: &TestS3, dir: &Path, group: &str, t: &str, key: &str) -> Value {
    let mut cmd = command(dir);
    cmd.args(["import", "--dataset-group", group, "--dataset-type", t])
        .arg("--data-location")
        .arg(s3.location(key))
        .arg("--s3-endpoint")
        .arg(&s3.endpoint);
    succeeded(cmd).await
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
    // The folder's files of other types are left unread (a README that is no deletion
    // file, a checksum file), and reported; the upper-case `.CSV` file is read.
    assert_eq!(v["input"]["objects"], 3);
    assert_eq!(
        v["skippedObjects"],
        serde_json::json!({
            "count": 2,
            "first": ["deletion-nested/sub/.b.csv.crc", "deletion-nested/sub/deeper/README.txt"]
        })
    );

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

/// A store URL that does not answer, or names no PostgreSQL: a one-line usage error that
/// names host and database (never the password), exit 2, and no data dir made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_is_a_usage_error_naming_host_and_database() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("never-made");
    for (url, names) in [
        (
            "postgres://someone:s3cret@127.0.0.1:1/nowhere?connect_timeout=3",
            "127.0.0.1:1/nowhere",
        ),
        ("mysql://127.0.0.1/db", "postgres://"),
    ] {
        for command_line in [&["run-pending"][..], &["migrate"], &["worker"]] {
            let mut cmd = command(&data_dir);
            cmd.args(["--store", url]).args(command_line);
            let out = output(cmd).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{url} {command_line:?}: {stderr}"
            );
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
            assert!(stderr.contains(names), "{stderr}");
            assert!(!stderr.contains("s3cret"), "{stderr}");
            assert!(out.stdout.is_empty());
        }
    }
    assert!(!data_dir.exists());
}

/// `import` and `delete-users` on a PostgreSQL store: the records loaded, the job's JSON
/// and exact count, the job kept in the database for the next command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_delete_users_on_postgres() {
    let Some(server) = crate::common::postgres_url() else {
        return;
    };
    let url = crate::common::fresh_postgres(&server).await;
    let s3 = TestS3::start(Backend::Embedded, "cli-pg").await.unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let users = s3.location("datasets/users.csv");
    let out = run(
        &s3,
        dir.path(),
        &[&IMPORT_USERS[..], &[&users, "--store", &url]].concat(),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["records"], fixture_rows("users.csv").len());
    let args = [
        "delete-users",
        "--dataset-group",
        "g",
        "--job-name",
        "pg-cli",
        "--store",
        &url,
        "--data-location",
    ];
    let requests = s3.location("deletion-single/requests.csv");
    let out = run(&s3, dir.path(), &[&args[..], &[&requests]].concat()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let gone = fixture_rows("users.csv")
        .iter()
        .filter(|r| ["u05", "u06"].contains(&r[0].as_str()))
        .count();
    assert_eq!(v["dataDeletionJob"]["status"], "COMPLETED");
    assert_eq!(v["dataDeletionJob"]["numDeleted"], gone);
    assert_eq!(v["numDeletedPerDataset"]["Users"], gone);
    // The job is in the database: its name is taken (a usage error), and no data dir was used.
    let out = run(&s3, dir.path(), &[&args[..], &[&requests]].concat()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A purge blocked by another session's lock on PostgreSQL ends its job `FAILED` within the
/// session's lock timeout (here set through the URL's `options`), naming the database's
/// error, with nothing deleted; once the lock is gone the same job runs to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_blocked_by_a_lock_fails_within_the_lock_timeout() {
    let Some(server) = crate::common::postgres_url() else {
        return;
    };
    let url = crate::common::fresh_postgres(&server).await;
    let s3 = TestS3::start(Backend::Embedded, "cli-pg-lock")
        .await
        .unwrap();
    s3.upload_tree("datasets").await;
    s3.upload_tree("deletion-single").await;
    let dir = tempfile::tempdir().unwrap();
    let users = s3.location("datasets/users.csv");
    let out = run(
        &s3,
        dir.path(),
        &[&IMPORT_USERS[..], &[&users, "--store", &url]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let loaded = fixture_rows("users.csv").len();

    // Another session holds the records' table.
    let (holder, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    holder
        .batch_execute("BEGIN; LOCK TABLE user_records IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let bounded = format!("{url}{sep}options=-c%20lock_timeout%3D2s");
    let requests = s3.location("deletion-single/requests.csv");
    let args = |name: &'static str, store: &str| {
        vec![
            "delete-users".to_owned(),
            "--dataset-group".into(),
            "g".into(),
            "--job-name".into(),
            name.into(),
            "--store".into(),
            store.to_owned(),
            "--data-location".into(),
            requests.clone(),
        ]
    };
    let started = std::time::Instant::now();
    let a = args("locked", &bounded);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), run(&s3, dir.path(), &a))
        .await
        .expect("the job ends although the table stays locked");
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = &json(&out)["dataDeletionJob"];
    assert_eq!(job["status"], "FAILED");
    let why = job["failureReason"].as_str().unwrap();
    assert!(why.contains("lock timeout"), "{why}");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    holder.batch_execute("ROLLBACK").await.unwrap();

    // Nothing was deleted; with the lock gone the job runs.
    let store = personalize_local::store::postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    use personalize_local::store::{DatasetStore, DatasetType};
    let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g";
    assert_eq!(
        store
            .count_records(group, DatasetType::Users)
            .await
            .unwrap(),
        loaded as u64
    );
    let a = args("unlocked", &url);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = run(&s3, dir.path(), &a).await;
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");
}

/// A reader that goes away before the JSON is written (`| head -c0`, a `jq` that stopped)
/// does not make the binary panic: the command's work is done, and it exits 0.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.arg("compact")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
