//! Training aws-semantic-similarity: the Items dataset's textual fields (those its schema
//! marks `"textual": true`, and `ITEM_NAME`), compared by [`crate::train::text`]. It needs
//! no interactions; its one metric, `coverage`, is the share of items that are some item's
//! neighbour (the items it can recommend).

use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::Value;

use super::format::Model;
use crate::jobs::run::JobError;
use crate::store::{DatasetStore, DatasetType, Ingestion};
use crate::train::{text, Family};

/// The model, its metrics and how many Items records it read.
pub(super) async fn train(
    store: &dyn DatasetStore,
    group: &str,
    params: &BTreeMap<String, i64>,
) -> Result<(Model, BTreeMap<String, f64>, u64), JobError> {
    let failed = |why: String| JobError::Failed(why);
    let items = store
        .datasets(group)
        .await?
        .into_iter()
        .find(|d| d.dataset_type == DatasetType::Items)
        .ok_or_else(|| {
            failed(format!(
                "aws-semantic-similarity needs an Items dataset, which the dataset group {group} lacks"
            ))
        })?;
    let schema = match &items.attrs.schema_arn {
        Some(arn) => store.schema(arn).await?.map(|s| s.schema),
        None => None,
    };
    let textual: Vec<String> = schema
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|s| s["fields"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|f| f["textual"] == Value::Bool(true) || f["name"] == "ITEM_NAME")
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect();
    let cols: Vec<usize> = textual
        .iter()
        .filter_map(|name| items.columns.iter().position(|c| c == name))
        .collect();
    if cols.is_empty() {
        return Err(failed(
            "aws-semantic-similarity needs a textual field in the Items dataset (\"textual\": true in its schema, or ITEM_NAME)".into(),
        ));
    }
    let key = items
        .columns
        .iter()
        .position(|c| c == "ITEM_ID")
        .ok_or_else(|| failed("the Items dataset has no ITEM_ID column".into()))?;
    let (mut ids, mut texts) = (Vec::new(), Vec::new());
    let mut batches = store.scan_records(group, DatasetType::Items, 10_000, Ingestion::All);
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        for r in 0..batch.rows() {
            let row: Vec<&str> = batch.row(r).collect();
            ids.push(row[key].to_owned());
            texts.push(cols.iter().map(|&c| row[c]).collect::<Vec<_>>().join(" "));
        }
    }
    if ids.len() < 2 {
        return Err(failed(format!(
            "the Items dataset has {} items; semantic similarity needs at least 2",
            ids.len()
        )));
    }
    let neighbours = params.get("neighbours").copied().unwrap_or(100).max(1) as usize;
    let records = ids.len() as u64;
    let (model, metrics) = tokio::task::spawn_blocking(move || {
        let n = text::similarities(&texts, neighbours);
        let mut reached = vec![false; ids.len()];
        for &j in &n.items {
            reached[j as usize] = true;
        }
        let share = reached.iter().filter(|r| **r).count() as f64 / ids.len() as f64;
        let metrics =
            BTreeMap::from([("coverage".to_owned(), (share * 10_000.0).round() / 10_000.0)]);
        let model = Model {
            family: Family::Semantic,
            params: BTreeMap::from([("neighbours".to_owned(), neighbours as i64)]),
            items: ids,
            ranked: Vec::new(),
            neighbours: n,
        };
        (model, metrics)
    })
    .await
    .map_err(|e| failed(format!("training stopped: {e}")))?;
    Ok((model, metrics, records))
}
