//! Small utilities every layer may use — file locking, redaction of secrets
//! in text, Markdown escaping, a fast hasher, the outputs' clock, a seeded random generator. They import nothing else of the
//! crate (ARCHITECTURE.md, "Layers").

pub mod clock;
pub mod hash;
pub mod lock;
pub mod markdown;
pub mod notice;
pub mod redact;
pub mod rng;

pub use redact::redact_urls;
