//! One module per subcommand, each arguments → op ([`crate::ops`]) → render
//! ([`crate::render`]) → exit code; the work itself lives in `ops`. Only
//! `cli`, `commands` and `lib.rs` may import this module.

pub mod alerts;
pub mod apply;
pub mod completions;
pub mod doctor;
pub mod evidence;
pub mod export;
pub mod generate;
pub mod history;
pub mod ingest;
pub mod init;
pub mod loadtest;
pub mod overrides;
pub mod plan;
pub mod probe;
pub mod review;
pub mod simulate;
pub mod slowlog;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::config::ConfigError;
use crate::exit::ExitStatus;
use crate::render::Printer;

pub use crate::ops::UsageError;

/// Runs the parsed command line.
pub fn run(cli: &Cli, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    if cli.global.format == crate::cli::Format::Csv && !matches!(cli.command, Command::Slowlog(_) | Command::Alerts(_))
    {
        return Err(UsageError("--format csv is for `slowlog` and `alerts`; use table or json here".into()).into());
    }
    match &cli.command {
        Command::Plan(args) => plan::run(&cli.global, args, printer),
        Command::Review(args) => review::run(&cli.global, args, printer),
        Command::Apply(args) => apply::run(&cli.global, args, printer),
        Command::Override(args) => overrides::run(&cli.global, args, printer),
        Command::Alerts(args) => alerts::run(&cli.global, args, printer),
        Command::Export(args) => export::run(&cli.global, args, printer),
        Command::Slowlog(args) => slowlog::run(&cli.global, args, printer),
        Command::Probe(args) => probe::run(&cli.global, args, printer),
        Command::Simulate(args) => simulate::run(&cli.global, args, printer),
        Command::Loadtest(args) => loadtest::run(&cli.global, args, printer),
        Command::Ingest(args) => ingest::run(&cli.global, args, printer),
        Command::History(args) => history::run(&cli.global, args, printer),
        Command::Generate(args) => generate::run(args, printer),
        Command::Init(args) => init::run(&cli.global, args, printer),
        Command::Doctor(args) => doctor::run(&cli.global, args, printer),
        Command::Verify(args) => verify::run(&cli.global, args, printer),
        Command::Evidence(args) => evidence::run(&cli.global, args, printer),
        Command::Completions(args) => completions::completions(args, printer),
        Command::Man(args) => completions::man(args, printer),
    }
}

/// The exit status an error maps to: config and usage errors 2, the rest 1.
pub fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    if err.chain().any(|c| {
        c.is::<ConfigError>()
            || c.is::<UsageError>()
            || c.is::<crate::write::changelog::TemplateError>()
            || c.is::<crate::render::review::ReportTemplateError>()
    }) {
        ExitStatus::Usage
    } else {
        ExitStatus::Error
    }
}

/// The config for a run that plans `inputs.month`, its fleet resolved from
/// that month's data when it leaves services or replicas to it
/// (`[discovery]`, `replicas = "seen"`; `ops::fleet`).
pub(crate) fn planned_settings(
    global: &crate::cli::GlobalArgs,
    inputs: &crate::ops::plan::PlanInputs,
    printer: &mut Printer,
) -> anyhow::Result<crate::config::Settings> {
    resolve_for_month(crate::config::load(&global.config)?, global, inputs, printer)
}

/// `settings` with its fleet resolved from the data of `inputs.month`.
pub(crate) fn resolve_for_month(
    settings: crate::config::Settings,
    global: &crate::cli::GlobalArgs,
    inputs: &crate::ops::plan::PlanInputs,
    printer: &mut Printer,
) -> anyhow::Result<crate::config::Settings> {
    if !crate::ops::fleet::needed(&settings) {
        return Ok(settings);
    }
    let tz = settings.policy.timezone.clone();
    let month = crate::ops::plan::parse_month_in(&inputs.month, &tz)?;
    let store = ingest::store_location(global);
    crate::ops::fleet::resolve(
        settings,
        &inputs.metrics,
        Some(&store),
        (month.window(&tz), &month.to_string()),
        printer,
    )
}
