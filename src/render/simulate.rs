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

/// `simulate --month`'s table: per service, each size simulated, the
/// smallest meeting the target, and the calibration.
pub fn month_table(r: &crate::ops::simulate::MonthReport) -> String {
    use crate::model::stats::probability_text;
    let mut out = format!(
        "poolcap simulate — {}: the {} instance-hours of each service replayed through QueuePool, seed {}\n",
        r.month, r.hours, r.seed
    );
    for s in &r.services {
        let q = &s.queueing;
        let dispersion = match q.dispersion {
            Some(d) if d > 1.0 => format!("bursts: dispersion {d:.2}, gamma-scaled minutes"),
            Some(d) => format!("dispersion {d:.2} ≤ 1: Poisson"),
            None => "too few minutes to fit a dispersion: Poisson".to_string(),
        };
        out.push_str(&format!(
            "\n{}  {} pool(s), {} instance-hour(s); holds from {} (mean {:.1} ms); pool_timeout {} s; {dispersion}\n",
            s.service,
            s.pools,
            q.instance_hours,
            q.hold_source,
            q.hold_seconds * 1000.0,
            q.timeout_seconds
        ));
        let header = [
            "SIZE",
            "CHECKOUTS",
            "TIMEOUTS",
            "P(TIMEOUT)",
            "P(WAIT)",
            "WAIT P50/P95/P99 MS",
            "SATURATED",
            "PEAK",
            "CONNECTIONS",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_string()).collect()];
        for row in &s.sizes {
            let o = &row.outcome;
            let mut size = format!("{} + {}", o.pool_size, o.max_overflow);
            if o.size() == s.current {
                size.push_str(" (current)");
            }
            if o.size() == s.recommended {
                size.push_str(" (recommended)");
            }
            rows.push(vec![
                size,
                o.checkouts.to_string(),
                o.timeouts.to_string(),
                probability_text(o.p_timeout),
                probability_text(o.p_wait),
                format!("{} / {} / {}", o.wait_p50_ms, o.wait_p95_ms, o.wait_p99_ms),
                format!("{:.0} s", o.saturated_seconds),
                o.peak_in_use.to_string(),
                format!(
                    "{} {}",
                    row.connections,
                    if row.fits_budget { "fits" } else { "over budget" }
                ),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, w))| {
                    if c == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
        }
        out.push_str(&match q.smallest_meeting_target {
            Some(p) => format!(
                "  smallest size with P(timeout) ≤ queue_target {}: {} + {}\n",
                probability_text(q.target),
                p.pool_size,
                p.max_overflow
            ),
            None => format!(
                "  no simulated size keeps P(timeout) ≤ queue_target {}: try larger --pool-sizes\n",
                probability_text(q.target)
            ),
        });
        if let Some(h) = s.headroom {
            out.push_str(&format!(
                "  budget: the largest pool_size it takes, the others as recommended, is {h}\n"
            ));
        }
        out.push_str(&format!("  calibration, {}\n", q.calibration.summary()));
        if let Some(peak) = q.unsimulated_peak {
            out.push_str(&format!(
                "  hours not simulated peaked at {peak:.1} connections in a minute (--hours all simulates them too)\n"
            ));
        }
        if let Some(d) = &q.disagreement {
            out.push_str(&format!("  {d}\n"));
        }
    }
    out
}
