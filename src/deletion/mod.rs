//! The data deletion job, one file per stage:
//!
//! 1. [`crate::source::list`]: every object under the input location (all sub-folders, all
//!    pages);
//! 2. [`parse`]: each object streamed and parsed as a `USER_ID` CSV, objects in parallel;
//! 3. [`dedupe`]: the distinct IDs across all files;
//! 4. [`purge`]: one store transaction deletes the users' records and marks the job done;
//! 5. [`report`]: the wording of every `failureReason`.
//!
//! [`preview`] runs stages 1 to 3 the same way and reads what the store holds of the users,
//! for dry runs and `verify`.
//!
//! [`run_claimed`] wires them inside [`crate::jobs::run::run_to_end`], which moves the job
//! `IN_PROGRESS` -> `COMPLETED` or `FAILED`. Nothing is deleted unless every input was read
//! without error.

pub mod dedupe;
pub mod parse;
pub mod preview;
pub mod purge;
pub mod report;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tracing::{info, instrument};

use self::dedupe::IdSetBuilder;
use self::report::JobFailure;
use crate::jobs::run::{claim_one, run_to_end, JobError};
use crate::jobs::{Job, JobSpec, Lease};
use crate::source::list::{self, ListedObject};
use crate::source::{DynObjectSource, S3Location};
use crate::store::{DatasetStore, PurgeCounts, StoreError, StoreResult, UserIds};

/// The service's limit on a deletion job's total input.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 100 * 1024 * 1024;

/// Objects fetched and parsed at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How a job runs.
#[derive(Debug, Clone)]
pub struct DeletionOptions {
    /// The limit on the total size of the input objects.
    pub max_input_bytes: u64,
    /// Objects read at once.
    pub concurrency: usize,
    /// How long reading the input may take before the job ends `FAILED` (`None`: no limit).
    pub deadline: Option<Duration>,
}

/// [`DeletionOptions::deadline`] by default: an hour.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);

impl Default for DeletionOptions {
    fn default() -> Self {
        DeletionOptions {
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            concurrency: DEFAULT_CONCURRENCY,
            deadline: Some(DEFAULT_DEADLINE),
        }
    }
}

/// Live counters of a running job, for progress bars and logs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects to read.
    pub objects_total: AtomicU64,
    /// Objects read.
    pub objects_done: AtomicU64,
    /// Bytes to read.
    pub bytes_total: AtomicU64,
    /// Bytes read.
    pub bytes_read: AtomicU64,
    /// ID records parsed, duplicates included.
    pub id_lines: AtomicU64,
    /// Distinct IDs so far.
    pub distinct_ids: AtomicU64,
}

/// What the inputs held.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InputStats {
    /// A folder's objects left unread: not `.csv` files (reported on their own, as
    /// `skippedObjects`).
    #[serde(skip)]
    pub skipped_objects: list::Skipped,
    /// Objects read.
    pub objects: u64,
    /// Bytes read.
    pub bytes: u64,
    /// ID records, duplicates included.
    pub id_lines: u64,
    /// Distinct IDs.
    pub distinct_ids: u64,
}

/// Wall time per phase, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PhaseTimes {
    /// Listing the input.
    pub list: f64,
    /// Fetching, parsing and deduplicating every object.
    pub read: f64,
    /// The purge transaction, its commit excepted.
    pub purge: f64,
    /// Making the purge durable: the commit of its transaction.
    pub commit: f64,
    /// The whole job.
    pub total: f64,
}

/// A finished job with what it found and did.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// The job record as stored.
    pub job: Job,
    /// Records deleted per dataset (`COMPLETED` jobs only).
    pub counts: Option<PurgeCounts>,
    /// What the inputs held (as far as they were read).
    pub input: InputStats,
    /// Where the time went.
    pub phases: PhaseTimes,
}

pub use crate::jobs::model::DRY_RUN_TAG;

/// [`collect_user_ids`] within the job's deadline ([`DeletionOptions::deadline`]).
pub async fn read_input(
    source: DynObjectSource,
    location: &S3Location,
    opts: &DeletionOptions,
    progress: Arc<Progress>,
    phases: &mut PhaseTimes,
) -> Result<(UserIds, InputStats), JobFailure> {
    let reading = collect_user_ids(source, location, opts, progress, phases);
    match opts.deadline {
        None => reading.await,
        Some(limit) => {
            tokio::time::timeout(limit, reading)
                .await
                .map_err(|_| JobFailure::Deadline {
                    location: location.clone(),
                    limit,
                })?
        }
    }
}

/// Reads every input under `location` and returns the distinct user IDs.
#[instrument(skip(source, opts, progress, phases), fields(location = %location))]
pub async fn collect_user_ids(
    source: DynObjectSource,
    location: &S3Location,
    opts: &DeletionOptions,
    progress: Arc<Progress>,
    phases: &mut PhaseTimes,
) -> Result<(UserIds, InputStats), JobFailure> {
    let started = Instant::now();
    let listing = list::list_inputs(source.as_ref(), location, opts.max_input_bytes).await?;
    let inputs = listing.inputs;
    phases.list = started.elapsed().as_secs_f64();
    progress
        .objects_total
        .store(inputs.len() as u64, Ordering::Relaxed);
    let listed: u64 = inputs.iter().filter_map(|i| i.listed_size).sum();
    progress.bytes_total.fetch_add(listed, Ordering::Relaxed);
    info!(objects = inputs.len(), bytes = listed, "listed the input");

    let started = Instant::now();
    let mut stats = InputStats {
        skipped_objects: listing.skipped,
        ..InputStats::default()
    };
    let ids = Arc::new(IdSetBuilder::new());
    // Dropping the JoinSet on an early return aborts the readers still running.
    let mut readers = JoinSet::new();
    let mut waiting = inputs.into_iter();
    let spawn_next = |readers: &mut JoinSet<_>, waiting: &mut std::vec::IntoIter<ListedObject>| {
        if let Some(input) = waiting.next() {
            readers.spawn(parse::read_object(
                source.clone(),
                input,
                opts.max_input_bytes,
                ids.clone(),
                progress.clone(),
            ));
        }
    };
    for _ in 0..opts.concurrency.max(1) {
        spawn_next(&mut readers, &mut waiting);
    }
    while let Some(joined) = readers.join_next().await {
        let object =
            joined.map_err(|e| JobFailure::Internal(format!("a reader task failed: {e}")))??;
        stats.objects += 1;
        stats.bytes += object.bytes;
        stats.id_lines += object.ids;
        spawn_next(&mut readers, &mut waiting);
    }
    let ids = Arc::into_inner(ids)
        .ok_or_else(|| JobFailure::Internal("a reader task outlived the read".into()))?
        .into_sorted()
        .map_err(|e| JobFailure::Internal(e.to_string()))?;
    stats.distinct_ids = ids.len() as u64;
    progress
        .distinct_ids
        .store(stats.distinct_ids, Ordering::Relaxed);
    phases.read = started.elapsed().as_secs_f64();
    info!(
        objects = stats.objects,
        bytes = stats.bytes,
        ids = stats.id_lines,
        distinct = stats.distinct_ids,
        "read the input"
    );
    Ok((ids, stats))
}

/// Claims a job that was recorded as `PENDING`, under a lease of `lease_for`, and runs it to
/// its end (the command line's way: it runs the job it just created), and returns its
/// report. An `Err` means the store could not record the job's status, or the job was not
/// claimable (another worker took it first).
pub async fn run_job(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: Job,
    lease_for: std::time::Duration,
    opts: &DeletionOptions,
    progress: Arc<Progress>,
) -> StoreResult<JobReport> {
    let Some((job, lease)) = claim_one(store, &job.arn, lease_for).await? else {
        return Err(StoreError::InUse(format!(
            "the data deletion job {} was taken by another worker",
            job.arn
        )));
    };
    run_claimed(store, source, job, lease, lease_for, opts, progress).await
}

/// Runs a claimed data deletion job to its end and returns its report.
///
/// The job's own failures (bad input, S3 errors, a missing dataset group) end it `FAILED`
/// with a `failureReason`, having deleted nothing. An `Err` means the store could not even
/// record the job's status, or the lease was lost.
#[instrument(skip_all, fields(job = %job.name))]
pub async fn run_claimed(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: Job,
    lease: Lease,
    lease_for: std::time::Duration,
    opts: &DeletionOptions,
    progress: Arc<Progress>,
) -> StoreResult<JobReport> {
    let started = Instant::now();
    let (group_arn, data_location, dry_run) = match &job.spec {
        JobSpec::Deletion {
            dataset_group_arn,
            data_location,
            dry_run,
        } => (dataset_group_arn.clone(), data_location.clone(), *dry_run),
        _ => {
            return Err(StoreError::Invalid(format!(
                "{} is not a data deletion job",
                job.arn
            )))
        }
    };
    let body = |commit: crate::store::JobCommit| async move {
        let mut phases = PhaseTimes::default();
        let mut input = InputStats::default();
        let outcome = async {
            if store.dataset_group(&group_arn).await?.is_none() {
                return Err(JobFailure::NoSuchDatasetGroup(group_arn.clone()));
            }
            let location = S3Location::parse(&data_location)
                .map_err(|e| JobFailure::BadLocation(e.to_string()))?;
            if dry_run {
                let p = preview::preview(store, source, &group_arn, &location, opts, progress, 0)
                    .await?;
                input = p.input;
                phases = p.phases;
                let done = commit.job.succeeded(Some(p.matched.records()));
                store.finish(&done, &commit.lease).await?;
                info!(
                    would_delete = p.matched.records(),
                    unknown_ids = p.matched.unknown,
                    "dry run: nothing deleted"
                );
                return Ok((PurgeCounts::default(), done));
            }
            let (ids, stats) = read_input(source, &location, opts, progress, &mut phases).await?;
            input = stats;
            let purge_started = Instant::now();
            let (counts, done) = purge::purge(store, &group_arn, ids, commit).await?;
            phases.commit = counts.commit.as_secs_f64();
            phases.purge = purge_started.elapsed().as_secs_f64() - phases.commit;
            Ok((counts, done))
        }
        .await;
        phases.total = started.elapsed().as_secs_f64();
        match outcome {
            Ok((counts, done)) => {
                info!(
                    num_deleted = counts.total(),
                    list = phases.list,
                    read = phases.read,
                    purge = phases.purge,
                    commit = phases.commit,
                    seconds = phases.total,
                    "job completed"
                );
                (Ok(done), (Some(counts), input, phases))
            }
            Err(JobFailure::Store(e)) => (Err(JobError::Store(e)), (None, input, phases)),
            Err(failure) => (
                Err(JobError::Failed(failure.to_string())),
                (None, input, phases),
            ),
        }
    };
    let (job, (counts, input, phases)) = run_to_end(store, job, lease, lease_for, body).await?;
    Ok(JobReport {
        job,
        counts,
        input,
        phases,
    })
}
