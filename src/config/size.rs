//! Byte sizes written as integers or strings such as "512MiB".

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A size in bytes. In a machine file: an integer, or a string of digits followed by one of
/// `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (binary multiples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl Size {
    /// Parses "512MiB", "64M", "4096".
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(s.len());
        let (num, unit) = s.split_at(digits);
        let num: u64 =
            num.replace('_', "").parse().map_err(|_| format!("invalid size \"{s}\": expected e.g. \"512MiB\""))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "KiB" => 1 << 10,
            "M" | "MiB" => 1 << 20,
            "G" | "GiB" => 1 << 30,
            u => {
                return Err(format!(
                    "invalid size unit \"{u}\" in \"{s}\": use B, KiB (K), MiB (M) or GiB (G), all powers of 1024"
                ))
            }
        };
        num.checked_mul(mult).map(Size).ok_or_else(|| format!("size \"{s}\" is too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v != 0 && v.is_multiple_of(1 << 30) {
            write!(f, "{}GiB", v >> 30)
        } else if v != 0 && v.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", v >> 20)
        } else if v != 0 && v.is_multiple_of(1 << 10) {
            write!(f, "{}KiB", v >> 10)
        } else {
            write!(f, "{v}B")
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"512MiB\" or a byte count")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v).map(Size).map_err(|_| E::custom("size must not be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A byte count, or a string such as \"512MiB\" (units B, K, KiB, M, MiB, G, GiB)",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9_]+ *(B|K|KiB|M|MiB|G|GiB)?$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Size::parse("512MiB"), Ok(Size(512 << 20)));
        assert_eq!(Size::parse("64M"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("1GiB"), Ok(Size(1 << 30)));
        assert_eq!(Size::parse("4_096"), Ok(Size(4096)));
        assert!(Size::parse("12 parsecs").unwrap_err().contains("unit"));
        assert!(Size::parse("MiB").is_err());
        assert!(Size::parse("99999999999999999999G").is_err());
        assert_eq!(Size(512 << 20).to_string(), "512MiB");
    }
}
