//! Parameter checks shared by the four vendor validators: a strict walker over JSON
//! objects (types, required keys, unknown keys), the wire formats of dates, daily
//! windows and phone numbers, and a strict query-string decoder.
//!
//! Strictness is the point: a JSON integer is never accepted as a string or a float, a
//! `null` is never "absent", and an unknown key is an error that names the key (with the
//! nearest known spelling, so `turbo_mode` points at xfyeta's `trubo_mode`). The vendor
//! modules turn a [`ParamError`] into their own error shape; the parameter is always
//! named, with its path for nested values (`task_extras.line[0].limit`).

use axum::http::HeaderMap;
use jiff::civil::DateTime;
use serde_json::{Map, Value};
use std::fmt;

/// What is wrong with a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Missing,
    Invalid,
    Unknown,
}

/// A refused parameter: its wire path, what is wrong, and (rarely) a vendor code that
/// overrides the vendor's generic one, such as Volcengine's `SelectNumberOverLimit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamError {
    pub problem: Problem,
    pub param: String,
    pub reason: String,
    pub code: Option<&'static str>,
}

impl ParamError {
    pub(crate) fn missing(param: impl Into<String>) -> ParamError {
        ParamError {
            problem: Problem::Missing,
            param: param.into(),
            reason: "is required".to_string(),
            code: None,
        }
    }

    pub(crate) fn invalid(param: impl Into<String>, reason: impl Into<String>) -> ParamError {
        ParamError {
            problem: Problem::Invalid,
            param: param.into(),
            reason: reason.into(),
            code: None,
        }
    }

    pub(crate) fn unknown(param: impl Into<String>, known: &[&str]) -> ParamError {
        let param = param.into();
        let leaf = param.rsplit('.').next().unwrap_or(&param);
        let nearest = known
            .iter()
            .map(|k| (strsim::levenshtein(leaf, k), *k))
            .filter(|(d, k)| *d <= 2 || k.eq_ignore_ascii_case(leaf))
            .min();
        let reason = match nearest {
            Some((_, k)) => format!("is not a parameter of this API (did you mean {k}?)"),
            None => "is not a parameter of this API".to_string(),
        };
        ParamError {
            problem: Problem::Unknown,
            param,
            reason,
            code: None,
        }
    }

    pub(crate) fn with_code(mut self, code: &'static str) -> ParamError {
        self.code = Some(code);
        self
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.param, self.reason)
    }
}

pub(crate) type Checked<T> = Result<T, ParamError>;

/// A JSON object being validated, with the wire path that names its members in errors.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// The request body, which must be a JSON object.
    pub(crate) fn body(value: &'a Value) -> Checked<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            _ => Err(ParamError::invalid("body", "must be a JSON object")),
        }
    }

    /// A nested value at `path`, which must be a JSON object.
    pub(crate) fn at(value: &'a Value, path: String) -> Checked<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(ParamError::invalid(
                path,
                format!("must be a JSON object, not {}", kind(other)),
            )),
        }
    }

    /// The wire path of member `key`.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Refuses every member not in `known`.
    pub(crate) fn allow_only(&self, known: &[&str]) -> Checked<()> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(ParamError::unknown(self.path(key), known)),
            None => Ok(()),
        }
    }

    /// A member that is present; `null` counts as present and wrong, because these
    /// vendors treat a sent key as a value ("传了则必填").
    fn get(&self, key: &str) -> Checked<Option<&'a Value>> {
        match self.map.get(key) {
            Some(Value::Null) => Err(ParamError::invalid(self.path(key), "must not be null")),
            other => Ok(other),
        }
    }

    fn require(&self, key: &str) -> Checked<&'a Value> {
        self.get(key)?
            .ok_or_else(|| ParamError::missing(self.path(key)))
    }

    pub(crate) fn opt_str(&self, key: &str) -> Checked<Option<&'a str>> {
        self.get(key)?
            .map(|v| string(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn req_str(&self, key: &str) -> Checked<&'a str> {
        string(self.require(key)?, &self.path(key))
    }

    /// A required string with at least one non-blank character.
    pub(crate) fn req_text(&self, key: &str) -> Checked<&'a str> {
        let s = self.req_str(key)?;
        non_blank(s, &self.path(key))
    }

    pub(crate) fn opt_text(&self, key: &str) -> Checked<Option<&'a str>> {
        self.opt_str(key)?
            .map(|s| non_blank(s, &self.path(key)))
            .transpose()
    }

    pub(crate) fn opt_int(&self, key: &str) -> Checked<Option<i64>> {
        self.get(key)?
            .map(|v| integer(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn req_int(&self, key: &str) -> Checked<i64> {
        integer(self.require(key)?, &self.path(key))
    }

    /// An optional integer within `lo..=hi`.
    pub(crate) fn opt_int_in(&self, key: &str, lo: i64, hi: i64) -> Checked<Option<i64>> {
        self.opt_int(key)?
            .map(|n| in_range(n, lo, hi, &self.path(key)))
            .transpose()
    }

    pub(crate) fn req_int_in(&self, key: &str, lo: i64, hi: i64) -> Checked<i64> {
        in_range(self.req_int(key)?, lo, hi, &self.path(key))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Checked<Option<bool>> {
        self.get(key)?
            .map(|v| boolean(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn req_bool(&self, key: &str) -> Checked<bool> {
        boolean(self.require(key)?, &self.path(key))
    }

    pub(crate) fn opt_array(&self, key: &str) -> Checked<Option<&'a Vec<Value>>> {
        self.get(key)?
            .map(|v| array(v, &self.path(key)))
            .transpose()
    }

    pub(crate) fn req_array(&self, key: &str) -> Checked<&'a Vec<Value>> {
        array(self.require(key)?, &self.path(key))
    }

    pub(crate) fn opt_obj(&self, key: &str) -> Checked<Option<Obj<'a>>> {
        self.get(key)?
            .map(|v| Obj::at(v, self.path(key)))
            .transpose()
    }

    pub(crate) fn req_obj(&self, key: &str) -> Checked<Obj<'a>> {
        Obj::at(self.require(key)?, self.path(key))
    }

    /// A raw required member, for values whose type the caller checks itself.
    pub(crate) fn req_value(&self, key: &str) -> Checked<&'a Value> {
        self.require(key)
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn string<'a>(v: &'a Value, path: &str) -> Checked<&'a str> {
    v.as_str()
        .ok_or_else(|| ParamError::invalid(path, format!("must be a JSON string, not {}", kind(v))))
}

pub(crate) fn non_blank<'a>(s: &'a str, path: &str) -> Checked<&'a str> {
    if s.trim().is_empty() {
        Err(ParamError::invalid(path, "must not be empty"))
    } else {
        Ok(s)
    }
}

/// A JSON integer that fits i64. Serde keeps integers exact (no f64 on the way), so ids
/// above 2^53 survive; `5.0` and `"5"` are refused.
pub(crate) fn integer(v: &Value, path: &str) -> Checked<i64> {
    match v {
        Value::Number(n) if !n.is_f64() => n
            .as_i64()
            .ok_or_else(|| ParamError::invalid(path, "is out of the 64-bit integer range")),
        _ => Err(ParamError::invalid(
            path,
            format!("must be a JSON integer, not {}", kind(v)),
        )),
    }
}

pub(crate) fn in_range(n: i64, lo: i64, hi: i64, path: &str) -> Checked<i64> {
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else if hi == i64::MAX {
        Err(ParamError::invalid(
            path,
            format!("must be at least {lo}, got {n}"),
        ))
    } else {
        Err(ParamError::invalid(
            path,
            format!("must be between {lo} and {hi}, got {n}"),
        ))
    }
}

pub(crate) fn boolean(v: &Value, path: &str) -> Checked<bool> {
    v.as_bool().ok_or_else(|| {
        ParamError::invalid(path, format!("must be a JSON boolean, not {}", kind(v)))
    })
}

pub(crate) fn array<'a>(v: &'a Value, path: &str) -> Checked<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| ParamError::invalid(path, format!("must be a JSON array, not {}", kind(v))))
}

/// `YYYY-MM-DD hh:mm:ss`, the wall-clock format of longlonglong and Volcengine.
pub(crate) const DATE_TIME: &str = "YYYY-MM-DD hh:mm:ss";
/// `YYYY-MM-DD hh:mm`, longlonglong's holiday bounds.
pub(crate) const DATE_TIME_MINUTES: &str = "YYYY-MM-DD hh:mm";
/// Aliyun's `x-acs-date`.
pub(crate) const ACS_DATE: &str = "YYYY-MM-DDThh:mm:ssZ";
/// Volcengine's `X-Date`.
pub(crate) const X_DATE: &str = "YYYYMMDDThhmmssZ";

/// A signing date header (`x-acs-date`, `X-Date`) as the instant it names, in UTC.
pub(crate) fn utc_instant(s: &str, layout: &str) -> Option<jiff::Timestamp> {
    civil(s, layout).and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
}

/// Parses `s` against `layout`, where `YYYY MM DD hh mm ss` stand for exactly that many
/// digits and every other character must appear as is. Leniency here (one-digit months,
/// a `T` instead of a space) would hide a driver that formats dates wrongly.
pub(crate) fn civil(s: &str, layout: &str) -> Option<DateTime> {
    if s.len() != layout.len() || !s.is_ascii() {
        return None;
    }
    let mut fields = [0u32; 6]; // Y M D h m s
    for (c, l) in s.bytes().zip(layout.bytes()) {
        let slot = match l {
            b'Y' => 0,
            b'M' => 1,
            b'D' => 2,
            b'h' => 3,
            b'm' => 4,
            b's' => 5,
            literal if c == literal => continue,
            _ => return None,
        };
        if !c.is_ascii_digit() {
            return None;
        }
        fields[slot] = fields[slot] * 10 + u32::from(c - b'0');
    }
    let small = |slot: usize| i8::try_from(fields[slot]).ok();
    DateTime::new(
        i16::try_from(fields[0]).ok()?,
        small(1)?,
        small(2)?,
        small(3)?,
        small(4)?,
        small(5)?,
        0,
    )
    .ok()
}

/// Seconds since midnight of `hh:mm:ss`.
pub(crate) fn clock_hms(s: &str) -> Option<u32> {
    let t = civil(&format!("2000-01-01 {s}"), DATE_TIME)?;
    Some(
        u32::try_from(t.hour()).ok()? * 3600
            + u32::try_from(t.minute()).ok()? * 60
            + u32::try_from(t.second()).ok()?,
    )
}

/// Minutes since midnight of `hh:mm`.
pub(crate) fn clock_hm(s: &str) -> Option<u32> {
    clock_hms(&format!("{s}:00")).map(|secs| secs / 60)
}

/// A daily window `begin-end` with begin < end, each parsed by `clock`.
pub(crate) fn window(
    s: &str,
    path: &str,
    format: &str,
    clock: fn(&str) -> Option<u32>,
) -> Checked<(u32, u32)> {
    let bad = || ParamError::invalid(path, format!("must be a daily window {format}, got {s:?}"));
    let (begin, end) = s.split_once('-').ok_or_else(bad)?;
    let (begin, end) = (clock(begin).ok_or_else(bad)?, clock(end).ok_or_else(bad)?);
    if begin >= end {
        return Err(ParamError::invalid(
            path,
            format!("{s:?} does not begin before it ends"),
        ));
    }
    Ok((begin, end))
}

/// A required wall-clock date-time in `layout`.
pub(crate) fn date_time(s: &str, path: &str, layout: &str) -> Checked<DateTime> {
    civil(s, layout).ok_or_else(|| {
        ParamError::invalid(path, format!("must be a date-time {layout}, got {s:?}"))
    })
}

/// A mainland number after normalisation: mobile `1[3-9]` + 9 digits, or a fixed line
/// `0` + 9 to 11 digits. Callers send the normalised form, so `+86`, spaces and dashes
/// are refused here rather than cleaned.
pub(crate) fn is_mainland_number(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match b {
        [b'1', second, ..] => b.len() == 11 && (b'3'..=b'9').contains(second),
        [b'0', ..] => (10..=12).contains(&b.len()),
        _ => false,
    }
}

/// A mainland mobile number: `1[3-9]` and 9 more digits.
pub(crate) fn is_mobile_number(s: &str) -> bool {
    s.starts_with('1') && is_mainland_number(s)
}

/// An absolute `https://` URL with a host.
pub(crate) fn is_https_url(s: &str) -> bool {
    match reqwest::Url::parse(s) {
        Ok(url) => {
            url.scheme() == "https"
                && url.host_str().is_some_and(|h| !h.is_empty())
                && !s.contains(char::is_whitespace)
        }
        Err(_) => false,
    }
}

/// The body of a request that must be JSON: its Content-Type says so and it parses.
pub(crate) fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ParamError> {
    let content_type = header(headers, "content-type").ok().flatten();
    if !is_json_content_type(content_type) {
        return Err(ParamError::invalid(
            "Content-Type",
            "must be application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ParamError::invalid("body", format!("is not JSON: {e}")))
}

/// Whether a Content-Type value is JSON (`application/json`, parameters allowed).
pub(crate) fn is_json_content_type(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The one value of header `name`: `Ok(None)` when absent; an error when sent twice
/// (which value would be signed?) or not UTF-8.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("header {name} is sent more than once"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| format!("header {name} is not visible ASCII"))
}

/// Decodes a raw query string into (name, value) pairs, strictly: every piece must be
/// `name=value`, escapes must be valid `%XX` of UTF-8, and a raw `+` is refused because
/// servers disagree on whether it means a space or a plus (send `%20` or `%2B`).
pub(crate) fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    raw.split('&')
        .map(|piece| {
            let (name, value) = piece
                .split_once('=')
                .ok_or_else(|| format!("query piece {piece:?} is not name=value"))?;
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{s:?} has a malformed %-escape"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                return Err(format!(
                    "{s:?} has a raw '+': send %2B for a plus or %20 for a space"
                ))
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_are_strict() {
        assert_eq!(integer(&json!(5), "p"), Ok(5));
        assert_eq!(integer(&json!(-5), "p"), Ok(-5));
        assert_eq!(
            integer(&json!(9_007_199_254_740_993_i64), "p"),
            Ok(9_007_199_254_740_993)
        );
        assert!(integer(&json!(5.0), "p").is_err());
        assert!(integer(&json!("5"), "p")
            .unwrap_err()
            .reason
            .contains("not a string"));
        assert!(integer(&json!(u64::MAX), "p").is_err());
    }

    #[test]
    fn obj_reports_paths_missing_null_and_unknown() {
        let v = json!({"a": {"b": null, "trubo_mode": 1}});
        let root = Obj::body(&v).unwrap();
        let a = root.req_obj("a").unwrap();
        assert_eq!(a.opt_int("b").unwrap_err().param, "a.b");
        assert_eq!(a.req_str("c").unwrap_err(), ParamError::missing("a.c"));
        let unknown = a.allow_only(&["b", "turbo_mode"]).unwrap_err();
        assert_eq!(unknown.problem, Problem::Unknown);
        assert_eq!(unknown.param, "a.trubo_mode");
        assert!(unknown.reason.contains("did you mean turbo_mode?"));
        assert!(Obj::body(&json!([])).is_err());
    }

    #[test]
    fn civil_layouts_are_exact() {
        assert!(civil("2026-12-01 09:00:00", DATE_TIME).is_some());
        assert!(civil("2026-12-1 09:00:00", DATE_TIME).is_none());
        assert!(civil("2026/12/01 09:00:00", DATE_TIME).is_none());
        assert!(civil("2026-02-30 09:00:00", DATE_TIME).is_none());
        assert!(civil("2026-12-01 24:00:00", DATE_TIME).is_none());
        assert!(civil("2026-12-01T09:00:00", DATE_TIME).is_none());
        assert!(civil("2026-12-01 09:00", DATE_TIME_MINUTES).is_some());
        assert!(civil("2026-11-21T08:00:00Z", ACS_DATE).is_some());
        assert!(civil("20261121T080000Z", X_DATE).is_some());
        assert!(civil("２026-12-01 09:00:00", DATE_TIME).is_none());
    }

    #[test]
    fn clocks_and_windows() {
        assert_eq!(clock_hms("09:30:15"), Some(9 * 3600 + 30 * 60 + 15));
        assert_eq!(clock_hms("9:30:15"), None);
        assert_eq!(clock_hm("23:59"), Some(23 * 60 + 59));
        assert_eq!(clock_hm("24:00"), None);
        assert_eq!(
            window("09:00-12:00", "p", "HH:MM-HH:MM", clock_hm),
            Ok((540, 720))
        );
        assert!(window("12:00-09:00", "p", "HH:MM-HH:MM", clock_hm).is_err());
        assert!(window("09:00-09:00", "p", "HH:MM-HH:MM", clock_hm).is_err());
        assert!(window("09:00~12:00", "p", "HH:MM-HH:MM", clock_hm).is_err());
    }

    #[test]
    fn mainland_numbers() {
        assert!(is_mainland_number("13700000000"));
        assert!(is_mainland_number("055169101407"));
        assert!(is_mainland_number("0105555666"));
        assert!(!is_mainland_number("12700000000"));
        assert!(!is_mainland_number("1370000000"));
        assert!(!is_mainland_number("+8613700000000"));
        assert!(!is_mainland_number("137 0000 0000"));
        assert!(!is_mainland_number("010555566"));
        assert!(!is_mainland_number(""));
    }

    #[test]
    fn https_urls() {
        assert!(is_https_url("https://abc.com"));
        assert!(is_https_url("https://abc.com/cb?x=1"));
        assert!(!is_https_url("http://abc.com"));
        assert!(!is_https_url("abc.com"));
        assert!(!is_https_url("https://"));
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "application/json; charset=UTF-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn query_decoding_is_strict() {
        assert_eq!(
            query_pairs("a=1&TaskName=%E7%BB%AD%20x&e=").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("TaskName".into(), "续 x".into()),
                ("e".into(), "".into())
            ]
        );
        assert_eq!(query_pairs("").unwrap(), vec![]);
        assert!(query_pairs("a=1+2").is_err());
        assert!(query_pairs("a=%zz").is_err());
        assert!(query_pairs("a=%ff").is_err());
        assert!(query_pairs("a").is_err());
        assert!(query_pairs("a=1&&b=2").is_err());
    }
}
