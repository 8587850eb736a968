//! poolcap: database connection-pool capacity planning.
//!
//! Data flows one way: [`cli`] → [`config`] → [`ingest`]/[`store`] →
//! [`analyze`] → [`policy`] → [`ops`] → [`render`]/[`write`], over the shared
//! [`model`] and [`support`]; a lower layer never imports a higher one
//! (ARCHITECTURE.md; `tests/layers.rs` checks it). [`analyze`] and [`policy`]
//! never read files or the clock. [`commands`] wire each subcommand:
//! arguments → op → render → exit code.

pub mod analyze;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod generate;
pub mod ingest;
pub mod model;
pub mod ops;
pub mod policy;
pub mod render;
pub mod store;
pub mod support;
pub mod write;

use std::ffi::OsString;

use clap::Parser;

pub use exit::ExitStatus;

/// A hint for a mistake clap cannot know about: `--input-format` on
/// plan/review/apply names the slow logs' format, and a metric format given
/// to it means `--metrics-format`.
fn usage_hint(err: &clap::Error) -> Option<String> {
    if err.kind() != clap::error::ErrorKind::InvalidValue {
        return None;
    }
    let text = err.to_string();
    let metric = ["csv", "jsonl", "prometheus", "pool-status"]
        .into_iter()
        .find(|f| text.contains(&format!("'{f}'")))?;
    text.contains("--input-format").then(|| {
        format!("hint: --input-format is the slow logs' format here; for metric files write --metrics-format {metric}")
    })
}

/// Parses `args` (program name first), runs the command, and returns how it ended.
/// Errors are printed once, with their cause chain, on stderr.
pub fn main_with_args<I, T>(args: I) -> ExitStatus
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let status = if err.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Ok
            };
            // clap prints help/version to stdout and errors to stderr itself.
            let _ = err.print();
            if let Some(hint) = usage_hint(&err) {
                #[allow(clippy::print_stderr)] // no printer exists before the arguments parse
                {
                    eprintln!("{hint}");
                }
            }
            return status;
        }
    };
    let mut printer = render::Printer::new(cli.global.color, cli.global.quiet, cli.global.verbose);
    if let Err(message) = support::clock::check_environment() {
        printer.error(&anyhow::Error::from(ops::UsageError(message)));
        return ExitStatus::Usage;
    }
    match commands::run(&cli, &mut printer) {
        Ok(status) => status,
        Err(err) => {
            if render::is_broken_pipe(&err) {
                return ExitStatus::Ok;
            }
            printer.error(&err);
            commands::exit_status_of(&err)
        }
    }
}
