//! Dry runs and proof of deletion: stages 1 to 3 of a deletion job (listing, parsing,
//! dedupe) exactly as a job runs them, then a read of what the group holds of the users
//! ([`crate::store::matching`]). Nothing is written.

use std::sync::Arc;

use super::report::JobFailure;
use super::{read_input, DeletionOptions, InputStats, PhaseTimes, Progress};
use crate::source::{DynObjectSource, S3Location};
use crate::store::ids::UserIds;
use crate::store::matching::{match_users, UserMatch};
use crate::store::DatasetStore;

/// What an input names and the store holds of it.
#[derive(Debug, Clone)]
pub struct Preview {
    /// What the input held.
    pub input: InputStats,
    /// What the group holds of its users.
    pub matched: UserMatch,
    /// Where the time went (`list` and `read`; `purge` is the store's read).
    pub phases: PhaseTimes,
    /// The distinct user IDs the input lists.
    pub ids: UserIds,
}

/// Reads the input under `location` as a job would, then what `group_arn` holds of its
/// users, keeping at most `keep` IDs of each list.
pub async fn preview(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    group_arn: &str,
    location: &S3Location,
    opts: &DeletionOptions,
    progress: Arc<Progress>,
    keep: usize,
) -> Result<Preview, JobFailure> {
    if store.dataset_group(group_arn).await?.is_none() {
        return Err(JobFailure::NoSuchDatasetGroup(group_arn.to_owned()));
    }
    let started = std::time::Instant::now();
    let mut phases = PhaseTimes::default();
    let (ids, input) = read_input(source, location, opts, progress, &mut phases).await?;
    let read_at = std::time::Instant::now();
    let matched = match_users(store, group_arn, &ids, keep).await?;
    phases.purge = read_at.elapsed().as_secs_f64();
    phases.total = started.elapsed().as_secs_f64();
    Ok(Preview {
        input,
        matched,
        phases,
        ids,
    })
}
