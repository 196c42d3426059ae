//! The exact requests each example task produces, held in `tests/golden/` as
//! `driver::display` shows them (secrets as `***`, the examples' placeholder numbers in
//! clear): `<task>.json` the create, `<task>.load.json` its first callee batch (for
//! Volcengine, whose first batch travels in the create, the `BatchAppend` of the same
//! rows: the shape of every later batch), `<task>.start.json` its start where the vendor
//! has a start request. Each golden file was checked by hand against its vendor page once;
//! this test keeps every later change to a driver visible in review.
//!
//! Below them, the classification tables of the steps per vendor and op.
//!
//! After a deliberate wire change: `CALLFORM_BLESS=1 cargo test --test it drivers`, then read
//! the diff of `tests/golden/` against the vendor page before committing it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use callform::driver::{self, Context, Credentials, ErrorClass, Parsed, Request};
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
