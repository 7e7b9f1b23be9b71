//! The virtio-blk device model (virtio 1.x, 5.2): one request queue over a raw image file.
//!
//! Requests are handled synchronously when the driver notifies the queue, with positioned I/O
//! straight between the file and guest RAM. Supported: `IN`, `OUT`, `FLUSH`, `GET_ID`; anything
//! else is `UNSUPP`. A request whose buffers are outside RAM, in the wrong direction, not a whole
//! number of sectors, or beyond the end of the disk fails with `IOERR`; so does `OUT` on a
//! read-only disk.

use std::io;

use semu_api::GuestRam;
use semu_virtio::{id, Chain, Queue, QueueError, VirtioDevice};

use crate::{Image, SECTOR};

/// Size of the request queue.
pub const QUEUE_SIZE: u16 = 256;
/// Length of the `GET_ID` serial string.
pub const ID_LEN: usize = 20;

/// Feature bits.
pub mod feature {
    /// `seg_max` is valid.
    pub const SEG_MAX: u64 = 1 << 2;
    /// The disk is read-only.
    pub const RO: u64 = 1 << 5;
    /// `FLUSH` is supported.
    pub const FLUSH: u64 = 1 << 9;
}

/// Request types.
pub mod req {
    /// Read.
    pub const IN: u32 = 0;
    /// Write.
    pub const OUT: u32 = 1;
    /// Flush the write cache.
    pub const FLUSH: u32 = 4;
    /// Read the device id string.
    pub const GET_ID: u32 = 8;
}

/// Request status values.
pub mod req_status {
    /// Success.
    pub const OK: u8 = 0;
    /// Failure.
    pub const IOERR: u8 = 1;
    /// Unsupported request.
    pub const UNSUPP: u8 = 2;
}

/// Size of the request header (`type`, `reserved`, `sector`).
const HDR_LEN: u64 = 16;

/// The virtio-blk device.
#[derive(Debug)]
pub struct Blk {
    image: Image,
    id: [u8; ID_LEN],
    config: Vec<u8>,
}

impl Blk {
    /// A disk over `image` whose `GET_ID` serial is `serial` (cut to 20 bytes).
    pub fn new(image: Image, serial: &str) -> Self {
        let mut id = [0; ID_LEN];
        let n = serial.len().min(ID_LEN);
        id[..n].copy_from_slice(&serial.as_bytes()[..n]);
        // struct virtio_blk_config up to and including num_queues (36 bytes).
        let mut config = vec![0; 36];
        config[0..8].copy_from_slice(&image.sectors().to_le_bytes());
        config[12..16].copy_from_slice(&u32::from(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
        config[34..36].copy_from_slice(&1u16.to_le_bytes()); // num_queues
        Self { image, id, config }
    }

    /// The image.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Handles one request; returns the number of bytes written to its writable buffers.
    fn handle(&mut self, ram: &mut GuestRam, c: &Chain) -> u32 {
        let Some(status_at) = c.writable.len().checked_sub(1) else {
            return 0; // nowhere to put the status: the driver gets nothing
        };
        let (status, data) = self.execute(ram, c, status_at);
        if c.writable.write_at(ram, status_at, &[status]).is_none() {
            return 0;
        }
        u32::try_from(data + 1).unwrap_or(u32::MAX)
    }

    /// Runs the request; returns the status and the number of data bytes written to the guest.
    fn execute(&mut self, ram: &mut GuestRam, c: &Chain, data_in: u64) -> (u8, u64) {
        let mut hdr = [0; HDR_LEN as usize];
        if c.misordered || c.readable.read_at(ram, 0, &mut hdr).is_none() {
            return (req_status::IOERR, 0);
        }
        let ty = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let sector = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or_default());
        let data_out = c.readable.len() - HDR_LEN;
        let ok = |r: io::Result<()>| if r.is_ok() { req_status::OK } else { req_status::IOERR };
        match ty {
            req::IN if data_out == 0 => match self.range(sector, data_in) {
                Some(off) => match self.read(ram, c, off, data_in) {
                    Ok(()) => (req_status::OK, data_in),
                    Err(_) => (req_status::IOERR, 0),
                },
                None => (req_status::IOERR, 0),
            },
            req::OUT if data_in == 0 && !self.image.read_only() => match self.range(sector, data_out) {
                Some(off) => (ok(self.write(ram, c, off, data_out)), 0),
                None => (req_status::IOERR, 0),
            },
            req::IN | req::OUT => (req_status::IOERR, 0),
            req::FLUSH => (ok(self.image.flush()), 0),
            req::GET_ID => {
                let n = data_in.min(ID_LEN as u64);
                match c.writable.write_at(ram, 0, &self.id[..n as usize]) {
                    Some(()) => (req_status::OK, n),
                    None => (req_status::IOERR, 0),
                }
            }
            _ => (req_status::UNSUPP, 0),
        }
    }

    /// The byte offset of `len` bytes at `sector` if they are whole sectors inside the disk.
    fn range(&self, sector: u64, len: u64) -> Option<u64> {
        let off = sector.checked_mul(SECTOR)?;
        (len.is_multiple_of(SECTOR) && off.checked_add(len)? <= self.image.len()).then_some(off)
    }

    fn read(&self, ram: &mut GuestRam, c: &Chain, mut off: u64, len: u64) -> io::Result<()> {
        if !c.writable.in_ram(ram) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        for (addr, n) in c.writable.chunks(0, len) {
            let buf = ram.slice_mut(addr, n).ok_or(io::ErrorKind::InvalidInput)?;
            self.image.read_at(buf, off)?;
            off += n as u64;
        }
        Ok(())
    }

    fn write(&mut self, ram: &GuestRam, c: &Chain, off: u64, len: u64) -> io::Result<()> {
        if !c.readable.in_ram(ram) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let mut at = off;
        for (addr, n) in c.readable.chunks(HDR_LEN, len) {
            let buf = ram.slice(addr, n).ok_or(io::ErrorKind::InvalidInput)?;
            self.image.write_at(buf, at)?;
            at += n as u64;
        }
        self.image.commit(off, len);
        Ok(())
    }
}

impl VirtioDevice for Blk {
    fn device_id(&self) -> u32 {
        id::BLOCK
    }

    fn features(&self) -> u64 {
        let ro = if self.image.read_only() { feature::RO } else { 0 };
        feature::SEG_MAX | feature::FLUSH | ro
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(index) else { return Ok(()) };
        q.process(ram, |ram, c| self.handle(ram, c))
    }

    fn shutdown(&mut self) {
        if let Err(e) = self.image.flush() {
            eprintln!("semu: cannot flush image {}: {e}", self.image.path().display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Access;
    use semu_api::{IrqLine, IrqPins};
    use semu_virtio::testing::{Buf, Driver, TempDir};
    use semu_virtio::{feature as vf, reg, status, MmioTransport, DESC_F_NEXT, DESC_F_WRITE};
    use std::path::{Path, PathBuf};

    const FEATURES: u64 = vf::VERSION_1 | feature::FLUSH | feature::SEG_MAX;

    fn image(dir: &TempDir, name: &str, sectors: u64) -> PathBuf {
        let p = dir.path().join(name);
        let data: Vec<u8> = (0..sectors * SECTOR).map(|i| (i / SECTOR) as u8 ^ (i as u8)).collect();
        std::fs::write(&p, data).unwrap();
        p
    }

    fn disk(path: &Path, access: Access) -> (MmioTransport<Blk>, IrqLine, Driver) {
        let line = IrqLine::new(IrqPins::new(32), 3);
        let blk = Blk::new(Image::open(path, access).unwrap(), "disk0");
        let mut t = MmioTransport::new("disk0", blk, Some(line.clone()));
        let mut d = Driver::new();
        let ro = if access == Access::ReadOnly { feature::RO } else { 0 };
        d.init(&mut t, FEATURES | ro);
        (t, line, d)
    }

    fn hdr(ty: u32, sector: u64) -> Buf {
        let mut h = ty.to_le_bytes().to_vec();
        h.extend(0u32.to_le_bytes());
        h.extend(sector.to_le_bytes());
        Buf::Read(h)
    }

    /// Submits a request; returns the used length, the status byte and the chain.
    fn request(t: &mut MmioTransport<Blk>, d: &mut Driver, bufs: &[Buf]) -> (u32, u8, Vec<u64>) {
        let s = d.submit(t, 0, bufs);
        let (id, len) = d.used(0).expect("request completed");
        assert_eq!(id, u32::from(s.head));
        let last = *s.addrs.last().unwrap();
        let Buf::Write(n) = bufs.last().unwrap() else { panic!() };
        let status = d.ram.slice(last + u64::from(n - 1), 1).unwrap()[0];
        (len, status, s.addrs)
    }

    #[test]
    fn features_and_config() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 8);
        let (mut t, _, mut d) = disk(&p, Access::ReadWrite);
        assert_eq!(d.device_features(&mut t), FEATURES | vf::INDIRECT_DESC);
        assert_eq!(d.config(&mut t, 0, 4), 8);
        assert_eq!(d.config(&mut t, 4, 4), 0);
        assert_eq!(d.config(&mut t, 12, 4), 254);
        let (mut t, _, mut d) = disk(&image(&dir, "b.img", 8), Access::ReadOnly);
        assert_ne!(d.device_features(&mut t) & feature::RO, 0);
    }

    #[test]
    fn read_write_round_trip_and_flush() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 16);
        let (mut t, line, mut d) = disk(&p, Access::ReadWrite);
        let data: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
        let (len, st, _) = request(&mut t, &mut d, &[hdr(req::OUT, 3), Buf::Read(data.clone()), Buf::Write(1)]);
        assert_eq!((len, st), (1, req_status::OK));
        assert!(line.level(), "completion interrupts");
        d.write(&mut t, reg::INTERRUPT_ACK, 1);
        assert!(!line.level(), "InterruptACK lowers the line");
        let (len, st, _) = request(&mut t, &mut d, &[hdr(req::FLUSH, 0), Buf::Write(1)]);
        assert_eq!((len, st), (1, req_status::OK));
        assert_eq!(&std::fs::read(&p).unwrap()[3 * 512..5 * 512], &data[..], "data is in the file");
        // Read it back, split over two buffers with the status in a third.
        let (len, st, a) = request(&mut t, &mut d, &[hdr(req::IN, 3), Buf::Write(100), Buf::Write(924), Buf::Write(1)]);
        assert_eq!((len, st), (1025, req_status::OK));
        assert_eq!(d.ram.slice(a[1], 100).unwrap(), &data[..100]);
        assert_eq!(d.ram.slice(a[2], 924).unwrap(), &data[100..]);
        // Status in the same buffer as the data.
        let (len, st, a) = request(&mut t, &mut d, &[hdr(req::IN, 0), Buf::Write(513)]);
        assert_eq!((len, st), (513, req_status::OK));
        assert_eq!(d.ram.slice(a[1], 512).unwrap(), &std::fs::read(&p).unwrap()[..512]);
    }

    #[test]
    fn out_of_range_and_partial_sectors_fail() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 4);
        let before = std::fs::read(&p).unwrap();
        let (mut t, _, mut d) = disk(&p, Access::ReadWrite);
        for (ty, sector, buf) in [
            (req::IN, 4, Buf::Write(512)),
            (req::IN, 3, Buf::Write(1024)),
            (req::IN, u64::MAX / 256, Buf::Write(512)),
            (req::IN, 0, Buf::Write(100)),
            (req::OUT, 4, Buf::Read(vec![1; 512])),
            (req::OUT, 0, Buf::Read(vec![1; 511])),
            (req::IN, 0, Buf::Read(vec![1; 512])), // wrong direction
            (req::OUT, 0, Buf::Write(512)),        // wrong direction
        ] {
            let (len, st, _) = request(&mut t, &mut d, &[hdr(ty, sector), buf, Buf::Write(1)]);
            assert_eq!((len, st), (1, req_status::IOERR), "type {ty} sector {sector}");
        }
        let (_, st, _) = request(&mut t, &mut d, &[hdr(77, 0), Buf::Write(1)]);
        assert_eq!(st, req_status::UNSUPP);
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }

    #[test]
    fn read_only_disk_refuses_writes_and_stays_unchanged() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "ro.img", 4);
        let before = std::fs::read(&p).unwrap();
        let (mut t, _, mut d) = disk(&p, Access::ReadOnly);
        let (_, st, _) = request(&mut t, &mut d, &[hdr(req::OUT, 0), Buf::Read(vec![0x55; 512]), Buf::Write(1)]);
        assert_eq!(st, req_status::IOERR);
        let (_, st, _) = request(&mut t, &mut d, &[hdr(req::FLUSH, 0), Buf::Write(1)]);
        assert_eq!(st, req_status::OK);
        let (_, st, a) = request(&mut t, &mut d, &[hdr(req::IN, 1), Buf::Write(512), Buf::Write(1)]);
        assert_eq!(st, req_status::OK);
        assert_eq!(d.ram.slice(a[1], 512).unwrap(), &before[512..1024]);
        t.device_mut().shutdown();
        drop(t);
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }

    #[test]
    fn a_snapshot_disk_is_writable_and_leaves_its_image_unchanged() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "snap.img", 16);
        let before = std::fs::read(&p).unwrap();
        let (mut t, _, mut d) = disk(&p, Access::Snapshot);
        assert_eq!(d.device_features(&mut t) & feature::RO, 0, "the guest sees a writable disk");
        let data: Vec<u8> = (0..1024u32).map(|i| (i * 13 + 5) as u8).collect();
        // Written in two buffers that split a sector.
        let bufs = [hdr(req::OUT, 6), Buf::Read(data[..300].to_vec()), Buf::Read(data[300..].to_vec()), Buf::Write(1)];
        assert_eq!(request(&mut t, &mut d, &bufs).1, req_status::OK);
        let (_, st, _) = request(&mut t, &mut d, &[hdr(req::FLUSH, 0), Buf::Write(1)]);
        assert_eq!(st, req_status::OK);
        // Sectors 5..9: one from the image, two written, one from the image.
        let (len, st, a) = request(&mut t, &mut d, &[hdr(req::IN, 5), Buf::Write(2048), Buf::Write(1)]);
        assert_eq!((len, st), (2049, req_status::OK));
        let got = d.ram.slice(a[1], 2048).unwrap();
        assert_eq!(got[..512], before[5 * 512..6 * 512], "unwritten: the image");
        assert_eq!(got[512..1536], data[..], "written: the overlay");
        assert_eq!(got[1536..], before[8 * 512..9 * 512], "unwritten: the image");
        let (len, st, a) = request(&mut t, &mut d, &[hdr(req::GET_ID, 0), Buf::Write(20), Buf::Write(1)]);
        assert_eq!((len, st), (21, req_status::OK));
        assert_eq!(&d.ram.slice(a[1], 6).unwrap(), b"disk0\0");
        // Out of range still fails, and nothing of it lands anywhere.
        let (_, st, _) = request(&mut t, &mut d, &[hdr(req::OUT, 16), Buf::Read(vec![9; 512]), Buf::Write(1)]);
        assert_eq!(st, req_status::IOERR);
        t.device_mut().shutdown();
        drop(t);
        assert!(std::fs::read(&p).unwrap() == before, "the image file is byte-for-byte unchanged");
        // A new snapshot of the image starts from the image again.
        let (mut t, _, mut d) = disk(&p, Access::Snapshot);
        let (_, st, a) = request(&mut t, &mut d, &[hdr(req::IN, 6), Buf::Write(1024), Buf::Write(1)]);
        assert_eq!(st, req_status::OK);
        assert_eq!(d.ram.slice(a[1], 1024).unwrap(), &before[6 * 512..8 * 512]);
    }

    #[test]
    fn get_id_is_the_instance_name() {
        let dir = TempDir::new("blk");
        let (mut t, _, mut d) = disk(&image(&dir, "a.img", 1), Access::ReadWrite);
        let (len, st, a) = request(&mut t, &mut d, &[hdr(req::GET_ID, 0), Buf::Write(20), Buf::Write(1)]);
        assert_eq!((len, st), (21, req_status::OK));
        assert_eq!(&d.ram.slice(a[1], 20).unwrap()[..6], b"disk0\0");
        let long =
            Blk::new(Image::open(&image(&dir, "b.img", 1), Access::ReadWrite).unwrap(), "a-very-long-instance-name");
        assert_eq!(&long.id, b"a-very-long-instance");
    }

    #[test]
    fn buffers_outside_ram_fail_with_ioerr() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 4);
        let before = std::fs::read(&p).unwrap();
        let (mut t, _, mut d) = disk(&p, Access::ReadWrite);
        let s = d.add_chain(0, &[hdr(req::OUT, 0), Buf::Read(vec![0; 512]), Buf::Write(1)]);
        // Point the data descriptor (index head+1) at the last 256 bytes of RAM and beyond.
        let end = semu_virtio::testing::BASE + semu_virtio::testing::RAM_SIZE;
        d.put_desc(0, s.head + 1, end - 256, 512, DESC_F_NEXT, s.head + 2);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), Some((u32::from(s.head), 1)));
        assert_eq!(d.ram.slice(s.addrs[2], 1).unwrap()[0], req_status::IOERR);
        assert_eq!(std::fs::read(&p).unwrap(), before, "nothing written");
        // A read into a buffer far outside RAM.
        let s = d.add_chain(0, &[hdr(req::IN, 0), Buf::Write(512), Buf::Write(1)]);
        d.put_desc(0, s.head + 1, 0x10_0000, 512, DESC_F_NEXT | DESC_F_WRITE, s.head + 2);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), Some((u32::from(s.head), 1)));
        assert_eq!(d.ram.slice(s.addrs[2], 1).unwrap()[0], req_status::IOERR);
        // A header outside RAM, a status byte outside RAM: no status, no panic.
        let s = d.add_chain(0, &[hdr(req::IN, 0), Buf::Write(1)]);
        d.put_desc(0, s.head, u64::MAX - 8, 16, DESC_F_NEXT, s.head + 1);
        d.put_desc(0, s.head + 1, u64::MAX, 1, DESC_F_WRITE, 0);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), Some((u32::from(s.head), 0)));
        assert_eq!(d.read(&mut t, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn a_descriptor_loop_sets_needs_reset() {
        let dir = TempDir::new("blk");
        let (mut t, _, mut d) = disk(&image(&dir, "a.img", 4), Access::ReadWrite);
        let s = d.add_chain(0, &[hdr(req::IN, 0), Buf::Write(512), Buf::Write(1)]);
        d.put_desc(0, s.head + 2, s.addrs[2], 1, DESC_F_WRITE | DESC_F_NEXT, s.head);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), None);
        assert_ne!(d.read(&mut t, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn a_second_open_is_refused_by_the_lock() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 4);
        let first = Image::open(&p, Access::ReadWrite).unwrap();
        let e = Image::open(&p, Access::ReadWrite).unwrap_err().to_string();
        assert!(e.contains("is in use by another process"), "{e}");
        assert!(Image::open(&p, Access::ReadOnly).is_err(), "a shared lock conflicts with the exclusive one");
        drop(first);
        let ro1 = Image::open(&p, Access::ReadOnly).unwrap();
        let _ro2 = Image::open(&p, Access::ReadOnly).expect("read-only disks share the image");
        assert!(Image::open(&p, Access::ReadWrite).is_err());
        drop(ro1);
    }

    #[test]
    fn bad_images_are_refused() {
        let dir = TempDir::new("blk");
        let p = dir.path().join("odd.img");
        std::fs::write(&p, [0; 700]).unwrap();
        let e = Image::open(&p, Access::ReadWrite).unwrap_err().to_string();
        assert!(e.contains("not a multiple of 512"), "{e}");
        assert!(Image::open(&dir.path().join("missing.img"), Access::ReadOnly).is_err());
    }

    #[test]
    fn a_hostile_driver_cannot_make_it_panic_or_hang() {
        let dir = TempDir::new("blk");
        let p = image(&dir, "a.img", 64);
        let (mut t, _, _) = disk(&p, Access::ReadWrite);
        let (_, done) = semu_virtio::testing::hostile_driver(&mut t, FEATURES | vf::INDIRECT_DESC, 200, 11);
        eprintln!("{done} requests completed");
        assert!(done > 0);
        let (mut t, _, _) = disk(&image(&dir, "ro.img", 64), Access::ReadOnly);
        let before = std::fs::read(dir.path().join("ro.img")).unwrap();
        semu_virtio::testing::hostile_driver(&mut t, FEATURES | vf::INDIRECT_DESC | feature::RO, 200, 12);
        assert_eq!(std::fs::read(dir.path().join("ro.img")).unwrap(), before);
        let (mut t, _, _) = disk(&image(&dir, "snap.img", 64), Access::Snapshot);
        let before = std::fs::read(dir.path().join("snap.img")).unwrap();
        let (_, done) = semu_virtio::testing::hostile_driver(&mut t, FEATURES | vf::INDIRECT_DESC, 200, 13);
        assert!(done > 0);
        t.device_mut().shutdown();
        assert_eq!(std::fs::read(dir.path().join("snap.img")).unwrap(), before);
    }
}
