//! Where a saved plan belongs: the project root, and every path of a plan relative to it.
//!
//! A plan is made in one checkout of a repository and applied in another (the CI hand-off:
//! the plan job's checkout is gone by the time the apply job runs). So a plan names no
//! absolute path of the checkout it was made in. It records:
//!
//! - the **root**: the nearest directory, from the manifest directory up, holding `.git`
//!   (a repository or a worktree), else the directory holding callform.yaml, else the
//!   manifest directory itself; and where that root lay from the working directory of
//!   `plan` (`.`, `..`, `examples`);
//! - the manifest directory, callform.yaml, the state and every input file **relative to
//!   the root**.
//!
//! `apply PLANFILE` finds the root the same way from its own working directory (like
//! Terraform, which applies a plan in the working directory), checks that it is a root of
//! the same kind (`.git` there, callform.yaml there) and that the manifests are there, and
//! reads and writes only the state under that root. The one exception is a state named by
//! an explicit absolute `--state` outside the root: the plan says so
//! (`state.outside_checkout`) and uses that path as is. A state outside the root chosen any
//! other way (a `state:` of callform.yaml that leaves the root, a relative `--state` that
//! does) is refused when the plan is saved, since it would land somewhere else in every
//! checkout.
//!
//! Paths are made absolute and normalised lexically (`.` and `..` removed) but symlinks are
//! not resolved: the working directory is already real, and a checkout's own links are the
//! same in every copy of it.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Hint;

/// What marks the root of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootKind {
    /// The nearest directory holding `.git`.
    Git,
    /// No repository: the directory holding callform.yaml.
    Project,
    /// Neither: the manifest directory itself.
    Manifests,
}

impl RootKind {
    /// What a root of this kind holds, for messages.
    fn marker(self) -> &'static str {
        match self {
            RootKind::Git => "`.git` (the root of a git checkout)",
            RootKind::Project => "callform.yaml (no git checkout)",
            RootKind::Manifests => "the manifests (no git checkout and no callform.yaml)",
        }
    }
}

/// A plan's root, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRoot {
    /// What marks it.
    pub kind: RootKind,
    /// Where it lay from the working directory of `plan` (`/`-separated, `.` for the same).
    pub from_workdir: String,
}

/// Where a plan is made or applied: its root, and its paths relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The root, absolute.
    pub root: PathBuf,
    /// The working directory, absolute.
    pub workdir: PathBuf,
    /// What the plan records of the root.
    pub saved_root: PlanRoot,
    /// The manifest directory relative to the root (`.` when it is the root).
    pub manifest_dir: String,
    /// callform.yaml relative to the root.
    pub project_file: Option<String>,
    /// The state, relative to the root; absolute when `state_outside`.
    pub state: String,
    /// The state lies outside the root and is used as is.
    pub state_outside: bool,
    /// The state lies outside the root and was not named by an absolute `--state`: a saved
    /// plan would find it elsewhere in every checkout, so it is not saved.
    pub state_escapes: bool,
}

/// `path` made absolute against `base` and normalised lexically.
pub fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    }
}

/// `a/./b/../c` → `a/c`, without the disk. `..` of the root is the root, as the kernel
/// has it; a relative path keeps the `..` that lead out of it.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` (both absolute and normalised), `/`-separated: `.` for the
/// same directory, `..` steps when `path` is not below `base`. `None` when they share no
/// prefix at all (another drive).
pub fn relative(path: &Path, base: &Path) -> Option<String> {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    parts.extend(std::iter::repeat_n("..".to_string(), b.len() - common));
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// `path` relative to `base` when it lies below it (or is it).
fn below(path: &Path, base: &Path) -> Option<String> {
    path.strip_prefix(base).ok().map(|rest| {
        let parts: Vec<String> = rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        }
    })
}

/// A path the plan recorded relative to the root, under `root`.
pub fn under(root: &Path, recorded: &str) -> PathBuf {
    absolute(root, Path::new(recorded))
}

/// The root of the manifests at `manifest_dir` (absolute), with callform.yaml at
/// `project_file` (absolute), if there is one.
pub fn find_root(manifest_dir: &Path, project_file: Option<&Path>) -> (RootKind, PathBuf) {
    let start = if manifest_dir.is_file() {
        manifest_dir.parent().unwrap_or(manifest_dir)
    } else {
        manifest_dir
    };
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join(".git").exists() {
            return (RootKind::Git, d.to_path_buf());
        }
        dir = d.parent();
    }
    match project_file.and_then(Path::parent) {
        Some(p) => (RootKind::Project, p.to_path_buf()),
        None => (RootKind::Manifests, start.to_path_buf()),
    }
}

impl Place {
    /// Where a plan of the manifests at `dir` with `project_file` (as given, or found) and
    /// the state at `state` is made, from the working directory `workdir` (absolute).
    /// `state_flag_absolute`: the state was named by an absolute `--state`.
    pub fn new(
        workdir: &Path,
        dir: &Path,
        project_file: Option<&Path>,
        state: &Path,
        state_flag_absolute: bool,
    ) -> Place {
        let dir = absolute(workdir, dir);
        let project_file = project_file.map(|f| absolute(workdir, f));
        let (kind, root) = find_root(&dir, project_file.as_deref());
        let state_abs = absolute(workdir, state);
        let postgres = state
            .to_str()
            .filter(|s| crate::state::postgres::is_postgres_location(s));
        let (state, state_outside, state_escapes) = match (postgres, below(&state_abs, &root)) {
            // A database is the same one from every checkout: recorded as written (its
            // variables unread), used as is.
            (Some(written), _) => (written.to_string(), true, false),
            (None, Some(rel)) => (rel, false, false),
            (None, None) => (state_abs.display().to_string(), true, !state_flag_absolute),
        };
        Place {
            saved_root: PlanRoot {
                kind,
                from_workdir: relative(&root, workdir)
                    .unwrap_or_else(|| root.display().to_string()),
            },
            manifest_dir: below(&dir, &root).unwrap_or_else(|| dir.display().to_string()),
            project_file: project_file
                .as_deref()
                .map(|f| below(f, &root).unwrap_or_else(|| f.display().to_string())),
            state,
            state_outside,
            state_escapes,
            root,
            workdir: workdir.to_path_buf(),
        }
    }

    /// How a file read from `path` (as the manifests name it) is recorded: relative to the
    /// root, or absolute when it lies outside (an `input_dirs:` entry elsewhere).
    pub fn file(&self, path: &Path) -> String {
        let abs = absolute(&self.workdir, path);
        below(&abs, &self.root).unwrap_or_else(|| abs.display().to_string())
    }
}

/// Where a saved plan is applied here, found from the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The root here, absolute.
    pub root: PathBuf,
    /// The manifest directory here, as shown (relative to the working directory when below
    /// it).
    pub manifest_dir: PathBuf,
    /// The state here (or the outside one the plan names), as shown.
    pub state: PathBuf,
}

/// Why a saved plan does not belong where it is applied.
#[derive(Debug, thiserror::Error)]
pub enum Misplaced {
    /// The root is not where the plan says, from here.
    #[error("{}: this plan belongs to a project whose root holds {marker}, at `{from_workdir}` from the directory it was made in; from here that is {}, which does not", plan.display(), here.display())]
    NoRoot {
        plan: PathBuf,
        marker: &'static str,
        from_workdir: String,
        here: PathBuf,
    },
    /// The manifests are not in this checkout.
    #[error("{}: the plan's manifests `{manifest_dir}` are not in this checkout ({} is missing)", plan.display(), here.display())]
    NoManifests {
        plan: PathBuf,
        manifest_dir: String,
        here: PathBuf,
    },
    /// `apply --sandbox` of a plan made for the real vendors.
    #[error("{}: this plan was made for the real vendors (without --sandbox); in the sandbox it would be checked against another state and other endpoints", plan.display())]
    NotSandbox { plan: PathBuf },
    /// callform.yaml here is not the one the plan was made with.
    #[error("{}: the plan was made with {then}; here the manifests are configured by {now}: this is another project", plan.display())]
    OtherProject {
        plan: PathBuf,
        then: String,
        now: String,
    },
}

impl Hint for Misplaced {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Misplaced::NoRoot { from_workdir, .. } => format!(
                "run `callform apply PLANFILE` from the directory of a checkout of the same repository that the plan was made in (its root is `{from_workdir}` from there), or make a new plan here with `callform plan --out FILE`"
            ),
            Misplaced::NotSandbox { .. } => "apply it without --sandbox to send it to the vendors it names, or make a sandbox plan with `callform plan --sandbox --out FILE`".into(),
            Misplaced::NoManifests { .. } | Misplaced::OtherProject { .. } => {
                "apply the plan in a checkout of the repository it was made from (cd there), or make a new plan here with `callform plan --out FILE` and review it".into()
            }
        })
    }
}

/// Finds, from `workdir` (absolute), where the plan at `plan_file` with `root`,
/// `manifest_dir`, `project_file` and state `state` (`outside`: used as is) applies.
pub fn locate(
    plan_file: &Path,
    workdir: &Path,
    root: &PlanRoot,
    manifest_dir: &str,
    project_file: Option<&str>,
    state: (&str, bool),
) -> Result<Located, Misplaced> {
    let here = absolute(workdir, Path::new(&root.from_workdir));
    let marked = match root.kind {
        RootKind::Git => here.join(".git").exists(),
        RootKind::Project => project_file.is_some_and(|f| under(&here, f).is_file()),
        RootKind::Manifests => here.exists(),
    };
    if !marked {
        return Err(Misplaced::NoRoot {
            plan: plan_file.to_path_buf(),
            marker: root.kind.marker(),
            from_workdir: root.from_workdir.clone(),
            here,
        });
    }
    let dir = under(&here, manifest_dir);
    if !dir.exists() {
        return Err(Misplaced::NoManifests {
            plan: plan_file.to_path_buf(),
            manifest_dir: manifest_dir.to_string(),
            here: dir,
        });
    }
    let found = crate::project::find(&dir);
    let expected = project_file.map(|f| under(&here, f));
    if found.as_deref().map(|f| absolute(workdir, f)) != expected {
        let name = |f: Option<&Path>| match f {
            Some(f) => f.display().to_string(),
            None => "no callform.yaml".to_string(),
        };
        return Err(Misplaced::OtherProject {
            plan: plan_file.to_path_buf(),
            then: match project_file {
                Some(f) => format!("`{f}` (relative to its root)"),
                None => "no callform.yaml".into(),
            },
            now: name(found.as_deref()),
        });
    }
    let shown = |p: PathBuf| match below(&p, workdir) {
        Some(rel) => PathBuf::from(rel),
        None => p,
    };
    let (state, outside) = state;
    let state = if outside {
        PathBuf::from(state)
    } else {
        shown(under(&here, state))
    };
    Ok(Located {
        root: here,
        manifest_dir: shown(dir),
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_made_relative() {
        let base = Path::new("/r/a");
        assert_eq!(
            absolute(base, Path::new("b/../c/./d")),
            Path::new("/r/a/c/d")
        );
        assert_eq!(absolute(base, Path::new("/x/../y")), Path::new("/y"));
        assert_eq!(relative(Path::new("/r/a"), base).as_deref(), Some("."));
        assert_eq!(relative(Path::new("/r"), base).as_deref(), Some(".."));
        assert_eq!(relative(Path::new("/r/a/e"), base).as_deref(), Some("e"));
        assert_eq!(
            relative(Path::new("/s/t"), base).as_deref(),
            Some("../../s/t")
        );
        assert_eq!(below(Path::new("/s"), base), None);
    }

    #[test]
    fn the_root_is_the_checkout_else_the_project_else_the_manifests() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path();
        let tasks = top.join("p/tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        let yaml = top.join("p/callform.yaml");
        assert_eq!(
            find_root(&tasks, None),
            (RootKind::Manifests, tasks.clone())
        );
        assert_eq!(
            find_root(&tasks, Some(&yaml)),
            (RootKind::Project, top.join("p"))
        );
        std::fs::write(top.join(".git"), "gitdir: elsewhere\n").unwrap();
        assert_eq!(
            find_root(&tasks, Some(&yaml)),
            (RootKind::Git, top.to_path_buf())
        );
    }

    #[test]
    fn a_state_outside_the_root_is_kept_only_when_named_absolutely() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("tasks")).unwrap();
        let inside = Place::new(&root, Path::new("tasks"), None, Path::new("s.json"), false);
        assert_eq!(inside.saved_root.from_workdir, ".");
        assert_eq!(
            (inside.manifest_dir.as_str(), inside.state.as_str()),
            ("tasks", "s.json")
        );
        assert!(!inside.state_outside && !inside.state_escapes);
        let flag = Place::new(
            &root,
            Path::new("tasks"),
            None,
            Path::new("/var/s.json"),
            true,
        );
        assert!(flag.state_outside && !flag.state_escapes);
        assert_eq!(flag.state, "/var/s.json");
        let up = Place::new(
            &root,
            Path::new("tasks"),
            None,
            Path::new("../s.json"),
            false,
        );
        assert!(up.state_outside && up.state_escapes);
    }
}
