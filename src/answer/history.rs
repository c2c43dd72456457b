//! A user's history as the store holds it now: the interactions (or action interactions) of
//! one user, read by key ([`DatasetStore::records_of`]), oldest first. A user purged by a
//! data deletion job has none.

use crate::store::{DatasetStore, DatasetType, StoreError, StoreResult};

/// One interaction of the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// The item (or action) ID.
    pub item: String,
    /// `EVENT_TYPE`, or empty.
    pub event_type: String,
    /// `TIMESTAMP`, epoch seconds (0 if unreadable).
    pub time: i64,
}

/// A user's interactions, oldest first (ties in load order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Every interaction.
    pub events: Vec<Interaction>,
}

impl History {
    /// The distinct items, each at its latest interaction, oldest first: what the models
    /// score a user by.
    pub fn items(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<&str> = Vec::new();
        for e in self.events.iter().rev() {
            if seen.insert(e.item.as_str()) {
                out.push(&e.item);
            }
        }
        out.reverse();
        out
    }

    /// Whether the user has no interaction.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The interactions of `user` in the group's `dataset_type` dataset (Interactions or
/// Action_Interactions); none without that dataset.
pub async fn read(
    store: &dyn DatasetStore,
    group_arn: &str,
    dataset_type: DatasetType,
    user: &str,
) -> StoreResult<History> {
    let mut all = read_many(store, group_arn, dataset_type, &[user.to_owned()]).await?;
    Ok(all.pop().unwrap_or_default())
}

/// The histories of `users` (distinct), in their order, in one read of the store.
pub async fn read_many(
    store: &dyn DatasetStore,
    group_arn: &str,
    dataset_type: DatasetType,
    users: &[String],
) -> StoreResult<Vec<History>> {
    let none = || users.iter().map(|_| History::default()).collect();
    let found = match store.records_of(group_arn, dataset_type, users).await {
        Ok(found) => found,
        Err(StoreError::NotFound(_)) => return Ok(none()),
        Err(e) => return Err(e),
    };
    let item_col = match dataset_type {
        DatasetType::ActionInteractions => found.column("ACTION_ID"),
        _ => found.column("ITEM_ID"),
    };
    let (Some(item_col), Some(user_col)) = (item_col, found.column("USER_ID")) else {
        return Ok(none());
    };
    let (type_col, time_col) = (found.column("EVENT_TYPE"), found.column("TIMESTAMP"));
    let at: std::collections::HashMap<&str, usize> = users
        .iter()
        .enumerate()
        .map(|(k, u)| (u.as_str(), k))
        .collect();
    let mut out: Vec<History> = none();
    for r in &found.rows {
        let Some(&k) = at.get(r[user_col].as_str()) else {
            continue;
        };
        out[k].events.push(Interaction {
            item: r[item_col].clone(),
            event_type: type_col.map(|c| r[c].clone()).unwrap_or_default(),
            time: time_col
                .and_then(|c| r[c].trim().parse::<f64>().ok())
                .map_or(0, |t| t as i64),
        });
    }
    for h in &mut out {
        // Stable: ties keep load order.
        h.events.sort_by_key(|e| e.time);
    }
    Ok(out)
}
