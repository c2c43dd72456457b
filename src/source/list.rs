//! Stage 1 of deletion and import jobs: the objects a job reads.
//!
//! `s3://bucket/key` is that one object. `s3://bucket/prefix/` is every object below the
//! prefix, in every sub-folder, across all ListObjectsV2 pages; folder markers (keys ending
//! in `/`) and empty objects are skipped, and every other object is read whatever its name.

use futures::StreamExt;

use super::{ObjectSource, S3Location, SourceError};

/// Why a listing found nothing to read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ListError {
    /// S3 refused or failed the listing.
    #[error("listing {location} failed: {error}")]
    Source {
        /// The location listed.
        location: S3Location,
        /// The S3 error.
        error: SourceError,
    },
    /// The prefix holds no object with content.
    #[error("no input files found under {0}")]
    NoInput(S3Location),
    /// The objects are over the size limit.
    #[error("the input under {location} is {total} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The location.
        location: S3Location,
        /// Bytes found.
        total: u64,
        /// The limit.
        limit: u64,
    },
}

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Its location.
    pub object: S3Location,
    /// Its size from the listing; `None` for a single object named directly, whose size is
    /// checked against the limit when it is opened.
    pub listed_size: Option<u64>,
}

/// Lists the inputs under `location`, enforcing the total size limit `max_bytes`.
pub async fn list_inputs(
    source: &dyn ObjectSource,
    location: &S3Location,
    max_bytes: u64,
) -> Result<Vec<ListedObject>, ListError> {
    if !location.is_prefix() {
        return Ok(vec![ListedObject {
            object: location.clone(),
            listed_size: None,
        }]);
    }
    let mut inputs = Vec::new();
    let mut total: u64 = 0;
    let mut listing = source.list(&location.bucket, &location.key);
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|error| ListError::Source {
            location: location.clone(),
            error,
        })?;
        if meta.key.ends_with('/') || meta.size == 0 {
            continue;
        }
        total = total.saturating_add(meta.size);
        // Past the limit, keep counting (the reason gives the full size) but stop keeping.
        if total <= max_bytes {
            inputs.push(ListedObject {
                object: location.object(&meta.key),
                listed_size: Some(meta.size),
            });
        }
    }
    if total > max_bytes {
        return Err(ListError::TooLarge {
            location: location.clone(),
            total,
            limit: max_bytes,
        });
    }
    if inputs.is_empty() {
        return Err(ListError::NoInput(location.clone()));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::memory::MemorySource;

    fn loc(s: &str) -> S3Location {
        S3Location::parse(s).unwrap()
    }

    #[tokio::test]
    async fn lists_sub_folders_and_skips_markers_and_empty_objects() {
        let src = MemorySource::default();
        src.put("b", "d/", "");
        src.put("b", "d/a.csv", "USER_ID\nu1\n");
        src.put("b", "d/sub/", "");
        src.put("b", "d/sub/b.txt", "USER_ID\nu2\n");
        src.put("b", "d/sub/empty.csv", "");
        src.put("b", "dx/other.csv", "USER_ID\nu3\n");
        let inputs = list_inputs(&src, &loc("s3://b/d/"), 1000).await.unwrap();
        let keys: Vec<_> = inputs.iter().map(|i| i.object.key.as_str()).collect();
        assert_eq!(keys, ["d/a.csv", "d/sub/b.txt"]);
        assert_eq!(inputs[0].listed_size, Some(11));
    }

    #[tokio::test]
    async fn limits_and_empty_prefixes_fail() {
        let src = MemorySource::default();
        src.put("b", "d/a.csv", "USER_ID\nu1\n");
        src.put("b", "d/b.csv", "USER_ID\nu2\n");
        src.put("b", "e/", "");
        let err = list_inputs(&src, &loc("s3://b/d/"), 21).await.unwrap_err();
        assert!(
            matches!(
                err,
                ListError::TooLarge {
                    total: 22,
                    limit: 21,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(list_inputs(&src, &loc("s3://b/d/"), 22).await.is_ok());
        let err = list_inputs(&src, &loc("s3://b/e/"), 100).await.unwrap_err();
        assert_eq!(err.to_string(), "no input files found under s3://b/e/");
        let err = list_inputs(&src, &loc("s3://nope/d/"), 100)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("listing s3://nope/d/ failed: NoSuchBucket"),
            "{err}"
        );
    }
}
