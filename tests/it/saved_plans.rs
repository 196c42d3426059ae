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
    assert_eq!(saved["format_version"], 2);
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
        text.replace("state: callform.state.json", "state: ../shared.state.json"),
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
