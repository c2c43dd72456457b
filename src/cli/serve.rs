//! `personalize-local serve`: the API and a worker over one store, on one port; with
//! `--s3-dir`, S3 on that port too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{open_store, s3_source, seconds, store_name, usage, CliError, Global};
use crate::deletion::DeletionOptions;
use crate::source::s3::S3Source;
use crate::source::watchdog::Watchdog;
use crate::source::DynObjectSource;
use crate::worker::WorkerConfig;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PERSONALIZE_LOCAL_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, env = "PERSONALIZE_LOCAL_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Milliseconds a new dataset group spends in CREATE PENDING and CREATE IN_PROGRESS.
    #[arg(long, env = "PERSONALIZE_LOCAL_TRANSITION_MS", default_value_t = 200)]
    transition_ms: u64,
    /// Serve the API only: jobs are recorded for `worker` or `run-pending` processes sharing
    /// the store.
    #[arg(long, env = "PERSONALIZE_LOCAL_NO_WORKER")]
    no_worker: bool,
    /// A request signed with a 12-digit access key id is in that account (other keys are in
    /// --account-id): accounts see only their own resources.
    #[arg(long, env = "PERSONALIZE_LOCAL_ACCOUNT_PER_ACCESS_KEY")]
    account_per_access_key: bool,
    /// Host names to answer to besides the loopback ones (comma-separated; `*`: any), for
    /// clients that reach the server under another name.
    #[arg(long, env = "PERSONALIZE_LOCAL_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Do not serve the admin endpoints (POST /_personalize-local/reset, /moto-api/reset).
    #[arg(long, env = "PERSONALIZE_LOCAL_NO_ADMIN")]
    no_admin: bool,
    /// The KMS key ARNs that dataset groups' roles can use (comma-separated). A group
    /// created with another key ends CREATE FAILED. Not given: every well-formed key ARN.
    #[arg(long, env = "PERSONALIZE_LOCAL_KMS_KEYS", value_delimiter = ',')]
    kms_keys: Option<Vec<String>>,
    /// Faults to inject from the start: a JSON array of faults, as POST
    /// /_personalize-local/faults takes them.
    #[arg(long, env = "PERSONALIZE_LOCAL_FAULTS")]
    faults: Option<PathBuf>,
    /// Also answer S3 on the same port, from this folder (each top-level folder a bucket);
    /// the jobs then read and write S3 there. Requests signed with the access key `test`
    /// (secret `test`), `testing` (`testing`) or this process's AWS_ACCESS_KEY_ID are served.
    #[arg(long, env = "PERSONALIZE_LOCAL_S3_DIR")]
    s3_dir: Option<PathBuf>,
}

/// The port `serve` listens on by default.
pub const DEFAULT_PORT: u16 = 8765;

/// Serves until SIGINT or SIGTERM.
pub(super) async fn run(
    g: &Global,
    args: ServeArgs,
    lease: Duration,
    deletion: DeletionOptions,
) -> Result<i32, CliError> {
    let store = open_store(g).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| usage(format!("cannot listen on {}:{}: {e}", args.host, args.port)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let (source, same_port_s3) = match &args.s3_dir {
        None => (s3_source(g).await?, None),
        Some(dir) => same_port_s3(g, dir, addr)?,
    };
    let config = crate::api::ApiConfig {
        region: g.region.clone(),
        account: g.account_id.clone(),
        transition: Duration::from_millis(args.transition_ms),
        account_per_access_key: args.account_per_access_key,
        allowed_hosts: {
            // The address it listens on, unless a wildcard, is a name it answers to.
            let mut hosts = args.allowed_hosts.clone();
            if !matches!(args.host.as_str(), "0.0.0.0" | "::" | "[::]") {
                hosts.push(args.host.clone());
            }
            hosts
        },
        admin: !args.no_admin,
        kms_keys: args.kms_keys.clone(),
        s3: same_port_s3,
    };
    let auto_training = g.auto_training()?;
    let worker = (!args.no_worker).then(|| WorkerConfig {
        lease,
        deletion: deletion.clone(),
        auto_training,
        ..WorkerConfig::default()
    });
    println!(
        "personalize-local listening on http://{addr} (store: {})",
        store_name(g)
    );
    if let Some(dir) = &args.s3_dir {
        println!("S3 on the same endpoint, from {}", dir.display());
    }
    let state = crate::api::AppState::new(store, source, config);
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read --faults {}: {e}", path.display())))?;
        let faults: Vec<crate::faults::Fault> = serde_json::from_str(&text)
            .map_err(|e| usage(format!("--faults {}: {e}", path.display())))?;
        state
            .faults
            .add(faults)
            .map_err(|e| usage(format!("--faults {}: {e}", path.display())))?;
    }
    crate::server::run(listener, state, worker, crate::server::shutdown_signal())
        .await
        .map_err(|e| CliError::Failed(format!("the server failed: {e}")))?;
    Ok(0)
}

/// `serve --s3-dir`: the S3 service over `dir` for the API's port, and the jobs' source,
/// which reaches it there (on loopback when the server listens on every address).
fn same_port_s3(
    g: &Global,
    dir: &std::path::Path,
    addr: std::net::SocketAddr,
) -> Result<(DynObjectSource, Option<s3s::service::S3Service>), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| usage(format!("cannot create --s3-dir {}: {e}", dir.display())))?;
    let mut keys = vec![("testing".to_owned(), "testing".to_owned())];
    if let (Ok(access), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        keys.push((access, secret));
    }
    let service = crate::source::embedded::service(dir, &keys)
        .map_err(|e| usage(format!("--s3-dir {}: {e}", dir.display())))?;
    let host = if addr.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let client = crate::source::embedded::client_with(&format!("http://{host}"), g.s3_timeouts()?);
    let s3: DynObjectSource = Arc::new(S3Source::new(client));
    let limit = seconds("--s3-no-progress-seconds", g.s3_no_progress_seconds)?;
    Ok((Arc::new(Watchdog::new(s3, limit)), Some(service)))
}
