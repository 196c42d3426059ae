//! Fuzz target: any bytes as a manifest file, a `callform.yaml` and a callee file.
//!
//! One input drives every reader a user's file can reach, in-process: the UTF-8 check,
//! the YAML tree builder, the whole manifest loader (typing, rules, callee files), the
//! project file loader, the numbers and CSV callee parsers, and every way a diagnostic is
//! shown (text with the source excerpt and caret, GitHub annotations, JSON, masking). The
//! contract under test is the loader's: never panic, never hang, whatever the bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use callform::diag::{self, Diagnostic};
use callform::manifest::{self, callees, yaml, Vendor};
use callform::project::{self, Project};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A directory laid out like `examples/`, so a seed's `callees: {file: ../numbers/...}`
/// resolves to a real file and the callee readers run behind the loader too.
fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("callform-fuzz-{}", std::process::id()));
        let numbers = dir.join("numbers");
        std::fs::create_dir_all(dir.join("tasks")).expect("create the fuzz work dir");
        std::fs::create_dir_all(&numbers).expect("create the fuzz work dir");
        std::fs::write(
            numbers.join("overdue-jan.csv"),
            include_bytes!("../../examples/tasks/numbers/overdue-jan.csv"),
        )
        .expect("write a callee file");
        std::fs::write(
            numbers.join("delivery.csv"),
            include_bytes!("../../examples/tasks/numbers/delivery.csv"),
        )
        .expect("write a callee file");
        dir
    })
}

fn providers() -> BTreeMap<String, Vendor> {
    let mut p: BTreeMap<String, Vendor> = Vendor::ALL
        .iter()
        .map(|v| (v.key().to_string(), *v))
        .collect();
    p.insert("aliyun-backup".to_string(), Vendor::Aliyun);
    p
}

/// Renders a diagnostic every way callform shows one; the output itself is not checked.
fn show(d: &Diagnostic, source: Option<&str>) {
    let masked = d.clone().masked();
    std::hint::black_box(diag::render_text(&masked, source, true));
    std::hint::black_box(diag::render_text(d, source, false));
    std::hint::black_box(diag::render_github(&masked));
    std::hint::black_box(serde_json::to_string(&masked).ok());
}

fn run(data: &[u8]) {
    let dir = workdir();
    let file = dir.join("tasks").join("fuzz.yaml");
    let text = match callees::decode(data.to_vec(), &file) {
        Ok(text) => text,
        Err(d) => {
            show(&d, Some(&String::from_utf8_lossy(data)));
            return;
        }
    };

    // The tree builder alone, and what the typed reader asks of its nodes.
    match yaml::parse(&text) {
        Ok(docs) => {
            for doc in &docs {
                std::hint::black_box((
                    doc.root.kind_name(),
                    doc.root.is_null(),
                    doc.root.get("spec").map(yaml::Node::kind_name),
                ));
            }
        }
        Err(e) => show(
            &Diagnostic::error(&file, e.message).at(e.pos.line, e.pos.col, e.pos.len),
            Some(&text),
        ),
    }

    // The loader, with a project file's providers for odd lengths (some checks run only
    // with them): one pass per input keeps the executions fast.
    let tz = TimeZone::fixed(jiff::tz::offset(8));
    let now = Timestamp::from_second(1_767_225_600).expect("a valid instant");
    let providers = (data.len() % 2 == 1).then(providers);
    let out = manifest::load_text(&file, &text, &tz, now, providers.as_ref());
    for d in &out.diagnostics {
        show(d, out.texts.get(&d.file).map(String::as_str));
    }
    std::hint::black_box(
        out.tasks
            .iter()
            .map(|t| t.vendor_name().len() + t.callees.as_ref().map_or(0, |c| c.len()))
            .sum::<usize>(),
    );

    // The same bytes as callform.yaml.
    let project_file = dir.join("callform.yaml");
    let (project, diags) = project::load_text(
        Project::defaults(dir),
        &project_file,
        Path::new("callform.yaml"),
        &text,
    );
    for d in &diags {
        show(d, Some(&text));
    }
    // Its policy (as read, whatever else was wrong) over the tasks read above, and every
    // finding shown.
    let compliance = callform::policy::check(&project.policy, &tz, &out.tasks);
    for d in compliance.diagnostics() {
        show(&d, None);
    }

    // And as the callee files a task may name, in both forms, for every vendor.
    let callee_file = dir.join("numbers").join("fuzz-input");
    if std::fs::write(&callee_file, data).is_ok() {
        for format in [callees::Format::Lines, callees::Format::Csv] {
            for vendor in Vendor::ALL {
                for d in &callees::check_file(&callee_file, format, vendor) {
                    show(d, Some(&text));
                }
            }
        }
    }
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        run(data);
    });
}
