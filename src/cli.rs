//! The command line: clap definitions only (their doc comments are `--help`). `lib.rs`
//! dispatches a parsed command to the function under `commands/` that runs it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::Outcome;

/// Infrastructure-as-code for outbound robot-call campaigns: plan and apply call tasks
/// on xfyeta, longlonglong, Aliyun and Volcengine from YAML manifests kept in git.
#[derive(Debug, Parser)]
#[command(
    name = "callform",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No status lines on stderr (progress, notes); data, warnings and errors still print.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline and report every problem (exit 1 when any is an error).
    #[command(
        after_help = "Examples:\n  callform validate tasks/\n  callform validate --format github tasks/   # annotations in a GitHub Actions job"
    )]
    Validate(ValidateArgs),
    /// Show what apply would do: create, replace, blocked, uncertain, orphaned, no-op.
    #[command(
        after_help = "Examples:\n  callform plan tasks/\n  callform plan --out billing.plan tasks/          # saved for `callform apply billing.plan`\n  callform plan --format markdown tasks/ > plan.md # a pull-request comment\n  callform plan --sandbox --target renewal-* tasks/"
    )]
    Plan(PlanArgs),
    /// Create the planned tasks (from a manifest directory or a saved plan) and record them.
    #[command(
        after_help = "Examples:\n  callform apply tasks/                            # plan, ask, apply\n  callform apply billing.plan                      # exactly the reviewed plan\n  callform apply --sandbox --auto-approve tasks/   # against the built-in emulator"
    )]
    Apply(ApplyArgs),
    /// Stop the named tasks in the state (irreversible): plan, ask, send, record.
    #[command(
        after_help = "Examples:\n  callform stop renewal-reminder-2027q1 --dir tasks/\n  callform stop 'renewal-*' --dir tasks/ --auto-approve   # without asking (CI)"
    )]
    Stop(StopArgs),
    /// Read every task in state back from its vendor: status, progress, drift (read-only
    /// unless --write).
    #[command(
        after_help = "Examples:\n  callform refresh tasks/\n  callform refresh --detailed-exitcode tasks/   # exit 2 on drift\n  callform refresh --write tasks/               # record what the vendors said in the state\n  callform refresh --format json tasks/"
    )]
    Refresh(RefreshArgs),
    /// Show a saved plan file, or (without one) the tasks in the state.
    #[command(
        after_help = "Examples:\n  callform show billing.plan\n  callform show --format markdown billing.plan\n  callform show --dir tasks/                       # the tasks in the state"
    )]
    Show(ShowArgs),
    /// Look at and repair the state: list, show, rm, import, unlock.
    #[command(
        after_help = "Examples:\n  callform state list --dir tasks/\n  callform state show renewal-reminder-2027q1 --dir tasks/\n  callform state import renewal-reminder-2027q1 2027010400001 --dir tasks/\n  callform state rm renewal-reminder-2027q1 --dir tasks/\n  callform state mv renewal-reminder renewal-reminder-2027q1 --dir tasks/"
    )]
    State(StateArgs),
    /// Serve all four vendor APIs on loopback, for tests and trials (prints its address).
    #[command(
        after_help = "Examples:\n  callform emulator --listen 127.0.0.1:0\n  callform emulator --latency-ms 50 --throttle-rate 0.1"
    )]
    Emulator(EmulatorArgs),
    /// Print the JSON Schema of task manifests, for editors (or the reference, in Markdown).
    #[command(
        after_help = "Examples:\n  callform schema > .vscode/callform.schema.json\n  callform schema --format markdown   # the manifest reference, as in docs/manifest-reference.md"
    )]
    Schema(SchemaArgs),
    /// Start a project: callform.yaml, one commented task per vendor, .gitignore entries.
    #[command(
        after_help = "Examples:\n  callform init campaigns\n  cd campaigns && callform apply --sandbox --auto-approve"
    )]
    Init(InitArgs),
    /// Format manifests canonically, keeping comments (`--check` only reports).
    #[command(
        after_help = "Examples:\n  callform fmt tasks/\n  callform fmt --check tasks/   # in CI: exit 1 and a diff when a file is not formatted"
    )]
    Fmt(FmtArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  callform completions bash > ~/.local/share/bash-completion/completions/callform\n  callform completions zsh > ~/.zfunc/_callform\n  callform completions fish > ~/.config/fish/completions/callform.fish"
    )]
    Completions(CompletionsArgs),
}

impl Command {
    /// Folds `--dir DIR` into the positional DIR of `validate`, `plan` and `apply`, so
    /// that the commands read one field (clap has refused both at once).
    pub fn normalise(&mut self) {
        match self {
            Command::Validate(a) => {
                if let Some(d) = a.dir_flag.take() {
                    a.dir = d;
                }
            }
            Command::Plan(a) => {
                if let Some(d) = a.dir_flag.take() {
                    a.dir = d;
                }
            }
            Command::Apply(a) => {
                if let Some(d) = a.dir_flag.take() {
                    a.path = d;
                }
            }
            Command::Refresh(a) => {
                if let Some(d) = a.dir_flag.take() {
                    a.dir = d;
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    /// Human-readable, with the offending line and a caret on a terminal.
    Text,
    /// One JSON document, for tools.
    Json,
    /// GitHub Actions annotations (`::error file=…`).
    Github,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The manifest directory (searched recursively for *.yaml and *.yml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The manifest directory, as a flag (the same as DIR; as on `show` and `state`).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "dir")]
    pub dir_flag: Option<PathBuf>,
    /// How to report the problems.
    #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
    pub format: DiagFormat,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like, for people.
    Text,
    /// The plan as data (the saved-plan format, docs/plan-format.md).
    Json,
    /// A pull-request comment: summary, table of actions, collapsible diffs.
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The manifest directory (searched recursively for *.yaml and *.yml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The manifest directory, as a flag (the same as DIR; as on `show` and `state`).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "dir")]
    pub dir_flag: Option<PathBuf>,
    /// Save the plan to FILE, for `callform apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to render the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when the plan has changes (0 when none, 1 on errors or blocked changes).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only these tasks (repeatable; `*` and `?` globs).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Replace this changed task with a new vendor task (repeatable).
    #[arg(long, value_name = "NAME")]
    pub replace: Vec<String>,
    /// The state file (default: from callform.yaml, else beside the manifests).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Plan a stop (irreversible) for every task removed from the manifests, as
    /// callform.yaml's `on_remove: stop` does (without either, it is only a warning).
    #[arg(long)]
    pub stop_orphans: bool,
    /// Print, per task, the exact request its driver would send (secrets and numbers masked).
    #[arg(long)]
    pub show_requests: bool,
    /// Plan against the sandbox state (`*.sandbox.state.json`) used by `apply --sandbox`.
    #[arg(long)]
    pub sandbox: bool,
    /// Read every task back from its vendor first (as `callform refresh`), so that the
    /// plan acts on what the vendors say now. Without it, plan makes no network call.
    #[arg(long)]
    pub refresh: bool,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RefreshFormat {
    /// A table for people.
    Text,
    /// The reads and drift as data (docs/refresh-format.md).
    Json,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// The manifest directory (its manifests say what each task should be).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The manifest directory, as a flag (the same as DIR).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "dir")]
    pub dir_flag: Option<PathBuf>,
    /// The state file (default: from callform.yaml, else beside the manifests).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Record what the vendors said in the state (status, progress, when), and settle a
    /// start or pause whose outcome was unknown where the vendor's status proves it.
    #[arg(long)]
    pub write: bool,
    /// Exit 2 when a task drifted (0 when none, 1 when a read failed).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How to show the reads.
    #[arg(long, value_enum, default_value_t = RefreshFormat::Text)]
    pub format: RefreshFormat,
    /// Reads in flight at once, over all vendors (each vendor is also paced at its
    /// documented rate).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub parallelism: u32,
    /// Read only these tasks (repeatable; `*` and `?` globs).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A manifest directory, or a plan file saved with `callform plan --out FILE` (which is
    /// applied exactly, and refused when stale).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The manifest directory, as a flag (the same as PATH for a directory; as on `show`
    /// and `state`).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "path")]
    pub dir_flag: Option<PathBuf>,
    /// Apply without asking (required when there is no terminal to confirm on).
    #[arg(long)]
    pub auto_approve: bool,
    /// Creates in flight at once, over all providers (per-provider limits: callform.yaml).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub parallelism: u32,
    /// Apply only these tasks (repeatable; `*` and `?` globs). Not with a plan file.
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Replace this changed task with a new vendor task (repeatable). Not with a plan file.
    #[arg(long, value_name = "NAME")]
    pub replace: Vec<String>,
    /// Stop (irreversible) every task removed from the manifests, as callform.yaml's
    /// `on_remove: stop` does. Not with a plan file (it is `plan --stop-orphans`'s).
    #[arg(long)]
    pub stop_orphans: bool,
    /// Run against an in-process emulator with a state file of its own: no vendor account needed.
    #[arg(long)]
    pub sandbox: bool,
    /// The state file (default: from callform.yaml, else beside the manifests), or a
    /// PostgreSQL state: `'${CALLFORM_STATE_URL}?workspace=NAME'` (single-quoted: callform
    /// reads the variable; a literal password is refused).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// How long to wait for another run's lock on the state before giving up (`30s`, `5m`,
    /// `500ms`; a number is seconds). Default: fail at once, naming the holder.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `--lock-timeout`: `500ms`, `30s`, `5m`, or a number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: expected e.g. `30s`, `5m`, `500ms`"))?;
    let d = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("`{text}`: the unit is `ms`, `s` or `m`")),
    };
    if d > std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("`{text}` is longer than a day"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The tasks to stop, as the state names them (`*` and `?` globs).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// The manifest directory, to find callform.yaml and the state.
    #[arg(long, short = 'C', default_value = ".")]
    pub dir: PathBuf,
    /// The state file (default: from callform.yaml, else beside the manifests).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Stop without asking (required when there is no terminal to confirm on).
    #[arg(long)]
    pub auto_approve: bool,
    /// Requests in flight at once, over all providers.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub parallelism: u32,
    /// Stop tasks in the sandbox's state (`*.sandbox.state.json`).
    #[arg(long)]
    pub sandbox: bool,
    /// How long to wait for another run's lock on the state (as `apply --lock-timeout`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    pub lock_timeout: std::time::Duration,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Where to listen (loopback only); port 0 picks a free one. The address is printed.
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub listen: String,
    /// Added to every vendor request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0–1) of requests answered with a 5xx after the step was done (task created, batch stored, task started).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share (0–1) of requests answered with the vendor's throttling error.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Share (0–1) of requests whose connection is reset after the step was done.
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Share (0–1) of requests that hang after the step was done.
    #[arg(long, default_value_t = 0.0)]
    pub hang_rate: f64,
    /// How long a hang lasts, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub hang_ms: u64,
    /// Throttle task reads (queries, listings) above each vendor's documented rate
    /// (Aliyun 100/s; 20/s where no page gives one: callform's own pace), with the vendor's throttling error.
    #[arg(long)]
    pub enforce_read_qps: bool,
    /// Throttle task reads above N a second for every vendor (implies --enforce-read-qps).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub read_qps_limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `callform plan --out FILE`.
    pub plan: Option<PathBuf>,
    /// How to render the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// The manifest directory, to find callform.yaml and the state (without PLANFILE).
    #[arg(long, short = 'C', default_value = ".")]
    pub dir: PathBuf,
    /// The state file (without PLANFILE).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The sandbox's state (`*.sandbox.state.json`, used by `apply --sandbox`; without PLANFILE).
    #[arg(long)]
    pub sandbox: bool,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
    /// The manifest directory, to find callform.yaml (and the manifests, for import).
    #[arg(long, short = 'C', global = true, default_value = ".")]
    pub dir: PathBuf,
    /// The state file (default: from callform.yaml, else beside the manifests).
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The sandbox's state (`*.sandbox.state.json`, the one `apply --sandbox` writes);
    /// `import` records the task on the sandbox endpoint.
    #[arg(long, global = true)]
    pub sandbox: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the tasks in the state with their vendor ids, callees loaded and run state.
    List {
        /// `text` (a table), `json` (documented in the README) or `markdown`.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Show one task's record as JSON.
    Show {
        /// The task's name (its manifest's `name:`).
        name: String,
    },
    /// Forget a task (for an uncertain one that does not exist at the vendor: the next apply creates it).
    Rm {
        /// The task's name (its manifest's `name:`).
        name: String,
    },
    /// Record a manifest's task as created with the vendor's TASK_ID (resolves an uncertain task).
    Import {
        /// The task's name (its manifest's `name:`).
        name: String,
        /// The id the vendor gave the task (from its console or API).
        task_id: String,
        /// For a task callform has no record of: how many of the manifest's callees, from
        /// the first, the vendor task holds (`all`, or a count; `0` for none).
        #[arg(long, value_name = "N|all")]
        loaded: Option<Loaded>,
        /// For a task callform has no record of whose manifest says `running`: whether the
        /// vendor task runs.
        #[arg(long, value_name = "yes|no", value_parser = clap::builder::BoolishValueParser::new())]
        started: Option<bool>,
    },
    /// Move a task's record from OLD to NEW, after renaming its manifest (nothing is sent).
    Mv {
        /// The name the task is recorded under now.
        old: String,
        /// Its new name (the manifest's `name:`).
        new: String,
    },
    /// Resolve a task's pending callee batch: LOADED if the vendor task holds its rows (the
    /// next apply goes on after it), NOT-LOADED if it does not (the next apply sends it again).
    Batch {
        /// The task's name (its manifest's `name:`).
        name: String,
        /// The batch's index, as the plan names it.
        index: u32,
        /// What the vendor console shows: `loaded` or `not-loaded`.
        #[arg(value_enum)]
        outcome: BatchMark,
    },
    /// Record whether a task runs at the vendor: resolves an uncertain start, pause, resume
    /// or stop, or records one made in the vendor console.
    Start {
        /// The task's name (its manifest's `name:`).
        name: String,
        /// What the vendor console shows: `started` (it dials or waits for its hours),
        /// `not-started`, `paused` or `stopped`.
        #[arg(value_enum)]
        outcome: StartMark,
    },
    /// Resolve an update in place whose outcome is unknown: DONE if the vendor task holds
    /// the manifest's new values (the record takes that spec), NOT-DONE if it does not (the
    /// next apply sends the update again).
    Update {
        /// The task's name (its manifest's `name:`).
        name: String,
        /// What the vendor console (or `callform refresh`) shows: `done` or `not-done`.
        #[arg(value_enum)]
        outcome: UpdateMark,
    },
    /// Remove a stale lock left by a process that is gone.
    Unlock,
    /// Copy the state to another backend, exactly (lineage, serial, every record), under
    /// both locks; the source is left as it was. Refused while a run is pending, or when
    /// the target holds another state (unless --overwrite).
    Migrate {
        /// The backend to copy to: `file` or `postgres`.
        #[arg(long, value_enum)]
        to: MigrateTo,
        /// Where to copy to: a path, or a PostgreSQL location (`postgres://…?workspace=NAME`,
        /// `${VAR}` allowed). Default: callform.yaml's `state:` when it is of that backend
        /// and not the source (the source is then `--state`); for `file`,
        /// callform.state.json beside callform.yaml.
        #[arg(long, value_name = "LOCATION")]
        to_state: Option<PathBuf>,
        /// Replace a state the target holds of another lineage, or one ahead of the source
        /// (what it records is lost).
        #[arg(long)]
        overwrite: bool,
    },
}

/// The backend `state migrate` copies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateTo {
    File,
    Postgres,
}

/// What the vendor console shows of an update whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateMark {
    Done,
    NotDone,
}

/// What the vendor console shows of a pending batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchMark {
    Loaded,
    NotLoaded,
}

/// What the vendor console shows of a task's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartMark {
    Started,
    NotStarted,
    Paused,
    Stopped,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct ColorArgs {
    /// Never use colour (colour is also off when NO_COLOR is set or output is not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to start the project in (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// The manifest directory (searched recursively for *.yaml and *.yml), or one file.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Change nothing: list the files that are not formatted, with a diff, and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    /// JSON Schema (draft 2020-12), for editors and tools.
    Json,
    /// The manifest reference: every field of every vendor, for people.
    Markdown,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Json)]
    pub format: SchemaFormat,
}

/// `--loaded N|all`: `usize::MAX` stands for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded(pub usize);

impl std::str::FromStr for Loaded {
    type Err = String;
    fn from_str(s: &str) -> Result<Loaded, String> {
        if s == "all" {
            return Ok(Loaded(usize::MAX));
        }
        s.parse()
            .map(Loaded)
            .map_err(|_| format!("expected a count or `all`, found {s:?}"))
    }
}

#[cfg(test)]
mod lock_timeout_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn lock_timeouts_are_read_with_their_unit() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5h").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("2000m")
            .unwrap_err()
            .contains("longer than a day"));
    }
}
