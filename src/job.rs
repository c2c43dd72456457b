//! The data deletion job record: what `DescribeDataDeletionJob` returns, and its lifecycle.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A job's status; the exact strings of the service (no `CREATE ` prefix, unlike other
/// Personalize resources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// Accepted, not started.
    #[serde(rename = "PENDING")]
    Pending,
    /// Reading inputs or purging.
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    /// Every record of the listed users is gone, durably.
    #[serde(rename = "COMPLETED")]
    Completed,
    /// Nothing was deleted; `failureReason` says why.
    #[serde(rename = "FAILED")]
    Failed,
}

impl JobStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
        }
    }

    /// True for `COMPLETED` and `FAILED`.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `DataSource`: where the job's input lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    /// `s3://bucket/key` or `s3://bucket/folder/`.
    pub data_location: String,
}

/// A data deletion job, shaped like the service's `DataDeletionJob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataDeletionJob {
    /// The job's name, unique per account and region.
    pub job_name: String,
    /// `arn:aws:personalize:{region}:{account}:data-deletion-job/{jobName}`.
    pub data_deletion_job_arn: String,
    /// The dataset group whose datasets are purged.
    pub dataset_group_arn: String,
    /// The input location.
    pub data_source: DataSource,
    /// The IAM role the service would assume to read the input (stored, not used locally).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role_arn: Option<String>,
    /// The job's status.
    pub status: JobStatus,
    /// Records deleted by a `COMPLETED` job.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub num_deleted: Option<u64>,
    /// Why a `FAILED` job failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_reason: Option<String>,
    /// Epoch seconds (a JSON number, as the service sends).
    pub creation_date_time: f64,
    /// Epoch seconds of the last status change.
    pub last_updated_date_time: f64,
}

/// Seconds since the epoch, with millisecond precision.
pub fn now_epoch() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// The account and region that resource ARNs are minted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Default for ArnScope {
    fn default() -> Self {
        ArnScope {
            region: "us-east-1".into(),
            account: DEFAULT_ACCOUNT_ID.into(),
        }
    }
}

/// The account id used when none is configured, as other local AWS emulators do.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

impl ArnScope {
    /// `arn:aws:personalize:{region}:{account}:dataset-group/{name}`.
    pub fn dataset_group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:personalize:{}:{}:dataset-group/{name}",
            self.region, self.account
        )
    }

    /// `arn:aws:personalize:{region}:{account}:data-deletion-job/{name}`.
    pub fn data_deletion_job_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:personalize:{}:{}:data-deletion-job/{name}",
            self.region, self.account
        )
    }
}

/// `arn:...:dataset/{group}/{TYPE}` for a dataset of `group_arn`.
pub fn dataset_arn(group_arn: &str, type_suffix: &str) -> String {
    match group_arn.split_once(":dataset-group/") {
        Some((head, name)) => format!("{head}:dataset/{name}/{type_suffix}"),
        None => format!("{group_arn}/{type_suffix}"),
    }
}

/// The group ARN and type a dataset ARN (`...:dataset/{group}/{TYPE}`) names.
pub fn parse_dataset_arn(arn: &str) -> Option<(String, crate::store::DatasetType)> {
    let (head, rest) = arn.split_once(":dataset/")?;
    let (group, suffix) = rest.rsplit_once('/')?;
    let t = crate::store::DatasetType::ALL
        .into_iter()
        .find(|t| t.arn_suffix() == suffix)?;
    Some((format!("{head}:dataset-group/{group}"), t))
}

/// Checks a resource name against the service's `Name` shape: 1 to 63 characters matching
/// `[a-zA-Z0-9][a-zA-Z0-9\-_]*`.
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    let ok_first = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_rest = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if name.is_empty() || name.len() > 63 || !ok_first || !ok_rest {
        return Err(format!(
            "invalid {what} {name:?}: names are 1 to 63 characters of letters, digits, '-' and '_', \
             starting with a letter or digit"
        ));
    }
    Ok(())
}

impl DataDeletionJob {
    /// A new `PENDING` job.
    pub fn new(
        scope: &ArnScope,
        job_name: &str,
        dataset_group_arn: &str,
        data_location: &str,
    ) -> Self {
        let now = now_epoch();
        DataDeletionJob {
            job_name: job_name.to_owned(),
            data_deletion_job_arn: scope.data_deletion_job_arn(job_name),
            dataset_group_arn: dataset_group_arn.to_owned(),
            data_source: DataSource {
                data_location: data_location.to_owned(),
            },
            role_arn: None,
            status: JobStatus::Pending,
            num_deleted: None,
            failure_reason: None,
            creation_date_time: now,
            last_updated_date_time: now,
        }
    }

    /// Moves to `status`, stamping the update time.
    pub fn set_status(&mut self, status: JobStatus) {
        self.status = status;
        let now = now_epoch();
        // Keep the order of events visible even within one millisecond.
        self.last_updated_date_time = if now > self.last_updated_date_time {
            now
        } else {
            self.last_updated_date_time
        };
    }

    /// This job, `COMPLETED` with `num_deleted` records deleted.
    pub fn completed(mut self, num_deleted: u64) -> Self {
        self.set_status(JobStatus::Completed);
        self.num_deleted = Some(num_deleted);
        self.failure_reason = None;
        self
    }

    /// This job, `FAILED` for `reason`, having deleted nothing.
    pub fn failed(mut self, reason: String) -> Self {
        self.set_status(JobStatus::Failed);
        self.num_deleted = None;
        self.failure_reason = Some(reason);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_round_trip() {
        for s in [
            JobStatus::Pending,
            JobStatus::InProgress,
            JobStatus::Completed,
            JobStatus::Failed,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<JobStatus>(&json).unwrap(), s);
        }
    }

    #[test]
    fn arns_follow_the_service() {
        let scope = ArnScope::default();
        let g = scope.dataset_group_arn("g1");
        assert_eq!(
            g,
            "arn:aws:personalize:us-east-1:000000000000:dataset-group/g1"
        );
        assert_eq!(
            dataset_arn(&g, "INTERACTIONS"),
            "arn:aws:personalize:us-east-1:000000000000:dataset/g1/INTERACTIONS"
        );
        assert_eq!(
            scope.data_deletion_job_arn("j"),
            "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/j"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("job name", "a-b_C9").is_ok());
        for bad in ["", "-a", "a b", "a/b", &"x".repeat(64)] {
            assert!(validate_name("job name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_json_is_shaped_like_the_service() {
        let job =
            DataDeletionJob::new(&ArnScope::default(), "j", "arn:g", "s3://b/p/").completed(3);
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["status"], "COMPLETED");
        assert_eq!(v["numDeleted"], 3);
        assert_eq!(v["dataSource"]["dataLocation"], "s3://b/p/");
        assert!(v["creationDateTime"].is_number());
        assert!(v.get("failureReason").is_none());
    }
}
