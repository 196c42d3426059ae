//! The PostgreSQL store: a team's state in a database, several projects side by side in
//! workspaces. Same promises as the file store (see [`crate::state`]); the data and the
//! replay rules are shared, what is here is storage.
//!
//! Tables, in the schema `callform` (or `?schema=`), created on first use:
//!
//! ```text
//! schema_version (version)                                   -- one row; a newer one is refused
//! workspaces (workspace PK, format_version, lineage, serial, salt, updated_at)
//! tasks      (workspace, name, record JSONB)                 -- PK (workspace, name)
//! journal    (workspace, run, seq, entry JSONB)              -- PK (workspace, run, seq)
//! locks      (workspace PK, lock_key, holder, pid, host, operation, ci, run, started_at,
//!             backend_pid)
//! ```
//!
//! Every query names its workspace, so a workspace never sees another's rows.
//!
//! Invariants and why they hold:
//!
//! - **Rows, not a blob.** A task is one row holding its record as JSONB (the same JSON the
//!   state file holds for it); a save writes only the rows that changed, in one
//!   transaction that first takes the workspace's header row `FOR UPDATE` and checks the
//!   lineage and serial the caller loaded: a concurrent writer is refused, never
//!   overwritten. Stored rows that do not parse, or a header of a newer format, refuse the
//!   save.
//! - **Intent before request.** A run's journal is rows: [`RunLog::record`] returns once
//!   the transaction inserting its entry has committed. Entries waiting while a
//!   transaction is in flight go together in the next one (group commit), in the order
//!   they were checked; [`RunLog::record_all`]'s entries are one transaction, so the
//!   outcome of a step and the intent of the next are durable together or not at all. A
//!   failed write poisons the log: nothing more goes to the database; outcomes of requests
//!   already sent go to the rescue file ([`super::rescue`]), intents are refused, so apply
//!   stops sending.
//! - **Checked before written.** As in the file store, each entry is replayed on an
//!   in-memory copy first; a contradicting entry is refused and its request not sent.
//! - **Folding once.** Commit folds the rows as stored into the state, writes the changed
//!   task rows, bumps the serial and deletes the run's rows, in one transaction.
//! - **One writer** (`lock.rs`): a session-level advisory lock on a dedicated connection,
//!   plus a row describing the holder.

mod conn;
pub mod location;
mod lock;
mod push;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use postgres::{Client, GenericClient, Transaction};
use serde_json::Value;
use tokio::sync::oneshot;

use self::conn::Conn;
pub use self::location::{expand, is_postgres_location, is_postgres_url, mask, PgLocation};
use self::lock::PgLease;
use super::file::lock::{LockInfo, Who};
use super::model::{now_rfc3339, random_hex, validate};
use super::replay::{self, fold, Entry, Folded, Replay, Unreplayable};
use super::rescue;
use super::{
    BoxFuture, Lease, Loaded, RunLog, State, StateBackend, StateError, TaskRecord, FORMAT_VERSION,
};

/// The version of the tables this callform writes. A database whose `schema_version` is
/// greater was set up by a newer callform and is refused, never altered.
pub const SCHEMA_VERSION: i32 = 1;

/// A database error as one line (the server's message, not the client's wrapping).
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut out = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                out.push_str(&format!(": {s}"));
                source = s.source();
            }
            out
        }
    }
}

/// The state of one workspace in a PostgreSQL database.
pub struct PgBackend {
    location: PgLocation,
    /// The session for reads and saves, opened on first use.
    conn: Mutex<Option<Arc<Conn>>>,
    /// Where a run's records go when the database stops taking them ([`rescue`]); `None`
    /// when no project directory is set.
    rescue: Option<PathBuf>,
    /// The rescue file was looked for (and pushed, if there was one).
    rescue_checked: Mutex<bool>,
}

impl PgBackend {
    pub fn new(location: PgLocation) -> PgBackend {
        PgBackend {
            rescue: rescue::path_for(&location.workspace),
            location,
            conn: Mutex::new(None),
            rescue_checked: Mutex::new(false),
        }
    }

    pub fn pg_location(&self) -> &PgLocation {
        &self.location
    }

    fn db_error(&self, action: &'static str) -> impl Fn(String) -> StateError + '_ {
        move |reason| StateError::Database {
            location: self.location.display().to_string(),
            action,
            reason,
        }
    }

    /// The session, connected and with the tables checked.
    fn conn(&self) -> Result<Arc<Conn>, StateError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = slot.as_ref() {
            return Ok(Arc::clone(conn));
        }
        let conn = Arc::new(open_session(&self.location)?);
        *slot = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// Runs `job` in one transaction on the session.
    fn in_tx<R: Send + 'static>(
        &self,
        action: &'static str,
        job: impl FnOnce(&mut Transaction<'_>, &Ctx) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        let conn = self.conn()?;
        let ctx = Ctx::of(&self.location);
        conn.run(move |client| in_tx(client, &ctx, action, job))
            .map_err(self.db_error(action))?
    }
}

/// Opens a session and makes sure the tables are there, of a version this callform knows.
fn open_session(location: &PgLocation) -> Result<Conn, StateError> {
    let ctx = Ctx::of(location);
    let conn = Conn::open(location).map_err(ctx.failed("connect to"))?;
    let job_ctx = ctx.clone();
    conn.run(move |client| in_tx(client, &job_ctx, "set up the tables of", ensure_schema))
        .map_err(ctx.failed("set up the tables of"))??;
    Ok(conn)
}

/// What a job on the session thread needs to know of the location.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) schema: String,
    pub(crate) workspace: String,
    pub(crate) display: String,
}

impl Ctx {
    fn of(location: &PgLocation) -> Ctx {
        Ctx {
            schema: location.schema.clone(),
            workspace: location.workspace.clone(),
            display: location.display().to_string(),
        }
    }

    /// The location as the `path` of the shared error variants.
    fn path(&self) -> PathBuf {
        PathBuf::from(&self.display)
    }

    fn db(&self, action: &'static str) -> impl Fn(postgres::Error) -> StateError + '_ {
        move |e| self.failed(action)(describe(&e))
    }

    /// A failure to `action` the state here, for a reason already put in words.
    pub(crate) fn failed(&self, action: &'static str) -> impl Fn(String) -> StateError + '_ {
        move |reason| StateError::Database {
            location: self.display.clone(),
            action,
            reason,
        }
    }
}

/// The rows of `tasks` as the `unnest` inserts take them: names and JSONB records.
fn task_rows<'a>(
    ctx: &Ctx,
    tasks: impl Iterator<Item = (&'a String, &'a TaskRecord)>,
) -> Result<(Vec<String>, Vec<Value>), StateError> {
    let (mut names, mut records) = (Vec::new(), Vec::new());
    for (name, record) in tasks {
        names.push(name.clone());
        records.push(
            serde_json::to_value(record).map_err(|e| StateError::Invalid {
                path: ctx.path(),
                reason: format!("task `{name}` cannot be written: {e}"),
            })?,
        );
    }
    Ok((names, records))
}

fn in_tx<R>(
    client: &mut Client,
    ctx: &Ctx,
    action: &'static str,
    job: impl FnOnce(&mut Transaction<'_>, &Ctx) -> Result<R, StateError>,
) -> Result<R, StateError> {
    let mut tx = client.transaction().map_err(ctx.db(action))?;
    let out = job(&mut tx, ctx)?;
    tx.commit().map_err(ctx.db(action))?;
    Ok(out)
}

/// Creates the schema and tables if they are missing, under a transaction-scoped advisory
/// lock so that two first uses do not race; refuses a newer schema version.
fn ensure_schema(tx: &mut Transaction<'_>, ctx: &Ctx) -> Result<(), StateError> {
    let db = ctx.db("set up the tables of");
    let s = &ctx.schema;
    // Set up already: no DDL at all, so a role that may use the tables but not create
    // schemas (a DBA set them up) works, and opening a session stays cheap.
    let present: bool = tx
        .query_one(
            &format!("SELECT to_regclass('{s}.schema_version') IS NOT NULL"),
            &[],
        )
        .map_err(&db)?
        .get(0);
    if present {
        let found: Option<i32> = tx
            .query_opt(&format!("SELECT max(version) FROM {s}.schema_version"), &[])
            .map_err(&db)?
            .and_then(|row| row.get(0));
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StateError::SchemaNewer {
                    location: ctx.display.clone(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(_) => return Ok(()),
            // Created by a first use that has not committed its tables: wait for it below.
            None => {}
        }
    }
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock::key("schema", s, "")],
    )
    .map_err(&db)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL);"
    ))
    .map_err(&db)?;
    let found: Option<i32> = tx
        .query_opt(&format!("SELECT max(version) FROM {s}.schema_version"), &[])
        .map_err(&db)?
        .and_then(|row| row.get(0));
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(StateError::SchemaNewer {
            location: ctx.display.clone(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(_) => Ok(()),
        None => tx
            .batch_execute(&format!(
                "CREATE TABLE {s}.workspaces (
                    workspace text PRIMARY KEY,
                    format_version integer NOT NULL,
                    lineage text NOT NULL,
                    serial bigint NOT NULL,
                    salt text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now());
                 CREATE TABLE {s}.tasks (
                    workspace text NOT NULL,
                    name text NOT NULL,
                    record jsonb NOT NULL,
                    PRIMARY KEY (workspace, name));
                 CREATE TABLE {s}.journal (
                    workspace text NOT NULL,
                    run text NOT NULL,
                    seq bigint NOT NULL,
                    entry jsonb NOT NULL,
                    PRIMARY KEY (workspace, run, seq));
                 CREATE TABLE {s}.locks (
                    workspace text PRIMARY KEY,
                    lock_key bigint NOT NULL,
                    holder text NOT NULL,
                    pid bigint NOT NULL,
                    host text NOT NULL,
                    operation text NOT NULL,
                    ci text,
                    run text,
                    started_at text NOT NULL,
                    backend_pid integer NOT NULL);
                 INSERT INTO {s}.schema_version (version) VALUES ({SCHEMA_VERSION});"
            ))
            .map_err(&db),
    }
}

/// A workspace's rows as read.
struct Raw {
    header: Option<Header>,
    /// Each task's record as the JSON text the server gives (parsed once, straight into
    /// its type).
    tasks: Vec<(String, String)>,
    journal: Vec<(String, i64, String)>,
}

struct Header {
    format_version: i32,
    lineage: String,
    serial: i64,
    salt: String,
}

/// Reads the workspace's rows; `for_update` locks its header row until the transaction ends.
fn read_raw(
    tx: &mut impl GenericClient,
    ctx: &Ctx,
    for_update: bool,
    with_journal: bool,
) -> Result<Raw, StateError> {
    let db = ctx.db("read the state in");
    let s = &ctx.schema;
    let ws = &ctx.workspace;
    let header = tx
        .query_opt(
            &format!(
                "SELECT format_version, lineage, serial, salt FROM {s}.workspaces WHERE workspace = $1{}",
                if for_update { " FOR UPDATE" } else { "" }
            ),
            &[ws],
        )
        .map_err(&db)?
        .map(|row| Header {
            format_version: row.get(0),
            lineage: row.get(1),
            serial: row.get(2),
            salt: row.get(3),
        });
    let tasks = tx
        .query(
            &format!("SELECT name, record::text FROM {s}.tasks WHERE workspace = $1 ORDER BY name"),
            &[ws],
        )
        .map_err(&db)?
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let journal = if with_journal {
        tx.query(
            &format!(
                "SELECT run, seq, entry::text FROM {s}.journal WHERE workspace = $1 ORDER BY seq, run"
            ),
            &[ws],
        )
        .map_err(&db)?
        .into_iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
    } else {
        Vec::new()
    };
    Ok(Raw {
        header,
        tasks,
        journal,
    })
}

/// The stored state, checked as the file store checks its file: a newer format is refused
/// before anything else is read, every task record must parse, the whole must validate.
fn parse_state(ctx: &Ctx, raw: &Raw) -> Result<Option<State>, StateError> {
    let invalid = |reason: String| StateError::Invalid {
        path: ctx.path(),
        reason,
    };
    let Some(h) = &raw.header else {
        if let Some((name, _)) = raw.tasks.first() {
            return Err(invalid(format!(
                "task `{name}` has a row but the workspace has no header row"
            )));
        }
        return Ok(None);
    };
    let version = u32::try_from(h.format_version)
        .map_err(|_| invalid(format!("unknown `format_version` {}", h.format_version)))?;
    if version > FORMAT_VERSION {
        return Err(StateError::NewerFormat {
            path: ctx.path(),
            found: u64::from(version),
            supported: FORMAT_VERSION,
        });
    }
    let serial = u64::try_from(h.serial)
        .map_err(|_| invalid(format!("the serial {} is negative", h.serial)))?;
    let mut tasks = BTreeMap::new();
    for (name, record) in &raw.tasks {
        let record: TaskRecord = serde_json::from_str(record)
            .map_err(|e| invalid(format!("the row of task `{name}` does not read: {e}")))?;
        tasks.insert(name.clone(), record);
    }
    let state = State {
        format_version: version,
        lineage: h.lineage.clone(),
        serial,
        salt: h.salt.clone(),
        tasks,
    };
    validate(&state).map_err(invalid)?;
    Ok(Some(state))
}

/// The pending run's entries, header first; `None` when no run is pending.
fn parse_journal(ctx: &Ctx, raw: &Raw) -> Result<Option<Vec<Entry>>, StateError> {
    let Some((run, _, _)) = raw.journal.first() else {
        return Ok(None);
    };
    let mut entries = Vec::with_capacity(raw.journal.len());
    for (i, (r, seq, entry)) in raw.journal.iter().enumerate() {
        let corrupt = |message: String| StateError::JournalCorrupt {
            path: ctx.path(),
            line: i + 1,
            message,
        };
        if r != run {
            return Err(corrupt(format!(
                "rows of two runs ({run} and {r}) are pending in the workspace"
            )));
        }
        if *seq != i as i64 {
            return Err(corrupt(format!("row {i} of run {run} is missing")));
        }
        entries.push(serde_json::from_str(entry).map_err(|e| corrupt(e.to_string()))?);
    }
    Ok(Some(entries))
}

/// Reads and replays, as the file store's load does.
fn load_in(
    tx: &mut impl GenericClient,
    ctx: &Ctx,
    for_update: bool,
) -> Result<(Loaded, Option<State>), StateError> {
    let raw = read_raw(tx, ctx, for_update, true)?;
    let stored = parse_state(ctx, &raw)?;
    let Some(entries) = parse_journal(ctx, &raw)? else {
        return Ok((
            Loaded {
                state: stored.clone(),
                journal: None,
            },
            stored,
        ));
    };
    let (state, folded) = match replay::replay(stored.clone(), &entries) {
        Ok(replayed) => replayed,
        Err(Unreplayable::Fold(cause)) => {
            return Err(StateError::Fold {
                path: ctx.path(),
                cause,
            })
        }
        Err(Unreplayable::StateMissing { base_serial }) => {
            return Err(StateError::StateMissing {
                path: ctx.path(),
                journal: ctx.path(),
                base_serial,
            })
        }
        Err(Unreplayable::BadHeader(reason)) => {
            return Err(StateError::Invalid {
                path: ctx.path(),
                reason: format!("the pending run's header cannot start a state: {reason}"),
            })
        }
    };
    Ok((
        Loaded {
            state,
            journal: Some(folded),
        },
        stored,
    ))
}

/// Writes `new` over `stored` (what this transaction read, its header row locked): only
/// the rows that differ. Checks lineage and serial first; bumps `new.serial` on success.
fn write_state(
    tx: &mut Transaction<'_>,
    ctx: &Ctx,
    stored: Option<&State>,
    new: &mut State,
) -> Result<(), StateError> {
    let db = ctx.db("write the state in");
    let s = &ctx.schema;
    let ws = &ctx.workspace;
    let empty = BTreeMap::new();
    match stored {
        None if new.serial != 0 => {
            return Err(StateError::SerialConflict {
                path: ctx.path(),
                expected: new.serial,
                on_disk: 0,
            })
        }
        None => {
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO {s}.workspaces (workspace, format_version, lineage, serial, salt)
                         VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING"
                    ),
                    &[ws, &(FORMAT_VERSION as i32), &new.lineage, &new.salt],
                )
                .map_err(&db)?;
            if inserted != 1 {
                return Err(StateError::SerialConflict {
                    path: ctx.path(),
                    expected: 0,
                    on_disk: 1,
                });
            }
        }
        Some(old) => {
            if old.lineage != new.lineage {
                return Err(StateError::LineageConflict {
                    path: ctx.path(),
                    on_disk: old.lineage.clone(),
                    ours: new.lineage.clone(),
                });
            }
            if old.serial != new.serial {
                return Err(StateError::SerialConflict {
                    path: ctx.path(),
                    expected: new.serial,
                    on_disk: old.serial,
                });
            }
            tx.execute(
                &format!(
                    "UPDATE {s}.workspaces SET serial = serial + 1, format_version = $2, updated_at = now()
                     WHERE workspace = $1"
                ),
                &[ws, &(FORMAT_VERSION as i32)],
            )
            .map_err(&db)?;
        }
    }
    let old_tasks = stored.map_or(&empty, |s| &s.tasks);
    let (names, records) = task_rows(
        ctx,
        new.tasks
            .iter()
            .filter(|(name, record)| old_tasks.get(*name) != Some(*record)),
    )?;
    if !names.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO {s}.tasks (workspace, name, record)
                 SELECT $1, n, r FROM unnest($2::text[], $3::jsonb[]) AS t(n, r)
                 ON CONFLICT (workspace, name) DO UPDATE SET record = excluded.record"
            ),
            &[ws, &names, &records],
        )
        .map_err(&db)?;
    }
    let gone: Vec<String> = old_tasks
        .keys()
        .filter(|name| !new.tasks.contains_key(*name))
        .cloned()
        .collect();
    if !gone.is_empty() {
        tx.execute(
            &format!("DELETE FROM {s}.tasks WHERE workspace = $1 AND name = ANY($2)"),
            &[ws, &gone],
        )
        .map_err(&db)?;
    }
    new.format_version = FORMAT_VERSION;
    new.serial += 1;
    Ok(())
}

fn delete_journal(tx: &mut Transaction<'_>, ctx: &Ctx) -> Result<(), StateError> {
    tx.execute(
        &format!("DELETE FROM {}.journal WHERE workspace = $1", ctx.schema),
        &[&ctx.workspace],
    )
    .map_err(ctx.db("clear the run of"))?;
    Ok(())
}

impl StateBackend for PgBackend {
    fn location(&self) -> String {
        self.location.display().to_string()
    }

    fn lock_as(&self, operation: &str, who: &Who) -> Result<Lease, StateError> {
        // Tables first, on the ordinary session: the lock's session only locks.
        self.conn()?;
        self.push_rescue()?;
        let lease = PgLease::acquire(&self.location, operation, who)?;
        let replaced = lease.replaced_stale.clone();
        Ok(Lease::new(Box::new(lease), replaced))
    }

    fn live_holder(&self) -> Option<LockInfo> {
        let conn = self.conn().ok()?;
        // A rescue that cannot be pushed is reported by the load that follows.
        let _ = self.push_rescue();
        lock::live_holder(&conn, &Ctx::of(&self.location))
    }

    fn load(&self) -> Result<Loaded, StateError> {
        let conn = self.conn()?;
        self.push_rescue()?;
        let ctx = Ctx::of(&self.location);
        conn.run(move |client| {
            // One snapshot: the state and its pending run as of one moment.
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(ctx.db("read the state in"))?;
            let (loaded, _) = load_in(&mut tx, &ctx, false)?;
            tx.commit().map_err(ctx.db("read the state in"))?;
            Ok(loaded)
        })
        .map_err(self.db_error("read the state in"))?
    }

    fn recover(&self, lease: &Lease) -> Result<Loaded, StateError> {
        lease.verify()?;
        self.in_tx("recover the state in", |tx, ctx| {
            let (mut loaded, stored) = load_in(tx, ctx, true)?;
            if let Some(folded) = &loaded.journal {
                if !folded.already_folded {
                    if let Some(state) = loaded.state.as_mut() {
                        write_state(tx, ctx, stored.as_ref(), state)?;
                    }
                }
                delete_journal(tx, ctx)?;
            }
            Ok(loaded)
        })
    }

    fn save(&self, lease: &Lease, state: &mut State) -> Result<(), StateError> {
        lease.verify()?;
        let mut new = state.clone();
        let saved = self.in_tx("save the state in", move |tx, ctx| {
            let raw = read_raw(tx, ctx, true, false)?;
            let stored = parse_state(ctx, &raw)?;
            write_state(tx, ctx, stored.as_ref(), &mut new)?;
            Ok(new)
        })?;
        *state = saved;
        Ok(())
    }

    fn replace(&self, lease: &Lease, state: &State) -> Result<(), StateError> {
        lease.verify()?;
        let state = state.clone();
        self.in_tx("write the state in", move |tx, ctx| {
            let raw = read_raw(tx, ctx, true, true)?;
            if !raw.journal.is_empty() {
                return Err(StateError::JournalExists { path: ctx.path() });
            }
            replace_state(tx, ctx, &state)
        })
    }

    fn begin<'a>(
        &'a self,
        lease: &'a Lease,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Arc<dyn RunLog>, StateError>> {
        Box::pin(async move {
            lease.verify()?;
            let run = random_hex(8);
            let base = state.clone();
            let header_run = run.clone();
            let conn = self.conn()?;
            let ctx = Ctx::of(&self.location);
            let started = conn
                .run_async(move |client| {
                    in_tx(client, &ctx, "start a run in", move |tx, ctx| {
                        let raw = read_raw(tx, ctx, true, true)?;
                        if !raw.journal.is_empty() {
                            return Err(StateError::JournalExists { path: ctx.path() });
                        }
                        let stored = parse_state(ctx, &raw)?;
                        let mut base = base;
                        match &stored {
                            // A brand-new state is saved first, so the run's header names a
                            // stored state.
                            None if base.serial == 0 => write_state(tx, ctx, None, &mut base)?,
                            None => {
                                return Err(StateError::SerialConflict {
                                    path: ctx.path(),
                                    expected: base.serial,
                                    on_disk: 0,
                                })
                            }
                            Some(old) if old.lineage != base.lineage => {
                                return Err(StateError::LineageConflict {
                                    path: ctx.path(),
                                    on_disk: old.lineage.clone(),
                                    ours: base.lineage.clone(),
                                })
                            }
                            Some(old) if old.serial != base.serial => {
                                return Err(StateError::SerialConflict {
                                    path: ctx.path(),
                                    expected: base.serial,
                                    on_disk: old.serial,
                                })
                            }
                            Some(_) => {}
                        }
                        let header = Entry::Begin {
                            lineage: base.lineage.clone(),
                            salt: base.salt.clone(),
                            base_serial: base.serial,
                            run: header_run.clone(),
                            at: now_rfc3339(),
                        };
                        let lock_pid =
                            lock::holder_pid(tx, ctx).map_err(|reason| StateError::LockLost {
                                location: ctx.display.clone(),
                                reason,
                            })?;
                        insert_entries(tx, ctx, &header_run, &[(0, to_json(ctx, &header)?)])?;
                        tx.execute(
                            &format!(
                                "UPDATE {}.locks SET run = $2 WHERE workspace = $1",
                                ctx.schema
                            ),
                            &[&ctx.workspace, &header_run],
                        )
                        .map_err(ctx.db("start a run in"))?;
                        Ok((base, lock_pid))
                    })
                })
                .await
                .map_err(self.db_error("start a run in"))??;
            let (started, lock_pid) = started;
            *state = started;
            // The run's rows go through a session of their own, so a slow read elsewhere
            // never delays a record.
            let conn = open_session(&self.location)?;
            let rescue = self.rescue.clone().map(|path| {
                Arc::new(rescue::Writer::new(
                    path,
                    rescue::Header {
                        rescue: rescue::RESCUE_VERSION,
                        location: self.location.display().to_string(),
                        workspace: self.location.workspace.clone(),
                        run: run.clone(),
                    },
                ))
            });
            let log: Arc<dyn RunLog> = Arc::new(PgRunLog {
                ctx: Ctx::of(&self.location),
                rescue,
                insert: Arc::new(Mutex::new(None)),
                run,
                lock_pid,
                conn: Arc::new(conn),
                check: Mutex::new(Check {
                    state: state.clone(),
                    replay: Replay::default(),
                    rows: 1,
                }),
                queue: Arc::new(Mutex::new(Queue::default())),
                writes: Arc::new(AtomicU64::new(0)),
            });
            Ok(log)
        })
    }

    fn unlock(&self) -> Result<Option<LockInfo>, StateError> {
        self.conn()?;
        self.push_rescue()?;
        lock::unlock(&self.location)
    }
}

/// Writes `state` as it is over the workspace's rows (header, every task): what
/// [`StateBackend::replace`] does, in the caller's transaction.
fn replace_state(tx: &mut Transaction<'_>, ctx: &Ctx, state: &State) -> Result<(), StateError> {
    validate(state).map_err(|reason| StateError::Invalid {
        path: ctx.path(),
        reason: format!("refusing to write it: {reason}"),
    })?;
    let db = ctx.db("write the state in");
    let (s, ws) = (&ctx.schema, &ctx.workspace);
    let serial = i64::try_from(state.serial).map_err(|_| StateError::Invalid {
        path: ctx.path(),
        reason: format!("the serial {} is too large", state.serial),
    })?;
    tx.execute(
        &format!(
            "INSERT INTO {s}.workspaces (workspace, format_version, lineage, serial, salt)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace) DO UPDATE SET format_version = excluded.format_version,
               lineage = excluded.lineage, serial = excluded.serial, salt = excluded.salt,
               updated_at = now()"
        ),
        &[
            ws,
            &(FORMAT_VERSION as i32),
            &state.lineage,
            &serial,
            &state.salt,
        ],
    )
    .map_err(&db)?;
    tx.execute(
        &format!("DELETE FROM {s}.tasks WHERE workspace = $1"),
        &[ws],
    )
    .map_err(&db)?;
    let (names, records) = task_rows(ctx, state.tasks.iter())?;
    if !names.is_empty() {
        tx.execute(
            &format!(
                "INSERT INTO {s}.tasks (workspace, name, record)
                 SELECT $1, n, r FROM unnest($2::text[], $3::jsonb[]) AS t(n, r)"
            ),
            &[ws, &names, &records],
        )
        .map_err(&db)?;
    }
    Ok(())
}

fn to_json(ctx: &Ctx, entry: &Entry) -> Result<Value, StateError> {
    serde_json::to_value(entry).map_err(|e| StateError::JournalWrite {
        path: ctx.path(),
        reason: e.to_string(),
    })
}

fn insert_entries(
    tx: &mut impl GenericClient,
    ctx: &Ctx,
    run: &str,
    rows: &[(i64, Value)],
) -> Result<(), StateError> {
    let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
    let entries: Vec<Value> = rows.iter().map(|(_, e)| e.clone()).collect();
    tx.execute(
        &format!(
            "INSERT INTO {}.journal (workspace, run, seq, entry)
             SELECT $1, $2, s, e FROM unnest($3::bigint[], $4::jsonb[]) AS t(s, e)",
            ctx.schema
        ),
        &[&ctx.workspace, &run, &seqs, &entries],
    )
    .map_err(|e| StateError::JournalWrite {
        path: ctx.path(),
        reason: describe(&e),
    })?;
    Ok(())
}

struct Check {
    state: State,
    replay: Replay,
    /// Rows accepted so far, the header included: the next row's `seq`.
    rows: usize,
}

/// Why rows were not stored, and whether the rescue file holds them.
#[derive(Clone)]
struct Failure {
    reason: String,
    rescued: Option<PathBuf>,
}

type Ack = oneshot::Sender<Result<(), Failure>>;

/// Rows checked and waiting for the next transaction.
#[derive(Default)]
struct Queue {
    rows: Vec<(i64, Value)>,
    acks: Vec<Ack>,
    /// A flush is queued on the session and has not taken the rows yet.
    scheduled: bool,
    /// The first failed write: nothing is written to the database after it, and no intent
    /// is accepted.
    failed: Option<String>,
    /// A row since the failure could not be written to the rescue file either: nothing
    /// more goes there (its rows must follow on without a gap).
    rescue_broken: bool,
}

impl Queue {
    /// After a failure: keeps `rows` in the rescue file, `unsent` marking the intents that
    /// will not be sent. `Some(path)` when they are on disk there.
    fn rescue(
        &mut self,
        writer: Option<&rescue::Writer>,
        rows: Vec<rescue::Row>,
    ) -> Option<PathBuf> {
        let writer = writer?;
        if self.rescue_broken {
            return None;
        }
        match writer.append(&rows) {
            Ok(()) => Some(writer.path().to_path_buf()),
            Err(_) => {
                self.rescue_broken = true;
                None
            }
        }
    }
}

/// Whether a stored row is an intent (see [`rescue::is_intent`]); a row that does not read
/// back counts as one, so it is never pushed as an outcome.
fn row_is_intent(entry: &Value) -> bool {
    serde_json::from_value::<Entry>(entry.clone()).map_or(true, |e| rescue::is_intent(&e))
}

/// A run's journal rows.
struct PgRunLog {
    ctx: Ctx,
    /// Where rows go once the database failed ([`rescue`]).
    rescue: Option<Arc<rescue::Writer>>,
    /// The journal insert, prepared on the run's session at its first write.
    insert: Arc<Mutex<Option<postgres::Statement>>>,
    run: String,
    /// The server process of the lease's session: every write checks it still holds the lock.
    lock_pid: i32,
    conn: Arc<Conn>,
    check: Mutex<Check>,
    queue: Arc<Mutex<Queue>>,
    writes: Arc<AtomicU64>,
}

impl PgRunLog {
    fn write_error(&self, reason: impl Into<String>) -> StateError {
        StateError::JournalWrite {
            path: self.ctx.path(),
            reason: reason.into(),
        }
    }

    fn failure_error(&self, failure: Failure) -> StateError {
        match failure.rescued {
            Some(rescue) => StateError::Rescued {
                location: self.ctx.display.clone(),
                rescue,
                reason: failure.reason,
            },
            None => self.write_error(failure.reason),
        }
    }

    /// What the session runs to write the waiting rows: everything queued by then goes in
    /// one transaction, and each waiter is woken only after its commit.
    fn flush_job(&self) -> impl FnOnce(&mut Client) + Send + 'static {
        let (queue, ctx, run, writes, lock_pid, writer, insert) = (
            Arc::clone(&self.queue),
            self.ctx.clone(),
            self.run.clone(),
            Arc::clone(&self.writes),
            self.lock_pid,
            self.rescue.clone(),
            Arc::clone(&self.insert),
        );
        move |client: &mut Client| {
            let (rows, acks, failed) = {
                let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                q.scheduled = false;
                (
                    std::mem::take(&mut q.rows),
                    std::mem::take(&mut q.acks),
                    q.failed.clone(),
                )
            };
            if rows.is_empty() {
                return;
            }
            // After a failure nothing more goes to the database, even if it came back: the
            // rows there must stay a prefix of the run, the rest in the rescue file.
            let written = match failed {
                Some(reason) => Err(reason),
                None => {
                    let mut stmt = insert.lock().unwrap_or_else(PoisonError::into_inner);
                    lock::insert_if_held(client, &ctx, &mut stmt, lock_pid, &run, &rows)
                }
            };
            let result = match written {
                Ok(()) => {
                    writes.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
                Err(reason) => {
                    let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                    q.failed.get_or_insert_with(|| reason.clone());
                    // Whether this write committed is unknown: its rows are kept, and its
                    // intents (whose callers hear of the failure) are marked unsent.
                    let kept = rows
                        .into_iter()
                        .map(|(seq, entry)| rescue::Row {
                            unsent: row_is_intent(&entry),
                            seq,
                            entry,
                        })
                        .collect();
                    let rescued = q.rescue(writer.as_deref(), kept);
                    Err(Failure { reason, rescued })
                }
            };
            for ack in acks {
                let _ = ack.send(result.clone());
            }
        }
    }
}

impl RunLog for PgRunLog {
    fn record(&self, entry: Entry) -> BoxFuture<'_, Result<(), StateError>> {
        self.record_all(vec![entry])
    }

    fn record_all(&self, entries: Vec<Entry>) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let (ack, acked) = oneshot::channel();
            let refused = {
                // Checked and queued under one lock, so the rows' order is the checked order.
                let mut check = self.check.lock().unwrap_or_else(PoisonError::into_inner);
                let Check {
                    state,
                    replay,
                    rows,
                } = &mut *check;
                // Everything that can fail before an entry is accepted is done first, so an
                // entry is applied to the in-memory check only when its row will be queued.
                let jsons = entries
                    .iter()
                    .map(|e| to_json(&self.ctx, e))
                    .collect::<Result<Vec<_>, _>>()?;
                // After a failure, entries are still checked and numbered: an outcome (its
                // request already sent) goes to the rescue file below, an intent is refused.
                let mut refused = None;
                let mut accepted = Vec::new();
                for (entry, json) in entries.iter().zip(jsons) {
                    if let Err(cause) = replay.apply(state, entry, *rows + 1) {
                        refused = Some(StateError::JournalRejected {
                            path: self.ctx.path(),
                            cause,
                        });
                        break;
                    }
                    accepted.push((*rows as i64, json));
                    *rows += 1;
                }
                if accepted.is_empty() {
                    return refused.map_or(Ok(()), Err);
                }
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(reason) = q.failed.clone() {
                    // The database failed: outcomes (requests already sent) are kept in the
                    // rescue file; the first intent and all after it are refused, not sent.
                    let mut unsent = false;
                    let kept: Vec<rescue::Row> = accepted
                        .into_iter()
                        .zip(&entries)
                        .map(|((seq, entry), e)| {
                            unsent |= rescue::is_intent(e);
                            rescue::Row { seq, entry, unsent }
                        })
                        .collect();
                    let reason = format!("an earlier write failed: {reason}");
                    return match q.rescue(self.rescue.as_deref(), kept) {
                        Some(_) if !unsent => refused.map_or(Ok(()), Err),
                        rescued => Err(self.failure_error(Failure { reason, rescued })),
                    };
                }
                q.rows.extend(accepted);
                q.acks.push(ack);
                if !q.scheduled {
                    q.scheduled = true;
                    drop(q);
                    let job = self.flush_job();
                    // The session runs jobs in order: this flush follows every earlier one.
                    self.conn.spawn(job).map_err(|e| self.write_error(e))?;
                }
                refused
            };
            acked
                .await
                .map_err(|_| self.write_error("the database session ended"))?
                .map_err(|failure| self.failure_error(failure))?;
            refused.map_or(Ok(()), Err)
        })
    }

    fn durable_writes(&self) -> Option<u64> {
        Some(self.writes.load(Ordering::SeqCst))
    }

    fn commit<'a>(
        self: Arc<Self>,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<Option<Folded>, StateError>> {
        Box::pin(async move {
            let Ok(log) = Arc::try_unwrap(self) else {
                return Ok(None);
            };
            let failed = {
                let q = log.queue.lock().unwrap_or_else(PoisonError::into_inner);
                q.failed.clone().map(|reason| Failure {
                    reason,
                    rescued: (!q.rescue_broken)
                        .then(|| log.rescue.as_ref().map(|w| w.path().to_path_buf()))
                        .flatten(),
                })
            };
            if let Some(failure) = failed {
                // Only when rows were in fact kept there: a failure with nothing to rescue
                // leaves no file.
                let kept = failure.rescued.as_ref().is_some_and(|p| p.exists());
                return Err(if kept {
                    log.failure_error(failure)
                } else {
                    log.write_error(failure.reason)
                });
            }
            let base = state.clone();
            let ctx = log.ctx.clone();
            let lock_pid = log.lock_pid;
            // After every flush queued before it: the session runs jobs in order.
            let (folded, new) = log
                .conn
                .run_async(move |client| {
                    in_tx(client, &ctx, "commit the run into", move |tx, ctx| {
                        let raw = read_raw(tx, ctx, true, true)?;
                        lock::still_held(tx, ctx, lock_pid).map_err(|reason| {
                            StateError::LockLost {
                                location: ctx.display.clone(),
                                reason,
                            }
                        })?;
                        let stored = parse_state(ctx, &raw)?;
                        let Some(entries) = parse_journal(ctx, &raw)? else {
                            return Err(StateError::JournalMissing { path: ctx.path() });
                        };
                        let mut state = base;
                        let folded =
                            fold(&mut state, &entries).map_err(|cause| StateError::Fold {
                                path: ctx.path(),
                                cause,
                            })?;
                        if !folded.already_folded {
                            write_state(tx, ctx, stored.as_ref(), &mut state)?;
                        }
                        delete_journal(tx, ctx)?;
                        Ok((folded, state))
                    })
                })
                .await
                .map_err(|e| log.write_error(e))??;
            *state = new;
            Ok(Some(folded))
        })
    }

    fn location(&self) -> String {
        format!("{} run {}", self.ctx.display, self.run)
    }
}
