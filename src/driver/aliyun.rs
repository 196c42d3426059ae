//! Aliyun Dyvmsapi 2017-05-25 `CreateRobotTask`, RPC style
//! (vendor-docs/aliyun-dyvms-create-robot-task.md, signing.md).
//!
//! Wire quirks:
//! - RPC style: `POST /` with every API parameter in the query and no body; the action and
//!   version are not parameters but headers, which the transport adds when it signs
//!   ([`Signing::Aliyun`], ACS3-HMAC-SHA256);
//! - the API calls the numbers to be dialled `Caller`: the resolved, normalised callees,
//!   comma-joined (1–1000);
//! - booleans are `true`/`false`, `RecallStateCodes` the codes comma-joined; only the
//!   parameters the manifest sets are sent, except `TaskName`, `DialogId` and `Caller`
//!   which callform always sends.
//!
//! Answers: `{"Code":"OK","Message":"OK","RequestId":…,"Data":"4001112222"}`. Errors
//! carry a `Code` that decides the class before the HTTP status does: Aliyun answers
//! throttling with HTTP 400 (or 503), so a client that looked at the status alone would
//! fail a task it should retry.

use serde_json::Value;

use super::{
    is_success, message, need, off_shape, status_class, text, BuildError, Context, ErrorClass,
    Parsed, Request, Signing,
};
use crate::manifest::aliyun::AliyunSpec;
use crate::manifest::{Callees, Task, Vendor};

pub fn build(task: &Task, spec: &AliyunSpec, cx: &Context) -> Result<Request, BuildError> {
    let c = &cx.credentials;
    let access_key_id = need(&c.access_key_id, "access_key_id", Vendor::Aliyun)?;
    let access_key_secret = need(&c.access_key_secret, "access_key_secret", Vendor::Aliyun)?;
    let Callees::Numbers(numbers) = &task.callees else {
        return Err(BuildError(format!(
            "task `{}` has no resolved numbers to call (`Caller`)",
            task.name
        )));
    };
    if numbers.is_empty() {
        return Err(BuildError(format!(
            "task `{}` has no numbers to call (`Caller`)",
            task.name
        )));
    }
    let flag = |b: bool| if b { "true" } else { "false" }.to_string();
    let query = [
        ("TaskName", Some(task.vendor_name().to_string())),
        ("DialogId", Some(spec.dialog_id.to_string())),
        ("Caller", Some(numbers.join(","))),
        ("CorpName", spec.corp_name.clone()),
        ("IsSelfLine", spec.is_self_line.map(flag)),
        ("NumberStatusIdent", spec.number_status_ident.map(flag)),
        ("RetryType", spec.retry_type.map(|n| n.to_string())),
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
    })
}

pub fn parse(status: u16, body: &[u8]) -> Parsed {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return off_shape(status, body, "the answer is not JSON");
    };
    let request_id = text(answer.get("RequestId"));
    match answer.get("Code").and_then(Value::as_str) {
        Some("OK") if is_success(status) => match text(answer.get("Data")) {
            Some(task_id) => Parsed::Created {
                task_id,
                request_id,
                warnings: Vec::new(),
            },
            None => off_shape(status, body, "Code OK but no Data"),
        },
        Some(code) if code != "OK" => Parsed::VendorError {
            class: class(status, code),
            code: code.into(),
            message: message(answer.get("Message")),
            request_id,
        },
        Some(_) => off_shape(status, body, "a success `Code` under an error status"),
        None => off_shape(status, body, "the answer has no `Code`"),
    }
}

/// The code decides (limits.md names the throttling and credential codes), then the status.
fn class(status: u16, code: &str) -> ErrorClass {
    if code == "Throttling"
        || code.starts_with("Throttling.")
        || code == "isv.BUSINESS_LIMIT_CONTROL"
    {
        ErrorClass::Throttled
    } else if code == "SignatureDoesNotMatch"
        || code.starts_with("InvalidAccessKeyId")
        || code.starts_with("Forbidden")
    {
        ErrorClass::Auth
    } else if code.starts_with("isp.")
        || matches!(
            code,
            "InternalError" | "ServiceUnavailable" | "UnknownError"
        )
    {
        // `isp.*` are the service's own failures (`isp.SYSTEM_ERROR`, …): the task may exist.
        ErrorClass::Server
    } else {
        status_class(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Credentials;
    use crate::manifest::aliyun::RecallStateCode;
    use crate::manifest::{Source, Spec};
    use jiff::tz::TimeZone;

    fn spec() -> AliyunSpec {
        AliyunSpec {
            task_name: Some("欠费提醒".into()),
            dialog_id: 1234567,
            callees: None,
            callees_file: Some("n.txt".into()),
            corp_name: None,
            is_self_line: Some(false),
            number_status_ident: None,
            retry_type: Some(1),
            recall_times: None,
            recall_interval: None,
            recall_state_codes: Some(vec![RecallStateCode::Busy, RecallStateCode::Unreachable]),
        }
    }

    fn build_with(callees: Callees, credentials: Credentials) -> Result<Request, BuildError> {
        let task = Task {
            name: "overdue".into(),
            vendor: Vendor::Aliyun,
            provider: "aliyun".into(),
            labels: Default::default(),
            spec: Spec::Aliyun(spec()),
            callees,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
        };
        build(
            &task,
            &spec(),
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
        let numbers = Callees::Numbers(vec!["13700000001".into(), "13700000002".into()]);
        let r = build_with(numbers, keys()).unwrap();
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
                ("Caller", "13700000001,13700000002"),
                ("IsSelfLine", "false"),
                ("RetryType", "1"),
                ("RecallStateCodes", "200002,200005"),
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
    fn refuses_without_numbers_or_keys() {
        assert!(build_with(Callees::None, keys()).is_err());
        let mut k = keys();
        k.access_key_secret = None;
        let err = build_with(Callees::Numbers(vec!["13700000001".into()]), k).unwrap_err();
        assert!(err.0.contains("`access_key_secret`"), "{err}");
    }

    #[test]
    fn reads_the_created_id_and_request_id() {
        let ok = r#"{"Data":"4001112222","Message":"OK","RequestId":"D9CB3933","Code":"OK"}"#;
        assert_eq!(
            parse(200, ok.as_bytes()),
            Parsed::Created {
                task_id: "4001112222".into(),
                request_id: Some("D9CB3933".into()),
                warnings: vec![]
            }
        );
        let numeric = r#"{"Data":4001112222,"Code":"OK","RequestId":"R"}"#;
        assert!(
            matches!(parse(200, numeric.as_bytes()), Parsed::Created { task_id, .. } if task_id == "4001112222")
        );
    }

    #[test]
    fn success_without_data_is_unreadable() {
        for body in [
            r#"{"Code":"OK","RequestId":"R"}"#,
            r#"{"Code":"OK","Data":""}"#,
            "<xml/>",
            r#"{"Data":"1"}"#,
        ] {
            assert!(
                matches!(parse(200, body.as_bytes()), Parsed::Unreadable(_)),
                "{body}"
            );
        }
    }

    #[test]
    fn error_classes_by_code_then_status() {
        let class = |status, code: &str| match parse(
            status,
            format!(r#"{{"Code":"{code}","Message":"m","RequestId":"R"}}"#).as_bytes(),
        ) {
            Parsed::VendorError {
                class,
                code: c,
                request_id,
                ..
            } => {
                assert_eq!((c.as_str(), request_id.as_deref()), (code, Some("R")));
                class
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(class(400, "Throttling.User"), ErrorClass::Throttled);
        assert_eq!(class(503, "Throttling"), ErrorClass::Throttled);
        assert_eq!(
            class(200, "isv.BUSINESS_LIMIT_CONTROL"),
            ErrorClass::Throttled
        );
        assert_eq!(class(404, "InvalidAccessKeyId.NotFound"), ErrorClass::Auth);
        assert_eq!(class(400, "InvalidAccessKeyId.Inactive"), ErrorClass::Auth);
        assert_eq!(class(400, "SignatureDoesNotMatch"), ErrorClass::Auth);
        assert_eq!(class(403, "Forbidden.RAM"), ErrorClass::Auth);
        assert_eq!(class(500, "InternalError"), ErrorClass::Server);
        assert_eq!(class(200, "isv.DIALOG_NOT_EXIST"), ErrorClass::Business);
        assert_eq!(class(400, "InvalidParameter"), ErrorClass::Business);
        assert!(matches!(
            parse(502, b"<html>bad gateway</html>"),
            Parsed::VendorError { class: ErrorClass::Server, code, .. } if code == "HTTP 502"
        ));
    }

    #[test]
    fn messages_are_masked() {
        let body = r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"号码13700000001非法","RequestId":"R"}"#;
        let Parsed::VendorError { message, .. } = parse(200, body.as_bytes()) else {
            panic!()
        };
        assert_eq!(message, "号码137****0001非法");
    }
}
