//! Stage 1 of deletion and import jobs: the objects a job reads.
//!
//! `s3://bucket/key` is that one object, read whatever its name. `s3://bucket/prefix/` is
//! every `.csv` object below the prefix (the name's end, in any case), in every sub-folder,
//! across all ListObjectsV2 pages: as the service does, a folder's files of other types
//! (`README.txt`, Spark's `_SUCCESS` and `.crc` files) are left alone, and reported as
//! [`Skipped`]. Folder markers (keys ending in `/`) and empty objects are passed over.

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
    /// The prefix holds objects, but none is a `.csv` file.
    #[error("no .csv files found under {location}: {skipped}")]
    NoCsv {
        /// The location.
        location: S3Location,
        /// What is there.
        skipped: Skipped,
    },
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

/// How many skipped keys a report names.
pub const SKIPPED_SHOWN: usize = 5;

/// The objects of a folder left unread because their names do not end in `.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// How many.
    pub count: u64,
    /// The first [`SKIPPED_SHOWN`] keys, in listing order.
    pub first: Vec<String>,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "{} object{s} of other types", self.count)?;
        if !self.first.is_empty() {
            let more = if self.count > self.first.len() as u64 {
                ", ..."
            } else {
                ""
            };
            write!(f, " ({}{more})", self.first.join(", "))?;
        }
        write!(f, " left unread; a folder's input files must end in .csv")
    }
}

/// What a job reads, and what it leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects to read, in listing order.
    pub inputs: Vec<ListedObject>,
    /// A folder's objects that are not `.csv` files.
    pub skipped: Skipped,
}

/// Whether a folder's object is an input: its name ends in `.csv`, in any case.
pub fn is_csv(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.len() > 4 && name.as_bytes()[name.len() - 4..].eq_ignore_ascii_case(b".csv")
}

/// Lists the inputs under `location`, enforcing the total size limit `max_bytes` on them.
pub async fn list_inputs(
    source: &dyn ObjectSource,
    location: &S3Location,
    max_bytes: u64,
) -> Result<Listing, ListError> {
    if !location.is_prefix() {
        return Ok(Listing {
            inputs: vec![ListedObject {
                object: location.clone(),
                listed_size: None,
            }],
            skipped: Skipped::default(),
        });
    }
    let mut skipped = Skipped::default();
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
        if !is_csv(&meta.key) {
            skipped.count += 1;
            if skipped.first.len() < SKIPPED_SHOWN {
                skipped.first.push(meta.key);
            }
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
        return Err(match skipped.count {
            0 => ListError::NoInput(location.clone()),
            _ => ListError::NoCsv {
                location: location.clone(),
                skipped,
            },
        });
    }
    if skipped.count > 0 {
        tracing::warn!(%location, "{skipped}");
    }
    Ok(Listing { inputs, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::memory::MemorySource;

    fn loc(s: &str) -> S3Location {
        S3Location::parse(s).unwrap()
    }

    #[tokio::test]
    async fn lists_the_csv_files_of_sub_folders_and_reports_the_rest() {
        let src = MemorySource::default();
        src.put("b", "d/", "");
        src.put("b", "d/a.csv", "USER_ID\nu1\n");
        src.put("b", "d/sub/", "");
        src.put("b", "d/sub/b.txt", "USER_ID\nu2\n");
        src.put("b", "d/sub/C.CSV", "USER_ID\nu4\n");
        src.put("b", "d/sub/_SUCCESS", "x");
        src.put("b", "d/sub/.part-0.csv.crc", "x");
        src.put("b", "d/sub/empty.csv", "");
        src.put("b", "dx/other.csv", "USER_ID\nu3\n");
        let listing = list_inputs(&src, &loc("s3://b/d/"), 1000).await.unwrap();
        let keys: Vec<_> = listing
            .inputs
            .iter()
            .map(|i| i.object.key.as_str())
            .collect();
        assert_eq!(keys, ["d/a.csv", "d/sub/C.CSV"]);
        assert_eq!(listing.inputs[0].listed_size, Some(11));
        assert_eq!(listing.skipped.count, 3);
        assert_eq!(
            listing.skipped.first,
            ["d/sub/.part-0.csv.crc", "d/sub/_SUCCESS", "d/sub/b.txt"]
        );
        // Named directly, an object is read whatever its name.
        let listing = list_inputs(&src, &loc("s3://b/d/sub/b.txt"), 1000)
            .await
            .unwrap();
        assert_eq!(listing.inputs.len(), 1);
        assert_eq!(listing.skipped, Skipped::default());
        // Only other types: the reason says what is there.
        src.put("b", "t/notes.txt", "x");
        let err = list_inputs(&src, &loc("s3://b/t/"), 1000)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no .csv files found under s3://b/t/: 1 object of other types (t/notes.txt) left unread; a folder's input files must end in .csv"
        );
        for (key, csv) in [
            ("a.csv", true),
            ("a.CsV", true),
            (".csv", false),
            ("a.csv.gz", false),
            ("csv", false),
            ("d.csv/x", false),
        ] {
            assert_eq!(is_csv(key), csv, "{key}");
        }
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
