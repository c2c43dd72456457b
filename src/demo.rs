//! `personalize-local demo`: the whole flow on a machine with nothing else installed.
//!
//! It serves the bundled demo bucket (`fixtures/s3/demo`, compiled into the binary) over an
//! embedded S3 endpoint on 127.0.0.1, imports a small dataset group into a fresh SQLite
//! store, runs a data deletion job over a nested folder of deletion requests (duplicates, a
//! quoted ID with a comma, CRLF lines, a byte-order mark, no final newline, an unknown ID),
//! and prints the record counts before and after, and the job.

use std::sync::Arc;

use crate::deletion::{self, DeletionOptions, Progress};
use crate::embedded_s3::EmbeddedS3;
use crate::import::import_dataset;
use crate::job::{ArnScope, DataDeletionJob};
use crate::source::s3::S3Source;
use crate::source::{DynObjectSource, S3Location};
use crate::store::sqlite::SqliteStore;
use crate::store::{DatasetStore, DatasetType};

/// The demo bucket's files: (key, content).
pub const DEMO_OBJECTS: &[(&str, &[u8])] = &[
    (
        "datasets/users.csv",
        include_bytes!("../fixtures/s3/demo/datasets/users.csv"),
    ),
    (
        "datasets/interactions.csv",
        include_bytes!("../fixtures/s3/demo/datasets/interactions.csv"),
    ),
    (
        "datasets/items.csv",
        include_bytes!("../fixtures/s3/demo/datasets/items.csv"),
    ),
    (
        "deletion-requests/2026-11-01.csv",
        include_bytes!("../fixtures/s3/demo/deletion-requests/2026-11-01.csv"),
    ),
    (
        "deletion-requests/late/2026-11-20.csv",
        include_bytes!("../fixtures/s3/demo/deletion-requests/late/2026-11-20.csv"),
    ),
];

/// The demo's bucket.
pub const DEMO_BUCKET: &str = "demo";

/// Runs the demo, printing as it goes. The error is a message for the user.
pub async fn run() -> Result<i32, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let s3_root = tmp.path().join("s3");
    for (key, body) in DEMO_OBJECTS {
        let path = s3_root.join(DEMO_BUCKET).join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, body).map_err(|e| e.to_string())?;
    }
    let s3 = EmbeddedS3::start(&s3_root)
        .await
        .map_err(|e| format!("cannot start the embedded S3: {e}"))?;
    println!(
        "embedded S3 serving s3://{DEMO_BUCKET}/ at {}",
        s3.endpoint()
    );
    let source: DynObjectSource = Arc::new(S3Source::new(s3.client()));
    let store = SqliteStore::open_dir(&tmp.path().join("store")).map_err(|e| e.to_string())?;
    println!("store: {}\n", store.path().display());

    let scope = ArnScope::default();
    let group_arn = crate::cli::ensure_group(&store, &scope, "demo-group").await?;
    for (t, file) in [
        (DatasetType::Users, "users.csv"),
        (DatasetType::Interactions, "interactions.csv"),
        (DatasetType::Items, "items.csv"),
    ] {
        let location = S3Location::parse(&format!("s3://{DEMO_BUCKET}/datasets/{file}"))
            .map_err(|e| e.to_string())?;
        let report = import_dataset(&store, source.clone(), &group_arn, t, &location)
            .await
            .map_err(|e| e.to_string())?;
        println!("imported {:>3} {t} records from {location}", report.records);
    }
    let before = counts(&store, &group_arn).await?;

    let location = format!("s3://{DEMO_BUCKET}/deletion-requests/");
    println!("\nrunning a data deletion job over {location}");
    for (key, body) in DEMO_OBJECTS
        .iter()
        .filter(|(k, _)| k.starts_with("deletion-requests/"))
    {
        println!(
            "  s3://{DEMO_BUCKET}/{key}: {:?}",
            String::from_utf8_lossy(body)
        );
    }
    let job = DataDeletionJob::new(&scope, "demo-deletion", &group_arn, &location);
    store.create_job(&job).await.map_err(|e| e.to_string())?;
    let report = deletion::run_job(
        &store,
        source,
        job,
        &DeletionOptions::default(),
        Arc::new(Progress::default()),
    )
    .await
    .map_err(|e| e.to_string())?;
    let after = counts(&store, &group_arn).await?;

    println!("\n{:<14} {:>7} {:>7}", "dataset", "before", "after");
    for ((t, b), (_, a)) in before.iter().zip(&after) {
        println!("{:<14} {b:>7} {a:>7}", t.as_str());
    }
    println!(
        "\n{}",
        serde_json::to_string_pretty(&crate::cli::job_json(&report)).unwrap_or_default()
    );
    Ok(if report.job.status == crate::job::JobStatus::Completed {
        0
    } else {
        1
    })
}

async fn counts(
    store: &dyn DatasetStore,
    group_arn: &str,
) -> Result<Vec<(DatasetType, u64)>, String> {
    let mut out = Vec::new();
    for d in store.datasets(group_arn).await.map_err(|e| e.to_string())? {
        let n = store
            .count_records(group_arn, d.dataset_type)
            .await
            .map_err(|e| e.to_string())?;
        out.push((d.dataset_type, n));
    }
    Ok(out)
}
