//! Tests of the SQLite backend as a whole: the conformance suite, reopening, checkpoints.
use super::*;

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    crate::store::conformance::run_all(&store).await;
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let group = DatasetGroup {
        name: "g".into(),
        dataset_group_arn: "arn:aws:personalize:us-east-1:000000000000:dataset-group/g".into(),
        creation_date_time: 1.5,
        attrs: crate::store::GroupAttrs {
            role_arn: Some("arn:aws:iam::000000000000:role/r".into()),
            kms_key_arn: None,
            domain: Some("ECOMMERCE".into()),
        },
    };
    let tags = vec![("k".to_string(), "v".to_string())];
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        store.create_dataset_group(&group).await.unwrap();
        store
            .set_tags(&group.dataset_group_arn, &tags)
            .await
            .unwrap();
    }
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(
        store.dataset_group(&group.dataset_group_arn).await.unwrap(),
        Some(group.clone())
    );
    assert_eq!(store.tags(&group.dataset_group_arn).await.unwrap(), tags);
}

/// A large write commits without copying its pages into the database file; the
/// connection's automatic checkpoint is back for everything else, and `compact`
/// empties the write-ahead log.
#[tokio::test]
async fn large_writes_leave_the_checkpoint_to_compact() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let seen = store
        .with_large_write(|c| {
            c.execute_batch("CREATE TABLE big (b BLOB)")?;
            Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0))?)
        })
        .await
        .unwrap();
    assert_eq!(seen, 0);
    let after: i64 = store
        .with_conn(|c| Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(after, AUTOCHECKPOINT_PAGES);
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    assert!(store.compact().await.unwrap().checkpointed);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    let reopened = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let tables: i64 = reopened
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'big'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1);
}
