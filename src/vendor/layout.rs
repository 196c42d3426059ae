//! The vendor layout, checked on the source tree: every vendor is a folder with the same
//! four files, the folders are exactly the vendor list, each `emulator.rs` is an
//! independent reading of its vendor page (it never imports its `spec.rs` or
//! `driver.rs`, nor the manifest or driver code), and the shared code names no vendor.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::VendorId;

const FILES: [&str; 4] = ["mod.rs", "spec.rs", "driver.rs", "emulator.rs"];

/// Shared files still allowed to name a vendor, each with the reason.
const NAMING_A_VENDOR: &[(&str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn vendor_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(src().join("vendor"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The lines of `text` that are code: before its test module, comments left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// What an emulator half may not import: its own vendor's other halves, or the manifest
/// and driver code they are built on.
fn emulator_violations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in code_lines(text) {
        let bad_super = line
            .match_indices("super::")
            .any(|(i, _)| !line[i..].starts_with("super::*"));
        let bad_crate = [
            "crate::vendor",
            "crate::driver",
            "crate::manifest",
            "callform::",
        ]
        .iter()
        .any(|p| line.contains(p));
        if bad_super || bad_crate {
            out.push(format!("line {n}: {}", line.trim()));
        }
    }
    out
}

#[test]
fn every_vendor_folder_has_the_four_files_and_is_in_the_list() {
    let mut folders = BTreeSet::new();
    for dir in vendor_dirs() {
        for file in FILES {
            assert!(dir.join(file).is_file(), "{} has no {file}", dir.display());
        }
        folders.insert(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    let listed: BTreeSet<String> = VendorId::ALL.iter().map(|v| v.key().to_string()).collect();
    assert_eq!(
        folders, listed,
        "src/vendor/ folders and the vendor list differ"
    );
}

#[test]
fn no_emulator_half_imports_its_spec_or_driver() {
    let dirs = vendor_dirs();
    assert_eq!(dirs.len(), VendorId::ALL.len());
    for dir in dirs {
        let path = dir.join("emulator.rs");
        let text = fs::read_to_string(&path).unwrap();
        let bad = emulator_violations(&text);
        assert!(
            bad.is_empty(),
            "{} imports outside the emulator kit: {bad:#?}",
            path.display()
        );
    }
}

#[test]
fn the_check_catches_an_emulator_that_reads_the_driver() {
    for line in [
        "use super::spec::XfyetaSpec;",
        "use super::{driver, spec};",
        "use crate::vendor::xfyeta::driver::read;",
        "let x = crate::manifest::Vendor::Xfyeta;",
        "use crate::driver::Request;",
    ] {
        assert_eq!(emulator_violations(line).len(), 1, "{line}");
    }
    assert!(emulator_violations(
        "use crate::emulator::params::header;\nmod tests {\n    use super::*;\n}"
    )
    .is_empty());
}

#[test]
fn shared_code_names_no_vendor() {
    let mut files = Vec::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != src().join("vendor") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "the source tree was not found");
    let mut found = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let rel = rel.to_string_lossy().replace('\\', "/");
        if NAMING_A_VENDOR.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for (n, line) in code_lines(&text) {
            for v in VendorId::ALL {
                let variant = format!("{v:?}");
                let named = ["Vendor::", "VendorId::", "Spec::"]
                    .iter()
                    .any(|p| line.contains(&format!("{p}{variant}")))
                    || line.contains(&format!("vendor::{}", v.key()));
                if named {
                    found.push(format!("{rel}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "shared code names a vendor; declare it in the vendor's folder instead: {found:#?}"
    );
}

#[test]
fn the_emulator_routes_of_all_vendors_do_not_collide() {
    use crate::emulator::Route;
    let mut paths = BTreeSet::new();
    let mut takes_the_rest = Vec::new();
    for v in VendorId::ALL {
        for route in v.def().emulator_routes() {
            match route {
                Route::Post(path, _) => assert!(paths.insert(path), "{v}: {path} is taken"),
                Route::Signed { claims: None, .. } => takes_the_rest.push(v),
                Route::Signed {
                    claims: Some(_), ..
                } => {}
            }
        }
    }
    assert!(!paths.contains("/"), "`/` is for signed requests");
    assert!(
        takes_the_rest.len() <= 1,
        "more than one vendor takes every request at `/`: {takes_the_rest:?}"
    );
}

#[test]
fn the_emulator_holds_each_vendor_to_the_rate_callform_reads_at() {
    use super::VendorId as Vendor;
    use crate::driver::read_qps;
    for (vendor, emulator) in [
        (Vendor::Xfyeta, super::xfyeta::emulator::READ_QPS),
        (
            Vendor::Longlonglong,
            super::longlonglong::emulator::READ_QPS,
        ),
        (Vendor::Aliyun, super::aliyun::emulator::READ_QPS),
        (Vendor::Volcengine, super::volcengine::emulator::READ_QPS),
    ] {
        assert_eq!(read_qps(vendor), emulator, "{vendor}");
    }
}
