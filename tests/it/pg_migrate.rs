//! `callform state migrate`: file → PostgreSQL → file gives back the same state (lineage,
//! serial, salt, every record; `state show` and `state list` alike), and it is refused
//! while a run is pending or when the target holds another lineage (unless `--overwrite`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::crash::{self, start_emulator, write_tasks, TASKS};
use crate::harness::bin;
use crate::pg;
use crate::pg_apply::finish;

/// `callform state ARGS --dir DIR`, the database URL in `CALLFORM_STATE_URL`.
fn state(dir: &Path, db_url: &str, args: &[&str]) -> Command {
    let mut cmd = bin().command();
    cmd.arg("state").args(args).arg("--dir").arg(dir);
    crash::env(&mut cmd, "http://127.0.0.1:9");
    cmd.env("CALLFORM_STATE_URL", db_url);
    cmd
}

/// The state file's content, without its checksum line: lineage, serial, salt, tasks.
fn file_state(path: &Path) -> Value {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("checksum");
    o.remove("format_version");
    v
}

/// What `state list --format json` and `state show` say of the state at `location`.
fn shown(dir: &Path, db_url: &str, location: &str) -> (Value, Vec<String>) {
    let (code, out, err) = finish(state(
        dir,
        db_url,
        &["list", "--format", "json", "--state", location],
    ));
    assert_eq!(code, 0, "{err}");
    let mut list: Value = serde_json::from_str(&out).unwrap();
    let tasks = list["tasks"].take();
    let mut shows = Vec::new();
    for name in ["crash-0000", "crash-0001", "crash-0299"] {
        let (code, out, err) = finish(state(dir, db_url, &["show", name, "--state", location]));
        assert_eq!(code, 0, "{err}");
        shows.push(out);
    }
    (tasks, shows)
}

/// A project of the crash tests' tasks, applied on a file state: its directory.
fn applied() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_tasks(tmp.path());
    let (mut emulator, url) = start_emulator(0);
    let mut cmd = bin().command();
    cmd.args(["apply", "--auto-approve", "--parallelism", "20"])
        .arg(tmp.path().join("tasks"));
    crash::env(&mut cmd, &url);
    let (code, out, err) = finish(cmd);
    assert_eq!(code, 0, "{out}{err}");
    let _ = emulator.kill();
    let _ = emulator.wait();
    tmp
}

#[test]
fn file_to_postgres_to_file_gives_back_the_same_state() {
    let cluster = pg::cluster();
    let db = cluster.database("migrate");
    let db_url = cluster.url(&db);
    let project = applied();
    let dir = project.path();
    let file = dir.join("callform.state.json");
    let original = file_state(&file);
    assert_eq!(original["tasks"].as_object().unwrap().len(), TASKS);
    let pg_state = "${CALLFORM_STATE_URL}?workspace=moved";

    let (code, _, err) = finish(state(
        dir,
        &db_url,
        &["migrate", "--to", "postgres", "--to-state", pg_state],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("{TASKS} tasks")) && err.contains("read it back equal"),
        "{err}"
    );
    let mut c = cluster.client(&db);
    let row = c
        .query_one(
            "SELECT lineage, serial, salt FROM callform.workspaces WHERE workspace = 'moved'",
            &[],
        )
        .unwrap();
    assert_eq!(
        original["lineage"].as_str(),
        Some(row.get::<_, String>(0).as_str())
    );
    assert_eq!(original["serial"].as_i64(), Some(row.get::<_, i64>(1)));
    assert_eq!(
        original["salt"].as_str(),
        Some(row.get::<_, String>(2).as_str())
    );
    let from_file = shown(dir, &db_url, &file.display().to_string());
    assert_eq!(shown(dir, &db_url, pg_state), from_file);

    // Again: the target holds exactly this state, nothing is written.
    let (code, _, err) = finish(state(
        dir,
        &db_url,
        &["migrate", "--to", "postgres", "--to-state", pg_state],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("already holds this state"), "{err}");

    let back = dir.join("back.state.json");
    let (code, _, err) = finish(state(
        dir,
        &db_url,
        &[
            "migrate",
            "--to",
            "file",
            "--state",
            pg_state,
            "--to-state",
            back.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(file_state(&back), original);
    assert_eq!(shown(dir, &db_url, back.to_str().unwrap()), from_file);
    // The copy is a state like any other: a command that changes it works on it.
    let (code, _, err) = finish(state(
        dir,
        &db_url,
        &["rm", "crash-0000", "--state", back.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        file_state(&back)["serial"].as_u64(),
        original["serial"].as_u64().map(|s| s + 1)
    );
}

#[test]
fn migrate_refuses_a_pending_run_and_another_lineage() {
    let cluster = pg::cluster();
    let db = cluster.database("migrate");
    let db_url = cluster.url(&db);
    let one = applied();
    let pg_state = "${CALLFORM_STATE_URL}?workspace=taken";
    let to_pg = ["migrate", "--to", "postgres", "--to-state", pg_state];
    let (code, _, err) = finish(state(one.path(), &db_url, &to_pg));
    assert_eq!(code, 0, "{err}");

    // Another project's state (another lineage) into the same workspace: refused, the
    // target unchanged; with --overwrite it is replaced.
    let two = applied();
    let before = shown(one.path(), &db_url, pg_state);
    let (code, _, err) = finish(state(two.path(), &db_url, &to_pg));
    assert_eq!(code, 1);
    assert!(
        err.contains("another lineage") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(shown(one.path(), &db_url, pg_state), before);
    let mut overwrite = to_pg.to_vec();
    overwrite.push("--overwrite");
    let (code, _, err) = finish(state(two.path(), &db_url, &overwrite));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("replaced the state that was there"), "{err}");
    let lineage = |dir: &Path| file_state(&dir.join("callform.state.json"))["lineage"].clone();
    let mut c = cluster.client(&db);
    let there: String = c
        .query_one(
            "SELECT lineage FROM callform.workspaces WHERE workspace = 'taken'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(lineage(two.path()).as_str(), Some(there.as_str()));

    // A run pending in the database (its journal not folded): refused, nothing written.
    let serial: i64 = c
        .query_one(
            "SELECT serial FROM callform.workspaces WHERE workspace = 'taken'",
            &[],
        )
        .unwrap()
        .get(0);
    let begin = serde_json::json!({"op": "begin", "lineage": there, "salt": file_state(&two.path().join("callform.state.json"))["salt"], "base_serial": serial, "run": "r1", "at": "2026-12-01T00:00:00Z"});
    c.execute(
        "INSERT INTO callform.journal (workspace, run, seq, entry) VALUES ('taken', 'r1', 0, $1)",
        &[&begin],
    )
    .unwrap();
    let back = two.path().join("back.state.json");
    let (code, _, err) = finish(state(
        two.path(),
        &db_url,
        &[
            "migrate",
            "--to",
            "file",
            "--state",
            pg_state,
            "--to-state",
            back.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 1);
    assert!(err.contains("a run is pending"), "{err}");
    assert!(!back.exists());
}
