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

/// `probe --pgbouncer URL --record FILE`: appends a `SHOW POOLS` snapshot
/// (every pool, one time) to `path` every `every` seconds, `count` times
/// or until stopped; writes the header when the file is new or empty. Each
/// snapshot is one `write` of whole lines, so a stop between snapshots
/// leaves the file readable. Returns the snapshots written.
pub fn record_pgbouncer(
    url: &str,
    path: &std::path::Path,
    every: std::time::Duration,
    count: Option<u64>,
    notices: &mut dyn crate::support::notice::Notices,
) -> anyhow::Result<u64> {
    use crate::ingest::pgbouncer_pools::{HEADER, csv_row};
    use std::io::Write as _;
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot append to it: {}",
                    path.display(),
                    crate::support::io_text(&e)
                )
            })
    };
    let mut file = open()?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
    if !empty {
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(std::fs::File::open(path)?), &mut first)
            .map_err(|e| anyhow::anyhow!("{}: cannot read it: {}", path.display(), crate::support::io_text(&e)))?;
        if first.trim_end() != HEADER {
            anyhow::bail!(
                "{}: the file is not a SHOW POOLS recording (its first line is not `{HEADER}`); give a new file or an earlier recording",
                path.display()
            );
        }
    }
    if empty {
        file.write_all(format!("{HEADER}\n").as_bytes())?;
    }
    let mut written = 0u64;
    loop {
        let started = std::time::Instant::now();
        let live = probe_pgbouncer(url)?;
        let ts = jiff::Timestamp::now().round(jiff::Unit::Second)?.to_string();
        let mut chunk = String::new();
        for s in &live.pools {
            let pool_size = live
                .databases
                .iter()
                .find(|d| d.name == s.database)
                .map(|d| d.pool_size);
            chunk.push_str(&csv_row(&ts, s, pool_size));
            chunk.push('\n');
        }
        file.write_all(chunk.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: write failed: {}", path.display(), crate::support::io_text(&e)))?;
        written += 1;
        let waiting: u64 = live.pools.iter().map(|s| s.cl_waiting).sum();
        notices.note(&format!(
            "{ts}: {} pool(s), {waiting} client(s) waiting → {}",
            live.pools.len(),
            path.display()
        ));
        if count.is_some_and(|n| written >= n) {
            return Ok(written);
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}
