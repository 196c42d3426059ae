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
        ("Caller", "13700000000,13700000001"),
        ("CorpName", "阿里巴巴通信技术(北京)有限公司"),
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
            ("host", host().to_string()),
            ("x-acs-action", "CreateRobotTask".to_string()),
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
            .request(Method::POST, format!("{}/?{}", base_url(), query.join("&")))
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
        let query = vec![
            ("Action".to_string(), "CreateTask".to_string()),
            ("Version".to_string(), "2022-01-01".to_string()),
        ];
        let signed = [
            ("Content-Type", "application/json".to_string()),
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
        let mut request = client()
            .post(format!(
                "{}/?Action=CreateTask&Version=2022-01-01",
                base_url()
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
    assert!(query.contains(&json!(["Caller", "13700000000,13700000001"])));
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
