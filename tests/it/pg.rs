//! A real PostgreSQL server for the tests: one throwaway cluster per test binary (initdb into
//! a temporary directory, a free port on 127.0.0.1, its socket in that directory, fsync off),
//! stopped and removed when the binary exits. Tests share it and keep apart by database or
//! workspace of their own. A test that must restart the server starts a cluster of its own.
//!
//! The server binaries are found through `pg_config --bindir`, `/usr/lib/postgresql/*/bin`
//! or `PATH`. Without them the tests fail (never skip), saying how to install them. initdb
//! refuses root: as root, the server runs as the `postgres` user the Debian package creates.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The superuser's password: a canary, so a test can show it never appears in any output.
pub(crate) const PASSWORD: &str = "pw-canary-5f3c9e71";
pub(crate) const USER: &str = "callform";

/// A running cluster.
pub(crate) struct Cluster {
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    bindir: PathBuf,
    /// The watchdog's stdin: when it closes (this process exits), the watchdog stops the
    /// server and removes the directory.
    _watchdog: Mutex<(Child, ChildStdin)>,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The cluster the tests share, started on first use.
pub(crate) fn cluster() -> &'static Cluster {
    SHARED.get_or_init(Cluster::start)
}

/// A name no other test of this run uses: `{prefix}-{n}`.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
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
    if let Some(d) = versions.pop() {
        return d;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has(&d) {
                return d;
            }
        }
    }
    panic!(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found through \
         `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH; the state tests run against a \
         real server: install it with `apt-get install postgresql` (Debian/Ubuntu) and run the \
         tests again"
    );
}

/// `program args…`, as the `postgres` user when this process is root.
fn server_cmd(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check(what: &str, out: std::io::Result<std::process::Output>) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test certificate authority (`ca.pem`) and the server's certificate for 127.0.0.1 and
/// localhost signed by it (`server.pem`, `server.key`), with openssl (which Debian's
/// postgresql package brings along).
fn make_certificates(dir: &Path) {
    let openssl = |what: &str, args: &[&str]| {
        check(
            what,
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .output(),
        )
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        "openssl: the test CA",
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=callform-test-ca",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        "openssl: the server's key",
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    openssl(
        "openssl: the server's certificate",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
}

impl Cluster {
    /// initdb, start, and a database `callform` owned by the superuser `callform`.
    pub(crate) fn start() -> Cluster {
        let bindir = bindir();
        let dir = tempfile::Builder::new()
            .prefix("callform-pg-")
            .tempdir()
            .unwrap()
            .keep();
        make_certificates(&dir);
        if as_root() {
            check(
                "chown the cluster directory",
                Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(&dir)
                    .output(),
            );
        }
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if as_root() {
            check(
                "chown the password file",
                Command::new("chown").arg("postgres:").arg(&pwfile).output(),
            );
        }
        check(
            "initdb",
            server_cmd(&bindir.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", USER, "-A", "scram-sha-256", "-N", "-E", "UTF8"])
                .arg("--pwfile")
                .arg(&pwfile)
                .arg("--no-instructions")
                .output(),
        );
        let port = free_port();
        // The watchdog: waits for this process's end (its stdin closing), then stops the
        // server and removes everything.
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(r#"read _; $0 -D "$1/data" -m immediate stop >/dev/null 2>&1; rm -rf "$1""#)
            .arg(if as_root() {
                format!("runuser -u postgres -- {}", bindir.join("pg_ctl").display())
            } else {
                bindir.join("pg_ctl").display().to_string()
            })
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = watchdog.stdin.take().unwrap();
        let cluster = Cluster {
            port,
            dir,
            bindir,
            _watchdog: Mutex::new((watchdog, stdin)),
        };
        cluster.run_server();
        cluster.psql("postgres", "CREATE DATABASE callform");
        cluster
    }

    fn run_server(&self) {
        check(
            "pg_ctl start",
            server_cmd(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("log"))
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=on -c full_page_writes=off -c max_connections=300 -c ssl=on -c ssl_cert_file={dir}/server.pem -c ssl_key_file={dir}/server.key",
                    port = self.port,
                    dir = self.dir.display()
                ))
                .args(["-w", "-t", "60", "start"])
                .output(),
        );
    }

    /// Stops the server at once (as a crash would), and starts it again.
    pub(crate) fn stop(&self) {
        check(
            "pg_ctl stop",
            server_cmd(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .output(),
        );
    }

    /// Starts a stopped server again on the same port.
    pub(crate) fn restart(&self) {
        self.run_server();
    }

    /// The certificate authority that signed the server's certificate (for
    /// `sslrootcert=`); the server offers TLS (and plain connections) on 127.0.0.1.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The URL of `db` with the canary password.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A state location for the binary and the library: `url(db)` with `?workspace=`.
    pub(crate) fn location(&self, db: &str, workspace: &str) -> String {
        format!("{}?workspace={workspace}", self.url(db))
    }

    /// A client connection to `db`, for reaching beneath callform.
    pub(crate) fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }

    /// Runs `sql` in `db` (from a thread of its own: the client may not run inside tokio).
    pub(crate) fn psql(&self, db: &str, sql: &str) {
        let (url, sql) = (self.url(db), sql.to_string());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap();
    }

    /// A new empty database of its own for a test.
    pub(crate) fn database(&self, prefix: &str) -> String {
        let name = unique(prefix).replace('-', "_");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(mut w) = self._watchdog.lock() {
            let _ = w.1.write_all(b"\n");
            let _ = w.0.wait();
        }
    }
}

/// Runs `job` on a thread of its own (the sync client must not run inside the tokio runtime
/// of a test) and returns its result.
pub(crate) fn off_runtime<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::spawn(job).join().unwrap()
}
