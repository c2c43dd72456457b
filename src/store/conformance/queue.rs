//! Checks of the job queue: records of every kind, claims, leases, the fencing check.

use super::*;

/// Job records of every kind: created once, updated, read back, listed newest first per
/// kind and target, and each kind's fields kept as given.
pub async fn jobs_are_kept_and_listed_newest_first(store: &dyn DatasetStore) {
    let scope = ArnScope::default();
    let g1 = scope.dataset_group_arn("conf-jobs-1");
    let g2 = scope.dataset_group_arn("conf-jobs-2");
    let users = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-jobs-1/USERS";
    let items = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-jobs-1/ITEMS";
    let a = deletion_job("conf-job-a", &g1);
    let b = deletion_job("conf-job-b", &g2);
    let c = deletion_job("conf-job-c", &g1);
    let i1 = import_job("conf-import-a", users, ImportMode::Full);
    let i2 = import_job("conf-import-b", items, ImportMode::Incremental);
    let e1 = export_job("conf-export-a", users);
    for j in [&a, &i1, &b, &e1, &c, &i2] {
        store.create_job(j, &[]).await.unwrap();
    }
    for j in [&a, &i1, &e1] {
        assert!(matches!(
            store.create_job(j, &[]).await,
            Err(StoreError::AlreadyExists(_))
        ));
    }
    let failed = a.clone().failed("because".into());
    store.update_job(&failed).await.unwrap();
    assert_eq!(store.job(&a.arn).await.unwrap(), Some(failed.clone()));
    for j in [&i1, &i2, &e1, &b] {
        assert_eq!(store.job(&j.arn).await.unwrap().as_ref(), Some(j));
    }
    let ghost = deletion_job("conf-job-ghost", &g1);
    assert!(matches!(
        store.update_job(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.job(&ghost.arn).await.unwrap(), None);

    let names = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.name).collect::<Vec<_>>();
    let list = |kind, target| async move { names(store.list_jobs(kind, target).await.unwrap()) };
    assert_eq!(
        list(JobKind::Deletion, Some(g1.as_str())).await,
        ["conf-job-c", "conf-job-a"]
    );
    let all = list(JobKind::Deletion, None).await;
    let pos = |n: &str| all.iter().position(|x| x == n).unwrap();
    assert!(pos("conf-job-c") < pos("conf-job-b") && pos("conf-job-b") < pos("conf-job-a"));
    assert!(!all.iter().any(|n| n.starts_with("conf-import")));
    assert_eq!(list(JobKind::Import, Some(users)).await, ["conf-import-a"]);
    let imports = list(JobKind::Import, None).await;
    assert_eq!(&imports[..2], ["conf-import-b", "conf-import-a"]);
    assert_eq!(list(JobKind::Export, Some(users)).await, ["conf-export-a"]);
    assert_eq!(
        list(JobKind::Export, Some(items)).await,
        Vec::<String>::new()
    );
}

/// The queue: claims take the oldest claimable job of any kind, each job once, even when
/// many claimers ask at once; a finished job is claimable no more.
pub async fn claims_take_each_job_once_oldest_first(store: &dyn DatasetStore) {
    store.reset().await.unwrap();
    let g = ArnScope::default().dataset_group_arn("conf-queue");
    let d = "arn:aws:personalize:us-east-1:000000000000:dataset/conf-queue/USERS";
    let first = deletion_job("conf-q-1", &g);
    let second = import_job("conf-q-2", d, ImportMode::Full);
    let third = export_job("conf-q-3", d);
    for j in [&first, &second, &third] {
        store.create_job(j, &[]).await.unwrap();
    }
    let (job, lease) = store.claim_next("w1", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, first.arn);
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(lease.worker, "w1");
    assert_eq!(lease.job_arn, first.arn);
    assert!(lease.expires > crate::jobs::now_epoch());
    assert_eq!(
        store.job(&first.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );
    // A claim by ARN of a job already held gets nothing.
    assert!(store
        .claim(Claim::Job(&first.arn), "w2", LEASE)
        .await
        .unwrap()
        .is_none());
    let (job, _) = store.claim_next("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, second.arn);
    let (job, lease) = store.claim_next("w3", LEASE).await.unwrap().unwrap();
    assert_eq!(job.arn, third.arn);
    assert!(store.claim_next("w4", LEASE).await.unwrap().is_none());
    // The end of a held job is written and its lease released: it is claimable no more.
    store
        .finish(&job.failed("no".into()), &lease)
        .await
        .unwrap();
    assert_eq!(
        store
            .job(&third.arn)
            .await
            .unwrap()
            .unwrap()
            .service_status(),
        "CREATE FAILED"
    );
    assert!(store
        .claim(Claim::Job(&third.arn), "w4", LEASE)
        .await
        .unwrap()
        .is_none());

    // Many claimers at once: every job goes to exactly one of them.
    store.reset().await.unwrap();
    let jobs: Vec<Job> = (0..8)
        .map(|i| deletion_job(&format!("conf-race-{i}"), &g))
        .collect();
    for j in &jobs {
        store.create_job(j, &[]).await.unwrap();
    }
    let claims = (0..12).map(|w| async move {
        let mut got = Vec::new();
        while let Some((job, _)) = store
            .claim_next(&format!("racer-{w}"), LEASE)
            .await
            .unwrap()
        {
            got.push(job.arn);
        }
        got
    });
    let mut won: Vec<String> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .collect();
    won.sort();
    let mut want: Vec<String> = jobs.iter().map(|j| j.arn.clone()).collect();
    want.sort();
    assert_eq!(won, want, "each job claimed exactly once");
    store.reset().await.unwrap();
}

/// Leases: renewed while held; once expired the job is claimable again with a larger
/// token, and the worker that lost it can neither renew nor finish it (the fencing check).
/// A job left in progress without a lease (by a process that kept none) is claimable.
pub async fn an_expired_lease_is_claimable_and_fenced(store: &dyn DatasetStore) {
    store.reset().await.unwrap();
    let g = ArnScope::default().dataset_group_arn("conf-lease");
    let job = deletion_job("conf-lease-1", &g);
    store.create_job(&job, &[]).await.unwrap();
    let short = Duration::from_millis(300);
    let (held, lease) = store.claim_next("w1", short).await.unwrap().unwrap();
    // Renewed: still held after the first lease would have run out.
    let lease = store.renew(&lease, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.claim_next("w2", short).await.unwrap().is_none());
    let lease = store
        .renew(&lease, Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Expired: w2 takes it over.
    let (again, lease2) = store.claim_next("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(again.arn, held.arn);
    assert!(lease2.token > lease.token, "{lease2:?} after {lease:?}");
    let err = store.renew(&lease, LEASE).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    let stale_end = held.clone().failed("w1 gave up".into());
    let err = store.finish(&stale_end, &lease).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        store.job(&held.arn).await.unwrap().unwrap().status,
        JobStatus::InProgress
    );
    // An expired lease that nobody took over cannot commit either.
    let short_job = deletion_job("conf-lease-2", &g);
    store.create_job(&short_job, &[]).await.unwrap();
    let (j2, l2) = store
        .claim(Claim::Job(&short_job.arn), "w3", Duration::from_millis(50))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let err = store
        .finish(&j2.clone().succeeded(None), &l2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    // The new holder ends the first job.
    store.finish(&again.succeeded(None), &lease2).await.unwrap();
    assert_eq!(
        store
            .job(&held.arn)
            .await
            .unwrap()
            .unwrap()
            .service_status(),
        "COMPLETED"
    );

    // In progress with no lease: claimable at once.
    let orphan = deletion_job("conf-lease-orphan", &g);
    store.create_job(&orphan, &[]).await.unwrap();
    let mut running = orphan.clone();
    running.set_status(JobStatus::InProgress);
    store.update_job(&running).await.unwrap();
    let (found, _) = store
        .claim(Claim::Job(&orphan.arn), "w4", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.arn, orphan.arn);
    store.reset().await.unwrap();
}

/// Every resource created with tags has them from its first moment, written in the same
/// transaction; a job's spec (a dry run's flag included) is what a claim gets back; a
/// create that fails writes no tag.
pub async fn resources_are_created_with_their_tags(store: &dyn DatasetStore) {
    let scope = ArnScope::default();
    let tags = vec![
        ("team".to_owned(), "gdpr".to_owned()),
        (
            crate::jobs::model::DRY_RUN_TAG.to_owned(),
            "true".to_owned(),
        ),
    ];
    let g = DatasetGroup {
        name: "conf-tagged".into(),
        dataset_group_arn: scope.dataset_group_arn("conf-tagged"),
        ..DatasetGroup::default()
    };
    store.create_dataset_group(&g, &tags[..1]).await.unwrap();
    assert_eq!(store.tags(&g.dataset_group_arn).await.unwrap(), tags[..1]);
    let d = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    store.create_dataset(&d, &tags).await.unwrap();
    assert_eq!(store.tags(&d.arn()).await.unwrap(), tags);
    let t = EventTracker {
        name: "conf-tagged".into(),
        event_tracker_arn: scope.event_tracker_arn("conf-tagged"),
        tracking_id: "conf-tagged-tracking".into(),
        dataset_group_arn: g.dataset_group_arn.clone(),
        creation_date_time: 1.0,
    };
    store.create_event_tracker(&t, &tags).await.unwrap();
    assert_eq!(store.tags(&t.event_tracker_arn).await.unwrap(), tags);

    let mut job = deletion_job("conf-tagged-dry", &g.dataset_group_arn);
    if let JobSpec::Deletion { dry_run, .. } = &mut job.spec {
        *dry_run = true;
    }
    store.create_job(&job, &tags).await.unwrap();
    assert_eq!(store.tags(&job.arn).await.unwrap(), tags);
    let (claimed, lease) = store
        .claim(Claim::Job(&job.arn), "conf-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.spec, job.spec, "the dry run is part of the spec");
    store
        .finish(&claimed.failed("done".into()), &lease)
        .await
        .unwrap();

    // A create refused (the ARN taken) writes none of its tags.
    let other = vec![("other".to_owned(), "x".to_owned())];
    assert!(matches!(
        store.create_job(&job, &other).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_dataset_group(&g, &other).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.tags(&job.arn).await.unwrap(), tags);
    assert_eq!(store.tags(&g.dataset_group_arn).await.unwrap(), tags[..1]);
}
