//! What a web page could send: requests under a foreign `Host` (DNS rebinding) are refused,
//! and the admin endpoint refuses foreign origins and non-JSON bodies, or is not served at all
//! with `--no-admin`.

use std::time::Duration;

use personalize_local::api::{ApiConfig, MOTO_RESET_PATH, RESET_PATH};

use crate::api::{start_with, Server};

/// One HTTP/1.1 request with these headers; returns the status and the lowercased head.
async fn request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    request_with_body(server, method, path, headers, "").await
}

/// [`request`] with a body.
pub async fn request_with_body(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += &format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    let status = resp[9..12].parse().unwrap();
    let head = resp.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    (status, head)
}

async fn groups(server: &Server) -> usize {
    let out = server.client.list_dataset_groups().send().await.unwrap();
    out.dataset_groups().len()
}

fn config(allowed_hosts: &[&str], admin: bool) -> ApiConfig {
    ApiConfig {
        transition: Duration::ZERO,
        allowed_hosts: allowed_hosts.iter().map(|h| h.to_string()).collect(),
        admin,
        ..ApiConfig::default()
    }
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_origins_cannot_reach_the_server() {
    let server = start_with(config(&["personalize.internal"], true), false).await;
    server
        .client
        .create_dataset_group()
        .name("kept")
        .send()
        .await
        .unwrap();
    let port = server.endpoint.rsplit(':').next().unwrap().to_owned();

    // Loopback names and the allowed one are served, with or without a port.
    for host in [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "app.localhost",
        "personalize.internal",
    ] {
        let with_port = format!("{host}:{port}");
        for h in [host, with_port.as_str()] {
            let (status, _) = request(&server, "GET", "/health", &[("Host", h)]).await;
            assert_eq!(status, 200, "{h}");
        }
    }
    // Every answer has a request ID, the router's 404 and 405 included.
    for (method, path, want) in [
        ("GET", "/health", 200),
        ("GET", "/nope", 404),
        ("GET", "/", 405),
    ] {
        let (status, head) = request(&server, method, path, &[("Host", "localhost")]).await;
        assert_eq!(status, want, "{method} {path}");
        assert!(
            head.contains("x-amzn-requestid: "),
            "{method} {path}: {head}"
        );
    }
    // A rebinding page's own name is refused on every route, the reset included.
    for path in ["/health", "/", RESET_PATH] {
        let method = if path == "/health" { "GET" } else { "POST" };
        let host = format!("evil.example:{port}");
        let (status, head) = request(&server, method, path, &[("Host", &host), JSON]).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            head.contains("x-amzn-errortype: accessdeniedexception"),
            "{head}"
        );
        assert!(head.contains("x-amzn-requestid: "), "{head}");
    }
    assert_eq!(groups(&server).await, 1);

    // The reset: a page's cross-origin simple POST (text/plain, a form, or no content type:
    // a browser sends its Origin), or a JSON one from a foreign origin, is refused; JSON from
    // a loopback page or a tool works, and so does a tool's bare POST (no content type, no
    // Origin), as moto's harnesses send it.
    let host = ("Host", "127.0.0.1");
    for path in [RESET_PATH, MOTO_RESET_PATH] {
        for headers in [
            vec![
                host,
                ("Content-Type", "text/plain"),
                ("Origin", "http://evil.example"),
            ],
            vec![host, ("Content-Type", "text/plain")],
            vec![host, ("Content-Type", "application/x-www-form-urlencoded")],
            vec![host, ("Origin", "http://evil.example")],
            vec![host, ("Origin", "http://localhost:3000")],
            vec![host, JSON, ("Origin", "http://evil.example")],
            vec![host, JSON, ("Origin", "null")],
        ] {
            let (status, _) = request(&server, "POST", path, &headers).await;
            assert_eq!(status, 403, "{path} {headers:?}");
            assert_eq!(
                groups(&server).await,
                1,
                "{path} {headers:?} must not reset"
            );
        }
    }
    let (status, _) = request(&server, "POST", MOTO_RESET_PATH, &[host]).await;
    assert_eq!(status, 200, "a bare POST, as moto's harnesses send it");
    assert_eq!(groups(&server).await, 0);
    server
        .client
        .create_dataset_group()
        .name("again")
        .send()
        .await
        .unwrap();
    let (status, _) = request(
        &server,
        "POST",
        RESET_PATH,
        &[host, JSON, ("Origin", "http://localhost:3000")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(groups(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_admin_serves_no_reset() {
    let server = start_with(config(&[], false), false).await;
    server
        .client
        .create_dataset_group()
        .name("kept")
        .send()
        .await
        .unwrap();
    for path in [RESET_PATH, MOTO_RESET_PATH] {
        let (status, _) = request(&server, "POST", path, &[("Host", "127.0.0.1"), JSON]).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(groups(&server).await, 1);
    }
    // The API itself is still served.
    let (status, _) = request(&server, "GET", "/health", &[("Host", "localhost")]).await;
    assert_eq!(status, 200);
}
