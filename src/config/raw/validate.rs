//! Validation: the config as written ([`RawConfig`](super::RawConfig)) into
//! [`Settings`], every value checked against [`limits`] with its key located,
//! paths resolved against the config's folder.

use std::path::Path;

use super::locate::{Locator, Seg};
use super::{RawConfig, RawPoolDefaults};
use crate::config::{
    AlertRule, ConfigError, PolicySettings, PoolDefaults, PoolStatusSettings, PrometheusSettings, Settings, line_column,
};
use crate::model::{DatabaseBudget, limits, parse_duration};

pub(super) fn fraction(
    loc: &Locator<'_>,
    segs: &[Seg<'_>],
    value: f64,
    low: f64,
    high: f64,
) -> Result<f64, ConfigError> {
    if value.is_finite() && value > low && value <= high {
        Ok(value)
    } else {
        Err(loc.invalid(
            segs,
            format!("must be greater than {low} and at most {high}, got {value}"),
        ))
    }
}

/// A whole number in `min..=max` (the bounds of [`limits`]).
pub(super) fn count(loc: &Locator<'_>, segs: &[Seg<'_>], value: i64, min: u32, max: u32) -> Result<u32, ConfigError> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(loc.invalid(segs, format!("must be a whole number from {min} to {max}, got {value}"))),
    }
}

pub(super) fn duration(loc: &Locator<'_>, segs: &[Seg<'_>], text: &str) -> Result<i64, ConfigError> {
    parse_duration(text).map_err(|message| loc.invalid(segs, message))
}

/// `[pool]` (or a service's `[services.pool]`): each key given replaces the
/// one of `base`.
pub(super) fn pool_settings(
    loc: &Locator<'_>,
    at: &[Seg<'_>],
    raw: &RawPoolDefaults,
    base: PoolDefaults,
) -> Result<PoolDefaults, ConfigError> {
    let key = |k: &'static str| {
        let mut segs = at.to_vec();
        segs.push(Seg::Key(k));
        segs
    };
    Ok(PoolDefaults {
        pool_timeout: match raw.pool_timeout.as_deref() {
            Some(t) => duration(loc, &key("pool_timeout"), t)?,
            None => base.pool_timeout,
        },
        pool_recycle: match raw.pool_recycle.as_deref() {
            Some(t) => duration(loc, &key("pool_recycle"), t)?,
            None => base.pool_recycle,
        },
        pool_pre_ping: raw.pool_pre_ping.unwrap_or(base.pool_pre_ping),
        statement_timeout_ms: match raw.statement_timeout.as_deref() {
            Some(t) => duration(loc, &key("statement_timeout"), t)? * 1000,
            None => base.statement_timeout_ms,
        },
    })
}

pub(super) fn validate(raw: RawConfig, loc: &Locator<'_>, services_required: bool) -> Result<Settings, ConfigError> {
    use Seg::{Index, Key};
    let p = raw.policy;
    let policy_key = |k| [Key("policy"), Key(k)];

    // The card's defaults for every key left out.
    let card = PolicySettings::default();
    let timezone_name = p.timezone.unwrap_or_else(|| card.timezone_name.clone());
    let timezone = jiff::tz::TimeZone::get(&timezone_name).map_err(|_| {
        loc.invalid(
            &policy_key("timezone"),
            format!("unknown time zone {timezone_name:?}; use an IANA name such as \"Europe/London\" or \"UTC\""),
        )
    })?;
    let policy = PolicySettings {
        timezone,
        timezone_name,
        escalate_mean_utilization: fraction(
            loc,
            &policy_key("escalate_mean_utilization"),
            p.escalate_mean_utilization.unwrap_or(card.escalate_mean_utilization),
            0.0,
            1.0,
        )?,
        escalate_step: count(
            loc,
            &policy_key("escalate_step"),
            p.escalate_step.unwrap_or(i64::from(card.escalate_step)),
            1,
            limits::MAX_STEP,
        )?,
        sustained_utilization: fraction(
            loc,
            &policy_key("sustained_utilization"),
            p.sustained_utilization.unwrap_or(card.sustained_utilization),
            0.0,
            1.0,
        )?,
        sustained_for: match p.sustained_for.as_deref() {
            Some(text) => duration(loc, &policy_key("sustained_for"), text)?,
            None => card.sustained_for,
        },
        min_coverage: {
            let v = p.min_coverage.unwrap_or(card.min_coverage);
            if !(0.0..=1.0).contains(&v) {
                return Err(loc.invalid(&policy_key("min_coverage"), format!("must be between 0 and 1, got {v}")));
            }
            v
        },
        users_factor: fraction(
            loc,
            &policy_key("users_factor"),
            p.users_factor.unwrap_or(card.users_factor),
            0.0,
            100.0,
        )?,
        overflow_factor: {
            let v = p.overflow_factor.unwrap_or(card.overflow_factor);
            if !(v.is_finite() && (0.0..=10.0).contains(&v)) {
                return Err(loc.invalid(
                    &policy_key("overflow_factor"),
                    format!("must be between 0 and 10, got {v}"),
                ));
            }
            v
        },
        overprovisioned_utilization: fraction(
            loc,
            &policy_key("overprovisioned_utilization"),
            p.overprovisioned_utilization
                .unwrap_or(card.overprovisioned_utilization),
            0.0,
            1.0,
        )?,
        overprovisioned_months: count(
            loc,
            &policy_key("overprovisioned_months"),
            p.overprovisioned_months
                .unwrap_or(i64::from(card.overprovisioned_months)),
            1,
            limits::MAX_MONTHS,
        )?,
        max_gap: match p.max_gap.as_deref() {
            Some(text) => Some(duration(loc, &policy_key("max_gap"), text)?),
            None => None,
        },
        reorder_window: match p.reorder_window.as_deref() {
            Some(text) => duration(loc, &policy_key("reorder_window"), text)?,
            None => card.reorder_window,
        },
        slow_query_seconds: match p.slow_query_seconds {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                return Err(loc.invalid(
                    &policy_key("slow_query_seconds"),
                    format!("must be a positive number of seconds, got {v}"),
                ));
            }
            Some(v) => v,
            None => card.slow_query_seconds,
        },
        hold_time_seconds: fraction(
            loc,
            &policy_key("hold_time_seconds"),
            p.hold_time_seconds.unwrap_or(card.hold_time_seconds),
            0.0,
            3600.0,
        )?,
        queue_target: fraction(
            loc,
            &policy_key("queue_target"),
            p.queue_target.unwrap_or(card.queue_target),
            0.0,
            1.0,
        )?,
        simulate_hours: match p.simulate_hours.as_deref() {
            Some(text) => crate::model::simulation::Hours::parse(text)
                .map_err(|message| loc.invalid(&policy_key("simulate_hours"), message))?,
            None => card.simulate_hours,
        },
        hold_distribution: match p.hold_distribution.as_deref() {
            Some(text) => crate::model::simulation::HoldShape::parse(text)
                .map_err(|message| loc.invalid(&policy_key("hold_distribution"), message))?,
            None => card.hold_distribution,
        },
        simulation_seed: match p.simulation_seed {
            Some(v) => u64::try_from(v)
                .map_err(|_| loc.invalid(&policy_key("simulation_seed"), format!("must be zero or more, got {v}")))?,
            None => card.simulation_seed,
        },
    };

    let alerts = match raw.alerts {
        None => vec![
            AlertRule {
                name: "warning".into(),
                above: 0.80,
                for_seconds: 300,
            },
            AlertRule {
                name: "critical".into(),
                above: 0.90,
                for_seconds: 120,
            },
        ],
        Some(list) => {
            let mut rules: Vec<AlertRule> = Vec::with_capacity(list.len());
            for (i, a) in list.into_iter().enumerate() {
                let seg = |k| [Key("alerts"), Index(i), Key(k)];
                if a.name.trim().is_empty() {
                    return Err(loc.invalid(&seg("name"), "must not be empty"));
                }
                if a.name.chars().any(char::is_control) {
                    return Err(loc.invalid(
                        &seg("name"),
                        format!(
                            "{:?} holds a control character (newline, tab, …); a rule name is one printable line",
                            a.name
                        ),
                    ));
                }
                if rules.iter().any(|r| r.name == a.name) {
                    return Err(loc.invalid(&seg("name"), format!("alert rule {:?} is defined twice", a.name)));
                }
                // Each rule becomes one Prometheus alert: two may not share its name.
                let alert = crate::config::names::alert_name(&a.name);
                if let Some(j) = rules
                    .iter()
                    .position(|r| crate::config::names::alert_name(&r.name) == alert)
                {
                    let first = loc
                        .span(&[Key("alerts"), Index(j), Key("name")])
                        .map_or_else(String::new, |o| format!(" (line {})", line_column(loc.text, o).0));
                    return Err(loc.invalid(
                        &seg("name"),
                        format!(
                            "alert rules {:?}{first} and {:?} would both be exported as the Prometheus alert {alert} \
                             (names that differ only in case or in '-', '_' and spaces are one alert name); rename one of them",
                            rules[j].name, a.name
                        ),
                    ));
                }
                rules.push(AlertRule {
                    above: fraction(loc, &seg("above"), a.above, 0.0, 10.0)?,
                    for_seconds: duration(loc, &seg("for"), &a.for_)?,
                    name: a.name,
                });
            }
            rules
        }
    };

    let d = raw.database;
    let db_key = |k| [Key("database"), Key(k)];
    let database = DatabaseBudget {
        max_connections: count(
            loc,
            &db_key("max_connections"),
            d.max_connections.unwrap_or(100),
            1,
            limits::MAX_CONNECTIONS,
        )?,
        superuser_reserved_connections: count(
            loc,
            &db_key("superuser_reserved_connections"),
            d.superuser_reserved_connections.unwrap_or(3),
            0,
            limits::MAX_CONNECTIONS,
        )?,
        reserved_connections: count(
            loc,
            &db_key("reserved_connections"),
            d.reserved_connections.unwrap_or(0),
            0,
            limits::MAX_CONNECTIONS,
        )?,
        headroom: count(
            loc,
            &db_key("headroom"),
            d.headroom.unwrap_or(5),
            0,
            limits::MAX_CONNECTIONS,
        )?,
        other_clients: count(
            loc,
            &db_key("other_clients"),
            d.other_clients.unwrap_or(0),
            0,
            limits::MAX_CONNECTIONS,
        )?,
        bouncer: None,
    };
    let (bouncer, pgbouncer_ini) = super::pgbouncer::bouncer(loc, raw.pgbouncer)?;
    let database = crate::model::DatabaseBudget { bouncer, ..database };

    let pool = pool_settings(loc, &[Key("pool")], &raw.pool, PoolDefaults::default())?;
    let bouncer = database.bouncer.as_ref();
    let defaults = super::services::defaults(loc, raw.defaults, pool, bouncer)?;
    let discovery = super::services::discovery(loc, raw.discovery, defaults.as_ref())?;
    let services = super::services::services(
        loc,
        raw.services.unwrap_or_default(),
        defaults.as_ref(),
        pool,
        services_required && discovery == crate::config::Discovery::Config,
        bouncer,
    )?;
    let changelog_template = raw.changelog.template.map(|t| resolve(loc.path, &t));

    let prom_defaults = PrometheusSettings::default();
    let prom_key = |k| [Key("prometheus"), Key(k)];
    let name = |key: &'static str, value: Option<String>, default: &str, label: bool| {
        let value = value.unwrap_or_else(|| default.to_string());
        if is_prometheus_name(&value, label) {
            Ok(value)
        } else {
            Err(loc.invalid(
                &prom_key(key),
                format!(
                    "{value:?} is not a Prometheus {} name ([a-zA-Z_{}][a-zA-Z0-9_{}]*)",
                    if label { "label" } else { "metric" },
                    if label { "" } else { ":" },
                    if label { "" } else { ":" },
                ),
            ))
        }
    };
    let prometheus = PrometheusSettings {
        checked_out_metric: name(
            "checked_out_metric",
            raw.prometheus.checked_out_metric,
            &prom_defaults.checked_out_metric,
            false,
        )?,
        pool_size_metric: name(
            "pool_size_metric",
            raw.prometheus.pool_size_metric,
            &prom_defaults.pool_size_metric,
            false,
        )?,
        overflow_metric: name(
            "overflow_metric",
            raw.prometheus.overflow_metric,
            &prom_defaults.overflow_metric,
            false,
        )?,
        timeouts_metric: name(
            "timeouts_metric",
            raw.prometheus.timeouts_metric,
            &prom_defaults.timeouts_metric,
            false,
        )?,
        checked_in_metric: name(
            "checked_in_metric",
            raw.prometheus.checked_in_metric,
            &prom_defaults.checked_in_metric,
            false,
        )?,
        max_overflow_metric: name(
            "max_overflow_metric",
            raw.prometheus.max_overflow_metric,
            &prom_defaults.max_overflow_metric,
            false,
        )?,
        waiting_metric: name(
            "waiting_metric",
            raw.prometheus.waiting_metric,
            &prom_defaults.waiting_metric,
            false,
        )?,
        service_label: name(
            "service_label",
            raw.prometheus.service_label,
            &prom_defaults.service_label,
            true,
        )?,
        instance_label: name(
            "instance_label",
            raw.prometheus.instance_label,
            &prom_defaults.instance_label,
            true,
        )?,
        runbook_url: raw.prometheus.runbook_url.unwrap_or(prom_defaults.runbook_url),
        selector: match raw.prometheus.selector {
            None => prom_defaults.selector,
            Some(text) => crate::model::promql::Selector::parse(&text).map_err(|why| {
                loc.invalid(
                    &prom_key("selector"),
                    format!("{text:?} is not a series selector: {why}"),
                )
            })?,
        },
    };

    let ps_key = |k| [Key("pool_status"), Key(k)];
    let prefix_text = raw
        .pool_status
        .prefix
        .unwrap_or_else(|| PoolStatusSettings::DEFAULT_PREFIX.to_string());
    let prefix = regex::Regex::new(&prefix_text)
        .map_err(|e| loc.invalid(&ps_key("prefix"), format!("not a regular expression: {e}")))?;
    if !prefix.capture_names().any(|n| n == Some("ts")) {
        return Err(loc.invalid(
            &ps_key("prefix"),
            "the prefix needs a named group (?P<ts>…) holding the time".to_string(),
        ));
    }
    let pool_status = PoolStatusSettings {
        prefix,
        timezone: match raw.pool_status.timezone {
            None => policy.timezone.clone(),
            Some(name) => jiff::tz::TimeZone::get(&name).map_err(|_| {
                loc.invalid(
                    &ps_key("timezone"),
                    format!("unknown time zone {name:?}; use an IANA name such as \"Europe/London\" or \"UTC\""),
                )
            })?,
        },
    };

    Ok(Settings {
        path: loc.path.to_path_buf(),
        sha256: crate::support::digest::sha256_hex(loc.text.as_bytes()),
        policy,
        alerts,
        database,
        services,
        pool,
        changelog_template,
        prometheus,
        pool_status,
        defaults,
        discovery,
        pgbouncer_ini,
    })
}

/// A valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
pub(super) fn is_prometheus_name(name: &str, label: bool) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':');
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || (!label && c == ':');
    let mut chars = name.chars();
    chars.next().is_some_and(ok_first) && chars.all(ok_rest) && !(label && name.starts_with("__"))
}

/// A path from the config, relative to the config's directory.
pub(in crate::config) fn resolve(config: &Path, path: &str) -> std::path::PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match config.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
        _ => p.to_path_buf(),
    }
}
