//! What goes to which stream: stdout is data, stderr is status; colour and source excerpts
//! are decided per stream; `--quiet` silences status lines but never data or errors.
//! A terminal is given to one stream at a time with `script(1)` (util-linux).

use crate::harness as common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_callform"));
    c.env_remove("NO_COLOR");
    for v in [
        "CALLFORM_XFYETA_ENDPOINT",
        "CALLFORM_LONGLONGLONG_ENDPOINT",
        "CALLFORM_ALIYUN_ENDPOINT",
        "CALLFORM_VOLCENGINE_ENDPOINT",
    ] {
        c.env_remove(v);
    }
    c
}

/// A copy of the examples: (tempdir guard, tasks dir).
fn examples() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .as_path(),
        tmp.path(),
    );
    let tasks = tmp.path().join("tasks");
    (tmp, tasks)
}

/// The examples plus one manifest with an error on its line 2.
fn invalid_examples() -> (tempfile::TempDir, PathBuf) {
    let (tmp, tasks) = examples();
    std::fs::write(tasks.join("broken.yaml"), "name: broken\nvendor: nosuch\n").unwrap();
    (tmp, tasks)
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// Runs `shell` (a `sh -c` line) with a terminal as its stdin, stdout and stderr unless
/// it redirects them; returns what reached the terminal.
fn on_a_terminal(shell: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", shell, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .output()
        .expect("script(1) from util-linux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn diagnostics_on_stderr_are_coloured_when_stderr_is_a_terminal() {
    let (tmp, tasks) = invalid_examples();
    let exe = Path::new(env!("CARGO_BIN_EXE_callform"));
    let plan_out = tmp.path().join("plan.out");
    let shown = on_a_terminal(&format!(
        "{} plan {} > {}",
        quote(exe),
        quote(&tasks),
        quote(&plan_out)
    ));
    assert!(shown.contains("\x1b[1;31merror\x1b[0m"), "{shown:?}");
    // The source excerpt with a caret, as on any terminal.
    assert!(shown.contains("2 | vendor: nosuch"), "{shown:?}");
}

#[test]
fn diagnostics_on_stderr_are_plain_when_only_stdout_is_a_terminal() {
    let (tmp, tasks) = invalid_examples();
    let exe = Path::new(env!("CARGO_BIN_EXE_callform"));
    let err_file = tmp.path().join("plan.err");
    on_a_terminal(&format!(
        "{} plan {} 2> {}",
        quote(exe),
        quote(&tasks),
        quote(&err_file)
    ));
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert!(stderr.contains("error"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "colour in a file: {stderr:?}");
    assert!(
        !stderr.contains("2 | vendor"),
        "an excerpt in a file: {stderr}"
    );
}

#[test]
fn quiet_silences_status_but_not_data() {
    let (tmp, tasks) = examples();
    let saved = tmp.path().join("plan.json");
    let state = tmp.path().join("s.json");
    let plan = |quiet: bool| {
        let mut c = bin();
        c.arg("plan").arg(&tasks).arg("--state").arg(&state);
        c.arg("--out").arg(&saved);
        if quiet {
            c.arg("--quiet");
        }
        c.output().unwrap()
    };
    let loud = plan(false);
    assert!(String::from_utf8_lossy(&loud.stderr).contains("Saved the plan"));
    let quiet = plan(true);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    // The plan is on stdout either way (its digests differ: no state yet, a fresh salt).
    for out in [&loud, &quiet] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Plan: 5 to create"), "{stdout}");
    }

    // apply: no progress lines, the summary still on stdout.
    let applied = bin()
        .args(["-q", "apply", "--sandbox", "--auto-approve"])
        .arg(&tasks)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(applied.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Apply complete"), "{stdout}");
    assert!(
        applied.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

#[test]
fn quiet_never_hides_an_error() {
    let (_tmp, tasks) = invalid_examples();
    let out = bin()
        .args(["plan", "--quiet"])
        .arg(&tasks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no plan was made"), "{stderr}");
}
