//! callform: infrastructure-as-code for outbound robot-call campaigns.
//!
//! The code follows the data: manifests are loaded and validated (`manifest`), the planner
//! compares them with the state (`plan`, `state`), `apply` runs the plan through the drivers
//! and records every result, and `output` shows plans to people and tools.

use std::process::ExitCode;

use clap::Parser;

pub mod apply;
pub mod canonical;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod driver;
pub mod emulator;
pub mod manifest;
pub mod output;
pub mod phone;
pub mod plan;
pub mod project;
pub mod sign;
pub mod state;
pub mod transport;

/// Runs the command line and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::dispatch(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            // A closed pipe (`callform plan | head`) is not an error.
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
