//! The integration tests: one binary, one harness (`harness`), one shared emulator.
//!
//! Each module is one area; tests run in parallel and share the emulator, so every test
//! uses task names of its own (a prefix) and fault rules that match those names only.

mod harness;

mod adopt;
mod answers;
mod apply;
mod ci_examples;
mod compliance;
mod conformance;
mod crash;
mod drivers;
mod emulator;
mod first_run;
mod fuzz_regressions;
mod human;
mod lifecycle;
mod pacing;
mod pg;
mod pg_apply;
mod pg_migrate;
mod pg_rescue;
mod pg_state;
mod plan;
mod printer;
mod readback;
mod render;
mod saved_plans;
mod schema;
mod signing;
mod state;
mod steps;
mod suppress;
mod validate;
mod wire;

/// A test file beside this binary would be a second binary with a second emulator, and
/// one here that no `mod` names would never run.
#[test]
fn every_integration_test_is_a_module_of_this_binary() {
    let tests = harness::repo("tests");
    let main = std::fs::read_to_string(tests.join("it/main.rs")).unwrap();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            path.extension().is_none_or(|e| e != "rs"),
            "{}: move it into tests/it/ as a module (git mv) and name it in tests/it/main.rs",
            path.display()
        );
    }
    for entry in std::fs::read_dir(tests.join("it")).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
            assert!(
                main.lines().any(|l| l == format!("mod {stem};")),
                "tests/it/{stem}.rs is not named in tests/it/main.rs: add `mod {stem};`"
            );
        }
    }
}
