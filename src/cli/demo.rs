//! `personalize-local demo`: the whole flow on a machine with nothing else installed, through
//! the Personalize API with the AWS SDK for Rust, as a user's own code would run it.
//!
//! It serves the bundled demo bucket (`fixtures/s3/demo`, compiled into the binary) over an
//! embedded S3 endpoint on 127.0.0.1 and the API over a fresh SQLite store on another port.
//! Through the API it creates a dataset group, three schemas and three datasets; loads their
//! records with the library's import; then creates a data deletion job over a nested folder
//! of deletion requests (duplicates, a quoted ID with a comma, CRLF lines, a byte-order mark,
//! no final newline, an unknown ID), polls it to the end, and prints the record counts before
//! and after, and the job as `DescribeDataDeletionJob` returned it.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_personalize::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_personalize::types::DataSource;
use aws_sdk_personalize::Client;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::api::{ApiConfig, AppState};
use crate::import::{import_dataset, ImportMode, ImportOptions};
use crate::source::embedded::EmbeddedS3;
use crate::source::s3::S3Source;
use crate::source::{DynObjectSource, S3Location};
use crate::store::sqlite::SqliteStore;
use crate::store::{DatasetStore, DatasetType, DynDatasetStore};
use crate::worker::WorkerConfig;

/// The schemas of the demo's datasets: (dataset type, schema name, Avro JSON).
pub const DEMO_SCHEMAS: &[(&str, &str, &str)] = &[
    (
        "Users",
        "demo-users",
        include_str!("../../fixtures/schemas/users.json"),
    ),
    (
        "Interactions",
        "demo-interactions",
        include_str!("../../fixtures/schemas/interactions.json"),
    ),
    (
        "Items",
        "demo-items",
        include_str!("../../fixtures/schemas/items.json"),
    ),
];

/// The demo bucket's files: (key, content).
pub const DEMO_OBJECTS: &[(&str, &[u8])] = &[
    (
        "datasets/users.csv",
        include_bytes!("../../fixtures/s3/demo/datasets/users.csv"),
    ),
    (
        "datasets/interactions.csv",
        include_bytes!("../../fixtures/s3/demo/datasets/interactions.csv"),
    ),
    (
        "datasets/items.csv",
        include_bytes!("../../fixtures/s3/demo/datasets/items.csv"),
    ),
    (
        "deletion-requests/2026-11-01.csv",
        include_bytes!("../../fixtures/s3/demo/deletion-requests/2026-11-01.csv"),
    ),
    (
        "deletion-requests/late/2026-11-20.csv",
        include_bytes!("../../fixtures/s3/demo/deletion-requests/late/2026-11-20.csv"),
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
    let sqlite = SqliteStore::open_dir(&tmp.path().join("store")).map_err(|e| e.to_string())?;
    println!("store: {}", sqlite.path().display());
    let store: DynDatasetStore = Arc::new(sqlite);

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let endpoint = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let state = AppState::new(store.clone(), source.clone(), ApiConfig::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let server = tokio::spawn(crate::server::run(
        listener,
        state,
        Some(WorkerConfig::default()),
        shutdown,
    ));
    println!("Personalize API at {endpoint}\n");
    let result = flow(&client(&endpoint), store.as_ref(), source).await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

/// An SDK client for the local API, as a user would configure one.
fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_personalize::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "demo"))
        .build();
    Client::from_conf(conf)
}

fn api_error(operation: &str, e: impl std::fmt::Debug) -> String {
    format!("{operation} failed: {e:?}")
}

async fn flow(
    c: &Client,
    store: &dyn DatasetStore,
    source: DynObjectSource,
) -> Result<i32, String> {
    let group_arn = c
        .create_dataset_group()
        .name("demo-group")
        .send()
        .await
        .map_err(|e| api_error("CreateDatasetGroup", e))?
        .dataset_group_arn
        .unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    while seen.last().map(String::as_str) != Some("ACTIVE") {
        let status = c
            .describe_dataset_group()
            .dataset_group_arn(&group_arn)
            .send()
            .await
            .map_err(|e| api_error("DescribeDatasetGroup", e))?
            .dataset_group
            .and_then(|g| g.status)
            .unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("CreateDatasetGroup {group_arn}: {}", seen.join(" > "));

    for (dataset_type, name, avro) in DEMO_SCHEMAS {
        let schema_arn = c
            .create_schema()
            .name(*name)
            .schema(*avro)
            .send()
            .await
            .map_err(|e| api_error("CreateSchema", e))?
            .schema_arn
            .unwrap_or_default();
        let dataset_arn = c
            .create_dataset()
            .name(*name)
            .dataset_group_arn(&group_arn)
            .dataset_type(*dataset_type)
            .schema_arn(&schema_arn)
            .send()
            .await
            .map_err(|e| api_error("CreateDataset", e))?
            .dataset_arn
            .unwrap_or_default();
        println!("CreateSchema {schema_arn}\nCreateDataset {dataset_arn}");
    }

    println!();
    for (t, file) in [
        (DatasetType::Users, "users.csv"),
        (DatasetType::Interactions, "interactions.csv"),
        (DatasetType::Items, "items.csv"),
    ] {
        let location = S3Location::parse(&format!("s3://{DEMO_BUCKET}/datasets/{file}"))
            .map_err(|e| e.to_string())?;
        let options = ImportOptions::for_dataset(store, &group_arn, t, ImportMode::Full)
            .await
            .map_err(|e| e.to_string())?;
        let report = import_dataset(store, source.clone(), &group_arn, t, &location, &options)
            .await
            .map_err(|e| e.to_string())?;
        println!("imported {:>3} {t} records from {location}", report.records);
    }
    let before = counts(store, &group_arn).await?;

    let location = format!("s3://{DEMO_BUCKET}/deletion-requests/");
    println!("\nCreateDataDeletionJob over {location}:");
    for (key, body) in DEMO_OBJECTS
        .iter()
        .filter(|(k, _)| k.starts_with("deletion-requests/"))
    {
        println!(
            "  s3://{DEMO_BUCKET}/{key}: {:?}",
            String::from_utf8_lossy(body)
        );
    }
    let job_arn = c
        .create_data_deletion_job()
        .job_name("demo-deletion")
        .dataset_group_arn(&group_arn)
        .data_source(DataSource::builder().data_location(&location).build())
        .role_arn("arn:aws:iam::000000000000:role/PersonalizeDemo")
        .send()
        .await
        .map_err(|e| api_error("CreateDataDeletionJob", e))?
        .data_deletion_job_arn
        .unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    let job = loop {
        let job = c
            .describe_data_deletion_job()
            .data_deletion_job_arn(&job_arn)
            .send()
            .await
            .map_err(|e| api_error("DescribeDataDeletionJob", e))?
            .data_deletion_job
            .ok_or("DescribeDataDeletionJob returned no job")?;
        let status = job.status.clone().unwrap_or_default();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "COMPLETED" || status == "FAILED" {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("DescribeDataDeletionJob {job_arn}: {}", seen.join(" > "));
    let after = counts(store, &group_arn).await?;

    println!("\n{:<14} {:>7} {:>7}", "dataset", "before", "after");
    for ((t, b), (_, a)) in before.iter().zip(&after) {
        println!("{:<14} {b:>7} {a:>7}", t.as_str());
    }
    let shown = json!({ "dataDeletionJob": {
        "jobName": job.job_name,
        "dataDeletionJobArn": job.data_deletion_job_arn,
        "datasetGroupArn": job.dataset_group_arn,
        "dataSource": { "dataLocation": job.data_source.and_then(|d| d.data_location) },
        "roleArn": job.role_arn,
        "status": job.status,
        "numDeleted": job.num_deleted,
        "creationDateTime": job.creation_date_time.map(|t| t.as_secs_f64()),
        "lastUpdatedDateTime": job.last_updated_date_time.map(|t| t.as_secs_f64()),
        "failureReason": job.failure_reason,
    }});
    println!(
        "\n{}",
        serde_json::to_string_pretty(&strip_nulls(shown)).unwrap_or_default()
    );
    Ok(if job.status.as_deref() == Some("COMPLETED") {
        0
    } else {
        1
    })
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
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
