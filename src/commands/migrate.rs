//! `callform state migrate --to file|postgres [--to-state LOCATION] [--overwrite]`: copies
//! the state (from `--state`, else callform.yaml's `state:`) to another backend. The rules
//! are [`crate::state::migrate`]'s; this chooses the target and tells what happened.

// As the other `state` commands, this prints directly (status on stderr).
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use crate::cli::{MigrateTo, Outcome};
use crate::project::{self, DEFAULT_STATE};
use crate::settings::project_root;
use crate::state::migrate::{migrate, Migrated};
use crate::state::{self, postgres};

fn kind(location: &Path) -> MigrateTo {
    match location.to_str() {
        Some(text) if postgres::is_postgres_location(text) => MigrateTo::Postgres,
        _ => MigrateTo::File,
    }
}

fn name(to: MigrateTo) -> &'static str {
    match to {
        MigrateTo::File => "file",
        MigrateTo::Postgres => "postgres",
    }
}

/// The target: `--to-state`, else callform.yaml's state when it is of that backend and
/// not the source, else (for a file) callform.state.json beside callform.yaml.
fn target(
    source: &Path,
    dir: &Path,
    to: MigrateTo,
    flag: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(t) = flag {
        if kind(t) != to {
            anyhow::bail!(
                "`--to-state` names a {} state, but `--to {}` was asked for\nhint: pass a {} with `--to-state`, or `--to {}`",
                name(kind(t)),
                name(to),
                if to == MigrateTo::File { "path" } else { "postgres:// location" },
                name(kind(t))
            );
        }
        return Ok(t.to_path_buf());
    }
    let (project, _) = project::load(dir);
    if kind(&project.state_path) == to && project.state_path != source {
        return Ok(project.state_path);
    }
    match to {
        MigrateTo::File => {
            let path = project_root(dir).join(DEFAULT_STATE);
            if path == source {
                anyhow::bail!("the state is already the file {}\nhint: name another path with `--to-state`", path.display());
            }
            Ok(path)
        }
        MigrateTo::Postgres => anyhow::bail!(
            "no PostgreSQL state to copy to\nhint: name it with `--to-state \"${{CALLFORM_STATE_URL}}?workspace=NAME\"`, or set `state: {{backend: postgres, url: \"${{CALLFORM_STATE_URL}}\", workspace: NAME}}` in callform.yaml and pass the current state file with `--state`"
        ),
    }
}

pub fn run(
    source: &Path,
    dir: &Path,
    to: MigrateTo,
    to_state: Option<&Path>,
    overwrite: bool,
) -> anyhow::Result<Outcome> {
    let target = target(source, dir, to, to_state)?;
    let from = state::open(source)?;
    let into = state::open(&target)?;
    match migrate(from.as_ref(), into.as_ref(), overwrite)? {
        Migrated::AlreadyThere { tasks, serial } => eprintln!(
            "{} already holds this state ({tasks} tasks, serial {serial}); nothing was written.",
            into.location()
        ),
        Migrated::Copied {
            tasks,
            serial,
            replaced,
        } => {
            eprintln!(
                "Copied the state ({tasks} tasks, serial {serial}) from {} to {}, and read it back equal.",
                from.location(),
                into.location()
            );
            if let Some((lineage, serial)) = replaced {
                eprintln!(
                    "It replaced the state that was there (lineage {lineage}, serial {serial})."
                );
            }
            eprintln!(
                "The source is unchanged. Point `state:` in callform.yaml (or `--state`) at the new one before the next apply, and keep the old one out of use: two states of one lineage that both change would diverge."
            );
        }
    }
    Ok(Outcome::Success)
}
