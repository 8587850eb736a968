//! The documented bounds on every number poolcap takes from a config file, a
//! target file, the command line or the data (docs/config.md, "Limits").
//!
//! They are far above any real deployment (PostgreSQL caps `max_connections`
//! at 262 143, MySQL at 100 000) and low enough that every sum and product
//! poolcap forms from them fits a `u64` with room to spare: a service's
//! connections are at most `MAX_PROCESSES² × 2 × MAX_CONNECTIONS` ≈ 2 × 10¹⁶.
//! Values beyond them are rejected where they are read: config keys with
//! file:line:column (exit 2), target values with file and key, data rows as bad
//! rows with the code `beyond-limit`.

/// Any count of connections: `pool_size`, `max_overflow`, `max_pool_size`,
/// `max_connections`, reserved connections, headroom, other clients, and the
/// sample columns `pool_size`, `checked_out`, `max_overflow`, `waiting`.
pub const MAX_CONNECTIONS: u32 = 1_000_000;

/// `replicas` and `processes_per_replica`, each.
pub const MAX_PROCESSES: u32 = 100_000;

/// `concurrent_users` of the sizing formula.
pub const MAX_USERS: u32 = 10_000_000;

/// `escalate_step`: connections added by one escalation step.
pub const MAX_STEP: u32 = 10_000;

/// `overprovisioned_months` (ten years).
pub const MAX_MONTHS: u32 = 120;

/// Any duration in the config or on the command line, seconds (ten years of
/// 366 days): `statement_timeout` in milliseconds and sums of durations stay
/// far inside `i64`.
pub const MAX_DURATION_SECONDS: i64 = 3660 * 86_400;
