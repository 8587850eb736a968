//! The config file as written (serde, unknown keys rejected) and its validation
//! into [`Settings`]. Value errors are located with a span-keeping parse of the
//! same text, so they name file, line and key.

use crate::model::limits;
use crate::model::{DatabaseBudget, PoolSize};
use std::path::Path;

use serde::Deserialize;

use super::{
    AlertRule, ConfigError, PolicySettings, PoolDefaults, PoolStatusSettings, PrometheusSettings, ServiceSettings,
    Setting, Settings, Target, TargetKind, Unit, Units, line_column, parse_duration,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    policy: RawPolicy,
    alerts: Option<Vec<RawAlert>>,
    #[serde(default)]
    database: RawDatabase,
    services: Option<Vec<RawService>>,
    #[serde(default)]
    pool: RawPoolDefaults,
    #[serde(default)]
    changelog: RawChangelog,
    #[serde(default)]
    prometheus: RawPrometheus,
    #[serde(default)]
    pool_status: RawPoolStatus,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoolStatus {
    prefix: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    checked_out_metric: Option<String>,
    pool_size_metric: Option<String>,
    overflow_metric: Option<String>,
    timeouts_metric: Option<String>,
    checked_in_metric: Option<String>,
    max_overflow_metric: Option<String>,
    waiting_metric: Option<String>,
    service_label: Option<String>,
    instance_label: Option<String>,
    runbook_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoolDefaults {
    pool_timeout: Option<String>,
    pool_recycle: Option<String>,
    pool_pre_ping: Option<bool>,
    statement_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChangelog {
    template: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    env: Option<RawTarget>,
    toml: Option<RawTarget>,
    yaml: Option<RawTarget>,
    changelog: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    path: String,
    prefix: Option<String>,
    keys: Option<std::collections::BTreeMap<String, String>>,
    units: Option<std::collections::BTreeMap<String, String>>,
    create: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    timezone: Option<String>,
    escalate_mean_utilization: Option<f64>,
    escalate_step: Option<i64>,
    sustained_utilization: Option<f64>,
    sustained_for: Option<String>,
    min_coverage: Option<f64>,
    users_factor: Option<f64>,
    overflow_factor: Option<f64>,
    overprovisioned_utilization: Option<f64>,
    overprovisioned_months: Option<i64>,
    max_gap: Option<String>,
    reorder_window: Option<String>,
    slow_query_seconds: Option<f64>,
    hold_time_seconds: Option<f64>,
    queue_target: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    name: String,
    above: f64,
    #[serde(rename = "for")]
    for_: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    max_connections: Option<i64>,
    superuser_reserved_connections: Option<i64>,
    reserved_connections: Option<i64>,
    headroom: Option<i64>,
    other_clients: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    replicas: Option<i64>,
    processes_per_replica: Option<i64>,
    concurrent_users: Option<i64>,
    max_pool_size: Option<i64>,
    current: Option<RawPool>,
    targets: Option<RawTargets>,
    pool: Option<RawPoolDefaults>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    pool_size: i64,
    max_overflow: i64,
}

/// Finds where a key path was written, for error messages.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
    doc: Option<toml_edit::Document<&'a str>>,
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Locator<'a> {
    fn invalid(&self, segs: &[Seg<'_>], message: impl Into<String>) -> ConfigError {
        let key = segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => format!(".{k}"),
                Seg::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_string();
        let (line, column) = match self.span(segs) {
            Some(offset) => {
                let (l, c) = line_column(self.text, offset);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// Byte offset of the deepest part of `segs` that exists in the file.
    fn span(&self, segs: &[Seg<'_>]) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut item = doc.as_item();
        let mut best = None;
        for seg in segs {
            let next = match seg {
                Seg::Key(k) => item.get(k),
                Seg::Index(i) => item.get(*i),
            };
            match next {
                Some(found) => {
                    item = found;
                    if let Some(span) = found.span() {
                        best = Some(span.start);
                    }
                }
                None => break,
            }
        }
        best
    }
}

pub(super) fn parse(path: &Path, text: &str, services_required: bool) -> Result<Settings, ConfigError> {
    let raw: RawConfig = toml_edit::de::from_str(text).map_err(|err| {
        let (line, column) = match err.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        // A value of the wrong type: name its key, which serde's message does not.
        let key = err.span().and_then(|span| {
            toml_edit::Document::parse(text)
                .ok()
                .and_then(|doc| key_at(doc.as_table(), span.start, ""))
        });
        let message = err.message().trim().to_string();
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: match key {
                Some(key) => format!("{key}: {message}"),
                None => message,
            },
        }
    })?;
    let loc = Locator {
        path,
        text,
        doc: toml_edit::Document::parse(text).ok(),
    };
    validate(raw, &loc, services_required)
}

/// The dotted key (with array indices) whose value holds byte `offset`.
fn key_at(table: &toml_edit::Table, offset: usize, prefix: &str) -> Option<String> {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match item {
            toml_edit::Item::Table(t) => {
                if let Some(found) = key_at(t, offset, &path) {
                    return Some(found);
                }
            }
            toml_edit::Item::ArrayOfTables(array) => {
                for (i, t) in array.iter().enumerate() {
                    if let Some(found) = key_at(t, offset, &format!("{path}[{i}]")) {
                        return Some(found);
                    }
                }
            }
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                if t.span().is_some_and(|s| s.contains(&offset)) {
                    return key_at(&t.clone().into_table(), offset, &path).or(Some(path));
                }
            }
            toml_edit::Item::Value(v) => {
                if v.span().is_some_and(|s| s.contains(&offset)) {
                    return Some(path);
                }
            }
            toml_edit::Item::None => {}
        }
    }
    None
}

fn fraction(loc: &Locator<'_>, segs: &[Seg<'_>], value: f64, low: f64, high: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > low && value <= high {
        Ok(value)
    } else {
        Err(loc.invalid(
            segs,
            format!("must be greater than {low} and at most {high}, got {value}"),
        ))
    }
}

/// A whole number in `min..=max` (the bounds of [`crate::model::limits`]).
fn count(loc: &Locator<'_>, segs: &[Seg<'_>], value: i64, min: u32, max: u32) -> Result<u32, ConfigError> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(loc.invalid(segs, format!("must be a whole number from {min} to {max}, got {value}"))),
    }
}

fn duration(loc: &Locator<'_>, segs: &[Seg<'_>], text: &str) -> Result<i64, ConfigError> {
    parse_duration(text).map_err(|message| loc.invalid(segs, message))
}

/// `[pool]` (or a service's `[services.pool]`): each key given replaces the
/// one of `base`.
fn pool_settings(
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

fn validate(raw: RawConfig, loc: &Locator<'_>, services_required: bool) -> Result<Settings, ConfigError> {
    use Seg::{Index, Key};
    let p = raw.policy;
    let policy_key = |k| [Key("policy"), Key(k)];

    let timezone_name = p.timezone.unwrap_or_else(|| "UTC".to_string());
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
            p.escalate_mean_utilization.unwrap_or(0.60),
            0.0,
            1.0,
        )?,
        escalate_step: count(
            loc,
            &policy_key("escalate_step"),
            p.escalate_step.unwrap_or(5),
            1,
            limits::MAX_STEP,
        )?,
        sustained_utilization: fraction(
            loc,
            &policy_key("sustained_utilization"),
            p.sustained_utilization.unwrap_or(0.80),
            0.0,
            1.0,
        )?,
        sustained_for: duration(
            loc,
            &policy_key("sustained_for"),
            p.sustained_for.as_deref().unwrap_or("5m"),
        )?,
        min_coverage: {
            let v = p.min_coverage.unwrap_or(0.8);
            if !(0.0..=1.0).contains(&v) {
                return Err(loc.invalid(&policy_key("min_coverage"), format!("must be between 0 and 1, got {v}")));
            }
            v
        },
        users_factor: fraction(
            loc,
            &policy_key("users_factor"),
            p.users_factor.unwrap_or(1.5),
            0.0,
            100.0,
        )?,
        overflow_factor: {
            let v = p.overflow_factor.unwrap_or(0.5);
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
            p.overprovisioned_utilization.unwrap_or(0.20),
            0.0,
            1.0,
        )?,
        overprovisioned_months: count(
            loc,
            &policy_key("overprovisioned_months"),
            p.overprovisioned_months.unwrap_or(3),
            1,
            limits::MAX_MONTHS,
        )?,
        max_gap: match p.max_gap.as_deref() {
            Some(text) => Some(duration(loc, &policy_key("max_gap"), text)?),
            None => None,
        },
        reorder_window: duration(
            loc,
            &policy_key("reorder_window"),
            p.reorder_window.as_deref().unwrap_or("1h"),
        )?,
        slow_query_seconds: match p.slow_query_seconds {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                return Err(loc.invalid(
                    &policy_key("slow_query_seconds"),
                    format!("must be a positive number of seconds, got {v}"),
                ));
            }
            Some(v) => v,
            None => 5.0,
        },
        hold_time_seconds: fraction(
            loc,
            &policy_key("hold_time_seconds"),
            p.hold_time_seconds.unwrap_or(0.1),
            0.0,
            3600.0,
        )?,
        queue_target: fraction(
            loc,
            &policy_key("queue_target"),
            p.queue_target.unwrap_or(1e-4),
            0.0,
            1.0,
        )?,
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
                let alert = super::names::alert_name(&a.name);
                if let Some(j) = rules.iter().position(|r| super::names::alert_name(&r.name) == alert) {
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
    };

    let pool = pool_settings(loc, &[Key("pool")], &raw.pool, PoolDefaults::default())?;
    let raw_services = raw.services.unwrap_or_default();
    if raw_services.is_empty() && services_required {
        return Err(loc.invalid(
            &[Key("services")],
            "at least one [[services]] table is needed (name, replicas, processes_per_replica, current)",
        ));
    }
    let mut services: Vec<ServiceSettings> = Vec::with_capacity(raw_services.len());
    for (i, s) in raw_services.into_iter().enumerate() {
        let seg = |k| [Key("services"), Index(i), Key(k)];
        if s.name.trim().is_empty() {
            return Err(loc.invalid(&seg("name"), "must not be empty"));
        }
        if s.name.chars().any(char::is_control) {
            return Err(loc.invalid(
                &seg("name"),
                format!(
                    "{:?} holds a control character (newline, tab, …); a service name is one printable line",
                    s.name
                ),
            ));
        }
        if services.iter().any(|other| other.name == s.name) {
            return Err(loc.invalid(&seg("name"), format!("service {:?} is defined twice", s.name)));
        }
        let cur_key = |k| [Key("services"), Index(i), Key("current"), Key(k)];
        let current = match s.current {
            Some(c) => Some(PoolSize {
                pool_size: count(loc, &cur_key("pool_size"), c.pool_size, 1, limits::MAX_CONNECTIONS)?,
                max_overflow: count(
                    loc,
                    &cur_key("max_overflow"),
                    c.max_overflow,
                    0,
                    limits::MAX_CONNECTIONS,
                )?,
            }),
            None => None,
        };
        let (targets, changelog) = match s.targets {
            Some(t) => targets(loc, i, t)?,
            None => (Vec::new(), None),
        };
        if current.is_none() && targets.is_empty() {
            return Err(loc.invalid(
                &[Key("services"), Index(i)],
                format!(
                    "service {:?} needs `current = {{ pool_size = N, max_overflow = M }}` or [services.targets] to read them from",
                    s.name
                ),
            ));
        }
        let max_pool_size = match s.max_pool_size {
            Some(v) => Some(count(loc, &seg("max_pool_size"), v, 1, limits::MAX_CONNECTIONS)?),
            None => None,
        };
        let service_pool = match &s.pool {
            Some(raw_pool) => pool_settings(loc, &[Key("services"), Index(i), Key("pool")], raw_pool, pool)?,
            None => pool,
        };
        services.push(ServiceSettings {
            pool: service_pool,
            replicas: count(loc, &seg("replicas"), s.replicas.unwrap_or(1), 1, limits::MAX_PROCESSES)?,
            processes_per_replica: count(
                loc,
                &seg("processes_per_replica"),
                s.processes_per_replica.unwrap_or(1),
                1,
                limits::MAX_PROCESSES,
            )?,
            concurrent_users: match s.concurrent_users {
                Some(v) => Some(count(loc, &seg("concurrent_users"), v, 0, limits::MAX_USERS)?),
                None => None,
            },
            max_pool_size,
            current,
            targets,
            changelog,
            name: s.name,
        });
    }
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
        policy,
        alerts,
        database,
        services,
        pool,
        changelog_template,
        prometheus,
        pool_status,
    })
}

/// A valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
fn is_prometheus_name(name: &str, label: bool) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (!label && c == ':');
    let ok_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || (!label && c == ':');
    let mut chars = name.chars();
    chars.next().is_some_and(ok_first) && chars.all(ok_rest) && !(label && name.starts_with("__"))
}

/// A path from the config, relative to the config's directory.
fn resolve(config: &Path, path: &str) -> std::path::PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match config.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

type Targets = (Vec<Target>, Option<std::path::PathBuf>);

fn targets(loc: &Locator<'_>, service: usize, raw: RawTargets) -> Result<Targets, ConfigError> {
    use Seg::{Index, Key};
    let base = |kind: &'static str| [Key("services"), Index(service), Key("targets"), Key(kind)];
    let mut out: Vec<(usize, Target)> = Vec::new();
    for (kind, raw_target) in [
        (TargetKind::Env, raw.env),
        (TargetKind::Toml, raw.toml),
        (TargetKind::Yaml, raw.yaml),
    ] {
        let Some(t) = raw_target else { continue };
        let segs = base(kind.name());
        let at = |k| [segs[0], segs[1], segs[2], segs[3], Key(k)];
        if t.path.trim().is_empty() {
            return Err(loc.invalid(&at("path"), "must not be empty"));
        }
        let prefix: Vec<String> = match (&t.prefix, kind) {
            (Some(_), TargetKind::Env) => {
                return Err(loc.invalid(&at("prefix"), "env files have no prefix; name the keys with `keys`"));
            }
            (Some(p), _) => {
                let parts: Vec<String> = p.split('.').map(str::to_string).collect();
                if parts.iter().any(|s| s.trim().is_empty()) {
                    return Err(loc.invalid(
                        &at("prefix"),
                        format!("{p:?} is not a dotted path like \"database.pool\""),
                    ));
                }
                parts
            }
            (None, _) => Vec::new(),
        };
        let keys: Vec<(Setting, String)> = match t.keys {
            None => Setting::ALL
                .into_iter()
                .map(|s| {
                    (
                        s,
                        if kind == TargetKind::Toml {
                            s.name()
                        } else {
                            s.env_key()
                        }
                        .to_string(),
                    )
                })
                .collect(),
            Some(map) => {
                let mut keys = Vec::new();
                for (name, key) in map {
                    let Some(setting) = Setting::from_name(&name) else {
                        return Err(loc.invalid(
                            &[segs[0], segs[1], segs[2], segs[3], Key("keys"), Key(&name)],
                            format!(
                                "unknown setting {name:?}; settings are {}",
                                Setting::ALL.map(Setting::name).join(", ")
                            ),
                        ));
                    };
                    if key.trim().is_empty() {
                        return Err(loc.invalid(
                            &[segs[0], segs[1], segs[2], segs[3], Key("keys"), Key(&name)],
                            "must not be empty",
                        ));
                    }
                    keys.push((setting, key));
                }
                keys.sort();
                keys
            }
        };
        if t.create == Some(true) && kind == TargetKind::Yaml {
            return Err(loc.invalid(
                &at("create"),
                "a YAML target must already exist (poolcap edits a mapping in it); create the file, then remove `create`",
            ));
        }
        let mut units = Units::default();
        for (name, unit) in t.units.iter().flatten() {
            let at_unit = [segs[0], segs[1], segs[2], segs[3], Key("units"), Key(name)];
            let Some(setting) = Setting::from_name(name).filter(|s| Units::default().of(*s).is_some()) else {
                return Err(loc.invalid(
                    &at_unit,
                    format!("{name:?} has no unit; units apply to pool_timeout, pool_recycle and statement_timeout"),
                ));
            };
            let Some(unit) = Unit::from_name(unit) else {
                return Err(loc.invalid(&at_unit, format!("unknown unit {unit:?}; use \"ms\", \"s\" or \"min\"")));
            };
            units.set(setting, unit);
        }
        let order = loc.span(&segs).unwrap_or(usize::MAX);
        out.push((
            order,
            Target {
                kind,
                path: resolve(loc.path, &t.path),
                shown: t.path,
                prefix,
                keys,
                units,
                create: t.create.unwrap_or(false),
            },
        ));
    }
    // The order written in the file decides which target is the source of truth.
    out.sort_by_key(|(order, _)| *order);
    let changelog = raw.changelog.map(|c| resolve(loc.path, &c));
    Ok((out.into_iter().map(|(_, t)| t).collect(), changelog))
}
