//! xfyeta, six routes, each `POST …?token=…` with a JSON body: create, insert and start
//! below, and (xfyeta-task-lifecycle.md §1.2-1.5) `task/query` (by `task_id`, or a
//! listing: `task_name` a substring, paged 1–50), `task/pause` and `task/delete`, with
//! `task/start` also resuming — the states in [`status`], the moves in `start_move`,
//! `pause_move`, `delete_move` (each marks its [choice]s). First the original three:
//!
//! - `/openapi/outbound/v1/task/create` (vendor-docs/xfyeta-task-create.md): success
//!   `{"code":0,"message":"ok","result":{"task_id":"…"}}`; the task starts paused.
//! - `/openapi/outbound/v1/task/insert` (xfyeta-task-lifecycle.md §1.1): `{task_id,
//!   call_column, call_list}`; success `{"code":0,"message":"ok","result":{"total":N,
//!   "task_data_ids":[…]}}`, one id per row in order.
//! - `/openapi/outbound/v1/task/start` (§1.3): `{task_id}`; success `{"code":0,
//!   "message":"ok","result":{}}`. It also resumes a task paused in the console.
//!
//! Errors are `{"code":≠0,"message":…}`. The codes follow the one error table of the
//! docs (xfyeta-task-lifecycle.md §1.1, source D) where it has a code, and are the
//! emulator's choice otherwise — **invented** below means no page gives it, so no driver
//! rule may be tuned to it (callform must read it as "uncertain"):
//!
//! | code  | HTTP | when |
//! |-------|------|------|
//! | 10005 | 200  | invalid parameter (the message names it), and the business error fault: `输入参数不正确: robot not found` |
//! | 10001 | 200  | missing or wrong token (`无效的token请求`) |
//! | 200202 | 200 | insert/start: `task_id` is no task of this account (`错误的任务id`) |
//! | 200203 | 200 | insert: a row's first value is not a mobile number (`错误的外呼号码`) |
//! | 200212 | 200 | insert: a row's length is not `call_column`'s, or `call_column` differs from the task's first insert (`错误的数据，与话术动态信息不匹配`) |
//! | 200213 | 200 | insert: more than 50 rows (`上传的外呼数据量超过限制`) |
//! | 3030002 | 200 | insert: a number the task holds, or one given twice (`号码被占用`); the call stores nothing [inferred: stored atomically or not at all] |
//! | 3010199 | 200 | insert after the task was started, even if paused since: `任务已启动，不能提交数据` (**invented**: the pages say no data is taken after start, XL:106, but give no code) |
//! | 10429 | 429  | throttle fault |
//! | 10500 | 500  | 5xx fault |
//!
//! Whether a task paused after its start takes data again is not stated (XL:112); the
//! emulator refuses it, like a task still running [inferred, the stricter reading].
//!
//! Application errors travel with HTTP 200, as is common for this style of API, so a
//! client must look at `code`; throttling and server errors use 429 and 500 so that a
//! client's generic HTTP handling (retry on 429, `uncertain` on 5xx) applies.
//!
//! Wire facts checked beyond types: `line_num` is one `;`-joined string of numbers
//! (no full-width `；`), `robot_id` a JSON string, `time_range` windows
//! `HH:MM:SS-HH:MM:SS` that do not overlap, `time_begin`/`time_end` 13-digit millisecond
//! timestamps with end after begin, `recall_count` 0–3, and the flag spelled `trubo_mode`.

// A refusal is the vendor's answer itself, built once and sent as is: boxing it would
// buy nothing, and axum handlers take `Result<_, Response>` as their idiom.
#![allow(clippy::result_large_err)]
use crate::emulator::conn::ConnHandle;
use crate::emulator::params::{
    clock_hms, header, is_mobile_number, json_body, query_pairs, string, window, Checked, Obj,
    ParamError,
};
use crate::emulator::server::{locked, Emulator, Incoming, Route};
use crate::emulator::step::{read, step, Answers, Done, NewTask, Ready};
use crate::emulator::tasks::{RecordedRequest, Run, TaskRecord, Tasks, Vendor};
use crate::emulator::FaultOp;
use crate::sign::constant_time_eq;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

const PARAMS: [&str; 10] = [
    "task_name",
    "line_num",
    "robot_id",
    "recall_count",
    "time_recall_wait",
    "time_range",
    "time_begin",
    "time_end",
    "voice_code",
    "trubo_mode",
];

/// Rows `task/insert` takes in one call ("单次上限50条", XL:43).
const INSERT_MAX_ROWS: usize = 50;

/// The code for data sent after start. **Invented**: the pages give none (XL:106).
const STARTED: i64 = 3_010_199;

fn answer(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

fn refused(code: i64, message: &str) -> Response {
    answer(StatusCode::OK, code, message)
}

fn invalid(e: &ParamError) -> Response {
    answer(StatusCode::OK, 10005, &format!("输入参数不正确: {e}"))
}

fn ok(result: Value) -> Response {
    Json(json!({ "code": 0, "message": "ok", "result": result })).into_response()
}

struct XfyetaAnswers;

impl Answers for XfyetaAnswers {
    fn throttled(&self) -> Response {
        answer(
            StatusCode::TOO_MANY_REQUESTS,
            10429,
            "request limit exceeded, try again later",
        )
    }
    fn server_error(&self) -> Response {
        answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            10500,
            "internal server error",
        )
    }
    fn business_error(&self) -> Response {
        answer(StatusCode::OK, 10005, "输入参数不正确: robot not found")
    }
}

/// The token check every route shares, then the JSON body.
fn authorized_body(emu: &Emulator, incoming: &Incoming) -> Result<Value, Response> {
    let query = query_pairs(incoming.uri.query().unwrap_or(""))
        .map_err(|reason| invalid(&ParamError::invalid("query", reason)))?;
    let tokens: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .collect();
    let token_ok = matches!(tokens[..], [token] if constant_time_eq(token.as_bytes(), emu.credentials.xfyeta_token.as_bytes()));
    if !token_ok {
        return Err(answer(StatusCode::OK, 10001, "无效的token请求"));
    }
    if let Some((name, _)) = query.iter().find(|(k, _)| k != "token") {
        return Err(invalid(&ParamError::unknown(
            format!("query.{name}"),
            &["token"],
        )));
    }
    json_body(&incoming.headers, &incoming.body).map_err(|e| invalid(&e))
}

pub(crate) async fn create(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Create, None, None);
    let body = match authorized_body(&emu, &incoming) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let name = match validate(&body) {
        Ok(name) => name,
        Err(e) => return invalid(&e),
    };
    let task = NewTask {
        vendor: Vendor::Xfyeta,
        name,
        request: RecordedRequest {
            method: incoming.method.to_string(),
            path: incoming.uri.path().to_string(),
            // The token is a secret: it never leaves the emulator, not even to tests.
            query: vec![("token".to_string(), "***".to_string())],
            content_type: header(&incoming.headers, "content-type")
                .ok()
                .flatten()
                .map(str::to_string),
            body: Some(body),
        },
    };
    let created = |id: &str| ok(json!({ "task_id": id }));
    step(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Create,
        &XfyetaAnswers,
        |_| Ok(task.ready(created, |_, _| {})),
    )
    .await
}

/// A `task/insert` body whose shape is valid.
#[derive(Debug)]
pub(crate) struct Insert {
    pub task_id: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Checks a `task/insert` body's shape (types, unknown keys; 10005). Row counts, lengths
/// and numbers are the task's checks ([`check_insert`]), with codes of their own.
pub(crate) fn validate_insert(body: &Value) -> Checked<Insert> {
    let obj = Obj::body(body)?;
    obj.allow_only(&["task_id", "call_column", "call_list"])?;
    let task_id = obj.req_text("task_id")?.to_string();
    let columns = obj
        .req_array("call_column")?
        .iter()
        .enumerate()
        .map(|(i, c)| string(c, &format!("call_column[{i}]")).map(str::to_string))
        .collect::<Checked<Vec<String>>>()?;
    if columns.is_empty() {
        return Err(ParamError::invalid(
            "call_column",
            "must name at least the number column",
        ));
    }
    let list = obj.req_array("call_list")?;
    if list.is_empty() {
        return Err(ParamError::invalid(
            "call_list",
            "must hold at least one row",
        ));
    }
    let mut rows = Vec::with_capacity(list.len());
    for (i, row) in list.iter().enumerate() {
        let path = format!("call_list[{i}]");
        let cells = crate::emulator::params::array(row, &path)?;
        let cells = cells
            .iter()
            .enumerate()
            .map(|(j, c)| string(c, &format!("{path}[{j}]")).map(str::to_string))
            .collect::<Checked<Vec<String>>>()?;
        rows.push(cells);
    }
    Ok(Insert {
        task_id,
        columns,
        rows,
    })
}

/// The task's checks of an insert, in the order the codes are answered; counts the call,
/// its repeats and a refusal on the task. `Ok` = store it.
pub(crate) fn check_insert(tasks: &mut Tasks, insert: &Insert) -> Result<(), Response> {
    let Some(task) = tasks.of(Vendor::Xfyeta, &insert.task_id) else {
        return Err(refused(200_202, "错误的任务id"));
    };
    let callees = &mut task.callees;
    callees.calls += 1;
    let mut seen = HashSet::new();
    let repeats = insert
        .rows
        .iter()
        .filter_map(|r| r.first())
        .filter(|n| callees.holds(n) || !seen.insert(n.as_str()))
        .count();
    callees.duplicates += repeats as u64;
    let refusal = if let Some(refusal) = over(task.run).filter(|_| task.run != Run::Stopped) {
        Some(refusal)
    } else if task.was_started() || task.run == Run::Stopped {
        Some(refused(STARTED, "任务已启动，不能提交数据"))
    } else if insert.rows.len() > INSERT_MAX_ROWS {
        Some(refused(
            200_213,
            &format!(
                "上传的外呼数据量超过限制 (at most {INSERT_MAX_ROWS} rows a call, got {})",
                insert.rows.len()
            ),
        ))
    } else if !columns_match(
        task.callees.phone_column(),
        task.callees.columns(),
        &insert.columns,
    ) {
        Some(refused(
            200_212,
            "错误的数据，与话术动态信息不匹配 (call_column differs from the task's first insert)",
        ))
    } else if let Some(i) = insert
        .rows
        .iter()
        .position(|r| r.len() != insert.columns.len())
    {
        Some(refused(
            200_212,
            &format!(
                "错误的数据，与话术动态信息不匹配 (call_list[{i}] has {} values, call_column {})",
                insert.rows[i].len(),
                insert.columns.len()
            ),
        ))
    } else if let Some(i) = insert.rows.iter().position(|r| !is_mobile_number(&r[0])) {
        Some(refused(
            200_203,
            &format!("错误的外呼号码 (call_list[{i}][0] is not a mobile number)"),
        ))
    } else if repeats > 0 {
        Some(refused(3_030_002, "号码被占用"))
    } else {
        None
    };
    match refusal {
        Some(answer) => {
            task.callees.refused += 1;
            Err(answer)
        }
        None => Ok(()),
    }
}

/// The first insert fixes `call_column`; every later one must send the same.
fn columns_match(phone: Option<&str>, vars: &[String], sent: &[String]) -> bool {
    match phone {
        None => true,
        Some(phone) => sent.first().map(String::as_str) == Some(phone) && sent[1..] == *vars,
    }
}

/// Stores a checked insert; returns the task's id and the answer.
fn store_insert(tasks: &mut Tasks, insert: Insert) -> Done {
    let ids = tasks.data_ids(insert.rows.len());
    if let Some(task) = tasks.of(Vendor::Xfyeta, &insert.task_id) {
        let callees = &mut task.callees;
        if callees.phone_column().is_none() {
            callees.set_phone_column(&insert.columns[0]);
            callees.add_columns(insert.columns[1..].iter().map(String::as_str));
        }
        for row in &insert.rows {
            let vars: Map<String, Value> = insert.columns[1..]
                .iter()
                .zip(&row[1..])
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            callees.push(&row[0], None, Some(&vars));
        }
    }
    Done {
        answer: ok(json!({ "total": insert.rows.len(), "task_data_ids": ids })),
        task_id: insert.task_id,
    }
}

pub(crate) async fn insert(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Load, None, None);
    let body = match authorized_body(&emu, &incoming) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let insert = match validate_insert(&body) {
        Ok(insert) => insert,
        Err(e) => return invalid(&e),
    };
    emu.note_task(incoming.seq, FaultOp::Load, &insert.task_id);
    step(
        &emu,
        &conn,
        incoming.seq,
        FaultOp::Load,
        &XfyetaAnswers,
        |tasks| {
            check_insert(tasks, &insert)?;
            let task = tasks.of(Vendor::Xfyeta, &insert.task_id);
            let (name, batch) = task.map_or((String::new(), 0), |t| {
                (t.name.clone(), t.callees.calls - t.callees.refused - 1)
            });
            Ok(Ready {
                name,
                task_id: Some(insert.task_id.clone()),
                batch,
                commit: Box::new(move |tasks: &mut Tasks| store_insert(tasks, insert)),
            })
        },
    )
    .await
}

/// The routes, for `Vendor::emulator_routes`.
pub(crate) fn routes() -> Vec<Route> {
    let at = |route: &str| -> &'static str {
        match route {
            "create" => "/openapi/outbound/v1/task/create",
            "insert" => "/openapi/outbound/v1/task/insert",
            "start" => "/openapi/outbound/v1/task/start",
            "query" => "/openapi/outbound/v1/task/query",
            "pause" => "/openapi/outbound/v1/task/pause",
            _ => "/openapi/outbound/v1/task/delete",
        }
    };
    vec![
        Route::Post(at("create"), Box::new(post(create))),
        Route::Post(at("insert"), Box::new(post(insert))),
        Route::Post(at("start"), Box::new(post(start))),
        Route::Post(at("query"), Box::new(post(query))),
        Route::Post(at("pause"), Box::new(post(pause))),
        Route::Post(at("delete"), Box::new(post(delete))),
    ]
}

/// The read rate held to with `ReadQps::Documented`. **\[choice\]**: the pages give none;
/// callform's one choice for it, 20 a second per account, which the driver paces at too
/// (a test holds the two equal).
pub(crate) const READ_QPS: u32 = 20;

/// `task/query`'s `status` for each emulator state: **the one table**. The page's
/// enumeration (XL:89-98) has 0 新建, 1 启动, 2 运行, 3 手动暂停, 4 完成, 5 等待下轮重试,
/// 6 不在工作时段, 7 过期. [choice] a scheduled task (no xfyeta verb makes one; kept for
/// the console) is 1 启动; a stopped one (xfyeta has no stop, only the console does it)
/// is 7 过期, the one other state a task cannot leave; a deleted task keeps the status it
/// had, with `deleted: 1` [inferred from the `deleted` field].
pub(crate) fn status(run: Run, before_delete: Option<Run>) -> i64 {
    match run {
        Run::NotStarted => 0,
        Run::Scheduled => 1,
        Run::Running => 2,
        Run::Paused => 3,
        Run::Finished => 4,
        Run::Stopped => 7,
        Run::Deleted => match before_delete {
            Some(before) if before != Run::Deleted => status(before, None),
            _ => 0,
        },
    }
}

/// Finished (XL:47, the page's code).
const FINISHED: i64 = 3_010_101;
/// Deleted (XL:46, the page's code).
const DELETED: i64 = 3_010_102;
/// Stopped (status 7). **Invented**.
const EXPIRED: i64 = 3_010_103;
/// A pause of a task never started. **Invented**.
const NOT_STARTED: i64 = 3_010_104;

/// The refusal of any request for a task that is over, by its state; `None` while it
/// is not.
fn over(run: Run) -> Option<Response> {
    match run {
        Run::Finished => Some(refused(FINISHED, "任务已经完成")),
        Run::Deleted => Some(refused(DELETED, "任务已经删除")),
        Run::Stopped => Some(refused(EXPIRED, "任务已过期")),
        _ => None,
    }
}

/// What `task/start` does to a task in `run`: [`Move::To`] running (a start or a resume),
/// [`Move::Stay`] for a task that runs already (success, nothing changes — [choice]: the
/// page does not say), or the refusal.
fn start_move(run: Run) -> Result<Move, Response> {
    if let Some(refusal) = over(run) {
        return Err(refusal);
    }
    Ok(match run {
        Run::Running | Run::Scheduled => Move::Stay,
        _ => Move::To(Run::Running),
    })
}

/// What `task/pause` does: running or scheduled to paused; a paused task stays
/// ([choice]); a task never started is refused (**invented** code).
fn pause_move(run: Run) -> Result<Move, Response> {
    if let Some(refusal) = over(run) {
        return Err(refusal);
    }
    match run {
        Run::Running | Run::Scheduled => Ok(Move::To(Run::Paused)),
        Run::Paused => Ok(Move::Stay),
        _ => Err(refused(NOT_STARTED, "任务未启动，不能暂停")),
    }
}

/// What `task/delete` does: force-stops and deletes any task not deleted (XL:117).
fn delete_move(run: Run) -> Result<Move, Response> {
    match run {
        Run::Deleted => Err(refused(DELETED, "任务已经删除")),
        _ => Ok(Move::To(Run::Deleted)),
    }
}

/// A verb's effect.
#[derive(Debug, PartialEq, Eq)]
enum Move {
    To(Run),
    Stay,
}

/// The body of `task/start`, `task/pause`, `task/delete`: `{task_id}`.
fn task_id_of(body: &Value) -> Checked<String> {
    let obj = Obj::body(body)?;
    obj.allow_only(&["task_id"])?;
    obj.req_text("task_id").map(str::to_string)
}

/// One verb: `decide` gives the move for the task's state; `verb` names it in the
/// task's `verbs` count.
async fn verb(
    emu: &Emulator,
    conn: &ConnHandle,
    incoming: Incoming,
    op: FaultOp,
    verb: &'static str,
    decide: fn(Run) -> Result<Move, Response>,
) -> Response {
    let body = match authorized_body(emu, &incoming) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let task_id = match task_id_of(&body) {
        Ok(id) => id,
        Err(e) => return invalid(&e),
    };
    // A start of a task started before is a resume, for fault rules and the log.
    let op = match (op, locked(&emu.tasks).read(Vendor::Xfyeta, &task_id)) {
        (FaultOp::Start, Some(t)) if t.was_started() => FaultOp::Resume,
        (op, _) => op,
    };
    emu.note_task(incoming.seq, op, &task_id);
    step(emu, conn, incoming.seq, op, &XfyetaAnswers, |tasks| {
        let Some(task) = tasks.of(Vendor::Xfyeta, &task_id) else {
            return Err(refused(200_202, "错误的任务id"));
        };
        let moved = decide(task.run)?;
        Ok(Ready {
            name: task.name.clone(),
            task_id: Some(task_id.clone()),
            batch: 0,
            commit: Box::new(move |tasks: &mut Tasks| {
                if let Some(task) = tasks.of(Vendor::Xfyeta, &task_id) {
                    task.count_verb(verb);
                    match moved {
                        Move::To(Run::Running) => task.start(None),
                        Move::To(Run::Paused) => task.pause(),
                        Move::To(run) => task.end(run),
                        Move::Stay => {}
                    }
                }
                Done {
                    task_id,
                    answer: ok(json!({})),
                }
            }),
        })
    })
    .await
}

pub(crate) async fn start(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Start, None, None);
    verb(&emu, &conn, incoming, FaultOp::Start, "start", start_move).await
}

pub(crate) async fn pause(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Pause, None, None);
    verb(&emu, &conn, incoming, FaultOp::Pause, "pause", pause_move).await
}

pub(crate) async fn delete(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Delete, None, None);
    verb(
        &emu,
        &conn,
        incoming,
        FaultOp::Delete,
        "delete",
        delete_move,
    )
    .await
}

const QUERY_PARAMS: [&str; 10] = [
    "task_id",
    "time_begin",
    "time_end",
    "task_name",
    "task_status_list",
    "page_size",
    "page_index",
    "sort_name",
    "sort_order",
    "show_remaining",
];

/// A `task/query` body whose fields are valid (XL:72-84).
#[derive(Debug, PartialEq)]
pub(crate) struct Query {
    pub task_id: Option<String>,
    pub name: Option<String>,
    pub statuses: Option<Vec<i64>>,
    /// Creation time window, milliseconds ([choice]: the page does not say which time
    /// `time_begin`/`time_end` filter on; the emulator takes the creation time).
    pub window: (Option<i64>, Option<i64>),
    pub page_size: usize,
    pub page_index: usize,
    pub sort: (&'static str, bool),
    pub show_remaining: bool,
}

pub(crate) fn validate_query(body: &Value) -> Checked<Query> {
    let obj = Obj::body(body)?;
    obj.allow_only(&QUERY_PARAMS)?;
    let statuses = match obj.opt_array("task_status_list")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let path = format!("task_status_list[{i}]");
                    crate::emulator::params::integer(v, &path)
                        .and_then(|n| crate::emulator::params::in_range(n, 0, 7, &path))
                })
                .collect::<Checked<Vec<i64>>>()?,
        ),
    };
    let sort_name = match obj.opt_str("sort_name")? {
        None | Some("ID") => "ID",
        Some("NAME") => "NAME",
        Some("CREATETIME") => "CREATETIME",
        Some("STARTTIME") => "STARTTIME",
        Some("ENDTIME") => "ENDTIME",
        Some(other) => {
            return Err(ParamError::invalid(
                "sort_name",
                format!("must be ID, NAME, CREATETIME, STARTTIME or ENDTIME, got {other:?}"),
            ))
        }
    };
    let descending = match obj.opt_str("sort_order")? {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(ParamError::invalid(
                "sort_order",
                format!("must be ASC or DESC, got {other:?}"),
            ))
        }
    };
    Ok(Query {
        task_id: obj.opt_text("task_id")?.map(str::to_string),
        name: obj.opt_str("task_name")?.map(str::to_string),
        statuses,
        window: (millis(&obj, "time_begin")?, millis(&obj, "time_end")?),
        page_size: obj.opt_int_in("page_size", 1, 50)?.unwrap_or(20) as usize,
        page_index: obj.opt_int_in("page_index", 1, i64::MAX)?.unwrap_or(1) as usize,
        sort: (sort_name, descending),
        show_remaining: obj.opt_bool("show_remaining")?.unwrap_or(false),
    })
}

fn ms(rfc3339: Option<&str>) -> Option<i64> {
    rfc3339
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
}

/// One `rows[]` item (XL:86-88): identity and state, times (ms), progress and settings.
/// Progress [choice]: `count_tel` the numbers the task holds, `process_count` and
/// `process_tel_count` those called, `remaining` the rest (with `show_remaining`).
pub(crate) fn row(task: &TaskRecord, show_remaining: bool) -> Value {
    let s = &task.settings;
    let time_range = s["time_range"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let mut row = json!({
        "task_id": task.task_id,
        "task_name": task.name,
        "status": status(task.run, task.before_delete),
        "task_type": 0,
        "deleted": i64::from(task.run == Run::Deleted),
        "time_task_start": ms(task.started_at.as_deref()),
        "time_task_finish": ms(task.ended_at.as_deref()),
        "time_task_estimate_begin": s.get("time_begin").cloned().unwrap_or(Value::Null),
        "time_task_estimate_end": s.get("time_end").cloned().unwrap_or(Value::Null),
        "process_count": task.called,
        "process_tel_count": task.called,
        "process_through_count": 0,
        "process_through_rate": 0.0,
        "count_tel": task.callees.count(),
        "count_recalled": 0,
        "line_num": s.get("line_num").cloned().unwrap_or(Value::Null),
        "robot_id": s.get("robot_id").cloned().unwrap_or(Value::Null),
        "voice_code": s.get("voice_code").cloned().unwrap_or(Value::Null),
        "count_max_recall": s.get("recall_count").cloned().unwrap_or(json!(0)),
        "time_recall_wait": s.get("time_recall_wait").cloned().unwrap_or(json!(0)),
        "time_range": time_range,
    });
    if show_remaining {
        row["remaining"] = json!(task.remaining());
    }
    row
}

/// The `result` of a query: `{total_rows, rows}`, rows filtered, sorted and paged.
/// `task_name` matches any task whose name contains it (the page's 模糊检索; [choice]:
/// a plain substring, case-sensitive). Deleted tasks stay listed with `deleted: 1`.
/// An unknown `task_id` gives no rows ([choice]: it is a filter like the others).
pub(crate) fn query_result(tasks: &Tasks, q: &Query) -> Value {
    let mut found: Vec<&TaskRecord> = tasks
        .of_vendor(Vendor::Xfyeta)
        .filter(|t| q.task_id.as_ref().is_none_or(|id| &t.task_id == id))
        .filter(|t| q.name.as_ref().is_none_or(|n| t.name.contains(n.as_str())))
        .filter(|t| {
            q.statuses
                .as_ref()
                .is_none_or(|s| s.contains(&status(t.run, t.before_delete)))
        })
        .filter(|t| {
            let created = t.created_at.as_millisecond();
            q.window.0.is_none_or(|b| created >= b) && q.window.1.is_none_or(|e| created <= e)
        })
        .collect();
    match q.sort.0 {
        "NAME" => found.sort_by(|a, b| a.name.cmp(&b.name)),
        "STARTTIME" => found.sort_by_key(|t| ms(t.started_at.as_deref())),
        "ENDTIME" => found.sort_by_key(|t| ms(t.ended_at.as_deref())),
        _ => {} // ID and CREATETIME: creation order
    }
    if q.sort.1 {
        found.reverse();
    }
    let total = found.len();
    let rows: Vec<Value> = found
        .into_iter()
        .skip((q.page_index - 1).saturating_mul(q.page_size))
        .take(q.page_size)
        .map(|t| row(t, q.show_remaining))
        .collect();
    json!({ "total_rows": total, "rows": rows })
}

pub(crate) async fn query(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    emu.note(incoming.seq, FaultOp::Find, None, None);
    let body = match authorized_body(&emu, &incoming) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let q = match validate_query(&body) {
        Ok(q) => q,
        Err(e) => return invalid(&e),
    };
    let op = if let Some(id) = &q.task_id {
        emu.note_task(incoming.seq, FaultOp::Query, id);
        FaultOp::Query
    } else {
        emu.note(incoming.seq, FaultOp::Find, None, q.name.as_deref());
        FaultOp::Find
    };
    let looked = |tasks: &Tasks| {
        let name = match &q.task_id {
            Some(id) => tasks
                .read(Vendor::Xfyeta, id)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            None => q.name.clone().unwrap_or_default(),
        };
        Ok((name, q.task_id.clone().unwrap_or_default()))
    };
    let q = &q;
    read(
        &emu,
        &conn,
        incoming.seq,
        op,
        (Vendor::Xfyeta, READ_QPS),
        &XfyetaAnswers,
        looked,
        move |tasks: &Tasks| ok(query_result(tasks, q)),
    )
    .await
}

/// Checks a task/create body; returns the task name.
pub(crate) fn validate(body: &Value) -> Checked<String> {
    let obj = Obj::body(body)?;
    obj.allow_only(&PARAMS)?;
    let name = obj.req_text("task_name")?;

    let line_num = obj.req_str("line_num")?;
    if line_num.contains('；') {
        return Err(ParamError::invalid(
            "line_num",
            "separates numbers with a full-width '；': use ';'",
        ));
    }
    for (i, line) in line_num.split(';').enumerate() {
        if line.is_empty() || line.len() > 20 || !line.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParamError::invalid(
                "line_num",
                format!("item {i} ({line:?}) is not a line number: expected digits joined by ';'"),
            ));
        }
    }

    obj.req_text("robot_id")?;
    obj.opt_int_in("recall_count", 0, 3)?;
    obj.opt_int_in("time_recall_wait", 0, i64::MAX)?;

    let ranges = obj.req_array("time_range")?;
    if ranges.is_empty() {
        return Err(ParamError::invalid(
            "time_range",
            "must hold at least one window",
        ));
    }
    let mut windows = Vec::with_capacity(ranges.len());
    for (i, item) in ranges.iter().enumerate() {
        let path = format!("time_range[{i}]");
        let text = string(item, &path)?;
        windows.push(window(text, &path, "HH:MM:SS-HH:MM:SS", clock_hms)?);
    }
    windows.sort_unstable();
    if windows.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(ParamError::invalid("time_range", "has overlapping windows"));
    }

    let begin = millis(&obj, "time_begin")?.ok_or_else(|| ParamError::missing("time_begin"))?;
    if let Some(end) = millis(&obj, "time_end")? {
        if end <= begin {
            return Err(ParamError::invalid("time_end", "must be after time_begin"));
        }
    }
    obj.opt_str("voice_code")?;
    obj.opt_bool("trubo_mode")?;
    Ok(name.to_string())
}

/// A 13-digit millisecond timestamp: seconds (10 digits) would land in 1970.
fn millis(obj: &Obj<'_>, key: &str) -> Checked<Option<i64>> {
    let Some(ms) = obj.opt_int(key)? else {
        return Ok(None);
    };
    if !(1_000_000_000_000..10_000_000_000_000).contains(&ms) {
        return Err(ParamError::invalid(
            key,
            format!("must be a 13-digit millisecond timestamp, got {ms}"),
        ));
    }
    Ok(Some(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid body that must make it invalid.
    type Change = Box<dyn FnOnce(&mut Value)>;

    fn valid() -> Value {
        json!({
            "task_name": "测试外呼",
            "line_num": "055169101407;055169101408",
            "robot_id": "11",
            "recall_count": 1,
            "time_recall_wait": 600,
            "time_range": ["09:00:00-12:00:00", "13:00:00-17:30:00"],
            "time_begin": 1527321492000_i64,
            "time_end": 1527325092000_i64,
            "voice_code": "xiaoyan",
            "trubo_mode": false
        })
    }

    fn refused(change: impl FnOnce(&mut Value)) -> ParamError {
        let mut body = valid();
        change(&mut body);
        validate(&body).expect_err("should be refused")
    }

    #[test]
    fn the_page_example_passes() {
        assert_eq!(validate(&valid()).unwrap(), "测试外呼");
    }

    #[test]
    fn wire_mistakes_are_refused_with_the_parameter_named() {
        let cases: Vec<(&str, Change)> = vec![
            (
                "turbo_mode",
                Box::new(|b| {
                    b["turbo_mode"] = json!(true);
                }),
            ),
            (
                "line_num",
                Box::new(|b| b["line_num"] = json!(["055169101407"])),
            ),
            (
                "line_num",
                Box::new(|b| b["line_num"] = json!("055169101407；055169101408")),
            ),
            (
                "line_num",
                Box::new(|b| b["line_num"] = json!("055169101407;")),
            ),
            ("robot_id", Box::new(|b| b["robot_id"] = json!(11))),
            (
                "time_begin",
                Box::new(|b| b["time_begin"] = json!(1527321492)),
            ),
            (
                "time_begin",
                Box::new(|b| b["time_begin"] = json!("1527321492000")),
            ),
            (
                "time_end",
                Box::new(|b| b["time_end"] = json!(1527321492000_i64)),
            ),
            ("recall_count", Box::new(|b| b["recall_count"] = json!(4))),
            (
                "time_recall_wait",
                Box::new(|b| b["time_recall_wait"] = json!(-1)),
            ),
            (
                "time_range[0]",
                Box::new(|b| b["time_range"] = json!(["09:00-12:00"])),
            ),
            (
                "time_range[1]",
                Box::new(|b| b["time_range"] = json!(["09:00:00-12:00:00", "13:00:00-12:30:00"])),
            ),
            (
                "time_range",
                Box::new(|b| b["time_range"] = json!(["09:00:00-12:00:00", "11:00:00-13:00:00"])),
            ),
            ("time_range", Box::new(|b| b["time_range"] = json!([]))),
            ("trubo_mode", Box::new(|b| b["trubo_mode"] = json!("true"))),
            (
                "task_name",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("task_name");
                }),
            ),
            (
                "time_begin",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("time_begin");
                }),
            ),
        ];
        for (param, change) in cases {
            assert_eq!(refused(change).param, param);
        }
    }

    #[test]
    fn misspelt_turbo_points_at_the_vendor_spelling() {
        let err = refused(|b| b["turbo_mode"] = json!(true));
        assert!(err.reason.contains("did you mean trubo_mode?"), "{err}");
    }

    #[test]
    fn insert_bodies_are_shape_checked() {
        let ok = validate_insert(&json!({
            "task_id": "129",
            "call_column": ["客户手机号码", "列2"],
            "call_list": [["13000000001", "t2"]]
        }))
        .unwrap();
        assert_eq!((ok.task_id.as_str(), ok.rows.len()), ("129", 1));
        let refused = |body: Value| validate_insert(&body).unwrap_err().param;
        assert_eq!(
            refused(json!({"task_id": 129, "call_column": ["p"], "call_list": [["1"]]})),
            "task_id"
        );
        assert_eq!(
            refused(json!({"task_id": "1", "call_column": [], "call_list": [["1"]]})),
            "call_column"
        );
        assert_eq!(
            refused(json!({"task_id": "1", "call_column": ["p"], "call_list": []})),
            "call_list"
        );
        assert_eq!(
            refused(
                json!({"task_id": "1", "call_column": ["p"], "call_list": [[13000000001_i64]]})
            ),
            "call_list[0][0]"
        );
        assert_eq!(
            refused(json!({"task_id": "1", "call_column": ["p"], "call_list": [["1"]], "x": 1})),
            "x"
        );
    }

    #[test]
    fn the_first_insert_fixes_call_column() {
        let vars = ["列2".to_string()];
        let sent = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(columns_match(None, &[], &sent(&["anything"])));
        assert!(columns_match(Some("号码"), &vars, &sent(&["号码", "列2"])));
        assert!(!columns_match(Some("号码"), &vars, &sent(&["号码"])));
        assert!(!columns_match(Some("号码"), &vars, &sent(&["手机", "列2"])));
        assert!(!columns_match(Some("号码"), &vars, &sent(&[])));
    }

    fn task(tasks: &mut Tasks, name: &str) -> String {
        let request = RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: Vec::new(),
            content_type: None,
            body: Some(valid()),
        };
        tasks.create(Vendor::Xfyeta, name.into(), request)
    }

    #[test]
    fn the_state_machine_is_the_pages() {
        assert_eq!(start_move(Run::NotStarted).unwrap(), Move::To(Run::Running));
        assert_eq!(start_move(Run::Paused).unwrap(), Move::To(Run::Running));
        assert_eq!(start_move(Run::Running).unwrap(), Move::Stay);
        assert_eq!(pause_move(Run::Running).unwrap(), Move::To(Run::Paused));
        assert_eq!(pause_move(Run::Paused).unwrap(), Move::Stay);
        assert!(pause_move(Run::NotStarted).is_err());
        assert_eq!(delete_move(Run::Running).unwrap(), Move::To(Run::Deleted));
        for over in [Run::Finished, Run::Stopped, Run::Deleted] {
            assert!(start_move(over).is_err() && pause_move(over).is_err());
        }
        assert!(delete_move(Run::Deleted).is_err());
        let statuses: Vec<i64> = [
            Run::NotStarted,
            Run::Scheduled,
            Run::Running,
            Run::Paused,
            Run::Finished,
            Run::Stopped,
        ]
        .into_iter()
        .map(|r| status(r, None))
        .collect();
        assert_eq!(statuses, [0, 1, 2, 3, 4, 7]);
        assert_eq!(status(Run::Deleted, Some(Run::Paused)), 3);
    }

    #[test]
    fn a_query_filters_fuzzily_pages_and_shows_the_row_fields() {
        let mut tasks = Tasks::default();
        let a = task(&mut tasks, "spring-notice");
        task(&mut tasks, "autumn-notice");
        task(&mut tasks, "spring-survey");
        let q = |body: Value| validate_query(&body).unwrap();
        let result = query_result(&tasks, &q(json!({"task_name": "spring"})));
        assert_eq!(result["total_rows"], 2);
        let result = query_result(
            &tasks,
            &q(json!({"task_name": "notice", "page_size": 1, "page_index": 2})),
        );
        assert_eq!(result["total_rows"], 2);
        assert_eq!(result["rows"][0]["task_name"], "autumn-notice");
        let result = query_result(
            &tasks,
            &q(json!({"sort_name": "NAME", "sort_order": "DESC"})),
        );
        assert_eq!(result["rows"][0]["task_name"], "spring-survey");
        let row = &query_result(&tasks, &q(json!({"task_id": a})))["rows"][0];
        for field in [
            "task_id",
            "status",
            "deleted",
            "process_count",
            "count_tel",
            "line_num",
            "time_range",
        ] {
            assert!(row.get(field).is_some(), "{field}");
        }
        assert_eq!(row["time_range"], "09:00:00-12:00:00,13:00:00-17:30:00");
        assert!(row.get("remaining").is_none(), "only with show_remaining");
        assert_eq!(
            query_result(&tasks, &q(json!({"task_status_list": [2]})))["total_rows"],
            0
        );
        assert!(validate_query(&json!({"page_size": 51})).is_err());
        assert!(validate_query(&json!({"sort_order": "down"})).is_err());
        assert!(validate_query(&json!({"task_status_list": [8]})).is_err());
        assert!(validate_query(&json!({"taskname": "x"})).is_err());
    }
}
