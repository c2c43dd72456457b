//! Answers: what a deployed model recommends for one request, computed from the trained
//! model ([`crate::model::format::Model`], which holds items only) and the records the store
//! holds now (the user's history, the items' metadata), so a user purged by a COMPLETED data
//! deletion job has no history here from that moment, and what only that user interacted
//! with stops being recommended once the model is retrained.
//!
//! | file | what it holds |
//! |---|---|
//! | [`cold`] | items like an item the model does not know, by its categorical values |
//! | [`deployed`] | a model loaded for answering, and the cache of loaded models |
//! | [`filter`] | the filter expression language: parsed, checked, bound to values, applied |
//! | [`history`] | a user's history, read by key from the store |
//! | [`select`] | the candidates a request answers with: filters and promotions applied, facts read by key |
//! | `rank.rs` | items for a user, items like an item, a list reordered, actions |

pub mod cold;
pub mod deployed;
pub mod filter;
pub mod history;
mod rank;
pub mod select;

pub use self::rank::{actions_for_user, items_for_user, rank_items, related_items, Scored};
