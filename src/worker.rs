//! The job worker: claims jobs of every kind from the store's queue, oldest first, and runs
//! them one at a time until told to stop.
//!
//! It wakes when the API records a job, and every `poll` in case a job was recorded by
//! another process sharing the store. A job left in progress by a worker that died is
//! claimed again once its lease expires; running a job again is harmless, because a job's
//! writes and its terminal status commit together (a purge or a load either happened with
//! its status, or not at all; an export writes its object again).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use crate::deletion::{self, DeletionOptions, Progress};
use crate::jobs::run::{worker_id, DEFAULT_LEASE};
use crate::jobs::{Job, JobKind, JobStatus, Lease};
use crate::source::DynObjectSource;
use crate::store::{Claim, DynDatasetStore, StoreResult};

/// How a worker runs jobs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How deletion jobs read their input.
    pub deletion: DeletionOptions,
    /// How long a claim holds a job unless renewed.
    pub lease: Duration,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll: Duration,
    /// Failures to inject: a job of a kind a fault names ends failed with its reason.
    pub faults: Option<Arc<crate::faults::Faults>>,
    /// Automatic training ([`crate::model::auto`]); `None`: off.
    pub auto_training: Option<crate::model::auto::AutoTraining>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            deletion: DeletionOptions::default(),
            lease: DEFAULT_LEASE,
            poll: Duration::from_secs(1),
            faults: None,
            auto_training: Some(crate::model::auto::AutoTraining::default()),
        }
    }
}

/// Runs the jobs of one store.
#[derive(Debug)]
pub struct Worker {
    store: DynDatasetStore,
    source: DynObjectSource,
    config: WorkerConfig,
    wake: Arc<Notify>,
    id: String,
}

impl Worker {
    /// A worker over `store`, reading and writing S3 through `source`; `wake` is notified
    /// when a job is recorded.
    pub fn new(
        store: DynDatasetStore,
        source: DynObjectSource,
        config: WorkerConfig,
        wake: Arc<Notify>,
    ) -> Self {
        Worker {
            store,
            source,
            config,
            wake,
            id: worker_id(),
        }
    }

    /// This worker's name in the leases it takes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs every job that is waiting when it is called (pending, or left in progress by a
    /// worker whose lease expired), oldest first, each one to its end, and returns them as
    /// they ended with the seconds each took. Jobs recorded after the call began wait for
    /// the next run, and a job another worker claims first is left to it: two runs at once
    /// never run the same job. For scheduled batch runs (`run-pending`).
    pub async fn run_pending(&self) -> StoreResult<Vec<(Job, f64)>> {
        self.compact().await;
        let mut waiting = Vec::new();
        for kind in JobKind::ALL {
            waiting.extend(
                self.store
                    .list_jobs(kind, None)
                    .await?
                    .into_iter()
                    .filter(|j| matches!(j.status, JobStatus::Pending | JobStatus::InProgress)),
            );
        }
        waiting.sort_by(|a, b| a.created.total_cmp(&b.created));
        let mut ran = Vec::new();
        for job in waiting {
            let claim = Claim::Job(&job.arn);
            let Some((job, lease)) = self.store.claim(claim, &self.id, self.config.lease).await?
            else {
                continue; // running elsewhere under a live lease, or ended meanwhile
            };
            let started = std::time::Instant::now();
            let ended = self.run_claimed(job, lease).await?;
            ran.push((ended, started.elapsed().as_secs_f64()));
            self.compact().await;
        }
        Ok(ran)
    }

    /// Claims and runs jobs until `stop` turns true. A job in progress at that moment is
    /// dropped (its transaction, if any, completes or rolls back) and is claimed again
    /// when its lease expires.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // What a process that stopped before its compaction left.
        self.compact().await;
        let mut looked = std::time::Instant::now();
        loop {
            if *stop.borrow() {
                return;
            }
            if let Some(auto) = &self.config.auto_training {
                if looked.elapsed() >= auto.check {
                    looked = std::time::Instant::now();
                    if let Err(e) = crate::model::auto::tick(self.store.as_ref(), auto).await {
                        warn!(error = %e, "cannot look for automatic training");
                    }
                }
            }
            let claimed = match self.store.claim_next(&self.id, self.config.lease).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    error!(error = %e, "cannot claim a job");
                    None
                }
            };
            let Some((job, lease)) = claimed else {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.config.poll) => {}
                    _ = stop.changed() => return,
                }
                continue;
            };
            tokio::select! {
                result = self.run_claimed(job, lease) => {
                    if let Err(e) = result {
                        error!(error = %e, "a job could not record its end");
                        tokio::time::sleep(self.config.poll).await;
                    }
                    // The job's outcome is durable and seen already; this erases what it
                    // deleted and tidies the files.
                    self.compact().await;
                }
                _ = stop.changed() => return,
            }
        }
    }

    /// [`crate::store::DatasetStore::compact`], outside any job: a failure is logged and the
    /// next compaction does the work.
    pub async fn compact(&self) {
        if let Err(e) = self.store.compact().await {
            warn!(error = %e, "cannot compact the store");
        }
    }

    /// Runs a job this worker claimed, whatever its kind, and returns it as it ended.
    pub async fn run_claimed(&self, job: Job, lease: Lease) -> StoreResult<Job> {
        let store = self.store.as_ref();
        let source = self.source.clone();
        let lease_for = self.config.lease;
        info!(job = %job.name, kind = %job.kind(), "claimed");
        let kind = match job.kind() {
            JobKind::Deletion => "DataDeletionJob",
            JobKind::Import => "DatasetImportJob",
            JobKind::Export => "DatasetExportJob",
            JobKind::Training => "SolutionVersion",
            JobKind::BatchInference => "BatchInferenceJob",
            JobKind::BatchSegment => "BatchSegmentJob",
        };
        if let Some(reason) = self.config.faults.as_ref().and_then(|f| f.job(kind)) {
            let fail = |_| async move { (Err(crate::jobs::run::JobError::Failed(reason)), ()) };
            let (job, ()) =
                crate::jobs::run::run_to_end(store, job, lease, lease_for, fail).await?;
            return Ok(job);
        }
        match job.kind() {
            JobKind::Deletion => {
                let progress = Arc::new(Progress::default());
                let opts = &self.config.deletion;
                deletion::run_claimed(store, source, job, lease, lease_for, opts, progress)
                    .await
                    .map(|report| report.job)
            }
            JobKind::Import => crate::import::job::run(store, source, job, lease, lease_for).await,
            JobKind::Export => crate::export::run(store, source, job, lease, lease_for).await,
            JobKind::Training => crate::model::training::run(store, job, lease, lease_for).await,
            JobKind::BatchInference | JobKind::BatchSegment => {
                crate::batch::run(store, source, job, lease, lease_for).await
            }
        }
    }
}
