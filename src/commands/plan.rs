//! `callform plan`: what apply would do, for review; `--out` saves it for `apply PLANFILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Outcome, PlanArgs, PlanFormat};
use crate::commands::validate::{load_manifests, print_diagnostics};
use crate::manifest::Manifests;
use crate::plan::{self, Plan};
use crate::project::Project;
use crate::output::plan as render;
use crate::state::{self, State};

/// The arguments that take a `callform state …` command, run from the current directory,
/// to the state this command uses: `--dir` unless it is `.`, and `--state` when it was
/// given or is the sandbox's (the state commands have no `--sandbox`). Hints append them,
/// so that a hint run verbatim acts on this state and never on a default one.
pub fn state_args(
    dir: &Path,
    state_override: Option<&Path>,
    sandbox: bool,
    state_path: &Path,
) -> String {
    let mut out = String::new();
    if dir != Path::new(".") {
        out.push_str(" --dir ");
        out.push_str(&shell_quote(&dir.display().to_string()));
    }
    if state_override.is_some() || sandbox {
        out.push_str(" --state ");
        out.push_str(&shell_quote(&state_path.display().to_string()));
    }
    out
}

/// `s` as one POSIX shell word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

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
pub fn prepare(
    dir: &Path,
    state_override: Option<&Path>,
    sandbox: bool,
    options: &plan::Options,
    color: bool,
) -> Result<Prepared, Outcome> {
    let (mut project, project_diags) = crate::project::load(dir);
    project.sandbox = sandbox;
    let state_path = state_override.map(Path::to_path_buf).unwrap_or_else(|| {
        if sandbox {
            project.sandbox_state_path()
        } else {
            project.state_path.clone()
        }
    });
    // The state (tens of megabytes for 100,000 tasks) is read while the manifests are: it
    // only reads, and is used only if the manifests are valid.
    let (manifests, state) = std::thread::scope(|scope| {
        let state = scope.spawn(|| state::load(&state_path));
        let manifests = load_manifests(dir, &project, project_diags);
        let state = state
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (manifests, state)
    });
    // Diagnostics go to stderr: stdout is the plan.
    let _ = print_diagnostics(
        &mut std::io::stderr().lock(),
        &manifests,
        crate::cli::DiagFormat::Text,
        color,
    );
    if manifests.has_errors() {
        let errors = manifests
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count();
        eprintln!("error: the manifests have {errors} error(s); no plan was made (run `callform validate` for details)");
        return Err(Outcome::Failure);
    }
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(Outcome::Failure);
        }
    };
    // An empty directory is a wrong path far more often than a project with nothing in it.
    if manifests.tasks.is_empty() {
        if state.as_ref().is_some_and(|s| !s.tasks.is_empty()) {
            eprintln!(
                "warning: {} holds no tasks: every task in the state {} is planned as orphaned",
                dir.display(),
                state_path.display()
            );
        } else {
            eprintln!(
                "error: {} holds no tasks (no *.yaml or *.yml task documents)\nhint: pass the directory that holds your task files",
                dir.display()
            );
            return Err(Outcome::Failure);
        }
    }
    let options = plan::Options {
        state_args: state_args(dir, state_override, sandbox, &state_path),
        ..options.clone()
    };
    let plan = match plan::plan(
        &manifests,
        &project,
        state.as_ref(),
        &state_path.display().to_string(),
        &dir.display().to_string(),
        &options,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(Outcome::Failure);
        }
    };
    Ok(Prepared {
        project,
        manifests,
        state_path,
        state,
        plan,
    })
}

pub fn run(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let color = args.color.stdout();
    let options = plan::Options {
        targets: args.target.clone(),
        replace: args.replace.clone(),
        salt: None,
        state_args: String::new(),
    };
    let prepared = match prepare(
        &args.dir,
        args.state.as_deref(),
        args.sandbox,
        &options,
        color,
    ) {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    let mut plan = prepared.plan;
    if args.show_requests {
        attach_requests(&mut plan, &prepared.manifests, &prepared.project);
    }
    print_plan(&plan, args.format, color)?;
    if let Some(out) = &args.out {
        if plan.has_blocked() {
            eprintln!(
                "error: the plan is blocked; it was not saved to {}",
                out.display()
            );
            return Ok(Outcome::Failure);
        }
        // Sealed with its checksum: `apply PLANFILE` refuses a plan that changed on disk.
        let sealed = state::checksum::seal(render::json(&plan).as_bytes());
        state::write_atomically(out, &sealed)?;
        eprintln!(
            "Saved the plan to {}. Apply exactly this plan with: callform apply {}",
            out.display(),
            out.display()
        );
    }
    let outcome = exit_for(&plan, args.detailed_exitcode);
    super::discard((plan, prepared.manifests, prepared.state));
    Ok(outcome)
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
        p.request = Some(match crate::driver::build(task, &cx) {
            Ok(mut req) => {
                req.secrets.push(PLACEHOLDER.into());
                crate::driver::display(&req, &p.endpoint, true)
            }
            Err(e) => serde_json::json!({"error": e.to_string()}),
        });
    }
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
