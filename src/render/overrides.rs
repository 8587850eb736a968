//! What `poolcap override` prints: the exact settings to deploy, in the
//! service's env key names when it has an env target (or with `--out`, which
//! writes one), else in the keys of the file it does have.

use std::fmt::Write as _;

use crate::config::{Setting, Settings, TargetKind};
use crate::ops::overrides::Override;

/// The deploy instructions of `o` (`out_file`: `--out` was given).
pub fn deploy(settings: &Settings, o: &Override, out_file: bool) -> String {
    let service = &settings.services[o.service];
    let (current, new, budget, budget_row, headroom, values) =
        (o.current, o.new, &o.budget, &o.budget_row, o.headroom, &o.values);
    let env_target = service.targets.iter().find(|t| t.kind == TargetKind::Env);
    let file_target = service.targets.first().filter(|_| env_target.is_none() && !out_file);
    let mut deploy = String::new();
    let _ = writeln!(
        deploy,
        "{}: pool {} + {} → {} + {} (budget {} = {} of {}{})",
        service.name,
        current.pool_size,
        current.max_overflow,
        new.pool_size,
        new.max_overflow,
        budget_row.arithmetic,
        budget.required,
        budget.limit,
        if budget.ok { ", ok" } else { ", OVER BUDGET" }
    );
    match file_target {
        Some(t) => {
            let at = if t.prefix.is_empty() {
                String::new()
            } else {
                format!(" under {}", t.prefix.join("."))
            };
            let _ = writeln!(deploy, "Deploy {} with these settings{at}:", t.shown);
            for (setting, key) in &t.keys {
                if let Some(v) = values.get(setting) {
                    let _ = writeln!(deploy, "  {key} = {v}");
                }
            }
        }
        None => {
            let env_keys: Vec<(Setting, String)> = env_target
                .map(|t| t.keys.clone())
                .unwrap_or_else(|| Setting::ALL.into_iter().map(|s| (s, s.env_key().to_string())).collect());
            let _ = writeln!(
                deploy,
                "Deploy these environment variables to every {} container:",
                service.name
            );
            for (setting, key) in &env_keys {
                if let Some(v) = values.get(setting) {
                    let _ = writeln!(deploy, "  {key}={v}");
                }
            }
        }
    }
    let _ = writeln!(
        deploy,
        "then restart the {} containers ({} replica(s) × {} process(es)) and investigate the cause: slow queries, database performance, an unexpected load spike.",
        service.name, service.replicas, service.processes_per_replica
    );
    if let Some(p) = headroom {
        let _ = writeln!(
            deploy,
            "headroom: {} can take up to pool_size {p} within the budget, the other services as deployed.",
            service.name
        );
    }

    deploy
}
