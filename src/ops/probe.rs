//! A live database's limits: the probe (through the store's sqlx code) and
//! the connection budget with the server's limits in place of the config's.

use crate::model::DatabaseBudget;
use crate::store::probe::{self, Probe};

/// Probes `url`.
pub fn probe_url(url: &str, idle_threshold_seconds: f64) -> anyhow::Result<Probe> {
    Ok(probe::probe(url, idle_threshold_seconds)?)
}

/// The budget with the live server's limits in place of the configured ones.
pub fn budget_from(probe: &Probe, configured: &DatabaseBudget) -> DatabaseBudget {
    match probe {
        Probe::Postgres(p) => DatabaseBudget {
            max_connections: p.max_connections,
            superuser_reserved_connections: p.superuser_reserved_connections,
            reserved_connections: p.reserved_connections.unwrap_or(0),
            ..configured.clone()
        },
        Probe::Mysql(m) => DatabaseBudget {
            max_connections: m.max_connections,
            // MySQL keeps one extra connection for a SUPER user, not a setting.
            superuser_reserved_connections: 1,
            reserved_connections: 0,
            ..configured.clone()
        },
    }
}
