//! User segments (batch segment jobs on aws-item-affinity and aws-item-attribute-affinity
//! versions): for each input line, the users most likely to interact with an item (or with
//! the items whose attributes match), scored by the version's item-item similarities against
//! each user's history **as the records hold it when the job runs**. A user deleted by a
//! COMPLETED data deletion job has no records, so is in no segment, whatever the version:
//! the histories are read when the job starts, and the users of each batch's segments are
//! looked up again just before that batch is written.
//!
//! Input lines: `{"itemId": "i1"}` or `{"itemAttributes": "ITEMS.GENRES = \"Comedy\" AND
//! ITEMS.YEAR = 1999"}`; output lines: `{"input": {...}, "output": {"recommendedUsers":
//! [...]}}`, or for attributes `{"itemAttributes": ..., "output": {...}}`, most likely first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::{Answer, Line};
use crate::answer::deployed::Deployed;
use crate::answer::filter::{Filter, Target};
use crate::answer::select::{self, About};
use crate::jobs::run::JobError;
use crate::store::{DatasetStore, DatasetType, Ingestion, StoreError};
use crate::train::personalization;

/// The best users of one query so far: the worst on top (a score's bits order as the
/// score, for scores above zero), equal scores kept in user ID order.
type Best<'a> = BinaryHeap<Reverse<(u32, Reverse<&'a str>)>>;

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

/// A batch segment job's answers: each user's history read once, when the job starts, then
/// the input answered a batch of lines at a time, every user scored once per batch.
pub(super) struct Segments<'a> {
    store: &'a dyn DatasetStore,
    d: &'a Deployed,
    n: usize,
    filter: Option<&'a Filter>,
    histories: Histories,
}

impl<'a> Segments<'a> {
    pub(super) async fn new(
        store: &'a dyn DatasetStore,
        d: &'a Deployed,
        n: usize,
        filter: Option<&'a Filter>,
    ) -> Result<Segments<'a>, JobError> {
        if d.recipe.recipe_type != "USER_SEGMENTATION" {
            return Err(JobError::Failed(format!(
                "{} makes no user segments: a batch segment job needs an item-affinity version",
                d.recipe.name
            )));
        }
        let histories = Histories::read(store, d).await?;
        crate::store::failpoint("segment-histories-read");
        Ok(Segments {
            store,
            d,
            n,
            filter,
            histories,
        })
    }
}

impl Answer for Segments<'_> {
    const BATCH: usize = 256;

    async fn answer(&self, lines: Vec<Line>) -> Result<Vec<Value>, JobError> {
        let (store, d, n) = (self.store, self.d, self.n);
        let queries: Vec<Query> = lines.into_iter().map(query).collect();
        let targets = targets(store, d, &queries).await?;
        // Candidates to spare for the users the filter or a deletion leaves out.
        let keep = if self.filter.is_some() {
            n * 4 + 100
        } else {
            n + 32
        };
        let mut tops = score_users(d, &self.histories, &targets, keep);
        self.still_recorded(&mut tops).await?;
        let mut out = Vec::with_capacity(queries.len());
        for (q, top) in queries.into_iter().zip(tops) {
            let mut users: Vec<String> = top;
            if let Some(f) = self.filter {
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
}

impl Segments<'_> {
    /// Leaves out of `tops` every user without records now: one whose records a data
    /// deletion job purged after this job read the histories is in no segment it writes.
    async fn still_recorded(&self, tops: &mut [Vec<String>]) -> Result<(), JobError> {
        let named: HashSet<&String> = tops.iter().flatten().collect();
        let named: Vec<String> = named.into_iter().cloned().collect();
        if named.is_empty() {
            return Ok(());
        }
        let records = self
            .store
            .records_of(&self.d.group_arn, DatasetType::Interactions, &named)
            .await?;
        let user = records.column("USER_ID").unwrap_or(0);
        let present: HashSet<&str> = records.rows.iter().map(|r| r[user].as_str()).collect();
        for top in tops.iter_mut() {
            top.retain(|u| present.contains(u.as_str()));
        }
        Ok(())
    }
}

fn query(line: Line) -> Query {
    let l = match line {
        Line::Text(l) => l,
        Line::NotUtf8(l) => return Query::Bad(json!(l), "the line is not UTF-8".into()),
    };
    match serde_json::from_str::<Value>(&l) {
        Ok(v) if v["itemId"].is_string() => Query::Item(v),
        Ok(v) => match v["itemAttributes"].as_str() {
            Some(text) => match attributes(text) {
                Ok(a) => Query::Attributes(text.to_owned(), a),
                Err(why) => Query::Bad(v.clone(), why),
            },
            None => Query::Bad(v, "a line has itemId or itemAttributes".into()),
        },
        Err(_) => Query::Bad(json!(l), "the line is not a JSON object".into()),
    }
}

/// Every user's items in the interactions as the records hold them when the job starts, the
/// model's indexes, each item once, by last interaction, oldest first. Compact: one string
/// per user and four bytes per interaction (the read holds sixteen per interaction, once).
struct Histories {
    users: Vec<String>,
    /// Where each user's items start in `items`; one more entry than users.
    starts: Vec<usize>,
    items: Vec<u32>,
}

impl Histories {
    async fn read(store: &dyn DatasetStore, d: &Deployed) -> Result<Histories, JobError> {
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
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut events: Vec<(u32, i64, u32)> = Vec::new();
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
                let Some(i) = d.item(row[item]) else { continue };
                let t = time.and_then(|t| row[t].parse::<f64>().ok()).unwrap_or(0.0) as i64;
                let next = index.len() as u32;
                let u = *index.entry(row[user].to_owned()).or_insert(next);
                events.push((u, t, i));
            }
        }
        let mut users = vec![String::new(); index.len()];
        for (name, u) in index {
            users[u as usize] = name;
        }
        // Stable: equal times keep the order of the records.
        events.sort_by_key(|e| (e.0, e.1));
        let mut starts = Vec::with_capacity(users.len() + 1);
        let mut items = Vec::with_capacity(events.len());
        let mut seen = HashSet::new();
        for one in events.chunk_by(|a, b| a.0 == b.0) {
            starts.push(items.len());
            seen.clear();
            let from = items.len();
            items.extend(one.iter().rev().filter(|e| seen.insert(e.2)).map(|e| e.2));
            items[from..].reverse();
        }
        starts.push(items.len());
        items.shrink_to_fit();
        Ok(Histories {
            users,
            starts,
            items,
        })
    }
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

/// The `keep` best users of each target set, best first: every user's history scored
/// against the version's similarities.
fn score_users(
    d: &Deployed,
    histories: &Histories,
    targets: &[Vec<u32>],
    keep: usize,
) -> Vec<Vec<String>> {
    let history_length = d.param("history_length", 100).max(1) as usize;
    let mut heaps: Vec<Best> = targets.iter().map(|_| BinaryHeap::new()).collect();
    for (u, name) in histories.users.iter().enumerate() {
        let items = &histories.items[histories.starts[u]..histories.starts[u + 1]];
        let scores = personalization::scores(&d.model.neighbours, items, history_length);
        for (t, heap) in targets.iter().zip(heaps.iter_mut()) {
            let s: f32 = t.iter().filter_map(|i| scores.get(i)).sum();
            if s > 0.0 {
                heap.push(Reverse((s.to_bits(), Reverse(name.as_str()))));
                if heap.len() > keep {
                    heap.pop();
                }
            }
        }
    }
    heaps
        .into_iter()
        .map(|h| {
            let mut v: Vec<(u32, String)> = h
                .into_iter()
                .map(|Reverse((s, Reverse(u)))| (s, u.to_owned()))
                .collect();
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            v.into_iter().map(|(_, u)| u).collect()
        })
        .collect()
}
