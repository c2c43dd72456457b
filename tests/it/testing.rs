//! `personalize_local::testing::Server`, as a Rust user's test would use it: one line to
//! start, one endpoint for Personalize and S3, a data deletion job end to end.

use aws_sdk_personalize::types::DataSource;
use aws_sdk_s3::primitives::ByteStream;
use personalize_local::testing::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_server_runs_a_deletion_job_with_s3_on_its_own_endpoint() {
    let server = Server::start().await.unwrap();
    let config = server.sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let p = aws_sdk_personalize::Client::new(&config);

    s3.create_bucket().bucket("gdpr").send().await.unwrap();
    for (key, body) in [
        (
            "users.csv",
            "USER_ID,AGE,MEMBERSHIP\nu1,20,gold\nu2,30,basic\nu3,40,gold\n",
        ),
        ("forget/2026/12/04.csv", "USER_ID\nu1\nu3\n"),
    ] {
        let body = ByteStream::from(body.as_bytes().to_vec());
        s3.put_object()
            .bucket("gdpr")
            .key(key)
            .body(body)
            .send()
            .await
            .unwrap();
    }
    assert!(server.s3_dir().join("gdpr/users.csv").is_file());

    let group = p.create_dataset_group().name("g").send().await.unwrap();
    let group = group.dataset_group_arn.unwrap();
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/schemas/users.json"
    ))
    .unwrap();
    let schema = p
        .create_schema()
        .name("users")
        .schema(schema)
        .send()
        .await
        .unwrap();
    let dataset = p
        .create_dataset()
        .name("users")
        .dataset_group_arn(&group)
        .dataset_type("Users")
        .schema_arn(schema.schema_arn.unwrap())
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap();
    let source = |at: &str| DataSource::builder().data_location(at).build();
    let import = p
        .create_dataset_import_job()
        .job_name("users")
        .dataset_arn(&dataset)
        .data_source(source("s3://gdpr/users.csv"))
        .role_arn(crate::api::ROLE)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    let status = crate::processes::wait_import(&p, &import).await;
    assert_eq!(status, "ACTIVE");

    let job = crate::api::deletion(&p, "forget", &group, "s3://gdpr/forget/").await;
    assert_eq!(
        job.status(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason()
    );
    assert_eq!(job.num_deleted(), Some(2));
    let left = server
        .store()
        .records(&group, personalize_local::store::DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(left, [["u2", "30", "basic"]]);
}

/// S3 on the API's port keeps the API's guard against web pages: a cross-origin write (a
/// page's form POST, or a presigned PUT a page could compute with the well-known test key)
/// is refused before S3 sees it; a request under another host name (DNS rebinding) too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_port_s3_refuses_what_a_web_page_could_send() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::start().await.unwrap();
    std::fs::create_dir_all(server.s3_dir().join("gdpr")).unwrap();
    std::fs::write(server.s3_dir().join("gdpr/forget.csv"), "USER_ID\nu1\n").unwrap();
    let addr = server
        .endpoint_url()
        .trim_start_matches("http://")
        .to_owned();
    let send = |head: String| {
        let addr = addr.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut resp = String::new();
            stream.read_to_string(&mut resp).await.unwrap();
            resp[9..12].parse::<u16>().unwrap()
        }
    };
    let signed = "Authorization: AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n";
    let put = |origin: &str, host: &str| {
        format!("PUT /gdpr/forget.csv HTTP/1.1\r\nHost: {host}\r\n{origin}{signed}Content-Type: text/csv\r\nContent-Length: 9\r\nConnection: close\r\n\r\nUSER_ID\nx")
    };
    let page = send(put("Origin: http://evil.example\r\n", &addr)).await;
    assert_eq!(page, 403, "a cross-origin write");
    let rebound = send(put("", "evil.example:80")).await;
    assert_eq!(rebound, 403, "another host name");
    let forged = send(put("", &addr)).await;
    assert!(
        (400..500).contains(&forged),
        "a bad signature is refused by S3: {forged}"
    );
    let kept = std::fs::read_to_string(server.s3_dir().join("gdpr/forget.csv")).unwrap();
    assert_eq!(kept, "USER_ID\nu1\n");
}
