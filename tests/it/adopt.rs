//! Uncertain creates resolved by lookup, on the shared emulator (127.0.0.1): a create the
//! vendor made but answered with an error is `uncertain`; `plan --refresh` (and `apply`)
//! look it up by its vendor-visible name and adopt exactly one match — recorded, never
//! created twice — while two matches, or a lookup that failed, leave it uncertain with
//! the reason. A plain `plan` reads nothing. Preflight: a provider whose credentials are
//! refused stops the apply before anything is sent.

use serde_json::{json, Value};

use crate::harness::{bin, emulator};
use crate::lifecycle::Project;

/// The emulator's requests for vendor-visible names starting with `name`.
fn requests(name: &str) -> Vec<Value> {
    emulator().listed("/_emulator/requests", "name", name)
}

fn ops(name: &str, op: &str) -> usize {
    requests(name).iter().filter(|r| r["op"] == op).count()
}

/// A project whose one task's create reached the vendor but was answered with HTTP 500:
/// the task exists there, and the state records it `uncertain`.
fn uncertain_create(vendor: &'static str, name: &str, block: u64) -> Project {
    let p = Project::new(vendor, name, block, "paused");
    emulator().post_fault(json!({"match": name, "kind": "5xx", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.state()["tasks"][name]["status"], "uncertain");
    assert_eq!(emulator().tasks(name).len(), 1, "the vendor made the task");
    p
}

/// No callee number in any output (the canary name is checked by `Project::clean`).
fn no_numbers(p: &Project, out: &crate::harness::Output, block: u64) {
    p.clean(out);
    let prefix = format!("137{:03}", block);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(&prefix), "a callee's number leaked:\n{text}");
    }
}

fn adopts_exactly_one_match(vendor: &'static str, block: u64) {
    let name = format!("adopt-{vendor}-one");
    let p = uncertain_create(vendor, &name, block);
    let id = p.vendor_task()["task_id"].as_str().unwrap().to_string();

    // A plain plan reads nothing: the emulator sees no request, and the task stays uncertain.
    let before = requests(&name).len();
    let plain = p.run(&["plan"]);
    assert!(plain.stdout.contains("? uncertain"), "{}", plain.stdout);
    assert_eq!(requests(&name).len(), before, "a plain plan made a request");

    // With --refresh, it is found by name and planned as adopt, with the vendor's id.
    let plan = p.run(&["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("<= adopt"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("task {id}")),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to adopt"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("exactly one"),
        "how it was found: {}",
        plan.stdout
    );
    no_numbers(&p, &plan, block);
    let json = p.run(&["plan", "--refresh", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["format_version"], 6);
    assert_eq!(doc["summary"]["adopt"], 1);
    assert_eq!(doc["tasks"][0]["action"], "adopt");
    assert_eq!(doc["tasks"][0]["task_id"], id.as_str());
    assert_eq!(doc["looked_up"][&name]["result"], "listed");
    let md = p.run(&["plan", "--refresh", "--format", "markdown"]);
    assert!(md.stdout.contains("`adopt`"), "{}", md.stdout);

    // Apply records it and sends no second create.
    let creates = ops(&name, "create");
    let out = p.apply();
    assert!(
        out.stdout
            .contains(&format!("adopted   {name} as task {id}")),
        "{}",
        out.stdout
    );
    no_numbers(&p, &out, block);
    assert_eq!(ops(&name, "create"), creates, "a second create was sent");
    assert_eq!(emulator().tasks(&name).len(), 1);
    let st = p.state();
    assert_eq!(st["tasks"][&name]["status"], "created");
    assert_eq!(st["tasks"][&name]["task_id"], id.as_str());
    assert!(
        st["tasks"][&name]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("adopted at "),
        "{st}"
    );

    // The next plan shows the steps left: the callees, loaded into the adopted task.
    let next = p.run(&["plan"]);
    assert!(next.stdout.contains("~ resume"), "{}", next.stdout);
    assert!(next.stdout.contains("load 60 callees"), "{}", next.stdout);
    p.apply();
    assert_eq!(emulator().tasks(&name).len(), 1);
    let done = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(done.code, 0, "{}", done.stdout);
}

#[test]
fn an_uncertain_xfyeta_create_found_once_by_name_is_adopted() {
    // xfyeta's listing reports no creation time: the name alone decides.
    adopts_exactly_one_match("xfyeta", 81);
}

#[test]
fn an_uncertain_aliyun_create_found_once_in_its_window_is_adopted() {
    // Aliyun's listing reports `createTime`: it must lie in the create's window.
    adopts_exactly_one_match("aliyun", 82);
}

#[test]
fn apply_looks_an_uncertain_create_up_by_itself() {
    let name = "adopt-apply-itself";
    let p = uncertain_create("volcengine", name, 83);
    let id = p.vendor_task()["task_id"].as_str().unwrap().to_string();
    let creates = ops(name, "create");
    let out = p.apply();
    assert!(out.stdout.contains("<= adopt"), "{}", out.stdout);
    assert!(out.stdout.contains("1 adopted"), "{}", out.stdout);
    assert_eq!(ops(name, "create"), creates, "a second create was sent");
    assert_eq!(p.state()["tasks"][name]["task_id"], id.as_str());
    // The rows the Volcengine create carried may or may not be in the task: batch 0 stays
    // uncertain for a person, never sent again.
    let next = p.run(&["plan"]);
    assert!(next.stdout.contains("? uncertain"), "{}", next.stdout);
    assert!(!next.stdout.contains("load 60"), "{}", next.stdout);
}

#[test]
fn a_saved_plans_adoption_is_what_apply_records() {
    let name = "adopt-saved-plan";
    let p = uncertain_create("aliyun", name, 88);
    let id = p.vendor_task()["task_id"].as_str().unwrap().to_string();
    let file = p.tasks.join("../reviewed.plan.json");
    let plan = p.run(&["plan", "--refresh", "--out", file.to_str().unwrap()]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("<= adopt"), "{}", plan.stdout);
    let creates = ops(name, "create");
    let finds = ops(name, "find");
    let out = bin()
        .emulator()
        .arg("apply")
        .arg(&file)
        .cwd(p.tasks.parent().unwrap())
        .run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 adopted"), "{}", out.stdout);
    assert_eq!(ops(name, "create"), creates, "a second create was sent");
    assert_eq!(
        ops(name, "find"),
        finds,
        "the saved plan's lookup is not read again"
    );
    assert_eq!(p.state()["tasks"][name]["task_id"], id.as_str());
}

#[test]
fn two_tasks_of_the_name_leave_the_create_uncertain_with_both_listed() {
    let name = "adopt-two-matches";
    let p = uncertain_create("xfyeta", name, 84);
    // Another project makes a second task of the same vendor-visible name.
    let other = Project::new("xfyeta", name, 84, "paused");
    other.apply();
    let tasks = emulator().tasks(name);
    assert_eq!(tasks.len(), 2);

    let plan = p.run(&["plan", "--refresh"]);
    assert!(plan.stdout.contains("? uncertain"), "{}", plan.stdout);
    assert!(plan.stdout.contains("never guesses"), "{}", plan.stdout);
    for t in &tasks {
        let id = t["task_id"].as_str().unwrap();
        assert!(
            plan.stdout.contains(&format!("candidate: task {id} (")),
            "{id}: {}",
            plan.stdout
        );
    }
    no_numbers(&p, &plan, 84);
    let creates = ops(name, "create");
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(ops(name, "create"), creates);
    assert_eq!(p.state()["tasks"][name]["status"], "uncertain");
}

#[test]
fn a_failed_lookup_leaves_the_create_uncertain_with_the_reason() {
    let name = "adopt-lookup-fails";
    let p = uncertain_create("aliyun", name, 85);
    emulator().post_fault(json!({"match": name, "op": "find", "kind": "business_error"}));
    let plan = p.run(&["plan", "--refresh"]);
    emulator().delete_faults(name);
    assert!(plan.stdout.contains("? uncertain"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("the lookup by name at"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("failed"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("<= adopt"), "{}", plan.stdout);
}

#[test]
fn preflight_stops_an_apply_with_a_refused_secret_before_anything_is_sent() {
    let name = "adopt-preflight-secret";
    let p = Project::new("xfyeta", name, 86, "paused");
    let out = bin()
        .emulator()
        .env("XFYETA_TOKEN", "wrong-token")
        .args(["apply", "--auto-approve"])
        .dir(&p.tasks)
        .run();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("preflight: provider `xfyeta`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("XFYETA_TOKEN"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong-token"), "{}", out.stderr);
    assert!(emulator().tasks(name).is_empty(), "a task was created");
    for op in ["create", "load", "start"] {
        assert_eq!(ops(name, op), 0, "a {op} reached the vendor");
    }
    // Nothing was recorded: no state, no journal.
    assert!(!p.tasks.join("../callform.state.json").exists());
    // With the right secret the same apply goes ahead.
    p.apply();
    assert_eq!(emulator().tasks(name).len(), 1);
}

#[test]
fn preflight_names_an_unreachable_provider() {
    let name = "adopt-preflight-down";
    let p = Project::new("aliyun", name, 87, "paused");
    let out = bin()
        .emulator()
        // A loopback port nothing listens on.
        .env("CALLFORM_ALIYUN_ENDPOINT", "http://127.0.0.1:9")
        .args(["apply", "--auto-approve"])
        .dir(&p.tasks)
        .run();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("preflight: provider `aliyun`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Nothing was sent"), "{}", out.stderr);
    assert!(emulator().tasks(name).is_empty());
}

#[test]
fn an_uncertain_batch_the_vendors_count_proves_is_recorded_loaded_by_refresh_write() {
    let name = "adopt-batch-count";
    let p = Project::new("xfyeta", name, 89, "paused");
    // The first batch (50 rows) is stored, then answered with HTTP 500: uncertain.
    emulator()
        .post_fault(json!({"match": name, "op": "load", "batch": 0, "kind": "5xx", "times": 1}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let pending = &p.state()["tasks"][name]["callees"]["pending"];
    assert_eq!(pending["state"], "uncertain", "{pending}");

    // Read-only: the state is untouched; the plan with --refresh acts on the count.
    let before = p.state_bytes();
    let plan = p.run(&["plan", "--refresh"]);
    assert!(
        plan.stdout.contains("load 10 callees"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert_eq!(p.state_bytes(), before);
    no_numbers(&p, &plan, 89);

    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    let callees = &p.state()["tasks"][name]["callees"];
    assert_eq!(callees["rows"], 50, "{callees}");
    assert!(
        callees.get("pending").is_none_or(Value::is_null),
        "{callees}"
    );
    // The next apply loads the rest, never batch 0 again.
    let loads = ops(name, "load");
    p.apply();
    assert_eq!(ops(name, "load"), loads + 1);
    let held = &p.vendor_task()["callees"];
    assert_eq!(
        (held["count"].as_u64(), held["duplicates"].as_u64()),
        (Some(60), Some(0)),
        "{held}"
    );
}

#[test]
fn a_batch_whose_count_does_not_match_stays_for_a_person() {
    let name = "adopt-batch-mismatch";
    let p = Project::new("xfyeta", name, 90, "paused");
    // Refused after nothing was stored, with an answer that proves nothing: uncertain, and
    // the vendor holds no rows, which is no proof either way.
    emulator().post_fault(
        json!({"match": name, "op": "load", "batch": 0, "kind": "answer",
        "status": 502, "body": "bad gateway", "create": false, "times": 1}),
    );
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    let pending = &p.state()["tasks"][name]["callees"]["pending"];
    assert_eq!(pending["state"], "uncertain", "{pending}");
}
