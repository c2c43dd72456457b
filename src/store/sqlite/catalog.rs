//! The catalog: dataset groups, datasets and their records tables, event trackers; their
//! transactions and row mapping.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{backend, packed, DbResult};
use crate::store::{Dataset, DatasetGroup, DatasetType, EventTracker, StoreError, Tag};

/// `NotFound` unless the group `arn` exists.
pub(super) fn require_group(conn: &Connection, arn: &str) -> DbResult<()> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM dataset_groups WHERE arn = ?1",
            params![arn],
            |r| r.get(0),
        )
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(arn.to_owned())),
    }
}

/// Creates a group and its tags; `AlreadyExists` when its ARN is taken.
pub(super) fn create_group(
    conn: &mut Connection,
    group: &DatasetGroup,
    tags: &[Tag],
) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "INSERT INTO dataset_groups (arn, name, created, attrs) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![
            group.dataset_group_arn,
            group.name,
            group.creation_date_time,
            serde_json::to_string(&group.attrs).map_err(backend)?
        ],
    )?;
    if n == 0 {
        return Err(StoreError::AlreadyExists(group.dataset_group_arn.clone()));
    }
    insert_tags(&tx, &group.dataset_group_arn, tags)?;
    tx.commit()?;
    Ok(())
}

/// Deletes a group that has no datasets and no event tracker left, and its tags.
pub(super) fn delete_group(conn: &mut Connection, arn: &str) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let datasets: i64 = tx.query_row(
        "SELECT count(*) FROM datasets WHERE group_arn = ?1",
        params![arn],
        |r| r.get(0),
    )?;
    if datasets > 0 {
        return Err(StoreError::InUse(format!(
            "the dataset group {arn} still has datasets; delete them first"
        )));
    }
    let tracker: Option<String> = tx
        .query_row(
            "SELECT arn FROM event_trackers WHERE group_arn = ?1",
            params![arn],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(tracker) = tracker {
        return Err(StoreError::InUse(format!(
            "the dataset group {arn} still has the event tracker {tracker}; delete it first"
        )));
    }
    if tx.execute("DELETE FROM dataset_groups WHERE arn = ?1", params![arn])? == 0 {
        return Err(StoreError::NotFound(arn.to_owned()));
    }
    delete_tags(&tx, arn)?;
    tx.commit()?;
    Ok(())
}

/// Creates a dataset (its group and schema must exist, its type must be new in the group),
/// its records table and its tags.
pub(super) fn create_dataset(conn: &mut Connection, d: &Dataset, tags: &[Tag]) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_group(&tx, &d.dataset_group_arn)?;
    if let Some(schema) = &d.attrs.schema_arn {
        let found: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM schemas WHERE arn = ?1",
                params![schema],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Err(StoreError::NotFound(schema.clone()));
        }
    }
    if dataset_row(&tx, &d.dataset_group_arn, d.dataset_type)?.is_some() {
        return Err(StoreError::AlreadyExists(format!(
            "{} dataset of {}",
            d.dataset_type, d.dataset_group_arn
        )));
    }
    tx.execute(
        "INSERT INTO datasets (group_arn, dataset_type, columns, attrs) VALUES (?1, ?2, ?3, ?4)",
        params![
            d.dataset_group_arn,
            d.dataset_type.as_str(),
            serde_json::to_string(&d.columns).map_err(backend)?,
            serde_json::to_string(&d.attrs).map_err(backend)?
        ],
    )?;
    create_records_table(&tx, tx.last_insert_rowid(), d.dataset_type, &d.columns)?;
    insert_tags(&tx, &d.arn(), tags)?;
    tx.commit()?;
    Ok(())
}

/// Creates an event tracker and its tags: one a group, its ARN and tracking ID unique.
pub(super) fn create_tracker(
    conn: &mut Connection,
    t: &EventTracker,
    tags: &[Tag],
) -> DbResult<()> {
    let body = serde_json::to_string(t).map_err(backend)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_group(&tx, &t.dataset_group_arn)?;
    let taken: Option<String> = tx
        .query_row(
            "SELECT arn FROM event_trackers
             WHERE arn = ?1 OR tracking_id = ?2 OR group_arn = ?3",
            params![t.event_tracker_arn, t.tracking_id, t.dataset_group_arn],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(arn) = taken {
        return Err(StoreError::AlreadyExists(arn));
    }
    tx.execute(
        "INSERT INTO event_trackers (arn, tracking_id, group_arn, body) VALUES (?1, ?2, ?3, ?4)",
        params![
            t.event_tracker_arn,
            t.tracking_id,
            t.dataset_group_arn,
            body
        ],
    )?;
    insert_tags(&tx, &t.event_tracker_arn, tags)?;
    tx.commit()?;
    Ok(())
}

pub(super) const GROUP_COLUMNS: &str = "SELECT arn, name, created, attrs FROM dataset_groups";

pub(super) type GroupRow = (String, String, f64, String);

pub(super) fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

pub(super) fn group_from_row((arn, name, created, attrs): GroupRow) -> DbResult<DatasetGroup> {
    Ok(DatasetGroup {
        dataset_group_arn: arn,
        name,
        creation_date_time: created,
        attrs: serde_json::from_str(&attrs).map_err(backend)?,
    })
}

/// A dataset's row id and its column names.
pub(super) fn dataset_row(
    conn: &Connection,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Option<(i64, Vec<String>)>> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, columns FROM datasets WHERE group_arn = ?1 AND dataset_type = ?2",
        )?
        .query_row(params![group_arn, t.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match row {
        None => Ok(None),
        Some((id, cols)) => Ok(Some((id, serde_json::from_str(&cols).map_err(backend)?))),
    }
}

/// A dataset with everything recorded about it.
pub(super) fn dataset_full(
    conn: &Connection,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<Option<Dataset>> {
    let row: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT columns, attrs FROM datasets WHERE group_arn = ?1 AND dataset_type = ?2",
        )?
        .query_row(params![group_arn, t.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    row.map(|(cols, attrs)| {
        Ok(Dataset {
            dataset_group_arn: group_arn.to_owned(),
            dataset_type: t,
            columns: serde_json::from_str(&cols).map_err(backend)?,
            attrs: serde_json::from_str(&attrs).map_err(backend)?,
        })
    })
    .transpose()
}

/// Adds tags to a resource, in the caller's transaction.
pub(super) fn insert_tags(
    conn: &Connection,
    arn: &str,
    tags: &[crate::store::Tag],
) -> DbResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
    )?;
    for (k, v) in tags {
        insert.execute(params![arn, k, v])?;
    }
    Ok(())
}

pub(super) fn delete_tags(conn: &Connection, arn: &str) -> DbResult<()> {
    conn.execute("DELETE FROM tags WHERE arn = ?1", params![arn])?;
    Ok(())
}

pub(super) fn require_dataset(
    conn: &Connection,
    group_arn: &str,
    t: DatasetType,
) -> DbResult<(i64, Vec<String>)> {
    dataset_row(conn, group_arn, t)?
        .ok_or_else(|| StoreError::NotFound(format!("{t} dataset of {group_arn}")))
}

pub(super) fn key_index(t: DatasetType, columns: &[String]) -> usize {
    columns
        .iter()
        .position(|c| c == t.key_column())
        .unwrap_or(0)
}

pub(super) fn create_records_table(
    conn: &Connection,
    id: i64,
    t: DatasetType,
    columns: &[String],
) -> DbResult<()> {
    if t.holds_users() {
        return packed::create_table(conn, id);
    }
    let cols: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE records_{id} (seq INTEGER PRIMARY KEY, {});
         CREATE INDEX records_{id}_key ON records_{id} (c{});",
        cols.join(", "),
        key_index(t, columns)
    ))?;
    Ok(())
}

/// Rewrites a dataset's records for new columns (`map`: for each new column, the old one
/// holding its values): a packed table blob by blob (a compaction ran first, so no
/// tombstones are left), a plain one copied into a table of the new width.
pub(super) fn remap_records(
    conn: &Connection,
    id: i64,
    t: DatasetType,
    old: &[String],
    new: &[String],
    map: &[Option<usize>],
) -> DbResult<()> {
    if t.holds_users() {
        let (old_key, new_key) = (key_index(t, old), key_index(t, new));
        let to = Some((map, new_key));
        return packed::rewrite_users(conn, id, (old.len(), old_key), |_| true, to);
    }
    let cols: Vec<String> = (0..new.len()).map(|i| format!("c{i}")).collect();
    let sources: Vec<String> = map
        .iter()
        .map(|i| i.map_or("NULL".to_owned(), |i| format!("c{i}")))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE records_{id}_new (seq INTEGER PRIMARY KEY, {cols});
         INSERT INTO records_{id}_new (seq, {cols}) SELECT seq, {sources} FROM records_{id};
         DROP TABLE records_{id};
         ALTER TABLE records_{id}_new RENAME TO records_{id};
         CREATE INDEX records_{id}_key ON records_{id} (c{key});",
        cols = cols.join(", "),
        sources = sources.join(", "),
        key = key_index(t, new),
    ))?;
    Ok(())
}
