//! `poolcap verify PATH [--entry ID]`: a recorded decision's inputs checked
//! by digest, then the decision recomputed and compared
//! ([`crate::ops::verify`]; docs/verify.md). Exit 0 the same, 1 an input
//! changed or missing, 3 the decision differs.

use crate::cli::{Format, GlobalArgs, VerifyArgs};
use crate::exit::ExitStatus;
use crate::ops::verify::{self, FileCheck, InputProblem};
use crate::render::{self, Printer};
use crate::support::jsondiff::{differences, short};

/// Runs `poolcap verify`.
pub fn run(global: &GlobalArgs, args: &VerifyArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let recorded = verify::read_recorded(&args.path, args.entry.as_deref())?;
    let p = &recorded.provenance;
    printer.note(&format!(
        "verifying {}: the decision for {} by poolcap {}, {} input file(s), {} target file(s)",
        recorded.source.display(),
        p.request.month,
        p.poolcap,
        p.inputs.len(),
        p.targets.len()
    ));
    let (settings, same_config) = verify::load_config(p)?;
    if !same_config {
        printer.warn(&format!(
            "{}: the config changed since the decision (SHA-256 {} then, {} now); the decision is recomputed with it as it is now",
            p.config.path,
            p.config.sha256.as_deref().unwrap_or("-"),
            settings.sha256
        ));
    }
    let problems = verify::check_inputs(p, &settings)?;
    if !problems.is_empty() {
        for problem in &problems {
            printer.error_line(&describe(problem));
        }
        printer.note(if args.entry.is_some() {
            "the decision cannot be recomputed from these inputs. An entry records its target files as they were before `apply` wrote them: verify from a checkout of the commit before the change (e.g. `git worktree add ../before <commit>^`, then `poolcap verify <this change log> --entry ID` there)"
        } else {
            "the decision cannot be recomputed from these inputs; verify it where they are as they were (e.g. a checkout of the commit the decision was made at)"
        });
        return Ok(ExitStatus::Error);
    }
    let request = verify::plan_inputs(p, args.probe.clone())?;
    let settings = super::resolve_for_month(settings, global, &request, printer)?;
    // The decision as `plan` makes it (review's plan.json is the same bytes).
    let outcome = crate::ops::plan::compute(
        &settings,
        &request,
        super::ingest::store_location(global),
        true,
        printer,
    )?;
    if let (Some(then), Some(now)) = (&p.store, &outcome.provenance.store)
        && (then.rows_digest != now.rows_digest || then.used != now.used)
    {
        printer.error_line(&format!(
            "{}: the stored samples of {} to {} changed since the decision ({} rows, digest {} then; {} rows, digest {} now)",
            now.store, then.from, then.to, then.used, then.rows_digest, now.used, now.rows_digest
        ));
        return Ok(ExitStatus::Error);
    }
    // The services the record holds: `plan --service` prints one, a review
    // (whatever its flags) and `apply`'s digest follow their own rules.
    let report = match &recorded.plan {
        Some(plan) => {
            let names: Vec<&str> = plan["services"]
                .as_array()
                .map(|all| all.iter().filter_map(|s| s["service"].as_str()).collect())
                .unwrap_or_default();
            let mut report = render::plan::PlanReport::new(&settings, &outcome);
            report.services.retain(|s| names.contains(&s.service.as_str()));
            report
        }
        None => render::plan::PlanReport::for_plan(&settings, &outcome),
    };
    let mut lines = Vec::new();
    let same = match (&recorded.plan, &recorded.plan_sha256) {
        (Some(plan), _) => {
            // Both sides as read from their text, so that equal bytes are equal values.
            let now: serde_json::Value = serde_json::from_str(&report.to_json()?)?;
            // A newer poolcap may verify an older decision: its version is
            // reported, not compared.
            let diffs = differences(plan, &now, &|path| path == "provenance.poolcap");
            for d in &diffs {
                lines.push(format!(
                    "{}: {} recorded, {} now",
                    d.path,
                    short(&d.before),
                    short(&d.after)
                ));
            }
            diffs.is_empty()
        }
        (None, Some(sha)) => {
            let now = report.sha256()?;
            if now != *sha {
                lines.push(format!(
                    "the plan's SHA-256 is {now} now, {sha} in the entry; recomputed: {}",
                    report
                        .services
                        .iter()
                        .map(|s| format!(
                            "{} {} + {} → {} + {}",
                            s.service,
                            s.current.pool_size,
                            s.current.max_overflow,
                            s.recommended.pool_size,
                            s.recommended.max_overflow
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            now == *sha
        }
        (None, None) => anyhow::bail!(
            "{}: the record holds neither a plan nor its digest",
            recorded.source.display()
        ),
    };
    if p.poolcap != crate::ops::provenance::VERSION {
        printer.note(&format!(
            "recorded by poolcap {}, recomputed by {}",
            p.poolcap,
            crate::ops::provenance::VERSION
        ));
    }
    if global.format == Format::Json {
        printer.json(&serde_json::json!({
            "source": recorded.source.display().to_string(),
            "same": same,
            "config_changed": !same_config,
            "differences": lines,
        }))?;
    } else if same {
        printer.out(&format!(
            "same: the decision for {} follows from its inputs ({} file(s) and the config unchanged, every number and finding recomputed)\n",
            p.request.month,
            p.inputs.len() + p.targets.len()
        ))?;
    } else {
        let mut text = format!(
            "differs: the decision for {} no longer follows from its inputs{}:\n",
            p.request.month,
            if same_config { "" } else { " (the config changed)" }
        );
        const SHOWN: usize = 40;
        for line in lines.iter().take(SHOWN) {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        if lines.len() > SHOWN {
            text.push_str(&format!(
                "  … and {} more (--format json lists every one)\n",
                lines.len() - SHOWN
            ));
        }
        printer.out(&text)?;
    }
    Ok(if same { ExitStatus::Ok } else { ExitStatus::Changes })
}

fn describe(problem: &InputProblem) -> String {
    let r = &problem.record;
    match &problem.check {
        FileCheck::Missing => format!(
            "{}: the {} file is missing (recorded: {} bytes, SHA-256 {})",
            r.path,
            problem.kind,
            r.bytes,
            r.sha256.as_deref().unwrap_or("-")
        ),
        FileCheck::Changed(now) => format!(
            "{}: the {} file changed since the decision ({} bytes, SHA-256 {} then; {} bytes, {} now)",
            r.path,
            problem.kind,
            r.bytes,
            r.sha256.as_deref().unwrap_or("-"),
            now.bytes,
            now.sha256
        ),
        FileCheck::Appeared => format!(
            "{}: the {} file did not exist at the decision and does now",
            r.path, problem.kind
        ),
        FileCheck::Settings(changed) => format!(
            "{}: the {} settings changed since the decision ({})",
            r.path,
            problem.kind,
            changed
                .iter()
                .map(|(key, then, now)| format!(
                    "{key} {} then, {} now",
                    then.as_deref().unwrap_or("unset"),
                    now.as_deref().unwrap_or("unset")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}
