//! The config file as written (serde, unknown keys rejected) and its validation
//! into [`Settings`]. Value errors are located with a span-keeping parse of the
//! same text, so they name file, line and key.

use std::path::Path;

use serde::Deserialize;

mod locate;
mod pgbouncer;
mod services;
mod targets;
mod validate;

use super::{ConfigError, Settings, line_column};
use locate::{Locator, key_at};
pub(super) use validate::resolve;
use validate::validate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    policy: RawPolicy,
    alerts: Option<Vec<RawAlert>>,
    #[serde(default)]
    database: RawDatabase,
    services: Option<Vec<RawService>>,
    #[serde(default)]
    pool: RawPoolDefaults,
    #[serde(default)]
    changelog: RawChangelog,
    #[serde(default)]
    prometheus: RawPrometheus,
    #[serde(default)]
    pool_status: RawPoolStatus,
    defaults: Option<RawDefaults>,
    discovery: Option<RawDiscovery>,
    pgbouncer: Option<RawPgbouncer>,
}

/// `[pgbouncer]`: the bouncer in front of the database, its limits written
/// here or read from its `pgbouncer.ini` (`ini`), never both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPgbouncer {
    ini: Option<String>,
    write: Option<bool>,
    changelog: Option<String>,
    pool_mode: Option<String>,
    max_client_conn: Option<i64>,
    default_pool_size: Option<i64>,
    reserve_pool_size: Option<i64>,
    max_db_connections: Option<i64>,
    max_user_connections: Option<i64>,
    headroom: Option<i64>,
    other_clients: Option<i64>,
    databases: Option<std::collections::BTreeMap<String, RawBouncerDatabase>>,
    users: Option<std::collections::BTreeMap<String, RawBouncerUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBouncerDatabase {
    pool_size: Option<i64>,
    reserve_pool: Option<i64>,
    max_db_connections: Option<i64>,
    pool_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBouncerUser {
    max_user_connections: Option<i64>,
    pool_mode: Option<String>,
}

/// `[defaults]`: every key a `[[services]]` block may hold but its name,
/// taken by the services that leave it out and by the discovered ones.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    replicas: Option<RawReplicas>,
    processes_per_replica: Option<i64>,
    concurrent_users: Option<i64>,
    max_pool_size: Option<i64>,
    current: Option<RawPool>,
    targets: Option<RawTargets>,
    pool: Option<RawPoolDefaults>,
    via: Option<String>,
    pgbouncer_database: Option<String>,
    pgbouncer_user: Option<String>,
}

/// `[discovery]`: where the services planned besides `[[services]]` come from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    from: String,
}

/// `replicas`: a number, or a word (`"seen"`: from the metrics).
enum RawReplicas {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for RawReplicas {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawReplicas;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number, or \"seen\" to count the pools in the metrics")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawReplicas, E> {
                Ok(RawReplicas::Count(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawReplicas, E> {
                Ok(RawReplicas::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawReplicas, E> {
                Ok(RawReplicas::Word(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoolStatus {
    prefix: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    checked_out_metric: Option<String>,
    pool_size_metric: Option<String>,
    overflow_metric: Option<String>,
    timeouts_metric: Option<String>,
    checked_in_metric: Option<String>,
    max_overflow_metric: Option<String>,
    waiting_metric: Option<String>,
    service_label: Option<String>,
    instance_label: Option<String>,
    runbook_url: Option<String>,
    selector: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoolDefaults {
    pool_timeout: Option<String>,
    pool_recycle: Option<String>,
    pool_pre_ping: Option<bool>,
    statement_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChangelog {
    template: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    env: Option<RawTarget>,
    toml: Option<RawTarget>,
    yaml: Option<RawTarget>,
    changelog: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    path: String,
    prefix: Option<String>,
    keys: Option<std::collections::BTreeMap<String, String>>,
    units: Option<std::collections::BTreeMap<String, String>>,
    create: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    timezone: Option<String>,
    escalate_mean_utilization: Option<f64>,
    escalate_step: Option<i64>,
    sustained_utilization: Option<f64>,
    sustained_for: Option<String>,
    min_coverage: Option<f64>,
    users_factor: Option<f64>,
    overflow_factor: Option<f64>,
    overprovisioned_utilization: Option<f64>,
    overprovisioned_months: Option<i64>,
    max_gap: Option<String>,
    reorder_window: Option<String>,
    slow_query_seconds: Option<f64>,
    hold_time_seconds: Option<f64>,
    queue_target: Option<f64>,
    simulate_hours: Option<String>,
    hold_distribution: Option<String>,
    simulation_seed: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: String,
    above: f64,
    #[serde(rename = "for")]
    for_: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    max_connections: Option<i64>,
    superuser_reserved_connections: Option<i64>,
    reserved_connections: Option<i64>,
    headroom: Option<i64>,
    other_clients: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    replicas: Option<RawReplicas>,
    processes_per_replica: Option<i64>,
    concurrent_users: Option<i64>,
    max_pool_size: Option<i64>,
    current: Option<RawPool>,
    targets: Option<RawTargets>,
    pool: Option<RawPoolDefaults>,
    via: Option<String>,
    pgbouncer_database: Option<String>,
    pgbouncer_user: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    pool_size: i64,
    max_overflow: i64,
}

pub(super) fn parse(path: &Path, text: &str, services_required: bool) -> Result<Settings, ConfigError> {
    let raw: RawConfig = toml_edit::de::from_str(text).map_err(|err| {
        let (line, column) = match err.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        // A value of the wrong type: name its key, which serde's message does not.
        let key = err.span().and_then(|span| {
            toml_edit::Document::parse(text)
                .ok()
                .and_then(|doc| key_at(doc.as_table(), span.start, ""))
        });
        let message = err.message().trim().to_string();
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: match key {
                Some(key) => format!("{key}: {message}"),
                None => message,
            },
        }
    })?;
    let loc = Locator {
        path,
        text,
        doc: toml_edit::Document::parse(text).ok(),
    };
    validate(raw, &loc, services_required)
}
