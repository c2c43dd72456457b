//! Batch inference at scale: a 1M-line JSON Lines input (`{"userId": ...}`, users of the
//! workload) answered by a user-personalization version trained on workload W, through the
//! embedded S3 server (on disk) and a SQLite store, the job created with the Rust SDK and
//! run by the server's worker in this process. Runs the job at each input size given, so
//! that the peak memory of the job can be compared as its input grows.
//!
//!     cargo bench --bench batch -- --scale 1 --lines 100000,1000000
//!
//! Prints one JSON record per input size: lines/s and the process's peak resident memory
//! during the job, beside what it held before the job started, and (sampled every 100 ms)
//! how much of it was anonymous and how much file-backed (SQLite's memory-mapped file).

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_personalize::types::{BatchInferenceJobInput, BatchInferenceJobOutput, S3DataConfig};
use clap::Parser;
use common::{
    control_client, planted_group, reset_peak, rss_mb, rss_split_mb, serve, trained, Error,
};
use personalize_local::source::embedded::EmbeddedS3;
use personalize_local::source::s3::S3Source;
use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::DynDatasetStore;
use serde_json::json;

const BUCKET: &str = "batch-bench";

#[derive(Debug, Parser)]
struct Args {
    /// Workload scale: 1 is W1.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Input sizes in lines, one job each.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    lines: Vec<usize>,
    /// Results per line.
    #[arg(long, default_value_t = 25)]
    num_results: i32,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    if let Err(e) = rt.block_on(run(&args)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    println!(
        "{}",
        json!({
            "bench": "batch", "scale": args.scale,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
    let dir = tempfile::tempdir()?;
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(s3_root.join(BUCKET))?;
    let s3 = EmbeddedS3::start(&s3_root).await?;
    let store: DynDatasetStore = Arc::new(SqliteStore::open_dir(&dir.path().join("store"))?);
    let served = serve(store.clone(), Arc::new(S3Source::new(s3.client()))).await?;
    let c = control_client(&served.endpoint);
    let planted = common::planted(args.scale);
    let group = planted_group(&c, &store, "batch-bench", &planted).await?;
    let version = trained(&c, &group, "aws-user-personalization-v2").await?;

    let mut table = Vec::new();
    for &lines in &args.lines {
        let key = format!("in-{lines}/users.json");
        let path = s3_root.join(BUCKET).join(&key);
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        let mut input = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for k in 0..lines {
            // Every user of the workload, then again, a few not in it.
            let user = (k * 7919) % (planted.users + planted.users / 100);
            writeln!(input, "{{\"userId\": \"u{user}\"}}")?;
        }
        input.flush()?;
        drop(input);
        let input_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;

        let (before, _) = rss_mb();
        reset_peak();
        let started = Instant::now();
        let data = |p: String| S3DataConfig::builder().path(p).build();
        let job = c
            .create_batch_inference_job()
            .job_name(format!("bench-{lines}"))
            .solution_version_arn(&version)
            .num_results(args.num_results)
            .role_arn("arn:aws:iam::000000000000:role/bench")
            .job_input(
                BatchInferenceJobInput::builder()
                    .s3_data_source(data(format!("s3://{BUCKET}/{key}"))?)
                    .build(),
            )
            .job_output(
                BatchInferenceJobOutput::builder()
                    .s3_data_destination(data(format!("s3://{BUCKET}/out-{lines}/"))?)
                    .build(),
            )
            .send()
            .await?
            .batch_inference_job_arn
            .unwrap_or_default();
        let (mut anon, mut file) = (0f64, 0f64);
        loop {
            let (a, f) = rss_split_mb();
            (anon, file) = (anon.max(a), file.max(f));
            let j = c
                .describe_batch_inference_job()
                .batch_inference_job_arn(&job)
                .send()
                .await?
                .batch_inference_job
                .ok_or("no job")?;
            match j.status() {
                Some("ACTIVE") => break,
                Some("CREATE FAILED") => return Err(format!("{:?}", j.failure_reason()).into()),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let (_, peak) = rss_mb();
        let out = s3_root
            .join(BUCKET)
            .join(format!("out-{lines}/users.json.out"));
        let output_mb = std::fs::metadata(&out)?.len() as f64 / 1e6;
        let record = json!({
            "lines": lines,
            "inputMB": (input_mb * 10.0).round() / 10.0,
            "outputMB": (output_mb * 10.0).round() / 10.0,
            "seconds": (seconds * 100.0).round() / 100.0,
            "linesPerSecond": (lines as f64 / seconds).round(),
            "rssBeforeMB": before.round(),
            "peakRssMB": peak.round(),
            "peakAnonMB": anon.round(),
            "peakFileMB": file.round(),
        });
        println!("{record}");
        table.push(record);
        std::fs::remove_file(&path)?;
        std::fs::remove_file(&out)?;
    }
    served.stop().await;

    eprintln!("\n| lines | input MB | output MB | s | lines/s | RSS before MB | peak RSS MB | anonymous / file-backed MB (sampled) |");
    eprintln!("|---|---|---|---|---|---|---|---|");
    for r in &table {
        eprintln!(
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            r["lines"],
            r["inputMB"],
            r["outputMB"],
            r["seconds"],
            r["linesPerSecond"],
            r["rssBeforeMB"],
            r["peakRssMB"],
            r["peakAnonMB"],
            r["peakFileMB"]
        );
    }
    Ok(())
}
