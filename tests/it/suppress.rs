//! The policy's rules over callees, end to end on the shared emulator: suppression lists
//! (`policy.suppress`) and per-callee caps across tasks and vendors (`policy.caps`). A
//! suppressed or capped callee is never sent; the plan counts them per task; no number
//! of a suppression list or of a callee list is in any output or file callform writes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{bin, emulator, Output};

const PROVIDERS: &str = "timezone: Asia/Shanghai\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";

const NAME_CANARY: &str = "CANARY名";

/// The `i`-th number of a test's block (blocks of their own: 1379xxxxxxx).
fn number(block: u64, i: u64) -> String {
    format!("1379{:07}", block * 1_000 + i)
}

/// A callee CSV: `phone,客户姓名,到期日` for the numbers `rows` of `block`.
fn callees(block: u64, rows: impl IntoIterator<Item = u64>) -> String {
    let mut out = String::from("phone,客户姓名,到期日\n");
    for i in rows {
        out.push_str(&format!(
            "{},{NAME_CANARY}{i},2027-02-01\n",
            number(block, i)
        ));
    }
    out
}

fn xfyeta(name: &str, file: &str, retries: u32) -> String {
    format!(
        "name: {name}\nvendor: xfyeta\nstatus: running\ncallees:\n  file: {file}\n  variables: [客户姓名, 到期日]\nspec:\n  task_name: {name}\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"09:00:00-12:00:00\"]\n  recall_count: {retries}\n  time_recall_wait: 10\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-01-04 12:00\n"
    )
}

fn volcengine(name: &str, file: &str, retries: u32) -> String {
    format!(
        "name: {name}\nvendor: volcengine\nstatus: paused\ncallees:\n  file: {file}\nspec:\n  name: {name}\n  type: tts\n  resource: tts-template-1\n  number_pool_no: NP123456\n  start_time: 2027-01-04 10:00\n  end_time: 2027-01-04 12:00\n  concurrency: 10\n  ring_again_times: {retries}\n  ring_again_interval: 5\n"
    )
}

struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new(policy: &str, files: &[(&str, String)]) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::write(root.join("callform.yaml"), format!("{PROVIDERS}{policy}")).unwrap();
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Project { _tmp: tmp, root }
    }

    fn run(&self, args: &[&str]) -> Output {
        bin()
            .emulator()
            .args(args)
            .dir(self.root.join("tasks"))
            .cwd(&self.root)
            .run()
    }

    /// `callform apply FILE` of a saved plan (which names its own directory).
    fn apply_saved(&self, file: &str) -> Output {
        bin().emulator().args(["apply", file]).cwd(&self.root).run()
    }

    fn plan(&self) -> Value {
        let out = self.run(&["plan", "--format", "json"]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("a JSON plan ({e}): {}\n{}", out.stdout, out.stderr))
    }

    /// Every file callform wrote (state, journals, plans), not the inputs.
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

/// The phones the emulator holds for the task named `name`.
fn held(name: &str) -> Vec<String> {
    let tasks: Vec<Value> = emulator()
        .tasks(name)
        .into_iter()
        .filter(|t| t["name"] == name)
        .collect();
    assert_eq!(tasks.len(), 1, "one task {name} at the vendor: {tasks:?}");
    let id = tasks[0]["task_id"].as_str().unwrap().to_string();
    let view = emulator().get(&format!("/_emulator/tasks/{id}/callees"));
    view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phone"].as_str().unwrap().to_string())
        .collect()
}

/// Every request the emulator received for tasks named from `prefix`, as text.
fn requests(prefix: &str) -> String {
    emulator()
        .listed("/_emulator/requests", "name", prefix)
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn findings<'a>(plan: &'a Value, rule: &str, task: &str) -> Vec<&'a Value> {
    plan["compliance"]["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["rule"] == rule && f["task"] == task)
                .collect()
        })
        .unwrap_or_default()
}

fn load_rows(plan: &Value, task: &str) -> u64 {
    plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == task)
        .unwrap_or_else(|| panic!("{task} in the plan: {plan}"))["steps"]["load"]["rows"]
        .as_u64()
        .unwrap_or(0)
}

/// No number of `numbers` in any output or file callform wrote, nor the name canary.
fn no_canary(p: &Project, outputs: &[&Output], numbers: &[String]) {
    for out in outputs {
        for n in numbers {
            assert!(
                !out.stdout.contains(n.as_str()),
                "{n} in stdout: {}",
                out.stdout
            );
            assert!(
                !out.stderr.contains(n.as_str()),
                "{n} in stderr: {}",
                out.stderr
            );
        }
        assert!(!out.stdout.contains(NAME_CANARY) && !out.stderr.contains(NAME_CANARY));
    }
    for (path, text) in p.written() {
        for n in numbers {
            assert!(!text.contains(n.as_str()), "{n} in {}", path.display());
        }
        assert!(!text.contains(NAME_CANARY), "a name in {}", path.display());
    }
}

#[test]
fn a_suppressed_number_never_reaches_the_vendor_and_is_only_counted() {
    let (a, b) = ("suppr-a-xf", "suppr-a-volc");
    // Suppressed: row 1 (for good, written +86 with dashes), row 4 (until a date to
    // come), row 7 (a number-a-line file). Row 5's `until` is past: it is called.
    let dnc_csv = format!(
        "reason,phone,until\nasked,+86 {}-{}-{},\ncomplaint,{},2999-01-01\nold,{},2020-01-01\n",
        &number(1, 1)[..3],
        &number(1, 1)[3..7],
        &number(1, 1)[7..],
        number(1, 4),
        number(1, 5),
    );
    let dnc_txt = format!("# refusals\n{}\n", number(1, 7));
    let p = Project::new(
        "policy:\n  suppress: [dnc/refusals.csv, dnc/more.txt]\n",
        &[
            ("tasks/a.yaml", xfyeta(a, "a.csv", 0)),
            ("tasks/b.yaml", volcengine(b, "b.csv", 0)),
            ("tasks/a.csv", callees(1, 0..10)),
            // The second task shares rows 4..10 (and so rows 4 and 7) with the first.
            ("tasks/b.csv", callees(1, 4..12)),
            ("dnc/refusals.csv", dnc_csv),
            ("dnc/more.txt", dnc_txt),
        ],
    );
    let plan = p.plan();
    let fa = findings(&plan, "suppression", a);
    assert_eq!(fa.len(), 1, "{plan}");
    assert_eq!(fa[0]["count"], 3);
    assert!(fa[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("3 callees suppressed"));
    assert_eq!(fa[0]["severity"], "warn");
    assert_eq!(findings(&plan, "suppression", b)[0]["count"], 2);
    // The batches describe what is sent.
    assert_eq!(load_rows(&plan, a), 7);
    assert_eq!(load_rows(&plan, b), 6);
    let text = p.run(&["plan"]);
    assert!(
        text.stdout.contains("3 callees suppressed"),
        "{}",
        text.stdout
    );
    let saved = p.run(&["plan", "--out", "reviewed.plan"]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let applied = p.apply_saved("reviewed.plan");
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);

    let suppressed = [number(1, 1), number(1, 4), number(1, 7)];
    let want_a: Vec<String> = [0, 2, 3, 5, 6, 8, 9]
        .iter()
        .map(|&i| number(1, i))
        .collect();
    assert_eq!(held(a), want_a);
    let want_b: Vec<String> = [5, 6, 8, 9, 10, 11].iter().map(|&i| number(1, i)).collect();
    assert_eq!(held(b), want_b);
    let sent = requests("suppr-a-");
    assert!(!sent.is_empty());
    for n in &suppressed {
        assert!(!sent.contains(n.as_str()), "{n} reached the emulator");
    }
    // A second plan sends nothing: what was loaded is what the lists leave.
    let again = p.plan();
    assert_eq!(load_rows(&again, a), 0, "{again}");
    let all: Vec<String> = (0..12).map(|i| number(1, i)).collect();
    assert!(p.root.join("callform.state.json").exists());
    no_canary(&p, &[&text, &saved, &applied], &all);
}

#[test]
fn suppression_at_error_stops_the_plan_and_an_exception_lets_the_removal_through() {
    let a = "suppr-b-xf";
    let task = xfyeta(a, "a.csv", 0);
    let p = Project::new(
        "policy:\n  rules: {suppression: error}\n  suppress: [dnc.txt]\n",
        &[
            ("tasks/a.yaml", task.clone()),
            ("tasks/a.csv", callees(2, 0..5)),
            ("dnc.txt", format!("{}\n", number(2, 3))),
        ],
    );
    let out = p.run(&["plan"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("1 callee suppressed"), "{}", out.stderr);
    assert!(out.stderr.contains("[suppression]"), "{}", out.stderr);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_ne!(apply.code, 0);
    assert!(emulator().tasks(a).is_empty(), "nothing created");
    no_canary(&p, &[&out, &apply], &[number(2, 3)]);

    // Excused: the finding stops nothing, and the number is still left out.
    let excused = task.replace(
        "spec:\n",
        "exceptions:\n  - {rule: suppression, reason: \"CASE-12: list reviewed by compliance\"}\nspec:\n",
    );
    std::fs::write(p.root.join("tasks/a.yaml"), excused).unwrap();
    let plan = p.plan();
    let f = findings(&plan, "suppression", a);
    assert_eq!(f.len(), 1);
    assert!(f[0]["excepted"].is_string());
    assert_eq!(load_rows(&plan, a), 4);
}

#[test]
fn a_bad_suppression_list_stops_the_plan_at_its_line_and_masks_the_entry() {
    let p = Project::new(
        "policy:\n  suppress: [dnc.txt, gone.txt]\n",
        &[
            ("tasks/a.yaml", xfyeta("suppr-c-xf", "a.csv", 0)),
            ("tasks/a.csv", callees(3, 0..2)),
            ("dnc.txt", format!("{}\n137999900012345\n", number(3, 0))),
        ],
    );
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("dnc.txt:2"), "{all}");
    assert!(all.contains("137****2345"), "{all}");
    assert!(all.contains("gone.txt"), "{all}");
    assert!(all.contains("callform.yaml:7"), "{all}");
    assert!(!all.contains("137999900012345"));
    assert!(!all.contains(&number(3, 0)));
    let plan = p.run(&["plan"]);
    assert_eq!(
        plan.code, 1,
        "an unreadable list stops the plan: {}",
        plan.stdout
    );
    assert!(emulator().tasks("suppr-c-xf").is_empty());
}

#[test]
fn a_suppression_list_outside_the_project_is_refused_until_input_dirs_names_it() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("dnc.txt"),
        format!("{}\n", number(3, 1)),
    )
    .unwrap();
    let list = outside.path().join("dnc.txt");
    let p = Project::new(
        &format!("policy:\n  suppress: [{}]\n", list.display()),
        &[
            ("tasks/a.yaml", xfyeta("suppr-o-xf", "a.csv", 0)),
            ("tasks/a.csv", callees(3, 0..2)),
        ],
    );
    let out = p.run(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("outside the project"), "{all}");
    assert!(all.contains("input_dirs"), "{all}");
    assert!(all.contains("callform.yaml:"), "{all}");
    // Listed under `input_dirs:`, it is read and its number removed.
    let yaml = p.root.join("callform.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        format!("input_dirs: [{}]\n{text}", outside.path().display()),
    )
    .unwrap();
    let plan = p.plan();
    assert_eq!(load_rows(&plan, "suppr-o-xf"), 1, "{plan}");
}

#[test]
fn a_changed_suppression_list_makes_a_saved_plan_stale() {
    let p = Project::new(
        "policy:\n  suppress: [dnc.txt]\n",
        &[
            ("tasks/a.yaml", xfyeta("suppr-d-xf", "a.csv", 0)),
            ("tasks/a.csv", callees(4, 0..3)),
            ("dnc.txt", format!("{}\n", number(4, 0))),
        ],
    );
    let saved = p.run(&["plan", "--out", "reviewed.plan"]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let plan_text = std::fs::read_to_string(p.root.join("reviewed.plan")).unwrap();
    assert!(!plan_text.contains(&number(4, 0)));
    std::fs::write(p.root.join("dnc.txt"), format!("{}\n", number(4, 1))).unwrap();
    let apply = p.apply_saved("reviewed.plan");
    assert_ne!(apply.code, 0, "{}", apply.stdout);
    assert!(apply.stderr.contains("dnc.txt"), "{}", apply.stderr);
    assert!(emulator().tasks("suppr-d-xf").is_empty());
}

#[test]
fn caps_count_callees_across_two_vendors() {
    let (a, b) = ("capsa-xf", "capsa-volc");
    // Rows 0..10 in the xfyeta task (09:00–12:00), rows 6..12 in the Volcengine one
    // (10:00–12:00 the same day): rows 6..10 are in both.
    let files = |policy: &str| {
        Project::new(
            policy,
            &[
                ("tasks/a.yaml", xfyeta(a, "a.csv", 1)),
                ("tasks/b.yaml", volcengine(b, "b.csv", 1)),
                ("tasks/a.csv", callees(5, 0..10)),
                ("tasks/b.csv", callees(5, 6..12)),
            ],
        )
    };
    // One task a day per callee: the later task (Volcengine) loses the four shared.
    let p = files("policy:\n  caps:\n    - {period: 24h, tasks: 1}\n");
    let plan = p.plan();
    assert!(findings(&plan, "callee_caps", a).is_empty(), "{plan}");
    let f = findings(&plan, "callee_caps", b);
    assert_eq!(f.len(), 1, "{plan}");
    assert_eq!(f[0]["count"], 4);
    assert!(f[0]["message"].as_str().unwrap().contains(a), "{}", f[0]);
    assert_eq!(load_rows(&plan, a), 10);
    assert_eq!(load_rows(&plan, b), 2);
    let applied = p.run(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert_eq!(held(a).len(), 10);
    assert_eq!(held(b), vec![number(5, 10), number(5, 11)]);
    let all: Vec<String> = (0..12).map(|i| number(5, i)).collect();
    no_canary(&p, &[&applied], &all);

    // Attempts: 2 + 2 per shared callee is over 3; at `error` it stops the plan of a
    // running task (a paused one's errors are warnings until it runs).
    let p =
        files("policy:\n  rules: {callee_caps: error}\n  caps:\n    - {period: 1d, attempts: 3}\n");
    let paused = p.run(&["plan"]);
    assert_eq!(paused.code, 0, "{}", paused.stderr);
    std::fs::write(
        p.root.join("tasks/b.yaml"),
        volcengine(b, "b.csv", 1).replace("status: paused", "status: running"),
    )
    .unwrap();
    let out = p.run(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("4 callees over the cap"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[callee_caps]"));
    no_canary(&p, &[&out], &all);

    // Dialling periods that overlap count together whatever the cap's period.
    let p = files("policy:\n  caps:\n    - {period: 30m, tasks: 1}\n");
    let plan = p.plan();
    assert_eq!(
        findings(&plan, "callee_caps", b).len(),
        1,
        "overlapping periods count at any period"
    );

    // A task that alone dials each callee more often than the cap allows: its retries.
    let p = files("policy:\n  caps:\n    - {period: 24h, attempts: 1}\n");
    let plan = p.plan();
    let alone: Vec<&Value> = findings(&plan, "callee_caps", a)
        .into_iter()
        .filter(|f| f["field"] == "spec.recall_count")
        .collect();
    assert_eq!(alone.len(), 1, "{plan}");
    assert_eq!(alone[0]["count"], 10);
}

#[test]
fn a_cap_removes_the_callee_it_counts_when_suppression_removed_one_before_it() {
    let (a, b) = ("capsc-xf", "capsc-volc");
    // The Volcengine task: row 0 suppressed, rows 1 and 3 shared with the earlier task (over
    // a cap of one task a day), row 2 its own.
    let p = Project::new(
        "policy:\n  suppress: [dnc.txt]\n  caps:\n    - {period: 24h, tasks: 1}\n",
        &[
            ("tasks/a.yaml", xfyeta(a, "a.csv", 0)),
            ("tasks/b.yaml", volcengine(b, "b.csv", 0)),
            ("tasks/a.csv", callees(7, 0..10)),
            ("tasks/b.csv", callees(7, [20, 6, 21, 7])),
            ("dnc.txt", format!("{}\n", number(7, 20))),
        ],
    );
    let plan = p.plan();
    assert_eq!(load_rows(&plan, b), 1, "{plan}");
    let applied = p.run(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert_eq!(held(b), vec![number(7, 21)]);
    assert_eq!(held(a).len(), 10);
}

#[test]
fn caps_leave_tasks_apart_by_more_than_the_period_alone() {
    let (a, b) = ("capsb-xf", "capsb-volc");
    let later = volcengine(b, "b.csv", 0)
        .replace("2027-01-04 10:00", "2027-01-07 10:00")
        .replace("2027-01-04 12:00", "2027-01-07 12:00");
    let p = Project::new(
        "policy:\n  caps:\n    - {period: 24h, tasks: 1}\n    - {period: 7d, tasks: 2}\n",
        &[
            ("tasks/a.yaml", xfyeta(a, "a.csv", 0)),
            ("tasks/b.yaml", later),
            ("tasks/a.csv", callees(6, 0..3)),
            ("tasks/b.csv", callees(6, 0..3)),
        ],
    );
    let plan = p.plan();
    let caps: Vec<&Value> = plan["compliance"]["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["rule"] == "callee_caps").collect())
        .unwrap_or_default();
    assert!(caps.is_empty(), "three days apart, two a week: {caps:?}");
    assert_eq!(load_rows(&plan, b), 3);
}

#[test]
fn a_task_the_lists_empty_stops_the_plan() {
    let (a, b) = ("suppr-e-xf", "suppr-e-volc");
    let list: String = (0..3).map(|i| format!("{}\n", number(7, i))).collect();
    let p = Project::new(
        "policy:\n  suppress: [dnc.txt]\n",
        &[
            ("tasks/a.yaml", xfyeta(a, "a.csv", 0)),
            ("tasks/b.yaml", volcengine(b, "b.csv", 0)),
            ("tasks/a.csv", callees(7, 0..3)),
            ("tasks/b.csv", callees(7, 1..4)),
            ("dnc.txt", list),
        ],
    );
    let out = p.run(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("all 3 callees are suppressed or over a cap"),
        "{}",
        out.stderr
    );
    // The task with a callee left is not the one stopped.
    assert!(!out.stderr.contains("all 2 callees"));
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_ne!(apply.code, 0);
    assert!(emulator().tasks("suppr-e-").is_empty());
}

#[test]
fn a_number_suppressed_after_its_batch_was_loaded_blocks_the_task() {
    let a = "suppr-f-xf";
    let p = Project::new(
        "policy:\n  suppress: [dnc.txt]\n",
        &[
            ("tasks/a.yaml", xfyeta(a, "a.csv", 0)),
            ("tasks/a.csv", callees(8, 0..5)),
            ("dnc.txt", String::new()),
        ],
    );
    let applied = p.run(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(held(a).len(), 5);
    std::fs::write(p.root.join("dnc.txt"), format!("{}\n", number(8, 2))).unwrap();
    // callform cannot take a callee out of a vendor task: the plan says so, and blocks it.
    let out = p.run(&["plan"]);
    assert!(out.stdout.contains("1 callee suppressed"), "{}", out.stdout);
    assert!(out.stdout.contains("blocked"), "{}", out.stdout);
    assert!(
        out.stdout.contains("the callees already loaded"),
        "{}",
        out.stdout
    );
    let sent = requests(a).len();
    let again = p.run(&["apply", "--auto-approve"]);
    assert_ne!(again.code, 0);
    assert_eq!(requests(a).len(), sent, "nothing sent");
    assert_eq!(held(a).len(), 5);
}
