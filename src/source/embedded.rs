//! An S3 endpoint over a local folder (`s3s-fs`), on 127.0.0.1 and a free port.
//!
//! Each top-level folder of the root is a bucket; files below it are objects. The demo
//! serves a copy of `fixtures/s3` this way, and the tests run the whole pipeline against it
//! with the real `aws-sdk-s3` client. [`Faults`] make it answer some requests with `503
//! SlowDown` or `500 InternalError`, to prove that a job survives what S3 does under load.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The access key the embedded server accepts (with [`SECRET_KEY`]); requests are verified.
pub const ACCESS_KEY: &str = "test";
/// The secret key the embedded server accepts.
pub const SECRET_KEY: &str = "test";

/// Which requests fail on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every `every`-th request (1-based count) fails; 0 disables faults. Failures alternate
    /// between `503 SlowDown` and `500 InternalError`.
    pub every: u64,
}

/// A running embedded S3 server; stops when dropped.
#[derive(Debug)]
pub struct EmbeddedS3 {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    requests: Arc<AtomicU64>,
    faults_injected: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Service {
    inner: S3Service,
    faults: Faults,
    requests: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
}

impl hyper::service::Service<http::Request<Incoming>> for Service {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if self.faults.every > 0 && n.is_multiple_of(self.faults.every) {
            let k = self.injected.fetch_add(1, Ordering::Relaxed);
            let (status, code) = if k.is_multiple_of(2) {
                (503, "SlowDown")
            } else {
                (500, "InternalError")
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>injected fault {k}</Message><RequestId>fault-{n}</RequestId></Error>"
            );
            let resp = http::Response::builder()
                .status(status)
                .header("content-type", "application/xml")
                .body(s3s::Body::from(body))
                .expect("a static response is valid");
            return Box::pin(async move { Ok(resp) });
        }
        hyper::service::Service::call(&self.inner, req)
    }
}

impl EmbeddedS3 {
    /// Serves `root` on 127.0.0.1 and a free port.
    pub async fn start(root: &Path) -> std::io::Result<Self> {
        EmbeddedS3::start_with_faults(root, Faults::default()).await
    }

    /// Serves `root`, failing requests as `faults` says.
    pub async fn start_with_faults(root: &Path, faults: Faults) -> std::io::Result<Self> {
        let fs =
            s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let inner = builder.build();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let injected = Arc::new(AtomicU64::new(0));
        let service = Service {
            inner,
            faults,
            requests: requests.clone(),
            injected: injected.clone(),
        };
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    _ = stopped.changed() => break,
                }
            }
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), graceful.shutdown()).await;
        });
        Ok(EmbeddedS3 {
            addr,
            stop,
            requests,
            faults_injected: injected,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far (failed ones included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests failed on purpose so far.
    pub fn faults_injected(&self) -> u64 {
        self.faults_injected.load(Ordering::Relaxed)
    }

    /// A client for this endpoint: path-style, static test credentials, `us-east-1`, and
    /// the SDK's standard retries.
    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&self.endpoint())
    }
}

/// A client for a local S3 endpoint: path-style, static test credentials, `us-east-1`, and
/// the standard retry mode with [`crate::source::s3::DEFAULT_MAX_ATTEMPTS`] attempts.
pub fn client_for(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "personalize-local",
        ))
        .force_path_style(true)
        .retry_config(
            aws_sdk_s3::config::retry::RetryConfig::standard()
                .with_max_attempts(crate::source::s3::DEFAULT_MAX_ATTEMPTS)
                .with_initial_backoff(std::time::Duration::from_millis(20)),
        )
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
