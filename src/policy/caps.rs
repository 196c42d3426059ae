//! Per-callee caps across tasks and vendors (`callee_caps`): `policy.caps`, each at most
//! `tasks` tasks and at most `attempts` dialling attempts per callee within any `period`.
//!
//! A task's attempts per callee are 1 + its retries (xfyeta `recall_count`, Aliyun
//! `recall_times`, Volcengine `ring_again_times`, longlonglong `redial_max_times`); its
//! dialling period is its begin to its end as its fields say ([`super::Dialling`]; no
//! begin: the time of the plan; no end: open). Two tasks count together for a callee
//! when some `period`-long stretch meets both their dialling periods.
//!
//! Counting is over every task of the manifests, whatever its vendor: tasks are sorted
//! by their begin (then name), grouped into runs whose periods come within `period` of
//! each other, and within a run of two or more tasks the numbers are sorted once; only a
//! number in more than one task of a run is counted. \[choice\] A callee keeps the tasks
//! that dial first: each later task that would take it over a cap loses it (at `warn`,
//! removed from that task's callees before any batch is built, and counted) or, at
//! `error`, stops the plan. A task whose own attempts exceed a cap is a finding on its
//! retries field and removes no one (the fix is the field).
//!
//! What this cannot see: tasks no longer in the manifests (removed, or in another
//! project), calls made outside callform, and a vendor's own redials beyond its retries
//! field (see README, "Per-callee caps").

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{ConfigSite, Field, RuleId, TaskFindings};
use crate::diag::Diagnostic;
use crate::manifest::path::FieldPath;
use crate::manifest::Task;

/// One cap, as `policy.caps` configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    /// The period, in seconds.
    pub period: i64,
    /// As written (`24h`), for messages.
    pub period_text: String,
    pub tasks: Option<u32>,
    pub attempts: Option<u32>,
}

impl Cap {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.tasks {
            parts.push(format!("{n} task{}", if n == 1 { "" } else { "s" }));
        }
        if let Some(n) = self.attempts {
            parts.push(format!("{n} attempt{}", if n == 1 { "" } else { "s" }));
        }
        format!(
            "at most {} per callee in {}",
            parts.join(" and "),
            self.period_text
        )
    }
}

/// A `policy.caps` item as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCap {
    period: String,
    #[serde(default)]
    tasks: Option<u32>,
    #[serde(default)]
    attempts: Option<u32>,
}

/// `30m`, `24h`, `7d`: seconds.
fn parse_period(text: &str) -> Option<i64> {
    let t = text.trim();
    let unit = match t.chars().last()? {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let n: i64 = t[..t.len() - 1].parse().ok()?;
    (n > 0 && n <= 3660).then_some(n * unit)
}

/// Reads `policy.caps`.
pub fn resolve(
    raw: Option<Vec<RawCap>>,
    base: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Cap> {
    let mut out = Vec::new();
    for (i, c) in raw.unwrap_or_default().into_iter().enumerate() {
        let at = base.k("caps").i(i);
        let Some(period) = parse_period(&c.period) else {
            diags.push(
                site.error(&at.k("period"), format!("invalid period `{}`", c.period))
                    .expected("a number and a unit: `30m`, `24h`, `7d` (at most 3660 of the unit)"),
            );
            continue;
        };
        if c.tasks.is_none() && c.attempts.is_none() || c.tasks == Some(0) || c.attempts == Some(0)
        {
            diags.push(
                site.error(
                    &at,
                    "a cap limits neither tasks nor attempts (or limits them to 0)",
                )
                .expected("`tasks: N` and/or `attempts: M`, each at least 1")
                .hint("to call no one, remove the callees; a cap of 0 would remove every callee"),
            );
            continue;
        }
        out.push(Cap {
            period,
            period_text: c.period.trim().to_string(),
            tasks: c.tasks,
            attempts: c.attempts,
        });
    }
    out
}

/// A task's retries per callee, and the field that says so.
fn retries(task: &Task) -> (u32, Field) {
    let (value, path) = task.spec.def().retries();
    let n = value.clamp(0, i64::from(u32::MAX / 2)) as u32;
    (
        n,
        Field {
            path: path.into(),
            line: 0,
        },
    )
}

/// What the caps found for one task.
#[derive(Debug, Default, Clone)]
pub struct TaskCaps {
    /// Rows the caps remove (indices into its callees after suppression, ascending).
    pub rows: Vec<u32>,
    /// Per cap: how many of its callees go over it, and the earlier tasks they are in.
    pub over: Vec<(usize, u64, BTreeSet<usize>)>,
    /// Caps its own attempts per callee exceed (cap, attempts).
    pub alone: Vec<(usize, u32)>,
}

/// One task as the caps see it.
struct Seen {
    task: usize,
    begin: i64,
    end: i64,
    attempts: u32,
}

/// Every cap over every task. `kept[i]`: the rows of task `i` left after suppression
/// (`None`: all of them), ascending.
pub fn plan(
    caps: &[Cap],
    project_tz: &jiff::tz::TimeZone,
    tasks: &[Task],
    now: jiff::Timestamp,
    removed: &[Vec<u32>],
) -> Vec<TaskCaps> {
    let mut out: Vec<TaskCaps> = vec![TaskCaps::default(); tasks.len()];
    if caps.is_empty() {
        return out;
    }
    let now = now.as_second();
    let mut seen: Vec<Seen> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.callees.as_ref().is_some_and(|c| !c.is_empty()))
        .map(|(i, t)| {
            let at = |d: &crate::manifest::time::LocalDateTime| {
                d.instant(project_tz).map(|x| x.as_second()).ok()
            };
            let d = &t.policy.dialling;
            let begin = d.begin.as_ref().and_then(|(b, _)| at(b)).unwrap_or(now);
            let end = d
                .end
                .as_ref()
                .and_then(|(e, _)| at(e))
                .unwrap_or(i64::MAX / 4)
                .max(begin);
            Seen {
                task: i,
                begin,
                end,
                attempts: 1 + retries(t).0,
            }
        })
        .collect();
    seen.sort_by(|a, b| (a.begin, &tasks[a.task].name).cmp(&(b.begin, &tasks[b.task].name)));
    let mut drop: Vec<Vec<u32>> = vec![Vec::new(); tasks.len()];
    for (ci, cap) in caps.iter().enumerate() {
        for s in &seen {
            if cap.attempts.is_some_and(|m| s.attempts > m) {
                out[s.task].alone.push((ci, s.attempts));
            }
        }
        // Runs of tasks whose periods come within the cap's period of each other.
        let mut start = 0;
        while start < seen.len() {
            let mut reach = seen[start].end;
            let mut stop = start + 1;
            while stop < seen.len() && seen[stop].begin.saturating_sub(cap.period) <= reach {
                reach = reach.max(seen[stop].end);
                stop += 1;
            }
            if stop - start > 1 {
                run(
                    cap,
                    ci,
                    &seen[start..stop],
                    tasks,
                    removed,
                    &mut drop,
                    &mut out,
                );
            }
            start = stop;
        }
    }
    for (i, mut rows) in drop.into_iter().enumerate() {
        rows.sort_unstable();
        rows.dedup();
        out[i].rows = rows;
    }
    out
}

/// One run of two or more tasks under one cap.
fn run(
    cap: &Cap,
    ci: usize,
    run: &[Seen],
    tasks: &[Task],
    removed: &[Vec<u32>],
    drop: &mut [Vec<u32>],
    out: &mut [TaskCaps],
) {
    // (number, place in the run, row): 16 bytes a callee, sorted once.
    let mut all: Vec<(u64, u32, u32)> = Vec::new();
    for (pos, s) in run.iter().enumerate() {
        let Some(list) = &tasks[s.task].callees else {
            continue;
        };
        let gone = &removed[s.task];
        let mut g = gone.iter().peekable();
        all.reserve(list.len());
        // Rows are numbered among those suppression leaves, as `TaskCaps::rows` holds them
        // (`merge_removed` maps them back).
        let mut left = 0u32;
        for (row, &key) in list.keys().iter().enumerate() {
            let row = row as u32;
            if g.peek() == Some(&&row) {
                g.next();
                continue;
            }
            all.push((key, pos as u32, left));
            left += 1;
        }
    }
    all.sort_unstable();
    let mut counted: Vec<(u64, BTreeSet<usize>)> = vec![(0, BTreeSet::new()); run.len()];
    let mut kept: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        if j - i > 1 {
            kept.clear();
            for &(_, pos, row) in &all[i..j] {
                let pos = pos as usize;
                if fits(cap, run, &kept, pos) {
                    kept.push(pos);
                } else {
                    drop[run[pos].task].push(row);
                    let c = &mut counted[pos];
                    c.0 += 1;
                    if c.1.len() < 5 {
                        c.1.extend(kept.iter().map(|&k| run[k].task));
                    }
                }
            }
        }
        i = j;
    }
    for (pos, (n, with)) in counted.into_iter().enumerate() {
        if n > 0 {
            out[run[pos].task].over.push((ci, n, with));
        }
    }
}

/// Whether a callee in the tasks `kept` (places in `run`) stays within `cap` in the
/// task at `new` too: no `period`-long stretch meeting `new`'s period meets more tasks,
/// or more attempts, than the cap allows. A stretch `[t, t + period]` meets a task
/// `[b, e]` when `b - period ≤ t ≤ e`; the most are met at some `b - period`.
fn fits(cap: &Cap, run: &[Seen], kept: &[usize], new: usize) -> bool {
    let n = &run[new];
    let lo = n.begin.saturating_sub(cap.period);
    let candidates = kept
        .iter()
        .chain(std::iter::once(&new))
        .map(|&k| run[k].begin.saturating_sub(cap.period))
        .filter(|t| (lo..=n.end).contains(t));
    for t in candidates {
        let (mut count, mut attempts) = (1u32, n.attempts);
        for &k in kept {
            let s = &run[k];
            if s.begin.saturating_sub(cap.period) <= t && t <= s.end {
                count += 1;
                attempts = attempts.saturating_add(s.attempts);
            }
        }
        if cap.tasks.is_some_and(|m| count > m) || cap.attempts.is_some_and(|m| attempts > m) {
            return false;
        }
    }
    true
}

/// The task's findings: callees over a cap with earlier tasks, and its own attempts over
/// one.
pub(crate) fn check(found: &mut TaskFindings<'_>, caps: &[Cap], mine: &TaskCaps, tasks: &[Task]) {
    if !found.on(RuleId::CalleeCaps) {
        return;
    }
    let blocks = found.policy.level(RuleId::CalleeCaps) == super::Level::Error;
    let task = found.task;
    for &(ci, attempts) in &mine.alone {
        let (n, field) = retries(task);
        let cap = &caps[ci];
        let f = found.push(
            RuleId::CalleeCaps,
            &field,
            format!(
                "this task alone dials each callee up to {attempts} times (1 + {n} retries): over the cap of {}",
                cap.describe()
            ),
        );
        f.count = found_callees(task);
        f.expected = Some(cap.describe());
        f.hint = Some(format!(
            "lower the retries to at most {}",
            cap.attempts.unwrap_or(1).saturating_sub(1)
        ));
    }
    for (ci, n, with) in &mine.over {
        let cap = &caps[*ci];
        let names: Vec<&str> = with.iter().map(|&t| tasks[t].name.as_str()).collect();
        let s = if *n == 1 { "" } else { "s" };
        let field = Field {
            path: "callees".into(),
            line: 0,
        };
        let f = found.push(
            RuleId::CalleeCaps,
            &field,
            format!(
                "{n} callee{s} over the cap of {} with tasks dialling first ({}){}",
                cap.describe(),
                names.join(", "),
                if blocks {
                    ""
                } else {
                    ": removed from this task before any is sent"
                }
            ),
        );
        f.count = *n;
        f.expected = Some(cap.describe());
        f.hint = Some(if blocks {
            "remove them from this task's callees, move the task's period apart from the others', or set `callee_caps: warn` to have callform leave them out".into()
        } else {
            "nothing to do: they are left out of this task; the tasks named keep them".into()
        });
    }
}

/// A task whose every callee the rules remove: an error whatever the rules' levels (a
/// vendor would refuse the task, or run it dialling no one), unless excused.
pub(crate) fn emptied(found: &mut TaskFindings<'_>, removed: usize) {
    let total = found.task.callees.as_ref().map_or(0, |c| c.len());
    if removed == 0 || removed < total {
        return;
    }
    let rule = if found.policy.level(RuleId::Suppression) != super::Level::Off {
        RuleId::Suppression
    } else {
        RuleId::CalleeCaps
    };
    let field = Field {
        path: "callees".into(),
        line: 0,
    };
    let f = found.push(
        rule,
        &field,
        format!("all {total} callees are suppressed or over a cap: the task would dial no one"),
    );
    f.severity = super::Level::Error;
    f.count = total as u64;
    f.expected = Some("at least one callee left to call".into());
    f.hint = Some("remove the task (or its callees) from the manifests, or give it callees the lists and caps allow".into());
}

/// The rows of a list both rules remove, as indices into the list: `suppressed` indexes
/// it, `capped` the rows suppression left.
pub(crate) fn merge_removed(suppressed: &[u32], capped: &[u32]) -> Vec<u32> {
    let mut rows = suppressed.to_vec();
    let mut s = suppressed.iter().peekable();
    let (mut left, mut index) = (0u32, 0u32);
    for &want in capped {
        while left <= want {
            if s.peek() == Some(&&index) {
                s.next();
            } else {
                if left == want {
                    rows.push(index);
                }
                left += 1;
            }
            index += 1;
        }
    }
    rows.sort_unstable();
    rows
}

fn found_callees(task: &Task) -> u64 {
    task.callees.as_ref().map_or(0, |c| c.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_rows_count_past_the_suppressed_ones() {
        // Rows 0..6; 1 and 2 suppressed; of the rest (0, 3, 4, 5) the second and fourth capped.
        assert_eq!(merge_removed(&[1, 2], &[1, 3]), vec![1, 2, 3, 5]);
        assert_eq!(merge_removed(&[], &[0, 2]), vec![0, 2]);
        assert_eq!(merge_removed(&[0], &[]), vec![0]);
    }

    #[test]
    fn periods_read_in_minutes_hours_and_days() {
        assert_eq!(parse_period("30m"), Some(1800));
        assert_eq!(parse_period("24h"), Some(86_400));
        assert_eq!(parse_period(" 7d "), Some(7 * 86_400));
        assert_eq!(parse_period("0h"), None);
        assert_eq!(parse_period("1w"), None);
        assert_eq!(parse_period("h"), None);
    }

    fn seen(begin: i64, end: i64, attempts: u32) -> Seen {
        Seen {
            task: 0,
            begin,
            end,
            attempts,
        }
    }

    #[test]
    fn a_window_counts_the_tasks_it_can_meet_at_once() {
        let day = 86_400;
        let cap = Cap {
            period: day,
            period_text: "24h".into(),
            tasks: Some(2),
            attempts: None,
        };
        // Three one-hour tasks a day and a half apart: any 24 hours meets at most two.
        let run = [
            seen(0, 3600, 1),
            seen(36 * 3600, 37 * 3600, 1),
            seen(72 * 3600, 73 * 3600, 1),
        ];
        assert!(fits(&cap, &run, &[0], 1));
        assert!(fits(&cap, &run, &[0, 1], 2));
        // The same three within a day: the third goes over.
        let run = [
            seen(0, 3600, 1),
            seen(7200, 9000, 1),
            seen(20_000, 21_000, 1),
        ];
        assert!(fits(&cap, &run, &[0], 1));
        assert!(!fits(&cap, &run, &[0, 1], 2));
        let attempts = Cap {
            tasks: None,
            attempts: Some(4),
            ..cap
        };
        let run = [seen(0, 3600, 2), seen(7200, 9000, 3)];
        assert!(!fits(&attempts, &run, &[0], 1));
    }
}
