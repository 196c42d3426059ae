//! Request signers for the two vendors that sign requests: Aliyun (signature V3,
//! `ACS3-HMAC-SHA256`) and Volcengine (`HMAC-SHA256`), and the pieces a verifier needs.
//!
//! Everything here is pure: no clock, no randomness, no I/O. The caller supplies the date
//! and nonce headers, so the same inputs always give the same Authorization value, which
//! is what `tests/data/signing-vectors.json` (computed by the vendors' own SDKs) checks.
//!
//! Both schemes are canonical-request schemes of the AWS SigV4 family; see
//! `vendor-docs/signing.md`. The one layout difference that matters on the wire: Aliyun
//! separates the Authorization parts with a bare `,`, Volcengine with `, `.
//!
//! The emulator verifies with the same functions it would sign with: it rebuilds the
//! canonical request from the headers the client lists in `SignedHeaders` and compares
//! the signatures with [`constant_time_eq`].

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Algorithm name at the head of an Aliyun V3 Authorization value.
pub const ALIYUN_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Algorithm name at the head of a Volcengine Authorization value.
pub const VOLCENGINE_ALGORITHM: &str = "HMAC-SHA256";
/// `sha256_hex(b"")`: the content hash of a request without a body (Aliyun RPC style).
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

/// RFC 3986 percent-encoding: unreserved A-Z a-z 0-9 - _ . ~ kept, every other UTF-8 byte %XX uppercase.
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Lowercase hex of the SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Aliyun's canonical query string: names and values encoded, sorted by encoded name
/// (then value), `name=value` joined by `&`.
///
/// Sorting happens after encoding, as the signature V3 page says; for the ASCII
/// parameter names these APIs use, it is the same order as sorting the raw names.
pub fn aliyun_canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Aliyun ACS3-HMAC-SHA256 (RPC style). `query`: API params (unencoded name,value). `headers`: the headers to sign
/// (any case; they are lowercased and sorted). Returns the full Authorization header value.
pub fn aliyun_authorization(
    access_key_id: &str,
    access_key_secret: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> String {
    let signed = aliyun_signature(access_key_secret, method, path, query, headers, body);
    format!(
        "{ALIYUN_ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={}",
        signed.signed_headers, signed.signature
    )
}

/// Volcengine HMAC-SHA256. `x_date` like 20261121T080000Z. Returns the full Authorization header value.
///
/// The date is taken from the `X-Date` header among `headers` (any case), which must
/// therefore be there: it is both signed and the source of the credential scope's day.
#[allow(clippy::too_many_arguments)] // the signature named in the design, kept as is
pub fn volcengine_authorization(
    access_key: &str,
    secret_key: &str,
    region: &str,
    service: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> String {
    let signed = volcengine_signature(
        secret_key, region, service, method, path, query, headers, body,
    );
    format!(
        "{VOLCENGINE_ALGORITHM} Credential={access_key}/{}, SignedHeaders={}, Signature={}",
        signed.credential_scope, signed.signed_headers, signed.signature
    )
}

/// The computed parts of an Authorization value, for a verifier to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Volcengine only (`YYYYMMDD/region/service/request`); empty for Aliyun.
    pub credential_scope: String,
    /// Lowercase header names, sorted, `;`-joined.
    pub signed_headers: String,
    /// Lowercase hex HMAC.
    pub signature: String,
}

/// The Aliyun V3 signature of a request (see [`aliyun_authorization`]).
pub fn aliyun_signature(
    access_key_secret: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Signature {
    let (canonical_request, signed_headers) = canonical_request(method, path, query, headers, body);
    let string_to_sign = format!(
        "{ALIYUN_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signature = hex(&hmac(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    Signature {
        credential_scope: String::new(),
        signed_headers,
        signature,
    }
}

/// The Volcengine signature of a request (see [`volcengine_authorization`]).
#[allow(clippy::too_many_arguments)] // mirrors volcengine_authorization
pub fn volcengine_signature(
    secret_key: &str,
    region: &str,
    service: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Signature {
    let x_date = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-date"))
        .map(|(_, value)| value.trim())
        .unwrap_or_default();
    // The scope's day is the first 8 characters of X-Date (UTC), never a local date.
    let day = x_date.get(..8).unwrap_or(x_date);
    let credential_scope = format!("{day}/{region}/{service}/request");
    let (canonical_request, signed_headers) = canonical_request(method, path, query, headers, body);
    let string_to_sign = format!(
        "{VOLCENGINE_ALGORITHM}\n{x_date}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(secret_key.as_bytes(), day.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    Signature {
        credential_scope,
        signed_headers,
        signature,
    }
}

/// The canonical request both schemes hash, and its `SignedHeaders`:
/// `METHOD \n path \n query \n CanonicalHeaders \n SignedHeaders \n HexEncode(Hash(body))`.
/// (Volcengine's query is canonicalised exactly as Aliyun's.)
fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> (String, String) {
    let (canonical_headers, signed_headers) = canonical_headers(headers);
    let request = [
        method,
        path,
        &aliyun_canonical_query(query),
        &canonical_headers,
        &signed_headers,
        &sha256_hex(body),
    ]
    .join("\n");
    (request, signed_headers)
}

/// `CanonicalHeaders` and `SignedHeaders` of both schemes: lowercase names, sorted,
/// values trimmed. The canonical block ends with `\n` after its last header; joined to
/// the rest of the canonical request with another `\n`, that leaves the empty line the
/// vendors' SDKs produce.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    lowered.sort();
    let canonical = lowered
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect::<String>();
    let signed = lowered
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

/// An Authorization value taken apart: `ALGORITHM Credential=…,SignedHeaders=…,Signature=…`
/// (Aliyun) or the same with `, ` separators (Volcengine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    pub algorithm: String,
    pub credential: String,
    /// As sent: the names in the client's order and case.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why an Authorization value could not be taken apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationParseError {
    #[error("the Authorization value has no algorithm followed by a space")]
    NoAlgorithm,
    #[error("the Authorization part {0:?} is not name=value")]
    NotAPair(String),
    #[error("the Authorization part {0} appears twice")]
    Duplicate(String),
    #[error("the Authorization part {0} is not one of Credential, SignedHeaders, Signature")]
    Unknown(String),
    #[error("the Authorization value lacks {0}")]
    Missing(&'static str),
}

/// Splits an Authorization value into its parts, accepting `,` or `, ` between them.
pub fn parse_authorization(value: &str) -> Result<ParsedAuthorization, AuthorizationParseError> {
    let (algorithm, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthorizationParseError::NoAlgorithm)?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        let (name, val) = part
            .split_once('=')
            .ok_or_else(|| AuthorizationParseError::NotAPair(part.to_string()))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => return Err(AuthorizationParseError::Unknown(other.to_string())),
        };
        if slot.replace(val.to_string()).is_some() {
            return Err(AuthorizationParseError::Duplicate(name.to_string()));
        }
    }
    let signed_headers: String =
        signed_headers.ok_or(AuthorizationParseError::Missing("SignedHeaders"))?;
    Ok(ParsedAuthorization {
        algorithm: algorithm.to_string(),
        credential: credential.ok_or(AuthorizationParseError::Missing("Credential"))?,
        signed_headers: signed_headers.split(';').map(str::to_string).collect(),
        signature: signature.ok_or(AuthorizationParseError::Missing("Signature"))?,
    })
}

/// Compares two byte strings in time that depends only on their lengths, so that a
/// verifier does not tell an attacker how many leading characters of a forged signature
/// were right. (The lengths of signatures are public.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC's own key preparation (RFC 2104): a key longer than the block is hashed, and
    // the key is zero-padded to the block. Doing it here gives the fixed-size key that
    // `KeyInit::new` takes, so there is no `Result` for an impossible length error.
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(percent_encode("a b*+/,"), "a%20b%2A%2B%2F%2C");
        assert_eq!(percent_encode("续"), "%E7%BB%AD");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn sha256_of_empty_body() {
        assert_eq!(sha256_hex(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn canonical_query_encodes_names_and_sorts() {
        let q = pairs(&[("TaskName", "a b"), ("Caller", "1,2"), ("A*", "x")]);
        assert_eq!(
            aliyun_canonical_query(&q),
            "A%2A=x&Caller=1%2C2&TaskName=a%20b"
        );
        assert_eq!(aliyun_canonical_query(&[]), "");
    }

    #[test]
    fn canonical_headers_leave_an_empty_line_before_signed_headers() {
        let (canonical, signed) = canonical_headers(&pairs(&[("X-B", " 2 "), ("host", "h")]));
        assert_eq!(canonical, "host:h\nx-b:2\n");
        assert_eq!(signed, "host;x-b");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2_and_long_keys() {
        // RFC 4231 test case 2.
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 4231 test case 6: a 131-byte key, hashed first.
        assert_eq!(
            hex(&hmac(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn parse_authorization_accepts_both_separators() {
        let aliyun = parse_authorization(
            "ACS3-HMAC-SHA256 Credential=K,SignedHeaders=host;x-acs-date,Signature=ab",
        )
        .unwrap();
        assert_eq!(aliyun.algorithm, "ACS3-HMAC-SHA256");
        assert_eq!(aliyun.credential, "K");
        assert_eq!(aliyun.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(aliyun.signature, "ab");
        let volc = parse_authorization(
            "HMAC-SHA256 Credential=AK/20261121/cn-north-1/vms/request, SignedHeaders=host;x-date, Signature=cd",
        )
        .unwrap();
        assert_eq!(volc.credential, "AK/20261121/cn-north-1/vms/request");
        assert_eq!(volc.signature, "cd");
    }

    #[test]
    fn parse_authorization_refuses_malformed_values() {
        assert_eq!(
            parse_authorization("nothing"),
            Err(AuthorizationParseError::NoAlgorithm)
        );
        assert_eq!(
            parse_authorization("A Credential=x,SignedHeaders=h"),
            Err(AuthorizationParseError::Missing("Signature"))
        );
        assert_eq!(
            parse_authorization("A Credential=x,Credential=y,SignedHeaders=h,Signature=s"),
            Err(AuthorizationParseError::Duplicate("Credential".into()))
        );
        assert!(matches!(
            parse_authorization("A Credential=x,Extra=1,SignedHeaders=h,Signature=s"),
            Err(AuthorizationParseError::Unknown(_))
        ));
        assert!(matches!(
            parse_authorization("A Credential"),
            Err(AuthorizationParseError::NotAPair(_))
        ));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn signature_changes_with_every_signed_input() {
        let headers = pairs(&[("host", "h"), ("x-acs-date", "2026-11-21T08:00:00Z")]);
        let query = pairs(&[("DialogId", "1")]);
        let base = aliyun_authorization("id", "secret", "POST", "/", &query, &headers, b"");
        assert_ne!(
            base,
            aliyun_authorization("id", "secret2", "POST", "/", &query, &headers, b"")
        );
        assert_ne!(
            base,
            aliyun_authorization("id", "secret", "GET", "/", &query, &headers, b"")
        );
        assert_ne!(
            base,
            aliyun_authorization("id", "secret", "POST", "/", &[], &headers, b"")
        );
        assert_ne!(
            base,
            aliyun_authorization("id", "secret", "POST", "/", &query, &headers[..1], b"")
        );
        assert_ne!(
            base,
            aliyun_authorization("id", "secret", "POST", "/", &query, &headers, b"x")
        );
    }

    #[test]
    fn volcengine_scope_day_comes_from_x_date() {
        let headers = pairs(&[("Host", "h"), ("X-Date", "20261121T235959Z")]);
        let signed =
            volcengine_signature("s", "cn-north-1", "vms", "POST", "/", &[], &headers, b"{}");
        assert_eq!(signed.credential_scope, "20261121/cn-north-1/vms/request");
        assert_eq!(signed.signed_headers, "host;x-date");
        let auth = volcengine_authorization(
            "AK",
            "s",
            "cn-north-1",
            "vms",
            "POST",
            "/",
            &[],
            &headers,
            b"{}",
        );
        assert!(auth.starts_with("HMAC-SHA256 Credential=AK/20261121/cn-north-1/vms/request, SignedHeaders=host;x-date, Signature="));
    }
}
