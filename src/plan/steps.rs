//! The steps of a task — create, callee batches, start — derived from its state record and
//! its manifest. This is the only place they are derived: `plan` calls it for every task it
//! would send or finds unchanged, and `apply PLANFILE` plans again and compares, so a saved
//! plan whose steps differ from the ones derived now is stale.
//!
//! The derivation is pure: the record, the manifest task, the vendor's [`StepRules`] and the
//! state's salt (the key of the `through` digests). Its rules, in order (design §3.4):
//!
//! - no record (a create), or a replacement: every step from row 0 (Volcengine's create
//!   carries the first `in_create` rows as batch 0, and `Start` when the task is `running`);
//! - a pending batch: `uncertain` (it may have reached the vendor) or `blocked` (refused for
//!   the task's state there); a start whose outcome is unknown: `uncertain`;
//! - loaded rows no longer the manifest's first rows (removed, edited, moved): `blocked`,
//!   naming the first batch that differs;
//! - rows added after the start where the vendor takes none then: `blocked`;
//! - `running` and not started: a start step, or `blocked` where the vendor can start a task
//!   only in its create (or not at all); `paused` and started: `blocked` (callform does not
//!   pause);
//! - batches are cut from the first row not yet loaded, `batch_rows` each, so boundaries
//!   depend only on the state and the list; nothing left: `no-op`.
//!
//! The loaded rows are checked in one pass over their fingerprints, extending one running
//! digest and comparing it at each recorded boundary: the first batch that differs is named
//! at the cost of one digest over the loaded rows (a binary search over the boundaries would
//! digest a prefix again for every probe).

use crate::canonical::callees::{legacy_v2_digest, Through};
use crate::driver::{self, Lifecycle, Verb, VerbRule};
use crate::manifest::callees::CalleeList;
use crate::manifest::{RunStatus, Task};
use crate::state::model::{CalleeProgress, Pending, PendingState, RunRecord, RunState};
use crate::state::{self, TaskRecord};
use crate::vendor::{StartKind, StepRules};

use super::{Action, LoadSteps, StartStep, Steps, VerbStep};

/// What the record and manifest of a task call for.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// `Resume`, `NoOp`, `Blocked` or `Uncertain` for a recorded task; the caller's own
    /// action (`Create`, `Replace`) for [`fresh`].
    pub action: Action,
    pub steps: Option<Steps>,
    pub reason: Option<String>,
    pub hints: Vec<String>,
    pub warnings: Vec<String>,
}

/// What the derivation of a recorded task needs besides the task and its record.
pub struct Context<'a> {
    /// The key of the state's callee digests (`canonical::callees::callee_key(salt)`).
    pub key: &'a [u8; 32],
    /// The state's salt (for the digests of records written by callform 2).
    pub salt: &'a str,
    /// The name the record is kept under: the one its `through` digests are keyed with, and
    /// the one `callform state …` commands name.
    pub recorded_as: &'a str,
    /// ` --dir … --state …` for the hints' commands.
    pub state_args: &'a str,
    /// An apply holds the state's lock now: a step it sent may still be answered.
    pub live_run: bool,
}

/// The steps of a task apply creates (or re-creates for `--replace`): all of them.
pub fn fresh(task: &Task) -> Steps {
    let rules = task.vendor.def().steps();
    let total = rows_of(task);
    let in_create = total.min(rules.in_create as u64);
    let rest = total - in_create;
    let batch_rows = rules.batch_rows.max(1) as u64;
    let load = (total > 0).then(|| LoadSteps {
        rows: total,
        batches: batches(rest, batch_rows),
        first_batch: 0,
        first_row: 0,
        batch_rows: batch_rows as u32,
        in_create,
        loaded: 0,
    });
    let start = match (task.status, rules.start) {
        (RunStatus::Running, StartKind::Request(via)) => Some(StartStep {
            via: via.to_string(),
            schedule_time: schedule_time(task),
        }),
        (RunStatus::Running, StartKind::AtCreate) => Some(StartStep {
            via: "create".into(),
            schedule_time: None,
        }),
        _ => None,
    };
    Steps {
        create: true,
        dials: dials(task, None, start.is_some()),
        load,
        start,
        verb: None,
        update: None,
        stop_superseded: None,
    }
}

/// For a replacement: the stop of the task it supersedes (the one `rec` records now),
/// sent last, once every step of the new task is done. `Ok(None)`: nothing to stop (it
/// never dials again). `Err`: it is not stopped by the apply, and why, for the plan's
/// warning (no stop at that vendor, or an outcome callform does not know).
pub fn supersede(
    vendor: crate::manifest::Vendor,
    rec: &TaskRecord,
) -> Result<Option<super::SupersededStop>, String> {
    let Some(id) = rec.task_id.as_deref() else {
        return Err("the current task has no recorded vendor id and keeps running at the vendor: stop it in the console after the replacement is created".into());
    };
    let unknown = |what: &str| {
        Err(format!(
            "the current task {id} is not stopped by this apply, since {what} has an unknown outcome: it keeps running at the vendor; stop it in the console after the replacement is created"
        ))
    };
    if rec.callees.as_ref().is_some_and(|c| c.pending.is_some()) {
        return unknown("a callee batch");
    }
    let run = rec.run.as_ref();
    if let Some(run) = run.filter(|r| matches!(r.state, RunState::Uncertain | RunState::InFlight)) {
        if rec.observed.as_ref().is_none_or(|o| o.at < run.at) {
            return unknown(run.verb.map_or("its start", Verb::key));
        }
    }
    let now = vendor_status(rec, run);
    if now.is_final() {
        return Ok(None);
    }
    match driver::verb_rule(vendor, Verb::Stop, now) {
        VerbRule::Send { action, note } => Ok(Some(super::SupersededStop {
            task_id: id.to_string(),
            via: action.to_string(),
            from: now,
            note: note.map(str::to_string),
        })),
        VerbRule::Already => Ok(None),
        VerbRule::Missing { why, instead } => Err(format!(
            "the current task {id} keeps running at the vendor: {vendor} has no request to stop it ({why}); {instead}"
        )),
    }
}

/// Warnings about the steps of a task apply creates.
pub fn fresh_warnings(steps: &Steps) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(load), Some(start)) = (&steps.load, &steps.start) {
        if start.via == "create" && load.batches > 0 {
            out.push(format!(
                "the task starts in its create, which carries the first {} callees: it dials them while the other {} are still being loaded",
                thousands(load.in_create),
                thousands(load.rows - load.in_create)
            ));
        }
    }
    out
}

/// The steps left for a task the state records as created, with its spec unchanged.
pub fn resume(task: &Task, rec: &TaskRecord, cx: &Context<'_>) -> Derived {
    let rules = task.vendor.def().steps();
    let name = cx.recorded_as;
    let args = cx.state_args;
    let (legacy_callees, legacy_run) = legacy_steps(rec);
    let progress = rec
        .callees
        .as_ref()
        .or(legacy_callees.as_ref())
        .unwrap_or(&EMPTY);
    let run = rec.run.as_ref().or(legacy_run.as_ref());
    let now = vendor_status(rec, run);
    // Ever started: a vendor that takes no callees after a start takes none once paused.
    // A task callform never started that its vendor reports paused is no proof of a
    // start: longlonglong has no "not started" and reads such a task as paused (the same
    // reading `refresh` takes for no drift); a vendor that refuses the callees of a task
    // started in its console says so, and the batch is kept as refused, nothing loaded.
    let never_started = run.is_none_or(|r| r.state == RunState::NotStarted);
    let started = run.is_some_and(|r| {
        matches!(
            r.state,
            RunState::Started | RunState::Paused | RunState::Stopped
        )
    }) || !(matches!(now, Lifecycle::NotStarted | Lifecycle::Unknown)
        || (never_started && now == Lifecycle::Paused));

    if let Some(pending) = &progress.pending {
        return pending_batch(task, pending, cx);
    }
    if let Some(run) = unsettled(rec, run) {
        return uncertain_start(run, task.vendor, cx);
    }
    if let Some(end) = final_state(task, now, rec, cx) {
        return end;
    }
    if task.status == RunStatus::Stopped {
        if now == Lifecycle::Unknown {
            return unknown_status(task, rec, cx);
        }
        return match verb_step(task, Verb::Stop, now, cx) {
            Ok(Some(verb)) => Derived {
                action: Action::Stop,
                steps: Some(Steps {
                    create: false,
                    dials: "nobody: stopped for good".into(),
                    load: None,
                    start: None,
                    verb: Some(verb),
                    update: None,
                    stop_superseded: None,
                }),
                reason: None,
                hints: Vec::new(),
                warnings: Vec::new(),
            },
            Ok(None) => no_op(),
            Err(blocked) => *blocked,
        };
    }
    let summed: u64 = progress.batches.iter().map(|b| u64::from(b.n)).sum();
    let contiguous = progress
        .batches
        .iter()
        .enumerate()
        .all(|(i, b)| b.i as usize == i && b.n > 0);
    if summed != progress.rows || !contiguous {
        return blocked(
            format!(
                "the state's record of the loaded callees does not add up ({} rows recorded, {} in its batches, or batches out of order): callform cannot tell which callees the vendor holds",
                thousands(progress.rows),
                thousands(summed)
            ),
            vec![
                "do not edit the state by hand; restore it from git or its `.backup`, or".into(),
                format!("check the task's callees in the vendor console and record them again (`callform state rm {name}{args}`, then `callform state import {name} TASK_ID --loaded N{args}`)"),
            ],
        );
    }
    let loaded = progress.rows;
    let total = rows_of(task);
    match first_difference(task, progress, cx) {
        Ok(None) => {}
        Ok(Some(d)) => return changed_rows(task, progress, &d, total),
        Err(why) => {
            return blocked(
                format!("cannot check the callees already loaded: {why}"),
                vec!["fix the callee file, then plan again".into()],
            )
        }
    }
    let remaining = total - loaded;
    if remaining > 0 && started && !rules.load_after_start {
        return blocked(
            format!(
                "{} added after the task was started ({}), and {} takes no callees once a task is started",
                if remaining == 1 { "1 callee was".to_string() } else { format!("{} callees were", thousands(remaining)) },
                rows_range(loaded, remaining),
                task.vendor
            ),
            vec![
                format!("remove the added rows (the task keeps its {} loaded callees), or", thousands(loaded)),
                "call the new people in a new task: a manifest of its own (a new name) with only the added rows".into(),
            ],
        );
    }
    let batch_rows = rules.batch_rows.max(1) as u64;
    let load = (remaining > 0).then(|| LoadSteps {
        rows: remaining,
        batches: batches(remaining, batch_rows),
        first_batch: progress.batches.len() as u32,
        first_row: loaded,
        batch_rows: batch_rows as u32,
        in_create: 0,
        loaded,
    });
    let mut verb = None;
    let start = match (task.status, now) {
        (RunStatus::Running, Lifecycle::NotStarted) => match rules.start {
            StartKind::Request(via) => Some(StartStep {
                via: via.to_string(),
                schedule_time: schedule_time(task),
            }),
            StartKind::AtCreate | StartKind::None => return cannot_start(task, rules, cx),
        },
        (RunStatus::Running, Lifecycle::Paused) => {
            verb = match verb_step(task, Verb::Resume, now, cx) {
                Ok(v) => v,
                Err(blocked) => return *blocked,
            };
            None
        }
        (RunStatus::Paused, Lifecycle::Running) => {
            verb = match verb_step(task, Verb::Pause, now, cx) {
                Ok(v) => v,
                Err(blocked) => return *blocked,
            };
            None
        }
        (RunStatus::Running | RunStatus::Paused, Lifecycle::Unknown) => {
            return unknown_status(task, rec, cx)
        }
        _ => None,
    };
    if load.is_none() && start.is_none() && verb.is_none() {
        return no_op();
    }
    let action = match verb.as_ref().map(|v| v.verb) {
        Some(Verb::Pause) => Action::Pause,
        _ => Action::Resume,
    };
    let dials = match verb.as_ref().map(|v| v.verb) {
        Some(Verb::Pause) => "nobody once paused (status: paused)".to_string(),
        Some(Verb::Resume) => match task.spec.def().dials() {
            Some(when) => format!("again once resumed: {when}"),
            None => "again once resumed".into(),
        },
        _ => dials(task, run.filter(|_| started), start.is_some()),
    };
    Derived {
        action,
        steps: Some(Steps {
            create: false,
            dials,
            load,
            start,
            verb,
            update: None,
            stop_superseded: None,
        }),
        reason: None,
        hints: Vec::new(),
        warnings: Vec::new(),
    }
}

static EMPTY: CalleeProgress = CalleeProgress {
    rows: 0,
    batches: Vec::new(),
    pending: None,
    keyed_as: None,
};

/// What a record written by callform 2 or older says of the callees and start of a
/// Volcengine task, the only vendor it loaded (in the create's `PhoneList`) and started
/// (`Start`): the state's load upgrade gives such records a `callees`/`run` of their own;
/// this reads the same from a record that has none, so a plan never takes those callees
/// for unloaded.
fn legacy_steps(rec: &TaskRecord) -> (Option<CalleeProgress>, Option<RunRecord>) {
    if rec.canonical_version > 2 || rec.callees.is_some() || rec.vendor != "volcengine" {
        return (None, None);
    }
    let form = rec.spec.value();
    let spec = &form["spec"];
    let callees = spec["phone_list"]["count"]
        .as_u64()
        .zip(spec["phone_list"]["digest"].as_str())
        .and_then(|(n, digest)| Some((u32::try_from(n).ok()?, digest)))
        .filter(|(n, _)| *n > 0)
        .map(|(n, digest)| CalleeProgress {
            rows: u64::from(n),
            batches: vec![crate::state::model::Batch {
                i: 0,
                n,
                through: format!("v2:{digest}"),
            }],
            pending: None,
            keyed_as: None,
        });
    let run =
        (rec.run.is_none() && spec["start"] == serde_json::Value::Bool(true)).then(|| RunRecord {
            state: RunState::Started,
            at: rec.created_at.clone(),
            how: "create".into(),
            reason: None,
            verb: None,
            before: None,
        });
    (callees, run)
}

/// The rows of a task's callees.
fn rows_of(task: &Task) -> u64 {
    task.callees.as_ref().map_or(0, |c| c.len() as u64)
}

fn batches(rows: u64, batch_rows: u64) -> u32 {
    u32::try_from(rows.div_ceil(batch_rows)).unwrap_or(u32::MAX)
}

fn schedule_time(task: &Task) -> Option<String> {
    task.spec.def().schedule_time()
}

/// When the task dials, in words. `started`: the record of a start already made;
/// `starts`: this apply starts it.
fn dials(task: &Task, started: Option<&RunRecord>, starts: bool) -> String {
    let Some(when) = task.spec.def().dials() else {
        return format!(
            "never by callform: {} documents no start API (start it in the console)",
            task.vendor
        );
    };
    if let Some(run) = started {
        return format!("dialling since {}", run.at);
    }
    if task.status == RunStatus::Paused || !starts {
        return "nobody (status: paused)".into();
    }
    when
}

/// A loaded batch that no longer holds the manifest's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Difference {
    batch: u32,
    /// Its first row (0-based).
    offset: u64,
    n: u32,
}

/// The first loaded batch whose rows are not the manifest's rows at its place, if any.
fn first_difference(
    task: &Task,
    progress: &CalleeProgress,
    cx: &Context<'_>,
) -> Result<Option<Difference>, String> {
    if progress.batches.is_empty() {
        return Ok(None);
    }
    let fps = task
        .callees
        .as_ref()
        .map_or(&[][..], CalleeList::fingerprints);
    let keyed_as = progress.keyed_as.as_deref().unwrap_or(cx.recorded_as);
    let mut running = Through::new(cx.key, keyed_as);
    let mut at = 0usize;
    for b in &progress.batches {
        let end = at + b.n as usize;
        let differs = Difference {
            batch: b.i,
            offset: at as u64,
            n: b.n,
        };
        if end > fps.len() {
            return Ok(Some(differs));
        }
        for fp in &fps[at..end] {
            running.push(fp);
        }
        let same = match b.through.strip_prefix("v2:") {
            Some(old) => legacy_prefix(task, end, cx.salt)?.as_deref() == Some(old),
            None => running.at() == b.through,
        };
        if !same {
            return Ok(Some(differs));
        }
        at = end;
    }
    Ok(None)
}

/// The digest callform 2 kept of the first `end` rows (its list, whole), or `None` for a
/// vendor whose form held none.
fn legacy_prefix(task: &Task, end: usize, salt: &str) -> Result<Option<String>, String> {
    let Some(list) = &task.callees else {
        return Ok(None);
    };
    let digest = if end == list.len() {
        legacy_v2_digest(salt, task.vendor, list)
    } else {
        let rows = list.rows(0, end).map_err(|e| e.to_string())?;
        legacy_v2_digest(
            salt,
            task.vendor,
            &CalleeList::inline(list.columns.clone(), rows),
        )
    };
    digest.transpose().map_err(|e| e.to_string())
}

fn blocked(reason: String, hints: Vec<String>) -> Derived {
    Derived {
        action: Action::Blocked,
        steps: None,
        reason: Some(reason),
        hints,
        warnings: Vec::new(),
    }
}

/// `rows a–b` (1-based) of the `n` rows from `offset` (0-based), or `row a`.
fn rows_range(offset: u64, n: u64) -> String {
    if n == 1 {
        format!("row {}", thousands(offset + 1))
    } else {
        format!("rows {}–{}", thousands(offset + 1), thousands(offset + n))
    }
}

/// `rows a–b`, and for a file `, lines x–y of FILE`.
fn rows_and_lines(task: &Task, offset: u64, n: u32) -> String {
    let mut out = rows_range(offset, u64::from(n));
    if let Some((file, first, last)) = task
        .callees
        .as_ref()
        .and_then(|c| c.lines(offset as usize, n as usize))
    {
        out.push_str(&format!(
            ", {} of {}",
            if first == last {
                format!("line {}", thousands(first as u64))
            } else {
                format!(
                    "lines {}–{}",
                    thousands(first as u64),
                    thousands(last as u64)
                )
            },
            crate::checkout::normalize(file).display()
        ));
    }
    out
}

fn changed_rows(task: &Task, progress: &CalleeProgress, d: &Difference, total: u64) -> Derived {
    let fewer = if total < progress.rows {
        format!(
            " (the manifest lists {}, {} are loaded)",
            thousands(total),
            thousands(progress.rows)
        )
    } else {
        String::new()
    };
    blocked(
        format!(
            "the callees already loaded ({}) changed: a row was removed, edited or moved{fewer} (first difference in batch {}, {})",
            rows_range(0, progress.rows),
            d.batch,
            rows_range(d.offset, u64::from(d.n))
        ),
        vec![
            "callform cannot take a callee out of a vendor task: restore the loaded rows as they were, and add new callees only at the end, or".into(),
            format!(
                "call the new list in a new task (a new name); the old one keeps its callees: stop it in the vendor console if it should not dial them{}",
                if task.callees.is_none() { " (the manifest names no callees now)" } else { "" }
            ),
        ],
    )
}

fn pending_batch(task: &Task, pending: &Pending, cx: &Context<'_>) -> Derived {
    let (name, args) = (cx.recorded_as, cx.state_args);
    let place = rows_and_lines(task, pending.offset, pending.n);
    let why = pending
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let i = pending.i;
    match pending.state {
        PendingState::Uncertain | PendingState::InFlight => {
            let hints = if cx.live_run {
                vec![
                    "wait for the running apply to finish (it records the answer), then plan again"
                        .into(),
                ]
            } else {
                let read = if !driver::reports_callee_count(task.vendor) {
                    None
                } else if driver::has_number_list(task.vendor) {
                    Some(format!("`callform refresh --write{args}` reads {}'s number list: the batch is settled loaded when all of its numbers are there, not loaded when none are (read {} minutes or more after it was sent); or", task.vendor, crate::refresh::NOT_LOADED_AFTER.as_secs() / 60))
                } else {
                    Some(format!("`callform refresh --write{args}` settles it loaded where the vendor's count of the task's callees proves it; or"))
                };
                read.into_iter()
                    .chain([
                        format!("check the task's callees in the vendor console ({place}), then"),
                        format!("if they are there: `callform state batch {name} {i} loaded{args}`"),
                        format!("if they are not: `callform state batch {name} {i} not-loaded{args}` (the next apply sends them)"),
                    ])
                    .collect()
            };
            Derived {
                action: Action::Uncertain,
                steps: None,
                reason: Some(format!(
                    "batch {i} ({place}) may or may not have reached the vendor{why}; callform sends no further batch and no start for this task until it is resolved"
                )),
                hints,
                warnings: Vec::new(),
            }
        }
        PendingState::Refused => {
            let code = pending
                .code
                .as_deref()
                .map(|c| format!(", code {c}"))
                .unwrap_or_default();
            blocked(
                format!(
                    "{} refused batch {i} ({place}) for the task's state at the vendor{}{code}; nothing of it was loaded",
                    task.vendor,
                    pending.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
                ),
                vec![
                    "make the vendor task take callees again (a running longlonglong task: pause it in the console), then".into(),
                    format!("`callform state batch {name} {i} not-loaded{args}` and apply again (it sends the batch again), or"),
                    "call these people in a new task (a new name)".into(),
                ],
            )
        }
    }
}

fn uncertain_start(run: &RunRecord, vendor: crate::manifest::Vendor, cx: &Context<'_>) -> Derived {
    let (name, args) = (cx.recorded_as, cx.state_args);
    let what = run.verb.map_or("start", Verb::key);
    let hints = if cx.live_run {
        vec!["wait for the running apply to finish (it records the answer), then plan again".into()]
    } else if !driver::reads_status(vendor) {
        vec![
            format!("{vendor}'s read reports no status callform can read (its values are documented nowhere), so reading the task back cannot settle the {what}: check the task in the vendor console, then record what it shows:"),
            format!("`callform state start {name} started|paused|stopped|not-started{args}`"),
        ]
    } else if run.verb.is_some() {
        vec![
            format!("`callform refresh --write{args}` reads the task back: the vendor's status settles whether the {what} took effect, where callform can read it; or"),
            "check the task in the vendor console, then record what it shows:".into(),
            format!("`callform state start {name} started|paused|stopped|not-started{args}`"),
        ]
    } else {
        vec![
            format!("`callform refresh --write{args}` reads the task back: a vendor that reports it running settles it, or"),
            "check in the vendor console whether the task runs, then".into(),
            format!("if it runs: `callform state start {name} started{args}`"),
            format!("if it does not: `callform state start {name} not-started{args}` (the next apply starts it)"),
        ]
    };
    Derived {
        action: Action::Uncertain,
        steps: None,
        reason: Some(format!(
            "the {what} sent at {} may or may not have reached the vendor{}; callform will not send it again by itself",
            run.at,
            run.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        )),
        hints,
        warnings: Vec::new(),
    }
}

fn cannot_start(task: &Task, rules: StepRules, cx: &Context<'_>) -> Derived {
    let (name, args) = (cx.recorded_as, cx.state_args);
    let why = match rules.start {
        StartKind::AtCreate => format!(
            "{} starts a task only in its create (`Start`), and this one was created without it",
            task.vendor
        ),
        _ => format!("{} documents no start API", task.vendor),
    };
    blocked(
        format!("the manifest says `status: running`, but callform cannot start a created task here: {why}"),
        vec![
            format!("start it in the vendor console, then `callform state start {name} started{args}`, or"),
            "write `status: paused` (the task stays as it is)".into(),
        ],
    )
}

fn no_op() -> Derived {
    Derived {
        action: Action::NoOp,
        steps: None,
        reason: None,
        hints: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The start or verb whose outcome is unknown, unless a read-back after it, whose status
/// could be read, says where the task stands.
fn unsettled<'a>(rec: &TaskRecord, run: Option<&'a RunRecord>) -> Option<&'a RunRecord> {
    let run = run.filter(|r| matches!(r.state, RunState::Uncertain | RunState::InFlight))?;
    rec.observed
        .as_ref()
        .is_none_or(|o| state::is_later(&run.at, &o.at) || o.status == Lifecycle::Unknown)
        .then_some(run)
}

/// The task's status at its vendor as far as callform knows: what a read-back said
/// (`refresh --write`, or `plan --refresh` in memory) when it is newer than callform's own
/// last step and the vendor's value could be read, else what that step left. A read whose
/// status callform cannot map (`unknown`: Volcengine's `State` integers are documented
/// nowhere) says nothing about the run, so it never overrides what callform did.
pub fn vendor_status(rec: &TaskRecord, run: Option<&RunRecord>) -> Lifecycle {
    let recorded = match run.map(|r| r.state) {
        None | Some(RunState::NotStarted) => Lifecycle::NotStarted,
        Some(RunState::Started) => Lifecycle::Running,
        Some(RunState::Paused) => Lifecycle::Paused,
        Some(RunState::Stopped) => Lifecycle::Stopped,
        Some(RunState::InFlight | RunState::Uncertain) => Lifecycle::Unknown,
    };
    match &rec.observed {
        Some(o)
            if o.status != Lifecycle::Unknown
                && run.is_none_or(|r| !state::is_later(&r.at, &o.at)) =>
        {
            o.status
        }
        _ => recorded,
    }
}

/// A task that can never dial again (finished, stopped, deleted): nothing to do when the
/// manifest asks for nothing more; blocked when it asks for dialling or more callees.
fn final_state(task: &Task, now: Lifecycle, rec: &TaskRecord, cx: &Context<'_>) -> Option<Derived> {
    if !now.is_final() {
        return None;
    }
    let loaded = rec.callees.as_ref().map_or(0, |c| c.rows);
    let more = rows_of(task) > loaded;
    let wants_dialling = task.status == RunStatus::Running && now != Lifecycle::Finished;
    if !more && !wants_dialling {
        return Some(no_op());
    }
    let (name, args) = (cx.recorded_as, cx.state_args);
    let what = if more {
        "the manifest adds callees"
    } else {
        "the manifest says `status: running`"
    };
    Some(blocked(
        format!("the task is {now} at the vendor and never dials again, but {what}"),
        vec![
            "call these people in a new task: a manifest of its own (a new name), or `--replace` this one".into(),
            format!("or write `status: stopped` (or remove the manifest and `callform state rm {name}{args}`)"),
        ],
    ))
}

/// The verb step from `from`, `None` where the task is already there, or blocked where
/// the vendor has no request for it.
fn verb_step(
    task: &Task,
    verb: Verb,
    from: Lifecycle,
    cx: &Context<'_>,
) -> Result<Option<VerbStep>, Box<Derived>> {
    match driver::verb_rule(task.vendor, verb, from) {
        VerbRule::Send { action, note } => Ok(Some(VerbStep {
            verb,
            via: action.to_string(),
            from,
            note: note.map(str::to_string),
            irreversible: verb == Verb::Stop,
        })),
        VerbRule::Already => Ok(None),
        VerbRule::Missing { why, instead } => {
            let (name, args) = (cx.recorded_as, cx.state_args);
            Err(Box::new(blocked(
                format!(
                    "the manifest says `status: {}` and the task is {from} at the vendor, but {} has no request to {verb} it: {why}",
                    task.status.key(),
                    task.vendor
                ),
                vec![
                    instead.to_string(),
                    format!("then `callform refresh --write{args}` records what the vendor says (task `{name}`)"),
                ],
            )))
        }
    }
}

/// The stop of a recorded task that is to end whatever its manifest says: an orphan when
/// the project opts in (`on_remove: stop`, `--stop-orphans`), or a task named to
/// `callform stop`. Derived from the record alone (an orphan has no manifest): a step whose
/// outcome is unknown keeps it `uncertain`; a task that never dials again plans nothing,
/// with a note that `callform state rm` forgets it; a vendor without a stop blocks it with
/// the vendor's way out.
pub fn stop_record(vendor: crate::manifest::Vendor, rec: &TaskRecord, cx: &Context<'_>) -> Derived {
    let (name, args) = (cx.recorded_as, cx.state_args);
    if let Some(pending) = rec.callees.as_ref().and_then(|c| c.pending.as_ref()) {
        let i = pending.i;
        let place = rows_range(pending.offset, u64::from(pending.n));
        return match pending.state {
            PendingState::Uncertain | PendingState::InFlight => Derived {
                action: Action::Uncertain,
                steps: None,
                reason: Some(format!(
                    "batch {i} ({place}) may or may not have reached the vendor; callform sends no stop for this task until it is resolved"
                )),
                hints: vec![
                    format!("check the task's callees in the vendor console ({place}), then"),
                    format!("`callform state batch {name} {i} loaded{args}` or `callform state batch {name} {i} not-loaded{args}`"),
                ],
                warnings: Vec::new(),
            },
            PendingState::Refused => blocked(
                format!("batch {i} ({place}) was refused and is still pending in the state; callform sends no stop for this task until it is resolved"),
                vec![format!("`callform state batch {name} {i} not-loaded{args}`, then plan again")],
            ),
        };
    }
    let run = rec.run.as_ref();
    if let Some(run) = unsettled(rec, run) {
        return uncertain_start(run, vendor, cx);
    }
    let now = vendor_status(rec, run);
    if now.is_final() {
        return Derived {
            reason: Some(format!(
                "{now} at the vendor: it dials nobody again; the state keeps it as its history (`callform state rm {name}{args}` forgets it)"
            )),
            ..no_op()
        };
    }
    match driver::verb_rule(vendor, Verb::Stop, now) {
        VerbRule::Send { action, note } => Derived {
            action: Action::Stop,
            steps: Some(Steps {
                create: false,
                dials: "nobody: stopped for good".into(),
                load: None,
                start: None,
                verb: Some(VerbStep {
                    verb: Verb::Stop,
                    via: action.to_string(),
                    from: now,
                    note: note.map(str::to_string),
                    irreversible: true,
                }),
                update: None,
                    stop_superseded: None,
            }),
            reason: None,
            hints: Vec::new(),
            warnings: Vec::new(),
        },
        VerbRule::Already => no_op(),
        VerbRule::Missing { why, instead } => blocked(
            format!("the task is {now} at the vendor, but {vendor} has no request to stop it: {why}"),
            vec![
                instead.to_string(),
                format!("then `callform refresh --write{args}` records what the vendor says (task `{name}`), or `callform state rm {name}{args}` forgets it"),
            ],
        ),
    }
}

/// The vendor reported a status callform does not know: no start or verb is sent on it.
fn unknown_status(task: &Task, rec: &TaskRecord, cx: &Context<'_>) -> Derived {
    let raw = rec.observed.as_ref().map_or("?", |o| o.raw.as_str());
    blocked(
        format!(
            "the vendor reports a status callform cannot read ({raw}), so it cannot tell whether the task dials; the manifest says `status: {}`",
            task.status.key()
        ),
        vec![
            "check the task in the vendor console, then record what it shows:".into(),
            format!(
                "`callform state start {} started|paused|stopped|not-started{}`",
                cx.recorded_as, cx.state_args
            ),
        ],
    )
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::callees::{callee_key, through};
    use crate::state::model::Batch;
    use jiff::tz::TimeZone;

    const SALT: &str = "00112233445566778899aabbccddeeff";

    /// A task of `vendor` with `n` inline numbers (1370000xxxx) and `status`.
    fn task(vendor: &str, n: usize, status: &str) -> Task {
        let numbers: Vec<String> = (0..n).map(|i| format!("\"137{i:08}\"")).collect();
        let spec = match vendor {
            "xfyeta" => "{line_num: [\"055169101407\"], robot_id: \"11\", time_range: [\"09:00:00-12:00:00\"], time_begin: 2090-01-04 09:00}",
            "aliyun" => "{dialog_id: 1, caller: [\"057100000001\"], number_status_ident: true, retry_type: 0}",
            "volcengine" => "{resource: r, number_pool_no: p, start_time: 2090-01-01 09:00, end_time: 2090-01-02 09:00, concurrency: 1}",
            _ => "{task_type: old, destination_extension: 297, is_group_switch: by_time, dial_time_id: 5, maximumcall: 1, task_extras: {start_time: 2090-01-04 09:00, stop_time: 2090-01-31 18:00, line: [l1], interval_time: 0}, group_switch_rule: [{switch_start: \"09:00\", switch_end: \"12:00\", group_id: 297, default_group_id: 298}]}",
        };
        let callees = if n == 0 {
            String::new()
        } else {
            format!("callees: {{numbers: [{}]}}\n", numbers.join(", "))
        };
        let text = format!("name: t\nvendor: {vendor}\nstatus: {status}\n{callees}spec: {spec}\n");
        let out = crate::manifest::load_text(
            std::path::Path::new("t.yaml"),
            &text,
            &TimeZone::UTC,
            jiff::Timestamp::UNIX_EPOCH,
            None,
        );
        let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        out.tasks.into_iter().next().unwrap()
    }

    fn key() -> [u8; 32] {
        callee_key(SALT)
    }

    /// The record of `t` with its first rows loaded in batches of the given sizes (their
    /// digests made from `t`'s own rows), and `run`.
    fn record(t: &Task, batches: &[u32], run: Option<RunState>) -> TaskRecord {
        let fps = t.callees.as_ref().map_or(&[][..], |c| c.fingerprints());
        let mut at = 0usize;
        let batches: Vec<Batch> = batches
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                at += n as usize;
                Batch {
                    i: i as u32,
                    n,
                    through: through(&key(), "t", &fps[..at.min(fps.len())]),
                }
            })
            .collect();
        TaskRecord {
            vendor: t.vendor.key().into(),
            provider: t.vendor.key().into(),
            endpoint: "https://example.com".into(),
            status: crate::state::TaskStatus::Created,
            task_id: Some("129".into()),
            spec_digest: "sha256:x".into(),
            canonical_version: crate::canonical::CANONICAL_VERSION,
            spec: serde_json::Value::Null.into(),
            created_at: "2027-01-01T00:00:00Z".into(),
            request_id: None,
            warnings: Vec::new(),
            uncertain_reason: None,
            superseded: Vec::new(),
            callees: (!batches.is_empty()).then_some(CalleeProgress {
                rows: at as u64,
                batches,
                pending: None,
                keyed_as: None,
            }),
            run: run.map(|state| RunRecord {
                state,
                at: "2027-01-04T01:00:00Z".into(),
                how: "task/start".into(),
                reason: None,
                verb: None,
                before: None,
            }),
            observed: None,
            update: None,
        }
    }

    fn derive(t: &Task, rec: &TaskRecord) -> Derived {
        let key = key();
        resume(
            t,
            rec,
            &Context {
                key: &key,
                salt: SALT,
                recorded_as: "t",
                state_args: "",
                live_run: false,
            },
        )
    }

    #[test]
    fn a_new_task_takes_every_step_from_row_0() {
        let s = fresh(&task("xfyeta", 1234, "running"));
        assert!(s.create);
        let load = s.load.unwrap();
        assert_eq!(
            (
                load.rows,
                load.batches,
                load.first_row,
                load.batch_rows,
                load.in_create
            ),
            (1234, 25, 0, 50, 0)
        );
        assert_eq!(s.start.unwrap().via, "task/start");
        assert_eq!(
            s.dials,
            "from 2090-01-04 09:00:00 (time_begin), within 09:00:00-12:00:00 (time_range)"
        );

        let paused = fresh(&task("xfyeta", 3, "paused"));
        assert_eq!(paused.start, None);
        assert_eq!(paused.dials, "nobody (status: paused)");
        let nobody = fresh(&task("xfyeta", 0, "paused"));
        assert_eq!(nobody.load, None);
    }

    #[test]
    fn volcengine_creates_with_its_first_rows_and_starts_in_the_create() {
        let s = fresh(&task("volcengine", 25_000, "running"));
        let load = s.load.clone().unwrap();
        assert_eq!(
            (load.rows, load.in_create, load.batches),
            (25_000, 10_000, 2)
        );
        assert_eq!(s.start.as_ref().unwrap().via, "create");
        assert!(s
            .dials
            .starts_with("from 2090-01-01 09:00:00 to 2090-01-02 09:00:00"));
        assert_eq!(
            fresh_warnings(&s).len(),
            1,
            "dials before the list is complete"
        );
        let small = fresh(&task("volcengine", 3, "paused"));
        let load = small.load.clone().unwrap();
        assert_eq!((load.in_create, load.batches), (3, 0));
        assert!(fresh_warnings(&small).is_empty());
    }

    #[test]
    fn longlonglong_never_starts_and_aliyun_starts_with_its_request() {
        let s = fresh(&task("longlonglong", 3, "paused"));
        assert!(s.dials.starts_with("never by callform"), "{}", s.dials);
        assert_eq!(s.load.unwrap().batch_rows, 100);
        let s = fresh(&task("aliyun", 3, "running"));
        assert_eq!(s.start.unwrap().via, "StartRobotTask");
        assert_eq!(s.dials, "as soon as started");
    }

    #[test]
    fn a_created_task_resumes_from_the_first_row_not_loaded() {
        let t = task("xfyeta", 120, "running");
        // Nothing loaded yet.
        let d = derive(&t, &record(&t, &[], None));
        assert_eq!(d.action, Action::Resume);
        let s = d.steps.unwrap();
        assert!(!s.create);
        let load = s.load.unwrap();
        assert_eq!(
            (
                load.rows,
                load.batches,
                load.first_batch,
                load.first_row,
                load.loaded
            ),
            (120, 3, 0, 0, 0)
        );
        assert_eq!(s.start.unwrap().via, "task/start");
        // Two batches loaded, the last one short: a new batch starts at row 100.
        let d = derive(&t, &record(&t, &[50, 30], None));
        let load = d.steps.unwrap().load.unwrap();
        assert_eq!(
            (
                load.rows,
                load.batches,
                load.first_batch,
                load.first_row,
                load.loaded
            ),
            (40, 1, 2, 80, 80)
        );
        // Everything loaded, not started: the start alone.
        let d = derive(&t, &record(&t, &[50, 50, 20], None));
        let s = d.steps.unwrap();
        assert_eq!(
            (s.load, s.start.map(|s| s.via)),
            (None, Some("task/start".into()))
        );
        // A start recorded as not made (a console pause) is sent again.
        let d = derive(&t, &record(&t, &[50, 50, 20], Some(RunState::NotStarted)));
        assert_eq!(d.action, Action::Resume);
    }

    #[test]
    fn nothing_left_is_no_op() {
        let t = task("xfyeta", 120, "running");
        let d = derive(&t, &record(&t, &[50, 50, 20], Some(RunState::Started)));
        assert_eq!((d.action, d.steps), (Action::NoOp, None));
        let t = task("xfyeta", 120, "paused");
        assert_eq!(derive(&t, &record(&t, &[120], None)).action, Action::NoOp);
        let t = task("xfyeta", 0, "paused");
        assert_eq!(derive(&t, &record(&t, &[], None)).action, Action::NoOp);
    }

    #[test]
    fn loaded_rows_changed_or_removed_block_naming_the_first_batch_that_differs() {
        let t = task("xfyeta", 120, "paused");
        let mut rec = record(&t, &[50, 50, 20], None);
        // Rows 51–100 were something else when they were loaded.
        let other = task("xfyeta", 121, "paused");
        let fps = other.callees.as_ref().unwrap().fingerprints();
        let mut shifted = t.callees.as_ref().unwrap().fingerprints()[..50].to_vec();
        shifted.extend_from_slice(&fps[51..101]);
        let batches = &mut rec.callees.as_mut().unwrap().batches;
        batches[1].through = through(&key(), "t", &shifted);
        let d = derive(&t, &rec);
        assert_eq!(d.action, Action::Blocked);
        let reason = d.reason.unwrap();
        assert!(
            reason.contains("first difference in batch 1, rows 51–100"),
            "{reason}"
        );

        // Fewer rows in the manifest than loaded.
        let long = task("xfyeta", 120, "paused");
        let short = task("xfyeta", 100, "paused");
        let d = derive(&short, &record(&long, &[50, 50, 20], None));
        assert_eq!(d.action, Action::Blocked);
        let reason = d.reason.unwrap();
        assert!(
            reason.contains("the manifest lists 100, 120 are loaded"),
            "{reason}"
        );
        assert!(reason.contains("batch 2, rows 101–120"), "{reason}");

        // No callees in the manifest any more.
        let none = task("xfyeta", 0, "paused");
        assert_eq!(
            derive(&none, &record(&long, &[50], None)).action,
            Action::Blocked
        );

        // The digests are keyed with the name the record is kept under.
        let key = key();
        let d = resume(
            &t,
            &record(&t, &[50, 50, 20], None),
            &Context {
                key: &key,
                salt: SALT,
                recorded_as: "other",
                state_args: "",
                live_run: false,
            },
        );
        assert_eq!(d.action, Action::Blocked);
        // A record moved by a rename says which name its digests are keyed with.
        let mut moved = record(&t, &[50, 50, 20], None);
        moved.callees.as_mut().unwrap().keyed_as = Some("t".into());
        let d = resume(
            &t,
            &moved,
            &Context {
                key: &key,
                salt: SALT,
                recorded_as: "other",
                state_args: "",
                live_run: false,
            },
        );
        assert_eq!(d.action, Action::NoOp);
    }

    #[test]
    fn rows_added_after_the_start_block_where_the_vendor_takes_none() {
        let t = task("xfyeta", 120, "running");
        let d = derive(&t, &record(&t, &[50, 50], Some(RunState::Started)));
        assert_eq!(d.action, Action::Blocked);
        assert!(d
            .reason
            .unwrap()
            .contains("20 callees were added after the task was started (rows 101–120)"));
        let t = task("aliyun", 120, "running");
        assert_eq!(
            derive(&t, &record(&t, &[50, 50], Some(RunState::Started))).action,
            Action::Blocked
        );
        // Volcengine takes them (BatchAppend), and the task dials already.
        let t = task("volcengine", 12_000, "running");
        let d = derive(&t, &record(&t, &[10_000], Some(RunState::Started)));
        assert_eq!(d.action, Action::Resume);
        let s = d.steps.unwrap();
        let load = s.load.unwrap();
        assert_eq!(
            (load.rows, load.batches, load.first_batch, load.first_row),
            (2_000, 1, 1, 10_000)
        );
        assert_eq!(s.start, None);
        assert_eq!(s.dials, "dialling since 2027-01-04T01:00:00Z");
    }

    #[test]
    fn a_pending_batch_is_uncertain_or_blocked_with_the_state_batch_commands() {
        let t = task("xfyeta", 120, "running");
        let mut rec = record(&t, &[50], None);
        rec.callees.as_mut().unwrap().pending = Some(Pending {
            i: 1,
            offset: 50,
            n: 50,
            through: "h1:00".into(),
            at: "2027-01-04T01:00:00Z".into(),
            state: PendingState::Uncertain,
            reason: Some("HTTP 502".into()),
            code: None,
            in_create: false,
        });
        let d = derive(&t, &rec);
        assert_eq!((d.action, d.steps.is_none()), (Action::Uncertain, true));
        let reason = d.reason.unwrap();
        assert!(
            reason.starts_with(
                "batch 1 (rows 51–100) may or may not have reached the vendor (HTTP 502)"
            ),
            "{reason}"
        );
        assert!(
            d.hints
                .iter()
                .any(|h| h.contains("`callform state batch t 1 loaded`")),
            "{:?}",
            d.hints
        );
        assert!(d
            .hints
            .iter()
            .any(|h| h.contains("`callform state batch t 1 not-loaded`")));

        let pending = rec.callees.as_mut().unwrap().pending.as_mut().unwrap();
        pending.state = PendingState::Refused;
        pending.code = Some("6007".into());
        pending.reason = Some("the task is running".into());
        let d = derive(&t, &rec);
        assert_eq!(d.action, Action::Blocked);
        let reason = d.reason.unwrap();
        assert!(
            reason.contains("refused batch 1 (rows 51–100)") && reason.contains("6007"),
            "{reason}"
        );
        assert!(d
            .hints
            .iter()
            .any(|h| h.contains("`callform state batch t 1 not-loaded` and apply again")));
        assert!(
            !d.hints.iter().any(|h| h.contains(" loaded`")),
            "a refused batch is never marked loaded"
        );
    }

    #[test]
    fn an_uncertain_start_is_uncertain() {
        let t = task("xfyeta", 50, "running");
        let d = derive(&t, &record(&t, &[50], Some(RunState::Uncertain)));
        assert_eq!(d.action, Action::Uncertain);
        assert!(d
            .hints
            .iter()
            .any(|h| h.contains("`callform state start t started`")));
        assert!(d
            .hints
            .iter()
            .any(|h| h.contains("`callform state start t not-started`")));
    }

    #[test]
    fn running_but_not_started_asks_for_a_start_or_blocks() {
        // Volcengine starts only in the create.
        let t = task("volcengine", 3, "running");
        let d = derive(&t, &record(&t, &[3], None));
        assert_eq!(d.action, Action::Blocked);
        assert!(d
            .reason
            .unwrap()
            .contains("starts a task only in its create"));
        // longlonglong has no start (the manifest check refuses `running` before this).
        let mut t = task("longlonglong", 3, "paused");
        t.status = RunStatus::Running;
        let d = derive(&t, &record(&t, &[3], None));
        assert_eq!(d.action, Action::Blocked);
        assert!(d.reason.unwrap().contains("documents no start API"));
    }

    #[test]
    fn paused_but_started_plans_a_pause() {
        let t = task("xfyeta", 50, "paused");
        let d = derive(&t, &record(&t, &[50], Some(RunState::Started)));
        assert_eq!(d.action, Action::Pause);
        let verb = d.steps.unwrap().verb.unwrap();
        assert_eq!((verb.verb, verb.via.as_str()), (Verb::Pause, "task/pause"));
        assert!(!verb.irreversible);
    }

    #[test]
    fn stopped_plans_an_irreversible_stop_and_nothing_once_stopped() {
        let t = task("xfyeta", 50, "stopped");
        let d = derive(&t, &record(&t, &[50], Some(RunState::Started)));
        assert_eq!(d.action, Action::Stop);
        let steps = d.steps.unwrap();
        assert!(steps.verb.unwrap().irreversible);
        assert!(steps.load.is_none());
        let d = derive(&t, &record(&t, &[50], Some(RunState::Stopped)));
        assert_eq!(d.action, Action::NoOp);
    }

    #[test]
    fn a_read_back_newer_than_the_last_step_decides() {
        let t = task("xfyeta", 50, "running");
        let mut rec = record(&t, &[50], Some(RunState::Started));
        rec.observed = Some(crate::state::ObservedRecord {
            status: Lifecycle::Paused,
            raw: "3".into(),
            at: "2999-01-01T00:00:00Z".into(),
            called: None,
            total: None,
        });
        let d = derive(&t, &rec);
        assert_eq!(d.action, Action::Resume);
        assert_eq!(d.steps.unwrap().verb.unwrap().verb, Verb::Resume);
        // Older than the last step: the step's record wins.
        rec.observed.as_mut().unwrap().at = "2000-01-01T00:00:00Z".into();
        assert_eq!(derive(&t, &rec).action, Action::NoOp);
        // A task the vendor finished, with nothing more to load: nothing to do.
        rec.observed = Some(crate::state::ObservedRecord {
            status: Lifecycle::Finished,
            raw: "4".into(),
            at: "2999-01-01T00:00:00Z".into(),
            called: Some(50),
            total: Some(50),
        });
        assert_eq!(derive(&t, &rec).action, Action::NoOp);
    }

    #[test]
    fn a_record_that_does_not_add_up_blocks() {
        let t = task("xfyeta", 50, "paused");
        let mut rec = record(&t, &[50], None);
        rec.callees.as_mut().unwrap().rows = 49;
        assert_eq!(derive(&t, &rec).action, Action::Blocked);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234), "1,234");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
