//! Checks of records: loads, scans and purges, alone and with a job's end.

use std::sync::Arc;

use super::*;

/// An incremental load replaces the records of ids loaded again (the last row wins, and
/// comes last in load order), appends events, and changes nothing when its input fails.
pub async fn append_replaces_ids_and_appends_events(store: &dyn DatasetStore) {
    let g = group("conf-append");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let arn = &g.dataset_group_arn;
    for (t, cols) in [
        (DatasetType::Users, &["USER_ID", "AGE"][..]),
        (DatasetType::Items, &["ITEM_ID", "PRICE"][..]),
        (DatasetType::Interactions, &["USER_ID", "ITEM_ID"][..]),
    ] {
        store
            .create_dataset(&dataset(&g, t, cols), &[])
            .await
            .unwrap();
    }
    let rows = |v: &[&[&str]]| -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    let append = |t, width, rows: &[&[&str]]| {
        let batches = stream::iter(vec![Ok(batch(width, rows))]).boxed();
        store.append_records(arn, t, batches)
    };
    for t in [DatasetType::Users, DatasetType::Items] {
        load(store, &g, t, 2, &[&["a", "1"], &["b", "2"], &["c", "3"]]).await;
        let n = append(t, 2, &[&["b", "20"], &["d", "4"], &["d", "40"]])
            .await
            .unwrap();
        assert_eq!(n, 3, "{t}");
        assert_eq!(
            store.records(arn, t).await.unwrap(),
            rows(&[&["a", "1"], &["c", "3"], &["b", "20"], &["d", "40"]]),
            "{t}"
        );
    }
    load(store, &g, DatasetType::Interactions, 2, &[&["a", "i1"]]).await;
    append(DatasetType::Interactions, 2, &[&["a", "i1"], &["b", "i2"]])
        .await
        .unwrap();
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        rows(&[&["a", "i1"], &["a", "i1"], &["b", "i2"]])
    );

    // A failing input leaves the dataset as it was.
    let before = store.records(arn, DatasetType::Users).await.unwrap();
    let batches = stream::iter(vec![
        Ok(batch(2, &[&["a", "100"], &["z", "9"]])),
        Err(StoreError::Invalid("bad line 3".into())),
    ])
    .boxed();
    let err = store
        .append_records(arn, DatasetType::Users, batches)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m == "bad line 3"),
        "{err:?}"
    );
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        before
    );
    assert!(matches!(
        append(DatasetType::Actions, 2, &[&["x", "y"]]).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A scan yields every record, each user's in load order, in batches no larger than asked
/// for.
pub async fn scans_stream_every_record_in_batches(store: &dyn DatasetStore) {
    let g = group("conf-scan");
    store.create_dataset_group(&g, &[]).await.unwrap();
    store
        .create_dataset(
            &dataset(&g, DatasetType::Interactions, &["USER_ID", "ITEM_ID"]),
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<[String; 2]> = (0..7)
        .map(|i| [format!("u{}", 7 - i % 3), format!("i{i}")])
        .collect();
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| vec![r[0].as_str(), r[1].as_str()])
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(|r| r.as_slice()).collect();
    load(store, &g, DatasetType::Interactions, 2, &slices).await;
    let batches: Vec<RowBatch> = store
        .scan_records(
            &g.dataset_group_arn,
            DatasetType::Interactions,
            3,
            Ingestion::All,
        )
        .map(|b| b.unwrap())
        .collect()
        .await;
    assert_eq!(
        batches.iter().map(RowBatch::rows).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    let scanned: Vec<Vec<String>> = batches
        .iter()
        .flat_map(|b| (0..b.rows()).map(move |i| b.row(i).map(str::to_owned).collect()))
        .collect();
    let mut all = store
        .records(&g.dataset_group_arn, DatasetType::Interactions)
        .await
        .unwrap();
    let mut sorted = scanned.clone();
    sorted.sort();
    all.sort();
    assert_eq!(sorted, all);
    let of = |user: &str| -> Vec<String> {
        scanned
            .iter()
            .filter(|r| r[0] == user)
            .map(|r| r[1].clone())
            .collect()
    };
    assert_eq!(of("u7"), ["i0", "i3", "i6"]);
    assert_eq!(of("u5"), ["i2", "i5"]);
    let missing: Vec<_> = store
        .scan_records(&g.dataset_group_arn, DatasetType::Items, 3, Ingestion::All)
        .collect()
        .await;
    assert!(
        matches!(&missing[..], [Err(StoreError::NotFound(_))]),
        "{missing:?}"
    );
}

/// A load replaces everything, keeps load order, and changes nothing when its input fails.
pub async fn replace_is_all_or_nothing(store: &dyn DatasetStore) {
    let g = group("conf-replace");
    store.create_dataset_group(&g, &[]).await.unwrap();
    store
        .create_dataset(&dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]), &[])
        .await
        .unwrap();
    let first: &[&[&str]] = &[&["u2", "30"], &["u1", "40"], &["u2", "31"], &["u3", ""]];
    load(store, &g, DatasetType::Users, 2, first).await;
    let arn = &g.dataset_group_arn;
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(first)
    );

    let second: &[&[&str]] = &[&["u9", "19"]];
    load(store, &g, DatasetType::Users, 2, second).await;
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );

    // A stream that fails after a good batch leaves the old records in place.
    let failing = stream::iter(vec![
        Ok(batch(2, &[&["x1", "1"], &["x2", "2"]])),
        Err(StoreError::Invalid("bad line".into())),
    ])
    .boxed();
    let err = store
        .replace_records(arn, DatasetType::Users, failing)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "bad line");
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );

    // Rows of the wrong width are refused, also without a change.
    let wrong = stream::iter(vec![Ok(batch(3, &[&["a", "b", "c"]]))]).boxed();
    assert!(store
        .replace_records(arn, DatasetType::Users, wrong)
        .await
        .is_err());
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        strings(second)
    );
}

/// A purge removes the listed users' records from Users, Interactions and
/// Action_Interactions, nothing else, in no other group, and records the finished job.
pub async fn purge_removes_only_the_listed_users(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-purge").await;
    let other = purge_fixture(store, "conf-purge-other").await;
    let arn = &f.g.dataset_group_arn;
    let commit = claimed_deletion(store, "conf-purge-job", arn).await;
    let job_arn = commit.job.arn.clone();

    let gone = ["a", "d\"q,", "unknown", "z"];
    let ids: UserIds = gone.iter().copied().collect();
    let (counts, stored) = store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
    assert_eq!(
        counts.per_dataset,
        vec![
            (DatasetType::Interactions, 3),
            (DatasetType::Users, 2),
            (DatasetType::ActionInteractions, 2),
        ]
    );
    assert_eq!(counts.total(), 7);
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        without(&f.users, 0, &gone)
    );
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        without(&f.inter, 1, &gone)
    );
    assert_eq!(
        store.records(arn, DatasetType::Items).await.unwrap(),
        f.items
    );
    assert_eq!(
        store
            .records(arn, DatasetType::ActionInteractions)
            .await
            .unwrap(),
        without(&f.action_inter, 0, &gone)
    );
    let o = &other.g.dataset_group_arn;
    assert_eq!(
        store.records(o, DatasetType::Users).await.unwrap(),
        other.users
    );
    assert_eq!(
        store.records(o, DatasetType::Interactions).await.unwrap(),
        other.inter
    );

    // The job record returned is the one stored, in the same transaction, and it ended.
    assert_eq!(store.job(&job_arn).await.unwrap(), Some(stored.clone()));
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.service_status(), "COMPLETED");
    assert_eq!(stored.num_deleted, Some(7));
    assert!(store
        .claim(Claim::Job(&job_arn), "conf-worker", LEASE)
        .await
        .unwrap()
        .is_none());

    // Purging the same users again (another job) is harmless and deletes nothing more.
    let again = claimed_deletion(store, "conf-purge-again", arn).await;
    let ids: UserIds = gone.iter().copied().collect();
    let (counts, _) = store.purge_users(arn, Arc::new(ids), again).await.unwrap();
    assert_eq!(counts.total(), 0);
}

/// A read of what a group holds of some users ([`crate::store::matching`], what dry runs
/// and `verify` report) counts exactly what a purge of them then deletes, per dataset, and
/// after the purge finds none of them.
pub async fn matching_finds_what_a_purge_deletes(store: &dyn DatasetStore) {
    use crate::store::matching::match_users;
    let f = purge_fixture(store, "conf-match").await;
    let arn = &f.g.dataset_group_arn;
    let ids: UserIds = ["a", "c", "zz", "d\"q,", "y"].iter().copied().collect();
    let m = match_users(store, arn, &ids, 10).await.unwrap();
    let per: Vec<_> = m
        .per_dataset
        .iter()
        .map(|d| (d.dataset_type, d.records, d.users))
        .collect();
    assert_eq!(
        per,
        [
            (DatasetType::Interactions, 4, 3),
            (DatasetType::Users, 3, 3),
            (DatasetType::ActionInteractions, 1, 1),
        ]
    );
    let users_found = &m.per_dataset[1].found;
    assert_eq!(users_found, &["a", "c", "d\"q,"]);
    assert_eq!(
        (m.unknown, m.first_unknown.clone()),
        (2, vec!["y".to_owned(), "zz".to_owned()])
    );
    let kept = match_users(store, arn, &ids, 1).await.unwrap();
    assert_eq!(kept.per_dataset[0].found, ["a"]);
    assert_eq!(kept.first_unknown, ["y"]);

    let commit = claimed_deletion(store, "conf-match-job", arn).await;
    let (counts, _) = store
        .purge_users(arn, Arc::new(ids.clone()), commit)
        .await
        .unwrap();
    assert_eq!(counts.total(), m.records());
    for (t, n) in &counts.per_dataset {
        let matched = m.per_dataset.iter().find(|d| d.dataset_type == *t);
        assert_eq!(matched.map_or(0, |d| d.records), *n, "{t}");
    }
    let after = match_users(store, arn, &ids, 10).await.unwrap();
    assert_eq!(after.records(), 0);
    assert_eq!(after.unknown, 5);
}

/// After a purge, and again after [`DatasetStore::compact`], no read path sees a purged
/// user: records, scans and counts; an incremental load brings back only what it loads; a
/// later purge counts only what is left.
pub async fn purged_users_stay_gone_on_every_read_path(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-gone").await;
    let arn = &f.g.dataset_group_arn;
    let gone = ["a", "c"];
    let commit = claimed_deletion(store, "conf-gone-job", arn).await;
    let ids: UserIds = gone.iter().copied().collect();
    let (counts, _) = store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
    assert_eq!(counts.total(), 2 + 3 + 1);
    let users = without(&f.users, 0, &gone);
    let inter = without(&f.inter, 1, &gone);
    let scanned = |t| async move {
        let mut rows = Vec::new();
        let mut scan = store.scan_records(arn, t, 1, Ingestion::All);
        while let Some(b) = scan.next().await {
            let b = b.unwrap();
            for i in 0..b.rows() {
                rows.push(b.row(i).map(str::to_owned).collect::<Vec<_>>());
            }
        }
        rows.sort();
        rows
    };
    let sorted = |mut v: Vec<Vec<String>>| {
        v.sort();
        v
    };
    for compacted in [false, true] {
        if compacted {
            let done = store.compact().await.unwrap();
            assert!(done.checkpointed);
            // Nothing is left to do the second time.
            assert_eq!(store.compact().await.unwrap().records, 0);
        }
        let t = DatasetType::Users;
        assert_eq!(store.records(arn, t).await.unwrap(), users, "{compacted}");
        assert_eq!(store.count_records(arn, t).await.unwrap(), 2);
        assert_eq!(scanned(t).await, sorted(users.clone()));
        let t = DatasetType::Interactions;
        assert_eq!(store.records(arn, t).await.unwrap(), inter, "{compacted}");
        assert_eq!(store.count_records(arn, t).await.unwrap(), 3);
        assert_eq!(scanned(t).await, sorted(inter.clone()));
        let t = DatasetType::ActionInteractions;
        assert_eq!(store.count_records(arn, t).await.unwrap(), 1);
    }

    // A second purge before any compaction counts only records not purged already.
    let g = purge_fixture(store, "conf-gone-twice").await;
    let arn = &g.g.dataset_group_arn;
    for (job, ids, want) in [
        ("conf-gone-twice-1", &["a", "b"][..], 2 + 3 + 1),
        ("conf-gone-twice-2", &["a", "b", "c"][..], 1 + 1),
    ] {
        let commit = claimed_deletion(store, job, arn).await;
        let ids: UserIds = ids.iter().copied().collect();
        let (counts, _) = store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
        assert_eq!(counts.total(), want, "{job}");
    }
    // An incremental load of a purged user holds its new records only.
    let batches = stream::iter(vec![Ok(batch(3, &[&["i9", "a", "99"]]))]).boxed();
    store
        .append_records(arn, DatasetType::Interactions, batches)
        .await
        .unwrap();
    let mut want = without(&g.inter, 1, &["a", "b", "c"]);
    want.push(vec!["i9".into(), "a".into(), "99".into()]);
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        want
    );
    assert_eq!(
        store
            .count_records(arn, DatasetType::Interactions)
            .await
            .unwrap(),
        3
    );
    let commit = claimed_deletion(store, "conf-gone-twice-3", arn).await;
    let ids: UserIds = ["a"].into_iter().collect();
    let (counts, _) = store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
    assert_eq!(counts.per_dataset[0], (DatasetType::Interactions, 1));
    store.compact().await.unwrap();
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        without(&g.inter, 1, &["a", "b", "c"])
    );
}

/// If the job's end cannot be written (its lease is stale, or it was never created), the
/// purge does not happen either.
pub async fn purge_is_atomic_with_the_job_record(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-atomic").await;
    let arn = &f.g.dataset_group_arn;
    // A lease on a job that was never created.
    let ghost = JobCommit {
        job: deletion_job("conf-never-created", arn),
        lease: Lease {
            job_arn: ArnScope::default().job_arn(JobKind::Deletion, "conf-never-created"),
            worker: "conf-worker".into(),
            token: 1,
            expires: crate::jobs::now_epoch() + 60.0,
        },
    };
    let ids: UserIds = ["a", "b"].into_iter().collect();
    let err = store
        .purge_users(arn, Arc::new(ids), ghost)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    // A lease that another claim took over once it expired.
    let stale = claimed_deletion(store, "conf-stale", arn).await;
    let mut expired = stale.clone();
    expired.lease.token += 1; // what the worker holds no longer matches the stored claim
    let ids: UserIds = ["a", "b"].into_iter().collect();
    let err = store
        .purge_users(arn, Arc::new(ids), expired)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        store.records(arn, DatasetType::Users).await.unwrap(),
        f.users
    );
    assert_eq!(
        store.records(arn, DatasetType::Interactions).await.unwrap(),
        f.inter
    );
    assert_eq!(
        store.job(&stale.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    let missing = ArnScope::default().dataset_group_arn("conf-no-such-group");
    let ids: UserIds = ["a"].into_iter().collect();
    let commit = claimed_deletion(store, "conf-x", &missing).await;
    let err = store
        .purge_users(&missing, Arc::new(ids), commit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// A job's load commits with its `Succeeded`; a load whose lease is lost, or whose rows
/// fail, writes neither records nor status.
pub async fn loads_commit_with_their_job(store: &dyn DatasetStore) {
    let g = group("conf-load-job");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let d = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    store.create_dataset(&d, &[]).await.unwrap();
    let arn = &g.dataset_group_arn;
    let t = DatasetType::Users;
    load(store, &g, t, 2, &[&["u1", "1"]]).await;

    let claim = |job: Job| async move {
        store.create_job(&job, &[]).await.unwrap();
        let (job, lease) = store
            .claim(Claim::Job(&job.arn), "conf-worker", LEASE)
            .await
            .unwrap()
            .unwrap();
        JobCommit { job, lease }
    };
    let rows = |r: &[&[&str]]| stream::iter(vec![Ok(batch(2, r))]).boxed();

    // A stale lease: nothing is loaded, the job stays as it was.
    let mut stale = claim(import_job(
        "conf-load-stale",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    stale.lease.worker = "someone-else".into();
    let err = store
        .load_records(
            arn,
            t,
            LoadMode::Append,
            rows(&[&["u2", "2"]]),
            Some(stale.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(store.count_records(arn, t).await.unwrap(), 1);
    assert_eq!(
        store.job(&stale.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    // Rows that fail: nothing is loaded, the job is not ended.
    let failing = claim(import_job(
        "conf-load-fails",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    let bad = stream::iter(vec![
        Ok(batch(2, &[&["u3", "3"]])),
        Err(StoreError::Invalid("bad row".into())),
    ])
    .boxed();
    let err = store
        .load_records(arn, t, LoadMode::Append, bad, Some(failing.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.count_records(arn, t).await.unwrap(), 1);
    assert_eq!(
        store.job(&failing.job.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );

    // A held lease: the rows and the job's end together.
    let ok = claim(import_job(
        "conf-load-ok",
        &d.arn(),
        ImportMode::Incremental,
    ))
    .await;
    let n = store
        .load_records(
            arn,
            t,
            LoadMode::Append,
            rows(&[&["u4", "4"]]),
            Some(ok.clone()),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(store.count_records(arn, t).await.unwrap(), 2);
    let ended = store.job(&ok.job.arn).await.unwrap().unwrap();
    assert_eq!(ended.service_status(), "ACTIVE");
    // Its lease is released: the job cannot be finished or loaded through again.
    let err = store.finish(&ended, &ok.lease).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
}

/// Records put one by one are told from those loaded in bulk on every scan, in every type of
/// dataset, and a full load replaces only the bulk ones.
pub async fn puts_are_told_apart_and_survive_a_full_load(store: &dyn DatasetStore) {
    let g = group("conf-puts");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let arn = g.dataset_group_arn.as_str();
    let write = |t: DatasetType, mode: LoadMode, rows: &'static [&'static [&'static str]]| {
        let width = rows[0].len();
        async move {
            let batches = stream::iter(vec![Ok(batch(width, rows))]).boxed();
            store
                .load_records(arn, t, mode, batches, None)
                .await
                .unwrap()
        }
    };
    let scan = |t: DatasetType, which: Ingestion| async move {
        let batches: Vec<RowBatch> = store
            .scan_records(arn, t, 2, which)
            .map(|b| b.unwrap())
            .collect()
            .await;
        let mut rows: Vec<Vec<String>> = batches
            .iter()
            .flat_map(|b| (0..b.rows()).map(move |i| b.row(i).map(str::to_owned).collect()))
            .collect();
        rows.sort();
        rows
    };

    // Interactions: packed by user, records of both kinds for one user.
    let t = DatasetType::Interactions;
    store
        .create_dataset(&dataset(&g, t, &["USER_ID", "ITEM_ID"]), &[])
        .await
        .unwrap();
    write(t, LoadMode::Append, &[&["u1", "b1"], &["u2", "b2"]]).await;
    write(t, LoadMode::Put, &[&["u1", "p1"], &["u3", "p2"]]).await;
    write(t, LoadMode::Put, &[&["u3", "p3"]]).await;
    write(t, LoadMode::Append, &[&["u4", "b3"]]).await;
    assert_eq!(write(t, LoadMode::Put, &[&["u2", "p4"]]).await, 1);
    let puts = strings(&[&["u1", "p1"], &["u2", "p4"], &["u3", "p2"], &["u3", "p3"]]);
    assert_eq!(scan(t, Ingestion::Put).await, puts);
    assert_eq!(
        scan(t, Ingestion::Bulk).await,
        strings(&[&["u1", "b1"], &["u2", "b2"], &["u4", "b3"]])
    );
    assert_eq!(scan(t, Ingestion::All).await.len(), 7);
    write(t, LoadMode::Replace, &[&["u5", "b4"], &["u1", "b5"]]).await;
    assert_eq!(
        scan(t, Ingestion::Put).await,
        puts,
        "a full load keeps puts"
    );
    assert_eq!(
        scan(t, Ingestion::Bulk).await,
        strings(&[&["u1", "b5"], &["u5", "b4"]])
    );
    assert_eq!(store.count_records(arn, t).await.unwrap(), 6);
    // Later puts are still told apart: numbers are not reused.
    write(t, LoadMode::Put, &[&["u6", "p5"]]).await;
    write(t, LoadMode::Append, &[&["u6", "b6"]]).await;
    assert_eq!(scan(t, Ingestion::Put).await.len(), 5);
    assert_eq!(scan(t, Ingestion::Bulk).await.len(), 3);

    // Items: one record per id, whichever way it came last.
    let t = DatasetType::Items;
    store
        .create_dataset(&dataset(&g, t, &["ITEM_ID", "NAME"]), &[])
        .await
        .unwrap();
    write(t, LoadMode::Put, &[&["i1", "put"], &["i2", "put"]]).await;
    write(t, LoadMode::Append, &[&["i2", "bulk"], &["i3", "bulk"]]).await;
    assert_eq!(scan(t, Ingestion::Put).await, strings(&[&["i1", "put"]]));
    write(t, LoadMode::Replace, &[&["i4", "bulk"]]).await;
    assert_eq!(
        scan(t, Ingestion::All).await,
        strings(&[&["i1", "put"], &["i4", "bulk"]])
    );
    write(t, LoadMode::Put, &[&["i4", "put"]]).await;
    assert_eq!(scan(t, Ingestion::Bulk).await, Vec::<Vec<String>>::new());
    assert_eq!(scan(t, Ingestion::Put).await.len(), 2);

    // Users: keyed and packed.
    let t = DatasetType::Users;
    store
        .create_dataset(&dataset(&g, t, &["USER_ID", "AGE"]), &[])
        .await
        .unwrap();
    write(t, LoadMode::Put, &[&["u1", "30"]]).await;
    write(t, LoadMode::Put, &[&["u1", "31"], &["u2", "40"]]).await;
    write(t, LoadMode::Replace, &[&["u3", "50"]]).await;
    assert_eq!(
        scan(t, Ingestion::Put).await,
        strings(&[&["u1", "31"], &["u2", "40"]])
    );
    assert_eq!(scan(t, Ingestion::Bulk).await, strings(&[&["u3", "50"]]));
    // A full load of a user who was put holds one record of them: the newest.
    write(t, LoadMode::Replace, &[&["u2", "41"]]).await;
    assert_eq!(
        scan(t, Ingestion::All).await,
        strings(&[&["u1", "31"], &["u2", "41"]])
    );
    assert_eq!(scan(t, Ingestion::Bulk).await, strings(&[&["u2", "41"]]));
}
