//! Snapshots of what people read: validate's diagnostics at a terminal, the text and
//! markdown plans of the examples, and the apply summary. A change to any of them shows as
//! a snapshot diff to review (`cargo insta review`, or `INSTA_UPDATE=always cargo test`).
//!
//! Every run is in a copy of the examples, with paths relative to it; what varies from run
//! to run (digest salts, number tags, vendor ids, state lineages, temp paths, ports, times)
//! is filtered out.

use std::path::Path;

use crate::harness::{self, examples, Callform, Output};

/// Snapshots `text` with what varies between runs replaced by a placeholder.
macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"hmac-sha256:[0-9a-f]{64}", "hmac-sha256:[digest]"),
                (r"\b[0-9a-f]{32}\b", "[lineage]"),
                (r"\*\*\*\*(\d{4})#[0-9a-f]{6}", "****$1#[tag]"),
                (r"\(([a-z]+) task [^)\s]+\)", "($1 task [id])"),
                (r"(/[^\s/]+)*/\.tmp[0-9A-Za-z]{6}", "[tmp]"),
                (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
                (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

/// `callform ARGS tasks` in the project `dir`.
fn callform(dir: &Path, args: &[&str]) -> Callform {
    Callform::new().cwd(dir).args(args).dir("tasks")
}

/// What an apply shows after its plan (the plan snapshots above): from the plan's count
/// line, the per-task lines (on stdout with the summary, without a terminal), sorted, as
/// tasks finish in any order, then the summary; then stderr.
fn apply_summary(out: &Output) -> String {
    let shown = out
        .stdout
        .find("\nPlan: ")
        .map_or(out.stdout.as_str(), |at| &out.stdout[at + 1..]);
    let summary_at = shown.find("\n\nApply ").map_or(shown.len(), |at| at + 1);
    let (head, summary) = shown.split_at(summary_at);
    let mut lines = head.lines();
    let plan_line = lines.next().unwrap_or_default();
    let mut progress: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    progress.sort_unstable();
    format!(
        "{plan_line}\n--- per-task lines, sorted ---\n{}\n{summary}--- stderr ---\n{}",
        progress.join("\n"),
        out.stderr
    )
}

#[test]
fn validate_shows_the_offending_line_with_a_caret_at_a_terminal() {
    let (tmp, tasks, _) = examples();
    let manifest = tasks.join("xfyeta/renewal-reminder.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = text
        .replace("  recall_count: 1", "  recal_count: 1")
        .replace(
            "  time_end: 2027-03-31 20:00",
            "  time_end: 2026-13-31 20:00",
        );
    assert_ne!(broken, text, "the example changed: break it another way");
    std::fs::write(&manifest, broken).unwrap();

    let out = callform(tmp.path(), &["validate"]).terminal().run();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains(" ^^^"), "no caret: {}", out.stdout);
    snapshot!("validate_caret", out.stdout);
}

#[test]
fn the_plans_of_the_examples_without_state() {
    let (tmp, _, _) = examples();
    let out = callform(tmp.path(), &["plan"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("plan_creates_text", out.stdout);
    let out = callform(tmp.path(), &["plan", "--format", "markdown"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("plan_creates_markdown", out.stdout);
}

#[test]
fn the_plans_of_the_examples_with_an_orphan() {
    let (tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    std::fs::remove_file(tasks.join("xfyeta/renewal-reminder.yaml")).unwrap();
    let out = callform(tmp.path(), &["plan"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("plan_orphan_text", out.stdout);
    let out = callform(tmp.path(), &["plan", "--format", "markdown"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("plan_orphan_markdown", out.stdout);
}

#[test]
fn the_apply_summary_of_the_examples() {
    let (tmp, _, _) = examples();
    let out = callform(tmp.path(), &["apply", "--sandbox", "--auto-approve"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let shown = apply_summary(&out);
    snapshot!("apply_summary", shown);
}

#[test]
fn the_apply_summary_with_a_failure_and_an_uncertain_create() {
    let (tmp, tasks, _) = examples();
    harness::rename_tasks(&tasks, "snap-");
    let emulator = harness::emulator();
    emulator.post_fault(serde_json::json!({"match": "snap-续保提醒", "kind": "business_error"}));
    emulator.post_fault(serde_json::json!({"match": "snap-配送通知", "kind": "5xx", "times": 1}));
    let out = callform(tmp.path(), &["apply", "--auto-approve"])
        .emulator()
        .run();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let shown = apply_summary(&out);
    snapshot!("apply_summary_failed_and_uncertain", shown);
}

/// `status: running` in a manifest: text and markdown `steps` and `dials` lines.
fn set_running(tasks: &Path, manifest: &str) {
    let path = tasks.join(manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    let running = text.replacen("status: paused", "status: running", 1);
    assert!(
        running.contains("status: running"),
        "{manifest}: no `status:` to change"
    );
    std::fs::write(&path, running).unwrap();
}

#[test]
fn the_plans_of_running_creates() {
    let (tmp, tasks, _) = examples();
    for m in [
        "xfyeta/renewal-reminder.yaml",
        "aliyun/overdue-notice.yaml",
        "volcengine/delivery-notice.yaml",
    ] {
        set_running(&tasks, m);
    }
    let out = callform(tmp.path(), &["plan"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot!("plan_running_creates_text", out.stdout);
}

/// Every way a recorded task's steps can stand, one task each: resume (nothing loaded yet,
/// then start), an uncertain batch (with the callee file's lines), a batch refused while
/// the task runs (6007 hold), loaded callees removed, and a Volcengine task that cannot be
/// started after its create.
#[test]
fn the_plans_of_recorded_tasks_with_steps_left_or_stuck() {
    let (tmp, tasks, _) = examples();
    set_running(&tasks, "xfyeta/renewal-reminder.yaml");
    set_running(&tasks, "volcengine/delivery-notice.yaml");
    crate::plan::import_loaded(&tasks);
    crate::plan::record_loaded_with(&tasks, |name, rec, first| match name {
        "renewal-reminder-2027q1" => drop(rec.as_object_mut().unwrap().remove("callees")),
        "overdue-notice-jan" => {
            rec["callees"] = serde_json::json!({"rows": 0, "pending": {
                "i": 0, "offset": 0, "n": 4, "through": first(4), "at": "2027-01-04T01:00:00Z",
                "state": "uncertain", "reason": "HTTP 502 Bad Gateway"}});
        }
        "payment-followup" => {
            rec["callees"] = serde_json::json!({"rows": 0, "pending": {
                "i": 0, "offset": 0, "n": 3, "through": first(3), "at": "2027-01-04T01:00:00Z",
                "state": "refused", "code": "6007", "reason": "2.0任务启动中,请先停止任务"}});
        }
        "satisfaction-survey" => {
            // Four loaded; the manifest lists three now.
            rec["callees"] = serde_json::json!({"rows": 4, "batches": [
                {"i": 0, "n": 4, "through": "h1:00000000000000000000000000000000"}]});
        }
        _ => {}
    });
    let out = callform(tmp.path(), &["plan"]).run();
    assert_eq!(out.code, 1, "blocked: {}{}", out.stdout, out.stderr);
    snapshot!("plan_steps_text", out.stdout);
    let out = callform(tmp.path(), &["plan", "--format", "markdown"]).run();
    snapshot!("plan_steps_markdown", out.stdout);
}

/// Callees added after the start (xfyeta takes none then) and a started task the manifest
/// says is paused.
#[test]
fn the_plans_of_started_tasks_added_to_or_paused() {
    let (tmp, tasks, _) = examples();
    set_running(&tasks, "xfyeta/renewal-reminder.yaml");
    crate::plan::import_loaded(&tasks);
    let started =
        serde_json::json!({"state": "started", "at": "2027-01-04T01:00:00Z", "how": "task/start"});
    crate::plan::record_loaded_with(&tasks, |name, rec, first| match name {
        "renewal-reminder-2027q1" => {
            rec["callees"] = serde_json::json!({"rows": 2, "batches": [
                {"i": 0, "n": 2, "through": first(2)}]});
            rec["run"] = started.clone();
        }
        "overdue-notice-jan" => rec["run"] = started.clone(),
        _ => {}
    });
    let out = callform(tmp.path(), &["plan"]).run();
    assert_eq!(out.code, 1, "blocked: {}{}", out.stdout, out.stderr);
    snapshot!("plan_started_text", out.stdout);
}
