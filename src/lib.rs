//! callform: infrastructure-as-code for outbound robot-call campaigns.
//!
//! The code follows the data: manifests are loaded and validated (`manifest`), the planner
//! compares them with the state (`plan`, `state`), `apply` runs the plan through the drivers
//! and records every result, and `render` shows plans to people and tools.

pub mod emulator;
pub mod sign;

use std::process::ExitCode;

/// Runs the command line and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    ExitCode::SUCCESS
}
