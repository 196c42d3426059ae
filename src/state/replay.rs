//! The replay rules: how journal entries fold into a state. Pure, and shared by every
//! backend, so that a run recorded in any store means the same thing.
//!
//! - **Intent before request.** An intent without an outcome becomes `uncertain`
//!   ([`STOPPED_REASON`]), never "not created".
//! - **All or nothing.** [`fold`] checks every entry before the state changes; an entry that
//!   contradicts the state (a create of a task that exists, a replace of another id, an
//!   outcome without intent) is a [`FoldError`].
//! - **Folding once.** The header names the serial the run started from; a state with a
//!   greater serial already holds the run, which is checked, not assumed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::model::validate;
use super::model::{
    Batch, CalleeProgress, Pending, PendingState, PendingUpdate, RunRecord, RunState,
};
use super::{State, Superseded, TaskRecord, TaskStatus, FORMAT_VERSION};
use crate::driver::Verb;

/// Why an intent without an outcome is uncertain.
pub const STOPPED_REASON: &str = "callform stopped before the vendor's answer was recorded";

/// Why a success without a task id is uncertain.
pub const NO_ID_REASON: &str = "the vendor reported success but gave no task id";

/// One line of the journal. Unknown members are refused: the checksum member is the only
/// addition a line may carry, and a line whose checksum member was damaged must not be read
/// as one written before checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// The first line: which state, at which serial, this run started from.
    Begin {
        lineage: String,
        /// The state's salt, for a run that started with no state file.
        salt: String,
        base_serial: u64,
        run: String,
        at: String,
    },
    /// Written and made durable BEFORE the request is sent.
    Intent {
        name: String,
        vendor: String,
        provider: String,
        endpoint: String,
        spec_digest: String,
        canonical_version: u32,
        spec: serde_json::Value,
        at: String,
        /// The old task id when this is a `--replace`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
        /// The callees the create request itself carries (Volcengine's `PhoneList`): batch 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<CreateBatch>,
        /// The create request starts the task (Volcengine's `Start: true`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        start: bool,
    },
    /// Written right after the answer.
    Outcome {
        name: String,
        at: String,
        outcome: Outcome,
    },
    /// A callee batch, written and made durable BEFORE its request is sent.
    Batch {
        name: String,
        i: u32,
        /// Its first row (0-based).
        offset: u64,
        n: u32,
        through: String,
        at: String,
    },
    /// Written right after the batch's answer.
    BatchOutcome {
        name: String,
        i: u32,
        at: String,
        outcome: StepOutcome,
    },
    /// A start, written and made durable BEFORE its request is sent.
    Start {
        name: String,
        at: String,
        /// How it is sent (`task/start`, `StartRobotTask`).
        how: String,
    },
    /// Written right after the start's answer.
    StartOutcome {
        name: String,
        at: String,
        outcome: StepOutcome,
    },
    /// A pause, resume or stop, written and made durable BEFORE its request is sent.
    Verb {
        name: String,
        verb: Verb,
        /// The request's action or path (`task/pause`, `StopTask`).
        how: String,
        at: String,
    },
    /// Written right after the verb's answer.
    VerbOutcome {
        name: String,
        verb: Verb,
        at: String,
        outcome: StepOutcome,
    },
    /// The stop of the task `task_id` that the replacement `name` superseded, written and
    /// made durable BEFORE its request is sent. It is the superseded entry's (under
    /// `name`'s record), never the new task's.
    SupersededStop {
        name: String,
        task_id: String,
        /// The request's action or path (`CancelRobotTask`, `StopTask`).
        how: String,
        at: String,
    },
    /// Written right after the superseded task's stop is answered.
    SupersededStopOutcome {
        name: String,
        task_id: String,
        at: String,
        outcome: StepOutcome,
    },
    /// An update in place, written and made durable BEFORE its request is sent: the spec
    /// it carries, as an intent carries a create's.
    Update {
        name: String,
        spec_digest: String,
        canonical_version: u32,
        spec: serde_json::Value,
        at: String,
    },
    /// Written right after the update's answer.
    UpdateOutcome {
        name: String,
        at: String,
        outcome: StepOutcome,
    },
    /// An uncertain create resolved by a lookup that found exactly one task of its name:
    /// the record becomes the created task with that id. Nothing was sent to create it.
    Adopt {
        name: String,
        task_id: String,
        at: String,
        /// How it was found (the lookup, its window), for the record's warnings.
        how: String,
    },
}

/// The callees a create request carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    pub n: u32,
    pub through: String,
}

/// What the vendor answered to a batch or a start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StepOutcome {
    /// Loaded (a batch) or started (a start).
    Done {
        #[serde(default)]
        request_id: Option<String>,
        /// Notes for the state (rows the vendor refused, masked).
        #[serde(default)]
        warnings: Vec<String>,
    },
    /// Nothing was done. `hold`: the vendor refused it because of the task's state there;
    /// the step is kept as refused and a person must act before it is sent again.
    Failed {
        code: String,
        message: String,
        #[serde(default)]
        hold: bool,
    },
    /// It may or may not have been done.
    Uncertain { reason: String },
}

/// What the vendor answered to a create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The task exists, with this id.
    Created {
        task_id: String,
        #[serde(default)]
        request_id: Option<String>,
        #[serde(default)]
        warnings: Vec<String>,
    },
    /// Nothing was created.
    Failed { code: String, message: String },
    /// The task may exist at the vendor.
    Uncertain { reason: String },
}

/// What folding a journal changed, for messages. Names are in journal order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    /// The run id from the header (`None` for a journal without a complete header).
    pub run: Option<String>,
    /// The serial of the state the run started from (from the header). A plan made while
    /// this journal was pending saw that serial; after a recover saved the replayed
    /// state, the same content has the next serial.
    pub base_serial: Option<u64>,
    /// The state already contained the journal (its serial is past the journal's base).
    pub already_folded: bool,
    /// The SHA-256 of the run's entries, when they were replayed now ([`run_digest`]): a
    /// plan made while the run is pending records it, and apply accepts exactly this run
    /// folded on top of the state the plan saw.
    pub digest: Option<String>,
    /// Tasks now `created`.
    pub created: Vec<String>,
    /// Creates that failed: nothing was created, the previous record (if any) stays.
    pub failed: Vec<String>,
    /// Tasks now `uncertain` because the vendor's answer was ambiguous.
    pub uncertain: Vec<String>,
    /// Tasks now `uncertain` because the run stopped before their answer was recorded.
    pub interrupted: Vec<String>,
    /// `(name, old task id)` for each replace that did not fail: the old task may still run.
    pub superseded: Vec<(String, String)>,
    /// Callee batches recorded as loaded.
    pub batches_loaded: usize,
    /// Tasks recorded as started by a start request.
    pub started: usize,
    /// Tasks whose batch or start may or may not have reached the vendor.
    pub steps_uncertain: Vec<String>,
    /// Tasks whose batch the vendor refused for the task's state there.
    pub steps_held: Vec<String>,
    /// Pauses, resumes and stops recorded as done.
    pub verbs: usize,
    /// Updates in place recorded as done.
    pub updated: usize,
    /// Uncertain creates adopted after a lookup.
    pub adopted: Vec<String>,
}

/// Why a journal cannot be folded into a state (or an entry cannot be recorded).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FoldError {
    #[error("the journal does not start with a `begin` line")]
    NoBegin,
    #[error("line {line} is a second `begin`")]
    BeginNotFirst { line: usize },
    #[error("the journal belongs to another state (lineage {journal}, this state's is {state})")]
    LineageMismatch { journal: String, state: String },
    #[error("the journal's salt differs from the state's (lineage {lineage})")]
    SaltMismatch { lineage: String },
    #[error(
        "the journal continues state serial {base_serial}, but the state is at serial {state_serial}, an older version"
    )]
    StateOlder { base_serial: u64, state_serial: u64 },
    #[error(
        "the journal continues state serial {base_serial} and the state is at serial {state_serial}, \
         but it does not contain the journal's records: {detail}"
    )]
    NotReflected {
        base_serial: u64,
        state_serial: u64,
        detail: String,
    },
    #[error("task `{name}`: a second intent before the first one's outcome")]
    DuplicateIntent { name: String },
    #[error("task `{name}`: an intent to create a task that is already in the state")]
    AlreadyInState { name: String },
    #[error("task `{name}`: a replace of {replaces}, but {found}")]
    ReplaceMismatch {
        name: String,
        replaces: String,
        found: String,
    },
    #[error("task `{name}`: an outcome without a pending intent")]
    OutcomeWithoutIntent { name: String },
    #[error("line {line}: a step of task `{name}`, which is not a created task in the state")]
    StepWithoutTask { name: String, line: usize },
    #[error("line {line}: task `{name}`: expected {expected}, found {found}")]
    StepOutOfOrder {
        name: String,
        line: usize,
        expected: String,
        found: String,
    },
    #[error("line {line}: task `{name}`: a batch while another is pending")]
    SecondPending { name: String, line: usize },
    #[error("line {line}: task `{name}`: a start of a task already started (or being started)")]
    StartWhileStarted { name: String, line: usize },
}

impl FoldError {
    /// What to do about it when loading.
    pub fn hint(&self) -> &'static str {
        match self {
            FoldError::LineageMismatch { .. } | FoldError::SaltMismatch { .. } => {
                "the journal was copied here or the --state path changed; find the state it \
                 belongs to. Do not delete it: it holds records of creates"
            }
            FoldError::StateOlder { .. } => {
                "the state file was replaced by an older copy; restore the newest state. \
                 Do not delete the journal: it holds records of creates"
            }
            FoldError::NotReflected { .. } => {
                "the state was written during or after the run without folding this journal \
                 (every writer must take the lock and recover first). Restore the newest state \
                 that holds these tasks, or record them with `callform state import`; only then \
                 remove the journal"
            }
            _ => {
                "the journal was edited or written by a faulty callform; inspect it (one JSON \
                 object per line). Do not delete it: it holds records of creates"
            }
        }
    }
}

/// Replays entries on a state, with every rule checked before anything changes.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// What the step entries did, for messages.
    steps: StepCounts,
    /// Names with an intent but no outcome yet, and the record the intent displaced.
    pending: HashMap<String, Option<TaskRecord>>,
    /// Journal order of the names touched, and how each ended.
    touched: Vec<(String, End, Option<String>)>,
    position: HashMap<String, usize>,
    /// The spec each update in flight carries: (digest, canonical version, spec).
    updates: HashMap<String, (String, u32, serde_json::Value)>,
}

#[derive(Debug, Default)]
struct StepCounts {
    loaded: usize,
    started: usize,
    verbs: usize,
    updated: usize,
    adopted: Vec<String>,
    uncertain: Vec<String>,
    held: Vec<String>,
}

/// The created record a step entry names.
fn created_record<'s>(
    state: &'s mut State,
    name: &str,
    line: usize,
) -> Result<&'s mut TaskRecord, FoldError> {
    state
        .tasks
        .get_mut(name)
        .filter(|r| r.status == TaskStatus::Created && r.task_id.is_some())
        .ok_or_else(|| FoldError::StepWithoutTask {
            name: name.to_string(),
            line,
        })
}

/// A step whose intent has no outcome when the entries end: it may have left.
fn settle_in_flight(state: &mut State, folded: &mut Folded) {
    for (name, record) in state.tasks.iter_mut() {
        let mut settled = false;
        if let Some(p) = record
            .callees
            .as_mut()
            .and_then(|c| c.pending.as_mut())
            .filter(|p| p.state == PendingState::InFlight)
        {
            p.state = PendingState::Uncertain;
            p.reason = Some(STOPPED_REASON.to_string());
            settled = true;
        }
        if let Some(run) = record
            .run
            .as_mut()
            .filter(|r| r.state == RunState::InFlight)
        {
            run.state = RunState::Uncertain;
            run.reason = Some(STOPPED_REASON.to_string());
            settled = true;
        }
        for run in record
            .superseded
            .iter_mut()
            .filter_map(|s| s.run.as_mut())
            .filter(|r| r.state == RunState::InFlight)
        {
            run.state = RunState::Uncertain;
            run.reason = Some(STOPPED_REASON.to_string());
            settled = true;
        }
        if let Some(u) = record.update.as_mut().filter(|u| u.in_flight) {
            u.in_flight = false;
            u.reason = Some(STOPPED_REASON.to_string());
            settled = true;
        }
        if settled && record.status == TaskStatus::Created {
            folded.steps_uncertain.push(name.clone());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Interrupted,
    Created,
    Failed,
    Uncertain,
}

impl Replay {
    /// The outcome of `verb` on the run it was in flight on (a task's own, or a task it
    /// superseded): done moves it on, refused returns it to where it stood before, unknown
    /// leaves it uncertain (under the task `name`).
    fn verb_outcome(
        &mut self,
        run: &mut RunRecord,
        verb: Verb,
        at: &str,
        outcome: &StepOutcome,
        name: &str,
    ) {
        match outcome {
            StepOutcome::Done { .. } => {
                run.state = match verb {
                    Verb::Pause => RunState::Paused,
                    Verb::Resume => RunState::Started,
                    Verb::Stop => RunState::Stopped,
                };
                run.at = at.to_string();
                run.verb = None;
                run.before = None;
                run.reason = None;
                self.steps.verbs += 1;
            }
            StepOutcome::Failed { message, code, .. } => {
                run.state = run.before.take().unwrap_or(RunState::NotStarted);
                run.verb = None;
                run.reason = Some(format!("{verb} refused: {code}: {message}"));
            }
            StepOutcome::Uncertain { reason } => {
                run.state = RunState::Uncertain;
                run.reason = Some(reason.clone());
                self.steps.uncertain.push(name.to_string());
            }
        }
    }

    /// Applies one entry (not the header), or changes nothing and says why not.
    /// `line` is the entry's 1-based line in the journal, for messages.
    pub(crate) fn apply(
        &mut self,
        state: &mut State,
        entry: &Entry,
        line: usize,
    ) -> Result<(), FoldError> {
        match entry {
            Entry::Begin { .. } => Err(FoldError::BeginNotFirst { line }),
            Entry::Batch {
                name,
                i,
                offset,
                n,
                through,
                at,
            } => {
                let record = created_record(state, name, line)?;
                let progress = record.callees.get_or_insert_with(Default::default);
                if progress.pending.is_some() {
                    return Err(FoldError::SecondPending {
                        name: name.clone(),
                        line,
                    });
                }
                let expected = (progress.batches.len() as u64, progress.rows);
                if (u64::from(*i), *offset) != expected || *n == 0 || !through.starts_with("h1:") {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: format!("batch {} from row {}", expected.0, expected.1),
                        found: format!("batch {i} from row {offset} of {n} rows"),
                    });
                }
                progress.pending = Some(Pending {
                    i: *i,
                    offset: *offset,
                    n: *n,
                    through: through.clone(),
                    at: at.clone(),
                    state: PendingState::InFlight,
                    reason: None,
                    code: None,
                    in_create: false,
                });
                Ok(())
            }
            Entry::BatchOutcome {
                name, i, outcome, ..
            } => {
                let record = created_record(state, name, line)?;
                let progress = record.callees.get_or_insert_with(Default::default);
                let Some(pending) = progress
                    .pending
                    .take_if(|p| p.i == *i && p.state == PendingState::InFlight)
                else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "an outcome of the batch in flight".into(),
                        found: format!("an outcome of batch {i}"),
                    });
                };
                match outcome {
                    StepOutcome::Done { warnings, .. } => {
                        progress.rows += u64::from(pending.n);
                        progress.batches.push(Batch {
                            i: pending.i,
                            n: pending.n,
                            through: pending.through,
                        });
                        record
                            .warnings
                            .extend(warnings.iter().map(|w| format!("batch {i}: {w}")));
                        self.steps.loaded += 1;
                    }
                    StepOutcome::Failed { hold: false, .. } => {}
                    StepOutcome::Failed {
                        hold: true,
                        code,
                        message,
                    } => {
                        progress.pending = Some(Pending {
                            state: PendingState::Refused,
                            code: Some(code.clone()),
                            reason: Some(message.clone()),
                            ..pending
                        });
                        self.steps.held.push(name.clone());
                    }
                    StepOutcome::Uncertain { reason } => {
                        progress.pending = Some(Pending {
                            state: PendingState::Uncertain,
                            reason: Some(reason.clone()),
                            ..pending
                        });
                        self.steps.uncertain.push(name.clone());
                    }
                }
                if progress.batches.is_empty() && progress.pending.is_none() {
                    record.callees = None;
                }
                Ok(())
            }
            Entry::Start { name, at, how } => {
                let record = created_record(state, name, line)?;
                if record.callees.as_ref().is_some_and(|c| c.pending.is_some()) {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "every batch resolved before the start".into(),
                        found: "a start while a batch is pending".into(),
                    });
                }
                if record
                    .run
                    .as_ref()
                    .is_some_and(|r| r.state != RunState::NotStarted)
                {
                    return Err(FoldError::StartWhileStarted {
                        name: name.clone(),
                        line,
                    });
                }
                record.run = Some(RunRecord::new(
                    RunState::InFlight,
                    at.clone(),
                    how.clone(),
                    None,
                ));
                Ok(())
            }
            Entry::StartOutcome {
                name, at, outcome, ..
            } => {
                let record = created_record(state, name, line)?;
                let Some(run) = record
                    .run
                    .as_mut()
                    .filter(|r| r.state == RunState::InFlight)
                else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "an outcome of the start in flight".into(),
                        found: "an outcome of a start never sent".into(),
                    });
                };
                match outcome {
                    StepOutcome::Done { .. } => {
                        run.state = RunState::Started;
                        run.at = at.clone();
                        self.steps.started += 1;
                    }
                    StepOutcome::Failed { message, code, .. } => {
                        run.state = RunState::NotStarted;
                        run.reason = Some(format!("{code}: {message}"));
                    }
                    StepOutcome::Uncertain { reason } => {
                        run.state = RunState::Uncertain;
                        run.reason = Some(reason.clone());
                        self.steps.uncertain.push(name.clone());
                    }
                }
                Ok(())
            }
            Entry::Verb {
                name,
                verb,
                how,
                at,
            } => {
                let record = created_record(state, name, line)?;
                let before = record
                    .run
                    .as_ref()
                    .map_or(RunState::NotStarted, |r| r.state);
                if matches!(
                    before,
                    RunState::InFlight | RunState::Uncertain | RunState::Stopped
                ) || record.callees.as_ref().is_some_and(|c| c.pending.is_some())
                {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "a task whose run and batches are resolved and not stopped"
                            .into(),
                        found: format!("a {verb} while it is {before:?}"),
                    });
                }
                record.run = Some(RunRecord {
                    state: RunState::InFlight,
                    at: at.clone(),
                    how: how.clone(),
                    reason: None,
                    verb: Some(*verb),
                    before: Some(before),
                });
                Ok(())
            }
            Entry::VerbOutcome {
                name,
                verb,
                at,
                outcome,
            } => {
                let record = created_record(state, name, line)?;
                let Some(run) = record
                    .run
                    .as_mut()
                    .filter(|r| r.state == RunState::InFlight && r.verb == Some(*verb))
                else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: format!("an outcome of the {verb} in flight"),
                        found: format!("an outcome of a {verb} never sent"),
                    });
                };
                self.verb_outcome(run, *verb, at, outcome, name);
                Ok(())
            }
            Entry::SupersededStop {
                name,
                task_id,
                how,
                at,
            } => {
                let record = created_record(state, name, line)?;
                let Some(old) = record.superseded.iter_mut().find(|s| s.task_id == *task_id) else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "the stop of a task this one superseded".into(),
                        found: format!("a stop of task {task_id}, which it did not supersede"),
                    });
                };
                let before = old.run.as_ref().map_or(RunState::NotStarted, |r| r.state);
                if matches!(
                    before,
                    RunState::InFlight | RunState::Uncertain | RunState::Stopped
                ) {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "a superseded task whose run is resolved and not stopped".into(),
                        found: format!("a stop of task {task_id} while it is {before:?}"),
                    });
                }
                old.run = Some(RunRecord {
                    state: RunState::InFlight,
                    at: at.clone(),
                    how: how.clone(),
                    reason: None,
                    verb: Some(Verb::Stop),
                    before: Some(before),
                });
                Ok(())
            }
            Entry::SupersededStopOutcome {
                name,
                task_id,
                at,
                outcome,
            } => {
                let record = created_record(state, name, line)?;
                let Some(run) = record
                    .superseded
                    .iter_mut()
                    .find(|s| s.task_id == *task_id)
                    .and_then(|s| s.run.as_mut())
                    .filter(|r| r.state == RunState::InFlight && r.verb == Some(Verb::Stop))
                else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: format!("an outcome of the stop of task {task_id} in flight"),
                        found: format!("an outcome of a stop of task {task_id} never sent"),
                    });
                };
                self.verb_outcome(run, Verb::Stop, at, outcome, name);
                Ok(())
            }
            Entry::Update {
                name,
                spec_digest,
                canonical_version,
                spec,
                at,
            } => {
                let record = created_record(state, name, line)?;
                if record.update.is_some() {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "no update pending".into(),
                        found: "a second update".into(),
                    });
                }
                record.update = Some(PendingUpdate {
                    spec_digest: spec_digest.clone(),
                    at: at.clone(),
                    in_flight: true,
                    reason: None,
                });
                self.updates.insert(
                    name.clone(),
                    (spec_digest.clone(), *canonical_version, spec.clone()),
                );
                Ok(())
            }
            Entry::UpdateOutcome { name, outcome, .. } => {
                // The spec the update carried, kept when its intent was applied.
                let spec = self.updates.remove(name);
                let record = created_record(state, name, line)?;
                let Some(pending) = record.update.take_if(|u| u.in_flight) else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "an outcome of the update in flight".into(),
                        found: "an outcome of an update never sent".into(),
                    });
                };
                match outcome {
                    StepOutcome::Done { warnings, .. } => {
                        if let Some((digest, version, spec)) = spec {
                            record.spec_digest = digest;
                            record.canonical_version = version;
                            record.spec = spec.into();
                        }
                        record
                            .warnings
                            .extend(warnings.iter().map(|w| format!("update: {w}")));
                        self.steps.updated += 1;
                    }
                    StepOutcome::Failed { .. } => {}
                    StepOutcome::Uncertain { reason } => {
                        record.update = Some(PendingUpdate {
                            in_flight: false,
                            reason: Some(reason.clone()),
                            ..pending
                        });
                        self.steps.uncertain.push(name.clone());
                    }
                }
                Ok(())
            }
            Entry::Adopt {
                name,
                task_id,
                at,
                how,
            } => {
                let Some(record) = state
                    .tasks
                    .get_mut(name)
                    .filter(|r| r.status == TaskStatus::Uncertain)
                else {
                    return Err(FoldError::StepOutOfOrder {
                        name: name.clone(),
                        line,
                        expected: "an uncertain task to adopt".into(),
                        found: "a task that is not uncertain".into(),
                    });
                };
                record.status = TaskStatus::Created;
                record.task_id = Some(task_id.clone());
                record.uncertain_reason = None;
                record.warnings.push(format!("adopted at {at}: {how}"));
                self.steps.adopted.push(name.clone());
                Ok(())
            }
            Entry::Intent {
                name,
                vendor,
                provider,
                endpoint,
                spec_digest,
                canonical_version,
                spec,
                at,
                replaces,
                batch,
                start,
            } => {
                if self.pending.contains_key(name) {
                    return Err(FoldError::DuplicateIntent { name: name.clone() });
                }
                let previous = state.tasks.get(name);
                let superseded = match (previous, replaces) {
                    (None, None) => Vec::new(),
                    (Some(_), None) => {
                        return Err(FoldError::AlreadyInState { name: name.clone() })
                    }
                    (None, Some(old)) => {
                        return Err(FoldError::ReplaceMismatch {
                            name: name.clone(),
                            replaces: old.clone(),
                            found: "the task is not in the state".into(),
                        })
                    }
                    (Some(record), Some(old)) => {
                        if record.status != TaskStatus::Created
                            || record.task_id.as_deref() != Some(old.as_str())
                        {
                            return Err(FoldError::ReplaceMismatch {
                                name: name.clone(),
                                replaces: old.clone(),
                                found: match (&record.status, &record.task_id) {
                                    (TaskStatus::Created, Some(id)) => {
                                        format!("the state has task id {id}")
                                    }
                                    _ => "the task is uncertain in the state".into(),
                                },
                            });
                        }
                        // The old id moves into the new record: it is never lost, whatever
                        // happens to the new create.
                        let mut superseded = record.superseded.clone();
                        superseded.push(Superseded {
                            task_id: old.clone(),
                            endpoint: record.endpoint.clone(),
                            spec_digest: record.spec_digest.clone(),
                            created_at: record.created_at.clone(),
                            superseded_at: at.clone(),
                            // What the old task holds and whether it dials: it may still.
                            callees: record.callees.clone(),
                            run: record.run.clone(),
                        });
                        superseded
                    }
                };
                let record = TaskRecord {
                    vendor: vendor.clone(),
                    provider: provider.clone(),
                    endpoint: endpoint.clone(),
                    status: TaskStatus::Uncertain,
                    task_id: None,
                    spec_digest: spec_digest.clone(),
                    canonical_version: *canonical_version,
                    spec: spec.clone().into(),
                    created_at: at.clone(),
                    request_id: None,
                    warnings: Vec::new(),
                    uncertain_reason: Some(STOPPED_REASON.to_string()),
                    superseded,
                    // The rows and the start the create itself carries: in flight with it.
                    callees: batch.as_ref().map(|b| CalleeProgress {
                        rows: 0,
                        batches: Vec::new(),
                        keyed_as: None,
                        pending: Some(Pending {
                            i: 0,
                            offset: 0,
                            n: b.n,
                            through: b.through.clone(),
                            at: at.clone(),
                            state: PendingState::InFlight,
                            reason: None,
                            code: None,
                            in_create: true,
                        }),
                    }),
                    run: start.then(|| RunRecord {
                        state: RunState::InFlight,
                        at: at.clone(),
                        how: "create".into(),
                        reason: None,
                        verb: None,
                        before: None,
                    }),
                    observed: None,
                    update: None,
                };
                let previous = state.tasks.insert(name.clone(), record);
                self.pending.insert(name.clone(), previous);
                self.end(name, End::Interrupted, replaces.clone());
                Ok(())
            }
            Entry::Outcome { name, at, outcome } => {
                let (Some(previous), Some(record)) =
                    (self.pending.remove(name), state.tasks.get_mut(name))
                else {
                    return Err(FoldError::OutcomeWithoutIntent { name: name.clone() });
                };
                match outcome {
                    Outcome::Created {
                        task_id,
                        request_id,
                        warnings,
                    } => {
                        record.request_id = request_id.clone();
                        record.warnings = warnings.clone();
                        if task_id.is_empty() {
                            record.uncertain_reason = Some(NO_ID_REASON.to_string());
                            self.end(name, End::Uncertain, None);
                        } else {
                            record.status = TaskStatus::Created;
                            record.task_id = Some(task_id.clone());
                            record.created_at = at.clone();
                            record.uncertain_reason = None;
                            // What the create carried is loaded and started with it.
                            if let Some(c) = record.callees.as_mut() {
                                if let Some(p) = c.pending.take_if(|p| p.in_create) {
                                    c.rows = u64::from(p.n);
                                    c.batches = vec![Batch {
                                        i: 0,
                                        n: p.n,
                                        through: p.through,
                                    }];
                                }
                            }
                            if let Some(run) = record.run.as_mut() {
                                run.state = RunState::Started;
                                run.at = at.clone();
                            }
                            self.end(name, End::Created, None);
                        }
                    }
                    Outcome::Failed { .. } => {
                        match previous {
                            Some(previous) => state.tasks.insert(name.clone(), previous),
                            None => state.tasks.remove(name),
                        };
                        self.end(name, End::Failed, None);
                    }
                    Outcome::Uncertain { reason } => {
                        record.uncertain_reason = Some(reason.clone());
                        self.end(name, End::Uncertain, None);
                    }
                }
                Ok(())
            }
        }
    }

    /// Notes how `name` ended so far; `replaces` is set by its intent and kept by outcomes.
    fn end(&mut self, name: &str, end: End, replaces: Option<String>) {
        match self.position.get(name) {
            Some(&i) => {
                let slot = &mut self.touched[i];
                slot.1 = end;
                if replaces.is_some() || end == End::Interrupted {
                    slot.2 = replaces;
                }
            }
            None => {
                self.position.insert(name.to_string(), self.touched.len());
                self.touched.push((name.to_string(), end, replaces));
            }
        }
    }

    fn finish(self) -> Folded {
        let mut folded = Folded {
            batches_loaded: self.steps.loaded,
            started: self.steps.started,
            verbs: self.steps.verbs,
            updated: self.steps.updated,
            adopted: self.steps.adopted,
            steps_uncertain: self.steps.uncertain,
            steps_held: self.steps.held,
            ..Folded::default()
        };
        for (name, end, replaces) in self.touched {
            if let (Some(old), true) = (replaces, end != End::Failed) {
                folded.superseded.push((name.clone(), old));
            }
            match end {
                End::Interrupted => folded.interrupted.push(name),
                End::Created => folded.created.push(name),
                End::Failed => folded.failed.push(name),
                End::Uncertain => folded.uncertain.push(name),
            }
        }
        folded
    }
}

/// The identity of a run's entries as read: the SHA-256 of their JSON, header first. The
/// same entries give the same digest; one more record, or another run, another.
pub fn run_digest(entries: &[Entry]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for e in entries {
        // Serialising an entry cannot fail: its fields are strings, numbers and JSON values.
        hasher.update(serde_json::to_vec(e).unwrap_or_default());
        hasher.update(b"\n");
    }
    let sum = hasher.finalize();
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Why a run's entries cannot be replayed.
#[derive(Debug, Clone, PartialEq)]
pub enum Unreplayable {
    /// The entries contradict the state or each other.
    Fold(FoldError),
    /// Nothing is stored, but the run continued a stored state of this serial: the state
    /// was lost, and the run alone is not all there is.
    StateMissing { base_serial: u64 },
    /// Nothing is stored and the header cannot start a state (why).
    BadHeader(String),
}

/// Replays a run's entries (header first) on the stored state, in memory. When nothing is
/// stored, the first run died: the state it began with (serial 0, the header's lineage and
/// salt, the key of the recorded specs' digests) is rebuilt and replayed on. `(None, _)` when
/// nothing is stored and the header never reached storage either: nothing was sent.
pub fn replay(
    state: Option<State>,
    entries: &[Entry],
) -> Result<(Option<State>, Folded), Unreplayable> {
    match state {
        Some(mut state) => {
            let mut folded = fold(&mut state, entries).map_err(Unreplayable::Fold)?;
            if !folded.already_folded {
                folded.digest = Some(run_digest(entries));
            }
            Ok((Some(state), folded))
        }
        None => match begin_of(entries) {
            None => Ok((None, Folded::default())),
            Some((_, _, base_serial)) if base_serial != 0 => {
                Err(Unreplayable::StateMissing { base_serial })
            }
            Some((lineage, salt, _)) => {
                let mut state = State {
                    format_version: FORMAT_VERSION,
                    lineage: lineage.to_string(),
                    serial: 0,
                    salt: salt.to_string(),
                    tasks: BTreeMap::new(),
                };
                validate(&state).map_err(Unreplayable::BadHeader)?;
                let mut folded = fold(&mut state, entries).map_err(Unreplayable::Fold)?;
                folded.digest = Some(run_digest(entries));
                Ok((Some(state), folded))
            }
        },
    }
}

/// The header's lineage, salt and base serial, if the journal has a header.
fn begin_of(entries: &[Entry]) -> Option<(&str, &str, u64)> {
    match entries.first() {
        Some(Entry::Begin {
            lineage,
            salt,
            base_serial,
            ..
        }) => Some((lineage, salt, *base_serial)),
        _ => None,
    }
}

/// Folds journal entries (header first, as a backend reads them, e.g. [`super::file::read_journal`]) into `state`.
/// All or nothing: on error `state` is unchanged. An empty list (a journal whose header never
/// reached the disk) changes nothing. A journal the state already contains is skipped.
pub fn fold(state: &mut State, entries: &[Entry]) -> Result<Folded, FoldError> {
    let Some(first) = entries.first() else {
        return Ok(Folded::default());
    };
    let Entry::Begin {
        lineage,
        salt,
        base_serial,
        run,
        ..
    } = first
    else {
        return Err(FoldError::NoBegin);
    };
    if *lineage != state.lineage {
        return Err(FoldError::LineageMismatch {
            journal: lineage.clone(),
            state: state.lineage.clone(),
        });
    }
    if *salt != state.salt {
        return Err(FoldError::SaltMismatch {
            lineage: lineage.clone(),
        });
    }
    if state.serial < *base_serial {
        return Err(FoldError::StateOlder {
            base_serial: *base_serial,
            state_serial: state.serial,
        });
    }
    if state.serial > *base_serial {
        check_reflected(state, entries, *base_serial)?;
        return Ok(Folded {
            run: Some(run.clone()),
            base_serial: Some(*base_serial),
            already_folded: true,
            ..Folded::default()
        });
    }
    let mut work = state.clone();
    let mut replay = Replay::default();
    for (i, entry) in entries.iter().enumerate().skip(1) {
        replay.apply(&mut work, entry, i + 1)?;
    }
    let mut folded = replay.finish();
    settle_in_flight(&mut work, &mut folded);
    *state = work;
    folded.run = Some(run.clone());
    folded.base_serial = Some(*base_serial);
    Ok(folded)
}

/// A journal is skipped as already folded only if the state holds what it recorded: every
/// intent has a record and every created id is there. Otherwise the state was written by
/// someone else meanwhile, and skipping would lose creates.
fn check_reflected(state: &State, entries: &[Entry], base_serial: u64) -> Result<(), FoldError> {
    let missing = |detail: String| FoldError::NotReflected {
        base_serial,
        state_serial: state.serial,
        detail,
    };
    // A create that failed has nothing to hold.
    let failed: HashSet<&str> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Outcome {
                name,
                outcome: Outcome::Failed { .. },
                ..
            } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    for entry in entries {
        match entry {
            Entry::Intent { name, .. }
                if !state.tasks.contains_key(name) && !failed.contains(name.as_str()) =>
            {
                return Err(missing(format!("task `{name}` is missing")));
            }
            Entry::Outcome {
                name,
                outcome: Outcome::Created { task_id, .. },
                ..
            } if !task_id.is_empty() => {
                let held = state.tasks.get(name).is_some_and(|r| {
                    r.task_id.as_deref() == Some(task_id.as_str())
                        || r.superseded.iter().any(|s| s.task_id == *task_id)
                });
                if !held {
                    return Err(missing(format!("task `{name}` lacks id {task_id}")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(lineage: &str, salt: &str, base_serial: u64) -> Entry {
        Entry::Begin {
            lineage: lineage.into(),
            salt: salt.into(),
            base_serial,
            run: "0123456789abcdef".into(),
            at: "2026-03-01T08:00:00Z".into(),
        }
    }

    #[test]
    fn with_nothing_stored_a_first_run_rebuilds_its_state_and_a_later_run_is_refused() {
        let (lineage, salt) = ("a".repeat(32), "b".repeat(32));
        let entries = [
            begin(&lineage, &salt, 0),
            Entry::Intent {
                name: "t".into(),
                vendor: "xfyeta".into(),
                provider: "xfyeta".into(),
                endpoint: "https://www.xfyeta.com".into(),
                spec_digest: "sha256:00".into(),
                canonical_version: 1,
                spec: serde_json::json!({}),
                at: "2026-03-01T08:00:01Z".into(),
                replaces: None,
                batch: None,
                start: false,
            },
        ];
        let (state, folded) = replay(None, &entries).unwrap();
        let state = state.unwrap();
        assert_eq!(
            (state.lineage, state.salt, state.serial),
            (lineage.clone(), salt.clone(), 0)
        );
        assert_eq!(state.tasks["t"].status, TaskStatus::Uncertain);
        assert_eq!(folded.interrupted, ["t"]);

        assert_eq!(replay(None, &[]).unwrap(), (None, Folded::default()));
        assert_eq!(
            replay(None, &[begin(&lineage, &salt, 3)]).unwrap_err(),
            Unreplayable::StateMissing { base_serial: 3 }
        );
        assert!(matches!(
            replay(None, &[begin("not hex", &salt, 0)]).unwrap_err(),
            Unreplayable::BadHeader(_)
        ));
    }
}
