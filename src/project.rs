//! The project file, `callform.yaml`: timezone, state path and provider settings.
//!
//! It is found in the manifest directory or its nearest parent, like Cargo.toml, and none
//! is needed for `validate` or `plan`. Credentials are only `${ENV_VAR}` references, read
//! from the environment at apply time: a literal secret is an error, so a key can never be
//! committed by way of this file.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::diag::Diagnostic;
use crate::manifest::path::FieldPath;
use crate::manifest::{de, yaml, Vendor};

pub const FILE_NAMES: [&str; 2] = ["callform.yaml", "callform.yml"];
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
pub const DEFAULT_STATE: &str = "callform.state.json";

#[derive(Debug, Clone)]
pub struct Project {
    /// The project file, when there is one.
    pub file: Option<PathBuf>,
    pub timezone_name: String,
    pub timezone: TimeZone,
    /// The state: a file path, or a PostgreSQL location as written (see
    /// [`crate::state::postgres::location`]), whose variables are read when it is opened.
    pub state_path: PathBuf,
    /// The sandbox's own state file when `state_path` is not a file.
    pub sandbox_state: Option<PathBuf>,
    pub providers: BTreeMap<String, Provider>,
    /// `--sandbox`: every task goes to the in-process emulator, recorded as [`SANDBOX_ENDPOINT`].
    pub sandbox: bool,
    /// The directories manifests and the files they name must lie in, symlinks resolved:
    /// the directory of callform.yaml (or the manifest directory when there is none), then
    /// the `input_dirs` of callform.yaml.
    pub input_roots: Vec<PathBuf>,
    /// Provider blocks that callform.yaml has but that could not be read (their errors
    /// are reported): tasks naming one are not told the block is missing.
    pub invalid_providers: BTreeSet<String>,
    /// Whether `providers` is every block of callform.yaml: false when the file, or its
    /// `providers:`, could not be read, and a task's provider cannot be judged.
    pub providers_known: bool,
    /// `on_remove:` what a task removed from the manifests plans (`keep`: orphaned, a
    /// warning; `stop`: a stop).
    pub on_remove: OnRemove,
    /// `policy:`, the compliance rules (the preset when callform.yaml has none).
    pub policy: crate::policy::Policy,
}

/// What a task removed from the manifests (an orphan) plans: callform.yaml's `on_remove:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnRemove {
    /// Orphaned: a warning, and the task keeps running at the vendor.
    #[default]
    Keep,
    /// A stop (irreversible), in the reviewed plan.
    Stop,
}

/// The directory manifests may name files in when callform.yaml says nothing more: the one
/// holding callform.yaml (found from `manifest_dir` up), else the manifest directory.
pub fn default_input_roots(manifest_dir: &Path) -> Vec<PathBuf> {
    let base = match find(manifest_dir) {
        Some(file) => file.parent().map(Path::to_path_buf),
        None if manifest_dir.is_file() => manifest_dir.parent().map(Path::to_path_buf),
        None => Some(manifest_dir.to_path_buf()),
    };
    base.map(|b| vec![real_dir(&b)]).unwrap_or_default()
}

/// A directory with its symlinks resolved (as input files are, before they are compared).
fn real_dir(dir: &Path) -> PathBuf {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// The endpoint recorded for tasks created in the sandbox. It is no real address, so
/// sandbox state can never be mistaken for, or used against, a real endpoint.
pub const SANDBOX_ENDPOINT: &str = "sandbox://callform-emulator";

/// The conventional variables read when a provider has no block in callform.yaml
/// (the same ones `callform emulator` reads).
pub fn default_credential_vars(vendor: Vendor) -> &'static [(&'static str, &'static str)] {
    vendor.def().credentials()
}

/// A credential: the name of the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef(pub String);

impl EnvRef {
    /// The value, or an error naming the variable (never a value).
    pub fn resolve(&self) -> Result<String, String> {
        match std::env::var(&self.0) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("environment variable {} is not set", self.0)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub vendor: Vendor,
    pub endpoint: Option<String>,
    pub parallelism: Option<usize>,
    pub connect_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    /// Volcengine's signing region.
    pub region: Option<String>,
    /// longlonglong's account id (not a secret: it is in every URL).
    pub user_id: Option<String>,
    /// Credential field → environment variable.
    pub credentials: BTreeMap<String, EnvRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    state: Option<RawState>,
    #[serde(default)]
    providers: Option<BTreeMap<String, RawProvider>>,
    #[serde(default)]
    input_dirs: Option<Vec<String>>,
    #[serde(default)]
    on_remove: Option<String>,
    #[serde(default)]
    policy: Option<crate::policy::RawPolicy>,
}

/// callform.yaml's `state:`: a path (the file backend), or a mapping that names the backend.
enum RawState {
    Path(String),
    Table(RawStateTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStateTable {
    backend: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    workspace: Option<String>,
    #[serde(default)]
    schema: Option<String>,
}

impl<'de> Deserialize<'de> for RawState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawState, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RawState;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a state file path, or a mapping such as `{backend: postgres, url: \"${CALLFORM_STATE_URL}\", workspace: NAME}`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawState, E> {
                Ok(RawState::Path(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawState, A::Error> {
                RawStateTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawState::Table)
            }
        }
        d.deserialize_any(Either)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    #[serde(default)]
    vendor: Option<Vendor>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    parallelism: Option<usize>,
    #[serde(default)]
    connect_timeout_ms: Option<u64>,
    #[serde(default)]
    request_timeout_ms: Option<u64>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    access_key_secret: Option<String>,
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
}

/// The credential fields each vendor takes (declared by the vendor, `vendor::Vendor`).
pub fn credential_fields(vendor: Vendor) -> Vec<&'static str> {
    vendor
        .def()
        .credentials()
        .iter()
        .map(|(field, _)| *field)
        .collect()
}

/// The vendor's production endpoint.
pub fn default_endpoint(vendor: Vendor) -> &'static str {
    vendor.def().default_endpoint()
}

/// Whether `vendor` takes the provider field `field` (`region`, `user_id`), and whether
/// it requires it.
fn provider_field(vendor: Vendor, field: &str) -> Option<bool> {
    vendor
        .def()
        .provider_fields()
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, required)| *required)
}

/// The vendors that take the provider field `field`, for messages.
fn vendors_taking(field: &str) -> String {
    let keys: Vec<&str> = Vendor::ALL
        .into_iter()
        .filter(|v| provider_field(*v, field).is_some())
        .map(Vendor::key)
        .collect();
    keys.join(", ")
}

/// `CALLFORM_<VENDOR>_ENDPOINT`, which wins over callform.yaml.
pub fn endpoint_env_var(vendor: Vendor) -> String {
    format!("CALLFORM_{}_ENDPOINT", vendor.key().to_uppercase())
}

/// Where a provider's endpoint comes from, for messages that must not echo it.
pub fn endpoint_source(provider: &str, vendor: Vendor) -> String {
    let var = endpoint_env_var(vendor);
    if std::env::var(&var).is_ok_and(|v| !v.is_empty()) {
        var
    } else {
        format!("`providers.{provider}.endpoint` in callform.yaml")
    }
}

/// Whether requests to `url` stay on this machine: the sandbox, or a loopback host (an
/// emulator). Anything else may dial real people.
pub fn is_loopback(url: &str) -> bool {
    if url.starts_with("sandbox://") {
        return true;
    }
    let Some(rest) = ["https://", "http://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
    !authority.contains('@') && loopback_host(authority)
}

/// Whether an URL's authority (`host[:port]`, `[v6][:port]`) names this machine.
fn loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Endpoints must be `https://`, except loopback addresses (the emulator).
pub fn check_endpoint(url: &str) -> Result<(), String> {
    // The host is what follows a `user:password@` part: `http://127.0.0.1:80@example.com`
    // goes to example.com. callform never puts credentials in a URL, so refuse any.
    fn authority(rest: &str) -> &str {
        rest.split(['/', '?', '#', '\\']).next().unwrap_or("")
    }
    if ["https://", "http://"].iter().any(|s| {
        url.strip_prefix(s)
            .is_some_and(|rest| authority(rest).contains('@'))
    }) {
        return Err(
            "the endpoint has a `user@` part; credentials are only read from the environment"
                .into(),
        );
    }
    // A query or fragment would be recorded in state and shown in plans: an endpoint is a
    // scheme and a host (and port), with at most a path.
    if url.contains(['?', '#']) {
        return Err("the endpoint has a query or fragment; give just `https://host[:port]`".into());
    }
    // Requests are signed for the path `/` (Aliyun and Volcengine sign it; the drivers
    // post to the root): a path prefix would be left out of the signature or lost.
    let path = ["https://", "http://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    if !path.trim_end_matches('/').is_empty() {
        return Err(
            "the endpoint has a path; requests are signed for `/` only, so give just `https://host[:port]`"
                .into(),
        );
    }
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err("the endpoint has no host".into());
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        if loopback_host(authority(rest)) {
            return Ok(());
        }
        return Err("plain http:// is only allowed for loopback addresses (the emulator)".into());
    }
    Err("the endpoint must start with https://".into())
}

impl Project {
    /// The settings used when there is no project file.
    pub fn defaults(manifest_dir: &Path) -> Project {
        let base = if manifest_dir.is_file() {
            manifest_dir.parent().unwrap_or(Path::new("."))
        } else {
            manifest_dir
        };
        Project {
            file: None,
            timezone_name: DEFAULT_TIMEZONE.to_string(),
            timezone: TimeZone::get(DEFAULT_TIMEZONE).unwrap_or(TimeZone::UTC),
            state_path: base.join(DEFAULT_STATE),
            sandbox_state: None,
            providers: BTreeMap::new(),
            sandbox: false,
            input_roots: default_input_roots(manifest_dir),
            invalid_providers: BTreeSet::new(),
            providers_known: true,
            on_remove: OnRemove::Keep,
            policy: crate::policy::Policy::preset(),
        }
    }

    /// The state file for `--sandbox`: its own, beside the real one
    /// (`callform.state.json` → `callform.sandbox.state.json`); with a state in PostgreSQL,
    /// `callform.sandbox.state.json` beside callform.yaml (the sandbox never writes the
    /// team's database).
    pub fn sandbox_state_path(&self) -> PathBuf {
        if let Some(path) = &self.sandbox_state {
            return path.clone();
        }
        let name = self
            .state_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let sandboxed = match name.strip_suffix(".state.json") {
            Some(stem) => format!("{stem}.sandbox.state.json"),
            None => format!("{name}.sandbox"),
        };
        self.state_path.with_file_name(sandboxed)
    }

    /// The credentials of a provider, read from the environment now. Errors name the
    /// variable, never a value.
    pub fn credentials(
        &self,
        provider: &str,
        vendor: Vendor,
    ) -> Result<crate::driver::Credentials, String> {
        let block = self.providers.get(provider);
        let mut refs: BTreeMap<String, EnvRef> = match block {
            Some(p) => p.credentials.clone(),
            None => default_credential_vars(vendor)
                .iter()
                .map(|(f, v)| (f.to_string(), EnvRef(v.to_string())))
                .collect(),
        };
        let mut creds = crate::driver::Credentials {
            user_id: block.and_then(|p| p.user_id.clone()).or_else(|| {
                std::env::var("LONGLONGLONG_USER_ID")
                    .ok()
                    .filter(|v| !v.is_empty())
            }),
            region: block.and_then(|p| p.region.clone()),
            ..Default::default()
        };
        for field in credential_fields(vendor) {
            let Some(env) = refs.remove(field) else {
                return Err(format!("provider `{provider}` has no `{field}` in callform.yaml (write `{field}: \"${{ENV_VAR}}\"`)"));
            };
            let value = env
                .resolve()
                .map_err(|e| format!("provider `{provider}`: {e} (it holds `{field}`)"))?;
            match field {
                "token" => creds.token = Some(value),
                "access_key_id" => creds.access_key_id = Some(value),
                "access_key_secret" => creds.access_key_secret = Some(value),
                "access_key" => creds.access_key = Some(value),
                "secret_key" => creds.secret_key = Some(value),
                _ => {}
            }
        }
        if provider_field(vendor, "user_id") == Some(true) && creds.user_id.is_none() {
            return Err(format!("provider `{provider}` has no `user_id` (the {vendor} main account id) in callform.yaml"));
        }
        Ok(creds)
    }

    /// Where a provider's credentials come from, for messages: the environment variables
    /// that hold its secrets, and its account id where the vendor has one (longlonglong's
    /// `user_id`, which the vendor checks against the token as much as the token itself).
    pub fn credential_vars(&self, provider: &str, vendor: Vendor) -> Vec<String> {
        let block = self.providers.get(provider);
        let mut vars: Vec<String> = match block {
            Some(p) => p.credentials.values().map(|e| e.0.clone()).collect(),
            None => default_credential_vars(vendor)
                .iter()
                .map(|(_, v)| v.to_string())
                .collect(),
        };
        if provider_field(vendor, "user_id").is_some() {
            vars.push(match block.and_then(|p| p.user_id.as_ref()) {
                Some(_) => format!("`user_id` of provider `{provider}` in callform.yaml"),
                None => "LONGLONGLONG_USER_ID".to_string(),
            });
        }
        vars
    }

    /// Where [`Project::endpoint`] takes a provider's endpoint from, as plans show it:
    /// `sandbox`, `CALLFORM_<VENDOR>_ENDPOINT`, `callform.yaml` or `default`.
    pub fn endpoint_origin(&self, provider: &str, vendor: Vendor) -> String {
        if self.sandbox {
            return "sandbox".into();
        }
        let var = endpoint_env_var(vendor);
        if std::env::var(&var).is_ok_and(|v| !v.is_empty()) {
            var
        } else if self
            .providers
            .get(provider)
            .is_some_and(|p| p.endpoint.is_some())
        {
            "callform.yaml".into()
        } else {
            "default".into()
        }
    }

    /// The endpoint for a task's provider: environment, then callform.yaml, then the vendor's.
    pub fn endpoint(&self, provider: &str, vendor: Vendor) -> String {
        if self.sandbox {
            return SANDBOX_ENDPOINT.to_string();
        }
        if let Ok(v) = std::env::var(endpoint_env_var(vendor)) {
            if !v.is_empty() {
                return v.trim_end_matches('/').to_string();
            }
        }
        self.providers
            .get(provider)
            .and_then(|p| p.endpoint.clone())
            .unwrap_or_else(|| default_endpoint(vendor).to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// An error when the zone used without a `timezone:` setting cannot be loaded: reading
/// date-times in another zone (such as UTC) would move every call by hours.
pub fn default_zone_problem(name: &str, file: &Path) -> Option<Diagnostic> {
    TimeZone::get(name).err().map(|e| {
        Diagnostic::error(file, format!("cannot load the default timezone {name}: {e}"))
            .field("timezone")
            .expected(format!("the {name} zone from the time zone database"))
            .hint(format!(
                "write `timezone: {name}` (or your zone) in callform.yaml and make sure the system time zone database is installed"
            ))
    })
}

/// Finds `callform.yaml` in `start` or its nearest parent.
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() {
        start.parent()?
    } else {
        start
    };
    let start = std::path::absolute(start).ok()?;
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        for name in FILE_NAMES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        dir = d.parent();
    }
    None
}

/// The root of the repository `path` lies in, for paths a reviewer sees on the pull
/// request (GitHub annotations): `workspace` (`GITHUB_WORKSPACE`) when `path` lies in it,
/// else the nearest ancestor of `path` holding `.git`. `None` outside any repository.
/// Paths are compared made absolute, then with their symlinks resolved.
pub fn repo_root(path: &Path, workspace: Option<&Path>) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let real = std::fs::canonicalize(&abs).ok();
    if let Some(ws) = workspace.filter(|w| !w.as_os_str().is_empty()) {
        if let Ok(ws_abs) = std::path::absolute(ws) {
            if abs.starts_with(&ws_abs) {
                return Some(ws_abs);
            }
            let ws_real = std::fs::canonicalize(&ws_abs).ok();
            if let (Some(r), Some(w)) = (&real, ws_real) {
                if r.starts_with(&w) {
                    return Some(w);
                }
            }
        }
    }
    abs.ancestors()
        .skip(1)
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `path` relative to the repository root ([`repo_root`]), as GitHub names files; `path`
/// itself (relative to the current directory) outside a repository.
pub fn repo_relative(path: &Path, workspace: Option<&Path>) -> PathBuf {
    let Some(root) = repo_root(path, workspace) else {
        return path.to_path_buf();
    };
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let lexical = normalize_lexically(&abs);
    if let Ok(rel) = lexical.strip_prefix(normalize_lexically(&root)) {
        return rel.to_path_buf();
    }
    match (std::fs::canonicalize(&abs), std::fs::canonicalize(&root)) {
        (Ok(p), Ok(r)) => p
            .strip_prefix(&r)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

use crate::checkout::normalize as normalize_lexically;

/// Loads the project for a manifest directory. Problems come back as diagnostics; the
/// returned project is usable (defaults fill what was wrong) only when there are no errors.
pub fn load(manifest_dir: &Path) -> (Project, Vec<Diagnostic>) {
    let project = Project::defaults(manifest_dir);
    let Some(file) = find(manifest_dir) else {
        let diags = default_zone_problem(DEFAULT_TIMEZONE, manifest_dir)
            .into_iter()
            .collect();
        return (project, diags);
    };
    let shown = pathdiff(&file);
    let text = match crate::manifest::callees::read_text(&file, &shown) {
        Ok(t) => t,
        Err(d) => {
            let mut project = project;
            project.file = Some(shown);
            project.providers_known = false;
            return (project, vec![d]);
        }
    };
    load_text(project, &file, &shown, &text)
}

/// Reads the project file `file` (named `shown` in diagnostics) from its `text`, over the
/// settings in `project` (the defaults). The same contract as [`load`], without the disk.
///
/// Every problem of the file is reported in one run: a field of the wrong type is set
/// aside and the others are still checked.
pub fn load_text(
    mut project: Project,
    file: &Path,
    shown: &Path,
    text: &str,
) -> (Project, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    project.state_path = dir.join(DEFAULT_STATE);
    project.file = Some(shown.to_path_buf());
    let docs = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let d = Diagnostic::error(shown, format!("invalid YAML: {}", e.message))
                .at(e.pos.line, e.pos.col, e.pos.len);
            project.providers_known = false;
            return (project, vec![d]);
        }
    };
    let Some(root) = docs.first().map(|d| &d.root).filter(|r| !r.is_null()) else {
        return (project, diags);
    };
    let base = FieldPath::root();
    let read = de::read_partial::<RawProject>(root, &base);
    for e in read.errors {
        let pos = e.pos.unwrap_or_default();
        let mut d = Diagnostic::error(shown, e.message())
            .at(pos.line, pos.col, pos.len)
            .field(e.path.to_string());
        if let Some(x) = e.expected() {
            d = d.expected(x);
        }
        if let Some(h) = e.hint() {
            d = d.hint(h);
        }
        diags.push(d);
    }
    let tainted = read.tainted;
    let Some(raw) = read.value else {
        project.providers_known = false;
        return (project, diags);
    };
    let providers_path = base.k("providers");
    if tainted.contains(&providers_path) {
        project.providers_known = false;
    }
    // A block set aside whole (not a mapping), or whose `vendor:` could not be read, is
    // there but unusable.
    for t in &tainted {
        if let [_, crate::manifest::path::Seg::Key(name), rest @ ..] = t.0.as_slice() {
            let vendor = matches!(rest, [crate::manifest::path::Seg::Key(k)] if k == "vendor");
            if t.starts_with(&providers_path) && (rest.is_empty() || vendor) {
                project.invalid_providers.insert(name.to_string());
            }
        }
    }
    let at = |path: &FieldPath, message: String| {
        let pos = path.locate(root, false);
        Diagnostic::error(shown, message)
            .at(pos.line, pos.col, pos.len)
            .field(path.to_string())
    };
    if raw.timezone.is_none() {
        diags.extend(default_zone_problem(DEFAULT_TIMEZONE, shown));
    }
    if let Some(tz) = raw.timezone {
        match TimeZone::get(&tz) {
            Ok(zone) => {
                project.timezone = zone;
                project.timezone_name = tz;
            }
            Err(_) => diags.push(
                at(&base.k("timezone"), format!("unknown timezone `{tz}`"))
                    .expected("an IANA timezone name such as `Asia/Shanghai`"),
            ),
        }
    }
    match raw.state {
        None => {}
        Some(RawState::Path(state)) => project.state_path = dir.join(state),
        // A mapping with a field set aside (unknown, or of the wrong type) is reported and
        // names no state.
        Some(RawState::Table(_)) if tainted.iter().any(|t| t.starts_with(&base.k("state"))) => {}
        Some(RawState::Table(table)) => {
            let sp = base.k("state");
            match state_table(&dir, table, &|field: &str, message: String| {
                at(&sp.k(field.to_string()), message)
            }) {
                Ok((path, sandbox)) => {
                    project.state_path = path;
                    project.sandbox_state = sandbox;
                }
                Err(mut found) => diags.append(&mut found),
            }
        }
    }
    match raw.on_remove.as_deref() {
        None | Some("keep") => {}
        Some("stop") => project.on_remove = OnRemove::Stop,
        Some(other) => diags.push(
            at(&base.k("on_remove"), format!("unknown on_remove `{other}`"))
                .expected("`keep` (the default: a task removed from the manifests is orphaned, a warning) or `stop` (it plans a stop)")
                .hint("write `on_remove: stop` to stop the vendor task of a removed manifest in the reviewed plan"),
        ),
    }
    project.input_roots = vec![real_dir(&dir)];
    for (i, extra) in raw.input_dirs.unwrap_or_default().iter().enumerate() {
        let at_item = || at(&base.k("input_dirs").i(i), String::new());
        match crate::manifest::callees::resolve(&dir.join(extra)) {
            Ok(real) if real.is_dir() => project.input_roots.push(real),
            Ok(_) => diags.push(Diagnostic {
                message: format!("input_dirs: `{extra}` is not a directory"),
                ..at_item()
            }
            .expected("a directory, relative to callform.yaml")),
            Err(why) => diags.push(Diagnostic {
                message: format!("input_dirs: `{extra}`: {why}"),
                ..at_item()
            }
            .expected("an existing directory, relative to callform.yaml, outside /proc, /sys and /dev")),
        }
    }
    // After `input_dirs`: a holidays file must lie where manifests' files may.
    project.policy = crate::policy::resolve(
        raw.policy,
        &crate::policy::ConfigSite {
            file: shown,
            root,
            dir: &dir,
            roots: &project.input_roots,
        },
        &mut diags,
    );
    for (name, raw) in raw.providers.unwrap_or_default() {
        let pp = base.k("providers").k(name.clone());
        // Checks that need no vendor come first, so a block of unknown vendor is not let
        // off: a literal secret is an error wherever it sits.
        if let Some(ep) = &raw.endpoint {
            if let Err(why) = check_endpoint(ep) {
                diags.push(
                    at(&pp.k("endpoint"), format!("invalid endpoint: {why}"))
                        .expected("`https://host`"),
                );
            }
        }
        if let Some(n) = raw.parallelism.filter(|n| !(1..=1000).contains(n)) {
            diags.push(
                at(&pp.k("parallelism"), format!("parallelism is {n}"))
                    .expected("from 1 to 1000 creates in flight"),
            );
        }
        let given = [
            ("token", raw.token),
            ("access_key_id", raw.access_key_id),
            ("access_key_secret", raw.access_key_secret),
            ("access_key", raw.access_key),
            ("secret_key", raw.secret_key),
        ];
        let mut refs = Vec::new();
        for (field, value) in given {
            let Some(value) = value else { continue };
            let var = env_ref(&value);
            if var.is_none() {
                // The value is not echoed: it may be the secret itself.
                diags.push(
                    at(&pp.k(field), format!("`{field}` holds a literal value; credentials are only read from the environment"))
                        .expected("`\"${ENV_VAR}\"`, the name of an environment variable")
                        .hint("remove the secret from this file (and from git history), export it, and write e.g. `\"${XFYETA_TOKEN}\"`"),
                );
            }
            refs.push((field, var));
        }
        // A `vendor:` that could not be read is reported already; the block's name is
        // no fallback for it.
        let unreadable_vendor = project.invalid_providers.contains(&name);
        let vendor = raw.vendor.or_else(|| {
            (!unreadable_vendor)
                .then(|| Vendor::from_key(&name))
                .flatten()
        });
        let vendor = match vendor {
            Some(v) => v,
            None if unreadable_vendor => continue,
            None => {
                project.invalid_providers.insert(name.clone());
                diags.push(
                    at(&pp, format!("provider `{name}` does not say which vendor it is for"))
                        .expected(format!("`vendor: {}`", Vendor::ALL.map(Vendor::key).join(" | ")))
                        .hint("add `vendor:`; it may be left out only when the block is named after the vendor"),
                );
                continue;
            }
        };
        let allowed = credential_fields(vendor);
        let mut credentials = BTreeMap::new();
        for (field, var) in refs {
            if !allowed.contains(&field) {
                diags.push(
                    at(
                        &pp.k(field),
                        format!("`{field}` is not a {vendor} credential"),
                    )
                    .expected(format!("{vendor} takes {}", allowed.join(", "))),
                );
                continue;
            }
            if let Some(var) = var {
                credentials.insert(field.to_string(), EnvRef(var));
            }
        }
        if raw.region.is_some() && provider_field(vendor, "region").is_none() {
            diags.push(at(
                &pp.k("region"),
                format!("`region` is only used by {}", vendors_taking("region")),
            ));
        }
        if raw.user_id.is_some() && provider_field(vendor, "user_id").is_none() {
            diags.push(at(
                &pp.k("user_id"),
                format!("`user_id` is only used by {}", vendors_taking("user_id")),
            ));
        }
        if provider_field(vendor, "user_id").is_some()
            && raw.user_id.as_deref().is_some_and(|u| u.trim().is_empty())
        {
            diags.push(
                at(&pp.k("user_id"), "user_id is empty".into()).expected("the main account id"),
            );
        }
        project.providers.insert(
            name.clone(),
            Provider {
                name,
                vendor,
                endpoint: raw.endpoint.map(|e| e.trim_end_matches('/').to_string()),
                parallelism: raw.parallelism,
                connect_timeout_ms: raw.connect_timeout_ms,
                request_timeout_ms: raw.request_timeout_ms,
                region: raw.region,
                user_id: raw.user_id,
                credentials,
            },
        );
    }
    (project, diags)
}

/// `${NAME}` → `NAME` (letters, digits, `_`, not starting with a digit).
fn env_ref(value: &str) -> Option<String> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| name.to_string())
}

/// callform.yaml's `state:` mapping: the state it names (a path, or a PostgreSQL location as
/// written) and the sandbox's own state file; or every problem of it, made by `at(field,
/// message)`.
fn state_table(
    dir: &Path,
    table: RawStateTable,
    at: &dyn Fn(&str, String) -> Diagnostic,
) -> Result<(PathBuf, Option<PathBuf>), Vec<Diagnostic>> {
    use crate::state::postgres::location;
    let mut diags = Vec::new();
    let not_for = |field: &str, backend: &str| {
        at(
            field,
            format!("`{field}` is not a setting of the {backend} backend"),
        )
    };
    match table.backend.as_str() {
        "file" => {
            for (field, set) in [
                ("url", table.url.is_some()),
                ("workspace", table.workspace.is_some()),
                ("schema", table.schema.is_some()),
            ] {
                if set {
                    diags.push(
                        not_for(field, "file")
                            .expected("`path:` (the state file, relative to callform.yaml)"),
                    );
                }
            }
            if diags.is_empty() {
                let path = table.path.unwrap_or_else(|| DEFAULT_STATE.to_string());
                return Ok((dir.join(path), None));
            }
        }
        "postgres" => {
            if table.path.is_some() {
                diags.push(
                    not_for("path", "postgres")
                        .expected("`url:`, `workspace:` and optionally `schema:`"),
                );
            }
            match table.url.as_deref() {
                None => diags.push(
                    at("backend", "the postgres backend needs `url:`".into())
                        .expected("`url: \"${CALLFORM_STATE_URL}\"`, an environment variable that holds the URL"),
                ),
                Some(url) if !location::is_postgres_location(url) => diags.push(
                    // Not echoed: it may be a secret pasted in the wrong place.
                    at("url", "`url` is neither a `postgres://` URL nor an environment variable reference".into())
                        .expected("`\"${CALLFORM_STATE_URL}\"` (the whole URL from the environment) or `postgres://user:${PGPASSWORD}@host:5432/db`"),
                ),
                Some(url) => {
                    if let Err(why) = location::check_written(url) {
                        diags.push(
                            at("url", why)
                                .expected("`\"${CALLFORM_STATE_URL}\"`, or the password as `${VAR}` in the URL")
                                .hint("remove the password from this file (and from git history), export the URL, and write `url: \"${CALLFORM_STATE_URL}\"`"),
                        );
                    }
                }
            }
            match table.workspace.as_deref() {
                None => diags.push(
                    at("backend", "the postgres backend needs `workspace:`".into())
                        .expected("`workspace: NAME`, this project's own name in the shared database (e.g. `billing-prod`)"),
                ),
                Some(w) if !location::valid_workspace(w) => diags.push(
                    at("workspace", format!("invalid workspace `{w}`"))
                        .expected("1 to 63 of a-z, 0-9, `-`, `_`, `.`, starting with a letter or digit"),
                ),
                Some(_) => {}
            }
            if let Some(schema) = table.schema.as_deref() {
                if !location::valid_schema_name(schema) {
                    diags.push(
                        at("schema", format!("invalid schema `{schema}`"))
                            .expected("1 to 63 of a-z, 0-9 and `_`, not starting with a digit"),
                    );
                }
            }
            if diags.is_empty() {
                if let (Some(url), Some(workspace)) = (&table.url, &table.workspace) {
                    let written = location::written(url, workspace, table.schema.as_deref());
                    return Ok((
                        PathBuf::from(written),
                        Some(dir.join("callform.sandbox.state.json")),
                    ));
                }
            }
        }
        other => diags.push(
            at("backend", format!("unknown state backend `{other}`"))
                .expected("`file` or `postgres`"),
        ),
    }
    Err(diags)
}

/// A path as the user would write it: relative to the current directory when inside it.
pub fn pathdiff(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_refs() {
        assert_eq!(env_ref("${XFYETA_TOKEN}").as_deref(), Some("XFYETA_TOKEN"));
        assert_eq!(env_ref("sk-123"), None);
        assert_eq!(env_ref("${1X}"), None);
        assert_eq!(env_ref("${A B}"), None);
    }

    #[test]
    fn a_default_zone_that_cannot_be_loaded_is_an_error() {
        assert!(default_zone_problem(DEFAULT_TIMEZONE, Path::new("callform.yaml")).is_none());
        let d = default_zone_problem("Nowhere/Atlantis", Path::new("callform.yaml")).unwrap();
        assert!(
            d.is_error() && d.message.contains("Nowhere/Atlantis"),
            "{d:?}"
        );
        assert!(d.hint.unwrap().contains("timezone:"));
    }

    #[test]
    fn state_names_a_file_or_a_postgres_workspace() {
        let file = Path::new("dir/callform.yaml");
        let read = |text: &str| {
            load_text(
                Project::defaults(Path::new(".")),
                file,
                file,
                &format!("timezone: UTC\n{text}"),
            )
        };
        let (p, d) = read("state: s.json\n");
        assert_eq!((p.state_path, d.len()), (PathBuf::from("dir/s.json"), 0));
        let (p, d) = read("state: {backend: file, path: x.json}\n");
        assert_eq!((p.state_path, d.len()), (PathBuf::from("dir/x.json"), 0));
        let (p, d) = read("state: {backend: file}\n");
        assert_eq!(p.state_path, PathBuf::from("dir/callform.state.json"));
        assert!(d.is_empty());

        let (p, d) = read(
            "state: {backend: postgres, url: \"${CALLFORM_STATE_URL}\", workspace: billing-prod}\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            p.state_path,
            PathBuf::from("${CALLFORM_STATE_URL}?workspace=billing-prod")
        );
        assert_eq!(
            p.sandbox_state_path(),
            PathBuf::from("dir/callform.sandbox.state.json")
        );
        let (p, d) = read(
            "state: {backend: postgres, url: \"postgres://ci:${PGPW}@db/x?sslmode=verify-full\", workspace: w, schema: team_state}\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            p.state_path,
            PathBuf::from(
                "postgres://ci:${PGPW}@db/x?sslmode=verify-full&workspace=w&schema=team_state"
            )
        );
    }

    #[test]
    fn a_bad_state_mapping_is_reported_field_by_field() {
        let file = Path::new("callform.yaml");
        let errors = |text: &str| -> Vec<(Option<String>, String)> {
            let (p, d) = load_text(
                Project::defaults(Path::new(".")),
                file,
                file,
                &format!("timezone: UTC\n{text}"),
            );
            assert_eq!(
                p.state_path,
                PathBuf::from("callform.state.json"),
                "a refused `state:` names no state"
            );
            d.into_iter().map(|d| (d.field, d.message)).collect()
        };
        let one = |text: &str, field: &str, words: &str| {
            let found = errors(text);
            assert!(
                found
                    .iter()
                    .any(|(f, m)| f.as_deref() == Some(field) && m.contains(words)),
                "{text}: {found:?}"
            );
        };
        let secret = "s3cret-pw";
        one(
            &format!(
                "state: {{backend: postgres, url: \"postgres://u:{secret}@h/db\", workspace: w}}\n"
            ),
            "state.url",
            "literal password",
        );
        assert!(!format!(
            "{:?}",
            errors(&format!(
                "state: {{backend: postgres, url: \"postgres://u:{secret}@h/db\", workspace: w}}\n"
            ))
        )
        .contains(secret));
        one(
            "state: {backend: postgres, url: \"postgres://u@h/db?password=x\", workspace: w}\n",
            "state.url",
            "literal `password=`",
        );
        one(
            "state: {backend: postgres, url: \"mysql://h/db\", workspace: w}\n",
            "state.url",
            "neither",
        );
        one(
            "state: {backend: postgres, workspace: w}\n",
            "state.backend",
            "needs `url:`",
        );
        one(
            "state: {backend: postgres, url: \"${U}\"}\n",
            "state.backend",
            "needs `workspace:`",
        );
        one(
            "state: {backend: postgres, url: \"${U}\", workspace: Bad}\n",
            "state.workspace",
            "invalid workspace",
        );
        one(
            "state: {backend: postgres, url: \"${U}\", workspace: w, schema: \"x; drop\"}\n",
            "state.schema",
            "invalid schema",
        );
        one(
            "state: {backend: postgres, url: \"${U}\", workspace: w, path: s.json}\n",
            "state.path",
            "not a setting of the postgres backend",
        );
        one(
            "state: {backend: file, url: \"${U}\"}\n",
            "state.url",
            "not a setting of the file backend",
        );
        one(
            "state: {backend: mysql}\n",
            "state.backend",
            "unknown state backend",
        );
        one(
            "state: {backend: postgres, url: \"${U}\", workspace: w, pool: 3}\n",
            "state.pool",
            "unknown field",
        );
    }

    #[test]
    fn on_remove_is_keep_or_stop() {
        let file = Path::new("callform.yaml");
        let read = |text: &str| load_text(Project::defaults(Path::new(".")), file, file, text);
        assert_eq!(read("timezone: UTC\n").0.on_remove, OnRemove::Keep);
        assert_eq!(
            read("timezone: UTC\non_remove: keep\n").0.on_remove,
            OnRemove::Keep
        );
        let (project, diags) = read("timezone: UTC\non_remove: stop\n");
        assert_eq!((project.on_remove, diags.len()), (OnRemove::Stop, 0));
        let (project, diags) = read("timezone: UTC\non_remove: delete\n");
        assert_eq!(project.on_remove, OnRemove::Keep);
        let d = &diags[0];
        assert_eq!(
            (d.line, d.field.as_deref()),
            (2, Some("on_remove")),
            "{d:?}"
        );
        assert!(
            d.message.contains("`delete`")
                && d.expected.as_deref().is_some_and(|x| x.contains("`stop`")),
            "{d:?}"
        );
    }

    #[test]
    fn endpoints() {
        assert!(check_endpoint("https://dyvmsapi.aliyuncs.com").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(check_endpoint("http://[::1]:8080").is_ok());
        assert!(check_endpoint("http://localhost:1").is_ok());
        assert!(check_endpoint("http://10.0.0.1:8080").is_err());
        assert!(check_endpoint("http://example.com").is_err());
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("https://h/?token=x").is_err());
        assert!(check_endpoint("https://h/#x").is_err());
        // The host is after any `user@`: these all go to example.com.
        assert!(check_endpoint("http://127.0.0.1:80@example.com/").is_err());
        assert!(check_endpoint("http://[::1]@example.com").is_err());
        assert!(check_endpoint("http://localhost:1@example.com").is_err());
        assert!(check_endpoint("https://user:secret@example.com").is_err());
        // Signing covers `/` only: a path prefix is refused, a trailing `/` is not a path.
        assert!(check_endpoint("http://127.0.0.1:8080/path").is_err());
        assert!(check_endpoint("https://host/prefix").is_err());
        assert!(check_endpoint("https://host/prefix/").is_err());
        assert!(check_endpoint("https://host/").is_ok());
        assert!(check_endpoint("https://host:8443").is_ok());
    }
}
