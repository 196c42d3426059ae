//! Enumerated vendor codes, written by a symbolic name in manifests.
//!
//! `recall_state_codes: [power_off]` reads better in review than `[200010]`; the vendor's
//! number is accepted too and normalised to the name, so both spellings plan the same.
//! Drivers send `code()`.

/// Declares a code enum: its names, its vendor numbers, serde and JSON Schema support.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal => $sym:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($sym),+];

            /// The vendor's number for this code.
            pub fn code(self) -> i64 {
                match self { $(Self::$variant => $code),+ }
            }

            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $sym),+ }
            }

            pub fn from_code(code: i64) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($sym => Some(Self::$variant),)+ _ => None }
            }

            fn choices() -> String {
                [$(format!("`{}` ({})", $sym, $code)),+].join(", ")
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", $name::choices())
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        $name::from_code(v).ok_or_else(|| E::custom(format!(
                            "unknown code {v}: expected one of {}", $name::choices())))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| E::unknown_variant(v, $name::NAMES))
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl schemars::JsonSchema for $name {
            // Two vendors may both have, say, a `TaskType`: the module keeps the names apart.
            fn schema_name() -> std::borrow::Cow<'static, str> {
                // Named after the vendor: `vendor::<name>::spec` gives `<name>`.
                let path = module_path!();
                let path = path.strip_suffix("::spec").unwrap_or(path);
                let module = path.rsplit("::").next().unwrap_or_default();
                format!("{module}_{}", stringify!($name)).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": format!("One of {} (name or vendor code)", $name::choices()),
                    "oneOf": [
                        {"type": "string", "enum": [$($sym),+]},
                        {"type": "integer", "enum": [$($code),+]}
                    ]
                })
            }
        }
    };
}

pub(crate) use codes;

/// A 0/1 switch, written `true`/`false` (or the vendor's 0/1) and sent as 0/1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Flag(pub bool);

impl Flag {
    pub fn code(self) -> i64 {
        i64::from(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true or false (or the vendor's 1 or 0)")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Flag, E> {
                match v {
                    0 => Ok(Flag(false)),
                    1 => Ok(Flag(true)),
                    _ => Err(E::custom(format!(
                        "{v} is not a switch value: expected true or false (or 1 or 0)"
                    ))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Flag, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Flag {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Flag".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "true or false (the vendor's 1 or 0 accepted)",
            "oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}]
        })
    }
}
