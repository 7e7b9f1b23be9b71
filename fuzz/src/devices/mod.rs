//! Targets `virtio_blk`, `virtio_net`, `virtio_rng`: each virtio device behind its MMIO transport,
//! driven by a hostile driver whose every move comes from the input.
//!
//! The driver writes and reads any register with any size, sets queues up (sizes and ring
//! addresses from the input, inside or outside RAM), writes descriptors with any address, length,
//! flags and `next`, makes heads available, jumps the available index, notifies and ticks. The
//! device must never panic or hang; after the run the transport must still answer, and each
//! device's own promises are checked (a read-only disk's image is unchanged, a frame sent to the
//! network is never longer than the largest frame).

pub mod blk;
pub mod net;
pub mod rng;

use semu_api::{DevCtx, Device, GuestRam, StopRequest};
use semu_virtio::{reg, status, DESC_F_NEXT, DESC_F_WRITE};

use super::bytes::Bytes;

/// Guest physical address of the RAM.
pub const BASE: u64 = 0x8000_0000;
/// Its size.
pub const RAM: u64 = 64 << 10;
/// Driver operations per input.
const MAX_OPS: usize = 512;

/// What the driver believes about one queue (what it programmed).
#[derive(Clone, Copy, Default)]
struct QueueLayout {
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
}

/// The hostile driver's state.
pub struct Driver {
    /// Guest RAM.
    pub ram: GuestRam,
    stop: Option<StopRequest>,
    queues: Vec<QueueLayout>,
}

/// A guest address: mostly an aligned offset into RAM, sometimes anything.
fn addr(b: &mut Bytes, align: u64) -> u64 {
    match b.u8() % 16 {
        0 => b.u64(),
        1 => BASE + RAM - u64::from(b.u8()),
        2 => u64::from(b.u32()),
        _ => (BASE + u64::from(b.u16()) % RAM) & !(align - 1),
    }
}

fn length(b: &mut Bytes) -> u32 {
    match b.u8() % 8 {
        0 => 0,
        1 => b.u32(),
        2 => u32::MAX,
        3 => 16,
        4 => 1,
        _ => u32::from(b.u16()) % 4096,
    }
}

impl Driver {
    /// A driver over zeroed RAM.
    pub fn new() -> Self {
        Self { ram: GuestRam::new(BASE, RAM), stop: None, queues: Vec::new() }
    }

    fn ctx(&mut self) -> DevCtx<'_> {
        DevCtx { ram: &mut self.ram, now: 0, stop: &mut self.stop, verbose: false }
    }

    fn write(&mut self, dev: &mut dyn Device, offset: u64, value: u32) {
        dev.write(offset, 4, u64::from(value), &mut self.ctx()).expect("a 32-bit register write");
    }

    fn read(&mut self, dev: &mut dyn Device, offset: u64) -> u32 {
        dev.read(offset, 4, &mut self.ctx()).expect("a 32-bit register read") as u32
    }

    /// The usual initialisation, with features, queue sizes and ring addresses from the input.
    fn setup(&mut self, dev: &mut dyn Device, b: &mut Bytes) {
        self.write(dev, reg::STATUS, 0);
        self.write(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        let features = if b.bool() { b.u64() } else { (1 << 32) | (1 << 28) | u64::from(b.u32()) & 0x0000_0ffff };
        self.write(dev, reg::DRIVER_FEATURES_SEL, 1);
        self.write(dev, reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.write(dev, reg::DRIVER_FEATURES_SEL, 0);
        self.write(dev, reg::DRIVER_FEATURES, features as u32);
        self.write(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        self.queues.clear();
        for i in 0..4 {
            self.write(dev, reg::QUEUE_SEL, i);
            let max = self.read(dev, reg::QUEUE_NUM_MAX);
            if max == 0 {
                break;
            }
            let size = match b.u8() % 4 {
                0 => b.u16(),
                1 => max as u16,
                _ => 1 << (b.u8() % 5),
            };
            let l = QueueLayout { size, desc: addr(b, 16), avail: addr(b, 2), used: addr(b, 4) };
            self.write(dev, reg::QUEUE_NUM, u32::from(size));
            for (lo, a) in
                [(reg::QUEUE_DESC_LOW, l.desc), (reg::QUEUE_DRIVER_LOW, l.avail), (reg::QUEUE_DEVICE_LOW, l.used)]
            {
                self.write(dev, lo, a as u32);
                self.write(dev, lo + 4, (a >> 32) as u32);
            }
            self.write(dev, reg::QUEUE_READY, 1);
            self.queues.push(l);
        }
        let s = self.read(dev, reg::STATUS);
        self.write(dev, reg::STATUS, s | status::DRIVER_OK);
    }

    fn queue(&self, b: &mut Bytes) -> Option<(usize, QueueLayout)> {
        if self.queues.is_empty() {
            return None;
        }
        let i = usize::from(b.u8()) % self.queues.len();
        Some((i, self.queues[i]))
    }

    /// Plays the driver operations of `b` against `dev`; `extra(op, driver, dev, bytes)` handles
    /// the device's own operations (op numbers 12 and up).
    pub fn play(
        &mut self,
        dev: &mut dyn Device,
        b: &mut Bytes,
        mut extra: impl FnMut(u8, &mut Self, &mut dyn Device, &mut Bytes),
    ) {
        for _ in 0..MAX_OPS {
            if b.is_empty() {
                break;
            }
            let op = b.u8();
            match op % 16 {
                0 => self.setup(dev, b),
                1 => {
                    // any register, any size, any value (STATUS too: resets and odd bits)
                    let offset = u64::from(b.u16() % 0x220);
                    let size = [1, 2, 4, 8][usize::from(b.u8() % 4)];
                    let value = b.u64();
                    let _ = dev.write(offset, size, value, &mut self.ctx());
                }
                2 => {
                    let offset = u64::from(b.u16() % 0x220);
                    let size = [1, 2, 4, 8][usize::from(b.u8() % 4)];
                    let _ = dev.read(offset, size, &mut self.ctx());
                }
                3 => {
                    let at = BASE + u64::from(b.u16()) % RAM;
                    let n = usize::from(b.u8() % 32);
                    let _ = self.ram.write(at, b.take(n));
                }
                4 | 5 => {
                    // a descriptor
                    let Some((_, q)) = self.queue(b) else { continue };
                    let i = if b.bool() { b.u16() } else { b.u16() % q.size.max(1) };
                    let at = q.desc.wrapping_add(16 * u64::from(i));
                    let a = addr(b, 1);
                    let len = length(b);
                    let flags = match b.u8() % 4 {
                        0 => u16::from(b.u8()),
                        1 => DESC_F_NEXT,
                        2 => DESC_F_WRITE,
                        _ => DESC_F_NEXT | DESC_F_WRITE,
                    };
                    let next = if b.bool() { b.u16() } else { i.wrapping_add(1) % q.size.max(1) };
                    let _ = self.ram.write_u64(at, a);
                    let _ = self.ram.write_u32(at.wrapping_add(8), len);
                    let _ = self.ram.write_u16(at.wrapping_add(12), flags);
                    let _ = self.ram.write_u16(at.wrapping_add(14), next);
                }
                6 | 7 => {
                    // make a head available
                    let Some((_, q)) = self.queue(b) else { continue };
                    let head = if b.bool() { b.u16() } else { b.u16() % q.size.max(1) };
                    if let Some(idx) = self.ram.read_u16(q.avail.wrapping_add(2)) {
                        let slot = u64::from(idx % q.size.max(1));
                        let _ = self.ram.write_u16(q.avail.wrapping_add(4 + 2 * slot), head);
                        let _ = self.ram.write_u16(q.avail.wrapping_add(2), idx.wrapping_add(1));
                    }
                }
                8 => {
                    // jump the available index, or set the ring's flags
                    let Some((_, q)) = self.queue(b) else { continue };
                    let v = b.u16();
                    let at = if b.bool() { q.avail.wrapping_add(2) } else { q.avail };
                    let _ = self.ram.write_u16(at, v);
                }
                9 | 10 => {
                    let i = u32::from(b.u8() % 4);
                    self.write(dev, reg::QUEUE_NOTIFY, i);
                }
                11 => dev.tick(&mut self.ctx()),
                _ => extra(op, self, dev, b),
            }
        }
        // The transport still answers.
        assert_eq!(self.read(dev, reg::MAGIC_VALUE), semu_virtio::MAGIC);
        let _ = self.read(dev, reg::STATUS);
    }

    /// Writes `data` at a guest address from the input (for device-specific payloads).
    pub fn put(&mut self, b: &mut Bytes, data: &[u8]) {
        let at = addr(b, 8);
        let _ = self.ram.write(at, data);
    }
}

impl Default for Driver {
    fn default() -> Self {
        Self::new()
    }
}
