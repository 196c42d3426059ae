//! Where a PostgreSQL state lives: a connection URL, a workspace, TLS, and how it is named in
//! messages (never with its password).
//!
//! `postgres://USER[:PASSWORD]@HOST[:PORT]/DB?workspace=NAME&sslmode=MODE&schema=SCHEMA`
//! (`postgresql://` too). callform takes `workspace`, `sslmode` and `schema` off the query;
//! every other parameter goes to the client as given.
//!
//! TLS choices, kept here and documented in the README:
//!
//! - `sslmode=verify-full` and `sslmode=require` both use rustls with the Mozilla roots and
//!   check the server's certificate and host name. `require` is not weakened to "encrypt
//!   without checking" as libpq does: a state that decides whether people get dialled is not
//!   worth a man in the middle.
//! - `sslmode=disable` is allowed only for a loopback host (`127.0.0.1`, `::1`,
//!   `localhost`) or a Unix socket; elsewhere it is refused. `prefer` and `allow` (which fall
//!   back to plain text silently) are refused.
//! - With no `sslmode`: `disable` on a loopback host or socket, `verify-full` elsewhere.

use std::str::FromStr;
use std::sync::Arc;

use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};

/// The schema callform's tables are in unless `schema=` names another.
pub const DEFAULT_SCHEMA: &str = "callform";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disable,
    VerifyFull,
}

/// A parsed PostgreSQL state location.
#[derive(Clone)]
pub struct PgLocation {
    config: postgres::Config,
    pub workspace: String,
    pub schema: String,
    pub tls: Tls,
    /// `sslrootcert=PATH`: the certificates (PEM) that sign the server's, instead of the
    /// Mozilla roots.
    pub root_cert: Option<std::path::PathBuf>,
    /// For messages: the URL without its password, and the workspace.
    display: String,
}

impl std::fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// Whether `s` is a PostgreSQL URL (`postgres://` or `postgresql://`).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// Whether a state location as written (`--state`, a saved plan, callform.yaml's `state:`
/// mapping) names a PostgreSQL state rather than a file: a `postgres://` URL, or one that
/// starts with a `${VAR}` reference (`${CALLFORM_STATE_URL}`, `${CALLFORM_STATE_URL}?workspace=w`).
pub fn is_postgres_location(s: &str) -> bool {
    is_postgres_url(s) || s.starts_with("${")
}

/// The location as written, with every `${VAR}` replaced by the variable's value from `var`.
/// The text as written may hold no literal password (in the URL's user part or a
/// `password=` parameter): credentials come from the environment only. Errors name
/// variables, never a value.
pub fn expand(written: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if let Some(what) = literal_password(written) {
        return Err(format!(
            "the state URL holds a literal {what}; credentials are only read from the environment: write e.g. `${{CALLFORM_STATE_URL}}` (the whole URL) or `postgres://user:${{PGPASSWORD}}@host/db`, and export the variable"
        ));
    }
    let mut out = String::with_capacity(written.len());
    let mut rest = written;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("a `${` without its closing `}`".into());
        };
        let name = &after[..end];
        let ok = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!(
                "`${{{name}}}` is not an environment variable reference (letters, digits and `_`)"
            ));
        }
        match var(name) {
            Some(value) if !value.is_empty() => out.push_str(&value),
            _ => {
                return Err(format!(
                    "the environment variable `{name}` that the state URL names is not set"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if !is_postgres_url(&out) {
        return Err(
            "it does not expand to a URL starting with `postgres://` or `postgresql://`".into(),
        );
    }
    Ok(out)
}

/// The location callform.yaml's `state: {backend: postgres, url, workspace, schema}` names, as
/// one text (what `--state` takes and a saved plan records): the URL as written, with the
/// workspace (and schema) as parameters after it.
pub fn written(url: &str, workspace: &str, schema: Option<&str>) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut out = format!("{url}{sep}workspace={workspace}");
    if let Some(schema) = schema {
        out.push_str(&format!("&schema={schema}"));
    }
    out
}

/// Why `written` (a state URL as callform.yaml or `--state` has it, before its variables
/// are read) cannot be used, checked without the environment: a literal password.
pub fn check_written(written: &str) -> Result<(), String> {
    match literal_password(written) {
        Some(what) => Err(format!(
            "the state URL holds a literal {what}; credentials are only read from the environment"
        )),
        None => Ok(()),
    }
}

/// Whether a schema name is acceptable (it is spelled into every query).
pub fn valid_schema_name(name: &str) -> bool {
    valid_schema(name)
}

/// What of a password `written` holds literally (not as one `${VAR}`), if anything.
fn literal_password(written: &str) -> Option<&'static str> {
    let is_ref = |v: &str| {
        v.strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .is_some_and(|n| !n.is_empty() && !n.contains(['{', '}']))
    };
    if let Some((_, rest)) = written.split_once("://") {
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                if !password.is_empty() && !is_ref(password) {
                    return Some("password");
                }
            }
        }
    }
    let query = written.split_once('?').map_or("", |(_, q)| q);
    for pair in query.split(['&', '?']) {
        if let Some(("password", value)) = pair.split_once('=') {
            if !is_ref(value) {
                return Some("`password=` parameter");
            }
        }
    }
    None
}

/// `url` with any password replaced by `***`: what may be shown of a URL that failed to
/// parse.
pub fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Whether a workspace name is acceptable: what it is keyed by in every table and lock key.
pub fn valid_workspace(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

impl PgLocation {
    /// Parses `url`; `workspace` (from `callform.yaml` or `--workspace`) wins over the URL's
    /// `?workspace=`. Errors never contain the password.
    pub fn parse(url: &str, workspace: Option<&str>) -> Result<PgLocation, String> {
        if !is_postgres_url(url) {
            return Err("expected a URL starting with `postgres://`".into());
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut ws, mut sslmode, mut schema, mut root_cert) = (None, None, None, None);
        let mut rest = Vec::new();
        // A `?` after the first one separates parameters too: callform.yaml's `workspace:`
        // is appended to a URL from the environment that may have a query of its own.
        for pair in query.split(['&', '?']).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "workspace" => ws = Some(v.to_string()),
                "sslmode" => sslmode = Some(v.to_string()),
                "schema" => schema = Some(v.to_string()),
                "sslrootcert" => root_cert = Some(std::path::PathBuf::from(v)),
                _ => rest.push(pair),
            }
        }
        let workspace = match workspace.map(str::to_string).or(ws) {
            Some(w) if valid_workspace(&w) => w,
            Some(w) => {
                return Err(format!(
                    "the workspace `{w}` is not a valid name (1 to 63 of a-z, 0-9, `-`, `_`, `.`, starting with a letter or digit)"
                ))
            }
            None => {
                return Err(
                    "no workspace: name one with `workspace:` in callform.yaml, `--workspace`, or `?workspace=NAME` in the URL"
                        .into(),
                )
            }
        };
        let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
        if !valid_schema(&schema) {
            return Err(format!(
                "the schema `{schema}` is not a valid name (a-z, 0-9, `_`, not starting with a digit)"
            ));
        }
        let client_url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = postgres::Config::from_str(&client_url)
            .map_err(|e| format!("the URL does not parse: {e}"))?;
        let hosts = config.get_hosts().to_vec();
        let local = !hosts.is_empty()
            && hosts.iter().all(|h| match h {
                Host::Tcp(name) => matches!(name.as_str(), "127.0.0.1" | "::1" | "localhost"),
                #[cfg(unix)]
                Host::Unix(_) => true,
            });
        let tls = match sslmode.as_deref() {
            None if local => Tls::Disable,
            None | Some("require" | "verify-full" | "verify-ca") => Tls::VerifyFull,
            Some("disable") if local => Tls::Disable,
            Some("disable") => {
                return Err("`sslmode=disable` is allowed only for a loopback host (127.0.0.1, ::1, localhost); use `sslmode=verify-full`".into())
            }
            Some(other) => {
                return Err(format!(
                    "`sslmode={other}` is not supported: use `verify-full` (or `require`, which callform checks as strictly), or `disable` on a loopback host"
                ))
            }
        };
        config.ssl_mode(match tls {
            Tls::Disable => SslMode::Disable,
            Tls::VerifyFull => SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.application_name("callform");
        let display = {
            let user = config
                .get_user()
                .map(|u| format!("{u}@"))
                .unwrap_or_default();
            let host = hosts
                .iter()
                .map(|h| match h {
                    Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    Host::Unix(path) => path.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(",");
            let port = config
                .get_ports()
                .first()
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let db = config.get_dbname().unwrap_or("");
            let schema_part = if schema == DEFAULT_SCHEMA {
                String::new()
            } else {
                format!(", schema {schema}")
            };
            format!("postgres://{user}{host}{port}/{db} (workspace {workspace}{schema_part})")
        };
        if root_cert.is_some() && tls == Tls::Disable {
            return Err("`sslrootcert=` needs TLS: add `sslmode=verify-full`".into());
        }
        Ok(PgLocation {
            config,
            workspace,
            schema,
            tls,
            root_cert,
            display,
        })
    }

    /// The location for messages: no password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Opens a new client session.
    pub(crate) fn connect(&self) -> Result<Client, String> {
        let result = match self.tls {
            Tls::Disable => self.config.connect(NoTls),
            Tls::VerifyFull => {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let roots = match &self.root_cert {
                    None => rustls::RootCertStore::from_iter(
                        webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
                    ),
                    Some(path) => {
                        use rustls::pki_types::{pem::PemObject, CertificateDer};
                        let mut roots = rustls::RootCertStore::empty();
                        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                            format!("cannot read `sslrootcert` {}: {e}", path.display())
                        })?;
                        for cert in certs {
                            let cert = cert.map_err(|e| {
                                format!("cannot read `sslrootcert` {}: {e}", path.display())
                            })?;
                            roots
                                .add(cert)
                                .map_err(|e| format!("`sslrootcert` {}: {e}", path.display()))?;
                        }
                        if roots.is_empty() {
                            return Err(format!(
                                "`sslrootcert` {} holds no certificate",
                                path.display()
                            ));
                        }
                        roots
                    }
                };
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("cannot set up TLS: {e}"))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                self.config
                    .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
            }
        };
        result.map_err(|e| super::describe(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let loc = PgLocation::parse(
            "postgres://ci:s3cret-canary@127.0.0.1:5432/team?workspace=billing",
            None,
        )
        .unwrap();
        assert_eq!(
            loc.display(),
            "postgres://ci@127.0.0.1:5432/team (workspace billing)"
        );
        assert!(!format!("{loc:?}").contains("s3cret"));
        assert_eq!(
            mask("postgres://ci:s3cret@db.example:5432/x?sslmode=zz"),
            "postgres://ci:***@db.example:5432/x?sslmode=zz"
        );
        let err = PgLocation::parse("postgres://ci:s3cret@db.example/x?sslmode=zz", Some("w"))
            .unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn tls_is_required_off_the_loopback() {
        let remote = PgLocation::parse("postgres://u@db.example/x", Some("w")).unwrap();
        assert_eq!(remote.tls, Tls::VerifyFull);
        let local = PgLocation::parse("postgres://u@127.0.0.1/x", Some("w")).unwrap();
        assert_eq!(local.tls, Tls::Disable);
        let err =
            PgLocation::parse("postgres://u@db.example/x?sslmode=disable", Some("w")).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(PgLocation::parse("postgres://u@db.example/x?sslmode=prefer", Some("w")).is_err());
        let required =
            PgLocation::parse("postgres://u@db.example/x?sslmode=require", Some("w")).unwrap();
        assert_eq!(required.tls, Tls::VerifyFull);
    }

    #[test]
    fn a_workspace_is_required_and_checked() {
        assert!(PgLocation::parse("postgres://u@127.0.0.1/x", None)
            .unwrap_err()
            .contains("no workspace"));
        assert!(PgLocation::parse("postgres://u@127.0.0.1/x?workspace=Bad Name", None).is_err());
        let flag = PgLocation::parse("postgres://u@127.0.0.1/x?workspace=a", Some("b")).unwrap();
        assert_eq!(flag.workspace, "b");
    }

    #[test]
    fn variables_are_read_and_literal_passwords_refused() {
        let env = |name: &str| match name {
            "URL" => Some("postgres://ci:pw@db.example:5432/team?sslmode=verify-full".to_string()),
            "PW" => Some("pw".to_string()),
            _ => None,
        };
        assert_eq!(
            expand("${URL}?workspace=w", &env).unwrap(),
            "postgres://ci:pw@db.example:5432/team?sslmode=verify-full?workspace=w"
        );
        // The second `?` separates parameters, as the first does.
        let loc = PgLocation::parse(&expand("${URL}?workspace=w", &env).unwrap(), None).unwrap();
        assert_eq!((loc.workspace.as_str(), loc.tls), ("w", Tls::VerifyFull));
        assert_eq!(
            expand("postgres://ci:${PW}@h/db", &env).unwrap(),
            "postgres://ci:pw@h/db"
        );
        let err = expand("${NOPE}", &env).unwrap_err();
        assert!(err.contains("`NOPE`") && err.contains("not set"), "{err}");
        assert!(expand("${BAD NAME}", &env).is_err());
        assert!(expand("${URL", &env).is_err());
        let err = expand("postgres://ci:hunter2@h/db", &env).unwrap_err();
        assert!(
            err.contains("literal password") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(expand("postgres://ci@h/db?password=hunter2", &env).is_err());
        assert!(expand("postgres://ci@h/db?password=${PW}", &env).is_ok());
        assert!(check_written("${URL}").is_ok());
        assert!(check_written("postgres://u:${PW}@h/db").is_ok());
        assert!(check_written("postgres://u:x${PW}@h/db").is_err());
    }

    #[test]
    fn a_root_certificate_needs_tls() {
        assert!(PgLocation::parse(
            "postgres://u@127.0.0.1/x?workspace=w&sslrootcert=/ca.pem",
            None
        )
        .unwrap_err()
        .contains("sslmode=verify-full"));
        let loc = PgLocation::parse(
            "postgres://u@127.0.0.1/x?workspace=w&sslmode=verify-full&sslrootcert=/ca.pem",
            None,
        )
        .unwrap();
        assert_eq!(
            loc.root_cert.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
    }
}
