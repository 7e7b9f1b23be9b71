//! The registry of device kinds: every plugin crate linked into semu registers one
//! [`DeviceKind`] with `inventory`. Output is always sorted by kind (inventory's order is not).

use semu_api::DeviceKind;

/// Every registered kind, sorted by name.
pub fn kinds() -> Vec<&'static DeviceKind> {
    let mut v: Vec<&'static DeviceKind> = inventory::iter::<DeviceKind>.into_iter().collect();
    v.sort_by_key(|k| k.kind);
    v
}

/// The kind named `name`.
pub fn find(name: &str) -> Option<&'static DeviceKind> {
    inventory::iter::<DeviceKind>.into_iter().find(|k| k.kind == name)
}

/// Names of every registered kind, sorted.
pub fn names() -> Vec<&'static str> {
    kinds().iter().map(|k| k.kind).collect()
}

/// One option of a kind, read from its JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionInfo {
    /// Key in the `[[device]]` table.
    pub name: String,
    /// Type (or the allowed values).
    pub ty: String,
    /// Whether the table must have it.
    pub required: bool,
    /// Default value, when the schema gives one.
    pub default: Option<String>,
    /// What it is.
    pub description: String,
}

/// The kind's own options (besides `name`, `kind`, `base`, `irq`, `irq-parent`), in schema order.
pub fn options(kind: &DeviceKind) -> Vec<OptionInfo> {
    let schema = (kind.schema)();
    let v = schema.as_value();
    let required: Vec<&str> =
        v.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|s| s.as_str()).collect();
    let Some(props) = v.get("properties").and_then(|p| p.as_object()) else { return Vec::new() };
    props
        .iter()
        .map(|(name, p)| OptionInfo {
            name: name.clone(),
            ty: type_of(p),
            required: required.contains(&name.as_str()),
            default: p.get("default").filter(|d| !d.is_null()).map(|d| d.to_string()),
            description: p
                .get("description")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect()
}

fn type_of(p: &serde_json::Value) -> String {
    if let Some(values) = p.get("enum").and_then(|e| e.as_array()) {
        return values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    if let Some(alts) = p.get("oneOf").or_else(|| p.get("anyOf")).and_then(|a| a.as_array()) {
        return alts.iter().map(type_of).filter(|t| t != "null").collect::<Vec<_>>().join(" | ");
    }
    if let Some(c) = p.get("const") {
        return c.to_string();
    }
    match p.get("type") {
        Some(serde_json::Value::String(t)) if t == "array" => {
            format!("array of {}", p.get("items").map_or_else(|| "values".to_string(), type_of))
        }
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => {
            ts.iter().filter_map(|t| t.as_str()).filter(|t| *t != "null").collect::<Vec<_>>().join(" | ")
        }
        _ => "value".to_string(),
    }
}

/// `semu devices KIND`: what the kind is, its options and its example.
pub fn describe(kind: &DeviceKind) -> String {
    use std::fmt::Write;
    let mut s = format!("{}: {}\n\noptions (besides name, kind, base, irq, irq-parent):\n", kind.kind, kind.summary);
    let opts = options(kind);
    if opts.is_empty() {
        s.push_str("  none\n");
    }
    for o in &opts {
        let need = if o.required {
            "required".to_string()
        } else {
            o.default.as_ref().map_or("optional".into(), |d| format!("default {d}"))
        };
        let _ = writeln!(s, "  {} ({}; {need})\n      {}", o.name, o.ty, o.description);
    }
    let _ = write!(s, "\nexample:\n{}", kind.example);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_describes_its_options() {
        for k in kinds() {
            let d = describe(k);
            assert!(d.contains(k.example) && d.starts_with(k.kind), "{d}");
            for o in options(k) {
                assert!(
                    !o.description.is_empty() && o.ty != "value",
                    "{}: option {} undescribed: {o:?}",
                    k.kind,
                    o.name
                );
            }
        }
    }
}
