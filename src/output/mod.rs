//! Everything callform shows: the plan renderers, and (next) the printer that decides
//! colour per stream.

pub mod plan;
