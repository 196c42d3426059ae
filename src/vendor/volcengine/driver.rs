//! Volcengine vms `POST /?Action=CreateTask&Version=2022-01-01`, JSON body, signed with
//! HMAC-SHA256 for service `vms` (vendor-docs/volcengine-vms-create-task.md, signing.md).
//!
//! Wire quirks, where the page's own example must not be copied (limits.md):
//! - keys are PascalCase exactly as the page's table (`RingAgainTimes`);
//! - `MaxRingDuration`, `RingAgainTimes`, `RingAgainInterval` are JSON integers (the
//!   example sends some as strings);
//! - `ForbidTimeList[].Times` and `NumberList` are plain string lists (the example nests a
//!   JSON text inside one string), and `Weekdays` are the vendor's 1 (Sunday)–7 codes;
//! - `PhoneParamJson`/`SmsParamJson` are JSON *text*, each a map serialised to a string;
//! - `StartTime`/`EndTime` are Beijing wall-clock `yyyy-MM-dd HH:mm:ss`, converted from
//!   the project timezone; `Start` is always sent (its default is not documented): the
//!   task's `status: running`;
//! - `PhoneList` holds the task's first 10,000 callees, each row's columns mapped by
//!   `spec::phone_fields`;
//! - `Content-Type` is exactly `application/json` (the signature covers it byte for byte;
//!   the example's `; charset=UTF-8` is not used); the signing region is the provider's,
//!   default `cn-north-1` (the vendor SDK's for this service).
//!
//! Answers: `ResponseMetadata.Error{Code, Message}` is an error; otherwise
//! `Result.TaskOpenId` is the task and `Result.FailList` the numbers the vendor refused,
//! turned into warnings with each number masked.
//!
//! Callees beyond the create's: `POST /?Action=BatchAppend&Version=2022-01-01`
//! (volcengine-vms-task-lifecycle.md, "VL", VL:29-49), `{"TaskOpenId", "PhoneList"}` with
//! the items exactly as the create's, at most [`APPEND_BATCH`] a call. Done: no error, a
//! `Result`, its `TaskOpenId` (when given) ours; `FailList` items become masked warnings
//! (at most `driver::MAX_ROW_WARNINGS`). No start request: `Start` at create is the only
//! one (no StartTask, VL:92-94).
//!
//! Reading back, steering, updating (VL §4.2-4.7): `QueryTaskList` (`Keyword`, `Limit`,
//! `Offset`; no get-by-id exists, so a query sends the id as `Keyword` and fails unless the
//! list returns it), `PauseTask`/`ResumeTask`/`StopTask` with `TaskOpenId` in the query
//! string (the SDKs' form) and `UpdateTask` with the schedule fields. The `State` values
//! are documented nowhere: every one reads as unknown ([`STATES`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::driver::observe::{common_rule, more_pages};
use crate::driver::{
    beijing, check_batch, json_body, json_content_type, message, need_secret, present, redact_rows,
    text, BuildError, Context, ErrorClass, Lifecycle, Listing, Observed, Op, Reading, Rejection,
    Request, Signing, Verb, VerbRule, MAX_ROW_WARNINGS,
};
use crate::manifest::callees::Row;
use crate::manifest::time::LocalDateTime;
use crate::manifest::{RunStatus, Task, Vendor};
use crate::phone;
use crate::vendor::volcengine::spec::{phone_fields, VolcengineSpec};

const DEFAULT_REGION: &str = "cn-north-1";

/// Rows sent in CreateTask's `PhoneList`: at most 10,000 a request (VC:77-82, VL:38).
pub const IN_CREATE: usize = 10_000;

/// Rows a `BatchAppend` takes: "单次最多1w条" (VL:38) \[seen\].
pub const APPEND_BATCH: usize = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    name: &'a str,
    resource: &'a str,
    number_pool_no: &'a str,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    task_type: Option<i64>,
    start_time: String,
    end_time: String,
    start: bool,
    concurrency: i64,
    phone_list: Vec<Phone<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forbid_time_list: Option<Vec<Forbid<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_config: Option<Vec<Sms<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    select_number_type: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    select_number_rule: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ring_duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ring_again_times: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ring_again_interval: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_when_list_end: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_record_post_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio_post_url: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Phone<'a> {
    phone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_param_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_param_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tts_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Forbid<'a> {
    times: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    weekdays: Option<Vec<i64>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Sms<'a> {
    template_id: &'a str,
    sign: &'a str,
    status_set: &'a [i64],
}

pub fn build(task: &Task, spec: &VolcengineSpec, cx: &Context) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key = need_secret(&c.access_key, "access_key", Vendor::Volcengine)?;
    let secret_key = need_secret(&c.secret_key, "secret_key", Vendor::Volcengine)?;
    let region = c
        .region
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION);
    let Some(callees) = &task.callees else {
        return Err(BuildError(format!(
            "task `{}` has no callees (`PhoneList`)",
            task.name
        )));
    };
    // The first rows travel in the create (VC:77-82): at most 10,000 a request.
    let rows = callees
        .rows(0, IN_CREATE)
        .map_err(|e| BuildError(format!("task `{}`: {e}", task.name)))?;
    let at = |t: &LocalDateTime, field| {
        beijing(t, cx, field).map(|b| b.strftime("%Y-%m-%d %H:%M:%S").to_string())
    };
    let body = Body {
        name: task.vendor_name(),
        resource: &spec.resource,
        number_pool_no: &spec.number_pool_no,
        task_type: spec.task_type.map(|t| t.code()),
        start_time: at(&spec.start_time, "start_time")?,
        end_time: at(&spec.end_time, "end_time")?,
        start: task.status == RunStatus::Running,
        concurrency: spec.concurrency,
        phone_list: rows
            .iter()
            .map(|row| phone_item(&callees.columns, row))
            .collect::<Result<_, _>>()?,
        forbid_time_list: spec.forbid_time_list.as_ref().map(|list| {
            list.iter()
                .map(|f| Forbid {
                    times: &f.times,
                    weekdays: f
                        .weekdays
                        .as_ref()
                        .map(|w| w.iter().map(|d| d.code()).collect()),
                })
                .collect()
        }),
        sms_config: spec.sms_config.as_ref().map(|list| {
            list.iter()
                .map(|s| Sms {
                    template_id: &s.template_id,
                    sign: &s.sign,
                    status_set: &s.status_set,
                })
                .collect()
        }),
        select_number_type: spec.select_number_type.map(|t| t.code()),
        number_list: spec.number_list.as_deref().map(normalised).transpose()?,
        select_number_rule: spec.select_number_rule,
        max_ring_duration: spec.max_ring_duration,
        ring_again_times: spec.ring_again_times,
        ring_again_interval: spec.ring_again_interval,
        finish_when_list_end: spec.finish_when_list_end,
        unique: spec.unique,
        call_record_post_url: spec.call_record_post_url.as_deref(),
        audio_post_url: spec.audio_post_url.as_deref(),
    };
    Ok(Request {
        method: "POST",
        path: "/".into(),
        query: vec![
            ("Action".into(), "CreateTask".into()),
            ("Version".into(), "2022-01-01".into()),
        ],
        headers: vec![json_content_type()],
        body: Some(json_body(&body)?),
        signing: Signing::Volcengine {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: region.into(),
            service: "vms".into(),
        },
        secrets: vec![access_key.into(), secret_key.into()],
        redact: redact_rows(&rows),
        target: None,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Append<'a> {
    task_open_id: &'a str,
    phone_list: Vec<Phone<'a>>,
}

/// `BatchAppend` of `rows` to task `task_id`.
pub fn build_load(
    task: &Task,
    _spec: &VolcengineSpec,
    task_id: &str,
    columns: &[String],
    rows: &[Row],
    cx: &Context,
) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key = need_secret(&c.access_key, "access_key", Vendor::Volcengine)?;
    let secret_key = need_secret(&c.secret_key, "secret_key", Vendor::Volcengine)?;
    let region = c
        .region
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION);
    check_batch(task, columns, rows, APPEND_BATCH)?;
    let body = Append {
        task_open_id: task_id,
        phone_list: rows
            .iter()
            .map(|row| phone_item(columns, row))
            .collect::<Result<_, _>>()?,
    };
    Ok(Request {
        method: "POST",
        path: "/".into(),
        query: vec![
            ("Action".into(), "BatchAppend".into()),
            ("Version".into(), "2022-01-01".into()),
        ],
        headers: vec![json_content_type()],
        body: Some(json_body(&body)?),
        signing: Signing::Volcengine {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: region.into(),
            service: "vms".into(),
        },
        secrets: vec![access_key.into(), secret_key.into()],
        redact: redact_rows(rows),
        target: Some(task_id.into()),
    })
}

/// None: a task starts at create (`Start`) or not at all by callform (VL:92-94).
pub fn build_start(
    _task: &Task,
    _spec: &VolcengineSpec,
    _task_id: &str,
    _cx: &Context,
) -> Result<Option<Request>, BuildError> {
    Ok(None)
}

fn phone_item<'r>(columns: &'r [String], row: &'r Row) -> Result<Phone<'r>, BuildError> {
    let fields = phone_fields(columns, row);
    let json_text = |map: &BTreeMap<&str, &str>| {
        (!map.is_empty())
            .then(|| serde_json::to_string(map))
            .transpose()
            .map_err(|e| BuildError(format!("PhoneList: {e}")))
    };
    Ok(Phone {
        phone: fields.phone,
        phone_param_json: json_text(&fields.params)?,
        sms_param_json: json_text(&fields.sms)?,
        tts_content: fields.tts_content,
        ext: fields.ext,
    })
}

/// `NumberList` as the manifest wrote it, normalised as validation checked it.
fn normalised(numbers: &[String]) -> Result<Vec<String>, BuildError> {
    numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            phone::normalize(n)
                .map(|(n, _)| n)
                .map_err(|why| BuildError(format!("number_list[{i}]: {why}")))
        })
        .collect()
}

const CREATE_PAGE: &str = "docs/vendor-sources.md § volcengine: the create page's 错误码";
const LIMITS: &str = "docs/vendor-sources.md § volcengine: throttling and authentication";

/// The codes that mean a create was refused: the create page's error table (all HTTP
/// 400; its one 500, `InternalError`, may come after the task was made), the number-list
/// limit limits.md names, and the throttling (HTTP 429) and credential codes of limits.md.
/// The credential codes' status is not on the pages; Volcengine's gateway (and the
/// emulator, `vendor/volcengine/emulator.rs`) answers them with 401. Any other code, or a listed
/// one under another status (a throttling code under a 5xx), is uncertain.
pub const CREATE_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "MissingParameter",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "InvalidParameter",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "OperationDenied",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "QuotaExceeded",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "IdempotentParameterMismatch",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "DryRunOperation",
        statuses: &[400],
        class: ErrorClass::Business,
        source: CREATE_PAGE,
    },
    Rejection {
        code: "SelectNumberOverLimit",
        statuses: &[400],
        class: ErrorClass::Business,
        source: LIMITS,
    },
    Rejection {
        code: "RequestLimitExceeded",
        statuses: &[429],
        class: ErrorClass::Throttled,
        source: LIMITS,
    },
    Rejection {
        code: "FlowLimitExceeded",
        statuses: &[429],
        class: ErrorClass::Throttled,
        source: LIMITS,
    },
    Rejection {
        code: "InvalidAccessKey",
        statuses: &[401],
        class: ErrorClass::Auth,
        source: LIMITS,
    },
    Rejection {
        code: "SignatureDoesNotMatch",
        statuses: &[401],
        class: ErrorClass::Auth,
        source: LIMITS,
    },
];

/// The table of `op`: a `BatchAppend`, a read, a verb or an `UpdateTask` is refused as a
/// create is [inferred: the same API family's table, VC:294-335, and limits.md's
/// throttling and credential codes; the verbs' and the update's pages list no codes of
/// their own, and no state refusal]. No start is ever sent.
pub fn rejections(op: Op) -> &'static [Rejection] {
    match op {
        Op::Create
        | Op::LoadCallees { .. }
        | Op::Query
        | Op::Find { .. }
        | Op::Verb(_)
        | Op::Update => CREATE_REJECTIONS,
        // No start is ever sent, and no number list is read (none is documented).
        Op::Start | Op::Numbers { .. } => &[],
    }
}

/// What an answer to `op` says: the create's reading; for a `BatchAppend`, the
/// `TaskOpenId` of its `Result` must be ours when it is given (VL:49).
///
/// A verb's success is `ResponseMetadata` without an `Error` (VL §4.4: "Response:
/// `ResponseMetadata` only"); an update's is the same with, when it has a `Result`, its
/// `TaskOpenId` ours (VL §4.7). A read's is its `Result.Records` (`read_listing`).
pub fn read_answer(op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
    let mut r = read(status, body);
    if matches!(op, Op::Verb(_) | Op::Update) && r.error_code.is_none() {
        let metadata = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|a| a.get("ResponseMetadata").cloned())
            .filter(Value::is_object);
        if metadata.is_some() && !r.shaped {
            // No `Result`: the documented success of a verb.
            r.shaped = true;
            r.problem = None;
            r.success_code = true;
        }
    }
    if matches!(op, Op::Query | Op::Find { .. }) {
        r.task_id = None;
        r.id_present = false;
        read_listing(op, &mut r, body, target);
        return r;
    }
    if op != Op::Create {
        let named = r.task_id.take();
        r.target_ok = match (&named, r.id_present) {
            (Some(id), _) => Some(id.as_str()) == target,
            (None, present) => !present,
        };
    }
    r
}

/// What an answer says: `ResponseMetadata.Error{Code, Message}` is an error; otherwise a
/// `Result` is the success, `Result.TaskOpenId` the task and `Result.FailList` the numbers
/// the vendor refused, turned into warnings with each number masked.
pub fn read(_status: u16, body: &[u8]) -> Reading {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Reading::off_shape("the answer is not JSON");
    };
    let request_id = text(answer.pointer("/ResponseMetadata/RequestId"));
    let task_id = text(answer.pointer("/Result/TaskOpenId"));
    let id_present = present(answer.pointer("/Result/TaskOpenId"));
    let error = answer
        .pointer("/ResponseMetadata/Error")
        .filter(|e| !e.is_null());
    match error {
        Some(error) => match text(error.get("Code")) {
            Some(code) => Reading {
                shaped: true,
                error_code: Some(code),
                message: message(error.get("Message")),
                task_id,
                id_present,
                request_id,
                ..Reading::default()
            },
            None => Reading {
                message: message(error.get("Message")),
                task_id,
                id_present,
                request_id,
                ..Reading::off_shape("an error without a `Code`")
            },
        },
        None => {
            let result = answer.get("Result").filter(|r| r.is_object());
            Reading {
                shaped: result.is_some(),
                success_code: result.is_some(),
                warnings: fail_list(answer.pointer("/Result/FailList")),
                task_id,
                id_present,
                request_id,
                ..Reading::off_shape("no ResponseMetadata.Error and no Result")
            }
        }
    }
}

/// One warning per refused number: `PhoneList[3] 137****0001: REDUPLICATED_ITEM 重复项目`.
/// The task exists, so a `FailList` in an unexpected shape is a warning too, not a failure.
/// At most `driver::MAX_ROW_WARNINGS`, then "and N more".
fn fail_list(list: Option<&Value>) -> Vec<String> {
    let Some(list) = list.filter(|l| !l.is_null()) else {
        return Vec::new();
    };
    let Some(items) = list.as_array() else {
        return vec![
            "the answer's FailList could not be read: check the task's numbers in the console"
                .into(),
        ];
    };
    let mut warnings: Vec<String> = items
        .iter()
        .take(MAX_ROW_WARNINGS)
        .map(|item| {
            let index = text(item.get("Index")).unwrap_or_else(|| "?".into());
            let number = text(item.get("Phone"))
                .map(|p| format!(" {}", phone::mask(&p)))
                .unwrap_or_default();
            let reason = [message(item.get("Type")), message(item.get("Desc"))]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            format!("PhoneList[{index}]{number}: {reason}")
        })
        .collect();
    if items.len() > MAX_ROW_WARNINGS {
        warnings.push(format!("and {} more", items.len() - MAX_ROW_WARNINGS));
    }
    warnings
}

// ---- reading back, steering and updating a task (volcengine-vms-task-lifecycle.md,
// "VL" §4.2-4.8) -----------------------------------------------------------------------

/// Rows a `QueryTaskList` page asks for (`Limit`) \[choice\]: the SDK's default is 10 and
/// no maximum is given (VL §4.2); 50 keeps a name's candidates on one page.
pub const FIND_PAGE_SIZE: u32 = 50;

/// One signed action: `POST /?Action=…&Version=2022-01-01` plus `query`, with `body`.
fn action(
    cx: &Context,
    name: &str,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    target: Option<&str>,
) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key = need_secret(&c.access_key, "access_key", Vendor::Volcengine)?;
    let secret_key = need_secret(&c.secret_key, "secret_key", Vendor::Volcengine)?;
    let region = c
        .region
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION);
    let mut full = vec![
        ("Action".to_string(), name.to_string()),
        ("Version".to_string(), "2022-01-01".to_string()),
    ];
    full.extend(query);
    Ok(Request {
        method: "POST",
        path: "/".into(),
        query: full,
        headers: if body.is_some() {
            vec![json_content_type()]
        } else {
            Vec::new()
        },
        body,
        signing: Signing::Volcengine {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: region.into(),
            service: "vms".into(),
        },
        secrets: vec![access_key.into(), secret_key.into()],
        redact: Vec::new(),
        target: target.map(str::to_string),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListQuery<'a> {
    keyword: &'a str,
    limit: u32,
    offset: u64,
}

/// Reads a task back. Volcengine has no get-by-id (VL §4.3); `QueryTaskList` (seen only
/// in the Java SDK, VL §4.2) takes no id either. \[choice\] The id is sent as `Keyword`
/// (whose meaning is not stated), first page of [`FIND_PAGE_SIZE`], and the answer is
/// read for the record whose `TaskOpenId` is the one asked for: when the list does not
/// return it, the read fails (it never says "no such task"), and the task is best looked
/// up by its name ([`build_find`]).
pub fn build_query(task_id: &str, cx: &Context) -> Result<Request, BuildError> {
    let body = json_body(&ListQuery {
        keyword: task_id,
        limit: FIND_PAGE_SIZE,
        offset: 0,
    })?;
    action(cx, "QueryTaskList", Vec::new(), Some(body), Some(task_id))
}

/// `QueryTaskList` with `Keyword` the name, `Limit` [`FIND_PAGE_SIZE`], `Offset` the
/// page's first row (VL §4.2; callers compare names exactly).
pub fn build_find(name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
    let body = json_body(&ListQuery {
        keyword: name,
        limit: FIND_PAGE_SIZE,
        offset: u64::from(page.max(1) - 1) * u64::from(FIND_PAGE_SIZE),
    })?;
    action(cx, "QueryTaskList", Vec::new(), Some(body), None)
}

/// How a verb is done (VL §4.4-4.5): `PauseTask`, `ResumeTask`, `StopTask` (终止: no
/// resume after it). The `State` values being unknown (see [`STATES`]), a task whose
/// state callform cannot read is still sent the verb \[choice\]: every state reads as
/// `Unknown` here, and the vendor, which knows the state, refuses what does not apply.
pub fn verb(verb: Verb, from: Lifecycle) -> VerbRule {
    if from != Lifecycle::Unknown {
        if let Some(rule) = common_rule(verb, from) {
            return rule;
        }
    }
    let unknown = from == Lifecycle::Unknown;
    match verb {
        Verb::Pause => VerbRule::Send {
            action: "PauseTask",
            note: unknown.then_some(UNKNOWN_NOTE),
        },
        Verb::Resume => VerbRule::Send {
            action: "ResumeTask",
            note: unknown.then_some(UNKNOWN_NOTE),
        },
        Verb::Stop => VerbRule::Send {
            action: "StopTask",
            note: Some("terminates the task: Volcengine has no resume after StopTask"),
        },
    }
}

const UNKNOWN_NOTE: &str =
    "Volcengine does not document its task states: callform cannot tell the task's state, the vendor decides";

/// The request of `verb` ([`verb`] says `Send`): `TaskOpenId` in the query string with
/// an empty body, as the Go, Java and Python SDKs send it (VL §4.4; the older page's form
/// body and the newer page's JSON body are not used) \[choice\].
pub fn build_verb(
    v: Verb,
    task_id: &str,
    from: Lifecycle,
    cx: &Context,
) -> Result<Request, BuildError> {
    let VerbRule::Send { action: name, .. } = verb(v, from) else {
        return Err(BuildError(format!(
            "Volcengine has no request to {v} a task that is {from}"
        )));
    };
    action(
        cx,
        name,
        vec![("TaskOpenId".into(), task_id.into())],
        None,
        Some(task_id),
    )
}

/// The top-level spec keys `UpdateTask` carries (VL §4.7): the schedule only. A change to
/// any other key (name, resource, number pool, callees…) stays blocked.
pub const UPDATABLE: &[&str] = &[
    "start_time",
    "end_time",
    "concurrency",
    "ring_again_times",
    "ring_again_interval",
    "forbid_time_list",
];

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Update<'a> {
    task_open_id: &'a str,
    start_time: String,
    end_time: String,
    concurrency: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ring_again_times: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ring_again_interval: Option<i64>,
    forbid_time_list: Vec<Forbid<'a>>,
}

/// `UpdateTask` (VL §4.7): the times (Beijing wall clock, as the create's), `Concurrency`,
/// the ring-again settings when set (unset, the vendor's documented defaults apply, as
/// at create: `Recall` is left at its default, true, so they are applied) and
/// `ForbidTimeList`, sent `[]` when the manifest has none \[choice\]: so that a list the
/// manifest removed is cleared rather than kept.
pub fn build_update(
    _task: &Task,
    spec: &VolcengineSpec,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    let at = |t: &LocalDateTime, field| {
        beijing(t, cx, field).map(|b| b.strftime("%Y-%m-%d %H:%M:%S").to_string())
    };
    let body = Update {
        task_open_id: task_id,
        start_time: at(&spec.start_time, "start_time")?,
        end_time: at(&spec.end_time, "end_time")?,
        concurrency: spec.concurrency,
        ring_again_times: spec.ring_again_times,
        ring_again_interval: spec.ring_again_interval,
        forbid_time_list: spec
            .forbid_time_list
            .iter()
            .flatten()
            .map(|f| Forbid {
                times: &f.times,
                weekdays: f
                    .weekdays
                    .as_ref()
                    .map(|w| w.iter().map(|d| d.code()).collect()),
            })
            .collect(),
    };
    action(
        cx,
        "UpdateTask",
        Vec::new(),
        Some(json_body(&body)?),
        Some(task_id),
    )
    .map(Some)
}

/// `State` values and what they mean \[choice\]: none. Their meaning is found nowhere
/// (VL §4.2, "not found"), and a guessed table would show false drift and plan wrong
/// verbs; every value reads as `Unknown` with the raw value kept, until a source says.
/// Add `(value, Lifecycle)` pairs here when one does.
pub const STATES: &[(i64, Lifecycle)] = &[];

pub fn lifecycle(state: Option<i64>) -> Lifecycle {
    state
        .and_then(|s| STATES.iter().find(|(v, _)| *v == s).map(|(_, l)| *l))
        .unwrap_or(Lifecycle::Unknown)
}

/// One `Records[]` item (VL §4.2's TaskListItem). Of the managed fields only `Resource`
/// is returned under its create name and form; `StartTime`/`EndTime` are Beijing wall
/// clock (the form's are the project timezone's, which an answer's reading does not
/// know), and `Name` is [`Observed::name`].
fn observed(item: &Value) -> Option<Observed> {
    let task_id = text(item.get("TaskOpenId"))?;
    let state = item.get("State").and_then(Value::as_i64);
    let mut fields = Vec::new();
    if let Some(resource) = item.get("Resource").and_then(Value::as_str) {
        fields.push(("resource".to_string(), Value::String(resource.to_string())));
    }
    Some(Observed {
        task_id,
        name: item
            .get("Name")
            .and_then(Value::as_str)
            .map(phone::mask_phones_in_text),
        status: lifecycle(state),
        raw: text(item.get("State")).unwrap_or_else(|| "(none)".into()),
        called: item.get("CalledNum").and_then(Value::as_u64),
        total: item.get("ListNum").and_then(Value::as_u64),
        created: None,
        fields,
    })
}

/// A read's listing: `Result {Records, Total, Limit, Offset}` (VL §4.2). A query keeps
/// the record of the task asked for and fails without it.
fn read_listing(op: Op, r: &mut Reading, body: &[u8], target: Option<&str>) {
    if !r.success_code || r.error_code.is_some() {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(records) = answer.pointer("/Result/Records").and_then(Value::as_array) else {
        r.shaped = false;
        r.problem = Some("the answer has no `Result.Records` list");
        return;
    };
    let Some(mut tasks) = records.iter().map(observed).collect::<Option<Vec<_>>>() else {
        r.shaped = false;
        r.problem = Some("a record of the list has no readable `TaskOpenId`");
        return;
    };
    let total = answer.pointer("/Result/Total").and_then(Value::as_u64);
    match op {
        Op::Query => {
            tasks.retain(|t| Some(t.task_id.as_str()) == target);
            if tasks.is_empty() {
                r.shaped = false;
                r.problem = Some("the list did not return the task asked for (Volcengine has no lookup by id): look it up by name");
                return;
            }
            r.listing = Some(Listing {
                tasks,
                total: Some(1),
                more: false,
                ..Listing::default()
            });
        }
        Op::Find { page } => {
            let more = more_pages(page, u64::from(FIND_PAGE_SIZE), records.len(), total);
            r.listing = Some(Listing {
                tasks,
                total,
                more,
                ..Listing::default()
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Credentials;
    use crate::manifest::{Source, Spec};
    use crate::vendor::volcengine::spec::{ForbidTime, SelectNumberType, TaskType, Weekday};
    use jiff::tz::TimeZone;

    fn spec() -> VolcengineSpec {
        VolcengineSpec {
            name: None,
            resource: "tts-1".into(),
            number_pool_no: "NP1".into(),
            task_type: Some(TaskType::Tts),
            start_time: LocalDateTime::parse("2027-01-04 09:00").unwrap(),
            end_time: LocalDateTime::parse("2027-01-31 18:00").unwrap(),
            start: None,
            concurrency: 10,
            phone_list: None,
            phone_list_file: None,
            forbid_time_list: Some(vec![ForbidTime {
                times: vec!["12:00-13:30".into()],
                weekdays: Some(vec![Weekday::Sunday]),
            }]),
            sms_config: None,
            select_number_type: Some(SelectNumberType::NumberList),
            number_list: Some(vec!["+86 133-4444-5555".into()]),
            select_number_rule: None,
            max_ring_duration: Some(30),
            ring_again_times: Some(2),
            ring_again_interval: None,
            finish_when_list_end: None,
            unique: None,
            call_record_post_url: None,
            audio_post_url: None,
        }
    }

    /// One callee: a variable in the older `param.` spelling, TTS text, an empty `ext`.
    fn callees() -> crate::manifest::callees::CalleeList {
        crate::manifest::callees::CalleeList::inline(
            vec!["param.name".into(), "tts_content".into(), "ext".into()],
            vec![Row {
                phone: "13700000011".into(),
                values: vec!["张先生".into(), "您好".into(), String::new()],
            }],
        )
    }

    fn build_in(tz: TimeZone, region: Option<&str>) -> Result<Request, BuildError> {
        let task = Task {
            name: "delivery".into(),
            vendor: Vendor::Volcengine,
            provider: "volcengine".into(),
            labels: Default::default(),
            spec: Spec::Volcengine(spec()),
            status: Default::default(),
            callees: Some(callees()),
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        };
        let credentials = Credentials {
            access_key: Some("AKLT-test".into()),
            secret_key: Some("SK-test-secret".into()),
            region: region.map(String::from),
            ..Default::default()
        };
        build(
            &task,
            &spec(),
            &Context {
                timezone: tz,
                credentials,
            },
        )
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(r.body.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn wire_types_follow_the_table_not_the_example() {
        let r = build_in(TimeZone::get("Asia/Shanghai").unwrap(), None).unwrap();
        let b = body(&r);
        assert_eq!(b["Name"], "delivery");
        assert_eq!(b["Type"], 3);
        assert_eq!(b["Start"], false);
        assert_eq!(b["MaxRingDuration"], 30);
        assert_eq!(b["RingAgainTimes"], 2);
        assert_eq!(
            b["ForbidTimeList"],
            serde_json::json!([{"Times": ["12:00-13:30"], "Weekdays": [1]}])
        );
        assert_eq!(b["NumberList"], serde_json::json!(["13344445555"]));
        assert_eq!(b["SelectNumberType"], 1);
        assert_eq!(
            b["PhoneList"],
            serde_json::json!([{"Phone": "13700000011", "PhoneParamJson": "{\"name\":\"张先生\"}", "TtsContent": "您好"}])
        );
        for absent in [
            "RingAgainInterval",
            "SmsConfig",
            "SelectNumberRule",
            "Unique",
            "AudioPostUrl",
        ] {
            assert!(b.get(absent).is_none(), "{absent}");
        }
        assert_eq!(
            r.query,
            vec![
                ("Action".into(), "CreateTask".into()),
                ("Version".into(), "2022-01-01".into())
            ]
        );
        assert_eq!(
            r.headers,
            vec![("Content-Type".to_string(), "application/json".to_string())]
        );
        assert_eq!(
            r.signing,
            Signing::Volcengine {
                access_key: "AKLT-test".into(),
                secret_key: "SK-test-secret".into(),
                region: "cn-north-1".into(),
                service: "vms".into()
            }
        );
    }

    #[test]
    fn region_from_the_provider() {
        let r = build_in(TimeZone::UTC, Some("cn-beijing")).unwrap();
        assert!(matches!(r.signing, Signing::Volcengine { region, .. } if region == "cn-beijing"));
    }

    #[test]
    fn a_utc_project_shifts_beijing_strings_by_eight_hours() {
        let b = body(&build_in(TimeZone::UTC, None).unwrap());
        assert_eq!(
            (b["StartTime"].as_str(), b["EndTime"].as_str()),
            (Some("2027-01-04 17:00:00"), Some("2027-02-01 02:00:00"))
        );
        let b = body(&build_in(TimeZone::get("Asia/Shanghai").unwrap(), None).unwrap());
        assert_eq!(b["StartTime"], "2027-01-04 09:00:00");
    }
}
