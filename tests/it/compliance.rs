//! The compliance policy as a user meets it: `policy:` in callform.yaml, the preset when
//! there is none, each vendor's window fields judged against the calling hours (a New York
//! callee across a daylight-saving change among them), purposes and consent, exceptions in
//! every rendering, errors that stop plan and apply, and warnings that do not.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{self, Callform, Output as Run};

/// The examples' callee numbers: no output of these runs may show one.
const NUMBERS: [&str; 4] = ["13700000001", "13700000004", "13700000011", "13700000013"];

/// A copy of the examples with task names prefixed (their own at the shared emulator),
/// `policy` appended to callform.yaml, and each `(file, from, to)` edit made.
fn project(
    prefix: &str,
    policy: &str,
    edits: &[(&str, &str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let (tmp, tasks, _) = harness::examples();
    harness::rename_tasks(&tasks, prefix);
    let yaml = tmp.path().join("callform.yaml");
    let mut text = std::fs::read_to_string(&yaml).unwrap();
    text.push_str(policy);
    std::fs::write(&yaml, text).unwrap();
    for (file, from, to) in edits {
        edit(&tasks.join(file), from, to);
    }
    (tmp, tasks)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn run(args: &[&str], tasks: &Path) -> Run {
    let run = Callform::new().args(args).dir(tasks).emulator().run();
    for n in NUMBERS {
        assert!(
            !run.stdout.contains(n) && !run.stderr.contains(n),
            "a number leaked: {}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

/// The plan's compliance findings.
fn findings(tasks: &Path) -> Vec<Value> {
    let plan = run(&["plan", "--format", "json"], tasks);
    json(&plan)["compliance"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `validate --format json`'s diagnostics.
fn diagnostics(tasks: &Path) -> (i32, Vec<Value>) {
    let v = run(&["validate", "--format", "json"], tasks);
    let doc = json(&v);
    (
        v.code,
        doc["diagnostics"].as_array().cloned().unwrap_or_default(),
    )
}

/// The line of `needle` in `file` (1-based).
fn line_of(file: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{} has no `{needle}`", file.display()))
        + 1
}

const XF: &str = "xfyeta/renewal-reminder.yaml";
const EVENING: (&str, &str, &str) = (XF, "\"13:30:00-20:00:00\"", "\"13:30:00-22:00:00\"");

#[test]
fn the_preset_warns_of_an_xfyeta_window_past_nine_and_the_plan_goes_on() {
    let (_tmp, tasks) = project("cp1-", "", &[EVENING]);
    let plan = run(&["plan"], &tasks);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("Compliance:"), "{}", plan.stdout);
    assert!(plan.stdout.contains("policy: preset"), "{}", plan.stdout);
    let f = findings(&tasks);
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    assert_eq!(f["rule"], "calling_hours");
    assert_eq!(f["severity"], "warn");
    assert_eq!(f["task"], "cp1-renewal-reminder-2027q1");
    assert_eq!(f["field"], "spec.time_range[1]");
    let line = line_of(&tasks.join(XF), "13:30:00-22:00:00");
    assert!(
        f["place"]
            .as_str()
            .unwrap()
            .ends_with(&format!("renewal-reminder.yaml:{line}")),
        "{f}"
    );
    let message = f["message"].as_str().unwrap();
    // 4 January 2027 to 30 March: every day's 21:00–22:00 in Beijing (the task ends on
    // 31 March at 20:00).
    assert!(message.contains("Mon 2027-01-04 21:00–22:00"), "{message}");
    assert_eq!(f["count"], 86, "{f}");
    // validate shows it as a warning, and passes.
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 0);
    assert!(
        diags.iter().any(|d| d["severity"] == "warning"
            && d["field"] == "spec.time_range[1]"
            && d["line"] == line),
        "{diags:?}"
    );
}

#[test]
fn an_error_rule_stops_validate_plan_and_apply_before_anything_is_sent() {
    let policy = "policy:\n  rules:\n    calling_hours: error\n";
    let (_tmp, tasks) = project("cp2-", policy, &[EVENING]);
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 1);
    let errors: Vec<&Value> = diags.iter().filter(|d| d["severity"] == "error").collect();
    assert_eq!(errors.len(), 1, "{diags:?}");
    assert_eq!(errors[0]["field"], "spec.time_range[1]");
    assert_eq!(errors[0]["task"], "cp2-renewal-reminder-2027q1");
    let plan = run(&["plan"], &tasks);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stderr.contains("[calling_hours]"), "{}", plan.stderr);
    let apply = run(&["apply", "--auto-approve"], &tasks);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(harness::emulator().tasks("cp2-").is_empty());
    assert!(harness::emulator()
        .tasks("续保提醒")
        .iter()
        .all(|t| !t.to_string().contains("cp2-")));
    // `validate --format github` annotates the line.
    let gh = run(&["validate", "--format", "github"], &tasks);
    assert!(
        gh.stdout.lines().any(|l| l.starts_with("::error ")
            && l.contains("renewal-reminder.yaml")
            && l.contains("calling_hours")),
        "{}",
        gh.stdout
    );
}

#[test]
fn a_warning_does_not_stop_apply() {
    let (_tmp, tasks) = project("cp3-", "", &[EVENING]);
    let apply = run(&["apply", "--auto-approve"], &tasks);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(harness::emulator().tasks("cp3-").len(), 5);
}

#[test]
fn an_exception_lets_an_error_through_and_every_rendering_shows_it() {
    let policy = "policy:\n  rules:\n    calling_hours: error\n";
    let exception = "exceptions:\n  - {rule: calling_hours, reason: \"evening renewals approved by compliance, ticket CMP-42\"}\nspec:\n";
    let (_tmp, tasks) = project("cp4-", policy, &[EVENING, (XF, "spec:\n", exception)]);
    let text = run(&["plan"], &tasks);
    assert_eq!(text.code, 0, "{}{}", text.stdout, text.stderr);
    let reason = "evening renewals approved by compliance, ticket CMP-42";
    assert!(text.stdout.contains(reason), "{}", text.stdout);
    assert!(
        text.stdout.contains("excepted [calling_hours]"),
        "{}",
        text.stdout
    );
    let md = run(&["plan", "--format", "markdown"], &tasks);
    assert!(md.stdout.contains("#### Compliance"), "{}", md.stdout);
    assert!(
        md.stdout.contains(&format!(
            "- exception [calling_hours] cp4-renewal-reminder-2027q1: {reason}"
        )),
        "{}",
        md.stdout
    );
    let doc = json(&run(&["plan", "--format", "json"], &tasks));
    let c = &doc["compliance"];
    assert_eq!(c["version"], 1);
    assert_eq!(c["exceptions"][0]["rule"], "calling_hours");
    assert_eq!(c["exceptions"][0]["reason"], reason);
    assert_eq!(c["exceptions"][0]["excuses"], 86);
    assert_eq!(c["findings"][0]["excepted"], reason);
    assert_eq!(c["findings"][0]["severity"], "error");
    let v = run(&["validate"], &tasks);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains(reason) || v.stderr.contains(reason),
        "{}{}",
        v.stdout,
        v.stderr
    );
    // Saved and shown, the plan still says it.
    let file = tasks.parent().unwrap().join("cp4.plan.json");
    let saved = run(&["plan", "--out", file.to_str().unwrap()], &tasks);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let shown = Callform::new().args(["show"]).arg(&file).run();
    assert!(shown.stdout.contains(reason), "{}", shown.stdout);
}

#[test]
fn an_exception_that_excuses_nothing_is_a_warning() {
    let exception =
        "exceptions:\n  - {rule: calling_hours, reason: \"kept from an older campaign\"}\nspec:\n";
    let (_tmp, tasks) = project("cp5-", "", &[(XF, "spec:\n", exception)]);
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 0);
    assert!(
        diags.iter().any(|d| d["severity"] == "warning"
            && d["field"] == "exceptions"
            && d["message"].as_str().unwrap().contains("excuses nothing")),
        "{diags:?}"
    );
}

#[test]
fn exceptions_and_purposes_are_checked_as_they_are_read() {
    for (name, edit, field, says) in [
        (
            "unknown rule",
            "exceptions:\n  - {rule: calling_hour, reason: \"a reason long enough\"}\nspec:\n",
            "exceptions[0].rule",
            "did you mean `calling_hours`?",
        ),
        (
            "short reason",
            "exceptions:\n  - {rule: calling_hours, reason: ok}\nspec:\n",
            "exceptions[0].reason",
            "too short",
        ),
        (
            "a number in the reason",
            "exceptions:\n  - {rule: calling_hours, reason: \"callee 13700000099 asked for evenings\"}\nspec:\n",
            "exceptions[0].reason",
            "phone number",
        ),
        (
            "a number as consent",
            "purpose: marketing\nconsent: \"13700000099\"\nspec:\n",
            "consent",
            "phone number",
        ),
        (
            "unknown purpose",
            "purpose: markting\nspec:\n",
            "purpose",
            "did you mean `marketing`?",
        ),
        ("empty purpose", "purpose: \" \"\nspec:\n", "purpose", "is empty"),
        (
            "two exceptions for one rule",
            "exceptions:\n  - {rule: consent, reason: \"consent held by the bank\"}\n  - {rule: consent, reason: \"and by the insurer too\"}\nspec:\n",
            "exceptions[1].rule",
            "a second exception",
        ),
    ] {
        let (_tmp, tasks) = project("cp6-", "", &[(XF, "spec:\n", edit)]);
        let (code, diags) = diagnostics(&tasks);
        assert_eq!(code, 1, "{name}: {diags:?}");
        let d = diags
            .iter()
            .find(|d| d["severity"] == "error" && d["field"] == field)
            .unwrap_or_else(|| panic!("{name}: {diags:?}"));
        assert!(d.to_string().contains(says), "{name}: {d}");
        assert!(!d.to_string().contains("13700000099"), "{name}: {d}");
    }
}

#[test]
fn marketing_needs_consent_and_is_held_to_its_own_hours() {
    let policy = "policy:\n  rules:\n    consent: error\n  purposes:\n    marketing:\n      hours: {default: [\"10:00-20:00\"], sunday: []}\n";
    let (_tmp, tasks) = project(
        "cp7-",
        policy,
        &[(XF, "spec:\n", "purpose: marketing\nspec:\n")],
    );
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 1, "{diags:?}");
    let consent = diags
        .iter()
        .find(|d| d["field"] == "purpose" && d["severity"] == "error")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(
        consent["message"].as_str().unwrap().contains("consent"),
        "{consent}"
    );
    // With a consent reference, only the stricter hours remain: 09:00–10:00, and Sundays.
    let (_tmp, tasks) = project(
        "cp7-",
        policy,
        &[(
            XF,
            "spec:\n",
            "purpose: marketing\nconsent: crm-optin-2026q4\nspec:\n",
        )],
    );
    let (code, _) = diagnostics(&tasks);
    assert_eq!(code, 0);
    let f = findings(&tasks);
    let fields: Vec<&str> = f.iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["spec.time_range[0]", "spec.time_range[1]"],
        "{f:?}"
    );
    assert!(
        f[0]["message"].as_str().unwrap().contains("09:00–10:00"),
        "{f:?}"
    );
    assert!(
        f[1]["message"]
            .as_str()
            .unwrap()
            .contains("Sun 2027-01-10 13:30–20:00"),
        "{f:?}"
    );
    // A notification task is not.
    let (_tmp, tasks) = project(
        "cp7-",
        policy,
        &[(XF, "spec:\n", "purpose: notification\nspec:\n")],
    );
    assert!(findings(&tasks).is_empty());
}

#[test]
fn a_new_york_callee_is_judged_on_new_york_time_across_the_dst_change() {
    // Beijing 20:00–21:00 is 07:00–08:00 in New York until 14 March 2027, then 08:00–09:00.
    let policy = "policy:\n  timezone: America/New_York\n  hours: {default: [\"08:00-21:00\"]}\n";
    let (_tmp, tasks) = project(
        "cp8-",
        policy,
        &[
            (
                XF,
                "    - \"09:00:00-12:00:00\"\n    - \"13:30:00-20:00:00\"\n",
                "    - \"20:00:00-21:00:00\"\n",
            ),
            (
                XF,
                "time_begin: 2027-01-04 09:00",
                "time_begin: 2027-03-01 00:00",
            ),
        ],
    );
    let f: Vec<Value> = findings(&tasks)
        .into_iter()
        .filter(|f| f["task"] == "cp8-renewal-reminder-2027q1")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["count"], 13, "{f:?}");
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("Mon 2027-03-01 07:00–08:00") && message.contains("America/New_York"),
        "{message}"
    );
}

#[test]
fn volcengine_dials_around_the_clock_unless_its_forbidden_times_cover_the_night() {
    const VOLC: &str = "volcengine/delivery-notice.yaml";
    let night = "    - {times: [\"00:00-09:00\", \"21:00-23:59\"], weekdays: [monday, tuesday, wednesday, thursday, friday, saturday]}  # no calls at night\n";
    let (_tmp, tasks) = project("cp9-", "", &[]);
    assert!(findings(&tasks).is_empty(), "{:?}", findings(&tasks));
    let (_tmp, tasks) = project("cp9-", "", &[(VOLC, night, "")]);
    let f = findings(&tasks);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["field"], "spec.forbid_time_list");
    assert_eq!(
        f[0]["place"].as_str().unwrap().rsplit(':').next().unwrap(),
        // The list's first item, where the list begins.
        line_of(&tasks.join(VOLC), "12:00-13:30").to_string()
    );
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("Mon 2027-01-04 21:00 to Tue 2027-01-05 09:00"),
        "{f:?}"
    );
}

#[test]
fn windows_kept_at_the_vendor_are_a_partial_check_with_what_the_manifest_says() {
    const ALI: &str = "aliyun/overdue-notice.yaml";
    // A holiday inside the task's own `holiday` pause is not dialled; one outside may be.
    let policy = "policy:\n  holidays: [\"2027-02-12\"]\n  holidays_file: holidays.txt\n";
    let (tmp, tasks) = project(
        "cp10-",
        policy,
        &[(
            ALI,
            "  retry_type: 1\n",
            "  retry_type: 1\n  schedule_time: 2027-01-04 22:30\n",
        )],
    );
    std::fs::write(
        tmp.path().join("holidays.txt"),
        "# public holidays\n2027-02-20\n",
    )
    .unwrap();
    let doc = json(&run(&["plan", "--format", "json"], &tasks));
    let c = &doc["compliance"];
    let partial: Vec<&str> = c["partial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        partial,
        [
            "cp10-overdue-notice-jan",
            "cp10-payment-followup",
            "cp10-satisfaction-survey"
        ]
    );
    let f = c["findings"].as_array().unwrap();
    let of = |task: &str| f.iter().filter(|x| x["task"] == task).collect::<Vec<_>>();
    let ali = of("cp10-overdue-notice-jan");
    assert_eq!(ali.len(), 1, "{f:?}");
    assert_eq!(ali[0]["field"], "spec.schedule_time");
    assert!(
        ali[0]["message"].as_str().unwrap().contains("22:30"),
        "{ali:?}"
    );
    let lll = of("cp10-satisfaction-survey");
    assert_eq!(lll.len(), 1, "{f:?}");
    assert!(
        lll[0]["message"].as_str().unwrap().contains("2027-02-20"),
        "{lll:?}"
    );
    assert!(
        !lll[0]["message"].as_str().unwrap().contains("2027-02-12"),
        "{lll:?}"
    );
    assert_eq!(lll[0]["field"], "spec.task_extras.holiday[0]");
    // The text plan says the check is partial.
    let text = run(&["plan"], &tasks);
    assert!(
        text.stdout.contains("partial [calling_hours] cp10-payment-followup, cp10-satisfaction-survey: its daily windows are the calling-time group `dial_time_id: 5`"),
        "{}",
        text.stdout
    );
}

#[test]
fn policy_settings_are_checked_with_their_lines() {
    for (name, policy, field, says) in [
        (
            "unknown key",
            "policy:\n  hourz: {}\n",
            "policy.hourz",
            "unknown field",
        ),
        (
            "unknown rule",
            "policy:\n  rules:\n    calling_hour: error\n",
            "policy.rules.calling_hour",
            "did you mean `calling_hours`?",
        ),
        (
            "unknown level",
            "policy:\n  rules:\n    calling_hours: strict\n",
            "policy.rules.calling_hours",
            "error",
        ),
        (
            "bad window",
            "policy:\n  hours:\n    monday: [\"21:00-09:00\"]\n",
            "policy.hours.monday[0]",
            "end after the beginning",
        ),
        (
            "bad zone",
            "policy:\n  timezone: Mars/Olympus\n",
            "policy.timezone",
            "unknown timezone",
        ),
        (
            "bad date",
            "policy:\n  holidays: [\"2027-13-01\"]\n",
            "policy.holidays[0]",
            "YYYY-MM-DD",
        ),
        (
            "missing file",
            "policy:\n  holidays_file: nowhere.txt\n",
            "policy.holidays_file",
            "holidays_file",
        ),
        (
            "bad purpose name",
            "policy:\n  purposes:\n    Debt-Collection: {}\n",
            "policy.purposes.Debt-Collection",
            "invalid purpose name",
        ),
        (
            "unknown purpose key",
            "policy:\n  purposes:\n    marketing: {consnt: true}\n",
            "policy.purposes.marketing.consnt",
            "unknown field",
        ),
    ] {
        let (tmp, tasks) = project("cp11-", policy, &[]);
        let (code, diags) = diagnostics(&tasks);
        assert_eq!(code, 1, "{name}: {diags:?}");
        let d = diags
            .iter()
            .find(|d| d["field"] == field)
            .unwrap_or_else(|| panic!("{name}: {diags:?}"));
        assert!(d.to_string().contains(says), "{name}: {d}");
        let yaml = tmp.path().join("callform.yaml");
        let text = std::fs::read_to_string(&yaml).unwrap();
        let policy_line = text.lines().position(|l| l == "policy:").unwrap() + 1;
        assert!(
            d["line"].as_u64().unwrap() as usize > policy_line,
            "{name}: {d}"
        );
    }
    // A holidays file lies where manifests' files may.
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("holidays.txt");
    std::fs::write(&outside, "2027-01-01\n").unwrap();
    let (_tmp, tasks) = project(
        "cp11-",
        &format!("policy:\n  holidays_file: {}\n", outside.display()),
        &[],
    );
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 1);
    assert!(
        diags.iter().any(|d| d["field"] == "policy.holidays_file"
            && d["message"]
                .as_str()
                .unwrap()
                .contains("outside the project")),
        "{diags:?}"
    );
    // A bad line of the holidays file is reported at that line of that file.
    let (tmp, tasks) = project("cp11-", "policy:\n  holidays_file: holidays.txt\n", &[]);
    std::fs::write(tmp.path().join("holidays.txt"), "2027-01-01\nnot a date\n").unwrap();
    let (code, diags) = diagnostics(&tasks);
    assert_eq!(code, 1);
    assert!(
        diags
            .iter()
            .any(|d| d["file"].as_str().unwrap().ends_with("holidays.txt") && d["line"] == 2),
        "{diags:?}"
    );
}

#[test]
fn rules_can_be_turned_off() {
    let (_tmp, tasks) = project(
        "cp12-",
        "policy:\n  rules:\n    calling_hours: off\n",
        &[EVENING],
    );
    assert!(findings(&tasks).is_empty());
    // `purpose: warn` asks every task for one.
    let (_tmp, tasks) = project("cp12-", "policy:\n  rules:\n    purpose: warn\n", &[]);
    let f = findings(&tasks);
    assert_eq!(f.len(), 5, "{f:?}");
    assert!(f
        .iter()
        .all(|f| f["rule"] == "purpose" && f["field"] == "purpose"));
}

#[test]
fn a_paused_task_is_warned_not_stopped_so_that_pausing_is_never_refused() {
    let policy = "policy:\n  rules:\n    calling_hours: error\n";
    let (_tmp, tasks) = project(
        "cp13-",
        policy,
        &[EVENING, (XF, "status: running", "status: paused")],
    );
    let plan = run(&["plan"], &tasks);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let f = findings(&tasks);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "warn");
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("the task is paused"),
        "{f:?}"
    );
    // An unknown purpose stays an error.
    let (_tmp, tasks) = project(
        "cp13-",
        policy,
        &[(XF, "status: running", "status: paused\npurpose: markting")],
    );
    assert_eq!(run(&["plan"], &tasks).code, 1);
}
