//! A service's `[services.targets]`: the files poolcap edits for it (env,
//! TOML, YAML), each kind at most once and in the order written (the first
//! is the source of truth), with its change log.

use super::RawTargets;
use super::locate::{Locator, Seg};
use super::validate::resolve;
use crate::config::{ConfigError, Setting, Target, TargetKind, Unit, Units};

/// The targets in the order written, and the change log as written.
pub(super) type Targets = (Vec<Target>, Option<String>);

/// The targets written at `at` (`services[i].targets`, `defaults.targets`);
/// `pattern`: each path must hold `{service}` (the `[defaults]` ones).
pub(super) fn targets(
    loc: &Locator<'_>,
    at: &[Seg<'_>],
    raw: RawTargets,
    pattern: bool,
) -> Result<Targets, ConfigError> {
    use Seg::Key;
    let base = |kind: &'static str| {
        let mut segs = at.to_vec();
        segs.push(Key(kind));
        segs
    };
    let mut out: Vec<(usize, Target)> = Vec::new();
    for (kind, raw_target) in [
        (TargetKind::Env, raw.env),
        (TargetKind::Toml, raw.toml),
        (TargetKind::Yaml, raw.yaml),
    ] {
        let Some(t) = raw_target else { continue };
        let segs = base(kind.name());
        let at = |k| {
            let mut key = segs.clone();
            key.push(Key(k));
            key
        };
        let at2 = |k, name| {
            let mut key = at(k);
            key.push(Key(name));
            key
        };
        if t.path.trim().is_empty() {
            return Err(loc.invalid(&at("path"), "must not be empty"));
        }
        if pattern && !t.path.contains(crate::config::ServiceDefaults::PLACEHOLDER) {
            return Err(loc.invalid(
                &at("path"),
                format!(
                    "{:?} does not hold {{service}}: every service would write the same file; use a pattern such as \"deploy/{{service}}.env\"",
                    t.path
                ),
            ));
        }
        let prefix: Vec<String> = match (&t.prefix, kind) {
            (Some(_), TargetKind::Env) => {
                return Err(loc.invalid(&at("prefix"), "env files have no prefix; name the keys with `keys`"));
            }
            (Some(p), _) => {
                let parts: Vec<String> = p.split('.').map(str::to_string).collect();
                if parts.iter().any(|s| s.trim().is_empty()) {
                    return Err(loc.invalid(
                        &at("prefix"),
                        format!("{p:?} is not a dotted path like \"database.pool\""),
                    ));
                }
                parts
            }
            (None, _) => Vec::new(),
        };
        let keys: Vec<(Setting, String)> = match t.keys {
            None => Setting::ALL
                .into_iter()
                .map(|s| {
                    (
                        s,
                        if kind == TargetKind::Toml {
                            s.name()
                        } else {
                            s.env_key()
                        }
                        .to_string(),
                    )
                })
                .collect(),
            Some(map) => {
                let mut keys = Vec::new();
                for (name, key) in map {
                    let Some(setting) = Setting::from_name(&name) else {
                        return Err(loc.invalid(
                            &at2("keys", &name),
                            format!(
                                "unknown setting {name:?}; settings are {}",
                                Setting::ALL.map(Setting::name).join(", ")
                            ),
                        ));
                    };
                    if key.trim().is_empty() {
                        return Err(loc.invalid(&at2("keys", &name), "must not be empty"));
                    }
                    keys.push((setting, key));
                }
                keys.sort();
                keys
            }
        };
        if t.create == Some(true) && kind == TargetKind::Yaml {
            return Err(loc.invalid(
                &at("create"),
                "a YAML target must already exist (poolcap edits a mapping in it); create the file, then remove `create`",
            ));
        }
        let mut units = Units::default();
        for (name, unit) in t.units.iter().flatten() {
            let at_unit = at2("units", name);
            let Some(setting) = Setting::from_name(name).filter(|s| Units::default().of(*s).is_some()) else {
                return Err(loc.invalid(
                    &at_unit,
                    format!("{name:?} has no unit; units apply to pool_timeout, pool_recycle and statement_timeout"),
                ));
            };
            let Some(unit) = Unit::from_name(unit) else {
                return Err(loc.invalid(&at_unit, format!("unknown unit {unit:?}; use \"ms\", \"s\" or \"min\"")));
            };
            units.set(setting, unit);
        }
        let order = loc.span(&segs).unwrap_or(usize::MAX);
        out.push((
            order,
            Target {
                kind,
                path: resolve(loc.path, &t.path),
                shown: t.path,
                prefix,
                keys,
                units,
                create: t.create.unwrap_or(false),
            },
        ));
    }
    // The order written in the file decides which target is the source of truth.
    out.sort_by_key(|(order, _)| *order);
    Ok((out.into_iter().map(|(_, t)| t).collect(), raw.changelog))
}
