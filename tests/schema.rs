//! The committed JSON Schema must be what `semu schema` prints.

#[test]
fn committed_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/machine.schema.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = semu::schema::machine_schema_text();
    assert!(
        committed == current,
        "schema/machine.schema.json is stale: run `cargo run -- schema > schema/machine.schema.json`"
    );
}

#[test]
fn schema_describes_every_kind_and_its_options() {
    let s = semu::schema::machine_schema();
    let device = &s["properties"]["device"]["items"];
    let kinds: Vec<&str> =
        device["properties"]["kind"]["enum"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(kinds, semu::registry::names());
    let branches = device["allOf"].as_array().unwrap();
    assert_eq!(branches.len(), kinds.len());
    let blk = branches.iter().find(|b| b["if"]["properties"]["kind"]["const"] == "virtio-blk").unwrap();
    assert!(blk["then"]["properties"]["image"].is_object(), "{blk}");
    assert_eq!(blk["then"]["additionalProperties"], false);
    assert!(s["properties"]["memory"].is_object() && s["properties"]["boot"].is_object());
}
