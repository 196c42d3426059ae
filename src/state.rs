//! The state: what callform has created at the vendors, and where it is kept.
//!
//! [`model`] is the data, [`replay`] the pure rules that fold a run's journal entries into
//! it. Both are shared by every store, so a store adds storage, not semantics. A store is a
//! [`StateBackend`]; [`file`](mod@file) is the store on disk (state file, journal, lock), the
//! default, and [`postgres`] the team's store in a database (rows, an advisory lock). [`open`]
//! is the one place a state location becomes a store. What the file store offers is also
//! re-exported here.
//!
//! What every backend promises (and the conformance suite in `tests/conformance/` checks):
//!
//! - **One writer.** [`StateBackend::lock`] gives a [`Lease`] to one process at a time and
//!   fails at once for a second one, naming the holder. A holder that died frees it.
//! - **Never lose a record.** [`StateBackend::load`] never writes, and sees every create a
//!   run that died may have made (replayed by [`replay::fold`]). [`StateBackend::recover`],
//!   under the lease, makes that durable so a new run can begin.
//! - **Never overwrite what was not loaded.** [`StateBackend::save`] replaces the version the
//!   caller loaded (same lineage, same serial) atomically and bumps the serial; data that does
//!   not load, or is of a newer format, is refused and left as it was.
//! - **Intent before request.** [`RunLog::record`] returns only once its entry is durable;
//!   [`RunLog::commit`] folds exactly what is durable into the state.

pub mod error;
pub mod file;
pub mod migrate;
pub mod model;
pub mod postgres;
pub mod replay;
pub mod rescue;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

pub use file::*;
pub use model::{
    is_later, now_rfc3339, random_salt, shared_ids, Batch, CalleeProgress, Loaded, ObservedRecord,
    Pending, PendingState, PendingUpdate, RunRecord, RunState, SharedId, State, StoredSpec,
    Superseded, TaskRecord, TaskStatus, FORMAT_VERSION, OLDEST_FORMAT_VERSION,
};
pub use replay::{fold, Entry, FoldError, Folded, Outcome, NO_ID_REASON, STOPPED_REASON};

/// A boxed future, as the object-safe async methods of the traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The state named by `location`: a PostgreSQL location (a `postgres://` URL or one from
/// `${VAR}`, its workspace in `?workspace=`; see [`postgres::location`]) with its variables
/// read from the environment, else a path (the file backend). The one place a command turns
/// a `--state` value, a saved plan's state or callform.yaml's `state:` into a store; it is
/// opened once per command.
pub fn open(location: &Path) -> Result<Box<dyn StateBackend>, StateError> {
    open_with(location, &|name| std::env::var(name).ok())
}

/// [`open`], with the environment variables of a PostgreSQL location read from `var`.
pub fn open_with(
    location: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn StateBackend>, StateError> {
    match location.to_str() {
        Some(text) if postgres::is_postgres_location(text) => {
            Ok(Box::new(open_postgres(text, var)?))
        }
        _ => Ok(Box::new(file::FileBackend::new(location))),
    }
}

/// The PostgreSQL state a location as written names (see [`open`]).
pub fn open_postgres(
    written: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<postgres::PgBackend, StateError> {
    let bad = |reason: String| StateError::BadLocation {
        location: postgres::mask(written),
        reason,
        hint: "see \"State in PostgreSQL\" in the README for the form of `state:` and `--state`",
    };
    let url = postgres::expand(written, var).map_err(bad)?;
    let location = postgres::PgLocation::parse(&url, None).map_err(bad)?;
    Ok(postgres::PgBackend::new(location))
}

/// Where a state is kept, and the only way commands and apply read or write it.
pub trait StateBackend: Send + Sync {
    /// Where the state lives, for messages (a path; never a credential).
    fn location(&self) -> String;

    /// Takes the one writer's lease, or fails at once naming the holder. `operation` is what
    /// the holder is doing (`apply`, `state rm`), shown to a second writer.
    fn lock(&self, operation: &str) -> Result<Lease, StateError> {
        self.lock_as(operation, &Who::from_env(&crate::env::RealEnv))
    }

    /// [`StateBackend::lock`], naming `who` (the user and CI job) as the holder.
    fn lock_as(&self, operation: &str, who: &Who) -> Result<Lease, StateError>;

    /// [`StateBackend::lock_as`], trying again while another live holder has the lock, for
    /// up to `timeout` (zero: one try). What the last try found is returned: the holder's
    /// `Locked` error once the time is up.
    fn lock_waiting(
        &self,
        operation: &str,
        who: &Who,
        timeout: std::time::Duration,
    ) -> Result<Lease, StateError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.lock_as(operation, who) {
                Err(StateError::Locked { .. } | StateError::LockUnreadable { .. }) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return self.lock_as(operation, who);
                    }
                    let pause = (deadline - now).min(std::time::Duration::from_millis(100));
                    std::thread::sleep(pause);
                }
                other => return other,
            }
        }
    }

    /// The process holding the lease now, if one does: what a reader (`plan`) tells about
    /// a run in progress. Never blocks a writer for longer than a probe.
    fn live_holder(&self) -> Option<LockInfo>;

    /// Reads the state and replays a run left pending, in memory. Never writes.
    fn load(&self) -> Result<Loaded, StateError>;

    /// Under the lease: loads, and makes a pending run's records part of the stored state,
    /// so that a new run can begin.
    fn recover(&self, lease: &Lease) -> Result<Loaded, StateError>;

    /// Under the lease: replaces the version `state` was loaded as (same lineage and serial)
    /// and bumps `state.serial`. Anything else stored meanwhile is refused, never overwritten.
    fn save(&self, lease: &Lease, state: &mut State) -> Result<(), StateError>;

    /// Under the lease: writes `state` exactly as it is (lineage, serial, salt, records) in
    /// place of whatever is stored, which the caller has checked (`state migrate`). Refused
    /// while a run is pending here.
    fn replace(&self, lease: &Lease, state: &State) -> Result<(), StateError>;

    /// Under the lease: starts the run log of a run on `state` (as recovered, or new; a new
    /// state may be saved first). Fails if a run is pending: it must be recovered first.
    fn begin<'a>(
        &'a self,
        lease: &'a Lease,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Arc<dyn RunLog>, StateError>>;

    /// Clears the lock left by a holder that died without releasing it, and says who that
    /// was; a live holder's lock is refused.
    fn unlock(&self) -> Result<Option<LockInfo>, StateError>;
}

/// The durable record of one run: every entry is stored before `record` returns.
pub trait RunLog: Send + Sync {
    /// Stores `entry` durably. An entry that contradicts the state or the run so far (see
    /// [`replay`]) is refused and not stored; its request must not be sent.
    fn record(&self, entry: Entry) -> BoxFuture<'_, Result<(), StateError>>;

    /// Stores `entries` in order, each as [`RunLog::record`] would, durable together: a
    /// backend that can (the file store: one write, one sync) makes them so, and none may
    /// make a later entry durable without every earlier one. An entry refused stops the
    /// rest: the ones before it are stored, none after it. The default stores them one by
    /// one, which keeps the order but costs a sync each.
    fn record_all(&self, entries: Vec<Entry>) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            for entry in entries {
                self.record(entry).await?;
            }
            Ok(())
        })
    }

    /// How many durable writes (for the file store: syncs of the journal) the log has made
    /// so far, where the backend counts them: what shows that a [`RunLog::record_all`] was
    /// one. `None` for a backend that does not count.
    fn durable_writes(&self) -> Option<u64> {
        None
    }

    /// Ends the run: folds what is stored into `state` (the state the run began on) and saves
    /// it. `Ok(None)` when another holder of the log is still alive: the run is then left for
    /// the next recover rather than raced.
    fn commit<'a>(
        self: Arc<Self>,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Option<Folded>, StateError>>;

    /// Where the run's records are kept until they are committed, for messages.
    fn location(&self) -> String;
}

/// Proof that this process is the state's one writer, from [`StateBackend::lock`] to
/// [`Lease::release`] (or its drop).
pub struct Lease {
    guard: Box<dyn LeaseGuard>,
    /// The holder before us ended without releasing: its records are recovered.
    pub replaced_stale: Option<LockInfo>,
}

/// What a backend holds for a [`Lease`].
pub trait LeaseGuard: Send + Sync {
    /// Fails when the lease no longer guards the state (its lock was removed or replaced).
    fn verify(&self) -> Result<(), StateError>;
    /// Gives the lease up.
    fn release(self: Box<Self>) -> Result<(), StateError>;
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("replaced_stale", &self.replaced_stale)
            .finish_non_exhaustive()
    }
}

impl Lease {
    pub fn new(guard: Box<dyn LeaseGuard>, replaced_stale: Option<LockInfo>) -> Lease {
        Lease {
            guard,
            replaced_stale,
        }
    }

    /// Fails when the lease no longer guards the state.
    pub fn verify(&self) -> Result<(), StateError> {
        self.guard.verify()
    }

    /// Gives the lease up, reporting a failure to do so cleanly.
    pub fn release(self) -> Result<(), StateError> {
        self.guard.release()
    }
}
