//! S3 on the API's own port (`serve --s3-dir DIR`): the embedded S3 server over a folder,
//! answered on the endpoint the Personalize APIs use, so that a test needs one server and one
//! endpoint. Requests are told apart the way multi-service emulators do: by the service name
//! of the SigV4 credential scope (`.../s3/aws4_request` in the `Authorization` header or in a
//! presigned URL's `X-Amz-Credential`); an unsigned request is the API's when it carries
//! `X-Amz-Target` or is on one of the API's paths, else S3's (which refuses it unsigned).

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use s3s::service::S3Service;

/// The paths the API answers without a signature.
const API_PATHS: [&str; 11] = [
    "/health",
    "/recommendations",
    "/personalize-ranking",
    "/action-recommendations",
    "/events",
    "/users",
    "/items",
    "/actions",
    "/action-interactions",
    "/_personalize-local/",
    "/moto-api/",
];

/// The service name of a SigV4 credential (`AKID/20260101/us-east-1/s3/aws4_request`).
fn scope_service(credential: &str) -> Option<&str> {
    let mut parts = credential.split('/');
    let service = parts.nth(3)?;
    (parts.next()? == "aws4_request").then_some(service)
}

/// Whether `req` is for S3 rather than for the Personalize APIs.
pub fn is_s3(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        if let Some(credential) = auth
            .split([' ', ','])
            .find_map(|p| p.trim().strip_prefix("Credential="))
        {
            return scope_service(credential) == Some("s3");
        }
    }
    if let Some(query) = req.uri().query() {
        if let Some(credential) = query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Credential="))
        {
            let credential = credential.replace("%2F", "/").replace("%2f", "/");
            return scope_service(&credential) == Some("s3");
        }
    }
    if headers.contains_key("x-amz-target") {
        return false;
    }
    let path = req.uri().path();
    let api = (path == "/" && req.method() == axum::http::Method::POST)
        || API_PATHS
            .iter()
            .any(|p| path == p.trim_end_matches('/') || path.starts_with(p));
    !api
}

/// Answers an S3 request.
pub async fn answer(s3: &S3Service, req: Request) -> Response {
    let mut s3 = s3.clone();
    match tower_service::Service::call(&mut s3, req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            let message = format!("the S3 request failed: {e:?}");
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn requests_are_told_apart_by_their_signature_then_their_path() {
        let signed = |service: &str| {
            format!("AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00")
        };
        let s3 = signed("s3");
        let personalize = signed("personalize");
        assert!(is_s3(&req(
            "PUT",
            "/bucket/key.csv",
            &[("authorization", &s3)]
        )));
        assert!(is_s3(&req("POST", "/", &[("authorization", &s3)])));
        assert!(
            is_s3(&req("GET", "/users", &[("authorization", &s3)])),
            "a bucket named users"
        );
        assert!(!is_s3(&req(
            "POST",
            "/",
            &[("authorization", &personalize)]
        )));
        assert!(!is_s3(&req(
            "POST",
            "/events",
            &[("authorization", &personalize)]
        )));
        assert!(is_s3(&req(
            "GET",
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261204%2Fus-east-1%2Fs3%2Faws4_request",
            &[]
        )));
        assert!(!is_s3(&req(
            "POST",
            "/",
            &[("x-amz-target", "AmazonPersonalize.ListSchemas")]
        )));
        assert!(!is_s3(&req("GET", "/health", &[])));
        assert!(!is_s3(&req("POST", "/_personalize-local/reset", &[])));
        assert!(is_s3(&req("GET", "/bucket", &[])));
    }
}
