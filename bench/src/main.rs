//! callform's benchmark: generates task directories and states, runs the release binary on
//! them, and prints wall time and peak memory; runs Terraform on the same count of trivial
//! `terraform_data` resources in the same run, for the ratio. See bench/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use callform::canonical::{canonical, CANONICAL_VERSION};
use callform::state::{State, TaskRecord, TaskStatus};

struct Args {
    callform: PathBuf,
    quick: bool,
    skip_terraform: bool,
    plan_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        callform: PathBuf::from("target/release/callform"),
        quick: false,
        skip_terraform: false,
        plan_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--callform" => args.callform = PathBuf::from(it.next().unwrap_or_default()),
            "--quick" => args.quick = true,
            "--no-terraform" => args.skip_terraform = true,
            "--plan-only" => args.plan_only = true,
            // Internal: build a state in a process of its own, so that the memory it takes
            // is not counted in the peak of the callform processes measured later.
            "--write-state" => {
                let tasks = PathBuf::from(it.next().unwrap_or_default());
                let state = PathBuf::from(it.next().unwrap_or_default());
                write_state(&tasks, &state);
                std::process::exit(0);
            }
            // For profiling: write N tasks and their state under DIR and keep them.
            "--generate" => {
                let count = it.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
                let dir = PathBuf::from(it.next().unwrap_or_else(|| "bench-data".into()));
                let tasks = generate(&dir, count, 100);
                write_state(&tasks, &dir.join("callform.state.json"));
                println!("{}", tasks.display());
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other}; usage: bench/run [--quick] [--no-terraform] [--plan-only] [--generate N DIR]");
                std::process::exit(2);
            }
        }
    }
    args
}

/// One task document per vendor, round-robin; `i` makes names and values unique.
fn task_yaml(i: usize) -> String {
    let name = format!("task-{i:06}");
    let n = 13_700_000_000u64 + (i as u64 % 10_000_000);
    match i % 4 {
        0 => format!(
            "name: {name}\nvendor: xfyeta\nspec:\n  line_num: [\"055169101407\"]\n  robot_id: \"{}\"\n  recall_count: 1\n  time_recall_wait: 600\n  time_range: [\"09:00:00-12:00:00\", \"13:30:00-20:00:00\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-03-31 20:00\n",
            i % 97
        ),
        1 => format!(
            "name: {name}\nvendor: longlonglong\nspec:\n  task_type: new\n  destination_extension: {}\n  dial_time_id: 5\n  maximumcall: 2\n  task_extras:\n    start_time: 2027-01-04 09:00\n    stop_time: 2027-02-28 18:00\n    line: [{{id: line-{}, limit: 2}}]\n    pop_mode: sequential\n    redial_enabled: false\n",
            100 + i,
            i % 13
        ),
        2 => format!(
            "name: {name}\nvendor: aliyun\nspec:\n  dialog_id: {}\n  callees: [\"{n}\", \"{}\"]\n  retry_type: 1\n  recall_times: 1\n  recall_interval: 5\n  recall_state_codes: [power_off, busy]\n",
            1_000_000 + i,
            n + 1
        ),
        _ => format!(
            "name: {name}\nvendor: volcengine\nspec:\n  type: tts\n  resource: tts-{}\n  number_pool_no: NP123456\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  start: false\n  concurrency: 5\n  phone_list:\n    - {{phone: \"{n}\", tts_content: 您好}}\n  ring_again_times: 1\n",
            i % 31
        ),
    }
}

const PROJECT: &str = "timezone: Asia/Shanghai\nstate: callform.state.json\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  longlonglong: {user_id: 00000000-5a4d-4b0c-8000-000000000001, token: \"${LONGLONGLONG_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";

/// Writes `count` tasks over `files` files under `dir/tasks`, and callform.yaml.
fn generate(dir: &Path, count: usize, files: usize) -> PathBuf {
    let tasks = dir.join("tasks");
    std::fs::create_dir_all(&tasks).expect("create the task directory");
    std::fs::write(dir.join("callform.yaml"), PROJECT).expect("write callform.yaml");
    let per_file = count.div_ceil(files);
    for f in 0..files {
        let mut text = String::new();
        for i in f * per_file..((f + 1) * per_file).min(count) {
            text.push_str("---\n");
            text.push_str(&task_yaml(i));
        }
        std::fs::write(tasks.join(format!("file-{f:03}.yaml")), text).expect("write a task file");
    }
    tasks
}

/// A state holding every task of `tasks` as created, the way apply would record them.
fn write_state(tasks: &Path, state_path: &Path) {
    let (project, _) = callform::project::load(tasks);
    let m = callform::manifest::load(tasks, &project.timezone, jiff::Timestamp::now(), None);
    assert!(
        !m.has_errors(),
        "the generated manifests are invalid: {:?}",
        m.diagnostics.first()
    );
    let mut state = State::new();
    let mut records = BTreeMap::new();
    for (i, t) in m.tasks.iter().enumerate() {
        let c = canonical(t, &project.timezone_name, &state.salt);
        records.insert(
            t.name.clone(),
            TaskRecord {
                vendor: t.vendor.key().to_string(),
                provider: t.provider.clone(),
                endpoint: project.endpoint(&t.provider, t.vendor),
                status: TaskStatus::Created,
                task_id: Some(format!("bench-{i}")),
                spec_digest: c.digest,
                canonical_version: CANONICAL_VERSION,
                spec: c.form.into(),
                created_at: "2026-11-22T00:00:00Z".into(),
                request_id: None,
                warnings: Vec::new(),
                uncertain_reason: None,
                superseded: Vec::new(),
            },
        );
    }
    state.tasks = records;
    callform::state::save(state_path, &mut state).expect("save the bench state");
}

struct Measured {
    secs: f64,
    /// User plus system CPU time of the process, on all its threads.
    cpu_secs: f64,
    peak_mb: f64,
    code: i32,
}

/// Runs a command to completion; wall time and that child's own peak resident memory
/// (`wait4` gives the rusage of exactly this child, in KiB on Linux).
fn measure(cmd: &mut Command) -> Measured {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the command");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 only writes into the status and rusage we pass; the child is ours and
    // is reaped here exactly once (`child` is not waited on afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    std::mem::forget(child);
    let code = if rc == pid && libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        secs,
        cpu_secs: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
        code,
    }
}

fn emulator_env(cmd: &mut Command, url: &str) {
    for v in ["XFYETA", "LONGLONGLONG", "ALIYUN", "VOLCENGINE"] {
        cmd.env(format!("CALLFORM_{v}_ENDPOINT"), url);
    }
    for (k, v) in [
        ("XFYETA_TOKEN", "bench-xfyeta-token"),
        ("LONGLONGLONG_TOKEN", "bench-longlonglong-token"),
        (
            "LONGLONGLONG_USER_ID",
            "00000000-5a4d-4b0c-8000-000000000001",
        ),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tBenchAccessKeyId"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "bench-aliyun-secret"),
        ("VOLCENGINE_ACCESS_KEY", "AKLTBenchAccessKey"),
        ("VOLCENGINE_SECRET_KEY", "bench-volcengine-secret"),
    ] {
        cmd.env(k, v);
    }
}

/// Starts `callform emulator` in its own process; returns it and its URL.
fn start_emulator(callform: &Path, latency_ms: u64) -> (std::process::Child, String) {
    let mut cmd = Command::new(callform);
    cmd.args([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--latency-ms",
        &latency_ms.to_string(),
    ]);
    emulator_env(&mut cmd, "");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let stdout = child.stdout.take().expect("emulator stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the emulator's address");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_default()
        .to_string();
    assert!(!url.is_empty(), "the emulator printed no address: {line}");
    (child, url)
}

fn apply_run(callform: &Path, count: usize, latency_ms: u64, parallelism: usize) -> Measured {
    let tmp = tempdir("apply");
    let tasks = generate(&tmp, count, 100);
    let (mut emulator, url) = start_emulator(callform, latency_ms);
    let mut cmd = Command::new(callform);
    cmd.args([
        "apply",
        "--auto-approve",
        "--parallelism",
        &parallelism.to_string(),
    ])
    .arg(&tasks);
    emulator_env(&mut cmd, &url);
    let m = measure(&mut cmd);
    let _ = emulator.kill();
    let _ = emulator.wait();
    let _ = std::fs::remove_dir_all(&tmp);
    m
}

fn tempdir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "callform-bench-{what}-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Terraform: `count` trivial terraform_data resources. `apply` times creating them all;
/// the no-change `plan` runs on the state that apply wrote.
fn terraform(count: usize) -> Option<(Measured, Measured)> {
    let which = Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !which.is_ok_and(|s| s.success()) {
        return None;
    }
    let dir = tempdir("terraform");
    let mut tf = String::new();
    for i in 0..count {
        let _ = writeln!(tf, "resource \"terraform_data\" \"r{i}\" {{}}");
    }
    std::fs::write(dir.join("main.tf"), tf).ok()?;
    let run = |args: &[&str]| {
        let mut c = Command::new("terraform");
        c.current_dir(&dir)
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1");
        c
    };
    measure(&mut run(&["init", "-input=false"]));
    let apply = measure(&mut run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-lock=false",
    ]));
    let plan = measure(&mut run(&[
        "plan",
        "-input=false",
        "-lock=false",
        "-detailed-exitcode",
    ]));
    let _ = std::fs::remove_dir_all(&dir);
    Some((apply, plan))
}

fn main() {
    let args = parse_args();
    let cf = args.callform.clone();
    let (small, large) = if args.quick {
        (1_000, 10_000)
    } else {
        (10_000, 100_000)
    };
    println!(
        "callform benchmark — {} cores, release build, validate and plan: best of 11 rounds; apply: one run each",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!();

    // Validate and plan: N tasks in 100 files, all four vendors, against a state of the same N.
    // Every data set is made first; then each round times every size once, so that a slow
    // spell of this shared machine falls on all sizes alike rather than on one of them.
    let mut counts = vec![1_000, 3_000, small, large];
    counts.dedup();
    let sets: Vec<(usize, PathBuf, PathBuf)> = counts
        .iter()
        .map(|&count| {
            let dir = tempdir("plan");
            let tasks = generate(&dir, count, 100);
            let me = std::env::current_exe().expect("the bench's own path");
            let ok = Command::new(me)
                .arg("--write-state")
                .arg(&tasks)
                .arg(dir.join("callform.state.json"))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "could not write the bench state");
            (count, dir, tasks)
        })
        .collect();
    const ROUNDS: usize = 11;
    let mut validate_runs: BTreeMap<usize, Vec<Measured>> = BTreeMap::new();
    let mut plan_runs: BTreeMap<usize, Vec<Measured>> = BTreeMap::new();
    for _ in 0..ROUNDS {
        for (count, _, tasks) in &sets {
            let validate = measure(Command::new(&cf).arg("validate").arg(tasks));
            let plan = measure(
                Command::new(&cf)
                    .args(["plan", "--detailed-exitcode"])
                    .arg(tasks),
            );
            assert_eq!(plan.code, 0, "the bench plan should have no changes");
            validate_runs.entry(*count).or_default().push(validate);
            plan_runs.entry(*count).or_default().push(plan);
        }
    }
    let best = |runs: &[Measured]| {
        runs.iter()
            .min_by(|a, b| a.secs.total_cmp(&b.secs))
            .map(|m| (m.secs, m.peak_mb))
            .unwrap_or((f64::NAN, f64::NAN))
    };
    let mut plan_secs = BTreeMap::new();
    for (count, dir, _) in &sets {
        let (v_secs, v_mb) = best(&validate_runs[count]);
        let (p_secs, p_mb) = best(&plan_runs[count]);
        println!(
            "{count:>7} tasks: validate {v_secs:>6.3} s ({v_mb:>5.0} MB peak), no-change plan {p_secs:>6.3} s ({p_mb:>5.0} MB peak)"
        );
        plan_secs.insert(*count, p_secs);
        let _ = std::fs::remove_dir_all(dir);
    }
    if let (Some(s), Some(l)) = (plan_secs.get(&small), plan_secs.get(&large)) {
        // Each round's own ratio compares two runs made back to back, under the same
        // conditions of this shared machine: their median is the scaling. (Best against
        // best favours the short run, which is likelier to find a quiet moment.)
        let median_ratio = |of: &dyn Fn(&Measured) -> f64| {
            let mut rounds: Vec<f64> = plan_runs[&large]
                .iter()
                .zip(&plan_runs[&small])
                .map(|(l, s)| of(l) / of(s))
                .collect();
            rounds.sort_by(f64::total_cmp);
            let median = rounds[rounds.len() / 2];
            let all = rounds
                .iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" ");
            (median, all)
        };
        let (wall, rounds) = median_ratio(&|m| m.secs);
        let (cpu, cpu_rounds) = median_ratio(&|m| m.cpu_secs);
        println!(
            "plan scaling {small} → {large} tasks ({}× the tasks): {wall:.1}× the time, median of {ROUNDS} rounds ({rounds}); CPU time {cpu:.1}× ({cpu_rounds}); best against best {:.1}×",
            large / small,
            l / s
        );
    }
    println!();
    if args.plan_only {
        return;
    }

    // Apply: creates against the emulator in a separate process, with their durable records.
    let (a_small, a_large) = if args.quick {
        (1_000, 3_000)
    } else {
        (10_000, 30_000)
    };
    let first = apply_run(&cf, a_small, 0, 10);
    let second = apply_run(&cf, a_large, 0, 10);
    println!(
        "apply {a_small:>6} creates, no latency, parallelism 10: {:>6.2} s (exit {})",
        first.secs, first.code
    );
    println!(
        "apply {a_large:>6} creates, no latency, parallelism 10: {:>6.2} s ({:.2}× of {a_small})",
        second.secs,
        second.secs / first.secs
    );
    let lat_count = if args.quick { 200 } else { 1_000 };
    let latency = apply_run(&cf, lat_count, 100, 10);
    let floor = lat_count as f64 * 0.1 / 10.0;
    println!(
        "apply {lat_count:>6} creates, 100 ms latency, parallelism 10: {:>6.2} s ({:.3}× the {floor:.0} s latency alone imposes)",
        latency.secs,
        latency.secs / floor
    );
    println!();

    if args.skip_terraform {
        return;
    }
    for count in [1_000, 3_000] {
        match terraform(count) {
            None => {
                println!("terraform not found: skipping the comparison");
                break;
            }
            Some((apply, plan)) => {
                let cf_plan = plan_secs.get(&count).copied().unwrap_or(f64::NAN);
                let cf_apply = apply_run(&cf, count, 0, 10);
                println!(
                    "{count:>5} resources: terraform apply {:>7.2} s vs callform apply {:>6.2} s ({:.0}×); terraform no-change plan {:>6.2} s vs callform {:>6.3} s ({:.0}×)",
                    apply.secs,
                    cf_apply.secs,
                    apply.secs / cf_apply.secs,
                    plan.secs,
                    cf_plan,
                    plan.secs / cf_plan
                );
            }
        }
    }
}
