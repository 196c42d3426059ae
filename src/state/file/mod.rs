//! The file store: the state, what callform has created at the vendors, in files beside
//! each other. [`FileBackend`] is this store behind [`super::StateBackend`]; the data is
//! [`super::model`], and a journal is folded by the shared rules of [`super::replay`].
//!
//! A created task dials real people, so the state must never lose a record (the next apply
//! would create the task again) and never be replaced by a stale or foreign copy. For a state
//! path `P` (default `callform.state.json`) four files live side by side:
//!
//! - `P` — the state: pretty JSON with a trailing newline, tasks sorted by name.
//! - `P.backup` — the previous version, refreshed on every save.
//! - `P.lock` — held by the one process allowed to write ([`lock`]).
//! - `P.journal` — the creates of the running apply, one durable line each ([`journal`]).
//!
//! Invariants kept here:
//!
//! - [`load`] never writes. A file that does not load is reported with its position and a
//!   hint, and left byte for byte as it was. A journal left by a run that died is replayed in
//!   memory on top of the state, so every reader sees every create that may exist.
//! - [`save`] replaces `P` atomically: the new version is written to a temporary file in the
//!   same directory and fsynced *before* the rename, so after a crash `P` is either the whole
//!   old version or the whole new one, never a mix or an empty file. The directory is fsynced
//!   after the rename, because the rename lives in the directory: until then a crash may bring
//!   back the old name, and a journal removed after the save could then be lost with it.
//! - [`save`] only replaces the version the caller loaded: same lineage, same serial. A state
//!   written meanwhile by another process, or a file that does not load, is never overwritten.
//! - `serial` is bumped by each save and only once the new version is on disk.
//!
//! The state file (format version 2). Any new field bumps [`FORMAT_VERSION`], and unknown
//! fields are refused, so an older callform never rewrites a newer file and drops what it
//! does not understand. The first line is the SHA-256 of the rest ([`checksum`]), checked
//! before anything is parsed; version 1 is the same without that line, and is still read:
//!
//! ```text
//! {
//!   "checksum": "sha256:<64 hex>",
//!   "format_version": 2,
//!   "lineage": "<32 hex>",
//!   "serial": 7,
//!   "salt": "<32 hex>",
//!   "tasks": {
//!     "renewal-2026q1": {
//!       "vendor": "aliyun", "provider": "aliyun", "endpoint": "https://dyvmsapi.aliyuncs.com",
//!       "status": "created",                 // or "uncertain" (then no task_id, a reason)
//!       "task_id": "1234", "spec_digest": "sha256:…", "canonical_version": 1,
//!       "spec": { … }, "created_at": "2026-03-01T08:00:02Z",
//!       "request_id": "…", "warnings": ["…"],          // optional
//!       "uncertain_reason": "…",                       // optional
//!       "superseded": [{"task_id": "…", "endpoint": "…", "spec_digest": "…",
//!                       "created_at": "…", "superseded_at": "…",
//!                       "callees": {…}, "run": {…}}]   // optional; callees/run as it had them
//!     }
//!   }
//! }
//! ```
//!
//! Apply's sequence: [`lock::StateLock::acquire`] → [`recover`] (load, and fold a journal
//! left by a dead run into `P`) → [`journal::Journal::create`] → per create: record the intent,
//! send, record the outcome → [`journal::Journal::close`] → [`commit_journal`] → unlock.
//!
//! Every other command that writes the state (`state rm`, `state import`) does the same
//! without the journal: lock → [`recover`] → change → [`save`] → unlock. Going through
//! [`recover`] matters: a journal left beside a state that was then changed without it can
//! no longer be told apart from one whose creates were lost, and [`load`] refuses it.
//! Readers (`plan`, `state list`) just [`load`], which reads the state and the journal again
//! when the state was replaced between the two reads.
//!
//! Every path is first [`resolve`]d to the real file, so a symlinked state and its target are
//! one state with one lock. A run's journal is locked by its writer until it is folded, so a
//! journal a live process holds is never folded or removed by another (even when the lock
//! file was deleted by hand).

mod backend;
pub mod checksum;
pub mod journal;
pub mod lock;

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use super::error::StateError;
pub use backend::FileBackend;
pub use journal::{commit_journal, read_journal, remove_journal, Journal};
pub use lock::{live_holder, unlock, LockInfo, StateLock, Who};

use super::model::{random_hex, validate};
use super::replay::{self, Entry, Unreplayable};
use super::{LeaseGuard, Loaded, State, FORMAT_VERSION, OLDEST_FORMAT_VERSION};

/// How often a reader starts again when the state was replaced while it read it and its
/// journal, before it gives up.
const READ_ATTEMPTS: usize = 20;

/// Loads the state at `path` and replays its journal, if any, in memory. `None` when there is
/// no state (and no journal with records). Never writes.
pub fn load(path: &Path) -> Result<Option<State>, StateError> {
    load_detailed(path).map(|loaded| loaded.state)
}

/// Like [`load`], and also says whether a journal was found and what replaying it changed.
///
/// What is returned is one consistent view: the state file is read, then its journal, and if
/// the state file was replaced meanwhile (an apply committed between the two reads, so the
/// journal read may already be gone) both are read again.
pub fn load_detailed(path: &Path) -> Result<Loaded, StateError> {
    let path = resolve(path)?;
    load_consistent(&path, &mut || {})
}

/// [`load_detailed`] on a resolved path; `between` runs between the reads of the state and
/// of the journal (tests use it to commit there).
fn load_consistent(path: &Path, between: &mut dyn FnMut()) -> Result<Loaded, StateError> {
    for _ in 0..READ_ATTEMPTS {
        let before = identity(path)?;
        let state = read_state(path)?;
        between();
        let entries = journal::read_journal_at(path)?;
        if identity(path)? == before {
            return replay(path, state, entries);
        }
    }
    Err(StateError::KeptChanging {
        path: path.to_path_buf(),
        attempts: READ_ATTEMPTS,
    })
}

/// What tells one version of the state file from the next: every save renames a new file
/// over it, so its inode changes (and its times, in case an inode is reused).
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    dev_ino_ctime: (u64, u64, i64, i64),
}

fn identity(path: &Path) -> Result<Option<Identity>, StateError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(Identity {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            dev_ino_ctime: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
            },
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io(path, "read", e)),
    }
}

/// Replays `entries` (the journal, if any) on `state` in memory, by the shared rules
/// ([`replay::replay`]); what is added here is the file store's own: its paths in errors,
/// and a lone backup refused.
fn replay(
    path: &Path,
    state: Option<State>,
    entries: Option<Vec<Entry>>,
) -> Result<Loaded, StateError> {
    let journal_file = journal_path(path);
    let Some(entries) = entries else {
        if state.is_none() {
            refuse_lone_backup(path)?;
        }
        return Ok(Loaded {
            state,
            journal: None,
        });
    };
    let (state, folded) = match replay::replay(state, &entries) {
        // Only a torn header: the run died before it could send anything.
        Ok((None, folded)) => {
            refuse_lone_backup(path)?;
            (None, folded)
        }
        Ok(replayed) => replayed,
        Err(Unreplayable::Fold(cause)) => {
            return Err(StateError::Fold {
                path: journal_file,
                cause,
            })
        }
        Err(Unreplayable::StateMissing { base_serial }) => {
            return Err(StateError::StateMissing {
                path: path.to_path_buf(),
                journal: journal_file,
                base_serial,
            })
        }
        Err(Unreplayable::BadHeader(reason)) => {
            return Err(StateError::Invalid {
                path: journal_file,
                reason: format!("its header cannot start a state: {reason}"),
            })
        }
    };
    Ok(Loaded {
        state,
        journal: Some(folded),
    })
}

/// No state file, but its backup is there: the state was deleted or moved (a save always
/// leaves both). Planning from nothing would create every recorded task again.
fn refuse_lone_backup(path: &Path) -> Result<(), StateError> {
    let backup = backup_path(path);
    match fs::symlink_metadata(&backup) {
        Ok(_) => Err(StateError::OnlyBackup {
            path: path.to_path_buf(),
            backup,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(&backup, "read", e)),
    }
}

/// The state file a path names: symlinks are followed (also when the file does not exist
/// yet, through its directory), so every spelling of one state reads,
/// writes, journals and locks the same four files. Writing through a link would replace the
/// link with a file and leave the real state behind, and two spellings would take two locks.
/// A state file with several hard links is refused: a save replaces the file, and the other
/// names would keep the stale version.
pub fn resolve(path: &Path) -> Result<PathBuf, StateError> {
    let mut current = path.to_path_buf();
    // As many links as the kernel follows (`MAXSYMLINKS`) before it calls it a loop.
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target =
                    fs::read_link(&current).map_err(|e| StateError::io(&current, "read", e))?;
                current = parent_dir(&current).join(target);
            }
            Ok(meta) => {
                let real = fs::canonicalize(&current)
                    .map_err(|e| StateError::io(&current, "resolve", e))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    if meta.is_file() && meta.nlink() > 1 {
                        return Err(StateError::HardLinked {
                            path: real,
                            links: meta.nlink(),
                        });
                    }
                }
                #[cfg(not(unix))]
                let _ = meta;
                return Ok(real);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A link to a missing file is far likelier a state on a disk that is not
                // mounted than a new one: taking it for "no state" would plan every
                // recorded task as a create. A new state is made through its own path.
                if current != path {
                    return Err(StateError::DanglingLink {
                        link: path.to_path_buf(),
                        target: current,
                    });
                }
                let Some(name) = current.file_name() else {
                    return Err(StateError::NotAFile { path: current });
                };
                let dir = parent_dir(&current);
                let dir = fs::canonicalize(dir).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => StateError::NoDirectory {
                        path: path.to_path_buf(),
                        dir: dir.to_path_buf(),
                    },
                    _ => StateError::io(dir, "resolve", e),
                })?;
                return Ok(dir.join(name));
            }
            Err(e) => return Err(StateError::io(&current, "resolve", e)),
        }
    }
    Err(StateError::io(
        path,
        "resolve",
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// Loads the state for writing, under the lock: when a journal left by a run that died was
/// replayed, the result is saved and the journal removed, so that a new run can start its own.
/// The lock is asked for as proof that no other process is writing; it is checked to still
/// be the lock file at its path, and a journal another live process holds is never folded or
/// removed. Temporary files left by a save that was killed are removed.
pub fn recover(path: &Path, lock: &dyn LeaseGuard) -> Result<Loaded, StateError> {
    let path = resolve(path)?;
    lock.verify()?;
    remove_stale_temps(&path);
    let mut loaded = load_detailed(&path)?;
    if loaded.journal.is_some() {
        // Held while the journal is folded and removed: a writer that still has it open
        // (its lock file was deleted from under it) is not raced.
        let guard = journal::lock_journal(&path)?;
        // Read again under the journal's lock: what was read before may have grown.
        loaded = load_detailed(&path)?;
        if let Some(folded) = &loaded.journal {
            if !folded.already_folded {
                if let Some(state) = loaded.state.as_mut() {
                    save(&path, state)?;
                }
            }
            remove_journal(&path)?;
        }
        drop(guard);
    }
    Ok(loaded)
}

/// Removes `P.tmp-*` and `P.backup.tmp-*` (what [`save`] writes before its renames) left by a
/// process killed during a save. Called under the lock, so no save is running. Best effort:
/// a file that cannot be removed is only clutter.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (Some(parent_dir(path)), path.file_name()) else {
        return;
    };
    let Some(name) = name.to_str() else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefixes = [format!("{name}.tmp-"), format!("{name}.backup.tmp-")];
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let is_temp = prefixes.iter().any(|p| {
            file_name
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.len() == 12 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `state` to `path` atomically, keeping the previous version in `P.backup`, and bumps
/// `state.serial`. Refuses to replace a state of another lineage or serial, or one that does
/// not load. A failed save leaves `P` and `state.serial` as they were. A state read in an
/// older format is written in the current one, with its checksum.
pub fn save(path: &Path, state: &mut State) -> Result<(), StateError> {
    let path = &resolve(path)?;
    validate(state).map_err(|reason| StateError::Invalid {
        path: path.to_path_buf(),
        reason: format!("refusing to write it: {reason}"),
    })?;
    // Optimistic check on top of the lock: never write over a version we did not load.
    let previous = check_on_disk(path, state)?;

    let mut next = state.clone();
    next.serial += 1;
    next.format_version = FORMAT_VERSION;
    let mut bytes = serde_json::to_vec_pretty(&next).map_err(|e| StateError::Invalid {
        path: path.to_path_buf(),
        reason: format!("cannot serialise it: {e}"),
    })?;
    bytes.push(b'\n');
    let bytes = checksum::seal(&bytes);

    let permissions = fs::metadata(path).ok().map(|m| m.permissions());
    let temp = write_temp(path, &bytes, permissions.clone())?;
    let result = (|| {
        if let Some(previous) = &previous {
            // The backup is written and fsynced before P is replaced, so at every moment at
            // least one complete copy of the previous version exists.
            let backup = sibling(path, ".backup");
            let backup_temp = write_temp(&backup, previous, permissions)?;
            rename(&backup_temp, &backup).inspect_err(|_| {
                let _ = fs::remove_file(&backup_temp);
            })?;
        }
        rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // Makes both renames durable; only after this may a journal folded into `next` go.
    sync_dir(path)?;
    state.serial = next.serial;
    state.format_version = next.format_version;
    Ok(())
}

/// Writes `state` to `path` as it is (serial included), in place of any state there, the
/// previous version kept in `P.backup`: what `state migrate` writes. Refused while a
/// journal is beside it.
pub fn replace(path: &Path, state: &State) -> Result<(), StateError> {
    let path = &resolve(path)?;
    validate(state).map_err(|reason| StateError::Invalid {
        path: path.to_path_buf(),
        reason: format!("refusing to write it: {reason}"),
    })?;
    let journal = journal_path(path);
    if journal.exists() {
        return Err(StateError::JournalExists { path: journal });
    }
    let mut next = state.clone();
    next.format_version = FORMAT_VERSION;
    let mut bytes = serde_json::to_vec_pretty(&next).map_err(|e| StateError::Invalid {
        path: path.to_path_buf(),
        reason: format!("cannot serialise it: {e}"),
    })?;
    bytes.push(b'\n');
    let bytes = checksum::seal(&bytes);
    if let Some(previous) = read_store_file(path)? {
        write_atomically(&sibling(path, ".backup"), &previous)?;
    }
    write_atomically(path, &bytes)
}

/// The lock file of the state at `path`.
pub fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

/// The journal of the state at `path`.
pub fn journal_path(path: &Path) -> PathBuf {
    sibling(path, ".journal")
}

/// The backup of the state at `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".backup")
}

/// Checks that the file at `path` is the version `state` was loaded from (same lineage and
/// serial; absent if `state` was never saved) and returns its bytes.
pub(crate) fn check_on_disk(path: &Path, state: &State) -> Result<Option<Vec<u8>>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Saved states have serial 1 or more. A file that vanished since the load is put
            // back whole by the save: `state` holds everything it held.
            return Ok(None);
        }
        Err(e) => return Err(StateError::io(path, "read", e)),
    };
    let on_disk = parse_state(path, bytes.clone())?;
    if on_disk.lineage != state.lineage {
        return Err(StateError::LineageConflict {
            path: path.to_path_buf(),
            on_disk: on_disk.lineage,
            ours: state.lineage.clone(),
        });
    }
    if on_disk.serial != state.serial {
        return Err(StateError::SerialConflict {
            path: path.to_path_buf(),
            expected: state.serial,
            on_disk: on_disk.serial,
        });
    }
    Ok(Some(bytes))
}

fn read_state(path: &Path) -> Result<Option<State>, StateError> {
    match read_store_file(path)? {
        Some(bytes) => parse_state(path, bytes).map(Some),
        None => Ok(None),
    }
}

/// Reads one of the state's files; `None` when it does not exist. Anything but a regular
/// file is refused before it is opened: a FIFO would block the read and a device would
/// never end it.
pub(crate) fn read_store_file(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(StateError::NotAFile {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io(path, "read", e)),
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io(path, "read", e)),
    }
}

fn parse_state(path: &Path, mut bytes: Vec<u8>) -> Result<State, StateError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::Empty {
            path: path.to_path_buf(),
        });
    }
    // The checksum is checked on the bytes as read, before anything in them is believed.
    let sealed = match checksum::unseal(&mut bytes) {
        checksum::Seal::Intact => true,
        checksum::Seal::Absent => false,
        checksum::Seal::Mismatch => {
            return Err(StateError::ChecksumMismatch {
                path: path.to_path_buf(),
            })
        }
    };
    let bytes = bytes.as_slice();
    let invalid = |reason: String| StateError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let newer = |found: u64| StateError::NewerFormat {
        path: path.to_path_buf(),
        found,
        supported: FORMAT_VERSION,
    };
    let state: State = match serde_json::from_slice(bytes) {
        Ok(state) => state,
        // Only when the file does not read is its version looked at on its own, so that a
        // newer format says "upgrade callform" rather than complaining about a field it
        // does not know.
        Err(e) => {
            #[derive(Deserialize)]
            struct Probe {
                format_version: Option<serde_json::Value>,
            }
            let probe: Probe = serde_json::from_slice(bytes).map_err(|e| parse_error(path, &e))?;
            return Err(match probe.format_version {
                None => invalid("it has no `format_version`".into()),
                Some(serde_json::Value::Number(n)) => match n.as_u64() {
                    Some(v) if v > u64::from(FORMAT_VERSION) => newer(v),
                    Some(v)
                        if (u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION))
                            .contains(&v) =>
                    {
                        parse_error(path, &e)
                    }
                    _ => invalid(format!("unknown `format_version` {n}")),
                },
                Some(other) => invalid(format!("`format_version` is {other}, not a number")),
            });
        }
    };
    if state.format_version > FORMAT_VERSION {
        return Err(newer(u64::from(state.format_version)));
    }
    validate(&state).map_err(invalid)?;
    // Version 1 had no checksum; every later version must have its checksum line, and a
    // version 1 file has none.
    match (state.format_version, sealed) {
        (1, false) => {}
        (1, true) => {
            return Err(invalid(
                "it has a checksum line, which format version 1 does not have".into(),
            ))
        }
        (_, false) => {
            return Err(StateError::ChecksumMissing {
                path: path.to_path_buf(),
                version: state.format_version,
            })
        }
        (_, true) => {}
    }
    Ok(state)
}

fn parse_error(path: &Path, e: &serde_json::Error) -> StateError {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message
        .strip_suffix(&suffix)
        .map(str::to_string)
        .unwrap_or(message);
    let message = if e.is_eof() {
        format!("{message} (the file is truncated)")
    } else if message.starts_with("unknown field") {
        // Fields are only ever added with a new format version, but say it anyway: dropping a
        // field we do not know on the next save could lose what a newer callform recorded.
        format!("{message} (written by a newer callform? then upgrade callform)")
    } else {
        message
    };
    StateError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// `path` with `suffix` appended to its file name: `a/s.json` + `.lock` → `a/s.json.lock`.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The directory holding `path`, for fsyncs.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes the entries of the directory holding `path` (creations, renames, removals) durable.
///
/// Some filesystems (several FUSE and network ones) refuse `fsync` on a directory. There the
/// file data is still fsynced before each rename, so a state or journal is never torn; how
/// soon a rename or removal is durable is up to the filesystem. Refusing to work at all
/// would leave such a state unusable forever, so callform continues and warns once.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StateError> {
    let dir = parent_dir(path);
    dir_synced(dir, File::open(dir).and_then(|d| d.sync_all()))
}

/// What a directory fsync's result means for the save: unsupported is a warning (once per
/// process), any other failure stops it.
fn dir_synced(dir: &Path, result: io::Result<()>) -> Result<(), StateError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if dir_sync_unsupported(&e) => {
            static WARNED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let _ = writeln!(
                    io::stderr(),
                    "warning: the filesystem of {} does not support fsync on a directory ({e}); \
                     callform continues: files are still fsynced before they are renamed into \
                     place, but a power loss may undo the last rename or removal",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) => Err(StateError::io(dir, "sync directory", e)),
    }
}

/// Whether a failed directory `fsync` means "this filesystem does not do that" (`EINVAL`,
/// `ENOTSUP`/`EOPNOTSUPP`) rather than a failure to write (`EIO`, `ENOSPC`, …), which must
/// stop the save.
pub fn dir_sync_unsupported(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::Unsupported {
        return true;
    }
    let Some(code) = e.raw_os_error() else {
        return false;
    };
    // EINVAL is 22 everywhere; ENOTSUP/EOPNOTSUPP differ by system.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const NOT_SUPPORTED: &[i32] = &[95];
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    const NOT_SUPPORTED: &[i32] = &[45, 102];
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    const NOT_SUPPORTED: &[i32] = &[];
    (cfg!(unix) && code == 22) || NOT_SUPPORTED.contains(&code)
}

/// Replaces `target` with `bytes` atomically (temp file, fsync, rename, fsync of the
/// directory): readers see the old file or the new one, never a torn one. Used for saved
/// plans too.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let temp = write_temp(target, bytes, None)?;
    rename(&temp, target)?;
    sync_dir(target)
}

/// Writes `bytes` to a new temporary file beside `target` and fsyncs it; returns its path.
fn write_temp(
    target: &Path,
    bytes: &[u8],
    permissions: Option<fs::Permissions>,
) -> Result<PathBuf, StateError> {
    let temp = sibling(target, &format!(".tmp-{}", random_hex(6)));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| StateError::io(&temp, "create", e))?;
    let result = (|| {
        file.write_all(bytes)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        // The data must be on disk before the rename makes it visible under the real name.
        file.sync_all()
    })();
    if let Err(e) = result {
        drop(file);
        let _ = fs::remove_file(&temp);
        return Err(StateError::io(&temp, "write", e));
    }
    Ok(temp)
}

fn rename(from: &Path, to: &Path) -> Result<(), StateError> {
    fs::rename(from, to).map_err(|e| StateError::io(to, "replace", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::is_hex32;
    use crate::state::{now_rfc3339, Outcome, TaskRecord, TaskStatus};

    fn record(task_id: &str) -> TaskRecord {
        TaskRecord {
            vendor: "xfyeta".into(),
            provider: "xfyeta".into(),
            endpoint: "https://www.xfyeta.com".into(),
            status: TaskStatus::Created,
            task_id: Some(task_id.into()),
            spec_digest: "sha256:00".into(),
            canonical_version: 1,
            spec: serde_json::json!({"task_name": "续费提醒", "line_num": ["1", "2"]}).into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            request_id: Some("req-1".into()),
            warnings: vec!["FailList[0]: type 2, 空号 (138****0000)".into()],
            uncertain_reason: None,
            superseded: vec![],
            callees: None,
            run: None,
            observed: None,
            update: None,
        }
    }

    fn saved(dir: &Path) -> (PathBuf, State) {
        let path = dir.join("callform.state.json");
        let mut state = State::new();
        state.tasks.insert("renewal".into(), record("T-1"));
        save(&path, &mut state).unwrap();
        (path, state)
    }

    #[test]
    fn new_states_have_random_lineage_and_salt() {
        let (a, b) = (State::new(), State::new());
        for s in [&a.lineage, &a.salt, &b.lineage] {
            assert!(is_hex32(s), "{s}");
        }
        assert_ne!(a.lineage, b.lineage);
        assert_ne!(a.lineage, a.salt);
        assert_eq!((a.serial, a.tasks.len()), (0, 0));
    }

    #[test]
    fn now_is_rfc3339_utc_to_the_millisecond() {
        let now = now_rfc3339();
        assert!(
            now.len() <= "2026-01-01T00:00:00.000Z".len(),
            "no finer than milliseconds: {now}"
        );
        assert!(now.ends_with('Z'));
        now.parse::<jiff::Timestamp>().unwrap();
    }

    #[test]
    fn later_compares_times_recorded_with_and_without_fractions() {
        use crate::state::is_later;
        assert!(is_later("2026-12-02T17:40:58.120Z", "2026-12-02T17:40:58Z"));
        assert!(!is_later(
            "2026-12-02T17:40:58Z",
            "2026-12-02T17:40:58.120Z"
        ));
        assert!(is_later(
            "2026-12-02T17:40:58.200Z",
            "2026-12-02T17:40:58.120Z"
        ));
        assert!(!is_later("2026-12-02T17:40:58Z", "2026-12-02T17:40:58Z"));
        // As text, "58.1Z" sorts before "58Z": only parsing gets this right.
        assert!("2026-12-02T17:40:58.1Z" < "2026-12-02T17:40:58Z");
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (path, state) = saved(dir.path());
        assert_eq!(state.serial, 1);
        assert_eq!(load(&path).unwrap(), Some(state));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"), "{text}");
        assert!(text.contains("\n  \"lineage\""), "pretty: {text}");
    }

    #[test]
    fn a_missing_state_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("none.json")).unwrap(), None);
    }

    #[test]
    fn tasks_are_written_sorted_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::new();
        for name in ["zeta", "alpha", "mid"] {
            state.tasks.insert(name.into(), record(name));
        }
        save(&path, &mut state).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\": {{")).unwrap();
        assert!(at("alpha") < at("mid") && at("mid") < at("zeta"));
    }

    #[test]
    fn save_bumps_the_serial_and_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut state) = saved(dir.path());
        let first = fs::read(&path).unwrap();
        state.tasks.insert("second".into(), record("T-2"));
        save(&path, &mut state).unwrap();
        assert_eq!(state.serial, 2);
        assert_eq!(fs::read(backup_path(&path)).unwrap(), first);
        assert_eq!(load(&path).unwrap().unwrap().serial, 2);
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    /// Writes `bytes` as the state, checks that load fails with a message containing each of
    /// `expected`, and that the file was not touched.
    fn refused(bytes: &[u8], expected: &[&str]) -> StateError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callform.state.json");
        fs::write(&path, bytes).unwrap();
        let err = load(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("hint:"), "{message}");
        for part in expected {
            assert!(message.contains(part), "{part:?} not in {message}");
        }
        // And save refuses to write over it.
        let mut other = State::new();
        assert!(save(&path, &mut other).is_err());
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert_eq!(other.serial, 0);
        err
    }

    /// A written state as format version 1 wrote it: no checksum line.
    fn unsealed(sealed: &[u8]) -> Vec<u8> {
        let mut bytes = sealed.to_vec();
        assert_eq!(checksum::unseal(&mut bytes), checksum::Seal::Intact);
        let text = String::from_utf8(bytes).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["format_version"] = 1.into();
        let mut out = serde_json::to_vec_pretty(&value).unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn damaged_files_are_errors_and_stay_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let good = fs::read(&path).unwrap();

        // A written state fails its checksum when any byte is missing.
        let err = refused(&good[..good.len() / 2], &["checksum", ".backup"]);
        assert!(
            matches!(err, StateError::ChecksumMismatch { .. }),
            "{err:?}"
        );
        // One without a checksum (format version 1) is parsed, and says where it broke off.
        let unsealed = unsealed(&good);
        let err = refused(&unsealed[..unsealed.len() / 2], &["truncated", ".backup"]);
        assert!(matches!(err, StateError::Parse { .. }), "{err:?}");
        let err = refused(b"", &["empty", ".backup"]);
        assert!(matches!(err, StateError::Empty { .. }));
        refused(b"  \n", &["empty"]);
        let err = refused(b"{\n  \"format_version\": 1,\n  oops\n}\n", &[":3:3:"]);
        assert!(matches!(err, StateError::Parse { line: 3, .. }), "{err:?}");
        refused(b"not json at all", &[":1:2:"]);
        refused(b"[1, 2]", &["cannot be read"]);
    }

    #[test]
    fn unknown_versions_missing_fields_and_bad_ids_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let mut good: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        good.as_object_mut().unwrap().remove("checksum");
        // Changed, and sealed again: what a callform with other rules would have written.
        let with = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut v = good.clone();
            f(v.as_object_mut().unwrap());
            checksum::seal(&serde_json::to_vec_pretty(&v).unwrap())
        };

        let err = refused(
            &with(&|m| {
                m.insert("format_version".into(), 5.into());
                m.insert("new_field".into(), true.into());
            }),
            &["format version 5", "upgrade callform"],
        );
        assert!(matches!(err, StateError::NewerFormat { found: 5, .. }));
        // A newer version whose fields this one happens to know is still a newer version.
        let err = refused(
            &with(&|m| drop(m.insert("format_version".into(), 5.into()))),
            &["format version 5", "upgrade callform"],
        );
        assert!(matches!(err, StateError::NewerFormat { found: 5, .. }));
        refused(
            &with(&|m| drop(m.remove("format_version"))),
            &["format_version"],
        );
        refused(
            &with(&|m| drop(m.insert("format_version".into(), 0.into()))),
            &["unknown"],
        );
        refused(
            &with(&|m| drop(m.remove("serial"))),
            &["missing field `serial`"],
        );
        refused(
            &with(&|m| drop(m.insert("lineage".into(), "ABC".into()))),
            &["lineage"],
        );
        refused(
            &with(&|m| drop(m.insert("salt".into(), "".into()))),
            &["salt"],
        );
        refused(
            &with(&|m| drop(m.insert("extra".into(), 1.into()))),
            &["unknown field `extra`", "upgrade callform"],
        );
        refused(
            &with(&|m| {
                let task = &mut m["tasks"]["renewal"];
                task.as_object_mut().unwrap().remove("task_id");
            }),
            &["no `task_id`"],
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::NotAFile { .. }), "{err:?}");
        assert!(err.to_string().contains("hint:"), "{err}");
        // A device would never end; it is refused without being read.
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            assert!(matches!(load(zero), Err(StateError::NotAFile { .. })));
        }
        // A journal that is not a file is refused too.
        let state = dir.path().join("callform.state.json");
        fs::create_dir(journal_path(&state)).unwrap();
        assert!(matches!(load(&state), Err(StateError::NotAFile { .. })));
    }

    #[test]
    fn a_task_recorded_twice_is_an_error_and_unsorted_tasks_load() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let good = String::from_utf8(unsealed(&fs::read(&path).unwrap())).unwrap();
        let record = serde_json::to_string(&record("t-9")).unwrap();
        let with_tasks = |tasks: String| {
            let start = good.find("\"tasks\"").unwrap();
            format!("{}\"tasks\": {{{tasks}}}\n}}\n", &good[..start])
        };
        let twice = with_tasks(format!("\"b\": {record}, \"a\": {record}, \"b\": {record}"));
        let err = refused(twice.as_bytes(), &["task `b` is recorded twice"]);
        assert!(matches!(err, StateError::Parse { .. }), "{err:?}");

        let unsorted = with_tasks(format!("\"b\": {record}, \"a\": {record}"));
        fs::write(&path, unsorted).unwrap();
        let state = load(&path).unwrap().unwrap();
        assert_eq!(state.tasks.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn save_refuses_a_stale_or_foreign_state() {
        let dir = tempfile::tempdir().unwrap();
        let (path, state) = saved(dir.path());
        let on_disk = fs::read(&path).unwrap();

        let mut stale = state.clone();
        let mut current = state.clone();
        save(&path, &mut current).unwrap();
        let err = save(&path, &mut stale).unwrap_err();
        assert!(matches!(
            err,
            StateError::SerialConflict {
                on_disk: 2,
                expected: 1,
                ..
            }
        ));
        assert_eq!(stale.serial, 1);

        let mut foreign = State::new();
        let err = save(&path, &mut foreign).unwrap_err();
        assert!(matches!(err, StateError::LineageConflict { .. }), "{err:?}");
        assert_eq!(fs::read(backup_path(&path)).unwrap(), on_disk);
    }

    #[test]
    fn a_failed_save_leaves_the_state_and_serial_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut state) = saved(dir.path());
        let before = fs::read(&path).unwrap();
        // A directory where the backup goes makes the save fail after the temporary file
        // was written (root ignores permissions, so a read-only directory would not).
        fs::create_dir(backup_path(&path)).unwrap();
        state.tasks.insert("second".into(), record("T-2"));
        assert!(save(&path, &mut state).is_err());
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(state.serial, 1);
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "temporary files removed");

        fs::remove_dir(backup_path(&path)).unwrap();
        save(&path, &mut state).unwrap();
        assert_eq!(state.serial, 2);
    }

    /// A state as callform 0.1 writes it. It must keep loading, unchanged, in every later
    /// version; a format change gets a new FORMAT_VERSION and a migration instead.
    const V1: &str = r#"{
  "format_version": 1,
  "lineage": "0123456789abcdef0123456789abcdef",
  "serial": 3,
  "salt": "fedcba9876543210fedcba9876543210",
  "tasks": {
    "renewal-2026q1": {
      "vendor": "aliyun",
      "provider": "aliyun",
      "endpoint": "https://dyvmsapi.aliyuncs.com",
      "status": "created",
      "task_id": "100234",
      "spec_digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "canonical_version": 1,
      "spec": {
        "callees": {
          "count": 2,
          "digest": "hmac-sha256:00"
        },
        "task_name": "续费提醒2026Q1"
      },
      "created_at": "2026-03-01T08:00:02Z",
      "request_id": "A1B2",
      "superseded": [
        {
          "task_id": "100111",
          "endpoint": "https://dyvmsapi.aliyuncs.com",
          "spec_digest": "sha256:00",
          "created_at": "2026-02-01T08:00:00Z",
          "superseded_at": "2026-03-01T08:00:00Z"
        }
      ]
    },
    "winback": {
      "vendor": "xfyeta",
      "provider": "xfyeta",
      "endpoint": "https://www.xfyeta.com",
      "status": "uncertain",
      "spec_digest": "sha256:01",
      "canonical_version": 1,
      "spec": {},
      "created_at": "2026-03-01T08:00:03Z",
      "uncertain_reason": "callform stopped before the vendor's answer was recorded"
    }
  }
}
"#;

    #[test]
    fn a_version_1_state_loads_and_is_upgraded_to_version_2_with_the_same_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, V1).unwrap();
        let mut state = load(&path).unwrap().unwrap();
        assert_eq!(state.tasks["winback"].status, TaskStatus::Uncertain);
        assert_eq!(
            state.tasks["renewal-2026q1"].superseded[0].task_id,
            "100111"
        );
        save(&path, &mut state).unwrap();
        assert_eq!((state.serial, state.format_version), (4, FORMAT_VERSION));
        // Version 2 is version 1 with a checksum line first: nothing else changes.
        let written = fs::read(&path).unwrap();
        let expected = V1.replace("\"serial\": 3", "\"serial\": 4").replace(
            "\"format_version\": 1",
            &format!("\"format_version\": {FORMAT_VERSION}"),
        );
        assert_eq!(written, checksum::seal(expected.as_bytes()));
        // The version 1 file is the backup, byte for byte.
        assert_eq!(fs::read_to_string(backup_path(&path)).unwrap(), V1);
        let again = load(&path).unwrap().unwrap();
        assert_eq!(again, state);
    }

    /// Every single-bit flip of a written state is refused, or reads as exactly the same
    /// state. None may change a recorded id or lose a task.
    #[test]
    fn every_flipped_bit_of_a_state_is_refused_or_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let (path, state) = saved(dir.path());
        let good = fs::read(&path).unwrap();
        assert!(good.len() < 2_000, "a small state: {}", good.len());
        let mut refused = 0;
        for bit in 0..good.len() * 8 {
            let mut bytes = good.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            match parse_state(&path, bytes) {
                Err(_) => refused += 1,
                Ok(read) => assert_eq!(read, state, "bit {bit} changed the state silently"),
            }
        }
        assert_eq!(refused, good.len() * 8, "every flip is refused");
        // And through `load`, which names the backup.
        let mut bytes = good.clone();
        let at = good.len() / 2;
        bytes[at] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("checksum") && err.contains(".backup"), "{err}");
        // Never overwritten.
        let mut other = state.clone();
        assert!(save(&path, &mut other).is_err());
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    /// A reader that reads the state before an apply's commit and the journal after it
    /// (removed by then) would miss the journal's creates: it reads both again.
    #[test]
    fn a_commit_between_the_reads_of_state_and_journal_is_not_a_torn_view() {
        let dir = tempfile::tempdir().unwrap();
        let (path, state) = saved(dir.path());
        let entries = [
            Entry::Begin {
                lineage: state.lineage.clone(),
                salt: state.salt.clone(),
                base_serial: state.serial,
                run: "r".into(),
                at: "t".into(),
            },
            Entry::Intent {
                name: "new".into(),
                vendor: "xfyeta".into(),
                provider: "xfyeta".into(),
                endpoint: "https://www.xfyeta.com".into(),
                spec_digest: "sha256:01".into(),
                canonical_version: 1,
                spec: serde_json::json!({}),
                at: "t".into(),
                replaces: None,
                batch: None,
                start: false,
            },
            Entry::Outcome {
                name: "new".into(),
                at: "t".into(),
                outcome: Outcome::Created {
                    task_id: "T-NEW".into(),
                    request_id: None,
                    warnings: vec![],
                },
            },
        ];
        let mut text = String::new();
        for e in &entries {
            text.push_str(&serde_json::to_string(e).unwrap());
            text.push('\n');
        }
        fs::write(journal_path(&path), text).unwrap();
        let mut committed = false;
        // The apply commits right after the reader read the state file.
        let loaded = load_consistent(&path, &mut || {
            if !committed {
                committed = true;
                let mut s = state.clone();
                commit_journal(&path, &mut s).unwrap();
            }
        })
        .unwrap();
        assert!(committed);
        let read = loaded.state.unwrap();
        assert_eq!(read.tasks["new"].task_id.as_deref(), Some("T-NEW"));
        assert_eq!(read.serial, 2);
    }

    #[test]
    fn temporary_files_of_a_killed_save_are_removed_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let name = path.file_name().unwrap().to_str().unwrap();
        let stale = [
            format!("{name}.tmp-0123456789ab"),
            format!("{name}.backup.tmp-ba9876543210"),
        ];
        let kept = [
            format!("{name}.tmp-notours"),
            "other.tmp-0123456789ab".into(),
        ];
        for f in stale.iter().chain(&kept) {
            fs::write(dir.path().join(f), b"half").unwrap();
        }
        let lock = StateLock::acquire(&path, "test").unwrap();
        recover(&path, &lock).unwrap();
        for f in &stale {
            assert!(!dir.path().join(f).exists(), "{f} left");
        }
        for f in &kept {
            assert!(dir.path().join(f).exists(), "{f} removed");
        }
    }

    #[test]
    fn a_directory_fsync_the_filesystem_does_not_support_is_not_a_failure() {
        let dir = Path::new("/some/dir");
        dir_synced(dir, Err(io::Error::from_raw_os_error(22))).unwrap();
        dir_synced(dir, Err(io::Error::from_raw_os_error(22))).unwrap();
        let err = dir_synced(dir, Err(io::Error::from_raw_os_error(5))).unwrap_err();
        assert!(matches!(err, StateError::Io { .. }), "{err:?}");
        assert!(dir_sync_unsupported(&io::Error::from_raw_os_error(22)));
        #[cfg(target_os = "linux")]
        assert!(dir_sync_unsupported(&io::Error::from_raw_os_error(95)));
        assert!(dir_sync_unsupported(&io::Error::from(
            io::ErrorKind::Unsupported
        )));
        // Real write failures still stop the save: EIO, ENOSPC, EROFS, EACCES.
        for code in [5, 28, 30, 13] {
            assert!(
                !dir_sync_unsupported(&io::Error::from_raw_os_error(code)),
                "{code}"
            );
        }
        assert!(!dir_sync_unsupported(&io::Error::other("x")));
    }

    #[test]
    fn io_errors_say_the_os_error_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("s.json");
        let err = anyhow::Error::from(save(&missing, &mut State::new()).unwrap_err());
        let text = format!("{err:#}");
        // A missing directory is said in words, with a hint, and no OS error at all.
        assert!(
            text.contains("the state's directory") && text.contains("hint:"),
            "{text}"
        );
        assert_eq!(text.matches("os error").count(), 0, "{text}");
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let err = anyhow::Error::from(save(&file.join("s.json"), &mut State::new()).unwrap_err());
        let text = format!("{err:#}");
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }

    #[test]
    fn save_refuses_to_write_an_invalid_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::new();
        let mut broken = record("x");
        broken.task_id = None;
        state.tasks.insert("t".into(), broken);
        assert!(save(&path, &mut state).is_err());
        assert!(!path.exists());
    }
}
