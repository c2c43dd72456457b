//! An in-memory object source, for unit tests of the pipeline stages.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use super::{ByteChunks, ObjectMeta, ObjectSource, Opened, ReadAt, SourceError};

/// Buckets of objects held in memory. Objects are served in chunks of `chunk_size` bytes so
/// that tests see records split across chunk boundaries.
#[derive(Debug)]
pub struct MemorySource {
    buckets: Mutex<BTreeMap<String, BTreeMap<String, Bytes>>>,
    chunk_size: usize,
}

impl Default for MemorySource {
    fn default() -> Self {
        MemorySource::with_chunk_size(64 * 1024)
    }
}

impl MemorySource {
    /// An empty source serving objects in chunks of `chunk_size` bytes (at least 1).
    pub fn with_chunk_size(chunk_size: usize) -> Self {
        MemorySource {
            buckets: Mutex::new(BTreeMap::new()),
            chunk_size: chunk_size.max(1),
        }
    }

    /// Creates a bucket if it does not exist.
    pub fn create_bucket(&self, bucket: &str) {
        self.buckets
            .lock()
            .unwrap()
            .entry(bucket.to_owned())
            .or_default();
    }

    /// Stores an object, creating its bucket if needed.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Bytes>) {
        self.buckets
            .lock()
            .unwrap()
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), body.into());
    }
}

/// An object's ETag here: a hash of its bytes, quoted as S3 quotes ETags.
fn etag(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

fn no_such_bucket(bucket: &str) -> SourceError {
    SourceError::new(
        "NoSuchBucket",
        format!("The specified bucket does not exist: {bucket}"),
    )
}

#[async_trait]
impl ObjectSource for MemorySource {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
        let buckets = self.buckets.lock().unwrap();
        let items: Vec<Result<ObjectMeta, SourceError>> = match buckets.get(bucket) {
            None => vec![Err(no_such_bucket(bucket))],
            Some(objects) => objects
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| {
                    Ok(ObjectMeta {
                        key: k.clone(),
                        size: v.len() as u64,
                    })
                })
                .collect(),
        };
        stream::iter(items).boxed()
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), SourceError> {
        let mut buckets = self.buckets.lock().unwrap();
        let objects = buckets
            .get_mut(bucket)
            .ok_or_else(|| no_such_bucket(bucket))?;
        objects.remove(key);
        Ok(())
    }

    async fn open(&self, bucket: &str, key: &str, at: ReadAt<'_>) -> Result<Opened, SourceError> {
        let buckets = self.buckets.lock().unwrap();
        let objects = buckets.get(bucket).ok_or_else(|| no_such_bucket(bucket))?;
        let body = objects
            .get(key)
            .ok_or_else(|| SourceError::new("NoSuchKey", "The specified key does not exist."))?
            .clone();
        let etag = etag(&body);
        if at.if_match.is_some_and(|want| want != etag) {
            return Err(SourceError::new(
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        let total = body.len() as u64;
        let start = (at.offset as usize).min(body.len());
        let chunk = self.chunk_size;
        let chunks: Vec<Result<Bytes, SourceError>> = (start..body.len())
            .step_by(chunk)
            .map(|i| Ok(body.slice(i..(i + chunk).min(body.len()))))
            .collect();
        Ok(Opened {
            size: total,
            etag: Some(etag),
            body: stream::iter(chunks).boxed(),
        })
    }

    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        mut parts: ByteChunks,
    ) -> Result<u64, SourceError> {
        if !self.buckets.lock().unwrap().contains_key(bucket) {
            return Err(no_such_bucket(bucket));
        }
        let mut body = Vec::new();
        while let Some(part) = parts.next().await {
            body.extend_from_slice(&part?);
        }
        let n = body.len() as u64;
        self.put(bucket, key, body);
        Ok(n)
    }
}
