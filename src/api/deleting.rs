//! Resources being deleted, as the service shows them.
//!
//! On AWS a delete is asynchronous: DeleteDatasetGroup and DeleteDataset answer at once, then
//! the resource shows `DELETE PENDING` (a dataset then `DELETE IN_PROGRESS`) for a while before
//! Describe answers ResourceNotFoundException; AWS's own cleanup notebooks poll until then.
//! Here the store forgets the resource, and its records, at the delete itself (deleted means
//! gone); what this keeps is only how the resource looked, so that for the configured
//! transition time Describe answers it in its deleting states, a Create of the same ARN is
//! ResourceAlreadyExistsException, and a group whose dataset is still being deleted cannot be
//! deleted yet. It is held by the serving process only: a restart ends every deletion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::jobs::now_epoch;

/// A dataset's deleting states; a dataset group shows only the first.
pub const DATASET_STATES: [&str; 2] = ["DELETE PENDING", "DELETE IN_PROGRESS"];

/// A dataset group's deleting state.
pub const GROUP_STATES: [&str; 1] = ["DELETE PENDING"];

#[derive(Debug)]
struct Entry {
    since: f64,
    /// The resource as Describe answered it before the delete.
    described: Value,
    states: &'static [&'static str],
    /// For a dataset or an event tracker, its group.
    group: Option<String>,
}

/// The resources deleted less than the transition time ago.
#[derive(Debug, Default)]
pub struct Deleting {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Deleting {
    /// Notes that `arn`, described as `described`, was deleted now.
    pub fn note(
        &self,
        arn: &str,
        described: Value,
        states: &'static [&'static str],
        group: Option<String>,
    ) {
        let entry = Entry {
            since: now_epoch(),
            described,
            states,
            group,
        };
        self.lock().insert(arn.to_owned(), entry);
    }

    /// How `arn` looks while it is being deleted: its description with its deleting status
    /// and when that began; `None` once `transition` has passed (or it was never deleted).
    pub fn view(&self, arn: &str, transition: Duration) -> Option<Value> {
        let mut entries = self.lock();
        expire(&mut entries, transition);
        let e = entries.get(arn)?;
        let t = transition.as_secs_f64();
        let step = t / e.states.len() as f64;
        let i = (((now_epoch() - e.since) / step) as usize).min(e.states.len() - 1);
        let mut v = e.described.clone();
        v["status"] = json!(e.states[i]);
        v["lastUpdatedDateTime"] = json!(e.since + step * i as f64);
        Some(v)
    }

    /// Whether one of `group`'s datasets or its event tracker is still being deleted.
    pub fn has_part_of(&self, group: &str, transition: Duration) -> bool {
        let mut entries = self.lock();
        expire(&mut entries, transition);
        entries.values().any(|e| e.group.as_deref() == Some(group))
    }

    /// Forgets every deletion (the admin reset).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn expire(entries: &mut HashMap<String, Entry>, transition: Duration) {
    let now = now_epoch();
    entries.retain(|_, e| now - e.since < transition.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_resource_goes_through_its_states_then_is_gone() {
        let d = Deleting::default();
        let t = Duration::from_secs(2);
        d.note(
            "arn:ds",
            json!({"datasetArn": "arn:ds", "status": "ACTIVE"}),
            &DATASET_STATES,
            Some("arn:g".into()),
        );
        let v = d.view("arn:ds", t).unwrap();
        assert_eq!(v["status"], "DELETE PENDING");
        assert_eq!(v["datasetArn"], "arn:ds");
        assert!(d.has_part_of("arn:g", t));
        assert!(!d.has_part_of("arn:other", t));
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(d.view("arn:ds", t).unwrap()["status"], "DELETE IN_PROGRESS");
        std::thread::sleep(Duration::from_millis(900));
        assert_eq!(d.view("arn:ds", t), None);
        assert!(!d.has_part_of("arn:g", t));
        // No transition time: gone at once.
        d.note("arn:g", json!({}), &GROUP_STATES, None);
        assert_eq!(d.view("arn:g", Duration::ZERO), None);
    }
}
