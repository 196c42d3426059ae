//! `callform init [DIR]`: writes a new project (see `crate::init`), never over a file that
//! exists: when any of its files is there already, nothing is written.

use std::io::Write;

use anyhow::Context;

use crate::cli::{InitArgs, Outcome};
use crate::env::Env;
use crate::init;
use crate::output::Printer;

pub fn run(args: &InitArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let zone = jiff::tz::TimeZone::get(crate::project::DEFAULT_TIMEZONE)
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let today = env.now().to_zoned(zone).date();
    let files = init::files(today);
    let taken: Vec<String> = files
        .iter()
        .map(|f| args.dir.join(&f.path))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        out.problem(&format!(
            "error: {} already exist{}; callform init wrote nothing\n  hint: run it in a new directory (`callform init DIR`), or move the file{} away",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" },
            if taken.len() == 1 { "" } else { "s" },
        ));
        return Ok(Outcome::Failure);
    }
    for f in &files {
        let path = args.dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(f.contents.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        out.status(&format!("created {}", path.display()));
    }
    let ignore = args.dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&ignore) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ignore.display())),
    };
    let missing = init::missing_ignores(&existing);
    if !missing.is_empty() {
        let mut text = String::new();
        if !existing.is_empty() && !existing.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# callform: states, their journals and locks, saved plans\n");
        for line in &missing {
            text.push_str(line);
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&ignore)
            .with_context(|| format!("cannot open {}", ignore.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", ignore.display()))?;
        out.status(&format!(
            "{} {}",
            if existing.is_empty() {
                "created"
            } else {
                "added to"
            },
            ignore.display()
        ));
    }
    // The steps run as printed, pasted one after the other into one shell: one `cd`
    // (quoted for the shell), then the commands from inside the project.
    let cd = if args.dir == std::path::Path::new(".") {
        String::new()
    } else {
        format!(
            "  cd {}\n",
            crate::settings::shell_quote(&args.dir.display().to_string())
        )
    };
    out.say(&format!(
        "\nNext:\n{cd}  callform validate                        # every problem, with file:line:col\n  callform apply --sandbox --auto-approve   # against the built-in emulator, no account needed\nThen set the credentials named in callform.yaml, edit the tasks under tasks/, and `callform plan`."
    ));
    Ok(Outcome::Success)
}
