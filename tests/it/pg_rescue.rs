//! Losing the database in the middle of an apply loses nothing: the run stops sending, what
//! the database could not take is kept in a rescue file next to the project (no secret, no
//! phone number), and the next command pushes it before anything else; a rescue file that
//! does not check is refused, never dropped.

use std::collections::HashMap;

use crate::crash::{get_json, start_emulator, vendor_tasks, TASKS};
use crate::harness;
use crate::pg::{self, Cluster};
use crate::pg_apply::{command, finish, listed, spawn_until_rows, state_json, working_copy};

/// The creates the emulator received, by task name.
fn creates(url: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in get_json(url, "/_emulator/requests").as_array().unwrap() {
        if r["op"].as_str() == Some("create") {
            if let Some(name) = r["name"].as_str() {
                *out.entry(name.to_string()).or_default() += 1;
            }
        }
    }
    out
}

/// Every task the vendor has is in the state as created with its id: nothing forgotten.
fn every_vendor_task_recorded(url: &str, state: &serde_json::Value) -> usize {
    let records = state["tasks"].as_object().unwrap();
    let vendor = vendor_tasks(url);
    for t in vendor.as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let rec = records
            .get(name)
            .unwrap_or_else(|| panic!("{name} is at the vendor but not in the state"));
        assert_eq!(rec["status"], "created", "{name}: {rec}");
        assert_eq!(rec["task_id"], t["task_id"], "{name}");
    }
    vendor.as_array().unwrap().len()
}

#[test]
fn the_server_stopped_mid_apply_leaves_a_rescue_file_the_next_command_pushes() {
    let cluster = Cluster::start();
    let db_url = cluster.url("callform");
    let ws = "rescue";
    let (copy, tasks) = working_copy(ws);
    let rescue = copy.path().join(format!("callform.rescue.{ws}.jsonl"));
    let (mut emulator, url) = start_emulator(20);
    let apply = ["apply", "--auto-approve", "--parallelism", "10"];
    let running = spawn_until_rows(
        command(&url, &db_url, &apply, &tasks),
        &cluster,
        "callform",
        ws,
        60,
    );
    cluster.stop();
    let (code, text) = running.finish();
    assert_eq!(code, Some(1), "{text}");
    let sent = creates(&url);
    assert!(
        sent.len() < TASKS,
        "it stopped sending ({} sent)",
        sent.len()
    );
    assert!(rescue.is_file(), "no rescue file: {text}");
    assert!(
        text.contains(&rescue.display().to_string()) && text.contains("pushes it"),
        "the path and the way back are printed: {text}"
    );
    let kept = std::fs::read_to_string(&rescue).unwrap();
    assert!(kept.contains("\"op\":\"outcome\""), "{kept}");
    for secret in harness::CANARIES.iter().chain(&[
        pg::PASSWORD,
        "crash-token",
        "crash-secret",
        "1370000",
        "1370001",
    ]) {
        assert!(!kept.contains(secret), "{secret} in the rescue file");
    }

    // Still down: the command refuses, the file stays, nothing is sent.
    let (code, _, err) = finish(command(&url, &db_url, &["plan"], &tasks));
    assert_eq!(code, 1, "{err}");
    assert!(rescue.is_file());
    assert_eq!(creates(&url), sent);

    // Back: the next command (a read) pushes the file first; every task the vendor has is
    // in the state, created, with its id.
    cluster.restart();
    let state = listed(&state_json(&url, &db_url, &tasks));
    assert!(!rescue.exists(), "the rescue file was pushed and removed");
    assert_eq!(every_vendor_task_recorded(&url, &state), sent.len());

    // The next apply finishes the rest, creating nothing twice.
    let (code, out, err) = finish(command(&url, &db_url, &apply, &tasks));
    let state = listed(&state_json(&url, &db_url, &tasks));
    let created = every_vendor_task_recorded(&url, &state);
    let uncertain: Vec<_> = state["tasks"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["status"] != "created")
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(created + uncertain.len(), TASKS, "{out}{err}");
    // An intent whose write may have committed is uncertain (never sent): at most the
    // rows of one write; every other task is created.
    assert!(code == 0 || !uncertain.is_empty(), "{out}{err}");
    assert!(uncertain.len() <= 10, "{uncertain:?}");
    for (name, n) in creates(&url) {
        assert_eq!(n, 1, "{name} was created {n} times");
    }
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// A project on a PostgreSQL state with `text` as its rescue file: the command refuses,
/// naming the file and the line, and the file is left as it was.
fn refused_with(text: &str, expect: &str) {
    let cluster = pg::cluster();
    let db = cluster.database("rescue");
    let db_url = cluster.url(&db);
    let (copy, tasks) = working_copy("bad");
    let rescue = copy.path().join("callform.rescue.bad.jsonl");
    std::fs::write(&rescue, text).unwrap();
    for args in [&["plan"][..], &["state", "list", "--dir"][..]] {
        let (code, out, err) = finish(command("http://127.0.0.1:9", &db_url, args, &tasks));
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("callform.rescue.bad.jsonl") && err.contains(expect),
            "{err}"
        );
        assert!(
            err.contains("do not delete it") || err.contains("that state"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&rescue).unwrap(), text);
    }
}

#[test]
fn a_damaged_rescue_file_is_refused_and_kept() {
    refused_with(
        "{\"rescue\":1,\"location\":\"x\",\"workspace\":\"bad\",\"run\":\"r\"}\n",
        ":1: ",
    );
}

#[test]
fn a_rescue_file_of_another_workspace_is_refused_and_kept() {
    // A well-formed file (its line checked) naming another workspace.
    let header =
        serde_json::json!({"rescue": 1, "location": "elsewhere", "workspace": "other", "run": "r"});
    let json = serde_json::to_string(&header).unwrap();
    let sum = {
        use sha2::Digest;
        sha2::Sha256::digest(json.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let line = format!("{},\"sum\":\"{sum}\"}}\n", &json[..json.len() - 1]);
    refused_with(&line, "workspace `other`");
}
