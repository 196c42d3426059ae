//! Apply's progress and its summary.
//!
//! On a terminal: a bar on stderr, with each finished task's line printed above it. Without
//! one (CI): each finished task's line on stdout, the stream the summary is on. A CI log
//! reads stdout and stderr through two pipes and merges them as the lines arrive, so lines
//! on two streams can come out of order; on one stream they cannot, and the summary always
//! follows the last task's line. `--quiet` prints no per-task lines. Tasks not sent because
//! the run was stopped are one line, with their count and at most a few names, not one line
//! each. The summary counts this run's uncertain creates and, separately, the uncertain
//! tasks of earlier runs that are still unresolved: both fail the apply.

use crate::apply::{Finished, Result_};
use crate::driver::ErrorClass;
use crate::manifest::Vendor;
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

impl Reporter {
    /// For a run of `total` sends.
    pub fn new(total: usize, out: &Printer) -> Reporter {
        let bar = (out.stderr_is_terminal() && !out.is_quiet()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} creating [{bar:30}] {pos}/{len} {elapsed}",
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

    /// One task is done (created, failed, uncertain or not sent).
    pub fn finish(&self, f: &Finished) {
        let line = match &f.result {
            Result_::Created { task_id, .. } => {
                format!("created   {} ({} task {task_id})", f.name, f.vendor)
            }
            Result_::Failed { code, .. } => format!("failed    {} ({} {code})", f.name, f.vendor),
            Result_::Uncertain { .. } => format!("uncertain {} ({})", f.name, f.vendor),
            Result_::Skipped => {
                if let Ok(mut skipped) = self.skipped.lock() {
                    skipped.push(f.name.clone());
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                return;
            }
            Result_::AuthStopped => format!(
                "not sent  {} (provider `{}` failed authentication)",
                f.name, f.provider
            ),
        };
        self.line(&line);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

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
    /// Tasks of earlier runs that are still uncertain: (name, vendor).
    pub earlier_uncertain: &'a [(String, String)],
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
    let created = count(|r| matches!(r, Result_::Created { .. }));
    let failed = count(|r| matches!(r, Result_::Failed { .. }));
    let uncertain = count(|r| matches!(r, Result_::Uncertain { .. }));
    let skipped = count(|r| matches!(r, Result_::Skipped | Result_::AuthStopped));
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
    let earlier_count = match earlier {
        0 => String::new(),
        n => format!("; {n} uncertain from earlier runs, still unresolved"),
    };
    say!(out, "\n{verdict}: {created} created, {failed} failed, {uncertain} uncertain, {skipped} not sent{renamed}{earlier_count}.");
    for (old, new) in besides.renamed {
        say!(
            out,
            "  renamed   {old} → {new} (the record moved; nothing was sent)"
        );
    }
    if let Some(journal) = unsaved {
        say!(out, "The results are recorded in the journal {journal}; the next `callform apply` or `callform state` command folds them into the state. Do not delete the journal.");
    }
    for f in &finished {
        if let Result_::Created { warnings, .. } = &f.result {
            for w in warnings {
                say!(out, "  warning: {}: {w}", f.name);
            }
        }
    }
    let failures: Vec<&&Finished> = finished
        .iter()
        .filter(|f| matches!(f.result, Result_::Failed { .. }))
        .collect();
    if !failures.is_empty() {
        say!(
            out,
            "\nFailed (nothing was created for these; fix and apply again):"
        );
        for f in failures {
            if let Result_::Failed {
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
                    say!(out, "  {}: authentication failed for provider `{}`: {code}: {message}{rid}\n    hint: check the credentials in {vars}", f.name, f.provider);
                } else {
                    say!(out, "  {}: {} {code}: {message}{rid}", f.name, f.vendor);
                }
            }
        }
    }
    // Said once per provider, not once per create.
    let mut auth_stopped: std::collections::BTreeMap<(&str, Vendor), usize> = Default::default();
    for f in &finished {
        if matches!(f.result, Result_::AuthStopped) {
            *auth_stopped
                .entry((f.provider.as_str(), f.vendor))
                .or_default() += 1;
        }
    }
    if !auth_stopped.is_empty() {
        say!(out, "\nNot sent (authentication failed for their provider; nothing was recorded, so the next plan shows them again):");
        for ((provider, vendor), n) in auth_stopped {
            let vars = project.credential_vars(provider, vendor).join(", ");
            say!(out, "  provider `{provider}`: {n} create(s) not sent after the first authentication failure\n    hint: check the credentials in {vars}, then apply again");
        }
    }
    let uncertain_list: Vec<&&Finished> = finished
        .iter()
        .filter(|f| matches!(f.result, Result_::Uncertain { .. }))
        .collect();
    if !uncertain_list.is_empty() {
        say!(out, "\nUncertain (the task may exist at the vendor; callform will not create it again by itself):");
        for f in uncertain_list {
            if let Result_::Uncertain { reason } = &f.result {
                say!(out, "  {}: {reason}", f.name);
                say!(out, "{}", resolve_hint(f.vendor.key(), &f.name, state_args));
            }
        }
    }
    earlier_uncertain(out, besides.earlier_uncertain, state_args);
}

fn resolve_hint(vendor: &str, name: &str, state_args: &str) -> String {
    format!("    hint: find it in the {vendor} console, then `callform state import {name} TASK_ID{state_args}`, or `callform state rm {name}{state_args}` if it is not there")
}

/// Uncertain tasks an earlier run left, which this apply did not touch: until a person
/// resolves them, a campaign may exist twice or not at all, so the apply fails.
pub fn earlier_uncertain(out: &Printer, tasks: &[(String, String)], state_args: &str) {
    if tasks.is_empty() {
        return;
    }
    say!(out, "\nStill uncertain from earlier runs (the task may exist at the vendor; nothing is sent for it until you resolve it):");
    for (name, vendor) in tasks {
        say!(out, "  {name}");
        say!(out, "{}", resolve_hint(vendor, name, state_args));
    }
}
