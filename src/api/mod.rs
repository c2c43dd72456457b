//! The Amazon Personalize API over awsJson1_1: `POST /` with `X-Amz-Target:
//! AmazonPersonalize.<Operation>`, JSON in and out, errors as [`error::ApiError`]; and on the
//! same port the Personalize Events API over restJson1 ([`events`]: `POST /events`, ...) and
//! the Personalize Runtime API over restJson1 ([`runtime`]: `POST /recommendations`, ...).
//!
//! Besides the API: `GET /health`, and the admin endpoints for test suites:
//! `POST /_personalize-local/reset` (empties every store table; `POST /moto-api/reset` too),
//! `/_personalize-local/faults` (failure injection, [`crate::faults`]) and
//! `/_personalize-local/pins` (fixed runtime answers, [`pins`]).

pub mod deleting;
pub mod dto;
pub mod error;
pub mod events;
pub mod input;
pub mod ops;
pub mod pins;
pub mod runtime;
pub mod s3;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;

use self::error::ApiError;
use self::input::Input;
use crate::source::DynObjectSource;
use crate::store::{ArnScope, DynDatasetStore};

/// The content type of every awsJson1_1 answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Request bodies larger than this are refused (the largest member, a schema, is 20,000
/// characters).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The path of the reset endpoint.
pub const RESET_PATH: &str = "/_personalize-local/reset";

/// Failure injection ([`crate::faults`]): POST adds faults, GET lists them, DELETE clears.
pub const FAULTS_PATH: &str = "/_personalize-local/faults";

/// Pinned answers of the runtime API ([`pins`]): POST adds, GET lists, DELETE clears.
pub const PINS_PATH: &str = "/_personalize-local/pins";

/// moto's reset, answered as [`RESET_PATH`] is, so that test suites written for moto run
/// unchanged.
pub const MOTO_RESET_PATH: &str = "/moto-api/reset";

/// Whether a path is an admin endpoint's.
fn is_admin(path: &str) -> bool {
    path.starts_with("/_personalize-local/") || path.starts_with("/moto-api/")
}

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The region in ARNs when a request carries no SigV4 credential scope.
    pub region: String,
    /// The account in ARNs.
    pub account: String,
    /// How long a new dataset group takes from `CREATE PENDING` to `ACTIVE` (half of it
    /// `CREATE PENDING`, half `CREATE IN_PROGRESS`); zero makes groups `ACTIVE` at once.
    pub transition: Duration,
    /// When true, a request signed with a 12-digit access key id is in that account (as
    /// LocalStack does); other keys are in [`ApiConfig::account`].
    pub account_per_access_key: bool,
    /// Host names (in the `Host` header) served besides the loopback ones (`localhost`,
    /// `*.localhost`, `127.0.0.0/8`, `[::1]`); `*` serves any.
    pub allowed_hosts: Vec<String>,
    /// Whether the admin endpoints (the reset) are served.
    pub admin: bool,
    /// The KMS keys the groups' roles can use; `None`: every well-formed key ARN. A group
    /// created with another key ends `CREATE FAILED`, as it does on AWS when its role cannot
    /// use the key.
    pub kms_keys: Option<Vec<String>>,
    /// S3 answered on the same port ([`s3`]), when given.
    pub s3: Option<s3s::service::S3Service>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let scope = ArnScope::default();
        ApiConfig {
            region: scope.region,
            account: scope.account,
            transition: Duration::from_millis(200),
            account_per_access_key: false,
            allowed_hosts: Vec::new(),
            admin: true,
            kms_keys: None,
            s3: None,
        }
    }
}

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// Where everything is kept.
    pub store: DynDatasetStore,
    /// Where deletion jobs read their input.
    pub source: DynObjectSource,
    /// Behaviour.
    pub config: ApiConfig,
    /// Wakes the job worker when a job is created.
    pub jobs_waiting: Arc<Notify>,
    /// Serialises tag changes, each a read, a merge and a write.
    pub tag_writes: tokio::sync::Mutex<()>,
    /// Groups and datasets deleted within the transition time.
    pub deleting: deleting::Deleting,
    /// Failures to inject ([`crate::faults`]); the worker and the S3 source share them.
    pub faults: Arc<crate::faults::Faults>,
    /// Writes the records of the events API ([`events`]) with group commit.
    pub events: crate::events::commit::GroupCommit,
    /// The models the runtime API ([`runtime`]) answers with, loaded once each.
    pub models: crate::answer::deployed::Models,
    /// Answers pinned for tests ([`pins`]).
    pub pins: pins::Pins,
}

impl AppState {
    /// Shared state for a server; the source is wrapped so that S3 faults apply to it.
    pub fn new(store: DynDatasetStore, source: DynObjectSource, config: ApiConfig) -> Arc<Self> {
        let faults: Arc<crate::faults::Faults> = Arc::default();
        let source = Arc::new(crate::source::faulty::FaultySource::new(
            source,
            faults.clone(),
        ));
        Arc::new(AppState {
            events: crate::events::commit::GroupCommit::new(store.clone()),
            store,
            source,
            config,
            jobs_waiting: Arc::new(Notify::new()),
            tag_writes: tokio::sync::Mutex::new(()),
            deleting: deleting::Deleting::default(),
            faults,
            models: Default::default(),
            pins: Default::default(),
        })
    }
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/", post(dispatch))
        .route("/health", get(health))
        .merge(events::routes())
        .merge(runtime::routes());
    if state.config.admin {
        router = router
            .route(RESET_PATH, post(reset))
            .route(MOTO_RESET_PATH, post(reset))
            .route(
                FAULTS_PATH,
                get(list_faults).post(add_faults).delete(clear_faults),
            )
            .route(PINS_PATH, get(list_pins).post(add_pins).delete(clear_pins));
    }
    router
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The host of a `Host` or `Origin` value, without scheme, port or brackets, lowercased.
fn host_name(value: &str) -> String {
    let rest = value.split_once("://").map_or(value, |(_, rest)| rest);
    let rest = rest.split('/').next().unwrap_or(rest);
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => rest.rsplit_once(':').map_or(rest, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                rest
            }
        }),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a host name is one this server answers to: a loopback name or address, or one
/// the user allowed.
fn host_allowed(config: &ApiConfig, host: &str) -> bool {
    is_loopback(host)
        || config
            .allowed_hosts
            .iter()
            .any(|h| h == "*" || h.eq_ignore_ascii_case(host))
}

/// Whether a host name is a loopback name or address.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses what a web page could send here, before any route runs:
/// - a `Host` that is not a loopback name or an allowed one (a DNS-rebinding page reaches
///   the server under its own name);
/// - on every request that can change state (any method but GET, HEAD and OPTIONS, on every
///   path: the control plane, the events API, the admin endpoints), an `Origin` of another
///   host (a page's cross-origin request), or a body that is not JSON (the content types a
///   page may send without a CORS preflight: `text/plain`, forms, multipart). A request with
///   neither a content type nor an `Origin` passes: no browser sends a cross-origin POST
///   without its `Origin`, and moto's harnesses reset with a bare POST. The real SDKs send
///   `application/x-amz-json-1.1` (control plane) or `application/json` (restJson1) and no
///   `Origin`.
///
/// No CORS preflight is ever answered with an `Access-Control-Allow-*` header, so a page's
/// JSON request (which needs one) never leaves the browser either.
async fn guard(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let config = &state.config;
    let headers = request.headers();
    if let Some(host) = headers.get("host") {
        let host = host_name(host.to_str().unwrap_or(""));
        if !host_allowed(config, &host) {
            return with_request_id(
                ApiError::forbidden(format!(
                    "the host {host:?} is not served; start personalize-local with --allowed-hosts {host} to serve it"
                ))
                .into_response(),
            );
        }
    }
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if let Some(s3) = config.s3.as_ref().filter(|_| s3::is_s3(&request)) {
        // S3's bodies are anything (CSV, XML): the page check is on the `Origin` alone (a
        // page's form POST, S3's browser upload included, always carries one). S3 answers
        // no preflight either.
        if !safe {
            if let Err(why) = origin_safe(config, request.headers()) {
                return with_request_id(ApiError::forbidden(why).into_response());
            }
        }
        return s3::answer(s3, request).await;
    }
    if !safe || is_admin(request.uri().path()) {
        if let Err(why) = page_safe(config, headers) {
            return with_request_id(ApiError::forbidden(why).into_response());
        }
    }
    // Every answer carries a request ID: the router's own 404 and 405 and `/health` too.
    let resp = next.run(request).await;
    if resp.headers().contains_key("x-amzn-requestid") {
        resp
    } else {
        with_request_id(resp)
    }
}

/// The content types a request that changes state may have: the JSON of the protocols
/// served here (none of which a page may send cross-origin without a preflight).
const JSON_TYPES: [&str; 3] = [
    "application/json",
    "application/x-amz-json-1.0",
    CONTENT_TYPE,
];

/// Whether a request is one no web page could have sent (see [`guard`]): its `Origin`, if
/// any, is a served host, and its body is JSON (or it has neither a content type nor an
/// `Origin`). The error says which check failed.
fn page_safe(config: &ApiConfig, headers: &HeaderMap) -> Result<(), String> {
    origin_safe(config, headers)?;
    let json = match headers.get("content-type") {
        None => !headers.contains_key("origin"),
        Some(v) => v.to_str().ok().is_some_and(|v| {
            let media = v.split(';').next().unwrap_or("").trim();
            JSON_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t))
        }),
    };
    if !json {
        let types = JSON_TYPES.join(", ");
        return Err(format!(
            "requests that change state must have the content type {types}"
        ));
    }
    Ok(())
}

/// Whether a request's `Origin`, if any, is a served host.
fn origin_safe(config: &ApiConfig, headers: &HeaderMap) -> Result<(), String> {
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().unwrap_or("");
        // `*` serves any Host, not any page: an origin must be loopback or named.
        let host = host_name(origin);
        let named = config
            .allowed_hosts
            .iter()
            .any(|h| h != "*" && h.eq_ignore_ascii_case(&host));
        if origin == "null" || !(is_loopback(&host) || named) {
            return Err(format!("requests from the origin {origin:?} are refused"));
        }
    }
    Ok(())
}

async fn health() -> Response {
    json_response(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn reset(State(state): State<Arc<AppState>>) -> Response {
    match state.store.reset().await {
        Ok(()) => {
            state.deleting.clear();
            state.faults.clear();
            state.models.clear();
            state.pins.clear();
            // What the reset dropped leaves the disk before the answer.
            if let Err(e) = state.store.compact().await {
                tracing::warn!(error = %e, "cannot compact the store after a reset");
            }
            with_request_id(json_response(json!({ "status": "reset" })))
        }
        Err(e) => with_request_id(ApiError::internal(&e).into_response()),
    }
}

fn faults_answer(state: &AppState) -> Response {
    with_request_id(json_response(json!({ "faults": state.faults.list() })))
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Response {
    faults_answer(&state)
}

/// Adds one fault (a JSON object) or several (an array), all or none; answers what is in
/// force.
async fn add_faults(State(state): State<Arc<AppState>>, body: bytes::Bytes) -> Response {
    use crate::faults::Fault;
    let parsed: Result<Vec<Fault>, String> = serde_json::from_slice::<Value>(&body)
        .and_then(|v| match v {
            Value::Array(_) => serde_json::from_value(v),
            _ => serde_json::from_value(v).map(|f| vec![f]),
        })
        .map_err(|e| e.to_string());
    match parsed.and_then(|faults| state.faults.add(faults)) {
        Ok(_) => faults_answer(&state),
        Err(why) => with_request_id(ApiError::invalid_input(why).into_response()),
    }
}

fn pins_answer(state: &AppState) -> Response {
    with_request_id(json_response(json!({ "pins": state.pins.list() })))
}

async fn list_pins(State(state): State<Arc<AppState>>) -> Response {
    pins_answer(&state)
}

/// Adds one pin (a JSON object) or several (an array), all or none; answers what is in force.
async fn add_pins(State(state): State<Arc<AppState>>, body: bytes::Bytes) -> Response {
    use self::pins::Pin;
    let parsed: Result<Vec<Pin>, String> = serde_json::from_slice::<Value>(&body)
        .and_then(|v| match v {
            Value::Array(_) => serde_json::from_value(v),
            _ => serde_json::from_value(v).map(|p| vec![p]),
        })
        .map_err(|e| e.to_string());
    match parsed.and_then(|pins| state.pins.add(pins)) {
        Ok(()) => pins_answer(&state),
        Err(why) => with_request_id(ApiError::invalid_input(why).into_response()),
    }
}

async fn clear_pins(State(state): State<Arc<AppState>>) -> Response {
    state.pins.clear();
    pins_answer(&state)
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> Response {
    state.faults.clear();
    faults_answer(&state)
}

fn json_response(v: Value) -> Response {
    let mut resp = (StatusCode::OK, v.to_string()).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    resp
}

pub(crate) fn with_request_id(mut resp: Response) -> Response {
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-requestid", id);
    }
    resp
}

/// The account and region of a request: the region of its SigV4 credential scope
/// (`Credential=AKID/20261123/eu-west-1/personalize/aws4_request`), else the configured one;
/// the configured account, or with [`ApiConfig::account_per_access_key`] the access key id
/// when it is 12 digits.
pub fn request_scope(headers: &HeaderMap, config: &ApiConfig) -> ArnScope {
    let credential = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1));
    let part = |i: usize| credential.and_then(|cred| cred.split(['/', ',']).nth(i));
    let region = part(2)
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or(&config.region);
    let account = part(0)
        .filter(|k| {
            config.account_per_access_key && k.len() == 12 && k.bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or(&config.account);
    ArnScope {
        region: region.to_owned(),
        account: account.to_owned(),
    }
}

async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The body is read first, whatever the answer: a client still sending when the answer
    // comes would see a broken pipe instead of it.
    let body = read_body(Body::new(body)).await;
    let result = async {
        let body = body?;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unknown_operation("the X-Amz-Target header is missing"))?;
        let operation = target
            .strip_prefix("AmazonPersonalize.")
            .ok_or_else(|| ApiError::unknown_operation(format!("unknown target {target:?}")))?;
        let input = Input::parse(&body)?;
        let scope = request_scope(&parts.headers, &state.config);
        tracing::debug!(operation, "request");
        if let Some(fault) = state.faults.operation(operation) {
            tokio::time::sleep(fault.latency).await;
            if let Some((code, message)) = fault.error {
                return Err(ApiError::injected(code, message));
            }
        }
        ops::call(&state, operation, &scope, &input).await
    }
    .await;
    let resp = match result {
        Ok(v) => json_response(v),
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "error answer");
            let too_large = e.status == StatusCode::PAYLOAD_TOO_LARGE;
            let mut resp = e.into_response();
            if too_large {
                // Past the drained bytes the rest is not read: the connection ends here.
                resp.headers_mut()
                    .insert("connection", HeaderValue::from_static("close"));
            }
            resp
        }
    };
    with_request_id(resp)
}

/// A body over [`MAX_BODY_BYTES`] is read on, and dropped, up to this many bytes before the
/// answer, so that the client gets its 413 rather than a reset connection.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// The request body, at most [`MAX_BODY_BYTES`] of it: `RequestEntityTooLargeException` past
/// that, once the body is drained (up to [`DRAIN_BYTES`]).
pub(crate) async fn read_body(mut body: Body) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::serialization(format!("the request body could not be read: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len() as u64;
        if seen > MAX_BODY_BYTES as u64 {
            kept.clear();
            if seen > DRAIN_BYTES {
                break;
            }
        } else {
            kept.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES as u64 {
        return Err(ApiError::too_large(format!(
            "the request body is over {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(kept.freeze())
}
