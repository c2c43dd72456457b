//! personalize-local: a local stand-in for Amazon Personalize's data management, whose heart
//! is the data deletion job.
//!
//! # Layout
//!
//! The data flow of a deletion job, in the order the code runs:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | queue | [`jobs`] | the job record of every kind, claimed from the store under a lease |
//! | input | [`source`] | `s3://` locations; [`source::ObjectSource`] over S3 (`aws-sdk-s3`) or memory |
//! | 1. list | [`source::list`] | every object under a prefix, all sub-folders, all pages |
//! | 2. parse | [`deletion::parse`] on [`csv`] | streamed `USER_ID` CSV, errors with object and line |
//! | 3. dedupe | [`deletion::dedupe`] | the distinct IDs of all files, sorted into [`store::UserIds`] |
//! | 4. purge | [`deletion::purge`] on [`store`] | one transaction: records gone, job `COMPLETED` |
//! | 5. report | [`deletion::report`], [`jobs::run`] | status and the wording of every `failureReason` |
//!
//! The layers, each knowing only those below it:
//!
//! | layer | modules |
//! |---|---|
//! | entry points | [`cli`] (the command line, the demo), [`server`] (the API with a worker), [`testing`] (a server inside a Rust test) |
//! | wire | [`api`]: awsJson1_1 operations; [`api::dto`] turns records into the service's JSON; [`api::events`]: the restJson1 events API; [`api::runtime`]: the restJson1 runtime API |
//! | job runner | [`worker`] (claims jobs and runs each kind's body), [`jobs::run`]: claim, lease, run to the end |
//! | job bodies | [`deletion`], [`import`] (loads, also from the command line; metric attribution reports), [`export`], [`model::training`], [`batch`] (batch inference and segments) |
//! | real time | [`events`]: records put one by one, written with group commit |
//! | I/O | [`source`] (S3, listing), [`csv`] (reader and writer) |
//! | answers | [`answer`]: a deployed model's recommendations from the current records, filters |
//! | training | [`model`] (the training job, the model format) on [`train`] (the algorithms, pure functions over a snapshot of records) |
//! | store | [`store`]: the [`store::DatasetStore`] contract, SQLite by default, in memory |
//! | model | [`jobs::model`]: the job record, data only |

#![warn(missing_docs, unreachable_pub)]

pub mod answer;
pub mod api;
pub mod batch;
pub mod cli;
pub mod csv;
pub mod deletion;
pub mod events;
pub mod export;
pub mod faults;
pub mod import;
pub mod jobs;
pub mod model;
pub mod server;
pub mod source;
pub mod store;
pub mod testing;
pub mod train;
pub mod worker;
