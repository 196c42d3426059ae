//! Command-line arguments, the environment and callform.yaml resolved once per command
//! into [`Settings`]: the manifest directory, the project, whether this is a sandbox run,
//! the time, and the one state file the command uses.
//!
//! The state file is chosen by one rule for every command: `--state`, else the state a
//! saved plan was made against, else the sandbox's own (`*.sandbox.state.json`) with
//! `--sandbox`, else the one callform.yaml names (or the default beside the manifests).

use std::path::{Path, PathBuf};

use crate::checkout::Place;
use crate::diag::Diagnostic;
use crate::env::Env;
use crate::error::Hint;
use crate::project::{self, Project};

/// Where the state path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// `--state PATH`.
    Flag,
    /// The state a saved plan was made against.
    SavedPlan,
    /// `--sandbox`: the sandbox's own state beside the real one.
    Sandbox,
    /// callform.yaml's `state:`, or the default beside the manifests.
    Project,
}

/// The state file a command uses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChoice {
    /// The path, as given or derived (not resolved through symlinks).
    pub path: PathBuf,
    /// Which rule chose it.
    pub source: StateSource,
}

impl StateChoice {
    /// The one rule (see the module docs).
    pub fn choose(
        project: &Project,
        flag: Option<&Path>,
        saved_plan: Option<&Path>,
        sandbox: bool,
    ) -> StateChoice {
        let (path, source) = match (flag, saved_plan) {
            (Some(p), _) => (p.to_path_buf(), StateSource::Flag),
            (None, Some(p)) => (p.to_path_buf(), StateSource::SavedPlan),
            (None, None) if sandbox => (project.sandbox_state_path(), StateSource::Sandbox),
            (None, None) => (project.state_path.clone(), StateSource::Project),
        };
        StateChoice { path, source }
    }

    /// The arguments that take a `callform state …` command, run from the current
    /// directory, to this state: `--dir` unless it is `.`, `--sandbox` for the sandbox's
    /// own state, and `--state` for any other state but the project's default. Hints
    /// append them, so that a hint run verbatim acts on this state and never on a default
    /// one.
    pub fn hint_args(&self, dir: &Path) -> String {
        match self.source {
            StateSource::Project => repair_args(dir, None, false),
            StateSource::Sandbox => repair_args(dir, None, true),
            StateSource::Flag | StateSource::SavedPlan => repair_args(dir, Some(&self.path), false),
        }
    }
}

/// ` --dir DIR --state PATH --sandbox`, each only when needed: what a `callform state …`
/// command needs to act on the state of a command run with these.
pub fn repair_args(dir: &Path, state: Option<&Path>, sandbox: bool) -> String {
    let mut out = String::new();
    if dir != Path::new(".") {
        out.push_str(" --dir ");
        out.push_str(&shell_quote(&dir.display().to_string()));
    }
    if let Some(path) = state {
        out.push_str(" --state ");
        out.push_str(&shell_quote(&path.display().to_string()));
    }
    if sandbox {
        out.push_str(" --sandbox");
    }
    out
}

/// `s` as one POSIX shell word, for commands printed to be run as printed.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The directory of the project: where callform.yaml is, else `dir`. A PostgreSQL
/// state's rescue file goes there ([`crate::state::rescue`]).
pub fn project_root(dir: &Path) -> PathBuf {
    project::find(dir)
        .and_then(|file| file.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| dir.to_path_buf())
}

/// What a command runs with, resolved once.
#[derive(Debug)]
pub struct Settings {
    /// The manifest directory.
    pub dir: PathBuf,
    /// callform.yaml (or the defaults), with `sandbox` set for a sandbox run.
    pub project: Project,
    /// The problems found in callform.yaml (shown with the manifests' diagnostics).
    pub project_diagnostics: Vec<Diagnostic>,
    /// The state file.
    pub state: StateChoice,
    /// `--sandbox`.
    pub sandbox: bool,
    /// The time the command runs at (schedules are checked against it).
    pub now: jiff::Timestamp,
}

impl Settings {
    /// Reads callform.yaml for `dir` and chooses the state file.
    pub fn resolve(
        dir: &Path,
        state_flag: Option<&Path>,
        saved_plan_state: Option<&Path>,
        sandbox: bool,
        env: &dyn Env,
    ) -> Settings {
        let (mut project, project_diagnostics) = project::load(dir);
        project.sandbox = sandbox;
        crate::state::rescue::set_dir(&project_root(dir));
        let state = StateChoice::choose(&project, state_flag, saved_plan_state, sandbox);
        Settings {
            dir: dir.to_path_buf(),
            project,
            project_diagnostics,
            state,
            sandbox,
            now: env.now(),
        }
    }

    /// Where a plan made with these settings stands ([`Place`]), from the working
    /// directory.
    pub fn place(&self) -> std::io::Result<Place> {
        let workdir = std::env::current_dir()?;
        let explicit = self.state.source == StateSource::Flag && self.state.path.is_absolute();
        Ok(Place::new(
            &workdir,
            &self.dir,
            self.project.file.as_deref(),
            &self.state.path,
            explicit,
        ))
    }

    /// The hint arguments for this command's state ([`StateChoice::hint_args`]).
    pub fn state_args(&self) -> String {
        self.state.hint_args(&self.dir)
    }
}

/// callform.yaml has an error, and the command would act on the state it names.
#[derive(Debug, thiserror::Error)]
#[error("{}:{}:{}: {}", .0.file.display(), .0.line, .0.column, .0.message)]
pub struct ProjectRefused(Box<Diagnostic>);

impl Hint for ProjectRefused {
    fn hint(&self) -> Option<String> {
        Some("fix callform.yaml first (`callform validate`)".into())
    }
}

/// The state file for the `state` commands and `show`: `--state`, else the sandbox's own
/// with `--sandbox`, else the one callform.yaml names. A callform.yaml with errors is
/// refused: acting on a default path could repair the wrong state.
pub fn state_for_repair(
    dir: &Path,
    flag: Option<&Path>,
    sandbox: bool,
) -> Result<PathBuf, ProjectRefused> {
    crate::state::rescue::set_dir(&project_root(dir));
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    let (project, diags) = project::load(dir);
    if let Some(d) = diags.into_iter().find(|d| d.is_error()) {
        return Err(ProjectRefused(Box::new(d)));
    }
    Ok(StateChoice::choose(&project, None, None, sandbox).path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_chooses_the_state() {
        let project = Project::defaults(Path::new("m"));
        let flag = Path::new("f.json");
        let saved = Path::new("s.json");
        let c = StateChoice::choose(&project, Some(flag), Some(saved), true);
        assert_eq!((c.path.as_path(), c.source), (flag, StateSource::Flag));
        let c = StateChoice::choose(&project, None, Some(saved), true);
        assert_eq!(
            (c.path.as_path(), c.source),
            (saved, StateSource::SavedPlan)
        );
        let c = StateChoice::choose(&project, None, None, true);
        assert_eq!(c.path, Path::new("m").join("callform.sandbox.state.json"));
        let c = StateChoice::choose(&project, None, None, false);
        assert_eq!(c.path, Path::new("m").join("callform.state.json"));
        assert_eq!(c.source, StateSource::Project);
    }

    #[test]
    fn hints_name_every_state_but_the_default() {
        let project = Project::defaults(Path::new("."));
        let c = StateChoice::choose(&project, None, None, false);
        assert_eq!(c.hint_args(Path::new(".")), "");
        assert_eq!(c.hint_args(Path::new("my dir")), " --dir 'my dir'");
        // The sandbox's own state is reached with the flag that chose it.
        let c = StateChoice::choose(&project, None, None, true);
        assert_eq!(c.hint_args(Path::new("m")), " --dir m --sandbox");
        let c = StateChoice::choose(&project, Some(Path::new("x y.json")), None, true);
        assert_eq!(c.hint_args(Path::new(".")), " --state 'x y.json'");
    }

    /// The state commands act on the state callform.yaml names: with a broken one they
    /// refuse, rather than repair the default state instead.
    #[test]
    fn repairs_refuse_a_broken_project_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("callform.yaml"), "state: [unclosed\n").unwrap();
        let err = state_for_repair(dir.path(), None, false).unwrap_err();
        let shown = crate::error::report(&err);
        assert!(shown.contains("callform.yaml:2:1: invalid YAML"), "{shown}");
        assert!(
            shown.ends_with("\nhint: fix callform.yaml first (`callform validate`)"),
            "{shown}"
        );
        let flag = dir.path().join("s.json");
        assert_eq!(
            state_for_repair(dir.path(), Some(&flag), false).unwrap(),
            flag
        );
    }
}
