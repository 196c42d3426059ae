//! Apply: run each planned task's steps — create, callee batches, start — through the
//! drivers, and record every step durably.
//!
//! Every step goes through the same pipeline: journal intent → sign → send → read → journal
//! outcome. The intent is durable before the first byte of the request leaves, so a crash
//! at any point leaves either nothing sent, or an intent that the next load turns into
//! `uncertain` (never into a second create, a second load of a batch, or a second start).
//!
//! A task's steps are strictly sequential: a batch is sent only once the one before it is
//! proven loaded, and the start only once every batch is; any step that is not done ends
//! the task's sequence (other tasks go on). Tasks run in parallel, and parallelism counts
//! requests in flight across tasks (overall and per provider). The outcome of one step and
//! the intent of the next are recorded together when the next can be sent at once (one
//! write, one sync), and the journal group-commits the records of every task; recording a
//! step appends one line, whatever the size of the state. Rows are read from their file
//! as the batches go, never held whole. At the end the run is committed into the state.
//! Apply knows the state only as a [`RunLog`]: where it is kept is the backend's business.
//!
//! Stopping: the caller's `cancel` flag (Ctrl-C, SIGTERM) stops new steps; requests in
//! flight finish and are recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::canonical::callees::{callee_key, Through};
use crate::canonical::CANONICAL_VERSION;
use crate::driver::{self, ErrorClass, Op, Parsed, Request};
use crate::manifest::callees::{CalleeList, Row};
use crate::manifest::{Manifests, Task, Vendor};
use crate::plan::{Action, Plan};
use crate::state::replay::{CreateBatch, StepOutcome};
use crate::state::{self, Entry, Outcome, RunLog, State};
use crate::transport::{Delivery, Transport};

/// One task's steps to send: everything resolved before the first request leaves.
pub struct TaskRun {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    /// The endpoint recorded in state.
    pub endpoint: String,
    /// Where the requests actually go (differs from `endpoint` only in the sandbox).
    pub base_url: String,
    /// The create to send first; `None` when the task exists (a resume).
    pub create: Option<CreateSend>,
    /// The vendor task id of a task that exists.
    pub task_id: Option<String>,
    /// The callee batches to send after the create.
    pub load: Option<LoadRun>,
    /// The start to send after the batches.
    pub start: Option<StartRun>,
    /// A pause or stop (sent before any batch) or a resume (sent last).
    pub verb: Option<VerbRun>,
    /// For a replacement: the stop of the task it supersedes, sent after every other
    /// step, and only when each of them is done.
    pub supersede: Option<SupersedeRun>,
    /// An update in place, sent first.
    pub update: Option<UpdateRun>,
    /// What builds the load and start requests (`None` for a stop of a task no longer in
    /// the manifests, which needs only its record).
    task: Option<Arc<Task>>,
    cx: Arc<driver::Context>,
}

/// A create request and what its intent records.
pub struct CreateSend {
    pub spec_digest: String,
    pub spec: serde_json::Value,
    pub replaces: Option<String>,
    pub request: Request,
    /// The callees the create itself carries (batch 0).
    pub batch: Option<CreateBatch>,
    /// The create starts the task.
    pub start: bool,
}

/// The callee batches of a task: rows `first_row..first_row + rows`, `batch_rows` a request.
pub struct LoadRun {
    pub first_batch: u32,
    pub first_row: u64,
    pub rows: u64,
    pub batch_rows: u32,
    list: CalleeList,
    /// The digest of every row before `first_row`, extended batch by batch.
    through: Through,
}

/// The start of a task: its request's name (as the journal records it).
pub struct StartRun {
    pub how: String,
}

/// A pause, resume or stop: its request, built before anything is sent.
pub struct VerbRun {
    pub verb: driver::Verb,
    /// Its action or path, as the journal records it.
    pub how: String,
    request: Request,
}

/// An update in place: the spec it carries (as its intent records it) and its request.
pub struct UpdateRun {
    pub spec_digest: String,
    pub spec: serde_json::Value,
    request: Request,
}

/// The stop of a superseded task: its id and request, built before anything is sent.
pub struct SupersedeRun {
    pub task_id: String,
    /// Its action or path, as the journal records it.
    pub how: String,
    request: Request,
}

/// One step of a task, for results and messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    /// Batch `i`: rows `first_row + 1 ..= first_row + n` (1-based in messages).
    Batch {
        i: u32,
        first_row: u64,
        n: u32,
    },
    Start,
    /// A pause, resume or stop.
    Verb(driver::Verb),
    /// The stop of the task (this vendor id) a replacement superseded.
    StopSuperseded(String),
    /// An update in place.
    Update,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Create => f.write_str("create"),
            Step::Batch { i, first_row, n } => write!(
                f,
                "batch {i} (rows {}–{})",
                first_row + 1,
                first_row + u64::from(*n)
            ),
            Step::Start => f.write_str("start"),
            Step::Verb(v) => f.write_str(v.key()),
            Step::StopSuperseded(id) => write!(f, "stop of the superseded task {id}"),
            Step::Update => f.write_str("update"),
        }
    }
}

/// How a task's steps ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Result_ {
    /// Every planned step is done.
    Done,
    /// The step was refused and nothing of it was done (`class` `None`: not sent at all).
    Failed {
        step: Step,
        class: Option<ErrorClass>,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The step may or may not have been done: nothing more is sent for the task.
    Uncertain { step: Step, reason: String },
    /// Not started because the run was stopped.
    Skipped { step: Step },
    /// Not sent because a request for the same provider failed authentication: nothing
    /// was journalled for it, so the next plan shows it again.
    AuthStopped { step: Step },
}

impl Result_ {
    pub fn is_done(&self) -> bool {
        matches!(self, Result_::Done)
    }
}

/// What a task's run did, step by step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// The vendor task id (created now, or recorded before).
    pub task_id: Option<String>,
    /// The create was sent and the vendor created the task.
    pub created: bool,
    pub request_id: Option<String>,
    /// Batches and rows proven loaded by this run (the create's own rows included).
    pub batches: u32,
    pub rows: u64,
    /// The task was started by this run.
    pub started: bool,
    /// The pause, resume or stop this run did.
    pub verb: Option<driver::Verb>,
    /// The superseded task this run stopped.
    pub stopped_superseded: Option<String>,
    /// The task was updated in place by this run.
    pub updated: bool,
    /// Notes of the vendor's answers (rows it refused, masked).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    pub result: Result_,
    pub progress: Progress,
    /// The task existed before this run (a resume).
    pub resumed: bool,
}

/// A provider's driver context and the base URL its requests go to.
pub type ContextFor<'a> = &'a dyn Fn(&str, Vendor) -> Result<(driver::Context, String), String>;

/// Resolves every task with steps in `plan`: its context, its create request, its batches
/// and its start. Any problem (a missing credential, a request that cannot be built) stops
/// the apply before anything is sent. `state` is the state the run begins on (its salt
/// keys the callee digests).
pub fn prepare(
    plan: &Plan,
    manifests: &Manifests,
    state: &State,
    context_for: ContextFor<'_>,
) -> Result<Vec<TaskRun>, Vec<String>> {
    let by_name: HashMap<&str, &Task> = manifests
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let key = callee_key(&state.salt);
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for p in plan.tasks.iter().filter(|p| p.action.sends()) {
        let Some(steps) = &p.steps else {
            errors.push(format!(
                "{}: the plan does not say which steps to take: plan again",
                p.name
            ));
            continue;
        };
        // A stop is built from the record alone (an orphan has no manifest), on the
        // vendor and provider the task was created with.
        if p.action == Action::Stop
            && !steps.create
            && steps.load.is_none()
            && steps.start.is_none()
        {
            match stop_run(p, steps, state, context_for) {
                Ok(run) => runs.push(run),
                Err(e) => errors.push(e),
            }
            continue;
        }
        let Some(task) = by_name.get(p.name.as_str()) else {
            errors.push(format!("{}: in the plan but not in the manifests", p.name));
            continue;
        };
        let (cx, base_url) = match context_for(&task.provider, task.vendor) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{}: {e}", p.name));
                continue;
            }
        };
        let record = state.tasks.get(&p.name);
        let list = task.callees.as_ref();
        let fps = list.map(|l| l.fingerprints()).unwrap_or_default();
        // The name the task's digests are keyed with: its own, or the one it was recorded
        // under before a rename.
        let keyed_as = record
            .filter(|_| !steps.create)
            .and_then(|r| r.callees.as_ref())
            .and_then(|c| c.keyed_as.as_deref())
            .unwrap_or(&p.name);
        let mut through = Through::new(&key, keyed_as);
        let load = steps.load.as_ref();
        let in_create = if steps.create {
            load.map_or(0, |l| l.in_create)
        } else {
            0
        };
        let create = if steps.create {
            let request = match driver::build(task, &cx) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("{}: {e}", p.name));
                    continue;
                }
            };
            let batch = (in_create > 0).then(|| {
                for fp in fps.iter().take(to_usize(in_create)) {
                    through.push(fp);
                }
                CreateBatch {
                    n: u32::try_from(in_create).unwrap_or(u32::MAX),
                    through: through.at(),
                }
            });
            let replaces = if p.action == Action::Replace {
                record.and_then(|r| r.task_id.clone())
            } else {
                None
            };
            Some(CreateSend {
                spec_digest: p.spec_digest.clone().unwrap_or_default(),
                spec: p.spec.clone().unwrap_or(serde_json::Value::Null),
                replaces,
                request,
                batch,
                start: steps.start.as_ref().is_some_and(|s| s.via == "create"),
            })
        } else {
            None
        };
        let task_id = if steps.create {
            None
        } else {
            match record.and_then(|r| r.task_id.clone()) {
                Some(id) => Some(id),
                None => {
                    errors.push(format!(
                        "{}: the state records no vendor task id, so its steps cannot be sent",
                        p.name
                    ));
                    continue;
                }
            }
        };
        let batched = load.map_or(0, |l| l.rows.saturating_sub(in_create));
        let load_run = match (load, list) {
            (Some(l), Some(list)) if batched > 0 => {
                let first_row = l.first_row + in_create;
                if first_row.saturating_add(batched) > list.len() as u64 {
                    errors.push(format!(
                        "{}: the plan loads rows the manifest does not have: plan again",
                        p.name
                    ));
                    continue;
                }
                for fp in fps
                    .iter()
                    .take(to_usize(first_row))
                    .skip(to_usize(in_create))
                {
                    through.push(fp);
                }
                Some(LoadRun {
                    first_batch: l.first_batch + u32::from(in_create > 0),
                    first_row,
                    rows: batched,
                    batch_rows: l.batch_rows.max(1),
                    list: list.clone(),
                    through,
                })
            }
            (Some(_), None) if batched > 0 => {
                errors.push(format!(
                    "{}: the plan loads callees the manifest does not name: plan again",
                    p.name
                ));
                continue;
            }
            _ => None,
        };
        let start = match steps.start.as_ref().filter(|s| s.via != "create") {
            // Built once now with a stand-in id, so that a start that cannot be built (a
            // credential, a time) stops the apply before anything is sent.
            Some(s) => match driver::build_start(task, task_id.as_deref().unwrap_or("0"), &cx) {
                Ok(Some(_)) => Some(StartRun { how: s.via.clone() }),
                Ok(None) => {
                    errors.push(format!(
                        "{}: the plan starts the task, but {} tasks are not started by a request: plan again",
                        p.name, task.vendor
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", p.name));
                    continue;
                }
            },
            None => None,
        };
        let verb = match (&steps.verb, task_id.as_deref()) {
            (None, _) => None,
            (Some(v), Some(id)) => match driver::build_verb(task.vendor, v.verb, id, v.from, &cx) {
                Ok(request) => Some(VerbRun {
                    verb: v.verb,
                    how: v.via.clone(),
                    request,
                }),
                Err(e) => {
                    errors.push(format!("{}: {e}", p.name));
                    continue;
                }
            },
            (Some(v), None) => {
                errors.push(format!(
                    "{}: the plan would {} a task it creates: plan again",
                    p.name, v.verb
                ));
                continue;
            }
        };
        let update = match (&steps.update, task_id.as_deref()) {
            (None, _) => None,
            (Some(_), Some(id)) => match driver::build_update(task, id, &cx) {
                Ok(Some(request)) => Some(UpdateRun {
                    spec_digest: p.spec_digest.clone().unwrap_or_default(),
                    spec: p.spec.clone().unwrap_or(serde_json::Value::Null),
                    request,
                }),
                Ok(None) => {
                    errors.push(format!(
                        "{}: the plan updates the task in place, but {} has no update: plan again",
                        p.name, task.vendor
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push(format!("{}: {e}", p.name));
                    continue;
                }
            },
            (Some(_), None) => {
                errors.push(format!(
                    "{}: the plan would update a task it creates: plan again",
                    p.name
                ));
                continue;
            }
        };
        if update.as_ref().is_some_and(|u| u.spec.is_null()) {
            errors.push(format!(
                "{}: the plan's update carries no spec: plan again",
                p.name
            ));
            continue;
        }
        let supersede = match &steps.stop_superseded {
            None => None,
            Some(s)
                if p.action == Action::Replace
                    && record.and_then(|r| r.task_id.as_deref()) == Some(s.task_id.as_str()) =>
            {
                match driver::build_verb(task.vendor, driver::Verb::Stop, &s.task_id, s.from, &cx) {
                    Ok(request) => Some(SupersedeRun {
                        task_id: s.task_id.clone(),
                        how: s.via.clone(),
                        request,
                    }),
                    Err(e) => {
                        errors.push(format!("{}: {e}", p.name));
                        continue;
                    }
                }
            }
            Some(s) => {
                errors.push(format!(
                    "{}: the plan stops task {} as superseded, but the state does not record it as this task's: plan again",
                    p.name, s.task_id
                ));
                continue;
            }
        };
        runs.push(TaskRun {
            name: p.name.clone(),
            vendor: task.vendor,
            provider: task.provider.clone(),
            endpoint: p.endpoint.clone(),
            base_url,
            create,
            task_id,
            load: load_run,
            start,
            verb,
            supersede,
            update,
            task: Some(Arc::new((*task).clone())),
            cx: Arc::new(cx),
        });
    }
    if errors.is_empty() {
        Ok(runs)
    } else {
        Err(errors)
    }
}

/// The run of a planned stop: its request built from the record's vendor, provider and id.
fn stop_run(
    p: &crate::plan::PlannedTask,
    steps: &crate::plan::Steps,
    state: &State,
    context_for: ContextFor<'_>,
) -> Result<TaskRun, String> {
    let name = &p.name;
    let record = state.tasks.get(name).ok_or_else(|| {
        format!("{name}: the plan stops a task the state does not record: plan again")
    })?;
    let vendor = Vendor::from_key(&record.vendor).ok_or_else(|| {
        format!(
            "{name}: the state records an unknown vendor `{}`",
            record.vendor
        )
    })?;
    let task_id = record.task_id.clone().ok_or_else(|| {
        format!("{name}: the state records no vendor task id, so it cannot be stopped")
    })?;
    let v = steps
        .verb
        .as_ref()
        .ok_or_else(|| format!("{name}: the plan does not say which steps to take: plan again"))?;
    let (cx, base_url) =
        context_for(&record.provider, vendor).map_err(|e| format!("{name}: {e}"))?;
    let request = driver::build_verb(vendor, v.verb, &task_id, v.from, &cx)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(TaskRun {
        name: name.clone(),
        vendor,
        provider: record.provider.clone(),
        endpoint: record.endpoint.clone(),
        base_url,
        create: None,
        task_id: Some(task_id),
        load: None,
        start: None,
        verb: Some(VerbRun {
            verb: v.verb,
            how: v.via.clone(),
            request,
        }),
        supersede: None,
        update: None,
        task: None,
        cx: Arc::new(cx),
    })
}

impl TaskRun {
    /// The requests its steps send, at most.
    pub fn requests(&self) -> usize {
        let batches = self.load.as_ref().map_or(0, |l| {
            to_usize(l.rows.div_ceil(u64::from(l.batch_rows.max(1))))
        });
        usize::from(self.create.is_some())
            + batches
            + usize::from(self.start.is_some())
            + usize::from(self.verb.is_some())
            + usize::from(self.supersede.is_some())
            + usize::from(self.update.is_some())
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Limits on requests in flight: overall, and per provider.
pub struct Limits {
    pub parallelism: usize,
    pub per_provider: HashMap<String, usize>,
}

/// What every task's run shares: the journal, the transport, the permits, the auth gates.
struct Shared {
    journal: Arc<dyn RunLog>,
    transport: Arc<Transport>,
    global: Arc<Semaphore>,
    cancel: Arc<AtomicBool>,
}

/// Runs every task's steps, recording each in `journal`, and commits the run into the
/// state. The caller holds the lease and began `journal` on `state` (as recovered under the
/// lease, or a new one). The log is shared with the tasks that send, hence the `Arc`.
pub async fn run(
    journal: Arc<dyn RunLog>,
    mut state: State,
    runs: Vec<TaskRun>,
    transport: Arc<Transport>,
    limits: &Limits,
    cancel: Arc<AtomicBool>,
    report: &dyn Report,
) -> Ran {
    let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
    let shared = Arc::new(Shared {
        journal: Arc::clone(&journal),
        transport,
        global: Arc::new(Semaphore::new(permits(limits.parallelism))),
        cancel,
    });
    let mut per_provider: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut gates: HashMap<String, Arc<AuthGate>> = HashMap::new();
    for r in &runs {
        gates.entry(r.provider.clone()).or_default();
        let n = limits
            .per_provider
            .get(&r.provider)
            .copied()
            .map_or(Semaphore::MAX_PERMITS, permits);
        per_provider
            .entry(r.provider.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(n)));
    }
    drop(journal);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::with_capacity(runs.len());
    for r in runs {
        let shared = Arc::clone(&shared);
        let provider = per_provider
            .get(&r.provider)
            .cloned()
            .unwrap_or_else(|| Arc::new(Semaphore::new(1)));
        let gate = gates.get(&r.provider).cloned().unwrap_or_default();
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            let lane = Lane {
                shared: &shared,
                provider,
                gate,
                tx: &tx,
            };
            let finished = lane.run(r).await;
            let _ = tx.send(Event::Finished(Box::new(finished)));
        }));
    }
    drop(tx);
    let mut finished = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Step(s) => report.step(&s),
            Event::Finished(f) => {
                report.finish(&f);
                finished.push(*f);
            }
        }
    }
    for h in handles {
        let _ = h.await;
    }
    // Every task that held the journal has ended, so this is the last reference. Were it
    // not, the state is left for the next run to fold rather than raced.
    // A failure to fold is reported with the results, never instead of them: the user
    // must see what was created, and the journal still holds it for the next run.
    let journal = match Arc::try_unwrap(shared) {
        Ok(shared) => shared.journal,
        Err(shared) => Arc::clone(&shared.journal),
    };
    let committed = journal.commit(&mut state).await.map(|_| ());
    Ran {
        finished,
        committed,
    }
}

/// What the caller is told as the run goes (on the caller's task, one event at a time).
pub trait Report {
    /// A request was answered.
    fn step(&self, step: &StepDone);
    /// A task's steps ended.
    fn finish(&self, finished: &Finished);
}

/// One request answered, for progress.
#[derive(Debug, Clone)]
pub struct StepDone {
    pub name: String,
    pub step: Step,
}

enum Event {
    Step(StepDone),
    Finished(Box<Finished>),
}

/// What a run did, and whether its records reached the state file.
pub struct Ran {
    pub finished: Vec<Finished>,
    /// `Err`: the results are in the journal but not yet in the state file; the next
    /// command that takes the lock folds them in.
    pub committed: Result<(), state::StateError>,
}

/// Whether a provider's credentials are known to work, known to fail, or not yet known.
///
/// Until one request for the provider has had an answer other than an authentication
/// failure, its requests go one at a time (the `probe` lock): with a wrong secret, exactly
/// one request reaches the vendor, and every other step for that provider is not sent.
#[derive(Default)]
struct AuthGate {
    probe: tokio::sync::Mutex<()>,
    verified: AtomicBool,
    failed: AtomicBool,
}

impl AuthGate {
    /// Waits for the probe when the credentials are not verified yet; the guard (if any)
    /// is held until the answer is read.
    async fn enter(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.verified.load(Ordering::SeqCst) {
            return None;
        }
        let probe = self.probe.lock().await;
        // Verified while this one waited: no need to go one at a time any more.
        (!self.verified.load(Ordering::SeqCst)).then_some(probe)
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Learns from an answer. Only an answer the vendor gives after it checked the
    /// credentials proves them: a success, or a documented business or task-state
    /// rejection. A throttling, an uncertain answer or nothing at all proves nothing (a
    /// gateway may throttle before it authenticates), so the next request is the probe
    /// again.
    fn learn(&self, delivery: &Delivery) {
        match delivery {
            Delivery::Answered {
                parsed:
                    Parsed::Rejected {
                        class: ErrorClass::Auth,
                        ..
                    },
                ..
            } => self.failed.store(true, Ordering::SeqCst),
            Delivery::Answered {
                parsed:
                    Parsed::Created { .. }
                    | Parsed::Done { .. }
                    | Parsed::Rejected {
                        class: ErrorClass::Business | ErrorClass::TaskState,
                        ..
                    },
                ..
            } => self.verified.store(true, Ordering::SeqCst),
            _ => {}
        }
    }
}

/// One task's sequence of steps, run against the shared permits.
struct Lane<'a> {
    shared: &'a Shared,
    provider: Arc<Semaphore>,
    gate: Arc<AuthGate>,
    tx: &'a tokio::sync::mpsc::UnboundedSender<Event>,
}

/// The permits a request holds while in flight.
struct Permits {
    _global: OwnedSemaphorePermit,
    _provider: OwnedSemaphorePermit,
}

/// How one step ended, once its answer is read.
enum Ended {
    /// Done: go on with the next step (after recording `outcome`).
    Done(Entry),
    /// Not done: record `outcome` (if any) and stop the task with `result`.
    Stop(Option<Entry>, Result_),
}

impl Lane<'_> {
    async fn run(&self, mut r: TaskRun) -> Finished {
        let mut progress = Progress {
            task_id: r.task_id.clone(),
            ..Progress::default()
        };
        let resumed = r.create.is_none();
        let result = self.steps(&mut r, &mut progress).await;
        // Not reached: a step of the replacement did not finish, so the old task dials on.
        if let Some(old) = &r.supersede {
            progress.warnings.push(format!(
                "the superseded task {} was not stopped, since the replacement's steps did not all finish: it still runs at the vendor (stop it in the console if it should not)",
                old.task_id
            ));
        }
        Finished {
            name: r.name,
            vendor: r.vendor,
            provider: r.provider,
            result,
            progress,
            resumed,
        }
    }

    /// Takes the provider's auth gate and the permits, then records `entries` (the last
    /// step's outcome, if not recorded yet, and this step's intent). `Err` ends the task.
    async fn open(
        &self,
        step: &Step,
        outcome: &mut Option<(Step, Entry)>,
        intent: Entry,
    ) -> Result<Permits, Result_> {
        // Permits are taken first when they are free at once, so that the last outcome and
        // this intent share one write; else the outcome is recorded now, so that no outcome
        // waits for a permit.
        let permits = match self.try_permits() {
            Some(p) => p,
            None => {
                if let Some((_, o)) = outcome.take() {
                    self.record_outcome(o, step).await?;
                }
                match self.permits().await {
                    Some(p) => p,
                    None => return Err(Result_::Skipped { step: step.clone() }),
                }
            }
        };
        if self.shared.cancel.load(Ordering::SeqCst) {
            if let Some((_, o)) = outcome.take() {
                self.record_outcome(o, step).await?;
            }
            return Err(Result_::Skipped { step: step.clone() });
        }
        if self.gate.failed() {
            if let Some((_, o)) = outcome.take() {
                self.record_outcome(o, step).await?;
            }
            return Err(Result_::AuthStopped { step: step.clone() });
        }
        let mut entries: Vec<Entry> = outcome.take().map(|(_, o)| o).into_iter().collect();
        let had_outcome = !entries.is_empty();
        entries.push(intent);
        if let Err(e) = self.shared.journal.record_all(entries).await {
            // Not on disk, so not sent. When the last outcome rode with it, that step is
            // left as an intent without an outcome: uncertain at the fold.
            let message = format!("could not record the intent of {step}, so it was not sent: {e}");
            // A rescued outcome is kept (the next command pushes it): only this step failed.
            let outcome_kept = matches!(e, state::StateError::Rescued { .. });
            return Err(if had_outcome && !outcome_kept {
                Result_::Uncertain {
                    step: step.clone(),
                    reason: format!("{message}; the step before it was done but its outcome could not be recorded either"),
                }
            } else {
                Result_::Failed {
                    step: step.clone(),
                    class: None,
                    code: "journal".into(),
                    message,
                    request_id: None,
                }
            });
        }
        Ok(permits)
    }

    async fn record_outcome(&self, outcome: Entry, next: &Step) -> Result<(), Result_> {
        self.shared.journal.record(outcome).await.map_err(|e| Result_::Uncertain {
            step: next.clone(),
            reason: format!("the outcome of the step before {next} could not be recorded ({e}); nothing more was sent"),
        })
    }

    fn try_permits(&self) -> Option<Permits> {
        let global = Arc::clone(&self.shared.global).try_acquire_owned().ok()?;
        let provider = Arc::clone(&self.provider).try_acquire_owned().ok()?;
        Some(Permits {
            _global: global,
            _provider: provider,
        })
    }

    async fn permits(&self) -> Option<Permits> {
        let global = Arc::clone(&self.shared.global).acquire_owned().await.ok()?;
        let provider = Arc::clone(&self.provider).acquire_owned().await.ok()?;
        Some(Permits {
            _global: global,
            _provider: provider,
        })
    }

    /// Sends one request under the gate and `permits`, and lets them go once it is answered.
    async fn send(&self, op: Op, r: &TaskRun, request: &Request, permits: Permits) -> Delivery {
        let delivery = self
            .shared
            .transport
            .send(op, r.vendor, request, &r.base_url, &self.shared.cancel)
            .await;
        self.gate.learn(&delivery);
        // The answer is in: the next request may start while this outcome is made durable
        // (both ride the same group commit), which keeps the sync off the critical path.
        drop(permits);
        delivery
    }

    fn note(&self, name: &str, step: &Step) {
        let _ = self.tx.send(Event::Step(StepDone {
            name: name.to_string(),
            step: step.clone(),
        }));
    }

    async fn steps(&self, r: &mut TaskRun, progress: &mut Progress) -> Result_ {
        let mut outcome: Option<(Step, Entry)> = None;
        let result = self.steps_inner(r, progress, &mut outcome).await;
        if let Some((step, o)) = outcome.take() {
            if let Err(e) = self.shared.journal.record(o).await {
                // The intent is durable but the answer is not: the fold makes the step
                // uncertain, which is what the user must be told, whatever the vendor said.
                return Result_::Uncertain {
                    reason: match (&step, &progress.task_id) {
                        (Step::Create, Some(id)) => format!("the vendor created task {id}, but callform could not record it ({e}); import it with `callform state import {} {id}`", r.name),
                        _ => format!("{step} was done, but its outcome could not be recorded: {e}"),
                    },
                    step,
                };
            }
        }
        result
    }

    async fn steps_inner(
        &self,
        r: &mut TaskRun,
        progress: &mut Progress,
        outcome: &mut Option<(Step, Entry)>,
    ) -> Result_ {
        if let Some(create) = r.create.take() {
            let step = Step::Create;
            let probe = self.gate.enter().await;
            let intent = Entry::Intent {
                name: r.name.clone(),
                vendor: r.vendor.key().to_string(),
                provider: r.provider.clone(),
                endpoint: r.endpoint.clone(),
                spec_digest: create.spec_digest.clone(),
                canonical_version: CANONICAL_VERSION,
                spec: create.spec.clone(),
                at: state::now_rfc3339(),
                replaces: create.replaces.clone(),
                batch: create.batch.clone(),
                start: create.start,
            };
            let permits = match self.open(&step, outcome, intent).await {
                Ok(p) => p,
                Err(result) => return result,
            };
            let delivery = self.send(Op::Create, r, &create.request, permits).await;
            drop(probe);
            self.note(&r.name, &step);
            match create_ended(&r.name, delivery) {
                CreateEnded::Done(entry, task_id, request_id, warnings) => {
                    progress.task_id = Some(task_id);
                    progress.created = true;
                    progress.request_id = request_id;
                    progress.warnings.extend(warnings);
                    if let Some(b) = &create.batch {
                        progress.batches += 1;
                        progress.rows += u64::from(b.n);
                    }
                    progress.started |= create.start;
                    *outcome = Some((step, entry));
                }
                CreateEnded::Stop(entry, result) => {
                    *outcome = entry.map(|e| (step, e));
                    return result;
                }
            }
        }
        let Some(task_id) = progress.task_id.clone() else {
            return Result_::Failed {
                step: Step::Create,
                class: None,
                code: "no_task_id".into(),
                message: "no vendor task id is known for the task".into(),
                request_id: None,
            };
        };
        // An update first: what follows acts on the task as the manifest has it now.
        if let Some(update) = r.update.take() {
            if let Err(result) = self.update(r, update, progress, outcome).await {
                return result;
            }
        }
        // A pause or a stop first: some vendors take callees only from a paused task, and
        // nothing is loaded into one being stopped.
        if r.verb
            .as_ref()
            .is_some_and(|v| v.verb != driver::Verb::Resume)
        {
            if let Some(verb) = r.verb.take() {
                if let Err(result) = self.verb(r, verb, progress, outcome).await {
                    return result;
                }
            }
        }
        if let Some(mut load) = r.load.take() {
            let mut rows = load
                .list
                .stream(to_usize(load.first_row), load.batch_rows as usize);
            let mut i = load.first_batch;
            let mut offset = load.first_row;
            let end = load.first_row + load.rows;
            let fps = load.list.fingerprints();
            while offset < end {
                let want = (end - offset).min(u64::from(load.batch_rows));
                let step = Step::Batch {
                    i,
                    first_row: offset,
                    n: u32::try_from(want).unwrap_or(u32::MAX),
                };
                let batch: Vec<Row> = match rows.recv().await {
                    Some(Ok(batch)) if batch.len() as u64 == want => batch,
                    Some(Ok(_)) | None => {
                        return Result_::Failed {
                            step,
                            class: None,
                            code: "callees".into(),
                            message: "the callee list has fewer rows than when it was planned: validate and plan again; nothing more was sent".into(),
                            request_id: None,
                        }
                    }
                    Some(Err(e)) => {
                        return Result_::Failed {
                            step,
                            class: None,
                            code: "callees".into(),
                            message: format!("{e}; nothing more was sent"),
                            request_id: None,
                        }
                    }
                };
                let Some(task) = r.task.as_deref() else {
                    return Result_::Failed {
                        step,
                        class: None,
                        code: "build".into(),
                        message: "no manifest for the task's callees; nothing was sent".into(),
                        request_id: None,
                    };
                };
                let request =
                    match driver::build_load(task, &task_id, &load.list.columns, &batch, &r.cx) {
                        Ok(req) => req,
                        Err(e) => {
                            return Result_::Failed {
                                step,
                                class: None,
                                code: "build".into(),
                                message: format!("{e}; nothing was sent"),
                                request_id: None,
                            }
                        }
                    };
                drop(batch);
                let at = to_usize(offset);
                for fp in &fps[at..at + to_usize(want)] {
                    load.through.push(fp);
                }
                let n = u32::try_from(want).unwrap_or(u32::MAX);
                let intent = Entry::Batch {
                    name: r.name.clone(),
                    i,
                    offset,
                    n,
                    through: load.through.at(),
                    at: state::now_rfc3339(),
                };
                let probe = self.gate.enter().await;
                let permits = match self.open(&step, outcome, intent).await {
                    Ok(p) => p,
                    Err(result) => return result,
                };
                let delivery = self
                    .send(Op::LoadCallees { rows: n }, r, &request, permits)
                    .await;
                drop(probe);
                self.note(&r.name, &step);
                let ended = step_ended(&step, delivery, |outcome| Entry::BatchOutcome {
                    name: r.name.clone(),
                    i,
                    at: state::now_rfc3339(),
                    outcome,
                });
                match ended {
                    Ended::Done(entry) => {
                        if let Entry::BatchOutcome {
                            outcome: StepOutcome::Done { warnings, .. },
                            ..
                        } = &entry
                        {
                            progress
                                .warnings
                                .extend(warnings.iter().map(|w| format!("batch {i}: {w}")));
                        }
                        progress.batches += 1;
                        progress.rows += want;
                        *outcome = Some((step, entry));
                    }
                    Ended::Stop(entry, result) => {
                        *outcome = entry.map(|e| (step, e));
                        return result;
                    }
                }
                i += 1;
                offset += want;
            }
        }
        if let Some(start) = r.start.take() {
            let step = Step::Start;
            let built = match r.task.as_deref() {
                Some(task) => driver::build_start(task, &task_id, &r.cx),
                None => Ok(None),
            };
            let request = match built {
                Ok(Some(req)) => req,
                Ok(None) => {
                    return Result_::Failed {
                        step,
                        class: None,
                        code: "build".into(),
                        message:
                            "the vendor's tasks are not started by a request; nothing was sent"
                                .into(),
                        request_id: None,
                    }
                }
                Err(e) => {
                    return Result_::Failed {
                        step,
                        class: None,
                        code: "build".into(),
                        message: format!("{e}; nothing was sent"),
                        request_id: None,
                    }
                }
            };
            let intent = Entry::Start {
                name: r.name.clone(),
                at: state::now_rfc3339(),
                how: start.how.clone(),
            };
            let probe = self.gate.enter().await;
            let permits = match self.open(&step, outcome, intent).await {
                Ok(p) => p,
                Err(result) => return result,
            };
            let delivery = self.send(Op::Start, r, &request, permits).await;
            drop(probe);
            self.note(&r.name, &step);
            match step_ended(&step, delivery, |outcome| Entry::StartOutcome {
                name: r.name.clone(),
                at: state::now_rfc3339(),
                outcome,
            }) {
                Ended::Done(entry) => {
                    progress.started = true;
                    *outcome = Some((step, entry));
                }
                Ended::Stop(entry, result) => {
                    *outcome = entry.map(|e| (step, e));
                    return result;
                }
            }
        }
        if let Some(verb) = r.verb.take() {
            if let Err(result) = self.verb(r, verb, progress, outcome).await {
                return result;
            }
        }
        // Last, and only here: every step before it is done (each returns above when not).
        if let Some(old) = r.supersede.take() {
            if let Err(result) = self.stop_superseded(r, old, progress, outcome).await {
                return result;
            }
        }
        Result_::Done
    }

    /// Sends an update in place: its intent (with the spec it carries) durable first, its
    /// outcome after. An unknown outcome leaves the update pending, never sent again.
    async fn update(
        &self,
        r: &TaskRun,
        update: UpdateRun,
        progress: &mut Progress,
        outcome: &mut Option<(Step, Entry)>,
    ) -> Result<(), Result_> {
        let step = Step::Update;
        let intent = Entry::Update {
            name: r.name.clone(),
            spec_digest: update.spec_digest.clone(),
            canonical_version: CANONICAL_VERSION,
            spec: update.spec.clone(),
            at: state::now_rfc3339(),
        };
        let probe = self.gate.enter().await;
        let permits = self.open(&step, outcome, intent).await?;
        let delivery = self.send(Op::Update, r, &update.request, permits).await;
        drop(probe);
        self.note(&r.name, &step);
        match step_ended(&step, delivery, |o| Entry::UpdateOutcome {
            name: r.name.clone(),
            at: state::now_rfc3339(),
            outcome: o,
        }) {
            Ended::Done(entry) => {
                progress.updated = true;
                *outcome = Some((step, entry));
                Ok(())
            }
            Ended::Stop(entry, result) => {
                *outcome = entry.map(|e| (step, e));
                Err(result)
            }
        }
    }

    /// Stops the task a replacement superseded: its intent durable first, its outcome
    /// after, both under the new task's name and naming the old id, so that the fold puts
    /// them on the superseded entry. An unknown outcome is never sent again.
    async fn stop_superseded(
        &self,
        r: &TaskRun,
        old: SupersedeRun,
        progress: &mut Progress,
        outcome: &mut Option<(Step, Entry)>,
    ) -> Result<(), Result_> {
        let step = Step::StopSuperseded(old.task_id.clone());
        let intent = Entry::SupersededStop {
            name: r.name.clone(),
            task_id: old.task_id.clone(),
            how: old.how.clone(),
            at: state::now_rfc3339(),
        };
        let probe = self.gate.enter().await;
        let permits = self.open(&step, outcome, intent).await?;
        let delivery = self
            .send(Op::Verb(driver::Verb::Stop), r, &old.request, permits)
            .await;
        drop(probe);
        self.note(&r.name, &step);
        match step_ended(&step, delivery, |o| Entry::SupersededStopOutcome {
            name: r.name.clone(),
            task_id: old.task_id.clone(),
            at: state::now_rfc3339(),
            outcome: o,
        }) {
            Ended::Done(entry) => {
                progress.stopped_superseded = Some(old.task_id.clone());
                *outcome = Some((step, entry));
                Ok(())
            }
            Ended::Stop(entry, result) => {
                *outcome = entry.map(|e| (step, e));
                Err(result)
            }
        }
    }

    /// Sends a pause, resume or stop: its intent durable first, its outcome after. An
    /// unknown outcome stops the task; it is settled by reading the task back, never by
    /// sending the verb again.
    async fn verb(
        &self,
        r: &TaskRun,
        verb: VerbRun,
        progress: &mut Progress,
        outcome: &mut Option<(Step, Entry)>,
    ) -> Result<(), Result_> {
        let step = Step::Verb(verb.verb);
        let intent = Entry::Verb {
            name: r.name.clone(),
            verb: verb.verb,
            how: verb.how.clone(),
            at: state::now_rfc3339(),
        };
        let probe = self.gate.enter().await;
        let permits = self.open(&step, outcome, intent).await?;
        let delivery = self
            .send(Op::Verb(verb.verb), r, &verb.request, permits)
            .await;
        drop(probe);
        self.note(&r.name, &step);
        match step_ended(&step, delivery, |o| Entry::VerbOutcome {
            name: r.name.clone(),
            verb: verb.verb,
            at: state::now_rfc3339(),
            outcome: o,
        }) {
            Ended::Done(entry) => {
                progress.verb = Some(verb.verb);
                *outcome = Some((step, entry));
                Ok(())
            }
            Ended::Stop(entry, result) => {
                *outcome = entry.map(|e| (step, e));
                Err(result)
            }
        }
    }
}

/// How a create ended, once its answer is read.
enum CreateEnded {
    /// Created: the outcome to record, the id, the request id, the warnings.
    Done(Entry, String, Option<String>, Vec<String>),
    /// Not created (or not known to be): record the outcome and stop the task.
    Stop(Option<Entry>, Result_),
}

/// Reads a create's delivery: the outcome to record and the id, or why the task stops.
fn create_ended(name: &str, delivery: Delivery) -> CreateEnded {
    let entry = |outcome| Entry::Outcome {
        name: name.to_string(),
        at: state::now_rfc3339(),
        outcome,
    };
    let step = Step::Create;
    match delivery {
        Delivery::Answered {
            parsed:
                Parsed::Created {
                    task_id,
                    request_id,
                    warnings,
                },
            ..
        } => CreateEnded::Done(
            entry(Outcome::Created {
                task_id: task_id.clone(),
                request_id: request_id.clone(),
                warnings: warnings.clone(),
            }),
            task_id,
            request_id,
            warnings,
        ),
        Delivery::Answered {
            parsed:
                Parsed::Rejected {
                    class,
                    code,
                    message,
                    request_id,
                },
            ..
        } => CreateEnded::Stop(
            Some(entry(Outcome::Failed {
                code: code.clone(),
                message: message.clone(),
            })),
            Result_::Failed {
                step,
                class: Some(class),
                code,
                message,
                request_id,
            },
        ),
        Delivery::Answered {
            parsed: Parsed::Uncertain { reason, .. },
            ..
        } => uncertain_create(
            entry,
            format!("the vendor's answer does not say the task was not created: {reason}"),
        ),
        // A create's answer is never read as a step's: no id, so it may exist.
        Delivery::Answered {
            parsed: Parsed::Done { .. } | Parsed::Read { .. },
            ..
        } => uncertain_create(
            entry,
            "the vendor's answer to the create carries no task id".into(),
        ),
        Delivery::NotSent { reason, attempts } => {
            let message =
                format!("{reason} (after {attempts} attempt(s); nothing reached the vendor)");
            CreateEnded::Stop(
                Some(entry(Outcome::Failed {
                    code: "not_sent".into(),
                    message: message.clone(),
                })),
                Result_::Failed {
                    step,
                    class: None,
                    code: "not_sent".into(),
                    message,
                    request_id: None,
                },
            )
        }
        Delivery::Uncertain { reason, .. } => uncertain_create(
            entry,
            format!("no answer was read after the request was sent: {reason}"),
        ),
    }
}

fn uncertain_create(entry: impl Fn(Outcome) -> Entry, reason: String) -> CreateEnded {
    CreateEnded::Stop(
        Some(entry(Outcome::Uncertain {
            reason: reason.clone(),
        })),
        Result_::Uncertain {
            step: Step::Create,
            reason,
        },
    )
}

/// Reads a batch's or a start's delivery: the outcome to record, and whether the task
/// goes on. A refusal for the task's state at the vendor is kept (`hold`): nothing was
/// done, but a person must act before the step is sent again.
fn step_ended(step: &Step, delivery: Delivery, entry: impl Fn(StepOutcome) -> Entry) -> Ended {
    let what = match step {
        Step::Start => "the task was not started",
        Step::Verb(driver::Verb::Pause) => "the task was not paused",
        Step::Verb(driver::Verb::Resume) => "the task was not resumed",
        Step::Verb(driver::Verb::Stop) => "the task was not stopped",
        Step::StopSuperseded(_) => "the superseded task was not stopped",
        Step::Update => "the task was not updated",
        _ => "the batch was not loaded",
    };
    match delivery {
        Delivery::Answered {
            parsed:
                Parsed::Done {
                    request_id,
                    warnings,
                },
            ..
        } => Ended::Done(entry(StepOutcome::Done {
            request_id,
            warnings,
        })),
        Delivery::Answered {
            parsed:
                Parsed::Rejected {
                    class,
                    code,
                    message,
                    request_id,
                },
            ..
        } => Ended::Stop(
            Some(entry(StepOutcome::Failed {
                code: code.clone(),
                message: message.clone(),
                hold: class == ErrorClass::TaskState,
            })),
            Result_::Failed {
                step: step.clone(),
                class: Some(class),
                code,
                message,
                request_id,
            },
        ),
        Delivery::Answered {
            parsed: Parsed::Uncertain { reason, .. },
            ..
        } => uncertain_step(
            step,
            &entry,
            format!("the vendor's answer does not say {what}: {reason}"),
        ),
        Delivery::Answered {
            parsed: Parsed::Created { .. } | Parsed::Read { .. },
            ..
        } => uncertain_step(
            step,
            &entry,
            "the vendor answered as to another request".into(),
        ),
        Delivery::NotSent { reason, attempts } => {
            let message =
                format!("{reason} (after {attempts} attempt(s); nothing reached the vendor)");
            Ended::Stop(
                Some(entry(StepOutcome::Failed {
                    code: "not_sent".into(),
                    message: message.clone(),
                    hold: false,
                })),
                Result_::Failed {
                    step: step.clone(),
                    class: None,
                    code: "not_sent".into(),
                    message,
                    request_id: None,
                },
            )
        }
        Delivery::Uncertain { reason, .. } => uncertain_step(
            step,
            &entry,
            format!("no answer was read after the request was sent: {reason}"),
        ),
    }
}

fn uncertain_step(step: &Step, entry: &impl Fn(StepOutcome) -> Entry, reason: String) -> Ended {
    Ended::Stop(
        Some(entry(StepOutcome::Uncertain {
            reason: reason.clone(),
        })),
        Result_::Uncertain {
            step: step.clone(),
            reason,
        },
    )
}

/// A provider whose preflight read failed: nothing of the apply is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightFailed {
    pub provider: String,
    pub vendor: Vendor,
    /// What happened (the vendor's refusal, or why no answer came).
    pub reason: String,
    /// The vendor refused the credentials (rather than the read failing otherwise).
    pub auth: bool,
}

/// Preflight: before the first mutating request, one read-only request per provider in
/// `runs` (a lookup by name, page 1: the cheapest read every vendor has) proves that its
/// credentials and endpoint work. Any provider whose read is not answered as a read — its
/// credentials refused, a network error, a timeout, any other refusal — fails the whole
/// apply, before anything is journalled or sent. Reads are idempotent: the transport
/// retries them by their policy.
pub async fn preflight(
    runs: &[TaskRun],
    transport: &Transport,
    cancel: &AtomicBool,
) -> Result<(), Vec<PreflightFailed>> {
    let mut seen: Vec<&str> = Vec::new();
    let mut failures = Vec::new();
    // A handful of providers, read one after the other: the time is a few round trips.
    for r in runs {
        if seen.contains(&r.provider.as_str()) {
            continue;
        }
        seen.push(&r.provider);
        let failed = |reason: String, auth: bool| PreflightFailed {
            provider: r.provider.clone(),
            vendor: r.vendor,
            reason,
            auth,
        };
        // Any name proves the credentials; a stop of a task no longer in the manifests
        // has only callform's name for it.
        let name = r.task.as_ref().map_or(r.name.as_str(), |t| t.vendor_name());
        let request = match driver::build_find(r.vendor, name, 1, &r.cx) {
            Ok(req) => req,
            Err(e) => {
                failures.push(failed(e.to_string(), false));
                continue;
            }
        };
        let delivery = transport
            .send(
                Op::Find { page: 1 },
                r.vendor,
                &request,
                &r.base_url,
                cancel,
            )
            .await;
        let failure = match delivery {
            Delivery::Answered {
                parsed: Parsed::Read { .. },
                ..
            } => continue,
            Delivery::Answered {
                parsed:
                    Parsed::Rejected {
                        class,
                        code,
                        message,
                        ..
                    },
                status,
                ..
            } => failed(
                format!("HTTP {status}, refused with {code}: {message}"),
                class == ErrorClass::Auth,
            ),
            Delivery::Answered { status, .. } => failed(
                format!("HTTP {status}, an answer that is not a listing's"),
                false,
            ),
            Delivery::NotSent { reason, .. } | Delivery::Uncertain { reason, .. } => {
                failed(reason, false)
            }
        };
        failures.push(failure);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}
