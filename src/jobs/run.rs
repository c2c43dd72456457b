//! [`run_to_end`]: what every kind of job shares once it is claimed.

use std::future::Future;
use std::time::Duration;

use tracing::{info, warn};

use super::{Job, Lease};
use crate::store::{Claim, DatasetStore, JobCommit, StoreError, StoreResult};

/// How long a claim holds a job unless renewed. A running job renews its lease every third
/// of it, so a worker that dies loses its jobs within this time, and another worker (or
/// the same data dir's next process) claims them again.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Why a job's body did not end the job itself.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job failed: it ends failed with this `failureReason`, having written nothing.
    #[error("{0}")]
    Failed(String),
    /// The store failed. A lost lease leaves the job to whoever holds it now; any other
    /// store error ends the job failed with a reason that names it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A name for this process's claims: host, process id and a random part, so workers on
/// several machines sharing one store tell their leases apart.
pub fn worker_id() -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    super::model::worker_name(&nonce[..8])
}

/// Claims the job `arn` for this process and returns it with its lease; `None` when it is
/// not claimable (already running under a live lease, or ended).
pub async fn claim_one(
    store: &dyn DatasetStore,
    arn: &str,
    lease_for: Duration,
) -> StoreResult<Option<(Job, Lease)>> {
    store.claim(Claim::Job(arn), &worker_id(), lease_for).await
}

/// Runs a claimed job to its end. `body` does the job's work and, when it succeeds, commits
/// its writes together with the job's `Succeeded` (through the [`JobCommit`] it is given)
/// and returns the job as stored. While it runs its lease is renewed. A lost lease does not
/// interrupt the body (a renewal may also just have come after the body's own commit
/// released the lease): the store's fencing check refuses the body's commit instead, and
/// [`StoreError::LeaseLost`] is returned with nothing written. A body that fails ends the
/// job failed, through the same check. The body's other output (`T`, e.g. what a deletion
/// job read) is returned either way.
pub async fn run_to_end<T, F, Fut>(
    store: &dyn DatasetStore,
    job: Job,
    lease: Lease,
    lease_for: Duration,
    body: F,
) -> StoreResult<(Job, T)>
where
    F: FnOnce(JobCommit) -> Fut,
    Fut: Future<Output = (Result<Job, JobError>, T)>,
{
    info!(job = %job.name, kind = %job.kind(), "running");
    let commit = JobCommit {
        job: job.clone(),
        lease: lease.clone(),
    };
    let (outcome, out) = tokio::select! {
        biased;
        done = body(commit) => done,
        never = heartbeat(store, lease.clone(), lease_for) => match never {},
    };
    let reason = match outcome {
        Ok(done) => {
            info!(job = %done.name, status = done.service_status(), "ended");
            return Ok((done, out));
        }
        Err(JobError::Store(e @ StoreError::LeaseLost(_))) => return Err(e),
        Err(JobError::Failed(reason)) => reason,
        Err(JobError::Store(e)) => format!("internal error: the dataset store failed: {e}"),
    };
    let failed = job.failed(reason);
    warn!(
        job = %failed.name,
        reason = failed.failure_reason.as_deref().unwrap_or(""),
        "failed"
    );
    match store.finish(&failed, &lease).await {
        Ok(()) => {}
        // A body whose write transaction outlived the lease (a store that cannot renew while
        // it writes) finds its lease expired when it comes to record the failure. Nobody
        // else may hold the job, though: then it claims it again, as any worker could, and
        // records the failure under that claim; otherwise the job is the new holder's.
        Err(StoreError::LeaseLost(_)) => {
            let worker = lease.worker.clone();
            match store
                .claim(Claim::Job(&failed.arn), &worker, lease_for)
                .await?
            {
                Some((_, again)) => store.finish(&failed, &again).await?,
                None => return Err(StoreError::LeaseLost(failed.arn.clone())),
            }
        }
        Err(e) => return Err(e),
    }
    Ok((failed, out))
}

/// Runs a claimed job whose writes lie outside the store (objects written to S3): `work`
/// does them, then the job's `Succeeded` is committed under the lease, through
/// [`run_to_end`].
pub async fn run_then_succeed<F, Fut>(
    store: &dyn DatasetStore,
    job: Job,
    lease: Lease,
    lease_for: Duration,
    work: F,
) -> StoreResult<Job>
where
    F: FnOnce(Job) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let body = |commit: JobCommit| async move {
        let outcome = match work(commit.job.clone()).await {
            Ok(()) => {
                let done = commit.job.clone().succeeded(None);
                store
                    .finish(&done, &commit.lease)
                    .await
                    .map(|()| done)
                    .map_err(JobError::Store)
            }
            Err(e) => Err(e),
        };
        (outcome, ())
    };
    run_to_end(store, job, lease, lease_for, body)
        .await
        .map(|(job, ())| job)
}

/// Renews `lease` every third of `lease_for` until it is no longer held (then it only
/// waits: the body's commit will be refused); it never ends. A renewal that fails for
/// another reason (a busy database) is tried again at the next tick.
async fn heartbeat(
    store: &dyn DatasetStore,
    mut lease: Lease,
    lease_for: Duration,
) -> std::convert::Infallible {
    let every = (lease_for / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match store.renew(&lease, lease_for).await {
            Ok(renewed) => lease = renewed,
            Err(StoreError::LeaseLost(_)) => {
                tracing::debug!(job = %lease.job_arn, "the lease is no longer held");
                return std::future::pending().await;
            }
            Err(e) => warn!(job = %lease.job_arn, error = %e, "cannot renew the lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobSpec, JobStatus};
    use crate::store::memory::MemoryStore;

    fn job(name: &str) -> Job {
        let spec = JobSpec::Deletion {
            dataset_group_arn: "arn:g".into(),
            data_location: "s3://b/k".into(),
            dry_run: false,
        };
        Job::new(
            format!("arn:aws:personalize:us-east-1:000000000000:data-deletion-job/{name}"),
            name,
            spec,
        )
    }

    /// A body that held its thread past the lease (no renewal could run) still records its
    /// failure, under a new claim, instead of leaving the job to be run again and again.
    #[tokio::test]
    async fn a_failure_after_the_lease_ran_out_is_still_recorded() {
        let store = MemoryStore::new();
        let j = job("slow");
        store.create_job(&j, &[]).await.unwrap();
        let lease_for = Duration::from_millis(50);
        let (claimed, lease) = store.claim_next("w", lease_for).await.unwrap().unwrap();
        let body = |_commit| async {
            std::thread::sleep(Duration::from_millis(150));
            (Err(JobError::Failed("bad input".into())), ())
        };
        let (ended, ()) = run_to_end(&store, claimed, lease, lease_for, body)
            .await
            .unwrap();
        assert_eq!(ended.status, JobStatus::Failed);
        let stored = store.job(&j.arn).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Failed);
        assert_eq!(stored.failure_reason.as_deref(), Some("bad input"));
    }

    /// Once another worker took the job over, the first one's failure is not recorded.
    #[tokio::test]
    async fn a_failure_after_a_takeover_is_not_recorded() {
        let store = MemoryStore::new();
        let j = job("taken");
        store.create_job(&j, &[]).await.unwrap();
        let lease_for = Duration::from_millis(50);
        let (claimed, lease) = store.claim_next("w1", lease_for).await.unwrap().unwrap();
        let store_ref = &store;
        let body = |_commit| async move {
            std::thread::sleep(Duration::from_millis(150));
            let taken = store_ref.claim_next("w2", DEFAULT_LEASE).await.unwrap();
            assert!(taken.is_some());
            (Err(JobError::Failed("bad input".into())), ())
        };
        let err = run_to_end(&store, claimed, lease, lease_for, body)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
        let stored = store.job(&j.arn).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::InProgress);
    }
}
