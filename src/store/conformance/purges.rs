//! Checks of purges: what they remove, what every read path sees after them, and their
//! commit with the job's end.

use std::sync::Arc;

use super::*;

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

/// A purge of most of a dataset's users and then one of a few count and remove exactly what
/// they list (PostgreSQL joins the IDs a different way for each: `postgres::purge::plan`).
pub async fn purges_of_many_and_of_few_users_agree(store: &dyn DatasetStore) {
    let g = group("conf-many");
    store.create_dataset_group(&g, &[]).await.unwrap();
    for (t, cols) in [
        (DatasetType::Users, &["USER_ID", "AGE"][..]),
        (DatasetType::Interactions, &["USER_ID", "ITEM_ID"][..]),
    ] {
        let d = dataset(&g, t, cols);
        store.create_dataset(&d, &[]).await.unwrap();
    }
    let ids: Vec<String> = (0..400).map(|i| format!("u{i:03}")).collect();
    let users: Vec<[&str; 2]> = ids.iter().map(|u| [u.as_str(), "30"]).collect();
    // Two interactions for each user.
    let inter: Vec<[&str; 2]> = ids
        .iter()
        .flat_map(|u| [[u.as_str(), "i1"], [u.as_str(), "i2"]])
        .collect();
    let users: Vec<&[&str]> = users.iter().map(|r| &r[..]).collect();
    let inter: Vec<&[&str]> = inter.iter().map(|r| &r[..]).collect();
    load(store, &g, DatasetType::Users, 2, &users).await;
    load(store, &g, DatasetType::Interactions, 2, &inter).await;
    let (users, inter) = (strings(&users), strings(&inter));
    let arn = &g.dataset_group_arn;

    // Most users (and an unknown one), then three of those left.
    let most: Vec<String> = (0..400)
        .filter(|i| i % 4 != 3)
        .map(|i| format!("u{i:03}"))
        .chain(["nobody".to_owned()])
        .collect();
    let few: Vec<String> = ["u003", "u399", "u007"].map(String::from).to_vec();
    let mut gone: Vec<&str> = Vec::new();
    for (job, listed) in [("conf-many-most", &most), ("conf-many-few", &few)] {
        let commit = claimed_deletion(store, job, arn).await;
        let known = listed.iter().filter(|u| ids.contains(u)).count() as u64;
        let listed_ids: UserIds = listed.iter().map(String::as_str).collect();
        let (counts, _) = store
            .purge_users(arn, Arc::new(listed_ids), commit)
            .await
            .unwrap();
        assert_eq!(
            counts.per_dataset,
            vec![
                (DatasetType::Interactions, 2 * known),
                (DatasetType::Users, known)
            ],
            "{job}"
        );
        gone.extend(listed.iter().map(String::as_str));
        assert_eq!(
            store.records(arn, DatasetType::Users).await.unwrap(),
            without(&users, 0, &gone),
            "{job}"
        );
        assert_eq!(
            store.records(arn, DatasetType::Interactions).await.unwrap(),
            without(&inter, 0, &gone),
            "{job}"
        );
    }
    assert_eq!(
        store.count_records(arn, DatasetType::Users).await.unwrap(),
        97
    );
}
