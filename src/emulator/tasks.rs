//! The tasks the emulator created, in creation order, with what each holds now: its run
//! state and its callees in load order.
//!
//! `GET /_emulator/tasks` shows every task as `{vendor, task_id, name, request, run,
//! started_at, ended_at, schedule_time, called, verbs, callees: {count, calls,
//! duplicates, refused}}` — `run` one of `not_started`, `running`, `scheduled`, `paused`,
//! `finished`, `stopped`, `deleted` ([`Run`], which each vendor module maps to its own
//! enumeration); `called` the progress the vendor reports (set by the console); `verbs`
//! the accepted verb requests by name (`{"pause": 1, "stop": 1}`) — and the create
//! request as the vendor received it (method, path, decoded query, content type, parsed
//! body), so tests can assert on what a driver actually sent, and counters in place of
//! the numbers. `GET /_emulator/tasks/{id}/callees` gives the callees themselves
//! ([`Callees::view`]); it exists for tests, on loopback like everything here.
//!
//! Callees are kept compactly, since a benchmark loads a million: the number as a `u64`
//! (its digits behind a leading `1`, so a fixed line's `0` survives), the values as one
//! JSON text per row, and a set of the numbers held for the vendors' duplicate rules.
//!
//! The counters are what tests assert on: `calls` counts every load request that named
//! the task and passed authentication and the shape checks; `refused` those of them the
//! task's state or contents refused (started, a repeat, a column mismatch, a limit);
//! `duplicates` every attempt to load a number the task already holds (or one repeated
//! within the call), whatever the vendor answered — so an end-to-end test can say "no
//! person was ever sent twice" by `duplicates == 0`.
//!
//! Nothing secret is kept: headers are not recorded, and xfyeta's token, which travels
//! in the query, is stored as `***`.

use super::faults::random_u64;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;

pub(crate) use crate::manifest::Vendor;

/// The request that created a task, as received.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Decoded (name, value) pairs in the order sent; serialised as `[[name, value], …]`.
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The parsed JSON body, or `null` when the parameters travel in the query.
    pub body: Option<Value>,
}

/// Where a task is in its life, as the emulator keeps it (each vendor module maps it to
/// its own enumeration, in one table of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Run {
    /// Created, never started.
    NotStarted,
    /// Dialling (within its own calling hours).
    Running,
    /// Started for a later time (Aliyun's `ScheduleTime`).
    Scheduled,
    /// Started once, paused since (a pause verb, or the console).
    Paused,
    /// Every callee was called (the console's `finish`).
    Finished,
    /// Terminated: a stop verb or the console's `stop`. Nothing leaves this state.
    Stopped,
    /// Deleted: a delete verb or the console's `delete`. Nothing leaves this state.
    Deleted,
}

impl Run {
    /// Whether nothing can change the task any more but a delete (finished, stopped) or
    /// nothing at all (deleted).
    pub(crate) fn is_over(self) -> bool {
        matches!(self, Run::Finished | Run::Stopped | Run::Deleted)
    }

    /// Whether it dials now or will by itself (running, scheduled).
    pub(crate) fn is_live(self) -> bool {
        matches!(self, Run::Running | Run::Scheduled)
    }

    /// The name `GET /_emulator/tasks` shows.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Run::NotStarted => "not_started",
            Run::Running => "running",
            Run::Scheduled => "scheduled",
            Run::Paused => "paused",
            Run::Finished => "finished",
            Run::Stopped => "stopped",
            Run::Deleted => "deleted",
        }
    }
}

/// One callee as the vendor holds it.
#[derive(Debug, Clone)]
struct Callee {
    /// The number's digits behind a leading `1` (see [`encode_number`]).
    number: u64,
    /// What longlonglong's `number_add_suffix` appended (`_` and random characters).
    suffix: Option<Box<str>>,
    /// The row's values as a JSON object text, when it has any.
    vars: Option<Box<str>>,
}

/// A task's callees, in load order, and the counters of its load requests.
#[derive(Debug, Default)]
pub(crate) struct Callees {
    /// The names of the values, in the order first seen (xfyeta: `call_column[1..]`).
    columns: Vec<String>,
    /// xfyeta: `call_column[0]`, the label of the number column, fixed by the first insert.
    phone_column: Option<String>,
    rows: Vec<Callee>,
    held: HashSet<u64>,
    pub calls: u64,
    pub duplicates: u64,
    pub refused: u64,
}

impl Callees {
    /// How many callees the task holds.
    pub(crate) fn count(&self) -> usize {
        self.rows.len()
    }

    /// Whether the task holds `number` already.
    pub(crate) fn holds(&self, number: &str) -> bool {
        encode_number(number).is_some_and(|n| self.held.contains(&n))
    }

    /// The value columns fixed so far (xfyeta: by the first insert).
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The number column's label, once fixed.
    pub(crate) fn phone_column(&self) -> Option<&str> {
        self.phone_column.as_deref()
    }

    /// Fixes the number column's label (xfyeta's first insert).
    pub(crate) fn set_phone_column(&mut self, label: &str) {
        self.phone_column = Some(label.to_string());
    }

    /// Adds value columns, in wire order, that the task does not have yet.
    pub(crate) fn add_columns<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            if !self.columns.iter().any(|c| c == name) {
                self.columns.push(name.to_string());
            }
        }
    }

    /// Appends a callee. `number` must be digits (the vendor module checked it); values
    /// name their columns, which join the task's columns in the order first seen.
    /// Returns false, storing nothing, for a number that is not digits.
    pub(crate) fn push(
        &mut self,
        number: &str,
        suffix: Option<&str>,
        vars: Option<&Map<String, Value>>,
    ) -> bool {
        let Some(encoded) = encode_number(number) else {
            return false;
        };
        let vars = vars.filter(|v| !v.is_empty()).map(|v| {
            self.add_columns(v.keys().map(String::as_str));
            Value::Object(v.clone()).to_string().into_boxed_str()
        });
        self.held.insert(encoded);
        self.rows.push(Callee {
            number: encoded,
            suffix: suffix.map(Into::into),
            vars,
        });
        true
    }

    /// The numbers of rows `from..from + n` in load order, a suffixed one with its suffix
    /// (`137…_ab12cd`): what a vendor's number list shows.
    pub(crate) fn numbers(&self, from: usize, n: usize) -> Vec<String> {
        self.rows
            .iter()
            .skip(from)
            .take(n)
            .map(|c| {
                let mut phone = decode_number(c.number);
                if let Some(s) = &c.suffix {
                    phone.push_str(s);
                }
                phone
            })
            .collect()
    }

    /// Removes the last `n` callees (a person deleting numbers in the console).
    pub(crate) fn remove_last(&mut self, n: usize) {
        let keep = self.rows.len().saturating_sub(n);
        for c in self.rows.drain(keep..) {
            if c.suffix.is_none() {
                self.held.remove(&c.number);
            }
        }
    }

    /// `{"columns": […], "phone_column"?: "…", "rows": [{"phone": "…", "vars": {…}}]}`,
    /// rows in load order; a suffixed number shows its suffix (`137…_ab12cd`).
    pub(crate) fn view(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|c| {
                let mut phone = decode_number(c.number);
                if let Some(s) = &c.suffix {
                    phone.push_str(s);
                }
                let vars = c
                    .vars
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .unwrap_or_else(|| Value::Object(Map::new()));
                serde_json::json!({ "phone": phone, "vars": vars })
            })
            .collect();
        let mut out = Map::new();
        out.insert("columns".into(), serde_json::json!(self.columns));
        if let Some(label) = &self.phone_column {
            out.insert("phone_column".into(), Value::String(label.clone()));
        }
        out.insert("rows".into(), Value::Array(rows));
        Value::Object(out)
    }
}

/// The digits behind a leading `1`, so leading zeros survive; `None` for anything but
/// 1 to 18 ASCII digits.
fn encode_number(number: &str) -> Option<u64> {
    let ok = (1..=18).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("1{number}").parse().ok()).flatten()
}

fn decode_number(encoded: u64) -> String {
    let text = encoded.to_string();
    text.get(1..).unwrap_or_default().to_string()
}

/// One created task.
#[derive(Debug)]
pub(crate) struct TaskRecord {
    pub vendor: Vendor,
    pub task_id: String,
    pub name: String,
    pub request: RecordedRequest,
    /// The task's settings now: the create body (or query, as a JSON object of strings),
    /// replaced by an accepted update.
    pub settings: Value,
    pub run: Run,
    /// What it was before it was deleted (xfyeta still lists a deleted task).
    pub before_delete: Option<Run>,
    /// When it was created (the emulator's clock).
    pub created_at: jiff::Timestamp,
    /// When it was first started (RFC 3339, UTC); it stays set after a pause.
    pub started_at: Option<String>,
    /// When it finished, was stopped or deleted (RFC 3339, UTC).
    pub ended_at: Option<String>,
    /// Aliyun's `ScheduleTime`, as sent.
    pub schedule_time: Option<String>,
    /// How many of its callees were called: the vendor's progress count. Only the
    /// console changes it (`POST /_emulator/tasks/{id}/console`); `finish` sets it to
    /// the callee count unless it gives `called`.
    pub called: u64,
    /// Accepted verb requests by name (`pause`, `resume`, `stop`, `cancel`, `delete`,
    /// `update`, …), whatever the fault did to the answer: proof of what was applied.
    pub verbs: std::collections::BTreeMap<&'static str, u64>,
    pub callees: Callees,
}

impl TaskRecord {
    /// Starts the task now, or for `schedule_time`.
    pub(crate) fn start(&mut self, schedule_time: Option<String>) {
        self.run = if schedule_time.is_some() {
            Run::Scheduled
        } else {
            Run::Running
        };
        self.schedule_time = schedule_time;
        if self.started_at.is_none() {
            self.started_at = Some(jiff::Timestamp::now().to_string());
        }
    }

    /// Pauses it. A task never started stays not started (the console's old `running:
    /// false` on a new task).
    pub(crate) fn pause(&mut self) {
        if self.was_started() {
            self.run = Run::Paused;
        }
    }

    /// Moves it to a state it cannot leave but by a delete (finished, stopped) or at all
    /// (deleted); the first such move sets `ended_at`.
    pub(crate) fn end(&mut self, run: Run) {
        if run == Run::Deleted {
            self.before_delete = Some(self.run);
        }
        if run == Run::Finished {
            self.called = self.callees.count() as u64;
        }
        self.run = run;
        if self.ended_at.is_none() {
            self.ended_at = Some(jiff::Timestamp::now().to_string());
        }
    }

    /// Counts an accepted verb request.
    pub(crate) fn count_verb(&mut self, verb: &'static str) {
        *self.verbs.entry(verb).or_default() += 1;
    }

    /// Whether it was ever started (a pause does not undo that).
    pub(crate) fn was_started(&self) -> bool {
        self.started_at.is_some()
    }

    /// How many callees were not called yet.
    pub(crate) fn remaining(&self) -> u64 {
        (self.callees.count() as u64).saturating_sub(self.called)
    }

    fn view(&self) -> TaskView<'_> {
        TaskView {
            vendor: self.vendor,
            task_id: &self.task_id,
            name: &self.name,
            request: &self.request,
            run: self.run,
            started_at: self.started_at.as_deref(),
            ended_at: self.ended_at.as_deref(),
            schedule_time: self.schedule_time.as_deref(),
            called: self.called,
            verbs: &self.verbs,
            callees: CalleeCounts {
                count: self.callees.count(),
                calls: self.callees.calls,
                duplicates: self.callees.duplicates,
                refused: self.callees.refused,
            },
        }
    }
}

/// A task as `GET /_emulator/tasks` shows it: no numbers.
#[derive(Debug, Serialize)]
pub(crate) struct TaskView<'a> {
    vendor: Vendor,
    task_id: &'a str,
    name: &'a str,
    request: &'a RecordedRequest,
    run: Run,
    started_at: Option<&'a str>,
    ended_at: Option<&'a str>,
    schedule_time: Option<&'a str>,
    called: u64,
    verbs: &'a std::collections::BTreeMap<&'static str, u64>,
    callees: CalleeCounts,
}

#[derive(Debug, Serialize)]
struct CalleeCounts {
    count: usize,
    calls: u64,
    duplicates: u64,
    refused: u64,
}

/// All created tasks, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    records: Vec<TaskRecord>,
    /// Task id → its index in `records`: loads name their task by id, thousands a run.
    index: std::collections::HashMap<String, usize>,
    /// The last id handed out for a callee (xfyeta's `task_data_ids`).
    last_data_id: u64,
}

impl Tasks {
    /// Records a new task, not started, with no callees and returns its id, shaped like the
    /// vendor's own ids (`Vendor::emulator_task_id`).
    pub(crate) fn create(
        &mut self,
        vendor: Vendor,
        name: String,
        request: RecordedRequest,
    ) -> String {
        let n = self.records.len() as u64 + 1;
        let task_id = vendor.def().emulator_task_id(n);
        self.index.insert(task_id.clone(), self.records.len());
        let settings = match &request.body {
            Some(body) => body.clone(),
            None => Value::Object(
                request
                    .query
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        };
        self.records.push(TaskRecord {
            vendor,
            task_id: task_id.clone(),
            name,
            request,
            settings,
            run: Run::NotStarted,
            before_delete: None,
            created_at: jiff::Timestamp::now(),
            started_at: None,
            ended_at: None,
            schedule_time: None,
            called: 0,
            verbs: std::collections::BTreeMap::new(),
            callees: Callees::default(),
        });
        task_id
    }

    /// The task with this id, of any vendor.
    pub(crate) fn get_mut(&mut self, task_id: &str) -> Option<&mut TaskRecord> {
        let i = *self.index.get(task_id)?;
        self.records.get_mut(i)
    }

    /// The task with this id, if `vendor` created it (a vendor never sees another's).
    pub(crate) fn of(&mut self, vendor: Vendor, task_id: &str) -> Option<&mut TaskRecord> {
        self.get_mut(task_id).filter(|r| r.vendor == vendor)
    }

    /// The task with this id, if `vendor` created it, to read.
    pub(crate) fn read(&self, vendor: Vendor, task_id: &str) -> Option<&TaskRecord> {
        let i = *self.index.get(task_id)?;
        self.records.get(i).filter(|r| r.vendor == vendor)
    }

    /// `vendor`'s tasks, oldest first.
    pub(crate) fn of_vendor(&self, vendor: Vendor) -> impl Iterator<Item = &TaskRecord> {
        self.records.iter().filter(move |r| r.vendor == vendor)
    }

    /// The task with this id as `GET /_emulator/tasks` shows it.
    pub(crate) fn shown(&self, task_id: &str) -> Option<Value> {
        let i = *self.index.get(task_id)?;
        let record = self.records.get(i)?;
        serde_json::to_value(record.view()).ok()
    }

    /// The next `n` callee ids, in order.
    pub(crate) fn data_ids(&mut self, n: usize) -> Vec<u64> {
        let first = self.last_data_id + 1;
        self.last_data_id += n as u64;
        (first..=self.last_data_id).collect()
    }

    /// The tasks as `GET /_emulator/tasks` shows them, as JSON.
    pub(crate) fn list(&self, vendor: Option<Vendor>) -> Value {
        let views: Vec<TaskView<'_>> = self
            .records
            .iter()
            .filter(|r| vendor.is_none_or(|v| r.vendor == v))
            .map(TaskRecord::view)
            .collect();
        serde_json::to_value(views).unwrap_or(Value::Null)
    }

    /// The callees of the task with this id ([`Callees::view`]).
    pub(crate) fn callees(&self, task_id: &str) -> Option<Value> {
        let i = *self.index.get(task_id)?;
        self.records.get(i).map(|r| r.callees.view())
    }

    /// The task's settings now (the create body, replaced or extended by accepted
    /// updates), for `GET /_emulator/tasks/{id}/settings`.
    pub(crate) fn settings(&self, task_id: &str) -> Option<Value> {
        let i = *self.index.get(task_id)?;
        self.records.get(i).map(|r| r.settings.clone())
    }
}

/// A random (version 4) UUID in its usual lowercase form.
pub(crate) fn uuid_v4() -> String {
    let (hi, lo) = (random_u64(), random_u64());
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: vec![("a".into(), "b".into())],
            content_type: None,
            body: None,
        }
    }

    #[test]
    fn ids_take_each_vendor_shape_and_records_keep_order() {
        let mut tasks = Tasks::default();
        let x = tasks.create(Vendor::Xfyeta, "one".into(), request());
        let l = tasks.create(Vendor::Longlonglong, "two".into(), request());
        let a = tasks.create(Vendor::Aliyun, "three".into(), request());
        let v = tasks.create(Vendor::Volcengine, "four".into(), request());
        assert!(x.bytes().all(|b| b.is_ascii_digit()));
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(l.len(), 36);
        assert_eq!(&l[14..15], "4");
        assert!(!v.is_empty());
        let list = tasks.list(None);
        let names: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, ["one", "two", "three", "four"]);
        assert_eq!(tasks.list(Some(Vendor::Aliyun))[0]["task_id"], a.as_str());
        assert!(tasks.of(Vendor::Aliyun, &x).is_none());
        assert!(tasks.of(Vendor::Xfyeta, &x).is_some());
    }

    #[test]
    fn records_serialise_as_documented() {
        let mut tasks = Tasks::default();
        let id = tasks.create(Vendor::Aliyun, "n".into(), request());
        let json = tasks.list(None);
        assert_eq!(json[0]["vendor"], "aliyun");
        assert_eq!(json[0]["request"]["query"], json!([["a", "b"]]));
        assert_eq!(json[0]["request"]["body"], Value::Null);
        assert_eq!(json[0]["run"], "not_started");
        assert_eq!(json[0]["started_at"], Value::Null);
        assert_eq!(json[0]["called"], 0);
        assert_eq!(json[0]["verbs"], json!({}));
        assert_eq!(
            json[0]["callees"],
            json!({"count": 0, "calls": 0, "duplicates": 0, "refused": 0})
        );
        let task = tasks.get_mut(&id).unwrap();
        task.start(Some("2030-01-01 09:00:00".into()));
        let json = tasks.list(None);
        assert_eq!(json[0]["run"], "scheduled");
        assert_eq!(json[0]["schedule_time"], "2030-01-01 09:00:00");
        assert!(json[0]["started_at"].is_string());
    }

    #[test]
    fn a_pause_keeps_the_first_start() {
        let mut tasks = Tasks::default();
        let id = tasks.create(Vendor::Xfyeta, "n".into(), request());
        let task = tasks.get_mut(&id).unwrap();
        assert!(!task.was_started());
        task.pause();
        assert_eq!(
            task.run,
            Run::NotStarted,
            "a task never started is not paused"
        );
        task.start(None);
        let first = task.started_at.clone();
        task.pause();
        assert_eq!(task.run, Run::Paused);
        assert!(task.was_started());
        task.start(None);
        assert_eq!(task.started_at, first);
    }

    #[test]
    fn ends_keep_what_was_before_a_delete_and_finish_counts_every_callee() {
        let mut tasks = Tasks::default();
        let id = tasks.create(Vendor::Xfyeta, "n".into(), request());
        let task = tasks.get_mut(&id).unwrap();
        assert_eq!(
            task.settings,
            json!({"a": "b"}),
            "a query create keeps its params"
        );
        task.callees.push("13700000001", None, None);
        task.callees.push("13700000002", None, None);
        task.start(None);
        assert!(task.run.is_live() && !task.run.is_over());
        task.end(Run::Finished);
        assert_eq!(
            (task.run, task.called, task.remaining()),
            (Run::Finished, 2, 0)
        );
        let ended = task.ended_at.clone();
        assert!(ended.is_some());
        task.end(Run::Deleted);
        assert_eq!(task.before_delete, Some(Run::Finished));
        assert_eq!(task.ended_at, ended, "the first end is kept");
        task.count_verb("delete");
        task.count_verb("delete");
        assert_eq!(tasks.shown(&id).unwrap()["verbs"], json!({"delete": 2}));
        assert_eq!(tasks.shown(&id).unwrap()["run"], "deleted");
        for run in [Run::NotStarted, Run::Paused, Run::Scheduled, Run::Stopped] {
            assert_eq!(serde_json::to_value(run).unwrap(), run.key());
        }
    }

    #[test]
    fn callees_keep_load_order_leading_zeros_values_and_suffixes() {
        let mut callees = Callees::default();
        callees.add_columns(["name", "amount"]);
        let vars: Map<String, Value> =
            serde_json::from_value(json!({"name": "张三", "amount": "100"})).unwrap();
        assert!(callees.push("13700000001", None, Some(&vars)));
        assert!(callees.push("057100000001", None, None));
        assert!(callees.push("13700000001", Some("_ab12cd"), None));
        assert!(!callees.push("137-0000", None, None));
        assert!(callees.holds("057100000001"));
        assert!(!callees.holds("57100000001"));
        assert_eq!(callees.count(), 3);
        assert_eq!(
            callees.view(),
            json!({
                "columns": ["name", "amount"],
                "rows": [
                    {"phone": "13700000001", "vars": {"name": "张三", "amount": "100"}},
                    {"phone": "057100000001", "vars": {}},
                    {"phone": "13700000001_ab12cd", "vars": {}}
                ]
            })
        );
    }

    #[test]
    fn numbers_encode_losslessly() {
        for n in ["0", "057100000001", "13700000001", "999999999999999999"] {
            assert_eq!(decode_number(encode_number(n).unwrap()), n);
        }
        assert_eq!(encode_number(""), None);
        assert_eq!(encode_number("1234567890123456789"), None);
        assert_eq!(encode_number("+8613700000001"), None);
    }

    #[test]
    fn data_ids_count_up() {
        let mut tasks = Tasks::default();
        assert_eq!(tasks.data_ids(2), [1, 2]);
        assert_eq!(tasks.data_ids(3), [3, 4, 5]);
        assert!(tasks.data_ids(0).is_empty());
    }

    #[test]
    fn vendor_keys_round_trip() {
        for v in Vendor::ALL {
            assert_eq!(Vendor::from_key(v.key()), Some(v));
        }
        assert_eq!(Vendor::from_key("aws"), None);
    }
}
