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
    assert_eq!(doc["format_version"], 7);
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

/// The state of `p` with `edit` applied, written back with its checksum line made afresh
/// (what a state written at another time would hold): a test-only way to age a record.
fn edit_state(p: &Project, edit: impl FnOnce(&mut Value)) {
    let mut state = p.state();
    if let Some(map) = state.as_object_mut() {
        map.remove("checksum");
    }
    edit(&mut state);
    let document = serde_json::to_string_pretty(&state).unwrap();
    let sealed = callform::state::checksum::seal(document.as_bytes());
    std::fs::write(p.tasks.join("../callform.state.json"), sealed).unwrap();
    // The edited state reads.
    let list = crate::harness::bin()
        .args(["state", "list", "--state"])
        .arg(p.tasks.join("../callform.state.json"))
        .run();
    assert_eq!(list.code, 0, "{}\n{}", list.stdout, list.stderr);
}

/// A longlonglong task whose first batch (all 60 rows) is uncertain: `stored` says whether
/// the vendor stored it before the answer was lost.
fn uncertain_batch(name: &str, block: u64, stored: bool) -> Project {
    let p = Project::new("longlonglong", name, block, "paused");
    let rule = if stored {
        json!({"match": name, "op": "load", "batch": 0, "kind": "5xx", "times": 1})
    } else {
        json!({"match": name, "op": "load", "batch": 0, "kind": "answer",
            "status": 502, "body": "bad gateway", "create": false, "times": 1})
    };
    emulator().post_fault(rule);
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let pending = &p.state()["tasks"][name]["callees"]["pending"];
    assert_eq!(pending["state"], "uncertain", "{pending}");
    p
}

#[test]
fn a_batch_none_of_whose_numbers_longlonglong_lists_is_proven_not_loaded_and_sent_again() {
    let name = "adopt-numbers-none";
    let p = uncertain_batch(name, 91, false);
    assert_eq!(p.vendor_task()["callees"]["count"], 0);

    // Read at once: none of its numbers is listed, but a request still at the vendor
    // might yet load it, so the batch stays uncertain.
    let soon = p.run(&["refresh", "--write"]);
    assert_eq!(soon.code, 0, "{}\n{}", soon.stdout, soon.stderr);
    assert!(
        soon.stdout.contains("none of its 60 numbers"),
        "{}",
        soon.stdout
    );
    assert_eq!(ops(name, "numbers"), 1, "one page of the number list");
    assert_eq!(
        p.state()["tasks"][name]["callees"]["pending"]["state"],
        "uncertain"
    );
    no_numbers(&p, &soon, 91);

    // Sent an hour ago: the same read proves it was not loaded.
    edit_state(&p, |s| {
        s["tasks"][name]["callees"]["pending"]["at"] = json!("2020-01-01T00:00:00Z");
    });
    let before = p.state_bytes();
    let plain = p.run(&["plan"]);
    assert!(plain.stdout.contains("? uncertain"), "{}", plain.stdout);
    let plan_file = p.tasks.join("../plan.json");
    let plan_path = plan_file.to_str().unwrap();
    let plan = p.run(&["plan", "--refresh", "--out", plan_path]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("load 60 callees"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert!(
        plan.stdout.contains("proven not loaded") && plan.stdout.contains("calls no one twice"),
        "the plan says why sending it again is safe:\n{}",
        plan.stdout
    );
    assert_eq!(p.state_bytes(), before, "plan --refresh wrote the state");
    no_numbers(&p, &plan, 91);
    let saved: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 7);
    assert_eq!(saved["numbers_read"][name]["found"], 0);
    assert_eq!(saved["numbers_read"][name]["rows"], 60);

    // Applying the reviewed plan sends the batch once: the vendor holds each number once.
    let loads = ops(name, "load");
    let out = crate::harness::bin()
        .emulator()
        .args(["apply", plan_path, "--auto-approve"])
        .run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(ops(name, "load"), loads + 1);
    let held = &p.vendor_task()["callees"];
    assert_eq!(
        (held["count"].as_u64(), held["duplicates"].as_u64()),
        (Some(60), Some(0)),
        "{held}"
    );
    assert_eq!(p.state()["tasks"][name]["callees"]["rows"], 60);
    p.clean(&out);
}

#[test]
fn refresh_write_records_a_batch_longlonglong_does_not_list_as_not_loaded() {
    let name = "adopt-numbers-write";
    let p = uncertain_batch(name, 92, false);
    edit_state(&p, |s| {
        s["tasks"][name]["callees"]["pending"]["at"] = json!("2020-01-01T00:00:00Z");
    });
    let write = p.run(&["refresh", "--write", "--format", "json"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    let doc: Value = serde_json::from_str(&write.stdout).unwrap();
    let batch = &doc["tasks"][0]["batch"];
    assert_eq!(
        (
            batch["numbers"].as_str(),
            batch["found"].as_u64(),
            batch["rows"].as_u64()
        ),
        (Some("checked"), Some(0), Some(60)),
        "{batch}"
    );
    assert_eq!(doc["summary"]["settled"], 1);
    let rec = &p.state()["tasks"][name];
    assert!(rec.get("callees").is_none_or(Value::is_null), "{rec}");
    assert!(
        rec["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("settled as not loaded")),
        "{rec}"
    );
    no_numbers(&p, &write, 92);
    p.apply();
    assert_eq!(p.vendor_task()["callees"]["count"], 60);
}

#[test]
fn a_batch_longlonglong_lists_in_part_stays_for_a_person_with_the_counts() {
    let name = "adopt-numbers-part";
    let p = uncertain_batch(name, 93, true);
    // A person deletes 20 of its numbers in the console: the count (40) proves nothing,
    // and the list holds part of the batch.
    let id = p.vendor_task()["task_id"].as_str().unwrap().to_string();
    let (status, answer) = emulator().post(
        &format!("/_emulator/tasks/{id}/console"),
        json!({"remove_numbers": 20}),
    );
    assert_eq!(status, 200, "{answer}");
    edit_state(&p, |s| {
        s["tasks"][name]["callees"]["pending"]["at"] = json!("2020-01-01T00:00:00Z");
    });
    let write = p.run(&["refresh", "--write"]);
    assert_eq!(write.code, 0, "{}\n{}", write.stdout, write.stderr);
    assert!(
        write.stdout.contains("40 of its 60 numbers") && write.stdout.contains("for a person"),
        "{}",
        write.stdout
    );
    assert_eq!(
        p.state()["tasks"][name]["callees"]["pending"]["state"],
        "uncertain"
    );
    let plan = p.run(&["plan", "--refresh"]);
    assert!(plan.stdout.contains("? uncertain"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("40 of its 60 numbers"),
        "the plan shows the counts:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("reads longlonglong's number list"),
        "the hint says what a read settles:\n{}",
        plan.stdout
    );
    no_numbers(&p, &plan, 93);
}

#[test]
fn apply_and_plan_refresh_read_only_the_targeted_tasks() {
    let (inside, outside) = ("adopt-target-in", "adopt-target-out");
    let p = Project::new("xfyeta", inside, 94, "paused");
    let manifest = std::fs::read_to_string(p.tasks.join("t.yaml")).unwrap();
    std::fs::write(p.tasks.join("t2.yaml"), manifest.replace(inside, outside)).unwrap();
    // Both creates reach the vendor and are answered with HTTP 500: both uncertain.
    emulator().post_fault(json!({"match": "adopt-target-", "kind": "5xx", "times": 2}));
    let out = p.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let state = p.state();
    for name in [inside, outside] {
        assert_eq!(state["tasks"][name]["status"], "uncertain", "{state}");
    }
    let reads = |name: &str| ops(name, "find") + ops(name, "query");
    let outside_reads = reads(outside);

    let plan = p.run(&["plan", "--refresh", "--target", inside]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("<= adopt"), "{}", plan.stdout);
    assert_eq!(
        reads(outside),
        outside_reads,
        "plan --refresh read an untargeted task"
    );

    let inside_reads = reads(inside);
    let out = p.run(&["apply", "--target", inside, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        reads(inside) > inside_reads,
        "the targeted task was looked up"
    );
    assert_eq!(
        reads(outside),
        outside_reads,
        "apply read an untargeted task"
    );
    let state = p.state();
    assert_eq!(state["tasks"][inside]["status"], "created", "{state}");
    assert_eq!(state["tasks"][outside]["status"], "uncertain", "{state}");
    no_numbers(&p, &out, 94);

    // `callform stop NAME` reads only the task it stops.
    let out = crate::harness::bin()
        .emulator()
        .args(["stop", inside, "--auto-approve", "--dir"])
        .arg(&p.tasks)
        .run();
    assert_eq!(
        out.code, 0,
        "{}
{}",
        out.stdout, out.stderr
    );
    assert_eq!(
        reads(outside),
        outside_reads,
        "stop read a task it does not stop"
    );
    no_numbers(&p, &out, 94);
}
