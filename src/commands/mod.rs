//! One function per command. Commands print; the modules they call never do.

pub mod validate;
