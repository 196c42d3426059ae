//! Typed values from the YAML tree: a serde `Deserializer` over [`Node`].
//!
//! The spec types are plain serde structs (the same types give the JSON Schema), and this
//! deserializer gives every error a position and a field path. Two things make it report
//! *all* problems of a task rather than the first:
//!
//! - Unknown keys are found against the struct's field list, recorded, and skipped, so the
//!   rest of the mapping is still read.
//! - [`read_partial`] retries after a type error with the offending field set aside
//!   ("poisoned", read as absent), and after a missing required field with a stand-in in
//!   its place, until the value reads. Every missing required field and every type error
//!   of a mapping is found in one run, and the value read around them lets the rules
//!   check the fields that are fine ([`Partial::tainted`] names the ones that are not).
//!
//! Error messages never quote a scalar from the input: it may be a phone number.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::path::{FieldPath, Seg};
use super::yaml::{is_null_text, parse_bool, parse_int, Node, Pos, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    UnknownField {
        field: String,
        expected: Vec<&'static str>,
    },
    UnknownVariant {
        variant: String,
        expected: Vec<&'static str>,
    },
    MissingField(&'static str),
    InvalidType {
        expected: String,
        found: String,
    },
    InvalidValue(String),
    Custom(String),
    /// A stand-in for a missing required field could not be read as the field's type: the
    /// read stops there. Never reported (the missing field already is).
    StandIn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub pos: Option<Pos>,
    pub path: FieldPath,
    /// For a type error: what to write instead, judged from the text that was written
    /// (`type_hint`).
    pub type_hint: Option<TypeHint>,
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            pos: None,
            path: FieldPath::root(),
            type_hint: None,
        }
    }

    /// Gives an error raised by a visitor the node it was raised at, once.
    fn locate(mut self, node: &Node, path: &PathRef<'_>) -> Error {
        if self.pos.is_none() {
            self.pos = Some(node.pos);
            self.path = path.materialize();
            if let ErrorKind::MissingField(field) = self.kind {
                self.path = self.path.k(field);
            }
            if let ErrorKind::InvalidType { found, expected } = &mut self.kind {
                if found.is_empty() {
                    *found = node.kind_name().to_string();
                }
                if self.type_hint.is_none() {
                    self.type_hint = type_hint(expected, node);
                }
            }
        }
        self
    }

    /// What went wrong, in a sentence (no input values quoted).
    pub fn message(&self) -> String {
        match &self.kind {
            ErrorKind::UnknownField { field, .. } => format!("unknown field `{field}`"),
            ErrorKind::UnknownVariant { variant, .. } => format!("unknown value `{variant}`"),
            ErrorKind::MissingField(field) => format!("missing required field `{field}`"),
            ErrorKind::InvalidType { expected, found } => {
                format!("expected {expected}, found {found}")
            }
            ErrorKind::InvalidValue(msg) | ErrorKind::Custom(msg) => {
                split_expected(msg).0.to_string()
            }
            ErrorKind::StandIn => "a required field is missing".to_string(),
        }
    }

    /// The values that would have been accepted, when there is a closed set.
    pub fn expected(&self) -> Option<String> {
        match &self.kind {
            ErrorKind::UnknownField { expected, .. }
            | ErrorKind::UnknownVariant { expected, .. } => {
                Some(format!("one of {}", join_ticked(expected)))
            }
            ErrorKind::InvalidType { expected, .. } => Some(expected.clone()),
            ErrorKind::InvalidValue(msg) | ErrorKind::Custom(msg) => {
                split_expected(msg).1.map(str::to_string)
            }
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            ErrorKind::UnknownField { field, expected } => Some(match closest(field, expected) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "remove it; `callform schema` lists every field".to_string(),
            }),
            ErrorKind::UnknownVariant { variant, expected } => {
                closest(variant, expected).map(|best| format!("did you mean `{best}`?"))
            }
            ErrorKind::MissingField(field) => Some(format!("add `{field}:` here")),
            ErrorKind::InvalidType { .. } => self.type_hint.map(|h| h.text().to_string()),
            _ => None,
        }
    }
}

/// A type's own message, `PROBLEM: expected WANTED` (how serde visitors phrase them), as
/// the problem and what is wanted, for the message and the `expected:` line apart.
fn split_expected(msg: &str) -> (&str, Option<&str>) {
    match msg.split_once(": expected ") {
        Some((problem, wanted)) => (problem, Some(wanted)),
        None => (msg, None),
    }
}

/// The integers a primitive type holds, for "out of range" (`u8` → 0 to 255).
fn int_range(ty: &str) -> Option<String> {
    let (lo, hi): (i128, i128) = match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "u64" | "usize" => return Some("an integer of at least 0".to_string()),
        _ => return None,
    };
    Some(format!("an integer from {lo} to {hi}"))
}

/// What to write instead of `node` where `expected` was wanted, when the text says it:
///
/// - a quoted value that would be right without its quotes (`"3"` for an integer,
///   `"true"` for a boolean): drop the quotes;
/// - YAML 1.1's booleans (`yes`, `no`, `on`, `off`, `y`, `n`), which YAML 1.2 and
///   callform read as text, where a boolean is wanted: write `true` or `false`;
/// - `true`, `false` or `null` where text is wanted: quote it.
///
/// Nothing for the rest: the text is simply not of the type, and no rewriting makes it so.
fn type_hint(expected: &str, node: &Node) -> Option<TypeHint> {
    let Value::Scalar { text, plain } = &node.value else {
        return None;
    };
    let wants_bool = expected.contains("boolean");
    let wants_int = expected.contains("integer");
    let wants_text = expected == "a string";
    let text = text.trim();
    if !plain {
        if wants_int && parse_int(text).is_some() {
            return Some(TypeHint::UnquoteInteger);
        }
        if wants_bool && parse_bool(text).is_some() {
            return Some(TypeHint::UnquoteBoolean);
        }
    }
    let yaml11 = matches!(
        text.to_ascii_lowercase().as_str(),
        "yes" | "no" | "on" | "off" | "y" | "n"
    );
    if wants_bool && yaml11 {
        return Some(TypeHint::TrueOrFalse);
    }
    if wants_text
        && *plain
        && (parse_bool(text).is_some() || (is_null_text(text) && !text.is_empty()))
    {
        return Some(TypeHint::Quote);
    }
    None
}

/// The advice `type_hint` gives (small: every error carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeHint {
    UnquoteInteger,
    UnquoteBoolean,
    TrueOrFalse,
    Quote,
}

impl TypeHint {
    pub fn text(self) -> &'static str {
        match self {
            TypeHint::UnquoteInteger => "write the integer without quotes",
            TypeHint::UnquoteBoolean => "write `true` or `false` without quotes",
            TypeHint::TrueOrFalse => "write `true` or `false`: `yes`, `no`, `on` and `off` are YAML 1.1 booleans, read as text here",
            TypeHint::Quote => "put it in quotes: unquoted, `true`, `false`, `~` and `null` are a boolean or null to YAML, not text",
        }
    }
}

fn join_ticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The nearest candidate by edit distance, when it is near enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn friendly(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => {
            "an integer".to_string()
        }
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "a mapping".to_string(),
        "a boolean" | "a string" => expected.to_string(),
        e if e.starts_with("struct ") => "a mapping".to_string(),
        e => e.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message())
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Custom(msg.to_string()))
    }

    fn invalid_type(_unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::new(ErrorKind::InvalidType {
            expected: friendly(&exp.to_string()),
            found: String::new(),
        })
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let what = match unexp {
            de::Unexpected::Signed(n) => format!("{n} is out of range"),
            de::Unexpected::Unsigned(n) => format!("{n} is out of range"),
            _ => "invalid value".to_string(),
        };
        let exp = exp.to_string();
        Error::new(ErrorKind::InvalidValue(format!(
            "{what}: expected {}",
            int_range(&exp).unwrap_or_else(|| friendly(&exp))
        )))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::new(ErrorKind::UnknownField {
            field: field.to_string(),
            expected: expected.to_vec(),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(ErrorKind::UnknownVariant {
            variant: variant.to_string(),
            expected: expected.to_vec(),
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(ErrorKind::MissingField(field))
    }
}

/// A path kept as a chain of borrowed links, turned into a [`FieldPath`] only on error.
#[derive(Clone, Copy)]
pub enum PathRef<'a> {
    Root(&'a FieldPath),
    Key(&'a PathRef<'a>, &'a str),
    Index(&'a PathRef<'a>, usize),
}

impl PathRef<'_> {
    fn materialize(&self) -> FieldPath {
        let mut segs = Vec::new();
        let mut cur = self;
        loop {
            match cur {
                PathRef::Root(base) => {
                    let mut all = base.0.clone();
                    segs.reverse();
                    all.extend(segs);
                    return FieldPath(all);
                }
                PathRef::Key(parent, k) => {
                    segs.push(Seg::Key(k.to_string().into()));
                    cur = parent;
                }
                PathRef::Index(parent, i) => {
                    segs.push(Seg::Index(*i));
                    cur = parent;
                }
            }
        }
    }
}

struct Ctx {
    /// Errors that did not stop the read (unknown keys).
    soft: RefCell<Vec<Error>>,
    /// Fields that failed in an earlier attempt and are now read as absent.
    poisoned: Vec<FieldPath>,
    /// Required fields found missing (or poisoned) in an earlier attempt, now read from a
    /// [`StandIn`] so that the read goes on to the next one.
    filled: Vec<FieldPath>,
}

/// What [`read_partial`] found: every problem, and the value read around them.
#[derive(Debug)]
pub struct Partial<T> {
    /// The value, with the fields in [`Partial::tainted`] not as written (set aside as
    /// absent, or a stand-in for a missing one). `None` when even that could not be read
    /// (the node is not a mapping, a stand-in did not fit).
    pub value: Option<T>,
    /// Every problem, in document order: unknown keys, type errors, missing fields.
    pub errors: Vec<Error>,
    /// The fields whose value in [`Partial::value`] is not what the document says: rules
    /// must not judge them, nor other fields by them.
    pub tainted: Vec<FieldPath>,
}

impl<T> Partial<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Partial<U> {
        Partial {
            value: self.value.map(f),
            errors: self.errors,
            tainted: self.tainted,
        }
    }

    /// The value when it is exactly what the document says (it may still have unknown
    /// keys, in `errors`).
    pub fn into_result(self) -> Result<(T, Vec<Error>), Vec<Error>> {
        match self.value {
            Some(v) if self.tainted.is_empty() => Ok((v, self.errors)),
            _ => Err(self.errors),
        }
    }

    /// Whether `path` (or a field it lies in, or one lying in it) was read from something
    /// other than the document.
    pub fn taints(&self, path: &FieldPath) -> bool {
        self.tainted
            .iter()
            .any(|t| path.starts_with(t) || t.starts_with(path))
    }
}

/// Reads a `T` from `node` (which sits at `base` in its document), collecting every
/// problem. `Err` carries all of them, in document order; `Ok` may still carry unknown
/// keys, which did not stop the value from being read (so the rules can run on it too).
pub fn read<T: de::DeserializeOwned>(
    node: &Node,
    base: &FieldPath,
) -> Result<(T, Vec<Error>), Vec<Error>> {
    read_partial(node, base).into_result()
}

/// Most fields one read sets aside or stands in for before it gives up: each costs
/// another pass over the mapping.
const MAX_RETRIES: usize = 64;

/// Reads a `T` from `node` (which sits at `base` in its document), collecting every
/// problem, and keeps what could be read: a type error sets its field aside, a missing
/// required field gets a stand-in, and the read is tried again, so that one run reports
/// every missing field and every type error, and the rules can still check the rest.
pub fn read_partial<T: de::DeserializeOwned>(node: &Node, base: &FieldPath) -> Partial<T> {
    let mut poisoned: Vec<FieldPath> = Vec::new();
    let mut filled: Vec<FieldPath> = Vec::new();
    let mut hard: Vec<Error> = Vec::new();
    let mut soft: Vec<Error> = Vec::new();
    loop {
        let cx = Ctx {
            soft: RefCell::new(Vec::new()),
            poisoned: poisoned.clone(),
            filled: filled.clone(),
        };
        let result = T::deserialize(De {
            node,
            path: PathRef::Root(base),
            cx: &cx,
        });
        soft.extend(cx.soft.into_inner());
        let err = match result {
            Ok(value) => {
                let mut tainted = poisoned;
                tainted.extend(filled);
                return Partial {
                    value: Some(value),
                    errors: finish(soft, hard),
                    tainted,
                };
            }
            Err(err) => err,
        };
        let stop = |soft, hard, poisoned: Vec<FieldPath>, filled| {
            let mut tainted = poisoned;
            tainted.extend(filled);
            Partial {
                value: None,
                errors: finish(soft, hard),
                tainted,
            }
        };
        if err.kind == ErrorKind::StandIn {
            return stop(soft, hard, poisoned, filled);
        }
        if poisoned.len() + filled.len() >= MAX_RETRIES {
            hard.push(err);
            return stop(soft, hard, poisoned, filled);
        }
        if let ErrorKind::MissingField(_) = err.kind {
            if filled.contains(&err.path) || err.path.is_empty() {
                return stop(soft, hard, poisoned, filled);
            }
            // A required field set aside for its type error is "missing" now: already
            // reported. Either way a stand-in lets the read go on to the next field.
            if !poisoned.contains(&err.path) {
                filled.push(err.path.clone());
                hard.push(err);
            } else {
                filled.push(err.path);
            }
            continue;
        }
        if err.path.is_empty() || poisoned.contains(&err.path) {
            hard.push(err);
            return stop(soft, hard, poisoned, filled);
        }
        // Set aside the whole field: an element of a list cannot be skipped alone.
        let mut field = err.path.clone();
        while matches!(field.0.last(), Some(Seg::Index(_))) {
            field.0.pop();
        }
        if field.is_empty() || poisoned.contains(&field) || filled.contains(&field) {
            hard.push(err);
            return stop(soft, hard, poisoned, filled);
        }
        poisoned.push(field);
        hard.push(err);
    }
}

fn finish(soft: Vec<Error>, hard: Vec<Error>) -> Vec<Error> {
    let mut all = soft;
    all.extend(hard);
    all.sort_by_key(|e| e.pos.map(|p| (p.line, p.col)));
    // Retries report the same error again at the same place: after the sort, repeats sit
    // among the errors of their position, so only those are compared (a mapping with many
    // unknown keys stays linear).
    let key = |x: &Error| x.pos.map(|p| (p.line, p.col));
    let mut out: Vec<Error> = Vec::with_capacity(all.len());
    for e in all {
        let group = out
            .iter()
            .rposition(|x| key(x) != key(&e))
            .map_or(0, |i| i + 1);
        if !out[group..].contains(&e) {
            out.push(e);
        }
    }
    out
}

struct De<'a> {
    node: &'a Node,
    path: PathRef<'a>,
    cx: &'a Ctx,
}

impl<'a> De<'a> {
    fn scalar(&self) -> Option<(&'a str, bool)> {
        match &self.node.value {
            Value::Scalar { text, plain } => Some((text.as_str(), *plain)),
            _ => None,
        }
    }

    fn type_error(&self, expected: &str) -> Error {
        Error::new(ErrorKind::InvalidType {
            expected: expected.to_string(),
            found: String::new(),
        })
        .locate(self.node, &self.path)
    }

    fn int(&self) -> Result<i64, Error> {
        match self.scalar() {
            Some((text, true)) => parse_int(text).ok_or_else(|| {
                if text
                    .trim_start_matches(['-', '+'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    && !text.is_empty()
                {
                    Error::new(ErrorKind::InvalidValue(
                        "integer out of range (at most 9223372036854775807)".into(),
                    ))
                    .locate(self.node, &self.path)
                } else {
                    self.type_error("an integer")
                }
            }),
            _ => Err(self.type_error("an integer")),
        }
    }
}

macro_rules! int_methods {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let n = self.int()?;
            visitor.visit_i64(n).map_err(|e: Error| e.locate(self.node, &self.path))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for De<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            Value::Scalar { text, plain: true } => {
                if is_null_text(text) {
                    visitor.visit_unit()
                } else if let Some(b) = parse_bool(text) {
                    visitor.visit_bool(b)
                } else if let Some(n) = parse_int(text) {
                    visitor.visit_i64(n)
                } else {
                    visitor.visit_str(text)
                }
            }
            Value::Scalar { text, plain: false } => visitor.visit_str(text),
            Value::Seq(items) => visitor.visit_seq(Seq {
                items,
                next: 0,
                path: &self.path,
                cx: self.cx,
            }),
            Value::Map(entries) => visitor.visit_map(Map::new(entries, None, &self.path, self.cx)),
        };
        result.map_err(|e: Error| e.locate(self.node, &self.path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some((text, true)) => match parse_bool(text) {
                Some(b) => visitor
                    .visit_bool(b)
                    .map_err(|e: Error| e.locate(self.node, &self.path)),
                None => Err(self.type_error("a boolean (true or false)")),
            },
            _ => Err(self.type_error("a boolean (true or false)")),
        }
    }

    int_methods!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some((text, true)) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => visitor
                    .visit_f64(f)
                    .map_err(|e: Error| e.locate(self.node, &self.path)),
                _ => Err(self.type_error("a number")),
            },
            _ => Err(self.type_error("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// Strings accept any scalar but null and booleans: ids written without quotes
    /// (`robot_id: 11`, a line number with a leading zero) keep their exact text.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some((text, true)) if is_null_text(text) || parse_bool(text).is_some() => {
                Err(self.type_error("a string"))
            }
            Some((text, _)) => visitor
                .visit_str(text)
                .map_err(|e: Error| e.locate(self.node, &self.path)),
            None => Err(self.type_error("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(self.type_error("bytes"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(self.type_error("bytes"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor
                .visit_none()
                .map_err(|e: Error| e.locate(self.node, &self.path))
        } else {
            let (node, path) = (self.node, self.path);
            visitor
                .visit_some(self)
                .map_err(|e: Error| e.locate(node, &path))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor
                .visit_unit()
                .map_err(|e: Error| e.locate(self.node, &self.path))
        } else {
            Err(self.type_error("nothing (null)"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (node, path) = (self.node, self.path);
        visitor
            .visit_newtype_struct(self)
            .map_err(|e: Error| e.locate(node, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Seq(items) => visitor
                .visit_seq(Seq {
                    items,
                    next: 0,
                    path: &self.path,
                    cx: self.cx,
                })
                .map_err(|e: Error| e.locate(self.node, &self.path)),
            _ => Err(self.type_error("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.map(None, visitor, "a mapping")
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.map(Some(fields), visitor, "a mapping")
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.scalar() {
            Some((text, _)) if !self.node.is_null() => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|e: Error| e.locate(self.node, &self.path)),
            _ => Err(self.type_error("a name")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

impl<'a> De<'a> {
    fn map<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
        expected: &str,
    ) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Map(entries) => visitor
                .visit_map(Map::new(entries, fields, &self.path, self.cx))
                .map_err(|e: Error| e.locate(self.node, &self.path)),
            _ => Err(self.type_error(expected)),
        }
    }
}

struct Seq<'a> {
    items: &'a [Node],
    next: usize,
    path: &'a PathRef<'a>,
    cx: &'a Ctx,
}

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.get(self.next) else {
            return Ok(None);
        };
        let path = PathRef::Index(self.path, self.next);
        self.next += 1;
        // A type's own check (a date-time that does not parse) fails after the value was
        // read: its error belongs to this element, not to the enclosing list.
        seed.deserialize(De {
            node,
            path,
            cx: self.cx,
        })
        .map(Some)
        .map_err(|e| e.locate(node, &path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Map<'a> {
    entries: &'a [(Node, Node)],
    next: usize,
    fields: Option<&'static [&'static str]>,
    value: Option<Pending<'a>>,
    /// The next of `fields` to consider for a stand-in, once the entries are done.
    fill_next: usize,
    path: &'a PathRef<'a>,
    cx: &'a Ctx,
}

/// The value [`Map`] hands out next.
enum Pending<'a> {
    Node(&'a Node, &'a str),
    /// A required field that is missing or was set aside ([`Ctx::filled`]).
    StandIn(&'static str),
}

impl<'a> Map<'a> {
    fn new(
        entries: &'a [(Node, Node)],
        fields: Option<&'static [&'static str]>,
        path: &'a PathRef<'a>,
        cx: &'a Ctx,
    ) -> Map<'a> {
        Map {
            entries,
            next: 0,
            fields,
            value: None,
            fill_next: 0,
            path,
            cx,
        }
    }

    /// The next field of this mapping that is missing from it and is to be read from a
    /// stand-in.
    fn next_stand_in(&mut self) -> Option<&'static str> {
        let fields = self.fields?;
        if self.cx.filled.is_empty() {
            return None;
        }
        while let Some(&field) = fields.get(self.fill_next) {
            self.fill_next += 1;
            let here = PathRef::Key(self.path, field).materialize();
            let written = self.entries.iter().any(|(k, _)| k.as_str() == Some(field));
            if !written && self.cx.filled.contains(&here) {
                return Some(field);
            }
        }
        None
    }
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        while let Some((key, value)) = self.entries.get(self.next) {
            self.next += 1;
            let name = key.as_str().unwrap_or_default();
            if let Some(fields) = self.fields {
                let Some(&field) = fields.iter().find(|f| **f == name) else {
                    let err = Error::new(ErrorKind::UnknownField {
                        field: name.to_string(),
                        expected: fields.to_vec(),
                    });
                    let located = Error {
                        pos: Some(key.pos),
                        path: PathRef::Key(self.path, name).materialize(),
                        ..err
                    };
                    self.cx.soft.borrow_mut().push(located);
                    continue;
                };
                if !self.cx.poisoned.is_empty() {
                    let here = PathRef::Key(self.path, name).materialize();
                    if self.cx.poisoned.contains(&here) {
                        // A required field set aside: read from a stand-in (the struct
                        // would stop at it as missing otherwise).
                        if self.cx.filled.contains(&here) {
                            self.value = Some(Pending::StandIn(field));
                            return seed.deserialize(field.into_deserializer()).map(Some);
                        }
                        continue;
                    }
                }
            } else if !self.cx.poisoned.is_empty() {
                // An entry of a free-form mapping (labels, providers) set aside is left out.
                let here = PathRef::Key(self.path, name).materialize();
                if self.cx.poisoned.contains(&here) {
                    continue;
                }
            }
            self.value = Some(Pending::Node(value, name));
            let key_path = PathRef::Key(self.path, name);
            return seed
                .deserialize(De {
                    node: key,
                    path: key_path,
                    cx: self.cx,
                })
                .map(Some);
        }
        if let Some(field) = self.next_stand_in() {
            self.value = Some(Pending::StandIn(field));
            return seed.deserialize(field.into_deserializer()).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            None => Err(de::Error::custom("value requested before key")),
            Some(Pending::StandIn(field)) => {
                let path = PathRef::Key(self.path, field);
                // Whatever goes wrong inside a stand-in is no problem of the document.
                seed.deserialize(StandIn).map_err(|_| Error {
                    path: path.materialize(),
                    ..Error::new(ErrorKind::StandIn)
                })
            }
            Some(Pending::Node(node, name)) => {
                let path = PathRef::Key(self.path, name);
                // As for list elements: an error raised once the value was read is this
                // field's.
                seed.deserialize(De {
                    node,
                    path,
                    cx: self.cx,
                })
                .map_err(|e| e.locate(node, &path))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

/// A value for a required field that is missing, so that the read goes on and finds the
/// next problem: zero, false, empty, `None`, the first variant, a mapping of stand-ins;
/// text is [`STAND_IN_TEXT`], which also reads as a date-time. Its value is never judged
/// (the field is [`Partial::tainted`]) and never used: the task is invalid.
struct StandIn;

/// The text a stand-in gives: shaped like a date-time, the one text-based type the
/// required fields have.
const STAND_IN_TEXT: &str = "2000-01-01 00:00";

impl<'de> de::Deserializer<'de> for StandIn {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // The codes and switches read through `deserialize_any` take the vendor's 0.
        visitor.visit_i64(0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(0.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(STAND_IN_TEXT)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(de::value::SeqDeserializer::new(
            std::iter::empty::<StandIn>(),
        ))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(de::value::MapDeserializer::new(std::iter::empty::<(
            StandIn,
            StandIn,
        )>()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Every field a stand-in: the optional ones read as `None`.
        visitor.visit_map(de::value::MapDeserializer::new(
            fields.iter().map(|f| (*f, StandIn)),
        ))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match variants.first() {
            Some(first) => visitor.visit_enum((*first).into_deserializer()),
            None => Err(Error::new(ErrorKind::StandIn)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'de>>
        i8 i16 i32 u8 u16 u32 i128 u128 f32 bytes byte_buf unit_struct
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(STAND_IN_TEXT)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_char('0')
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(STAND_IN_TEXT)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
}

impl<'de> IntoDeserializer<'de, Error> for StandIn {
    type Deserializer = StandIn;

    fn into_deserializer(self) -> StandIn {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        count: u8,
        flag: Option<bool>,
        list: Option<Vec<i64>>,
    }

    fn read_t(text: &str) -> Result<T, Vec<Error>> {
        let docs = parse(text).unwrap();
        read::<T>(&docs[0].root, &FieldPath::root().k("spec")).map(|(t, _)| t)
    }

    #[test]
    fn reads_values() {
        let t = read_t("count: 3\nname: 055169101407\nflag: true\nlist: [1, 2]\n").unwrap();
        assert_eq!(t.count, 3);
        assert_eq!(t.name, "055169101407");
        assert_eq!(t.list, Some(vec![1, 2]));
    }

    #[test]
    fn reports_every_problem_with_positions() {
        let errs = read_t("count: 300\nnmae: x\nflag: \"yes\"\nlist: [1, x]\n").unwrap_err();
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.name",
                "spec.count",
                "spec.nmae",
                "spec.flag",
                "spec.list[1]"
            ],
            "{errs:#?}"
        );
        let unknown = &errs[2];
        assert_eq!(unknown.pos.map(|p| (p.line, p.col)), Some((2, 1)));
        assert_eq!(unknown.hint().as_deref(), Some("did you mean `name`?"));
        assert!(
            errs[3].message().contains("expected a boolean"),
            "{}",
            errs[3].message()
        );
        // A missing field is reported where its mapping starts.
        assert!(matches!(errs[0].kind, ErrorKind::MissingField("name")));
    }

    #[test]
    fn unknown_keys_alone_still_give_a_value() {
        let docs = parse("name: a\ncount: 1\nextra: 2\n").unwrap();
        let (t, soft) = read::<T>(&docs[0].root, &FieldPath::root()).unwrap();
        assert_eq!(t.count, 1);
        assert_eq!(soft.len(), 1);
        assert_eq!(soft[0].path.to_string(), "extra");
    }

    #[derive(Debug)]
    struct Even;

    impl<'de> Deserialize<'de> for Even {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let n = i64::deserialize(d)?;
            if n % 2 == 0 {
                Ok(Even)
            } else {
                Err(de::Error::custom("not even"))
            }
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct WithCheck {
        one: Even,
        many: Vec<Even>,
    }

    #[test]
    fn errors_raised_after_reading_a_value_point_at_it() {
        let docs = parse("one: 3\nmany: [2, 5]\n").unwrap();
        let errs = read::<WithCheck>(&docs[0].root, &FieldPath::root().k("spec")).unwrap_err();
        let at: Vec<(String, usize, usize)> = errs
            .iter()
            .map(|e| (e.path.to_string(), e.pos.unwrap().line, e.pos.unwrap().col))
            .collect();
        assert_eq!(
            at,
            [
                ("spec.one".to_string(), 1, 6),
                ("spec.many[1]".to_string(), 2, 11)
            ]
        );
    }

    #[test]
    fn quoted_numbers_are_not_integers() {
        let errs = read_t("count: \"3\"\nname: a\n").unwrap_err();
        assert_eq!(
            errs[0].hint().as_deref(),
            Some("write the integer without quotes")
        );
        // Text that is no integer with or without quotes gets no such advice.
        let errs = read_t("count: \"x\"\nname: a\n").unwrap_err();
        assert_eq!(errs[0].hint(), None, "{errs:?}");
    }

    /// YAML 1.1's `yes`/`no`/`on`/`off` are text to callform: where a boolean is wanted the
    /// hint says to write `true`/`false`, and where text is wanted a bare `true` is to be
    /// quoted. Never "without quotes", which would change nothing.
    #[test]
    fn yaml11_booleans_get_the_right_advice() {
        for word in ["yes", "no", "on", "off", "Yes", "OFF"] {
            let errs = read_t(&format!("name: a\ncount: 1\nflag: {word}\n")).unwrap_err();
            let hint = errs[0].hint().unwrap_or_default();
            assert!(
                hint.starts_with("write `true` or `false`"),
                "{word}: {hint}"
            );
            assert!(!hint.contains("without quotes"), "{word}: {hint}");
        }
        let errs = read_t("name: a\ncount: 1\nflag: \"true\"\n").unwrap_err();
        assert_eq!(
            errs[0].hint().as_deref(),
            Some("write `true` or `false` without quotes")
        );
        let errs = read_t("name: true\ncount: 1\n").unwrap_err();
        assert_eq!(errs[0].hint().as_deref(), Some(TypeHint::Quote.text()));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Required {
        a: String,
        b: Vec<String>,
        c: i64,
        d: Inner,
        e: Option<u8>,
        f: crate::manifest::time::LocalDateTime,
        g: bool,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        x: String,
        y: Option<i64>,
    }

    /// Every missing required field is reported in one read, and a type error does not
    /// hide them; what was written is still read.
    #[test]
    fn every_missing_field_in_one_read() {
        let docs = parse("e: 300\nc: 2\nzz: 1\n").unwrap();
        let read = read_partial::<Required>(&docs[0].root, &FieldPath::root().k("spec"));
        let missing: Vec<String> = read
            .errors
            .iter()
            .filter(|e| matches!(e.kind, ErrorKind::MissingField(_)))
            .map(|e| e.path.to_string())
            .collect();
        assert_eq!(
            missing,
            ["spec.a", "spec.b", "spec.d", "spec.f", "spec.g"],
            "{:#?}",
            read.errors
        );
        assert!(read.errors.iter().any(|e| e.path.to_string() == "spec.e"));
        assert!(read.errors.iter().any(|e| e.path.to_string() == "spec.zz"));
        let value = read.value.as_ref().expect("read around the problems");
        assert_eq!(value.c, 2);
        assert!(read.taints(&FieldPath::root().k("spec").k("e")));
        assert!(!read.taints(&FieldPath::root().k("spec").k("c")));
        assert!(read.into_result().is_err());
    }
}
