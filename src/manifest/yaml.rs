//! The YAML reader: text → a tree of nodes that remember where they came from.
//!
//! serde_yaml can only locate syntax and type errors; callform wants a line and column on
//! every diagnostic, the semantic ones too (a limit, a missing field, a duplicate name). So
//! manifests are read with `saphyr-parser`'s event stream into a small tree of [`Node`]s that
//! carry their [`Pos`], and typed values are read from that tree by `manifest::de`.
//!
//! The reader is also the first line of defence against hostile input: nesting is capped
//! (so neither this builder nor anything that walks or drops the tree can exhaust the
//! stack), aliases are expanded against a budget of nodes and of text (so a "billion
//! laughs" document fails fast instead of eating memory), and duplicate keys are errors, as
//! a reviewer would expect.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deepest nesting a manifest may use. Real task files stay under ten.
pub const MAX_DEPTH: usize = 64;
/// Mappings with more keys than this are indexed to find duplicate keys.
const INDEX_KEYS_FROM: usize = 32;
/// Most nodes one file may expand to through aliases, beyond the nodes it spells out.
const ALIAS_BUDGET: usize = 100_000;
/// Most bytes of scalar text one file may expand to through aliases: an alias to one long
/// string is a "billion laughs" in bytes rather than in nodes.
const ALIAS_TEXT_BUDGET: usize = 16 * 1024 * 1024;

/// A position in a source file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    /// Length of the marked text in characters on its first line (at least 1), for the caret.
    pub len: usize,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        let len = if span.end.line() == span.start.line() {
            span.end.col().saturating_sub(span.start.col()).max(1)
        } else {
            1
        };
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
            len,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written. `plain` scalars are resolved by type on demand (YAML 1.2 core
    /// schema); quoted and block scalars are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null_text(text))
    }

    /// The value of `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` when this node is a mapping (where a diagnostic about the key points).
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { text, plain } => {
                if !plain {
                    "a string"
                } else if is_null_text(text) {
                    "nothing (null)"
                } else if parse_bool(text).is_some() {
                    "a boolean"
                } else if parse_int(text).is_some() {
                    "an integer"
                } else if text.parse::<f64>().is_ok() {
                    "a number"
                } else {
                    "a string"
                }
            }
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

pub fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// YAML 1.2 core-schema integers, into i64 exactly (never through f64).
pub fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    // `from_str_radix` takes a sign of its own; only digits may follow `0x`/`0o`, or
    // `-0x-8000…` would read as i128::MIN and overflow when negated.
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        i128::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        if oct.is_empty() || !oct.bytes().all(|b| matches!(b, b'0'..=b'7')) {
            return None;
        }
        i128::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i128>().ok()?
    } else {
        return None;
    };
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
}

/// A problem found while reading YAML: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Reads every document of `text`. An empty file (or one holding only comments) has none.
pub fn parse(text: &str) -> Result<Vec<Document>, SyntaxError> {
    documents(text).collect()
}

/// The documents of `text`, one at a time: a caller that handles each before asking for
/// the next keeps one document's tree in memory, not the file's, however long the file.
/// After the first error the iterator ends.
pub fn documents(text: &str) -> Documents<'_> {
    Documents {
        parser: Parser::new_from_str(text),
        builder: Builder::default(),
        failed: false,
    }
}

pub struct Documents<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    builder: Builder,
    failed: bool,
}

impl Iterator for Documents<'_> {
    type Item = Result<Document, SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        for event in self.parser.by_ref() {
            let step = event
                .map_err(|e| SyntaxError {
                    pos: Pos {
                        line: e.marker().line(),
                        col: e.marker().col() + 1,
                        len: 1,
                    },
                    message: e.info().to_string(),
                })
                .and_then(|(event, span)| self.builder.event(event, &span));
            if let Err(e) = step {
                self.failed = true;
                return Some(Err(e));
            }
            if let Some(doc) = self.builder.done.take() {
                return Some(Ok(doc));
            }
        }
        None
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        /// Key text → line, built once the mapping is large: small mappings (a task's) are
        /// searched directly, large ones in constant time, so a mapping with a million keys
        /// cannot stall the reader.
        keys: Option<HashMap<String, usize>>,
        pos: Pos,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// A document completed by the last event, for [`Documents`] to hand out.
    done: Option<Document>,
    anchors: HashMap<usize, Node>,
    /// Nodes created by alias expansion so far in this file.
    expanded: usize,
    /// Bytes of scalar text created by alias expansion so far in this file.
    expanded_text: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let pos = Pos::from_span(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: matches!(style, ScalarStyle::Plain),
                    },
                    pos,
                };
                self.remember(anchor, &node);
                self.push_node(node)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    keys: None,
                    pos,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (
                        Node {
                            value: Value::Seq(items),
                            pos,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        ..
                    }) => (
                        Node {
                            value: Value::Map(entries),
                            pos,
                        },
                        anchor,
                    ),
                    None => {
                        return Err(SyntaxError {
                            pos,
                            message: "unbalanced end of a collection".into(),
                        })
                    }
                };
                self.remember(anchor, &node);
                self.push_node(node)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(SyntaxError {
                        pos,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                let (nodes, text) = weigh(target);
                self.expanded = self.expanded.saturating_add(nodes);
                self.expanded_text = self.expanded_text.saturating_add(text);
                if self.expanded > ALIAS_BUDGET {
                    return Err(SyntaxError {
                        pos,
                        message: format!(
                            "aliases expand to more than {ALIAS_BUDGET} nodes; \
                             write the values out instead of nesting aliases"
                        ),
                    });
                }
                if self.expanded_text > ALIAS_TEXT_BUDGET {
                    return Err(SyntaxError {
                        pos,
                        message: format!(
                            "aliases expand to more than {ALIAS_TEXT_BUDGET} bytes of text; \
                             write the values out instead of repeating long ones"
                        ),
                    });
                }
                let mut node = target.clone();
                node.pos = pos;
                self.push_node(node)?;
            }
            Event::DocumentStart(_) => {
                self.anchors.clear();
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&self, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                pos,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn push_node(&mut self, node: Node) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => self.done = Some(Document { root: node }),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                keys,
                ..
            }) => match pending_key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar { .. }) {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: "a mapping key must be a plain value, not a list or mapping"
                                .into(),
                        });
                    }
                    let text = node.as_str().unwrap_or_default();
                    let first = match keys {
                        Some(keys) => keys.get(text).copied(),
                        None => entries
                            .iter()
                            .find(|(k, _)| k.as_str() == Some(text))
                            .map(|(k, _)| k.pos.line),
                    };
                    if let Some(first) = first {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: format!("duplicate key `{text}` (first at line {first})"),
                        });
                    }
                    if let Some(keys) = keys {
                        keys.insert(text.to_string(), node.pos.line);
                    } else if entries.len() >= INDEX_KEYS_FROM {
                        let mut index: HashMap<String, usize> = entries
                            .iter()
                            .map(|(k, _)| (k.as_str().unwrap_or_default().to_string(), k.pos.line))
                            .collect();
                        index.insert(text.to_string(), node.pos.line);
                        *keys = Some(index);
                    }
                    *pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

/// Counts nodes and their scalar bytes iteratively (trees are shallow, but aliases can
/// make them wide).
fn weigh(node: &Node) -> (usize, usize) {
    let (mut count, mut text_len) = (0usize, 0usize);
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Scalar { text, .. } => text_len = text_len.saturating_add(text.len()),
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
        }
    }
    (count, text_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse("a: 1\nb:\n  - x\n").unwrap();
        let root = &docs[0].root;
        let b = root.get("b").unwrap();
        let Value::Seq(items) = &b.value else {
            panic!("not a list")
        };
        assert_eq!((items[0].pos.line, items[0].pos.col), (3, 5));
        assert_eq!(root.key_node("b").unwrap().pos.line, 2);
    }

    #[test]
    fn several_documents() {
        let docs = parse("a: 1\n---\na: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(parse("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos.line, 3);
        assert!(err.message.contains("first at line 1"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_are_errors_in_large_mappings_too() {
        let keys: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        // One key from before the mapping is indexed, one from after.
        for (dup, first) in [("k3", 4), ("k90", 91)] {
            let err = parse(&format!("{keys}{dup}: x\n")).unwrap_err();
            assert_eq!(err.pos.line, 101);
            assert!(
                err.message
                    .contains(&format!("duplicate key `{dup}` (first at line {first})")),
                "{}",
                err.message
            );
        }
        assert!(parse(&keys).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(&text).is_err());
        let block: String = (0..10_000)
            .map(|i| format!("{}- \n", " ".repeat(i)))
            .collect();
        assert!(parse(&block).is_err());
    }

    #[test]
    fn alias_bombs_fail_fast() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            text.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
    }

    #[test]
    fn aliases_to_long_text_fail_fast() {
        // 50,000 aliases to a 1 MiB string were within the node budget: 50 GB of copies.
        let text = format!(
            "a: &a {}\nb: [{}]\n",
            "x".repeat(1 << 20),
            vec!["*a"; 50_000].join(", ")
        );
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("bytes of text"), "{}", err.message);
        assert_eq!((err.pos.line, err.pos.col), (2, 5 + 4 * 16));
    }

    #[test]
    fn small_aliases_work() {
        let docs = parse("base: &b {x: 1}\nother: *b\n").unwrap();
        assert_eq!(
            docs[0]
                .root
                .get("other")
                .unwrap()
                .get("x")
                .unwrap()
                .as_str(),
            Some("1")
        );
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(parse_int("9007199254740993"), Some(9_007_199_254_740_993));
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("0x1f"), Some(31));
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn signs_inside_hex_and_octal_are_not_integers() {
        // Panicked ("attempt to negate with overflow") from any manifest integer field.
        assert_eq!(parse_int("-0x-80000000000000000000000000000000"), None);
        assert_eq!(parse_int("0x-1"), None);
        assert_eq!(parse_int("0x+1f"), None);
        assert_eq!(parse_int("-0o-7"), None);
        assert_eq!(parse_int("0o8"), None);
        assert_eq!(parse_int("-0x8000000000000000"), Some(i64::MIN));
        assert_eq!(parse_int("0o17"), Some(15));
    }
}
