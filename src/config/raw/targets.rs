//! A service's `[services.targets]`: the files poolcap edits for it (env,
//! TOML, YAML), each kind at most once and in the order written (the first
//! is the source of truth), with its change log.

use super::RawTargets;
use super::locate::{Locator, Seg};
use super::validate::resolve;
use crate::config::{ConfigError, Setting, Target, TargetKind, Unit, Units};

pub(super) type Targets = (Vec<Target>, Option<std::path::PathBuf>);

pub(super) fn targets(loc: &Locator<'_>, service: usize, raw: RawTargets) -> Result<Targets, ConfigError> {
    use Seg::{Index, Key};
    let base = |kind: &'static str| [Key("services"), Index(service), Key("targets"), Key(kind)];
    let mut out: Vec<(usize, Target)> = Vec::new();
    for (kind, raw_target) in [
        (TargetKind::Env, raw.env),
        (TargetKind::Toml, raw.toml),
        (TargetKind::Yaml, raw.yaml),
    ] {
        let Some(t) = raw_target else { continue };
        let segs = base(kind.name());
        let at = |k| [segs[0], segs[1], segs[2], segs[3], Key(k)];
        if t.path.trim().is_empty() {
            return Err(loc.invalid(&at("path"), "must not be empty"));
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
                            &[segs[0], segs[1], segs[2], segs[3], Key("keys"), Key(&name)],
                            format!(
                                "unknown setting {name:?}; settings are {}",
                                Setting::ALL.map(Setting::name).join(", ")
                            ),
                        ));
                    };
                    if key.trim().is_empty() {
                        return Err(loc.invalid(
                            &[segs[0], segs[1], segs[2], segs[3], Key("keys"), Key(&name)],
                            "must not be empty",
                        ));
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
            let at_unit = [segs[0], segs[1], segs[2], segs[3], Key("units"), Key(name)];
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
    let changelog = raw.changelog.map(|c| resolve(loc.path, &c));
    Ok((out.into_iter().map(|(_, t)| t).collect(), changelog))
}
