//! Aliyun Dyvmsapi 2017-05-25 `CreateRobotTask` (vendor-docs/aliyun-dyvms-create-robot-task.md):
//! RPC style on `/` (POST or GET), the action and version in `x-acs-action` /
//! `x-acs-version`, the parameters in the query, signed with ACS3-HMAC-SHA256.
//!
//! Success: `{"Code":"OK","Message":"OK","RequestId":"…","Data":"<numeric id>"}`.
//! Errors: `{"Code":…,"Message":…,"RequestId":…}`. The codes follow Aliyun's POP gateway:
//!
//! | Code | HTTP | when |
//! |------|------|------|
//! | `InvalidApi.NotFound` | 404 | action is not CreateRobotTask or version not 2017-05-25 |
//! | `IncompleteSignature` | 400 | no or malformed Authorization, a required header unsigned |
//! | `InvalidSignatureMethod` | 400 | algorithm is not ACS3-HMAC-SHA256 |
//! | `InvalidAccessKeyId.NotFound` | 404 | unknown access key id |
//! | `InvalidTimeStamp.Format` / `.Expired` | 400 | bad `x-acs-date`, or more than 15 min off |
//! | `SignatureDoesNotMatch` | 400 | wrong signature, or body ≠ `x-acs-content-sha256` |
//! | `SignatureNonceUsed` | 400 | `x-acs-signature-nonce` seen before |
//! | `Missing{Param}` | 400 | a required parameter is absent (`MissingDialogId`) |
//! | `InvalidParameter` | 400 | a parameter is invalid or unknown (the message names it) |
//! | `Throttling.User` | 400 | throttle fault (Aliyun answers flow control with 400) |
//! | `isv.DIALOG_NOT_EXIST` | 200 | business error fault (invented, plausible: the `isv.*` business codes come with HTTP 200) |
//! | `InternalError` | 500 | 5xx fault |
//!
//! Throttling with HTTP 400 is deliberate: it is what Aliyun does, and it forces a client
//! to look at `Code` (limits.md names the throttling codes) rather than the status.
//!
//! The page marks every parameter optional; callform requires `DialogId` and `Caller`
//! (limits.md), and so does the emulator. Unknown parameters are refused (the real
//! service ignores them, which would hide a misspelt parameter).

use crate::emulator::conn::ConnHandle;
use crate::emulator::create::{create as create_task, Answers, NewTask};
use crate::emulator::params::{
    header, is_mainland_number, query_pairs, Checked, ParamError, Problem,
};
use crate::emulator::server::{Emulator, Incoming};
use crate::emulator::tasks::{uuid_v4, RecordedRequest, Vendor};
use crate::emulator::verify::{self, SignedRequest};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;
use serde_json::json;

const ACTION: &str = "CreateRobotTask";
const VERSION: &str = "2017-05-25";
const PARAMS: [&str; 10] = [
    "Caller",
    "CorpName",
    "DialogId",
    "IsSelfLine",
    "NumberStatusIdent",
    "RecallInterval",
    "RecallStateCodes",
    "RecallTimes",
    "RetryType",
    "TaskName",
];
/// 200010 power off, 200011 out of service, 200002 busy, 200012 call loss, 200005 unreachable.
const RECALL_STATE_CODES: [&str; 5] = ["200010", "200011", "200002", "200012", "200005"];

/// Whether a request to `/` is meant for Aliyun rather than Volcengine.
pub(crate) fn claims(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| k.as_str().starts_with("x-acs-"))
        || header(headers, "authorization")
            .ok()
            .flatten()
            .is_some_and(|v| v.starts_with("ACS3-"))
}

struct AliyunAnswers {
    request_id: String,
}

impl AliyunAnswers {
    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        (
            status,
            Json(json!({ "Code": code, "Message": message, "RequestId": self.request_id })),
        )
            .into_response()
    }

    fn invalid(&self, e: &ParamError) -> Response {
        match e.problem {
            Problem::Missing => self.error(
                StatusCode::BAD_REQUEST,
                &format!("Missing{}", e.param),
                &format!("{} is mandatory for this action.", e.param),
            ),
            Problem::Invalid | Problem::Unknown => self.error(
                StatusCode::BAD_REQUEST,
                e.code.unwrap_or("InvalidParameter"),
                &format!(
                    "Specified parameter {} is not valid: {}.",
                    e.param, e.reason
                ),
            ),
        }
    }
}

impl Answers for AliyunAnswers {
    fn created(&self, task_id: &str) -> Response {
        Json(
            json!({ "Code": "OK", "Message": "OK", "RequestId": self.request_id, "Data": task_id }),
        )
        .into_response()
    }
    fn throttled(&self) -> Response {
        self.error(
            StatusCode::BAD_REQUEST,
            "Throttling.User",
            "Request was denied due to user flow control.",
        )
    }
    fn server_error(&self) -> Response {
        self.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }
    fn business_error(&self) -> Response {
        self.error(
            StatusCode::OK,
            "isv.DIALOG_NOT_EXIST",
            "话术不存在或未审核通过",
        )
    }
}

pub(crate) async fn create(emu: &Emulator, conn: &ConnHandle, incoming: Incoming) -> Response {
    let answers = AliyunAnswers {
        request_id: uuid_v4().to_ascii_uppercase(),
    };
    let action = header(&incoming.headers, "x-acs-action").ok().flatten();
    let version = header(&incoming.headers, "x-acs-version").ok().flatten();
    if action != Some(ACTION) || version != Some(VERSION) {
        return answers.error(
            StatusCode::NOT_FOUND,
            "InvalidApi.NotFound",
            &format!(
                "Specified api is not found, please check your url and method: \
                 x-acs-action must be {ACTION} and x-acs-version {VERSION}."
            ),
        );
    }
    if incoming.method != Method::POST && incoming.method != Method::GET {
        return answers.error(
            StatusCode::BAD_REQUEST,
            "UnsupportedHTTPMethod",
            "Specified http method is not supported: use POST or GET.",
        );
    }
    let query = match query_pairs(incoming.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(reason) => return answers.invalid(&ParamError::invalid("query", reason)),
    };
    let request = SignedRequest {
        method: incoming.method.as_str(),
        path: incoming.uri.path(),
        query: &query,
        headers: &incoming.headers,
        body: &incoming.body,
    };
    if let Err(e) = verify::aliyun(&request, &emu.credentials, &emu.nonces, Timestamp::now()) {
        return answers.error(e.status, e.code, &e.message);
    }
    if !incoming.body.is_empty() {
        return answers.invalid(&ParamError::invalid(
            "body",
            "must be empty: CreateRobotTask takes its parameters in the query",
        ));
    }
    let name = match validate(&query) {
        Ok(name) => name,
        Err(e) => return answers.invalid(&e),
    };
    let task = NewTask {
        vendor: Vendor::Aliyun,
        name,
        request: RecordedRequest {
            method: incoming.method.to_string(),
            path: incoming.uri.path().to_string(),
            query,
            content_type: header(&incoming.headers, "content-type")
                .ok()
                .flatten()
                .map(str::to_string),
            body: None,
        },
    };
    create_task(emu, conn, task, &answers).await
}

/// Checks the decoded query parameters; returns `TaskName` (empty when not sent).
pub(crate) fn validate(query: &[(String, String)]) -> Checked<String> {
    let mut seen: Vec<&str> = Vec::with_capacity(query.len());
    for (name, _) in query {
        if !PARAMS.contains(&name.as_str()) {
            return Err(ParamError::unknown(name.as_str(), &PARAMS));
        }
        if seen.contains(&name.as_str()) {
            return Err(ParamError::invalid(
                name.as_str(),
                "is given more than once",
            ));
        }
        seen.push(name);
    }
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let require = |name: &str| get(name).ok_or_else(|| ParamError::missing(name));

    let dialog_id = require("DialogId")?;
    if !is_positive_integer(dialog_id) || dialog_id.parse::<i64>().is_err() {
        return Err(ParamError::invalid(
            "DialogId",
            format!("must be a positive 64-bit integer, got {dialog_id:?}"),
        ));
    }

    let callers: Vec<&str> = require("Caller")?.split(',').collect();
    if callers.len() > 1000 {
        return Err(ParamError::invalid(
            "Caller",
            format!("holds 1 to 1000 numbers, got {}", callers.len()),
        ));
    }
    if let Some((i, bad)) = callers
        .iter()
        .enumerate()
        .find(|(_, n)| !is_mainland_number(n))
    {
        return Err(ParamError::invalid(
            "Caller",
            format!("item {i} ({bad:?}) is not a mainland number; numbers are joined by ',' without spaces"),
        ));
    }

    let task_name = get("TaskName").unwrap_or_default();
    let chars = task_name.chars().count();
    if chars > 30 {
        return Err(ParamError::invalid(
            "TaskName",
            format!("has at most 30 characters, got {chars}"),
        ));
    }
    for flag in ["IsSelfLine", "NumberStatusIdent"] {
        if let Some(v) = get(flag) {
            if v != "true" && v != "false" {
                return Err(ParamError::invalid(
                    flag,
                    format!("must be true or false, got {v:?}"),
                ));
            }
        }
    }
    if let Some(v) = get("RetryType") {
        if v != "0" && v != "1" {
            return Err(ParamError::invalid(
                "RetryType",
                format!("must be 0 or 1, got {v:?}"),
            ));
        }
    }
    if let Some(v) = get("RecallTimes") {
        if !(v == "0" || is_positive_integer(v)) || v.parse::<i32>().is_err() {
            return Err(ParamError::invalid(
                "RecallTimes",
                format!("must be an integer ≥ 0, got {v:?}"),
            ));
        }
    }
    if let Some(v) = get("RecallInterval") {
        let minutes = Some(v)
            .filter(|v| is_positive_integer(v))
            .and_then(|v| v.parse::<i32>().ok());
        if minutes.is_none_or(|m| m <= 1) {
            return Err(ParamError::invalid(
                "RecallInterval",
                format!("must be an integer > 1 (minutes), got {v:?}"),
            ));
        }
    }
    if let Some(v) = get("RecallStateCodes") {
        let mut codes = Vec::new();
        for code in v.split(',') {
            if !RECALL_STATE_CODES.contains(&code) {
                return Err(ParamError::invalid(
                    "RecallStateCodes",
                    format!(
                        "{code:?} is not one of 200010,200011,200002,200012,200005 (joined by ',')"
                    ),
                ));
            }
            if codes.contains(&code) {
                return Err(ParamError::invalid(
                    "RecallStateCodes",
                    format!("repeats {code}"),
                ));
            }
            codes.push(code);
        }
    }
    if let Some(v) = get("CorpName") {
        if v.trim().is_empty() {
            return Err(ParamError::invalid(
                "CorpName",
                "must not be empty when sent",
            ));
        }
    }
    Ok(task_name.to_string())
}

/// Digits only, no sign, no leading zero, not empty.
fn is_positive_integer(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Caller", "13700000000,13700000001"),
            ("CorpName", "阿里巴巴通信技术(北京)有限公司"),
            ("DialogId", "1234567"),
            ("IsSelfLine", "false"),
            ("NumberStatusIdent", "true"),
            ("RecallInterval", "5"),
            ("RecallStateCodes", "200010,200011"),
            ("RecallTimes", "1"),
            ("RetryType", "1"),
            ("TaskName", "批量任务测试"),
        ]
    }

    fn with(name: &'static str, value: &'static str) -> Vec<(String, String)> {
        let mut items = full();
        items.retain(|(k, _)| *k != name);
        items.push((name, value));
        params(&items)
    }

    fn without(name: &str) -> Vec<(String, String)> {
        let mut items = full();
        items.retain(|(k, _)| *k != name);
        params(&items)
    }

    #[test]
    fn the_page_example_passes() {
        assert_eq!(validate(&params(&full())).unwrap(), "批量任务测试");
        assert_eq!(
            validate(&params(&[("DialogId", "1"), ("Caller", "13700000000")])).unwrap(),
            ""
        );
    }

    #[test]
    fn task_names_are_counted_in_characters() {
        let thirty: String = "续".repeat(30);
        let q = vec![
            ("DialogId".to_string(), "1".to_string()),
            ("Caller".to_string(), "13700000000".to_string()),
            ("TaskName".to_string(), thirty.clone()),
        ];
        assert!(validate(&q).is_ok());
        let mut q31 = q;
        q31[2].1 = format!("{thirty}续");
        assert_eq!(validate(&q31).unwrap_err().param, "TaskName");
    }

    #[test]
    fn wire_mistakes_are_refused_with_the_parameter_named() {
        let cases = [
            (with("DialogId", "0"), "DialogId"),
            (with("DialogId", "12a"), "DialogId"),
            (with("DialogId", "99999999999999999999"), "DialogId"),
            (with("Caller", "13700000000, 13700000001"), "Caller"),
            (with("Caller", "+8613700000000"), "Caller"),
            (with("Caller", ""), "Caller"),
            (with("IsSelfLine", "False"), "IsSelfLine"),
            (with("NumberStatusIdent", "1"), "NumberStatusIdent"),
            (with("RetryType", "2"), "RetryType"),
            (with("RecallTimes", "-1"), "RecallTimes"),
            (with("RecallInterval", "1"), "RecallInterval"),
            (
                with("RecallStateCodes", "200010;200011"),
                "RecallStateCodes",
            ),
            (with("RecallStateCodes", "200013"), "RecallStateCodes"),
            (
                with("RecallStateCodes", "200010,200010"),
                "RecallStateCodes",
            ),
            (with("Action", "CreateRobotTask"), "Action"),
            (with("callee", "13700000000"), "callee"),
            (without("DialogId"), "DialogId"),
            (without("Caller"), "Caller"),
        ];
        for (query, param) in cases {
            assert_eq!(validate(&query).unwrap_err().param, param, "{query:?}");
        }
        assert_eq!(
            validate(&without("Caller")).unwrap_err().problem,
            Problem::Missing
        );
    }

    #[test]
    fn callers_are_limited_to_a_thousand() {
        let many = vec!["13700000000"; 1001].join(",");
        let q = vec![
            ("DialogId".to_string(), "1".to_string()),
            ("Caller".to_string(), many),
        ];
        assert!(validate(&q).unwrap_err().reason.contains("1001"));
    }

    #[test]
    fn missing_parameters_get_the_gateway_code() {
        let answers = AliyunAnswers {
            request_id: "R".into(),
        };
        let response = answers.invalid(&ParamError::missing("DialogId"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
