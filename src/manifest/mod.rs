//! Task manifests: finding, reading, typing and checking them.
//!
//! A manifest directory holds task files (`*.yaml`, `*.yml`, searched recursively, one task
//! per YAML document). [`load`] reads them all and returns every task that is valid plus
//! every problem found, so `validate` can report all of them in one run. Nothing here
//! touches the network or the state.

pub mod callees;
pub mod check;
pub mod codes;
pub mod de;
pub mod fmt;
pub mod path;
pub mod reference;
pub mod schema;
pub mod time;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::diag::Diagnostic;
use crate::vendor::TaskFacts;
use callees::{CalleeList, CalleesDoc};
use check::Checker;
use path::FieldPath;

pub use crate::vendor::{Spec, VendorId as Vendor};

/// `paused` (the default), `running` or `stopped`: whether a task dials.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created and loaded, not started: nobody is called (the default).
    #[default]
    Paused,
    /// Started once its callees are loaded: the vendor dials them in the task's windows.
    Running,
    /// Ended for good: a created task is stopped (irreversible at every vendor); a task
    /// not created yet is never created.
    Stopped,
}

impl RunStatus {
    pub fn key(self) -> &'static str {
        match self {
            RunStatus::Paused => "paused",
            RunStatus::Running => "running",
            RunStatus::Stopped => "stopped",
        }
    }
}

/// Where a task was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Shared by the tasks of one file.
    pub file: Arc<Path>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// callform's key for the task (state, plan, `--target`).
    pub name: String,
    pub vendor: Vendor,
    /// The provider block in `callform.yaml` (default: the vendor's key).
    pub provider: String,
    pub labels: BTreeMap<String, String>,
    /// `moved_from: OLD`: this task is the one recorded as OLD, renamed (the plan moves the
    /// record, and sends nothing).
    pub moved_from: Option<String>,
    pub spec: Spec,
    /// `status:`, default paused.
    pub status: RunStatus,
    /// `callees:`, checked; `None` when the task names none.
    pub callees: Option<CalleeList>,
    pub source: Source,
    /// `purpose`, `consent`, `exceptions`, and when the task dials: what the policy
    /// checks ([`crate::policy`]).
    pub policy: crate::policy::TaskPolicy,
}

impl Task {
    /// The name the vendor shows: the vendor's own parameter, defaulting to `name`.
    pub fn vendor_name(&self) -> &str {
        self.spec.def().vendor_name().unwrap_or(&self.name)
    }
}

/// A file the manifests consist of or name, with its content digest (for stale plans).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub sha256: [u8; 32],
}

#[derive(Debug, Default)]
pub struct Manifests {
    pub tasks: Vec<Task>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, manifests and the files they name, sorted by path.
    pub files: Vec<SourceFile>,
    /// Texts of the manifests that have diagnostics, for source excerpts under them (the
    /// others are not kept: 100,000 tasks are tens of megabytes of text).
    pub texts: HashMap<PathBuf, String>,
    /// What the policy found ([`crate::policy::check`], run once the tasks are loaded).
    pub compliance: crate::policy::Compliance,
}

impl Manifests {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The envelope of a task document; `spec` is read separately, by vendor.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    name: String,
    vendor: Vendor,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    moved_from: Option<String>,
    #[serde(default)]
    status: Option<RunStatus>,
    #[serde(default)]
    callees: Option<CalleesDoc>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    exceptions: Option<Vec<RawException>>,
    #[allow(dead_code)]
    spec: serde::de::IgnoredAny,
}

/// An `exceptions:` item as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    rule: String,
    reason: String,
}

/// Finds the task files under `dir` (or reads `dir` itself when it is a file).
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn find_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    if !dir.is_dir() {
        return Err(Diagnostic::error(dir, "no such manifest directory")
            .hint("pass the directory that holds your task files"));
    }
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Diagnostic::error(&d, format!("cannot read the directory: {e}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| Diagnostic::error(&d, format!("cannot read the directory: {e}")))?;
            let path = entry.path();
            let path = path
                .strip_prefix(".")
                .map(Path::to_path_buf)
                .unwrap_or(path);
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let ty = entry
                .file_type()
                .map_err(|e| Diagnostic::error(&path, format!("cannot read: {e}")))?;
            if ty.is_dir() {
                todo.push(path);
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && name != "callform.yaml"
                && name != "callform.yml"
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads, types and checks every task under `dir`. Date-times are read in `tz`; `now`
/// decides what counts as "in the past".
///
/// `providers` (provider name → vendor, from callform.yaml) is checked against each task's
/// `provider` when there is a project file.
pub fn load(
    dir: &Path,
    tz: &TimeZone,
    now: Timestamp,
    providers: Option<&BTreeMap<String, Vendor>>,
) -> Manifests {
    let roots = crate::project::default_input_roots(dir);
    load_in(dir, tz, now, providers, &BTreeSet::new(), &roots)
}

/// [`load`], with the directories the manifests and the files they name must lie in
/// (symlinks resolved): [`crate::project::Project::input_roots`], and the provider
/// blocks of callform.yaml that could not be read ([`crate::project::Project::invalid_providers`]).
pub fn load_in(
    dir: &Path,
    tz: &TimeZone,
    now: Timestamp,
    providers: Option<&BTreeMap<String, Vendor>>,
    invalid_providers: &BTreeSet<String>,
    roots: &[PathBuf],
) -> Manifests {
    let mut out = Manifests::default();
    let files = match find_files(dir) {
        Ok(f) => f,
        Err(d) => {
            out.diagnostics.push(d);
            return out;
        }
    };
    // Files are read on every core, each thread taking the next unread file as it finishes
    // one (so a thread slowed by other work, such as reading the state, leaves the rest to
    // the others); the results are put back in file order, and names are then checked for
    // duplicates in that order, as if read one by one.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let read_one = |file: &PathBuf| {
        let mut part = Manifests::default();
        let mut named = Vec::new();
        let text = callees::read_confined(file, roots);
        match text {
            Ok(text) => read_file(
                file.clone(),
                text,
                &Inputs {
                    tz,
                    now,
                    providers,
                    invalid_providers,
                    roots,
                },
                &mut named,
                &mut part,
            ),
            Err(d) => part.diagnostics.push(d),
        }
        (part, named)
    };
    let mut parts: Vec<(usize, (Manifests, Vec<Named>))> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            return done;
                        };
                        done.push((i, read_one(file)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    let mut named = Vec::new();
    // The tasks are put together in one list of the exact size (100,000 tasks are tens of
    // megabytes: a list grown by doubling would hold up to twice that).
    out.tasks
        .reserve_exact(parts.iter().map(|(_, (part, _))| part.tasks.len()).sum());
    for (_, (part, n)) in parts {
        out.tasks.extend(part.tasks);
        out.diagnostics.extend(part.diagnostics);
        out.files.extend(part.files);
        out.texts.extend(part.texts);
        named.extend(n);
    }
    unique_names(named, &mut out);
    renames(&mut out);
    finish(&mut out);
    out
}

/// `moved_from` across tasks: the old name must be no other task's name (that task would
/// still be planned, and the rename would take its record), and two tasks cannot both be
/// moved from one name. Each problem drops the task it is reported on.
fn renames(out: &mut Manifests) {
    if out.tasks.iter().all(|t| t.moved_from.is_none()) {
        return;
    }
    let names: HashMap<&str, &Task> = out.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut claimed: HashMap<&str, &Task> = HashMap::new();
    let mut refused = Vec::new();
    for t in &out.tasks {
        let Some(old) = t.moved_from.as_deref() else {
            continue;
        };
        let problem = if let Some(other) = names.get(old) {
            Some((
                format!("moved_from: `{old}` is still a task in the manifests"),
                format!(
                    "{}:{}: remove that task, or this `moved_from`",
                    other.source.file.display(),
                    other.source.line
                ),
            ))
        } else if let Some(first) = claimed.get(old) {
            Some((
                format!("moved_from: `{old}` is already moved to `{}`", first.name),
                format!(
                    "{}:{}: a task can be renamed to one name only",
                    first.source.file.display(),
                    first.source.line
                ),
            ))
        } else {
            claimed.insert(old, t);
            None
        };
        if let Some((message, hint)) = problem {
            refused.push(t.name.clone());
            out.diagnostics.push(
                Diagnostic::error(&t.source.file, message)
                    .at(t.source.line, 1, 1)
                    .task(Some(&t.name))
                    .field("moved_from")
                    .expected("the old name of this task, which no other task has or claims")
                    .hint(hint),
            );
        }
    }
    if !refused.is_empty() {
        out.tasks.retain(|t| !refused.contains(&t.name));
    }
}

/// Reads, types and checks the tasks in `text`, the content of the manifest file `file`,
/// as [`load`] does for each file it finds. Callee files the tasks name are read relative
/// to `file`'s directory. This is the loader without the directory walk: what the fuzz
/// target drives, since it must take any text.
pub fn load_text(
    file: &Path,
    text: &str,
    tz: &TimeZone,
    now: Timestamp,
    providers: Option<&BTreeMap<String, Vendor>>,
) -> Manifests {
    let mut out = Manifests::default();
    let mut named = Vec::new();
    let roots = crate::project::default_input_roots(file);
    read_file(
        file.to_path_buf(),
        text.to_string(),
        &Inputs {
            tz,
            now,
            providers,
            invalid_providers: &BTreeSet::new(),
            roots: &roots,
        },
        &mut named,
        &mut out,
    );
    // The text is at hand: a duplicate name is shown in it, not in whatever is on disk.
    out.texts
        .entry(file.to_path_buf())
        .or_insert_with(|| text.to_string());
    unique_names(named, &mut out);
    renames(&mut out);
    finish(&mut out);
    out
}

/// A document's task name where it was written, and whether its task is valid (then it is
/// the next one in [`Manifests::tasks`]).
struct Named {
    name: String,
    file: Arc<Path>,
    pos: yaml::Pos,
    has_task: bool,
}

/// Keeps the first task of each name, in file order; every later one is an error pointing
/// at its `name` and naming the first. Names are checked whether or not the tasks are
/// otherwise valid: fixing one error must not reveal a duplicate that was there all along.
fn unique_names(named: Vec<Named>, out: &mut Manifests) {
    use std::collections::hash_map::Entry;
    // Name → where it was first defined; one hash and probe per name.
    let mut seen: HashMap<&str, &Named> = HashMap::with_capacity(named.len());
    // Which of `out.tasks` to keep, in order; tasks move only when one is dropped.
    let mut keep = Vec::with_capacity(out.tasks.len());
    for n in &named {
        let first = match seen.entry(n.name.as_str()) {
            Entry::Vacant(slot) => {
                slot.insert(n);
                if n.has_task {
                    keep.push(true);
                }
                continue;
            }
            Entry::Occupied(slot) => *slot.get(),
        };
        if n.has_task {
            keep.push(false);
        }
        if !out.texts.contains_key(&*n.file) {
            // Read again for the excerpt: texts are kept only for files with problems.
            if let Ok(text) = callees::read_text(&n.file, &n.file) {
                out.texts.insert(n.file.to_path_buf(), text);
            }
        }
        out.diagnostics.push(
            Diagnostic::error(&n.file, format!("duplicate task name `{}`", n.name))
                .at(n.pos.line, n.pos.col, n.pos.len)
                .task(Some(&n.name))
                .field("name")
                .expected("names unique across the manifest directory")
                .hint(format!(
                    "first defined at {}:{}; rename one of them",
                    first.file.display(),
                    first.pos.line
                )),
        );
    }
    if keep.contains(&false) {
        let mut keep = keep.into_iter();
        out.tasks.retain(|_| keep.next().unwrap_or(true));
    }
}

/// One manifest file: its digest, its documents and their tasks. Each document's name goes
/// to `named` (with its task), for [`unique_names`] to check across files.
/// What every task of a load is read with.
struct Inputs<'a> {
    tz: &'a TimeZone,
    now: Timestamp,
    providers: Option<&'a BTreeMap<String, Vendor>>,
    /// Where the files a manifest names must lie ([`callees::confine`]).
    roots: &'a [PathBuf],
    /// Provider blocks of callform.yaml that are there but could not be read (reported
    /// there): a task naming one is invalid, but not for want of the block.
    invalid_providers: &'a BTreeSet<String>,
}

fn read_file(
    file: PathBuf,
    text: String,
    inputs: &Inputs<'_>,
    named: &mut Vec<Named>,
    out: &mut Manifests,
) {
    if written_by_callform(&text) {
        out.diagnostics.push(
            Diagnostic::warning(
                &file,
                "skipped: this is a file callform writes (a state, backup, journal, lock or saved plan), not a manifest",
            )
            .hint("keep callform's own files outside the manifest directory, or name them `*.json`"),
        );
        return;
    }
    out.files.push(SourceFile {
        path: file.clone(),
        sha256: Sha256::digest(text.as_bytes()).into(),
    });
    let shared: Arc<Path> = Arc::from(file.as_path());
    // Each document is read, typed and dropped before the next is parsed: however long the
    // file, one document's tree is in memory at a time, and it stays in cache.
    let (tasks, files, diagnostics, names) = (
        out.tasks.len(),
        out.files.len(),
        out.diagnostics.len(),
        named.len(),
    );
    for doc in yaml::documents(&text) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                // A file that does not parse is reported by its syntax error alone, as if
                // none of it had been read: what came before the error is taken back.
                out.tasks.truncate(tasks);
                out.files.truncate(files);
                out.diagnostics.truncate(diagnostics);
                named.truncate(names);
                out.diagnostics.push(
                    Diagnostic::error(&file, format!("invalid YAML: {}", e.message))
                        .at(e.pos.line, e.pos.col, e.pos.len)
                        .hint(
                            "fix the syntax; `callform validate` reads the whole file once it parses",
                        ),
                );
                break;
            }
        };
        if doc.root.is_null() {
            continue;
        }
        let task = load_task(&shared, &doc.root, inputs, out);
        // A valid task always has a name (it is required), so every task has its `Named`.
        if let Some(name) = doc.root.get("name").and_then(yaml::Node::as_str) {
            named.push(Named {
                name: name.to_string(),
                file: shared.clone(),
                pos: FieldPath::root().k("name").locate(&doc.root, false),
                has_task: task.is_some(),
            });
            out.tasks.extend(task);
        }
    }
    if out.diagnostics.len() > diagnostics {
        out.texts.insert(file, text);
    }
}

/// Whether `text` is one of callform's own files (state, backup, journal, lock, saved
/// plan, all JSON) rather than a manifest: a manifest is never a JSON object with these
/// keys, as its envelope takes no such field.
fn written_by_callform(text: &str) -> bool {
    let text = text.trim_start();
    if !text.starts_with('{') {
        return false;
    }
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    ["\"format_version\"", "\"lineage\"", "\"op\"", "\"pid\""]
        .iter()
        .any(|key| head.contains(key))
}

/// Puts what was collected in the order callers rely on.
/// Vendor-visible names unique per provider: an uncertain create is resolved by looking
/// its task up by that name ([`crate::plan::adopt`]), which only means "this task" when no
/// other task of the provider's account carries it. Every later task of a name is an error
/// naming the first (both files, lines and tasks); the tasks stay loaded (they are valid
/// each on its own), but the errors stop plan and apply.
fn unique_vendor_names(out: &mut Manifests) {
    let mut seen: HashMap<(&str, &str), &Task> = HashMap::with_capacity(out.tasks.len());
    let mut found = Vec::new();
    for t in &out.tasks {
        match seen.entry((t.provider.as_str(), t.vendor_name())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(t);
            }
            std::collections::hash_map::Entry::Occupied(first) => {
                found.push((*first.get(), t));
            }
        }
    }
    let mut diags = Vec::with_capacity(found.len());
    for (first, t) in found {
        let field = vendor_name_field(t);
        diags.push(
            Diagnostic::error(
                &t.source.file,
                format!(
                    "task `{}` has the vendor-visible name `{}`, as task `{}` ({}:{}) on the same provider `{}`",
                    t.name,
                    t.vendor_name(),
                    first.name,
                    first.source.file.display(),
                    first.source.line,
                    t.provider
                ),
            )
            .at(t.source.line, 1, 0)
            .task(Some(&t.name))
            .field(field.clone())
            .expected("vendor-visible names unique per provider (callform finds a task whose create had no answer by this name)")
            .hint(format!(
                "set a distinct `{field}` in one of the two tasks, or put them on different providers"
            )),
        );
    }
    for d in &diags {
        if !out.texts.contains_key(&d.file) {
            // Read again for the excerpt: texts are kept only for files with problems.
            if let Ok(text) = callees::read_text(&d.file, &d.file) {
                out.texts.insert(d.file.clone(), text);
            }
        }
    }
    out.diagnostics.extend(diags);
}

/// The manifest field the vendor-visible name comes from: the vendor's own key under
/// `spec`, or `name` when that defaults it.
fn vendor_name_field(t: &Task) -> String {
    match t.spec.def().vendor_name() {
        None => "name".into(),
        Some(_) => t.spec.def().vendor_name_field().into(),
    }
}

fn finish(out: &mut Manifests) {
    unique_vendor_names(out);
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    // A callee file named by several tasks is one file.
    out.files.dedup_by(|a, b| a.path == b.path);
    crate::diag::sort(&mut out.diagnostics);
}

fn de_diagnostics<'a>(
    file: &'a Path,
    task: Option<&str>,
    errors: Vec<de::Error>,
) -> impl Iterator<Item = Diagnostic> + 'a {
    let task = task.map(str::to_string);
    errors.into_iter().map(move |e| {
        let pos = e.pos.unwrap_or_default();
        let mut d = Diagnostic::error(file, e.message())
            .at(pos.line, pos.col, pos.len)
            .task(task.as_deref())
            .field(e.path.to_string());
        if let Some(x) = e.expected() {
            d = d.expected(x);
        }
        if let Some(h) = e.hint() {
            d = d.hint(h);
        }
        d
    })
}

/// Warns of every phone-shaped number written in a free-text field of a spec (a task
/// name, a remark, a TTS text): callform keeps such text masked in state and plans, and
/// digests the masked text (a digest of the hidden digits would give them back), so a
/// later change to only those digits is not seen. Callee and calling-line fields, which
/// callform keeps as counts and keyed tags, are skipped.
fn numbers_in_free_text(
    file: &Arc<Path>,
    name: &str,
    spec_node: &yaml::Node,
    spec: &Spec,
    out: &mut Manifests,
) {
    /// `path`: the keys and indexes down to `node`, joined into a field path only for a hit.
    fn walk<'n>(
        node: &'n yaml::Node,
        path: &mut Vec<Step<'n>>,
        found: &mut Vec<(String, yaml::Pos)>,
    ) {
        match &node.value {
            yaml::Value::Scalar { text, .. } => {
                if crate::phone::may_hold_number(text)
                    && crate::phone::mask_phones_in_text(text) != *text
                {
                    let mut field = String::from("spec");
                    for step in path.iter() {
                        match step {
                            Step::Key(k) => {
                                field.push('.');
                                field.push_str(k);
                            }
                            Step::Index(i) => field.push_str(&format!("[{i}]")),
                        }
                    }
                    found.push((field, node.pos));
                }
            }
            yaml::Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(item, path, found);
                    path.pop();
                }
            }
            yaml::Value::Map(entries) => {
                for (k, v) in entries {
                    path.push(Step::Key(k.as_str().unwrap_or("?")));
                    walk(v, path, found);
                    path.pop();
                }
            }
        }
    }
    enum Step<'n> {
        Key(&'n str),
        Index(usize),
    }
    let yaml::Value::Map(entries) = &spec_node.value else {
        return;
    };
    let edits = crate::canonical::edits(spec);
    let mut found = Vec::new();
    let mut path = Vec::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("?");
        if !edits.drop.contains(&key) && !edits.mask.contains(&key) {
            path.push(Step::Key(key));
            walk(v, &mut path, &mut found);
            path.pop();
        }
    }
    for (field, pos) in found {
        out.diagnostics.push(
            Diagnostic::warning(file, "a phone number in free text is kept masked")
                .at(pos.line, pos.col, pos.len)
                .task(Some(name))
                .field(field)
                .hint("state and plans hold it masked, so a later change to only its hidden digits is not planned: change another part of the text too, or rename the task"),
        );
    }
}

pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

fn load_task(
    file: &Arc<Path>,
    root: &yaml::Node,
    inputs: &Inputs<'_>,
    out: &mut Manifests,
) -> Option<Task> {
    let Inputs {
        tz, now, providers, ..
    } = *inputs;
    let base = FieldPath::root();
    // The task name, as early as possible, so even envelope errors can name the task.
    let guess = root
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let envelope = de::read_partial::<Envelope>(root, &base);
    let name_read = !envelope.taints(&base.k("name"));
    let vendor_read = !envelope.taints(&base.k("vendor"));
    let provider_read = !envelope.taints(&base.k("provider"));
    let mut ok = envelope.tainted.is_empty();
    out.diagnostics
        .extend(de_diagnostics(file, guess.as_deref(), envelope.errors));
    // Without the vendor the spec cannot be read: its type is the vendor's.
    let env = envelope.value.filter(|_| vendor_read)?;
    // A name that could not be read is reported; the spec's own problems are still found
    // (under the name as written, if any), but its rules need the name.
    let name = if name_read {
        env.name
    } else {
        guess.clone().unwrap_or_default()
    };
    if name_read && !valid_name(&name) {
        let pos = base.k("name").locate(root, false);
        out.diagnostics.push(
            Diagnostic::error(file, format!("invalid task name `{name}`"))
                .at(pos.line, pos.col, pos.len)
                .task(Some(&name))
                .field("name")
                .expected("`[a-z0-9][a-z0-9_-]{0,62}`: lowercase letters, digits, `_` and `-`, at most 63")
                .hint("this is callform's key for the task; the vendor-visible name goes in the spec"),
        );
        ok = false;
    }
    if ok
        && crate::phone::may_hold_number(&name)
        && crate::phone::mask_phones_in_text(&name) != name
    {
        // The name is callform's key: it is printed, stored and sent unmasked everywhere.
        let pos = base.k("name").locate(root, false);
        out.diagnostics.push(
            Diagnostic::error(file, "the task name holds a phone number")
                .at(pos.line, pos.col, pos.len)
                .field("name")
                .expected("a name without personal data")
                .hint(
                    "task names are printed and stored in clear: name the campaign, not a callee",
                ),
        );
        ok = false;
    }
    if let Some(old) = &env.moved_from {
        let problem = if !valid_name(old) {
            Some((
                format!("moved_from: `{old}` is not a task name"),
                "`[a-z0-9][a-z0-9_-]{0,62}`: the name the task is recorded under now",
            ))
        } else if *old == name {
            Some((
                format!("moved_from: `{old}` is this task's own name"),
                "the old name of the task, which differs from `name`",
            ))
        } else {
            None
        };
        if let Some((message, expected)) = problem {
            let pos = base.k("moved_from").locate(root, false);
            out.diagnostics.push(
                Diagnostic::error(file, message)
                    .at(pos.line, pos.col, pos.len)
                    .task(Some(&name))
                    .field("moved_from")
                    .expected(expected)
                    .hint(
                        "write the name the task had before it was renamed, or remove `moved_from`",
                    ),
            );
            ok = false;
        }
    }
    let provider = env
        .provider
        .clone()
        .unwrap_or_else(|| env.vendor.key().to_string());
    if let Some(providers) = providers.filter(|_| provider_read) {
        let pos = base.k("provider").locate(root, false);
        let problem = match providers.get(&provider) {
            Some(v) if *v != env.vendor => Some(format!(
                "provider `{provider}` is for {v}, but this task is for {}",
                env.vendor
            )),
            // The block is there but could not be read: callform.yaml's own errors say
            // why, and "no provider" would be untrue.
            None if inputs.invalid_providers.contains(&provider) => {
                ok = false;
                None
            }
            None if env.provider.is_some() => {
                Some(format!("no provider `{provider}` in callform.yaml"))
            }
            _ => None,
        };
        if let Some(message) = problem {
            let mut names: Vec<&str> = providers
                .iter()
                .filter(|(_, v)| **v == env.vendor)
                .map(|(k, _)| k.as_str())
                .collect();
            names.sort_unstable();
            out.diagnostics.push(
                Diagnostic::error(file, message)
                    .at(pos.line, pos.col, pos.len)
                    .task(Some(&name))
                    .field("provider")
                    .expected(if names.is_empty() {
                        format!("a provider block for {} in callform.yaml", env.vendor)
                    } else {
                        format!("one of {}", names.join(", "))
                    })
                    .hint("add the provider block to callform.yaml, or fix the name"),
            );
            ok = false;
        }
    }
    let spec_node = root.get("spec")?;
    let sp = base.k("spec");
    let task_label = (name_read || guess.is_some()).then_some(name.as_str());
    let read = env.vendor.def().read_spec(spec_node, &sp);
    ok &= read.errors.is_empty() && read.tainted.is_empty();
    // A misspelt key (`recal_count`) leaves the field it was meant for absent: the rules
    // do not judge by that absence either.
    let mut tainted = read.tainted;
    tainted.extend(read.errors.iter().filter_map(|e| match &e.kind {
        de::ErrorKind::UnknownField { field, expected } => {
            let best = de::closest(field, expected)?;
            let mut meant = e.path.clone();
            meant.0.pop();
            Some(meant.k(best))
        }
        _ => None,
    }));
    out.diagnostics
        .extend(de_diagnostics(file, task_label, read.errors));
    let mut spec = read.value?;
    if !name_read {
        return None;
    }

    numbers_in_free_text(file, &name, spec_node, &spec, out);

    let mut cx = Checker {
        file,
        root,
        task: &name,
        tz,
        now,
        diags: Vec::new(),
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let status = env.status.unwrap_or_default();
    let callee_rules = env.vendor.def().callee_rules();
    let callees = env.callees.as_ref().map(|doc| {
        callees::read_list(
            doc,
            &mut cx,
            &callee_rules,
            dir,
            inputs.roots,
            &mut out.files,
        )
    });
    let facts = TaskFacts {
        status,
        callees: callees.as_ref().and_then(Option::as_ref),
        has_callees: env.callees.is_some(),
    };
    check::task_rules(&mut cx, &spec, &facts);
    spec.def().check(&mut cx, &name, &facts);
    if !tainted.is_empty() {
        // Read around problems: the rules still check the fields that were read as
        // written, but a stand-in for a missing field, or the absence of one set aside
        // or misspelt, is no value to judge (nor other fields by).
        out.diagnostics.extend(
            cx.diags
                .into_iter()
                .filter(|d| !judges_tainted(d, &tainted)),
        );
        return None;
    }
    ok &= !cx.diags.iter().any(Diagnostic::is_error);
    out.diagnostics.extend(cx.diags);
    spec.def_mut().normalise();
    let callees = match callees {
        Some(None) => return None,
        Some(Some(list)) => Some(list),
        None => None,
    };
    let line = root.pos.line;
    let (policy, policy_ok) = task_policy(
        file,
        root,
        &name,
        (&env.purpose, &env.consent, &env.exceptions),
        &spec,
        out,
    );
    ok &= policy_ok;
    ok.then(|| Task {
        provider,
        vendor: env.vendor,
        labels: env.labels.unwrap_or_default(),
        moved_from: env.moved_from,
        name,
        spec,
        status,
        callees,
        source: Source {
            file: file.clone(),
            line,
        },
        policy,
    })
}

/// The task's `purpose`, `consent` and `exceptions`, checked (a rule's name, a reason,
/// no personal data: they are printed in every plan), and when its vendor's fields say
/// it dials. `false` when any is wrong.
fn task_policy(
    file: &Arc<Path>,
    root: &yaml::Node,
    name: &str,
    (purpose, consent, raw_exceptions): (
        &Option<String>,
        &Option<String>,
        &Option<Vec<RawException>>,
    ),
    spec: &Spec,
    out: &mut Manifests,
) -> (crate::policy::TaskPolicy, bool) {
    use crate::policy::{Exception, Placed, RuleId};
    let base = FieldPath::root();
    let mut ok = true;
    let line_of = |path: &FieldPath| path.locate(root, false).line;
    let mut error = |path: FieldPath, message: String, expected: &str, hint: &str| {
        let pos = path.locate(root, false);
        out.diagnostics.push(
            Diagnostic::error(file, message)
                .at(pos.line, pos.col, pos.len)
                .task(Some(name))
                .field(path.to_string())
                .expected(expected)
                .hint(hint),
        );
    };
    let personal = |text: &str| {
        crate::phone::may_hold_number(text) && crate::phone::mask_phones_in_text(text) != text
    };
    let mut placed = |key: &'static str, value: &Option<String>, ok: &mut bool| {
        let value = value.as_ref()?;
        let path = base.k(key);
        if value.trim().is_empty() || personal(value) {
            error(
                path.clone(),
                format!("{key} is empty or holds a phone number"),
                if key == "purpose" {
                    "a purpose such as `notification`, `marketing`, `collection` or `survey`"
                } else {
                    "a reference to where consent is recorded (a campaign or list id), never personal data"
                },
                "plans print it in clear: name the record, not a callee",
            );
            *ok = false;
            return None;
        }
        Some(Placed {
            value: value.trim().to_string(),
            line: line_of(&path),
        })
    };
    let purpose = placed("purpose", purpose, &mut ok);
    let consent = placed("consent", consent, &mut ok);
    let mut exceptions = Vec::new();
    for (i, e) in raw_exceptions.iter().flatten().enumerate() {
        let at = base.k("exceptions").i(i);
        let Some(rule) = RuleId::from_key(&e.rule) else {
            let keys = RuleId::keys();
            let hint = match de::closest(&e.rule, &keys) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "name the rule whose finding this task is excused from".into(),
            };
            error(
                at.k("rule"),
                format!("unknown rule `{}`", e.rule),
                &format!("one of {}", keys.join(", ")),
                &hint,
            );
            ok = false;
            continue;
        };
        let reason = e.reason.trim();
        if reason.chars().count() < 10 || personal(reason) {
            error(
                at.k("reason"),
                "the exception's reason is too short or holds a phone number".into(),
                "why the task may break the rule, in at least 10 characters (who approved it, a ticket)",
                "the reason is shown to every reviewer of the plan: say why, without personal data",
            );
            ok = false;
            continue;
        }
        if exceptions.iter().any(|x: &Exception| x.rule == rule) {
            error(
                at.k("rule"),
                format!("a second exception for `{rule}`"),
                "one exception per rule",
                "merge the reasons into one exception",
            );
            ok = false;
            continue;
        }
        exceptions.push(Exception {
            rule,
            reason: reason.to_string(),
            line: line_of(&at),
        });
    }
    let mut dialling = spec.def().dialling();
    dialling.locate(root);
    (
        crate::policy::TaskPolicy {
            purpose,
            consent,
            exceptions,
            dialling,
        },
        ok,
    )
}

/// Whether the rule diagnostic `d` is about a field in `tainted` (read from a stand-in
/// or set aside, [`de::Partial::tainted`]): it points at one, or lies in one, or names
/// one in its text (a rule that compares two fields reports at one and names the other).
fn judges_tainted(d: &Diagnostic, tainted: &[FieldPath]) -> bool {
    let field = d.field.as_deref().unwrap_or("");
    tainted.iter().any(|t| {
        let t_text = t.to_string();
        let inside = field == t_text
            || field
                .strip_prefix(t_text.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']));
        let key = t.0.iter().rev().find_map(|s| match s {
            path::Seg::Key(k) => Some(k.as_ref()),
            path::Seg::Index(_) => None,
        });
        let named = key.is_some_and(|k| {
            [Some(&d.message), d.expected.as_ref(), d.hint.as_ref()]
                .into_iter()
                .flatten()
                .any(|text| names_word(text, k))
        });
        inside || named
    })
}

/// Whether `text` holds `word` as a whole identifier (not inside a longer one).
fn names_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_text_reads_a_file_as_load_does() {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks/aliyun/overdue-notice.yaml");
        let now = Timestamp::from_second(1_767_225_600).unwrap();
        let from_disk = load(&file, &TimeZone::UTC, now, None);
        let text = std::fs::read_to_string(&file).unwrap();
        let from_text = load_text(&file, &text, &TimeZone::UTC, now, None);
        assert_eq!(from_text.tasks, from_disk.tasks);
        assert_eq!(from_text.diagnostics, from_disk.diagnostics);
        assert_eq!(from_text.files, from_disk.files);
        assert_eq!(from_text.tasks.len(), 1);
    }

    #[test]
    fn duplicate_names_within_one_text() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/tasks/xfyeta/renewal-reminder.yaml");
        let one = std::fs::read_to_string(&file).unwrap();
        let text = format!("{one}\n---\n{one}");
        let out = load_text(&file, &text, &TimeZone::UTC, Timestamp::UNIX_EPOCH, None);
        assert_eq!(out.tasks.len(), 1);
        assert!(
            out.diagnostics
                .iter()
                .any(|d| d.message.starts_with("duplicate task name")),
            "{:?}",
            out.diagnostics
        );
        // The excerpt comes from the text given, not from the file on disk.
        assert_eq!(out.texts[&file], text);
    }

    fn xfyeta_task(name: &str) -> String {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/tasks/xfyeta/renewal-reminder.yaml");
        // The callees inline: the text is read from elsewhere than the example's directory.
        let text = std::fs::read_to_string(file).unwrap();
        let start = text.find("callees:\n").unwrap();
        let end = start + text[start..].find("spec:").unwrap();
        format!(
            "{}callees: {{numbers: [\"13700000021\", \"13700000022\", \"13700000023\"]}}\n{}",
            &text[..start],
            &text[end..]
        )
        .replace("renewal-reminder-2027q1", name)
        // Vendor-visible names are unique per provider.
        .replace(
            "task_name: 续保提醒2027Q1",
            &format!("task_name: 续保提醒-{name}"),
        )
    }

    #[test]
    fn texts_are_kept_only_for_files_with_problems() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), xfyeta_task("one")).unwrap();
        // b.yaml repeats a.yaml's name: the problem is found after b.yaml was read.
        let b = format!("{}---\n{}", xfyeta_task("two"), xfyeta_task("one"));
        std::fs::write(dir.path().join("b.yaml"), &b).unwrap();
        let c = xfyeta_task("three").replace("robot_id: \"11\"", "robot_id: [11]");
        std::fs::write(dir.path().join("c.yaml"), &c).unwrap();
        std::fs::write(dir.path().join("d.yaml"), xfyeta_task("four")).unwrap();
        let out = load(dir.path(), &TimeZone::UTC, Timestamp::UNIX_EPOCH, None);
        let mut kept: Vec<_> = out.texts.keys().filter_map(|p| p.file_name()).collect();
        kept.sort();
        assert_eq!(kept, ["b.yaml", "c.yaml"], "{:?}", out.diagnostics);
        assert_eq!(out.texts[&dir.path().join("b.yaml")], b);
        assert_eq!(out.texts[&dir.path().join("c.yaml")], c);
    }

    #[test]
    fn calling_lines_are_normalised_as_numbers_are() {
        let text = xfyeta_task("one").replace(
            "line_num: [\"055169101407\", \"055169101408\"]",
            "line_num: [\"0551-6910 1407\", \"+86 137-0000-0001\"]",
        );
        assert!(text.contains("0551-6910 1407"), "{text}");
        let out = load_text(
            Path::new("t.yaml"),
            &text,
            &TimeZone::UTC,
            Timestamp::UNIX_EPOCH,
            None,
        );
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        let Spec::Xfyeta(spec) = &out.tasks[0].spec else {
            panic!("not xfyeta")
        };
        assert_eq!(spec.line_num, ["055169101407", "13700000001"]);
    }

    #[test]
    fn a_syntax_error_takes_back_the_documents_before_it() {
        let file = Path::new("tasks.yaml");
        let text = format!(
            "{}---\n{}---\nname: [unclosed\n",
            xfyeta_task("one"),
            xfyeta_task("two").replace("robot_id: \"11\"", "robot_id: [11]")
        );
        let out = load_text(file, &text, &TimeZone::UTC, Timestamp::UNIX_EPOCH, None);
        assert!(out.tasks.is_empty());
        assert_eq!(out.diagnostics.len(), 1, "{:?}", out.diagnostics);
        assert!(out.diagnostics[0].message.starts_with("invalid YAML"));
        // Reported where the parser gave up: at the last document, after the two before it.
        assert!(out.diagnostics[0].line >= text.lines().count());
        assert_eq!(out.files.len(), 1);
    }
}
