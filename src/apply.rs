//! Apply: run a plan's creates through the drivers and record every result durably.
//!
//! Each create goes through the same pipeline: journal intent → sign → send → parse →
//! journal outcome. The intent is durable before the first byte of the request leaves, so
//! a crash at any point leaves either nothing sent, or an intent that the next load turns
//! into `uncertain` (never into a second create). Concurrent creates share fsyncs (the
//! journal group-commits), and recording one create appends one line: its cost does not
//! grow with the tasks in state. At the end the run is committed into the state. Apply knows
//! the state only as a [`RunLog`]: where it is kept is the backend's business.
//!
//! Stopping: the caller's `cancel` flag (Ctrl-C, SIGTERM) stops new sends; requests in
//! flight finish and are recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::canonical::CANONICAL_VERSION;
use crate::driver::{self, ErrorClass, Op, Parsed, Request};
use crate::manifest::{Manifests, Vendor};
use crate::plan::{Action, Plan};
use crate::state::{self, Entry, Outcome, RunLog, State};
use crate::transport::{Delivery, Transport};

/// One create to send: everything resolved before the first request leaves.
pub struct Send {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    /// The endpoint recorded in state.
    pub endpoint: String,
    /// Where the request actually goes (differs from `endpoint` only in the sandbox).
    pub base_url: String,
    pub spec_digest: String,
    pub spec: serde_json::Value,
    pub replaces: Option<String>,
    pub request: Request,
}

/// How one create ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Result_ {
    Created {
        task_id: String,
        request_id: Option<String>,
        warnings: Vec<String>,
    },
    Failed {
        class: Option<ErrorClass>,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    Uncertain {
        reason: String,
    },
    /// Not started because the run was stopped.
    Skipped,
    /// Not sent because an earlier create for the same provider failed authentication:
    /// nothing was journalled, so the next plan shows it again.
    AuthStopped,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub name: String,
    pub vendor: Vendor,
    pub provider: String,
    pub result: Result_,
}

/// A provider's driver context and the base URL its requests go to.
pub type ContextFor<'a> = &'a dyn Fn(&str, Vendor) -> Result<(driver::Context, String), String>;

/// Builds the requests for every create in `plan`. Any problem (a missing credential, a
/// request that cannot be built) stops the apply before anything is sent.
pub fn prepare_sends(
    plan: &Plan,
    manifests: &Manifests,
    state: Option<&State>,
    context_for: ContextFor<'_>,
) -> Result<Vec<Send>, Vec<String>> {
    let by_name: HashMap<&str, &crate::manifest::Task> = manifests
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let mut sends = Vec::new();
    let mut errors = Vec::new();
    for p in plan.tasks.iter().filter(|p| p.action.creates()) {
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
        let request = match driver::build(task, &cx) {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{}: {e}", p.name));
                continue;
            }
        };
        let replaces = if p.action == Action::Replace {
            state
                .and_then(|s| s.tasks.get(&p.name))
                .and_then(|r| r.task_id.clone())
        } else {
            None
        };
        sends.push(Send {
            name: p.name.clone(),
            vendor: task.vendor,
            provider: task.provider.clone(),
            endpoint: p.endpoint.clone(),
            base_url,
            spec_digest: p.spec_digest.clone().unwrap_or_default(),
            spec: p.spec.clone().unwrap_or(serde_json::Value::Null),
            replaces,
            request,
        });
    }
    if errors.is_empty() {
        Ok(sends)
    } else {
        Err(errors)
    }
}

/// Limits on requests in flight: overall, and per provider.
pub struct Limits {
    pub parallelism: usize,
    pub per_provider: HashMap<String, usize>,
}

/// Runs the creates, recording each in `journal`, and commits the run into the state. The
/// caller holds the lease and began `journal` on `state` (as recovered under the lease, or a
/// new one). The log is shared with the tasks that send, hence the `Arc`.
pub async fn run(
    journal: Arc<dyn RunLog>,
    mut state: State,
    sends: Vec<Send>,
    transport: Arc<Transport>,
    limits: &Limits,
    cancel: Arc<AtomicBool>,
    on_finish: &(dyn Fn(&Finished) + Sync),
) -> Ran {
    let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS);
    let global = Arc::new(Semaphore::new(permits(limits.parallelism)));
    let mut per_provider: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut gates: HashMap<String, Arc<AuthGate>> = HashMap::new();
    for s in &sends {
        gates.entry(s.provider.clone()).or_default();
        let n = limits
            .per_provider
            .get(&s.provider)
            .copied()
            .map_or(Semaphore::MAX_PERMITS, permits);
        per_provider
            .entry(s.provider.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(n)));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::with_capacity(sends.len());
    for send in sends {
        let journal = Arc::clone(&journal);
        let transport = Arc::clone(&transport);
        let global = Arc::clone(&global);
        let provider_sem = per_provider
            .get(&send.provider)
            .cloned()
            .unwrap_or_else(|| Arc::new(Semaphore::new(1)));
        let gate = gates.get(&send.provider).cloned().unwrap_or_default();
        let cancel = Arc::clone(&cancel);
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            let finished = one(
                send,
                journal.as_ref(),
                &transport,
                &global,
                &provider_sem,
                &gate,
                &cancel,
            )
            .await;
            let _ = tx.send(finished);
        }));
    }
    drop(tx);
    let mut finished = Vec::new();
    while let Some(f) = rx.recv().await {
        on_finish(&f);
        finished.push(f);
    }
    for h in handles {
        let _ = h.await;
    }
    // Every task that held the journal has ended, so this is the last reference. Were it
    // not, the state is left for the next run to fold rather than raced.
    // A failure to fold is reported with the results, never instead of them: the user
    // must see what was created, and the journal still holds it for the next run.
    let committed = journal.commit(&mut state).await.map(|_| ());
    Ran {
        finished,
        committed,
    }
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
/// Until one create for the provider has had an answer other than an authentication
/// failure, its creates go one at a time (the `probe` lock): with a wrong secret, exactly
/// one request reaches the vendor, and every other create for that provider is not sent.
#[derive(Default)]
struct AuthGate {
    probe: tokio::sync::Mutex<()>,
    verified: AtomicBool,
    failed: AtomicBool,
}

async fn one(
    send: Send,
    journal: &dyn RunLog,
    transport: &Transport,
    global: &Semaphore,
    provider: &Semaphore,
    gate: &AuthGate,
    cancel: &AtomicBool,
) -> Finished {
    let done = |result| Finished {
        name: send.name.clone(),
        vendor: send.vendor,
        provider: send.provider.clone(),
        result,
    };
    // Taken before the shared permits, so that creates waiting for a provider's first
    // answer do not hold permits other providers could use.
    let _probe = if gate.verified.load(Ordering::SeqCst) {
        None
    } else {
        let probe = gate.probe.lock().await;
        // Verified while this one waited: no need to go one at a time any more.
        (!gate.verified.load(Ordering::SeqCst)).then_some(probe)
    };
    if gate.failed.load(Ordering::SeqCst) {
        return done(Result_::AuthStopped);
    }
    let Ok(global_permit) = global.acquire().await else {
        return done(Result_::Skipped);
    };
    let Ok(provider_permit) = provider.acquire().await else {
        return done(Result_::Skipped);
    };
    if cancel.load(Ordering::SeqCst) {
        return done(Result_::Skipped);
    }
    // Another create may have failed authentication while this one waited for permits.
    if gate.failed.load(Ordering::SeqCst) {
        return done(Result_::AuthStopped);
    }
    let intent = Entry::Intent {
        name: send.name.clone(),
        vendor: send.vendor.key().to_string(),
        provider: send.provider.clone(),
        endpoint: send.endpoint.clone(),
        spec_digest: send.spec_digest.clone(),
        canonical_version: CANONICAL_VERSION,
        spec: send.spec.clone(),
        at: state::now_rfc3339(),
        replaces: send.replaces.clone(),
        batch: None,
        start: false,
    };
    if let Err(e) = journal.record(intent).await {
        // Not on disk, so not sent: nothing can exist at the vendor.
        return done(Result_::Failed {
            class: None,
            code: "journal".into(),
            message: format!("could not record the intent, so nothing was sent: {e}"),
            request_id: None,
        });
    }
    let delivery = transport
        .send(
            Op::Create,
            send.vendor,
            &send.request,
            &send.base_url,
            cancel,
        )
        .await;
    match &delivery {
        Delivery::Answered {
            parsed:
                Parsed::Rejected {
                    class: ErrorClass::Auth,
                    ..
                },
            ..
        } => gate.failed.store(true, Ordering::SeqCst),
        // Only an answer the vendor gives after it checked the credentials proves them: a
        // create, or a documented business rejection. A throttling, an uncertain answer or
        // nothing at all proves nothing (a gateway may throttle before it authenticates),
        // so the next create is the probe again.
        Delivery::Answered {
            parsed:
                Parsed::Created { .. }
                | Parsed::Rejected {
                    class: ErrorClass::Business,
                    ..
                },
            ..
        } => gate.verified.store(true, Ordering::SeqCst),
        _ => {}
    }
    // The answer is in: the next create may start while this outcome is made durable (both
    // ride the same group commit), which keeps the sync off the critical path.
    drop(provider_permit);
    drop(global_permit);
    let (outcome, result) = match delivery {
        Delivery::Answered {
            parsed:
                Parsed::Created {
                    task_id,
                    request_id,
                    warnings,
                },
            ..
        } => (
            Outcome::Created {
                task_id: task_id.clone(),
                request_id: request_id.clone(),
                warnings: warnings.clone(),
            },
            Result_::Created {
                task_id,
                request_id,
                warnings,
            },
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
        } => (
            Outcome::Failed {
                code: code.clone(),
                message: message.clone(),
            },
            Result_::Failed {
                class: Some(class),
                code,
                message,
                request_id,
            },
        ),
        Delivery::Answered {
            parsed: Parsed::Uncertain { reason, .. },
            ..
        } => {
            let reason =
                format!("the vendor's answer does not say the task was not created: {reason}");
            (
                Outcome::Uncertain {
                    reason: reason.clone(),
                },
                Result_::Uncertain { reason },
            )
        }
        // A create's answer is never read as a step's: no id, so it may exist.
        Delivery::Answered {
            parsed: Parsed::Done { .. },
            ..
        } => {
            let reason = "the vendor's answer to the create carries no task id".to_string();
            (
                Outcome::Uncertain {
                    reason: reason.clone(),
                },
                Result_::Uncertain { reason },
            )
        }
        Delivery::NotSent { reason, attempts } => {
            let message =
                format!("{reason} (after {attempts} attempt(s); nothing reached the vendor)");
            (
                Outcome::Failed {
                    code: "not_sent".into(),
                    message: message.clone(),
                },
                Result_::Failed {
                    class: None,
                    code: "not_sent".into(),
                    message,
                    request_id: None,
                },
            )
        }
        Delivery::Uncertain { reason, .. } => {
            let reason = format!("no answer was read after the request was sent: {reason}");
            (
                Outcome::Uncertain {
                    reason: reason.clone(),
                },
                Result_::Uncertain { reason },
            )
        }
    };
    let entry = Entry::Outcome {
        name: send.name.clone(),
        at: state::now_rfc3339(),
        outcome,
    };
    if let Err(e) = journal.record(entry).await {
        // The intent is durable but the answer is not: the fold makes the task uncertain,
        // which is what the user must be told, whatever the vendor said.
        let reason = match &result {
            Result_::Created { task_id, .. } => {
                format!("the vendor created task {task_id}, but callform could not record it ({e}); import it with `callform state import {} {task_id}`", send.name)
            }
            _ => format!("the outcome could not be recorded: {e}"),
        };
        return done(Result_::Uncertain { reason });
    }
    done(result)
}
