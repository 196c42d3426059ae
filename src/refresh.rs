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

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::driver::{self, Lifecycle, Observed, Op, Parsed};
use crate::manifest::{RunStatus, Task, Vendor};
use crate::state::model::PendingState;
use crate::state::{ObservedRecord, RunRecord, RunState, State, TaskRecord, TaskStatus};
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
    /// An uncertain callee batch to look for in the vendor's number list, where the vendor
    /// has one ([`driver::has_number_list`]).
    pub batch: Option<BatchTarget>,
    /// An update in place whose outcome is unknown, with the spec it carried (the
    /// manifest's, when its digest is the update's).
    pub update: Option<Arc<UpdateTarget>>,
    /// A task this one superseded (`--replace`) whose stop's outcome is unknown: `task_id`
    /// is the superseded task's, and the read settles that stop, nothing else.
    pub superseded: bool,
}

/// The spec an uncertain update carried: its canonical form and digest (no personal data).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateTarget {
    pub form: serde_json::Value,
    pub digest: String,
}

/// What reading a task back proved of its uncertain update: done (the vendor holds every
/// changed field's new value) or not done (every one's old value). Kept in a saved plan
/// (`updates_read`), so that its apply settles the update the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRead {
    /// The digest of the spec the update carried.
    pub spec_digest: String,
    pub done: bool,
    /// When the task was read (RFC 3339 UTC).
    pub at: String,
}

/// An uncertain callee batch of a target, as the number list is searched for it.
#[derive(Clone)]
pub enum BatchTarget {
    /// Its numbers (normalised, as loaded), read again from the manifest's callees and
    /// checked against the batch's digest: in memory only, never shown or written.
    Numbers {
        i: u32,
        numbers: Arc<std::collections::HashSet<String>>,
    },
    /// Its numbers cannot be known here (the manifest's rows are not the ones sent, or
    /// cannot be read): why.
    Unknown { i: u32, reason: String },
}

impl std::fmt::Debug for BatchTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchTarget::Numbers { i, numbers } => {
                write!(f, "BatchTarget::Numbers {{ i: {i}, n: {} }}", numbers.len())
            }
            BatchTarget::Unknown { i, reason } => {
                write!(f, "BatchTarget::Unknown {{ i: {i}, reason: {reason:?} }}")
            }
        }
    }
}

/// What the vendor's number list said of an uncertain batch: counts only, never a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCheck {
    pub batch: u32,
    /// The batch's numbers.
    pub rows: u32,
    /// How many of them the list holds.
    pub found: u32,
    /// Entries the list holds in all.
    pub listed: u64,
    /// Entries that are no full number (masked, encrypted): with any, the list cannot
    /// prove a number absent.
    pub unreadable: u64,
    /// When the list was read (RFC 3339 UTC).
    pub at: String,
}

/// The number list's read of an uncertain batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "numbers", rename_all = "snake_case")]
pub enum NumberRead {
    /// The list was read in full.
    Checked(NumberCheck),
    /// It could not be read, or the batch's numbers are not known: nothing is settled.
    Failed { batch: u32, reason: String },
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
    /// vendor-visible name (possibly none; no vendor's listing makes "none" a proof).
    Lookup { candidates: Vec<Observed> },
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
    /// The number list's read of the task's uncertain callee batch, where one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<NumberRead>,
    /// The uncertain update the read is judged against (from the target; not shown).
    #[serde(skip)]
    pub update: Option<Arc<UpdateTarget>>,
    /// A read of a task this one superseded, for its uncertain stop ([`Target::superseded`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub superseded: bool,
}

/// The targets of a state: every created task (by id), every uncertain create (by name),
/// and every superseded task whose stop's outcome is unknown (by its id). `timezone`: the
/// project's, in which the manifests' spec is made canonical.
pub fn targets(state: &State, tasks: &HashMap<&str, &Task>, timezone: &str) -> Vec<Target> {
    let mut out = own_targets(state, tasks, timezone);
    for (name, rec) in &state.tasks {
        let Some(vendor) = Vendor::from_key(&rec.vendor) else {
            continue;
        };
        for s in &rec.superseded {
            // On another endpoint than the provider's now, its id would be read elsewhere.
            if s.endpoint != rec.endpoint
                || s.run
                    .as_ref()
                    .is_none_or(|r| r.state != RunState::Uncertain)
            {
                continue;
            }
            out.push(Target {
                name: name.clone(),
                vendor,
                provider: rec.provider.clone(),
                task_id: Some(s.task_id.clone()),
                visible_name: None,
                batch: None,
                update: None,
                superseded: true,
            });
        }
    }
    out
}

fn own_targets(state: &State, tasks: &HashMap<&str, &Task>, timezone: &str) -> Vec<Target> {
    state
        .tasks
        .iter()
        .filter_map(|(name, rec)| {
            let vendor = Vendor::from_key(&rec.vendor)?;
            let visible_name = tasks
                .get(name.as_str())
                .map(|t| t.vendor_name().to_string());
            let batch = tasks
                .get(name.as_str())
                .and_then(|task| batch_target(state, name, rec, task));
            let update = rec.update.as_ref().and_then(|u| {
                let task = tasks.get(name.as_str())?;
                let canon = crate::canonical::canonical(task, timezone, &state.salt);
                (canon.digest == u.spec_digest).then(|| {
                    Arc::new(UpdateTarget {
                        form: canon.form,
                        digest: canon.digest,
                    })
                })
            });
            Some(Target {
                name: name.clone(),
                vendor,
                provider: rec.provider.clone(),
                task_id: match rec.status {
                    TaskStatus::Created => rec.task_id.clone(),
                    TaskStatus::Uncertain => None,
                },
                visible_name,
                batch,
                update,
                superseded: false,
            })
        })
        .collect()
}

/// The numbers of `rec`'s uncertain callee batch, where its vendor has a number list:
/// the manifest's rows at the batch's place, once the digest of every row up to its end
/// proves they are the rows that were sent (a list edited since would compare other
/// people's numbers).
fn batch_target(state: &State, name: &str, rec: &TaskRecord, task: &Task) -> Option<BatchTarget> {
    if rec.status != TaskStatus::Created || !driver::has_number_list(task.vendor) {
        return None;
    }
    let progress = rec.callees.as_ref()?;
    let pending = progress
        .pending
        .as_ref()
        .filter(|p| p.state == PendingState::Uncertain && !p.in_create)?;
    let i = pending.i;
    let unknown = |reason: &str| {
        Some(BatchTarget::Unknown {
            i,
            reason: reason.to_string(),
        })
    };
    let Some(list) = task.callees.as_ref() else {
        return unknown("the manifest names no callees now, so the batch's numbers are not known");
    };
    // Both numbers come from the state file: summed without overflow.
    let end = (pending.offset)
        .checked_add(u64::from(pending.n))
        .and_then(|end| usize::try_from(end).ok());
    let (Ok(offset), Some(end)) = (usize::try_from(pending.offset), end) else {
        return unknown("the batch lies beyond what this machine can address");
    };
    let Some(fps) = list.fingerprints().get(..end) else {
        return unknown("the manifest's callees are fewer than the rows sent up to this batch");
    };
    let key = crate::canonical::callees::callee_key(&state.salt);
    let keyed_as = progress.keyed_as.as_deref().unwrap_or(name);
    if crate::canonical::callees::through(&key, keyed_as, fps) != pending.through {
        return unknown("the manifest's callees up to this batch are not the rows that were sent");
    }
    match list.rows(offset, pending.n as usize) {
        Ok(rows) => Some(BatchTarget::Numbers {
            i,
            numbers: Arc::new(rows.into_iter().map(|r| r.phone).collect()),
        }),
        Err(e) => Some(BatchTarget::Unknown {
            i,
            reason: format!("the batch's rows cannot be read again: {e}"),
        }),
    }
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
                let (read, batch) = match &target.task_id {
                    Some(id) => {
                        pacer.space().await;
                        let op = Op::Query;
                        let d = transport
                            .send(op, target.vendor, &request, &base, &cancel)
                            .await;
                        let read = query_read(d, id);
                        // The number list is read only of a task the vendor still has.
                        let batch = match (&read, &target.batch) {
                            (Read::Found { .. }, Some(batch)) => Some(
                                number_list(
                                    &target, id, batch, &base, &cx, &transport, &pacer, &cancel,
                                )
                                .await,
                            ),
                            _ => None,
                        };
                        (read, batch)
                    }
                    None => (
                        lookup(&target, request, &base, &cx, &transport, &pacer, &cancel).await,
                        None,
                    ),
                };
                let mut o = observation(target, read);
                o.batch = batch;
                o
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
        batch: None,
        update: target.update,
        superseded: target.superseded,
    }
}

/// Most pages of a number list read for one batch \[choice\]: 1,000 pages of 100 is a
/// task of 100,000 numbers, under a minute at longlonglong's read pace; a longer list is
/// not settled this way (the batch stays for a person).
const MAX_NUMBER_PAGES: u32 = 1000;

/// Reads the number list of the created task `id` in full and counts the batch's numbers
/// in it, in memory: the numbers read are compared and dropped, never kept.
#[allow(clippy::too_many_arguments)]
async fn number_list(
    target: &Target,
    id: &str,
    batch: &BatchTarget,
    base: &str,
    cx: &driver::Context,
    transport: &Transport,
    pacer: &Pacer,
    cancel: &AtomicBool,
) -> NumberRead {
    let (i, wanted) = match batch {
        BatchTarget::Numbers { i, numbers } => (*i, numbers),
        BatchTarget::Unknown { i, reason } => {
            return NumberRead::Failed {
                batch: *i,
                reason: reason.clone(),
            }
        }
    };
    let failed = |reason: String| NumberRead::Failed { batch: i, reason };
    let mut found = std::collections::HashSet::new();
    let (mut listed, mut unreadable, mut total) = (0u64, 0u64, None);
    let mut page = 1;
    loop {
        let request = match driver::build_numbers(target.vendor, id, page, cx) {
            Ok(Some(r)) => r,
            Ok(None) => return failed(format!("{} reports no number list", target.vendor)),
            Err(e) => return failed(e.0),
        };
        pacer.wait().await;
        pacer.space().await;
        let d = transport
            .send(Op::Numbers { page }, target.vendor, &request, base, cancel)
            .await;
        let listing = match d {
            Delivery::Answered {
                parsed: Parsed::Read { listing, .. },
                ..
            } => listing,
            other => return failed(format!("the number list was not read: {}", failure(other))),
        };
        listed += listing.numbers.clear.len() as u64;
        unreadable += listing.numbers.unreadable;
        total = total.or(listing.total);
        for n in listing.numbers.clear {
            if wanted.contains(&n) {
                found.insert(n);
            }
        }
        if !listing.more {
            break;
        }
        page += 1;
        if page > MAX_NUMBER_PAGES {
            return failed(format!(
                "the number list is longer than {MAX_NUMBER_PAGES} pages: not read in full"
            ));
        }
    }
    // A list whose pages do not add up to its own total moved while it was read (or is
    // not what callform takes it for): it proves nothing.
    if total != Some(listed + unreadable) {
        return failed(match total {
            Some(t) => format!(
                "the number list's pages hold {} entries, its total says {t}: it changed while read",
                listed + unreadable
            ),
            None => "the number list reports no total, so it cannot be known complete".into(),
        });
    }
    NumberRead::Checked(NumberCheck {
        batch: i,
        rows: u32::try_from(wanted.len()).unwrap_or(u32::MAX),
        found: u32::try_from(found.len()).unwrap_or(u32::MAX),
        listed: listed + unreadable,
        unreadable,
        at: crate::state::now_rfc3339(),
    })
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
    Read::Lookup { candidates }
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

/// What [`record`] settled.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The names whose uncertain run or batch was settled.
    pub settled: Vec<String>,
    /// Per task, what a number list read said of its uncertain batch (settled or not), in
    /// words with counts only: for the plan.
    pub notes: Vec<(String, String)>,
    /// Per task, what the read said of its uncertain update (settled or not), in words:
    /// for the plan and `refresh`'s rows.
    pub update_notes: Vec<(String, String)>,
    /// Per task, an uncertain update the read settled: for a saved plan.
    pub updates: Vec<(String, UpdateRead)>,
}

/// Records what was read into `state` (what `refresh --write` saves): each found task's
/// status; a gone task as `deleted`; a start or verb whose outcome was unknown, settled
/// when the vendor's status proves it one way or the other; and an uncertain callee batch
/// the vendor's count proves loaded ([`settle_batch`]), or its number list proves loaded
/// or not loaded ([`settle_by_numbers`]).
pub fn record(state: &mut State, observations: &[Observation], at: &str) -> Recorded {
    let mut out = Recorded::default();
    for o in observations {
        let Some(rec) = state.tasks.get_mut(&o.name) else {
            continue;
        };
        if o.superseded {
            let vendor = match &o.read {
                Read::Found { observed } => observed.status,
                Read::Gone { .. } => Lifecycle::Deleted,
                Read::Lookup { .. } | Read::Failed { .. } => continue,
            };
            let run = rec
                .superseded
                .iter_mut()
                .filter(|s| Some(s.task_id.as_str()) == o.task_id.as_deref())
                .find_map(|s| s.run.as_mut());
            if run.is_some_and(|run| settle_run_record(run, vendor, at)) {
                out.settled.push(o.name.clone());
            }
            continue;
        }
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
        let mut update = false;
        if let (Read::Found { observed }, Some(target)) = (&o.read, &o.update) {
            match judge_update(&o.name, rec, target, &observed.fields, at) {
                Ok(read) => {
                    let sent = rec
                        .update
                        .as_ref()
                        .map(|u| u.at.clone())
                        .unwrap_or_default();
                    update = apply_update_read(rec, &read, Some(&target.form));
                    out.update_notes.push((
                        o.name.clone(),
                        if read.done {
                            format!("the uncertain update sent at {sent} was done: the vendor holds every field it changes at its new value")
                        } else {
                            format!("the uncertain update sent at {sent} was not done: the vendor holds every field it changes at its old value (the next apply sends it again)")
                        },
                    ));
                    out.updates.push((o.name.clone(), read));
                }
                Err(why) => out.update_notes.push((o.name.clone(), why)),
            }
        }
        let mut batch = settle_batch(rec);
        match &o.batch {
            Some(NumberRead::Checked(check)) if !batch => {
                let (settled, note) = settle_by_numbers(rec, check);
                batch = settled;
                out.notes.push((o.name.clone(), note));
            }
            Some(NumberRead::Failed { batch: i, reason }) if !batch => out.notes.push((
                o.name.clone(),
                format!("batch {i} was not looked for in the vendor's number list: {reason}"),
            )),
            _ => {}
        }
        if run || batch || update {
            out.settled.push(o.name.clone());
        }
    }
    out
}

/// The top-level spec keys whose values differ between `old` and `new` (canonical forms).
fn changed_keys(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = old["spec"].as_object().unwrap_or(&empty);
    let new = new["spec"].as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Judges an uncertain update by the fields the vendor's read returned: done when every
/// field the update changes reads as its new value, not done when every one reads as its
/// old value. A changed field the read does not return (longlonglong's detail returns
/// no `task_extras`, `name` or enumerations; Volcengine's list none of the fields
/// `UpdateTask` sets), or values that are neither or a mix, prove nothing: `Err` says
/// which, for the person who settles it.
pub fn judge_update(
    name: &str,
    rec: &TaskRecord,
    target: &UpdateTarget,
    fields: &[(String, serde_json::Value)],
    at: &str,
) -> Result<UpdateRead, String> {
    let Some(pending) = rec.update.as_ref().filter(|u| !u.in_flight) else {
        return Err("no settled update to judge".into());
    };
    if pending.spec_digest != target.digest {
        return Err("the manifest is not the spec the update carried".into());
    }
    let old = rec.spec.value();
    let keys = changed_keys(&old, &target.form);
    let read: HashMap<&str, &serde_json::Value> =
        fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let unread: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !read.contains_key(k))
        .collect();
    if keys.is_empty() || !unread.is_empty() {
        return Err(format!(
            "the uncertain update is not settled by the read: the vendor's read does not return {} (check them in the console, then `callform state update {name} done|not-done`)",
            if unread.is_empty() {
                "what it changed".to_string()
            } else {
                unread.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            }
        ));
    }
    let is = |form: &serde_json::Value| {
        keys.iter()
            .all(|k| read.get(k.as_str()).copied() == Some(&form["spec"][k.as_str()]))
    };
    let done = if is(&target.form) {
        true
    } else if is(&old) {
        false
    } else {
        return Err(format!(
            "the uncertain update is not settled by the read: the vendor's values of {} are neither all the update's nor all the ones before it (check the console, then `callform state update {name} done|not-done`)",
            keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ));
    };
    Ok(UpdateRead {
        spec_digest: target.digest.clone(),
        done,
        at: at.to_string(),
    })
}

/// Records what a read proved of `rec`'s uncertain update ([`judge_update`]): done, the
/// record takes the spec the update carried (`form`, whose digest it is); not done, the
/// update is forgotten and the next apply sends it again (an update sets values, so sending
/// it to a task that does not hold them dials no one). Returns whether it settled it.
pub fn apply_update_read(
    rec: &mut TaskRecord,
    read: &UpdateRead,
    form: Option<&serde_json::Value>,
) -> bool {
    let Some(pending) = rec
        .update
        .as_ref()
        .filter(|u| !u.in_flight && u.spec_digest == read.spec_digest)
    else {
        return false;
    };
    let sent = pending.at.clone();
    if read.done {
        let Some(form) = form.filter(|f| crate::canonical::digest(f) == read.spec_digest) else {
            return false;
        };
        rec.spec = form.clone().into();
        rec.spec_digest = read.spec_digest.clone();
        rec.canonical_version = crate::canonical::CANONICAL_VERSION;
        rec.warnings.push(format!(
            "the update sent at {sent} settled as done by reading the task back at {}: the vendor holds every changed field's new value",
            read.at
        ));
    } else {
        rec.warnings.push(format!(
            "the update sent at {sent} settled as not done by reading the task back at {}: the vendor holds every changed field's old value; sent again by the next apply",
            read.at
        ));
    }
    rec.update = None;
    true
}

/// How long after an uncertain batch was sent its numbers' absence from the vendor's list
/// proves it was not loaded \[choice\]: ten minutes, twenty times the transport's request
/// timeout. The number API is synchronous (its numbers are in the task when it answers),
/// but a request whose answer was lost may still be in the vendor's hands for a while; a
/// list read sooner proves nothing about it.
pub const NOT_LOADED_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Settles an uncertain callee batch by the vendor's number list (`check`): every one of
/// its numbers in the list proves it loaded; none of them, in a list read in full, with
/// every entry a readable number, at least [`NOT_LOADED_AFTER`] after the batch was sent,
/// proves it not loaded — the record forgets the batch, and the next apply sends it again:
/// no one of its people is in the task, so no one is called twice. Some of them only
/// (the vendor took part of it, or someone added or removed numbers in the console)
/// proves nothing: it stays for a person, with the counts. Returns whether it settled the
/// batch, and what the check said, in words (counts only).
pub fn settle_by_numbers(rec: &mut TaskRecord, check: &NumberCheck) -> (bool, String) {
    let i = check.batch;
    let counts = format!(
        "{} of its {} numbers are among the {} the task holds (number list read at {})",
        check.found, check.rows, check.listed, check.at
    );
    let stays = |why: &str| (false, format!("batch {i}: {counts}; {why}"));
    if rec.status != TaskStatus::Created {
        return stays("the task itself is uncertain");
    }
    let Some(progress) = rec.callees.as_mut() else {
        return stays("no callee batch is pending in the state");
    };
    let Some(pending) = progress.pending.take_if(|p| {
        p.i == i && p.state == PendingState::Uncertain && !p.in_create && p.offset == progress.rows
    }) else {
        return stays("it is no longer the uncertain batch of the state");
    };
    if check.found == check.rows && check.rows == pending.n {
        let why = format!(
            "batch {i} settled as loaded by reading the vendor's number list: all {} of its numbers are in the task (read at {})",
            pending.n, check.at
        );
        progress.mark_loaded(pending, &mut rec.warnings, why);
        return (true, format!("batch {i}: {counts}: settled as loaded"));
    }
    let late = match (
        pending.at.parse::<jiff::Timestamp>(),
        check.at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(sent), Ok(read)) => jiff::SignedDuration::try_from(NOT_LOADED_AFTER)
            .is_ok_and(|grace| read.duration_since(sent) >= grace),
        _ => false,
    };
    if check.found == 0 && check.unreadable == 0 && check.rows == pending.n && late {
        rec.warnings.push(format!(
            "batch {i} settled as not loaded by reading the vendor's number list at {}: none of its {} numbers is among the {} the task holds, read more than {} minutes after it was sent ({}); sent again by the next apply",
            check.at,
            pending.n,
            check.listed,
            NOT_LOADED_AFTER.as_secs() / 60,
            pending.at
        ));
        if progress.batches.is_empty() {
            rec.callees = None;
        }
        return (
            true,
            format!(
                "batch {i}: {counts}: proven not loaded, so sending it again calls no one twice (the list was read in full, every entry a readable number, more than {} minutes after the batch was sent)",
                NOT_LOADED_AFTER.as_secs() / 60
            ),
        );
    }
    let why = if check.found == 0 && check.unreadable > 0 {
        format!(
            "{} entries of the list are no readable number, so it cannot prove the batch absent; it stays for a person",
            check.unreadable
        )
    } else if check.found == 0 {
        format!(
            "read less than {} minutes after the batch was sent ({}), so a request still at the vendor may yet load it; refresh again later, or it stays for a person",
            NOT_LOADED_AFTER.as_secs() / 60,
            pending.at
        )
    } else {
        "the vendor holds part of it: it stays for a person".to_string()
    };
    progress.pending = Some(pending);
    stays(&why)
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
    rec.run
        .as_mut()
        .is_some_and(|run| settle_run_record(run, vendor, at))
}

/// [`settle_run`] on one run record (a task's own, or a superseded task's).
fn settle_run_record(run: &mut RunRecord, vendor: Lifecycle, at: &str) -> bool {
    if run.state != RunState::Uncertain {
        return false;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{Batch, CalleeProgress, Pending};

    /// A longlonglong record with 100 rows loaded and batch 1 (50 rows) uncertain, sent
    /// at `sent`.
    fn pending_at(sent: &str) -> TaskRecord {
        TaskRecord {
            vendor: "longlonglong".into(),
            provider: "longlonglong".into(),
            endpoint: "http://127.0.0.1:1".into(),
            status: TaskStatus::Created,
            task_id: Some("t-1".into()),
            spec_digest: "sha256:00".into(),
            canonical_version: 3,
            spec: serde_json::json!({}).into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            request_id: None,
            warnings: vec![],
            uncertain_reason: None,
            superseded: vec![],
            callees: Some(CalleeProgress {
                rows: 100,
                batches: vec![Batch {
                    i: 0,
                    n: 100,
                    through: "h1:00".into(),
                }],
                pending: Some(Pending {
                    i: 1,
                    offset: 100,
                    n: 50,
                    through: "h1:01".into(),
                    at: sent.into(),
                    state: PendingState::Uncertain,
                    reason: None,
                    code: None,
                    in_create: false,
                }),
                keyed_as: None,
            }),
            run: None,
            observed: None,
            update: None,
        }
    }

    fn check(found: u32, unreadable: u64, at: &str) -> NumberCheck {
        NumberCheck {
            batch: 1,
            rows: 50,
            found,
            listed: 100 + u64::from(found) + unreadable,
            unreadable,
            at: at.into(),
        }
    }

    const SENT: &str = "2026-01-01T00:00:00Z";
    const LATER: &str = "2026-01-01T01:00:00Z";

    #[test]
    fn every_number_listed_settles_the_batch_loaded() {
        let mut rec = pending_at(SENT);
        // Even read at once: a number in the list is loaded.
        let (settled, note) = settle_by_numbers(&mut rec, &check(50, 0, SENT));
        assert!(settled, "{note}");
        let progress = rec.callees.as_ref().unwrap();
        assert_eq!((progress.rows, progress.batches.len()), (150, 2));
        assert!(progress.pending.is_none());
    }

    #[test]
    fn no_number_listed_long_enough_after_settles_it_not_loaded() {
        let mut rec = pending_at(SENT);
        let (settled, note) = settle_by_numbers(&mut rec, &check(0, 0, LATER));
        assert!(settled && note.contains("calls no one twice"), "{note}");
        let progress = rec.callees.as_ref().unwrap();
        assert_eq!((progress.rows, progress.batches.len()), (100, 1));
        assert!(progress.pending.is_none());
        assert!(rec.warnings[0].contains("settled as not loaded"));
    }

    #[test]
    fn absence_proves_nothing_too_soon_with_unreadable_entries_or_in_part() {
        for (c, why) in [
            (check(0, 0, "2026-01-01T00:09:59Z"), "less than 10 minutes"),
            (check(0, 3, LATER), "no readable number"),
            (check(20, 0, LATER), "part of it"),
        ] {
            let mut rec = pending_at(SENT);
            let before = rec.clone();
            let (settled, note) = settle_by_numbers(&mut rec, &c);
            assert!(!settled && note.contains(why), "{note}");
            assert_eq!(rec, before, "{note}");
        }
    }

    #[test]
    fn a_check_of_another_batch_settles_nothing() {
        let mut rec = pending_at(SENT);
        let before = rec.clone();
        let mut other = check(50, 0, LATER);
        other.batch = 2;
        assert!(!settle_by_numbers(&mut rec, &other).0);
        assert_eq!(rec, before);
    }

    fn with_update(old: serde_json::Value, new: &serde_json::Value) -> (TaskRecord, UpdateTarget) {
        let mut rec = pending_at(SENT);
        rec.callees = None;
        rec.spec = old.into();
        let digest = crate::canonical::digest(new);
        rec.update = Some(crate::state::model::PendingUpdate {
            spec_digest: digest.clone(),
            at: SENT.into(),
            in_flight: false,
            reason: None,
        });
        (
            rec,
            UpdateTarget {
                form: new.clone(),
                digest,
            },
        )
    }

    #[test]
    fn an_update_is_judged_only_by_fields_the_read_returns() {
        let old =
            serde_json::json!({"spec": {"maximumcall": 1, "remark": "a", "task_extras": {"x": 1}}});
        let new =
            serde_json::json!({"spec": {"maximumcall": 2, "remark": "a", "task_extras": {"x": 1}}});
        let (mut rec, target) = with_update(old.clone(), &new);
        let read = |v: i64| vec![("maximumcall".to_string(), serde_json::json!(v))];
        let done = judge_update("t", &rec, &target, &read(2), LATER).unwrap();
        assert!(done.done);
        let not = judge_update("t", &rec, &target, &read(1), LATER).unwrap();
        assert!(!not.done);
        let neither = judge_update("t", &rec, &target, &read(7), LATER).unwrap_err();
        assert!(neither.contains("neither"), "{neither}");
        assert!(judge_update("t", &rec, &target, &[], LATER)
            .unwrap_err()
            .contains("`maximumcall`"));
        // Done: the record takes the spec the update carried.
        assert!(apply_update_read(&mut rec, &done, Some(&target.form)));
        assert_eq!(rec.spec.value(), new);
        assert!(rec.update.is_none());

        // A changed field the read does not return proves nothing, even beside one it does.
        let newer =
            serde_json::json!({"spec": {"maximumcall": 2, "remark": "a", "task_extras": {"x": 2}}});
        let (rec, target) = with_update(old, &newer);
        let why = judge_update("t", &rec, &target, &read(2), LATER).unwrap_err();
        assert!(
            why.contains("`task_extras`") && why.contains("state update t"),
            "{why}"
        );
    }
}
