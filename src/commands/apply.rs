//! `callform apply [DIR | PLANFILE]`: create the planned tasks and record every result.
//!
//! The order matters: lock the state, fold any journal a dead run left, plan (or check a
//! saved plan is still exactly what would be done), ask, resolve every credential and
//! build every request — and only then send anything. A problem found before the first
//! send leaves the vendors and the state untouched.
//!
//! A saved plan is first placed in this checkout (`checkout::locate`): its manifests and
//! state are found from the working directory, never at the paths of the checkout it was
//! made in, and a sandbox plan runs in the sandbox.

use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, Finished, Limits};
use crate::checkout;
use crate::cli::{ApplyArgs, Outcome, StopArgs};
use crate::driver;
use crate::emulator;
use crate::env::Env;
use crate::error::{Hint, WithHint};
use crate::manifest::Vendor;
use crate::output::apply::Reporter;
use crate::output::plan as render;
use crate::output::Printer;
use crate::plan::{self, Plan};
use crate::project::Project;
use crate::settings::Settings;
use crate::state::{self, State};
use crate::transport::{Policy, Transport};
use crate::workspace;

/// Data on stdout ([`Printer::say`]: a closed pipe does not stop an apply).
macro_rules! say {
    ($out:expr, $($t:tt)*) => {{ $out.say(&format!($($t)*)); }};
}

/// A warning or error on stderr.
macro_rules! note {
    ($out:expr, $($t:tt)*) => {{ $out.problem(&format!($($t)*)); }};
}

/// A status line on stderr (silent with `--quiet`).
macro_rules! status {
    ($out:expr, $($t:tt)*) => {{ $out.status(&format!($($t)*)); }};
}

pub fn run(args: &ApplyArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, &[], out, env))
}

/// `callform stop NAME…`: an apply whose plan is the stop of the named recorded tasks and
/// nothing else; the same lock, journal, confirmation and exit codes.
pub fn stop(args: &StopArgs, out: &Printer, env: &dyn Env) -> anyhow::Result<Outcome> {
    let apply = ApplyArgs {
        path: args.dir.clone(),
        dir_flag: None,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        target: Vec::new(),
        replace: Vec::new(),
        stop_orphans: false,
        sandbox: args.sandbox,
        state: args.state.clone(),
        lock_timeout: args.lock_timeout,
        color: crate::cli::ColorArgs {
            no_color: args.color.no_color,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(&apply, &args.names, out, env))
}

/// `stop`: the names `callform stop` was given (empty for an apply).
async fn run_async(
    args: &ApplyArgs,
    stop: &[String],
    out: &Printer,
    env: &dyn Env,
) -> anyhow::Result<Outcome> {
    let color = out.stdout_palette().on;
    let stopping = !stop.is_empty();
    if stopping && args.path.is_file() {
        anyhow::bail!(
            "--dir {}: a file; `callform stop` takes the manifest directory (to find callform.yaml and the state)",
            args.path.display()
        );
    }
    let saved = if args.path.is_file() {
        if !args.target.is_empty() || !args.replace.is_empty() || args.stop_orphans {
            anyhow::bail!("a saved plan is applied exactly as it was made: --target, --replace and --stop-orphans belong to `callform plan`");
        }
        Some(workspace::read_plan(&args.path).map_err(|e| WithHint::new(&e))?)
    } else {
        None
    };
    // A saved plan is applied in this checkout: its paths are found from here.
    let here = match &saved {
        Some(p) => {
            if args.sandbox && !p.sandbox {
                let e = checkout::Misplaced::NotSandbox {
                    plan: args.path.clone(),
                };
                return Err(WithHint::new(&e).into());
            }
            let workdir = std::env::current_dir()?;
            let located = checkout::locate(
                &args.path,
                &workdir,
                &p.root,
                &p.manifest_dir,
                p.project_file.as_deref(),
                (&p.state.path, p.state.outside_checkout),
            )
            .map_err(|e| WithHint::new(&e))?;
            Some(located)
        }
        None => None,
    };
    let sandbox = args.sandbox || saved.as_ref().is_some_and(|p| p.sandbox);
    let dir = here
        .as_ref()
        .map(|h| h.manifest_dir.clone())
        .unwrap_or_else(|| args.path.clone());
    let settings = Settings::resolve(
        &dir,
        args.state.as_deref(),
        here.as_ref().map(|h| h.state.as_path()),
        sandbox,
        env,
    );
    let place = settings.place()?;
    if saved.as_ref().is_some_and(|p| p.sandbox) && !args.sandbox {
        status!(
            out,
            "{} was made with --sandbox: applying it in the sandbox (the built-in emulator on 127.0.0.1, state {}); nothing is sent to a vendor.",
            args.path.display(),
            settings.state.path.display()
        );
    }
    let state_path = settings.state.path.clone();
    // Hints name this run's state wherever it did not come from the defaults.
    let state_args = settings.state_args();
    let now = settings.now;
    let project = settings.project;
    let manifests = workspace::load_manifests(&dir, &project, settings.project_diagnostics, now);
    // Warnings are part of the plan (shown with it); errors stop here, except for a stop,
    // which reads only the state: a broken manifest must not keep a campaign dialling.
    if manifests.has_errors() && stopping {
        out.diagnostics(&manifests)?;
        note!(
            out,
            "warning: the manifests have errors; `callform stop` plans from the state alone"
        );
    } else if manifests.has_errors() {
        out.diagnostics(&manifests)?;
        note!(
            out,
            "error: the manifests have errors; nothing was applied (run `callform validate {}`)",
            dir.display()
        );
        return Ok(Outcome::Failure);
    }

    // The sandbox: an in-process emulator on loopback, and a state file of its own.
    let sandbox = if sandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let running = emulator::spawn(listener, emulator::Config::default()).await?;
        Some(running)
    } else {
        None
    };

    let backend = state::open(&state_path)?;
    let who = state::Who::from_env(env);
    let lock = match backend.lock_as("apply", &who) {
        Err(state::StateError::Locked { info, .. }) if !args.lock_timeout.is_zero() => {
            status!(
                out,
                "The state is locked by {}, running `{}`: waiting up to {:?} for it (--lock-timeout).",
                info.describe(),
                info.operation,
                args.lock_timeout
            );
            backend.lock_waiting("apply", &who, args.lock_timeout)?
        }
        other => other?,
    };
    if let Some(dead) = &lock.replaced_stale {
        status!(
            out,
            "note: `{}` by {} ended without releasing the lock; its records are recovered from the journal",
            dead.operation,
            dead.describe()
        );
    }
    let loaded = backend.recover(&lock)?;
    if let Some(folded) = &loaded.journal {
        if !folded.already_folded {
            status!(
                out,
                "Recovered the records of an interrupted run: {} created, {} uncertain.",
                folded.created.len(),
                folded.uncertain.len() + folded.interrupted.len()
            );
        }
    }
    let mut current = loaded.state;
    // A plan made with `--refresh` acted on what the vendors said then: the same records
    // go into the state before planning again, so the steps derived match the reviewed ones.
    if let (Some(p), Some(st)) = (&saved, current.as_mut()) {
        for (name, observed) in &p.refreshed {
            if let Some(rec) = st.tasks.get_mut(name) {
                if rec
                    .observed
                    .as_ref()
                    .is_none_or(|o| crate::state::is_later(&observed.at, &o.at))
                {
                    rec.observed = Some(observed.clone());
                    // As `plan --refresh` did with the same read.
                    let by_count = crate::refresh::settle_batch(rec);
                    if let (false, Some(check)) = (by_count, p.numbers_read.get(name)) {
                        crate::refresh::settle_by_numbers(rec, check);
                    }
                }
            }
        }
        // The uncertain updates the reviewed plan's reads settled, the same way.
        let salt = st.salt.clone();
        for (name, read) in &p.updates_read {
            let form = manifests
                .tasks
                .iter()
                .find(|t| &t.name == name)
                .map(|t| crate::canonical::canonical(t, &project.timezone_name, &salt).form);
            if let Some(rec) = st.tasks.get_mut(name) {
                crate::refresh::apply_update_read(rec, read, form.as_ref());
            }
        }
    }
    if saved.is_none() && !stopping {
        if let Err(e) = workspace::empty_directory(&manifests, current.as_ref(), &dir) {
            note!(out, "{}", crate::error::report(&e));
            return Ok(Outcome::Failure);
        }
    }
    // Uncertain creates looked up by name: a saved plan's own lookups (what was reviewed is
    // what is recorded), else read now (apply may read; a plain `plan` never does).
    // Only the tasks this apply acts on are read: its `--target`s, or the names to stop.
    let lookups = match (&saved, current.as_ref()) {
        (Some(p), _) => p.looked_up.clone(),
        (None, Some(st)) => {
            let base = sandbox.as_ref().map(emulator::Running::url);
            let scope = if stopping { stop } else { &args.target[..] };
            super::refresh::look_up_uncertain(
                st,
                &manifests.tasks,
                &project,
                base.as_deref(),
                scope,
            )
            .await
        }
        (None, None) => Default::default(),
    };
    let options = match &saved {
        Some(p) => plan::Options {
            targets: p.targets.clone(),
            replace: p.replace.clone(),
            salt: match &p.salt {
                Some(salt) => salt.clone(),
                None => crate::env::salt(env)?,
            },
            now,
            state_args,
            pending_run: None,
            running: None,
            lookups: lookups.clone(),
            stop_orphans: p.stop_orphans,
            stop: Vec::new(),
        },
        None => plan::Options {
            targets: args.target.clone(),
            replace: args.replace.clone(),
            salt: crate::env::salt(env)?,
            now,
            state_args,
            pending_run: None,
            running: None,
            lookups: lookups.clone(),
            stop_orphans: args.stop_orphans,
            stop: stop.to_vec(),
        },
    };
    let plan = match plan::plan(&manifests, &project, current.as_ref(), &place, &options) {
        Ok(p) => p,
        Err(e) => {
            note!(out, "error: {e}");
            return Ok(Outcome::Failure);
        }
    };
    if let Some(saved) = &saved {
        if let Err(why) =
            workspace::check_fresh(saved, &plan, current.as_ref(), loaded.journal.as_ref())
        {
            let hint = why.hint().unwrap_or_default();
            note!(
                out,
                "error: the saved plan {} is stale: {why}\nhint: {hint}",
                args.path.display()
            );
            return Ok(Outcome::Failure);
        }
    } else {
        let _ = out.data(&render::text(&plan, color));
    }
    if plan.has_blocked() {
        return Ok(Outcome::Failure);
    }
    if saved.is_some() {
        // The saved plan was reviewed with its warnings; the log of the apply shows them too.
        for w in plan.warning_lines() {
            note!(out, "warning: {w}");
        }
    }
    // Uncertain tasks of earlier runs: never sent, and they fail the apply until resolved
    // (a campaign may exist twice, or not at all, and only a person can tell).
    let earlier_uncertain: Vec<(String, Vec<String>)> = plan
        .tasks
        .iter()
        .filter(|t| t.action == plan::Action::Uncertain)
        .map(|t| {
            let mut lines: Vec<String> = t.reason.iter().cloned().collect();
            lines.extend(t.hints.iter().map(|h| format!("hint: {h}")));
            (t.name.clone(), lines)
        })
        .collect();
    if !plan.has_changes() {
        if saved.is_some() {
            say!(out, "No changes.");
        }
        crate::output::apply::earlier_uncertain(out, &earlier_uncertain);
        return Ok(if earlier_uncertain.is_empty() {
            Outcome::Success
        } else {
            Outcome::Failure
        });
    }
    if saved.is_none() && !args.auto_approve && !confirm(out, stopping)? {
        note!(out, "Apply cancelled: nothing was sent.");
        return Ok(Outcome::Failure);
    }

    let base = sandbox.as_ref().map(emulator::Running::url);
    let mut state = current.unwrap_or_else(|| {
        let fresh = State::new();
        State {
            salt: plan.salt.clone().unwrap_or(fresh.salt.clone()),
            ..fresh
        }
    });
    // Renames only move records: saved before any create is sent, atomically like every
    // save; a crash after it leaves them done, and the creates for the next run.
    let renamed: Vec<(String, String)> = plan
        .tasks
        .iter()
        .filter(|t| t.action == plan::Action::Rename)
        .filter_map(|t| t.moved_from.clone().map(|old| (old, t.name.clone())))
        .collect();
    if !renamed.is_empty() {
        for (old, new) in &renamed {
            if let Some(mut rec) = state.tasks.remove(old) {
                rec.moving_from(old);
                state.tasks.insert(new.clone(), rec);
            }
        }
        backend.save(&lock, &mut state)?;
    }
    let context_for =
        |provider: &str, vendor: Vendor| context(&project, provider, vendor, base.as_deref());
    let sends = match apply::prepare(&plan, &manifests, &state, &context_for) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                note!(out, "error: {e}");
            }
            note!(out, "Nothing was sent.");
            return Ok(Outcome::Failure);
        }
    };

    // Uncertain creates a lookup found: recorded in the run's journal, nothing sent.
    let adopted: Vec<(String, String, String)> = plan
        .tasks
        .iter()
        .filter(|t| t.action == plan::Action::Adopt)
        .filter_map(|t| Some((t.name.clone(), t.task_id.clone()?, t.adopted.clone()?)))
        .collect();
    let policy = policy(&project, &plan);
    let transport = Arc::new(
        Transport::new(policy, base.is_some() || all_loopback(&plan))
            .map_err(anyhow::Error::msg)?,
    );
    let limits = Limits {
        parallelism: args.parallelism as usize,
        per_provider: project
            .providers
            .iter()
            .filter_map(|(k, p)| p.parallelism.map(|n| (k.clone(), n)))
            .collect(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&cancel), *out);

    // Preflight: one read per provider proves its credentials before anything is sent.
    if let Err(failures) = apply::preflight(&sends, &transport, &cancel).await {
        crate::output::apply::preflight_failed(out, &failures, &project);
        return Ok(Outcome::Failure);
    }
    let besides = crate::output::apply::Besides {
        renamed: &renamed,
        earlier_uncertain: &earlier_uncertain,
        adopted: &adopted,
    };
    if sends.is_empty() && adopted.is_empty() {
        let _ = lock.release();
        if let Some(running) = sandbox {
            running.shutdown().await;
        }
        crate::output::apply::summary(
            out,
            &[],
            &besides,
            &project,
            false,
            &options.state_args,
            None,
        );
        return Ok(outcome(&[], false, earlier_uncertain.len()));
    }
    let total: usize = sends.iter().map(apply::TaskRun::requests).sum();
    let progress = Reporter::new(total, out);
    let journal = backend.begin(&lock, &mut state).await?;
    let run_log = journal.location();
    if !adopted.is_empty() {
        let at = state::now_rfc3339();
        let entries = adopted
            .iter()
            .map(|(name, task_id, how)| state::Entry::Adopt {
                name: name.clone(),
                task_id: task_id.clone(),
                at: at.clone(),
                how: how.clone(),
            })
            .collect();
        // One write, one sync for every adoption; a failure leaves them uncertain, as
        // they were, and sends nothing.
        if let Err(e) = journal.record_all(entries).await {
            note!(
                out,
                "error: the adoptions could not be recorded, so nothing was sent: {e}"
            );
            let _ = journal.commit(&mut state).await;
            let _ = lock.release();
            return Ok(Outcome::Failure);
        }
    }
    let ran = apply::run(
        journal,
        state,
        sends,
        transport,
        &limits,
        Arc::clone(&cancel),
        &progress,
    )
    .await;
    progress.done();
    let finished = ran.finished;
    if let Err(e @ state::StateError::Rescued { .. }) = &ran.committed {
        note!(out, "error: {e}");
    } else if let Err(e) = &ran.committed {
        note!(out, "error: the results below are in the journal but could not be written to the state: {e}\nhint: the next `callform apply` or `callform state` command folds them in; do not delete the journal");
    }
    if let Err(e) = lock.verify() {
        note!(out, "warning: {e}");
    }
    let _ = lock.release();
    if let Some(running) = sandbox {
        running.shutdown().await;
    }
    let unsaved = ran.committed.is_err().then_some(run_log);
    let stopped = cancel.load(Ordering::SeqCst);
    crate::output::apply::summary(
        out,
        &finished,
        &besides,
        &project,
        stopped,
        &options.state_args,
        unsaved.as_deref(),
    );
    let outcome = outcome(&finished, stopped, earlier_uncertain.len());
    Ok(if ran.committed.is_err() {
        Outcome::Failure
    } else {
        outcome
    })
}

/// The provider's driver context and where its requests go.
pub(crate) fn context(
    project: &Project,
    provider: &str,
    vendor: Vendor,
    sandbox: Option<&str>,
) -> Result<(driver::Context, String), String> {
    let credentials = match sandbox {
        Some(_) => sandbox_credentials(
            vendor,
            project
                .providers
                .get(provider)
                .and_then(|p| p.region.clone()),
        ),
        None => project.credentials(provider, vendor)?,
    };
    let base_url = match sandbox {
        Some(url) => url.to_string(),
        None => {
            let endpoint = project.endpoint(provider, vendor);
            crate::project::check_endpoint(&endpoint).map_err(|e| {
                format!(
                    "provider `{provider}`: the endpoint from {} is refused: {e}",
                    crate::project::endpoint_source(provider, vendor)
                )
            })?;
            endpoint
        }
    };
    Ok((
        driver::Context {
            timezone: project.timezone.clone(),
            credentials,
        },
        base_url,
    ))
}

/// The emulator's sandbox credentials, whatever callform.yaml says.
fn sandbox_credentials(vendor: Vendor, region: Option<String>) -> driver::Credentials {
    let c = emulator::Credentials::sandbox();
    let mut out = driver::Credentials {
        region,
        ..Default::default()
    };
    vendor.def().sandbox_credentials(&c, &mut out);
    out
}

fn all_loopback(plan: &Plan) -> bool {
    plan.tasks
        .iter()
        .filter(|t| t.action.sends())
        .all(|t| t.endpoint.starts_with("http://"))
}

/// Timeouts: the shortest configured for the providers in this run, else the defaults.
fn policy(project: &Project, plan: &Plan) -> Policy {
    let mut policy = Policy::default();
    for t in plan.tasks.iter().filter(|t| t.action.sends()) {
        if let Some(p) = project.providers.get(&t.provider) {
            if let Some(ms) = p.connect_timeout_ms {
                policy.connect_timeout =
                    policy.connect_timeout.min(Duration::from_millis(ms.max(1)));
            }
            if let Some(ms) = p.request_timeout_ms {
                policy.request_timeout =
                    policy.request_timeout.min(Duration::from_millis(ms.max(1)));
            }
        }
    }
    policy
}

fn confirm(out: &Printer, stopping: bool) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        if stopping {
            anyhow::bail!("there is no terminal to confirm on: review the plan above and pass --auto-approve; nothing was sent");
        }
        anyhow::bail!("there is no terminal to confirm on: review the plan and pass --auto-approve, or apply a saved plan file");
    }
    if stopping {
        out.prompt("\nDo you want to stop these tasks? A stop cannot be undone.\n  Only 'yes' will be accepted: ")?;
    } else {
        out.prompt("\nDo you want to create these tasks? They will dial real people.\n  Only 'yes' will be accepted: ")?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// First Ctrl-C or SIGTERM: no new sends; in-flight ones finish and are recorded. A second
/// one exits at once (the journal already holds every intent; the next run folds it).
fn watch_signals(cancel: Arc<AtomicBool>, out: Printer) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let got = match term.as_mut() {
                Some(t) => {
                    tokio::select! { r = tokio::signal::ctrl_c() => r.is_ok(), r = t.recv() => r.is_some() }
                }
                None => tokio::signal::ctrl_c().await.is_ok(),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got {
                return;
            }
            if cancel.swap(true, Ordering::SeqCst) {
                note!(
                    out,
                    "Stopping now. Requests in flight are recorded as uncertain by the next run."
                );
                std::process::exit(crate::exit_code(Outcome::Interrupted).into());
            }
            status!(out, "Stopping: no new request is sent; waiting for those in flight to be answered and recorded (signal again to stop at once).");
        }
    });
}

/// The exit code of a run: 1 when anything failed, is uncertain or was not sent, the run
/// was stopped, or uncertain tasks of earlier runs (`earlier_uncertain`) are unresolved.
fn outcome(finished: &[Finished], stopped: bool, earlier_uncertain: usize) -> Outcome {
    let bad = finished.iter().filter(|f| !f.result.is_done()).count();
    if bad > 0 || stopped || earlier_uncertain > 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}
