//! Metric attribution reports: after a dataset import job of interactions that asked for
//! them (`publishAttributionMetricsToS3`), when the dataset group has a metric attribution
//! with an S3 path, one CSV report of the imported records is written there:
//! `AggregatedAttributionMetrics-BULK-<job creation time>-<job name>.csv`, with the columns
//! `METRIC_NAME, EVENT_TYPE, VALUE, MATH_FUNCTION, EVENT_ATTRIBUTION_SOURCE, TIMESTAMP`: for
//! each metric, each attribution source and each 15-minute interval of the events of the
//! metric's type, their count (`SAMPLECOUNT()`) or the sum of a numeric field
//! (`SUM(Items.PRICE)`, `SUM(Interactions.EVENT_VALUE)`).

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;

use crate::csv::reader::{Record, RecordError, RecordReader};
use crate::source::{DynObjectSource, ReadAt, S3Location};
use crate::store::{DatasetStore, DatasetType};

/// One imported record, in its object's header's order.
type Row = Vec<String>;

/// A report line's key: metric, event type, attribution source, 15-minute interval.
type Key = (String, String, String, i64);

/// Events whose `SUM(Items.X)` waits for the items' records, read a batch at a time.
const ITEMS_AT_ONCE: usize = 10_000;

/// The report's sums as records stream past: memory holds the sums (metrics x sources x
/// intervals) and at most [`ITEMS_AT_ONCE`] events waiting for their items.
struct Totals<'a> {
    store: &'a dyn DatasetStore,
    group: &'a str,
    metrics: &'a [Metric],
    sums: BTreeMap<Key, (String, f64)>,
    /// `(key, item, column)` of `SUM(Items.column)` events not yet summed.
    waiting: Vec<(Key, String, String)>,
}

impl Totals<'_> {
    fn put(&mut self, key: Key, function: &str, value: f64) {
        let slot = self.sums.entry(key).or_insert((function.to_owned(), 0.0));
        slot.1 += value;
    }

    /// Adds `rows`, whose columns `header` names (upper-cased).
    async fn add(&mut self, header: &[String], rows: Vec<Row>) {
        let col = |name: &str| header.iter().position(|h| h == name);
        let (kind_at, time_at) = (col("EVENT_TYPE"), col("TIMESTAMP"));
        let (source_at, item_at) = (col("EVENT_ATTRIBUTION_SOURCE"), col("ITEM_ID"));
        let summed: Vec<Option<usize>> = self
            .metrics
            .iter()
            .map(|m| match &m.function {
                Function::Sum(DatasetType::Interactions, column) => col(column),
                _ => None,
            })
            .collect();
        for r in &rows {
            let kind = field(r, kind_at).unwrap_or_default();
            let time = field(r, time_at)
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0) as i64;
            let bucket = time - time.rem_euclid(900);
            let source = field(r, source_at).unwrap_or_default();
            for (m, summed) in self.metrics.iter().zip(&summed) {
                if !kind.eq_ignore_ascii_case(&m.event_type) {
                    continue;
                }
                let key = (
                    m.name.clone(),
                    m.event_type.clone(),
                    source.to_owned(),
                    bucket,
                );
                match &m.function {
                    Function::Count => self.put(key, "samplecount", 1.0),
                    Function::Sum(DatasetType::Items, column) => {
                        let item = field(r, item_at).unwrap_or_default().to_owned();
                        self.waiting.push((key, item, column.clone()));
                    }
                    Function::Sum(..) => {
                        let v = field(r, *summed).and_then(|v| v.trim().parse::<f64>().ok());
                        self.put(key, "sum", v.unwrap_or(0.0));
                    }
                }
            }
        }
        if self.waiting.len() >= ITEMS_AT_ONCE {
            self.settle().await;
        }
    }

    /// Sums the waiting events, their items' records read in one batch.
    async fn settle(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        if waiting.is_empty() {
            return;
        }
        let mut ids: Vec<String> = waiting.iter().map(|w| w.1.clone()).collect();
        ids.sort();
        ids.dedup();
        let (mut items, mut columns): (HashMap<String, Row>, Vec<String>) = Default::default();
        for chunk in ids.chunks(500) {
            if let Ok(found) = self
                .store
                .records_of(self.group, DatasetType::Items, chunk)
                .await
            {
                let key = found.column("ITEM_ID").unwrap_or(0);
                for row in found.rows {
                    items.insert(row[key].clone(), row);
                }
                columns = found.columns;
            }
        }
        for (key, item, column) in waiting {
            let at = columns.iter().position(|c| *c == column);
            let v = items
                .get(&item)
                .and_then(|i| field(i, at))
                .and_then(|v| v.trim().parse::<f64>().ok());
            self.put(key, "sum", v.unwrap_or(0.0));
        }
    }
}

/// The value of column `at` of a record, if it has it.
fn field(r: &Row, at: Option<usize>) -> Option<&str> {
    at.and_then(|i| r.get(i)).map(String::as_str)
}

/// The kind of a metric attribution's record in the store.
pub const KIND: &str = "metric-attribution";

/// What a metric computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// `SAMPLECOUNT()`: how many events.
    Count,
    /// `SUM(Items.COLUMN)` or `SUM(Interactions.COLUMN)`: the sum of a numeric field.
    Sum(DatasetType, String),
}

/// Parses an expression: `SAMPLECOUNT()` or `SUM(Items.COLUMN)` / `SUM(Interactions.COLUMN)`,
/// in any case.
pub fn parse(expression: &str) -> Result<Function, String> {
    let e = expression.trim();
    let upper = e.to_ascii_uppercase();
    if upper.replace(' ', "") == "SAMPLECOUNT()" {
        return Ok(Function::Count);
    }
    let inner = upper
        .strip_prefix("SUM(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("{expression:?} is not SAMPLECOUNT() or SUM(Items.COLUMN)"))?;
    let (dataset, column) = inner
        .trim()
        .split_once('.')
        .ok_or_else(|| format!("{expression:?}: SUM takes Items.COLUMN or Interactions.COLUMN"))?;
    let t = match dataset {
        "ITEMS" => DatasetType::Items,
        "INTERACTIONS" => DatasetType::Interactions,
        _ => {
            return Err(format!(
                "{expression:?}: SUM takes Items.COLUMN or Interactions.COLUMN"
            ))
        }
    };
    Ok(Function::Sum(t, column.trim().to_owned()))
}

/// One metric of an attribution.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Its name, the report's `METRIC_NAME`.
    pub name: String,
    /// The event type it counts (matched without regard to case).
    pub event_type: String,
    /// What it computes.
    pub function: Function,
}

/// The metrics of an attribution's stored body.
pub fn metrics(body: &serde_json::Value) -> Vec<Metric> {
    body["metrics"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    Some(Metric {
                        name: m["metricName"].as_str()?.to_owned(),
                        event_type: m["eventType"].as_str()?.to_owned(),
                        function: parse(m["expression"].as_str()?).ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first record is the header (names upper-cased); every other becomes a [`Row`].
fn keep(
    header: &mut Option<Vec<String>>,
    rows: &mut Vec<Row>,
    r: Record<'_>,
) -> Result<(), RecordError> {
    let fields = r.iter().map(|f| String::from_utf8_lossy(f).into_owned());
    match header {
        None => *header = Some(fields.map(|h| h.trim().to_ascii_uppercase()).collect()),
        Some(_) => rows.push(fields.collect()),
    }
    Ok(())
}

/// Writes the report of the interactions imported from `location` for `group`'s metric
/// attribution, if it has one with an S3 path; returns the report's location.
pub async fn report(
    store: &dyn DatasetStore,
    source: &DynObjectSource,
    group: &str,
    location: &S3Location,
    (created, job): (f64, &str),
) -> Result<Option<String>, String> {
    let attributions = store
        .list_resources(KIND, Some(group))
        .await
        .map_err(|e| e.to_string())?;
    let Some(a) = attributions.first() else {
        return Ok(None);
    };
    let Some(path) = a.body["metricsOutputConfig"]["s3DataDestination"]["path"].as_str() else {
        return Ok(None);
    };
    let metrics = metrics(&a.body);
    let mut totals = Totals {
        store,
        group,
        metrics: &metrics,
        sums: BTreeMap::new(),
        waiting: Vec::new(),
    };
    // The imported rows, object by object, streamed.
    let mut listing = source.list(&location.bucket, &location.key);
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| e.to_string())?;
        if !meta.key.ends_with(".csv") && location.key.ends_with('/') {
            continue;
        }
        let opened = source
            .open(&location.bucket, &meta.key, ReadAt::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut body = opened.body;
        let mut reader = RecordReader::new(1 << 20);
        let mut header: Option<Vec<String>> = None;
        let mut rows: Vec<Row> = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            let take = |r: Record<'_>| keep(&mut header, &mut rows, r);
            reader.feed(&chunk, take).map_err(|e| e.to_string())?;
            let names = header.as_deref().unwrap_or_default();
            totals.add(names, std::mem::take(&mut rows)).await;
        }
        let take = |r: Record<'_>| keep(&mut header, &mut rows, r);
        reader.finish(take).map_err(|e| e.to_string())?;
        totals
            .add(header.as_deref().unwrap_or_default(), rows)
            .await;
    }
    totals.settle().await;
    let totals = totals.sums;
    let mut w = crate::csv::CsvWriter::default();
    let header = [
        "METRIC_NAME",
        "EVENT_TYPE",
        "VALUE",
        "MATH_FUNCTION",
        "EVENT_ATTRIBUTION_SOURCE",
        "TIMESTAMP",
    ];
    w.row(header).map_err(|e| e.to_string())?;
    for ((name, event, source, bucket), (function, value)) in &totals {
        let (value, bucket) = (format!("{value:?}"), bucket.to_string());
        let row = [
            name.as_str(),
            event.as_str(),
            value.as_str(),
            function.as_str(),
            source.as_str(),
            bucket.as_str(),
        ];
        w.row(row).map_err(|e| e.to_string())?;
    }
    let bytes = w.take().map_err(|e| e.to_string())?;
    let sep = if path.ends_with('/') { "" } else { "/" };
    let target = format!(
        "{path}{sep}AggregatedAttributionMetrics-BULK-{}-{job}.csv",
        created as i64
    );
    let at = S3Location::parse(&target).map_err(|e| e.to_string())?;
    let parts = futures::stream::iter(vec![Ok(bytes)]).boxed();
    source
        .put_multipart(&at.bucket, &at.key, parts)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(target))
}
