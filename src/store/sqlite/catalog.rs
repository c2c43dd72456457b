//! Row mapping of the catalog: dataset groups, datasets and their records tables.

use rusqlite::{params, Connection, OptionalExtension};

use super::{backend, packed, DbResult};
use crate::store::{Dataset, DatasetGroup, DatasetType, StoreError};

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
