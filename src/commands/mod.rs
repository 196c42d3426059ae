//! One function per command: settings → library → printer. Commands print only through
//! `output::Printer`; the modules they call never print, and no command calls another.

pub mod apply;
pub mod emulator;
pub mod fmt;
pub mod init;
pub mod migrate;
pub mod plan;
pub mod refresh;
pub mod show;
pub mod state;
pub mod validate;

/// Lets go of what a command read, without freeing it, when the command is done and the
/// process is about to exit: the OS takes back a 100,000-task plan's memory at once,
/// where freeing it would walk millions of allocations (about a twentieth of the run).
/// Only for plain data in memory: nothing that holds a file, lock or connection.
pub(crate) fn discard<T>(value: T) {
    std::mem::forget(value);
}
