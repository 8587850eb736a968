//! Monitoring-stack exports (DESIGN §3.5): the configured alert rules as a
//! Prometheus rules file, built from the `[prometheus]` metric and label
//! names. Only syntax Debian's promtool 2.42 accepts (checked in CI).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{AlertRule, Settings, format_duration};

#[derive(Serialize)]
struct RulesFile {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// The rule group's name in the exported file.
pub const GROUP: &str = "poolcap-db-pool";

/// The alert name of a rule: `DbPoolUtilization` + the rule's name in camel
/// case (`warning` → `DbPoolUtilizationWarning`).
pub fn alert_name(rule: &AlertRule) -> String {
    let mut name = String::from("DbPoolUtilization");
    for word in rule
        .name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    name
}

/// Per pool: checked out / pool size (a pool is one `service`, `instance`
/// series; `max by` merges duplicate scrapes of the same pool).
pub fn utilization_expr(settings: &Settings) -> String {
    let p = &settings.prometheus;
    let by = format!("{}, {}", p.service_label, p.instance_label);
    format!(
        "max by ({by}) ({}) / max by ({by}) ({})",
        p.checked_out_metric, p.pool_size_metric
    )
}

/// A Prometheus `for:` / range duration (`5m`, `1h30m`, `90s`).
pub fn prometheus_duration(seconds: i64) -> String {
    format_duration(seconds)
}

/// The rules file (YAML) for the configured alert rules.
pub fn rules_file(settings: &Settings) -> anyhow::Result<String> {
    let p = &settings.prometheus;
    let utilization = utilization_expr(settings);
    let rules = settings
        .alerts
        .iter()
        .map(|rule| {
            let percent = format!("{}%", rule.above * 100.0);
            let for_ = prometheus_duration(rule.for_seconds);
            let mut labels = BTreeMap::new();
            labels.insert("severity".to_string(), rule.name.clone());
            let mut annotations = BTreeMap::new();
            annotations.insert(
                "summary".to_string(),
                format!(
                    "DB connection pool of {{{{ $labels.{svc} }}}} ({{{{ $labels.{inst} }}}}) above {percent} for {for_}",
                    svc = p.service_label,
                    inst = p.instance_label
                ),
            );
            annotations.insert(
                "description".to_string(),
                format!(
                    "checked_out / pool_size is {{{{ $value | humanizePercentage }}}} (rule {name}: above {percent} for {for_}). \
                     Clinicians may be waiting on the database. Incident procedure (runbook): \
                     poolcap override {{{{ $labels.{svc} }}}} --bump --reason \"<why>\" --incident <ID> --dry-run, \
                     then without --dry-run; deploy the printed variables and restart the service; \
                     then find the cause with poolcap plan on this month's metrics.",
                    name = rule.name,
                    svc = p.service_label
                ),
            );
            annotations.insert("runbook_url".to_string(), p.runbook_url.clone());
            Rule {
                alert: alert_name(rule),
                expr: format!("{utilization} > {}", rule.above),
                for_,
                labels,
                annotations,
            }
        })
        .collect();
    let file = RulesFile {
        groups: vec![RuleGroup {
            name: GROUP.to_string(),
            rules,
        }],
    };
    let yaml = serde_yaml::to_string(&file)?;
    Ok(format!(
        "# Prometheus alert rules for SQLAlchemy pool utilization, written by poolcap\n\
         # from {} ([[alerts]] and [prometheus]). Check: promtool check rules FILE\n{yaml}",
        settings.path.display()
    ))
}
