//! Dataset import jobs through the real `aws-sdk-personalize` client, run by the server's
//! worker, then checked against the store and used by a data deletion job.

use std::time::Duration;

use aws_sdk_personalize::types::{DataSource, DatasetImportJob, ImportMode};
use aws_sdk_personalize::Client;
use personalize_local::store::DatasetType;

use crate::api::{create_active_group, start, wait_job, ROLE};
use crate::api_resources::{assert_err, create_dataset};
use crate::common::{fixture_ids, fixture_rows};

/// Starts an import job and polls it to its end; returns the job and the statuses seen.
async fn import(
    c: &Client,
    name: &str,
    dataset_arn: &str,
    location: &str,
    mode: ImportMode,
) -> (DatasetImportJob, Vec<String>) {
    let arn = c
        .create_dataset_import_job()
        .job_name(name)
        .dataset_arn(dataset_arn)
        .data_source(DataSource::builder().data_location(location).build())
        .import_mode(mode)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..500 {
        let job = c
            .describe_dataset_import_job()
            .dataset_import_job_arn(&arn)
            .send()
            .await
            .unwrap()
            .dataset_import_job
            .unwrap();
        let status = job.status.clone().unwrap();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "ACTIVE" || status == "CREATE FAILED" {
            return (job, seen);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import job {arn} did not end; saw {seen:?}");
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_delete_users_through_the_api() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "imports").await;
    let users = create_dataset(c, &group_arn, "Users", "users").await;
    let interactions = create_dataset(c, &group_arn, "Interactions", "interactions").await;
    for tree in [
        "datasets",
        "deletion-nested",
        "import-bad",
        "import-update",
        "import-reordered",
    ] {
        server.s3.upload_tree(tree).await;
    }

    // A first INCREMENTAL import has nothing to add to.
    assert_err(
        c.create_dataset_import_job()
            .job_name("too-early")
            .dataset_arn(&users)
            .data_source(
                DataSource::builder()
                    .data_location(server.s3.location("datasets/users.csv"))
                    .build(),
            )
            .import_mode(ImportMode::Incremental)
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "its first import must use the importMode FULL",
    );

    let (job, seen) = import(
        c,
        "users-full",
        &users,
        &server.s3.location("datasets/users.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(
        job.status.as_deref(),
        Some("ACTIVE"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(seen.last().map(String::as_str), Some("ACTIVE"));
    assert_eq!(job.import_mode, Some(ImportMode::Full));
    assert_eq!(job.dataset_arn.as_deref(), Some(users.as_str()));
    assert_eq!(
        job.dataset_import_job_arn.as_deref(),
        Some("arn:aws:personalize:us-east-1:000000000000:dataset-import-job/users-full")
    );
    let (job, _) = import(
        c,
        "interactions-full",
        &interactions,
        &server.s3.location("datasets/interactions.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(
        job.status.as_deref(),
        Some("ACTIVE"),
        "{:?}",
        job.failure_reason
    );
    let loaded_users = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(loaded_users, fixture_rows("users.csv"));
    assert_eq!(
        server
            .store
            .records(&group_arn, DatasetType::Interactions)
            .await
            .unwrap(),
        fixture_rows("interactions.csv")
    );

    // Columns are matched by name: a file whose header lists them in another order, after
    // pandas' unnamed index (as AWS's ecommerce notebook writes it), loads the same records.
    let (job, _) = import(
        c,
        "interactions-reordered",
        &interactions,
        &server.s3.location("import-reordered/interactions.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(
        job.status.as_deref(),
        Some("ACTIVE"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(
        server
            .store
            .records(&group_arn, DatasetType::Interactions)
            .await
            .unwrap(),
        fixture_rows("interactions.csv")
    );

    // Bad inputs end CREATE FAILED, naming object, line and column, and change nothing.
    let bad = [
        ("import-bad/wrong-header.csv", "the header USER_ID,AGE,MEMBERSHIP,SHOE_SIZE has the column SHOE_SIZE, which is not a column of the dataset (USER_ID,AGE,MEMBERSHIP)"),
        ("import-bad/long-id.csv", "import-bad/long-id.csv line 4: column USER_ID: the ID is 257 characters long"),
    ];
    for (i, (key, reason)) in bad.iter().enumerate() {
        for mode in [ImportMode::Full, ImportMode::Incremental] {
            let name = format!("bad-{i}-{}", mode.as_str().to_lowercase());
            let (job, _) = import(c, &name, &users, &server.s3.location(key), mode).await;
            assert_eq!(job.status.as_deref(), Some("CREATE FAILED"));
            let why = job.failure_reason.unwrap();
            assert!(why.contains(reason), "{why:?} lacks {reason:?}");
            assert_eq!(
                server
                    .store
                    .records(&group_arn, DatasetType::Users)
                    .await
                    .unwrap(),
                loaded_users
            );
        }
    }
    let missing = "s3://no-such-bucket-personalize-local/users.csv";
    let (job, _) = import(c, "missing-bucket", &users, missing, ImportMode::Full).await;
    assert_eq!(job.status.as_deref(), Some("CREATE FAILED"));
    let why = job.failure_reason.unwrap();
    // The embedded S3 (s3s-fs) answers NoSuchKey for an object of a missing bucket.
    assert!(
        why.starts_with(&format!("reading {missing} failed: NoSuch")),
        "{why}"
    );
    assert_eq!(
        server
            .store
            .records(&group_arn, DatasetType::Users)
            .await
            .unwrap(),
        loaded_users
    );

    // INCREMENTAL: an id loaded again replaces its record; a new one is added.
    let (job, _) = import(
        c,
        "users-update",
        &users,
        &server.s3.location("import-update/users.csv"),
        ImportMode::Incremental,
    )
    .await;
    assert_eq!(
        job.status.as_deref(),
        Some("ACTIVE"),
        "{:?}",
        job.failure_reason
    );
    let mut expected: Vec<Vec<String>> = loaded_users
        .iter()
        .filter(|r| r[0] != "u01")
        .cloned()
        .collect();
    expected.extend(strings(&[
        &["u01", "99", "platinum"],
        &["u99", "", "basic"],
    ]));
    let updated = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(updated, expected);

    // Listing: newest first, of one dataset, with the mode and the reason.
    let listed = c
        .list_dataset_import_jobs()
        .dataset_arn(&users)
        .max_results(2)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed
        .dataset_import_jobs
        .unwrap()
        .into_iter()
        .map(|j| (j.job_name.unwrap(), j.import_mode.unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("users-update".to_owned(), ImportMode::Incremental),
            ("missing-bucket".to_owned(), ImportMode::Full)
        ]
    );
    assert!(listed.next_token.is_some());
    let all = c
        .list_dataset_import_jobs()
        .send()
        .await
        .unwrap()
        .dataset_import_jobs
        .unwrap();
    assert_eq!(all.len(), 9);
    assert!(all
        .iter()
        .any(|j| j.job_name.as_deref() == Some("interactions-full")));

    // The loaded data is what a data deletion job purges.
    let gone = fixture_ids("deletion-nested");
    let interactions_rows = fixture_rows("interactions.csv");
    let expected_deleted = updated.iter().filter(|r| gone.contains(&r[0])).count()
        + interactions_rows
            .iter()
            .filter(|r| gone.contains(&r[0]))
            .count();
    let job_arn = c
        .create_data_deletion_job()
        .job_name("after-import")
        .dataset_group_arn(&group_arn)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location("deletion-nested/"))
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let job = wait_job(c, &job_arn).await;
    assert_eq!(
        job.status.as_deref(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(job.num_deleted, Some(expected_deleted as i32));
    let left = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    let kept: Vec<_> = updated
        .iter()
        .filter(|r| !gone.contains(&r[0]))
        .cloned()
        .collect();
    assert_eq!(left, kept);

    // Exports: the deleted users are gone from the CSV, everything else is there, value for
    // value.
    let kept_interactions: Vec<_> = interactions_rows
        .iter()
        .filter(|r| !gone.contains(&r[0]))
        .cloned()
        .collect();
    let exports = server.s3.location("exports/");
    for (name, dataset, mode, header, rows) in [
        (
            "users-out",
            &users,
            "BULK",
            "USER_ID,AGE,MEMBERSHIP",
            kept.clone(),
        ),
        (
            "interactions-out",
            &interactions,
            "ALL",
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE",
            kept_interactions,
        ),
        ("users-put", &users, "PUT", "USER_ID,AGE,MEMBERSHIP", vec![]),
    ] {
        let job = export(c, name, dataset, &exports, mode).await;
        assert_eq!(
            job.status.as_deref(),
            Some("ACTIVE"),
            "{:?}",
            job.failure_reason
        );
        let body = get(&server, &format!("exports/{name}.csv")).await;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(body.as_bytes());
        let got_header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(got_header.join(","), header, "{name}");
        let got: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        // Every record, value for value; each user's in load order.
        let of = |rows: &[Vec<String>], user: &str| -> Vec<Vec<String>> {
            rows.iter().filter(|r| r[0] == user).cloned().collect()
        };
        for r in &rows {
            assert_eq!(of(&got, &r[0]), of(&rows, &r[0]), "{name}: {}", r[0]);
        }
        let (mut got, mut rows) = (got, rows);
        got.sort();
        rows.sort();
        assert_eq!(got, rows, "{name}");
    }

    let listed = c
        .list_dataset_export_jobs()
        .dataset_arn(&users)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed
        .dataset_export_jobs
        .unwrap()
        .into_iter()
        .map(|j| (j.job_name.unwrap(), j.status.unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("users-put".to_owned(), "ACTIVE".to_owned()),
            ("users-out".to_owned(), "ACTIVE".to_owned())
        ]
    );
}

/// Starts an export job and polls it to its end.
pub async fn export(
    c: &Client,
    name: &str,
    dataset_arn: &str,
    path: &str,
    mode: &str,
) -> aws_sdk_personalize::types::DatasetExportJob {
    use aws_sdk_personalize::types::{DatasetExportJobOutput, IngestionMode, S3DataConfig};
    let arn = c
        .create_dataset_export_job()
        .job_name(name)
        .dataset_arn(dataset_arn)
        .ingestion_mode(IngestionMode::from(mode))
        .role_arn(ROLE)
        .job_output(
            DatasetExportJobOutput::builder()
                .s3_data_destination(S3DataConfig::builder().path(path).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .dataset_export_job_arn
        .unwrap();
    for _ in 0..500 {
        let job = c
            .describe_dataset_export_job()
            .dataset_export_job_arn(&arn)
            .send()
            .await
            .unwrap()
            .dataset_export_job
            .unwrap();
        if matches!(
            job.status.as_deref(),
            Some("ACTIVE") | Some("CREATE FAILED")
        ) {
            assert_eq!(job.ingestion_mode.as_ref().map(|m| m.as_str()), Some(mode));
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("export job {arn} did not end");
}

/// Multipart uploads open in the bucket, where the server lists them (the embedded S3 does
/// not).
async fn open_uploads(s3: &crate::common::TestS3) -> Option<usize> {
    let listed = s3
        .client
        .list_multipart_uploads()
        .bucket(&s3.bucket)
        .send()
        .await
        .ok()?;
    Some(listed.uploads().len())
}

pub async fn get(server: &crate::api::Server, key: &str) -> String {
    let out = server
        .s3
        .client
        .get_object()
        .bucket(&server.s3.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
}

crate::s3_tests! {
    fn multipart_uploads_join_their_parts_in_order(s3) {
        use bytes::Bytes;
        use futures::StreamExt;
        let first = Bytes::from(vec![b'a'; personalize_local::source::MIN_PART_BYTES]);
        let second = Bytes::from_static(b"the end\n");
        let parts = futures::stream::iter(vec![Ok(first.clone()), Ok(second.clone())]).boxed();
        let n = s3.source().put_multipart(&s3.bucket, "out/big.csv", parts).await.unwrap();
        assert_eq!(n as usize, first.len() + second.len());
        let out = s3.client.get_object().bucket(&s3.bucket).key("out/big.csv").send().await.unwrap();
        let body = out.body.collect().await.unwrap().to_vec();
        assert_eq!(body.len(), first.len() + second.len());
        assert_eq!(&body[..first.len()], &first[..]);
        assert_eq!(&body[first.len()..], &second[..]);

        // A failing part aborts the upload: no object appears.
        let broken = futures::stream::iter(vec![
            Ok(first),
            Err(personalize_local::source::SourceError::new("StoreError", "the store failed")),
        ])
        .boxed();
        let err = s3.source().put_multipart(&s3.bucket, "out/broken.csv", broken).await.unwrap_err();
        assert_eq!(err.code, "StoreError");
        let listed = s3.client.list_objects_v2().bucket(&s3.bucket).prefix("out/").send().await.unwrap();
        let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["out/big.csv"]);
        let open = open_uploads(&s3).await;
        assert!(matches!(open, None | Some(0)), "the failed upload is aborted: {open:?} open");

        // A writer dropped mid-upload (a job's deadline) aborts its upload too.
        let stalled = futures::stream::iter(vec![Ok(Bytes::from(vec![b'b'; personalize_local::source::MIN_PART_BYTES]))])
            .chain(futures::stream::pending())
            .boxed();
        let source = s3.source();
        let writing = source.put_multipart(&s3.bucket, "out/dropped.csv", stalled);
        assert!(tokio::time::timeout(Duration::from_secs(2), writing).await.is_err());
        if let Some(open) = open_uploads(&s3).await {
            let mut left = open;
            for _ in 0..100 {
                left = open_uploads(&s3).await.unwrap();
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(left, 0, "the dropped upload is aborted");
        }

        // A bucket that does not exist (the embedded S3 creates it on upload, as it does not
        // report NoSuchBucket).
        if s3.backend.reports_no_such_bucket() {
            let parts = futures::stream::iter(vec![Ok(second)]).boxed();
            let err = s3
                .source()
                .put_multipart("no-such-bucket-personalize-local", "out/x.csv", parts)
                .await
                .unwrap_err();
            // SeaweedFS refuses the upload's creation as AccessDenied instead.
            let want = match s3.backend {
                crate::common::Backend::SeaweedFs => "AccessDenied",
                _ => "NoSuchBucket",
            };
            assert_eq!(err.code, want, "{err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_job_requests_are_checked() {
    // No worker: jobs stay CREATE PENDING.
    let server = start(Duration::ZERO, false).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "checks").await;
    let users = create_dataset(c, &group_arn, "Users", "users").await;
    let location = server.s3.location("datasets/users.csv");
    let source = || DataSource::builder().data_location(&location).build();
    let arn = c
        .create_dataset_import_job()
        .job_name("pending")
        .dataset_arn(&users)
        .data_source(source())
        .role_arn(ROLE)
        .publish_attribution_metrics_to_s3(true)
        .tags(
            aws_sdk_personalize::types::Tag::builder()
                .tag_key("k")
                .tag_value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    let job = c
        .describe_dataset_import_job()
        .dataset_import_job_arn(&arn)
        .send()
        .await
        .unwrap()
        .dataset_import_job
        .unwrap();
    assert_eq!(job.status.as_deref(), Some("CREATE PENDING"));
    assert_eq!(job.role_arn.as_deref(), Some(ROLE));
    assert_eq!(job.publish_attribution_metrics_to_s3, Some(true));
    assert_eq!(job.import_mode, Some(ImportMode::Full));
    assert_eq!(
        job.data_source.unwrap().data_location.as_deref(),
        Some(location.as_str())
    );
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);

    assert_err(
        c.delete_dataset().dataset_arn(&users).send().await,
        |e| e.is_resource_in_use_exception(),
        "has a dataset import job in progress",
    );
    assert_err(
        c.create_dataset_import_job()
            .job_name("pending")
            .dataset_arn(&users)
            .data_source(source())
            .send()
            .await,
        |e| e.is_resource_already_exists_exception(),
        "a dataset import job named pending already exists",
    );
    assert_err(
        c.create_dataset_import_job()
            .job_name("x")
            .dataset_arn(users.replace("USERS", "ITEMS"))
            .data_source(source())
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "dataset/checks/ITEMS does not exist",
    );
    for (req, text) in [
        (
            c.create_dataset_import_job()
                .dataset_arn(&users)
                .data_source(source()),
            "the required member 'jobName' is missing",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .data_source(source()),
            "the required member 'datasetArn' is missing",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .dataset_arn(&users),
            "the required member 'dataSource' is missing",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .dataset_arn(&users)
                .data_source(DataSource::builder().build()),
            "the required member 'dataSource.dataLocation' is missing",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .dataset_arn(&users)
                .data_source(DataSource::builder().data_location("ftp://b/k").build()),
            "at 'dataSource.dataLocation' failed to satisfy constraint",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .dataset_arn(&users)
                .data_source(source())
                .role_arn("role"),
            "at 'roleArn' failed to satisfy constraint",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x")
                .dataset_arn(&users)
                .data_source(source())
                .import_mode(ImportMode::from("PARTIAL")),
            "Member must satisfy enum value set: [FULL, INCREMENTAL]",
        ),
        (
            c.create_dataset_import_job()
                .job_name("x y")
                .dataset_arn(&users)
                .data_source(source()),
            "at 'jobName' failed to satisfy constraint",
        ),
    ] {
        assert_err(req.send().await, |e| e.is_invalid_input_exception(), text);
    }
    assert_err(
        c.describe_dataset_import_job()
            .dataset_import_job_arn(arn.replace("pending", "nope"))
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    assert_err(
        c.describe_dataset_import_job().send().await,
        |e| e.is_invalid_input_exception(),
        "the required member 'datasetImportJobArn' is missing",
    );
    assert_err(
        c.list_dataset_import_jobs()
            .next_token("forged")
            .send()
            .await,
        |e| e.is_invalid_next_token_exception(),
        "forged",
    );
    for bad in [0, 101] {
        assert_err(
            c.list_dataset_import_jobs().max_results(bad).send().await,
            |e| e.is_invalid_input_exception(),
            "Member must have value",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_job_requests_are_checked() {
    use aws_sdk_personalize::types::{DatasetExportJobOutput, IngestionMode, S3DataConfig};
    // No worker: jobs stay CREATE PENDING.
    let server = start(Duration::ZERO, false).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "export-checks").await;
    let users = create_dataset(c, &group_arn, "Users", "users").await;
    let output = |path: &str| {
        DatasetExportJobOutput::builder()
            .s3_data_destination(S3DataConfig::builder().path(path).build().unwrap())
            .build()
    };
    let arn = c
        .create_dataset_export_job()
        .job_name("pending")
        .dataset_arn(&users)
        .role_arn(ROLE)
        .job_output(output("s3://b/out/"))
        .send()
        .await
        .unwrap()
        .dataset_export_job_arn
        .unwrap();
    let job = c
        .describe_dataset_export_job()
        .dataset_export_job_arn(&arn)
        .send()
        .await
        .unwrap()
        .dataset_export_job
        .unwrap();
    assert_eq!(job.status.as_deref(), Some("CREATE PENDING"));
    assert_eq!(job.ingestion_mode, Some(IngestionMode::Bulk));
    assert_eq!(
        job.job_output.unwrap().s3_data_destination.unwrap().path,
        "s3://b/out/"
    );
    assert_err(
        c.create_dataset_export_job()
            .job_name("pending")
            .dataset_arn(&users)
            .role_arn(ROLE)
            .job_output(output("s3://b/out/"))
            .send()
            .await,
        |e| e.is_resource_already_exists_exception(),
        "a dataset export job named pending already exists",
    );
    assert_err(
        c.create_dataset_export_job()
            .job_name("x")
            .dataset_arn(users.replace("USERS", "ITEMS"))
            .role_arn(ROLE)
            .job_output(output("s3://b/out/"))
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    let base = || {
        c.create_dataset_export_job()
            .job_name("x")
            .dataset_arn(&users)
            .role_arn(ROLE)
            .job_output(output("s3://b/out/"))
    };
    for (req, text) in [
        (
            base().set_role_arn(None),
            "the required member 'roleArn' is missing",
        ),
        (
            base().set_job_output(None),
            "the required member 'jobOutput' is missing",
        ),
        (
            base().job_output(DatasetExportJobOutput::builder().build()),
            "the required member 'jobOutput.s3DataDestination' is missing",
        ),
        (
            base().job_output(output("b/out/")),
            "at 'jobOutput.s3DataDestination.path' failed to satisfy constraint",
        ),
        (
            base().ingestion_mode(IngestionMode::from("STREAM")),
            "Member must satisfy enum value set: [BULK, PUT, ALL]",
        ),
        (
            base().set_dataset_arn(None),
            "the required member 'datasetArn' is missing",
        ),
    ] {
        assert_err(req.send().await, |e| e.is_invalid_input_exception(), text);
    }
    assert_err(
        c.list_dataset_export_jobs()
            .next_token("forged")
            .send()
            .await,
        |e| e.is_invalid_next_token_exception(),
        "forged",
    );
    let listed = c.list_dataset_export_jobs().send().await.unwrap();
    assert_eq!(listed.dataset_export_jobs.unwrap().len(), 1);
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert!(tags.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_wait_for_their_dataset_to_be_active() {
    use aws_sdk_personalize::types::{DatasetExportJobOutput, S3DataConfig};
    let server = start(Duration::from_millis(1500), false).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "slow").await;
    let users = create_dataset(c, &group_arn, "Users", "users").await;
    // The dataset was created a moment ago: it is not ACTIVE yet.
    assert_err(
        c.create_dataset_import_job()
            .job_name("early-import")
            .dataset_arn(&users)
            .data_source(
                DataSource::builder()
                    .data_location("s3://b/users.csv")
                    .build(),
            )
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "wait until it is ACTIVE",
    );
    assert_err(
        c.create_dataset_export_job()
            .job_name("early-export")
            .dataset_arn(&users)
            .role_arn(ROLE)
            .job_output(
                DatasetExportJobOutput::builder()
                    .s3_data_destination(
                        S3DataConfig::builder().path("s3://b/out/").build().unwrap(),
                    )
                    .build(),
            )
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "wait until it is ACTIVE",
    );
}

/// An empty value in a metadata field, or one that does not fit its type, is stored as null
/// even when the schema does not make the field nullable (the service imports "metadata with
/// blank values", and AWS's MLOps sample's Items with empty and "2006–2007" YEARs under
/// `int`); in a required field it fails the import, naming the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_metadata_is_null_and_blank_required_fields_fail() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "blanks").await;
    let users = create_dataset(c, &group_arn, "Users", "users").await;
    let interactions = create_dataset(c, &group_arn, "Interactions", "interactions").await;
    let s3 = &server.s3;
    s3.put(
        "blank/users.csv",
        "USER_ID,AGE,MEMBERSHIP\nu1,,gold\nu2,30,\nu3,twenty,basic\n",
    )
    .await;
    s3.put(
        "blank/no-id.csv",
        "USER_ID,AGE,MEMBERSHIP\nu1,20,gold\n,30,basic\n",
    )
    .await;
    s3.put(
        "blank/no-time.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,click\nu2,i2,,click\n",
    )
    .await;

    let (job, _) = import(
        c,
        "blank",
        &users,
        &s3.location("blank/users.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(
        job.status.as_deref(),
        Some("ACTIVE"),
        "{:?}",
        job.failure_reason
    );
    let stored = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    // "twenty" under int is stored as null as well: the service imports such values.
    assert_eq!(
        stored,
        [["u1", "", "gold"], ["u2", "30", ""], ["u3", "", "basic"]]
    );

    let (job, _) = import(
        c,
        "no-id",
        &users,
        &s3.location("blank/no-id.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(job.status.as_deref(), Some("CREATE FAILED"));
    let why = job.failure_reason.unwrap();
    assert!(
        why.contains("blank/no-id.csv line 3: column USER_ID"),
        "{why}"
    );
    let (job, _) = import(
        c,
        "no-time",
        &interactions,
        &s3.location("blank/no-time.csv"),
        ImportMode::Full,
    )
    .await;
    assert_eq!(job.status.as_deref(), Some("CREATE FAILED"));
    let why = job.failure_reason.unwrap();
    assert!(
        why.contains("blank/no-time.csv line 3: column TIMESTAMP"),
        "{why}"
    );
    let after = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(after, stored, "a failed import changes nothing");
}
