//! Tests of the SQLite backend as a whole: the conformance suite, reopening, checkpoints.
use super::*;
use std::path::Path;

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
        store.create_dataset_group(&group, &[]).await.unwrap();
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

/// No write copies its pages into the database file by itself (SQLite's automatic
/// checkpoint and its checkpoint at close are off): they stay in the write-ahead log, which
/// lists them for the erasure, until `compact` erases and empties it.
#[tokio::test]
async fn only_the_erasure_copies_the_log_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    {
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let pragmas = store
            .with_conn(|c| {
                c.execute_batch("CREATE TABLE big (b BLOB)")?;
                let auto: i64 = c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
                let secure: i64 = c.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
                Ok((auto, secure))
            })
            .await
            .unwrap();
        assert_eq!(pragmas, (0, 1));
    }
    // Closed: the log is still there, with the table's pages.
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let done = store.compact().await.unwrap();
    assert!(done.checkpointed && done.pages_erased > 0, "{done:?}");
    // A new file was written with `secure_delete` from the start: no rewrite is due.
    assert!(!done.vacuumed);
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

/// Every file of the data dir, as bytes.
fn dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(f.unwrap().path()).unwrap());
    }
    all
}

/// An incremental load that erases a dataset's tombstones before any compaction leaves the
/// vacuum due: the next compaction rebuilds the file, and no deleted record's bytes remain.
#[tokio::test]
async fn a_load_that_erases_tombstones_leaves_the_vacuum_due() {
    use crate::jobs::model::JobSpec;
    use crate::store::{ArnScope, Dataset, DatasetAttrs, RowBatch};
    use futures::StreamExt;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let scope = ArnScope::default();
    let g = DatasetGroup {
        name: "erase".into(),
        dataset_group_arn: scope.dataset_group_arn("erase"),
        ..DatasetGroup::default()
    };
    store.create_dataset_group(&g, &[]).await.unwrap();
    let arn = &g.dataset_group_arn;
    let rows = |t: DatasetType, rows: Vec<Vec<String>>| {
        let mut b = RowBatch::new(rows[0].len());
        for r in &rows {
            b.push_row(r.iter().map(String::as_str));
        }
        (t, futures::stream::iter(vec![Ok(b)]).boxed())
    };
    for (t, cols) in [
        (DatasetType::Users, vec!["USER_ID", "NOTE"]),
        (
            DatasetType::Interactions,
            vec!["USER_ID", "ITEM_ID", "NOTE"],
        ),
    ] {
        let d = Dataset {
            dataset_group_arn: arn.clone(),
            dataset_type: t,
            columns: cols.iter().map(|c| c.to_string()).collect(),
            attrs: DatasetAttrs::default(),
        };
        store.create_dataset(&d, &[]).await.unwrap();
    }
    let user = |i: usize| format!("u{i:04}");
    let (t, b) = rows(
        DatasetType::Users,
        (0..400)
            .map(|i| vec![user(i), format!("MARKu{i:04}")])
            .collect(),
    );
    store.replace_records(arn, t, b).await.unwrap();
    let (t, b) = rows(
        DatasetType::Interactions,
        (0..400)
            .map(|i| vec![user(i), "i1".into(), format!("MARKi{i:04}")])
            .collect(),
    );
    store.replace_records(arn, t, b).await.unwrap();
    store.compact().await.unwrap();

    let job = Job::new(
        scope.job_arn(JobKind::Deletion, "erase"),
        "erase",
        JobSpec::Deletion {
            dataset_group_arn: arn.clone(),
            data_location: "s3://b/erase/".into(),
            dry_run: false,
        },
    );
    store.create_job(&job, &[]).await.unwrap();
    let (job, lease) = store
        .claim(Claim::Job(&job.arn), "w", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    // The users u0000..u0099 go; the loads that follow erase their tombstones.
    let ids: UserIds = (0..100)
        .map(user)
        .collect::<Vec<_>>()
        .iter()
        .map(String::as_str)
        .collect();
    let (counts, _) = store
        .purge_users(arn, Arc::new(ids), JobCommit { job, lease })
        .await
        .unwrap();
    assert_eq!(counts.total(), 200);
    for (t, row) in [
        (DatasetType::Users, vec![user(300), "MARKu0300".into()]),
        (
            DatasetType::Interactions,
            vec![user(300), "i2".into(), "more".into()],
        ),
    ] {
        let (t, b) = rows(t, vec![row]);
        store.append_records(arn, t, b).await.unwrap();
    }
    let done = store.compact().await.unwrap();
    assert_eq!(done.records, 0, "the loads erased the tombstones already");
    assert!(done.checkpointed);
    let bytes = dir_bytes(dir.path());
    let find = |needle: &str| memchr::memmem::find(&bytes, needle.as_bytes()).is_some();
    for i in [0, 1, 50, 99] {
        assert!(
            !find(&format!("MARKu{i:04}")),
            "user {i}'s record is on disk"
        );
        assert!(
            !find(&format!("MARKi{i:04}")),
            "user {i}'s interaction is on disk"
        );
    }
    for i in [100, 250, 399] {
        assert!(
            find(&format!("MARKu{i:04}")) && find(&format!("MARKi{i:04}")),
            "{i}"
        );
    }
    assert_eq!(
        store.count_records(arn, DatasetType::Users).await.unwrap(),
        300
    );
}

/// Personal data is its owner's only: a new data dir is 0700, the database file and its
/// write-ahead log 0600.
#[cfg(unix)]
#[tokio::test]
async fn new_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let store = SqliteStore::open_dir(&dir).unwrap();
    store
        .create_dataset_group(
            &DatasetGroup {
                name: "g".into(),
                dataset_group_arn: "arn:aws:personalize:us-east-1:000000000000:dataset-group/g"
                    .into(),
                ..DatasetGroup::default()
            },
            &[],
        )
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for f in [DB_FILE.to_string(), format!("{DB_FILE}-wal")] {
        assert_eq!(mode(&dir.join(&f)), 0o600, "{f}");
    }
}

/// Reads go through connections of their own: they answer while a write holds the store's
/// connection and SQLite's write lock, and see the last commit, not the write in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_do_not_wait_for_a_write_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let arn = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g".to_string();
    let group = DatasetGroup {
        name: "g".into(),
        dataset_group_arn: arn.clone(),
        ..DatasetGroup::default()
    };
    store.create_dataset_group(&group, &[]).await.unwrap();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let store = store.clone();
        let arn = arn.clone();
        tokio::spawn(async move {
            store
                .with_large_write(move |c| {
                    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    tx.execute(
                        "INSERT INTO tags (arn, key, value) VALUES (?1, 'k', 'v')",
                        params![arn],
                    )?;
                    let _ = held_tx.send(());
                    let _ = release_rx.recv();
                    tx.commit()?;
                    Ok(())
                })
                .await
        })
    };
    held_rx.await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        (
            store.dataset_group(&arn).await.unwrap(),
            store.tags(&arn).await.unwrap(),
        )
    })
    .await
    .expect("a read waited for the write");
    assert_eq!(read, (Some(group), vec![]));
    release_tx.send(()).unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(
        store.tags(&arn).await.unwrap(),
        vec![("k".to_string(), "v".to_string())]
    );
}
