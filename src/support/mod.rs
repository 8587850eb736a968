//! Small utilities every layer may use — file locking, redaction of secrets
//! in text, Markdown escaping, a fast hasher. They import nothing else of the
//! crate (ARCHITECTURE.md, "Layers").

pub mod hash;
pub mod lock;
pub mod markdown;
pub mod notice;
pub mod redact;

pub use redact::redact_urls;
