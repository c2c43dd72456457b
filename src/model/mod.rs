//! Models: solution versions trained from the store's records by the algorithms of
//! [`crate::train`], kept in the store as blobs.
//!
//! | file | what it holds |
//! |---|---|
//! | [`format`] | a trained model's bytes |
//! | [`training`] | the training job: snapshot, minimum data, metrics, model, one commit |
//! | [`auto`] | automatic training: the versions a solution's schedule calls for |
//! | `semantic.rs` | training aws-semantic-similarity from the Items dataset's text |

pub mod auto;
pub mod format;
mod semantic;
pub mod training;
