//! Aliyun Dyvmsapi 2017-05-25 `CreateRobotTask`, RPC style
//! (vendor-docs/aliyun-dyvms-create-robot-task.md, signing.md).
//!
//! Wire quirks:
//! - RPC style: `POST /` with every API parameter in the query and no body; the action and
//!   version are not parameters but headers, which the transport adds when it signs
//!   ([`Signing::Aliyun`], ACS3-HMAC-SHA256);
//! - `Caller` is the calling line: the manifest's `caller`, numbers bought in the console,
//!   normalised and comma-joined (AL:30). The people called are not in the create: they are
//!   uploaded afterwards (`UploadRobotTaskCalledFile`);
//! - booleans are `true`/`false`, `RecallStateCodes` the codes comma-joined; only the
//!   parameters the manifest sets are sent, except the required `TaskName`, `DialogId`,
//!   `Caller`, `NumberStatusIdent` and `RetryType` (AL:38-43), which callform always sends.
//!
//! Answers: `{"Code":"OK","Message":"OK","RequestId":…,"Data":"4001112222"}`. Errors
//! carry a `Code`; [`CREATE_REJECTIONS`] lists the ones that mean "nothing created", each
//! with the HTTP status it comes with (Aliyun answers throttling with HTTP 400).
//!
//! The steps (aliyun-dyvms-robot-task-lifecycle.md, "AL"), RPC-signed like the create:
//! - `UploadRobotTaskCalledFile` (AL:51-62): `Id` (the task), `CalledNumber` comma-joined,
//!   and with variable columns `TtsParamHead=["name",…]` and `TtsParam=[{"number":…,
//!   "params":[…]}]` (compact JSON, params in head order, one item per number in
//!   `CalledNumber` order; `number:"all"` never used). [`UPLOAD_BATCH`] rows a call. Done:
//!   `Code` OK and `Data` the task id sent (AL:60);
//! - `StartRobotTask` (AL:98-102): `TaskId` (not `Id`), `ScheduleTime` (Beijing
//!   `yyyy-MM-dd HH:mm:ss`) when `spec.schedule_time` is set. Done: `Data` `"true"`
//!   (AL:101); `"false"` is uncertain, its meaning not being stated.
//!
//! Reading back and steering (AL §3.2-3.6): `QueryRobotTaskDetail` (`Id`) and
//! `QueryRobotTaskList` (`TaskName`, `PageNo`, `PageSize`), whose `Data` is a JSON string
//! parsed a second time; `StopRobotTask` (pause), `StartRobotTask` (resume),
//! `CancelRobotTask` (stop a running task) and `CancelOrderRobotTask` (one not started),
//! each with `TaskId` and done on `Data: "true"`. No update exists (AL §3.9).

use serde_json::Value;

use crate::driver::observe::{common_rule, more_pages};
use crate::driver::{
    beijing, check_batch, json_body, message, need_secret, present, redact_rows, text, BuildError,
    Context, ErrorClass, Lifecycle, Listing, Observed, Op, Reading, Rejection, Request, Signing,
    Verb, VerbRule,
};
use crate::manifest::callees::Row;
use crate::manifest::{Task, Vendor};
use crate::vendor::aliyun::spec::AliyunSpec;

pub fn build(task: &Task, spec: &AliyunSpec, cx: &Context) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key_id = need_secret(&c.access_key_id, "access_key_id", Vendor::Aliyun)?;
    let access_key_secret = need_secret(&c.access_key_secret, "access_key_secret", Vendor::Aliyun)?;
    if spec.caller.is_empty() {
        return Err(BuildError(format!(
            "task `{}` has no calling line (`Caller`)",
            task.name
        )));
    }
    let flag = |b: bool| if b { "true" } else { "false" }.to_string();
    let query = [
        ("TaskName", Some(task.vendor_name().to_string())),
        ("DialogId", Some(spec.dialog_id.to_string())),
        ("Caller", Some(spec.caller.join(","))),
        ("CorpName", spec.corp_name.clone()),
        ("IsSelfLine", spec.is_self_line.map(flag)),
        ("NumberStatusIdent", Some(flag(spec.number_status_ident))),
        ("RetryType", Some(spec.retry_type.to_string())),
        ("RecallTimes", spec.recall_times.map(|n| n.to_string())),
        (
            "RecallInterval",
            spec.recall_interval.map(|n| n.to_string()),
        ),
        (
            "RecallStateCodes",
            spec.recall_state_codes.as_ref().map(|codes| {
                codes
                    .iter()
                    .map(|c| c.code().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
    ];
    Ok(Request {
        method: "POST",
        path: "/".into(),
        query: query
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
        headers: Vec::new(),
        body: None,
        signing: Signing::Aliyun {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            action: "CreateRobotTask".into(),
            version: "2017-05-25".into(),
        },
        secrets: vec![access_key_id.into(), access_key_secret.into()],
        redact: Vec::new(),
        target: None,
    })
}

/// Rows an `UploadRobotTaskCalledFile` call carries \[choice\]. The page gives no per-call
/// limit (AL:61) and the parameters travel in the query (AL:22), so a call must stay below
/// common request-line limits: with the row budget validation enforces
/// (`spec::MAX_ROW_BYTES`, 320 encoded bytes a row) 50 rows are at most 16 KiB of query.
/// 300,000 rows (the most a task takes, AL:56) are then 6,000 calls, a minute at the QPS
/// cap of 100/s (AL:25).
pub const UPLOAD_BATCH: usize = 50;

const VERSION: &str = "2017-05-25";

fn rpc(
    cx: &Context,
    action: &str,
    query: Vec<(String, String)>,
    task_id: &str,
    redact: Vec<String>,
) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key_id = need_secret(&c.access_key_id, "access_key_id", Vendor::Aliyun)?;
    let access_key_secret = need_secret(&c.access_key_secret, "access_key_secret", Vendor::Aliyun)?;
    Ok(Request {
        method: "POST",
        path: "/".into(),
        query,
        headers: Vec::new(),
        body: None,
        signing: Signing::Aliyun {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            action: action.into(),
            version: VERSION.into(),
        },
        secrets: vec![access_key_id.into(), access_key_secret.into()],
        redact,
        target: Some(task_id.into()),
    })
}

#[derive(serde::Serialize)]
struct TtsItem<'a> {
    number: &'a str,
    params: &'a [String],
}

/// `UploadRobotTaskCalledFile` of `rows` into task `task_id`.
pub fn build_load(
    task: &Task,
    _spec: &AliyunSpec,
    task_id: &str,
    columns: &[String],
    rows: &[Row],
    cx: &Context,
) -> Result<Request, BuildError> {
    check_batch(task, columns, rows, UPLOAD_BATCH)?;
    let numbers: Vec<&str> = rows.iter().map(|r| r.phone.as_str()).collect();
    let mut query = vec![
        ("Id".to_string(), task_id.to_string()),
        ("CalledNumber".to_string(), numbers.join(",")),
    ];
    // Optional per the API metadata (AL:57): sent only when the script has variables.
    if !columns.is_empty() {
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|e| BuildError(format!("TtsParam: {e}")))
        };
        let items: Vec<TtsItem<'_>> = rows
            .iter()
            .map(|r| TtsItem {
                number: &r.phone,
                params: &r.values,
            })
            .collect();
        query.push(("TtsParamHead".into(), text(json_body(&columns)?)?));
        query.push(("TtsParam".into(), text(json_body(&items)?)?));
    }
    rpc(
        cx,
        "UploadRobotTaskCalledFile",
        query,
        task_id,
        redact_rows(rows),
    )
}

/// `StartRobotTask` of task `task_id`, at `spec.schedule_time` when set.
pub fn build_start(
    _task: &Task,
    spec: &AliyunSpec,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    let mut query = vec![("TaskId".to_string(), task_id.to_string())];
    if let Some(at) = &spec.schedule_time {
        let at = beijing(at, cx, "schedule_time")?;
        query.push((
            "ScheduleTime".into(),
            at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        ));
    }
    rpc(cx, "StartRobotTask", query, task_id, Vec::new()).map(Some)
}

/// The codes that mean a create was refused: those limits.md (§ aliyun, "Throttling" and
/// "auth") names. Under which HTTP status each comes is not on the pages in vendor-docs;
/// the statuses are the POP gateway's (Aliyun's error centre for Dyvmsapi, and the
/// emulator's table in `vendor/aliyun/emulator.rs`): flow control with 400, the `isv.*` business
/// limit with 200, an unknown key 404, a bad signature 400, RAM denial 403. The same code
/// under any other status (a 5xx) is uncertain, and so is every code not listed here
/// (`isv.*` business errors included: the pages document none for this API).
pub const CREATE_REJECTIONS: &[Rejection] = &[
    Rejection {
        code: "Throttling.User",
        statuses: &[400],
        class: ErrorClass::Throttled,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): throttling",
    },
    Rejection {
        code: "Throttling",
        statuses: &[400],
        class: ErrorClass::Throttled,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): throttling",
    },
    Rejection {
        code: "isv.BUSINESS_LIMIT_CONTROL",
        statuses: &[200],
        class: ErrorClass::Throttled,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): throttling",
    },
    Rejection {
        code: "InvalidAccessKeyId.NotFound",
        statuses: &[404],
        class: ErrorClass::Auth,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): authentication",
    },
    Rejection {
        code: "SignatureDoesNotMatch",
        statuses: &[400],
        class: ErrorClass::Auth,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): authentication",
    },
    Rejection {
        code: "Forbidden.RAM",
        statuses: &[403],
        class: ErrorClass::Auth,
        source: "docs/vendor-sources.md § aliyun (Dyvmsapi error centre): authentication",
    },
];

/// The table of `op`: the same for the create, the upload, the start, the verbs and the
/// reads. The pages give no error code for any of them (no state refusal of a verb is
/// documented either: a `Data: "false"` is uncertain); the throttling and authentication codes are the POP
/// gateway's, answered before any action runs (limits.md, LM:98-99).
pub fn rejections(_op: Op) -> &'static [Rejection] {
    CREATE_REJECTIONS
}

/// What an answer to `op` says. A step's success carries `Data`: the task id for an
/// upload (AL:60), `"true"` for a start (AL:101) and for every verb (AL §3.4-3.6;
/// `"false"` is uncertain, its meaning not being stated); `Data` is never a new task's id
/// there. A read's `Data` is its listing (`read_listing`).
pub fn read_answer(op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
    let mut r = read(status, body);
    let data = r.task_id.take();
    r.target_ok = match op {
        Op::Create => {
            r.task_id = data;
            return r;
        }
        Op::LoadCallees { .. } => target.is_some() && data.as_deref() == target,
        Op::Start | Op::Verb(_) => data.as_deref() == Some("true"),
        Op::Query | Op::Find { .. } => {
            read_listing(op, &mut r, body, target);
            false
        }
        // Aliyun reports no number list: callform never sends `Numbers` there.
        Op::Update | Op::Numbers { .. } => false,
    };
    r
}

/// What an answer says: `{"Code":"OK","Message":"OK","RequestId":…,"Data":"4001112222"}`,
/// any other `Code` an error.
pub fn read(_status: u16, body: &[u8]) -> Reading {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Reading::off_shape("the answer is not JSON");
    };
    let request_id = text(answer.get("RequestId"));
    let task_id = text(answer.get("Data"));
    let id_present = present(answer.get("Data"));
    let message = message(answer.get("Message"));
    match answer.get("Code").and_then(Value::as_str) {
        // An empty `Code` is no code: not the vendor's error shape.
        Some(code) if !code.trim().is_empty() => Reading {
            shaped: true,
            success_code: code == "OK",
            error_code: (code != "OK").then(|| code.to_string()),
            task_id,
            id_present,
            message,
            request_id,
            ..Reading::default()
        },
        _ => Reading {
            task_id,
            id_present,
            message,
            request_id,
            ..Reading::off_shape("the answer has no `Code`")
        },
    }
}

// ---- reading back and steering a task (aliyun-dyvms-robot-task-lifecycle.md, "AL"
// §3.2-3.9) ----------------------------------------------------------------------------

/// Rows a `QueryRobotTaskList` page asks for (`PageSize`) \[choice\]: the metadata gives
/// no maximum (AL §3.2); 50 keeps a name's candidates on one page.
pub const FIND_PAGE_SIZE: u32 = 50;

/// `QueryRobotTaskDetail` of `Id` (AL §3.3).
pub fn build_query(task_id: &str, cx: &Context) -> Result<Request, BuildError> {
    rpc(
        cx,
        "QueryRobotTaskDetail",
        vec![("Id".into(), task_id.into())],
        task_id,
        Vec::new(),
    )
}

/// `QueryRobotTaskList` by `TaskName`, `PageNo` from 1, [`FIND_PAGE_SIZE`] a page
/// (AL §3.2; its match is not stated: callers compare exactly).
pub fn build_find(name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
    let mut r = rpc(
        cx,
        "QueryRobotTaskList",
        vec![
            ("TaskName".into(), name.into()),
            ("PageNo".into(), page.max(1).to_string()),
            ("PageSize".into(), FIND_PAGE_SIZE.to_string()),
        ],
        "",
        Vec::new(),
    )?;
    r.target = None;
    Ok(r)
}

/// How a verb is done (AL §3.4-3.6): pause `StopRobotTask` (a started task), resume
/// `StartRobotTask` (a paused one, "暂停任务后，您可以调用StartRobotTask接口启动任务"), stop
/// `CancelRobotTask` of a running task ("仅可终止进行中的任务") or `CancelOrderRobotTask` of
/// one not started ("取消还未启动的定时智能语音任务"). A paused task cannot be terminated.
pub fn verb(verb: Verb, from: Lifecycle) -> VerbRule {
    if let Some(rule) = common_rule(verb, from) {
        return rule;
    }
    match (verb, from) {
        (Verb::Pause, _) => VerbRule::Send {
            action: "StopRobotTask",
            note: Some("Aliyun's StopRobotTask pauses: StartRobotTask resumes it"),
        },
        (Verb::Resume, _) => VerbRule::Send {
            action: "StartRobotTask",
            note: None,
        },
        (Verb::Stop, Lifecycle::NotStarted) => VerbRule::Send {
            action: "CancelOrderRobotTask",
            note: Some("cancels the scheduled start of a task that never ran; it cannot be started again"),
        },
        (Verb::Stop, Lifecycle::Running) => VerbRule::Send {
            action: "CancelRobotTask",
            note: Some("terminates the task: Aliyun never resumes a terminated task"),
        },
        (Verb::Stop, _) => VerbRule::Missing {
            why: "Aliyun terminates only a running task (CancelRobotTask); a paused one is refused",
            instead: "resume it and stop it in one reviewed step each, or terminate it in the Aliyun console",
        },
    }
}

/// The request of `verb` ([`verb`] says `Send`): its action with `TaskId` (AL §3.4-3.6;
/// a resume sends no `ScheduleTime`: it continues now).
pub fn build_verb(
    v: Verb,
    task_id: &str,
    from: Lifecycle,
    cx: &Context,
) -> Result<Request, BuildError> {
    let VerbRule::Send { action, .. } = verb(v, from) else {
        return Err(BuildError(format!(
            "Aliyun has no request to {v} a task that is {from}"
        )));
    };
    rpc(
        cx,
        action,
        vec![("TaskId".into(), task_id.into())],
        task_id,
        Vec::new(),
    )
}

/// Aliyun's `status` (AL §3.2, the same for the detail) in the common set. `READY` (准备
/// 开始) and `DISPATCH` (解析中) are `Running` \[choice\]: the task was started and dials by
/// itself without another request. `EXCUTING` is the API's spelling; any other spelling,
/// like every value not in the table, is `Unknown`.
pub fn lifecycle(status: &str) -> Lifecycle {
    match status {
        "INIT" => Lifecycle::NotStarted,
        "READY" | "DISPATCH" | "EXCUTING" => Lifecycle::Running,
        "MANUAL_STOP" | "SYSTEM_STOP" | "ARREARS_STOP" => Lifecycle::Paused,
        "CANCEL" | "SYSTEM_CANCEL" => Lifecycle::Stopped,
        "FINISH" => Lifecycle::Finished,
        _ => Lifecycle::Unknown,
    }
}

/// The managed fields the detail returns under the create's parameter names (AL §3.3,
/// camelCase for PascalCase), in the JSON type the canonical form writes. Left out:
/// `caller` (masked in the form), `robotId` (not named `DialogId`), `recallStateCodes`
/// (its text form is not stated; the form writes words) and `taskName`
/// ([`Observed::name`]).
fn fields(item: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(corp) = item.get("corpName").and_then(Value::as_str) {
        out.push((
            "corp_name".to_string(),
            Value::String(crate::phone::mask_phones_in_text(corp)),
        ));
    }
    if let Some(b) = item.get("numberStatusIdent").and_then(Value::as_bool) {
        out.push(("number_status_ident".to_string(), Value::Bool(b)));
    }
    for (wire, key) in [
        ("retryType", "retry_type"),
        ("recallTimes", "recall_times"),
        ("recallInterval", "recall_interval"),
    ] {
        if let Some(n) = item.get(wire).and_then(Value::as_i64) {
            out.push((key.to_string(), Value::from(n)));
        }
    }
    out
}

/// A count the vendor may write as a number or as digits.
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn observed(item: &Value, detail: bool) -> Option<Observed> {
    let task_id = text(item.get("id"))?;
    let raw = item.get("status").and_then(Value::as_str).unwrap_or("");
    Some(Observed {
        task_id,
        name: item
            .get("taskName")
            .and_then(Value::as_str)
            .map(crate::phone::mask_phones_in_text),
        status: lifecycle(raw),
        raw: if raw.is_empty() {
            "(none)".into()
        } else {
            raw.to_string()
        },
        // The list's `finishCount`/`totalCount` (AL §3.2); the detail has none.
        called: count(item.get("finishCount")),
        total: count(item.get("totalCount")),
        created: item
            .get("createTime")
            .and_then(Value::as_str)
            .map(str::to_string),
        fields: if detail { fields(item) } else { Vec::new() },
    })
}

/// A read's listing. `Data` is a JSON *string* (AL common facts): parsed a second time,
/// an object for the detail, an array for the list (with the answer's `TotalCount`, a
/// string). "No such task" is not documented for the detail: any answer but the success
/// with the task in it is a failed read, never an absent task.
fn read_listing(op: Op, r: &mut Reading, body: &[u8], target: Option<&str>) {
    if !r.success_code || r.error_code.is_some() {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(data) = answer
        .get("Data")
        .and_then(Value::as_str)
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    else {
        r.shaped = false;
        r.problem = Some("the answer's `Data` is not a JSON string");
        return;
    };
    match op {
        Op::Query => {
            let task = data.is_object().then(|| observed(&data, true)).flatten();
            match task {
                Some(task) if target.is_none_or(|t| t == task.task_id) => {
                    r.listing = Some(Listing {
                        tasks: vec![task],
                        total: Some(1),
                        more: false,
                        ..Listing::default()
                    });
                }
                Some(_) => {
                    r.shaped = false;
                    r.problem = Some("the detail names another task");
                }
                None => {
                    r.shaped = false;
                    r.problem = Some("the detail's `Data` names no task");
                }
            }
        }
        Op::Find { page } => {
            let Some(items) = data.as_array() else {
                r.shaped = false;
                r.problem = Some("the list's `Data` is not a list");
                return;
            };
            let Some(tasks) = items
                .iter()
                .map(|i| observed(i, false))
                .collect::<Option<Vec<_>>>()
            else {
                r.shaped = false;
                r.problem = Some("an item of the list has no readable `id`");
                return;
            };
            let total = count(answer.get("TotalCount"));
            let more = more_pages(page, u64::from(FIND_PAGE_SIZE), items.len(), total);
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
    use crate::vendor::aliyun::spec::RecallStateCode;
    use jiff::tz::TimeZone;

    fn spec() -> AliyunSpec {
        AliyunSpec {
            task_name: Some("欠费提醒".into()),
            dialog_id: 1234567,
            caller: vec!["057100000001".into(), "057100000002".into()],
            callees: None,
            callees_file: None,
            corp_name: None,
            is_self_line: Some(false),
            number_status_ident: false,
            retry_type: 1,
            recall_times: None,
            recall_interval: None,
            recall_state_codes: Some(vec![
                RecallStateCode::Busy,
                RecallStateCode::NoAnswer,
                RecallStateCode::Unreachable,
            ]),
            schedule_time: None,
        }
    }

    fn build_with(spec: AliyunSpec, credentials: Credentials) -> Result<Request, BuildError> {
        let task = Task {
            name: "overdue".into(),
            vendor: Vendor::Aliyun,
            provider: "aliyun".into(),
            labels: Default::default(),
            spec: Spec::Aliyun(spec.clone()),
            status: Default::default(),
            // The callees are uploaded after the create: never in `Caller`.
            callees: Some(crate::manifest::callees::CalleeList::inline(
                Vec::new(),
                vec![crate::manifest::callees::Row {
                    phone: "13700000009".into(),
                    values: Vec::new(),
                }],
            )),
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        };
        build(
            &task,
            &spec,
            &Context {
                timezone: TimeZone::UTC,
                credentials,
            },
        )
    }

    fn keys() -> Credentials {
        Credentials {
            access_key_id: Some("AKID".into()),
            access_key_secret: Some("SECRET".into()),
            ..Default::default()
        }
    }

    #[test]
    fn parameters_travel_in_the_query_and_only_those_set() {
        let r = build_with(spec(), keys()).unwrap();
        let q: Vec<(&str, &str)> = r
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            q,
            [
                ("TaskName", "欠费提醒"),
                ("DialogId", "1234567"),
                ("Caller", "057100000001,057100000002"),
                ("IsSelfLine", "false"),
                ("NumberStatusIdent", "false"),
                ("RetryType", "1"),
                ("RecallStateCodes", "200002,200003,200005"),
            ]
        );
        assert_eq!(
            (r.method, r.path.as_str(), r.body.as_ref()),
            ("POST", "/", None)
        );
        assert!(r.headers.is_empty());
        assert_eq!(
            r.signing,
            Signing::Aliyun {
                access_key_id: "AKID".into(),
                access_key_secret: "SECRET".into(),
                action: "CreateRobotTask".into(),
                version: "2017-05-25".into()
            }
        );
        assert_eq!(r.secrets, vec!["AKID".to_string(), "SECRET".to_string()]);
    }

    #[test]
    fn refuses_without_a_calling_line_or_keys() {
        let mut none = spec();
        none.caller.clear();
        assert!(build_with(none, keys()).is_err());
        let mut k = keys();
        k.access_key_secret = None;
        let err = build_with(spec(), k).unwrap_err();
        assert!(err.0.contains("`access_key_secret`"), "{err}");
    }
}
