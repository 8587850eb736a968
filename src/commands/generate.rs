//! `poolcap generate`: writes the sample deployment's metrics or a benchmark
//! input, from the seeded generator in `crate::generate`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use crate::cli::{GenerateArgs, GenerateWhat, GeneratedLog, TimestampStyle};
use crate::exit::ExitStatus;
use crate::generate;
use crate::model::parse_duration;
use crate::render::Printer;

use super::UsageError;
use crate::ops::plan::parse_month;

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

/// `200K`, `50M`, `1G` (powers of 1024), or plain bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 50M or 1G"))?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("{text:?} has an unknown unit; use K, M or G")),
    };
    Ok(n * mult)
}

fn write_slowlog(
    path: &Path,
    format: GeneratedLog,
    seed: u64,
    span: (i64, i64),
    mean_gap_ms: f64,
    bytes: u64,
) -> anyhow::Result<u64> {
    let mut w = create(path)?;
    let write = |w: &mut Box<dyn Write>, chunk: &str| w.write_all(chunk.as_bytes());
    let statements = match format {
        GeneratedLog::Postgres => {
            generate::slowlog::postgres_stderr(seed, span.0, span.1, mean_gap_ms, bytes, |c| write(&mut w, c))
        }
        GeneratedLog::Mariadb => {
            generate::slowlog::mariadb_slow(seed, span.0, span.1, mean_gap_ms, bytes, |c| write(&mut w, c))
        }
    }
    .with_context(|| format!("{}: write failed", path.display()))?;
    finish(w, path)?;
    Ok(statements)
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
                if month == (crate::model::window::Month { year: 2026, month: 10 }) {
                    // The same month as PgBouncer saw it (data/pgbouncer).
                    let path = out.join("pgbouncer").join(format!("pools-{month}.csv.gz"));
                    let snapshots = generate::sample_pgbouncer_pools(&rows);
                    let mut text = String::with_capacity(snapshots.len() * 80);
                    text.push_str(crate::ingest::pgbouncer_pools::HEADER);
                    text.push('\n');
                    for (ts, s) in &snapshots {
                        let ts = jiff::Timestamp::from_second(*ts).context("a sample time")?;
                        text.push_str(&crate::ingest::pgbouncer_pools::csv_row(&ts.to_string(), s, Some(25)));
                        text.push('\n');
                    }
                    let mut w = create(&path)?;
                    w.write_all(text.as_bytes())
                        .with_context(|| format!("{}: write failed", path.display()))?;
                    finish(w, &path)?;
                    printer.note(&format!("wrote {} ({} snapshots)", path.display(), snapshots.len()));
                }
            }
            // Each month's PostgreSQL slow log (the quarterly review reads
            // August and September as 2026-Q3) and October's MariaDB one too:
            // ~10 000 statements each. October's seed is the sample's, each
            // earlier month's its own (the seed with the month mixed in).
            let october = crate::model::window::Month { year: 2026, month: 10 };
            let mut logs: Vec<(String, GeneratedLog, u64, crate::model::window::Month)> = generate::sample_months()
                .into_iter()
                .map(|m| {
                    let month_seed = if m == october {
                        *seed
                    } else {
                        *seed ^ (0x5eed_0000 + m.month as u64)
                    };
                    (format!("postgresql-{m}.log.gz"), GeneratedLog::Postgres, month_seed, m)
                })
                .collect();
            logs.push((
                "mariadb-slow-2026-10.log.gz".into(),
                GeneratedLog::Mariadb,
                *seed,
                october,
            ));
            for (name, format, month_seed, month) in logs {
                let window = month.window(&tz);
                let span = (window.start * 1000, window.end * 1000);
                let path = out.join("slowlog").join(name);
                let statements = write_slowlog(&path, format, month_seed, span, 330_000.0, 64 << 20)?;
                printer.note(&format!("wrote {} ({statements} statements)", path.display()));
            }
        }
        GenerateWhat::Slowlog {
            out,
            dialect,
            size,
            seed,
        } => {
            let bytes = parse_size(size).map_err(|m| UsageError(format!("--size: {m}")))?;
            let october = crate::model::window::Month { year: 2026, month: 10 }.window(&jiff::tz::TimeZone::UTC);
            let statements = write_slowlog(out, *dialect, *seed, (october.start * 1000, i64::MAX), 1.0, bytes)?;
            printer.note(&format!("wrote {} ({statements} statements)", out.display()));
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
