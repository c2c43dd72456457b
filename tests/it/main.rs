//! One integration-test binary: the deletion job end to end, the command line and imports.

mod admin;
mod api;
mod api_jobs;
mod api_resources;
mod attribution;
mod audit;
mod batch;
mod cli;
mod common;
mod crash;
mod deletion;
mod erasure;
mod events;
mod faults;
mod filters;
mod import;
mod isolation;
mod operations;
mod pages;
mod processes;
mod recipes;
mod recommenders;
mod runtime;
mod stall;
mod testing;
mod training;
