//! The one writer of a workspace: a session-level advisory lock on a dedicated session, and a
//! row in `locks` that names the holder.
//!
//! - **The key.** `pg_try_advisory_lock(key)` with `key` the first 8 bytes (big-endian,
//!   signed) of SHA-256(`callform\0state\0SCHEMA\0WORKSPACE`). Advisory locks are per
//!   database, so two databases never collide; the schema and workspace are in the hash, so
//!   two schemas or workspaces of one database do not either (short of a 64-bit hash
//!   collision). The key is stored in the row, for a DBA looking at `pg_locks`.
//! - **A dedicated session.** The lease owns its own connection ([`Conn`]): never a pooled
//!   one, which could hand the lock to another client or drop it with a transaction. Behind
//!   PgBouncer in transaction mode, session locks do not work: connect callform directly
//!   (README).
//! - **The lock dies with its session.** A holder that is killed closes its connection (or
//!   the server notices the dead peer) and the server frees the lock; the row it left is
//!   then stale, and the next holder reports it and replaces it.
//! - **Unlock checks the server, not the row.** `state unlock` tries the advisory lock
//!   itself: while the holder's session lives, the lock is not free and the unlock is
//!   refused, whatever the row says.

use sha2::{Digest, Sha256};

use super::conn::Conn;
use super::{describe, Ctx, PgLocation};
use crate::state::file::lock::{current_host, LockInfo, Who};
use crate::state::model::now_rfc3339;
use crate::state::{LeaseGuard, StateError};

/// The advisory lock key of `(schema, workspace)` for `kind` (`state`, or `schema` for the
/// transaction lock taken while tables are created).
pub(crate) fn key(kind: &str, schema: &str, workspace: &str) -> i64 {
    let mut hasher = Sha256::new();
    for part in ["callform", kind, schema, workspace] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let sum = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&sum[..8]);
    i64::from_be_bytes(first)
}

fn state_key(ctx: &Ctx) -> i64 {
    key("state", &ctx.schema, &ctx.workspace)
}

/// Whether the session of server process `pid` holds the workspace's advisory lock now.
fn holds(client: &mut impl postgres::GenericClient, ctx: &Ctx, pid: i32) -> Result<bool, String> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND pid = $1 AND objsubid = 1
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid = (($2::bigint >> 32) & 4294967295)::oid
                 AND objid = ($2::bigint & 4294967295)::oid)",
            &[&pid, &state_key(ctx)],
        )
        .map(|row| row.get(0))
        .map_err(|e| describe(&e))
}

/// In a transaction that writes the workspace's run: that the lease is still held by the
/// session `lock_pid` (what the lock row named when the run began). The workspace's header
/// row is share-locked first, so a recover by another holder (which takes it for update)
/// either sees this transaction's rows or runs before it, when the check fails: a run whose
/// lock was lost (its session ended) writes nothing more.
pub(crate) fn still_held(
    tx: &mut impl postgres::GenericClient,
    ctx: &Ctx,
    lock_pid: i32,
) -> Result<(), String> {
    tx.execute(
        &format!(
            "SELECT 1 FROM {}.workspaces WHERE workspace = $1 FOR SHARE",
            ctx.schema
        ),
        &[&ctx.workspace],
    )
    .map_err(|e| describe(&e))?;
    if holds(tx, ctx, lock_pid)? {
        Ok(())
    } else {
        Err("the run's lock on the state is no longer held (its session ended): nothing more is written; run apply again, which recovers what was recorded".into())
    }
}

/// [`still_held`] and the insert of a run's journal rows as one statement (its own
/// transaction, one round trip with `stmt` prepared once per session): the header row is
/// share-locked and the lock checked in the same snapshot as the rows are written, exactly
/// as the two steps in one transaction would. Nothing is written when the lock is not held.
pub(crate) fn insert_if_held(
    client: &mut postgres::Client,
    ctx: &Ctx,
    stmt: &mut Option<postgres::Statement>,
    lock_pid: i32,
    run: &str,
    rows: &[(i64, serde_json::Value)],
) -> Result<(), String> {
    let statement = match stmt {
        Some(s) => s.clone(),
        None => {
            let prepared = client
                .prepare(&format!(
                    "WITH header AS (SELECT 1 FROM {s}.workspaces WHERE workspace = $1 FOR SHARE),
                          held AS (SELECT 1 FROM pg_locks
                            WHERE locktype = 'advisory' AND granted AND pid = $5 AND objsubid = 1
                              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                              AND classid = (($6::bigint >> 32) & 4294967295)::oid
                              AND objid = ($6::bigint & 4294967295)::oid)
                     INSERT INTO {s}.journal (workspace, run, seq, entry)
                     SELECT $1, $2, t.s, t.e FROM unnest($3::bigint[], $4::jsonb[]) AS t(s, e)
                     WHERE EXISTS (SELECT 1 FROM header) AND EXISTS (SELECT 1 FROM held)",
                    s = ctx.schema
                ))
                .map_err(|e| describe(&e))?;
            *stmt = Some(prepared.clone());
            prepared
        }
    };
    let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
    let entries: Vec<&serde_json::Value> = rows.iter().map(|(_, e)| e).collect();
    let written = client
        .execute(
            &statement,
            &[
                &ctx.workspace,
                &run,
                &seqs,
                &entries,
                &lock_pid,
                &state_key(ctx),
            ],
        )
        .map_err(|e| describe(&e))?;
    if written as usize == rows.len() {
        Ok(())
    } else {
        Err("the run's lock on the state is no longer held (its session ended): nothing more is written; run apply again, which recovers what was recorded".into())
    }
}

/// The server process whose session holds the lease, as the lock row names it, checked to
/// hold the advisory lock now.
pub(crate) fn holder_pid(tx: &mut postgres::Transaction<'_>, ctx: &Ctx) -> Result<i32, String> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT backend_pid FROM {}.locks WHERE workspace = $1",
                ctx.schema
            ),
            &[&ctx.workspace],
        )
        .map_err(|e| describe(&e))?;
    match row.map(|r| r.get::<_, i32>(0)) {
        Some(pid) if holds(tx, ctx, pid)? => Ok(pid),
        _ => Err("the state's lock is not held by this run's lease".into()),
    }
}

/// The lock row of the workspace, if there is one.
fn read_row(client: &mut postgres::Client, ctx: &Ctx) -> Result<Option<(LockInfo, i32)>, String> {
    let row = client
        .query_opt(
            &format!(
                "SELECT holder, pid, host, started_at, operation, ci, run, backend_pid
                 FROM {}.locks WHERE workspace = $1",
                ctx.schema
            ),
            &[&ctx.workspace],
        )
        .map_err(|e| describe(&e))?;
    Ok(row.map(|row| {
        let run: Option<String> = row.get(6);
        let mut operation: String = row.get(4);
        if let Some(run) = run {
            operation.push_str(&format!("` run `{run}"));
        }
        (
            LockInfo {
                holder: row.get(0),
                pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                host: row.get(2),
                started_at: row.get(3),
                operation,
                ci: row.get(5),
            },
            row.get(7),
        )
    }))
}

/// Whether a server process is still alive (it may be exiting: its lock not yet freed).
fn backend_alive(client: &mut postgres::Client, pid: i32) -> Result<bool, String> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
            &[&pid],
        )
        .map(|row| row.get(0))
        .map_err(|e| describe(&e))
}

fn try_lock(client: &mut postgres::Client, key: i64) -> Result<bool, String> {
    client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .map(|row| row.get(0))
        .map_err(|e| describe(&e))
}

fn unlock_key(client: &mut postgres::Client, key: i64) -> Result<(), String> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .map(drop)
        .map_err(|e| describe(&e))
}

/// What taking the lock found.
enum Taken {
    /// Ours; the row of a holder that died, if one was left.
    Held(Option<LockInfo>),
    /// Another live session holds it (its row, if it has written one yet).
    Busy(Option<LockInfo>),
}

/// The lease of a workspace: the session holding the advisory lock.
pub(crate) struct PgLease {
    conn: Option<Conn>,
    ctx: Ctx,
    key: i64,
    pub(crate) replaced_stale: Option<LockInfo>,
}

impl PgLease {
    pub(crate) fn acquire(
        location: &PgLocation,
        operation: &str,
        who: &Who,
    ) -> Result<PgLease, StateError> {
        let ctx = Ctx::of(location);
        let conn = Conn::open(location).map_err(ctx.failed("connect to"))?;
        // The server notices a holder whose machine vanished (no FIN, no RST) within about a
        // minute and frees its lock, instead of after the system's two-hour default.
        conn.run(|client| {
            client
                .batch_execute(
                    "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
                )
                .map_err(|e| describe(&e))
        })
        .and_then(|r| r)
        .map_err(ctx.failed("set up the lock's session in"))?;
        let key = state_key(&ctx);
        let info = LockInfo {
            holder: who.holder.clone(),
            pid: std::process::id(),
            host: current_host(),
            started_at: now_rfc3339(),
            operation: operation.to_string(),
            ci: who.ci.clone(),
        };
        let job_ctx = ctx.clone();
        let backend_pid = conn.backend_pid;
        let taken = conn
            .run(move |client| -> Result<Taken, String> {
                let ctx = &job_ctx;
                // A holder killed a moment ago may still have a server process on its way
                // out, its lock not yet freed: its row names a process that is gone or
                // going. Only then is the attempt repeated, briefly.
                for attempt in 0..40 {
                    if try_lock(client, key)? {
                        let stale = read_row(client, ctx)?.map(|(info, _)| info);
                        client
                            .execute(
                                &format!(
                                    "INSERT INTO {}.locks (workspace, lock_key, holder, pid, host, operation, ci, run, started_at, backend_pid)
                                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)
                                     ON CONFLICT (workspace) DO UPDATE SET lock_key = excluded.lock_key,
                                       holder = excluded.holder, pid = excluded.pid, host = excluded.host,
                                       operation = excluded.operation, ci = excluded.ci, run = NULL,
                                       started_at = excluded.started_at, backend_pid = excluded.backend_pid",
                                    ctx.schema
                                ),
                                &[
                                    &ctx.workspace,
                                    &key,
                                    &info.holder,
                                    &i64::from(info.pid),
                                    &info.host,
                                    &info.operation,
                                    &info.ci,
                                    &info.started_at,
                                    &backend_pid,
                                ],
                            )
                            .map_err(|e| describe(&e))?;
                        return Ok(Taken::Held(stale));
                    }
                    let row = read_row(client, ctx)?;
                    let dying = match &row {
                        Some((_, pid)) => !backend_alive(client, *pid)?,
                        None => false,
                    };
                    if !dying || attempt == 39 {
                        return Ok(Taken::Busy(row.map(|(info, _)| info)));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Ok(Taken::Busy(None))
            })
            .map_err(ctx.failed("lock the state in"))?
            .map_err(ctx.failed("lock the state in"))?;
        match taken {
            Taken::Held(stale) => Ok(PgLease {
                conn: Some(conn),
                ctx,
                key,
                replaced_stale: stale,
            }),
            Taken::Busy(Some(info)) => Err(StateError::Locked {
                path: ctx.path(),
                info: Box::new(info),
            }),
            Taken::Busy(None) => Err(StateError::LockUnreadable {
                path: ctx.path(),
                reason: "the lock is held, but its holder has not written its row yet".into(),
            }),
        }
    }
}

impl LeaseGuard for PgLease {
    fn verify(&self) -> Result<(), StateError> {
        let lost = |reason: String| StateError::LockLost {
            location: self.ctx.display.clone(),
            reason,
        };
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| lost("the lease was given up".into()))?;
        let ctx = self.ctx.clone();
        let ours = conn.backend_pid;
        let checked = conn
            .run(move |client| -> Result<(Option<i32>, bool), String> {
                let row = read_row(client, &ctx)?.map(|(_, pid)| pid);
                Ok((row, holds(client, &ctx, ours)?))
            })
            .and_then(|r| r);
        match checked {
            Ok((Some(pid), true)) if pid == ours => Ok(()),
            Ok((_, false)) => Err(lost("the lock's session no longer holds it".into())),
            Ok(_) => Err(lost(
                "the lock row names another holder (it was cleared or taken over)".into(),
            )),
            Err(reason) => Err(lost(reason)),
        }
    }

    fn release(mut self: Box<Self>) -> Result<(), StateError> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let (ctx, key, ours) = (self.ctx.clone(), self.key, conn.backend_pid);
        let result = conn.run(move |client| -> Result<(), String> {
            client
                .execute(
                    &format!(
                        "DELETE FROM {}.locks WHERE workspace = $1 AND backend_pid = $2",
                        ctx.schema
                    ),
                    &[&ctx.workspace, &ours],
                )
                .map_err(|e| describe(&e))?;
            unlock_key(client, key)
        });
        drop(conn);
        result
            .and_then(|r| r)
            .map_err(self.ctx.failed("release the lock of"))
    }
}

impl Drop for PgLease {
    /// A lease dropped without release (the command stopped on an error): as the file
    /// store's lock does, it clears its row and frees the lock before the session closes
    /// (best effort: a session already lost freed the lock with it, and its row is replaced
    /// by the next holder).
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let (ctx, key, ours) = (self.ctx.clone(), self.key, conn.backend_pid);
            let _ = conn.run(move |client| {
                let _ = client.execute(
                    &format!(
                        "DELETE FROM {}.locks WHERE workspace = $1 AND backend_pid = $2",
                        ctx.schema
                    ),
                    &[&ctx.workspace, &ours],
                );
                unlock_key(client, key)
            });
        }
    }
}

/// The live holder of the workspace's lock, if any: the lock is tried and at once freed.
pub(crate) fn live_holder(conn: &Conn, ctx: &Ctx) -> Option<LockInfo> {
    let ctx = ctx.clone();
    let key = state_key(&ctx);
    conn.run(move |client| -> Result<Option<LockInfo>, String> {
        if try_lock(client, key)? {
            unlock_key(client, key)?;
            return Ok(None);
        }
        Ok(read_row(client, &ctx)?.map(|(info, _)| info))
    })
    .ok()
    .and_then(Result::ok)
    .flatten()
}

/// Clears the row left by a holder whose session ended; refuses while the holder's session
/// holds the lock. Runs on a session of its own, so it never holds the lock afterwards.
pub(crate) fn unlock(location: &PgLocation) -> Result<Option<LockInfo>, StateError> {
    let ctx = Ctx::of(location);
    let conn = Conn::open(location).map_err(ctx.failed("connect to"))?;
    let key = state_key(&ctx);
    let job_ctx = ctx.clone();
    let taken = conn
        .run(move |client| -> Result<Taken, String> {
            let ctx = &job_ctx;
            if !try_lock(client, key)? {
                return Ok(Taken::Busy(read_row(client, ctx)?.map(|(info, _)| info)));
            }
            let row = read_row(client, ctx)?.map(|(info, _)| info);
            let cleared = client
                .execute(
                    &format!("DELETE FROM {}.locks WHERE workspace = $1", ctx.schema),
                    &[&ctx.workspace],
                )
                .map_err(|e| describe(&e));
            unlock_key(client, key)?;
            cleared?;
            Ok(Taken::Held(row))
        })
        .map_err(ctx.failed("unlock the state in"))?
        .map_err(ctx.failed("unlock the state in"))?;
    match taken {
        Taken::Held(Some(info)) => Ok(Some(info)),
        Taken::Held(None) => Err(StateError::NotLocked { path: ctx.path() }),
        Taken::Busy(Some(info)) => Err(StateError::Locked {
            path: ctx.path(),
            info: Box::new(info),
        }),
        Taken::Busy(None) => Err(StateError::LockUnreadable {
            path: ctx.path(),
            reason: "the lock is held by a live session that has not written its row yet".into(),
        }),
    }
}
