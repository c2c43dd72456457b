//! Versioned migrations of the SQLite file, run when it is opened: each in its own
//! immediate transaction, which also makes them safe when several processes open one file
//! at once (the second waits, then finds the work done). Applied migrations are never edited.

use rusqlite::{params, Connection, TransactionBehavior};

use super::{backend, key_index, packed, DbResult};
use crate::store::{DatasetType, StoreError};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 11;

pub(super) const MIGRATION_1: &str = "
CREATE TABLE dataset_groups (
    arn      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    created  REAL NOT NULL
);
CREATE TABLE datasets (
    id           INTEGER PRIMARY KEY,
    group_arn    TEXT NOT NULL REFERENCES dataset_groups(arn),
    dataset_type TEXT NOT NULL,
    columns      TEXT NOT NULL,
    UNIQUE (group_arn, dataset_type)
);
CREATE TABLE data_deletion_jobs (
    seq       INTEGER PRIMARY KEY,
    arn       TEXT NOT NULL UNIQUE,
    group_arn TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX data_deletion_jobs_group ON data_deletion_jobs (group_arn, seq);
";

/// Dataset groups keep the API's optional members (role, KMS key, domain, tags) as JSON.
pub(super) const MIGRATION_2: &str =
    "ALTER TABLE dataset_groups ADD COLUMN attrs TEXT NOT NULL DEFAULT '{}';";

/// Schemas; datasets keep their name, schema and creation time as JSON; tags move out of the
/// groups' attributes into one table for every kind of resource.
pub(super) const MIGRATION_3: &str = "
ALTER TABLE datasets ADD COLUMN attrs TEXT NOT NULL DEFAULT '{}';
CREATE TABLE schemas (
    arn  TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
INSERT INTO tags (arn, key, value)
    SELECT g.arn, json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]')
    FROM dataset_groups g, json_each(g.attrs, '$.tags') t;
UPDATE dataset_groups SET attrs = json_remove(attrs, '$.tags');
";

/// Dataset import jobs, kept like data deletion jobs.
pub(super) const MIGRATION_4: &str = "
CREATE TABLE dataset_import_jobs (
    seq         INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    dataset_arn TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX dataset_import_jobs_dataset ON dataset_import_jobs (dataset_arn, seq);
";

/// Dataset export jobs, kept like import jobs.
pub(super) const MIGRATION_5: &str = "
CREATE TABLE dataset_export_jobs (
    seq         INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    dataset_arn TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX dataset_export_jobs_dataset ON dataset_export_jobs (dataset_arn, seq);
";

/// Records of user-bearing datasets move to the packed layout (done in [`migrate_to_packed`]);
/// each dataset remembers the last load sequence number it gave.
pub(super) const MIGRATION_6: &str =
    "ALTER TABLE datasets ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 0;";

/// Event trackers (at most one per group, each found by its tracking ID), and the runs of
/// sequence numbers of records put one by one ([`crate::store::origin`]).
pub(super) const MIGRATION_9: &str = "
CREATE TABLE put_ranges (
    dataset_id INTEGER NOT NULL,
    first      INTEGER NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (dataset_id, first)
) WITHOUT ROWID;
CREATE TABLE event_trackers (
    seq         INTEGER PRIMARY KEY,
    arn         TEXT NOT NULL UNIQUE,
    tracking_id TEXT NOT NULL UNIQUE,
    group_arn   TEXT NOT NULL UNIQUE REFERENCES dataset_groups(arn),
    body        TEXT NOT NULL
);
";

/// Erasure zeroes the pages each write touched ([`super::compact::erase`]), which holds once
/// every write ran with `secure_delete`: a file written before is rewritten whole, once, by
/// the next compaction ([`migrate`] notes it). `erasures` counts the erasures (its commit
/// tells other processes' connections to drop the pages they cached).
pub(super) const MIGRATION_11: &str = "
CREATE TABLE erasures (n INTEGER NOT NULL);
INSERT INTO erasures (n) VALUES (0);
";

/// Brings the file's schema up to date, one immediate transaction per version. Processes
/// that open the same file at once each take the write lock in turn for each step, and read
/// the version again inside it: the second finds the step done and skips it.
pub(super) fn migrate(conn: &mut Connection) -> DbResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "the database was written by a newer personalize-local (schema {version}, this one knows {SCHEMA_VERSION})"
        )));
    }
    for (to, sql) in [
        (1, MIGRATION_1),
        (2, MIGRATION_2),
        (3, MIGRATION_3),
        (4, MIGRATION_4),
        (5, MIGRATION_5),
        (6, MIGRATION_6),
        (7, super::jobs::MIGRATION_7),
        (8, super::directory::MIGRATION_8),
        (9, MIGRATION_9),
        (10, super::resources::MIGRATION_10),
        (11, MIGRATION_11),
    ] {
        if version < to {
            // Another process opening the same file may have done this step meanwhile:
            // the version read inside the write lock says.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now >= to {
                continue;
            }
            tx.execute_batch(sql)?;
            if to == 6 {
                migrate_to_packed(&tx)?;
            }
            if to == 8 {
                build_directories(&tx)?;
            }
            if to == 11 && version > 0 {
                super::compact::erasure_due(&tx)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {to}"))?;
            tx.commit()?;
        }
    }
    Ok(())
}

/// Converts every user-bearing dataset's table to the packed layout.
fn migrate_to_packed(conn: &Connection) -> DbResult<()> {
    let datasets: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, dataset_type, columns FROM datasets")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, t, columns) in datasets {
        let t: DatasetType = t.parse().map_err(StoreError::Invalid)?;
        if !t.holds_users() {
            continue;
        }
        let columns: Vec<String> = serde_json::from_str(&columns).map_err(backend)?;
        let last = packed::convert_from_rows(conn, id, columns.len(), key_index(t, &columns))?;
        conn.execute(
            "UPDATE datasets SET next_seq = ?2 WHERE id = ?1",
            params![id, last as i64],
        )?;
    }
    Ok(())
}

/// Builds the directory of every user-bearing dataset.
fn build_directories(conn: &Connection) -> DbResult<()> {
    let datasets: Vec<(i64, String)> = conn
        .prepare("SELECT id, dataset_type FROM datasets")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, t) in datasets {
        let t: DatasetType = t.parse().map_err(StoreError::Invalid)?;
        if t.holds_users() {
            super::directory::build(conn, id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::store::sqlite::{SqliteStore, DB_FILE};
    use crate::store::{DatasetStore, RowBatch};

    /// A database of schema 2 kept a group's tags in its attributes; opening it moves them to
    /// the tags table and keeps everything else.
    #[tokio::test]
    async fn schema_2_tags_move_to_the_tags_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let arn = "arn:aws:personalize:us-east-1:000000000000:dataset-group/old";
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATION_1).unwrap();
            conn.execute_batch(MIGRATION_2).unwrap();
            conn.execute(
                "INSERT INTO dataset_groups (arn, name, created, attrs) VALUES (?1, 'old', 2.0, ?2)",
                params![arn, r#"{"domain":"ECOMMERCE","tags":[["team","data"],["env","ci"]]}"#],
            )
            .unwrap();
            conn.execute_batch("PRAGMA user_version = 2").unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let group = store.dataset_group(arn).await.unwrap().unwrap();
        assert_eq!(group.attrs.domain.as_deref(), Some("ECOMMERCE"));
        assert_eq!(
            store.tags(arn).await.unwrap(),
            vec![
                ("team".to_string(), "data".to_string()),
                ("env".to_string(), "ci".to_string())
            ]
        );
        let attrs: String = store
            .with_conn(move |c| {
                Ok(c.query_row("SELECT attrs FROM dataset_groups", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert!(!attrs.contains("tags"), "{attrs}");
    }

    /// A database of schema 5 kept one row per record; opening it packs the records of
    /// user-bearing datasets by user and keeps their load order and counts.
    #[tokio::test]
    async fn schema_5_records_are_packed_by_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let group = "arn:aws:personalize:us-east-1:000000000000:dataset-group/old";
        {
            let conn = Connection::open(&path).unwrap();
            for sql in [
                MIGRATION_1,
                MIGRATION_2,
                MIGRATION_3,
                MIGRATION_4,
                MIGRATION_5,
            ] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute(
                "INSERT INTO dataset_groups (arn, name, created) VALUES (?1, 'old', 1.0)",
                params![group],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO datasets (id, group_arn, dataset_type, columns) VALUES (1, ?1, 'Interactions', ?2)",
                params![group, r#"["ITEM_ID","USER_ID","TIMESTAMP"]"#],
            )
            .unwrap();
            conn.execute_batch(
                "CREATE TABLE records_1 (seq INTEGER NOT NULL, c0, c1 TEXT NOT NULL, c2, PRIMARY KEY (c1, seq)) WITHOUT ROWID;
                 INSERT INTO records_1 VALUES (1, 'i1', 'u2', '10'), (2, 'i2', 'u1', '11'), (3, 'i3', 'u2', NULL);
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let t = DatasetType::Interactions;
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        assert_eq!(
            store.records(group, t).await.unwrap(),
            vec![
                row("i1", "u2", "10"),
                row("i2", "u1", "11"),
                row("i3", "u2", "")
            ]
        );
        assert_eq!(store.count_records(group, t).await.unwrap(), 3);
        // New records continue the load order.
        let mut batch = RowBatch::new(3);
        batch.push_row(["i4", "u1", "12"]);
        let batches = futures::stream::iter(vec![Ok(batch)]).boxed();
        store.append_records(group, t, batches).await.unwrap();
        assert_eq!(
            store.records(group, t).await.unwrap().last(),
            Some(&row("i4", "u1", "12"))
        );
    }

    /// `fixtures/sqlite/schema-6.sqlite` was written by the release before the job queue
    /// (schema 6: one table and the API's JSON per job kind), through its API: a group with
    /// tags, two schemas, Users and Interactions datasets loaded by import jobs (one of them
    /// failed), an export job, a completed data deletion job that purged `u2`, and a pending
    /// one. Opening it keeps every group, dataset, record and job.
    #[tokio::test]
    async fn a_file_of_schema_6_keeps_everything() {
        use crate::jobs::model::{ImportMode, JobKind, JobSpec, JobStatus};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/sqlite/schema-6.sqlite"
        );
        std::fs::copy(fixture, &path).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // Written before `secure_delete` was on: the first compaction rewrites the whole
        // file, once (its free pages may hold what earlier deletes left).
        assert!(store.compact().await.unwrap().vacuumed);
        assert!(!store.compact().await.unwrap().vacuumed);

        let g = "arn:aws:personalize:us-east-1:000000000000:dataset-group/old-group";
        let group = store.dataset_group(g).await.unwrap().unwrap();
        assert_eq!(group.name, "old-group");
        assert_eq!(
            store.tags(g).await.unwrap(),
            vec![("team".to_string(), "data".to_string())]
        );
        assert_eq!(store.list_schemas().await.unwrap().len(), 2);
        let types: Vec<DatasetType> = store
            .datasets(g)
            .await
            .unwrap()
            .iter()
            .map(|d| d.dataset_type)
            .collect();
        assert_eq!(types, [DatasetType::Interactions, DatasetType::Users]);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            store.records(g, DatasetType::Users).await.unwrap(),
            vec![s(&["u1", "31"]), s(&["u3", ""])]
        );
        assert_eq!(
            store.records(g, DatasetType::Interactions).await.unwrap(),
            vec![
                s(&["u1", "i1", "100"]),
                s(&["u1", "i3", "102"]),
                s(&["u3", "i1", "103"])
            ]
        );

        let names = |jobs: Vec<crate::jobs::Job>| {
            jobs.into_iter()
                .map(|j| (j.name.clone(), j.service_status()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(store.list_jobs(JobKind::Deletion, Some(g)).await.unwrap()),
            [
                ("old-pending".to_string(), "PENDING"),
                ("old-deletion".to_string(), "COMPLETED")
            ]
        );
        let done = store
            .job("arn:aws:personalize:us-east-1:000000000000:data-deletion-job/old-deletion")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.num_deleted, Some(2));
        assert_eq!(
            done.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/r")
        );
        assert_eq!(
            done.spec,
            JobSpec::Deletion {
                dataset_group_arn: g.to_owned(),
                data_location: "s3://old-bucket/del/".to_owned(),
                dry_run: false,
            }
        );
        assert_eq!(
            names(store.list_jobs(JobKind::Import, None).await.unwrap()),
            [
                ("old-import-failed".to_string(), "CREATE FAILED"),
                ("old-import-inter".to_string(), "ACTIVE"),
                ("old-import-users".to_string(), "ACTIVE")
            ]
        );
        let failed = store
            .job("arn:aws:personalize:us-east-1:000000000000:dataset-import-job/old-import-failed")
            .await
            .unwrap()
            .unwrap();
        assert!(
            failed
                .failure_reason
                .as_deref()
                .unwrap()
                .contains("does not match the columns"),
            "{failed:?}"
        );
        assert!(matches!(
            failed.spec,
            JobSpec::Import {
                import_mode: ImportMode::Incremental,
                ..
            }
        ));
        let exports = store.list_jobs(JobKind::Export, None).await.unwrap();
        assert_eq!(exports.len(), 1);
        assert_eq!(
            exports[0].spec,
            JobSpec::Export {
                dataset_arn:
                    "arn:aws:personalize:us-east-1:000000000000:dataset/old-group/INTERACTIONS"
                        .to_owned(),
                ingestion_mode: "BULK".to_owned(),
                path: "s3://old-bucket/out/".to_owned(),
                kms_key_arn: None
            }
        );
        // The pending job is the one a worker claims now, and it runs like a new one.
        let (job, _) = store
            .claim_next("w", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.name, "old-pending");
        assert_eq!(job.status, JobStatus::InProgress);
        assert!(store
            .claim_next("w", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .is_none());
        // A batch of rows loads as before.
        let mut batch = RowBatch::new(2);
        batch.push_row(["u9", "50"]);
        let batches = futures::stream::iter(vec![Ok(batch)]).boxed();
        store
            .append_records(g, DatasetType::Users, batches)
            .await
            .unwrap();
        assert_eq!(store.count_records(g, DatasetType::Users).await.unwrap(), 3);
    }
}
