//! `callform fmt [--check] [DIR|FILE]`: rewrites manifests (and the callform.yaml beside
//! them) in the canonical layout of `manifest::fmt`, or with `--check` shows what would
//! change and exits 1. A file is replaced atomically (a temporary file beside it, then a
//! rename), with its permissions kept; a file whose layout cannot be proven to keep its
//! meaning is reported and left alone.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{FmtArgs, Outcome};
use crate::env::Env;
use crate::manifest::{self, callees, fmt};
use crate::output::Printer;
use crate::phone::mask_phones_in_text;

pub fn run(args: &FmtArgs, out: &Printer, _env: &dyn Env) -> anyhow::Result<Outcome> {
    let mut files = match manifest::find_files(&args.dir) {
        Ok(files) => files,
        Err(d) => {
            out.problem(&format!("error: {}: {}", args.dir.display(), d.message));
            return Ok(Outcome::Failure);
        }
    };
    if args.dir.is_dir() {
        for name in crate::project::FILE_NAMES {
            let path = args.dir.join(name);
            if path.is_file() {
                files.push(path);
            }
        }
    }
    let (mut changed, mut failed) = (0usize, 0usize);
    for path in &files {
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            out.status(&format!(
                "skipped {}: a symbolic link (format the file it points to)",
                path.display()
            ));
            continue;
        }
        let text = match callees::read_text(path, path) {
            Ok(text) => text,
            Err(d) => {
                out.problem(&format!("error: {}: {}", path.display(), d.message));
                failed += 1;
                continue;
            }
        };
        let formatted = match fmt::format(&text) {
            Ok(f) => f,
            Err(e) => {
                out.problem(&format!("error: {}: {e}", path.display()));
                failed += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        if args.check {
            out.data(&diff(path, &text, &formatted))?;
        } else {
            replace(path, &formatted)?;
            out.status(&format!("formatted {}", path.display()));
        }
    }
    let verb = if args.check {
        "would be reformatted"
    } else {
        "reformatted"
    };
    out.status(&format!(
        "{changed} file(s) {verb}, {} already formatted{}",
        files.len() - changed - failed,
        if failed > 0 {
            format!(", {failed} not formatted (see above)")
        } else {
            String::new()
        }
    ));
    Ok(if failed > 0 || (args.check && changed > 0) {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// A unified diff, phone numbers masked (a manifest may list callees inline).
fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    let text = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&name, &name)
        .to_string();
    mask_phones_in_text(&text)
}

/// Replaces `path` with `text`: written beside it under a temporary name with the same
/// permissions, synced, then renamed over it, so a crash leaves the old file or the new.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp: PathBuf = path.with_file_name(format!(".{name}.callform-fmt"));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.set_permissions(meta.permissions())?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
