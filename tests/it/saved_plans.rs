//! Saved plans handed from one checkout to another, as CI hands them: made in one clone of
//! the repository (`plan --out`), applied in another (`apply PLANFILE`), refused where
//! they do not belong.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{bin, copy_dir, repo, run};

/// A checkout of a repository holding the examples: `ROOT/.git`, `ROOT/callform.yaml`,
/// `ROOT/tasks/…`.
fn checkout(at: &Path) -> PathBuf {
    copy_dir(&repo("examples"), at);
    // The journals these tests write by hand hold creates alone: the Volcengine example is
    // paused here, so that its create is all there is to it.
    let volc = at.join("tasks/volcengine/delivery-notice.yaml");
    let text = std::fs::read_to_string(&volc).unwrap();
    std::fs::write(&volc, text.replacen("status: running", "status: paused", 1)).unwrap();
    std::fs::create_dir_all(at.join(".git")).unwrap();
    at.to_path_buf()
}

fn plan_json(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap();
    // The first line is the checksum member; the document stays valid JSON.
    serde_json::from_str(&text).unwrap()
}

/// The repro of the report: a plan made in A and applied in B (A still there, then gone)
/// reads B's manifests and writes B's state, never A's. A sandbox plan applies as printed,
/// without `--sandbox`, and says that it runs in the sandbox.
#[test]
fn a_saved_plan_applies_in_the_checkout_it_is_applied_in() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let plan = tmp.path().join("p.plan");
    let (code, _, err) =
        run(bin()
            .cwd(&a)
            .args(["plan", "--sandbox", "--out", "../p.plan", "tasks"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("callform apply ../p.plan"), "{err}");
    assert!(err.contains("made with --sandbox"), "{err}");
    let saved = plan_json(&plan);
    assert_eq!(saved["format_version"], 7);
    assert_eq!(saved["sandbox"], true);
    assert_eq!(saved["root"]["kind"], "git");
    assert_eq!(saved["root"]["from_workdir"], ".");
    assert_eq!(saved["manifest_dir"], "tasks");
    assert_eq!(saved["state"]["path"], "callform.sandbox.state.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        !text.contains(&a.display().to_string()),
        "the plan names the checkout it was made in: {text}"
    );

    let b = checkout(&tmp.path().join("B"));
    let c = checkout(&tmp.path().join("C"));
    // As printed: no --sandbox needed.
    let out = bin().cwd(&b).args(["apply", "../p.plan"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("applying it in the sandbox"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("5 created"), "{}", out.stdout);
    assert!(b.join("callform.sandbox.state.json").exists());
    for name in [
        "callform.sandbox.state.json",
        "callform.sandbox.state.json.lock",
    ] {
        assert!(!a.join(name).exists(), "apply in B wrote A's {name}");
    }

    // A is gone (the plan job's checkout): C applies it just the same.
    std::fs::remove_dir_all(&a).unwrap();
    let out = bin().cwd(&c).args(["apply", "../p.plan"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("os error"), "{}", out.stderr);
    assert!(c.join("callform.sandbox.state.json").exists());
}

/// Applied somewhere it does not belong, a plan is refused, saying what it expected and
/// what to do; nothing is written there.
#[test]
fn a_saved_plan_is_refused_where_it_does_not_belong() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let (code, _, err) =
        run(bin()
            .cwd(&a)
            .args(["plan", "--sandbox", "--out", "../p.plan", "tasks"]));
    assert_eq!(code, 0, "{err}");

    // Not from a checkout: the parent directory holds no `.git`.
    let (code, _, err) = run(bin().cwd(tmp.path()).args(["apply", "p.plan"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("`.git`") && err.contains("hint: run `callform apply PLANFILE` from"),
        "{err}"
    );

    // A checkout without the plan's manifests.
    let b = checkout(&tmp.path().join("B"));
    std::fs::rename(b.join("tasks"), b.join("moved")).unwrap();
    let (code, _, err) = run(bin().cwd(&b).args(["apply", "../p.plan"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("manifests `tasks` are not in this checkout"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert!(!b.join("callform.sandbox.state.json").exists());

    // Another project: its callform.yaml is elsewhere.
    let c = checkout(&tmp.path().join("C"));
    std::fs::rename(c.join("callform.yaml"), c.join("tasks/callform.yaml")).unwrap();
    let (code, _, err) = run(bin().cwd(&c).args(["apply", "../p.plan"]));
    assert_eq!(code, 1);
    assert!(err.contains("another project"), "{err}");

    // Another state lineage: D has a sandbox state of its own, the plan was made with none.
    let (code, _, err) = run(bin()
        .cwd(&a)
        .args(["apply", "--sandbox", "--auto-approve", "tasks"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(bin()
            .cwd(&a)
            .args(["plan", "--sandbox", "--out", "../again.plan", "tasks"]));
    assert_eq!(code, 0, "{err}");
    let d = checkout(&tmp.path().join("D"));
    let (code, _, err) = run(bin()
        .cwd(&d)
        .args(["apply", "--sandbox", "--auto-approve", "tasks"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin().cwd(&d).args(["apply", "../again.plan"]));
    assert_eq!(code, 1);
    assert!(err.contains("lineage"), "{err}");

    // A plan for the real vendors is never applied in the sandbox.
    let (code, _, err) = run(bin()
        .cwd(&a)
        .args(["plan", "--out", "../real.plan", "tasks"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin().cwd(&a).args(["apply", "--sandbox", "../real.plan"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("made for the real vendors (without --sandbox)")
            && err.contains("hint: apply it without --sandbox"),
        "{err}"
    );

    // A plan of the format that named one checkout's paths is made again.
    let mut old = plan_json(&a.join("../real.plan"));
    old["format_version"] = 1.into();
    let v1 = tmp.path().join("v1.plan");
    std::fs::write(&v1, serde_json::to_string(&old).unwrap()).unwrap();
    let (code, _, err) = run(bin().cwd(&a).args(["apply", "../v1.plan"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("version 1") && err.contains("make the plan again"),
        "{err}"
    );
}

/// A state outside the checkout is saved in a plan only when an absolute `--state` names
/// it, and the plan says so; one that leaves the project any other way is refused.
#[test]
fn a_state_outside_the_checkout_must_be_named_absolutely() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let yaml = a.join("callform.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        text.replace("state: callform.state.json", "state: ../outside.state.json"),
    )
    .unwrap();
    let (code, _, err) = run(bin().cwd(&a).args(["plan", "--out", "../p.plan", "tasks"]));
    assert_eq!(code, 1);
    assert!(err.contains("lies outside the project root"), "{err}");
    assert!(err.contains("absolute `--state`"), "{err}");
    assert!(!tmp.path().join("p.plan").exists());

    let outside = tmp.path().join("ci/state.json");
    std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
    let (code, _, err) = run(bin()
        .cwd(&a)
        .args(["plan", "--out", "../p.plan", "--state"])
        .arg(&outside)
        .arg("tasks"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("lies outside the project and is used as is"),
        "{err}"
    );
    let saved = plan_json(&tmp.path().join("p.plan"));
    assert_eq!(saved["state"]["outside_checkout"], true);
    assert_eq!(saved["state"]["path"], outside.display().to_string());
}

/// A run of apply that stopped (or is still going) with `created` answered and `in_flight`
/// sent without an answer: its journal beside the sandbox state of `root`, written through
/// the file store as apply writes it. The intents are the creates `plan` shows (`planned`:
/// a JSON plan). Returns the lease and the run log, to drop (a run that died) or keep (a run
/// still going).
async fn run_of_apply(
    root: &Path,
    planned: &Value,
    created: &[&str],
    in_flight: &[&str],
) -> (
    callform::state::Lease,
    std::sync::Arc<dyn callform::state::RunLog>,
) {
    use callform::state::{self, Entry, Outcome, State};
    let backend = state::open(&root.join("callform.sandbox.state.json")).unwrap();
    let lease = backend.lock("apply").unwrap();
    let mut current = backend.recover(&lease).unwrap().state.unwrap_or_else(|| {
        let fresh = State::new();
        State {
            salt: planned["salt"].as_str().unwrap().into(),
            ..fresh
        }
    });
    let log = backend.begin(&lease, &mut current).await.unwrap();
    for (i, name) in created.iter().chain(in_flight).enumerate() {
        let task = planned["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == *name)
            .unwrap();
        log.record(Entry::Intent {
            name: name.to_string(),
            vendor: task["vendor"].as_str().unwrap().into(),
            provider: task["provider"].as_str().unwrap().into(),
            endpoint: task["endpoint"].as_str().unwrap().into(),
            spec_digest: task["spec_digest"].as_str().unwrap().into(),
            canonical_version: planned["canonical_version"].as_u64().unwrap() as u32,
            spec: task["spec"].clone(),
            at: "2026-12-01T08:00:00Z".into(),
            replaces: None,
            batch: None,
            start: false,
        })
        .await
        .unwrap();
        if i < created.len() {
            log.record(Entry::Outcome {
                name: name.to_string(),
                at: "2026-12-01T08:00:01Z".into(),
                outcome: Outcome::Created {
                    task_id: format!("T-{i}"),
                    request_id: None,
                    warnings: Vec::new(),
                },
            })
            .await
            .unwrap();
        }
    }
    (lease, log)
}

/// The sandbox plan of `root`'s manifests, as JSON.
fn json_plan(root: &Path) -> Value {
    let (code, out, err) =
        run(bin()
            .cwd(root)
            .args(["plan", "--sandbox", "--format", "json", "tasks"]));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// An apply died with one create answered and one in flight. A plan made then shows both as
/// the state will record them and says so; applied, it is not stale: apply folds exactly
/// that run first. A plan whose pending run was folded by another command, with more
/// changes on top, is stale, and says why.
#[tokio::test]
async fn a_plan_made_while_an_interrupted_run_is_pending_applies_after_the_fold() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let planned = json_plan(&a);
    drop(run_of_apply(&a, &planned, &["delivery-notice"], &["payment-followup"]).await);

    let (code, out, err) =
        run(bin()
            .cwd(&a)
            .args(["plan", "--sandbox", "--out", "../p.plan", "tasks"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("not in the state file yet: 1 created (`delivery-notice`), 1 uncertain (`payment-followup`)"),
        "{out}"
    );
    assert!(
        out.contains(
            "Plan: 3 to create, 0 to replace, 1 to resume, 0 unchanged, 0 blocked, 1 uncertain"
        ),
        "{out}"
    );
    let saved = plan_json(&tmp.path().join("p.plan"));
    assert_eq!(
        saved["state"]["pending_run"]["created"][0],
        "delivery-notice"
    );
    let b = tmp.path().join("B");
    let c = tmp.path().join("C");
    for to in [&b, &c] {
        copy_dir(&a, to);
        for name in [
            "callform.sandbox.state.json",
            "callform.sandbox.state.json.journal",
        ] {
            std::fs::copy(a.join(name), to.join(name)).unwrap();
        }
    }

    let out = bin().cwd(&a).args(["apply", "../p.plan"]).run();
    assert!(!out.stderr.contains("stale"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Recovered the records"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("3 created"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let st: Value =
        serde_json::from_slice(&std::fs::read(a.join("callform.sandbox.state.json")).unwrap())
            .unwrap();
    assert_eq!(st["tasks"].as_object().unwrap().len(), 5);
    assert_eq!(st["tasks"]["payment-followup"]["status"], "uncertain");

    // In B, the run is folded by `state rm`, which then changes the state: stale.
    let (code, _, err) = run(bin().cwd(&b).args([
        "state",
        "rm",
        "delivery-notice",
        "--dir",
        "tasks",
        "--state",
        "callform.sandbox.state.json",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin().cwd(&b).args(["apply", "../p.plan"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("stale") && err.contains("records of run"),
        "{err}"
    );

    // In C, the same run is folded by another process before the apply: the state is at
    // the planned serial + 1, but not by this apply's fold of that run: stale.
    {
        let backend = callform::state::open(&c.join("callform.sandbox.state.json")).unwrap();
        let lease = backend.lock("apply").unwrap();
        drop(backend.recover(&lease).unwrap());
    }
    let (code, _, err) = run(bin().cwd(&c).args(["apply", "../p.plan"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stale") && err.contains("records of run"),
        "{err}"
    );
}

/// `plan` while an apply runs (this test holds the lock and the journal as a live apply
/// does, with its own pid): every rendering says an apply is running and who runs it,
/// shows the unanswered create as in flight, and suggests no repair. Once the run is dead,
/// the same record is uncertain with its repairs.
#[tokio::test]
async fn a_plan_during_a_running_apply_says_so_and_suggests_no_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let planned = json_plan(&a);
    let live = run_of_apply(&a, &planned, &["delivery-notice"], &["payment-followup"]).await;
    let pid = format!("pid {}", std::process::id());

    let plan = |format: &str| {
        let (code, out, err) =
            run(bin()
                .cwd(&a)
                .args(["plan", "--sandbox", "--format", format, "tasks"]));
        assert_eq!(code, 0, "{err}");
        out
    };
    for format in ["text", "markdown"] {
        let out = plan(format);
        assert!(
            out.contains("An `apply` is running now:") && out.contains(&pid),
            "{out}"
        );
        assert!(
            out.contains("in-flight") && out.contains("in flight: the `apply` running now"),
            "{out}"
        );
        assert!(
            out.contains("wait for the running `apply` to finish"),
            "{out}"
        );
        for wrong in [
            "state rm",
            "state import",
            "callform stopped before",
            "earlier apply",
        ] {
            assert!(!out.contains(wrong), "{format}: {wrong}: {out}");
        }
    }
    let json: Value = serde_json::from_str(&plan("json")).unwrap();
    assert_eq!(json["running"]["pid"], std::process::id());
    assert_eq!(json["running"]["operation"], "apply");
    assert_eq!(json["summary"]["in_flight"], 1);
    let task = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "payment-followup")
        .unwrap();
    assert_eq!(task["action"], "in-flight");
    assert!(!task["hints"].to_string().contains("state rm"), "{task}");

    // The run dies: its unanswered create is uncertain now, with the repairs.
    drop(live);
    let out = plan("text");
    assert!(!out.contains("is running now"), "{out}");
    assert!(
        out.contains("? uncertain") && out.contains("state rm payment-followup"),
        "{out}"
    );
}

/// A second runner is told which CI job holds the lock, even where `$USER` is unset.
#[test]
fn the_lock_names_the_ci_job_that_holds_it() {
    use callform::env::FakeEnv;
    use callform::state::{StateLock, Who};
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let env = FakeEnv::default()
        .with_var("GITHUB_RUN_ID", "8841")
        .with_var("GITHUB_REPOSITORY", "acme/campaigns")
        .with_var("GITHUB_WORKFLOW", "deploy")
        .with_var("GITHUB_JOB", "apply")
        .with_var("GITHUB_ACTOR", "ci-bot");
    let who = Who::from_env(&env);
    assert_eq!(who.holder, "ci-bot");
    let state = a.join("callform.sandbox.state.json");
    let _held = StateLock::acquire_as(&state, "apply", &who).unwrap();
    let job = "GitHub Actions acme/campaigns workflow `deploy` job `apply` run 8841";
    let (code, _, err) = run(bin()
        .cwd(&a)
        .args(["apply", "--sandbox", "--auto-approve", "tasks"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("locked by ci-bot") && err.contains(job),
        "{err}"
    );
    let (code, out, err) = run(bin().cwd(&a).args(["plan", "--sandbox", "tasks"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(job), "{out}");
}

/// `apply FILE.yaml` is a manifest given where a saved plan goes: said so, with the
/// commands that take manifests.
#[test]
fn a_manifest_given_as_a_plan_is_named_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let (code, _, err) = run(bin()
        .cwd(&a)
        .args(["apply", "tasks/aliyun/overdue-notice.yaml"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("tasks/aliyun/overdue-notice.yaml: this is a YAML manifest, not a saved plan"),
        "{err}"
    );
    assert!(
        err.contains("`callform apply DIR`") && err.contains("plan --out"),
        "{err}"
    );
    assert!(
        !err.contains("expected ident") && !err.contains("expected value"),
        "{err}"
    );
}

/// A `--state` in a directory that does not exist: one message naming the path and the
/// directory, no OS error twice, a hint; nothing is created.
#[test]
fn a_state_in_a_missing_directory_is_named_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let state = tmp.path().join("no-such-dir/s.json");
    for args in [
        vec!["plan", "--sandbox"],
        vec!["apply", "--sandbox", "--auto-approve"],
    ] {
        let (code, _, err) = run(bin()
            .cwd(&a)
            .args(&args)
            .arg("--state")
            .arg(&state)
            .arg("tasks"));
        assert_eq!(code, 1, "{err}");
        let dir = tmp.path().join("no-such-dir");
        assert!(
            err.contains(&format!(
                "{}: the state's directory {} does not exist",
                state.display(),
                dir.display()
            )),
            "{err}"
        );
        assert!(
            err.contains("hint: check `--state`") && err.contains("mkdir -p"),
            "{err}"
        );
        assert!(!err.contains("os error"), "{err}");
        assert!(!dir.exists());
    }
}

/// The command `plan --out` prints runs as printed in a shell, for a plan path with a
/// space too.
#[test]
fn the_apply_command_plan_out_prints_runs_as_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("A"));
    let (code, _, err) = run(bin().cwd(&a).args([
        "plan",
        "--sandbox",
        "--out",
        "saved plans/p 1.plan",
        "tasks",
    ]));
    assert_eq!(code, 1, "the directory does not exist yet: {err}");
    std::fs::create_dir(a.join("saved plans")).unwrap();
    let (code, _, err) = run(bin().cwd(&a).args([
        "plan",
        "--sandbox",
        "--out",
        "saved plans/p 1.plan",
        "tasks",
    ]));
    assert_eq!(code, 0, "{err}");
    let printed = err
        .lines()
        .find_map(|l| l.split("Apply exactly this plan with: ").nth(1))
        .expect("the apply command")
        .to_string();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_callform")).parent().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&printed)
        .current_dir(&a)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{printed}`: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("5 created"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
