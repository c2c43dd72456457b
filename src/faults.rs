//! Failure injection, for tests of what a client does when the service fails: the next N
//! matching calls fail as asked. A fault names one target:
//! - an API `operation` (`CreateDataDeletionJob`), answered with `errorCode` (one of the
//!   service's error codes, [`ERROR_CODES`]) and `message`, and/or after `latencyMs`;
//! - a `jobKind` (`DataDeletionJob`, `DatasetImportJob`, `DatasetExportJob`): the next job of
//!   that kind a worker takes ends `FAILED` (`CREATE FAILED`) with `failureReason`, having
//!   done nothing;
//! - an `s3Prefix` (`s3://bucket/prefix`): listings and reads under it fail with the S3
//!   `errorCode`, as S3 itself would answer them.
//!
//! `count` (default 1) is how many matching calls a fault takes; then it is gone. Served at
//! `/_personalize-local/faults` (POST adds, GET lists, DELETE clears) and loaded from
//! `serve --faults FILE`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The error codes an operation fault may answer: the service's.
pub const ERROR_CODES: [&str; 12] = [
    "InvalidInputException",
    "ResourceNotFoundException",
    "ResourceAlreadyExistsException",
    "ResourceInUseException",
    "LimitExceededException",
    "InvalidNextTokenException",
    "TooManyTagsException",
    "TooManyTagKeysException",
    "ThrottlingException",
    "AccessDeniedException",
    "ServiceUnavailableException",
    "InternalFailure",
];

/// The job kinds a job fault may name, as the API names their resources.
pub const JOB_KINDS: [&str; 3] = ["DataDeletionJob", "DatasetImportJob", "DatasetExportJob"];

/// One fault, as given and as listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Assigned when added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An API operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A job kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_kind: Option<String>,
    /// An S3 location prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
    /// The error code answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The reason a job ends with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Milliseconds added before an operation answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Matching calls it still takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Fault {
    fn check(&self) -> Result<(), String> {
        let targets = [&self.operation, &self.job_kind, &self.s3_prefix];
        if targets.iter().filter(|t| t.is_some()).count() != 1 {
            return Err("a fault names exactly one of operation, jobKind and s3Prefix".into());
        }
        if self.count == Some(0) {
            return Err("a fault's count is at least 1".into());
        }
        if self.operation.is_some() {
            match &self.error_code {
                Some(code) if !ERROR_CODES.contains(&code.as_str()) => {
                    return Err(format!(
                        "errorCode {code} is not one of the service's: {}",
                        ERROR_CODES.join(", ")
                    ))
                }
                None if self.latency_ms.is_none() => {
                    return Err("an operation fault has an errorCode, a latencyMs or both".into())
                }
                _ => {}
            }
        }
        if let Some(kind) = &self.job_kind {
            if !JOB_KINDS.contains(&kind.as_str()) {
                return Err(format!(
                    "jobKind {kind} is not one of {}",
                    JOB_KINDS.join(", ")
                ));
            }
            if self.failure_reason.is_none() {
                return Err("a job fault has a failureReason".into());
            }
        }
        if let Some(prefix) = &self.s3_prefix {
            if !prefix.starts_with("s3://") {
                return Err(format!("s3Prefix {prefix} is not an s3:// location"));
            }
            if self.error_code.is_none() {
                return Err("an S3 fault has an errorCode (AccessDenied, SlowDown, ...)".into());
            }
        }
        Ok(())
    }
}

/// How an operation fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFault {
    /// The error, if any: one of [`ERROR_CODES`], and its message.
    pub error: Option<(&'static str, String)>,
    /// Added before the answer.
    pub latency: Duration,
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    list: Mutex<Vec<Fault>>,
    next_id: AtomicU64,
}

impl Faults {
    /// Adds faults (all or none); returns them with their ids.
    pub fn add(&self, faults: Vec<Fault>) -> Result<Vec<Fault>, String> {
        for f in &faults {
            f.check()?;
        }
        let added: Vec<Fault> = faults
            .into_iter()
            .map(|mut f| {
                let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                f.id = Some(format!("fault-{n}"));
                f.count = Some(f.count.unwrap_or(1));
                f
            })
            .collect();
        self.lock().extend(added.iter().cloned());
        Ok(added)
    }

    /// The faults in force, oldest first.
    pub fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Takes one use of the oldest fault `matches` accepts.
    fn take(&self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut list = self.lock();
        let i = list.iter().position(matches)?;
        let f = list[i].clone();
        match list[i].count.as_mut() {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                list.remove(i);
            }
        }
        Some(f)
    }

    /// How the operation `name` fails now, if a fault says so.
    pub fn operation(&self, name: &str) -> Option<OperationFault> {
        let f = self.take(|f| f.operation.as_deref() == Some(name))?;
        let error = f.error_code.as_deref().and_then(|code| {
            let code = ERROR_CODES.iter().find(|c| **c == code)?;
            let message = f.message.clone().unwrap_or_else(|| {
                format!("injected by the fault {}", f.id.as_deref().unwrap_or(""))
            });
            Some((*code, message))
        });
        Some(OperationFault {
            error,
            latency: Duration::from_millis(f.latency_ms.unwrap_or(0)),
        })
    }

    /// The reason the next job of `kind` fails with, if a fault says so.
    pub fn job(&self, kind: &str) -> Option<String> {
        self.take(|f| f.job_kind.as_deref() == Some(kind))
            .and_then(|f| f.failure_reason)
    }

    /// The S3 error (code, message) of a request for `location`, if a fault covers it.
    pub fn s3(&self, location: &str) -> Option<(String, String)> {
        let f = self.take(|f| {
            f.s3_prefix
                .as_deref()
                .is_some_and(|p| location.starts_with(p))
        })?;
        let code = f.error_code.clone().unwrap_or_default();
        let message = f
            .message
            .clone()
            .unwrap_or_else(|| "injected fault".to_owned());
        Some((code, message))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: &str) -> Fault {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn faults_take_their_count_of_matching_calls_oldest_first() {
        let faults = Faults::default();
        let added = faults
            .add(vec![
                fault(r#"{"operation": "CreateDataDeletionJob", "errorCode": "LimitExceededException", "count": 2}"#),
                fault(r#"{"operation": "CreateDataDeletionJob", "latencyMs": 5}"#),
                fault(r#"{"jobKind": "DatasetImportJob", "failureReason": "the role cannot read the bucket"}"#),
                fault(r#"{"s3Prefix": "s3://b/in/", "errorCode": "AccessDenied"}"#),
            ])
            .unwrap();
        assert_eq!(added[0].id.as_deref(), Some("fault-1"));
        assert_eq!(added[1].count, Some(1));
        for _ in 0..2 {
            let f = faults.operation("CreateDataDeletionJob").unwrap();
            assert_eq!(f.error.unwrap().0, "LimitExceededException");
        }
        let f = faults.operation("CreateDataDeletionJob").unwrap();
        assert_eq!((f.error, f.latency), (None, Duration::from_millis(5)));
        assert_eq!(faults.operation("CreateDataDeletionJob"), None);
        assert_eq!(faults.operation("DescribeDataDeletionJob"), None);
        assert_eq!(faults.job("DataDeletionJob"), None);
        assert_eq!(
            faults.job("DatasetImportJob").as_deref(),
            Some("the role cannot read the bucket")
        );
        assert_eq!(faults.s3("s3://b/other.csv"), None);
        assert_eq!(faults.s3("s3://b/in/a.csv").unwrap().0, "AccessDenied");
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_bad_fault_is_refused_and_adds_nothing() {
        let faults = Faults::default();
        for (json, why) in [
            (r#"{"errorCode": "ThrottlingException"}"#, "exactly one of"),
            (
                r#"{"operation": "X", "jobKind": "DataDeletionJob"}"#,
                "exactly one of",
            ),
            (
                r#"{"operation": "X", "errorCode": "Throttled"}"#,
                "is not one of the service's",
            ),
            (r#"{"operation": "X"}"#, "an errorCode, a latencyMs or both"),
            (
                r#"{"jobKind": "Job", "failureReason": "r"}"#,
                "jobKind Job is not one of",
            ),
            (r#"{"jobKind": "DataDeletionJob"}"#, "has a failureReason"),
            (
                r#"{"s3Prefix": "b/p", "errorCode": "AccessDenied"}"#,
                "not an s3:// location",
            ),
            (
                r#"{"s3Prefix": "s3://b/", "count": 0, "errorCode": "AccessDenied"}"#,
                "at least 1",
            ),
        ] {
            let ok = fault(r#"{"operation": "Y", "latencyMs": 1}"#);
            let err = faults.add(vec![ok, fault(json)]).unwrap_err();
            assert!(err.contains(why), "{json}: {err}");
        }
        assert!(faults.list().is_empty());
        assert!(serde_json::from_str::<Fault>(r#"{"operation": "X", "oops": 1}"#).is_err());
    }
}
