//! Planning, saved plans and state repair, as a user runs them: the built binary on a copy
//! of the examples in a temporary directory. Nothing here talks to a network.

use std::path::Path;

use serde_json::Value;

use crate::harness::{self, bin, examples, import_all, run, EXAMPLE_TASKS as TASKS};

#[test]
fn plan_without_state_creates_every_task() {
    let (_tmp, tasks, _) = examples();
    let (code, out, _) = run(bin().arg("plan").arg(&tasks));
    assert_eq!(code, 0);
    assert!(
        out.contains("Plan: 5 to create, 0 to replace, 0 unchanged"),
        "{out}"
    );
    for name in TASKS {
        assert!(
            out.contains(&format!("  + create   {name}  (")),
            "{name}: {out}"
        );
    }
    let (code, _, _) = run(bin().args(["plan", "--detailed-exitcode"]).arg(&tasks));
    assert_eq!(
        code, 2,
        "--detailed-exitcode means 2 when there are changes"
    );
}

#[test]
fn plans_never_show_numbers_or_colour_off_a_terminal() {
    let (tmp, tasks, _) = examples();
    let out_file = tmp.path().join("plan.json");
    for format in ["text", "json", "markdown"] {
        let (code, out, err) = run(bin()
            .args(["plan", "--show-requests", "--format", format, "--out"])
            .arg(&out_file)
            .arg(&tasks));
        assert_eq!(code, 0, "{err}");
        for number in ["13700000001", "13700000011", "055169101407"] {
            assert!(
                !out.contains(number) && !err.contains(number),
                "{format} shows {number}"
            );
        }
        assert!(!out.contains('\x1b'), "{format}: colour without a terminal");
    }
    let saved = std::fs::read_to_string(&out_file).unwrap();
    assert!(!saved.contains("13700000001") && !saved.contains("055169101407"));
    let plan: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(plan["format_version"], 7);
    assert_eq!(plan["summary"]["create"], 5);
    assert_eq!(plan["state"]["exists"], false);
    // Every file the plan was made from, the named callee files included, is digested.
    let files: Vec<&str> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("overdue-jan.csv"))
            && files.iter().any(|f| f.ends_with("delivery.csv")),
        "{files:?}"
    );
    // --show-requests: the request is there, with the placeholder credential masked.
    let xf = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["vendor"] == "xfyeta")
        .unwrap();
    assert!(
        xf["request"]["url"].as_str().unwrap().contains("token=***"),
        "{}",
        xf["request"]
    );
}

#[test]
fn unchanged_tasks_plan_no_op_and_changes_are_blocked_with_the_ways_out() {
    let (_tmp, tasks, state) = examples();
    crate::plan::import_loaded(&tasks);
    let (code, out, _) = run(bin().args(["plan", "--detailed-exitcode"]).arg(&tasks));
    assert_eq!((code, out.contains("No changes")), (0, true), "{out}");

    let file = tasks.join("xfyeta/renewal-reminder.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("recall_count: 1", "recall_count: 2");
    std::fs::write(&file, text).unwrap();
    let (code, out, _) = run(bin().arg("plan").arg(&tasks));
    assert_eq!(code, 1, "a blocked change fails the plan: {out}");
    assert!(
        out.contains("! blocked") && out.contains("spec.recall_count: 1 → 2"),
        "{out}"
    );
    assert!(
        out.contains("revert the change")
            && out.contains("rename the task")
            && out.contains("--replace renewal-reminder-2027q1"),
        "{out}"
    );

    let (code, out, _) = run(bin().args(["plan", "--format", "markdown"]).arg(&tasks));
    assert_eq!(code, 1);
    assert!(
        out.contains("| `blocked` | `renewal-reminder-2027q1` |")
            && out.contains("<details>")
            && out.contains("- spec.recall_count = 1\n+ spec.recall_count = 2"),
        "{out}"
    );

    let (code, out, _) = run(bin()
        .args([
            "plan",
            "--replace",
            "renewal-reminder-2027q1",
            "--detailed-exitcode",
        ])
        .arg(&tasks));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("-/+ replace")
            && out.contains("then stop the superseded task id-3 (task/delete, IRREVERSIBLE"),
        "{out}"
    );

    // --replace of an unchanged task is refused: it would call the same people again.
    let (code, _, err) = run(bin()
        .args(["plan", "--replace", "payment-followup"])
        .arg(&tasks));
    assert_eq!(code, 1);
    assert!(err.contains("unchanged"), "{err}");

    // The state was never written by planning.
    let before = std::fs::read(&state).unwrap();
    run(bin().arg("plan").arg(&tasks));
    assert_eq!(before, std::fs::read(&state).unwrap());
}

#[test]
fn removed_manifests_are_orphaned_and_targets_filter() {
    let (_tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    std::fs::remove_file(tasks.join("aliyun/overdue-notice.yaml")).unwrap();
    // A removed manifest leaves its campaign dialling: a change the reviewer must see.
    let (code, out, _) = run(bin().args(["plan", "--detailed-exitcode"]).arg(&tasks));
    assert_eq!(code, 2, "an orphan is something to review: {out}");
    assert!(out.contains("  * orphaned overdue-notice-jan  ("), "{out}");
    let (code, md, _) = run(bin()
        .args(["plan", "--detailed-exitcode", "--format", "markdown"])
        .arg(&tasks));
    assert_eq!(code, 2, "{md}");
    assert!(
        md.starts_with("### callform plan: ⚠️ **needs attention**\n"),
        "{md}"
    );
    assert!(
        md.contains("**1 task(s) removed from the manifests still run at the vendor.**"),
        "{md}"
    );
    assert!(!md.contains("no changes"), "{md}");

    // Orphans come first, before a create that sorts earlier by name.
    let renewal = std::fs::read_to_string(tasks.join("xfyeta/renewal-reminder.yaml")).unwrap();
    std::fs::write(
        tasks.join("xfyeta/aaa-first.yaml"),
        renewal
            .replace("name: renewal-reminder-2027q1", "name: aaa-first")
            .replace("task_name: 续保提醒2027Q1", "task_name: 续保提醒2027Q2"),
    )
    .unwrap();
    let (_, out, _) = run(bin().arg("plan").arg(&tasks));
    let (orphan, create) = (
        out.find("* orphaned overdue-notice-jan").unwrap(),
        out.find("+ create   aaa-first").unwrap(),
    );
    assert!(orphan < create, "{out}");
    let (_, md, _) = run(bin().args(["plan", "--format", "markdown"]).arg(&tasks));
    assert!(
        md.find("| `orphaned` | `overdue-notice-jan`").unwrap()
            < md.find("| `create` | `aaa-first`").unwrap(),
        "{md}"
    );
    std::fs::remove_file(tasks.join("xfyeta/aaa-first.yaml")).unwrap();
    assert!(
        out.contains("callform state rm overdue-notice-jan") && out.contains("never deletes"),
        "{out}"
    );

    let (_, out, _) = run(bin()
        .args([
            "plan",
            "--format",
            "json",
            "--target",
            "renewal-*",
            "--target",
            "pay?ent-followup",
        ])
        .arg(&tasks));
    let plan: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["payment-followup", "renewal-reminder-2027q1"]);
}

#[test]
fn uncertain_tasks_are_never_sent_and_say_how_to_resolve() {
    let (_tmp, tasks, state) = examples();
    crate::plan::import_loaded(&tasks);
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let rec = &mut doc["tasks"]["payment-followup"];
    rec["status"] = "uncertain".into();
    rec.as_object_mut().unwrap().remove("task_id");
    // An uncertain create has loaded nothing and started nothing (the state refuses
    // batches or a start on a task without an id).
    rec.as_object_mut().unwrap().remove("callees");
    rec.as_object_mut().unwrap().remove("run");
    rec["uncertain_reason"] = "timed out after the request was sent".into();
    // Edited by hand, so written as format version 1, which has no checksum to match.
    doc.as_object_mut().unwrap().remove("checksum");
    doc["format_version"] = 1.into();
    std::fs::write(&state, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    // Something a person must resolve is something to review.
    let (code, out, _) = run(bin().args(["plan", "--detailed-exitcode"]).arg(&tasks));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("? uncertain") && out.contains("timed out after the request was sent"),
        "{out}"
    );
    assert!(
        out.contains("callform state import payment-followup TASK_ID")
            && out.contains("callform state rm payment-followup"),
        "{out}"
    );

    // Resolving it: it existed after all.
    let (code, _, err) = run(bin()
        .args(["state", "import", "payment-followup", "ext-77", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(bin().args(["state", "list", "--dir"]).arg(&tasks));
    assert!(
        out.contains("payment-followup") && out.contains("ext-77") && !out.contains("uncertain"),
        "{out}"
    );
}

#[test]
fn tasks_recorded_on_another_endpoint_are_blocked() {
    let (_tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    let (code, out, _) = run(bin()
        .env("CALLFORM_XFYETA_ENDPOINT", "http://127.0.0.1:9")
        .arg("plan")
        .arg(&tasks));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "was created on https://www.xfyeta.com, but http://127.0.0.1:9 is configured now"
        ),
        "{out}"
    );
    assert!(!out.contains("+ create"), "never a create: {out}");
}

#[test]
fn saved_plans_show_and_refuse_to_save_when_blocked() {
    let (tmp, tasks, _) = examples();
    let file = tmp.path().join("reviewed.plan.json");
    let (code, _, err) = run(bin().args(["plan", "--out"]).arg(&file).arg(&tasks));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("callform apply"), "{err}");
    let (code, out, _) = run(bin().arg("show").arg(&file));
    assert_eq!(code, 0);
    assert!(out.contains("Plan: 5 to create"), "{out}");
    let (_, md, _) = run(bin().args(["show", "--format", "markdown"]).arg(&file));
    assert!(md.starts_with("### callform plan"), "{md}");

    std::fs::write(tmp.path().join("other.json"), "{\"format_version\": 99}").unwrap();
    let (code, _, err) = run(bin().arg("show").arg(tmp.path().join("other.json")));
    assert_eq!(code, 1);
    assert!(err.contains("plan format version 99"), "{err}");

    crate::plan::import_loaded(&tasks);
    let file = tasks.join("xfyeta/renewal-reminder.yaml");
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("recall_count: 1", "recall_count: 3"),
    )
    .unwrap();
    let blocked = tmp.path().join("blocked.json");
    let (code, _, err) = run(bin().args(["plan", "--out"]).arg(&blocked).arg(&tasks));
    assert_eq!(code, 1);
    assert!(!blocked.exists() && err.contains("not saved"), "{err}");
}

#[test]
fn a_second_writer_fails_at_once_naming_the_holder() {
    let (_tmp, tasks, state) = examples();
    crate::plan::import_loaded(&tasks);
    let lock = callform::state::StateLock::acquire(&state, "apply").unwrap();
    let (code, _, err) = run(bin()
        .args(["state", "rm", "payment-followup", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 1);
    let pid = std::process::id().to_string();
    assert!(
        err.contains(&pid) && err.contains("apply") && err.contains("stop that process"),
        "{err}"
    );
    // A live holder cannot be unlocked from under it.
    let (code, _, _) = run(bin().args(["state", "unlock", "--dir"]).arg(&tasks));
    assert_eq!(code, 1);
    drop(lock);
    // What a killed holder leaves: its description without the kernel lock. It blocks
    // nothing; `state unlock` tidies it and says whose it was.
    let lock_file = state.with_file_name("callform.state.json.lock");
    std::fs::write(&lock_file, r#"{"holder":"ci","pid":4242,"host":"runner-7","started_at":"2026-01-02T03:04:05Z","operation":"apply"}"#).unwrap();
    let (code, _, err) = run(bin().args(["state", "unlock", "--dir"]).arg(&tasks));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("pid 4242") && err.contains("runner-7"),
        "{err}"
    );
    let (code, _, err) = run(bin()
        .args(["state", "rm", "payment-followup", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("id-2") && err.contains("still exists"),
        "{err}"
    );
}

#[test]
fn a_damaged_state_is_an_error_and_is_never_overwritten() {
    let (_tmp, tasks, state) = examples();
    crate::plan::import_loaded(&tasks);
    let full = std::fs::read(&state).unwrap();
    let truncated = &full[..full.len() / 2];
    std::fs::write(&state, truncated).unwrap();
    let (code, _, err) = run(bin().arg("plan").arg(&tasks));
    assert_eq!(code, 1);
    assert!(
        err.contains("callform.state.json") && err.contains("backup"),
        "{err}"
    );
    let (code, _, _) = run(bin()
        .args(["state", "import", "payment-followup", "x", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::read(&state).unwrap(),
        truncated,
        "the damaged file is left as it was"
    );
}

/// A state written by an earlier callform (kept in tests/fixtures) plans no changes: a
/// new default or a new canonical form must not turn unchanged tasks into changes. The
/// one exception is visible: the Aliyun task, created by a version that sent its callees as
/// `Caller` (the calling line), is blocked with that reason.
#[test]
fn state_from_an_earlier_version_plans_no_changes() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1");
    let tmp = tempfile::tempdir().unwrap();
    harness::copy_dir(&fixture, tmp.path());
    std::fs::copy(
        fixture.join("callform.state.json"),
        tmp.path().join("callform.state.json"),
    )
    .unwrap();
    let (code, out, err) = run(bin()
        .args(["plan", "--detailed-exitcode"])
        .arg(tmp.path().join("tasks")));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("4 unchanged") && out.contains("1 blocked"),
        "{out}"
    );
    assert!(
        out.contains("! blocked  overdue-notice-jan")
            && out.contains("created by an earlier callform, which sent the callees as `Caller`")
            && out.contains("--replace overdue-notice-jan"),
        "{out}"
    );
}

#[test]
fn a_target_matching_nothing_and_an_empty_directory_are_errors() {
    let (tmp, tasks, _) = examples();
    let (code, _, err) = run(bin()
        .args(["plan", "--target", "renewal-reminder-2027q2"])
        .arg(&tasks));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "--target renewal-reminder-2027q2: matches no task in the manifests or the state"
        ),
        "{err}"
    );
    // A glob that matches something still plans.
    let (code, out, err) = run(bin().args(["plan", "--target", "renewal-*"]).arg(&tasks));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Plan: 1 to create"), "{out}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, out, err) = run(bin().arg("plan").arg(&empty));
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("holds no tasks"), "{err}");
    assert!(!out.contains("No changes"), "{out}");
    // validate, which has no state to tell a removed project from a wrong path, warns.
    let (code, out, err) = run(bin().arg("validate").arg(&empty));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("holds no tasks"), "{out}");
    assert!(out.contains("1 warning"), "{out}");
    // apply says the same, and is no silent success either.
    let (code, out, err) = run(bin()
        .args(["apply", "--sandbox", "--auto-approve"])
        .arg(&empty));
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("holds no tasks"), "{err}");
    assert!(!out.contains("No changes"), "{out}");
}

/// The command inside the first backticks of the hint that starts with `prefix`.
fn hint_command(out: &str, prefix: &str) -> Vec<String> {
    let at = out
        .find(&format!("`{prefix}"))
        .unwrap_or_else(|| panic!("no `{prefix}` hint in: {out}"));
    let rest = &out[at + 1..];
    let end = rest.find('`').unwrap();
    rest[..end].split_whitespace().map(str::to_string).collect()
}

#[test]
fn hints_name_the_state_they_were_made_for_and_run_as_printed() {
    let (tmp, tasks, default_state) = examples();
    let custom = tmp.path().join("team.state.json");
    for (i, name) in TASKS.iter().enumerate() {
        let (code, _, err) = run(bin()
            .args([
                "state",
                "import",
                name,
                &format!("id-{i}"),
                "--loaded",
                "all",
                "--started",
                "yes",
                "--dir",
            ])
            .arg(&tasks)
            .arg("--state")
            .arg(&custom));
        assert_eq!(code, 0, "{err}");
        // Only the first import starts the state, and it says so.
        assert_eq!(
            err.contains("there is no state at") && err.contains("starts a new one"),
            i == 0,
            "{err}"
        );
    }
    std::fs::remove_file(tasks.join("aliyun/overdue-notice.yaml")).unwrap();
    let (_, out, _) = run(bin().arg("plan").arg(&tasks).arg("--state").arg(&custom));
    let cmd = hint_command(&out, "callform state rm overdue-notice-jan");
    assert_eq!(
        cmd[cmd.len() - 4..],
        [
            "--dir".to_string(),
            tasks.display().to_string(),
            "--state".to_string(),
            custom.display().to_string()
        ],
        "{out}"
    );
    // Run verbatim, it forgets the record in the state the plan was made from.
    let (code, _, err) = run(bin().args(&cmd[1..]));
    assert_eq!(code, 0, "{err}");
    assert!(!default_state.exists(), "a default state was made");
    let (_, out, _) = run(bin().arg("plan").arg(&tasks).arg("--state").arg(&custom));
    assert!(!out.contains("overdue-notice-jan"), "{out}");

    // The sandbox's state is reached with `--sandbox`, as the command that printed it.
    let (tmp, tasks, default_state) = examples();
    let sandbox_state = tmp.path().join("callform.sandbox.state.json");
    let (code, _, err) = run(bin()
        .args([
            "state",
            "import",
            "overdue-notice-jan",
            "id-1",
            "--loaded",
            "all",
            "--started",
            "yes",
            "--sandbox",
            "--dir",
        ])
        .arg(&tasks));
    assert_eq!(code, 0, "{err}");
    assert!(sandbox_state.exists(), "{err}");
    std::fs::remove_file(tasks.join("aliyun/overdue-notice.yaml")).unwrap();
    let (_, out, _) = run(bin().args(["plan", "--sandbox"]).arg(&tasks));
    let cmd = hint_command(&out, "callform state rm overdue-notice-jan");
    assert_eq!(cmd.last().map(String::as_str), Some("--sandbox"), "{out}");
    let (code, _, err) = run(bin().args(&cmd[1..]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(bin().args(["plan", "--sandbox"]).arg(&tasks));
    assert!(!out.contains("overdue-notice-jan"), "{out}");
    assert!(!default_state.exists());
}

/// A number written in a free-text field (here Aliyun's `task_name`) is personal data like
/// a callee: it is masked in the plan, the saved plan, the state and its backup, the journal
/// and `state show`, while a change of one of its digits is still a change.
#[test]
fn numbers_in_free_text_are_masked_in_state_and_still_compared() {
    let (tmp, tasks, _) = examples();
    let manifest = tasks.join("aliyun/overdue-notice.yaml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let with_number = original.replace("task_name: 欠费提醒1月", "task_name: 回访 139-1234-5678");
    assert_ne!(original, with_number);
    std::fs::write(&manifest, &with_number).unwrap();
    let leaks = |text: &str| text.contains("1234-5678") || text.contains("12345678");

    let saved = tmp.path().join("plan.json");
    let (code, out, err) = run(bin()
        .args(["plan", "--sandbox", "--out"])
        .arg(&saved)
        .arg(&tasks));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!leaks(&out) && !leaks(&err), "{out}{err}");
    assert!(!leaks(&std::fs::read_to_string(&saved).unwrap()));

    let (code, out, err) = run(bin()
        .args(["apply", "--sandbox", "--auto-approve"])
        .arg(&tasks));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!leaks(&out) && !leaks(&err), "{out}{err}");
    let state = tmp.path().join("callform.sandbox.state.json");
    for file in [
        state.clone(),
        tmp.path().join("callform.sandbox.state.json.backup"),
        tmp.path().join("callform.sandbox.state.json.journal"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&file) {
            assert!(!leaks(&text), "{}: {text}", file.display());
        }
    }
    let state_text = std::fs::read_to_string(&state).unwrap();
    assert!(state_text.contains("139****5678"), "{state_text}");
    // The callees, as the steps of a complete apply record them.
    record_loaded_in(&tasks, &state, |_, _, _| {});
    let (code, out, err) = run(bin()
        .args(["state", "show", "overdue-notice-jan", "--dir"])
        .arg(&tasks)
        .arg("--state")
        .arg(&state));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!leaks(&out) && !leaks(&err), "{out}{err}");
    assert!(out.contains("139****5678"), "{out}");

    // The digest covers the masked text only, so nothing stored beside it can give the
    // hidden digits back: a change to them alone plans no change (validate says so), and
    // a change to a digit that shows is a change.
    let (code, out, err) = run(bin()
        .args(["plan", "--sandbox", "--detailed-exitcode"])
        .arg(&tasks));
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(
        &manifest,
        with_number.replace("139-1234-5678", "139-1244-5678"),
    )
    .unwrap();
    let (code, out, err) = run(bin()
        .args(["plan", "--sandbox", "--detailed-exitcode"])
        .arg(&tasks));
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, err) = run(bin().arg("validate").arg(&tasks));
    assert!(
        format!("{out}{err}").contains("a phone number in free text is kept masked"),
        "{out}{err}"
    );
    std::fs::write(
        &manifest,
        with_number.replace("139-1234-5678", "139-1234-5679"),
    )
    .unwrap();
    let (code, out, err) = run(bin().args(["plan", "--sandbox"]).arg(&tasks));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("blocked") && out.contains("overdue-notice-jan"),
        "{out}"
    );
}

/// Records every callee of each task in the state beside `tasks` as loaded, in one batch,
/// as a complete apply (or `state import --loaded all`) records them; `edit` may then change
/// each record (a `serde_json` value of the state format 3) as a test needs.
pub(crate) fn record_loaded_with(
    tasks: &Path,
    edit: impl Fn(&str, &mut Value, &dyn Fn(usize) -> String),
) {
    record_loaded_in(
        tasks,
        &tasks.parent().unwrap().join("callform.state.json"),
        edit,
    );
}

/// [`record_loaded_with`] in the state `state_path`.
pub(crate) fn record_loaded_in(
    tasks: &Path,
    state_path: &Path,
    edit: impl Fn(&str, &mut Value, &dyn Fn(usize) -> String),
) {
    use callform::canonical::callees::{callee_key, through};
    let bytes = std::fs::read(state_path).unwrap();
    // The checksum line, taken off (it is written again below).
    let text = String::from_utf8(bytes).unwrap();
    let body = match text.strip_prefix("{\n  \"checksum\": ") {
        Some(rest) => format!("{{\n{}", &rest[rest.find('\n').unwrap() + 1..]),
        None => text,
    };
    let mut state: Value = serde_json::from_str(&body).unwrap();
    let salt = state["salt"].as_str().unwrap().to_string();
    let key = callee_key(&salt);
    let (_, manifests) = callform::workspace::load(tasks, jiff::Timestamp::now());
    let records = state["tasks"].as_object_mut().unwrap();
    for (name, rec) in records.iter_mut() {
        let Some(task) = manifests.tasks.iter().find(|t| &t.name == name) else {
            continue;
        };
        if let Some(list) = &task.callees {
            let fps = list.fingerprints();
            rec["callees"] = serde_json::json!({
                "rows": fps.len(),
                "batches": [{"i": 0, "n": fps.len(), "through": through(&key, name, fps)}],
            });
        }
        let fps = task.callees.as_ref().map_or(&[][..], |c| c.fingerprints());
        // The digest of the task's first `n` rows, as a batch ending there records it.
        let first = |n: usize| through(&key, name, &fps[..n.min(fps.len())]);
        edit(name, rec, &first);
    }
    let text = serde_json::to_string_pretty(&state).unwrap();
    let sealed = callform::state::checksum::seal(text.as_bytes());
    std::fs::write(state_path, sealed).unwrap();
}

/// [`record_loaded_with`] without edits.
pub(crate) fn record_loaded(tasks: &Path) {
    record_loaded_with(tasks, |_, _, _| {});
}

/// Every example recorded as created (`state import`) with its callees loaded.
pub(crate) fn import_loaded(tasks: &Path) {
    import_all(tasks);
    record_loaded(tasks);
}
