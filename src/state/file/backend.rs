//! The file store as a [`StateBackend`]: the state file at a path, its journal as the
//! [`RunLog`], its lock file as the [`Lease`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::journal::{commit_journal, Journal};
use super::lock::{unlock, LockInfo, StateLock, Who};
use super::{journal_path, load_detailed, recover, resolve, save};
use crate::state::{
    BoxFuture, Entry, Folded, Lease, LeaseGuard, Loaded, RunLog, State, StateBackend, StateError,
};

/// The state file at a path (`callform.state.json` by default), with its backup, lock and
/// journal beside it. Every operation resolves the path to the real file first.
#[derive(Debug, Clone)]
pub struct FileBackend {
    path: PathBuf,
}

impl FileBackend {
    pub fn new(path: &Path) -> FileBackend {
        FileBackend {
            path: path.to_path_buf(),
        }
    }

    /// The state file, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl LeaseGuard for StateLock {
    fn verify(&self) -> Result<(), StateError> {
        StateLock::verify(self)
    }

    fn release(self: Box<Self>) -> Result<(), StateError> {
        StateLock::release(*self)
    }
}

impl StateBackend for FileBackend {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn lock_as(&self, operation: &str, who: &Who) -> Result<Lease, StateError> {
        let mut lock = StateLock::acquire_as(&self.path, operation, who)?;
        let replaced_stale = lock.replaced_stale.take();
        Ok(Lease::new(Box::new(lock), replaced_stale))
    }

    fn load(&self) -> Result<Loaded, StateError> {
        load_detailed(&self.path)
    }

    fn live_holder(&self) -> Option<LockInfo> {
        super::lock::live_holder(&self.path)
    }

    fn recover(&self, lease: &Lease) -> Result<Loaded, StateError> {
        recover(&self.path, lease.guard.as_ref())
    }

    fn save(&self, _lease: &Lease, state: &mut State) -> Result<(), StateError> {
        save(&self.path, state)
    }

    fn replace(&self, lease: &Lease, state: &State) -> Result<(), StateError> {
        lease.verify()?;
        super::replace(&self.path, state)
    }

    fn begin<'a>(
        &'a self,
        _lease: &'a Lease,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Arc<dyn RunLog>, StateError>> {
        Box::pin(async move {
            // A brand-new state is saved first, so the journal's header names a state on disk.
            if state.serial == 0 && !self.path.exists() {
                save(&self.path, state)?;
            }
            let journal = Journal::create(&self.path, state).await?;
            let log: Arc<dyn RunLog> = Arc::new(FileRunLog {
                path: self.path.clone(),
                journal,
            });
            Ok(log)
        })
    }

    fn unlock(&self) -> Result<Option<LockInfo>, StateError> {
        unlock(&self.path)
    }
}

/// A run's journal, `P.journal`.
struct FileRunLog {
    /// The state file the run belongs to.
    path: PathBuf,
    journal: Journal,
}

impl RunLog for FileRunLog {
    fn record(&self, entry: Entry) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(self.journal.record(entry))
    }

    fn record_all(&self, entries: Vec<Entry>) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(self.journal.record_all(entries))
    }

    fn durable_writes(&self) -> Option<u64> {
        Some(self.journal.syncs())
    }

    fn commit<'a>(
        self: Arc<Self>,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Option<Folded>, StateError>> {
        Box::pin(async move {
            let Ok(log) = Arc::try_unwrap(self) else {
                return Ok(None);
            };
            let FileRunLog { path, journal } = log;
            journal.close().await?;
            commit_journal(&path, state).map(Some)
        })
    }

    fn location(&self) -> String {
        resolve(&self.path)
            .map(|p| journal_path(&p))
            .unwrap_or_else(|_| journal_path(&self.path))
            .display()
            .to_string()
    }
}
