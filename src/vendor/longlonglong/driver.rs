//! `longlonglong` `POST /agent-api/new/user/{user_id}/task` with `Authorization: Bearer …`
//! (vendor-docs/longlonglong-task-create.md).
//!
//! Wire quirks, each from the page (and limits.md where the page is ambiguous):
//! - one endpoint, two payloads: `task_type` 6 (old 2.0, the vendor default) or 7 (new
//!   2.0) is always sent, so the payload never depends on a default; the fields of one
//!   payload are refused by validation under the other and never sent;
//! - `task_extras.line` and `task_extras.holiday` are sent even when empty (`[]`), which
//!   the page requires; `line` items are plain ids (old) or `{id, limit}` (new);
//! - `start_time`/`stop_time` are Beijing wall-clock `YYYY-MM-DD HH:MM:SS` and holidays
//!   `{begin, end}` Beijing `YYYY-MM-DD HH:MM` (the examples' `begin`, not two table
//!   cells' `start`), converted from the project timezone; daily `HH:MM` windows go as
//!   written;
//! - switches (`is_call_in`, `end_action`, `redial_enabled`, `redial_new_number_policy`)
//!   are integers 0/1 and enumerations their codes; `group_type` stays a string;
//! - ids are i64 and written exactly (some exceed 2^53); the time-based list's and the
//!   multi-config's `destination_extension` are digit strings, as the page's table has
//!   them (the time-based example id `"215870475195883520"` is above 2^53);
//! - `user_id` is percent-encoded as one path segment.
//!
//! Answers: `{"code":200,"status":"success","message":…,"data":{"id":…}}`, any other
//! `code` an error. The page lists no error codes ([`CREATE_REJECTIONS`] is empty): only
//! HTTP 401/403/429 mean "nothing created"; an id next to any other code is uncertain.
//!
//! Callees (longlonglong-task-lifecycle.md, "LL"): `POST /agent-api/user/{user_id}/task/
//! {task_id}/number` (the synchronous number API, LL:29-48; no `/new/`), `{"data":[{"phone",
//! "name"?, "email"?, "company"?}], "ignore_crm"?, "skip_error"?, "number_add_suffix"?}`,
//! at most [`NUMBER_BATCH`] rows; the options only when `spec.number_options` sets them,
//! `encryption` never. Its success body is not on the pages (LL:15): done on HTTP 2xx with
//! `code` 200 (or `status` "success"), as the create. 6007 (the 2.0 task is running, LL:55)
//! stored nothing; every other error is uncertain (with `skip_error` false the vendor
//! "aborts" mid-list, LL:41). No start: the pages document none (LL:155-157).
//!
//! Reading back, steering, updating (LL §2.2-2.7): `GET …/new/user/{uid}/task/{id}/edit`
//! (the detail, which names no id), `GET …/new/user/{uid}/task?name=&page=&per_page=`,
//! `PUT …/new/user/{uid}/task_stop/{id}` (a pause; no resume and no stop are documented)
//! and `PUT …/new/user/{uid}/task/{id}` with the create's body.

use serde::Serialize;
use serde_json::Value;

use crate::driver::observe::{common_rule, more_pages};
use crate::driver::{
    beijing, check_batch, json_body, json_content_type, message, need, need_secret, present,
    redact_rows, text, BuildError, Context, ErrorClass, Lifecycle, Listing, Observed, Op, Reading,
    Rejection, Request, Signing, Verb, VerbRule,
};
use crate::manifest::callees::Row;
use crate::manifest::time::LocalDateTime;
use crate::manifest::{Task, Vendor};
use crate::vendor::longlonglong::spec::{
    GroupSwitchRule, GroupType, Holiday, Line, LonglonglongSpec, NewCallRule, TaskExtras, TaskType,
};

/// The request body: the page's top-level parameters.
#[derive(Serialize)]
struct Body<'a> {
    name: &'a str,
    task_type: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bridge_group_id: Option<i64>,
    destination_extension: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_group_switch: Option<i64>,
    dial_time_id: i64,
    maximumcall: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_type: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_call_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_action: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    background_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    llm_intention_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score_scheme_id: Option<i64>,
    task_extras: Extras<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_call_rules: Option<Vec<CallRule<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_switch_rule: Option<Vec<SwitchRule<'a>>>,
}

#[derive(Serialize)]
struct Extras<'a> {
    start_time: String,
    stop_time: String,
    holiday: Vec<HolidayWire>,
    line: Vec<LineWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_extension_list: Option<Vec<Timed<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_extension_with_variable_list: Option<Vec<Variable<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_extension_multi_config: Option<Multi<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pop_mode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redial_enabled: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redial_new_number_policy: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redial_interval: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redial_max_times: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redial_conditions: Option<Conditions>,
}

#[derive(Serialize)]
struct HolidayWire {
    begin: String,
    end: String,
}

/// Old 2.0 sends line ids, new 2.0 `{id, limit}` objects.
#[derive(Serialize)]
#[serde(untagged)]
enum LineWire<'a> {
    Id(&'a str),
    WithLimit { id: &'a str, limit: i64 },
}

/// `destination_extension` is a digit string here: the page's parameter table shows it as
/// `"215870475195883520"`, an id above 2^53 that a vendor parsing JSON numbers as doubles
/// would round (only its code examples show a small integer). The multi-config items are
/// strings on the page too; the top-level and variable-list ids are integers in both its
/// table and its examples, and stay integers.
#[derive(Serialize)]
struct Timed<'a> {
    begin: &'a str,
    end: &'a str,
    destination_extension: String,
}

#[derive(Serialize)]
struct Variable<'a> {
    mode: i64,
    values: &'a [String],
    destination_extension: i64,
    sort: i64,
}

#[derive(Serialize)]
struct Multi<'a> {
    dial_mode: i64,
    list: Vec<MultiItem<'a>>,
}

#[derive(Serialize)]
struct MultiItem<'a> {
    destination_extension: &'a str,
    sort: i64,
}

#[derive(Serialize)]
struct Conditions {
    #[serde(skip_serializing_if = "Option::is_none")]
    da_status: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pop_mode: Option<i64>,
}

#[derive(Serialize)]
struct CallRule<'a> {
    re_call_time: &'a str,
    call_interval: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<i64>,
}

#[derive(Serialize)]
struct SwitchRule<'a> {
    switch_start: &'a str,
    switch_end: &'a str,
    group_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_group_id: Option<i64>,
}

pub fn build(task: &Task, spec: &LonglonglongSpec, cx: &Context) -> Result<Request, BuildError> {
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    let body = Body {
        name: task.vendor_name(),
        task_type: spec.task_type().code(),
        sub_user_id: spec.sub_user_id.as_deref(),
        bridge_group_id: spec.bridge_group_id,
        destination_extension: spec.destination_extension,
        is_group_switch: spec.is_group_switch.map(|s| s.code()),
        dial_time_id: spec.dial_time_id,
        maximumcall: spec.maximumcall,
        enable_type: spec.enable_type.map(|e| e.code()),
        group_type: spec.group_type.map(|g| match g {
            GroupType::Group => "group",
            GroupType::Robot => "robot",
        }),
        is_call_in: spec.is_call_in.map(|f| f.code()),
        remark: spec.remark.as_deref(),
        end_action: spec.end_action.map(|f| f.code()),
        background_id: spec.background_id,
        llm_intention_id: spec.llm_intention_id,
        score_scheme_id: spec.score_scheme_id,
        task_extras: extras(&spec.task_extras, spec.task_type(), cx)?,
        new_call_rules: spec.new_call_rules.as_deref().map(call_rules),
        group_switch_rule: spec.group_switch_rule.as_deref().map(switch_rules),
    };
    Ok(Request {
        method: "POST",
        path: format!("/agent-api/new/user/{}/task", path_segment(user_id)),
        query: Vec::new(),
        headers: vec![
            json_content_type(),
            ("Authorization".into(), format!("Bearer {token}")),
        ],
        body: Some(json_body(&body)?),
        signing: Signing::None,
        secrets: vec![token.into()],
        redact: Vec::new(),
        target: None,
    })
}

/// Rows a call of the number API takes: "最多100条" (LL:34) \[seen\].
pub const NUMBER_BATCH: usize = 100;

/// The `data.*` fields callform fills from the columns of the same name: those the page
/// shows (LL:45-48) [choice: its table is cut off after `company`, so no other field is
/// guessed; validation refuses any other column].
pub const NUMBER_FIELDS: [&str; 3] = ["name", "email", "company"];

#[derive(Serialize)]
struct Numbers<'a> {
    data: Vec<std::collections::BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore_crm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_error: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_add_suffix: Option<bool>,
}

/// The number API: one `data` item a row, `phone` and the columns present (an empty value
/// is left out rather than sent as a blank field the vendor might store over a CRM one).
pub fn build_load(
    task: &Task,
    spec: &LonglonglongSpec,
    task_id: &str,
    columns: &[String],
    rows: &[Row],
    cx: &Context,
) -> Result<Request, BuildError> {
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    check_batch(task, columns, rows, NUMBER_BATCH)?;
    if spec.sub_user_id.is_some() {
        return Err(BuildError(format!(
            "task `{}` sets `sub_user_id`, which the number API does not document (LL:48): callform cannot load its callees",
            task.name
        )));
    }
    if let Some(c) = columns
        .iter()
        .find(|c| !NUMBER_FIELDS.contains(&c.as_str()))
    {
        return Err(BuildError(format!(
            "task `{}`: the column `{c}` is none of the number API's fields ({})",
            task.name,
            NUMBER_FIELDS.join(", ")
        )));
    }
    let data = rows
        .iter()
        .map(|r| {
            let mut item = std::collections::BTreeMap::new();
            item.insert("phone", r.phone.as_str());
            for (c, v) in columns.iter().zip(&r.values) {
                if !v.is_empty() {
                    item.insert(c.as_str(), v.as_str());
                }
            }
            item
        })
        .collect();
    let options = spec.number_options.as_ref();
    let body = Numbers {
        data,
        ignore_crm: options.and_then(|o| o.ignore_crm),
        skip_error: options.and_then(|o| o.skip_error),
        number_add_suffix: options.and_then(|o| o.number_add_suffix),
    };
    Ok(Request {
        method: "POST",
        path: format!(
            "/agent-api/user/{}/task/{}/number",
            path_segment(user_id),
            path_segment(task_id)
        ),
        query: Vec::new(),
        headers: vec![
            json_content_type(),
            ("Authorization".into(), format!("Bearer {token}")),
        ],
        body: Some(json_body(&body)?),
        signing: Signing::None,
        secrets: vec![token.into()],
        redact: redact_rows(rows),
        target: Some(task_id.into()),
    })
}

/// None: the pages document no start API (LL:155-157, lifecycle-summary.md:11); callform
/// never starts a longlonglong task (validation refuses `status: running`).
pub fn build_start(
    _task: &Task,
    _spec: &LonglonglongSpec,
    _task_id: &str,
    _cx: &Context,
) -> Result<Option<Request>, BuildError> {
    Ok(None)
}

fn extras<'a>(
    e: &'a TaskExtras,
    task_type: TaskType,
    cx: &Context,
) -> Result<Extras<'a>, BuildError> {
    let at = |t: &LocalDateTime, field: &str, format: &str| {
        beijing(t, cx, &format!("task_extras.{field}")).map(|b| b.strftime(format).to_string())
    };
    let holiday = e
        .holiday
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, Holiday { begin, end })| {
            Ok(HolidayWire {
                begin: at(begin, &format!("holiday[{i}].begin"), "%Y-%m-%d %H:%M")?,
                end: at(end, &format!("holiday[{i}].end"), "%Y-%m-%d %H:%M")?,
            })
        })
        .collect::<Result<_, BuildError>>()?;
    let line = e
        .line
        .iter()
        .flatten()
        .map(|line| match (task_type, line) {
            (TaskType::Old, Line::Id(id)) => Ok(LineWire::Id(id)),
            (TaskType::New, Line::WithLimit { id, limit }) => {
                Ok(LineWire::WithLimit { id, limit: *limit })
            }
            (TaskType::Old, _) => Err(BuildError(
                "old 2.0 (task_type 6) takes plain line ids".into(),
            )),
            (TaskType::New, _) => Err(BuildError(
                "new 2.0 (task_type 7) takes `{id, limit}` lines".into(),
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Extras {
        start_time: at(&e.start_time, "start_time", "%Y-%m-%d %H:%M:%S")?,
        stop_time: at(&e.stop_time, "stop_time", "%Y-%m-%d %H:%M:%S")?,
        holiday,
        line,
        interval_time: e.interval_time,
        destination_extension_list: e.destination_extension_list.as_ref().map(|list| {
            list.iter()
                .map(|t| Timed {
                    begin: &t.begin,
                    end: &t.end,
                    destination_extension: t.destination_extension.to_string(),
                })
                .collect()
        }),
        destination_extension_with_variable_list: e
            .destination_extension_with_variable_list
            .as_ref()
            .map(|list| {
                list.iter()
                    .map(|g| Variable {
                        mode: g.mode.code(),
                        values: &g.values,
                        destination_extension: g.destination_extension,
                        sort: g.sort,
                    })
                    .collect()
            }),
        destination_extension_multi_config: e.destination_extension_multi_config.as_ref().map(
            |m| Multi {
                dial_mode: m.dial_mode.code(),
                list: m
                    .list
                    .iter()
                    .map(|i| MultiItem {
                        destination_extension: &i.destination_extension,
                        sort: i.sort,
                    })
                    .collect(),
            },
        ),
        pop_mode: e.pop_mode.map(|p| p.code()),
        redial_enabled: e.redial_enabled.map(|f| f.code()),
        redial_new_number_policy: e.redial_new_number_policy.map(|f| f.code()),
        redial_interval: e.redial_interval,
        redial_max_times: e.redial_max_times,
        redial_conditions: e.redial_conditions.as_ref().map(|c| Conditions {
            da_status: c
                .da_status
                .as_ref()
                .map(|s| s.iter().map(|d| d.code()).collect()),
            pop_mode: c.pop_mode.map(|p| p.code()),
        }),
    })
}

fn call_rules(rules: &[NewCallRule]) -> Vec<CallRule<'_>> {
    rules
        .iter()
        .map(|r| CallRule {
            re_call_time: &r.re_call_time,
            call_interval: r.call_interval,
            rule_id: r.rule_id,
        })
        .collect()
}

fn switch_rules(rules: &[GroupSwitchRule]) -> Vec<SwitchRule<'_>> {
    rules
        .iter()
        .map(|r| SwitchRule {
            switch_start: &r.switch_start,
            switch_end: &r.switch_end,
            group_id: r.group_id,
            default_group_id: r.default_group_id,
        })
        .collect()
}

/// Percent-encodes a path segment: RFC 3986 unreserved bytes stay, every other byte is
/// `%XX`. A segment of dots is encoded too, or a URL library would resolve it as `.`/`..`.
fn path_segment(s: &str) -> String {
    let all_dots = s.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || (b == b'.' && !all_dots)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The codes that mean a create was refused: none. The create page documents only the
/// success answer, and the lifecycle page's one error code (6007) belongs to the number
/// APIs. A wrong token or throttling is still recognised by its HTTP status (401/403/429,
/// `answer::STATUS_REJECTIONS`); any other error code is uncertain.
pub const CREATE_REJECTIONS: &[Rejection] = &[];

/// The codes that mean a number upload stored nothing: 6007, "2.0任务启动中,请先停止任务"
/// (LL:55, seen on the async page's mirror; the sync route's the same rule \[inferred\]),
/// the task's state: a person pauses it first. Its HTTP status is not stated [choice: 200
/// and 400]. Any other code — a duplicate, a bad row — is uncertain (LL:41).
pub const LOAD_REJECTIONS: &[Rejection] = &[Rejection {
    code: "6007",
    statuses: &[200, 400],
    class: ErrorClass::TaskState,
    source: "LL:55 6007 2.0任务启动中,请先停止任务",
}];

/// The table of `op`. No start is ever sent.
pub fn rejections(op: Op) -> &'static [Rejection] {
    match op {
        Op::Create => CREATE_REJECTIONS,
        Op::LoadCallees { .. } => LOAD_REJECTIONS,
        Op::Start | Op::Query | Op::Find { .. } | Op::Numbers { .. } | Op::Verb(_) | Op::Update => {
            &[]
        }
    }
}

/// What an answer to `op` says: the create's shape for every op; a number upload's
/// success has no documented body beyond `code`/`status` (LL:15, LL:21), so nothing else
/// is required of it, and no id in it is a task id.
///
/// A pause's and an update's success is `code` 200 with `status` "success", both (their
/// bodies are not on the pages, LL §2.4-2.5: the platform's answer shape, LL:15). A read's
/// is the success with its `data` (`read_listing`).
pub fn read_answer(op: Op, status: u16, body: &[u8], target: Option<&str>) -> Reading {
    let mut r = read(status, body);
    if op != Op::Create {
        r.task_id = None;
        r.id_present = false;
        r.target_ok = true;
    }
    match op {
        Op::Verb(_) | Op::Update => {
            let answer = serde_json::from_slice::<Value>(body).ok();
            let field = |k: &str| answer.as_ref().and_then(|a| a.get(k).cloned());
            r.target_ok = text(field("code").as_ref()).as_deref() == Some("200")
                && field("status").as_ref().and_then(Value::as_str) == Some("success");
        }
        Op::Query | Op::Find { .. } => read_listing(op, &mut r, body, target),
        Op::Numbers { page } => read_numbers(page, &mut r, body),
        _ => {}
    }
    r
}

/// What an answer says: `{"code":200,"status":"success","message":…,"data":{"id":…}}`.
/// `code` 200 or `status` "success" is the success code; `data.id` the id.
pub fn read(_status: u16, body: &[u8]) -> Reading {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return Reading::off_shape("the answer is not JSON");
    };
    let code = text(answer.get("code"));
    let said_success = answer.get("status").and_then(Value::as_str) == Some("success");
    let task_id = text(answer.pointer("/data/id"));
    let id_present = present(answer.pointer("/data/id"));
    let message = message(answer.get("message"));
    match code {
        Some(code) => Reading {
            shaped: true,
            success_code: code == "200" || said_success,
            error_code: (code != "200").then_some(code),
            task_id,
            id_present,
            message,
            ..Reading::default()
        },
        None => Reading {
            success_code: said_success,
            task_id,
            id_present,
            message,
            ..Reading::off_shape("the answer has no `code`")
        },
    }
}

// ---- reading back, steering and updating a task (longlonglong-task-lifecycle.md, "LL"
// §2.2-2.7) ----------------------------------------------------------------------------

/// Rows a page of the 2.0 task list asks for (`per_page`) \[choice\]: the page documents
/// the parameter but no maximum (LL §2.2); 50 keeps an answer small and a name's
/// candidates on one page.
pub const FIND_PAGE_SIZE: u32 = 50;

fn bearer_get(token: &str, path: String, query: Vec<(String, String)>) -> Request {
    Request {
        method: "GET",
        path,
        query,
        headers: vec![("Authorization".into(), format!("Bearer {token}"))],
        body: None,
        signing: Signing::None,
        secrets: vec![token.into()],
        redact: Vec::new(),
        target: None,
    }
}

/// The 2.0 detail: `GET /agent-api/new/user/{user_id}/task/{task_id}/edit` (LL §2.3).
pub fn build_query(task_id: &str, cx: &Context) -> Result<Request, BuildError> {
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    let mut r = bearer_get(
        token,
        format!(
            "/agent-api/new/user/{}/task/{}/edit",
            path_segment(user_id),
            path_segment(task_id)
        ),
        Vec::new(),
    );
    r.target = Some(task_id.into());
    Ok(r)
}

/// The 2.0 list by name: `GET /agent-api/new/user/{user_id}/task?name=&page=&per_page=`
/// (LL §2.2; its match is not stated: callers compare exactly).
pub fn build_find(name: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    Ok(bearer_get(
        token,
        format!("/agent-api/new/user/{}/task", path_segment(user_id)),
        vec![
            ("name".into(), name.into()),
            ("page".into(), page.max(1).to_string()),
            ("per_page".into(), FIND_PAGE_SIZE.to_string()),
        ],
    ))
}

/// The number list, `GET /agent-api/user/{user_id}/task/{task_id}/number?page=&per_page=`
/// (LL §2.1, "Related number APIs": the 1.0 route, beside the number API callform loads
/// with, which says it works with 2.0 tasks). What callform reads from it settles an
/// uncertain callee batch (`crate::refresh`). The one place its open points are kept:
///
/// - \[seen\] the path and the parameters `page`, `per_page`, `status[]`, `start_at`,
///   `end_at`, `encryption`; callform sends `page` and `per_page` only (a filter it does
///   not send cannot hide a number);
/// - \[inferred\] the page size: the pages give no maximum; [`NUMBER_PAGE_SIZE`] rows a
///   page, the number API's own limit a call;
/// - \[inferred\] the answer: the platform's list shape (LL §2.2), `{"code":200,
///   "status":"success","meta":{"total","last_page",…},"data":[{"phone",…}]}`, one item a
///   number, its number in `phone` (the field the number API takes);
/// - \[inferred\] numbers come back in clear when `encryption` is not sent (the
///   parameter exists to ask for them otherwise); an entry that is not a full number
///   (masked, encrypted) is counted as unreadable, and a list with any cannot prove a
///   number absent;
/// - \[seen\] `number_add_suffix` stores a repeat with `_` and random characters after
///   it (LL:42): the suffix is cut before comparing;
/// - \[inferred\] the list holds a number as soon as the synchronous number API has
///   answered (the page calls that API synchronous, 同步接口); callform still reads a
///   batch as absent only some minutes after it was sent (`crate::refresh`).
pub fn build_numbers(task_id: &str, page: u32, cx: &Context) -> Result<Request, BuildError> {
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    let mut r = bearer_get(
        token,
        format!(
            "/agent-api/user/{}/task/{}/number",
            path_segment(user_id),
            path_segment(task_id)
        ),
        vec![
            ("page".into(), page.max(1).to_string()),
            ("per_page".into(), NUMBER_PAGE_SIZE.to_string()),
        ],
    );
    r.target = Some(task_id.into());
    Ok(r)
}

/// Rows a page of the number list asks for (`per_page`) \[inferred\]: see [`build_numbers`].
pub const NUMBER_PAGE_SIZE: u32 = 100;

/// A number list's page ([`build_numbers`]): `data` a list of items with `phone`, `meta`
/// with `total` and `last_page`. An answer without `meta.total` is read, but cannot say
/// the list is complete: `more` then follows a full page.
fn read_numbers(page: u32, r: &mut Reading, body: &[u8]) {
    if !r.success_code || r.error_code.is_some() {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(items) = answer.get("data").and_then(Value::as_array) else {
        r.shaped = false;
        r.problem = Some("the number list's `data` is not a list");
        return;
    };
    let mut numbers = crate::driver::Numbers::default();
    for item in items {
        let raw = item.get("phone").and_then(Value::as_str).unwrap_or("");
        // `number_add_suffix` appends `_` and random characters (LL:42).
        let bare = raw.split('_').next().unwrap_or("");
        match crate::phone::normalize(bare) {
            Ok((n, _)) => numbers.clear.push(n),
            Err(_) => numbers.unreadable += 1,
        }
    }
    let meta = answer.get("meta");
    let total = meta.and_then(|m| m.get("total")).and_then(Value::as_u64);
    let last = meta
        .and_then(|m| m.get("last_page"))
        .and_then(Value::as_u64);
    let more = match last {
        Some(last) => u64::from(page) < last,
        None => more_pages(page, u64::from(NUMBER_PAGE_SIZE), items.len(), total),
    };
    r.listing = Some(Listing {
        tasks: Vec::new(),
        numbers,
        total,
        more,
    });
}

/// How a verb is done (LL §2.5-2.7): pause is `PUT …/task_stop/{task_id}`; resume has no
/// documented request (no start API, LL §2.6); stop \[choice\] is `Missing`: `task_stop`
/// only pauses (a person can start the task again in the console), so sending it for a
/// stop would record as terminated a task that may dial again, and the one delete is a
/// 1.0 route not said to work on 2.0 tasks (LL §2.7). The plan offers the pause instead.
pub fn verb(verb: Verb, from: Lifecycle) -> VerbRule {
    if let Some(rule) = common_rule(verb, from) {
        return rule;
    }
    match verb {
        Verb::Pause => VerbRule::Send {
            action: "task_stop",
            note: None,
        },
        Verb::Resume => VerbRule::Missing {
            why: "longlonglong documents no request that starts or resumes a task",
            instead: "start it again in the longlonglong console",
        },
        Verb::Stop => VerbRule::Missing {
            why: "longlonglong documents no terminate: its task_stop only pauses, and its delete is a 1.0 route not said to work on 2.0 tasks",
            instead: "pause it (`status: paused`), then end or delete it in the longlonglong console",
        },
    }
}

/// The request of `verb` ([`verb`] says `Send`): `PUT /agent-api/new/user/{user_id}/
/// task_stop/{task_id}` without a body (LL §2.5; `sub_user_id` never sent).
pub fn build_verb(
    v: Verb,
    task_id: &str,
    from: Lifecycle,
    cx: &Context,
) -> Result<Request, BuildError> {
    if !matches!(verb(v, from), VerbRule::Send { .. }) {
        return Err(BuildError(format!(
            "longlonglong has no request to {v} a task that is {from}"
        )));
    }
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    let token = need_secret(&cx.credentials.token, "token", Vendor::Longlonglong)?;
    let mut r = bearer_get(
        token,
        format!(
            "/agent-api/new/user/{}/task_stop/{}",
            path_segment(user_id),
            path_segment(task_id)
        ),
        Vec::new(),
    );
    r.method = "PUT";
    r.target = Some(task_id.into());
    Ok(r)
}

/// The top-level spec keys the 2.0 update carries (LL §2.4: its parameter table and its
/// request example, which sends the create's fields). Not among them, so a change stays
/// blocked: `task_type` (a task's payload kind), `sub_user_id` (its owner), `enable_type`,
/// `is_call_in`, `score_scheme_id`, `new_call_rules` (absent from both) and
/// `number_options` (the number API's, never in a task body).
pub const UPDATABLE: &[&str] = &[
    "name",
    "bridge_group_id",
    "destination_extension",
    "is_group_switch",
    "dial_time_id",
    "maximumcall",
    "group_type",
    "remark",
    "end_action",
    "background_id",
    "llm_intention_id",
    "task_extras",
    "group_switch_rule",
];

/// The 2.0 update: `PUT /agent-api/new/user/{user_id}/task/{task_id}` with the create's
/// body (LL §2.4: "the request example … sends the same fields as create"), so that a key
/// the manifest no longer sets is cleared as the page says (`bridge_group_id`).
pub fn build_update(
    task: &Task,
    spec: &LonglonglongSpec,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    let mut r = build(task, spec, cx)?;
    let user_id = need(&cx.credentials.user_id, "user_id", Vendor::Longlonglong)?;
    r.method = "PUT";
    r.path = format!(
        "/agent-api/new/user/{}/task/{}",
        path_segment(user_id),
        path_segment(task_id)
    );
    r.target = Some(task_id.into());
    Ok(Some(r))
}

/// A task's state from `enable` with `call_status` (LL §2.2's rule \[seen\]): true/true
/// dialling, true/false waiting to run (its hours), both `Running`; false/false paused.
/// false/true is not in the table: `Unknown`. Without them, the detail's `status` as the
/// 1.0 list numbers it (LL §2.3): 1 paused, 2 running, 3 waiting to run. longlonglong
/// shows no "not started", "finished" or "stopped" state: a task callform created and
/// never started reads as paused (callform never starts one).
pub fn lifecycle(
    enable: Option<bool>,
    call_status: Option<bool>,
    status: Option<i64>,
) -> Lifecycle {
    match (enable, call_status, status) {
        (Some(true), Some(_), _) => Lifecycle::Running,
        (Some(false), Some(false), _) => Lifecycle::Paused,
        (Some(false), Some(true), _) => Lifecycle::Unknown,
        (_, _, Some(1)) => Lifecycle::Paused,
        (_, _, Some(2 | 3)) => Lifecycle::Running,
        _ => Lifecycle::Unknown,
    }
}

/// The spec keys `fields` reads from the detail (and the list).
pub const READ_FIELDS: &[&str] = &[
    "destination_extension",
    "dial_time_id",
    "maximumcall",
    "bridge_group_id",
    "background_id",
    "llm_intention_id",
    "remark",
];

/// The managed fields the detail and the list return under the create's own names
/// (LL §2.2-2.3), integers and text exactly as the canonical form writes them. Left out:
/// `name` ([`Observed::name`]), the enumerations (`end_action`, `group_type`: their wire
/// codes are not the form's words) and `task_extras` (its times are Beijing wall clock,
/// the form's the project timezone, which an answer's reading does not know).
fn fields(item: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for key in READ_FIELDS.iter().copied().filter(|k| *k != "remark") {
        if let Some(n) = item.get(key).and_then(Value::as_i64) {
            out.push((key.to_string(), Value::from(n)));
        }
    }
    if let Some(remark) = item.get("remark").and_then(Value::as_str) {
        out.push((
            "remark".to_string(),
            Value::String(crate::phone::mask_phones_in_text(remark)),
        ));
    }
    out
}

fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// One task of an answer: the list's item (`uuid`) or the detail's `data` (which carries
/// no id \[seen: not among its fields\], so it is the task asked for).
///
/// The list's id is `uuid` (LL §2.2) and the create's `data.id`: an item without either
/// is not read. The detail's `data` is the task asked for unless it carries a `uuid`
/// that is another (an `id` there is not said to be the task's, so it is not compared).
fn observed(item: &Value, asked: Option<&str>) -> Option<Observed> {
    let task_id = match asked {
        Some(asked) => match text(item.get("uuid")) {
            Some(uuid) if uuid != asked => return None,
            _ => asked.to_string(),
        },
        None => text(item.get("uuid")).or_else(|| text(item.get("id")))?,
    };
    let extra = item.get("new_task_extra");
    let enable = flag(item.get("enable")).or_else(|| flag(extra.and_then(|e| e.get("enable"))));
    let call_status =
        flag(extra.and_then(|e| e.get("call_status"))).or_else(|| flag(item.get("call_status")));
    let status = item.get("status").and_then(Value::as_i64);
    let mut raw = Vec::new();
    if let Some(e) = enable {
        raw.push(format!("enable={e}"));
    }
    if let Some(c) = call_status {
        raw.push(format!("call_status={c}"));
    }
    if let Some(s) = status {
        raw.push(format!("status={s}"));
    }
    Some(Observed {
        task_id,
        name: item
            .get("name")
            .and_then(Value::as_str)
            .map(crate::phone::mask_phones_in_text),
        status: lifecycle(enable, call_status, status),
        raw: if raw.is_empty() {
            "(none)".into()
        } else {
            raw.join(" ")
        },
        called: None,
        // `number_count` of the remote task \[inferred: its name; the page lists it
        // without a description\].
        total: extra
            .and_then(|e| e.get("number_count"))
            .and_then(Value::as_u64),
        created: item
            .get("create_datetime")
            .and_then(Value::as_str)
            .map(str::to_string),
        fields: fields(item),
    })
}

/// A read's listing: the detail's `data` object (LL §2.3) or the list's `data` array with
/// `meta {total, current_page, last_page}` (LL §2.2). "No such task" is not documented
/// for the detail: any answer but the success is a failed read, never an absent task.
fn read_listing(op: Op, r: &mut Reading, body: &[u8], target: Option<&str>) {
    if !r.success_code || r.error_code.is_some() {
        return;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let data = answer.get("data");
    match op {
        Op::Query => {
            let Some(item) = data.filter(|d| d.is_object()) else {
                r.shaped = false;
                r.problem = Some("the detail's `data` is not an object");
                return;
            };
            let Some(task) = observed(item, target) else {
                r.shaped = false;
                r.problem = Some("the detail names another task, or none was asked for");
                return;
            };
            r.listing = Some(Listing {
                tasks: vec![task],
                total: Some(1),
                more: false,
                ..Listing::default()
            });
        }
        Op::Find { page } => {
            let Some(items) = data.and_then(Value::as_array) else {
                r.shaped = false;
                r.problem = Some("the list's `data` is not a list");
                return;
            };
            let mut tasks = Vec::with_capacity(items.len());
            for item in items {
                match observed(item, None) {
                    Some(t) => tasks.push(t),
                    None => {
                        r.shaped = false;
                        r.problem = Some("an item of the list has no readable `uuid`");
                        return;
                    }
                }
            }
            let meta = answer.get("meta");
            let total = meta.and_then(|m| m.get("total")).and_then(Value::as_u64);
            let last = meta
                .and_then(|m| m.get("last_page"))
                .and_then(Value::as_u64);
            let more = match last {
                Some(last) => u64::from(page) < last,
                None => more_pages(page, u64::from(FIND_PAGE_SIZE), items.len(), total),
            };
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
    use crate::manifest::codes::Flag;
    use crate::manifest::{Source, Spec};
    use crate::vendor::longlonglong::spec::{DaStatus, PopMode, RedialConditions};
    use jiff::tz::TimeZone;

    fn dt(s: &str) -> LocalDateTime {
        LocalDateTime::parse(s).unwrap()
    }

    fn old() -> LonglonglongSpec {
        LonglonglongSpec {
            name: None,
            task_type: None,
            sub_user_id: None,
            bridge_group_id: None,
            destination_extension: 297,
            is_group_switch: None,
            dial_time_id: 5,
            maximumcall: 0,
            enable_type: None,
            group_type: None,
            is_call_in: None,
            remark: None,
            end_action: None,
            background_id: None,
            llm_intention_id: None,
            score_scheme_id: None,
            task_extras: TaskExtras {
                start_time: dt("2027-01-04 09:00"),
                stop_time: dt("2027-01-31 18:00"),
                holiday: None,
                line: None,
                interval_time: None,
                destination_extension_list: None,
                destination_extension_with_variable_list: None,
                destination_extension_multi_config: None,
                pop_mode: None,
                redial_enabled: None,
                redial_new_number_policy: None,
                redial_interval: None,
                redial_max_times: None,
                redial_conditions: None,
            },
            new_call_rules: None,
            group_switch_rule: None,
            number_options: None,
        }
    }

    fn cx(tz: &str, user_id: &str) -> Context {
        Context {
            timezone: TimeZone::get(tz).unwrap(),
            credentials: Credentials {
                token: Some("tok-2".into()),
                user_id: Some(user_id.into()),
                ..Default::default()
            },
        }
    }

    fn build_with(spec: LonglonglongSpec, cx: &Context) -> Result<Request, BuildError> {
        let task = Task {
            name: "followup".into(),
            vendor: Vendor::Longlonglong,
            provider: "longlonglong".into(),
            labels: Default::default(),
            spec: Spec::Longlonglong(spec.clone()),
            status: Default::default(),
            callees: None,
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        };
        build(&task, &spec, cx)
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(r.body.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn old_default_sends_task_type_and_empty_lists() {
        let r = build_with(old(), &cx("Asia/Shanghai", "u-1")).unwrap();
        assert_eq!(r.path, "/agent-api/new/user/u-1/task");
        assert!(r
            .headers
            .contains(&("Authorization".into(), "Bearer tok-2".into())));
        assert_eq!(r.secrets, vec!["tok-2".to_string()]);
        let b = body(&r);
        assert_eq!(b["task_type"], 6);
        assert_eq!(b["name"], "followup");
        assert_eq!(b["task_extras"]["line"], serde_json::json!([]));
        assert_eq!(b["task_extras"]["holiday"], serde_json::json!([]));
        assert_eq!(b["task_extras"]["start_time"], "2027-01-04 09:00:00");
        for absent in [
            "is_group_switch",
            "remark",
            "new_call_rules",
            "group_switch_rule",
            "sub_user_id",
        ] {
            assert!(b.get(absent).is_none(), "{absent}");
        }
        assert!(b["task_extras"].get("pop_mode").is_none());
    }

    #[test]
    fn user_id_is_one_encoded_path_segment() {
        let r = build_with(old(), &cx("Asia/Shanghai", "a/b c?")).unwrap();
        assert_eq!(r.path, "/agent-api/new/user/a%2Fb%20c%3F/task");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("5832d184-dd53.x_~"), "5832d184-dd53.x_~");
    }

    #[test]
    fn ids_beyond_2_pow_53_are_exact_in_the_body() {
        let mut s = old();
        s.destination_extension = 215_870_475_195_883_520;
        s.bridge_group_id = Some(i64::MAX);
        let r = build_with(s, &cx("Asia/Shanghai", "u")).unwrap();
        let raw = String::from_utf8(r.body.unwrap()).unwrap();
        assert!(
            raw.contains(r#""destination_extension":215870475195883520"#),
            "{raw}"
        );
        assert!(
            raw.contains(r#""bridge_group_id":9223372036854775807"#),
            "{raw}"
        );
    }

    #[test]
    fn a_utc_project_shifts_beijing_strings_by_eight_hours() {
        let mut s = old();
        s.task_extras.stop_time = dt("2027-01-31 18:00");
        s.task_extras.holiday = Some(vec![Holiday {
            begin: dt("2027-01-10 20:00"),
            end: dt("2027-01-11 08:00"),
        }]);
        let b = body(&build_with(s, &cx("UTC", "u")).unwrap());
        let x = &b["task_extras"];
        assert_eq!(x["start_time"], "2027-01-04 17:00:00");
        assert_eq!(x["stop_time"], "2027-02-01 02:00:00");
        assert_eq!(
            x["holiday"],
            serde_json::json!([{"begin": "2027-01-11 04:00", "end": "2027-01-11 16:00"}])
        );
    }

    #[test]
    fn new_payload_sends_codes_and_switches_as_integers() {
        let mut s = old();
        s.task_type = Some(TaskType::New);
        s.end_action = Some(Flag(true));
        s.task_extras.line = Some(vec![Line::WithLimit {
            id: "L1".into(),
            limit: 2,
        }]);
        s.task_extras.pop_mode = Some(PopMode::Reverse);
        s.task_extras.redial_enabled = Some(Flag(true));
        s.task_extras.redial_new_number_policy = Some(Flag(false));
        s.task_extras.redial_conditions = Some(RedialConditions {
            da_status: Some(vec![DaStatus::NoAnswer, DaStatus::UserBlocked]),
            pop_mode: None,
        });
        let b = body(&build_with(s, &cx("Asia/Shanghai", "u")).unwrap());
        let x = &b["task_extras"];
        assert_eq!(b["task_type"], 7);
        assert_eq!(b["end_action"], 1);
        assert_eq!(x["line"], serde_json::json!([{"id": "L1", "limit": 2}]));
        assert_eq!(x["pop_mode"], 2);
        assert_eq!(x["redial_enabled"], 1);
        assert_eq!(x["redial_new_number_policy"], 0);
        assert_eq!(
            x["redial_conditions"],
            serde_json::json!({"da_status": [4, 12]})
        );
    }

    #[test]
    fn the_time_based_dialogue_group_is_an_exact_digit_string() {
        let mut s = old();
        s.task_type = Some(TaskType::New);
        s.task_extras.destination_extension_list =
            Some(vec![crate::vendor::longlonglong::spec::TimedExtension {
                begin: "09:00".into(),
                end: "12:00".into(),
                destination_extension: 215_870_475_195_883_520,
            }]);
        let b = body(&build_with(s, &cx("Asia/Shanghai", "u")).unwrap());
        assert_eq!(
            b["task_extras"]["destination_extension_list"],
            serde_json::json!([{"begin": "09:00", "end": "12:00", "destination_extension": "215870475195883520"}])
        );
    }

    #[test]
    fn a_line_of_the_other_payload_is_refused() {
        let mut s = old();
        s.task_extras.line = Some(vec![Line::WithLimit {
            id: "L1".into(),
            limit: 2,
        }]);
        assert!(build_with(s, &cx("Asia/Shanghai", "u")).is_err());
    }

    #[test]
    fn missing_credentials_name_the_field() {
        let mut c = cx("UTC", "u");
        c.credentials.user_id = None;
        assert!(build_with(old(), &c).unwrap_err().0.contains("`user_id`"));
        let mut c = cx("UTC", "u");
        c.credentials.token = Some(String::new());
        assert!(build_with(old(), &c).unwrap_err().0.contains("`token`"));
    }

    #[test]
    fn the_number_list_is_read_without_suffixes_and_masked_entries_count_as_unreadable() {
        let body = serde_json::to_vec(&serde_json::json!({
            "code": 200, "status": "success", "message": "ok",
            "meta": {"total": 4, "last_page": 2, "current_page": 1, "per_page": 100},
            "data": [
                {"phone": "13700000001"},
                {"phone": "13700000002_ab12cd"},
                {"phone": "137****0003"},
                {"name": "no phone"},
            ]
        }))
        .unwrap();
        let r = read_answer(Op::Numbers { page: 1 }, 200, &body, Some("t"));
        let listing = r.listing.expect("a listing");
        assert_eq!(
            listing.numbers.clear,
            vec!["13700000001".to_string(), "13700000002".to_string()]
        );
        assert_eq!(listing.numbers.unreadable, 2);
        assert_eq!(listing.total, Some(4));
        assert!(listing.more, "page 1 of 2");
        assert!(!format!("{:?}", listing.numbers).contains("137"));
        let refused = serde_json::to_vec(
            &serde_json::json!({"code": 404, "status": "error", "message": "no"}),
        )
        .unwrap();
        assert!(read_answer(Op::Numbers { page: 1 }, 404, &refused, None)
            .listing
            .is_none());
    }
}
