//! `personalize-local serve`: the API on a listener, with a job worker in the same process
//! unless `--no-worker`.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{router, AppState};
use crate::jobs::worker::{Worker, WorkerConfig};

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
    let worker = worker.map(|config| {
        let worker = Worker::new(
            state.store.clone(),
            state.source.clone(),
            config,
            state.jobs_waiting.clone(),
        );
        tokio::spawn(worker.run(stop_rx))
    });
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
