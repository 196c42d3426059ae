//! The HTTP server: the shared state, the routes, and starting and stopping.
//!
//! One server serves every vendor, each at the [`Route`] its vendor folder declares
//! (`Vendor::emulator_routes`). Paths of their own do not collide; vendors that sign at
//! `/` (Aliyun and Volcengine) share it: a request there goes to the first vendor whose
//! `claims` accepts its headers (Aliyun: any `x-acs-*` header or an `ACS3-…`
//! Authorization), and every other one to the vendor that claims the rest (Volcengine),
//! so a malformed request still gets an answer in some vendor's shape.
//!
//! The server only ever listens on loopback (127.0.0.0/8 or ::1): it accepts the
//! sandbox credentials, which are public, so it must not be reachable from elsewhere.

use super::conn::{ConnHandle, ResettableListener};
use super::control;
use super::credentials::Credentials;
use super::faults::{FaultKind, FaultOp, FaultRules, Faults};
use super::tasks::Tasks;
use super::verify::NonceCache;
use super::Config;
use crate::manifest::Vendor;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Large enough for Volcengine's 10,000-number PhoneList with per-number parameters.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How long [`Running::shutdown`] waits for requests in flight before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// State shared by all handlers.
pub(crate) struct Emulator {
    pub credentials: Credentials,
    pub faults: Faults,
    /// `Config::corrected_aliyun_create`.
    pub corrected_aliyun_create: bool,
    pub tasks: Mutex<Tasks>,
    pub rules: Mutex<FaultRules>,
    pub nonces: Mutex<NonceCache>,
    /// Every vendor request received, oldest first, at most [`RECEIVED_KEPT`].
    pub received: Mutex<std::collections::VecDeque<Received>>,
    /// `Config::read_qps`.
    pub read_qps: super::ReadQps,
    /// Per vendor, when its reads of the last second were answered.
    read_window:
        Mutex<std::collections::HashMap<Vendor, std::collections::VecDeque<std::time::Instant>>>,
    next_seq: std::sync::atomic::AtomicU64,
    shutdown: watch::Receiver<bool>,
}

/// How many received requests `GET /_emulator/requests` keeps.
const RECEIVED_KEPT: usize = 10_000;

/// One vendor request as received: no headers, xfyeta's token masked.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Received {
    /// Its number, for the handler to note what it was (`Emulator::note`).
    #[serde(skip)]
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The vendor-visible task name, when the request names one (a load or a start
    /// names its task by id: the name is then that task's).
    pub name: Option<String>,
    /// What the request was, once its vendor's handler recognised it.
    pub op: Option<FaultOp>,
    /// The task it created or named, once known.
    pub task_id: Option<String>,
    /// The fault the emulator met it with (a rule's or a global share's kind), if any.
    pub fault: Option<FaultKind>,
    /// Whether the emulator did the step (created the task, stored the batch, started
    /// it, answered the read): false for a refused, throttled or business-error request.
    pub done: bool,
}

/// A request's number in `Emulator::received`, put in its extensions by the middleware.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seq(pub u64);

impl Emulator {
    /// Notes that request `seq` is `op` on the task `task_id` names, with that task's
    /// name when it exists — before any check, so a refused load is noted too.
    pub(crate) fn note_task(&self, seq: Option<u64>, op: FaultOp, task_id: &str) {
        let name = locked(&self.tasks).get_mut(task_id).map(|t| t.name.clone());
        self.note(seq, op, Some(task_id), name.as_deref());
    }

    /// Notes how request `seq` was met: the fault decided for it, and whether the step
    /// was done.
    pub(crate) fn note_outcome(&self, seq: Option<u64>, fault: Option<FaultKind>, done: bool) {
        let Some(seq) = seq else { return };
        let mut received = locked(&self.received);
        if let Some(r) = received.iter_mut().rev().find(|r| r.seq == seq) {
            r.fault = fault;
            r.done = done;
        }
    }

    /// Notes what request `seq` was: its operation, and the task id and name when they
    /// are known (a name already taken from the request is kept).
    pub(crate) fn note(
        &self,
        seq: Option<u64>,
        op: FaultOp,
        task_id: Option<&str>,
        name: Option<&str>,
    ) {
        let Some(seq) = seq else { return };
        let mut received = locked(&self.received);
        // Lock order: `tasks` (held by a step) before `received`, never the reverse.
        if let Some(r) = received.iter_mut().rev().find(|r| r.seq == seq) {
            r.op = Some(op);
            if let Some(id) = task_id {
                r.task_id = Some(id.to_string());
            }
            if r.name.is_none() {
                r.name = name.map(str::to_string);
            }
        }
    }

    /// Whether a read of `vendor`, whose documented rate is `documented` per second, is
    /// over the rate in force ([`super::ReadQps`]): more than that many reads in the last
    /// second. A read that is not over is counted.
    pub(crate) fn read_throttled(&self, vendor: Vendor, documented: u32) -> bool {
        let limit = match self.read_qps {
            super::ReadQps::Off => return false,
            super::ReadQps::Documented => documented,
            super::ReadQps::Limit(n) => n,
        } as usize;
        let now = std::time::Instant::now();
        let mut windows = locked(&self.read_window);
        let window = windows.entry(vendor).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= limit {
            return true;
        }
        window.push_back(now);
        false
    }

    /// Resolves once shutdown was requested.
    pub(crate) async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone, which is a shutdown too.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Locks a mutex; a panic in another handler must not take the emulator down with it,
/// and none of the guarded values can be left half-updated by one.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running emulator. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// `http://ADDR`, the endpoint to give callform.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish (a hang is cut short), and
    /// returns when the server is gone or after a short grace period.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Refuses any address that is not loopback.
fn ensure_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the emulator listens only on loopback (127.0.0.0/8 or ::1), not {addr}: \
                 it accepts public sandbox credentials"
            ),
        ))
    }
}

/// Serves on an already bound listener (must be loopback; refuse anything else). Spawns on the current tokio runtime.
pub async fn spawn(listener: TcpListener, config: Config) -> io::Result<Running> {
    let addr = listener.local_addr()?;
    ensure_loopback(addr)?;
    config
        .faults
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (stop, shutdown) = watch::channel(false);
    let emulator = Arc::new(Emulator {
        credentials: config.credentials,
        faults: config.faults,
        corrected_aliyun_create: config.corrected_aliyun_create,
        tasks: Mutex::default(),
        rules: Mutex::default(),
        nonces: Mutex::default(),
        received: Mutex::default(),
        read_qps: config.read_qps,
        read_window: Mutex::default(),
        next_seq: std::sync::atomic::AtomicU64::new(0),
        shutdown,
    });
    let stopping = Arc::clone(&emulator);
    let server = axum::serve(
        ResettableListener(listener),
        router(emulator).into_make_service_with_connect_info::<ConnHandle>(),
    )
    .with_graceful_shutdown(async move { stopping.shutting_down().await });
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            // A background server's failure has no caller left to return to.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("callform emulator stopped: {e}");
            }
        }
    });
    Ok(Running {
        addr,
        stop,
        task: Some(task),
    })
}

/// For the `callform emulator --listen ADDR` subcommand: binds (loopback only), calls
/// `listening` with its URL (the command prints `callform emulator listening on
/// http://127.0.0.1:PORT` to stdout), and serves until Ctrl-C/SIGTERM.
pub async fn run(
    listen: &str,
    config: Config,
    listening: &dyn Fn(&str) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let addr = parse_listen(listen)?;
    ensure_loopback(addr)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let running = spawn(listener, config).await?;
    listening(&running.url())?;
    stop_signal().await?;
    running.shutdown().await;
    Ok(())
}

/// `IP:PORT`, or `localhost:PORT` for 127.0.0.1 (never resolved: a resolver could
/// answer a non-loopback address).
fn parse_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    let expected = "expected a loopback IP:PORT such as 127.0.0.1:0 or [::1]:8080";
    if let Some(port) = listen.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow::anyhow!("--listen {listen:?}: {expected}"))?;
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    listen
        .parse()
        .map_err(|_| anyhow::anyhow!("--listen {listen:?}: {expected}"))
}

/// Ctrl-C, or SIGTERM (what a CI runner sends on cancel).
async fn stop_signal() -> io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

fn router(emulator: Arc<Emulator>) -> Router {
    let mut vendors = Router::new();
    let mut signed = Vec::new();
    for route in Vendor::ALL
        .into_iter()
        .flat_map(|v| v.def().emulator_routes())
    {
        match route {
            Route::Post(path, handler) => vendors = vendors.route(path, *handler),
            Route::Signed { claims, handle } => signed.push((claims, handle)),
        }
    }
    let signed: Arc<[SignedRoute]> = signed.into();
    let root = move |State(emu): State<Arc<Emulator>>,
                     ConnectInfo(conn): ConnectInfo<ConnHandle>,
                     incoming: Incoming| {
        let signed = Arc::clone(&signed);
        async move { signed_root(&signed, &emu, &conn, incoming).await }
    };
    let vendors = vendors
        .route("/", get(root.clone()).post(root))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&emulator),
            latency,
        ));
    let control = Router::new()
        .route("/_emulator/tasks", get(control::tasks))
        .route("/_emulator/tasks/{task_id}/callees", get(control::callees))
        .route(
            "/_emulator/tasks/{task_id}/settings",
            get(control::settings),
        )
        .route(
            "/_emulator/tasks/{task_id}/run",
            axum::routing::post(control::set_run),
        )
        .route(
            "/_emulator/tasks/{task_id}/console",
            axum::routing::post(control::console),
        )
        .route("/_emulator/requests", get(control::requests))
        .route(
            "/_emulator/faults",
            get(control::list_faults)
                .post(control::add_fault)
                .delete(control::clear_faults),
        );
    vendors
        .merge(control)
        .fallback(not_found)
        .with_state(emulator)
}

/// `Faults::latency`, before every vendor request (not the `/_emulator` ones, which
/// tests use to look and should stay fast).
/// Every vendor request is also noted for `GET /_emulator/requests`.
async fn latency(State(emu): State<Arc<Emulator>>, request: Request, next: Next) -> Response {
    if !emu.faults.latency.is_zero() {
        tokio::time::sleep(emu.faults.latency).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({ "error": format!("the request body could not be read (limit {BODY_LIMIT} bytes)") })),
        )
            .into_response();
    };
    let query: Vec<(String, String)> = super::params::query_pairs(parts.uri.query().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            if k == "token" {
                (k, "***".to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let from_body = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|b| {
            ["task_name", "name", "Name"].iter().find_map(|k| {
                b.get(k)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            })
        });
    let name = query
        .iter()
        .find(|(k, _)| k == "TaskName")
        .map(|(_, v)| v.clone())
        .or(from_body);
    let seq = emu
        .next_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    parts.extensions.insert(Seq(seq));
    {
        let mut received = locked(&emu.received);
        if received.len() >= RECEIVED_KEPT {
            received.pop_front();
        }
        received.push_back(Received {
            seq,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query,
            name,
            op: None,
            task_id: None,
            fault: None,
            done: false,
        });
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// A request at `/` goes to the first vendor that claims it, else to the one that takes
/// the rest.
async fn signed_root(
    signed: &[SignedRoute],
    emu: &Emulator,
    conn: &ConnHandle,
    incoming: Incoming,
) -> Response {
    let handle = signed
        .iter()
        .find(|(claims, _)| claims.is_some_and(|claims| claims(&incoming.headers)))
        .or_else(|| signed.iter().find(|(claims, _)| claims.is_none()))
        .map(|(_, handle)| *handle);
    match handle {
        Some(handle) => handle(emu, conn, incoming).await,
        None => not_found(incoming.uri).await,
    }
}

/// A signed vendor's claim on requests at `/`, and its handler.
type SignedRoute = (Option<fn(&HeaderMap) -> bool>, SignedHandler);

/// A handler of signed requests at `/`: it tells the vendor's actions apart itself
/// (Aliyun by `x-acs-action`, Volcengine by the `Action` query parameter).
pub(crate) type SignedHandler =
    for<'a> fn(&'a Emulator, &'a ConnHandle, Incoming) -> SignedFuture<'a>;

/// How a request for a vendor reaches the emulator.
pub(crate) enum Route {
    /// A path of its own, with its handler — for any methods (`get(…).put(…)`), all a
    /// path's methods given together in one entry, though most are POST.
    Post(&'static str, Box<MethodRouter<Arc<Emulator>>>),
    /// A signed request at `/`, shared with other vendors: `claims` tells this vendor's
    /// by its headers; `None` takes every request at `/` that no other vendor claims (at
    /// most one vendor may say so).
    Signed {
        claims: Option<fn(&HeaderMap) -> bool>,
        handle: SignedHandler,
    },
}

/// What a signed handler returns.
pub(crate) type SignedFuture<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": format!("the emulator has no route {}", uri.path()) })),
    )
        .into_response()
}

/// A request as a vendor module receives it: everything, the body read whole.
pub(crate) struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Its number in `GET /_emulator/requests` (for `Emulator::note`).
    pub seq: Option<u64>,
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Incoming, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
            let message =
                format!("the request body could not be read (limit {BODY_LIMIT} bytes): {e}");
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(serde_json::json!({ "error": message })),
            )
                .into_response()
        })?;
        Ok(Incoming {
            seq: parts.extensions.get::<Seq>().map(|s| s.0),
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_accepted() {
        for ok in [
            "127.0.0.1:0",
            "127.1.2.3:80",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            assert!(ensure_loopback(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0:0", "192.168.1.2:80", "[::]:0", "8.8.8.8:53"] {
            let err = ensure_loopback(bad.parse().unwrap()).unwrap_err();
            assert!(err.to_string().contains("loopback"), "{bad}: {err}");
        }
    }

    #[test]
    fn listen_addresses_parse_without_resolving() {
        assert_eq!(
            parse_listen("localhost:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(parse_listen("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert!(parse_listen("example.com:80").is_err());
        assert!(parse_listen("localhost:x").is_err());
    }

    #[tokio::test]
    async fn spawn_refuses_bad_shares() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config {
            faults: Faults {
                reset_rate: 2.0,
                ..Faults::default()
            },
            ..Config::default()
        };
        assert!(spawn(listener, config).await.is_err());
    }
}
