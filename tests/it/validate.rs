//! `callform validate` against every offline rule of `vendor-docs/limits.md`.
//!
//! Each vendor has one known-valid base manifest (two for longlonglong: its new and old
//! payloads). A case is a base plus one small change and the one diagnostic that change
//! must produce: severity, field path, a piece of the message, and the line it points at.
//! The base validates clean, so each case fails if its rule is removed. Cases without a
//! diagnostic are boundaries that must stay valid. Every run also checks what the user
//! must never see: a panic, an unmasked phone number, a secret from callform.yaml.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::Callform;

// ---------------------------------------------------------------------------------------
// Base manifests: valid, dates far in the future, callees inline.

const XFYETA: &str = r#"name: xf-base
vendor: xfyeta
labels: {team: qa}
callees:
  rows:
    - {phone: "13700000001", 客户姓名: 张三}
    - {phone: "137 0000 0002", 客户姓名: 李四}
    - {phone: "+86 13700000003", 客户姓名: 王五}
spec:
  task_name: 续保提醒
  line_num: ["055169101407", 055169101408]
  robot_id: "11"
  recall_count: 1
  time_recall_wait: 600
  time_range: ["09:00:00-12:00:00", "13:30:00-20:00:00"]
  time_begin: 2090-01-04 09:00
  time_end: 2090-03-31 20:00:30
  voice_code: xiaoyan
  turbo_mode: false
"#;

const LLL_NEW: &str = r#"name: lll-new
vendor: longlonglong
callees:
  rows:
    - {phone: "13700000001", name: 张三, company: 示例}
    - {phone: "13700000002", name: 李四, company: ""}
    - {phone: "0551-69101407", name: 王五, company: 示例}
spec:
  name: 满意度回访
  task_type: new
  destination_extension: 123
  is_group_switch: uniform
  dial_time_id: 5
  maximumcall: 4
  enable_type: regular
  group_type: robot
  is_call_in: false
  end_action: true
  remark: 季度回访
  background_id: 25
  llm_intention_id: 1
  score_scheme_id: 1
  task_extras:
    start_time: 2090-01-04 09:00:00
    stop_time: 2090-02-28 18:00:00
    line: [{id: line-a, limit: 2}, {id: line-b, limit: 2}]
    holiday: [{begin: 2090-02-10 00:00, end: 2090-02-17 23:59}]
    interval_time: 0
    pop_mode: sequential
    redial_enabled: true
    redial_new_number_policy: 0
    redial_interval: 30
    redial_max_times: 2
    redial_conditions: {da_status: [no_answer, power_off, 8], pop_mode: random}
"#;

const LLL_OLD: &str = r#"name: lll-old
vendor: longlonglong
status: paused
callees:
  numbers: ["13700000001", "13700000002", "13700000003"]
spec:
  task_type: 6
  destination_extension: 297
  is_group_switch: by_time
  dial_time_id: 5
  maximumcall: 1
  bridge_group_id: 1
  is_call_in: 0
  task_extras:
    start_time: 2090-01-04 09:00
    stop_time: 2090-01-31 18:00
    line: [29c39ec4-b292-4af9-a88b-922d61866sub]
    holiday: []
    interval_time: 5
  new_call_rules: [{re_call_time: "10:00:00", call_interval: 60, rule_id: 15486}, {re_call_time: "22:00:00", call_interval: 1}]
  group_switch_rule: [{switch_start: "09:00", switch_end: "12:00", group_id: 297, default_group_id: 298}]
"#;

const ALIYUN: &str = r#"name: ali-base
vendor: aliyun
status: paused
callees:
  numbers: ["13700000001", "+86 137-0000-0002", "0086 13700000003", "0551-69101407"]
spec:
  task_name: 欠费提醒
  dialog_id: 1234567
  caller: ["057100000001", "0571-0000 0002"]
  corp_name: 示例公司
  is_self_line: false
  number_status_ident: true
  retry_type: 1
  recall_times: 1
  recall_interval: 2
  recall_state_codes: [power_off, out_of_service, 200002]
"#;

const VOLC: &str = r#"name: volc-base
vendor: volcengine
callees:
  rows:
    - {phone: "13700000011", tts_content: 您好, ext: order-1, name: 张先生, sms.code: A1}
    - {phone: "137 0000 0012", tts_content: "", ext: "", name: "", sms.code: ""}
    - {phone: "13700000013", tts_content: "", ext: order-3, name: 李女士, sms.code: B2}
spec:
  name: 配送通知
  type: tts
  resource: tts-template-1
  number_pool_no: NP123456
  start_time: 2090-01-04 09:00
  end_time: 2090-01-31 18:00
  concurrency: 10
  forbid_time_list: [{times: ["12:00-13:30"], weekdays: [monday, 3]}, {times: ["00:00-09:00", "21:00-23:59"], weekdays: [1, 2, 3, 4, 5, 6, 7]}]
  sms_config: [{template_id: "1234", sign: 【示例】, status_set: [1, 2]}]
  ring_again_times: 5
  ring_again_interval: 1440
  max_ring_duration: 1
  finish_when_list_end: true
  unique: true
  select_number_rule: 5
  call_record_post_url: https://hooks.example.com/records
  audio_post_url: https://hooks.example.com/audio?x=1
"#;

/// callform.yaml for every case: a block per vendor, and a named one with its own vendor.
const PROJECT: &str = r#"timezone: Asia/Shanghai
providers:
  xfyeta:
    token: "${XFYETA_TOKEN}"
  longlonglong:
    user_id: 5832d184-dd53-42a0-8ace-0bf8d660f4cc
    token: "${LONGLONGLONG_TOKEN}"
  aliyun:
    access_key_id: "${ALIBABA_CLOUD_ACCESS_KEY_ID}"
    access_key_secret: "${ALIBABA_CLOUD_ACCESS_KEY_SECRET}"
  volcengine:
    access_key: "${VOLCENGINE_ACCESS_KEY}"
    secret_key: "${VOLCENGINE_SECRET_KEY}"
    region: cn-north-1
  volc-staging:
    vendor: volcengine
    endpoint: http://127.0.0.1:8080
    access_key: "${VOLC_STAGING_ACCESS_KEY}"
    secret_key: "${VOLC_STAGING_SECRET_KEY}"
"#;

const CANARY: &str = "sk-CANARY-123";

// ---------------------------------------------------------------------------------------
// Running the binary.

struct Run {
    code: Option<i32>,
    json: Value,
    stdout: String,
    stderr: String,
}

impl Run {
    fn diagnostics(&self) -> &[Value] {
        self.json["diagnostics"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }

    fn errors(&self) -> Vec<&Value> {
        self.diagnostics()
            .iter()
            .filter(|d| d["severity"] == "error")
            .collect()
    }

    fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The diagnostics, one per line, for failure messages.
    fn summary(&self) -> String {
        let lines: Vec<String> = self
            .diagnostics()
            .iter()
            .map(|d| {
                format!(
                    "  {} {}:{}:{} [{}] {}",
                    d["severity"].as_str().unwrap_or("?"),
                    d["file"].as_str().unwrap_or("?"),
                    d["line"],
                    d["column"],
                    d["field"].as_str().unwrap_or("-"),
                    d["message"].as_str().unwrap_or("?")
                )
            })
            .collect();
        if lines.is_empty() {
            format!("  (no diagnostics; exit {:?})", self.code)
        } else {
            lines.join("\n")
        }
    }
}

/// `callform validate DIR --format FORMAT` with a generous timeout, checked for panics.
fn run_format(dir: &Path, format: &str) -> (Option<i32>, String, String) {
    let out = Callform::new()
        .args(["validate", ".", "--format", format])
        .cwd(dir)
        .timeout(Duration::from_secs(120))
        .run();
    (Some(out.code), out.stdout, out.stderr)
}

fn validate(dir: &Path) -> Run {
    let (code, stdout, stderr) = run_format(dir, "json");
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    let errors = json["errors"].as_u64().unwrap_or(u64::MAX);
    let valid = json["valid"].as_bool();
    assert_eq!(
        valid,
        Some(errors == 0),
        "`valid` disagrees with `errors`: {json}"
    );
    assert_eq!(
        code,
        Some(if errors == 0 { 0 } else { 1 }),
        "exit code: {json}"
    );
    let leaked = unmasked_numbers(&format!("{stdout}\n{stderr}"));
    assert!(
        leaked.is_empty(),
        "unmasked phone numbers {leaked:?} in:\n{stdout}{stderr}"
    );
    Run {
        code,
        json,
        stdout,
        stderr,
    }
}

/// Every run of digits that is a whole mainland number (what masking must hide).
fn unmasked_numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| {
            let b = run.as_bytes();
            let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
            let fixed = (10..=12).contains(&b.len()) && b[0] == b'0';
            mobile || fixed
        })
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// A directory with callform.yaml (so no project file of a parent directory is used) and
/// the given files.
fn project_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "callform.yaml", PROJECT);
    for (name, content) in files {
        write(dir.path(), name, content);
    }
    dir
}

fn check_one(files: &[(&str, &str)]) -> Run {
    let dir = project_dir(files);
    validate(dir.path())
}

// ---------------------------------------------------------------------------------------
// Editing YAML text: dotted key paths through block mappings; values written inline.

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The lines after `i` that are nested under it.
fn block_end(lines: &[String], i: usize) -> usize {
    let mut j = i + 1;
    while j < lines.len() && (!is_content(&lines[j]) || indent(&lines[j]) > indent(&lines[i])) {
        j += 1;
    }
    j
}

enum Found {
    Key(usize),
    /// Not there: where its parent's block ends, at which indentation its siblings sit,
    /// and the parent's key line (None for the top level).
    Missing {
        end: usize,
        indent: usize,
        parent: Option<usize>,
    },
}

fn find(lines: &[String], path: &str) -> Found {
    let (mut lo, mut hi, mut parent) = (0, lines.len(), None::<usize>);
    for seg in path.split('.') {
        let child_indent = (lo..hi)
            .find(|&i| is_content(&lines[i]))
            .map(|i| indent(&lines[i]))
            .unwrap_or_else(|| parent.map_or(0, |p| indent(&lines[p]) + 2));
        let prefix = format!("{seg}:");
        let hit = (lo..hi).find(|&i| {
            is_content(&lines[i])
                && indent(&lines[i]) == child_indent
                && lines[i].trim_start().starts_with(&prefix)
        });
        match hit {
            Some(i) => {
                parent = Some(i);
                lo = i + 1;
                hi = block_end(lines, i);
            }
            None => {
                return Found::Missing {
                    end: hi,
                    indent: child_indent,
                    parent,
                }
            }
        }
    }
    Found::Key(parent.expect("an empty path"))
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Sets `path` to `value` (inline YAML), replacing a nested block, or adds the key at the
/// end of its parent.
fn set(text: &str, path: &str, value: &str) -> String {
    let mut lines = lines_of(text);
    let key = path.rsplit('.').next().unwrap();
    match find(&lines, path) {
        Found::Key(i) => {
            let end = block_end(&lines, i);
            let line = format!("{}{key}: {value}", " ".repeat(indent(&lines[i])));
            lines.splice(i..end, [line]);
        }
        Found::Missing { end, indent, .. } => {
            let parent = &path[..path.len() - key.len()];
            assert!(
                parent.is_empty()
                    || matches!(find(&lines, parent.trim_end_matches('.')), Found::Key(_)),
                "no parent for {path}"
            );
            lines.insert(end, format!("{}{key}: {value}", " ".repeat(indent)));
        }
    }
    join(&lines)
}

/// Removes the key `path` and its nested block.
fn remove(text: &str, path: &str) -> String {
    let mut lines = lines_of(text);
    match find(&lines, path) {
        Found::Key(i) => {
            let end = block_end(&lines, i);
            lines.drain(i..end);
        }
        Found::Missing { .. } => panic!("no {path} to remove"),
    }
    join(&lines)
}

/// The line a diagnostic about `field` must point at: the field's value, or, when the field
/// is not written, where its nearest written ancestor's value is. A list index (and what
/// follows it) stays on its key's line: lists here are written inline.
fn expected_line(text: &str, field: &str) -> usize {
    let lines = lines_of(text);
    let keys = field.split('[').next().unwrap();
    // A key's value is on its line, unless nothing follows the colon and a more
    // indented block does.
    let value_line = |i: usize| {
        let after = lines[i].split_once(':').map_or("", |(_, v)| v).trim();
        let next = (i + 1..lines.len()).find(|&j| is_content(&lines[j]));
        match next {
            Some(j)
                if (after.is_empty() || after.starts_with('#'))
                    && indent(&lines[j]) > indent(&lines[i]) =>
            {
                j
            }
            _ => i,
        }
    };
    match find(&lines, keys) {
        Found::Key(i) => value_line(i) + 1,
        Found::Missing {
            parent: Some(p), ..
        } => value_line(p) + 1,
        Found::Missing { parent: None, .. } => {
            (0..lines.len())
                .find(|&j| is_content(&lines[j]))
                .unwrap_or(0)
                + 1
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, PartialEq)]
enum Sev {
    Error,
    Warning,
}

enum Line {
    /// Where the expected field is (see [`expected_line`]).
    OfField,
    /// The line of this key path in the checked file.
    OfKey(&'static str),
    Number(usize),
}

struct Expect {
    severity: Sev,
    field: Option<String>,
    message: String,
    line: Line,
    file: String,
    task: Option<String>,
    hint: Option<String>,
}

struct Case {
    rule: String,
    task: String,
    project: String,
    /// The project file is what the case changes (its diagnostics name no task).
    edits_project: bool,
    files: Vec<(String, Vec<u8>)>,
    expect: Option<Expect>,
    /// Strings that must appear nowhere in the output (numbers, secrets).
    hidden: Vec<String>,
    /// Strings that must appear in the output (masked numbers).
    shown: Vec<String>,
}

fn case(rule: &str, base: &str) -> Case {
    Case {
        rule: rule.to_string(),
        task: base.to_string(),
        project: PROJECT.to_string(),
        edits_project: false,
        files: Vec::new(),
        expect: None,
        hidden: Vec::new(),
        shown: Vec::new(),
    }
}

impl Case {
    fn set(mut self, path: &str, value: impl AsRef<str>) -> Case {
        self.task = set(&self.task, path, value.as_ref());
        self
    }

    fn del(mut self, path: &str) -> Case {
        self.task = remove(&self.task, path);
        self
    }

    fn project_set(mut self, path: &str, value: &str) -> Case {
        self.project = set(&self.project, path, value);
        self.edits_project = true;
        self
    }

    fn file(mut self, name: &str, content: impl AsRef<[u8]>) -> Case {
        self.files
            .push((name.to_string(), content.as_ref().to_vec()));
        self
    }

    fn expect(mut self, severity: Sev, field: &str, message: &str) -> Case {
        let (file, task) = if self.edits_project {
            ("callform.yaml".to_string(), None)
        } else {
            let name = self
                .task
                .lines()
                .find_map(|l| l.strip_prefix("name: "))
                .map(|n| n.trim().trim_matches('"').to_string());
            ("task.yaml".to_string(), name)
        };
        self.expect = Some(Expect {
            severity,
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.to_string(),
            line: Line::OfField,
            file,
            task,
            hint: None,
        });
        self
    }

    fn error(self, field: &str, message: &str) -> Case {
        self.expect(Sev::Error, field, message)
    }

    fn warning(self, field: &str, message: &str) -> Case {
        self.expect(Sev::Warning, field, message)
    }

    fn at_key(mut self, key: &'static str) -> Case {
        self.expect.as_mut().expect("expect first").line = Line::OfKey(key);
        self
    }

    /// The diagnostic is in another file (a callee list), at `line`.
    fn in_file(mut self, file: &str, line: usize) -> Case {
        let e = self.expect.as_mut().expect("expect first");
        e.file = file.to_string();
        e.line = Line::Number(line);
        self
    }

    /// The diagnostic's hint must contain `hint`.
    fn hint(mut self, hint: &str) -> Case {
        self.expect.as_mut().expect("expect first").hint = Some(hint.to_string());
        self
    }

    fn no_task(mut self) -> Case {
        self.expect.as_mut().expect("expect first").task = None;
        self
    }

    fn hides(mut self, text: &str) -> Case {
        self.hidden.push(text.to_string());
        self
    }

    fn shows(mut self, text: &str) -> Case {
        self.shown.push(text.to_string());
        self
    }

    /// Runs the case; `Err` says what is wrong.
    fn check(&self) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "callform.yaml", &self.project);
        write(dir.path(), "task.yaml", &self.task);
        for (name, content) in &self.files {
            write(dir.path(), name, content);
        }
        let run = validate(dir.path());
        let output = run.output();
        for h in &self.hidden {
            if output.contains(h.as_str()) {
                return Err(format!("`{h}` appears in the output:\n{output}"));
            }
        }
        for s in &self.shown {
            if !output.contains(s.as_str()) {
                return Err(format!("`{s}` does not appear in the output:\n{output}"));
            }
        }
        if run.errors().is_empty() {
            digests_agree(dir.path())?;
        }
        let Some(e) = &self.expect else {
            return if run.diagnostics().is_empty() {
                Ok(())
            } else {
                Err(format!("expected no diagnostics, got:\n{}", run.summary()))
            };
        };
        let severity = if e.severity == Sev::Error {
            "error"
        } else {
            "warning"
        };
        let found = run.diagnostics().iter().find(|d| {
            d["severity"] == severity
                && d["field"].as_str() == e.field.as_deref()
                && d["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(e.message.as_str()))
                && d["file"] == e.file.as_str()
        });
        let Some(d) = found else {
            return Err(format!(
                "expected {severity} [{}] containing {:?} in {}, got:\n{}",
                e.field.as_deref().unwrap_or("-"),
                e.message,
                e.file,
                run.summary()
            ));
        };
        let text = if e.file == "callform.yaml" {
            &self.project
        } else {
            &self.task
        };
        let line = match &e.line {
            Line::OfField => expected_line(text, e.field.as_deref().unwrap_or("")),
            Line::OfKey(k) => expected_line(text, k),
            Line::Number(n) => *n,
        };
        if d["line"] != line {
            return Err(format!("expected line {line}, got:\n{}", run.summary()));
        }
        if d["column"].as_u64().unwrap_or(0) < 1 {
            return Err(format!("no column: {d}"));
        }
        if d["task"].as_str() != e.task.as_deref() {
            return Err(format!("expected task {:?}: {d}", e.task));
        }
        if let Some(h) = &e.hint {
            if !d["hint"].as_str().is_some_and(|x| x.contains(h.as_str())) {
                return Err(format!("expected a hint containing {h:?}: {d}"));
            }
        }
        if e.severity == Sev::Warning && !run.errors().is_empty() {
            return Err(format!(
                "a warning case must have no errors, got:\n{}",
                run.summary()
            ));
        }
        Ok(())
    }
}

/// Runs every case and reports all that fail at once.
fn run_cases(cases: Vec<Case>) {
    let total = cases.len();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| c.check().err().map(|why| format!("--- {}\n{why}", c.rule)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `n` distinct mobile numbers, quoted, comma-separated.
fn numbers(n: usize) -> String {
    (0..n)
        .map(|i| format!("\"137{i:08}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The digest a no-change plan computes directly from each task must be the one of its
/// canonical form (what state stores): checked on every valid case, so on every field.
fn digests_agree(dir: &Path) -> Result<(), String> {
    use callform::canonical::{canonical, spec_digest};
    let (project, _) = callform::project::load(dir);
    let m = callform::manifest::load(dir, &project.timezone, jiff::Timestamp::now(), None);
    if m.tasks.is_empty() {
        return Err(format!("no task to compare in {}", dir.display()));
    }
    for task in &m.tasks {
        for salt in [
            "00000000000000000000000000000000",
            "0123456789abcdef0123456789abcdef",
        ] {
            let form = canonical(task, &project.timezone_name, salt);
            let direct = spec_digest(task, &project.timezone_name, salt);
            if direct.as_deref() != Some(form.digest.as_str()) {
                return Err(format!(
                    "{}: the direct digest {direct:?} is not the form's {} ({})",
                    task.name, form.digest, form.form
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The base manifests are valid.

#[test]
fn base_manifests_validate_clean() {
    for (name, base) in [
        ("xfyeta", XFYETA),
        ("longlonglong new", LLL_NEW),
        ("longlonglong old", LLL_OLD),
        ("aliyun", ALIYUN),
        ("volcengine", VOLC),
    ] {
        let run = check_one(&[("task.yaml", base)]);
        assert_eq!(run.code, Some(0), "{name}:\n{}", run.summary());
        assert!(run.diagnostics().is_empty(), "{name}:\n{}", run.summary());
        assert_eq!(run.json["tasks"], 1, "{name}");
        assert_eq!(run.json["valid"], true, "{name}");
        let dir = project_dir(&[("task.yaml", base)]);
        digests_agree(dir.path()).unwrap();
    }
    // All five together: distinct names, one directory.
    let run = check_one(&[
        ("xf.yaml", XFYETA),
        ("lll/new.yaml", LLL_NEW),
        ("lll/old.yml", LLL_OLD),
        ("ali.yaml", ALIYUN),
        ("volc.yaml", VOLC),
    ]);
    assert!(run.diagnostics().is_empty(), "{}", run.summary());
    assert_eq!(run.json["tasks"], 5);
}

#[test]
fn the_examples_validate_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let run = validate(&dir);
    assert!(run.errors().is_empty(), "{}", run.summary());
    assert_eq!(run.json["tasks"], 5);
    digests_agree(&dir.join("tasks")).unwrap();
}

// ---------------------------------------------------------------------------------------
// Common rules.

#[test]
fn common_rules() {
    let long31 = "a".repeat(31);
    run_cases(vec![
        // name: [a-z0-9][a-z0-9_-]{0,62}
        case("name with upper case and a dot", XFYETA).set("name", "Renewal.Q1").error("name", "invalid task name"),
        case("name starting with `-`", XFYETA).set("name", "\"-renewal\"").error("name", "invalid task name"),
        case("name starting with `_`", XFYETA).set("name", "_renewal").error("name", "invalid task name"),
        case("name with a space", XFYETA).set("name", "\"re newal\"").error("name", "invalid task name"),
        case("name of 64 characters", XFYETA).set("name", "a".repeat(64)).error("name", "invalid task name"),
        case("name of 63 characters is valid", XFYETA).set("name", format!("0{}", "a-_".repeat(20) + "zz")),
        case("empty name", XFYETA).set("name", "\"\"").error("name", "invalid task name"),
        case("name in Chinese", XFYETA).set("name", "续保").error("name", "invalid task name"),
        // The vendor-visible name obeys the vendor's limits however it was set.
        case("aliyun: a 31-character `name` is too long as TaskName", ALIYUN)
            .del("spec.task_name")
            .set("name", &long31)
            .error("spec.task_name", "31 characters long; aliyun allows at most 30"),
        case("aliyun: a 30-character `name` is a valid TaskName", ALIYUN)
            .del("spec.task_name")
            .set("name", "a".repeat(30)),
        case("xfyeta: blank task_name", XFYETA).set("spec.task_name", "\"   \"").error("spec.task_name", "the task name is empty"),
        case("longlonglong: task name with a line break", LLL_NEW)
            .set("spec.name", "\"a\\nb\"")
            .error("spec.name", "control character or line break"),
        case("volcengine: empty Name", VOLC).set("spec.name", "\"\"").error("spec.name", "the task name is empty"),
        // Date-times: YYYY-MM-DD HH:MM[:SS].
        case("date-time with slashes", XFYETA).set("spec.time_begin", "2090/01/04 09:00").error("spec.time_begin", "not a date-time"),
        case("date-time in ISO 8601 basic form", XFYETA).set("spec.time_begin", "20900104 09:00").error("spec.time_begin", "not a date-time"),
        case("date-time with a zone annotation", XFYETA)
            .set("spec.time_begin", "\"2090-01-04[Asia/Tokyo] 09:00\"")
            .error("spec.time_begin", "not a date-time"),
        case("date-time with a T", XFYETA).set("spec.time_begin", "2090-01-04T09:00:00").error("spec.time_begin", "not a date-time"),
        case("date-time without a time", XFYETA).set("spec.time_begin", "2090-01-04").error("spec.time_begin", "not a date-time"),
        case("date-time with hour 24", XFYETA).set("spec.time_begin", "2090-01-04 24:00").error("spec.time_begin", "not a date-time"),
        case("date-time on 30 February", XFYETA).set("spec.time_begin", "2090-02-30 09:00").error("spec.time_begin", "not a date-time"),
        case("date-time with seconds is valid", XFYETA).set("spec.time_begin", "2090-01-04 09:00:59"),
        // End after start.
        case("xfyeta: time_end before time_begin", XFYETA)
            .set("spec.time_end", "2090-01-04 08:59")
            .error("spec.time_end", "time_end is not after time_begin"),
        case("xfyeta: time_end equal to time_begin", XFYETA)
            .set("spec.time_end", "2090-01-04 09:00:00")
            .error("spec.time_end", "time_end is not after time_begin"),
        case("longlonglong: stop_time before start_time", LLL_NEW)
            .set("spec.task_extras.stop_time", "2090-01-04 08:00")
            .error("spec.task_extras.stop_time", "stop_time is not after start_time"),
        case("volcengine: end_time before start_time", VOLC)
            .set("spec.end_time", "2090-01-03 09:00")
            .error("spec.end_time", "end_time is not after start_time"),
        // A start in the past is a warning only.
        case("xfyeta: time_begin in the past", XFYETA)
            .set("spec.time_begin", "2020-01-04 09:00")
            .warning("spec.time_begin", "is in the past"),
        case("longlonglong: start_time in the past", LLL_OLD)
            .set("spec.task_extras.start_time", "2001-01-01 00:00")
            .warning("spec.task_extras.start_time", "is in the past"),
        case("volcengine: start_time in the past", VOLC)
            .set("spec.start_time", "2020-01-04 09:00")
            .warning("spec.start_time", "is in the past"),
        // An end in the past: a warning here (the manifest of a campaign that ran is
        // normal to keep); plan blocks creating it.
        case("xfyeta: time_end in the past", XFYETA)
            .set("spec.time_begin", "2020-01-04 09:00")
            .set("spec.time_end", "2020-01-05 09:00")
            .warning("spec.time_end", "is in the past: a task created now could never dial"),
        // The project timezone decides the instant: 1 Jan 2000 is past in any zone; a
        // nonsense zone is an error of callform.yaml.
        case("unknown timezone in callform.yaml", XFYETA)
            .project_set("timezone", "Mars/Olympus")
            .error("timezone", "unknown timezone"),
        // Large ids: i64, never through f64.
        case("2^53 + 1 as an id is valid", LLL_NEW).set("spec.destination_extension", "9007199254740993"),
        case("i64::MAX as an id is valid", LLL_NEW).set("spec.dial_time_id", "9223372036854775807"),
        case("i64::MAX + 1 is refused, not rounded", LLL_NEW)
            .set("spec.destination_extension", "9223372036854775808")
            .error("spec.destination_extension", "integer out of range"),
        case("below i64::MIN is refused", LLL_NEW)
            .set("spec.background_id", "-9223372036854775809")
            .error("spec.background_id", "integer out of range"),
        case("an id written as a float", LLL_NEW)
            .set("spec.destination_extension", "1.5e3")
            .error("spec.destination_extension", "expected an integer, found a number"),
        case("a string id keeps its digits (multi_config destination_extension)", LLL_NEW)
            .set("spec.is_group_switch", "multi_config")
            .set(
                "spec.task_extras.destination_extension_multi_config",
                "{dial_mode: round_robin, list: [{destination_extension: 215870475195883520123, sort: 1}]}",
            ),
    ]);
}

// ---------------------------------------------------------------------------------------
// Rules enforced by types: required fields, unknown keys, enumerations, switches, types.

#[test]
fn type_rules() {
    run_cases(vec![
        // The envelope.
        case("missing name", XFYETA)
            .del("name")
            .error("name", "missing required field `name`")
            .no_task(),
        case("missing vendor", XFYETA)
            .del("vendor")
            .error("vendor", "missing required field `vendor`"),
        case("missing spec", XFYETA)
            .del("spec")
            .error("spec", "missing required field `spec`"),
        case("unknown vendor", XFYETA)
            .set("vendor", "tencent")
            .error("vendor", "unknown value `tencent`"),
        case("misspelt vendor suggests the nearest", XFYETA)
            .set("vendor", "xfyeat")
            .error("vendor", "unknown value `xfyeat`")
            .hint("did you mean `xfyeta`?"),
        case("unknown envelope key suggests `labels`", XFYETA)
            .set("lables", "{team: qa}")
            .error("lables", "unknown field `lables`")
            .hint("did you mean `labels`?"),
        case("labels must be a mapping", XFYETA)
            .set("labels", "[qa]")
            .error("labels", "expected a mapping, found a list"),
        // Unknown spec keys, with the nearest key suggested.
        case("xfyeta: misspelt recall_count", XFYETA)
            .set("spec.recal_count", "1")
            .error("spec.recal_count", "unknown field `recal_count`")
            .hint("did you mean `recall_count`?"),
        case(
            "xfyeta: the wire spelling trubo_mode is not the manifest key",
            XFYETA,
        )
        .del("spec.turbo_mode")
        .set("spec.trubo_mode", "true")
        .error("spec.trubo_mode", "unknown field `trubo_mode`")
        .hint("did you mean `turbo_mode`?"),
        case("longlonglong: unknown key inside task_extras", LLL_NEW)
            .set("spec.task_extras.pop_mod", "random")
            .error("spec.task_extras.pop_mod", "unknown field `pop_mod`")
            .hint("did you mean `pop_mode`?"),
        case("longlonglong: unknown key in a line object", LLL_NEW)
            .set("spec.task_extras.line", "[{id: a, limit: 2, limt: 3}]")
            .error("spec.task_extras.line[0]", "unknown field `limt`")
            .hint("did you mean `limit`?"),
        case("aliyun: caller is required", ALIYUN)
            .del("spec.caller")
            .error("spec.caller", "missing required field `caller`"),
        case("an unknown key of callees", XFYETA)
            .set("callees.variable", "[客户姓名]")
            .error("callees.variable", "unknown field `variable`")
            .hint("did you mean `variables`?"),
        case("status is paused or running", XFYETA)
            .set("status", "started")
            .error("status", "unknown value `started`"),
        // Enumerations: by name or the vendor's code; anything else is an error.
        case("volcengine: type by code is valid", VOLC).set("spec.type", "1"),
        case("volcengine: type code 4", VOLC)
            .set("spec.type", "4")
            .error("spec.type", "unknown code 4"),
        case("volcengine: misspelt type name", VOLC)
            .set("spec.type", "tts_templat")
            .error("spec.type", "unknown value `tts_templat`")
            .hint("did you mean `tts_template`?"),
        case("volcengine: type code written as a string", VOLC)
            .set("spec.type", "\"3\"")
            .error("spec.type", "unknown value `3`"),
        case("aliyun: recall state code by number is valid", ALIYUN)
            .set("spec.recall_state_codes", "[200010, 200005, call_loss]"),
        // 0/1 switches: true/false or 1/0.
        case("longlonglong: is_call_in 2", LLL_NEW)
            .set("spec.is_call_in", "2")
            .error("spec.is_call_in", "not a switch value"),
        case("longlonglong: end_action as a string", LLL_NEW)
            .set("spec.end_action", "\"1\"")
            .error("spec.end_action", "expected true or false"),
        case("longlonglong: redial_enabled 2", LLL_NEW)
            .set("spec.task_extras.redial_enabled", "2")
            .error("spec.task_extras.redial_enabled", "not a switch value"),
        case("longlonglong: redial_new_number_policy yes", LLL_NEW)
            .set("spec.task_extras.redial_new_number_policy", "yes")
            .error(
                "spec.task_extras.redial_new_number_policy",
                "expected true or false",
            ),
        case("xfyeta: turbo_mode 1 is not a boolean", XFYETA)
            .set("spec.turbo_mode", "1")
            .error("spec.turbo_mode", "expected a boolean"),
        case("aliyun: number_status_ident as a string", ALIYUN)
            .set("spec.number_status_ident", "\"true\"")
            .error("spec.number_status_ident", "expected a boolean"),
        // Strings vs integers.
        case("xfyeta: quoted recall_count", XFYETA)
            .set("spec.recall_count", "\"1\"")
            .error("spec.recall_count", "expected an integer, found a string")
            .hint("without quotes"),
        case(
            "volcengine: quoted max_ring_duration (the example's string is not used)",
            VOLC,
        )
        .set("spec.max_ring_duration", "\"20\"")
        .error(
            "spec.max_ring_duration",
            "expected an integer, found a string",
        ),
        case("volcengine: quoted ring_again_times", VOLC)
            .set("spec.ring_again_times", "\"0\"")
            .error(
                "spec.ring_again_times",
                "expected an integer, found a string",
            ),
        case("aliyun: dialog_id as text", ALIYUN)
            .set("spec.dialog_id", "abc")
            .error("spec.dialog_id", "expected an integer, found a string"),
        case("xfyeta: robot_id as a boolean", XFYETA)
            .set("spec.robot_id", "true")
            .error("spec.robot_id", "expected a string, found a boolean"),
        case("xfyeta: robot_id unquoted is a string", XFYETA).set("spec.robot_id", "11"),
        case("xfyeta: line_num as one `;` string", XFYETA)
            .set("spec.line_num", "\"055169101407;055169101408\"")
            .error("spec.line_num", "expected a list, found a string"),
        case("xfyeta: voice_code as a list", XFYETA)
            .set("spec.voice_code", "[a]")
            .error("spec.voice_code", "expected a string, found a list"),
        case("callees rows hold text values", VOLC)
            .set("callees.rows", "[{phone: \"13700000011\", name: [a]}]")
            .error("callees.rows[0].name", "expected a string, found a list"),
        case("longlonglong: null for a required integer", LLL_NEW)
            .set("spec.maximumcall", "~")
            .error("spec.maximumcall", "expected an integer, found nothing"),
    ]);
}

// ---------------------------------------------------------------------------------------
// xfyeta — task/create.

#[test]
fn xfyeta_rules() {
    run_cases(vec![
        // Required fields (task_name defaults to `name`).
        case("task_name may be left out", XFYETA).del("spec.task_name"),
        case("missing line_num", XFYETA)
            .del("spec.line_num")
            .error("spec.line_num", "missing required field `line_num`"),
        case("missing robot_id", XFYETA)
            .del("spec.robot_id")
            .error("spec.robot_id", "missing required field `robot_id`"),
        case("missing time_range", XFYETA)
            .del("spec.time_range")
            .error("spec.time_range", "missing required field `time_range`"),
        case("missing time_begin", XFYETA)
            .del("spec.time_begin")
            .error("spec.time_begin", "missing required field `time_begin`"),
        case("time_end may be left out", XFYETA).del("spec.time_end"),
        // line_num: at least one; no `;` or `；` inside an item.
        case("empty line_num", XFYETA)
            .set("spec.line_num", "[]")
            .error("spec.line_num", "line_num has 0 items"),
        case("`;` inside a line number", XFYETA)
            .set("spec.line_num", "[\"055169101407;055169101408\"]")
            .error("spec.line_num[0]", "contains `;`"),
        case("full-width `；` inside a line number", XFYETA)
            .set(
                "spec.line_num",
                "[\"055169101407\", \"055169101408；055169101409\"]",
            )
            .error("spec.line_num[1]", "contains `;`"),
        case("empty line number", XFYETA)
            .set("spec.line_num", "[\"055169101407\", \"\"]")
            .error("spec.line_num[1]", "an empty line number"),
        case("a line number that is not a number", XFYETA)
            .set("spec.line_num", "[\"055169101407\", \"line-a\"]")
            .error("spec.line_num[1]", "invalid calling line number"),
        case("a line number of the wrong length", XFYETA)
            .set("spec.line_num", "[\"05516910\"]")
            .error(
                "spec.line_num[0]",
                "invalid calling line number 055****6910",
            ),
        case("line numbers with +86, spaces and dashes are valid", XFYETA).set(
            "spec.line_num",
            "[\"0551-6910 1407\", \"+86 137 0000 0001\", \"400-123-4567\"]",
        ),
        case("empty robot_id", XFYETA)
            .set("spec.robot_id", "\"\"")
            .error("spec.robot_id", "robot_id is empty"),
        // recall_count 0–3; time_recall_wait seconds ≥ 0, a warning without redials.
        case("recall_count 3 is valid", XFYETA).set("spec.recall_count", "3"),
        case("recall_count 4", XFYETA)
            .set("spec.recall_count", "4")
            .error(
                "spec.recall_count",
                "recall_count is 4, outside the allowed range",
            ),
        case("recall_count -1", XFYETA)
            .set("spec.recall_count", "-1")
            .error(
                "spec.recall_count",
                "recall_count is -1, outside the allowed range",
            ),
        case("time_recall_wait -1", XFYETA)
            .set("spec.time_recall_wait", "-1")
            .error(
                "spec.time_recall_wait",
                "time_recall_wait is -1, outside the allowed range",
            ),
        case("time_recall_wait without recall_count", XFYETA)
            .del("spec.recall_count")
            .warning("spec.time_recall_wait", "no effect without redials"),
        case("time_recall_wait with recall_count 0", XFYETA)
            .set("spec.recall_count", "0")
            .warning("spec.time_recall_wait", "no effect without redials"),
        // time_range: ≥ 1 window HH:MM:SS-HH:MM:SS, begin < end, no overlaps.
        case("empty time_range", XFYETA)
            .set("spec.time_range", "[]")
            .error("spec.time_range", "time_range has 0 items"),
        case("window without seconds", XFYETA)
            .set("spec.time_range", "[\"09:00-12:00\"]")
            .error("spec.time_range[0]", "not a daily time window"),
        case("window with a single-digit hour", XFYETA)
            .set("spec.time_range", "[\"9:00:00-12:00:00\"]")
            .error("spec.time_range[0]", "not a daily time window"),
        case("window ending before it begins", XFYETA)
            .set("spec.time_range", "[\"12:00:00-09:00:00\"]")
            .error("spec.time_range[0]", "ends before it begins"),
        case("empty window (begin = end)", XFYETA)
            .set("spec.time_range", "[\"09:00:00-09:00:00\"]")
            .error("spec.time_range[0]", "ends before it begins"),
        case("overlapping windows", XFYETA)
            .set(
                "spec.time_range",
                "[\"09:00:00-12:00:00\", \"11:59:59-13:00:00\"]",
            )
            .error("spec.time_range[1]", "overlaps window 0"),
        case("a window overlapping a non-neighbour", XFYETA)
            .set(
                "spec.time_range",
                "[\"09:00:00-18:00:00\", \"10:00:00-11:00:00\", \"12:00:00-13:00:00\"]",
            )
            .error("spec.time_range[2]", "overlaps window 0"),
        case("touching windows are valid", XFYETA).set(
            "spec.time_range",
            "[\"13:00:00-18:00:00\", \"09:00:00-13:00:00\"]",
        ),
        // turbo_mode / voice_code types are in type_rules.
    ]);
}

// ---------------------------------------------------------------------------------------
// longlonglong — new 2.0 (task_type 7) and old 2.0 (task_type 6).

#[test]
fn longlonglong_rules() {
    let groups = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!("{{mode: 0, values: [v{i}], destination_extension: {i}, sort: {i}}}"))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let by_variable = |c: Case| c.set("spec.is_group_switch", "by_variable");
    let multi = |c: Case| c.set("spec.is_group_switch", "multi_config");
    run_cases(vec![
        // Required fields.
        case("missing destination_extension", LLL_NEW)
            .del("spec.destination_extension")
            .error("spec.destination_extension", "missing required field `destination_extension`"),
        case("missing dial_time_id", LLL_NEW).del("spec.dial_time_id").error("spec.dial_time_id", "missing required field `dial_time_id`"),
        case("missing maximumcall", LLL_OLD).del("spec.maximumcall").error("spec.maximumcall", "missing required field `maximumcall`"),
        case("missing task_extras", LLL_OLD).del("spec.task_extras").error("spec.task_extras", "missing required field `task_extras`"),
        case("missing task_extras.start_time", LLL_NEW)
            .del("spec.task_extras.start_time")
            .error("spec.task_extras.start_time", "missing required field `start_time`"),
        case("missing task_extras.stop_time", LLL_OLD)
            .del("spec.task_extras.stop_time")
            .error("spec.task_extras.stop_time", "missing required field `stop_time`"),
        case("name may be left out (defaults to the task's name)", LLL_NEW).del("spec.name"),
        // task_type ∈ {6, 7}, by name or code; absent means old.
        case("task_type 5", LLL_NEW).set("spec.task_type", "5").error("spec.task_type", "unknown code 5"),
        case("task_type newer", LLL_NEW).set("spec.task_type", "newer").error("spec.task_type", "unknown value `newer`"),
        case("task_type 7 by code is valid", LLL_NEW).set("spec.task_type", "7"),
        case("no task_type means old 2.0 (pop_mode refused)", LLL_NEW)
            .del("spec.task_type")
            .error("spec.task_extras.pop_mode", "`pop_mode` is not allowed here")
            .at_key("spec.task_extras.pop_mode"),
        // Fields of one payload are errors under the other.
        case("new: new_call_rules", LLL_NEW)
            .set("spec.new_call_rules", "[{re_call_time: \"10:00:00\", call_interval: 60}]")
            .error("spec.new_call_rules", "`new_call_rules` is not allowed here"),
        case("new: group_switch_rule", LLL_NEW)
            .set("spec.group_switch_rule", "[{switch_start: \"09:00\", switch_end: \"12:00\", group_id: 1}]")
            .error("spec.group_switch_rule", "`group_switch_rule` is not allowed here"),
        case("old: pop_mode", LLL_OLD)
            .set("spec.task_extras.pop_mode", "random")
            .error("spec.task_extras.pop_mode", "`pop_mode` is not allowed here"),
        case("old: redial_enabled", LLL_OLD)
            .set("spec.task_extras.redial_enabled", "false")
            .error("spec.task_extras.redial_enabled", "`redial_enabled` is not allowed here"),
        case("old: redial_new_number_policy", LLL_OLD)
            .set("spec.task_extras.redial_new_number_policy", "true")
            .error("spec.task_extras.redial_new_number_policy", "`redial_new_number_policy` is not allowed here"),
        case("old: redial_interval", LLL_OLD)
            .set("spec.task_extras.redial_interval", "3")
            .error("spec.task_extras.redial_interval", "`redial_interval` is not allowed here"),
        case("old: redial_max_times", LLL_OLD)
            .set("spec.task_extras.redial_max_times", "3")
            .error("spec.task_extras.redial_max_times", "`redial_max_times` is not allowed here"),
        case("old: redial_conditions", LLL_OLD)
            .set("spec.task_extras.redial_conditions", "{da_status: [2]}")
            .error("spec.task_extras.redial_conditions", "`redial_conditions` is not allowed here"),
        case("old: destination_extension_list", LLL_OLD)
            .set("spec.task_extras.destination_extension_list", "[{begin: \"09:00\", end: \"12:00\", destination_extension: 1}]")
            .error("spec.task_extras.destination_extension_list", "`destination_extension_list` is not allowed here"),
        case("old: destination_extension_with_variable_list", LLL_OLD)
            .set("spec.task_extras.destination_extension_with_variable_list", groups(1))
            .error(
                "spec.task_extras.destination_extension_with_variable_list",
                "`destination_extension_with_variable_list` is not allowed here",
            ),
        case("old: destination_extension_multi_config", LLL_OLD)
            .set(
                "spec.task_extras.destination_extension_multi_config",
                "{dial_mode: 0, list: [{destination_extension: \"13601\", sort: 1}]}",
            )
            .error(
                "spec.task_extras.destination_extension_multi_config",
                "`destination_extension_multi_config` is not allowed here",
            ),
        case("old: line objects", LLL_OLD)
            .set("spec.task_extras.line", "[{id: line-a, limit: 1}]")
            .error("spec.task_extras.line[0]", "old 2.0 lines are plain ids"),
        case("new: plain line ids", LLL_NEW)
            .set("spec.task_extras.line", "[line-a]")
            .error("spec.task_extras.line[0]", "new 2.0 lines are objects"),
        case("new: line without limit", LLL_NEW)
            .set("spec.task_extras.line", "[{id: line-a}]")
            .error("spec.task_extras.line[0].limit", "missing required field `limit`"),
        case("new: line limit 0", LLL_NEW)
            .set("spec.task_extras.line", "[{id: line-a, limit: 0}]")
            .error("spec.task_extras.line[0].limit", "limit is 0, outside the allowed range"),
        // New 2.0 requires pop_mode ∈ {0,1,2} and redial_enabled.
        case("new: missing pop_mode", LLL_NEW)
            .del("spec.task_extras.pop_mode")
            .error("spec.task_extras.pop_mode", "missing required field `pop_mode`"),
        case("new: missing redial_enabled", LLL_NEW)
            .del("spec.task_extras.redial_enabled")
            .error("spec.task_extras.redial_enabled", "missing required field `redial_enabled`"),
        case("new: pop_mode 3", LLL_NEW).set("spec.task_extras.pop_mode", "3").error("spec.task_extras.pop_mode", "unknown code 3"),
        case("new: pop_mode 2 is valid", LLL_NEW).set("spec.task_extras.pop_mode", "2"),
        // Empty line ⇒ maximumcall = 0.
        case("empty line with maximumcall 4", LLL_NEW)
            .set("spec.task_extras.line", "[]")
            .error("spec.maximumcall", "task_extras.line is empty"),
        case("no line key with maximumcall 1", LLL_OLD)
            .del("spec.task_extras.line")
            .error("spec.maximumcall", "task_extras.line is empty"),
        case("empty line with maximumcall 0 is valid", LLL_NEW)
            .set("spec.task_extras.line", "[]")
            .set("spec.maximumcall", "0"),
        case("maximumcall -1", LLL_OLD).set("spec.maximumcall", "-1").error("spec.maximumcall", "maximumcall is -1, outside the allowed range"),
        // is_group_switch: new {0..3}, old {0,1}; what each value needs.
        case("new: is_group_switch 4", LLL_NEW).set("spec.is_group_switch", "4").error("spec.is_group_switch", "unknown code 4"),
        case("old: is_group_switch 2", LLL_OLD)
            .set("spec.is_group_switch", "2")
            .error("spec.is_group_switch", "`by_variable` is only available in new 2.0"),
        case("old: is_group_switch multi_config", LLL_OLD)
            .set("spec.is_group_switch", "multi_config")
            .error("spec.is_group_switch", "`multi_config` is only available in new 2.0"),
        case("old: by_time without group_switch_rule", LLL_OLD)
            .del("spec.group_switch_rule")
            .error("spec.group_switch_rule", "missing required field `group_switch_rule`"),
        case("new: by_time without destination_extension_list", LLL_NEW)
            .set("spec.is_group_switch", "1")
            .error("spec.task_extras.destination_extension_list", "missing required field `destination_extension_list`"),
        case("new: by_time with its list is valid", LLL_NEW)
            .set("spec.is_group_switch", "by_time")
            .set("spec.task_extras.destination_extension_list", "[{begin: \"09:00\", end: \"12:00\", destination_extension: 215870475195883520}]"),
        by_variable(case("new: by_variable without the variable list", LLL_NEW)).error(
            "spec.task_extras.destination_extension_with_variable_list",
            "missing required field `destination_extension_with_variable_list`",
        ),
        multi(case("new: multi_config without the multi config", LLL_NEW)).error(
            "spec.task_extras.destination_extension_multi_config",
            "missing required field `destination_extension_multi_config`",
        ),
        // Variable groups: ≤ 100; mode {0,1}; 1–10 distinct non-empty values; fields required.
        by_variable(case("100 variable groups are valid", LLL_NEW)).set("spec.task_extras.destination_extension_with_variable_list", groups(100)),
        by_variable(case("101 variable groups", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", groups(101))
            .error("spec.task_extras.destination_extension_with_variable_list", "has 101 items"),
        by_variable(case("variable group mode 2", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: 2, values: [男], destination_extension: 1, sort: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].mode", "unknown code 2"),
        by_variable(case("variable group without values", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: equals, values: [], destination_extension: 1, sort: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].values", "values has 0 items"),
        by_variable(case("variable group with 11 values", LLL_NEW))
            .set(
                "spec.task_extras.destination_extension_with_variable_list",
                "[{mode: 1, values: [a, b, c, d, e, f, g, h, i, j, k], destination_extension: 1, sort: 1}]",
            )
            .error("spec.task_extras.destination_extension_with_variable_list[0].values", "values has 11 items"),
        by_variable(case("variable group with 10 values is valid", LLL_NEW)).set(
            "spec.task_extras.destination_extension_with_variable_list",
            "[{mode: 1, values: [a, b, c, d, e, f, g, h, i, j], destination_extension: 1, sort: 1}]",
        ),
        by_variable(case("variable group with a repeated value", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: 0, values: [男, 女, 男], destination_extension: 1, sort: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].values[2]", "a repeated keyword"),
        by_variable(case("variable group with an empty value", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: 0, values: [男, \" \"], destination_extension: 1, sort: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].values[1]", "an empty keyword"),
        by_variable(case("variable group without destination_extension", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: 0, values: [男], sort: 1}]")
            .error(
                "spec.task_extras.destination_extension_with_variable_list[0].destination_extension",
                "missing required field `destination_extension`",
            ),
        by_variable(case("variable group without sort", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{mode: 0, values: [男], destination_extension: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].sort", "missing required field `sort`"),
        by_variable(case("variable group without mode", LLL_NEW))
            .set("spec.task_extras.destination_extension_with_variable_list", "[{values: [男], destination_extension: 1, sort: 1}]")
            .error("spec.task_extras.destination_extension_with_variable_list[0].mode", "missing required field `mode`"),
        // multi_config: dial_mode {0,1}; items need destination_extension and sort.
        multi(case("multi_config dial_mode 2", LLL_NEW))
            .set("spec.task_extras.destination_extension_multi_config", "{dial_mode: 2, list: [{destination_extension: \"13601\", sort: 1}]}")
            .error("spec.task_extras.destination_extension_multi_config.dial_mode", "unknown code 2"),
        multi(case("multi_config item without sort", LLL_NEW))
            .set("spec.task_extras.destination_extension_multi_config", "{dial_mode: random, list: [{destination_extension: \"13601\"}]}")
            .error("spec.task_extras.destination_extension_multi_config.list[0].sort", "missing required field `sort`"),
        multi(case("multi_config item without destination_extension", LLL_NEW))
            .set("spec.task_extras.destination_extension_multi_config", "{dial_mode: 0, list: [{sort: 1}]}")
            .error(
                "spec.task_extras.destination_extension_multi_config.list[0].destination_extension",
                "missing required field `destination_extension`",
            ),
        multi(case("multi_config without dial_mode", LLL_NEW))
            .set("spec.task_extras.destination_extension_multi_config", "{list: [{destination_extension: \"13601\", sort: 1}]}")
            .error("spec.task_extras.destination_extension_multi_config.dial_mode", "missing required field `dial_mode`"),
        multi(case("multi_config with an empty list", LLL_NEW))
            .set("spec.task_extras.destination_extension_multi_config", "{dial_mode: 0, list: []}")
            .error("spec.task_extras.destination_extension_multi_config.list", "list has 0 items"),
        // Time-based lists: HH:MM, begin < end.
        case("new: time-based item ending before it begins", LLL_NEW)
            .set("spec.is_group_switch", "by_time")
            .set("spec.task_extras.destination_extension_list", "[{begin: \"12:00\", end: \"09:00\", destination_extension: 1}]")
            .error("spec.task_extras.destination_extension_list[0].end", "the end is not after the begin"),
        case("new: time-based item with seconds", LLL_NEW)
            .set("spec.is_group_switch", "by_time")
            .set("spec.task_extras.destination_extension_list", "[{begin: \"09:00:00\", end: \"12:00\", destination_extension: 1}]")
            .error("spec.task_extras.destination_extension_list[0].begin", "not a clock time"),
        case("old: group_switch_rule ending before it begins", LLL_OLD)
            .set("spec.group_switch_rule", "[{switch_start: \"12:00\", switch_end: \"12:00\", group_id: 1}]")
            .error("spec.group_switch_rule[0].switch_end", "the end is not after the begin"),
        case("old: group_switch_rule with a bad clock", LLL_OLD)
            .set("spec.group_switch_rule", "[{switch_start: \"9:00\", switch_end: \"12:00\", group_id: 1}]")
            .error("spec.group_switch_rule[0].switch_start", "not a clock time"),
        // Redials: interval ≤ 60, max times ≤ 3, da_status and pop_mode sets.
        case("redial_interval 60 is valid", LLL_NEW).set("spec.task_extras.redial_interval", "60"),
        case("redial_interval 61", LLL_NEW)
            .set("spec.task_extras.redial_interval", "61")
            .error("spec.task_extras.redial_interval", "redial_interval is 61, outside the allowed range"),
        case("redial_max_times 3 is valid", LLL_NEW).set("spec.task_extras.redial_max_times", "3"),
        case("redial_max_times 4", LLL_NEW)
            .set("spec.task_extras.redial_max_times", "4")
            .error("spec.task_extras.redial_max_times", "redial_max_times is 4, outside the allowed range"),
        case("all documented da_status codes are valid", LLL_NEW)
            .set("spec.task_extras.redial_conditions", "{da_status: [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]}"),
        case("da_status 11", LLL_NEW)
            .set("spec.task_extras.redial_conditions", "{da_status: [2, 11]}")
            .error("spec.task_extras.redial_conditions.da_status[1]", "unknown code 11"),
        case("da_status 1", LLL_NEW)
            .set("spec.task_extras.redial_conditions", "{da_status: [1]}")
            .error("spec.task_extras.redial_conditions.da_status[0]", "unknown code 1"),
        case("redial_conditions.pop_mode 3", LLL_NEW)
            .set("spec.task_extras.redial_conditions", "{pop_mode: 3}")
            .error("spec.task_extras.redial_conditions.pop_mode", "unknown code 3"),
        // Holidays: YYYY-MM-DD HH:MM, begin < end, sent as `begin`.
        case("holiday ending before it begins", LLL_NEW)
            .set("spec.task_extras.holiday", "[{begin: 2090-02-10 00:00, end: 2090-02-09 23:59}]")
            .error("spec.task_extras.holiday[0].end", "the holiday ends before it begins"),
        case("holiday ending when it begins", LLL_NEW)
            .set(
                "spec.task_extras.holiday",
                "[{begin: 2090-02-10 00:00, end: 2090-02-10 00:00}]",
            )
            .error(
                "spec.task_extras.holiday[0].end",
                "the holiday ends before it begins",
            ),
        case("holiday with seconds", LLL_NEW)
            .set("spec.task_extras.holiday", "[{begin: 2090-02-10 00:00:30, end: 2090-02-11 00:00}]")
            .error("spec.task_extras.holiday[0].begin", "minute precision"),
        case("holiday with a bad date", LLL_OLD)
            .set("spec.task_extras.holiday", "[{begin: 2090/02/10 00:00, end: 2090-02-11 00:00}]")
            .error("spec.task_extras.holiday[0].begin", "not a date-time"),
        case("holiday written with `start` (the table's spelling)", LLL_OLD)
            .set("spec.task_extras.holiday", "[{start: 2090-02-10 00:00, end: 2090-02-11 00:00}]")
            .error("spec.task_extras.holiday[0].start", "unknown field `start`"),
        // enable_type, is_call_in, end_action {0,1}; group_type {group, robot}; interval_time ≥ 0.
        case("enable_type 2", LLL_NEW).set("spec.enable_type", "2").error("spec.enable_type", "unknown code 2"),
        case("enable_type large_model is valid", LLL_NEW).set("spec.enable_type", "1"),
        case("end_action 2", LLL_OLD).set("spec.end_action", "2").error("spec.end_action", "not a switch value"),
        case("is_call_in -1", LLL_OLD).set("spec.is_call_in", "-1").error("spec.is_call_in", "not a switch value"),
        case("group_type robots", LLL_NEW).set("spec.group_type", "robots").error("spec.group_type", "unknown value `robots`").hint("did you mean `robot`?"),
        case("group_type 1", LLL_NEW).set("spec.group_type", "1").error("spec.group_type", "unknown value `1`"),
        case("interval_time -1", LLL_OLD)
            .set("spec.task_extras.interval_time", "-1")
            .error("spec.task_extras.interval_time", "interval_time is -1, outside the allowed range"),
        // bridge_group_id: a present key needs a value.
        case("bridge_group_id present but empty", LLL_OLD)
            .set("spec.bridge_group_id", "")
            .error("spec.bridge_group_id", "bridge_group_id is present but empty"),
        case("bridge_group_id null", LLL_OLD)
            .set("spec.bridge_group_id", "null")
            .error("spec.bridge_group_id", "bridge_group_id is present but empty"),
        case("bridge_group_id may be left out", LLL_OLD).del("spec.bridge_group_id"),
        // Old 2.0 re_call_time HH:MM:SS within 10:00–11:00 or 13:00–22:00; call_interval > 0.
        case("re_call_time 12:00:00", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"12:00:00\", call_interval: 60}]")
            .error("spec.new_call_rules[0].re_call_time", "outside the vendor's hours"),
        case("re_call_time 09:59:59", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"09:59:59\", call_interval: 60}]")
            .error("spec.new_call_rules[0].re_call_time", "outside the vendor's hours"),
        case("re_call_time 22:00:01", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"22:00:01\", call_interval: 60}]")
            .error("spec.new_call_rules[0].re_call_time", "outside the vendor's hours"),
        case("re_call_time 11:00:01", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"11:00:01\", call_interval: 60}]")
            .error("spec.new_call_rules[0].re_call_time", "outside the vendor's hours"),
        case("re_call_time 11:00:00 and 13:00:00 are valid", LLL_OLD).set(
            "spec.new_call_rules",
            "[{re_call_time: \"11:00:00\", call_interval: 60}, {re_call_time: \"13:00:00\", call_interval: 60}]",
        ),
        case("re_call_time without seconds", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"10:30\", call_interval: 60}]")
            .error("spec.new_call_rules[0].re_call_time", "not a clock time"),
        case("call_interval 0", LLL_OLD)
            .set("spec.new_call_rules", "[{re_call_time: \"10:30:00\", call_interval: 0}]")
            .error("spec.new_call_rules[0].call_interval", "call_interval is 0, outside the allowed range"),
    ]);
}

// ---------------------------------------------------------------------------------------
// aliyun — CreateRobotTask.

#[test]
fn aliyun_rules() {
    let chinese30: String = "续".repeat(30);
    let chinese31: String = "续".repeat(31);
    run_cases(vec![
        // dialog_id: required, positive.
        case("missing dialog_id", ALIYUN)
            .del("spec.dialog_id")
            .error("spec.dialog_id", "missing required field `dialog_id`"),
        case("dialog_id 0", ALIYUN)
            .set("spec.dialog_id", "0")
            .error(
                "spec.dialog_id",
                "dialog_id is 0, outside the allowed range",
            ),
        case("dialog_id -5", ALIYUN)
            .set("spec.dialog_id", "-5")
            .error(
                "spec.dialog_id",
                "dialog_id is -5, outside the allowed range",
            ),
        // At least one callee, at most 300,000 (AL:56); inline or from a file, not both.
        case("no callees", ALIYUN)
            .del("callees")
            .error("callees", "no callees"),
        case("empty callees", ALIYUN)
            .set("callees.numbers", "[]")
            .error("callees", "callees: 0 rows; this vendor needs at least 1"),
        case("1000 callees are valid", ALIYUN)
            .set("callees.numbers", format!("[{}]", numbers(1000))),
        case("300,001 callees", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "numbers.txt")
            .file(
                "numbers.txt",
                (0..300_001)
                    .map(|i| format!("137{i:08}\n"))
                    .collect::<String>(),
            )
            .error(
                "callees",
                "callees: 300001 rows; this vendor takes at most 300000",
            ),
        case("both numbers and file", ALIYUN)
            .set("callees.file", "numbers.txt")
            .file("numbers.txt", "13700000001\n")
            .error(
                "callees",
                "callees: more than one of `file`, `numbers` and `rows` is set",
            ),
        case("none of file, numbers, rows", ALIYUN)
            .del("callees.numbers")
            .set("callees.variables", "[a]")
            .error("callees", "none of `file`, `numbers` or `rows` is set"),
        case("a callee file is valid", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "lists/numbers.txt")
            .file(
                "lists/numbers.txt",
                "# comment\n\n137 0000 0001\n+86-137-0000-0002\n13700000003\n",
            ),
        case(
            "a CSV callee file with the declared variables is valid",
            ALIYUN,
        )
        .del("callees.numbers")
        .set("callees.file", "numbers.csv")
        .set("callees.variables", "[金额, 客户姓名]")
        .file(
            "numbers.csv",
            "phone,客户姓名,金额\n13700000001,张三,100\n13700000002,李四,5\n13700000003,王五,7\n",
        ),
        case("a callee file that does not exist", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "missing.txt")
            .error("callees.file", "cannot read the file"),
        case("a callee file that is not UTF-8", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "numbers.txt")
            .file(
                "numbers.txt",
                b"13700000001\n\xff13700000002\n13700000003\n",
            )
            .error("callees.file", "the line is not valid UTF-8 text")
            .in_file("numbers.txt", 2)
            .hides("13700000001"),
        case("a row too long for an upload", ALIYUN)
            .set("callees.numbers", "[]")
            .del("callees.numbers")
            .set("callees.file", "numbers.csv")
            .file(
                "numbers.csv",
                format!(
                    "phone,note\n13700000001,{}\n13700000002,a\n13700000003,b\n",
                    "长".repeat(40)
                ),
            )
            .error("callees.file", "more than 320: its values are too long")
            .in_file("numbers.csv", 2)
            .hides("长长长"),
        // caller: the calling lines (AL:30), at least one, no repeats.
        case("empty caller", ALIYUN)
            .set("spec.caller", "[]")
            .error("spec.caller", "caller has 0 items"),
        case("a caller repeated", ALIYUN)
            .set("spec.caller", "[\"057100000001\", \"0571-00000001\"]")
            .error("spec.caller[1]", "calling line 057****0001 is listed twice")
            .hides("057100000001"),
        case("an invalid caller", ALIYUN)
            .set("spec.caller", "[\"05710000000x\"]")
            .error("spec.caller[0]", "invalid calling line number"),
        // The keys that moved: refused with the new place.
        case("spec.callees moved to the task level", ALIYUN)
            .set("spec.callees", "[\"13700000001\"]")
            .error("spec.callees", "`spec.callees` has moved")
            .hint("task-level `callees: {numbers: [...]}`"),
        case("spec.callees_file moved to the task level", ALIYUN)
            .set("spec.callees_file", "numbers.txt")
            .error("spec.callees_file", "`spec.callees_file` has moved")
            .hint("`callees: {file: PATH}`"),
        // status and schedule_time.
        case("volcengine: two columns for one PhoneParamJson key", VOLC)
            .set(
                "callees",
                "{rows: [{phone: \"13700000011\", name: a, param.name: b}, {phone: \"13700000012\", name: c, param.name: d}]}",
            )
            .error("callees.rows[0]", "both become PhoneParamJson key `name`"),
        case("an empty callee list calls nobody", XFYETA)
            .set("callees", "{numbers: []}")
            .warning("callees", "this task calls nobody"),
        case("schedule_time without running", ALIYUN)
            .set("spec.schedule_time", "2090-01-04 09:00")
            .error(
                "spec.schedule_time",
                "schedule_time is set but the task is not `status: running`",
            ),
        case("schedule_time in the past", ALIYUN)
            .set("status", "running")
            .set("spec.schedule_time", "2020-01-04 09:00")
            .warning(
                "spec.schedule_time",
                "schedule_time 2020-01-04 09:00:00 is in the past",
            ),
        // number_status_ident and retry_type are required (AL:42-43).
        case("number_status_ident is required", ALIYUN)
            .del("spec.number_status_ident")
            .error(
                "spec.number_status_ident",
                "missing required field `number_status_ident`",
            ),
        case("retry_type is required", ALIYUN)
            .del("spec.retry_type")
            .del("spec.recall_times")
            .del("spec.recall_interval")
            .del("spec.recall_state_codes")
            .error("spec.retry_type", "missing required field `retry_type`"),
        case("recall_interval 31", ALIYUN)
            .set("spec.recall_interval", "31")
            .error(
                "spec.recall_interval",
                "recall_interval is 31, outside the allowed range",
            ),
        case("no_answer is a recall code", ALIYUN)
            .set("spec.recall_state_codes", "[no_answer, 200003]")
            .error("spec.recall_state_codes[1]", "`no_answer` is listed twice"),
        // task_name: at most 30 characters, counted as characters.
        case("30 Chinese characters are valid", ALIYUN).set("spec.task_name", &chinese30),
        case("31 Chinese characters", ALIYUN)
            .set("spec.task_name", &chinese31)
            .error(
                "spec.task_name",
                "31 characters long; aliyun allows at most 30",
            ),
        // retry_type {0,1}; recall_times ≥ 0; recall_interval > 1; recall_state_codes.
        case("retry_type 2", ALIYUN)
            .set("spec.retry_type", "2")
            .error(
                "spec.retry_type",
                "retry_type is 2, outside the allowed range",
            ),
        case("recall_times -1", ALIYUN)
            .set("spec.recall_times", "-1")
            .error(
                "spec.recall_times",
                "recall_times is -1, outside the allowed range",
            ),
        case("recall_interval 1", ALIYUN)
            .set("spec.recall_interval", "1")
            .error(
                "spec.recall_interval",
                "recall_interval is 1, outside the allowed range",
            ),
        case("recall_state_codes 200004", ALIYUN)
            .set("spec.recall_state_codes", "[200010, 200004]")
            .error("spec.recall_state_codes[1]", "unknown code 200004"),
        case("misspelt recall state", ALIYUN)
            .set("spec.recall_state_codes", "[power_of]")
            .error("spec.recall_state_codes[0]", "unknown value `power_of`")
            .hint("did you mean `power_off`?"),
        case("recall state listed twice (by name and code)", ALIYUN)
            .set("spec.recall_state_codes", "[busy, 200002]")
            .error("spec.recall_state_codes[1]", "`busy` is listed twice"),
        // Recall fields only with retry_type 1: a warning otherwise.
        case("recall_times with retry_type 0", ALIYUN)
            .set("spec.retry_type", "0")
            .del("spec.recall_interval")
            .del("spec.recall_state_codes")
            .warning(
                "spec.recall_times",
                "recall_times has no effect unless retry_type is 1",
            ),
        case("recall_interval with retry_type 0", ALIYUN)
            .set("spec.retry_type", "0")
            .del("spec.recall_times")
            .del("spec.recall_state_codes")
            .warning(
                "spec.recall_interval",
                "recall_interval has no effect unless retry_type is 1",
            ),
        case("recall_state_codes with retry_type 0", ALIYUN)
            .set("spec.retry_type", "0")
            .del("spec.recall_times")
            .del("spec.recall_interval")
            .warning(
                "spec.recall_state_codes",
                "recall_state_codes has no effect unless retry_type is 1",
            ),
    ]);
}

// ---------------------------------------------------------------------------------------
// volcengine — CreateTask 2022-01-01.

#[test]
fn volcengine_rules() {
    let phone_items = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!("{{phone: \"137{i:08}\"}}"))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let list = |c: Case| {
        c.del("spec.select_number_rule")
            .set("spec.select_number_type", "number_list")
    };
    run_cases(vec![
        // Required fields.
        case("missing resource", VOLC).del("spec.resource").error("spec.resource", "missing required field `resource`"),
        case("missing number_pool_no", VOLC).del("spec.number_pool_no").error("spec.number_pool_no", "missing required field `number_pool_no`"),
        case("missing start_time", VOLC).del("spec.start_time").error("spec.start_time", "missing required field `start_time`"),
        case("missing end_time", VOLC).del("spec.end_time").error("spec.end_time", "missing required field `end_time`"),
        case("missing concurrency", VOLC).del("spec.concurrency").error("spec.concurrency", "missing required field `concurrency`"),
        case("empty resource", VOLC).set("spec.resource", "\" \"").error("spec.resource", "resource is empty"),
        case("empty number_pool_no", VOLC).set("spec.number_pool_no", "\"\"").error("spec.number_pool_no", "number_pool_no is empty"),
        case("concurrency 0", VOLC).set("spec.concurrency", "0").error("spec.concurrency", "concurrency is 0, outside the allowed range"),
        // callees: at least one; the first 10,000 go in CreateTask, more is valid.
        case("no callees", VOLC).del("callees").error("callees", "no callees"),
        case("empty rows", VOLC).set("callees.rows", "[]").error("callees", "callees: 0 rows; this vendor needs at least 1"),
        case("10,001 callees are valid", VOLC).set("callees.rows", phone_items(10_001)),
        case("a row without phone", VOLC)
            .set("callees.rows", "[{tts_content: 您好}]")
            .error("callees.rows[0]", "the first row has no `phone`"),
        case("a row without the first row's keys", VOLC)
            .set("callees.rows", "[{phone: \"13700000011\", ext: a}, {phone: \"13700000012\"}, {phone: \"13700000013\", ext: c}]")
            .error("callees.rows[1]", "row 1 does not have the first row's keys"),
        case("a CSV file with per-callee columns is valid", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "phone,tts_content,ext,param.name,sms.code\n13700000011,您好,o-1,张先生,A1\n137 0000 0012,,,,\n13700000013,,,,\n"),
        case("CSV without a phone column", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "number,ext\n13700000011,a\n")
            .error("callees.file", "no `phone` column")
            .in_file("phones.csv", 1),
        case("CSV with a column that is no name", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "phone,13700000099\n13700000011,a\n")
            .error("callees.file", "column number 2 is not a column name")
            .in_file("phones.csv", 1)
            .hides("13700000099"),
        case("CSV with a short row", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "phone,ext\n13700000011,a\n13700000012\n13700000014,c\n")
            .error("callees.file", "a row has 1 fields where the header has 2")
            .in_file("phones.csv", 3)
            .hides("13700000012"),
        case("tts_content over 250 characters", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", format!("phone,tts_content\n13700000011,{}\n13700000012,a\n13700000013,b\n", "您".repeat(251)))
            .error("callees.file", "tts_content is 251 characters long; TtsContent takes at most 250")
            .in_file("phones.csv", 2)
            .hides("您您您"),
        case("ext over 250 characters", VOLC)
            .set("callees.rows", format!("[{{phone: \"13700000011\", ext: {}}}, {{phone: \"13700000012\", ext: a}}, {{phone: \"13700000013\", ext: b}}]", "x".repeat(251)))
            .error("callees.rows[0]", "ext is 251 characters long"),
        case("PhoneParamJson over 2,048 characters", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", format!("phone,a,b,c\n13700000011,{0},{0},{0}\n13700000012,x,y,z\n13700000013,x,y,z\n", "码".repeat(700)))
            .error("callees.file", "PhoneParamJson text of")
            .in_file("phones.csv", 2)
            .hides("码码码"),
        case("running with more than 10,000 callees warns", VOLC)
            .set("status", "running")
            .set("callees.rows", phone_items(10_001))
            .warning("status", "the task dials from start_time with the first 10,000"),
        // The keys that moved: refused with the new place.
        case("spec.phone_list moved", VOLC)
            .set("spec.phone_list", "[{phone: \"13700000011\"}]")
            .error("spec.phone_list", "`spec.phone_list` has moved")
            .hint("`callees: {rows: [...]}`")
            .hides("13700000011"),
        case("spec.phone_list_file moved", VOLC)
            .set("spec.phone_list_file", "phones.csv")
            .error("spec.phone_list_file", "`spec.phone_list_file` has moved")
            .hint("`callees: {file: PATH}`"),
        case("spec.start moved to status", VOLC)
            .set("spec.start", "true")
            .error("spec.start", "`spec.start` has moved")
            .hint("`status: running` (Start: true)"),
        // type ∈ {0..3} is in type_rules.
        // Redials: ring_again_times 0–5, ring_again_interval 5–1440, max_ring_duration > 0.
        case("ring_again_times 6", VOLC)
            .set("spec.ring_again_times", "6")
            .error("spec.ring_again_times", "ring_again_times is 6, outside the allowed range"),
        case("ring_again_times -1", VOLC)
            .set("spec.ring_again_times", "-1")
            .error("spec.ring_again_times", "ring_again_times is -1, outside the allowed range"),
        case("ring_again_interval 5 is valid", VOLC).set("spec.ring_again_interval", "5"),
        case("ring_again_interval 4", VOLC)
            .set("spec.ring_again_interval", "4")
            .error("spec.ring_again_interval", "ring_again_interval is 4, outside the allowed range"),
        case("ring_again_interval 1441", VOLC)
            .set("spec.ring_again_interval", "1441")
            .error("spec.ring_again_interval", "ring_again_interval is 1441, outside the allowed range"),
        case("max_ring_duration 0", VOLC)
            .set("spec.max_ring_duration", "0")
            .error("spec.max_ring_duration", "max_ring_duration is 0, outside the allowed range"),
        // select_number_type {0,1}; number_list only with 1, required with it, ≤ 1000;
        // select_number_rule only 5 and not with select_number_type.
        case("select_number_type 2", VOLC)
            .del("spec.select_number_rule")
            .set("spec.select_number_type", "2")
            .error("spec.select_number_type", "unknown code 2"),
        list(case("number_list type without number_list", VOLC))
            .error("spec.number_list", "missing required field `number_list`"),
        list(case("number_list of caller numbers is valid", VOLC)).set("spec.number_list", "[\"13344445555\", \"010-12345678\"]"),
        list(case("empty number_list", VOLC)).set("spec.number_list", "[]").error("spec.number_list", "number_list has 0 items"),
        list(case("number_list of 1001", VOLC))
            .set("spec.number_list", format!("[{}]", numbers(1001)))
            .error("spec.number_list", "number_list has 1001 items"),
        list(case("number_list with an invalid number", VOLC))
            .set("spec.number_list", "[\"13344445555\", \"1334444555\"]")
            .error("spec.number_list[1]", "invalid phone number")
            .hides("1334444555"),
        case("number_list with select_number_type pool", VOLC)
            .del("spec.select_number_rule")
            .set("spec.select_number_type", "pool")
            .set("spec.number_list", "[\"13344445555\"]")
            .error("spec.number_list", "`number_list` is not allowed here"),
        case("number_list without select_number_type", VOLC)
            .set("spec.number_list", "[\"13344445555\"]")
            .error("spec.number_list", "`number_list` is not allowed here"),
        case("select_number_rule 4", VOLC)
            .set("spec.select_number_rule", "4")
            .error("spec.select_number_rule", "select_number_rule is 4, outside the allowed range"),
        case("select_number_rule with select_number_type", VOLC)
            .set("spec.select_number_type", "0")
            .error("spec.select_number_rule", "`select_number_rule` is not allowed here")
            .at_key("spec.select_number_rule"),
        // forbid_time_list: HH:MM-HH:MM, begin < end; weekdays 1–7 (1 = Sunday), no 0.
        case("forbidden window ending before it begins", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"13:30-12:00\"]}]")
            .error("spec.forbid_time_list[0].times[0]", "ends before it begins"),
        case("forbidden window with seconds", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"12:00:00-13:30:00\"]}]")
            .error("spec.forbid_time_list[0].times[0]", "not a daily time window"),
        case("forbidden window as the example's JSON string", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"[\\\"09:00-10:00\\\"]\"]}]")
            .error("spec.forbid_time_list[0].times[0]", "not a daily time window"),
        case("forbid_time_list item without times", VOLC)
            .set("spec.forbid_time_list", "[{weekdays: [1]}]")
            .error("spec.forbid_time_list[0].times", "missing required field `times`"),
        case("forbid_time_list item with no windows", VOLC)
            .set("spec.forbid_time_list", "[{times: []}]")
            .error("spec.forbid_time_list[0].times", "times has 0 items"),
        case("weekday 0 (the example's value) is refused", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"10:00-11:00\"], weekdays: [0]}]")
            .error("spec.forbid_time_list[0].weekdays[0]", "unknown code 0"),
        case("weekday 8", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"10:00-11:00\"], weekdays: [1, 8]}]")
            .error("spec.forbid_time_list[0].weekdays[1]", "unknown code 8"),
        case("weekdays 1 to 7 and names are valid", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"10:00-11:00\"], weekdays: [1, 2, 3, 4, 5, 6, 7, sunday, saturday]}, {times: [\"00:00-09:00\", \"21:00-23:59\"], weekdays: [1, 2, 3, 4, 5, 6, 7]}]"),
        case("misspelt weekday", VOLC)
            .set("spec.forbid_time_list", "[{times: [\"10:00-11:00\"], weekdays: [sundy]}]")
            .error("spec.forbid_time_list[0].weekdays[0]", "unknown value `sundy`")
            .hint("did you mean `sunday`?"),
        // sms_config: template_id, sign, status_set all required.
        case("sms_config without template_id", VOLC)
            .set("spec.sms_config", "[{sign: 【示例】, status_set: [1]}]")
            .error("spec.sms_config[0].template_id", "missing required field `template_id`"),
        case("sms_config without sign", VOLC)
            .set("spec.sms_config", "[{template_id: \"1\", status_set: [1]}]")
            .error("spec.sms_config[0].sign", "missing required field `sign`"),
        case("sms_config without status_set", VOLC)
            .set("spec.sms_config", "[{template_id: \"1\", sign: 【示例】}]")
            .error("spec.sms_config[0].status_set", "missing required field `status_set`"),
        case("sms_config with an empty template_id", VOLC)
            .set("spec.sms_config", "[{template_id: \"\", sign: 【示例】, status_set: [1]}]")
            .error("spec.sms_config[0].template_id", "template_id is empty"),
        case("sms_config with an empty sign", VOLC)
            .set("spec.sms_config", "[{template_id: \"1\", sign: \" \", status_set: [1]}]")
            .error("spec.sms_config[0].sign", "sign is empty"),
        case("sms_config with an empty status_set", VOLC)
            .set("spec.sms_config", "[{template_id: \"1\", sign: 【示例】, status_set: []}]")
            .error("spec.sms_config[0].status_set", "status_set has 0 items"),
        // Callback URLs: absolute https://.
        case("call_record_post_url over http", VOLC)
            .set("spec.call_record_post_url", "http://hooks.example.com/records")
            .error("spec.call_record_post_url", "not an absolute https:// URL"),
        case("call_record_post_url relative", VOLC)
            .set("spec.call_record_post_url", "/records")
            .error("spec.call_record_post_url", "not an absolute https:// URL"),
        case("audio_post_url without a host", VOLC)
            .set("spec.audio_post_url", "https:///audio")
            .error("spec.audio_post_url", "not an absolute https:// URL"),
        case("audio_post_url with a space", VOLC)
            .set("spec.audio_post_url", "\"https://hooks.example.com/a b\"")
            .error("spec.audio_post_url", "not an absolute https:// URL"),
    ]);
}

// ---------------------------------------------------------------------------------------
// Phone numbers: mainland only, normalised, duplicates warned, never shown in clear.

#[test]
fn phone_number_rules() {
    run_cases(vec![
        // Invalid numbers, inline: an error naming the position, the number masked.
        case("aliyun: 12 as a mobile prefix", ALIYUN)
            .set("callees.numbers", "[\"13700000001\", \"12345678901\"]")
            .error("callees.numbers[1]", "invalid phone number 123****8901")
            .hides("12345678901"),
        case("aliyun: ten-digit mobile", ALIYUN)
            .set("callees.numbers", "[\"1370000001\"]")
            // Masked, ten digits look like a mobile's eleven: the message counts them.
            .error(
                "callees.numbers[0]",
                "invalid phone number 137****0001: it has 10 digits; a mobile number has 11",
            )
            .hides("1370000001"),
        case("aliyun: twelve-digit mobile", ALIYUN)
            .set("callees.numbers", "[\"137000000012\"]")
            .error(
                "callees.numbers[0]",
                "it has 12 digits; a mobile number has 11",
            )
            .hides("137000000012"),
        case("aliyun: a fixed line one digit short", ALIYUN)
            .set("callees.numbers", "[\"055169101\"]")
            .error(
                "callees.numbers[0]",
                "it has 9 digits; a fixed line has 10–12 (0 and 9–11 more)",
            )
            .hides("055169101"),
        case("aliyun: a foreign number", ALIYUN)
            .set("callees.numbers", "[\"+1 415 555 0100\"]")
            .error("callees.numbers[0]", "invalid phone number"),
        case("aliyun: a number with letters", ALIYUN)
            .set("callees.numbers", "[\"1370000000x\"]")
            .error("callees.numbers[0]", "invalid phone number")
            .hides("1370000000x"),
        case("aliyun: a fixed line too short", ALIYUN)
            .set("callees.numbers", "[\"055169101\"]")
            .error("callees.numbers[0]", "invalid phone number")
            .hides("055169101"),
        case("aliyun: a fixed line too long", ALIYUN)
            .set("callees.numbers", "[\"0551691014071\"]")
            .error("callees.numbers[0]", "invalid phone number")
            .hides("0551691014071"),
        case("aliyun: an empty number", ALIYUN).set("callees.numbers", "[\"\"]").error("callees.numbers[0]", "invalid phone number"),
        case("volcengine: invalid phone item", VOLC)
            .set("callees.rows", "[{phone: \"13700000011\"}, {phone: \"23700000012\"}]")
            .error("callees.rows[1].phone", "invalid phone number 237****0012")
            .hides("23700000012"),
        // Normalisation: +86 / 0086, spaces, dashes (and the full-width space) are valid.
        case("aliyun: +86, 0086, spaces and dashes normalise", ALIYUN).set(
            "callees.numbers",
            "[\"+86 137 0000 0001\", \"0086-137-0000-0002\", \"+8613700000003\", \"137\u{3000}0000\u{3000}0004\", \"010-1234-5678\", \"0551 6910 1407\"]",
        ),
        // Duplicates: an error naming both positions, after normalisation (a person would be
        // loaded twice).
        case("aliyun: a duplicate inline", ALIYUN)
            .set("callees.numbers", "[\"13700000001\", \"13700000002\", \"13700000001\"]")
            .error("callees.numbers[2]", "number 137****0001 at position 2 repeats position 0: a person would be called twice")
            .hides("13700000001")
            .shows("137****0001"),
        case("aliyun: a duplicate only after normalising", ALIYUN)
            .set("callees.numbers", "[\"+86 137-0000-0001\", \"13700000001\"]")
            .error("callees.numbers[1]", "at position 1 repeats position 0")
            .hides("13700000001"),
        case("volcengine: a duplicate phone item", VOLC)
            .set("callees.rows", "[{phone: \"13700000011\"}, {phone: \"0086 137 0000 0011\"}]")
            .error("callees.rows[1].phone", "number 137****0011 at position 1 repeats position 0")
            .hides("13700000011"),
        case("volcengine: a duplicate in number_list", VOLC)
            .del("spec.select_number_rule")
            .set("spec.select_number_type", "number_list")
            .set("spec.number_list", "[\"13344445555\", \"133-4444-5555\"]")
            .warning("spec.number_list[1]", "number 133****5555 at position 1 repeats position 0")
            .hides("13344445555"),
        // In a callees file: reported at its own line.
        case("aliyun: an invalid number in callees_file", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "numbers.txt")
            .file("numbers.txt", "# header comment\n13700000001\n1370000000\n")
            .error("callees.file", "invalid phone number")
            .in_file("numbers.txt", 3)
            .hides("1370000000"),
        case("aliyun: a duplicate in callees_file", ALIYUN)
            .del("callees.numbers")
            .set("callees.file", "numbers.txt")
            .file("numbers.txt", "13700000001\n\n137 0000 0002\n+86 137-0000-0001\n")
            .error("callees.file", "number 137****0001 repeats line 1")
            .in_file("numbers.txt", 4)
            .hides("13700000001")
            .shows("137****0001"),
        // In a CSV file: at the row's line, field `phone`.
        case("volcengine: an invalid number in the CSV", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "phone,ext\n13700000011,a\n2370000001,b\n")
            .error("callees.file", "invalid phone number")
            .in_file("phones.csv", 3)
            .hides("2370000001"),
        case("volcengine: a duplicate in the CSV", VOLC)
            .del("callees.rows")
            .set("callees.file", "phones.csv")
            .file("phones.csv", "phone,ext\n13700000011,a\n137-0000-0011,b\n")
            .error("callees.file", "number 137****0011 repeats line 2")
            .in_file("phones.csv", 3)
            .hides("13700000011")
            .shows("137****0011"),
    ]);
}

/// Text and GitHub output mask numbers as JSON does.
#[test]
fn every_format_masks_numbers() {
    let task = set(
        ALIYUN,
        "callees.numbers",
        "[\"13712345678\", \"13712345678\", \"1371234567\"]",
    );
    let dir = project_dir(&[("task.yaml", &task)]);
    for format in ["text", "github", "json"] {
        let (code, stdout, stderr) = run_format(dir.path(), format);
        assert_eq!(code, Some(1), "{format}: {stdout}");
        let all = format!("{stdout}{stderr}");
        assert!(!all.contains("13712345678"), "{format}: {all}");
        assert!(!all.contains("1371234567"), "{format}: {all}");
        assert!(all.contains("137****5678"), "{format}: {all}");
        assert!(unmasked_numbers(&all).is_empty(), "{format}: {all}");
    }
}

// ---------------------------------------------------------------------------------------
// Names unique across the directory.

#[test]
fn duplicate_names_across_files_point_at_the_second_and_name_the_first() {
    let second = format!("# the same task again\n{XFYETA}");
    let run = check_one(&[("a.yaml", XFYETA), ("sub/b.yaml", &second)]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.summary());
    let d = errors[0];
    assert_eq!(d["file"], "sub/b.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(7)),
        "{d}"
    );
    assert_eq!(d["field"], "name");
    assert_eq!(d["task"], "xf-base");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("duplicate task name `xf-base`"),
        "{d}"
    );
    assert!(d["hint"].as_str().unwrap().contains("a.yaml:1"), "{d}");
    assert_eq!(run.json["tasks"], 1);
}

#[test]
fn vendor_visible_names_are_unique_per_provider() {
    // Two tasks, one provider, the same `task_name`: the second names the first, the field
    // and what to do (an uncertain create is found by this name).
    let other = set(XFYETA, "name", "xf-other");
    let run = check_one(&[("a.yaml", XFYETA), ("b.yaml", &other)]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.summary());
    let d = errors[0];
    assert_eq!(d["file"], "b.yaml");
    assert_eq!(d["line"], 1, "{d}");
    assert_eq!(d["task"], "xf-other");
    assert_eq!(d["field"], "spec.task_name");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("`续保提醒`") && message.contains("`xf-base` (a.yaml:1)"),
        "{d}"
    );
    assert!(d["hint"].as_str().unwrap().contains("distinct"), "{d}");
    // A vendor-visible name defaulted from `name:` counts the same.
    let by_name = set(&remove(XFYETA, "spec.task_name"), "name", "续保提醒");
    let run = check_one(&[("a.yaml", XFYETA), ("b.yaml", &by_name)]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.summary());
    assert_eq!(errors[0]["field"], "name");
    // Distinct names validate clean.
    let distinct = set(&other, "spec.task_name", "续保提醒二");
    let run = check_one(&[("a.yaml", XFYETA), ("b.yaml", &distinct)]);
    assert!(run.errors().is_empty(), "{}", run.summary());
}

#[test]
fn duplicate_names_are_found_even_when_a_task_has_other_errors() {
    // The first occurrence has its own error; the duplicate is still reported.
    let broken = set(XFYETA, "spec.recall_count", "9");
    let run = check_one(&[("a.yaml", &broken), ("b.yaml", XFYETA)]);
    assert!(
        run.errors()
            .iter()
            .any(|d| d["file"] == "b.yaml" && d["field"] == "name" && d["line"] == 1),
        "{}",
        run.summary()
    );
    assert!(run
        .errors()
        .iter()
        .any(|d| d["file"] == "a.yaml" && d["field"] == "spec.recall_count"));
}

#[test]
fn duplicate_names_within_one_file() {
    let two = format!("{XFYETA}---\n{}", set(VOLC, "name", "xf-base"));
    let run = check_one(&[("tasks.yaml", &two)]);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.summary());
    let second_name_line = XFYETA.lines().count() + 2;
    assert_eq!(errors[0]["line"], second_name_line);
    assert!(errors[0]["hint"].as_str().unwrap().contains("tasks.yaml:1"));
}

// ---------------------------------------------------------------------------------------
// callform.yaml: credentials, providers, endpoints.

#[test]
fn project_rules() {
    run_cases(vec![
        case("a literal token", XFYETA)
            .project_set("providers.xfyeta.token", CANARY)
            .error("providers.xfyeta.token", "holds a literal value")
            .hides(CANARY),
        case("a literal quoted secret key", VOLC)
            .project_set("providers.volcengine.secret_key", &format!("\"{CANARY}\""))
            .error("providers.volcengine.secret_key", "holds a literal value")
            .hides(CANARY),
        case("a literal in a block of unknown vendor", XFYETA)
            .project_set("providers.prod", &format!("{{token: {CANARY}}}"))
            .error("providers.prod.token", "holds a literal value")
            .hides(CANARY),
        case("a literal in a credential the vendor does not take", ALIYUN)
            .project_set("providers.aliyun.token", CANARY)
            .error("providers.aliyun.token", "holds a literal value")
            .hides(CANARY),
        case("a half reference", XFYETA)
            .project_set(
                "providers.xfyeta.token",
                &format!("\"${{XFYETA_TOKEN}}{CANARY}\""),
            )
            .error("providers.xfyeta.token", "holds a literal value")
            .hides(CANARY),
        case("credentials in the endpoint", XFYETA)
            .project_set(
                "providers.xfyeta.endpoint",
                &format!("https://user:{CANARY}@www.xfyeta.com"),
            )
            .error("providers.xfyeta.endpoint", "invalid endpoint")
            .hides(CANARY),
        case("an endpoint with a path (signing covers `/` only)", XFYETA)
            .project_set("providers.xfyeta.endpoint", "https://gw.example.com/prefix")
            .error("providers.xfyeta.endpoint", "the endpoint has a path"),
        case("an endpoint with a trailing slash is valid", XFYETA)
            .project_set("providers.xfyeta.endpoint", "https://gw.example.com/"),
        case("a misspelt credential key does not echo the value", XFYETA)
            .project_set("providers.xfyeta.tokne", CANARY)
            .error("providers.xfyeta.tokne", "unknown field `tokne`")
            .hides(CANARY),
        // Providers.
        case("provider block of another vendor", XFYETA)
            .set("provider", "aliyun")
            .error(
                "provider",
                "provider `aliyun` is for aliyun, but this task is for xfyeta",
            ),
        case("unknown provider", VOLC)
            .set("provider", "volc-prod")
            .error("provider", "no provider `volc-prod` in callform.yaml"),
        case("a named provider of the right vendor is valid", VOLC).set("provider", "volc-staging"),
        case("a provider block naming no vendor", XFYETA)
            .project_set("providers.prod", "{token: \"${PROD_TOKEN}\"}")
            .error("providers.prod", "does not say which vendor"),
        // Endpoints: https://, or http:// on loopback only.
        case("http:// endpoint that is not loopback", XFYETA)
            .project_set("providers.xfyeta.endpoint", "http://10.0.0.1:8080")
            .error("providers.xfyeta.endpoint", "only allowed for loopback"),
        case("http:// endpoint whose real host follows user info", XFYETA)
            .project_set(
                "providers.xfyeta.endpoint",
                "http://127.0.0.1:80@example.com/",
            )
            .error("providers.xfyeta.endpoint", "invalid endpoint"),
        case("http://localhost and [::1] endpoints are valid", XFYETA)
            .project_set("providers.xfyeta.endpoint", "http://localhost:9000")
            .project_set("providers.aliyun.endpoint", "\"http://[::1]:9000\""),
        case("an endpoint of another scheme", XFYETA)
            .project_set("providers.xfyeta.endpoint", "ftp://www.xfyeta.com")
            .error("providers.xfyeta.endpoint", "must start with https://"),
        case("an unknown key in callform.yaml", XFYETA)
            .project_set("providers.xfyeta.endpiont", "https://www.xfyeta.com")
            .error("providers.xfyeta.endpiont", "unknown field `endpiont`")
            .hint("did you mean `endpoint`?"),
    ]);
}

#[test]
fn a_literal_secret_is_never_echoed_in_any_format() {
    let project = set(PROJECT, "providers.xfyeta.token", CANARY);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "callform.yaml", &project);
    write(dir.path(), "task.yaml", XFYETA);
    for format in ["text", "github", "json"] {
        let (code, stdout, stderr) = run_format(dir.path(), format);
        assert_eq!(code, Some(1), "{format}: {stdout}");
        assert!(stdout.contains("literal"), "{format}: {stdout}");
        assert!(
            !format!("{stdout}{stderr}").contains(CANARY),
            "{format}: {stdout}{stderr}"
        );
    }
}

/// The current UTC wall-clock time as a manifest date-time (`YYYY-MM-DD HH:MM`).
fn utc_wall_clock_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

/// Manifest date-times are wall-clock times in the project timezone: the same text is past
/// in UTC+14 and future in UTC-11.
#[test]
fn the_project_timezone_decides_what_is_past() {
    let task = set(XFYETA, "spec.time_begin", &utc_wall_clock_now());
    for (timezone, past) in [
        (Some("Pacific/Kiritimati"), true),
        (Some("Pacific/Pago_Pago"), false),
        (None, true), // Asia/Shanghai, UTC+8
    ] {
        let project = match timezone {
            Some(tz) => set(PROJECT, "timezone", tz),
            None => remove(PROJECT, "timezone"),
        };
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "callform.yaml", &project);
        write(dir.path(), "task.yaml", &task);
        let run = validate(dir.path());
        let warned = run
            .diagnostics()
            .iter()
            .any(|d| d["field"] == "spec.time_begin" && d["severity"] == "warning");
        assert_eq!(warned, past, "{timezone:?}:\n{}", run.summary());
        assert!(run.errors().is_empty(), "{timezone:?}:\n{}", run.summary());
    }
}

#[test]
fn no_project_file_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "task.yaml", VOLC);
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert!(run.diagnostics().is_empty(), "{}", run.summary());
}

// ---------------------------------------------------------------------------------------
// Robustness: hostile or broken files give an error (or nothing), never a panic or a hang.

fn only_file(name: &str, content: impl AsRef<[u8]>) -> Run {
    let dir = project_dir(&[]);
    write(dir.path(), name, content);
    validate(dir.path())
}

fn single_error(run: &Run) -> &Value {
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.summary());
    errors[0]
}

#[test]
fn empty_and_comment_only_files_hold_no_tasks() {
    for content in [
        "",
        "# only a comment\n# and another\n",
        "---\n...\n---\n",
        "\n\n   \n",
    ] {
        let run = only_file("t.yaml", content);
        assert_eq!(run.code, Some(0), "{content:?}: {}", run.summary());
        // The directory as a whole holds no task: one warning, on the directory.
        let diags = run.diagnostics();
        assert_eq!(diags.len(), 1, "{content:?}: {diags:?}");
        assert!(diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("holds no tasks"));
        assert_eq!(diags[0]["severity"], "warning");
        assert_eq!(run.json["tasks"], 0);
        assert_eq!(run.json["files"], 1);
    }
}

#[test]
fn non_utf8_bytes_are_an_error_with_line_and_column() {
    let run = only_file("t.yaml", b"name: x1\nvendor: \xff\xfexfyeta\n");
    let d = single_error(&run);
    assert!(
        d["message"].as_str().unwrap().contains("not valid UTF-8"),
        "{d}"
    );
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(9)),
        "{d}"
    );
}

#[test]
fn binary_garbage_is_an_error() {
    // Deterministic pseudo-random bytes, and control characters that are valid UTF-8.
    let mut x: u32 = 0x2545_f491;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let run = only_file("garbage.yaml", &bytes);
    assert!(single_error(&run)["line"].as_u64().unwrap() >= 1);
    let run = only_file("control.yaml", "name: \u{1}\u{2}\u{0}\n");
    let d = single_error(&run);
    assert!(
        d["message"].as_str().unwrap().contains("invalid YAML"),
        "{d}"
    );
    assert_eq!(d["line"], 1);
}

#[test]
fn the_top_level_must_be_a_mapping() {
    for (content, found) in [
        ("- name: a\n- name: b\n", "a list"),
        ("just text\n", "a string"),
        ("42\n", "an integer"),
    ] {
        let run = only_file("t.yaml", content);
        let d = single_error(&run);
        assert_eq!(
            d["message"],
            format!("expected a mapping, found {found}"),
            "{d}"
        );
        assert_eq!(d["line"], 1);
    }
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let run = only_file(
        "t.yaml",
        "name: x1\nvendor: xfyeta\nspec:\n  line_num: [\"1\"\n  robot_id: 1\n",
    );
    let d = single_error(&run);
    assert!(
        d["message"].as_str().unwrap().starts_with("invalid YAML"),
        "{d}"
    );
    assert!(d["line"].as_u64().unwrap() >= 4, "{d}");
    // Tabs for indentation.
    let run = only_file("t.yaml", "name: x1\nspec:\n\trobot_id: 1\n");
    assert_eq!(single_error(&run)["line"], 3);
    // A duplicate key names the first.
    let run = only_file("t.yaml", format!("{XFYETA}  recall_count: 2\n"));
    let d = single_error(&run);
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key `recall_count` (first at line 13)"),
        "{d}"
    );
    assert_eq!(d["line"], XFYETA.lines().count() + 1);
}

#[test]
fn deep_nesting_is_refused() {
    // The parser's own limit or callform's: either way an error at a position.
    let flow = "[".repeat(10_000) + &"]".repeat(10_000);
    let run = only_file("t.yaml", &flow);
    let d = single_error(&run);
    assert!(
        d["message"].as_str().unwrap().starts_with("invalid YAML"),
        "{d}"
    );
    assert_eq!(d["line"], 1);
    let flow_maps = format!(
        "name: x1\nvendor: xfyeta\nspec: {}",
        "{a: ".repeat(10_000) + &"}".repeat(10_000)
    );
    let run = only_file("t.yaml", &flow_maps);
    assert!(single_error(&run)["message"]
        .as_str()
        .unwrap()
        .contains("nesting deeper than"));
    let block: String = (0..2_000)
        .map(|i| format!("{}- \n", " ".repeat(i)))
        .collect();
    let run = only_file("t.yaml", &block);
    assert!(single_error(&run)["message"]
        .as_str()
        .unwrap()
        .contains("nesting deeper than"));
}

#[test]
fn alias_bombs_fail_fast() {
    let mut text = String::from("name: x1\nvendor: volcengine\na: &a [\"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\", \"13700000001\"]\n");
    let mut prev = 'a';
    for c in 'b'..='i' {
        text.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        prev = c;
    }
    text.push_str("spec: {phone_list: *i}\n");
    let run = only_file("bomb.yaml", &text);
    let d = single_error(&run);
    assert!(
        d["message"].as_str().unwrap().contains("aliases expand"),
        "{d}"
    );
    // A small alias is read like the text it stands for: here a window that ends before it
    // begins, reported at the alias.
    let text = set(
        VOLC,
        "spec.forbid_time_list",
        "[{times: &w [\"13:30-12:00\"]}, {times: *w}]",
    );
    let run = only_file("t.yaml", &text);
    let fields: Vec<&str> = run
        .errors()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.forbid_time_list[0].times[0]",
            "spec.forbid_time_list[1].times[0]"
        ],
        "{}",
        run.summary()
    );
}

#[test]
fn a_20_mb_manifest_is_refused_quickly() {
    let mut text = String::from("name: big\nvendor: aliyun\nspec:\n  dialog_id: 1\n  callees: [\n");
    while text.len() < 20 * 1024 * 1024 {
        text.push_str("    \"13700000001\", \"13700000002\", \"13700000003\", \"13700000004\",\n");
    }
    text.push_str("  ]\n");
    let run = only_file("big.yaml", &text);
    let d = single_error(&run);
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("callform reads at most"),
        "{d}"
    );
    // A callee file is streamed, with a cap of its own (a sparse file: no disk is used).
    let dir = project_dir(&[(
        "t.yaml",
        &set(&remove(ALIYUN, "callees.numbers"), "callees.file", "n.txt"),
    )]);
    std::fs::File::create(dir.path().join("n.txt"))
        .unwrap()
        .set_len(256 * 1024 * 1024 + 1)
        .unwrap();
    let run = validate(dir.path());
    let d = single_error(&run);
    assert_eq!(d["field"], "callees.file");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("callform reads at most"),
        "{d}"
    );
}

#[test]
fn a_large_manifest_under_the_cap_finishes() {
    // Unknown keys by the thousand: each reported.
    let mut text = String::from("name: wide\nvendor: xfyeta\nspec:\n");
    for i in 0..5_000 {
        text.push_str(&format!("  unknown_{i}: {i}\n"));
    }
    let run = only_file("wide.yaml", &text);
    let unknown = run
        .errors()
        .iter()
        .filter(|d| d["message"].as_str().unwrap().starts_with("unknown field"))
        .count();
    assert_eq!(unknown, 5_000);
    // 300,001 callees (Aliyun takes 300,000 a task): one error about the count.
    let mut text = String::from("name: many\nvendor: aliyun\ncallees:\n  numbers: [\n");
    for i in 0..300_001 {
        text.push_str(&format!("    {},\n", 13_000_000_000u64 + i * 7));
    }
    text.push_str("  ]\nspec: {dialog_id: 1, caller: [\"057100000001\"], number_status_ident: true, retry_type: 0}\n");
    let run = only_file("many.yaml", &text);
    let d = single_error(&run);
    assert_eq!(d["field"], "callees");
    assert!(
        d["message"].as_str().unwrap().contains("300001 rows"),
        "{d}"
    );
}

#[test]
fn wrong_types_everywhere_are_each_reported() {
    let xf = "name: wrong\nvendor: xfyeta\nspec:\n  task_name: [a]\n  line_num: {a: b}\n  robot_id: {}\n  recall_count: \"x\"\n  time_recall_wait: [1]\n  time_range: 5\n  time_begin: 5\n  time_end: [2090-01-01 00:00]\n  voice_code: {a: 1}\n  turbo_mode: \"no\"\n";
    let run = only_file("t.yaml", xf);
    let mut fields: Vec<&str> = run
        .errors()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    let mut want = vec![
        "spec.task_name",
        "spec.line_num",
        "spec.robot_id",
        "spec.recall_count",
        "spec.time_recall_wait",
        "spec.time_range",
        "spec.time_begin",
        "spec.time_end",
        "spec.voice_code",
        "spec.turbo_mode",
    ];
    want.sort_unstable();
    assert_eq!(fields, want, "{}", run.summary());
    // Each vendor's spec as a list, a string, an empty mapping; and a broken envelope.
    for base in [XFYETA, LLL_NEW, LLL_OLD, ALIYUN, VOLC] {
        let vendor = base
            .lines()
            .find_map(|l| l.strip_prefix("vendor: "))
            .unwrap();
        for spec in ["[1, 2]", "text", "{}", "~"] {
            let run = only_file(
                "t.yaml",
                format!("name: w\nvendor: {vendor}\nspec: {spec}\n"),
            );
            assert!(!run.errors().is_empty(), "{vendor} {spec}");
            assert!(
                run.errors()
                    .iter()
                    .all(|d| d["line"] == 3 || d["line"] == 1),
                "{}",
                run.summary()
            );
        }
    }
    let run = only_file(
        "t.yaml",
        "name: [x]\nvendor: 5\nprovider: {}\nlabels: 7\nspec: {}\n",
    );
    let fields: Vec<&str> = run
        .errors()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "vendor", "provider", "labels"],
        "{}",
        run.summary()
    );
}

#[test]
fn a_broken_project_file_is_reported_and_tasks_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "callform.yaml", b"providers: [\xff\n");
    write(
        dir.path(),
        "task.yaml",
        set(XFYETA, "spec.recall_count", "7"),
    );
    let run = validate(dir.path());
    let files: Vec<&str> = run
        .errors()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["callform.yaml", "task.yaml"], "{}", run.summary());
    write(dir.path(), "callform.yaml", "- a\n- b\n");
    let run = validate(dir.path());
    assert_eq!(
        run.errors()[0]["file"],
        "callform.yaml",
        "{}",
        run.summary()
    );
}

// ---------------------------------------------------------------------------------------
// Hostile input files: what a manifest names is read only inside the project, never from
// a special filesystem, never without a bound, and its content is never echoed.

const ENV_CANARY: &str = "sk-ENV-CANARY-4242";

/// callform with `args` in `dir`, the canary in its environment; (exit code, stdout+stderr).
fn run_hostile(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Callform::new()
        .args(args)
        .cwd(dir)
        .env("CALLFORM_TEST_CANARY", ENV_CANARY)
        .timeout(Duration::from_secs(20))
        .run();
    (Some(out.code), format!("{}\n{}", out.stdout, out.stderr))
}

/// Every way of showing diagnostics: validate in each format, and plan.
fn every_output(dir: &Path) -> Vec<(String, Option<i32>, String)> {
    let runs: [&[&str]; 4] = [
        &["validate", ".", "--format", "text"],
        &["validate", ".", "--format", "json"],
        &["validate", ".", "--format", "github"],
        &["plan", "."],
    ];
    runs.iter()
        .map(|args| {
            let (code, text) = run_hostile(dir, args);
            (args.join(" "), code, text)
        })
        .collect()
}

fn aliyun_from_file(path: &str) -> String {
    set(&remove(ALIYUN, "callees.numbers"), "callees.file", path)
}

fn volc_from_file(path: &str) -> String {
    set(&remove(VOLC, "callees.rows"), "callees.file", path)
}

#[cfg(unix)]
#[test]
fn the_environment_is_never_read_through_a_callee_file() {
    for (task, want) in [
        (aliyun_from_file("/proc/self/environ"), "special filesystem"),
        (volc_from_file("/proc/self/environ"), "special filesystem"),
        (aliyun_from_file("/proc/kmsg"), "special filesystem"),
        (
            aliyun_from_file("../../../../../../../../proc/self/environ"),
            "special filesystem",
        ),
    ] {
        let dir = project_dir(&[("task.yaml", &task)]);
        for (run, code, text) in every_output(dir.path()) {
            assert_eq!(code, Some(1), "{run}: {text}");
            assert!(
                !text.contains(ENV_CANARY),
                "{run} leaked the environment: {text}"
            );
            assert!(text.contains(want), "{run}: {text}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_project_is_refused_unless_listed() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "numbers.txt", format!("{ENV_CANARY}\n"));
    write(
        outside.path(),
        "phones.csv",
        format!("phone,{ENV_CANARY}\n"),
    );
    let dir = project_dir(&[
        ("a.yaml", &aliyun_from_file("numbers.txt")),
        ("v.yaml", &volc_from_file("phones.csv")),
    ]);
    std::os::unix::fs::symlink(
        outside.path().join("numbers.txt"),
        dir.path().join("numbers.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("phones.csv"),
        dir.path().join("phones.csv"),
    )
    .unwrap();
    // A manifest that is itself a link out of the project is refused too.
    std::os::unix::fs::symlink(
        outside.path().join("numbers.txt"),
        dir.path().join("x.yaml"),
    )
    .unwrap();
    for (run, code, text) in every_output(dir.path()) {
        assert_eq!(code, Some(1), "{run}: {text}");
        assert!(!text.contains(ENV_CANARY), "{run} echoed the file: {text}");
        assert_eq!(
            text.matches("outside the project directory").count(),
            3,
            "{run}: {text}"
        );
        assert!(text.contains("input_dirs"), "{run}: {text}");
    }
    // Listing the directory in callform.yaml is the deliberate way to widen it.
    write(outside.path(), "numbers.txt", "13700000001\n");
    write(outside.path(), "phones.csv", "phone\n13700000011\n");
    std::fs::remove_file(dir.path().join("x.yaml")).unwrap();
    let listed = format!(
        "input_dirs: [{:?}]\n{PROJECT}",
        outside.path().display().to_string()
    );
    write(dir.path(), "callform.yaml", &listed);
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
    // ... but never a special filesystem.
    write(
        dir.path(),
        "callform.yaml",
        format!("input_dirs: [/proc]\n{PROJECT}"),
    );
    let run = validate(dir.path());
    assert!(
        run.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("special filesystem"),
        "{}",
        run.summary()
    );
}

#[test]
fn a_csv_header_is_not_echoed() {
    let dir = project_dir(&[("v.yaml", &volc_from_file("phones.csv"))]);
    write(
        dir.path(),
        "phones.csv",
        format!("phone,TOKEN={ENV_CANARY}\n13700000011,x\n"),
    );
    for (run, code, text) in every_output(dir.path()) {
        assert_eq!(code, Some(1), "{run}: {text}");
        assert!(!text.contains("CANARY"), "{run}: {text}");
        assert!(
            text.contains("column number 2 is not a column name"),
            "{run}: {text}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_pipe_named_as_a_callee_file_does_not_hang() {
    let dir = project_dir(&[
        ("a.yaml", &aliyun_from_file("numbers.txt")),
        ("v.yaml", &volc_from_file("phones.csv")),
    ]);
    for name in ["numbers.txt", "phones.csv", "pipe.yaml"] {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join(name))
            .status()
            .unwrap();
        assert!(made.success());
    }
    for (run, code, text) in every_output(dir.path()) {
        assert_eq!(code, Some(1), "{run}: {text}");
        assert_eq!(
            text.matches("not a regular file").count(),
            3,
            "{run}: {text}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_dropped_from_every_input() {
    let bom = "\u{feff}";
    let dir = project_dir(&[
        (
            "a.yaml",
            &format!("{bom}{}", aliyun_from_file("numbers.txt")),
        ),
        ("v.yaml", &volc_from_file("phones.csv")),
        ("numbers.txt", &format!("{bom}13700000001\n13700000002\n")),
        ("phones.csv", &format!("{bom}phone,ext\n13700000011,a\n")),
    ]);
    write(dir.path(), "callform.yaml", format!("{bom}{PROJECT}"));
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
}

#[test]
fn invisible_characters_in_messages_are_escaped() {
    let run = check_one(&[(
        "x.yaml",
        &XFYETA.replace("name: xf-base", "name: \"xf\u{200b}base\u{7}\""),
    )]);
    let message = run.errors()[0]["message"].as_str().unwrap();
    assert!(
        message.contains("xf\\u{200b}base\\u{7}"),
        "{}",
        run.summary()
    );
    assert!(!run.output().contains('\u{200b}') && !run.output().contains('\u{7}'));
}

#[test]
fn a_callee_file_named_by_several_tasks_is_counted_once() {
    let second = aliyun_from_file("numbers.txt")
        .replace("ali-base", "ali-second")
        // Vendor-visible names are unique per provider.
        .replace("task_name: 欠费提醒", "task_name: 欠费提醒二");
    let dir = project_dir(&[
        ("a.yaml", &aliyun_from_file("numbers.txt")),
        ("b.yaml", &second),
        ("numbers.txt", "13700000001\n"),
    ]);
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(
        (run.json["tasks"].as_u64(), run.json["files"].as_u64()),
        (Some(2), Some(3))
    );
    let (_, text) = run_hostile(dir.path(), &["validate", "."]);
    assert!(text.contains("2 task(s) in 3 file(s) are valid"), "{text}");
}

#[test]
fn callforms_own_files_in_the_manifest_directory_are_skipped() {
    let state = r#"{
  "format_version": 1,
  "lineage": "0123456789abcdef0123456789abcdef",
  "serial": 1,
  "salt": "0123456789abcdef0123456789abcdef",
  "tasks": {}
}
"#;
    let dir = project_dir(&[("task.yaml", XFYETA), ("state.yaml", state)]);
    write(
        dir.path(),
        "callform.yaml",
        format!("state: state.yaml\n{PROJECT}"),
    );
    write(
        dir.path(),
        "plan.yaml",
        "{\"format_version\": 1, \"tasks\": [\n",
    );
    write(
        dir.path(),
        "journal.yml",
        "{\"op\":\"intent\",\"name\":\"x\"}\n",
    );
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert_eq!(run.json["tasks"], 1);
    let skipped = run
        .diagnostics()
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .starts_with("skipped: this is a file callform writes")
        })
        .count();
    assert_eq!(skipped, 3, "{}", run.summary());
    let (code, text) = run_hostile(dir.path(), &["plan", "."]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn date_times_the_project_timezone_skips_or_repeats_are_caught() {
    // America/New_York skips 02:00–03:00 on 2090-03-12 and repeats 01:00–02:00 on 2090-11-05.
    let ny = PROJECT.replace("timezone: Asia/Shanghai", "timezone: America/New_York");
    let cases = [
        (
            XFYETA.replace(
                "time_begin: 2090-01-04 09:00",
                "time_begin: 2090-03-12 02:30",
            ),
            "spec.time_begin",
        ),
        (
            XFYETA.replace(
                "time_end: 2090-03-31 20:00:30",
                "time_end: 2090-03-12 02:00",
            ),
            "spec.time_end",
        ),
        (
            VOLC.replace("end_time: 2090-01-31 18:00", "end_time: 2090-03-12 02:59"),
            "spec.end_time",
        ),
        (
            LLL_NEW.replace(
                "stop_time: 2090-02-28 18:00:00",
                "stop_time: 2090-03-12 02:15:00",
            ),
            "spec.task_extras.stop_time",
        ),
        (
            LLL_NEW
                .replace("end: 2090-02-17 23:59", "end: 2090-03-12 02:10")
                .replace("stop_time: 2090-02-28", "stop_time: 2090-04-28"),
            "spec.task_extras.holiday[0].end",
        ),
    ];
    for (task, field) in cases {
        let dir = project_dir(&[("task.yaml", &task)]);
        write(dir.path(), "callform.yaml", &ny);
        let run = validate(dir.path());
        let errors = run.errors();
        assert_eq!(errors.len(), 1, "{field}: {}", run.summary());
        assert_eq!(errors[0]["field"], field, "{}", run.summary());
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("does not exist in America/New_York"),
            "{}",
            run.summary()
        );
        assert!(errors[0]["line"].as_u64().unwrap() > 1, "{}", run.summary());
        assert!(errors[0]["hint"].as_str().is_some());
        let (code, text) = run_hostile(dir.path(), &["plan", ".", "--show-requests"]);
        assert_eq!(code, Some(1), "{text}");
    }
    // A repeated hour is a warning: the first of the two instants is used.
    let dir = project_dir(&[(
        "task.yaml",
        &XFYETA.replace(
            "time_end: 2090-03-31 20:00:30",
            "time_end: 2090-11-05 01:30",
        ),
    )]);
    write(dir.path(), "callform.yaml", &ny);
    let run = validate(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.summary());
    assert!(
        run.diagnostics().iter().any(|d| d["severity"] == "warning"
            && d["field"] == "spec.time_end"
            && d["message"].as_str().unwrap().contains("happens twice")),
        "{}",
        run.summary()
    );
}

#[test]
fn a_task_name_holding_a_number_is_refused() {
    let run = check_one(&[(
        "x.yaml",
        &XFYETA.replace("name: xf-base", "name: call-13912345678"),
    )]);
    assert_eq!(run.errors().len(), 1, "{}", run.summary());
    assert_eq!(run.errors()[0]["field"], "name");
    assert!(!run.output().contains("13912345678"));
    let run = check_one(&[(
        "x.yaml",
        &XFYETA.replace("name: xf-base", "name: renewal-2027q1-batch-2"),
    )]);
    assert_eq!(run.code, Some(0), "{}", run.summary());
}

// ---------------------------------------------------------------------------------------
// Every problem in one run, as the README says: no problem hides behind another, and no
// follow-on message says something untrue.

/// The field of each error, in order.
fn error_fields(run: &Run) -> Vec<String> {
    run.errors()
        .iter()
        .map(|d| d["field"].as_str().unwrap_or("-").to_string())
        .collect()
}

#[test]
fn every_missing_required_field_in_one_run() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "xfyeta",
            &[
                "spec.line_num",
                "spec.robot_id",
                "spec.time_range",
                "spec.time_begin",
            ],
        ),
        (
            "volcengine",
            &[
                "spec.resource",
                "spec.number_pool_no",
                "spec.start_time",
                "spec.end_time",
                "spec.concurrency",
                // Not missing from the struct but from the rules: still in the same run.
                "callees",
            ],
        ),
        (
            "longlonglong",
            &[
                "spec.destination_extension",
                "spec.dial_time_id",
                "spec.maximumcall",
                "spec.task_extras",
            ],
        ),
        (
            "aliyun",
            &[
                "spec.dialog_id",
                "spec.caller",
                "spec.number_status_ident",
                "spec.retry_type",
                "callees",
            ],
        ),
    ];
    for (vendor, want) in cases {
        let task = format!("name: t-{vendor}\nvendor: {vendor}\nspec: {{}}\n");
        let run = check_one(&[("task.yaml", &task)]);
        let mut got = error_fields(&run);
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{vendor}:\n{}", run.summary());
    }
    // A required field of a nested mapping, and the envelope's own.
    let task = remove(
        &remove(LLL_OLD, "spec.task_extras.start_time"),
        "spec.task_extras.stop_time",
    );
    let run = check_one(&[("task.yaml", &task)]);
    assert_eq!(
        error_fields(&run),
        ["spec.task_extras.start_time", "spec.task_extras.stop_time"],
        "{}",
        run.summary()
    );
    let run = check_one(&[("task.yaml", "labels: {team: qa}\n")]);
    assert_eq!(
        error_fields(&run),
        ["name", "vendor", "spec"],
        "{}",
        run.summary()
    );
}

#[test]
fn a_type_error_does_not_hide_the_other_fields_problems() {
    let task = set(XFYETA, "spec.recall_count", "\"x\"");
    let task = set(&task, "spec.time_recall_wait", "-5");
    let task = set(&task, "spec.time_range", "[\"12:00:00-09:00:00\"]");
    let run = check_one(&[("task.yaml", &task)]);
    assert_eq!(
        error_fields(&run),
        [
            "spec.recall_count",
            "spec.time_recall_wait",
            "spec.time_range[0]",
        ],
        "{}",
        run.summary()
    );
    // No follow-on judged by the field that could not be read ("time_recall_wait has no
    // effect without redials": recall_count may well be 1).
    assert!(
        run.diagnostics().iter().all(|d| d["severity"] == "error"),
        "{}",
        run.summary()
    );

    // A required field of the wrong type: the others are still judged.
    let task = set(XFYETA, "spec.robot_id", "[11]");
    let task = set(&task, "spec.recall_count", "7");
    let task = set(&task, "spec.time_end", "2090-01-01 09:00");
    let run = check_one(&[("task.yaml", &task)]);
    assert_eq!(
        error_fields(&run),
        ["spec.robot_id", "spec.recall_count", "spec.time_end"],
        "{}",
        run.summary()
    );
    // A date-time that does not parse, and a window, in one task of another vendor.
    let task = set(VOLC, "spec.start_time", "2090-13-01 09:00");
    let task = set(&task, "spec.concurrency", "0");
    let task = set(&task, "spec.ring_again_times", "9");
    let run = check_one(&[("task.yaml", &task)]);
    let fields = error_fields(&run);
    for want in [
        "spec.start_time",
        "spec.concurrency",
        "spec.ring_again_times",
    ] {
        assert!(
            fields.contains(&want.to_string()),
            "{want}:\n{}",
            run.summary()
        );
    }
    // The end is not judged against a start that could not be read.
    assert!(
        !fields.contains(&"spec.end_time".to_string()),
        "{}",
        run.summary()
    );
}

#[test]
fn every_bad_row_of_a_callee_file_in_one_run() {
    // A malformed row does not stop the other rows from being checked.
    let csv = "phone,tts_content,ext\n\
               13700000011,您好,a\n\
               137000001,您好,b\n\
               13700000012\n\
               1370000001,您好,c\n\
               13700000011,您好,d\n";
    let dir = project_dir(&[
        ("task.yaml", &volc_from_file("phones.csv")),
        ("phones.csv", csv),
    ]);
    let run = validate(dir.path());
    let at: Vec<(String, u64, String)> = run
        .diagnostics()
        .iter()
        .map(|d| {
            (
                d["severity"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let lines: Vec<(&str, u64)> = at.iter().map(|(s, l, _)| (s.as_str(), *l)).collect();
    assert_eq!(
        lines,
        [("error", 3), ("error", 4), ("error", 5), ("error", 6)],
        "{}",
        run.summary()
    );
    assert!(at[1].2.contains("a row has 1 fields"), "{}", run.summary());
    assert!(at[3].2.contains("repeats line 2"), "{}", run.summary());

    // Many bad rows: every row is checked, the first 20 of them shown, then a count.
    let mut txt = String::new();
    for i in 0..25 {
        txt.push_str(&format!("137000{i:04}\n"));
    }
    txt.push_str("13700000011\n");
    let dir = project_dir(&[
        ("task.yaml", &aliyun_from_file("numbers.txt")),
        ("numbers.txt", &txt),
    ]);
    let run = validate(dir.path());
    let errors = run.errors();
    assert_eq!(errors.len(), 21, "{}", run.summary());
    assert!(errors[..20].iter().all(|d| d["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid phone number")));
    let last = errors[20]["message"].as_str().unwrap();
    assert!(
        last.contains("5 more rows with errors") && last.contains("25 in all"),
        "{last}"
    );
}

#[test]
fn callform_yaml_reports_every_problem_at_once_with_the_manifests() {
    let project = r#"timezone: Mars/Olympus
stat: other.state.json
providers:
  aliyun-sh:
    access_key_id: "${SH_ID}"
    access_key_secret: literal-not-a-reference
  aliyun-bj:
    vendor: alyun
    access_key_id: "${BJ_ID}"
  xfyeta: {token: "${XFYETA_TOKEN}", endpoint: "http://example.com", parallelism: "x"}
"#;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "callform.yaml", project);
    let sh = set(ALIYUN, "provider", "aliyun-sh");
    let sh = set(&sh, "spec.retry_type", "5");
    let bj = set(&set(ALIYUN, "name", "ali-bj"), "provider", "aliyun-bj");
    write(dir.path(), "sh.yaml", &sh);
    write(dir.path(), "bj.yaml", &bj);
    let run = validate(dir.path());
    let mut project_fields: Vec<String> = run
        .errors()
        .iter()
        .filter(|d| d["file"] == "callform.yaml")
        .map(|d| d["field"].as_str().unwrap_or("-").to_string())
        .collect();
    project_fields.sort();
    assert_eq!(
        project_fields,
        [
            "providers.aliyun-bj.vendor",
            "providers.aliyun-sh",
            "providers.aliyun-sh.access_key_secret",
            "providers.xfyeta.endpoint",
            "providers.xfyeta.parallelism",
            "stat",
            "timezone",
        ],
        "{}",
        run.summary()
    );
    // The manifests are checked in the same run.
    assert!(
        run.errors()
            .iter()
            .any(|d| d["file"] == "sh.yaml" && d["field"] == "spec.retry_type"),
        "{}",
        run.summary()
    );
    // The blocks exist: no task is told they are missing, and a block's vendor that could
    // not be read is not reported again as not given.
    let all = run.output();
    assert!(!all.contains("no provider"), "{}", run.summary());
    assert!(
        !all.contains("`aliyun-bj` does not say which vendor"),
        "{}",
        run.summary()
    );
}

// ---------------------------------------------------------------------------------------
// Personal data in source excerpts, and what the messages about numbers say.

/// Invalid numbers, one digit or more short, that no output may show.
const INVALID_NUMBERS: [&str; 3] = ["1379876543", "137987654", "13798765"];

fn with_invalid_numbers(dir: &Path) {
    let flow = set(
        ALIYUN,
        "callees.numbers",
        &format!(
            "[\"{}\", \"{}\", {}]",
            INVALID_NUMBERS[0], INVALID_NUMBERS[1], INVALID_NUMBERS[2]
        ),
    );
    write(dir, "flow.yaml", flow);
    let block = set(
        &set(ALIYUN, "name", "ali-block"),
        "callees.numbers",
        &format!(
            "\n    - \"{}\"\n    - {}\n    - \"137 9876 54\"",
            INVALID_NUMBERS[0], INVALID_NUMBERS[1]
        ),
    );
    write(dir, "block.yaml", block);
    // Wide characters before the number on its line.
    let volc = set(
        VOLC,
        "callees.rows",
        &format!(
            "[{{tts_content: 您好您好, phone: \"{}\"}}, {{phone: \"{}\"}}]",
            INVALID_NUMBERS[0], INVALID_NUMBERS[2]
        ),
    );
    write(dir, "volc.yaml", volc);
    write(
        dir,
        "file.yaml",
        set(&aliyun_from_file("numbers.txt"), "name", "ali-file"),
    );
    write(dir, "numbers.txt", INVALID_NUMBERS.join("\n"));
}

#[test]
fn an_invalid_number_never_shows_in_any_output() {
    let dir = project_dir(&[]);
    with_invalid_numbers(dir.path());
    let runs: [&[&str]; 6] = [
        &["validate", "."],
        &["validate", ".", "--format", "json"],
        &["validate", ".", "--format", "github"],
        &["plan", "."],
        &["plan", ".", "--format", "json"],
        &["plan", ".", "--format", "markdown"],
    ];
    for terminal in [false, true] {
        for args in runs {
            let mut cmd = Callform::new().args(args).cwd(dir.path());
            if terminal {
                cmd = cmd.terminal();
            }
            let out = cmd.run();
            assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
            let all = format!("{}{}", out.stdout, out.stderr);
            assert!(all.contains("invalid phone number"), "{args:?}: {all}");
            for n in INVALID_NUMBERS {
                assert!(
                    !all.contains(n),
                    "{n} shown by {args:?} (terminal: {terminal}):\n{all}"
                );
            }
            assert!(!all.contains("137 9876 54"), "{args:?}: {all}");
            if terminal && args == ["validate", "."] {
                assert!(all.contains(" | "), "no excerpt at a terminal: {all}");
            }
        }
    }
}

/// At a terminal, each caret stands under the first character of the value its
/// diagnostic points at: the JSON column, counted in display width on the excerpt line.
#[test]
fn the_caret_stands_under_the_value_on_a_masked_line() {
    use unicode_width::UnicodeWidthStr;
    let dir = project_dir(&[]);
    with_invalid_numbers(dir.path());
    let run = validate(dir.path());
    let out = Callform::new()
        .args(["validate", "."])
        .cwd(dir.path())
        .terminal()
        .run();
    let blocks: Vec<&str> = out.stdout.split("\n\n").collect();
    let mut checked = 0;
    for d in run.diagnostics() {
        if d["file"] == "numbers.txt" || d["line"] == 0 {
            continue;
        }
        let location = format!(
            "--> {}:{}:{}\n",
            d["file"].as_str().unwrap(),
            d["line"],
            d["column"]
        );
        let block = blocks
            .iter()
            .find(|b| b.contains(&location) && b.contains(d["message"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("no excerpt for {location}:\n{}", out.stdout));
        let lines: Vec<&str> = block.lines().collect();
        let prefix = format!("{} | ", d["line"]);
        // A manifest with inline callee rows holds names in clear: it is never quoted.
        let text = std::fs::read_to_string(dir.path().join(d["file"].as_str().unwrap())).unwrap();
        if text.contains("rows:") {
            assert!(
                !lines.iter().any(|l| l.starts_with(&prefix)),
                "quoted: {block}"
            );
            continue;
        }
        let at = lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no source line in {block}"));
        let source = &lines[at][prefix.len()..];
        let caret_line = lines[at + 1];
        let caret = caret_line.find('^').unwrap() - (caret_line.find('|').unwrap() + 2);
        let column = d["column"].as_u64().unwrap() as usize;
        let before: String = source.chars().take(column - 1).collect();
        assert_eq!(caret, before.width(), "caret misplaced in:\n{block}");
        // And what it points at is the masked value, not a leaked digit.
        let under: String = source.chars().skip(column - 1).take(3).collect();
        assert!(
            !under.chars().any(|c| c.is_ascii_digit()) || d["severity"] == "warning",
            "{under:?} under the caret in:\n{block}"
        );
        checked += 1;
    }
    assert!(checked >= 6, "{}", out.stdout);
}

/// `expected:` says what is wanted, the message what was found.
#[test]
fn number_messages_say_what_was_found_and_what_is_wanted() {
    let dir = project_dir(&[]);
    with_invalid_numbers(dir.path());
    let line = set(XFYETA, "spec.line_num", "[\"05516910\", \"0551x1407\"]");
    write(dir.path(), "line.yaml", line);
    let run = validate(dir.path());
    let mut seen = 0;
    for d in run.errors() {
        let message = d["message"].as_str().unwrap();
        let expected = d["expected"].as_str().unwrap_or("");
        if !message.starts_with("invalid") {
            continue;
        }
        seen += 1;
        assert!(
            expected.starts_with("a mainland number") || expected.starts_with("a calling line"),
            "{message} / {expected}"
        );
        assert!(message.contains(": it "), "{message}");
    }
    assert!(seen >= 8, "{}", run.summary());
    // No `expected:` anywhere says what is wrong, or nests another "expected".
    for d in run.diagnostics() {
        let expected = d["expected"].as_str().unwrap_or("");
        assert!(
            !expected.starts_with("not ") && !expected.contains("expected"),
            "{d}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Hints that work when followed, and annotation paths a pull request can show.

#[test]
fn yaml_1_1_booleans_get_advice_that_works() {
    let hint_of = |task: &str, field: &str| -> String {
        let run = check_one(&[("task.yaml", task)]);
        let d = run
            .errors()
            .into_iter()
            .find(|d| d["field"] == field)
            .unwrap_or_else(|| panic!("no error at {field}: {}", run.summary()))
            .clone();
        d["hint"].as_str().unwrap_or("").to_string()
    };
    for word in ["yes", "no", "on", "off"] {
        let hint = hint_of(&set(XFYETA, "spec.turbo_mode", word), "spec.turbo_mode");
        assert!(
            hint.starts_with("write `true` or `false`"),
            "{word}: {hint}"
        );
        assert!(!hint.contains("without quotes"), "{word}: {hint}");
    }
    let hint = hint_of(&set(XFYETA, "spec.voice_code", "true"), "spec.voice_code");
    assert!(hint.starts_with("put it in quotes"), "{hint}");
    let hint = hint_of(
        &set(XFYETA, "spec.turbo_mode", "\"false\""),
        "spec.turbo_mode",
    );
    assert!(hint.contains("without quotes"), "{hint}");
    // Text that is no integer, quoted or not, gets no advice to drop the quotes.
    let hint = hint_of(
        &set(XFYETA, "spec.recall_count", "\"x\""),
        "spec.recall_count",
    );
    assert!(!hint.contains("without quotes"), "{hint}");
}

#[test]
fn github_annotations_name_files_from_the_repository_root() {
    let repo = tempfile::tempdir().unwrap();
    write(repo.path(), "callform.yaml", PROJECT);
    write(
        repo.path(),
        "deploy/tasks/task.yaml",
        set(XFYETA, "spec.recall_count", "7"),
    );
    let files = |cwd: &Path, dir: &str, workspace: Option<&Path>| -> Vec<String> {
        let mut cmd = Callform::new()
            .args(["validate", dir, "--format", "github"])
            .cwd(cwd);
        if let Some(ws) = workspace {
            cmd = cmd.env("GITHUB_WORKSPACE", ws);
        }
        let out = cmd.run();
        assert_eq!(out.code, 1, "{}", out.stdout);
        out.stdout
            .lines()
            .filter_map(|l| l.split("file=").nth(1)?.split(',').next())
            .map(str::to_string)
            .collect()
    };
    let deploy = repo.path().join("deploy");
    // Outside any repository: relative to the current directory, as before.
    assert_eq!(files(&deploy, "tasks", None), ["tasks/task.yaml"]);
    // In a git checkout: from its root, wherever callform runs.
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    assert_eq!(files(&deploy, "tasks", None), ["deploy/tasks/task.yaml"]);
    assert_eq!(
        files(&deploy.join("tasks"), ".", None),
        ["deploy/tasks/task.yaml"]
    );
    // GITHUB_WORKSPACE wins when the files lie in it.
    assert_eq!(files(&deploy, "tasks", Some(&deploy)), ["tasks/task.yaml"]);
    assert_eq!(
        files(&deploy, "tasks", Some(repo.path())),
        ["deploy/tasks/task.yaml"]
    );
}

/// One diagnostic in full, as a user reads it: where (file:line, task, field), what,
/// what was expected, and what to do.
fn in_full(d: &Value) -> String {
    let text = |k: &str| d[k].as_str().unwrap_or("-").to_string();
    format!(
        "{}:{} [{}] {}: {} | expected: {} | hint: {}",
        text("file"),
        d["line"],
        text("task"),
        text("field"),
        text("message"),
        text("expected"),
        text("hint"),
    )
}

/// The only error of `run` whose message contains `part`, in full.
fn error_in_full(run: &Run, part: &str) -> String {
    let found: Vec<&Value> = run
        .errors()
        .into_iter()
        .filter(|d| d["message"].as_str().unwrap_or("").contains(part))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one error with {part:?}:\n{}",
        run.summary()
    );
    in_full(found[0])
}

fn xfyeta_from_file(path: &str) -> String {
    set(&remove(XFYETA, "callees.rows"), "callees.file", path)
}

/// Item: xfyeta's `call_column` is the number's label (default `客户手机号码`), then the
/// variables: a variable of that name was sent twice in one `call_column`.
#[test]
fn an_xfyeta_variable_named_as_the_default_phone_column_is_refused() {
    let csv = "phone,客户手机号码\n13700000001,a\n13700000002,b\n13700000003,c\n";
    let run = check_one(&[("task.yaml", &xfyeta_from_file("c.csv")), ("c.csv", csv)]);
    assert_eq!(
        error_in_full(&run, "客户手机号码"),
        "task.yaml:4 [xf-base] callees: the callee column `客户手机号码` is also the label xfyeta's `call_column` gives the number (spec.phone_column's default) | expected: variables named otherwise than the number's label `客户手机号码` | hint: rename the variable (in the callee file's header and in `variables`), or set spec.phone_column to the label the robot's template gives the number"
    );
    // Inline rows the same.
    let rows = XFYETA.replace("客户姓名", "客户手机号码");
    let run = check_one(&[("task.yaml", &rows)]);
    assert!(
        error_in_full(&run, "客户手机号码").starts_with("task.yaml:4 [xf-base] callees: "),
        "{}",
        run.summary()
    );
    // The ways out: another label for the number, or another name for the variable.
    let labelled = set(&xfyeta_from_file("c.csv"), "spec.phone_column", "手机号");
    let run = check_one(&[("task.yaml", &labelled), ("c.csv", csv)]);
    assert!(run.errors().is_empty(), "{}", run.summary());
    let renamed = csv.replace("客户手机号码", "客户姓名");
    let run = check_one(&[
        ("task.yaml", &xfyeta_from_file("c.csv")),
        ("c.csv", &renamed),
    ]);
    assert!(run.errors().is_empty(), "{}", run.summary());
    // Set to the default explicitly: the same clash, said of the field.
    let explicit = set(
        &xfyeta_from_file("c.csv"),
        "spec.phone_column",
        "客户手机号码",
    );
    let run = check_one(&[("task.yaml", &explicit), ("c.csv", csv)]);
    assert!(
        error_in_full(&run, "phone_column is also").contains("[xf-base] spec.phone_column: "),
        "{}",
        run.summary()
    );
}

/// Item: callee messages without a place, an expectation or a hint. One of each family,
/// in full.
#[test]
fn callee_messages_say_where_what_was_expected_and_what_to_do() {
    let xf = |csv: &str| check_one(&[("task.yaml", &xfyeta_from_file("c.csv")), ("c.csv", csv)]);
    let volc = |csv: &str| check_one(&[("task.yaml", &volc_from_file("c.csv")), ("c.csv", csv)]);
    let mut shown = Vec::new();
    // The file.
    let run = check_one(&[("task.yaml", &xfyeta_from_file("missing.csv"))]);
    shown.push(error_in_full(&run, "missing.csv"));
    let run = xf("");
    shown.push(error_in_full(&run, "empty"));
    // The header.
    let run = xf("number,客户姓名\n13700000001,a\n");
    shown.push(error_in_full(&run, "no `phone` column"));
    let run = xf("客户姓名,phone,客户姓名\n a,13700000001,b\n");
    shown.push(error_in_full(&run, "named twice"));
    let declared = set(
        &xfyeta_from_file("c.csv"),
        "callees.variables",
        "[客户姓名, 到期日]",
    );
    let run = check_one(&[
        ("task.yaml", &declared),
        ("c.csv", "phone,客户姓名\n13700000001,a\n"),
    ]);
    shown.push(error_in_full(&run, "declared in `variables`"));
    let declared = set(
        &xfyeta_from_file("c.csv"),
        "callees.variables",
        "[客户姓名, phone]",
    );
    let run = check_one(&[
        ("task.yaml", &declared),
        ("c.csv", "phone,客户姓名\n13700000001,a\n"),
    ]);
    shown.push(error_in_full(&run, "variables: `phone`"));
    // The rows.
    let run = xf("phone,客户姓名\n13700000001,a\n13700000002\n13700000003,c\n");
    shown.push(error_in_full(&run, "fields where"));
    let run = xf("phone,客户姓名\n13700000001,a\n1370000000,b\n13700000003,c\n");
    shown.push(error_in_full(&run, "invalid phone number"));
    let run = xf("phone,客户姓名\n13700000001,a\n055169101407,b\n13700000003,c\n");
    shown.push(error_in_full(&run, "fixed line"));
    let run = xf("phone,客户姓名\n13700000001,a\n13700000002,b\n13700000001,c\n");
    shown.push(error_in_full(&run, "repeats"));
    let run = xf("phone,客户姓名\n13700000001,a\n13700000002,\"b\tc\"\n13700000003,c\n");
    shown.push(error_in_full(&run, "control character"));
    let dir = project_dir(&[("task.yaml", &xfyeta_from_file("c.csv"))]);
    write(
        dir.path(),
        "c.csv",
        &b"phone,name\n13700000001,a\n13700000002,\xff\n13700000003,c\n"[..],
    );
    let run = validate(dir.path());
    shown.push(error_in_full(&run, "UTF-8"));
    let long = "长".repeat(251);
    let run = volc(&format!(
        "phone,tts_content\n13700000001,a\n13700000002,{long}\n13700000003,c\n"
    ));
    shown.push(error_in_full(&run, "TtsContent"));
    // The count.
    let run = check_one(&[
        ("task.yaml", &volc_from_file("c.csv")),
        ("c.csv", "phone\n"),
    ]);
    shown.push(error_in_full(&run, "at least"));
    let many: String = (0..25)
        .map(|i| format!("1370000{i:04},a\n13700001{i:03},b\n"))
        .collect();
    let run = xf(&format!(
        "phone,客户姓名\n{}",
        many.replace("13700001", "1370001")
    ));
    shown.push(error_in_full(&run, "more rows with errors"));
    let want = [
        "task.yaml:5 [xf-base] callees.file: missing.csv: cannot read the file: No such file or directory (os error 2) | expected: a UTF-8 file inside the project, relative to the manifest: `*.csv` with a header row naming `phone`, or one number a line | hint: check the path: it is relative to the manifest that names it",
        "task.yaml:5 [xf-base] callees.file: c.csv: the file is empty: a CSV callee file starts with a header row | expected: a UTF-8 file inside the project, relative to the manifest: `*.csv` with a header row naming `phone`, or one number a line | hint: write a first line naming the columns, such as `phone,客户姓名`, then one callee a line",
        "c.csv:1 [xf-base] callees.file: the CSV file has no `phone` column | expected: a header row naming `phone` and the script's variables | hint: add a first line such as `phone,客户姓名`",
        "c.csv:1 [xf-base] callees.file: column `客户姓名` is named twice (column number 1 and column number 3) | expected: each column named once | hint: rename or remove column number 3",
        "c.csv:1 [xf-base] callees.file: `到期日` is declared in `variables` but the callees have no such column | expected: the header (or each row) names exactly the declared variables besides `phone` | hint: add the column, or remove it from `variables`",
        "task.yaml:6 [xf-base] callees.variables[1]: variables: `phone` is the number's column, not a variable | expected: `[A-Za-z_` or a Chinese character`][A-Za-z0-9_.-` or Chinese`]`, at most 40 characters, each once, not `phone` | hint: remove `phone` from `variables`: the number is always sent",
        "c.csv:3 [xf-base] callees.file: a row has 1 fields where the header has 2 | expected: every row has every column (leave a value empty, not out) | hint: add the missing values (empty between commas) or remove the extra ones; a value holding a comma is written in double quotes",
        "c.csv:3 [xf-base] callees.file: invalid phone number 137****0000: it has 10 digits; a mobile number has 11 | expected: a mainland number: a mobile (11 digits starting 13–19) or a fixed line (0 and 9–11 more digits); `+86`, spaces and dashes are removed first | hint: correct the number (digits only; spaces, dashes and +86 are removed), or remove the row",
        "c.csv:3 [xf-base] callees.file: 055****1407 is a fixed line; this vendor calls mobile numbers only | expected: a mobile number (11 digits starting 13–19) | hint: remove the row, or give this callee to a task of a vendor that calls fixed lines",
        "c.csv:4 [xf-base] callees.file: number 137****0001 repeats line 2: a person would be called twice | expected: each number once in a task | hint: remove one of them",
        "c.csv:3 [xf-base] callees.file: the value of `客户姓名` holds a control character (a tab, a line break…) | expected: text on one line, without tabs or other control characters | hint: remove the control character from the `客户姓名` value of this row",
        "c.csv:3 [xf-base] callees.file: the row is not valid UTF-8 text | expected: UTF-8 CSV, one callee a line | hint: save the file as UTF-8 and fix this row: a value holding a comma, a quote or a line break is written in double quotes, a quote in it doubled",
        "c.csv:3 [volc-base] callees.file: tts_content is 251 characters long; TtsContent takes at most 250 | expected: a row within the vendor's limits on one callee | hint: shorten this row's values, or leave out a variable the script does not use",
        "task.yaml:4 [volc-base] callees: callees: 0 rows; this vendor needs at least 1 | expected: 1 to 1000000 callees | hint: add the callees to the list: this vendor refuses a task that has nobody to call",
        "c.csv:41 [xf-base] callees.file: and 5 more rows with errors in this callee list after line 41 (25 in all; the first 20 are shown) | expected: every row valid, as for the rows shown | hint: every row was checked; the rest are of the same kinds as those shown",
    ];
    assert_eq!(shown.len(), want.len());
    for (got, want) in shown.iter().zip(want) {
        assert_eq!(got, want);
    }
}
