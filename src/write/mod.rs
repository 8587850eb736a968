//! Writing decisions into deployment files: the `.env`, TOML and YAML editors
//! (each changes only the values of the keys poolcap manages and keeps every
//! other byte), what a dry run may show of them, the change log, and the
//! all-or-nothing file replacement. As a user sees it: docs/targets.md.

pub mod atomic;
pub mod changelog;
pub mod env;
pub mod ini;
pub mod mask;
pub mod toml_file;
pub mod yaml;

use std::fmt;

/// A value poolcap writes, typed so that each format writes it natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A whole number (`pool_size = 25`).
    Int(i64),
    /// A boolean (`pool_pre_ping = true`).
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}
