//! The job queue in PostgreSQL, shared by workers on several machines.
//!
//! A claim is one `UPDATE` of the row that `SELECT ... FOR UPDATE SKIP LOCKED` picks, so two
//! claimers never take the same job and never wait for each other. Leases run on the
//! database's clock (`clock_timestamp()`), the one clock every machine shares. A job's final
//! write (alone, or in a load's or purge's transaction) first locks the job's row and checks
//! the lease (the fencing check); while that lock is held no claim can take the job, and the
//! final write changes the row only if no later claim has taken a new token.

use std::time::Duration;

use tokio_postgres::{GenericClient, Row};

use super::DbResult;
use crate::jobs::model::{Job, JobKind, JobStatus, Lease};
use crate::store::{spec, Claim, StoreError, Tag};
use deadpool_postgres::Object;

/// The database's clock, in epoch seconds.
const NOW: &str = "extract(epoch FROM clock_timestamp())::float8";

/// The columns [`job_from_row`] reads, in its order.
const COLUMNS: &str = "arn, kind, name, target_arn, spec, role_arn, status, num_deleted, \
                       failure_reason, created, updated, lease_token, lease_expires";

fn job_from_row(r: &Row) -> DbResult<(Job, i64, Option<f64>)> {
    let kind: JobKind = r
        .get::<_, String>(1)
        .parse()
        .map_err(|e: crate::jobs::model::UnknownValue| StoreError::Invalid(e.to_string()))?;
    let job = Job {
        arn: r.get(0),
        name: r.get(2),
        spec: spec::from_json(kind, r.get(3), r.get(4))?,
        role_arn: r.get(5),
        status: r
            .get::<_, String>(6)
            .parse()
            .map_err(|e: crate::jobs::model::UnknownValue| StoreError::Invalid(e.to_string()))?,
        num_deleted: r.get::<_, Option<i64>>(7).map(|n| n as u64),
        failure_reason: r.get(8),
        created: r.get(9),
        last_updated: r.get(10),
    };
    Ok((job, r.get(11), r.get(12)))
}

/// Records a job and its tags in one transaction.
pub(super) async fn create(client: &mut Object, job: &Job, tags: &[Tag]) -> DbResult<()> {
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "INSERT INTO jobs (arn, kind, name, target_arn, spec, role_arn, status, num_deleted,
                               failure_reason, created, updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            &[
                &job.arn,
                &job.kind().as_str(),
                &job.name,
                &job.spec.target_arn(),
                &spec::to_json(&job.spec)?,
                &job.role_arn,
                &job.status.as_str(),
                &job.num_deleted.map(|n| n as i64),
                &job.failure_reason,
                &job.created,
                &job.last_updated,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(job.arn.clone()));
    }
    super::catalog::insert_tags(&tx, &job.arn, tags).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(c: &impl GenericClient, arn: &str) -> DbResult<Option<Job>> {
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM jobs WHERE arn = $1"),
            &[&arn],
        )
        .await?;
    row.map(|r| job_from_row(&r).map(|(job, _, _)| job))
        .transpose()
}

/// Newest first.
pub(super) async fn list(
    c: &impl GenericClient,
    kind: JobKind,
    target: Option<&str>,
) -> DbResult<Vec<Job>> {
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND ($2::text IS NULL OR target_arn = $2)
                 ORDER BY seq DESC"
            ),
            &[&kind.as_str(), &target],
        )
        .await?;
    rows.iter()
        .map(|r| job_from_row(r).map(|(job, _, _)| job))
        .collect()
}

pub(super) async fn update(c: &impl GenericClient, job: &Job) -> DbResult<()> {
    let release = job.status != JobStatus::InProgress;
    let n = c
        .execute(
            "UPDATE jobs SET role_arn = $2, status = $3, num_deleted = $4, failure_reason = $5,
                             updated = $6, spec = $7,
                             lease_owner = CASE WHEN $8 THEN NULL ELSE lease_owner END,
                             lease_expires = CASE WHEN $8 THEN NULL ELSE lease_expires END
             WHERE arn = $1",
            &[
                &job.arn,
                &job.role_arn,
                &job.status.as_str(),
                &job.num_deleted.map(|n| n as i64),
                &job.failure_reason,
                &job.last_updated,
                &spec::to_json(&job.spec)?,
                &release,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound(job.arn.clone()));
    }
    Ok(())
}

pub(super) async fn claim(
    c: &impl GenericClient,
    which: Claim<'_>,
    worker: &str,
    lease_for: Duration,
) -> DbResult<Option<(Job, Lease)>> {
    let arn = match which {
        Claim::Job(arn) => Some(arn),
        Claim::Next => None,
    };
    let seconds = lease_for.as_secs_f64();
    let now = crate::jobs::model::now_epoch();
    let row = c
        .query_opt(
            &format!(
                "UPDATE jobs SET status = 'in_progress', failure_reason = NULL,
                                 updated = greatest(updated, $1),
                                 lease_owner = $2, lease_expires = {NOW} + $3,
                                 lease_token = lease_token + 1
                 WHERE seq = (
                     SELECT seq FROM jobs
                     WHERE ($4::text IS NULL OR arn = $4)
                       AND (status = 'pending'
                            OR (status = 'in_progress'
                                AND (lease_expires IS NULL OR lease_expires <= {NOW})))
                     ORDER BY seq LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                 RETURNING {COLUMNS}"
            ),
            &[&now, &worker, &seconds, &arn],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (job, token, expires) = job_from_row(&row)?;
    let lease = Lease {
        job_arn: job.arn.clone(),
        worker: worker.to_owned(),
        token: token as u64,
        expires: expires.unwrap_or(now + seconds),
    };
    Ok(Some((job, lease)))
}

pub(super) async fn renew(
    c: &impl GenericClient,
    lease: &Lease,
    lease_for: Duration,
) -> DbResult<Lease> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE jobs SET lease_expires = {NOW} + $4
                 WHERE arn = $1 AND status = 'in_progress' AND lease_owner = $2
                   AND lease_token = $3 AND lease_expires > {NOW}
                 RETURNING lease_expires"
            ),
            &[
                &lease.job_arn,
                &lease.worker,
                &(lease.token as i64),
                &lease_for.as_secs_f64(),
            ],
        )
        .await?;
    match row {
        Some(r) => Ok(Lease {
            expires: r.get(0),
            ..lease.clone()
        }),
        None => Err(StoreError::LeaseLost(lease.job_arn.clone())),
    }
}

/// Locks the job's row until the transaction ends and checks that `lease` holds it: the
/// same owner and claim, not expired. [`StoreError::LeaseLost`] otherwise. The lock is `FOR
/// KEY SHARE`: claims (`FOR UPDATE SKIP LOCKED`) pass the row by while it is held, but the
/// job's own lease renewals (plain updates) go on, so a long load keeps its lease.
pub(super) async fn check_held(c: &impl GenericClient, lease: &Lease) -> DbResult<()> {
    let row = c
        .query_opt(
            &format!(
                "SELECT lease_owner = $2 AND lease_token = $3 AND lease_expires > {NOW}
                 FROM jobs WHERE arn = $1 AND status = 'in_progress' FOR KEY SHARE"
            ),
            &[&lease.job_arn, &lease.worker, &(lease.token as i64)],
        )
        .await?;
    let held = row.is_some_and(|r| r.get::<_, Option<bool>>(0) == Some(true));
    if !held {
        return Err(StoreError::LeaseLost(lease.job_arn.clone()));
    }
    Ok(())
}

/// Writes the final record of a held job, releasing the lease (inside a transaction that
/// passed [`check_held`]).
pub(super) async fn write_final(c: &impl GenericClient, job: &Job, lease: &Lease) -> DbResult<()> {
    let n = c
        .execute(
            "UPDATE jobs SET status = $3, num_deleted = $4, failure_reason = $5, updated = $6,
                             lease_owner = NULL, lease_expires = NULL
             WHERE arn = $1 AND lease_token = $2",
            &[
                &job.arn,
                &(lease.token as i64),
                &job.status.as_str(),
                &job.num_deleted.map(|n| n as i64),
                &job.failure_reason,
                &job.last_updated,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::LeaseLost(lease.job_arn.clone()));
    }
    Ok(())
}
