//! The tasks in a state as data: `callform show --format json|markdown` without a plan
//! file. (The text listing is `state list`'s.) Records hold no clear numbers; every string
//! passes the phone masker once more on the way out.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::phone::mask_phones_in_text;
use crate::plan::steps::thousands;
use crate::state::{CalleeProgress, PendingState, RunRecord, RunState, State, TaskStatus};

fn status(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Created => "created",
        TaskStatus::Uncertain => "uncertain",
    }
}

/// Whether a task dials, as its run record says: `started`, `not started` (no record, or
/// recorded so), `paused`, `stopped` or `uncertain` (a start or verb whose answer was lost).
fn run_state(run: Option<&RunRecord>) -> &'static str {
    match run.map(|r| r.state) {
        Some(RunState::Started) => "started",
        None | Some(RunState::NotStarted) => "not started",
        Some(RunState::Uncertain | RunState::InFlight) => "uncertain",
        Some(RunState::Paused) => "paused",
        Some(RunState::Stopped) => "stopped",
    }
}

fn pending_state(s: PendingState) -> &'static str {
    match s {
        PendingState::InFlight | PendingState::Uncertain => "uncertain",
        PendingState::Refused => "refused",
    }
}

/// `1,200 in 12 batches`, `+ batch 12 uncertain`; `-` when none are loaded.
fn callees_text(c: Option<&CalleeProgress>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let mut out = if c.batches.is_empty() {
        "0".to_string()
    } else {
        format!(
            "{} in {} batch{}",
            thousands(c.rows),
            c.batches.len(),
            if c.batches.len() == 1 { "" } else { "es" }
        )
    };
    if let Some(p) = &c.pending {
        let _ = write!(out, " + batch {} {}", p.i, pending_state(p.state));
    }
    out
}

/// `{rows, batches, pending: null | {i, rows, state}}`; `null` when none are loaded.
fn callees_json(c: Option<&CalleeProgress>) -> serde_json::Value {
    c.map_or(serde_json::Value::Null, |c| {
        json!({
            "rows": c.rows,
            "batches": c.batches.len(),
            "pending": c.pending.as_ref().map(|p| json!({
                "i": p.i,
                "rows": p.n,
                "state": pending_state(p.state),
            })),
        })
    })
}

fn run_json(run: Option<&RunRecord>) -> &'static str {
    match run_state(run) {
        "not started" => "not_started",
        other => other,
    }
}

/// The `state list` table: one line per task (vendor, status, id, callees loaded, run
/// state, endpoint) and, under it, one per task it superseded, which may still dial.
pub fn text(path: &Path, st: &State) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} (lineage {}, serial {})",
        path.display(),
        st.lineage,
        st.serial
    );
    let callees: Vec<String> = st
        .tasks
        .values()
        .map(|r| callees_text(r.callees.as_ref()))
        .collect();
    let width = st.tasks.keys().map(String::len).max().unwrap_or(4).max(4);
    let cw = callees.iter().map(String::len).max().unwrap_or(7).max(7);
    let _ = writeln!(
        out,
        "{:<width$}  {:<12}  {:<9}  {:<24}  {:<cw$}  {:<11}  ENDPOINT",
        "NAME", "VENDOR", "STATUS", "TASK ID", "CALLEES", "RUN"
    );
    for ((name, rec), callees) in st.tasks.iter().zip(&callees) {
        let _ = writeln!(
            out,
            "{name:<width$}  {:<12}  {:<9}  {:<24}  {callees:<cw$}  {:<11}  {}",
            rec.vendor,
            status(rec.status),
            rec.task_id.as_deref().unwrap_or("-"),
            run_state(rec.run.as_ref()),
            rec.endpoint
        );
        for s in &rec.superseded {
            let _ = writeln!(
                out,
                "{:<width$}  superseded {} on {} (replaced {}): callees {}, {}{}",
                "",
                s.task_id,
                s.endpoint,
                s.superseded_at,
                callees_text(s.callees.as_ref()),
                run_state(s.run.as_ref()),
                if s.run
                    .as_ref()
                    .is_some_and(|r| r.state != RunState::NotStarted)
                {
                    " — it may still dial: stop it in the vendor console if it should not"
                } else {
                    ""
                }
            );
        }
    }
    mask_phones_in_text(&out)
}

/// `{state: {path, exists, lineage?, serial?}, tasks: [{name, vendor, provider, status,
/// task_id, endpoint, created_at, uncertain_reason?, callees, run, superseded}]}`, tasks by
/// name. `callees` is `null` or `{rows, batches, pending: null | {i, rows, state:
/// uncertain|refused}}`; `run` is `started`, `not_started` or `uncertain`; `superseded` is
/// `[{task_id, endpoint, superseded_at, callees, run}]`, the tasks it replaced.
pub fn json(path: &Path, state: Option<&State>) -> String {
    let tasks: Vec<serde_json::Value> = state
        .map(|st| {
            st.tasks
                .iter()
                .map(|(name, r)| {
                    let mut t = json!({
                        "name": name,
                        "vendor": r.vendor,
                        "provider": r.provider,
                        "status": status(r.status),
                        "task_id": r.task_id,
                        "endpoint": r.endpoint,
                        "created_at": r.created_at,
                    });
                    if let Some(why) = &r.uncertain_reason {
                        t["uncertain_reason"] = json!(why);
                    }
                    t["callees"] = callees_json(r.callees.as_ref());
                    t["run"] = json!(run_json(r.run.as_ref()));
                    t["superseded"] = r
                        .superseded
                        .iter()
                        .map(|s| {
                            json!({
                                "task_id": s.task_id,
                                "endpoint": s.endpoint,
                                "superseded_at": s.superseded_at,
                                "callees": callees_json(s.callees.as_ref()),
                                "run": run_json(s.run.as_ref()),
                            })
                        })
                        .collect();
                    t
                })
                .collect()
        })
        .unwrap_or_default();
    let doc = json!({
        "state": {
            "path": path.display().to_string(),
            "exists": state.is_some(),
            "lineage": state.map(|s| s.lineage.clone()),
            "serial": state.map(|s| s.serial),
        },
        "tasks": tasks,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    mask_phones_in_text(&text) + "\n"
}

use super::plan::md_escape;

/// A heading and a table of the tasks.
pub fn markdown(path: &Path, state: Option<&State>) -> String {
    let mut out = String::new();
    let shown = md_escape(&path.display().to_string());
    let Some(st) = state else {
        let _ = writeln!(
            out,
            "### callform state: none yet\n\nNo state at `{shown}`: nothing has been applied yet."
        );
        return mask_phones_in_text(&out);
    };
    let uncertain = st
        .tasks
        .values()
        .filter(|r| r.status == TaskStatus::Uncertain)
        .count();
    let _ = writeln!(
        out,
        "### callform state: {} task(s){}\n\n`{shown}` (lineage {}, serial {})\n",
        st.tasks.len(),
        if uncertain > 0 {
            format!(", ⚠️ **{uncertain} uncertain**")
        } else {
            String::new()
        },
        st.lineage,
        st.serial
    );
    if !st.tasks.is_empty() {
        let _ = writeln!(
            out,
            "| task | vendor | provider | status | task id | callees | run | endpoint |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for (name, r) in &st.tasks {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(name),
                md_escape(&r.vendor),
                md_escape(&r.provider),
                status(r.status),
                md_escape(r.task_id.as_deref().unwrap_or("-")),
                callees_text(r.callees.as_ref()),
                run_state(r.run.as_ref()),
                md_escape(&r.endpoint)
            );
            for s in &r.superseded {
                let _ = writeln!(
                    out,
                    "| ↳ superseded | | | | {} | {} | {} | {} |",
                    md_escape(&s.task_id),
                    callees_text(s.callees.as_ref()),
                    run_state(s.run.as_ref()),
                    md_escape(&s.endpoint)
                );
            }
        }
    }
    mask_phones_in_text(&out)
}
