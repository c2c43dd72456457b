//! The job queue in SQLite: one `jobs` table for every kind, in the store's own row format.
//!
//! A row keeps the record's fields as columns and the kind-specific request in `spec`, a
//! JSON object whose member names are this file's (not the API's), so the wire format can
//! change without touching what is on disk. A claim is one conditional `UPDATE ...
//! RETURNING` in an immediate transaction: SQLite lets one writer in at a time, so two
//! claimers (threads or processes sharing the file) never take the same job. The fencing
//! check of a job's final write runs inside the write transaction that also holds the
//! job's records, right after it takes SQLite's write lock: from then until its commit no
//! other worker can claim the job.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{backend, DbResult};
use crate::jobs::model::{lease_owner_gone, now_epoch, Job, JobKind, JobStatus, Lease};
use crate::store::spec;
use crate::store::{Claim, StoreError};

/// The `jobs` table (schema 7), and the rows of the three tables it replaces, in creation
/// order. The old tables kept the API's JSON; the statuses map onto the store's names.
pub(super) const MIGRATION_7: &str = "
CREATE TABLE jobs (
    seq            INTEGER PRIMARY KEY,
    arn            TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    target_arn     TEXT NOT NULL,
    spec           TEXT NOT NULL,
    role_arn       TEXT,
    status         TEXT NOT NULL,
    num_deleted    INTEGER,
    failure_reason TEXT,
    created        REAL NOT NULL,
    updated        REAL NOT NULL,
    lease_owner    TEXT,
    lease_token    INTEGER NOT NULL DEFAULT 0,
    lease_expires  REAL
);
CREATE INDEX jobs_by_target ON jobs (kind, target_arn, seq);
CREATE INDEX jobs_by_status ON jobs (status, seq);
INSERT INTO jobs (arn, kind, name, target_arn, spec, role_arn, status, num_deleted,
                  failure_reason, created, updated)
SELECT arn, kind, json_extract(body, '$.jobName'), target, spec,
       json_extract(body, '$.roleArn'),
       CASE json_extract(body, '$.status')
           WHEN 'PENDING' THEN 'pending' WHEN 'CREATE PENDING' THEN 'pending'
           WHEN 'IN_PROGRESS' THEN 'in_progress' WHEN 'CREATE IN_PROGRESS' THEN 'in_progress'
           WHEN 'COMPLETED' THEN 'succeeded' WHEN 'ACTIVE' THEN 'succeeded'
           ELSE 'failed' END,
       json_extract(body, '$.numDeleted'), json_extract(body, '$.failureReason'),
       json_extract(body, '$.creationDateTime'), json_extract(body, '$.lastUpdatedDateTime')
FROM (
    SELECT arn, 'deletion' AS kind, group_arn AS target, body, seq, 0 AS k,
           json_object('location', json_extract(body, '$.dataSource.dataLocation')) AS spec
      FROM data_deletion_jobs
    UNION ALL
    SELECT arn, 'import', dataset_arn, body, seq, 1,
           json_object('location', json_extract(body, '$.dataSource.dataLocation'),
                       'mode', json_extract(body, '$.importMode'),
                       'publish_metrics', json(CASE json_type(body, '$.publishAttributionMetricsToS3')
                           WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE 'null' END))
      FROM dataset_import_jobs
    UNION ALL
    SELECT arn, 'export', dataset_arn, body, seq, 2,
           json_object('ingestion_mode', json_extract(body, '$.ingestionMode'),
                       'path', json_extract(body, '$.jobOutput.s3DataDestination.path'),
                       'kms_key_arn', json_extract(body, '$.jobOutput.s3DataDestination.kmsKeyArn'))
      FROM dataset_export_jobs
)
ORDER BY json_extract(body, '$.creationDateTime'), k, seq;
DROP TABLE data_deletion_jobs;
DROP TABLE dataset_import_jobs;
DROP TABLE dataset_export_jobs;
";

/// The columns [`job_from_row`] reads, in its order.
const COLUMNS: &str = "arn, kind, name, target_arn, spec, role_arn, status, num_deleted, \
                       failure_reason, created, updated, lease_owner, lease_token, lease_expires";

struct JobRow {
    job: Job,
    lease_token: i64,
    lease_expires: Option<f64>,
}

fn job_from_row(r: &Row<'_>) -> DbResult<JobRow> {
    let kind: JobKind = r.get::<_, String>(1)?.parse().map_err(backend)?;
    let spec = spec::from_json(kind, r.get(3)?, &r.get::<_, String>(4)?)?;
    let job = Job {
        arn: r.get(0)?,
        name: r.get(2)?,
        spec,
        role_arn: r.get(5)?,
        status: r.get::<_, String>(6)?.parse().map_err(backend)?,
        num_deleted: r.get::<_, Option<i64>>(7)?.map(|n| n as u64),
        failure_reason: r.get(8)?,
        created: r.get(9)?,
        last_updated: r.get(10)?,
    };
    Ok(JobRow {
        job,
        lease_token: r.get(12)?,
        lease_expires: r.get(13)?,
    })
}

pub(super) fn create(conn: &Connection, job: &Job) -> DbResult<()> {
    let n = conn.execute(
        "INSERT INTO jobs (arn, kind, name, target_arn, spec, role_arn, status, num_deleted,
                           failure_reason, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
        params![
            job.arn,
            job.kind().as_str(),
            job.name,
            job.spec.target_arn(),
            spec::to_json(&job.spec)?,
            job.role_arn,
            job.status.as_str(),
            job.num_deleted.map(|n| n as i64),
            job.failure_reason,
            job.created,
            job.last_updated,
        ],
    )?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(job.arn.clone()));
    }
    Ok(())
}

pub(super) fn get(conn: &Connection, arn: &str) -> DbResult<Option<Job>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE arn = ?1"))?;
    let mut rows = stmt.query(params![arn])?;
    match rows.next()? {
        Some(r) => Ok(Some(job_from_row(r)?.job)),
        None => Ok(None),
    }
}

/// Newest first.
pub(super) fn list(conn: &Connection, kind: JobKind, target: Option<&str>) -> DbResult<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE kind = ?1 AND (?2 IS NULL OR target_arn = ?2)
         ORDER BY seq DESC"
    ))?;
    let mut rows = stmt.query(params![kind.as_str(), target])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(job_from_row(r)?.job);
    }
    Ok(out)
}

/// Writes the record's fields, and clears the lease columns when `release_lease`.
fn write(conn: &Connection, job: &Job, release_lease: bool) -> DbResult<usize> {
    Ok(conn.execute(
        "UPDATE jobs SET role_arn = ?2, status = ?3, num_deleted = ?4, failure_reason = ?5,
                         updated = ?6, spec = ?7,
                         lease_owner = CASE WHEN ?8 THEN NULL ELSE lease_owner END,
                         lease_expires = CASE WHEN ?8 THEN NULL ELSE lease_expires END
         WHERE arn = ?1",
        params![
            job.arn,
            job.role_arn,
            job.status.as_str(),
            job.num_deleted.map(|n| n as i64),
            job.failure_reason,
            job.last_updated,
            spec::to_json(&job.spec)?,
            release_lease,
        ],
    )?)
}

pub(super) fn update(conn: &Connection, job: &Job) -> DbResult<()> {
    if write(conn, job, job.status != JobStatus::InProgress)? == 0 {
        return Err(StoreError::NotFound(job.arn.clone()));
    }
    Ok(())
}

/// One claim in one immediate transaction: the conditional `UPDATE ... RETURNING` takes the
/// job only if it is still claimable when the write lock is held.
pub(super) fn claim(
    conn: &mut Connection,
    which: Claim<'_>,
    worker: &str,
    lease_for: Duration,
) -> DbResult<Option<(Job, Lease)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_epoch();
    let expires = now + lease_for.as_secs_f64();
    release_dead_owners(&tx, now)?;
    let claimable = "(status = 'pending'
                      OR (status = 'in_progress' AND (lease_expires IS NULL OR lease_expires <= ?1)))";
    // One statement for both claims: `?4` is the ARN of a claim by ARN, else NULL.
    let pick = format!(
        "SELECT seq FROM jobs WHERE (?4 IS NULL OR arn = ?4) AND {claimable} ORDER BY seq LIMIT 1"
    );
    let arn = match which {
        Claim::Job(arn) => Some(arn),
        Claim::Next => None,
    };
    let claimed = {
        let mut stmt = tx.prepare_cached(&format!(
            "UPDATE jobs SET status = 'in_progress', failure_reason = NULL,
                             updated = max(updated, ?1),
                             lease_owner = ?2, lease_expires = ?3, lease_token = lease_token + 1
             WHERE seq = ({pick}) AND {claimable}
             RETURNING {COLUMNS}"
        ))?;
        let mut rows = stmt.query(params![now, worker, expires, arn])?;
        match rows.next()? {
            Some(r) => Some(job_from_row(r)?),
            None => None,
        }
    };
    tx.commit()?;
    Ok(claimed.map(|row| {
        let lease = Lease {
            job_arn: row.job.arn.clone(),
            worker: worker.to_owned(),
            token: row.lease_token as u64,
            expires: row.lease_expires.unwrap_or(expires),
        };
        (row.job, lease)
    }))
}

/// Ends, in the claim's transaction, the leases held by processes of this host that no
/// longer run ([`lease_owner_gone`]): the embedded store's file is on this machine, so a
/// process restarted after `kill -9` takes back the job its predecessor ran at once instead
/// of waiting out the dead lease. (A shared store keeps the wait: its owners may be on other
/// machines.)
fn release_dead_owners(conn: &Connection, now: f64) -> DbResult<()> {
    let held: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, lease_owner FROM jobs
             WHERE status = 'in_progress' AND lease_owner IS NOT NULL AND lease_expires > ?1",
        )?
        .query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, owner) in held {
        if lease_owner_gone(&owner) {
            tracing::info!(
                owner,
                "the process holding a job's lease is gone: the lease ends now"
            );
            conn.execute(
                "UPDATE jobs SET lease_expires = ?2 WHERE seq = ?1",
                params![seq, now],
            )?;
        }
    }
    Ok(())
}

/// [`StoreError::LeaseLost`] unless `lease` still holds its job: the same owner and claim,
/// not expired. Run inside the write transaction that then writes the job.
pub(super) fn check_held(conn: &Connection, lease: &Lease) -> DbResult<()> {
    let row: Option<(Option<String>, i64, Option<f64>)> = conn
        .query_row(
            "SELECT lease_owner, lease_token, lease_expires FROM jobs
             WHERE arn = ?1 AND status = 'in_progress'",
            params![lease.job_arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let held = row.is_some_and(|(owner, token, expires)| {
        owner.as_deref() == Some(lease.worker.as_str())
            && token as u64 == lease.token
            && expires.is_some_and(|e| e > now_epoch())
    });
    if !held {
        return Err(StoreError::LeaseLost(lease.job_arn.clone()));
    }
    Ok(())
}

/// Writes the final record of a held job, releasing the lease (inside a transaction that
/// passed [`check_held`]).
pub(super) fn write_final(conn: &Connection, job: &Job, lease: &Lease) -> DbResult<()> {
    let n = conn.execute(
        "UPDATE jobs SET status = ?3, num_deleted = ?4, failure_reason = ?5, updated = ?6,
                         lease_owner = NULL, lease_expires = NULL
         WHERE arn = ?1 AND lease_token = ?2",
        params![
            job.arn,
            lease.token as i64,
            job.status.as_str(),
            job.num_deleted.map(|n| n as i64),
            job.failure_reason,
            job.last_updated,
        ],
    )?;
    if n == 0 {
        return Err(StoreError::LeaseLost(lease.job_arn.clone()));
    }
    Ok(())
}

pub(super) fn finish(conn: &mut Connection, job: &Job, lease: &Lease) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_held(&tx, lease)?;
    write_final(&tx, job, lease)?;
    tx.commit()?;
    Ok(())
}

pub(super) fn renew(conn: &mut Connection, lease: &Lease, lease_for: Duration) -> DbResult<Lease> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_held(&tx, lease)?;
    let expires = now_epoch() + lease_for.as_secs_f64();
    tx.execute(
        "UPDATE jobs SET lease_expires = ?2 WHERE arn = ?1",
        params![lease.job_arn, expires],
    )?;
    tx.commit()?;
    Ok(Lease {
        expires,
        ..lease.clone()
    })
}
