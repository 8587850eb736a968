//! The connection budget (DESIGN §1.5): every pool's connections against
//! what the database allows, with the arithmetic shown.
//!
//! Without PgBouncer there is one side: Σ pools × (pool_size +
//! max_overflow), plus other clients, ≤ max_connections − reserved −
//! headroom. With PgBouncer
//! there are two (docs/pgbouncer.md):
//! - the client side: the pools routed through it, plus its other clients,
//!   ≤ `max_client_conn` − its headroom;
//! - the database side: PgBouncer's server pools (pool + reserve per
//!   database and user, within `max_db_connections` and
//!   `max_user_connections`), plus the services that connect directly, plus
//!   other clients ≤ the database's limit.
//!
//! Every product and sum is taken in `u64` and saturates, so the guard can
//! only err on the side of blocking.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Code, Decision, Effect, Finding, FindingEvidence};
use crate::model::bouncer::{Bouncer, PoolMode, PoolSnapshot, Route, ServerPool, ServicePools};
use crate::model::{DatabaseBudget, ceil_times};

/// A service's share of the connection budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetLine {
    /// Service name.
    pub service: String,
    /// replicas × processes per replica.
    pub pools: u64,
    /// `pool_size + max_overflow` recommended.
    pub per_pool: u64,
    /// pools × per_pool.
    pub connections: u64,
    /// The same with the current sizes.
    pub current_connections: u64,
    /// The route: `direct`, or PgBouncer's (database, user). Left out of the
    /// JSON when there is no PgBouncer.
    #[serde(skip_serializing_if = "is_direct")]
    pub route: Route,
}

fn is_direct(route: &Route) -> bool {
    *route == Route::Direct
}

/// The connection budget checked on the recommendation (DESIGN §1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// The database side: max − superuser reserved − reserved − headroom.
    pub limit: u32,
    /// The database side's connections with the recommended sizes: Σ direct
    /// lines + PgBouncer's server pools + other clients.
    pub required: u64,
    /// The same with the current sizes.
    pub current_required: u64,
    /// Both sides within their limits.
    pub ok: bool,
    /// The inputs of `limit`.
    pub database: BudgetDatabase,
    /// Per service.
    pub services: Vec<BudgetLine>,
    /// PgBouncer's side, when services go through one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbouncer: Option<BouncerBudget>,
}

/// The database side of the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetDatabase {
    /// `max_connections`.
    pub max_connections: u32,
    /// `superuser_reserved_connections`.
    pub superuser_reserved_connections: u32,
    /// `reserved_connections`.
    pub reserved_connections: u32,
    /// Configured headroom.
    pub headroom: u32,
    /// Declared other clients.
    pub other_clients: u32,
}

/// PgBouncer's part of the budget: its client limit, and the server pools it
/// may open at the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BouncerBudget {
    /// Where its limits come from.
    pub source: String,
    /// `pool_mode` of `[pgbouncer]`.
    pub pool_mode: PoolMode,
    /// `max_client_conn`.
    pub max_client_conn: u32,
    /// Client slots kept free.
    pub headroom: u32,
    /// Client connections through it that poolcap does not size.
    pub other_clients: u32,
    /// `max_client_conn − headroom`.
    pub client_limit: u32,
    /// Σ routed lines (recommended) + other clients.
    pub client_required: u64,
    /// The same with the current sizes.
    pub client_current_required: u64,
    /// `client_required ≤ client_limit`.
    pub clients_ok: bool,
    /// The server pools the routed services use, by (database, user).
    pub server_pools: Vec<ServerPoolLine>,
    /// Server connections counted at the database: Σ pool + reserve, within
    /// the per-database and per-user caps.
    pub server_connections: u64,
    /// The caps that lowered the sum, in words (`max_db_connections 30 for
    /// app (its pools 45)`).
    pub caps: Vec<String>,
}

/// One server pool and the clients the routed services give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerPoolLine {
    /// The pool.
    #[serde(flatten)]
    pub pool: ServerPool,
    /// Client connections the routed services may hold (recommended sizes).
    pub clients: u64,
    /// The same with the current sizes.
    pub current_clients: u64,
    /// The services routed to it.
    pub services: Vec<String>,
}

/// Which side of the budget a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetSide {
    /// Connections at the database.
    Database,
    /// Client connections at PgBouncer.
    PgbouncerClients,
}

impl BudgetSide {
    /// Whether this is the database side (the only side without PgBouncer).
    pub fn is_database(&self) -> bool {
        *self == BudgetSide::Database
    }
}

/// One side over its limit, with what to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The side.
    pub side: BudgetSide,
    /// Connections needed with the recommended sizes.
    pub required: u64,
    /// The same with the current sizes.
    pub current_required: u64,
    /// The limit.
    pub limit: u32,
    /// The sentence: the arithmetic, the limit's parts and the ways out.
    pub message: String,
}

/// Server connections of the pools in use: Σ pool + reserve, each database's
/// total within `max_db_connections` and each user's within
/// `max_user_connections` (the smaller of the two bounds when both apply),
/// with the caps that lowered it in words.
fn server_connections(bouncer: &Bouncer, pools: &[ServerPoolLine]) -> (u64, Vec<String>) {
    let mut caps = Vec::new();
    let mut capped_total = |key: fn(&ServerPoolLine) -> &str, cap_of: &dyn Fn(&str) -> u32, what: &str| {
        let mut by: BTreeMap<&str, u64> = BTreeMap::new();
        for p in pools {
            let sum = by.entry(key(p)).or_default();
            *sum = sum.saturating_add(p.pool.capacity());
        }
        by.into_iter()
            .map(|(name, sum)| match u64::from(cap_of(name)) {
                0 => sum,
                cap if cap < sum => {
                    caps.push(format!("{what} {cap} for {name} (its pools {sum})"));
                    cap
                }
                _ => sum,
            })
            .fold(0u64, u64::saturating_add)
    };
    let by_database = capped_total(|p| &p.pool.database, &|d| bouncer.database_cap(d), "max_db_connections");
    let by_user = capped_total(|p| &p.pool.user, &|u| bouncer.user_cap(u), "max_user_connections");
    (by_database.min(by_user), caps)
}

/// Checks the budget for the given services' pools and decisions.
pub fn check_budget(db: &DatabaseBudget, pools: &[ServicePools], decisions: &[Decision]) -> Budget {
    let services: Vec<BudgetLine> = decisions
        .iter()
        .zip(pools)
        .map(|(d, p)| BudgetLine {
            service: d.service.clone(),
            pools: p.count,
            per_pool: d.recommended.capacity(),
            connections: p.count.saturating_mul(d.recommended.capacity()),
            current_connections: p.count.saturating_mul(d.current.capacity()),
            route: p.route.clone(),
        })
        .collect();
    let sum = |direct: bool, each: fn(&BudgetLine) -> u64, start: u32| {
        services
            .iter()
            .filter(|l| is_direct(&l.route) == direct)
            .map(each)
            .fold(u64::from(start), u64::saturating_add)
    };
    let pgbouncer = db.bouncer.as_ref().map(|b| {
        let mut by_pool: BTreeMap<(String, String), ServerPoolLine> = BTreeMap::new();
        for line in &services {
            if let Route::Pgbouncer { database, user } = &line.route {
                let entry = by_pool
                    .entry((database.clone(), user.clone()))
                    .or_insert_with(|| ServerPoolLine {
                        pool: b.server_pool(database, user),
                        clients: 0,
                        current_clients: 0,
                        services: Vec::new(),
                    });
                entry.clients = entry.clients.saturating_add(line.connections);
                entry.current_clients = entry.current_clients.saturating_add(line.current_connections);
                entry.services.push(line.service.clone());
            }
        }
        let server_pools: Vec<ServerPoolLine> = by_pool.into_values().collect();
        let (server_connections, caps) = server_connections(b, &server_pools);
        let client_required = sum(false, |l| l.connections, b.other_clients);
        BouncerBudget {
            source: b.source.clone(),
            pool_mode: b.pool_mode,
            max_client_conn: b.max_client_conn,
            headroom: b.headroom,
            other_clients: b.other_clients,
            client_limit: b.client_limit(),
            client_required,
            client_current_required: sum(false, |l| l.current_connections, b.other_clients),
            clients_ok: client_required <= u64::from(b.client_limit()),
            server_pools,
            server_connections,
            caps,
        }
    });
    let server = pgbouncer.as_ref().map_or(0, |p| p.server_connections);
    let required = sum(true, |l| l.connections, db.other_clients).saturating_add(server);
    let current_required = sum(true, |l| l.current_connections, db.other_clients).saturating_add(server);
    let limit = db.limit();
    let database_ok = required <= u64::from(limit);
    Budget {
        limit,
        required,
        current_required,
        ok: database_ok && pgbouncer.as_ref().is_none_or(|p| p.clients_ok),
        database: BudgetDatabase {
            max_connections: db.max_connections,
            superuser_reserved_connections: db.superuser_reserved_connections,
            reserved_connections: db.reserved_connections,
            headroom: db.headroom,
            other_clients: db.other_clients,
        },
        services,
        pgbouncer,
    }
}

/// The largest `pool_size` service `k` can take within the budget, with every
/// other service as in `decisions` (their recommended sizes) and the overflow
/// following `overflow_factor`, capped by `max_pool_size`. Through PgBouncer
/// the room is on its client side. `None` when even a pool of 1 does not
/// fit, or when the other side is over whatever `k` takes.
pub fn headroom(
    db: &DatabaseBudget,
    pools: &[ServicePools],
    decisions: &[Decision],
    k: usize,
    overflow_factor: f64,
    max_pool_size: Option<u32>,
) -> Option<u32> {
    let mut zeroed = decisions.to_vec();
    let mine = zeroed.get_mut(k)?;
    mine.recommended = crate::model::PoolSize {
        pool_size: 0,
        max_overflow: 0,
    };
    let without = check_budget(db, pools, &zeroed);
    let routed = !is_direct(&pools.get(k)?.route);
    let (room, other_side_ok) = match (&without.pgbouncer, routed) {
        (Some(p), true) => (
            u64::from(p.client_limit).checked_sub(p.client_required)?,
            without.required <= u64::from(without.limit),
        ),
        (p, _) => (
            u64::from(without.limit).checked_sub(without.required)?,
            p.as_ref().is_none_or(|p| p.clients_ok),
        ),
    };
    if !other_side_ok {
        return None;
    }
    let per_pool = room / pools.get(k).map_or(1, |p| p.count).max(1);
    let fits = |p: u64| p + u64::from(ceil_times(p.min(u64::from(u32::MAX)) as u32, overflow_factor)) <= per_pool;
    // p + ceil(p × factor) grows with p: start from the division, settle by steps.
    let mut p = ((per_pool as f64) / (1.0 + overflow_factor)).floor() as u64;
    p = p.min(u64::from(u32::MAX));
    while p > 0 && !fits(p) {
        p -= 1;
    }
    while p < u64::from(u32::MAX) && fits(p + 1) {
        p += 1;
    }
    let p = u32::try_from(p).unwrap_or(u32::MAX);
    let p = max_pool_size.map_or(p, |m| p.min(m));
    (p >= 1).then_some(p)
}

impl Budget {
    /// Whether the database side is within its limit.
    pub fn database_ok(&self) -> bool {
        self.required <= u64::from(self.limit)
    }

    /// PgBouncer's client side in words, when there is one, such as
    /// `4 × 38 + 2 × 15 + 4 = 186 of 290 client connections (300
    /// max_client_conn − 10 headroom; pgbouncer.ini, transaction mode)`.
    pub fn client_sentence(&self) -> Option<String> {
        let p = self.pgbouncer.as_ref()?;
        Some(format!(
            "{} = {} of {} client connections ({} max_client_conn − {} headroom; {}, {} mode)",
            self.client_arithmetic()?,
            p.client_required,
            p.client_limit,
            p.max_client_conn,
            p.headroom,
            p.source,
            p.pool_mode.name()
        ))
    }

    /// The database side's sum as written: `4 × 38 + 2 × 15 + 12` (pools ×
    /// connections per pool, then PgBouncer's server connections, then other
    /// clients).
    pub fn arithmetic(&self) -> String {
        self.services
            .iter()
            .filter(|l| is_direct(&l.route))
            .map(|l| format!("{} × {}", l.pools, l.per_pool))
            .chain(self.pgbouncer.as_ref().map(|p| {
                let pools = p
                    .server_pools
                    .iter()
                    .map(|s| format!("{} + {}", s.pool.pool_size, s.pool.reserve))
                    .collect::<Vec<_>>()
                    .join(", ");
                let caps = if p.caps.is_empty() {
                    String::new()
                } else {
                    format!(", within {}", p.caps.join(" and "))
                };
                format!("{} (PgBouncer's server pools: {pools}{caps})", p.server_connections)
            }))
            .chain((self.database.other_clients > 0).then(|| self.database.other_clients.to_string()))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// PgBouncer's client side as written: `4 × 30 + 2 × 15 + 3`.
    pub fn client_arithmetic(&self) -> Option<String> {
        let p = self.pgbouncer.as_ref()?;
        let terms: Vec<String> = self
            .services
            .iter()
            .filter(|l| !is_direct(&l.route))
            .map(|l| format!("{} × {}", l.pools, l.per_pool))
            .chain((p.other_clients > 0).then(|| p.other_clients.to_string()))
            .collect();
        Some(if terms.is_empty() {
            "0".into()
        } else {
            terms.join(" + ")
        })
    }

    /// Whether a service's line may hold `connections` with the others as
    /// they are (the side its route counts on).
    pub fn fits(&self, k: usize, connections: u64) -> bool {
        let Some(line) = self.services.get(k) else {
            return false;
        };
        match (&self.pgbouncer, is_direct(&line.route)) {
            (Some(p), false) => {
                p.client_required
                    .saturating_sub(line.connections)
                    .saturating_add(connections)
                    <= u64::from(p.client_limit)
            }
            _ => {
                self.required
                    .saturating_sub(line.connections)
                    .saturating_add(connections)
                    <= u64::from(self.limit)
            }
        }
    }

    /// The sides over their limits, each with its sentence.
    pub fn breaches(&self) -> Vec<Breach> {
        let mut out = Vec::new();
        if self.required > u64::from(self.limit) {
            let d = &self.database;
            let ways = match &self.pgbouncer {
                Some(_) => {
                    "smaller PgBouncer server pools (default_pool_size or a database's pool_size, reserve_pool_size) or a max_db_connections cap in pgbouncer.ini, fewer processes per replica for the services that connect directly, or a larger max_connections (needs a database restart)"
                }
                None => {
                    "fewer processes per replica, PgBouncer in transaction mode, or a larger max_connections (needs a database restart)"
                }
            };
            out.push(Breach {
                side: BudgetSide::Database,
                required: self.required,
                current_required: self.current_required,
                limit: self.limit,
                message: format!(
                    "the plan needs {} = {} connections but the budget is {} ({} max_connections − {} superuser reserved − {} reserved − {} headroom); ways out: {ways}",
                    self.arithmetic(),
                    self.required,
                    self.limit,
                    d.max_connections,
                    d.superuser_reserved_connections,
                    d.reserved_connections,
                    d.headroom,
                ),
            });
        }
        if let (Some(p), Some(arithmetic)) = (&self.pgbouncer, self.client_arithmetic())
            && !p.clients_ok
        {
            out.push(Breach {
                side: BudgetSide::PgbouncerClients,
                required: p.client_required,
                current_required: p.client_current_required,
                limit: p.client_limit,
                message: format!(
                    "the pools through PgBouncer need {arithmetic} = {} client connections but PgBouncer allows {} ({} max_client_conn − {} headroom, from {}); ways out: a larger max_client_conn in pgbouncer.ini (a reload; mind the file-descriptor limit), fewer processes per replica, or smaller application pools — behind PgBouncer in transaction mode a small pool per process is enough",
                    p.client_required, p.client_limit, p.max_client_conn, p.headroom, p.source
                ),
            });
        }
        out
    }
}

/// The `pgbouncer-pool` findings of a live probe: each server pool of a
/// routed service where clients wait for a server connection (`cl_waiting`
/// > 0, or a `maxwait` of a second or more), on the services routed to it.
pub fn waiting_findings(budget: &Budget, snapshots: &[PoolSnapshot], source: &str) -> Vec<(String, Finding)> {
    let Some(p) = &budget.pgbouncer else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in &p.server_pools {
        let Some(s) = snapshots
            .iter()
            .find(|s| s.database == line.pool.database && s.user == line.pool.user)
        else {
            continue;
        };
        if s.cl_waiting == 0 && s.maxwait_seconds < 1.0 {
            continue;
        }
        let message = format!(
            "the probe of {source} saw {} client(s) waiting for a server connection in pool {}/{} (the oldest for {:.1} s; {} server connections active of {} + {} reserve, {} clients active): the server pool is too small for this load, or long transactions hold it. Ways out: a larger pool_size for {} in pgbouncer.ini (within the database budget), shorter transactions, or fewer statements per request",
            s.cl_waiting,
            s.database,
            s.user,
            s.maxwait_seconds,
            s.sv_active,
            line.pool.pool_size,
            line.pool.reserve,
            s.cl_active,
            s.database,
        );
        for service in &line.services {
            out.push((
                service.clone(),
                Finding {
                    code: Code::PgbouncerPool,
                    effect: Effect::Advisory,
                    candidate_pool_size: None,
                    message: message.clone(),
                    rule: Code::PgbouncerPool.rule_text(),
                    evidence: FindingEvidence::PgbouncerPool {
                        database: s.database.clone(),
                        user: s.user.clone(),
                        pool_mode: line.pool.pool_mode,
                        server_capacity: line.pool.capacity(),
                        clients: line.clients,
                        cl_waiting: Some(s.cl_waiting),
                        maxwait_seconds: Some(s.maxwait_seconds),
                    },
                },
            ));
        }
    }
    out
}
