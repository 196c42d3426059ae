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
    let fault = locked(&emu.rules)
        .take(&task.name)
        .or_else(|| emu.faults.draw());
    match fault {
        Some(FaultKind::Throttle) => return answers.throttled(),
        Some(FaultKind::BusinessError) => return answers.business_error(),
        _ => {}
    }
    let task_id = locked(&emu.tasks).create(task.vendor, task.name, task.request);
    match fault {
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
        None | Some(FaultKind::Throttle | FaultKind::BusinessError) => answers.created(&task_id),
    }
}
