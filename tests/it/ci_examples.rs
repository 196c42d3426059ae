//! The CI examples (`examples/ci/`): every `callform …` command their `run:` and `script:`
//! steps hold names a subcommand and flags that exist, checked against callform's own
//! clap definition (`callform::cli::Cli::command()`), so a renamed flag breaks this test
//! and not a team's pipeline.

use std::path::{Path, PathBuf};

use callform::manifest::yaml::{self, Node, Value};
use clap::CommandFactory;

/// The workflow files of the examples.
fn workflows() -> Vec<PathBuf> {
    let ci = crate::harness::repo("examples/ci");
    vec![
        ci.join("github/.github/workflows/callform-plan.yml"),
        ci.join("github/.github/workflows/callform-apply.yml"),
        ci.join("gitlab/.gitlab-ci.yml"),
    ]
}

/// The shell text of every `run:` (GitHub) and `script:`/`before_script:`/`after_script:`
/// (GitLab) in a workflow, with its line.
fn shell_steps(node: &Node, out: &mut Vec<(usize, String)>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                let key = k.as_str().unwrap_or_default();
                let shell = matches!(key, "run" | "script" | "before_script" | "after_script");
                match (&v.value, shell) {
                    (Value::Scalar { text, .. }, true) => out.push((v.pos.line, text.clone())),
                    (Value::Seq(items), true) => {
                        for i in items {
                            if let Value::Scalar { text, .. } = &i.value {
                                out.push((i.pos.line, text.clone()));
                            }
                        }
                    }
                    _ => shell_steps(v, out),
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| shell_steps(i, out)),
        Value::Scalar { .. } => {}
    }
}

/// Tokens that end a command in a shell line.
fn ends_command(token: &str) -> bool {
    matches!(token, "|" | "||" | "&&" | ";" | ")" | "&")
        || token.starts_with('>')
        || token.starts_with("2>")
        || token.starts_with('<')
}

/// Tokens after which a word is in command position.
fn starts_command(token: &str) -> bool {
    matches!(
        token,
        "|" | "||" | "&&" | ";" | "$(" | "then" | "do" | "else" | "!" | "time" | "if" | "-"
    )
}

/// The `callform …` commands of a shell script: the words after `callform` up to the end of
/// the command (continuation lines joined, a trailing `;` cut off).
fn callform_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or_default();
        let mut words: Vec<String> = Vec::new();
        for w in line.split_whitespace() {
            // `code=$?;` and `plan.md;`: a `;` glued to a word ends the command too.
            match w.strip_suffix(';') {
                Some(rest) if !rest.is_empty() => {
                    words.push(rest.to_string());
                    words.push(";".into());
                }
                _ => words.push(w.to_string()),
            }
        }
        for (i, w) in words.iter().enumerate() {
            let at_start = i == 0 || starts_command(&words[i - 1]);
            if (w == "callform" || w == "$(callform") && at_start {
                let args: Vec<String> = words[i + 1..]
                    .iter()
                    .take_while(|t| !ends_command(t))
                    .cloned()
                    .collect();
                commands.push(args);
            }
        }
    }
    commands
}

fn unquote(s: &str) -> &str {
    s.trim_matches('"').trim_matches('\'')
}

/// What is wrong with one `callform ARGS` command: an unknown subcommand, flag or value.
fn check(args: &[String]) -> Vec<String> {
    let mut root = callform::cli::Cli::command();
    root.build();
    let mut cmd = &root;
    let mut problems = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = unquote(&args[i]);
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if name == "help" || name == "version" {
                i += 1;
                continue;
            }
            let Some(arg) = cmd.get_arguments().find(|x| x.get_long() == Some(name)) else {
                problems.push(format!(
                    "`callform {}`: no flag --{name} on `{}`",
                    args.join(" "),
                    cmd.get_name()
                ));
                i += 1;
                continue;
            };
            let takes_value = arg.get_action().takes_values();
            if takes_value {
                let value = match inline {
                    Some(v) => Some(v.to_string()),
                    None => {
                        i += 1;
                        args.get(i).map(|v| unquote(v).to_string())
                    }
                };
                let possible = arg.get_possible_values();
                match value {
                    None => problems.push(format!(
                        "`callform {}`: --{name} needs a value",
                        args.join(" ")
                    )),
                    Some(v) if !possible.is_empty() && !v.starts_with('$') => {
                        if !possible.iter().any(|p| p.matches(&v, false)) {
                            problems.push(format!(
                                "`callform {}`: --{name} takes no value `{v}`",
                                args.join(" ")
                            ));
                        }
                    }
                    Some(_) => {}
                }
            }
        } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            for c in short.chars() {
                if !cmd.get_arguments().any(|x| x.get_short() == Some(c)) {
                    problems.push(format!("`callform {}`: no flag -{c}", args.join(" ")));
                }
            }
        } else if cmd.has_subcommands() {
            match cmd.find_subcommand(a) {
                Some(sub) => cmd = sub,
                None => problems.push(format!(
                    "`callform {}`: no subcommand `{a}`",
                    args.join(" ")
                )),
            }
        }
        i += 1;
    }
    if cmd.get_name() == root.get_name() && problems.is_empty() {
        problems.push(format!("`callform {}`: no subcommand", args.join(" ")));
    }
    problems
}

fn check_file(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let mut steps = Vec::new();
    for d in &docs {
        shell_steps(&d.root, &mut steps);
    }
    let mut seen = 0;
    let mut problems = Vec::new();
    for (line, script) in steps {
        for c in callform_commands(&script) {
            seen += 1;
            for p in check(&c) {
                problems.push(format!("{}:{line}: {p}", path.display()));
            }
        }
    }
    (seen, problems)
}

#[test]
fn every_callform_command_in_the_ci_examples_exists() {
    let mut seen = 0;
    for path in workflows() {
        let (n, problems) = check_file(&path);
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            n >= 2,
            "{}: only {n} callform commands found",
            path.display()
        );
        seen += n;
    }
    assert!(seen >= 8, "{seen}");
}

/// The checker itself: a flag, a value or a subcommand that does not exist is found, and
/// an install line that names the crate is not a command.
#[test]
fn the_ci_example_checker_finds_what_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wf.yml");
    std::fs::write(
        &path,
        "jobs:\n  a:\n    steps:\n      - run: cargo install --locked --git \"$X\" callform\n      - run: |\n          callform plan --out p.cfplan --no-such-flag tasks > plan.md\n          set +e; callform validate --format yaml tasks\n  b:\n    script:\n      - callform nosuch\n      - callform state lisst\n      - callform apply --auto-approve plan.cfplan 2> err; code=$?\n",
    )
    .unwrap();
    let (seen, problems) = check_file(&path);
    assert_eq!(seen, 5, "{problems:#?}");
    let all = problems.join("\n");
    assert!(all.contains("no flag --no-such-flag on `plan`"), "{all}");
    assert!(all.contains("--format takes no value `yaml`"), "{all}");
    assert!(all.contains("no subcommand `nosuch`"), "{all}");
    assert!(all.contains("no subcommand `lisst`"), "{all}");
    assert_eq!(problems.len(), 4, "{all}");
}

/// The apply steps recognise a stale plan by `is stale` on stderr: callform says exactly
/// that (exit 1, nothing sent) when the reviewed plan no longer matches, and both apply
/// steps look for it.
#[test]
fn the_apply_steps_recognise_the_stale_plan_message() {
    for path in &workflows()[1..] {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("grep -q \"is stale\""), "{}", path.display());
    }
    let (tmp, tasks, _) = crate::harness::examples();
    crate::harness::rename_tasks(&tasks, "ciwf-");
    let plan = tmp.path().join("plan.cfplan");
    let (code, _, err) = crate::harness::run(
        crate::harness::bin()
            .emulator()
            .args(["plan", "--out"])
            .arg(&plan)
            .arg(&tasks),
    );
    assert_eq!(code, 0, "{err}");
    let numbers = tasks.join("numbers/overdue-jan.csv");
    let original = std::fs::read_to_string(&numbers).unwrap();
    std::fs::write(&numbers, format!("{original}13700000009,钱先生,10.00\n")).unwrap();
    let (code, _, err) = crate::harness::run(
        crate::harness::bin()
            .emulator()
            .args(["apply", "--auto-approve"])
            .arg(&plan),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is stale"), "{err}");
    assert!(crate::harness::emulator().tasks("ciwf-").is_empty());
}

/// A plan too long for one comment, through the binary: `plan --format markdown` and
/// `show --format markdown PLANFILE` both fit, lead with the summary, count what they leave
/// out and say where the full plan is.
#[test]
fn a_markdown_plan_too_long_for_a_comment_is_cut_and_says_so() {
    let (tmp, tasks, _) = crate::harness::examples();
    let mut docs = Vec::new();
    for i in 0..2_000 {
        docs.push(format!(
            "name: ciwf-big-{i:04}\nvendor: aliyun\ncallees:\n  file: ../numbers/overdue-jan.csv\n  variables: [客户姓名, 欠费金额]\nspec:\n  dialog_id: 1234567\n  caller: [\"057100000001\"]\n  number_status_ident: true\n  retry_type: 1\n"
        ));
    }
    std::fs::write(tasks.join("aliyun/big.yaml"), docs.join("---\n")).unwrap();
    let plan = tmp.path().join("plan.cfplan");
    let (code, md, err) = crate::harness::run(
        crate::harness::bin()
            .emulator()
            .args(["plan", "--format", "markdown", "--out"])
            .arg(&plan)
            .arg(&tasks),
    );
    assert_eq!(code, 0, "{err}");
    let (code, shown, err) = crate::harness::run(
        crate::harness::bin()
            .args(["show", "--format", "markdown"])
            .arg(&plan),
    );
    assert_eq!(code, 0, "{err}");
    for md in [&md, &shown] {
        assert!(md.chars().count() <= 60_000, "{}", md.chars().count());
        assert!(md.starts_with("### callform plan: 📝 changes"), "{md}");
        assert!(md.contains("**2005** to create"), "{md}");
        let listed = md.matches("<details>").count();
        assert!(listed > 10, "{md}");
        let n = 2005 - listed;
        let n = if n >= 1000 {
            format!("{},{:03}", n / 1000, n % 1000)
        } else {
            n.to_string()
        };
        let left = format!("**{n} more not shown** (routine creates)");
        assert!(md.contains(&left), "{md}");
        assert!(md.contains("callform show PLANFILE"), "{md}");
    }
}
