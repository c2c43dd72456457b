//! `kill -9` anywhere in an import, FULL or INCREMENTAL, through the binary: the store is
//! before the import or after it, never between, never twice. And anywhere in an export
//! job under `serve`: its object is never partial, and after a restart it is whole, once.

use std::path::Path;
use std::time::Instant;

use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::{DatasetStore, DatasetType};

use crate::cli::{command, run};
use crate::common::{copy_of, Backend, TestS3};
use crate::processes::ServeProcess;

const GROUP_ARN: &str = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g";

fn interactions(tag: &str, n: usize) -> (String, Vec<Vec<String>>) {
    let mut csv = String::from("USER_ID,ITEM_ID,TIMESTAMP\n");
    let mut rows = Vec::new();
    for i in 0..n {
        let row = vec![
            format!("u{:05}", i % 5000),
            format!("{tag}{i}"),
            format!("{}", 1000 + i),
        ];
        csv += &row.join(",");
        csv.push('\n');
        rows.push(row);
    }
    (csv, rows)
}

async fn held(dir: &Path) -> Vec<Vec<String>> {
    let store = SqliteStore::open_dir(dir).unwrap();
    let mut rows = store
        .records(GROUP_ARN, DatasetType::Interactions)
        .await
        .unwrap();
    let counted = store
        .count_records(GROUP_ARN, DatasetType::Interactions)
        .await
        .unwrap();
    assert_eq!(
        counted,
        rows.len() as u64,
        "the count agrees with the records"
    );
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_anywhere_leaves_the_store_before_or_after_it() {
    let s3 = TestS3::start(Backend::Embedded, "crash-import")
        .await
        .unwrap();
    let (first, first_rows) = interactions("a", 20_000);
    let (second, second_rows) = interactions("b", 40_000);
    s3.put("in/first.csv", first).await;
    s3.put("in/second.csv", second).await;
    let import = |location: String, mode: &'static str| {
        vec![
            "import".to_string(),
            "--dataset-group".into(),
            "g".into(),
            "--dataset-type".into(),
            "Interactions".into(),
            "--import-mode".into(),
            mode.into(),
            "--data-location".into(),
            location,
        ]
    };
    let loaded = tempfile::tempdir().unwrap();
    let args = import(s3.location("in/first.csv"), "FULL");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&s3, loaded.path(), &args).await.status.code(), Some(0));
    let mut before = first_rows.clone();
    before.sort();
    assert_eq!(held(loaded.path()).await, before);

    let mut outcomes = Vec::new();
    for (mode, mut after) in [
        ("FULL", second_rows.clone()),
        (
            "INCREMENTAL",
            [first_rows.clone(), second_rows.clone()].concat(),
        ),
    ] {
        after.sort();
        let args = import(s3.location("in/second.csv"), mode);
        let spawn_with = |dir: &Path, failpoint: Option<&str>| {
            let mut cmd = command(dir);
            if let Some(fp) = failpoint {
                cmd.env("PERSONALIZE_LOCAL_FAILPOINTS", fp);
            }
            cmd.args(&args)
                .arg("--s3-endpoint")
                .arg(&s3.endpoint)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            cmd.spawn().unwrap()
        };
        let spawn = |dir: &Path| spawn_with(dir, None);
        // How long a whole import takes here.
        let dir = copy_of(loaded.path());
        let started = Instant::now();
        assert!(spawn(dir.path()).wait().unwrap().success());
        let whole = started.elapsed();
        assert_eq!(held(dir.path()).await, after, "{mode}: a whole import");

        let (mut was_before, mut was_after) = (0, 0);
        for i in 1..=12u32 {
            let dir = copy_of(loaded.path());
            let mut child = spawn(dir.path());
            std::thread::sleep(whole.mul_f64(f64::from(i) / 12.0));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            let rows = held(dir.path()).await;
            if rows == before {
                was_before += 1;
            } else {
                assert!(
                    rows == after,
                    "{mode}, point {i} of 12: {} records, neither before ({}) nor after ({})",
                    rows.len(),
                    before.len(),
                    after.len()
                );
                was_after += 1;
            }
        }
        // Aborts on either side of the commit: before it nothing, after it everything.
        for (failpoint, want) in [
            ("load-before-commit", &before),
            ("load-after-commit", &after),
        ] {
            let dir = copy_of(loaded.path());
            let status = spawn_with(dir.path(), Some(failpoint)).wait().unwrap();
            assert!(!status.success(), "{mode} {failpoint}");
            assert_eq!(&held(dir.path()).await, want, "{mode} {failpoint}");
        }
        outcomes.push((mode, whole, was_before, was_after));
    }
    eprintln!("{outcomes:?}");
}

/// The rows of an exported CSV object, sorted, or `None` when there is no object.
async fn exported(s3: &TestS3, key: &str) -> Option<Vec<Vec<String>>> {
    let out = s3
        .client
        .get_object()
        .bucket(&s3.bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let body = out.body.collect().await.unwrap().into_bytes();
    let mut reader = csv::Reader::from_reader(&body[..]);
    assert_eq!(
        reader.headers().unwrap(),
        vec!["USER_ID", "ITEM_ID", "TIMESTAMP"]
    );
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    rows.sort();
    Some(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_anywhere_writes_its_object_whole_and_once() {
    use personalize_local::jobs::JobStatus;
    use personalize_local::store::dataset_arn;

    let s3 = TestS3::start(Backend::Embedded, "crash-export")
        .await
        .unwrap();
    // About 8 MB of CSV out: a multipart upload of two parts.
    let (csv, mut rows) = interactions("e", 300_000);
    rows.sort();
    s3.put("in/interactions.csv", csv).await;
    let loaded = tempfile::tempdir().unwrap();
    crate::cli::import(
        &s3,
        loaded.path(),
        "g",
        "Interactions",
        "in/interactions.csv",
    )
    .await;
    let dataset = dataset_arn(GROUP_ARN, DatasetType::Interactions);
    let lease = ["--job-lease-seconds", "1"];
    let create = |c: aws_sdk_personalize::Client, name: String| {
        let path = s3.location(&format!("out/{name}/"));
        let dataset = dataset.clone();
        async move { crate::processes::export_job(&c, &name, &dataset, &path).await }
    };

    // How long a whole export job takes here, from its creation.
    let dir = copy_of(loaded.path());
    let server = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
    let c = crate::api::client(&server.1);
    let started = Instant::now();
    let arn = create(c.clone(), "whole".into()).await;
    assert_eq!(crate::processes::wait_export(&c, &arn).await, "ACTIVE");
    let whole = started.elapsed();
    assert_eq!(
        exported(&s3, "out/whole/whole.csv").await.as_ref(),
        Some(&rows)
    );
    drop(server);

    let points = 10u32;
    let mut seen = [0u32; 3]; // nothing yet; the object without the status; both
    for i in 1..=points {
        let dir = copy_of(loaded.path());
        let name = format!("kill{i}");
        let key = format!("out/{name}/{name}.csv");
        let server = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
        let c = crate::api::client(&server.1);
        let arn = create(c, name.clone()).await;
        std::thread::sleep(whole.mul_f64(f64::from(i) / f64::from(points)));
        drop(server); // SIGKILL

        let object = exported(&s3, &key).await;
        if let Some(found) = &object {
            assert!(
                found == &rows,
                "point {i}: a partial object of {} rows",
                found.len()
            );
        }
        let status = {
            let store = SqliteStore::open_dir(dir.path()).unwrap();
            store.job(&arn).await.unwrap().unwrap().status
        };
        let active = status == JobStatus::Succeeded;
        assert!(
            !active || object.is_some(),
            "point {i}: ACTIVE without its object"
        );
        seen[usize::from(object.is_some()) + usize::from(active)] += 1;

        // Restarted, the job ends ACTIVE (run again if it had not), its object whole.
        let server = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
        let c = crate::api::client(&server.1);
        assert_eq!(
            crate::processes::wait_export(&c, &arn).await,
            "ACTIVE",
            "point {i}"
        );
        assert_eq!(exported(&s3, &key).await.as_ref(), Some(&rows), "point {i}");
        let listed = s3
            .client
            .list_objects_v2()
            .bucket(&s3.bucket)
            .prefix(format!("out/{name}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            listed.key_count(),
            Some(1),
            "point {i}: one object, written once"
        );
    }
    // Aborted between its object and its ACTIVE: the object is whole, and written again,
    // whole, by the job's second run.
    let dir = copy_of(loaded.path());
    let env = [("PERSONALIZE_LOCAL_FAILPOINTS", "export-after-upload")];
    let mut server = ServeProcess::start_with(&s3, dir.path(), &lease, &env);
    let c = crate::api::client(&server.1);
    let arn = create(c, "between".into()).await;
    let status = crate::processes::wait_exit(&mut server.0);
    assert!(!status.success(), "the failpoint aborts serve");
    drop(server);
    let key = "out/between/between.csv";
    assert_eq!(exported(&s3, key).await.as_ref(), Some(&rows));
    let status = SqliteStore::open_dir(dir.path())
        .unwrap()
        .job(&arn)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_ne!(status, JobStatus::Succeeded);
    let server = ServeProcess::start_with(&s3, dir.path(), &lease, &[]);
    let c = crate::api::client(&server.1);
    assert_eq!(crate::processes::wait_export(&c, &arn).await, "ACTIVE");
    assert_eq!(exported(&s3, key).await.as_ref(), Some(&rows));

    eprintln!(
        "export {whole:?}: killed {} times before its object, {} between the object and ACTIVE, {} after",
        seen[0], seen[1], seen[2]
    );
}
