//! The state-backend conformance suite: what every [`StateBackend`] must do, whatever it
//! stores in. Each check is a function on a [`Subject`] (a fresh, empty store and the few
//! hooks a check needs to reach beneath the trait); [`suite!`] makes one `#[test]` of each.
//!
//! Each backend runs the same suite from its own test module (`state.rs` for the file store,
//! `pg_state.rs` for PostgreSQL):
//!
//! ```ignore
//! mod conformance;
//! conformance::suite!(|dir: &std::path::Path| -> Box<dyn conformance::Subject> { … });
//! ```
//!
//! It lives in `tests/` rather than under `#[cfg(test)]` in the library so that it uses only
//! the public API: a backend that passes it is usable by the commands as they are.
//! What only one backend has (the file store's symlinks, checksum bytes, torn lines) is
//! tested beside that backend, not here.

#![allow(dead_code)]

use std::sync::Arc;

use callform::state::{
    replay::StepOutcome, Entry, Lease, Outcome, PendingState, RunLog, State, StateBackend,
    StateError, TaskStatus, STOPPED_REASON,
};

/// A fresh store under test.
pub(crate) trait Subject {
    /// A new handle on the store, as another process would open it.
    fn open(&self) -> Box<dyn StateBackend>;
    /// Everything stored, in a form that differs whenever anything stored differs: to show
    /// that a read, or a refused write, changed nothing.
    fn dump(&self) -> Vec<(String, Vec<u8>)>;
    /// Replaces the stored state with data that does not load (damaged in storage).
    fn damage(&self);
    /// Replaces the stored state with one written by a newer callform (a newer format version,
    /// with a field this one does not know).
    fn store_newer(&self);
    /// The bytes of the pending run log as stored (0 when there is none).
    fn log_len(&self) -> u64;
    /// Cuts the stored run log to its first `len` bytes: what a crash during its last write
    /// can leave.
    fn cut_log(&self, len: u64);
}

/// Makes one `#[test]` per conformance check, for the subjects `$make` (a
/// `Fn(&Path) -> Box<dyn Subject>`) builds in a fresh temporary directory.
macro_rules! suite {
    ($make:expr) => {
        $crate::conformance::suite!(@tests $make;
            a_missing_state_loads_as_none_and_the_first_save_starts_its_lineage,
            save_bumps_the_serial_and_refuses_a_stale_or_foreign_version,
            a_second_writer_is_refused_while_the_lease_is_held,
            a_run_records_every_create_and_commits_it_into_the_state,
            a_run_that_dies_leaves_uncertain_tasks_that_the_next_recover_keeps,
            the_first_run_dying_still_leaves_its_state,
            a_run_cannot_begin_while_a_dead_run_is_pending,
            an_uncertain_task_is_resolved_by_an_edit_under_the_lease,
            data_that_does_not_load_is_refused_and_never_overwritten,
            a_newer_format_is_refused_and_never_overwritten,
            fifty_concurrent_records_are_all_durable,
            one_record_all_is_durable_together_and_in_order,
            a_torn_record_all_never_leaves_an_intent_without_the_outcome_before_it,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let subject = ($make)(dir.path());
                $crate::conformance::$name(&*subject).await;
            }
        )*
    };
}
pub(crate) use suite;

pub(crate) const T0: &str = "2026-03-01T08:00:00Z";
pub(crate) const T1: &str = "2026-03-01T08:00:02Z";

pub(crate) fn intent(name: &str) -> Entry {
    Entry::Intent {
        name: name.into(),
        vendor: "volcengine".into(),
        provider: "volcengine".into(),
        endpoint: "https://cloud-vms.volcengineapi.com".into(),
        spec_digest: format!("sha256:{name}"),
        canonical_version: 1,
        spec: serde_json::json!({"name": name, "callees": {"count": 2, "digest": "hmac-sha256:ab"}}),
        at: T0.into(),
        replaces: None,
        batch: None,
        start: false,
    }
}

pub(crate) fn outcome(name: &str, outcome: Outcome) -> Entry {
    Entry::Outcome {
        name: name.into(),
        at: T1.into(),
        outcome,
    }
}

pub(crate) fn created(name: &str, id: &str) -> Entry {
    outcome(
        name,
        Outcome::Created {
            task_id: id.into(),
            request_id: Some(format!("req-{id}")),
            warnings: vec!["FailList[1]: 空号 (139****1234)".into()],
        },
    )
}

pub(crate) fn failed(name: &str) -> Entry {
    outcome(
        name,
        Outcome::Failed {
            code: "InvalidParameter".into(),
            message: "bad".into(),
        },
    )
}

/// A run that dies: neither the log nor the lease is ended, they just go away.
fn die(log: Arc<dyn RunLog>, lease: Lease) {
    drop(log);
    drop(lease);
}

/// Stores a state with one created task, `old` = `T-OLD`, through a whole run.
async fn seeded(subject: &dyn Subject) -> State {
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let mut state = backend.recover(&lease).unwrap().state.unwrap_or_default();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("old")).await.unwrap();
    log.record(created("old", "T-OLD")).await.unwrap();
    log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
    state
}

pub(crate) async fn a_missing_state_loads_as_none_and_the_first_save_starts_its_lineage(
    subject: &dyn Subject,
) {
    let backend = subject.open();
    let loaded = backend.load().unwrap();
    assert_eq!((loaded.state, loaded.journal), (None, None));

    let lease = backend.lock("state import").unwrap();
    let mut state = backend.recover(&lease).unwrap().state.unwrap_or_default();
    assert_eq!(state.serial, 0);
    backend.save(&lease, &mut state).unwrap();
    assert_eq!(state.serial, 1);
    lease.release().unwrap();

    // Another process sees the same lineage, salt and serial.
    let again = subject.open().load().unwrap().state.unwrap();
    assert_eq!(again, state);
}

pub(crate) async fn save_bumps_the_serial_and_refuses_a_stale_or_foreign_version(
    subject: &dyn Subject,
) {
    let first = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("state rm").unwrap();
    let mut current = backend.recover(&lease).unwrap().state.unwrap();
    assert_eq!(current, first);
    let mut stale = current.clone();
    current.tasks.remove("old");
    backend.save(&lease, &mut current).unwrap();
    assert_eq!(current.serial, first.serial + 1);

    let stored = subject.dump();
    let err = backend.save(&lease, &mut stale).unwrap_err();
    assert!(matches!(err, StateError::SerialConflict { .. }), "{err:?}");
    assert_eq!(
        stale.serial, first.serial,
        "a refused save keeps the serial"
    );
    let mut foreign = State::new();
    foreign.serial = current.serial;
    let err = backend.save(&lease, &mut foreign).unwrap_err();
    assert!(matches!(err, StateError::LineageConflict { .. }), "{err:?}");
    assert_eq!(subject.dump(), stored, "a refused save changes nothing");
    lease.release().unwrap();
    assert_eq!(subject.open().load().unwrap().state.unwrap(), current);
}

pub(crate) async fn a_second_writer_is_refused_while_the_lease_is_held(subject: &dyn Subject) {
    seeded(subject).await;
    let backend = subject.open();
    let held = backend.lock("apply").unwrap();
    held.verify().unwrap();
    let err = subject.open().lock("state rm").unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("`apply`"), "{err}");
    // Readers are not blocked.
    assert!(subject.open().load().unwrap().state.is_some());
    held.release().unwrap();
    subject.open().lock("state rm").unwrap().release().unwrap();
}

pub(crate) async fn a_run_records_every_create_and_commits_it_into_the_state(
    subject: &dyn Subject,
) {
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    assert_eq!(backend.recover(&lease).unwrap().state, None);
    let mut state = State::new();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("a")).await.unwrap();
    // The intent is durable before the request would leave: another reader sees it.
    let seen = subject.open().load().unwrap().state.unwrap();
    assert_eq!(seen.tasks["a"].status, TaskStatus::Uncertain);
    log.record(created("a", "T-A")).await.unwrap();
    log.record(intent("b")).await.unwrap();
    log.record(failed("b")).await.unwrap();
    log.record(intent("c")).await.unwrap();
    let reason = "HTTP 502 after the request was sent";
    log.record(outcome(
        "c",
        Outcome::Uncertain {
            reason: reason.into(),
        },
    ))
    .await
    .unwrap();
    let before = state.serial;
    let folded = log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();

    assert_eq!(folded.created, ["a"]);
    assert_eq!(folded.failed, ["b"]);
    assert_eq!(folded.uncertain, ["c"]);
    assert!(folded.interrupted.is_empty());
    assert_eq!(state.serial, before + 1);
    let loaded = subject.open().load().unwrap();
    assert_eq!(loaded.journal, None, "nothing is left pending");
    let stored = loaded.state.unwrap();
    assert_eq!(stored, state);
    let a = &stored.tasks["a"];
    assert_eq!(
        (a.status, a.task_id.as_deref(), a.request_id.as_deref()),
        (TaskStatus::Created, Some("T-A"), Some("req-T-A"))
    );
    assert_eq!(a.created_at, T1);
    assert!(!stored.tasks.contains_key("b"));
    assert_eq!(stored.tasks["c"].status, TaskStatus::Uncertain);
    assert_eq!(stored.tasks["c"].uncertain_reason.as_deref(), Some(reason));
}

pub(crate) async fn a_run_that_dies_leaves_uncertain_tasks_that_the_next_recover_keeps(
    subject: &dyn Subject,
) {
    let mut state = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    for entry in [
        intent("sent"),
        intent("answered"),
        created("answered", "T-9"),
    ] {
        log.record(entry).await.unwrap();
    }
    die(log, lease);

    // Any reader sees the run replayed, and reading writes nothing.
    let before = subject.dump();
    let loaded = subject.open().load().unwrap();
    assert_eq!(subject.dump(), before);
    let folded = loaded.journal.unwrap();
    assert_eq!(folded.interrupted, ["sent"]);
    assert_eq!(folded.created, ["answered"]);
    let replayed = loaded.state.unwrap();
    assert_eq!(replayed.serial, state.serial, "a replay is not a save");
    let sent = &replayed.tasks["sent"];
    assert_eq!(
        (sent.status, sent.task_id.as_deref()),
        (TaskStatus::Uncertain, None)
    );
    assert_eq!(sent.uncertain_reason.as_deref(), Some(STOPPED_REASON));
    assert_eq!(replayed.tasks["old"].task_id.as_deref(), Some("T-OLD"));

    // The next writer makes it durable under its lease, then may run again.
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let mut state = backend.recover(&lease).unwrap().state.unwrap();
    assert_eq!(state.serial, replayed.serial + 1);
    assert_eq!(state.tasks, replayed.tasks);
    assert_eq!(subject.open().load().unwrap().journal, None);
    let log = backend.begin(&lease, &mut state).await.unwrap();
    // `sent` may exist at the vendor: creating it again is refused, and not recorded.
    assert!(log.record(intent("sent")).await.is_err());
    log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
    assert_eq!(
        subject.open().load().unwrap().state.unwrap().tasks["sent"].status,
        TaskStatus::Uncertain
    );
}

pub(crate) async fn the_first_run_dying_still_leaves_its_state(subject: &dyn Subject) {
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let mut state = State::new();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("a")).await.unwrap();
    log.record(created("a", "T-A")).await.unwrap();
    die(log, lease);

    let backend = subject.open();
    let loaded = backend.load().unwrap().state.unwrap();
    assert_eq!(loaded.lineage, state.lineage);
    assert_eq!(loaded.salt, state.salt, "the run's salt, not a new one");
    assert_eq!(loaded.tasks["a"].task_id.as_deref(), Some("T-A"));
    let lease = backend.lock("apply").unwrap();
    let recovered = backend.recover(&lease).unwrap().state.unwrap();
    assert_eq!(recovered.tasks, loaded.tasks);
    assert_eq!(recovered.salt, state.salt);
}

pub(crate) async fn a_run_cannot_begin_while_a_dead_run_is_pending(subject: &dyn Subject) {
    let mut state = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("a")).await.unwrap();
    die(log, lease);

    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let before = subject.dump();
    let mut unrecovered = state.clone();
    assert!(backend.begin(&lease, &mut unrecovered).await.is_err());
    assert_eq!(subject.dump(), before, "the pending run is kept as it was");
    let recovered = backend.recover(&lease).unwrap().state.unwrap();
    assert_eq!(recovered.tasks["a"].status, TaskStatus::Uncertain);
}

/// What `state import` and `state rm` do to an uncertain task, at the backend's level: an
/// edit of the recovered state, saved under the lease.
pub(crate) async fn an_uncertain_task_is_resolved_by_an_edit_under_the_lease(
    subject: &dyn Subject,
) {
    let mut state = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(intent("a")).await.unwrap();
    log.record(intent("b")).await.unwrap();
    die(log, lease);

    let backend = subject.open();
    let lease = backend.lock("state import").unwrap();
    let mut state = backend.recover(&lease).unwrap().state.unwrap();
    let a = state.tasks.get_mut("a").unwrap();
    a.status = TaskStatus::Created;
    a.task_id = Some("T-A".into());
    a.uncertain_reason = None;
    state.tasks.remove("b");
    backend.save(&lease, &mut state).unwrap();
    lease.release().unwrap();

    let stored = subject.open().load().unwrap();
    assert_eq!(stored.journal, None);
    let stored = stored.state.unwrap();
    assert_eq!(stored, state);
    assert_eq!(stored.tasks["a"].task_id.as_deref(), Some("T-A"));
    assert!(!stored.tasks.contains_key("b"));
}

pub(crate) async fn data_that_does_not_load_is_refused_and_never_overwritten(
    subject: &dyn Subject,
) {
    let state = seeded(subject).await;
    subject.damage();
    let before = subject.dump();
    let backend = subject.open();
    assert!(backend.load().is_err());
    let lease = backend.lock("apply").unwrap();
    assert!(backend.recover(&lease).is_err());
    let mut state = state;
    assert!(backend.save(&lease, &mut state).is_err());
    assert!(backend.begin(&lease, &mut state).await.is_err());
    lease.release().unwrap();
    assert_eq!(subject.dump(), before);
}

pub(crate) async fn a_newer_format_is_refused_and_never_overwritten(subject: &dyn Subject) {
    let state = seeded(subject).await;
    subject.store_newer();
    let before = subject.dump();
    let backend = subject.open();
    let err = backend.load().unwrap_err();
    assert!(matches!(err, StateError::NewerFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade callform"), "{err}");
    let lease = backend.lock("apply").unwrap();
    assert!(backend.recover(&lease).is_err());
    let mut state = state;
    assert!(backend.save(&lease, &mut state).is_err());
    lease.release().unwrap();
    assert_eq!(subject.dump(), before);
}

pub(crate) async fn fifty_concurrent_records_are_all_durable(subject: &dyn Subject) {
    let mut state = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (log, barrier) = (Arc::clone(&log), Arc::clone(&barrier));
        tasks.spawn(async move {
            let name = format!("task-{i:02}");
            barrier.wait().await;
            log.record(intent(&name)).await?;
            log.record(created(&name, &format!("T-{i}"))).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let folded = log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
    assert_eq!(folded.created.len(), 50);
    let stored = subject.open().load().unwrap().state.unwrap();
    assert_eq!(stored.tasks.len(), 51);
    assert!(stored
        .tasks
        .values()
        .all(|t| t.status == TaskStatus::Created));
}

fn batch(name: &str, i: u32, offset: u64, n: u32) -> Entry {
    Entry::Batch {
        name: name.into(),
        i,
        offset,
        n,
        through: format!("h1:{:032x}", u64::from(i) + 1),
        at: T0.into(),
    }
}

fn batch_done(name: &str, i: u32) -> Entry {
    Entry::BatchOutcome {
        name: name.into(),
        i,
        at: T1.into(),
        outcome: StepOutcome::Done {
            request_id: None,
            warnings: vec![],
        },
    }
}

/// A run on the seeded state (`old` = `T-OLD`) with batch 0 of `old` in flight.
async fn batch_in_flight(subject: &dyn Subject) -> (Arc<dyn RunLog>, Lease, State) {
    let mut state = seeded(subject).await;
    let backend = subject.open();
    let lease = backend.lock("apply").unwrap();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    log.record(batch("old", 0, 0, 50)).await.unwrap();
    (log, lease, state)
}

pub(crate) async fn one_record_all_is_durable_together_and_in_order(subject: &dyn Subject) {
    let (log, lease, mut state) = batch_in_flight(subject).await;
    let before = log.durable_writes();
    // The outcome of batch 0 and the intent of batch 1, as apply records them.
    log.record_all(vec![batch_done("old", 0), batch("old", 1, 50, 50)])
        .await
        .unwrap();
    if let (Some(before), Some(after)) = (before, log.durable_writes()) {
        assert_eq!(after - before, 1, "one record_all is one durable write");
    }
    // Both are durable, in order, when it returns: another reader sees batch 0 loaded and
    // batch 1 in flight (uncertain, if the run died now).
    let seen = subject.open().load().unwrap().state.unwrap();
    let callees = seen.tasks["old"].callees.clone().unwrap();
    assert_eq!((callees.rows, callees.batches.len()), (50, 1));
    let pending = callees.pending.unwrap();
    assert_eq!((pending.i, pending.offset), (1, 50));
    assert_eq!(pending.state, PendingState::Uncertain);

    // A refused entry stops the rest; the ones before it are stored.
    let err = log
        .record_all(vec![
            batch_done("old", 1),
            batch("old", 5, 0, 1),
            batch("old", 2, 100, 50),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::JournalRejected { .. }), "{err:?}");
    let folded = log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
    assert_eq!(folded.batches_loaded, 2);
    let callees = state.tasks["old"].callees.clone().unwrap();
    assert_eq!((callees.rows, callees.batches.len()), (100, 2));
    assert_eq!(
        callees.pending, None,
        "nothing after the refused entry is stored"
    );
}

pub(crate) async fn a_torn_record_all_never_leaves_an_intent_without_the_outcome_before_it(
    subject: &dyn Subject,
) {
    let (log, lease, _) = batch_in_flight(subject).await;
    let start = subject.log_len();
    log.record_all(vec![batch_done("old", 0), batch("old", 1, 50, 50)])
        .await
        .unwrap();
    let end = subject.log_len();
    die(log, lease);
    assert!(end > start);
    let (mut uncertain0, mut loaded_only, mut both) = (0, 0, 0);
    for len in (start..=end).rev() {
        subject.cut_log(len);
        let state = subject
            .open()
            .load()
            .unwrap_or_else(|e| panic!("cut at {len} of {start}..{end}: {e}"))
            .state
            .unwrap();
        let callees = state.tasks["old"].callees.clone().unwrap();
        let pending = callees.pending.clone();
        match (
            callees.batches.len(),
            pending.as_ref().map(|p| (p.i, p.state)),
        ) {
            // Nothing of the write survived: batch 0 may have been loaded.
            (0, Some((0, PendingState::Uncertain))) => uncertain0 += 1,
            // The intent of batch 1 is lost: its request waited for it, so it was not sent.
            (1, None) => loaded_only += 1,
            (1, Some((1, PendingState::Uncertain))) => both += 1,
            other => panic!("cut at {len} of {start}..{end}: {other:?}"),
        }
        assert_eq!(callees.rows, 50 * callees.batches.len() as u64);
    }
    assert!(
        uncertain0 > 0 && loaded_only > 0 && both > 0,
        "{uncertain0} {loaded_only} {both}"
    );
}
