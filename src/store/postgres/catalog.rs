//! The catalog in PostgreSQL: dataset groups, schemas, datasets and tags.

use deadpool_postgres::Object;
use tokio_postgres::{GenericClient, Row};

use super::DbResult;
use crate::store::{
    dataset_arn, Dataset, DatasetAttrs, DatasetGroup, DatasetType, EventTracker, GroupAttrs,
    Schema, StoreError, Tag, Tags,
};

fn group_from(r: &Row) -> DatasetGroup {
    DatasetGroup {
        dataset_group_arn: r.get(0),
        name: r.get(1),
        creation_date_time: r.get(2),
        attrs: GroupAttrs {
            role_arn: r.get(3),
            kms_key_arn: r.get(4),
            domain: r.get(5),
        },
    }
}

const GROUP_COLUMNS: &str =
    "SELECT arn, name, created, role_arn, kms_key_arn, domain FROM dataset_groups";

pub(super) async fn create_group(
    client: &mut Object,
    g: &DatasetGroup,
    tags: &[Tag],
) -> DbResult<()> {
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "INSERT INTO dataset_groups (arn, name, created, role_arn, kms_key_arn, domain)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &g.dataset_group_arn,
                &g.name,
                &g.creation_date_time,
                &g.attrs.role_arn,
                &g.attrs.kms_key_arn,
                &g.attrs.domain,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(g.dataset_group_arn.clone()));
    }
    insert_tags(&tx, &g.dataset_group_arn, tags).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn group(c: &impl GenericClient, arn: &str) -> DbResult<Option<DatasetGroup>> {
    let row = c
        .query_opt(&format!("{GROUP_COLUMNS} WHERE arn = $1"), &[&arn])
        .await?;
    Ok(row.as_ref().map(group_from))
}

/// Oldest first (by creation time, then ARN, as every backend lists them).
pub(super) async fn groups(c: &impl GenericClient) -> DbResult<Vec<DatasetGroup>> {
    let rows = c
        .query(&format!("{GROUP_COLUMNS} ORDER BY created, arn"), &[])
        .await?;
    Ok(rows.iter().map(group_from).collect())
}

pub(super) async fn delete_group(client: &mut Object, arn: &str) -> DbResult<()> {
    let tx = client.transaction().await?;
    let datasets: i64 = tx
        .query_one(
            "SELECT count(*) FROM datasets WHERE group_arn = $1",
            &[&arn],
        )
        .await?
        .get(0);
    if datasets > 0 {
        return Err(StoreError::InUse(format!(
            "the dataset group {arn} still has datasets; delete them first"
        )));
    }
    if let Some(row) = tx
        .query_opt(
            "SELECT arn FROM event_trackers WHERE group_arn = $1",
            &[&arn],
        )
        .await?
    {
        let tracker: String = row.get(0);
        return Err(StoreError::InUse(format!(
            "the dataset group {arn} still has the event tracker {tracker}; delete it first"
        )));
    }
    if tx
        .execute("DELETE FROM dataset_groups WHERE arn = $1", &[&arn])
        .await?
        == 0
    {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    tx.execute("DELETE FROM tags WHERE arn = $1", &[&arn])
        .await?;
    tx.commit().await?;
    Ok(())
}

fn dataset_from(r: &Row) -> DbResult<Dataset> {
    let t: String = r.get(1);
    Ok(Dataset {
        dataset_group_arn: r.get(0),
        dataset_type: t.parse().map_err(StoreError::Invalid)?,
        columns: r.get(2),
        attrs: DatasetAttrs {
            name: r.get(3),
            schema_arn: r.get(4),
            creation_date_time: r.get(5),
            tracking_id: r.get(6),
            latest_update: r
                .get::<_, Option<String>>(7)
                .map(|j| serde_json::from_str(&j))
                .transpose()
                .map_err(|e| StoreError::Invalid(format!("a dataset's latest update: {e}")))?,
        },
    })
}

pub(super) async fn create_dataset(client: &mut Object, d: &Dataset, tags: &[Tag]) -> DbResult<()> {
    let tx = client.transaction().await?;
    if tx
        .query_opt(
            "SELECT 1 FROM dataset_groups WHERE arn = $1 FOR SHARE",
            &[&d.dataset_group_arn],
        )
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound(d.dataset_group_arn.clone()));
    }
    if let Some(schema) = &d.attrs.schema_arn {
        if tx
            .query_opt("SELECT 1 FROM schemas WHERE arn = $1 FOR SHARE", &[schema])
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(schema.clone()));
        }
    }
    let n = tx
        .execute(
            "INSERT INTO datasets (group_arn, dataset_type, columns, name, schema_arn, created,
                                   tracking_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &d.dataset_group_arn,
                &d.dataset_type.as_str(),
                &d.columns,
                &d.attrs.name,
                &d.attrs.schema_arn,
                &d.attrs.creation_date_time,
                &d.attrs.tracking_id,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(format!(
            "{} dataset of {}",
            d.dataset_type, d.dataset_group_arn
        )));
    }
    insert_tags(&tx, &d.arn(), tags).await?;
    tx.commit().await?;
    Ok(())
}

/// In [`DatasetType::ALL`] order.
pub(super) async fn datasets(c: &impl GenericClient, group_arn: &str) -> DbResult<Vec<Dataset>> {
    let rows = c
        .query(
            "SELECT group_arn, dataset_type, columns, name, schema_arn, created, tracking_id,
                    latest_update
             FROM datasets WHERE group_arn = $1",
            &[&group_arn],
        )
        .await?;
    let mut out = rows
        .iter()
        .map(dataset_from)
        .collect::<DbResult<Vec<_>>>()?;
    out.sort_by_key(|d| DatasetType::ALL.iter().position(|t| *t == d.dataset_type));
    Ok(out)
}

/// The row id and columns of a group's dataset of type `t`.
pub(super) async fn dataset_id(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Option<(i64, Vec<String>)>> {
    let row = c
        .query_opt(
            "SELECT id, columns FROM datasets WHERE group_arn = $1 AND dataset_type = $2",
            &[&group_arn, &t.as_str()],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// [`dataset_id`], or [`StoreError::NotFound`].
pub(super) async fn require_dataset(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<(i64, Vec<String>)> {
    dataset_id(c, group_arn, t)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("{t} dataset of {group_arn}")))
}

pub(super) async fn delete_dataset(
    client: &mut Object,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<()> {
    let tx = client.transaction().await?;
    let (id, _) = require_dataset(&*tx, group_arn, t).await?;
    let records = tx
        .execute("DELETE FROM records WHERE dataset_id = $1", &[&id])
        .await?;
    if records > 0 {
        super::erase::note(&*tx, "records", 0, records).await?;
    }
    let users = tx
        .query_one(
            "WITH gone AS (DELETE FROM user_records WHERE dataset_id = $1 RETURNING n)
             SELECT count(*), coalesce(sum(n), 0)::bigint FROM gone",
            &[&id],
        )
        .await?;
    let (users, records): (i64, i64) = (users.get(0), users.get(1));
    if users > 0 {
        super::erase::note(&*tx, "user_records", users as u64, records as u64).await?;
    }
    tx.execute("DELETE FROM put_ranges WHERE dataset_id = $1", &[&id])
        .await?;
    tx.execute("DELETE FROM datasets WHERE id = $1", &[&id])
        .await?;
    tx.execute(
        "DELETE FROM tags WHERE arn = $1",
        &[&dataset_arn(group_arn, t)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn schema_from(r: &Row) -> Schema {
    Schema {
        schema_arn: r.get(0),
        name: r.get(1),
        schema: r.get(2),
        domain: r.get(3),
        creation_date_time: r.get(4),
    }
}

const SCHEMA_COLUMNS: &str = "SELECT arn, name, body, domain, created FROM schemas";

pub(super) async fn create_schema(c: &impl GenericClient, s: &Schema) -> DbResult<()> {
    let n = c
        .execute(
            "INSERT INTO schemas (arn, name, body, domain, created) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[
                &s.schema_arn,
                &s.name,
                &s.schema,
                &s.domain,
                &s.creation_date_time,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(s.schema_arn.clone()));
    }
    Ok(())
}

pub(super) async fn schema(c: &impl GenericClient, arn: &str) -> DbResult<Option<Schema>> {
    let row = c
        .query_opt(&format!("{SCHEMA_COLUMNS} WHERE arn = $1"), &[&arn])
        .await?;
    Ok(row.as_ref().map(schema_from))
}

/// Oldest first.
pub(super) async fn schemas(c: &impl GenericClient) -> DbResult<Vec<Schema>> {
    let rows = c
        .query(&format!("{SCHEMA_COLUMNS} ORDER BY seq"), &[])
        .await?;
    Ok(rows.iter().map(schema_from).collect())
}

pub(super) async fn delete_schema(client: &mut Object, arn: &str) -> DbResult<()> {
    let tx = client.transaction().await?;
    if tx
        .query_opt("SELECT 1 FROM schemas WHERE arn = $1 FOR UPDATE", &[&arn])
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    let user = tx
        .query_opt(
            "SELECT group_arn, dataset_type FROM datasets WHERE schema_arn = $1 LIMIT 1",
            &[&arn],
        )
        .await?;
    if let Some(r) = user {
        let group: String = r.get(0);
        let t: DatasetType = r.get::<_, String>(1).parse().map_err(StoreError::Invalid)?;
        return Err(StoreError::InUse(format!(
            "the schema {arn} is used by the dataset {}; delete it first",
            dataset_arn(&group, t)
        )));
    }
    tx.execute("DELETE FROM schemas WHERE arn = $1", &[&arn])
        .await?;
    tx.execute("DELETE FROM tags WHERE arn = $1", &[&arn])
        .await?;
    tx.commit().await?;
    Ok(())
}

/// In the order first set.
pub(super) async fn tags(c: &impl GenericClient, arn: &str) -> DbResult<Tags> {
    let rows = c
        .query(
            "SELECT key, value FROM tags WHERE arn = $1 ORDER BY seq",
            &[&arn],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn set_tags(client: &mut Object, arn: &str, tags: &Tags) -> DbResult<()> {
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM tags WHERE arn = $1", &[&arn])
        .await?;
    insert_tags(&tx, arn, tags).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds tags to a resource, in the caller's transaction (a new resource's, or a
/// replacement's).
pub(super) async fn insert_tags(
    c: &tokio_postgres::Transaction<'_>,
    arn: &str,
    tags: &[Tag],
) -> DbResult<()> {
    for (k, v) in tags {
        c.execute(
            "INSERT INTO tags (arn, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
            &[&arn, k, v],
        )
        .await?;
    }
    Ok(())
}

/// Replaces a dataset's columns and attributes, rewriting its records for the new columns.
pub(super) async fn update_dataset(
    client: &mut Object,
    group_arn: &str,
    t: DatasetType,
    columns: &[String],
    attrs: &DatasetAttrs,
) -> DbResult<()> {
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT id, columns FROM datasets WHERE group_arn = $1 AND dataset_type = $2 FOR UPDATE",
            &[&group_arn, &t.as_str()],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("{t} dataset of {group_arn}")))?;
    let (id, old): (i64, Vec<String>) = (row.get(0), row.get(1));
    if old != columns {
        let map = crate::store::column_map(&old, columns)?;
        super::records::remap(&tx, id, t, &old, columns, &map).await?;
    }
    let latest = attrs
        .latest_update
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "UPDATE datasets SET columns = $2, name = $3, schema_arn = $4, tracking_id = $5,
                             latest_update = $6
         WHERE id = $1",
        &[
            &id,
            &columns,
            &attrs.name,
            &attrs.schema_arn,
            &attrs.tracking_id,
            &latest,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn create_event_tracker(
    client: &mut Object,
    t: &EventTracker,
    tags: &[Tag],
) -> DbResult<()> {
    let tx = client.transaction().await?;
    let group = tx
        .query_opt(
            "SELECT 1 FROM dataset_groups WHERE arn = $1 FOR SHARE",
            &[&t.dataset_group_arn],
        )
        .await?;
    if group.is_none() {
        return Err(StoreError::NotFound(t.dataset_group_arn.clone()));
    }
    let n = tx
        .execute(
            "INSERT INTO event_trackers (arn, tracking_id, group_arn, name, created)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &t.event_tracker_arn,
                &t.tracking_id,
                &t.dataset_group_arn,
                &t.name,
                &t.creation_date_time,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(t.event_tracker_arn.clone()));
    }
    insert_tags(&tx, &t.event_tracker_arn, tags).await?;
    tx.commit().await?;
    Ok(())
}

/// Oldest first.
pub(super) async fn event_trackers(c: &impl GenericClient) -> DbResult<Vec<EventTracker>> {
    let rows = c
        .query(
            "SELECT arn, tracking_id, group_arn, name, created FROM event_trackers ORDER BY seq",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EventTracker {
            event_tracker_arn: r.get(0),
            tracking_id: r.get(1),
            dataset_group_arn: r.get(2),
            name: r.get(3),
            creation_date_time: r.get(4),
        })
        .collect())
}

pub(super) async fn delete_event_tracker(client: &mut Object, arn: &str) -> DbResult<()> {
    let tx = client.transaction().await?;
    if tx
        .execute("DELETE FROM event_trackers WHERE arn = $1", &[&arn])
        .await?
        == 0
    {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    tx.execute("DELETE FROM tags WHERE arn = $1", &[&arn])
        .await?;
    tx.commit().await?;
    Ok(())
}
