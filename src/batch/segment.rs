//! User segments (batch segment jobs on aws-item-affinity and aws-item-attribute-affinity
//! versions): for each input line, the users most likely to interact with an item (or with
//! the items whose attributes match), scored by the version's item-item similarities against
//! each user's history **as the records hold it when the job runs**. A user deleted by a
//! COMPLETED data deletion job has no records, so is in no segment, whatever the version.
//!
//! Input lines: `{"itemId": "i1"}` or `{"itemAttributes": "ITEMS.GENRES = \"Comedy\" AND
//! ITEMS.YEAR = 1999"}`; output lines: `{"input": {...}, "output": {"recommendedUsers":
//! [...]}}`, or for attributes `{"itemAttributes": ..., "output": {...}}`, most likely first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::answer::deployed::Deployed;
use crate::answer::filter::{Filter, Target};
use crate::answer::select::{self, About};
use crate::jobs::run::JobError;
use crate::store::{DatasetStore, DatasetType, Ingestion, StoreError};
use crate::train::personalization;

/// The best users of one query so far: the worst on top (a score's bits order as the
/// score, for scores above zero), equal scores kept in user ID order.
type Best = BinaryHeap<Reverse<(u32, Reverse<String>)>>;

enum Query {
    Item(Value),
    Attributes(String, Vec<(String, String)>),
    Bad(Value, String),
}

/// `ITEMS.COLUMN = "value" AND ...` (values quoted, or numbers), columns upper-cased.
fn attributes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in text.split(" AND ") {
        let (field, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ITEMS.COLUMN = value"))?;
        let column = field
            .trim()
            .strip_prefix("ITEMS.")
            .or_else(|| field.trim().strip_prefix("Items."))
            .ok_or_else(|| format!("{:?} is not an ITEMS field", field.trim()))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value)
            .replace("\\\"", "\"");
        out.push((column.to_ascii_uppercase(), value));
    }
    Ok(out)
}

/// The segments of `lines`, one output line each.
pub(super) async fn segments(
    store: &dyn DatasetStore,
    d: &Deployed,
    lines: Vec<String>,
    n: usize,
    filter: Option<&Filter>,
) -> Result<Vec<Value>, JobError> {
    if d.recipe.recipe_type != "USER_SEGMENTATION" {
        return Err(JobError::Failed(format!(
            "{} makes no user segments: a batch segment job needs an item-affinity version",
            d.recipe.name
        )));
    }
    let queries: Vec<Query> = lines
        .iter()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) if v["itemId"].is_string() => Query::Item(v),
            Ok(v) => match v["itemAttributes"].as_str() {
                Some(text) => match attributes(text) {
                    Ok(a) => Query::Attributes(text.to_owned(), a),
                    Err(why) => Query::Bad(v.clone(), why),
                },
                None => Query::Bad(v, "a line has itemId or itemAttributes".into()),
            },
            Err(_) => Query::Bad(json!(l), "the line is not a JSON object".into()),
        })
        .collect();
    let targets = targets(store, d, &queries).await?;
    let keep = if filter.is_some() { n * 4 + 100 } else { n };
    let tops = score_users(store, d, &targets, keep).await?;
    let mut out = Vec::with_capacity(queries.len());
    for (q, top) in queries.iter().zip(tops) {
        let mut users: Vec<String> = top;
        if let Some(f) = filter {
            let seen = OnceCell::new();
            let about = About {
                user: None,
                item: None,
                target: Target::UserId,
                history: &seen,
            };
            let pass = select::passing(store, d, &[f], &users, about).await?;
            let mut pass = pass.into_iter();
            users.retain(|_| pass.next().unwrap_or(false));
        }
        users.truncate(n);
        out.push(match q {
            Query::Item(v) => json!({ "input": v, "output": { "recommendedUsers": users } }),
            Query::Attributes(text, _) => {
                json!({ "itemAttributes": text, "output": { "recommendedUsers": users } })
            }
            Query::Bad(v, why) => json!({ "input": v, "error": why }),
        });
    }
    Ok(out)
}

/// For each query, the model's indexes of the items it is about.
async fn targets(
    store: &dyn DatasetStore,
    d: &Deployed,
    queries: &[Query],
) -> Result<Vec<Vec<u32>>, JobError> {
    let mut out: Vec<Vec<u32>> = queries
        .iter()
        .map(|q| match q {
            Query::Item(v) => d
                .item(v["itemId"].as_str().unwrap_or_default())
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    if !queries.iter().any(|q| matches!(q, Query::Attributes(..))) {
        return Ok(out);
    }
    let datasets = store.datasets(&d.group_arn).await?;
    let Some(items) = datasets
        .iter()
        .find(|x| x.dataset_type == DatasetType::Items)
    else {
        return Err(JobError::Failed(format!(
            "itemAttributes need an Items dataset, which the dataset group {} lacks",
            d.group_arn
        )));
    };
    let key = items
        .columns
        .iter()
        .position(|c| c == "ITEM_ID")
        .unwrap_or(0);
    let col = |c: &str| items.columns.iter().position(|x| x == c);
    let mut scan = store.scan_records(&d.group_arn, DatasetType::Items, 10_000, Ingestion::All);
    while let Some(batch) = scan.next().await {
        let batch = batch?;
        for r in 0..batch.rows() {
            let row: Vec<&str> = batch.row(r).collect();
            let Some(i) = d.item(row[key]) else { continue };
            for (q, t) in queries.iter().zip(out.iter_mut()) {
                if let Query::Attributes(_, wanted) = q {
                    let all = wanted
                        .iter()
                        .all(|(c, v)| col(c).is_some_and(|at| row[at].split('|').any(|x| x == v)));
                    if all {
                        t.push(i);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The `keep` best users of each target set, best first: every user's current history
/// scored against the version's similarities.
async fn score_users(
    store: &dyn DatasetStore,
    d: &Deployed,
    targets: &[Vec<u32>],
    keep: usize,
) -> Result<Vec<Vec<String>>, JobError> {
    let datasets = store.datasets(&d.group_arn).await?;
    let Some(inter) = datasets
        .iter()
        .find(|x| x.dataset_type == DatasetType::Interactions)
    else {
        return Err(JobError::Failed(format!(
            "the dataset group {} has no Interactions dataset",
            d.group_arn
        )));
    };
    let col = |c: &str| inter.columns.iter().position(|x| x == c);
    let (Some(user), Some(item)) = (col("USER_ID"), col("ITEM_ID")) else {
        return Err(JobError::Store(StoreError::Invalid(
            "no USER_ID or ITEM_ID column".into(),
        )));
    };
    let time = col("TIMESTAMP");
    let mut histories: HashMap<String, Vec<(i64, u32)>> = HashMap::new();
    let mut scan = store.scan_records(
        &d.group_arn,
        DatasetType::Interactions,
        10_000,
        Ingestion::All,
    );
    while let Some(batch) = scan.next().await {
        let batch = batch?;
        for r in 0..batch.rows() {
            let row: Vec<&str> = batch.row(r).collect();
            if let Some(i) = d.item(row[item]) {
                let t = time.and_then(|t| row[t].parse::<f64>().ok()).unwrap_or(0.0) as i64;
                histories
                    .entry(row[user].to_owned())
                    .or_default()
                    .push((t, i));
            }
        }
    }
    let history_length = d.param("history_length", 100).max(1) as usize;
    let mut heaps: Vec<Best> = targets.iter().map(|_| BinaryHeap::new()).collect();
    for (u, mut events) in histories {
        events.sort_by_key(|e| e.0);
        let mut seen = std::collections::HashSet::new();
        let mut items: Vec<u32> = events
            .iter()
            .rev()
            .filter(|e| seen.insert(e.1))
            .map(|e| e.1)
            .collect();
        items.reverse();
        let scores = personalization::scores(&d.model.neighbours, &items, history_length);
        for (t, heap) in targets.iter().zip(heaps.iter_mut()) {
            let s: f32 = t.iter().filter_map(|i| scores.get(i)).sum();
            if s > 0.0 {
                heap.push(Reverse((s.to_bits(), Reverse(u.clone()))));
                if heap.len() > keep {
                    heap.pop();
                }
            }
        }
    }
    Ok(heaps
        .into_iter()
        .map(|h| {
            let mut v: Vec<(u32, String)> = h
                .into_iter()
                .map(|Reverse((s, Reverse(u)))| (s, u))
                .collect();
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            v.into_iter().map(|(_, u)| u).collect()
        })
        .collect())
}
