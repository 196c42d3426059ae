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
