//! One real database connection of the load test (PostgreSQL or
//! MySQL/MariaDB through sqlx, not sqlx's pool): opening it with the test's
//! `application_name` and statement timeout, and the few statements the
//! scenarios run. Every connection holds a permit of the run's semaphore from
//! before it opens until it is closed, so the test never has more
//! connections to the server than the pool's maximum.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::OwnedSemaphorePermit;

/// Which server, and how to reach it.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// PostgreSQL.
    Postgres(PgConnectOptions),
    /// MySQL or MariaDB (`mariadb`: whether the server is MariaDB, whose
    /// statement timeout is `max_statement_time`).
    Mysql {
        options: MySqlConnectOptions,
        mariadb: bool,
    },
}

/// The connection's statement timeout, milliseconds (0: none).
pub(super) fn timeout_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

impl Target {
    /// Parses `url`; `None` with the reason when it is not one the load test
    /// can use (no database named, not postgres:// or mysql://).
    pub(super) fn parse(url: &str, application: &str, statement_timeout: f64) -> Result<Target, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
            if options.get_database().is_none_or(str::is_empty) {
                return Err("name the database in the URL (postgres://user@host/DATABASE): the test must not land in a default one".into());
            }
            let options = options
                .application_name(application)
                .statement_cache_capacity(0)
                .options([("statement_timeout", timeout_ms(statement_timeout).to_string())]);
            Ok(Target::Postgres(options))
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let options = MySqlConnectOptions::from_str(&url).map_err(|e| e.to_string())?;
            if options.get_database().is_none_or(str::is_empty) {
                return Err("name the database in the URL (mysql://user@host/DATABASE): the test must not land in a default one".into());
            }
            Ok(Target::Mysql {
                options: options.statement_cache_capacity(0),
                mariadb: true,
            })
        } else {
            Err("not a postgres:// or mysql:// URL".into())
        }
    }

    /// The server's name in reports.
    pub(super) fn server_kind(&self) -> &'static str {
        match self {
            Target::Postgres(_) => "postgresql",
            Target::Mysql { .. } => "mysql",
        }
    }
}

enum Inner {
    Pg(PgConnection),
    My(MySqlConnection),
}

/// An open connection of the pool.
pub(super) struct DbConn {
    inner: Inner,
    /// The server's id of the session: PostgreSQL's backend pid, MySQL's
    /// `CONNECTION_ID()`.
    pub(super) backend: i64,
    /// Whether a transaction may be open (a `BEGIN` was sent and not ended):
    /// only then does the return roll back, so the server logs no warning
    /// for a `ROLLBACK` outside a transaction.
    in_transaction: bool,
    _permit: OwnedSemaphorePermit,
}

impl DbConn {
    /// Opens a connection with `permit` (one of the pool's maximum), sets the
    /// statement timeout and reads the session's id.
    pub(super) async fn open(
        target: &Target,
        statement_timeout: f64,
        permit: OwnedSemaphorePermit,
    ) -> Result<DbConn, sqlx::Error> {
        match target {
            Target::Postgres(options) => {
                let mut conn = PgConnection::connect_with(options).await?;
                let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut conn)
                    .await?;
                Ok(DbConn {
                    inner: Inner::Pg(conn),
                    backend: i64::from(backend),
                    in_transaction: false,
                    _permit: permit,
                })
            }
            Target::Mysql { options, mariadb } => {
                let mut conn = MySqlConnection::connect_with(options).await?;
                let set = if *mariadb {
                    format!("SET SESSION max_statement_time = {}", statement_timeout.max(0.0))
                } else {
                    format!("SET SESSION max_execution_time = {}", timeout_ms(statement_timeout))
                };
                sqlx::raw_sql(AssertSqlSafe(set)).execute(&mut conn).await?;
                let backend: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(&mut conn)
                    .await?;
                Ok(DbConn {
                    inner: Inner::My(conn),
                    backend: backend as i64,
                    in_transaction: false,
                    _permit: permit,
                })
            }
        }
    }

    /// Runs one statement that takes `seconds` on the server.
    pub(super) async fn sleep(&mut self, seconds: f64) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => sqlx::query("SELECT pg_sleep($1)")
                .bind(seconds)
                .execute(c)
                .await
                .map(drop),
            Inner::My(c) => sqlx::query("SELECT SLEEP(?)").bind(seconds).execute(c).await.map(drop),
        }
    }

    /// Runs `statements` in a read-only transaction, rolled back.
    pub(super) async fn workload(&mut self, statements: &[String]) -> Result<(), sqlx::Error> {
        let begin = match self.inner {
            Inner::Pg(_) => "BEGIN READ ONLY",
            Inner::My(_) => "START TRANSACTION READ ONLY",
        };
        self.raw(begin).await?;
        for s in statements {
            let result = match &mut self.inner {
                Inner::Pg(c) => sqlx::raw_sql(AssertSqlSafe(s.as_str())).execute(c).await.map(drop),
                Inner::My(c) => sqlx::raw_sql(AssertSqlSafe(s.as_str())).execute(c).await.map(drop),
            };
            if let Err(e) = result {
                let _ = self.raw("ROLLBACK").await;
                return Err(e);
            }
        }
        self.raw("ROLLBACK").await
    }

    /// Opens a transaction and runs one statement in it (then the session
    /// sits idle in the transaction).
    pub(super) async fn begin(&mut self) -> Result<(), sqlx::Error> {
        self.in_transaction = true;
        self.raw("BEGIN").await?;
        self.raw("SELECT 1").await
    }

    /// Rolls back a transaction left open (SQLAlchemy's `reset_on_return`).
    pub(super) async fn reset(&mut self) -> Result<(), sqlx::Error> {
        if self.in_transaction {
            self.raw("ROLLBACK").await?;
            self.in_transaction = false;
        }
        Ok(())
    }

    async fn raw(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Inner::My(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }

    /// `pool_pre_ping`: whether the connection still answers.
    pub(super) async fn ping(&mut self) -> bool {
        match &mut self.inner {
            Inner::Pg(c) => c.ping().await.is_ok(),
            Inner::My(c) => c.ping().await.is_ok(),
        }
    }

    /// Closes the connection (politely when it still answers).
    pub(super) async fn close(self) {
        let done = match self.inner {
            Inner::Pg(c) => tokio::time::timeout(std::time::Duration::from_secs(2), c.close()).await,
            Inner::My(c) => tokio::time::timeout(std::time::Duration::from_secs(2), c.close()).await,
        };
        drop(done);
    }
}

/// The monitoring connection: one beyond the pool's maximum, it samples the
/// server's view of the test and ends sessions for the recycle scenario.
pub(super) struct Monitor {
    inner: Inner,
    application: String,
}

impl Monitor {
    /// Connects; for MySQL also finds out whether the server is MariaDB.
    pub(super) async fn connect(target: &mut Target, application: &str) -> Result<Monitor, sqlx::Error> {
        match target {
            Target::Postgres(options) => {
                let conn =
                    PgConnection::connect_with(&options.clone().application_name("poolcap-loadtest-monitor")).await?;
                Ok(Monitor {
                    inner: Inner::Pg(conn),
                    application: application.to_string(),
                })
            }
            Target::Mysql { options, mariadb } => {
                let mut conn = MySqlConnection::connect_with(options).await?;
                let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut conn).await?;
                *mariadb = version.to_ascii_lowercase().contains("mariadb");
                Ok(Monitor {
                    inner: Inner::My(conn),
                    application: application.to_string(),
                })
            }
        }
    }

    /// The server's version and its `max_connections`.
    pub(super) async fn server(&mut self) -> Result<(String, i64), sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => {
                let row = sqlx::query("SELECT version(), current_setting('max_connections')::int8")
                    .fetch_one(c)
                    .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            }
            Inner::My(c) => {
                let row = sqlx::query("SELECT VERSION(), CAST(@@max_connections AS SIGNED)")
                    .fetch_one(c)
                    .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            }
        }
    }

    /// Sessions of the test the server has now: PostgreSQL counts those of
    /// the test's `application_name` in `pg_stat_activity`; MySQL those of
    /// `backends` (the ids the pool's connections reported) in the process list.
    pub(super) async fn test_sessions(&mut self, backends: &[i64]) -> Result<i64, sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => {
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                    .bind(&self.application)
                    .fetch_one(c)
                    .await
            }
            Inner::My(c) => {
                if backends.is_empty() {
                    return Ok(0);
                }
                let ids: Vec<String> = backends.iter().map(i64::to_string).collect();
                let sql = format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN ({})",
                    ids.join(",")
                );
                sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(c).await
            }
        }
    }

    /// Whether session `backend` still exists on the server.
    pub(super) async fn exists(&mut self, backend: i64) -> Result<bool, sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => {
                sqlx::query_scalar("SELECT exists(SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                    .bind(backend as i32)
                    .fetch_one(c)
                    .await
            }
            Inner::My(c) => {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
                    .bind(backend)
                    .fetch_one(c)
                    .await?;
                Ok(n > 0)
            }
        }
    }

    /// Ends session `backend` from the server's side (`pg_terminate_backend`, `KILL`).
    pub(super) async fn terminate(&mut self, backend: i64) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            Inner::Pg(c) => sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(backend as i32)
                .execute(c)
                .await
                .map(drop),
            Inner::My(c) => sqlx::raw_sql(AssertSqlSafe(format!("KILL {backend}")))
                .execute(c)
                .await
                .map(drop),
        }
    }

    /// Closes it.
    pub(super) async fn close(self) {
        let _ = match self.inner {
            Inner::Pg(c) => c.close().await,
            Inner::My(c) => c.close().await,
        };
    }
}

/// The error's code as the server gives it: PostgreSQL's SQLSTATE, MySQL's
/// error number.
pub(super) fn error_code(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = e else { return None };
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(my.number().to_string());
    }
    db.code().map(|c| c.into_owned())
}
