//! Checks of the kind-agnostic resources and blobs.

use super::*;
use crate::store::{Blob, Resource};

fn resource(arn: &str, kind: &str, parent: Option<&str>, created: f64) -> Resource {
    Resource {
        arn: arn.to_owned(),
        kind: kind.to_owned(),
        parent: parent.map(str::to_owned),
        status: "CREATE PENDING".to_owned(),
        body: serde_json::json!({ "name": arn.rsplit('/').next(), "nested": { "n": 1 } }),
        created,
    }
}

/// Resources of any kind: created once with their tags, read back as written, listed by
/// kind and parent oldest first, replaced with their blobs in one write (all or nothing),
/// deleted with their tags and blobs.
pub async fn resources_are_kept_by_arn_kind_and_parent(store: &dyn DatasetStore) {
    let g1 = "arn:aws:personalize:us-east-1:000000000000:dataset-group/conf-res-1";
    let g2 = "arn:aws:personalize:us-east-1:000000000000:dataset-group/conf-res-2";
    let s1 = "arn:aws:personalize:us-east-1:000000000000:solution/conf-res-a";
    let s2 = "arn:aws:personalize:us-east-1:000000000000:solution/conf-res-b";
    let s3 = "arn:aws:personalize:us-east-1:000000000000:solution/conf-res-c";
    let v1 = format!("{s1}/0000000a");
    let tags = vec![("k".to_owned(), "v".to_owned())];
    let a = resource(s1, "conf-solution", Some(g1), 3.0);
    let b = resource(s2, "conf-solution", Some(g2), 1.0);
    let c = resource(s3, "conf-solution", Some(g1), 2.0);
    let v = resource(&v1, "conf-version", Some(s1), 4.0);
    store.create_resource(&a, &tags).await.unwrap();
    for r in [&b, &c, &v] {
        store.create_resource(r, &[]).await.unwrap();
    }
    assert!(matches!(
        store.create_resource(&a, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.resource(s1).await.unwrap(), Some(a.clone()));
    assert_eq!(store.tags(s1).await.unwrap(), tags);
    assert_eq!(store.resource("arn:nothing").await.unwrap(), None);
    let arns = |rs: Vec<Resource>| rs.into_iter().map(|r| r.arn).collect::<Vec<_>>();
    assert_eq!(
        arns(store.list_resources("conf-solution", None).await.unwrap()),
        [s2, s3, s1]
    );
    assert_eq!(
        arns(
            store
                .list_resources("conf-solution", Some(g1))
                .await
                .unwrap()
        ),
        [s3, s1]
    );
    assert_eq!(
        arns(
            store
                .list_resources("conf-version", Some(s1))
                .await
                .unwrap()
        ),
        [v1.as_str()]
    );
    assert!(store
        .list_resources("conf-nothing", None)
        .await
        .unwrap()
        .is_empty());

    // One write: records replaced (or created) and a blob stored together.
    let mut active = v.clone();
    active.status = "ACTIVE".to_owned();
    active.body = serde_json::json!({ "trained": true });
    let model = Blob {
        arn: v1.clone(),
        bytes: bytes::Bytes::from_static(b"\x00model\xffbytes"),
    };
    let fresh = resource(
        "arn:aws:personalize:us-east-1:000000000000:solution/conf-res-new",
        "conf-solution",
        Some(g2),
        5.0,
    );
    store
        .write_resources(
            &[active.clone(), fresh.clone()],
            std::slice::from_ref(&model),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.resource(&v1).await.unwrap(), Some(active));
    assert_eq!(
        store.resource(&fresh.arn).await.unwrap(),
        Some(fresh.clone())
    );
    store.delete_resource(&fresh.arn).await.unwrap();
    assert_eq!(store.blob(&v1).await.unwrap(), Some(model.bytes.clone()));

    store.delete_resource(s1).await.unwrap();
    store.delete_resource(&v1).await.unwrap();
    assert!(matches!(
        store.delete_resource(s1).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.resource(s1).await.unwrap(), None);
    assert!(store.tags(s1).await.unwrap().is_empty());
    assert_eq!(store.blob(&v1).await.unwrap(), None);
    for r in [s2, s3] {
        store.delete_resource(r).await.unwrap();
    }
}

/// A job's resources and blobs commit with its `Succeeded`, only under its lease.
pub async fn resources_commit_with_their_job(store: &dyn DatasetStore) {
    let s = "arn:aws:personalize:us-east-1:000000000000:solution/conf-res-job";
    let v = format!("{s}/0000000b");
    let version = resource(&v, "conf-version", Some(s), 1.0);
    let mut job = deletion_job("conf-res-train", s);
    job.role_arn = None;
    store.create_job(&job, &[]).await.unwrap();
    let (claimed, lease) = store
        .claim(Claim::Job(&job.arn), "conf-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let mut done = version.clone();
    done.status = "ACTIVE".to_owned();
    let model = Blob {
        arn: v.clone(),
        bytes: bytes::Bytes::from(vec![7u8; 100_000]),
    };
    // A stale lease writes nothing.
    let stale = Lease {
        token: lease.token + 1,
        ..lease.clone()
    };
    let commit = |lease: &Lease| JobCommit {
        job: claimed.clone(),
        lease: lease.clone(),
    };
    assert!(matches!(
        store
            .write_resources(
                std::slice::from_ref(&done),
                std::slice::from_ref(&model),
                Some(commit(&stale))
            )
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    assert_eq!(store.resource(&v).await.unwrap(), None);
    assert_eq!(store.blob(&v).await.unwrap(), None);
    store
        .write_resources(
            std::slice::from_ref(&done),
            std::slice::from_ref(&model),
            Some(commit(&lease)),
        )
        .await
        .unwrap();
    assert_eq!(store.resource(&v).await.unwrap(), Some(done));
    assert_eq!(store.blob(&v).await.unwrap().unwrap().len(), 100_000);
    assert_eq!(
        store.job(&job.arn).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
    store.delete_resource(&v).await.unwrap();
}
