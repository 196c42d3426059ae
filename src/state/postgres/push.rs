//! Pushing a rescue file ([`crate::state::rescue`]) into the database: the first thing any
//! command does with a PostgreSQL state, before it reads or locks it.
//!
//! Under the state's lock, in one transaction: the pending run's rows are read, the file's
//! rows merged in ([`rescue::merge`]), the whole run replayed to prove it folds, then
//! committed. Only then is the file removed; a crash before that leaves a file whose rows
//! are all in the database, which the next push finds and removes. Anything unexpected (a
//! file that does not check, another workspace's file, a run no longer pending, rows that
//! differ) refuses the command and leaves both the file and the database as they were.

use std::path::Path;

use super::lock::PgLease;
use super::{insert_entries, load_in, read_raw, PgBackend};
use crate::state::file::lock::Who;
use crate::state::rescue::{self, Rescue};
use crate::state::{LeaseGuard, StateError};

const CORRUPT_HINT: &str =
    "the file holds what requests that were sent did, so it is never dropped: \
     do not delete it; restore it from a copy if it was changed, or compare it with the vendor \
     console and record what it created with `callform state import`, then move the file away";

impl PgBackend {
    /// Pushes this workspace's rescue file, if there is one (once per process).
    pub(super) fn push_rescue(&self) -> Result<(), StateError> {
        let Some(path) = self.rescue.clone() else {
            return Ok(());
        };
        let mut checked = self
            .rescue_checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *checked {
            return Ok(());
        }
        let location = self.location.display().to_string();
        let refused = |line: Option<usize>, reason: String, hint: &str| StateError::RescueRefused {
            location: location.clone(),
            rescue: path.clone(),
            line,
            reason,
            hint: hint.to_string(),
        };
        let found = match rescue::read(&path) {
            Ok(found) => found,
            Err(e) => {
                return Err(refused(
                    (e.line > 0).then_some(e.line),
                    e.reason,
                    CORRUPT_HINT,
                ))
            }
        };
        let Some(found) = found else {
            *checked = true;
            return Ok(());
        };
        if found.header.workspace != self.location.workspace || found.header.location != location {
            return Err(refused(
                Some(1),
                format!(
                    "it belongs to workspace `{}` at {}",
                    found.header.workspace, found.header.location
                ),
                "run the command with that state (`--state`), so that the file is pushed there",
            ));
        }
        let lease = PgLease::acquire(
            &self.location,
            "push the rescue file",
            &Who::from_env(&crate::env::RealEnv),
        )
        .map_err(|e| {
            refused(
                None,
                e.to_string().lines().next().unwrap_or_default().to_string(),
                "run the command again once the database is reachable and its lock free",
            )
        })?;
        let pushed = self.push_rows(&path, found);
        let released = Box::new(lease).release();
        pushed?;
        released?;
        rescue::remove(&path).map_err(|e| {
            refused(
                None,
                format!("its rows are in the database now, but it cannot be removed: {e}"),
                "remove the file by hand; its rows are pushed",
            )
        })?;
        *checked = true;
        Ok(())
    }

    fn push_rows(&self, path: &Path, found: Rescue) -> Result<(), StateError> {
        let location = self.location.display().to_string();
        let path = path.to_path_buf();
        self.in_tx("push the rescue file into", move |tx, ctx| {
            let refused = |reason: String, hint: &str| StateError::RescueRefused {
                location: location.clone(),
                rescue: path.clone(),
                line: None,
                reason,
                hint: hint.to_string(),
            };
            let run = found.header.run.clone();
            let raw = read_raw(tx, ctx, true, true)?;
            if raw.journal.is_empty() || raw.journal.iter().any(|(r, _, _)| r != &run) {
                return Err(refused(
                    format!("its run {run} is no longer pending in the database: it was folded (by another working copy?) without these records"),
                    CORRUPT_HINT,
                ));
            }
            let mut stored = Vec::with_capacity(raw.journal.len());
            for (_, seq, entry) in &raw.journal {
                let entry: serde_json::Value = serde_json::from_str(entry).map_err(|e| {
                    refused(
                        format!("row {seq} of run {run} in the database does not read: {e}"),
                        CORRUPT_HINT,
                    )
                })?;
                stored.push((*seq, entry));
            }
            if stored.iter().enumerate().any(|(i, (seq, _))| *seq != i as i64) {
                return Err(refused(
                    format!("the database's rows of run {run} have a gap"),
                    CORRUPT_HINT,
                ));
            }
            let add = rescue::merge(&found, &stored).map_err(|r| refused(r, CORRUPT_HINT))?;
            if !add.is_empty() {
                insert_entries(tx, ctx, &run, &add)?;
            }
            // The run as it now stands must fold, or nothing is committed.
            load_in(tx, ctx, false)
                .map_err(|e| refused(format!("with its rows the run does not fold: {e}"), CORRUPT_HINT))?;
            Ok(())
        })
    }
}
