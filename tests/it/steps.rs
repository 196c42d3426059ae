//! Campaigns end to end, on the shared emulator (127.0.0.1): apply creates each task, loads
//! its callees batch by batch and starts it when the manifest says `running`; the vendor
//! then holds exactly the manifest's callees, each once, with their variables; a second
//! apply sends nothing. Callee changes after the create, faults on each step, and the
//! canaries (numbers and names never in any output or file callform writes).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{self, bin, emulator};

const PROVIDERS: &str = "timezone: Asia/Shanghai\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  longlonglong: {user_id: 5832d184-dd53-42a0-8ace-0bf8d660f4cc, token: \"${LONGLONGLONG_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";

/// A name no vendor sends back and no message may quote.
const NAME_CANARY: &str = "CANARY名";

/// The `i`-th number of a test's block: `137` + 8 digits, from the reserved 1370000xxxx
/// range upwards.
fn number(block: u64, i: u64) -> String {
    format!("137{:08}", block * 100_000 + i)
}

/// A CSV of `n` rows from row `from`: `phone` and `columns`, each value naming its row.
fn csv(block: u64, from: u64, n: u64, columns: &[&str]) -> String {
    let mut out = String::from("phone");
    for c in columns {
        out.push(',');
        out.push_str(c);
    }
    out.push('\n');
    for i in from..from + n {
        out.push_str(&number(block, i));
        for c in columns {
            out.push(',');
            out.push_str(&value(c, i));
        }
        out.push('\n');
    }
    out
}

/// The value of column `c` in row `i`: names carry the canary.
fn value(c: &str, i: u64) -> String {
    match c {
        "客户姓名" | "name" => format!("{NAME_CANARY}{i}"),
        "到期日" => format!("2027-02-{:02}", 1 + i % 28),
        "欠费金额" => format!("{}.50", 10 + i % 90),
        "company" => format!("公司{i}"),
        "param.amount" => format!("{i}"),
        _ => format!("v{i}"),
    }
}

fn xfyeta(name: &str, status: &str, file: &str) -> String {
    format!(
        "name: {name}\nvendor: xfyeta\nstatus: {status}\ncallees:\n  file: {file}\n  variables: [客户姓名, 到期日]\nspec:\n  task_name: {name}\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-03-31 20:00\n"
    )
}

fn aliyun(name: &str, status: &str, file: &str) -> String {
    format!(
        "name: {name}\nvendor: aliyun\nstatus: {status}\ncallees:\n  file: {file}\n  variables: [客户姓名, 欠费金额]\nspec:\n  task_name: {name}\n  dialog_id: 1234567\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n  recall_times: 1\n  recall_interval: 5\n"
    )
}

fn longlonglong(name: &str, file: &str) -> String {
    format!(
        "name: {name}\nvendor: longlonglong\ncallees:\n  file: {file}\nspec:\n  name: {name}\n  task_type: old\n  destination_extension: 297\n  dial_time_id: 5\n  maximumcall: 1\n  task_extras:\n    start_time: 2027-01-04 09:00\n    stop_time: 2027-01-31 18:00\n    line: [29c39ec4-b292-4af9-a88b-922d61866sub]\n"
    )
}

fn volcengine(name: &str, status: &str, file: &str) -> String {
    format!(
        "name: {name}\nvendor: volcengine\nstatus: {status}\ncallees:\n  file: {file}\nspec:\n  name: {name}\n  type: tts\n  resource: tts-template-1\n  number_pool_no: NP123456\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  concurrency: 10\n"
    )
}

/// A project in a temporary directory: `callform.yaml`, and `tasks/` holding `files`.
struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    tasks: PathBuf,
}

impl Project {
    fn new(files: &[(&str, String)]) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::write(root.join("callform.yaml"), PROVIDERS).unwrap();
        let tasks = root.join("tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        let p = Project {
            _tmp: tmp,
            root,
            tasks,
        };
        for (path, text) in files {
            p.write(path, text);
        }
        p
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.tasks.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn apply(&self) -> harness::Output {
        bin()
            .emulator()
            .args(["apply", "--auto-approve"])
            .dir(&self.tasks)
            .run()
    }

    fn plan(&self) -> Value {
        let out = bin()
            .emulator()
            .args(["plan", "--format", "json"])
            .dir(&self.tasks)
            .run();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("a JSON plan ({e}): {}\n{}", out.stdout, out.stderr))
    }

    fn plan_text(&self) -> harness::Output {
        bin().emulator().arg("plan").dir(&self.tasks).run()
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.root.join("callform.state.json")).unwrap();
        let json = text.lines().next().unwrap_or("");
        serde_json::from_str(json).unwrap_or_else(|_| serde_json::from_str(&text).unwrap())
    }

    /// Every file callform wrote in the project (state, backups, journals, plans).
    fn written(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out.retain(|(p, _)| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.ends_with(".yaml") && !name.ends_with(".csv") && !name.ends_with(".txt")
        });
        out
    }
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path, text));
        }
    }
}

/// The emulator's task named `name` (its vendor-visible name).
fn vendor_task(name: &str) -> Value {
    let tasks: Vec<Value> = emulator()
        .tasks(name)
        .into_iter()
        .filter(|t| t["name"] == name)
        .collect();
    assert_eq!(
        tasks.len(),
        1,
        "exactly one task {name} at the vendor: {tasks:?}"
    );
    tasks.into_iter().next().unwrap()
}

/// The callees the emulator holds for `name`: (phone, vars) in load order.
fn held(name: &str) -> Vec<(String, Value)> {
    let id = vendor_task(name)["task_id"].as_str().unwrap().to_string();
    let view = emulator().get(&format!("/_emulator/tasks/{id}/callees"));
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["phone"].as_str().unwrap().to_string(), r["vars"].clone()))
        .collect()
}

/// What a vendor should hold for rows `0..n` of `block`, with `columns` as it names them.
fn expected(block: u64, n: u64, columns: &[(&str, &str)]) -> Vec<(String, Value)> {
    (0..n)
        .map(|i| {
            let mut vars = serde_json::Map::new();
            for (ours, theirs) in columns {
                vars.insert(theirs.to_string(), Value::String(value(ours, i)));
            }
            (number(block, i), Value::Object(vars))
        })
        .collect()
}

/// What Volcengine holds: each row's `PhoneParamJson` as it was sent.
fn volcengine_expected(block: u64, n: u64) -> Vec<(String, Value)> {
    expected(block, n, &[("param.amount", "amount")])
        .into_iter()
        .map(|(phone, vars)| (phone, json!({ "PhoneParamJson": vars })))
        .collect()
}

fn assert_clean(out: &harness::Output, p: &Project, blocks: &[(u64, u64)]) {
    let mut texts: Vec<(String, String)> = vec![
        ("stdout".into(), out.stdout.clone()),
        ("stderr".into(), out.stderr.clone()),
    ];
    texts.extend(
        p.written()
            .into_iter()
            .map(|(path, text)| (path.display().to_string(), text)),
    );
    for (place, text) in &texts {
        assert!(
            !text.contains(NAME_CANARY),
            "a callee's name in {place}:\n{text}"
        );
        for (block, n) in blocks {
            for i in 0..*n {
                let phone = number(*block, i);
                assert!(!text.contains(&phone), "callee {phone} in {place}");
            }
        }
    }
}

#[test]
fn every_vendor_holds_exactly_the_manifests_callees_and_runs_as_it_says() {
    let p = Project::new(&[
        ("x.yaml", xfyeta("steps-e2e-xf", "running", "x.csv")),
        ("x.csv", csv(11, 0, 120, &["客户姓名", "到期日"])),
        ("a.yaml", aliyun("steps-e2e-ali", "running", "a.csv")),
        ("a.csv", csv(12, 0, 120, &["客户姓名", "欠费金额"])),
        ("l.yaml", longlonglong("steps-e2e-lll", "l.csv")),
        ("l.csv", csv(13, 0, 250, &["name", "company"])),
        ("v.yaml", volcengine("steps-e2e-volc", "running", "v.csv")),
        ("v.csv", csv(14, 0, 10_050, &["param.amount"])),
    ]);
    let plan = p.plan_text();
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("create, load 120 callees in 3 batches of 50, then start"),
        "{}",
        plan.stdout
    );
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("10,540 callees loaded"),
        "{}",
        out.stdout
    );

    assert_eq!(
        held("steps-e2e-xf"),
        expected(11, 120, &[("客户姓名", "客户姓名"), ("到期日", "到期日")])
    );
    assert_eq!(
        held("steps-e2e-ali"),
        expected(
            12,
            120,
            &[("客户姓名", "客户姓名"), ("欠费金额", "欠费金额")]
        )
    );
    assert_eq!(
        held("steps-e2e-lll"),
        expected(13, 250, &[("name", "name"), ("company", "company")])
    );
    assert_eq!(held("steps-e2e-volc"), volcengine_expected(14, 10_050));
    let runs = |name: &str| vendor_task(name)["run"].as_str().unwrap().to_string();
    assert_eq!(runs("steps-e2e-xf"), "running");
    assert_eq!(runs("steps-e2e-ali"), "running");
    assert_eq!(runs("steps-e2e-lll"), "not_started");
    assert_eq!(runs("steps-e2e-volc"), "running");
    let calls = |name: &str| vendor_task(name)["callees"].clone();
    assert_eq!(calls("steps-e2e-xf")["calls"], 3);
    assert_eq!(calls("steps-e2e-ali")["calls"], 3);
    assert_eq!(calls("steps-e2e-lll")["calls"], 3);
    assert_eq!(calls("steps-e2e-volc")["calls"], 1);
    for name in [
        "steps-e2e-xf",
        "steps-e2e-ali",
        "steps-e2e-lll",
        "steps-e2e-volc",
    ] {
        assert_eq!(calls(name)["duplicates"], 0, "{name}");
    }
    assert_clean(&out, &p, &[(11, 120), (12, 120), (13, 250), (14, 10_050)]);

    // The state keeps batches, not numbers: its size grows with them.
    let state = p.state();
    let xf = &state["tasks"]["steps-e2e-xf"];
    assert_eq!(xf["callees"]["rows"], 120);
    assert_eq!(xf["callees"]["batches"].as_array().unwrap().len(), 3);
    assert_eq!(xf["run"]["state"], "started");
    assert!(state["tasks"]["steps-e2e-lll"].get("run").is_none());

    // A second apply sends nothing.
    let again = p.apply();
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    assert_eq!(calls("steps-e2e-xf")["calls"], 3);
    assert_eq!(calls("steps-e2e-volc")["calls"], 1);
    assert_eq!(emulator().tasks("steps-e2e-").len(), 4);
}

#[test]
fn callees_appended_are_loaded_alone_removed_or_appended_after_start_are_blocked() {
    let p = Project::new(&[
        ("x.yaml", xfyeta("steps-chg-xf", "paused", "x.csv")),
        ("x.csv", csv(21, 0, 70, &["客户姓名", "到期日"])),
        ("v.yaml", volcengine("steps-chg-volc", "running", "v.csv")),
        ("v.csv", csv(22, 0, 3, &["param.amount"])),
    ]);
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // Appended while paused: only the new rows are sent, from a new batch.
    p.write("x.csv", &csv(21, 0, 130, &["客户姓名", "到期日"]));
    // Volcengine takes appends after its start (BatchAppend).
    p.write("v.csv", &csv(22, 0, 5, &["param.amount"]));
    let plan = p.plan_text();
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("~ resume"), "{}", plan.stdout);
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        held("steps-chg-xf"),
        expected(21, 130, &[("客户姓名", "客户姓名"), ("到期日", "到期日")])
    );
    assert_eq!(held("steps-chg-volc"), volcengine_expected(22, 5));
    assert_eq!(vendor_task("steps-chg-xf")["callees"]["duplicates"], 0);
    assert_eq!(vendor_task("steps-chg-xf")["callees"]["calls"], 4);

    // Removed after loading: blocked, and nothing is sent.
    p.write("x.csv", &csv(21, 0, 129, &["客户姓名", "到期日"]));
    let plan = p.plan();
    let xf = task(&plan, "steps-chg-xf");
    assert_eq!(xf["action"], "blocked", "{xf}");
    let out = p.apply();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(vendor_task("steps-chg-xf")["callees"]["calls"], 4);

    // Started, then appended: xfyeta takes no data after its start.
    p.write("x.csv", &csv(21, 0, 130, &["客户姓名", "到期日"]));
    p.write("x.yaml", &xfyeta("steps-chg-xf", "running", "x.csv"));
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(vendor_task("steps-chg-xf")["run"], "running");
    p.write("x.csv", &csv(21, 0, 131, &["客户姓名", "到期日"]));
    let plan = p.plan();
    let xf = task(&plan, "steps-chg-xf");
    assert_eq!(xf["action"], "blocked", "{xf}");
    assert_eq!(vendor_task("steps-chg-xf")["callees"]["count"], 130);
    assert_clean(&out, &p, &[(21, 131), (22, 5)]);
}

fn task<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the plan: {plan}"))
}

#[test]
fn an_uncertain_batch_stops_its_task_until_a_person_records_it() {
    let name = "steps-fault-xf";
    let p = Project::new(&[
        ("x.yaml", xfyeta(name, "running", "x.csv")),
        ("x.csv", csv(31, 0, 200, &["客户姓名", "到期日"])),
        ("o.yaml", xfyeta("steps-fault-other", "running", "o.csv")),
        ("o.csv", csv(32, 0, 120, &["客户姓名", "到期日"])),
    ]);
    // Batch 1 is stored, then the answer is a 502: it may or may not have been loaded.
    emulator()
        .post_fault(json!({"match": name, "kind": "5xx", "times": 1, "op": "load", "batch": 1}));
    let out = p.apply();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("uncertain"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("callform state batch {name} 1 loaded")),
        "{}",
        out.stdout
    );
    // Nothing after the uncertain batch was sent for it; the other task finished.
    assert_eq!(vendor_task(name)["callees"]["calls"], 2);
    assert_eq!(vendor_task(name)["callees"]["count"], 100);
    assert_eq!(vendor_task(name)["run"], "not_started");
    assert_eq!(vendor_task("steps-fault-other")["run"], "running");

    // The plan says so, and apply sends nothing for it until it is resolved.
    let plan = p.plan();
    assert_eq!(task(&plan, name)["action"], "uncertain");
    let again = p.apply();
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(vendor_task(name)["callees"]["calls"], 2);

    // The console shows batch 1 is there: recorded, the next apply goes on from batch 2.
    let mark = bin()
        .args(["state", "batch", name, "1", "loaded"])
        .args(["--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(mark.code, 0, "{}\n{}", mark.stdout, mark.stderr);
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        held(name),
        expected(31, 200, &[("客户姓名", "客户姓名"), ("到期日", "到期日")])
    );
    assert_eq!(vendor_task(name)["callees"]["duplicates"], 0);
    assert_eq!(vendor_task(name)["run"], "running");
    assert_clean(&out, &p, &[(31, 200), (32, 120)]);
}

#[test]
fn throttling_is_retried_where_nothing_was_loaded() {
    let name = "steps-throttle-ali";
    let p = Project::new(&[
        ("a.yaml", aliyun(name, "running", "a.csv")),
        ("a.csv", csv(41, 0, 120, &["客户姓名", "欠费金额"])),
    ]);
    // The emulator numbers a task's load calls as they come, a throttled one included:
    // batch 1's first attempt is call 1, its retry call 2, and the one after that call 3.
    emulator().post_fault(
        json!({"match": name, "kind": "throttle", "times": 1, "op": "load", "batch": 1}),
    );
    emulator().post_fault(
        json!({"match": name, "kind": "throttle", "times": 1, "op": "load", "batch": 2}),
    );
    emulator().post_fault(json!({"match": name, "kind": "throttle", "times": 1, "op": "start"}));
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        held(name),
        expected(
            41,
            120,
            &[("客户姓名", "客户姓名"), ("欠费金额", "欠费金额")]
        )
    );
    assert_eq!(vendor_task(name)["callees"]["duplicates"], 0);
    assert_eq!(vendor_task(name)["run"], "running");
    // At the emulator: batch 1 was refused twice with the throttling error, stored by the
    // third attempt, and the start refused once, then done; five load calls, three stored.
    let loads = met(name, "load");
    assert_eq!(
        loads,
        [
            (None, true),
            (Some("throttle".into()), false),
            (Some("throttle".into()), false),
            (None, true),
            (None, true),
        ],
        "the task's load requests, in order"
    );
    assert_eq!(
        met(name, "start"),
        [(Some("throttle".into()), false), (None, true)]
    );
    assert_eq!(vendor_task(name)["callees"]["calls"], 5);
    assert_eq!(vendor_task(name)["callees"]["count"], 120);
    assert!(
        emulator()
            .get("/_emulator/faults")
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["match"] != name),
        "every throttling rule was used up"
    );
}

/// How the emulator met each request of `op` for the task `name`, in order: the fault
/// (`None` for none) and whether it did the step.
fn met(name: &str, op: &str) -> Vec<(Option<String>, bool)> {
    let id = vendor_task(name)["task_id"].as_str().unwrap().to_string();
    emulator()
        .get("/_emulator/requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["task_id"] == id.as_str() && r["op"] == op)
        .map(|r| {
            (
                r["fault"].as_str().map(str::to_string),
                r["done"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// A throttling code after which the batch may have been stored — under a 5xx, or next to
/// the task's id — is an unknown outcome: never sent again by itself.
#[test]
fn a_throttling_answer_after_which_the_batch_may_be_loaded_is_not_retried() {
    let under_5xx = "steps-throttle503-ali";
    let with_id = "steps-throttleid-ali";
    let p = Project::new(&[
        ("a.yaml", aliyun(under_5xx, "running", "a.csv")),
        ("a.csv", csv(43, 0, 120, &["客户姓名", "欠费金额"])),
        ("b.yaml", aliyun(with_id, "running", "b.csv")),
        ("b.csv", csv(44, 0, 120, &["客户姓名", "欠费金额"])),
    ]);
    // The emulator stores batch 1, then answers the throttling code.
    emulator().post_fault(json!({"match": under_5xx, "kind": "answer", "op": "load", "batch": 1,
        "times": 1, "status": 503, "body": "{\"Code\":\"Throttling.User\",\"Message\":\"Request was denied due to user flow control.\"}"}));
    emulator().post_fault(json!({"match": with_id, "kind": "answer", "op": "load", "batch": 1,
        "times": 1, "status": 400, "body": "{\"Code\":\"Throttling.User\",\"Data\":\"{task_id}\"}"}));
    let out = p.apply();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for name in [under_5xx, with_id] {
        assert!(
            out.stdout
                .contains(&format!("callform state batch {name} 1 loaded")),
            "{name}: {}",
            out.stdout
        );
        // Sent once, stored: no second attempt, no batch after it, no start.
        assert_eq!(
            met(name, "load"),
            [(None, true), (Some("answer".into()), true)],
            "{name}: its load requests"
        );
        assert!(met(name, "start").is_empty(), "{name}: never started");
        assert_eq!(vendor_task(name)["callees"]["count"], 100);
        assert_eq!(vendor_task(name)["callees"]["duplicates"], 0);
        assert_eq!(vendor_task(name)["run"], "not_started");
        assert_eq!(task(&p.plan(), name)["action"], "uncertain");
    }
}

#[test]
fn a_start_whose_answer_is_lost_is_uncertain_and_never_sent_again_by_itself() {
    let name = "steps-start-xf";
    let p = Project::new(&[
        ("x.yaml", xfyeta(name, "running", "x.csv")),
        ("x.csv", csv(51, 0, 60, &["客户姓名", "到期日"])),
    ]);
    emulator().post_fault(json!({"match": name, "kind": "reset", "times": 1, "op": "start"}));
    let out = p.apply();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("callform state start {name} started")),
        "{}",
        out.stdout
    );
    assert_eq!(task(&p.plan(), name)["action"], "uncertain");
    let mark = bin()
        .args(["state", "start", name, "started", "--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(mark.code, 0, "{}\n{}", mark.stdout, mark.stderr);
    let plan = p.plan();
    assert_eq!(task(&plan, name)["action"], "no-op", "{plan}");
}

#[test]
fn longlonglong_refusing_a_running_task_holds_the_batch_until_resolved() {
    let name = "steps-6007-lll";
    let p = Project::new(&[
        ("l.yaml", longlonglong(name, "l.csv")),
        ("l.csv", csv(61, 0, 100, &["name", "company"])),
    ]);
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Started in the console; then more callees are added.
    let id = vendor_task(name)["task_id"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let set_run = |running: bool| {
        rt.block_on(async {
            let r = harness::client()
                .post(format!("{}/_emulator/tasks/{id}/run", emulator().url()))
                .json(&json!({ "running": running }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        })
    };
    set_run(true);
    p.write("l.csv", &csv(61, 0, 150, &["name", "company"]));
    let out = p.apply();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("6007"), "{}", out.stdout);
    let plan = p.plan();
    assert_eq!(task(&plan, name)["action"], "blocked", "{plan}");
    assert_eq!(vendor_task(name)["callees"]["count"], 100);
    // Paused in the console, the refused batch recorded as not loaded: it is sent again.
    set_run(false);
    let mark = bin()
        .args(["state", "batch", name, "1", "not-loaded", "--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(mark.code, 0, "{}\n{}", mark.stdout, mark.stderr);
    let out = p.apply();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        held(name),
        expected(61, 150, &[("name", "name"), ("company", "company")])
    );
    assert_eq!(vendor_task(name)["callees"]["duplicates"], 0);
}

#[test]
fn show_requests_masks_every_number_and_value() {
    let p = Project::new(&[
        ("x.yaml", xfyeta("steps-show-xf", "running", "x.csv")),
        ("x.csv", csv(71, 0, 60, &["客户姓名", "到期日"])),
    ]);
    let out = bin()
        .emulator()
        .args(["plan", "--show-requests"])
        .dir(&p.tasks)
        .run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("task/insert"), "{}", out.stdout);
    assert!(out.stdout.contains("task/start"), "{}", out.stdout);
    assert_clean(&out, &p, &[(71, 60)]);
}

#[test]
fn inline_rows_are_never_quoted_in_source_excerpts() {
    let p = Project::new(&[(
        "x.yaml",
        format!(
            "name: steps-excerpt\nvendor: xfyeta\ncallees: {{rows: [{{phone: \"13700000001\", 客户姓名: {NAME_CANARY}甲}}]}}\nspec:\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n"
        ),
    )]);
    // A one-row list is warned about on the line that holds the row.
    let out = bin().terminal().arg("validate").dir(&p.tasks).run();
    assert!(out.stdout.contains("warning"), "{}", out.stdout);
    assert!(!out.stdout.contains(NAME_CANARY), "{}", out.stdout);
}
