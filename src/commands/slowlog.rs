//! `poolcap slowlog`: slow-query logs → digest by fingerprint → table, JSON or
//! CSV (the work is [`crate::ops::slowlog`]).

use crate::analyze::digest::DigestSettings;
use crate::analyze::fingerprint::Dialect;
use crate::cli::{Format, GlobalArgs, SlowlogArgs};
use crate::config;
use crate::exit::ExitStatus;
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
