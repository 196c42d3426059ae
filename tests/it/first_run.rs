//! What a newcomer does in the first hour: `init` a project and apply it in the sandbox,
//! `fmt` the manifests, install completions, read `--help` and the guide.

use std::path::Path;

use clap::{CommandFactory, Parser};

use crate::harness::Callform;

#[test]
fn init_writes_a_project_that_validates_and_applies_in_the_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("campaigns");
    let out = Callform::new().args(["init"]).dir(&dir).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out
        .stdout
        .contains("callform apply --sandbox --auto-approve"));
    for f in ["callform.yaml", ".gitignore"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let tasks: Vec<_> = std::fs::read_dir(dir.join("tasks")).unwrap().collect();
    assert_eq!(tasks.len(), 4, "one task per vendor");
    let project = std::fs::read_to_string(dir.join("callform.yaml")).unwrap();
    assert!(project.contains("\"${XFYETA_TOKEN}\""), "{project}");

    let out = Callform::new().arg("validate").cwd(&dir).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("4 task(s) in 4 file(s) are valid"),
        "{}",
        out.stdout
    );
    let out = Callform::new()
        .args(["apply", "--sandbox", "--auto-approve"])
        .cwd(&dir)
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("4 created"), "{}", out.stdout);
    let out = Callform::new()
        .args(["plan", "--sandbox", "--detailed-exitcode"])
        .cwd(&dir)
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Already formatted as written.
    let out = Callform::new().args(["fmt", "--check"]).cwd(&dir).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // The sandbox state it wrote is ignored, so it is never committed by accident.
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*.state.json"), "{ignore}");
}

/// The "Next:" lines `init` prints run as printed, one after the other in one shell, from
/// the directory `init` ran in, for a directory name with a space too.
#[test]
fn the_next_steps_init_prints_run_as_printed_in_one_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Callform::new()
        .args(["init", "my campaigns"])
        .cwd(tmp.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let steps: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| *l != "Next:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .collect();
    assert!(steps.len() >= 2, "{}", out.stdout);
    let bin = Path::new(env!("CARGO_BIN_EXE_callform")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -e\n{}\n", steps.join("\n"));
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{script}\n{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("4 created"), "{stdout}");
}

#[test]
fn init_never_overwrites_and_keeps_an_existing_gitignore() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join(".gitignore"), "/target/\n*.state.json").unwrap();
    std::fs::create_dir(dir.join("tasks")).unwrap();
    std::fs::write(dir.join("tasks/example-aliyun.yaml"), "# mine\n").unwrap();
    let out = Callform::new().arg("init").dir(dir).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("example-aliyun.yaml already exists"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wrote nothing"), "{}", out.stderr);
    assert!(!dir.join("callform.yaml").exists(), "nothing is written");
    assert_eq!(
        std::fs::read_to_string(dir.join("tasks/example-aliyun.yaml")).unwrap(),
        "# mine\n"
    );

    std::fs::remove_file(dir.join("tasks/example-aliyun.yaml")).unwrap();
    let out = Callform::new().arg("init").dir(dir).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.starts_with("/target/\n*.state.json\n"), "{ignore}");
    assert_eq!(ignore.matches("*.state.json\n").count(), 1, "{ignore}");
    assert!(ignore.contains("*.state.json.*\n*.plan\n"), "{ignore}");
}

const MESSY: &str = "# Reminders, laid out by hand.\r\nname:   fmt-messy\r\nvendor: aliyun\r\ncallees:\r\n      numbers:\r\n      -   \"13700000917\"\r\n      -   \"13700000918\"   # second\r\n      -   \"13700000919\"\r\n\r\n\r\nspec:\r\n      # the robot\r\n      dialog_id:    1234567   \r\n      caller: [\"057100000001\"]\r\n      number_status_ident: true\r\n      retry_type: 1\r\n";

#[test]
fn fmt_check_shows_a_masked_diff_and_fmt_rewrites_keeping_comments_and_meaning() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("messy.yaml");
    std::fs::write(&file, MESSY).unwrap();
    let before = Callform::new()
        .args(["apply", "--sandbox", "--auto-approve"])
        .dir(tmp.path())
        .run();
    assert_eq!(before.code, 0, "{}", before.stderr);

    let out = Callform::new()
        .args(["fmt", "--check"])
        .dir(tmp.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("-      dialog_id:    1234567"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+  dialog_id: 1234567"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("13700000917") && !out.stderr.contains("13700000917"),
        "a diff never shows a callee's number: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 file(s) would be reformatted"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        MESSY,
        "--check writes nothing"
    );

    let out = Callform::new().arg("fmt").dir(tmp.path()).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "# Reminders, laid out by hand.\nname: fmt-messy\nvendor: aliyun\ncallees:\n  numbers:\n    - \"13700000917\"\n    - \"13700000918\"   # second\n    - \"13700000919\"\n\nspec:\n  # the robot\n  dialog_id: 1234567\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n"
    );
    // The same task as the one applied before: layout only, no change to plan.
    let after = Callform::new()
        .args(["plan", "--sandbox", "--detailed-exitcode"])
        .dir(tmp.path())
        .run();
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    let out = Callform::new()
        .args(["fmt", "--check"])
        .dir(tmp.path())
        .run();
    assert_eq!(out.code, 0, "formatted once is formatted: {}", out.stdout);
}

#[test]
fn fmt_leaves_a_file_it_cannot_read_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "name: [unclosed\n  spec:   x\n").unwrap();
    let good = tmp.path().join("good.yaml");
    std::fs::write(&good, "name:   fmt-good\n").unwrap();
    let out = Callform::new().arg("fmt").dir(tmp.path()).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("bad.yaml: line"), "{}", out.stderr);
    assert!(out.stderr.contains("callform validate"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "name: [unclosed\n  spec:   x\n"
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "name: fmt-good\n");
}

#[test]
fn completions_cover_every_command_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Callform::new().args(["completions", shell]).run();
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for command in ["validate", "plan", "apply", "state", "fmt", "init"] {
            assert!(out.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let out = Callform::new().args(["completions", "tcsh"]).run();
    assert_eq!(out.code, 2, "an unknown shell is a usage error");
}

/// Every command's `--help` ends with examples, and every argument says what it is.
#[test]
fn every_command_has_examples_and_every_argument_a_description() {
    fn visit(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name()).trim().to_string();
        let leaf = !cmd.has_subcommands();
        if leaf || path == "callform state" {
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let parent_help_covers = path.starts_with("callform state ");
            if !help.contains("callform ") && !parent_help_covers {
                missing.push(format!("{path}: no example"));
            }
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path}: argument `{id}` has no description"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                visit(sub, &path, missing);
            }
        }
    }
    let mut missing = Vec::new();
    visit(&callform::cli::Cli::command(), "", &mut missing);
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn the_manifest_directory_is_dir_on_every_command() {
    let (_tmp, tasks, _state) = crate::harness::examples();
    let out = Callform::new()
        .args(["validate", "--dir"])
        .arg(&tasks)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = Callform::new().args(["plan", "-C"]).arg(&tasks).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("to create"), "{}", out.stdout);
    let out = Callform::new()
        .args(["plan", "--dir"])
        .arg(&tasks)
        .arg(&tasks)
        .run();
    assert_eq!(out.code, 2, "DIR twice is a usage error: {}", out.stderr);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

/// The guide's and the README's commands exist as written: each `callform …` line of
/// their shell blocks parses with callform's own command line.
#[test]
fn the_commands_in_the_guide_and_the_readme_exist() {
    for doc in ["docs/getting-started.md", "README.md"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc)).unwrap();
        let mut checked = 0;
        let mut in_sh = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_sh = line == "```sh";
                continue;
            }
            if !in_sh {
                continue;
            }
            let code = line.split(" #").next().unwrap_or("").trim();
            let code = code.split(" > ").next().unwrap_or(code).trim();
            let code = code.trim_end_matches('&').trim();
            let Some(rest) = code
                .strip_prefix("callform ")
                .or_else(|| code.strip_prefix("target/debug/callform "))
                .or_else(|| code.strip_prefix("target/release/callform "))
            else {
                continue;
            };
            let words: Vec<&str> = std::iter::once("callform")
                .chain(rest.split_whitespace())
                .collect();
            if let Err(e) = callform::cli::Cli::try_parse_from(&words) {
                if !matches!(e.kind(), clap::error::ErrorKind::DisplayVersion) {
                    panic!("{doc}: `{code}` is not a callform command line: {e}");
                }
            }
            checked += 1;
        }
        assert!(checked >= 5, "{doc}: only {checked} commands found");
    }
}

/// The README's recipe for the emulator, run as written (its port and paths replaced by a
/// free port and a temp copy of the examples): every task of the examples goes to the
/// emulator and is created there. A recipe that points only some vendors at it sends the
/// others to the real services, with whatever credentials the reader's shell holds.
#[test]
fn the_readmes_emulator_recipe_sends_every_task_to_the_emulator() {
    use std::io::BufRead;
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .find(|b| b.contains("callform emulator --listen"))
        .expect("the README's emulator recipe");
    let lines: Vec<String> = block
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let (tmp, tasks, _) = crate::harness::examples();
    let state = tmp.path().join("emulator.state.json");
    let bin = env!("CARGO_BIN_EXE_callform");
    let mut env: Vec<(String, String)> = Vec::new();
    let mut emulator: Option<(std::process::Child, String)> = None;
    let mut applied = None;
    for line in &lines {
        let (assignments, command): (Vec<&str>, Vec<&str>) = line
            .trim_end_matches('&')
            .split_whitespace()
            .partition(|w| w.contains('=') && !w.starts_with('-'));
        let pairs = assignments.iter().filter_map(|a| a.split_once('='));
        let pairs: Vec<(String, String)> =
            pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let url = emulator.as_ref().map(|(_, u)| u.clone());
        let fill = |v: &str| match &url {
            Some(u) => v.replace("http://127.0.0.1:8790", u),
            None => v.to_string(),
        };
        match command.as_slice() {
            ["export"] => env.extend(pairs.iter().map(|(k, v)| (k.clone(), fill(v)))),
            ["callform", "emulator", args @ ..] => {
                let args: Vec<String> = args.iter().map(|a| a.replace(":8790", ":0")).collect();
                let mut child = std::process::Command::new(bin)
                    .arg("emulator")
                    .args(&args)
                    .env_clear()
                    .envs(env.iter().cloned().chain(pairs.iter().cloned()))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                let mut first = String::new();
                std::io::BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut first)
                    .unwrap();
                let url = first
                    .split_whitespace()
                    .last()
                    .expect("the emulator prints its address")
                    .to_string();
                // Variables exported before the emulator started take its address too.
                env = env
                    .into_iter()
                    .map(|(k, v)| (k, v.replace("http://127.0.0.1:8790", &url)))
                    .collect();
                emulator = Some((child, url));
            }
            ["callform", "apply", args @ ..] => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match *a {
                        "examples/tasks" => tasks.display().to_string(),
                        "/tmp/emulator.state.json" => state.display().to_string(),
                        a => a.to_string(),
                    })
                    .collect();
                let mut cmd = Callform::new().env_clear().arg("apply").args(&args);
                for (k, v) in env.iter().chain(pairs.iter()) {
                    cmd = cmd.env(k, v);
                }
                applied = Some(cmd.run());
            }
            other => panic!("the recipe has a line this test does not know: {other:?}"),
        }
    }
    let (mut child, _) = emulator.expect("the recipe starts the emulator");
    let _ = child.kill();
    let _ = child.wait();
    let run = applied.expect("the recipe applies the examples");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains("REAL") && !run.stderr.contains("REAL"),
        "the recipe sends tasks to a real endpoint:\n{}{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("5 created"), "{}", run.stdout);
}
