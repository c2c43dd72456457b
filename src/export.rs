//! Dataset export jobs: a dataset's records written as one CSV object under an `s3://`
//! path, streamed from the store through a multipart upload, so memory stays bounded
//! whatever the dataset's size.
//!
//! The object is `{path}{jobName}.csv` (a `/` is put between a path and the name when the
//! path does not end with one); its header is the dataset's columns, its rows the records in
//! load order, quoted only where CSV needs it.

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::import_job::CreateStatus;
use crate::job::{now_epoch, ArnScope};
use crate::source::{DynObjectSource, S3Location, SourceError, MIN_PART_BYTES};
use crate::store::{dataset_by_arn, DatasetStore, RowBatch, StoreResult};

/// Rows read from the store at a time.
const SCAN_ROWS: usize = 16 * 1024;

/// Bytes per uploaded part (S3 takes at least 5 MiB for every part but the last).
const PART_BYTES: usize = 2 * MIN_PART_BYTES;

/// `S3DataConfig`: where an export goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3DataConfig {
    /// `s3://bucket/prefix/`.
    pub path: String,
    /// Stored as given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kms_key_arn: Option<String>,
}

/// `DatasetExportJobOutput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOutput {
    /// The destination.
    pub s3_data_destination: S3DataConfig,
}

/// A dataset export job, shaped like the service's `DatasetExportJob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetExportJob {
    /// The job's name, unique per account and region.
    pub job_name: String,
    /// `arn:aws:personalize:{region}:{account}:dataset-export-job/{jobName}`.
    pub dataset_export_job_arn: String,
    /// The dataset exported.
    pub dataset_arn: String,
    /// `BULK`, `PUT` or `ALL`: which records, by how they arrived.
    pub ingestion_mode: String,
    /// The IAM role the service would assume to write the output (stored, not used locally).
    pub role_arn: String,
    /// The job's status.
    pub status: CreateStatus,
    /// Where the CSV goes.
    pub job_output: JobOutput,
    /// Why a `CREATE FAILED` job failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure_reason: Option<String>,
    /// Epoch seconds.
    pub creation_date_time: f64,
    /// Epoch seconds of the last status change.
    pub last_updated_date_time: f64,
}

impl DatasetExportJob {
    /// A new `CREATE PENDING` job.
    pub fn new(
        scope: &ArnScope,
        job_name: &str,
        dataset_arn: &str,
        role_arn: &str,
        output: JobOutput,
    ) -> Self {
        let now = now_epoch();
        DatasetExportJob {
            job_name: job_name.to_owned(),
            dataset_export_job_arn: format!(
                "arn:aws:personalize:{}:{}:dataset-export-job/{job_name}",
                scope.region, scope.account
            ),
            dataset_arn: dataset_arn.to_owned(),
            ingestion_mode: "BULK".to_owned(),
            role_arn: role_arn.to_owned(),
            status: CreateStatus::Pending,
            job_output: output,
            failure_reason: None,
            creation_date_time: now,
            last_updated_date_time: now,
        }
    }

    /// Moves to `status`, stamping the update time (never backwards).
    pub fn set_status(&mut self, status: CreateStatus) {
        self.status = status;
        self.last_updated_date_time = now_epoch().max(self.last_updated_date_time);
    }

    /// The object the job writes.
    pub fn output_location(&self) -> Result<S3Location, String> {
        let path = &self.job_output.s3_data_destination.path;
        let sep = if path.ends_with('/') { "" } else { "/" };
        S3Location::parse(&format!("{path}{sep}{}.csv", self.job_name)).map_err(|e| e.to_string())
    }
}

/// Runs a `CREATE PENDING` job to its end: `CREATE IN_PROGRESS`, then `ACTIVE` with the
/// object written, or `CREATE FAILED` with the reason (and no object). The error is the
/// store's, when it cannot record the job's status.
pub async fn run(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    mut job: DatasetExportJob,
) -> StoreResult<DatasetExportJob> {
    job.set_status(CreateStatus::InProgress);
    job.failure_reason = None;
    store.update_export_job(&job).await?;
    match export(store, source, &job).await {
        Ok(bytes) => {
            tracing::info!(job = %job.job_name, bytes, "dataset export job ACTIVE");
            job.set_status(CreateStatus::Active);
        }
        Err(reason) => {
            tracing::info!(job = %job.job_name, %reason, "dataset export job CREATE FAILED");
            job.set_status(CreateStatus::Failed);
            job.failure_reason = Some(reason);
        }
    }
    store.update_export_job(&job).await?;
    Ok(job)
}

async fn export(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: &DatasetExportJob,
) -> Result<u64, String> {
    let dataset = dataset_by_arn(store, &job.dataset_arn)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the dataset {} no longer exists", job.dataset_arn))?;
    let target = job.output_location()?;
    // Every record in the store arrived in bulk (imports); PUT has none to export.
    let batches = if job.ingestion_mode == "PUT" {
        stream::empty().boxed()
    } else {
        store.scan_records(&dataset.dataset_group_arn, dataset.dataset_type, SCAN_ROWS)
    };
    let mut encoder = CsvEncoder::default();
    encoder.row(dataset.columns.iter().map(String::as_str));
    let parts = stream::unfold(
        (batches, encoder, false),
        |(mut batches, mut encoder, done)| async move {
            if done {
                return None;
            }
            loop {
                match batches.next().await {
                    Some(Ok(batch)) => {
                        encoder.batch(&batch);
                        if encoder.buf.len() >= PART_BYTES {
                            let part = encoder.take();
                            return Some((Ok(part), (batches, encoder, false)));
                        }
                    }
                    Some(Err(e)) => {
                        let err = SourceError::new("StoreError", e.to_string());
                        return Some((Err(err), (batches, encoder, true)));
                    }
                    None => {
                        let part = encoder.take();
                        return Some((Ok(part), (batches, encoder, true)));
                    }
                }
            }
        },
    )
    .boxed();
    source
        .put_multipart(&target.bucket, &target.key, parts)
        .await
        .map_err(|e| match e.code.as_str() {
            "StoreError" => format!("reading the dataset failed: {}", e.message),
            _ => format!("writing {target} failed: {e}"),
        })
}

/// CSV output: fields quoted only when they hold a comma, a quote or a line break.
#[derive(Debug, Default)]
struct CsvEncoder {
    buf: BytesMut,
}

impl CsvEncoder {
    fn row<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) {
        for (i, f) in fields.into_iter().enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(b",");
            }
            if f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
                self.buf.extend_from_slice(b"\"");
                self.buf
                    .extend_from_slice(f.replace('"', "\"\"").as_bytes());
                self.buf.extend_from_slice(b"\"");
            } else {
                self.buf.extend_from_slice(f.as_bytes());
            }
        }
        self.buf.extend_from_slice(b"\n");
    }

    fn batch(&mut self, batch: &RowBatch) {
        for i in 0..batch.rows() {
            self.row(batch.row(i));
        }
    }

    fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut e = CsvEncoder::default();
        e.row(["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(
            &e.take()[..],
            b"plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n"
        );
    }

    #[test]
    fn the_object_is_named_after_the_job() {
        let output = |path: &str| JobOutput {
            s3_data_destination: S3DataConfig {
                path: path.to_owned(),
                kms_key_arn: None,
            },
        };
        let scope = ArnScope::default();
        let arn = "arn:aws:personalize:us-east-1:000000000000:dataset/g/USERS";
        for path in ["s3://b/exports/", "s3://b/exports"] {
            let job = DatasetExportJob::new(&scope, "nightly", arn, "r", output(path));
            assert_eq!(
                job.output_location().unwrap().to_string(),
                "s3://b/exports/nightly.csv"
            );
        }
    }
}
