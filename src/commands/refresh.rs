//! `callform refresh [DIR]`: read every task in state back from its vendor.
//!
//! Read-only unless `--write`: without it the state is only read (no lock is taken, the
//! file is never touched), so a refresh can run beside anything. With `--write`, the
//! state is locked before the reads and saved once after them, with what each vendor
//! said (`observed`) and any uncertain start or verb the vendor's status settles.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::{Outcome, RefreshArgs, RefreshFormat};
use crate::env::Env;
use crate::manifest::Task;
use crate::output::refresh::{self as render, Row, Summary};
use crate::output::Printer;
use crate::plan::in_scope;
use crate::refresh;
use crate::settings::Settings;
use crate::state;
use crate::transport::{Policy, Transport};
use crate::workspace;

pub fn run(args: &RefreshArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, out, env))
}

async fn run_async(args: &RefreshArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(&args.dir, args.state.as_deref(), None, false, env);
    let state_path = settings.state.path.clone();
    let now = settings.now;
    let project = settings.project;
    let manifests =
        workspace::load_manifests(&args.dir, &project, settings.project_diagnostics, now);
    if manifests.has_errors() {
        let _ = out.diagnostics(&manifests);
        out.problem(&format!(
            "warning: the manifests in {} have errors: drift from what they want is not shown, and uncertain creates are not looked up",
            args.dir.display()
        ));
    }
    let tasks: HashMap<&str, &Task> = if manifests.has_errors() {
        HashMap::new()
    } else {
        manifests
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect()
    };

    let backend = state::open(&state_path)?;
    let lock = if args.write {
        Some(backend.lock_as("refresh --write", &state::Who::from_env(env))?)
    } else {
        None
    };
    let loaded = match &lock {
        Some(lease) => backend.recover(lease)?,
        None => backend.load()?,
    };
    let Some(mut current) = loaded.state else {
        out.data(&match args.format {
            RefreshFormat::Text => render::text(&[], &Summary::default(), false, false),
            RefreshFormat::Json => render::json(&[], &Summary::default(), false, ""),
        })?;
        return Ok(Outcome::Success);
    };
    let mut targets = refresh::targets(&current, &tasks, &project.timezone_name);
    targets.retain(|t| in_scope(&args.target, &t.name));
    let loopback = targets.iter().all(|t| {
        current
            .tasks
            .get(&t.name)
            .is_some_and(|r| r.endpoint.starts_with("http://127.0.0.1"))
    });
    let transport =
        Arc::new(Transport::new(Policy::default(), loopback).map_err(anyhow::Error::msg)?);
    let context_for =
        |provider: &str, vendor| super::apply::context(&project, provider, vendor, None);
    let cancel = Arc::new(AtomicBool::new(false));
    let observations = refresh::read_all(
        targets,
        transport,
        &context_for,
        args.parallelism as usize,
        cancel,
    )
    .await;
    let at = state::now_rfc3339();
    // Drift is against the state as it was read. A superseded task is read for its
    // uncertain stop only: its record is not the task's own, so there is nothing to
    // compare it with.
    let drifts: Vec<Vec<refresh::DriftItem>> = observations
        .iter()
        .map(|o| {
            current
                .tasks
                .get(&o.name)
                .filter(|_| !o.superseded)
                .map(|rec| refresh::drift(o, rec, tasks.get(o.name.as_str()).copied()))
                .unwrap_or_default()
        })
        .collect();
    // What the reads settle: recorded with --write; without, worked out on a copy, so
    // that the rows say what --write would record.
    let recorded = if lock.is_some() {
        refresh::record(&mut current, &observations, &at)
    } else {
        refresh::record(&mut current.clone(), &observations, &at)
    };
    let rows: Vec<Row<'_>> = observations
        .iter()
        .zip(drifts)
        .map(|(o, drift)| Row {
            observation: o,
            drift,
            notes: recorded
                .update_notes
                .iter()
                .filter(|(n, _)| !o.superseded && *n == o.name)
                .map(|(_, note)| note.clone())
                .collect(),
        })
        .collect();
    let mut settled = 0;
    if let Some(lease) = &lock {
        settled = recorded.settled.len();
        backend.save(lease, &mut current)?;
    }
    let summary = Summary::of(&rows, settled);
    out.data(&match args.format {
        RefreshFormat::Text => {
            render::text(&rows, &summary, lock.is_some(), out.stdout_palette().on)
        }
        RefreshFormat::Json => render::json(&rows, &summary, lock.is_some(), &at),
    })?;
    if let Some(lease) = lock {
        let _ = lease.release();
    }
    Ok(if summary.failed > 0 {
        Outcome::Failure
    } else if args.detailed_exitcode && summary.drifted > 0 {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

/// What `plan --refresh` read: the records written into the state (in memory), the
/// lookups of uncertain creates, and the reads that failed.
#[derive(Debug, Default)]
pub(crate) struct InMemory {
    /// For the saved plan: its apply puts the same records in before planning again.
    pub written: std::collections::BTreeMap<String, state::ObservedRecord>,
    /// Uncertain creates looked up by name, for the planner ([`crate::plan::adopt`]).
    pub lookups: std::collections::BTreeMap<String, crate::plan::adopt::Lookup>,
    pub failed: Vec<String>,
    /// Number lists read for uncertain callee batches, by task: for the saved plan, whose
    /// apply settles the same batches the same way.
    pub numbers: std::collections::BTreeMap<String, refresh::NumberCheck>,
    /// What each number list said (counts only), and each read of an uncertain update, in
    /// words, by task: warnings of the plan.
    pub notes: Vec<(String, String)>,
    /// Uncertain updates the reads settled, by task: for the saved plan.
    pub updates: std::collections::BTreeMap<String, refresh::UpdateRead>,
}

/// `plan --refresh`: reads every task of `state` within `scope` (the plan's `--target`s)
/// back and records what was read in it (in memory only), so that the plan acts on the
/// vendors' truth.
pub(crate) fn refresh_in_memory(
    state: &mut state::State,
    tasks: &[Task],
    project: &crate::project::Project,
    scope: &[String],
) -> anyhow::Result<InMemory> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let by_name: HashMap<&str, &Task> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let targets: Vec<refresh::Target> = refresh::targets(state, &by_name, &project.timezone_name)
        .into_iter()
        .filter(|t| in_scope(scope, &t.name))
        .collect();
    let observations = runtime.block_on(read(state, targets, project, None));
    let at = state::now_rfc3339();
    let recorded = refresh::record(state, &observations, &at);
    let numbers = observations
        .iter()
        .filter_map(|o| match &o.batch {
            Some(refresh::NumberRead::Checked(check)) => Some((o.name.clone(), check.clone())),
            _ => None,
        })
        .collect();
    let failed = observations
        .iter()
        .filter_map(|o| match &o.read {
            refresh::Read::Failed { reason } => {
                Some(format!("{}: not read back: {reason}", o.name))
            }
            _ => None,
        })
        .collect();
    let written = observations
        .iter()
        .filter_map(|o| {
            let rec = state.tasks.get(&o.name)?;
            Some((o.name.clone(), rec.observed.clone()?))
        })
        .collect();
    Ok(InMemory {
        written,
        lookups: lookups(&observations, &at),
        failed,
        numbers,
        notes: recorded
            .notes
            .into_iter()
            .chain(recorded.update_notes)
            .collect(),
        updates: recorded.updates.into_iter().collect(),
    })
}

/// `apply` planning for itself: looks every uncertain create still in the manifests and
/// within `scope` (its `--target`s, or the names `callform stop` stops) up by its
/// vendor-visible name (nothing else is read). `sandbox`: the sandbox emulator's URL.
pub(crate) async fn look_up_uncertain(
    state: &state::State,
    tasks: &[Task],
    project: &crate::project::Project,
    sandbox: Option<&str>,
    scope: &[String],
) -> std::collections::BTreeMap<String, crate::plan::adopt::Lookup> {
    let by_name: HashMap<&str, &Task> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let targets: Vec<refresh::Target> = refresh::targets(state, &by_name, &project.timezone_name)
        .into_iter()
        .filter(|t| t.task_id.is_none() && t.visible_name.is_some() && in_scope(scope, &t.name))
        .collect();
    if targets.is_empty() {
        return Default::default();
    }
    let observations = read(state, targets, project, sandbox).await;
    lookups(&observations, &state::now_rfc3339())
}

async fn read(
    state: &state::State,
    targets: Vec<refresh::Target>,
    project: &crate::project::Project,
    sandbox: Option<&str>,
) -> Vec<refresh::Observation> {
    let loopback = sandbox.is_some()
        || state
            .tasks
            .values()
            .all(|r| r.endpoint.starts_with("http://127.0.0.1"));
    let transport = match Transport::new(Policy::default(), loopback) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            return targets
                .into_iter()
                .map(|t| refresh::Observation {
                    name: t.name,
                    vendor: t.vendor,
                    provider: t.provider,
                    task_id: t.task_id,
                    read: refresh::Read::Failed { reason: e.clone() },
                    batch: None,
                    update: None,
                    superseded: t.superseded,
                })
                .collect()
        }
    };
    let context_for =
        |provider: &str, vendor| super::apply::context(project, provider, vendor, sandbox);
    refresh::read_all(
        targets,
        transport,
        &context_for,
        10,
        Arc::new(AtomicBool::new(false)),
    )
    .await
}

/// The lookups among `observations`, as the planner takes them.
fn lookups(
    observations: &[refresh::Observation],
    at: &str,
) -> std::collections::BTreeMap<String, crate::plan::adopt::Lookup> {
    use crate::plan::adopt::{Candidate, Lookup};
    observations
        .iter()
        .filter(|o| o.task_id.is_none())
        .filter_map(|o| {
            let lookup = match &o.read {
                refresh::Read::Lookup { candidates } => Lookup::Listed {
                    candidates: candidates.iter().map(Candidate::of).collect(),
                    at: at.to_string(),
                },
                refresh::Read::Failed { reason } => Lookup::Failed {
                    reason: reason.clone(),
                    at: at.to_string(),
                },
                _ => return None,
            };
            Some((o.name.clone(), lookup))
        })
        .collect()
}
