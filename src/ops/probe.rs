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

/// Probes PgBouncer's admin console at `url`.
pub fn probe_pgbouncer(url: &str) -> anyhow::Result<crate::store::pgbouncer::PgbouncerProbe> {
    Ok(crate::store::pgbouncer::probe(url)?)
}

/// PgBouncer's limits as the live console reports them, with poolcap's own
/// settings (headroom, other clients) and the per-user caps (which `SHOW
/// USERS` does not give) kept from `configured`.
pub fn bouncer_from(
    live: &crate::store::pgbouncer::PgbouncerProbe,
    configured: &crate::model::bouncer::Bouncer,
    source: &str,
) -> crate::model::bouncer::Bouncer {
    use crate::model::bouncer::{Bouncer, BouncerDatabase, PoolMode};
    let c = &live.config;
    Bouncer {
        source: source.to_string(),
        pool_mode: PoolMode::parse(&c.pool_mode).unwrap_or(configured.pool_mode),
        max_client_conn: c.max_client_conn,
        default_pool_size: c.default_pool_size,
        reserve_pool_size: c.reserve_pool_size,
        max_db_connections: c.max_db_connections,
        max_user_connections: c.max_user_connections,
        headroom: configured.headroom,
        other_clients: configured.other_clients,
        databases: live
            .databases
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    BouncerDatabase {
                        pool_size: Some(d.pool_size),
                        // 0 on the console: the [pgbouncer] default applies.
                        reserve_pool: (d.reserve_pool > 0).then_some(d.reserve_pool),
                        max_db_connections: (d.max_connections > 0).then_some(d.max_connections),
                        pool_mode: d.pool_mode.as_deref().and_then(PoolMode::parse),
                    },
                )
            })
            .collect(),
        users: configured.users.clone(),
    }
}
