//! What an operation tells the user while it runs — notes, warnings, detail
//! and progress — as a trait, so the layers below the output (`ops`) can speak
//! without knowing the [`Printer`](../../render/struct.Printer.html) that
//! implements it.

/// The channel for notices on stderr.
pub trait Notices {
    /// A note (hidden by `--quiet`).
    fn note(&mut self, text: &str);
    /// Detail shown with `-v` only.
    fn detail(&mut self, text: &str);
    /// A warning (shown unless `--quiet`).
    fn warn(&mut self, text: &str);
    /// Whether `-v` was given.
    fn verbose(&self) -> bool;
    /// A progress bar for `total` bytes (hidden when not on a terminal).
    fn progress(&self, total: u64, what: &str) -> indicatif::ProgressBar;
}

/// Notices that go nowhere (for library users and tests).
#[derive(Debug, Default)]
pub struct Silent;

impl Notices for Silent {
    fn note(&mut self, _: &str) {}
    fn detail(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
    fn verbose(&self) -> bool {
        false
    }
    fn progress(&self, _: u64, _: &str) -> indicatif::ProgressBar {
        indicatif::ProgressBar::hidden()
    }
}
