//! `refresh` on the shared emulator (127.0.0.1): what each vendor's read of a task callform
//! has just created says, and that its own words for "nothing dials yet" are not drift.

use crate::harness::bin;

const PROVIDERS: &str = "timezone: Asia/Shanghai\nproviders:\n  longlonglong: {user_id: 5832d184-dd53-42a0-8ace-0bf8d660f4cc, token: \"${LONGLONGLONG_TOKEN}\"}\n";

/// longlonglong has no "not started": a task created and never started reads as paused
/// (`enable=false`, `call_status=false`). That is the state callform left it in, not a
/// pause made behind its back.
#[test]
fn a_longlonglong_task_never_started_is_not_drift_when_it_reads_as_paused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("callform.yaml"), PROVIDERS).unwrap();
    let tasks = tmp.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    std::fs::write(
        tasks.join("t.yaml"),
        "name: readback-lll-fresh\nvendor: longlonglong\nspec:\n  task_type: new\n  destination_extension: 1001\n  dial_time_id: 5\n  maximumcall: 2\n  task_extras:\n    start_time: 2027-01-04 09:00\n    stop_time: 2027-02-28 18:00\n    line: [{id: line-1, limit: 2}]\n    pop_mode: sequential\n    redial_enabled: false\n",
    )
    .unwrap();
    let run = |args: &[&str]| bin().emulator().args(args).arg(&tasks).run();
    let applied = run(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let read = run(&["refresh", "--detailed-exitcode"]);
    assert!(
        read.stdout.contains("readback-lll-fresh") && read.stdout.contains("paused"),
        "{}",
        read.stdout
    );
    assert_eq!(read.code, 0, "no drift:\n{}{}", read.stdout, read.stderr);
    assert!(
        !read.stdout.contains("changed outside callform"),
        "{}",
        read.stdout
    );
}
