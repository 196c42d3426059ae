//! The PostgreSQL backend: the conformance suite (`conformance.rs`, the same checks the file
//! backend passes) against a real server, and what only a database has: workspaces side by
//! side, the lock's session, the lock row.

use std::path::Path;

use callform::state::{self, StateBackend};

use crate::conformance;
use crate::pg::{self, off_runtime};

/// One workspace of the shared cluster's `callform` database.
struct PgStore {
    location: String,
    workspace: String,
}

impl PgStore {
    fn new() -> PgStore {
        let workspace = pg::unique("conf");
        PgStore {
            location: format!("${{CALLFORM_STATE_URL}}?workspace={workspace}"),
            workspace,
        }
    }

    /// Runs `sql` with `$1` = the workspace; the rows it returns, as text.
    fn sql(&self, sql: &str) -> Vec<String> {
        let (sql, ws) = (sql.to_string(), self.workspace.clone());
        off_runtime(move || {
            let mut c = pg::cluster().client("callform");
            c.query(&sql, &[&ws])
                .unwrap()
                .iter()
                .map(|r| r.try_get::<_, String>(0).unwrap_or_default())
                .collect()
        })
    }
}

impl conformance::Subject for PgStore {
    fn open(&self) -> Box<dyn StateBackend> {
        let url = pg::cluster().url("callform");
        state::open_with(Path::new(&self.location), &move |name| {
            (name == "CALLFORM_STATE_URL").then(|| url.clone())
        })
        .unwrap()
    }

    fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (table, order) in [
            ("workspaces", "workspace"),
            ("tasks", "name"),
            ("journal", "run, seq"),
        ] {
            let rows = self.sql(&format!(
                "SELECT row_to_json(t)::text FROM callform.{table} t WHERE workspace = $1 ORDER BY {order}"
            ));
            out.push((table.to_string(), rows.join("\n").into_bytes()));
        }
        out
    }

    fn damage(&self) {
        self.sql(
            "UPDATE callform.tasks SET record = '{\"vendor\": 5}' WHERE workspace = $1 RETURNING ''",
        );
    }

    fn store_newer(&self) {
        self.sql(&format!(
            "UPDATE callform.workspaces SET format_version = {} WHERE workspace = $1 RETURNING ''",
            state::FORMAT_VERSION + 1
        ));
        self.sql(
            "UPDATE callform.tasks SET record = record || '{\"retention\": \"30d\"}' WHERE workspace = $1 RETURNING ''",
        );
    }

    fn log_len(&self) -> u64 {
        self.sql("SELECT count(*)::text FROM callform.journal WHERE workspace = $1")
            .first()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn cut_log(&self, len: u64) {
        self.sql(&format!(
            "DELETE FROM callform.journal WHERE workspace = $1 AND seq >= {len} RETURNING ''"
        ));
    }
}

conformance::suite!(|_dir: &Path| -> Box<dyn conformance::Subject> { Box::new(PgStore::new()) });

/// A backend at `location` (as written) with `CALLFORM_STATE_URL` the shared database.
fn open(location: &str) -> Box<dyn StateBackend> {
    let url = pg::cluster().url("callform");
    state::open_with(Path::new(location), &move |name| {
        (name == "CALLFORM_STATE_URL").then(|| url.clone())
    })
    .unwrap()
}

/// One workspace name in two schemas of one database is two states with two locks: the
/// lock key is derived from the schema and the workspace, so neither blocks the other.
#[test]
fn schemas_and_workspaces_never_share_a_lock_or_rows() {
    let ws = pg::unique("same");
    let (a, b) = (
        pg::unique("schema").replace('-', "_"),
        pg::unique("schema").replace('-', "_"),
    );
    let in_a = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}&schema={a}"
    ));
    let in_b = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}&schema={b}"
    ));
    let other_ws = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}-2&schema={a}"
    ));
    let lease_a = in_a.lock("apply").unwrap();
    let lease_b = in_b.lock("apply").unwrap();
    let lease_c = other_ws.lock("apply").unwrap();
    let mut state = in_a.recover(&lease_a).unwrap().state.unwrap_or_default();
    in_a.save(&lease_a, &mut state).unwrap();
    assert!(in_b.load().unwrap().state.is_none());
    assert!(other_ws.load().unwrap().state.is_none());
    // The same schema and workspace is one lock.
    let again = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace={ws}&schema={a}"
    ));
    assert!(matches!(
        again.lock("apply"),
        Err(callform::state::StateError::Locked { .. })
    ));
    for lease in [lease_a, lease_b, lease_c] {
        lease.release().unwrap();
    }
}

/// Tables set up by a newer callform are refused, never altered.
#[test]
fn tables_of_a_newer_callform_are_refused() {
    let schema = pg::unique("newer").replace('-', "_");
    let backend = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace=w&schema={schema}"
    ));
    assert!(backend.load().unwrap().state.is_none());
    pg::cluster().psql(
        "callform",
        &format!("INSERT INTO {schema}.schema_version VALUES (99)"),
    );
    let err = open(&format!(
        "${{CALLFORM_STATE_URL}}?workspace=w&schema={schema}"
    ))
    .load()
    .err()
    .unwrap();
    assert!(
        matches!(
            err,
            callform::state::StateError::SchemaNewer { found: 99, .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade callform"), "{err}");
}

/// `state unlock` through the library: refused while the holder's session lives, and once
/// the session is gone (ended by the server, as a killed process's is) the row it left is
/// cleared and named. A lease dropped while its session lives clears its own row.
#[test]
fn unlock_is_refused_while_the_holders_session_lives() {
    let workspace = pg::unique("unlock");
    let location = format!("${{CALLFORM_STATE_URL}}?workspace={workspace}");
    let held = open(&location).lock("apply").unwrap();
    let err = open(&location).unlock().err().unwrap();
    assert!(
        matches!(err, callform::state::StateError::Locked { .. }),
        "{err:?}"
    );
    end_lock_session(&workspace);
    // The session is gone: the lease knows it, and its drop cannot clear the row.
    assert!(matches!(
        held.verify(),
        Err(callform::state::StateError::LockLost { .. })
    ));
    drop(held);
    let cleared = open(&location).unlock().unwrap().unwrap();
    assert_eq!(cleared.operation, "apply");
    assert_eq!(cleared.pid, std::process::id());
    assert!(matches!(
        open(&location).unlock(),
        Err(callform::state::StateError::NotLocked { .. })
    ));
    drop(open(&location).lock("state rm").unwrap());
    assert!(matches!(
        open(&location).unlock(),
        Err(callform::state::StateError::NotLocked { .. })
    ));
}

/// Ends, at the server, the session holding `workspace`'s lock (as a killed holder's or a
/// lost connection's ends), and waits until its server process is gone.
fn end_lock_session(workspace: &str) {
    let workspace = workspace.to_string();
    off_runtime(move || {
        let mut c = pg::cluster().client("callform");
        let pid: i32 = c
            .query_one(
                "SELECT backend_pid FROM callform.locks WHERE workspace = $1",
                &[&workspace],
            )
            .unwrap()
            .get(0);
        c.execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
                &[&pid],
            )
            .unwrap()
            .get::<_, bool>(0)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the session did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
}

/// A run whose lock's session ended writes nothing more, though its own session lives:
/// another holder may have taken the lock and recovered the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lock_records_nothing_more() {
    use crate::conformance::{created, intent};
    let workspace = pg::unique("lost");
    let location = format!("${{CALLFORM_STATE_URL}}?workspace={workspace}");
    let backend = open(&location);
    let lease = backend.lock("apply").unwrap();
    let mut state = callform::state::State::new();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("a")).await.unwrap();
    end_lock_session(&workspace);
    let err = log.record(created("a", "T-A")).await.unwrap_err();
    assert!(err.to_string().contains("no longer held"), "{err}");
    // Another holder takes the lock and recovers the run: `a` is uncertain, nothing after
    // the lost lock was stored.
    let other = open(&location);
    let lease2 = other.lock("apply").unwrap();
    let recovered = other.recover(&lease2).unwrap().state.unwrap();
    assert_eq!(
        recovered.tasks["a"].status,
        callform::state::TaskStatus::Uncertain
    );
    assert!(log.record(intent("b")).await.is_err());
    assert!(log.commit(&mut state).await.is_err());
    assert!(other.load().unwrap().journal.is_none());
    lease2.release().unwrap();
    drop(lease);
}

/// Group commit: 50 steps recording at once share transactions (fewer commits than
/// records), and each one's row is committed when its `record` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_share_commits() {
    use crate::conformance::{created, intent};
    use std::sync::Arc;
    let location = format!("${{CALLFORM_STATE_URL}}?workspace={}", pg::unique("group"));
    let backend = open(&location);
    let lease = backend.lock("apply").unwrap();
    let mut state = callform::state::State::new();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    let before = log.durable_writes().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let log = Arc::clone(&log);
        tasks.spawn(async move {
            let name = format!("g-{i:02}");
            log.record(intent(&name)).await?;
            log.record(created(&name, &format!("T-{i}"))).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let writes = log.durable_writes().unwrap() - before;
    assert!(writes < 100, "{writes} commits for 100 records");
    let seen = open(&location).load().unwrap();
    assert_eq!(seen.journal.unwrap().created.len(), 50);
    log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
}
