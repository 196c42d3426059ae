//! `refresh` keeps to each vendor's read rate: against an emulator that throttles every
//! read over the rate callform paces itself at (`--enforce-read-qps`, the one choice per
//! vendor in `vendor/<name>/mod.rs`), each task is read exactly once — none was throttled
//! and sent again.
//!
//! This is the one test with an emulator of its own (the shared one enforces no rate, so
//! that parallel tests reading the same account are not throttled by each other).

use serde_json::Value;

use crate::harness::{self, bin};

const TASKS: usize = 24;

fn xfyeta_task(i: usize) -> String {
    format!(
        "name: pace-{i:02}\nvendor: xfyeta\nspec:\n  task_name: pace-{i:02}\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-03-31 20:00\n"
    )
}

fn aliyun_task(i: usize) -> String {
    format!(
        "name: pace-ali-{i:02}\nvendor: aliyun\ncallees: {{numbers: [\"1370000{i:04}\"]}}\nspec:\n  task_name: pace-ali-{i:02}\n  dialog_id: 1234567\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n  recall_times: 1\n  recall_interval: 5\n"
    )
}

/// An emulator of this test's own that holds every vendor to its documented read rate.
fn own_emulator(runtime: &tokio::runtime::Runtime) -> callform::emulator::Running {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = callform::emulator::Config {
            credentials: callform::emulator::Credentials {
                xfyeta_token: harness::XF_TOKEN.into(),
                longlonglong_user_id: harness::LLL_USER.into(),
                longlonglong_token: harness::LLL_TOKEN.into(),
                aliyun_access_key_id: harness::ALI_ID.into(),
                aliyun_access_key_secret: harness::ALI_SECRET.into(),
                volcengine_access_key: harness::VOLC_AK.into(),
                volcengine_secret_key: harness::VOLC_SK.into(),
            },
            read_qps: callform::emulator::ReadQps::Documented,
            ..Default::default()
        };
        callform::emulator::spawn(listener, config).await.unwrap()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// callform run against `url` on every vendor.
fn at_own(url: &str, tasks: &std::path::Path, args: &[&str]) -> harness::Output {
    let mut cmd = bin().emulator().args(args).arg(tasks);
    for var in [
        "CALLFORM_XFYETA_ENDPOINT",
        "CALLFORM_LONGLONGLONG_ENDPOINT",
        "CALLFORM_ALIYUN_ENDPOINT",
        "CALLFORM_VOLCENGINE_ENDPOINT",
    ] {
        cmd = cmd.env(var, url);
    }
    cmd.run()
}

fn requests_of(runtime: &tokio::runtime::Runtime, url: &str) -> Vec<Value> {
    let requests: Value = runtime.block_on(async {
        harness::client()
            .get(format!("{url}/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    requests.as_array().unwrap().clone()
}

#[test]
fn refresh_reads_each_task_once_within_the_rate_the_emulator_enforces() {
    let runtime = runtime();
    let own = own_emulator(&runtime);
    let url = own.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("callform.yaml"),
        "timezone: Asia/Shanghai\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n",
    )
    .unwrap();
    let tasks = tmp.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let mut docs: Vec<String> = (0..TASKS).map(xfyeta_task).collect();
    docs.extend((0..4).map(aliyun_task));
    std::fs::write(tasks.join("pace.yaml"), docs.join("---\n")).unwrap();

    let applied = at_own(&url, &tasks, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);

    // More reads in flight than the rate allows in a second: only the pace holds them back.
    let refreshed = at_own(
        &url,
        &tasks,
        &["refresh", "--detailed-exitcode", "--parallelism", "32"],
    );
    assert_eq!(
        refreshed.code, 0,
        "no drift, no failed read:\n{}{}",
        refreshed.stdout, refreshed.stderr
    );

    let requests = requests_of(&runtime, &url);
    let reads = |prefix: &str| {
        requests
            .iter()
            .filter(|r| {
                r["op"] == "query" && r["name"].as_str().is_some_and(|n| n.starts_with(prefix))
            })
            .count()
    };
    assert_eq!(
        reads("pace-0") + reads("pace-1") + reads("pace-2"),
        TASKS,
        "one read a task: a throttled read would have been sent again"
    );
    assert_eq!(reads("pace-ali-"), 4);
    let throttled = requests.iter().filter(|r| r["op"].is_null()).count();
    assert_eq!(throttled, 0, "reads the emulator refused before reading");
    runtime.block_on(own.shutdown());
}

/// longlonglong's number list is read page by page within its read rate too: tasks whose
/// third batch is uncertain (300 numbers held, three pages each) are read back and their
/// lists read in full, every page once.
#[test]
fn number_lists_are_read_within_the_rate_the_emulator_enforces() {
    const LISTS: usize = 6;
    let runtime = runtime();
    let own = own_emulator(&runtime);
    let url = own.url();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("callform.yaml"),
        "timezone: Asia/Shanghai\nproviders:\n  longlonglong: {user_id: 5832d184-dd53-42a0-8ace-0bf8d660f4cc, token: \"${LONGLONGLONG_TOKEN}\"}\n",
    )
    .unwrap();
    let tasks = tmp.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let docs: Vec<String> = (0..LISTS)
        .map(|i| {
            let numbers: Vec<String> = (0..300)
                .map(|j| format!("\"137{:08}\"", i * 1000 + j))
                .collect();
            format!(
                "name: pace-lll-{i}\nvendor: longlonglong\ncallees: {{numbers: [{}]}}\nspec:\n  name: pace-lll-{i}\n  task_type: old\n  destination_extension: 297\n  dial_time_id: 5\n  maximumcall: 1\n  task_extras:\n    start_time: 2027-01-04 09:00\n    stop_time: 2027-01-31 18:00\n    line: [29c39ec4-b292-4af9-a88b-922d61866sub]\n",
                numbers.join(", ")
            )
        })
        .collect();
    std::fs::write(tasks.join("pace.yaml"), docs.join("---\n")).unwrap();
    let (status, _): (u16, Value) = runtime.block_on(async {
        let r = harness::client()
            .post(format!("{url}/_emulator/faults"))
            .json(&serde_json::json!({"match": "pace-lll-", "op": "load", "batch": 2, "kind": "5xx", "times": LISTS}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    });
    assert_eq!(status, 201);
    let applied = at_own(&url, &tasks, &["apply", "--auto-approve"]);
    assert_eq!(
        applied.code, 1,
        "every third batch uncertain:\n{}",
        applied.stdout
    );

    let refreshed = at_own(&url, &tasks, &["refresh", "--parallelism", "32"]);
    assert_eq!(
        refreshed.code, 0,
        "{}{}",
        refreshed.stdout, refreshed.stderr
    );
    let requests = requests_of(&runtime, &url);
    let count = |op: &str| requests.iter().filter(|r| r["op"] == op).count();
    assert_eq!(count("query"), LISTS);
    assert_eq!(
        count("numbers"),
        LISTS * 3,
        "every page once, none throttled"
    );
    let throttled = requests.iter().filter(|r| r["op"].is_null()).count();
    assert_eq!(throttled, 0, "reads the emulator refused before reading");
    runtime.block_on(own.shutdown());
}
