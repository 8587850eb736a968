//! `poolcap export grafana`: a dashboard for the pool metrics named in
//! `[prometheus]` — utilization per instance with the alert thresholds,
//! connections checked out against pool size and overflow, checkout
//! timeouts, and the firing pool alerts as annotations. Grafana dashboard
//! JSON, `schemaVersion` [`SCHEMA_VERSION`] (Grafana 10.2 and later import it;
//! older schema versions are migrated by Grafana itself), with a
//! `${datasource}` variable so it imports into any Prometheus data source.

use serde_json::json;

use crate::config::Settings;

/// The dashboard JSON schema version written.
pub const SCHEMA_VERSION: u32 = 39;

/// The dashboard's uid (stable, so a re-import replaces it).
pub const UID: &str = "poolcap-db-pools";

/// Colours of the alert thresholds, lowest rule first.
const THRESHOLD_COLOURS: [&str; 3] = ["orange", "red", "dark-red"];

/// The dashboard as JSON text.
pub fn dashboard(settings: &Settings) -> anyhow::Result<String> {
    let p = &settings.prometheus;
    let (svc, inst) = (&p.service_label, &p.instance_label);
    let filter = format!("{{{svc}=~\"$service\"}}");
    let by = format!("{svc}, {inst}");
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
    let legend = format!("{{{{{svc}}}}} {{{{{inst}}}}}");
    let utilization = format!(
        "max by ({by}) ({}{filter}) / max by ({by}) ({}{filter})",
        p.checked_out_metric, p.pool_size_metric
    );
    let mut rules: Vec<_> = settings.alerts.iter().collect();
    rules.sort_by(|a, b| a.above.total_cmp(&b.above));
    let mut steps = vec![json!({"color": "green", "value": null})];
    steps.extend(
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"color": THRESHOLD_COLOURS[i.min(THRESHOLD_COLOURS.len() - 1)], "value": r.above})),
    );
    let rule_list = settings
        .alerts
        .iter()
        .map(|r| {
            format!(
                "{} > {}% for {}",
                r.name,
                r.above * 100.0,
                crate::model::format_duration(r.for_seconds)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let alert_names = settings
        .alerts
        .iter()
        .map(|rule| {
            let name = crate::policy::alert_rules::alert_name(rule);
            crate::policy::alert_rules::check_alert_name(&name).map(|()| name)
        })
        .collect::<Result<Vec<_>, _>>()?
        .join("|");
    let target = |ref_id: &str, expr: String, legend: String| json!({"refId": ref_id, "datasource": datasource, "expr": expr, "legendFormat": legend, "range": true});
    let panels = vec![
        json!({
            "id": 1,
            "type": "timeseries",
            "title": "Pool utilization per instance (checked out / pool size)",
            "description": format!("The hazard card's alert rules: {rule_list}. poolcap alerts replays them over history."),
            "gridPos": {"h": 10, "w": 24, "x": 0, "y": 0},
            "datasource": datasource,
            "targets": [target("A", utilization, legend.clone())],
            "fieldConfig": {
                "defaults": {
                    "unit": "percentunit",
                    "min": 0,
                    "thresholds": {"mode": "absolute", "steps": steps},
                    "custom": {"thresholdsStyle": {"mode": "line+area"}, "lineWidth": 1, "fillOpacity": 0}
                },
                "overrides": []
            },
            "options": {"legend": {"displayMode": "table", "placement": "right", "showLegend": true, "calcs": ["max", "mean"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
        }),
        json!({
            "id": 2,
            "type": "timeseries",
            "title": "Connections: checked out, pool size, overflow in use",
            "description": "Checked out above pool size is overflow; at pool_size + max_overflow callers wait up to pool_timeout, then time out.",
            "gridPos": {"h": 9, "w": 12, "x": 0, "y": 10},
            "datasource": datasource,
            "targets": [
                target("A", format!("max by ({by}) ({}{filter})", p.checked_out_metric), format!("checked out {legend}")),
                target("B", format!("max by ({by}) ({}{filter})", p.pool_size_metric), format!("pool size {legend}")),
                target("C", format!("clamp_min(max by ({by}) ({}{filter}), 0)", p.overflow_metric), format!("overflow in use {legend}")),
            ],
            "fieldConfig": {"defaults": {"unit": "short", "min": 0, "decimals": 0}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
        }),
        json!({
            "id": 3,
            "type": "timeseries",
            "title": "Checkout timeouts (per 5 min)",
            "description": "QueuePool limit reached: a clinician's request failed after pool_timeout.",
            "gridPos": {"h": 9, "w": 12, "x": 12, "y": 10},
            "datasource": datasource,
            "targets": [target("A", format!("sum by ({by}) (increase({}{filter}[5m]))", p.timeouts_metric), legend.clone())],
            "fieldConfig": {"defaults": {"unit": "short", "min": 0,
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": null}, {"color": "red", "value": 1}]},
                "custom": {"drawStyle": "bars", "fillOpacity": 80}}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
        }),
    ];
    let dashboard = json!({
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.2.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}
        ],
        "uid": UID,
        "title": "DB connection pools (poolcap)",
        "description": format!("SQLAlchemy QueuePool metrics of the services in {}; written by poolcap export grafana.", settings.path.display()),
        "tags": ["poolcap", "database", "connection-pool"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "timezone": settings.policy.timezone_name,
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            {"name": "service", "label": "Service", "type": "query", "datasource": datasource,
             "query": {"query": format!("label_values({}, {svc})", p.pool_size_metric), "refId": "service"},
             "definition": format!("label_values({}, {svc})", p.pool_size_metric),
             "multi": true, "includeAll": true, "current": {}, "refresh": 2, "sort": 1, "hide": 0}
        ]},
        "annotations": {"list": [
            {"builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": true, "hide": true,
             "iconColor": "rgba(0, 211, 255, 1)", "datasource": {"type": "grafana", "uid": "-- Grafana --"}},
            {"name": "Pool alerts firing", "enable": true, "hide": false, "iconColor": "red", "datasource": datasource,
             "expr": format!("ALERTS{{alertname=~\"{alert_names}\", alertstate=\"firing\", {svc}=~\"$service\"}}"),
             "step": "60s", "titleFormat": "{{alertname}} ({{severity}})", "tagKeys": format!("{svc},{inst},severity"),
             "useValueForTime": false}
        ]},
        "panels": panels,
    });
    Ok(serde_json::to_string_pretty(&dashboard)? + "\n")
}
