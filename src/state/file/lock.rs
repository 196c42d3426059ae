//! The writer lock: one process at a time may change the state.
//!
//! Two applies running together would each create the same missing tasks, so every command
//! that writes the state first takes the lock on `P.lock`. Invariants:
//!
//! - The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through
//!   `File::try_lock`): of two processes racing for it exactly one wins, there is no
//!   waiting, and the kernel releases it when the holder dies — a SIGKILL, an OOM kill, a
//!   power cut. So a lock is never "stale" while held, and is never broken by guessing from
//!   pids or host names (which containers and shared file systems make unreliable).
//! - The file also holds a description of the holder (user, pid, host, start time,
//!   operation), fsynced, so a second process can say who holds the lock. A description
//!   found by a process that *gets* the lock belongs to a holder that died without
//!   releasing it: it is reported ([`StateLock::replaced_stale`]) and overwritten.
//! - A lock only counts while it is on the file the path names. Someone deleting the lock
//!   file by hand lets a second process create a new one and lock that: both would "hold"
//!   it. So after taking the lock, [`StateLock::acquire`] checks that the path still names
//!   the locked file (same device and inode) and starts again if not, and
//!   [`StateLock::verify`] checks it again before the state is changed. A run's journal is
//!   locked by its writer too (see `journal`), so a journal a live process still writes is
//!   never folded or removed by another, whatever happened to the lock file.
//! - Releasing empties the file and then drops the lock. The file itself is never
//!   removed: unlinking a locked file lets a process that opened the old file and one that
//!   creates a new one both "hold" the lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{lock_path, StateError};
use crate::state::now_rfc3339;

/// Who holds the lock; the lock file's contents (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The user, from `USER` or `LOGNAME`; in CI without them, the CI's user.
    pub holder: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// The command holding it, e.g. `apply`.
    pub operation: String,
    /// The CI job running it, when there is one (GitHub Actions, GitLab CI): what a second
    /// runner needs to find the holder, since a runner's user and host say little.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
}

impl LockInfo {
    /// `USER (pid N on HOST) since T[, CI job]`, for messages.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} (pid {} on {}) since {}",
            self.holder, self.pid, self.host, self.started_at
        );
        if let Some(ci) = &self.ci {
            out.push_str(&format!(", {ci}"));
        }
        out
    }
}

/// Who takes a lock: the user and the CI job, read from the environment once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The user.
    pub holder: String,
    /// The CI job, if any.
    pub ci: Option<String>,
}

impl Who {
    /// From `USER`/`LOGNAME`, and the variables GitHub Actions and GitLab CI set for a job.
    pub fn from_env(env: &dyn crate::env::Env) -> Who {
        let var = |name: &str| {
            env.var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let ci = if let Some(run) = var("GITHUB_RUN_ID") {
            let mut job = "GitHub Actions".to_string();
            if let Some(repo) = var("GITHUB_REPOSITORY") {
                job.push_str(&format!(" {repo}"));
            }
            if let Some(w) = var("GITHUB_WORKFLOW") {
                job.push_str(&format!(" workflow `{w}`"));
            }
            if let Some(j) = var("GITHUB_JOB") {
                job.push_str(&format!(" job `{j}`"));
            }
            job.push_str(&format!(" run {run}"));
            if let (Some(server), Some(repo)) = (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"))
            {
                job.push_str(&format!(" ({server}/{repo}/actions/runs/{run})"));
            }
            Some(job)
        } else if let Some(id) = var("CI_JOB_ID") {
            let mut job = format!("GitLab CI job {id}");
            if let Some(p) = var("CI_PIPELINE_ID") {
                job.push_str(&format!(" of pipeline {p}"));
            }
            if let Some(url) = var("CI_JOB_URL") {
                job.push_str(&format!(" ({url})"));
            }
            Some(job)
        } else {
            None
        };
        let holder = ["USER", "LOGNAME", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"]
            .iter()
            .find_map(|v| var(v))
            .unwrap_or_else(process_owner);
        Who { holder, ci }
    }
}

/// The held lock of one state. Dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    file: Option<File>,
    /// The description left by a holder that died without releasing the lock (it was
    /// killed): the lock was free, and this process now holds it. For the caller to mention.
    pub replaced_stale: Option<LockInfo>,
}

/// Opens the lock file, creating it (empty) when missing.
fn open(path: &Path) -> Result<File, StateError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StateError::io(path, "open", e))
}

fn read_all(file: &mut File, path: &Path) -> Result<Vec<u8>, StateError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| StateError::io(path, "read", e))?;
    Ok(bytes)
}

fn parse_info(bytes: &[u8]) -> Result<Option<LockInfo>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("it is not a callform lock: {e}"))
}

/// How often [`lock_at_path`] starts again when the locked file was unlinked meanwhile.
const LOCK_ATTEMPTS: usize = 5;

/// How many times (5 ms apart) [`lock_at_path`] tries again a lock that is held but names
/// no holder yet: at most 200 ms.
const UNNAMED_WAITS: usize = 40;

/// Opens and locks the lock file at `path`, and checks that the locked file is still the one
/// at `path`: a file deleted between our open and our lock is no lock at all.
fn lock_at_path(path: &Path) -> Result<File, StateError> {
    let mut unnamed = 0;
    let mut attempt = 0;
    while attempt < LOCK_ATTEMPTS {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            // Held, with no name in it: taken or released a moment ago. (A lock is held
            // as long as any copy of its descriptor is open, and a process that forks a
            // child holds one until that child has started its program.) A short wait
            // tells "still held, here is by whom" from "free after all".
            Err(TryLockError::WouldBlock)
                if unnamed < UNNAMED_WAITS && matches!(read_info(path), Ok(None)) =>
            {
                unnamed += 1;
                drop(file);
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            Err(TryLockError::WouldBlock) => return Err(held_by_other(path.to_path_buf())),
            Err(TryLockError::Error(e)) => return Err(StateError::io(path, "lock", e)),
        }
        if guards(&file, path)? {
            return Ok(file);
        }
        attempt += 1;
    }
    Err(StateError::LockReplaced {
        path: path.to_path_buf(),
    })
}

/// Whether `path` names the file `file` has open (same device and inode).
fn guards(file: &File, path: &Path) -> Result<bool, StateError> {
    let held = file
        .metadata()
        .map_err(|e| StateError::io(path, "check", e))?;
    let named = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(StateError::io(path, "check", e)),
    };
    Ok(same_file(&held, &named))
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    // No portable file identity: the journal's own lock is the guard there.
    true
}

/// The error for a lock another process holds.
fn held_by_other(path: PathBuf) -> StateError {
    match read_info(&path) {
        Ok(Some(info)) => StateError::Locked {
            path,
            info: Box::new(info),
        },
        // Taken a moment ago: the holder has not written its name yet.
        Ok(None) => StateError::LockUnreadable {
            path,
            reason: "its holder has not written its name yet".into(),
        },
        Err(reason) => StateError::LockUnreadable { path, reason },
    }
}

impl StateLock {
    /// Takes the lock of the state at `state_path` for `operation`, or fails at once, naming
    /// the holder, when another process has it.
    pub fn acquire(state_path: &Path, operation: &str) -> Result<StateLock, StateError> {
        StateLock::acquire_as(state_path, operation, &Who::from_env(&crate::env::RealEnv))
    }

    /// [`StateLock::acquire`], naming `who` as the holder.
    pub fn acquire_as(
        state_path: &Path,
        operation: &str,
        who: &Who,
    ) -> Result<StateLock, StateError> {
        let path = lock_path(&super::resolve(state_path)?);
        let info = LockInfo {
            holder: who.holder.clone(),
            pid: std::process::id(),
            host: current_host(),
            started_at: now_rfc3339(),
            operation: operation.to_string(),
            ci: who.ci.clone(),
        };
        let mut contents = serde_json::to_vec_pretty(&info)
            .map_err(|e| StateError::io(&path, "write", io::Error::other(e)))?;
        contents.push(b'\n');

        let mut file = lock_at_path(&path)?;
        // We hold it. Whatever description is there was left by a holder that died.
        let previous = read_all(&mut file, &path)?;
        let replaced_stale = parse_info(&previous).ok().flatten();
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(&contents))
            .and_then(|()| file.sync_all())
            .map_err(|e| StateError::io(&path, "write", e));
        written?;
        Ok(StateLock {
            path,
            file: Some(file),
            replaced_stale,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that this lock still guards the state: the lock's path names the file this
    /// process locked. Fails when the lock file was deleted or replaced meanwhile, since
    /// another process may then hold a lock of its own.
    pub fn verify(&self) -> Result<(), StateError> {
        let Some(file) = &self.file else {
            return Err(StateError::LockReplaced {
                path: self.path.clone(),
            });
        };
        if guards(file, &self.path)? {
            Ok(())
        } else {
            Err(StateError::LockReplaced {
                path: self.path.clone(),
            })
        }
    }

    /// Releases the lock, reporting a failure to clear the holder's description.
    pub fn release(mut self) -> Result<(), StateError> {
        self.clear()
    }

    fn clear(&mut self) -> Result<(), StateError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        // Empty first, unlock second: nobody can see our name on a free lock.
        let result = file
            .set_len(0)
            .and_then(|()| file.sync_all())
            .map_err(|e| StateError::io(&self.path, "clear", e));
        drop(file);
        result
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.clear();
    }
}

/// `callform state unlock`: clears the description left by a holder that died without
/// releasing the lock, and returns it. The operating system has already released such a
/// lock, so this only tidies; a lock that a running process holds is refused
/// ([`StateError::Locked`]): stop that process instead.
pub fn unlock(state_path: &Path) -> Result<Option<LockInfo>, StateError> {
    let path = lock_path(&super::resolve(state_path)?);
    if !path.exists() {
        return Err(StateError::NotLocked { path });
    }
    let mut file = lock_at_path(&path)?;
    let bytes = read_all(&mut file, &path)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::NotLocked { path });
    }
    let info = parse_info(&bytes).ok().flatten();
    file.set_len(0)
        .and_then(|()| file.sync_all())
        .map_err(|e| StateError::io(&path, "clear", e))?;
    Ok(info)
}

/// `Ok(None)`: no lock file. `Err`: a lock file that cannot be read, and why.
fn read_info(path: &Path) -> Result<Option<LockInfo>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    parse_info(&bytes)
}

/// The process that holds the lock of the state at `state_path` now, as its lock file
/// names it; `None` when the lock is free (a description left by a holder that died does
/// not count) or names nobody. Never takes the lock for longer than a probe: the file is
/// probed only when it names a holder, and released at once. (An apply starting in that
/// instant, over a dead holder's leftover, is told the lock is held; it can run again.)
pub fn live_holder(state_path: &Path) -> Option<LockInfo> {
    let path = lock_path(&super::resolve(state_path).ok()?);
    let info = read_info(&path).ok().flatten()?;
    let file = OpenOptions::new().read(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(info),
        Err(TryLockError::Error(_)) => None,
    }
}

pub(crate) fn current_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Who owns this process when the environment names nobody (no `$USER`, no CI job): its
/// numeric user id, which the second runner can still tell apart from its own.
fn process_owner() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return format!("uid {}", meta.uid());
        }
    }
    "unknown".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_acquirer_fails_at_once_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("callform.state.json");
        let held = StateLock::acquire(&state, "apply").unwrap();
        let started = std::time::Instant::now();
        let err = StateLock::acquire(&state, "apply").unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let StateError::Locked { info, .. } = &err else {
            panic!("expected Locked, got {err:?}");
        };
        assert_eq!(info.pid, std::process::id());
        let message = err.to_string();
        let pid = format!("pid {}", info.pid);
        for part in [
            info.holder.as_str(),
            info.host.as_str(),
            info.started_at.as_str(),
            pid.as_str(),
            "`apply`",
        ] {
            assert!(message.contains(part), "{part} missing in {message}");
        }
        // A running holder cannot be unlocked from under it.
        assert!(matches!(
            unlock(&state).unwrap_err(),
            StateError::Locked { .. }
        ));
        drop(held);
        let again = StateLock::acquire(&state, "apply").unwrap();
        assert_eq!(
            again.replaced_stale, None,
            "a released lock leaves no description"
        );
    }

    #[test]
    fn a_lock_left_by_a_killed_holder_is_free_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let dead = LockInfo {
            holder: "ci".into(),
            pid: 4242,
            host: "runner-7".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            operation: "apply".into(),
            ci: None,
        };
        // What a SIGKILLed holder leaves: its description, and no kernel lock.
        fs::write(lock_path(&state), serde_json::to_vec(&dead).unwrap()).unwrap();
        let lock = StateLock::acquire(&state, "apply").unwrap();
        assert_eq!(lock.replaced_stale.as_ref(), Some(&dead));
        drop(lock);
        // `state unlock` tidies a leftover description and says whose it was.
        fs::write(lock_path(&state), serde_json::to_vec(&dead).unwrap()).unwrap();
        assert_eq!(unlock(&state).unwrap(), Some(dead));
        assert!(matches!(
            unlock(&state).unwrap_err(),
            StateError::NotLocked { .. }
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_whose_file_was_replaced_no_longer_guards_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let held = StateLock::acquire(&state, "apply").unwrap();
        held.verify().unwrap();
        // Deleted by hand and created again: the path names another file now.
        fs::remove_file(lock_path(&state)).unwrap();
        assert!(matches!(
            held.verify(),
            Err(StateError::LockReplaced { .. })
        ));
        fs::write(lock_path(&state), b"").unwrap();
        let err = held.verify().unwrap_err();
        assert!(err.to_string().contains("removed or replaced"), "{err}");
        // The lock at the path now is a different file, and it is free.
        let other = StateLock::acquire(&state, "apply").unwrap();
        other.verify().unwrap();
    }

    /// Read through `Env`: without `USER`, a CI job still names its user and itself.
    #[test]
    fn the_holder_names_the_ci_job() {
        use crate::env::FakeEnv;
        let gitlab = FakeEnv::default()
            .with_var("CI_JOB_ID", "77")
            .with_var("CI_PIPELINE_ID", "9")
            .with_var("CI_JOB_URL", "https://gitlab.example/acme/-/jobs/77")
            .with_var("GITLAB_USER_LOGIN", "mei");
        let who = Who::from_env(&gitlab);
        assert_eq!(who.holder, "mei");
        assert_eq!(
            who.ci.as_deref(),
            Some("GitLab CI job 77 of pipeline 9 (https://gitlab.example/acme/-/jobs/77)")
        );
        let nobody = Who::from_env(&FakeEnv::default());
        // Nobody named: the process's user id, never a bare "unknown".
        assert!(nobody.holder.starts_with("uid "), "{}", nobody.holder);
        assert_eq!(nobody.ci, None);
        let user = Who::from_env(
            &FakeEnv::default()
                .with_var("USER", "li")
                .with_var("GITLAB_USER_LOGIN", "mei"),
        );
        assert_eq!(user.holder, "li");
    }

    #[test]
    fn a_garbled_leftover_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        fs::write(lock_path(&state), b"{\"holder\": \"ali").unwrap();
        let lock = StateLock::acquire(&state, "apply").unwrap();
        assert_eq!(lock.replaced_stale, None);
    }
}
