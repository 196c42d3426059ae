//! The rescue file: where a run's records go when the database stops taking them.
//!
//! A PostgreSQL run writes its journal as rows. When a write fails (the server went away,
//! the lock's session ended), the records that could not be stored are the outcomes of
//! requests that were sent: losing them would make the next apply send them again. So
//! from the first failed write on, the run log writes nothing more to the database and
//! keeps every record it is given in this file, next to the project, synced before the
//! caller hears back. No intent is sent after that: an intent is kept here only so that
//! the rows stay numbered without a gap, marked `unsent`, and is never pushed.
//!
//! The next command on that state (plan, apply, refresh, any `state` command) pushes the
//! file into the database before anything else, under the state's lock, and refuses to go
//! on if it cannot: nothing reads a state that is missing what this file holds. Once the
//! rows are in, the file is removed.
//!
//! Format: JSON lines, each with the SHA-256 of its own JSON as its last member (as the
//! file store's journal lines): a header naming the database location (never a password),
//! the workspace and the run, then one line per row, `{"seq":N,"entry":{…}}`, the entry
//! exactly as the journal holds it (no secret, no phone number, no callee variable). A
//! line that does not check, a header of a newer version, rows of another workspace, a
//! gap in the rows: the file is refused, never dropped or guessed at.
//!
//! Pushing, under the lock, in one transaction with the run's rows read: the rows the
//! database already has (the failed write may in fact have committed) must be the same
//! as the file's; the file must start no later than where the database's rows end; the
//! rest are added in order, leaving out the `unsent` intents, renumbered to follow on.
//! A run no longer pending (folded meanwhile without these records) is refused.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::checksum::{check_line, sum_line, Line};
use super::replay::Entry;

/// The version of the rescue file this callform writes; a newer one is refused.
pub const RESCUE_VERSION: u32 = 1;

/// The directory rescue files of this process go in: the project's (set once by the
/// command, from where callform.yaml is). Unset (a library caller), a failed write is not
/// rescued: the run log stops as it did before rescue files.
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Sets the directory rescue files go in (the first call wins: one project a process).
pub fn set_dir(dir: &Path) {
    let _ = DIR.set(dir.to_path_buf());
}

/// The rescue file of `workspace`, when a directory is set.
pub fn path_for(workspace: &str) -> Option<PathBuf> {
    DIR.get().map(|dir| file_in(dir, workspace))
}

/// The rescue file of `workspace` in `dir`: `callform.rescue.<workspace>.jsonl`, the
/// workspace's characters other than letters, digits, `-` and `_` written as `_`.
pub fn file_in(dir: &Path, workspace: &str) -> PathBuf {
    let safe: String = workspace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("callform.rescue.{safe}.jsonl"))
}

/// The first line: whose rows these are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub rescue: u32,
    /// The database location, as messages show it (no password).
    pub location: String,
    pub workspace: String,
    pub run: String,
}

/// One journal row that the database did not take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub seq: i64,
    pub entry: Value,
    /// An intent refused (never sent): kept for the numbering, never pushed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsent: bool,
}

/// A rescue file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescue {
    pub header: Header,
    /// The rows, in `seq` order.
    pub rows: Vec<Row>,
}

/// Whether `entry` is written before a request is sent (an intent of any step).
pub fn is_intent(entry: &Entry) -> bool {
    matches!(
        entry,
        Entry::Begin { .. }
            | Entry::Intent { .. }
            | Entry::Batch { .. }
            | Entry::Start { .. }
            | Entry::Verb { .. }
            | Entry::SupersededStop { .. }
            | Entry::Update { .. }
    )
}

/// Appends rows to one rescue file, creating it (with its header) on the first rows.
pub struct Writer {
    path: PathBuf,
    header: Header,
    file: Mutex<Option<File>>,
}

impl Writer {
    pub fn new(path: PathBuf, header: Header) -> Writer {
        Writer {
            path,
            header,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `rows` and syncs them; `Ok` only once they are on disk. A file already
    /// there (a rescue not pushed) is never appended to or replaced: its rows belong to
    /// another run.
    pub fn append(&self, rows: &[Row]) -> Result<(), String> {
        let mut slot = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = Vec::new();
        let created = slot.is_none();
        if created {
            text.extend(line(&self.header)?);
        }
        for row in rows {
            text.extend(line(row)?);
        }
        if created {
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.path)
                .map_err(|e| format!("cannot create {}: {e}", self.path.display()))?;
            *slot = Some(file);
        }
        let Some(file) = slot.as_mut() else {
            return Err("the rescue file is not open".into());
        };
        file.write_all(&text)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        if created {
            let _ = super::file::sync_dir(&self.path);
        }
        Ok(())
    }
}

fn line(value: &impl Serialize) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    let mut out = sum_line(&json);
    out.push(b'\n');
    Ok(out)
}

/// Why a rescue file was refused: `line` is 1-based, 0 for the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub line: usize,
    pub reason: String,
}

/// Reads the rescue file at `path`: `None` when there is none. Anything that does not
/// check is refused (see the module docs).
pub fn read(path: &Path) -> Result<Option<Rescue>, Refused> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Refused {
                line: 0,
                reason: format!("cannot read it: {e}"),
            })
        }
    };
    parse(&bytes).map(Some)
}

/// Parses a rescue file's bytes (see [`read`]).
pub fn parse(bytes: &[u8]) -> Result<Rescue, Refused> {
    let refuse = |line: usize, reason: String| Refused { line, reason };
    if !bytes.ends_with(b"\n") {
        return Err(refuse(
            bytes.split(|b| *b == b'\n').count(),
            "the last line is cut short (the file does not end with a newline)".into(),
        ));
    }
    let mut header: Option<Header> = None;
    let mut rows: Vec<Row> = Vec::new();
    for (i, raw) in bytes[..bytes.len() - 1].split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let json = match check_line(raw) {
            Line::Intact(json) => json,
            Line::Absent => return Err(refuse(n, "the line has no checksum".into())),
            Line::Mismatch => {
                return Err(refuse(
                    n,
                    "the line's checksum does not match its content (changed or damaged)".into(),
                ))
            }
        };
        match &header {
            None => {
                let version: Value = serde_json::from_slice(&json)
                    .map_err(|e| refuse(n, format!("the header does not read: {e}")))?;
                match version.get("rescue").and_then(Value::as_u64) {
                    Some(v) if v > u64::from(RESCUE_VERSION) => {
                        return Err(refuse(
                            n,
                            format!("it was written by a newer callform (rescue version {v}, this one reads up to {RESCUE_VERSION})"),
                        ))
                    }
                    Some(_) => {}
                    None => return Err(refuse(n, "the header has no `rescue` version".into())),
                }
                let h: Header = serde_json::from_value(version)
                    .map_err(|e| refuse(n, format!("the header does not read: {e}")))?;
                header = Some(h);
            }
            Some(_) => {
                let row: Row = serde_json::from_slice(&json)
                    .map_err(|e| refuse(n, format!("the row does not read: {e}")))?;
                serde_json::from_value::<Entry>(row.entry.clone())
                    .map_err(|e| refuse(n, format!("the row's entry does not read: {e}")))?;
                rows.push(row);
            }
        }
    }
    let Some(header) = header else {
        return Err(refuse(1, "the file is empty".into()));
    };
    rows.sort_by_key(|r| r.seq);
    for pair in rows.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            return Err(refuse(
                0,
                format!(
                    "its rows are not consecutive (row {} follows row {})",
                    pair[1].seq, pair[0].seq
                ),
            ));
        }
    }
    Ok(Rescue { header, rows })
}

/// Merges `rescue` into the run's `stored` rows (seq 0.. in order): the rows to add,
/// numbered to follow on, or why not (see the module docs).
pub fn merge(rescue: &Rescue, stored: &[(i64, Value)]) -> Result<Vec<(i64, Value)>, String> {
    let have = stored.len() as i64;
    if let Some(first) = rescue.rows.first() {
        if first.seq > have {
            return Err(format!(
                "the database holds {have} rows of run {} but the rescue file starts at row {}: rows in between are missing",
                rescue.header.run, first.seq
            ));
        }
    }
    let mut next = have;
    let mut add = Vec::new();
    for row in &rescue.rows {
        if row.seq < have {
            // A number below 0 (a file edited by hand) matches no stored row: refused.
            let there = usize::try_from(row.seq).ok().and_then(|i| stored.get(i));
            if there.map(|(_, entry)| entry) != Some(&row.entry) {
                return Err(format!(
                    "row {} of run {} differs between the database and the rescue file",
                    row.seq, rescue.header.run
                ));
            }
            continue;
        }
        if row.unsent {
            continue;
        }
        add.push((next, row.entry.clone()));
        next += 1;
    }
    Ok(add)
}

/// Removes a pushed rescue file, durably.
pub fn remove(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path)?;
    let _ = super::file::sync_dir(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> Header {
        Header {
            rescue: RESCUE_VERSION,
            location: "postgres://u@h/db?workspace=w".into(),
            workspace: "w".into(),
            run: "r1".into(),
        }
    }

    fn outcome(name: &str) -> Value {
        json!({"op": "outcome", "name": name, "at": "2026-01-01T00:00:00Z",
               "outcome": {"result": "created", "task_id": format!("id-{name}")}})
    }

    fn intent(name: &str) -> Value {
        json!({"op": "start", "name": name, "at": "2026-01-01T00:00:00Z", "how": "task/start"})
    }

    fn written(rows: &[Row]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = file_in(dir.path(), "w");
        let w = Writer::new(path.clone(), header());
        for r in rows {
            w.append(std::slice::from_ref(r)).unwrap();
        }
        (dir, path)
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                seq: 5,
                entry: outcome("a"),
                unsent: false,
            },
            Row {
                seq: 7,
                entry: outcome("c"),
                unsent: false,
            },
            Row {
                seq: 6,
                entry: intent("b"),
                unsent: true,
            },
        ]
    }

    #[test]
    fn the_entries_used_here_read_as_journal_entries() {
        for v in [outcome("a"), intent("b")] {
            serde_json::from_value::<Entry>(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
        }
    }

    #[test]
    fn written_rows_read_back_in_order() {
        let (_dir, path) = written(&rows());
        let r = read(&path).unwrap().unwrap();
        assert_eq!(r.header, header());
        assert_eq!(
            r.rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        assert!(r.rows[1].unsent && !r.rows[0].unsent);
    }

    #[test]
    fn no_file_is_no_rescue() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&file_in(dir.path(), "w")), Ok(None));
    }

    #[test]
    fn a_file_already_there_is_never_appended_to() {
        let (_dir, path) = written(&rows());
        let before = std::fs::read(&path).unwrap();
        let w = Writer::new(path.clone(), header());
        assert!(w.append(&rows()[..1]).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_changed_byte_is_refused_naming_the_line() {
        let (_dir, path) = written(&rows());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("id-c", "id-x", 1)).unwrap();
        let e = read(&path).unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert!(e.reason.contains("checksum"), "{e:?}");
    }

    #[test]
    fn a_cut_last_line_is_refused() {
        let (_dir, path) = written(&rows());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() - 10]).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.reason.contains("cut short"), "{e:?}");
    }

    #[test]
    fn a_line_without_checksum_is_refused() {
        let (_dir, path) = written(&rows());
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"seq\":8,\"entry\":{}}\n");
        std::fs::write(&path, text).unwrap();
        assert_eq!(read(&path).unwrap_err().line, 5);
    }

    #[test]
    fn a_newer_version_is_refused() {
        let mut h = header();
        h.rescue = RESCUE_VERSION + 1;
        let mut bytes = line(&h).unwrap();
        bytes.extend(line(&rows()[0]).unwrap());
        let e = parse(&bytes).unwrap_err();
        assert!(e.reason.contains("newer callform"), "{e:?}");
    }

    #[test]
    fn a_gap_in_the_rows_is_refused() {
        let mut bytes = line(&header()).unwrap();
        bytes.extend(line(&rows()[0]).unwrap());
        bytes.extend(line(&rows()[1]).unwrap());
        let e = parse(&bytes).unwrap_err();
        assert!(e.reason.contains("not consecutive"), "{e:?}");
    }

    #[test]
    fn an_entry_that_is_not_a_journal_entry_is_refused() {
        let mut bytes = line(&header()).unwrap();
        bytes.extend(
            line(&Row {
                seq: 1,
                entry: json!({"op": "nonsense"}),
                unsent: false,
            })
            .unwrap(),
        );
        let e = parse(&bytes).unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    fn stored(n: i64) -> Vec<(i64, Value)> {
        (0..n).map(|i| (i, outcome(&format!("s{i}")))).collect()
    }

    #[test]
    fn merge_adds_what_the_database_lacks_and_leaves_out_unsent_intents() {
        let r = parse(&{
            let mut b = line(&header()).unwrap();
            for row in rows() {
                b.extend(line(&row).unwrap());
            }
            b
        })
        .unwrap();
        // The failed write did not commit: rows 5.. are missing.
        let add = merge(&r, &stored(5)).unwrap();
        assert_eq!(add, vec![(5, outcome("a")), (6, outcome("c"))]);
        // It did commit row 5 (and 6, the unsent intent): only what follows is added.
        let mut there = stored(5);
        there.push((5, outcome("a")));
        there.push((6, intent("b")));
        assert_eq!(merge(&r, &there).unwrap(), vec![(7, outcome("c"))]);
        // Already pushed: nothing more.
        there.push((7, outcome("c")));
        assert_eq!(merge(&r, &there).unwrap(), vec![]);
    }

    #[test]
    fn merge_refuses_missing_rows_and_differing_rows() {
        let r = Rescue {
            header: header(),
            rows: rows(),
        };
        let mut sorted = r.clone();
        sorted.rows.sort_by_key(|r| r.seq);
        assert!(merge(&sorted, &stored(4)).unwrap_err().contains("missing"));
        let mut there = stored(5);
        there.push((5, outcome("other")));
        assert!(merge(&sorted, &there).unwrap_err().contains("differs"));
    }

    #[test]
    fn merge_refuses_a_row_numbered_below_zero_without_panicking() {
        let mut r = Rescue {
            header: header(),
            rows: rows(),
        };
        r.rows.sort_by_key(|r| r.seq);
        r.rows[0].seq = -1;
        assert!(merge(&r, &stored(5)).unwrap_err().contains("differs"));
    }
}
