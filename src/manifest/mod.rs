//! Task manifests: reading, typing and checking them.

pub mod de;
pub mod path;
pub mod yaml;
