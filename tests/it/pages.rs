//! No web page can change anything here: every request that can change state, on every API
//! this port serves (the control plane, the events API, the admin endpoints), refuses a
//! foreign `Origin` and a body that is not JSON, which are what a page may send without a
//! CORS preflight; and no preflight is ever answered, so a page's JSON request never leaves
//! the browser. The real SDKs keep working (the smoke flows and every other test drive them).

use std::time::Duration;

use personalize_local::store::DatasetType;

use crate::admin::request_with_body;
use crate::api::{create_active_group, start};
use crate::api_resources::create_dataset;

/// What a page can send cross-origin without a preflight, and two more a tool might.
const PAGE_HEADERS: [&[(&str, &str)]; 8] = [
    &[
        ("Content-Type", "text/plain"),
        ("Origin", "http://evil.example"),
    ],
    // navigator.sendBeacon with a string body.
    &[
        ("Content-Type", "text/plain;charset=UTF-8"),
        ("Origin", "http://evil.example"),
    ],
    &[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", "http://evil.example"),
    ],
    &[
        ("Content-Type", "multipart/form-data; boundary=x"),
        ("Origin", "https://evil.example:8443"),
    ],
    // fetch with a Blob body of no type.
    &[("Origin", "http://evil.example")],
    // A sandboxed frame or a file: page.
    &[("Content-Type", "text/plain"), ("Origin", "null")],
    // JSON needs a preflight, which is never answered; refused all the same.
    &[
        ("Content-Type", "application/json"),
        ("Origin", "http://evil.example"),
    ],
    // Not JSON, from anywhere.
    &[("Content-Type", "text/plain")],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_cannot_write_through_any_api() {
    let server = start(Duration::ZERO, false).await;
    let group = create_active_group(&server, "pages").await;
    let users = create_dataset(&server.client, &group, "Users", "users").await;
    let put_users = format!(
        r#"{{"datasetArn":"{users}","users":[{{"userId":"page","properties":"{{\"membership\":\"gold\"}}"}}]}}"#
    );
    let bodies: Vec<(&str, Option<&str>, String)> = vec![
        ("/users", None, put_users.clone()),
        ("/items", None, format!(r#"{{"datasetArn":"{users}","items":[{{"itemId":"i"}}]}}"#)),
        ("/actions", None, format!(r#"{{"datasetArn":"{users}","actions":[{{"actionId":"a"}}]}}"#)),
        (
            "/events",
            None,
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"click","sentAt":1}]}"#.to_owned(),
        ),
        (
            "/action-interactions",
            None,
            r#"{"trackingId":"t","actionInteractions":[{"actionId":"a","sessionId":"s","timestamp":1,"eventType":"TAKEN"}]}"#.to_owned(),
        ),
        (
            "/",
            Some("AmazonPersonalize.CreateDatasetGroup"),
            r#"{"name":"made-by-a-page"}"#.to_owned(),
        ),
    ];
    let host = ("Host", "127.0.0.1");
    let groups = || async {
        let out = server.client.list_dataset_groups().send().await.unwrap();
        out.dataset_groups().len()
    };
    let users_stored = || async {
        server
            .store
            .count_records(&group, DatasetType::Users)
            .await
            .unwrap()
    };
    let mut refused = 0;
    for (path, target, body) in &bodies {
        for page in PAGE_HEADERS {
            let mut headers = vec![host];
            headers.extend_from_slice(page);
            if let Some(target) = target {
                headers.push(("X-Amz-Target", target));
            }
            let (status, head) = request_with_body(&server, "POST", path, &headers, body).await;
            assert_eq!(status, 403, "{path} {page:?}: {head}");
            assert!(
                head.contains("x-amzn-errortype: accessdeniedexception"),
                "{path} {page:?}: {head}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 48);
    assert_eq!(users_stored().await, 0, "a page's PutUsers was written");
    assert_eq!(groups().await, 1, "a page created a dataset group");

    // No preflight is answered: a page's JSON request is never sent.
    for (path, target) in [
        ("/users", "content-type"),
        ("/", "content-type,x-amz-target"),
    ] {
        let (status, head) = request_with_body(
            &server,
            "OPTIONS",
            path,
            &[
                host,
                ("Origin", "http://evil.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", target),
            ],
            "",
        )
        .await;
        assert!(!(200..300).contains(&status), "{path}: {status}");
        assert!(!head.contains("access-control-allow"), "{path}: {head}");
    }

    // The same body as a tool sends it is written, and from a loopback page too.
    let json = ("Content-Type", "application/json");
    let (status, head) =
        request_with_body(&server, "POST", "/users", &[host, json], &put_users).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(users_stored().await, 1);
    let local = ("Origin", "http://localhost:3000");
    let (status, head) =
        request_with_body(&server, "POST", "/users", &[host, json, local], &put_users).await;
    assert_eq!(status, 200, "{head}");
    let amz = ("Content-Type", "application/x-amz-json-1.1");
    let target = ("X-Amz-Target", "AmazonPersonalize.CreateDatasetGroup");
    let (status, head) = request_with_body(
        &server,
        "POST",
        "/",
        &[host, amz, target],
        r#"{"name":"made-by-a-tool"}"#,
    )
    .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(groups().await, 2);
}
