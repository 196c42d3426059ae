//! `callform state list | show | rm | import | mv | unlock`: look at and repair the state.
//!
//! Every command that changes the state takes the lock, folds any journal a crashed run
//! left (`StateBackend::recover`), changes one record and saves atomically, so a repair can never
//! lose what an earlier run recorded.

// These commands still print directly; they move onto the Printer with the state backend.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use crate::canonical::{canonical, CANONICAL_VERSION};
use crate::cli::{Outcome, PlanFormat, StateArgs, StateCommand};
use crate::state::{self, State, TaskRecord, TaskStatus};
use crate::workspace::load;

/// The state file: `--state`, else the sandbox's with `--sandbox`, else the one
/// callform.yaml names (see `settings`).
fn state_path(dir: &Path, explicit: Option<&Path>, sandbox: bool) -> anyhow::Result<PathBuf> {
    crate::settings::state_for_repair(dir, explicit, sandbox)
        .map_err(|e| crate::error::WithHint::new(&e).into())
}

pub fn run(args: &StateArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir.as_path();
    crate::state::rescue::set_dir(&crate::settings::project_root(dir));
    let (explicit, sandbox) = (args.state.as_deref(), args.sandbox);
    let path = || state_path(dir, explicit, sandbox);
    match &args.command {
        StateCommand::List { format } => list(dir, explicit, sandbox, *format),
        StateCommand::Show { name } => show(&path()?, name),
        StateCommand::Rm { name } => rm(&path()?, name),
        StateCommand::Import {
            name,
            task_id,
            loaded,
            started,
        } => import(
            dir,
            explicit,
            sandbox,
            name,
            task_id,
            loaded.as_ref().map(|l| l.0),
            *started,
        ),
        StateCommand::Mv { old, new } => mv(
            &path()?,
            old,
            new,
            &crate::settings::repair_args(dir, explicit, sandbox),
        ),
        StateCommand::Batch {
            name,
            index,
            outcome,
        } => batch(
            &path()?,
            name,
            *index,
            *outcome,
            &crate::settings::repair_args(dir, explicit, sandbox),
        ),
        StateCommand::Start { name, outcome } => start(&path()?, name, *outcome),
        StateCommand::Update { name, outcome } => update(dir, &path()?, name, *outcome),
        StateCommand::Unlock => unlock(&path()?),
        StateCommand::Migrate {
            to,
            to_state,
            overwrite,
        } => super::migrate::run(&path()?, dir, *to, to_state.as_deref(), *overwrite),
    }
}

/// `state batch NAME I loaded|not-loaded`: resolves the task's pending batch `I`. A batch
/// recorded as loaded is never turned back: that could load its people twice.
fn batch(
    path: &Path,
    name: &str,
    index: u32,
    mark: crate::cli::BatchMark,
    args: &str,
) -> anyhow::Result<Outcome> {
    use crate::cli::BatchMark;
    use crate::state::PendingState;
    let (backend, lock, mut st) = locked_state(path, "state batch")?;
    let Some(rec) = st.tasks.get_mut(name) else {
        anyhow::bail!(
            "no task `{name}` in {}{}",
            path.display(),
            suggest(&st, name)
        );
    };
    let progress = rec.callees.get_or_insert_with(Default::default);
    if progress.batches.iter().any(|b| b.i == index) {
        anyhow::bail!("batch {index} of `{name}` is recorded as loaded, and a loaded batch is never turned back (its people could be loaded twice)\nhint: to load the task's callees afresh, create it again with `callform apply --replace {name}`, or give the manifest a new name");
    }
    let Some(pending) = progress.pending.take_if(|p| p.i == index) else {
        let what = match &progress.pending {
            Some(p) => format!("its pending batch is {}", p.i),
            None => "it has no pending batch".to_string(),
        };
        anyhow::bail!("batch {index} of `{name}` is not pending ({what})\nhint: `callform plan{args}` names the batch to resolve");
    };
    if pending.in_create || rec.status != TaskStatus::Created {
        progress.pending = Some(pending);
        anyhow::bail!("`{name}` is uncertain as a whole (its create may or may not have reached the vendor), and its first batch rode in the create\nhint: `callform state import {name} TASK_ID{args}` records the task, with that batch, if it exists; `callform state rm {name}{args}` if it does not");
    }
    let rows = (pending.offset + 1, pending.offset + u64::from(pending.n));
    let said = match mark {
        BatchMark::Loaded => {
            if pending.state == PendingState::Refused {
                let code = pending.code.clone().unwrap_or_default();
                progress.pending = Some(pending);
                anyhow::bail!("batch {index} of `{name}` was refused by the vendor ({code}): nothing of it was loaded\nhint: once the task takes data again, `callform state batch {name} {index} not-loaded{args}` and apply");
            }
            let why = format!(
                "batch {index} recorded as loaded by hand on {}",
                state::now_rfc3339()
            );
            progress.mark_loaded(pending, &mut rec.warnings, why);
            "loaded: the next apply goes on after it"
        }
        BatchMark::NotLoaded => {
            if progress.batches.is_empty() {
                rec.callees = None;
            }
            "not loaded: the next apply sends it again"
        }
    };
    backend.save(&lock, &mut st)?;
    lock.release()?;
    eprintln!(
        "Recorded batch {index} of `{name}` (rows {}–{}) as {said}.",
        rows.0, rows.1
    );
    Ok(Outcome::Success)
}

/// `state start NAME started|not-started`: what the vendor console shows of a task's run.
fn start(path: &Path, name: &str, mark: crate::cli::StartMark) -> anyhow::Result<Outcome> {
    use crate::cli::StartMark;
    use crate::state::{RunRecord, RunState};
    let (backend, lock, mut st) = locked_state(path, "state start")?;
    let Some(rec) = st.tasks.get_mut(name) else {
        anyhow::bail!(
            "no task `{name}` in {}{}",
            path.display(),
            suggest(&st, name)
        );
    };
    if rec.status != TaskStatus::Created {
        anyhow::bail!("`{name}` is uncertain as a whole (its create may or may not have reached the vendor)\nhint: resolve it with `callform state import` or `callform state rm` first");
    }
    let state = match mark {
        StartMark::Started => RunState::Started,
        StartMark::NotStarted => RunState::NotStarted,
        StartMark::Paused => RunState::Paused,
        StartMark::Stopped => RunState::Stopped,
    };
    rec.run = Some(RunRecord {
        state,
        at: state::now_rfc3339(),
        how: "marked".into(),
        reason: None,
        verb: None,
        before: None,
    });
    backend.save(&lock, &mut st)?;
    lock.release()?;
    eprintln!(
        "Recorded `{name}` as {}.",
        match mark {
            StartMark::Started => "started: callform sends no start for it",
            StartMark::NotStarted =>
                "not started: the next apply starts it if its manifest says `status: running`",
            StartMark::Paused =>
                "paused: the next apply resumes it if its manifest says `status: running`",
            StartMark::Stopped => "stopped: callform sends nothing more for it",
        }
    );
    Ok(Outcome::Success)
}

/// `state update NAME done|not-done`: resolves an update whose outcome is unknown. Done
/// takes the spec of the manifest, which must be the one the update carried (its digest).
fn update(
    dir: &Path,
    path: &Path,
    name: &str,
    mark: crate::cli::UpdateMark,
) -> anyhow::Result<Outcome> {
    use crate::cli::UpdateMark;
    let (backend, lock, mut st) = locked_state(path, "state update")?;
    let salt = st.salt.clone();
    let Some(rec) = st.tasks.get_mut(name) else {
        anyhow::bail!(
            "no task `{name}` in {}{}",
            path.display(),
            suggest(&st, name)
        );
    };
    let Some(pending) = rec.update.clone() else {
        anyhow::bail!("`{name}` has no update whose outcome is unknown\nhint: `callform plan` shows what the task needs");
    };
    match mark {
        UpdateMark::NotDone => rec.update = None,
        UpdateMark::Done => {
            let (project, manifests) = load(dir, jiff::Timestamp::now());
            let Some(task) = manifests.tasks.iter().find(|t| t.name == name) else {
                anyhow::bail!("`{name}` is in no manifest under {}: the spec the update carried is not known\nhint: restore its manifest as it was when the update was sent, or pass --dir", dir.display());
            };
            let canon = canonical(task, &project.timezone_name, &salt);
            if canon.digest != pending.spec_digest {
                anyhow::bail!("the manifest of `{name}` is not the spec the update carried (it changed since)\nhint: restore it as it was when the update was sent, or record `not-done` and plan again");
            }
            rec.spec_digest = canon.digest;
            rec.canonical_version = CANONICAL_VERSION;
            rec.spec = canon.form.into();
            rec.update = None;
        }
    }
    backend.save(&lock, &mut st)?;
    lock.release()?;
    eprintln!(
        "Recorded the update of `{name}` as {}.",
        match mark {
            UpdateMark::Done => "done: the record holds the manifest's spec",
            UpdateMark::NotDone => "not done: the next apply sends it again",
        }
    );
    Ok(Outcome::Success)
}

/// The state at `path` under its lock, with any pending run recovered: what every
/// command that changes a record starts from. Refused when there is no state yet.
fn locked_state(
    path: &Path,
    operation: &str,
) -> anyhow::Result<(Box<dyn state::StateBackend>, state::Lease, State)> {
    let backend = state::open(path)?;
    let lock = backend.lock(operation)?;
    let st = backend.recover(&lock)?.state.ok_or_else(|| {
        anyhow::anyhow!(
            "no state at {}\nhint: nothing has been applied yet, or pass --state PATH (or --sandbox)",
            path.display()
        )
    })?;
    Ok((backend, lock, st))
}

fn load_existing(path: &Path) -> anyhow::Result<State> {
    state::open(path)?.load()?.state.ok_or_else(|| {
        anyhow::anyhow!(
            "no state at {}\nhint: nothing has been applied yet, or pass --state PATH",
            path.display()
        )
    })
}

/// The tasks in the state: a table (`text`), a JSON document or a markdown table (`show
/// --format`).
pub fn list(
    dir: &Path,
    explicit: Option<&Path>,
    sandbox: bool,
    format: PlanFormat,
) -> anyhow::Result<Outcome> {
    let path = state_path(dir, explicit, sandbox)?;
    let loaded = state::open(&path)?.load()?.state;
    match format {
        PlanFormat::Text => {}
        PlanFormat::Json => {
            print!("{}", crate::output::state::json(&path, loaded.as_ref()));
            return Ok(Outcome::Success);
        }
        PlanFormat::Markdown => {
            print!("{}", crate::output::state::markdown(&path, loaded.as_ref()));
            return Ok(Outcome::Success);
        }
    }
    let Some(st) = loaded else {
        println!(
            "No state at {}: nothing has been applied yet.",
            path.display()
        );
        return Ok(Outcome::Success);
    };
    print!("{}", crate::output::state::text(&path, &st));
    let uncertain = st
        .tasks
        .values()
        .filter(|r| r.status == TaskStatus::Uncertain)
        .count();
    if uncertain > 0 {
        eprintln!(
            "warning: {uncertain} task(s) are uncertain: check the vendor console, then `callform state import NAME TASK_ID` or `callform state rm NAME`"
        );
    }
    Ok(Outcome::Success)
}

fn show(path: &Path, name: &str) -> anyhow::Result<Outcome> {
    let st = load_existing(path)?;
    let Some(rec) = st.tasks.get(name) else {
        anyhow::bail!(
            "no task `{name}` in {}{}",
            path.display(),
            suggest(&st, name)
        );
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({ "name": name, "record": rec }))?
    );
    Ok(Outcome::Success)
}

fn suggest(st: &State, name: &str) -> String {
    let names: Vec<&str> = st.tasks.keys().map(String::as_str).collect();
    crate::manifest::de::closest(name, &names)
        .map(|n| format!("\nhint: did you mean `{n}`?"))
        .unwrap_or_default()
}

fn rm(path: &Path, name: &str) -> anyhow::Result<Outcome> {
    let backend = state::open(path)?;
    let lock = backend.lock("state rm")?;
    let mut st = backend
        .recover(&lock)?
        .state
        .ok_or_else(|| anyhow::anyhow!("no state at {}", path.display()))?;
    let Some(rec) = st.tasks.remove(name) else {
        anyhow::bail!(
            "no task `{name}` in {}{}",
            path.display(),
            suggest(&st, name)
        );
    };
    // A replacement that ended uncertain: if it does not exist, the task it replaced is
    // still the live one. Put that one back so its id is never lost.
    let mut restored = None;
    if rec.status == TaskStatus::Uncertain {
        if let Some((last, rest)) = rec.superseded.split_last() {
            restored = Some(last.task_id.clone());
            st.tasks.insert(
                name.to_string(),
                TaskRecord {
                    vendor: rec.vendor.clone(),
                    provider: rec.provider.clone(),
                    endpoint: last.endpoint.clone(),
                    status: TaskStatus::Created,
                    task_id: Some(last.task_id.clone()),
                    spec_digest: last.spec_digest.clone(),
                    canonical_version: CANONICAL_VERSION,
                    spec: serde_json::Value::Null.into(),
                    created_at: last.created_at.clone(),
                    request_id: None,
                    warnings: vec!["restored by `state rm` after an uncertain replacement; its spec is not known".into()],
                    uncertain_reason: None,
                    superseded: rest.to_vec(),
                    // What it held and whether it dialled, as when it was replaced: its
                    // loaded batches are never loaded again.
                    callees: last.callees.clone(),
                    run: last.run.clone(),
                    observed: None,
                    update: None,
                },
            );
        }
    }
    backend.save(&lock, &mut st)?;
    lock.release()?;
    match (rec.status, &rec.task_id) {
        (TaskStatus::Created, Some(id)) => eprintln!(
            "Removed `{name}` from the state. Vendor task {id} on {} still exists: stop it in the vendor console if it should not run.",
            rec.endpoint
        ),
        _ => eprintln!("Removed `{name}` from the state. The next apply creates it if it is still in the manifests."),
    }
    match restored {
        Some(id) => eprintln!(
            "`{name}` is recorded again as the task it was replacing ({id}); plan shows it as changed until you replace it again."
        ),
        None => {
            for s in &rec.superseded {
                eprintln!("warning: task {} on {} was replaced by `{name}` and may still be running", s.task_id, s.endpoint);
            }
        }
    }
    Ok(Outcome::Success)
}

/// Moves a record to a new name (after the manifest was renamed): nothing is sent.
fn mv(path: &Path, old: &str, new: &str, args: &str) -> anyhow::Result<Outcome> {
    if !crate::manifest::valid_name(new) {
        anyhow::bail!("`{new}` is not a task name\nhint: `[a-z0-9][a-z0-9_-]{{0,62}}`, as the manifest's `name:` takes");
    }
    let (backend, lock, mut st) = locked_state(path, "state mv")?;
    if let Some(there) = st.tasks.get(new) {
        anyhow::bail!(
            "`{new}` is already in {} (as task {}): a move would lose one of the two records\nhint: `callform state show {new}{args}` to see it; `callform state rm {new}{args}` first if that record is wrong",
            path.display(),
            there.task_id.as_deref().unwrap_or("?")
        );
    }
    let Some(mut rec) = st.tasks.remove(old) else {
        anyhow::bail!("no task `{old}` in {}{}", path.display(), suggest(&st, old));
    };
    rec.moving_from(old);
    let (status, task_id, endpoint) = (rec.status, rec.task_id.clone(), rec.endpoint.clone());
    st.tasks.insert(new.to_string(), rec);
    backend.save(&lock, &mut st)?;
    lock.release()?;
    eprintln!(
        "Moved `{old}` to `{new}` in {} (vendor task {} on {endpoint}); nothing was sent. Its manifest must now say `name: {new}`.",
        path.display(),
        task_id.as_deref().unwrap_or("unknown")
    );
    if status == TaskStatus::Uncertain {
        eprintln!(
            "warning: `{new}` is uncertain: an earlier create may or may not have reached the vendor\nhint: look for it in the vendor console, then `callform state import {new} TASK_ID{args}` if it exists, or `callform state rm {new}{args}` if it does not"
        );
    }
    Ok(Outcome::Success)
}

fn import(
    dir: &Path,
    explicit: Option<&Path>,
    sandbox: bool,
    name: &str,
    task_id: &str,
    loaded: Option<usize>,
    started: Option<bool>,
) -> anyhow::Result<Outcome> {
    if task_id.trim().is_empty() || task_id.chars().any(char::is_control) {
        anyhow::bail!("the task id is empty or contains control characters");
    }
    let (mut project, manifests) = load(dir, jiff::Timestamp::now());
    // The sandbox's tasks are recorded on the sandbox endpoint, as `apply --sandbox` does.
    project.sandbox = sandbox;
    let path = explicit.map(Path::to_path_buf).unwrap_or_else(|| {
        if sandbox {
            project.sandbox_state_path()
        } else {
            project.state_path.clone()
        }
    });
    let backend = state::open(&path)?;
    let lock = backend.lock("state import")?;
    let recovered = backend.recover(&lock)?.state;
    // A new state is never started without a word: an import meant for another state
    // (a hint run without its `--state`) would otherwise leave the real record unresolved.
    let fresh = recovered.is_none();
    let mut st = recovered.unwrap_or_default();
    if fresh {
        eprintln!(
            "note: there is no state at {}: this import starts a new one\nhint: if the task is recorded in another state, pass it with `--state PATH` (or `--sandbox`)",
            path.display()
        );
    }

    // A sandbox state holds only sandbox tasks: a production endpoint recorded there would
    // be planned as blocked by every sandbox run, and the reverse.
    let sandbox_state = st
        .tasks
        .values()
        .any(|r| r.endpoint == crate::project::SANDBOX_ENDPOINT);
    if sandbox_state && !sandbox {
        anyhow::bail!(
            "{} is a sandbox state (its tasks are recorded on {}): an import without --sandbox would record a real endpoint in it\nhint: add --sandbox to import into the sandbox state",
            path.display(),
            crate::project::SANDBOX_ENDPOINT
        );
    }

    // An uncertain task: what was sent is recorded (spec, digest, endpoint). The vendor's
    // id is all that is missing; the manifest may have changed since, and then plan must
    // show that change rather than hide it.
    if let Some(rec) = st.tasks.get_mut(name) {
        if rec.status == TaskStatus::Created {
            anyhow::bail!(
                "`{name}` is already in the state as task {}\nhint: `callform state rm {name}` first if that record is wrong",
                rec.task_id.as_deref().unwrap_or("?")
            );
        }
        rec.status = TaskStatus::Created;
        rec.task_id = Some(task_id.to_string());
        rec.uncertain_reason = None;
        rec.warnings.push(
            "imported after an uncertain create: callform did not see the vendor's answer".into(),
        );
        // The task exists, so what its create carried (Volcengine's first rows and its
        // `Start`) is at the vendor with it.
        if let Some(c) = rec.callees.as_mut() {
            if let Some(p) = c.pending.take_if(|p| p.in_create) {
                c.rows = u64::from(p.n);
                c.batches = vec![state::Batch {
                    i: 0,
                    n: p.n,
                    through: p.through,
                }];
            }
        }
        if let Some(run) = rec.run.as_mut().filter(|r| r.how == "create") {
            run.state = state::RunState::Started;
        }
        let endpoint = rec.endpoint.clone();
        backend.save(&lock, &mut st)?;
        lock.release()?;
        eprintln!("Recorded `{name}` as vendor task {task_id} on {endpoint}, with the spec that was sent.");
        return Ok(Outcome::Success);
    }

    // A task callform has no record of (created by hand, or a state rebuilt): the
    // manifest's task, on the endpoint configured now.
    if manifests.has_errors() {
        anyhow::bail!(
            "the manifests in {} have errors; run `callform validate` first",
            dir.display()
        );
    }
    let Some(task) = manifests.tasks.iter().find(|t| t.name == name) else {
        let names: Vec<&str> = manifests.tasks.iter().map(|t| t.name.as_str()).collect();
        let hint = crate::manifest::de::closest(name, &names)
            .map(|n| format!("\nhint: did you mean `{n}`?"))
            .unwrap_or_default();
        anyhow::bail!("no task `{name}` in the manifests under {}: import records a manifest's task as created{hint}", dir.display());
    };
    let rows = task.callees.as_ref().map_or(0, |c| c.len());
    let loaded = match (loaded, rows) {
        (_, 0) => 0,
        (None, _) => anyhow::bail!("`{name}` names {rows} callee(s): say how many of them, from the first, the vendor task already holds\nhint: `--loaded all` if it holds every one, `--loaded 0` if none (the next apply loads them), `--loaded N` for the first N; check the task in the vendor console"),
        (Some(usize::MAX), _) => rows,
        (Some(n), _) if n > rows => anyhow::bail!("`--loaded {n}`, but `{name}` names {rows} callee(s)"),
        (Some(n), _) => n,
    };
    if task.status == crate::manifest::RunStatus::Running && started.is_none() {
        anyhow::bail!("`{name}` says `status: running`: say whether the vendor task runs\nhint: `--started yes` if the console shows it running, `--started no` if not (the next apply starts it)");
    }
    let callees = (loaded > 0).then(|| {
        let key = crate::canonical::callees::callee_key(&st.salt);
        let fps = task
            .callees
            .as_ref()
            .map(|c| c.fingerprints())
            .unwrap_or_default();
        state::CalleeProgress {
            rows: loaded as u64,
            batches: vec![state::Batch {
                i: 0,
                n: u32::try_from(loaded).unwrap_or(u32::MAX),
                through: crate::canonical::callees::through(&key, name, &fps[..loaded]),
            }],
            ..Default::default()
        }
    });
    let running = task.status == crate::manifest::RunStatus::Running;
    let run = started.filter(|s| *s && running).map(|_| state::RunRecord {
        state: state::RunState::Started,
        at: state::now_rfc3339(),
        how: "marked".into(),
        reason: None,
        verb: None,
        before: None,
    });
    let canon = canonical(task, &project.timezone_name, &st.salt);
    st.tasks.insert(
        name.to_string(),
        TaskRecord {
            vendor: task.vendor.key().to_string(),
            provider: task.provider.clone(),
            endpoint: project.endpoint(&task.provider, task.vendor),
            status: TaskStatus::Created,
            task_id: Some(task_id.to_string()),
            spec_digest: canon.digest,
            canonical_version: CANONICAL_VERSION,
            spec: canon.form.into(),
            created_at: state::now_rfc3339(),
            request_id: None,
            warnings: vec!["imported: callform did not see the vendor's answer".into()],
            uncertain_reason: None,
            superseded: Vec::new(),
            callees,
            run,
            observed: None,
            update: None,
        },
    );
    backend.save(&lock, &mut st)?;
    lock.release()?;
    eprintln!("Imported `{name}` as vendor task {task_id}, with the spec in the manifests as its applied spec.");
    Ok(Outcome::Success)
}

fn unlock(path: &Path) -> anyhow::Result<Outcome> {
    match state::open(path)?.unlock()? {
        Some(info) => eprintln!(
            "Cleared the lock left by {} (pid {} on {}, `{}` since {}), which ended without releasing it.",
            info.holder, info.pid, info.host, info.operation, info.started_at
        ),
        None => eprintln!("Cleared an unreadable lock file."),
    }
    Ok(Outcome::Success)
}
