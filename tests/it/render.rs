//! What the reviewer and the operator see must be the truth, in every rendering: the text,
//! markdown and JSON plans of one situation carry the same endpoints, warnings, orphans and
//! exit code; renames are reviewable; an apply that leaves uncertain work fails.

use std::path::Path;

use serde_json::Value;

use crate::harness::{self, bin, examples, run, Callform};

/// A manifest of the examples with `from` replaced by `to` (which must change it).
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let edited = text.replace(from, to);
    assert_ne!(edited, text, "{}: the example changed", path.display());
    std::fs::write(path, edited).unwrap();
}

/// The plan of `tasks` in each format, with `--detailed-exitcode`: (code, stdout) per format.
fn plans(tasks: &Path, env: &[(&str, &str)]) -> [(i32, String); 3] {
    plans_with(tasks, &[], env)
}

/// [`plans`], with more arguments.
fn plans_with(tasks: &Path, args: &[&str], env: &[(&str, &str)]) -> [(i32, String); 3] {
    ["text", "markdown", "json"].map(|format| {
        let mut cmd = bin()
            .args(["plan", "--detailed-exitcode", "--format", format])
            .args(args)
            .arg(tasks);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run();
        (out.code, out.stdout)
    })
}

/// Every rendering of one plan says the same things: the JSON plan is the data, and the
/// text and markdown plans must show each of its endpoints, warnings and orphans, and all
/// three exit alike. Returns the JSON plan.
fn same_in_every_rendering(tasks: &Path, env: &[(&str, &str)]) -> Value {
    same_in_every_rendering_with(tasks, &[], env)
}

/// [`same_in_every_rendering`], with more arguments.
fn same_in_every_rendering_with(tasks: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let [(text_code, text), (md_code, md), (json_code, json)] = plans_with(tasks, args, env);
    assert_eq!((text_code, md_code), (json_code, json_code), "{text}\n{md}");
    let plan: Value = serde_json::from_str(&json).unwrap();
    for (format, shown) in [("text", &text), ("markdown", &md)] {
        for e in plan["endpoints"].as_array().unwrap() {
            let (provider, vendor) = (
                e["provider"].as_str().unwrap(),
                e["vendor"].as_str().unwrap(),
            );
            // A provider named after its vendor is named once.
            let who = if provider == vendor {
                provider.to_string()
            } else {
                format!("{provider} ({vendor})")
            };
            let line = format!(
                "{who}: {} ({}",
                e["endpoint"].as_str().unwrap(),
                e["from"].as_str().unwrap()
            );
            assert!(
                shown.contains(&line),
                "{format} lacks the endpoint {line}:\n{shown}"
            );
        }
        let mut warnings: Vec<String> = plan["warnings"]
            .as_array()
            .map(|ws| {
                ws.iter()
                    .map(|w| match w["hint"].as_str() {
                        Some(h) => format!("{}; hint: {h}", w["message"].as_str().unwrap()),
                        None => w["message"].as_str().unwrap().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        for t in plan["tasks"].as_array().unwrap() {
            for w in t["warnings"].as_array().into_iter().flatten() {
                warnings.push(w.as_str().unwrap().to_string());
            }
            if t["action"] == "orphaned" {
                let name = t["name"].as_str().unwrap();
                assert!(shown.contains(name), "{format} lacks the orphan {name}");
            }
            // The vendor task id of every task the plan lists: the one to stop in the
            // console (an orphan, a replaced task) or to look for (an uncertain one).
            if t["action"] != "no-op" {
                if let Some(id) = t["task_id"].as_str() {
                    let name = t["name"].as_str().unwrap();
                    assert!(
                        shown.contains(id),
                        "{format} lacks the vendor task id {id} of {name}:\n{shown}"
                    );
                }
            }
        }
        for w in warnings {
            assert!(
                shown.contains(&w),
                "{format} lacks the warning {w}:\n{shown}"
            );
        }
    }
    plan
}

/// An emulator recipe that sets only CALLFORM_XFYETA_ENDPOINT (as the README once did): the other vendors'
/// tasks go to the real services, and every rendering says so.
#[test]
fn every_rendering_shows_each_endpoint_and_a_mix_of_loopback_and_real() {
    let (_tmp, tasks, _) = examples();
    let env = [("CALLFORM_XFYETA_ENDPOINT", "http://127.0.0.1:8790")];
    let plan = same_in_every_rendering(&tasks, &env);
    let endpoints = plan["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 4, "{endpoints:?}");
    let xf = endpoints.iter().find(|e| e["vendor"] == "xfyeta").unwrap();
    assert_eq!(xf["endpoint"], "http://127.0.0.1:8790");
    assert_eq!(xf["from"], "CALLFORM_XFYETA_ENDPOINT");
    assert_eq!(xf["loopback"], true);
    let ali = endpoints.iter().find(|e| e["vendor"] == "aliyun").unwrap();
    assert_eq!(
        (&ali["endpoint"], &ali["from"], &ali["loopback"]),
        (
            &Value::from("https://dyvmsapi.aliyuncs.com"),
            &Value::from("default"),
            &Value::from(false)
        )
    );
    let warnings = plan["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .starts_with("this plan mixes loopback and real endpoints")),
        "{warnings:?}"
    );
    assert_eq!(plan["summary"]["create"], 5);

    // One kind of endpoint only: no warning, and the endpoints are still shown.
    let plan = same_in_every_rendering(&tasks, &[]);
    assert!(plan["warnings"].is_null(), "{}", plan["warnings"]);
    assert_eq!(plan["endpoints"].as_array().unwrap().len(), 4);
}

/// The manifests' warnings (a start in the past) and a create that looks like a rename
/// are in the plan, so the markdown comment and the JSON carry them, not stderr alone.
#[test]
fn warnings_and_orphans_are_in_every_rendering() {
    let (_tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    // A rename without `moved_from`: the same spec under a new name.
    edit(
        &tasks.join("aliyun/overdue-notice.yaml"),
        "name: overdue-notice-jan",
        "name: overdue-notice-2027-01",
    );
    // A removed manifest.
    std::fs::remove_file(tasks.join("xfyeta/renewal-reminder.yaml")).unwrap();
    // A new task whose start is in the past.
    let survey = std::fs::read_to_string(tasks.join("longlonglong/satisfaction-survey.yaml"))
        .unwrap()
        .replace("name: satisfaction-survey", "name: late-survey")
        // Vendor-visible names are unique per provider.
        .replace("name: 满意度回访-2027", "name: 满意度回访-late")
        .replace(
            "start_time: 2027-01-04 09:00:00",
            "start_time: 2026-01-04 09:00:00",
        );
    std::fs::write(tasks.join("longlonglong/late-survey.yaml"), survey).unwrap();

    let plan = same_in_every_rendering(&tasks, &[]);
    assert_eq!(plan["summary"]["create"], 2, "{plan}");
    assert_eq!(plan["summary"]["orphaned"], 2, "{plan}");
    let lookalike = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["task"] == "overdue-notice-2027-01")
        .expect("a rename warning");
    assert!(
        lookalike["message"]
            .as_str()
            .unwrap()
            .contains("has the same spec as `overdue-notice-jan`"),
        "{lookalike}"
    );
    assert!(lookalike["hint"]
        .as_str()
        .unwrap()
        .contains("add `moved_from: overdue-notice-jan`"));
    let late = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "late-survey")
        .unwrap();
    assert!(
        late["warnings"][0]
            .as_str()
            .unwrap()
            .contains("start_time (2026-01-04 09:00:00) is in the past"),
        "{late}"
    );
}

/// After a replacement, the replaced task may still be running (longlonglong has no stop,
/// so apply cannot stop it): the unchanged task's warning is in the markdown comment too,
/// not in the text plan alone.
#[test]
fn the_replaced_task_warning_of_an_unchanged_task_is_in_every_rendering() {
    let (tmp, tasks, _) = examples();
    let apply = |args: &[&str]| {
        Callform::new()
            .cwd(tmp.path())
            .args(["apply", "--sandbox", "--auto-approve"])
            .args(args)
            .arg("tasks")
            .run()
    };
    assert_eq!(apply(&[]).code, 0);
    edit(
        &tasks.join("longlonglong/payment-followup.yaml"),
        "  destination_extension: 297",
        "  destination_extension: 298",
    );
    let out = apply(&["--replace", "payment-followup"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The callees, as the steps of a complete apply record them.
    let sandbox_state = tmp.path().join("callform.sandbox.state.json");
    crate::plan::record_loaded_in(&tasks, &sandbox_state, |_, _, _| {});
    let plan = same_in_every_rendering_with(&tasks, &["--sandbox"], &[]);
    let task = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "payment-followup")
        .unwrap();
    assert_eq!(task["action"], "no-op");
    assert!(
        task["warnings"][0]
            .as_str()
            .unwrap()
            .contains("was replaced by this one and may still be running"),
        "{task}"
    );
    let [_, (_, md), _] = plans_with(&tasks, &["--sandbox"], &[]);
    assert!(md.contains("Warnings on unchanged tasks:"), "{md}");
}

/// An end in the past: a task created now could never dial, so its create is blocked (exit
/// 1 in every rendering); the same manifest of a task created long ago plans no change, and
/// its schedule is history, not a warning.
#[test]
fn an_end_in_the_past_blocks_a_create_but_not_a_created_task() {
    let (_tmp, tasks, _) = examples();
    edit(
        &tasks.join("xfyeta/renewal-reminder.yaml"),
        "  time_begin: 2027-01-04 09:00\n  time_end: 2027-03-31 20:00",
        "  time_begin: 2026-01-04 09:00\n  time_end: 2026-03-31 20:00",
    );
    let (code, out, err) = run(bin().arg("validate").arg(&tasks));
    assert_eq!(code, 0, "validate warns only: {out}{err}");
    assert!(
        out.contains(
            "time_end (2026-03-31 20:00:00) is in the past: a task created now could never dial"
        ),
        "{out}"
    );
    let plan = same_in_every_rendering(&tasks, &[]);
    let task = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "renewal-reminder-2027q1")
        .unwrap();
    assert_eq!(task["action"], "blocked", "{task}");
    assert!(task["reason"].as_str().unwrap().contains("is in the past"));
    let [(code, text), _, _] = plans(&tasks, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("The plan is blocked"), "{text}");

    crate::plan::import_loaded(&tasks);
    let plan = same_in_every_rendering(&tasks, &[]);
    assert_eq!(plan["summary"]["no_op"], 5, "{plan}");
    assert!(
        plan["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["warnings"].is_null()),
        "{plan}"
    );
    let [(code, _), _, _] = plans(&tasks, &[]);
    assert_eq!(code, 0);
}

/// `show --format json|markdown` without a plan file shows the state's tasks in that format.
#[test]
fn show_without_a_plan_honours_the_format() {
    let (_tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    let (code, out, err) = run(bin()
        .args(["show", "--format", "json", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let names: Vec<&str> = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, harness::EXAMPLE_TASKS);
    assert_eq!(shown["tasks"][0]["status"], "created");
    assert_eq!(shown["state"]["exists"], true);
    let (code, out, _) = run(bin()
        .args(["show", "--format", "markdown", "--dir"])
        .arg(&tasks));
    assert_eq!(code, 0);
    assert!(out.starts_with("### callform state: 5 task(s)"), "{out}");
    assert!(
        out.contains("| `delivery-notice` | volcengine | volcengine | created | id-0 |"),
        "{out}"
    );
}

/// `callform ARGS` in the project `dir` (the parent of `tasks`), against the emulator.
fn in_project(dir: &Path, args: &[&str]) -> crate::harness::Output {
    Callform::new().cwd(dir).args(args).emulator().run()
}

/// A rename is reviewable: `moved_from` plans as `rename` in every rendering, and apply
/// moves the record and sends nothing; the next plan has no changes.
#[test]
fn moved_from_plans_a_rename_that_sends_nothing() {
    let (tmp, tasks, _) = examples();
    harness::rename_tasks(&tasks, "mv-");
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let sent = harness::emulator().listed("/_emulator/requests", "name", "mv-");
    let creates = sent.iter().filter(|r| r["op"] == "create").count();
    assert_eq!(creates, 5);
    // The callees, as the steps of a complete apply record them.
    crate::plan::record_loaded(&tasks);

    edit(
        &tasks.join("aliyun/overdue-notice.yaml"),
        "name: mv-overdue-notice-jan\n",
        "name: mv-overdue-notice-2027-01\nmoved_from: mv-overdue-notice-jan\n",
    );
    let url = harness::emulator().url().to_string();
    let env: Vec<(&str, &str)> = [
        "CALLFORM_XFYETA_ENDPOINT",
        "CALLFORM_LONGLONGLONG_ENDPOINT",
        "CALLFORM_ALIYUN_ENDPOINT",
        "CALLFORM_VOLCENGINE_ENDPOINT",
    ]
    .into_iter()
    .map(|v| (v, url.as_str()))
    .collect();
    let plan = same_in_every_rendering(&tasks, &env);
    assert_eq!(plan["summary"]["rename"], 1, "{plan}");
    assert_eq!(
        plan["summary"]["orphaned"], 0,
        "the old name is the rename's, not an orphan"
    );
    let renamed = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["action"] == "rename")
        .unwrap();
    assert_eq!(renamed["name"], "mv-overdue-notice-2027-01");
    assert_eq!(renamed["moved_from"], "mv-overdue-notice-jan");
    let [(code, text), (_, md), _] = plans(&tasks, &env);
    assert_eq!(code, 2, "a rename is a change to review");
    assert!(
        text.contains("  > rename   mv-overdue-notice-2027-01  (aliyun, provider aliyun, task "),
        "{text}"
    );
    assert!(
        text.contains(", moved from mv-overdue-notice-jan"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to create, 0 to replace, 1 to rename, 4 unchanged"),
        "{text}"
    );
    assert!(
        md.contains("| `rename` | `mv-overdue-notice-2027-01` |"),
        "{md}"
    );

    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Apply complete: 0 created, 0 failed, 0 uncertain, 0 not sent, 1 renamed."),
        "{}",
        out.stdout
    );
    let sent_after = harness::emulator()
        .listed("/_emulator/requests", "name", "mv-")
        .len();
    assert_eq!(sent_after, sent.len(), "a rename sent a request");
    let st: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("callform.state.json")).unwrap())
            .unwrap();
    assert!(st["tasks"]["mv-overdue-notice-jan"].is_null());
    assert_eq!(
        st["tasks"]["mv-overdue-notice-2027-01"]["status"],
        "created"
    );
    let [(code, text), _, _] = plans(&tasks, &env);
    assert_eq!(code, 0, "{text}");
}

/// `state mv OLD NEW` moves a record, refuses to overwrite one or to move one that is not
/// there, and says how to resolve an uncertain one under its new name.
#[test]
fn state_mv_moves_a_record_and_refuses_to_lose_one() {
    let (tmp, tasks, _) = examples();
    crate::plan::import_loaded(&tasks);
    let state = |args: &[&str]| run(bin().arg("state").args(args).arg("--dir").arg(&tasks));
    let (code, _, err) = state(&["mv", "delivery-notice", "payment-followup"]);
    assert_eq!(code, 1);
    assert!(err.contains("`payment-followup` is already in"), "{err}");
    let (code, _, err) = state(&["mv", "no-such-task", "new-name"]);
    assert_eq!(code, 1);
    assert!(err.contains("no task `no-such-task`"), "{err}");
    let (code, _, err) = state(&["mv", "delivery-notice", "Not A Name"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a task name"), "{err}");
    let (code, _, err) = state(&["mv", "delivery-notice", "delivery-notice-2027"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Moved `delivery-notice` to `delivery-notice-2027`"),
        "{err}"
    );
    let (_, list, _) = state(&["list"]);
    assert!(
        list.contains("delivery-notice-2027 ") && !list.contains("delivery-notice  "),
        "{list}"
    );
    // After the manifest is renamed too, nothing changes.
    edit(
        &tasks.join("volcengine/delivery-notice.yaml"),
        "name: delivery-notice\n",
        "name: delivery-notice-2027\n",
    );
    let (code, out, err) = run(bin().args(["plan", "--detailed-exitcode"]).arg(&tasks));
    assert_eq!(code, 0, "{out}{err}");

    // An uncertain record keeps its status, with the hint under its new name.
    let (tmp2, tasks2, _) = examples();
    harness::rename_tasks(&tasks2, "smv-");
    harness::emulator()
        .post_fault(serde_json::json!({"match": "smv-满意度回访", "kind": "5xx", "times": 1}));
    let out = in_project(tmp2.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let out = Callform::new()
        .cwd(tmp2.path())
        .args([
            "state",
            "mv",
            "smv-satisfaction-survey",
            "smv-survey",
            "--dir",
            "tasks",
        ])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: `smv-survey` is uncertain")
            && out
                .stderr
                .contains("`callform state import smv-survey TASK_ID --dir tasks`"),
        "{}",
        out.stderr
    );
    drop((tmp, tmp2));
}

/// Uncertain tasks an earlier run left fail every later apply until a person resolves
/// them, and the summary counts them apart from this run's.
#[test]
fn an_apply_fails_while_earlier_uncertain_tasks_are_unresolved() {
    let (tmp, tasks, _) = examples();
    harness::rename_tasks(&tasks, "eu-");
    // A create the vendor did not make, answered with a bare 502: uncertain, and a lookup
    // by name finds nothing (which no listing proves), so it stays uncertain.
    harness::emulator().post_fault(
        serde_json::json!({"match": "eu-满意度回访", "kind": "answer",
        "status": 502, "body": "bad gateway", "create": false, "times": 1}),
    );
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // Nothing left to create: the uncertain task still fails the apply.
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("Still uncertain from earlier runs")
            && out
                .stdout
                .contains("`callform state import eu-satisfaction-survey TASK_ID --dir tasks`"),
        "{}",
        out.stdout
    );
    // With a create to send as well: counted apart from this run's results.
    let survey = std::fs::read_to_string(tasks.join("longlonglong/payment-followup.yaml"))
        .unwrap()
        .replace("name: eu-payment-followup", "name: eu-payment-followup-2")
        .replace("name: eu-", "name: eu-2-");
    std::fs::write(tasks.join("longlonglong/payment-followup-2.yaml"), survey).unwrap();
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "Apply finished with problems: 1 created, 0 failed, 0 uncertain, 0 not sent; 3 callees loaded in 1 batch, 0 started; 1 uncertain from earlier runs, still unresolved."
        ),
        "{}",
        out.stdout
    );
    // Resolved: the apply succeeds.
    let out = Callform::new()
        .cwd(tmp.path())
        .args(["state", "rm", "eu-satisfaction-survey", "--dir", "tasks"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

/// Without a terminal the per-task lines are on stdout with the summary, so a CI log that
/// merges the two streams cannot show them after it.
#[test]
fn per_task_lines_and_the_summary_share_one_stream_in_ci() {
    let (tmp, tasks, _) = examples();
    harness::rename_tasks(&tasks, "ord-");
    let out = in_project(tmp.path(), &["apply", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let summary = out
        .stdout
        .find("Apply complete: 5 created")
        .expect("a summary");
    for name in harness::EXAMPLE_TASKS {
        let line = out
            .stdout
            .find(&format!("created   ord-{name} ("))
            .unwrap_or_else(|| panic!("no line for {name} on stdout: {}", out.stdout));
        assert!(line < summary, "{}", out.stdout);
        assert!(!out.stderr.contains(name), "{}", out.stderr);
    }
    // `--quiet`: no per-task lines, the summary only.
    let (tmp, tasks, _) = examples();
    harness::rename_tasks(&tasks, "ordq-");
    let out = in_project(tmp.path(), &["apply", "--quiet", "--auto-approve", "tasks"]);
    assert_eq!(out.code, 0);
    assert!(!out.stdout.contains("created   "), "{}", out.stdout);
    assert!(out.stdout.contains("Apply complete: 5 created"));
}

/// Declining at the prompt sends nothing and exits 1, as Terraform does. (A terminal
/// through `script -e`, which passes the exit code on; without `-e` script exits 0.)
#[test]
fn declining_at_the_prompt_exits_1() {
    let (tmp, _, _) = examples();
    let cmd = Callform::new()
        .cwd(tmp.path())
        .args(["apply", "--sandbox", "tasks"])
        .terminal();
    let mut script = cmd.command();
    script.stdin(std::process::Stdio::piped());
    script.stdout(std::process::Stdio::piped());
    let mut child = script.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"no\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Apply cancelled: nothing was sent."),
        "{shown}"
    );
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(!tmp.path().join("callform.sandbox.state.json").exists());
}

/// `--sandbox` on the state commands: the sandbox's own state, and an import records the
/// sandbox endpoint; an import into a sandbox state without it is refused.
#[test]
fn the_state_commands_take_sandbox() {
    let (tmp, _, _) = examples();
    let state = |args: &[&str]| {
        Callform::new()
            .cwd(tmp.path())
            .arg("state")
            .args(args)
            .run()
    };
    let out = Callform::new()
        .cwd(tmp.path())
        .args(["apply", "--sandbox", "--auto-approve", "tasks"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = state(&["list", "--sandbox", "--dir", "tasks"]);
    assert!(
        out.stdout.contains("callform.sandbox.state.json"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("delivery-notice"), "{}", out.stdout);
    let out = state(&["rm", "delivery-notice", "--sandbox", "--dir", "tasks"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sandbox_state = "callform.sandbox.state.json";
    let out = state(&[
        "import",
        "delivery-notice",
        "id-1",
        "--dir",
        "tasks",
        "--state",
        sandbox_state,
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is a sandbox state"), "{}", out.stderr);
    assert!(out.stderr.contains("add --sandbox"), "{}", out.stderr);
    let out = state(&[
        "import",
        "delivery-notice",
        "id-1",
        "--loaded",
        "all",
        "--started",
        "yes",
        "--sandbox",
        "--dir",
        "tasks",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = state(&["show", "delivery-notice", "--sandbox", "--dir", "tasks"]);
    let shown: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(shown["record"]["endpoint"], "sandbox://callform-emulator");
    let sandbox_state = tmp.path().join(sandbox_state);
    crate::plan::record_loaded_in(&tmp.path().join("tasks"), &sandbox_state, |_, _, _| {});
    let out = Callform::new()
        .cwd(tmp.path())
        .args(["plan", "--sandbox", "--detailed-exitcode", "tasks"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stdout);
}
