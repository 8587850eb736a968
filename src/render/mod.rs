//! Everything poolcap prints: the [`Printer`] (the only writer to stdout and
//! stderr), the colour decision, and the renderers of each command's output.
//!
//! Data goes to stdout; notices, warnings and errors go to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod alerts;
pub mod charts;
pub mod doctor;
pub mod evidence;
pub mod grafana;
pub mod history;
pub mod loadtest;
pub mod overrides;
pub mod plan;
pub mod probe;
pub mod prometheus;
pub mod review;
pub mod simulate;
pub mod slow_review;
pub mod slowlog;

use std::io::{self, IsTerminal, Write};

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Decides colour once: the flag, then `NO_COLOR` (non-empty), then whether
/// stdout is a terminal.
pub fn use_color(choice: ColorChoice, no_color: Option<&str>, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => no_color.is_none_or(str::is_empty) && is_terminal,
    }
}

/// The one place output is written.
pub struct Printer {
    color: bool,
    quiet: bool,
    verbose: u8,
}

impl crate::support::notice::Notices for Printer {
    fn note(&mut self, text: &str) {
        Printer::note(self, text);
    }
    fn detail(&mut self, text: &str) {
        Printer::detail(self, text);
    }
    fn warn(&mut self, text: &str) {
        Printer::warn(self, text);
    }
    fn verbose(&self) -> bool {
        Printer::verbose(self)
    }
    fn progress(&self, total: u64, what: &str) -> indicatif::ProgressBar {
        Printer::progress(self, total, what)
    }
}

/// The causes of `err` worth a line of their own: those whose text the lines
/// before do not already say (an error such as `FILE: No such file or
/// directory` carries its I/O error as its source, and repeating it adds
/// nothing).
pub fn causes_to_show(err: &anyhow::Error) -> Vec<String> {
    let mut said = err.to_string();
    let mut shown = Vec::new();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // An I/O error is said already, as a sentence (support::io_text).
        let worded = cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| said.contains(&crate::support::io_text(e)));
        if !worded && !said.contains(&text) {
            said.push('\n');
            said.push_str(&text);
            shown.push(text);
        }
    }
    shown
}

/// Whether an error is (caused by) a closed stdout pipe, which ends a run quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

impl Printer {
    /// From the global options (`--color`, `--quiet`, `-v`) and the environment.
    pub fn new(color: ColorChoice, quiet: bool, verbose: u8) -> Self {
        let no_color = std::env::var("NO_COLOR").ok();
        Printer {
            color: use_color(color, no_color.as_deref(), io::stdout().is_terminal()),
            quiet,
            verbose,
        }
    }

    /// A printer that shows only errors (for library users and tests).
    pub fn quiet() -> Self {
        Printer {
            color: false,
            quiet: true,
            verbose: 0,
        }
    }

    /// A progress bar on stderr for `total` bytes: only on a terminal and
    /// without `--quiet` (hidden otherwise, so CI logs stay clean).
    pub fn progress(&self, total: u64, what: &str) -> indicatif::ProgressBar {
        if self.quiet || !io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_string());
        bar
    }

    /// Whether `-v` was given.
    pub fn verbose(&self) -> bool {
        self.verbose > 0 && !self.quiet
    }

    /// Whether output may use colour.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Writes data to stdout.
    pub fn out(&mut self, text: &str) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()
    }

    /// Writes a JSON value to stdout, pretty, with a final newline.
    pub fn json<T: serde::Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        self.out(&text)?;
        Ok(())
    }

    /// A notice on stderr (hidden by `--quiet`).
    pub fn note(&mut self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Detail on stderr (shown with `-v`).
    pub fn detail(&mut self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A warning on stderr (hidden by `--quiet`).
    pub fn warn(&mut self, text: &str) {
        if !self.quiet {
            eprintln!("{}: {text}", self.paint("warning", "33"));
        }
    }

    /// A refusal that ends the run with its own exit code (a guard blocked
    /// it): worded as an error, always shown.
    pub fn error_line(&mut self, text: &str) {
        eprintln!("{}: {text}", self.paint("error", "31;1"));
    }

    /// An error and its cause chain on stderr; always shown.
    pub fn error(&mut self, err: &anyhow::Error) {
        eprintln!("{}: {err}", self.paint("error", "31;1"));
        for cause in causes_to_show(err) {
            eprintln!("  caused by: {cause}");
        }
    }

    /// `text` in an ANSI colour when colour is on.
    pub fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let err = anyhow::Error::new(io).context("/x.log: No such file or directory (os error 2)");
        assert!(causes_to_show(&err).is_empty());
        let err = anyhow::anyhow!("disk full").context("cannot write /y");
        assert_eq!(causes_to_show(&err), vec!["disk full".to_string()]);
    }

    use super::*;

    #[test]
    fn color_flag_then_no_color_then_terminal() {
        assert!(use_color(ColorChoice::Always, Some("1"), false));
        assert!(!use_color(ColorChoice::Never, None, true));
        assert!(!use_color(ColorChoice::Auto, Some("1"), true));
        assert!(use_color(ColorChoice::Auto, Some(""), true));
        assert!(use_color(ColorChoice::Auto, None, true));
        assert!(!use_color(ColorChoice::Auto, None, false));
    }
}
