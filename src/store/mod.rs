//! Everything that talks to a database through sqlx — the only module that
//! does: the history store (`history`: SQLite by default, PostgreSQL for
//! teams) and the live probe of a PostgreSQL or MySQL/MariaDB server (`probe`).
//! Queries use sqlx's runtime API (`sqlx::query`), so building poolcap needs
//! no database. The API is synchronous: the store and the probe each run
//! their queries on a small runtime of their own ([`runtime`]), and nothing
//! outside this module sees a future. Long SQL lives in `sql/*.sql` beside
//! the code; what only one backend does lives in `sqlite` or `postgres`.
//! As a user sees it: docs/store-and-probe.md.

pub mod history;
pub mod loadtest;
pub mod pgbouncer;
mod postgres;
pub mod probe;
mod sqlite;
mod types;

pub use history::Store;

/// The runtime a store or a probe runs its queries on: one thread, the caller's.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// An error of sqlx (or one that wraps it, such as a migration error) as a
/// sentence: the server's own message with its SQLSTATE, detail and hint —
/// never the server's source-file position, which sqlx's text for PostgreSQL
/// ends with ("… at line 948") and which reads as a line of the user's input.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if let Some(sqlx::Error::Database(db)) = err.downcast_ref::<sqlx::Error>() {
            let mut text = db.message().to_string();
            if let Some(code) = db.code() {
                text.push_str(&format!(" (SQLSTATE {code})"));
            }
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    text.push_str(&format!("; {detail}"));
                }
                if let Some(hint) = pg.hint() {
                    text.push_str(&format!("; hint: {hint}"));
                }
            }
            return text;
        }
        cause = err.source();
    }
    e.to_string()
}
