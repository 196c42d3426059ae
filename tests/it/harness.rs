//! The harness shared by the integration tests.
//!
//! - [`Callform`]: the built binary, run as a user runs it, checked for panics and leaks;
//! - [`examples`] and [`copy_dir`]: temporary project copies, without state;
//! - [`emulator`]: one emulator per test binary on 127.0.0.1, with canary credentials, and
//!   its control endpoints (`/_emulator/faults`, `/_emulator/tasks`, `/_emulator/requests`).
//!
//! Tests run in parallel against the one emulator: each uses task names of its own (a
//! prefix, see [`rename_tasks`]) and fault rules that match those names only.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

// Canary credentials: the shared emulator accepts only these, and no output of callform,
// nor any file it writes, may contain a secret among them.
pub(crate) const XF_TOKEN: &str = "CANARY-xf-Token-91c2";
pub(crate) const LLL_TOKEN: &str = "CANARY-lll-Token-44e1";
pub(crate) const LLL_USER: &str = "5832d184-dd53-42a0-8ace-0bf8d660f4cc";
pub(crate) const ALI_ID: &str = "LTAICanaryKeyId";
pub(crate) const ALI_SECRET: &str = "CANARY-ali-Secret-7d9e";
pub(crate) const VOLC_AK: &str = "AKLTCanaryAccess";
pub(crate) const VOLC_SK: &str = "CANARY-volc-Secret-3b8f";
pub(crate) const CANARIES: [&str; 5] = [
    XF_TOKEN,
    LLL_TOKEN,
    ALI_SECRET,
    VOLC_SK,
    crate::pg::PASSWORD,
];

/// How long a `hang_after_create` fault hangs; every client in the tests times out first.
pub(crate) const HANG: Duration = Duration::from_secs(3);

/// The variables that point callform at a vendor; removed from every run unless set.
const ENDPOINT_VARS: [&str; 4] = [
    "CALLFORM_XFYETA_ENDPOINT",
    "CALLFORM_LONGLONGLONG_ENDPOINT",
    "CALLFORM_ALIYUN_ENDPOINT",
    "CALLFORM_VOLCENGINE_ENDPOINT",
];

// ---- the shared emulator ------------------------------------------------------------

/// The emulator every test of this binary shares, serving on a runtime of its own.
pub(crate) struct Emulator {
    runtime: tokio::runtime::Runtime,
    url: String,
}

/// Starts the shared emulator on first use. Safe to call from sync and async tests.
pub(crate) fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("emulator runtime");
        let (tx, rx) = std::sync::mpsc::channel();
        // Spawned, not blocked on: an async test may be the first to ask.
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let config = callform::emulator::Config {
                credentials: callform::emulator::Credentials {
                    xfyeta_token: XF_TOKEN.into(),
                    longlonglong_user_id: LLL_USER.into(),
                    longlonglong_token: LLL_TOKEN.into(),
                    aliyun_access_key_id: ALI_ID.into(),
                    aliyun_access_key_secret: ALI_SECRET.into(),
                    volcengine_access_key: VOLC_AK.into(),
                    volcengine_secret_key: VOLC_SK.into(),
                },
                faults: callform::emulator::Faults {
                    hang: HANG,
                    ..Default::default()
                },
                ..Default::default()
            };
            let running = callform::emulator::spawn(listener, config)
                .await
                .expect("spawn the emulator");
            tx.send(running.url()).expect("report the address");
            // Serve for as long as the test binary lives.
            std::future::pending::<()>().await;
            drop(running);
        });
        let url = rx.recv().expect("the emulator started");
        Emulator { runtime, url }
    })
}

/// An HTTP client for the emulator. No proxy from the environment may see these requests.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

impl Emulator {
    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// GETs a control endpoint and reads its JSON answer. From sync tests only.
    pub(crate) fn get(&self, path: &str) -> Value {
        self.runtime.block_on(async {
            client()
                .get(format!("{}{path}", self.url))
                .send()
                .await
                .expect("an answer from the emulator")
                .json::<Value>()
                .await
                .expect("a JSON answer from the emulator")
        })
    }

    /// Adds a fault rule (`POST /_emulator/faults`). From sync tests only.
    pub(crate) fn post_fault(&self, rule: Value) {
        self.runtime.block_on(async {
            let r = client()
                .post(format!("{}/_emulator/faults", self.url))
                .json(&rule)
                .send()
                .await
                .expect("an answer from the emulator");
            let status = r.status();
            assert!(
                status.is_success(),
                "fault rule refused: {}",
                r.text().await.unwrap_or_default()
            );
        });
    }

    /// POSTs `body` to a control endpoint and reads its status and JSON answer.
    pub(crate) fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.runtime.block_on(async {
            let r = client()
                .post(format!("{}{path}", self.url))
                .json(&body)
                .send()
                .await
                .expect("an answer from the emulator");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        })
    }

    /// Removes the fault rules matching `pattern` (`DELETE /_emulator/faults?match=`).
    pub(crate) fn delete_faults(&self, pattern: &str) {
        self.runtime.block_on(async {
            let r = client()
                .delete(format!("{}/_emulator/faults", self.url))
                .query(&[("match", pattern)])
                .send()
                .await
                .expect("an answer from the emulator");
            assert!(r.status().is_success(), "fault rules not deleted");
        });
    }

    /// Entries of a control list (`/_emulator/tasks`, `/_emulator/requests`) whose `field`
    /// starts with `prefix`.
    pub(crate) fn listed(&self, path: &str, field: &str, prefix: &str) -> Vec<Value> {
        self.get(path)
            .as_array()
            .expect("a list from the emulator")
            .iter()
            .filter(|t| t[field].as_str().unwrap_or("").starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Tasks the emulator created whose vendor-visible name starts with `prefix`.
    pub(crate) fn tasks(&self, prefix: &str) -> Vec<Value> {
        self.listed("/_emulator/tasks", "name", prefix)
    }
}

// ---- running the binary -------------------------------------------------------------

/// The built `callform`, run as a user runs it: no colour, no vendor endpoint and no
/// state path from the environment unless a test sets one.
pub(crate) struct Callform {
    args: Vec<OsString>,
    /// In order; `None` removes the variable.
    envs: Vec<(OsString, Option<OsString>)>,
    clear_env: bool,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
    terminal: bool,
}

/// What a run left: its exit code and its output, both checked for panics and canaries.
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Callform {
    pub(crate) fn new() -> Callform {
        let mut envs = vec![("NO_COLOR".into(), Some("1".into()))];
        for v in ["CALLFORM_STATE", "GITHUB_WORKSPACE"]
            .into_iter()
            .chain(ENDPOINT_VARS)
        {
            envs.push((v.into(), None));
        }
        Callform {
            args: Vec::new(),
            envs,
            clear_env: false,
            cwd: None,
            timeout: None,
            terminal: false,
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Callform {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Callform
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The directory callform works on, as the next argument.
    pub(crate) fn dir(self, dir: impl AsRef<Path>) -> Callform {
        self.arg(dir.as_ref())
    }

    /// The working directory of the run.
    pub(crate) fn cwd(mut self, dir: &Path) -> Callform {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Callform {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// An empty environment but `NO_COLOR` (set the rest with [`Callform::env`]).
    pub(crate) fn env_clear(mut self) -> Callform {
        self.clear_env = true;
        self.envs = vec![("NO_COLOR".into(), Some("1".into()))];
        self
    }

    /// Every vendor pointed at the shared emulator, with the canary credentials.
    pub(crate) fn emulator(mut self) -> Callform {
        let url = emulator().url();
        for v in ENDPOINT_VARS {
            self = self.env(v, url);
        }
        for (k, v) in [
            ("XFYETA_TOKEN", XF_TOKEN),
            ("LONGLONGLONG_TOKEN", LLL_TOKEN),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ALI_ID),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ALI_SECRET),
            ("VOLCENGINE_ACCESS_KEY", VOLC_AK),
            ("VOLCENGINE_SECRET_KEY", VOLC_SK),
        ] {
            self = self.env(k, v);
        }
        self
    }

    /// Kills the run after `limit` (the run then fails the test).
    pub(crate) fn timeout(mut self, limit: Duration) -> Callform {
        self.timeout = Some(limit);
        self
    }

    /// Runs on a pseudo-terminal (through util-linux `script`), as a user at a terminal
    /// sees it: stdout and stderr arrive together in [`Output::stdout`], with `\n` lines.
    pub(crate) fn terminal(mut self) -> Callform {
        self.terminal = true;
        self
    }

    /// The command [`Callform::run`] runs, for a test that spawns and signals it itself.
    pub(crate) fn command(&self) -> Command {
        let bin = OsStr::new(env!("CARGO_BIN_EXE_callform"));
        let mut cmd = if self.terminal {
            let mut line = quoted(bin);
            for a in &self.args {
                line.push(' ');
                line.push_str(&quoted(a));
            }
            let mut script = Command::new("script");
            script
                .args(["-q", "-e", "-c"])
                .arg(line)
                .arg("/dev/null")
                .stdin(std::process::Stdio::null());
            script
        } else {
            let mut cmd = Command::new(bin);
            cmd.args(&self.args);
            cmd
        };
        if self.clear_env {
            cmd.env_clear();
        }
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs to the end. Fails the test if callform panicked, was killed, or printed a
    /// canary secret.
    pub(crate) fn run(self) -> Output {
        let mut cmd = self.command();
        let out = match self.timeout {
            Some(limit) => assert_cmd::Command::from_std(cmd).timeout(limit).output(),
            None => cmd.output(),
        }
        .expect("run callform");
        let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if self.terminal {
            stdout = stdout.replace("\r\n", "\n");
            assert!(!stdout.contains("panicked"), "callform panicked: {stdout}");
        }
        assert!(!stderr.contains("panicked"), "callform panicked: {stderr}");
        let Some(code) = out.status.code() else {
            panic!("callform was killed (timeout or signal): {stderr}");
        };
        assert_ne!(code, 101, "callform panicked: {stdout}{stderr}");
        for secret in CANARIES {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "a secret leaked: {stdout}{stderr}"
            );
        }
        Output {
            code,
            stdout,
            stderr,
        }
    }
}

/// `arg` in single quotes, for a POSIX shell.
fn quoted(arg: &OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', "'\\''"))
}

/// `callform` as a user runs it (short for [`Callform::new`]).
pub(crate) fn bin() -> Callform {
    Callform::new()
}

/// Runs to the end: (exit code, stdout, stderr), checked as [`Callform::run`] checks.
pub(crate) fn run(cmd: Callform) -> (i32, String, String) {
    let out = cmd.run();
    (out.code, out.stdout, out.stderr)
}

// ---- projects -----------------------------------------------------------------------

/// A file of the repository, by its path from the crate root.
pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The names of the example tasks.
pub(crate) const EXAMPLE_TASKS: [&str; 5] = [
    "delivery-notice",
    "overdue-notice-jan",
    "payment-followup",
    "renewal-reminder-2027q1",
    "satisfaction-survey",
];

/// Records every example task as created, the way `state import` does after a console check.
pub(crate) fn import_all(tasks: &Path) {
    for (i, name) in EXAMPLE_TASKS.iter().enumerate() {
        let (code, _, err) = run(bin()
            .args([
                "state",
                "import",
                name,
                &format!("id-{i}"),
                "--loaded",
                "all",
                "--started",
                "yes",
                "--dir",
            ])
            .arg(tasks));
        assert_eq!(code, 0, "{err}");
    }
}

/// A copy of the examples: (tempdir guard, tasks dir, state path).
pub(crate) fn examples() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    copy_dir(&repo("examples"), tmp.path());
    let tasks = tmp.path().join("tasks");
    let state = tmp.path().join("callform.state.json");
    (tmp, tasks, state)
}

/// Copies a directory tree, leaving out state files (each test starts without state).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().contains("state.json") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Prefixes every task name and vendor-visible name of the manifests below `dir`, so a
/// test's tasks are its own at the shared emulator.
pub(crate) fn rename_tasks(dir: &Path, prefix: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rename_tasks(&path, prefix);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut out = String::new();
            for line in text.lines() {
                let renamed = if let Some(rest) = line.strip_prefix("name: ") {
                    format!("name: {prefix}{rest}")
                } else if let Some(rest) = line.strip_prefix("  task_name: ") {
                    format!("  task_name: {prefix}{rest}")
                } else if let Some(rest) = line.strip_prefix("  name: ") {
                    format!("  name: {prefix}{rest}")
                } else {
                    line.to_string()
                };
                out.push_str(&renamed);
                out.push('\n');
            }
            // Tasks without a vendor-visible name get one, so the emulator shows the prefix.
            if !out.contains("  task_name: ") && !out.contains("  name: ") {
                out = out.replace("spec:\n", &format!("spec:\n  name: {prefix}unnamed\n"));
                if out.contains("vendor: xfyeta") || out.contains("vendor: aliyun") {
                    out = out.replace(
                        &format!("  name: {prefix}unnamed\n"),
                        &format!("  task_name: {prefix}unnamed\n"),
                    );
                }
            }
            std::fs::write(&path, out).unwrap();
        }
    }
}

/// Runs `cmd` (an apply with `--lock-timeout`) until it says it waits for the lock, then
/// calls `release` (which gives the lock up) and waits for the end: the exit code and
/// stderr, checked for panics and secrets. stdout is discarded.
pub(crate) fn released_while_waiting(
    mut cmd: std::process::Command,
    release: impl FnOnce(),
) -> (i32, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run callform");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut err = String::new();
    let mut release = Some(release);
    for line in lines.by_ref() {
        let line = line.unwrap();
        err.push_str(&line);
        err.push('\n');
        if line.contains("waiting up to") {
            if let Some(release) = release.take() {
                release();
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(release.is_none(), "it never said it waits: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for secret in CANARIES {
        assert!(!err.contains(secret), "a secret leaked: {err}");
    }
    (status.code().unwrap_or(-1), err)
}
