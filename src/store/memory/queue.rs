//! The memory store's job queue: jobs in creation order, each with the lease of its last
//! claim, and the fencing check.

use std::time::Duration;

use super::State;
use crate::jobs::model::{now_epoch, Job, JobKind, JobStatus, Lease};
use crate::store::{Claim, StoreError, StoreResult, Tag};

/// A job as the queue keeps it.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    seq: u64,
    pub(super) job: Job,
    /// The lease of the last claim; `None` once released (or never claimed).
    lease: Option<Lease>,
    /// The token of the last claim.
    token: u64,
}

fn claimable(q: &Queued, now: f64) -> bool {
    match q.job.status {
        JobStatus::Pending => true,
        JobStatus::InProgress => q.lease.as_ref().is_none_or(|l| l.expires <= now),
        _ => false,
    }
}

fn expiry(from: f64, lease_for: Duration) -> f64 {
    from + lease_for.as_secs_f64()
}

impl State {
    pub(super) fn create_job(&mut self, job: &Job, tags: &[Tag]) -> StoreResult<()> {
        if self.jobs.contains_key(&job.arn) {
            return Err(StoreError::AlreadyExists(job.arn.clone()));
        }
        let seq = self.next_seq();
        let queued = Queued {
            seq,
            job: job.clone(),
            lease: None,
            token: 0,
        };
        self.jobs.insert(job.arn.clone(), queued);
        self.add_tags(&job.arn, tags);
        Ok(())
    }

    pub(super) fn list_jobs(&self, kind: JobKind, target_arn: Option<&str>) -> Vec<Job> {
        let mut jobs: Vec<&Queued> = self
            .jobs
            .values()
            .filter(|q| q.job.kind() == kind)
            .filter(|q| target_arn.is_none_or(|t| q.job.spec.target_arn() == t))
            .collect();
        jobs.sort_by_key(|q| std::cmp::Reverse(q.seq));
        jobs.into_iter().map(|q| q.job.clone()).collect()
    }

    pub(super) fn update_job(&mut self, job: &Job) -> StoreResult<()> {
        match self.jobs.get_mut(&job.arn) {
            Some(q) => {
                q.job = job.clone();
                if job.status != JobStatus::InProgress {
                    q.lease = None;
                }
                Ok(())
            }
            None => Err(StoreError::NotFound(job.arn.clone())),
        }
    }

    pub(super) fn claim(
        &mut self,
        which: Claim<'_>,
        worker: &str,
        lease_for: Duration,
    ) -> Option<(Job, Lease)> {
        let now = now_epoch();
        let arn = match which {
            Claim::Job(arn) => self
                .jobs
                .get(arn)
                .filter(|q| claimable(q, now))
                .map(|q| q.job.arn.clone()),
            Claim::Next => self
                .jobs
                .values()
                .filter(|q| claimable(q, now))
                .min_by_key(|q| q.seq)
                .map(|q| q.job.arn.clone()),
        };
        let q = arn.and_then(|arn| self.jobs.get_mut(&arn))?;
        q.token += 1;
        q.job.set_status(JobStatus::InProgress);
        q.job.failure_reason = None;
        let lease = Lease {
            job_arn: q.job.arn.clone(),
            worker: worker.to_owned(),
            token: q.token,
            expires: expiry(now, lease_for),
        };
        q.lease = Some(lease.clone());
        Some((q.job.clone(), lease))
    }

    pub(super) fn renew(&mut self, lease: &Lease, lease_for: Duration) -> StoreResult<Lease> {
        let q = self.held(lease)?;
        let renewed = Lease {
            expires: expiry(now_epoch(), lease_for),
            ..lease.clone()
        };
        q.lease = Some(renewed.clone());
        Ok(renewed)
    }

    /// The job `lease` holds, while it is held: not expired, not claimed again since.
    pub(super) fn held(&mut self, lease: &Lease) -> StoreResult<&mut Queued> {
        let lost = || StoreError::LeaseLost(lease.job_arn.clone());
        let q = self.jobs.get_mut(&lease.job_arn).ok_or_else(lost)?;
        match &q.lease {
            Some(l)
                if l.token == lease.token
                    && l.worker == lease.worker
                    && l.expires > now_epoch() =>
            {
                Ok(q)
            }
            _ => Err(lost()),
        }
    }

    /// Writes `job` as the final record of the job `lease` holds, releasing the lease.
    pub(super) fn finish(&mut self, job: &Job, lease: &Lease) -> StoreResult<()> {
        let q = self.held(lease)?;
        q.job = job.clone();
        q.lease = None;
        Ok(())
    }
}
