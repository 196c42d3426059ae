//! The compliance policy: `policy:` in callform.yaml, the rules it configures, and the one
//! entry point every plan and `validate` call, [`check`].
//!
//! A rule is identified by a [`RuleId`] and set to `error` (the finding stops `plan` and
//! `apply`, as a validation error does), `warn` (the finding is shown in every rendering
//! of the plan and in `validate`) or `off`. With no `policy:` at all, the documented
//! preset ([`Policy::preset`]) applies, every rule of it a warning.
//!
//! The check is pure: the tasks as loaded (with what each vendor's fields say of when it
//! dials, [`Dialling`]) and the policy in, a [`Compliance`] out. Each rule lives in a
//! module of its own and is called from [`check`] alone:
//!
//! - `hours.rs`: calling hours (`calling_hours`);
//! - `purpose.rs`: purposes and consent (`purpose`, `consent`);
//! - rules over callees (suppression lists, per-callee caps) plug in the same way: a
//!   module, a [`RuleId`] variant (with its preset level, cited in the README), its
//!   config under `policy:` ([`RawPolicy`], read in [`resolve`]), and one call in
//!   [`check`] — in the loop for a rule of one task, after it for a rule over every task
//!   at once. Findings are made with [`Finding::on`]; [`check`] then applies each task's
//!   status and exceptions to all of them, and every rendering shows them.
//!
//! A task may carry an exception for a rule (`exceptions: [{rule, reason}]`): its findings
//! of that rule stop nothing, and are shown with the reason wherever findings are, so the
//! reviewer sees what was let through and why. An exception that excuses nothing is a
//! warning: it would let a later change through unreviewed.

pub mod hours;
pub mod purpose;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::manifest::path::FieldPath;
use crate::manifest::time::LocalDateTime;
use crate::manifest::Task;

pub use hours::HoursPolicy;
pub use purpose::PurposePolicy;

/// The version of the compliance section of a plan (`compliance.version`), documented in
/// docs/plan-format.md. 1: findings, exceptions, partial checks.
pub const COMPLIANCE_VERSION: u32 = 1;

/// How strictly a rule is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A finding stops `plan` and `apply` (unless the task carries an exception for it).
    Error,
    /// A finding is shown in the plan and in `validate`, and stops nothing.
    Warn,
    /// The rule is not checked.
    Off,
}

impl Level {
    pub fn key(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Off => "off",
        }
    }
}

macro_rules! rules {
    ($($(#[doc = $doc:literal])* $id:ident = $key:literal, preset $level:ident;)+) => {
        /// The rules of the policy, by their names in `policy.rules` and in `exceptions`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum RuleId {
            $($(#[doc = $doc])* #[serde(rename = $key)] $id,)+
        }

        impl RuleId {
            pub const ALL: [RuleId; [$($key),+].len()] = [$(RuleId::$id),+];

            pub fn key(self) -> &'static str {
                match self {
                    $(RuleId::$id => $key,)+
                }
            }

            /// The level of the rule in the preset (see README, "Compliance").
            pub fn preset(self) -> Level {
                match self {
                    $(RuleId::$id => Level::$level,)+
                }
            }
        }
    };
}

rules! {
    /// Dialable time outside the allowed hours in the callee's time zone, or on a holiday.
    CallingHours = "calling_hours", preset Warn;
    /// A task of a purpose that requires consent carries no `consent:` reference.
    Consent = "consent", preset Warn;
    /// A task declares no `purpose:`.
    Purpose = "purpose", preset Off;
}

impl RuleId {
    pub fn from_key(key: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The names, for messages.
    pub fn keys() -> Vec<&'static str> {
        RuleId::ALL.iter().map(|r| r.key()).collect()
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// The policy in force: callform.yaml's `policy:` over the preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Whether callform.yaml has a `policy:` block (else this is the preset).
    pub configured: bool,
    /// Each rule's level.
    pub rules: BTreeMap<RuleId, Level>,
    /// Calling hours: allowed windows per weekday, holidays, the callee's time zone.
    pub hours: HoursPolicy,
    /// Purposes: the known ones, and what each requires (consent, stricter hours).
    pub purposes: PurposePolicy,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::preset()
    }
}

impl Policy {
    /// The preset, which applies when callform.yaml has no `policy:` (README,
    /// "Compliance", cites the source of each rule): every rule a warning; calls allowed
    /// 09:00–21:00 every day in Asia/Shanghai; `marketing` requires a consent reference.
    pub fn preset() -> Policy {
        Policy {
            configured: false,
            rules: RuleId::ALL.iter().map(|r| (*r, r.preset())).collect(),
            hours: HoursPolicy::preset(),
            purposes: PurposePolicy::preset(),
        }
    }

    pub fn level(&self, rule: RuleId) -> Level {
        self.rules.get(&rule).copied().unwrap_or(rule.preset())
    }
}

/// `policy:` as written in callform.yaml. Every key is optional: what is left out keeps
/// the preset's value. Unknown keys are refused (with their line), like every setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Rule name → `error` | `warn` | `off`.
    #[serde(default)]
    rules: Option<BTreeMap<String, Level>>,
    /// The callee's time zone, which calling hours are read in (default Asia/Shanghai).
    #[serde(default)]
    timezone: Option<String>,
    /// Allowed windows per weekday (`default`, `monday` … `sunday`, `holiday`).
    #[serde(default)]
    hours: Option<hours::RawHours>,
    /// Dates (`YYYY-MM-DD`) with the `holiday` windows (none by default: no calls).
    #[serde(default)]
    holidays: Option<Vec<String>>,
    /// A file of such dates, one a line (`#` starts a comment), relative to callform.yaml.
    #[serde(default)]
    holidays_file: Option<String>,
    /// Purpose → what it requires.
    #[serde(default)]
    purposes: Option<BTreeMap<String, purpose::RawPurpose>>,
}

/// Where diagnostics about callform.yaml's `policy:` point: the file and its parsed tree.
pub struct ConfigSite<'a> {
    pub file: &'a Path,
    pub root: &'a crate::manifest::yaml::Node,
    /// The directory of callform.yaml (a holidays file is relative to it).
    pub dir: &'a Path,
    /// Where files named in it must lie ([`crate::project::Project::input_roots`]).
    pub roots: &'a [std::path::PathBuf],
}

impl ConfigSite<'_> {
    /// An error at `path` of callform.yaml.
    pub fn error(&self, path: &FieldPath, message: impl Into<String>) -> Diagnostic {
        let pos = path.locate(self.root, false);
        Diagnostic::error(self.file, message)
            .at(pos.line, pos.col, pos.len)
            .field(path.to_string())
    }
}

/// Reads `policy:` (read by serde with the rest of callform.yaml) over the preset;
/// problems go to `diags`, and what was wrong keeps the preset's value.
pub fn resolve(
    raw: Option<RawPolicy>,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Policy {
    let mut policy = Policy::preset();
    let Some(raw) = raw else {
        return policy;
    };
    policy.configured = true;
    let base = FieldPath::root().k("policy");
    for (name, level) in raw.rules.unwrap_or_default() {
        match RuleId::from_key(&name) {
            Some(rule) => {
                policy.rules.insert(rule, level);
            }
            None => {
                let mut d = site
                    .error(
                        &base.k("rules").k(name.clone()),
                        format!("unknown rule `{name}`"),
                    )
                    .expected(format!("one of {}", RuleId::keys().join(", ")));
                if let Some(best) = crate::manifest::de::closest(&name, &RuleId::keys()) {
                    d = d.hint(format!("did you mean `{best}`?"));
                }
                diags.push(d);
            }
        }
    }
    policy.hours = hours::resolve(
        raw.timezone,
        raw.hours,
        raw.holidays,
        raw.holidays_file,
        &base,
        site,
        diags,
    );
    policy.purposes = purpose::resolve(raw.purposes, &base, site, diags);
    policy
}

/// A value of a task's manifest with the line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed<T> {
    pub value: T,
    pub line: usize,
}

/// `exceptions:` item of a task: findings of `rule` on this task stop nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub rule: RuleId,
    pub reason: String,
    pub line: usize,
}

/// What a task says for the policy: its envelope's `purpose`, `consent` and `exceptions`,
/// and when it dials (from its vendor's fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskPolicy {
    pub purpose: Option<Placed<String>>,
    /// A reference to where the callees' consent is recorded (never the consent itself).
    pub consent: Option<Placed<String>>,
    pub exceptions: Vec<Exception>,
    pub dialling: Dialling,
}

/// A manifest field a window comes from, for findings: its path and line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field {
    pub path: String,
    pub line: usize,
}

impl Field {
    /// The field at `path` (its line is found once the manifest's tree is at hand,
    /// [`Dialling::locate`]).
    pub fn at(path: FieldPath) -> Field {
        Field {
            path: path.to_string(),
            line: 0,
        }
    }
}

/// A daily window of the vendor's local time (Beijing): `begin` to `end`, ending the next
/// day when `end` ≤ `begin`.
#[derive(Debug, Clone, PartialEq)]
pub struct Daily {
    pub begin: jiff::civil::Time,
    pub end: jiff::civil::Time,
    pub field: Field,
}

/// A weekly window of the vendor's local time when the task does not dial (Volcengine's
/// `ForbidTimeList`): on `days` (all days when empty), `begin` to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Forbidden {
    pub days: Vec<jiff::civil::Weekday>,
    pub begin: jiff::civil::Time,
    pub end: jiff::civil::Time,
    pub field: Field,
}

/// A stretch of the project's time zone when the task does not dial (longlonglong's
/// `holiday`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub begin: LocalDateTime,
    pub end: LocalDateTime,
    pub field: Field,
}

/// When a task may dial, as its vendor's fields say: declared by each vendor
/// (`VendorSpec::dialling` in `crate::vendor`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dialling {
    /// The first moment it may dial (project time zone), when the manifest says.
    pub begin: Option<(LocalDateTime, Field)>,
    /// The last (project time zone); `None`: until stopped.
    pub end: Option<(LocalDateTime, Field)>,
    /// Daily windows in the vendor's local time; `None`: around the clock, unless
    /// `partial` says the windows are kept at the vendor.
    pub daily: Option<Vec<Daily>>,
    pub forbidden: Vec<Forbidden>,
    pub pauses: Vec<Pause>,
    /// Why the manifest does not hold the task's windows (they are at the vendor): the
    /// check of this task is partial, and says so.
    pub partial: Option<Partial>,
}

/// A task whose calling windows are not in its manifest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Partial {
    /// Where the windows are instead, in words.
    pub why: String,
    /// The field that names them (`spec.dial_time_id`), if any.
    pub field: Option<Field>,
}

impl Dialling {
    /// Fills in the line of every field from the task document's tree.
    pub fn locate(&mut self, root: &crate::manifest::yaml::Node) {
        let fix = |f: &mut Field| {
            f.line = parse_path(&f.path).locate(root, false).line;
        };
        if let Some((_, f)) = &mut self.begin {
            fix(f);
        }
        if let Some((_, f)) = &mut self.end {
            fix(f);
        }
        for d in self.daily.iter_mut().flatten() {
            fix(&mut d.field);
        }
        for d in &mut self.forbidden {
            fix(&mut d.field);
        }
        for p in &mut self.pauses {
            fix(&mut p.field);
        }
        if let Some(f) = self.partial.as_mut().and_then(|p| p.field.as_mut()) {
            fix(f);
        }
    }
}

/// `spec.a[2].b` back into a path (the paths here are made by [`Field::at`]).
fn parse_path(text: &str) -> FieldPath {
    let mut path = FieldPath::root();
    for part in text.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            path = path.k(key.to_string());
        }
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                path = path.i(i);
            }
        }
    }
    path
}

/// One thing a rule found on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    /// `error` or `warn`: the rule's level when the finding was made.
    pub severity: Level,
    pub task: String,
    /// The manifest field at fault (`spec.time_range[0]`).
    pub field: String,
    /// `file:line` of that field.
    pub place: String,
    pub message: String,
    /// What the policy expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How many times it happens (dialable periods outside the hours, callees, …).
    pub count: u64,
    /// The reason of the task's exception for this rule: the finding stops nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excepted: Option<String>,
    /// Where the finding points, for diagnostics (not in plans: `place` says it).
    #[serde(skip)]
    pub file: Option<Arc<Path>>,
    #[serde(skip)]
    pub line: usize,
    /// An error whatever the task's status (a purpose callform does not know).
    #[serde(skip)]
    pub firm: bool,
}

impl Finding {
    /// A finding of `rule` on `task`, at `field` (the task's own line when the field's is
    /// not known), at the level `policy` gives the rule.
    pub fn on(
        task: &Task,
        policy: &Policy,
        rule: RuleId,
        field: &Field,
        message: String,
    ) -> Finding {
        let line = if field.line > 0 {
            field.line
        } else {
            task.source.line
        };
        Finding {
            rule,
            severity: policy.level(rule),
            task: task.name.clone(),
            field: field.path.clone(),
            place: format!("{}:{}", task.source.file.display(), line),
            message,
            expected: None,
            hint: None,
            count: 1,
            excepted: None,
            file: Some(task.source.file.clone()),
            line,
            firm: false,
        }
    }

    /// Whether it stops the plan: an error no exception excuses.
    pub fn blocks(&self) -> bool {
        self.severity == Level::Error && self.excepted.is_none()
    }

    /// As a diagnostic, for `validate` and for the errors that stop a plan. An excused
    /// finding is a warning that says the exception.
    pub fn diagnostic(&self) -> Diagnostic {
        let file = self.file.as_deref().unwrap_or(Path::new(""));
        let message = match &self.excepted {
            Some(reason) => format!("{} [{}, excepted: {}]", self.message, self.rule, reason),
            None => format!("{} [{}]", self.message, self.rule),
        };
        let mut d = if self.blocks() {
            Diagnostic::error(file, message)
        } else {
            Diagnostic::warning(file, message)
        }
        .at(self.line, 1, 0)
        .task(Some(&self.task))
        .field(self.field.clone());
        if let Some(x) = &self.expected {
            d = d.expected(x.clone());
        }
        if let Some(h) = &self.hint {
            d = d.hint(h.clone());
        }
        d
    }
}

/// An exception a task carries, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionUse {
    pub task: String,
    pub rule: RuleId,
    pub reason: String,
    /// `file:line` of the exception.
    pub place: String,
    /// The findings it excuses (0: it excuses nothing, a warning).
    pub excuses: u64,
    #[serde(skip)]
    pub file: Option<Arc<Path>>,
    #[serde(skip)]
    pub line: usize,
}

impl ExceptionUse {
    /// The warning of an exception that excuses nothing.
    fn unused(&self) -> Option<Diagnostic> {
        let file = self.file.as_deref()?;
        (self.excuses == 0).then(|| {
            Diagnostic::warning(
                file,
                format!(
                    "the exception for `{}` excuses nothing: the task breaks no such rule",
                    self.rule
                ),
            )
            .at(self.line, 1, 0)
            .task(Some(&self.task))
            .field("exceptions")
            .hint("remove it: an exception kept after the need for it lets a later change through unreviewed")
        })
    }
}

/// A task checked only in part, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialCheck {
    pub task: String,
    pub rule: RuleId,
    pub why: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// What the policy found over a project's tasks: the compliance section of every plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    pub version: u32,
    /// `callform.yaml` (its `policy:`) or `preset`.
    pub policy: String,
    /// Each rule's level.
    pub rules: BTreeMap<RuleId, Level>,
    /// The allowed calling hours, in words.
    pub hours: String,
    /// Tasks checked.
    pub tasks: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionUse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<PartialCheck>,
}

impl Default for Compliance {
    fn default() -> Compliance {
        Compliance::empty(&Policy::preset(), 0)
    }
}

impl Compliance {
    fn empty(policy: &Policy, tasks: usize) -> Compliance {
        Compliance {
            version: COMPLIANCE_VERSION,
            policy: if policy.configured {
                "callform.yaml".into()
            } else {
                "preset".into()
            },
            rules: policy.rules.clone(),
            hours: policy.hours.describe(),
            tasks,
            findings: Vec::new(),
            exceptions: Vec::new(),
            partial: Vec::new(),
        }
    }

    /// Findings that stop the plan.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocks())
    }

    pub fn has_errors(&self) -> bool {
        self.blocking().next().is_some()
    }

    /// Warnings: findings that stop nothing (warnings and excused errors).
    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| !f.blocks()).count()
    }

    /// Whether there is anything for a reviewer to read.
    pub fn is_quiet(&self) -> bool {
        self.findings.is_empty() && self.exceptions.is_empty() && self.partial.is_empty()
    }

    /// Every finding as a diagnostic, and every exception that excuses nothing as a
    /// warning, for `validate`.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self.findings.iter().map(Finding::diagnostic).collect();
        out.extend(self.exceptions.iter().filter_map(ExceptionUse::unused));
        out
    }
}

/// What one task's check collects: findings, then [`check`] applies its exceptions.
pub(crate) struct TaskFindings<'a> {
    pub task: &'a Task,
    pub policy: &'a Policy,
    pub findings: Vec<Finding>,
    pub partial: Vec<PartialCheck>,
}

impl TaskFindings<'_> {
    /// A finding of `rule` at `field` of the task (file and line from the task).
    pub(crate) fn push(&mut self, rule: RuleId, field: &Field, message: String) -> &mut Finding {
        self.findings
            .push(Finding::on(self.task, self.policy, rule, field, message));
        let last = self.findings.len() - 1;
        &mut self.findings[last]
    }

    pub(crate) fn on(&self, rule: RuleId) -> bool {
        self.policy.level(rule) != Level::Off
    }
}

/// The one entry point: every rule of `policy` over `tasks`. Pure, and linear in the
/// tasks (rules cache what tasks share). `project_tz`: the zone manifests' date-times
/// are written in.
pub fn check(policy: &Policy, project_tz: &jiff::tz::TimeZone, tasks: &[Task]) -> Compliance {
    let mut out = Compliance::empty(policy, tasks.len());
    let mut findings = Vec::new();
    let mut hours_cache = hours::Cache::default();
    // The rules of one task at a time.
    for task in tasks {
        let mut found = TaskFindings {
            task,
            policy,
            findings: Vec::new(),
            partial: Vec::new(),
        };
        purpose::check(&mut found);
        hours::check(&mut found, &mut hours_cache, project_tz);
        findings.extend(found.findings);
        out.partial.extend(found.partial);
    }
    // Rules over every task at once (per-callee caps across tasks and vendors) go here,
    // each finding made with [`Finding::on`] the task it is about.
    settle(tasks, findings, &mut out);
    out
}

/// Puts the findings in task order, then applies each task's status and exceptions.
fn settle(tasks: &[Task], mut findings: Vec<Finding>, out: &mut Compliance) {
    let index: std::collections::HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    // Stable: a task's findings keep the order its rules made them in.
    findings.sort_by_key(|f| index.get(f.task.as_str()).copied().unwrap_or(usize::MAX));
    let mut rest = findings.as_mut_slice();
    for task in tasks {
        let n = rest.iter().take_while(|f| f.task == task.name).count();
        let (mine, after) = rest.split_at_mut(n);
        if task.status == crate::manifest::RunStatus::Paused {
            paused(mine);
        }
        exceptions(task, mine, out);
        rest = after;
    }
    out.findings = findings;
}

/// A paused task dials nobody until a later plan starts it, which the policy checks
/// again: its errors are warnings now, so that pausing a campaign that breaks the policy
/// is never what the policy stops.
fn paused(findings: &mut [Finding]) {
    for f in findings
        .iter_mut()
        .filter(|f| f.severity == Level::Error && !f.firm)
    {
        f.severity = Level::Warn;
        f.message
            .push_str(" (the task is paused: an error once it is `running`)");
    }
}

/// Applies a task's exceptions to its findings, and lists every exception.
fn exceptions(task: &Task, findings: &mut [Finding], out: &mut Compliance) {
    for e in &task.policy.exceptions {
        let mut excuses = 0;
        for f in findings.iter_mut().filter(|f| f.rule == e.rule) {
            f.excepted = Some(e.reason.clone());
            excuses += f.count.max(1);
        }
        let place = format!("{}:{}", task.source.file.display(), e.line);
        out.exceptions.push(ExceptionUse {
            task: task.name.clone(),
            rule: e.rule,
            reason: e.reason.clone(),
            place,
            excuses,
            file: Some(task.source.file.clone()),
            line: e.line,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    /// Two xfyeta tasks in one text: `a` with an evening window, `b` as given.
    fn tasks(a_extra: &str, b_extra: &str) -> Vec<Task> {
        let task = |name: &str, extra: &str, window: &str| {
            format!(
                "name: {name}\nvendor: xfyeta\nstatus: running\n{extra}callees: {{numbers: [\"13700000021\"]}}\nspec:\n  task_name: t-{name}\n  line_num: [\"055169101407\"]\n  robot_id: \"11\"\n  time_range: [\"{window}\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-01-10 20:00\n"
            )
        };
        let text = format!(
            "{}---\n{}",
            task("a", a_extra, "19:00:00-22:00:00"),
            task("b", b_extra, "09:00:00-12:00:00")
        );
        let out = crate::manifest::load_text(
            Path::new("t.yaml"),
            &text,
            &TimeZone::get("Asia/Shanghai").unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
            None,
        );
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        out.tasks
    }

    fn strict() -> Policy {
        let mut p = Policy::preset();
        p.rules.insert(RuleId::CallingHours, Level::Error);
        p.rules.insert(RuleId::Consent, Level::Error);
        p
    }

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    #[test]
    fn findings_are_on_their_task_and_field_with_the_rules_level() {
        let c = check(&strict(), &tz(), &tasks("", ""));
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(
            (f.task.as_str(), f.field.as_str()),
            ("a", "spec.time_range[0]")
        );
        assert_eq!(f.severity, Level::Error);
        // 4 to 9 January: the task ends on the 10th at 20:00.
        assert_eq!(f.count, 6);
        assert_eq!(f.place, "t.yaml:9");
        assert!(c.has_errors());
        let d = f.diagnostic();
        assert!(
            d.is_error() && d.line == 9 && d.task.as_deref() == Some("a"),
            "{d:?}"
        );
        // The preset only warns.
        let c = check(&Policy::preset(), &tz(), &tasks("", ""));
        assert!(!c.has_errors() && c.warnings() == 1);
    }

    #[test]
    fn an_exception_excuses_its_rule_on_its_task_only() {
        let ex =
            "exceptions:\n  - {rule: calling_hours, reason: \"approved evening calls, CMP-1\"}\n";
        let c = check(&strict(), &tz(), &tasks(ex, ex));
        assert!(!c.has_errors(), "{:?}", c.findings);
        assert_eq!(
            c.findings[0].excepted.as_deref(),
            Some("approved evening calls, CMP-1")
        );
        let uses: Vec<(&str, u64)> = c
            .exceptions
            .iter()
            .map(|e| (e.task.as_str(), e.excuses))
            .collect();
        assert_eq!(uses, [("a", 6), ("b", 0)]);
        // `b`'s excuses nothing: a warning at its line.
        let unused: Vec<Diagnostic> = c
            .diagnostics()
            .into_iter()
            .filter(|d| d.field.as_deref() == Some("exceptions"))
            .collect();
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].task.as_deref(), Some("b"));
        // An exception for another rule excuses nothing here.
        let other = "exceptions:\n  - {rule: consent, reason: \"consent is held by the bank\"}\n";
        let c = check(&strict(), &tz(), &tasks(other, ""));
        assert!(c.has_errors());
    }

    #[test]
    fn consent_and_purpose() {
        let c = check(
            &strict(),
            &tz(),
            &tasks(
                "purpose: marketing\n",
                "purpose: marketing\nconsent: crm-2026\n",
            ),
        );
        let consent: Vec<&str> = c
            .findings
            .iter()
            .filter(|f| f.rule == RuleId::Consent)
            .map(|f| f.task.as_str())
            .collect();
        assert_eq!(consent, ["a"]);
        let mut p = strict();
        p.rules.insert(RuleId::Purpose, Level::Warn);
        let c = check(&p, &tz(), &tasks("", "purpose: survey\n"));
        let missing: Vec<&str> = c
            .findings
            .iter()
            .filter(|f| f.rule == RuleId::Purpose)
            .map(|f| f.task.as_str())
            .collect();
        assert_eq!(missing, ["a"]);
        // An unknown purpose is an error even where the rule is off, and on a paused task.
        p.rules.insert(RuleId::Purpose, Level::Off);
        let c = check(&p, &tz(), &tasks("purpose: surveys\n", ""));
        assert!(c
            .findings
            .iter()
            .any(|f| f.rule == RuleId::Purpose && f.blocks()));
    }

    #[test]
    fn a_paused_tasks_errors_are_warnings() {
        let mut t = tasks("", "");
        t[0].status = crate::manifest::RunStatus::Paused;
        let c = check(&strict(), &tz(), &t);
        assert!(!c.has_errors());
        assert!(c.findings[0]
            .message
            .ends_with("(the task is paused: an error once it is `running`)"));
        t[0].status = crate::manifest::RunStatus::Stopped;
        assert!(check(&strict(), &tz(), &t).findings.is_empty());
    }
}
