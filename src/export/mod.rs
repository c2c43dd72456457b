//! Dataset export jobs: a dataset's records written as one CSV object under an `s3://`
//! path, streamed from the store through a multipart upload, so memory stays bounded
//! whatever the dataset's size.
//!
//! The object is `{path}{jobName}.csv` (a `/` is put between a path and the name when the
//! path does not end with one); its header is the dataset's columns, its rows the records in
//! load order, quoted only where CSV needs it.

use futures::stream::{self, StreamExt};

use crate::csv::CsvWriter;
use crate::jobs::run::{run_then_succeed, JobError};
use crate::jobs::{Job, JobSpec, Lease};
use crate::source::{DynObjectSource, S3Location, SourceError, MIN_PART_BYTES};
use crate::store::{dataset_by_arn, DatasetStore, Ingestion, StoreError, StoreResult};

/// Rows read from the store at a time.
const SCAN_ROWS: usize = 16 * 1024;

/// Bytes per uploaded part (S3 takes at least 5 MiB for every part but the last).
const PART_BYTES: usize = 2 * MIN_PART_BYTES;

/// The object an export job writes under `path`.
pub fn output_location(path: &str, job_name: &str) -> Result<S3Location, String> {
    let sep = if path.ends_with('/') { "" } else { "/" };
    S3Location::parse(&format!("{path}{sep}{job_name}.csv")).map_err(|e| e.to_string())
}

/// Runs a claimed export job to its end: `ACTIVE` with the object written, or `CREATE
/// FAILED` with the reason (and no object). The error is the store's, when it cannot record
/// the job's end.
pub async fn run(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: Job,
    lease: Lease,
    lease_for: std::time::Duration,
) -> StoreResult<Job> {
    let work = |job: Job| async move {
        let bytes = export(store, source, &job).await?;
        tracing::info!(job = %job.name, bytes, "dataset export job ACTIVE");
        Ok(())
    };
    run_then_succeed(store, job, lease, lease_for, work).await
}

async fn export(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: &Job,
) -> Result<u64, JobError> {
    let JobSpec::Export {
        dataset_arn,
        ingestion_mode,
        path,
        ..
    } = &job.spec
    else {
        return Err(JobError::Store(StoreError::Invalid(format!(
            "{} is not a dataset export job",
            job.arn
        ))));
    };
    let dataset = dataset_by_arn(store, dataset_arn)
        .await?
        .ok_or_else(|| JobError::Failed(format!("the dataset {dataset_arn} no longer exists")))?;
    let target = output_location(path, &job.name).map_err(JobError::Failed)?;
    let which: Ingestion = ingestion_mode.parse().map_err(JobError::Failed)?;
    let batches = store.scan_records(
        &dataset.dataset_group_arn,
        dataset.dataset_type,
        SCAN_ROWS,
        which,
    );
    let encode_error = |e: csv::Error| SourceError::new("EncodeError", e.to_string());
    let mut writer = CsvWriter::default();
    writer
        .row(dataset.columns.iter().map(String::as_str))
        .map_err(|e| JobError::Failed(format!("writing the header failed: {e}")))?;
    let parts = stream::unfold(
        (batches, writer, false),
        move |(mut batches, mut writer, done)| async move {
            if done {
                return None;
            }
            loop {
                match batches.next().await {
                    Some(Ok(batch)) => {
                        let written = (0..batch.rows()).try_for_each(|i| writer.row(batch.row(i)));
                        if let Err(e) = written {
                            return Some((Err(encode_error(e)), (batches, writer, true)));
                        }
                        if writer.buffered() >= PART_BYTES {
                            let part = writer.take().map_err(encode_error);
                            return Some((part, (batches, writer, false)));
                        }
                    }
                    Some(Err(e)) => {
                        let err = SourceError::new("StoreError", e.to_string());
                        return Some((Err(err), (batches, writer, true)));
                    }
                    None => {
                        let part = writer.take().map_err(encode_error);
                        return Some((part, (batches, writer, true)));
                    }
                }
            }
        },
    )
    .boxed();
    let written = source
        .put_multipart(&target.bucket, &target.key, parts)
        .await
        .map_err(|e| {
            JobError::Failed(match e.code.as_str() {
                "StoreError" => format!("reading the dataset failed: {}", e.message),
                _ => format!("writing {target} failed: {e}"),
            })
        })?;
    // The object is written, the job not yet ACTIVE: a crash here runs the job again, which
    // writes the same object again.
    crate::store::failpoint("export-after-upload");
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_is_named_after_the_job() {
        for path in ["s3://b/exports/", "s3://b/exports"] {
            assert_eq!(
                output_location(path, "nightly").unwrap().to_string(),
                "s3://b/exports/nightly.csv"
            );
        }
    }
}
