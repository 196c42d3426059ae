//! Signature verification for the two signing vendors, as `vendor-docs/signing.md`
//! ("Verifying") asks: the canonical request is rebuilt from the headers the client
//! lists in `SignedHeaders` (not from a fixed list, so any correct client passes), the
//! date may be at most 15 minutes from the emulator's clock, the declared body hash must
//! be the body's, an Aliyun nonce may be used once, and signatures are compared in
//! constant time.
//!
//! A minimum set of headers must be signed all the same (host, date, body hash, and for
//! Aliyun the nonce and every `x-acs-*` header): an unsigned one could be changed in
//! flight, which is exactly what signing is meant to prevent.
//!
//! Failures carry the vendor's own code and HTTP status (Aliyun's POP gateway codes,
//! Volcengine's public error codes with their `CodeN`); the vendor modules put them in
//! their response shape.

use super::credentials::Credentials;
use super::params::{header, utc_instant, ACS_DATE, X_DATE};
use super::server::locked;
use crate::sign;
use axum::http::{HeaderMap, StatusCode};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The largest accepted distance between a request's date and the emulator's clock.
pub(crate) const MAX_SKEW: SignedDuration = SignedDuration::from_mins(15);

/// A refused signature, in the vendor's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthError {
    pub status: StatusCode,
    pub code: &'static str,
    /// Volcengine's numeric code, when its public table gives one.
    pub code_n: Option<u32>,
    pub message: String,
}

fn refuse(
    status: StatusCode,
    code: &'static str,
    code_n: Option<u32>,
    message: impl Into<String>,
) -> AuthError {
    AuthError {
        status,
        code,
        code_n,
        message: message.into(),
    }
}

/// What a verifier needs of a request.
pub(crate) struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Aliyun nonces already used, remembered long enough that a replay cannot outlive
/// them: a request is accepted only within 15 minutes of its date, so 30 minutes after
/// first use no replay of it can pass the date check any more.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    seen: HashMap<String, Instant>,
    prune_at: usize,
}

impl NonceCache {
    const REMEMBER: Duration = Duration::from_secs(30 * 60);

    /// True the first time `nonce` is seen (within the remembered window).
    pub(crate) fn first_use(&mut self, nonce: &str, now: Instant) -> bool {
        if self.seen.len() >= self.prune_at {
            self.seen
                .retain(|_, t| now.duration_since(*t) < Self::REMEMBER);
            self.prune_at = (self.seen.len() * 2).max(1024);
        }
        match self.seen.get(nonce) {
            Some(t) if now.duration_since(*t) < Self::REMEMBER => false,
            _ => {
                self.seen.insert(nonce.to_string(), now);
                true
            }
        }
    }
}

const ALIYUN_MUST_SIGN: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// Verifies an Aliyun ACS3-HMAC-SHA256 request and uses up its nonce.
pub(crate) fn aliyun(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    nonces: &std::sync::Mutex<NonceCache>,
    now: Timestamp,
) -> Result<(), AuthError> {
    let incomplete = |detail: String| {
        refuse(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            None,
            format!("The request signature does not conform to Aliyun standards: {detail}."),
        )
    };
    let authorization = header(req.headers, "authorization")
        .map_err(incomplete)?
        .ok_or_else(|| incomplete("no Authorization header".into()))?;
    let parsed = sign::parse_authorization(authorization).map_err(|e| incomplete(e.to_string()))?;
    if parsed.algorithm != sign::ALIYUN_ALGORITHM {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidSignatureMethod",
            None,
            format!(
                "Specified signature method is not valid: expected {}.",
                sign::ALIYUN_ALGORITHM
            ),
        ));
    }
    if parsed.credential != creds.aliyun_access_key_id {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            None,
            "Specified access key is not found.",
        ));
    }

    let bad_date = |detail: &str| {
        refuse(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            None,
            format!("Specified time stamp or date value is not well formatted: {detail}."),
        )
    };
    let date = header(req.headers, "x-acs-date")
        .map_err(|e| bad_date(&e))?
        .ok_or_else(|| bad_date("x-acs-date is missing"))?;
    let date = utc_instant(date, ACS_DATE)
        .ok_or_else(|| bad_date("x-acs-date must look like 2026-11-21T08:00:00Z"))?;
    if !within_skew(date, now) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            None,
            "Specified time stamp or date value is expired (more than 15 minutes from the server's clock).",
        ));
    }

    let declared = header(req.headers, "x-acs-content-sha256")
        .map_err(incomplete)?
        .ok_or_else(|| incomplete("x-acs-content-sha256 is missing".into()))?;
    if declared != sign::sha256_hex(req.body) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            None,
            "Specified signature is not matched with our calculation: x-acs-content-sha256 is not the SHA-256 of the body.",
        ));
    }

    let unsigned_acs = req.headers.keys().map(|name| name.as_str()).find(|name| {
        name.starts_with("x-acs-") && !parsed.signed_headers.iter().any(|s| s == name)
    });
    if let Some(name) = unsigned_acs {
        return Err(incomplete(format!("header {name} is sent but not signed")));
    }
    let signed = signed_header_values(&parsed.signed_headers, req.headers, &ALIYUN_MUST_SIGN)
        .map_err(incomplete)?;

    let nonce = header(req.headers, "x-acs-signature-nonce")
        .map_err(incomplete)?
        .unwrap_or_default();
    if nonce.trim().is_empty() {
        return Err(incomplete("x-acs-signature-nonce is empty".into()));
    }

    let expected = sign::aliyun_signature(
        &creds.aliyun_access_key_secret,
        req.method,
        req.path,
        req.query,
        &signed,
        req.body,
    );
    if !sign::constant_time_eq(expected.signature.as_bytes(), parsed.signature.as_bytes()) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            None,
            "Specified signature is not matched with our calculation.",
        ));
    }

    // Only a correctly signed request uses up its nonce, so forged requests cannot
    // burn the nonces of genuine ones.
    let fresh = locked(nonces).first_use(nonce, Instant::now());
    if !fresh {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            None,
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

const VOLCENGINE_MUST_SIGN: [&str; 3] = ["host", "x-content-sha256", "x-date"];

/// Verifies a Volcengine HMAC-SHA256 request for service `vms`; returns the region of
/// its credential scope (any region is accepted, as the real endpoint serves several).
pub(crate) fn volcengine(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    now: Timestamp,
) -> Result<String, AuthError> {
    let mismatch = |detail: String| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "SignatureDoesNotMatch",
            Some(100010),
            format!(
                "The request signature we calculated does not match the signature you provided. \
                 Check your Secret Access Key and signing method. ({detail})"
            ),
        )
    };
    let missing_info = |what: &str| {
        refuse(
            StatusCode::BAD_REQUEST,
            "MissingRequestInfo",
            Some(100004),
            format!("The request is missing {what} information."),
        )
    };
    let malformed = |detail: String| {
        refuse(
            StatusCode::BAD_REQUEST,
            "InvalidAuthorization",
            None,
            format!("The Authorization header is malformed: {detail}."),
        )
    };
    let authorization = header(req.headers, "authorization")
        .map_err(malformed)?
        .ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "MissingAuthenticationToken",
                Some(100003),
                "Request is missing Authentication Token.",
            )
        })?;
    let parsed = sign::parse_authorization(authorization).map_err(|e| malformed(e.to_string()))?;
    if parsed.algorithm != sign::VOLCENGINE_ALGORITHM {
        return Err(malformed(format!(
            "the algorithm must be {}",
            sign::VOLCENGINE_ALGORITHM
        )));
    }
    let scope: Vec<&str> = parsed.credential.split('/').collect();
    let [access_key, day, region, service, terminator] = scope[..] else {
        return Err(missing_info(
            "Credential (AccessKey/YYYYMMDD/region/service/request)",
        ));
    };
    if access_key != creds.volcengine_access_key {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "InvalidAccessKey",
            Some(100009),
            format!("The accesskey [{access_key}] included in the request is invalid."),
        ));
    }
    if service != "vms" {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "ServiceNotFound",
            Some(100007),
            format!("This service[{service}] not found."),
        ));
    }
    if terminator != "request"
        || region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(missing_info(
            "Credential (AccessKey/YYYYMMDD/region/service/request)",
        ));
    }

    let expired = |detail: &str| {
        refuse(
            StatusCode::BAD_REQUEST,
            "InvalidTimestamp",
            Some(100006),
            format!("The Signature of the request is expired: {detail}."),
        )
    };
    let x_date = header(req.headers, "x-date")
        .map_err(|e| expired(&e))?
        .ok_or_else(|| missing_info("X-Date"))?;
    let date = utc_instant(x_date, X_DATE)
        .ok_or_else(|| expired("X-Date must look like 20261121T080000Z"))?;
    if !within_skew(date, now) {
        return Err(expired(
            "X-Date is more than 15 minutes from the server's clock",
        ));
    }
    if x_date.get(..8) != Some(day) {
        return Err(mismatch(format!(
            "the credential scope's date {day} is not X-Date's day"
        )));
    }

    let declared = header(req.headers, "x-content-sha256")
        .map_err(mismatch)?
        .ok_or_else(|| missing_info("X-Content-Sha256"))?;
    if declared != sign::sha256_hex(req.body) {
        return Err(mismatch(
            "X-Content-Sha256 is not the SHA-256 of the body".into(),
        ));
    }
    let signed = signed_header_values(&parsed.signed_headers, req.headers, &VOLCENGINE_MUST_SIGN)
        .map_err(mismatch)?;

    let expected = sign::volcengine_signature(
        &creds.volcengine_secret_key,
        region,
        service,
        req.method,
        req.path,
        req.query,
        &signed,
        req.body,
    );
    if !sign::constant_time_eq(expected.signature.as_bytes(), parsed.signature.as_bytes()) {
        return Err(mismatch("signature".into()));
    }
    Ok(region.to_string())
}

fn within_skew(date: Timestamp, now: Timestamp) -> bool {
    now.duration_since(date).abs() <= MAX_SKEW
}

/// The (name, value) pairs of the headers listed in `SignedHeaders`, which must be
/// lowercase, sorted, without repeats, include `must_sign`, and all be present once.
fn signed_header_values(
    listed: &[String],
    headers: &HeaderMap,
    must_sign: &[&str],
) -> Result<Vec<(String, String)>, String> {
    if listed
        .iter()
        .any(|name| name.is_empty() || *name != name.to_ascii_lowercase())
    {
        return Err("SignedHeaders must list lowercase header names".into());
    }
    if listed.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err("SignedHeaders must be sorted, without repeats".into());
    }
    if let Some(name) = must_sign
        .iter()
        .find(|name| !listed.iter().any(|l| l == *name))
    {
        return Err(format!("header {name} must be signed"));
    }
    listed
        .iter()
        .map(|name| {
            let value = header(headers, name)?
                .ok_or_else(|| format!("signed header {name} is not sent"))?;
            Ok((name.clone(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::sync::Mutex;

    const NOW: &str = "2026-11-21T08:05:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn aliyun_request(creds: &Credentials, date: &str, nonce: &str, body: &[u8]) -> HeaderMap {
        let query = vec![("DialogId".to_string(), "1".to_string())];
        let mut pairs = vec![
            ("host".to_string(), "127.0.0.1:1".to_string()),
            ("x-acs-action".to_string(), "CreateRobotTask".to_string()),
            ("x-acs-version".to_string(), "2017-05-25".to_string()),
            ("x-acs-date".to_string(), date.to_string()),
            ("x-acs-signature-nonce".to_string(), nonce.to_string()),
            ("x-acs-content-sha256".to_string(), sign::sha256_hex(body)),
        ];
        let auth = sign::aliyun_authorization(
            &creds.aliyun_access_key_id,
            &creds.aliyun_access_key_secret,
            "POST",
            "/",
            &query,
            &pairs,
            body,
        );
        pairs.push(("authorization".into(), auth));
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        headers(&borrowed)
    }

    fn check_aliyun(
        h: &HeaderMap,
        body: &[u8],
        nonces: &Mutex<NonceCache>,
    ) -> Result<(), AuthError> {
        let query = vec![("DialogId".to_string(), "1".to_string())];
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: &query,
            headers: h,
            body,
        };
        aliyun(&req, &Credentials::sandbox(), nonces, now())
    }

    #[test]
    fn aliyun_accepts_a_good_request_once() {
        let creds = Credentials::sandbox();
        let nonces = Mutex::new(NonceCache::default());
        let h = aliyun_request(&creds, "2026-11-21T08:00:00Z", "n-1", b"");
        assert_eq!(check_aliyun(&h, b"", &nonces), Ok(()));
        assert_eq!(
            check_aliyun(&h, b"", &nonces).unwrap_err().code,
            "SignatureNonceUsed"
        );
    }

    #[test]
    fn aliyun_refuses_skew_body_and_secret_mistakes() {
        let creds = Credentials::sandbox();
        let nonces = Mutex::new(NonceCache::default());
        let old = aliyun_request(&creds, "2026-11-21T07:49:59Z", "n-2", b"");
        assert_eq!(
            check_aliyun(&old, b"", &nonces).unwrap_err().code,
            "InvalidTimeStamp.Expired"
        );
        let edge = aliyun_request(&creds, "2026-11-21T07:50:00Z", "n-3", b"");
        assert_eq!(check_aliyun(&edge, b"", &nonces), Ok(()));
        let body = aliyun_request(&creds, "2026-11-21T08:00:00Z", "n-4", b"");
        let err = check_aliyun(&body, b"x", &nonces).unwrap_err();
        assert!(err.message.contains("x-acs-content-sha256"), "{err:?}");
        let wrong = Credentials {
            aliyun_access_key_secret: "other".into(),
            ..Credentials::sandbox()
        };
        let forged = aliyun_request(&wrong, "2026-11-21T08:00:00Z", "n-5", b"");
        assert_eq!(
            check_aliyun(&forged, b"", &nonces).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
        // The forged request did not use up its nonce.
        let genuine = aliyun_request(&creds, "2026-11-21T08:00:00Z", "n-5", b"");
        assert_eq!(check_aliyun(&genuine, b"", &nonces), Ok(()));
        let other_key = Credentials {
            aliyun_access_key_id: "LTAIother".into(),
            ..Credentials::sandbox()
        };
        let unknown = aliyun_request(&other_key, "2026-11-21T08:00:00Z", "n-6", b"");
        let err = check_aliyun(&unknown, b"", &nonces).unwrap_err();
        assert_eq!(
            (err.code, err.status),
            ("InvalidAccessKeyId.NotFound", StatusCode::NOT_FOUND)
        );
    }

    #[test]
    fn aliyun_requires_x_acs_headers_to_be_signed() {
        let creds = Credentials::sandbox();
        let nonces = Mutex::new(NonceCache::default());
        let mut h = aliyun_request(&creds, "2026-11-21T08:00:00Z", "n-7", b"");
        h.insert("x-acs-extra", HeaderValue::from_static("1"));
        let err = check_aliyun(&h, b"", &nonces).unwrap_err();
        assert_eq!(err.code, "IncompleteSignature");
        assert!(err.message.contains("x-acs-extra"));
    }

    #[test]
    fn signed_headers_must_be_sorted_lowercase_and_complete() {
        let h = headers(&[("host", "h"), ("x-date", "d"), ("x-content-sha256", "c")]);
        let list = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(signed_header_values(
            &list(&["host", "x-content-sha256", "x-date"]),
            &h,
            &VOLCENGINE_MUST_SIGN
        )
        .is_ok());
        assert!(signed_header_values(
            &list(&["x-date", "host", "x-content-sha256"]),
            &h,
            &VOLCENGINE_MUST_SIGN
        )
        .is_err());
        assert!(signed_header_values(
            &list(&["Host", "x-content-sha256", "x-date"]),
            &h,
            &VOLCENGINE_MUST_SIGN
        )
        .is_err());
        assert!(
            signed_header_values(&list(&["host", "x-date"]), &h, &VOLCENGINE_MUST_SIGN).is_err()
        );
        let err = signed_header_values(
            &list(&["content-type", "host", "x-content-sha256", "x-date"]),
            &h,
            &[],
        )
        .unwrap_err();
        assert!(err.contains("content-type"));
    }

    fn volcengine_headers(
        creds: &Credentials,
        region: &str,
        x_date: &str,
        body: &[u8],
    ) -> HeaderMap {
        let query = vec![
            ("Action".to_string(), "CreateTask".to_string()),
            ("Version".to_string(), "2022-01-01".to_string()),
        ];
        let mut pairs = vec![
            ("Host".to_string(), "127.0.0.1:1".to_string()),
            ("X-Date".to_string(), x_date.to_string()),
            ("X-Content-Sha256".to_string(), sign::sha256_hex(body)),
        ];
        let auth = sign::volcengine_authorization(
            &creds.volcengine_access_key,
            &creds.volcengine_secret_key,
            region,
            "vms",
            "POST",
            "/",
            &query,
            &pairs,
            body,
        );
        pairs.push(("Authorization".into(), auth));
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        headers(&borrowed)
    }

    fn check_volcengine(h: &HeaderMap, body: &[u8]) -> Result<String, AuthError> {
        let query = vec![
            ("Action".to_string(), "CreateTask".to_string()),
            ("Version".to_string(), "2022-01-01".to_string()),
        ];
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: &query,
            headers: h,
            body,
        };
        volcengine(&req, &Credentials::sandbox(), now())
    }

    #[test]
    fn volcengine_accepts_any_region_and_refuses_mistakes() {
        let creds = Credentials::sandbox();
        let good = volcengine_headers(&creds, "cn-beijing", "20261121T080000Z", b"{}");
        assert_eq!(check_volcengine(&good, b"{}"), Ok("cn-beijing".to_string()));
        assert_eq!(
            check_volcengine(&good, b"{ }").unwrap_err().code,
            "SignatureDoesNotMatch"
        );
        let skewed = volcengine_headers(&creds, "cn-north-1", "20261121T074959Z", b"{}");
        assert_eq!(
            check_volcengine(&skewed, b"{}").unwrap_err().code,
            "InvalidTimestamp"
        );
        let wrong = Credentials {
            volcengine_secret_key: "x".into(),
            ..Credentials::sandbox()
        };
        let forged = volcengine_headers(&wrong, "cn-north-1", "20261121T080000Z", b"{}");
        assert_eq!(
            check_volcengine(&forged, b"{}").unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let mut missing = good.clone();
        missing.remove("authorization");
        assert_eq!(
            check_volcengine(&missing, b"{}").unwrap_err().code,
            "MissingAuthenticationToken"
        );
    }

    #[test]
    fn nonces_are_forgotten_only_after_the_replay_window() {
        let mut cache = NonceCache::default();
        let t0 = Instant::now();
        assert!(cache.first_use("a", t0));
        assert!(!cache.first_use("a", t0 + Duration::from_secs(29 * 60)));
        assert!(cache.first_use("a", t0 + Duration::from_secs(31 * 60)));
    }
}
