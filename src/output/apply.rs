//! Apply's progress — a bar on a terminal, one line per finished task otherwise (CI logs),
//! on stderr; nothing with `--quiet` — and its summary on stdout.

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
        Reporter { bar, out: *out }
    }

    /// One task is done (created, failed, uncertain or not sent).
    pub fn finish(&self, f: &Finished) {
        let line = match &f.result {
            Result_::Created { task_id, .. } => {
                format!("created   {} ({} task {task_id})", f.name, f.vendor)
            }
            Result_::Failed { code, .. } => format!("failed    {} ({} {code})", f.name, f.vendor),
            Result_::Uncertain { .. } => format!("uncertain {} ({})", f.name, f.vendor),
            Result_::Skipped => format!("skipped   {} (stopped before sending)", f.name),
            Result_::AuthStopped => format!(
                "not sent  {} (provider `{}` failed authentication)",
                f.name, f.provider
            ),
        };
        match &self.bar {
            Some(bar) => {
                bar.println(&line);
                bar.inc(1);
            }
            None => self.out.status(&line),
        }
    }

    /// Every task is done: the bar goes away.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The summary of an apply, on stdout.
/// `unsaved`: the journal holding the results, when they could not be written to the state.
/// `state_args`: what the printed hints need to reach this run's state.
pub fn summary(
    out: &Printer,
    finished: &[Finished],
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
    let verdict = if unsaved.is_some() {
        "Apply finished, but the state file could not be written"
    } else if stopped {
        "Apply stopped"
    } else if failed + uncertain > 0 {
        "Apply finished with problems"
    } else {
        "Apply complete"
    };
    say!(out, "\n{verdict}: {created} created, {failed} failed, {uncertain} uncertain, {skipped} not sent.");
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
                say!(out, "    hint: find it in the {} console, then `callform state import {} TASK_ID{state_args}`, or `callform state rm {}{state_args}` if it is not there", f.vendor, f.name, f.name);
            }
        }
    }
}
