//! `state migrate`: copies the state from one backend to another, exactly (lineage, serial,
//! salt, every record), as `terraform init -migrate-state` does.
//!
//! Both states are locked for the whole copy (the source first). Refused, with nothing
//! written:
//!
//! - while a run is pending in the source (a journal not folded: its records are not in
//!   the state yet, and a copy without them would forget what it created) or the target;
//! - when the source holds no state;
//! - when the target holds a state of another lineage, or of this lineage but ahead of
//!   the source or different at the same serial — unless `overwrite`. A target of this
//!   lineage behind the source (an earlier migration) is brought up to date.
//!
//! After writing, the target is read back and compared with the source: a copy that does
//! not read back equal is reported, never claimed. The source is left as it was.

use super::{State, StateBackend, StateError};

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// The target now holds the state (`replaced`: the lineage and serial it held before).
    Copied {
        tasks: usize,
        serial: u64,
        replaced: Option<(String, u64)>,
    },
    /// The target already held exactly this state.
    AlreadyThere { tasks: usize, serial: u64 },
}

/// Why a migration was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{from} and {to} are the same state\nhint: name the state to copy to with `--to-state`, or in callform.yaml's `state:` (then the source is `--state`)")]
    SameState { from: String, to: String },
    #[error("{location}: there is no state to migrate\nhint: check `--state` (the source) and callform.yaml's `state:`")]
    NoState { location: String },
    #[error("{location}: a run is pending (its journal is not folded into the state yet), so it cannot be migrated without losing what it recorded\nhint: run `callform apply` (or any `callform state` command that changes a record) with this state first; it folds the run in")]
    Pending { location: String },
    #[error("{location} already holds a state of another lineage ({theirs}, serial {serial}); ours is {ours}\nhint: it is another project's state, or another copy of this one: point `--to-state` elsewhere, or pass `--overwrite` to replace it (what it records is lost)")]
    OtherLineage {
        location: String,
        theirs: String,
        serial: u64,
        ours: String,
    },
    #[error("{location} already holds this state at serial {theirs}, which {how} serial {ours} here\nhint: the target has changes the source lacks; migrate the other way, or pass `--overwrite` to replace it")]
    Ahead {
        location: String,
        theirs: u64,
        ours: u64,
        how: &'static str,
    },
    #[error("{location}: the state read back after the copy differs from the source ({what})\nhint: the source is unchanged; run the migration again, and report this if it repeats")]
    Mismatch { location: String, what: String },
}

/// Copies the state of `from` into `to` (see the module docs).
pub fn migrate(
    from: &dyn StateBackend,
    to: &dyn StateBackend,
    overwrite: bool,
) -> Result<Migrated, MigrateError> {
    if from.location() == to.location() {
        return Err(MigrateError::SameState {
            from: from.location(),
            to: to.location(),
        });
    }
    let from_lease = from.lock("state migrate")?;
    let to_lease = to.lock("state migrate")?;
    let source = from.load()?;
    if source.journal.as_ref().is_some_and(|j| !j.already_folded) {
        return Err(MigrateError::Pending {
            location: from.location(),
        });
    }
    let Some(state) = source.state else {
        return Err(MigrateError::NoState {
            location: from.location(),
        });
    };
    let target = to.load()?;
    if target.journal.is_some() {
        return Err(MigrateError::Pending {
            location: to.location(),
        });
    }
    let mut replaced = None;
    if let Some(there) = &target.state {
        if same(there, &state) {
            to_lease.release()?;
            from_lease.release()?;
            return Ok(Migrated::AlreadyThere {
                tasks: state.tasks.len(),
                serial: state.serial,
            });
        }
        if !overwrite {
            if there.lineage != state.lineage {
                return Err(MigrateError::OtherLineage {
                    location: to.location(),
                    theirs: there.lineage.clone(),
                    serial: there.serial,
                    ours: state.lineage.clone(),
                });
            }
            if there.serial >= state.serial {
                return Err(MigrateError::Ahead {
                    location: to.location(),
                    theirs: there.serial,
                    ours: state.serial,
                    how: if there.serial == state.serial {
                        "differs from"
                    } else {
                        "is ahead of"
                    },
                });
            }
        }
        replaced = Some((there.lineage.clone(), there.serial));
    }
    to.replace(&to_lease, &state)?;
    let back = to.load()?.state;
    match back {
        Some(back) if same(&back, &state) => {}
        Some(back) => {
            return Err(MigrateError::Mismatch {
                location: to.location(),
                what: difference(&back, &state),
            })
        }
        None => {
            return Err(MigrateError::Mismatch {
                location: to.location(),
                what: "no state there".into(),
            })
        }
    }
    to_lease.release()?;
    from_lease.release()?;
    Ok(Migrated::Copied {
        tasks: state.tasks.len(),
        serial: state.serial,
        replaced,
    })
}

/// The same state: lineage, serial, salt and every record (the format version is the
/// writer's).
fn same(a: &State, b: &State) -> bool {
    a.lineage == b.lineage && a.serial == b.serial && a.salt == b.salt && a.tasks == b.tasks
}

fn difference(a: &State, b: &State) -> String {
    if a.lineage != b.lineage {
        return "lineage".into();
    }
    if a.serial != b.serial {
        return format!("serial {} instead of {}", a.serial, b.serial);
    }
    if a.salt != b.salt {
        return "salt".into();
    }
    let differs = a
        .tasks
        .keys()
        .chain(b.tasks.keys())
        .find(|n| a.tasks.get(*n) != b.tasks.get(*n));
    match differs {
        Some(name) => format!("the record of `{name}`"),
        None => "nothing visible".into(),
    }
}
