//! The services of the config: `[[services]]`, `[defaults]` (the keys a
//! service leaves out, and what a discovered service is made of) and
//! `[discovery]`.

use super::locate::{Locator, Seg};
use super::targets::targets;
use super::validate::{count, pool_settings, resolve};
use super::{RawDefaults, RawDiscovery, RawPool, RawReplicas, RawService};
use crate::config::{ConfigError, Discovery, PoolDefaults, ServiceDefaults, ServiceSettings};
use crate::model::bouncer::Bouncer;
use crate::model::{PoolSize, limits};

/// `replicas`: `Some(n)`, or `None` for `"seen"`.
fn replicas(loc: &Locator<'_>, segs: &[Seg<'_>], raw: RawReplicas) -> Result<Option<u32>, ConfigError> {
    match raw {
        RawReplicas::Count(n) => count(loc, segs, n, 1, limits::MAX_PROCESSES).map(Some),
        RawReplicas::Word(w) if w == "seen" => Ok(None),
        RawReplicas::Word(w) => Err(loc.invalid(
            segs,
            format!(
                "{w:?} is not a number of replicas; write a whole number, or \"seen\" to count the pools in the metrics"
            ),
        )),
    }
}

fn current(loc: &Locator<'_>, at: &[Seg<'_>], raw: RawPool) -> Result<PoolSize, ConfigError> {
    let key = |k| {
        let mut segs = at.to_vec();
        segs.push(Seg::Key(k));
        segs
    };
    Ok(PoolSize {
        pool_size: count(loc, &key("pool_size"), raw.pool_size, 1, limits::MAX_CONNECTIONS)?,
        max_overflow: count(loc, &key("max_overflow"), raw.max_overflow, 0, limits::MAX_CONNECTIONS)?,
    })
}

/// `[defaults]`, with `[pool]` (`pool`) under its own `[defaults.pool]`.
pub(super) fn defaults(
    loc: &Locator<'_>,
    raw: Option<RawDefaults>,
    pool: PoolDefaults,
    bouncer: Option<&Bouncer>,
) -> Result<Option<ServiceDefaults>, ConfigError> {
    use Seg::Key;
    let Some(d) = raw else { return Ok(None) };
    let key = |k| [Key("defaults"), Key(k)];
    let (targets, changelog) = match d.targets {
        Some(t) => targets(loc, &[Key("defaults"), Key("targets")], t, true)?,
        None => (Vec::new(), None),
    };
    let current = match d.current {
        Some(c) => Some(current(loc, &[Key("defaults"), Key("current")], c)?),
        None => None,
    };
    if current.is_none() && targets.is_empty() {
        return Err(loc.invalid(
            &[Key("defaults")],
            "[defaults] needs `current = { pool_size = N, max_overflow = M }` or [defaults.targets] with paths such as \"deploy/{service}.env\" to read them from",
        ));
    }
    Ok(Some(ServiceDefaults {
        replicas: match d.replicas {
            Some(r) => replicas(loc, &key("replicas"), r)?,
            None => None,
        },
        processes_per_replica: count(
            loc,
            &key("processes_per_replica"),
            d.processes_per_replica.unwrap_or(1),
            1,
            limits::MAX_PROCESSES,
        )?,
        concurrent_users: match d.concurrent_users {
            Some(v) => Some(count(loc, &key("concurrent_users"), v, 0, limits::MAX_USERS)?),
            None => None,
        },
        max_pool_size: match d.max_pool_size {
            Some(v) => Some(count(loc, &key("max_pool_size"), v, 1, limits::MAX_CONNECTIONS)?),
            None => None,
        },
        current,
        targets,
        changelog,
        pool: match &d.pool {
            Some(raw_pool) => pool_settings(loc, &[Key("defaults"), Key("pool")], raw_pool, pool)?,
            None => pool,
        },
        config: loc.path.to_path_buf(),
        route: super::pgbouncer::route(
            loc,
            &[Key("defaults")],
            (d.via, d.pgbouncer_database, d.pgbouncer_user),
            bouncer,
            None,
            None,
        )?,
    }))
}

/// `[discovery] from`: `"metrics"` needs `[defaults]` to make the services of.
pub(super) fn discovery(
    loc: &Locator<'_>,
    raw: Option<RawDiscovery>,
    defaults: Option<&ServiceDefaults>,
) -> Result<Discovery, ConfigError> {
    use Seg::Key;
    let Some(d) = raw else { return Ok(Discovery::Config) };
    match d.from.as_str() {
        "config" => Ok(Discovery::Config),
        "metrics" if defaults.is_none() => Err(loc.invalid(
            &[Key("discovery"), Key("from")],
            "a discovered service is made from [defaults]; add a [defaults] table (processes_per_replica, current or targets)",
        )),
        "metrics" => Ok(Discovery::Metrics),
        other => Err(loc.invalid(
            &[Key("discovery"), Key("from")],
            format!("{other:?} is not a source of services; use \"metrics\" (every service in the metrics) or \"config\" (only [[services]])"),
        )),
    }
}

/// `[[services]]`, each key left out taken from `[defaults]` when there is one.
pub(super) fn services(
    loc: &Locator<'_>,
    raw: Vec<RawService>,
    defaults: Option<&ServiceDefaults>,
    pool: PoolDefaults,
    required: bool,
    bouncer: Option<&Bouncer>,
) -> Result<Vec<ServiceSettings>, ConfigError> {
    use Seg::{Index, Key};
    if raw.is_empty() && required {
        return Err(loc.invalid(
            &[Key("services")],
            "at least one [[services]] table is needed (name, replicas, processes_per_replica, current), or [defaults] with [discovery] from = \"metrics\"",
        ));
    }
    let mut services: Vec<ServiceSettings> = Vec::with_capacity(raw.len());
    for (i, s) in raw.into_iter().enumerate() {
        let seg = |k| [Key("services"), Index(i), Key(k)];
        if s.name.trim().is_empty() {
            return Err(loc.invalid(&seg("name"), "must not be empty"));
        }
        if s.name.chars().any(char::is_control) {
            return Err(loc.invalid(
                &seg("name"),
                format!(
                    "{:?} holds a control character (newline, tab, …); a service name is one printable line",
                    s.name
                ),
            ));
        }
        if services.iter().any(|other| other.name == s.name) {
            return Err(loc.invalid(&seg("name"), format!("service {:?} is defined twice", s.name)));
        }
        // [defaults]' `current` goes with its targets: a service with files of
        // its own is read from them (a fleet-wide number would only disagree).
        let current = match s.current {
            Some(c) => Some(current(loc, &[Key("services"), Index(i), Key("current")], c)?),
            None if s.targets.is_none() => defaults.and_then(|d| d.current),
            None => None,
        };
        let (targets, changelog) = match s.targets {
            Some(t) => {
                let (targets, changelog) = targets(loc, &[Key("services"), Index(i), Key("targets")], t, false)?;
                let changelog = match changelog {
                    Some(c) => Some(resolve(loc.path, &c)),
                    None => defaults.and_then(|d| d.changelog_for(&s.name)),
                };
                (targets, changelog)
            }
            None => match defaults {
                Some(d) => (d.targets_for(&s.name), d.changelog_for(&s.name)),
                None => (Vec::new(), None),
            },
        };
        if current.is_none() && targets.is_empty() {
            return Err(loc.invalid(
                &[Key("services"), Index(i)],
                format!(
                    "service {:?} needs `current = {{ pool_size = N, max_overflow = M }}` or [services.targets] to read them from",
                    s.name
                ),
            ));
        }
        let max_pool_size = match s.max_pool_size {
            Some(v) => Some(count(loc, &seg("max_pool_size"), v, 1, limits::MAX_CONNECTIONS)?),
            None => defaults.and_then(|d| d.max_pool_size),
        };
        let base_pool = defaults.map_or(pool, |d| d.pool);
        let service_pool = match &s.pool {
            Some(raw_pool) => pool_settings(loc, &[Key("services"), Index(i), Key("pool")], raw_pool, base_pool)?,
            None => base_pool,
        };
        // Without [defaults] a service left without replicas has one, as before.
        let replicas = match s.replicas {
            Some(r) => replicas(loc, &seg("replicas"), r)?,
            None => match defaults {
                Some(d) => d.replicas,
                None => Some(1),
            },
        };
        let route = super::pgbouncer::route(
            loc,
            &[Key("services"), Index(i)],
            (s.via, s.pgbouncer_database, s.pgbouncer_user),
            bouncer,
            defaults.map(|d| &d.route),
            Some(&s.name),
        )?
        .route(&s.name);
        services.push(ServiceSettings {
            route,
            pool: service_pool,
            replicas: replicas.unwrap_or(1),
            replicas_seen: replicas.is_none(),
            discovered: false,
            processes_per_replica: match s.processes_per_replica {
                Some(v) => count(loc, &seg("processes_per_replica"), v, 1, limits::MAX_PROCESSES)?,
                None => defaults.map_or(1, |d| d.processes_per_replica),
            },
            concurrent_users: match s.concurrent_users {
                Some(v) => Some(count(loc, &seg("concurrent_users"), v, 0, limits::MAX_USERS)?),
                None => defaults.and_then(|d| d.concurrent_users),
            },
            max_pool_size,
            current,
            targets,
            changelog,
            name: s.name,
        });
    }
    Ok(services)
}
