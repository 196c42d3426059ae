//! `callform validate`: every problem in the manifests and callform.yaml, in one run.

use crate::cli::{DiagFormat, Outcome, ValidateArgs};
use crate::diag::Diagnostic;
use crate::env::Env;
use crate::output::Printer;
use crate::workspace;

pub fn run(args: &ValidateArgs, printer: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let (_project, mut manifests) = workspace::load(&args.dir, env.now());
    // `plan` and `apply` refuse a directory with no tasks (and no state); validate has no
    // state to tell a removed project from a wrong path, so it warns.
    if manifests.tasks.is_empty() && manifests.diagnostics.iter().all(|d| !d.is_error()) {
        manifests.diagnostics.push(
            Diagnostic::warning(
                &args.dir,
                "holds no tasks (no *.yaml or *.yml task documents)",
            )
            .hint("pass the directory that holds your task files"),
        );
    }
    // The policy's errors are among the diagnostics already; its warnings, excused
    // findings and idle exceptions are shown here too, for the reviewer.
    let shown: Vec<Diagnostic> = manifests
        .compliance
        .diagnostics()
        .into_iter()
        .filter(|d| !d.is_error())
        .collect();
    if !shown.is_empty() {
        manifests.diagnostics.extend(shown);
        crate::diag::sort(&mut manifests.diagnostics);
    }
    let workspace = env.var("GITHUB_WORKSPACE").map(std::path::PathBuf::from);
    printer.diagnostics_data(&manifests, args.format, workspace.as_deref())?;
    let errors = manifests
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .count();
    let warnings = manifests.diagnostics.len() - errors;
    let text = match args.format {
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
            serde_json::to_string_pretty(&doc)? + "\n"
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
            format!("{summary}{warn}\n")
        }
    };
    printer.data(&text)?;
    super::discard(manifests);
    Ok(if errors == 0 {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
