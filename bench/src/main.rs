//! callform's benchmark: generates task directories and states, runs the release binary on
//! them, and prints wall time and peak memory; runs Terraform on the same count of trivial
//! `terraform_data` resources in the same run, for the ratio. See bench/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod postgres;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// One short document per vendor, round-robin, 100 files, callees inline.
    Synthetic,
    /// Clones of `examples/tasks`: comments, every field the examples set, a callee text
    /// file or CSV phone list of its own per Aliyun and Volcengine task, ten documents a
    /// file, one folder per vendor.
    Examples,
}

struct Args {
    callform: PathBuf,
    /// A second callform binary (an earlier commit) timed in the same rounds.
    baseline: Option<PathBuf>,
    quick: bool,
    skip_terraform: bool,
    plan_only: bool,
    /// Only the campaign benchmark: callees loaded in batches.
    callees: bool,
    /// Only the read-back benchmark: `callform refresh` of many tasks.
    refresh: bool,
    /// Only the compliance benchmark: a plan with a suppression list and per-callee caps.
    policy: bool,
    /// Only the state benchmark: PostgreSQL against the file.
    postgres: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        callform: PathBuf::from("target/release/callform"),
        baseline: None,
        quick: false,
        skip_terraform: false,
        plan_only: false,
        callees: false,
        refresh: false,
        policy: false,
        postgres: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--callform" => args.callform = PathBuf::from(it.next().unwrap_or_default()),
            "--baseline" => args.baseline = it.next().map(PathBuf::from),
            "--quick" => args.quick = true,
            "--no-terraform" => args.skip_terraform = true,
            "--plan-only" => args.plan_only = true,
            "--callees" => args.callees = true,
            "--refresh" => args.refresh = true,
            "--policy" => args.policy = true,
            "--postgres" => args.postgres = true,
            // For profiling: write N tasks under DIR, apply them to the emulator so that DIR
            // holds their state, and keep them.
            "--generate" | "--generate-examples" => {
                let workload = if a == "--generate" {
                    Workload::Synthetic
                } else {
                    Workload::Examples
                };
                let count = it.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
                let dir = PathBuf::from(it.next().unwrap_or_else(|| "bench-data".into()));
                let tasks = generate(&dir, count, workload);
                let callform = args.callform.clone();
                let (mut emulator, url) = start_emulator(&callform, 0);
                let applied = apply_in(&callform, &tasks, &url, 10);
                let _ = emulator.kill();
                let _ = emulator.wait();
                assert_eq!(applied.code, 0, "the apply that writes the state failed");
                println!("{}", tasks.display());
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other}; usage: bench/run [--quick] [--no-terraform] [--plan-only] [--callees] [--refresh] [--policy] [--postgres] [--baseline BIN | --baseline-rev REV] [--generate|--generate-examples N DIR]");
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
            "name: {name}\nvendor: aliyun\ncallees: {{numbers: [\"{n}\", \"{}\"]}}\nspec:\n  dialog_id: {}\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n  recall_times: 1\n  recall_interval: 5\n  recall_state_codes: [power_off, busy]\n",
            n + 1,
            1_000_000 + i
        ),
        _ => format!(
            "name: {name}\nvendor: volcengine\ncallees:\n  rows:\n    - {{phone: \"{n}\", tts_content: 您好}}\nspec:\n  type: tts\n  resource: tts-{}\n  number_pool_no: NP123456\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  concurrency: 5\n  ring_again_times: 1\n",
            i % 31
        ),
    }
}

const BENCH_USER_ID: &str = "00000000-5a4d-4b0c-8000-000000000001";

const PROJECT: &str = "timezone: Asia/Shanghai\nstate: callform.state.json\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  longlonglong: {user_id: 00000000-5a4d-4b0c-8000-000000000001, token: \"${LONGLONGLONG_TOKEN}\"}\n  aliyun: {access_key_id: \"${ALIBABA_CLOUD_ACCESS_KEY_ID}\", access_key_secret: \"${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";

/// Writes `count` tasks of the workload under `dir/tasks`, and callform.yaml.
fn generate(dir: &Path, count: usize, workload: Workload) -> PathBuf {
    match workload {
        Workload::Synthetic => generate_synthetic(dir, count, 100),
        Workload::Examples => generate_examples(dir, count),
    }
}

/// `count` synthetic tasks over `files` files.
fn generate_synthetic(dir: &Path, count: usize, files: usize) -> PathBuf {
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

/// One example manifest, read from `examples/tasks`, to be cloned.
struct Example {
    /// The vendor folder it lives in (`xfyeta`, ...), and the file's stem.
    folder: String,
    stem: String,
    text: String,
}

fn examples() -> Vec<Example> {
    let root = Path::new("examples/tasks");
    let mut out = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(root)
        .expect("read examples/tasks (run the bench from the repository root)")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .expect("read an example folder")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            out.push(Example {
                folder: folder
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                stem: file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                text: std::fs::read_to_string(&file).expect("read an example manifest"),
            });
        }
    }
    assert!(!out.is_empty(), "examples/tasks holds no manifests");
    out
}

/// Clone number `i` of an example: unique names (callform's and the vendor-visible one),
/// and a callee file of its own with numbers of its own, written in the example's forms.
fn clone_example(example: &Example, i: usize, numbers: &Path) -> String {
    let mut out = String::with_capacity(example.text.len() + 64);
    for line in example.text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(name) = line.strip_prefix("name: ") {
            let _ = writeln!(out, "name: {}-{i:05}", name.trim());
        } else if indent == "  "
            && (trimmed.starts_with("task_name: ") || trimmed.starts_with("name: "))
        {
            let (key, value) = trimmed.split_once(": ").unwrap_or((trimmed, ""));
            // `-c` before the clone number: `回访-2027-100` would read as a number in groups.
            let _ = writeln!(out, "  {key}: {}-c{i}", value.trim());
        } else if let Some(file) = trimmed.strip_prefix("file: ").filter(|_| indent == "  ") {
            // `callees: {file: …}` in its block form, as the examples write it.
            let key = "file: ";
            let file = file.split_whitespace().next().unwrap_or_default();
            let source = Path::new("examples/tasks").join(&example.folder).join(file);
            let stem = source.file_stem().unwrap_or_default().to_string_lossy();
            let ext = source.extension().unwrap_or_default().to_string_lossy();
            let copy = format!("{stem}-{i:05}.{ext}");
            let text = std::fs::read_to_string(&source).expect("read an example callee file");
            std::fs::write(numbers.join(&copy), renumber(&text, i)).expect("write a callee file");
            let _ = writeln!(out, "{indent}{key}../numbers/{copy}");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The example's callee text with every 1370000xxxx placeholder moved to a block of
/// clone `i`'s own (still 137 numbers, never a real customer's form of one), keeping the
/// example's spacing, dashes and +86.
fn renumber(text: &str, i: usize) -> String {
    let block = format!("{:04}", i % 10_000);
    text.replace("137 0000 ", &format!("137 {block} "))
        .replace("137-0000-", &format!("137-{block}-"))
        .replace("1370000", &format!("137{block}"))
}

/// `count` clones of the examples, round-robin, ten documents a file.
fn generate_examples(dir: &Path, count: usize) -> PathBuf {
    let tasks = dir.join("tasks");
    let numbers = tasks.join("numbers");
    std::fs::create_dir_all(&numbers).expect("create the task directory");
    // The examples' project file, with the longlonglong account id the bench's emulator
    // is started with.
    let project = std::fs::read_to_string("examples/callform.yaml")
        .expect("read examples/callform.yaml")
        .lines()
        .map(|l| match l.split_once("user_id: ") {
            Some((indent, _)) => format!("{indent}user_id: {BENCH_USER_ID}\n"),
            None => format!("{l}\n"),
        })
        .collect::<String>();
    std::fs::write(dir.join("callform.yaml"), project).expect("write callform.yaml");
    let examples = examples();
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    for i in 0..count {
        let example = &examples[i % examples.len()];
        let clone = i / examples.len();
        let folder = tasks.join(&example.folder);
        let file = folder.join(format!("{}-{:04}.yaml", example.stem, clone / 10));
        let text = files.entry(file).or_default();
        text.push_str("---\n");
        text.push_str(&clone_example(example, clone, &numbers));
    }
    for (file, text) in files {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("create a vendor folder");
        }
        std::fs::write(file, text).expect("write a task file");
    }
    tasks
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
        ("LONGLONGLONG_USER_ID", BENCH_USER_ID),
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
    start_emulator_with(callform, latency_ms, &[])
}

/// The same, with more arguments for the emulator.
fn start_emulator_with(
    callform: &Path,
    latency_ms: u64,
    extra: &[&str],
) -> (std::process::Child, String) {
    let mut cmd = Command::new(callform);
    cmd.args([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--latency-ms",
        &latency_ms.to_string(),
    ]);
    cmd.args(extra);
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

/// `callform apply --auto-approve` of `tasks` against the emulator at `url`.
fn apply_in(callform: &Path, tasks: &Path, url: &str, parallelism: usize) -> Measured {
    let mut cmd = Command::new(callform);
    cmd.args([
        "apply",
        "--auto-approve",
        "--parallelism",
        &parallelism.to_string(),
    ])
    .arg(tasks);
    emulator_env(&mut cmd, url);
    measure(&mut cmd)
}

/// Generates `count` tasks of the workload and times their apply against an emulator of
/// its own with `latency_ms` added to every answer.
fn apply_run(
    callform: &Path,
    count: usize,
    workload: Workload,
    latency_ms: u64,
    parallelism: usize,
) -> Measured {
    let tmp = tempdir("apply");
    let tasks = generate(&tmp, count, workload);
    let (mut emulator, url) = start_emulator(callform, latency_ms);
    let m = apply_in(callform, &tasks, &url, parallelism);
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

/// One data set of the validate and plan rounds: its tasks, and the state that an apply of
/// them by each binary wrote (each binary reads the state its own version writes).
struct PlanSet {
    label: String,
    count: usize,
    /// Per binary: the tasks, and the emulator address its state records as the endpoint
    /// (the plan sets the same address; it sends nothing).
    dirs: Vec<(PathBuf, String)>,
}

/// The binaries timed: callform, and the baseline when one is given.
fn binaries(args: &Args) -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("callform", args.callform.clone())];
    if let Some(b) = &args.baseline {
        out.push(("baseline", b.clone()));
    }
    out
}

/// A project of `tasks` campaigns of `rows` callees each (a CSV file per task, one
/// variable column), all of `vendor`, `status: running`.
fn generate_campaigns(dir: &Path, vendor: &str, tasks: usize, rows: usize) -> PathBuf {
    let root = dir.join("project");
    let tasks_dir = root.join("tasks");
    std::fs::create_dir_all(&tasks_dir).expect("create the tasks directory");
    std::fs::write(
        root.join("callform.yaml"),
        "providers:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n",
    )
    .expect("write callform.yaml");
    for t in 0..tasks {
        let mut csv = String::with_capacity(rows * 24);
        csv.push_str(if vendor == "xfyeta" {
            "phone,客户姓名\n"
        } else {
            "phone,name\n"
        });
        for i in 0..rows {
            let _ = writeln!(csv, "13{:09},n{i}", t * rows + i);
        }
        std::fs::write(tasks_dir.join(format!("c{t:03}.csv")), csv).expect("write a callee file");
        let spec = if vendor == "xfyeta" {
            "vendor: xfyeta\nspec:\n  line_num: [\"055169101407\"]\n  robot_id: \"7\"\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n"
        } else {
            "vendor: volcengine\nspec:\n  type: tts\n  resource: r\n  number_pool_no: NP1\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  concurrency: 10\n"
        };
        std::fs::write(
            tasks_dir.join(format!("c{t:03}.yaml")),
            format!("name: bench-{vendor}-{t:03}\nstatus: running\ncallees: {{file: c{t:03}.csv}}\n{spec}"),
        )
        .expect("write a manifest");
    }
    tasks_dir
}

/// Validates one xfyeta task whose callee file has a header of `columns` names (and one
/// row): the column checks are linear, so this takes what reading the file takes.
fn wide_header_bench(callform: &Path, columns: usize) {
    let tmp = tempdir("wide-header");
    let dir = generate_campaigns(&tmp, "xfyeta", 1, 1);
    let names: Vec<String> = (0..columns).map(|i| format!("v{i}")).collect();
    let csv = format!(
        "phone,{}\n13000000000{}\n",
        names.join(","),
        ",x".repeat(columns)
    );
    std::fs::write(dir.join("c000.csv"), csv).expect("write the wide callee file");
    let mut validate = Command::new(callform);
    validate.arg("validate").arg(&dir);
    let best = (0..3)
        .map(|_| measure(&mut validate))
        .min_by(|a, b| a.secs.total_cmp(&b.secs))
        .expect("three runs");
    println!(
        "validate a callee file with a {columns}-column header: {:>6.3} s, {:>5.0} MB peak (exit {})",
        best.secs, best.peak_mb, best.code
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The campaign benchmark (`--callees`): callees loaded batch by batch against the
/// emulator in its own process, wall time and callform's peak memory, the latency bound,
/// the no-change plan of the loaded project, and the state's size against its batches.
fn callees_bench(callform: &Path, quick: bool) {
    let scale = if quick { 10 } else { 1 };
    wide_header_bench(callform, 80_000 / scale);
    let runs = [
        ("volcengine", 100 / scale, 10_000, 10_000),
        ("xfyeta", 20 / scale, 5_000, 50),
    ];
    for (vendor, tasks, rows, batch) in runs {
        let total = tasks * rows;
        let tmp = tempdir("callees");
        let dir = generate_campaigns(&tmp, vendor, tasks, rows);
        // Validation streams every callee file and checks every row: best of three.
        let mut validate = Command::new(callform);
        validate.arg("validate").arg(&dir);
        let validated = (0..3)
            .map(|_| measure(&mut validate))
            .min_by(|a, b| a.secs.total_cmp(&b.secs))
            .expect("three runs");
        println!(
            "validate {total:>9} callees over {tasks:>3} {vendor} tasks: {:>6.3} s, {:>5.0} MB peak (exit {})",
            validated.secs, validated.peak_mb, validated.code
        );
        let (mut emulator, url) = start_emulator(callform, 0);
        let applied = apply_in(callform, &dir, &url, 10);
        let mut plan = Command::new(callform);
        plan.args(["plan", "--detailed-exitcode"]).arg(&dir);
        emulator_env(&mut plan, &url);
        let plans: Vec<Measured> = (0..5).map(|_| measure(&mut plan)).collect();
        let plan = plans
            .iter()
            .min_by(|a, b| a.secs.total_cmp(&b.secs))
            .expect("five plans");
        let _ = emulator.kill();
        let _ = emulator.wait();
        let state = std::fs::metadata(dir.parent().unwrap_or(&dir).join("callform.state.json"))
            .map(|m| m.len())
            .unwrap_or(0);
        // Requests: the creates (Volcengine's carry the first 10,000 rows), the load calls
        // after them, and xfyeta's starts.
        let in_create = if vendor == "volcengine" {
            rows.min(10_000)
        } else {
            0
        };
        let loads = tasks * (rows - in_create).div_ceil(batch);
        let requests = tasks + loads + if vendor == "xfyeta" { tasks } else { 0 };
        let batches = tasks * (usize::from(in_create > 0) + (rows - in_create).div_ceil(batch));
        println!(
            "load {total:>9} callees over {tasks:>3} {vendor} tasks ({requests} requests), no latency: {:>6.2} s, {:>5.0} MB peak (exit {})",
            applied.secs, applied.peak_mb, applied.code
        );
        println!(
            "  no-change plan of that project: {:>6.3} s ({:>4.0} MB peak, exit {}); state {} bytes for {batches} batches ({:.0} bytes a batch)",
            plan.secs,
            plan.peak_mb,
            plan.code,
            state,
            state as f64 / batches.max(1) as f64
        );
        let _ = std::fs::remove_dir_all(&tmp);

        let tmp = tempdir("callees-latency");
        let dir = generate_campaigns(&tmp, vendor, tasks, rows);
        let (mut emulator, url) = start_emulator(callform, 50);
        let latency = apply_in(callform, &dir, &url, 10);
        let _ = emulator.kill();
        let _ = emulator.wait();
        let _ = std::fs::remove_dir_all(&tmp);
        // A task's steps are sequential: with fewer tasks than permits, the latency alone
        // imposes the longest task's chain of requests, not requests ÷ parallelism.
        let per_task = requests / tasks.max(1);
        let floor = (requests as f64 / 10.0).max((per_task * tasks.div_ceil(10)) as f64) * 0.05;
        println!(
            "  the same with 50 ms latency, parallelism 10: {:>6.2} s ({:.3}× the {floor:.1} s the latency alone imposes on {requests} requests; exit {})",
            latency.secs,
            latency.secs / floor,
            latency.code
        );
    }
}

/// Each vendor's read rate, as `vendor/<name>/mod.rs` sets it (`READ_QPS`): what the bound
/// of a refresh is made of. Synthetic task `i` is vendor `i % 4` in this order.
const READ_QPS: [(&str, usize); 4] = [
    ("xfyeta", 20),
    ("longlonglong", 20),
    ("aliyun", 100),
    ("volcengine", 20),
];

/// `callform refresh` of N synthetic tasks (all four vendors) against an emulator in its
/// own process with 20 ms added to every answer and every vendor's read rate enforced,
/// against the bound that latency and the rates set together.
fn refresh_bench(callform: &Path, quick: bool) {
    let count = if quick { 1_000 } else { 10_000 };
    let parallelism = 10;
    let latency_ms = 20;
    let tmp = tempdir("refresh");
    let tasks = generate(&tmp, count, Workload::Synthetic);
    let (mut emulator, url) = start_emulator_with(callform, latency_ms, &["--enforce-read-qps"]);
    let applied = apply_in(callform, &tasks, &url, parallelism);
    let mut refresh = Command::new(callform);
    refresh
        .args([
            "refresh",
            "--detailed-exitcode",
            "--parallelism",
            &parallelism.to_string(),
        ])
        .arg(&tasks);
    emulator_env(&mut refresh, &url);
    let read = measure(&mut refresh);
    let mut plan = Command::new(callform);
    plan.args(["plan", "--detailed-exitcode"]).arg(&tasks);
    emulator_env(&mut plan, &url);
    let planned = measure(&mut plan);
    let _ = emulator.kill();
    let _ = emulator.wait();
    let _ = std::fs::remove_dir_all(&tmp);
    // Vendors are read side by side, each at its own rate; all of them share the places in
    // flight, each held for one latency.
    let by_rate = READ_QPS
        .iter()
        .enumerate()
        .map(|(v, (_, qps))| (count / 4 + usize::from(v < count % 4)) as f64 / *qps as f64)
        .fold(0.0, f64::max);
    let by_latency = count.div_ceil(parallelism) as f64 * latency_ms as f64 / 1000.0;
    let bound = by_rate.max(by_latency);
    let rates: Vec<String> = READ_QPS.iter().map(|(v, q)| format!("{v} {q}/s")).collect();
    println!(
        "refresh {count} tasks, {latency_ms} ms latency, parallelism {parallelism}, rates enforced ({}): {:.2} s, {:.0} MB peak (exit {}); bound {bound:.1} s (rates {by_rate:.1} s, latency {by_latency:.1} s): {:.3}×",
        rates.join(", "),
        read.secs,
        read.peak_mb,
        read.code,
        read.secs / bound
    );
    println!(
        "  the apply that made them: {:.2} s (exit {}); a plan without --refresh: {:.3} s (exit {}, no request)",
        applied.secs, applied.code, planned.secs, planned.code
    );
}

/// The compliance benchmark's project: `tasks` tasks (xfyeta and Volcengine in turn, all
/// dialling in the same January weeks) of `rows` callees each, row `i` of task `t` being
/// number `t × 0.95·rows + i` (so each task shares 5% of its callees with the next), and
/// a suppression list of `suppressed` numbers: every tenth callee number below
/// `distinct` (the callees' range), then numbers no task calls. `policy`: whether
/// callform.yaml sets the policy (the list and a cap of one task a day per callee).
fn generate_policy_project(
    dir: &Path,
    tasks: usize,
    rows: usize,
    suppressed: usize,
    distinct: usize,
    policy: bool,
) -> PathBuf {
    let tasks_dir = dir.join("tasks");
    if !tasks_dir.exists() {
        std::fs::create_dir_all(&tasks_dir).expect("create the tasks directory");
        let step = rows - rows / 20;
        let mut docs = String::new();
        for t in 0..tasks {
            let mut csv = String::with_capacity(rows * 20);
            csv.push_str("phone,name\n");
            for i in 0..rows {
                let _ = writeln!(csv, "13{:09},n{i}", t * step + i);
            }
            std::fs::write(tasks_dir.join(format!("c{t:05}.csv")), csv)
                .expect("write a callee file");
            let spec = if t % 2 == 0 {
                "vendor: xfyeta\ncallees: {file: CSV, variables: [name]}\nspec:\n  line_num: [\"055169101407\"]\n  robot_id: \"7\"\n  recall_count: 1\n  time_recall_wait: 600\n  time_range: [\"09:00:00-12:00:00\"]\n  time_begin: 2027-01-04 09:00\n  time_end: 2027-01-31 12:00\n"
            } else {
                "vendor: volcengine\ncallees: {file: CSV}\nspec:\n  type: tts\n  resource: r\n  number_pool_no: NP1\n  start_time: 2027-01-04 09:00\n  end_time: 2027-01-31 18:00\n  concurrency: 10\n  ring_again_times: 1\n"
            };
            let _ = write!(
                docs,
                "---\nname: pol-{t:05}\n{}",
                spec.replace("CSV", &format!("c{t:05}.csv"))
            );
            if t % 100 == 99 || t + 1 == tasks {
                std::fs::write(tasks_dir.join(format!("t{:03}.yaml", t / 100)), &docs)
                    .expect("write a manifest");
                docs.clear();
            }
        }
        let mut list = String::with_capacity(suppressed * 13);
        let hits = (distinct / 10).min(suppressed);
        for i in 0..hits {
            let _ = writeln!(list, "13{:09}", i * 10);
        }
        for i in 0..suppressed - hits {
            let _ = writeln!(list, "13{:09}", distinct + i);
        }
        std::fs::write(dir.join("suppress.txt"), list).expect("write the suppression list");
    }
    let providers = "timezone: Asia/Shanghai\nproviders:\n  xfyeta: {token: \"${XFYETA_TOKEN}\"}\n  volcengine: {access_key: \"${VOLCENGINE_ACCESS_KEY}\", secret_key: \"${VOLCENGINE_SECRET_KEY}\"}\n";
    let policy = if policy {
        "policy:\n  suppress: [suppress.txt]\n  caps:\n    - {period: 24h, tasks: 1}\n"
    } else {
        ""
    };
    std::fs::write(dir.join("callform.yaml"), format!("{providers}{policy}"))
        .expect("write callform.yaml");
    tasks_dir
}

/// The compliance benchmark (`--policy`): a plan of 1,000,000 callees over 10,000 tasks
/// with no policy and with a 1,000,000-number suppression list and a per-callee cap, in
/// alternating rounds; what the policy adds is the difference of the bests.
fn policy_bench(callform: &Path, quick: bool) {
    let (tasks, rows, suppressed) = if quick {
        (1_000, 100, 100_000)
    } else {
        (10_000, 100, 1_000_000)
    };
    let total = tasks * rows;
    let tmp = tempdir("policy");
    // A tenth of the callees' numbers are suppressed, spread over every task.
    let distinct = (tasks - 1) * (rows - rows / 20) + rows;
    let url = "http://127.0.0.1:9";
    let mut best: [Option<Measured>; 2] = [None, None];
    let rounds = if quick { 3 } else { 5 };
    for _ in 0..rounds {
        for (k, with_policy) in [false, true].into_iter().enumerate() {
            let dir = generate_policy_project(&tmp, tasks, rows, suppressed, distinct, with_policy);
            let mut plan = Command::new(callform);
            plan.args(["plan", "--out"])
                .arg(tmp.join("bench.plan"))
                .arg(&dir);
            emulator_env(&mut plan, url);
            let m = measure(&mut plan);
            if best[k].as_ref().is_none_or(|b| m.secs < b.secs) {
                best[k] = Some(m);
            }
        }
    }
    let [Some(without), Some(with)] = best else {
        return;
    };
    println!(
        "plan of {total} callees over {tasks} tasks, no policy:                       {:>6.3} s, {:>5.0} MB peak (exit {})",
        without.secs, without.peak_mb, without.code
    );
    println!(
        "the same with {suppressed} suppressed numbers and a cap of 1 task a day:  {:>6.3} s, {:>5.0} MB peak (exit {})",
        with.secs, with.peak_mb, with.code
    );
    println!(
        "  the policy adds {:.3} s (best of {rounds} each, alternating) and {:.0} MB",
        with.secs - without.secs,
        with.peak_mb - without.peak_mb
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

fn main() {
    let args = parse_args();
    if args.policy {
        println!(
            "callform compliance benchmark — {} cores, release build",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        policy_bench(&args.callform, args.quick);
        return;
    }
    if args.postgres {
        println!(
            "callform state benchmark — {} cores, release build; PostgreSQL (fsync on) against the file state, the emulator in its own process",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        postgres::bench(&args.callform, args.quick);
        return;
    }
    if args.refresh {
        println!(
            "callform read-back benchmark — {} cores, release build, one run; the emulator in its own process",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        refresh_bench(&args.callform, args.quick);
        return;
    }
    if args.callees {
        println!(
            "callform campaign benchmark — {} cores, release build, one run each; the emulator in its own process",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        callees_bench(&args.callform, args.quick);
        return;
    }
    let bins = binaries(&args);
    let (small, large) = if args.quick {
        (1_000, 10_000)
    } else {
        (10_000, 100_000)
    };
    println!(
        "callform benchmark — {} cores, release build, validate and plan: best of 11 rounds; apply: one run each{}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        if args.baseline.is_some() {
            "; baseline timed in the same rounds"
        } else {
            ""
        }
    );
    println!();

    // Validate and plan: N synthetic tasks in 100 files, all four vendors, and N clones of
    // the examples, against a state of the same tasks that a real apply (to an emulator in
    // a process of its own) wrote, so that the state is exactly what callform records and
    // the peaks measured later are callform's own. Every data set is made first; then each
    // round times every size once, so that a slow spell of this shared machine falls on all
    // sizes alike rather than on one of them.
    let mut counts = vec![1_000, 3_000, small, large];
    counts.sort_unstable();
    counts.dedup();
    let mut specs: Vec<(String, usize, Workload)> = counts
        .iter()
        .map(|&c| (format!("{c} tasks"), c, Workload::Synthetic))
        .collect();
    specs.push((format!("{small} examples"), small, Workload::Examples));
    let sets: Vec<PlanSet> = specs
        .into_iter()
        .map(|(label, count, workload)| {
            let dirs = bins
                .iter()
                .map(|(_, bin)| {
                    let dir = tempdir("plan");
                    let tasks = generate(&dir, count, workload);
                    let (mut emulator, url) = start_emulator(bin, 0);
                    let applied = apply_in(bin, &tasks, &url, 10);
                    let _ = emulator.kill();
                    let _ = emulator.wait();
                    assert_eq!(
                        applied.code, 0,
                        "the apply that writes the bench state failed"
                    );
                    (tasks, url)
                })
                .collect();
            PlanSet { label, count, dirs }
        })
        .collect();
    const ROUNDS: usize = 11;
    // (binary, set) → runs
    let mut validate_runs: BTreeMap<(usize, usize), Vec<Measured>> = BTreeMap::new();
    let mut plan_runs: BTreeMap<(usize, usize), Vec<Measured>> = BTreeMap::new();
    for _ in 0..ROUNDS {
        for (s, set) in sets.iter().enumerate() {
            for (b, (_, bin)) in bins.iter().enumerate() {
                let (tasks, url) = &set.dirs[b];
                let validate = measure(Command::new(bin).arg("validate").arg(tasks));
                let mut plan = Command::new(bin);
                plan.args(["plan", "--detailed-exitcode"]).arg(tasks);
                emulator_env(&mut plan, url);
                let plan = measure(&mut plan);
                assert_eq!(
                    plan.code, 0,
                    "the bench plan of {} should have no changes",
                    set.label
                );
                validate_runs.entry((b, s)).or_default().push(validate);
                plan_runs.entry((b, s)).or_default().push(plan);
            }
        }
    }
    let best = |runs: &[Measured]| {
        runs.iter()
            .min_by(|a, b| a.secs.total_cmp(&b.secs))
            .map(|m| (m.secs, m.peak_mb))
            .unwrap_or((f64::NAN, f64::NAN))
    };
    let mut plan_secs = BTreeMap::new();
    for (s, set) in sets.iter().enumerate() {
        for (b, (who, _)) in bins.iter().enumerate() {
            let (v_secs, v_mb) = best(&validate_runs[&(b, s)]);
            let (p_secs, p_mb) = best(&plan_runs[&(b, s)]);
            let who = if bins.len() > 1 {
                format!("{who:>8} ")
            } else {
                String::new()
            };
            println!(
                "{who}{:>16}: validate {v_secs:>6.3} s ({v_mb:>5.0} MB peak), no-change plan {p_secs:>6.3} s ({p_mb:>5.0} MB peak)",
                set.label
            );
            if b == 0 && set.label.ends_with("tasks") {
                plan_secs.insert(set.count, p_secs);
            }
        }
        for (dir, _) in &set.dirs {
            if let Some(root) = dir.parent() {
                let _ = std::fs::remove_dir_all(root);
            }
        }
    }
    let index = |count: usize| {
        sets.iter()
            .position(|s| s.count == count && s.label.ends_with("tasks"))
    };
    if let (Some(si), Some(li)) = (index(small), index(large)) {
        let (s, l) = (plan_secs[&small], plan_secs[&large]);
        // Each round's own ratio compares two runs made back to back, under the same
        // conditions of this shared machine: their median is the scaling. (Best against
        // best favours the short run, which is likelier to find a quiet moment.)
        let median_ratio = |of: &dyn Fn(&Measured) -> f64| {
            let mut rounds: Vec<f64> = plan_runs[&(0, li)]
                .iter()
                .zip(&plan_runs[&(0, si)])
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
    let lat_count = if args.quick { 200 } else { 1_000 };
    for (who, bin) in &bins {
        let prefix = if bins.len() > 1 {
            format!("{who:>8} ")
        } else {
            String::new()
        };
        let first = apply_run(bin, a_small, Workload::Synthetic, 0, 10);
        let second = apply_run(bin, a_large, Workload::Synthetic, 0, 10);
        let examples = apply_run(bin, a_small, Workload::Examples, 0, 10);
        println!(
            "{prefix}apply {a_small:>6} creates, no latency, parallelism 10: {:>6.2} s (exit {})",
            first.secs, first.code
        );
        println!(
            "{prefix}apply {a_large:>6} creates, no latency, parallelism 10: {:>6.2} s ({:.2}× of {a_small})",
            second.secs,
            second.secs / first.secs
        );
        println!(
            "{prefix}apply {a_small:>6} clones of the examples, parallelism 10: {:>6.2} s ({:.2}× the synthetic {a_small}; exit {})",
            examples.secs,
            examples.secs / first.secs,
            examples.code
        );
        let latency = apply_run(bin, lat_count, Workload::Synthetic, 100, 10);
        let floor = lat_count as f64 * 0.1 / 10.0;
        println!(
            "{prefix}apply {lat_count:>6} creates, 100 ms latency, parallelism 10: {:>6.2} s ({:.3}× the {floor:.0} s latency alone imposes)",
            latency.secs,
            latency.secs / floor
        );
    }
    println!();

    if args.skip_terraform {
        return;
    }
    let cf = &args.callform;
    for count in [1_000, 3_000] {
        match terraform(count) {
            None => {
                println!("terraform not found: skipping the comparison");
                break;
            }
            Some((apply, plan)) => {
                let cf_plan = plan_secs.get(&count).copied().unwrap_or(f64::NAN);
                let cf_apply = apply_run(cf, count, Workload::Synthetic, 0, 10);
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
