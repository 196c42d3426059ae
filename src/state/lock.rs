//! The writer lock: one process at a time may change the state.
//!
//! Two applies running together would each create the same missing tasks, so every command
//! that writes the state first takes `P.lock`. Invariants:
//!
//! - The lock is taken with `create_new` (`O_CREAT|O_EXCL`), which is atomic: of two processes
//!   racing for it, exactly one wins. There is no waiting and no retry: a second apply fails
//!   at once and says who holds the lock (user, pid, host, start time, operation).
//! - The holder's description is fsynced, and then the directory, so that a lock left by a
//!   machine that crashed still says who held it instead of silently vanishing or being empty.
//! - A lock file that cannot be read (empty, garbled) still blocks: it may be a process that
//!   has just created it and not yet written its name.
//! - Stale locks are never broken automatically (a pid cannot be checked across hosts or
//!   containers); `callform state unlock` ([`unlock`]) removes one on a person's say-so.
//! - Dropping a [`StateLock`] removes the file, but only if it still holds what this process
//!   wrote: after an `unlock` and a new acquirer, the new holder's lock is left alone.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{lock_path, now_rfc3339, sync_dir, StateError};

/// Who holds the lock; the lock file's contents (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The user, from `USER` or `LOGNAME`.
    pub holder: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// The command holding it, e.g. `apply`.
    pub operation: String,
}

/// The held lock of one state. Dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    /// What this process wrote, to recognise its own lock when releasing it.
    contents: Vec<u8>,
    released: bool,
    /// A lock left by a process of this host that no longer runs (killed), which
    /// `acquire` removed before taking the lock; for the caller to mention.
    pub replaced_stale: Option<LockInfo>,
}

impl StateLock {
    /// Takes the lock of the state at `state_path` for `operation`, or fails at once, naming
    /// the holder, when another process has it.
    pub fn acquire(state_path: &Path, operation: &str) -> Result<StateLock, StateError> {
        let path = lock_path(state_path);
        let info = LockInfo {
            holder: current_user(),
            pid: std::process::id(),
            host: current_host(),
            started_at: now_rfc3339(),
            operation: operation.to_string(),
        };
        let mut contents = serde_json::to_vec_pretty(&info)
            .map_err(|e| StateError::io(&path, "write", io::Error::other(e)))?;
        contents.push(b'\n');

        let mut replaced_stale = None;
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if let Ok(Some(stale)) = read_info(&path) {
                    if let Some(file) = break_if_dead(&path, &stale)? {
                        replaced_stale = Some(stale);
                        file
                    } else {
                        return Err(StateError::Locked {
                            path,
                            info: Box::new(stale),
                        });
                    }
                } else {
                    return Err(match read_info(&path) {
                        Ok(Some(info)) => StateError::Locked {
                            path,
                            info: Box::new(info),
                        },
                        // Removed between our attempt and the read: report it as held anyway;
                        // trying again is the user's call, not a silent loop.
                        Ok(None) => StateError::LockUnreadable {
                            path,
                            reason: "it was removed while being read".into(),
                        },
                        Err(reason) => StateError::LockUnreadable { path, reason },
                    });
                }
            }
            Err(e) => return Err(StateError::io(&path, "create", e)),
        };
        let written = file
            .write_all(&contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| StateError::io(&path, "write", e))
            .and_then(|()| sync_dir(&path));
        if let Err(e) = written {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(StateLock {
            path,
            contents,
            released: false,
            replaced_stale,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock, reporting a failure to remove it (dropping ignores it).
    pub fn release(mut self) -> Result<(), StateError> {
        self.released = true;
        self.remove_if_ours()
    }

    fn remove_if_ours(&self) -> Result<(), StateError> {
        match fs::read(&self.path) {
            Ok(bytes) if bytes == self.contents => {
                fs::remove_file(&self.path).map_err(|e| StateError::io(&self.path, "remove", e))
            }
            // Someone ran `state unlock` and another process took the lock: it is theirs.
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StateError::io(&self.path, "read", e)),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.remove_if_ours();
        }
    }
}

/// Removes the lock of the state at `state_path`, whoever holds it; returns who held it
/// (`None` when the lock file could not be read). Fails with [`StateError::NotLocked`] when
/// there is no lock. Only for locks whose process is gone: it does not stop that process.
pub fn unlock(state_path: &Path) -> Result<Option<LockInfo>, StateError> {
    let path = lock_path(state_path);
    let info = match read_info(&path) {
        Ok(Some(info)) => Some(info),
        Ok(None) => return Err(StateError::NotLocked { path }),
        Err(_) => None,
    };
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StateError::NotLocked { path })
        }
        Err(e) => return Err(StateError::io(&path, "remove", e)),
    }
    sync_dir(&path)?;
    Ok(info)
}

/// `Ok(None)`: no lock file. `Err`: a lock file that cannot be read, and why.
fn read_info(path: &Path) -> Result<Option<LockInfo>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("it is empty".into());
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("it is not a callform lock: {e}"))
}

fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` of this host has ended: only answered where /proc tells.
fn is_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// A lock whose holder ran on this host and is no longer running (a SIGKILL, a crash)
/// holds nothing: move it aside, check it is still that lock, remove it and take a new one.
/// Any doubt (another host, a live pid, a lock that changed meanwhile) keeps it held.
fn break_if_dead(path: &Path, stale: &LockInfo) -> Result<Option<fs::File>, StateError> {
    if stale.host != current_host() || !is_gone(stale.pid) || stale.pid == std::process::id() {
        return Ok(None);
    }
    let aside = path.with_extension(format!("lock.stale-{}", std::process::id()));
    if fs::rename(path, &aside).is_err() {
        return Ok(None);
    }
    match read_info(&aside) {
        Ok(Some(moved)) if moved.pid == stale.pid && moved.started_at == stale.started_at => {
            let _ = fs::remove_file(&aside);
        }
        _ => {
            // Another process took the lock between our read and the rename: give it back.
            let _ = fs::rename(&aside, path);
            return Ok(None);
        }
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(StateError::io(path, "create", e)),
    }
}

fn current_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
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
            "callform state unlock",
        ] {
            assert!(message.contains(part), "{part} missing in {message}");
        }
        drop(held);
        assert!(!lock_path(&state).exists());
        StateLock::acquire(&state, "apply").unwrap();
    }

    #[test]
    fn a_garbled_lock_still_blocks_and_can_be_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        fs::write(lock_path(&state), b"{\"holder\": \"ali").unwrap();
        let err = StateLock::acquire(&state, "apply").unwrap_err();
        assert!(matches!(err, StateError::LockUnreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot be read"));
        fs::write(lock_path(&state), b"").unwrap();
        let err = StateLock::acquire(&state, "apply").unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");

        assert_eq!(unlock(&state).unwrap(), None);
        assert!(!lock_path(&state).exists());
        StateLock::acquire(&state, "apply").unwrap();
    }

    #[test]
    fn unlock_removes_a_stale_lock_and_says_who_held_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let stale = LockInfo {
            holder: "ci".into(),
            pid: 4242,
            host: "runner-7".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            operation: "apply".into(),
        };
        fs::write(lock_path(&state), serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(unlock(&state).unwrap(), Some(stale));
        assert!(!lock_path(&state).exists());
        assert!(matches!(
            unlock(&state).unwrap_err(),
            StateError::NotLocked { .. }
        ));
    }

    #[test]
    fn dropping_a_lock_leaves_a_newer_holders_lock_alone() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = StateLock::acquire(&state, "apply").unwrap();
        unlock(&state).unwrap();
        let second = StateLock::acquire(&state, "state rm").unwrap();
        drop(first);
        assert!(lock_path(&state).exists());
        second.release().unwrap();
        assert!(!lock_path(&state).exists());
    }
}
