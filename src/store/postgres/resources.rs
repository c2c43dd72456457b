//! Resources of every other kind and their blobs ([`crate::store::resource`]): `resources`
//! (the body as JSON text) and `blobs` (`bytea`).

use deadpool_postgres::Object;
use tokio_postgres::{GenericClient, Row};

use super::catalog::insert_tags;
use super::{jobs, DbResult};
use crate::store::{Blob, JobCommit, Resource, StoreError, Tag};

/// Migration 3: the two tables.
pub(super) const MIGRATION_3: &str = r#"
CREATE TABLE resources (
    seq     BIGSERIAL NOT NULL,
    arn     TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    parent  TEXT,
    status  TEXT NOT NULL,
    body    TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE INDEX resources_by_kind ON resources (kind, parent, created);
CREATE TABLE blobs (
    arn  TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);
"#;

const COLUMNS: &str = "arn, kind, parent, status, body, created";

fn from_row(r: &Row) -> DbResult<Resource> {
    let body: String = r.get(4);
    Ok(Resource {
        arn: r.get(0),
        kind: r.get(1),
        parent: r.get(2),
        status: r.get(3),
        body: serde_json::from_str(&body).map_err(super::backend)?,
        created: r.get(5),
    })
}

pub(super) async fn create(client: &mut Object, r: &Resource, tags: &[Tag]) -> DbResult<()> {
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "INSERT INTO resources (arn, kind, parent, status, body, created)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &r.arn,
                &r.kind,
                &r.parent,
                &r.status,
                &r.body.to_string(),
                &r.created,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(r.arn.clone()));
    }
    insert_tags(&tx, &r.arn, tags).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(c: &impl GenericClient, arn: &str) -> DbResult<Option<Resource>> {
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM resources WHERE arn = $1"),
            &[&arn],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn list(
    c: &impl GenericClient,
    kind: &str,
    parent: Option<&str>,
) -> DbResult<Vec<Resource>> {
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM resources
                 WHERE kind = $1 AND ($2::text IS NULL OR parent = $2)
                 ORDER BY created, arn COLLATE \"C\""
            ),
            &[&kind, &parent],
        )
        .await?;
    rows.iter().map(from_row).collect()
}

pub(super) async fn write(
    client: &mut Object,
    resources: &[Resource],
    blobs: &[Blob],
    commit: Option<&JobCommit>,
) -> DbResult<()> {
    let tx = client.transaction().await?;
    if let Some(c) = commit {
        jobs::check_held(&*tx, &c.lease).await?;
    }
    for r in resources {
        tx.execute(
            "INSERT INTO resources (arn, kind, parent, status, body, created)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (arn) DO UPDATE SET kind = excluded.kind, parent = excluded.parent,
                     status = excluded.status, body = excluded.body, created = excluded.created",
            &[
                &r.arn,
                &r.kind,
                &r.parent,
                &r.status,
                &r.body.to_string(),
                &r.created,
            ],
        )
        .await?;
    }
    for b in blobs {
        tx.execute(
            "INSERT INTO blobs (arn, data) VALUES ($1, $2)
             ON CONFLICT (arn) DO UPDATE SET data = excluded.data",
            &[&b.arn, &&b.bytes[..]],
        )
        .await?;
    }
    if let Some(c) = commit {
        jobs::write_final(&*tx, &c.job.clone().succeeded(None), &c.lease).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete(client: &mut Object, arn: &str) -> DbResult<()> {
    let tx = client.transaction().await?;
    let n = tx
        .execute("DELETE FROM resources WHERE arn = $1", &[&arn])
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    // A model may hold what it was trained on: its bytes leave the files too.
    if tx
        .execute("DELETE FROM blobs WHERE arn = $1", &[&arn])
        .await?
        > 0
    {
        super::erase::note(&*tx, "blobs", 0, 0).await?;
    }
    tx.execute("DELETE FROM tags WHERE arn = $1", &[&arn])
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn blob(c: &impl GenericClient, arn: &str) -> DbResult<Option<bytes::Bytes>> {
    let row = c
        .query_opt("SELECT data FROM blobs WHERE arn = $1", &[&arn])
        .await?;
    Ok(row.map(|r| bytes::Bytes::from(r.get::<_, Vec<u8>>(0))))
}
