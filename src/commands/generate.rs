//! `poolcap generate`: writes the sample deployment's metrics or a benchmark
//! input, from the seeded generator in `crate::generate`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::{GenerateArgs, GenerateWhat, TimestampStyle};
use crate::config::parse_duration;
use crate::exit::ExitStatus;
use crate::generate;
use crate::render::Printer;

use super::UsageError;
use super::plan::parse_month;

/// Opens `path` for writing, gzip-compressed when it ends in `.gz`.
fn create(path: &Path) -> anyhow::Result<Box<dyn Write>> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create directory", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let file = BufWriter::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "gz") {
        // No file name or mtime in the header: the bytes depend on the content only.
        let encoder = flate2::GzBuilder::new().write(file, flate2::Compression::best());
        Ok(Box::new(encoder))
    } else {
        Ok(Box::new(file))
    }
}

fn finish(mut writer: Box<dyn Write>, path: &Path) -> anyhow::Result<()> {
    writer
        .flush()
        .with_context(|| format!("{}: write failed", path.display()))?;
    drop(writer);
    Ok(())
}

/// Runs `poolcap generate`.
pub fn run(args: &GenerateArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    match &args.what {
        GenerateWhat::Sample { out, seed } => {
            let tz = jiff::tz::TimeZone::get("Europe/London").context("time zone Europe/London")?;
            let services = generate::sample_services();
            for month in generate::sample_months() {
                let path = out.join("metrics").join(format!("{month}.csv.gz"));
                let rows = generate::sample_month(month, *seed, &tz);
                let mut text = String::with_capacity(rows.len() * 80);
                text.push_str(generate::HEADER);
                text.push('\n');
                for row in &rows {
                    let ppr = services
                        .iter()
                        .find(|s| s.name == row.service)
                        .map_or(1, |s| s.processes_per_replica);
                    generate::write_row(&mut text, row, ppr);
                }
                let mut w = create(&path)?;
                w.write_all(text.as_bytes())
                    .with_context(|| format!("{}: write failed", path.display()))?;
                finish(w, &path)?;
                printer.note(&format!("wrote {} ({} rows)", path.display(), rows.len()));
            }
        }
        GenerateWhat::Bench {
            out,
            instances,
            interval,
            month,
            timestamps,
            seed,
        } => {
            let month = parse_month(month)?;
            let interval = parse_duration(interval).map_err(|m| UsageError(format!("--interval: {m}")))?;
            let mut w = create(out)?;
            let rows = generate::bench_csv(
                month,
                *instances,
                interval,
                *seed,
                *timestamps == TimestampStyle::Rfc3339,
                |chunk| w.write_all(chunk.as_bytes()),
            )
            .with_context(|| format!("{}: write failed", out.display()))?;
            finish(w, out)?;
            printer.note(&format!("wrote {} ({rows} rows)", out.display()));
        }
    }
    Ok(ExitStatus::Ok)
}
