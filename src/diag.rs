//! Diagnostics: every problem a user can cause, with where it is and what to do.
//!
//! A diagnostic names the file, line and column, the task and the field path, says what
//! was expected and gives a `hint:` for the next step. It is rendered as text (with the
//! offending line and a caret on a terminal), as JSON for tools, or as GitHub Actions
//! annotations. Phone numbers in messages and source excerpts are masked on the way out:
//! in an excerpt by stars of the same display width, so that the caret, placed by display
//! width, stays under the field it points at.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::phone::{hide_digits, mask_phones_in_line, mask_phones_in_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// What a warning about a date-time in the past is about. The planner needs to know: such a
/// warning matters only for a task that would be created now (a created task's start is
/// history), and an end in the past blocks the create (the task could never dial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Past {
    /// The first call time is in the past.
    Start,
    /// The last call time is in the past.
    End,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub len: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// A warning that a schedule lies in the past (see [`Past`]).
    #[serde(skip)]
    pub past: Option<Past>,
    /// The text under the caret is personal data (a phone number, valid or not): a source
    /// excerpt hides all of its digits, whatever the masker would make of them.
    #[serde(skip)]
    pub personal: bool,
}

impl Diagnostic {
    pub fn error(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            len: 1,
            task: None,
            field: None,
            message: message.into(),
            expected: None,
            hint: None,
            past: None,
            personal: false,
        }
    }

    pub fn warning(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, message)
        }
    }

    pub fn at(mut self, line: usize, column: usize, len: usize) -> Diagnostic {
        self.line = line;
        self.column = column;
        self.len = len.max(1);
        self
    }

    pub fn task(mut self, task: Option<&str>) -> Diagnostic {
        self.task = task.map(str::to_string);
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Diagnostic {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Diagnostic {
        self.expected = Some(expected.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn past(mut self, past: Past) -> Diagnostic {
        self.past = Some(past);
        self
    }

    /// Marks the text under the caret as personal data ([`Diagnostic::personal`]).
    pub fn personal(mut self) -> Diagnostic {
        self.personal = true;
        self
    }

    /// `file:line:col` (just the file when there is no line).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Masks phone numbers in every free-text part (a last line of defence: the code that
    /// builds diagnostics already avoids quoting values). Invisible and control characters (a byte-order mark, a zero-width space, a bell)
    /// are shown escaped (`\u{feff}`), so that what the message quotes can be found.
    pub fn masked(mut self) -> Diagnostic {
        let clean = |s: &str| escape_invisible(&mask_phones_in_text(s));
        self.message = clean(&self.message);
        self.expected = self.expected.map(|s| clean(&s));
        self.hint = self.hint.map(|s| clean(&s));
        self.task = self.task.map(|s| clean(&s));
        self.field = self.field.map(|s| clean(&s));
        self
    }
}

/// Whether `c` shows as nothing (or moves the text around) on a terminal.
fn is_invisible(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
        )
}

/// `text` with every invisible or control character written as `\u{…}`.
pub fn escape_invisible(text: &str) -> String {
    if !text.chars().any(is_invisible) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_invisible(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text rendering. `source` gives the offending line for the excerpt with a caret; pass
/// `None` when not writing to a terminal.
pub fn render_text(d: &Diagnostic, source: Option<&str>, color: bool) -> String {
    let line = source
        .filter(|_| d.line > 0)
        .and_then(|t| t.lines().nth(d.line - 1));
    render_text_line(d, line, color)
}

/// [`render_text`] given the offending line itself: for many diagnostics in one file, the
/// caller indexes the lines once instead of scanning the text for each.
pub fn render_text_line(d: &Diagnostic, source_line: Option<&str>, color: bool) -> String {
    let palette = crate::output::palette::Palette { on: color };
    let paint = |s: &str| match d.severity {
        Severity::Error => palette.error_label(s),
        Severity::Warning => palette.warning_label(s),
    };
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{}",
        paint(label),
        palette.bold(&format!(": {}", d.message))
    );
    let _ = writeln!(out, "  --> {}", d.location());
    if d.line > 0 {
        if let Some(line) = source_line {
            let (shown, lead, carets) = excerpt(d, line);
            let width = d.line.to_string().len();
            let pad = " ".repeat(width);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {}", d.line, shown);
            let _ = writeln!(out, "{pad} | {lead}{}", paint(&"^".repeat(carets)));
        }
    }
    match (&d.task, &d.field) {
        (Some(t), Some(f)) => {
            let _ = writeln!(out, "   = task: {t}, field: {f}");
        }
        (Some(t), None) => {
            let _ = writeln!(out, "   = task: {t}");
        }
        (None, Some(f)) => {
            let _ = writeln!(out, "   = field: {f}");
        }
        (None, None) => {}
    }
    if let Some(e) = &d.expected {
        let _ = writeln!(out, "   = expected: {e}");
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "   = hint: {h}");
    }
    out
}

/// The source line shown under `d`, the blank before its caret, and how many carets:
/// phone numbers masked with stars of the same width ([`mask_phones_in_line`]), every
/// digit under the caret hidden when it is personal data ([`Diagnostic::personal`]), and
/// invisible characters escaped. The caret is placed by the display width of what is
/// shown before it (a CJK character takes two columns, a tab stays a tab), so it stands
/// under the field whatever the line holds.
fn excerpt(d: &Diagnostic, line: &str) -> (String, String, usize) {
    use unicode_width::UnicodeWidthStr;
    let col = d.column.saturating_sub(1);
    let end = col + d.len.max(1);
    let mut masked = mask_phones_in_line(line);
    if d.personal {
        masked = hide_digits(&masked, col, end);
    }
    let (mut shown, mut lead, mut carets) = (String::new(), String::new(), 0);
    for (i, c) in masked.chars().enumerate() {
        let piece = if c == '\t' {
            "\t".to_string()
        } else if is_invisible(c) {
            format!("\\u{{{:x}}}", c as u32)
        } else {
            c.to_string()
        };
        let width = if c == '\t' { 1 } else { piece.width() };
        if i < col {
            if c == '\t' {
                lead.push('\t');
            } else {
                lead.push_str(&" ".repeat(width));
            }
        } else if i < end {
            carets += width;
        }
        shown.push_str(&piece);
    }
    (shown, lead, carets.clamp(1, 80))
}

/// GitHub Actions workflow commands, so CI shows each problem on the pull request's diff.
pub fn render_github(d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(t) = &d.task {
        let _ = write!(message, " (task {t}");
        if let Some(f) = &d.field {
            let _ = write!(message, ", field {f}");
        }
        message.push(')');
    }
    if let Some(e) = &d.expected {
        let _ = write!(message, "; expected {e}");
    }
    if let Some(h) = &d.hint {
        let _ = write!(message, "; hint: {h}");
    }
    format!(
        "::{level} file={},line={},col={}::{}\n",
        escape_property(&d.file.display().to_string()),
        d.line.max(1),
        d.column.max(1),
        escape_data(&message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Sorts diagnostics by file and position, errors before warnings at the same place.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.severity).cmp(&(&b.file, b.line, b.column, b.severity))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_location_caret_and_hint() {
        let d = Diagnostic::error(Path::new("tasks/a.yaml"), "recall_count must be at most 3")
            .at(2, 17, 1)
            .task(Some("renewal"))
            .field("spec.recall_count")
            .expected("an integer from 0 to 3")
            .hint("lower it");
        let out = render_text(&d, Some("spec:\n  recall_count: 5\n"), false);
        assert!(out.contains("--> tasks/a.yaml:2:17"), "{out}");
        assert!(
            out.contains("2 |   recall_count: 5\n  |                 ^"),
            "{out}"
        );
        assert!(
            out.contains("task: renewal, field: spec.recall_count"),
            "{out}"
        );
        assert!(out.contains("hint: lower it"), "{out}");
    }

    #[test]
    fn excerpts_mask_phone_numbers() {
        let d = Diagnostic::error(Path::new("a.yaml"), "bad").at(1, 3, 1);
        let out = render_text(&d, Some("- 13700000001\n"), false);
        assert!(!out.contains("13700000001"), "{out}");
        assert!(out.contains("1 | - *******0001\n  |   ^\n"), "{out}");
    }

    /// The caret stands under the field however the line is masked or what it holds: stars
    /// as wide as the digits they hide, CJK characters two columns wide.
    #[test]
    fn excerpts_keep_the_caret_under_the_field() {
        let line = "  callees: [\"1370000001\", \"137000000\"]  # 欠费 13700000001";
        let d = Diagnostic::error(Path::new("a.yaml"), "bad")
            .at(1, 27, 11)
            .personal();
        let out = render_text(&d, Some(line), false);
        assert!(
            out.contains("1 |   callees: [\"******0001\", \"*********\"]  # 欠费 *******0001\n  |                           ^^^^^^^^^^^\n"),
            "{out}"
        );
        let line = "  task_name: 欠费提醒 13700000001";
        let d = Diagnostic::error(Path::new("a.yaml"), "bad").at(1, 19, 11);
        let out = render_text(&d, Some(line), false);
        assert!(
            out.contains(
                "1 |   task_name: 欠费提醒 *******0001\n  |                       ^^^^^^^^^^^\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn invisible_characters_are_escaped() {
        let d = Diagnostic::error(Path::new("a.yaml"), "unknown field `\u{feff}name\u{1b}[2J`")
            .masked();
        assert_eq!(d.message, "unknown field `\\u{feff}name\\u{1b}[2J`");
        assert_eq!(escape_invisible("多行\n文本"), "多行\n文本");
    }

    #[test]
    fn github_annotations_escape() {
        let d = Diagnostic::error(Path::new("a,b.yaml"), "line1\nline2").at(3, 4, 1);
        assert_eq!(
            render_github(&d),
            "::error file=a%2Cb.yaml,line=3,col=4::line1%0Aline2\n"
        );
    }
}
