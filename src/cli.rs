//! The command line: clap definitions (their doc comments are `--help`), and the dispatch
//! from a parsed command to the function under `commands/` that runs it.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;

/// Infrastructure-as-code for outbound robot-call campaigns: plan and apply call tasks
/// on xfyeta, longlonglong, Aliyun and Volcengine from YAML manifests kept in git.
#[derive(Debug, Parser)]
#[command(name = "callform", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline and report every problem (exit 1 when any is an error).
    Validate(ValidateArgs),
    /// Print the JSON Schema of task manifests, for editors.
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    /// Human-readable, with the offending line and a caret on a terminal.
    Text,
    /// One JSON document, for tools.
    Json,
    /// GitHub Actions annotations (`::error file=…`).
    Github,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The manifest directory (searched recursively for *.yaml and *.yml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
    pub format: DiagFormat,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct ColorArgs {
    /// Never use colour (colour is also off when NO_COLOR is set or output is not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

impl ColorArgs {
    /// Colour only on a terminal, never with NO_COLOR or `--no-color`.
    pub fn stdout(self) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
    }
}

/// What a command's outcome means for the exit code, mapped in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, nothing wrong.
    Success,
    /// 1: an error, invalid input or a blocked change.
    Failure,
    /// 2: with `--detailed-exitcode`, the plan has changes.
    Changes,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Changes => 2,
        }
    }
}

pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Validate(args) => commands::validate::run(&args),
        Command::Schema => {
            println!("{}", crate::manifest::schema::json());
            Ok(Outcome::Success)
        }
    }
}
