//! The real object source: S3 (or any S3-compatible server) through `aws-sdk-s3`.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use futures::stream::{self, BoxStream, StreamExt};

use super::{ByteChunks, ObjectMeta, ObjectSource, Opened, ReadAt, SourceError};

/// How to reach S3. Everything not set here comes from `aws-config`'s standard chain
/// (environment, shared config and credentials files, SSO, container and instance roles).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// An explicit endpoint (`http://127.0.0.1:9000`); `AWS_ENDPOINT_URL_S3` and
    /// `AWS_ENDPOINT_URL` are honoured by the chain when this is `None`.
    pub endpoint: Option<String>,
    /// The region; when neither this nor the chain names one, `us-east-1`.
    pub region: Option<String>,
    /// Attempts per request, first try included (the SDK's standard retry mode, with
    /// exponential backoff, for 5xx, throttling such as `SlowDown`, and dropped connections).
    pub max_attempts: Option<u32>,
    /// How long a request may wait before S3 is taken to have failed it.
    pub timeouts: S3Timeouts,
}

/// The attempts per request when [`S3Options::max_attempts`] is not set.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Timeouts of every S3 request. A request that times out is retried like a dropped
/// connection; a download that stalls fails into the reader's resume (a ranged GET from the
/// last byte received). So a stalled or frozen S3 ends a job `FAILED`, never hangs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct S3Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// From sending a request until the first byte of its response.
    pub read: Duration,
    /// One attempt of one request, until its response's headers (a download's body is
    /// guarded by `stall`).
    pub attempt: Duration,
    /// A download (or upload) that moves no byte for this long fails.
    pub stall: Duration,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        S3Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            attempt: Duration::from_secs(60),
            stall: Duration::from_secs(10),
        }
    }
}

impl S3Timeouts {
    /// The SDK's timeout configuration.
    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .build()
    }

    /// The SDK's stalled-stream protection, on for downloads and uploads.
    pub fn stalled_stream_protection(
        &self,
    ) -> aws_config::stalled_stream_protection::StalledStreamProtectionConfig {
        aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
            .grace_period(self.stall)
            .build()
    }
}

impl S3Options {
    /// Builds an S3 client: the standard chain plus these options. Path-style addressing is
    /// used whenever an endpoint is configured (flag, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`
    /// or the shared config), since MinIO and LocalStack on a host name need it.
    pub async fn client(&self) -> Client {
        let region =
            RegionProviderChain::first_try(self.region.clone().map(aws_config::Region::new))
                .or_default_provider()
                .or_else("us-east-1");
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let endpoint_configured = self.endpoint.is_some()
            || sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS))
                    .with_initial_backoff(Duration::from_millis(50)),
            )
            .timeout_config(self.timeouts.timeout_config())
            .stalled_stream_protection(self.timeouts.stalled_stream_protection())
            .force_path_style(endpoint_configured)
            .build();
        Client::from_conf(conf)
    }
}

/// An [`ObjectSource`] over an `aws-sdk-s3` client.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
}

impl S3Source {
    /// Wraps a client; build one with [`S3Options::client`] or by hand.
    pub fn new(client: Client) -> Self {
        S3Source { client }
    }

    /// The client, for callers that also write (the demo and the tests upload with it).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Reduces an SDK error to the S3 error code a job reports.
pub fn source_error<E>(err: SdkError<E, HttpResponse>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(code) = err.code() {
        let message = short(err.message().unwrap_or(""));
        return SourceError::new(code, message);
    }
    let context = DisplayErrorContext(&err).to_string();
    let cause = short(&root_cause(&err));
    let code = match &err {
        SdkError::TimeoutError(_) => "TimedOut".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => "NetworkError".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "TimedOut".to_owned(),
        // Credential resolution fails before any request is sent.
        SdkError::DispatchFailure(_) if context.contains("credentials") => {
            "NoCredentials".to_owned()
        }
        SdkError::DispatchFailure(_) => "ClientError".to_owned(),
        SdkError::ResponseError(_) => "InvalidResponse".to_owned(),
        SdkError::ConstructionFailure(_) => "InvalidRequest".to_owned(),
        // A service error without a code (an answer with no body): name its HTTP status.
        _ => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(403) => "AccessDenied".to_owned(),
            Some(404) => "NotFound".to_owned(),
            Some(status) => format!("HTTP{status}"),
            None => "Unknown".to_owned(),
        },
    };
    tracing::debug!(code, error = %context, "S3 request failed");
    SourceError::new(code, cause)
}

/// The innermost error of a chain, in its own words: what actually went wrong (`connection
/// refused`), not the layers it went through.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The longest message a `failureReason` carries from S3, in characters.
const MESSAGE_CHARS: usize = 160;

/// A message on one line, at most `MESSAGE_CHARS` characters.
pub fn short(message: &str) -> String {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

enum Page {
    Start,
    Next(String),
    Done,
}

#[async_trait]
impl ObjectSource for S3Source {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
        let client = self.client.clone();
        let bucket = bucket.to_owned();
        let prefix = prefix.to_owned();
        // One ListObjectsV2 call per page, following continuation tokens, flattened into
        // objects (the shape of object_store's `stream_paginated`).
        stream::unfold(Page::Start, move |state| {
            let (client, bucket, prefix) = (client.clone(), bucket.clone(), prefix.clone());
            async move {
                let token = match state {
                    Page::Start => None,
                    Page::Next(t) => Some(t),
                    Page::Done => return None,
                };
                let mut req = client.list_objects_v2().bucket(&bucket);
                if !prefix.is_empty() {
                    req = req.prefix(&prefix);
                }
                match req.set_continuation_token(token).send().await {
                    Err(e) => Some((vec![Err(source_error(e))], Page::Done)),
                    Ok(out) => {
                        let next = match (out.is_truncated(), out.next_continuation_token()) {
                            (Some(true), Some(t)) if !t.is_empty() => Page::Next(t.to_owned()),
                            _ => Page::Done,
                        };
                        let objects = out
                            .contents()
                            .iter()
                            .filter_map(|o| {
                                Some(Ok(ObjectMeta {
                                    key: o.key()?.to_owned(),
                                    size: o.size().unwrap_or(0).max(0) as u64,
                                }))
                            })
                            .collect::<Vec<_>>();
                        Some((objects, next))
                    }
                }
            }
        })
        .flat_map(stream::iter)
        .boxed()
    }

    async fn open(&self, bucket: &str, key: &str, at: ReadAt<'_>) -> Result<Opened, SourceError> {
        let offset = at.offset;
        let mut req = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(at.if_match.map(str::to_owned));
        if offset > 0 {
            req = req.range(format!("bytes={offset}-"));
        }
        let out = req.send().await.map_err(source_error)?;
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        // With a range, Content-Range carries the total: `bytes 10-99/100`.
        let total = out
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(offset + length);
        let etag = out.e_tag().map(str::to_owned);
        let body = out.body;
        let chunks = stream::unfold(body, |mut body| async move {
            match body.next().await {
                None => None,
                Some(Ok(bytes)) => Some((Ok(bytes), body)),
                Some(Err(e)) => Some((
                    Err(SourceError::new(
                        "NetworkError",
                        DisplayErrorContext(&e).to_string(),
                    )),
                    body,
                )),
            }
        })
        .boxed();
        Ok(Opened {
            size: total,
            etag,
            body: chunks,
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), SourceError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(source_error)?;
        Ok(())
    }

    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        mut parts: ByteChunks,
    ) -> Result<u64, SourceError> {
        use aws_sdk_s3::primitives::ByteStream;
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type("text/csv")
            .send()
            .await
            .map_err(source_error)?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let mut open = OpenUpload {
            client: Some(self.client.clone()),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.clone(),
        };
        let result: Result<(Vec<CompletedPart>, u64), SourceError> = async {
            let mut done = Vec::new();
            let mut written = 0u64;
            while let Some(part) = parts.next().await {
                let part = part?;
                written += part.len() as u64;
                let number = done.len() as i32 + 1;
                let out = self
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(part))
                    .send()
                    .await
                    .map_err(source_error)?;
                done.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            Ok((done, written))
        }
        .await;
        let completed = match result {
            Ok((done, written)) => self
                .client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await
                .map(|_| written)
                .or_else(|e| {
                    // Some servers (moto) answer 200 with a body whose root element the SDK
                    // does not expect (`CompleteMultipartUploadResponse`): the upload is
                    // complete all the same.
                    match e.raw_response().map(|r| r.status().as_u16()) {
                        Some(200) => Ok(written),
                        _ => Err(source_error(e)),
                    }
                }),
            Err(e) => Err(e),
        };
        match &completed {
            Ok(_) => open.client = None,
            Err(_) => open.abort().await,
        }
        completed
    }
}

/// A multipart upload under way: aborted if it fails, and if the future writing it is
/// dropped (a job's deadline, a worker stopping), so that no failure path leaves its parts
/// stored. Aborting is best effort: an upload left open only costs storage until the
/// bucket's lifecycle rules clear it.
struct OpenUpload {
    /// `None` once completed or aborted.
    client: Option<aws_sdk_s3::Client>,
    bucket: String,
    key: String,
    upload_id: String,
}

impl OpenUpload {
    fn abort_request(&mut self) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let client = self.client.take()?;
        let request = client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id);
        Some(async move {
            if let Err(e) = request.send().await {
                tracing::warn!("aborting a multipart upload failed: {}", source_error(e));
            }
        })
    }

    async fn abort(&mut self) {
        if let Some(abort) = self.abort_request() {
            abort.await;
        }
    }
}

impl Drop for OpenUpload {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            if let Some(abort) = self.abort_request() {
                runtime.spawn(abort);
            }
        }
    }
}
