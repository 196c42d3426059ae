//! Suppression lists (`suppression`): numbers that must not be called, from the files
//! `policy.suppress` names. A suppressed callee is removed from every task's callees
//! before any batch is built, so the plan's row counts, the batches' digests and what
//! is sent all leave it out; the plan counts it (`3 callees suppressed`) per task. At
//! `error` a suppressed callee in a task stops the plan instead.
//!
//! A file is one number a line (blank lines and `#` comments skipped), or, named
//! `*.csv`, a header naming `phone` and optionally `until` (`YYYY-MM-DD`: suppressed
//! through that date, in the policy's time zone; a date in the past means no longer
//! suppressed) and `reason` (read past, never kept); other columns are read past too.
//! Numbers are normalised as callee numbers are ([`crate::phone::normalize`]), so
//! `+86 137-0000-0001` suppresses `13700000001`.
//!
//! The files are read in one streaming pass each, and kept as one hash map of number (as
//! a `u64`, [`phone::number_key`]) to `until` (days): about 35 bytes a number, no string
//! per number, one memory access a lookup (a binary search of a million took ten). The numbers are
//! personal data: nothing here is printed, logged or stored but counts; the plan knows
//! of a changed file through its keyed digest (the file is among the manifests'
//! files, [`crate::manifest::SourceFile`]), never through the numbers.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use jiff::civil::Date;
use sha2::{Digest, Sha256};

use super::{ConfigSite, Field, RuleId, TaskFindings};
use crate::diag::Diagnostic;
use crate::manifest::callees::{open_regular, MAX_CALLEE_FILE_BYTES};
use crate::manifest::path::FieldPath;
use crate::phone;

/// `until` of a number suppressed for good.
const FOREVER: i32 = i32::MAX;

/// How many bad lines of one file are shown (all are counted).
const MAX_SHOWN: usize = 20;

/// The suppression lists in force: the files and the numbers they hold.
#[derive(Clone, PartialEq, Default)]
pub struct SuppressPolicy {
    /// The files, as callform.yaml names them joined to its directory, with the SHA-256
    /// of each (the plan keeps it keyed, for a stale saved plan).
    pub files: Vec<(PathBuf, [u8; 32])>,
    list: Arc<Numbers>,
}

/// Number → the last day (since the epoch) it is suppressed.
type Numbers = std::collections::HashMap<
    u64,
    i32,
    std::hash::BuildHasherDefault<crate::manifest::callees::NumberHasher>,
>;

/// Adds `key` suppressed through `until`, keeping a number's latest `until`.
fn add(list: &mut Numbers, key: u64, until: i32) {
    list.entry(key)
        .and_modify(|u| *u = (*u).max(until))
        .or_insert(until);
}

impl std::fmt::Debug for SuppressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The numbers are people's: the count only.
        f.debug_struct("SuppressPolicy")
            .field(
                "files",
                &self.files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("numbers", &self.list.len())
            .finish()
    }
}

impl SuppressPolicy {
    /// How many numbers the lists hold (each once).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether the number `key` ([`phone::number_key`]) is suppressed on `today`
    /// (days since the epoch).
    pub fn holds(&self, key: u64, today: i32) -> bool {
        self.list.get(&key).is_some_and(|&until| until >= today)
    }

    /// The rows of `keys` suppressed on `today`, ascending.
    pub fn rows(&self, keys: &[u64], today: i32) -> Vec<u32> {
        if self.list.is_empty() {
            return Vec::new();
        }
        keys.iter()
            .enumerate()
            .filter(|(_, k)| self.holds(**k, today))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The lists of `numbers` (tests and benchmarks): each suppressed for good.
    pub fn of_numbers<'a>(numbers: impl IntoIterator<Item = &'a str>) -> SuppressPolicy {
        let mut list = Numbers::default();
        for n in numbers {
            if let Ok((n, _)) = phone::normalize_in_place(n) {
                add(&mut list, phone::number_key(&n), FOREVER);
            }
        }
        SuppressPolicy {
            files: Vec::new(),
            list: Arc::new(list),
        }
    }
}

/// Adds the suppression lists to the manifests' files: a saved plan goes stale when one
/// changes (the plan keeps each file's digest keyed, never a number).
pub fn add_files(policy: &SuppressPolicy, files: &mut Vec<crate::manifest::SourceFile>) {
    if policy.files.is_empty() {
        return;
    }
    for (path, sha256) in &policy.files {
        files.push(crate::manifest::SourceFile {
            path: path.clone(),
            sha256: *sha256,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
}

/// Days since the epoch of `date`.
pub fn day_number(date: Date) -> i32 {
    let epoch = Date::constant(1970, 1, 1);
    (date - epoch).get_days()
}

/// `YYYY-MM-DD`, exactly.
fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    text.parse().ok()
}

/// Reads `policy.suppress` (files relative to callform.yaml's directory). A file that
/// cannot be read, or a line that is no number, is an error: a number the list meant
/// to suppress and callform could not read would be dialled.
pub fn resolve(
    files: Option<Vec<String>>,
    base: &FieldPath,
    site: &ConfigSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> SuppressPolicy {
    let mut out = SuppressPolicy::default();
    let mut list = Numbers::default();
    for (i, name) in files.unwrap_or_default().iter().enumerate() {
        let at = base.k("suppress").i(i);
        let path = site.dir.join(name);
        let shown = crate::project::pathdiff(&path);
        // Inside the project or an `input_dirs:` directory, as callee and holiday files.
        let mut outside: Option<String> = None;
        let result = match crate::manifest::callees::confine(&path, site.roots) {
            Ok(real) => read(&real, &shown, &mut list, diags),
            Err(why) => {
                outside = crate::error::Hint::hint(&why);
                Err(Diagnostic::error(&shown, why.to_string()))
            }
        };
        match result {
            Ok(sha) => out.files.push((shown, sha)),
            Err(d) => diags.push(
                Diagnostic {
                    message: format!("suppress: {name}: {}", d.message),
                    ..site.error(&at, String::new())
                }
                .expected("a file of numbers, one a line, or a CSV with a `phone` column (and optional `until`, `reason`), relative to callform.yaml, inside the project or an `input_dirs:` directory")
                .hint(outside.unwrap_or_else(|| "check the path; until it can be read, no plan is made (its numbers would be dialled)".into())),
            ),
        }
    }
    out.list = Arc::new(list);
    out
}

/// Reads one file into `list`, streaming; its bad lines go to `diags` (counted, the
/// first [`MAX_SHOWN`] shown, masked). The SHA-256 of its bytes comes back.
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn read(
    path: &std::path::Path,
    shown: &std::path::Path,
    list: &mut Numbers,
    diags: &mut Vec<Diagnostic>,
) -> Result<[u8; 32], Diagnostic> {
    let file = open_regular(path, shown, MAX_CALLEE_FILE_BYTES)?;
    let mut hashed = Hashing {
        inner: file,
        hash: Sha256::new(),
    };
    let mut bad = Bad {
        shown,
        count: 0,
        last: 0,
        diags,
    };
    let csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if csv {
        read_csv(&mut hashed, list, &mut bad)?;
    } else {
        read_lines(&mut hashed, list, &mut bad)?;
    }
    // Whatever a reader left unread is hashed too: the digest is of the whole file.
    std::io::copy(&mut hashed, &mut std::io::sink())
        .map_err(|e| Diagnostic::error(shown, format!("cannot read the file: {e}")))?;
    bad.finish();
    Ok(hashed.hash.finalize().into())
}

struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// The bad lines of one file.
struct Bad<'a> {
    shown: &'a std::path::Path,
    count: usize,
    last: usize,
    diags: &'a mut Vec<Diagnostic>,
}

impl Bad<'_> {
    fn push(&mut self, line: usize, message: String, expected: &str) {
        self.count += 1;
        if self.count > MAX_SHOWN {
            return;
        }
        self.last = line;
        self.diags.push(
            Diagnostic::error(self.shown, message)
                .at(line, 1, 1)
                .field("policy.suppress")
                .expected(expected)
                .hint("correct or remove the line: until it is read, no plan is made")
                .personal(),
        );
    }

    fn finish(&mut self) {
        if self.count > MAX_SHOWN {
            let more = self.count - MAX_SHOWN;
            self.diags.push(
                Diagnostic::error(
                    self.shown,
                    format!(
                        "and {more} more bad lines in this suppression list after line {} ({} in all; the first {MAX_SHOWN} are shown)",
                        self.last, self.count
                    ),
                )
                .at(self.last, 1, 1)
                .field("policy.suppress")
                .expected("every line a number")
                .hint("every line was checked; the rest are of the same kinds as those shown"),
            );
        }
    }
}

fn number(raw: &str) -> Result<u64, String> {
    phone::normalize_in_place(raw.trim())
        .map(|(n, _)| phone::number_key(&n))
        .map_err(|why| {
            format!(
                "invalid number {} in a suppression list: {why}",
                phone::shown_entry(raw)
            )
        })
}

// A diagnostic is made once per file, on the unhappy path.
#[allow(clippy::result_large_err)]
fn read_lines(
    file: &mut impl Read,
    list: &mut Numbers,
    bad: &mut Bad<'_>,
) -> Result<(), Diagnostic> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(64);
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Diagnostic::error(bad.shown, format!("cannot read the file: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let mut bytes = &buf[..];
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            bad.push(
                line,
                "a line of a suppression list is not UTF-8 text".into(),
                "one number a line",
            );
            continue;
        };
        let text = text.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        match number(text) {
            Ok(key) => add(list, key, FOREVER),
            Err(message) => bad.push(line, message, phone::EXPECTED_NUMBER),
        }
    }
}

// A diagnostic is made once per file, on the unhappy path.
#[allow(clippy::result_large_err)]
fn read_csv(file: &mut impl Read, list: &mut Numbers, bad: &mut Bad<'_>) -> Result<(), Diagnostic> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<(usize, Option<usize>)> = None;
    loop {
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad.push(
                    line.max(1),
                    format!("a suppression list that is no CSV: {}", csv_kind(&e)),
                    "a CSV with a header naming `phone`",
                );
                return Ok(());
            }
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |i: usize| {
            record
                .get(i)
                .map(|b| std::str::from_utf8(b).map(|s| s.trim_start_matches('\u{feff}')))
        };
        let Some((phone_at, until_at)) = header else {
            let names: Vec<String> = (0..record.len())
                .map(|i| match field(i) {
                    Some(Ok(s)) => s.trim().to_ascii_lowercase(),
                    _ => String::new(),
                })
                .collect();
            let Some(p) = names.iter().position(|n| n == "phone") else {
                bad.push(
                    line.max(1),
                    "the suppression list's header names no `phone` column".into(),
                    "a header row naming `phone`, and optionally `until` and `reason`",
                );
                return Ok(());
            };
            header = Some((p, names.iter().position(|n| n == "until")));
            continue;
        };
        let raw = match field(phone_at) {
            Some(Ok(s)) => s,
            Some(Err(_)) => {
                bad.push(
                    line,
                    "a number of a suppression list is not UTF-8 text".into(),
                    phone::EXPECTED_NUMBER,
                );
                continue;
            }
            None => {
                bad.push(
                    line,
                    "a row of a suppression list has no `phone` value".into(),
                    "every row with the header's columns",
                );
                continue;
            }
        };
        if raw.trim().is_empty() && record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let key = match number(raw) {
            Ok(key) => key,
            Err(message) => {
                bad.push(line, message, phone::EXPECTED_NUMBER);
                continue;
            }
        };
        let until = match until_at.and_then(field) {
            None => FOREVER,
            Some(Ok(s)) if s.trim().is_empty() => FOREVER,
            Some(Ok(s)) => match parse_date(s.trim()) {
                Some(d) => day_number(d),
                None => {
                    bad.push(
                        line,
                        "an `until` of a suppression list is no date".into(),
                        "`until` a date `YYYY-MM-DD` (suppressed through that day), or empty (for good)",
                    );
                    continue;
                }
            },
            Some(Err(_)) => {
                bad.push(
                    line,
                    "an `until` of a suppression list is not UTF-8 text".into(),
                    "a date `YYYY-MM-DD`",
                );
                continue;
            }
        };
        add(list, key, until);
    }
    Ok(())
}

/// What went wrong in a CSV, without the text it was reading.
fn csv_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(e) => format!("cannot read the file: {e}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        _ => "malformed CSV (an unclosed quote?)".into(),
    }
}

/// The task's finding: how many of its callees the lists suppress (`rows`, from
/// [`SuppressPolicy::rows`]).
pub(crate) fn check(found: &mut TaskFindings<'_>, rows: usize) {
    if rows == 0 || !found.on(RuleId::Suppression) {
        return;
    }
    let total = found.task.callees.as_ref().map_or(0, |c| c.len());
    let blocks = found.policy.level(RuleId::Suppression) == super::Level::Error;
    let field = Field {
        path: "callees".into(),
        line: 0,
    };
    let s = if rows == 1 { "" } else { "s" };
    let f = found.push(
        RuleId::Suppression,
        &field,
        if blocks {
            format!("{rows} callee{s} suppressed (of {total}): a suppression list names them")
        } else {
            format!("{rows} callee{s} suppressed (of {total}): removed before any is sent")
        },
    );
    f.count = rows as u64;
    f.expected = Some("no callee a suppression list names".into());
    f.hint = Some(if blocks {
        "remove them from the callee list (the policy sets `suppression: error`), or set it to `warn` to have callform leave them out".into()
    } else {
        "nothing to do: they are left out of every batch; remove them from the list to quiet this"
            .into()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(name: &str, text: &str) -> (SuppressPolicy, Vec<Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
        let root = crate::manifest::yaml::parse("policy: {}\n").unwrap();
        let roots = vec![dir.path().canonicalize().unwrap()];
        let site = ConfigSite {
            file: std::path::Path::new("callform.yaml"),
            root: &root[0].root,
            dir: dir.path(),
            roots: &roots,
        };
        let mut diags = Vec::new();
        let p = resolve(
            Some(vec![name.to_string()]),
            &FieldPath::root().k("policy"),
            &site,
            &mut diags,
        );
        (p, diags)
    }

    fn key(n: &str) -> u64 {
        phone::number_key(n)
    }

    #[test]
    fn lines_are_normalised_as_callees_are() {
        let (p, diags) = read_text(
            "dnc.txt",
            "\u{feff}# refusals\n+86 137-0000-0001\n\n0086 13700000002 # asked\n010 1234 5678\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(p.len(), 3);
        assert!(p.holds(key("13700000001"), 0));
        assert!(p.holds(key("13700000002"), 0));
        assert!(p.holds(key("01012345678"), 0));
        assert!(!p.holds(key("13700000003"), 0));
        assert_eq!(p.files.len(), 1);
    }

    #[test]
    fn a_csv_until_in_the_past_no_longer_suppresses() {
        let (p, diags) = read_text(
            "dnc.csv",
            "reason,Phone,until\nasked,13700000001,2026-12-01\nasked,13700000002,\nx,13700000003,2026-12-01\nx,13700000003,2027-01-01\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let dec1 = day_number(Date::constant(2026, 12, 1));
        assert!(p.holds(key("13700000001"), dec1));
        assert!(!p.holds(key("13700000001"), dec1 + 1));
        assert!(p.holds(key("13700000002"), dec1 + 10_000));
        // Listed twice: the later `until` holds.
        assert!(p.holds(key("13700000003"), dec1 + 1));
        assert_eq!(
            p.rows(&[key("13700000009"), key("13700000002")], dec1),
            vec![1]
        );
    }

    #[test]
    fn a_bad_line_is_an_error_that_shows_the_number_masked() {
        let (_, diags) = read_text("dnc.txt", "13700000001\n1370000000299\nnot a number\n");
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags.iter().all(|d| d.is_error()));
        assert_eq!(diags[0].line, 2);
        assert!(
            !diags[0].message.contains("1370000000299"),
            "{}",
            diags[0].message
        );
        assert!(!diags[1].message.contains("not a number"));
    }

    #[test]
    fn a_csv_without_phone_and_a_bad_until_are_errors() {
        let (_, diags) = read_text("dnc.csv", "number\n13700000001\n");
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("`phone`"));
        let (_, diags) = read_text("dnc.csv", "phone,until\n13700000001,soon\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].line, 2);
    }

    #[test]
    fn a_missing_file_is_an_error_at_its_entry() {
        let root = crate::manifest::yaml::parse("policy:\n  suppress: [gone.txt]\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let roots = vec![dir.path().canonicalize().unwrap()];
        let site = ConfigSite {
            file: std::path::Path::new("callform.yaml"),
            root: &root[0].root,
            dir: dir.path(),
            roots: &roots,
        };
        let mut diags = Vec::new();
        resolve(
            Some(vec!["gone.txt".into()]),
            &FieldPath::root().k("policy"),
            &site,
            &mut diags,
        );
        assert_eq!(diags.len(), 1);
        assert!(diags[0].is_error());
        assert_eq!(diags[0].line, 2);
    }

    #[test]
    fn debug_shows_counts_only() {
        let p = SuppressPolicy::of_numbers(["13700000001"]);
        let text = format!("{p:?}");
        assert!(!text.contains("13700000001") && !text.contains(&key("13700000001").to_string()));
    }
}
