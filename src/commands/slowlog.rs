//! `poolcap slowlog`: slow-query logs → digest by fingerprint → table, JSON or
//! CSV (the work is [`crate::ops::slowlog`]); with `--quarter`, the quarterly
//! slow-query review over files or the store's digests
//! ([`crate::ops::slow_review`]).

use crate::analyze::digest::DigestSettings;
use crate::analyze::fingerprint::Dialect;
use crate::cli::{Format, GlobalArgs, SlowlogArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::model::window::Quarter;
use crate::ops::slow_review::quarter_review;
use crate::ops::slowlog::{digest_files, parse_when, tell_skipped, threads};
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap slowlog`.
pub fn run(global: &GlobalArgs, args: &SlowlogArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let default_config = global.config == std::path::Path::new("poolcap.toml");
    let settings = config::load_optional(&global.config, default_config)?;
    let tz = settings.policy.timezone.clone();
    let threshold_s = args.threshold.unwrap_or(settings.policy.slow_query_seconds);
    if !(threshold_s.is_finite() && threshold_s > 0.0) {
        return Err(UsageError(format!(
            "--threshold must be a positive number of seconds, got {threshold_s}"
        ))
        .into());
    }
    if let Some(quarter) = &args.quarter {
        let quarter: Quarter = quarter
            .parse()
            .map_err(|m: String| UsageError(format!("--quarter: {m}")))?;
        let base = DigestSettings {
            dialect: Dialect::Postgres,
            threshold_ms: threshold_s * 1000.0,
            timezone: tz.clone(),
            since_ms: None,
            until_ms: None,
            keep_samples: false,
        };
        let store = (args.files.is_empty()).then(|| super::ingest::store_location(global));
        let review = quarter_review(
            quarter,
            &args.files,
            store.as_deref(),
            &args.inputs.options(),
            &settings,
            &base,
        )?;
        match global.format {
            Format::Json => printer.json(&review)?,
            Format::Csv => printer.out(&render::slow_review::csv(&review)?)?,
            Format::Table => printer.out(&render::slow_review::table(&review, args.top))?,
        }
        return Ok(ExitStatus::Ok);
    }
    let base = DigestSettings {
        dialect: Dialect::Postgres,
        threshold_ms: threshold_s * 1000.0,
        timezone: tz.clone(),
        since_ms: args
            .since
            .as_deref()
            .map(|s| parse_when(s, &tz, "--since"))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|s| parse_when(s, &tz, "--until"))
            .transpose()?,
        keep_samples: args.show_samples,
    };
    let digested = digest_files(
        &args.files,
        &args.inputs.options(),
        &settings,
        &base,
        threads(args.threads),
        crate::ops::slowlog::FileDigests::Skip,
    )?;
    tell_skipped(&digested, printer);
    let report = render::slowlog::SlowlogReport::new(&digested, &tz, args.top, args.show_samples);
    match global.format {
        Format::Json => printer.json(&report)?,
        Format::Csv => printer.out(&render::slowlog::csv(&report)?)?,
        Format::Table => printer.out(&render::slowlog::table(&report))?,
    }
    Ok(ExitStatus::Ok)
}
