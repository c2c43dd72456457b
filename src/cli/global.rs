//! The flags every command takes (`--data-dir`, `--store`, the S3 client's, the jobs'), and
//! what they make: the S3 timeouts, how deletion jobs run, automatic training.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{usage, CliError};
use crate::deletion::DeletionOptions;
use crate::source::s3::S3Timeouts;
use crate::store::DEFAULT_ACCOUNT_ID;

#[derive(Debug, Args)]
pub(super) struct Global {
    /// Folder of the embedded SQLite store (created if missing).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_DATA_DIR",
        default_value = ".personalize-local"
    )]
    pub(super) data_dir: PathBuf,
    /// Keep everything in memory for this run only, instead of the data dir.
    #[arg(long, global = true, env = "PERSONALIZE_LOCAL_IN_MEMORY")]
    pub(super) in_memory: bool,
    /// A shared store instead of the data dir: postgres://user:pass@host:port/db (or
    /// postgresql://, with the usual libpq parameters such as application_name).
    #[arg(long, global = true, env = "PERSONALIZE_LOCAL_STORE")]
    pub(super) store: Option<String>,
    /// S3 endpoint, e.g. http://127.0.0.1:9000 (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS).
    #[arg(long, global = true, env = "PERSONALIZE_LOCAL_S3_ENDPOINT")]
    pub(super) s3_endpoint: Option<String>,
    /// Attempts per S3 request, with backoff, for 5xx, SlowDown and dropped connections.
    #[arg(long, global = true, env = "PERSONALIZE_LOCAL_S3_MAX_ATTEMPTS", default_value_t = crate::source::s3::DEFAULT_MAX_ATTEMPTS)]
    pub(super) s3_max_attempts: u32,
    /// Region used in ARNs.
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_REGION",
        default_value = "us-east-1"
    )]
    pub(super) region: String,
    /// 12-digit account id used in ARNs.
    #[arg(long, global = true, env = "PERSONALIZE_LOCAL_ACCOUNT_ID", default_value = DEFAULT_ACCOUNT_ID)]
    pub(super) account_id: String,
    /// Seconds a worker's claim holds a job unless renewed (a running job renews it every
    /// third of that); a job whose worker died is run again once its lease expires.
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_JOB_LEASE_SECONDS",
        default_value_t = 30.0
    )]
    pub(super) job_lease_seconds: f64,
    /// Seconds to open a connection to S3 before the attempt fails (and is retried).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_S3_CONNECT_TIMEOUT_SECONDS",
        default_value_t = 5.0
    )]
    pub(super) s3_connect_timeout_seconds: f64,
    /// Seconds from an S3 request until its first response byte before the attempt fails.
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_S3_READ_TIMEOUT_SECONDS",
        default_value_t = 30.0
    )]
    pub(super) s3_read_timeout_seconds: f64,
    /// Seconds one attempt of an S3 request may take until its response's headers.
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_S3_ATTEMPT_TIMEOUT_SECONDS",
        default_value_t = 60.0
    )]
    pub(super) s3_attempt_timeout_seconds: f64,
    /// Seconds an S3 download may move no byte before it fails (and resumes where it stopped).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_S3_STALL_SECONDS",
        default_value_t = 10.0
    )]
    pub(super) s3_stall_seconds: f64,
    /// Seconds a job's input may make no progress (no listing page, no answer, no byte),
    /// retries and resumes included, before the job ends FAILED naming the object.
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_S3_NO_PROGRESS_SECONDS",
        default_value_t = 60.0
    )]
    pub(super) s3_no_progress_seconds: f64,
    /// Seconds a data deletion job may spend reading its input before it ends FAILED,
    /// nothing deleted (0: no limit).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_JOB_TIMEOUT_SECONDS",
        default_value_t = 3600.0
    )]
    pub(super) job_timeout_seconds: f64,
    /// Seconds between looks for solutions due an automatic version (serve and worker;
    /// 0: no automatic training).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_AUTO_TRAINING_CHECK_SECONDS",
        default_value_t = 60.0
    )]
    pub(super) auto_training_check_seconds: f64,
    /// Every solution's automatic training period in seconds, instead of its
    /// schedulingExpression's days (for tests).
    #[arg(
        long,
        global = true,
        env = "PERSONALIZE_LOCAL_AUTO_TRAINING_PERIOD_SECONDS"
    )]
    pub(super) auto_training_period_seconds: Option<f64>,
}

impl Global {
    /// Automatic training as the flags say.
    pub(super) fn auto_training(
        &self,
    ) -> Result<Option<crate::model::auto::AutoTraining>, CliError> {
        if self.auto_training_check_seconds == 0.0 {
            return Ok(None);
        }
        Ok(Some(crate::model::auto::AutoTraining {
            check: seconds(
                "--auto-training-check-seconds",
                self.auto_training_check_seconds,
            )?,
            period: self
                .auto_training_period_seconds
                .map(|s| seconds("--auto-training-period-seconds", s))
                .transpose()?,
        }))
    }

    /// The S3 timeouts the flags give.
    pub(super) fn s3_timeouts(&self) -> Result<S3Timeouts, CliError> {
        Ok(S3Timeouts {
            connect: seconds(
                "--s3-connect-timeout-seconds",
                self.s3_connect_timeout_seconds,
            )?,
            read: seconds("--s3-read-timeout-seconds", self.s3_read_timeout_seconds)?,
            attempt: seconds(
                "--s3-attempt-timeout-seconds",
                self.s3_attempt_timeout_seconds,
            )?,
            stall: seconds("--s3-stall-seconds", self.s3_stall_seconds)?,
        })
    }

    /// How deletion jobs run, with the job timeout the flags give.
    pub(super) fn deletion(&self) -> Result<DeletionOptions, CliError> {
        let deadline = match self.job_timeout_seconds {
            0.0 => None,
            s => Some(seconds("--job-timeout-seconds", s)?),
        };
        Ok(DeletionOptions {
            deadline,
            ..DeletionOptions::default()
        })
    }
}

/// A duration flag: a positive number of seconds, at most a day.
pub(super) fn seconds(flag: &str, seconds: f64) -> Result<Duration, CliError> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err(usage(format!(
            "{flag} must be a number of seconds between 0 and 86400, got {seconds}"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}
