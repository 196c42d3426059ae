//! longlonglong, with `Authorization: Bearer …` on every route. Beyond the two below,
//! (longlonglong-task-lifecycle.md §2.2-2.7) the 2.0 detail `GET …/new/user/{uid}/task/
//! {tid}/edit` and list `GET …/new/user/{uid}/task`, the number list `GET /agent-api/user/
//! {uid}/task/{tid}/number` ([`number_list`]), the pause `PUT …/task_stop/{tid}`,
//! the 1.0 delete `DELETE /agent-api/user/{uid}/task/{tid}` and the update `PUT
//! …/new/user/{uid}/task/{tid}`; states in [`state`], choices at each handler. The two:
//!
//! - `POST /agent-api/new/user/{user_id}/task` (vendor-docs/longlonglong-task-create.md):
//!   one route, two payloads chosen by `task_type` — 7 (new 2.0) and 6 (old 2.0). Success
//!   `{"code":200,"status":"success","message":"创建任务成功","data":{"id":"<uuid>"}}`. A
//!   new task is paused [inferred: the pages do not say whether a new 2.0 task is enabled].
//! - `POST /agent-api/user/{user_id}/task/{task_id}/number` (longlonglong-task-lifecycle.md
//!   §2.1 a, the synchronous number API, "兼容2.0任务"): `{"data":[{"phone", "name"?,
//!   "email"?, "company"?}], "ignore_crm"?, "skip_error"?, "number_add_suffix"?,
//!   "encryption"?}`, at most 100 rows. Success (its body is not in the pages; the shape
//!   beyond `code`/`status` is **invented**): `{"code":200,"status":"success",
//!   "message":"导入成功","data":{"success":N,"skipped":M}}`.
//!
//! No start route: the pages document none (§2.6). A task is started or paused with
//! `POST /_emulator/tasks/{id}/run`, as a person would in the console.
//!
//! Errors are `{"code":≠200,"status":"error","message":…}`; the pages document only 6007,
//! so the others are the emulator's choice (HTTP status = code, except where noted);
//! **invented** marks a code no page gives, which no driver rule may be tuned to:
//!
//! | code | HTTP | when |
//! |------|------|------|
//! | 401  | 401  | missing or wrong bearer token |
//! | 403  | 403  | the path's user id is not the token's account |
//! | 404  | 404  | numbers for a task id that is no task of the account (**invented**) |
//! | 422  | 422  | invalid parameter (the message names it); also more than 100 rows a call [inferred], and a row whose `phone` is not a number with `skip_error` false (nothing stored) |
//! | 429  | 429  | throttle fault |
//! | 4004 | 200  | business error fault: `话术组不存在` (no such script group) |
//! | 6001 | 200  | numbers the task holds, or repeated in the call, with `skip_error` false and no `number_add_suffix`: `号码重复`, nothing stored (**invented**: duplicates are "rejected by default", LL:35, in an unknown shape) |
//! | 6007 | 200  | numbers for a running task: `{"code":6007,"status":"error","message":"2.0任务启动中,请先停止任务","data":[]}` (LL:55; its HTTP status is not stated) |
//! | 500  | 500  | 5xx fault |
//!
//! Repeats: with `skip_error` true they are skipped, the rest stored; with
//! `number_add_suffix` true they are stored again with `_` and six random characters
//! after the number (LL:42), and counted as duplicates like every repeat.
//!
//! The business error keeps HTTP 200 so that it cannot be taken for a server error (a
//! 5xx means "the task may exist"; a business error means it does not).
//!
//! Rules come from the page and limits.md: `task_type` always sent; `task_extras.line`
//! and `task_extras.holiday` always sent (maybe empty) and an empty `line` needs
//! `maximumcall` 0; the fields of one payload are refused under the other; dates as
//! `YYYY-MM-DD HH:MM:SS`, holidays `{begin, end}` as `YYYY-MM-DD HH:MM`; the `redial_*`
//! switches as integers 0/1. Nested `destination_extension` ids are accepted as integers
//! or digit strings, because the page itself shows both.

// A refusal is the vendor's answer itself, built once and sent as is: boxing it would
// buy nothing, and axum handlers take `Result<_, Response>` as their idiom.
#![allow(clippy::result_large_err)]
use crate::emulator::conn::ConnHandle;
use crate::emulator::params::{
    clock_hm, clock_hms, date_time, header, integer, is_mainland_number, json_body, query_pairs,
    string, window, Checked, Obj, ParamError, DATE_TIME, DATE_TIME_MINUTES,
};
use crate::emulator::server::{Emulator, Incoming, Route};
use crate::emulator::step::{read, step, Answers, Done, NewTask, Ready};
use crate::emulator::tasks::{RecordedRequest, Run, TaskRecord, Tasks, Vendor};
use crate::emulator::FaultOp;
use crate::sign::constant_time_eq;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

const TOP_LEVEL: [&str; 17] = [
    "sub_user_id",
    "bridge_group_id",
    "destination_extension",
    "is_group_switch",
    "dial_time_id",
    "maximumcall",
    "name",
    "enable_type",
    "group_type",
    "task_type",
    "is_call_in",
    "remark",
    "end_action",
    "background_id",
    "llm_intention_id",
    "score_scheme_id",
    "task_extras",
];
/// Top-level fields of the old (6) payload only.
const OLD_ONLY: [&str; 2] = ["new_call_rules", "group_switch_rule"];
const EXTRAS: [&str; 5] = [
    "start_time",
    "stop_time",
    "holiday",
    "line",
    "interval_time",
];
/// `task_extras` fields of the new (7) payload only.
const EXTRAS_NEW_ONLY: [&str; 9] = [
    "destination_extension_list",
    "destination_extension_with_variable_list",
    "destination_extension_multi_config",
    "pop_mode",
    "redial_enabled",
    "redial_new_number_policy",
    "redial_interval",
    "redial_max_times",
    "redial_conditions",
];
const DA_STATUS: [i64; 10] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12];
const NEW: i64 = 7;
const OLD: i64 = 6;

fn answer(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "status": "error", "message": message })),
    )
        .into_response()
}

fn invalid(e: &ParamError) -> Response {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        422,
        &format!("参数错误: {e}"),
    )
}

/// Rows the synchronous number API takes in one call ("最多100条", LL:34).
const NUMBER_MAX_ROWS: usize = 100;
const NUMBER_OPTIONS: [&str; 5] = [
    "data",
    "ignore_crm",
    "skip_error",
    "number_add_suffix",
    "encryption",
];
/// The `data.*` fields the page shows before it is cut off (LL:45-48).
const NUMBER_FIELDS: [&str; 4] = ["phone", "name", "email", "company"];

fn success(message: &str, data: Value) -> Response {
    Json(json!({ "code": 200, "status": "success", "message": message, "data": data }))
        .into_response()
}

struct LonglonglongAnswers;

impl Answers for LonglonglongAnswers {
    fn throttled(&self) -> Response {
        answer(
            StatusCode::TOO_MANY_REQUESTS,
            429,
            "请求过于频繁,请稍后再试",
        )
    }
    fn server_error(&self) -> Response {
        answer(StatusCode::INTERNAL_SERVER_ERROR, 500, "服务器内部错误")
    }
    fn business_error(&self) -> Response {
        answer(StatusCode::OK, 4004, "话术组不存在")
    }
}

/// The bearer and the path's user id, as every route checks them; no query.
fn authorize(emu: &Emulator, incoming: &Incoming, user_id: &str) -> Result<(), Response> {
    authorize_with(emu, incoming, user_id, &[]).map(|_| ())
}

/// [`authorize`] for a route that takes the query parameters `known` (each at most once);
/// returns them.
fn authorize_with(
    emu: &Emulator,
    incoming: &Incoming,
    user_id: &str,
    known: &[&str],
) -> Result<Vec<(String, String)>, Response> {
    let bearer = header(&incoming.headers, "authorization")
        .ok()
        .flatten()
        .and_then(|v| v.strip_prefix("Bearer "));
    let token_ok = bearer.is_some_and(|t| {
        constant_time_eq(t.as_bytes(), emu.credentials.longlonglong_token.as_bytes())
    });
    if !token_ok {
        return Err(answer(
            StatusCode::UNAUTHORIZED,
            401,
            "Unauthenticated: missing or invalid bearer token",
        ));
    }
    if user_id != emu.credentials.longlonglong_user_id {
        return Err(answer(
            StatusCode::FORBIDDEN,
            403,
            "无权操作该用户 (the path's user_id is not this token's account)",
        ));
    }
    if known.is_empty() {
        if incoming.uri.query().is_some_and(|q| !q.is_empty()) {
            return Err(invalid(&ParamError::invalid(
                "query",
                "this API takes no query parameters",
            )));
        }
        return Ok(Vec::new());
    }
    let query = query_pairs(incoming.uri.query().unwrap_or(""))
        .map_err(|reason| invalid(&ParamError::invalid("query", reason)))?;
    for (i, (name, _)) in query.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(invalid(&ParamError::unknown(
                format!("query.{name}"),
                known,
            )));
        }
        if query[..i].iter().any(|(k, _)| k == name) {
            return Err(invalid(&ParamError::invalid(
                format!("query.{name}"),
                "is given more than once",
            )));
        }
    }
    Ok(query)
}

pub(crate) async fn create(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path(user_id): Path<String>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Create, None, None);
    if let Err(refusal) = authorize(&emu, &incoming, &user_id) {
        return refusal;
    }
    let body = match json_body(&incoming.headers, &incoming.body) {
        Ok(v) => v,
        Err(e) => return invalid(&e),
    };
    let name = match validate(&body) {
        Ok(name) => name,
        Err(e) => return invalid(&e),
    };
    let task = NewTask {
        vendor: Vendor::Longlonglong,
        name,
        request: RecordedRequest {
            method: incoming.method.to_string(),
            path: incoming.uri.path().to_string(),
            query: Vec::new(),
            content_type: header(&incoming.headers, "content-type")
                .ok()
                .flatten()
                .map(str::to_string),
            body: Some(body),
        },
    };
    let created = |id: &str| success("创建任务成功", json!({ "id": id }));
    step(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Create,
        &LonglonglongAnswers,
        |_| Ok(task.ready(created, |_, _| {})),
    )
    .await
}

/// One row of a number call, shape-checked.
#[derive(Debug)]
pub(crate) struct NumberRow {
    pub phone: String,
    pub vars: Map<String, Value>,
}

/// A number call whose shape is valid.
#[derive(Debug)]
pub(crate) struct Numbers {
    pub rows: Vec<NumberRow>,
    pub skip_error: bool,
    pub add_suffix: bool,
}

/// Checks a number call's shape: known keys only, `phone` required, values strings,
/// options booleans; 1 to 100 rows [the limit: LL:34; its answer inferred].
pub(crate) fn validate_numbers(body: &Value) -> Checked<Numbers> {
    let obj = Obj::body(body)?;
    obj.allow_only(&NUMBER_OPTIONS)?;
    for flag in &NUMBER_OPTIONS[1..] {
        obj.opt_bool(flag)?;
    }
    let data = obj.req_array("data")?;
    if data.is_empty() || data.len() > NUMBER_MAX_ROWS {
        return Err(ParamError::invalid(
            "data",
            format!(
                "holds 1 to {NUMBER_MAX_ROWS} numbers a call, got {}",
                data.len()
            ),
        ));
    }
    let mut rows = Vec::with_capacity(data.len());
    for (i, item) in data.iter().enumerate() {
        let row = Obj::at(item, format!("data[{i}]"))?;
        row.allow_only(&NUMBER_FIELDS)?;
        let phone = row.req_text("phone")?.to_string();
        let mut vars = Map::new();
        for field in &NUMBER_FIELDS[1..] {
            if let Some(value) = row.opt_str(field)? {
                vars.insert((*field).to_string(), Value::String(value.to_string()));
            }
        }
        rows.push(NumberRow { phone, vars });
    }
    Ok(Numbers {
        rows,
        skip_error: obj.opt_bool("skip_error")?.unwrap_or(false),
        add_suffix: obj.opt_bool("number_add_suffix")?.unwrap_or(false),
    })
}

/// What a checked number call stores: each row, and the suffix it gets, if any.
type Plan = Vec<(NumberRow, Option<String>)>;

/// The task's checks of a number call; counts the call, its repeats and a refusal.
/// `Ok` = the rows to store (skipped ones left out) and how many were skipped.
pub(crate) fn check_numbers(
    tasks: &mut Tasks,
    task_id: &str,
    numbers: Numbers,
) -> Result<(Plan, usize), Response> {
    let Some(task) = tasks
        .of(Vendor::Longlonglong, task_id)
        .filter(|t| t.run != Run::Deleted)
    else {
        return Err(no_task());
    };
    task.callees.calls += 1;
    let mut seen = HashSet::new();
    let mut plan = Vec::with_capacity(numbers.rows.len());
    let (mut skipped, mut repeats, mut bad) = (0, 0u64, None);
    for (i, row) in numbers.rows.into_iter().enumerate() {
        if !is_mainland_number(&row.phone) {
            if numbers.skip_error {
                skipped += 1;
            } else {
                bad.get_or_insert(i);
            }
            continue;
        }
        let repeat = task.callees.holds(&row.phone) || !seen.insert(row.phone.clone());
        if repeat {
            repeats += 1;
            if numbers.add_suffix {
                plan.push((row, Some(suffix())));
            } else {
                skipped += 1;
            }
        } else {
            plan.push((row, None));
        }
    }
    task.callees.duplicates += repeats;
    let refusal = if task.run.is_live() {
        Some(answer_6007())
    } else if let Some(refusal) = over(task.run) {
        Some(refusal)
    } else if let Some(i) = bad {
        Some(invalid(&ParamError::invalid(
            format!("data[{i}].phone"),
            "is not a mainland number (send skip_error to skip such rows)",
        )))
    } else if repeats > 0 && !numbers.add_suffix && !numbers.skip_error {
        Some(answer(StatusCode::OK, 6001, "号码重复"))
    } else {
        None
    };
    match refusal {
        Some(refusal) => {
            task.callees.refused += 1;
            Err(refusal)
        }
        None => Ok((plan, skipped)),
    }
}

/// The page's answer for numbers sent to a running 2.0 task (LL:55).
fn answer_6007() -> Response {
    Json(json!({
        "code": 6007,
        "status": "error",
        "message": "2.0任务启动中,请先停止任务",
        "data": []
    }))
    .into_response()
}

/// `_` and six random lowercase letters or digits, as `number_add_suffix` appends.
fn suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bits = crate::emulator::faults::random_u64();
    let mut out = String::from("_");
    for _ in 0..6 {
        out.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
    }
    out
}

pub(crate) async fn numbers(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Load, &task_id);
    if let Err(refusal) = authorize(&emu, &incoming, &user_id) {
        return refusal;
    }
    let numbers = match json_body(&incoming.headers, &incoming.body)
        .and_then(|body| validate_numbers(&body))
    {
        Ok(numbers) => numbers,
        Err(e) => return invalid(&e),
    };
    step(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Load,
        &LonglonglongAnswers,
        |tasks| {
            let (plan, skipped) = check_numbers(tasks, &task_id, numbers)?;
            let (name, batch) = tasks
                .of(Vendor::Longlonglong, &task_id)
                .map_or((String::new(), 0), |t| {
                    (t.name.clone(), t.callees.calls - t.callees.refused - 1)
                });
            Ok(Ready {
                name,
                task_id: Some(task_id.clone()),
                batch,
                commit: Box::new(move |tasks: &mut Tasks| {
                    let stored = plan.len();
                    if let Some(task) = tasks.of(Vendor::Longlonglong, &task_id) {
                        for (row, suffix) in &plan {
                            let present = NUMBER_FIELDS[1..]
                                .iter()
                                .copied()
                                .filter(|f| row.vars.contains_key(*f));
                            task.callees.add_columns(present);
                            task.callees
                                .push(&row.phone, suffix.as_deref(), Some(&row.vars));
                        }
                    }
                    Done {
                        task_id,
                        answer: success(
                            "导入成功",
                            json!({ "success": stored, "skipped": skipped }),
                        ),
                    }
                }),
            })
        },
    )
    .await
}

/// The routes, for `Vendor::emulator_routes`.
pub(crate) fn routes() -> Vec<Route> {
    use axum::routing::{delete, get, post, put};
    vec![
        Route::Post(
            "/agent-api/new/user/{user_id}/task",
            Box::new(post(create).get(list)),
        ),
        Route::Post(
            "/agent-api/new/user/{user_id}/task/{task_id}",
            Box::new(put(update)),
        ),
        Route::Post(
            "/agent-api/new/user/{user_id}/task/{task_id}/edit",
            Box::new(get(detail)),
        ),
        Route::Post(
            "/agent-api/new/user/{user_id}/task_stop/{task_id}",
            Box::new(put(pause)),
        ),
        Route::Post(
            "/agent-api/user/{user_id}/task/{task_id}",
            Box::new(delete(remove)),
        ),
        Route::Post(
            "/agent-api/user/{user_id}/task/{task_id}/number",
            Box::new(post(numbers).get(number_list)),
        ),
    ]
}

/// The read rate held to with `ReadQps::Documented`. **\[choice\]**: the pages give none;
/// callform's one choice for it, 20 a second per account, which the driver paces at too
/// (a test holds the two equal).
pub(crate) const READ_QPS: u32 = 20;

/// Whether an update of a running (or waiting) task is refused with 6007, as numbers
/// are. **[choice]** no: the update page does not say the task must be paused (LL:150),
/// and the emulator invents no refusal; flip this if a live account refuses.
pub(crate) const UPDATE_REFUSED_WHILE_RUNNING: bool = false;

/// A verb, update or read for a task finished or stopped. **Invented** (the pages have no
/// such states; only the console makes them).
const OVER: i64 = 6010;

/// The task's state as the 2.0 task reads it: **the one table** — `(enable,
/// call_status, status, status_str)`. From the pages (LL:100-106, 118-120): `enable` with
/// `new_task_extra.call_status` give the state (true/true dialling, false/false paused,
/// true/false waiting); `status` 1 暂停中, 2 执行中, 3 等待执行 (the 1.0 list's values,
/// which the 2.0 detail shows: 3 等待执行). [choice] a task never started reads as paused
/// (no start route is documented; a new task is paused); a scheduled one as waiting;
/// finished 4 已完成 and stopped 5 已终止 are **invented** (only the console makes them).
pub(crate) fn state(run: Run) -> (bool, bool, i64, &'static str) {
    match run {
        Run::NotStarted | Run::Paused => (false, false, 1, "暂停中"),
        Run::Running => (true, true, 2, "执行中"),
        Run::Scheduled => (true, false, 3, "等待执行"),
        Run::Finished => (false, false, 4, "已完成"),
        Run::Stopped | Run::Deleted => (false, false, 5, "已终止"),
    }
}

fn no_task() -> Response {
    // Invented: the pages give no answer for an unknown task.
    answer(StatusCode::NOT_FOUND, 404, "任务不存在")
}

/// The refusal for a task finished or stopped; `None` otherwise.
fn over(run: Run) -> Option<Response> {
    matches!(run, Run::Finished | Run::Stopped)
        .then(|| answer(StatusCode::OK, OVER, "任务已结束,不能操作"))
}

/// A verb's effect.
enum Move {
    To(Run),
    Stay,
    Update(Value, String),
}

/// The one path of `task_stop`, delete and update: the task by id (not deleted), the
/// move for its state, the count and the answer.
#[allow(clippy::too_many_arguments)]
async fn apply(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    op: FaultOp,
    task_id: String,
    decide: impl FnOnce(&TaskRecord) -> Result<Move, Response> + Send,
    verb: &'static str,
    message: &'static str,
) -> Response {
    step(emu, conn, seq, op, &LonglonglongAnswers, |tasks| {
        let Some(task) = tasks
            .of(Vendor::Longlonglong, &task_id)
            .filter(|t| t.run != Run::Deleted)
        else {
            return Err(no_task());
        };
        let moved = decide(task)?;
        Ok(Ready {
            name: task.name.clone(),
            task_id: Some(task_id.clone()),
            batch: 0,
            commit: Box::new(move |tasks: &mut Tasks| {
                if let Some(task) = tasks.of(Vendor::Longlonglong, &task_id) {
                    task.count_verb(verb);
                    match moved {
                        Move::To(Run::Paused) => task.pause(),
                        Move::To(run) => task.end(run),
                        Move::Stay => {}
                        Move::Update(body, name) => {
                            task.settings = body;
                            task.name = name;
                        }
                    }
                }
                let data = if verb == "update" {
                    json!({ "id": task_id })
                } else {
                    json!([])
                };
                Done {
                    answer: success(message, data),
                    task_id,
                }
            }),
        })
    })
    .await
}

/// `PUT /agent-api/new/user/{uid}/task_stop/{tid}` (LL:152, `?sub_user_id`): pauses a
/// running or waiting task; a paused (or never started) one stays paused ([choice]:
/// success, nothing changes). Its answer is not in the pages: `{"code":200,"status":
/// "success","message":"任务暂停成功","data":[]}` (**invented** beyond code/status).
pub(crate) async fn pause(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Pause, &task_id);
    if let Err(refusal) = authorize_with(&emu, &incoming, &user_id, &["sub_user_id"]) {
        return refusal;
    }
    let decide = |task: &TaskRecord| {
        if let Some(refusal) = over(task.run) {
            return Err(refusal);
        }
        Ok(if task.run.is_live() {
            Move::To(Run::Paused)
        } else {
            Move::Stay
        })
    };
    let seq = incoming.seq;
    apply(
        &emu,
        &conn,
        seq,
        FaultOp::Pause,
        task_id,
        decide,
        "pause",
        "任务暂停成功",
    )
    .await
}

/// `DELETE /agent-api/user/{uid}/task/{tid}` (LL:160, the 1.0 route; `?sub_user_id`):
/// deletes the task in any state ([choice]: the page names none it refuses); it is gone
/// then (404 to everything, not listed).
pub(crate) async fn remove(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Delete, &task_id);
    if let Err(refusal) = authorize_with(&emu, &incoming, &user_id, &["sub_user_id"]) {
        return refusal;
    }
    let decide = |_: &TaskRecord| Ok(Move::To(Run::Deleted));
    let seq = incoming.seq;
    apply(
        &emu,
        &conn,
        seq,
        FaultOp::Delete,
        task_id,
        decide,
        "delete",
        "删除成功",
    )
    .await
}

/// `PUT /agent-api/new/user/{uid}/task/{tid}` (LL:124-150): the create body, validated as
/// the create is, with the task's own `task_type`; it replaces the task's settings (and
/// name). Refused for a task finished or stopped, and while it runs only with
/// [`UPDATE_REFUSED_WHILE_RUNNING`]. Answer (not in the pages, **invented** beyond
/// code/status): `{"code":200,"status":"success","message":"修改任务成功","data":{"id"}}`.
pub(crate) async fn update(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Update, &task_id);
    if let Err(refusal) = authorize(&emu, &incoming, &user_id) {
        return refusal;
    }
    let body = match json_body(&incoming.headers, &incoming.body) {
        Ok(v) => v,
        Err(e) => return invalid(&e),
    };
    let name = match validate(&body) {
        Ok(name) => name,
        Err(e) => return invalid(&e),
    };
    let decide = move |task: &TaskRecord| {
        if let Some(refusal) = over(task.run) {
            return Err(refusal);
        }
        if UPDATE_REFUSED_WHILE_RUNNING && task.run.is_live() {
            return Err(answer_6007());
        }
        if task.settings.get("task_type") != body.get("task_type") {
            return Err(invalid(&ParamError::invalid(
                "task_type",
                "must be the task's own: an update does not change the payload kind",
            )));
        }
        Ok(Move::Update(body, name))
    };
    let seq = incoming.seq;
    apply(
        &emu,
        &conn,
        seq,
        FaultOp::Update,
        task_id,
        decide,
        "update",
        "修改任务成功",
    )
    .await
}

fn beijing(at: jiff::Timestamp) -> String {
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The detail's `data` (LL:112-120): the settings as the create (or last update) gave
/// them, `new_task_extra` with the state pair and `number_count` (the numbers held), and
/// `status`, `call_status`, `status_str` from [`state`].
pub(crate) fn detail_data(task: &TaskRecord) -> Value {
    let s = &task.settings;
    let (enable, call_status, status, status_str) = state(task.run);
    let extras = s.get("task_extras").cloned().unwrap_or(Value::Null);
    let holidays: Vec<Value> = extras["holiday"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| json!({ "start": h["begin"], "end": h["end"] }))
        .collect();
    let pick = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "name": task.name,
        "maximumcall": pick("maximumcall"),
        "remark": pick("remark"),
        "destination_extension": pick("destination_extension"),
        "bridge_group_id": pick("bridge_group_id"),
        "dial_time_id": pick("dial_time_id"),
        "end_action": pick("end_action"),
        "background_id": pick("background_id"),
        "llm_intention_id": pick("llm_intention_id"),
        "task_extras": extras,
        "new_task_extra": {
            "name": task.name,
            "enable": enable,
            "line": extras["line"],
            "start_time": extras["start_time"],
            "stop_time": extras["stop_time"],
            "holiday": holidays,
            "destination_extension": pick("destination_extension"),
            "call_status": call_status,
            "number_count": task.callees.count(),
        },
        "status": status,
        "call_status": call_status,
        "status_str": status_str,
    })
}

/// `GET /agent-api/new/user/{uid}/task/{tid}/edit` (`?sub_user_id`): `{"code":200,
/// "status":"success","message":"获取任务信息成功","data":{…}}` ([`detail_data`]); 404
/// for a task unknown or deleted.
pub(crate) async fn detail(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Query, &task_id);
    if let Err(refusal) = authorize_with(&emu, &incoming, &user_id, &["sub_user_id"]) {
        return refusal;
    }
    let id = task_id.clone();
    let look = move |tasks: &Tasks| match tasks
        .read(Vendor::Longlonglong, &id)
        .filter(|t| t.run != Run::Deleted)
    {
        Some(task) => Ok((task.name.clone(), id.clone())),
        None => Err(no_task()),
    };
    read(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Query,
        (Vendor::Longlonglong, READ_QPS),
        &LonglonglongAnswers,
        look,
        move |tasks: &Tasks| {
            let data = tasks
                .read(Vendor::Longlonglong, &task_id)
                .map(detail_data)
                .unwrap_or(Value::Null);
            success("获取任务信息成功", data)
        },
    )
    .await
}

/// The list's query (LL:86-92): `page` (from 1, default 1), `per_page` ([choice] 1 to
/// 100, default 15), `name` ([choice] the page leaves the match open: any task whose name
/// contains it), `status` (1 paused: `enable` false; 3 running or waiting: `enable`
/// true), `sub_user_id`.
#[derive(Debug, PartialEq)]
pub(crate) struct List {
    pub name: Option<String>,
    pub enable: Option<bool>,
    pub page: usize,
    pub per_page: usize,
}

pub(crate) fn validate_list(query: &[(String, String)]) -> Checked<List> {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let count = |k: &str, max: usize, default: usize| -> Checked<usize> {
        match get(k) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
                _ => Err(ParamError::invalid(
                    k,
                    format!("must be an integer from 1 to {max}, got {v:?}"),
                )),
            },
        }
    };
    let enable = match get("status") {
        None => None,
        Some("1") => Some(false),
        Some("3") => Some(true),
        Some(v) => {
            return Err(ParamError::invalid(
                "status",
                format!("must be 1 (paused) or 3 (running or waiting), got {v:?}"),
            ))
        }
    };
    Ok(List {
        name: get("name").filter(|n| !n.is_empty()).map(str::to_string),
        enable,
        page: count("page", usize::MAX, 1)?,
        per_page: count("per_page", 100, 15)?,
    })
}

/// One list item (LL:94-96).
fn list_item(task: &TaskRecord, user_id: &str) -> Value {
    let s = &task.settings;
    let (enable, call_status, _, _) = state(task.run);
    let pick = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "uuid": task.task_id,
        "name": task.name,
        "create_datetime": beijing(task.created_at),
        "alter_datetime": beijing(task.created_at),
        "enable": enable,
        "maximumcall": pick("maximumcall"),
        "dial_time_id": pick("dial_time_id"),
        "destination_extension": pick("destination_extension"),
        "remark": pick("remark"),
        "user_id": user_id,
        "auto_recycle_rule_id": pick("auto_recycle_rule_id"),
        "new_task_extra": {
            "enable": enable,
            "call_status": call_status,
            "number_count": task.callees.count(),
        },
    })
}

/// The list's body: `{code, status, message, meta: {has_pages, total, last_page,
/// current_page, per_page}, data: […]}`, oldest first, deleted tasks left out.
pub(crate) fn list_answer(tasks: &Tasks, list: &List, user_id: &str) -> Value {
    let found: Vec<&TaskRecord> = tasks
        .of_vendor(Vendor::Longlonglong)
        .filter(|t| t.run != Run::Deleted)
        .filter(|t| {
            list.name
                .as_ref()
                .is_none_or(|n| t.name.contains(n.as_str()))
        })
        .filter(|t| list.enable.is_none_or(|e| state(t.run).0 == e))
        .collect();
    let total = found.len();
    let last_page = total.div_ceil(list.per_page).max(1);
    let data: Vec<Value> = found
        .iter()
        .skip((list.page - 1).saturating_mul(list.per_page))
        .take(list.per_page)
        .map(|t| list_item(t, user_id))
        .collect();
    json!({
        "code": 200,
        "status": "success",
        "message": "返回任务列表信息成功",
        "meta": {
            "has_pages": last_page > 1,
            "total": total,
            "last_page": last_page,
            "current_page": list.page,
            "per_page": list.per_page,
        },
        "data": data,
    })
}

/// `GET /agent-api/new/user/{uid}/task?name=&page=&per_page=&status=&sub_user_id=`.
pub(crate) async fn list(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path(user_id): Path<String>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Find, None, None);
    let known = ["page", "per_page", "name", "status", "sub_user_id"];
    let query = match authorize_with(&emu, &incoming, &user_id, &known) {
        Ok(query) => query,
        Err(refusal) => return refusal,
    };
    let list = match validate_list(&query) {
        Ok(list) => list,
        Err(e) => return invalid(&e),
    };
    let name = list.name.clone().unwrap_or_default();
    emu.note(incoming.seq, FaultOp::Find, None, Some(&name));
    let list = &list;
    let user_id = &user_id;
    read(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Find,
        (Vendor::Longlonglong, READ_QPS),
        &LonglonglongAnswers,
        move |_: &Tasks| Ok((name, String::new())),
        move |tasks: &Tasks| Json(list_answer(tasks, list, user_id)).into_response(),
    )
    .await
}

/// The number list's query (longlonglong-task-lifecycle.md §2.1, "Related number APIs":
/// `page`, `per_page`, `status[]`, `start_at`, `end_at`, `encryption`). `page` from 1
/// (default 1); `per_page` **\[inferred\]** 1 to 100, default 15, as the task list; the
/// filters are accepted and, but for `encryption`, ignored (no task here has a call
/// status other than 0, waiting, and every number was added now). `encryption=true` is
/// refused with 422: the emulator keeps no encryption key.
pub(crate) fn validate_number_list(query: &[(String, String)]) -> Checked<(usize, usize)> {
    let list = validate_list(
        &query
            .iter()
            .filter(|(k, _)| k == "page" || k == "per_page")
            .cloned()
            .collect::<Vec<_>>(),
    )?;
    if let Some((_, v)) = query.iter().find(|(k, _)| k == "encryption") {
        if v == "true" || v == "1" {
            return Err(ParamError::invalid(
                "encryption",
                "is not available on this account (no API encryption is set up)",
            ));
        }
    }
    Ok((list.page, list.per_page))
}

/// `GET /agent-api/user/{uid}/task/{tid}/number?page=&per_page=`: the task's numbers in
/// load order, in the shape of the platform's lists **\[inferred\]** (the page's answer
/// is not in the stored excerpts): `{code:200, status:"success", message, meta:
/// {has_pages, total, last_page, current_page, per_page}, data: [{phone, status: 0,
/// name?}]}`; numbers in clear (no `encryption`), a suffixed repeat with its suffix. 404
/// for a task unknown or deleted.
pub(crate) async fn number_list(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path((user_id, task_id)): Path<(String, String)>,
    incoming: Incoming,
) -> Response {
    emu.note_task(incoming.seq, FaultOp::Numbers, &task_id);
    let known = [
        "page",
        "per_page",
        "status[]",
        "start_at",
        "end_at",
        "encryption",
        "sub_user_id",
    ];
    let query = match authorize_with(&emu, &incoming, &user_id, &known) {
        Ok(query) => query,
        Err(refusal) => return refusal,
    };
    let (page, per_page) = match validate_number_list(&query) {
        Ok(p) => p,
        Err(e) => return invalid(&e),
    };
    let id = task_id.clone();
    let look = move |tasks: &Tasks| match tasks
        .read(Vendor::Longlonglong, &id)
        .filter(|t| t.run != Run::Deleted)
    {
        Some(task) => Ok((task.name.clone(), id.clone())),
        None => Err(no_task()),
    };
    read(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Numbers,
        (Vendor::Longlonglong, READ_QPS),
        &LonglonglongAnswers,
        look,
        move |tasks: &Tasks| {
            let Some(task) = tasks.read(Vendor::Longlonglong, &task_id) else {
                return no_task();
            };
            let total = task.callees.count();
            let last_page = total.div_ceil(per_page).max(1);
            let data: Vec<Value> = task
                .callees
                .numbers((page - 1).saturating_mul(per_page), per_page)
                .into_iter()
                .map(|phone| json!({ "phone": phone, "status": 0 }))
                .collect();
            Json(json!({
                "code": 200,
                "status": "success",
                "message": "获取号码列表成功",
                "meta": {
                    "has_pages": last_page > 1,
                    "total": total,
                    "last_page": last_page,
                    "current_page": page,
                    "per_page": per_page,
                },
                "data": data,
            }))
            .into_response()
        },
    )
    .await
}

/// Checks a task-create body of either payload; returns the task name.
pub(crate) fn validate(body: &Value) -> Checked<String> {
    let obj = Obj::body(body)?;
    let task_type = obj.req_int("task_type")?;
    if task_type != NEW && task_type != OLD {
        return Err(ParamError::invalid(
            "task_type",
            format!("must be 6 (old 2.0) or 7 (new 2.0), got {task_type}"),
        ));
    }
    if task_type == NEW {
        only_with(&obj, &OLD_ONLY, OLD)?;
    }
    let known: Vec<&str> = TOP_LEVEL.iter().chain(&OLD_ONLY).copied().collect();
    obj.allow_only(&known)?;

    let name = obj.req_text("name")?;
    positive_id(&obj, "destination_extension")?;
    positive_id(&obj, "dial_time_id")?;
    let maximumcall = obj.req_int_in("maximumcall", 0, i64::MAX)?;
    obj.opt_text("sub_user_id")?;
    if obj.opt_int("bridge_group_id")?.is_some() {
        positive_id(&obj, "bridge_group_id")?;
    }
    let group_switch = if task_type == NEW {
        obj.opt_int_in("is_group_switch", 0, 3)?
    } else {
        obj.opt_int_in("is_group_switch", 0, 1)?
    };
    for flag in ["enable_type", "is_call_in", "end_action"] {
        obj.opt_int_in(flag, 0, 1)?;
    }
    if let Some(group_type) = obj.opt_str("group_type")? {
        if group_type != "group" && group_type != "robot" {
            return Err(ParamError::invalid(
                "group_type",
                format!("must be group or robot, got {group_type:?}"),
            ));
        }
    }
    obj.opt_str("remark")?;
    for id in ["background_id", "llm_intention_id", "score_scheme_id"] {
        if obj.has(id) {
            positive_id(&obj, id)?;
        }
    }

    let extras = obj.req_obj("task_extras")?;
    if task_type == OLD {
        only_with(&extras, &EXTRAS_NEW_ONLY, NEW)?;
    }
    let known: Vec<&str> = EXTRAS.iter().chain(&EXTRAS_NEW_ONLY).copied().collect();
    extras.allow_only(&known)?;
    let start = date_time(
        extras.req_str("start_time")?,
        &extras.path("start_time"),
        DATE_TIME,
    )?;
    let stop = date_time(
        extras.req_str("stop_time")?,
        &extras.path("stop_time"),
        DATE_TIME,
    )?;
    if stop <= start {
        return Err(ParamError::invalid(
            extras.path("stop_time"),
            "must be after start_time",
        ));
    }
    holidays(&extras)?;
    let lines = lines(&extras, task_type)?;
    if lines == 0 && maximumcall != 0 {
        return Err(ParamError::invalid(
            "maximumcall",
            "must be 0 when task_extras.line is empty (the page's rule)",
        ));
    }
    extras.opt_int_in("interval_time", 0, i64::MAX)?;

    if task_type == NEW {
        new_payload(&extras, group_switch)?;
    } else {
        old_payload(&obj, group_switch)?;
    }
    Ok(name.to_string())
}

/// Refuses, under the other payload, the fields that belong to `task_type` only.
fn only_with(obj: &Obj<'_>, fields: &[&str], task_type: i64) -> Checked<()> {
    match fields.iter().find(|f| obj.has(f)) {
        Some(field) => Err(ParamError::invalid(
            obj.path(field),
            format!("is a field of the task_type {task_type} payload only"),
        )),
        None => Ok(()),
    }
}

fn positive_id(obj: &Obj<'_>, key: &str) -> Checked<i64> {
    obj.req_int_in(key, 1, i64::MAX)
}

/// A script-group id nested in a list: an integer or a string of digits (the page's
/// examples show both).
fn group_id(obj: &Obj<'_>, key: &str) -> Checked<()> {
    let path = obj.path(key);
    match obj.req_value(key)? {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        Value::String(s) => Err(ParamError::invalid(
            path,
            format!("must be a script-group id, got {s:?}"),
        )),
        other => {
            let id = integer(other, &path)?;
            if id > 0 {
                Ok(())
            } else {
                Err(ParamError::invalid(
                    path,
                    format!("must be a positive id, got {id}"),
                ))
            }
        }
    }
}

fn holidays(extras: &Obj<'_>) -> Checked<()> {
    for (i, item) in extras.req_array("holiday")?.iter().enumerate() {
        let holiday = Obj::at(item, format!("{}[{i}]", extras.path("holiday")))?;
        holiday.allow_only(&["begin", "end"])?;
        let begin = date_time(
            holiday.req_str("begin")?,
            &holiday.path("begin"),
            DATE_TIME_MINUTES,
        )?;
        let end = date_time(
            holiday.req_str("end")?,
            &holiday.path("end"),
            DATE_TIME_MINUTES,
        )?;
        if end <= begin {
            return Err(ParamError::invalid(
                holiday.path("end"),
                "must be after begin",
            ));
        }
    }
    Ok(())
}

/// Checks `task_extras.line` (new: `[{id, limit}]`, old: `[id]`); returns its length.
fn lines(extras: &Obj<'_>, task_type: i64) -> Checked<usize> {
    let items = extras.req_array("line")?;
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", extras.path("line"));
        if task_type == NEW {
            let line = Obj::at(item, path)?;
            line.allow_only(&["id", "limit"])?;
            line.req_text("id")?;
            line.req_int_in("limit", 1, i64::MAX)?;
        } else if item.is_object() {
            return Err(ParamError::invalid(
                path,
                "line objects are for task_type 7; old 2.0 takes line ids",
            ));
        } else {
            crate::emulator::params::non_blank(string(item, &path)?, &path)?;
        }
    }
    Ok(items.len())
}

fn new_payload(extras: &Obj<'_>, group_switch: Option<i64>) -> Checked<()> {
    extras.req_int_in("pop_mode", 0, 2)?;
    extras.req_int_in("redial_enabled", 0, 1)?;
    extras.opt_int_in("redial_new_number_policy", 0, 1)?;
    extras.opt_int_in("redial_interval", 0, 60)?;
    extras.opt_int_in("redial_max_times", 0, 3)?;
    if let Some(conditions) = extras.opt_obj("redial_conditions")? {
        conditions.allow_only(&["da_status", "pop_mode"])?;
        if let Some(statuses) = conditions.opt_array("da_status")? {
            for (i, status) in statuses.iter().enumerate() {
                let path = format!("{}[{i}]", conditions.path("da_status"));
                let status = integer(status, &path)?;
                if !DA_STATUS.contains(&status) {
                    return Err(ParamError::invalid(
                        path,
                        format!("must be one of 2,3,4,5,6,7,8,9,10,12, got {status}"),
                    ));
                }
            }
        }
        conditions.opt_int_in("pop_mode", 0, 2)?;
    }

    let by_time = extras.opt_array("destination_extension_list")?;
    for (i, item) in by_time.into_iter().flatten().enumerate() {
        let slot = Obj::at(
            item,
            format!("{}[{i}]", extras.path("destination_extension_list")),
        )?;
        slot.allow_only(&["begin", "end", "destination_extension"])?;
        let range = format!("{}-{}", slot.req_str("begin")?, slot.req_str("end")?);
        window(&range, &slot.path("begin"), "HH:MM", clock_hm)?;
        group_id(&slot, "destination_extension")?;
    }

    let by_variable = extras.opt_array("destination_extension_with_variable_list")?;
    if let Some(groups) = by_variable {
        if groups.len() > 100 {
            return Err(ParamError::invalid(
                extras.path("destination_extension_with_variable_list"),
                format!("holds at most 100 groups, got {}", groups.len()),
            ));
        }
        for (i, item) in groups.iter().enumerate() {
            let group = Obj::at(
                item,
                format!(
                    "{}[{i}]",
                    extras.path("destination_extension_with_variable_list")
                ),
            )?;
            group.allow_only(&["mode", "values", "destination_extension", "sort"])?;
            group.req_int_in("mode", 0, 1)?;
            let values = group.req_array("values")?;
            if values.is_empty() || values.len() > 10 {
                return Err(ParamError::invalid(
                    group.path("values"),
                    "must hold 1 to 10 keywords",
                ));
            }
            let mut seen = HashSet::new();
            for (j, value) in values.iter().enumerate() {
                let path = format!("{}[{j}]", group.path("values"));
                let value = crate::emulator::params::non_blank(string(value, &path)?, &path)?;
                if !seen.insert(value) {
                    return Err(ParamError::invalid(
                        path,
                        format!("repeats the keyword {value:?}"),
                    ));
                }
            }
            group_id(&group, "destination_extension")?;
            group.req_int("sort")?;
        }
    }

    let multi = extras.opt_obj("destination_extension_multi_config")?;
    if let Some(multi) = &multi {
        multi.allow_only(&["dial_mode", "list"])?;
        multi.req_int_in("dial_mode", 0, 1)?;
        let list = multi.req_array("list")?;
        if list.is_empty() {
            return Err(ParamError::invalid(
                multi.path("list"),
                "must hold at least one script group",
            ));
        }
        for (i, item) in list.iter().enumerate() {
            let entry = Obj::at(item, format!("{}[{i}]", multi.path("list")))?;
            entry.allow_only(&["destination_extension", "sort"])?;
            group_id(&entry, "destination_extension")?;
            entry.req_int("sort")?;
        }
    }

    let required = match group_switch {
        Some(1) if by_time.is_none_or(Vec::is_empty) => Some("destination_extension_list"),
        Some(2) if by_variable.is_none_or(Vec::is_empty) => {
            Some("destination_extension_with_variable_list")
        }
        Some(3) if multi.is_none() => Some("destination_extension_multi_config"),
        _ => None,
    };
    match required {
        Some(field) => Err(ParamError::invalid(
            extras.path(field),
            format!(
                "is required with is_group_switch {}",
                group_switch.unwrap_or_default()
            ),
        )),
        None => Ok(()),
    }
}

fn old_payload(obj: &Obj<'_>, group_switch: Option<i64>) -> Checked<()> {
    for (i, item) in obj
        .opt_array("new_call_rules")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let rule = Obj::at(item, format!("new_call_rules[{i}]"))?;
        rule.allow_only(&["re_call_time", "call_interval", "rule_id"])?;
        let path = rule.path("re_call_time");
        let at = rule.req_str("re_call_time")?;
        let secs = clock_hms(at)
            .ok_or_else(|| ParamError::invalid(&path, format!("must be HH:MM:SS, got {at:?}")))?;
        let allowed =
            (10 * 3600..=11 * 3600).contains(&secs) || (13 * 3600..=22 * 3600).contains(&secs);
        if !allowed {
            return Err(ParamError::invalid(
                path,
                format!("must lie within 10:00-11:00 or 13:00-22:00, got {at}"),
            ));
        }
        rule.opt_int_in("call_interval", 1, i64::MAX)?;
        rule.opt_int("rule_id")?;
    }
    let rules = obj.opt_array("group_switch_rule")?;
    for (i, item) in rules.into_iter().flatten().enumerate() {
        let rule = Obj::at(item, format!("group_switch_rule[{i}]"))?;
        rule.allow_only(&["switch_start", "switch_end", "group_id", "default_group_id"])?;
        let range = format!(
            "{}-{}",
            rule.req_str("switch_start")?,
            rule.req_str("switch_end")?
        );
        window(&range, &rule.path("switch_start"), "HH:MM", clock_hm)?;
        group_id(&rule, "group_id")?;
        if rule.has("default_group_id") {
            group_id(&rule, "default_group_id")?;
        }
    }
    if group_switch == Some(1) && rules.is_none_or(Vec::is_empty) {
        return Err(ParamError::invalid(
            "group_switch_rule",
            "is required with is_group_switch 1",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid body that must make it invalid.
    type Change = Box<dyn FnOnce(&mut Value)>;

    /// The page's new 2.0 example (is_group_switch 2 with its variable groups).
    fn new_example() -> Value {
        json!({
            "name": "测试api接口创建-222",
            "destination_extension": 123,
            "maximumcall": 2,
            "dial_time_id": 123,
            "background_id": 123,
            "is_group_switch": 2,
            "task_extras": {
                "start_time": "2024-11-01 13:25:26",
                "stop_time": "2025-11-01 13:25:26",
                "line": [{"id": "XXXXX", "limit": 2}],
                "destination_extension_list": [{"begin": "09:00", "end": "12:00", "destination_extension": 123}],
                "destination_extension_with_variable_list": [
                    {"mode": 1, "values": ["男", "男的"], "destination_extension": 11, "sort": 1},
                    {"mode": 0, "values": ["女", "女性"], "destination_extension": 12, "sort": 0},
                    {"mode": 0, "values": ["未知"], "destination_extension": 10, "sort": 4}
                ],
                "destination_extension_multi_config": {
                    "dial_mode": 0,
                    "list": [{"destination_extension": "13601", "sort": 1}, {"destination_extension": "13716", "sort": 2}]
                },
                "holiday": [{"begin": "2024-11-01 13:25", "end": "2024-11-03 13:25"}],
                "pop_mode": 1,
                "redial_enabled": 0,
                "redial_new_number_policy": 0,
                "redial_interval": 3,
                "redial_max_times": 3,
                "redial_conditions": {"da_status": [2, 3, 4, 6, 8, 9, 12]}
            },
            "task_type": 7,
            "llm_intention_id": 123,
            "score_scheme_id": 123
        })
    }

    /// The page's old 2.0 example, with `task_type` sent as callform always does.
    fn old_example() -> Value {
        json!({
            "name": "测试api接口创建-222",
            "destination_extension": 123,
            "maximumcall": 1,
            "dial_time_id": 123,
            "background_id": 123,
            "is_call_in": 0,
            "task_type": 6,
            "task_extras": {
                "start_time": "2024-11-01 13:25:26",
                "stop_time": "2025-11-01 13:25:26",
                "holiday": [{"begin": "2024-11-01 13:25", "end": "2024-11-03 13:25"}],
                "line": ["xxxx"],
                "interval_time": 0
            },
            "new_call_rules": [
                {"re_call_time": "10:00:00", "call_interval": 60, "rule_id": 123},
                {"re_call_time": "11:00:00", "call_interval": 60, "rule_id": 123}
            ],
            "group_switch_rule": [{"switch_start": "09:00", "switch_end": "12:00", "group_id": 123, "default_group_id": 123}],
            "llm_intention_id": 123,
            "score_scheme_id": 123
        })
    }

    fn refused(mut body: Value, change: impl FnOnce(&mut Value)) -> ParamError {
        change(&mut body);
        validate(&body).expect_err("should be refused")
    }

    #[test]
    fn the_page_examples_pass() {
        assert_eq!(validate(&new_example()).unwrap(), "测试api接口创建-222");
        assert_eq!(validate(&old_example()).unwrap(), "测试api接口创建-222");
    }

    #[test]
    fn payload_fields_are_refused_under_the_other_task_type() {
        let err = refused(new_example(), |b| b["new_call_rules"] = json!([]));
        assert_eq!(err.param, "new_call_rules");
        let err = refused(old_example(), |b| b["task_extras"]["pop_mode"] = json!(1));
        assert_eq!(err.param, "task_extras.pop_mode");
        let err = refused(old_example(), |b| {
            b["task_extras"]["line"] = json!([{"id": "x", "limit": 1}])
        });
        assert_eq!(err.param, "task_extras.line[0]");
        let err = refused(new_example(), |b| b["task_extras"]["line"] = json!(["x"]));
        assert_eq!(err.param, "task_extras.line[0]");
    }

    #[test]
    fn wire_mistakes_are_refused_with_the_parameter_named() {
        let cases: Vec<(&str, Change)> = vec![
            (
                "task_type",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("task_type");
                }),
            ),
            ("task_type", Box::new(|b| b["task_type"] = json!(5))),
            (
                "task_extras.line",
                Box::new(|b| {
                    b["task_extras"].as_object_mut().unwrap().remove("line");
                }),
            ),
            (
                "task_extras.holiday",
                Box::new(|b| {
                    b["task_extras"].as_object_mut().unwrap().remove("holiday");
                }),
            ),
            (
                "maximumcall",
                Box::new(|b| b["task_extras"]["line"] = json!([])),
            ),
            (
                "task_extras.start_time",
                Box::new(|b| b["task_extras"]["start_time"] = json!("2024/11/1 13:25")),
            ),
            (
                "task_extras.stop_time",
                Box::new(|b| b["task_extras"]["stop_time"] = json!("2024-10-01 13:25:26")),
            ),
            (
                "task_extras.holiday[0].start",
                Box::new(|b| {
                    b["task_extras"]["holiday"] =
                        json!([{"start": "2024-11-01 13:25", "end": "2024-11-03 13:25"}])
                }),
            ),
            (
                "task_extras.holiday[0].begin",
                Box::new(|b| {
                    b["task_extras"]["holiday"] =
                        json!([{"begin": "2024-11-01 13:25:00", "end": "2024-11-03 13:25"}])
                }),
            ),
            (
                "task_extras.redial_enabled",
                Box::new(|b| b["task_extras"]["redial_enabled"] = json!(true)),
            ),
            (
                "task_extras.redial_enabled",
                Box::new(|b| {
                    b["task_extras"]
                        .as_object_mut()
                        .unwrap()
                        .remove("redial_enabled");
                }),
            ),
            (
                "task_extras.redial_new_number_policy",
                Box::new(|b| b["task_extras"]["redial_new_number_policy"] = json!(false)),
            ),
            (
                "task_extras.redial_interval",
                Box::new(|b| b["task_extras"]["redial_interval"] = json!(61)),
            ),
            (
                "task_extras.redial_max_times",
                Box::new(|b| b["task_extras"]["redial_max_times"] = json!(4)),
            ),
            (
                "task_extras.redial_conditions.da_status[0]",
                Box::new(|b| b["task_extras"]["redial_conditions"]["da_status"] = json!([11])),
            ),
            (
                "task_extras.pop_mode",
                Box::new(|b| b["task_extras"]["pop_mode"] = json!(3)),
            ),
            (
                "task_extras.destination_extension_with_variable_list[0].values[1]",
                Box::new(|b| {
                    b["task_extras"]["destination_extension_with_variable_list"][0]["values"] =
                        json!(["男", "男"])
                }),
            ),
            (
                "task_extras.destination_extension_with_variable_list",
                Box::new(|b| {
                    b["task_extras"]["destination_extension_with_variable_list"] = json!([])
                }),
            ),
            (
                "task_extras.destination_extension_list[0].begin",
                Box::new(|b| {
                    b["task_extras"]["destination_extension_list"][0]["end"] = json!("08:00")
                }),
            ),
            (
                "is_group_switch",
                Box::new(|b| b["is_group_switch"] = json!(4)),
            ),
            ("group_type", Box::new(|b| b["group_type"] = json!("bot"))),
            (
                "destination_extension",
                Box::new(|b| b["destination_extension"] = json!("123")),
            ),
            (
                "bridge_group_id",
                Box::new(|b| b["bridge_group_id"] = json!(null)),
            ),
            (
                "task_extras.foo",
                Box::new(|b| b["task_extras"]["foo"] = json!(1)),
            ),
        ];
        for (param, change) in cases {
            assert_eq!(refused(new_example(), change).param, param);
        }
    }

    #[test]
    fn old_payload_rules() {
        let err = refused(old_example(), |b| {
            b["new_call_rules"][0]["re_call_time"] = json!("12:00:00")
        });
        assert_eq!(err.param, "new_call_rules[0].re_call_time");
        let err = refused(old_example(), |b| b["is_group_switch"] = json!(2));
        assert_eq!(err.param, "is_group_switch");
        let err = refused(old_example(), |b| {
            b["is_group_switch"] = json!(1);
            b.as_object_mut().unwrap().remove("group_switch_rule");
        });
        assert_eq!(err.param, "group_switch_rule");
        let mut empty_lines = old_example();
        empty_lines["task_extras"]["line"] = json!([]);
        empty_lines["maximumcall"] = json!(0);
        assert!(validate(&empty_lines).is_ok());
    }

    #[test]
    fn number_calls_are_shape_checked() {
        let ok = validate_numbers(&json!({
            "data": [{"phone": "13700000001", "name": "张三", "company": "c"}],
            "skip_error": true
        }))
        .unwrap();
        assert!(ok.skip_error && !ok.add_suffix);
        assert_eq!(ok.rows[0].vars.len(), 2);
        let refused = |body: Value| validate_numbers(&body).unwrap_err().param;
        assert_eq!(refused(json!({"data": []})), "data");
        assert_eq!(
            refused(json!({"data": vec![json!({"phone": "13700000001"}); 101]})),
            "data"
        );
        assert!(
            validate_numbers(&json!({"data": vec![json!({"phone": "13700000001"}); 100]})).is_ok()
        );
        assert_eq!(refused(json!({"data": [{"name": "x"}]})), "data[0].phone");
        assert_eq!(
            refused(json!({"data": [{"phone": "13700000001", "amount": "1"}]})),
            "data[0].amount"
        );
        assert_eq!(
            refused(json!({"data": [{"phone": "13700000001"}], "skip_error": "true"})),
            "skip_error"
        );
        assert_eq!(
            refused(json!({"data": [{"phone": "13700000001"}], "sub_user_id": "x"})),
            "sub_user_id"
        );
    }

    #[test]
    fn suffixes_look_like_the_vendors() {
        let s = suffix();
        assert_eq!(s.len(), 7);
        assert!(s.starts_with('_'));
        assert!(s[1..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn states_read_as_enable_and_call_status() {
        assert_eq!(state(Run::Running), (true, true, 2, "执行中"));
        assert_eq!(state(Run::Scheduled), (true, false, 3, "等待执行"));
        assert_eq!(state(Run::Paused), (false, false, 1, "暂停中"));
        assert_eq!(state(Run::NotStarted), state(Run::Paused));
        assert!(over(Run::Finished).is_some() && over(Run::Stopped).is_some());
        assert!(over(Run::Paused).is_none());
    }

    #[test]
    fn the_list_query_and_answer_have_the_pages_shape() {
        let pairs = |q: &[(&str, &str)]| -> Vec<(String, String)> {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let list = validate_list(&pairs(&[
            ("name", "abc"),
            ("status", "3"),
            ("per_page", "5"),
        ]))
        .unwrap();
        assert_eq!(
            list,
            List {
                name: Some("abc".into()),
                enable: Some(true),
                page: 1,
                per_page: 5
            }
        );
        assert!(validate_list(&pairs(&[("status", "2")])).is_err());
        assert!(validate_list(&pairs(&[("page", "0")])).is_err());
        let mut tasks = Tasks::default();
        let request = RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: Vec::new(),
            content_type: None,
            body: Some(
                json!({"maximumcall": 2, "task_type": 7, "task_extras": {"line": [], "holiday": [{"begin": "2030-01-01 00:00", "end": "2030-01-02 00:00"}]}}),
            ),
        };
        let id = tasks.create(Vendor::Longlonglong, "abc-1".into(), request);
        let all = List {
            name: Some("abc".into()),
            enable: None,
            page: 1,
            per_page: 15,
        };
        let answer = list_answer(&tasks, &all, "u1");
        assert_eq!(
            answer["meta"],
            json!({"has_pages": false, "total": 1, "last_page": 1, "current_page": 1, "per_page": 15})
        );
        assert_eq!(answer["data"][0]["uuid"], id.as_str());
        assert_eq!(answer["data"][0]["new_task_extra"]["call_status"], false);
        let detail = detail_data(tasks.read(Vendor::Longlonglong, &id).unwrap());
        assert_eq!(
            detail["new_task_extra"]["holiday"][0]["start"],
            "2030-01-01 00:00"
        );
        assert_eq!(
            (detail["status"].clone(), detail["status_str"].clone()),
            (json!(1), json!("暂停中"))
        );
        tasks.get_mut(&id).unwrap().end(Run::Deleted);
        assert_eq!(list_answer(&tasks, &all, "u1")["meta"]["total"], 0);
    }
}
