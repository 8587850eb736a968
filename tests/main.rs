//! The one integration test binary: the `poolcap` executable run as a user
//! would, through a small harness (`util`).
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

mod alerts;
mod apply;
mod ci_examples;
mod cli;
mod crash;
mod day1;
mod edits;
mod evidence;
mod export;
mod firstday;
mod fleet;
mod folders;
mod history;
mod hostile;
mod layers;
mod loadtest;
mod mask;
mod outlook;
mod pgbouncer;
mod plan;
mod pool_status_input;
mod probe;
mod prometheus_input;
mod prometheus_server;
mod promtool;
mod review;
mod settings;
mod simulate;
mod slowlog;
mod store;
mod util;
mod verify;
