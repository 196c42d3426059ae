//! xfyeta `POST /openapi/outbound/v1/task/create?token=…` (vendor-docs/xfyeta-task-create.md).
//!
//! Success: `{"code":0,"message":"ok","result":{"task_id":"…"}}`. Errors are
//! `{"code":≠0,"message":…}`; the create page documents no error codes, so these follow
//! the one error table of the docs (xfyeta-task-lifecycle.md §1.1, source D) where it has
//! a code, and are the emulator's choice otherwise:
//!
//! | code  | HTTP | when |
//! |-------|------|------|
//! | 10005 | 200  | invalid parameter (the message names it), and the business error fault: `输入参数不正确: robot not found` |
//! | 10001 | 200  | missing or wrong token (`无效的token请求`) |
//! | 10429 | 429  | throttle fault |
//! | 10500 | 500  | 5xx fault |
//!
//! Application errors travel with HTTP 200, as is common for this style of API, so a
//! client must look at `code`; throttling and server errors use 429 and 500 so that a
//! client's generic HTTP handling (retry on 429, `uncertain` on 5xx) applies.
//!
//! Wire facts checked beyond types: `line_num` is one `;`-joined string of numbers
//! (no full-width `；`), `robot_id` a JSON string, `time_range` windows
//! `HH:MM:SS-HH:MM:SS` that do not overlap, `time_begin`/`time_end` 13-digit millisecond
//! timestamps with end after begin, `recall_count` 0–3, and the flag spelled `trubo_mode`.

use crate::emulator::conn::ConnHandle;
use crate::emulator::create::{create as create_task, Answers, NewTask};
use crate::emulator::params::{
    clock_hms, header, json_body, query_pairs, window, Checked, Obj, ParamError,
};
use crate::emulator::server::{Emulator, Incoming};
use crate::emulator::tasks::{RecordedRequest, Vendor};
use crate::sign::constant_time_eq;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
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

fn answer(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

fn invalid(e: &ParamError) -> Response {
    answer(StatusCode::OK, 10005, &format!("输入参数不正确: {e}"))
}

struct XfyetaAnswers;

impl Answers for XfyetaAnswers {
    fn created(&self, task_id: &str) -> Response {
        Json(json!({ "code": 0, "message": "ok", "result": { "task_id": task_id } }))
            .into_response()
    }
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

pub(crate) async fn create(
    State(emu): State<Arc<Emulator>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    incoming: Incoming,
) -> Response {
    let query = match query_pairs(incoming.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(reason) => return invalid(&ParamError::invalid("query", reason)),
    };
    let tokens: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .collect();
    let token_ok = matches!(tokens[..], [token] if constant_time_eq(token.as_bytes(), emu.credentials.xfyeta_token.as_bytes()));
    if !token_ok {
        return answer(StatusCode::OK, 10001, "无效的token请求");
    }
    if let Some((name, _)) = query.iter().find(|(k, _)| k != "token") {
        return invalid(&ParamError::unknown(format!("query.{name}"), &["token"]));
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
    create_task(&emu, &conn, task, &XfyetaAnswers).await
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
        let text = crate::emulator::params::string(item, &path)?;
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
}
