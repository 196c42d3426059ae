//! `callform init`: the files of a new project, built from each vendor's template so that
//! a fifth vendor brings its own. Pure: [`files`] returns paths and contents, and the
//! command writes them (never over an existing file).
//!
//! The project validates as written and applies in the sandbox: its dates are computed
//! from today (a week ahead, for four weeks), its numbers are placeholders from the
//! 1370000xxxx block, and its credentials are `${ENV}` references the sandbox fills in.

use std::path::PathBuf;

use crate::vendor::VendorId;

/// The lines `init` makes sure `.gitignore` holds: what callform writes beside the
/// manifests (states, their journals and locks, saved plans).
pub const GITIGNORE: &[&str] = &["*.state.json", "*.state.json.*", "*.plan"];

/// One file of a new project, relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    pub contents: String,
}

/// callform.yaml and one task per vendor, with dates from `today`.
pub fn files(today: jiff::civil::Date) -> Vec<File> {
    let start = today.saturating_add(jiff::Span::new().days(7));
    let end = start.saturating_add(jiff::Span::new().days(27));
    let mut project = String::from(
        "# callform project file: time zone, state and one provider block per vendor.\n\
         # Credentials are only ever `${ENV_VAR}` references: callform refuses literal secrets.\n\
         # `callform apply --sandbox` fills them in for the built-in emulator.\n\
         timezone: Asia/Shanghai\n\
         state: callform.state.json\n\
         # The compliance policy (README, \"Compliance\"). Without it, a preset warns of calls\n\
         # outside 09:00-21:00 in Asia/Shanghai and of marketing tasks without `consent:`.\n\
         # policy:\n\
         #   rules: {calling_hours: error, consent: error}\n\
         #   timezone: Asia/Shanghai        # the callees' time zone\n\
         #   hours: {default: [\"09:00-21:00\"], sunday: []}\n\
         providers:\n",
    );
    let mut out = Vec::new();
    for vendor in VendorId::ALL {
        let template = vendor.def().init_template();
        project.push_str(template.provider);
        out.push(File {
            path: PathBuf::from("tasks").join(format!("example-{}.yaml", vendor.key())),
            contents: template
                .task
                .replace("{{START}}", &start.to_string())
                .replace("{{END}}", &end.to_string()),
        });
    }
    out.insert(
        0,
        File {
            path: PathBuf::from("callform.yaml"),
            contents: project,
        },
    );
    out
}

/// The lines of [`GITIGNORE`] that `existing` (a `.gitignore`'s text) lacks.
pub fn missing_ignores(existing: &str) -> Vec<&'static str> {
    GITIGNORE
        .iter()
        .copied()
        .filter(|line| !existing.lines().any(|l| l.trim() == *line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendor_gets_a_task_and_a_provider_block_with_dates_filled_in() {
        let files = files(jiff::civil::date(2027, 3, 1));
        assert_eq!(files.len(), 1 + VendorId::ALL.len());
        for v in VendorId::ALL {
            assert!(files[0].contents.contains(&format!("\n  {}:\n", v.key())));
        }
        for f in &files[1..] {
            assert!(!f.contents.contains("{{"), "{}", f.path.display());
        }
        assert!(files[1].contents.contains("2027-03-08"));
    }

    #[test]
    fn only_missing_ignore_lines_are_added() {
        assert_eq!(
            missing_ignores("/target/\n*.state.json\n"),
            ["*.state.json.*", "*.plan"]
        );
        assert!(missing_ignores(&GITIGNORE.join("\n")).is_empty());
    }
}
