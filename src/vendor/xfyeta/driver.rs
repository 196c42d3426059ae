//! iFlytek (`xfyeta`) `POST /openapi/outbound/v1/task/create?token=…`
//! (vendor-docs/xfyeta-task-create.md).
//!
//! Wire quirks, each from the page:
//! - the token travels in the query, so the URL itself is secret: the token is listed in
//!   [`Request::secrets`] and nothing else signs the request;
//! - the high-performance flag is spelled `trubo_mode` (the manifest says `turbo_mode`);
//! - `line_num` is one `;`-joined string, and `robot_id` a JSON string even when it looks
//!   like a number;
//! - `time_begin`/`time_end` are 13-digit millisecond Unix timestamps of the manifest
//!   date-time read in the project timezone (seconds would land in 1970); absolute
//!   instants, so unlike the other vendors nothing is converted to Beijing time;
//! - `time_recall_wait` is in seconds and the `time_range` windows go as written (the
//!   vendor's local time); optional fields absent from the manifest are not sent.
//!
//! Answers: `{"code":0,"message":"ok","result":{"task_id":"129"}}`, any other `code` an
//! error. [`read`] extracts them; which codes mean "nothing created" is
//! [`CREATE_REJECTIONS`], and the verdict is `answer::Op::classify`'s.
//!
//! The steps (xfyeta-task-lifecycle.md, "XL"):
//! - `task/insert?token=` (XL:33-62): `{"task_id":"129","call_column":[PHONE, var…],
//!   "call_list":[["137…","v",…],…]}`, `task_id` a JSON string (XL:41), `call_column[0]`
//!   the callee's mobile column (XL:42; its label `spec.phone_column`, default
//!   `spec::DEFAULT_PHONE_COLUMN`), at most [`INSERT_BATCH`] rows (XL:43), only before
//!   the start (XL:36-37, XL:106). Done: code 0 with `result.total` no larger than the
//!   rows sent (XL:49-51);
//! - `task/start?token=` `{"task_id":"129"}` (XL:104-106): done on code 0, `result:{}`.
//!
//! Reading back and steering (XL §1.2-1.6): `task/query` with `task_id` (the only detail
//! call) or with `task_name`/`page_index`/`page_size` 50 (a fuzzy match); `task/pause`,
//! `task/start` again to resume, and `task/delete` for a stop (xfyeta has no stop that
//! keeps the task). A query's 200202 reads as "not there", 3010102 as deleted.

use serde::Serialize;
use serde_json::Value;

use crate::driver::observe::{common_rule, more_pages};
use crate::driver::{
    check_batch, instant, json_body, json_content_type, message, need_secret, present, redact_rows,
    text, BuildError, Context, ErrorClass, Lifecycle, Listing, Observed, Op, Reading, Rejection,
    Request, Signing, Verb, VerbRule,
};
use crate::manifest::callees::Row;
use crate::manifest::time::LocalDateTime;
use crate::manifest::{Task, Vendor};
use crate::vendor::xfyeta::spec::{XfyetaSpec, DEFAULT_PHONE_COLUMN};

const PATH: &str = "/openapi/outbound/v1/task/create";
const INSERT_PATH: &str = "/openapi/outbound/v1/task/insert";
const START_PATH: &str = "/openapi/outbound/v1/task/start";

/// Rows a `task/insert` call takes: "单次上限50条" (XL:43) \[seen\].
pub const INSERT_BATCH: usize = 50;

/// The request body, in the page's order.
#[derive(Serialize)]
struct Body<'a> {
    task_name: &'a str,
    line_num: String,
    robot_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recall_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_recall_wait: Option<i64>,
    time_range: &'a [String],
    time_begin: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_end: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trubo_mode: Option<bool>,
}

pub fn build(task: &Task, spec: &XfyetaSpec, cx: &Context) -> Result<Request, BuildError> {
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    let millis = |t: &LocalDateTime, field| instant(t, cx, field).map(|at| at.as_millisecond());
    let body = Body {
        task_name: task.vendor_name(),
        line_num: spec.line_num.join(";"),
        robot_id: &spec.robot_id,
        recall_count: spec.recall_count,
        time_recall_wait: spec.time_recall_wait,
        time_range: &spec.time_range,
        time_begin: millis(&spec.time_begin, "time_begin")?,
        time_end: spec
            .time_end
            .as_ref()
            .map(|t| millis(t, "time_end"))
            .transpose()?,
        voice_code: spec.voice_code.as_deref(),
        trubo_mode: spec.turbo_mode,
    };
    Ok(Request {
        method: "POST",
        path: PATH.into(),
        query: vec![("token".into(), token.into())],
        headers: vec![json_content_type()],
        body: Some(json_body(&body)?),
        signing: Signing::None,
        secrets: vec![token.into()],
        redact: Vec::new(),
        target: None,
    })
}

#[derive(Serialize)]
struct Insert<'a> {
    task_id: &'a str,
    call_column: Vec<&'a str>,
    call_list: Vec<Vec<&'a str>>,
}

/// `task/insert`: the rows, the number first and the script's variables after, in the
/// list's column order.
pub fn build_load(
    task: &Task,
    spec: &XfyetaSpec,
    task_id: &str,
    columns: &[String],
    rows: &[Row],
    cx: &Context,
) -> Result<Request, BuildError> {
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    check_batch(task, columns, rows, INSERT_BATCH)?;
    let phone_column = spec.phone_column.as_deref().unwrap_or(DEFAULT_PHONE_COLUMN);
    let body = Insert {
        task_id,
        call_column: std::iter::once(phone_column)
            .chain(columns.iter().map(String::as_str))
            .collect(),
        call_list: rows
            .iter()
            .map(|r| {
                std::iter::once(r.phone.as_str())
                    .chain(r.values.iter().map(String::as_str))
                    .collect()
            })
            .collect(),
    };
    Ok(step(
        token,
        INSERT_PATH,
        json_body(&body)?,
        task_id,
        redact_rows(rows),
    ))
}

#[derive(Serialize)]
struct Start<'a> {
    task_id: &'a str,
}

/// `task/start`: the task dials from `time_begin`, within `time_range` (XL:106).
pub fn build_start(
    _task: &Task,
    _spec: &XfyetaSpec,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    let body = json_body(&Start { task_id })?;
    Ok(Some(step(token, START_PATH, body, task_id, Vec::new())))
}

fn step(token: &str, path: &str, body: Vec<u8>, task_id: &str, redact: Vec<String>) -> Request {
    Request {
        method: "POST",
        path: path.into(),
        query: vec![("token".into(), token.into())],
        headers: vec![json_content_type()],
        body: Some(body),
        signing: Signing::None,
        secrets: vec![token.into()],
        redact,
        target: Some(task_id.into()),
    }
}

/// The codes that mean a create was refused. The create page lists none; the only error
/// table for this API is the one of the docs' source D, quoted in
/// xfyeta-task-lifecycle.md §1.1, of which two codes are not specific to `task/insert`.
/// Every other code — `-1 系统异常`, `1 系统繁忙`, `10500`… — is uncertain.
pub const CREATE_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "10001",
        statuses: &[200],
        class: ErrorClass::Auth,
        source: "docs/vendor-sources.md § xfyeta (error-code table): 10001 无效的token请求",
    },
    Rejection {
        code: "10005",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "docs/vendor-sources.md § xfyeta (error-code table): 10005 输入参数不正确",
    },
];

/// The codes that mean a `task/insert` stored nothing: task- or call-level checks that
/// come before any row is stored \[inferred\] (XL:53-62), all under HTTP 200 (XL:26).
/// 200203 (a bad number) and 3030002 (a number in use) are row-level: the call may be
/// partly stored, so they are not here (uncertain), nor is any code the page lacks.
pub const LOAD_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "10001",
        statuses: &[200],
        class: ErrorClass::Auth,
        source: "XL:61 10001 无效的token请求",
    },
    Rejection {
        code: "10005",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:62 10005 输入参数不正确",
    },
    Rejection {
        code: "200202",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:54 200202 错误的任务id",
    },
    Rejection {
        code: "200212",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:56 200212 错误的数据，与话术动态信息不匹配",
    },
    Rejection {
        code: "200213",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:57 200213 上传的外呼数据量超过限制",
    },
    Rejection {
        code: "3010101",
        statuses: &[200],
        class: ErrorClass::TaskState,
        source: "XL:60 3010101 任务已经完成",
    },
    Rejection {
        code: "3010102",
        statuses: &[200],
        class: ErrorClass::TaskState,
        source: "XL:59 3010102 任务已经删除",
    },
];

/// The codes that mean a `task/start` started nothing [inferred, as for the insert:
/// checks that come before the task is touched] (XL:53-62, the API family's one table).
pub const START_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "10001",
        statuses: &[200],
        class: ErrorClass::Auth,
        source: "XL:61 10001 无效的token请求",
    },
    Rejection {
        code: "10005",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:62 10005 输入参数不正确",
    },
    Rejection {
        code: "200202",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:54 200202 错误的任务id",
    },
    Rejection {
        code: "3010101",
        statuses: &[200],
        class: ErrorClass::TaskState,
        source: "XL:60 3010101 任务已经完成",
    },
    Rejection {
        code: "3010102",
        statuses: &[200],
        class: ErrorClass::TaskState,
        source: "XL:59 3010102 任务已经删除",
    },
];

/// The codes that mean a pause, a resume (`task/start`) or a delete did nothing: the
/// start's table [inferred, the same checks before the task is touched] (XL:53-62).
pub const VERB_REJECTIONS: &[Rejection] = START_REJECTIONS;

/// The codes that mean a read failed before it was answered: the token and the
/// parameters (XL:61-62). 200202 and 3010102 are a query's answer, not a failure
/// ([`read_answer`]).
pub const READ_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "10001",
        statuses: &[200],
        class: ErrorClass::Auth,
        source: "XL:61 10001 无效的token请求",
    },
    Rejection {
        code: "10005",
        statuses: &[200],
        class: ErrorClass::Business,
        source: "XL:62 10005 输入参数不正确",
    },
];

/// The table of `op`.
pub fn rejections(op: Op) -> &'static [Rejection] {
    match op {
        Op::Create => CREATE_REJECTIONS,
        Op::LoadCallees { .. } => LOAD_REJECTIONS,
        Op::Start => START_REJECTIONS,
        Op::Verb(_) => VERB_REJECTIONS,
        Op::Query | Op::Find { .. } => READ_REJECTIONS,
        Op::Update | Op::Numbers { .. } => &[],
    }
}

/// What an answer to `op` says. A create's is [`read`]; an insert's success also carries
/// `result.total` (XL:49-50), which must be there, a whole number; a start's is code 0
/// alone (`result:{}`, XL:106).
pub fn read_answer(op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
    let mut r = read(status, body);
    match op {
        Op::Create => {}
        Op::LoadCallees { .. } => {
            r.task_id = None;
            r.id_present = false;
            r.accepted = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|a| a.pointer("/result/total").and_then(Value::as_u64));
            r.target_ok = r.accepted.is_some();
        }
        Op::Start => {
            r.task_id = None;
            r.id_present = false;
            r.target_ok = true;
        }
        Op::Verb(_) => {
            // Done on code 0 alone: pause, start and delete answer `result: {}` (XL §1.3-1.5).
            r.task_id = None;
            r.id_present = false;
            r.target_ok = true;
        }
        Op::Query | Op::Find { .. } => {
            r.task_id = None;
            r.id_present = false;
            read_listing(op, &mut r, body, target);
        }
        // xfyeta reports no number list: callform never sends this op there, and an
        // answer to it lists nothing.
        Op::Update | Op::Numbers { .. } => {
            r.task_id = None;
            r.id_present = false;
        }
    }
    r
}

/// What an answer says: `{"code":0,"message":"ok","result":{"task_id":"129"}}`, any
/// other `code` an error.
pub fn read(_status: u16, body: &[u8]) -> Reading {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Reading::off_shape("the answer is not JSON");
    };
    let code = text(answer.get("code"));
    let task_id = text(answer.pointer("/result/task_id"));
    let id_present = present(answer.pointer("/result/task_id"));
    let message = message(answer.get("message"));
    match code {
        Some(code) => Reading {
            shaped: true,
            success_code: code == "0",
            error_code: (code != "0").then_some(code),
            task_id,
            id_present,
            message,
            ..Reading::default()
        },
        None => Reading {
            task_id,
            id_present,
            message,
            ..Reading::off_shape("the answer has no `code`")
        },
    }
}

// ---- reading back and steering a task (xfyeta-task-lifecycle.md, "XL" §1.2-1.6) ------

const QUERY_PATH: &str = "/openapi/outbound/v1/task/query";
const PAUSE_PATH: &str = "/openapi/outbound/v1/task/pause";
const DELETE_PATH: &str = "/openapi/outbound/v1/task/delete";

/// Rows a `task/query` page holds when finding by name: the page's maximum, "max 50"
/// (XL §1.2) \[seen\].
pub const FIND_PAGE_SIZE: u32 = 50;

/// Reads a task back: `task/query` with `task_id` is the detail call, "there is no
/// separate get-detail endpoint" (XL §1.2).
pub fn build_query(task_id: &str, cx: &Context) -> Result<Request, BuildError> {
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    let body = json_body(&serde_json::json!({ "task_id": task_id }))?;
    Ok(step(token, QUERY_PATH, body, task_id, Vec::new()))
}

/// Finds tasks by name: `task/query` with `task_name` (a fuzzy match, XL §1.2: callers
/// compare exactly), `page_index` from 1 and [`FIND_PAGE_SIZE`] rows a page.
pub fn build_find(name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    let body = json_body(&serde_json::json!({
        "task_name": name,
        "page_index": page.max(1),
        "page_size": FIND_PAGE_SIZE,
    }))?;
    let mut r = step(token, QUERY_PATH, body, "", Vec::new());
    r.target = None;
    Ok(r)
}

/// How a verb is done (XL §1.3-1.6): pause `task/pause` (a running task), resume
/// `task/start` again ("可以通过启动外呼任务接口恢复任务呼叫"), stop: xfyeta documents no
/// stop without delete, only `task/delete`, which "force-stops and deletes" the task.
pub fn verb(verb: Verb, from: Lifecycle) -> VerbRule {
    if let Some(rule) = common_rule(verb, from) {
        return rule;
    }
    match verb {
        Verb::Pause => VerbRule::Send {
            action: "task/pause",
            note: None,
        },
        Verb::Resume => VerbRule::Send {
            action: "task/start",
            note: Some("xfyeta resumes a paused task with task/start"),
        },
        Verb::Stop => VerbRule::Send {
            action: "task/delete",
            note: Some(
                "xfyeta has no stop: task/delete force-stops and DELETES the task, which can never be started again",
            ),
        },
    }
}

/// The request of `verb` ([`verb`] says `Send`): `{"task_id": …}` to its path.
pub fn build_verb(
    v: Verb,
    task_id: &str,
    from: Lifecycle,
    cx: &Context,
) -> Result<Request, BuildError> {
    let path = match verb(v, from) {
        VerbRule::Send { action, .. } => match action {
            "task/pause" => PAUSE_PATH,
            "task/start" => START_PATH,
            _ => DELETE_PATH,
        },
        _ => {
            return Err(BuildError(format!(
                "xfyeta has no request to {v} a task that is {from}"
            )))
        }
    };
    let token = need_secret(&cx.credentials.token, "token", Vendor::Xfyeta)?;
    let body = json_body(&Start { task_id })?;
    Ok(step(token, path, body, task_id, Vec::new()))
}

/// xfyeta's `status` (XL §1.2, source A's table; B and D list 0–4) in the common set.
/// 1 启动 (started), 5 等待下轮重试 (waiting for the next retry round) and 6 不在工作时段
/// (outside working hours) are `Running`: the task dials again by itself. 7 过期 (expired)
/// is `Finished` \[choice\]: its end time passed and it dials nobody again, but nobody
/// terminated it. `deleted: 1` wins over any status.
pub fn lifecycle(status: Option<i64>, deleted: bool) -> Lifecycle {
    if deleted {
        return Lifecycle::Deleted;
    }
    match status {
        Some(0) => Lifecycle::NotStarted,
        Some(1 | 2 | 5 | 6) => Lifecycle::Running,
        Some(3) => Lifecycle::Paused,
        Some(4 | 7) => Lifecycle::Finished,
        _ => Lifecycle::Unknown,
    }
}

/// The managed fields a `task/query` row returns under the create's own name and unit
/// (XL §1.2 row fields against the create page): `robot_id` (a string in the canonical
/// form), `time_recall_wait` (seconds) and `voice_code`. Left out, the mapping not being
/// exact: `line_num` (masked in the canonical form), `time_range` (one string here, a list
/// there, its separator not stated), `count_max_recall` (not named `recall_count`), the
/// `time_task_*` times (which of them is `time_begin` is not stated) and `task_name` (in
/// [`Observed::name`]).
fn fields(row: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(robot) = text(row.get("robot_id")) {
        out.push(("robot_id".to_string(), Value::String(robot)));
    }
    if let Some(wait) = row.get("time_recall_wait").and_then(Value::as_i64) {
        out.push(("time_recall_wait".to_string(), Value::from(wait)));
    }
    if let Some(voice) = row.get("voice_code").and_then(Value::as_str) {
        out.push(("voice_code".to_string(), Value::String(voice.to_string())));
    }
    out
}

/// One row of `result.rows`, or `None` without a readable `task_id`. `called`/`total`
/// are `process_count`/`count_tel` \[inferred: the page names them without defining
/// them\]; the rows carry no creation time.
fn observed(row: &Value) -> Option<Observed> {
    let task_id = text(row.get("task_id"))?;
    let status = row.get("status").and_then(Value::as_i64);
    let deleted = row.get("deleted").and_then(Value::as_i64) == Some(1);
    let mut raw = text(row.get("status")).unwrap_or_else(|| "(none)".into());
    if deleted {
        raw.push_str(" deleted=1");
    }
    Some(Observed {
        task_id,
        name: row
            .get("task_name")
            .and_then(Value::as_str)
            .map(crate::phone::mask_phones_in_text),
        status: lifecycle(status, deleted),
        raw,
        called: row.get("process_count").and_then(Value::as_u64),
        total: row.get("count_tel").and_then(Value::as_u64),
        created: None,
        fields: fields(row),
    })
}

/// The codes that mean "no such task" to a query \[inferred: the API family's one error
/// table, XL §1.1\]: 200202 错误的任务id and 3010102 任务已经删除. The first reads as a
/// listing without the task, the second as the task `Deleted`.
const NO_SUCH_TASK: &str = "200202";
const TASK_DELETED: &str = "3010102";

/// A read's listing, from `result {total_rows, rows}` (XL §1.2).
fn read_listing(op: Op, r: &mut Reading, body: &[u8], target: Option<&str>) {
    if op == Op::Query {
        match r.error_code.as_deref() {
            Some(NO_SUCH_TASK) => {
                r.error_code = None;
                r.listing = Some(Listing::default());
                return;
            }
            Some(TASK_DELETED) => {
                if let Some(task_id) = target {
                    r.error_code = None;
                    r.listing = Some(Listing {
                        tasks: vec![Observed {
                            task_id: task_id.to_string(),
                            name: None,
                            status: Lifecycle::Deleted,
                            raw: format!("code {TASK_DELETED}"),
                            called: None,
                            total: None,
                            created: None,
                            fields: Vec::new(),
                        }],
                        total: Some(1),
                        more: false,
                        ..Listing::default()
                    });
                }
                return;
            }
            _ => {}
        }
    }
    if !r.success_code || r.error_code.is_some() {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(rows) = answer.pointer("/result/rows").and_then(Value::as_array) else {
        r.shaped = false;
        r.problem = Some("the answer has no `result.rows` list");
        return;
    };
    let mut tasks = Vec::with_capacity(rows.len());
    for row in rows {
        match observed(row) {
            Some(o) => tasks.push(o),
            None => {
                r.shaped = false;
                r.problem = Some("a row of `result.rows` has no readable `task_id`");
                return;
            }
        }
    }
    // A query names one task: the rows that are it. An empty list is "no such task"; a
    // list of other tasks only says that the filter was not applied, so it is no answer.
    if let (Op::Query, Some(id)) = (op, target) {
        let listed = !tasks.is_empty();
        tasks.retain(|t| t.task_id == id);
        if listed && tasks.is_empty() {
            r.shaped = false;
            r.problem = Some("the answer lists other tasks, not the one asked for");
            return;
        }
    }
    let total = answer.pointer("/result/total_rows").and_then(Value::as_u64);
    let more = match op {
        Op::Find { page } => more_pages(page, u64::from(FIND_PAGE_SIZE), rows.len(), total),
        _ => false,
    };
    r.listing = Some(Listing {
        tasks,
        total,
        more,
        ..Listing::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Credentials, Request};
    use crate::manifest::{Source, Spec};
    use jiff::tz::TimeZone;

    fn spec() -> XfyetaSpec {
        XfyetaSpec {
            task_name: None,
            line_num: vec!["055169101407".into(), "055169101408".into()],
            robot_id: "11".into(),
            recall_count: None,
            time_recall_wait: None,
            time_range: vec!["09:00:00-12:00:00".into()],
            time_begin: LocalDateTime::parse("2027-01-04 09:00").unwrap(),
            time_end: None,
            voice_code: None,
            turbo_mode: Some(true),
            phone_column: None,
        }
    }

    fn build_in(spec: XfyetaSpec, tz: &str) -> Result<Request, BuildError> {
        let task = Task {
            name: "renewal".into(),
            vendor: Vendor::Xfyeta,
            provider: "xfyeta".into(),
            labels: Default::default(),
            spec: Spec::Xfyeta(spec.clone()),
            status: Default::default(),
            callees: None,
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        };
        let cx = Context {
            timezone: TimeZone::get(tz).unwrap(),
            credentials: Credentials {
                token: Some("tok-1".into()),
                ..Default::default()
            },
        };
        build(&task, &spec, &cx)
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(r.body.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn sends_the_vendor_spellings_and_leaves_out_what_is_unset() {
        let r = build_in(spec(), "Asia/Shanghai").unwrap();
        assert_eq!(r.path, PATH);
        assert_eq!(r.query, vec![("token".to_string(), "tok-1".to_string())]);
        assert_eq!(r.secrets, vec!["tok-1".to_string()]);
        assert_eq!(r.signing, Signing::None);
        let b = body(&r);
        assert_eq!(b["task_name"], "renewal");
        assert_eq!(b["line_num"], "055169101407;055169101408");
        assert_eq!(b["robot_id"], "11");
        assert_eq!(b["trubo_mode"], true);
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        for absent in [
            "turbo_mode",
            "recall_count",
            "time_recall_wait",
            "time_end",
            "voice_code",
        ] {
            assert!(b.get(absent).is_none(), "{absent} in {keys:?}");
        }
    }

    #[test]
    fn times_are_absolute_milliseconds_of_the_project_timezone() {
        // 09:00 in Shanghai is 01:00Z; 09:00 in UTC is eight hours later.
        let sh = body(&build_in(spec(), "Asia/Shanghai").unwrap());
        assert_eq!(sh["time_begin"], 1_799_024_400_000_i64);
        let utc = body(&build_in(spec(), "UTC").unwrap());
        assert_eq!(utc["time_begin"], 1_799_024_400_000_i64 + 8 * 3_600_000);
        assert_eq!(utc["time_begin"].to_string().len(), 13);
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused() {
        let mut s = spec();
        s.time_begin = LocalDateTime::parse("2027-03-28 02:30").unwrap();
        let err = build_in(s, "Europe/Berlin").unwrap_err();
        assert!(
            err.0.contains("time_begin") && err.0.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_token_names_the_field() {
        let task = Task {
            name: "t".into(),
            vendor: Vendor::Xfyeta,
            provider: "xfyeta".into(),
            labels: Default::default(),
            spec: Spec::Xfyeta(spec()),
            status: Default::default(),
            callees: None,
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        };
        let cx = Context {
            timezone: TimeZone::UTC,
            credentials: Credentials::default(),
        };
        assert!(build(&task, &spec(), &cx)
            .unwrap_err()
            .0
            .contains("`token`"));
    }
}
