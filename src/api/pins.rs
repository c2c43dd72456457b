//! Pinned answers, for tests that need a fixed answer beside the real ones (our extension,
//! an admin endpoint like the faults, off with `--no-admin`): `POST
//! /_personalize-local/pins` with `{"arn": <campaign or recommender>, "userId" or "itemId":
//! ..., "itemIds": [...]}` (or `"actionIds"`) makes GetRecommendations (or
//! GetActionRecommendations) for that user or item answer those IDs, in that order, cut to
//! `numResults`, without filters or promotions; `GET` lists the pins, `DELETE` removes them
//! all. Pins live in the serving process and end with it or with a reset.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One pinned answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pin {
    /// The campaign or recommender.
    pub arn: String,
    /// The user it answers for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The item it answers for (related-items campaigns and recommenders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The items answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub item_ids: Vec<String>,
    /// The actions answered (next-best-action campaigns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_ids: Vec<String>,
}

impl Pin {
    /// Checks the pin names one user or one item and answers something.
    pub fn check(&self) -> Result<(), String> {
        if self.user_id.is_some() == self.item_id.is_some() {
            return Err("a pin names exactly one of userId and itemId".into());
        }
        if self.item_ids.is_empty() == self.action_ids.is_empty() {
            return Err("a pin answers exactly one of itemIds and actionIds, not empty".into());
        }
        if self.item_ids.len().max(self.action_ids.len()) > 500 {
            return Err("a pin answers at most 500 IDs".into());
        }
        Ok(())
    }
}

/// The pins in force.
#[derive(Debug, Default)]
pub struct Pins {
    pins: Mutex<Vec<Pin>>,
}

impl Pins {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pin>> {
        self.pins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds pins, all or none; a pin for the same ARN and user or item replaces the old one.
    pub fn add(&self, new: Vec<Pin>) -> Result<(), String> {
        for p in &new {
            p.check()?;
        }
        let mut pins = self.lock();
        for p in new {
            pins.retain(|o| (&o.arn, &o.user_id, &o.item_id) != (&p.arn, &p.user_id, &p.item_id));
            pins.push(p);
        }
        Ok(())
    }

    /// Every pin.
    pub fn list(&self) -> Vec<Pin> {
        self.lock().clone()
    }

    /// Removes every pin.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The pinned IDs for `arn` and this user or item, if any (`actions` for actions).
    pub fn find(
        &self,
        arn: &str,
        user: Option<&str>,
        item: Option<&str>,
        actions: bool,
    ) -> Option<Vec<String>> {
        self.lock()
            .iter()
            .find(|p| {
                p.arn == arn
                    && ((p.user_id.is_some() && p.user_id.as_deref() == user)
                        || (p.item_id.is_some() && p.item_id.as_deref() == item))
            })
            .map(|p| {
                if actions {
                    p.action_ids.clone()
                } else {
                    p.item_ids.clone()
                }
            })
            .filter(|ids| !ids.is_empty())
    }
}
