//! Apply's progress and its summary.
//!
//! On a terminal: a bar on stderr counting requests (creates, callee batches, starts), with
//! each finished task's line printed above it. Without
//! one (CI): each finished task's line on stdout, the stream the summary is on. A CI log
//! reads stdout and stderr through two pipes and merges them as the lines arrive, so lines
//! on two streams can come out of order; on one stream they cannot, and the summary always
//! follows the last task's line. `--quiet` prints no per-task lines. Tasks not sent because
//! the run was stopped are one line, with their count and at most a few names, not one line
//! each. The summary counts this run's uncertain creates and, separately, the uncertain
//! tasks of earlier runs that are still unresolved: both fail the apply.

use crate::apply::{Finished, Progress, Result_, Step};
use crate::driver::ErrorClass;
use crate::manifest::Vendor;
use crate::plan::steps::thousands;
use crate::project::Project;

use super::Printer;

/// One line of data on stdout.
macro_rules! say {
    ($out:expr, $($t:tt)*) => {{ $out.say(&format!($($t)*)); }};
}

/// Reports each task apply finishes.
pub struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    out: Printer,
    /// Tasks not sent because the run was stopped: said once, at the end.
    skipped: std::sync::Mutex<Vec<String>>,
}

/// How many names a line that counts tasks lists.
const NAMES_SHOWN: usize = 3;

/// `a, b, c and 7 more` (sorted).
fn some_names(names: &mut [String]) -> String {
    names.sort();
    let mut shown = names
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        shown.push_str(&format!(" and {} more", names.len() - NAMES_SHOWN));
    }
    shown
}

/// `loaded 1,200 callees in 24 batches; started`, or empty when the run loaded and started
/// nothing.
fn did(p: &Progress) -> String {
    let mut parts = Vec::new();
    if p.updated {
        parts.push("updated in place".to_string());
    }
    if p.rows > 0 {
        parts.push(format!(
            "loaded {} callee{} in {} batch{}",
            thousands(p.rows),
            if p.rows == 1 { "" } else { "s" },
            p.batches,
            if p.batches == 1 { "" } else { "es" }
        ));
    }
    if let Some(v) = p.verb {
        parts.push(match v {
            crate::driver::Verb::Pause => "paused".to_string(),
            crate::driver::Verb::Resume => "resumed".to_string(),
            crate::driver::Verb::Stop => "stopped".to_string(),
        });
    }
    if p.started {
        parts.push("started".to_string());
    }
    if let Some(id) = &p.stopped_superseded {
        parts.push(format!("stopped the superseded task {id}"));
    }
    parts.join("; ")
}

impl Reporter {
    /// For a run of `total` requests.
    pub fn new(total: usize, out: &Printer) -> Reporter {
        let bar = (out.stderr_is_terminal() && !out.is_quiet()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} applying [{bar:30}] {pos}/{len} requests {elapsed}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Reporter {
            bar,
            out: *out,
            skipped: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.out.is_quiet() => {}
            // One stream with the summary (see the module docs).
            None => self.out.say(line),
        }
    }
}

impl crate::apply::Report for Reporter {
    fn step(&self, _: &crate::apply::StepDone) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// One task is done (every step done, or stopped at one).
    fn finish(&self, f: &Finished) {
        let id = f
            .progress
            .task_id
            .as_deref()
            .map(|id| format!(" task {id}"))
            .unwrap_or_default();
        let did = did(&f.progress);
        let then = |s: &str| {
            if did.is_empty() {
                s.to_string()
            } else {
                format!("{did}; {s}")
            }
        };
        let line = match &f.result {
            Result_::Done => {
                let verb = if f.progress.created {
                    "created  "
                } else if f.progress.verb == Some(crate::driver::Verb::Stop) {
                    "stopped  "
                } else if f.progress.updated {
                    "updated  "
                } else {
                    "resumed  "
                };
                let did = if did.is_empty() {
                    String::new()
                } else {
                    format!(": {did}")
                };
                format!("{verb} {} ({}{id}){did}", f.name, f.vendor)
            }
            Result_::Failed { step, code, .. } => format!(
                "failed    {} ({}{id}): {}",
                f.name,
                f.vendor,
                then(&format!("{step} refused ({code})"))
            ),
            Result_::Uncertain { step, .. } => format!(
                "uncertain {} ({}{id}): {}",
                f.name,
                f.vendor,
                then(&format!("{step} may or may not have reached the vendor"))
            ),
            Result_::Skipped { step } if did.is_empty() && *step == Step::Create => {
                if let Ok(mut skipped) = self.skipped.lock() {
                    skipped.push(f.name.clone());
                }
                return;
            }
            Result_::Skipped { step } => format!(
                "stopped   {} ({}{id}): {}",
                f.name,
                f.vendor,
                then(&format!("stopped before {step}"))
            ),
            Result_::AuthStopped { step } => format!(
                "not sent  {} ({}{id}): {} (provider `{}` failed authentication)",
                f.name,
                f.vendor,
                then(&format!("{step} not sent")),
                f.provider
            ),
        };
        self.line(&line);
    }
}

impl Reporter {
    /// Every task is done: the tasks the stop left unsent are said in one line, and the
    /// bar goes away.
    pub fn done(&self) {
        let mut skipped = self
            .skipped
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        if !skipped.is_empty() {
            let n = skipped.len();
            self.line(&format!(
                "not sent  {n} task{} (stopped before sending): {}",
                if n == 1 { "" } else { "s" },
                some_names(&mut skipped)
            ));
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What an apply did besides its creates, for the summary.
#[derive(Debug, Default)]
pub struct Besides<'a> {
    /// Records moved by renames: (old name, new name).
    pub renamed: &'a [(String, String)],
    /// Tasks of earlier runs that are still uncertain: (name, the plan's reason and hints).
    pub earlier_uncertain: &'a [(String, Vec<String>)],
    /// Uncertain creates recorded as found by a lookup: (name, vendor task id, how).
    pub adopted: &'a [(String, String, String)],
}

/// Why the apply stopped before sending anything: the providers whose preflight read
/// failed, each with the variables that hold its credentials.
pub fn preflight_failed(
    out: &Printer,
    failures: &[crate::apply::PreflightFailed],
    project: &Project,
) {
    for f in failures {
        let vars = project.credential_vars(&f.provider, f.vendor).join(", ");
        let what = if f.auth {
            "its credentials were refused"
        } else {
            "the read failed"
        };
        out.problem(&format!(
            "error: preflight: provider `{}` ({}): {what}: {}\nhint: check the credentials in {vars}, and the endpoint ({})",
            f.provider,
            f.vendor,
            f.reason,
            crate::project::endpoint_source(&f.provider, f.vendor)
        ));
    }
    out.problem("Nothing was sent: a read-only request per provider checks its credentials before the first create, batch, start or verb.");
}

/// The summary of an apply, on stdout.
/// `unsaved`: the journal holding the results, when they could not be written to the state.
/// `state_args`: what the printed hints need to reach this run's state.
pub fn summary(
    out: &Printer,
    finished: &[Finished],
    besides: &Besides<'_>,
    project: &Project,
    stopped: bool,
    state_args: &str,
    unsaved: Option<&str>,
) {
    let mut finished: Vec<&Finished> = finished.iter().collect();
    finished.sort_by(|a, b| a.name.cmp(&b.name));
    let count = |f: fn(&Result_) -> bool| finished.iter().filter(|x| f(&x.result)).count();
    let created = finished.iter().filter(|f| f.progress.created).count();
    let stops = finished
        .iter()
        .filter(|f| f.resumed && f.result.is_done())
        .filter(|f| f.progress.verb == Some(crate::driver::Verb::Stop))
        .count();
    let resumed = finished
        .iter()
        .filter(|f| f.resumed && f.result.is_done())
        .count()
        - stops;
    let failed = count(|r| matches!(r, Result_::Failed { .. }));
    let uncertain = count(|r| matches!(r, Result_::Uncertain { .. }));
    let skipped = count(|r| matches!(r, Result_::Skipped { .. } | Result_::AuthStopped { .. }));
    let rows: u64 = finished.iter().map(|f| f.progress.rows).sum();
    let batches: u64 = finished.iter().map(|f| u64::from(f.progress.batches)).sum();
    let started = finished.iter().filter(|f| f.progress.started).count();
    let earlier = besides.earlier_uncertain.len();
    let verdict = if unsaved.is_some() {
        "Apply finished, but the state file could not be written"
    } else if stopped {
        "Apply stopped"
    } else if failed + uncertain + earlier > 0 {
        "Apply finished with problems"
    } else {
        "Apply complete"
    };
    let renamed = match besides.renamed.len() {
        0 => String::new(),
        n => format!(", {n} renamed"),
    };
    let renamed = match besides.adopted.len() {
        0 => renamed,
        n => format!("{renamed}, {n} adopted"),
    };
    let earlier_count = match earlier {
        0 => String::new(),
        n => format!("; {n} uncertain from earlier runs, still unresolved"),
    };
    let resumed = match resumed {
        0 => String::new(),
        n => format!(", {n} resumed"),
    } + &match stops {
        0 => String::new(),
        n => format!(", {n} stopped"),
    };
    let steps = if rows + batches > 0 || started > 0 {
        format!(
            "; {} callee{} loaded in {} batch{}, {started} started",
            thousands(rows),
            if rows == 1 { "" } else { "s" },
            thousands(batches),
            if batches == 1 { "" } else { "es" },
        )
    } else {
        String::new()
    };
    say!(out, "\n{verdict}: {created} created{resumed}, {failed} failed, {uncertain} uncertain, {skipped} not sent{renamed}{steps}{earlier_count}.");
    for (old, new) in besides.renamed {
        say!(
            out,
            "  renamed   {old} → {new} (the record moved; nothing was sent)"
        );
    }
    for (name, task_id, _) in besides.adopted {
        say!(
            out,
            "  adopted   {name} as task {task_id} (found by name; nothing was sent to create it)"
        );
    }
    if let Some(journal) = unsaved {
        say!(out, "The results are recorded in the journal {journal}; the next `callform apply` or `callform state` command folds them into the state. Do not delete the journal.");
    }
    for f in &finished {
        for w in &f.progress.warnings {
            say!(out, "  warning: {}: {w}", f.name);
        }
    }
    let failures: Vec<&&Finished> = finished
        .iter()
        .filter(|f| matches!(f.result, Result_::Failed { .. }))
        .collect();
    if !failures.is_empty() {
        say!(
            out,
            "\nFailed (the vendor did nothing of the step named; fix and apply again, which goes on from that step):"
        );
        for f in failures {
            if let Result_::Failed {
                step,
                class,
                code,
                message,
                request_id,
            } = &f.result
            {
                let rid = request_id
                    .as_deref()
                    .map(|r| format!(" (request id {r})"))
                    .unwrap_or_default();
                if *class == Some(ErrorClass::Auth) {
                    let vars = project.credential_vars(&f.provider, f.vendor).join(", ");
                    say!(out, "  {}: {step}: authentication failed for provider `{}`: {code}: {message}{rid}\n    hint: check the credentials in {vars}", f.name, f.provider);
                } else if *class == Some(ErrorClass::TaskState) {
                    say!(out, "  {}: {step}: the vendor refused it because of the task's state there: {} {code}: {message}{rid}\n    hint: `callform plan{state_args}` says how to go on; nothing is sent for the task until then", f.name, f.vendor);
                } else {
                    say!(
                        out,
                        "  {}: {step}: {} {code}: {message}{rid}",
                        f.name,
                        f.vendor
                    );
                }
            }
        }
    }
    // Said once per provider, not once per create.
    let mut auth_stopped: std::collections::BTreeMap<(&str, Vendor), usize> = Default::default();
    for f in &finished {
        if matches!(f.result, Result_::AuthStopped { .. }) {
            *auth_stopped
                .entry((f.provider.as_str(), f.vendor))
                .or_default() += 1;
        }
    }
    if !auth_stopped.is_empty() {
        say!(out, "\nNot sent (authentication failed for their provider; nothing was recorded, so the next plan shows them again):");
        for ((provider, vendor), n) in auth_stopped {
            let vars = project.credential_vars(provider, vendor).join(", ");
            say!(out, "  provider `{provider}`: {n} task(s) stopped before a step, after the first authentication failure\n    hint: check the credentials in {vars}, then apply again");
        }
    }
    let uncertain_list: Vec<&&Finished> = finished
        .iter()
        .filter(|f| matches!(f.result, Result_::Uncertain { .. }))
        .collect();
    if !uncertain_list.is_empty() {
        say!(out, "\nUncertain (the step may or may not have reached the vendor; callform sends nothing more for these tasks until it is resolved):");
        for f in uncertain_list {
            if let Result_::Uncertain { step, reason } = &f.result {
                say!(out, "  {}: {step}: {reason}", f.name);
                say!(
                    out,
                    "{}",
                    step_hint(step, f.vendor.key(), &f.name, state_args)
                );
            }
        }
    }
    earlier_uncertain(out, besides.earlier_uncertain);
}

/// How a person resolves an uncertain step.
fn step_hint(step: &Step, vendor: &str, name: &str, state_args: &str) -> String {
    match step {
        Step::Create => resolve_hint(vendor, name, state_args),
        Step::Batch { i, .. } => format!("    hint: check the task's numbers in the {vendor} console, then `callform state batch {name} {i} loaded{state_args}` if they are there, or `callform state batch {name} {i} not-loaded{state_args}` if not (the next apply sends them)"),
        Step::Start => format!("    hint: check in the {vendor} console whether the task runs, then `callform state start {name} started{state_args}` or `callform state start {name} not-started{state_args}`"),
        Step::Verb(v) => format!("    hint: `callform refresh --write{state_args}` reads `{name}` back from {vendor}: its status settles whether the {v} took effect (it is never sent again blindly)"),
        Step::Update => format!("    hint: `callform refresh{state_args}` or the {vendor} console shows whether `{name}` holds the new values; then `callform state update {name} done{state_args}` or `callform state update {name} not-done{state_args}` (it is never sent again blindly)"),
        Step::StopSuperseded(id) => format!("    hint: task {id} (superseded by `{name}`) may still be dialling: check it in the {vendor} console and stop it there if it runs (callform never sends its stop again)"),
    }
}

fn resolve_hint(vendor: &str, name: &str, state_args: &str) -> String {
    format!("    hint: find it in the {vendor} console, then `callform state import {name} TASK_ID{state_args}`, or `callform state rm {name}{state_args}` if it is not there")
}

/// Uncertain tasks an earlier run left, which this apply did not touch: until a person
/// resolves them, a campaign may exist twice or not at all, so the apply fails.
pub fn earlier_uncertain(out: &Printer, tasks: &[(String, Vec<String>)]) {
    if tasks.is_empty() {
        return;
    }
    say!(out, "\nStill uncertain from earlier runs (a step may or may not have reached the vendor; nothing is sent for these tasks until you resolve it):");
    for (name, lines) in tasks {
        say!(out, "  {name}");
        for line in lines {
            say!(out, "    {line}");
        }
    }
}
