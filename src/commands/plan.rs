//! `callform plan`: what apply would do, for review; `--out` saves it for `apply PLANFILE`.

use crate::cli::{Outcome, PlanArgs};
use crate::env::Env;
use crate::error::report;
use crate::manifest::Manifests;
use crate::output::plan as render;
use crate::output::Printer;
use crate::plan::{self, Plan};
use crate::project::Project;
use crate::settings::Settings;
use crate::state;
use crate::workspace;

pub fn run(args: &PlanArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(&args.dir, args.state.as_deref(), None, args.sandbox, env);
    let mut options = plan::Options {
        targets: args.target.clone(),
        replace: args.replace.clone(),
        salt: crate::env::salt(env)?,
        now: settings.now,
        state_args: settings.state_args(),
        pending_run: None,
        running: None,
        lookups: Default::default(),
        stop_orphans: args.stop_orphans,
        stop: Vec::new(),
    };
    let dir = settings.dir.clone();
    let state_path = settings.state.path.clone();
    let place = settings.place()?;
    let sandbox = settings.sandbox;
    let mut opened = workspace::open(settings);
    let mut refreshed = Default::default();
    let mut numbers_read = Default::default();
    let mut number_notes = Vec::new();
    let mut updates_read = Default::default();
    if args.refresh {
        if sandbox {
            out.problem("error: --refresh reads the vendors, and the sandbox emulator lives only while `apply --sandbox` runs: run `callform emulator` and point the providers' endpoints at it to read tasks back");
            return Ok(Outcome::Failure);
        }
        if let (Ok(Some(st)), false) = (&mut opened.state, opened.manifests.has_errors()) {
            let read = super::refresh::refresh_in_memory(
                st,
                &opened.manifests.tasks,
                &opened.project,
                &options.targets,
            )?;
            for f in &read.failed {
                out.problem(&format!(
                    "warning: {f}; the plan uses what the state says of it"
                ));
            }
            refreshed = read.written;
            numbers_read = read.numbers;
            number_notes = read.notes;
            updates_read = read.updates;
            options.lookups = read.lookups;
        }
    }
    // Errors go to stderr (there is no plan). Warnings are part of the plan, so that every
    // rendering carries them: the text plan shows them; with another format, stderr
    // repeats them below for whoever runs the command.
    if opened.manifests.has_errors() {
        let _ = out.diagnostics(&opened.manifests);
    }
    let prepared = match workspace::plan(opened, &dir, &state_path, &place, options) {
        Ok(p) => p,
        Err(e) => {
            out.problem(&report(&e));
            return Ok(Outcome::Failure);
        }
    };
    let mut plan = prepared.plan;
    plan.refreshed = refreshed;
    plan.numbers_read = numbers_read;
    plan.updates_read = updates_read;
    for (name, note) in number_notes {
        if let Some(t) = plan.tasks.iter_mut().find(|t| t.name == name) {
            t.warnings.push(note);
        }
    }
    if args.format != crate::cli::PlanFormat::Text {
        for w in plan.warning_lines() {
            out.problem(&format!("warning: {w}"));
        }
    }
    if args.show_requests {
        attach_requests(&mut plan, &prepared.manifests, &prepared.project);
    }
    out.data(&render::format(&plan, args.format, out.stdout_palette().on))?;
    if let Some(file) = &args.out {
        if plan.has_blocked() {
            out.problem(&format!(
                "error: the plan is blocked; it was not saved to {}",
                file.display()
            ));
            return Ok(Outcome::Failure);
        }
        // Applied in another checkout, a state outside this one would be read and written
        // wherever that path leads there.
        if place.state_escapes {
            out.problem(&format!(
                "error: the state {} lies outside the project root {}; the plan was not saved to {}\nhint: a saved plan is applied in other checkouts, where that path would name another file: keep the state inside the project (callform.yaml `state:`), or pass it as an absolute `--state` to use exactly that file wherever the plan is applied",
                state_path.display(),
                place.root.display(),
                file.display()
            ));
            return Ok(Outcome::Failure);
        }
        // Sealed with its checksum: `apply PLANFILE` refuses a plan that changed on disk.
        let sealed = state::checksum::seal(render::json(&plan).as_bytes());
        state::write_atomically(file, &sealed)?;
        out.status(&saved_note(&plan, file));
    }
    let outcome = exit_for(&plan, args.detailed_exitcode);
    super::discard((plan, prepared.manifests, prepared.state));
    Ok(outcome)
}

/// What `plan --out` says: how to apply the plan, where, and in which state.
fn saved_note(plan: &Plan, file: &std::path::Path) -> String {
    let mut note = format!(
        "Saved the plan to {}. Apply exactly this plan with: callform apply {}",
        file.display(),
        crate::settings::shell_quote(&file.display().to_string())
    );
    note.push_str(match plan.root.kind {
        crate::checkout::RootKind::Git => {
            "\n  (from this directory of any checkout of this repository: its paths are relative to the checkout)"
        }
        _ => "\n  (from this directory, or the same place in a copy of the project: its paths are relative to the project)",
    });
    if plan.sandbox {
        note.push_str("\n  It was made with --sandbox: it is applied in the sandbox (the built-in emulator), never at a vendor.");
    }
    if crate::state::postgres::is_postgres_location(&plan.state.path) {
        note.push_str(&format!(
            "\n  Its state is in PostgreSQL, {}: the variables it names are read wherever the plan is applied.",
            plan.state.path
        ));
    } else if plan.state.outside_checkout {
        note.push_str(&format!(
            "\n  Its state {} lies outside the project and is used as is wherever the plan is applied.",
            plan.state.path
        ));
    }
    note
}

/// `--show-requests`: the request each create would send, built with placeholder
/// credentials (so a reviewer needs none) and shown with secrets and numbers masked.
fn attach_requests(plan: &mut Plan, manifests: &Manifests, project: &Project) {
    const PLACEHOLDER: &str = "placeholder-credential";
    for p in plan.tasks.iter_mut().filter(|p| p.action.sends()) {
        let Some(task) = manifests.tasks.iter().find(|t| t.name == p.name) else {
            continue;
        };
        let block = project.providers.get(&task.provider);
        let credentials = crate::driver::Credentials {
            token: Some(PLACEHOLDER.into()),
            user_id: Some(
                block
                    .and_then(|b| b.user_id.clone())
                    .unwrap_or_else(|| "USER_ID".into()),
            ),
            access_key_id: Some(PLACEHOLDER.into()),
            access_key_secret: Some(PLACEHOLDER.into()),
            access_key: Some(PLACEHOLDER.into()),
            secret_key: Some(PLACEHOLDER.into()),
            region: block.and_then(|b| b.region.clone()),
        };
        let cx = crate::driver::Context {
            timezone: project.timezone.clone(),
            credentials,
        };
        let shown = |built: Result<crate::driver::Request, crate::driver::BuildError>| match built {
            Ok(mut req) => {
                req.secrets.push(PLACEHOLDER.into());
                crate::driver::display(&req, &p.endpoint, true)
            }
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        let steps = p.steps.clone().unwrap_or_default();
        if p.action.creates() {
            p.request = Some(shown(crate::driver::build(task, &cx)));
        }
        // The vendor's id is not known before the create: a stand-in shows where it goes.
        let task_id = p.task_id.clone().unwrap_or_else(|| "TASK_ID".into());
        if let (Some(load), Some(list)) = (&steps.load, &task.callees) {
            let in_create = if steps.create { load.in_create } else { 0 };
            if load.rows > in_create {
                let from = usize::try_from(load.first_row + in_create).unwrap_or(usize::MAX);
                p.batch_request = Some(match list.rows(from, load.batch_rows as usize) {
                    Ok(rows) => shown(crate::driver::build_load(
                        task,
                        &task_id,
                        &list.columns,
                        &rows,
                        &cx,
                    )),
                    Err(e) => serde_json::json!({"error": e.to_string()}),
                });
            }
        }
        if steps.start.as_ref().is_some_and(|s| s.via != "create") {
            if let Ok(Some(req)) = crate::driver::build_start(task, &task_id, &cx) {
                p.start_request = Some(shown(Ok(req)));
            }
        }
    }
}

/// 1 when blocked; with `--detailed-exitcode`, 2 when there is anything to review
/// (changes, orphaned or uncertain tasks); else 0.
pub fn exit_for(plan: &Plan, detailed: bool) -> Outcome {
    if plan.has_blocked() {
        Outcome::Failure
    } else if detailed && plan.needs_review() {
        Outcome::Changes
    } else {
        Outcome::Success
    }
}
