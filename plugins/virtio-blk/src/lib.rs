//! `virtio-blk`: a disk backed by a raw image file, on virtio-mmio.
//!
//! ```toml
//! [[device]]
//! name = "disk0"
//! kind = "virtio-blk"
//! image = "rootfs.ext4"   # relative to the machine file; size a multiple of 512 bytes
//! read-only = false       # optional
//! snapshot = false        # optional; `semu run --snapshot` sets it on every disk
//! ```
//!
//! The image is locked while the machine runs (`flock`: shared when read-only or snapshot,
//! exclusive otherwise), so two machines cannot write one image. A read-only disk opens its image
//! read-only and offers `VIRTIO_BLK_F_RO`; the root disk gets `ro` on the kernel command line. A
//! snapshot disk (like QEMU's `-snapshot`) also opens its image read-only, but the guest sees a
//! writable disk: its writes go to a private overlay that is discarded at exit, so the image never
//! changes (see [`image`]). `snapshot` on a read-only disk changes nothing: the disk stays
//! read-only. Linux names the disks `vda`, `vdb`, ... by address.

mod blk;
pub mod image;

pub use blk::{feature, req, req_status, Blk, ID_LEN, QUEUE_SIZE};
pub use image::{Access, Image};

/// Sector size.
pub const SECTOR: u64 = 512;

use std::path::PathBuf;

use schemars::JsonSchema;
use semu_api::{Block, BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec};
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
    /// Keep the image unchanged while the guest writes: the image is opened read-only and the
    /// guest's writes go to a private overlay that is discarded at exit (`semu run --snapshot`
    /// sets this on every disk). On a read-only disk it changes nothing.
    #[serde(default)]
    pub snapshot: bool,
}

impl Options {
    /// How the disk uses its image.
    pub fn access(&self) -> Access {
        match (self.read_only, self.snapshot) {
            (true, _) => Access::ReadOnly,
            (false, true) => Access::Snapshot,
            (false, false) => Access::ReadWrite,
        }
    }
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

fn read_only(spec: &DeviceSpec) -> bool {
    spec.params.parse::<Options>().is_ok_and(|o| o.access() == Access::ReadOnly)
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    let (o, path) = parse(spec)?;
    let image = Image::open(&path, o.access())?;
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
        block: Some(Block { prefix: "vd", image_option: "image", snapshot_option: Some("snapshot"), read_only }),
        shared_dir: None,
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
    fn snapshot_and_read_only_decide_the_access() {
        let dir = TempDir::new("blk-access");
        std::fs::write(dir.path().join("r.img"), vec![7; 1024]).unwrap();
        let kind = find_kind("virtio-blk");
        let block = kind.block.expect("a disk kind");
        assert_eq!((block.prefix, block.image_option, block.snapshot_option), ("vd", "image", Some("snapshot")));
        let head = "[[device]]\nname = \"d\"\nkind = \"virtio-blk\"\nimage = \"r.img\"\n";
        for (extra, access) in [
            ("", Access::ReadWrite),
            ("snapshot = true\n", Access::Snapshot),
            ("read-only = true\n", Access::ReadOnly),
            ("read-only = true\nsnapshot = true\n", Access::ReadOnly),
            ("read-only = false\nsnapshot = false\n", Access::ReadWrite),
        ] {
            let spec = example_spec(dir.path(), "virtio-blk", &format!("{head}{extra}"));
            (kind.check)(&spec).unwrap();
            assert_eq!(spec.params.parse::<Options>().unwrap().access(), access, "{extra}");
            assert_eq!((block.read_only)(&spec), access == Access::ReadOnly, "{extra}");
            let mut dev = (kind.build)(&spec, &mut build_ctx().0).unwrap();
            let mut d = Driver::new();
            let ro = d.device_features(dev.as_mut()) & feature::RO != 0;
            assert_eq!(ro, access == Access::ReadOnly, "{extra}: VIRTIO_BLK_F_RO");
            dev.shutdown();
        }
        // --snapshot sets the option through an override.
        let mut spec = example_spec(dir.path(), "virtio-blk", head);
        spec.params.set_override("snapshot", semu_api::toml::Value::Boolean(true), "--snapshot");
        assert_eq!(spec.params.parse::<Options>().unwrap().access(), Access::Snapshot);
        let bad = example_spec(dir.path(), "virtio-blk", &format!("{head}snapshot = \"yes\"\n"));
        assert!(!(block.read_only)(&bad), "options that do not parse count as writable");
        let e = (kind.check)(&bad).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some("snapshot"), Some(5)), "{e}");
        assert_eq!(std::fs::read(dir.path().join("r.img")).unwrap(), vec![7; 1024]);
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
