//! The built binary on a PostgreSQL state: callform.yaml's `state: {backend: postgres, …}`,
//! two working copies of one project sharing one workspace, two projects in one database,
//! the lock across processes (refused at once naming the holder, `--lock-timeout`,
//! `state unlock`), SIGKILL and a server restart in the middle of an apply. The password of
//! every URL is a canary the harness looks for in every output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::crash::{self, start_emulator, vendor_tasks, write_tasks, TASKS};
use crate::harness::{self, bin};
use crate::pg::{self, Cluster};

/// The `state:` block of a project in `workspace`, its URL from `CALLFORM_STATE_URL`.
pub(crate) fn state_block(workspace: &str) -> String {
    format!(
        "state: {{backend: postgres, url: \"${{CALLFORM_STATE_URL}}\", workspace: {workspace}}}\n"
    )
}

/// A working copy of the crash tests' 300-task project with its state in `workspace`.
pub(crate) fn working_copy(workspace: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write_tasks(tmp.path());
    let yaml = tmp.path().join("callform.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, format!("{}{text}", state_block(workspace))).unwrap();
    let tasks = tmp.path().join("tasks");
    (tmp, tasks)
}

/// `callform ARGS` against the emulator at `url` and the database at `db_url`.
pub(crate) fn command(url: &str, db_url: &str, args: &[&str], target: &Path) -> Command {
    let mut cmd = bin().command();
    cmd.args(args).arg(target);
    crash::env(&mut cmd, url);
    cmd.env("CALLFORM_STATE_URL", db_url);
    cmd
}

/// Runs `cmd` to its end: (exit code, stdout, stderr), the password checked absent.
pub(crate) fn finish(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for secret in harness::CANARIES {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret leaked: {stdout}{stderr}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// The rows of `sql` (`$1` = `workspace`) in `db` of `cluster`, as text.
fn rows(cluster: &Cluster, db: &str, workspace: &str, sql: &str) -> Vec<String> {
    let mut c = cluster.client(db);
    c.query(sql, &[&workspace])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

fn journal_rows(cluster: &Cluster, db: &str, workspace: &str) -> usize {
    let Ok(mut c) = postgres::Client::connect(&cluster.url(db), postgres::NoTls) else {
        return 0;
    };
    c.query_one(
        "SELECT count(*) FROM callform.journal WHERE workspace = $1",
        &[&workspace],
    )
    .map(|r| r.get::<_, i64>(0) as usize)
    .unwrap_or(0)
}

/// Spawns `cmd` (output to files in `dir`) and waits until the workspace's run has at least
/// `rows` journal rows, or the run ended.
pub(crate) fn spawn_until_rows(
    mut cmd: Command,
    cluster: &Cluster,
    db: &str,
    workspace: &str,
    rows: usize,
) -> Running {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while journal_rows(cluster, db, workspace) < rows && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Running { child, out }
}

/// A spawned callform, its output going to a file.
pub(crate) struct Running {
    child: Child,
    out: tempfile::NamedTempFile,
}

impl Running {
    /// Waits for the end: the exit code (None when killed) and the output, checked for
    /// panics and secrets.
    pub(crate) fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        let text = std::fs::read_to_string(self.out.path()).unwrap();
        assert!(!text.contains("panicked"), "{text}");
        for secret in harness::CANARIES {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
        (status.code(), text)
    }

    /// SIGKILL, then [`Running::finish`].
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        self.finish().1
    }
}

/// Every task at the vendor exists once and is in the state (created with its id, or
/// uncertain); every task of the state created is at the vendor with that id. Returns how
/// many are created.
pub(crate) fn vendor_matches_state(url: &str, state: &Value) -> usize {
    let records = state["tasks"].as_object().unwrap();
    let mut seen = std::collections::HashMap::new();
    for t in vendor_tasks(url).as_array().unwrap() {
        let name = t["name"].as_str().unwrap().to_string();
        let id = t["task_id"].as_str().unwrap().to_string();
        assert!(
            seen.insert(name.clone(), id.clone()).is_none(),
            "{name} was created twice at the vendor"
        );
        let rec = records
            .get(&name)
            .unwrap_or_else(|| panic!("{name} exists at the vendor but not in the state"));
        match rec["status"].as_str().unwrap() {
            "created" => assert_eq!(rec["task_id"].as_str(), Some(id.as_str()), "{name}"),
            "uncertain" => {}
            other => panic!("{name}: status {other}"),
        }
    }
    let mut created = 0;
    for (name, rec) in records {
        if rec["status"] == "created" {
            created += 1;
            assert_eq!(
                seen.get(name).map(String::as_str),
                rec["task_id"].as_str(),
                "{name}: created in state but not at the vendor"
            );
        }
    }
    created
}

/// The state as `state list --format json` shows it.
pub(crate) fn state_json(url: &str, db_url: &str, tasks: &Path) -> Value {
    let (code, out, err) = finish(command(
        url,
        db_url,
        &["state", "list", "--format", "json", "--dir"],
        tasks,
    ));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The tasks of the state as `state list --format json` names them, with status and id.
pub(crate) fn listed(state: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for t in state["tasks"].as_array().into_iter().flatten() {
        out.insert(t["name"].as_str().unwrap().to_string(), t.clone());
    }
    serde_json::json!({ "tasks": out })
}

#[test]
fn apply_then_plan_on_postgres_changes_nothing_and_leaves_no_state_file() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let ws = pg::unique("apply");
    let (tmp, tasks) = working_copy(&ws);
    let (mut emulator, url) = start_emulator(0);

    let (code, out, err) = finish(command(
        &url,
        &db_url,
        &["apply", "--auto-approve", "--parallelism", "20"],
        &tasks,
    ));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = finish(command(
        &url,
        &db_url,
        &["plan", "--detailed-exitcode"],
        &tasks,
    ));
    assert_eq!(code, 0, "a second plan has no changes: {out}{err}");
    let state = listed(&state_json(&url, &db_url, &tasks));
    assert_eq!(vendor_matches_state(&url, &state), TASKS);
    let _ = emulator.kill();
    let _ = emulator.wait();

    // Rows, not a blob: one row per task, and the run's journal rows are gone.
    let n = rows(
        cluster,
        "callform",
        &ws,
        "SELECT count(*)::text FROM callform.tasks WHERE workspace = $1",
    );
    assert_eq!(n, [TASKS.to_string()]);
    assert_eq!(journal_rows(cluster, "callform", &ws), 0);
    // Nothing of the state on disk.
    for entry in walk(tmp.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.contains("state"), "{}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn two_workspaces_in_one_database_never_see_each_other() {
    let cluster = pg::cluster();
    let db = cluster.database("iso");
    let db_url = cluster.url(&db);
    let (ws_a, ws_b) = (pg::unique("team-a"), pg::unique("team-b"));
    let (_a, tasks_a) = working_copy(&ws_a);
    let (_b, tasks_b) = working_copy(&ws_b);
    // Project B has only ten of the tasks.
    for f in 1..10 {
        std::fs::remove_file(tasks_b.join(format!("f{f}.yaml"))).unwrap();
    }
    let (mut emu_a, url_a) = start_emulator(0);
    let (mut emu_b, url_b) = start_emulator(0);
    let apply = ["apply", "--auto-approve", "--parallelism", "20"];
    let (code, out, err) = finish(command(&url_a, &db_url, &apply, &tasks_a));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = finish(command(&url_b, &db_url, &apply, &tasks_b));
    assert_eq!(
        code, 0,
        "B creates its own tasks although A has tasks of the same names: {out}{err}"
    );

    let a = listed(&state_json(&url_a, &db_url, &tasks_a));
    let b = listed(&state_json(&url_b, &db_url, &tasks_b));
    assert_eq!(vendor_matches_state(&url_a, &a), TASKS);
    assert_eq!(vendor_matches_state(&url_b, &b), TASKS / 10);
    for e in [&mut emu_a, &mut emu_b] {
        let _ = e.kill();
        let _ = e.wait();
    }
    // B's rows are B's only, and removing one of B's tasks leaves A's row of that name.
    let (code, _, err) = finish(command(
        &url_b,
        &db_url,
        &["state", "rm", "crash-0000", "--dir"],
        &tasks_b,
    ));
    assert_eq!(code, 0, "{err}");
    let count = |ws: &str| {
        rows(
            cluster,
            &db,
            ws,
            "SELECT count(*)::text FROM callform.tasks WHERE workspace = $1",
        )
    };
    assert_eq!(count(&ws_a), [TASKS.to_string()]);
    assert_eq!(count(&ws_b), [(TASKS / 10 - 1).to_string()]);
    let a_again = listed(&state_json(&url_a, &db_url, &tasks_a));
    assert_eq!(a_again, a, "A's state is untouched by B's changes");
}

/// Two working copies of one project on one workspace: while an apply from the first runs,
/// an apply from the second fails at once naming it, and `state unlock` is refused; once
/// the first is killed (SIGKILL), unlock clears its lock row, and the second copy's apply
/// finishes the work without creating anything twice.
#[test]
fn a_second_apply_from_another_copy_fails_at_once_and_unlock_waits_for_the_holder_to_die() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let ws = pg::unique("two-copies");
    let (_one, tasks_one) = working_copy(&ws);
    let (_two, tasks_two) = working_copy(&ws);
    let (mut emulator, url) = start_emulator(20);
    let apply = ["apply", "--auto-approve", "--parallelism", "2"];

    let mut first = spawn_until_rows(
        command(&url, &db_url, &apply, &tasks_one),
        cluster,
        "callform",
        &ws,
        4,
    );
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the first apply still runs"
    );
    let pid = first.child.id();
    let started = Instant::now();
    let (code, out, err) = finish(command(&url, &db_url, &apply, &tasks_two));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after waiting"
    );
    assert!(
        err.contains("locked by") && err.contains(&format!("pid {pid}")) && err.contains("`apply`"),
        "{err}"
    );
    // A plan from the other copy reads the state meanwhile and names the running apply.
    let (code, out, err) = finish(command(&url, &db_url, &["plan"], &tasks_two));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("pid {pid}")), "{out}");
    let (code, _, err) = finish(command(
        &url,
        &db_url,
        &["state", "unlock", "--dir"],
        &tasks_two,
    ));
    assert_eq!(code, 1, "unlock is refused while the holder lives: {err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");

    first.kill();
    let (code, _, err) = finish(command(
        &url,
        &db_url,
        &["state", "unlock", "--dir"],
        &tasks_two,
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Cleared the lock") && err.contains(&format!("pid {pid}")),
        "{err}"
    );

    let (code, out, err) = finish(command(
        &url,
        &db_url,
        &["apply", "--auto-approve", "--parallelism", "20"],
        &tasks_two,
    ));
    assert!(code == 0 || code == 1, "{out}{err}");
    let state = listed(&state_json(&url, &db_url, &tasks_two));
    let created = vendor_matches_state(&url, &state);
    assert_eq!(state["tasks"].as_object().unwrap().len(), TASKS);
    assert!(
        created >= TASKS - 2,
        "only those in flight at the kill are uncertain"
    );
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// SIGKILL mid-apply, three times, alternating two working copies, then an apply to the
/// end: the lock died with each killed session (no unlock needed), every intent is seen by
/// the next run, and the vendor holds every task once.
#[test]
fn sigkill_mid_apply_then_another_copy_loses_and_duplicates_nothing() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let ws = pg::unique("sigkill");
    let (_one, tasks_one) = working_copy(&ws);
    let (_two, tasks_two) = working_copy(&ws);
    let (mut emulator, url) = start_emulator(10);
    let apply = ["apply", "--auto-approve", "--parallelism", "20"];
    for (i, kill_at) in [10, 120, 300].into_iter().enumerate() {
        let tasks = if i % 2 == 0 { &tasks_one } else { &tasks_two };
        spawn_until_rows(
            command(&url, &db_url, &apply, tasks),
            cluster,
            "callform",
            &ws,
            kill_at,
        )
        .kill();
    }
    let (_, out, err) = finish(command(&url, &db_url, &apply, &tasks_two));
    assert!(
        !err.contains("locked by"),
        "the lock died with the killed session: {err}"
    );
    let state = listed(&state_json(&url, &db_url, &tasks_one));
    assert_eq!(
        state["tasks"].as_object().unwrap().len(),
        TASKS,
        "{out}{err}"
    );
    vendor_matches_state(&url, &state);
    assert_eq!(
        journal_rows(cluster, "callform", &ws),
        0,
        "the last run was committed"
    );
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// `--lock-timeout` waits for the holder (here a lease this test holds through the
/// library, given up after a moment); without it the apply fails at once.
#[test]
fn lock_timeout_waits_for_the_lock_and_no_timeout_fails_at_once() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let ws = pg::unique("wait");
    let (_copy, tasks) = working_copy(&ws);
    for f in 1..10 {
        std::fs::remove_file(tasks.join(format!("f{f}.yaml"))).unwrap();
    }
    let (mut emulator, url) = start_emulator(0);
    let location = format!("${{CALLFORM_STATE_URL}}?workspace={ws}");
    let var = {
        let db_url = db_url.clone();
        move |name: &str| (name == "CALLFORM_STATE_URL").then(|| db_url.clone())
    };
    let backend = callform::state::open_with(Path::new(&location), &var).unwrap();
    let lease = backend.lock("state rm").unwrap();

    let apply = ["apply", "--auto-approve"];
    let (code, _, err) = finish(command(&url, &db_url, &apply, &tasks));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("locked by") && err.contains("`state rm`"),
        "{err}"
    );

    let waiting = ["apply", "--auto-approve", "--lock-timeout", "30s"];
    let (code, err) =
        harness::released_while_waiting(command(&url, &db_url, &waiting, &tasks), move || {
            lease.release().unwrap()
        });
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("The state is locked by") && err.contains("`state rm`: waiting up to 30s"),
        "it said it waited: {err}"
    );
    let state = listed(&state_json(&url, &db_url, &tasks));
    assert_eq!(vendor_matches_state(&url, &state), TASKS / 10);

    // A timeout that runs out names the holder.
    let lease = backend.lock("state import").unwrap();
    let short = ["apply", "--auto-approve", "--lock-timeout", "300ms"];
    let started = Instant::now();
    let (code, _, err) = finish(command(&url, &db_url, &short, &tasks));
    assert_eq!(code, 1, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.contains("`state import`"), "{err}");
    lease.release().unwrap();
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// The server stops (as a crash would) in the middle of an apply, on a cluster of this
/// test's own: the apply stops sending and fails; nothing is lost (every task at the vendor
/// is in the state, created or uncertain) and nothing is created twice; once the server is
/// back, the next apply creates the rest.
#[test]
fn the_server_restarted_mid_apply_loses_and_duplicates_nothing() {
    let cluster = Cluster::start();
    let db_url = cluster.url("callform");
    let ws = "restart";
    let (_copy, tasks) = working_copy(ws);
    let (mut emulator, url) = start_emulator(10);
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
    assert_eq!(
        code,
        Some(1),
        "the apply fails when its state is gone: {text}"
    );
    let sent = vendor_tasks(&url).as_array().unwrap().len();
    assert!(sent < TASKS, "it stopped sending ({sent} sent)");
    // Still down: a plan says so and changes nothing.
    let (code, _, err) = finish(command(&url, &db_url, &["plan"], &tasks));
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert_eq!(vendor_tasks(&url).as_array().unwrap().len(), sent);

    cluster.restart();
    let (_, out, err) = finish(command(&url, &db_url, &apply, &tasks));
    let state = listed(&state_json(&url, &db_url, &tasks));
    assert_eq!(
        state["tasks"].as_object().unwrap().len(),
        TASKS,
        "{out}{err}"
    );
    let created = vendor_matches_state(&url, &state);
    assert!(
        created > sent,
        "the next apply went on: {created} created, {sent} before"
    );
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// TLS with rustls: the shared cluster offers TLS with a certificate of a test CA.
/// `sslmode=verify-full` with that CA as `sslrootcert` connects; without it (the Mozilla
/// roots) the certificate is refused, so the connection was TLS and the server checked.
#[test]
fn tls_verify_full_checks_the_servers_certificate() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let dir = tempfile::tempdir().unwrap();
    let ws = pg::unique("tls");
    let with_ca = format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}&sslmode=verify-full&sslrootcert={}",
        cluster.ca().display()
    );
    let list = |state: &str| {
        let mut cmd = bin().command();
        cmd.args(["state", "list", "--dir"])
            .arg(dir.path())
            .arg("--state")
            .arg(state)
            .env("CALLFORM_STATE_URL", &db_url);
        finish(cmd)
    };
    let (code, out, err) = list(&with_ca);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing has been applied yet"), "{out}");

    let (code, _, err) = list(&format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}&sslmode=verify-full"
    ));
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot connect") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}

/// The password of the URL is never shown: not in an error that names the database, not
/// in a plan, not in `state list`; a literal password is refused before anything connects.
#[test]
fn the_url_is_shown_without_its_password() {
    let cluster = pg::cluster();
    let dir = tempfile::tempdir().unwrap();
    let ws = pg::unique("canary");
    std::fs::write(dir.path().join("callform.yaml"), state_block(&ws)).unwrap();
    // A database that does not exist: the error names the location, masked.
    let mut cmd = bin().command();
    cmd.args(["state", "list", "--dir"])
        .arg(dir.path())
        .env("CALLFORM_STATE_URL", cluster.url("no_such_db"));
    let (code, _, err) = finish(cmd);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "postgres://{}@127.0.0.1:{}/no_such_db",
            pg::USER,
            cluster.port
        )) && err.contains(&format!("workspace {ws}")),
        "{err}"
    );
    // A literal password in `--state` is refused, and masked in the refusal.
    let literal = format!("{}?workspace={ws}", cluster.url("callform"));
    let mut cmd = bin().command();
    cmd.args(["state", "list", "--dir"])
        .arg(dir.path())
        .arg("--state")
        .arg(&literal);
    let (code, _, err) = finish(cmd);
    assert_eq!(code, 1);
    assert!(
        err.contains("literal password") && err.contains(":***@"),
        "{err}"
    );
    // The variable unset: named, nothing else.
    let mut cmd = bin().command();
    cmd.args(["state", "list", "--dir"]).arg(dir.path());
    cmd.env_remove("CALLFORM_STATE_URL");
    let (code, _, err) = finish(cmd);
    assert_eq!(code, 1);
    assert!(
        err.contains("`CALLFORM_STATE_URL`") && err.contains("not set"),
        "{err}"
    );
}

/// The CI hand-off on a PostgreSQL state: a plan saved in one checkout records the state
/// as written (`${CALLFORM_STATE_URL}?workspace=…`, no password), is applied in another
/// checkout against the same workspace, and is stale once applied.
#[test]
fn a_saved_plan_made_in_one_checkout_applies_in_another_on_the_same_workspace() {
    let cluster = pg::cluster();
    let db_url = cluster.url("callform");
    let ws = pg::unique("saved");
    let (one, tasks_one) = working_copy(&ws);
    let (two, tasks_two) = working_copy(&ws);
    for root in [one.path(), two.path()] {
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for f in 1..10 {
            std::fs::remove_file(root.join(format!("tasks/f{f}.yaml"))).unwrap();
        }
    }
    let (mut emulator, url) = start_emulator(0);
    let mut plan = command(
        &url,
        &db_url,
        &["plan", "--out", "../p.cfplan"],
        Path::new("tasks"),
    );
    plan.current_dir(one.path());
    let (code, _, err) = finish(plan);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "Its state is in PostgreSQL, ${{CALLFORM_STATE_URL}}?workspace={ws}"
        )),
        "{err}"
    );
    let saved_at = one.path().parent().unwrap().join("p.cfplan");
    let text = std::fs::read_to_string(&saved_at).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        saved["state"]["path"],
        format!("${{CALLFORM_STATE_URL}}?workspace={ws}")
    );
    assert!(!text.contains(pg::PASSWORD));

    let apply = |cwd: &Path| {
        let mut cmd = command(&url, &db_url, &["apply", "--auto-approve"], &saved_at);
        cmd.current_dir(cwd);
        finish(cmd)
    };
    let (code, out, err) = apply(two.path());
    assert_eq!(code, 0, "{out}{err}");
    let state = listed(&state_json(&url, &db_url, &tasks_one));
    assert_eq!(vendor_matches_state(&url, &state), TASKS / 10);
    let (code, _, err) = apply(one.path());
    assert_eq!(code, 1, "applied once, the plan is stale: {err}");
    assert!(err.contains("stale"), "{err}");
    assert_eq!(vendor_tasks(&url).as_array().unwrap().len(), TASKS / 10);
    drop(tasks_two);
    let _ = emulator.kill();
    let _ = emulator.wait();
}

/// `--sandbox` never touches the team's database: its state is a file beside callform.yaml,
/// and no `CALLFORM_STATE_URL` is needed.
#[test]
fn the_sandbox_of_a_postgres_project_keeps_a_file_of_its_own() {
    let (copy, tasks) = working_copy("never-used");
    for f in 1..10 {
        std::fs::remove_file(tasks.join(format!("f{f}.yaml"))).unwrap();
    }
    let mut cmd = bin().command();
    cmd.args(["apply", "--sandbox", "--auto-approve"])
        .arg(&tasks)
        .env_remove("CALLFORM_STATE_URL");
    let (code, out, err) = finish(cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(copy.path().join("callform.sandbox.state.json").is_file());
}
