//! A pool's sizes and the database's connection budget, with the arithmetic
//! every layer shares: capacities in `u64` (a sum of `u32`s never wraps), the
//! budget's limit saturating at zero, and a product rounded up without
//! floating-point surprises.

/// The database's connection budget (DESIGN §1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseBudget {
    /// Server `max_connections`.
    pub max_connections: u32,
    /// Server `superuser_reserved_connections`.
    pub superuser_reserved_connections: u32,
    /// Server `reserved_connections` (PostgreSQL 16+).
    pub reserved_connections: u32,
    /// Connections kept free on purpose (migrations, admin sessions, psql).
    pub headroom: u32,
    /// Connections used by clients poolcap does not size (cron jobs, BI tools…).
    pub other_clients: u32,
    /// PgBouncer in front of the database, when the services go through one.
    pub bouncer: Option<crate::model::bouncer::Bouncer>,
}

impl DatabaseBudget {
    /// PostgreSQL's defaults (max_connections 100, superuser_reserved_connections 3,
    /// reserved_connections 0) with the config's default headroom of 5.
    pub fn default_postgres() -> DatabaseBudget {
        DatabaseBudget {
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            headroom: 5,
            other_clients: 0,
            bouncer: None,
        }
    }

    /// Connections the pools may use in all: max − reserved − headroom (never negative).
    pub fn limit(&self) -> u32 {
        self.max_connections
            .saturating_sub(self.superuser_reserved_connections)
            .saturating_sub(self.reserved_connections)
            .saturating_sub(self.headroom)
    }
}

/// A pool's two sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolSize {
    /// QueuePool `pool_size`.
    pub pool_size: u32,
    /// QueuePool `max_overflow`.
    pub max_overflow: u32,
}

impl PoolSize {
    /// Connections one process may open: `pool_size + max_overflow` (in `u64`:
    /// a recommendation is not bounded by [`crate::model::limits`], so the sum may pass `u32`).
    pub fn capacity(self) -> u64 {
        u64::from(self.pool_size) + u64::from(self.max_overflow)
    }
}

/// `ceil(value × factor)` without floating-point surprises such as
/// `ceil(10 × 1.1) = 12` (1.1 is not exact in binary).
pub fn ceil_times(value: u32, factor: f64) -> u32 {
    let product = f64::from(value) * factor;
    let rounded = product.round();
    if (product - rounded).abs() < 1e-9 {
        rounded as u32
    } else {
        product.ceil() as u32
    }
}
