//! `virtio-blk`: a disk backed by a raw image file, on virtio-mmio.
//!
//! ```toml
//! [[device]]
//! name = "disk0"
//! kind = "virtio-blk"
//! image = "rootfs.ext4"   # relative to the machine file; size a multiple of 512 bytes
//! read-only = false       # optional
//! ```
//!
//! The image is locked while the machine runs (`flock`: shared when read-only, exclusive
//! otherwise), so two machines cannot write one image. A read-only disk opens its image read-only
//! and offers `VIRTIO_BLK_F_RO`. Linux names the disks `vda`, `vdb`, ... by address.

mod blk;

pub use blk::{feature, req, req_status, Blk, Image, ID_LEN, QUEUE_SIZE, SECTOR};

use std::path::PathBuf;

use schemars::JsonSchema;
use semu_api::{BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec};
use semu_virtio::MmioTransport;
use serde::Deserialize;

/// Options of a `virtio-blk` instance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Raw disk image (its size a multiple of 512 bytes), relative to the machine file.
    pub image: PathBuf,
    /// Present the disk as read-only; the image is opened read-only and never changes.
    #[serde(default)]
    pub read_only: bool,
}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"disk0\"\nkind = \"virtio-blk\"\nimage = \"rootfs.ext4\"\n";

fn parse(spec: &DeviceSpec) -> Result<(Options, PathBuf), ConfigError> {
    let o: Options = spec.params.parse()?;
    let path = spec.params.resolve("image", &o.image);
    let meta = std::fs::metadata(&path).map_err(|e| spec.params.error("image", format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(spec.params.error("image", format!("{} is not a regular file", path.display())));
    }
    if meta.len() % SECTOR != 0 {
        let msg = format!("{} is {} bytes, not a multiple of {SECTOR}", path.display(), meta.len());
        return Err(spec.params.error("image", msg));
    }
    Ok((o, path))
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    parse(spec).map(|_| ())
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    let (o, path) = parse(spec)?;
    let image = Image::open(&path, o.read_only)?;
    Ok(Box::new(MmioTransport::new(&spec.name, Blk::new(image, &spec.name), ctx.irq.clone())))
}

inventory::submit! {
    DeviceKind {
        kind: "virtio-blk",
        summary: "virtio block device (virtio-mmio) backed by a raw disk image",
        example: EXAMPLE,
        schema: || schemars::schema_for!(Options),
        resources: semu_virtio::RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: Some(("vd", "image")),
        check,
        build,
        fdt: semu_virtio::fdt,
        fdt_name: "virtio_mmio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semu_virtio::testing::{build_ctx, example_spec, find_kind, Buf, Driver, TempDir};

    #[test]
    fn example_parses_checks_and_builds() {
        let dir = TempDir::new("blk-example");
        let kind = find_kind("virtio-blk");
        let spec = example_spec(dir.path(), "virtio-blk", kind.example);
        let e = (kind.check)(&spec).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("image"), "{e}");
        assert!(e.to_string().contains("rootfs.ext4"), "{e}");
        std::fs::write(dir.path().join("rootfs.ext4"), vec![0; 4096]).unwrap();
        (kind.check)(&spec).unwrap();
        let (mut ctx, line) = build_ctx();
        let mut dev = (kind.build)(&spec, &mut ctx).unwrap();
        let mut d = Driver::new();
        assert_eq!(d.read(dev.as_mut(), semu_virtio::reg::DEVICE_ID), 2);
        assert_eq!(d.config(dev.as_mut(), 0, 8), 8, "capacity in sectors");
        d.init(dev.as_mut(), semu_virtio::feature::VERSION_1);
        let mut h = req::GET_ID.to_le_bytes().to_vec();
        h.extend([0; 12]);
        let s = d.submit(dev.as_mut(), 0, &[Buf::Read(h), Buf::Write(20), Buf::Write(1)]);
        assert_eq!(d.used(0), Some((u32::from(s.head), 21)));
        assert_eq!(&d.ram.slice(s.addrs[1], 5).unwrap(), b"disk0");
        assert!(line.level());
        // The same image again: the lock refuses it.
        let e = (kind.build)(&spec, &mut build_ctx().0).err().unwrap().to_string();
        assert!(e.contains("in use by another process"), "{e}");
        dev.shutdown();
        drop(dev);
        assert!(schemars::schema_for!(Options).as_value().to_string().contains("read-only"));
    }

    #[test]
    fn check_reports_the_field() {
        let dir = TempDir::new("blk-check");
        let text = "[[device]]\nname = \"d\"\nkind = \"virtio-blk\"\nimage = \"odd.img\"\nread-only = true\n";
        std::fs::write(dir.path().join("odd.img"), vec![0; 1000]).unwrap();
        let spec = example_spec(dir.path(), "virtio-blk", text);
        let e = check(&spec).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some("image"), Some(4)), "{e}");
        assert!(e.message.contains("not a multiple of 512"), "{e}");
        let bad = "[[device]]\nname = \"d\"\nkind = \"virtio-blk\"\nimage = \"odd.img\"\nsize = 3\n";
        let e = check(&example_spec(dir.path(), "virtio-blk", bad)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("size"), "{e}");
        let e = check(&example_spec(dir.path(), "virtio-blk", "[[device]]\nname = \"d\"\nkind = \"virtio-blk\"\n"))
            .unwrap_err();
        assert!(e.message.contains("image"), "{e}");
        std::fs::create_dir(dir.path().join("dir.img")).unwrap();
        let t = "[[device]]\nname = \"d\"\nkind = \"virtio-blk\"\nimage = \"dir.img\"\n";
        assert!(check(&example_spec(dir.path(), "virtio-blk", t)).unwrap_err().message.contains("regular file"));
    }
}
