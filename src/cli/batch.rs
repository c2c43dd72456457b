//! `worker` and `run-pending`: the processes that only run the store's jobs.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{print_json, EXIT_FAILED};
use crate::jobs::JobStatus;
use crate::source::DynObjectSource;
use crate::store::{DynDatasetStore, StoreError};
use crate::worker::{Worker, WorkerConfig};

/// Runs `concurrency` workers over the store until SIGINT or SIGTERM, then lets the job each
/// one runs end (or be dropped, to be claimed again when its lease expires).
pub(super) async fn worker(
    store: DynDatasetStore,
    source: DynObjectSource,
    config: WorkerConfig,
    concurrency: usize,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let worker = Worker::new(store.clone(), source.clone(), config.clone(), wake.clone());
        tracing::info!(worker = worker.id(), "worker started");
        workers.spawn(worker.run(stop_rx.clone()));
    }
    crate::server::shutdown_signal().await;
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
}

/// Runs every job waiting in the store, prints the JSON summary and returns the exit status:
/// 0 if every job it ran succeeded, [`EXIT_FAILED`] if any failed.
pub(super) async fn run_pending(
    store: DynDatasetStore,
    source: DynObjectSource,
    config: WorkerConfig,
) -> Result<i32, StoreError> {
    let started = std::time::Instant::now();
    let worker = Worker::new(store, source, config, Default::default());
    let ran = worker.run_pending().await?;
    let failed = ran
        .iter()
        .filter(|(j, _)| j.status != JobStatus::Succeeded)
        .count();
    let jobs: Vec<Value> = ran
        .iter()
        .map(|(job, seconds)| {
            let mut v = json!({
                "jobArn": job.arn,
                "kind": job.kind().as_str(),
                "status": job.service_status(),
                "seconds": seconds,
            });
            if let Some(n) = job.num_deleted {
                v["numDeleted"] = json!(n);
            }
            if let Some(r) = &job.failure_reason {
                v["failureReason"] = json!(r);
            }
            v
        })
        .collect();
    print_json(&json!({
        "jobs": jobs,
        "ran": ran.len(),
        "succeeded": ran.len() - failed,
        "failed": failed,
        "seconds": started.elapsed().as_secs_f64(),
    }));
    Ok(if failed == 0 { 0 } else { EXIT_FAILED })
}
