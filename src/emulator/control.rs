//! The emulator's own endpoints under `/_emulator/`, for tests and curious people:
//!
//! - `GET /_emulator/tasks[?vendor=X]`: created tasks in creation order, each `{vendor,
//!   task_id, name, request, run, started_at, schedule_time, callees: {count, calls,
//!   duplicates, refused}}` (see `tasks.rs`); no numbers.
//! - `GET /_emulator/tasks/{task_id}/callees`: that task's callees in load order,
//!   `{"columns": […], "rows": [{"phone": "…", "vars": {…}}]}` (xfyeta adds
//!   `phone_column`); 404 `{"error"}` for an unknown id. For tests: real numbers.
//! - `POST /_emulator/tasks/{task_id}/run` with `{"running": true|false}`: what a person
//!   does in the vendor's console — starts or pauses the task; answers the task as
//!   `/_emulator/tasks` shows it.
//! - `GET /_emulator/faults`: the fault rules in force.
//! - `POST /_emulator/faults` with `{"match": "...", "kind": "...", "times": N, "op": …,
//!   "batch": N}`: adds a rule (see `faults.rs`); answers 201 with the rule.
//! - `GET /_emulator/requests`: every vendor request received (the last 10,000), done
//!   or not, as `{method, path, query, name, op, task_id}` — the vendor-visible task
//!   name when the query (`TaskName`) or JSON body (`task_name`, `name`, `Name`) holds
//!   one, or the named task's for a load or a start; `op` (`create`, `load`, `start`)
//!   once the vendor's handler recognised the request, `task_id` once known; xfyeta's
//!   token is `***`. Headers are not kept.
//! - `DELETE /_emulator/faults[?match=X]`: removes the rules with that pattern, or all;
//!   answers `{"removed": n}`. Tests sharing an emulator should delete only their own.
//!
//! Errors are `{"error": "..."}` with HTTP 400.

use super::faults::FaultRule;
use super::params::query_pairs;
use super::server::{locked, Emulator};
use super::tasks::Vendor;
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
    if change.running {
        task.start(None);
    } else {
        task.pause();
    }
    let vendor = task.vendor;
    let view = tasks.list(Some(vendor));
    let shown = view
        .as_array()
        .and_then(|all| all.iter().find(|t| t["task_id"] == task_id.as_str()))
        .cloned()
        .unwrap_or_default();
    Json(shown).into_response()
}

pub(crate) async fn list_faults(State(emu): State<Arc<Emulator>>) -> Response {
    Json(locked(&emu.rules).list()).into_response()
}

pub(crate) async fn add_fault(State(emu): State<Arc<Emulator>>, body: Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(rule) => rule,
        Err(e) => return bad_request(format!("a fault rule is {{\"match\": \"...\", \"kind\": \"5xx|throttle|reset|hang_after_create|business_error|answer|oversized_body\", \"times\": N, \"op\": \"create|load|start|any\", \"batch\": N}} (with `answer`: \"status\", \"body\", \"create\"; with `oversized_body`: \"size\"): {e}")),
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
