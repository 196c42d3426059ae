//! Canonical JSON written straight from typed values: keys sorted at every level, exactly
//! the bytes `serde_json::to_vec` gives for the same value built as a `serde_json::Value`
//! (whose maps are sorted), without building that tree.
//!
//! A no-change plan needs only each task's spec digest, and building 100,000 JSON trees to
//! hash them was most of its time. This writer is used for that digest alone; the stored
//! form and digest still come from the `Value` path (see `canonical::spec_digest` for how
//! the two are kept equal, and what the plan trusts).

use std::borrow::Cow;
use std::ops::Range;

use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;

/// What happens to the top-level fields of the value written.
#[derive(Clone, Copy)]
pub(crate) struct Top<'a> {
    /// Fields left out.
    pub drop: &'a [&'a str],
    /// Lists whose string items are replaced by what `mask` makes of them.
    pub mask: &'a [&'a str],
    pub masker: &'a dyn Fn(&str) -> String,
    /// Fields added, already written as JSON (they win over written fields of that name).
    pub extra: &'a [(&'a str, &'a [u8])],
}

/// Writes `value` as canonical JSON to `out`, its top-level fields as `top` says.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    top: Top<'_>,
) -> Result<(), Error> {
    value.serialize(Writer {
        out,
        mode: Mode::Plain,
        top: Some(top),
    })
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Plain,
    /// The items of this list are masked.
    MaskItems(&'a dyn Fn(&str) -> String),
    /// This value, if a string, is masked.
    MaskThis(&'a dyn Fn(&str) -> String),
}

struct Writer<'o, 'a> {
    out: &'o mut Vec<u8>,
    mode: Mode<'a>,
    /// Set for the outermost value only: the field rules apply to its fields.
    top: Option<Top<'a>>,
}

fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(out, value)
}

impl<'o, 'a> ser::Serializer for Writer<'o, 'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'o, 'a>;
    type SerializeTuple = Seq<'o, 'a>;
    type SerializeTupleStruct = Seq<'o, 'a>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Object<'o, 'a>;
    type SerializeStruct = Object<'o, 'a>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        json(self.out, &v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        match self.mode {
            // Free text is masked as `canonical::mask_free_text` masks the form.
            Mode::MaskThis(mask) => json(self.out, &crate::phone::mask_phones_in_text(&mask(v))),
            _ if crate::phone::may_hold_number(v) => {
                json(self.out, &crate::phone::mask_phones_in_text(v))
            }
            _ => json(self.out, v),
        }
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        json(self.out, v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    // Specs have no enums that carry data in tagged form; a caller falls back to the
    // `Value` path on this error.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(unsupported())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'o, 'a>, Error> {
        self.out.push(b'[');
        let items = match self.mode {
            Mode::MaskItems(mask) => Mode::MaskThis(mask),
            _ => Mode::Plain,
        };
        Ok(Seq {
            out: self.out,
            items,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'o, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'o, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Error>, Error> {
        Err(unsupported())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'o, 'a>, Error> {
        Ok(Object::new(self.out, self.top))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'o, 'a>, Error> {
        Ok(Object::new(self.out, self.top))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Error>, Error> {
        Err(unsupported())
    }
}

fn unsupported() -> Error {
    <Error as ser::Error>::custom("an enum with data has no canonical writer")
}

/// A list: items in order.
pub(crate) struct Seq<'o, 'a> {
    out: &'o mut Vec<u8>,
    items: Mode<'a>,
    first: bool,
}

impl Seq<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        value.serialize(Writer {
            out: self.out,
            mode: self.items,
            top: None,
        })
    }
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        self.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.item(value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

/// A mapping or struct: values are written to a buffer of their own, then put out in key
/// order.
pub(crate) struct Object<'o, 'a> {
    out: &'o mut Vec<u8>,
    top: Option<Top<'a>>,
    /// Each entry's key, and where its value is in `buf`.
    entries: Vec<(Cow<'static, str>, Range<usize>)>,
    buf: Vec<u8>,
    key: Option<String>,
}

impl<'o, 'a> Object<'o, 'a> {
    fn new(out: &'o mut Vec<u8>, top: Option<Top<'a>>) -> Object<'o, 'a> {
        Object {
            out,
            top,
            entries: Vec::new(),
            buf: Vec::new(),
            key: None,
        }
    }

    fn entry<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Error> {
        let mut mode = Mode::Plain;
        if let Some(top) = self.top {
            if top.drop.contains(&key.as_ref()) {
                return Ok(());
            }
            if top.mask.contains(&key.as_ref()) {
                mode = Mode::MaskItems(top.masker);
            }
        }
        let start = self.buf.len();
        value.serialize(Writer {
            out: &mut self.buf,
            mode,
            top: None,
        })?;
        self.entries.push((key, start..self.buf.len()));
        Ok(())
    }

    fn finish(mut self) -> Result<(), Error> {
        if let Some(top) = self.top {
            for (key, bytes) in top.extra {
                let start = self.buf.len();
                self.buf.extend_from_slice(bytes);
                self.entries
                    .push((Cow::Owned(key.to_string()), start..self.buf.len()));
            }
        }
        // Stable: of entries with one key, the last written wins, as in a JSON map.
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        self.out.push(b'{');
        let mut first = true;
        for (n, (key, range)) in self.entries.iter().enumerate() {
            if self.entries.get(n + 1).is_some_and(|next| next.0 == *key) {
                continue;
            }
            if !std::mem::take(&mut first) {
                self.out.push(b',');
            }
            json(self.out, key.as_ref())?;
            self.out.push(b':');
            self.out.extend_from_slice(&self.buf[range.clone()]);
        }
        self.out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // serde_json's own key rules (strings; numbers and booleans as their text).
        match serde_json::to_value(key)? {
            serde_json::Value::String(s) => self.key = Some(s),
            serde_json::Value::Number(n) => self.key = Some(n.to_string()),
            serde_json::Value::Bool(b) => self.key = Some(b.to_string()),
            _ => return Err(<Error as ser::Error>::custom("key must be a string")),
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value without a key"))?;
        self.entry(Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Inner {
        z: Option<u8>,
        a: Vec<(i64, f64)>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        First,
    }

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Inner(Inner),
    }

    #[derive(Serialize)]
    struct Outer {
        zeta: &'static str,
        numbers: Vec<String>,
        drop_me: u8,
        kind: Kind,
        inner: Inner,
        map: BTreeMap<String, Either>,
        replaced: u8,
        nested_numbers: Vec<Vec<String>>,
    }

    fn outer() -> Outer {
        Outer {
            zeta: "\"quoted\" \u{1F600} 中文",
            numbers: vec!["a".into(), "b".into()],
            drop_me: 1,
            kind: Kind::First,
            inner: Inner {
                z: None,
                a: vec![(-1, 0.5), (2, f64::NAN)],
                skipped: None,
            },
            map: [
                ("k2".to_string(), Either::Text("x".into())),
                (
                    "k1".to_string(),
                    Either::Inner(Inner {
                        z: Some(3),
                        a: Vec::new(),
                        skipped: Some(1),
                    }),
                ),
            ]
            .into(),
            replaced: 7,
            nested_numbers: vec![vec!["c".into()]],
        }
    }

    /// The bytes equal those of the same value built as a `Value` (sorted maps), then
    /// edited as `canonical` edits its form.
    #[test]
    fn writes_what_a_sorted_value_would() {
        let masker = |s: &str| format!("masked-{s}");
        let mut out = Vec::new();
        let top = Top {
            drop: &["drop_me"],
            mask: &["numbers", "nested_numbers"],
            masker: &masker,
            extra: &[("replaced", b"{\"count\":2}"), ("added", b"null")],
        };
        write(&outer(), &mut out, top).unwrap();

        let mut value = serde_json::to_value(outer()).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("drop_me");
        map.insert(
            "numbers".into(),
            serde_json::json!(["masked-a", "masked-b"]),
        );
        map.insert("replaced".into(), serde_json::json!({"count": 2}));
        map.insert("added".into(), serde_json::Value::Null);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }

    #[test]
    fn enums_with_tagged_data_are_refused() {
        #[derive(Serialize)]
        enum Tagged {
            Data(u8),
        }
        let top = Top {
            drop: &[],
            mask: &[],
            masker: &|s: &str| s.to_string(),
            extra: &[],
        };
        assert!(write(&vec![Tagged::Data(1)], &mut Vec::new(), top).is_err());
    }
}
