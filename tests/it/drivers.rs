//! The exact requests each example task produces, held in `tests/golden/` as
//! `driver::display` shows them (secrets as `***`, the examples' placeholder numbers in
//! clear): `<task>.json` the create, `<task>.load.json` its first callee batch (for
//! Volcengine, whose first batch travels in the create, the `BatchAppend` of the same
//! rows: the shape of every later batch), `<task>.start.json` its start where the vendor
//! has a start request; then, for the task once created, `<task>.query.json` (read back
//! by id), `<task>.find.json` (the first page of a lookup by its vendor-visible name),
//! `<task>.pause.json`, `.resume.json`, `.stop.json` (and `.stop.not_started.json` where
//! that state takes another request) for each verb the vendor sends, and
//! `<task>.update.json` where it updates in place (see `steering`). Each golden file was
//! checked by hand against its vendor page once;
//! this test keeps every later change to a driver visible in review.
//!
//! Below them, the classification tables of the steps per vendor and op.
//!
//! After a deliberate wire change: `CALLFORM_BLESS=1 cargo test --test it drivers`, then read
//! the diff of `tests/golden/` against the vendor page before committing it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use callform::driver::{self, answer, Context, Credentials, ErrorClass, Op, Parsed, Request};
use callform::manifest::{self, Spec, Task, Vendor};
use jiff::tz::TimeZone;

const TOKEN: &str = "canary-token-XYZ";
const ACCESS_KEY_ID: &str = "canary-akid-XYZ";
const ACCESS_KEY_SECRET: &str = "canary-aksecret-XYZ";
const ACCESS_KEY: &str = "canary-ak-XYZ";
const SECRET_KEY: &str = "canary-sk-XYZ";
const CANARIES: [&str; 5] = [
    TOKEN,
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    ACCESS_KEY,
    SECRET_KEY,
];

fn context() -> Context {
    Context {
        timezone: TimeZone::get("Asia/Shanghai").unwrap(),
        credentials: Credentials {
            token: Some(TOKEN.into()),
            user_id: Some("5832d184-dd53-42a0-8ace-0bf8d660f4cc".into()),
            access_key_id: Some(ACCESS_KEY_ID.into()),
            access_key_secret: Some(ACCESS_KEY_SECRET.into()),
            access_key: Some(ACCESS_KEY.into()),
            secret_key: Some(SECRET_KEY.into()),
            region: Some("cn-north-1".into()),
        },
    }
}

fn examples() -> Vec<Task> {
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let loaded = manifest::load(
        Path::new("examples/tasks"),
        &tz,
        jiff::Timestamp::now(),
        None,
    );
    assert!(
        !loaded.has_errors(),
        "the examples do not validate: {:#?}",
        loaded.diagnostics
    );
    assert!(!loaded.tasks.is_empty());
    loaded.tasks
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn rendered(task: &Task, mask_phones: bool) -> String {
    let request = driver::build(task, &context()).unwrap_or_else(|e| panic!("{}: {e}", task.name));
    show(&request, mask_phones)
}

fn show(request: &Request, mask_phones: bool) -> String {
    let shown = driver::display(request, "https://ENDPOINT", mask_phones);
    serde_json::to_string_pretty(&shown).unwrap() + "\n"
}

/// The id the golden steps act on.
const TASK_ID: &str = "4001000129";

/// The batch size of each vendor's load request.
fn batch_rows(vendor: Vendor) -> usize {
    match vendor {
        Vendor::Xfyeta => callform::vendor::xfyeta::driver::INSERT_BATCH,
        Vendor::Longlonglong => callform::vendor::longlonglong::driver::NUMBER_BATCH,
        Vendor::Aliyun => callform::vendor::aliyun::driver::UPLOAD_BATCH,
        Vendor::Volcengine => callform::vendor::volcengine::driver::APPEND_BATCH,
    }
}

/// The first batch of `task` and its start, as golden files name them.
fn steps(task: &Task) -> Vec<(String, Request)> {
    let cx = context();
    let mut out = Vec::new();
    if let Some(list) = &task.callees {
        let rows = list.rows(0, batch_rows(task.vendor)).unwrap();
        let load = driver::build_load(task, TASK_ID, &list.columns, &rows, &cx)
            .unwrap_or_else(|e| panic!("{}: {e}", task.name));
        out.push((format!("{}.load.json", task.name), load));
    }
    if let Some(start) =
        driver::build_start(task, TASK_ID, &cx).unwrap_or_else(|e| panic!("{}: {e}", task.name))
    {
        out.push((format!("{}.start.json", task.name), start));
    }
    out.extend(steering(task));
    out
}

/// The reads, verbs and update of `task` once created: `<task>.query.json` (read back by
/// id), `<task>.find.json` (the first page of a lookup by its vendor-visible name),
/// `<task>.<verb>.json` for each verb the vendor sends from the state it is usually sent
/// from (pause a running task, resume a paused one, stop a running one) and
/// `<task>.<verb>.<from>.json` where another state takes another request (Aliyun's
/// stop of a task not started), `<task>.update.json` where the vendor updates in place,
/// `<task>.numbers.json` (the first page of its number list) where the vendor has one.
fn steering(task: &Task) -> Vec<(String, Request)> {
    use driver::{Lifecycle, Verb, VerbRule};
    let cx = context();
    let fail = |e: driver::BuildError| -> Request { panic!("{}: {e}", task.name) };
    let mut out = vec![
        (
            format!("{}.query.json", task.name),
            driver::build_query(task.vendor, TASK_ID, &cx).unwrap_or_else(fail),
        ),
        (
            format!("{}.find.json", task.name),
            driver::build_find(task.vendor, task.vendor_name(), 1, &cx).unwrap_or_else(fail),
        ),
    ];
    let tried = [
        (Verb::Pause, Lifecycle::Running),
        (Verb::Resume, Lifecycle::Paused),
        (Verb::Stop, Lifecycle::Running),
        (Verb::Stop, Lifecycle::Paused),
        (Verb::Stop, Lifecycle::NotStarted),
    ];
    let mut first: std::collections::BTreeMap<Verb, &str> = Default::default();
    for (verb, from) in tried {
        let VerbRule::Send { action, .. } = driver::verb_rule(task.vendor, verb, from) else {
            continue;
        };
        let name = match first.get(&verb) {
            None => format!("{}.{verb}.json", task.name),
            Some(a) if *a == action => continue,
            Some(_) => format!("{}.{verb}.{}.json", task.name, from.key()),
        };
        first.entry(verb).or_insert(action);
        let request =
            driver::build_verb(task.vendor, verb, TASK_ID, from, &cx).unwrap_or_else(fail);
        out.push((name, request));
    }
    if let Some(update) =
        driver::build_update(task, TASK_ID, &cx).unwrap_or_else(|e| panic!("{}: {e}", task.name))
    {
        out.push((format!("{}.update.json", task.name), update));
    }
    if let Some(numbers) = driver::build_numbers(task.vendor, TASK_ID, 1, &cx)
        .unwrap_or_else(|e| panic!("{}: {e}", task.name))
    {
        out.push((format!("{}.numbers.json", task.name), numbers));
    }
    out
}

#[test]
fn every_example_builds_its_golden_request() {
    let dir = golden_dir();
    let bless = std::env::var_os("CALLFORM_BLESS").is_some_and(|v| v == "1");
    let tasks = examples();
    let mut mismatched = Vec::new();
    let mut names = BTreeSet::new();
    let files_of = tasks.iter().flat_map(|task| {
        std::iter::once((format!("{}.json", task.name), rendered(task, false))).chain(
            steps(task)
                .into_iter()
                .map(|(name, request)| (name, show(&request, false))),
        )
    });
    for (name, actual) in files_of {
        let path = dir.join(&name);
        names.insert(name);
        if bless {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with CALLFORM_BLESS=1 to write it",
                path.display()
            )
        });
        if expected != actual {
            mismatched.push(format!(
                "--- {}\n{expected}\n+++ built now\n{actual}",
                path.display()
            ));
        }
    }
    assert!(
        mismatched.is_empty(),
        "requests differ from their golden files:\n{}",
        mismatched.join("\n")
    );

    // The golden files of every example task, none left over from a task that is gone.
    let files: BTreeSet<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, names, "tests/golden/ and examples/tasks/ disagree");
    for file in &files {
        let text = fs::read_to_string(dir.join(file)).unwrap();
        for canary in CANARIES {
            assert!(!text.contains(canary), "{file} holds a secret");
        }
    }
    let vendors: BTreeSet<Vendor> = tasks.iter().map(|t| t.vendor).collect();
    assert_eq!(
        vendors.len(),
        Vendor::ALL.len(),
        "every vendor needs an example"
    );
}

/// Secrets never reach what a reviewer sees: not the golden files, not a shown request.
/// xfyeta's token travels in the URL and longlonglong's in a header; both show as `***`.
#[test]
fn shown_requests_hold_no_secret() {
    for task in examples() {
        let text = rendered(&task, false);
        for canary in CANARIES {
            assert!(
                !text.contains(canary),
                "{}: a secret is shown: {text}",
                task.name
            );
        }
        match task.vendor {
            Vendor::Xfyeta => assert!(text.contains("token=***"), "{text}"),
            Vendor::Longlonglong => assert!(text.contains("Bearer ***"), "{text}"),
            _ => {}
        }
    }
}

/// `plan --show-requests` shows the same requests with every number masked.
#[test]
fn shown_requests_mask_the_numbers_called() {
    for task in examples() {
        // The numbers a create carries: Volcengine's first callees, Aliyun's calling lines.
        let numbers: Vec<String> = match (&task.spec, &task.callees) {
            (Spec::Volcengine(_), Some(list)) => list
                .rows(0, 10_000)
                .unwrap()
                .into_iter()
                .map(|r| r.phone)
                .collect(),
            (Spec::Aliyun(spec), _) => spec.caller.clone(),
            _ => continue,
        };
        let clear = rendered(&task, false);
        let masked = rendered(&task, true);
        for number in &numbers {
            assert!(
                clear.contains(number.as_str()),
                "{}: {number} is not in the request",
                task.name
            );
            assert!(
                !masked.contains(number.as_str()),
                "{}: {number} shown in clear",
                task.name
            );
        }
    }
}

/// The dispatchers reach each vendor's own reading of its answer.
#[test]
fn parse_dispatches_by_vendor() {
    let created = |vendor, body: &str| match driver::parse(vendor, 200, body.as_bytes()) {
        Parsed::Created { task_id, .. } => task_id,
        other => panic!("{vendor}: {other:?}"),
    };
    assert_eq!(
        created(
            Vendor::Xfyeta,
            r#"{"code":0,"message":"ok","result":{"task_id":"129"}}"#
        ),
        "129"
    );
    assert_eq!(
        created(
            Vendor::Longlonglong,
            r#"{"code":200,"status":"success","data":{"id":"ec33"}}"#
        ),
        "ec33"
    );
    assert_eq!(
        created(
            Vendor::Aliyun,
            r#"{"Code":"OK","Message":"OK","RequestId":"R","Data":"4001112222"}"#
        ),
        "4001112222"
    );
    assert_eq!(
        created(
            Vendor::Volcengine,
            r#"{"ResponseMetadata":{"RequestId":"R"},"Result":{"TaskOpenId":"123"}}"#
        ),
        "123"
    );
    for vendor in Vendor::ALL {
        assert!(
            matches!(
                driver::parse(vendor, 200, b"<html>"),
                Parsed::Uncertain { .. }
            ),
            "{vendor}"
        );
        assert!(
            matches!(
                driver::parse(vendor, 429, b""),
                Parsed::Rejected {
                    class: ErrorClass::Throttled,
                    ..
                }
            ),
            "{vendor}"
        );
    }
}

// ---- the steps' answers ---------------------------------------------------------------

const STEPS: [Op; 2] = [Op::LoadCallees { rows: 2 }, Op::Start];

fn step(vendor: Vendor, op: Op, status: u16, body: &str) -> Parsed {
    op.classify(vendor, status, body.as_bytes(), false, Some(TASK_ID))
}

fn done(vendor: Vendor, op: Op, status: u16, body: &str) -> Vec<String> {
    match step(vendor, op, status, body) {
        Parsed::Done { warnings, .. } => warnings,
        other => panic!("{vendor} {op:?} HTTP {status} {body}: expected done, got {other:?}"),
    }
}

fn uncertain(vendor: Vendor, op: Op, status: u16, body: &str) -> String {
    match step(vendor, op, status, body) {
        Parsed::Uncertain { reason, .. } => reason,
        other => panic!("{vendor} {op:?} HTTP {status} {body}: expected uncertain, got {other:?}"),
    }
}

/// An error answer with `code` in the vendor's shape.
fn error_body(vendor: Vendor, code: &str) -> String {
    match vendor {
        Vendor::Xfyeta => format!(r#"{{"code":{code},"message":"m","result":{{}}}}"#),
        Vendor::Longlonglong => {
            format!(r#"{{"code":{code},"status":"error","message":"m","data":[]}}"#)
        }
        Vendor::Aliyun => format!(r#"{{"Code":"{code}","Message":"m","RequestId":"R"}}"#),
        Vendor::Volcengine => format!(
            r#"{{"ResponseMetadata":{{"RequestId":"R","Error":{{"Code":"{code}","Message":"m"}}}}}}"#
        ),
    }
}

/// The documented success of `op` at `vendor` (those with a request for it).
fn step_success(vendor: Vendor, op: Op) -> Option<String> {
    let load = matches!(op, Op::LoadCallees { .. });
    Some(match (vendor, load) {
        (Vendor::Xfyeta, true) => {
            r#"{"code":0,"message":"ok","result":{"total":2,"task_data_ids":[87,88]}}"#.into()
        }
        (Vendor::Xfyeta, false) => r#"{"code":0,"message":"ok","result":{}}"#.into(),
        (Vendor::Longlonglong, true) => {
            r#"{"code":200,"status":"success","message":"ok","data":{}}"#.into()
        }
        (Vendor::Aliyun, true) => {
            format!(r#"{{"Code":"OK","Message":"OK","RequestId":"R","Data":"{TASK_ID}"}}"#)
        }
        (Vendor::Aliyun, false) => {
            r#"{"Code":"OK","Message":"OK","RequestId":"R","Data":"true"}"#.into()
        }
        (Vendor::Volcengine, true) => format!(
            r#"{{"ResponseMetadata":{{"RequestId":"R"}},"Result":{{"TaskOpenId":"{TASK_ID}","FailList":[]}}}}"#
        ),
        _ => return None,
    })
}

/// Every code of each vendor's table for each step is a rejection of its class under its
/// statuses, and uncertain under a 5xx; the classes are the design's (§1).
#[test]
fn every_listed_step_code_is_a_rejection_under_its_status_only() {
    for vendor in Vendor::ALL {
        for op in STEPS {
            for rej in answer::rejections(vendor, op) {
                assert!(!rej.source.is_empty(), "{vendor} {}", rej.code);
                let body = error_body(vendor, rej.code);
                for &status in rej.statuses {
                    match step(vendor, op, status, &body) {
                        Parsed::Rejected { class, code, .. } => {
                            assert_eq!((class, code.as_str()), (rej.class, rej.code))
                        }
                        other => panic!("{vendor} {op:?} {} {status}: {other:?}", rej.code),
                    }
                }
                for status in [500, 502, 503, 504] {
                    uncertain(vendor, op, status, &body);
                }
            }
        }
    }
    let codes = |vendor, op| -> Vec<(&str, ErrorClass)> {
        answer::rejections(vendor, op)
            .iter()
            .map(|r| (r.code, r.class))
            .collect()
    };
    let load = Op::LoadCallees { rows: 2 };
    assert_eq!(
        codes(Vendor::Xfyeta, load),
        [
            ("10001", ErrorClass::Auth),
            ("10005", ErrorClass::Business),
            ("200202", ErrorClass::Business),
            ("200212", ErrorClass::Business),
            ("200213", ErrorClass::Business),
            ("3010101", ErrorClass::TaskState),
            ("3010102", ErrorClass::TaskState),
        ]
    );
    assert_eq!(
        codes(Vendor::Xfyeta, Op::Start),
        [
            ("10001", ErrorClass::Auth),
            ("10005", ErrorClass::Business),
            ("200202", ErrorClass::Business),
            ("3010101", ErrorClass::TaskState),
            ("3010102", ErrorClass::TaskState),
        ]
    );
    assert_eq!(
        codes(Vendor::Longlonglong, load),
        [("6007", ErrorClass::TaskState)]
    );
    assert_eq!(
        answer::rejections(Vendor::Longlonglong, load)[0].statuses,
        [200, 400]
    );
    // No start request exists for these two: nothing to reject.
    assert!(codes(Vendor::Longlonglong, Op::Start).is_empty());
    assert!(codes(Vendor::Volcengine, Op::Start).is_empty());
    // Aliyun and Volcengine refuse steps with their create tables.
    for vendor in [Vendor::Aliyun, Vendor::Volcengine] {
        assert_eq!(codes(vendor, load), codes(vendor, Op::Create));
    }
    assert_eq!(
        codes(Vendor::Aliyun, Op::Start),
        codes(Vendor::Aliyun, Op::Create)
    );
}

/// Row-level and undocumented codes may have stored part of the batch: uncertain.
#[test]
fn unlisted_step_codes_are_uncertain() {
    let load = Op::LoadCallees { rows: 2 };
    for code in ["200203", "3030002", "3010199", "-1", "1"] {
        uncertain(Vendor::Xfyeta, load, 200, &error_body(Vendor::Xfyeta, code));
    }
    // 200212/200213 belong to the insert, not to the start.
    for code in ["200212", "200213", "3030002"] {
        uncertain(
            Vendor::Xfyeta,
            Op::Start,
            200,
            &error_body(Vendor::Xfyeta, code),
        );
    }
    for code in ["6001", "422", "4004", "500"] {
        uncertain(
            Vendor::Longlonglong,
            load,
            200,
            &error_body(Vendor::Longlonglong, code),
        );
    }
    uncertain(
        Vendor::Longlonglong,
        load,
        500,
        &error_body(Vendor::Longlonglong, "6007"),
    );
    for code in ["isv.CALLED_NUMBER_OVER_LIMIT", "isp.SYSTEM_ERROR"] {
        for op in STEPS {
            uncertain(Vendor::Aliyun, op, 200, &error_body(Vendor::Aliyun, code));
        }
    }
    uncertain(
        Vendor::Volcengine,
        load,
        500,
        &error_body(Vendor::Volcengine, "InternalError"),
    );
    // HTTP alone: 401/403/429 refuse, anything else in no vendor shape is uncertain.
    for vendor in Vendor::ALL {
        for op in STEPS {
            for (status, class) in [
                (401, ErrorClass::Auth),
                (403, ErrorClass::Auth),
                (429, ErrorClass::Throttled),
            ] {
                assert!(
                    matches!(step(vendor, op, status, ""), Parsed::Rejected { class: c, .. } if c == class),
                    "{vendor} {op:?} {status}"
                );
            }
            for status in [200, 400, 404, 413, 414, 500, 502] {
                for body in ["", "<html>gateway</html>", "{}", "null"] {
                    uncertain(vendor, op, status, body);
                }
            }
            // An answer cut at the cap says nothing.
            if let Some(ok) = step_success(vendor, op) {
                assert!(matches!(
                    op.classify(vendor, 200, ok.as_bytes(), true, Some(TASK_ID)),
                    Parsed::Uncertain { .. }
                ));
            }
        }
    }
}

/// The documented success is done; the same body under a 4xx or a 5xx is uncertain (a
/// sign of success is never "nothing loaded").
#[test]
fn a_step_success_is_done_under_2xx_only() {
    for vendor in Vendor::ALL {
        for op in STEPS {
            let Some(ok) = step_success(vendor, op) else {
                continue;
            };
            assert!(done(vendor, op, 200, &ok).is_empty(), "{vendor} {op:?}");
            for status in [400, 401, 403, 404, 429, 500, 503] {
                uncertain(vendor, op, status, &ok);
            }
        }
    }
    // longlonglong's success may say so by `status` alone, as the create's does.
    done(
        Vendor::Longlonglong,
        Op::LoadCallees { rows: 2 },
        200,
        r#"{"status":"success","message":"ok"}"#,
    );
}

/// xfyeta's `result.total`: fewer rows than sent is done with a warning (never sent
/// again), more than sent or none is uncertain.
#[test]
fn xfyeta_total_short_long_missing() {
    let load = Op::LoadCallees { rows: 2 };
    let with_total = |total: &str| {
        format!(r#"{{"code":0,"message":"ok","result":{{"total":{total},"task_data_ids":[87]}}}}"#)
    };
    let warnings = done(Vendor::Xfyeta, load, 200, &with_total("1"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("took 1 of the 2 rows"), "{warnings:?}");
    let reason = uncertain(Vendor::Xfyeta, load, 200, &with_total("3"));
    assert!(reason.contains("took 3 rows of a batch of 2"), "{reason}");
    for total in ["null", "\"2\"", "2.5", "-1"] {
        uncertain(Vendor::Xfyeta, load, 200, &with_total(total));
    }
    uncertain(
        Vendor::Xfyeta,
        load,
        200,
        r#"{"code":0,"message":"ok","result":{}}"#,
    );
    uncertain(Vendor::Xfyeta, load, 200, r#"{"code":0,"message":"ok"}"#);
    // A count next to an error code may mean rows were stored.
    uncertain(
        Vendor::Xfyeta,
        load,
        200,
        r#"{"code":200213,"message":"m","result":{"total":2}}"#,
    );
}

/// Aliyun: the upload's `Data` must be the task sent, the start's `"true"`.
#[test]
fn aliyun_data_must_match() {
    let load = Op::LoadCallees { rows: 2 };
    for data in ["\"4001000999\"", "\"\"", "null", "\"true\""] {
        uncertain(
            Vendor::Aliyun,
            load,
            200,
            &format!(r#"{{"Code":"OK","Data":{data}}}"#),
        );
    }
    uncertain(Vendor::Aliyun, load, 200, r#"{"Code":"OK"}"#);
    for data in [
        "\"false\"",
        "\"\"",
        "null",
        "true",
        &format!("\"{TASK_ID}\""),
    ] {
        uncertain(
            Vendor::Aliyun,
            Op::Start,
            200,
            &format!(r#"{{"Code":"OK","Data":{data}}}"#),
        );
    }
    // A throttling answer that names the task may have been acted on.
    uncertain(
        Vendor::Aliyun,
        load,
        400,
        &format!(r#"{{"Code":"Throttling.User","Data":"{TASK_ID}"}}"#),
    );
}

/// Volcengine: `TaskOpenId`, when given, must be ours; `FailList` items become masked
/// warnings, at most 20 and then a count.
#[test]
fn volcengine_append_answers() {
    let load = Op::LoadCallees { rows: 30 };
    uncertain(
        Vendor::Volcengine,
        load,
        200,
        r#"{"ResponseMetadata":{},"Result":{"TaskOpenId":"other"}}"#,
    );
    uncertain(Vendor::Volcengine, load, 200, r#"{"ResponseMetadata":{}}"#);
    done(
        Vendor::Volcengine,
        load,
        200,
        r#"{"ResponseMetadata":{},"Result":{}}"#,
    );
    let items: Vec<String> = (0..25)
        .map(|i| format!(r#"{{"Index":{i},"Phone":"137000010{i:02}","Type":"REDUPLICATED_ITEM","Desc":"重复项目"}}"#))
        .collect();
    let body = format!(
        r#"{{"ResponseMetadata":{{}},"Result":{{"TaskOpenId":"{TASK_ID}","FailList":[{}]}}}}"#,
        items.join(",")
    );
    let warnings = done(Vendor::Volcengine, load, 200, &body);
    assert_eq!(warnings.len(), 21, "{warnings:?}");
    assert_eq!(
        warnings[0],
        "PhoneList[0] 137****1000: REDUPLICATED_ITEM 重复项目"
    );
    assert_eq!(warnings[20], "and 5 more");
    assert!(
        warnings.iter().all(|w| !w.contains("13700001")),
        "{warnings:?}"
    );
}

/// An answer naming every one of 10,000 refused rows, with long descriptions, is read
/// whole (it fits the transport's cap), and its warnings stay bounded.
#[test]
fn a_fail_list_of_10000_rows_fits_the_answer_cap() {
    let desc = "号码重复，已存在于任务中，请检查后再提交".repeat(2);
    let items: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"Index":{i},"Phone":"1370{i:07}","Type":"REDUPLICATED_ITEM","Desc":"{desc}"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"ResponseMetadata":{{"RequestId":"R","Action":"BatchAppend","Version":"2022-01-01","Service":"vms","Region":"cn-north-1"}},"Result":{{"TaskOpenId":"{TASK_ID}","FailList":[{}]}}}}"#,
        items.join(",")
    );
    assert!(
        body.len() < callform::transport::MAX_ANSWER_BYTES / 2,
        "{} bytes",
        body.len()
    );
    let warnings = done(
        Vendor::Volcengine,
        Op::LoadCallees { rows: 10_000 },
        200,
        &body,
    );
    assert_eq!(warnings.last().map(String::as_str), Some("and 9980 more"));
}

/// A vendor that echoes a callee's name (or number, or any value of the batch) in its
/// answer: the transport's scrubber takes each out of every text it keeps.
#[test]
fn a_callee_name_in_a_vendor_message_is_redacted() {
    let task = examples()
        .into_iter()
        .find(|t| t.vendor == Vendor::Xfyeta)
        .unwrap();
    let list = task.callees.as_ref().unwrap();
    let rows = list.rows(0, 2).unwrap();
    let request = driver::build_load(&task, TASK_ID, &list.columns, &rows, &context()).unwrap();
    let name = rows[0].values[0].clone();
    assert!(request.redact.contains(&name) && request.redact.contains(&rows[0].phone));
    let escaped: String = name
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let message = format!(
        "客户 {name} ({}) 已存在; encoded {}; escaped {escaped}",
        rows[0].phone,
        callform::sign::percent_encode(&name)
    );
    let scrubbed = callform::transport::scrub(&message, &request);
    assert_eq!(scrubbed, "客户 *** (***) 已存在; encoded ***; escaped ***");
    assert!(!scrubbed.contains(TOKEN));
}
