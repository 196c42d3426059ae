//! Apply's progress: a bar on a terminal, one line per finished task otherwise (CI logs),
//! on stderr; nothing with `--quiet`.

use crate::apply::{Finished, Result_};

use super::Printer;

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
