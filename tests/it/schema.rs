//! `callform schema`: the JSON Schema editors use. The examples must satisfy it, a spec
//! with an unknown key must not, and the copy in docs/ must be current.

use std::path::{Path, PathBuf};

use callform::manifest::{de, path::FieldPath, yaml};
use serde_json::Value;

use crate::harness::Callform;

fn schema() -> Value {
    let out = Callform::new().arg("schema").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn documents(dir: &Path, out: &mut Vec<(PathBuf, Value)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            documents(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in yaml::parse(&text).unwrap() {
                let (value, unknown) = de::read::<Value>(&doc.root, &FieldPath::root()).unwrap();
                assert!(unknown.is_empty());
                out.push((path.clone(), value));
            }
        }
    }
}

#[test]
fn the_examples_satisfy_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let mut docs = Vec::new();
    documents(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks"),
        &mut docs,
    );
    assert_eq!(docs.len(), 5);
    let full = schema();
    for (path, doc) in &docs {
        if validator.is_valid(doc) {
            continue;
        }
        // Say why, against the branch of this document's vendor.
        let vendor = doc["vendor"].as_str().unwrap_or_default();
        let mut branch = full["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["properties"]["vendor"].to_string().contains(vendor))
            .cloned()
            .unwrap_or(Value::Null);
        branch["$defs"] = full["$defs"].clone();
        let why: Vec<String> = jsonschema::validator_for(&branch)
            .map(|v| {
                v.iter_errors(doc)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect()
            })
            .unwrap_or_default();
        panic!("{} does not satisfy the schema: {why:#?}", path.display());
    }
    // The schema is not a rubber stamp: an unknown spec key and a wrong enumeration fail.
    let mut bad = docs[0].1.clone();
    bad["spec"]["not_a_field"] = Value::from(1);
    assert!(!validator.is_valid(&bad));
    let mut bad = docs[0].1.clone();
    bad["vendor"] = Value::from("tencent");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn the_schema_in_docs_is_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manifest.schema.json");
    let now = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
    if std::env::var_os("CALLFORM_BLESS").is_some() {
        std::fs::write(&committed, &now).unwrap();
    }
    let text = std::fs::read_to_string(&committed).unwrap_or_default();
    assert_eq!(
        text, now,
        "docs/manifest.schema.json is stale: run `CALLFORM_BLESS=1 cargo test --test it schema`"
    );
}

#[test]
fn the_manifest_reference_in_docs_is_current() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manifest-reference.md");
    let out = Callform::new()
        .args(["schema", "--format", "markdown"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    if std::env::var_os("CALLFORM_BLESS").is_some() {
        std::fs::write(&committed, &out.stdout).unwrap();
    }
    let text = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        text == out.stdout,
        "docs/manifest-reference.md is stale: run `CALLFORM_BLESS=1 cargo test --test it schema`"
    );
    // It is the reference of these manifests: every field of the examples is in it.
    for field in [
        "spec.time_range",
        "spec.task_extras.line",
        "spec.caller",
        "callees.file",
        "status",
    ] {
        assert!(text.contains(&format!("`{field}`")), "{field}");
    }
}
