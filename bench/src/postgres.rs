//! `bench/run --postgres`: the PostgreSQL state against the file state, in the same run.
//!
//! Starts a throwaway PostgreSQL cluster the way the integration tests do (initdb into a
//! scratch directory, a free port on 127.0.0.1, as the `postgres` user when run as root),
//! but durable: `fsync` and `synchronous_commit` on, as a team's server would run, since the
//! file state it is compared with syncs every journal write. Then:
//!
//! - **apply**: 10,000 creates (`--quick`: 1,000) against the emulator, once on a file
//!   state and once on a PostgreSQL workspace of its own, alternating, three rounds: best
//!   and ratio;
//! - **plan**: a no-change plan of 100,000 tasks (`--quick`: 10,000) on a state that a real
//!   apply wrote to a file and `callform state migrate --to postgres` copied, so both
//!   states are the same; seven rounds, alternating: best and ratio.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{
    apply_in, emulator_env, generate, measure, start_emulator, tempdir, Measured, Workload,
};

const USER: &str = "callform";

struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    port: u16,
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn server_cmd(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn bindir() -> PathBuf {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&d) {
            return d;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has(d))
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("the PostgreSQL server binaries (initdb, pg_ctl) were not found: install them with `apt-get install postgresql`")
    })
}

fn check(what: &str, out: std::io::Result<std::process::Output>) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    fn start() -> Cluster {
        let bindir = bindir();
        let dir = tempdir("pg");
        if as_root() {
            check(
                "chown the cluster directory",
                Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(&dir)
                    .output(),
            );
        }
        check(
            "initdb",
            server_cmd(&bindir.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--no-instructions"])
                .output(),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        check(
            "pg_ctl start",
            server_cmd(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(dir.join("data"))
                .arg("-l")
                .arg(dir.join("log"))
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=100",
                    dir.display()
                ))
                .args(["-w", "-t", "60", "start"])
                .output(),
        );
        let cluster = Cluster { dir, bindir, port };
        check(
            "createdb",
            server_cmd(&cluster.bindir.join("psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    USER,
                    "-d",
                    "postgres",
                    "-c",
                    "CREATE DATABASE callform",
                ])
                .stdout(Stdio::null())
                .output(),
        );
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/callform", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = server_cmd(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Points the project of `tasks` at `workspace` of the cluster.
fn use_postgres(tasks: &Path, workspace: &str) {
    let yaml = tasks
        .parent()
        .expect("the project directory")
        .join("callform.yaml");
    let text = std::fs::read_to_string(&yaml).expect("read callform.yaml");
    let text = text.replace(
        "state: callform.state.json\n",
        &format!("state: {{backend: postgres, url: \"${{CALLFORM_STATE_URL}}\", workspace: {workspace}}}\n"),
    );
    std::fs::write(&yaml, text).expect("write callform.yaml");
}

fn best(runs: &[Measured]) -> &Measured {
    runs.iter()
        .min_by(|a, b| a.secs.total_cmp(&b.secs))
        .expect("at least one run")
}

fn line(label: &str, file: &[Measured], pg: &[Measured], target: f64) {
    let (f, p) = (best(file), best(pg));
    let ratio = p.secs / f.secs;
    let all = |runs: &[Measured]| {
        runs.iter()
            .map(|m| format!("{:.2}", m.secs))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{label}: file {:.3} s, {:.0} MB (exit {}); postgres {:.3} s, {:.0} MB (exit {}); postgres/file {ratio:.2}× (target ≤ {target}×: {})",
        f.secs,
        f.peak_mb,
        f.code,
        p.secs,
        p.peak_mb,
        p.code,
        if ratio <= target { "met" } else { "MISSED" }
    );
    println!("  every round: file {} / postgres {}", all(file), all(pg));
}

pub fn bench(callform: &Path, quick: bool) {
    let (creates, planned) = if quick {
        (1_000, 10_000)
    } else {
        (10_000, 100_000)
    };
    let cluster = Cluster::start();
    let url = cluster.url();

    // Apply: a fresh project and emulator per run, file and postgres alternating.
    let (mut file_runs, mut pg_runs) = (Vec::new(), Vec::new());
    for round in 0..3 {
        for on_pg in [false, true] {
            let tmp = tempdir("pg-apply");
            let tasks = generate(&tmp, creates, Workload::Synthetic);
            if on_pg {
                use_postgres(&tasks, &format!("apply-{round}"));
            }
            let (mut emulator, emu_url) = start_emulator(callform, 0);
            let mut cmd = Command::new(callform);
            cmd.args(["apply", "--auto-approve", "--parallelism", "10"])
                .arg(&tasks)
                .env("CALLFORM_STATE_URL", &url);
            emulator_env(&mut cmd, &emu_url);
            let m = measure(&mut cmd);
            let _ = emulator.kill();
            let _ = emulator.wait();
            let _ = std::fs::remove_dir_all(&tmp);
            if on_pg { &mut pg_runs } else { &mut file_runs }.push(m);
        }
    }
    line(
        &format!("apply {creates} creates, parallelism 10, emulator in its own process"),
        &file_runs,
        &pg_runs,
        1.5,
    );

    // Plan: one state, applied to a file and migrated to postgres.
    let file_dir = tempdir("pg-plan-file");
    let file_tasks = generate(&file_dir, planned, Workload::Synthetic);
    let (mut emulator, emu_url) = start_emulator(callform, 0);
    let applied = apply_in(callform, &file_tasks, &emu_url, 10);
    assert_eq!(
        applied.code, 0,
        "the apply that writes the bench state failed"
    );
    let pg_dir = tempdir("pg-plan-pg");
    let pg_tasks = generate(&pg_dir, planned, Workload::Synthetic);
    use_postgres(&pg_tasks, "plan");
    let mut migrate = Command::new(callform);
    migrate
        .args(["state", "migrate", "--to", "postgres", "--state"])
        .arg(file_dir.join("callform.state.json"))
        .arg("--dir")
        .arg(&pg_tasks)
        .env("CALLFORM_STATE_URL", &url);
    let migrated = measure(&mut migrate);
    assert_eq!(migrated.code, 0, "state migrate --to postgres failed");
    let (mut file_runs, mut pg_runs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (tasks, runs) in [(&file_tasks, &mut file_runs), (&pg_tasks, &mut pg_runs)] {
            let mut plan = Command::new(callform);
            plan.args(["plan", "--detailed-exitcode"])
                .arg(tasks)
                .env("CALLFORM_STATE_URL", &url);
            emulator_env(&mut plan, &emu_url);
            runs.push(measure(&mut plan));
        }
    }
    let _ = emulator.kill();
    let _ = emulator.wait();
    line(
        &format!("no-change plan of {planned} tasks"),
        &file_runs,
        &pg_runs,
        2.0,
    );
    println!(
        "  (state migrate of those {planned} tasks to postgres: {:.2} s)",
        migrated.secs
    );
    let _ = std::fs::remove_dir_all(&file_dir);
    let _ = std::fs::remove_dir_all(&pg_dir);
}
