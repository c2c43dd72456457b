//! `personalize-local serve`: the API on a listener, with a job worker in the same process
//! unless `--no-worker`.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::api::{router, AppState};
use crate::worker::{Worker, WorkerConfig};

/// Serves the API on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish and stops the worker. With a `worker` config, a worker in the
/// same process runs the jobs of the API's store (and of any other process sharing it);
/// without, the API only records jobs, for workers elsewhere. Tests bind port 0 and pass any
/// future.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    worker: Option<WorkerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = worker.map(|mut config| {
        config.faults = Some(state.faults.clone());
        let worker = Worker::new(
            state.store.clone(),
            state.source.clone(),
            config,
            state.jobs_waiting.clone(),
        );
        spawn_worker(worker, stop_rx)
    });
    let worker = match worker {
        Some(w) => Some(w?),
        None => None,
    };
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    served
}

/// Runs `worker` on a runtime of its own, on a thread of its own: a job's CPU work (reading
/// and parsing its input, the purge's merge) never holds a thread the API answers on, however
/// long it runs between two awaits. The receiver completes when the worker has stopped.
fn spawn_worker(
    worker: Worker,
    stop: watch::Receiver<bool>,
) -> std::io::Result<oneshot::Receiver<()>> {
    let (done_tx, done_rx) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("job-worker".into())
        .spawn(move || {
            runtime.block_on(worker.run(stop));
            drop(runtime);
            let _ = done_tx.send(());
        })?;
    Ok(done_rx)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
