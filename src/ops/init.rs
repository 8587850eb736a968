//! A commented `poolcap.toml` written from the target files a deployment
//! already has (`poolcap init`). The pool settings are read with the same readers as
//! `plan` (see [`crate::ops::targets`]), so the written config plans as it is.
//!
//! Files go to services this way: a file argument written `SERVICE=FILE` goes
//! to that `--service`; any other goes to the first service. Without
//! `--service`, there is one service named after the first file's stem (the
//! first `--env`, else `--toml`, else `--yaml`; `.env` takes its folder's name).

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::config::{self, PoolDefaults, ServiceSettings, Setting, Target, TargetKind, Units};
use crate::model::DatabaseBudget;
use crate::support::notice::Notices;
use crate::write::atomic::{Expect, FileChange, WriteOptions, replace_all};

use super::UsageError;

/// What `init` is asked: where to write, the target files by kind
/// (`[SERVICE=]FILE[:PREFIX]`), the services, a server to probe.
#[derive(Debug, Clone, Default)]
pub struct InitRequest {
    /// The config to write.
    pub out: PathBuf,
    /// `--env` files.
    pub env: Vec<String>,
    /// `--toml` files.
    pub toml: Vec<String>,
    /// `--yaml` files.
    pub yaml: Vec<String>,
    /// `--service` names, in order.
    pub services: Vec<String>,
    /// `--probe URL`: the budget from a live server.
    pub probe: Option<String>,
    /// `--force`: write over an existing file.
    pub force: bool,
}

/// One target file named on the command line.
struct FileArg {
    kind: TargetKind,
    /// As given (for messages).
    given: String,
    path: PathBuf,
    prefix: Option<String>,
}

/// A service to write and its files.
struct ServiceDraft {
    name: String,
    files: Vec<FileArg>,
}

/// Splits `SERVICE=` off a file argument when SERVICE is one of `services`.
fn owner<'a>(arg: &'a str, services: &[String]) -> (Option<usize>, &'a str) {
    if let Some((name, rest)) = arg.split_once('=')
        && let Some(k) = services.iter().position(|s| s == name)
    {
        return (Some(k), rest);
    }
    (None, arg)
}

/// Splits a `:prefix` off a TOML or YAML file argument.
fn with_prefix(arg: &str) -> (&str, Option<&str>) {
    match arg.rsplit_once(':') {
        Some((file, prefix)) if !file.is_empty() && !prefix.is_empty() && !prefix.contains(['/', '\\']) => {
            (file, Some(prefix))
        }
        _ => (arg, None),
    }
}

/// The service name a file suggests: its stem, or its folder's name for `.env`.
fn name_from(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().trim_start_matches('.').to_string())
        .unwrap_or_default();
    if !stem.is_empty() && stem != "env" {
        return stem;
    }
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".to_string())
}

/// `path` relative to the folder `base` (both absolute), with `..` where needed.
fn relative(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component<'_>> = path.components().collect();
    let b: Vec<Component<'_>> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Sharing no more than the root: an absolute path says it better than `../../…`.
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_string()
}

fn drafts(args: &InitRequest) -> anyhow::Result<Vec<ServiceDraft>> {
    let mut files: Vec<(Option<usize>, FileArg)> = Vec::new();
    for (kind, list) in [
        (TargetKind::Env, &args.env),
        (TargetKind::Toml, &args.toml),
        (TargetKind::Yaml, &args.yaml),
    ] {
        for given in list {
            let (k, rest) = owner(given, &args.services);
            let (file, prefix) = match kind {
                TargetKind::Env => (rest, None),
                _ => with_prefix(rest),
            };
            let path = PathBuf::from(file);
            if !path.is_file() {
                return Err(UsageError(format!(
                    "--{} {given}: {} is not a file; init reads the pool settings from existing target files",
                    kind.name(),
                    path.display()
                ))
                .into());
            }
            files.push((
                k,
                FileArg {
                    kind,
                    given: given.clone(),
                    path,
                    prefix: prefix.map(str::to_string),
                },
            ));
        }
    }
    let Some((_, first)) = files.first() else {
        return Err(UsageError(
            "name at least one target file (--env FILE, --toml FILE:PREFIX or --yaml FILE:PREFIX) to read the pool settings from".into(),
        )
        .into());
    };
    let mut names = args.services.clone();
    if names.is_empty() {
        names.push(name_from(&first.path));
    }
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(UsageError(format!("--service {name:?}: a service name is one printable line")).into());
        }
        if names[..i].contains(name) {
            return Err(UsageError(format!("--service {name:?} is given twice")).into());
        }
    }
    let mut out: Vec<ServiceDraft> = names
        .into_iter()
        .map(|name| ServiceDraft {
            name,
            files: Vec::new(),
        })
        .collect();
    for (k, file) in files {
        let service = &mut out[k.unwrap_or(0)];
        if let Some(other) = service.files.iter().find(|f| f.kind == file.kind) {
            return Err(UsageError(format!(
                "--{kind} {} and --{kind} {} both belong to service {:?}; a service has one target file of each kind (give the other to another --service with SERVICE=FILE)",
                other.given,
                file.given,
                service.name,
                kind = file.kind.name(),
            ))
            .into());
        }
        service.files.push(file);
    }
    if let Some(empty) = out.iter().find(|s| s.files.is_empty()) {
        return Err(UsageError(format!(
            "--service {:?} has no target file; give it one with --env {}=FILE (or --toml, --yaml)",
            empty.name, empty.name
        ))
        .into());
    }
    Ok(out)
}

/// Writes the config `args` asks for; returns how many services it holds.
pub fn init(args: &InitRequest, printer: &mut dyn Notices) -> anyhow::Result<usize> {
    if args.out.exists() && !args.force {
        anyhow::bail!(
            "{}: the file exists; init does not replace it (pass --force to write over it)",
            args.out.display()
        );
    }
    let services = drafts(args)?;
    let out_dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let out_dir_abs = std::fs::canonicalize(&out_dir)
        .with_context(|| format!("{}: cannot use the folder of --out", out_dir.display()))?;

    let (budget, budget_source) = match &args.probe {
        Some(url) => {
            let live = crate::ops::probe::probe_url(url, 60.0)?;
            let budget = crate::ops::probe::budget_from(&live, &DatabaseBudget::default_postgres());
            (budget, Some(crate::support::redact_urls(url)))
        }
        None => (DatabaseBudget::default_postgres(), None),
    };

    let mut text = String::new();
    text.push_str(
        "# poolcap.toml — written by `poolcap init`. Every key is shown with its value;\n\
         # the [policy], [[alerts]] and [pool] values are the hazard card's defaults.\n\
         # Relative paths are taken from this file's folder. See docs/config.md.\n\n",
    );
    write_policy(&mut text);
    write_database(&mut text, &budget, budget_source.as_deref());
    write_pool(&mut text);

    for draft in &services {
        let mut targets = Vec::new();
        let mut shown = Vec::new();
        for f in &draft.files {
            let abs = std::fs::canonicalize(&f.path)
                .with_context(|| format!("{}: cannot resolve the target file", f.path.display()))?;
            let rel = relative(&abs, &out_dir_abs);
            let rel_text = rel.to_string_lossy().into_owned();
            let keys: Vec<(Setting, String)> = Setting::ALL
                .into_iter()
                .map(|s| {
                    let key = if f.kind == TargetKind::Toml {
                        s.name()
                    } else {
                        s.env_key()
                    };
                    (s, key.to_string())
                })
                .collect();
            targets.push(Target {
                kind: f.kind,
                shown: f.path.display().to_string(),
                path: f.path.clone(),
                prefix: f
                    .prefix
                    .as_deref()
                    .map(|p| p.split('.').map(str::to_string).collect())
                    .unwrap_or_default(),
                keys,
                units: Units::default(),
                create: false,
            });
            shown.push((f.kind, rel_text, f.prefix.clone()));
        }
        let service = ServiceSettings {
            name: draft.name.clone(),
            replicas: 1,
            replicas_seen: false,
            discovered: false,
            processes_per_replica: 1,
            concurrent_users: None,
            max_pool_size: None,
            current: None,
            targets,
            changelog: None,
            pool: PoolDefaults::default(),
            route: crate::model::bouncer::Route::Direct,
        };
        let deployed = crate::ops::targets::read_deployed(&service)?;
        for f in &deployed.findings {
            printer.warn(&format!("service {:?}: {}", draft.name, f.message));
        }
        write_service(&mut text, &draft.name, deployed.current, &shown);
    }

    // What is written must load: a failure here is poolcap's own mistake.
    config::parse(&args.out, &text).context("the config init wrote does not load (a bug in poolcap init)")?;
    replace_all(
        &[FileChange {
            path: args.out.clone(),
            expect: if args.force { Expect::Anything } else { Expect::Absent },
            contents: text.into_bytes(),
        }],
        &WriteOptions::default(),
    )?;
    Ok(services.len())
}

fn write_policy(t: &mut String) {
    t.push_str(
        r#"[policy]
timezone = "UTC"                    # zone of calendar months and hours (IANA name, e.g. "Europe/London")
escalate_mean_utilization = 0.60    # a month's mean utilization above this grows the pool
escalate_step = 5                   # connections added by one escalation step
sustained_utilization = 0.80        # utilization held above this for sustained_for…
sustained_for = "5m"                # …grows the pool at once, not at the next review
min_coverage = 0.8                  # least share of the month with data for a decision
users_factor = 1.5                  # sizing formula: pool_size = ceil(concurrent_users × users_factor)
overflow_factor = 0.5               # max_overflow = ceil(pool_size × overflow_factor)
overprovisioned_utilization = 0.20  # a mean below this…
overprovisioned_months = 3          # …for this many months is an advisory finding (never a shrink)
# max_gap = "3m"                    # longest a sample holds (default: 3 × each instance's median interval)
reorder_window = "1h"               # how far back a sample may arrive out of order
slow_query_seconds = 5.0            # slow-query review threshold, seconds
hold_time_seconds = 0.1             # mean connection hold time for the queueing check without a slow log
queue_target = 0.0001               # flag a pool whose P(wait > pool_timeout) stays above this

# Alert rules, replayed over history and exported for Prometheus: utilization
# (checked_out / pool_size) above `above` for longer than `for`.
[[alerts]]
name = "warning"                    # rule name (the Prometheus severity label)
above = 0.80                        # threshold on checked_out / pool_size
for = "5m"                          # how long it must hold before the alert fires

[[alerts]]
name = "critical"                   # rule name (the Prometheus severity label)
above = 0.90                        # threshold on checked_out / pool_size
for = "2m"                          # how long it must hold before the alert fires

"#,
    );
}

fn write_database(t: &mut String, b: &DatabaseBudget, source: Option<&str>) {
    t.push_str("# The database's connection budget: every pool's connections plus other_clients\n");
    t.push_str("# must fit in max_connections − reserved − headroom.\n[database]\n");
    let origin = match source {
        Some(url) => format!("from the live server ({url})"),
        None => "PostgreSQL's default — check with SHOW or `poolcap probe`".to_string(),
    };
    let _ = writeln!(
        t,
        "max_connections = {:<20}# server max_connections, {origin}",
        b.max_connections
    );
    let _ = writeln!(
        t,
        "superuser_reserved_connections = {:<3}# server superuser_reserved_connections, {origin}",
        b.superuser_reserved_connections
    );
    let _ = writeln!(
        t,
        "reserved_connections = {:<13}# server reserved_connections (PostgreSQL 16+), {origin}",
        b.reserved_connections
    );
    let _ = writeln!(
        t,
        "headroom = {:<25}# connections kept free on purpose (migrations, psql, the on-call engineer)",
        b.headroom
    );
    let _ = writeln!(
        t,
        "other_clients = {:<20}# connections of clients poolcap does not size (cron jobs, BI tools)\n",
        b.other_clients
    );
}

fn write_pool(t: &mut String) {
    t.push_str(
        r#"# The card's fixed pool settings, written beside the sizes into every target.
[pool]
pool_timeout = "30s"                # seconds a checkout waits before QueuePool gives up
pool_recycle = "1h"                 # connections older than this are replaced
pool_pre_ping = true                # test a connection before handing it out
statement_timeout = "30s"           # PostgreSQL statement_timeout of the pool's sessions

"#,
    );
}

fn write_service(
    t: &mut String,
    name: &str,
    current: crate::model::PoolSize,
    files: &[(TargetKind, String, Option<String>)],
) {
    let _ = writeln!(t, "[[services]]");
    let _ = writeln!(t, "name = {:<29}# as in the metrics' service column", quoted(name));
    t.push_str("replicas = 1                        # pods or containers of the service — set it\n");
    t.push_str("processes_per_replica = 1           # worker processes per replica, one pool each — set it\n");
    t.push_str("# concurrent_users = 12             # peak concurrent users per process, for the sizing formula\n");
    t.push_str("# max_pool_size = 60                # hard upper limit on pool_size\n");
    let _ = writeln!(
        t,
        "current = {{ pool_size = {}, max_overflow = {} }}  # as read from the targets (they stay the truth)",
        current.pool_size, current.max_overflow
    );
    t.push_str("\n# Where the pool settings live; the first file is the source of truth.\n");
    t.push_str("# A missing file is an error unless its table has `create = true`.\n");
    t.push_str("[services.targets]\n");
    for (kind, path, prefix) in files {
        let mut table = format!("{} = {{ path = {}", kind.name(), quoted(path));
        if let Some(p) = prefix {
            let _ = write!(table, ", prefix = {}", quoted(p));
        }
        table.push_str(" }");
        let what = match kind {
            TargetKind::Env => "a dotenv file: DB_POOL_SIZE, DB_MAX_OVERFLOW, …",
            TargetKind::Toml => "a TOML file: pool_size, max_overflow, … under prefix",
            TargetKind::Yaml => "a YAML file: DB_POOL_SIZE, DB_MAX_OVERFLOW, … under prefix",
            TargetKind::PgbouncerIni => "PgBouncer's config",
        };
        let _ = writeln!(t, "{table}  # {what}");
    }
    t.push_str("# changelog = \"CHANGELOG-capacity.md\"  # a Markdown change log apply adds an entry to\n\n");
}
