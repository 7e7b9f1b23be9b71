//! `virtio-fs`: a host directory shared with the guest (virtio 1.x device 26, on virtio-mmio),
//! served by a FUSE server inside semu.
//!
//! ```toml
//! [[device]]
//! name = "share0"
//! kind = "virtio-fs"
//! path = "shared"     # host directory, relative to the machine file
//! tag = "share"       # in the guest: mount -t virtiofs share /mnt
//! read-only = false   # optional
//! ```
//!
//! `semu run M --share HOSTDIR[:TAG]` adds one without editing the file.
//!
//! `Server` (in `server.rs`) answers FUSE requests (the protocol of Linux 6.1, FUSE 7.38, see
//! `abi.rs`) on the host directory, never reaching outside it: every name the guest sends is one
//! component resolved beneath its parent's descriptor without following symlinks. On a
//! read-only share every modifying request gets `EROFS`. `device.rs` puts the server behind
//! virtio queues.

pub mod abi;
mod device;
mod host;
mod nodes;
mod ops_dir;
mod ops_file;
mod ops_node;
mod server;
#[cfg(test)]
mod tests;

pub use device::{VirtioFs, MAX_REPLY, MAX_REQUEST, QUEUE_SIZE, TAG_LEN};
pub use server::{Server, MAX_READ, MAX_WRITE};

use std::path::PathBuf;

use schemars::JsonSchema;
use semu_api::{BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec, SharedDir};
use semu_virtio::MmioTransport;
use serde::Deserialize;

/// Options of a `virtio-fs` instance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Host directory to share, relative to the machine file.
    pub path: PathBuf,
    /// The name the guest mounts it by (`mount -t virtiofs TAG /mnt`): 1 to 36 bytes, no spaces.
    #[schemars(length(min = 1, max = 36))]
    pub tag: String,
    /// Refuse every change (the guest gets `EROFS`); the host directory never changes.
    #[serde(default)]
    pub read_only: bool,
}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"share0\"\nkind = \"virtio-fs\"\npath = \"shared\"\ntag = \"share\"\n";

/// Why `tag` cannot be a tag, if it cannot.
pub fn tag_problem(tag: &str) -> Option<String> {
    if tag.is_empty() {
        return Some("the tag is empty".into());
    }
    if tag.len() > TAG_LEN {
        return Some(format!("\"{tag}\" is {} bytes, more than the {TAG_LEN} a tag holds", tag.len()));
    }
    if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!("{tag:?}: a tag has no spaces or control characters (the guest names it in mount)"));
    }
    None
}

fn parse(spec: &DeviceSpec) -> Result<(Options, PathBuf), ConfigError> {
    let o: Options = spec.params.parse()?;
    let path = spec.params.resolve("path", &o.path);
    let meta = std::fs::metadata(&path).map_err(|e| spec.params.error("path", format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Err(spec.params.error("path", format!("{} is not a directory", path.display())));
    }
    if let Some(msg) = tag_problem(&o.tag) {
        return Err(spec.params.error("tag", msg));
    }
    Ok((o, path))
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    parse(spec).map(drop)
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    let (o, path) = parse(spec)?;
    let server = Server::new(&path, o.read_only)
        .map_err(|e| spec.params.error("path", format!("cannot share {}: {e}", path.display())))?;
    Ok(Box::new(MmioTransport::new(&spec.name, VirtioFs::new(server, &o.tag), ctx.irq.clone())))
}

inventory::submit! {
    DeviceKind {
        kind: "virtio-fs",
        summary: "a host directory shared with the guest (virtio-fs on virtio-mmio; mount -t virtiofs TAG DIR)",
        example: EXAMPLE,
        schema: || schemars::schema_for!(Options),
        resources: semu_virtio::RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: Some(SharedDir { path_option: "path", tag_option: "tag" }),
        check,
        build,
        fdt: semu_virtio::fdt,
        fdt_name: "virtio_mmio",
    }
}
