//! The rule checker: what vendor rules use to report a problem at the right place.
//!
//! Rules live beside each vendor's spec type (`vendor/<name>/spec.rs`); this file holds
//! the context they report into and the checks several vendors share (ranges, lists,
//! windows, date order, URLs, phone numbers, vendor-visible names).

use std::collections::HashMap;
use std::path::Path;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::path::FieldPath;
use super::time::{parse_window, ClockFormat, LocalDateTime};
use super::yaml::Node;
use crate::diag::{Diagnostic, Past};
use crate::phone;

pub struct Checker<'a> {
    pub file: &'a Path,
    pub root: &'a Node,
    pub task: &'a str,
    pub tz: &'a TimeZone,
    pub now: Timestamp,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn spec(&self) -> FieldPath {
        FieldPath::root().k("spec")
    }

    fn located(&self, d: Diagnostic, path: &FieldPath, key: bool) -> Diagnostic {
        let pos = path.locate(self.root, key);
        d.at(pos.line, pos.col, pos.len)
            .task(Some(self.task))
            .field(path.to_string())
    }

    /// An error pointing at the value of `path` (or its nearest existing ancestor).
    pub fn error(&self, path: &FieldPath, message: impl Into<String>) -> Diagnostic {
        self.located(Diagnostic::error(self.file, message), path, false)
    }

    /// An error pointing at the key of `path`: for fields that are not allowed there.
    pub fn error_at_key(&self, path: &FieldPath, message: impl Into<String>) -> Diagnostic {
        self.located(Diagnostic::error(self.file, message), path, true)
    }

    pub fn warning(&self, path: &FieldPath, message: impl Into<String>) -> Diagnostic {
        self.located(Diagnostic::warning(self.file, message), path, false)
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// `value` within `lo..=hi` (`hi` None: no upper bound).
    pub fn range(
        &mut self,
        path: &FieldPath,
        value: Option<i64>,
        lo: i64,
        hi: Option<i64>,
        why: &str,
    ) {
        let Some(v) = value else { return };
        if v < lo || hi.is_some_and(|hi| v > hi) {
            let expected = match hi {
                Some(hi) => format!("an integer from {lo} to {hi}"),
                None => format!("an integer of at least {lo}"),
            };
            let name = path.0.last().map(|_| path.to_string()).unwrap_or_default();
            let d = self
                .error(
                    path,
                    format!("{} is {v}, outside the allowed range", short(&name)),
                )
                .expected(format!("{expected} ({why})"));
            self.push(d);
        }
    }

    /// `field` must be present (because of `why`).
    pub fn require(&mut self, path: &FieldPath, present: bool, why: &str) {
        if !present {
            let field = short(&path.to_string()).to_string();
            let d = self
                .error(path, format!("missing required field `{field}`"))
                .expected(why.to_string())
                .hint(format!("add `{field}:`"));
            self.push(d);
        }
    }

    /// `field` must not be present (because of `why`).
    pub fn forbid(&mut self, path: &FieldPath, present: bool, why: &str) {
        if present {
            let field = short(&path.to_string()).to_string();
            let d = self
                .error_at_key(path, format!("`{field}` is not allowed here: {why}"))
                .hint(format!("remove `{field}`"));
            self.push(d);
        }
    }

    /// A list length within `lo..=hi`.
    pub fn list_len(&mut self, path: &FieldPath, len: usize, lo: usize, hi: usize, why: &str) {
        if len < lo || len > hi {
            let d = self
                .error(
                    path,
                    format!("{} has {len} items", short(&path.to_string())),
                )
                .expected(format!("from {lo} to {hi} items ({why})"));
            self.push(d);
        }
    }

    /// The vendor-visible task name: not blank, one line, at most `max_chars` characters
    /// (counted as characters, not bytes).
    pub fn vendor_name(
        &mut self,
        path: &FieldPath,
        name: &str,
        max_chars: Option<usize>,
        vendor: &str,
    ) {
        if name.trim().is_empty() {
            let d = self
                .error(path, "the task name is empty")
                .expected("a non-empty name");
            self.push(d);
        }
        if name.chars().any(char::is_control) {
            let d = self
                .error(
                    path,
                    "the task name contains a control character or line break",
                )
                .expected("a single line of text");
            self.push(d);
        }
        if let Some(max) = max_chars {
            let n = name.chars().count();
            if n > max {
                let d = self
                    .error(
                        path,
                        format!(
                            "the task name is {n} characters long; {vendor} allows at most {max}"
                        ),
                    )
                    .expected(format!("at most {max} characters"))
                    .hint(format!(
                        "shorten it, or set a shorter vendor-visible name under `{}`",
                        short(&path.to_string())
                    ));
                self.push(d);
            }
        }
    }

    /// A date-time that the project timezone skips (a daylight-saving gap) is an error:
    /// apply would refuse it. One it repeats (a fold) is a warning: the earlier of the two
    /// instants is used.
    pub fn date_time(&mut self, path: &FieldPath, t: &LocalDateTime) {
        use jiff::tz::AmbiguousOffset;
        let zone = self
            .tz
            .iana_name()
            .unwrap_or("the project timezone")
            .to_string();
        let field = short(&path.to_string()).to_string();
        match self.tz.to_ambiguous_zoned(t.0).offset() {
            AmbiguousOffset::Gap { .. } => {
                let d = self
                    .error(
                        path,
                        format!("{field} {t} does not exist in {zone}: the clocks skip it (daylight saving time)"),
                    )
                    .expected(format!("a wall-clock time that exists in {zone}"))
                    .hint("move it out of the skipped hour, e.g. an hour later");
                self.push(d);
            }
            AmbiguousOffset::Fold { .. } => {
                let d = self
                    .warning(
                        path,
                        format!("{field} {t} happens twice in {zone}: the clocks go back (daylight saving time)"),
                    )
                    .hint("callform uses the first of the two; move it out of the repeated hour to make it unambiguous");
                self.push(d);
            }
            AmbiguousOffset::Unambiguous { .. } => {}
        }
    }

    /// `end` after `start`; a start or an end in the past is a warning. Each must exist in the
    /// project timezone ([`Checker::date_time`]).
    pub fn date_order(
        &mut self,
        start_path: &FieldPath,
        start: Option<&LocalDateTime>,
        end_path: &FieldPath,
        end: Option<&LocalDateTime>,
    ) {
        if let Some(s) = start {
            self.date_time(start_path, s);
        }
        if let Some(e) = end {
            self.date_time(end_path, e);
        }
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                let d = self
                    .error(
                        end_path,
                        format!(
                            "{} is not after {}",
                            short(&end_path.to_string()),
                            short(&start_path.to_string())
                        ),
                    )
                    .expected(format!("a date-time later than {s}"));
                self.push(d);
            }
        }
        // An end in the past: a task created now could never dial. It is a warning here,
        // not an error: validate has no state, and a manifest of a campaign that ran and
        // ended is normal to keep. The planner blocks creating such a task.
        let end_past = end.filter(|e| e.instant(self.tz).is_ok_and(|at| at < self.now));
        if let Some(e) = end_past {
            let d = self
                .warning(
                    end_path,
                    format!(
                        "{} ({e}) is in the past: a task created now could never dial",
                        short(&end_path.to_string())
                    ),
                )
                .hint("plan refuses to create it: move the end into the future, or remove the manifest once its campaign is over")
                .past(Past::End);
            self.push(d);
        }
        if let Some(s) = start.filter(|_| end_past.is_none()) {
            if let Ok(at) = s.instant(self.tz) {
                if at < self.now {
                    let d = self
                        .warning(
                            start_path,
                            format!("{} ({s}) is in the past", short(&start_path.to_string())),
                        )
                        .hint("the vendor may start the task at once, or refuse it")
                        .past(Past::Start);
                    self.push(d);
                }
            }
        }
    }

    /// A daily window `BEGIN-END` with begin < end. Returns it when valid.
    pub fn window(
        &mut self,
        path: &FieldPath,
        text: &str,
        format: ClockFormat,
    ) -> Option<(Time, Time)> {
        let shape = match format {
            ClockFormat::Seconds => "HH:MM:SS-HH:MM:SS",
            _ => "HH:MM-HH:MM",
        };
        match parse_window(text, format) {
            None => {
                let d = self
                    .error(path, "not a daily time window")
                    .expected(format!("`{shape}`, e.g. a 24-hour clock"));
                self.push(d);
                None
            }
            Some((a, b)) if a >= b => {
                let d = self
                    .error(path, "the window ends before it begins")
                    .expected(format!("`{shape}` with the begin before the end"))
                    .hint("a window cannot cross midnight: split it in two");
                self.push(d);
                None
            }
            Some(w) => Some(w),
        }
    }

    /// Two clock times as separate fields (`begin`/`end`), begin < end.
    pub fn clock_pair(
        &mut self,
        begin_path: &FieldPath,
        begin: &str,
        end_path: &FieldPath,
        end: &str,
        format: ClockFormat,
    ) {
        let shape = if format == ClockFormat::Seconds {
            "HH:MM:SS"
        } else {
            "HH:MM"
        };
        let b = super::time::parse_clock(begin, format);
        let e = super::time::parse_clock(end, format);
        if b.is_none() {
            let d = self
                .error(begin_path, "not a clock time")
                .expected(format!("`{shape}`"));
            self.push(d);
        }
        if e.is_none() {
            let d = self
                .error(end_path, "not a clock time")
                .expected(format!("`{shape}`"));
            self.push(d);
        }
        if let (Some(b), Some(e)) = (b, e) {
            if b >= e {
                let d = self
                    .error(end_path, "the end is not after the begin")
                    .expected(format!("`{shape}` later than the begin"));
                self.push(d);
            }
        }
    }

    /// Daily windows must not overlap (callform's rule: the vendor's behaviour is undefined).
    pub fn no_overlap(&mut self, path: &FieldPath, windows: &[(usize, (Time, Time))]) {
        let mut sorted: Vec<_> = windows.to_vec();
        sorted.sort_by_key(|(_, (a, _))| *a);
        // Compare each window with the one reaching latest so far, not only its neighbour:
        // in 09–18, 10–11, 12–13 the third overlaps the first.
        let mut reach: Option<(usize, Time)> = None;
        for &(j, (begin, end)) in &sorted {
            if let Some((i, latest)) = reach {
                if begin < latest {
                    let d = self
                        .error(&path.i(j), format!("this window overlaps window {i}"))
                        .expected("windows that do not overlap")
                        .hint("merge the two windows");
                    self.push(d);
                }
            }
            if reach.is_none_or(|(_, latest)| end > latest) {
                reach = Some((j, end));
            }
        }
    }

    pub fn https_url(&mut self, path: &FieldPath, url: Option<&str>) {
        let Some(url) = url else { return };
        let ok = url.strip_prefix("https://").is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !host.contains(char::is_whitespace)
        }) && !url.contains(char::is_whitespace);
        if !ok {
            let d = self
                .error(path, "not an absolute https:// URL")
                .expected("`https://host/path`");
            self.push(d);
        }
    }

    /// Normalises one phone number, reporting it (masked) when invalid.
    pub fn phone(&mut self, path: &FieldPath, raw: &str) -> Option<String> {
        match phone::normalize(raw) {
            Ok((n, _)) => Some(n),
            Err(why) => {
                let d = self
                    .error(
                        path,
                        format!("invalid phone number {}: {why}", phone::shown_entry(raw)),
                    )
                    .expected(phone::EXPECTED_NUMBER)
                    .personal();
                self.push(d);
                None
            }
        }
    }

    /// Normalises a list of numbers; duplicates are a warning naming the positions.
    pub fn phones(&mut self, path: &FieldPath, raw: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(raw.len());
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            if let Some(n) = self.phone(&path.i(i), r) {
                if let Some(first) = seen.get(&n) {
                    let d = self
                        .warning(
                            &path.i(i),
                            format!(
                                "number {} at position {i} repeats position {first}",
                                phone::mask(&n)
                            ),
                        )
                        .hint("the vendor reports duplicates as failures: remove one")
                        .personal();
                    self.push(d);
                } else {
                    seen.insert(n.clone(), i);
                }
                out.push(n);
            }
        }
        out
    }
}

/// The last segment of a dotted path, for messages (`spec.recall_count` → `recall_count`).
pub fn short(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// A spec key that moved out of the spec: read (so that it is not an "unknown field" with
/// a guess at a near name) and refused by `task_rules` with a hint naming its new place.
/// Never serialised: it is never part of a canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moved;

impl<'de> serde::Deserialize<'de> for Moved {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Moved, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Moved)
    }
}

/// The rules about the task-level fields every vendor shares: moved spec keys, `status:`
/// and whether the task has callees.
pub(crate) fn task_rules(
    cx: &mut Checker<'_>,
    spec: &crate::vendor::Spec,
    task: &crate::vendor::TaskFacts<'_>,
) {
    use crate::manifest::RunStatus;
    use crate::vendor::StartKind;
    let p = cx.spec();
    for (key, instead) in spec.def().moved() {
        if cx.root.get("spec").and_then(|s| s.get(key)).is_some() {
            let d = cx
                .error_at_key(&p.k(key), format!("`spec.{key}` has moved"))
                .expected(instead)
                .hint(format!("move it: {instead}"));
            cx.push(d);
        }
    }
    let vendor = spec.vendor();
    let rules = vendor.def().callee_rules();
    let steps = vendor.def().steps();
    let status_path = FieldPath::root().k("status");
    if task.status == RunStatus::Running && steps.start == StartKind::None {
        let d = cx
            .error(&status_path, format!("{vendor} documents no start API: callform cannot start this task"))
            .expected("`status: paused`")
            .hint("write `status: paused`, and start the task in the vendor console once its callees are loaded");
        cx.push(d);
    }
    // An empty list (a header-only file, `numbers: []`) calls nobody as surely as none.
    let empty = task.callees.is_some_and(|c| c.is_empty());
    if !task.has_callees || (empty && rules.min_rows == 0) {
        if rules.min_rows > 0 {
            let d = cx
                .error(&FieldPath::root(), "no callees")
                .field("callees")
                .expected(format!(
                    "`callees:` with `file: PATH`, `numbers: [...]` or `rows: [...]` ({} to {} callees)",
                    rules.min_rows, rules.max_rows
                ))
                .hint(format!("{vendor} refuses a task without numbers to call"));
            cx.push(d);
        } else {
            let d = if empty {
                cx.warning(
                    &FieldPath::root().k("callees"),
                    "this task calls nobody: its `callees:` list is empty",
                )
            } else {
                cx.warning(
                    &FieldPath::root(),
                    "this task calls nobody: it has no `callees:`",
                )
            };
            let d = d.field("callees").hint(
                "add `callees:` (a file, `numbers` or `rows`), or load them in the vendor console",
            );
            cx.push(d);
        }
        if task.status == RunStatus::Running && steps.start != StartKind::None {
            let d = cx
                .warning(
                    &status_path,
                    "`status: running` with no callees: the task dials nobody",
                )
                .hint("add `callees:`, or write `status: paused`");
            cx.push(d);
        }
    }
}
