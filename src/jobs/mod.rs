//! Jobs of every kind: one record, one status, one queue, one way to run them.
//!
//! | file | what it holds |
//! |---|---|
//! | [`model`] | [`Job`], [`JobKind`], [`JobStatus`], [`Lease`]: data only, below the store |
//! | [`run`] | [`run::run_to_end`]: a claimed job's body, its lease renewed, its end written |
//! | [`worker`] | the loop that claims jobs from the store's queue and runs them |
//!
//! The queue itself is the store's ([`crate::store::DatasetStore::claim`], `renew`,
//! `finish`): a claim moves the oldest pending job of any kind to in-progress under a
//! lease; a running job renews its lease; its end is written only while the lease is held.
//! A job whose worker died is claimed again once its lease expires.

pub mod model;
pub mod run;
pub mod worker;

pub use self::model::{now_epoch, ImportMode, Job, JobKind, JobSpec, JobStatus, Lease};
