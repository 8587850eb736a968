//! `poolcap probe` for people.

use std::fmt::Write as _;

use crate::store::probe::Probe;

/// The probe as text.
pub fn table(probe: &Probe) -> String {
    let mut out = String::new();
    match probe {
        Probe::Postgres(p) => {
            let _ = writeln!(out, "PostgreSQL {}", p.server_version);
            let _ = writeln!(
                out,
                "max_connections {}, superuser_reserved_connections {}, reserved_connections {}",
                p.max_connections,
                p.superuser_reserved_connections,
                p.reserved_connections
                    .map_or_else(|| "— (before 16)".to_string(), |r| r.to_string())
            );
            let _ = writeln!(out, "client connections now: {}\n", p.connections);
            let _ = writeln!(out, "{:>6}  {:<22}  APPLICATION", "COUNT", "STATE");
            for g in &p.by_application {
                let app = if g.application.is_empty() {
                    "(none)"
                } else {
                    g.application.as_str()
                };
                let _ = writeln!(out, "{:>6}  {:<22}  {}", g.count, g.state, app);
            }
            let _ = writeln!(
                out,
                "\nidle in transaction for at least {}s: {}",
                p.idle_threshold_seconds,
                p.idle_in_transaction.len()
            );
            for s in &p.idle_in_transaction {
                let _ = writeln!(
                    out,
                    "  pid {} {}@{} ({}) idle {:.0}s — holds a connection and its locks",
                    s.pid, s.user, s.database, s.application, s.idle_seconds
                );
            }
            match &p.top_statements {
                Some(top) => {
                    let _ = writeln!(out, "\ntop statements (pg_stat_statements):");
                    for t in top {
                        let query: String = t
                            .query
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .chars()
                            .take(100)
                            .collect();
                        let _ = writeln!(out, "  {:>10.1} ms  {:>8} calls  {}", t.total_ms, t.calls, query);
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "\npg_stat_statements is not installed (CREATE EXTENSION pg_stat_statements)"
                    );
                }
            }
        }
        Probe::Mysql(m) => {
            let _ = writeln!(out, "MySQL/MariaDB {}", m.version);
            let _ = writeln!(out, "max_connections {}", m.max_connections);
            let _ = writeln!(
                out,
                "Threads_connected {}, Max_used_connections {}",
                m.threads_connected, m.max_used_connections
            );
            let _ = writeln!(
                out,
                "slow_query_log {}, long_query_time {}s, slow_query_log_file {}",
                if m.slow_query_log { "ON" } else { "OFF" },
                m.long_query_time,
                m.slow_query_log_file
            );
        }
    }
    out
}

/// A PgBouncer probe as text: its limits, then each server pool's clients
/// and server connections (waiting clients flagged), then its traffic.
pub fn pgbouncer_table(p: &crate::store::pgbouncer::PgbouncerProbe) -> String {
    let mut out = String::new();
    let c = &p.config;
    let _ = writeln!(out, "{}", p.version);
    let _ = writeln!(
        out,
        "pool_mode {}, max_client_conn {}, default_pool_size {}, reserve_pool_size {} (after {} s of waiting), max_db_connections {}, max_user_connections {}, query_wait_timeout {} s",
        c.pool_mode,
        c.max_client_conn,
        c.default_pool_size,
        c.reserve_pool_size,
        c.reserve_pool_timeout,
        cap(c.max_db_connections),
        cap(c.max_user_connections),
        c.query_wait_timeout,
    );
    let clients: u64 = p.pools.iter().map(|s| s.cl_active + s.cl_waiting).sum();
    let _ = writeln!(out, "client connections now: {clients} of {}\n", c.max_client_conn);
    let _ = writeln!(
        out,
        "{:<20} {:<16} {:>9} {:>10} {:>9} {:>7} {:>8}  {:<11}  SERVER POOL",
        "DATABASE", "USER", "CL_ACTIVE", "CL_WAITING", "SV_ACTIVE", "SV_IDLE", "MAXWAIT", "MODE"
    );
    for s in &p.pools {
        let db = p.databases.iter().find(|d| d.name == s.database);
        let pool = db.map_or_else(
            || "—".to_string(),
            |d| format!("{} + {} reserve", d.pool_size, d.reserve_pool),
        );
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:>9} {:>10} {:>9} {:>7} {:>7.1}s  {:<11}  {pool}{}",
            s.database,
            s.user,
            s.cl_active,
            s.cl_waiting,
            s.sv_active,
            s.sv_idle,
            s.maxwait_seconds,
            s.pool_mode,
            if s.cl_waiting > 0 {
                "  ← clients wait for a server connection"
            } else {
                ""
            }
        );
    }
    if p.pools.is_empty() {
        let _ = writeln!(out, "(no server pools yet: no client has connected)");
    }
    if !p.stats.is_empty() {
        let _ = writeln!(out, "\ntraffic since start (averages over the last stats_period):");
        for s in &p.stats {
            let _ = writeln!(
                out,
                "  {:<20} {:>10} transactions, mean {:.1} ms, mean wait {:.1} ms",
                s.database,
                s.total_xact_count,
                s.avg_xact_time_us as f64 / 1000.0,
                s.avg_wait_time_us as f64 / 1000.0
            );
        }
    }
    out
}

fn cap(n: u32) -> String {
    if n == 0 { "none".into() } else { n.to_string() }
}
