//! Metric attribution reports: after a dataset import job of interactions that asked for
//! them (`publishAttributionMetricsToS3`), when the dataset group has a metric attribution
//! with an S3 path, one CSV report of the imported records is written there:
//! `AggregatedAttributionMetrics-BULK-<job creation time>.csv`, with the columns
//! `METRIC_NAME, EVENT_TYPE, VALUE, MATH_FUNCTION, EVENT_ATTRIBUTION_SOURCE, TIMESTAMP`: for
//! each metric, each attribution source and each 15-minute interval of the events of the
//! metric's type, their count (`SAMPLECOUNT()`) or the sum of a numeric field
//! (`SUM(Items.PRICE)`, `SUM(Interactions.EVENT_VALUE)`).

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;

use crate::source::{DynObjectSource, ReadAt, S3Location};
use crate::store::{DatasetStore, DatasetType};

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

/// Writes the report of the interactions imported from `location` for `group`'s metric
/// attribution, if it has one with an S3 path; returns the report's location.
pub async fn report(
    store: &dyn DatasetStore,
    source: &DynObjectSource,
    group: &str,
    location: &S3Location,
    created: f64,
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
    // The imported rows, object by object.
    let mut rows: Vec<HashMap<String, String>> = Vec::new();
    let mut listing = source.list(&location.bucket, &location.key);
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| e.to_string())?;
        if !meta.key.ends_with(".csv") && location.key.ends_with('/') {
            continue;
        }
        let at = ReadAt {
            offset: 0,
            if_match: None,
        };
        let opened = source
            .open(&location.bucket, &meta.key, at)
            .await
            .map_err(|e| e.to_string())?;
        let mut body = opened.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|h| h.trim().to_ascii_uppercase())
            .collect();
        for record in reader.records() {
            let record = record.map_err(|e| e.to_string())?;
            rows.push(
                header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_owned))
                    .collect(),
            );
        }
    }
    // Items' fields for SUM(Items.X).
    let mut items: HashMap<String, HashMap<String, String>> = HashMap::new();
    if metrics
        .iter()
        .any(|m| matches!(&m.function, Function::Sum(DatasetType::Items, _)))
    {
        let mut ids: Vec<String> = rows
            .iter()
            .filter_map(|r| r.get("ITEM_ID").cloned())
            .collect();
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(500) {
            if let Ok(found) = store.records_of(group, DatasetType::Items, chunk).await {
                let key = found.column("ITEM_ID").unwrap_or(0);
                for row in found.rows {
                    let id = row[key].clone();
                    items.insert(id, found.columns.iter().cloned().zip(row).collect());
                }
            }
        }
    }
    let mut totals: BTreeMap<(String, String, String, i64), (String, f64)> = BTreeMap::new();
    for m in &metrics {
        for r in &rows {
            let kind = r.get("EVENT_TYPE").map(String::as_str).unwrap_or_default();
            if !kind.eq_ignore_ascii_case(&m.event_type) {
                continue;
            }
            let time = r
                .get("TIMESTAMP")
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0) as i64;
            let bucket = time - time.rem_euclid(900);
            let source = r
                .get("EVENT_ATTRIBUTION_SOURCE")
                .cloned()
                .unwrap_or_default();
            let (function, value) = match &m.function {
                Function::Count => ("samplecount", 1.0),
                Function::Sum(t, column) => {
                    let field = match t {
                        DatasetType::Items => r
                            .get("ITEM_ID")
                            .and_then(|i| items.get(i))
                            .and_then(|item| item.get(column)),
                        _ => r.get(column),
                    };
                    (
                        "sum",
                        field
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .unwrap_or(0.0),
                    )
                }
            };
            let key = (m.name.clone(), m.event_type.clone(), source, bucket);
            let slot = totals.entry(key).or_insert((function.to_owned(), 0.0));
            slot.1 += value;
        }
    }
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
        "{path}{sep}AggregatedAttributionMetrics-BULK-{}.csv",
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
