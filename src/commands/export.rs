//! `poolcap export`: files for the monitoring stack, from the config.

use crate::cli::{ExportArgs, ExportWhat, GlobalArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::render::{self, Printer};
use crate::write::atomic::{Expect, FileChange, WriteOptions, replace_all};

/// Runs `poolcap export`.
pub fn run(global: &GlobalArgs, args: &ExportArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let (text, out) = match &args.what {
        ExportWhat::PrometheusRules { out } => (render::prometheus::rules_file(&settings)?, out),
        ExportWhat::Grafana { out } => (render::grafana::dashboard(&settings)?, out),
        ExportWhat::PromtoolTests {
            metrics,
            from,
            to,
            rules,
            out,
        } => (
            crate::ops::promtool::run(&settings, &metrics.files(), from, to, rules, printer)?,
            out,
        ),
    };
    match out {
        Some(path) => {
            let change = FileChange {
                path: path.clone(),
                expect: Expect::Anything,
                contents: text.into_bytes(),
            };
            replace_all(&[change], &WriteOptions::default())?;
            printer.note(&format!("wrote {}", path.display()));
        }
        None => printer.out(&text)?,
    }
    Ok(ExitStatus::Ok)
}
