//! Stage 5: what a job reports when it fails. Every `failureReason` is worded here.
//!
//! A reason always says what to fix: content errors name the object and the line, S3 errors
//! carry the S3 error code.

use crate::source::list::{ListError, Skipped};
use crate::source::{S3Location, SourceError};
use crate::store::StoreError;
pub use crate::store::MAX_ID_CHARS;

/// What is wrong with one record of a deletion file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentProblem {
    /// The first record is not the single column `USER_ID`.
    #[error("expected the header USER_ID, found {found:?}")]
    WrongHeader {
        /// The first record as found (fields joined by commas, cut to 100 characters).
        found: String,
    },
    /// The file holds no record at all (only blank lines or a byte-order mark).
    #[error("the file has no USER_ID header (it holds only blank lines)")]
    NoHeader,
    /// A data record with other than one field.
    #[error("expected 1 column (USER_ID), found {found}")]
    ColumnCount {
        /// The fields found.
        found: usize,
    },
    /// A record of a multi-column file with the wrong number of fields.
    #[error("expected {expected} columns, found {found}")]
    FieldCount {
        /// The header's columns.
        expected: usize,
        /// The fields found.
        found: usize,
    },
    /// An empty ID (`""`).
    #[error("the user ID is empty; IDs are 1 to {MAX_ID_CHARS} characters")]
    EmptyId,
    /// An ID over the limit.
    #[error("the user ID is {chars} characters long; IDs are 1 to {MAX_ID_CHARS} characters")]
    IdTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A record far over any ID's length.
    #[error("the record is longer than {limit} bytes; IDs are 1 to {MAX_ID_CHARS} characters")]
    RecordTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A value does not fit its schema field.
    #[error("column {column}: {message}")]
    BadValue {
        /// The field's name.
        column: String,
        /// What is wrong with the value.
        message: String,
    },
    /// Bytes that are not UTF-8.
    #[error("the user ID is not valid UTF-8")]
    InvalidUtf8,
    /// A quoted field still open at the end of the file.
    #[error("a quoted field is not closed before the end of the file (unterminated quote)")]
    UnterminatedQuote,
    /// A quoted field that spans lines and grows past any ID's length.
    #[error(
        "a quoted field runs on over several lines past {limit} bytes (a missing closing quote?)"
    )]
    RunawayQuote {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Why a data deletion job failed. Its `Display` is the job's `failureReason`.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// The `dataLocation` is not a valid `s3://` location.
    #[error("{0}")]
    BadLocation(String),
    /// A deletion file's content is malformed.
    #[error("{object} line {line}: {problem}")]
    Content {
        /// `s3://bucket/key` of the file.
        object: S3Location,
        /// The 1-based line of the bad record.
        line: u64,
        /// What is wrong.
        problem: ContentProblem,
    },
    /// S3 refused or failed a request.
    #[error("{action} {location} failed: {}{}", error.code, message_suffix(&error.message))]
    Source {
        /// `listing` or `reading`.
        action: &'static str,
        /// The location asked for.
        location: S3Location,
        /// The S3 error.
        error: SourceError,
    },
    /// The prefix holds no object with content.
    #[error("no input files found under {0}")]
    NoInput(S3Location),
    /// The prefix holds objects, but no `.csv` file.
    #[error("no .csv files found under {location}: {skipped}")]
    NoCsv {
        /// The location.
        location: S3Location,
        /// What is there.
        skipped: Skipped,
    },
    /// The object named directly is empty.
    #[error("the object {0} is empty; a deletion file starts with the header USER_ID")]
    EmptyObject(S3Location),
    /// The object named could not be read, and objects exist under it as a folder.
    #[error("reading {location} failed: {}{}; there are objects under {folder}: did you mean {folder} ?", error.code, message_suffix(&error.message))]
    NotAnObject {
        /// The location as given.
        location: S3Location,
        /// The folder it names, trailing slash included.
        folder: S3Location,
        /// Why reading it failed.
        error: Box<SourceError>,
    },
    /// The input is over the size limit.
    #[error("the input under {location} is {total} bytes, over the limit of a data deletion job ({})", human(*limit))]
    TooLarge {
        /// The location.
        location: S3Location,
        /// Bytes found.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading the input took longer than the job may take.
    #[error("the input under {location} was not read within {} (the job timeout); nothing was deleted", seconds_text(*limit))]
    Deadline {
        /// The location.
        location: S3Location,
        /// The limit.
        limit: std::time::Duration,
    },
    /// The dataset group does not exist in the store.
    #[error("the dataset group {0} does not exist")]
    NoSuchDatasetGroup(String),
    /// The store failed; nothing was deleted.
    #[error("internal error: the dataset store failed: {0}")]
    Store(#[from] StoreError),
    /// Something inside the job failed (a reader task); nothing was deleted.
    #[error("internal error: {0}")]
    Internal(String),
}

fn seconds_text(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

impl From<ListError> for JobFailure {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Source { location, error } => JobFailure::Source {
                action: "listing",
                location,
                error,
            },
            ListError::NoInput(location) => JobFailure::NoInput(location),
            ListError::NoCsv { location, skipped } => JobFailure::NoCsv { location, skipped },
            ListError::TooLarge {
                location,
                total,
                limit,
            } => JobFailure::TooLarge {
                location,
                total,
                limit,
            },
        }
    }
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

/// A size limit: `100 MB, 104857600 bytes`, or `1000 bytes` when it is no whole number of
/// megabytes.
fn human(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB, {bytes} bytes", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(s: &str) -> S3Location {
        S3Location::parse(s).unwrap()
    }

    #[test]
    fn reasons_name_the_object_line_and_code() {
        let f = JobFailure::Content {
            object: loc("s3://b/d/x.csv"),
            line: 7,
            problem: ContentProblem::IdTooLong { chars: 257 },
        };
        assert_eq!(
            f.to_string(),
            "s3://b/d/x.csv line 7: the user ID is 257 characters long; IDs are 1 to 256 characters"
        );
        let f = JobFailure::Source {
            action: "listing",
            location: loc("s3://nope/d/"),
            error: SourceError::new("NoSuchBucket", "The specified bucket does not exist"),
        };
        assert_eq!(
            f.to_string(),
            "listing s3://nope/d/ failed: NoSuchBucket (The specified bucket does not exist)"
        );
        let f = JobFailure::TooLarge {
            location: loc("s3://b/d/"),
            total: 104_857_601,
            limit: 100 * 1024 * 1024,
        };
        assert_eq!(
            f.to_string(),
            "the input under s3://b/d/ is 104857601 bytes, over the limit of a data deletion job (100 MB, 104857600 bytes)"
        );
        assert_eq!(
            JobFailure::NoInput(loc("s3://b/e/")).to_string(),
            "no input files found under s3://b/e/"
        );
    }
}
