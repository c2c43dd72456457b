//! An S3 endpoint over a local folder (`s3s-fs`), on 127.0.0.1 and a free port.
//!
//! Each top-level folder of the root is a bucket; files below it are objects. The demo
//! serves a copy of `fixtures/s3` this way, and the tests run the whole pipeline against it
//! with the real `aws-sdk-s3` client. [`Faults`] make it answer some requests with `503
//! SlowDown` or `500 InternalError`, to prove that a job survives what S3 does under load;
//! [`EmbeddedS3::freeze_after_bytes`] stops it mid-body as `SIGSTOP` would, and
//! [`EmbeddedS3::kill_after_bytes`] ends it mid-body as `kill -9` would.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Notify;

use crate::source::s3::S3Timeouts;

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
    freeze: Arc<Freeze>,
}

#[derive(Clone)]
struct Service {
    inner: S3Service,
    faults: Faults,
    requests: Arc<AtomicU64>,
    injected: Arc<AtomicU64>,
    freeze: Arc<Freeze>,
}

/// The server frozen as `SIGSTOP` would freeze it: no request is answered and no response
/// body moves until it is thawed.
#[derive(Debug)]
struct Freeze {
    frozen: AtomicBool,
    /// Bytes of response bodies still to send before the server freezes itself (`u64::MAX`:
    /// never).
    budget: AtomicU64,
    /// Bodies waiting for the thaw.
    waiting: Mutex<Vec<Waker>>,
    thawed: Notify,
    /// Whether a spent budget kills the server instead of freezing it.
    kill: AtomicBool,
    /// True once killed: every connection is dropped and the listener closed.
    dead: watch::Sender<bool>,
}

impl Default for Freeze {
    fn default() -> Self {
        Freeze {
            frozen: AtomicBool::new(false),
            budget: AtomicU64::new(u64::MAX),
            waiting: Mutex::default(),
            thawed: Notify::new(),
            kill: AtomicBool::new(false),
            dead: watch::Sender::new(false),
        }
    }
}

impl Freeze {
    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    /// Counts `n` bytes sent; freezes or kills the server once the budget is spent.
    fn sent(&self, n: u64) {
        let before = self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                (b != u64::MAX).then(|| b.saturating_sub(n))
            });
        if let Ok(before) = before {
            if before <= n {
                self.spent();
            }
        }
    }

    fn spent(&self) {
        if self.kill.load(Ordering::SeqCst) {
            self.dead.send_replace(true);
        } else {
            self.frozen.store(true, Ordering::SeqCst);
        }
    }

    async fn until_thawed(&self) {
        loop {
            let thawed = self.thawed.notified();
            if !self.is_frozen() {
                return;
            }
            thawed.await;
        }
    }
}

/// A response body that stops moving while the server is frozen.
struct FreezableBody {
    inner: s3s::Body,
    freeze: Arc<Freeze>,
}

impl http_body::Body for FreezableBody {
    type Data = bytes::Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        // Killed: not one more byte, whenever the connection's own task notices.
        if *self.freeze.dead.borrow() {
            return Poll::Ready(Some(Err("the server was killed".into())));
        }
        if self.freeze.is_frozen() {
            self.freeze
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(cx.waker().clone());
            if self.freeze.is_frozen() {
                return Poll::Pending;
            }
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.freeze.sent(data.len() as u64);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
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
        let answer = hyper::service::Service::call(&self.inner, req);
        let freeze = self.freeze.clone();
        Box::pin(async move {
            freeze.until_thawed().await;
            let resp = answer.await?;
            Ok(resp.map(|inner| s3s::Body::http_body(FreezableBody { inner, freeze })))
        })
    }
}

/// The S3 service over `root` (each top-level folder a bucket), which verifies SigV4
/// signatures made with [`ACCESS_KEY`] and [`SECRET_KEY`], or with one of the `keys` given
/// (access key, secret key).
pub fn service(root: &Path, keys: &[(String, String)]) -> std::io::Result<S3Service> {
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = S3ServiceBuilder::new(fs);
    let mut auth = SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY);
    for (access, secret) in keys {
        auth.register(access.clone(), secret.clone().into());
    }
    builder.set_auth(auth);
    Ok(builder.build())
}

impl EmbeddedS3 {
    /// Serves `root` on 127.0.0.1 and a free port.
    pub async fn start(root: &Path) -> std::io::Result<Self> {
        EmbeddedS3::start_with_faults(root, Faults::default()).await
    }

    /// Serves `root`, failing requests as `faults` says.
    pub async fn start_with_faults(root: &Path, faults: Faults) -> std::io::Result<Self> {
        let inner = service(root, &[])?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let injected = Arc::new(AtomicU64::new(0));
        let freeze = Arc::new(Freeze::default());
        let service = Service {
            inner,
            faults,
            requests: requests.clone(),
            injected: injected.clone(),
            freeze: freeze.clone(),
        };
        let (stop, mut stopped) = watch::channel(false);
        let dead = freeze.dead.subscribe();
        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                        let conn = graceful.watch(conn);
                        let mut dead = dead.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = conn => {}
                                // Killed: the connection is dropped mid-whatever.
                                _ = dead.wait_for(|d| *d) => {}
                            }
                        });
                    }
                    _ = stopped.changed() => break,
                    // Killed: the listener closes with no goodbye; connecting is refused.
                    _ = async { dead.clone().wait_for(|d| *d).await.map(|_| ()) } => return,
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
            freeze,
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

    /// Freezes the server once it has sent `bytes` more bytes of response bodies, mid-body
    /// if a body is under way: from then on no request is answered and no body moves (what
    /// `SIGSTOP` does to a server), until [`EmbeddedS3::thaw`].
    pub fn freeze_after_bytes(&self, bytes: u64) {
        self.freeze.kill.store(false, Ordering::SeqCst);
        self.freeze.budget.store(bytes, Ordering::SeqCst);
        if bytes == 0 {
            self.freeze.spent();
        }
    }

    /// Kills the server once it has sent `bytes` more bytes of response bodies, mid-body if a
    /// body is under way: every connection drops and the port refuses connections from then
    /// on, as after `kill -9`. There is no coming back.
    pub fn kill_after_bytes(&self, bytes: u64) {
        self.freeze.kill.store(true, Ordering::SeqCst);
        self.freeze.budget.store(bytes, Ordering::SeqCst);
        if bytes == 0 {
            self.freeze.spent();
        }
    }

    /// Ends a freeze: waiting requests are answered and bodies move again.
    pub fn thaw(&self) {
        self.freeze.budget.store(u64::MAX, Ordering::SeqCst);
        self.freeze.frozen.store(false, Ordering::SeqCst);
        self.freeze.thawed.notify_waiters();
        let waiting = std::mem::take(
            &mut *self
                .freeze
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        waiting.into_iter().for_each(Waker::wake);
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

/// A client for a local S3 endpoint: path-style, static test credentials, `us-east-1`, the
/// standard retry mode with [`crate::source::s3::DEFAULT_MAX_ATTEMPTS`] attempts and the
/// default [`S3Timeouts`].
pub fn client_for(endpoint: &str) -> aws_sdk_s3::Client {
    client_with(endpoint, S3Timeouts::default())
}

/// [`client_for`] with other timeouts.
pub fn client_with(endpoint: &str, timeouts: S3Timeouts) -> aws_sdk_s3::Client {
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
        .timeout_config(timeouts.timeout_config())
        .stalled_stream_protection(timeouts.stalled_stream_protection())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
