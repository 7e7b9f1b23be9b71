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
