//! Diagnostics printed as text or GitHub annotations (JSON is printed whole by
//! `validate`). Colour and source excerpts follow the stream they are written to.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::DiagFormat;
use crate::diag;
use crate::manifest::Manifests;

use super::palette::Palette;
use super::Printer;

/// Prints `manifests`' diagnostics to `out`; `excerpts`: show the offending source line
/// with a caret (on a terminal). GitHub annotations name files from the repository root
/// (`workspace`: `GITHUB_WORKSPACE`, else the nearest directory holding `.git`), as the
/// pull request shows them.
pub fn print(
    out: &mut dyn Write,
    manifests: &Manifests,
    format: DiagFormat,
    palette: Palette,
    excerpts: bool,
    workspace: Option<&Path>,
) -> std::io::Result<()> {
    // Each file's lines, indexed once (a file may have thousands of diagnostics).
    let mut lines: HashMap<&Path, Vec<&str>> = Default::default();
    // Each file's path from the repository root, found once.
    let mut from_root: HashMap<PathBuf, PathBuf> = Default::default();
    for d in &manifests.diagnostics {
        let d = d.clone().masked();
        match format {
            DiagFormat::Text => {
                let line = if excerpts && d.line > 0 {
                    manifests
                        .texts
                        .get_key_value(&d.file)
                        // A file with inline callee rows holds their values (names) in
                        // clear, on lines no masker can tell apart: it is never quoted.
                        .filter(|(_, text)| !text.contains("rows:"))
                        .and_then(|(path, text)| {
                            let index = lines
                                .entry(path.as_path())
                                .or_insert_with(|| text.lines().collect());
                            index.get(d.line - 1).copied()
                        })
                } else {
                    None
                };
                writeln!(out, "{}", diag::render_text_line(&d, line, palette.on))?;
            }
            DiagFormat::Github => {
                let file = from_root
                    .entry(d.file.clone())
                    .or_insert_with(|| crate::project::repo_relative(&d.file, workspace))
                    .clone();
                write!(
                    out,
                    "{}",
                    diag::render_github(&diag::Diagnostic { file, ..d })
                )?
            }
            DiagFormat::Json => {}
        }
    }
    Ok(())
}

impl Printer {
    /// The diagnostics as text on stderr (where plan and apply show them: stdout is the
    /// plan), coloured and with excerpts when stderr is a terminal.
    pub fn diagnostics(&self, manifests: &Manifests) -> std::io::Result<()> {
        print(
            &mut std::io::stderr().lock(),
            manifests,
            DiagFormat::Text,
            self.stderr_palette(),
            self.stderr_is_terminal(),
            None,
        )
    }

    /// The diagnostics on stdout, as `validate` prints them; `workspace` is
    /// `GITHUB_WORKSPACE`, for the paths of GitHub annotations.
    pub fn diagnostics_data(
        &self,
        manifests: &Manifests,
        format: DiagFormat,
        workspace: Option<&Path>,
    ) -> std::io::Result<()> {
        print(
            &mut std::io::stdout().lock(),
            manifests,
            format,
            self.stdout_palette(),
            self.stdout_is_terminal(),
            workspace,
        )
    }
}
