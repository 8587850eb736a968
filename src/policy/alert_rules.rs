//! The alert rules as Prometheus sees them: each rule's alert name, its
//! annotations as Go templates and their expansion (`{{ $labels.X }}`,
//! `{{ $value | humanizePercentage }}`), and the checks that keep every
//! exported name and template one Prometheus accepts. The exports (rules
//! file, Grafana) and the promtool cases share them.

use std::collections::BTreeMap;

use crate::config::{AlertRule, Settings};
use crate::model::format_duration;

/// The alert name of a rule ([`crate::config::names::alert_name`]):
/// `DbPoolUtilization` + the rule's name in camel case (`warning` →
/// `DbPoolUtilizationWarning`), with a hash suffix for other names.
pub fn alert_name(rule: &AlertRule) -> String {
    crate::config::names::alert_name(&rule.name)
}

/// A Prometheus `for:` / range duration (`5m`, `1h30m`, `90s`).
pub fn prometheus_duration(seconds: i64) -> String {
    format_duration(seconds)
}

/// A rule's annotations as Prometheus templates (`{{ $labels.X }}`,
/// `{{ $value | humanizePercentage }}`; [`expand_annotation`] fills them in).
pub fn annotation_templates(settings: &Settings, rule: &AlertRule) -> BTreeMap<String, String> {
    let p = &settings.prometheus;
    let percent = format!("{}%", rule.above * 100.0);
    let for_ = prometheus_duration(rule.for_seconds);
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
            name = template_text(&rule.name),
            svc = p.service_label
        ),
    );
    annotations.insert("runbook_url".to_string(), template_text(&p.runbook_url));
    annotations
}

/// The action that writes a literal `{{` in a Go template.
const OPEN_LITERAL: &str = "\"{{\"";

/// `text` (a name or URL from the config) as literal text of a Go template,
/// as Prometheus reads alert labels and annotations: each `{{` becomes the
/// action `{{ "{{" }}`, which prints it. (`}}` outside an action is text.)
pub fn template_text(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

/// An annotation as Prometheus expands it for an alert with these labels and
/// value — only the template forms [`annotation_templates`] writes.
pub fn expand_annotation(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            rest = &rest[open..];
            break;
        };
        let action = rest[open + 2..open + close].trim();
        if action == "$value | humanizePercentage" {
            out.push_str(&humanize_percentage(value));
        } else if action == OPEN_LITERAL {
            out.push_str("{{");
        } else if let Some(name) = action.strip_prefix("$labels.") {
            out.push_str(labels.get(name).map_or("", String::as_str));
        } else {
            out.push_str(&rest[open..open + close + 2]);
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Prometheus' `humanizePercentage`: Go's `fmt.Sprintf("%.4g%%", v*100)`.
pub fn humanize_percentage(value: f64) -> String {
    format!("{}%", go_g4(value * 100.0))
}

/// Go's `%.4g`: four significant digits, trailing zeros dropped, exponent form
/// when the exponent is below -4 or at least the digits kept.
fn go_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust rounds to 4 significant digits exactly (ties to even, as Go does).
    let sci = format!("{:.3e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is a number");
    let digits: String = mantissa.replace('.', "").trim_end_matches('0').to_string();
    let digits = if digits.is_empty() { "0".to_string() } else { digits };
    let nd = digits.len() as i32;
    let dp = exp + 1; // digits before the decimal point
    let eprec = if 4 > nd && nd >= dp { nd } else { 4 };
    let sign = if v < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_string();
        if nd > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        return format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = (nd - dp).max(0) as usize;
    format!("{sign}{:.*}", decimals, v.abs())
}

/// What makes an exported file one Prometheus would reject.
#[derive(Debug, thiserror::Error)]
#[error("cannot export the alert rules: {0}")]
pub struct ExportError(pub String);

/// An alert name as Prometheus requires it (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn check_alert_name(name: &str) -> Result<(), ExportError> {
    if crate::config::names::is_alert_name(name) {
        Ok(())
    } else {
        Err(ExportError(format!("{name:?} is not a valid alert name")))
    }
}

/// Checks that `template` parses as a Go template, by allowing only the
/// actions poolcap writes: `{{ $labels.NAME }}`, `{{ $value |
/// humanizePercentage }}` and `{{ "{{" }}`. Anything else between `{{` and
/// `}}`, or a `{{` without its `}}`, is an error.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = if after.trim_start().starts_with(OPEN_LITERAL) {
            // The literal holds "{{": look for the end after it.
            let skip = after.len() - after.trim_start().len() + OPEN_LITERAL.len();
            after[skip..].find("}}").map(|c| c + skip)
        } else {
            after.find("}}")
        };
        let Some(close) = close else {
            return Err("an unclosed template action".to_string());
        };
        let action = after[..close].trim();
        let known = action == OPEN_LITERAL
            || action == "$value | humanizePercentage"
            || action
                .strip_prefix("$labels.")
                .is_some_and(crate::config::names::is_alert_name);
        if !known {
            return Err(format!(
                "the template action {{{{ {action} }}}} is not one poolcap writes"
            ));
        }
        rest = &after[close + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_percentage_is_gos_four_significant_digits() {
        for (value, text) in [
            (0.85, "85%"),
            (6.0 / 7.0, "85.71%"),
            (0.855, "85.5%"),
            (1.0, "100%"),
            (1.5, "150%"),
            (0.005, "0.5%"),
            (12.345, "1234%"),
            (123.45, "1.234e+04%"),
            (1e-7, "1e-05%"),
            (0.0, "0%"),
        ] {
            assert_eq!(humanize_percentage(value), text, "{value}");
        }
    }

    #[test]
    fn annotations_expand_labels_and_value() {
        let labels = BTreeMap::from([("service".to_string(), "backend".to_string())]);
        assert_eq!(
            expand_annotation(
                "{{ $labels.service }} at {{ $value | humanizePercentage }}",
                &labels,
                0.9
            ),
            "backend at 90%"
        );
        assert_eq!(
            expand_annotation("{{ $labels.pod }}|{{ .Other }}|{{ open", &labels, 0.9),
            "|{{ .Other }}|{{ open"
        );
        assert_eq!(
            expand_annotation(&template_text("warn {{ x }}"), &labels, 0.9),
            "warn {{ x }}"
        );
    }

    #[test]
    fn names_with_braces_are_template_text() {
        for name in ["warn {{", "{{{", "a}}b{{c", "{{ $labels.x }}", "{{-", "plain"] {
            let t = template_text(name);
            assert_eq!(check_template(&t), Ok(()), "{name} → {t}");
            assert_eq!(expand_annotation(&t, &BTreeMap::new(), 0.5), name);
        }
        assert!(check_template("warn {{").is_err());
        assert!(check_template("{{ .Other }}").is_err());
        assert!(check_template("{{ $labels.service }} at {{ $value | humanizePercentage }}").is_ok());
    }
}
