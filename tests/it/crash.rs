//! `kill -9` anywhere in an import, FULL or INCREMENTAL, through the binary: the store is
//! before the import or after it, never between, never twice.

use std::path::Path;
use std::time::Instant;

use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::{DatasetStore, DatasetType};

use crate::cli::{command, run};
use crate::common::{copy_of, Backend, TestS3};

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
