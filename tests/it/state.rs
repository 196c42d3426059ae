//! The state store as apply uses it: lock, recover, journal every create, commit — and what
//! the next run finds when a run dies at each step. A crash is simulated by dropping the
//! journal without committing it, or by writing journal lines by hand.
//!
//! What every state backend must do is the conformance suite (`conformance.rs`), run here for
//! the file backend; the tests below it are the file store's own (journal lines, symlinks,
//! checksums, lock files) and the replay rules.

use std::fs;
use std::path::{Path, PathBuf};

use callform::state::{
    self, backup_path, commit_journal, journal_path, load, load_detailed, lock_path, read_journal,
    recover, save, Entry, Folded, Journal, State, StateBackend, StateError, StateLock, TaskStatus,
};

use crate::conformance::{self, created, failed, intent, T0, T1};

/// The file backend under the conformance suite: a state file in a fresh directory.
struct FileStore {
    dir: PathBuf,
    path: PathBuf,
}

impl conformance::Subject for FileStore {
    fn open(&self) -> Box<dyn StateBackend> {
        state::open(&self.path).unwrap()
    }

    fn dump(&self) -> Vec<(String, Vec<u8>)> {
        snapshot(&self.dir)
    }

    fn damage(&self) {
        let mut bytes = fs::read(&self.path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x20;
        fs::write(&self.path, bytes).unwrap();
    }

    fn store_newer(&self) {
        let mut newer: serde_json::Value = serde_json::to_value(load(&self.path).unwrap()).unwrap();
        newer["format_version"] = (state::FORMAT_VERSION + 1).into();
        newer["retention"] = "30d".into();
        fs::write(&self.path, serde_json::to_vec_pretty(&newer).unwrap()).unwrap();
    }

    fn log_len(&self) -> u64 {
        fs::metadata(journal_path(&self.path)).map_or(0, |m| m.len())
    }

    fn cut_log(&self, len: u64) {
        let mut bytes = fs::read(journal_path(&self.path)).unwrap();
        bytes.truncate(len as usize);
        fs::write(journal_path(&self.path), bytes).unwrap();
    }
}

conformance::suite!(|dir: &Path| -> Box<dyn conformance::Subject> {
    Box::new(FileStore {
        dir: dir.to_path_buf(),
        path: dir.join("callform.state.json"),
    })
});

fn replace(name: &str, old: &str) -> Entry {
    let Entry::Intent {
        name,
        vendor,
        provider,
        endpoint,
        canonical_version,
        spec,
        ..
    } = intent(name)
    else {
        unreachable!()
    };
    Entry::Intent {
        name,
        vendor,
        provider,
        endpoint,
        spec_digest: "sha256:v2".into(),
        canonical_version,
        spec,
        at: T1.into(),
        replaces: Some(old.into()),
        batch: None,
        start: false,
    }
}

fn begin(state: &State) -> Entry {
    Entry::Begin {
        lineage: state.lineage.clone(),
        salt: state.salt.clone(),
        base_serial: state.serial,
        run: "0123456789abcdef".into(),
        at: T0.into(),
    }
}

fn write_journal(path: &Path, entries: &[Entry]) {
    let mut text = String::new();
    for entry in entries {
        text.push_str(&serde_json::to_string(entry).unwrap());
        text.push('\n');
    }
    fs::write(journal_path(path), text).unwrap();
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut all = fs::read(journal_path(path)).unwrap();
    all.extend_from_slice(bytes);
    fs::write(journal_path(path), all).unwrap();
}

/// A directory with a saved state holding one created task, `old` = `T-OLD`.
fn setup() -> (tempfile::TempDir, PathBuf, State) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callform.state.json");
    let mut state = State::new();
    let entries = [begin(&state), intent("old"), created("old", "T-OLD")];
    state::fold(&mut state, &entries).unwrap();
    save(&path, &mut state).unwrap();
    (dir, path, state)
}

/// Every file in the directory with its bytes, to show a load wrote nothing.
/// The files in `dir` and their bytes. A released lock stays behind as an empty file (it is
/// never unlinked, see `state::lock`), which holds nothing and is left out here.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(name, bytes)| !(name.ends_with(".lock") && bytes.is_empty()))
        .collect();
    files.sort();
    files
}

/// The file store's run: its journal only grows, one checksummed line per record, the state
/// file is untouched until the commit, and the commit leaves the state and its backup only.
#[tokio::test]
async fn a_file_run_appends_one_line_per_record_and_leaves_only_state_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callform.state.json");
    let backend = state::open(&path).unwrap();
    let lease = backend.lock("apply").unwrap();
    let mut state = State::new();
    let log = backend.begin(&lease, &mut state).await.unwrap();
    assert_eq!(
        log.location(),
        journal_path(&path.canonicalize().unwrap())
            .display()
            .to_string()
    );
    let state_bytes = fs::read(&path).unwrap();
    let mut size = fs::metadata(journal_path(&path)).unwrap().len();
    for entry in [intent("a"), created("a", "T-A"), intent("b"), failed("b")] {
        // The entry's JSON, its checksum member (`,"sum":"<64 hex>"`) and a newline.
        let line = serde_json::to_string(&entry).unwrap().len() as u64 + 73 + 1;
        log.record(entry).await.unwrap();
        size += line;
        assert_eq!(fs::metadata(journal_path(&path)).unwrap().len(), size);
    }
    assert_eq!(read_journal(&path).unwrap().unwrap().len(), 5);
    assert_eq!(fs::read(&path).unwrap(), state_bytes);
    log.commit(&mut state).await.unwrap().unwrap();
    lease.release().unwrap();
    let names: Vec<_> = snapshot(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["callform.state.json", "callform.state.json.backup"]);
}

#[test]
fn a_lock_file_left_by_a_killed_holder_is_reported_and_unlock_needs_a_leftover() {
    let (_dir, path, _) = setup();
    let backend = state::open(&path).unwrap();
    // A holder killed with SIGKILL leaves its description but no kernel lock.
    fs::write(
        lock_path(&path),
        r#"{"holder":"ci","pid":77,"host":"runner-3","started_at":"2026-03-01T07:59:00Z","operation":"apply"}"#,
    )
    .unwrap();
    let lease = backend.lock("apply").unwrap();
    let dead = lease.replaced_stale.clone().unwrap();
    assert_eq!((dead.holder.as_str(), dead.pid), ("ci", 77));
    drop(lease);
    assert!(matches!(
        backend.unlock().unwrap_err(),
        state::StateError::NotLocked { .. }
    ));
}

#[test]
fn the_first_apply_dying_leaves_a_journal_that_becomes_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let fresh = State::new();
    write_journal(&path, &[begin(&fresh), intent("a"), created("a", "T-A")]);

    let state = load(&path).unwrap().unwrap();
    assert_eq!(state.lineage, fresh.lineage);
    assert_eq!(state.salt, fresh.salt, "the run's salt, not a new one");
    assert_eq!(state.tasks["a"].task_id.as_deref(), Some("T-A"));
    assert!(!path.exists());

    let lock = StateLock::acquire(&path, "apply").unwrap();
    let recovered = recover(&path, &lock).unwrap();
    assert_eq!(recovered.state.unwrap().serial, 1);
    assert_eq!(load(&path).unwrap().unwrap().salt, fresh.salt);
    assert!(!journal_path(&path).exists());
}

#[test]
fn a_journal_without_its_state_file_is_an_error() {
    let (_dir, path, state) = setup();
    write_journal(&path, &[begin(&state), intent("a")]);
    fs::remove_file(&path).unwrap();
    let err = load(&path).unwrap_err();
    assert!(
        matches!(err, StateError::StateMissing { base_serial: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Do not delete the journal"),
        "{err}"
    );
}

#[test]
fn a_torn_last_line_is_ignored_and_a_torn_middle_line_is_an_error() {
    let (_dir, path, state) = setup();
    write_journal(&path, &[begin(&state), intent("a"), intent("b")]);
    let line = serde_json::to_string(&created("b", "T-B")).unwrap();
    append_raw(&path, &line.as_bytes()[..line.len() / 2]);
    let entries = read_journal(&path).unwrap().unwrap();
    assert_eq!(entries.len(), 3);
    let replayed = load(&path).unwrap().unwrap();
    assert_eq!(replayed.tasks["b"].status, TaskStatus::Uncertain);

    // Zeros where a write's data never reached the disk count as torn too.
    write_journal(&path, &[begin(&state), intent("a")]);
    append_raw(&path, &[0; 40]);
    assert_eq!(read_journal(&path).unwrap().unwrap().len(), 2);

    // A complete last line with a newline is read, of course.
    write_journal(&path, &[begin(&state), intent("a"), created("a", "T-A")]);
    assert_eq!(read_journal(&path).unwrap().unwrap().len(), 3);

    write_journal(&path, &[begin(&state), intent("a")]);
    append_raw(&path, b"{\"op\":\"outcome\",\"na\n");
    append_raw(&path, format!("{line}\n").as_bytes());
    let before = fs::read(journal_path(&path)).unwrap();
    let err = load(&path).unwrap_err();
    assert!(
        matches!(err, StateError::JournalCorrupt { line: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(".journal:3:"), "{err}");
    assert_eq!(fs::read(journal_path(&path)).unwrap(), before);
}

#[test]
fn a_journal_folded_by_a_save_that_died_before_removing_it_is_skipped() {
    let (_dir, path, mut state) = setup();
    let entries = [begin(&state), intent("a"), created("a", "T-A")];
    write_journal(&path, &entries);
    // The end of a run, up to the save; the removal never happened.
    state::fold(&mut state, &entries).unwrap();
    save(&path, &mut state).unwrap();

    let loaded = load_detailed(&path).unwrap();
    assert_eq!(loaded.state.as_ref(), Some(&state));
    assert_eq!(
        loaded.journal,
        Some(Folded {
            run: Some("0123456789abcdef".into()),
            base_serial: Some(1),
            already_folded: true,
            ..Folded::default()
        })
    );
    let lock = StateLock::acquire(&path, "apply").unwrap();
    let recovered = recover(&path, &lock).unwrap();
    assert_eq!(
        recovered.state.unwrap().serial,
        state.serial,
        "not saved again"
    );
    assert!(!journal_path(&path).exists());
}

#[test]
fn a_journal_is_not_skipped_when_the_newer_state_lacks_its_records() {
    let (_dir, path, mut state) = setup();
    write_journal(&path, &[begin(&state), intent("a"), created("a", "T-A")]);
    // Someone saved meanwhile without folding the journal.
    save(&path, &mut state).unwrap();
    let err = load(&path).unwrap_err();
    assert!(err.to_string().contains("task `a` is missing"), "{err}");
    assert!(
        err.to_string().contains("only then remove the journal"),
        "{err}"
    );
}

#[test]
fn a_state_older_than_its_journal_is_an_error() {
    let (_dir, path, mut state) = setup();
    let mut ahead = state.clone();
    ahead.serial += 1;
    save(&path, &mut state).unwrap();
    fs::copy(backup_path(&path), &path).unwrap(); // restored an older copy
    write_journal(&path, &[begin(&ahead), intent("a")]);
    let err = load(&path).unwrap_err();
    assert!(err.to_string().contains("an older version"), "{err}");
}

#[test]
fn a_journal_of_another_state_is_an_error_and_nothing_is_touched() {
    let (dir, path, _) = setup();
    write_journal(&path, &[begin(&State::new()), intent("a")]);
    let before = snapshot(dir.path());
    let err = load(&path).unwrap_err();
    assert!(
        err.to_string().contains("belongs to another state"),
        "{err}"
    );
    assert!(err.to_string().contains("hint:"), "{err}");
    let lock = StateLock::acquire(&path, "apply").unwrap();
    assert!(recover(&path, &lock).is_err());
    drop(lock);
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_replace_keeps_the_old_id_whatever_happens_to_the_new_create() {
    let (_dir, _path, state) = setup();
    let old = state.tasks["old"].clone();

    // Created: the new id is current, the old one is superseded.
    let mut done = state.clone();
    let folded = state::fold(
        &mut done,
        &[
            begin(&state),
            replace("old", "T-OLD"),
            created("old", "T-NEW"),
        ],
    )
    .unwrap();
    assert_eq!(
        folded.superseded,
        [("old".to_string(), "T-OLD".to_string())]
    );
    let record = &done.tasks["old"];
    assert_eq!(record.task_id.as_deref(), Some("T-NEW"));
    assert_eq!(record.spec_digest, "sha256:v2");
    assert_eq!(record.superseded.len(), 1);
    let gone = &record.superseded[0];
    assert_eq!(
        (
            gone.task_id.as_str(),
            gone.spec_digest.as_str(),
            gone.endpoint.as_str()
        ),
        ("T-OLD", old.spec_digest.as_str(), old.endpoint.as_str())
    );
    assert_eq!(
        (gone.created_at.as_str(), gone.superseded_at.as_str()),
        (T1, T1)
    );

    // Interrupted: uncertain, and the old id is still held.
    let mut died = state.clone();
    state::fold(&mut died, &[begin(&state), replace("old", "T-OLD")]).unwrap();
    let record = &died.tasks["old"];
    assert_eq!(record.status, TaskStatus::Uncertain);
    assert_eq!(record.superseded[0].task_id, "T-OLD");

    // Failed: nothing was created, the previous record is back as it was.
    let mut refused = state.clone();
    let folded = state::fold(
        &mut refused,
        &[begin(&state), replace("old", "T-OLD"), failed("old")],
    )
    .unwrap();
    assert!(folded.superseded.is_empty());
    assert_eq!(refused.tasks["old"], old);

    // A second replace keeps both old ids.
    let mut twice = done.clone();
    twice.serial = 7;
    let mut header = begin(&twice);
    if let Entry::Begin { base_serial, .. } = &mut header {
        *base_serial = 7;
    }
    state::fold(
        &mut twice,
        &[header, replace("old", "T-NEW"), created("old", "T-3")],
    )
    .unwrap();
    let ids: Vec<_> = twice.tasks["old"]
        .superseded
        .iter()
        .map(|s| s.task_id.as_str())
        .collect();
    assert_eq!(ids, ["T-OLD", "T-NEW"]);
}

#[test]
fn inconsistent_journals_are_refused_and_leave_the_state_unchanged() {
    let (_dir, _path, state) = setup();
    let cases: Vec<(Vec<Entry>, &str)> = vec![
        (vec![intent("a")], "does not start with a `begin`"),
        (vec![begin(&state), intent("old")], "already in the state"),
        (
            vec![begin(&state), replace("old", "T-X")],
            "the state has task id T-OLD",
        ),
        (
            vec![begin(&state), replace("new", "T-X")],
            "not in the state",
        ),
        (
            vec![begin(&state), created("a", "T-A")],
            "without a pending intent",
        ),
        (
            vec![begin(&state), intent("a"), intent("a")],
            "second intent",
        ),
        (
            vec![begin(&state), intent("a"), begin(&state)],
            "line 3 is a second `begin`",
        ),
    ];
    for (entries, expected) in cases {
        let mut work = state.clone();
        let err = state::fold(&mut work, &entries).unwrap_err();
        assert!(err.to_string().contains(expected), "{err} / {expected}");
        assert_eq!(work, state);
    }
    let mut other_salt = state.clone();
    other_salt.salt = State::new().salt;
    assert!(state::fold(&mut other_salt, &[begin(&state)]).is_err());
}

#[test]
fn a_success_without_a_task_id_is_uncertain() {
    let (_dir, _path, mut state) = setup();
    let base = state.clone();
    let folded = state::fold(&mut state, &[begin(&base), intent("a"), created("a", "")]).unwrap();
    assert_eq!(folded.uncertain, ["a"]);
    assert_eq!(state.tasks["a"].status, TaskStatus::Uncertain);
}

#[test]
fn an_empty_or_header_torn_journal_is_removed_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    fs::write(journal_path(&path), b"{\"op\":\"begin\",\"line").unwrap();
    let loaded = load_detailed(&path).unwrap();
    assert_eq!(loaded.state, None);
    assert_eq!(loaded.journal, Some(Folded::default()));
    let lock = StateLock::acquire(&path, "apply").unwrap();
    recover(&path, &lock).unwrap();
    assert!(!journal_path(&path).exists());
    assert!(!path.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_state_is_read_written_journalled_and_locked_as_its_target() {
    let (dir, real, mut state) = setup();
    let links = dir.path().join("links");
    fs::create_dir(&links).unwrap();
    let link = links.join("callform.state.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    // The lock through the link is the lock of the target: a second apply with `--state`
    // on the target cannot run beside one through the link.
    let held = StateLock::acquire(&link, "apply").unwrap();
    assert!(matches!(
        StateLock::acquire(&real, "apply").unwrap_err(),
        StateError::Locked { .. }
    ));
    let journal = Journal::create(&link, &state).await.unwrap();
    assert_eq!(journal.path(), journal_path(&real));
    journal.record(intent("a")).await.unwrap();
    journal.record(created("a", "T-A")).await.unwrap();
    journal.close().await.unwrap();
    commit_journal(&link, &mut state).unwrap();
    drop(held);

    // The link is still a link, and the target holds the new record.
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        load(&real).unwrap().unwrap().tasks["a"].task_id.as_deref(),
        Some("T-A")
    );
    assert_eq!(load(&link).unwrap().unwrap(), load(&real).unwrap().unwrap());
    assert_eq!(
        fs::read_dir(&links).unwrap().count(),
        1,
        "nothing written beside the link"
    );

    // A directory reached through a link, with no state file yet, is resolved too.
    let real_dir = dir.path().join("real-dir");
    fs::create_dir(&real_dir).unwrap();
    let dir_link = dir.path().join("dir-link");
    std::os::unix::fs::symlink(&real_dir, &dir_link).unwrap();
    let mut fresh = State::new();
    save(&dir_link.join("s.json"), &mut fresh).unwrap();
    assert!(real_dir.join("s.json").is_file());
    let _lock = StateLock::acquire(&dir_link.join("s.json"), "apply").unwrap();
    assert!(StateLock::acquire(&real_dir.join("s.json"), "apply").is_err());

    // A link whose target is gone (a disk that is not mounted) is not "no state": it is
    // refused for reading and writing, and nothing is made at either end.
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink(real_dir.join("later.json"), &dangling).unwrap();
    let err = callform::state::load(&dangling).unwrap_err().to_string();
    assert!(
        err.contains("is a symbolic link to") && err.contains("which does not exist"),
        "{err}"
    );
    assert!(err.contains("--state"), "{err}");
    assert!(save(&dangling, &mut State::new()).is_err());
    assert!(!real_dir.join("later.json").exists());
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    // Made on purpose through its own path, it is then reached through the link.
    save(&real_dir.join("later.json"), &mut State::new()).unwrap();
    assert!(callform::state::load(&dangling).unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn a_hard_linked_state_is_refused() {
    let (dir, path, _) = setup();
    let other = dir.path().join("copy.json");
    fs::hard_link(&path, &other).unwrap();
    let err = load(&other).unwrap_err();
    assert!(
        matches!(err, StateError::HardLinked { links: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("hint:"), "{err}");
}

#[tokio::test]
async fn a_lock_file_deleted_during_a_run_does_not_let_a_second_writer_take_its_journal() {
    let (_dir, path, state) = setup();
    let first = StateLock::acquire(&path, "apply").unwrap();
    let journal = Journal::create(&path, &state).await.unwrap();
    journal.record(intent("a")).await.unwrap();

    // Someone deletes the lock file by hand; a second apply gets a lock of its own.
    fs::remove_file(lock_path(&path)).unwrap();
    assert!(matches!(
        first.verify(),
        Err(StateError::LockReplaced { .. })
    ));
    let second = StateLock::acquire(&path, "apply").unwrap();
    second.verify().unwrap();
    let before = fs::read(journal_path(&path)).unwrap();
    let err = recover(&path, &second).unwrap_err();
    assert!(matches!(err, StateError::JournalInUse { .. }), "{err:?}");
    assert!(err.to_string().contains("still running"), "{err}");
    assert_eq!(fs::read(journal_path(&path)).unwrap(), before);
    assert!(Journal::create(&path, &state).await.is_err());

    // The first run goes on, and its commit records everything.
    journal.record(created("a", "T-A")).await.unwrap();
    journal.close().await.unwrap();
    let mut state = state;
    commit_journal(&path, &mut state).unwrap();
    assert_eq!(
        load(&path).unwrap().unwrap().tasks["a"].task_id.as_deref(),
        Some("T-A")
    );
    // A journal left by a dead run is folded as before.
    drop(second);
}

#[test]
fn a_deleted_state_with_its_backup_beside_it_is_refused() {
    let (_dir, path, mut state) = setup();
    save(&path, &mut state).unwrap();
    fs::remove_file(&path).unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, StateError::OnlyBackup { .. }), "{err:?}");
    let message = err.to_string();
    let backup = backup_path(&path).display().to_string();
    for part in [
        backup.as_str(),
        "cp ",
        "mv ",
        "create every recorded task again",
    ] {
        assert!(message.contains(part), "{part} not in {message}");
    }
    let lock = StateLock::acquire(&path, "apply").unwrap();
    assert!(recover(&path, &lock).is_err());
    // Restored as the hint says, it loads.
    fs::copy(backup_path(&path), &path).unwrap();
    assert_eq!(
        load(&path).unwrap().unwrap().tasks["old"]
            .task_id
            .as_deref(),
        Some("T-OLD")
    );
}

/// Every single-bit flip of a journal this version wrote is refused, or (when it falls in
/// the torn last line, which was never acknowledged) drops only that line.
#[tokio::test]
async fn every_flipped_bit_of_a_journal_is_refused_or_harmless() {
    let (_dir, path, state) = setup();
    let journal = Journal::create(&path, &state).await.unwrap();
    journal.record(intent("a")).await.unwrap();
    journal.record(created("a", "T-A")).await.unwrap();
    drop(journal);
    let good = fs::read(journal_path(&path)).unwrap();
    let entries = read_journal(&path).unwrap().unwrap();
    assert_eq!(entries.len(), 3);
    for bit in 0..good.len() * 8 {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        fs::write(journal_path(&path), &bytes).unwrap();
        match read_journal(&path) {
            Err(_) => {}
            Ok(read) => assert_eq!(
                read.unwrap(),
                entries,
                "bit {bit} of {} ({:?}) changed the journal",
                good.len(),
                String::from_utf8_lossy(&bytes[bit / 8 - 3..(bit / 8 + 3).min(bytes.len())])
            ),
        }
    }
}

#[test]
fn a_version_1_state_fixture_is_read_and_saved_as_version_4() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1/callform.state.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callform.state.json");
    fs::copy(&fixture, &path).unwrap();
    let original = fs::read(&fixture).unwrap();
    let mut state = load(&path).unwrap().unwrap();
    assert_eq!(state.format_version, 1);
    let tasks = state.tasks.clone();
    let lock = StateLock::acquire(&path, "state rm").unwrap();
    recover(&path, &lock).unwrap();
    save(&path, &mut state).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\n  \"checksum\": \"sha256:"), "{text}");
    assert!(text.contains("\"format_version\": 4"));
    let upgraded = load(&path).unwrap().unwrap();
    assert_eq!(upgraded.tasks, tasks);
    assert_eq!(upgraded.format_version, 4);
    assert_eq!(fs::read(backup_path(&path)).unwrap(), original);
    // A flipped bit in the upgraded file is refused, naming the backup.
    let mut bytes = text.into_bytes();
    bytes[200] ^= 0x04;
    fs::write(&path, &bytes).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("checksum") && err.contains(".backup"), "{err}");
}

// The same, through the built binary.

use crate::harness::{self, bin as callform, run as output};

/// The manifests of the version 1 fixture, without its state.
fn project() -> tempfile::TempDir {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1");
    let tmp = tempfile::tempdir().unwrap();
    harness::copy_dir(&fixture, tmp.path());
    tmp
}

#[cfg(unix)]
#[test]
fn an_apply_through_a_symlinked_state_leaves_nothing_for_an_apply_on_its_target() {
    let tmp = project();
    let tasks = tmp.path().join("tasks");
    let real = tmp.path().join("real.json");
    let link = tmp.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let apply = |state: &Path| {
        output(
            callform()
                .args(["apply", "--sandbox", "--auto-approve", "--state"])
                .arg(state)
                .arg(&tasks),
        )
    };
    // While the link's target is missing (a disk not mounted), nothing is planned or sent.
    let (code, out, err) = apply(&link);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("which does not exist"), "{err}");
    assert!(!out.contains("created"), "{out}");
    assert!(!real.exists());

    let (code, out, err) = apply(&real);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 created"), "{out}");
    // The same state through the link: nothing is left to create, and the link stays.
    let (code, out, err) = apply(&link);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("5 unchanged") && !out.contains("created"),
        "{out}"
    );
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn apply_says_when_its_results_could_not_be_written_to_the_state() {
    let tmp = project();
    let tasks = tmp.path().join("tasks");
    let state = tmp.path().join("s.json");
    let apply = |target: &str| {
        output(
            callform()
                .args(["apply", "--sandbox", "--auto-approve", "--state"])
                .arg(&state)
                .args(["--target", target])
                .arg(&tasks),
        )
    };
    let (code, out, err) = apply("delivery-notice");
    assert_eq!(code, 0, "{out}{err}");
    // The backup cannot be replaced: the commit's save fails after the creates.
    fs::remove_file(backup_path(&state)).unwrap();
    fs::create_dir(backup_path(&state)).unwrap();
    let (code, out, err) = apply("payment-followup");
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("Apply complete"), "{out}");
    assert!(
        out.contains("could not be written") && out.contains(".journal"),
        "{out}"
    );
    assert!(journal_path(&state).exists());
    // Nothing is said twice.
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    // Once the backup can be written again, the next command folds the journal in.
    fs::remove_dir(backup_path(&state)).unwrap();
    let (code, out, err) = output(callform().args(["state", "list", "--state"]).arg(&state));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("payment-followup"), "{out}");
}

#[test]
fn the_same_vendor_id_recorded_for_two_tasks_blocks_both_in_the_plan() {
    let tmp = project();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1");
    let text = fs::read_to_string(fixture.join("callform.state.json")).unwrap();
    // Two longlonglong tasks with one id (the fixture is version 1: no checksum).
    let text = text.replace("\"v1-id-4\"", "\"v1-id-2\"");
    fs::write(tmp.path().join("callform.state.json"), text).unwrap();
    let (code, out, err) = output(callform().arg("plan").arg(tmp.path().join("tasks")));
    assert_eq!(code, 1, "{out}{err}");
    // The third: the Aliyun task, created by a version that sent its callees as `Caller`.
    assert!(out.contains("3 blocked"), "{out}");
    assert!(
        out.contains("v1-id-2")
            && out.contains("`payment-followup`")
            && out.contains("`satisfaction-survey`"),
        "{out}"
    );
}

#[test]
fn a_saved_plan_with_a_flipped_bit_is_refused() {
    let tmp = project();
    let tasks = tmp.path().join("tasks");
    let plan = tmp.path().join("plan.json");
    let (code, out, err) = output(
        callform()
            .args(["plan", "--sandbox", "--out"])
            .arg(&plan)
            .arg(&tasks),
    );
    assert_eq!(code, 0, "{out}{err}");
    let good = fs::read(&plan).unwrap();
    assert!(good.starts_with(b"{\n  \"checksum\": \"sha256:"));
    let (code, out, err) = output(callform().arg("show").arg(&plan));
    assert_eq!(code, 0, "{out}{err}");
    let mut bad = good.clone();
    let at = good.len() / 2;
    bad[at] ^= 0x01;
    fs::write(&plan, &bad).unwrap();
    for args in [&["show"][..], &["apply", "--sandbox"][..]] {
        let (code, out, err) = output(callform().args(args).arg(&plan));
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("does not match its checksum"),
            "{args:?}: {err}"
        );
    }
}

/// A live apply (here: this test, holding a run's journal) whose lock file is deleted by
/// hand: a second apply gets a lock file of its own, but neither folds nor removes the
/// journal, and sends nothing.
#[tokio::test]
async fn a_second_apply_after_the_lock_file_was_deleted_sends_nothing() {
    let tmp = project();
    let tasks = tmp.path().join("tasks");
    let path = tmp.path().join("s.json");
    let apply = |target: &str| {
        output(
            callform()
                .args(["apply", "--sandbox", "--auto-approve", "--state"])
                .arg(&path)
                .args(["--target", target])
                .arg(&tasks),
        )
    };
    let (code, out, err) = apply("delivery-notice");
    assert_eq!(code, 0, "{out}{err}");
    let state = load(&path).unwrap().unwrap();
    let first = StateLock::acquire(&path, "apply").unwrap();
    let journal = Journal::create(&path, &state).await.unwrap();
    journal.record(intent("in-flight")).await.unwrap();
    fs::remove_file(lock_path(&path)).unwrap();
    let before = fs::read(journal_path(&path)).unwrap();

    let (code, out, err) = apply("payment-followup");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("still running"), "{err}");
    assert!(!out.contains("created"), "{out}");
    assert_eq!(fs::read(journal_path(&path)).unwrap(), before);
    assert_eq!(load(&path).unwrap().unwrap().serial, state.serial);
    assert!(first.verify().is_err());

    // The first run ends and records its create.
    journal.record(created("in-flight", "T-1")).await.unwrap();
    journal.close().await.unwrap();
    commit_journal(&path, &mut state.clone()).unwrap();
    assert!(load(&path)
        .unwrap()
        .unwrap()
        .tasks
        .contains_key("in-flight"));
}

/// A saved state whose task `old` (created, `T-OLD`) has two batches loaded (50 + 30 rows),
/// batch 2 uncertain and a start recorded; as JSON, to break one rule at a time.
fn stepped_state() -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let (dir, path, mut state) = setup();
    let h = |k: u8| format!("h1:{}", format!("{k:x}").repeat(32));
    let rec = state.tasks.get_mut("old").unwrap();
    rec.callees = Some(state::CalleeProgress {
        rows: 80,
        batches: vec![
            state::Batch {
                i: 0,
                n: 50,
                through: h(1),
            },
            state::Batch {
                i: 1,
                n: 30,
                through: h(2),
            },
        ],
        pending: Some(state::Pending {
            i: 2,
            offset: 80,
            n: 20,
            through: h(3),
            at: T1.into(),
            state: state::PendingState::Uncertain,
            reason: Some("HTTP 502".into()),
            code: None,
            in_create: false,
        }),
        keyed_as: Some("older".into()),
    });
    rec.run = Some(state::RunRecord {
        state: state::RunState::Started,
        at: T1.into(),
        how: "task/start".into(),
        reason: None,
        verb: None,
        before: None,
    });
    save(&path, &mut state).unwrap();
    let value = serde_json::to_value(load(&path).unwrap()).unwrap();
    (dir, path, value)
}

fn write_sealed(path: &Path, value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap();
    fs::write(path, state::checksum::seal(text.as_bytes())).unwrap();
}

#[test]
fn a_state_breaking_a_step_rule_is_refused_naming_task_and_field_and_left_untouched() {
    use serde_json::json;
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit, &str)] = &[
        (
            "batches not contiguous",
            |t| t["callees"]["batches"][1]["i"] = json!(2),
            "`callees.batches[1].i` is 2; expected 1",
        ),
        (
            "a batch of no rows",
            |t| t["callees"]["batches"][1]["n"] = json!(0),
            "`callees.batches[1].n` is 0",
        ),
        (
            "rows not the sum",
            |t| t["callees"]["rows"] = json!(79),
            "`callees.rows` is 79; expected 80",
        ),
        (
            "a through that is no digest",
            |t| t["callees"]["batches"][0]["through"] = json!("h1:XYZ"),
            "`callees.batches[0].through` is not a digest",
        ),
        (
            "a pending batch that is not the next",
            |t| t["callees"]["pending"]["i"] = json!(3),
            "`callees.pending.i` is 3; expected 2",
        ),
        (
            "a pending batch not at the rows loaded",
            |t| t["callees"]["pending"]["offset"] = json!(50),
            "`callees.pending.offset` is 50; expected 80",
        ),
        (
            "a pending through that is no digest",
            |t| t["callees"]["pending"]["through"] = json!("v2:abc"),
            "`callees.pending.through` is not a digest",
        ),
        (
            "a pending batch in flight",
            |t| t["callees"]["pending"]["state"] = json!("in_flight"),
            "`callees.pending.state` is `in_flight`",
        ),
        (
            "in_create on a later batch",
            |t| t["callees"]["pending"]["in_create"] = json!(true),
            "`callees.pending.in_create` is set on batch 2",
        ),
        (
            "keyed_as its own name",
            |t| t["callees"]["keyed_as"] = json!("old"),
            "`callees.keyed_as` is \"old\"",
        ),
        (
            "a start in flight",
            |t| t["run"]["state"] = json!("in_flight"),
            "`run.state` is `in_flight`",
        ),
        (
            "a run record on an uncertain task",
            |t| {
                t["status"] = json!("uncertain");
                t["callees"] = serde_json::Value::Null;
                t.as_object_mut().unwrap().remove("callees");
            },
            "`run` is recorded (started, by \"task/start\") but the task is `uncertain`",
        ),
        (
            "batches loaded on an uncertain task",
            |t| {
                t["status"] = json!("uncertain");
                t.as_object_mut().unwrap().remove("run");
            },
            "`callees.batches` holds 2 loaded batch(es) but the task is `uncertain`",
        ),
    ];
    let (_dir, path, good) = stepped_state();
    // The base loads: every refusal below is the one edit's.
    write_sealed(&path, &good);
    load(&path).unwrap();
    for (what, edit, expected) in cases {
        let mut bad = good.clone();
        edit(&mut bad["tasks"]["old"]);
        write_sealed(&path, &bad);
        let before = snapshot(path.parent().unwrap());
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("task `old`: ") && err.contains(expected),
            "{what}: {err}"
        );
        assert!(err.contains("hint: "), "{what}: {err}");
        let lease = state::open(&path).unwrap().lock("apply").unwrap();
        let err = state::open(&path).unwrap().recover(&lease).unwrap_err();
        assert!(err.to_string().contains(expected), "{what}: {err}");
        lease.release().unwrap();
        assert_eq!(
            snapshot(path.parent().unwrap()),
            before,
            "{what}: the file is never rewritten"
        );
    }
}

/// A state whose task `old` had 80 rows loaded in two batches and was started, then was
/// replaced (`--replace`) by `T-NEW`; `rm_after`: the replacement ended uncertain.
fn replaced_after_loading(uncertain_replacement: bool) -> (tempfile::TempDir, PathBuf, State) {
    use callform::state::replay::StepOutcome;
    let (dir, path, mut state) = setup();
    let h = |k: u8| format!("h1:{}", format!("{k:x}").repeat(32));
    let done = || StepOutcome::Done {
        request_id: None,
        warnings: vec![],
    };
    let mut entries = vec![begin(&state)];
    for (i, offset, n) in [(0u32, 0u64, 50u32), (1, 50, 30)] {
        entries.push(Entry::Batch {
            name: "old".into(),
            i,
            offset,
            n,
            through: h(i as u8 + 1),
            at: T0.into(),
        });
        entries.push(Entry::BatchOutcome {
            name: "old".into(),
            i,
            at: T1.into(),
            outcome: done(),
        });
    }
    entries.push(Entry::Start {
        name: "old".into(),
        at: T1.into(),
        how: "task/start".into(),
    });
    entries.push(Entry::StartOutcome {
        name: "old".into(),
        at: T1.into(),
        outcome: done(),
    });
    entries.push(replace("old", "T-OLD"));
    if !uncertain_replacement {
        entries.push(created("old", "T-NEW"));
    }
    state::fold(&mut state, &entries).unwrap();
    save(&path, &mut state).unwrap();
    (dir, path, state)
}

#[test]
fn a_superseded_task_keeps_its_callees_and_run_state_and_list_shows_them() {
    let (_dir, path, state) = replaced_after_loading(false);
    let rec = &state.tasks["old"];
    assert_eq!((rec.callees.as_ref(), rec.run.as_ref()), (None, None));
    let gone = &rec.superseded[0];
    let callees = gone.callees.as_ref().unwrap();
    assert_eq!((callees.rows, callees.batches.len()), (80, 2));
    assert_eq!(gone.run.as_ref().unwrap().state, state::RunState::Started);

    // The text table: the new task's columns, and the old one under it, which may dial.
    let (code, out, err) = output(callform().args(["state", "list", "--state"]).arg(&path));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("CALLEES") && out.contains("RUN"), "{out}");
    let line = out.lines().find(|l| l.starts_with("old ")).unwrap();
    assert!(
        line.contains("T-NEW") && line.contains("not started"),
        "{out}"
    );
    let sup = out
        .lines()
        .find(|l| l.contains("superseded T-OLD"))
        .unwrap();
    assert!(
        sup.contains("callees 80 in 2 batches, started") && sup.contains("may still dial"),
        "{out}"
    );

    // JSON, as documented.
    let (code, out, err) = output(
        callform()
            .args(["state", "list", "--format", "json", "--state"])
            .arg(&path),
    );
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let t = &doc["tasks"][0];
    assert_eq!(
        (&t["callees"], &t["run"]),
        (&serde_json::Value::Null, &serde_json::json!("not_started"))
    );
    assert_eq!(
        t["superseded"][0],
        serde_json::json!({
            "task_id": "T-OLD",
            "endpoint": rec.endpoint,
            "superseded_at": T1,
            "callees": {"rows": 80, "batches": 2, "pending": null},
            "run": "started",
        })
    );
    // `state show` has the whole entry.
    let (code, out, _) = output(
        callform()
            .args(["state", "show", "old", "--state"])
            .arg(&path),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("\"superseded\"") && out.contains("\"task/start\""),
        "{out}"
    );
}

#[test]
fn rm_of_an_uncertain_replacement_restores_the_old_task_with_its_callees_and_run() {
    let (_dir, path, _) = replaced_after_loading(true);
    let (code, out, err) = output(
        callform()
            .args(["state", "rm", "old", "--state"])
            .arg(&path),
    );
    assert_eq!(code, 0, "{out}{err}");
    let back = load(&path).unwrap().unwrap().tasks["old"].clone();
    assert_eq!(back.task_id.as_deref(), Some("T-OLD"));
    let callees = back.callees.unwrap();
    assert_eq!(
        (callees.rows, callees.batches.len()),
        (80, 2),
        "never loaded again"
    );
    assert_eq!(back.run.unwrap().state, state::RunState::Started);
    // The list shows a loaded, started task.
    let (_, out, _) = output(callform().args(["state", "list", "--state"]).arg(&path));
    let line = out.lines().find(|l| l.starts_with("old ")).unwrap();
    assert!(
        line.contains("80 in 2 batches") && line.contains("started"),
        "{out}"
    );
}

/// `--lock-timeout` on the file backend: an apply waits for the holder's lock file to be
/// released, instead of failing at once; a timeout that runs out names the holder.
#[test]
fn lock_timeout_waits_for_the_file_lock() {
    let (_tmp, tasks, _) = crate::harness::examples();
    let sandbox_state = tasks.parent().unwrap().join("callform.sandbox.state.json");
    let held = StateLock::acquire(&sandbox_state, "state rm").unwrap();
    let apply = |timeout: &str| {
        crate::harness::run(
            crate::harness::bin()
                .args([
                    "apply",
                    "--sandbox",
                    "--auto-approve",
                    "--lock-timeout",
                    timeout,
                ])
                .arg(&tasks),
        )
    };
    let started = std::time::Instant::now();
    let (code, _, err) = apply("200ms");
    assert_eq!(code, 1, "{err}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(
        err.contains("locked by") && err.contains("`state rm`"),
        "{err}"
    );

    let mut cmd = crate::harness::bin()
        .args([
            "apply",
            "--sandbox",
            "--auto-approve",
            "--lock-timeout",
            "30s",
        ])
        .arg(&tasks)
        .command();
    cmd.env("NO_COLOR", "1");
    let (code, err) = crate::harness::released_while_waiting(cmd, move || held.release().unwrap());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("waiting up to 30s"), "{err}");
}
