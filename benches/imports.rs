//! How long API writes wait while an import job runs on the embedded SQLite store: the
//! import's rows are received in full before the store's write lock is taken, so a write
//! waits at most for the import's own writing, never for its download.
//!
//!     cargo bench --bench imports -- --rows 10000000 --freeze-seconds 5
//!
//! Writes an Interactions CSV of `--rows` rows (W1: 10,000,000 rows of 1M users and 100k
//! items), serves it from the embedded S3 over HTTP, and runs the API with its worker in this
//! process over a fresh SQLite store. Then, with one client calling CreateSchema in a loop:
//! idle; during a FULL import job; and during one whose S3 freezes (as `SIGSTOP` would) for
//! `--freeze-seconds` mid-download. Prints one JSON record per phase: the job's seconds and
//! the writes' count, p50, p99 and max in milliseconds.

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use personalize_local::api::{ApiConfig, AppState};
use personalize_local::source::embedded::EmbeddedS3;
use personalize_local::source::s3::S3Source;
use personalize_local::store::DynDatasetStore;
use personalize_local::worker::WorkerConfig;
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

const BUCKET: &str = "imports-bench";

const SCHEMA: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"}
  ], "version": "1.0"}"#;

#[derive(Debug, Parser)]
struct Args {
    /// Interactions in the imported file.
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    /// Seconds the S3 server stays frozen in the third phase.
    #[arg(long, default_value_t = 5.0)]
    freeze_seconds: f64,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    // RUST_LOG=personalize_local=debug shows where a job's time goes.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    if let Err(e) = rt.block_on(run(&args)) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// Milliseconds at the `p`-th percentile of sorted `ms`.
fn pct(ms: &[f64], p: f64) -> f64 {
    if ms.is_empty() {
        return 0.0;
    }
    let i = ((ms.len() as f64 - 1.0) * p).round() as usize;
    (ms[i] * 100.0).round() / 100.0
}

fn summary(phase: &str, job_seconds: Option<f64>, mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "phase": phase,
        "jobSeconds": job_seconds.map(|s| (s * 100.0).round() / 100.0),
        "writes": ms.len(),
        "p50ms": pct(&ms, 0.5),
        "p99ms": pct(&ms, 0.99),
        "maxMs": pct(&ms, 1.0),
    })
}

async fn run(args: &Args) -> Result<(), Error> {
    println!(
        "{}",
        json!({
            "bench": "imports", "rows": args.rows,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("interactions.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(out, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE")?;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..args.rows {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let user = x % 1_000_000;
            let item = (x >> 20) % 100_000;
            writeln!(out, "u{user:07},i{item:06},{},click", 1_600_000_000 + i)?;
        }
    }
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(&s3_root)?;
    let s3 = EmbeddedS3::start(&s3_root).await?;
    let s3_client = s3.client();
    s3_client.create_bucket().bucket(BUCKET).send().await?;
    s3_client
        .put_object()
        .bucket(BUCKET)
        .key("interactions.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_path(&csv).await?)
        .send()
        .await?;
    std::fs::remove_file(&csv)?;

    let store_dir = dir.path().join("store");
    let store: DynDatasetStore = Arc::new(personalize_local::store::sqlite::SqliteStore::open_dir(
        &store_dir,
    )?);
    let config = ApiConfig {
        transition: Duration::ZERO,
        ..ApiConfig::default()
    };
    let state = AppState::new(store, Arc::new(S3Source::new(s3.client())), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(personalize_local::server::run(
        listener,
        state,
        Some(WorkerConfig::default()),
        async {
            let _ = stopped.await;
        },
    ));

    let c = common::control_client(&endpoint);
    let group = c
        .create_dataset_group()
        .name("imports-bench")
        .send()
        .await?
        .dataset_group_arn
        .ok_or("no group ARN")?;
    let schema = c
        .create_schema()
        .name("imports-bench")
        .schema(SCHEMA)
        .send()
        .await?
        .schema_arn
        .ok_or("no schema ARN")?;
    let dataset = c
        .create_dataset()
        .name("imports-bench")
        .dataset_group_arn(&group)
        .dataset_type("Interactions")
        .schema_arn(schema)
        .send()
        .await?
        .dataset_arn
        .ok_or("no dataset ARN")?;

    let mut n = 0usize;
    let idle = writes(&c, &mut n, async {
        tokio::time::sleep(Duration::from_secs(2)).await
    })
    .await?;
    println!("{}", summary("idle", None, idle));

    for (phase, freeze) in [
        ("import", None),
        ("import, S3 frozen", Some(args.freeze_seconds)),
    ] {
        let job = c
            .create_dataset_import_job()
            .job_name(format!("bench-{n}"))
            .dataset_arn(&dataset)
            .data_source(
                aws_sdk_personalize::types::DataSource::builder()
                    .data_location(format!("s3://{BUCKET}/interactions.csv"))
                    .build(),
            )
            .role_arn("arn:aws:iam::000000000000:role/bench")
            .send()
            .await?
            .dataset_import_job_arn
            .ok_or("no job ARN")?;
        if let Some(seconds) = freeze {
            s3.freeze_after_bytes(64 * 1024 * 1024);
            let thaw_at = Duration::from_secs_f64(1.0 + seconds);
            let s3_ref = &s3;
            let started = Instant::now();
            let (ms, ended) = tokio::join!(writes(&c, &mut n, wait_job(&c, &job)), async move {
                tokio::time::sleep(thaw_at).await;
                s3_ref.thaw();
                started.elapsed()
            });
            let _ = ended;
            println!(
                "{}",
                summary(phase, Some(started.elapsed().as_secs_f64()), ms?)
            );
        } else {
            let started = Instant::now();
            let ms = writes(&c, &mut n, wait_job(&c, &job)).await?;
            println!(
                "{}",
                summary(phase, Some(started.elapsed().as_secs_f64()), ms)
            );
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

/// CreateSchema calls, one after another, until `until` ends; their latencies in ms (the
/// call under way when it ends counted too).
async fn writes(
    c: &aws_sdk_personalize::Client,
    n: &mut usize,
    until: impl std::future::Future<Output = ()>,
) -> Result<Vec<f64>, Error> {
    let done = std::sync::atomic::AtomicBool::new(false);
    let watch = async {
        until.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let calls = async {
        let mut ms = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            *n += 1;
            let started = Instant::now();
            c.create_schema()
                .name(format!("w-{n}"))
                .schema(SCHEMA)
                .send()
                .await?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok::<_, Error>(ms)
    };
    let ((), ms) = tokio::join!(watch, calls);
    ms
}

async fn wait_job(c: &aws_sdk_personalize::Client, arn: &str) {
    loop {
        let status = c
            .describe_dataset_import_job()
            .dataset_import_job_arn(arn)
            .send()
            .await
            .ok()
            .and_then(|d| d.dataset_import_job)
            .and_then(|j| j.status);
        match status.as_deref() {
            Some("ACTIVE") => return,
            Some("CREATE FAILED") => panic!("the import job failed"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
