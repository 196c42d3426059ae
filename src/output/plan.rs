//! Plans for people and tools: `text` (Terraform-like), `json` (the saved-plan format) and
//! `markdown` (a pull-request comment).
//!
//! Every rendering says the same things: each provider's endpoint, every warning the plan
//! carries (the plan's own and each task's, unchanged tasks included), orphans first, and
//! the counts. Rendering is pure: it takes a plan and returns a string. Plans hold no clear numbers
//! (the canonical form masks them), and every string is passed through the phone masker
//! once more on the way out, in case a future field forgets.

use std::fmt::Write as _;

use crate::canonical;
use crate::phone::mask_phones_in_text;
use crate::plan::steps::thousands;
use crate::plan::{Action, EndpointUse, Plan, PlannedTask, Steps};

use super::palette::Palette as Paint;

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Replace => "-/+",
        Action::Resume => "~",
        Action::Pause => "||",
        // Loud: it cannot be undone.
        Action::Stop => "-!",
        // `~` is resume's: an update in place changes what the task is, then it goes on.
        Action::Update => "+~",
        Action::Rename => ">",
        // Taken in from the vendor: recorded, nothing sent.
        Action::Adopt => "<=",
        Action::Blocked => "!",
        Action::Uncertain => "?",
        Action::InFlight => "…",
        // Not `~`: every Terraform user reads that as "update in place".
        Action::Orphaned => "*",
        Action::NoOp => " ",
    }
}

fn paint_action(p: &Paint, action: Action, s: &str) -> String {
    match action {
        Action::Create => p.green(s),
        Action::Replace
        | Action::Rename
        | Action::Adopt
        | Action::Resume
        | Action::Pause
        | Action::Update => p.yellow(s),
        Action::Stop => p.red(s),
        Action::Blocked => p.red(s),
        Action::Uncertain | Action::InFlight | Action::Orphaned => p.yellow(s),
        Action::NoOp => s.to_string(),
    }
}

/// The `spec.` lines of a task to create, as every rendering lists them (vendor and
/// provider are in the heading already).
fn created_fields(spec: &serde_json::Value) -> impl Iterator<Item = (String, String)> {
    canonical::flatten(spec)
        .into_iter()
        .filter(|(k, _)| k.starts_with("spec."))
}

/// `N batch` / `N batches`.
fn batches(n: u32) -> String {
    format!(
        "{} batch{}",
        thousands(u64::from(n)),
        if n == 1 { "" } else { "es" }
    )
}

/// What apply sends for a task, in one line, as every rendering shows it: "create, load
/// 1,234 callees in 25 batches of 50, then start"; "load 1,200 callees in 12 batches (rows
/// 1–1,200; none loaded yet)".
pub fn steps_line(steps: &Steps) -> String {
    let mut parts: Vec<String> = Vec::new();
    let start_in_create = steps.start.as_ref().is_some_and(|s| s.via == "create");
    if steps.create {
        let with = match &steps.load {
            Some(l) if l.in_create == l.rows => format!(" with {} callees", thousands(l.rows)),
            Some(l) if l.in_create > 0 => {
                format!(" with the first {} callees", thousands(l.in_create))
            }
            Some(_) => String::new(),
            None => " (no callees)".into(),
        };
        let start = if start_in_create { " and `Start`" } else { "" };
        parts.push(format!("create{with}{start}"));
    }
    if let Some(l) = steps.load.as_ref().filter(|l| l.batches > 0) {
        let rows = l.rows - l.in_create;
        if steps.create && l.in_create > 0 {
            parts.push(format!(
                "load {} more in {} of {}",
                thousands(rows),
                batches(l.batches),
                thousands(u64::from(l.batch_rows))
            ));
        } else if steps.create {
            parts.push(format!(
                "load {} callees in {} of {}",
                thousands(rows),
                batches(l.batches),
                thousands(u64::from(l.batch_rows))
            ));
        } else {
            let loaded = match l.loaded {
                0 => "none loaded yet".to_string(),
                n => format!("{} loaded already", thousands(n)),
            };
            parts.push(format!(
                "load {} callees in {} (rows {}–{}; {loaded})",
                thousands(rows),
                batches(l.batches),
                thousands(l.first_row + 1),
                thousands(l.first_row + l.rows)
            ));
        }
    }
    let verb = steps.verb.as_ref().map(|v| {
        let mut w = format!("{} ({})", v.verb, v.via);
        if v.irreversible {
            w.push_str(", IRREVERSIBLE");
        }
        if let Some(note) = &v.note {
            w.push_str(&format!(": {note}"));
        }
        w
    });
    // A pause or stop comes first (a task must be paused before some vendors take callees).
    if let Some(w) = verb.as_ref().filter(|_| {
        steps
            .verb
            .as_ref()
            .is_some_and(|v| v.verb != crate::driver::Verb::Resume)
    }) {
        parts.insert(0, w.clone());
    }
    if let Some(start) = steps.start.as_ref().filter(|_| !start_in_create) {
        let at = start
            .schedule_time
            .as_deref()
            .map(|t| format!(" (ScheduleTime {t})"))
            .unwrap_or_default();
        parts.push(if parts.is_empty() {
            format!("start ({}){at}", start.via)
        } else {
            format!("then start{at}")
        });
    }
    if let Some(w) = verb.filter(|_| {
        steps
            .verb
            .as_ref()
            .is_some_and(|v| v.verb == crate::driver::Verb::Resume)
    }) {
        parts.push(if parts.is_empty() {
            w
        } else {
            format!("then {w}")
        });
    }
    // The update is sent first of all.
    if let Some(u) = &steps.update {
        parts.insert(
            0,
            format!("update in place ({}): {}", u.via, u.fields.join(", ")),
        );
    }
    if let Some(s) = &steps.stop_superseded {
        let note = s
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        parts.push(format!(
            "then stop the superseded task {} ({}, IRREVERSIBLE; only once every step before it is done, else it still runs){note}",
            s.task_id, s.via
        ));
    }
    parts.join(", ")
}

fn task_lines(t: &PlannedTask, p: &Paint, out: &mut String) {
    let head = format!("{} {}", symbol(t.action), t.action.as_str());
    let mut meta = format!("{}, provider {}", t.vendor, t.provider);
    if let Some(id) = &t.task_id {
        let _ = write!(meta, ", task {id}");
    }
    if let (Action::Rename, Some(old)) = (t.action, &t.moved_from) {
        let _ = write!(meta, ", moved from {old}");
    }
    if let Some(src) = &t.source {
        let _ = write!(meta, ", {src}");
    }
    let _ = writeln!(
        out,
        "  {} {}  ({meta})",
        paint_action(p, t.action, &format!("{head:<10}")),
        p.bold(&t.name)
    );
    if let Some(reason) = &t.reason {
        let _ = writeln!(out, "      {reason}");
    }
    if let Some(steps) = &t.steps {
        let _ = writeln!(out, "      {}", steps_line(steps));
        let _ = writeln!(out, "      dials: {}", steps.dials);
    }
    match t.action {
        Action::Create => {
            if let Some(spec) = &t.spec {
                for (k, v) in created_fields(spec) {
                    let _ = writeln!(out, "      {} {k} = {v}", p.green("+"));
                }
            }
        }
        Action::Replace | Action::Blocked | Action::Update => {
            for c in &t.changes {
                match (&c.old, &c.new) {
                    (Some(o), Some(n)) => {
                        let _ = writeln!(out, "      {} {}: {o} → {n}", p.yellow("~"), c.field);
                    }
                    (Some(o), None) => {
                        let _ = writeln!(out, "      {} {} = {o}", p.red("-"), c.field);
                    }
                    (None, Some(n)) => {
                        let _ = writeln!(out, "      {} {} = {n}", p.green("+"), c.field);
                    }
                    (None, None) => {}
                }
            }
        }
        _ => {}
    }
    let batches = t
        .steps
        .as_ref()
        .and_then(|s| s.load.as_ref())
        .map_or(0, |l| l.batches);
    let shown = [
        ("request", t.request.as_ref()),
        (
            if batches > 1 {
                "first batch (the others like it)"
            } else {
                "batch"
            },
            t.batch_request.as_ref(),
        ),
        ("start", t.start_request.as_ref()),
    ];
    for (label, req) in shown {
        let Some(req) = req else { continue };
        let _ = writeln!(out, "      {label}:");
        for line in request_lines(req) {
            let _ = writeln!(out, "        {line}");
        }
    }
    for h in &t.hints {
        let _ = writeln!(out, "      hint: {h}");
    }
    for w in &t.warnings {
        let _ = writeln!(out, "      {} {w}", p.yellow("warning:"));
    }
}

/// A request (from `--show-requests`) as a short HTTP-like listing.
fn request_lines(req: &serde_json::Value) -> Vec<String> {
    let mut lines = Vec::new();
    let method = req["method"].as_str().unwrap_or("POST");
    let url = req["url"].as_str().unwrap_or("");
    lines.push(format!("{method} {url}"));
    if let Some(headers) = req["headers"].as_array() {
        for h in headers {
            if let (Some(k), Some(v)) = (h[0].as_str(), h[1].as_str()) {
                lines.push(format!("{k}: {v}"));
            }
        }
    }
    if !req["body"].is_null() {
        let body = serde_json::to_string_pretty(&req["body"]).unwrap_or_default();
        lines.extend(body.lines().map(str::to_string));
    }
    lines
}

/// `, N to resume` and `, N to rename` when there are some (most plans have none).
fn rare_counts(plan: &Plan, bold: bool) -> String {
    let mut out = String::new();
    for (n, what) in [
        (plan.summary.resume, "to resume"),
        (plan.summary.rename, "to rename"),
        (plan.summary.adopt, "to adopt"),
        (plan.summary.pause, "to pause"),
        (plan.summary.stop, "to stop (irreversible)"),
        (plan.summary.update, "to update in place"),
    ] {
        match n {
            0 => {}
            n if bold => out.push_str(&format!(", **{n}** {what}")),
            n => out.push_str(&format!(", {n} {what}")),
        }
    }
    out
}

pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let in_flight = if s.in_flight > 0 {
        format!(", {} in flight", s.in_flight)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to replace{}, {} unchanged, {} blocked, {} uncertain{in_flight}, {} orphaned.",
        s.create,
        s.replace,
        rare_counts(plan, false),
        s.no_op,
        s.blocked,
        s.uncertain,
        s.orphaned
    )
}

/// One endpoint as a line: `provider (vendor): URL (from, N task(s))` (the vendor left out when it is the provider's name), marked when real
/// in a plan that also has loopback ones.
fn endpoint_line(e: &EndpointUse, mixed: bool) -> String {
    let real = if mixed && !e.loopback {
        " — REAL: dials real people"
    } else {
        ""
    };
    // A provider named after its vendor (the default) is named once.
    let who = if e.provider == e.vendor {
        e.provider.clone()
    } else {
        format!("{} ({})", e.provider, e.vendor)
    };
    format!(
        "{who}: {} ({}, {} task{}){real}",
        e.endpoint,
        e.from,
        e.tasks,
        if e.tasks == 1 { "" } else { "s" }
    )
}

/// Tasks in the state only that plan nothing because they never dial again (stopped,
/// finished, deleted): kept as their history, with how to forget them.
fn history_notes(plan: &Plan) -> Vec<(&str, &str)> {
    plan.tasks
        .iter()
        .filter(|t| t.action == Action::NoOp && t.source.is_none())
        .filter_map(|t| Some((t.name.as_str(), t.reason.as_deref()?)))
        .collect()
}

/// The tasks a plan lists, orphans first: a campaign whose manifest was removed still
/// dials people, and is the first thing a reviewer must see. The rest keep name order.
fn listed(plan: &Plan) -> Vec<&PlannedTask> {
    let mut listed: Vec<&PlannedTask> = plan
        .tasks
        .iter()
        .filter(|t| t.action != Action::NoOp)
        .collect();
    listed.sort_by_key(|t| t.action != Action::Orphaned);
    listed
}

/// What the plan says about the state before any task: a run whose records are not in the
/// state file yet. The same sentences in every rendering.
pub fn state_notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(holder) = &plan.running {
        notes.push(format!(
            "An `{}` is running now: {}. Its creates sent without an answer yet are shown as in flight, and the ones it has not sent yet as creates; nothing is to be repaired while it runs. Plan again when it has finished: this plan is stale then.",
            holder.operation,
            holder.describe()
        ));
    }
    if let Some(run) = plan
        .state
        .pending_run
        .as_ref()
        .filter(|_| plan.running.is_none())
    {
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut what = Vec::new();
        if !run.created.is_empty() {
            what.push(format!(
                "{} created ({})",
                run.created.len(),
                list(&run.created)
            ));
        }
        if !run.uncertain.is_empty() {
            what.push(format!(
                "{} uncertain ({})",
                run.uncertain.len(),
                list(&run.uncertain)
            ));
        }
        if !run.failed.is_empty() {
            what.push(format!(
                "{} rejected ({})",
                run.failed.len(),
                list(&run.failed)
            ));
        }
        if what.is_empty() {
            what.push("no create".into());
        }
        notes.push(format!(
            "The records of an earlier apply (run {}) are not in the state file yet: {}. This plan shows them as the state will record them; apply folds exactly them in first.",
            run.run,
            what.join(", ")
        ));
    }
    notes
}

/// The most findings each rendering lists (all are counted, and all are in the JSON
/// plan); exceptions and partial checks are always listed in full.
const COMPLIANCE_LINES: usize = 50;

/// The compliance section, as lines (`- ` items for markdown): the policy, each finding,
/// each exception with its reason, each partial check.
pub fn compliance_lines(c: &crate::policy::Compliance, markdown: bool) -> Vec<String> {
    use crate::policy::Level;
    let esc = |s: &str| {
        if markdown {
            md_escape(s)
        } else {
            s.to_string()
        }
    };
    let mut out = Vec::new();
    let errors = c.findings.iter().filter(|f| f.blocks()).count();
    let excepted = c.findings.iter().filter(|f| f.excepted.is_some()).count();
    let rules: Vec<String> = c
        .rules
        .iter()
        .map(|(r, l)| format!("{r} {}", l.key()))
        .collect();
    out.push(format!("policy: {} ({})", c.policy, rules.join(", ")));
    out.push(format!("calling hours: {}", c.hours));
    out.push(format!(
        "{} task(s) checked: {} error(s), {} warning(s), {} excepted by {} exception(s), {} checked in part",
        c.tasks,
        errors,
        c.findings.len() - errors - excepted,
        excepted,
        c.exceptions.len(),
        c.partial.len()
    ));
    for f in c.findings.iter().take(COMPLIANCE_LINES) {
        let level = match (&f.excepted, f.severity) {
            (Some(_), _) => "excepted",
            (None, Level::Error) => "error",
            _ => "warning",
        };
        let mut line = format!(
            "{level} [{}] {}: {} ({}, {})",
            f.rule, f.task, f.message, f.field, f.place
        );
        if let Some(r) = &f.excepted {
            line.push_str(&format!("; exception: {r}"));
        }
        out.push(esc(&line));
    }
    if c.findings.len() > COMPLIANCE_LINES {
        out.push(format!(
            "… and {} more finding(s) (all are in the JSON plan and in `callform validate`)",
            c.findings.len() - COMPLIANCE_LINES
        ));
    }
    // The markdown comment must fit: past this many, exceptions are counted there (the
    // text and JSON plans list them all).
    let shown = if markdown {
        MARKDOWN_EXCEPTIONS
    } else {
        usize::MAX
    };
    for e in c.exceptions.iter().take(shown) {
        out.push(esc(&format!(
            "exception [{}] {}: {} ({}; excuses {} finding(s))",
            e.rule, e.task, e.reason, e.place, e.excuses
        )));
    }
    if c.exceptions.len() > shown {
        out.push(format!(
            "… and {} more exception(s): every one is in the text and JSON plans and in `callform validate`",
            c.exceptions.len() - shown
        ));
    }
    // Tasks checked in part, by reason: thousands of Aliyun tasks share one.
    let mut reasons: Vec<(&str, crate::policy::RuleId, Vec<&str>)> = Vec::new();
    for p in &c.partial {
        match reasons
            .iter_mut()
            .find(|(why, rule, _)| *why == p.why && *rule == p.rule)
        {
            Some((_, _, tasks)) => tasks.push(&p.task),
            None => reasons.push((&p.why, p.rule, vec![&p.task])),
        }
    }
    for (why, rule, tasks) in reasons {
        let mut names: Vec<&str> = tasks.iter().take(5).copied().collect();
        let more = tasks.len().saturating_sub(names.len());
        let rest = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        names.dedup();
        out.push(esc(&format!(
            "partial [{rule}] {}{rest}: {why}",
            names.join(", ")
        )));
    }
    out
}

/// The most exceptions the markdown plan lists.
const MARKDOWN_EXCEPTIONS: usize = 100;

/// Terraform-like text. Unchanged tasks are counted, not listed.
pub fn text(plan: &Plan, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    for note in state_notes(plan) {
        let _ = writeln!(out, "{} {note}\n", p.yellow("note:"));
    }
    if !plan.endpoints.is_empty() {
        let _ = writeln!(out, "Endpoints:");
        let mixed = crate::plan::mixes_loopback_and_real(&plan.endpoints);
        for e in &plan.endpoints {
            let _ = writeln!(out, "  {}", endpoint_line(e, mixed));
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "{} {}", p.yellow("warning:"), w.line());
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "Compliance:");
    for line in compliance_lines(&plan.compliance, false) {
        let _ = writeln!(out, "  {line}");
    }
    out.push('\n');
    let listed = listed(plan);
    if listed.is_empty() {
        let _ = writeln!(
            out,
            "No changes. The vendor tasks match the manifests ({} unchanged).",
            plan.summary.no_op
        );
    } else {
        let _ = writeln!(out, "callform will perform the following actions:\n");
        for t in listed {
            task_lines(t, &p, &mut out);
            out.push('\n');
        }
        let _ = writeln!(out, "{}", p.bold(&summary_line(plan)));
    }
    for t in plan
        .tasks
        .iter()
        .filter(|t| t.action == Action::NoOp && !t.warnings.is_empty())
    {
        for w in &t.warnings {
            let _ = writeln!(out, "{} {}: {w}", p.yellow("warning:"), t.name);
        }
    }
    for (name, note) in history_notes(plan) {
        let _ = writeln!(out, "{} {name}: {note}", p.yellow("note:"));
    }
    if plan.has_blocked() {
        let _ = writeln!(
            out,
            "\n{}",
            p.red("The plan is blocked: see the hints above. apply will not run it.")
        );
    }
    mask_phones_in_text(&out)
}

/// The plan in `format`, for stdout (`color`: the text form's colours).
pub fn format(plan: &Plan, format: crate::cli::PlanFormat, color: bool) -> String {
    match format {
        crate::cli::PlanFormat::Text => text(plan, color),
        crate::cli::PlanFormat::Json => json(plan),
        crate::cli::PlanFormat::Markdown => markdown(plan),
    }
}

/// The JSON plan (the saved-plan format, `docs/plan-format.md`).
///
/// The state's keys — the salt of a plan made before any state, the lineage, a pending
/// run's id — are random hex that `apply FILE` must read back exactly, and may hold a run
/// of digits shaped like a phone number: they are set aside while the rest is masked (a
/// masked salt or lineage would make the plan unusable, or "another state").
pub fn json(plan: &Plan) -> String {
    let mut keys = Vec::new();
    let mut bare = plan.clone();
    let set_aside = |slot: &mut String, keys: &mut Vec<(String, String)>| {
        let placeholder = format!("callform-key-{}", "x".repeat(keys.len() + 1));
        keys.push((placeholder.clone(), std::mem::replace(slot, placeholder)));
    };
    if let Some(salt) = bare.salt.as_mut() {
        set_aside(salt, &mut keys);
    }
    if let Some(lineage) = bare.state.lineage.as_mut() {
        set_aside(lineage, &mut keys);
    }
    if let Some(run) = bare.state.pending_run.as_mut() {
        set_aside(&mut run.run, &mut keys);
    }
    let text = serde_json::to_string_pretty(&bare).unwrap_or_else(|_| "{}".to_string());
    let mut text = mask_phones_in_text(&text);
    for (placeholder, value) in keys {
        // Hex: nothing to escape in JSON.
        text = text.replacen(&format!("\"{placeholder}\""), &format!("\"{value}\""), 1);
    }
    text + "\n"
}

pub(super) fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A pull-request comment: summary line, a table of actions, a collapsible diff per changed task.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let s = &plan.summary;
    let status = if plan.has_blocked() {
        "❌ **blocked**"
    } else if plan.has_changes() {
        "📝 changes"
    } else if plan.needs_review() {
        "⚠️ **needs attention**"
    } else {
        "✅ no changes"
    };
    let _ = writeln!(out, "### callform plan: {status}\n");
    for note in state_notes(plan) {
        let _ = writeln!(out, "> ℹ️ {}\n", md_escape(&note));
    }
    // Before the warnings: a long list of those must not push the exceptions out of the
    // head, which is cut beyond MARKDOWN_HEAD_MAX.
    let _ = writeln!(out, "#### Compliance\n");
    for line in compliance_lines(&plan.compliance, true) {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    for w in &plan.warnings {
        let _ = writeln!(out, "> ⚠️ **warning:** {}\n", md_escape(&w.line()));
    }
    if s.orphaned > 0 {
        let _ = writeln!(
            out,
            "> ⚠️ **{} task(s) removed from the manifests still run at the vendor.** callform never deletes a vendor task: stop each in the vendor console if it should not dial, then `callform state rm NAME`.\n",
            s.orphaned
        );
    }
    if s.uncertain > 0 {
        let _ = writeln!(
            out,
            "> ⚠️ **{} task(s) may exist at the vendor** (an earlier create's answer was lost): they are never sent again until a person resolves them{}.\n",
            s.uncertain,
            if plan.running.is_some() {
                ", once the running apply has finished"
            } else {
                ""
            }
        );
    }
    let in_flight = if s.in_flight > 0 {
        format!(", **{}** in flight", s.in_flight)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "**{}** to create, **{}** to replace{}, **{}** unchanged, **{}** blocked, **{}** uncertain{in_flight}, **{}** orphaned\n",
        s.create,
        s.replace,
        rare_counts(plan, true),
        s.no_op,
        s.blocked,
        s.uncertain,
        s.orphaned
    );
    if !plan.endpoints.is_empty() {
        let _ = writeln!(out, "Endpoints:\n");
        let mixed = crate::plan::mixes_loopback_and_real(&plan.endpoints);
        for e in &plan.endpoints {
            let _ = writeln!(out, "- {}", md_escape(&endpoint_line(e, mixed)));
        }
        out.push('\n');
    }
    let entries: Vec<MdEntry> = md_listed(plan).into_iter().map(md_entry).collect();
    let mut quiet: Vec<String> = plan
        .tasks
        .iter()
        .filter(|t| t.action == Action::NoOp && !t.warnings.is_empty())
        .flat_map(|t| {
            t.warnings.iter().map(|w| {
                mask_phones_in_text(&format!(
                    "- ⚠️ `{}`: {}\n",
                    md_escape(&t.name),
                    md_escape(w)
                ))
            })
        })
        .collect();
    quiet.extend(history_notes(plan).into_iter().map(|(name, note)| {
        mask_phones_in_text(&format!(
            "- ℹ️ `{}`: {}\n",
            md_escape(name),
            md_escape(note)
        ))
    }));
    let head = mask_phones_in_text(&out);
    md_fit(&head, &entries, &quiet, MARKDOWN_BUDGET)
}

/// The most characters a markdown plan may have: it must fit one pull-request comment
/// (GitHub takes 65,536, GitLab more), with room left for the marker and a line or two a
/// CI workflow adds. The one place this budget is chosen.
pub const MARKDOWN_BUDGET: usize = 60_000;

/// The part of the head (notes, warnings, endpoints) kept when it alone nears the budget.
const MARKDOWN_HEAD_MAX: usize = 20_000;

/// Room kept for the lines that say what was left out.
const MARKDOWN_NOTE_ROOM: usize = 1_000;

/// One listed task of the markdown plan: its table row and its collapsible details, with
/// and without the field list.
struct MdEntry {
    human: bool,
    row: String,
    full: String,
    short: String,
    has_fields: bool,
}

/// Routine: a create, which a reviewer reads in bulk. Every other listed action (blocked,
/// uncertain, replace, stop, orphaned, adopt, …) needs a person and comes first.
fn is_routine(action: Action) -> bool {
    matches!(action, Action::Create | Action::NoOp)
}

/// The markdown plan's order: orphans, then the rest of what needs a person, then the
/// routine creates, each group in name order (as [`listed`]).
fn md_listed(plan: &Plan) -> Vec<&PlannedTask> {
    let mut tasks = listed(plan);
    tasks.sort_by_key(|t| (is_routine(t.action), t.action != Action::Orphaned));
    tasks
}

fn md_entry(t: &PlannedTask) -> MdEntry {
    let row = format!(
        "| `{}` | `{}` | {} | {} | {} |\n",
        t.action.as_str(),
        md_escape(&t.name),
        t.vendor,
        md_escape(&t.provider),
        t.source.as_deref().map(md_escape).unwrap_or_default()
    );
    let moved = match (&t.moved_from, t.action) {
        (Some(old), Action::Rename) => format!(" from <code>{}</code>", md_escape(old)),
        _ => String::new(),
    };
    // The vendor task id, as the text plan shows it: the task to stop in the console
    // (an orphan, a replaced task) or to look for (an uncertain one).
    let id = t
        .task_id
        .as_deref()
        .map(|id| format!(", vendor task <code>{}</code>", md_escape(id)))
        .unwrap_or_default();
    let mut top = String::new();
    let _ = writeln!(
        top,
        "<details><summary><code>{}</code> {} {}{moved}{id}</summary>\n",
        md_escape(&t.name),
        md_escape(symbol(t.action)),
        t.action.as_str()
    );
    if let Some(reason) = &t.reason {
        let _ = writeln!(top, "{}\n", md_escape(reason));
    }
    if let Some(steps) = &t.steps {
        let _ = writeln!(
            top,
            "- steps: {}\n- dials: {}\n",
            md_escape(&steps_line(steps)),
            md_escape(&steps.dials)
        );
    }
    let mut diff = String::new();
    match t.action {
        Action::Create => {
            if let Some(spec) = &t.spec {
                for (k, v) in created_fields(spec) {
                    let _ = writeln!(diff, "+ {k} = {v}");
                }
            }
        }
        _ => {
            for c in &t.changes {
                if let Some(o) = &c.old {
                    let _ = writeln!(diff, "- {} = {o}", c.field);
                }
                if let Some(n) = &c.new {
                    let _ = writeln!(diff, "+ {} = {n}", c.field);
                }
            }
        }
    }
    let mut tail = String::new();
    for h in &t.hints {
        let _ = writeln!(tail, "- {}", md_escape(h));
    }
    for w in &t.warnings {
        let _ = writeln!(tail, "- ⚠️ {}", md_escape(w));
    }
    let _ = writeln!(tail, "</details>\n");
    let fields = if diff.is_empty() {
        String::new()
    } else {
        format!("```diff\n{diff}```\n\n")
    };
    MdEntry {
        human: !is_routine(t.action),
        row: mask_phones_in_text(&row),
        full: mask_phones_in_text(&format!("{top}{fields}{tail}")),
        short: mask_phones_in_text(&format!("{top}{tail}")),
        has_fields: !fields.is_empty(),
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Where the whole plan is, in every note about what a comment leaves out.
const FULL_PLAN: &str = "the full plan is in the saved plan file: `callform show PLANFILE` (in CI: the plan artifact of this run), or run `callform plan` yourself";

/// Lays out the markdown plan within `budget` characters: in full when it fits (the
/// rendering of every ordinary plan); else without the field lists (routine creates'
/// first), then without whole routine entries from the end, then, as a last resort, without
/// entries that need a person. What is left out is always counted, with where to read it.
fn md_fit(head: &str, entries: &[MdEntry], quiet: &[String], budget: usize) -> String {
    const TABLE_HEAD: &str =
        "| action | task | vendor | provider | source |\n|---|---|---|---|---|\n";
    let mut head = head.to_string();
    let mut head_cut = 0usize;
    if chars(&head) > MARKDOWN_HEAD_MAX {
        let mut kept = String::new();
        let mut lines = head.split_inclusive('\n');
        for line in lines.by_ref() {
            if chars(&kept) + chars(line) > MARKDOWN_HEAD_MAX {
                head_cut += 1;
                break;
            }
            kept.push_str(line);
        }
        head_cut += lines.count();
        head = kept;
    }
    let quiet_block = |n: usize| -> String {
        if quiet.is_empty() || n == 0 {
            return String::new();
        }
        let mut s = String::from("Warnings on unchanged tasks:\n\n");
        for w in &quiet[..n] {
            s.push_str(w);
        }
        s.push('\n');
        s
    };
    let render = |full: &dyn Fn(&MdEntry) -> bool, shown: &[bool], quiet_n: usize| {
        let mut out = head.clone();
        if shown.iter().any(|s| *s) {
            out.push_str(TABLE_HEAD);
            for (e, _) in entries.iter().zip(shown).filter(|(_, s)| **s) {
                out.push_str(&e.row);
            }
            out.push('\n');
            for (e, _) in entries.iter().zip(shown).filter(|(_, s)| **s) {
                out.push_str(if full(e) { &e.full } else { &e.short });
            }
        }
        out.push_str(&quiet_block(quiet_n));
        out
    };
    let all = vec![true; entries.len()];
    if head_cut == 0 {
        let full = render(&|_: &MdEntry| true, &all, quiet.len());
        if chars(&full) <= budget {
            return full;
        }
    }
    let room = budget.saturating_sub(MARKDOWN_NOTE_ROOM);
    let size =
        |e: &MdEntry, fields: bool| chars(&e.row) + chars(if fields { &e.full } else { &e.short });
    let fixed = chars(&head) + chars(TABLE_HEAD) + 1;
    // Field lists go first: the routine creates', then (if still too long) all of them.
    let with_fields_human = fixed + entries.iter().map(|e| size(e, e.human)).sum::<usize>() <= room;
    let keep_fields = |e: &MdEntry| with_fields_human && e.human;
    // Then whole entries: every one that needs a person before any routine one.
    let mut used = fixed;
    let mut shown = vec![false; entries.len()];
    for pass_human in [true, false] {
        for (i, e) in entries.iter().enumerate() {
            if e.human != pass_human {
                continue;
            }
            let n = size(e, keep_fields(e));
            if used + n <= room {
                used += n;
                shown[i] = true;
            } else if !pass_human {
                break;
            }
        }
    }
    let mut quiet_n = 0;
    for w in quiet {
        if used + chars(w) + 40 > room {
            break;
        }
        used += chars(w);
        quiet_n += 1;
    }
    let mut out = render(&keep_fields, &shown, quiet_n);
    let left_human = entries
        .iter()
        .zip(&shown)
        .filter(|(e, s)| e.human && !**s)
        .count();
    let left_routine = entries
        .iter()
        .zip(&shown)
        .filter(|(e, s)| !e.human && !**s)
        .count();
    let fields_cut = entries
        .iter()
        .zip(&shown)
        .filter(|(e, s)| **s && e.has_fields && !keep_fields(e))
        .count();
    let _ = writeln!(
        out,
        "> ✂️ **This plan is too long for one comment ({} characters at most)**: {FULL_PLAN}.",
        thousands(budget as u64)
    );
    let mut cuts = Vec::new();
    if head_cut > 0 {
        cuts.push(format!(
            "{} more line(s) of notes and warnings not shown",
            thousands(head_cut as u64)
        ));
    }
    if fields_cut > 0 {
        cuts.push(format!(
            "the field lists of {} task(s) not shown",
            thousands(fields_cut as u64)
        ));
    }
    if left_human > 0 {
        cuts.push(format!(
            "**{} more not shown that need a person**",
            thousands(left_human as u64)
        ));
    }
    if left_routine > 0 {
        cuts.push(format!(
            "**{} more not shown** (routine creates)",
            thousands(left_routine as u64)
        ));
    }
    if quiet_n < quiet.len() {
        cuts.push(format!(
            "{} more warning(s) on unchanged tasks not shown",
            thousands((quiet.len() - quiet_n) as u64)
        ));
    }
    for c in cuts {
        let _ = writeln!(out, "> - {c}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A salt or lineage that holds a phone-shaped run of digits is random hex, not a
    /// number: masked, the saved plan could not be applied (or would name another state).
    #[test]
    fn the_state_keys_in_a_json_plan_are_never_masked() {
        let salt = "13812345678abcdef13912345678abcd";
        let project = crate::project::Project::defaults(std::path::Path::new("."));
        let w = std::path::Path::new("/nonexistent-workdir");
        let place = crate::checkout::Place::new(w, &w.join("d"), None, &w.join("s"), false);
        let options = crate::plan::Options {
            salt: salt.into(),
            ..Default::default()
        };
        let manifests = crate::manifest::Manifests::default();
        let mut plan = crate::plan::plan(&manifests, &project, None, &place, &options).unwrap();
        plan.state.lineage = Some("deadbeef13700000001cafe0000ffff1".into());
        plan.tasks.push(crate::plan::PlannedTask {
            steps: None,
            batch_request: None,
            start_request: None,
            name: "t".into(),
            action: Action::Orphaned,
            vendor: "aliyun".into(),
            provider: "aliyun".into(),
            endpoint: "https://dyvmsapi.aliyuncs.com".into(),
            source: None,
            task_id: None,
            moved_from: None,
            adopted: None,
            candidates: Vec::new(),
            spec_digest: None,
            old_spec_digest: None,
            spec: None,
            changes: Vec::new(),
            reason: Some("calls 13700000001".into()),
            hints: Vec::new(),
            warnings: Vec::new(),
            request: None,
        });
        let text = json(&plan);
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(back.salt.as_deref(), Some(salt));
        assert_eq!(
            back.state.lineage.as_deref(),
            Some("deadbeef13700000001cafe0000ffff1")
        );
        assert!(
            !text.contains("13700000001\""),
            "the rest is still masked: {text}"
        );
        assert!(text.contains("calls 137****0001"), "{text}");
    }

    fn empty_plan() -> Plan {
        let project = crate::project::Project::defaults(std::path::Path::new("."));
        let w = std::path::Path::new("/nonexistent-workdir");
        let place = crate::checkout::Place::new(w, &w.join("d"), None, &w.join("s"), false);
        let manifests = crate::manifest::Manifests::default();
        crate::plan::plan(
            &manifests,
            &project,
            None,
            &place,
            &crate::plan::Options::default(),
        )
        .unwrap()
    }

    fn task(name: &str, action: Action) -> PlannedTask {
        PlannedTask {
            steps: None,
            batch_request: None,
            start_request: None,
            name: name.into(),
            action,
            vendor: "aliyun".into(),
            provider: "aliyun".into(),
            endpoint: "https://dyvmsapi.aliyuncs.com".into(),
            source: Some(format!("tasks/{name}.yaml:1")),
            task_id: None,
            moved_from: None,
            adopted: None,
            candidates: Vec::new(),
            spec_digest: None,
            old_spec_digest: None,
            spec: Some(serde_json::json!({
                "spec": {"task_name": name, "dialog_id": 1234567, "caller": ["057100000001"]}
            })),
            changes: Vec::new(),
            reason: (action == Action::Blocked).then(|| "dialog_id changed".to_string()),
            hints: Vec::new(),
            warnings: Vec::new(),
            request: None,
        }
    }

    fn plan_of(creates: usize, blocked: usize) -> Plan {
        let mut plan = empty_plan();
        for i in 0..creates {
            plan.tasks
                .push(task(&format!("create-{i:05}"), Action::Create));
        }
        for i in 0..blocked {
            plan.tasks
                .push(task(&format!("zz-blocked-{i}"), Action::Blocked));
        }
        plan.summary.create = creates;
        plan.summary.blocked = blocked;
        plan
    }

    #[test]
    fn a_plan_of_20000_creates_fits_one_comment_and_says_how_many_are_left_out() {
        let md = markdown(&plan_of(20_000, 0));
        assert!(md.chars().count() <= MARKDOWN_BUDGET, "{}", md.len());
        assert!(md.starts_with("### callform plan: 📝 changes"), "{md}");
        assert!(md.contains("**20000** to create"), "{md}");
        let shown = md.matches("<details>").count();
        assert!(shown > 10, "some creates are shown: {shown}");
        let more = format!(
            "**{} more not shown** (routine creates)",
            thousands((20_000 - shown) as u64)
        );
        assert!(md.contains(&more), "{more} in {md}");
        assert!(md.contains("callform show PLANFILE"), "{md}");
        // Field lists are cut first.
        assert!(!md.contains("```diff"), "{md}");
    }

    #[test]
    fn blocked_tasks_come_before_creates_and_are_kept_when_the_creates_are_cut() {
        for creates in [3, 20_000] {
            let md = markdown(&plan_of(creates, 5));
            assert!(md.chars().count() <= MARKDOWN_BUDGET);
            let blocked = md.find("<code>zz-blocked-0</code>").unwrap();
            let create = md.find("<code>create-00000</code>").unwrap();
            assert!(blocked < create, "{md}");
            assert_eq!(md.matches("| `blocked` |").count(), 5, "{md}");
            assert!(!md.contains("need a person"), "{md}");
        }
    }

    #[test]
    fn a_plan_of_only_blocked_tasks_is_cut_last_and_never_silently() {
        let md = markdown(&plan_of(0, 5_000));
        assert!(md.chars().count() <= MARKDOWN_BUDGET);
        assert!(md.contains("<code>zz-blocked-0</code>"), "{md}");
        assert!(md.contains("more not shown that need a person**"), "{md}");
    }

    /// A plan that fits is the rendering it always was: every field, no note.
    #[test]
    fn a_small_plan_is_rendered_in_full() {
        let md = markdown(&plan_of(3, 1));
        assert!(!md.contains("too long"), "{md}");
        assert_eq!(md.matches("```diff").count(), 3, "{md}");
        assert!(md.contains("+ spec.dialog_id = 1234567"), "{md}");
    }

    /// The cut itself, on a small budget: field lists go before any entry.
    #[test]
    fn field_lists_are_cut_before_entries() {
        let plan = plan_of(30, 0);
        let entries: Vec<MdEntry> = md_listed(&plan).into_iter().map(md_entry).collect();
        let full: usize = entries.iter().map(|e| chars(&e.row) + chars(&e.full)).sum();
        let short: usize = entries
            .iter()
            .map(|e| chars(&e.row) + chars(&e.short))
            .sum();
        let budget = short + 100 + MARKDOWN_NOTE_ROOM;
        assert!(budget < full + 100);
        let md = md_fit("head\n", &entries, &[], budget);
        assert_eq!(md.matches("<details>").count(), 30, "{md}");
        assert!(!md.contains("more not shown"), "{md}");
        assert!(
            md.contains("the field lists of 30 task(s) not shown"),
            "{md}"
        );
    }
}
