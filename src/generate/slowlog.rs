//! Seeded slow-query logs of a clinical backend's database, in PostgreSQL
//! stderr (`log_line_prefix = '%m [%p] %q%u@%d '`) and MariaDB slow-log
//! formats: the sample deployment's logs and the ≥ 1 GB benchmark inputs.
//!
//! The workload: ward lists and observations read through the extended
//! protocol (parse/bind/execute with `DETAIL:  parameters:`), bed updates and
//! audit inserts with literals, IN lists of varying length, a multi-line
//! handover report that is sometimes slow, and a rare statement over 5 s.

use std::fmt::Write as _;

use super::Rng;

const WARDS: [&str; 6] = [
    "Ward 3B",
    "Acute Medical Unit",
    "ICU",
    "Ward 7",
    "Maternity",
    "Frailty Unit",
];
const ACTIONS: [&str; 4] = ["view_record", "sign_note", "prescribe", "handover"];

/// One statement of the workload.
struct Statement {
    /// Duration, ms.
    ms: f64,
    /// Text lines (continuation lines after the first).
    text: String,
    /// Extended protocol (PostgreSQL parse/bind/execute) with these parameters.
    params: Option<String>,
    user: &'static str,
    database: &'static str,
}

fn statement(rng: &mut Rng) -> Statement {
    let pick = rng.below(100);
    let ward = rng.below(40) + 1;
    let (ms, text, params) = match pick {
        0..=34 => (
            0.2 + rng.uniform() * 2.5,
            "SELECT o.id, o.kind, o.value, o.taken_at FROM observations o WHERE o.patient_id = $1 AND o.taken_at > $2 ORDER BY o.taken_at DESC LIMIT 50".to_string(),
            Some(format!("$1 = '{}', $2 = '2026-10-{:02} 06:00:00+01'", 100_000 + rng.below(90_000), 1 + rng.below(28))),
        ),
        35..=59 => (
            0.3 + rng.uniform() * 4.0,
            format!(
                "SELECT p.id, p.nhs_number, p.family_name, b.label FROM patients p JOIN beds b ON b.patient_id = p.id WHERE b.ward_id = {ward} AND p.discharged_at IS NULL ORDER BY b.label"
            ),
            None,
        ),
        60..=74 => (
            0.1 + rng.uniform(),
            format!("UPDATE beds SET status = '{}', updated_at = now() WHERE bed_id = {}", ["clean", "occupied", "blocked"][rng.below(3) as usize], rng.below(900) + 1),
            None,
        ),
        75..=89 => (
            0.1 + rng.uniform() * 0.6,
            format!(
                "INSERT INTO audit_log (user_id, action, detail, at) VALUES ({}, '{}', 'Überweisung ✓ {}', now())",
                rng.below(5000) + 1,
                ACTIONS[rng.below(4) as usize],
                WARDS[rng.below(6) as usize]
            ),
            None,
        ),
        90..=97 => {
            let n = 1 + rng.below(12) as usize;
            let ids: Vec<String> = (0..n).map(|_| (rng.below(90_000) + 100_000).to_string()).collect();
            (
                1.0 + rng.uniform() * 30.0,
                format!("SELECT patient_id, max(taken_at) FROM observations WHERE patient_id IN ({}) GROUP BY patient_id", ids.join(", ")),
                None,
            )
        }
        _ => {
            // The handover report: multi-line, sometimes very slow.
            let slow = rng.below(8) == 0;
            (
                if slow { 5000.0 + rng.uniform() * 4000.0 } else { 200.0 + rng.uniform() * 1500.0 },
                format!(
                    "SELECT w.name, count(*) AS patients,\n\tavg(extract(epoch FROM now() - a.admitted_at)) AS mean_stay\n\tFROM admissions a JOIN wards w ON w.id = a.ward_id\n\tWHERE a.discharged_at IS NULL AND w.id = {ward}\n\tGROUP BY w.name"
                ),
                None,
            )
        }
    };
    Statement {
        ms,
        text,
        params,
        user: if pick < 60 { "clinic_app" } else { "clinic_worker" },
        database: "clinic",
    }
}

/// Milliseconds between statements for a day-shaped load (busier on weekday mornings).
fn gap_ms(rng: &mut Rng, t_ms: i64, mean_gap_ms: f64) -> i64 {
    let hour = (t_ms / 3_600_000) % 24;
    let busy = if (7..=18).contains(&hour) { 0.5 } else { 2.0 };
    ((-rng.uniform().max(1e-9).ln()) * mean_gap_ms * busy).round() as i64 + 1
}

fn pg_time(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).expect("in range");
    t.strftime("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// Writes a PostgreSQL stderr log from `start_ms` until `end_ms` or until about
/// `bytes` are written, chunk by chunk through `flush`; returns the statements
/// written.
pub fn postgres_stderr(
    seed: u64,
    start_ms: i64,
    end_ms: i64,
    mean_gap_ms: f64,
    bytes: u64,
    mut flush: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut rng = Rng::new(seed ^ 0x0050_574c_4f47);
    let mut out = String::with_capacity(1 << 20);
    let mut written = 0u64;
    let mut t = start_ms;
    let mut statements = 0u64;
    while written < bytes {
        t += gap_ms(&mut rng, t, mean_gap_ms);
        if t >= end_ms {
            break;
        }
        let s = statement(&mut rng);
        let pid = 20_000 + rng.below(64);
        let head = format!("{} [{pid}] {}@{} ", pg_time(t), s.user, s.database);
        match &s.params {
            Some(params) => {
                let parse = 0.05 + rng.uniform() * 0.3;
                let bind = 0.01 + rng.uniform() * 0.1;
                let _ = writeln!(out, "{head}LOG:  duration: {parse:.3} ms  parse S_1: {}", s.text);
                let _ = writeln!(out, "{head}LOG:  duration: {bind:.3} ms  bind S_1: {}", s.text);
                let _ = writeln!(out, "{head}DETAIL:  parameters: {params}");
                let _ = writeln!(out, "{head}LOG:  duration: {:.3} ms  execute S_1: {}", s.ms, s.text);
                let _ = writeln!(out, "{head}DETAIL:  parameters: {params}");
            }
            None => {
                let _ = writeln!(out, "{head}LOG:  duration: {:.3} ms  statement: {}", s.ms, s.text);
            }
        }
        statements += 1;
        if statements.is_multiple_of(5000) {
            let _ = writeln!(out, "{} [{}] LOG:  checkpoint starting: time", pg_time(t), 19_000);
        }
        if out.len() > (1 << 20) {
            written += out.len() as u64;
            flush(&out)?;
            out.clear();
        }
    }
    written += out.len() as u64;
    let _ = written;
    flush(&out)?;
    Ok(statements)
}

/// Writes a MariaDB slow log (`long_query_time = 0`) like [`postgres_stderr`].
pub fn mariadb_slow(
    seed: u64,
    start_ms: i64,
    end_ms: i64,
    mean_gap_ms: f64,
    bytes: u64,
    mut flush: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut rng = Rng::new(seed ^ 0x4d59_534c);
    let mut out = String::with_capacity(1 << 20);
    out.push_str("/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n");
    let mut written = 0u64;
    let mut t = start_ms;
    let mut statements = 0u64;
    let mut last_second = i64::MIN;
    let mut db = "";
    while written < bytes {
        t += gap_ms(&mut rng, t, mean_gap_ms);
        if t >= end_ms {
            break;
        }
        let s = statement(&mut rng);
        let start = t - s.ms.round() as i64;
        let second = t / 1000;
        if second != last_second {
            let ts = jiff::Timestamp::from_second(second).expect("in range");
            let _ = writeln!(out, "# Time: {}", ts.strftime("%y%m%d %k:%M:%S"));
            last_second = second;
        }
        let id = 40 + rng.below(64);
        let _ = writeln!(
            out,
            "# User@Host: {}[{}] @ localhost []\n# Thread_id: {id}  Schema: {}  QC_hit: No",
            s.user, s.user, s.database
        );
        let _ = writeln!(
            out,
            "# Query_time: {:.6}  Lock_time: {:.6}  Rows_sent: {}  Rows_examined: {}\n# Rows_affected: 0  Bytes_sent: {}",
            s.ms / 1000.0,
            rng.uniform() * 0.0001,
            rng.below(50),
            rng.below(5000),
            rng.below(9000)
        );
        if db != s.database {
            let _ = writeln!(out, "use {};", s.database);
            db = s.database;
        }
        // MySQL has no $n parameters: the values are in the text.
        let text = match &s.params {
            Some(_) => s
                .text
                .replace("$1", &(100_000 + rng.below(90_000)).to_string())
                .replace("$2", "'2026-10-05 06:00:00'"),
            None => s.text.replace('\t', "  "),
        };
        let _ = writeln!(
            out,
            "SET timestamp={}.{:03};\n{};",
            start / 1000,
            start.rem_euclid(1000),
            text
        );
        statements += 1;
        if out.len() > (1 << 20) {
            written += out.len() as u64;
            flush(&out)?;
            out.clear();
        }
    }
    flush(&out)?;
    Ok(statements)
}
