//! The storage behind a disk: a raw image file, opened read-write, read-only, or as a snapshot.
//!
//! A snapshot (`snapshot = true`, `semu run --snapshot`) opens the image read-only, like a
//! read-only disk, yet the guest gets a writable disk: writes go to a private overlay, an unlinked
//! temporary file (in `$TMPDIR`, sparse, at most the size of the disk) and a bitmap of one bit per
//! sector that says which sectors the overlay holds. Reads take those sectors from the overlay and
//! the others from the image. Nothing ever reaches the image, and the overlay disappears with the
//! process, however it ends. Memory stays bounded: the bitmap is 1/4096 of the disk size, and
//! zeroed, so the host backs only the parts of it that writes touched.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context};

use crate::SECTOR;

/// How a disk uses its image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The guest's writes go to the image.
    ReadWrite,
    /// The guest sees a read-only disk; the image is opened read-only.
    ReadOnly,
    /// The guest sees a writable disk, the image is opened read-only, and writes go to a private
    /// overlay that is discarded at exit.
    Snapshot,
}

/// The private overlay of a snapshot disk.
#[derive(Debug)]
struct Overlay {
    file: File,
    /// One bit per sector: set when the overlay holds the sector.
    written: Vec<u64>,
}

impl Overlay {
    fn create(image: &Path, len: u64) -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        let context =
            || format!("cannot create the snapshot overlay of image {} in {}", image.display(), dir.display());
        let (file, path) = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("semu-snapshot-{}-{n}", std::process::id()));
            match OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
                Err(e) => return Err(e).with_context(context),
            }
        };
        // Unlinked at once: the overlay goes away with the process, whatever ends it.
        std::fs::remove_file(&path).with_context(context)?;
        file.set_len(len).with_context(context)?;
        let sectors = len / SECTOR;
        let words = usize::try_from(sectors.div_ceil(64)).context("the image is too large for a snapshot")?;
        Ok(Self { file, written: vec![0; words] })
    }

    fn is_written(&self, sector: u64) -> bool {
        self.written.get((sector / 64) as usize).is_some_and(|w| w & (1 << (sector % 64)) != 0)
    }

    fn mark(&mut self, sectors: std::ops::Range<u64>) {
        for s in sectors {
            if let Some(w) = self.written.get_mut((s / 64) as usize) {
                *w |= 1 << (s % 64);
            }
        }
    }
}

/// An opened, locked disk image.
#[derive(Debug)]
pub struct Image {
    file: File,
    path: PathBuf,
    access: Access,
    len: u64,
    overlay: Option<Overlay>,
}

impl Image {
    /// Opens `path` for `access` and takes an advisory lock on it: exclusive for a read-write
    /// disk, shared otherwise (a read-only or snapshot disk never writes the image). Fails if
    /// another open file holds a conflicting lock, or if the size is not a multiple of 512 bytes.
    pub fn open(path: &Path, access: Access) -> anyhow::Result<Self> {
        let writable = access == Access::ReadWrite;
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .with_context(|| format!("cannot open image {}", path.display()))?;
        let op = if writable { libc::LOCK_EX } else { libc::LOCK_SH };
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                bail!("image {} is in use by another process", path.display());
            }
            bail!("cannot lock image {}: {e}", path.display());
        }
        let meta = file.metadata().with_context(|| format!("cannot stat image {}", path.display()))?;
        if !meta.is_file() {
            bail!("image {} is not a regular file", path.display());
        }
        if meta.len() % SECTOR != 0 {
            bail!("image {} is {} bytes, not a multiple of {SECTOR}", path.display(), meta.len());
        }
        let overlay = match access {
            Access::Snapshot => Some(Overlay::create(path, meta.len())?),
            Access::ReadWrite | Access::ReadOnly => None,
        };
        Ok(Self { file, path: path.to_path_buf(), access, len: meta.len(), overlay })
    }

    /// Capacity in 512-byte sectors.
    pub fn sectors(&self) -> u64 {
        self.len / SECTOR
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the disk has no sectors.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the disk uses the image.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Whether the guest sees a read-only disk.
    pub fn read_only(&self) -> bool {
        self.access == Access::ReadOnly
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads `buf.len()` bytes of the disk at byte offset `off` (any alignment): on a snapshot
    /// disk, the sectors written since it opened come from the overlay, the rest from the image.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let Some(o) = &self.overlay else { return self.file.read_exact_at(buf, off) };
        let end = off + buf.len() as u64;
        let mut at = off;
        while at < end {
            // The longest run of sectors from `at` that all come from the same file.
            let from_overlay = o.is_written(at / SECTOR);
            let mut next = (at / SECTOR + 1) * SECTOR;
            while next < end && o.is_written(next / SECTOR) == from_overlay {
                next += SECTOR;
            }
            let next = next.min(end);
            let part = &mut buf[(at - off) as usize..(next - off) as usize];
            let file = if from_overlay { &o.file } else { &self.file };
            file.read_exact_at(part, at)?;
            at = next;
        }
        Ok(())
    }

    /// Writes `buf` at byte offset `off` (any alignment) of a writable disk: into the image, or
    /// on a snapshot disk into the overlay, where the data counts as written only once
    /// [`Image::commit`] marks its sectors. Fails on a read-only disk.
    pub fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        match (&self.overlay, self.access) {
            (Some(o), _) => o.file.write_all_at(buf, off),
            (None, Access::ReadWrite) => self.file.write_all_at(buf, off),
            (None, _) => Err(io::ErrorKind::PermissionDenied.into()),
        }
    }

    /// Records that the whole sectors in `off..off + len` were written (with [`Image::write_at`]):
    /// a snapshot disk reads them from its overlay from now on. Call it once a request's data is
    /// all written, so that a request that failed halfway leaves unwritten sectors to the image.
    pub fn commit(&mut self, off: u64, len: u64) {
        if let Some(o) = &mut self.overlay {
            o.mark(off / SECTOR..(off + len).div_ceil(SECTOR).min(self.len / SECTOR));
        }
    }

    /// Makes written data durable: syncs a read-write image; nothing to do otherwise (a snapshot's
    /// overlay is discarded anyway).
    pub fn flush(&self) -> io::Result<()> {
        match self.access {
            Access::ReadWrite => self.file.sync_data(),
            Access::ReadOnly | Access::Snapshot => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semu_virtio::testing::TempDir;

    fn image(dir: &TempDir, sectors: u64) -> (PathBuf, Vec<u8>) {
        let p = dir.path().join("a.img");
        let data: Vec<u8> = (0..sectors * SECTOR).map(|i| (i / SECTOR) as u8 ^ (i as u8) ^ 0x5a).collect();
        std::fs::write(&p, &data).unwrap();
        (p, data)
    }

    #[test]
    fn snapshot_reads_written_sectors_from_the_overlay_and_the_rest_from_the_image() {
        let dir = TempDir::new("blk-image");
        let (p, before) = image(&dir, 200);
        let mut img = Image::open(&p, Access::Snapshot).unwrap();
        assert!(!img.read_only(), "the guest sees a writable disk");
        // Sectors 3..5 and 70 (in the second bitmap word), written in pieces that split sectors.
        let data: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 1) as u8).collect();
        img.write_at(&data[..100], 3 * SECTOR).unwrap();
        img.write_at(&data[100..], 3 * SECTOR + 100).unwrap();
        img.commit(3 * SECTOR, 1024);
        img.write_at(&[0xee; 512], 70 * SECTOR).unwrap();
        img.commit(70 * SECTOR, 512);
        // Written, but never committed (a request that failed): still the image's data.
        img.write_at(&[0x11; 512], 9 * SECTOR).unwrap();
        let mut expect = before.clone();
        expect[3 * 512..5 * 512].copy_from_slice(&data);
        expect[70 * 512..71 * 512].fill(0xee);
        let mut all = vec![0; before.len()];
        img.read_at(&mut all, 0).unwrap();
        assert!(all == expect, "whole disk: overlay where written, image elsewhere");
        // Unaligned reads across the boundaries of written runs.
        for (off, len) in [(3 * 512 - 7, 20), (5 * 512 - 3, 9), (2 * 512 + 11, 3 * 512), (69 * 512 + 500, 600)] {
            let mut b = vec![0; len];
            img.read_at(&mut b, off as u64).unwrap();
            assert_eq!(b, &expect[off..off + len], "read {len} bytes at {off}");
        }
        img.flush().unwrap();
        drop(img);
        assert!(std::fs::read(&p).unwrap() == before, "the image file is byte-for-byte unchanged");
    }

    #[test]
    fn snapshot_shares_the_image_with_readers_and_not_with_a_writer() {
        let dir = TempDir::new("blk-image");
        let (p, _) = image(&dir, 4);
        let a = Image::open(&p, Access::Snapshot).unwrap();
        let b = Image::open(&p, Access::Snapshot).expect("two snapshots of one image");
        let _r = Image::open(&p, Access::ReadOnly).expect("and a read-only disk");
        let e = Image::open(&p, Access::ReadWrite).unwrap_err().to_string();
        assert!(e.contains("in use by another process"), "{e}");
        drop((a, b, _r));
        let w = Image::open(&p, Access::ReadWrite).unwrap();
        assert!(Image::open(&p, Access::Snapshot).is_err(), "no snapshot of an image being written");
        drop(w);
    }

    #[test]
    fn two_snapshots_of_one_image_do_not_see_each_other() {
        let dir = TempDir::new("blk-image");
        let (p, before) = image(&dir, 8);
        let mut a = Image::open(&p, Access::Snapshot).unwrap();
        let b = Image::open(&p, Access::Snapshot).unwrap();
        a.write_at(&[1; 512], 0).unwrap();
        a.commit(0, 512);
        let mut s = [0; 512];
        b.read_at(&mut s, 0).unwrap();
        assert_eq!(s[..], before[..512]);
        a.read_at(&mut s, 0).unwrap();
        assert_eq!(s, [1; 512]);
    }

    #[test]
    fn the_overlay_leaves_no_file_behind() {
        let dir = TempDir::new("blk-image");
        let (p, _) = image(&dir, 8);
        let img = Image::open(&p, Access::Snapshot).unwrap();
        let fd = img.overlay.as_ref().unwrap().file.as_raw_fd();
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert!(target.to_string_lossy().ends_with("(deleted)"), "{}", target.display());
        assert_eq!(img.overlay.as_ref().unwrap().file.metadata().unwrap().len(), 8 * SECTOR);
    }

    #[test]
    fn a_read_only_image_refuses_writes() {
        let dir = TempDir::new("blk-image");
        let (p, before) = image(&dir, 2);
        let mut img = Image::open(&p, Access::ReadOnly).unwrap();
        assert!(img.read_only());
        assert!(img.write_at(&[0; 512], 0).is_err());
        img.commit(0, 512);
        img.flush().unwrap();
        drop(img);
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }
}
