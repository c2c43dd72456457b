//! The job worker: runs `PENDING` data deletion jobs one at a time, oldest first.
//!
//! It wakes when the API records a job, and every second in case a job was recorded by
//! another process sharing the data dir. At start it puts jobs left `IN_PROGRESS` by a
//! stopped server back to `PENDING`, so none stays `IN_PROGRESS` forever; running a purge
//! again is harmless.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info};

use crate::api::AppState;
use crate::deletion::{self, Progress};
use crate::job::JobStatus;
use crate::store::StoreResult;

/// Runs until `stop` turns true; a job in progress at that moment is left `IN_PROGRESS`
/// (its transaction, if any, completes or rolls back) and is run again at the next start.
pub async fn run(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    if let Err(e) = requeue_interrupted(&state).await {
        error!(error = %e, "cannot requeue interrupted jobs");
    }
    loop {
        if *stop.borrow() {
            return;
        }
        let next = match oldest_pending(&state).await {
            Ok(next) => next,
            Err(e) => {
                error!(error = %e, "cannot read the job queue");
                None
            }
        };
        match next {
            Some(job) => {
                info!(job = %job.job_name, "starting a data deletion job");
                let run = deletion::run_job(
                    state.store.as_ref(),
                    state.source.clone(),
                    job,
                    &state.config.deletion,
                    Arc::new(Progress::default()),
                );
                tokio::select! {
                    result = run => {
                        if let Err(e) = result {
                            error!(error = %e, "a data deletion job could not record its status");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
            None => {
                tokio::select! {
                    _ = state.jobs_waiting.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

async fn requeue_interrupted(state: &AppState) -> StoreResult<()> {
    for mut job in state.store.list_jobs(None).await? {
        if job.status == JobStatus::InProgress {
            info!(job = %job.job_name, "requeueing a job interrupted by a stop");
            job.set_status(JobStatus::Pending);
            state.store.update_job(&job).await?;
        }
    }
    Ok(())
}

async fn oldest_pending(state: &AppState) -> StoreResult<Option<crate::job::DataDeletionJob>> {
    let jobs = state.store.list_jobs(None).await?;
    Ok(jobs
        .into_iter()
        .rev()
        .find(|j| j.status == JobStatus::Pending))
}
