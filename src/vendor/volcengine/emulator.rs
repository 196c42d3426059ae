//! Volcengine vms `POST /?Action=X&Version=2022-01-01` with a JSON body, signed with
//! HMAC-SHA256 for service `vms`. Beyond the two actions below
//! (volcengine-vms-task-lifecycle.md §4.2-4.7): `QueryTaskList`, `PauseTask`,
//! `ResumeTask`, `StopTask` (`TaskOpenId` in the query, a form or a JSON body:
//! [`verb_task_id`]) and `UpdateTask`; states in [`state`], moves in [`moves`]. The two:
//!
//! - `CreateTask` (vendor-docs/volcengine-vms-create-task.md): its `PhoneList` (1 to
//!   10,000) are the task's first callees, and `Start: true` starts it at once
//!   ("任务是否自动开始"); otherwise it stays paused.
//! - `BatchAppend` (volcengine-vms-task-lifecycle.md §4.1): `{TaskOpenId, PhoneList}`,
//!   1 to 10,000 items ("单次最多1w条"), accepted whether the task runs or not (nothing
//!   says otherwise).
//!
//! Success: `{"ResponseMetadata":{RequestId,Action,Version,Service,Region},
//! "Result":{"TaskOpenId":"…","FailList":[…]}}`, the region echoed from the request's
//! credential scope (any region is accepted). `FailList` items are
//! `{"Index":i,"Phone":"…","Type":"REDUPLICATED_ITEM","Desc":"重复项目"}` (VL:49):
//! CreateTask reports every repeated number of its `PhoneList` after its first
//! occurrence and stores it once [the Go SDK's `TaskAppendResult`; kept whatever
//! `Unique` says]; BatchAppend reports a number the task holds, or one repeated in the
//! call, only when the task was created with `Unique: true` ("是否开启号码去重", VC) and
//! then stores it not again — with `Unique` false or absent (the page's default: no
//! de-duplication) the repeat is stored again. Every repeat counts as a duplicate.
//!
//! Errors: `ResponseMetadata.Error{Code, CodeN?, Message}`, codes from the vendor's
//! public error table and this API's page:
//!
//! | Code | HTTP | when |
//! |------|------|------|
//! | `MissingParameter` | 400 | Action/Version or a required body field absent |
//! | `InvalidActionOrVersion` | 404 | not CreateTask or BatchAppend 2022-01-01 over POST |
//! | `MissingAuthenticationToken`, `InvalidAuthorization`, `MissingRequestInfo` | 401/400 | no or malformed Authorization |
//! | `InvalidAccessKey` | 401 | unknown access key |
//! | `ServiceNotFound` | 404 | scope service is not `vms` |
//! | `InvalidTimestamp` | 400 | bad `X-Date`, or more than 15 min off |
//! | `SignatureDoesNotMatch` | 401 | wrong signature, or body ≠ `X-Content-Sha256` |
//! | `InvalidParameter` | 400 | invalid or unknown field (the message names it); BatchAppend's `TaskOpenId` of no task of the account [inferred] |
//! | `SelectNumberOverLimit` | 400 | `NumberList` over 1,000 |
//! | `RequestLimitExceeded` | 429 | throttle fault |
//! | `QuotaExceeded` | 400 | business error fault: too many running tasks (the account limit of 50) |
//! | `InternalError` | 500 | 5xx fault |
//!
//! Integers must be JSON integers: the page's example sends some as strings, callform
//! does not (limits.md), and the emulator refuses them so a driver cannot drift back.
//! `ForbidTimeList.Times` are plain `HH:MM-HH:MM` strings and `Weekdays` 1–7 (1 = Sunday),
//! again not the example's JSON-inside-a-string or 0.

// A refusal is the vendor's answer itself, built once and sent as is: boxing it would
// buy nothing, and axum handlers take `Result<_, Response>` as their idiom.
#![allow(clippy::result_large_err)]
use crate::emulator::conn::ConnHandle;
use crate::emulator::params::{
    clock_hm, date_time, header, integer, is_https_url, is_mainland_number, json_body, query_pairs,
    string, window, Checked, Obj, ParamError, Problem, DATE_TIME,
};
use crate::emulator::server::{Emulator, Incoming};
use crate::emulator::step::{read, step, Answers, Done, NewTask, Ready};
use crate::emulator::tasks::{RecordedRequest, Run, TaskRecord, Tasks, Vendor};
use crate::emulator::verify::{self, SignedRequest};
use crate::emulator::FaultOp;
use crate::sign;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

const CREATE: &str = "CreateTask";
const APPEND: &str = "BatchAppend";
/// Items a `PhoneList` holds, in a create or an append ("单次最多1w条").
const PHONE_LIST_MAX: usize = 10_000;
const VERSION: &str = "2022-01-01";
/// The region reported before the request's own is known (the vendor SDK's default).
const DEFAULT_REGION: &str = "cn-north-1";
const PARAMS: [&str; 21] = [
    "Name",
    "Resource",
    "NumberPoolNo",
    "StartTime",
    "EndTime",
    "Concurrency",
    "Start",
    "PhoneList",
    "Type",
    "SmsConfig",
    "ForbidTimeList",
    "NumberList",
    "MaxRingDuration",
    "RingAgainTimes",
    "RingAgainInterval",
    "FinishWhenListEnd",
    "Unique",
    "SelectNumberType",
    "SelectNumberRule",
    "CallRecordPostUrl",
    "AudioPostUrl",
];
const PHONE_FIELDS: [&str; 5] = [
    "Phone",
    "PhoneParamJson",
    "SmsParamJson",
    "TtsContent",
    "Ext",
];

struct VolcengineAnswers {
    request_id: String,
    region: String,
    /// The action answered (`CreateTask` until the request names a known one).
    action: &'static str,
}

impl VolcengineAnswers {
    fn metadata(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("RequestId".into(), json!(self.request_id));
        meta.insert("Action".into(), json!(self.action));
        meta.insert("Version".into(), json!(VERSION));
        meta.insert("Service".into(), json!("vms"));
        meta.insert("Region".into(), json!(self.region));
        meta
    }

    fn error(
        &self,
        status: StatusCode,
        code: &str,
        code_n: Option<u32>,
        message: &str,
    ) -> Response {
        let mut error = Map::new();
        error.insert("Code".into(), json!(code));
        if let Some(n) = code_n {
            error.insert("CodeN".into(), json!(n));
        }
        error.insert("Message".into(), json!(message));
        let mut meta = self.metadata();
        meta.insert("Error".into(), Value::Object(error));
        (status, Json(json!({ "ResponseMetadata": meta }))).into_response()
    }

    fn invalid(&self, e: &ParamError) -> Response {
        match e.problem {
            Problem::Missing => self.error(
                StatusCode::BAD_REQUEST,
                "MissingParameter",
                None,
                &format!("The required parameter {} is missing.", e.param),
            ),
            Problem::Invalid | Problem::Unknown => self.error(
                StatusCode::BAD_REQUEST,
                e.code.unwrap_or("InvalidParameter"),
                None,
                &format!(
                    "The specified parameter {} is invalid: {}.",
                    e.param, e.reason
                ),
            ),
        }
    }
}

impl VolcengineAnswers {
    fn result(&self, task_id: &str, fail_list: &[Value]) -> Response {
        Json(json!({
            "ResponseMetadata": self.metadata(),
            "Result": { "TaskOpenId": task_id, "FailList": fail_list }
        }))
        .into_response()
    }
}

impl Answers for VolcengineAnswers {
    fn throttled(&self) -> Response {
        self.error(
            StatusCode::TOO_MANY_REQUESTS,
            "RequestLimitExceeded",
            None,
            "The request has exceeded the request limit, please try again later.",
        )
    }
    fn server_error(&self) -> Response {
        self.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            Some(100014),
            "Service has some internal Error. Pls Contact With Admin.",
        )
    }
    fn business_error(&self) -> Response {
        self.error(
            StatusCode::BAD_REQUEST,
            "QuotaExceeded",
            None,
            "RunningTask has exceeded the quota.",
        )
    }
}

/// The region of the credential scope, if the Authorization has one, so that even
/// early errors echo the caller's region.
fn claimed_region(headers: &HeaderMap) -> Option<String> {
    let auth = header(headers, "authorization").ok().flatten()?;
    let parsed = sign::parse_authorization(auth).ok()?;
    parsed.credential.split('/').nth(2).map(str::to_string)
}

pub(crate) async fn handle(emu: &Emulator, conn: &ConnHandle, incoming: Incoming) -> Response {
    let mut answers = VolcengineAnswers {
        request_id: request_id(),
        region: claimed_region(&incoming.headers).unwrap_or_else(|| DEFAULT_REGION.to_string()),
        action: CREATE,
    };
    let query = match query_pairs(incoming.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(reason) => return answers.invalid(&ParamError::invalid("query", reason)),
    };
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    for name in ["Action", "Version"] {
        if get(name).is_none() {
            return answers.error(
                StatusCode::BAD_REQUEST,
                "MissingParameter",
                Some(100002),
                &format!("The request is missing {name} parameter."),
            );
        }
    }
    let op = ACTIONS
        .iter()
        .find(|(name, _)| Some(*name) == get("Action"))
        .copied();
    let op = match op {
        Some(op) if get("Version") == Some(VERSION) && incoming.method == Method::POST => op,
        _ => {
            return answers.error(
                StatusCode::NOT_FOUND,
                "InvalidActionOrVersion",
                Some(100008),
                &format!(
                    "Could not find operation {} for version {} over {} (the emulator serves POST {} {VERSION}).",
                    get("Action").unwrap_or_default(),
                    get("Version").unwrap_or_default(),
                    incoming.method,
                    ACTIONS.map(|(name, _)| name).join(", ")
                ),
            )
        }
    };
    answers.action = op.0;
    emu.note(incoming.seq, op.1, None, None);
    let verb = matches!(op.1, FaultOp::Pause | FaultOp::Resume | FaultOp::Stop);
    let known: &[&str] = if verb {
        &["Action", "Version", "TaskOpenId"]
    } else {
        &["Action", "Version"]
    };
    if let Some((name, _)) = query.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return answers.invalid(&ParamError::unknown(format!("query.{name}"), known));
    }
    if let Some(i) = (1..query.len()).find(|&i| query[..i].iter().any(|(k, _)| *k == query[i].0)) {
        return answers.invalid(&ParamError::invalid(
            format!("query.{}", query[i].0),
            "is given more than once",
        ));
    }
    let request = SignedRequest {
        method: incoming.method.as_str(),
        path: incoming.uri.path(),
        query: &query,
        headers: &incoming.headers,
        body: &incoming.body,
    };
    match verify::volcengine(&request, &emu.credentials, Timestamp::now()) {
        Ok(region) => answers.region = region,
        Err(e) => return answers.error(e.status, e.code, e.code_n, &e.message),
    }
    if verb {
        let task_id = match verb_task_id(&query, &incoming.headers, &incoming.body) {
            Ok(id) => id,
            Err(e) => return answers.invalid(&e),
        };
        return apply_verb(emu, conn, incoming.seq, op.1, task_id, None, &answers).await;
    }
    let body = match json_body(&incoming.headers, &incoming.body) {
        Ok(v) => v,
        Err(e) => return answers.invalid(&e),
    };
    if op.1 == FaultOp::Find {
        return list(emu, conn, incoming.seq, &body, &answers).await;
    }
    if op.1 == FaultOp::Update {
        let update = match validate_update(&body) {
            Ok(update) => update,
            Err(e) => return answers.invalid(&e),
        };
        let task_id = update.0.clone();
        return apply_verb(
            emu,
            conn,
            incoming.seq,
            op.1,
            task_id,
            Some(update.1),
            &answers,
        )
        .await;
    }
    if op.1 == FaultOp::Load {
        return append(emu, conn, incoming.seq, &body, &answers).await;
    }
    let valid = match validate(&body) {
        Ok(valid) => valid,
        Err(e) => return answers.invalid(&e),
    };
    let Valid {
        name,
        fail_list,
        items,
        start,
    } = valid;
    let task = NewTask {
        vendor: Vendor::Volcengine,
        name,
        request: RecordedRequest {
            method: incoming.method.to_string(),
            path: incoming.uri.path().to_string(),
            query,
            content_type: header(&incoming.headers, "content-type")
                .ok()
                .flatten()
                .map(str::to_string),
            body: Some(body),
        },
    };
    let answers = &answers;
    let created = move |id: &str| answers.result(id, &fail_list);
    let then = move |tasks: &mut Tasks, id: &str| {
        if let Some(task) = tasks.of(Vendor::Volcengine, id) {
            let mut seen = HashSet::new();
            for item in &items {
                if seen.insert(item.phone.as_str()) {
                    task.callees
                        .add_columns(item.vars.keys().map(String::as_str));
                    task.callees.push(&item.phone, None, Some(&item.vars));
                } else {
                    task.callees.duplicates += 1;
                }
            }
            if start {
                task.start(None);
            }
        }
    };
    step(emu, conn, incoming.seq, FaultOp::Create, answers, |_| {
        Ok(task.ready(created, then))
    })
    .await
}

/// A `BatchAppend` body whose shape is valid.
#[derive(Debug)]
pub(crate) struct Append {
    pub task_id: String,
    pub items: Vec<PhoneItem>,
}

pub(crate) fn validate_append(body: &Value) -> Checked<Append> {
    let obj = Obj::body(body)?;
    obj.allow_only(&["TaskOpenId", "PhoneList"])?;
    let task_id = obj.req_text("TaskOpenId")?.to_string();
    let items = phone_items(&obj)?;
    Ok(Append { task_id, items })
}

async fn append(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    body: &Value,
    answers: &VolcengineAnswers,
) -> Response {
    let append = match validate_append(body) {
        Ok(append) => append,
        Err(e) => return answers.invalid(&e),
    };
    emu.note_task(seq, FaultOp::Load, &append.task_id);
    step(emu, conn, seq, FaultOp::Load, answers, |tasks| {
        let Some(task) = tasks.of(Vendor::Volcengine, &append.task_id) else {
            return Err(answers.invalid(&ParamError::invalid(
                "TaskOpenId",
                "is no task of this account",
            )));
        };
        task.callees.calls += 1;
        let unique = task.request.body.as_ref().and_then(|b| b.get("Unique")) == Some(&json!(true));
        let mut seen = HashSet::new();
        let mut fail_list = Vec::new();
        let mut keep = Vec::with_capacity(append.items.len());
        for (i, item) in append.items.iter().enumerate() {
            let repeat = task.callees.holds(&item.phone) || !seen.insert(item.phone.as_str());
            if repeat {
                task.callees.duplicates += 1;
            }
            if repeat && unique {
                fail_list.push(json!({ "Index": i, "Phone": item.phone, "Type": "REDUPLICATED_ITEM", "Desc": "重复项目" }));
            } else {
                keep.push(i);
            }
        }
        let batch = task.callees.calls - task.callees.refused - 1;
        Ok(Ready {
            name: task.name.clone(),
            task_id: Some(append.task_id.clone()),
            batch,
            commit: Box::new(move |tasks: &mut Tasks| {
                if let Some(task) = tasks.of(Vendor::Volcengine, &append.task_id) {
                    for &i in &keep {
                        let item = &append.items[i];
                        task.callees.add_columns(item.vars.keys().map(String::as_str));
                        task.callees.push(&item.phone, None, Some(&item.vars));
                    }
                }
                Done {
                    answer: answers.result(&append.task_id, &fail_list),
                    task_id: append.task_id,
                }
            }),
        })
    })
    .await
}

/// The actions served, with the operation fault rules name them by.
const ACTIONS: [(&str, FaultOp); 7] = [
    (CREATE, FaultOp::Create),
    (APPEND, FaultOp::Load),
    ("QueryTaskList", FaultOp::Find),
    ("PauseTask", FaultOp::Pause),
    ("ResumeTask", FaultOp::Resume),
    ("StopTask", FaultOp::Stop),
    ("UpdateTask", FaultOp::Update),
];

/// The read rate held to with `ReadQps::Documented`. **\[choice\]**: the pages give none;
/// callform's one choice for it, 20 a second per account, which the driver paces at too
/// (a test holds the two equal).
pub(crate) const READ_QPS: u32 = 20;

/// A verb or update in a state that does not take it. **Invented** (no page gives one).
const WRONG_STATE: &str = "InvalidTaskState";

/// `QueryTaskList`'s `State` for each emulator state: **the one table**. [choice]: the
/// integers' meaning is found nowhere (VL:72); the emulator says 0 not started, 1
/// running, 2 paused, 3 stopped (terminated), 4 finished, 5 waiting for its StartTime
/// (scheduled). A task deleted in the console is not listed (the API has no delete).
pub(crate) fn state(run: Run) -> i64 {
    match run {
        Run::NotStarted => 0,
        Run::Running => 1,
        Run::Paused => 2,
        Run::Stopped | Run::Deleted => 3,
        Run::Finished => 4,
        Run::Scheduled => 5,
    }
}

/// What a verb does to a task in `run`: the state it goes to (`None`: success, nothing
/// changes) or `Err` (refused with [`WRONG_STATE`]). `PauseTask` pauses a running task
/// (a paused one stays: [choice]); `ResumeTask` "让任务恢复执行" resumes a paused one and
/// [choice] starts one created with `Start: false` (the open point VL:105: no StartTask
/// exists); `StopTask` "终止任务" ends any task not over, for good; `UpdateTask` changes
/// any task not over. Nothing after a stop or a finish.
pub(crate) fn moves(op: FaultOp, run: Run) -> Result<Option<Run>, ()> {
    if run.is_over() {
        return Err(());
    }
    match (op, run) {
        (FaultOp::Pause, Run::Running | Run::Scheduled) => Ok(Some(Run::Paused)),
        (FaultOp::Pause, Run::Paused) => Ok(None),
        (FaultOp::Resume, Run::Paused | Run::NotStarted) => Ok(Some(Run::Running)),
        (FaultOp::Resume, Run::Running | Run::Scheduled) => Ok(None),
        (FaultOp::Stop, _) => Ok(Some(Run::Stopped)),
        (FaultOp::Update, _) => Ok(None),
        _ => Err(()),
    }
}

/// `TaskOpenId` of `PauseTask`, `ResumeTask`, `StopTask` from exactly one of the places
/// the pages show (VL:90-95): the query string with an empty body (the SDKs), a form
/// body `TaskOpenId=…` (`application/x-www-form-urlencoded`, the older pages) or a JSON
/// body `{"TaskOpenId": "…"}` (the newer page).
pub(crate) fn verb_task_id(
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Checked<String> {
    let in_query = query
        .iter()
        .find(|(k, _)| k == "TaskOpenId")
        .map(|(_, v)| v.clone());
    let content_type = header(headers, "content-type").ok().flatten();
    let in_body = if body.is_empty() {
        None
    } else if content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        let text =
            std::str::from_utf8(body).map_err(|_| ParamError::invalid("body", "is not UTF-8"))?;
        let pairs = query_pairs(text).map_err(|r| ParamError::invalid("body", r))?;
        if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "TaskOpenId") {
            return Err(ParamError::unknown(k.as_str(), &["TaskOpenId"]));
        }
        match &pairs[..] {
            [(_, v)] => Some(v.clone()),
            _ => return Err(ParamError::invalid("TaskOpenId", "is given once")),
        }
    } else {
        let value = json_body(headers, body)?;
        let obj = Obj::body(&value)?;
        obj.allow_only(&["TaskOpenId"])?;
        Some(obj.req_text("TaskOpenId")?.to_string())
    };
    match (in_query, in_body) {
        (Some(_), Some(_)) => Err(ParamError::invalid(
            "TaskOpenId",
            "is given both in the query and in the body: send it once",
        )),
        (None, None) => Err(ParamError::missing("TaskOpenId")),
        (Some(id), None) | (None, Some(id)) if id.trim().is_empty() => {
            Err(ParamError::invalid("TaskOpenId", "must not be empty"))
        }
        (Some(id), None) | (None, Some(id)) => Ok(id),
    }
}

const UPDATE_FIELDS: [&str; 8] = [
    "TaskOpenId",
    "StartTime",
    "EndTime",
    "Concurrency",
    "RingAgainTimes",
    "RingAgainInterval",
    "ForbidTimeList",
    "Recall",
];

/// Checks an `UpdateTask` body (VL:109-120) as the create checks the same fields; returns
/// the task id and the fields it changes (without `RingAgain*` when `Recall` is false).
pub(crate) fn validate_update(body: &Value) -> Checked<(String, Map<String, Value>)> {
    let obj = Obj::body(body)?;
    obj.allow_only(&UPDATE_FIELDS)?;
    let task_id = obj.req_text("TaskOpenId")?.to_string();
    let start = date_time(obj.req_str("StartTime")?, "StartTime", DATE_TIME)?;
    let end = date_time(obj.req_str("EndTime")?, "EndTime", DATE_TIME)?;
    if end <= start {
        return Err(ParamError::invalid("EndTime", "must be after StartTime"));
    }
    obj.req_int_in("Concurrency", 1, i64::MAX)?;
    obj.opt_int_in("RingAgainTimes", 0, 5)?;
    obj.opt_int_in("RingAgainInterval", 5, 1440)?;
    forbid_times(&obj)?;
    let recall = obj.opt_bool("Recall")?.unwrap_or(true);
    let mut changes = body.as_object().cloned().unwrap_or_default();
    changes.remove("TaskOpenId");
    changes.remove("Recall");
    if !recall {
        changes.remove("RingAgainTimes");
        changes.remove("RingAgainInterval");
    }
    Ok((task_id, changes))
}

/// Pause, resume, stop or update (`changes`) through the shared step. Success is
/// `ResponseMetadata` alone (VL:96), for an update with `Result{TaskOpenId, FailList:
/// []}` (the SDK's type).
async fn apply_verb(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    op: FaultOp,
    task_id: String,
    changes: Option<Map<String, Value>>,
    answers: &VolcengineAnswers,
) -> Response {
    emu.note_task(seq, op, &task_id);
    let name = match op {
        FaultOp::Pause => "pause",
        FaultOp::Resume => "resume",
        FaultOp::Stop => "stop",
        _ => "update",
    };
    step(emu, conn, seq, op, answers, |tasks| {
        let Some(task) = tasks
            .of(Vendor::Volcengine, &task_id)
            .filter(|t| t.run != Run::Deleted)
        else {
            return Err(answers.invalid(&ParamError::invalid(
                "TaskOpenId",
                "is no task of this account",
            )));
        };
        let Ok(next) = moves(op, task.run) else {
            return Err(answers.error(
                StatusCode::BAD_REQUEST,
                WRONG_STATE,
                None,
                &format!(
                    "The task is in State {} ({}): {} does not apply.",
                    state(task.run),
                    task.run.key(),
                    answers.action
                ),
            ));
        };
        Ok(Ready {
            name: task.name.clone(),
            task_id: Some(task_id.clone()),
            batch: 0,
            commit: Box::new(move |tasks: &mut Tasks| {
                if let Some(task) = tasks.of(Vendor::Volcengine, &task_id) {
                    task.count_verb(name);
                    match next {
                        Some(Run::Running) => task.start(None),
                        Some(Run::Paused) => task.pause(),
                        Some(run) => task.end(run),
                        None => {}
                    }
                    if let (Some(changes), Some(settings)) =
                        (&changes, task.settings.as_object_mut())
                    {
                        settings.extend(changes.clone());
                    }
                }
                let answer = if changes.is_some() {
                    answers.result(&task_id, &[])
                } else {
                    Json(json!({ "ResponseMetadata": answers.metadata() })).into_response()
                };
                Done { answer, task_id }
            }),
        })
    })
    .await
}

/// A `QueryTaskList` body whose fields are valid (VL:55-62).
#[derive(Debug, PartialEq)]
pub(crate) struct List {
    /// [choice] matches every task whose `Name` contains it (the page leaves it open).
    pub keyword: Option<String>,
    pub states: Option<Vec<i64>>,
    pub resource_type: Option<i64>,
    pub resource: Option<String>,
    pub phone: Option<String>,
    /// [choice] 1 to 100, default 10 (the SDK's default).
    pub limit: usize,
    pub offset: usize,
}

pub(crate) fn validate_list(body: &Value) -> Checked<List> {
    let obj = Obj::body(body)?;
    obj.allow_only(&[
        "Keyword",
        "State",
        "ResourceType",
        "Resource",
        "Phone",
        "Limit",
        "Offset",
    ])?;
    let states = match obj.opt_array("State")? {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, v)| integer(v, &format!("State[{i}]")))
                .collect::<Checked<Vec<i64>>>()?,
        ),
    };
    Ok(List {
        keyword: obj
            .opt_str("Keyword")?
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        states,
        resource_type: obj.opt_int("ResourceType")?,
        resource: obj.opt_str("Resource")?.map(str::to_string),
        phone: obj.opt_str("Phone")?.map(str::to_string),
        limit: obj.opt_int_in("Limit", 1, 100)?.unwrap_or(10) as usize,
        offset: obj.opt_int_in("Offset", 0, i64::MAX)?.unwrap_or(0) as usize,
    })
}

/// One `Records` item (VL:64-70). [choice] `ResourceType` is the create's `Type`;
/// `ListNum` the numbers held, `CalledNum` those called, `FinishRate` their share.
pub(crate) fn record(task: &TaskRecord) -> Value {
    let s = &task.settings;
    let count = task.callees.count();
    let rate = if count == 0 {
        0.0
    } else {
        task.called as f64 / count as f64
    };
    json!({
        "TaskOpenId": task.task_id,
        "Name": task.name,
        "Resource": s["Resource"],
        "ResourceType": s.get("Type").cloned().unwrap_or(json!(0)),
        "ResourceName": s["Resource"],
        "State": state(task.run),
        "StartTime": s["StartTime"],
        "EndTime": s["EndTime"],
        "ListNum": count,
        "CalledNum": task.called,
        "ThroughNum": 0,
        "ThroughRate": 0.0,
        "FinishRate": rate,
    })
}

/// `Result{Records, Total, Limit, Offset}`, oldest first.
pub(crate) fn list_result(tasks: &Tasks, list: &List) -> Value {
    let found: Vec<&TaskRecord> = tasks
        .of_vendor(Vendor::Volcengine)
        .filter(|t| t.run != Run::Deleted)
        .filter(|t| {
            // [choice] `Keyword` is matched against the name and the TaskOpenId: the page
            // says only "keyword" (VL §4.2), and a console's keyword search finds both.
            list.keyword
                .as_ref()
                .is_none_or(|k| t.name.contains(k.as_str()) || t.task_id == *k)
        })
        .filter(|t| {
            list.states
                .as_ref()
                .is_none_or(|s| s.contains(&state(t.run)))
        })
        .filter(|t| {
            list.resource
                .as_ref()
                .is_none_or(|r| t.settings["Resource"].as_str() == Some(r.as_str()))
        })
        .filter(|t| {
            list.resource_type
                .is_none_or(|r| t.settings.get("Type").and_then(Value::as_i64).unwrap_or(0) == r)
        })
        .filter(|t| list.phone.as_ref().is_none_or(|p| t.callees.holds(p)))
        .collect();
    let records: Vec<Value> = found
        .iter()
        .skip(list.offset)
        .take(list.limit)
        .map(|t| record(t))
        .collect();
    json!({
        "Records": records,
        "Total": found.len(),
        "Limit": list.limit,
        "Offset": list.offset,
    })
}

async fn list(
    emu: &Emulator,
    conn: &ConnHandle,
    seq: Option<u64>,
    body: &Value,
    answers: &VolcengineAnswers,
) -> Response {
    let list = match validate_list(body) {
        Ok(list) => list,
        Err(e) => return answers.invalid(&e),
    };
    let name = list.keyword.clone().unwrap_or_default();
    emu.note(seq, FaultOp::Find, None, Some(&name));
    let list = &list;
    read(
        emu,
        conn,
        seq,
        FaultOp::Find,
        (Vendor::Volcengine, READ_QPS),
        answers,
        move |_: &Tasks| Ok((name, String::new())),
        move |tasks: &Tasks| {
            Json(json!({
                "ResponseMetadata": answers.metadata(),
                "Result": list_result(tasks, list),
            }))
            .into_response()
        },
    )
    .await
}

/// Volcengine's request ids: the UTC time to the second, then random hex.
fn request_id() -> String {
    let now = Timestamp::now().strftime("%Y%m%d%H%M%S");
    format!("{now}{:016X}", crate::emulator::faults::random_u64())
}

/// A valid CreateTask body.
#[derive(Debug)]
pub(crate) struct Valid {
    pub name: String,
    /// The numbers the service refuses (repeats), in the answer's shape.
    pub fail_list: Vec<Value>,
    /// Its `PhoneList`, in order, repeats included.
    pub items: Vec<PhoneItem>,
    /// Its `Start`.
    pub start: bool,
}

/// A `PhoneList` item: the number and its values as the task keeps them
/// (`PhoneParamJson` and `SmsParamJson` parsed, `TtsContent` and `Ext` as text).
#[derive(Debug)]
pub(crate) struct PhoneItem {
    pub phone: String,
    pub vars: Map<String, Value>,
}

pub(crate) fn validate(body: &Value) -> Checked<Valid> {
    let obj = Obj::body(body)?;
    obj.allow_only(&PARAMS)?;
    let name = obj.req_text("Name")?;
    obj.req_text("Resource")?;
    obj.req_text("NumberPoolNo")?;
    let start = date_time(obj.req_str("StartTime")?, "StartTime", DATE_TIME)?;
    let end = date_time(obj.req_str("EndTime")?, "EndTime", DATE_TIME)?;
    if end <= start {
        return Err(ParamError::invalid("EndTime", "must be after StartTime"));
    }
    obj.req_int_in("Concurrency", 1, i64::MAX)?;
    let start = obj.req_bool("Start")?;
    let items = phone_items(&obj)?;
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut fail_list = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if first_seen.insert(item.phone.as_str(), i).is_some() {
            fail_list.push(json!({ "Index": i, "Phone": item.phone, "Type": "REDUPLICATED_ITEM", "Desc": "重复项目" }));
        }
    }

    obj.opt_int_in("Type", 0, 3)?;
    obj.opt_int_in("MaxRingDuration", 1, i64::MAX)?;
    obj.opt_int_in("RingAgainTimes", 0, 5)?;
    obj.opt_int_in("RingAgainInterval", 5, 1440)?;
    obj.opt_bool("FinishWhenListEnd")?;
    obj.opt_bool("Unique")?;
    for url in ["CallRecordPostUrl", "AudioPostUrl"] {
        if let Some(value) = obj.opt_str(url)? {
            if !is_https_url(value) {
                return Err(ParamError::invalid(
                    url,
                    format!("must be an absolute https:// URL, got {value:?}"),
                ));
            }
        }
    }
    number_selection(&obj)?;
    forbid_times(&obj)?;
    sms_config(&obj)?;
    Ok(Valid {
        name: name.to_string(),
        fail_list,
        items,
        start,
    })
}

/// Checks `PhoneList` (1–10,000 items) and returns its items in order.
fn phone_items(obj: &Obj<'_>) -> Checked<Vec<PhoneItem>> {
    let list = obj.req_array("PhoneList")?;
    if list.is_empty() || list.len() > PHONE_LIST_MAX {
        return Err(ParamError::invalid(
            "PhoneList",
            format!("holds 1 to {PHONE_LIST_MAX} numbers, got {}", list.len()),
        ));
    }
    let mut items = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let entry = Obj::at(item, format!("PhoneList[{i}]"))?;
        entry.allow_only(&PHONE_FIELDS)?;
        let phone = entry.req_str("Phone")?;
        if !is_mainland_number(phone) {
            return Err(ParamError::invalid(
                entry.path("Phone"),
                format!("is not a mainland number: {phone:?}"),
            ));
        }
        let mut vars = Map::new();
        for field in ["PhoneParamJson", "SmsParamJson"] {
            if let Some(text) = entry.opt_str(field)? {
                match serde_json::from_str::<Value>(text) {
                    Ok(parsed) if parsed.is_object() => {
                        vars.insert(field.to_string(), parsed);
                    }
                    _ => {
                        return Err(ParamError::invalid(
                            entry.path(field),
                            "must be a string holding a JSON object (JSON text, not an object)",
                        ))
                    }
                }
            }
        }
        for field in ["TtsContent", "Ext"] {
            if let Some(text) = entry.opt_str(field)? {
                vars.insert(field.to_string(), Value::String(text.to_string()));
            }
        }
        items.push(PhoneItem {
            phone: phone.to_string(),
            vars,
        });
    }
    Ok(items)
}

fn number_selection(obj: &Obj<'_>) -> Checked<()> {
    let select_type = obj.opt_int_in("SelectNumberType", 0, 1)?;
    let rule = obj.opt_int("SelectNumberRule")?;
    if let Some(rule) = rule {
        if rule != 5 {
            return Err(ParamError::invalid(
                "SelectNumberRule",
                format!("only 5 is supported, got {rule}"),
            ));
        }
        if select_type.is_some() {
            return Err(ParamError::invalid(
                "SelectNumberRule",
                "is not sent together with SelectNumberType (按照规则选号不设置该值)",
            ));
        }
    }
    let numbers = obj.opt_array("NumberList")?;
    match (select_type, numbers) {
        (Some(1), None) => Err(ParamError::missing("NumberList")),
        (Some(1), Some(list)) => {
            if list.is_empty() {
                return Err(ParamError::invalid(
                    "NumberList",
                    "must hold at least one number with SelectNumberType 1",
                ));
            }
            if list.len() > 1000 {
                return Err(ParamError::invalid(
                    "NumberList",
                    format!("holds at most 1000 numbers, got {}", list.len()),
                )
                .with_code("SelectNumberOverLimit"));
            }
            for (i, number) in list.iter().enumerate() {
                let path = format!("NumberList[{i}]");
                let number = string(number, &path)?;
                if !is_mainland_number(number) {
                    return Err(ParamError::invalid(
                        path,
                        format!("is not a mainland number: {number:?}"),
                    ));
                }
            }
            Ok(())
        }
        (_, Some(_)) => Err(ParamError::invalid(
            "NumberList",
            "is sent only with SelectNumberType 1",
        )),
        (_, None) => Ok(()),
    }
}

fn forbid_times(obj: &Obj<'_>) -> Checked<()> {
    for (i, item) in obj
        .opt_array("ForbidTimeList")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let entry = Obj::at(item, format!("ForbidTimeList[{i}]"))?;
        entry.allow_only(&["Times", "Weekdays"])?;
        let times = entry.req_array("Times")?;
        if times.is_empty() {
            return Err(ParamError::invalid(
                entry.path("Times"),
                "must hold at least one window",
            ));
        }
        for (j, time) in times.iter().enumerate() {
            let path = format!("{}[{j}]", entry.path("Times"));
            window(string(time, &path)?, &path, "HH:MM-HH:MM", clock_hm)?;
        }
        let weekdays = entry.req_array("Weekdays")?;
        if weekdays.is_empty() {
            return Err(ParamError::invalid(
                entry.path("Weekdays"),
                "must hold at least one day",
            ));
        }
        for (j, day) in weekdays.iter().enumerate() {
            let path = format!("{}[{j}]", entry.path("Weekdays"));
            let day = integer(day, &path)?;
            if !(1..=7).contains(&day) {
                return Err(ParamError::invalid(
                    path,
                    format!("must be 1 (Sunday) to 7 (Saturday), got {day}"),
                ));
            }
        }
    }
    Ok(())
}

fn sms_config(obj: &Obj<'_>) -> Checked<()> {
    for (i, item) in obj
        .opt_array("SmsConfig")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let entry = Obj::at(item, format!("SmsConfig[{i}]"))?;
        entry.allow_only(&["TemplateId", "Sign", "StatusSet"])?;
        entry.req_text("TemplateId")?;
        entry.req_text("Sign")?;
        let statuses = entry.req_array("StatusSet")?;
        if statuses.is_empty() {
            return Err(ParamError::invalid(
                entry.path("StatusSet"),
                "must hold at least one status",
            ));
        }
        for (j, status) in statuses.iter().enumerate() {
            let path = format!("{}[{j}]", entry.path("StatusSet"));
            if integer(status, &path)? < 0 {
                return Err(ParamError::invalid(path, "must not be negative"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to a valid body that must make it invalid.
    type Change = Box<dyn FnOnce(&mut Value)>;

    /// The page's example with callform's wire choices (integers, plain windows, 1–7).
    fn valid() -> Value {
        json!({
            "PhoneList": [{
                "Phone": "13344445555",
                "PhoneParamJson": "{\"key1\":\"value1\",\"key2\":\"value2\"}\n",
                "SmsParamJson": "{\"key1\":\"value1\"}",
                "TtsContent": "4YrHU",
                "Ext": "123456"
            }],
            "SmsConfig": [{"TemplateId": "1234", "Sign": "【ABCD】", "StatusSet": [0]}],
            "ForbidTimeList": [{"Weekdays": [1, 7], "Times": ["09:00-10:00", "15:00-16:00"]}],
            "Name": "通知任务",
            "Resource": "abcdef",
            "NumberPoolNo": "NP123456",
            "StartTime": "2021-05-18 20:11:42",
            "EndTime": "2021-05-19 20:11:42",
            "Start": true,
            "MaxRingDuration": 20,
            "RingAgainTimes": 0,
            "RingAgainInterval": 5,
            "Concurrency": 100,
            "FinishWhenListEnd": true,
            "Unique": true,
            "Type": 0,
            "SelectNumberRule": 5,
            "CallRecordPostUrl": "https://abc.com",
            "AudioPostUrl": "https://abc.com"
        })
    }

    fn refused(change: impl FnOnce(&mut Value)) -> ParamError {
        let mut body = valid();
        change(&mut body);
        validate(&body).expect_err("should be refused")
    }

    #[test]
    fn a_valid_body_passes_with_an_empty_fail_list() {
        let valid = validate(&valid()).unwrap();
        assert_eq!(valid.name, "通知任务");
        assert!(valid.fail_list.is_empty());
    }

    #[test]
    fn repeated_numbers_are_reported_after_their_first_occurrence() {
        let mut body = valid();
        body["PhoneList"] = json!([
            {"Phone": "13344445555"}, {"Phone": "13255556666"}, {"Phone": "13344445555"}, {"Phone": "13344445555"}
        ]);
        let fail_list = validate(&body).unwrap().fail_list;
        assert_eq!(
            fail_list,
            vec![
                json!({"Index": 2, "Phone": "13344445555", "Type": "REDUPLICATED_ITEM", "Desc": "重复项目"}),
                json!({"Index": 3, "Phone": "13344445555", "Type": "REDUPLICATED_ITEM", "Desc": "重复项目"}),
            ]
        );
    }

    #[test]
    fn the_page_examples_wire_quirks_are_refused() {
        assert_eq!(
            refused(|b| b["MaxRingDuration"] = json!("20")).param,
            "MaxRingDuration"
        );
        assert_eq!(
            refused(|b| b["RingAgainTimes"] = json!("0")).param,
            "RingAgainTimes"
        );
        assert_eq!(
            refused(|b| b["ForbidTimeList"] =
                json!([{"Weekdays": [1], "Times": ["[\"09:00-10:00\"]"]}]))
            .param,
            "ForbidTimeList[0].Times[0]"
        );
        assert_eq!(
            refused(|b| b["ForbidTimeList"] = json!([{"Weekdays": [0], "Times": ["09:00-10:00"]}]))
                .param,
            "ForbidTimeList[0].Weekdays[0]"
        );
    }

    #[test]
    fn wire_mistakes_are_refused_with_the_parameter_named() {
        let cases: Vec<(&str, Change)> = vec![
            ("name", Box::new(|b| b["name"] = json!("x"))),
            (
                "Name",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("Name");
                }),
            ),
            (
                "Start",
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("Start");
                }),
            ),
            ("Start", Box::new(|b| b["Start"] = json!("true"))),
            ("Concurrency", Box::new(|b| b["Concurrency"] = json!(0))),
            (
                "StartTime",
                Box::new(|b| b["StartTime"] = json!("2021-05-18T20:11:42")),
            ),
            (
                "EndTime",
                Box::new(|b| b["EndTime"] = json!("2021-05-17 20:11:42")),
            ),
            ("PhoneList", Box::new(|b| b["PhoneList"] = json!([]))),
            (
                "PhoneList[0].Phone",
                Box::new(|b| b["PhoneList"] = json!([{"Phone": "qOUFbQIX0Oo"}])),
            ),
            (
                "PhoneList[0].Phone",
                Box::new(|b| b["PhoneList"] = json!([{"TtsContent": "x"}])),
            ),
            (
                "PhoneList[0].PhoneParamJson",
                Box::new(|b| {
                    b["PhoneList"] = json!([{"Phone": "13344445555", "PhoneParamJson": {"k": "v"}}])
                }),
            ),
            (
                "PhoneList[0].SmsParamJson",
                Box::new(|b| {
                    b["PhoneList"] = json!([{"Phone": "13344445555", "SmsParamJson": "not json"}])
                }),
            ),
            (
                "PhoneList[0].phone",
                Box::new(|b| b["PhoneList"] = json!([{"Phone": "13344445555", "phone": "1"}])),
            ),
            ("Type", Box::new(|b| b["Type"] = json!(4))),
            (
                "RingAgainTimes",
                Box::new(|b| b["RingAgainTimes"] = json!(6)),
            ),
            (
                "RingAgainInterval",
                Box::new(|b| b["RingAgainInterval"] = json!(4)),
            ),
            (
                "RingAgainInterval",
                Box::new(|b| b["RingAgainInterval"] = json!(1441)),
            ),
            (
                "MaxRingDuration",
                Box::new(|b| b["MaxRingDuration"] = json!(0)),
            ),
            (
                "SelectNumberRule",
                Box::new(|b| b["SelectNumberRule"] = json!(4)),
            ),
            (
                "SelectNumberRule",
                Box::new(|b| b["SelectNumberType"] = json!(0)),
            ),
            (
                "NumberList",
                Box::new(|b| b["NumberList"] = json!(["13344445555"])),
            ),
            (
                "CallRecordPostUrl",
                Box::new(|b| b["CallRecordPostUrl"] = json!("http://abc.com")),
            ),
            (
                "AudioPostUrl",
                Box::new(|b| b["AudioPostUrl"] = json!("abc.com")),
            ),
            (
                "SmsConfig[0].Sign",
                Box::new(|b| b["SmsConfig"] = json!([{"TemplateId": "1", "StatusSet": [1]}])),
            ),
            (
                "SmsConfig[0].StatusSet",
                Box::new(|b| {
                    b["SmsConfig"] = json!([{"TemplateId": "1", "Sign": "s", "StatusSet": []}])
                }),
            ),
            (
                "FinishWhenListEnd",
                Box::new(|b| b["FinishWhenListEnd"] = json!(1)),
            ),
        ];
        for (param, change) in cases {
            assert_eq!(refused(change).param, param);
        }
    }

    #[test]
    fn number_lists_go_with_select_number_type_one() {
        let mut body = valid();
        let object = body.as_object_mut().unwrap();
        object.remove("SelectNumberRule");
        object.insert("SelectNumberType".into(), json!(1));
        assert_eq!(
            validate(&body).unwrap_err(),
            ParamError::missing("NumberList")
        );
        body["NumberList"] = json!(["13344445555", "13255556666"]);
        assert!(validate(&body).is_ok());
        body["NumberList"] = json!(vec!["13344445555"; 1001]);
        assert_eq!(
            validate(&body).unwrap_err().code,
            Some("SelectNumberOverLimit")
        );
    }

    #[test]
    fn phone_lists_hold_at_most_ten_thousand() {
        let mut body = valid();
        body["PhoneList"] = json!(vec![json!({"Phone": "13344445555"}); 10_000]);
        assert_eq!(validate(&body).unwrap().fail_list.len(), 9_999);
        body["PhoneList"] = json!(vec![json!({"Phone": "13344445555"}); 10_001]);
        assert_eq!(validate(&body).unwrap_err().param, "PhoneList");
    }

    #[test]
    fn appends_are_shape_checked_and_keep_values() {
        let ok = validate_append(&json!({
            "TaskOpenId": "t",
            "PhoneList": [{"Phone": "13344445555", "PhoneParamJson": "{\"name\":\"张三\"}", "Ext": "e"}]
        }))
        .unwrap();
        assert_eq!(ok.items[0].vars["PhoneParamJson"], json!({"name": "张三"}));
        assert_eq!(ok.items[0].vars["Ext"], "e");
        let refused = |body: Value| validate_append(&body).unwrap_err().param;
        assert_eq!(
            refused(json!({"PhoneList": [{"Phone": "13344445555"}]})),
            "TaskOpenId"
        );
        assert_eq!(
            refused(json!({"TaskOpenId": "t", "PhoneList": []})),
            "PhoneList"
        );
        assert_eq!(
            refused(
                json!({"TaskOpenId": "t", "PhoneList": vec![json!({"Phone": "13344445555"}); 10_001]})
            ),
            "PhoneList"
        );
        assert_eq!(
            refused(json!({"TaskOpenId": "t", "PhoneList": [{"Phone": "1"}], "Unique": true})),
            "Unique"
        );
    }

    #[test]
    fn the_verbs_take_their_states_and_nothing_after_a_stop() {
        assert_eq!(moves(FaultOp::Pause, Run::Running), Ok(Some(Run::Paused)));
        assert_eq!(moves(FaultOp::Pause, Run::Paused), Ok(None));
        assert!(moves(FaultOp::Pause, Run::NotStarted).is_err());
        assert_eq!(moves(FaultOp::Resume, Run::Paused), Ok(Some(Run::Running)));
        assert_eq!(
            moves(FaultOp::Resume, Run::NotStarted),
            Ok(Some(Run::Running))
        );
        assert_eq!(moves(FaultOp::Stop, Run::Paused), Ok(Some(Run::Stopped)));
        assert_eq!(moves(FaultOp::Update, Run::Running), Ok(None));
        for over in [Run::Stopped, Run::Finished, Run::Deleted] {
            for op in [
                FaultOp::Pause,
                FaultOp::Resume,
                FaultOp::Stop,
                FaultOp::Update,
            ] {
                assert!(moves(op, over).is_err(), "{op:?} {over:?}");
            }
        }
        let states: Vec<i64> = [
            Run::NotStarted,
            Run::Running,
            Run::Paused,
            Run::Stopped,
            Run::Finished,
        ]
        .into_iter()
        .map(state)
        .collect();
        assert_eq!(states, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_verb_takes_its_task_id_from_exactly_one_place() {
        let q = |id: Option<&str>| -> Vec<(String, String)> {
            id.map(|id| vec![("TaskOpenId".to_string(), id.to_string())])
                .unwrap_or_default()
        };
        let mut json_headers = HeaderMap::new();
        json_headers.insert("content-type", "application/json".parse().unwrap());
        let mut form = HeaderMap::new();
        form.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            verb_task_id(&q(Some("t1")), &HeaderMap::new(), b"").unwrap(),
            "t1"
        );
        assert_eq!(
            verb_task_id(&q(None), &form, b"TaskOpenId=t2").unwrap(),
            "t2"
        );
        assert_eq!(
            verb_task_id(&q(None), &json_headers, br#"{"TaskOpenId":"t3"}"#).unwrap(),
            "t3"
        );
        assert!(verb_task_id(&q(Some("t1")), &json_headers, br#"{"TaskOpenId":"t1"}"#).is_err());
        assert!(verb_task_id(&q(None), &HeaderMap::new(), b"").is_err());
        assert!(verb_task_id(&q(None), &form, b"TaskOpenId=t2&X=1").is_err());
        assert!(verb_task_id(&q(Some("")), &HeaderMap::new(), b"").is_err());
    }

    #[test]
    fn updates_take_the_listed_fields_only() {
        let body = json!({
            "TaskOpenId": "t", "StartTime": "2030-01-01 09:00:00", "EndTime": "2030-01-02 09:00:00",
            "Concurrency": 2, "RingAgainTimes": 1, "RingAgainInterval": 10, "Recall": false
        });
        let (id, changes) = validate_update(&body).unwrap();
        assert_eq!(id, "t");
        assert!(changes.contains_key("Concurrency") && !changes.contains_key("RingAgainTimes"));
        let mut bad = body.clone();
        bad["EndTime"] = json!("2029-01-01 09:00:00");
        assert_eq!(validate_update(&bad).unwrap_err().param, "EndTime");
        let mut bad = body.clone();
        bad["Resource"] = json!("x");
        assert_eq!(validate_update(&bad).unwrap_err().param, "Resource");
        let mut bad = body;
        bad.as_object_mut().unwrap().remove("Concurrency");
        assert_eq!(validate_update(&bad).unwrap_err().param, "Concurrency");
        assert!(validate_list(&json!({"Limit": 101})).is_err());
        assert_eq!(validate_list(&json!({})).unwrap().limit, 10);
    }
}
