//! Bulk-loading a dataset from CSV objects in S3, through the same listing and streaming
//! code as the deletion job.
//!
//! The header row names the columns, which are matched to the dataset's by name, in any
//! order ([`columns`]): its schema's fields, or its columns, or for a new dataset the first
//! file's named columns. With a schema, every value is checked against its field's Avro
//! type. A `FULL` load replaces the dataset's records, an `INCREMENTAL` one adds to them;
//! either in one transaction: an error anywhere leaves the dataset as it was. An import job
//! ([`job`]) commits its load with its `ACTIVE` status.

pub mod attribution;
pub mod columns;
pub mod job;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use self::columns::{map_header, Column, HeaderMap};
use crate::csv::{Record, RecordError, RecordReader};
use crate::deletion::report::{ContentProblem, JobFailure, MAX_ID_CHARS};
use crate::jobs::now_epoch;
pub use crate::jobs::ImportMode;
use crate::source::list::{list_inputs, ListedObject};
use crate::source::{open_resumable, DynObjectSource, S3Location, SourceError};
use crate::store::schema::{is_metadata, Fields};
use crate::store::{
    dataset_arn, validate_columns, Dataset, DatasetAttrs, DatasetStore, DatasetType, JobCommit,
    LoadMode, RowBatch, StoreError,
};

/// The longest record an import accepts, in bytes.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Rows per batch handed to the store.
const BATCH_ROWS: usize = 16 * 1024;

/// How an import checks and stores its rows.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The dataset's schema: when given, every value is checked against its field.
    pub fields: Option<Fields>,
    /// `FULL` or `INCREMENTAL`.
    pub mode: ImportMode,
}

impl ImportOptions {
    /// The options for loading into a group's dataset of `dataset_type`: its schema's fields
    /// when it exists and was made from a schema (through the API), else none.
    pub async fn for_dataset(
        store: &dyn DatasetStore,
        group_arn: &str,
        dataset_type: DatasetType,
        mode: ImportMode,
    ) -> Result<ImportOptions, ImportError> {
        let dataset = store
            .datasets(group_arn)
            .await?
            .into_iter()
            .find(|d| d.dataset_type == dataset_type);
        ImportOptions::with_schema_of(store, dataset.as_ref(), mode).await
    }

    /// The options for loading into `dataset` (none yet: it is made from the header): its
    /// schema's fields when it was made from a schema, else none.
    pub async fn with_schema_of(
        store: &dyn DatasetStore,
        dataset: Option<&Dataset>,
        mode: ImportMode,
    ) -> Result<ImportOptions, ImportError> {
        let fields = match dataset.and_then(|d| d.attrs.schema_arn.as_deref()) {
            Some(arn) => {
                let schema = store
                    .schema(arn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(arn.to_owned()))?;
                Some(Fields::parse(&schema.schema).map_err(StoreError::Invalid)?)
            }
            None => None,
        };
        Ok(ImportOptions { fields, mode })
    }
}

/// What an import loaded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// The group's ARN.
    pub dataset_group_arn: String,
    /// The dataset's ARN.
    pub dataset_arn: String,
    /// The dataset's type.
    pub dataset_type: DatasetType,
    /// Its columns.
    pub columns: Vec<String>,
    /// Objects read.
    pub objects: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Records the dataset now holds.
    pub records: u64,
    /// The folder's objects left unread: not `.csv` files.
    pub skipped_objects: crate::source::list::Skipped,
}

/// Why an import failed; its `Display` names the object and line where that applies.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is unreadable or malformed.
    #[error(transparent)]
    Input(#[from] JobFailure),
    /// The header does not fit the dataset.
    #[error("{object}: {message}")]
    Header {
        /// The object whose header is wrong.
        object: S3Location,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads every object under `location` into the group's dataset of `dataset_type`, creating
/// the dataset from the first header if the group has none of that type yet.
pub async fn import_dataset(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    group_arn: &str,
    dataset_type: DatasetType,
    location: &S3Location,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import_with_commit(
        store,
        source,
        group_arn,
        dataset_type,
        location,
        options,
        None,
    )
    .await
}

/// [`import_dataset`], with a job's end (when there is a job) committed with the load: the
/// records and the job's `ACTIVE` are durable together or not at all.
pub async fn import_with_commit(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    group_arn: &str,
    dataset_type: DatasetType,
    location: &S3Location,
    options: &ImportOptions,
    commit: Option<JobCommit>,
) -> Result<ImportReport, ImportError> {
    let listing = list_inputs(source.as_ref(), location, u64::MAX)
        .await
        .map_err(JobFailure::from)?;
    let (inputs, skipped) = (listing.inputs, listing.skipped);
    let existing = store
        .datasets(group_arn)
        .await?
        .into_iter()
        .find(|d| d.dataset_type == dataset_type);

    // The columns every file's header is matched to, by name: the schema's fields, else
    // the dataset's columns, else (a new dataset) the first file's named columns.
    let target: Option<Vec<Column>> = match (&options.fields, &existing) {
        (Some(fields), _) => Some(
            fields
                .0
                .iter()
                .map(|f| Column {
                    name: f.name.clone(),
                    required: !f.nullable,
                })
                .collect(),
        ),
        (None, Some(d)) => Some(d.columns.iter().map(Column::required).collect()),
        (None, None) => None,
    };
    let (header_tx, header_rx) = oneshot::channel();
    let (batch_tx, batch_rx) = mpsc::channel::<Result<RowBatch, StoreError>>(4);
    let producer = tokio::spawn(produce(
        source,
        inputs,
        dataset_type,
        options.fields.clone(),
        target,
        header_tx,
        batch_tx,
    ));

    let Ok((first_object, columns)) = header_rx.await else {
        // The producer stopped before any header: its error says why.
        return Err(producer_result(producer.await)
            .err()
            .unwrap_or_else(|| ImportError::Input(JobFailure::NoInput(location.clone()))));
    };
    let header_error = |message: String| ImportError::Header {
        object: first_object.clone(),
        message,
    };
    match &existing {
        Some(d) if d.columns != columns => {
            producer.abort();
            return Err(header_error(header_mismatch(
                &columns,
                dataset_type,
                &d.columns,
            )));
        }
        Some(_) => {}
        None => {
            if let Err(why) = validate_columns(dataset_type, &columns) {
                producer.abort();
                return Err(header_error(why));
            }
            store
                .create_dataset(
                    &Dataset {
                        dataset_group_arn: group_arn.to_owned(),
                        dataset_type,
                        columns: columns.clone(),
                        attrs: DatasetAttrs {
                            name: dataset_type.as_str().to_owned(),
                            schema_arn: None,
                            creation_date_time: now_epoch(),
                            tracking_id: DatasetAttrs::new_tracking_id(dataset_type),
                            latest_update: None,
                        },
                    },
                    &[],
                )
                .await?;
        }
    }

    let batches = stream::unfold(batch_rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    })
    .boxed();
    let mode = match options.mode {
        ImportMode::Full => LoadMode::Replace,
        ImportMode::Incremental => LoadMode::Append,
    };
    let loaded = store
        .load_records(group_arn, dataset_type, mode, batches, commit)
        .await;
    // The producer's own error is the precise one; the store only saw "input failed".
    let (objects, bytes) = producer_result(producer.await)?;
    let records = loaded?;
    Ok(ImportReport {
        dataset_group_arn: group_arn.to_owned(),
        dataset_arn: dataset_arn(group_arn, dataset_type),
        dataset_type,
        columns,
        objects,
        bytes,
        records,
        skipped_objects: skipped,
    })
}

fn header_mismatch(header: &[String], dataset_type: DatasetType, columns: &[String]) -> String {
    format!(
        "the header {} does not match the columns of the {dataset_type} dataset: {}",
        header.join(","),
        columns.join(",")
    )
}

type ProducerResult = Result<(u64, u64), ImportError>;

fn producer_result(joined: Result<ProducerResult, tokio::task::JoinError>) -> ProducerResult {
    joined.map_err(|e| {
        ImportError::Input(JobFailure::Internal(format!("the reader task failed: {e}")))
    })?
}

/// Streams every input, checks its records and sends them on in batches.
async fn produce(
    source: DynObjectSource,
    inputs: Vec<ListedObject>,
    dataset_type: DatasetType,
    fields: Option<Fields>,
    target: Option<Vec<Column>>,
    header_tx: oneshot::Sender<(S3Location, Vec<String>)>,
    batch_tx: mpsc::Sender<Result<RowBatch, StoreError>>,
) -> ProducerResult {
    let mut header_tx = Some(header_tx);
    let mut columns = target;
    let (mut objects, mut bytes) = (0u64, 0u64);
    for input in inputs {
        let result = load_object(
            &source,
            &input.object,
            dataset_type,
            fields.as_ref(),
            &mut columns,
            &mut header_tx,
            &batch_tx,
        )
        .await;
        match result {
            Ok(n) => {
                objects += 1;
                bytes += n;
            }
            Err(e) => {
                // Tell the store to roll back, then report the precise error.
                let _ = batch_tx.send(Err(StoreError::Invalid(e.to_string()))).await;
                return Err(e);
            }
        }
    }
    Ok((objects, bytes))
}

struct RowCollector<'a> {
    object: &'a S3Location,
    dataset_type: DatasetType,
    fields: Option<&'a Fields>,
    /// The dataset's columns; `None` until the first file's header gives them.
    columns: &'a mut Option<Vec<Column>>,
    header_seen: bool,
    /// Where the dataset's columns are in this file.
    map: HeaderMap,
    /// The key column's place among the dataset's columns.
    key: usize,
    batch: RowBatch,
    new_header: Option<Vec<String>>,
    /// Metadata values that did not fit their field, stored as null; the first of them.
    nulled: u64,
    first_nulled: String,
}

impl RowCollector<'_> {
    fn on_record(&mut self, r: Record<'_>) -> Result<(), ImportError> {
        let content = |line, problem| {
            ImportError::Input(JobFailure::Content {
                object: self.object.clone(),
                line,
                problem,
            })
        };
        let mut fields = Vec::with_capacity(r.len());
        for f in r.iter() {
            fields.push(
                std::str::from_utf8(f).map_err(|_| content(r.line, ContentProblem::InvalidUtf8))?,
            );
        }
        if !self.header_seen {
            self.header_seen = true;
            let header: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
            // A new dataset's columns are the first file's named ones.
            let columns = self.columns.get_or_insert_with(|| {
                let named = columns::named(&header);
                named.into_iter().map(Column::required).collect()
            });
            self.map = map_header(&header, columns).map_err(|message| ImportError::Header {
                object: self.object.clone(),
                message: format!("the header {} {message}", header.join(",")),
            })?;
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            self.key = names
                .iter()
                .position(|c| c == self.dataset_type.key_column())
                .unwrap_or(0);
            self.batch = RowBatch::new(names.len());
            // Announced at the next flush (the first file's only), so that the dataset can
            // be created before any row is stored.
            self.new_header = Some(names);
            return Ok(());
        }
        if fields.len() != self.map.width {
            let problem = ContentProblem::FieldCount {
                expected: self.map.width,
                found: fields.len(),
            };
            return Err(content(r.line, problem));
        }
        let mut fields: Vec<&str> = self.map.row(&fields).collect();
        if let Some(schema) = self.fields {
            for (field, value) in schema.0.iter().zip(fields.iter_mut()) {
                if is_metadata(self.dataset_type, &field.name) {
                    // An empty metadata value is null, as the service takes "metadata with
                    // blank values" whatever the field's nullability; one that does not fit
                    // its field is stored as null too, as the service imports them without
                    // a word (AWS's MLOps sample: a YEAR of "2006–2007" under int).
                    if value.is_empty() {
                        continue;
                    }
                    if let Err(message) = field.check_value(value) {
                        if self.nulled == 0 {
                            self.first_nulled =
                                format!("line {}: column {}: {message}", r.line, field.name);
                        }
                        self.nulled += 1;
                        *value = "";
                    }
                    continue;
                }
                if let Err(message) = field.check_value(value) {
                    let column = field.name.clone();
                    return Err(content(
                        r.line,
                        ContentProblem::BadValue { column, message },
                    ));
                }
            }
            self.batch.push_row(fields);
            return Ok(());
        }
        let id = fields[self.key];
        let chars = id.chars().count();
        if id.is_empty() {
            return Err(content(r.line, ContentProblem::EmptyId));
        }
        if chars > MAX_ID_CHARS {
            return Err(content(r.line, ContentProblem::IdTooLong { chars }));
        }
        self.batch.push_row(fields);
        Ok(())
    }
}

async fn load_object(
    source: &DynObjectSource,
    object: &S3Location,
    dataset_type: DatasetType,
    fields: Option<&Fields>,
    columns: &mut Option<Vec<Column>>,
    header_tx: &mut Option<oneshot::Sender<(S3Location, Vec<String>)>>,
    batch_tx: &mpsc::Sender<Result<RowBatch, StoreError>>,
) -> Result<u64, ImportError> {
    let read_failed = |error: SourceError| {
        ImportError::Input(JobFailure::Source {
            action: "reading",
            location: object.clone(),
            error,
        })
    };
    let (_, mut body) = open_resumable(source.clone(), &object.bucket, &object.key)
        .await
        .map_err(read_failed)?;
    let mut reader = RecordReader::new(MAX_RECORD_BYTES);
    let mut c = RowCollector {
        object,
        dataset_type,
        fields,
        columns,
        header_seen: false,
        map: HeaderMap {
            sources: Vec::new(),
            width: 0,
        },
        key: 0,
        batch: RowBatch::new(1),
        new_header: None,
        nulled: 0,
        first_nulled: String::new(),
    };
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(read_failed)?;
        bytes += chunk.len() as u64;
        reader
            .feed(&chunk, |r| c.on_record(r).map_err(RowError::Row))
            .map_err(|e| e.into_import(object))?;
        flush(&mut c, header_tx, batch_tx, BATCH_ROWS).await?;
    }
    reader
        .finish(|r| c.on_record(r).map_err(RowError::Row))
        .map_err(|e| e.into_import(object))?;
    if !c.header_seen {
        return Err(ImportError::Input(JobFailure::Content {
            object: object.clone(),
            line: 1,
            problem: ContentProblem::NoHeader,
        }));
    }
    flush(&mut c, header_tx, batch_tx, 1).await?;
    if c.nulled > 0 {
        tracing::warn!(
            object = %object,
            values = c.nulled,
            first = %c.first_nulled,
            "metadata values that do not fit their fields were imported as null"
        );
    }
    Ok(bytes)
}

/// An error inside the record callback: from the CSV reader itself, or from the row checks.
enum RowError {
    Record(RecordError),
    Row(ImportError),
}

impl From<RecordError> for RowError {
    fn from(e: RecordError) -> Self {
        RowError::Record(e)
    }
}

impl RowError {
    fn into_import(self, object: &S3Location) -> ImportError {
        match self {
            RowError::Row(e) => e,
            RowError::Record(e) => {
                let (line, problem) = match e {
                    RecordError::UnterminatedQuote { line } => {
                        (line, ContentProblem::UnterminatedQuote)
                    }
                    RecordError::TooLong { line, limit, .. } => {
                        (line, ContentProblem::RecordTooLong { limit })
                    }
                };
                ImportError::Input(JobFailure::Content {
                    object: object.clone(),
                    line,
                    problem,
                })
            }
        }
    }
}

async fn flush(
    c: &mut RowCollector<'_>,
    header_tx: &mut Option<oneshot::Sender<(S3Location, Vec<String>)>>,
    batch_tx: &mpsc::Sender<Result<RowBatch, StoreError>>,
    min_rows: usize,
) -> Result<(), ImportError> {
    if let Some(header) = c.new_header.take() {
        if let Some(tx) = header_tx.take() {
            let _ = tx.send((c.object.clone(), header));
        }
    }
    if c.batch.rows() >= min_rows && c.batch.rows() > 0 {
        let width = c.batch.width();
        let batch = std::mem::replace(&mut c.batch, RowBatch::new(width));
        if batch_tx.send(Ok(batch)).await.is_err() {
            return Err(ImportError::Store(StoreError::Invalid(
                "the store stopped the load".into(),
            )));
        }
    }
    Ok(())
}
