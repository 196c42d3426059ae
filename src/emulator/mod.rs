//! A loopback HTTP server that imitates the four vendors' task APIs strictly — create,
//! load callees, start — for `callform emulator`, `apply --sandbox` and the test suite.
//!
//! It checks tokens and recomputes both signatures (`verify.rs`), validates parameters
//! from the vendor pages and `vendor-docs/limits.md` (one file per vendor), answers in
//! each vendor's own shapes, keeps what it created with its callees and run state
//! (`tasks.rs`, `GET /_emulator/tasks`) and injects faults per operation on request
//! (`faults.rs`, `POST /_emulator/faults`).
//!
//! Beyond create, load and start it serves every read and verb callform steers a task
//! with — queries and listings, pause, resume, stop, delete, update — with each vendor's
//! state machine over the shared `Run` states (`tasks.rs`) (the vendor module maps them to its own
//! enumeration and says which verb each state takes, and with which refusal). The
//! console endpoint `POST /_emulator/tasks/{id}/console` changes a task behind callform's
//! back (pause, resume, finish, stop, delete, progress), to produce drift. Reads can be
//! held to each vendor's rate ([`ReadQps`]).
//!
//! The validators are written from the vendor pages, never from callform's drivers, so
//! that a driver's mistake cannot hide behind the same mistake here. Where limits.md adds
//! callform's own rules (non-overlapping windows, end after start), the emulator enforces
//! them too: a request that breaks them should never have left callform, and a test that
//! sends one should fail loudly.
//!
//! Layout, in the order a request meets it: `server.rs` (routes, start, stop), `conn.rs`
//! (connections the `reset` fault can break), the vendor's routes
//! (`vendor/<name>/emulator.rs`, declared by its `Vendor::emulator_routes`) using
//! `verify.rs` and `params.rs`, then `step.rs` (check against the store, fault, do,
//! answer) with `tasks.rs` and `faults.rs`; `control.rs` serves `/_emulator/*`. This folder is the shared kit:
//! what still names vendors here is the sandbox credential set (`credentials.rs`) and the
//! two signature checks (`verify.rs`).

pub(crate) mod conn;
mod control;
mod credentials;
pub(crate) mod faults;
pub(crate) mod params;
pub(crate) mod server;
pub(crate) mod step;
pub(crate) mod tasks;
pub(crate) mod verify;

pub(crate) use conn::ConnHandle;
pub use credentials::{
    Credentials, SANDBOX_ALIYUN_ACCESS_KEY_ID, SANDBOX_ALIYUN_ACCESS_KEY_SECRET,
    SANDBOX_ALIYUN_CALLERS, SANDBOX_LONGLONGLONG_TOKEN, SANDBOX_LONGLONGLONG_USER_ID,
    SANDBOX_VOLCENGINE_ACCESS_KEY, SANDBOX_VOLCENGINE_SECRET_KEY, SANDBOX_XFYETA_TOKEN,
};
pub use faults::{FaultKind, FaultOp, FaultRule, Faults};
pub use server::{run, spawn, Running};
pub(crate) use server::{Emulator, Incoming, Route, SignedFuture};
pub(crate) use tasks::uuid_v4;

/// Whether the emulator checks an Aliyun `CreateRobotTask` by the vendor's current page
/// (`aliyun-dyvms-robot-task-lifecycle.md`): `Caller` only the account's purchased
/// calling lines ([`SANDBOX_ALIYUN_CALLERS`]), `NumberStatusIdent` and `RetryType`
/// required, `RecallInterval` at most 30.
///
/// On: callform's Aliyun driver sends the calling line in `Caller` (issue 9 corrected it),
/// so the emulator holds it to the current page. The older page's create (the callees in
/// `Caller`) is refused as the real service would, with `isv.CALLER_NOT_PURCHASED`. A
/// test can still turn the checks off for one emulator with
/// [`Config::corrected_aliyun_create`].
pub const CORRECTED_ALIYUN_CREATE: bool = true;

/// Everything the emulator needs to start. `Default`: sandbox credentials, no faults,
/// Aliyun's create checked as [`CORRECTED_ALIYUN_CREATE`] says, reads not rate-limited.
#[derive(Debug, Clone)]
pub struct Config {
    pub credentials: Credentials,
    pub faults: Faults,
    /// See [`CORRECTED_ALIYUN_CREATE`], its default.
    pub corrected_aliyun_create: bool,
    /// Whether reads above a rate are throttled.
    pub read_qps: ReadQps,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            credentials: Credentials::default(),
            faults: Faults::default(),
            corrected_aliyun_create: CORRECTED_ALIYUN_CREATE,
            read_qps: ReadQps::Off,
        }
    }
}

/// Whether the emulator throttles reads (task queries and listings) above a rate, per
/// vendor and account: at most N reads in any one second, the rest answered with the
/// vendor's throttling error — so a benchmark can prove that a client paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadQps {
    /// Every read is answered (the default).
    #[default]
    Off,
    /// Each vendor's documented rate (Aliyun 100/s; where no page gives one, the
    /// vendor module's `READ_QPS` says what the emulator chose).
    Documented,
    /// This rate for every vendor.
    Limit(u32),
}
