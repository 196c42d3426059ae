//! A task's callees (`callees:`), and the input files callform reads (manifests, callee
//! files).
//!
//! Callees are inline (`numbers:`, `rows:`) or in a file (`file:`): a CSV file with a
//! header row (`phone` and the script's variables), or one number a line. Files are
//! streamed, never held whole: `read_list` checks every row and keeps one 16-byte
//! [`Fingerprint`] per row; [`CalleeList::rows`] reads a batch again when it is needed and
//! refuses rows that no longer match. Problems are reported at the callee file's own line
//! (or the inline item); numbers are normalised here and never leave this process in clear:
//! messages show them masked and quote no value.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::check::Checker;
use super::path::FieldPath;
use super::yaml::Value;
use crate::diag::Diagnostic;
use crate::phone;
use crate::vendor::CalleeRules;

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
    let file = open_regular(path, shown, MAX_FILE_BYTES)?;
    let cannot = |why: String| {
        Diagnostic::error(shown, why)
            .hint("check the path: it is relative to the manifest that names it")
    };
    let len = file.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(len as usize);
    let mut file = file;
    file.read_to_end(&mut bytes)
        .map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    decode(bytes, shown)
}

/// Opens an input file for reading, as [`read_text`] reads it: only a regular file, never
/// on a special filesystem, at most `cap` bytes, and never more than the size the file had
/// when opened (the reader ends there), so no read can block or run on forever.
// A diagnostic is made once per file, on the unhappy path: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn open_regular(
    path: &Path,
    shown: &Path,
    cap: u64,
) -> Result<std::io::Take<std::fs::File>, Diagnostic> {
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
            format!("the file is {len} bytes; callform reads at most {cap}"),
        )
        .hint("split it across several tasks")
    };
    if meta.len() > cap {
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
    if meta.len() > cap {
        return Err(too_big(meta.len()));
    }
    // At most the size the file has: a "regular" file that says it is empty and then
    // blocks or streams (some kernel and FUSE files) reads as empty.
    Ok(file.take(meta.len()))
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

/// Most problems of one kind (errors, warnings) shown for the rows of one callee list;
/// every row is still checked, and one more diagnostic counts the rest.
pub const MAX_ROW_PROBLEMS: usize = 20;

/// Most bytes of one callee file. Callee files are streamed, never held whole: the cap
/// only bounds how long a read may take [choice: 256 MiB is over 10 million rows].
pub const MAX_CALLEE_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// What a callee file must be, under any message that it cannot be read.
const CALLEE_FILE_EXPECTED: &str = "a UTF-8 file inside the project, relative to the manifest: `*.csv` with a header row naming `phone`, or one number a line";

/// Most characters of one value of a callee row.
pub const MAX_VALUE_CHARS: usize = 1000;

/// A task's `callees:` as written: exactly one of `file`, `numbers` and `rows`.
// Its `Debug` shows the shape only: how many numbers and rows, never one of them (the doc
// comment above is the schema's description).
#[derive(Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalleesDoc {
    /// A file relative to the manifest. `*.csv`: a header row naming `phone` and one column
    /// per script variable, then one callee a row. Any other name: one number a line
    /// (blank lines and `#` comments skipped).
    #[serde(default)]
    pub file: Option<String>,
    /// The numbers, inline, without variables.
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
    /// The callees, inline: each a mapping of `phone` and the script's variables.
    #[serde(default)]
    pub rows: Option<Vec<BTreeMap<String, String>>>,
    /// The script's variables, in the order they are sent. When set, the file's header
    /// (or the rows' keys) must be exactly these besides `phone`; without it the header
    /// order (or the first row's key order) is the order.
    #[serde(default)]
    pub variables: Option<Vec<String>>,
}

impl std::fmt::Debug for CalleesDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The file's path and the variables' names are the manifest's own words; the
        // numbers and the rows' values are people's.
        f.debug_struct("CalleesDoc")
            .field("file", &self.file)
            .field("numbers", &self.numbers.as_ref().map(Vec::len))
            .field("rows", &self.rows.as_ref().map(Vec::len))
            .field("variables", &self.variables)
            .finish()
    }
}

/// One callee: the number, normalised, and its values in the list's column order. Its
/// `Debug` shows the number masked (`137****0001`, as every message does) and how many
/// values it has, never one of them.
#[derive(Clone, PartialEq, Eq)]
pub struct Row {
    pub phone: String,
    pub values: Vec<String>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Row {{ phone: {}, values: {} }}",
            phone::mask(&self.phone),
            self.values.len()
        )
    }
}

/// 16 bytes that stand for one row in memory (never written anywhere): what the list is
/// compared by when it is read again, and what the state's digests are made of.
pub type Fingerprint = [u8; 16];

/// `SHA-256("callform-row-1\0" ‖ len‖phone ‖ for each column: len‖name ‖ len‖value)[..16]`,
/// lengths as u32 big-endian: a changed number, value, column name or column order
/// changes it, and no two different rows share an encoding.
pub fn fingerprint(row: &Row, columns: &[String]) -> Fingerprint {
    fingerprint_of(&row.phone, columns, row.values.iter().map(String::as_str))
}

/// [`fingerprint`] of a row given by its parts (`values` in `columns`' order), so that a
/// row checked and not kept is never built.
fn fingerprint_of<'v>(
    phone: &str,
    columns: &[String],
    values: impl Iterator<Item = &'v str>,
) -> Fingerprint {
    fn part(h: &mut Sha256, bytes: &[u8]) {
        h.update(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(bytes);
    }
    let mut h = Sha256::new();
    h.update(b"callform-row-1\0");
    part(&mut h, phone.as_bytes());
    for (name, value) in columns.iter().zip(values) {
        part(&mut h, name.as_bytes());
        part(&mut h, value.as_bytes());
    }
    let full = h.finalize();
    let mut fp = [0u8; 16];
    fp.copy_from_slice(&full[..16]);
    fp
}

/// How a callee file is read: by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header row, then one callee a row.
    Csv,
    /// One number a line.
    Lines,
}

impl Format {
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Lines,
        }
    }
}

/// Where a task's rows come from. Its `Debug` counts inline rows and shows none.
#[derive(Clone, PartialEq)]
pub enum Origin {
    /// Inline in the manifest (kept: the manifest holds them anyway, and it is small).
    Inline(Arc<[Row]>),
    /// A file, read again whenever its rows are needed.
    File {
        /// As the manifest names it, joined to the manifest's directory (for messages).
        shown: PathBuf,
        /// Resolved when it was checked.
        real: PathBuf,
        format: Format,
    },
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Inline(rows) => write!(f, "Inline({} rows)", rows.len()),
            Origin::File {
                shown,
                real,
                format,
            } => f
                .debug_struct("File")
                .field("shown", shown)
                .field("real", real)
                .field("format", format)
                .finish(),
        }
    }
}

/// A task's callees once checked: the columns, and one fingerprint per row. The rows
/// themselves are not kept (a million rows would be hundreds of megabytes); [`rows`]
/// reads them again, checking each against its fingerprint. Its `Debug` shows the shape
/// only: a fingerprint of a number alone is an unkeyed hash, reversed by trying every
/// number, so none is shown.
///
/// [`rows`]: CalleeList::rows
#[derive(Clone, PartialEq)]
pub struct CalleeList {
    /// The variable columns (without `phone`), in the order they are sent.
    pub columns: Vec<String>,
    pub origin: Origin,
    fingerprints: Arc<[Fingerprint]>,
    /// Each row's number as [`phone::number_key`] (in memory only, like the
    /// fingerprints): what suppression lists and per-callee caps compare.
    keys: Arc<[u64]>,
    /// Rows of the file (by their index among its rows, ascending) the policy removed
    /// ([`CalleeList::without`]): never read out, never sent, not in `len` nor in the
    /// fingerprints, so that digests and counts describe what is sent.
    skip: Arc<[u32]>,
}

impl std::fmt::Debug for CalleeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalleeList")
            .field("columns", &self.columns)
            .field("origin", &self.origin)
            .field("rows", &self.len())
            .finish()
    }
}

/// Why the rows of a list could not be read again.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("cannot read {0} again: {1}")]
    Unreadable(PathBuf, String),
    #[error("{0} changed since it was checked (row {1} differs): validate and plan again")]
    Changed(PathBuf, usize),
}

/// The counts a plan or a rule needs, without the rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalleeSummary<'a> {
    pub rows: usize,
    pub columns: &'a [String],
}

impl CalleeList {
    /// A list of inline rows (tests, and the inline forms of the manifest).
    pub fn inline(columns: Vec<String>, rows: Vec<Row>) -> CalleeList {
        let fingerprints = rows.iter().map(|r| fingerprint(r, &columns)).collect();
        let keys = rows.iter().map(|r| phone::number_key(&r.phone)).collect();
        CalleeList {
            columns,
            origin: Origin::Inline(rows.into()),
            fingerprints,
            keys,
            skip: Arc::from(Vec::new()),
        }
    }

    /// Each row's number as [`phone::number_key`], in row order.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// This list without the rows at `drop` (indices into it, ascending): what a
    /// suppression list or a per-callee cap removes. The rows left keep their order, and
    /// everything counted or digested from the list counts only them.
    pub fn without(&self, drop: &[u32]) -> CalleeList {
        if drop.is_empty() {
            return self.clone();
        }
        let mut dropping = drop.iter().copied().peekable();
        let mut fingerprints = Vec::with_capacity(self.len().saturating_sub(drop.len()));
        let mut keys = Vec::with_capacity(fingerprints.capacity());
        let mut skip: Vec<u32> = Vec::with_capacity(self.skip.len() + drop.len());
        let mut old_skip = self.skip.iter().copied().peekable();
        let mut source = 0u32;
        let mut kept_rows = Vec::new();
        for i in 0..self.len() {
            // The source index of row `i`: past the rows skipped already.
            while old_skip.peek() == Some(&source) {
                skip.push(source);
                old_skip.next();
                source += 1;
            }
            if dropping.peek() == Some(&(i as u32)) {
                dropping.next();
                skip.push(source);
            } else {
                fingerprints.push(self.fingerprints[i]);
                keys.push(self.keys[i]);
                kept_rows.push(i);
            }
            source += 1;
        }
        skip.extend(old_skip);
        let origin = match &self.origin {
            Origin::Inline(rows) => {
                Origin::Inline(kept_rows.iter().map(|&i| rows[i].clone()).collect())
            }
            file => file.clone(),
        };
        let inline = matches!(origin, Origin::Inline(_));
        CalleeList {
            columns: self.columns.clone(),
            origin,
            fingerprints: fingerprints.into(),
            keys: keys.into(),
            // Inline rows are filtered themselves; a file's are skipped as it is read.
            skip: if inline {
                Arc::from(Vec::new())
            } else {
                skip.into()
            },
        }
    }

    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    pub fn fingerprints(&self) -> &[Fingerprint] {
        &self.fingerprints
    }

    pub fn summary(&self) -> CalleeSummary<'_> {
        CalleeSummary {
            rows: self.len(),
            columns: &self.columns,
        }
    }

    /// Rows `from..from + n` (fewer at the end), read again from their source. A row that
    /// no longer matches its fingerprint (the file changed since it was checked) is an
    /// error: nothing read from a changed file is ever sent.
    pub fn rows(&self, from: usize, n: usize) -> Result<Vec<Row>, RowsError> {
        let end = from.saturating_add(n).min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(from));
        self.each_row(from, end, |row| {
            out.push(row);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Rows from `from` to the end, in chunks of `chunk`, read in one pass by a thread of
    /// their own: a task's batches are sent one after the other without reading the file
    /// again from its start for each (which would make a long list quadratic). At most
    /// two chunks are held at a time. The receiver ends after the last chunk, or after an
    /// error (which it delivers).
    pub fn stream(
        &self,
        from: usize,
        chunk: usize,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<Row>, RowsError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let list = self.clone();
        let chunk = chunk.max(1);
        std::thread::spawn(move || {
            let mut buf = Vec::with_capacity(chunk.min(list.len().saturating_sub(from)));
            let result = list.each_row(from, list.len(), |row| {
                buf.push(row);
                if buf.len() == chunk {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(chunk));
                    if tx.blocking_send(Ok(full)).is_err() {
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            let last = match result {
                Ok(()) if buf.is_empty() => return,
                Ok(()) => Ok(buf),
                Err(e) => Err(e),
            };
            let _ = tx.blocking_send(last);
        });
        rx
    }

    /// Calls `sink` with rows `from..end` in order, each checked against its fingerprint.
    /// Stops early, without an error, when `sink` breaks.
    fn each_row(
        &self,
        from: usize,
        end: usize,
        mut sink: impl FnMut(Row) -> ControlFlow<()>,
    ) -> Result<(), RowsError> {
        let end = end.min(self.len());
        if from >= end {
            return Ok(());
        }
        let (shown, real, format) = match &self.origin {
            Origin::Inline(rows) => {
                for row in &rows[from..end] {
                    if sink(row.clone()).is_break() {
                        break;
                    }
                }
                return Ok(());
            }
            Origin::File {
                shown,
                real,
                format,
            } => (shown, real, *format),
        };
        let unreadable = |why: String| RowsError::Unreadable(shown.clone(), why);
        let mut file =
            open_regular(real, shown, MAX_CALLEE_FILE_BYTES).map_err(|d| unreadable(d.message))?;
        let mut order: Option<Vec<Option<usize>>> = None;
        let mut phone_at = 0;
        let mut index = 0usize;
        let mut source = 0usize;
        let mut skipped = self.skip.iter().copied().peekable();
        let mut sent = 0usize;
        let mut stopped = false;
        let mut failed = None;
        each_record(format, &mut file, |record| {
            match record {
                Record::Header(names) => {
                    // One map of the header, not a search of it per column (a wide header
                    // would make that quadratic). The check kept each name's first place.
                    let mut at: HashMap<&str, usize> = HashMap::with_capacity(names.len());
                    for (i, h) in names.iter().enumerate().rev() {
                        at.insert(h.as_str(), i);
                    }
                    phone_at = at.get("phone").copied().unwrap_or(0);
                    order = Some(
                        self.columns
                            .iter()
                            .map(|c| at.get(c.as_str()).copied())
                            .collect(),
                    );
                }
                Record::Bad { .. } => {
                    failed = Some(RowsError::Changed(shown.clone(), index + 1));
                    return ControlFlow::Break(());
                }
                Record::Row { fields, .. } => {
                    let at = source;
                    source += 1;
                    while skipped.peek().is_some_and(|&s| (s as usize) < at) {
                        skipped.next();
                    }
                    if skipped.peek() == Some(&(at as u32)) {
                        // Removed by the policy: never read out.
                        return ControlFlow::Continue(());
                    }
                    if index >= from {
                        let phone = fields
                            .get(phone_at)
                            .and_then(|p| phone::normalize(p).ok())
                            .map(|(n, _)| n);
                        let values: Option<Vec<String>> = order
                            .iter()
                            .flatten()
                            .map(|i| i.and_then(|i| fields.get(i)).map(str::to_string))
                            .collect();
                        let row = phone
                            .zip(values)
                            .map(|(phone, values)| Row { phone, values });
                        match row {
                            Some(row)
                                if fingerprint(&row, &self.columns) == self.fingerprints[index] =>
                            {
                                sent += 1;
                                if sink(row).is_break() {
                                    stopped = true;
                                    return ControlFlow::Break(());
                                }
                            }
                            _ => {
                                failed = Some(RowsError::Changed(shown.clone(), index + 1));
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    index += 1;
                    if index >= end {
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(unreadable)?;
        if let Some(e) = failed {
            return Err(e);
        }
        if !stopped && sent != end - from {
            return Err(RowsError::Changed(shown.clone(), index + 1));
        }
        Ok(())
    }

    /// The callee file and its lines (from 1) holding rows `from..from + n`, for a message
    /// that names them (`lines 352–401 of numbers.txt`); `None` for inline rows, an empty
    /// range, or a file that no longer has those rows. Reads no value out.
    pub fn lines(&self, from: usize, n: usize) -> Option<(&Path, usize, usize)> {
        let end = from.saturating_add(n).min(self.len());
        let Origin::File {
            shown,
            real,
            format,
        } = &self.origin
        else {
            return None;
        };
        if from >= end {
            return None;
        }
        let mut file = open_regular(real, shown, MAX_CALLEE_FILE_BYTES).ok()?;
        let (mut index, mut first, mut last) = (0usize, None, None);
        let mut source = 0usize;
        let mut skipped = self.skip.iter().copied().peekable();
        each_record(*format, &mut file, |record| {
            if let Record::Row { line, .. } | Record::Bad { line, .. } = record {
                let at = source;
                source += 1;
                while skipped.peek().is_some_and(|&s| (s as usize) < at) {
                    skipped.next();
                }
                if skipped.peek() == Some(&(at as u32)) {
                    return ControlFlow::Continue(());
                }
                if index == from {
                    first = Some(line);
                }
                index += 1;
                if index == end {
                    last = Some(line);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .ok()?;
        Some((shown.as_path(), first?, last?))
    }
}

/// One record of a callee file, as written.
enum Record<'a> {
    /// The column names (a list of numbers has the one column `phone`).
    Header(Vec<String>),
    /// A row's fields in the header's order, trimmed; `line` from 1. Borrowed from the
    /// reader's buffer: a row costs no allocation until something keeps it.
    Row { line: usize, fields: Fields<'a> },
    /// A row that cannot be read (not UTF-8, malformed CSV): why, quoting nothing of it.
    Bad { line: usize, reason: String },
}

/// A row's fields, wherever they were read: a line of a list of numbers, a CSV record
/// (its UTF-8 checked once for the whole record), or an inline row.
#[derive(Clone, Copy)]
enum Fields<'a> {
    One(&'a str),
    Csv(&'a csv::StringRecord),
    Owned(&'a [String]),
}

impl<'a> Fields<'a> {
    fn len(&self) -> usize {
        match self {
            Fields::One(_) => 1,
            Fields::Csv(r) => r.len(),
            Fields::Owned(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match *self {
            Fields::One(f) => (i == 0).then_some(f),
            Fields::Csv(r) => r.get(i),
            Fields::Owned(v) => v.get(i).map(String::as_str),
        }
    }
}

/// Streams the records of a callee file to `f` (which may stop early). `Err` when the
/// file cannot be read at all, or a CSV file has no header.
fn each_record<R: Read>(
    format: Format,
    file: &mut R,
    mut f: impl FnMut(Record<'_>) -> ControlFlow<()>,
) -> Result<(), String> {
    match format {
        Format::Lines => {
            if f(Record::Header(vec!["phone".into()])).is_break() {
                return Ok(());
            }
            let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
            let mut buf = Vec::with_capacity(128);
            let mut line = 0;
            loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', &mut buf)
                    .map_err(|e| format!("cannot read the file: {e}"))?;
                if n == 0 {
                    return Ok(());
                }
                line += 1;
                let bytes = if line == 1 {
                    buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf)
                } else {
                    &buf[..]
                };
                let record = match std::str::from_utf8(bytes) {
                    Ok(text) => {
                        let raw = text.trim();
                        if raw.is_empty() || raw.starts_with('#') {
                            continue;
                        }
                        Record::Row {
                            line,
                            fields: Fields::One(raw),
                        }
                    }
                    Err(_) => Record::Bad {
                        line,
                        reason: "the line is not valid UTF-8 text".into(),
                    },
                };
                if f(record).is_break() {
                    return Ok(());
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                // `\n` alone ends a record, so that a CRLF file (Excel's default) counts its
                // lines as an editor does; the `\r` is trimmed with the field's whitespace.
                .terminator(csv::Terminator::Any(b'\n'))
                .buffer_capacity(64 * 1024)
                .from_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut first = true;
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => {
                        if first {
                            return Err(
                                "the file is empty: a CSV callee file starts with a header row"
                                    .into(),
                            );
                        }
                        return Ok(());
                    }
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line() as usize);
                        if first {
                            return Err(format!("cannot read the CSV header: {}", csv_reason(&e)));
                        }
                        if f(Record::Bad {
                            line,
                            reason: format!("malformed CSV: {}", csv_reason(&e)),
                        })
                        .is_break()
                        {
                            return Ok(());
                        }
                        continue;
                    }
                }
                let line = record.position().map_or(0, |p| p.line() as usize);
                if first {
                    first = false;
                    let fields: Result<Vec<String>, _> = record
                        .iter()
                        .enumerate()
                        .map(|(i, b)| {
                            let b = if i == 0 {
                                b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
                            } else {
                                b
                            };
                            std::str::from_utf8(b).map(str::to_string)
                        })
                        .collect();
                    let Ok(fields) = fields else {
                        return Err("the header row is not valid UTF-8 text".into());
                    };
                    if f(Record::Header(fields)).is_break() {
                        return Ok(());
                    }
                    continue;
                }
                // The record's buffers go back to the reader for the next row either way.
                let flow = match csv::StringRecord::from_byte_record(std::mem::take(&mut record)) {
                    Ok(row) => {
                        let flow = if row.len() == 1 && row[0].is_empty() {
                            // A blank line.
                            ControlFlow::Continue(())
                        } else {
                            f(Record::Row {
                                line,
                                fields: Fields::Csv(&row),
                            })
                        };
                        record = row.into_byte_record();
                        flow
                    }
                    Err(e) => {
                        record = e.into_byte_record();
                        f(Record::Bad {
                            line,
                            reason: "the row is not valid UTF-8 text".into(),
                        })
                    }
                };
                if flow.is_break() {
                    return Ok(());
                }
            }
        }
    }
}

/// Whether `name` may be a column: `[A-Za-z_\p{Han}][A-Za-z0-9_.\p{Han}-]{0,39}`. Only such
/// names are ever quoted in a message (anything else might be a value).
pub fn valid_column_name(name: &str) -> bool {
    fn han(c: char) -> bool {
        matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ebef}')
    }
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || han(first))
        && name.chars().count() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || han(c))
        && phone::normalize(name).is_err()
}

/// A callee row problem's place: a line of the callee file, or an item of the inline list.
#[derive(Clone, Copy)]
enum At<'c> {
    Line(usize),
    Item(usize, Option<&'c str>),
}

/// Checks rows as they come and reports their problems, at most [`MAX_ROW_PROBLEMS`] of
/// each kind (then one count).
struct RowCheck<'r, 'a> {
    cx: &'r mut Checker<'a>,
    rules: &'r CalleeRules,
    /// The callee file (as shown), or `None` for inline rows.
    file: Option<PathBuf>,
    /// `callees.numbers` or `callees.rows`, for inline rows.
    list: FieldPath,
    /// Column names in the source's order (without `phone`), and `phone`'s position.
    source: Vec<String>,
    phone_at: usize,
    /// For each wire column, its position in the source.
    order: Vec<usize>,
    columns: Vec<String>,
    seen: HashMap<u64, usize, std::hash::BuildHasherDefault<NumberHasher>>,
    fingerprints: Vec<Fingerprint>,
    /// Each kept row's number as [`phone::number_key`], for the policy's callee rules.
    keys: Vec<u64>,
    /// The row a vendor's row check is given, its strings reused from row to row.
    scratch: Row,
    rows: Vec<Row>,
    keep_rows: bool,
    /// Per kind (errors, warnings): how many, and where the last shown one was.
    counts: [(usize, usize); 2],
    errors: bool,
}

impl<'r, 'a> RowCheck<'r, 'a> {
    fn report(
        &mut self,
        at: At<'_>,
        error: bool,
        message: String,
        expected: Option<&str>,
        hint: Option<String>,
    ) {
        self.errors |= error;
        let (count, last) = &mut self.counts[usize::from(!error)];
        *count += 1;
        if *count > MAX_ROW_PROBLEMS {
            return;
        }
        let (item, col) = match at {
            At::Item(i, col) => (i, col),
            At::Line(l) => (l, None),
        };
        let mut d = match (at, &self.file) {
            (At::Line(line), Some(file)) => {
                *last = line;
                let d = if error {
                    Diagnostic::error(file, message)
                } else {
                    Diagnostic::warning(file, message)
                };
                d.at(line, 1, 1)
                    .task(Some(self.cx.task))
                    .field(FieldPath::root().k("callees").k("file").to_string())
            }
            _ => {
                let mut path = self.list.i(item);
                if let Some(col) = col {
                    if self.list.to_string().ends_with("rows") {
                        path = path.k(col.to_string());
                    }
                }
                let d = if error {
                    self.cx.error(&path, message)
                } else {
                    self.cx.warning(&path, message)
                };
                *last = d.line;
                d
            }
        };
        if let Some(x) = expected {
            d = d.expected(x);
        }
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.cx.push(d.personal());
    }

    /// The count of the problems not shown.
    fn finish(&mut self) {
        for (kind, (count, last)) in self.counts.into_iter().enumerate() {
            if count <= MAX_ROW_PROBLEMS {
                continue;
            }
            let more = count - MAX_ROW_PROBLEMS;
            let message = format!(
                "and {more} more {} in this callee list after line {last} ({count} in all; the first {MAX_ROW_PROBLEMS} are shown)",
                if kind == 0 { "rows with errors" } else { "rows with warnings" },
            );
            let file = self
                .file
                .clone()
                .unwrap_or_else(|| self.cx.file.to_path_buf());
            let d = if kind == 0 {
                Diagnostic::error(&file, message)
            } else {
                Diagnostic::warning(&file, message)
            };
            let field = if self.file.is_some() {
                "callees.file".to_string()
            } else {
                self.list.to_string()
            };
            self.cx.push(
                d.at(last, 1, 1)
                    .task(Some(self.cx.task))
                    .field(field)
                    .expected("every row valid, as for the rows shown")
                    .hint("every row was checked; the rest are of the same kinds as those shown"),
            );
        }
    }

    /// One row: its fields in the source's order (the phone at `phone_at`). A million rows
    /// go through here: a good row makes its normalised number and, only when the rows are
    /// kept or the vendor checks whole rows, its values; nothing else is allocated.
    fn row(&mut self, at: At<'_>, fields: Fields<'_>) {
        if fields.len() != self.source.len() + 1 {
            self.report(
                at,
                true,
                format!(
                    "a row has {} fields where the header has {}",
                    fields.len(),
                    self.source.len() + 1
                ),
                Some("every row has every column (leave a value empty, not out)"),
                Some("add the missing values (empty between commas) or remove the extra ones; a value holding a comma is written in double quotes".into()),
            );
            return;
        }
        let raw = fields.get(self.phone_at).unwrap_or_default();
        let phone_at = match at {
            At::Item(i, _) => At::Item(i, Some("phone")),
            other => other,
        };
        let number = match phone::normalize_in_place(raw) {
            Ok((n, kind)) => {
                if self.rules.mobile_only && kind != phone::Kind::Mobile {
                    self.report(
                        phone_at,
                        true,
                        format!(
                            "{} is a fixed line; this vendor calls mobile numbers only",
                            phone::mask(&n)
                        ),
                        Some("a mobile number (11 digits starting 13–19)"),
                        Some("remove the row, or give this callee to a task of a vendor that calls fixed lines".into()),
                    );
                    return;
                }
                n
            }
            Err(why) => {
                self.report(
                    phone_at,
                    true,
                    format!("invalid phone number {}: {why}", phone::shown_entry(raw)),
                    Some(phone::EXPECTED_NUMBER),
                    Some("correct the number (digits only; spaces, dashes and +86 are removed), or remove the row".into()),
                );
                return;
            }
        };
        let key = phone::number_key(&number);
        let here = match at {
            At::Line(l) => l,
            At::Item(i, _) => i,
        };
        if let Some(first) = self.seen.get(&key) {
            let message = if self.file.is_some() {
                format!(
                    "number {} repeats line {first}: a person would be called twice",
                    phone::mask(&number)
                )
            } else {
                format!(
                    "number {} at position {here} repeats position {first}: a person would be called twice",
                    phone::mask(&number)
                )
            };
            self.report(
                phone_at,
                true,
                message,
                Some("each number once in a task"),
                Some("remove one of them".into()),
            );
            return;
        }
        self.seen.insert(key, here);
        let mut bad = false;
        for i in 0..fields.len() {
            if i == self.phone_at {
                continue;
            }
            let value = fields.get(i).unwrap_or_default();
            // Bytes bound characters from above, and ASCII text is checked bytewise: the
            // characters are counted and decoded only for a long or non-ASCII value.
            let long = value.len() > MAX_VALUE_CHARS && value.chars().count() > MAX_VALUE_CHARS;
            let control = if value.is_ascii() {
                value.bytes().any(|b| b.is_ascii_control())
            } else {
                value.chars().any(char::is_control)
            };
            if !long && !control {
                continue;
            }
            let col = self.source[if i < self.phone_at { i } else { i - 1 }].clone();
            let (message, expected, hint) = if long {
                (
                    format!(
                        "the value of `{col}` is {} characters long",
                        value.chars().count()
                    ),
                    "at most 1,000 characters of text on one line",
                    format!("shorten the `{col}` value of this row"),
                )
            } else {
                (
                    format!(
                        "the value of `{col}` holds a control character (a tab, a line break…)"
                    ),
                    "text on one line, without tabs or other control characters",
                    format!("remove the control character from the `{col}` value of this row"),
                )
            };
            let at = match at {
                At::Item(i, _) => At::Item(i, Some(col.as_str())),
                other => other,
            };
            self.report(at, true, message, Some(expected), Some(hint));
            bad = true;
        }
        if bad {
            return;
        }
        let phone_at = self.phone_at;
        let value = |i: usize| {
            fields
                .get(if i >= phone_at { i + 1 } else { i })
                .unwrap_or_default()
        };
        if self.rules.row.is_none() && !self.keep_rows {
            let fp = fingerprint_of(&number, &self.columns, self.order.iter().map(|&i| value(i)));
            self.fingerprints.push(fp);
            self.keys.push(key);
            return;
        }
        let mut row = std::mem::replace(
            &mut self.scratch,
            Row {
                phone: String::new(),
                values: Vec::new(),
            },
        );
        row.phone.clear();
        row.phone.push_str(&number);
        row.values.resize_with(self.order.len(), String::new);
        for (slot, &i) in row.values.iter_mut().zip(&self.order) {
            slot.clear();
            slot.push_str(value(i));
        }
        let problem = self.rules.row.and_then(|check| check(&self.columns, &row));
        if problem.is_none() {
            self.fingerprints.push(fingerprint(&row, &self.columns));
            self.keys.push(key);
            if self.keep_rows {
                self.rows.push(row.clone());
            }
        }
        self.scratch = row;
        if let Some(problem) = problem {
            self.report(
                at,
                true,
                problem,
                Some("a row within the vendor's limits on one callee"),
                Some(
                    "shorten this row's values, or leave out a variable the script does not use"
                        .into(),
                ),
            );
        }
    }
}

/// Hashes the `u64` a callee's number is kept as in the set of numbers seen: one multiply
/// and a shift, where the default hasher (SipHash, built against hostile keys) took a
/// tenth of a million-row check. A file can only slow its own validation down.
#[derive(Default, Clone, Copy)]
pub(crate) struct NumberHasher(u64);

impl std::hash::Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// Reports a column problem: message, expected, hint.
type ColumnReport<'r> = dyn FnMut(&mut Checker<'_>, String, Option<String>, Option<String>) + 'r;

/// Checks the columns of a list (without `phone`, in the source's order; `phone` was
/// column `phone_at` of the source, from 0) against the vendor's rules and `variables`;
/// returns the wire order (positions into `source`), or `None` when the columns are wrong
/// (reported at `at`). Linear in the columns: a header of 80,000 names is checked in one
/// pass with a map of the names seen, never by comparing each with those before it.
fn columns_order(
    cx: &mut Checker<'_>,
    rules: &CalleeRules,
    source: &[String],
    phone_at: usize,
    variables: Option<&Vec<String>>,
    report: &mut ColumnReport<'_>,
) -> Option<Vec<usize>> {
    // The column's number as a spreadsheet shows it, from 1, `phone` counted.
    let number = |i: usize| if i < phone_at { i + 1 } else { i + 2 };
    let mut ok = true;
    let mut first_at: HashMap<&str, usize> = HashMap::with_capacity(source.len());
    for (i, name) in source.iter().enumerate() {
        if !valid_column_name(name) {
            report(
                cx,
                format!("column number {} is not a column name (its text is not shown)", number(i)),
                Some("`[A-Za-z_` or a Chinese character`][A-Za-z0-9_.-` or Chinese`]`, at most 40 characters".into()),
                Some("the first line must be a header naming the columns, e.g. `phone,客户姓名`".into()),
            );
            ok = false;
            continue;
        }
        let earlier = if name == "phone" {
            Some(phone_at + 1)
        } else {
            first_at.get(name.as_str()).map(|&j| number(j))
        };
        if let Some(earlier) = earlier {
            report(
                cx,
                format!(
                    "column `{name}` is named twice (column number {earlier} and column number {})",
                    number(i)
                ),
                Some("each column named once".into()),
                Some(format!("rename or remove column number {}", number(i))),
            );
            ok = false;
            continue;
        }
        first_at.insert(name, i);
        if let Some(allowed) = rules.columns.filter(|a| !a.contains(&name.as_str())) {
            let mut d_hint = rules.columns_hint.to_string();
            if let Some(best) = crate::manifest::de::closest(name, allowed) {
                d_hint = format!("did you mean `{best}`? {d_hint}");
            }
            report(
                cx,
                format!("unknown callee column `{name}`"),
                Some(format!("phone, and only {}", allowed.join(", "))),
                Some(d_hint),
            );
            ok = false;
        }
    }
    let Some(vars) = variables else {
        return ok.then(|| (0..source.len()).collect());
    };
    let mut order = Vec::with_capacity(vars.len());
    for v in vars {
        match first_at.get(v.as_str()) {
            Some(&i) => order.push(i),
            None => {
                let shown = if valid_column_name(v) {
                    format!("`{v}`")
                } else {
                    "a variable".into()
                };
                report(
                    cx,
                    format!("{shown} is declared in `variables` but the callees have no such column"),
                    Some("the header (or each row) names exactly the declared variables besides `phone`".into()),
                    Some("add the column, or remove it from `variables`".into()),
                );
                ok = false;
            }
        }
    }
    let declared: std::collections::HashSet<&str> = vars.iter().map(String::as_str).collect();
    for s in source {
        if !declared.contains(s.as_str()) && valid_column_name(s) {
            report(
                cx,
                format!("column `{s}` is not declared in `variables`"),
                Some(format!("only the declared variables: {}", vars.join(", "))),
                Some("declare it in `variables`, or remove the column".into()),
            );
            ok = false;
        }
    }
    ok.then_some(order)
}

/// Reads and checks a task's `callees:` (`doc`), a file relative to `dir` inside `roots`
/// or inline. Every problem is reported through `cx`; `None` when there is one. A file
/// read is added to `files` with its digest (saved plans notice a changed file).
pub(crate) fn read_list(
    doc: &CalleesDoc,
    cx: &mut Checker<'_>,
    rules: &CalleeRules,
    dir: &Path,
    roots: &[PathBuf],
    files: &mut Vec<crate::manifest::SourceFile>,
) -> Option<CalleeList> {
    read_list_as(doc, cx, rules, dir, roots, files, None)
}

/// Checks the file `path` as a callee list of `vendor` read as `format`, and returns its
/// problems: what the fuzz target drives (any bytes must give diagnostics, never a panic
/// or a hang).
pub fn check_file(path: &Path, format: Format, vendor: crate::manifest::Vendor) -> Vec<Diagnostic> {
    let root = super::yaml::Node {
        value: Value::Map(Vec::new()),
        pos: Default::default(),
    };
    let mut cx = Checker {
        file: path,
        root: &root,
        task: "t",
        tz: &jiff::tz::TimeZone::UTC,
        now: jiff::Timestamp::UNIX_EPOCH,
        diags: Vec::new(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let roots: Vec<PathBuf> = resolve(dir).into_iter().collect();
    let doc = CalleesDoc {
        file: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        numbers: None,
        rows: None,
        variables: None,
    };
    let rules = vendor.def().callee_rules();
    read_list_as(
        &doc,
        &mut cx,
        &rules,
        dir,
        &roots,
        &mut Vec::new(),
        Some(format),
    );
    cx.diags
}

fn read_list_as(
    doc: &CalleesDoc,
    cx: &mut Checker<'_>,
    rules: &CalleeRules,
    dir: &Path,
    roots: &[PathBuf],
    files: &mut Vec<crate::manifest::SourceFile>,
    format: Option<Format>,
) -> Option<CalleeList> {
    let base = FieldPath::root().k("callees");
    let set = [
        doc.file.is_some(),
        doc.numbers.is_some(),
        doc.rows.is_some(),
    ];
    let count = set.iter().filter(|s| **s).count();
    if count != 1 {
        let d = if count == 0 {
            cx.error(&base, "callees: none of `file`, `numbers` or `rows` is set")
        } else {
            cx.error(
                &base,
                "callees: more than one of `file`, `numbers` and `rows` is set",
            )
        }
        .expected("exactly one of `file: PATH`, `numbers: [...]`, `rows: [...]`")
        .hint("keep the callees in one place");
        cx.push(d);
        return None;
    }
    if let Some(vars) = &doc.variables {
        let mut seen = HashMap::with_capacity(vars.len());
        for (i, v) in vars.iter().enumerate() {
            let (message, hint) = if !valid_column_name(v) {
                (
                    "variables: this is not a variable name (its text is not shown)".to_string(),
                    "name the script's variables, as the callee columns are named".to_string(),
                )
            } else if v == "phone" {
                (
                    "variables: `phone` is the number's column, not a variable".to_string(),
                    "remove `phone` from `variables`: the number is always sent".to_string(),
                )
            } else if let Some(first) = seen.insert(v.as_str(), i) {
                (
                    format!("variables: `{v}` is declared twice (items {first} and {i})"),
                    format!("remove item {i} of `variables`"),
                )
            } else {
                continue;
            };
            let d = cx
                .error(&base.k("variables").i(i), message)
                .expected("`[A-Za-z_` or a Chinese character`][A-Za-z0-9_.-` or Chinese`]`, at most 40 characters, each once, not `phone`")
                .hint(hint);
            cx.push(d);
            return None;
        }
    }
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    let mut check = RowCheck {
        cx,
        rules,
        file: None,
        list: base.clone(),
        source: Vec::new(),
        phone_at: 0,
        order: Vec::new(),
        columns: Vec::new(),
        seen: HashMap::default(),
        fingerprints: Vec::new(),
        keys: Vec::new(),
        scratch: Row {
            phone: String::new(),
            values: Vec::new(),
        },
        rows: Vec::new(),
        keep_rows: true,
        counts: [(0, 0); 2],
        errors: false,
    };
    let origin;
    if let Some(numbers) = &doc.numbers {
        check.list = base.k("numbers");
        if doc.variables.as_ref().is_some_and(|v| !v.is_empty()) {
            let d = check
                .cx
                .error(&base.k("variables"), "`numbers` has no variables")
                .expected("`variables` only with `rows` or a CSV `file`")
                .hint("write `rows: [{phone: …, NAME: …}]` to give each callee its values");
            check.cx.push(d);
            return None;
        }
        check.seen.reserve(numbers.len());
        for (i, n) in numbers.iter().enumerate() {
            check.row(At::Item(i, None), Fields::One(n.as_str()));
        }
        origin = None;
    } else if let Some(rows) = doc.rows.as_ref().filter(|r| !r.is_empty()) {
        check.list = base.k("rows");
        // The first row's keys, in the order written (the mapping read by serde is sorted).
        let keys: Vec<String> = check
            .cx
            .root
            .get("callees")
            .and_then(|c| c.get("rows"))
            .and_then(|r| match &r.value {
                Value::Seq(items) => items.first(),
                _ => None,
            })
            .and_then(|first| match &first.value {
                Value::Map(entries) => Some(
                    entries
                        .iter()
                        .filter_map(|(k, _)| k.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let Some(phone_at) = keys.iter().position(|k| k == "phone") else {
            let d = check
                .cx
                .error(&base.k("rows").i(0), "the first row has no `phone`")
                .expected("each row a mapping of `phone` and the script's variables")
                .hint("add `phone: \"137…\"` to the row (every row has the same keys)");
            check.cx.push(d);
            return None;
        };
        check.source = keys.iter().filter(|k| *k != "phone").cloned().collect();
        check.phone_at = phone_at;
        let list = check.list.clone();
        let order = columns_order(
            check.cx,
            rules,
            &check.source,
            phone_at,
            doc.variables.as_ref(),
            &mut |cx, message, expected, hint| {
                let mut d = cx.error(&list.i(0), message);
                if let Some(x) = expected {
                    d = d.expected(x);
                }
                if let Some(h) = hint {
                    d = d.hint(h);
                }
                cx.push(d);
            },
        )?;
        check.columns = order.iter().map(|&i| check.source[i].clone()).collect();
        check.order = order;
        check.seen.reserve(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let mut fields = Vec::with_capacity(keys.len());
            let mut complete = true;
            for k in &keys {
                match row.get(k) {
                    Some(v) => fields.push(v.trim().to_string()),
                    None => {
                        complete = false;
                        break;
                    }
                }
            }
            if !complete || row.len() != keys.len() {
                check.report(
                    At::Item(i, None),
                    true,
                    format!("row {i} does not have the first row's keys"),
                    Some("every row has the same keys: `phone` and the script's variables"),
                    Some(
                        "add the missing keys (an empty value is `\"\"`), or remove the extra ones"
                            .into(),
                    ),
                );
                continue;
            }
            check.row(At::Item(i, None), Fields::Owned(&fields));
        }
        origin = None;
    } else if doc.rows.is_some() {
        // No rows: counted below.
        origin = None;
    } else {
        let rel = doc.file.as_deref().unwrap_or_default();
        let shown = dir.join(rel);
        let at = base.k("file");
        let cannot = |cx: &mut Checker<'_>, message: String, hint: Option<String>| {
            let pos = at.locate(cx.root, false);
            let mut d = Diagnostic::error(cx.file, format!("{}: {message}", shown.display()))
                .at(pos.line, pos.col, pos.len)
                .task(Some(cx.task))
                .field(at.to_string())
                .expected(CALLEE_FILE_EXPECTED);
            if let Some(h) = hint {
                d = d.hint(h);
            }
            cx.push(d);
        };
        let real = match confine(&shown, roots) {
            Ok(real) => real,
            Err(why) => {
                let hint = crate::error::Hint::hint(&why).or_else(|| {
                    Some("check the path: it is relative to the manifest that names it".into())
                });
                cannot(check.cx, why.to_string(), hint);
                return None;
            }
        };
        let file = match open_regular(&real, &shown, MAX_CALLEE_FILE_BYTES) {
            Ok(f) => f,
            Err(d) => {
                cannot(check.cx, d.message, d.hint);
                return None;
            }
        };
        let format = format.unwrap_or_else(|| Format::of(&shown));
        let mut hashed = Hashed {
            inner: file,
            hash: Sha256::new(),
        };
        check.file = Some(shown.clone());
        check.keep_rows = false;
        let mut header_ok = true;
        let result = {
            let check = &mut check;
            let header_ok = &mut header_ok;
            let variables = doc.variables.as_ref();
            each_record(format, &mut hashed, |record| {
                match record {
                    Record::Header(names) => {
                        let Some(phone_at) = names.iter().position(|h| h == "phone") else {
                            let message = if names.iter().any(|h| phone::normalize(h).is_ok()) {
                                "the first line holds data, not a header row"
                            } else {
                                "the CSV file has no `phone` column"
                            };
                            check.report(
                                At::Line(1),
                                true,
                                message.into(),
                                Some("a header row naming `phone` and the script's variables"),
                                Some("add a first line such as `phone,客户姓名`".into()),
                            );
                            *header_ok = false;
                            return ControlFlow::Break(());
                        };
                        check.phone_at = phone_at;
                        check.source = names
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| *i != phone_at)
                            .map(|(_, n)| n.clone())
                            .collect();
                        let source = check.source.clone();
                        let shown = check.file.clone().unwrap_or_default();
                        let task = check.cx.task.to_string();
                        let order = columns_order(
                            check.cx,
                            rules,
                            &source,
                            phone_at,
                            variables,
                            &mut |cx, message, expected, hint| {
                                let mut d = Diagnostic::error(&shown, message)
                                    .at(1, 1, 1)
                                    .task(Some(&task))
                                    .field("callees.file");
                                if let Some(x) = expected {
                                    d = d.expected(x);
                                }
                                if let Some(h) = hint {
                                    d = d.hint(h);
                                }
                                cx.push(d);
                            },
                        );
                        match order {
                            Some(order) => {
                                check.columns = order.iter().map(|&i| source[i].clone()).collect();
                                check.order = order;
                            }
                            None => {
                                *header_ok = false;
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    Record::Row { line, fields } => {
                        check.row(At::Line(line), fields);
                    }
                    Record::Bad { line, reason } => {
                        check.report(
                            At::Line(line),
                            true,
                            reason,
                            Some("UTF-8 CSV, one callee a line"),
                            Some("save the file as UTF-8 and fix this row: a value holding a comma, a quote or a line break is written in double quotes, a quote in it doubled".into()),
                        );
                    }
                }
                ControlFlow::Continue(())
            })
        };
        if let Err(why) = result {
            cannot(
                check.cx,
                why,
                Some("write a first line naming the columns, such as `phone,客户姓名`, then one callee a line".into()),
            );
            return None;
        }
        if !header_ok {
            return None;
        }
        files.push(crate::manifest::SourceFile {
            path: shown.clone(),
            sha256: hashed.hash.finalize().into(),
        });
        origin = Some(Origin::File {
            shown: shown.clone(),
            real,
            format,
        });
    }
    check.finish();
    let RowCheck {
        cx,
        columns,
        fingerprints,
        keys,
        rows,
        errors,
        ..
    } = check;
    let errors_after = cx.diags.iter().filter(|d| d.is_error()).count();
    if errors || errors_after > errors_before {
        return None;
    }
    let list = CalleeList {
        columns,
        origin: origin.unwrap_or_else(|| Origin::Inline(rows.into())),
        fingerprints: fingerprints.into(),
        keys: keys.into(),
        skip: Arc::from(Vec::new()),
    };
    let n = list.len();
    let d = if n < rules.min_rows {
        Some(
            cx.error(
                &base,
                format!(
                    "callees: {n} rows; this vendor needs at least {}",
                    rules.min_rows
                ),
            )
            .expected(format!("{} to {} callees", rules.min_rows, rules.max_rows))
            .hint(
                "add the callees to the list: this vendor refuses a task that has nobody to call",
            ),
        )
    } else if n > rules.max_rows {
        Some(
            cx.error(
                &base,
                format!(
                    "callees: {n} rows; this vendor takes at most {}",
                    rules.max_rows
                ),
            )
            .expected(format!("at most {} callees in one task", rules.max_rows))
            .hint("split them across several tasks"),
        )
    } else if (1..=2).contains(&n) {
        Some(
            cx.warning(&base, format!("callees: a list of {n} row{}: its record in the state can be reversed", if n == 1 { "" } else { "s" }))
                .hint("the state keeps a keyed digest of the callees loaded, with its key: a list this short can be found by trying every number (README, What the state reveals)"),
        )
    } else {
        None
    };
    let fatal = d.as_ref().is_some_and(Diagnostic::is_error);
    if let Some(d) = d {
        cx.push(d);
    }
    (!fatal).then_some(list)
}

/// A reader that hashes what it reads.
struct Hashed {
    inner: std::io::Take<std::fs::File>,
    hash: Sha256,
}

impl Read for Hashed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
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
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks/numbers/overdue-jan.csv");
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

    /// A list over `text` in a file, fingerprinted as it is now.
    fn file_list(dir: &Path, text: &str) -> CalleeList {
        let path = dir.join("c.csv");
        std::fs::write(&path, text).unwrap();
        let columns = vec!["name".to_string()];
        let rows: Vec<Row> = text
            .lines()
            .skip(1)
            .map(|l| {
                let (phone, name) = l.split_once(',').unwrap();
                Row {
                    phone: phone.into(),
                    values: vec![name.into()],
                }
            })
            .collect();
        CalleeList {
            fingerprints: rows.iter().map(|r| fingerprint(r, &columns)).collect(),
            keys: rows.iter().map(|r| phone::number_key(&r.phone)).collect(),
            skip: Arc::from(Vec::new()),
            columns,
            origin: Origin::File {
                shown: path.clone(),
                real: path,
                format: Format::Csv,
            },
        }
    }

    #[test]
    fn a_stream_reads_the_rows_once_in_chunks_from_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = std::iter::once("phone,name\n".to_string())
            .chain((0..10).map(|i| format!("137000000{i:02},n{i}\n")))
            .collect();
        let list = file_list(dir.path(), &text);
        let mut rx = list.stream(3, 4);
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            chunks.push(chunk.unwrap());
        }
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 3]);
        assert_eq!(chunks[0][0].phone, "13700000003");
        assert_eq!(chunks[1][2].values, ["n9"]);
        assert_eq!(chunks.concat(), list.rows(3, 7).unwrap());
        // Inline lists chunk the same way.
        let inline = CalleeList::inline(list.columns.clone(), list.rows(0, 10).unwrap());
        let mut rx = inline.stream(8, 4);
        assert_eq!(rx.blocking_recv().unwrap().unwrap().len(), 2);
        assert!(rx.blocking_recv().is_none());
    }

    #[test]
    fn a_list_without_some_rows_never_reads_them_out_and_counts_only_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let text = "phone,name\n13700000001,a\n13700000002,b\n13700000003,c\n13700000004,d\n";
        let list = file_list(dir.path(), text);
        let less = list.without(&[1]);
        assert_eq!(less.len(), 3);
        assert_eq!(
            less.fingerprints(),
            &[
                list.fingerprints()[0],
                list.fingerprints()[2],
                list.fingerprints()[3]
            ]
        );
        let phones: Vec<String> = less
            .rows(0, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.phone)
            .collect();
        assert_eq!(phones, ["13700000001", "13700000003", "13700000004"]);
        // Twice over: the second removal is of the rows left.
        let least = less.without(&[0, 2]);
        let phones: Vec<String> = least
            .rows(0, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.phone)
            .collect();
        assert_eq!(phones, ["13700000003"]);
        assert_eq!(least.keys(), &[phone::number_key("13700000003")]);
        assert_eq!(least.lines(0, 1).map(|(_, a, b)| (a, b)), Some((4, 4)));
        let inline = CalleeList::inline(
            vec![],
            ["13700000001", "13700000002"]
                .iter()
                .map(|p| Row {
                    phone: p.to_string(),
                    values: vec![],
                })
                .collect(),
        )
        .without(&[0]);
        assert_eq!(inline.rows(0, 5).unwrap()[0].phone, "13700000002");
        assert_eq!(inline.len(), 1);
    }

    #[test]
    fn a_stream_of_a_file_changed_since_its_check_ends_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let list = file_list(
            dir.path(),
            "phone,name\n13700000001,a\n13700000002,b\n13700000003,c\n",
        );
        std::fs::write(
            dir.path().join("c.csv"),
            "phone,name\n13700000001,a\n13700000009,b\n13700000003,c\n",
        )
        .unwrap();
        let mut rx = list.stream(0, 1);
        assert_eq!(rx.blocking_recv().unwrap().unwrap().len(), 1);
        let err = rx.blocking_recv().unwrap().unwrap_err();
        assert!(matches!(err, RowsError::Changed(_, 2)), "{err}");
        assert!(rx.blocking_recv().is_none(), "nothing after the error");
    }

    #[test]
    fn a_crlf_file_names_the_lines_an_editor_shows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crlf.csv");
        std::fs::write(
            &path,
            "phone,n\r\n13700000001,a\r\n13700000002,b\r\n13700000001,c\r\n",
        )
        .unwrap();
        let diags = check_file(&path, Format::Csv, crate::manifest::Vendor::Aliyun);
        let repeat = diags
            .iter()
            .find(|d| d.message.contains("repeats"))
            .unwrap_or_else(|| panic!("{diags:?}"));
        assert_eq!(repeat.line, 4, "{}", repeat.message);
        assert!(repeat.message.contains("line 2"), "{}", repeat.message);
    }

    /// Item: the column checks compared each header name with every one before it: an
    /// 80,000-column header took 13 s in a release build. In this debug build a quadratic
    /// check of 50,000 columns would take minutes; what is asserted is what it finds.
    #[test]
    fn a_wide_header_is_checked_in_one_pass_and_its_repeats_found_where_they_are() {
        const WIDE: usize = 50_000;
        let dir = tempfile::tempdir().unwrap();
        let mut names: Vec<String> = (0..WIDE).map(|i| format!("c{i}")).collect();
        names[40_000] = "c7".into();
        names[45_000] = "phone".into();
        names[49_999] = "c40001".into();
        let header = format!("phone,{}\n", names.join(","));
        let row = format!("13700000001{}\n", ",v".repeat(WIDE));
        let path = dir.path().join("wide.csv");
        std::fs::write(&path, format!("{header}{row}")).unwrap();
        let diags = check_file(&path, Format::Csv, crate::manifest::Vendor::Volcengine);
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "column `c7` is named twice (column number 9 and column number 40002)",
                "column `phone` is named twice (column number 1 and column number 45002)",
                "column `c40001` is named twice (column number 40003 and column number 50001)",
            ]
        );
        assert!(diags.iter().all(|d| d.line == 1 && d.hint.is_some()));

        // A wide header without repeats is valid, and its rows are read back by one map
        // of the header, not one search of it per column.
        let names: Vec<String> = (0..WIDE).map(|i| format!("c{i}")).collect();
        let path = dir.path().join("ok.csv");
        std::fs::write(&path, format!("phone,{}\n{row}", names.join(","))).unwrap();
        let diags = check_file(&path, Format::Csv, crate::manifest::Vendor::Xfyeta);
        assert!(diags.iter().all(|d| !d.is_error()), "{:?}", diags.first());
        let mut columns = names.clone();
        columns.reverse();
        let want = Row {
            phone: "13700000001".into(),
            values: vec!["v".into(); WIDE],
        };
        let list = CalleeList {
            fingerprints: vec![fingerprint(&want, &columns)].into(),
            keys: vec![phone::number_key(&want.phone)].into(),
            skip: Arc::from(Vec::new()),
            columns,
            origin: Origin::File {
                shown: path.clone(),
                real: path,
                format: Format::Csv,
            },
        };
        assert_eq!(list.rows(0, 1).unwrap(), [want]);
    }

    /// Item: `#[derive(Debug)]` on the callee types printed numbers and names wherever a
    /// `{:?}` reached a message or a log.
    #[test]
    fn debug_shows_the_shape_of_callees_never_a_number_or_a_value() {
        const NUMBER: &str = "13712345678";
        const NAME: &str = "CANARY名";
        let row = Row {
            phone: NUMBER.into(),
            values: vec![NAME.into(), "x".into()],
        };
        let mut values = BTreeMap::new();
        values.insert("phone".to_string(), NUMBER.to_string());
        values.insert("name".to_string(), NAME.to_string());
        let doc = CalleesDoc {
            file: Some("c.csv".into()),
            numbers: Some(vec![NUMBER.into(), "137 1234 5679".into()]),
            rows: Some(vec![values]),
            variables: Some(vec!["name".into()]),
        };
        let list = CalleeList::inline(vec!["name".into(), "x".into()], vec![row.clone()]);
        let dir = tempfile::tempdir().unwrap();
        let file = file_list(dir.path(), &format!("phone,name\n{NUMBER},{NAME}\n"));
        let fp_hex: String = list.fingerprints()[0]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for (shown, want) in [
            (format!("{row:?}"), "Row { phone: 137****5678, values: 2 }"),
            (format!("{doc:?}"), "numbers: Some(2), rows: Some(1)"),
            (format!("{list:?}"), "origin: Inline(1 rows), rows: 1"),
            (format!("{file:?}"), "rows: 1"),
            (format!("{:?}", vec![row.clone()]), "137****5678"),
            (format!("{:#?}", Some(&list)), "Inline(1 rows)"),
        ] {
            assert!(shown.contains(want), "{shown}");
            for canary in [NUMBER, "5679", NAME, "CANARY", fp_hex.as_str()] {
                assert!(!shown.contains(canary), "{canary} in {shown}");
            }
            // Not even the fingerprint's bytes as a list.
            let first = list.fingerprints()[0][0];
            assert!(!shown.contains(&format!("[{first}, ")), "{shown}");
        }
    }

    #[test]
    fn decode_points_at_the_first_bad_byte() {
        let err = decode(b"ab\ncd\xffe".to_vec(), Path::new("x")).unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
    }
}
