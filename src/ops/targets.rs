//! The deployed state of each service, read from its target files, and the
//! files as they must be after a decision. Shared by `plan --check`, `apply`
//! and `override`.
//!
//! The first target (in config order) is the source of truth for the current
//! pool; other targets, and the config's `current`, that say otherwise are a
//! `targets-disagree` finding. A value missing from every target falls back to
//! `current`; with neither, the run stops with an error naming the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::{PoolDefaults, ServiceSettings, Setting, Settings, Target, TargetKind};
use crate::model::PoolSize;
use crate::policy::{Code, Effect, Finding, FindingEvidence, SourceValue};
use crate::write::{self, Value};

/// One target file as it is now.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// The target from the config.
    pub target: Target,
    /// Its text; `None` when the file does not exist yet.
    pub text: Option<String>,
    /// The managed settings it holds, as written.
    pub values: BTreeMap<Setting, String>,
}

/// A service as deployed.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The pool in effect now.
    pub current: PoolSize,
    /// Every managed setting's current value (from the first file that has it).
    pub values: BTreeMap<Setting, String>,
    /// Its target files.
    pub files: Vec<TargetState>,
    /// What reading them found (disagreements, duplicate keys).
    pub findings: Vec<Finding>,
}

fn read_target(target: &Target) -> anyhow::Result<TargetState> {
    let text = match std::fs::read_to_string(&target.path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && target.create && target.kind != TargetKind::Yaml => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{}: target file does not exist (check the path in the config){}",
            target.path.display(),
            if target.kind == TargetKind::Yaml {
                ""
            } else {
                "; set `create = true` on the target if poolcap should make it"
            }
        ),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read target file", target.path.display())),
    };
    let mut values = BTreeMap::new();
    if let Some(text) = &text {
        let keys: Vec<&str> = target.keys.iter().map(|(_, k)| k.as_str()).collect();
        let prefix: Vec<&str> = target.prefix.iter().map(String::as_str).collect();
        let found: Vec<Option<String>> = match target.kind {
            TargetKind::Env => {
                let file = write::env::parse(text);
                keys.iter().map(|k| file.get(k).map(|a| a.value.clone())).collect()
            }
            TargetKind::Toml => write::toml_file::read(text, &prefix, &keys)
                .with_context(|| format!("{}: cannot read the pool settings", target.path.display()))?,
            TargetKind::Yaml => write::yaml::read(text, &prefix, &keys)
                .with_context(|| format!("{}: cannot read the pool settings", target.path.display()))?,
            TargetKind::PgbouncerIni => anyhow::bail!(
                "{}: pgbouncer.ini holds PgBouncer's server pools, not a service's pool",
                target.path.display()
            ),
        };
        for ((setting, _), value) in target.keys.iter().zip(found) {
            if let Some(v) = value {
                values.insert(*setting, v);
            }
        }
    }
    Ok(TargetState {
        target: target.clone(),
        text,
        values,
    })
}

fn parse_count(state: &TargetState, setting: Setting, text: &str) -> anyhow::Result<u32> {
    let key = state
        .target
        .keys
        .iter()
        .find(|(s, _)| *s == setting)
        .map_or("", |(_, k)| k.as_str());
    let value = text
        .trim()
        .parse::<u32>()
        .with_context(|| format!("{}: {key} is {text:?}, not a whole number", state.target.path.display()))?;
    let limit = crate::model::limits::MAX_CONNECTIONS;
    if value > limit {
        bail!(
            "{}: {key} is {value}, beyond poolcap's limit of {limit} connections; correct the file (no database accepts that many)",
            state.target.path.display()
        );
    }
    Ok(value)
}

/// Reads one service's targets and resolves its current pool.
pub fn read_deployed(service: &ServiceSettings) -> anyhow::Result<Deployed> {
    let files = service
        .targets
        .iter()
        .map(read_target)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut findings = Vec::new();
    for file in &files {
        findings.extend(drift(file, &service.pool)?);
    }
    let mut values: BTreeMap<Setting, String> = BTreeMap::new();
    for file in &files {
        for (setting, value) in &file.values {
            values.entry(*setting).or_insert_with(|| value.clone());
        }
        if let Some(text) = &file.text
            && file.target.kind == TargetKind::Env
        {
            let managed: Vec<&str> = file.target.keys.iter().map(|(_, k)| k.as_str()).collect();
            for (key, lines) in write::env::parse(text).duplicates() {
                if !managed.contains(&key.as_str()) {
                    continue;
                }
                let last = lines.last().copied().unwrap_or_default();
                findings.push(Finding {
                    code: Code::DuplicateKey,
                    effect: Effect::Advisory,
                    candidate_pool_size: None,
                    message: format!(
                        "{key} is set {} times in {} (lines {}); applications read the last one (line {last}), so that is the one poolcap reads and changes — remove the others",
                        lines.len(),
                        file.target.shown,
                        lines.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    ),
                    rule: Code::DuplicateKey.rule_text(),
                    evidence: FindingEvidence::DuplicateKey {
                        file: file.target.shown.clone(),
                        key: key.to_string(),
                        lines: lines.clone(),
                    },
                });
            }
        }
    }
    let mut resolve = |setting: Setting, fallback: Option<u32>| -> anyhow::Result<u32> {
        let sources: Vec<(String, u32)> = files
            .iter()
            .filter_map(|f| f.values.get(&setting).map(|v| (f, v)))
            .map(|(f, v)| Ok((f.target.shown.clone(), parse_count(f, setting, v)?)))
            .collect::<anyhow::Result<_>>()?;
        let mut all = sources.clone();
        if let Some(c) = fallback {
            all.push(("poolcap.toml `current`".to_string(), c));
        }
        let Some((truth_file, truth)) = all.first().cloned() else {
            bail!(
                "service {:?}: no current {} — none of its targets ({}) sets it and the config has no `current`",
                service.name,
                setting.name(),
                service
                    .targets
                    .iter()
                    .map(|t| t.shown.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let others: Vec<&(String, u32)> = all.iter().skip(1).filter(|(_, v)| *v != truth).collect();
        if !others.is_empty() && !sources.is_empty() {
            findings.push(Finding {
                code: Code::TargetsDisagree,
                effect: Effect::Advisory,
                candidate_pool_size: None,
                message: format!(
                    "{} is {truth} in {truth_file} (the source of truth) but {}; the next apply writes the same value everywhere",
                    setting.name(),
                    others.iter().map(|(f, v)| format!("{v} in {f}")).collect::<Vec<_>>().join(", ")
                ),
                rule: Code::TargetsDisagree.rule_text(),
                evidence: FindingEvidence::TargetsDisagree {
                    setting: setting.name(),
                    values: all
                        .iter()
                        .map(|(f, v)| SourceValue {
                            source: f.clone(),
                            value: *v,
                        })
                        .collect(),
                },
            });
        }
        Ok(truth)
    };
    let current = PoolSize {
        pool_size: resolve(Setting::PoolSize, service.current.map(|c| c.pool_size))?,
        max_overflow: resolve(Setting::MaxOverflow, service.current.map(|c| c.max_overflow))?,
    };
    values.insert(Setting::PoolSize, current.pool_size.to_string());
    values.insert(Setting::MaxOverflow, current.max_overflow.to_string());
    Ok(Deployed {
        current,
        values,
        files,
        findings,
    })
}

/// Every configured service's deployed state, in config order.
///
/// An env file written by `override --out` is, until the next `apply`, what
/// is deployed: it joins the service's targets as the first one (the source
/// of truth), so later plans, budgets and overrides start from it, and the
/// next `apply` writes it with the others.
pub fn read_all(settings: &Settings) -> anyhow::Result<Vec<Deployed>> {
    let overrides = read_overrides(settings)?;
    settings
        .services
        .iter()
        .map(|service| match overrides.get(&service.name) {
            Some(path) if Path::new(path).exists() => {
                let env = service.targets.iter().find(|t| t.kind == TargetKind::Env);
                let mut with_override = service.clone();
                with_override.targets.insert(
                    0,
                    Target {
                        kind: TargetKind::Env,
                        shown: path.clone(),
                        path: PathBuf::from(path),
                        prefix: Vec::new(),
                        keys: env.map(|t| t.keys.clone()).unwrap_or_else(|| {
                            Setting::ALL.into_iter().map(|s| (s, s.env_key().to_string())).collect()
                        }),
                        units: env.map(|t| t.units).unwrap_or_default(),
                        // poolcap wrote it; it exists (checked above).
                        create: true,
                    },
                );
                read_deployed(&with_override)
            }
            _ => read_deployed(service),
        })
        .collect()
}

/// Where `override --out` records the files it wrote, per service (beside the config).
pub fn overrides_path(settings: &Settings) -> PathBuf {
    settings.dir().join(".poolcap-overrides.json")
}

/// The recorded override files: service → path.
pub fn read_overrides(settings: &Settings) -> anyhow::Result<BTreeMap<String, String>> {
    let path = overrides_path(settings);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: not a record of override files poolcap can read; remove it if no override file is deployed",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Writes the record of override files (removed when empty).
pub fn write_overrides(settings: &Settings, overrides: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let path = overrides_path(settings);
    if overrides.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("{}: cannot remove", path.display()))
            }
            _ => Ok(()),
        };
    }
    let mut text = serde_json::to_string_pretty(overrides).expect("a map serializes");
    text.push('\n');
    let change = write::atomic::FileChange {
        path,
        expect: write::atomic::Expect::Anything,
        contents: text.into_bytes(),
    };
    write::atomic::replace_all(&[change], &write::atomic::WriteOptions::default())?;
    Ok(())
}

/// The value every managed setting must have for `pool`.
pub fn desired(pool: PoolSize, defaults: &PoolDefaults) -> BTreeMap<Setting, Value> {
    Setting::ALL
        .into_iter()
        .map(|s| {
            let v = match s {
                Setting::PoolSize => Value::Int(i64::from(pool.pool_size)),
                Setting::MaxOverflow => Value::Int(i64::from(pool.max_overflow)),
                Setting::PoolTimeout => Value::Int(defaults.pool_timeout),
                Setting::PoolRecycle => Value::Int(defaults.pool_recycle),
                Setting::PoolPrePing => Value::Bool(defaults.pool_pre_ping),
                Setting::StatementTimeout => Value::Int(defaults.statement_timeout_ms),
            };
            (s, v)
        })
        .collect()
}

/// A file that must change, with its text before and after.
#[derive(Debug, Clone)]
pub struct PendingFile {
    /// Where it goes.
    pub path: PathBuf,
    /// As written in the config (for messages).
    pub shown: String,
    /// The text now (`None`: the file does not exist yet).
    pub before: Option<String>,
    /// The text it must have.
    pub after: String,
    /// Keys whose values may be shown (all others are masked in diffs).
    pub managed_keys: Vec<String>,
    /// The dotted path of the table or mapping that holds them (TOML, YAML).
    pub prefix: Vec<String>,
    /// Its format, for masking.
    pub kind: TargetKind,
}

/// What a managed setting means, whatever unit or style a file writes it in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Meaning {
    /// A number of connections.
    Count(u64),
    /// A duration, in milliseconds.
    Millis(i64),
    /// A switch.
    Flag(bool),
}

/// The meaning of a value of [`desired`] (seconds for `pool_timeout` and
/// `pool_recycle`, milliseconds for `statement_timeout`).
fn meaning_of(setting: Setting, value: Value) -> Meaning {
    match (setting, value) {
        (_, Value::Bool(b)) => Meaning::Flag(b),
        (Setting::PoolTimeout | Setting::PoolRecycle, Value::Int(s)) => Meaning::Millis(s.saturating_mul(1000)),
        (Setting::StatementTimeout, Value::Int(ms)) => Meaning::Millis(ms),
        (_, Value::Int(i)) => Meaning::Count(u64::try_from(i).unwrap_or(0)),
    }
}

/// What `text`, as a file holds it, means for `setting` in `units`; `None`
/// when it is not readable as one.
fn read_meaning(setting: Setting, text: &str, units: &crate::config::Units) -> Option<Meaning> {
    let t = text.trim();
    match setting {
        Setting::PoolPrePing => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Meaning::Flag(true)),
            "false" | "0" | "no" | "off" => Some(Meaning::Flag(false)),
            _ => None,
        },
        Setting::PoolSize | Setting::MaxOverflow => t.parse::<u64>().ok().map(Meaning::Count),
        _ => {
            let unit = units.of(setting)?;
            let v: f64 = t.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
            Some(Meaning::Millis((v * unit.millis() as f64).round() as i64))
        }
    }
}

/// A duration in seconds, for messages (`30`, `0.03`).
fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    }
}

/// The value to write for `meaning` in a target whose current text is
/// `current`: durations in the target's unit, switches in the file's own
/// style (`1`/`0`, and in env files `True`/`False`). The text is for env
/// files, the value for TOML and YAML.
fn written(
    state: &TargetState,
    setting: Setting,
    key: &str,
    meaning: Meaning,
    current: Option<&str>,
) -> anyhow::Result<(Value, String)> {
    let current = current.map(str::trim);
    Ok(match meaning {
        Meaning::Count(n) => {
            let v = i64::try_from(n).unwrap_or(i64::MAX);
            (Value::Int(v), v.to_string())
        }
        Meaning::Millis(ms) => {
            let unit = state.target.units.of(setting).unwrap_or(crate::config::Unit::Ms);
            if ms % unit.millis() != 0 {
                bail!(
                    "{}: {key}: {} s cannot be written in {} (whole numbers only); set units.{} = \"s\" or \"ms\" for this target",
                    state.target.shown,
                    seconds(ms),
                    unit.name(),
                    setting.name()
                );
            }
            let v = ms / unit.millis();
            (Value::Int(v), v.to_string())
        }
        Meaning::Flag(b) => match current {
            Some("0" | "1") => (Value::Int(i64::from(b)), i64::from(b).to_string()),
            Some("True" | "False") => (Value::Bool(b), if b { "True" } else { "False" }.to_string()),
            _ => (Value::Bool(b), b.to_string()),
        },
    })
}

/// The new text of one target for `values`. A setting whose value the file
/// already holds, in its unit and style, keeps its bytes.
pub fn render(state: &TargetState, values: &BTreeMap<Setting, Value>) -> anyhow::Result<String> {
    let text = state.text.clone().unwrap_or_default();
    let mut changes: Vec<(&str, Value, String)> = Vec::new();
    for (setting, key) in &state.target.keys {
        let Some(value) = values.get(setting) else { continue };
        let meaning = meaning_of(*setting, *value);
        let current = state.values.get(setting).map(String::as_str);
        if current.and_then(|c| read_meaning(*setting, c, &state.target.units)) == Some(meaning) {
            continue;
        }
        let (value, env_text) = written(state, *setting, key, meaning, current)?;
        changes.push((key.as_str(), value, env_text));
    }
    let prefix: Vec<&str> = state.target.prefix.iter().map(String::as_str).collect();
    let path = state.target.path.display();
    let typed: Vec<(&str, Value)> = changes.iter().map(|(k, v, _)| (*k, *v)).collect();
    Ok(match state.target.kind {
        TargetKind::Env => {
            let changes: Vec<(&str, String)> = changes.iter().map(|(k, _, t)| (*k, t.clone())).collect();
            write::env::edit(&text, &changes)
        }
        TargetKind::Toml => {
            write::toml_file::edit(&text, &prefix, &typed).with_context(|| format!("{path}: cannot edit"))?
        }
        TargetKind::Yaml => {
            write::yaml::edit(&text, &prefix, &typed).with_context(|| format!("{path}: cannot edit"))?
        }
        TargetKind::PgbouncerIni => {
            anyhow::bail!("{path}: pgbouncer.ini holds PgBouncer's server pools, not a service's pool")
        }
    })
}

/// `setting-drift` findings of one target: each fixed setting whose value in
/// the file differs from what the config writes (a missing one included).
/// A change of ten times or more either way blocks.
fn drift(state: &TargetState, defaults: &PoolDefaults) -> anyhow::Result<Vec<Finding>> {
    let values = desired(
        PoolSize {
            pool_size: 1,
            max_overflow: 0,
        },
        defaults,
    );
    let mut findings = Vec::new();
    if state.text.is_none() {
        return Ok(findings);
    }
    for (setting, key) in &state.target.keys {
        if matches!(setting, Setting::PoolSize | Setting::MaxOverflow) {
            continue;
        }
        let Some(value) = values.get(setting) else { continue };
        let want = meaning_of(*setting, *value);
        let current = state.values.get(setting).map(String::as_str);
        let have = current.and_then(|c| read_meaning(*setting, c, &state.target.units));
        if have == Some(want) {
            continue;
        }
        let (_, to_write) = written(state, *setting, key, want, current)?;
        let show = |m: Meaning| match m {
            Meaning::Millis(ms) => format!("{} s", seconds(ms)),
            Meaning::Flag(b) => b.to_string(),
            Meaning::Count(n) => n.to_string(),
        };
        let factor = match (have, want) {
            (Some(Meaning::Millis(a)), Meaning::Millis(b)) if a.min(b) > 0 => a.max(b) as f64 / a.min(b) as f64,
            (Some(Meaning::Millis(a)), Meaning::Millis(b)) if a != b => f64::INFINITY,
            _ => 1.0,
        };
        let in_file = match (current, have) {
            (Some(c), Some(m)) => format!("{} ({})", c.trim(), show(m)),
            (Some(c), None) => format!("{:?}, which poolcap cannot read,", c.trim()),
            (None, _) => "not set".to_string(),
        };
        let blocks = factor >= 10.0;
        let unit_note = match state.target.units.of(*setting) {
            Some(u) => format!(" (read in {}: units.{} of this target)", u.name(), setting.name()),
            None => String::new(),
        };
        let message = if blocks {
            format!(
                "{}: {key} is {in_file}{unit_note} → {to_write} ({}), a change of {factor:.0}× — more likely a unit mismatch than a decision; set the target's units, or [services.pool], or pass --accept-drift to write it",
                state.target.shown,
                show(want)
            )
        } else {
            format!(
                "{}: {key} is {in_file} → {to_write} ({}), as the config sets it",
                state.target.shown,
                show(want)
            )
        };
        findings.push(Finding {
            code: Code::SettingDrift,
            effect: if blocks { Effect::Block } else { Effect::Advisory },
            candidate_pool_size: None,
            message,
            rule: Code::SettingDrift.rule_text(),
            evidence: FindingEvidence::SettingDrift {
                factor: factor.is_finite().then_some(factor),
                file: state.target.shown.clone(),
                in_file: current.map(|c| c.trim().to_string()),
                key: key.to_string(),
                to_write: to_write.clone(),
            },
        });
    }
    Ok(findings)
}

/// With `--accept-drift`: the blocking drift findings become advisory, and say so.
pub fn accept_drift(findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        if f.code == Code::SettingDrift && f.effect == Effect::Block {
            f.effect = Effect::Advisory;
            f.message.push_str(" (accepted with --accept-drift)");
        }
    }
}

/// The target files of one service that must change for `pool`.
pub fn pending_files(deployed: &Deployed, pool: PoolSize, defaults: &PoolDefaults) -> anyhow::Result<Vec<PendingFile>> {
    let values = desired(pool, defaults);
    let mut out = Vec::new();
    for state in &deployed.files {
        let after = render(state, &values)?;
        if state.text.as_deref() != Some(after.as_str()) {
            out.push(PendingFile {
                path: state.target.path.clone(),
                shown: state.target.shown.clone(),
                before: state.text.clone(),
                after,
                managed_keys: state.target.keys.iter().map(|(_, k)| k.clone()).collect(),
                prefix: state.target.prefix.clone(),
                kind: state.target.kind,
            });
        }
    }
    Ok(out)
}

/// `file`'s `text` with every value poolcap does not manage masked, for showing
/// (see [`write::mask`]).
pub fn masked(file: &PendingFile, text: &str) -> String {
    let managed: Vec<&str> = file.managed_keys.iter().map(String::as_str).collect();
    let prefix: Vec<&str> = file.prefix.iter().map(String::as_str).collect();
    match file.kind {
        TargetKind::Env => write::mask::env(text, &managed),
        TargetKind::Toml => write::mask::toml(text, &prefix, &managed),
        TargetKind::Yaml => write::mask::yaml(text, &prefix, &managed),
        TargetKind::PgbouncerIni => write::mask::ini(text, &managed),
    }
}

/// One file as a target of one or more services: the file (symlinks
/// followed), the prefix and keys the pool settings live under, the file as
/// the config names it, and the services.
struct TargetGroup {
    real: PathBuf,
    prefix: Vec<String>,
    keys: Vec<(Setting, String)>,
    shown: String,
    services: Vec<usize>,
}

/// Services whose targets are one file with the same keys (a symlink counts as
/// the file it names), in config order; each group has two or more services.
pub fn shared_targets(settings: &Settings) -> Vec<crate::policy::SharedTarget> {
    let mut groups: Vec<TargetGroup> = Vec::new();
    for (k, service) in settings.services.iter().enumerate() {
        for t in &service.targets {
            let real = std::fs::canonicalize(&t.path).unwrap_or_else(|_| t.path.clone());
            let mut keys = t.keys.clone();
            keys.sort();
            match groups
                .iter_mut()
                .find(|g| g.real == real && g.prefix == t.prefix && g.keys == keys)
            {
                Some(g) => {
                    if !g.services.contains(&k) {
                        g.services.push(k);
                    }
                }
                None => groups.push(TargetGroup {
                    real,
                    prefix: t.prefix.clone(),
                    keys,
                    shown: t.shown.clone(),
                    services: vec![k],
                }),
            }
        }
    }
    groups
        .into_iter()
        .filter(|g| g.services.len() > 1)
        .map(|g| crate::policy::SharedTarget {
            file: g.shown,
            services: g.services,
        })
        .collect()
}
