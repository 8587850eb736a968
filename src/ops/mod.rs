//! The application layer (cargo's `ops` is the model): each operation takes
//! settings and the run's inputs as plain values, drives ingest, store,
//! analysis, policy and the file editors, and returns an outcome — it parses
//! no arguments, prints no result and picks no exit code. `render` turns an
//! outcome into text; `commands` wires arguments → op → render → exit code.
//! Ops speak to the user only through [`crate::support::notice::Notices`].
//!
//! - [`doctor`]: is a deployment ready to plan.
//! - [`ingest`]: metric files and slow logs into the history store.
//! - [`init`]: a first config from the target files a deployment has.
//! - [`fleet`]: the services the data adds (`[discovery]`, `replicas = "seen"`).
//! - [`metrics`]: metric files or the store → the analysis.
//! - [`plan`]: the month's decisions (the outcome `plan`, `review` and
//!   `apply` share) and the data gate.
//! - [`review`]: the review folder's rules (names, staging, replacing).
//! - [`simulate`]: SQLAlchemy's QueuePool simulated on a synthetic workload.
//! - [`slowlog`]: slow-query logs → one digest.
//! - [`alerts`], [`promtool`]: the alert rules' replay and the promtool
//!   cases that prove the exported rules agree with it.
//! - [`overrides`]: the incident override, checked and ready to write.
//! - [`probe`]: a live server's limits in the budget.
//! - [`targets`]: the deployed settings, drift, and the edits a size needs.
//! - [`apply`]: the change set a decision writes, and what refuses it.
//! - [`change`]: locking, the journaled write and the change records.

pub mod alerts;
pub mod apply;
pub mod change;
pub mod doctor;
pub mod evidence;
pub mod fleet;
pub mod ingest;
pub mod init;
pub mod loadtest;
pub mod metrics;
pub mod overrides;
pub mod pgbouncer;
pub mod plan;
pub mod probe;
pub mod prometheus;
pub mod promtool;
pub mod provenance;
pub mod queueing;
pub mod review;
pub mod simulate;
pub mod slow_review;
pub mod slowlog;
pub mod targets;
pub mod verify;

/// A usage mistake found after parsing (a bad `--month`, say): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
