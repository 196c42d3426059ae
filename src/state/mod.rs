//! The state: what callform has created at the vendors, and where it is kept.
//!
//! The file backend ([`file`]) is today's only store; everything it offers is re-exported
//! here so that callers keep their paths.

pub mod error;
pub mod file;

pub use file::*;
