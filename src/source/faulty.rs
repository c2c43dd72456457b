//! An object source that fails where the [`Faults`] say: a listing, read or upload under a
//! fault's `s3Prefix` answers the fault's S3 error code, as S3 itself would.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::{ByteChunks, DynObjectSource, ObjectMeta, ObjectSource, Opened, ReadAt, SourceError};
use crate::faults::Faults;

/// `inner`, failing as `faults` say.
#[derive(Debug)]
pub struct FaultySource {
    inner: DynObjectSource,
    faults: Arc<Faults>,
}

impl FaultySource {
    /// Wraps `inner`.
    pub fn new(inner: DynObjectSource, faults: Arc<Faults>) -> Self {
        FaultySource { inner, faults }
    }

    fn fault(&self, bucket: &str, key: &str) -> Option<SourceError> {
        let (code, message) = self.faults.s3(&format!("s3://{bucket}/{key}"))?;
        Some(SourceError::new(code, message))
    }
}

#[async_trait]
impl ObjectSource for FaultySource {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
        match self.fault(bucket, prefix) {
            Some(e) => stream::iter([Err(e)]).boxed(),
            None => self.inner.list(bucket, prefix),
        }
    }

    async fn open(&self, bucket: &str, key: &str, at: ReadAt<'_>) -> Result<Opened, SourceError> {
        match self.fault(bucket, key) {
            Some(e) => Err(e),
            None => self.inner.open(bucket, key, at).await,
        }
    }

    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        parts: ByteChunks,
    ) -> Result<u64, SourceError> {
        match self.fault(bucket, key) {
            Some(e) => Err(e),
            None => self.inner.put_multipart(bucket, key, parts).await,
        }
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), SourceError> {
        match self.fault(bucket, key) {
            Some(e) => Err(e),
            None => self.inner.delete(bucket, key).await,
        }
    }
}
