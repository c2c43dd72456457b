//! personalize-local: a local stand-in for Amazon Personalize's data management, whose heart
//! is the data deletion job.
//!
//! # Layout
//!
//! The data flow of a deletion job, in the order the code runs:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | input | [`source`] | `s3://` locations; [`source::ObjectSource`] over S3 (`aws-sdk-s3`) or memory |
//! | 1. list | [`deletion::list`] | every object under a prefix, all sub-folders, all pages |
//! | 2. parse | [`deletion::parse`] on [`records`] | streamed `USER_ID` CSV, errors with object and line |
//! | 3. dedupe | [`deletion::dedupe`] | the distinct IDs of all files |
//! | 4. purge | [`deletion::purge`] on [`store`] | one transaction: records gone, job `COMPLETED` |
//! | 5. report | [`deletion::report`], [`job`] | status and the wording of every `failureReason` |
//!
//! Around it: [`api`], [`server`] and [`worker`] (the Personalize API over awsJson1_1, and
//! the worker that runs the jobs it records), [`store`] (the pluggable
//! [`store::DatasetStore`], SQLite by default),
//! [`schema`] (the Avro schemas datasets take their columns from),
//! [`import`] and [`import_job`] (loading datasets from S3 through the same CSV path, from
//! the command line or as the API's dataset import jobs), [`export`] (dataset export jobs:
//! records streamed to S3 as CSV), [`embedded_s3`] (an
//! S3 endpoint over a local folder, for the demo and the tests) and [`cli`] (the command line).

#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod cli;
pub mod deletion;
pub mod demo;
pub mod embedded_s3;
pub mod export;
pub mod import;
pub mod import_job;
pub mod job;
pub mod records;
pub mod schema;
pub mod server;
pub mod source;
pub mod store;
pub mod worker;
