//! Failure injection (`/_personalize-local/faults`, `serve --faults FILE`): the next N
//! matching operations, jobs or S3 requests fail as asked, and real clients see it as they
//! would see the service fail.

use std::time::{Duration, Instant};

use aws_sdk_personalize::types::DataSource;
use personalize_local::api::FAULTS_PATH;
use personalize_local::store::DatasetType;
use serde_json::{json, Value};

use crate::api::{start, wait_job, Server};
use crate::common::fixture_rows;

/// An admin request with a JSON body; the status and the JSON answer.
pub async fn admin(endpoint: &str, method: &str, body: Option<Value>) -> (u16, Value) {
    admin_at(endpoint, FAULTS_PATH, method, body).await
}

/// A request to the admin endpoint `path`: its status and JSON answer.
pub async fn admin_at(
    endpoint: &str,
    path: &str,
    method: &str,
    body: Option<Value>,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    let status = resp[9..12].parse().unwrap();
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

async fn deletion(server: &Server, name: &str, group: &str, key: &str) -> Result<String, String> {
    server
        .client
        .create_data_deletion_job()
        .job_name(name)
        .dataset_group_arn(group)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location(key))
                .build(),
        )
        .role_arn("arn:aws:iam::000000000000:role/r")
        .send()
        .await
        .map(|o| o.data_deletion_job_arn.unwrap())
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{}: {}",
                e.meta().code().unwrap_or(""),
                e.meta().message().unwrap_or("")
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fail_operations_jobs_and_s3_reads_as_asked() {
    use aws_sdk_personalize::error::ProvideErrorMetadata;
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = crate::api::group_with_users(&server, "faults").await;
    let users = || async {
        server
            .store
            .count_records(&group, DatasetType::Users)
            .await
            .unwrap()
    };
    let before = users().await;
    assert_eq!(before as usize, fixture_rows("users.csv").len());
    let endpoint = &server.endpoint;

    // A bad fault is refused, naming what is wrong, and nothing is added.
    let (status, v) = admin(
        endpoint,
        "POST",
        Some(json!({"operation": "X", "errorCode": "Oops"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["__type"], "InvalidInputException");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("is not one of the service's"),
        "{v}"
    );
    assert_eq!(admin(endpoint, "GET", None).await.1, json!({"faults": []}));

    // An operation fails with the modeled error. The SDKs count LimitExceededException among
    // the throttling errors, and retry it (standard mode: 3 attempts): as many faults as
    // attempts make the call fail.
    let fault = json!({"operation": "CreateDataDeletionJob", "errorCode": "LimitExceededException", "message": "too many jobs", "count": 3});
    let (status, v) = admin(endpoint, "POST", Some(fault)).await;
    assert_eq!(status, 200);
    assert_eq!(v["faults"][0]["id"], "fault-1");
    assert_eq!(v["faults"][0]["count"], 3);
    let err = deletion(&server, "limited", &group, "deletion-nested/")
        .await
        .unwrap_err();
    assert_eq!(err, "LimitExceededException: too many jobs");
    assert_eq!(admin(endpoint, "GET", None).await.1, json!({"faults": []}));
    // A modeled error the SDK does not retry fails the call at once.
    let fault =
        json!({"operation": "CreateDataDeletionJob", "errorCode": "ResourceInUseException"});
    admin(endpoint, "POST", Some(fault)).await;
    let err = deletion(&server, "in-use", &group, "deletion-nested/")
        .await
        .unwrap_err();
    assert!(
        err.starts_with("ResourceInUseException: injected by the fault fault-2"),
        "{err}"
    );

    // The SDK retries a ThrottlingException (standard mode, 3 attempts): two pass unseen,
    // three do not.
    let throttle = |count| json!({"operation": "DescribeDatasetGroup", "errorCode": "ThrottlingException", "count": count});
    admin(endpoint, "POST", Some(throttle(2))).await;
    c.describe_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    admin(endpoint, "POST", Some(throttle(3))).await;
    let err = c
        .describe_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(admin(endpoint, "GET", None).await.1, json!({"faults": []}));

    // Added latency.
    admin(
        endpoint,
        "POST",
        Some(json!({"operation": "ListDatasetGroups", "latencyMs": 300})),
    )
    .await;
    let started = Instant::now();
    c.list_dataset_groups().send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A job fault ends the next deletion job FAILED with its reason, nothing deleted.
    let reason = "the role arn:aws:iam::000000000000:role/r cannot read the bucket";
    admin(
        endpoint,
        "POST",
        Some(json!({"jobKind": "DataDeletionJob", "failureReason": reason})),
    )
    .await;
    let arn = deletion(&server, "job-fault", &group, "deletion-nested/")
        .await
        .unwrap();
    let job = wait_job(c, &arn).await;
    assert_eq!(job.status.as_deref(), Some("FAILED"));
    assert_eq!(job.failure_reason.as_deref(), Some(reason));
    assert_eq!(users().await, before);

    // An S3 fault under a prefix fails the read of the object there, as S3 would.
    let prefix = server.s3.location("deletion-nested/sub/");
    admin(endpoint, "POST", Some(json!({"s3Prefix": prefix, "errorCode": "AccessDenied", "message": "Access Denied", "count": 10}))).await;
    let arn = deletion(&server, "s3-fault", &group, "deletion-nested/")
        .await
        .unwrap();
    let job = wait_job(c, &arn).await;
    assert_eq!(job.status.as_deref(), Some("FAILED"));
    let why = job.failure_reason.unwrap();
    assert!(
        why.starts_with(&format!("reading {prefix}"))
            && why.contains("AccessDenied (Access Denied)"),
        "{why}"
    );
    assert_eq!(users().await, before);

    // DELETE clears; the same job then runs.
    assert_eq!(
        admin(endpoint, "DELETE", None).await,
        (200, json!({"faults": []}))
    );
    let arn = deletion(&server, "no-fault", &group, "deletion-nested/")
        .await
        .unwrap();
    assert_eq!(wait_job(c, &arn).await.status.as_deref(), Some("COMPLETED"));
    assert!(users().await < before);
}

/// `serve --faults FILE` starts with the file's faults in force; a bad file is a usage
/// error (exit 2) naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_loads_faults_from_a_file() {
    use aws_sdk_personalize::error::ProvideErrorMetadata;
    let s3 = crate::common::TestS3::start(crate::common::Backend::Embedded, "faults-file")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    let faults = json!([{"operation": "ListDatasetGroups", "errorCode": "AccessDeniedException", "message": "from the file"}]);
    std::fs::write(&file, faults.to_string()).unwrap();
    let data = dir.path().join("data");
    let path = file.to_str().unwrap();
    let server = crate::processes::ServeProcess::start_with(&s3, &data, &["--faults", path], &[]);
    let c = crate::api::client(&server.1);
    let err = c.list_dataset_groups().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(err.message(), Some("from the file"));
    c.list_dataset_groups().send().await.unwrap();
    drop(server);

    std::fs::write(&file, r#"[{"operation": "ListDatasetGroups"}]"#).unwrap();
    let out = crate::cli::run(&s3, &data, &["serve", "--port", "0", "--faults", path]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(path) && stderr.contains("an errorCode, a latencyMs or both"),
        "{stderr}"
    );
}
