//! PgBouncer between the applications and PostgreSQL: the limits the
//! connection budget needs on both of its sides, and the route each
//! service's connections take.
//!
//! Behind PgBouncer an application pool's connections are *client*
//! connections (limited by `max_client_conn`); PostgreSQL sees PgBouncer's
//! *server* pools, one per (database, user): `pool_size` (or
//! `default_pool_size`) plus `reserve_pool_size`, capped per database by
//! `max_db_connections` and per user by `max_user_connections` (0: no cap).

use std::collections::BTreeMap;

/// PgBouncer's `pool_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// A server connection per client connection, for its whole life.
    Session,
    /// A server connection per transaction: client slots are multiplexed.
    Transaction,
    /// A server connection per statement.
    Statement,
}

impl PoolMode {
    /// The mode named as in `pgbouncer.ini` (any case).
    pub fn parse(text: &str) -> Option<PoolMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "session" => Some(PoolMode::Session),
            "transaction" => Some(PoolMode::Transaction),
            "statement" => Some(PoolMode::Statement),
            _ => None,
        }
    }

    /// The name as PgBouncer writes it.
    pub fn name(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// A `[databases]` entry's pool settings (unset: the `[pgbouncer]` default).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BouncerDatabase {
    /// `pool_size`.
    pub pool_size: Option<u32>,
    /// `reserve_pool`.
    pub reserve_pool: Option<u32>,
    /// `max_db_connections` (0: no cap).
    pub max_db_connections: Option<u32>,
    /// `pool_mode`.
    pub pool_mode: Option<PoolMode>,
}

/// A `[users]` entry's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BouncerUser {
    /// `pool_mode`.
    pub pool_mode: Option<PoolMode>,
    /// `max_user_connections` (0: no cap).
    pub max_user_connections: Option<u32>,
}

/// One PgBouncer's limits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bouncer {
    /// Where the limits come from (the ini file, `[pgbouncer]`, or a probe).
    pub source: String,
    /// `pool_mode` (PgBouncer's default: session).
    pub pool_mode: PoolMode,
    /// `max_client_conn` (default 100).
    pub max_client_conn: u32,
    /// `default_pool_size` (default 20).
    pub default_pool_size: u32,
    /// `reserve_pool_size` (default 0).
    pub reserve_pool_size: u32,
    /// `max_db_connections` (default 0: no cap).
    pub max_db_connections: u32,
    /// `max_user_connections` (default 0: no cap).
    pub max_user_connections: u32,
    /// Client slots kept free on purpose (admin console, exporter, psql);
    /// poolcap's own setting, not PgBouncer's.
    pub headroom: u32,
    /// Client connections through PgBouncer that poolcap does not size.
    pub other_clients: u32,
    /// `[databases]`, by name (`*` is the fallback for names not listed).
    pub databases: BTreeMap<String, BouncerDatabase>,
    /// `[users]`, by name.
    pub users: BTreeMap<String, BouncerUser>,
}

/// The name of the fallback `[databases]` entry.
pub const FALLBACK_DATABASE: &str = "*";

impl Bouncer {
    /// PgBouncer 1.18's defaults, with poolcap's headroom of 5 client slots.
    pub fn defaults(source: &str) -> Bouncer {
        Bouncer {
            source: source.to_string(),
            pool_mode: PoolMode::Session,
            max_client_conn: 100,
            default_pool_size: 20,
            reserve_pool_size: 0,
            max_db_connections: 0,
            max_user_connections: 0,
            headroom: 5,
            other_clients: 0,
            databases: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }

    /// Client connections the applications may hold in all:
    /// `max_client_conn − headroom − other clients` (never negative).
    pub fn client_limit(&self) -> u32 {
        self.max_client_conn.saturating_sub(self.headroom)
    }

    /// The `[databases]` entry clients of `database` get: its own, else `*`.
    pub fn database(&self, database: &str) -> Option<&BouncerDatabase> {
        self.databases
            .get(database)
            .or_else(|| self.databases.get(FALLBACK_DATABASE))
    }

    /// Whether PgBouncer accepts clients of `database`: it is listed, or `*`
    /// is, or no `[databases]` were described at all.
    pub fn serves(&self, database: &str) -> bool {
        self.databases.is_empty() || self.database(database).is_some()
    }

    /// The one database listed (besides `*`), the default route's database.
    pub fn only_database(&self) -> Option<&str> {
        let mut named = self.databases.keys().filter(|k| *k != FALLBACK_DATABASE);
        match (named.next(), named.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// The server pool of (database, user): its size and reserve and mode.
    pub fn server_pool(&self, database: &str, user: &str) -> ServerPool {
        let entry = self.database(database).cloned().unwrap_or_default();
        let user_entry = self.users.get(user);
        ServerPool {
            database: database.to_string(),
            user: user.to_string(),
            pool_size: entry.pool_size.unwrap_or(self.default_pool_size),
            reserve: entry.reserve_pool.unwrap_or(self.reserve_pool_size),
            pool_mode: user_entry
                .and_then(|u| u.pool_mode)
                .or(entry.pool_mode)
                .unwrap_or(self.pool_mode),
        }
    }

    /// The cap on server connections to `database` (0: none).
    pub fn database_cap(&self, database: &str) -> u32 {
        self.database(database)
            .and_then(|d| d.max_db_connections)
            .unwrap_or(self.max_db_connections)
    }

    /// The cap on server connections of `user` (0: none).
    pub fn user_cap(&self, user: &str) -> u32 {
        self.users
            .get(user)
            .and_then(|u| u.max_user_connections)
            .unwrap_or(self.max_user_connections)
    }
}

/// One server pool: what PgBouncer may open to PostgreSQL for a (database, user).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerPool {
    /// The database, as clients name it.
    pub database: String,
    /// The user.
    pub user: String,
    /// `pool_size` (or `default_pool_size`).
    pub pool_size: u32,
    /// `reserve_pool` (or `reserve_pool_size`).
    pub reserve: u32,
    /// The mode its clients get.
    pub pool_mode: PoolMode,
}

impl ServerPool {
    /// Server connections it may open: pool plus reserve.
    pub fn capacity(&self) -> u64 {
        u64::from(self.pool_size) + u64::from(self.reserve)
    }
}

/// How a service's connections reach PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "via", rename_all = "lowercase")]
pub enum Route {
    /// Straight to the database.
    Direct,
    /// Through PgBouncer, as clients of (database, user).
    Pgbouncer {
        /// The `[databases]` name the service connects to.
        database: String,
        /// The user it connects as.
        user: String,
    },
}

/// A service as the connection budget counts it: its pools open at once and
/// the route they take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePools {
    /// replicas × processes per replica.
    pub count: u64,
    /// Direct, or through PgBouncer.
    pub route: Route,
}

impl ServicePools {
    /// Pools straight to the database (the budget without a bouncer).
    pub fn direct(count: u64) -> ServicePools {
        ServicePools {
            count,
            route: Route::Direct,
        }
    }
}

/// One server pool at one moment, as PgBouncer's `SHOW POOLS` gives it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolSnapshot {
    /// The database, as clients name it.
    pub database: String,
    /// The user.
    pub user: String,
    /// Clients paired with a server connection, or idle with nothing to do.
    pub cl_active: u64,
    /// Clients that sent a query and wait for a server connection.
    pub cl_waiting: u64,
    /// Server connections paired with a client.
    pub sv_active: u64,
    /// Server connections idle and ready.
    pub sv_idle: u64,
    /// Server connections idle longer than `server_check_delay` (need a check).
    pub sv_used: u64,
    /// Server connections being tested.
    pub sv_tested: u64,
    /// Server connections logging in.
    pub sv_login: u64,
    /// How long the oldest waiting client has waited, seconds.
    pub maxwait_seconds: f64,
    /// The pool's mode.
    pub pool_mode: String,
}
