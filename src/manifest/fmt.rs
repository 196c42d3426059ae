//! `callform fmt`: the canonical layout of a manifest, comments kept.
//!
//! The formatter works on lines, so every comment and every key stays where its author put
//! it; it changes layout only:
//! - two spaces per level of nesting, with a block sequence indented under its key
//!   (`key:\n  - item`), and `- ` items whose content lines up two columns in;
//! - a full-line comment indented like the line it describes (the next one);
//! - one space after a plain key's `:` and after a sequence item's `-`;
//! - no trailing whitespace, LF line ends, no byte-order mark, at most one blank line in a
//!   row, none at the start, exactly one newline at the end.
//!
//! Block scalars (`|`, `>`) move as a whole, their inner layout and trailing spaces
//! untouched. Key order is the author's: reordering would separate keys from their
//! comments.
//!
//! [`format()`] proves every result before it is used: the formatted text must parse to the
//! same documents, value for value, as the original. Where it does not (a layout this
//! formatter does not know), the file is reported and left as it is, never rewritten with
//! another meaning.

use super::yaml::{self, Node, Value};

/// Why a file could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FmtError {
    /// The file is not YAML callform can read (`callform validate` says where).
    #[error("line {line}: not valid YAML ({message}); run `callform validate` for details")]
    Syntax { line: usize, message: String },
    /// The canonical layout would read differently: the file is left as it is.
    #[error("its layout is one `callform fmt` cannot rewrite without changing what it means; it was left as it is")]
    Unsafe,
}

/// `text` in the canonical layout, proven to mean the same.
pub fn format(text: &str) -> Result<String, FmtError> {
    prove(text, layout(text))
}

/// `out` if it parses to the same documents as `text`, value for value.
fn prove(text: &str, out: String) -> Result<String, FmtError> {
    let before = yaml::parse(text).map_err(|e| FmtError::Syntax {
        line: e.pos.line,
        message: e.message,
    })?;
    let after = yaml::parse(&out).map_err(|_| FmtError::Unsafe)?;
    let same = before.len() == after.len()
        && before
            .iter()
            .zip(&after)
            .all(|(a, b)| same_value(&a.root, &b.root));
    if same {
        Ok(out)
    } else {
        Err(FmtError::Unsafe)
    }
}

/// Equal as data, wherever it stands.
fn same_value(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (
            Value::Scalar {
                text: ta,
                plain: pa,
            },
            Value::Scalar {
                text: tb,
                plain: pb,
            },
        ) => ta == tb && pa == pb,
        (Value::Seq(xa), Value::Seq(xb)) => {
            xa.len() == xb.len() && xa.iter().zip(xb).all(|(x, y)| same_value(x, y))
        }
        (Value::Map(ma), Value::Map(mb)) => {
            ma.len() == mb.len()
                && ma
                    .iter()
                    .zip(mb)
                    .all(|((ka, va), (kb, vb))| same_value(ka, kb) && same_value(va, vb))
        }
        _ => false,
    }
}

/// One level of nesting: where its lines stood and where they go.
struct Level {
    old: usize,
    new: usize,
    /// The last line at this level opened a block (`key:` with nothing after it).
    opened: bool,
    /// A block sequence at this level is being indented under its key, by this much.
    seq_shift: Option<usize>,
}

/// The re-laid-out text (unproven: [`format`] proves it).
fn layout(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut stack: Vec<Level> = Vec::new();
    // Comments wait for the line they describe, to take its indentation.
    let mut pending: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        i += 1;
        if trimmed.is_empty() {
            // Comments before a blank line describe no one line: they keep their level.
            for (old, c) in pending.drain(..) {
                out.push(format!("{}{c}", " ".repeat(map_indent(&stack, old))));
            }
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            continue;
        }
        if trimmed.starts_with('#') {
            pending.push((line.len() - line.trim_start_matches(' ').len(), trimmed));
            continue;
        }
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
            flush_comments(&mut out, &mut pending, 0);
            stack.clear();
            out.push(trimmed.to_string());
            continue;
        }
        let ws = line.len() - line.trim_start().len();
        if line[..ws].contains(|c| c != ' ') {
            // Tabs are not YAML indentation: leave such a line as it is.
            flush_comments(&mut out, &mut pending, 0);
            out.push(line.trim_end().to_string());
            continue;
        }
        let old = line.len() - line.trim_start_matches(' ').len();
        while stack.last().is_some_and(|l| l.old > old) {
            stack.pop();
        }
        let is_item = trimmed == "-" || trimmed.starts_with("- ");
        let new = match stack.last_mut() {
            Some(top) if top.old == old => {
                if is_item && (top.opened || top.seq_shift.is_some()) {
                    top.seq_shift = Some(2);
                } else if !is_item {
                    top.seq_shift = None;
                }
                top.new + top.seq_shift.unwrap_or(0)
            }
            Some(top) => {
                let new = top.new + top.seq_shift.unwrap_or(0) + 2;
                stack.push(Level {
                    old,
                    new,
                    opened: false,
                    seq_shift: None,
                });
                new
            }
            None => {
                stack.push(Level {
                    old,
                    new: 0,
                    opened: false,
                    seq_shift: None,
                });
                0
            }
        };
        flush_comments(&mut out, &mut pending, new);
        let (body, content_old) = tidy(trimmed, old);
        // The content of `- item` lines sits in levels of its own, two columns per dash.
        let mut content_new = new;
        for (k, &col) in content_old.iter().enumerate() {
            content_new = new + 2 * (k + 1);
            stack.push(Level {
                old: col,
                new: content_new,
                opened: false,
                seq_shift: None,
            });
        }
        let opens = opens_block(&body);
        if let Some(top) = stack.last_mut() {
            top.opened = opens;
        }
        out.push(format!("{}{}", " ".repeat(new), body));
        if let Some(indicator) = block_scalar(&body) {
            // The scalar's lines move with their key, their own layout kept.
            let key_col = content_old.last().copied().unwrap_or(old);
            // Without an indentation indicator the content's own first line sets its
            // indentation: it goes two columns in from the key, the rest moves with it.
            // With one (`|2`), the content is fixed relative to the key and moves with it.
            let first = lines[i..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start_matches(' ').len())
                .filter(|&n| n > key_col);
            let shift = match first {
                Some(first) if !indicator.contains(|c: char| c.is_ascii_digit()) => {
                    (content_new + 2) as isize - first as isize
                }
                _ => content_new as isize - key_col as isize,
            };
            while i < lines.len() {
                let next = lines[i];
                let next_indent = next.len() - next.trim_start_matches(' ').len();
                if !next.trim().is_empty() && next_indent <= key_col {
                    break;
                }
                i += 1;
                if next.trim().is_empty() {
                    out.push(String::new());
                } else {
                    let indent = (next_indent as isize + shift).max(0) as usize;
                    out.push(format!("{}{}", " ".repeat(indent), &next[next_indent..]));
                }
            }
        }
    }
    flush_comments(&mut out, &mut pending, 0);
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Writes the waiting comments at `indent`, the indentation of the line they describe.
fn flush_comments(out: &mut Vec<String>, pending: &mut Vec<(usize, &str)>, indent: usize) {
    for (_, c) in pending.drain(..) {
        out.push(format!("{}{c}", " ".repeat(indent)));
    }
}

/// Where a line at column `old` would go, the levels as they stand.
fn map_indent(stack: &[Level], old: usize) -> usize {
    match stack.iter().rev().find(|l| l.old <= old) {
        Some(l) if l.old == old => l.new + l.seq_shift.unwrap_or(0),
        Some(l) => l.new + l.seq_shift.unwrap_or(0) + 2,
        None => 0,
    }
}

/// A line's text with one space after each leading `-` and after a plain key's `:`, the
/// number of leading dashes, and the old column of the content after each dash.
fn tidy(trimmed: &str, old: usize) -> (String, Vec<usize>) {
    let mut rest = trimmed;
    let mut col = old;
    let mut cols = Vec::new();
    let mut body = String::new();
    while rest == "-" || rest.starts_with("- ") {
        let after = rest[1..].trim_start_matches(' ');
        col += rest.len() - after.len();
        cols.push(col);
        body.push_str(if after.is_empty() { "-" } else { "- " });
        rest = after;
    }
    body.push_str(&tidy_key(rest));
    (body.trim_end().to_string(), cols)
}

/// `key:   value` as `key: value` when the key is plain (letters, digits, `_`, `-`, `.`).
fn tidy_key(text: &str) -> String {
    let key_len = text
        .find(|c: char| !(c.is_alphanumeric() || "_-.".contains(c)))
        .unwrap_or(text.len());
    if key_len == 0 {
        return text.trim_end().to_string();
    }
    let after = &text[key_len..];
    match after.strip_prefix(':') {
        Some(value) if value.starts_with(' ') => {
            let value = value.trim_start_matches(' ');
            if value.is_empty() {
                format!("{}:", &text[..key_len])
            } else if value.starts_with('#') {
                // `key:   # comment` keeps its comment's place.
                text.trim_end().to_string()
            } else {
                format!("{}: {}", &text[..key_len], value.trim_end())
            }
        }
        _ => text.trim_end().to_string(),
    }
}

/// Whether the line opens a nested block (`key:` alone, or with only a comment).
fn opens_block(body: &str) -> bool {
    let code = strip_comment(body);
    code.ends_with(':')
}

/// The line without a trailing ` # comment` outside quotes.
fn strip_comment(body: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in body.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev == ' ' => return body[..i].trim_end(),
            None => {}
        }
        prev = c;
    }
    body.trim_end()
}

/// The block-scalar indicator ending the line (`|`, `>-`, `|2+` …), if any.
fn block_scalar(body: &str) -> Option<&str> {
    let last = strip_comment(body).rsplit([' ', ':']).next()?;
    let mut chars = last.chars();
    (matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '+' || c == '-' || c.is_ascii_digit()))
    .then_some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indentation_spacing_and_blank_lines_are_canonical_and_comments_stay() {
        let text = "\u{feff}# head\r\nname:    x   \r\nvendor: xfyeta\r\n\r\n\r\nspec:\r\n    # robot\r\n    robot_id: \"11\"\r\n    time_range:\r\n    -   \"09:00:00-12:00:00\"   # morning\r\n    - \"13:30:00-20:00:00\"\r\n    recall_count: 1\r\n\r\n";
        let out = format(text).unwrap();
        assert_eq!(
            out,
            "# head\nname: x\nvendor: xfyeta\n\nspec:\n  # robot\n  robot_id: \"11\"\n  time_range:\n    - \"09:00:00-12:00:00\"   # morning\n    - \"13:30:00-20:00:00\"\n  recall_count: 1\n"
        );
        assert_eq!(format(&out).unwrap(), out, "formatting is idempotent");
    }

    #[test]
    fn sequence_items_with_mappings_line_up_two_columns_in() {
        let text = "spec:\n      rules:\n        -    re_call_time: \"10:00:00\"\n             call_interval: 60\n        -    re_call_time: \"15:30:00\"\n             call_interval: 60\n";
        let out = format(text).unwrap();
        assert_eq!(
            out,
            "spec:\n  rules:\n    - re_call_time: \"10:00:00\"\n      call_interval: 60\n    - re_call_time: \"15:30:00\"\n      call_interval: 60\n"
        );
    }

    #[test]
    fn block_scalars_move_as_a_whole() {
        let text = "labels:\n    note: |\n        line one  \n          indented\n\n        last\n    team: x\n";
        let out = format(text).unwrap();
        assert_eq!(
            out,
            "labels:\n  note: |\n    line one  \n      indented\n\n    last\n  team: x\n"
        );
    }

    #[test]
    fn documents_keep_their_separators() {
        let out = format("---\nname: a\n---\n  name: b\n").unwrap();
        assert_eq!(out, "---\nname: a\n---\nname: b\n");
    }

    #[test]
    fn bad_yaml_is_reported_not_rewritten() {
        assert!(matches!(
            format("name: [unclosed\n"),
            Err(FmtError::Syntax { .. })
        ));
    }

    #[test]
    fn a_layout_that_would_change_meaning_is_refused() {
        // Whatever the layout pass makes of a text, only a result that reads the same is
        // used: a layout that changed a value, a type or a document count is refused.
        assert_eq!(prove("a: 1\n", "a: 2\n".into()), Err(FmtError::Unsafe));
        assert_eq!(prove("a: [1]\n", "a: 1\n".into()), Err(FmtError::Unsafe));
        assert_eq!(prove("a: \"1\"\n", "a: 1\n".into()), Err(FmtError::Unsafe));
        assert_eq!(
            prove("a: 1\n", "a: 1\n---\nb: 2\n".into()),
            Err(FmtError::Unsafe)
        );
        assert_eq!(prove("a:   1\n", "a: 1\n".into()), Ok("a: 1\n".to_string()));
        let same = |t: &str| format(t).map(|o| yaml::parse(&o).is_ok());
        assert_eq!(same("a: b\n"), Ok(true));
        assert!(!same_value(
            &yaml::parse("a: 1\n").unwrap()[0].root,
            &yaml::parse("a: 2\n").unwrap()[0].root
        ));
    }
}
