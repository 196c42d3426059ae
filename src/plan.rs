//! The planner: manifests + state → one action per task.
//!
//! A plan is plain data (and the saved-plan file format, documented in
//! `docs/plan-format.md`): `apply` executes it and nothing else. The planner never talks to
//! a vendor and never writes state. Its rules, from the strongest:
//!
//! - a task recorded as `uncertain` is never sent again until `state import`/`state rm`
//!   resolves it;
//! - a task recorded on another endpoint or vendor is `blocked` (ids from an emulator in a
//!   production state mean lost tasks, and the reverse);
//! - a changed spec is `blocked` (these APIs cannot update a created task) unless named in
//!   `--replace`;
//! - a task in state but not in the manifests is `orphaned`: callform never deletes;
//! - a task whose manifest says `moved_from: OLD`, with OLD recorded (and the task not),
//!   is a `rename`: apply moves the record, and sends nothing.
//!
//! Everything a reviewer must be told is in the plan itself, so that every rendering (text,
//! markdown, JSON, a saved plan) says it: each provider's endpoint, a mix of loopback and
//! real endpoints, the manifests' warnings (a task's on the task), a create that looks like
//! a rename. A task that would be created with its end time in the past is `blocked`: it
//! could never dial.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::{capture_diff_slices, Algorithm, ChangeTag};

use crate::canonical::{self, canonical, keyed_hex, CANONICAL_VERSION};
use crate::checkout::Place;
use crate::diag::{Diagnostic, Past};
use crate::manifest::{Manifests, Task, Vendor};
use crate::project::Project;
use crate::state::{State, TaskRecord, TaskStatus};

pub mod adopt;
pub mod steps;

/// 7: `compliance`, the policy's findings, exceptions and partial checks (its own
/// `version` inside). 6: `numbers_read`, the number lists a `plan --refresh` read for uncertain callee
/// batches, and `updates_read`, the uncertain updates its reads settled. 5: the `adopt` action (an uncertain create found by name), `summary.adopt`, each
/// task's `candidates` and `adopted`, and `looked_up` (the lookups a plan acted on);
/// `stop_orphans`, orphans planned as `stop`, a replacement's `steps.stop_superseded`,
/// and the `update` action. 4: the `pause` and `stop` actions and `refreshed`.
/// 3: each task's `steps` (create, callee batches, start, when it dials), the `resume`
/// action, and no callee digest in any spec (canonical form 3). 2: paths relative to the
/// project root (`root`), `sandbox`, `state.outside_checkout`, `state.pending_run`.
/// Version 1 recorded paths of the checkout it was made in.
pub const PLAN_FORMAT_VERSION: u32 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Replace,
    /// The task exists; steps remain (callee batches, the start, a resume after a pause).
    Resume,
    /// The task dials and the manifest says `status: paused`: apply pauses it (after which
    /// callees left are loaded).
    Pause,
    /// The manifest says `status: stopped`: apply stops the task. Irreversible.
    Stop,
    /// A change every field of which the vendor updates in place (longlonglong,
    /// Volcengine `UpdateTask`): apply sends the update, then any steps left.
    Update,
    Rename,
    /// An uncertain create a lookup by name found exactly once: apply records its vendor
    /// id and sends nothing.
    Adopt,
    Blocked,
    Uncertain,
    /// Sent by an apply that is running now, its answer not recorded yet.
    InFlight,
    Orphaned,
    NoOp,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Resume => "resume",
            Action::Pause => "pause",
            Action::Stop => "stop",
            Action::Update => "update",
            Action::Rename => "rename",
            Action::Adopt => "adopt",
            Action::Blocked => "blocked",
            Action::Uncertain => "uncertain",
            Action::InFlight => "in-flight",
            Action::Orphaned => "orphaned",
            Action::NoOp => "no-op",
        }
    }

    /// Whether apply sends anything for it (a create, callee batches, a start).
    pub fn sends(self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Replace
                | Action::Resume
                | Action::Pause
                | Action::Stop
                | Action::Update
        )
    }

    /// Whether apply sends a create for it.
    pub fn creates(self) -> bool {
        matches!(self, Action::Create | Action::Replace)
    }
}

/// One field that differs between the state and the manifests (values as JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTask {
    pub name: String,
    pub action: Action,
    pub vendor: String,
    pub provider: String,
    /// The endpoint the create goes to (for orphaned and uncertain tasks: the recorded one).
    pub endpoint: String,
    /// `file:line` of the manifest document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The vendor task id recorded in state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// For a rename: the name the task is recorded under now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// For an adopt: how the task was found (what apply records with its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<String>,
    /// For an uncertain create looked up by name: the tasks found with its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<adopt::Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_spec_digest: Option<String>,
    /// The canonical spec from the manifests (no personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the user can do, one step per line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// `--show-requests`: the request the driver would send, secrets and numbers masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// `--show-requests`: the first callee batch apply would send, shown as `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_request: Option<Value>,
    /// `--show-requests`: the start apply would send, shown as `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_request: Option<Value>,
    /// What apply will send for the task, step by step, and when it dials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Steps>,
}

/// The steps apply takes for a task: create, callee batches, start. Derived from the
/// state's record and the manifest alone, so apply of a saved plan derives the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Steps {
    /// Apply sends the create (a create or a replace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSteps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartStep>,
    /// A pause, resume or stop (after the batches for a resume, before them for a pause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<VerbStep>,
    /// An update in place of the created task, sent first (before any pause, batch, start
    /// or resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStep>,
    /// For a replace: the stop of the task it supersedes, sent last and only once every
    /// step of the new task is done (else the old task is left running). Irreversible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_superseded: Option<SupersededStop>,
    /// When the task dials, in words ("nobody (status: paused)", "from … within …").
    pub dials: String,
}

/// The callee batches apply sends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSteps {
    /// Rows this apply loads (in the create and in batches).
    pub rows: u64,
    /// Load requests this apply sends (not counting the create).
    pub batches: u32,
    /// The index of the first batch this apply records (0 for a new task).
    pub first_batch: u32,
    /// The first row (0-based) this apply loads.
    pub first_row: u64,
    /// Rows per load request.
    pub batch_rows: u32,
    /// Rows the create request itself carries (Volcengine's `PhoneList`), as batch 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub in_create: u64,
    /// Rows loaded before this apply.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loaded: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The start apply sends after the callees are loaded (or with the create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartStep {
    /// `task/start`, `StartRobotTask`, or `create` (Volcengine's `Start: true`).
    pub via: String,
    /// Aliyun's `ScheduleTime`, Beijing wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<String>,
}

/// A pause, resume or stop apply sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerbStep {
    pub verb: crate::driver::Verb,
    /// The vendor's action or path (`task/pause`, `StopTask`).
    pub via: String,
    /// The task's status at the vendor the verb acts from (by the state, or a refresh).
    pub from: crate::driver::Lifecycle,
    /// What the reviewer must know (xfyeta's stop deletes the task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// It cannot be undone (every stop).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub irreversible: bool,
}

/// An update in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStep {
    /// The vendor's action or path (`UpdateTask`, `PUT …/task/{id}`).
    pub via: String,
    /// The top-level spec fields that change.
    pub fields: Vec<String>,
}

/// The stop of the task a replacement supersedes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupersededStop {
    /// The vendor id of the task superseded (the one the state records now).
    pub task_id: String,
    /// The vendor's action or path (`CancelRobotTask`, `StopTask`).
    pub via: String,
    /// Its status at the vendor, by the state (or a refresh).
    pub from: crate::driver::Lifecycle,
    /// What the reviewer must know (xfyeta's stop deletes the task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRef {
    /// Relative to the project root; absolute when `outside_checkout`.
    pub path: String,
    /// The state lies outside the project root, named by an absolute `--state`: it is used
    /// as is wherever the plan is applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside_checkout: bool,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    /// A run that had not been folded into the state file when the plan was made (an
    /// apply that died, or one still running): the plan was made on the state with its
    /// records, and apply accepts exactly this run folded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_run: Option<PendingRun>,
}

/// A run's journal, pending beside the state when the plan was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRun {
    /// The run's id (its journal header).
    pub run: String,
    /// The serial of the state the run started from: the one the plan saw.
    pub base_serial: u64,
    /// The SHA-256 of the run's entries as the plan read them.
    pub digest: String,
    /// Tasks the run created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
    /// Tasks whose create the vendor answered ambiguously, or that were sent with no answer
    /// recorded (in flight when the run is still going, else lost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncertain: Vec<String>,
    /// Of those, the ones sent with no answer recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unanswered: Vec<String>,
    /// Creates the vendor rejected (nothing was created).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl PendingRun {
    /// What a plan records of a run replayed on load; `None` when there is none, or it is
    /// already in the state file.
    pub fn of(folded: &crate::state::Folded) -> Option<PendingRun> {
        if folded.already_folded {
            return None;
        }
        Some(PendingRun {
            run: folded.run.clone()?,
            base_serial: folded.base_serial?,
            digest: folded.digest.clone()?,
            created: folded.created.clone(),
            uncertain: folded
                .uncertain
                .iter()
                .chain(&folded.interrupted)
                .cloned()
                .collect(),
            unanswered: folded.interrupted.clone(),
            failed: folded.failed.clone(),
        })
    }
}

/// A file the plan was made from, with a keyed digest of its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: String,
    pub digest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub replace: usize,
    /// Tasks that exist with steps left (callee batches, the start).
    #[serde(default)]
    pub resume: usize,
    #[serde(default)]
    pub rename: usize,
    /// Uncertain creates found by name, to record (nothing is sent).
    #[serde(default)]
    pub adopt: usize,
    /// Tasks apply pauses.
    #[serde(default)]
    pub pause: usize,
    /// Tasks apply stops (irreversible).
    #[serde(default)]
    pub stop: usize,
    /// Tasks apply updates in place.
    #[serde(default)]
    pub update: usize,
    pub blocked: usize,
    pub uncertain: usize,
    /// Creates a running apply has sent and not yet recorded the answer of.
    #[serde(default)]
    pub in_flight: usize,
    pub orphaned: usize,
    pub no_op: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// What the vendors said of the tasks when the plan was made with `--refresh`: apply
    /// of this plan puts the same records in the state before planning again, so that it
    /// derives the same steps.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub refreshed: std::collections::BTreeMap<String, crate::state::ObservedRecord>,
    /// The lookups by name of uncertain creates the plan acted on, by task: apply of this
    /// plan decides with the same ones, and records the adoptions they found.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub looked_up: std::collections::BTreeMap<String, adopt::Lookup>,
    /// The vendors' number lists read for uncertain callee batches when the plan was made
    /// with `--refresh`, by task (counts only): apply of this plan settles the same
    /// batches the same way before planning again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub numbers_read: std::collections::BTreeMap<String, crate::refresh::NumberCheck>,
    /// Uncertain updates in place a `plan --refresh` settled by reading the task back, by
    /// task: apply of this plan settles them the same way before planning again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub updates_read: std::collections::BTreeMap<String, crate::refresh::UpdateRead>,
    pub callform_version: String,
    pub canonical_version: u32,
    pub created_at: String,
    /// The project root (see `checkout`): every path below is relative to it.
    pub root: crate::checkout::PlanRoot,
    /// Relative to the root.
    pub manifest_dir: String,
    /// Made with `--sandbox`: applied in the sandbox, never against a vendor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandbox: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_file: Option<String>,
    pub timezone: String,
    pub state: StateRef,
    /// Only for a plan made with no state yet: the key of its personal-data digests, which
    /// the first apply gives the new state. With a state, the state's salt is used and is
    /// not repeated here (plans travel further than state files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub files: Vec<FileDigest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace: Vec<String>,
    /// Made with `--stop-orphans` (or `on_remove: stop`): tasks removed from the manifests
    /// plan a stop.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_orphans: bool,
    /// An apply (or another writer) holding the state's lock when the plan was made: its
    /// records are still coming in, and this plan will be stale once it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<crate::state::LockInfo>,
    pub summary: Summary,
    /// Where each provider's tasks go (or were recorded), one entry per provider and
    /// endpoint.
    #[serde(default)]
    pub endpoints: Vec<EndpointUse>,
    /// What the reviewer must know that belongs to no one task (a task's own warnings are
    /// in its `warnings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// What the compliance policy found over the manifests' tasks (docs/plan-format.md).
    #[serde(default)]
    pub compliance: crate::policy::Compliance,
    pub tasks: Vec<PlannedTask>,
}

/// One provider's endpoint in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointUse {
    pub provider: String,
    pub vendor: String,
    pub endpoint: String,
    /// Where it comes from: `CALLFORM_<VENDOR>_ENDPOINT`, `callform.yaml`, `default` (the
    /// vendor's), `sandbox` (the in-process emulator) or `state` (only recorded there, for
    /// orphaned and uncertain tasks).
    pub from: String,
    /// A loopback address or the sandbox: no real person is dialled there.
    pub loopback: bool,
    /// The plan's tasks that go (or were recorded) there.
    pub tasks: usize,
}

/// A warning of the plan as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub message: String,
    /// The task it is most about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Warning {
    /// The warning as one line (`message; hint: …`), as every rendering shows it.
    pub fn line(&self) -> String {
        match &self.hint {
            Some(h) => format!("{}; hint: {h}", self.message),
            None => self.message.clone(),
        }
    }
}

impl Plan {
    pub fn has_blocked(&self) -> bool {
        self.summary.blocked > 0
    }

    /// Creates, replacements or steps left (resume) for apply to send, or renames for it
    /// to record.
    pub fn has_changes(&self) -> bool {
        self.summary.create
            + self.summary.replace
            + self.summary.resume
            + self.summary.rename
            + self.summary.adopt
            + self.summary.pause
            + self.summary.stop
            + self.summary.update
            > 0
    }

    /// Every warning the plan carries, each as one line: the plan's own first, then each
    /// task's (`NAME: warning`), in name order. Every rendering shows each of these.
    pub fn warning_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.warnings.iter().map(Warning::line).collect();
        for t in &self.tasks {
            out.extend(t.warnings.iter().map(|w| format!("{}: {w}", t.name)));
        }
        out
    }

    /// Anything a reviewer must see: changes to send, and tasks callform will not touch
    /// but that still run or may exist at the vendor (orphaned, uncertain). A plan with
    /// only these is not "no changes": a removed manifest leaves its campaign dialling.
    pub fn needs_review(&self) -> bool {
        self.has_changes()
            || self.summary.orphaned + self.summary.uncertain + self.summary.in_flight > 0
    }
}

/// Why the planner made no plan. Each names the flag or task and provider at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A `--target` that names nothing is a typo, not an empty plan to approve.
    #[error("--target {0}: matches no task in the manifests or the state (check the name; globs take `*` and `?`)")]
    Target(String),
    /// A `--replace` of a task that is not a changed one.
    #[error("--replace {name}: cannot replace: {why}")]
    Replace {
        /// The name given.
        name: String,
        /// What the task is instead.
        why: String,
    },
    /// A provider's endpoint is not one callform sends to (the endpoint is not echoed).
    #[error("{task}: the endpoint of provider `{provider}` (from {from}) is refused: {why}")]
    Endpoint {
        /// The first task, in name order, that would be sent there.
        task: String,
        /// Its provider.
        provider: String,
        /// Where the endpoint was configured.
        from: String,
        /// What is wrong with it.
        why: String,
    },
    /// `callform stop NAME` of a name that no task in the state has.
    #[error("callform stop {name}: no task of that name in the state; it records {known}")]
    Stop {
        /// The name given.
        name: String,
        /// The names in the state, for the user to pick from.
        known: String,
    },
    /// A bug: the planner left a slot empty.
    #[error("a task was left unplanned")]
    Unplanned,
}

/// Each message says what to check already.
impl crate::error::Hint for PlanError {
    fn hint(&self) -> Option<String> {
        None
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only tasks matching one of these names or globs (`*`, `?`).
    pub targets: Vec<String>,
    /// Changed tasks to replace with a new vendor task.
    pub replace: Vec<String>,
    /// The salt to use when there is no state yet (a saved plan's, when applying it): the
    /// planner reads no random number generator of its own.
    pub salt: String,
    /// When the plan is made (its `created_at`): the planner reads no clock of its own.
    pub now: jiff::Timestamp,
    /// The arguments a `callform state …` command needs to reach this plan's state from
    /// where the plan was made (` --dir DIR --state PATH`, shell-quoted), so that every
    /// hint runs as printed. Empty for the defaults.
    pub state_args: String,
    /// The run pending beside the state, replayed into it ([`PendingRun::of`]).
    pub pending_run: Option<PendingRun>,
    /// The live holder of the state's lock, if any: the pending run is still going.
    pub running: Option<crate::state::LockInfo>,
    /// Lookups by name of uncertain creates (`plan --refresh`, `apply`), by task: each
    /// decides whether the create is adopted ([`adopt::decide`]). Empty: no lookup was
    /// made, and every uncertain create stays uncertain.
    pub lookups: BTreeMap<String, adopt::Lookup>,
    /// `--stop-orphans`: a task removed from the manifests plans a stop (as callform.yaml's
    /// `on_remove: stop` does).
    pub stop_orphans: bool,
    /// `callform stop NAME…`: the recorded tasks matching these names or globs plan a
    /// stop, whatever their manifests say; nothing else is planned.
    pub stop: Vec<String>,
}

/// Whether the task `name` is within `scope` (`--target` globs; empty: every task).
pub fn in_scope(scope: &[String], name: &str) -> bool {
    scope.is_empty() || scope.iter().any(|g| glob_match(g, name))
}

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The keyed digest of each file the manifests consist of or name, by its path from the
/// root of `place`.
pub fn file_digests(manifests: &Manifests, salt: &str, place: &Place) -> Vec<FileDigest> {
    manifests
        .files
        .iter()
        .map(|f| FileDigest {
            path: place.file(&f.path),
            digest: format!("hmac-sha256:{}", keyed_hex(salt, &f.sha256)),
        })
        .collect()
}

/// Makes the plan. Errors are the user's (`--replace` of a task that cannot be replaced).
pub fn plan(
    manifests: &Manifests,
    project: &Project,
    state: Option<&State>,
    place: &Place,
    options: &Options,
) -> Result<Plan, PlanError> {
    let salt = state
        .map(|s| s.salt.clone())
        .unwrap_or_else(|| options.salt.clone());
    let targeted = |name: &str| in_scope(&options.targets, name);
    let empty = BTreeMap::new();
    let recorded = state.map(|s| &s.tasks).unwrap_or(&empty);

    // Everything below walks names in order: tasks and records are joined by merging two
    // sorted lists, not by a lookup per task, and the result comes out sorted.
    let mut all: Vec<&Task> = manifests.tasks.iter().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let stopping = !options.stop.is_empty();
    // `callform stop` plans recorded tasks only, and each name must name one.
    if let Some(name) = options
        .stop
        .iter()
        .find(|n| !recorded.keys().any(|r| glob_match(n, r)))
    {
        let mut names: Vec<&str> = recorded.keys().map(String::as_str).take(20).collect();
        if recorded.len() > names.len() {
            names.push("…");
        }
        return Err(PlanError::Stop {
            name: name.clone(),
            known: if names.is_empty() {
                "no task at all".into()
            } else {
                names.join(", ")
            },
        });
    }
    let stop_named = |name: &str| stopping && options.stop.iter().any(|n| glob_match(n, name));
    let tasks: Vec<&Task> = if options.targets.is_empty() && !stopping {
        all.clone()
    } else {
        all.iter()
            .copied()
            .filter(|t| targeted(&t.name))
            .filter(|t| !stopping || (stop_named(&t.name) && recorded.contains_key(&t.name)))
            .collect()
    };
    let planner = Planner {
        project,
        recorded,
        salt: &salt,
        key: canonical::callees::callee_key(&salt),
        options,
    };
    // A `--target` that names nothing is a typo, not an empty plan to approve.
    if let Some(t) = options.targets.iter().find(|t| {
        !all.iter().any(|task| glob_match(t, &task.name))
            && !recorded.keys().any(|name| glob_match(t, name))
    }) {
        return Err(PlanError::Target(t.clone()));
    }
    let planned = planner.tasks(&tasks)?;
    let claimed = claimed_by_renames(&all, recorded);
    let asked_stop_orphans =
        options.stop_orphans || project.on_remove == crate::project::OnRemove::Stop;
    // No manifest at all is a wrong path far more often than every campaign removed: its
    // orphans are not stopped by it (`callform stop NAME…` stops them by name).
    let stop_orphans = asked_stop_orphans && !all.is_empty();
    let orphaned = orphans(
        recorded,
        &all,
        &|name: &str| targeted(name) && (!stopping || stop_named(name)),
        &claimed,
        options,
        (&planner.key, &salt, stop_orphans),
    );
    let mut out = merge_by_name(planned, orphaned);
    if stopping {
        for p in &mut out {
            if let Some(rec) = recorded.get(&p.name) {
                stop_planned(p, rec, options, &planner.key, &salt);
            }
        }
    }
    if let Some(state) = state {
        block_shared_ids(&mut out, state);
    }
    let mut warnings = Vec::new();
    if asked_stop_orphans && !stop_orphans && !stopping && !recorded.is_empty() {
        warnings.push(Warning {
            message: "the manifest directory holds no task, so its orphans are not stopped (`on_remove: stop` / `--stop-orphans`): a wrong directory is likelier than every campaign removed".into(),
            task: None,
            hint: Some("check the directory; to stop tasks anyway, name them: `callform stop NAME…`".into()),
        });
    }
    manifest_warnings(&mut out, &manifests.diagnostics, &mut warnings);
    rename_lookalikes(&out, &mut warnings, &options.state_args);
    let endpoints = endpoint_uses(&out, project);
    mixed_endpoints(&endpoints, &mut warnings);

    for r in &options.replace {
        let why = match out.binary_search_by(|p| p.name.as_str().cmp(r)) {
            Ok(i) if out[i].action == Action::Replace => continue,
            Err(_) => {
                "no task of that name is planned (check the name and --target)".to_string()
            }
            Ok(i) => match &out[i] {
                p if p.action == Action::NoOp => {
                    "its spec is unchanged; a replacement would call the same people again. To create it anew, `callform state rm` it first".to_string()
                }
                p if p.action == Action::Create => {
                    "it does not exist yet; it will simply be created".to_string()
                }
                p if p.action == Action::Resume => {
                    "its spec is unchanged; apply resumes its steps left (a replacement would call the same people again)".to_string()
                }
                p => format!(
                    "it is {} ({})",
                    p.action.as_str(),
                    p.reason.clone().unwrap_or_default()
                ),
            },
        };
        return Err(PlanError::Replace {
            name: r.clone(),
            why,
        });
    }

    let mut summary = Summary::default();
    for p in &out {
        match p.action {
            Action::Create => summary.create += 1,
            Action::Replace => summary.replace += 1,
            Action::Resume => summary.resume += 1,
            Action::Pause => summary.pause += 1,
            Action::Stop => summary.stop += 1,
            Action::Update => summary.update += 1,
            Action::Rename => summary.rename += 1,
            Action::Adopt => summary.adopt += 1,
            Action::Blocked => summary.blocked += 1,
            Action::Uncertain => summary.uncertain += 1,
            Action::InFlight => summary.in_flight += 1,
            Action::Orphaned => summary.orphaned += 1,
            Action::NoOp => summary.no_op += 1,
        }
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        refreshed: Default::default(),
        numbers_read: Default::default(),
        updates_read: Default::default(),
        looked_up: options
            .lookups
            .iter()
            .filter(|(name, _)| {
                recorded
                    .get(*name)
                    .is_some_and(|r| r.status == TaskStatus::Uncertain)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        callform_version: env!("CARGO_PKG_VERSION").to_string(),
        canonical_version: CANONICAL_VERSION,
        created_at: jiff::Timestamp::from_second(options.now.as_second())
            .unwrap_or(options.now)
            .to_string(),
        root: place.saved_root.clone(),
        manifest_dir: place.manifest_dir.clone(),
        sandbox: project.sandbox,
        project_file: place.project_file.clone(),
        timezone: project.timezone_name.clone(),
        state: StateRef {
            path: place.state.clone(),
            outside_checkout: place.state_outside,
            exists: state.is_some(),
            lineage: state.map(|s| s.lineage.clone()),
            serial: state.map(|s| s.serial),
            pending_run: options.pending_run.clone(),
        },
        files: file_digests(manifests, &salt, place),
        salt: state.is_none().then_some(salt),
        targets: options.targets.clone(),
        replace: options.replace.clone(),
        stop_orphans,
        running: options.running.clone(),
        summary,
        endpoints,
        warnings,
        compliance: manifests.compliance.clone(),
        tasks: out,
    })
}

/// The records a rename takes over: a manifest task `moved_from: OLD` that is not recorded
/// itself, with OLD recorded. They are the rename's, not orphans.
fn claimed_by_renames<'a>(
    all: &[&'a Task],
    recorded: &BTreeMap<String, TaskRecord>,
) -> BTreeSet<&'a str> {
    all.iter()
        .filter_map(|t| t.moved_from.as_deref().map(|old| (t, old)))
        .filter(|(t, old)| !recorded.contains_key(&t.name) && recorded.contains_key(*old))
        .map(|(_, old)| old)
        .collect()
}

/// A manifest warning as a task's warning line.
fn warning_line(d: &Diagnostic) -> String {
    let mut line = format!("{} ({})", d.message, d.location());
    if let Some(h) = &d.hint {
        line.push_str("; hint: ");
        line.push_str(h);
    }
    line
}

/// The manifests' warnings, into the plan: each on its task (if the task is planned), the
/// others (callform.yaml, skipped files) on the plan. A date-time in the past matters only
/// for a task that would be sent (a created task's start is history); an end in the past
/// blocks it, since the task could never dial.
fn manifest_warnings(out: &mut [PlannedTask], diags: &[Diagnostic], warnings: &mut Vec<Warning>) {
    for d in diags.iter().filter(|d| !d.is_error()) {
        let Some(name) = &d.task else {
            warnings.push(Warning {
                message: format!("{} ({})", d.message, d.location()),
                task: None,
                hint: d.hint.clone(),
            });
            continue;
        };
        // A task left out by `--target`: not this plan's.
        let Ok(i) = out.binary_search_by(|p| p.name.as_str().cmp(name)) else {
            continue;
        };
        let p = &mut out[i];
        let would_send = p.action.sends() || p.action == Action::Blocked;
        match d.past {
            Some(_) if !would_send => continue,
            Some(Past::End) if p.action.sends() => {
                p.action = Action::Blocked;
                p.reason = Some(format!("{} ({})", d.message, d.location()));
                p.hints = vec![
                    "move the end into the future if the campaign should still run, or".into(),
                    "remove the manifest if its campaign is over".into(),
                ];
                continue;
            }
            _ => {}
        }
        p.warnings.push(warning_line(d));
    }
}

/// A create with the spec of a task that left the manifests is most likely that task
/// renamed: applied, it would start a second campaign to the same people.
fn rename_lookalikes(out: &[PlannedTask], warnings: &mut Vec<Warning>, state_args: &str) {
    let mut gone: HashMap<&str, &str> = HashMap::new();
    for p in out.iter().filter(|p| p.source.is_none()) {
        if let Some(d) = &p.old_spec_digest {
            gone.entry(d.as_str()).or_insert(p.name.as_str());
        }
    }
    if gone.is_empty() {
        return;
    }
    for p in out.iter().filter(|p| p.action == Action::Create) {
        let Some(old) = p.spec_digest.as_deref().and_then(|d| gone.get(d)) else {
            continue;
        };
        warnings.push(Warning {
            message: format!(
                "`{new}` (create) has the same spec as `{old}` (no longer in the manifests): this looks like a rename, and applying it would start a second campaign to the same people",
                new = p.name
            ),
            task: Some(p.name.clone()),
            hint: Some(format!(
                "to rename, add `moved_from: {old}` to the manifest of `{new}` (or run `callform state mv {old} {new}{state_args}`)",
                new = p.name
            )),
        });
    }
}

/// Where the plan's tasks go, per provider and endpoint.
fn endpoint_uses(out: &[PlannedTask], project: &Project) -> Vec<EndpointUse> {
    let mut seen: BTreeMap<(&str, &str), (&str, usize)> = BTreeMap::new();
    for t in out {
        let key = (t.provider.as_str(), t.endpoint.as_str());
        seen.entry(key).or_insert((t.vendor.as_str(), 0)).1 += 1;
    }
    seen.into_iter()
        .map(|((provider, endpoint), (vendor, tasks))| {
            let from = Vendor::ALL
                .into_iter()
                .find(|v| v.key() == vendor)
                .filter(|v| project.endpoint(provider, *v) == endpoint)
                .map_or_else(
                    || "state".to_string(),
                    |v| project.endpoint_origin(provider, v),
                );
            EndpointUse {
                provider: provider.to_string(),
                vendor: vendor.to_string(),
                endpoint: endpoint.to_string(),
                from,
                loopback: crate::project::is_loopback(endpoint),
                tasks,
            }
        })
        .collect()
}

/// Loopback and real endpoints in one plan: most often an emulator recipe that pointed
/// some vendors at the emulator and left the others on the real service.
/// Whether some of `endpoints` are loopback and some real.
pub fn mixes_loopback_and_real(endpoints: &[EndpointUse]) -> bool {
    endpoints.iter().any(|e| e.loopback) && endpoints.iter().any(|e| !e.loopback)
}

fn mixed_endpoints(endpoints: &[EndpointUse], warnings: &mut Vec<Warning>) {
    if !mixes_loopback_and_real(endpoints) {
        return;
    }
    let names = |loopback: bool| {
        let mut names: Vec<String> = endpoints
            .iter()
            .filter(|e| e.loopback == loopback)
            .map(|e| format!("`{}`", e.provider))
            .collect();
        names.dedup();
        names.join(", ")
    };
    warnings.push(Warning {
        message: format!(
            "this plan mixes loopback and real endpoints: the tasks of {} go to REAL endpoints, those of {} to loopback (see the endpoints listed)",
            names(false),
            names(true)
        ),
        task: None,
        hint: Some("tasks on a real endpoint dial real people: to try against an emulator, point every vendor at it (each CALLFORM_*_ENDPOINT variable) or use --sandbox".into()),
    });
}

/// Below this many tasks, planning on one thread is faster than starting more.
const PARALLEL_FROM: usize = 2_048;

/// What planning one task needs to know; shared, read-only, by the threads.
struct Planner<'a> {
    project: &'a Project,
    recorded: &'a BTreeMap<String, TaskRecord>,
    salt: &'a str,
    /// The key of the state's callee digests.
    key: [u8; 32],
    options: &'a Options,
}

impl Planner<'_> {
    /// Plans `tasks` (sorted by name, names unique) in order. Each task is planned on its
    /// own, so runs of them are planned on every core, each into its part of one list. The
    /// first error in name order is the one reported.
    fn tasks(&self, tasks: &[&Task]) -> Result<Vec<PlannedTask>, PlanError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let mut out: Vec<Option<PlannedTask>> = Vec::new();
        out.resize_with(tasks.len(), || None);
        if threads == 1 || tasks.len() < PARALLEL_FROM {
            self.run(tasks, &mut out)?;
        } else {
            let chunk = tasks.len().div_ceil(threads);
            let results: Vec<Result<(), PlanError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = tasks
                    .chunks(chunk)
                    .zip(out.chunks_mut(chunk))
                    .map(|(run, slots)| scope.spawn(move || self.run(run, slots)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            });
            results.into_iter().collect::<Result<(), PlanError>>()?;
        }
        // `run` fills every slot or fails; collected this way, the list is reused in place.
        out.into_iter()
            .map(|slot| slot.ok_or(PlanError::Unplanned))
            .collect()
    }

    /// Plans a sorted run of tasks into `slots`, walking the records from its first name.
    fn run(&self, tasks: &[&Task], slots: &mut [Option<PlannedTask>]) -> Result<(), PlanError> {
        let Some(first) = tasks.first() else {
            return Ok(());
        };
        let mut records = self
            .recorded
            .range::<str, _>((Bound::Included(first.name.as_str()), Bound::Unbounded))
            .peekable();
        // Endpoints by provider: a handful, worked out (and checked) once each per run.
        let mut endpoints: Vec<(&str, Vendor, Result<String, PlanError>)> = Vec::new();
        for (task, slot) in tasks.iter().zip(slots) {
            let endpoint = match endpoints
                .iter()
                .find(|(p, v, _)| *p == task.provider && *v == task.vendor)
            {
                Some((_, _, endpoint)) => endpoint.clone(),
                None => {
                    let endpoint = self.endpoint(task);
                    endpoints.push((&task.provider, task.vendor, endpoint.clone()));
                    endpoint
                }
            };
            while records
                .next_if(|(name, _)| name.as_str() < task.name.as_str())
                .is_some()
            {}
            let rec = records
                .next_if(|(name, _)| name.as_str() == task.name.as_str())
                .map(|(_, rec)| rec);
            *slot = Some(self.task(task, endpoint?, rec));
        }
        Ok(())
    }

    /// Where `task`'s create goes, or why it may not go there.
    fn endpoint(&self, task: &Task) -> Result<String, PlanError> {
        let project = self.project;
        let endpoint = project.endpoint(&task.provider, task.vendor);
        if !project.sandbox {
            // The refused endpoint is not echoed: it may hold what it should not.
            crate::project::check_endpoint(&endpoint).map_err(|why| PlanError::Endpoint {
                task: task.name.clone(),
                provider: task.provider.clone(),
                from: crate::project::endpoint_source(&task.provider, task.vendor),
                why,
            })?;
        }
        Ok(endpoint)
    }

    /// One task against its record, if it has one (or the record it is `moved_from`).
    fn task(&self, task: &Task, endpoint: String, rec: Option<&TaskRecord>) -> PlannedTask {
        match (rec, task.moved_from.as_deref()) {
            (None, Some(old)) => self.rename(task, endpoint, old),
            _ => self.against(task, endpoint, rec, &task.name),
        }
    }

    /// A task `moved_from: OLD` that is not recorded under its own name: a rename when OLD
    /// is recorded with the same spec (apply moves the record and sends nothing).
    fn rename(&self, task: &Task, endpoint: String, old: &str) -> PlannedTask {
        let state_args = &self.options.state_args;
        let Some(rec) = self.recorded.get(old) else {
            let mut p = self.against(task, endpoint, None, &task.name);
            p.warnings.push(format!(
                "moved_from: `{old}` is not in the state, so this is planned as a create; hint: if `{old}` is recorded in another state, plan against that one (`--state PATH`); remove `moved_from` once the rename is applied"
            ));
            return p;
        };
        let mut p = self.against(task, endpoint, Some(rec), old);
        p.moved_from = Some(old.to_string());
        let new = &task.name;
        match p.action {
            Action::NoOp => {
                p.action = Action::Rename;
                p.reason = Some(format!(
                    "recorded as `{old}`; the manifest renames it (`moved_from: {old}`): apply moves the record, and sends nothing"
                ));
                if task.spec.def().vendor_name().is_none() {
                    p.warnings.push(format!(
                        "the vendor task keeps the name it was created with, `{old}` (the old `name:`); hint: set the vendor-visible name in the spec to say so"
                    ));
                }
            }
            Action::Uncertain | Action::Adopt => {
                p.action = Action::Blocked;
                p.adopted = None;
                p.reason = Some(format!(
                    "`{old}`, which this task is moved from, is uncertain (an earlier create may or may not have reached the vendor): resolve it before renaming it"
                ));
                p.hints = vec![
                    "look for the task in the vendor console, then:".into(),
                    format!("if it exists: `callform state import {old} TASK_ID{state_args}`"),
                    format!("if it does not: `callform state rm {old}{state_args}`, and remove `moved_from` (the next apply creates `{new}`)"),
                ];
            }
            Action::Replace => {
                p.action = Action::Blocked;
                p.reason = Some(format!(
                    "`{new}` is renamed from `{old}` and named in --replace: a rename and a replacement cannot be one step"
                ));
                p.hints = vec![format!(
                    "apply the rename first (with the spec unchanged, or `callform state mv {old} {new}{state_args}`), then replace"
                )];
            }
            // Blocked by its spec (the form is shown): the rename must keep it.
            Action::Blocked if p.spec.is_some() => {
                p.hints.insert(
                    0,
                    format!("a rename keeps the spec: apply the rename with the spec `{old}` was created with (or `callform state mv {old} {new}{state_args}`), then change it; or"),
                );
            }
            // Blocked by its steps: the hints name the record as it is kept now, `old`.
            Action::Blocked => {
                p.hints.push(format!(
                    "(the record is still `{old}`: resolve it under that name, then apply the rename)"
                ));
            }
            // A rename and the steps left are not one apply: the record moves first, so
            // that every batch and start is recorded under the name it is sent for.
            Action::Resume | Action::Pause | Action::Stop | Action::Update => {
                p.action = Action::Blocked;
                p.steps = None;
                p.reason = Some(format!(
                    "`{new}` is renamed from `{old}`, which has steps left (callee batches, the start, a pause or a stop): a rename and those steps cannot be one apply"
                ));
                p.hints = vec![
                    format!("move the record first: `callform state mv {old} {new}{state_args}`, then apply (it resumes the steps), or"),
                    format!("remove `moved_from` and restore the name `{old}` until its steps are done"),
                ];
            }
            Action::Create | Action::Rename | Action::Orphaned | Action::InFlight => {}
        }
        p
    }

    /// One task against `rec`, its record (kept under `recorded_as`: its own name, or the
    /// name it is `moved_from`).
    fn against(
        &self,
        task: &Task,
        endpoint: String,
        rec: Option<&TaskRecord>,
        recorded_as: &str,
    ) -> PlannedTask {
        let timezone = &self.project.timezone_name;
        // The common case, a task recorded unchanged by this version where it is configured
        // now: its digest is written straight from the typed spec and compared, and no form
        // is built. Its steps are derived from the record alone (one digest over the loaded
        // rows); anything else takes the full comparison below.
        if let Some(rec) = rec.filter(|rec| {
            rec.status == TaskStatus::Created
                && rec.canonical_version == CANONICAL_VERSION
                && rec.vendor == task.vendor.key()
                && rec.endpoint == endpoint
        }) {
            if let Some(digest) = canonical::spec_digest(task, timezone, self.salt)
                .filter(|digest| *digest == rec.spec_digest)
            {
                let mut p = planned(task, endpoint, digest);
                p.action = Action::NoOp;
                copy_record(&mut p, rec);
                self.steps(&mut p, task, Some(rec), recorded_as);
                return p;
            }
        }
        let canon = canonical(task, timezone, self.salt);
        let mut p = planned(task, endpoint, canon.digest.clone());
        if let Some(rec) = rec {
            self.against_record(&mut p, task, rec, &canon);
        }
        // The canonical spec is shown for what apply would send or what blocks it.
        if matches!(
            p.action,
            Action::Create | Action::Replace | Action::Blocked | Action::Update
        ) {
            p.spec = Some(canon.form);
        }
        self.steps(&mut p, task, rec, recorded_as);
        p
    }

    /// The steps of a task to create or replace (all of them), or of an unchanged one (the
    /// steps its record leaves), which may make it a `resume`, or `blocked` or `uncertain`
    /// at a step.
    fn steps(&self, p: &mut PlannedTask, task: &Task, rec: Option<&TaskRecord>, recorded_as: &str) {
        match (p.action, rec) {
            (Action::Create, _) if task.status == crate::manifest::RunStatus::Stopped => {
                p.action = Action::NoOp;
                p.spec = None;
                p.reason = Some(
                    "`status: stopped` and never created: apply creates nothing (remove the manifest, or write another status to create it)".into(),
                );
            }
            (Action::Create | Action::Replace, _) => {
                let mut steps = steps::fresh(task);
                p.warnings.extend(steps::fresh_warnings(&steps));
                if let (Action::Replace, Some(rec)) = (p.action, rec) {
                    let vendor = Vendor::from_key(&rec.vendor).unwrap_or(task.vendor);
                    match steps::supersede(vendor, rec) {
                        Ok(stop) => steps.stop_superseded = stop,
                        Err(why) => p.warnings.push(why),
                    }
                }
                p.steps = Some(steps);
            }
            (Action::NoOp | Action::Update, Some(rec)) => {
                let update = (p.action == Action::Update).then(|| UpdateStep {
                    via: crate::driver::update_via(task).to_string(),
                    fields: changed_keys(&p.changes),
                });
                let cx = steps::Context {
                    key: &self.key,
                    salt: self.salt,
                    recorded_as,
                    state_args: &self.options.state_args,
                    live_run: self.options.running.is_some(),
                };
                let derived = steps::resume(task, rec, &cx);
                p.action = derived.action;
                p.steps = derived.steps;
                // The update is sent first; a step that is blocked or uncertain holds it too.
                if let Some(update) = update {
                    match p.action {
                        Action::Blocked | Action::Uncertain | Action::InFlight => p.spec = None,
                        _ => {
                            if p.action == Action::NoOp {
                                p.action = Action::Update;
                            }
                            let steps = p.steps.get_or_insert_with(|| Steps {
                                dials: "as before the update".into(),
                                ..Steps::default()
                            });
                            steps.update = Some(update);
                        }
                    }
                }
                if derived.reason.is_some() {
                    p.reason = derived.reason;
                }
                if !derived.hints.is_empty() {
                    p.hints = derived.hints;
                }
                p.warnings.extend(derived.warnings);
            }
            _ => {}
        }
    }

    /// Decides the action of a task that the state already records.
    fn against_record(
        &self,
        p: &mut PlannedTask,
        task: &Task,
        rec: &TaskRecord,
        canon: &canonical::Canonical,
    ) {
        copy_record(p, rec);
        // The common case, an unchanged task recorded by this version, compares digests
        // and copies nothing; older forms are brought up to date only when needed.
        let unchanged =
            rec.canonical_version == CANONICAL_VERSION && rec.spec_digest == canon.digest;
        if rec.status == TaskStatus::Uncertain {
            unresolved(p, rec.uncertain_reason.as_deref(), self.options);
            p.endpoint = rec.endpoint.clone();
            // While an apply holds the lock its records are still coming in: nothing is
            // adopted from under it.
            if p.action == Action::Uncertain && self.options.running.is_none() {
                if let Some(lookup) = self.options.lookups.get(&task.name) {
                    let recorded = |id: &str| recorded_id(self.recorded, id);
                    looked_up(p, task, rec, lookup, &recorded, &self.options.state_args);
                }
            }
        } else if let Some(u) = rec.update.as_ref() {
            let changed = changed_keys(&field_changes(&rec.spec.value(), &canon.form));
            uncertain_update(p, u, task.vendor, &changed, &self.options.state_args);
        } else if rec.vendor != task.vendor.key() {
            p.action = Action::Blocked;
            p.reason = Some(format!(
                "the task was created on {}; the manifest now says {}",
                rec.vendor, task.vendor
            ));
            p.hints = vec![
                format!("restore `vendor: {}`, or", rec.vendor),
                "rename the task to create a new one (the old one keeps running: stop it in the vendor console)".into(),
            ];
        } else if rec.endpoint != p.endpoint {
            p.action = Action::Blocked;
            p.reason = Some(format!(
                "the task was created on {}, but {} is configured now",
                rec.endpoint, p.endpoint
            ));
            p.hints = vec![
                "restore the endpoint (callform.yaml or CALLFORM_<VENDOR>_ENDPOINT), or".into(),
                "use a separate state file (`--state PATH`) for the other endpoint: ids from one endpoint mean nothing on another".into(),
            ];
        } else if unchanged {
            p.action = Action::NoOp;
        } else if let Some(old_form) = canonical::upgrade(&rec.spec.value(), rec.canonical_version)
        {
            if canonical::digest(&old_form) == canon.digest {
                p.action = Action::NoOp;
            } else {
                p.changes = field_changes(&old_form, &canon.form);
                if self.options.replace.iter().any(|r| r == &task.name) {
                    // Its steps (`steps`) stop the current task last, or warn why not.
                    p.action = Action::Replace;
                } else if rec.canonical_version == CANONICAL_VERSION
                    && updatable_only(task, &p.changes)
                {
                    p.action = Action::Update;
                } else if let Some(reason) =
                    canonical::upgrade_reason(&rec.vendor, rec.canonical_version)
                {
                    p.action = Action::Blocked;
                    p.reason = Some(reason.into());
                    p.hints = vec![
                        "check the task in the vendor console, and stop it if it runs, then".into(),
                        format!("replace it: `--replace {}` creates a new task with `caller` and keeps the old id in state as superseded, or", task.name),
                        "rename the task (`name:`) to create a new one".into(),
                    ];
                } else {
                    p.action = Action::Blocked;
                    p.reason = Some(
                        "the spec changed, and these vendor APIs cannot update a created task"
                            .into(),
                    );
                    p.hints = vec![
                        "revert the change, or".into(),
                        "rename the task (`name:`) to create a new one (stop the old one in the vendor console), or".into(),
                        format!("replace it: `--replace {}` creates a new task and keeps the old id in state as superseded", task.name),
                    ];
                }
            }
        } else {
            p.action = Action::Blocked;
            p.reason = Some(format!(
                "the state was written by a newer callform (canonical form version {})",
                rec.canonical_version
            ));
            p.hints = vec!["upgrade callform".into()];
        }
    }
}

/// A task to create, until its record says otherwise.
fn planned(task: &Task, endpoint: String, digest: String) -> PlannedTask {
    PlannedTask {
        steps: None,
        batch_request: None,
        start_request: None,
        name: task.name.clone(),
        action: Action::Create,
        vendor: task.vendor.key().to_string(),
        provider: task.provider.clone(),
        endpoint,
        source: Some(format!(
            "{}:{}",
            task.source.file.display(),
            task.source.line
        )),
        task_id: None,
        moved_from: None,
        adopted: None,
        candidates: Vec::new(),
        spec_digest: Some(digest),
        old_spec_digest: None,
        spec: None,
        changes: Vec::new(),
        reason: None,
        hints: Vec::new(),
        warnings: Vec::new(),
        request: None,
    }
}

/// What the record of a planned task adds to it, whatever the action.
fn copy_record(p: &mut PlannedTask, rec: &TaskRecord) {
    p.task_id = rec.task_id.clone();
    p.old_spec_digest = Some(rec.spec_digest.clone());
    for s in &rec.superseded {
        use crate::state::model::RunState;
        match s.run.as_ref().map(|r| (r.state, r)) {
            Some((RunState::Stopped, _)) => {}
            Some((RunState::Uncertain | RunState::InFlight, r)) if r.verb.is_some() => {
                p.warnings.push(format!(
                    "the stop of superseded task {} on {} sent at {} may or may not have reached the vendor{}: callform does not send it again; `callform refresh --write` reads that task back and settles the stop where the vendor reports it stopped, finished or deleted (or running or paused: not stopped), else check it in the vendor console",
                    s.task_id,
                    s.endpoint,
                    r.at,
                    r.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                ));
            }
            _ => p.warnings.push(format!(
                "task {} on {} was replaced by this one and may still be running: stop it in the vendor console",
                s.task_id, s.endpoint
            )),
        }
    }
}

/// The targeted records whose task is in no manifest (`all`: every task, sorted by name).
/// Blocks the tasks whose recorded vendor id another task records too: one of the two
/// records is wrong, and which one only the vendor console can tell.
fn block_shared_ids(out: &mut [PlannedTask], state: &State) {
    for shared in crate::state::shared_ids(state) {
        let (a, b) = &shared.tasks;
        for (name, other) in [(a, b), (b, a)] {
            let Ok(i) = out.binary_search_by(|p| p.name.as_str().cmp(name)) else {
                continue;
            };
            let p = &mut out[i];
            p.action = Action::Blocked;
            p.reason = Some(format!(
                "vendor task id {} (provider `{}`) is recorded for both `{a}` and `{b}`: one of the two records is wrong",
                shared.task_id, shared.provider
            ));
            p.hints = vec![
                format!(
                    "find task {} in the vendor console to see which of `{name}` and `{other}` it is,",
                    shared.task_id
                ),
                "then `callform state rm` the other one and `callform state import NAME TASK_ID` it with its real id if it exists".into(),
            ];
        }
    }
}

/// `claimed`: records a rename takes over, which are not orphans.
fn orphans(
    recorded: &BTreeMap<String, TaskRecord>,
    all: &[&Task],
    targeted: &dyn Fn(&str) -> bool,
    claimed: &BTreeSet<&str>,
    options: &Options,
    (key, salt, stop): (&[u8; 32], &str, bool),
) -> Vec<PlannedTask> {
    let state_args = options.state_args.as_str();
    let mut out = Vec::new();
    let mut manifest = all.iter().map(|t| t.name.as_str()).peekable();
    for (name, rec) in recorded {
        while manifest.next_if(|m| *m < name.as_str()).is_some() {}
        if manifest.next_if(|m| *m == name.as_str()).is_some()
            || !targeted(name)
            || claimed.contains(name.as_str())
        {
            continue;
        }
        let mut p = PlannedTask {
            steps: None,
            batch_request: None,
            start_request: None,
            name: name.clone(),
            action: Action::Orphaned,
            vendor: rec.vendor.clone(),
            provider: rec.provider.clone(),
            endpoint: rec.endpoint.clone(),
            source: None,
            task_id: rec.task_id.clone(),
            moved_from: None,
            adopted: None,
            candidates: Vec::new(),
            spec_digest: None,
            old_spec_digest: Some(rec.spec_digest.clone()),
            spec: None,
            changes: Vec::new(),
            reason: Some(
                "in the state but no longer in the manifests; callform never deletes a vendor task"
                    .into(),
            ),
            hints: vec![
                "the vendor task still runs: stop it in the vendor console if it should not, then"
                    .into(),
                format!(
                    "forget it with `callform state rm {name}{state_args}`, or restore its manifest"
                ),
            ],
            warnings: Vec::new(),
            request: None,
        };
        if rec.status == TaskStatus::Uncertain {
            unresolved(&mut p, rec.uncertain_reason.as_deref(), options);
        } else if stop {
            stop_planned(&mut p, rec, options, key, salt);
            if p.action == Action::Stop {
                p.reason = Some(
                    "no longer in the manifests, and the project stops removed tasks (`on_remove: stop` or `--stop-orphans`)"
                        .into(),
                );
            }
        } else if let Some(end) = stopped_for_good(rec, name, state_args) {
            // It dials nobody: no warning that it still runs.
            p.action = Action::NoOp;
            p.reason = Some(end);
            p.hints = Vec::new();
        }
        out.push(p);
    }
    out
}

/// The stop of a recorded task, planned from its record alone ([`steps::stop_record`]): for
/// an orphan when the project opts in, and for `callform stop NAME`.
fn stop_planned(
    p: &mut PlannedTask,
    rec: &TaskRecord,
    options: &Options,
    key: &[u8; 32],
    salt: &str,
) {
    p.spec = None;
    p.changes.clear();
    p.steps = None;
    p.warnings.clear();
    if rec.status == TaskStatus::Uncertain {
        return unresolved(p, rec.uncertain_reason.as_deref(), options);
    }
    let Some(vendor) = Vendor::from_key(&rec.vendor) else {
        p.action = Action::Blocked;
        p.reason = Some(format!(
            "the state records an unknown vendor `{}`",
            rec.vendor
        ));
        p.hints = vec!["upgrade callform".into()];
        return;
    };
    // The vendor, provider and endpoint the task was created on.
    p.vendor = rec.vendor.clone();
    p.provider = rec.provider.clone();
    p.endpoint = rec.endpoint.clone();
    p.task_id = rec.task_id.clone();
    let cx = steps::Context {
        key,
        salt,
        recorded_as: &p.name,
        state_args: &options.state_args,
        live_run: options.running.is_some(),
    };
    let derived = steps::stop_record(vendor, rec, &cx);
    p.action = derived.action;
    p.steps = derived.steps;
    p.reason = derived.reason;
    p.hints = derived.hints;
    p.warnings.extend(derived.warnings);
}

/// A recorded task that never dials again (stopped, finished or deleted at the vendor, as
/// far as callform knows): the note a plan shows for it instead of a warning.
fn stopped_for_good(rec: &TaskRecord, name: &str, state_args: &str) -> Option<String> {
    let now = steps::vendor_status(rec, rec.run.as_ref());
    now.is_final().then(|| {
        format!("{now} at the vendor and no longer in the manifests: it dials nobody again; the state keeps it as its history (`callform state rm {name}{state_args}` forgets it)")
    })
}

/// The top-level spec keys of `changes` (`spec.concurrency` → `concurrency`), or `None`
/// for a change outside the spec (vendor, provider, timezone).
fn spec_key(field: &str) -> Option<&str> {
    let rest = field.strip_prefix("spec.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn changed_keys(changes: &[FieldChange]) -> Vec<String> {
    let mut keys: Vec<String> = changes
        .iter()
        .filter_map(|c| spec_key(&c.field).map(str::to_string))
        .collect();
    keys.dedup();
    keys
}

/// Whether every changed field is one the vendor updates in place (`driver::updatable`).
fn updatable_only(task: &Task, changes: &[FieldChange]) -> bool {
    let updatable = crate::driver::updatable(task);
    !changes.is_empty()
        && changes
            .iter()
            .all(|c| spec_key(&c.field).is_some_and(|k| updatable.contains(&k)))
}

/// An update whose outcome is unknown: nothing more is sent for the task until a read-back
/// or a person settles it.
fn uncertain_update(
    p: &mut PlannedTask,
    u: &crate::state::model::PendingUpdate,
    vendor: Vendor,
    changed: &[String],
    state_args: &str,
) {
    let name = p.name.clone();
    p.action = Action::Uncertain;
    p.spec = None;
    p.reason = Some(format!(
        "the update sent at {} may or may not have reached the vendor{}; callform will not send it again by itself",
        u.at,
        u.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    ));
    let returned = crate::driver::read_fields(vendor);
    let mut unread: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|k| !k.is_empty() && !returned.contains(k))
        .collect();
    unread.dedup();
    let first = if changed.is_empty() {
        "the manifest holds the spec recorded before the update: look in the vendor console, then"
            .to_string()
    } else if unread.is_empty() {
        format!("`callform refresh --write{state_args}` (or `plan --refresh`) reads the task back: {vendor}'s read returns every field the update changes, so it settles the update; or look in the vendor console, then")
    } else {
        format!(
            "{vendor}'s read of a task does not return {}, so reading it back cannot settle the update: look in the vendor console, then",
            unread.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )
    };
    p.hints = vec![
        first,
        format!("if it holds them: `callform state update {name} done{state_args}`"),
        format!("if it does not: `callform state update {name} not-done{state_args}` (the next apply sends the update again)"),
    ];
}

/// Merges two lists sorted by name (no name in both) into one.
fn merge_by_name(a: Vec<PlannedTask>, b: Vec<PlannedTask>) -> Vec<PlannedTask> {
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut b = b.into_iter().peekable();
    for p in a {
        while let Some(q) = b.next_if(|q| q.name < p.name) {
            out.push(q);
        }
        out.push(p);
    }
    out.extend(b);
    out
}

/// A record without a confirmed create, as the plan must tell it now. While an apply holds
/// the lock, a create it sent and has no answer for is in flight, not lost, and nothing is
/// to be repaired yet: the hints say to wait, never `state rm` or `state import` (a repair
/// of a live run's record could forget a task that is being created).
fn unresolved(p: &mut PlannedTask, reason: Option<&str>, options: &Options) {
    let Some(run) = &options.running else {
        return uncertain(p, reason, &options.state_args);
    };
    let unanswered = options
        .pending_run
        .as_ref()
        .is_some_and(|r| r.unanswered.contains(&p.name));
    let wait = format!(
        "wait for the running `{}` to finish (it records the answer), then plan again",
        run.operation
    );
    if unanswered {
        p.action = Action::InFlight;
        p.spec = None;
        p.reason = Some(format!(
            "in flight: the `{}` running now ({}) sent the create and has not recorded the vendor's answer yet",
            run.operation,
            run.describe()
        ));
    } else {
        uncertain(p, reason, &options.state_args);
    }
    p.hints = vec![wait];
}

fn uncertain(p: &mut PlannedTask, reason: Option<&str>, state_args: &str) {
    p.action = Action::Uncertain;
    p.spec = None;
    p.reason = Some(format!(
        "an earlier create may or may not have reached the vendor ({}); callform will not send it again by itself",
        reason.unwrap_or("no answer was recorded")
    ));
    p.hints = vec![
        "look for the task in the vendor console, then:".into(),
        format!(
            "if it exists: `callform state import {} TASK_ID{state_args}`",
            p.name
        ),
        format!(
            "if it does not: `callform state rm {}{state_args}` (the next apply creates it)",
            p.name
        ),
    ];
}

/// An uncertain create, decided by its lookup by name ([`adopt::decide`]).
/// Whose the vendor id `id` is in the state, if anyone's: a record's own task, or a task a
/// record replaced.
fn recorded_id(recorded: &BTreeMap<String, TaskRecord>, id: &str) -> Option<String> {
    recorded.iter().find_map(|(name, r)| {
        if r.task_id.as_deref() == Some(id) {
            Some(format!("recorded as `{name}`"))
        } else if r.superseded.iter().any(|s| s.task_id == id) {
            Some(format!("the task `{name}` replaced"))
        } else {
            None
        }
    })
}

fn looked_up(
    p: &mut PlannedTask,
    task: &Task,
    rec: &TaskRecord,
    lookup: &adopt::Lookup,
    recorded: &dyn Fn(&str) -> Option<String>,
    state_args: &str,
) {
    // The task is looked up where it was recorded: another vendor now means another
    // listing, which proves nothing of this create.
    if rec.vendor != task.vendor.key() {
        return;
    }
    match adopt::decide(
        task.vendor,
        task.vendor_name(),
        &rec.created_at,
        lookup,
        recorded,
    ) {
        adopt::Decision::Adopt { task_id, how } => {
            p.action = Action::Adopt;
            p.task_id = Some(task_id.clone());
            p.reason = Some(format!(
                "an earlier create's answer was never recorded; {how}: apply records it as task {task_id} and sends nothing to create it"
            ));
            p.adopted = Some(how);
            p.hints = vec![format!(
                "the steps after the create (callee batches, the start) are planned from the adopted record by the next `callform plan`"
            )];
        }
        adopt::Decision::Uncertain { why, candidates } => {
            let name = &p.name;
            p.reason = Some(format!(
                "an earlier create may or may not have reached the vendor; {why}; callform will not send it again by itself"
            ));
            let mut hints: Vec<String> = candidates
                .iter()
                .map(|c| format!("candidate: {}", c.line()))
                .collect();
            hints.push("look for the task in the vendor console, then:".into());
            hints.push(format!(
                "if it exists: `callform state import {name} TASK_ID{state_args}`"
            ));
            hints.push(format!(
                "if it does not: `callform state rm {name}{state_args}` (the next apply creates it)"
            ));
            p.hints = hints;
            p.candidates = candidates;
        }
    }
}

/// Field-level differences between two canonical forms, found with `similar` on their
/// flattened `path = value` lines.
pub fn field_changes(old: &Value, new: &Value) -> Vec<FieldChange> {
    let a = canonical::flatten(old);
    let b = canonical::flatten(new);
    let la: Vec<String> = a.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let lb: Vec<String> = b.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let mut changes: BTreeMap<String, FieldChange> = BTreeMap::new();
    for op in capture_diff_slices(Algorithm::Myers, &la, &lb) {
        for change in op.iter_changes(&la, &lb) {
            let line = change.value();
            let Some((field, value)) = line.split_once(" = ") else {
                continue;
            };
            let entry = changes
                .entry(field.to_string())
                .or_insert_with(|| FieldChange {
                    field: field.to_string(),
                    old: None,
                    new: None,
                });
            match change.tag() {
                ChangeTag::Delete => entry.old = Some(value.to_string()),
                ChangeTag::Insert => entry.new = Some(value.to_string()),
                ChangeTag::Equal => {}
            }
        }
    }
    changes.into_values().filter(|c| c.old != c.new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob_match("renewal-*", "renewal-2027q1"));
        assert!(glob_match("*q?", "renewal-2027q1"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("renewal-*", "overdue"));
        assert!(!glob_match("a?", "a"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn changes_are_per_field() {
        let old = json!({"spec": {"a": 1, "b": [1, 2], "gone": true}});
        let new = json!({"spec": {"a": 2, "b": [1, 2], "added": "x"}});
        let c = field_changes(&old, &new);
        let fields: Vec<_> = c
            .iter()
            .map(|c| (c.field.as_str(), c.old.as_deref(), c.new.as_deref()))
            .collect();
        assert_eq!(
            fields,
            [
                ("spec.a", Some("1"), Some("2")),
                ("spec.added", None, Some("\"x\"")),
                ("spec.gone", Some("true"), None)
            ]
        );
    }

    fn aliyun_task(name: &str, provider: &str, dialog_id: i64) -> Task {
        use crate::manifest::{Source, Spec, Vendor};
        use crate::vendor::aliyun::spec::AliyunSpec;
        Task {
            name: name.into(),
            vendor: Vendor::Aliyun,
            provider: provider.into(),
            labels: Default::default(),
            spec: Spec::Aliyun(AliyunSpec {
                task_name: None,
                dialog_id,
                caller: vec!["057100000001".into()],
                callees: None,
                callees_file: None,
                corp_name: None,
                is_self_line: None,
                number_status_ident: true,
                retry_type: 0,
                recall_times: None,
                recall_interval: None,
                recall_state_codes: None,
                schedule_time: None,
            }),
            status: Default::default(),
            callees: None,
            moved_from: None,
            source: Source {
                file: std::path::Path::new("t.yaml").into(),
                line: 1,
            },
            policy: Default::default(),
        }
    }

    /// Enough tasks to be planned on several threads: every task gets the action its record
    /// calls for, in name order, and orphans fall in between, as if planned one by one.
    #[test]
    fn large_plans_are_planned_in_parallel_in_order() {
        use crate::state::{State, TaskRecord, TaskStatus};
        let n = PARALLEL_FROM * 2 + 7;
        let mut project = Project::defaults(std::path::Path::new("."));
        project.sandbox = true;
        let mut state = State::new();
        let record = |task: &Task, status: TaskStatus| {
            let c = canonical(task, &project.timezone_name, &state.salt);
            TaskRecord {
                vendor: "aliyun".into(),
                provider: "aliyun".into(),
                endpoint: project.endpoint("aliyun", task.vendor),
                status,
                task_id: Some(format!("id-{}", task.name)),
                spec_digest: c.digest,
                canonical_version: CANONICAL_VERSION,
                spec: c.form.into(),
                created_at: "2026-11-22T00:00:00Z".into(),
                request_id: None,
                warnings: Vec::new(),
                uncertain_reason: None,
                superseded: Vec::new(),
                callees: None,
                run: None,
                observed: None,
                update: None,
            }
        };
        let mut manifests = Manifests::default();
        let mut records = BTreeMap::new();
        // Written in reverse, so the planner has to sort them.
        for i in (0..n).rev() {
            let task = aliyun_task(&format!("t-{i:05}"), "aliyun", 1);
            match i % 5 {
                0 => {}
                1 => drop(records.insert(task.name.clone(), record(&task, TaskStatus::Created))),
                2 => {
                    let old = aliyun_task(&task.name, "aliyun", 2);
                    records.insert(task.name.clone(), record(&old, TaskStatus::Created));
                }
                3 => drop(records.insert(task.name.clone(), record(&task, TaskStatus::Uncertain))),
                _ => {
                    // Only in the state, between two tasks of the manifests.
                    records.insert(task.name.clone(), record(&task, TaskStatus::Created));
                    continue;
                }
            }
            manifests.tasks.push(task);
        }
        state.tasks = records;
        let made = plan(
            &manifests,
            &project,
            Some(&state),
            &test_place(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(made.tasks.len(), n);
        for (i, p) in made.tasks.iter().enumerate() {
            assert_eq!(p.name, format!("t-{i:05}"));
            let expected = [
                Action::Create,
                Action::NoOp,
                Action::Blocked,
                Action::Uncertain,
                Action::Orphaned,
            ][i % 5];
            assert_eq!(p.action, expected, "{}", p.name);
            if i % 5 != 0 {
                assert_eq!(
                    p.task_id.as_deref(),
                    Some(format!("id-{}", p.name).as_str())
                );
            }
        }
        assert_eq!(made.summary.no_op, (0..n).filter(|i| i % 5 == 1).count());
        assert_eq!(made.summary.orphaned, (0..n).filter(|i| i % 5 == 4).count());

        // With a refused endpoint, the first task in name order is the one reported.
        project.sandbox = false;
        let mut bad = crate::project::Provider {
            name: "bad".into(),
            vendor: crate::manifest::Vendor::Aliyun,
            endpoint: Some("http://example.com".into()),
            parallelism: None,
            connect_timeout_ms: None,
            request_timeout_ms: None,
            region: None,
            user_id: None,
            credentials: BTreeMap::new(),
        };
        project.providers.insert("bad".into(), bad.clone());
        bad.name = "aliyun".into();
        bad.endpoint = Some("https://example.com".into());
        project.providers.insert("aliyun".into(), bad);
        // One in each half: the halves are planned on different threads.
        for i in [n - 3, 10] {
            let name = format!("t-{i:05}");
            let at = manifests.tasks.iter().position(|t| t.name == name).unwrap();
            manifests.tasks[at] = aliyun_task(&name, "bad", 1);
        }
        let err = plan(
            &manifests,
            &project,
            Some(&state),
            &test_place(),
            &Options::default(),
        )
        .unwrap_err();
        let err = err.to_string();
        assert!(
            err.starts_with(&format!("t-{:05}: the endpoint of provider `bad`", 10)),
            "{err}"
        );
    }

    /// An uncertain create is decided by its lookup: one match adopts it (nothing to
    /// send), two stay uncertain with both listed, none stays uncertain (no listing is
    /// proof of absence); without a lookup it stays uncertain.
    #[test]
    fn lookups_decide_uncertain_creates() {
        use crate::state::{State, TaskRecord, TaskStatus};
        let mut project = Project::defaults(std::path::Path::new("."));
        project.sandbox = true;
        let mut state = State::new();
        let task = aliyun_task("t", "aliyun", 1);
        let c = canonical(&task, &project.timezone_name, &state.salt);
        state.tasks.insert(
            "t".into(),
            TaskRecord {
                vendor: "aliyun".into(),
                provider: "aliyun".into(),
                endpoint: project.endpoint("aliyun", task.vendor),
                status: TaskStatus::Uncertain,
                task_id: None,
                spec_digest: c.digest,
                canonical_version: CANONICAL_VERSION,
                spec: c.form.into(),
                created_at: "2026-11-22T00:00:00Z".into(),
                request_id: None,
                warnings: Vec::new(),
                uncertain_reason: None,
                superseded: Vec::new(),
                callees: None,
                run: None,
                observed: None,
                update: None,
            },
        );
        let mut manifests = Manifests::default();
        manifests.tasks.push(task);
        let candidate = |id: &str| adopt::Candidate {
            task_id: id.into(),
            status: crate::driver::Lifecycle::NotStarted,
            raw: "INIT".into(),
            // 08:01 Beijing time: one minute after the intent.
            created: Some("2026-11-22 08:01:00".into()),
        };
        let planned = |candidates: Vec<adopt::Candidate>| {
            let options = Options {
                lookups: [(
                    "t".to_string(),
                    adopt::Lookup::Listed {
                        candidates,
                        at: "2026-11-22T00:05:00Z".into(),
                    },
                )]
                .into(),
                ..Options::default()
            };
            plan(&manifests, &project, Some(&state), &test_place(), &options).unwrap()
        };
        let one = planned(vec![candidate("9")]);
        assert_eq!(one.tasks[0].action, Action::Adopt);
        assert_eq!(one.tasks[0].task_id.as_deref(), Some("9"));
        assert_eq!(one.summary.adopt, 1);
        assert!(one.has_changes());
        assert!(one.looked_up.contains_key("t"));
        let two = planned(vec![candidate("9"), candidate("10")]);
        assert_eq!(two.tasks[0].action, Action::Uncertain);
        assert_eq!(two.tasks[0].candidates.len(), 2);
        assert!(two.tasks[0].hints[0].starts_with("candidate: task 9"));
        let none = planned(vec![]);
        assert_eq!(none.tasks[0].action, Action::Uncertain);
        assert!(none.tasks[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("not proof"));
        let without = plan(
            &manifests,
            &project,
            Some(&state),
            &test_place(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(without.tasks[0].action, Action::Uncertain);
        assert!(without.looked_up.is_empty());
    }

    fn test_place() -> Place {
        let w = std::path::Path::new("/nonexistent-workdir");
        Place::new(w, w.join("d").as_path(), None, w.join("s").as_path(), false)
    }

    /// The planner reads no clock and no random number generator: the time and the salt
    /// for a plan made before any state exists are its inputs, so the same inputs make
    /// the same plan.
    #[test]
    fn the_time_and_the_salt_are_inputs() {
        let mut project = Project::defaults(std::path::Path::new("."));
        project.sandbox = true;
        let mut manifests = Manifests::default();
        manifests.tasks.push(aliyun_task("t", "aliyun", 1));
        let options = Options {
            salt: "00112233445566778899aabbccddeeff".into(),
            now: "2030-01-02T03:04:05.678Z".parse().unwrap(),
            ..Options::default()
        };
        let made = || plan(&manifests, &project, None, &test_place(), &options).unwrap();
        let first = made();
        assert_eq!(first.created_at, "2030-01-02T03:04:05Z");
        assert_eq!(first.salt.as_deref(), Some(options.salt.as_str()));
        assert_eq!(first, made());
    }
}
