//! The emulator's own endpoints under `/_emulator/`, for tests and curious people:
//!
//! - `GET /_emulator/tasks[?vendor=X]`: created tasks in creation order, each `{vendor,
//!   task_id, name, request, run, started_at, schedule_time, callees: {count, calls,
//!   duplicates, refused}}` (see `tasks.rs`); no numbers.
//! - `GET /_emulator/tasks/{task_id}/callees`: that task's callees in load order,
//!   `{"columns": […], "rows": [{"phone": "…", "vars": {…}}]}` (xfyeta adds
//!   `phone_column`); 404 `{"error"}` for an unknown id. For tests: real numbers.
//! - `POST /_emulator/tasks/{task_id}/run` with `{"running": true|false}`: what a person
//!   does in the vendor's console — starts or pauses the task (a task never started
//!   stays `not_started` on `false`); answers the task as `/_emulator/tasks` shows it;
//!   409 for a task finished, stopped or deleted.
//! - `POST /_emulator/tasks/{task_id}/console` with `{"action": "pause"|"resume"|
//!   "finish"|"stop"|"delete", "called": N}` (either or both): the vendor console behind
//!   callform's back, to produce drift. `pause` takes a running or scheduled task to
//!   `paused`; `resume` (alias `start`) a paused or never started one to `running`;
//!   `finish` and `stop` any task not over to `finished` (every callee called) or
//!   `stopped`; `delete` any task not deleted to `deleted`; `called` sets the progress
//!   the vendor reports (at most the task's callee count; after the action);
//!   `remove_numbers` deletes the task's last N callees, as longlonglong's console (and
//!   its number-batch-delete) can. Answers the
//!   task as `/_emulator/tasks` shows it; 409 `{"error"}` for an action its state does not
//!   take (nothing is changed), 404 for an unknown id.
//! - `GET /_emulator/tasks/{id}/settings`: the task's settings now (the create body as
//!   accepted updates left it), 404 for an unknown id.
//! - `GET /_emulator/faults`: the fault rules in force.
//! - `POST /_emulator/faults` with `{"match": "...", "kind": "...", "times": N, "op": …,
//!   "batch": N}`: adds a rule (see `faults.rs`); answers 201 with the rule.
//! - `GET /_emulator/requests`: every vendor request received (the last 10,000), done
//!   or not, as `{method, path, query, name, op, task_id}` — the vendor-visible task
//!   name when the query (`TaskName`) or JSON body (`task_name`, `name`, `Name`) holds
//!   one, or the named task's for a load or a start; `op` (`create`, `load`, `start`)
//!   once the vendor's handler recognised the request, `task_id` once known, `fault` the
//!   fault it was met with (`throttle`, `5xx`, … or null) and `done` whether the step was
//!   done (the task created, the batch stored, the task started); xfyeta's token is
//!   `***`. Headers are not kept.
//! - `DELETE /_emulator/faults[?match=X]`: removes the rules with that pattern, or all;
//!   answers `{"removed": n}`. Tests sharing an emulator should delete only their own.
//!
//! Errors are `{"error": "..."}` with HTTP 400.

use super::faults::FaultRule;
use super::params::query_pairs;
use super::server::{locked, Emulator};
use super::tasks::{Run, Vendor};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// The single optional query parameter `name` (and no other).
fn only_param(uri: &Uri, name: &str) -> Result<Option<String>, String> {
    let pairs = query_pairs(uri.query().unwrap_or(""))?;
    let mut found = None;
    for (k, v) in pairs {
        if k != name {
            return Err(format!("unknown query parameter {k:?} (only {name:?})"));
        }
        if found.replace(v).is_some() {
            return Err(format!("query parameter {name:?} given twice"));
        }
    }
    Ok(found)
}

pub(crate) async fn tasks(State(emu): State<Arc<Emulator>>, uri: Uri) -> Response {
    let vendor = match only_param(&uri, "vendor") {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let vendor = match vendor
        .as_deref()
        .map(|key| Vendor::from_key(key).ok_or(key))
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(key)) => {
            let keys: Vec<_> = Vendor::ALL.iter().map(|v| v.key()).collect();
            return bad_request(format!(
                "unknown vendor {key:?}; expected one of {}",
                keys.join(", ")
            ));
        }
    };
    Json(locked(&emu.tasks).list(vendor)).into_response()
}

fn no_task(task_id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("the emulator has no task {task_id:?}") })),
    )
        .into_response()
}

pub(crate) async fn callees(
    State(emu): State<Arc<Emulator>>,
    Path(task_id): Path<String>,
) -> Response {
    match locked(&emu.tasks).callees(&task_id) {
        Some(view) => Json(view).into_response(),
        None => no_task(&task_id),
    }
}

/// `GET /_emulator/tasks/{id}/settings`: what the task is set to now (the create body,
/// as accepted updates left it), for tests of updates in place. Loopback only, like the
/// callees it may name (Volcengine's `PhoneList`).
pub(crate) async fn settings(
    State(emu): State<Arc<Emulator>>,
    Path(task_id): Path<String>,
) -> Response {
    match locked(&emu.tasks).settings(&task_id) {
        Some(view) => Json(view).into_response(),
        None => no_task(&task_id),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RunChange {
    running: bool,
}

pub(crate) async fn set_run(
    State(emu): State<Arc<Emulator>>,
    Path(task_id): Path<String>,
    body: Bytes,
) -> Response {
    let change: RunChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(e) => return bad_request(format!("expected {{\"running\": true|false}}: {e}")),
    };
    let mut tasks = locked(&emu.tasks);
    let Some(task) = tasks.get_mut(&task_id) else {
        return no_task(&task_id);
    };
    if task.run.is_over() {
        return conflict(
            &task_id,
            task.run,
            if change.running { "start" } else { "pause" },
        );
    }
    if change.running {
        task.start(None);
    } else {
        task.pause();
    }
    Json(tasks.shown(&task_id).unwrap_or_default()).into_response()
}

fn conflict(task_id: &str, run: Run, action: &str) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({
            "error": format!("task {task_id:?} is {}: the console cannot {action} it", run.key())
        })),
    )
        .into_response()
}

/// What the console does to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    Pause,
    #[serde(alias = "start")]
    Resume,
    Finish,
    Stop,
    Delete,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsoleChange {
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    called: Option<u64>,
    #[serde(default)]
    remove_numbers: Option<usize>,
}

/// The state `action` takes a task in state `from` to, or `None` when it does not take it.
pub(crate) fn console_move(from: Run, action: Action) -> Option<Run> {
    match (action, from) {
        (Action::Pause, Run::Running | Run::Scheduled) => Some(Run::Paused),
        (Action::Resume, Run::Paused | Run::NotStarted) => Some(Run::Running),
        (Action::Finish, from) if !from.is_over() => Some(Run::Finished),
        (Action::Stop, from) if !from.is_over() => Some(Run::Stopped),
        (Action::Delete, from) if from != Run::Deleted => Some(Run::Deleted),
        _ => None,
    }
}

pub(crate) async fn console(
    State(emu): State<Arc<Emulator>>,
    Path(task_id): Path<String>,
    body: Bytes,
) -> Response {
    let expected = "expected {\"action\": \"pause|resume|finish|stop|delete\", \"called\": N, \"remove_numbers\": N} (any of them)";
    let change: ConsoleChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(e) => return bad_request(format!("{expected}: {e}")),
    };
    if change.action.is_none() && change.called.is_none() && change.remove_numbers.is_none() {
        return bad_request(expected);
    }
    let mut tasks = locked(&emu.tasks);
    let Some(task) = tasks.get_mut(&task_id) else {
        return no_task(&task_id);
    };
    let to = match change.action {
        None => None,
        Some(action) => match console_move(task.run, action) {
            Some(to) => Some(to),
            None => {
                let name = serde_json::to_value(action).ok();
                let name = name.as_ref().and_then(|v| v.as_str()).unwrap_or("change");
                return conflict(&task_id, task.run, name);
            }
        },
    };
    if let Some(n) = change.called {
        let count = task.callees.count() as u64;
        if n > count {
            return bad_request(format!(
                "called {n} is more than the task's {count} callees"
            ));
        }
    }
    match to {
        Some(Run::Paused) => task.pause(),
        Some(Run::Running) => task.start(None),
        Some(run) => task.end(run),
        None => {}
    }
    if let Some(n) = change.remove_numbers {
        task.callees.remove_last(n);
    }
    if let Some(n) = change.called {
        task.called = n;
    }
    Json(tasks.shown(&task_id).unwrap_or_default()).into_response()
}

pub(crate) async fn list_faults(State(emu): State<Arc<Emulator>>) -> Response {
    Json(locked(&emu.rules).list()).into_response()
}

pub(crate) async fn add_fault(State(emu): State<Arc<Emulator>>, body: Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(rule) => rule,
        Err(e) => return bad_request(format!("a fault rule is {{\"match\": \"...\", \"kind\": \"5xx|throttle|reset|hang_after_create|business_error|answer|oversized_body\", \"times\": N, \"op\": \"create|load|start|query|find|pause|resume|stop|delete|update|numbers|any\", \"batch\": N}} (with `answer`: \"status\", \"body\", \"create\"; with `oversized_body`: \"size\"): {e}")),
    };
    match locked(&emu.rules).add(rule.clone()) {
        Ok(()) => (StatusCode::CREATED, Json(rule)).into_response(),
        Err(e) => bad_request(e),
    }
}

pub(crate) async fn clear_faults(State(emu): State<Arc<Emulator>>, uri: Uri) -> Response {
    match only_param(&uri, "match") {
        Ok(pattern) => {
            let removed = locked(&emu.rules).clear(pattern.as_deref());
            Json(json!({ "removed": removed })).into_response()
        }
        Err(e) => bad_request(e),
    }
}

pub(crate) async fn requests(State(emu): State<Arc<Emulator>>) -> Response {
    let list: Vec<_> = locked(&emu.received).iter().cloned().collect();
    Json(list).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_moves_only_what_its_state_allows() {
        use Action::*;
        assert_eq!(console_move(Run::Running, Pause), Some(Run::Paused));
        assert_eq!(console_move(Run::Scheduled, Pause), Some(Run::Paused));
        assert_eq!(console_move(Run::NotStarted, Pause), None);
        assert_eq!(console_move(Run::Paused, Resume), Some(Run::Running));
        assert_eq!(console_move(Run::NotStarted, Resume), Some(Run::Running));
        assert_eq!(console_move(Run::Running, Resume), None);
        for from in [Run::NotStarted, Run::Running, Run::Scheduled, Run::Paused] {
            assert_eq!(console_move(from, Finish), Some(Run::Finished));
            assert_eq!(console_move(from, Stop), Some(Run::Stopped));
            assert_eq!(console_move(from, Delete), Some(Run::Deleted));
        }
        for over in [Run::Finished, Run::Stopped] {
            assert_eq!(console_move(over, Resume), None);
            assert_eq!(console_move(over, Stop), None);
            assert_eq!(console_move(over, Delete), Some(Run::Deleted));
        }
        for action in [Pause, Resume, Finish, Stop, Delete] {
            assert_eq!(
                console_move(Run::Deleted, action),
                None,
                "nothing after a delete"
            );
        }
        let parsed: ConsoleChange =
            serde_json::from_str(r#"{"action":"start","called":3}"#).unwrap();
        assert_eq!((parsed.action, parsed.called), (Some(Resume), Some(3)));
        assert!(serde_json::from_str::<ConsoleChange>(r#"{"action":"explode"}"#).is_err());
    }
}
