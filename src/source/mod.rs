//! Where job inputs come from: an object store addressed by `s3://` locations.
//!
//! [`ObjectSource`] is the smallest contract the jobs need (list a prefix recursively, read
//! one object as a stream of byte chunks, and, for export jobs, write one object part by
//! part), in the spirit of `object_store`. The real
//! implementation is [`s3::S3Source`] (`aws-sdk-s3`); [`memory::MemorySource`] serves unit
//! tests of the pipeline stages without any server.

pub mod embedded;
pub mod faulty;
pub mod list;
pub mod memory;
pub mod s3;
pub mod watchdog;

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// An `s3://bucket/key` (one object) or `s3://bucket/prefix/` (every object below it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name.
    pub bucket: String,
    /// The key, or the prefix when it ends in `/` (empty for a whole bucket).
    pub key: String,
}

impl S3Location {
    /// Parses `s3://bucket/key` or `s3://bucket/prefix/`.
    ///
    /// `s3://bucket` and `s3://bucket/` both name the whole bucket.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        let bad = |why: &str| LocationError(format!("invalid S3 location {s:?}: {why}"));
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it must start with s3://"))?;
        let (bucket, key) = match rest.split_once('/') {
            Some((b, k)) => (b, k),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(bad("the bucket name is empty"));
        }
        // S3 bucket names: 3-63 characters of lower-case letters, digits, '.', '-'
        // (older buckets may hold '_' and capitals; accept them, S3 itself will answer).
        if bucket.len() > 255
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(bad("the bucket name has characters S3 does not allow"));
        }
        if key.starts_with('/') {
            return Err(bad("the key must not start with '/'"));
        }
        if key.len() > 1024 {
            return Err(bad("the key is longer than 1024 bytes"));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// True when the location names a folder (a prefix ending in `/`, or the whole bucket).
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// The location of one object in the same bucket.
    pub fn object(&self, key: &str) -> S3Location {
        S3Location {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "s3://{}/", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

impl std::str::FromStr for S3Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        S3Location::parse(s)
    }
}

/// A malformed `s3://` location; the message names the location and what is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LocationError(String);

/// One object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's full key.
    pub key: String,
    /// The object's size in bytes.
    pub size: u64,
}

/// An error from the object source, reduced to what a job reports.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SourceError {
    /// The S3 error code (`NoSuchBucket`, `NoSuchKey`, `AccessDenied`, ...), or a short
    /// name of the failure when the server gave none (`NetworkError`, `TimedOut`).
    pub code: String,
    /// What happened, in the server's words where it gave any.
    pub message: String,
}

impl SourceError {
    /// Builds an error from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        SourceError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A stream of an object's bytes, in the chunks the transport delivers.
pub type ByteChunks = BoxStream<'static, Result<Bytes, SourceError>>;

/// Where a read of an object starts, and which version of it it must read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadAt<'a> {
    /// The first byte wanted.
    pub offset: u64,
    /// The ETag the object must still have (`If-Match`): a read resumed after a break reads
    /// the same version, or fails with [`OBJECT_CHANGED`].
    pub if_match: Option<&'a str>,
}

/// An object opened for reading.
pub struct Opened {
    /// Its total size in bytes.
    pub size: u64,
    /// Its ETag, when the server gave one.
    pub etag: Option<String>,
    /// Its bytes from the offset asked for.
    pub body: ByteChunks,
}

/// The code of the error a read gets when the object is no longer the version it began on.
pub const OBJECT_CHANGED: &str = "ObjectChanged";

/// The error a read gets when the object no longer has the ETag it began with.
pub fn object_changed(etag: &str) -> SourceError {
    SourceError::new(
        OBJECT_CHANGED,
        format!("the object was replaced while it was read (it no longer has the ETag {etag} it had when the read began)"),
    )
}

/// The read side of an object store: what a job needs and nothing more.
#[async_trait]
pub trait ObjectSource: Send + Sync + fmt::Debug + 'static {
    /// Every object whose key starts with `prefix`, in every sub-folder, across all pages.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<ObjectMeta, SourceError>>;

    /// Opens one object for reading from `at.offset` on, only while it has the ETag
    /// `at.if_match` when one is given (else `PreconditionFailed` or [`OBJECT_CHANGED`]).
    /// Returns its size, its ETag and its bytes from the offset, as a stream; nothing is
    /// buffered whole.
    async fn open(&self, bucket: &str, key: &str, at: ReadAt<'_>) -> Result<Opened, SourceError>;

    /// Writes one object from `parts`, in order, as one multipart upload: every part but the
    /// last must be at least [`MIN_PART_BYTES`]. If a part or the upload fails, the upload is
    /// aborted and no object is written. Returns the bytes written.
    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        parts: ByteChunks,
    ) -> Result<u64, SourceError>;

    /// Deletes one object (an object that is not there is no error, as in S3). Only for
    /// taking back what a job of this server wrote.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), SourceError> {
        let _ = (bucket, key);
        Err(SourceError::new(
            "NotImplemented",
            "this object source does not delete",
        ))
    }
}

/// A body split into lines (JSON Lines and the like) as its chunks arrive; a line is its
/// bytes without the `\n`, the last one also without. Memory holds a chunk and a line.
pub struct Lines {
    body: ByteChunks,
    pending: Vec<u8>,
    from: usize,
    done: bool,
}

impl Lines {
    /// The lines of `body`.
    pub fn new(body: ByteChunks) -> Lines {
        Lines {
            body,
            pending: Vec::new(),
            from: 0,
            done: false,
        }
    }

    /// The next line, the body's error, or `None` at its end.
    pub async fn next_line(&mut self) -> Option<Result<Vec<u8>, SourceError>> {
        use futures::StreamExt;
        loop {
            let rest = &self.pending[self.from..];
            if let Some(end) = rest.iter().position(|&b| b == b'\n') {
                let line = rest[..end].to_vec();
                self.from += end + 1;
                return Some(Ok(line));
            }
            if self.done {
                if rest.is_empty() {
                    return None;
                }
                let line = rest.to_vec();
                self.from = self.pending.len();
                return Some(Ok(line));
            }
            self.pending.drain(..self.from);
            self.from = 0;
            match self.body.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk),
                Some(Err(e)) => return Some(Err(e)),
                None => self.done = true,
            }
        }
    }
}

/// S3's smallest part of a multipart upload, except the last.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// A shared handle to any object source.
pub type DynObjectSource = std::sync::Arc<dyn ObjectSource>;

/// How often a read that breaks off mid-body is resumed from where it stopped.
pub const RESUMES: u32 = 3;

struct Resumable {
    source: DynObjectSource,
    bucket: String,
    key: String,
    etag: Option<String>,
    body: ByteChunks,
    offset: u64,
    total: u64,
    resumes: u32,
    done: bool,
}

/// Opens an object like [`ObjectSource::open`], but a body that breaks off or ends short of
/// the object's size is reopened with a ranged read from the last byte received, up to
/// [`RESUMES`] times; after that the last error ends the stream. Every resumed read is
/// pinned to the version the read began on (`If-Match` on its ETag, and the ETag of the
/// answer checked too, for servers that ignore the header): an object replaced meanwhile
/// fails the read with [`OBJECT_CHANGED`] instead of splicing two versions into one input.
/// A read that made no progress for the watchdog's time ([`watchdog::NO_PROGRESS`]) is not
/// resumed. Returns the total size.
pub async fn open_resumable(
    source: DynObjectSource,
    bucket: &str,
    key: &str,
) -> Result<(u64, ByteChunks), SourceError> {
    use futures::StreamExt;
    let opened = source.open(bucket, key, ReadAt::default()).await?;
    let state = Resumable {
        source,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: opened.etag,
        body: opened.body,
        offset: 0,
        total: opened.size,
        resumes: 0,
        done: false,
    };
    let total = opened.size;
    let chunks = futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            let error = match s.body.next().await {
                Some(Ok(chunk)) => {
                    s.offset += chunk.len() as u64;
                    return Some((Ok(chunk), s));
                }
                None if s.offset >= s.total => return None,
                Some(Err(e)) => e,
                None => SourceError::new(
                    "IncompleteBody",
                    format!("the body ended after {} of {} bytes", s.offset, s.total),
                ),
            };
            if s.resumes == RESUMES || error.code == watchdog::NO_PROGRESS {
                s.done = true;
                return Some((Err(error), s));
            }
            s.resumes += 1;
            tracing::warn!(bucket = %s.bucket, key = %s.key, offset = s.offset, %error, "resuming an interrupted read");
            let at = ReadAt {
                offset: s.offset,
                if_match: s.etag.as_deref(),
            };
            match s.source.open(&s.bucket, &s.key, at).await {
                Ok(opened) => match (&s.etag, &opened.etag) {
                    (Some(began), Some(now)) if began != now => {
                        s.done = true;
                        return Some((Err(object_changed(began)), s));
                    }
                    _ => s.body = opened.body,
                },
                Err(e) => {
                    s.done = true;
                    let e = match (&s.etag, e.code.as_str()) {
                        (Some(began), "PreconditionFailed") => object_changed(began),
                        _ => e,
                    };
                    return Some((Err(e), s));
                }
            }
        }
    })
    .boxed();
    Ok((total, chunks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::Arc;

    async fn lines_of(chunks: &[&str]) -> Vec<String> {
        let parts: Vec<Result<Bytes, SourceError>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c.as_bytes())))
            .collect();
        let mut lines = Lines::new(futures::stream::iter(parts).boxed());
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await {
            out.push(String::from_utf8(line.unwrap()).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn lines_come_whole_however_the_chunks_fall() {
        let want = ["{\"a\": 1}", "", "{\"b\": 2}", "last"];
        assert_eq!(lines_of(&["{\"a\": 1}\n\n{\"b\": 2}\nlast"]).await, want);
        assert_eq!(
            lines_of(&["{\"a\"", ": 1}\n", "\n{", "\"b\": 2}\nla", "", "st"]).await,
            want
        );
        assert_eq!(lines_of(&["x\n"]).await, ["x"]);
        assert!(lines_of(&[]).await.is_empty());
        let mut broken = Lines::new(
            futures::stream::iter([
                Ok(Bytes::from_static(b"a\nb")),
                Err(SourceError::new("Reset", "gone")),
            ])
            .boxed(),
        );
        assert_eq!(broken.next_line().await.unwrap().unwrap(), b"a");
        assert!(
            broken.next_line().await.unwrap().is_err(),
            "the body's error, not a half line"
        );
    }

    /// A memory source whose first body breaks after one chunk, the object replaced by
    /// `then` (when given) before the read resumes.
    #[derive(Debug)]
    struct Replaced {
        inner: memory::MemorySource,
        then: Option<&'static str>,
        broke: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl ObjectSource for Replaced {
        fn list(&self, b: &str, p: &str) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
            self.inner.list(b, p)
        }

        async fn open(&self, b: &str, k: &str, at: ReadAt<'_>) -> Result<Opened, SourceError> {
            let mut opened = self.inner.open(b, k, at).await?;
            if !self.broke.swap(true, std::sync::atomic::Ordering::SeqCst) {
                if let Some(then) = self.then {
                    self.inner.put(b, k, then);
                }
                let cut = futures::stream::once(async {
                    Err(SourceError::new("NetworkError", "connection reset"))
                });
                opened.body = opened.body.take(1).chain(cut).boxed();
            }
            Ok(opened)
        }

        async fn put_multipart(&self, _: &str, _: &str, _: ByteChunks) -> Result<u64, SourceError> {
            unreachable!()
        }
    }

    async fn read_through_a_break(then: Option<&'static str>) -> Result<String, SourceError> {
        let inner = memory::MemorySource::with_chunk_size(8);
        inner.put("b", "k.csv", "USER_ID\nu1\nu2\nu3\n");
        let source = Arc::new(Replaced {
            inner,
            then,
            broke: Default::default(),
        });
        let (_, mut body) = open_resumable(source, "b", "k.csv").await?;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn a_resumed_read_is_pinned_to_the_version_it_began_on() {
        assert_eq!(
            read_through_a_break(None).await.unwrap(),
            "USER_ID\nu1\nu2\nu3\n",
            "an unchanged object resumes where it broke"
        );
        let err = read_through_a_break(Some("USER_ID\nx9\nx8\nx7\nx6\n"))
            .await
            .unwrap_err();
        assert_eq!(err.code, OBJECT_CHANGED, "{err}");
        assert!(err.message.contains("replaced while it was read"), "{err}");
    }

    #[test]
    fn parses_objects_and_prefixes() {
        let l = S3Location::parse("s3://b/folder/file.csv").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("b", "folder/file.csv")
        );
        assert!(!l.is_prefix());
        let p = S3Location::parse("s3://b/folder/").unwrap();
        assert!(p.is_prefix());
        assert_eq!(p.to_string(), "s3://b/folder/");
        assert!(S3Location::parse("s3://b").unwrap().is_prefix());
        assert_eq!(S3Location::parse("s3://b").unwrap().to_string(), "s3://b/");
    }

    #[test]
    fn rejects_malformed_locations() {
        for bad in [
            "http://b/k",
            "s3://",
            "s3:///k",
            "b/k",
            "s3://b c/k",
            "s3://b//k",
        ] {
            let err = S3Location::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid S3 location"), "{bad}: {err}");
        }
    }
}
