//! The emulator over real HTTP on 127.0.0.1, driven by minimal, correct clients for each
//! vendor written here with `callform::sign` (never with callform's drivers, so the two
//! cannot agree on a mistake).
//!
//! The harness's emulator serves the whole test binary, with its canary credentials; tests
//! run in parallel against it, so every test uses task names of its own, and fault rules
//! match those names only. Tests that need global faults start a second emulator.
//! Nothing here talks to any address but 127.0.0.1, and no test sleeps.

use crate::harness::{self, client};
use callform::emulator::{self, Config, Credentials, Faults};
use callform::sign;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn base_url() -> &'static str {
    harness::emulator().url()
}

fn host() -> &'static str {
    base_url().trim_start_matches("http://")
}

/// Sends and reads a JSON answer.
async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn recorded(vendor: &str) -> Vec<Value> {
    let (status, body) =
        send(client().get(format!("{}/_emulator/tasks?vendor={vendor}", base_url()))).await;
    assert_eq!(status, StatusCode::OK);
    body.as_array().cloned().expect("a task list")
}

async fn recorded_named(vendor: &str, name: &str) -> Vec<Value> {
    recorded(vendor)
        .await
        .into_iter()
        .filter(|t| t["name"] == name)
        .collect()
}

async fn add_rule(rule: Value) {
    let (status, body) = send(
        client()
            .post(format!("{}/_emulator/faults", base_url()))
            .body(rule.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

// ---- xfyeta -------------------------------------------------------------------------

fn xfyeta_body(name: &str) -> Value {
    json!({
        "task_name": name,
        "line_num": "055169101407;055169101408",
        "robot_id": "11",
        "recall_count": 1,
        "time_recall_wait": 600,
        "time_range": ["09:00:00-12:00:00", "13:00:00-17:30:00"],
        "time_begin": 1_890_000_000_000_i64,
        "time_end": 1_890_086_400_000_i64,
        "trubo_mode": true
    })
}

fn xfyeta(token: &str, body: &Value) -> RequestBuilder {
    client()
        .post(format!(
            "{}/openapi/outbound/v1/task/create?token={}",
            base_url(),
            sign::percent_encode(token)
        ))
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

// ---- longlonglong -------------------------------------------------------------------

fn longlonglong_body(name: &str) -> Value {
    json!({
        "name": name,
        "destination_extension": 123,
        "maximumcall": 2,
        "dial_time_id": 5,
        "task_type": 7,
        "task_extras": {
            "start_time": "2030-11-01 09:00:00",
            "stop_time": "2030-12-01 18:00:00",
            "line": [{"id": "29c39ec4-b292-4af9-a88b-922d61866sub", "limit": 2}],
            "holiday": [],
            "pop_mode": 1,
            "redial_enabled": 1,
            "redial_interval": 3,
            "redial_max_times": 3,
            "redial_conditions": {"da_status": [2, 3, 4]}
        }
    })
}

fn longlonglong(user_id: &str, token: &str, body: &Value) -> RequestBuilder {
    client()
        .post(format!("{}/agent-api/new/user/{user_id}/task", base_url()))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {token}"))
        .body(body.to_string())
}

fn longlonglong_ok(body: &Value) -> RequestBuilder {
    longlonglong(harness::LLL_USER, harness::LLL_TOKEN, body)
}

// ---- aliyun -------------------------------------------------------------------------

fn aliyun_params(name: &str) -> Vec<(String, String)> {
    [
        ("TaskName", name),
        ("DialogId", "1234567"),
        // The sandbox account's purchased calling lines (the corrected create).
        ("Caller", "057100000001,057100000002"),
        ("CorpName", "阿里巴巴通信技术(北京)有限公司"),
        ("NumberStatusIdent", "false"),
        ("RetryType", "1"),
        ("RecallTimes", "1"),
        ("RecallInterval", "5"),
        ("RecallStateCodes", "200010,200011"),
        ("IsSelfLine", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A correct Aliyun V3 client, with knobs to get each thing wrong.
struct Aliyun {
    /// The emulator: the shared one unless a test starts its own.
    url: String,
    action: String,
    params: Vec<(String, String)>,
    key_id: String,
    secret: String,
    date: String,
    nonce: String,
    declared_hash: Option<String>,
    body: Vec<u8>,
}

impl Aliyun {
    fn new(params: Vec<(String, String)>) -> Aliyun {
        Aliyun {
            url: base_url().to_string(),
            action: "CreateRobotTask".into(),
            params,
            key_id: harness::ALI_ID.into(),
            secret: harness::ALI_SECRET.into(),
            date: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            nonce: unique("nonce"),
            declared_hash: None,
            body: Vec::new(),
        }
    }

    fn request(&self) -> RequestBuilder {
        let signed = [
            ("host", self.url.trim_start_matches("http://").to_string()),
            ("x-acs-action", self.action.clone()),
            ("x-acs-version", "2017-05-25".to_string()),
            ("x-acs-date", self.date.clone()),
            ("x-acs-signature-nonce", self.nonce.clone()),
            (
                "x-acs-content-sha256",
                self.declared_hash
                    .clone()
                    .unwrap_or_else(|| sign::sha256_hex(&self.body)),
            ),
        ];
        let headers: Vec<(String, String)> = signed
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let authorization = sign::aliyun_authorization(
            &self.key_id,
            &self.secret,
            "POST",
            "/",
            &self.params,
            &headers,
            &self.body,
        );
        let query: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
            .collect();
        let mut request = client()
            .request(Method::POST, format!("{}/?{}", self.url, query.join("&")))
            .header("Authorization", authorization)
            .body(self.body.clone());
        // reqwest sends Host itself ("127.0.0.1:PORT"), exactly the value signed above.
        for (name, value) in signed.iter().filter(|(k, _)| *k != "host") {
            request = request.header(*name, value);
        }
        request
    }
}

// ---- volcengine ---------------------------------------------------------------------

fn volcengine_body(name: &str) -> Value {
    json!({
        "Name": name,
        "Type": 3,
        "Resource": "tts-1",
        "NumberPoolNo": "NP123456",
        "StartTime": "2030-12-01 09:00:00",
        "EndTime": "2030-12-31 18:00:00",
        "Concurrency": 10,
        "Start": false,
        "PhoneList": [
            {"Phone": "13344445555", "TtsContent": "您好", "PhoneParamJson": "{\"name\":\"张三\"}"},
            {"Phone": "13255556666"},
            {"Phone": "13344445555"}
        ],
        "ForbidTimeList": [{"Times": ["12:00-13:30"], "Weekdays": [1, 7]}],
        "RingAgainTimes": 2,
        "RingAgainInterval": 5,
        "SelectNumberRule": 5,
        "CallRecordPostUrl": "https://example.com/cdr"
    })
}

/// A correct Volcengine client, with knobs to get each thing wrong.
struct Volcengine {
    action: String,
    /// Query parameters after Action and Version (the SDKs' TaskOpenId).
    extra: Vec<(String, String)>,
    content_type: String,
    body: Vec<u8>,
    access_key: String,
    secret_key: String,
    region: String,
    x_date: String,
    declared_hash: Option<String>,
}

impl Volcengine {
    fn new(body: &Value) -> Volcengine {
        Volcengine {
            action: "CreateTask".into(),
            extra: Vec::new(),
            content_type: "application/json".into(),
            body: body.to_string().into_bytes(),
            access_key: harness::VOLC_AK.into(),
            secret_key: harness::VOLC_SK.into(),
            region: "cn-north-1".into(),
            x_date: jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string(),
            declared_hash: None,
        }
    }

    fn request(&self) -> RequestBuilder {
        let mut query = vec![
            ("Action".to_string(), self.action.clone()),
            ("Version".to_string(), "2022-01-01".to_string()),
        ];
        query.extend(self.extra.iter().cloned());
        let signed = [
            ("Content-Type", self.content_type.clone()),
            ("Host", host().to_string()),
            ("X-Date", self.x_date.clone()),
            (
                "X-Content-Sha256",
                self.declared_hash
                    .clone()
                    .unwrap_or_else(|| sign::sha256_hex(&self.body)),
            ),
        ];
        let headers: Vec<(String, String)> = signed
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let authorization = sign::volcengine_authorization(
            &self.access_key,
            &self.secret_key,
            &self.region,
            "vms",
            "POST",
            "/",
            &query,
            &headers,
            &self.body,
        );
        let extra: String = self
            .extra
            .iter()
            .map(|(k, v)| format!("&{}={}", sign::percent_encode(k), sign::percent_encode(v)))
            .collect();
        let mut request = client()
            .post(format!(
                "{}/?Action={}&Version=2022-01-01{extra}",
                base_url(),
                self.action
            ))
            .header("Authorization", authorization)
            .body(self.body.clone());
        for (name, value) in signed.iter().filter(|(k, _)| *k != "Host") {
            request = request.header(*name, value);
        }
        request
    }
}

// ---- valid creates ------------------------------------------------------------------

#[tokio::test]
async fn xfyeta_create_succeeds_and_is_recorded_without_its_token() {
    let name = unique("xf-valid");
    let body = xfyeta_body(&name);
    let (status, answer) = send(xfyeta(harness::XF_TOKEN, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["code"], 0, "{answer}");
    assert_eq!(answer["message"], "ok");
    let task_id = answer["result"]["task_id"]
        .as_str()
        .expect("a task id")
        .to_string();

    let tasks = recorded_named("xfyeta", &name).await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task["vendor"], "xfyeta");
    assert_eq!(task["task_id"], task_id.as_str());
    assert_eq!(task["request"]["method"], "POST");
    assert_eq!(task["request"]["path"], "/openapi/outbound/v1/task/create");
    assert_eq!(task["request"]["query"], json!([["token", "***"]]));
    assert_eq!(task["request"]["content_type"], "application/json");
    assert_eq!(task["request"]["body"], body);
    let all = send(client().get(format!("{}/_emulator/tasks", base_url())))
        .await
        .1;
    assert!(!all.to_string().contains(harness::XF_TOKEN));
}

#[tokio::test]
async fn longlonglong_creates_both_payloads() {
    let name = unique("lll-valid");
    let (status, answer) = send(longlonglong_ok(&longlonglong_body(&name))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["message"], "创建任务成功");
    let id = answer["data"]["id"].as_str().expect("an id");
    assert_eq!(id.len(), 36);

    let old_name = unique("lll-old");
    let old = json!({
        "name": old_name,
        "destination_extension": 297,
        "maximumcall": 0,
        "dial_time_id": 5,
        "task_type": 6,
        "task_extras": {
            "start_time": "2030-11-01 09:00:00",
            "stop_time": "2030-12-01 18:00:00",
            "line": [],
            "holiday": [{"begin": "2030-11-10 00:00", "end": "2030-11-12 00:00"}]
        },
        "new_call_rules": [{"re_call_time": "13:30:00", "call_interval": 60}]
    });
    let (status, answer) = send(longlonglong_ok(&old)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let tasks = recorded_named("longlonglong", &old_name).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["task_id"], answer["data"]["id"]);
    assert_eq!(
        tasks[0]["request"]["path"],
        format!("/agent-api/new/user/{}/task", harness::LLL_USER)
    );
}

#[tokio::test]
async fn aliyun_create_succeeds_and_records_the_decoded_query() {
    let name = unique("续费提醒 Q1*~");
    let (status, answer) = send(Aliyun::new(aliyun_params(&name)).request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Code"], "OK");
    assert_eq!(answer["Message"], "OK");
    assert!(answer["RequestId"].as_str().is_some_and(|r| !r.is_empty()));
    let data = answer["Data"].as_str().expect("Data");
    assert!(data.bytes().all(|b| b.is_ascii_digit()), "{data}");

    let tasks = recorded_named("aliyun", &name).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["task_id"], data);
    assert_eq!(tasks[0]["request"]["body"], Value::Null);
    let query = tasks[0]["request"]["query"].as_array().expect("query");
    assert!(query.contains(&json!(["Caller", "057100000001,057100000002"])));
    assert!(query.contains(&json!(["TaskName", name])));
}

#[tokio::test]
async fn volcengine_create_reports_repeated_numbers_and_echoes_the_region() {
    let name = unique("volc-valid");
    let mut call = Volcengine::new(&volcengine_body(&name));
    call.region = "cn-beijing".into();
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let meta = &answer["ResponseMetadata"];
    assert_eq!(meta["Action"], "CreateTask");
    assert_eq!(meta["Version"], "2022-01-01");
    assert_eq!(meta["Service"], "vms");
    assert_eq!(meta["Region"], "cn-beijing");
    assert!(meta.get("Error").is_none());
    let task_id = answer["Result"]["TaskOpenId"].as_str().expect("TaskOpenId");
    assert_eq!(
        answer["Result"]["FailList"],
        json!([{"Index": 2, "Phone": "13344445555", "Type": "REDUPLICATED_ITEM", "Desc": "重复项目"}])
    );
    let tasks = recorded_named("volcengine", &name).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["task_id"], task_id);
    assert_eq!(
        tasks[0]["request"]["query"],
        json!([["Action", "CreateTask"], ["Version", "2022-01-01"]])
    );
}

// ---- authentication -----------------------------------------------------------------

#[tokio::test]
async fn wrong_tokens_are_refused_and_create_nothing() {
    let name = unique("xf-badtoken");
    let (status, answer) = send(xfyeta("not-the-token", &xfyeta_body(&name))).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::OK, Some(10001)),
        "{answer}"
    );
    assert!(recorded_named("xfyeta", &name).await.is_empty());

    let name = unique("lll-badtoken");
    let body = longlonglong_body(&name);
    let (status, answer) = send(longlonglong(harness::LLL_USER, "wrong", &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (answer["code"].as_i64(), answer["status"].as_str()),
        (Some(401), Some("error"))
    );
    let (status, answer) = send(longlonglong("someone-else", harness::LLL_TOKEN, &body)).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    assert!(recorded_named("longlonglong", &name).await.is_empty());
}

#[tokio::test]
async fn aliyun_refuses_wrong_credentials() {
    let name = unique("ali-auth");
    let mut call = Aliyun::new(aliyun_params(&name));
    call.secret = "not-the-secret".into();
    let (status, answer) = send(call.request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SignatureDoesNotMatch"))
    );
    assert!(answer["RequestId"].is_string());

    let mut call = Aliyun::new(aliyun_params(&name));
    call.key_id = "LTAI5tUnknownKey".into();
    let (status, answer) = send(call.request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::NOT_FOUND, Some("InvalidAccessKeyId.NotFound"))
    );

    let unsigned = client()
        .post(format!("{}/?DialogId=1&Caller=13700000000", base_url()))
        .header("x-acs-action", "CreateRobotTask")
        .header("x-acs-version", "2017-05-25");
    let (_, answer) = send(unsigned).await;
    assert_eq!(answer["Code"], "IncompleteSignature");
    assert!(recorded_named("aliyun", &name).await.is_empty());
}

#[tokio::test]
async fn volcengine_refuses_wrong_credentials() {
    let name = unique("volc-auth");
    let mut call = Volcengine::new(&volcengine_body(&name));
    call.secret_key = "not-the-secret".into();
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["ResponseMetadata"]["Error"]["Code"],
        "SignatureDoesNotMatch"
    );

    let mut call = Volcengine::new(&volcengine_body(&name));
    call.access_key = "AKLTUnknown".into();
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer["ResponseMetadata"]["Error"]["Code"],
        "InvalidAccessKey"
    );
    assert!(recorded_named("volcengine", &name).await.is_empty());
}

#[tokio::test]
async fn a_replayed_aliyun_nonce_is_refused() {
    let name = unique("ali-replay");
    let call = Aliyun::new(aliyun_params(&name));
    let (status, first) = send(call.request()).await;
    assert_eq!(
        (status, first["Code"].as_str()),
        (StatusCode::OK, Some("OK")),
        "{first}"
    );
    let (status, replay) = send(call.request()).await;
    assert_eq!(
        (status, replay["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SignatureNonceUsed"))
    );
    assert_eq!(recorded_named("aliyun", &name).await.len(), 1);
}

#[tokio::test]
async fn skewed_dates_are_refused() {
    let twenty_minutes_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(20);
    let name = unique("ali-skew");
    let mut call = Aliyun::new(aliyun_params(&name));
    call.date = twenty_minutes_ago
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, answer) = send(call.request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidTimeStamp.Expired"))
    );

    let name = unique("volc-skew");
    let mut call = Volcengine::new(&volcengine_body(&name));
    call.x_date = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(20))
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["ResponseMetadata"]["Error"]["Code"],
        "InvalidTimestamp"
    );
    assert!(recorded_named("volcengine", &name).await.is_empty());
}

#[tokio::test]
async fn a_body_hash_that_is_not_the_bodys_is_refused() {
    let name = unique("ali-hash");
    let mut call = Aliyun::new(aliyun_params(&name));
    call.declared_hash = Some(sign::sha256_hex(b"something else"));
    let (_, answer) = send(call.request()).await;
    assert_eq!(answer["Code"], "SignatureDoesNotMatch");
    assert!(
        answer["Message"]
            .as_str()
            .is_some_and(|m| m.contains("x-acs-content-sha256")),
        "{answer}"
    );

    let name = unique("volc-hash");
    let mut call = Volcengine::new(&volcengine_body(&name));
    call.declared_hash = Some(sign::sha256_hex(b"{}"));
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let error = &answer["ResponseMetadata"]["Error"];
    assert_eq!(error["Code"], "SignatureDoesNotMatch");
    assert!(
        error["Message"]
            .as_str()
            .is_some_and(|m| m.contains("X-Content-Sha256")),
        "{answer}"
    );
    assert!(recorded_named("volcengine", &name).await.is_empty());
}

// ---- parameter validation -----------------------------------------------------------

#[tokio::test]
async fn xfyeta_invalid_parameters_are_refused_by_name() {
    let name = unique("xf-invalid");
    let cases = [
        ("turbo_mode", json!({"turbo_mode": true})),
        ("line_num", json!({"line_num": ["055169101407"]})),
        ("robot_id", json!({"robot_id": 11})),
        ("time_begin", json!({"time_begin": 1_890_000_000})),
        ("recall_count", json!({"recall_count": 5})),
        ("time_range[0]", json!({"time_range": ["9:00-12:00"]})),
    ];
    for (param, patch) in cases {
        let mut body = xfyeta_body(&name);
        for (k, v) in patch.as_object().expect("patch") {
            body[k] = v.clone();
        }
        let (status, answer) = send(xfyeta(harness::XF_TOKEN, &body)).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::OK, Some(10005)),
            "{param}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(param), "{param}: {message}");
    }
    assert!(recorded_named("xfyeta", &name).await.is_empty());
}

#[tokio::test]
async fn longlonglong_invalid_parameters_are_refused_by_name() {
    let name = unique("lll-invalid");
    type Mutation = fn(&mut Value);
    let mutations: Vec<(&str, Mutation)> = vec![
        ("task_type", |b| {
            b.as_object_mut().map(|o| o.remove("task_type"));
        }),
        ("task_extras.holiday", |b| {
            b["task_extras"]
                .as_object_mut()
                .map(|o| o.remove("holiday"));
        }),
        ("task_extras.redial_enabled", |b| {
            b["task_extras"]["redial_enabled"] = json!(true)
        }),
        ("task_extras.start_time", |b| {
            b["task_extras"]["start_time"] = json!("2030/11/1 09:00")
        }),
        ("maximumcall", |b| b["task_extras"]["line"] = json!([])),
        ("new_call_rules", |b| b["new_call_rules"] = json!([])),
    ];
    for (param, mutate) in mutations {
        let mut body = longlonglong_body(&name);
        mutate(&mut body);
        let (status, answer) = send(longlonglong_ok(&body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{param}: {answer}"
        );
        assert_eq!(
            (answer["code"].as_i64(), answer["status"].as_str()),
            (Some(422), Some("error"))
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(param), "{param}: {message}");
    }
    assert!(recorded_named("longlonglong", &name).await.is_empty());
}

#[tokio::test]
async fn aliyun_invalid_parameters_are_refused_by_name() {
    let name = unique("ali-invalid");
    let set = |param: &str, value: &str| {
        let mut params = aliyun_params(&name);
        params.retain(|(k, _)| k != param);
        params.push((param.to_string(), value.to_string()));
        params
    };
    let cases = [
        (
            "TaskName",
            set("TaskName", &"长".repeat(31)),
            "InvalidParameter",
        ),
        (
            "Caller",
            set("Caller", "13700000000;13700000001"),
            "InvalidParameter",
        ),
        (
            "RecallInterval",
            set("RecallInterval", "1"),
            "InvalidParameter",
        ),
        (
            "RecallStateCodes",
            set("RecallStateCodes", "200010,999999"),
            "InvalidParameter",
        ),
        ("Callee", set("Callee", "13700000000"), "InvalidParameter"),
        (
            "DialogId",
            aliyun_params(&name)
                .into_iter()
                .filter(|(k, _)| k != "DialogId")
                .collect(),
            "MissingDialogId",
        ),
    ];
    for (param, params, code) in cases {
        let (status, answer) = send(Aliyun::new(params).request()).await;
        assert_eq!(
            (status, answer["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{param}: {answer}"
        );
        let message = answer["Message"].as_str().unwrap_or_default();
        assert!(message.contains(param), "{param}: {message}");
    }
    assert!(recorded_named("aliyun", &name).await.is_empty());
}

#[tokio::test]
async fn volcengine_invalid_parameters_are_refused_by_name() {
    let name = unique("volc-invalid");
    let cases = [
        (
            "MaxRingDuration",
            "InvalidParameter",
            json!({"MaxRingDuration": "20"}),
        ),
        (
            "Weekdays[0]",
            "InvalidParameter",
            json!({"ForbidTimeList": [{"Times": ["12:00-13:00"], "Weekdays": [0]}]}),
        ),
        (
            "RingAgainInterval",
            "InvalidParameter",
            json!({"RingAgainInterval": 2}),
        ),
        (
            "NumberList",
            "InvalidParameter",
            json!({"NumberList": ["13344445555"]}),
        ),
        (
            "CallRecordPostUrl",
            "InvalidParameter",
            json!({"CallRecordPostUrl": "http://example.com"}),
        ),
        ("Start", "MissingParameter", json!({"Start": null})),
    ];
    for (param, code, patch) in cases {
        let mut body = volcengine_body(&name);
        for (k, v) in patch.as_object().expect("patch") {
            if v.is_null() {
                body.as_object_mut().map(|o| o.remove(k));
            } else {
                body[k] = v.clone();
            }
        }
        let (status, answer) = send(Volcengine::new(&body).request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{param}: {answer}");
        let error = &answer["ResponseMetadata"]["Error"];
        assert_eq!(error["Code"], code, "{param}: {answer}");
        let message = error["Message"].as_str().unwrap_or_default();
        assert!(message.contains(param), "{param}: {message}");
    }
    assert!(recorded_named("volcengine", &name).await.is_empty());
}

// ---- faults -------------------------------------------------------------------------

#[tokio::test]
async fn throttle_once_then_success() {
    let name = unique("fault-throttle-xf");
    add_rule(json!({"match": name, "kind": "throttle", "times": 1})).await;
    let (status, answer) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::TOO_MANY_REQUESTS, Some(10429))
    );
    assert!(recorded_named("xfyeta", &name).await.is_empty());
    let (status, answer) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
    assert_eq!((status, answer["code"].as_i64()), (StatusCode::OK, Some(0)));
    assert_eq!(recorded_named("xfyeta", &name).await.len(), 1);

    let name = unique("fault-throttle-ali");
    add_rule(json!({"match": name, "kind": "throttle", "times": 1})).await;
    let (status, answer) = send(Aliyun::new(aliyun_params(&name)).request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Throttling.User"))
    );
    let (_, answer) = send(Aliyun::new(aliyun_params(&name)).request()).await;
    assert_eq!(
        answer["Code"], "OK",
        "a retry is signed afresh and succeeds"
    );
    assert_eq!(recorded_named("aliyun", &name).await.len(), 1);

    let name = unique("fault-throttle-volc");
    add_rule(json!({"match": name, "kind": "throttle", "times": 1})).await;
    let (status, answer) = send(Volcengine::new(&volcengine_body(&name)).request()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        answer["ResponseMetadata"]["Error"]["Code"],
        "RequestLimitExceeded"
    );
    let (status, _) = send(Volcengine::new(&volcengine_body(&name)).request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recorded_named("volcengine", &name).await.len(), 1);
}

#[tokio::test]
async fn a_5xx_creates_the_task_then_answers_500() {
    let name = unique("fault-5xx-lll");
    add_rule(json!({"match": name, "kind": "5xx", "times": 1})).await;
    let (status, answer) = send(longlonglong_ok(&longlonglong_body(&name))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["status"], "error");
    assert_eq!(recorded_named("longlonglong", &name).await.len(), 1);

    let name = unique("fault-5xx-volc");
    add_rule(json!({"match": name, "kind": "5xx"})).await;
    let (status, answer) = send(Volcengine::new(&volcengine_body(&name)).request()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["ResponseMetadata"]["Error"]["Code"], "InternalError");
    assert_eq!(recorded_named("volcengine", &name).await.len(), 1);
}

#[tokio::test]
async fn a_reset_gives_the_client_an_error_and_the_task_exists() {
    let name = unique("fault-reset-xf");
    add_rule(json!({"match": name, "kind": "reset", "times": 1})).await;
    let result = xfyeta(harness::XF_TOKEN, &xfyeta_body(&name)).send().await;
    let error = result.expect_err("no answer after a reset");
    assert!(!error.is_timeout(), "{error:?}");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    assert_eq!(recorded_named("xfyeta", &name).await.len(), 1);

    let name = unique("fault-reset-ali");
    add_rule(json!({"match": name, "kind": "reset", "times": 1})).await;
    assert!(Aliyun::new(aliyun_params(&name))
        .request()
        .send()
        .await
        .is_err());
    assert_eq!(recorded_named("aliyun", &name).await.len(), 1);
}

#[tokio::test]
async fn hang_after_create_makes_a_client_time_out_after_the_task_exists() {
    let name = unique("fault-hang-volc");
    add_rule(json!({"match": name, "kind": "hang_after_create", "times": 1})).await;
    let request = Volcengine::new(&volcengine_body(&name))
        .request()
        .timeout(Duration::from_secs(1));
    let error = request.send().await.expect_err("the answer comes too late");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(recorded_named("volcengine", &name).await.len(), 1);
}

#[tokio::test]
async fn business_errors_create_nothing() {
    let name = unique("fault-biz-xf");
    add_rule(json!({"match": name, "kind": "business_error"})).await;
    let (status, answer) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::OK, Some(10005))
    );
    assert_eq!(answer["message"], "输入参数不正确: robot not found");

    let name_lll = unique("fault-biz-lll");
    add_rule(json!({"match": name_lll, "kind": "business_error"})).await;
    let (status, answer) = send(longlonglong_ok(&longlonglong_body(&name_lll))).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::OK, Some(4004))
    );
    assert_eq!(answer["message"], "话术组不存在");

    let name_ali = unique("fault-biz-ali");
    add_rule(json!({"match": name_ali, "kind": "business_error"})).await;
    let (status, answer) = send(Aliyun::new(aliyun_params(&name_ali)).request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::OK, Some("isv.DIALOG_NOT_EXIST"))
    );

    let name_volc = unique("fault-biz-volc");
    add_rule(json!({"match": name_volc, "kind": "business_error"})).await;
    let (status, answer) = send(Volcengine::new(&volcengine_body(&name_volc)).request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["ResponseMetadata"]["Error"]["Code"], "QuotaExceeded");

    assert!(recorded_named("xfyeta", &name).await.is_empty());
    assert!(recorded_named("longlonglong", &name_lll).await.is_empty());
    assert!(recorded_named("aliyun", &name_ali).await.is_empty());
    assert!(recorded_named("volcengine", &name_volc).await.is_empty());
}

#[tokio::test]
async fn fault_rules_can_be_listed_and_deleted_by_pattern() {
    let name = unique("fault-delete");
    add_rule(json!({"match": name, "kind": "5xx"})).await;
    let (_, rules) = send(client().get(format!("{}/_emulator/faults", base_url()))).await;
    assert!(rules
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["match"] == name.as_str())));
    let (status, removed) =
        send(client().delete(format!("{}/_emulator/faults?match={name}", base_url()))).await;
    assert_eq!(
        (status, removed["removed"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (status, answer) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
    assert_eq!((status, answer["code"].as_i64()), (StatusCode::OK, Some(0)));

    let (status, _) = send(
        client()
            .post(format!("{}/_emulator/faults", base_url()))
            .body(r#"{"match":"x","kind":"boom"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        client()
            .post(format!("{}/_emulator/faults", base_url()))
            .body(r#"{"match":"x","kind":"reset","times":0}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        send(client().get(format!("{}/_emulator/tasks?vendor=aws", base_url()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---- global faults and lifecycle ----------------------------------------------------

#[tokio::test]
async fn global_faults_apply_to_every_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = Config {
        credentials: Credentials::sandbox(),
        faults: Faults {
            latency: Duration::from_millis(50),
            error_5xx_rate: 1.0,
            ..Faults::default()
        },
        ..Config::default()
    };
    let running = emulator::spawn(listener, config).await.expect("spawn");
    let url = running.url();
    let started = std::time::Instant::now();
    let request = client()
        .post(format!(
            "{url}/openapi/outbound/v1/task/create?token={}",
            emulator::SANDBOX_XFYETA_TOKEN
        ))
        .header("Content-Type", "application/json")
        .body(xfyeta_body("global").to_string());
    let (status, _) = send(request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(started.elapsed() >= Duration::from_millis(50));
    let (_, tasks) = send(client().get(format!("{url}/_emulator/tasks"))).await;
    assert_eq!(
        tasks.as_array().map(Vec::len),
        Some(1),
        "a 5xx creates the task"
    );
    running.shutdown().await;
    assert!(
        client()
            .get(format!("{url}/_emulator/tasks"))
            .send()
            .await
            .is_err(),
        "stopped"
    );
}

#[tokio::test]
async fn the_emulator_refuses_non_loopback_addresses() {
    for listen in ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0", "example.com:80"] {
        let error = emulator::run(listen, Config::default(), &|_| Ok(()))
            .await
            .expect_err(listen);
        let message = error.to_string();
        assert!(message.contains("loopback"), "{listen}: {message}");
    }
}

// ---- callees and starts: helpers -----------------------------------------------------

/// A number in the reserved test block 1370000xxxx (more than 10,000: 139xxxxxxxx).
fn phone(i: usize) -> String {
    if i < 10_000 {
        format!("1370000{i:04}")
    } else {
        format!("139{i:08}")
    }
}

async fn control(request: RequestBuilder) -> (StatusCode, Value) {
    send(request).await
}

/// The task with this id as `GET /_emulator/tasks` shows it.
async fn task_view(task_id: &str) -> Value {
    let (_, all) = control(client().get(format!("{}/_emulator/tasks", base_url()))).await;
    all.as_array()
        .and_then(|a| a.iter().find(|t| t["task_id"] == task_id).cloned())
        .unwrap_or_else(|| panic!("no task {task_id}"))
}

async fn callees_of(task_id: &str) -> Value {
    let (status, body) =
        control(client().get(format!("{}/_emulator/tasks/{task_id}/callees", base_url()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The task's callee numbers in load order.
async fn phones_of(task_id: &str) -> Vec<String> {
    callees_of(task_id).await["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["phone"].as_str().expect("phone").to_string())
        .collect()
}

async fn counts(task_id: &str) -> (u64, u64, u64, u64) {
    let c = task_view(task_id).await["callees"].clone();
    let n = |k: &str| c[k].as_u64().expect(k);
    (n("count"), n("calls"), n("duplicates"), n("refused"))
}

/// A console start or pause.
async fn set_running(task_id: &str, running: bool) -> Value {
    let (status, body) = control(
        client()
            .post(format!("{}/_emulator/tasks/{task_id}/run", base_url()))
            .body(json!({ "running": running }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn xfyeta_at(route: &str, body: &Value) -> RequestBuilder {
    client()
        .post(format!(
            "{}/openapi/outbound/v1/task/{route}?token={}",
            base_url(),
            sign::percent_encode(harness::XF_TOKEN)
        ))
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

async fn xfyeta_task(prefix: &str) -> (String, String) {
    let name = unique(prefix);
    let (_, answer) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
    let id = answer["result"]["task_id"]
        .as_str()
        .expect("an id")
        .to_string();
    (name, id)
}

/// A `task/insert` body: the number column, then `vars`; one row per number.
fn insert_body(task_id: &str, vars: &[&str], numbers: &[String]) -> Value {
    let mut columns = vec!["客户手机号码".to_string()];
    columns.extend(vars.iter().map(|v| v.to_string()));
    let rows: Vec<Vec<String>> = numbers
        .iter()
        .map(|n| {
            let mut row = vec![n.clone()];
            row.extend(vars.iter().map(|v| format!("{v}-of-{n}")));
            row
        })
        .collect();
    json!({ "task_id": task_id, "call_column": columns, "call_list": rows })
}

fn numbers_at(task_id: &str, body: &Value) -> RequestBuilder {
    client()
        .post(format!(
            "{}/agent-api/user/{}/task/{task_id}/number",
            base_url(),
            harness::LLL_USER
        ))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {}", harness::LLL_TOKEN))
        .body(body.to_string())
}

async fn longlonglong_task(prefix: &str) -> (String, String) {
    let name = unique(prefix);
    let (_, answer) = send(longlonglong_ok(&longlonglong_body(&name))).await;
    let id = answer["data"]["id"].as_str().expect("an id").to_string();
    (name, id)
}

fn rows(numbers: &[String]) -> Value {
    json!(numbers
        .iter()
        .map(|n| json!({ "phone": n }))
        .collect::<Vec<_>>())
}

fn aliyun_call(action: &str, params: &[(&str, &str)]) -> Aliyun {
    let mut call = Aliyun::new(
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    call.action = action.into();
    call
}

async fn aliyun_task(prefix: &str) -> (String, String) {
    let name = unique(prefix);
    let (_, answer) = send(Aliyun::new(aliyun_params(&name)).request()).await;
    let id = answer["Data"].as_str().expect("Data").to_string();
    (name, id)
}

async fn upload(id: &str, numbers: &[String]) -> (StatusCode, Value) {
    let called = numbers.join(",");
    send(
        aliyun_call(
            "UploadRobotTaskCalledFile",
            &[("Id", id), ("CalledNumber", &called)],
        )
        .request(),
    )
    .await
}

fn volcengine_call(action: &str, body: &Value) -> Volcengine {
    let mut call = Volcengine::new(body);
    call.action = action.into();
    call
}

async fn volcengine_task(prefix: &str, patch: Value) -> (String, String, Value) {
    let name = unique(prefix);
    let mut body = volcengine_body(&name);
    for (k, v) in patch.as_object().expect("patch") {
        body[k] = v.clone();
    }
    let (status, answer) = send(Volcengine::new(&body).request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["Result"]["TaskOpenId"]
        .as_str()
        .expect("TaskOpenId")
        .to_string();
    (name, id, answer)
}

fn append_body(task_id: &str, numbers: &[String]) -> Value {
    json!({
        "TaskOpenId": task_id,
        "PhoneList": numbers.iter().map(|n| json!({ "Phone": n })).collect::<Vec<_>>()
    })
}

// ---- xfyeta: task/insert, task/start ---------------------------------------------------

#[tokio::test]
async fn xfyeta_insert_keeps_rows_in_order_and_a_start_closes_the_task() {
    let (_, id) = xfyeta_task("xf-insert").await;
    assert_eq!(task_view(&id).await["run"], "not_started");
    let first = [phone(1), phone(2)];
    let (status, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名", "到期日"], &first),
    ))
    .await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{answer}"
    );
    assert_eq!(answer["message"], "ok");
    assert_eq!(answer["result"]["total"], 2);
    let ids = answer["result"]["task_data_ids"]
        .as_array()
        .expect("ids")
        .clone();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].as_u64() < ids[1].as_u64(), "{ids:?}");

    let second = [phone(3)];
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名", "到期日"], &second),
    ))
    .await;
    assert_eq!(answer["result"]["total"], 1, "{answer}");
    let held = callees_of(&id).await;
    assert_eq!(held["phone_column"], "客户手机号码");
    assert_eq!(held["columns"], json!(["客户姓名", "到期日"]));
    assert_eq!(
        held["rows"][0],
        json!({"phone": phone(1), "vars": {"客户姓名": format!("客户姓名-of-{}", phone(1)), "到期日": format!("到期日-of-{}", phone(1))}})
    );
    assert_eq!(phones_of(&id).await, [phone(1), phone(2), phone(3)]);
    assert_eq!(counts(&id).await, (3, 2, 0, 0));

    let (status, answer) = send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"code": 0, "message": "ok", "result": {}}));
    let view = task_view(&id).await;
    assert_eq!(view["run"], "running");
    assert!(view["started_at"].is_string(), "{view}");

    // No data after start (XL:106), nor after a pause that follows it.
    let late = [phone(4)];
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名", "到期日"], &late),
    ))
    .await;
    assert_eq!(answer["code"], 3_010_199, "{answer}");
    set_running(&id, false).await;
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名", "到期日"], &late),
    ))
    .await;
    assert_eq!(answer["code"], 3_010_199, "{answer}");
    assert_eq!(counts(&id).await, (3, 4, 0, 2));
    // task/start resumes a paused task.
    send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    assert_eq!(task_view(&id).await["run"], "running");
}

#[tokio::test]
async fn xfyeta_insert_refusals_store_nothing() {
    let (_, id) = xfyeta_task("xf-refuse").await;
    let code = |answer: &Value| answer["code"].as_i64();
    // 51 rows: the page's limit is 50 a call.
    let many: Vec<String> = (0..51).map(phone).collect();
    let (_, answer) = send(xfyeta_at("insert", &insert_body(&id, &[], &many))).await;
    assert_eq!(code(&answer), Some(200_213), "{answer}");
    let (_, answer) = send(xfyeta_at("insert", &insert_body(&id, &[], &many[..50]))).await;
    assert_eq!(answer["result"]["total"], 50, "{answer}");
    // call_column is fixed by the first insert.
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名"], &[phone(60)]),
    ))
    .await;
    assert_eq!(code(&answer), Some(200_212), "{answer}");
    // A row shorter than call_column.
    let short = json!({"task_id": id, "call_column": ["客户手机号码"], "call_list": [[phone(61), "extra"]]});
    let (_, answer) = send(xfyeta_at("insert", &short)).await;
    assert_eq!(code(&answer), Some(200_212), "{answer}");
    // The first column must be a mobile number: a fixed line is refused.
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &[], &["057100000001".to_string()]),
    ))
    .await;
    assert_eq!(code(&answer), Some(200_203), "{answer}");
    // A number the task holds, and one given twice: the whole call is refused.
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &[], &[phone(70), phone(0)]),
    ))
    .await;
    assert_eq!(code(&answer), Some(3_030_002), "{answer}");
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body(&id, &[], &[phone(71), phone(71)]),
    ))
    .await;
    assert_eq!(code(&answer), Some(3_030_002), "{answer}");
    assert_eq!(counts(&id).await, (50, 7, 2, 6));
    assert!(!phones_of(&id).await.contains(&phone(70)));

    // Unknown task, wrong token, a numeric task_id.
    let (_, answer) = send(xfyeta_at(
        "insert",
        &insert_body("999999999", &[], &[phone(1)]),
    ))
    .await;
    assert_eq!(code(&answer), Some(200_202));
    let (_, answer) = send(xfyeta_at("start", &json!({"task_id": "999999999"}))).await;
    assert_eq!(code(&answer), Some(200_202));
    let wrong = client()
        .post(format!(
            "{}/openapi/outbound/v1/task/insert?token=nope",
            base_url()
        ))
        .header("Content-Type", "application/json")
        .body(insert_body(&id, &[], &[phone(80)]).to_string());
    assert_eq!(code(&send(wrong).await.1), Some(10001));
    let numeric = json!({"task_id": id.parse::<u64>().expect("digits"), "call_column": ["p"], "call_list": [[phone(81)]]});
    let (_, answer) = send(xfyeta_at("insert", &numeric)).await;
    assert_eq!(code(&answer), Some(10005));
    assert!(answer["message"]
        .as_str()
        .is_some_and(|m| m.contains("task_id")));
    assert_eq!(counts(&id).await, (50, 7, 2, 6));
}

// ---- longlonglong: the number API ---------------------------------------------------------

#[tokio::test]
async fn longlonglong_numbers_load_while_paused_and_6007_while_running() {
    let (_, id) = longlonglong_task("lll-numbers").await;
    assert_eq!(task_view(&id).await["run"], "not_started");
    let body = json!({"data": [
        {"phone": phone(1), "name": "张三", "company": "某公司"},
        {"phone": phone(2), "email": "b@example.com"}
    ]});
    let (status, answer) = send(numbers_at(&id, &body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["code"].as_i64(), answer["status"].as_str()),
        (Some(200), Some("success"))
    );
    let held = callees_of(&id).await;
    assert_eq!(held["columns"], json!(["name", "company", "email"]));
    assert_eq!(
        held["rows"][0]["vars"],
        json!({"name": "张三", "company": "某公司"})
    );
    assert_eq!(held["rows"][1]["vars"], json!({"email": "b@example.com"}));

    // 101 rows, an undocumented field, a missing phone: 422.
    let too_many: Vec<String> = (100..201).map(phone).collect();
    for bad in [
        json!({"data": rows(&too_many)}),
        json!({"data": [{"phone": phone(3), "amount": "1"}]}),
        json!({"data": [{"name": "x"}]}),
    ] {
        let (status, answer) = send(numbers_at(&id, &bad)).await;
        assert_eq!(
            (status, answer["code"].as_i64()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(422)),
            "{answer}"
        );
    }
    assert!(
        send(numbers_at(&id, &json!({"data": rows(&too_many[..100])})))
            .await
            .0
            .is_success()
    );

    // Running: the page's 6007 answer, nothing stored; paused again: accepted.
    set_running(&id, true).await;
    let (status, answer) = send(numbers_at(&id, &json!({"data": rows(&[phone(5)])}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"code": 6007, "status": "error", "message": "2.0任务启动中,请先停止任务", "data": []})
    );
    set_running(&id, false).await;
    assert!(send(numbers_at(&id, &json!({"data": rows(&[phone(5)])})))
        .await
        .0
        .is_success());
    assert_eq!(counts(&id).await, (103, 4, 0, 1));
}

#[tokio::test]
async fn longlonglong_repeats_follow_skip_error_and_number_add_suffix() {
    let (_, id) = longlonglong_task("lll-repeat").await;
    send(numbers_at(&id, &json!({"data": rows(&[phone(1)])}))).await;
    // By default a repeat refuses the call (6001, invented), nothing stored.
    let (_, answer) = send(numbers_at(
        &id,
        &json!({"data": rows(&[phone(2), phone(1)])}),
    ))
    .await;
    assert_eq!(
        (answer["code"].as_i64(), answer["status"].as_str()),
        (Some(6001), Some("error")),
        "{answer}"
    );
    assert_eq!(phones_of(&id).await, [phone(1)]);
    // skip_error: the repeat and a bad number are skipped, the rest stored.
    let body = json!({"data": [{"phone": phone(2)}, {"phone": phone(1)}, {"phone": "12345"}], "skip_error": true});
    let (_, answer) = send(numbers_at(&id, &body)).await;
    assert_eq!(
        answer["data"],
        json!({"success": 1, "skipped": 2}),
        "{answer}"
    );
    // Without skip_error a bad number refuses the call.
    let (status, _) = send(numbers_at(&id, &json!({"data": [{"phone": "12345"}]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // number_add_suffix: the repeat is stored again, with a suffix.
    let body = json!({"data": rows(&[phone(1)]), "number_add_suffix": true});
    assert!(send(numbers_at(&id, &body)).await.0.is_success());
    let phones = phones_of(&id).await;
    assert_eq!(phones.len(), 3);
    assert!(
        phones[2].starts_with(&format!("{}_", phone(1))),
        "{phones:?}"
    );
    assert_eq!(counts(&id).await, (3, 5, 3, 2));

    // Another account's path, an unknown task.
    let other = client()
        .post(format!(
            "{}/agent-api/user/someone-else/task/{id}/number",
            base_url()
        ))
        .header("Authorization", format!("Bearer {}", harness::LLL_TOKEN))
        .header("Content-Type", "application/json")
        .body(json!({"data": rows(&[phone(9)])}).to_string());
    assert_eq!(send(other).await.0, StatusCode::FORBIDDEN);
    let (status, answer) = send(numbers_at(
        &uuid_like(),
        &json!({"data": rows(&[phone(9)])}),
    ))
    .await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}

// ---- aliyun: UploadRobotTaskCalledFile, StartRobotTask ------------------------------------

#[tokio::test]
async fn aliyun_uploads_keep_tts_params_and_a_start_can_be_scheduled() {
    let (_, id) = aliyun_task("ali-upload").await;
    let called = format!("{},{}", phone(1), phone(2));
    let head = r#"["name","amount"]"#;
    let params = format!(
        r#"[{{"number":"{}","params":["张三","100"]}},{{"number":"{}","params":["李四","200"]}}]"#,
        phone(1),
        phone(2)
    );
    let call = aliyun_call(
        "UploadRobotTaskCalledFile",
        &[
            ("Id", &id),
            ("CalledNumber", &called),
            ("TtsParamHead", head),
            ("TtsParam", &params),
        ],
    );
    let (status, answer) = send(call.request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["Code"].as_str(), answer["Data"].as_str()),
        (Some("OK"), Some(id.as_str()))
    );
    let held = callees_of(&id).await;
    assert_eq!(held["columns"], json!(["name", "amount"]));
    assert_eq!(
        held["rows"][1],
        json!({"phone": phone(2), "vars": {"name": "李四", "amount": "200"}})
    );

    // A repeat is stored once, and counted.
    let (_, answer) = upload(&id, &[phone(2), phone(3), phone(3)]).await;
    assert_eq!(answer["Code"], "OK", "{answer}");
    assert_eq!(phones_of(&id).await, [phone(1), phone(2), phone(3)]);
    assert_eq!(counts(&id).await, (3, 2, 2, 0));

    // TtsParam must match its head, name numbers of the call, and come with it.
    for (head, items) in [
        (
            r#"["name"]"#,
            format!(r#"[{{"number":"{}","params":["a","b"]}}]"#, phone(4)),
        ),
        (
            r#"["name"]"#,
            format!(r#"[{{"number":"{}","params":["a"]}}]"#, phone(5)),
        ),
    ] {
        let call = aliyun_call(
            "UploadRobotTaskCalledFile",
            &[
                ("Id", &id),
                ("CalledNumber", &phone(4)),
                ("TtsParamHead", head),
                ("TtsParam", &items),
            ],
        );
        let (status, answer) = send(call.request()).await;
        assert_eq!(
            (status, answer["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("InvalidParameter")),
            "{answer}"
        );
    }
    let call = aliyun_call(
        "UploadRobotTaskCalledFile",
        &[
            ("Id", &id),
            ("CalledNumber", &phone(4)),
            ("TtsParamHead", head),
        ],
    );
    assert_eq!(send(call.request()).await.1["Code"], "MissingTtsParam");
    let (_, answer) = upload("4999999999", &[phone(4)]).await;
    assert_eq!(answer["Code"], "isv.TASK_NOT_EXIST");

    let call = aliyun_call(
        "StartRobotTask",
        &[("TaskId", &id), ("ScheduleTime", "2030-01-04 09:00:00")],
    );
    let (status, answer) = send(call.request()).await;
    assert_eq!(
        (status, answer["Data"].as_str()),
        (StatusCode::OK, Some("true")),
        "{answer}"
    );
    let view = task_view(&id).await;
    assert_eq!(
        (view["run"].as_str(), view["schedule_time"].as_str()),
        (Some("scheduled"), Some("2030-01-04 09:00:00"))
    );
    // Uploads after the start are accepted (the page does not say otherwise).
    assert_eq!(upload(&id, &[phone(6)]).await.1["Code"], "OK");
    let call = aliyun_call(
        "StartRobotTask",
        &[("TaskId", &id), ("ScheduleTime", "2030-01-04T09:00:00")],
    );
    assert_eq!(send(call.request()).await.1["Code"], "InvalidParameter");
    let call = aliyun_call("StartRobotTask", &[("Id", &id)]);
    assert_eq!(send(call.request()).await.1["Code"], "InvalidParameter");
    let call = aliyun_call("StartRobotTask", &[("TaskId", "4999999999")]);
    assert_eq!(send(call.request()).await.1["Code"], "isv.TASK_NOT_EXIST");
    let call = aliyun_call("StartRobotTask", &[("TaskId", &id)]);
    assert_eq!(send(call.request()).await.1["Data"], "true");
    assert_eq!(task_view(&id).await["run"], "running");
}

#[tokio::test]
async fn aliyun_takes_at_most_300000_numbers_per_task() {
    let (_, id) = aliyun_task("ali-limit").await;
    let all: Vec<String> = (10_000..310_000).map(phone).collect();
    // 4,000 a call keeps the query under the 64 KiB a URI may have.
    for chunk in all.chunks(4_000) {
        let (_, answer) = upload(&id, chunk).await;
        assert_eq!(answer["Code"], "OK", "{answer}");
    }
    assert_eq!(counts(&id).await.0, 300_000);
    // A held number still fits; the 300,001st does not, and nothing of its call is stored.
    assert_eq!(upload(&id, &[phone(10_000)]).await.1["Code"], "OK");
    let (status, answer) = upload(&id, &[phone(1), phone(2)]).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::OK, Some("isv.CALLED_NUMBER_OVER_LIMIT")),
        "{answer}"
    );
    assert_eq!(counts(&id).await, (300_000, 77, 1, 1));
}

#[tokio::test]
async fn the_corrected_aliyun_create_wants_purchased_calling_lines() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = Config {
        credentials: Credentials::sandbox(),
        corrected_aliyun_create: true,
        ..Config::default()
    };
    let running = emulator::spawn(listener, config).await.expect("spawn");
    let url = running.url();
    let call = |params: Vec<(&str, &str)>| {
        let mut call = aliyun_call("CreateRobotTask", &params);
        call.url = url.clone();
        call.key_id = emulator::SANDBOX_ALIYUN_ACCESS_KEY_ID.into();
        call.secret = emulator::SANDBOX_ALIYUN_ACCESS_KEY_SECRET.into();
        call
    };
    let good = vec![
        ("TaskName", "corrected"),
        ("DialogId", "1234567"),
        ("Caller", "057100000001,057100000002"),
        ("NumberStatusIdent", "true"),
        ("RetryType", "1"),
        ("RecallInterval", "30"),
    ];
    assert_eq!(
        emulator::SANDBOX_ALIYUN_CALLERS,
        ["057100000001", "057100000002"]
    );
    let (status, answer) = send(call(good.clone()).request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::OK, Some("OK")),
        "{answer}"
    );

    let mut callees = good.clone();
    callees[2] = ("Caller", "13700000001");
    let (status, answer) = send(call(callees).request()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (StatusCode::OK, Some("isv.CALLER_NOT_PURCHASED")),
        "{answer}"
    );
    assert!(!answer.to_string().contains("13700000001"), "{answer}");
    let mut long = good.clone();
    long[5] = ("RecallInterval", "31");
    assert_eq!(
        send(call(long).request()).await.1["Code"],
        "InvalidParameter"
    );
    let without: Vec<_> = good
        .iter()
        .copied()
        .filter(|(k, _)| *k != "RetryType")
        .collect();
    assert_eq!(
        send(call(without).request()).await.1["Code"],
        "MissingRetryType"
    );
    let (_, tasks) = send(client().get(format!("{url}/_emulator/tasks"))).await;
    assert_eq!(
        tasks.as_array().map(Vec::len),
        Some(1),
        "only the good create made a task"
    );
    running.shutdown().await;
}

// ---- volcengine: CreateTask's PhoneList and Start, BatchAppend ---------------------------

#[tokio::test]
async fn volcengine_create_holds_its_phone_list_and_start_runs_it() {
    let (_, id, _) = volcengine_task("volc-start", json!({"Start": true})).await;
    let view = task_view(&id).await;
    assert_eq!(view["run"], "running");
    // The body's list repeats 13344445555: stored once, counted.
    assert_eq!(phones_of(&id).await, ["13344445555", "13255556666"]);
    assert_eq!(counts(&id).await, (2, 0, 1, 0));
    let held = callees_of(&id).await;
    assert_eq!(
        held["rows"][0]["vars"],
        json!({"TtsContent": "您好", "PhoneParamJson": {"name": "张三"}})
    );
    let (_, paused, _) = volcengine_task("volc-paused", json!({})).await;
    assert_eq!(task_view(&paused).await["run"], "not_started");
}

#[tokio::test]
async fn volcengine_batch_append_stores_repeats_unless_the_task_is_unique() {
    let (_, id, _) = volcengine_task("volc-append", json!({"Start": true})).await;
    let (status, answer) = send(
        volcengine_call(
            "BatchAppend",
            &append_body(&id, &[phone(1), "13255556666".into()]),
        )
        .request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ResponseMetadata"]["Action"], "BatchAppend");
    assert_eq!(answer["Result"], json!({"TaskOpenId": id, "FailList": []}));
    // Unique absent (no de-duplication, the page's default): the repeat is stored again.
    assert_eq!(
        phones_of(&id).await,
        ["13344445555", "13255556666", &phone(1), "13255556666"]
    );
    assert_eq!(counts(&id).await, (4, 1, 2, 0));

    let (_, unique, _) = volcengine_task("volc-unique", json!({"Unique": true})).await;
    let (_, answer) = send(
        volcengine_call(
            "BatchAppend",
            &append_body(&unique, &[phone(2), "13344445555".into(), phone(2)]),
        )
        .request(),
    )
    .await;
    assert_eq!(
        answer["Result"]["FailList"],
        json!([
            {"Index": 1, "Phone": "13344445555", "Type": "REDUPLICATED_ITEM", "Desc": "重复项目"},
            {"Index": 2, "Phone": phone(2), "Type": "REDUPLICATED_ITEM", "Desc": "重复项目"}
        ])
    );
    assert_eq!(
        phones_of(&unique).await,
        ["13344445555", "13255556666", &phone(2)]
    );

    // 10,001 items, an unknown task, a field BatchAppend does not take.
    let many: Vec<String> = (10_000..20_001).map(phone).collect();
    let cases = [
        ("PhoneList", append_body(&id, &many)),
        ("TaskOpenId", append_body("no-such-task", &[phone(3)])),
        (
            "Start",
            json!({"TaskOpenId": id, "PhoneList": [{"Phone": phone(3)}], "Start": true}),
        ),
    ];
    for (param, body) in cases {
        let (status, answer) = send(volcengine_call("BatchAppend", &body).request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{param}: {answer}");
        let error = &answer["ResponseMetadata"]["Error"];
        assert_eq!(error["Code"], "InvalidParameter", "{param}");
        assert!(
            error["Message"].as_str().is_some_and(|m| m.contains(param)),
            "{answer}"
        );
    }
    let (status, _) =
        send(volcengine_call("BatchAppend", &append_body(&id, &many[..10_000])).request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counts(&id).await.0, 10_004);
    let (status, answer) =
        send(volcengine_call("StartTask", &append_body(&id, &[phone(3)])).request()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

// ---- faults per operation and per batch -----------------------------------------------------

#[tokio::test]
async fn old_fault_rules_still_hit_creates_only() {
    let (name, id) = {
        let name = unique("fault-op-default");
        add_rule(json!({"match": name, "kind": "5xx"})).await;
        let (status, _) = send(xfyeta(harness::XF_TOKEN, &xfyeta_body(&name))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let tasks = recorded_named("xfyeta", &name).await;
        (name, tasks[0]["task_id"].as_str().expect("id").to_string())
    };
    let (_, answer) = send(xfyeta_at("insert", &insert_body(&id, &[], &[phone(1)]))).await;
    assert_eq!(answer["code"], 0, "{answer}");
    let (_, answer) = send(xfyeta_at("start", &json!({"task_id": id}))).await;
    assert_eq!(answer["code"], 0, "{answer}");
    let (_, rules) = send(client().get(format!("{}/_emulator/faults", base_url()))).await;
    assert!(rules
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["match"] == name.as_str())));
}

#[tokio::test]
async fn load_faults_hit_their_batch_and_store_it_or_not_by_kind() {
    let (name, id) = xfyeta_task("fault-load-xf").await;
    add_rule(json!({"match": name, "op": "load", "batch": 1, "kind": "5xx", "times": 1})).await;
    add_rule(json!({"match": name, "op": "load", "batch": 2, "kind": "throttle", "times": 1}))
        .await;
    let load = |i: usize| xfyeta_at("insert", &insert_body(&id, &[], &[phone(i)]));
    assert_eq!(send(load(0)).await.1["code"], 0);
    // Batch 1: a 5xx after the batch was stored.
    let (status, answer) = send(load(1)).await;
    assert_eq!(
        (status, answer["code"].as_i64()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some(10500))
    );
    assert_eq!(phones_of(&id).await, [phone(0), phone(1)]);
    // Batch 2: throttled, nothing stored; the retry is batch 3 and goes through.
    let (status, _) = send(load(2)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(phones_of(&id).await.len(), 2);
    assert_eq!(send(load(2)).await.1["code"], 0);
    assert_eq!(phones_of(&id).await, [phone(0), phone(1), phone(2)]);

    // A scripted answer that stores nothing; one that does; a hang after the store.
    add_rule(
        json!({"match": name, "op": "load", "kind": "answer", "status": 200,
        "body": "{\"code\":0,\"message\":\"ok\",\"result\":{\"total\":1,\"task_data_ids\":[1]}}",
        "apply": false, "times": 1}),
    )
    .await;
    assert_eq!(send(load(3)).await.1["result"]["total"], 1);
    assert_eq!(phones_of(&id).await.len(), 3, "apply: false stores nothing");
    add_rule(json!({"match": name, "op": "load", "kind": "answer", "status": 502, "body": "bad gateway {task_id}", "times": 1})).await;
    let response = load(4).send().await.expect("an answer");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.text().await.expect("text"),
        format!("bad gateway {id}")
    );
    add_rule(json!({"match": name, "op": "load", "kind": "hang_after_accept", "times": 1})).await;
    let error = load(5)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect_err("too late");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(
        phones_of(&id).await,
        [phone(0), phone(1), phone(2), phone(4), phone(5)]
    );

    // A reset on the start: the task runs, the client hears nothing.
    add_rule(json!({"match": name, "op": "start", "kind": "reset", "times": 1})).await;
    assert!(xfyeta_at("start", &json!({"task_id": id}))
        .send()
        .await
        .is_err());
    assert_eq!(task_view(&id).await["run"], "running");
}

#[tokio::test]
async fn load_and_start_faults_on_the_signed_vendors() {
    let (name, id) = aliyun_task("fault-ali-steps").await;
    add_rule(json!({"match": name, "op": "load", "kind": "business_error", "times": 1})).await;
    let (_, answer) = upload(&id, &[phone(1)]).await;
    assert_eq!(answer["Code"], "isv.DIALOG_NOT_EXIST");
    assert!(phones_of(&id).await.is_empty());
    add_rule(json!({"match": name, "op": "any", "kind": "5xx", "times": 2})).await;
    let (status, _) = upload(&id, &[phone(1)]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(phones_of(&id).await, [phone(1)]);
    let (status, _) = send(aliyun_call("StartRobotTask", &[("TaskId", &id)]).request()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(task_view(&id).await["run"], "running");

    let (name, id, _) = volcengine_task("fault-volc-append", json!({})).await;
    add_rule(json!({"match": name, "op": "load", "batch": 0, "kind": "throttle", "times": 1}))
        .await;
    let append = || volcengine_call("BatchAppend", &append_body(&id, &[phone(1)]));
    assert_eq!(
        send(append().request()).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(counts(&id).await.0, 2);
    assert_eq!(send(append().request()).await.0, StatusCode::OK);
    assert_eq!(counts(&id).await.0, 3);

    let (name, id) = longlonglong_task("fault-lll-numbers").await;
    add_rule(
        json!({"match": name, "op": "load", "kind": "oversized_body", "size": 1024, "times": 1}),
    )
    .await;
    let response = numbers_at(&id, &json!({"data": rows(&[phone(1)])}))
        .send()
        .await
        .expect("answer");
    let text = response.text().await.expect("text");
    assert!(
        text.len() > 1024 && text.trim_end().ends_with('}'),
        "{}",
        text.len()
    );
    assert_eq!(phones_of(&id).await, [phone(1)]);
}

#[tokio::test]
async fn fault_rules_refuse_a_batch_without_a_load() {
    for rule in [
        json!({"match": "x", "kind": "5xx", "batch": 1}),
        json!({"match": "x", "kind": "5xx", "op": "start", "batch": 1}),
        json!({"match": "x", "kind": "5xx", "op": "cancel"}),
        json!({"match": "x", "kind": "5xx", "op": "pause", "batch": 1}),
    ] {
        let (status, _) = send(
            client()
                .post(format!("{}/_emulator/faults", base_url()))
                .body(rule.to_string()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}");
    }
}

#[tokio::test]
async fn global_faults_apply_to_loads_too() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = Config {
        credentials: Credentials::sandbox(),
        faults: Faults {
            error_5xx_rate: 1.0,
            ..Faults::default()
        },
        ..Config::default()
    };
    let running = emulator::spawn(listener, config).await.expect("spawn");
    let url = running.url();
    let post = |route: &str, body: Value| {
        client()
            .post(format!(
                "{url}/openapi/outbound/v1/task/{route}?token={}",
                emulator::SANDBOX_XFYETA_TOKEN
            ))
            .header("Content-Type", "application/json")
            .body(body.to_string())
    };
    assert_eq!(
        send(post("create", xfyeta_body("global-load"))).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (_, tasks) = send(client().get(format!("{url}/_emulator/tasks"))).await;
    let id = tasks[0]["task_id"].as_str().expect("id").to_string();
    let (status, _) = send(post("insert", insert_body(&id, &[], &[phone(1)]))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, tasks) = send(client().get(format!("{url}/_emulator/tasks"))).await;
    assert_eq!(tasks[0]["callees"]["count"], 1, "a 5xx stores the batch");
    running.shutdown().await;
}

// ---- control endpoints ---------------------------------------------------------------------

#[tokio::test]
async fn the_task_list_shows_run_state_and_counts_but_no_numbers() {
    let (name, id) = xfyeta_task("ctl-shape").await;
    send(xfyeta_at(
        "insert",
        &insert_body(&id, &["客户姓名"], &[phone(42)]),
    ))
    .await;
    let view = task_view(&id).await;
    let mut keys: Vec<&str> = view
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "called",
            "callees",
            "ended_at",
            "name",
            "request",
            "run",
            "schedule_time",
            "started_at",
            "task_id",
            "vendor",
            "verbs"
        ]
    );
    assert_eq!(view["name"], name.as_str());
    assert_eq!(
        view["callees"],
        json!({"count": 1, "calls": 1, "duplicates": 0, "refused": 0})
    );
    assert_eq!(
        (view["started_at"].clone(), view["schedule_time"].clone()),
        (Value::Null, Value::Null)
    );
    let (_, all) = control(client().get(format!("{}/_emulator/tasks", base_url()))).await;
    assert!(
        !all.to_string().contains(&phone(42)),
        "the list holds no number"
    );

    let shown = set_running(&id, true).await;
    assert_eq!(
        (shown["task_id"].as_str(), shown["run"].as_str()),
        (Some(id.as_str()), Some("running"))
    );
    let (status, _) =
        control(client().get(format!("{}/_emulator/tasks/nope/callees", base_url()))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control(
        client()
            .post(format!("{}/_emulator/tasks/{id}/run", base_url()))
            .body(r#"{"running":"yes"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = control(
        client()
            .post(format!("{}/_emulator/tasks/nope/run", base_url()))
            .body(r#"{"running":true}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_are_noted_with_their_operation_and_task() {
    let (name, id) = xfyeta_task("ctl-requests").await;
    send(xfyeta_at("insert", &insert_body(&id, &[], &[phone(1)]))).await;
    send(xfyeta_at("start", &json!({"task_id": id}))).await;
    // Refused (after the start), and noted all the same.
    let (_, refused) = send(xfyeta_at("insert", &insert_body(&id, &[], &[phone(2)]))).await;
    assert_eq!(refused["code"], 3_010_199);
    let (_, all) = control(client().get(format!("{}/_emulator/requests", base_url()))).await;
    let ours: Vec<(String, String)> = all
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["name"] == name.as_str())
        .map(|r| {
            assert_eq!(r["task_id"], id.as_str(), "{r}");
            (
                r["op"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        [
            (
                "create".to_string(),
                "/openapi/outbound/v1/task/create".to_string()
            ),
            (
                "load".to_string(),
                "/openapi/outbound/v1/task/insert".to_string()
            ),
            (
                "start".to_string(),
                "/openapi/outbound/v1/task/start".to_string()
            ),
            (
                "load".to_string(),
                "/openapi/outbound/v1/task/insert".to_string()
            ),
        ]
    );
    // A signed load names its task by id: it is noted with that task's name.
    let (_, id2) = aliyun_task("ctl-requests-ali").await;
    upload(&id2, &[phone(2)]).await;
    let (_, all) = control(client().get(format!("{}/_emulator/requests", base_url()))).await;
    let upload_noted = all.as_array().expect("list").iter().any(|r| {
        r["op"] == "load"
            && r["task_id"] == id2.as_str()
            && r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("ctl-requests-ali"))
    });
    assert!(upload_noted, "{all}");
}

#[test]
fn callform_emulator_names_the_sandbox_calling_lines() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = harness::bin()
        .command()
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn callform emulator");
    let mut stdout = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut stdout)
        .expect("a line");
    let mut stderr = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut stderr)
        .expect("a line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        stdout.starts_with("callform emulator listening on http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stderr.contains("purchased calling lines") && stderr.contains("057100000001, 057100000002"),
        "{stderr}"
    );
}

// ---- reads, verbs and the console (issue 10) -------------------------------------------

/// A console action (and/or progress) on a task; the status and the answer.
async fn console(task_id: &str, change: Value) -> (StatusCode, Value) {
    control(
        client()
            .post(format!("{}/_emulator/tasks/{task_id}/console", base_url()))
            .body(change.to_string()),
    )
    .await
}

/// xfyeta `task/query` by id: the one row, or `Null` when none.
async fn xfyeta_row(task_id: &str) -> Value {
    let (status, answer) = send(xfyeta_at("query", &json!({ "task_id": task_id }))).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::OK, json!(0)),
        "{answer}"
    );
    answer["result"]["rows"][0].clone()
}

#[tokio::test]
async fn xfyeta_query_pause_resume_and_delete_follow_the_pages() {
    let (name, id) = xfyeta_task("xf-steer").await;
    let row = xfyeta_row(&id).await;
    assert_eq!(
        (row["status"].clone(), row["deleted"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(row["task_name"], name.as_str());
    let (_, answer) = send(xfyeta_at("pause", &json!({ "task_id": id }))).await;
    assert_eq!(
        answer["code"], 3_010_104,
        "a task never started is not paused: {answer}"
    );
    let numbers = [phone(7001), phone(7002)];
    let (_, answer) = send(xfyeta_at("insert", &insert_body(&id, &[], &numbers))).await;
    assert_eq!(answer["code"], 0, "{answer}");
    send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    let row = xfyeta_row(&id).await;
    assert_eq!(
        (row["status"].clone(), row["count_tel"].clone()),
        (json!(2), json!(2))
    );
    let (_, answer) = send(xfyeta_at("pause", &json!({ "task_id": id }))).await;
    assert_eq!(answer, json!({"code": 0, "message": "ok", "result": {}}));
    assert_eq!(xfyeta_row(&id).await["status"], 3);
    let (_, again) = send(xfyeta_at("pause", &json!({ "task_id": id }))).await;
    assert_eq!(again["code"], 0, "a paused task stays paused: {again}");
    let (_, answer) = send(xfyeta_at("insert", &insert_body(&id, &[], &[phone(7003)]))).await;
    assert_eq!(
        answer["code"], 3_010_199,
        "no data after the start, paused or not"
    );
    send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    assert_eq!(xfyeta_row(&id).await["status"], 2, "task/start resumes");
    assert_eq!(
        task_view(&id).await["verbs"],
        json!({"pause": 2, "start": 2})
    );
    let noted: Vec<Value> = send(client().get(format!("{}/_emulator/requests", base_url())))
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["task_id"] == id.as_str())
        .map(|r| r["op"].clone())
        .collect();
    assert!(
        noted.contains(&json!("resume")) && noted.contains(&json!("query")),
        "{noted:?}"
    );

    // The fuzzy name search: a part of the name finds it, among others.
    let (_, found) = send(xfyeta_at(
        "query",
        &json!({ "task_name": "xf-steer", "page_size": 50, "show_remaining": true }),
    ))
    .await;
    let rows = found["result"]["rows"].as_array().unwrap();
    let ours: Vec<&Value> = rows
        .iter()
        .filter(|r| r["task_id"] == id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{found}");
    assert_eq!(ours[0]["remaining"], 2);
    let (_, big) = send(xfyeta_at("query", &json!({ "page_size": 51 }))).await;
    assert_eq!(big["code"], 10005, "{big}");
    let (_, zero) = send(xfyeta_at("query", &json!({ "page_index": 0 }))).await;
    assert_eq!(zero["code"], 10005, "{zero}");

    let (_, answer) = send(xfyeta_at("delete", &json!({ "task_id": id }))).await;
    assert_eq!(answer["code"], 0, "{answer}");
    let row = xfyeta_row(&id).await;
    assert_eq!(
        (row["deleted"].clone(), row["status"].clone()),
        (json!(1), json!(2))
    );
    for route in ["start", "pause", "delete"] {
        let (_, answer) = send(xfyeta_at(route, &json!({ "task_id": id }))).await;
        assert_eq!(answer["code"], 3_010_102, "{route} after delete: {answer}");
    }
    let (_, unknown) = send(xfyeta_at("query", &json!({ "task_id": "999999999" }))).await;
    assert_eq!(unknown["result"], json!({"total_rows": 0, "rows": []}));
}

fn longlonglong_at(method: Method, path: &str, body: Option<&Value>) -> RequestBuilder {
    let mut request = client()
        .request(method, format!("{}{path}", base_url()))
        .header("Authorization", format!("Bearer {}", harness::LLL_TOKEN));
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    request
}

async fn longlonglong_detail(id: &str) -> (StatusCode, Value) {
    let path = format!("/agent-api/new/user/{}/task/{id}/edit", harness::LLL_USER);
    send(longlonglong_at(Method::GET, &path, None)).await
}

#[tokio::test]
async fn longlonglong_detail_list_pause_update_and_delete() {
    let (name, id) = longlonglong_task("lll-steer").await;
    let user = harness::LLL_USER;
    let (status, detail) = longlonglong_detail(&id).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let data = &detail["data"];
    assert_eq!(
        (data["status"].clone(), data["call_status"].clone()),
        (json!(1), json!(false))
    );
    assert_eq!(data["new_task_extra"]["enable"], false);
    assert_eq!(data["name"], name.as_str());

    console(&id, json!({"action": "resume"})).await;
    let (_, detail) = longlonglong_detail(&id).await;
    assert_eq!(detail["data"]["status"], 2);
    assert_eq!(detail["data"]["new_task_extra"]["call_status"], true);
    let (_, refused) = send(numbers_at(&id, &json!({ "data": rows(&[phone(7101)]) }))).await;
    assert_eq!(refused["code"], 6007, "{refused}");

    // Update while running (the page does not forbid it): the create body, validated.
    let mut body = longlonglong_body(&format!("{name}-renamed"));
    body["maximumcall"] = json!(0);
    let path = format!("/agent-api/new/user/{user}/task/{id}");
    let (status, answer) = send(longlonglong_at(Method::PUT, &path, Some(&body))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["id"], id.as_str());
    let (_, detail) = longlonglong_detail(&id).await;
    assert_eq!(detail["data"]["name"], format!("{name}-renamed"));
    let mut bad = body.clone();
    bad.as_object_mut().unwrap().remove("dial_time_id");
    let (status, answer) = send(longlonglong_at(Method::PUT, &path, Some(&bad))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    let stop = format!("/agent-api/new/user/{user}/task_stop/{id}");
    let (status, answer) = send(longlonglong_at(Method::PUT, &stop, None)).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (StatusCode::OK, json!(200)),
        "{answer}"
    );
    let (_, detail) = longlonglong_detail(&id).await;
    assert_eq!(detail["data"]["status"], 1);
    let (_, loaded) = send(numbers_at(&id, &json!({ "data": rows(&[phone(7101)]) }))).await;
    assert_eq!(loaded["code"], 200, "paused: numbers are taken: {loaded}");

    let list = format!(
        "/agent-api/new/user/{user}/task?name={}&page=1&per_page=5&status=1",
        sign::percent_encode(&name)
    );
    let (status, listed) = send(longlonglong_at(Method::GET, &list, None)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let items = listed["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["uuid"], id.as_str());
    assert_eq!(items[0]["new_task_extra"]["number_count"], 1);
    assert_eq!(listed["meta"]["total"], 1);
    let wrong = format!("/agent-api/new/user/{user}/task?per_page=101");
    let (status, _) = send(longlonglong_at(Method::GET, &wrong, None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let delete = format!("/agent-api/user/{user}/task/{id}");
    let (status, _) = send(longlonglong_at(Method::DELETE, &delete, None)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = longlonglong_detail(&id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = send(longlonglong_at(Method::GET, &list, None)).await;
    assert_eq!(listed["meta"]["total"], 0, "a deleted task is not listed");
    let (status, _) = send(longlonglong_at(Method::PUT, &stop, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing after a delete");
    assert_eq!(
        task_view(&id).await["verbs"],
        json!({"delete": 1, "pause": 1, "update": 1})
    );
}

async fn aliyun_status(id: &str) -> (String, Value) {
    let (_, answer) = send(aliyun_call("QueryRobotTaskDetail", &[("Id", id)]).request()).await;
    match answer["Data"].as_str() {
        Some(data) => {
            let data: Value = serde_json::from_str(data).expect("Data is a JSON string");
            (
                data["status"].as_str().unwrap_or_default().to_string(),
                data,
            )
        }
        None => (
            answer["Code"].as_str().unwrap_or_default().to_string(),
            answer,
        ),
    }
}

async fn aliyun_verb(action: &str, id: &str) -> Value {
    send(aliyun_call(action, &[("TaskId", id)]).request())
        .await
        .1
}

#[tokio::test]
async fn aliyun_reads_and_verbs_follow_the_documented_states() {
    let (name, id) = aliyun_task("ali-steer").await;
    let (status, data) = aliyun_status(&id).await;
    assert_eq!(status, "INIT");
    assert_eq!(
        (data["taskName"].clone(), data["scheduleType"].clone()),
        (json!(name), json!("SINGLE"))
    );
    assert_eq!(
        aliyun_verb("CancelRobotTask", &id).await["Code"],
        "isv.TASK_STATUS_ERROR"
    );
    assert_eq!(aliyun_verb("StartRobotTask", &id).await["Data"], "true");
    assert_eq!(aliyun_status(&id).await.0, "EXCUTING");
    assert_eq!(
        aliyun_verb("DeleteRobotTask", &id).await["Code"],
        "isv.TASK_STATUS_ERROR",
        "a running task is not deleted"
    );
    assert_eq!(aliyun_verb("StopRobotTask", &id).await["Data"], "true");
    assert_eq!(aliyun_status(&id).await.0, "MANUAL_STOP");
    assert_eq!(
        aliyun_verb("CancelRobotTask", &id).await["Code"],
        "isv.TASK_STATUS_ERROR",
        "only a running task is terminated"
    );
    assert_eq!(
        aliyun_verb("DeleteRobotTask", &id).await["Code"],
        "isv.TASK_STATUS_ERROR"
    );
    aliyun_verb("StartRobotTask", &id).await;
    assert_eq!(aliyun_verb("CancelRobotTask", &id).await["Data"], "true");
    assert_eq!(aliyun_status(&id).await.0, "CANCEL");
    assert_eq!(
        aliyun_verb("StartRobotTask", &id).await["Code"],
        "isv.TASK_STATUS_ERROR"
    );
    assert_eq!(aliyun_verb("DeleteRobotTask", &id).await["Data"], "true");
    assert_eq!(aliyun_status(&id).await.0, "isv.TASK_NOT_EXIST");

    let (name, scheduled) = aliyun_task("ali-order").await;
    let (_, answer) = send(
        aliyun_call(
            "StartRobotTask",
            &[
                ("TaskId", &scheduled),
                ("ScheduleTime", "2030-01-01 09:00:00"),
            ],
        )
        .request(),
    )
    .await;
    assert_eq!(answer["Data"], "true", "{answer}");
    let (status, data) = aliyun_status(&scheduled).await;
    assert_eq!(
        (status.as_str(), data["scheduleType"].clone()),
        ("READY", json!("ORDER"))
    );
    assert_eq!(data["fireTime"], "2030-01-01 09:00:00");
    assert_eq!(
        aliyun_verb("CancelRobotTask", &scheduled).await["Code"],
        "isv.TASK_STATUS_ERROR"
    );
    assert_eq!(
        aliyun_verb("CancelOrderRobotTask", &scheduled).await["Data"],
        "true"
    );
    assert_eq!(aliyun_status(&scheduled).await.0, "CANCEL");

    let (_, listed) = send(
        aliyun_call(
            "QueryRobotTaskList",
            &[("TaskName", &name), ("PageSize", "50")],
        )
        .request(),
    )
    .await;
    assert_eq!(
        (listed["TotalCount"].clone(), listed["PageNo"].clone()),
        (json!("1"), json!("1"))
    );
    let items: Value = serde_json::from_str(listed["Data"].as_str().expect("a string")).unwrap();
    assert_eq!(items[0]["id"].to_string(), scheduled);
    assert_eq!(items[0]["fireTime"], "2030.01.01 09:00:00");
    assert_eq!(items[0]["status"], "CANCEL");
    let (_, wrong) = send(aliyun_call("QueryRobotTaskList", &[("PageSize", "51")]).request()).await;
    assert_eq!(wrong["Code"], "InvalidParameter", "{wrong}");
}

fn volcengine_verb(action: &str, id: &str) -> Volcengine {
    let mut call = volcengine_call(action, &json!({}));
    call.body = Vec::new();
    call.extra = vec![("TaskOpenId".into(), id.into())];
    call
}

async fn volcengine_record(name: &str) -> Value {
    let (status, answer) =
        send(volcengine_call("QueryTaskList", &json!({ "Keyword": name, "Limit": 100 })).request())
            .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let records = answer["Result"]["Records"].as_array().expect("Records");
    assert_eq!(records.len(), 1, "{answer}");
    records[0].clone()
}

#[tokio::test]
async fn volcengine_list_pause_resume_stop_and_update() {
    let (name, id, _) = volcengine_task("volc-steer", json!({})).await;
    let record = volcengine_record(&name).await;
    assert_eq!(
        (record["TaskOpenId"].clone(), record["State"].clone()),
        (json!(id), json!(0))
    );
    assert_eq!(record["ListNum"], task_view(&id).await["callees"]["count"]);
    let (status, answer) = send(volcengine_verb("PauseTask", &id).request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["ResponseMetadata"]["Error"]["Code"],
        "InvalidTaskState"
    );

    // The SDKs' query string, the newer page's JSON body, the older page's form.
    let (status, answer) = send(volcengine_verb("ResumeTask", &id).request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer.get("Result").is_none(),
        "ResponseMetadata only: {answer}"
    );
    assert_eq!(volcengine_record(&name).await["State"], 1);
    let json_pause = volcengine_call("PauseTask", &json!({ "TaskOpenId": id }));
    let (status, answer) = send(json_pause.request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(volcengine_record(&name).await["State"], 2);
    let mut form = volcengine_call("ResumeTask", &json!({}));
    form.body = format!("TaskOpenId={id}").into_bytes();
    form.content_type = "application/x-www-form-urlencoded".into();
    let (status, answer) = send(form.request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(volcengine_record(&name).await["State"], 1);
    let mut twice = volcengine_call("PauseTask", &json!({ "TaskOpenId": id }));
    twice.extra = vec![("TaskOpenId".into(), id.clone())];
    let (status, answer) = send(twice.request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    let update = json!({
        "TaskOpenId": id,
        "StartTime": "2030-02-01 09:00:00",
        "EndTime": "2030-02-02 18:00:00",
        "Concurrency": 3,
        "RingAgainTimes": 1,
        "ForbidTimeList": [{"Times": ["12:00-13:00"], "Weekdays": [1]}]
    });
    let (status, answer) = send(volcengine_call("UpdateTask", &update).request()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["Result"], json!({"TaskOpenId": id, "FailList": []}));
    assert_eq!(
        volcengine_record(&name).await["StartTime"],
        "2030-02-01 09:00:00"
    );
    let mut bad = update.clone();
    bad["Name"] = json!("renamed");
    let (status, _) = send(volcengine_call("UpdateTask", &bad).request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "Name is not updatable");

    let (status, _) = send(volcengine_verb("StopTask", &id).request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(volcengine_record(&name).await["State"], 3);
    for action in ["ResumeTask", "PauseTask", "StopTask"] {
        let (status, answer) = send(volcengine_verb(action, &id).request()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{action} after a stop: {answer}"
        );
    }
    let (status, _) = send(volcengine_call("UpdateTask", &update).request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no update after a stop");
}

#[tokio::test]
async fn the_console_changes_a_task_behind_callforms_back() {
    let (_, id) = xfyeta_task("xf-console").await;
    let numbers = [phone(7201), phone(7202), phone(7203)];
    send(xfyeta_at("insert", &insert_body(&id, &[], &numbers))).await;
    let (status, _) = console(&id, json!({"action": "pause"})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a task never started is not paused"
    );
    let (status, view) = console(&id, json!({"action": "resume", "called": 1})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (view["run"].clone(), view["called"].clone()),
        (json!("running"), json!(1))
    );
    assert_eq!(xfyeta_row(&id).await["process_count"], 1);
    let (status, _) = console(&id, json!({"called": 4})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "more called than callees");
    let (_, view) = console(&id, json!({"action": "finish"})).await;
    assert_eq!(
        (view["run"].clone(), view["called"].clone()),
        (json!("finished"), json!(3))
    );
    assert!(view["ended_at"].is_string());
    let row = xfyeta_row(&id).await;
    assert_eq!(
        (row["status"].clone(), row["process_count"].clone()),
        (json!(4), json!(3))
    );
    let (_, answer) = send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    assert_eq!(answer["code"], 3_010_101, "{answer}");
    let (_, view) = console(&id, json!({"action": "delete"})).await;
    assert_eq!(view["run"], "deleted");
    let (status, _) = console(&id, json!({"action": "stop"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing after a delete");
    let (status, _) = control(
        client()
            .post(format!("{}/_emulator/tasks/{id}/run", base_url()))
            .body(json!({ "running": true }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = console(&id, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = console("no-such-task", json!({"action": "stop"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_hit_reads_and_verbs_by_their_operation() {
    let (name, id) = xfyeta_task("xf-verb-fault").await;
    send(xfyeta_at("insert", &insert_body(&id, &[], &[phone(7301)]))).await;
    send(xfyeta_at("start", &json!({ "task_id": id }))).await;
    add_rule(json!({"match": name, "kind": "5xx", "op": "pause", "times": 1})).await;
    add_rule(json!({"match": name, "kind": "throttle", "op": "query", "times": 1})).await;
    add_rule(json!({"match": name, "kind": "reset", "op": "resume", "times": 1})).await;
    let (status, _) = send(xfyeta_at("pause", &json!({ "task_id": id }))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        task_view(&id).await["run"],
        "paused",
        "the pause was applied"
    );
    let (status, _) = send(xfyeta_at("query", &json!({ "task_id": id }))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        xfyeta_row(&id).await["status"],
        3,
        "one throttle, then the read"
    );
    let reset = xfyeta_at("start", &json!({ "task_id": id })).send().await;
    assert!(reset.is_err(), "the connection was reset");
    assert_eq!(
        task_view(&id).await["run"],
        "running",
        "the resume was applied"
    );

    let (name, vid, _) = volcengine_task("volc-verb-fault", json!({"Start": true})).await;
    add_rule(json!({"match": name, "kind": "business_error", "op": "stop"})).await;
    let (status, _) = send(volcengine_verb("StopTask", &vid).request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        task_view(&vid).await["run"],
        "running",
        "a business error applies nothing"
    );
    add_rule(json!({"match": name, "kind": "5xx", "op": "find"})).await;
    let (status, _) =
        send(volcengine_call("QueryTaskList", &json!({ "Keyword": name })).request()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn reads_over_the_rate_are_throttled_only_when_enforced() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        credentials: Credentials::sandbox(),
        read_qps: emulator::ReadQps::Limit(3),
        ..Config::default()
    };
    let own = emulator::spawn(listener, config).await.unwrap();
    let query = || {
        client()
            .post(format!(
                "{}/openapi/outbound/v1/task/query?token={}",
                own.url(),
                sign::percent_encode(emulator::SANDBOX_XFYETA_TOKEN)
            ))
            .header("Content-Type", "application/json")
            .body("{}")
    };
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(send(query()).await.0);
    }
    assert_eq!(&statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(
        statuses[3],
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth in a second"
    );
    own.shutdown().await;
    // The shared emulator enforces nothing.
    for _ in 0..10 {
        assert_eq!(send(xfyeta_at("query", &json!({}))).await.0, StatusCode::OK);
    }
}
