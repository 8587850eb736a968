//! Everything that talks to a database through sqlx — the only module that
//! does: the history store (`history`: SQLite by default, PostgreSQL for
//! teams) and the live probe of a PostgreSQL or MySQL/MariaDB server (`probe`).
//! Queries use sqlx's runtime API (`sqlx::query`), so building poolcap needs
//! no database.

pub mod history;
pub mod probe;

/// Runs an async database call on a small runtime of its own.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(future))
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
