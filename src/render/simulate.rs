//! `poolcap simulate`'s table: the scenario, then what the pool did.

use crate::ops::simulate::SimulationReport;

/// The report as aligned lines.
pub fn table(r: &SimulationReport) -> String {
    let s = &r.scenario;
    let pct = |x: f64| format!("{:.2} %", x * 100.0);
    let servers = u64::from(s.pool_size) + u64::from(s.max_overflow);
    let erlang = match r.erlang_c_p_wait {
        Some(c) => format!("Erlang C P(wait) for {servers} servers: {}", pct(c)),
        None => format!("at or beyond the {servers} connections: Erlang C has no steady state"),
    };
    let rows = [
        (
            "scenario",
            format!(
                "{}/s, hold {}, pool {} + {}, timeout {} s, connect {} ms, {} s, seed {}",
                s.arrivals,
                s.hold,
                s.pool_size,
                s.max_overflow,
                s.pool_timeout,
                s.connect_ms,
                s.duration_seconds,
                s.seed
            ),
        ),
        ("checkouts", r.checkouts.to_string()),
        ("timeouts", format!("{} ({})", r.timeouts, pct(r.p_timeout))),
        ("waited", format!("{} of checkouts", pct(r.p_wait))),
        (
            "wait p50/p95/p99",
            format!("{} / {} / {} ms", r.wait_p50_ms, r.wait_p95_ms, r.wait_p99_ms),
        ),
        (
            "connections",
            format!(
                "peak {} in use, mean {:.2}; {} opened; all in use for {:.1} s",
                r.peak_in_use, r.mean_in_use, r.opened, r.saturated_seconds
            ),
        ),
        ("offered load", format!("{:.2} Erlangs ({erlang})", r.offered_load)),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<18}{v}\n"));
    }
    out
}
