//! Jobs of every kind: one record, one status, one queue, one way to run them.
//!
//! | file | what it holds |
//! |---|---|
//! | [`model`] | [`Job`], [`JobKind`], [`JobStatus`], [`Lease`]: data only, below the store |
//! | [`run`] | [`run::run_to_end`]: a claimed job's body, its lease renewed, its end written |
//!
//! The queue itself is the store's ([`crate::store::DatasetStore::claim`], `renew`,
//! `finish`): a claim moves the oldest pending job of any kind to in-progress under a
//! lease; a running job renews its lease; its end is written only while the lease is held.
//! A job whose worker died is claimed again once its lease expires. The loop that claims
//! jobs and runs each kind's body is [`crate::worker`], above the kinds it runs.

pub mod model;
pub mod run;

pub use self::model::{now_epoch, ImportMode, Job, JobKind, JobSpec, JobStatus, Lease};
