//! `poolcap doctor`'s table: one line per check, its status word padded
//! and coloured.

use crate::ops::doctor::{Check, Status};

use super::Printer;

/// The checks as lines of text (colour when the printer has it).
pub fn table(checks: &[Check], printer: &Printer) -> String {
    let mut text = String::new();
    for c in checks {
        let (word, colour) = match c.status {
            Status::Ok => ("ok", "32"),
            Status::Warning => ("warning", "33"),
            Status::Error => ("error", "31;1"),
        };
        let padded = format!("{word:<8}");
        text.push_str(&format!("{} {}\n", printer.paint(&padded, colour), c.message));
    }
    text
}
