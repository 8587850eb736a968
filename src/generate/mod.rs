//! The seeded generator of the sample deployment in `data/` and of benchmark
//! inputs (DESIGN §6). Pure: it produces rows; `commands::generate` writes them (docs/sample-data.md).
//!
//! The load model: each instance's utilization follows the hour of day and
//! weekday in local time (ward rounds 08:00–10:30 and 14:00–15:30 on weekdays,
//! lighter nights and weekends), scaled by a month-on-month growth, with
//! autocorrelated noise and per-minute jitter. The same seed gives the same
//! bytes on every machine: the PRNG is written here, not taken from a crate
//! whose streams may change between versions.

pub mod slowlog;

use jiff::tz::TimeZone;

use crate::model::window::Month;

pub use crate::support::rng::Rng;

/// One generated CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Unix seconds.
    pub ts: i64,
    /// Service name.
    pub service: &'static str,
    /// Instance index within the service.
    pub instance: usize,
    /// Pool size.
    pub pool_size: u32,
    /// Overflow limit.
    pub max_overflow: u32,
    /// Connections in use.
    pub checked_out: u32,
    /// Callers waiting.
    pub waiting: u32,
    /// Cumulative timeouts.
    pub timeouts: u64,
}

impl Row {
    /// `checked_in` as SQLAlchemy reports it on a warmed-up pool.
    pub fn checked_in(&self) -> u32 {
        self.pool_size.saturating_sub(self.checked_out)
    }

    /// SQLAlchemy's `overflow()` on a warmed-up pool: connections beyond `pool_size`.
    pub fn overflow(&self) -> i64 {
        i64::from(self.checked_out.max(self.pool_size)) - i64::from(self.pool_size)
    }
}

/// The CSV header of generated files.
pub const HEADER: &str = "ts,service,instance,pool_size,max_overflow,checked_out,checked_in,overflow,waiting,timeouts";

/// Appends `row` as CSV (instance names are `{service}-{replica}-w{process}`).
pub fn write_row(out: &mut String, row: &Row, processes_per_replica: usize) {
    use std::fmt::Write as _;
    let replica = row.instance / processes_per_replica;
    let process = row.instance % processes_per_replica + 1;
    let _ = writeln!(
        out,
        "{},{},{}-{replica}-w{process},{},{},{},{},{},{},{}",
        jiff::Timestamp::from_second(row.ts).map_or_else(|_| row.ts.to_string(), |t| t.to_string()),
        row.service,
        row.service,
        row.pool_size,
        row.max_overflow,
        row.checked_out,
        row.checked_in(),
        row.overflow(),
        row.waiting,
        row.timeouts,
    );
}

/// The typical utilization of a backend pool at a local hour (fractional) and weekday.
pub fn daily_shape(hour: f64, weekday: i8) -> f64 {
    let weekend = weekday >= 6;
    let bump = |center: f64, width: f64, height: f64| height * (-((hour - center) / width).powi(2)).exp();
    let day = 0.44 + 0.16 * (((hour - 7.0) / 14.0 * std::f64::consts::PI).sin().max(0.0));
    if weekend {
        0.9 * day + bump(9.5, 1.0, 0.06)
    } else {
        day + bump(9.0, 0.8, 0.17) + bump(14.7, 0.6, 0.09)
    }
}

/// A service of the sample deployment.
#[derive(Debug, Clone)]
pub struct SampleService {
    /// Name.
    pub name: &'static str,
    /// Replicas × processes.
    pub instances: usize,
    /// Processes per replica (for instance names).
    pub processes_per_replica: usize,
    /// Load relative to the backend's shape.
    pub load: f64,
}

/// The sample deployment's months (reviewed month last).
pub fn sample_months() -> [Month; 3] {
    [
        Month { year: 2026, month: 8 },
        Month { year: 2026, month: 9 },
        Month { year: 2026, month: 10 },
    ]
}

/// The sample deployment's services.
pub fn sample_services() -> [SampleService; 2] {
    [
        SampleService {
            name: "backend",
            instances: 4,
            processes_per_replica: 2,
            load: 1.0,
        },
        SampleService {
            name: "worker",
            instances: 2,
            processes_per_replica: 2,
            load: 0.33,
        },
    ]
}

fn growth(month: Month) -> f64 {
    match (month.year, month.month) {
        (2026, 8) => 0.80,
        (2026, 9) => 0.90,
        _ => 1.24,
    }
}

/// Generates one month of per-minute samples of the sample deployment, in time
/// order, all instances at each minute (with a few seconds of scrape jitter).
///
/// Built in: the worker's pool grows from 8 to 10 on 15 September; a saturation
/// incident with timeouts on the backend on Wednesday 16 September 09:05–10:00
/// local time; a 45-minute scrape outage of one backend instance on 20 August.
pub fn sample_month(month: Month, seed: u64, tz: &TimeZone) -> Vec<Row> {
    let window = month.window(tz);
    let services = sample_services();
    let mut rng = Rng::new(seed ^ (month.year as u64) << 8 ^ month.month as u64);
    let instances: usize = services.iter().map(|s| s.instances).sum();
    let mut noise = vec![0.0f64; instances];
    let mut timeouts = vec![0u64; instances];
    let mut rows = Vec::with_capacity((window.seconds() / 60) as usize * instances);
    let incident = |local: &jiff::civil::DateTime| {
        local.month() == 9
            && local.day() == 16
            && ((9 * 60 + 5)..(10 * 60)).contains(&(local.hour() as i32 * 60 + local.minute() as i32))
    };
    let outage = |local: &jiff::civil::DateTime| {
        local.month() == 8 && local.day() == 20 && local.hour() == 13 && local.minute() < 45
    };
    let mut minute = window.start;
    while minute < window.end {
        let local = jiff::Timestamp::from_second(minute)
            .expect("in range")
            .to_zoned_datetime(tz.clone())
            .datetime();
        let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
        let weekday = local.weekday().to_monday_one_offset();
        let shape = daily_shape(hour, weekday);
        let mut k = 0;
        for service in &services {
            for i in 0..service.instances {
                let (pool_size, max_overflow) = match service.name {
                    "worker" if (month.month, local.day()) < (9, 15) => (8, 4),
                    "worker" => (10, 5),
                    _ => (20, 10),
                };
                noise[k] = 0.9 * noise[k] + 0.018 * rng.normal();
                let jitter = rng.below(4) as i64;
                let ts = minute + jitter;
                if service.name == "backend" && i == 3 && outage(&local) {
                    k += 1;
                    continue;
                }
                let capacity = pool_size + max_overflow;
                // The backend grows month on month; the worker's load is flat.
                let growth = if service.name == "backend" { growth(month) } else { 1.0 };
                let u = (shape * growth * service.load + noise[k] + 0.025 * rng.normal()).max(0.0);
                let mut checked_out = (u * f64::from(pool_size)).round() as u32;
                let mut waiting = 0;
                if service.name == "backend" && incident(&local) {
                    // A lock-holding migration query: connections pile up until the cap.
                    let into = f64::from(local.hour() as i32 * 60 + local.minute() as i32 - (9 * 60 + 5));
                    checked_out = checked_out.max((f64::from(pool_size) * (0.9 + into / 12.0)).round() as u32);
                    if checked_out >= capacity {
                        waiting = 2 + rng.below(6) as u32;
                        if rng.uniform() < 0.35 {
                            timeouts[k] += 1 + rng.below(3);
                        }
                    }
                }
                rows.push(Row {
                    ts,
                    service: service.name,
                    instance: i,
                    pool_size,
                    max_overflow,
                    checked_out: checked_out.min(capacity),
                    waiting,
                    timeouts: timeouts[k],
                });
                k += 1;
            }
        }
        minute += 60;
    }
    rows
}

/// Generates the benchmark input: one month (UTC) of samples every `interval`
/// seconds for `instances` instances of `backend`, timestamps as RFC 3339 or
/// Unix seconds, written as CSV chunk by chunk through `flush` (so memory stays
/// small).
pub fn bench_csv(
    month: Month,
    instances: u32,
    interval: i64,
    seed: u64,
    rfc3339: bool,
    mut flush: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let window = month.window(&TimeZone::UTC);
    let mut rng = Rng::new(seed);
    let mut noise = vec![0.0f64; instances as usize];
    let mut out = String::with_capacity(1 << 20);
    out.push_str("ts,service,instance,pool_size,max_overflow,checked_out,waiting,timeouts\n");
    let mut rows = 0u64;
    let mut t = window.start;
    while t < window.end {
        let secs = t - window.start;
        let hour = (secs % 86_400) as f64 / 3600.0;
        let weekday = ((secs / 86_400 + 3) % 7 + 1) as i8; // 2026-10-01 is a Thursday
        let shape = daily_shape(hour, weekday);
        for (i, noise) in noise.iter_mut().enumerate() {
            *noise = 0.95 * *noise + 0.03 * rng.normal();
            let checked_out = ((shape + *noise).clamp(0.0, 1.5) * 20.0).round() as u32;
            use std::fmt::Write as _;
            let ts = t + rng.below(3) as i64;
            if rfc3339 {
                let _ = write!(out, "{}", jiff::Timestamp::from_second(ts).expect("in range"));
            } else {
                let _ = write!(out, "{ts}");
            }
            let _ = writeln!(out, ",backend,backend-{i:02},20,10,{},0,0", checked_out.min(30));
            rows += 1;
        }
        if out.len() > (1 << 20) - 4096 {
            flush(&out)?;
            out.clear();
        }
        t += interval;
    }
    flush(&out)?;
    Ok(rows)
}

/// The share of its checked-out connections a service has inside a
/// transaction at a moment: behind PgBouncer in transaction mode, only those
/// hold a server connection.
const IN_TRANSACTION: f64 = 0.42;

/// PgBouncer's `SHOW POOLS` of the sample deployment behind the sample
/// `data/pgbouncer/pgbouncer.ini` (database `ehr`, pool_size 25 + 5
/// reserve; users `ehr_app` for the backend, `ehr_worker` for the worker),
/// one snapshot per pool per minute, made from the month's `rows`: busy
/// server connections are the in-transaction share of the service's
/// checked-out connections, up to the pool and its reserve; the rest wait.
pub fn sample_pgbouncer_pools(rows: &[Row]) -> Vec<(i64, crate::model::bouncer::PoolSnapshot)> {
    const POOL: u64 = 25;
    const RESERVE: u64 = 5;
    let mut out = Vec::new();
    let mut k = 0;
    while k < rows.len() {
        let minute = rows[k].ts - rows[k].ts.rem_euclid(60);
        let mut end = k;
        while end < rows.len() && rows[end].ts - rows[end].ts.rem_euclid(60) == minute {
            end += 1;
        }
        for (service, user) in [("backend", "ehr_app"), ("worker", "ehr_worker")] {
            let (clients, checked_out) = rows[k..end]
                .iter()
                .filter(|r| r.service == service)
                .fold((0u64, 0u64), |(c, o), r| {
                    (c + u64::from(r.pool_size), o + u64::from(r.checked_out))
                });
            let demand = (checked_out as f64 * IN_TRANSACTION).round() as u64;
            let sv_active = demand.min(POOL + RESERVE);
            let cl_waiting = demand - sv_active;
            out.push((
                minute,
                crate::model::bouncer::PoolSnapshot {
                    database: "ehr".into(),
                    user: user.into(),
                    cl_active: clients.saturating_sub(cl_waiting),
                    cl_waiting,
                    sv_active,
                    sv_idle: (POOL + RESERVE).min(POOL.max(sv_active)) - sv_active,
                    sv_used: 0,
                    sv_tested: 0,
                    sv_login: 0,
                    maxwait_seconds: if cl_waiting > 0 { 2.0 * cl_waiting as f64 } else { 0.0 },
                    pool_mode: "transaction".into(),
                },
            ));
        }
        k = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable() {
        let mut r = Rng::new(7);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Rng::new(7);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn ward_rounds_peak_on_weekday_mornings() {
        assert!(daily_shape(9.0, 2) > daily_shape(3.0, 2) + 0.2);
        assert!(daily_shape(9.0, 2) > daily_shape(9.0, 7) + 0.1);
    }
}
