//! Monitoring-stack exports (DESIGN §3.5): the configured alert rules as a
//! Prometheus rules file, built from the `[prometheus]` metric and label
//! names. Only syntax Debian's promtool 2.42 accepts (checked in CI).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Settings;
use crate::policy::alert_rules::{
    ExportError, alert_name, annotation_templates, check_alert_name, check_template, prometheus_duration, template_text,
};

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

/// The rules file (YAML) for the configured alert rules.
pub fn rules_file(settings: &Settings) -> anyhow::Result<String> {
    let utilization = utilization_expr(settings);
    let rules = settings
        .alerts
        .iter()
        .map(|rule| {
            let for_ = prometheus_duration(rule.for_seconds);
            let mut labels = BTreeMap::new();
            // Label values are templates too.
            labels.insert("severity".to_string(), template_text(&rule.name));
            let annotations = annotation_templates(settings, rule);
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
    check_rules(&file)?;
    let yaml = serde_yaml::to_string(&file)?;
    Ok(format!(
        "# Prometheus alert rules for SQLAlchemy pool utilization, written by poolcap\n\
         # from {} ([[alerts]] and [prometheus]). Check: promtool check rules FILE\n{yaml}",
        settings.path.display()
    ))
}

/// Checks the rules the way `promtool check rules` does, so poolcap never
/// writes a file Prometheus rejects: alert names valid and distinct, label
/// and annotation names valid, and every label value and annotation a Go
/// template that parses ([`check_template`]).
fn check_rules(file: &RulesFile) -> Result<(), ExportError> {
    let mut seen = std::collections::BTreeSet::new();
    for group in &file.groups {
        for rule in &group.rules {
            check_alert_name(&rule.alert)?;
            if !seen.insert(rule.alert.as_str()) {
                return Err(ExportError(format!("two rules are named {}", rule.alert)));
            }
            let fields = rule
                .labels
                .iter()
                .map(|kv| ("label", kv))
                .chain(rule.annotations.iter().map(|kv| ("annotation", kv)));
            for (what, (name, value)) in fields {
                if !crate::config::names::is_alert_name(name) || name == "__name__" {
                    return Err(ExportError(format!(
                        "rule {}: invalid {what} name {name:?}",
                        rule.alert
                    )));
                }
                check_template(value)
                    .map_err(|e| ExportError(format!("rule {}: {what} {name}: {e} in {value:?}", rule.alert)))?;
            }
        }
    }
    Ok(())
}
