//! The state's data: what callform has created (or may have created) at the vendors.
//!
//! Nothing here knows where a state is kept; every backend stores and returns these types,
//! and `validate` is the one check a state passes before it is believed or written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::replay::Folded;
use crate::driver::{Lifecycle, Verb};

/// The state format this callform writes. Version 2 added the checksum line; version 3
/// the callee batches and run record of each task; version 4 the paused and stopped run
/// states, the verb a run record waits on, what the vendor last said of each task
/// (`observed`) and an update not yet proven. Versions 1 to 3 are still read, and saved as
/// version 4.
pub const FORMAT_VERSION: u32 = 4;

/// The oldest state format this callform reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// The state file's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// 32 lowercase hex characters, random, fixed when the state is created. A journal, a
    /// saved plan or a save that names another lineage belongs to another state.
    pub lineage: String,
    /// Bumped on every save.
    pub serial: u64,
    /// 32 lowercase hex characters, random: the key of the personal-data digests in specs.
    pub salt: String,
    /// Keyed by callform task name.
    #[serde(deserialize_with = "unique_tasks")]
    pub tasks: BTreeMap<String, TaskRecord>,
}

/// The task map, read as a list and built in one pass (states are written sorted), and
/// refused when a name appears twice: keeping either record silently could forget a task
/// that exists at the vendor, and the next apply would create it again.
fn unique_tasks<'de, D>(deserializer: D) -> Result<BTreeMap<String, TaskRecord>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Records;
    impl<'de> serde::de::Visitor<'de> for Records {
        type Value = Vec<(String, TaskRecord)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of task names to records")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let mut records = deserializer.deserialize_map(Records)?;
    if !records.is_sorted_by(|a, b| a.0 < b.0) {
        records.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = records.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(serde::de::Error::custom(format!(
                "task `{}` is recorded twice",
                pair[0].0
            )));
        }
    }
    Ok(records.into_iter().collect())
}

/// One task callform created (or may have created) at a vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    pub vendor: String,
    pub provider: String,
    pub endpoint: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `sha256:<hex>` of the canonical spec.
    pub spec_digest: String,
    pub canonical_version: u32,
    /// The canonical spec, already free of personal data.
    pub spec: StoredSpec,
    /// RFC 3339 UTC; for an uncertain task, when the intent was recorded.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertain_reason: Option<String>,
    /// Tasks this one replaced (`--replace`): they may still run at the vendor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<Superseded>,
    /// The callees loaded into the task, batch by batch; absent: none loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callees: Option<CalleeProgress>,
    /// Whether the task was started; absent: not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
    /// What the vendor said of the task when it was last read back (`refresh --write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<ObservedRecord>,
    /// An update in place whose outcome is not proven: the task may hold either spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<PendingUpdate>,
}

/// The vendor's word on a task, as `refresh --write` recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedRecord {
    pub status: Lifecycle,
    /// The vendor's own value.
    pub raw: String,
    /// When it was read (RFC 3339 UTC).
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// An update in place that was sent and whose outcome is unknown (or in flight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingUpdate {
    /// The digest of the spec the update carried.
    pub spec_digest: String,
    pub at: String,
    pub in_flight: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The callees loaded into a task. Never a number or a value: each batch keeps a keyed
/// digest of every row from the first up to its end (`through`), so that no stored digest
/// covers only a few numbers unless the task's whole list is that small.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalleeProgress {
    /// Rows loaded: the sum of the batches' `n`.
    pub rows: u64,
    /// The loaded batches, contiguous from `i = 0`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<Batch>,
    /// The batch sent last whose outcome is not proven, or that the vendor refused for the
    /// task's state at the vendor: it blocks the task until resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// The task name the `through` digests are keyed with, when it is not the name the
    /// record is kept under now: a record moved by a rename (`state mv`, `moved_from`)
    /// keeps its digests, which cannot be made again without the rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed_as: Option<String>,
}

impl CalleeProgress {
    /// Records the pending batch `pending` as loaded, after the batches before it, with
    /// `why` (how that is known) among the record's warnings.
    pub fn mark_loaded(&mut self, pending: Pending, warnings: &mut Vec<String>, why: String) {
        self.rows += u64::from(pending.n);
        self.batches.push(Batch {
            i: pending.i,
            n: pending.n,
            through: pending.through,
        });
        warnings.push(why);
    }
}

impl TaskRecord {
    /// Notes, before the record is kept under another name, the name its callee digests
    /// are keyed with (the first one, for a record moved twice).
    pub fn moving_from(&mut self, old: &str) {
        let superseded = self
            .superseded
            .iter_mut()
            .filter_map(|s| s.callees.as_mut());
        for c in self.callees.iter_mut().chain(superseded) {
            c.keyed_as.get_or_insert_with(|| old.to_string());
        }
    }
}

/// One loaded batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub i: u32,
    /// Rows in it.
    pub n: u32,
    /// `h1:<32 hex>`: the digest of every row from the first to this batch's end
    /// (`canonical::callees::Through`); `v2:…` for a batch recorded by an older callform.
    pub through: String,
}

/// A batch whose outcome is not (yet) a proven load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub i: u32,
    /// Its first row (0-based): the `rows` loaded before it.
    pub offset: u64,
    pub n: u32,
    pub through: String,
    /// When its intent was recorded.
    pub at: String,
    pub state: PendingState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The vendor's code, for a refused batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Sent in the create request itself (Volcengine's `PhoneList`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_create: bool,
}

/// Where a pending batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingState {
    /// Its intent is recorded and no outcome yet: a run is sending it now. Never saved: a
    /// replay that ends with one turns it `uncertain`.
    InFlight,
    /// It may or may not have reached the vendor.
    Uncertain,
    /// The vendor refused it because of the task's state there (running, finished): nothing
    /// was loaded, but a person must act before it is sent again.
    Refused,
}

/// Whether a task was started at the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub state: RunState,
    pub at: String,
    /// How: the start request's name (`task/start`, `StartRobotTask`), `create` (Volcengine's
    /// `Start: true`), or `marked` (recorded by `callform state start`).
    pub how: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The verb in flight or uncertain (`pause`, `resume`, `stop`); absent: the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<Verb>,
    /// Where the task stood before that verb: what a refusal returns it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<RunState>,
}

impl RunRecord {
    /// A record of a start (or of its absence), without a verb pending.
    pub fn new(state: RunState, at: String, how: String, reason: Option<String>) -> RunRecord {
        RunRecord {
            state,
            at,
            how,
            reason,
            verb: None,
            before: None,
        }
    }
}

/// Where a task's start stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started (or recorded as started): the task dials.
    Started,
    /// Recorded as not started (a start refused, or `state start NAME not-started`).
    NotStarted,
    /// A start is being sent now (never saved: a replay ending with it makes it uncertain).
    InFlight,
    /// A start (or the verb in `RunRecord::verb`) may or may not have reached the vendor.
    Uncertain,
    /// Paused by `callform` (a pause done): nobody is dialled until a resume.
    Paused,
    /// Stopped for good: it never dials again.
    Stopped,
}

/// A canonical spec as stored: the JSON text it was read as. A no-change plan compares only
/// digests, so the specs of 100,000 records are not built into JSON trees unless a diff needs
/// one ([`StoredSpec::value`]); a record read and saved again keeps its text as it was.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredSpec(Box<serde_json::value::RawValue>);

impl StoredSpec {
    /// The spec as a JSON tree (`null` if the stored text were somehow not JSON).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for StoredSpec {
    fn from(value: serde_json::Value) -> StoredSpec {
        // Serialising a JSON value cannot fail; the default raw value is `null`.
        StoredSpec(serde_json::value::to_raw_value(&value).unwrap_or_default())
    }
}

impl PartialEq for StoredSpec {
    fn eq(&self, other: &StoredSpec) -> bool {
        self.0.get() == other.0.get() || self.value() == other.value()
    }
}

impl std::fmt::Debug for StoredSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.get())
    }
}

/// Whether the vendor confirmed the create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// The vendor answered with a task id.
    Created,
    /// The task may exist at the vendor; callform will not create it again by itself.
    Uncertain,
}

/// A task replaced by a newer one with `--replace`; kept so its id is never lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Superseded {
    pub task_id: String,
    pub endpoint: String,
    pub spec_digest: String,
    pub created_at: String,
    pub superseded_at: String,
    /// The callees loaded into it when it was replaced (its batches, digests and any
    /// pending batch, as its record had them): the old task holds those people and may
    /// still dial them. Absent: none loaded (or replaced by a callform that did not keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callees: Option<CalleeProgress>,
    /// Its run record when it was replaced: whether the old task may still be dialling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

impl State {
    /// A new, empty state with a random lineage and salt, serial 0 (never saved).
    pub fn new() -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: random_hex(16),
            serial: 0,
            salt: random_hex(16),
            tasks: BTreeMap::new(),
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// A loaded state together with what happened to the journal of a run left pending.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// `None` when neither a stored state nor a journal with records exists.
    pub state: Option<State>,
    /// `None` when no run is pending (for the file store: no journal file); otherwise what
    /// replaying it changed (or that it had already been folded into the state, see
    /// [`Folded::already_folded`]).
    pub journal: Option<Folded>,
}

/// Now, as RFC 3339 UTC with seconds precision (`2026-01-31T08:00:00Z`).
pub fn now_rfc3339() -> String {
    // To the millisecond: a step and a read-back of the same task in one second must still
    // be told apart (which is newer decides what the plan acts on).
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_millisecond(now.as_millisecond())
        .unwrap_or(now)
        .to_string()
}

/// Whether the time `a` is later than `b` (both RFC 3339, as recorded: with or without
/// fractions of a second). Times that do not parse compare as text.
pub fn is_later(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// The rules serde cannot express; checked on load and before every save.
pub(crate) fn validate(state: &State) -> Result<(), String> {
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&state.format_version) {
        return Err(format!("unknown `format_version` {}", state.format_version));
    }
    if !is_hex32(&state.lineage) {
        return Err(format!(
            "`lineage` must be 32 lowercase hex characters, found {:?}",
            state.lineage
        ));
    }
    if !is_hex32(&state.salt) {
        return Err("`salt` must be 32 lowercase hex characters".into());
    }
    for (name, record) in &state.tasks {
        if record.status == TaskStatus::Created
            && record.task_id.as_deref().is_none_or(str::is_empty)
        {
            return Err(format!("task `{name}` is `created` but has no `task_id`"));
        }
        if record.superseded.iter().any(|s| s.task_id.is_empty()) {
            return Err(format!("task `{name}` has a superseded task without an id"));
        }
        validate_steps(name, record).map_err(|e| format!("task `{name}`: {e}"))?;
    }
    Ok(())
}

/// The format-3 rules of a task's callee batches and run record: what replay produces, so
/// a state that breaks one was edited or damaged, and believing it could load a callee
/// twice or forget a loaded batch.
fn validate_steps(name: &str, record: &TaskRecord) -> Result<(), String> {
    let created = record.status == TaskStatus::Created;
    if let Some(c) = &record.callees {
        let mut rows = 0u64;
        for (k, b) in c.batches.iter().enumerate() {
            if u64::from(b.i) != k as u64 {
                return Err(format!(
                    "`callees.batches[{k}].i` is {}; expected {k} (batches are contiguous from i = 0)",
                    b.i
                ));
            }
            if b.n == 0 {
                return Err(format!(
                    "`callees.batches[{k}].n` is 0; expected the rows of a loaded batch (1 or more)"
                ));
            }
            if !is_through(&b.through) {
                return Err(format!(
                    "`callees.batches[{k}].through` is not a digest; expected `h1:` and 32 lowercase hex characters (or `v2:…` from an older callform)"
                ));
            }
            rows += u64::from(b.n);
        }
        if c.rows != rows {
            return Err(format!(
                "`callees.rows` is {}; expected {rows}, the sum of the batches' `n`",
                c.rows
            ));
        }
        if !c.batches.is_empty() && !created {
            return Err(format!(
                "`callees.batches` holds {} loaded batch(es) but the task is `uncertain`; expected batches only on a `created` task (a batch is sent to a task id)",
                c.batches.len()
            ));
        }
        if let Some(p) = &c.pending {
            let next = c.batches.len() as u64;
            if u64::from(p.i) != next {
                return Err(format!(
                    "`callees.pending.i` is {}; expected {next}, the batch after the last loaded one",
                    p.i
                ));
            }
            if p.offset != c.rows {
                return Err(format!(
                    "`callees.pending.offset` is {}; expected {}, the rows loaded before it",
                    p.offset, c.rows
                ));
            }
            if p.n == 0 {
                return Err(
                    "`callees.pending.n` is 0; expected the rows of the batch (1 or more)".into(),
                );
            }
            if !p.through.starts_with("h1:") || !is_through(&p.through) {
                return Err("`callees.pending.through` is not a digest; expected `h1:` and 32 lowercase hex characters".into());
            }
            if p.state == PendingState::InFlight {
                return Err("`callees.pending.state` is `in_flight`, which is never saved; expected `uncertain` or `refused`".into());
            }
            if p.in_create && p.i != 0 {
                return Err(format!(
                    "`callees.pending.in_create` is set on batch {}; expected it only on batch 0 (the create carries the first batch)",
                    p.i
                ));
            }
            if !created && !p.in_create {
                return Err("`callees.pending` is a batch sent after the create but the task is `uncertain`; expected only the batch the create carried (`in_create`)".into());
            }
        }
        if let Some(k) = &c.keyed_as {
            if k.is_empty() || k == name {
                return Err(format!(
                    "`callees.keyed_as` is {k:?}; expected the name the record was moved from, never empty nor its own name (leave it out instead)"
                ));
            }
        }
    }
    if record.update.as_ref().is_some_and(|u| u.in_flight) {
        return Err("`update.in_flight` is true, which is never saved; expected an update whose outcome is unknown (`in_flight: false`)".into());
    }
    if let Some(run) = &record.run {
        if run.state == RunState::InFlight {
            return Err(
                "`run.state` is `in_flight`, which is never saved; expected `started`, `not_started`, `paused`, `stopped` or `uncertain`".into(),
            );
        }
        if run.verb.is_some() && run.state != RunState::Uncertain {
            return Err(format!(
                "`run.verb` is set while `run.state` is `{}`; expected a verb only on an `uncertain` run (the pause, resume or stop whose outcome is unknown)",
                run_state_name(run.state)
            ));
        }
        let carried_by_uncertain_create = run.how == "create" && run.state == RunState::Uncertain;
        if !created && !carried_by_uncertain_create {
            return Err(format!(
                "`run` is recorded ({}, by {:?}) but the task is `uncertain`; expected a run record only on a `created` task (or the start an uncertain create carried, itself uncertain)",
                run_state_name(run.state),
                run.how
            ));
        }
        if run.how.is_empty() {
            return Err(
                "`run.how` is empty; expected the start request's name, `create` or `marked`"
                    .into(),
            );
        }
    }
    Ok(())
}

fn run_state_name(state: RunState) -> &'static str {
    match state {
        RunState::Started => "started",
        RunState::NotStarted => "not_started",
        RunState::InFlight => "in_flight",
        RunState::Uncertain => "uncertain",
        RunState::Paused => "paused",
        RunState::Stopped => "stopped",
    }
}

/// `h1:` and 32 lowercase hex characters, or an older callform's `v2:` and a digest.
fn is_through(s: &str) -> bool {
    match (s.strip_prefix("h1:"), s.strip_prefix("v2:")) {
        (Some(hex), _) => is_hex32(hex),
        (None, Some(rest)) => !rest.is_empty(),
        _ => false,
    }
}

/// A vendor task id recorded for two different tasks of the same provider and endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedId {
    pub task_id: String,
    pub provider: String,
    /// The two task names, in name order.
    pub tasks: (String, String),
}

/// Vendor ids that more than one task records (as its id or as one it superseded): one of
/// those records is not what the state says, and acting on either could stop the wrong task
/// or create one again. Ids from the sandbox emulator are left out: it starts afresh, with
/// the same ids, on every sandbox run.
pub fn shared_ids(state: &State) -> Vec<SharedId> {
    use std::collections::hash_map::Entry;
    use std::collections::HashMap;
    // Keyed by the id alone (short, cheap to hash for 100,000 records); the rare id seen
    // on another provider or endpoint first goes to a second map keyed by all three.
    let mut seen: HashMap<&str, (&str, &str, &str)> = HashMap::with_capacity(state.tasks.len());
    let mut elsewhere: HashMap<(&str, &str, &str), &str> = HashMap::new();
    let mut out = Vec::new();
    for (name, rec) in &state.tasks {
        if rec.endpoint.starts_with("sandbox://") {
            continue;
        }
        let ids = rec
            .task_id
            .iter()
            .map(|id| (id.as_str(), rec.endpoint.as_str()))
            .chain(
                rec.superseded
                    .iter()
                    .map(|s| (s.task_id.as_str(), s.endpoint.as_str())),
            );
        let provider = rec.provider.as_str();
        for (id, endpoint) in ids {
            let first = match seen.entry(id) {
                Entry::Vacant(slot) => {
                    slot.insert((provider, endpoint, name));
                    continue;
                }
                Entry::Occupied(first) => *first.get(),
            };
            let earlier = if (first.0, first.1) == (provider, endpoint) {
                Some(first.2)
            } else {
                match elsewhere.entry((provider, endpoint, id)) {
                    Entry::Vacant(slot) => {
                        slot.insert(name);
                        None
                    }
                    Entry::Occupied(other) => Some(*other.get()),
                }
            };
            if let Some(earlier) = earlier.filter(|e| *e != name.as_str()) {
                out.push(SharedId {
                    task_id: id.to_string(),
                    provider: rec.provider.clone(),
                    tasks: (earlier.to_string(), name.clone()),
                });
            }
        }
    }
    out
}

pub(crate) fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `bytes` random bytes as lowercase hex.
/// A fresh salt, as [`State::new`] makes (a plan made before any state exists records the
/// one the first apply will give the new state).
pub fn random_salt() -> String {
    random_hex(16)
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // A salt or lineage must never be predictable; without the OS generator there is no
    // honest fallback.
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
