//! Replays the fuzz seeds and every input that once crashed or hung the loader
//! (`fuzz/seeds/`, `fuzz/regressions/`) through the readers the fuzz target drives, from
//! disk as `callform validate` reads them. Each must finish, quickly, without a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use callform::diag::{self, Diagnostic};
use callform::manifest::{self, callees, yaml, Vendor};
use callform::project::{self, Project};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Far above what any of these inputs needs; only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(10);

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

fn render(diags: &[Diagnostic], source: Option<&str>) -> usize {
    diags
        .iter()
        .map(|d| {
            diag::render_text(&d.clone().masked(), source, true).len()
                + diag::render_github(d).len()
        })
        .sum()
}

/// What the fuzz target does with one input, reading the file from disk.
fn replay(file: &Path) {
    let providers: BTreeMap<String, Vendor> = Vendor::ALL
        .iter()
        .map(|v| (v.key().to_string(), *v))
        .collect();
    let now = Timestamp::from_second(1_767_225_600).unwrap();
    for providers in [None, Some(&providers)] {
        let out = manifest::load(file, &TimeZone::UTC, now, providers);
        for d in &out.diagnostics {
            render(
                std::slice::from_ref(d),
                out.texts.get(&d.file).map(String::as_str),
            );
        }
    }
    let Ok(text) = callees::decode(std::fs::read(file).unwrap(), file) else {
        return;
    };
    let _ = yaml::parse(&text);
    let (_, diags) = project::load_text(Project::defaults(file), file, file, &text);
    render(&diags, Some(&text));
    for format in [callees::Format::Lines, callees::Format::Csv] {
        for vendor in Vendor::ALL {
            let diags = callees::check_file(file, format, vendor);
            render(&diags, Some(&text));
        }
    }
}

#[test]
fn fuzz_inputs_load_without_panic_or_hang() {
    let files = inputs();
    assert!(files
        .iter()
        .any(|f| f.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions"))));
    for file in files {
        let (done, finished) = mpsc::channel();
        let input = file.clone();
        // A thread, so a panic is reported with the file's name and a hang hits the deadline.
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(|| replay(&input));
            let _ = done.send(result.is_ok());
        });
        match finished.recv_timeout(DEADLINE) {
            Ok(true) => {}
            Ok(false) => panic!("{} panicked the loader", file.display()),
            Err(_) => panic!("{} did not load within {DEADLINE:?}", file.display()),
        }
    }
}
