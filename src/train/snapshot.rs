//! What training reads: a dataset group's interactions as the store held them when training
//! began, with users and items interned to dense indexes. Every algorithm works on this and
//! on nothing else, so the same snapshot always trains the same model.

use std::collections::HashMap;
use std::sync::Arc;

/// One interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The user's index in [`Snapshot::users`].
    pub user: u32,
    /// The item's index in [`Snapshot::items`].
    pub item: u32,
    /// Epoch seconds.
    pub time: i64,
}

/// Interactions with their users and items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// User IDs, by index, in the order they were first seen (shared by the snapshots cut
    /// from this one).
    pub users: Arc<Vec<String>>,
    /// Item IDs, by index, in the order they were first seen.
    pub items: Arc<Vec<String>>,
    /// Interactions, in the store's order.
    pub events: Vec<Event>,
}

/// Builds a [`Snapshot`] one interaction at a time.
#[derive(Debug, Default)]
pub struct SnapshotBuilder {
    users: Vec<String>,
    items: Vec<String>,
    events: Vec<Event>,
    user_index: HashMap<String, u32>,
    item_index: HashMap<String, u32>,
}

fn intern(ids: &mut Vec<String>, index: &mut HashMap<String, u32>, id: &str) -> u32 {
    if let Some(&i) = index.get(id) {
        return i;
    }
    let i = ids.len() as u32;
    ids.push(id.to_owned());
    index.insert(id.to_owned(), i);
    i
}

impl SnapshotBuilder {
    /// Adds one interaction.
    pub fn push(&mut self, user: &str, item: &str, time: i64) {
        let user = intern(&mut self.users, &mut self.user_index, user);
        let item = intern(&mut self.items, &mut self.item_index, item);
        self.events.push(Event { user, item, time });
    }

    /// The snapshot.
    pub fn finish(self) -> Snapshot {
        Snapshot {
            users: Arc::new(self.users),
            items: Arc::new(self.items),
            events: self.events,
        }
    }
}

impl Snapshot {
    /// Each user's distinct items, in the order of their latest interaction with each
    /// (oldest first), as a compressed table: user `u`'s are
    /// `items[starts[u] as usize..starts[u + 1] as usize]`.
    pub fn histories(&self) -> Histories {
        let mut order: Vec<u32> = (0..self.events.len() as u32).collect();
        // By user, then time, then load order: deterministic whatever the ties.
        order.sort_by_key(|&i| {
            let e = &self.events[i as usize];
            (e.user, e.time, i)
        });
        let mut starts = vec![0u32; self.users.len() + 1];
        let mut items = Vec::with_capacity(order.len());
        let mut seen = vec![u32::MAX; self.items.len()];
        let mut at = 0usize;
        for u in 0..self.users.len() as u32 {
            let begin = items.len();
            while at < order.len() && self.events[order[at] as usize].user == u {
                let item = self.events[order[at] as usize].item;
                // A later interaction with the same item moves it to the end.
                if seen[item as usize] == u {
                    if let Some(p) = items[begin..].iter().position(|&x| x == item) {
                        items.remove(begin + p);
                    }
                }
                seen[item as usize] = u;
                items.push(item);
                at += 1;
            }
            starts[u as usize + 1] = items.len() as u32;
        }
        Histories { starts, items }
    }
}

/// Every user's distinct items, oldest first ([`Snapshot::histories`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histories {
    /// Where each user's items start in `items`; one more entry than there are users.
    pub starts: Vec<u32>,
    /// The items of every user, one after another.
    pub items: Vec<u32>,
}

impl Histories {
    /// User `u`'s distinct items, oldest first.
    pub fn of(&self, u: u32) -> &[u32] {
        let u = u as usize;
        &self.items[self.starts[u] as usize..self.starts[u + 1] as usize]
    }

    /// How many users there are.
    pub fn users(&self) -> usize {
        self.starts.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_hold_each_item_once_by_its_latest_interaction() {
        let mut b = SnapshotBuilder::default();
        b.push("u1", "a", 10);
        b.push("u2", "b", 5);
        b.push("u1", "b", 20);
        b.push("u1", "a", 30);
        b.push("u1", "c", 30);
        let s = b.finish();
        assert_eq!(*s.users, ["u1", "u2"]);
        assert_eq!(*s.items, ["a", "b", "c"]);
        let h = s.histories();
        assert_eq!(h.users(), 2);
        // a at 30 (load order before c at 30), then c.
        assert_eq!(h.of(0), [1, 0, 2]);
        assert_eq!(h.of(1), [1]);
    }
}
