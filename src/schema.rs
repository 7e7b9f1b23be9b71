//! The JSON Schema of machine files: the core tables from `schemars`, the `[[device]]` entries from
//! the registry (one `if kind == X then X's options` branch per kind), so plugins' options are in it.

use serde_json::{json, Map, Value};

use crate::config::MachineFile;
use crate::registry;

/// The schema as JSON.
pub fn machine_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(MachineFile)).unwrap_or(Value::Null);
    let kinds = registry::kinds();
    let names: Vec<&str> = kinds.iter().map(|k| k.kind).collect();
    let common = json!({
        "name": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$", "description": "Instance name, unique in the machine" },
        "kind": { "type": "string", "enum": names, "description": "Device kind (see `semu devices`)" },
        "base": { "type": "integer", "minimum": 0, "maximum": 4294967295u64, "description": "Base address (allocated when left out)" },
        "irq": { "type": "integer", "minimum": 1, "description": "Interrupt source number at its controller (allocated when left out)" },
        "irq-parent": { "type": "string", "description": "The interrupt controller instance (default: the only one)" }
    });
    let mut branches = Vec::new();
    for k in &kinds {
        let own = serde_json::to_value((k.schema)()).unwrap_or(Value::Null);
        let mut props: Map<String, Value> = common.as_object().cloned().unwrap_or_default();
        if let Some(p) = own.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        let mut then = json!({ "properties": props, "additionalProperties": false });
        if let Some(req) = own.get("required") {
            then["required"] = req.clone();
        }
        if let Some(defs) = own.get("$defs").and_then(Value::as_object) {
            let all = schema.as_object_mut().map(|s| s.entry("$defs").or_insert_with(|| json!({})));
            if let Some(Value::Object(all)) = all {
                all.extend(defs.clone());
            }
        }
        branches.push(json!({
            "if": { "properties": { "kind": { "const": k.kind } }, "required": ["kind"] },
            "then": then,
            "description": k.summary,
        }));
    }
    let device = json!({
        "type": "object",
        "description": "A device instance: name, kind, optional base and irq, and the kind's own options",
        "required": ["name", "kind"],
        "properties": common,
        "allOf": branches,
    });
    if let Some(p) = schema.get_mut("properties").and_then(|p| p.get_mut("device")) {
        *p = json!({ "type": "array", "items": device, "description": "Device instances" });
    }
    schema
}

/// The schema as pretty-printed text with a trailing newline (what `semu schema` prints and what
/// `schema/machine.schema.json` holds).
pub fn machine_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&machine_schema()).unwrap_or_default();
    s.push('\n');
    s
}
