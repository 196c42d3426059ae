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

#[test]
fn refresh_reads_each_task_once_within_the_rate_the_emulator_enforces() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let own = runtime.block_on(async {
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
    });
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

    let at_own = |args: &[&str]| {
        let mut cmd = bin().emulator().args(args).arg(&tasks);
        for var in [
            "CALLFORM_XFYETA_ENDPOINT",
            "CALLFORM_LONGLONGLONG_ENDPOINT",
            "CALLFORM_ALIYUN_ENDPOINT",
            "CALLFORM_VOLCENGINE_ENDPOINT",
        ] {
            cmd = cmd.env(var, &url);
        }
        cmd.run()
    };
    let applied = at_own(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);

    // More reads in flight than the rate allows in a second: only the pace holds them back.
    let refreshed = at_own(&["refresh", "--detailed-exitcode", "--parallelism", "32"]);
    assert_eq!(
        refreshed.code, 0,
        "no drift, no failed read:\n{}{}",
        refreshed.stdout, refreshed.stderr
    );

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
    let requests = requests.as_array().unwrap();
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
