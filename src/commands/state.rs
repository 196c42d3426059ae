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
    let (explicit, sandbox) = (args.state.as_deref(), args.sandbox);
    let path = || state_path(dir, explicit, sandbox);
    match &args.command {
        StateCommand::List => list(dir, explicit, sandbox, PlanFormat::Text),
        StateCommand::Show { name } => show(&path()?, name),
        StateCommand::Rm { name } => rm(&path()?, name),
        StateCommand::Import { name, task_id } => import(dir, explicit, sandbox, name, task_id),
        StateCommand::Mv { old, new } => mv(
            &path()?,
            old,
            new,
            &crate::settings::repair_args(dir, explicit, sandbox),
        ),
        StateCommand::Unlock => unlock(&path()?),
    }
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
    println!(
        "# {} (lineage {}, serial {})",
        path.display(),
        st.lineage,
        st.serial
    );
    let width = st.tasks.keys().map(String::len).max().unwrap_or(4).max(4);
    println!(
        "{:<width$}  {:<12}  {:<9}  {:<24}  ENDPOINT",
        "NAME", "VENDOR", "STATUS", "TASK ID"
    );
    for (name, rec) in &st.tasks {
        let status = match rec.status {
            TaskStatus::Created => "created",
            TaskStatus::Uncertain => "uncertain",
        };
        println!(
            "{name:<width$}  {:<12}  {status:<9}  {:<24}  {}",
            rec.vendor,
            rec.task_id.as_deref().unwrap_or("-"),
            rec.endpoint
        );
    }
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
                    callees: None,
                    run: None,
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
    let backend = state::open(path)?;
    let lock = backend.lock("state mv")?;
    let mut st = backend.recover(&lock)?.state.ok_or_else(|| {
        anyhow::anyhow!(
            "no state at {}\nhint: nothing has been applied yet, or pass --state PATH (or --sandbox)",
            path.display()
        )
    })?;
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
            callees: None,
            run: None,
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
