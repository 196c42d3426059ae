//! Drivers: pure translations between a task and one vendor's wire format.
//!
//! A driver turns a validated task into the exact HTTP request its vendor page describes
//! ([`build`]) and the vendor's answer into a created id or a vendor error ([`parse`]). It
//! does no I/O, reads no clock and holds no state: signing, sending, timeouts and retries
//! are the transport's (`crate::transport`), so every wire choice can be checked against a
//! golden file.
//!
//! How an answer is judged — done, rejected (nothing happened) or uncertain — is decided
//! in one place per operation ([`answer::Op`]); a driver only reads what its vendor's
//! answer says and lists the codes its vendor documents as rejections.

pub mod answer;
pub mod observe;

pub use answer::{Op, Reading, Rejection, RetryPolicy};
pub use observe::{Lifecycle, Listing, Numbers, Observed, Verb, VerbRule};

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use serde::Serialize;

use crate::manifest::time::LocalDateTime;
use crate::manifest::{Task, Vendor};

/// How the transport must sign a request. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Signing {
    /// Nothing to sign (the credential is already in the query or a header).
    None,
    /// Aliyun ACS3-HMAC-SHA256, RPC style: parameters in the query, action and version in headers.
    Aliyun {
        access_key_id: String,
        access_key_secret: String,
        action: String,
        version: String,
    },
    /// Volcengine HMAC-SHA256.
    Volcengine {
        access_key: String,
        secret_key: String,
        region: String,
        service: String,
    },
}

/// One HTTP request, before signing. `Debug` shows it with every secret masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    /// The path below the endpoint, starting with `/`.
    pub path: String,
    /// Query parameters, not yet encoded, in the order they are sent.
    pub query: Vec<(String, String)>,
    /// Headers other than the signing ones (`Content-Type`, longlonglong's bearer token).
    pub headers: Vec<(String, String)>,
    /// The body bytes (JSON), if any.
    pub body: Option<Vec<u8>>,
    pub signing: Signing,
    /// Every secret value in this request, to be masked wherever the request is shown
    /// or an error mentions it (xfyeta's token travels in the URL).
    pub secrets: Vec<String>,
    /// Every callee number and value this request carries: masked (`***`) in every message
    /// and excerpt, so that a vendor echoing one cannot leak it.
    pub redact: Vec<String>,
    /// The created task a load, a start, a verb or an update acts on, or a query reads
    /// (`None` for a create and a lookup by name): a step's answer is done only if it
    /// names this task where the vendor's answer names one, and a query's answer is read
    /// for this task.
    pub target: Option<String>,
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signing::None => "Signing::None",
            Signing::Aliyun { .. } => "Signing::Aliyun(***)",
            Signing::Volcengine { .. } => "Signing::Volcengine(***)",
        })
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request({})", display(self, "", true))
    }
}

/// What a driver needs besides the task: resolved credentials and the project timezone.
#[derive(Debug, Clone)]
pub struct Context {
    /// The project timezone, in which manifest date-times are written.
    pub timezone: TimeZone,
    pub credentials: Credentials,
}

/// Resolved credentials (values, not variable names). Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub token: Option<String>,
    pub user_id: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub region: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(***)")
    }
}

/// Why a vendor rejected a request: in every class nothing was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throttling: nothing was created; retry with backoff.
    Throttled,
    /// Bad credentials or signature: nothing was created; the provider is misconfigured.
    Auth,
    /// A documented validation or quota error: nothing was created.
    Business,
    /// Nothing was done because of the task's state at the vendor (running, finished,
    /// deleted): the step is kept as refused, and a person must act before it is sent again.
    TaskState,
}

/// The reading of an answer: done, rejected (nothing happened), or uncertain.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Done: the vendor created the task.
    Created {
        task_id: String,
        request_id: Option<String>,
        warnings: Vec<String>,
    },
    /// The vendor refused the request with a documented rejection: nothing was created.
    Rejected {
        class: ErrorClass,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// Done: the vendor loaded the batch or started the task.
    Done {
        request_id: Option<String>,
        /// Notes for the state (rows the vendor refused, masked).
        warnings: Vec<String>,
    },
    /// A read's answer (`Op::Query`, `Op::Find`).
    Read {
        listing: Listing,
        request_id: Option<String>,
    },
    /// Anything else: the task may exist.
    Uncertain {
        reason: String,
        request_id: Option<String>,
    },
}

/// A request that cannot be built (a credential missing, a time that does not exist…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// Builds the create request for `task`.
pub fn build(task: &Task, cx: &Context) -> Result<Request, BuildError> {
    task.spec.def().build_create(task, cx)
}

/// Builds the request that loads `rows` (with `columns`) into the created task `task_id`.
pub fn build_load(
    task: &Task,
    task_id: &str,
    columns: &[String],
    rows: &[crate::manifest::callees::Row],
    cx: &Context,
) -> Result<Request, BuildError> {
    task.spec.def().build_load(task, task_id, columns, rows, cx)
}

/// Builds the request that starts the created task `task_id`; `None` for a vendor whose
/// tasks callform never starts by a request of its own.
pub fn build_start(
    task: &Task,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    task.spec.def().build_start(task, task_id, cx)
}

/// How `vendor` does `verb` on a task that is `from` there.
pub fn verb_rule(vendor: Vendor, verb: Verb, from: Lifecycle) -> VerbRule {
    vendor.def().verb(verb, from)
}

/// The documented rate of reads `vendor` accepts, per second.
pub fn read_qps(vendor: Vendor) -> u32 {
    vendor.def().read_qps().max(1)
}

/// Hours from UTC of the creation times `vendor`'s listing reports; `None`: it reports none.
pub fn creation_time_utc_offset(vendor: Vendor) -> Option<i8> {
    vendor.def().creation_time_utc_offset()
}

/// The top-level fields of `task`'s canonical spec its vendor changes in place.
pub fn updatable(task: &Task) -> &'static [&'static str] {
    task.spec.def().updatable()
}

/// The request `task`'s vendor updates a created task with, as a plan names it (empty
/// where it has none).
pub fn update_via(task: &Task) -> &'static str {
    task.spec.def().update_via()
}

/// Builds the request that reads the created task `task_id` back.
pub fn build_query(vendor: Vendor, task_id: &str, cx: &Context) -> Result<Request, BuildError> {
    vendor.def().build_query(task_id, cx)
}

/// Builds the request that lists `vendor`'s tasks named `name` (page from 1).
pub fn build_find(
    vendor: Vendor,
    name: &str,
    page: u32,
    cx: &Context,
) -> Result<Request, BuildError> {
    vendor.def().build_find(name, page, cx)
}

/// Builds the request that reads page `page` (from 1) of the callee numbers the created
/// task `task_id` holds; `None` for a vendor that reports no number list (only
/// longlonglong does).
pub fn build_numbers(
    vendor: Vendor,
    task_id: &str,
    page: u32,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    vendor.def().build_numbers(task_id, page, cx)
}

/// Whether `vendor`'s read of a task reports how many callees it holds.
pub fn reports_callee_count(vendor: Vendor) -> bool {
    vendor.def().reports_callee_count()
}

/// Whether `vendor`'s read of a task reports a status callform can map.
pub fn reads_status(vendor: Vendor) -> bool {
    vendor.def().reads_status()
}

/// The top-level spec keys `vendor`'s read of a created task returns.
pub fn read_fields(vendor: Vendor) -> &'static [&'static str] {
    vendor.def().read_fields()
}

/// Whether `vendor` reports the callee numbers a task holds (`Op::Numbers`).
pub fn has_number_list(vendor: Vendor) -> bool {
    vendor.def().has_number_list()
}

/// Builds the request of `verb` on the created task `task_id`, which is `from` at its vendor.
pub fn build_verb(
    vendor: Vendor,
    verb: Verb,
    task_id: &str,
    from: Lifecycle,
    cx: &Context,
) -> Result<Request, BuildError> {
    vendor.def().build_verb(verb, task_id, from, cx)
}

/// Builds the request that updates the created task `task_id` to `task`'s spec in place.
pub fn build_update(
    task: &Task,
    task_id: &str,
    cx: &Context,
) -> Result<Option<Request>, BuildError> {
    task.spec.def().build_update(task, task_id, cx)
}

/// Reads the vendor's (complete) answer to a create: [`Op::Create`]'s classification.
pub fn parse(vendor: Vendor, status: u16, body: &[u8]) -> Parsed {
    Op::Create.classify(vendor, status, body, false, None)
}

/// The request as `{method, url, headers, body}` with every secret replaced by `***`: what
/// the golden files hold. With `mask_phones`, phone numbers are masked too, as
/// `plan --show-requests` shows it. Query values are shown unencoded, for reading.
pub fn display(request: &Request, endpoint: &str, mask_phones: bool) -> serde_json::Value {
    let mask = |s: &str| {
        let mut out = s.to_string();
        for secret in request.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "***");
        }
        if mask_phones {
            // Callee values (names…) first, longest first, then numbers.
            let mut values: Vec<&String> =
                request.redact.iter().filter(|v| !v.is_empty()).collect();
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
            for value in values {
                out = out.replace(value.as_str(), "***");
            }
            out = crate::phone::mask_phones_in_text(&out);
        }
        out
    };
    let query: Vec<String> = request
        .query
        .iter()
        .map(|(k, v)| format!("{k}={}", mask(v)))
        .collect();
    let url = if query.is_empty() {
        format!("{endpoint}{}", request.path)
    } else {
        format!("{endpoint}{}?{}", request.path, query.join("&"))
    };
    let headers: Vec<serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| serde_json::json!([k, mask(v)]))
        .collect();
    let body =
        request
            .body
            .as_ref()
            .map(|b| match serde_json::from_slice::<serde_json::Value>(b) {
                Ok(v) => mask_strings(v, &mask),
                Err(_) => serde_json::Value::String(mask(&String::from_utf8_lossy(b))),
            });
    let mut shown = serde_json::json!({"method": request.method, "url": mask(&url), "headers": headers, "body": body});
    let signature = match &request.signing {
        Signing::None => None,
        Signing::Aliyun {
            action, version, ..
        } => {
            // The action is no parameter but a signed header: shown, or two RPC calls
            // with the same query would look alike.
            shown["action"] = serde_json::Value::String(format!("{action} {version}"));
            Some("ACS3-HMAC-SHA256 over host and the x-acs-* headers, added when sent")
        }
        Signing::Volcengine { .. } => Some(
            "HMAC-SHA256 over content-type, host, x-content-sha256 and x-date, added when sent",
        ),
    };
    if let Some(sig) = signature {
        shown["signature"] = serde_json::Value::String(sig.to_string());
    }
    shown
}

/// `value` with `mask` applied to every string in it (keys kept), so that masking never
/// touches its numbers or breaks its shape.
fn mask_strings(value: serde_json::Value, mask: &dyn Fn(&str) -> String) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(mask(&s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| mask_strings(v, mask)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (mask(&k), mask_strings(v, mask)))
                .collect(),
        ),
        other => other,
    }
}

/// A required credential, or an error naming the field (never a value).
pub fn need<'a>(
    value: &'a Option<String>,
    field: &str,
    vendor: Vendor,
) -> Result<&'a str, BuildError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| BuildError(format!("the {vendor} provider has no `{field}`: set it in callform.yaml as \"${{ENV_VAR}}\" and export the variable")))
}

/// The shortest secret callform accepts. Every secret is scrubbed from messages whatever
/// its length; one of one to three characters would be found in ordinary text (a secret
/// `a` scrubbed from "invalid parameter" leaves nothing readable), and no vendor issues
/// secrets that short (their tokens and keys are 16 characters and more), so such a value
/// is a configuration mistake, refused before anything is sent.
pub const MIN_SECRET_CHARS: usize = 4;

/// A required secret credential: as [`need`], and at least [`MIN_SECRET_CHARS`] long.
pub fn need_secret<'a>(
    value: &'a Option<String>,
    field: &str,
    vendor: Vendor,
) -> Result<&'a str, BuildError> {
    let v = need(value, field, vendor)?;
    let n = v.chars().count();
    if n < MIN_SECRET_CHARS {
        return Err(BuildError(format!("the {vendor} provider's `{field}` is {n} character(s) long, shorter than any real {vendor} credential (at least {MIN_SECRET_CHARS} required): check the variable it is read from")));
    }
    Ok(v)
}

// Wire pieces the four drivers share: times, JSON bodies, ids and codes as text, and the
// reading of answers that are not in the vendor's shape.

/// The instant a manifest date-time names in the project timezone. A wall-clock time the
/// zone skips (a daylight-saving gap) is refused rather than moved: a task that dials
/// people starts when its manifest says or not at all. A repeated hour takes the earlier
/// instant, as `LocalDateTime::instant` does.
pub(crate) fn instant(
    t: &LocalDateTime,
    cx: &Context,
    field: &str,
) -> Result<Timestamp, BuildError> {
    let zoned = cx.timezone.to_ambiguous_zoned(t.0);
    if matches!(zoned.offset(), AmbiguousOffset::Gap { .. }) {
        let zone = cx.timezone.iana_name().unwrap_or("the project timezone");
        return Err(BuildError(format!(
            "`{field}` {t} does not exist in {zone} (the clocks skip it): write a time that does"
        )));
    }
    zoned
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| BuildError(format!("`{field}` {t}: {e}")))
}

/// The Beijing wall-clock time (`Asia/Shanghai`, what the vendors' servers assume) of a
/// manifest date-time written in the project timezone.
pub(crate) fn beijing(
    t: &LocalDateTime,
    cx: &Context,
    field: &str,
) -> Result<DateTime, BuildError> {
    let shanghai = TimeZone::get("Asia/Shanghai")
        .map_err(|e| BuildError(format!("no Asia/Shanghai timezone: {e}")))?;
    Ok(instant(t, cx, field)?.to_zoned(shanghai).datetime())
}

/// `Content-Type: application/json`, exactly: the Volcengine signature covers it byte for byte.
pub(crate) fn json_content_type() -> (String, String) {
    ("Content-Type".into(), "application/json".into())
}

pub(crate) fn json_body<T: Serialize>(body: &T) -> Result<Vec<u8>, BuildError> {
    serde_json::to_vec(body).map_err(|e| BuildError(format!("cannot write the request body: {e}")))
}

/// An id or code that a vendor may send as a string or as an integer, as text. Empty
/// strings are no id, and neither is a fraction or an integer too large for serde_json to
/// hold exactly (it arrives as a float): its digits may already be lost.
pub(crate) fn text(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// Whether an id field is there at all, whatever its JSON type: anything but `null` and a
/// blank string. An id that [`text`] cannot read (a fraction, a number too large, an
/// object) is still a sign that the vendor created something.
pub(crate) fn present(value: Option<&serde_json::Value>) -> bool {
    match value {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// Every number and value of a batch's rows, for [`Request::redact`]: what the transport
/// scrubs from every message and excerpt of the answer.
pub(crate) fn redact_rows(rows: &[crate::manifest::callees::Row]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .flat_map(|r| std::iter::once(&r.phone).chain(&r.values))
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A batch a driver may send: 1 to `max` rows (the vendor's limit a call), each with one
/// value per column. Validation and the scheduler make sure of it; a driver checks again
/// rather than send what its vendor refuses or misreads.
pub(crate) fn check_batch(
    task: &Task,
    columns: &[String],
    rows: &[crate::manifest::callees::Row],
    max: usize,
) -> Result<(), BuildError> {
    if rows.is_empty() || rows.len() > max {
        return Err(BuildError(format!(
            "task `{}`: a batch of {} rows (1 to {max} a request)",
            task.name,
            rows.len()
        )));
    }
    if let Some(i) = rows.iter().position(|r| r.values.len() != columns.len()) {
        return Err(BuildError(format!(
            "task `{}`: row {} of the batch has {} values for {} columns",
            task.name,
            i + 1,
            rows[i].values.len(),
            columns.len()
        )));
    }
    Ok(())
}

/// Most warnings one answer adds to the state for the rows a vendor refused \[choice\]:
/// a batch of 10,000 may come back with 10,000 refusals, and a state that grows with the
/// callees breaks its promise (it grows with the batches). The first ones show what went
/// wrong; the count says how much.
pub const MAX_ROW_WARNINGS: usize = 20;

/// A vendor message as it may be shown and stored: phone numbers masked.
pub(crate) fn message(value: Option<&serde_json::Value>) -> String {
    crate::phone::mask_phones_in_text(value.and_then(serde_json::Value::as_str).unwrap_or(""))
}

pub(crate) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The start of an answer's body for a message: one line, phone numbers masked, at most
/// 200 characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".into();
    }
    // Masked before it is cut, so that a number cut in two cannot slip through unmasked.
    let masked = crate::phone::mask_phones_in_text(&line);
    let mut cut: String = masked.chars().take(MAX).collect();
    if masked.chars().count() > MAX {
        cut.push('…');
    }
    cut
}
