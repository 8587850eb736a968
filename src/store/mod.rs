//! Everything that talks to a database through sqlx — the only module that
//! does: the history store (`history`: SQLite by default, PostgreSQL for
//! teams) and the live probe of a PostgreSQL or MySQL/MariaDB server (`probe`).
//! Queries use sqlx's runtime API (`sqlx::query`), so building poolcap needs
//! no database.

pub mod history;
pub mod probe;
