//! Which candidates a request answers with: the request's filter (bound to its values)
//! applied to the model's ranked candidates, and a promotion's items placed among them. The
//! facts a filter reads (the candidates' records, the user's history, the request's user and
//! item) are read from the store at the request, by key. Used by the runtime API and by
//! batch inference jobs alike.

use std::collections::HashMap;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::cold;
use super::deployed::Deployed;
use super::filter::{self, Dataset, Facts, Filter, Record, Target};
use super::history::{self, History};
use crate::store::{DatasetStore, DatasetType, StoreError, StoreResult};

/// The records of `keys` in the group's `t` dataset, each as a map of column to value (none
/// without that dataset).
pub async fn records(
    store: &dyn DatasetStore,
    group: &str,
    t: DatasetType,
    keys: &[String],
) -> StoreResult<HashMap<String, Record>> {
    let found = match store.records_of(group, t, keys).await {
        Ok(found) => found,
        Err(StoreError::NotFound(_)) => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let key = found.column(t.key_column()).unwrap_or(0);
    let columns = found.columns;
    Ok(found
        .rows
        .into_iter()
        .map(|r| {
            let id = r[key].clone();
            let rec: Record = columns.iter().cloned().zip(r).collect();
            (id, rec)
        })
        .collect())
}

/// Items like `item`, which the model does not know, by the categorical fields of the
/// Items dataset (read whole: a cold item is the rare case); `None` when the dataset, its
/// categorical fields or the item's record are missing.
async fn like_cold_item(
    store: &dyn DatasetStore,
    d: &Deployed,
    item: &str,
) -> StoreResult<Option<Vec<(u32, f32)>>> {
    let datasets = store.datasets(&d.group_arn).await?;
    let Some(items) = datasets
        .iter()
        .find(|x| x.dataset_type == DatasetType::Items)
    else {
        return Ok(None);
    };
    let schema = match &items.attrs.schema_arn {
        Some(arn) => store.schema(arn).await?,
        None => None,
    };
    let fields: Vec<String> = schema
        .and_then(|s| serde_json::from_str::<Value>(&s.schema).ok())
        .and_then(|s| s["fields"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|f| f["categorical"] == Value::Bool(true))
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect();
    let cols: Vec<(usize, &str)> = fields
        .iter()
        .filter_map(|f| {
            items
                .columns
                .iter()
                .position(|c| c == f)
                .map(|i| (i, f.as_str()))
        })
        .collect();
    let key = items.columns.iter().position(|c| c == "ITEM_ID");
    let (Some(key), false) = (key, cols.is_empty()) else {
        return Ok(None);
    };
    let mine = records(store, &d.group_arn, DatasetType::Items, &[item.to_owned()]).await?;
    let Some(mine) = mine.get(item) else {
        return Ok(None);
    };
    let mine = cold::values(
        cols.iter()
            .map(|(_, f)| (*f, mine.get(*f).map_or("", String::as_str))),
    );
    let mut all: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut scan = store.scan_records(
        &d.group_arn,
        DatasetType::Items,
        10_000,
        crate::store::Ingestion::All,
    );
    while let Some(batch) = scan.next().await {
        let batch = batch?;
        for r in 0..batch.rows() {
            let row: Vec<&str> = batch.row(r).collect();
            let values = cold::values(cols.iter().map(|&(i, f)| (f, row[i])));
            all.push((row[key].to_owned(), values));
        }
    }
    let others = all.iter().map(|(id, v)| (id.as_str(), v.clone()));
    Ok(Some(cold::like_cold_item(
        d,
        item,
        &mine,
        others,
        d.model.items.len(),
    )))
}

/// Who and what a request is about.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// The request's user.
    pub user: Option<&'a str>,
    /// The request's item.
    pub item: Option<&'a str>,
    /// What is answered: items, actions or users.
    pub target: Target,
    /// The user's history (of the target's interactions), read once per request.
    pub history: &'a OnceCell<History>,
}

impl About<'_> {
    /// The dataset whose records are the user's history for this target.
    fn interactions(&self) -> DatasetType {
        match self.target {
            Target::ActionId => DatasetType::ActionInteractions,
            _ => DatasetType::Interactions,
        }
    }
}

/// The user's history (none without a user), read at most once per request.
pub async fn user_history<'a>(
    store: &dyn DatasetStore,
    d: &Deployed,
    about: About<'a>,
) -> StoreResult<&'a History> {
    let dataset = about.interactions();
    about
        .history
        .get_or_try_init(|| async {
            match about.user {
                Some(user) => history::read(store, &d.group_arn, dataset, user).await,
                None => Ok(History::default()),
            }
        })
        .await
}

/// The user's history as indexes into the model: the items it knows, oldest first.
pub async fn known_history(
    store: &dyn DatasetStore,
    d: &Deployed,
    about: About<'_>,
) -> StoreResult<Vec<u32>> {
    let h = user_history(store, d, about).await?;
    Ok(h.items().into_iter().filter_map(|i| d.item(i)).collect())
}

/// What items like `item` are ranked from: the model's neighbours of it; for an item the
/// model does not know, the known items sharing its categorical values, else the popular
/// items.
pub struct Related {
    known: Option<u32>,
    cold: Option<Vec<(u32, f32)>>,
}

impl Related {
    /// Reads what `item` needs (the Items dataset, for an item the model does not know).
    pub async fn of(store: &dyn DatasetStore, d: &Deployed, item: &str) -> StoreResult<Self> {
        let known = d.item(item);
        let cold = match known {
            Some(_) => None,
            None => like_cold_item(store, d, item).await?,
        };
        Ok(Related { known, cold })
    }

    /// At most `limit` candidates, best first.
    pub fn ranked(&self, d: &Deployed, limit: usize) -> Vec<(u32, f32)> {
        match (self.known, &self.cold) {
            (Some(i), _) => super::related_items(d, i, limit),
            (None, Some(c)) => c.iter().copied().take(limit).collect(),
            // An item the model does not know is none of its popular items.
            (None, None) => super::items_for_user(d, &[], limit),
        }
    }
}

/// `list` reordered for the request's user, the items `filter` drops left out.
pub async fn ranked_list(
    store: &dyn DatasetStore,
    d: &Deployed,
    list: &[String],
    filter: Option<&Filter>,
    about: About<'_>,
) -> StoreResult<Vec<Answered>> {
    let history = known_history(store, d, about).await?;
    let ids: Vec<Option<u32>> = list.iter().map(|i| d.item(i)).collect();
    let mut ranked: Vec<Answered> = super::rank_items(d, &history, &ids)
        .into_iter()
        .map(|(at, s)| (list[at].clone(), s, None))
        .collect();
    if let Some(f) = filter {
        let order: Vec<String> = ranked.iter().map(|r| r.0.clone()).collect();
        let mut keep = passing(store, d, &[f], &order, about).await?.into_iter();
        ranked.retain(|_| keep.next().unwrap_or(false));
    }
    Ok(ranked)
}

/// Whether each of `ids` passes every filter of `filters`.
pub async fn passing(
    store: &dyn DatasetStore,
    d: &Deployed,
    filters: &[&Filter],
    ids: &[String],
    about: About<'_>,
) -> StoreResult<Vec<bool>> {
    if filters.is_empty() {
        return Ok(vec![true; ids.len()]);
    }
    let g = &d.group_arn;
    let (meta, interactions) = match about.target {
        Target::ActionId => (Dataset::Actions, Dataset::ActionInteractions),
        Target::UserId => (Dataset::Users, Dataset::Interactions),
        Target::ItemId => (Dataset::Items, Dataset::Interactions),
    };
    let reads = |x: Dataset| filters.iter().any(|f| filter::reads(f, x));
    let mut facts = Facts::default();
    if reads(meta) {
        facts.candidates = records(store, g, meta.dataset_type(), ids).await?;
    }
    if let Some(user) = about.user {
        if reads(interactions) {
            facts = facts.with_history(user_history(store, d, about).await?);
        }
        if reads(Dataset::CurrentUser) {
            facts.user = records(store, g, DatasetType::Users, &[user.to_owned()])
                .await?
                .remove(user);
        }
    }
    if let Some(item) = about.item.filter(|_| reads(Dataset::CurrentItem)) {
        facts.item = records(store, g, DatasetType::Items, &[item.to_owned()])
            .await?
            .remove(item);
    }
    Ok(ids
        .iter()
        .map(|i| filters.iter().all(|f| filter::keeps(f, i, &facts)))
        .collect())
}

/// A request's promotion: its name, its share of the answer and its filter.
pub struct Promotion {
    /// Its name, shown on the items it placed.
    pub name: String,
    /// Its share of the answer, 1 to 100.
    pub percent: i64,
    /// Which candidates it may place (bound).
    pub filter: Filter,
}

/// One answered item: its ID, its score, and the promotion that placed it.
pub type Answered = (String, f32, Option<String>);

/// Up to `n` items of the ranked candidates `ranked(limit)` gives (best first) that pass
/// `filter`, with `promotion`'s share of them (rounded, at least one when it asks for any)
/// taken from the candidates its own filter keeps and spread evenly through the answer.
pub async fn choose(
    store: &dyn DatasetStore,
    d: &Deployed,
    ranked: impl Fn(usize) -> Vec<(u32, f32)>,
    n: usize,
    filter: Option<&Filter>,
    promotion: Option<&Promotion>,
    about: About<'_>,
) -> StoreResult<Vec<Answered>> {
    let total = d.model.items.len();
    let filtered = filter.is_some() || promotion.is_some();
    let mut limit = if filtered { (n * 4).max(n + 100) } else { n };
    let main: Vec<&Filter> = filter.into_iter().collect();
    loop {
        let cands = ranked(limit);
        let exhausted = cands.len() < limit || limit >= total;
        let ids: Vec<String> = cands.iter().map(|(i, _)| d.id(*i).to_owned()).collect();
        let keep = passing(store, d, &main, &ids, about).await?;
        let kept: Vec<usize> = (0..ids.len()).filter(|&i| keep[i]).collect();
        let mut promoted: Vec<usize> = Vec::new();
        let mut want_promoted = 0;
        if let Some(p) = promotion {
            want_promoted = ((n as f64 * p.percent as f64 / 100.0).round() as usize).clamp(1, n);
            let mut filters = main.clone();
            filters.push(&p.filter);
            let ok = passing(store, d, &filters, &ids, about).await?;
            promoted = kept
                .iter()
                .copied()
                .filter(|&i| ok[i])
                .take(want_promoted)
                .collect();
        }
        let enough = kept.len() >= n && promoted.len() >= want_promoted;
        if enough || exhausted {
            let rest: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|i| !promoted.contains(i))
                .take(n.saturating_sub(promoted.len()))
                .collect();
            let size = rest.len() + promoted.len();
            let mut out: Vec<Answered> = Vec::with_capacity(size);
            let (mut r, mut p) = (rest.into_iter(), promoted.into_iter().peekable());
            let k = want_promoted.max(1);
            for at in 0..size {
                // Promoted items at the positions 0, n/k, 2n/k, ...
                let slot = p.peek().is_some()
                    && at * k >= out.iter().filter(|a| a.2.is_some()).count() * size;
                let next = if slot {
                    p.next().map(|i| (i, true))
                } else {
                    None
                };
                let (i, is_promoted) = match next.or_else(|| r.next().map(|i| (i, false))) {
                    Some(x) => x,
                    None => match p.next() {
                        Some(i) => (i, true),
                        None => break,
                    },
                };
                let name = is_promoted
                    .then(|| promotion.map(|p| p.name.clone()))
                    .flatten();
                out.push((ids[i].clone(), cands[i].1, name));
            }
            return Ok(out);
        }
        limit = total;
    }
}
