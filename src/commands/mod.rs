//! One function per command. Commands print; the modules they call never do.

pub mod apply;
pub mod emulator;
pub mod plan;
pub mod show;
pub mod state;
pub mod validate;
