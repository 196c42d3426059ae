//! `callform plan`: what apply would do, for review; `--out` saves it for `apply PLANFILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Outcome, PlanArgs, PlanFormat};
use crate::commands::validate::{load, print_diagnostics};
use crate::manifest::Manifests;
use crate::plan::{self, Plan};
use crate::project::Project;
use crate::render;
use crate::state::{self, State};

/// Everything a plan is made from, and the plan.
pub struct Prepared {
    pub project: Project,
    pub manifests: Manifests,
    pub state_path: PathBuf,
    pub state: Option<State>,
    pub plan: Plan,
}

/// Loads project, manifests and state and makes the plan. Problems are printed to stderr
/// and come back as `Err(Outcome::Failure)`.
pub fn prepare(dir: &Path, state_override: Option<&Path>, options: &plan::Options, color: bool) -> Result<Prepared, Outcome> {
    let (project, manifests) = load(dir);
    // Diagnostics go to stderr: stdout is the plan.
    let _ = print_diagnostics(&mut std::io::stderr().lock(), &manifests, crate::cli::DiagFormat::Text, color);
    if manifests.has_errors() {
        let errors = manifests.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!("error: the manifests have {errors} error(s); no plan was made (run `callform validate` for details)");
        return Err(Outcome::Failure);
    }
    let state_path = state_override.map(Path::to_path_buf).unwrap_or_else(|| project.state_path.clone());
    let state = match state::load(&state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(Outcome::Failure);
        }
    };
    let plan = match plan::plan(
        &manifests,
        &project,
        state.as_ref(),
        &state_path.display().to_string(),
        &dir.display().to_string(),
        options,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(Outcome::Failure);
        }
    };
    Ok(Prepared { project, manifests, state_path, state, plan })
}

pub fn run(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let color = args.color.stdout();
    let options = plan::Options { targets: args.target.clone(), replace: args.replace.clone() };
    let prepared = match prepare(&args.dir, args.state.as_deref(), &options, color) {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    let plan = prepared.plan;
    print_plan(&plan, args.format, color)?;
    if let Some(out) = &args.out {
        if plan.has_blocked() {
            eprintln!("error: the plan is blocked; it was not saved to {}", out.display());
            return Ok(Outcome::Failure);
        }
        state::write_atomically(out, render::json(&plan).as_bytes())?;
        eprintln!("Saved the plan to {}. Apply exactly this plan with: callform apply {}", out.display(), out.display());
    }
    Ok(exit_for(&plan, args.detailed_exitcode))
}

pub fn print_plan(plan: &Plan, format: PlanFormat, color: bool) -> std::io::Result<()> {
    let text = match format {
        PlanFormat::Text => render::text(plan, color),
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => render::markdown(plan),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// 1 when blocked; with `--detailed-exitcode`, 2 when there are changes; else 0.
pub fn exit_for(plan: &Plan, detailed: bool) -> Outcome {
    if plan.has_blocked() {
        Outcome::Failure
    } else if detailed && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    }
}
