//! Resources of every other kind and their blobs ([`crate::store::resource`]): one row per
//! resource in `resources`, its body as JSON text, and one row per blob in `blobs`.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::catalog::{delete_tags, insert_tags};
use super::{backend, jobs, DbResult};
use crate::store::{Blob, JobCommit, Resource, StoreError, Tag};

/// Schema 10: the two tables.
pub(super) const MIGRATION_10: &str = "
CREATE TABLE resources (
    seq     INTEGER PRIMARY KEY,
    arn     TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    parent  TEXT,
    status  TEXT NOT NULL,
    body    TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX resources_by_kind ON resources (kind, parent, created);
CREATE TABLE blobs (
    arn  TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
";

const COLUMNS: &str = "arn, kind, parent, status, body, created";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Resource, String)> {
    Ok((
        Resource {
            arn: r.get(0)?,
            kind: r.get(1)?,
            parent: r.get(2)?,
            status: r.get(3)?,
            body: serde_json::Value::Null,
            created: r.get(5)?,
        },
        r.get(4)?,
    ))
}

fn parsed((mut resource, body): (Resource, String)) -> DbResult<Resource> {
    resource.body = serde_json::from_str(&body).map_err(backend)?;
    Ok(resource)
}

pub(super) fn create(conn: &mut Connection, r: &Resource, tags: &[Tag]) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "INSERT INTO resources (arn, kind, parent, status, body, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        params![
            r.arn,
            r.kind,
            r.parent,
            r.status,
            r.body.to_string(),
            r.created
        ],
    )?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(r.arn.clone()));
    }
    insert_tags(&tx, &r.arn, tags)?;
    tx.commit()?;
    Ok(())
}

pub(super) fn get(conn: &Connection, arn: &str) -> DbResult<Option<Resource>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM resources WHERE arn = ?1"))?
        .query_row(params![arn], from_row)
        .optional()?
        .map(parsed)
        .transpose()
}

pub(super) fn list(conn: &Connection, kind: &str, parent: Option<&str>) -> DbResult<Vec<Resource>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM resources WHERE kind = ?1 AND (?2 IS NULL OR parent = ?2)
         ORDER BY created, arn"
    ))?;
    let rows = stmt
        .query_map(params![kind, parent], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(parsed).collect()
}

pub(super) fn write(
    conn: &mut Connection,
    resources: &[Resource],
    blobs: &[Blob],
    commit: Option<&JobCommit>,
) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if let Some(c) = commit {
        jobs::check_held(&tx, &c.lease)?;
    }
    for r in resources {
        tx.execute(
            "INSERT INTO resources (arn, kind, parent, status, body, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (arn) DO UPDATE SET kind = excluded.kind, parent = excluded.parent,
                 status = excluded.status, body = excluded.body, created = excluded.created",
            params![
                r.arn,
                r.kind,
                r.parent,
                r.status,
                r.body.to_string(),
                r.created
            ],
        )?;
    }
    for b in blobs {
        tx.execute(
            "INSERT INTO blobs (arn, data) VALUES (?1, ?2)
             ON CONFLICT (arn) DO UPDATE SET data = excluded.data",
            params![b.arn, &b.bytes[..]],
        )?;
    }
    if let Some(c) = commit {
        jobs::write_final(&tx, &c.job.clone().succeeded(None), &c.lease)?;
    }
    crate::store::failpoint("resources-before-commit");
    tx.commit()?;
    crate::store::failpoint("resources-after-commit");
    Ok(())
}

pub(super) fn delete(conn: &mut Connection, arn: &str) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let n = tx.execute("DELETE FROM resources WHERE arn = ?1", params![arn])?;
    if n == 0 {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    // A model may hold what it was trained on: `secure_delete` and the next erasure take
    // its bytes out of the file.
    tx.execute("DELETE FROM blobs WHERE arn = ?1", params![arn])?;
    delete_tags(&tx, arn)?;
    tx.commit()?;
    Ok(())
}

pub(super) fn blob(conn: &Connection, arn: &str) -> DbResult<Option<bytes::Bytes>> {
    Ok(conn
        .query_row("SELECT data FROM blobs WHERE arn = ?1", params![arn], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .optional()?
        .map(bytes::Bytes::from))
}
