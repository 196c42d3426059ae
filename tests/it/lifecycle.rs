//! Steering created tasks end to end, on the shared emulator (127.0.0.1): `status:`
//! changes plan and apply a pause, a resume or a stop on each vendor that has one; the
//! console changes a task behind callform's back and `refresh` sees it (read-only unless
//! `--write`, exit 2 on drift); `plan --refresh` acts on the vendor's word.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::harness::{self, bin, emulator};

const PROVIDERS: &str = "timezone: Asia/Shanghai\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  longlonglong: {user_id: 5832d184-dd53-42a0-8ace-0bf8d660f4cc, token: \"${LONGLONGLONG_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";

const NAME_CANARY: &str = "CANARY名";

fn number(block: u64, i: u64) -> String {
    format!("137{:08}", block * 100_000 + i)
}

fn csv(block: u64, n: u64, columns: &[&str]) -> String {
    let mut out = String::from("phone");
    for c in columns {
        out.push(',');
        out.push_str(c);
    }
    out.push('\n');
    for i in 0..n {
        out.push_str(&number(block, i));
        for c in columns {
            out.push(',');
            out.push_str(&match *c {
                "客户姓名" => format!("{NAME_CANARY}{i}"),
                "param.amount" => format!("{i}"),
                _ => format!("{}.50", 10 + i),
            });
        }
        out.push('\n');
    }
    out
}

fn manifest(vendor: &str, name: &str, status: &str) -> String {
    match vendor {
        "xfyeta" => format!(
            "name: {name}\nvendor: xfyeta\nstatus: {status}\ncallees:\n  file: c.csv\n  variables: [客户姓名, 到期日]\nspec:\n  task_name: {name}\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-03-31 20:00\n"
        ),
        "aliyun" => format!(
            "name: {name}\nvendor: aliyun\nstatus: {status}\ncallees:\n  file: c.csv\n  variables: [客户姓名, 欠费金额]\nspec:\n  task_name: {name}\n  dialog_id: 1234567\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n  recall_times: 1\n  recall_interval: 5\n"
        ),
        "longlonglong" => format!(
            "name: {name}\nvendor: longlonglong\nstatus: {status}\ncallees:\n  file: c.csv\nspec:\n  name: {name}\n  task_type: old\n  destination_extension: 297\n  dial_time_id: 5\n  maximumcall: 1\n  task_extras:\n    start_time: 2027-01-04 09:00\n    stop_time: 2027-01-31 18:00\n    line: [29c39ec4-b292-4af9-a88b-922d61866sub]\n"
        ),
        _ => format!(
            "name: {name}\nvendor: volcengine\nstatus: {status}\ncallees:\n  file: c.csv\nspec:\n  name: {name}\n  type: tts\n  resource: tts-template-1\n  number_pool_no: NP123456\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  concurrency: 10\n"
        ),
    }
}

fn columns(vendor: &str) -> &'static [&'static str] {
    match vendor {
        "xfyeta" => &["客户姓名", "到期日"],
        "aliyun" => &["客户姓名", "欠费金额"],
        "longlonglong" => &[],
        _ => &["param.amount"],
    }
}

pub(crate) struct Project {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pub(crate) tasks: PathBuf,
    vendor: &'static str,
    pub(crate) name: String,
}

impl Project {
    pub(crate) fn new(vendor: &'static str, name: &str, block: u64, status: &str) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::write(root.join("callform.yaml"), PROVIDERS).unwrap();
        let tasks = root.join("tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        std::fs::write(tasks.join("c.csv"), csv(block, 60, columns(vendor))).unwrap();
        let p = Project {
            _tmp: tmp,
            root,
            tasks,
            vendor,
            name: name.to_string(),
        };
        p.status(status);
        p
    }

    pub(crate) fn status(&self, status: &str) {
        std::fs::write(
            self.tasks.join("t.yaml"),
            manifest(self.vendor, &self.name, status),
        )
        .unwrap();
    }

    pub(crate) fn run(&self, args: &[&str]) -> harness::Output {
        bin().emulator().args(args).dir(&self.tasks).run()
    }

    pub(crate) fn apply(&self) -> harness::Output {
        let out = self.run(&["apply", "--auto-approve"]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        self.clean(&out);
        out
    }

    pub(crate) fn state_bytes(&self) -> Vec<u8> {
        std::fs::read(self.root.join("callform.state.json")).unwrap()
    }

    pub(crate) fn state(&self) -> Value {
        let text = String::from_utf8(self.state_bytes()).unwrap();
        let body: String = text.lines().skip(1).collect::<Vec<_>>().join("\n");
        serde_json::from_str(&body)
            .or_else(|_| serde_json::from_str(&text))
            .unwrap_or_else(|e| panic!("a JSON state ({e}): {text}"))
    }

    /// The emulator's task of this project.
    pub(crate) fn vendor_task(&self) -> Value {
        let tasks: Vec<Value> = emulator()
            .tasks(&self.name)
            .into_iter()
            .filter(|t| t["name"] == self.name.as_str())
            .collect();
        assert_eq!(
            tasks.len(),
            1,
            "one task {} at the vendor: {tasks:?}",
            self.name
        );
        tasks.into_iter().next().unwrap()
    }

    pub(crate) fn console(&self, action: &str) {
        let id = self.vendor_task()["task_id"].as_str().unwrap().to_string();
        let (status, answer) = emulator().post(
            &format!("/_emulator/tasks/{id}/console"),
            json!({ "action": action }),
        );
        assert_eq!(status, 200, "console {action}: {answer}");
    }

    /// No callee number or name in `out` or any file callform wrote.
    pub(crate) fn clean(&self, out: &harness::Output) {
        let mut texts = vec![out.stdout.clone(), out.stderr.clone()];
        for entry in std::fs::read_dir(&self.root).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && !path.ends_with("callform.yaml") {
                texts.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
            }
        }
        for text in &texts {
            assert!(
                !text.contains(NAME_CANARY),
                "a callee's name leaked:\n{text}"
            );
            assert!(!text.contains("13700"), "a callee's number leaked:\n{text}");
        }
    }
}

/// Pause, resume, stop on one vendor: each planned from a `status:` change, applied
/// once, reflected at the vendor, recorded, and not sent again.
fn pause_resume_stop(vendor: &'static str, block: u64, stop_leaves: &str) {
    let name = format!("life-{vendor}-verbs");
    let p = Project::new(vendor, &name, block, "running");
    p.apply();
    assert_eq!(p.vendor_task()["run"], "running");

    p.status("paused");
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("|| pause"), "{}", plan.stdout);
    let out = p.apply();
    assert!(out.stdout.contains("paused"), "{}", out.stdout);
    assert_eq!(p.vendor_task()["run"], "paused");
    assert_eq!(p.state()["tasks"][&name]["run"]["state"], "paused");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "nothing left to do:\n{}", again.stdout);

    p.status("running");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("resume ("), "{}", plan.stdout);
    p.apply();
    assert_eq!(p.vendor_task()["run"], "running");
    assert_eq!(p.state()["tasks"][&name]["run"]["state"], "started");

    p.status("stopped");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("IRREVERSIBLE"), "{}", plan.stdout);
    p.apply();
    assert_eq!(p.vendor_task()["run"], stop_leaves);
    assert_eq!(p.state()["tasks"][&name]["run"]["state"], "stopped");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.code, 0,
        "a stopped task plans nothing:\n{}",
        again.stdout
    );
    let verbs: Vec<Value> = emulator()
        .listed(
            "/_emulator/requests",
            "task_id",
            p.vendor_task()["task_id"].as_str().unwrap(),
        )
        .into_iter()
        .filter(|r| {
            matches!(
                r["op"].as_str(),
                Some("pause" | "resume" | "stop" | "delete")
            )
        })
        .collect();
    assert_eq!(verbs.len(), 3, "one pause, one resume, one stop: {verbs:?}");
}

#[test]
fn xfyeta_pauses_resumes_and_stops_by_deleting() {
    pause_resume_stop("xfyeta", 31, "deleted");
}

#[test]
fn aliyun_pauses_resumes_and_stops() {
    pause_resume_stop("aliyun", 32, "stopped");
}

#[test]
fn volcengine_pauses_resumes_and_stops() {
    pause_resume_stop("volcengine", 33, "stopped");
}

#[test]
fn refresh_sees_a_pause_behind_callforms_back_and_writes_only_when_asked() {
    let name = "life-refresh-drift";
    // Aliyun: its status enumeration is documented (Volcengine's `State` integers are not,
    // so a pause there reads as `unknown`).
    let p = Project::new("aliyun", name, 34, "running");
    p.apply();
    let no_drift = p.run(&["refresh", "--detailed-exitcode"]);
    assert_eq!(no_drift.code, 0, "{}\n{}", no_drift.stdout, no_drift.stderr);
    assert!(no_drift.stdout.contains("running"), "{}", no_drift.stdout);

    p.console("pause");
    let before = p.state_bytes();
    let drift = p.run(&["refresh", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("paused"), "{}", drift.stdout);
    assert!(
        drift.stdout.contains("changed outside callform"),
        "{}",
        drift.stdout
    );
    assert_eq!(
        p.state_bytes(),
        before,
        "refresh without --write changes nothing"
    );
    p.clean(&drift);

    let json = p.run(&["refresh", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["tasks"][0]["observed"]["status"], "paused");
    assert_eq!(doc["tasks"][0]["drift"][0]["kind"], "status");

    // The plan, told what the vendor says, resumes the task (the manifest says running).
    let plan = p.run(&["plan", "--refresh"]);
    assert!(
        plan.stdout.contains("resume ("),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    // Without --refresh it acts on the state alone: nothing to do.
    let plain = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plain.code, 0, "{}", plain.stdout);

    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert_eq!(p.state()["tasks"][name]["observed"]["status"], "paused");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("resume ("), "{}", plan.stdout);
    p.apply();
    assert_eq!(p.vendor_task()["run"], "running");
}

#[test]
fn refresh_reports_a_task_the_vendor_deleted() {
    let name = "life-refresh-gone";
    let p = Project::new("xfyeta", name, 35, "paused");
    p.apply();
    p.console("delete");
    let out = p.run(&["refresh", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("gone") || out.stdout.contains("deleted"),
        "{}",
        out.stdout
    );
    p.clean(&out);
}

// ---- orphans, `callform stop` -------------------------------------------------------

impl Project {
    /// A second task beside the first (so that removing the first leaves a manifest).
    fn other(&self, name: &str) {
        std::fs::write(
            self.tasks.join("other.yaml"),
            manifest(self.vendor, name, "paused").replace("file: c.csv", "file: o.csv"),
        )
        .unwrap();
        std::fs::write(self.tasks.join("o.csv"), csv(99, 3, columns(self.vendor))).unwrap();
    }

    fn remove(&self) {
        std::fs::remove_file(self.tasks.join("t.yaml")).unwrap();
    }

    /// The verbs the vendor accepted for the task, but its start.
    fn verbs(&self) -> Value {
        let mut verbs = self.vendor_task()["verbs"].clone();
        if let Some(map) = verbs.as_object_mut() {
            map.remove("start");
        }
        verbs
    }
}

#[test]
fn an_orphan_is_stopped_only_when_asked_with_stop_orphans() {
    let name = "life-orphan-flag";
    let p = Project::new("aliyun", name, 41, "running");
    p.other("life-orphan-flag-other");
    p.apply();
    assert_eq!(p.vendor_task()["run"], "running");
    p.remove();

    // Without opting in: a warning, and nothing is sent.
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("orphaned"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("IRREVERSIBLE"), "{}", plan.stdout);
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.vendor_task()["run"], "running");
    assert_eq!(p.verbs(), json!({}), "nothing sent without opting in");

    // `--stop-orphans`: a reviewed stop, sent once.
    let plan = p.run(&["plan", "--stop-orphans"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("-! stop"), "{}", plan.stdout);
    assert!(plan.stdout.contains("IRREVERSIBLE"), "{}", plan.stdout);
    p.clean(&plan);
    let json = p.run(&["plan", "--stop-orphans", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["stop_orphans"], true);
    let t = doc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap();
    assert_eq!(t["action"], "stop");
    assert_eq!(t["steps"]["verb"]["irreversible"], true);

    let out = p.run(&["apply", "--stop-orphans", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert_eq!(p.vendor_task()["run"], "stopped");
    assert_eq!(p.verbs(), json!({"cancel": 1}));
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "stopped");

    // Kept in state as its history: nothing more to do, and `state rm` forgets it.
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["plan", "--stop-orphans", "--detailed-exitcode"],
    ] {
        let again = p.run(args);
        assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
        assert!(again.stdout.contains("state rm"), "{}", again.stdout);
        assert!(!again.stdout.contains("still runs"), "{}", again.stdout);
    }
    let out = p.run(&["apply", "--stop-orphans", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.verbs(), json!({"cancel": 1}), "never sent twice");
    let rm = bin()
        .args(["state", "rm", name, "--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(rm.code, 0, "{}\n{}", rm.stdout, rm.stderr);
    assert!(p.state()["tasks"].get(name).is_none());
}

#[test]
fn on_remove_stop_in_callform_yaml_stops_orphans() {
    let name = "life-orphan-yaml";
    let p = Project::new("volcengine", name, 42, "running");
    p.other("life-orphan-yaml-other");
    p.apply();
    p.remove();
    // A value callform does not know is an error naming the file, line and field.
    std::fs::write(
        p.root.join("callform.yaml"),
        format!("{PROVIDERS}on_remove: delete\n"),
    )
    .unwrap();
    let bad = p.run(&["plan"]);
    assert_eq!(bad.code, 1, "{}\n{}", bad.stdout, bad.stderr);
    let line = PROVIDERS.lines().count() + 1;
    assert!(
        bad.stderr.contains(&format!("callform.yaml:{line}")),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("on_remove"), "{}", bad.stderr);
    assert!(bad.stderr.contains("`stop`"), "{}", bad.stderr);
    assert_eq!(p.verbs(), json!({}));

    std::fs::write(
        p.root.join("callform.yaml"),
        format!("{PROVIDERS}on_remove: stop\n"),
    )
    .unwrap();
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout.contains("-! stop"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert_eq!(p.vendor_task()["run"], "stopped");
    assert_eq!(p.verbs(), json!({"stop": 1}));
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}

#[test]
fn an_empty_manifest_directory_stops_no_orphan() {
    let name = "life-orphan-empty";
    let p = Project::new("aliyun", name, 43, "running");
    p.apply();
    p.remove();
    let plan = p.run(&["plan", "--stop-orphans"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("orphaned"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("callform stop NAME"),
        "{}",
        plan.stdout
    );
    let out = p.run(&["apply", "--stop-orphans", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.verbs(), json!({}));
    assert_eq!(p.vendor_task()["run"], "running");
}

#[test]
fn callform_stop_names_tasks_asks_and_stops() {
    let name = "life-stop-direct";
    let p = Project::new("aliyun", name, 44, "running");
    p.apply();
    let stop = |extra: &[&str]| {
        bin()
            .emulator()
            .arg("stop")
            .args(extra)
            .arg("--dir")
            .arg(&p.tasks)
            .run()
    };
    // An unknown name: the names in the state are listed.
    let out = stop(&["life-stop-nope"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("life-stop-nope"), "{}", out.stderr);
    assert!(out.stderr.contains(name), "{}", out.stderr);

    // No terminal and no --auto-approve: the plan is shown, nothing is sent.
    let out = stop(&["life-stop-d*"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("IRREVERSIBLE"), "{}", out.stdout);
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    p.clean(&out);
    assert_eq!(p.verbs(), json!({}));
    assert_eq!(p.vendor_task()["run"], "running");

    let out = stop(&["life-stop-d*", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert!(out.stdout.contains("1 stopped"), "{}", out.stdout);
    assert_eq!(p.vendor_task()["run"], "stopped");
    assert_eq!(p.verbs(), json!({"cancel": 1}));
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "stopped");

    // Stopped: a second stop sends nothing; a manifest still asking to dial is told why not.
    let out = stop(&[name, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.verbs(), json!({"cancel": 1}));
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("never dials again"), "{}", plan.stdout);
    p.status("stopped");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

// ---- --replace stops the superseded task ----------------------------------------------

impl Project {
    /// The emulator's tasks of this project's name (a replacement shares it), by id.
    fn vendor_tasks(&self) -> Vec<Value> {
        emulator()
            .tasks(&self.name)
            .into_iter()
            .filter(|t| t["name"] == self.name.as_str())
            .collect()
    }

    fn by_id(&self, id: &str) -> Value {
        self.vendor_tasks()
            .into_iter()
            .find(|t| t["task_id"] == id)
            .unwrap_or_else(|| panic!("task {id} at the vendor"))
    }

    fn task_id(&self) -> String {
        self.state()["tasks"][&self.name]["task_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A change no vendor updates in place: `recall_times` 1 → 2 (Aliyun).
    fn change(&self) {
        let path = self.tasks.join("t.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("recall_times: 1", "recall_times: 2")).unwrap();
    }

    fn stops_of(&self, id: &str) -> Value {
        let mut verbs = self.by_id(id)["verbs"].clone();
        if let Some(map) = verbs.as_object_mut() {
            map.remove("start");
        }
        verbs
    }
}

#[test]
fn a_replacement_stops_the_task_it_supersedes_last() {
    let name = "life-replace-stop";
    let p = Project::new("aliyun", name, 45, "running");
    p.apply();
    let old = p.task_id();
    p.change();
    let plan = p.run(&["plan", "--replace", name]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "then stop the superseded task {old} (CancelRobotTask, IRREVERSIBLE"
        )),
        "{}",
        plan.stdout
    );
    let json = p.run(&["plan", "--replace", name, "--format", "json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["tasks"][0]["steps"]["stop_superseded"]["task_id"],
        old.as_str()
    );

    let out = p.run(&["apply", "--replace", name, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert!(
        out.stdout
            .contains(&format!("stopped the superseded task {old}")),
        "{}",
        out.stdout
    );
    let new = p.task_id();
    assert_ne!(new, old);
    assert_eq!(p.by_id(&old)["run"], "stopped");
    assert_eq!(p.by_id(&new)["run"], "running");
    assert_eq!(p.stops_of(&old), json!({"cancel": 1}));
    assert_eq!(p.stops_of(&new), json!({}));
    // The stop is the superseded entry's; the new task's own run is untouched.
    let rec = &p.state()["tasks"][name];
    assert_eq!(rec["superseded"][0]["task_id"], old.as_str());
    assert_eq!(rec["superseded"][0]["run"]["state"], "stopped");
    assert_eq!(rec["run"]["state"], "started");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        !again.stdout.contains("may still be running"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_replacement_whose_create_fails_leaves_the_old_task_running() {
    let name = "life-replace-fail";
    let p = Project::new("aliyun", name, 46, "running");
    p.apply();
    let old = p.task_id();
    p.change();
    emulator()
        .post_fault(json!({"match": name, "kind": "business_error", "op": "create", "times": 1}));
    let out = p.run(&["apply", "--replace", name, "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert!(
        out.stdout
            .contains(&format!("the superseded task {old} was not stopped")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("still runs"), "{}", out.stdout);
    // The create's answer (a code Aliyun does not document as a rejection) leaves it
    // uncertain: the old task keeps its record of running, and is not stopped.
    assert_eq!(p.vendor_tasks().len(), 1, "nothing created");
    assert_eq!(p.by_id(&old)["run"], "running");
    assert_eq!(p.stops_of(&old), json!({}));
    let rec = &p.state()["tasks"][name];
    assert_eq!(rec["status"], "uncertain");
    assert_eq!(rec["superseded"][0]["task_id"], old.as_str());
    assert_eq!(rec["superseded"][0]["run"]["state"], "started");
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout.contains("may still be running"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("IRREVERSIBLE"), "{}", plan.stdout);
    let again = p.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(p.stops_of(&old), json!({}), "still not stopped");
}

#[test]
fn a_lost_answer_to_the_superseded_stop_is_uncertain_and_never_sent_again() {
    let name = "life-replace-lost";
    let p = Project::new("aliyun", name, 47, "running");
    p.apply();
    let old = p.task_id();
    p.change();
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "stop", "times": 1}));
    let out = p.run(&["apply", "--replace", name, "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert!(
        out.stdout
            .contains(&format!("stop of the superseded task {old} may or may not")),
        "{}",
        out.stdout
    );
    assert_eq!(
        p.by_id(&old)["run"],
        "stopped",
        "the stop was done, its answer lost"
    );
    let rec = &p.state()["tasks"][name];
    assert_eq!(rec["superseded"][0]["run"]["state"], "uncertain");
    assert_eq!(
        rec["run"]["state"], "started",
        "the new task is not uncertain"
    );
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout
            .contains(&format!("the stop of superseded task {old}")),
        "{}",
        plan.stdout
    );
    let again = p.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(p.stops_of(&old), json!({"cancel": 1}), "never sent again");
}

// ---- update in place ------------------------------------------------------------------

impl Project {
    fn edit(&self, from: &str, to: &str) {
        let path = self.tasks.join("t.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    fn settings(&self) -> Value {
        let id = self.task_id();
        emulator().get(&format!("/_emulator/tasks/{id}/settings"))
    }

    fn updates(&self) -> usize {
        emulator()
            .listed("/_emulator/requests", "task_id", &self.task_id())
            .into_iter()
            .filter(|r| r["op"] == "update")
            .count()
    }
}

fn update_in_place(
    vendor: &'static str,
    block: u64,
    from: &str,
    to: &str,
    field: &str,
    want: Value,
    key: &str,
) {
    let name = format!("life-update-{vendor}");
    // longlonglong documents no start: its tasks are created paused.
    let status = if vendor == "longlonglong" {
        "paused"
    } else {
        "running"
    };
    let p = Project::new(vendor, &name, block, status);
    p.apply();
    let id = p.task_id();
    p.edit(from, to);
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("+~ update"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("spec.{field}")),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("update in place ("), "{}", plan.stdout);
    p.clean(&plan);
    let out = p.apply();
    assert!(out.stdout.contains("updated in place"), "{}", out.stdout);
    assert_eq!(p.task_id(), id, "the same vendor task");
    assert_eq!(p.vendor_tasks().len(), 1, "nothing created");
    assert_eq!(p.settings()[key], want, "{}", p.settings());
    assert_eq!(p.updates(), 1);
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}

#[test]
fn longlonglong_updates_a_task_in_place() {
    update_in_place(
        "longlonglong",
        48,
        "destination_extension: 297",
        "destination_extension: 298",
        "destination_extension",
        json!(298),
        "destination_extension",
    );
}

#[test]
fn volcengine_updates_a_task_in_place() {
    update_in_place(
        "volcengine",
        49,
        "concurrency: 10",
        "concurrency: 20",
        "concurrency",
        json!(20),
        "Concurrency",
    );
}

#[test]
fn a_change_the_vendor_cannot_update_stays_blocked() {
    let name = "life-update-blocked";
    let p = Project::new("volcengine", name, 50, "running");
    p.apply();
    p.edit("resource: tts-template-1", "resource: tts-template-2");
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("! blocked"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("+~ update"), "{}", plan.stdout);
    // Updatable and not together: still blocked.
    p.edit("concurrency: 10", "concurrency: 20");
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("! blocked"), "{}", plan.stdout);
    assert_eq!(p.updates(), 0);
}

#[test]
fn an_update_whose_answer_is_lost_is_uncertain_and_never_sent_again() {
    let name = "life-update-lost";
    let p = Project::new("volcengine", name, 51, "running");
    p.apply();
    p.edit("concurrency: 10", "concurrency: 30");
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "update", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    p.clean(&out);
    assert!(
        out.stdout.contains("update may or may not"),
        "{}",
        out.stdout
    );
    assert_eq!(
        p.settings()["Concurrency"],
        json!(30),
        "done, its answer lost"
    );
    assert!(p.state()["tasks"][name]["update"].is_object());
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("? uncertain"), "{}", plan.stdout);
    assert!(plan.stdout.contains("state update"), "{}", plan.stdout);
    // Volcengine's read returns none of the fields its update sets: a read settles nothing.
    assert!(
        plan.stdout
            .contains("does not return `concurrency`, so reading it back cannot settle"),
        "{}",
        plan.stdout
    );
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert!(p.state()["tasks"][name]["update"].is_object());
    let again = p.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(p.updates(), 1, "never sent again");
    // A person settles it: the record takes the manifest's spec.
    let done = bin()
        .args(["state", "update", name, "done", "--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

// ---- mutating verbs whose answer is lost, settled by reading the task back -------------

#[test]
fn a_lost_pause_and_a_lost_resume_are_settled_by_reading_the_task_back() {
    let name = "life-verb-lost";
    let p = Project::new("aliyun", name, 52, "running");
    p.apply();
    let verbs = |verb: &str| p.verbs()[verb].as_u64().unwrap_or(0);

    p.status("paused");
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "pause", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.vendor_task()["run"], "paused", "done, its answer lost");
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "uncertain");
    let plain = p.run(&["plan"]);
    assert!(plain.stdout.contains("? uncertain"), "{}", plain.stdout);
    // The read shows it paused: planned as done, without sending the pause again.
    let plan = p.run(&["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "paused");
    assert_eq!(verbs("pause"), 1, "sent once");

    p.status("running");
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "resume", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.vendor_task()["run"], "running");
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "started");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    p.clean(&write);
}

#[test]
fn a_lost_stop_of_a_superseded_task_is_settled_by_reading_that_task_back() {
    let name = "life-replace-lost-read";
    let p = Project::new("aliyun", name, 53, "running");
    p.apply();
    let old = p.task_id();
    p.change();
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "stop", "times": 1}));
    let out = p.run(&["apply", "--replace", name, "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.by_id(&old)["run"], "stopped", "done, its answer lost");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("refresh --write"), "{}", plan.stdout);

    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert!(
        write.stdout.contains(&format!("superseded task {old}")),
        "{}",
        write.stdout
    );
    let rec = &p.state()["tasks"][name];
    assert_eq!(rec["superseded"][0]["run"]["state"], "stopped", "{rec}");
    let plan = p.run(&["plan"]);
    assert!(
        !plan.stdout.contains("may or may not"),
        "settled:\n{}",
        plan.stdout
    );
    assert_eq!(p.stops_of(&old), json!({"cancel": 1}), "never sent again");
    p.clean(&write);
}

/// A longlonglong update whose answer is lost (the request reached the vendor or not).
fn lost_update(name: &str, block: u64, applied: bool) -> Project {
    let p = Project::new("longlonglong", name, block, "paused");
    p.apply();
    p.edit("destination_extension: 297", "destination_extension: 298");
    let rule = if applied {
        json!({"match": name, "kind": "reset", "op": "update", "times": 1})
    } else {
        json!({"match": name, "kind": "answer", "op": "update", "status": 502,
            "body": "bad gateway", "create": false, "times": 1})
    };
    emulator().post_fault(rule);
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(p.state()["tasks"][name]["update"].is_object());
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout
            .contains("returns every field the update changes"),
        "the hint says a read settles it:\n{}",
        plan.stdout
    );
    p
}

#[test]
fn a_lost_update_the_vendor_made_is_settled_done_by_reading_the_task_back() {
    let name = "life-update-lost-done";
    let p = lost_update(name, 54, true);
    assert_eq!(p.settings()["destination_extension"], json!(298));
    // plan --refresh acts on the read: nothing to do, nothing written.
    let before = p.state_bytes();
    let plan = p.run(&["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(p.state_bytes(), before);
    // refresh without --write says what the read shows, and writes nothing.
    let read = p.run(&["refresh"]);
    assert!(
        read.stdout.contains("uncertain update sent at") && read.stdout.contains("was done"),
        "{}",
        read.stdout
    );
    assert_eq!(p.state_bytes(), before);
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    let rec = &p.state()["tasks"][name];
    assert!(rec.get("update").is_none_or(Value::is_null), "{rec}");
    assert_eq!(rec["spec"]["spec"]["destination_extension"], 298, "{rec}");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(p.updates(), 1, "never sent again");
    p.clean(&write);
}

#[test]
fn a_lost_update_the_vendor_did_not_make_is_sent_again_after_the_read_proves_it() {
    let name = "life-update-lost-not";
    let p = lost_update(name, 55, false);
    assert_eq!(p.settings()["destination_extension"], json!(297));
    // A saved refreshed plan carries what the read proved; its apply sends the update once.
    let plan_file = p.tasks.join("../plan.json");
    let plan_path = plan_file.to_str().unwrap();
    let plan = p.run(&["plan", "--refresh", "--out", plan_path]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("+~ update"), "{}", plan.stdout);
    let saved: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    assert_eq!(saved["updates_read"][name]["done"], false, "{saved}");
    let out = bin()
        .emulator()
        .args(["apply", plan_path, "--auto-approve"])
        .run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.settings()["destination_extension"], json!(298));
    assert_eq!(
        p.updates(),
        2,
        "the lost one, then the one the read allowed"
    );
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    p.clean(&out);
}

#[test]
fn a_lost_volcengine_pause_stays_for_a_person_whose_hint_says_why() {
    let name = "life-verb-lost-volc";
    let p = Project::new("volcengine", name, 56, "running");
    p.apply();
    p.status("paused");
    emulator().post_fault(json!({"match": name, "kind": "reset", "op": "pause", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert_eq!(p.state()["tasks"][name]["run"]["state"], "uncertain");
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout
            .contains("reading the task back cannot settle the pause"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("state start {name} started|paused")),
        "{}",
        plan.stdout
    );
    p.clean(&plan);
}
