//! What the serving benches share: a server in this process with its worker on a SQLite
//! store, the SDK clients, a group loaded with planted interactions, and training.

#![allow(dead_code)] // each bench uses its part

use std::time::{Duration, Instant};

use futures::StreamExt;
use personalize_local::api::{ApiConfig, AppState};
use personalize_local::source::DynObjectSource;
use personalize_local::store::{DatasetType, DynDatasetStore, RowBatch};
use personalize_local::train::planted::Planted;

pub type Error = Box<dyn std::error::Error>;

const SCHEMA: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"}
  ], "version": "1.0"}"#;

/// The planted workload at `scale` (1 is W1: 1M users, 100k items, 10M interactions).
pub fn planted(scale: f64) -> Planted {
    Planted {
        users: (1_000_000.0 * scale) as usize,
        items: (100_000.0 * scale) as usize,
        groups: 100,
        per_user: 10,
        affinity: 0.8,
        seed: 3,
    }
}

/// A server in this process, with its worker.
pub struct Served {
    pub endpoint: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

/// Serves `store` and `source` on a free loopback port.
pub async fn serve(store: DynDatasetStore, source: DynObjectSource) -> Result<Served, Error> {
    let config = ApiConfig {
        transition: Duration::ZERO,
        ..ApiConfig::default()
    };
    let state = AppState::new(store, source, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = personalize_local::worker::WorkerConfig::default();
    let done = tokio::spawn(personalize_local::server::run(
        listener,
        state,
        Some(worker),
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Served {
        endpoint,
        stop,
        done,
    })
}

/// A group `name` whose Interactions dataset holds `planted`'s records, loaded straight into
/// the store.
pub async fn planted_group(
    c: &aws_sdk_personalize::Client,
    store: &DynDatasetStore,
    name: &str,
    planted: &Planted,
) -> Result<String, Error> {
    let group = c
        .create_dataset_group()
        .name(name)
        .send()
        .await?
        .dataset_group_arn
        .unwrap_or_default();
    let schema = c
        .create_schema()
        .name(name)
        .schema(SCHEMA)
        .send()
        .await?
        .schema_arn
        .unwrap_or_default();
    c.create_dataset()
        .name(name)
        .dataset_group_arn(&group)
        .dataset_type("Interactions")
        .schema_arn(schema)
        .send()
        .await?;
    let started = Instant::now();
    let mut batches = Vec::new();
    let mut batch = RowBatch::new(4);
    for (u, i, t) in planted.rows() {
        batch.push_row([u.as_str(), i.as_str(), &t.to_string(), "click"]);
        if batch.rows() == 100_000 {
            batches.push(Ok(std::mem::replace(&mut batch, RowBatch::new(4))));
        }
    }
    batches.push(Ok(batch));
    store
        .replace_records(
            &group,
            DatasetType::Interactions,
            futures::stream::iter(batches).boxed(),
        )
        .await?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(group)
}

/// An ACTIVE solution version of `recipe` on `group`.
pub async fn trained(
    c: &aws_sdk_personalize::Client,
    group: &str,
    recipe: &str,
) -> Result<String, Error> {
    let solution = c
        .create_solution()
        .name(recipe)
        .dataset_group_arn(group)
        .recipe_arn(format!("arn:aws:personalize:::recipe/{recipe}"))
        .send()
        .await?
        .solution_arn
        .unwrap_or_default();
    let version = c
        .create_solution_version()
        .solution_arn(&solution)
        .send()
        .await?
        .solution_version_arn
        .unwrap_or_default();
    let started = Instant::now();
    loop {
        let v = c
            .describe_solution_version()
            .solution_version_arn(&version)
            .send()
            .await?
            .solution_version
            .ok_or("no solution version")?;
        match v.status() {
            Some("ACTIVE") => break,
            Some("CREATE FAILED") => {
                return Err(format!("{recipe}: {:?}", v.failure_reason()).into())
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    eprintln!(
        "{recipe} trained in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(version)
}

/// The configuration of any AWS SDK client of a server at `endpoint`.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_sdk_personalize::config::{
        BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
    };
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "bench", "bench", None, None, "bench",
        )))
        .build()
}

pub fn control_client(endpoint: &str) -> aws_sdk_personalize::Client {
    aws_sdk_personalize::Client::new(&sdk_config(endpoint))
}

pub fn runtime_client(endpoint: &str) -> aws_sdk_personalizeruntime::Client {
    aws_sdk_personalizeruntime::Client::new(&sdk_config(endpoint))
}

/// This process's resident memory now and at its peak since the last [`reset_peak`], in MB.
pub fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// This process's resident memory now, split: anonymous (heaps, stacks) and file-backed
/// (mapped files, such as SQLite's memory-mapped database, which the kernel can drop), in MB.
pub fn rss_split_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |field: &str| {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        kb("RssAnon:") / 1024.0,
        (kb("RssFile:") + kb("RssShmem:")) / 1024.0,
    )
}

/// Resets this process's peak resident memory to what it holds now (Linux).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
