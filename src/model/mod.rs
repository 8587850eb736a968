//! The data every layer shares: the value types that flow from the inputs
//! through the analysis and the policy to the outputs. A type lives here when
//! more than one layer needs it; the model imports only [`crate::support`]
//! (ARCHITECTURE.md, "Layers").

pub mod bouncer;
pub mod duration;
pub mod limits;
pub mod pool;
pub mod promql;
pub mod provenance;
pub mod queuepool;
pub mod simulation;
pub mod slowlog;
pub mod stats;
pub mod window;

pub use duration::{format_duration, parse_duration, parse_seconds};
pub use pool::{DatabaseBudget, PoolSize, ceil_times};
