//! What `callform refresh` shows: per task the vendor's status (the common name and the
//! vendor's own value), progress, and every drift; then a summary. The JSON form is
//! documented in docs/refresh-format.md (version 1).

use serde::Serialize;

use super::palette::Palette;
use crate::refresh::{DriftItem, NumberRead, Observation, Read, NOT_LOADED_AFTER};

/// The JSON format's version.
pub const REFRESH_FORMAT_VERSION: u32 = 2;

/// One task's line: its read and its drift.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    #[serde(flatten)]
    pub observation: &'a Observation,
    pub drift: Vec<DriftItem>,
    /// What the read settles of an uncertain update (with `--write`; without, what it
    /// would), in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The counts at the bottom.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub read: usize,
    pub drifted: usize,
    pub gone: usize,
    pub failed: usize,
    /// Uncertain creates looked up by name.
    pub looked_up: usize,
    /// Uncertain starts or verbs settled by the read (`--write` only).
    pub settled: usize,
}

impl Summary {
    pub fn of(rows: &[Row<'_>], settled: usize) -> Summary {
        let mut s = Summary {
            settled,
            ..Summary::default()
        };
        for r in rows {
            s.read += 1;
            if !r.drift.is_empty() {
                s.drifted += 1;
            }
            match &r.observation.read {
                Read::Gone { .. } => s.gone += 1,
                Read::Failed { .. } => s.failed += 1,
                Read::Lookup { .. } => s.looked_up += 1,
                Read::Found { .. } => {}
            }
        }
        s
    }
}

/// The JSON document.
pub fn json(rows: &[Row<'_>], summary: &Summary, written: bool, at: &str) -> String {
    let doc = serde_json::json!({
        "format_version": REFRESH_FORMAT_VERSION,
        "at": at,
        "written": written,
        "tasks": rows,
        "summary": summary,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    out
}

/// The text table.
pub fn text(rows: &[Row<'_>], summary: &Summary, written: bool, color: bool) -> String {
    let p = Palette { on: color };
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("No tasks in the state: nothing to read back.\n");
        return out;
    }
    for r in rows {
        let o = r.observation;
        let id = o.task_id.as_deref().unwrap_or("(no id)");
        let head = if o.superseded {
            format!(
                "{} (superseded task {id}, {} {}, for its uncertain stop)",
                o.name, o.vendor, o.provider
            )
        } else {
            format!("{} ({} {}, {id})", o.name, o.vendor, o.provider)
        };
        match &o.read {
            Read::Found { observed } => {
                let progress = match (observed.called, observed.total) {
                    (Some(c), Some(t)) => format!(", called {c} of {t}"),
                    (None, Some(t)) => format!(", {t} callees"),
                    (Some(c), None) => format!(", called {c}"),
                    (None, None) => String::new(),
                };
                let status = format!("{} [{}]", observed.status, observed.raw);
                let status = if r.drift.is_empty() {
                    p.green(&status)
                } else {
                    p.yellow(&status)
                };
                out.push_str(&format!("  {head}: {status}{progress}\n"));
            }
            Read::Gone { detail } => {
                out.push_str(&format!("  {head}: {} ({detail})\n", p.red("gone")));
            }
            Read::Failed { reason } => {
                out.push_str(&format!("  {head}: {} ({reason})\n", p.red("not read")));
            }
            Read::Lookup { candidates } => {
                let what = match candidates.len() {
                    0 => "uncertain create: no task of its name found, but the vendor's listing does not prove there is none".to_string(),
                    1 => format!(
                        "uncertain create: exactly one task of its name, {} ({}): `callform plan --refresh` adopts it",
                        candidates[0].task_id, candidates[0].status
                    ),
                    n => format!(
                        "uncertain create: {n} tasks of its name ({}): stays uncertain, resolve it by hand",
                        candidates.iter().map(|c| c.task_id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                };
                out.push_str(&format!("  {head}: {}\n", p.yellow(&what)));
            }
        }
        for d in &r.drift {
            out.push_str(&format!("      {} {}\n", p.yellow("~"), describe(d)));
        }
        if let Some(batch) = &o.batch {
            out.push_str(&format!(
                "      {} {}\n",
                p.yellow("?"),
                numbers(batch, &o.name)
            ));
        }
        for note in &r.notes {
            out.push_str(&format!("      {} {note}\n", p.yellow("?")));
        }
    }
    out.push_str(&format!(
        "\nRead {} task(s): {} drifted, {} gone, {} not read, {} looked up by name.",
        summary.read, summary.drifted, summary.gone, summary.failed, summary.looked_up
    ));
    if written {
        out.push_str(&format!(
            " Recorded in the state ({} uncertain step(s) settled).",
            summary.settled
        ));
    } else {
        out.push_str(" The state was not changed (pass --write to record this).");
    }
    out.push('\n');
    out
}

/// What a number list said of an uncertain batch, in words: counts only.
fn numbers(read: &NumberRead, name: &str) -> String {
    match read {
        NumberRead::Checked(c) if c.found == c.rows => format!(
            "uncertain batch {}: all {} of its numbers are in the vendor's number list ({} entries): `--write` records it loaded",
            c.batch, c.rows, c.listed
        ),
        NumberRead::Checked(c) if c.found == 0 => format!(
            "uncertain batch {}: none of its {} numbers is in the vendor's number list ({} entries{}): `--write` records it not loaded when the list was read more than {} minutes after it was sent, every entry a readable number (the next apply then sends it again)",
            c.batch,
            c.rows,
            c.listed,
            if c.unreadable > 0 { format!(", {} unreadable", c.unreadable) } else { String::new() },
            NOT_LOADED_AFTER.as_secs() / 60
        ),
        NumberRead::Checked(c) => format!(
            "uncertain batch {}: {} of its {} numbers are in the vendor's number list ({} entries): the vendor holds part of it, so it stays for a person (`callform state batch {name} {} loaded|not-loaded`)",
            c.batch, c.found, c.rows, c.listed, c.batch
        ),
        NumberRead::Failed { batch, reason } => format!(
            "uncertain batch {batch}: not looked for in the vendor's number list: {reason}"
        ),
    }
}

/// One drift, in words.
pub fn describe(d: &DriftItem) -> String {
    match d {
        DriftItem::Status {
            recorded,
            vendor,
            raw,
        } => format!(
            "status: callform left it {recorded}, the vendor reports {vendor} [{raw}] (changed outside callform)"
        ),
        DriftItem::Wanted { wanted, vendor } => {
            format!("status: the manifest says {wanted}, the vendor reports {vendor}")
        }
        DriftItem::Field {
            field,
            recorded,
            vendor,
        } => format!("{field}: {recorded} in the state, {vendor} at the vendor"),
        DriftItem::Gone { detail } => format!("gone at the vendor: {detail}"),
    }
}
