//! The one job record of every kind, its status and the lease a worker holds on it.
//!
//! This file is data only: it imports nothing from the crate, so the store can keep jobs
//! without knowing what a job does, and the API can answer them without knowing how they are
//! kept.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, with millisecond precision: the crate's clock for every
/// timestamp and lease.
pub fn now_epoch() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// This machine's name in worker names: `HOSTNAME`, else the kernel's host name, else
/// `local`.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".to_owned())
}

/// A name for a process's claims: host, process id and a random part, so workers on
/// several machines sharing one store tell their leases apart, and a process of this host
/// can tell a lease whose owner is gone ([`lease_owner_gone`]).
pub fn worker_name(nonce: &str) -> String {
    format!("{}:{}:{nonce}", host_name(), std::process::id())
}

/// Whether the worker `name` ([`worker_name`]) is a process of this host that no longer
/// runs: its host is this one and no process has its id (Linux's `/proc`). False whenever
/// that cannot be known (another host, another naming, no `/proc`): the lease is then waited
/// out. A process id taken again by another process only makes the wait the old one.
pub fn lease_owner_gone(name: &str) -> bool {
    let mut parts = name.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != host_name() || pid == std::process::id() {
        return false;
    }
    if !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    // No such process, or one that has exited and waits to be reaped (a zombie).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// A data deletion job: purges users from a dataset group.
    Deletion,
    /// A dataset import job: loads a dataset from S3.
    Import,
    /// A dataset export job: writes a dataset to S3.
    Export,
    /// A solution version: a model trained from a dataset group's records.
    Training,
    /// A batch inference job: recommendations for every line of JSON Lines input on S3.
    BatchInference,
    /// A batch segment job: users for every line of JSON Lines input on S3.
    BatchSegment,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 6] = [
        JobKind::Deletion,
        JobKind::Import,
        JobKind::Export,
        JobKind::Training,
        JobKind::BatchInference,
        JobKind::BatchSegment,
    ];

    /// The resource type in the job's ARN (`...:data-deletion-job/{name}`).
    pub fn arn_resource(self) -> &'static str {
        match self {
            JobKind::Deletion => "data-deletion-job",
            JobKind::Import => "dataset-import-job",
            JobKind::Export => "dataset-export-job",
            JobKind::Training => "solution",
            JobKind::BatchInference => "batch-inference-job",
            JobKind::BatchSegment => "batch-segment-job",
        }
    }

    /// A short name for logs and stored rows: `deletion`, `import`, `export`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Deletion => "deletion",
            JobKind::Import => "import",
            JobKind::Export => "export",
            JobKind::Training => "training",
            JobKind::BatchInference => "batch-inference",
            JobKind::BatchSegment => "batch-segment",
        }
    }

    /// What the service calls a job of this kind, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            JobKind::Deletion => "data deletion job",
            JobKind::Import => "dataset import job",
            JobKind::Export => "dataset export job",
            JobKind::Training => "solution version",
            JobKind::BatchInference => "batch inference job",
            JobKind::BatchSegment => "batch segment job",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownValue::new("job kind", s))
    }
}

/// A string that names no value of a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
}

impl UnknownValue {
    fn new(what: &'static str, value: &str) -> Self {
        UnknownValue {
            what,
            value: value.to_owned(),
        }
    }
}

/// Where a job is in its life; the same four steps for every kind, each kind with its own
/// service strings ([`JobStatus::service_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Accepted, waiting for a worker.
    Pending,
    /// A worker holds it.
    InProgress,
    /// Done: its writes are committed.
    Succeeded,
    /// Nothing was written; `failure_reason` says why.
    Failed,
}

impl JobStatus {
    /// Every status, in the order a job goes through them.
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Pending,
        JobStatus::InProgress,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];

    /// The store's name, the same for every kind: `pending`, `in_progress`, `succeeded`,
    /// `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::InProgress => "in_progress",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    /// The service's string for a job of `kind`: `PENDING`, `IN_PROGRESS`, `COMPLETED`,
    /// `FAILED` for data deletion jobs; `CREATE PENDING`, `CREATE IN_PROGRESS`, `ACTIVE`,
    /// `CREATE FAILED` for dataset import and export jobs.
    pub fn service_str(self, kind: JobKind) -> &'static str {
        match (kind, self) {
            (JobKind::Deletion, JobStatus::Pending) => "PENDING",
            (JobKind::Deletion, JobStatus::InProgress) => "IN_PROGRESS",
            (JobKind::Deletion, JobStatus::Succeeded) => "COMPLETED",
            (JobKind::Deletion, JobStatus::Failed) => "FAILED",
            (JobKind::BatchInference | JobKind::BatchSegment, JobStatus::Pending) => "PENDING",
            (JobKind::BatchInference | JobKind::BatchSegment, JobStatus::InProgress) => {
                "IN PROGRESS"
            }
            (_, JobStatus::Pending) => "CREATE PENDING",
            (_, JobStatus::InProgress) => "CREATE IN_PROGRESS",
            (_, JobStatus::Succeeded) => "ACTIVE",
            (_, JobStatus::Failed) => "CREATE FAILED",
        }
    }

    /// The status whose service string for `kind` is `s`.
    pub fn from_service_str(kind: JobKind, s: &str) -> Result<Self, UnknownValue> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.service_str(kind) == s)
            .ok_or_else(|| UnknownValue::new("job status", s))
    }

    /// True for `Succeeded` and `Failed`.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownValue;
    /// The store's name ([`JobStatus::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownValue::new("job status", s))
    }
}

/// How an import treats the records a dataset already holds (the service's `importMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    /// Replaces them all.
    #[default]
    Full,
    /// Keeps them; a record whose id is loaded again is replaced (Users, Items, Actions).
    Incremental,
}

impl ImportMode {
    /// `FULL` or `INCREMENTAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Full => "FULL",
            ImportMode::Incremental => "INCREMENTAL",
        }
    }
}

impl FromStr for ImportMode {
    type Err = UnknownValue;
    /// `FULL` or `INCREMENTAL`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [ImportMode::Full, ImportMode::Incremental]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownValue::new("import mode", s))
    }
}

/// The tag that makes a data deletion job a dry run (`true`, in any case) when the job is
/// created with it: it reads its input as any job does, deletes nothing, and ends
/// `COMPLETED` with the `numDeleted` it would have had. The job's spec records it
/// ([`JobSpec::Deletion`]'s `dry_run`); tagging the job later changes nothing.
pub const DRY_RUN_TAG: &str = "personalize-local:dry-run";

/// What a job of each kind was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// Purge the users listed under `data_location` from a dataset group.
    Deletion {
        /// The group whose datasets are purged.
        dataset_group_arn: String,
        /// `s3://bucket/key` or `s3://bucket/folder/`.
        data_location: String,
        /// Read the input and count what would go, deleting nothing ([`DRY_RUN_TAG`]). Part
        /// of the spec, written with the job: what the job does never depends on a later
        /// write.
        dry_run: bool,
    },
    /// Load a dataset from CSV under `data_location`.
    Import {
        /// The dataset loaded.
        dataset_arn: String,
        /// One object or a folder.
        data_location: String,
        /// `FULL` or `INCREMENTAL`.
        import_mode: ImportMode,
        /// Stored as given.
        publish_attribution_metrics_to_s3: Option<bool>,
    },
    /// Train a model: a solution version, whose ARN is the job's.
    Training {
        /// The solution the version belongs to.
        solution_arn: String,
        /// `FULL`, `UPDATE` or `AUTOTRAIN`.
        training_mode: String,
        /// `MANUAL` or `AUTOMATIC`.
        training_type: String,
        /// The solution as it was when the version was created (its group, recipe, event
        /// type and configuration), as the API wrote it: what is trained.
        solution: serde_json::Value,
    },
    /// A batch job (inference or segments) of a solution version: its request as the API
    /// checked it (`jobInput`, `jobOutput`, `filterArn`, `numResults`, the configuration).
    Batch {
        /// [`JobKind::BatchInference`] or [`JobKind::BatchSegment`].
        kind: JobKind,
        /// The version whose model answers.
        solution_version_arn: String,
        /// The request's members.
        request: serde_json::Value,
    },
    /// Write a dataset as one CSV object under `path`.
    Export {
        /// The dataset exported.
        dataset_arn: String,
        /// `BULK`, `PUT` or `ALL`: which records, by how they arrived.
        ingestion_mode: String,
        /// `s3://bucket/prefix/`.
        path: String,
        /// Stored as given.
        kms_key_arn: Option<String>,
    },
}

impl JobSpec {
    /// The job's kind.
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::Deletion { .. } => JobKind::Deletion,
            JobSpec::Import { .. } => JobKind::Import,
            JobSpec::Export { .. } => JobKind::Export,
            JobSpec::Training { .. } => JobKind::Training,
            JobSpec::Batch { kind, .. } => *kind,
        }
    }

    /// The resource the job works on: the dataset group of a deletion job, the dataset of
    /// an import or export job, the solution of a solution version. Listings filter by it.
    pub fn target_arn(&self) -> &str {
        match self {
            JobSpec::Deletion {
                dataset_group_arn, ..
            } => dataset_group_arn,
            JobSpec::Import { dataset_arn, .. } | JobSpec::Export { dataset_arn, .. } => {
                dataset_arn
            }
            JobSpec::Training { solution_arn, .. } => solution_arn,
            JobSpec::Batch {
                solution_version_arn,
                ..
            } => solution_version_arn,
        }
    }
}

/// A job of any kind, as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `arn:aws:personalize:{region}:{account}:{kind's resource}/{name}`; the store's key.
    pub arn: String,
    /// The job's name, unique per kind, account and region.
    pub name: String,
    /// What it was asked to do.
    pub spec: JobSpec,
    /// The IAM role the service would assume (stored, not used locally).
    pub role_arn: Option<String>,
    /// Where it is in its life.
    pub status: JobStatus,
    /// Records deleted by a succeeded data deletion job.
    pub num_deleted: Option<u64>,
    /// Why a failed job failed.
    pub failure_reason: Option<String>,
    /// Epoch seconds.
    pub created: f64,
    /// Epoch seconds of the last status change.
    pub last_updated: f64,
}

impl Job {
    /// A new `Pending` job.
    pub fn new(arn: String, name: &str, spec: JobSpec) -> Job {
        let now = now_epoch();
        Job {
            arn,
            name: name.to_owned(),
            spec,
            role_arn: None,
            status: JobStatus::Pending,
            num_deleted: None,
            failure_reason: None,
            created: now,
            last_updated: now,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> JobKind {
        self.spec.kind()
    }

    /// The service's string for its status.
    pub fn service_status(&self) -> &'static str {
        self.status.service_str(self.kind())
    }

    /// Moves to `status`, stamping the update time (never backwards, so the order of events
    /// stays visible within one millisecond).
    pub fn set_status(&mut self, status: JobStatus) {
        self.status = status;
        self.last_updated = now_epoch().max(self.last_updated);
    }

    /// This job, `Succeeded`; a data deletion job with the records it deleted.
    pub fn succeeded(mut self, num_deleted: Option<u64>) -> Job {
        self.set_status(JobStatus::Succeeded);
        self.num_deleted = num_deleted;
        self.failure_reason = None;
        self
    }

    /// This job, `Failed` for `reason`, having written nothing.
    pub fn failed(mut self, reason: String) -> Job {
        self.set_status(JobStatus::Failed);
        self.num_deleted = None;
        self.failure_reason = Some(reason);
        self
    }
}

/// A worker's hold on an in-progress job: granted by a claim, extended by renewals, and
/// checked when the job's terminal status is written (a fencing check), so a worker whose
/// lease expired, or was taken over by another claim, cannot commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// The job held.
    pub job_arn: String,
    /// Who holds it.
    pub worker: String,
    /// Which claim of the job this is: every claim takes a new, larger token.
    pub token: u64,
    /// Epoch seconds after which the job may be claimed again.
    pub expires: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_the_service_strings() {
        let strings = |k: JobKind| JobStatus::ALL.map(|s| s.service_str(k));
        assert_eq!(
            strings(JobKind::Deletion),
            ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"]
        );
        for k in [JobKind::Import, JobKind::Export, JobKind::Training] {
            assert_eq!(
                strings(k),
                [
                    "CREATE PENDING",
                    "CREATE IN_PROGRESS",
                    "ACTIVE",
                    "CREATE FAILED"
                ]
            );
        }
        for k in JobKind::ALL {
            for s in JobStatus::ALL {
                assert_eq!(JobStatus::from_service_str(k, s.service_str(k)), Ok(s));
                assert_eq!(s.as_str().parse::<JobStatus>(), Ok(s));
            }
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(k));
        }
        assert!(JobStatus::from_service_str(JobKind::Deletion, "ACTIVE").is_err());
        assert!("done".parse::<JobStatus>().is_err());
    }

    #[test]
    fn a_job_ends_once_with_its_outcome() {
        let spec = JobSpec::Deletion {
            dataset_group_arn: "g".into(),
            data_location: "s3://b/k".into(),
            dry_run: false,
        };
        let job = Job::new("arn:j".into(), "j", spec);
        assert_eq!(job.status, JobStatus::Pending);
        assert_eq!(job.service_status(), "PENDING");
        let done = job.clone().succeeded(Some(3));
        assert_eq!(done.service_status(), "COMPLETED");
        assert_eq!(done.num_deleted, Some(3));
        assert!(done.last_updated >= job.last_updated);
        let failed = done.failed("because".into());
        assert_eq!(failed.num_deleted, None);
        assert_eq!(failed.failure_reason.as_deref(), Some("because"));
    }

    #[test]
    fn a_lease_owner_is_gone_only_when_its_process_on_this_host_is() {
        let me = worker_name("abcd1234");
        assert!(!lease_owner_gone(&me), "this process runs");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let dead = format!("{}:{pid}:abcd1234", host_name());
        // Exited, not yet reaped: a zombie is gone too.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(lease_owner_gone(&dead), "{dead}");
        child.wait().unwrap();
        assert!(lease_owner_gone(&dead), "{dead}");
        assert!(!lease_owner_gone(&format!(
            "elsewhere.example:{pid}:abcd1234"
        )));
        assert!(!lease_owner_gone("conf-worker"));
        assert!(!lease_owner_gone(&format!("{}:1:abcd1234", host_name())));
    }

    #[test]
    fn import_modes_parse_in_any_case() {
        assert_eq!("incremental".parse(), Ok(ImportMode::Incremental));
        assert_eq!("FULL".parse(), Ok(ImportMode::Full));
        assert!("PARTIAL".parse::<ImportMode>().is_err());
    }
}
