//! The one path every vendor step takes once its request is authenticated and its shape
//! valid — a create, a batch of callees, a start: check it against the task store,
//! decide the fault, do the step, answer.
//!
//! The order is what makes the faults useful. Refusals that depend on the store (an
//! unknown task, a task already started, a repeated number, a limit) are answered first
//! and use up no fault rule. Then `throttle` and `business_error` answer before anything
//! is done (a client may retry or fail the step safely), while `5xx`, `reset` and
//! `hang_after_create` do the step first and then fail to answer properly — the cases in
//! which callform must mark the step `uncertain` and never send it again by itself.
//!
//! Reads ([`read`]) take the same path with nothing to do: their answer is built after
//! the fault was decided, so a `5xx` or `reset` on a read is only a lost answer. Before
//! anything, a read over the vendor's documented rate is throttled when the emulator
//! enforces read rates (`Config::read_qps`).
//!
//! Checking and doing happen under one lock of the store, so two requests for one task
//! cannot both pass a check that only one of them may pass. (The fault rules are locked
//! inside it; nothing locks them the other way round.)

use super::conn::ConnHandle;
use super::faults::{FaultKind, FaultOp, FaultRule};
use super::server::{locked, Emulator};
use super::tasks::{RecordedRequest, Tasks, Vendor};
use axum::response::Response;

/// A vendor's failure answers, in its own response shape.
pub(crate) trait Answers {
    fn throttled(&self) -> Response;
    fn server_error(&self) -> Response;
    fn business_error(&self) -> Response;
}

/// A step that passed the store's checks: the task it concerns and how to do it.
pub(crate) struct Ready<'a> {
    /// The vendor-visible task name, which fault rules match.
    pub name: String,
    /// The task's id, when it exists already (loads and starts).
    pub task_id: Option<String>,
    /// For a load: how many earlier load calls of the task passed every check.
    pub batch: u64,
    /// Does the step; returns the task's id and the vendor's success answer.
    pub commit: Box<dyn FnOnce(&mut Tasks) -> Done + Send + 'a>,
}

/// A step done.
pub(crate) struct Done {
    pub task_id: String,
    pub answer: Response,
}

/// A validated create request.
pub(crate) struct NewTask {
    pub vendor: Vendor,
    /// The vendor-visible task name, which fault rules match.
    pub name: String,
    pub request: RecordedRequest,
}

impl NewTask {
    /// The create as a step: nothing to check in the store; `created` gives the
    /// success answer for the new id, `then` may set up the new task (callees, run).
    pub(crate) fn ready<'a>(
        self,
        created: impl FnOnce(&str) -> Response + Send + 'a,
        then: impl FnOnce(&mut Tasks, &str) + Send + 'a,
    ) -> Ready<'a> {
        Ready {
            name: self.name.clone(),
            task_id: None,
            batch: 0,
            commit: Box::new(move |tasks: &mut Tasks| {
                let task_id = tasks.create(self.vendor, self.name, self.request);
                then(tasks, &task_id);
                Done {
                    answer: created(&task_id),
                    task_id,
                }
            }),
        }
    }
}

/// Runs one step: `check` (under the store's lock) refuses it with the vendor's answer
/// or makes it [`Ready`]; then the fault is decided, the step done, and answered.
/// `seq` is the request's number in `GET /_emulator/requests`, noted with `op` and the
/// task id.
pub(crate) async fn step<'a>(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    op: FaultOp,
    answers: &impl Answers,
    check: impl FnOnce(&mut Tasks) -> Result<Ready<'a>, Response>,
) -> Response {
    let (fault, rule, done) = {
        let mut tasks = locked(&emu.tasks);
        let ready = match check(&mut tasks) {
            Ok(ready) => ready,
            Err(refusal) => return refusal,
        };
        if let Some(id) = &ready.task_id {
            emu.note(seq, op, Some(id), Some(&ready.name));
        }
        let rule = locked(&emu.rules).take(&ready.name, op, ready.batch);
        let fault = rule.as_ref().map(|r| r.kind).or_else(|| emu.faults.draw());
        emu.note_outcome(seq, fault, false);
        match fault {
            Some(FaultKind::Throttle) => return answers.throttled(),
            Some(FaultKind::BusinessError) => return answers.business_error(),
            _ => {}
        }
        if let Some(r) = rule
            .as_ref()
            .filter(|r| r.kind == FaultKind::Answer && r.create == Some(false))
        {
            return scripted(r, ready.task_id.as_deref());
        }
        let done = (ready.commit)(&mut tasks);
        emu.note_outcome(seq, fault, true);
        if !done.task_id.is_empty() {
            emu.note(seq, op, Some(&done.task_id), None);
        }
        (fault, rule, done)
    };
    let Done { task_id, answer } = done;
    match fault {
        Some(FaultKind::Answer) => match rule.as_ref() {
            Some(r) => scripted(r, Some(&task_id)),
            None => answer,
        },
        Some(FaultKind::OversizedBody) => {
            let size = rule
                .and_then(|r| r.size)
                .unwrap_or(super::faults::DEFAULT_OVERSIZE);
            oversized(answer, size).await
        }
        Some(FaultKind::ServerError) => answers.server_error(),
        Some(FaultKind::Reset) => {
            conn.reset();
            // Never reaches the client: the connection fails before it is written.
            answers.server_error()
        }
        Some(FaultKind::HangAfterCreate) => {
            tokio::select! {
                () = tokio::time::sleep(emu.faults.hang) => answer,
                () = emu.shutting_down() => {
                    // Shutting down mid-hang: leave without an answer rather than
                    // keep the server alive for the rest of the hang.
                    conn.reset();
                    answers.server_error()
                }
            }
        }
        None | Some(FaultKind::Throttle | FaultKind::BusinessError) => answer,
    }
}

/// Runs one read (`op` a query or a find) of `vendor`, whose documented read rate is
/// `qps`: over it, when the emulator enforces read rates, the vendor's throttling error;
/// otherwise as [`step`] — `look` refuses (an unknown task: no fault used up) or gives the
/// name fault rules match, the task id (empty for a listing) and the answer, which is
/// built after the fault was decided and changes nothing.
// The refusal is the vendor's answer itself, as in the vendor modules; the arguments are
// the step's and the read's own.
#[allow(clippy::too_many_arguments, clippy::result_large_err)]
pub(crate) async fn read<'a>(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    op: FaultOp,
    (vendor, qps): (Vendor, u32),
    answers: &impl Answers,
    look: impl FnOnce(&Tasks) -> Result<(String, String), Response>,
    answer: impl FnOnce(&Tasks) -> Response + Send + 'a,
) -> Response {
    if emu.read_throttled(vendor, qps) {
        return answers.throttled();
    }
    step(emu, conn, seq, op, answers, |tasks| {
        let (name, task_id) = look(tasks)?;
        Ok(Ready {
            name,
            task_id: (!task_id.is_empty()).then(|| task_id.clone()),
            batch: 0,
            commit: Box::new(move |tasks: &mut Tasks| Done {
                answer: answer(tasks),
                task_id,
            }),
        })
    })
    .await
}

/// An `answer` rule's status and body; `{task_id}` in the body becomes the task's id.
fn scripted(rule: &FaultRule, task_id: Option<&str>) -> Response {
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
    let mut bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    bytes.resize(bytes.len() + size, b' ');
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
