//! Sustained PutEvents throughput: several clients, batches of 10 events, against the API
//! served in this process on a fresh SQLite store (or PostgreSQL with `--store`).
//!
//!     cargo bench --bench events -- --clients 1,4,16 --seconds 5
//!
//! For each client count: a group, an Interactions dataset and an event tracker made through
//! `aws-sdk-personalize`, then `--clients` `aws-sdk-personalizeevents` clients calling
//! PutEvents in a loop for `--seconds`. Prints one JSON record per client count: requests and
//! events per second, latency percentiles, and the store writes (transactions) group commit
//! made of the requests. Checks that the dataset holds exactly the events answered OK; exits
//! 1 if it does not.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_personalizeevents::primitives::DateTime;
use aws_sdk_personalizeevents::types::Event;
use clap::Parser;
use personalize_local::api::{ApiConfig, AppState};
use personalize_local::source::memory::MemorySource;
use personalize_local::store::{DatasetType, DynDatasetStore};
use serde_json::json;

type Error = Box<dyn std::error::Error>;

const SCHEMA: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"}
  ], "version": "1.0"}"#;

#[derive(Debug, Parser)]
struct Args {
    /// Concurrent clients, one run per count.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    clients: Vec<usize>,
    /// Seconds each run sends for.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// A PostgreSQL database to run on instead of a fresh SQLite store (it is reset first).
    #[arg(long)]
    store: Option<String>,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    match rt.block_on(run(&args)) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("error: a dataset does not hold exactly the events answered OK");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: &Args) -> Result<bool, Error> {
    println!(
        "{}",
        json!({
            "bench": "events", "store": if args.store.is_some() { "postgres" } else { "sqlite" },
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
    let mut exact = true;
    for &clients in &args.clients {
        let dir = tempfile::tempdir()?;
        let store: DynDatasetStore = match &args.store {
            None => Arc::new(personalize_local::store::sqlite::SqliteStore::open_dir(
                dir.path(),
            )?),
            Some(url) => {
                let store = personalize_local::store::postgres::PostgresStore::connect(url).await?;
                personalize_local::store::DatasetStore::reset(&store).await?;
                Arc::new(store)
            }
        };
        let record = one_run(store, clients, Duration::from_secs_f64(args.seconds)).await?;
        exact &= record["exact"] == true;
        println!("{record}");
    }
    Ok(exact)
}

async fn one_run(
    store: DynDatasetStore,
    clients: usize,
    run_for: Duration,
) -> Result<serde_json::Value, Error> {
    let config = ApiConfig {
        transition: Duration::ZERO,
        ..ApiConfig::default()
    };
    let state = AppState::new(store.clone(), Arc::new(MemorySource::default()), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let app = personalize_local::api::router(state.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let c = common::control_client(&endpoint);
    let group = c
        .create_dataset_group()
        .name("events-bench")
        .send()
        .await?
        .dataset_group_arn
        .unwrap_or_default();
    let schema = c
        .create_schema()
        .name("events-bench")
        .schema(SCHEMA)
        .send()
        .await?
        .schema_arn
        .unwrap_or_default();
    c.create_dataset()
        .name("events-bench")
        .dataset_group_arn(&group)
        .dataset_type("Interactions")
        .schema_arn(schema)
        .send()
        .await?;
    let tracking_id = c
        .create_event_tracker()
        .name("events-bench")
        .dataset_group_arn(&group)
        .send()
        .await?
        .tracking_id
        .unwrap_or_default();

    let started = Instant::now();
    let deadline = started + run_for;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let events = events_client(&endpoint);
            let tracking_id = tracking_id.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let mut put = events
                        .put_events()
                        .tracking_id(&tracking_id)
                        .user_id(format!("c{client}-u{}", n % 1000))
                        .session_id(format!("c{client}-s{n}"));
                    for i in 0..10 {
                        let event = Event::builder()
                            .event_type("click")
                            .item_id(format!("i{}", (n * 10 + i) % 5000))
                            .sent_at(DateTime::from_secs(1_700_000_000 + n as i64))
                            .build()
                            .expect("an event");
                        put = put.event_list(event);
                    }
                    let sent = Instant::now();
                    match put.send().await {
                        Ok(_) => latencies.push(sent.elapsed()),
                        Err(_) => failed += 1,
                    }
                    n += 1;
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (mine, f) = task.await?;
        latencies.extend(mine);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| (d.as_secs_f64() * 1e5).round() / 100.0)
    };
    let requests = latencies.len() as u64;
    let stored = store
        .count_records(&group, DatasetType::Interactions)
        .await?;
    let (written, writes) = state.events.stats();
    Ok(json!({
        "clients": clients,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "requests": requests,
        "failed": failed,
        "events": requests * 10,
        "requestsPerSecond": (requests as f64 / elapsed).round(),
        "eventsPerSecond": (requests as f64 * 10.0 / elapsed).round(),
        "p50Ms": pct(0.5),
        "p99Ms": pct(0.99),
        "storeWrites": writes,
        "requestsPerWrite": if writes > 0 { (written as f64 / writes as f64 * 100.0).round() / 100.0 } else { 0.0 },
        "exact": stored == requests * 10 && failed == 0,
    }))
}

fn events_client(endpoint: &str) -> aws_sdk_personalizeevents::Client {
    aws_sdk_personalizeevents::Client::new(&common::sdk_config(endpoint))
}
