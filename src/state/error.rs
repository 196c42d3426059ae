//! The one error type of the state store.
//!
//! Every variant names the file it is about and ends with a `hint:` line that says what to
//! do next, because most of these errors stop an apply on purpose: continuing could create a
//! task twice or forget one that exists. None of them is ever resolved by writing over a file
//! that could not be read.

use std::io;
use std::path::PathBuf;

use super::file::lock::LockInfo;
use super::replay::FoldError;

/// An error from loading, saving, locking or journalling the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An operating-system error on one of the state's files.
    ///
    /// The OS error is part of the message and deliberately not a `source`: an error chain
    /// printed with its causes would otherwise say it twice.
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: io::Error,
    },

    /// The directory the state file would be in does not exist: a typo far more often than
    /// a place to create, so nothing is created there.
    #[error(
        "{}: the state's directory {} does not exist\n\
         hint: check `--state` (or `state:` in callform.yaml, relative to that file); if the path is right, create the directory first (`mkdir -p {}`)",
        path.display(),
        dir.display(),
        dir.display()
    )]
    NoDirectory { path: PathBuf, dir: PathBuf },

    /// The state path (or its journal's) is a directory, FIFO or device, not a file.
    #[error(
        "{}: not a regular file\n\
         hint: point `--state` (or `state:` in callform.yaml) at a state file; a missing one is created by the first apply",
        path.display()
    )]
    NotAFile { path: PathBuf },

    /// The state file exists but holds nothing.
    #[error(
        "{}: the state file is empty\n\
         hint: it was left untouched; restore the previous version from {}.backup",
        path.display(),
        path.display()
    )]
    Empty { path: PathBuf },

    /// The state file is not JSON, is truncated, or does not have the state's shape.
    #[error(
        "{}:{line}:{column}: the state file cannot be read: {message}\n\
         hint: it was left untouched; if it was damaged, restore the previous version from {}.backup",
        path.display(),
        path.display()
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// The state file's checksum does not match its bytes: it was damaged or edited.
    #[error(
        "{}: the state file does not match its checksum: it was damaged (or edited by hand)\n\
         hint: it was left untouched; restore the previous version from {}.backup (check it with \
         `callform state list --state {}.backup`), then run `callform plan`",
        path.display(),
        path.display(),
        path.display()
    )]
    ChecksumMismatch { path: PathBuf },

    /// A state file of a format that has a checksum, without one.
    #[error(
        "{}: the state file has format version {version} but no checksum line (its first line was damaged or removed)\n\
         hint: it was left untouched; restore the previous version from {}.backup",
        path.display(),
        path.display()
    )]
    ChecksumMissing { path: PathBuf, version: u32 },

    /// No state file, but its backup: the state was deleted or moved.
    #[error(
        "{}: the state file is missing, but its backup {} is there: the state was deleted or moved\n\
         hint: planning from no state would create every recorded task again. Put the state back, or \
         restore the backup with `cp {} {}` (it is the version before the last save: check the tasks \
         of the last apply in the vendor console, then `callform plan`). To really start with no state, \
         move the backup away first (`mv {} {}.old`)",
        path.display(),
        backup.display(),
        backup.display(),
        path.display(),
        backup.display(),
        backup.display()
    )]
    OnlyBackup { path: PathBuf, backup: PathBuf },

    /// The state path is a symbolic link to a file that is not there.
    #[error(
        "{}: the state path is a symbolic link to {}, which does not exist\n\
         hint: if the state lives on a disk or share that is not mounted, mount it and run the \
         command again (planning without it would create every recorded task again); to start \
         a new state there on purpose, pass `--state {}`",
        link.display(),
        target.display(),
        target.display()
    )]
    DanglingLink { link: PathBuf, target: PathBuf },

    /// The state file has more than one name.
    #[error(
        "{}: the state file has {links} hard links\n\
         hint: a save replaces the file, so the other names would keep a stale state and a second \
         lock; keep one name (remove the other links), or use a symbolic link",
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },

    /// The state kept being replaced while it was read.
    #[error(
        "{}: the state file was replaced {attempts} times while it was being read\n\
         hint: another callform is writing it right now; run the command again when it has finished",
        path.display()
    )]
    KeptChanging { path: PathBuf, attempts: usize },

    /// Our lock file is no longer the file at the lock's path.
    #[error(
        "{}: the lock file was removed or replaced while this callform held it\n\
         hint: another process may now be writing the state; nothing more was written. Never delete \
         a lock file by hand (`callform state unlock` clears one left by a dead process); \
         check that no other callform runs, then run the command again",
        path.display()
    )]
    LockReplaced { path: PathBuf },

    /// The journal is held by a writer that is still running.
    #[error(
        "{}: the journal is being written by another callform that is still running\n\
         hint: its lock file was removed or replaced while it ran; nothing was changed. Wait for it \
         to finish, then run the command again. Do not delete the journal or lock files",
        path.display()
    )]
    JournalInUse { path: PathBuf },

    /// The state file was written by a newer callform.
    #[error(
        "{}: the state file has format version {found}, this callform reads up to version {supported}\n\
         hint: it was written by a newer callform; upgrade callform (the file was left untouched)",
        path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u64,
        supported: u32,
    },

    /// The state file parses but breaks one of the state's rules.
    #[error(
        "{}: the state file is invalid: {reason}\n\
         hint: it was left untouched; if it was edited by hand or damaged, restore the previous version from {}.backup",
        path.display(),
        path.display()
    )]
    Invalid { path: PathBuf, reason: String },

    /// `save` found a state on disk that is not the one the caller loaded.
    #[error(
        "{}: the state on disk changed since it was loaded (serial {on_disk}, expected {expected})\n\
         hint: another callform wrote it meanwhile; nothing was written. Run the command again",
        path.display()
    )]
    SerialConflict {
        path: PathBuf,
        expected: u64,
        on_disk: u64,
    },

    /// `save` was asked to replace a state with one of another lineage.
    #[error(
        "{}: refusing to replace state lineage {on_disk} with a different state (lineage {ours})\n\
         hint: nothing was written; check the --state path, or move the existing file away if it really is unwanted",
        path.display()
    )]
    LineageConflict {
        path: PathBuf,
        on_disk: String,
        ours: String,
    },

    /// Another process holds the lock.
    #[error(
        "{}: the state is locked by {}, running `{}`\n\
         hint: wait for it to finish, or stop that process; the lock is released the moment it exits",
        path.display(),
        info.describe(),
        info.operation
    )]
    Locked { path: PathBuf, info: Box<LockInfo> },

    /// A lock file exists but cannot be read; it still blocks.
    #[error(
        "{}: the state is locked, but the lock file cannot be read ({reason})\n\
         hint: another callform is taking the lock right now; try again in a moment",
        path.display()
    )]
    LockUnreadable { path: PathBuf, reason: String },

    /// `unlock` found no lock.
    #[error("{}: the state is not locked\nhint: there is nothing to unlock", path.display())]
    NotLocked { path: PathBuf },

    /// `Journal::create` found a journal that has not been folded into the state.
    #[error(
        "{}: a journal from an earlier run is still there\n\
         hint: load the state and save it (apply does this under the lock) so that its records are folded in first",
        path.display()
    )]
    JournalExists { path: PathBuf },

    /// A journal line other than the last cannot be read.
    #[error(
        "{}:{line}: the journal is damaged: {message}\n\
         hint: it holds records of creates that may not be in the state; do not delete it. \
         Inspect the line (one JSON object per line) and repair or remove only that line",
        path.display()
    )]
    JournalCorrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// The journal cannot be folded into the state.
    #[error("{}: {cause}\nhint: {}", path.display(), cause.hint())]
    Fold { path: PathBuf, cause: FoldError },

    /// A journal was found, but no state, and the journal did not start from an empty state.
    #[error(
        "{}: the journal continues state serial {base_serial}, but {} does not exist\n\
         hint: the state file was moved or deleted; put it back (or restore {}.backup). \
         Do not delete the journal: it holds records of creates",
        journal.display(),
        path.display(),
        path.display()
    )]
    StateMissing {
        path: PathBuf,
        journal: PathBuf,
        base_serial: u64,
    },

    /// `commit_journal` found no journal to fold.
    #[error(
        "{}: the journal of this run is missing\n\
         hint: nothing was written; something removed it during the run. \
         The tasks it recorded must be checked in the vendor console",
        path.display()
    )]
    JournalMissing { path: PathBuf },

    /// Recording an entry failed; the journal accepts nothing more.
    #[error(
        "{}: cannot record in the journal: {reason}\n\
         hint: stop sending requests; what was recorded before stays on disk and is folded in by the next apply",
        path.display()
    )]
    JournalWrite { path: PathBuf, reason: String },

    /// The database stopped taking the run's records: nothing more is sent, and what it
    /// could not take is kept in the rescue file.
    #[error(
        "{location}: the database stopped taking this run's records ({reason}); nothing more was sent. \
         What it did not take is kept in {}\n\
         hint: do not delete that file. Once the database is reachable, the next `callform plan`, \
         `apply`, `refresh` or `state` command in this project pushes it into the database before \
         anything else",
        rescue.display()
    )]
    Rescued {
        location: String,
        rescue: PathBuf,
        reason: String,
    },

    /// A rescue file is there and could not be read or pushed: nothing is read or changed
    /// until it is.
    #[error(
        "{}{}: a rescue file holds records of a run that {location} has not got, and it cannot be pushed: {reason}\n\
         hint: {hint}",
        rescue.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    RescueRefused {
        location: String,
        rescue: PathBuf,
        line: Option<usize>,
        reason: String,
        hint: String,
    },

    /// The caller tried to record an entry that contradicts the state or the run so far.
    #[error(
        "{}: refusing to record this entry: {cause}\n\
         hint: this is a bug in callform; the request must not be sent",
        path.display()
    )]
    JournalRejected { path: PathBuf, cause: FoldError },

    /// The PostgreSQL state could not be reached or read or written. The location never
    /// holds a password.
    #[error(
        "{location}: cannot {action} the database: {reason}\n\
         hint: check that the server is reachable, the URL (`state:` in callform.yaml or `--state`) \
         and its credentials; what was stored is unchanged by the failed step"
    )]
    Database {
        location: String,
        action: &'static str,
        reason: String,
    },

    /// The PostgreSQL lease's session no longer holds the lock (it ended, or the server
    /// restarted): another process may hold it now.
    #[error(
        "{location}: this command's lock on the state is no longer held: {reason}\n\
         hint: another callform may hold it now; nothing more was written. Run the command again: \
         it recovers what was recorded"
    )]
    LockLost { location: String, reason: String },

    /// The database's callform tables were set up by a newer callform.
    #[error(
        "{location}: the database's callform tables are version {found}, this callform knows up to version {supported}\n\
         hint: they were set up by a newer callform; upgrade callform (nothing was changed)"
    )]
    SchemaNewer {
        location: String,
        found: i32,
        supported: i32,
    },

    /// A `postgres://` state location that cannot be used.
    #[error("{location}: {reason}\nhint: {hint}")]
    BadLocation {
        location: String,
        reason: String,
        hint: &'static str,
    },
}

impl StateError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        StateError::Io {
            path: path.into(),
            action,
            cause: source,
        }
    }
}
