//! callform: infrastructure-as-code for outbound robot-call campaigns.
//!
//! The code follows the data: manifests are loaded and validated (`manifest`), the planner
//! compares them with the state (`plan`, `state`), `apply` runs the plan through the drivers
//! and records every result, and `output` shows plans to people and tools.

// Only `output/` prints: everything else returns what it has to say.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;

pub mod apply;
pub mod canonical;
pub mod checkout;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod driver;
pub mod emulator;
pub mod env;
pub mod error;
pub mod init;
pub mod manifest;
pub mod output;
pub mod phone;
pub mod plan;
pub mod policy;
pub mod project;
pub mod refresh;
pub mod settings;
pub mod sign;
pub mod state;
pub mod transport;
pub mod vendor;
pub mod workspace;

/// What a command's outcome means for the exit code, mapped in one place ([`exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, nothing wrong.
    Success,
    /// 1: an error, invalid input or a blocked change.
    Failure,
    /// 2: with `--detailed-exitcode`, the plan has changes.
    Changes,
    /// 130: stopped at once by a second Ctrl-C or SIGTERM.
    Interrupted,
}

/// The one map from an outcome to the process's exit code.
pub fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success => 0,
        Outcome::Failure => 1,
        Outcome::Changes => 2,
        Outcome::Interrupted => 130,
    }
}

/// Runs the command line and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    let mut cli = cli::Cli::parse();
    cli.command.normalise();
    let env = env::RealEnv;
    let no_color = match &cli.command {
        cli::Command::Validate(a) => a.color.no_color,
        cli::Command::Plan(a) => a.color.no_color,
        cli::Command::Apply(a) => a.color.no_color,
        cli::Command::Stop(a) => a.color.no_color,
        cli::Command::Refresh(a) => a.color.no_color,
        cli::Command::Show(a) => a.color.no_color,
        cli::Command::Fmt(a) => a.color.no_color,
        _ => false,
    };
    let out = output::Printer::new(no_color, cli.quiet, &env, output::Streams::detect());
    match dispatch(cli.command, &out, &env) {
        Ok(outcome) => ExitCode::from(exit_code(outcome)),
        Err(err) => {
            // A closed pipe (`callform plan | head`) is not an error.
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            out.problem(&format!("error: {err:#}"));
            ExitCode::from(exit_code(Outcome::Failure))
        }
    }
}

fn dispatch(
    command: cli::Command,
    out: &output::Printer,
    env: &dyn env::Env,
) -> anyhow::Result<Outcome> {
    use cli::Command;
    match command {
        Command::Validate(args) => commands::validate::run(&args, out, env),
        Command::Plan(args) => commands::plan::run(&args, out, env),
        Command::Apply(args) => commands::apply::run(&args, out, env),
        Command::Stop(args) => commands::apply::stop(&args, out, env),
        Command::Refresh(args) => commands::refresh::run(&args, out, env),
        Command::Show(args) => match &args.plan {
            Some(path) => commands::show::run(path, &args, out),
            // `show` without a plan file is `state list`, in the format asked for.
            None => {
                commands::state::list(&args.dir, args.state.as_deref(), args.sandbox, args.format)
            }
        },
        Command::Emulator(args) => commands::emulator::run(&args, out),
        Command::State(args) => commands::state::run(&args),
        Command::Init(args) => commands::init::run(&args, out, env),
        Command::Fmt(args) => commands::fmt::run(&args, out, env),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut cli::Cli::command(), "callform", &mut buf);
            out.data(&String::from_utf8_lossy(&buf))?;
            Ok(Outcome::Success)
        }
        Command::Schema(args) => {
            match args.format {
                cli::SchemaFormat::Json => out.data(&format!("{}\n", manifest::schema::json()))?,
                cli::SchemaFormat::Markdown => out.data(&manifest::reference::markdown())?,
            }
            Ok(Outcome::Success)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{exit_code, Outcome};

    #[test]
    fn one_map_from_outcome_to_exit_code() {
        let codes = [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Changes,
            Outcome::Interrupted,
        ]
        .map(exit_code);
        assert_eq!(codes, [0, 1, 2, 130]);
    }
}
