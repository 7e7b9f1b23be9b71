//! Target `virtio_blk`: the block device over a 32 KiB image (read-write, read-only or snapshot,
//! chosen by the input). Besides the hostile driver, the input can place well-formed request
//! headers (any type, sector near the end of the disk or anywhere). A read-only or snapshot image
//! must be unchanged afterwards and no image may change size.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use semu_virtio::MmioTransport;
use semu_virtio_blk::{req, Access, Blk, Image, SECTOR};

use super::Bytes;
use super::Driver;

/// Sectors of the test images.
pub const SECTORS: u64 = 64;

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("semu-fuzz-blk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let data: Vec<u8> = (0..SECTORS * SECTOR).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("rw.img"), &data).expect("image");
        std::fs::write(dir.join("ro.img"), &data).expect("image");
        std::fs::write(dir.join("snap.img"), &data).expect("image");
        dir
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    // Odd first bytes: read-only, as when this was a bool; even ones: read-write or snapshot.
    let first = b.u8();
    let (access, name) = match (first & 1, first & 2) {
        (1, _) => (Access::ReadOnly, "ro.img"),
        (_, 0) => (Access::ReadWrite, "rw.img"),
        _ => (Access::Snapshot, "snap.img"),
    };
    let path = dir().join(name);
    let before = (access != Access::ReadWrite).then(|| std::fs::read(&path).expect("image"));
    let image = Image::open(&path, access).expect("the image opens (no other holder)");
    let mut t = MmioTransport::new("disk0", Blk::new(image, "disk0"), None);
    let mut d = Driver::new();
    d.play(&mut t, &mut b, |op, d, _, b| {
        // a request header: type, reserved, sector
        let ty = match op % 4 {
            0 => b.u32(),
            1 => [req::IN, req::OUT, req::FLUSH, req::GET_ID][usize::from(b.u8() % 4)],
            _ => [req::IN, req::OUT][usize::from(b.u8() % 2)],
        };
        let sector = match b.u8() % 4 {
            0 => b.u64(),
            1 => SECTORS - 1 - u64::from(b.u8() % 4),
            _ => u64::from(b.u8()) % SECTORS,
        };
        let mut h = ty.to_le_bytes().to_vec();
        h.extend(0u32.to_le_bytes());
        h.extend(sector.to_le_bytes());
        d.put(b, &h);
    });
    semu_api::Device::shutdown(&mut t);
    drop(t);
    let len = std::fs::metadata(&path).expect("image").len();
    assert_eq!(len, SECTORS * SECTOR, "the image keeps its size");
    if let Some(before) = before {
        assert!(std::fs::read(&path).expect("image") == before, "a read-only or snapshot image is never modified");
    }
}
