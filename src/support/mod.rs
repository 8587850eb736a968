//! Small utilities every layer may use — file locking, redaction of secrets
//! in text, Markdown escaping, a fast hasher, SHA-256 digests of inputs, the outputs' clock, a seeded random generator. They import nothing else of the
//! crate (ARCHITECTURE.md, "Layers").

pub mod clock;
pub mod digest;
pub mod hash;
pub mod io_text;
pub mod jsondiff;
pub mod lock;
pub mod markdown;
pub mod notice;
pub mod redact;
pub mod rng;

pub use io_text::io_text;
pub use redact::redact_urls;
