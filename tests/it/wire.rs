//! The drivers against the emulator, over the real transport: for each vendor a task is
//! created, its callees loaded in batches and the task started with the requests
//! `driver::build_load` / `driver::build_start` build, sent by `transport::Transport`
//! with the operation's own rule. Then the emulator's own view (`/_emulator/tasks/{id}/
//! callees`, `/_emulator/tasks`) must hold exactly the rows sent, each once, with their
//! variables, and the run state the start asked for. Two independent readings of the
//! vendor pages — the drivers and the emulator — agree, or this fails.
//!
//! Also over the wire: a longlonglong task running at the vendor refuses a batch with
//! 6007 (`Rejected{TaskState}`, nothing loaded), and an xfyeta insert after the start is
//! refused with a code the pages do not give (uncertain).

use std::sync::atomic::AtomicBool;

use callform::driver::{self, Context, Credentials, ErrorClass, Op, Parsed, Request};
use callform::manifest::callees::Row;
use callform::manifest::{self, RunStatus, Spec, Task, Vendor};
use callform::transport::{Delivery, Policy, Transport};
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use crate::harness::{self, emulator};

fn context() -> Context {
    Context {
        timezone: TimeZone::get("Asia/Shanghai").unwrap(),
        credentials: Credentials {
            token: None,
            user_id: Some(harness::LLL_USER.into()),
            access_key_id: Some(harness::ALI_ID.into()),
            access_key_secret: Some(harness::ALI_SECRET.into()),
            access_key: Some(harness::VOLC_AK.into()),
            secret_key: Some(harness::VOLC_SK.into()),
            region: Some("cn-north-1".into()),
        },
    }
}

fn context_for(vendor: Vendor) -> Context {
    let mut cx = context();
    cx.credentials.token = Some(
        match vendor {
            Vendor::Xfyeta => harness::XF_TOKEN,
            _ => harness::LLL_TOKEN,
        }
        .into(),
    );
    cx
}

/// The first example task of `vendor`, renamed `name` (its vendor-visible name too).
fn example(vendor: Vendor, name: &str) -> Task {
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let loaded = manifest::load(
        &harness::repo("examples/tasks"),
        &tz,
        jiff::Timestamp::now(),
        None,
    );
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let mut task = loaded
        .tasks
        .into_iter()
        .find(|t| t.vendor == vendor && t.callees.is_some())
        .unwrap_or_else(|| panic!("no {vendor} example with callees"));
    task.name = name.into();
    match &mut task.spec {
        Spec::Xfyeta(s) => s.task_name = None,
        Spec::Longlonglong(s) => s.name = None,
        Spec::Aliyun(s) => {
            s.task_name = None;
            s.schedule_time = None;
        }
        Spec::Volcengine(s) => s.name = None,
    }
    task
}

/// `n` rows in the reserved test block with the task's columns, every value telling.
fn rows(task: &Task, first: u64, n: u64) -> (Vec<String>, Vec<Row>) {
    let columns = task.callees.as_ref().unwrap().columns.clone();
    let rows = (first..first + n)
        .map(|i| Row {
            phone: format!("1370000{i:04}"),
            values: columns
                .iter()
                .enumerate()
                .map(|(c, name)| match name.as_str() {
                    "email" => format!("p{i}@example.com"),
                    _ => format!("值{c}-{i}"),
                })
                .collect(),
        })
        .collect();
    (columns, rows)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn send(rt: &tokio::runtime::Runtime, op: Op, vendor: Vendor, request: &Request) -> Parsed {
    let transport = Transport::new(Policy::default(), true).unwrap();
    let cancel = AtomicBool::new(false);
    match rt.block_on(transport.send(op, vendor, request, emulator().url(), &cancel)) {
        Delivery::Answered { parsed, .. } => parsed,
        other => panic!("{vendor} {op:?}: {other:?}"),
    }
}

fn create(rt: &tokio::runtime::Runtime, task: &Task) -> String {
    let request = driver::build(task, &context_for(task.vendor)).unwrap();
    match send(rt, Op::Create, task.vendor, &request) {
        Parsed::Created { task_id, .. } => task_id,
        other => panic!("{}: create: {other:?}", task.name),
    }
}

/// Loads `rows` in batches of `batch`, each one done.
fn load(
    rt: &tokio::runtime::Runtime,
    task: &Task,
    id: &str,
    columns: &[String],
    rows: &[Row],
    batch: usize,
) {
    for chunk in rows.chunks(batch) {
        let request =
            driver::build_load(task, id, columns, chunk, &context_for(task.vendor)).unwrap();
        let op = Op::LoadCallees {
            rows: chunk.len() as u32,
        };
        match send(rt, op, task.vendor, &request) {
            Parsed::Done { warnings, .. } => {
                assert!(warnings.is_empty(), "{}: {warnings:?}", task.name)
            }
            other => panic!("{}: batch of {}: {other:?}", task.name, chunk.len()),
        }
    }
}

fn start(rt: &tokio::runtime::Runtime, task: &Task, id: &str) -> Option<Parsed> {
    let request = driver::build_start(task, id, &context_for(task.vendor)).unwrap()?;
    Some(send(rt, Op::Start, task.vendor, &request))
}

/// The rows the emulator holds for task `id`, as `(phone, vars)` in load order.
fn held(id: &str) -> Vec<(String, Value)> {
    let got = emulator().get(&format!("/_emulator/tasks/{id}/callees"));
    got["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows for {id}: {got}"))
        .iter()
        .map(|r| (r["phone"].as_str().unwrap().to_string(), r["vars"].clone()))
        .collect()
}

fn expected(
    columns: &[String],
    rows: &[Row],
    name: impl Fn(&str) -> String,
) -> Vec<(String, Value)> {
    rows.iter()
        .map(|r| {
            let vars: serde_json::Map<String, Value> = columns
                .iter()
                .zip(&r.values)
                .map(|(c, v)| (name(c), Value::String(v.clone())))
                .collect();
            (r.phone.clone(), Value::Object(vars))
        })
        .collect()
}

fn listed(id: &str) -> Value {
    emulator()
        .get("/_emulator/tasks")
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in /_emulator/tasks"))
}

fn set_running(rt: &tokio::runtime::Runtime, id: &str, running: bool) {
    let url = format!("{}/_emulator/tasks/{id}/run", emulator().url());
    let status = rt.block_on(async {
        harness::client()
            .post(url)
            .json(&json!({ "running": running }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

#[test]
fn xfyeta_inserts_in_batches_of_50_then_starts() {
    let rt = runtime();
    let task = example(Vendor::Xfyeta, "wire-xfyeta");
    let id = create(&rt, &task);
    let (columns, rows) = rows(&task, 1000, 120);
    load(&rt, &task, &id, &columns, &rows, 50);
    assert_eq!(held(&id), expected(&columns, &rows, str::to_string));
    assert_eq!(listed(&id)["run"], "not_started");
    assert!(matches!(start(&rt, &task, &id), Some(Parsed::Done { .. })));
    assert_eq!(listed(&id)["run"], "running");
    assert_eq!(listed(&id)["callees"]["duplicates"], 0);

    // After the start the vendor takes no data (XL:106); the emulator's code for it is
    // its own invention, which callform cannot know means "nothing stored".
    let (_, more) = self::rows(&task, 1200, 1);
    let request =
        driver::build_load(&task, &id, &columns, &more, &context_for(task.vendor)).unwrap();
    let parsed = send(&rt, Op::LoadCallees { rows: 1 }, Vendor::Xfyeta, &request);
    assert!(matches!(parsed, Parsed::Uncertain { .. }), "{parsed:?}");
    assert_eq!(held(&id).len(), 120);
}

#[test]
fn longlonglong_loads_in_batches_of_100_and_a_running_task_refuses_with_6007() {
    let rt = runtime();
    let task = example(Vendor::Longlonglong, "wire-longlonglong");
    let id = create(&rt, &task);
    let (columns, rows) = rows(&task, 2000, 150);
    load(&rt, &task, &id, &columns, &rows, 100);
    assert_eq!(held(&id), expected(&columns, &rows, str::to_string));
    assert!(
        start(&rt, &task, &id).is_none(),
        "longlonglong has no start"
    );
    assert_eq!(listed(&id)["run"], "not_started");

    // Started in the console: the vendor refuses numbers (LL:55), nothing is stored.
    set_running(&rt, &id, true);
    let (_, more) = self::rows(&task, 2200, 2);
    let request =
        driver::build_load(&task, &id, &columns, &more, &context_for(task.vendor)).unwrap();
    match send(
        &rt,
        Op::LoadCallees { rows: 2 },
        Vendor::Longlonglong,
        &request,
    ) {
        Parsed::Rejected { class, code, .. } => {
            assert_eq!((class, code.as_str()), (ErrorClass::TaskState, "6007"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(held(&id).len(), 150);
}

#[test]
fn aliyun_uploads_with_tts_params_then_starts() {
    let rt = runtime();
    let task = example(Vendor::Aliyun, "wire-aliyun");
    let id = create(&rt, &task);
    let (columns, rows) = rows(&task, 3000, 60);
    assert!(!columns.is_empty(), "the example has script variables");
    load(&rt, &task, &id, &columns, &rows, 50);
    assert_eq!(held(&id), expected(&columns, &rows, str::to_string));
    assert_eq!(listed(&id)["run"], "not_started");
    assert!(matches!(start(&rt, &task, &id), Some(Parsed::Done { .. })));
    assert_eq!(listed(&id)["run"], "running");
}

#[test]
fn aliyun_starts_at_the_schedule_time_in_beijing() {
    let rt = runtime();
    let mut task = example(Vendor::Aliyun, "wire-aliyun-scheduled");
    task.status = RunStatus::Running;
    if let Spec::Aliyun(s) = &mut task.spec {
        s.schedule_time = Some(manifest::time::LocalDateTime::parse("2030-01-07 09:30").unwrap());
    }
    let id = create(&rt, &task);
    let (columns, rows) = rows(&task, 3100, 2);
    load(&rt, &task, &id, &columns, &rows, 50);
    assert!(matches!(start(&rt, &task, &id), Some(Parsed::Done { .. })));
    let shown = listed(&id);
    assert_eq!(shown["run"], "scheduled", "{shown}");
    assert_eq!(shown["schedule_time"], "2030-01-07 09:30:00", "{shown}");
}

#[test]
fn volcengine_appends_after_the_create_and_starts_at_create() {
    let rt = runtime();
    let mut task = example(Vendor::Volcengine, "wire-volcengine");
    task.status = RunStatus::Running;
    let in_create = task.callees.as_ref().unwrap().rows(0, 10_000).unwrap();
    let id = create(&rt, &task);
    assert_eq!(listed(&id)["run"], "running");
    assert!(
        start(&rt, &task, &id).is_none(),
        "Start at create is the only start"
    );
    let (columns, rows) = rows(&task, 4000, 30);
    load(&rt, &task, &id, &columns, &rows, 10_000);
    let all: Vec<Row> = in_create.into_iter().chain(rows).collect();
    // The emulator reads each item back: `TtsContent`, `Ext`, and the two JSON texts
    // `PhoneParamJson` / `SmsParamJson` as maps.
    let want: Vec<(String, Value)> = all
        .iter()
        .map(|r| {
            let (mut vars, mut params, mut sms) = (json!({}), json!({}), json!({}));
            for (c, v) in columns.iter().zip(&r.values) {
                match c.as_str() {
                    "tts_content" => vars["TtsContent"] = json!(v),
                    "ext" => vars["Ext"] = json!(v),
                    c => match c.strip_prefix("sms.") {
                        Some(name) => sms[name] = json!(v),
                        None => params[c.strip_prefix("param.").unwrap_or(c)] = json!(v),
                    },
                }
            }
            for (key, map) in [("PhoneParamJson", params), ("SmsParamJson", sms)] {
                if map.as_object().is_some_and(|m| !m.is_empty()) {
                    vars[key] = map;
                }
            }
            (r.phone.clone(), vars)
        })
        .collect();
    assert_eq!(held(&id), want);
    assert_eq!(listed(&id)["callees"]["duplicates"], 0);
}
