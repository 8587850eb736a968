//! `[pgbouncer]` (the bouncer's limits, written here or read from its
//! `pgbouncer.ini`) and each service's route (`via`, `pgbouncer_database`,
//! `pgbouncer_user`), validated against it.

use super::locate::{Locator, Seg};
use super::validate::{count, resolve};
use super::{RawBouncerDatabase, RawBouncerUser, RawPgbouncer};
use crate::config::{ConfigError, PgbouncerIni, RouteSpec, pgbouncer_ini};
use crate::model::bouncer::{Bouncer, BouncerDatabase, BouncerUser, FALLBACK_DATABASE, PoolMode};
use crate::model::limits;

fn mode(loc: &Locator<'_>, segs: &[Seg<'_>], text: &str) -> Result<PoolMode, ConfigError> {
    PoolMode::parse(text).ok_or_else(|| {
        loc.invalid(
            segs,
            format!("{text:?} is not a PgBouncer pool_mode; use \"session\", \"transaction\" or \"statement\""),
        )
    })
}

/// `[pgbouncer]` into the bouncer's limits (`None` without the table) and
/// its `ini` file as a possible target.
pub(super) fn bouncer(
    loc: &Locator<'_>,
    raw: Option<RawPgbouncer>,
) -> Result<(Option<Bouncer>, Option<PgbouncerIni>), ConfigError> {
    use Seg::Key;
    let Some(r) = raw else { return Ok((None, None)) };
    let key = |k| [Key("pgbouncer"), Key(k)];
    let optional = |k: &'static str, v: Option<i64>, min: u32| -> Result<Option<u32>, ConfigError> {
        v.map(|v| count(loc, &key(k), v, min, limits::MAX_CONNECTIONS))
            .transpose()
    };
    let mut b = match &r.ini {
        Some(ini) => {
            let written_here = [
                ("pool_mode", r.pool_mode.is_some()),
                ("max_client_conn", r.max_client_conn.is_some()),
                ("default_pool_size", r.default_pool_size.is_some()),
                ("reserve_pool_size", r.reserve_pool_size.is_some()),
                ("max_db_connections", r.max_db_connections.is_some()),
                ("max_user_connections", r.max_user_connections.is_some()),
                ("databases", r.databases.is_some()),
                ("users", r.users.is_some()),
            ];
            if let Some((k, _)) = written_here.iter().find(|(_, given)| *given) {
                return Err(loc.invalid(
                    &key(k),
                    format!(
                        "{k} is read from {ini}; remove it here, or remove `ini` and write every limit here — two sources of one limit drift apart"
                    ),
                ));
            }
            let mut b = pgbouncer_ini::read(&resolve(loc.path, ini))?;
            b.source = ini.clone();
            b
        }
        None => {
            let mut b = Bouncer::defaults(&format!("[pgbouncer] of {}", loc.path.display()));
            if let Some(m) = &r.pool_mode {
                b.pool_mode = mode(loc, &key("pool_mode"), m)?;
            }
            b.max_client_conn = optional("max_client_conn", r.max_client_conn, 1)?.unwrap_or(b.max_client_conn);
            b.default_pool_size = optional("default_pool_size", r.default_pool_size, 0)?.unwrap_or(b.default_pool_size);
            b.reserve_pool_size = optional("reserve_pool_size", r.reserve_pool_size, 0)?.unwrap_or(b.reserve_pool_size);
            b.max_db_connections =
                optional("max_db_connections", r.max_db_connections, 0)?.unwrap_or(b.max_db_connections);
            b.max_user_connections =
                optional("max_user_connections", r.max_user_connections, 0)?.unwrap_or(b.max_user_connections);
            for (name, d) in r.databases.unwrap_or_default() {
                let entry = database(loc, &name, d)?;
                b.databases.insert(name, entry);
            }
            for (name, u) in r.users.unwrap_or_default() {
                let entry = user(loc, &name, u)?;
                b.users.insert(name, entry);
            }
            b
        }
    };
    b.headroom = optional("headroom", r.headroom, 0)?.unwrap_or(b.headroom);
    b.other_clients = optional("other_clients", r.other_clients, 0)?.unwrap_or(b.other_clients);
    let write = r.write.unwrap_or(false);
    if r.changelog.is_some() && !write {
        return Err(loc.invalid(
            &key("changelog"),
            "the change log records what apply writes into pgbouncer.ini: it needs write = true (and ini)",
        ));
    }
    let ini = match &r.ini {
        Some(ini) => Some(PgbouncerIni {
            path: resolve(loc.path, ini),
            shown: ini.clone(),
            write,
            changelog: r.changelog.as_deref().map(|c| resolve(loc.path, c)),
        }),
        None if write => {
            return Err(loc.invalid(
                &key("write"),
                "write = true writes the server pools' sizes into PgBouncer's file: name it with ini = \"path/to/pgbouncer.ini\"",
            ));
        }
        None => None,
    };
    Ok((Some(b), ini))
}

fn database(loc: &Locator<'_>, name: &str, d: RawBouncerDatabase) -> Result<BouncerDatabase, ConfigError> {
    use Seg::Key;
    let key = |k| [Key("pgbouncer"), Key("databases"), Key(name), Key(k)];
    let n = |k: &'static str, v: Option<i64>| {
        v.map(|v| count(loc, &key(k), v, 0, limits::MAX_CONNECTIONS))
            .transpose()
    };
    Ok(BouncerDatabase {
        pool_size: n("pool_size", d.pool_size)?,
        reserve_pool: n("reserve_pool", d.reserve_pool)?,
        max_db_connections: n("max_db_connections", d.max_db_connections)?,
        pool_mode: d.pool_mode.map(|m| mode(loc, &key("pool_mode"), &m)).transpose()?,
    })
}

fn user(loc: &Locator<'_>, name: &str, u: RawBouncerUser) -> Result<BouncerUser, ConfigError> {
    use Seg::Key;
    let key = |k| [Key("pgbouncer"), Key("users"), Key(name), Key(k)];
    Ok(BouncerUser {
        max_user_connections: u
            .max_user_connections
            .map(|v| count(loc, &key("max_user_connections"), v, 0, limits::MAX_CONNECTIONS))
            .transpose()?,
        pool_mode: u.pool_mode.map(|m| mode(loc, &key("pool_mode"), &m)).transpose()?,
    })
}

/// The route keys of a service (or of `[defaults]`, `service` `None`) at
/// `at`, over `base` (`[defaults]`' route) and checked against the bouncer.
pub(super) fn route(
    loc: &Locator<'_>,
    at: &[Seg<'_>],
    keys: (Option<String>, Option<String>, Option<String>),
    bouncer: Option<&Bouncer>,
    base: Option<&RouteSpec>,
    service: Option<&str>,
) -> Result<RouteSpec, ConfigError> {
    let (via, database, user) = keys;
    let key = |k| {
        let mut segs = at.to_vec();
        segs.push(Seg::Key(k));
        segs
    };
    let via_pgbouncer = match via.as_deref() {
        None => base.map_or(bouncer.is_some(), |b| b.via_pgbouncer),
        Some("direct") => false,
        Some("pgbouncer") if bouncer.is_none() => {
            return Err(loc.invalid(
                &key("via"),
                "there is no [pgbouncer] table to go through; add one (ini = \"path/to/pgbouncer.ini\", or its limits), or write via = \"direct\"",
            ));
        }
        Some("pgbouncer") => true,
        Some(other) => {
            return Err(loc.invalid(
                &key("via"),
                format!("{other:?} is not a route; use \"pgbouncer\" (through [pgbouncer]) or \"direct\""),
            ));
        }
    };
    for (k, given) in [("pgbouncer_database", &database), ("pgbouncer_user", &user)] {
        if let Some(v) = given
            && !via_pgbouncer
        {
            return Err(loc.invalid(
                &key(k),
                format!("{v:?} names a PgBouncer pool, but this service connects directly; remove it, or write via = \"pgbouncer\""),
            ));
        }
        if given.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(loc.invalid(&key(k), "must not be empty"));
        }
    }
    let database = database
        .or_else(|| base.and_then(|b| b.database.clone()))
        .or_else(|| bouncer.and_then(Bouncer::only_database).map(str::to_string));
    let user = user.or_else(|| base.and_then(|b| b.user.clone()));
    if let (true, Some(b)) = (via_pgbouncer, bouncer) {
        let checked = database.as_deref().or(service);
        if let Some(name) = checked
            && !b.serves(name)
        {
            let listed: Vec<&str> = b.databases.keys().map(String::as_str).collect();
            return Err(loc.invalid(
                &key("pgbouncer_database"),
                format!(
                    "PgBouncer ({}) has no database {name:?} and no {FALLBACK_DATABASE:?} entry, so its clients would be refused; it lists {}: name one with pgbouncer_database",
                    b.source,
                    listed.join(", ")
                ),
            ));
        }
    }
    Ok(RouteSpec {
        via_pgbouncer,
        database,
        user,
    })
}
