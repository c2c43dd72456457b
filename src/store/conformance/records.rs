//! Checks of records: loads and scans, alone and with a job's end.

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
