//! A bound on how long a job's input may make no progress, whatever the phase: a listing
//! page, an object's opening, each chunk of its body, and every resume of a broken read
//! together. S3's own timeouts bound one attempt of one request; with retries and resumes
//! a frozen server could hold a job for minutes (five attempts of a listing, each waiting
//! its own read timeout). [`Watchdog`] wraps any [`ObjectSource`] and fails whatever has
//! waited `limit` since the last progress with [`NO_PROGRESS`], which no layer retries or
//! resumes: the job ends `FAILED` with a reason naming the object or prefix.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::{ByteChunks, DynObjectSource, ObjectMeta, ObjectSource, Opened, ReadAt, SourceError};

/// The code of the error a stalled input gets.
pub const NO_PROGRESS: &str = "NoProgress";

fn stalled(limit: Duration) -> SourceError {
    SourceError::new(
        NO_PROGRESS,
        format!(
            "S3 sent nothing for {} s (the input's no-progress limit)",
            limit.as_secs_f64()
        ),
    )
}

/// `inner`, failing any listing or read that makes no progress for `limit`.
#[derive(Debug)]
pub struct Watchdog {
    inner: DynObjectSource,
    limit: Duration,
    /// When each object being read last moved a byte (or began), so that the resumes of a
    /// broken read share one bound.
    reads: Arc<Mutex<HashMap<(String, String), Instant>>>,
}

impl Watchdog {
    /// Wraps `inner`.
    pub fn new(inner: DynObjectSource, limit: Duration) -> Self {
        Watchdog {
            inner,
            limit,
            reads: Arc::default(),
        }
    }
}

/// Each item of `items` within `limit` of the one before (or of the start); after a stall
/// the stream ends with [`NO_PROGRESS`]. `moved` is told of every item.
fn bounded<T: Send + 'static>(
    items: BoxStream<'static, Result<T, SourceError>>,
    limit: Duration,
    moved: impl Fn() + Send + Sync + 'static,
) -> BoxStream<'static, Result<T, SourceError>> {
    let moved = Arc::new(moved);
    stream::unfold(Some(items), move |items| {
        let moved = moved.clone();
        async move {
            let mut items = items?;
            match tokio::time::timeout(limit, items.next()).await {
                Ok(Some(item)) => {
                    moved();
                    Some((item, Some(items)))
                }
                Ok(None) => None,
                Err(_) => Some((Err(stalled(limit)), None)),
            }
        }
    })
    .boxed()
}

#[async_trait]
impl ObjectSource for Watchdog {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
        bounded(self.inner.list(bucket, prefix), self.limit, || {})
    }

    async fn open(&self, bucket: &str, key: &str, at: ReadAt<'_>) -> Result<Opened, SourceError> {
        let id = (bucket.to_owned(), key.to_owned());
        let now = Instant::now();
        // A read from the start begins the clock; a resume goes on with it.
        let since = {
            let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            if reads.len() > 10_000 {
                // Reads long over: their clocks are no longer needed.
                reads.retain(|_, at| now.duration_since(*at) < self.limit);
            }
            if at.offset == 0 {
                reads.insert(id.clone(), now);
            }
            *reads.entry(id.clone()).or_insert(now)
        };
        let left = self.limit.saturating_sub(now.duration_since(since));
        if left.is_zero() {
            return Err(stalled(self.limit));
        }
        let mut opened = tokio::time::timeout(left, self.inner.open(bucket, key, at))
            .await
            .map_err(|_| stalled(self.limit))??;
        let reads = self.reads.clone();
        let touch = {
            let id = id.clone();
            move || {
                let mut reads = reads.lock().unwrap_or_else(|e| e.into_inner());
                reads.insert(id.clone(), Instant::now());
            }
        };
        touch();
        opened.body = bounded(opened.body, self.limit, touch);
        Ok(opened)
    }

    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        parts: ByteChunks,
    ) -> Result<u64, SourceError> {
        self.inner.put_multipart(bucket, key, parts).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), SourceError> {
        tokio::time::timeout(self.limit, self.inner.delete(bucket, key))
            .await
            .map_err(|_| stalled(self.limit))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::memory::MemorySource;

    /// A source whose listing and bodies hang after their first item, as a frozen server.
    #[derive(Debug)]
    struct Frozen(MemorySource);

    #[async_trait]
    impl ObjectSource for Frozen {
        fn list(
            &self,
            bucket: &str,
            prefix: &str,
        ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
            self.0
                .list(bucket, prefix)
                .take(1)
                .chain(stream::pending())
                .boxed()
        }

        async fn open(
            &self,
            bucket: &str,
            key: &str,
            at: ReadAt<'_>,
        ) -> Result<Opened, SourceError> {
            if at.offset > 0 {
                return std::future::pending().await;
            }
            let mut opened = self.0.open(bucket, key, at).await?;
            opened.body = opened.body.take(1).chain(stream::pending()).boxed();
            Ok(opened)
        }

        async fn put_multipart(&self, _: &str, _: &str, _: ByteChunks) -> Result<u64, SourceError> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn a_stalled_listing_or_read_fails_once_the_limit_passes() {
        let memory = MemorySource::with_chunk_size(4);
        memory.put("b", "a.csv", "USER_ID\nu1\nu2\n");
        memory.put("b", "b.csv", "USER_ID\n");
        let limit = Duration::from_millis(200);
        let within = |took: Duration| took >= limit && took < limit * 5;
        let source: DynObjectSource = Arc::new(Watchdog::new(Arc::new(Frozen(memory)), limit));

        let started = Instant::now();
        let listed: Vec<_> = source.list("b", "").collect().await;
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].as_ref().unwrap_err().code, NO_PROGRESS);
        assert!(within(started.elapsed()), "{:?}", started.elapsed());

        // A body that stops: the resume that follows shares the same bound.
        let started = Instant::now();
        let (_, body) = crate::source::open_resumable(source.clone(), "b", "a.csv")
            .await
            .unwrap();
        let chunks: Vec<_> = body.collect().await;
        assert_eq!(chunks.len(), 2);
        let err = chunks[1].as_ref().unwrap_err();
        assert_eq!(err.code, NO_PROGRESS, "{err}");
        assert!(within(started.elapsed()), "{:?}", started.elapsed());
    }
}
