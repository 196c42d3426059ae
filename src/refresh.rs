//! Reading the vendors' truth back: every task in state, asked of its vendor.
//!
//! [`read_all`] sends one `Op::Query` per created task (and one `Op::Find` by
//! vendor-visible name per uncertain create), at most `parallelism` at a time and, per
//! vendor, no faster than its documented read rate ([`crate::driver::read_qps`]): reads
//! are idempotent, so the transport retries them, and a pace kept here means the vendor's
//! throttling is the exception, not the rule. Nothing here writes: [`drift`] compares
//! what was read with the state and the manifests, and [`record`] is what `refresh
//! --write` (and `plan --refresh`, in memory) does with it.
//!
//! A task the vendor no longer knows is reported (`Read::Gone`), never dropped; a read
//! that failed is `Read::Failed`, never taken for "gone".

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::driver::{self, Lifecycle, Observed, Op, Parsed};
use crate::manifest::{RunStatus, Task, Vendor};
use crate::state::model::PendingState;
use crate::state::{ObservedRecord, RunState, State, TaskRecord, TaskStatus};
use crate::transport::{Delivery, Transport};

/// One task to read back.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    /// The created task's id; `None` for an uncertain create (looked up by name).
    pub task_id: Option<String>,
    /// The vendor-visible name, for a lookup (from the manifest: `None` for a task no
    /// longer in the manifests).
    pub visible_name: Option<String>,
}

/// What the vendor said of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "read", rename_all = "snake_case")]
pub enum Read {
    /// The task, as the vendor reported it.
    Found { observed: Observed },
    /// The vendor answered and does not know the task (or reports it deleted).
    Gone { detail: String },
    /// An uncertain create looked up by name: the tasks whose name is exactly its
    /// vendor-visible name (possibly none), and whether the vendor's listing makes "none"
    /// a proof.
    Lookup {
        candidates: Vec<Observed>,
        authoritative: bool,
    },
    /// The read failed: nothing is known.
    Failed { reason: String },
}

/// One target's read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(flatten)]
    pub read: Read,
}

/// The targets of a state: every created task (by id) and every uncertain create (by name).
pub fn targets(state: &State, tasks: &HashMap<&str, &Task>) -> Vec<Target> {
    state
        .tasks
        .iter()
        .filter_map(|(name, rec)| {
            let vendor = Vendor::from_key(&rec.vendor)?;
            let visible_name = tasks
                .get(name.as_str())
                .map(|t| t.vendor_name().to_string());
            Some(Target {
                name: name.clone(),
                vendor,
                provider: rec.provider.clone(),
                task_id: match rec.status {
                    TaskStatus::Created => rec.task_id.clone(),
                    TaskStatus::Uncertain => None,
                },
                visible_name,
            })
        })
        .collect()
}

/// How a provider's requests are built and where they go.
pub type ContextFor<'a> =
    dyn Fn(&str, Vendor) -> Result<(driver::Context, String), String> + Send + Sync + 'a;

/// Reads every target back. `parallelism`: reads in flight at once, over all vendors.
pub async fn read_all(
    targets: Vec<Target>,
    transport: Arc<Transport>,
    context_for: &ContextFor<'_>,
    parallelism: usize,
    cancel: Arc<AtomicBool>,
) -> Vec<Observation> {
    let gate = Arc::new(Semaphore::new(parallelism.max(1)));
    let pacers: HashMap<Vendor, Arc<Pacer>> = Vendor::ALL
        .into_iter()
        .map(|v| (v, Arc::new(Pacer::new(driver::read_qps(v)))))
        .collect();
    let mut handles = Vec::with_capacity(targets.len());
    for target in targets {
        let built = context_for(&target.provider, target.vendor).and_then(|(cx, base)| {
            let request = match (&target.task_id, &target.visible_name) {
                (Some(id), _) => driver::build_query(target.vendor, id, &cx),
                (None, Some(visible)) => driver::build_find(target.vendor, visible, 1, &cx),
                (None, None) => {
                    return Err("an uncertain create no longer in the manifests: its vendor-visible name is not known here, so it cannot be looked up (find it in the console)".into())
                }
            };
            request
                .map(|r| (r, base, cx))
                .map_err(|e| format!("provider `{}`: {e}", target.provider))
        });
        let (request, base, cx) = match built {
            Ok(b) => b,
            Err(reason) => {
                let who = target.clone();
                handles.push((
                    who,
                    tokio::spawn(async move { observation(target, Read::Failed { reason }) }),
                ));
                continue;
            }
        };
        let gate = Arc::clone(&gate);
        let pacer = Arc::clone(&pacers[&target.vendor]);
        let transport = Arc::clone(&transport);
        let cancel = Arc::clone(&cancel);
        let who = target.clone();
        handles.push((
            who,
            tokio::spawn(async move {
                // A query waits for its vendor's slot before it takes a place in flight, so
                // that reads paced by a slow vendor never hold the places a fast one could
                // use: each vendor's reads go at its own rate, side by side.
                if target.task_id.is_some() {
                    pacer.wait().await;
                }
                let Ok(_permit) = gate.acquire_owned().await else {
                    return observation(
                        target,
                        Read::Failed {
                            reason: "stopped".into(),
                        },
                    );
                };
                let read = match &target.task_id {
                    Some(id) => {
                        pacer.space().await;
                        let op = Op::Query;
                        let d = transport
                            .send(op, target.vendor, &request, &base, &cancel)
                            .await;
                        query_read(d, id)
                    }
                    None => lookup(&target, request, &base, &cx, &transport, &pacer, &cancel).await,
                };
                observation(target, read)
            }),
        ));
    }
    let mut out = Vec::with_capacity(handles.len());
    for (who, h) in handles {
        match h.await {
            Ok(o) => out.push(o),
            // A read task that panicked is a bug; it is never taken for an answer.
            Err(e) => out.push(observation(
                who,
                Read::Failed {
                    reason: format!("internal error: {e}"),
                },
            )),
        }
    }
    out
}

fn observation(target: Target, read: Read) -> Observation {
    Observation {
        name: target.name,
        vendor: target.vendor,
        provider: target.provider,
        task_id: target.task_id,
        read,
    }
}

/// Most pages a lookup reads [choice]: a name that matches more than this many pages of
/// tasks is not one callform's lookup can settle; it stays uncertain.
const MAX_LOOKUP_PAGES: u32 = 20;

/// Looks an uncertain create up by its vendor-visible name, comparing names exactly.
async fn lookup(
    target: &Target,
    first: driver::Request,
    base: &str,
    cx: &driver::Context,
    transport: &Transport,
    pacer: &Pacer,
    cancel: &AtomicBool,
) -> Read {
    let visible = target.visible_name.as_deref().unwrap_or_default();
    let mut candidates = Vec::new();
    let mut request = first;
    let mut page = 1;
    loop {
        pacer.wait().await;
        pacer.space().await;
        let d = transport
            .send(Op::Find { page }, target.vendor, &request, base, cancel)
            .await;
        let listing = match d {
            Delivery::Answered {
                parsed: Parsed::Read { listing, .. },
                ..
            } => listing,
            other => {
                return Read::Failed {
                    reason: format!("the lookup by name failed: {}", failure(other)),
                }
            }
        };
        candidates.extend(
            listing
                .tasks
                .into_iter()
                .filter(|t| t.name.as_deref() == Some(visible)),
        );
        if !listing.more {
            break;
        }
        page += 1;
        if page > MAX_LOOKUP_PAGES {
            return Read::Failed {
                reason: format!(
                    "the lookup by name matched more than {MAX_LOOKUP_PAGES} pages of tasks: it cannot settle which one is this task"
                ),
            };
        }
        request = match driver::build_find(target.vendor, visible, page, cx) {
            Ok(r) => r,
            Err(e) => return Read::Failed { reason: e.0 },
        };
    }
    Read::Lookup {
        candidates,
        authoritative: driver::find_is_authoritative(target.vendor),
    }
}

/// A query's delivery, read for the task `id`.
fn query_read(d: Delivery, id: &str) -> Read {
    match d {
        Delivery::Answered {
            parsed: Parsed::Read { listing, .. },
            ..
        } => match listing.tasks.into_iter().find(|t| t.task_id == id) {
            Some(o) if o.status == Lifecycle::Deleted => Read::Gone {
                detail: format!("the vendor reports it deleted ({})", o.raw),
            },
            Some(observed) => Read::Found { observed },
            None => Read::Gone {
                detail: "the vendor's answer does not list it".into(),
            },
        },
        other => Read::Failed {
            reason: failure(other),
        },
    }
}

fn failure(d: Delivery) -> String {
    match d {
        Delivery::Answered { parsed, status, .. } => match parsed {
            Parsed::Rejected { code, message, .. } => {
                format!("HTTP {status}, refused with {code}: {message}")
            }
            Parsed::Uncertain { reason, .. } => reason,
            _ => format!("HTTP {status}, an answer that is not a read's"),
        },
        Delivery::NotSent { reason, .. } | Delivery::Uncertain { reason, .. } => reason,
    }
}

/// Spaces the reads of one vendor at its documented rate.
struct Pacer {
    next: Mutex<Instant>,
    /// When the last read left: reads that waited for a place in flight past their slots
    /// still leave one `every` apart, never in a burst.
    sent: Mutex<Option<Instant>>,
    every: Duration,
}

impl Pacer {
    fn new(qps: u32) -> Pacer {
        Pacer {
            next: Mutex::new(Instant::now()),
            sent: Mutex::new(None),
            every: Duration::from_secs(1) / qps.max(1),
        }
    }

    /// Waits until one `every` has passed since the last read left, then counts this one
    /// as leaving.
    async fn space(&self) {
        let mut sent = self.sent.lock().await;
        if let Some(last) = *sent {
            tokio::time::sleep_until(last + self.every).await;
        }
        *sent = Some(Instant::now());
    }

    /// Waits for this read's slot.
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.every;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One difference between the vendor and what callform recorded or wants.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftItem {
    /// The vendor's status is not the one callform left the task in.
    Status {
        recorded: Lifecycle,
        vendor: Lifecycle,
        raw: String,
    },
    /// The manifest wants another status than the vendor's.
    Wanted { wanted: String, vendor: Lifecycle },
    /// A managed field differs (values as JSON).
    Field {
        field: String,
        recorded: serde_json::Value,
        vendor: serde_json::Value,
    },
    /// The vendor no longer knows the task.
    Gone { detail: String },
}

/// The status callform last left a task in, by its record.
pub fn recorded_status(rec: &TaskRecord) -> Lifecycle {
    match rec.run.as_ref().map(|r| r.state) {
        None | Some(RunState::NotStarted) => Lifecycle::NotStarted,
        Some(RunState::Started) => Lifecycle::Running,
        Some(RunState::Paused) => Lifecycle::Paused,
        Some(RunState::Stopped) => Lifecycle::Stopped,
        Some(RunState::InFlight | RunState::Uncertain) => Lifecycle::Unknown,
    }
}

/// Whether the vendor moving a task from `recorded` to `vendor` is its own course (a
/// running task finishes), or the same state in the vendor's words (longlonglong has no
/// "not started": a task never started reads as paused), not a change behind callform's
/// back.
fn natural(recorded: Lifecycle, vendor: Lifecycle) -> bool {
    recorded == vendor
        || recorded == Lifecycle::Unknown
        || vendor == Lifecycle::Unknown
        || (recorded == Lifecycle::Running && vendor == Lifecycle::Finished)
        || (recorded == Lifecycle::NotStarted && vendor == Lifecycle::Paused)
}

/// Whether a manifest status is met by the vendor's.
fn meets(wanted: RunStatus, vendor: Lifecycle) -> bool {
    if vendor == Lifecycle::Unknown {
        // Nothing can be said of a value the vendor's pages do not explain.
        return true;
    }
    match wanted {
        RunStatus::Running => matches!(vendor, Lifecycle::Running | Lifecycle::Finished),
        RunStatus::Paused => !matches!(vendor, Lifecycle::Running),
        RunStatus::Stopped => vendor.is_final(),
    }
}

/// The drift of one observation against its record and (when still in the manifests)
/// its task.
pub fn drift(o: &Observation, rec: &TaskRecord, task: Option<&Task>) -> Vec<DriftItem> {
    let mut out = Vec::new();
    match &o.read {
        Read::Gone { detail } => out.push(DriftItem::Gone {
            detail: detail.clone(),
        }),
        Read::Found { observed } => {
            let recorded = recorded_status(rec);
            if !natural(recorded, observed.status) {
                out.push(DriftItem::Status {
                    recorded,
                    vendor: observed.status,
                    raw: observed.raw.clone(),
                });
            }
            if let Some(task) = task {
                if !meets(task.status, observed.status) {
                    out.push(DriftItem::Wanted {
                        wanted: task.status.key().to_string(),
                        vendor: observed.status,
                    });
                }
            }
            let form = rec.spec.value();
            for (field, value) in &observed.fields {
                let recorded = &form["spec"][field.as_str()];
                if !recorded.is_null() && recorded != value {
                    out.push(DriftItem::Field {
                        field: field.clone(),
                        recorded: recorded.clone(),
                        vendor: value.clone(),
                    });
                }
            }
        }
        Read::Lookup { .. } | Read::Failed { .. } => {}
    }
    out
}

/// Records what was read into `state` (what `refresh --write` saves): each found task's
/// status; a gone task as `deleted`; a start or verb whose outcome was unknown, settled
/// when the vendor's status proves it one way or the other; and an uncertain callee batch
/// the vendor's count proves loaded ([`settle_batch`]). Returns the names whose uncertain
/// run or batch was settled.
pub fn record(state: &mut State, observations: &[Observation], at: &str) -> Vec<String> {
    let mut settled = Vec::new();
    for o in observations {
        let Some(rec) = state.tasks.get_mut(&o.name) else {
            continue;
        };
        let (status, raw, called, total) = match &o.read {
            Read::Found { observed } => (
                observed.status,
                observed.raw.clone(),
                observed.called,
                observed.total,
            ),
            Read::Gone { detail } => (Lifecycle::Deleted, detail.clone(), None, None),
            Read::Lookup { .. } | Read::Failed { .. } => continue,
        };
        rec.observed = Some(ObservedRecord {
            status,
            raw,
            at: at.to_string(),
            called,
            total,
        });
        let run = settle_run(rec, status, at);
        let batch = settle_batch(rec);
        if run || batch {
            settled.push(o.name.clone());
        }
    }
    settled
}

/// Settles an uncertain callee batch by the callees the vendor reports the task holds
/// (`observed.total`: xfyeta `count_tel`, longlonglong `number_count`, Volcengine
/// `ListNum`; Aliyun's detail reports none), as a `batch_outcome` done would: proven loaded
/// only when the count is exactly the rows recorded before it plus its rows — a batch
/// the vendor took only in part, or a count that moved for any other reason, proves
/// nothing and stays for a person (`state batch`). *Never proven not loaded* \[choice\]:
/// no vendor page says its count is updated synchronously with a load, so a count of the
/// rows before may be a load not counted yet. A batch that rode in a create is settled
/// only once the task itself is created (adopted, or imported). Returns whether it
/// settled one.
pub fn settle_batch(rec: &mut TaskRecord) -> bool {
    if rec.status != TaskStatus::Created {
        return false;
    }
    let Some(observed) = rec.observed.clone() else {
        return false;
    };
    let Some(total) = observed.total else {
        return false;
    };
    let Some(progress) = rec.callees.as_mut() else {
        return false;
    };
    let Some(pending) = progress
        .pending
        .take_if(|p| p.state == PendingState::Uncertain && p.offset == progress.rows)
    else {
        return false;
    };
    if total != progress.rows + u64::from(pending.n) {
        progress.pending = Some(pending);
        return false;
    }
    let why = format!(
        "batch {} settled as loaded by reading the task back at {}: the vendor reports {total} callees, the rows before it plus its {}",
        pending.i, observed.at, pending.n
    );
    progress.mark_loaded(pending, &mut rec.warnings, why);
    true
}

/// Settles an uncertain start or verb by the vendor's status, where it proves the outcome:
/// the status the request would leave (done), or the one it started from (not done).
fn settle_run(rec: &mut TaskRecord, vendor: Lifecycle, at: &str) -> bool {
    let Some(run) = rec.run.as_mut().filter(|r| r.state == RunState::Uncertain) else {
        return false;
    };
    let (done, left, before) = match run.verb {
        None => (
            matches!(vendor, Lifecycle::Running | Lifecycle::Finished),
            RunState::Started,
            RunState::NotStarted,
        ),
        Some(verb) => (
            vendor == verb.leaves()
                || (verb == driver::Verb::Resume && vendor == Lifecycle::Finished)
                // A stop is done once the task can never dial again: xfyeta's stop is
                // `task/delete`, and a task that finished meanwhile needs no stop.
                || (verb == driver::Verb::Stop
                    && matches!(vendor, Lifecycle::Deleted | Lifecycle::Finished)),
            match verb {
                driver::Verb::Pause => RunState::Paused,
                driver::Verb::Resume => RunState::Started,
                driver::Verb::Stop => RunState::Stopped,
            },
            run.before.unwrap_or(RunState::NotStarted),
        ),
    };
    // A start reported "not started" may be a start scheduled for later (Aliyun's
    // `ScheduleTime`): it is never taken for proof that the start did not arrive.
    let not_done = match run.verb {
        None => false,
        Some(driver::Verb::Pause) => vendor == Lifecycle::Running,
        Some(driver::Verb::Resume) => vendor == Lifecycle::Paused,
        Some(driver::Verb::Stop) => matches!(
            vendor,
            Lifecycle::Running | Lifecycle::Paused | Lifecycle::NotStarted
        ),
    };
    if done {
        run.state = left;
    } else if not_done {
        run.state = before;
    } else {
        return false;
    }
    run.reason = Some(format!(
        "settled by reading the task back at {at}: the vendor reports it {vendor}"
    ));
    run.at = at.to_string();
    run.verb = None;
    run.before = None;
    true
}
