//! The journal: every create is durable on its own, before and after its request.
//!
//! A run appends to `P.journal` (JSON Lines) instead of rewriting the state after each
//! create, so recording one entry costs one append and one `fdatasync`, whatever the number
//! of tasks in the state. The journal is folded into the state when the run ends, and replayed
//! on load if the run died.
//!
//! ```text
//! {"op":"begin","lineage":"<32 hex>","salt":"<32 hex>","base_serial":7,"run":"<16 hex>","at":"2026-03-01T08:00:00Z"}
//! {"op":"intent","name":"renewal","vendor":"aliyun","provider":"aliyun","endpoint":"https://…","spec_digest":"sha256:…","canonical_version":1,"spec":{…},"at":"…"}
//! {"op":"intent","name":"winback","vendor":"xfyeta",…,"replaces":"T-OLD"}
//! {"op":"outcome","name":"renewal","at":"…","outcome":{"result":"created","task_id":"1234","request_id":"…","warnings":[]}}
//! {"op":"outcome","name":"winback","at":"…","outcome":{"result":"failed","code":"…","message":"…"}}
//! {"op":"outcome","name":"x","at":"…","outcome":{"result":"uncertain","reason":"HTTP 502 after the request was sent"}}
//! ```
//!
//! Each line ends with the SHA-256 of its entry (`…,"sum":"<64 hex>"}`, see
//! `super::checksum`): a line that does not match is refused, not interpreted. A journal
//! whose first line has no checksum was written before checksums and is read as before.
//!
//! Invariants and why they hold:
//!
//! - **Intent before request.** [`Journal::record`] returns only once its entry is on disk
//!   (`fdatasync`), and apply sends a create only after its `Intent` was recorded. A run
//!   killed at any moment leaves, for every request that may have left, an intent on disk;
//!   replayed without an outcome it becomes `uncertain`, never "not created".
//! - **Group commit.** One writer thread owns the file. It takes every entry waiting in its
//!   channel, writes them with one `write`, syncs once, and only then wakes each waiter. No
//!   entry is acknowledged before the sync that covers it. Entries reach the file in the order
//!   they were accepted, so an outcome always follows its intent. [`Journal::record_all`]
//!   queues its entries as one piece: the outcome of step k and the intent of step k+1 go
//!   out in the same `write` and are covered by the same sync. A crash during that write
//!   leaves at most a torn last line: the intent lost (the step was never sent, as its
//!   request waits for the ack) or both lost (step k replays as uncertain), never an
//!   intent without the outcome before it.
//! - **`fdatasync` is enough** for entries: the file only grows, and `fdatasync` also flushes
//!   the size change needed to read the data back. The header is written with `sync_all` and
//!   the directory is fsynced after the file is created: the file's name lives in the
//!   directory, and without that sync a crash could lose the whole journal.
//! - **A failed write or sync poisons the journal.** After a failed `fsync` the kernel may have
//!   dropped the dirty pages and a later `fsync` can succeed without them, and a partial write
//!   would leave a torn line in the middle. So the writer refuses everything after the first
//!   failure; apply must stop sending.
//! - **Torn last line.** Only the last write can be incomplete after a crash, so the reader
//!   ignores a last line that is not complete JSON; a damaged line before it is an error.
//! - **Checked before written.** Each entry is replayed on an in-memory copy of the state
//!   before it is queued, with the same rules as [`fold`], so a journal this writer produced
//!   always folds; an entry that contradicts the state (a create of a task that exists, a
//!   replace of another id, an outcome without intent) is refused and its request must not be
//!   sent.
//! - **Folding once.** The header holds the serial of the state the run started from. A state
//!   with a greater serial was saved with the journal folded in (the save succeeded, the
//!   removal did not happen): the journal is skipped, after checking that its records are
//!   indeed in the state. The header also holds the lineage (a journal of another state is an
//!   error) and the salt (when the first apply died there is no state file, and the salt is
//!   the key of the digests in the recorded specs).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;

use tokio::sync::oneshot;

use super::{check_on_disk, checksum, journal_path, save, sync_dir, StateError};
use crate::state::model::{now_rfc3339, random_hex};
use crate::state::replay::{fold, Entry, Folded, Replay};
use crate::state::State;

/// Reads the journal of the state at `state_path`: `None` when there is none. A last line cut
/// short by a crash is ignored; any other damaged line is an error.
pub fn read_journal(state_path: &Path) -> Result<Option<Vec<Entry>>, StateError> {
    read_journal_at(&super::resolve(state_path)?)
}

/// [`read_journal`] for a resolved state path.
///
/// Lines written by this version end with their checksum (see [`super::checksum`]); a
/// journal whose header has one must have one on every line. Lines without one (a journal
/// left by a callform before checksums) are read as before.
pub(crate) fn read_journal_at(state_path: &Path) -> Result<Option<Vec<Entry>>, StateError> {
    let path = journal_path(state_path);
    let Some(bytes) = super::read_store_file(&path)? else {
        return Ok(None);
    };
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| (i + 1, line))
        .collect();
    // Whether the last line was ended by its newline: a line cut short by a crash was not.
    let ended = bytes.ends_with(b"\n");
    let mut summed = None;
    let mut entries = Vec::with_capacity(lines.len());
    for (k, &(line_no, line)) in lines.iter().enumerate() {
        let last = k + 1 == lines.len();
        // A torn write never leaves a complete line with its checksum followed by something
        // else: that is a damaged newline, and the line's record is not dropped silently.
        // Zeros where a write's data never reached the disk come first in what is left of
        // the line; a zero further in can be a flipped bit.
        let torn = last && (!ended || line.first() == Some(&0)) && !damaged_end(line);
        let corrupt = |message: String| StateError::JournalCorrupt {
            path: path.clone(),
            line: line_no,
            message,
        };
        let (json, has_sum) = match checksum::check_line(line) {
            checksum::Line::Intact(json) => (json, true),
            checksum::Line::Absent => (line.to_vec(), false),
            // Cut short by a crash during the last write: its entries were never
            // acknowledged, so no request depended on them.
            checksum::Line::Mismatch if torn => continue,
            checksum::Line::Mismatch => {
                return Err(corrupt(
                    "the line does not match its checksum (it was damaged or edited)".into(),
                ))
            }
        };
        match serde_json::from_slice::<Entry>(&json) {
            Ok(entry) => {
                match (*summed.get_or_insert(has_sum), has_sum) {
                    (true, false) if torn => continue,
                    (true, false) => {
                        return Err(corrupt(
                            "the line has no checksum, but the journal's first line has one".into(),
                        ))
                    }
                    (false, true) => {
                        return Err(corrupt(
                            "the line has a checksum, but the journal's first line has none".into(),
                        ))
                    }
                    _ => {}
                }
                entries.push(entry);
            }
            Err(e)
                if last
                    && !has_sum
                    && (e.is_eof() || e.is_syntax())
                    && (torn || summed != Some(true)) => {}
            Err(e) => return Err(corrupt(e.to_string())),
        }
    }
    Ok(Some(entries))
}

/// Whether `line` is a complete line with a valid checksum followed by bytes that are not
/// its newline.
fn damaged_end(line: &[u8]) -> bool {
    line.windows(2)
        .rposition(|w| w == b"\"}")
        .is_some_and(|at| {
            at + 2 < line.len()
                && matches!(
                    checksum::check_line(&line[..at + 2]),
                    checksum::Line::Intact(_)
                )
        })
}

/// Locks the journal of the state at `state_path` (resolved) for folding or removal: a run
/// holds its journal locked while it writes it, so a journal found locked belongs to a live
/// process and is left alone, even when the state's lock file was tampered with. `None` when
/// there is no journal. The lock is released when the file is dropped.
pub(crate) fn lock_journal(state_path: &Path) -> Result<Option<File>, StateError> {
    let path = journal_path(state_path);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io(&path, "open", e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Err(StateError::JournalInUse { path }),
        Err(fs::TryLockError::Error(e)) => Err(StateError::io(&path, "lock", e)),
    }
}

/// Journals this process wrote and has closed but not yet committed, still locked: the lock
/// is kept from the first line to the removal, so that no other process folds a journal
/// between [`Journal::close`] and [`commit_journal`].
static CLOSED: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

fn take_closed(journal: &Path) -> Option<File> {
    let mut closed = CLOSED.lock().unwrap_or_else(PoisonError::into_inner);
    let i = closed.iter().position(|(p, _)| p == journal)?;
    Some(closed.swap_remove(i).1)
}

/// Removes the journal of the state at `state_path`; call it only after a successful save of
/// a state that contains the journal's entries. The directory is fsynced so the removal is not
/// undone by a crash; a journal that came back would be recognised as folded by its serial,
/// but would have to be checked and removed again.
pub fn remove_journal(state_path: &Path) -> Result<(), StateError> {
    let path = journal_path(&super::resolve(state_path)?);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(&path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(&path, "remove", e)),
    }
}

/// Ends a run: folds the journal on disk into `state` (the state the run started from,
/// unchanged since [`Journal::create`]), saves it and removes the journal. Call it after
/// [`Journal::close`]. Folding what is on disk, rather than what the run believes, makes the
/// saved state hold exactly what is durable.
pub fn commit_journal(path: &Path, state: &mut State) -> Result<Folded, StateError> {
    let path = &super::resolve(path)?;
    let journal = journal_path(path);
    // Still locked since the run's first line when this process closed it; locked afresh
    // otherwise (a commit of a journal closed elsewhere, as tests do).
    let _guard = match take_closed(&journal) {
        Some(file) => Some(file),
        None => lock_journal(path)?,
    };
    let Some(entries) = read_journal_at(path)? else {
        return Err(StateError::JournalMissing { path: journal });
    };
    let folded = fold(state, &entries).map_err(|cause| StateError::Fold {
        path: journal,
        cause,
    })?;
    if !folded.already_folded {
        save(path, state)?;
    }
    remove_journal(path)?;
    Ok(folded)
}

type Ack = oneshot::Sender<Result<(), String>>;

/// The writer side of a run's journal. Shared by reference between concurrent creates.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    run: String,
    /// `None` once closed (or dropped).
    queue: Option<mpsc::Sender<(Vec<u8>, Ack)>>,
    /// The state as the journal so far leaves it, to refuse contradicting entries.
    check: Mutex<Check>,
    shared: Arc<Shared>,
    /// `None` once closed (or dropped).
    writer: Option<thread::JoinHandle<Result<(), String>>>,
    /// The journal file, locked (the writer's handle shares the lock): kept until the commit.
    guard: Option<File>,
}

impl Drop for Journal {
    /// A journal dropped without [`Journal::close`] (the run stopped): the writer is stopped
    /// and waited for, so that its handle, and with it the journal's lock, is gone when the
    /// drop returns, and the next run in this process can fold the journal.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[derive(Debug)]
struct Check {
    state: State,
    replay: Replay,
    /// Lines accepted so far, the header included.
    lines: usize,
}

#[derive(Debug, Default)]
struct Shared {
    syncs: AtomicU64,
    /// Held by a test to keep the writer from starting its next batch.
    #[cfg(test)]
    gate: Mutex<()>,
    #[cfg(test)]
    queued: AtomicU64,
}

impl Journal {
    /// Starts the journal of a run on `state` (the state as loaded for this run, or
    /// `State::new()` when there is none yet). Fails if a journal already exists: it must be
    /// folded first. The header is on disk, and the file's name too, when this returns.
    pub async fn create(state_path: &Path, state: &State) -> Result<Journal, StateError> {
        let state_path = &super::resolve(state_path)?;
        let path = journal_path(state_path);
        let run = random_hex(8);
        let header = Entry::Begin {
            lineage: state.lineage.clone(),
            salt: state.salt.clone(),
            base_serial: state.serial,
            run: run.clone(),
            at: now_rfc3339(),
        };
        let line = line_of(&path, &header)?;
        let file = {
            let target = path.clone();
            let state_path = state_path.to_path_buf();
            let base = state.clone();
            tokio::task::spawn_blocking(move || {
                // A run on another version than the one on disk could not be committed, and
                // its creates would wait in a journal that no longer fits: refuse it before
                // anything is sent.
                if check_on_disk(&state_path, &base)?.is_none() && base.serial != 0 {
                    // Deleted since the load: a crash would leave a journal with no state.
                    return Err(StateError::io(
                        &state_path,
                        "read",
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            "it was deleted since it was loaded",
                        ),
                    ));
                }
                create_file(&target, &line)
            })
            .await
            .map_err(|e| StateError::JournalWrite {
                path: path.clone(),
                reason: e.to_string(),
            })??
        };
        let guard = file
            .try_clone()
            .map_err(|e| StateError::io(&path, "open", e))?;
        let shared = Arc::new(Shared::default());
        let (queue, inbox) = mpsc::channel();
        let writer = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("callform-journal".into())
                .spawn(move || write_loop(file, inbox, &shared))
                .map_err(|e| StateError::io(&path, "start the writer of", e))?
        };
        Ok(Journal {
            path,
            run,
            queue: Some(queue),
            check: Mutex::new(Check {
                state: state.clone(),
                replay: Replay::default(),
                lines: 1,
            }),
            shared,
            writer: Some(writer),
            guard: Some(guard),
        })
    }

    /// Appends `entry` and returns once it is on disk. Concurrent calls share one sync.
    /// An entry that contradicts the state or the run so far is refused and not written.
    pub async fn record(&self, entry: Entry) -> Result<(), StateError> {
        self.record_all(vec![entry]).await
    }

    /// Appends `entries`, in order, with ONE write and ONE sync, and returns once they are
    /// on disk: the outcome of one step and the intent of the next land together, or (a
    /// torn tail) the intent is lost with nothing after it, which replays as "not sent".
    /// An entry refused stops the rest: the ones before it are still written (in one write)
    /// and the refusal is returned once they are durable; none after it is written.
    pub async fn record_all(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        let mut buf = Vec::new();
        for entry in &entries {
            buf.extend_from_slice(&line_of(&self.path, entry)?);
        }
        let (ack, acked) = oneshot::channel();
        let refused = {
            // Checked and queued under one lock, so the file's order is the checked order.
            let mut check = self.check.lock().unwrap_or_else(PoisonError::into_inner);
            let Check {
                state,
                replay,
                lines,
            } = &mut *check;
            let mut refused = None;
            let mut end = 0;
            for entry in &entries {
                if let Err(cause) = replay.apply(state, entry, *lines + 1) {
                    refused = Some(StateError::JournalRejected {
                        path: self.path.clone(),
                        cause,
                    });
                    break;
                }
                *lines += 1;
                // Each line ends with its newline: the accepted prefix ends at the next one.
                end += buf[end..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(buf.len() - end, |at| at + 1);
            }
            buf.truncate(end);
            if buf.is_empty() {
                return refused.map_or(Ok(()), Err);
            }
            self.queue
                .as_ref()
                .ok_or_else(|| self.write_error("the journal is closed"))?
                .send((buf, ack))
                .map_err(|_| self.write_error("the journal writer stopped"))?;
            #[cfg(test)]
            self.shared.queued.fetch_add(1, Ordering::SeqCst);
            refused
        };
        acked
            .await
            .map_err(|_| self.write_error("the journal writer stopped"))?
            .map_err(|reason| StateError::JournalWrite {
                path: self.path.clone(),
                reason,
            })?;
        refused.map_or(Ok(()), Err)
    }

    /// Stops the writer once everything queued is on disk. Fails if any write failed.
    pub async fn close(mut self) -> Result<(), StateError> {
        let path = self.path.clone();
        drop(self.queue.take());
        let Some(writer) = self.writer.take() else {
            return Err(self.write_error("the journal is closed"));
        };
        let joined = tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| e.to_string());
        match joined {
            Ok(Ok(Ok(()))) => {
                // Still locked until `commit_journal` has folded and removed it.
                if let Some(guard) = self.guard.take() {
                    CLOSED
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((path, guard));
                }
                Ok(())
            }
            Ok(Ok(Err(reason))) => Err(StateError::JournalWrite { path, reason }),
            Ok(Err(_)) => Err(StateError::JournalWrite {
                path,
                reason: "the journal writer panicked".into(),
            }),
            Err(reason) => Err(StateError::JournalWrite { path, reason }),
        }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This run's id, as in the header.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// How many times the writer synced entries (the header's sync not counted); fewer than
    /// the entries recorded when concurrent records shared a sync.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::SeqCst)
    }

    fn write_error(&self, reason: &str) -> StateError {
        StateError::JournalWrite {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

fn line_of(path: &Path, entry: &Entry) -> Result<Vec<u8>, StateError> {
    // Compact JSON never contains a raw newline (strings escape it), so one entry is one line.
    let json = serde_json::to_vec(entry).map_err(|e| StateError::JournalWrite {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut line = checksum::sum_line(&json);
    line.push(b'\n');
    Ok(line)
}

fn create_file(path: &Path, header: &[u8]) -> Result<File, StateError> {
    let mut file = match OpenOptions::new().append(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(StateError::JournalExists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(StateError::io(path, "create", e)),
    };
    // Locked for as long as this run may write it: a journal found locked is a live run's,
    // and no other process folds or removes it (see `lock_journal`).
    let locked = match file.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(StateError::JournalInUse {
            path: path.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(StateError::io(path, "lock", e)),
    };
    let written = locked
        .and_then(|()| {
            file.write_all(header)
                .map_err(|e| StateError::io(path, "write", e))
        })
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| StateError::io(path, "write", e))
        })
        .and_then(|()| sync_dir(path));
    if let Err(e) = written {
        // Nothing was recorded yet, so nothing can be lost by removing it.
        drop(file);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

/// The writer thread: batches whatever is queued, one write and one sync per batch.
fn write_loop(
    mut file: File,
    inbox: mpsc::Receiver<(Vec<u8>, Ack)>,
    shared: &Shared,
) -> Result<(), String> {
    let mut failure: Option<String> = None;
    while let Ok(first) = inbox.recv() {
        #[cfg(test)]
        let _gate = shared.gate.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = vec![first];
        batch.extend(inbox.try_iter());
        let result = match &failure {
            Some(reason) => Err(reason.clone()),
            None => {
                let mut buf = Vec::with_capacity(batch.iter().map(|(line, _)| line.len()).sum());
                for (line, _) in &batch {
                    buf.extend_from_slice(line);
                }
                let written = file.write_all(&buf).and_then(|()| {
                    shared.syncs.fetch_add(1, Ordering::SeqCst);
                    file.sync_data()
                });
                written.map_err(|e| {
                    let reason = format!("write or sync failed: {e}");
                    failure = Some(reason.clone());
                    reason
                })
            }
        };
        for (_, ack) in batch {
            // A waiter that went away (its task was cancelled) needs no answer.
            let _ = ack.send(result.clone());
        }
    }
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Outcome;
    use std::time::Duration;

    fn intent(name: &str) -> Entry {
        Entry::Intent {
            name: name.into(),
            vendor: "aliyun".into(),
            provider: "aliyun".into(),
            endpoint: "https://dyvmsapi.aliyuncs.com".into(),
            spec_digest: format!("sha256:{name}"),
            canonical_version: 1,
            spec: serde_json::json!({"task_name": name}),
            at: "2026-01-01T00:00:00Z".into(),
            replaces: None,
            batch: None,
            start: false,
        }
    }

    fn created(name: &str, id: &str) -> Entry {
        Entry::Outcome {
            name: name.into(),
            at: "2026-01-01T00:00:01Z".into(),
            outcome: Outcome::Created {
                task_id: id.into(),
                request_id: None,
                warnings: vec![],
            },
        }
    }

    // The std guard is held across the wait on purpose: it blocks the writer thread, which
    // never runs on the runtime.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_records_share_syncs_and_all_reach_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("s.json");
        let state = State::new();
        let journal = Arc::new(Journal::create(&state_path, &state).await.unwrap());

        // Hold the writer after its first entry until all 50 are queued: the rest must then
        // go out in one batch, whatever the machine's speed.
        let gate = journal.shared.gate.lock().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let journal = Arc::clone(&journal);
            tasks.spawn(async move { journal.record(intent(&format!("t{i:02}"))).await });
        }
        while journal.shared.queued.load(Ordering::SeqCst) < 50 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(gate);
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        let syncs = journal.syncs();
        assert!(syncs <= 2, "{syncs} syncs for 50 entries");

        let entries = read_journal(&state_path).unwrap().unwrap();
        assert_eq!(entries.len(), 51);
        let mut names: Vec<_> = entries[1..]
            .iter()
            .map(|e| match e {
                Entry::Intent { name, .. } => name.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            (0..50).map(|i| format!("t{i:02}")).collect::<Vec<_>>()
        );
        Arc::into_inner(journal).unwrap().close().await.unwrap();
    }

    #[tokio::test]
    async fn record_refuses_entries_that_contradict_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("s.json");
        let mut state = State::new();
        let mut seed = state.clone();
        fold(
            &mut seed,
            &[
                Entry::Begin {
                    lineage: state.lineage.clone(),
                    salt: state.salt.clone(),
                    base_serial: 0,
                    run: "r".into(),
                    at: "t".into(),
                },
                intent("old"),
                created("old", "T-1"),
            ],
        )
        .unwrap();
        state.tasks = seed.tasks;
        let journal = Journal::create(&state_path, &state).await.unwrap();

        let err = journal.record(intent("old")).await.unwrap_err();
        assert!(matches!(err, StateError::JournalRejected { .. }), "{err:?}");
        let err = journal.record(created("new", "T-2")).await.unwrap_err();
        assert!(
            err.to_string().contains("without a pending intent"),
            "{err}"
        );
        journal.record(intent("new")).await.unwrap();
        let err = journal.record(intent("new")).await.unwrap_err();
        assert!(err.to_string().contains("second intent"), "{err}");
        let err = journal
            .record(Entry::Begin {
                lineage: state.lineage.clone(),
                salt: state.salt.clone(),
                base_serial: 0,
                run: "x".into(),
                at: "t".into(),
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("begin"), "{err}");
        journal.record(created("new", "T-2")).await.unwrap();
        journal.close().await.unwrap();

        // Only the accepted entries were written.
        let entries = read_journal(&state_path).unwrap().unwrap();
        assert_eq!(entries.len(), 3);
    }

    #[tokio::test]
    async fn a_journal_only_starts_from_the_state_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::new();
        let stale = state.clone();
        super::super::save(&path, &mut state).unwrap();

        let err = Journal::create(&path, &stale).await.unwrap_err();
        assert!(matches!(err, StateError::SerialConflict { .. }), "{err:?}");
        let err = Journal::create(&path, &State::new()).await.unwrap_err();
        assert!(matches!(err, StateError::LineageConflict { .. }), "{err:?}");
        fs::remove_file(&path).unwrap();
        let err = Journal::create(&path, &state).await.unwrap_err();
        assert!(err.to_string().contains("deleted since"), "{err}");
        assert!(!journal_path(&path).exists());
    }

    #[tokio::test]
    async fn a_second_journal_is_refused_until_the_first_is_folded() {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("s.json");
        let state = State::new();
        let journal = Journal::create(&state_path, &state).await.unwrap();
        let err = Journal::create(&state_path, &state).await.unwrap_err();
        assert!(matches!(err, StateError::JournalExists { .. }), "{err:?}");
        journal.close().await.unwrap();
        let err = Journal::create(&state_path, &state).await.unwrap_err();
        assert!(matches!(err, StateError::JournalExists { .. }), "{err:?}");
    }
}
