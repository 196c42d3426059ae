//! Calling hours (`calling_hours`): the times a task may dial, from its vendor's fields
//! ([`Dialling`]), against the windows the policy allows in the callee's time zone.
//!
//! Everything is turned into instants (seconds since the epoch) and compared as sorted
//! lists of intervals, so a callee zone with daylight saving (America/New_York) is judged
//! on each day with that day's offset:
//!
//! - the task dials in `[begin, end]` (project time zone), within its daily windows (the
//!   vendor's local time, Beijing), minus its forbidden weekly windows (Beijing) and its
//!   pauses (project time zone);
//! - the policy allows, on each date of the callee's zone, that weekday's windows (or the
//!   `holiday` windows on a holiday), and for a purpose with hours of its own only what
//!   both allow.
//!
//! Whatever the task may dial outside what the policy allows is a finding, one per daily
//! window (the field to change), with the first such stretch and how many there are.
//!
//! \[choice\] An open-ended task (xfyeta without `time_end`), or one longer than
//! [`HORIZON_DAYS`], is judged over its first [`HORIZON_DAYS`] days: a year and a month
//! holds every weekday, both daylight-saving changes and a year of holidays.
//!
//! A task whose windows are kept at the vendor (longlonglong's `dial_time_id`, Aliyun's
//! console) is checked in part: its start, and (longlonglong) the holidays its period
//! covers and its `holiday` pauses do not; the plan says the check is partial.

use std::collections::{BTreeSet, HashMap};

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::{ConfigSite, Dialling, Field, PartialCheck, RuleId, TaskFindings};
use crate::diag::Diagnostic;
use crate::manifest::path::FieldPath;
use crate::manifest::time::LocalDateTime;

/// The default callee time zone.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// The time zone of the vendors' daily windows (all four are Beijing-time services).
pub const VENDOR_TIMEZONE: &str = "Asia/Shanghai";

/// The longest stretch of a task judged (days from its start).
pub const HORIZON_DAYS: i64 = 400;

const DAY: i64 = 86_400;

/// A window of a day: seconds from midnight, `begin < end ≤ 86,400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub begin: u32,
    pub end: u32,
}

impl Span {
    fn text(self) -> String {
        let hm = |s: u32| format!("{:02}:{:02}", s / 3600, s % 3600 / 60);
        format!("{}–{}", hm(self.begin), hm(self.end))
    }
}

/// Allowed windows per weekday (Monday first) and on holidays.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeekWindows {
    pub days: [Vec<Span>; 7],
    pub holiday: Vec<Span>,
}

impl WeekWindows {
    fn every_day(spans: Vec<Span>) -> WeekWindows {
        WeekWindows {
            days: std::array::from_fn(|_| spans.clone()),
            holiday: Vec::new(),
        }
    }

    fn for_day(&self, day: Weekday, holiday: bool) -> &[Span] {
        if holiday {
            &self.holiday
        } else {
            &self.days[day.to_monday_zero_offset() as usize]
        }
    }

    /// In words: `09:00–21:00 every day` or per day.
    pub fn describe(&self) -> String {
        let text = |spans: &[Span]| {
            if spans.is_empty() {
                "none".to_string()
            } else {
                spans
                    .iter()
                    .map(|s| s.text())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let first = &self.days[0];
        let mut out = if self.days.iter().all(|d| d == first) {
            format!("{} every day", text(first))
        } else {
            const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            NAMES
                .iter()
                .zip(&self.days)
                .map(|(n, d)| format!("{n} {}", text(d)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if self.holiday.is_empty() {
            out.push_str(", none on holidays");
        } else {
            out.push_str(&format!(", on holidays {}", text(&self.holiday)));
        }
        out
    }
}

/// The calling-hours part of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct HoursPolicy {
    pub timezone_name: String,
    pub timezone: TimeZone,
    pub week: WeekWindows,
    pub holidays: BTreeSet<Date>,
}

impl HoursPolicy {
    /// 09:00–21:00 every day in Asia/Shanghai, no holidays listed (README, "Compliance").
    pub fn preset() -> HoursPolicy {
        HoursPolicy {
            timezone_name: DEFAULT_TIMEZONE.into(),
            timezone: TimeZone::get(DEFAULT_TIMEZONE).unwrap_or(TimeZone::UTC),
            week: WeekWindows::every_day(vec![Span {
                begin: 9 * 3600,
                end: 21 * 3600,
            }]),
            holidays: BTreeSet::new(),
        }
    }

    pub fn describe(&self) -> String {
        let mut out = format!("{} ({})", self.week.describe(), self.timezone_name);
        if !self.holidays.is_empty() {
            out.push_str(&format!(", {} holiday date(s)", self.holidays.len()));
        }
        out
    }
}

/// `policy.hours` (or a purpose's `hours`) as written: windows `HH:MM-HH:MM` (an end of
/// `24:00` is midnight).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    #[serde(default)]
    default: Option<Vec<String>>,
    #[serde(default)]
    monday: Option<Vec<String>>,
    #[serde(default)]
    tuesday: Option<Vec<String>>,
    #[serde(default)]
    wednesday: Option<Vec<String>>,
    #[serde(default)]
    thursday: Option<Vec<String>>,
    #[serde(default)]
    friday: Option<Vec<String>>,
    #[serde(default)]
    saturday: Option<Vec<String>>,
    #[serde(default)]
    sunday: Option<Vec<String>>,
    #[serde(default)]
    holiday: Option<Vec<String>>,
}

/// `HH:MM` or `HH:MM:SS` as seconds of the day; `24:00` is 86,400.
fn clock(text: &str) -> Option<u32> {
    if text == "24:00" || text == "24:00:00" {
        return Some(DAY as u32);
    }
    let t = crate::manifest::time::parse_clock(
        text,
        crate::manifest::time::ClockFormat::MinutesOrSeconds,
    )?;
    Some(t.hour() as u32 * 3600 + t.minute() as u32 * 60 + t.second() as u32)
}

/// Reads windows at `at`; the problems go to `diags`.
fn read_spans(
    list: &[String],
    at: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Span>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, text) in list.iter().enumerate() {
        let parsed = text
            .split_once('-')
            .and_then(|(a, b)| Some((clock(a.trim())?, clock(b.trim())?)));
        match parsed {
            Some((begin, end)) if begin < end && begin < DAY as u32 => {
                out.push(Span { begin, end })
            }
            _ => {
                diags.push(
                    site.error(&at.i(i), format!("invalid window `{text}`"))
                        .expected("`HH:MM-HH:MM` with the end after the beginning (`24:00` for midnight), e.g. `09:00-21:00`"),
                );
                ok = false;
            }
        }
    }
    out.sort_by_key(|s| s.begin);
    ok.then_some(out)
}

/// Reads a week of windows; days not listed take `default`, which is the preset's
/// 09:00–21:00 when not given; holidays have none unless `holiday` says.
pub(super) fn read_week(
    raw: RawHours,
    at: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<WeekWindows> {
    let mut ok = true;
    let mut read = |list: Option<Vec<String>>, key: &'static str| -> Option<Vec<Span>> {
        let list = list?;
        let spans = read_spans(&list, &at.k(key), site, diags);
        ok &= spans.is_some();
        spans
    };
    let default =
        read(raw.default, "default").unwrap_or_else(|| HoursPolicy::preset().week.days[0].clone());
    let days = [
        read(raw.monday, "monday"),
        read(raw.tuesday, "tuesday"),
        read(raw.wednesday, "wednesday"),
        read(raw.thursday, "thursday"),
        read(raw.friday, "friday"),
        read(raw.saturday, "saturday"),
        read(raw.sunday, "sunday"),
    ];
    let holiday = read(raw.holiday, "holiday").unwrap_or_default();
    let week = WeekWindows {
        days: days.map(|d| d.unwrap_or_else(|| default.clone())),
        holiday,
    };
    ok.then_some(week)
}

/// Reads the calling-hours settings of `policy:`.
pub(super) fn resolve(
    timezone: Option<String>,
    raw: Option<RawHours>,
    holidays: Option<Vec<String>>,
    holidays_file: Option<String>,
    base: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> HoursPolicy {
    let mut out = HoursPolicy::preset();
    if let Some(tz) = timezone {
        match TimeZone::get(&tz) {
            Ok(zone) => {
                out.timezone = zone;
                out.timezone_name = tz;
            }
            Err(_) => diags.push(
                site.error(&base.k("timezone"), format!("unknown timezone `{tz}`"))
                    .expected("an IANA timezone name, the callees' (such as `Asia/Shanghai` or `America/New_York`)"),
            ),
        }
    }
    if let Some(raw) = raw {
        if let Some(week) = read_week(raw, &base.k("hours"), site, diags) {
            out.week = week;
        }
    }
    for (i, text) in holidays.unwrap_or_default().iter().enumerate() {
        match parse_date(text) {
            Some(d) => {
                out.holidays.insert(d);
            }
            None => diags.push(
                site.error(&base.k("holidays").i(i), format!("invalid date `{text}`"))
                    .expected("a date `YYYY-MM-DD`"),
            ),
        }
    }
    if let Some(file) = holidays_file {
        let path = site.dir.join(&file);
        let shown = crate::project::pathdiff(&path);
        match crate::manifest::callees::read_confined(&path, site.roots) {
            Err(d) => diags.push(Diagnostic {
                message: format!("holidays_file: {}", d.message),
                hint: d.hint,
                ..site
                    .error(&base.k("holidays_file"), String::new())
                    .expected("a file of dates `YYYY-MM-DD`, one a line, relative to callform.yaml, inside the project or an `input_dirs:` directory")
            }),
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    match parse_date(line) {
                        Some(d) => {
                            out.holidays.insert(d);
                        }
                        None => diags.push(
                            Diagnostic::error(&shown, format!("invalid date `{line}`"))
                                .at(n + 1, 1, line.len())
                                .expected("one date `YYYY-MM-DD` a line (`#` starts a comment)"),
                        ),
                    }
                }
            }
        }
    }
    out
}

fn parse_date(text: &str) -> Option<Date> {
    let b = text.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    text.trim().parse().ok()
}

/// Sorted, disjoint intervals of instants (seconds), `[begin, end)`.
type Set = Vec<(i64, i64)>;

fn normalise(mut set: Set) -> Set {
    set.retain(|(a, b)| a < b);
    set.sort_unstable();
    let mut out: Set = Vec::with_capacity(set.len());
    for (a, b) in set {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `a` minus `b` (both normalised).
fn minus(a: &Set, b: &Set) -> Set {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut s, e) in a {
        while j < b.len() && b[j].1 <= s {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < e {
            if b[k].0 > s {
                out.push((s, b[k].0));
            }
            s = s.max(b[k].1);
            if s >= e {
                break;
            }
            k += 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// `a` within `b` (both normalised).
fn within(a: &Set, b: &Set) -> Set {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        if s < e {
            out.push((s, e));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The instant of `date` + `secs` (may be 86,400: the next midnight) in `tz`; a time in
/// a gap moves forward, as clocks do.
fn instant(tz: &TimeZone, date: Date, secs: u32) -> Option<i64> {
    // Up to two days: an overnight window ends the next day.
    let (date, secs) = if secs >= DAY as u32 {
        (date.tomorrow().ok()?, secs - DAY as u32)
    } else {
        (date, secs)
    };
    let t = Time::new(
        (secs / 3600) as i8,
        (secs % 3600 / 60) as i8,
        (secs % 60) as i8,
        0,
    )
    .ok()?;
    tz.to_ambiguous_timestamp(DateTime::from_parts(date, t))
        .compatible()
        .ok()
        .map(|ts| ts.as_second())
}

fn local_instant(tz: &TimeZone, t: &LocalDateTime) -> Option<i64> {
    t.instant(tz).ok().map(|ts| ts.as_second())
}

fn date_of(tz: &TimeZone, secs: i64) -> Option<Date> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|ts| tz.to_datetime(ts).date())
}

fn secs_of(t: Time) -> u32 {
    t.hour() as u32 * 3600 + t.minute() as u32 * 60 + t.second() as u32
}

/// Dates `from`..=`to`.
fn dates(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), move |d| d.tomorrow().ok().filter(|n| *n <= to))
        .take_while(move |d| *d <= to)
}

/// What the policy allows in `[from, to)`, for a task of a purpose with `extra` hours.
fn allowed(policy: &HoursPolicy, extra: Option<&WeekWindows>, from: i64, to: i64) -> Set {
    let tz = &policy.timezone;
    let (Some(first), Some(last)) = (date_of(tz, from), date_of(tz, to)) else {
        return Vec::new();
    };
    let mut set = Vec::new();
    for d in dates(first.yesterday().unwrap_or(first), last) {
        let holiday = policy.holidays.contains(&d);
        let day = |w: &WeekWindows| -> Set {
            normalise(
                w.for_day(d.weekday(), holiday)
                    .iter()
                    .filter_map(|s| Some((instant(tz, d, s.begin)?, instant(tz, d, s.end)?)))
                    .collect(),
            )
        };
        let mut spans = day(&policy.week);
        if let Some(extra) = extra {
            spans = within(&spans, &day(extra));
        }
        set.extend(spans);
    }
    normalise(set)
}

/// One stretch outside the policy, of one source window, for a finding.
#[derive(Debug, Clone)]
struct Outside {
    /// Which daily window (index in `Dialling::daily`), or `None` for the whole period.
    window: Option<usize>,
    count: u64,
    first: (i64, i64),
}

/// What a task's dialling gives, shared by tasks that dial alike.
#[derive(Debug, Clone, Default)]
pub(super) struct Judged {
    outside: Vec<Outside>,
    start_outside: Option<i64>,
    holidays: Vec<Date>,
}

/// Results of tasks already judged, by what decides them.
#[derive(Default)]
pub(crate) struct Cache {
    judged: HashMap<String, Judged>,
    /// What the policy allows, per purpose, over the stretch computed so far (tasks of a
    /// project mostly dial in the same months: each is a slice of it).
    allowed: HashMap<Option<String>, (i64, i64, Set)>,
    vendor: Option<TimeZone>,
}

impl Cache {
    /// What the policy allows in `[from, to)` for a task of `purpose` (with `extra`
    /// hours), from the stretch already computed, grown by a month each way when short.
    fn allowed(
        &mut self,
        policy: &HoursPolicy,
        purpose: Option<&str>,
        extra: Option<&WeekWindows>,
        from: i64,
        to: i64,
    ) -> Set {
        let key = extra.and(purpose).map(str::to_string);
        let entry = self.allowed.entry(key).or_insert((0, 0, Vec::new()));
        if entry.2.is_empty() && entry.0 == entry.1 || from < entry.0 || to > entry.1 {
            let (a, b) = if entry.0 == entry.1 {
                (from - 30 * DAY, to + 30 * DAY)
            } else {
                (entry.0.min(from - 30 * DAY), entry.1.max(to + 30 * DAY))
            };
            *entry = (a, b, allowed(policy, extra, a, b));
        }
        let set = &entry.2;
        let first = set.partition_point(|(_, e)| *e <= from);
        let last = set.partition_point(|(s, _)| *s < to);
        set[first..last.max(first)].to_vec()
    }
}

fn judge(
    dialling: &Dialling,
    policy: &HoursPolicy,
    (purpose, extra): (Option<&str>, Option<&WeekWindows>),
    project_tz: &TimeZone,
    cache: &mut Cache,
) -> Judged {
    let mut out = Judged::default();
    let vendor = cache
        .vendor
        .get_or_insert_with(|| TimeZone::get(VENDOR_TIMEZONE).unwrap_or(TimeZone::UTC))
        .clone();
    let Some(begin) = dialling
        .begin
        .as_ref()
        .and_then(|(t, _)| local_instant(project_tz, t))
    else {
        return out;
    };
    let horizon = begin + HORIZON_DAYS * DAY;
    let end = dialling
        .end
        .as_ref()
        .and_then(|(t, _)| local_instant(project_tz, t))
        .map_or(horizon, |e| e.min(horizon));
    if end < begin {
        return out;
    }
    let end = end.max(begin + 1);
    let allow = cache.allowed(policy, purpose, extra, begin - DAY, end + DAY);
    let pauses = normalise(
        dialling
            .pauses
            .iter()
            // A pause's end is a minute, and includes it (`23:59` pauses the whole day):
            // longlonglong's holidays have minute precision.
            .filter_map(|p| {
                Some((
                    local_instant(project_tz, &p.begin)?,
                    local_instant(project_tz, &p.end)? + 60,
                ))
            })
            .collect(),
    );
    let period = minus(&vec![(begin, end)], &pauses);
    if dialling.partial.is_some() {
        // The windows are at the vendor: only the start is known to dial, and any holiday
        // the period covers without a pause.
        if !allow.iter().any(|(a, b)| *a <= begin && begin < *b) {
            out.start_outside = Some(begin);
        }
        let tz = &policy.timezone;
        // Only a task that ends can be paused on a date in the manifest (longlonglong's
        // `holiday`); one that runs until stopped (Aliyun) keeps its days in the console.
        let bounded = dialling.end.is_some();
        if let (true, Some(first), Some(last)) = (bounded, date_of(tz, begin), date_of(tz, end)) {
            for d in dates(first, last).filter(|d| policy.holidays.contains(d)) {
                let day = normalise(vec![(
                    instant(tz, d, 0).unwrap_or(0),
                    instant(tz, d, DAY as u32).unwrap_or(0),
                )]);
                let barred = minus(&within(&day, &period), &allow);
                if !barred.is_empty() {
                    out.holidays.push(d);
                }
            }
        }
        return out;
    }
    let (Some(first), Some(last)) = (date_of(&vendor, begin), date_of(&vendor, end)) else {
        return out;
    };
    let days: Vec<Date> = dates(first.yesterday().unwrap_or(first), last).collect();
    let mut forbidden = Vec::new();
    for f in &dialling.forbidden {
        let (b, e) = (secs_of(f.begin), secs_of(f.end));
        for d in days
            .iter()
            .filter(|d| f.days.is_empty() || f.days.contains(&d.weekday()))
        {
            // `00:00-23:59` is the vendor's whole day: it ends at the next midnight.
            let e = if e == DAY as u32 - 60 || e <= b {
                DAY as u32
            } else {
                e
            };
            if let (Some(a), Some(z)) = (instant(&vendor, *d, b), instant(&vendor, *d, e)) {
                forbidden.push((a, z));
            }
        }
    }
    let forbidden = normalise(forbidden);
    let sources: Vec<(Option<usize>, Set)> = match &dialling.daily {
        None => vec![(None, period.clone())],
        Some(windows) => windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (b, mut e) = (secs_of(w.begin), secs_of(w.end));
                if e <= b {
                    e += DAY as u32;
                }
                let set = days
                    .iter()
                    .filter_map(|d| Some((instant(&vendor, *d, b)?, instant(&vendor, *d, e)?)))
                    .collect();
                (Some(i), within(&normalise(set), &period))
            })
            .collect(),
    };
    for (window, set) in sources {
        let dials = minus(&set, &forbidden);
        let outside = minus(&dials, &allow);
        if let Some(first) = outside.first() {
            out.outside.push(Outside {
                window,
                count: outside.len() as u64,
                first: *first,
            });
        }
    }
    out
}

/// The cache key: everything [`judge`] reads of a task (not where its fields are).
fn key(dialling: &Dialling, purpose: Option<&str>) -> String {
    use std::fmt::Write;
    let mut k = String::with_capacity(128);
    let _ = write!(
        k,
        "{:?}|{:?}|{}|{:?}",
        dialling.begin.as_ref().map(|b| b.0),
        dialling.end.as_ref().map(|e| e.0),
        dialling.partial.is_some(),
        purpose
    );
    for d in dialling.daily.iter().flatten() {
        let _ = write!(k, "|d{}-{}", d.begin, d.end);
    }
    if dialling.daily.is_none() {
        k.push_str("|clock");
    }
    for f in &dialling.forbidden {
        let _ = write!(k, "|f{:?}{}-{}", f.days, f.begin, f.end);
    }
    for p in &dialling.pauses {
        let _ = write!(k, "|p{}-{}", p.begin, p.end);
    }
    k
}

/// A stretch of instants as the callee reads it: `Sat 2027-01-09 21:00–23:00`.
fn stretch(tz: &TimeZone, (a, b): (i64, i64)) -> String {
    let at = |s: i64| {
        jiff::Timestamp::from_second(s)
            .map(|ts| tz.to_datetime(ts))
            .ok()
    };
    match (at(a), at(b)) {
        (Some(x), Some(y))
            if x.date() == y.date()
                || (y.time() == Time::midnight() && x.date().tomorrow().ok() == Some(y.date())) =>
        {
            format!(
                "{} {}–{}",
                x.strftime("%a %Y-%m-%d"),
                x.strftime("%H:%M"),
                if y.time() == Time::midnight() {
                    "24:00".to_string()
                } else {
                    y.strftime("%H:%M").to_string()
                }
            )
        }
        (Some(x), Some(y)) => format!(
            "{} to {}",
            x.strftime("%a %Y-%m-%d %H:%M"),
            y.strftime("%a %Y-%m-%d %H:%M")
        ),
        _ => format!("{a}–{b}"),
    }
}

/// An instant as the callee reads it: `Mon 2027-01-04 22:30`.
fn moment(tz: &TimeZone, at: i64) -> String {
    jiff::Timestamp::from_second(at)
        .map(|ts| tz.to_datetime(ts).strftime("%a %Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// The `calling_hours` rule on one task.
pub(super) fn check(found: &mut TaskFindings<'_>, cache: &mut Cache, project_tz: &TimeZone) {
    if !found.on(RuleId::CallingHours) {
        return;
    }
    let task = found.task;
    if task.status == crate::manifest::RunStatus::Stopped {
        return;
    }
    let policy = &found.policy.hours;
    let dialling = &task.policy.dialling;
    let purpose = task.policy.purpose.as_ref().map(|p| p.value.as_str());
    let extra = purpose
        .and_then(|p| found.policy.purposes.get(p))
        .and_then(|r| r.hours.as_ref());
    let k = key(dialling, purpose);
    let judged = match cache.judged.get(&k) {
        Some(j) => j.clone(),
        None => {
            let j = judge(dialling, policy, (purpose, extra), project_tz, cache);
            cache.judged.insert(k, j.clone());
            j
        }
    };
    let tz = &policy.timezone;
    let zone = &policy.timezone_name;
    let hours_text = match (extra, purpose) {
        (Some(x), Some(p)) => format!(
            "{} and, for `{p}`, {}",
            policy.week.describe(),
            x.describe()
        ),
        _ => policy.week.describe(),
    };
    if let Some(partial) = &dialling.partial {
        found.partial.push(PartialCheck {
            task: task.name.clone(),
            rule: RuleId::CallingHours,
            why: partial.why.clone(),
            place: partial.field.as_ref().map(|f| {
                format!(
                    "{}:{}",
                    task.source.file.display(),
                    f.line.max(task.source.line)
                )
            }),
        });
    }
    let begin_field = dialling
        .begin
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    if let Some(at) = judged.start_outside {
        let f = found.push(
            RuleId::CallingHours,
            &begin_field,
            format!(
                "the task may start dialling at {} ({zone}), outside the allowed hours",
                moment(tz, at)
            ),
        );
        f.expected = Some(format!("calls only {hours_text} ({zone})"));
        f.hint = Some(format!(
            "start it within the allowed hours; its daily windows ({}) must keep to them too",
            dialling.partial.as_ref().map_or("", |p| p.why.as_str())
        ));
    }
    if !judged.holidays.is_empty() {
        let list: Vec<String> = judged
            .holidays
            .iter()
            .take(5)
            .map(|d| d.to_string())
            .collect();
        let field = dialling
            .pauses
            .first()
            .map(|p| p.field.clone())
            .unwrap_or_else(|| begin_field.clone());
        let f = found.push(
            RuleId::CallingHours,
            &field,
            format!(
                "the task may dial on {} holiday(s) of the policy ({}{})",
                judged.holidays.len(),
                list.join(", "),
                if judged.holidays.len() > 5 {
                    ", …"
                } else {
                    ""
                }
            ),
        );
        f.count = judged.holidays.len() as u64;
        f.expected = Some(format!("calls only {hours_text} ({zone})"));
        f.hint = Some("pause the task on those dates (longlonglong `task_extras.holiday`), or end it before them".into());
    }
    for o in &judged.outside {
        let field = match (o.window, &dialling.daily) {
            (Some(i), Some(windows)) => windows.get(i).map(|w| w.field.clone()).unwrap_or_default(),
            _ => dialling
                .forbidden
                .first()
                .map(|f| Field {
                    path: "spec.forbid_time_list".into(),
                    ..f.field.clone()
                })
                .unwrap_or_else(|| begin_field.clone()),
        };
        let what = match o.window {
            Some(_) => "this window dials".to_string(),
            None if dialling.forbidden.is_empty() => {
                "the task dials around the clock from its start to its end, and so".to_string()
            }
            None => "outside its forbidden times, the task dials".to_string(),
        };
        let holiday = date_of(tz, o.first.0).is_some_and(|d| policy.holidays.contains(&d));
        let f = found.push(
            RuleId::CallingHours,
            &field,
            format!(
                "{what} {} in the callee's time zone {zone}{}, outside the allowed hours{}",
                stretch(tz, o.first),
                if holiday { " (a holiday)" } else { "" },
                if o.count > 1 {
                    format!(" (and {} more such stretch(es))", o.count - 1)
                } else {
                    String::new()
                }
            ),
        );
        f.count = o.count;
        f.expected = Some(format!("calls only {hours_text} ({zone})"));
        f.hint = Some(match o.window {
            Some(_) => "narrow the window (vendor windows are Beijing time), or add an exception `{rule: calling_hours, reason: …}` for the reviewer".into(),
            None => "add `forbid_time_list` windows for the night (Beijing time), or an exception `{rule: calling_hours, reason: …}`".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Daily, Forbidden, Partial, Pause};

    fn t(text: &str) -> LocalDateTime {
        LocalDateTime::parse(text).unwrap()
    }

    fn clock_of(text: &str) -> Time {
        crate::manifest::time::parse_clock(text, crate::manifest::time::ClockFormat::Minutes)
            .unwrap()
    }

    fn daily(windows: &[(&str, &str)], from: &str, to: Option<&str>) -> Dialling {
        Dialling {
            begin: Some((t(from), Field::default())),
            end: to.map(|e| (t(e), Field::default())),
            daily: Some(
                windows
                    .iter()
                    .map(|(b, e)| Daily {
                        begin: clock_of(b),
                        end: clock_of(e),
                        field: Field::default(),
                    })
                    .collect(),
            ),
            ..Dialling::default()
        }
    }

    fn zone(name: &str) -> HoursPolicy {
        HoursPolicy {
            timezone_name: name.into(),
            timezone: TimeZone::get(name).unwrap(),
            ..HoursPolicy::preset()
        }
    }

    fn hours(policy: &mut HoursPolicy, begin: u32, end: u32) {
        policy.week = WeekWindows::every_day(vec![Span {
            begin: begin * 3600,
            end: end * 3600,
        }]);
    }

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn counts(j: &Judged) -> Vec<(Option<usize>, u64)> {
        j.outside.iter().map(|o| (o.window, o.count)).collect()
    }

    #[test]
    fn windows_within_the_preset_pass() {
        let d = daily(
            &[("09:00", "12:00"), ("13:30", "20:00")],
            "2027-01-04 09:00",
            Some("2027-03-31 20:00"),
        );
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert!(j.outside.is_empty(), "{j:?}");
    }

    #[test]
    fn an_evening_window_is_outside_on_every_day() {
        let d = daily(
            &[("09:00", "12:00"), ("20:00", "22:00")],
            "2027-01-04 00:00",
            Some("2027-01-10 23:00"),
        );
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(counts(&j), [(Some(1), 7)]);
        let tz = shanghai();
        assert_eq!(
            stretch(&tz, j.outside[0].first),
            "Mon 2027-01-04 21:00–22:00"
        );
    }

    #[test]
    fn an_overnight_window_is_outside() {
        let d = daily(
            &[("22:00", "02:00")],
            "2027-01-04 00:00",
            Some("2027-01-05 12:00"),
        );
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        // The 3rd's window dials from the start to 02:00; the 4th's runs into the 5th.
        assert_eq!(counts(&j), [(Some(0), 2)]);
        assert_eq!(
            stretch(&shanghai(), j.outside[0].first),
            "Mon 2027-01-04 00:00–02:00"
        );
    }

    /// Beijing 20:00–21:00 is 07:00–08:00 in New York on standard time, 08:00–09:00 on
    /// daylight time: outside 08:00–21:00 only on the days before the change.
    #[test]
    fn a_daylight_saving_callee_zone_is_judged_with_each_days_offset() {
        let mut ny = zone("America/New_York");
        hours(&mut ny, 8, 21);
        let spring = daily(
            &[("20:00", "21:00")],
            "2027-03-01 00:00",
            Some("2027-03-31 23:00"),
        );
        let j = judge(
            &spring,
            &ny,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        // 1 to 13 March; clocks go forward on the 14th at 02:00 in New York.
        assert_eq!(counts(&j), [(Some(0), 13)]);
        assert_eq!(
            stretch(&ny.timezone, j.outside[0].first),
            "Mon 2027-03-01 07:00–08:00"
        );
        let autumn = daily(
            &[("20:00", "21:00")],
            "2026-10-25 00:00",
            Some("2026-11-07 23:00"),
        );
        let j = judge(
            &autumn,
            &ny,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        // Clocks go back on 1 November: 1 to 7 November are outside.
        assert_eq!(counts(&j), [(Some(0), 7)]);
        assert_eq!(
            stretch(&ny.timezone, j.outside[0].first),
            "Sun 2026-11-01 07:00–08:00"
        );
    }

    #[test]
    fn around_the_clock_minus_forbidden_nights() {
        let night = |days: Vec<Weekday>| {
            vec![
                Forbidden {
                    days: days.clone(),
                    begin: clock_of("00:00"),
                    end: clock_of("09:00"),
                    field: Field::default(),
                },
                Forbidden {
                    days,
                    begin: clock_of("21:00"),
                    end: clock_of("23:59"),
                    field: Field::default(),
                },
            ]
        };
        let mut d = Dialling {
            begin: Some((t("2027-01-04 09:00"), Field::default())),
            end: Some((t("2027-01-31 18:00"), Field::default())),
            forbidden: night(Vec::new()),
            ..Dialling::default()
        };
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert!(j.outside.is_empty(), "{j:?}");
        // Nights forbidden on weekdays only: each weekend night dials.
        d.forbidden = night(vec![
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ]);
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        // Each weekend: Sat 00:00–09:00, Sat 21:00–Sun 09:00, Sun 21:00–24:00; the
        // last ends on Sunday at 18:00.
        assert_eq!(counts(&j), [(None, 11)]);
        d.forbidden.clear();
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(counts(&j), [(None, 27)]);
    }

    #[test]
    fn holidays_have_their_own_windows() {
        let mut policy = HoursPolicy::preset();
        policy.holidays.insert("2027-01-05".parse().unwrap());
        let d = daily(
            &[("09:00", "12:00")],
            "2027-01-04 00:00",
            Some("2027-01-06 23:00"),
        );
        let j = judge(
            &d,
            &policy,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(counts(&j), [(Some(0), 1)]);
        assert_eq!(
            stretch(&shanghai(), j.outside[0].first),
            "Tue 2027-01-05 09:00–12:00"
        );
        policy.week.holiday = vec![Span {
            begin: 10 * 3600,
            end: 12 * 3600,
        }];
        let j = judge(
            &d,
            &policy,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(
            stretch(&shanghai(), j.outside[0].first),
            "Tue 2027-01-05 09:00–10:00"
        );
    }

    #[test]
    fn a_purposes_hours_narrow_the_policys() {
        let stricter = WeekWindows::every_day(vec![Span {
            begin: 10 * 3600,
            end: 20 * 3600,
        }]);
        let d = daily(
            &[("09:00", "12:00")],
            "2027-01-04 00:00",
            Some("2027-01-04 23:00"),
        );
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (Some("marketing"), Some(&stricter)),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(counts(&j), [(Some(0), 1)]);
        assert_eq!(
            stretch(&shanghai(), j.outside[0].first),
            "Mon 2027-01-04 09:00–10:00"
        );
    }

    #[test]
    fn an_open_ended_task_is_judged_over_the_horizon() {
        let d = daily(&[("20:00", "22:00")], "2027-01-04 00:00", None);
        let j = judge(
            &d,
            &HoursPolicy::preset(),
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert_eq!(counts(&j), [(Some(0), HORIZON_DAYS as u64)]);
    }

    #[test]
    fn windows_at_the_vendor_check_the_start_and_the_holidays() {
        let mut policy = HoursPolicy::preset();
        for d in ["2027-02-12", "2027-02-17", "2027-02-20"] {
            policy.holidays.insert(d.parse().unwrap());
        }
        let d = Dialling {
            begin: Some((t("2027-01-04 08:00"), Field::default())),
            end: Some((t("2027-02-28 18:00"), Field::default())),
            pauses: vec![Pause {
                begin: t("2027-02-10 00:00"),
                end: t("2027-02-17 23:59"),
                field: Field::default(),
            }],
            partial: Some(Partial::default()),
            ..Dialling::default()
        };
        let j = judge(
            &d,
            &policy,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert!(j.outside.is_empty());
        assert!(j.start_outside.is_some());
        // The 12th is paused by the task's own holiday; the 20th is not. The pause ends at
        // 23:59 on the 17th, which it includes.
        assert_eq!(j.holidays, ["2027-02-20".parse::<Date>().unwrap()]);
    }

    /// Volcengine dialling Beijing 21:00–10:00 is New York 08:00–21:00 on standard time,
    /// 09:00–22:00 on daylight time: from the change on, each morning's last hour is out.
    #[test]
    fn volcengine_forbidden_times_against_a_new_york_callee_across_dst() {
        let mut ny = zone("America/New_York");
        hours(&mut ny, 8, 21);
        let d = Dialling {
            begin: Some((t("2027-03-01 00:00"), Field::default())),
            end: Some((t("2027-03-31 23:00"), Field::default())),
            forbidden: vec![Forbidden {
                days: Vec::new(),
                begin: clock_of("10:00"),
                end: clock_of("21:00"),
                field: Field::default(),
            }],
            ..Dialling::default()
        };
        let j = judge(&d, &ny, (None, None), &shanghai(), &mut Cache::default());
        // Beijing mornings of 15 to 31 March (New York evenings of 14 to 30 March).
        assert_eq!(counts(&j), [(None, 17)]);
        assert_eq!(
            stretch(&ny.timezone, j.outside[0].first),
            "Sun 2027-03-14 21:00–22:00"
        );
    }

    /// A start at the vendor (longlonglong `start_time`, Aliyun `schedule_time`) of 20:30
    /// Beijing is 07:30 in New York the day before the change, 08:30 the day of it.
    #[test]
    fn a_start_at_the_vendor_against_a_new_york_callee_across_dst() {
        let mut ny = zone("America/New_York");
        hours(&mut ny, 8, 21);
        let start = |at: &str, end: Option<&str>| Dialling {
            begin: Some((t(at), Field::default())),
            end: end.map(|e| (t(e), Field::default())),
            partial: Some(Partial::default()),
            ..Dialling::default()
        };
        let before = judge(
            &start("2027-03-13 20:30", Some("2027-03-20 18:00")),
            &ny,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert!(before.start_outside.is_some());
        let after = judge(
            &start("2027-03-14 20:30", None),
            &ny,
            (None, None),
            &shanghai(),
            &mut Cache::default(),
        );
        assert!(after.start_outside.is_none());
    }

    /// One cache across tasks of other months judges each as a cache of its own does.
    #[test]
    fn a_shared_cache_judges_as_a_fresh_one() {
        let mut ny = zone("America/New_York");
        hours(&mut ny, 8, 21);
        ny.holidays.insert("2027-07-05".parse().unwrap());
        let tasks = [
            daily(
                &[("20:00", "21:00")],
                "2027-03-01 00:00",
                Some("2027-03-31 23:00"),
            ),
            daily(
                &[("20:00", "23:00")],
                "2026-10-20 00:00",
                Some("2026-11-20 23:00"),
            ),
            daily(
                &[("09:00", "10:00")],
                "2027-06-01 00:00",
                Some("2027-09-30 23:00"),
            ),
            daily(&[("20:00", "21:00")], "2027-03-10 00:00", None),
        ];
        let mut shared = Cache::default();
        for d in &tasks {
            let a = judge(d, &ny, (None, None), &shanghai(), &mut shared);
            let b = judge(d, &ny, (None, None), &shanghai(), &mut Cache::default());
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    #[test]
    fn interval_arithmetic() {
        let a = vec![(0, 10), (20, 30)];
        assert_eq!(minus(&a, &vec![(5, 25)]), [(0, 5), (25, 30)]);
        assert_eq!(minus(&a, &vec![(-5, 40)]), Vec::<(i64, i64)>::new());
        assert_eq!(minus(&a, &Vec::new()), a);
        assert_eq!(within(&a, &vec![(5, 25)]), [(5, 10), (20, 25)]);
        assert_eq!(normalise(vec![(5, 8), (0, 6), (9, 9)]), [(0, 8)]);
    }
}
