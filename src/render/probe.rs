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
