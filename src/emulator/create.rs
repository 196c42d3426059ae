//! The one path every vendor's create takes once the request is authenticated and
//! valid: decide the fault, record the task, answer.
//!
//! The order is what makes the faults useful: `throttle` and `business_error` answer
//! before anything is recorded (a client may retry or fail the task safely), while
//! `5xx`, `reset` and `hang_after_create` record the task first and then fail to answer
//! properly — the cases in which callform must mark the task `uncertain` and never
//! create it again by itself.

use super::conn::ConnHandle;
use super::faults::FaultKind;
use super::server::{locked, Emulator};
use super::tasks::{RecordedRequest, Vendor};
use axum::response::Response;

/// A vendor's answers, in its own response shape.
pub(crate) trait Answers {
    fn created(&self, task_id: &str) -> Response;
    fn throttled(&self) -> Response;
    fn server_error(&self) -> Response;
    fn business_error(&self) -> Response;
}

/// A validated create request.
pub(crate) struct NewTask {
    pub vendor: Vendor,
    /// The vendor-visible task name, which fault rules match.
    pub name: String,
    pub request: RecordedRequest,
}

pub(crate) async fn create(
    emu: &Emulator,
    conn: &ConnHandle,
    task: NewTask,
    answers: &impl Answers,
) -> Response {
    let rule = locked(&emu.rules).take(&task.name);
    let fault = rule.as_ref().map(|r| r.kind).or_else(|| emu.faults.draw());
    match fault {
        Some(FaultKind::Throttle) => return answers.throttled(),
        Some(FaultKind::BusinessError) => return answers.business_error(),
        _ => {}
    }
    if let Some(r) = rule.as_ref().filter(|r| r.kind == FaultKind::Answer) {
        let task_id = r
            .create
            .unwrap_or(true)
            .then(|| locked(&emu.tasks).create(task.vendor, task.name.clone(), task.request));
        return scripted(r, task_id.as_deref());
    }
    let task_id = locked(&emu.tasks).create(task.vendor, task.name, task.request);
    match fault {
        Some(FaultKind::OversizedBody) => {
            let size = rule
                .and_then(|r| r.size)
                .unwrap_or(super::faults::DEFAULT_OVERSIZE);
            oversized(answers.created(&task_id), size).await
        }
        Some(FaultKind::ServerError) => answers.server_error(),
        Some(FaultKind::Reset) => {
            conn.reset();
            // Never reaches the client: the connection fails before it is written.
            answers.server_error()
        }
        Some(FaultKind::HangAfterCreate) => {
            tokio::select! {
                () = tokio::time::sleep(emu.faults.hang) => answers.created(&task_id),
                () = emu.shutting_down() => {
                    // Shutting down mid-hang: leave without an answer rather than
                    // keep the server alive for the rest of the hang.
                    conn.reset();
                    answers.server_error()
                }
            }
        }
        None | Some(FaultKind::Throttle | FaultKind::BusinessError | FaultKind::Answer) => {
            answers.created(&task_id)
        }
    }
}

/// An `answer` rule's status and body; `{task_id}` in the body becomes the created id.
fn scripted(rule: &super::faults::FaultRule, task_id: Option<&str>) -> Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let status = rule
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = rule.body.clone().unwrap_or_default();
    if let Some(id) = task_id {
        body = body.replace("{task_id}", id);
    }
    let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
    let content_type = if json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `answer` (the vendor's success) followed by `size` bytes of whitespace.
async fn oversized(answer: Response, size: usize) -> Response {
    let (parts, body) = answer.into_parts();
    let mut bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    bytes.resize(bytes.len() + size, b' ');
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
