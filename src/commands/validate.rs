//! `callform validate`: every problem in the manifests and callform.yaml, in one run.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use crate::cli::{DiagFormat, Outcome, ValidateArgs};
use crate::diag::{self, Diagnostic};
use crate::manifest::{self, Manifests};
use crate::project::{self, Project};

/// Loads the project and the manifests, with every diagnostic from both.
pub fn load(dir: &std::path::Path) -> (Project, Manifests) {
    let (project, project_diags) = project::load(dir);
    let manifests = load_manifests(dir, &project, project_diags);
    (project, manifests)
}

/// Loads the manifests for `project`; its diagnostics come first.
pub fn load_manifests(
    dir: &std::path::Path,
    project: &Project,
    project_diags: Vec<Diagnostic>,
) -> Manifests {
    let providers: Option<BTreeMap<_, _>> = project.file.as_ref().map(|_| {
        project
            .providers
            .iter()
            .map(|(k, p)| (k.clone(), p.vendor))
            .collect()
    });
    let mut manifests = manifest::load_in(
        dir,
        &project.timezone,
        jiff::Timestamp::now(),
        providers.as_ref(),
        &project.input_roots,
    );
    manifests.diagnostics.splice(0..0, project_diags);
    manifests
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let (_project, manifests) = load(&args.dir);
    let out = std::io::stdout();
    let mut out = out.lock();
    print_diagnostics(&mut out, &manifests, args.format, args.color.stdout())?;
    let errors = manifests
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .count();
    let warnings = manifests.diagnostics.len() - errors;
    match args.format {
        DiagFormat::Json => {
            let doc = serde_json::json!({
                "format_version": 1,
                "valid": errors == 0,
                "tasks": manifests.tasks.len(),
                "files": manifests.files.len(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": manifests.diagnostics.iter().map(|d| d.clone().masked()).collect::<Vec<Diagnostic>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        DiagFormat::Text | DiagFormat::Github => {
            let summary = if errors == 0 {
                format!(
                    "{} task(s) in {} file(s) are valid",
                    manifests.tasks.len(),
                    manifests.files.len()
                )
            } else {
                format!("{errors} error(s)")
            };
            let warn = if warnings > 0 {
                format!(", {warnings} warning(s)")
            } else {
                String::new()
            };
            writeln!(out, "{summary}{warn}")?;
        }
    }
    super::discard(manifests);
    Ok(if errors == 0 {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// Prints diagnostics in text or GitHub form (JSON is printed whole by the caller).
pub fn print_diagnostics(
    out: &mut dyn Write,
    manifests: &Manifests,
    format: DiagFormat,
    color: bool,
) -> std::io::Result<()> {
    let excerpts = std::io::stdout().is_terminal();
    // Each file's lines, indexed once (a file may have thousands of diagnostics).
    let mut lines: std::collections::HashMap<&std::path::Path, Vec<&str>> = Default::default();
    for d in &manifests.diagnostics {
        let d = d.clone().masked();
        match format {
            DiagFormat::Text => {
                let line = if excerpts && d.line > 0 {
                    manifests
                        .texts
                        .get_key_value(&d.file)
                        .and_then(|(path, text)| {
                            let index = lines
                                .entry(path.as_path())
                                .or_insert_with(|| text.lines().collect());
                            index.get(d.line - 1).copied()
                        })
                } else {
                    None
                };
                writeln!(out, "{}", diag::render_text_line(&d, line, color))?;
            }
            DiagFormat::Github => write!(out, "{}", diag::render_github(&d))?,
            DiagFormat::Json => {}
        }
    }
    Ok(())
}
