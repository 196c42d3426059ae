//! A workspace opened for a command: the project, the manifests and the state, read from
//! [`Settings`]. Nothing here prints: problems come back as values for the command to show.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::checkout::Place;
use crate::diag::Diagnostic;
use crate::error::Hint;
use crate::manifest::{self, Manifests};
use crate::plan::{self, Plan, PLAN_FORMAT_VERSION};
use crate::project::{self, Project};
use crate::settings::Settings;
use crate::state::{self, State, StateError};

/// Loads the project and the manifests, with every diagnostic from both.
pub fn load(dir: &Path, now: jiff::Timestamp) -> (Project, Manifests) {
    let (project, project_diags) = project::load(dir);
    let manifests = load_manifests(dir, &project, project_diags, now);
    (project, manifests)
}

/// Loads the manifests for `project`; its diagnostics come first. Schedules are checked
/// against `now`.
pub fn load_manifests(
    dir: &Path,
    project: &Project,
    mut project_diags: Vec<Diagnostic>,
    now: jiff::Timestamp,
) -> Manifests {
    crate::diag::sort(&mut project_diags);
    // Without a project file there is nothing to check a task's provider against; with
    // one that could not be read, nothing true to say about it.
    let known = project.file.is_some() && project.providers_known;
    let providers: Option<BTreeMap<_, _>> = known.then(|| {
        project
            .providers
            .iter()
            .map(|(k, p)| (k.clone(), p.vendor))
            .collect()
    });
    let mut manifests = manifest::load_in(
        dir,
        &project.timezone,
        now,
        providers.as_ref(),
        &project.invalid_providers,
        &project.input_roots,
    );
    manifests.diagnostics.splice(0..0, project_diags);
    check_policy(project, &mut manifests);
    manifests
}

/// Runs the policy over the loaded tasks: its section goes with the manifests into the
/// plan, and its blocking findings are errors, which stop `plan` and `apply` as invalid
/// manifests do.
pub fn check_policy(project: &Project, manifests: &mut Manifests) {
    let compliance = crate::policy::check(&project.policy, &project.timezone, &manifests.tasks);
    let blocking: Vec<Diagnostic> = compliance.blocking().map(|f| f.diagnostic()).collect();
    for d in &blocking {
        if !manifests.texts.contains_key(&d.file) {
            // Read again for the excerpt: texts are kept only for files with problems.
            if let Ok(text) = manifest::callees::read_text(&d.file, &d.file) {
                manifests.texts.insert(d.file.clone(), text);
            }
        }
    }
    if !blocking.is_empty() {
        manifests.diagnostics.extend(blocking);
        crate::diag::sort(&mut manifests.diagnostics);
    }
    manifests.compliance = compliance;
}

/// The manifests and the state, read together.
pub struct Opened {
    /// callform.yaml, as the settings resolved it.
    pub project: Project,
    /// The manifests, with callform.yaml's diagnostics first.
    pub manifests: Manifests,
    /// The state, or why it could not be read.
    pub state: Result<Option<State>, StateError>,
    /// A run's journal left beside the state (replayed into `state`).
    pub pending: Option<state::Folded>,
    /// The process holding the state's lock now, if any.
    pub running: Option<state::LockInfo>,
}

/// Reads the manifests and the state of `settings`. The state (tens of megabytes for
/// 100,000 tasks) is read while the manifests are: it only reads, and is used only if the
/// manifests are valid.
pub fn open(settings: Settings) -> Opened {
    let Settings {
        dir,
        project,
        project_diagnostics,
        state: choice,
        now,
        ..
    } = settings;
    let (manifests, state) = std::thread::scope(|scope| {
        // The holder is asked after the load: a run that was live when its journal was read
        // is told as running, never one that ended before.
        let state = scope.spawn(|| {
            let backend = state::open(&choice.path)?;
            let loaded = backend.load()?;
            Ok::<_, StateError>((loaded, backend.live_holder()))
        });
        let manifests = load_manifests(&dir, &project, project_diagnostics, now);
        let state = state
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (manifests, state)
    });
    let (state, pending, running) = match state {
        Ok((loaded, running)) => (Ok(loaded.state), loaded.journal, running),
        Err(e) => (Err(e), None, None),
    };
    Opened {
        project,
        manifests,
        state,
        pending,
        running,
    }
}

/// Everything a plan is made from, and the plan.
pub struct Prepared {
    /// callform.yaml.
    pub project: Project,
    /// The manifests.
    pub manifests: Manifests,
    /// The state, if there is one yet.
    pub state: Option<State>,
    /// The plan (its warnings included).
    pub plan: Plan,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum NoPlan {
    /// The manifests have errors (their diagnostics say which).
    #[error(
        "the manifests have {0} error(s); no plan was made (run `callform validate` for details)"
    )]
    Invalid(usize),
    /// The state could not be read.
    #[error("{0}")]
    State(#[from] StateError),
    /// The directory holds no task and there is no state.
    #[error("{} holds no tasks (no *.yaml or *.yml task documents)", .0.display())]
    NoTasks(std::path::PathBuf),
    /// The planner refused (a `--target` or `--replace` that names nothing, …).
    #[error("{0}")]
    Planner(#[from] plan::PlanError),
}

impl Hint for NoPlan {
    fn hint(&self) -> Option<String> {
        match self {
            NoPlan::NoTasks(_) => Some("pass the directory that holds your task files".into()),
            NoPlan::State(e) => e.hint(),
            NoPlan::Planner(e) => e.hint(),
            NoPlan::Invalid(_) => None,
        }
    }
}

/// Whether `dir` holds no tasks while the state holds some (every one is then orphaned);
/// an error when neither holds any: an empty directory is a wrong path far more often
/// than a project with nothing in it.
pub fn empty_directory(
    manifests: &Manifests,
    state: Option<&crate::state::State>,
    dir: &Path,
) -> Result<bool, NoPlan> {
    if !manifests.tasks.is_empty() {
        return Ok(false);
    }
    if state.is_some_and(|s| !s.tasks.is_empty()) {
        Ok(true)
    } else {
        Err(NoPlan::NoTasks(dir.to_path_buf()))
    }
}

/// Makes the plan for what [`open`] read. `options.state_args` is filled from `settings`'
/// state; `options.salt` is the salt for a plan made before any state exists.
pub fn plan(
    opened: Opened,
    dir: &Path,
    state_path: &Path,
    place: &Place,
    mut options: plan::Options,
) -> Result<Prepared, NoPlan> {
    let Opened {
        project,
        manifests,
        state,
        pending,
        running,
    } = opened;
    options.pending_run = pending.as_ref().and_then(plan::PendingRun::of);
    options.running = running;
    if manifests.has_errors() {
        let errors = manifests
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count();
        return Err(NoPlan::Invalid(errors));
    }
    let state = state?;
    let all_orphaned = empty_directory(&manifests, state.as_ref(), dir)?;
    let mut plan = plan::plan(&manifests, &project, state.as_ref(), place, &options)?;
    if all_orphaned {
        plan.warnings.insert(
            0,
            plan::Warning {
                message: format!(
                    "{} holds no tasks: every task in the state {} is planned as orphaned",
                    dir.display(),
                    state_path.display()
                ),
                task: None,
                hint: None,
            },
        );
    }
    Ok(Prepared {
        project,
        manifests,
        state,
        plan,
    })
}

/// A saved plan file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// Not readable.
    #[error("cannot read the plan file {}: {source}", path.display())]
    Read {
        /// The plan file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest (YAML) where a saved plan was expected.
    #[error("{}: this is a YAML manifest, not a saved plan (a saved plan is the JSON file `callform plan --out FILE` writes)", .0.display())]
    Manifest(std::path::PathBuf),
    /// Its checksum does not match.
    #[error("{}: the plan file does not match its checksum: it was damaged or edited", .0.display())]
    Checksum(std::path::PathBuf),
    /// Not JSON.
    #[error("{}:{line}:{column}: not a callform plan file: {source}", path.display())]
    NotJson {
        /// The plan file.
        path: std::path::PathBuf,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
        /// Why.
        source: serde_json::Error,
    },
    /// Written by another callform.
    #[error("{}: plan format version {version}, this callform reads version {PLAN_FORMAT_VERSION}", path.display())]
    Version {
        /// The plan file.
        path: std::path::PathBuf,
        /// The version it has.
        version: u64,
    },
    /// JSON, but no plan.
    #[error("{}: not a callform plan file (no format_version)", .0.display())]
    NoVersion(std::path::PathBuf),
    /// A plan's version, but not a plan's shape.
    #[error("{}: not a valid callform plan file: {source}", path.display())]
    Invalid {
        /// The plan file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl Hint for SavedPlanError {
    fn hint(&self) -> Option<String> {
        match self {
            SavedPlanError::Checksum(_) => {
                Some("make the plan again with `callform plan --out FILE` and review it".into())
            }
            SavedPlanError::Manifest(_) => Some(
                "to plan and apply manifests, pass the directory that holds all of them: `callform apply DIR` (it shows the plan and asks first); to review first, `callform plan --out FILE DIR`, then `callform apply FILE`".into(),
            ),
            SavedPlanError::Version { version: 1, .. } => Some(
                "version 1 recorded the paths of the checkout it was made in, and could read or write another checkout's state: make the plan again with this callform".into(),
            ),
            SavedPlanError::Version { version: 2, .. } => Some(
                "version 2 planned creates only, without the callee batches and starts apply now sends: make the plan again with this callform".into(),
            ),
            SavedPlanError::Version { .. } => Some("make the plan again with this callform".into()),
            _ => None,
        }
    }
}

/// Reads a saved plan file, refusing other files and newer formats.
pub fn read_plan(path: &Path) -> Result<Plan, SavedPlanError> {
    let mut bytes = std::fs::read(path).map_err(|source| SavedPlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Checked before anything in it is believed; a plan saved before checksums has none.
    if state::checksum::unseal(&mut bytes) == state::checksum::Seal::Mismatch {
        return Err(SavedPlanError::Checksum(path.to_path_buf()));
    }
    let yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|source| {
        if yaml {
            return SavedPlanError::Manifest(path.to_path_buf());
        }
        SavedPlanError::NotJson {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        }
    })?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if v == u64::from(PLAN_FORMAT_VERSION) => {}
        Some(version) => {
            return Err(SavedPlanError::Version {
                path: path.to_path_buf(),
                version,
            })
        }
        None => return Err(SavedPlanError::NoVersion(path.to_path_buf())),
    }
    serde_json::from_value(value).map_err(|source| SavedPlanError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a saved plan is no longer what would be done now.
#[derive(Debug, thiserror::Error)]
pub enum Stale {
    /// There was no state then; there is one now.
    #[error("a state was created since the plan was made")]
    StateCreated,
    /// The state it was made against is gone.
    #[error("the state {0} it was made against is gone")]
    StateGone(String),
    /// Another state (its lineage differs).
    #[error("it was made against another state (lineage differs)")]
    OtherState,
    /// The state was saved since (its serial).
    #[error("the state changed since (serial {then} then, {now} now)")]
    StateChanged {
        /// The serial the plan was made against.
        then: u64,
        /// The serial now.
        now: u64,
    },
    /// The plan accounted for a pending run, and the state is not that run folded in.
    #[error("it was made while the records of run {run} were pending, and the state is not exactly those records folded in (serial {then} then, {now} now): the run went on, or the state changed otherwise")]
    PendingRunChanged {
        /// The run the plan saw.
        run: String,
        /// The serial the plan was made against.
        then: u64,
        /// The serial now.
        now: u64,
    },
    /// A manifest file was added.
    #[error("{0} is new since the plan")]
    FileNew(String),
    /// A manifest file changed.
    #[error("{0} changed since the plan")]
    FileChanged(String),
    /// A manifest file was removed.
    #[error("{0} is gone since the plan")]
    FileGone(String),
    /// Made from another directory of the project, or in or out of the sandbox.
    #[error("it was made for {then}, and is applied to {now}")]
    OtherPlace {
        /// What the plan was made for.
        then: String,
        /// What it is applied to.
        now: String,
    },
    /// The same inputs now make another plan.
    #[error("the same manifests and state now plan differently (an endpoint or setting changed)")]
    PlansDifferently,
    /// A task's steps (callee batches, the start, when it dials) are not the ones shown.
    #[error("the steps of `{0}` (callee batches, the start, when it dials) are not the ones the plan shows")]
    StepsDiffer(String),
}

impl Hint for Stale {
    fn hint(&self) -> Option<String> {
        Some("make a new plan with `callform plan --out FILE` and review it".into())
    }
}

/// A saved plan is applied only if it is still exactly what would be done now: the same
/// state (lineage and serial), the same manifest files, the same actions and endpoints.
///
/// `folded_now`: the run this apply folded into the state before planning. A plan made
/// while that run was pending saw its records already (replayed), at the serial the run
/// started from; folding it saved the same records with the next serial. So the plan is
/// accepted at that next serial, but only for exactly that run: the same run id and the
/// same entries (their digest), folded now on top of the serial the plan saw.
pub fn check_fresh(
    saved: &Plan,
    fresh: &Plan,
    state: Option<&State>,
    folded_now: Option<&state::Folded>,
) -> Result<(), Stale> {
    let place = |p: &Plan| {
        format!(
            "the manifests `{}` (project root marked by {:?}){}",
            p.manifest_dir,
            p.root.kind,
            if p.sandbox { " in the sandbox" } else { "" }
        )
    };
    if (saved.root.kind, &saved.manifest_dir, saved.sandbox)
        != (fresh.root.kind, &fresh.manifest_dir, fresh.sandbox)
    {
        return Err(Stale::OtherPlace {
            then: place(saved),
            now: place(fresh),
        });
    }
    match (saved.state.exists, state) {
        (false, Some(_)) => return Err(Stale::StateCreated),
        (true, None) => return Err(Stale::StateGone(saved.state.path.clone())),
        (true, Some(s)) => {
            if saved.state.lineage.as_deref() != Some(s.lineage.as_str()) {
                return Err(Stale::OtherState);
            }
            if saved.state.serial != Some(s.serial) {
                let then = saved.state.serial.unwrap_or(0);
                if let Some(pending) = &saved.state.pending_run {
                    let exactly = folded_now.is_some_and(|f| {
                        !f.already_folded
                            && f.run.as_deref() == Some(pending.run.as_str())
                            && f.digest.as_deref() == Some(pending.digest.as_str())
                    });
                    if !(exactly && pending.base_serial == then && s.serial == then + 1) {
                        return Err(Stale::PendingRunChanged {
                            run: pending.run.clone(),
                            then,
                            now: s.serial,
                        });
                    }
                } else {
                    return Err(Stale::StateChanged {
                        then,
                        now: s.serial,
                    });
                }
            }
        }
        (false, None) => {}
    }
    let then: HashMap<&str, &str> = saved
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.digest.as_str()))
        .collect();
    let now: HashMap<&str, &str> = fresh
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.digest.as_str()))
        .collect();
    for (path, digest) in &now {
        match then.get(path) {
            None => return Err(Stale::FileNew(path.to_string())),
            Some(d) if d != digest => return Err(Stale::FileChanged(path.to_string())),
            _ => {}
        }
    }
    if let Some(path) = then.keys().find(|p| !now.contains_key(*p)) {
        return Err(Stale::FileGone(path.to_string()));
    }
    type Planned<'a> = (&'a str, plan::Action, Option<&'a str>, &'a str);
    fn actions(p: &Plan) -> Vec<Planned<'_>> {
        p.tasks
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.action,
                    t.spec_digest.as_deref(),
                    t.endpoint.as_str(),
                )
            })
            .collect()
    }
    if actions(saved) != actions(fresh) {
        return Err(Stale::PlansDifferently);
    }
    // The steps too (derived again from the state and the manifests): a saved plan is
    // applied only as the batches and starts it showed.
    if let Some((t, _)) = saved
        .tasks
        .iter()
        .zip(&fresh.tasks)
        .find(|(a, b)| a.steps != b.steps)
    {
        return Err(Stale::StepsDiffer(t.name.clone()));
    }
    Ok(())
}
