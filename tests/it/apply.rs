//! Apply end to end: the built binary against one emulator on 127.0.0.1, over real HTTP.
//!
//! Every test works on its own copy of the examples with its own task names (a prefix), so
//! the tests can share the emulator and run in parallel. The credentials are canaries: no
//! test output, state, journal or plan file may contain them, nor a full phone number.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{self, Callform, Output as Run, CANARIES};

const NUMBERS: [&str; 4] = ["13700000001", "13700000004", "13700000011", "13700000013"];

fn get(path: &str) -> Value {
    harness::emulator().get(path)
}

fn post_fault(rule: Value) {
    harness::emulator().post_fault(rule);
}

/// Tasks the emulator created whose vendor-visible name starts with `prefix`.
fn created(prefix: &str) -> Vec<Value> {
    harness::emulator().tasks(prefix)
}

/// A copy of the examples in a temp dir. With a prefix, every task name and vendor-visible
/// name starts with it, so this test's tasks are its own at the shared emulator.
fn examples(prefix: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let (tmp, tasks, _) = harness::examples();
    let project = tmp.path().join("callform.yaml");
    let text = std::fs::read_to_string(&project).unwrap().replace(
        "    parallelism: 4\n",
        "    parallelism: 4\n    request_timeout_ms: 1500\n",
    );
    std::fs::write(&project, text).unwrap();
    if let Some(p) = prefix {
        harness::rename_tasks(&tasks, p);
    }
    (tmp, tasks)
}

/// `callform ARGS DIR` against the shared emulator; no number of the examples may be shown.
fn callform(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = Callform::new().args(args).dir(dir).emulator();
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.run();
    for n in NUMBERS {
        assert!(
            !run.stdout.contains(n) && !run.stderr.contains(n),
            "a number leaked: {}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

fn state(dir: &Path) -> Value {
    let path = dir.parent().unwrap().join("callform.state.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// No file callform wrote next to the state holds a secret or a clear number.
fn assert_files_clean(dir: &Path) {
    for entry in std::fs::read_dir(dir.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("state.json") || name.ends_with(".plan.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            for s in CANARIES.iter().chain(NUMBERS.iter()) {
                assert!(!text.contains(s), "{name} holds {s}");
            }
        }
    }
}

#[test]
fn each_vendor_end_to_end_sends_exactly_the_golden_request() {
    let (_tmp, tasks) = examples(None);
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Apply complete: 5 created, 0 failed, 0 uncertain"),
        "{}",
        run.stdout
    );

    let st = state(&tasks);
    let all = get("/_emulator/tasks");
    // The vendor-visible names of this test's tasks (other tests use prefixed names).
    let mut names = Vec::new();
    for name in [
        "delivery-notice",
        "overdue-notice-jan",
        "payment-followup",
        "renewal-reminder-2027q1",
        "satisfaction-survey",
    ] {
        let rec = &st["tasks"][name];
        assert_eq!(rec["status"], "created", "{name}");
        let id = rec["task_id"].as_str().unwrap();
        let at_vendor: Vec<&Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["task_id"] == id)
            .collect();
        assert_eq!(
            at_vendor.len(),
            1,
            "{name}: exactly one vendor task with id {id}"
        );
        names.push(at_vendor[0]["name"].clone());
        let received = &at_vendor[0]["request"];
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        // Same path and parameters, same body.
        let url = golden["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("https://ENDPOINT");
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        assert_eq!(received["path"], path, "{name}");
        let mut want: Vec<(String, String)> = query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| {
                let (k, v) = q.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let mut got: Vec<(String, String)> = received["query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}: query");
        assert_eq!(received["body"], golden["body"], "{name}: body");
    }

    // A second plan and apply change nothing.
    let run = callform(&["plan", "--detailed-exitcode"], &tasks, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let ours = || {
        get("/_emulator/tasks")
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| names.contains(&t["name"]))
            .count()
    };
    assert_eq!(ours(), 5);
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(ours(), 5, "the second apply created something");
    assert_files_clean(&tasks);
}

#[test]
fn a_wrong_secret_is_an_authentication_failure_naming_the_provider() {
    let (_tmp, tasks) = examples(Some("auth-"));
    let wrong = "CANARY-wrong-Secret-0000";
    let run = callform(
        &["apply", "--auto-approve"],
        &tasks,
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    // Preflight: the provider's read is refused before anything is sent, for any vendor.
    assert!(
        run.stderr
            .contains("preflight: provider `aliyun` (aliyun): its credentials were refused"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "the hint names the variable: {}",
        run.stderr
    );
    assert!(!run.stdout.contains(wrong) && !run.stderr.contains(wrong));
    assert!(created("auth-").is_empty(), "something was created");
    assert!(
        received("auth-").iter().all(|r| r["op"] == "find"),
        "only reads reached the vendors"
    );
    assert_files_clean(&tasks);
}

/// longlonglong's account is the `user_id` of callform.yaml, not a secret: when the vendor
/// refuses the token for that account, the hint names both, not the token alone.
#[test]
fn an_authentication_failure_hint_names_the_user_id_of_longlonglong_too() {
    let (tmp, tasks) = examples(Some("auid-"));
    let project = tmp.path().join("callform.yaml");
    let text = std::fs::read_to_string(&project).unwrap();
    let text = text.replace(harness::LLL_USER, "00000000-0000-4000-8000-00000000beef");
    std::fs::write(&project, text).unwrap();
    let run = callform(
        &[
            "apply",
            "--auto-approve",
            "--target",
            "auid-payment-followup",
        ],
        &tasks,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "preflight: provider `longlonglong` (longlonglong): its credentials were refused"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "hint: check the credentials in LONGLONGLONG_TOKEN, `user_id` of provider `longlonglong` in callform.yaml"
        ),
        "the hint names the account too: {}",
        run.stderr
    );
}

#[test]
fn a_business_error_fails_that_task_only() {
    let (_tmp, tasks) = examples(Some("biz-"));
    post_fault(serde_json::json!({"match": "biz-续保提醒", "kind": "business_error"}));
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("4 created, 1 failed"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("biz-renewal-reminder-2027q1: create: xfyeta 10005"),
        "{}",
        run.stdout
    );
    assert_eq!(created("biz-").len(), 4);
    // Fixed at the vendor, the next apply creates just that one.
    harness::emulator().delete_faults("biz-续保提醒");
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("1 created"), "{}", run.stdout);
    assert_eq!(created("biz-").len(), 5);
}

#[test]
fn throttling_is_retried_and_succeeds() {
    let (_tmp, tasks) = examples(Some("thr-"));
    post_fault(serde_json::json!({"match": "thr-欠费提醒", "kind": "throttle", "times": 2}));
    post_fault(serde_json::json!({"match": "thr-配送通知", "kind": "throttle", "times": 1}));
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        created("thr-").len(),
        5,
        "each throttled task created once, after its retries"
    );
}

fn uncertain_case(prefix: &str, kind: &str, vendor_name: &str, task: &str) {
    let (_tmp, tasks) = examples(Some(prefix));
    post_fault(
        serde_json::json!({"match": format!("{prefix}{vendor_name}"), "kind": kind, "times": 1}),
    );
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("4 created, 0 failed, 1 uncertain"),
        "{kind}: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("callform state import {prefix}{task} TASK_ID")),
        "{}",
        run.stdout
    );
    let st = state(&tasks);
    assert_eq!(
        st["tasks"][format!("{prefix}{task}")]["status"],
        "uncertain"
    );
    // The task does exist at the vendor (the fault struck after the create) — once.
    let n = created(prefix)
        .iter()
        .filter(|t| t["name"].as_str().unwrap().contains(vendor_name))
        .count();
    assert_eq!(n, 1);
    // A plain plan reads nothing: it is still uncertain there.
    let run = callform(&["plan"], &tasks, &[]);
    assert!(run.stdout.contains("? uncertain"), "{}", run.stdout);
    // The next apply looks it up by name, finds it once and adopts it: never sent again.
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert!(run.stdout.contains("1 adopted"), "{kind}: {}", run.stdout);
    assert_eq!(run.code, 0, "{kind}: {}", run.stdout);
    assert_eq!(
        state(&tasks)["tasks"][format!("{prefix}{task}")]["status"],
        "created"
    );
    let n = created(prefix)
        .iter()
        .filter(|t| t["name"].as_str().unwrap().contains(vendor_name))
        .count();
    assert_eq!(n, 1, "{kind}: an uncertain task was sent again");
    assert_files_clean(&tasks);
}

#[test]
fn a_5xx_after_the_create_is_uncertain_and_never_sent_again() {
    uncertain_case("5xx-", "5xx", "满意度回访", "satisfaction-survey");
}

#[test]
fn a_reset_after_the_create_is_uncertain_and_never_sent_again() {
    uncertain_case("rst-", "reset", "欠费提醒", "overdue-notice-jan");
}

#[test]
fn a_hang_after_the_create_is_uncertain_and_never_sent_again() {
    uncertain_case(
        "hang-",
        "hang_after_create",
        "续保提醒",
        "renewal-reminder-2027q1",
    );
}

#[test]
fn without_a_terminal_apply_needs_auto_approve_and_sends_nothing() {
    let (_tmp, tasks) = examples(Some("ask-"));
    let run = callform(&["apply"], &tasks, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(created("ask-").is_empty());
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_when_stale() {
    let (tmp, tasks) = examples(Some("sp-"));
    let plan = tmp.path().join("reviewed.plan.json");
    let run = callform(&["plan", "--out", plan.to_str().unwrap()], &tasks, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A callee file changes after review: the plan is stale.
    let numbers = tmp.path().join("tasks/numbers/overdue-jan.csv");
    let original = std::fs::read_to_string(&numbers).unwrap();
    std::fs::write(&numbers, format!("{original}13700000009,钱先生,10.00\n")).unwrap();
    let out = Callform::new().arg("apply").arg(&plan).run();
    let err = &out.stderr;
    assert_eq!(out.code, 1);
    assert!(
        err.contains("stale") && err.contains("overdue-jan.csv changed"),
        "{err}"
    );
    assert!(created("sp-").is_empty(), "a stale plan sent something");
    // Restored, the plan applies as reviewed, without asking.
    std::fs::write(&numbers, original).unwrap();
    let out = Callform::new().arg("apply").arg(&plan).emulator().run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(created("sp-").len(), 5);
    // Applied once, the same plan is stale: the state moved on.
    let out = Callform::new().arg("apply").arg(&plan).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("a state was created since"));
    assert_eq!(created("sp-").len(), 5);
    assert_files_clean(&tasks);
}

#[test]
fn the_sandbox_needs_no_account_and_never_mixes_with_real_state() {
    let (tmp, tasks) = examples(None);
    let out = Callform::new()
        .args(["apply", "--sandbox", "--auto-approve"])
        .dir(&tasks)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sandbox_state = tmp.path().join("callform.sandbox.state.json");
    assert!(sandbox_state.exists() && !tmp.path().join("callform.state.json").exists());
    let text = std::fs::read_to_string(&sandbox_state).unwrap();
    assert!(text.contains("sandbox://callform-emulator"));
    // Second run: nothing to do.
    let out = Callform::new()
        .args(["apply", "--sandbox", "--auto-approve"])
        .dir(&tasks)
        .run();
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("No changes"), "{}", out.stdout);
    // The sandbox state used against a real endpoint: blocked, never a create.
    let out = Callform::new()
        .args(["plan", "--state"])
        .arg(&sandbox_state)
        .dir(&tasks)
        .run();
    assert_eq!(out.code, 1);
    assert!(out
        .stdout
        .contains("was created on sandbox://callform-emulator"));
}

/// Every request the emulator received (created or not) whose task name starts with `prefix`.
fn received(prefix: &str) -> Vec<Value> {
    harness::emulator().listed("/_emulator/requests", "name", prefix)
}

/// A scripted vendor answer for one task: the create is sent exactly once, the task is
/// `uncertain` (never failed), and the next apply does not send it again.
fn scripted_case(prefix: &str, vendor_name: &str, task: &str, rule: Value) {
    let (_tmp, tasks) = examples(Some(prefix));
    let mut rule = rule;
    rule["match"] = Value::String(format!("{prefix}{vendor_name}"));
    post_fault(rule.clone());
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("4 created, 0 failed, 1 uncertain"),
        "{rule}: {}",
        run.stdout
    );
    let st = state(&tasks);
    assert_eq!(
        st["tasks"][format!("{prefix}{task}")]["status"],
        "uncertain",
        "{rule}"
    );
    // Creates only: preflight and lookups by name read the same name.
    let sent = || {
        received(prefix)
            .iter()
            .filter(|r| r["name"].as_str().unwrap_or("").contains(vendor_name))
            .filter(|r| r["op"] == "create")
            .count()
    };
    assert_eq!(sent(), 1, "{rule}: the create was sent more than once");
    let run = callform(&["plan"], &tasks, &[]);
    assert!(
        !run.stdout.contains(&format!("+ {prefix}{task}")) && run.stdout.contains("uncertain"),
        "{rule}: the next plan creates it again: {}",
        run.stdout
    );
    // The next apply looks it up by name: adopted when the vendor made it, else still
    // uncertain; never sent again.
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert!(
        run.stdout.contains("1 adopted") || run.stdout.contains("uncertain"),
        "{}",
        run.stdout
    );
    assert_eq!(sent(), 1, "{rule}: an uncertain task was sent again");
    assert_files_clean(&tasks);
}

#[test]
fn a_success_body_under_http_400_is_uncertain_not_failed() {
    scripted_case(
        "s400-",
        "续保提醒",
        "renewal-reminder-2027q1",
        serde_json::json!({"kind": "answer", "status": 400,
            "body": r#"{"code":0,"message":"ok","result":{"task_id":"{task_id}"}}"#}),
    );
}

#[test]
fn an_id_under_http_404_is_uncertain_not_failed() {
    scripted_case(
        "s404-",
        "满意度回访",
        "satisfaction-survey",
        serde_json::json!({"kind": "answer", "status": 404,
            "body": r#"{"code":404,"status":"error","data":{"id":"{task_id}"}}"#}),
    );
}

#[test]
fn a_429_whose_body_reports_the_task_created_is_not_sent_again() {
    scripted_case(
        "s429-",
        "欠费提醒",
        "overdue-notice-jan",
        serde_json::json!({"kind": "answer", "status": 429,
            "body": r#"{"Code":"OK","Message":"OK","RequestId":"R","Data":"{task_id}"}"#}),
    );
}

#[test]
fn a_throttling_code_under_a_5xx_is_not_retried() {
    scripted_case(
        "s503-",
        "欠费提醒",
        "overdue-notice-jan",
        serde_json::json!({"kind": "answer", "status": 503, "create": true,
            "body": r#"{"Code":"Throttling.User","Message":"flow control","RequestId":"R"}"#}),
    );
}

#[test]
fn an_undocumented_code_at_http_200_is_uncertain() {
    scripted_case(
        "s200-",
        "续保提醒",
        "renewal-reminder-2027q1",
        serde_json::json!({"kind": "answer", "status": 200,
            "body": r#"{"code":-1,"message":"系统异常"}"#}),
    );
}

#[test]
fn a_plain_400_after_the_create_is_uncertain() {
    scripted_case(
        "sp400-",
        "满意度回访",
        "satisfaction-survey",
        serde_json::json!({"kind": "answer", "status": 400, "body": "Bad Request"}),
    );
}

#[test]
fn an_oversized_answer_is_uncertain_and_the_run_goes_on() {
    scripted_case(
        "big-",
        "续保提醒",
        "renewal-reminder-2027q1",
        serde_json::json!({"kind": "oversized_body", "size": 16 * 1024 * 1024}),
    );
}

#[test]
fn after_an_authentication_failure_the_providers_other_creates_are_not_sent() {
    let (tmp, tasks) = examples(Some("ast-"));
    // Three more Aliyun tasks, so the provider has four creates to make.
    let original = std::fs::read_to_string(tasks.join("aliyun/overdue-notice.yaml")).unwrap();
    for n in 2..=4 {
        let text = original
            .replace(
                "name: ast-overdue-notice-jan",
                &format!("name: ast-overdue-notice-{n}"),
            )
            .replace(
                "task_name: ast-欠费提醒1月",
                &format!("task_name: ast-欠费提醒{n}"),
            );
        std::fs::write(tasks.join(format!("aliyun/overdue-{n}.yaml")), text).unwrap();
    }
    let wrong = "CANARY-wrong-Secret-1111";
    let run = callform(
        &["apply", "--auto-approve"],
        &tasks,
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    // One read reached Aliyun (the preflight), and no create of any vendor was sent.
    let aliyun_requests: Vec<Value> = received("ast-")
        .into_iter()
        .filter(|r| r["name"].as_str().unwrap_or("").contains("欠费提醒"))
        .collect();
    assert_eq!(aliyun_requests.len(), 1, "{}", run.stdout);
    assert_eq!(aliyun_requests[0]["op"], "find");
    assert_eq!(
        run.stderr.matches("preflight: provider `aliyun`").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Nothing was sent"), "{}", run.stderr);
    assert!(!run.stdout.contains(wrong) && !run.stderr.contains(wrong));
    assert!(created("ast-").is_empty());
    // With the right secret they are all created.
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("8 created"), "{}", run.stdout);
    assert_eq!(created("ast-").len(), 8);
    drop(tmp);
}

/// Aliyun answers HTTP 400 `Throttling.User` next to the created task's id, written as a
/// JSON number with a fraction: the id is a sign of success although it cannot be read
/// exactly, so the create is uncertain and never sent again.
#[test]
fn a_throttling_answer_next_to_an_unreadable_id_is_not_sent_again() {
    let prefix = "tfl-";
    let (_tmp, tasks) = examples(Some(prefix));
    post_fault(
        serde_json::json!({"match": format!("{prefix}欠费提醒"), "kind": "answer",
        "status": 400, "create": true, "times": 1,
        "body": r#"{"Code":"Throttling.User","Message":"flow control","RequestId":"R","Data":{task_id}.0}"#}),
    );
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let made: Vec<String> = created(prefix)
        .iter()
        .filter(|t| t["name"].as_str().unwrap_or("").contains("欠费提醒"))
        .map(|t| t["task_id"].to_string())
        .collect();
    assert_eq!(made.len(), 1, "the create was sent {} times", made.len());
    let st = state(&tasks);
    assert_eq!(
        st["tasks"][format!("{prefix}overdue-notice-jan")]["status"],
        "uncertain"
    );
}

/// A vendor gateway that throttles before it authenticates: the first `throttled` requests
/// are answered HTTP 429 `Throttling.User`, every later one 401 (a wrong key). Returns its
/// URL and the count of requests it received. Serves on 127.0.0.1 until the test ends.
fn throttling_then_refusing_gateway(
    throttled: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            let (status, body) = if n <= throttled {
                (
                    "429 Too Many Requests",
                    r#"{"Code":"Throttling.User","Message":"slow down","RequestId":"R"}"#,
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"Code":"InvalidAccessKeyId.NotFound","Message":"bad key","RequestId":"R"}"#,
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nRetry-After: 0\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

/// A gateway that throttles before it authenticates: preflight is not fooled into sending.
#[test]
fn a_throttled_preflight_read_stops_the_apply_before_any_create() {
    let (_tmp, tasks) = examples(Some("atg-"));
    for vendor in ["xfyeta", "longlonglong", "volcengine"] {
        std::fs::remove_dir_all(tasks.join(vendor)).unwrap();
    }
    let original = std::fs::read_to_string(tasks.join("aliyun/overdue-notice.yaml")).unwrap();
    for n in 2..=4 {
        let text = original
            .replace(
                "name: atg-overdue-notice-jan",
                &format!("name: atg-overdue-notice-{n}"),
            )
            .replace(
                "task_name: atg-欠费提醒1月",
                &format!("task_name: atg-欠费提醒{n}"),
            );
        std::fs::write(tasks.join(format!("aliyun/overdue-{n}.yaml")), text).unwrap();
    }
    // The first create is throttled through all its attempts; the next one is refused.
    let (url, count) = throttling_then_refusing_gateway(5);
    let run = callform(
        &["apply", "--auto-approve"],
        &tasks,
        &[("CALLFORM_ALIYUN_ENDPOINT", &url)],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    // The preflight read is throttled through all its attempts: a throttled answer proves
    // nothing of the key, so the apply stops before any create is sent.
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        5,
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("preflight: provider `aliyun`")
            && run.stderr.contains("Nothing was sent"),
        "{}",
        run.stderr
    );
}

/// A vendor (or a proxy before it) that echoes the request's secret in the request id or
/// in a `FailList` entry of a success: the created record keeps the request id and the
/// warnings, so both pass the secret scrubber like every message from an answer.
#[test]
fn a_secret_echoed_in_a_created_answers_request_id_or_warnings_is_scrubbed() {
    let prefix = "sec-";
    let (_tmp, tasks) = examples(Some(prefix));
    let body = format!(
        r#"{{"ResponseMetadata":{{"RequestId":"req-{sk}"}},"Result":{{"TaskOpenId":"{{task_id}}","FailList":[{{"Index":0,"Phone":"13700000001","Type":"BAD_KEY","Desc":"key {sk} refused"}}]}}}}"#,
        sk = harness::VOLC_SK
    );
    post_fault(
        serde_json::json!({"match": format!("{prefix}配送通知"), "kind": "answer",
        "status": 200, "create": true, "times": 1, "body": body}),
    );
    let aliyun = format!(
        r#"{{"Code":"X","Message":"m","RequestId":"rid-{}"}}"#,
        harness::ALI_SECRET
    );
    post_fault(
        serde_json::json!({"match": format!("{prefix}欠费提醒"), "kind": "answer",
        "status": 500, "create": true, "times": 1, "body": aliyun}),
    );
    let run = callform(&["apply", "--auto-approve"], &tasks, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let st = state(&tasks);
    let rec = &st["tasks"][format!("{prefix}delivery-notice")];
    assert_eq!(rec["status"], "created", "{rec}");
    assert_eq!(rec["request_id"], "req-***", "{rec}");
    assert!(
        rec["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("key *** refused"),
        "{rec}"
    );
    assert_files_clean(&tasks);
    let shown = Callform::new()
        .args([
            "state",
            "show",
            &format!("{prefix}delivery-notice"),
            "--dir",
        ])
        .arg(&tasks)
        .run();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stdout.contains(harness::VOLC_SK), "{}", shown.stdout);
}
