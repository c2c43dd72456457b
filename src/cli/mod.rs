//! The command line: `import`, `delete-users`, `serve` and `demo`. Every flag can also be
//! set through the environment variable named in its help.
//!
//! Exit status: 0 when the command did what it was asked, 1 when a job ended `FAILED` or the
//! store failed while running, 2 for a usage error (bad flags, a malformed location, an
//! unknown group, a store that cannot be opened). Errors go to stderr and say which.

mod audit;
mod batch;
pub mod demo;
mod global;
mod models;
mod serve;

use global::{seconds, Global};
use serve::ServeArgs;
pub use serve::DEFAULT_PORT;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::deletion::{self, DeletionOptions, JobReport, Progress};
use crate::import::{import_dataset, ImportError, ImportMode, ImportOptions};
use crate::jobs::{now_epoch, Job, JobKind, JobSpec, JobStatus};
use crate::source::s3::{S3Options, S3Source};
use crate::source::watchdog::Watchdog;
use crate::source::{DynObjectSource, S3Location};
use crate::store::memory::MemoryStore;
use crate::store::postgres::{describe_url, is_postgres_url, PostgresStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{
    validate_name, ArnScope, DatasetGroup, DatasetStore, DatasetType, DynDatasetStore, StoreError,
};
use crate::worker::WorkerConfig;

/// Exit status of a job that ended `FAILED`, or of a store that failed while running.
pub const EXIT_FAILED: i32 = 1;
/// Exit status of a usage error (bad flags, a malformed location, an unknown group).
pub const EXIT_USAGE: i32 = 2;

/// A local stand-in for Amazon Personalize's data management.
#[derive(Debug, Parser)]
#[command(name = "personalize-local", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bulk-load a dataset from CSV in S3, replacing its records (creates group and dataset if missing).
    Import(ImportArgs),
    /// Run one data deletion job to its end and print it as JSON.
    DeleteUsers(DeleteArgs),
    /// Serve the bundled fixtures over an embedded S3, import them and run a deletion job.
    Demo,
    /// Serve the Amazon Personalize API (awsJson1_1) and run its jobs (unless --no-worker).
    Serve(ServeArgs),
    /// Run the store's jobs of every kind until SIGTERM or Ctrl-C, without an API.
    Worker(WorkerArgs),
    /// Bring the store's schema up to date (every command also does it when it starts).
    Migrate,
    /// Erase now the records of deleted users that the store still holds on disk (jobs and
    /// runners do it by themselves after each job) and tidy its files; prints a JSON summary.
    Compact,
    /// Run every job waiting in the store, then exit (for cron and other schedulers): exit 0
    /// if every job it ran succeeded, 1 if any failed; prints a JSON summary.
    RunPending(RunPendingArgs),
    /// Read a deletion job's input and report every listed user that still has records,
    /// per dataset (exit 1 if any): the proof a GDPR process keeps after a job. JSON, or a
    /// table on a terminal.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// Jobs run at once.
    #[arg(
        long,
        env = "PERSONALIZE_LOCAL_WORKER_CONCURRENCY",
        default_value_t = 1
    )]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct RunPendingArgs {}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Dataset group name.
    #[arg(long, env = "PERSONALIZE_LOCAL_DATASET_GROUP")]
    dataset_group: String,
    /// Users, Interactions, Items, Actions or Action_Interactions.
    #[arg(long, value_parser = parse_dataset_type)]
    dataset_type: DatasetType,
    /// s3://bucket/file.csv or s3://bucket/folder/.
    #[arg(long, value_parser = parse_location)]
    data_location: S3Location,
    /// FULL replaces the dataset's records; INCREMENTAL adds to them (an id loaded again
    /// replaces its record in Users, Items and Actions).
    #[arg(long, value_parser = parse_import_mode, default_value = "FULL")]
    import_mode: ImportMode,
}

fn parse_import_mode(s: &str) -> Result<ImportMode, String> {
    match s.to_ascii_uppercase().as_str() {
        "FULL" => Ok(ImportMode::Full),
        "INCREMENTAL" => Ok(ImportMode::Incremental),
        _ => Err(format!(
            "unknown import mode {s:?}: expected FULL or INCREMENTAL"
        )),
    }
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// Dataset group name.
    #[arg(long, env = "PERSONALIZE_LOCAL_DATASET_GROUP")]
    dataset_group: String,
    /// s3://bucket/file.csv or s3://bucket/folder/ (every sub-folder included).
    #[arg(long, value_parser = parse_location)]
    data_location: S3Location,
    /// Job name (default: delete-users-<UTC time>).
    #[arg(long)]
    job_name: Option<String>,
    /// Limit on the total input size, in bytes.
    #[arg(long, env = "PERSONALIZE_LOCAL_MAX_INPUT_BYTES", default_value_t = deletion::DEFAULT_MAX_INPUT_BYTES)]
    max_input_bytes: u64,
    /// Objects fetched and parsed at once.
    #[arg(long, env = "PERSONALIZE_LOCAL_CONCURRENCY", default_value_t = deletion::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Read the input as the job would and print what it would delete per dataset and which
    /// IDs match nothing; delete nothing, record no job.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Dataset group name.
    #[arg(long, env = "PERSONALIZE_LOCAL_DATASET_GROUP")]
    dataset_group: String,
    /// The deletion job's input: s3://bucket/file.csv or s3://bucket/folder/.
    #[arg(long, value_parser = parse_location)]
    data_location: S3Location,
    /// Limit on the total input size, in bytes.
    #[arg(long, env = "PERSONALIZE_LOCAL_MAX_INPUT_BYTES", default_value_t = deletion::DEFAULT_MAX_INPUT_BYTES)]
    max_input_bytes: u64,
}

fn parse_dataset_type(s: &str) -> Result<DatasetType, String> {
    s.parse()
}

fn parse_location(s: &str) -> Result<S3Location, String> {
    S3Location::parse(s).map_err(|e| e.to_string())
}

/// Why a command stopped without its result.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The command line or what it names is wrong: exit status 2.
    #[error("{0}")]
    Usage(String),
    /// The store failed while the command ran: exit status 1.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// Something else failed while the command ran (the server, the demo): exit status 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_status(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Store(_) | CliError::Failed(_) => EXIT_FAILED,
        }
    }
}

/// Shorthand for a usage error.
fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Parses the command line, runs it and returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let demo = matches!(cli.command, Command::Demo);
    let progress_bar =
        std::io::stderr().is_terminal() && matches!(cli.command, Command::DeleteUsers(_));
    // The demo prints its own story; logs would only interleave with it.
    init_tracing(progress_bar || demo);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return EXIT_FAILED;
        }
    };
    match runtime.block_on(run(cli, progress_bar)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_status()
        }
    }
}

fn init_tracing(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // The SDK warns on every object uploaded in parts, whose composite checksum it cannot
    // check (it still checks every full-object checksum): noise for the user.
    let default = if quiet {
        "warn,aws_sdk_s3::http_response_checksum=error"
    } else {
        "personalize_local=info,warn,aws_sdk_s3::http_response_checksum=error"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn run(cli: Cli, progress_bar: bool) -> Result<i32, CliError> {
    let g = cli.global;
    let scope = ArnScope {
        region: g.region.clone(),
        account: g.account_id.clone(),
    };
    if g.account_id.len() != 12 || !g.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(format!(
            "--account-id must be 12 digits, got {:?}",
            g.account_id
        )));
    }
    let lease = seconds("--job-lease-seconds", g.job_lease_seconds)?;
    let deletion = g.deletion()?;
    match cli.command {
        Command::Demo => demo::run().await.map_err(CliError::Failed),
        Command::Serve(args) => serve::run(&g, args, lease, deletion).await,
        Command::Migrate => {
            open_store(&g).await?;
            println!("{} is up to date", store_name(&g));
            Ok(0)
        }
        Command::Compact => {
            let store = open_store(&g).await?;
            let done = store.compact().await?;
            print_json(&serde_json::to_value(&done).unwrap_or(Value::Null));
            Ok(if done.checkpointed { 0 } else { EXIT_FAILED })
        }
        Command::Worker(args) => {
            let store = open_store(&g).await?;
            let source = s3_source(&g).await?;
            let config = WorkerConfig {
                auto_training: g.auto_training()?,
                ..worker_config(lease, &deletion)
            };
            batch::worker(store, source, config, args.concurrency).await;
            Ok(0)
        }
        Command::RunPending(RunPendingArgs {}) => {
            let store = open_store(&g).await?;
            let source = s3_source(&g).await?;
            Ok(batch::run_pending(store, source, worker_config(lease, &deletion)).await?)
        }
        Command::Import(args) => {
            let store = open_store(&g).await?;
            let source = s3_source(&g).await?;
            let group_arn = ensure_group(store.as_ref(), &scope, &args.dataset_group)
                .await
                .map_err(usage)?;
            let options = ImportOptions::for_dataset(
                store.as_ref(),
                &group_arn,
                args.dataset_type,
                args.import_mode,
            );
            let report = match options.await {
                Ok(options) => {
                    import_dataset(
                        store.as_ref(),
                        source,
                        &group_arn,
                        args.dataset_type,
                        &args.data_location,
                        &options,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match report {
                Ok(report) => {
                    print_json(&serde_json::to_value(&report).unwrap_or(Value::Null));
                    compact(store.as_ref()).await;
                    Ok(0)
                }
                Err(ImportError::Store(e)) => Err(CliError::Store(e)),
                Err(e) => {
                    print_json(&json!({ "status": "FAILED", "failureReason": e.to_string() }));
                    Ok(EXIT_FAILED)
                }
            }
        }
        Command::Verify(args) => {
            let store = open_store(&g).await?;
            let group_arn = known_group(store.as_ref(), &g, &scope, &args.dataset_group).await?;
            let audit = audit::Audit {
                store: store.as_ref(),
                source: s3_source(&g).await?,
                group_arn,
                location: args.data_location,
                opts: DeletionOptions {
                    max_input_bytes: args.max_input_bytes,
                    ..deletion
                },
            };
            audit::verify(audit).await
        }
        Command::DeleteUsers(args) => {
            let store = open_store(&g).await?;
            let source = s3_source(&g).await?;
            let group_arn = known_group(store.as_ref(), &g, &scope, &args.dataset_group).await?;
            if args.dry_run {
                let audit = audit::Audit {
                    store: store.as_ref(),
                    source,
                    group_arn,
                    location: args.data_location,
                    opts: DeletionOptions {
                        max_input_bytes: args.max_input_bytes,
                        concurrency: args.concurrency,
                        ..deletion
                    },
                };
                return audit::dry_run(audit).await;
            }
            let job_name = args.job_name.unwrap_or_else(default_job_name);
            validate_name("job name", &job_name).map_err(usage)?;
            let spec = JobSpec::Deletion {
                dataset_group_arn: group_arn.clone(),
                data_location: args.data_location.to_string(),
                dry_run: false,
            };
            let job = Job::new(scope.job_arn(JobKind::Deletion, &job_name), &job_name, spec);
            match store.create_job(&job, &[]).await {
                Err(StoreError::AlreadyExists(_)) => {
                    return Err(usage(format!(
                        "a data deletion job named {job_name} already exists"
                    )));
                }
                other => other?,
            }
            let opts = DeletionOptions {
                max_input_bytes: args.max_input_bytes,
                concurrency: args.concurrency,
                ..deletion
            };
            let progress = Arc::new(Progress::default());
            let bar = progress_bar.then(|| spawn_progress_bar(progress.clone()));
            let report =
                deletion::run_job(store.as_ref(), source, job, lease, &opts, progress).await;
            if let Some((bar, ticker)) = bar {
                ticker.abort();
                bar.finish_and_clear();
            }
            let report = report?;
            print_json(&job_json(&report));
            compact(store.as_ref()).await;
            Ok(if report.job.status == JobStatus::Succeeded {
                0
            } else {
                EXIT_FAILED
            })
        }
    }
}

/// The ARN of the group `name`, which must exist in the store.
async fn known_group(
    store: &dyn DatasetStore,
    g: &Global,
    scope: &ArnScope,
    name: &str,
) -> Result<String, CliError> {
    let group_arn = scope.dataset_group_arn(name);
    if store.dataset_group(&group_arn).await?.is_none() {
        return Err(usage(format!(
            "the dataset group {name} does not exist in {}; load it with `personalize-local import` first",
            store_name(g)
        )));
    }
    Ok(group_arn)
}

/// Compacts the store after a job whose outcome is durable already and printed: a failure
/// here is logged and changes neither the output nor the exit status.
async fn compact(store: &dyn DatasetStore) {
    if let Err(e) = store.compact().await {
        tracing::warn!(error = %e, "cannot compact the store");
    }
}

/// The job as `DescribeDataDeletionJob` returns it, plus what the job found and did.
pub fn job_json(report: &JobReport) -> Value {
    let per_dataset: serde_json::Map<String, Value> = report
        .counts
        .iter()
        .flat_map(|c| c.per_dataset.iter())
        .map(|(t, n)| (t.as_str().to_owned(), json!(n)))
        .collect();
    json!({
        "dataDeletionJob": crate::api::dto::job(&report.job),
        "numDeletedPerDataset": per_dataset,
        "input": report.input,
        "skippedObjects": report.input.skipped_objects,
        "phaseSeconds": report.phases,
    })
}

/// Prints `v` on stdout. A reader that went away first (`| head`, `| jq` stopped early) is
/// not an error: what the command did is done, and its exit code says how it ended.
fn print_json(v: &Value) {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
}

fn store_name(g: &Global) -> String {
    if g.in_memory {
        "the in-memory store".into()
    } else if let Some(url) = &g.store {
        match describe_url(url) {
            Some(name) => format!("PostgreSQL at {name}"),
            None => url.clone(),
        }
    } else {
        g.data_dir.display().to_string()
    }
}

/// Opens the store the flags name; a store that cannot be opened is a usage error.
async fn open_store(g: &Global) -> Result<DynDatasetStore, CliError> {
    if g.in_memory {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(url) = &g.store {
        if !is_postgres_url(url) {
            return Err(usage(format!(
                "--store takes a postgres:// or postgresql:// URL, got {url:?} (the embedded store lives in --data-dir)"
            )));
        }
        let store = PostgresStore::connect(url)
            .await
            .map_err(|e| usage(e.to_string()))?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open_dir(&g.data_dir).map_err(|e| {
        usage(format!(
            "cannot open the store in {}: {e}",
            g.data_dir.display()
        ))
    })?;
    Ok(Arc::new(store))
}

/// `--job-lease-seconds` as a duration: positive and finite.
async fn s3_source(g: &Global) -> Result<DynObjectSource, CliError> {
    let options = S3Options {
        endpoint: g.s3_endpoint.clone(),
        region: None,
        max_attempts: Some(g.s3_max_attempts.max(1)),
        timeouts: g.s3_timeouts()?,
    };
    let s3: DynObjectSource = Arc::new(S3Source::new(options.client().await));
    let limit = seconds("--s3-no-progress-seconds", g.s3_no_progress_seconds)?;
    Ok(Arc::new(Watchdog::new(s3, limit)))
}

fn worker_config(lease: Duration, deletion: &DeletionOptions) -> WorkerConfig {
    WorkerConfig {
        lease,
        deletion: deletion.clone(),
        ..WorkerConfig::default()
    }
}

/// Creates the dataset group if the store has none of that name; returns its ARN.
pub async fn ensure_group(
    store: &dyn DatasetStore,
    scope: &ArnScope,
    name: &str,
) -> Result<String, String> {
    validate_name("dataset group name", name)?;
    let arn = scope.dataset_group_arn(name);
    if store
        .dataset_group(&arn)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let group = DatasetGroup {
            name: name.to_owned(),
            dataset_group_arn: arn.clone(),
            creation_date_time: now_epoch(),
            ..DatasetGroup::default()
        };
        match store.create_dataset_group(&group, &[]).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(arn)
}

fn default_job_name() -> String {
    let secs = now_epoch();
    let millis = ((secs.fract() * 1000.0).round() as u64).min(999);
    format!("delete-users-{}-{millis:03}", secs.trunc() as u64)
}

fn spawn_progress_bar(
    progress: Arc<Progress>,
) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let ticker = tokio::spawn(async move {
        loop {
            b.set_length(progress.bytes_total.load(Ordering::Relaxed));
            b.set_position(progress.bytes_read.load(Ordering::Relaxed));
            b.set_message(format!(
                "objects {}/{}  IDs {} ({} distinct)",
                progress.objects_done.load(Ordering::Relaxed),
                progress.objects_total.load(Ordering::Relaxed),
                progress.id_lines.load(Ordering::Relaxed),
                progress.distinct_ids.load(Ordering::Relaxed),
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (bar, ticker)
}
