//! The one transport: signs, sends, times out and retries — for every driver.
//!
//! The rule that keeps customers from being called twice: a request is retried only as
//! its operation's [`RetryPolicy`] allows (`driver::Op`). A create is retried only when
//! nothing can have been created: a failure before the connection was made (DNS,
//! connection refused, TLS: nothing was written), or an answer the operation classifies as
//! a throttling rejection — decided after the body was read (up to [`MAX_ANSWER_BYTES`]),
//! so an answer that carries any sign of success is never sent again. A timeout, a reset,
//! a 5xx or any uncertain answer is final. Every attempt is signed afresh (new date, and
//! for Aliyun a new nonce), as the vendors require.
//!
//! The same rule holds for every operation — a create, a callee batch, a start: each may
//! have dialled people, so none is sent again once it may have been written.
//!
//! Secrets never reach an error: reqwest errors carry the URL (xfyeta's token is in it),
//! so they are stripped of it, and every message is scrubbed of the request's secrets.
//! Nor do the callees a request carries: every number and value of its batch
//! (`Request::redact`) is scrubbed from every message, reason, warning and request id too,
//! so that a vendor echoing a name in its answer cannot leak it.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::driver::{ErrorClass, Op, Parsed, Request, RetryPolicy, Signing};
use crate::manifest::Vendor;
use crate::sign;

/// The most of an answer's body that is read. A vendor's answer to a create or a step is
/// small — a few hundred bytes — except Volcengine's `FailList` (of a create or a
/// `BatchAppend`), which can name each of up to 10,000 refused numbers in about 100 bytes:
/// 1 MB at worst (a test checks a 10,000-item list with long descriptions fits). 4 MiB leaves room for that four
/// times over while bounding what a broken or hostile endpoint can make callform hold
/// (an endless body once took 3.2 GB in 4 s). An answer cut at the cap is uncertain.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Reads at most `cap` bytes of the body; `true` when there was more.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// How long to wait, and how often to retry what is safe to retry.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_attempts: 5,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The vendor answered; the driver read the answer.
    Answered {
        parsed: Parsed,
        status: u16,
        attempts: u32,
    },
    /// No attempt reached the vendor (connection never made): nothing was created.
    NotSent { reason: String, attempts: u32 },
    /// The request may have reached the vendor but no answer was read: the task may exist.
    Uncertain { reason: String, attempts: u32 },
}

pub struct Transport {
    client: reqwest::Client,
    policy: Policy,
}

impl Transport {
    pub fn new(policy: Policy, loopback: bool) -> Result<Transport, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // An idle connection the vendor closes just as a create is written on it turns
            // that create uncertain; drop idle connections well before vendors do.
            .pool_idle_timeout(Duration::from_secs(10))
            .user_agent(concat!("callform/", env!("CARGO_PKG_VERSION")));
        if loopback {
            // The emulator is on this machine: never route it through a proxy.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {}", e.without_url()))?;
        Ok(Transport { client, policy })
    }

    /// Sends `request` for `op` to `base_url` (scheme and authority, no trailing slash),
    /// retrying only what `op`'s [`RetryPolicy`] allows.
    /// A retry is not started once `cancel` is set (Ctrl-C): what was never sent is
    /// reported as not sent.
    pub async fn send(
        &self,
        op: Op,
        vendor: Vendor,
        request: &Request,
        base_url: &str,
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Delivery {
        let idempotent = op.retry_policy() == RetryPolicy::Idempotent;
        let mut attempt = 0;
        loop {
            if attempt > 0 && cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Delivery::NotSent {
                    reason: "stopped before a retry (the earlier attempts created nothing)".into(),
                    attempts: attempt,
                };
            }
            attempt += 1;
            let last = attempt >= self.policy.max_attempts;
            let prepared = match prepare(request, base_url) {
                Ok(p) => p,
                Err(reason) => {
                    return Delivery::NotSent {
                        reason,
                        attempts: attempt,
                    }
                }
            };
            let method = match reqwest::Method::from_bytes(request.method.as_bytes()) {
                Ok(m) => m,
                Err(_) => {
                    return Delivery::NotSent {
                        reason: format!("`{}` is no HTTP method", request.method),
                        attempts: attempt,
                    }
                }
            };
            let mut builder = self
                .client
                .request(method, &prepared.url)
                .headers(prepared.headers);
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            match builder.send().await {
                Err(e) => {
                    let reason = scrub(&describe(&e), request);
                    if (e.is_connect() || idempotent) && !last {
                        tokio::time::sleep(self.backoff(attempt, None)).await;
                        continue;
                    }
                    if e.is_connect() {
                        return Delivery::NotSent {
                            reason,
                            attempts: attempt,
                        };
                    }
                    return Delivery::Uncertain {
                        reason,
                        attempts: attempt,
                    };
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    // The body is read (up to the cap) before anything is decided: a 429
                    // whose body says the task was created must not be sent again.
                    let (body, truncated) = match read_capped(response, MAX_ANSWER_BYTES).await {
                        Ok(read) => read,
                        Err(e) => {
                            let reason = scrub(
                                &format!(
                                    "HTTP {status}, then the answer broke off: {}",
                                    describe(&e)
                                ),
                                request,
                            );
                            if idempotent && !last {
                                tokio::time::sleep(self.backoff(attempt, None)).await;
                                continue;
                            }
                            return Delivery::Uncertain {
                                reason,
                                attempts: attempt,
                            };
                        }
                    };
                    let parsed =
                        op.classify(vendor, status, &body, truncated, request.target.as_deref());
                    let again = match &parsed {
                        Parsed::Rejected {
                            class: ErrorClass::Throttled,
                            ..
                        } => true,
                        Parsed::Uncertain { .. } => idempotent,
                        _ => false,
                    };
                    if again && !last {
                        tokio::time::sleep(self.backoff(attempt, retry_after)).await;
                        continue;
                    }
                    return Delivery::Answered {
                        parsed: scrub_parsed(parsed, request),
                        status,
                        attempts: attempt,
                    };
                }
            }
        }
    }

    /// Exponential backoff with full jitter, or the vendor's Retry-After (capped).
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.policy.max_backoff);
        }
        let exp = self
            .policy
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let cap = exp.min(self.policy.max_backoff);
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        let frac = f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX);
        cap.mul_f64(0.5 + frac / 2.0)
    }
}

struct Prepared {
    url: String,
    headers: HeaderMap,
}

/// The URL and headers of one attempt, signed now.
fn prepare(request: &Request, base_url: &str) -> Result<Prepared, String> {
    let parsed = reqwest::Url::parse(base_url).map_err(|e| format!("invalid endpoint: {e}"))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err("the endpoint has no host".into()),
    };
    let query = request
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let url = if query.is_empty() {
        format!("{base_url}{}", request.path)
    } else {
        format!("{base_url}{}?{query}", request.path)
    };
    let body: &[u8] = request.body.as_deref().unwrap_or(&[]);
    let mut pairs: Vec<(String, String)> = request.headers.clone();
    match &request.signing {
        Signing::None => {}
        Signing::Aliyun {
            access_key_id,
            access_key_secret,
            action,
            version,
        } => {
            let mut nonce = [0u8; 16];
            getrandom::fill(&mut nonce)
                .map_err(|e| format!("no randomness for the signature nonce: {e}"))?;
            let signed = vec![
                ("host".to_string(), host.clone()),
                ("x-acs-action".to_string(), action.clone()),
                ("x-acs-version".to_string(), version.clone()),
                (
                    "x-acs-date".to_string(),
                    jiff::Timestamp::now()
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string(),
                ),
                (
                    "x-acs-signature-nonce".to_string(),
                    crate::canonical::hex(&nonce),
                ),
                ("x-acs-content-sha256".to_string(), sign::sha256_hex(body)),
            ];
            let auth = sign::aliyun_authorization(
                access_key_id,
                access_key_secret,
                request.method,
                &request.path,
                &request.query,
                &signed,
                body,
            );
            pairs.extend(signed.into_iter().filter(|(k, _)| k != "host"));
            pairs.push(("Authorization".to_string(), auth));
        }
        Signing::Volcengine {
            access_key,
            secret_key,
            region,
            service,
        } => {
            let content_type = request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "application/json".to_string());
            let signed = vec![
                ("Content-Type".to_string(), content_type),
                ("Host".to_string(), host.clone()),
                (
                    "X-Date".to_string(),
                    jiff::Timestamp::now()
                        .strftime("%Y%m%dT%H%M%SZ")
                        .to_string(),
                ),
                ("X-Content-Sha256".to_string(), sign::sha256_hex(body)),
            ];
            let auth = sign::volcengine_authorization(
                access_key,
                secret_key,
                region,
                service,
                request.method,
                &request.path,
                &request.query,
                &signed,
                body,
            );
            pairs.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            pairs.extend(signed.into_iter().filter(|(k, _)| k != "Host"));
            pairs.push(("Authorization".to_string(), auth));
        }
    }
    let mut headers = HeaderMap::new();
    for (k, v) in pairs {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("invalid header name {k}"))?;
        // The value may be a secret: do not echo it.
        let value = HeaderValue::from_str(&v)
            .map_err(|_| format!("header {k} has a value that cannot be sent"))?;
        headers.insert(name, value);
    }
    Ok(Prepared { url, headers })
}

/// A reqwest error without its URL (which can hold a token), with its causes.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Replaces every secret of `request` in `text`, whatever its length, every callee
/// number and value it carries ([`Request::redact`]), and masks phone numbers. (Drivers
/// refuse secrets shorter than `driver::MIN_SECRET_CHARS` before a request is built, so a
/// short secret cannot turn every message into asterisks; were one to get here anyway, an
/// unreadable message is better than a leaked secret. A short callee value — a one-digit
/// variable — may likewise blot out digits of a message: the price of never showing one.)
pub fn scrub(text: &str, request: &Request) -> String {
    Scrubber::new(request).scrub(text)
}

/// What [`scrub`] replaces, prepared once for all the texts of one answer: a batch of
/// 10,000 rows has tens of thousands of values, and its answer up to 10,000 warnings.
struct Scrubber<'r> {
    secrets: &'r [String],
    /// Every redacted value in each form a vendor may echo it: as sent, percent-encoded
    /// (a query), and JSON-escaped (`\u5f20`).
    values: HashSet<String>,
    /// The byte lengths of `values`, longest first (the longest match wins).
    lengths: Vec<usize>,
}

impl<'r> Scrubber<'r> {
    fn new(request: &'r Request) -> Scrubber<'r> {
        let mut values = HashSet::new();
        for v in request.redact.iter().filter(|v| !v.is_empty()) {
            values.insert(sign::percent_encode(v));
            values.insert(json_escaped(v));
            values.insert(v.clone());
        }
        let mut lengths: Vec<usize> = values.iter().map(String::len).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Scrubber {
            secrets: &request.secrets,
            values,
            lengths,
        }
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "***");
            out = out.replace(&sign::percent_encode(secret), "***");
        }
        if !self.values.is_empty() {
            out = self.redact(&out);
        }
        crate::phone::mask_phones_in_text(&out)
    }

    /// One pass over `text`: at each character, the longest value that starts there is
    /// replaced by `***`.
    fn redact(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'chars: while i < text.len() {
            for &len in &self.lengths {
                let end = i + len;
                if end <= text.len()
                    && text.is_char_boundary(end)
                    && self.values.contains(&text[i..end])
                {
                    out.push_str("***");
                    i = end;
                    continue 'chars;
                }
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            out.push(c);
            i += c.len_utf8();
        }
        out
    }
}

/// `value` as a JSON encoder that escapes every non-ASCII character writes it.
fn json_escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// Every text of an answer that callform prints or stores passes the scrubber: the
/// messages and reasons, and also a created task's request id and warnings (Volcengine's
/// `FailList`), which go into state. The task id does not: it is the record's key, and a
/// vendor's id is never a secret of the request.
fn scrub_parsed(parsed: Parsed, request: &Request) -> Parsed {
    let scrubber = Scrubber::new(request);
    let scrub = |text: &str, _: &Request| scrubber.scrub(text);
    let scrub_id = |id: Option<String>| id.map(|id| scrubber.scrub(&id));
    match parsed {
        Parsed::Rejected {
            class,
            code,
            message,
            request_id,
        } => Parsed::Rejected {
            class,
            code: scrub(&code, request),
            message: scrub(&message, request),
            request_id: scrub_id(request_id),
        },
        Parsed::Uncertain { reason, request_id } => Parsed::Uncertain {
            reason: scrub(&reason, request),
            request_id: scrub_id(request_id),
        },
        Parsed::Done {
            request_id,
            warnings,
        } => Parsed::Done {
            request_id: scrub_id(request_id),
            warnings: warnings.iter().map(|w| scrub(w, request)).collect(),
        },
        Parsed::Created {
            task_id,
            request_id,
            warnings,
        } => Parsed::Created {
            task_id,
            request_id: scrub_id(request_id),
            warnings: warnings.iter().map(|w| scrub(w, request)).collect(),
        },
        // A listing carries ids, statuses and the names callform gave its tasks, never a
        // value of the request: the drivers keep callee data out of `Observed`.
        Parsed::Read {
            listing,
            request_id,
        } => Parsed::Read {
            listing,
            request_id: scrub_id(request_id),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(secrets: &[&str]) -> Request {
        Request {
            method: "POST",
            path: "/".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            signing: Signing::None,
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            redact: Vec::new(),
            target: None,
        }
    }

    #[test]
    fn every_secret_is_scrubbed_whatever_its_length() {
        let r = request(&["k9Z", "Xy", "long-secret-value"]);
        let out = scrub(
            "token=k9Z&sig=Xy, then long-secret-value and long%2Dsecret",
            &r,
        );
        assert!(!out.contains("k9Z") && !out.contains("Xy"), "{out}");
        assert!(!out.contains("long-secret-value"), "{out}");
        // Empty secrets are not "found" everywhere.
        assert_eq!(scrub("plain", &request(&[""])), "plain");
    }

    #[test]
    fn a_short_secret_is_refused_before_a_request_is_built() {
        let err =
            crate::driver::need_secret(&Some("abc".into()), "token", Vendor::Xfyeta).unwrap_err();
        assert!(
            err.0.contains("`token`") && err.0.contains("3 character(s)"),
            "{err}"
        );
        assert!(crate::driver::need_secret(&Some("abcd".into()), "token", Vendor::Xfyeta).is_ok());
    }
}
