//! Field paths (`spec.task_extras.line[2].limit`): how diagnostics name a field, and how a
//! rule finds the line and column of the field it complains about.

use std::borrow::Cow;
use std::fmt;

use super::yaml::{Node, Pos, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// Keys are mostly field names, written in the rules: those are borrowed, so building
    /// the paths a rule might report costs no copies of them.
    Key(Cow<'static, str>),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// `self.key`
    pub fn k(&self, key: impl Into<Cow<'static, str>>) -> FieldPath {
        self.with(Seg::Key(key.into()))
    }

    /// `self[index]`
    pub fn i(&self, index: usize) -> FieldPath {
        self.with(Seg::Index(index))
    }

    fn with(&self, seg: Seg) -> FieldPath {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(seg);
        FieldPath(segs)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The position of this field in `root`: the value when it exists, else the nearest
    /// ancestor that does (a missing field is reported where its mapping is). `key_pos`
    /// points at the key rather than the value, which reads better for "not allowed here".
    pub fn locate(&self, root: &Node, key_pos: bool) -> Pos {
        let mut node = root;
        let mut pos = root.pos;
        for (n, seg) in self.0.iter().enumerate() {
            let last = n + 1 == self.0.len();
            let next = match (seg, &node.value) {
                (Seg::Key(k), Value::Map(_)) => {
                    if last && key_pos {
                        if let Some(key) = node.key_node(k) {
                            return key.pos;
                        }
                    }
                    node.get(k)
                }
                (Seg::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(child) => {
                    node = child;
                    pos = child.pos;
                }
                None => return pos,
            }
        }
        pos
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse;

    #[test]
    fn display_and_locate() {
        let docs = parse("spec:\n  line:\n    - {id: a, limit: 2}\n").unwrap();
        let root = &docs[0].root;
        let p = FieldPath::root().k("spec").k("line").i(0).k("limit");
        assert_eq!(p.to_string(), "spec.line[0].limit");
        let pos = p.locate(root, false);
        assert_eq!((pos.line, pos.col), (3, 22));
        // A missing field points at its nearest existing ancestor.
        let missing = FieldPath::root().k("spec").k("nope");
        assert_eq!(missing.locate(root, false).line, 2);
    }
}
