//! `poolcap evidence (--month M | --quarter Q) --out DIR`: the hazard card's
//! controls with their evidence (docs/evidence.md). Gathers the months'
//! decisions, the slow-query review, the stored load tests and the change-log
//! entries ([`crate::ops::evidence`]), writes every evidence file into a
//! staging folder beside DIR, runs promtool on the exported rules, judges the
//! rows, digests every file, and moves the folder into place — a failed run
//! leaves no half-written pack. Exit 0 when every control is met, 3 when one
//! is not met or its evidence is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::analyze::digest::DigestSettings;
use crate::analyze::fingerprint::Dialect;
use crate::cli::{EvidenceArgs, Format, GlobalArgs};
use crate::config::{self, Settings};
use crate::exit::ExitStatus;
use crate::model::provenance::{FileRecord, rfc3339};
use crate::model::window::{Month, Quarter};
use crate::ops::evidence::{self, Gathered, Period, PromtoolRun, StoredLoadtest, files};
use crate::ops::review::{output_folder, publish, staging_dir};
use crate::ops::{plan, slow_review};
use crate::render::{self, Printer};
use crate::support::digest::sha256_hex;

use super::UsageError;

fn period(args: &EvidenceArgs) -> Result<Period, UsageError> {
    match (&args.month, &args.quarter) {
        (Some(m), _) => m
            .parse::<Month>()
            .map(Period::Month)
            .map_err(|e| UsageError(format!("--month: {e}"))),
        (None, Some(q)) => q
            .parse::<Quarter>()
            .map(Period::Quarter)
            .map_err(|e| UsageError(format!("--quarter: {e}"))),
        (None, None) => Err(UsageError("give --month YYYY-MM or --quarter YYYY-Qn".into())),
    }
}

/// The load tests the store holds for every service and month of the
/// period, each named by its file in the pack; or why none could be read.
fn loadtests(global: &GlobalArgs, settings: &Settings, period: Period) -> (Vec<StoredLoadtest>, Option<String>) {
    let Some(location) = super::ingest::store_in_use(global) else {
        return (
            Vec::new(),
            Some("no history store (--store, or the default poolcap.db beside the config) holds load-test runs".into()),
        );
    };
    let read = || -> Result<Vec<StoredLoadtest>, crate::store::history::StoreError> {
        let store = crate::store::history::Store::open_existing(&location)?;
        let mut found = Vec::new();
        for service in &settings.services {
            for month in period.months() {
                for (n, report) in store
                    .loadtest_runs(&service.name, &month.to_string())?
                    .into_iter()
                    .enumerate()
                {
                    found.push(StoredLoadtest {
                        service: service.name.clone(),
                        month: month.to_string(),
                        file: format!(
                            "testing/loadtest-{}-{month}-{}.json",
                            config::names::file_stem(&service.name),
                            n + 1
                        ),
                        report,
                    });
                }
            }
        }
        store.close();
        Ok(found)
    };
    match read() {
        Ok(found) => (found, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// Files written into the staging folder: path in the pack → (SHA-256, bytes).
#[derive(Default)]
struct Written(BTreeMap<String, (String, u64)>);

impl Written {
    fn write(&mut self, root: &Path, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&full, bytes).with_context(|| format!("{}: cannot write", full.display()))?;
        self.0.insert(path.to_string(), (sha256_hex(bytes), bytes.len() as u64));
        Ok(())
    }
}

fn entries_text(title: &str, entries: &[&evidence::LoggedChange]) -> String {
    let mut text = format!("# {title}\n\nCopied from the change log(s), as written.\n");
    for e in entries {
        text.push_str(&format!("\n<!-- from {} -->\n{}\n", e.log, e.entry.text));
    }
    text
}

/// Runs `poolcap evidence`.
pub fn run(global: &GlobalArgs, args: &EvidenceArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let period = period(args)?;
    let out = match &args.out {
        Some(out) => output_folder(out)?,
        None => output_folder(&PathBuf::from(format!("evidence-{}", period.label())))?,
    };
    let store = super::ingest::store_location(global);
    let metric_files = args.metrics.files();
    // A fleet left to the data is the one of the whole period.
    let tz = settings.policy.timezone.clone();
    let settings = crate::ops::fleet::resolve(
        settings,
        &metric_files,
        Some(&store),
        (period.window(&tz), &period.label()),
        printer,
    )?;

    // The months' decisions, as `plan --format json` makes them.
    let mut plans = Vec::new();
    for month in period.months() {
        let inputs = plan::PlanInputs {
            month: month.to_string(),
            metrics: metric_files.clone(),
            slowlog: args.slowlog.clone(),
            slowlog_options: args.slowlog_inputs.options(),
            probe: None,
            probe_pgbouncer: None,
            pgbouncer_pools: Vec::new(),
            accept_drift: false,
        };
        let outcome = plan::compute(&settings, &inputs, store.clone(), true, printer);
        if let Err(e) = &outcome {
            printer.warn(&format!("{month}: no decision: {e:#}"));
        }
        plans.push((month, outcome.map_err(|e| format!("{e:#}"))));
    }
    if let Some(Err(first)) = plans.first().map(|p| &p.1)
        && plans.iter().all(|p| p.1.is_err())
    {
        anyhow::bail!("no month of {} could be decided on: {first}", period.label());
    }
    let deployed = crate::ops::targets::read_all(&settings)?;

    // The slow-query review of the period's quarter.
    let base = DigestSettings {
        dialect: Dialect::Postgres,
        threshold_ms: settings.policy.slow_query_seconds * 1000.0,
        timezone: settings.policy.timezone.clone(),
        since_ms: None,
        until_ms: None,
        keep_samples: false,
    };
    let quarter = period.quarter();
    let slow = if !args.slowlog.is_empty() {
        slow_review::quarter_review(
            quarter,
            &args.slowlog,
            None,
            &args.slowlog_inputs.options(),
            &settings,
            &base,
        )
    } else if let Some(location) = super::ingest::store_in_use(global) {
        slow_review::quarter_review(
            quarter,
            &[],
            Some(&location),
            &args.slowlog_inputs.options(),
            &settings,
            &base,
        )
    } else {
        Err(anyhow::anyhow!(
            "no slow-query log was given (--slowlog) and no history store holds digests (`poolcap ingest slowlog`)"
        ))
    }
    .map_err(|e| format!("{e:#}"));
    let (loadtests, loadtests_unread) = loadtests(global, &settings, period);
    let (changes, no_changelog) = evidence::changes_in(&settings, period)?;

    let staging = staging_dir(&out)?;
    let built = (|| -> anyhow::Result<render::evidence::EvidencePack> {
        let mut written = Written::default();
        for (month, outcome) in &plans {
            if let Ok(outcome) = outcome {
                let json = render::plan::PlanReport::for_plan(&settings, outcome).to_json()?;
                written.write(&staging, &files::plan(&month.to_string()), json.as_bytes())?;
            }
        }
        let deployed_json: Vec<serde_json::Value> = settings
            .services
            .iter()
            .zip(&deployed)
            .map(|(s, d)| {
                serde_json::json!({
                    "service": s.name,
                    "pool_size": d.current.pool_size,
                    "max_overflow": d.current.max_overflow,
                    "values": d.values.iter().map(|(k, v)| (k.name(), v)).collect::<BTreeMap<_, _>>(),
                    "files": d.files.iter().map(|f| f.target.path.display().to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({ "services": deployed_json }))?;
        text.push('\n');
        written.write(&staging, files::DEPLOYED, text.as_bytes())?;
        written.write(
            &staging,
            files::RULES,
            render::prometheus::rules_file(&settings)?.as_bytes(),
        )?;
        let promtool = if metric_files.from_store() {
            PromtoolRun::NotRun {
                why: "its test cases are replayed from metric files (--metrics), and none were given".into(),
            }
        } else {
            let window = period.window(&settings.policy.timezone);
            match crate::ops::promtool::promtool_tests(
                &settings,
                &metric_files,
                None,
                Some(window),
                files::RULES_NAME,
                printer,
            ) {
                Err(e) => PromtoolRun::NotRun { why: format!("{e:#}") },
                Ok((tests, _)) => {
                    written.write(&staging, files::PROMTOOL_TESTS, tests.as_bytes())?;
                    let run = evidence::run_promtool(&staging.join(files::ALERTING), files::PROMTOOL_TESTS_NAME);
                    if let PromtoolRun::Passed { output } | PromtoolRun::Failed { output } = &run {
                        written.write(&staging, files::PROMTOOL_OUTPUT, output.as_bytes())?;
                    }
                    run
                }
            }
        };
        let reviews: Vec<&evidence::LoggedChange> = changes.iter().filter(|c| c.entry.kind == "review").collect();
        if !reviews.is_empty() {
            let text = entries_text(&format!("Capacity review entries for {}", period.label()), &reviews);
            written.write(&staging, files::REVIEW_ENTRIES, text.as_bytes())?;
        }
        let overrides: Vec<&evidence::LoggedChange> = changes.iter().filter(|c| c.entry.kind == "override").collect();
        if !overrides.is_empty() {
            let text = entries_text(&format!("Incident override entries in {}", period.label()), &overrides);
            written.write(&staging, files::OVERRIDE_ENTRIES, text.as_bytes())?;
        }
        if let Ok(review) = &slow {
            written.write(
                &staging,
                files::SLOW_MD,
                render::slow_review::markdown(review).as_bytes(),
            )?;
            let mut json = serde_json::to_string_pretty(review)?;
            json.push('\n');
            written.write(&staging, files::SLOW_JSON, json.as_bytes())?;
        }
        for t in &loadtests {
            let mut json = serde_json::to_string_pretty(&t.report)?;
            json.push('\n');
            written.write(&staging, &t.file, json.as_bytes())?;
        }
        let gathered = Gathered {
            settings: &settings,
            period,
            today: crate::ops::change::today(&settings),
            plans,
            deployed,
            slow,
            loadtests,
            loadtests_unread,
            changes,
            no_changelog,
            promtool,
        };
        let mut rows = evidence::rows(&gathered);
        for row in &mut rows {
            for e in &mut row.evidence {
                let (sha256, bytes) = written
                    .0
                    .get(&e.path)
                    .with_context(|| format!("evidence file {} was not written", e.path))?;
                e.sha256 = sha256.clone();
                e.bytes = *bytes;
            }
        }
        let pack = render::evidence::EvidencePack {
            hazard: render::evidence::HAZARD,
            period: period.label(),
            months: period.months().iter().map(ToString::to_string).collect(),
            generated: rfc3339(crate::support::clock::now().as_second(), false).unwrap_or_default(),
            poolcap: crate::ops::provenance::VERSION.to_string(),
            config: FileRecord {
                path: settings.path.display().to_string(),
                sha256: Some(settings.sha256.clone()),
                bytes: std::fs::metadata(&settings.path).map_or(0, |m| m.len()),
            },
            counts: render::evidence::Counts::of(&rows),
            controls: rows,
        };
        let mut json = serde_json::to_string_pretty(&pack)?;
        json.push('\n');
        written.write(&staging, "evidence.json", json.as_bytes())?;
        written.write(&staging, "evidence.md", render::evidence::markdown(&pack).as_bytes())?;
        written.write(&staging, "index.html", render::evidence::index_html(&pack).as_bytes())?;
        Ok(pack)
    })();
    let pack = match built {
        Ok(pack) => pack,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    publish(&staging, &out)?;
    match global.format {
        Format::Json => printer.json(&pack)?,
        _ => printer.out(&render::evidence::table(&pack))?,
    }
    printer.note(&format!(
        "wrote {}/index.html, evidence.md, evidence.json and the evidence files",
        out.display()
    ));
    Ok(if pack.counts.not_met + pack.counts.missing == 0 {
        ExitStatus::Ok
    } else {
        ExitStatus::Changes
    })
}
