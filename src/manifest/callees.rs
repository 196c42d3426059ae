//! Files of numbers to call, named by a manifest (`callees_file`, `phone_list_file`).
//!
//! Their problems are reported at their own file and line. The numbers are normalised here
//! and never leave this process in clear: messages show them masked.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::phone;
use crate::vendor::PhoneItem;

/// Most bytes callform reads from one manifest or callee file.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Where callform never reads an input from, whatever the project allows: their "files"
/// are the process's environment (`/proc/self/environ`), devices, or reads that block
/// forever (`/proc/kmsg`).
pub const SPECIAL_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why a path cannot be an input file. The diagnostic that carries it names the file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It does not exist or cannot be resolved.
    #[error("cannot read the file: {0}")]
    Unreadable(std::io::Error),
    /// It lies on a special filesystem ([`SPECIAL_DIRS`]).
    #[error("cannot read the file: it is under {0}, a special filesystem callform never reads")]
    Special(&'static str),
    /// It lies outside every input root (the project directory is the first).
    #[error("the file is outside the project directory {0} (symlinks resolved)")]
    Outside(String),
}

impl crate::error::Hint for InputError {
    fn hint(&self) -> Option<String> {
        match self {
            InputError::Outside(_) => Some(OUTSIDE_HINT.into()),
            InputError::Unreadable(_) | InputError::Special(_) => None,
        }
    }
}

/// `path` with its symlinks resolved, or why it cannot be an input: it does not exist, or
/// it lies on a special filesystem ([`SPECIAL_DIRS`]).
pub fn resolve(path: &Path) -> Result<PathBuf, InputError> {
    let real = std::fs::canonicalize(path).map_err(InputError::Unreadable)?;
    if let Some(dir) = SPECIAL_DIRS.iter().find(|d| real.starts_with(d)) {
        return Err(InputError::Special(dir));
    }
    Ok(real)
}

/// Checks that `path` (a file a manifest names, or a manifest) lies inside one of `roots`
/// (the project directory and the `input_dirs` of callform.yaml, symlinks resolved) once
/// its own symlinks are resolved, and returns the resolved path.
pub fn confine(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, InputError> {
    let real = resolve(path)?;
    if roots.iter().any(|r| real.starts_with(r)) {
        return Ok(real);
    }
    let inside = roots
        .first()
        .map_or_else(|| "the project".to_string(), |r| r.display().to_string());
    Err(InputError::Outside(inside))
}

/// [`confine`] then [`read_text`]: an input that must lie inside `roots`.
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn read_confined(path: &Path, roots: &[PathBuf]) -> Result<String, Diagnostic> {
    match confine(path, roots) {
        Ok(real) => read_text(&real, path),
        Err(why) => {
            let hint = crate::error::Hint::hint(&why).unwrap_or_else(|| OUTSIDE_HINT.into());
            Err(Diagnostic::error(path, why.to_string()).hint(hint))
        }
    }
}

/// What to do about a file [`confine`] refused.
pub const OUTSIDE_HINT: &str = "keep the file inside the directory of callform.yaml (or the manifest directory when there is none), or list its directory under `input_dirs:` in callform.yaml";

/// Reads an input file (a manifest, a file one names, callform.yaml), with the size cap.
/// `shown` is the path to print. Only regular files are read, never on a special
/// filesystem, and never more than the size the file had when opened: no read can block
/// or run on forever.
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn read_text(path: &Path, shown: &Path) -> Result<String, Diagnostic> {
    let cannot = |why: String| {
        Diagnostic::error(shown, why)
            .hint("check the path: it is relative to the manifest that names it")
    };
    let real = resolve(path).map_err(|e| cannot(e.to_string()))?;
    let meta =
        std::fs::metadata(&real).map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    // A device or a pipe reports 0 bytes and then never ends (`/dev/zero`) or blocks until
    // someone writes to it: only regular files are read, and never past the cap.
    let not_regular = |meta: &std::fs::Metadata| {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        cannot(format!("cannot read the file: it is {what}"))
    };
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let too_big = |len: u64| {
        Diagnostic::error(
            shown,
            format!("the file is {len} bytes; callform reads at most {MAX_FILE_BYTES}"),
        )
        .hint("split it across several tasks")
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a pipe put in the file's place since the check would block until a writer
    // comes: open without waiting, then check what was opened.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options
        .open(&real)
        .map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    // At most the size the file has: a "regular" file that says it is empty and then
    // blocks or streams (some kernel and FUSE files) reads as empty.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(meta.len())
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    decode(bytes, shown)
}

/// The text of a file's bytes without a leading byte-order mark, or an error at the first
/// byte that is not UTF-8.
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn decode(mut bytes: Vec<u8>, shown: &Path) -> Result<String, Diagnostic> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = valid.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            Err(Diagnostic::error(shown, "the file is not valid UTF-8 text")
                .at(line, col, 1)
                .expected("UTF-8 text")
                .hint("save the file as UTF-8"))
        }
    }
}

/// Most problems of one kind (errors, warnings) shown for the rows of one file; every row
/// is still checked, and one more diagnostic counts the rest.
pub const MAX_ROW_PROBLEMS: usize = 20;

/// The row problems of one callee file, bounded by [`MAX_ROW_PROBLEMS`] per kind.
struct RowProblems<'a> {
    shown: &'a Path,
    task: &'a str,
    /// Per kind (errors, warnings): how many, and the line of the last one shown.
    counts: [(usize, usize); 2],
}

impl<'a> RowProblems<'a> {
    fn new(shown: &'a Path, task: &'a str) -> RowProblems<'a> {
        RowProblems {
            shown,
            task,
            counts: [(0, 0); 2],
        }
    }

    fn push(&mut self, diags: &mut Vec<Diagnostic>, d: Diagnostic) {
        let (count, last) = &mut self.counts[usize::from(!d.is_error())];
        *count += 1;
        if *count <= MAX_ROW_PROBLEMS {
            *last = d.line;
            diags.push(d);
        }
    }

    /// The count of what was not shown, one diagnostic per kind.
    fn finish(self, diags: &mut Vec<Diagnostic>) {
        for (kind, (count, last)) in self.counts.into_iter().enumerate() {
            if count <= MAX_ROW_PROBLEMS {
                continue;
            }
            let more = count - MAX_ROW_PROBLEMS;
            let message = format!(
                "and {more} more {} in this file after line {last} ({count} in all; the first {MAX_ROW_PROBLEMS} are shown)",
                if kind == 0 { "rows with errors" } else { "rows with warnings" },
            );
            let d = if kind == 0 {
                Diagnostic::error(self.shown, message)
            } else {
                Diagnostic::warning(self.shown, message)
            };
            diags.push(
                d.at(last, 1, 1)
                    .task(Some(self.task))
                    .hint("every row was checked; the rest are of the same kinds as those shown"),
            );
        }
    }
}

/// One number per line; blank lines and `#` comments are skipped.
pub fn parse_numbers(
    text: &str,
    shown: &Path,
    task: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows = RowProblems::new(shown, task);
    for (i, line) in text.lines().enumerate() {
        let raw = line.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let lineno = i + 1;
        match phone::normalize(raw) {
            Ok((n, _)) => {
                if let Some(first) = seen.get(&n) {
                    rows.push(
                        diags,
                        Diagnostic::warning(
                            shown,
                            format!("number {} repeats line {first}", phone::mask(&n)),
                        )
                        .at(lineno, 1, raw.chars().count())
                        .task(Some(task))
                        .hint("the vendor reports duplicates as failures: remove one")
                        .personal(),
                    );
                } else {
                    seen.insert(n.clone(), lineno);
                }
                out.push(n);
            }
            Err(why) => rows.push(
                diags,
                Diagnostic::error(
                    shown,
                    format!("invalid phone number {}: {why}", phone::shown_entry(raw)),
                )
                .at(lineno, 1, raw.chars().count())
                .task(Some(task))
                .expected(phone::EXPECTED_NUMBER)
                .personal(),
            ),
        }
    }
    rows.finish(diags);
    out
}

const CSV_COLUMNS: &[&str] = &["phone", "tts_content", "ext", "param.NAME", "sms.NAME"];

/// A CSV file with a header row: `phone` (required), `tts_content`, `ext`, `param.NAME`
/// (into PhoneParamJson) and `sms.NAME` (into SmsParamJson).
pub fn parse_phone_csv(
    text: &str,
    shown: &Path,
    task: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<PhoneItem> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    shown,
                    format!("cannot read the CSV header: {}", csv_reason(&e)),
                )
                .at(1, 1, 1)
                .task(Some(task)),
            );
            return Vec::new();
        }
    };
    enum Col {
        Phone,
        Tts,
        Ext,
        Param(String),
        Sms(String),
        /// A column callform does not know (reported at the header).
        Unknown,
    }
    // A file without a header row would make its first callee (number, TTS text) the
    // "column names": say so without echoing them.
    if headers.iter().any(|h| phone::normalize(h).is_ok()) {
        diags.push(
            Diagnostic::error(shown, "the first line holds data, not a header row")
                .at(1, 1, 1)
                .task(Some(task))
                .expected(format!(
                    "a header naming the columns: {}",
                    CSV_COLUMNS.join(", ")
                ))
                .hint("add a first line such as `phone,tts_content`"),
        );
        return Vec::new();
    }
    let mut cols = Vec::new();
    for (position, h) in headers.iter().enumerate() {
        let col = match h {
            "phone" => Col::Phone,
            "tts_content" => Col::Tts,
            "ext" => Col::Ext,
            _ if h.starts_with("param.") && h.len() > 6 => Col::Param(h[6..].to_string()),
            _ if h.starts_with("sms.") && h.len() > 4 => Col::Sms(h[4..].to_string()),
            _ => {
                // A header cell is file content: it is named only when it is shaped like a
                // column name, never echoed otherwise (the file may not be a CSV at all).
                let named = if safe_column_name(h) {
                    format!("`{h}`")
                } else {
                    format!("number {} (its text is not shown)", position + 1)
                };
                let mut d = Diagnostic::error(shown, format!("unknown CSV column {named}"))
                    .at(1, 1, 1)
                    .task(Some(task))
                    .expected(format!("one of {}", CSV_COLUMNS.join(", ")));
                if let Some(best) =
                    crate::manifest::de::closest(h, &["phone", "tts_content", "ext"])
                {
                    d = d.hint(format!("did you mean `{best}`?"));
                }
                diags.push(d);
                // The rows are still checked, without this column.
                Col::Unknown
            }
        };
        cols.push(col);
    }
    if !cols.iter().any(|c| matches!(c, Col::Phone)) {
        diags.push(
            Diagnostic::error(shown, "the CSV file has no `phone` column")
                .at(1, 1, 1)
                .task(Some(task))
                .hint(
                    "the first line must be a header naming the columns, e.g. `phone,tts_content`",
                ),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = RowProblems::new(shown, task);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                // One malformed row does not hide the problems of the others.
                let line = e.position().map(|p| p.line()).unwrap_or(0) as usize;
                rows.push(
                    diags,
                    Diagnostic::error(shown, format!("malformed CSV: {}", csv_reason(&e)))
                        .at(line, 1, 1)
                        .task(Some(task)),
                );
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let mut item = PhoneItem {
            phone: String::new(),
            phone_param_json: None,
            sms_param_json: None,
            tts_content: None,
            ext: None,
        };
        let mut params = BTreeMap::new();
        let mut sms = BTreeMap::new();
        for (col, value) in cols.iter().zip(record.iter()) {
            match col {
                Col::Phone => item.phone = value.to_string(),
                Col::Tts if !value.is_empty() => item.tts_content = Some(value.to_string()),
                Col::Ext if !value.is_empty() => item.ext = Some(value.to_string()),
                Col::Param(k) if !value.is_empty() => {
                    params.insert(k.clone(), value.to_string());
                }
                Col::Sms(k) if !value.is_empty() => {
                    sms.insert(k.clone(), value.to_string());
                }
                _ => {}
            }
        }
        item.phone_param_json = (!params.is_empty()).then_some(params);
        item.sms_param_json = (!sms.is_empty()).then_some(sms);
        match phone::normalize(&item.phone) {
            Ok((n, _)) => {
                if let Some(first) = seen.get(&n) {
                    rows.push(
                        diags,
                        Diagnostic::warning(
                            shown,
                            format!("number {} repeats line {first}", phone::mask(&n)),
                        )
                        .at(line as usize, 1, 1)
                        .task(Some(task))
                        .hint("the vendor reports duplicates as failures: remove one")
                        .personal(),
                    );
                } else {
                    seen.insert(n.clone(), line);
                }
                item.phone = n;
                out.push(item);
            }
            Err(why) => rows.push(
                diags,
                Diagnostic::error(
                    shown,
                    format!(
                        "invalid phone number {}: {why}",
                        phone::shown_entry(&item.phone)
                    ),
                )
                .at(line as usize, 1, 1)
                .task(Some(task))
                .field("phone")
                .expected(phone::EXPECTED_NUMBER)
                .personal(),
            ),
        }
    }
    rows.finish(diags);
    out
}

/// Whether a CSV header cell may be quoted in a message: a short identifier such as
/// `tts_contnet` or `param.name`, nothing that could be a value.
fn safe_column_name(h: &str) -> bool {
    let mut chars = h.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && h.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && h.chars().filter(char::is_ascii_digit).count() < 4
}

/// A CSV error without the record's contents (they may hold numbers).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("a row has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => "unreadable CSV".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_file() {
        let mut d = Vec::new();
        let n = parse_numbers(
            "# list\n137 0000 0001\n\n+8613700000002\n13700000001\nabc\n",
            Path::new("n.txt"),
            "t",
            &mut d,
        );
        assert_eq!(n, ["13700000001", "13700000002", "13700000001"]);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].line, d[0].is_error()), (5, false));
        assert_eq!((d[1].line, d[1].is_error()), (6, true));
        assert!(d.iter().all(|d| !d.message.contains("13700000001")));
    }

    #[test]
    fn csv_file() {
        let mut d = Vec::new();
        let items = parse_phone_csv(
            "phone,tts_content,param.name\n13700000001,您好,张三\n13700000002,,\n",
            Path::new("p.csv"),
            "t",
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].phone_param_json.as_ref().unwrap()["name"], "张三");
        assert_eq!(items[1].tts_content, None);

        let mut d = Vec::new();
        parse_phone_csv("phnoe\n13700000001\n", Path::new("p.csv"), "t", &mut d);
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `phone`?"));

        let mut d = Vec::new();
        parse_phone_csv("13700000001,您好张先生\n", Path::new("p.csv"), "t", &mut d);
        assert!(d[0].message.contains("not a header row"), "{:?}", d[0]);
        assert!(!format!("{d:?}").contains("13700000001") && !format!("{d:?}").contains("张先生"));

        let mut d = Vec::new();
        parse_phone_csv("phone,ext\n13700000001\n", Path::new("p.csv"), "t", &mut d);
        assert!(
            d[0].message.contains("1 fields where the header has 2"),
            "{:?}",
            d[0]
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        // `/dev/zero` says it is empty and never ends: reading it hung the loader.
        #[cfg(unix)]
        {
            for special in [
                "/dev/zero",
                "/proc/self/environ",
                "/proc/kmsg",
                "/sys/kernel/notes",
            ] {
                let err = read_text(Path::new(special), Path::new("x.txt")).unwrap_err();
                assert!(
                    err.message.contains("special filesystem")
                        || err.message.contains("No such file"),
                    "{special}: {}",
                    err.message
                );
            }
            // A pipe with no writer blocks whoever opens it for reading.
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("numbers.txt");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                let err = read_text(&fifo, Path::new("numbers.txt")).unwrap_err();
                assert!(
                    err.message.contains("not a regular file"),
                    "{}",
                    err.message
                );
            }
        }
        let err = read_text(Path::new(env!("CARGO_MANIFEST_DIR")), Path::new("dir")).unwrap_err();
        assert!(err.message.contains("a directory"), "{}", err.message);
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks/numbers/overdue-jan.txt");
        assert!(read_text(&file, &file).is_ok());
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let err = read_text(&path, &path).unwrap_err();
        assert!(
            err.message.contains("callform reads at most"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_text() {
        assert_eq!(
            decode(b"\xef\xbb\xbf13700000001\n".to_vec(), Path::new("x")).unwrap(),
            "13700000001\n"
        );
    }

    #[test]
    fn file_content_is_never_echoed() {
        let secret = "AWS_SECRET_ACCESS_KEY=sk-CANARY-123";
        let mut d = Vec::new();
        parse_phone_csv(
            &format!("phone,{secret}\n"),
            Path::new("p.csv"),
            "t",
            &mut d,
        );
        assert!(d[0].message.contains("column number 2"), "{:?}", d[0]);
        let mut d = Vec::new();
        parse_numbers(&format!("{secret}\n"), Path::new("n.txt"), "t", &mut d);
        assert_eq!(d.len(), 1);
        assert!(!format!("{d:?}").contains("CANARY"), "{d:?}");
        assert!(!format!("{d:?}").contains("AWS"), "{d:?}");
    }

    #[test]
    fn decode_points_at_the_first_bad_byte() {
        let err = decode(b"ab\ncd\xffe".to_vec(), Path::new("x")).unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
    }
}
