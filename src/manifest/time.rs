//! Date-times and clock times as manifests write them.
//!
//! A manifest date-time is wall-clock time in the project timezone (`2026-12-01 09:00` or
//! `2026-12-01 09:00:00`); drivers convert it to what each vendor wants (Beijing wall-clock
//! strings, or absolute millisecond timestamps). Daily windows (`09:00-12:00`) are the
//! vendor's local time and are never converted.

use std::fmt;

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A civil date-time as written in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalDateTime(pub DateTime);

impl LocalDateTime {
    pub fn parse(text: &str) -> Option<LocalDateTime> {
        let (date, time) = text.trim().split_once(' ')?;
        // Exactly `YYYY-MM-DD`: a general ISO 8601 parser would also take `20261201` or
        // `2026-12-01[Asia/Tokyo]`, and silently drop the zone the user wrote.
        let b = date.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10
            || b[4] != b'-'
            || b[7] != b'-'
            || !digits(0..4)
            || !digits(5..7)
            || !digits(8..10)
        {
            return None;
        }
        let date: jiff::civil::Date = date.parse().ok()?;
        let time = parse_clock(time, ClockFormat::MinutesOrSeconds)?;
        Some(LocalDateTime(date.to_datetime(time)))
    }

    /// The instant this wall-clock time names in `tz`. Times that fall in a DST gap are
    /// moved forward, as clocks do (no mainland-China zone has DST today).
    pub fn instant(&self, tz: &TimeZone) -> Result<Timestamp, jiff::Error> {
        tz.to_ambiguous_zoned(self.0)
            .compatible()
            .map(|z| z.timestamp())
    }

    /// Wall-clock time in `to` of this time in `from`.
    pub fn convert(&self, from: &TimeZone, to: &TimeZone) -> Result<DateTime, jiff::Error> {
        Ok(self.instant(from)?.to_zoned(to.clone()).datetime())
    }

    pub fn has_seconds(&self) -> bool {
        self.0.second() != 0 || self.0.subsec_nanosecond() != 0
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%d %H:%M:%S"))
    }
}

impl<'de> Deserialize<'de> for LocalDateTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        LocalDateTime::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "not a date-time: expected `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS` in the project timezone",
            )
        })
    }
}

impl Serialize for LocalDateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for LocalDateTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LocalDateTime".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}(:\\d{2})?$",
            "description": "Wall-clock date-time in the project timezone: YYYY-MM-DD HH:MM[:SS]"
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockFormat {
    /// `HH:MM`
    Minutes,
    /// `HH:MM:SS`
    Seconds,
    /// either
    MinutesOrSeconds,
}

/// Parses a strict clock time: two-digit fields, 00:00 to 23:59(:59).
pub fn parse_clock(text: &str, format: ClockFormat) -> Option<Time> {
    let parts: Vec<&str> = text.split(':').collect();
    let ok_len = match format {
        ClockFormat::Minutes => parts.len() == 2,
        ClockFormat::Seconds => parts.len() == 3,
        ClockFormat::MinutesOrSeconds => matches!(parts.len(), 2 | 3),
    };
    if !ok_len
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n = |i: usize| parts.get(i).and_then(|p| p.parse::<i8>().ok()).unwrap_or(0);
    Time::new(n(0), n(1), n(2), 0).ok()
}

/// Parses a daily window `BEGIN-END`, returning (begin, end); `None` when malformed.
pub fn parse_window(text: &str, format: ClockFormat) -> Option<(Time, Time)> {
    let (a, b) = text.split_once('-')?;
    Some((
        parse_clock(a.trim(), format)?,
        parse_clock(b.trim(), format)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_manifest_date_times() {
        let t = LocalDateTime::parse("2026-12-01 09:00").unwrap();
        assert_eq!(t.to_string(), "2026-12-01 09:00:00");
        assert!(!t.has_seconds());
        assert!(LocalDateTime::parse("2026-12-01 09:00:30")
            .unwrap()
            .has_seconds());
        for bad in [
            "2026-12-01",
            "2026-13-01 09:00",
            "2026-12-01 24:00",
            "2026-12-01T09:00",
            "2026/12/01 09:00",
            "2026-12-01 9:00",
        ] {
            assert!(LocalDateTime::parse(bad).is_none(), "{bad}");
        }
        // Only the documented shape: no ISO 8601 variants, no zone annotation to drop.
        for bad in [
            "20261201 09:00",
            "2026-12-01[Asia/Tokyo] 09:00",
            "+002026-12-01 09:00",
            "2026-12-01  09:00",
        ] {
            assert!(LocalDateTime::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn converts_between_zones() {
        let t = LocalDateTime::parse("2026-12-01 09:00").unwrap();
        let utc = TimeZone::UTC;
        let sh = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(
            t.convert(&utc, &sh).unwrap().to_string(),
            "2026-12-01T17:00:00"
        );
        assert_eq!(t.instant(&sh).unwrap().as_millisecond(), 1_796_086_800_000);
    }

    #[test]
    fn windows() {
        let (a, b) = parse_window("09:00:00-12:00:00", ClockFormat::Seconds).unwrap();
        assert!(a < b);
        assert!(parse_window("09:00-12:00", ClockFormat::Seconds).is_none());
        assert!(parse_window("9:00-12:00", ClockFormat::Minutes).is_none());
    }
}
