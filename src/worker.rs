//! The job worker: runs pending jobs (data deletion jobs, dataset import and export jobs) one
//! at a time, oldest first, whatever their kind.
//!
//! It wakes when the API records a job, and every second in case a job was recorded by
//! another process sharing the data dir. At start it puts jobs left in progress by a stopped
//! server back to pending, so none stays in progress forever; running a job again is harmless
//! (a purge deletes nothing twice, a load is all or nothing, an incremental one replaces by
//! id, an export writes its object again).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::api::AppState;
use crate::deletion::{self, Progress};
use crate::export::{self, DatasetExportJob};
use crate::import_job::{self, CreateStatus, DatasetImportJob};
use crate::job::{DataDeletionJob, JobStatus};
use crate::store::StoreResult;

/// The next job to run.
#[derive(Debug)]
enum Work {
    Deletion(DataDeletionJob),
    Import(DatasetImportJob),
    Export(DatasetExportJob),
}

impl Work {
    fn created(&self) -> f64 {
        match self {
            Work::Deletion(j) => j.creation_date_time,
            Work::Import(j) => j.creation_date_time,
            Work::Export(j) => j.creation_date_time,
        }
    }
}

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
            Some(work) => {
                let run = async {
                    match work {
                        Work::Deletion(job) => {
                            info!(job = %job.job_name, "starting a data deletion job");
                            deletion::run_job(
                                state.store.as_ref(),
                                state.source.clone(),
                                job,
                                &state.config.deletion,
                                Arc::new(Progress::default()),
                            )
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                        }
                        Work::Import(job) => {
                            info!(job = %job.job_name, "starting a dataset import job");
                            import_job::run(state.store.as_ref(), state.source.clone(), job)
                                .await
                                .map(drop)
                                .map_err(|e| e.to_string())
                        }
                        Work::Export(job) => {
                            info!(job = %job.job_name, "starting a dataset export job");
                            export::run(state.store.as_ref(), state.source.clone(), job)
                                .await
                                .map(drop)
                                .map_err(|e| e.to_string())
                        }
                    }
                };
                tokio::select! {
                    result = run => {
                        if let Err(e) = result {
                            error!(error = %e, "a job could not record its status");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        // The job's outcome is durable already; this is housekeeping.
                        if let Err(e) = state.store.checkpoint().await {
                            warn!(error = %e, "cannot checkpoint the store");
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
            info!(job = %job.job_name, "requeueing a data deletion job interrupted by a stop");
            job.set_status(JobStatus::Pending);
            state.store.update_job(&job).await?;
        }
    }
    for mut job in state.store.list_import_jobs(None).await? {
        if job.status == CreateStatus::InProgress {
            info!(job = %job.job_name, "requeueing a dataset import job interrupted by a stop");
            job.set_status(CreateStatus::Pending);
            state.store.update_import_job(&job).await?;
        }
    }
    for mut job in state.store.list_export_jobs(None).await? {
        if job.status == CreateStatus::InProgress {
            info!(job = %job.job_name, "requeueing a dataset export job interrupted by a stop");
            job.set_status(CreateStatus::Pending);
            state.store.update_export_job(&job).await?;
        }
    }
    Ok(())
}

/// The oldest pending job of any kind.
async fn oldest_pending(state: &AppState) -> StoreResult<Option<Work>> {
    let store = &state.store;
    let deletion = store
        .list_jobs(None)
        .await?
        .into_iter()
        .rev()
        .find(|j| j.status == JobStatus::Pending)
        .map(Work::Deletion);
    let import = store
        .list_import_jobs(None)
        .await?
        .into_iter()
        .rev()
        .find(|j| j.status == CreateStatus::Pending)
        .map(Work::Import);
    let export = store
        .list_export_jobs(None)
        .await?
        .into_iter()
        .rev()
        .find(|j| j.status == CreateStatus::Pending)
        .map(Work::Export);
    // The first of the oldest wins: deletion jobs before imports before exports.
    Ok([deletion, import, export]
        .into_iter()
        .flatten()
        .fold(None, |best: Option<Work>, w| match best {
            Some(b) if b.created() <= w.created() => Some(b),
            _ => Some(w),
        }))
}
