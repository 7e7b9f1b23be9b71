//! A virtio driver for unit tests: owns a small guest RAM, negotiates features, sets up split
//! queues, submits descriptor chains and reads the used rings, all through a device's MMIO
//! registers ([`semu_api::Device`]). Not for use outside tests: it panics on misuse.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use semu_api::{DevCtx, Device, GuestRam, StopRequest};

use crate::queue::{DESC_F_NEXT, DESC_F_WRITE};
use crate::{reg, status, Queue};

/// Guest physical address of the test RAM.
pub const BASE: u64 = 0x8000_0000;
/// Size of the test RAM.
pub const RAM_SIZE: u64 = 1 << 20;

/// One buffer of a chain to submit.
#[derive(Debug, Clone)]
pub enum Buf {
    /// Device-readable, with these contents.
    Read(Vec<u8>),
    /// Device-writable, of this many bytes (filled with 0xAA first).
    Write(u32),
}

/// A submitted chain: its head and the guest address of each buffer.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// Head descriptor index.
    pub head: u16,
    /// Address of each buffer, in the order given.
    pub addrs: Vec<u64>,
}

/// Driver-side state of one queue.
#[derive(Debug, Clone)]
struct DriverQueue {
    layout: Queue,
    next_desc: u16,
    used_seen: u16,
}

/// The test driver.
pub struct Driver {
    /// Guest RAM ([`BASE`], [`RAM_SIZE`]).
    pub ram: GuestRam,
    /// Where devices put stop requests.
    pub stop: Option<StopRequest>,
    next_free: u64,
    queues: Vec<Option<DriverQueue>>,
}

impl Default for Driver {
    fn default() -> Self {
        Self::new()
    }
}

impl Driver {
    /// A driver with fresh, zeroed RAM.
    pub fn new() -> Self {
        Self { ram: GuestRam::new(BASE, RAM_SIZE), stop: None, next_free: BASE + 0x1000, queues: Vec::new() }
    }

    /// Allocates `len` bytes of guest RAM aligned to `align`.
    pub fn alloc(&mut self, len: u64, align: u64) -> u64 {
        let at = self.next_free.next_multiple_of(align.max(1));
        self.next_free = at + len.max(1);
        assert!(self.next_free <= BASE + RAM_SIZE, "test RAM exhausted");
        at
    }

    /// The context for a device access.
    pub fn ctx(&mut self) -> DevCtx<'_> {
        DevCtx { ram: &mut self.ram, now: 0, stop: &mut self.stop, verbose: false }
    }

    /// Reads a 32-bit register.
    pub fn read(&mut self, dev: &mut dyn Device, offset: u64) -> u32 {
        dev.read(offset, 4, &mut self.ctx()).expect("register read") as u32
    }

    /// Writes a 32-bit register.
    pub fn write(&mut self, dev: &mut dyn Device, offset: u64, value: u32) {
        dev.write(offset, 4, u64::from(value), &mut self.ctx()).expect("register write");
    }

    /// Reads `size` bytes of the config space at `offset`.
    pub fn config(&mut self, dev: &mut dyn Device, offset: u64, size: u8) -> u64 {
        dev.read(crate::CONFIG_OFFSET + offset, size, &mut self.ctx()).expect("config read")
    }

    /// Runs the device's tick.
    pub fn tick(&mut self, dev: &mut dyn Device) {
        dev.tick(&mut self.ctx());
    }

    /// The 64 feature bits the device offers.
    pub fn device_features(&mut self, dev: &mut dyn Device) -> u64 {
        self.write(dev, reg::DEVICE_FEATURES_SEL, 1);
        let hi = self.read(dev, reg::DEVICE_FEATURES);
        self.write(dev, reg::DEVICE_FEATURES_SEL, 0);
        let lo = self.read(dev, reg::DEVICE_FEATURES);
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// Resets the device and negotiates `features`; returns whether `FEATURES_OK` stuck.
    pub fn negotiate(&mut self, dev: &mut dyn Device, features: u64) -> bool {
        self.queues.clear();
        self.write(dev, reg::STATUS, 0);
        self.write(dev, reg::STATUS, status::ACKNOWLEDGE);
        self.write(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        self.write(dev, reg::DRIVER_FEATURES_SEL, 1);
        self.write(dev, reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.write(dev, reg::DRIVER_FEATURES_SEL, 0);
        self.write(dev, reg::DRIVER_FEATURES, features as u32);
        self.write(dev, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        self.read(dev, reg::STATUS) & status::FEATURES_OK != 0
    }

    /// Sets up queue `index` with `size` entries (at most its maximum) and makes it ready.
    pub fn setup_queue(&mut self, dev: &mut dyn Device, index: u32, size: u16) {
        self.write(dev, reg::QUEUE_SEL, index);
        assert_eq!(self.read(dev, reg::QUEUE_READY), 0);
        let max = self.read(dev, reg::QUEUE_NUM_MAX);
        assert!(max > 0, "queue {index} does not exist");
        let size = size.min(max as u16);
        let n = u64::from(size);
        let mut layout = Queue::new(size);
        layout.desc = self.alloc(16 * n, 16);
        layout.avail = self.alloc(6 + 2 * n, 2);
        layout.used = self.alloc(6 + 8 * n, 4);
        layout.ready = true;
        self.write(dev, reg::QUEUE_NUM, u32::from(size));
        for (lo, addr) in [
            (reg::QUEUE_DESC_LOW, layout.desc),
            (reg::QUEUE_DRIVER_LOW, layout.avail),
            (reg::QUEUE_DEVICE_LOW, layout.used),
        ] {
            self.write(dev, lo, addr as u32);
            self.write(dev, lo + 4, (addr >> 32) as u32);
        }
        self.write(dev, reg::QUEUE_READY, 1);
        assert_eq!(self.read(dev, reg::QUEUE_READY), 1, "queue {index} refused");
        let i = index as usize;
        if self.queues.len() <= i {
            self.queues.resize(i + 1, None);
        }
        self.queues[i] = Some(DriverQueue { layout, next_desc: 0, used_seen: 0 });
    }

    /// Sets `DRIVER_OK`.
    pub fn driver_ok(&mut self, dev: &mut dyn Device) {
        let s = self.read(dev, reg::STATUS);
        self.write(dev, reg::STATUS, s | status::DRIVER_OK);
    }

    /// Negotiates `features` (panics if refused), sets up every queue the device has (up to 16
    /// entries each) and sets `DRIVER_OK`.
    pub fn init(&mut self, dev: &mut dyn Device, features: u64) {
        assert!(self.negotiate(dev, features), "features refused");
        for i in 0.. {
            self.write(dev, reg::QUEUE_SEL, i);
            if self.read(dev, reg::QUEUE_NUM_MAX) == 0 {
                break;
            }
            self.setup_queue(dev, i, 16);
        }
        self.driver_ok(dev);
    }

    /// The layout of queue `index` (panics if it was not set up).
    pub fn queue(&self, index: usize) -> &Queue {
        &self.dq(index).layout
    }

    fn dq(&self, index: usize) -> &DriverQueue {
        self.queues.get(index).and_then(Option::as_ref).expect("queue set up")
    }

    fn dq_mut(&mut self, index: usize) -> &mut DriverQueue {
        self.queues.get_mut(index).and_then(Option::as_mut).expect("queue set up")
    }

    /// Writes descriptor `i` of queue `q` by hand.
    pub fn put_desc(&mut self, q: usize, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = self.queue(q).desc + 16 * u64::from(i);
        self.ram.write_u64(at, addr).unwrap();
        self.ram.write_u32(at + 8, len).unwrap();
        self.ram.write_u16(at + 12, flags).unwrap();
        self.ram.write_u16(at + 14, next).unwrap();
    }

    /// Puts `head` in the available ring of queue `q`.
    pub fn make_available(&mut self, q: usize, head: u16) {
        let l = self.queue(q).clone();
        let idx = self.ram.read_u16(l.avail + 2).unwrap();
        self.ram.write_u16(l.avail + 4 + 2 * u64::from(idx % l.size), head).unwrap();
        self.ram.write_u16(l.avail + 2, idx.wrapping_add(1)).unwrap();
    }

    /// Writes `QueueNotify` for queue `q`.
    pub fn notify(&mut self, dev: &mut dyn Device, q: usize) {
        self.write(dev, reg::QUEUE_NOTIFY, q as u32);
    }

    /// Allocates the buffers, writes a chain for them into queue `q`, makes it available, and
    /// notifies the device.
    pub fn submit(&mut self, dev: &mut dyn Device, q: usize, bufs: &[Buf]) -> Submitted {
        let s = self.add_chain(q, bufs);
        self.notify(dev, q);
        s
    }

    /// Like [`submit`](Self::submit) without the notification.
    pub fn add_chain(&mut self, q: usize, bufs: &[Buf]) -> Submitted {
        assert!(!bufs.is_empty());
        let size = self.queue(q).size;
        let first = self.dq(q).next_desc;
        let mut addrs = Vec::new();
        for (k, b) in bufs.iter().enumerate() {
            let i = (first + k as u16) % size;
            let next = (i + 1) % size;
            let more = if k + 1 < bufs.len() { DESC_F_NEXT } else { 0 };
            let (addr, len, flags) = match b {
                Buf::Read(data) => {
                    let a = self.alloc(data.len() as u64, 8);
                    self.ram.write(a, data).unwrap();
                    (a, data.len() as u32, more)
                }
                Buf::Write(len) => {
                    let a = self.alloc(u64::from(*len), 8);
                    self.ram.slice_mut(a, *len as usize).unwrap().fill(0xAA);
                    (a, *len, more | DESC_F_WRITE)
                }
            };
            addrs.push(addr);
            self.put_desc(q, i, addr, len, flags, next);
        }
        self.dq_mut(q).next_desc = (first + bufs.len() as u16) % size;
        self.make_available(q, first);
        Submitted { head: first, addrs }
    }

    /// The next entry `(id, len)` of queue `q`'s used ring, if the device added one.
    pub fn used(&mut self, q: usize) -> Option<(u32, u32)> {
        let dq = self.dq(q).clone();
        let idx = self.ram.read_u16(dq.layout.used + 2)?;
        if idx == dq.used_seen {
            return None;
        }
        let elem = dq.layout.used + 4 + 8 * u64::from(dq.used_seen % dq.layout.size);
        let e = (self.ram.read_u32(elem)?, self.ram.read_u32(elem + 4)?);
        self.dq_mut(q).used_seen = dq.used_seen.wrapping_add(1);
        Some(e)
    }
}

/// A fresh, empty directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates the directory; `tag` makes its name recognisable.
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("semu-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The spec of the first `[[device]]` of `example` (a kind's example table), as if the machine
/// file `dir/machine.toml` held it, at an arbitrary base with interrupt source 1.
pub fn example_spec(dir: &Path, kind: &'static str, example: &str) -> semu_api::DeviceSpec {
    let doc: semu_api::toml::Table = example.parse().expect("example parses as TOML");
    let dev = doc.get("device").and_then(|d| d.as_array()).and_then(|a| a.first()).expect("a [[device]] table");
    let name = dev.get("name").and_then(|n| n.as_str()).expect("a name").to_string();
    assert_eq!(dev.get("kind").and_then(|k| k.as_str()), Some(kind), "the example's kind");
    let file = semu_api::SourceFile::new(dir.join("machine.toml"), example);
    let params = semu_api::Params::new(file, Some(0), &["name", "kind", "base", "irq", "irq-parent"], &name);
    semu_api::DeviceSpec {
        name,
        kind,
        base: 0x1000_1000,
        size: 0x1000,
        irq: Some(1),
        params,
        harts: 1,
        timebase_frequency: 10_000_000,
        console: false,
    }
}

/// A build context whose interrupt line is source 1 of a fresh set of pins (returned too).
pub fn build_ctx() -> (semu_api::BuildCtx, semu_api::IrqLine) {
    let pins = semu_api::IrqPins::new(32);
    let line = semu_api::IrqLine::new(pins, 1);
    let ctx = semu_api::BuildCtx {
        irq: Some(line.clone()),
        irq_pins: None,
        hart_lines: semu_api::HartLines::new(1),
        console: semu_api::Console::sink(),
        input: semu_api::InputHub::detached(),
        verbose: false,
    };
    (ctx, line)
}

/// The registered kind named `kind`.
pub fn find_kind(kind: &str) -> &'static semu_api::DeviceKind {
    semu_api::inventory::iter::<semu_api::DeviceKind>.into_iter().find(|k| k.kind == kind).expect("kind is registered")
}

/// A small deterministic pseudo-random generator (xorshift64) for hostile-guest tests.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Plays a hostile driver for `rounds` rounds: sets the device up with `features`, then fills its
/// rings with random descriptors (addresses mostly inside RAM, lengths, flags and indices random),
/// bumps the available indices by random amounts, notifies, ticks, and writes random values to
/// random registers. The device must neither panic nor hang; returns how many rounds ended with
/// `DEVICE_NEEDS_RESET` set and how many chains the device returned in all.
pub fn hostile_driver(dev: &mut dyn Device, features: u64, rounds: u32, seed: u64) -> (u32, u64) {
    let mut rng = XorShift(seed | 1);
    let (mut needs_reset, mut completed) = (0, 0);
    for _ in 0..rounds {
        let mut d = Driver::new();
        if !d.negotiate(dev, features) {
            continue;
        }
        let mut queues = Vec::new();
        for i in 0.. {
            d.write(dev, reg::QUEUE_SEL, i);
            if d.read(dev, reg::QUEUE_NUM_MAX) == 0 {
                break;
            }
            d.setup_queue(dev, i, 8);
            queues.push(i as usize);
        }
        d.driver_ok(dev);
        for _ in 0..20 {
            let r = rng.next_u64();
            match r % 4 {
                0 | 1 => {
                    let q = queues[(r >> 8) as usize % queues.len()];
                    let l = d.queue(q).clone();
                    // Half the time the chains are well formed (only addresses, lengths and
                    // directions are random), so the device's request handling gets exercised.
                    let well_formed = rng.next_u64().is_multiple_of(2);
                    for i in 0..l.size {
                        let addr = if rng.next_u64().is_multiple_of(8) {
                            rng.next_u64()
                        } else {
                            BASE + rng.next_u64() % RAM_SIZE
                        };
                        let len = match rng.next_u64() % 4 {
                            0 => 0,
                            1 => rng.next_u64() as u32,
                            _ => (rng.next_u64() % 2048) as u32,
                        };
                        let (flags, next, head) = if well_formed {
                            let more = if i + 1 < l.size && rng.next_u64().is_multiple_of(2) { DESC_F_NEXT } else { 0 };
                            let write = if rng.next_u64().is_multiple_of(2) { DESC_F_WRITE } else { 0 };
                            (more | write, i + 1, (rng.next_u64() % u64::from(l.size)) as u16)
                        } else {
                            let next = (rng.next_u64() % (u64::from(l.size) + 2)) as u16;
                            ((rng.next_u64() % 8) as u16, next, (rng.next_u64() % (u64::from(l.size) + 1)) as u16)
                        };
                        d.put_desc(q, i, addr, len, flags, next);
                        d.ram.write_u16(l.avail + 4 + 2 * u64::from(i), head).unwrap();
                    }
                    let idx = d.ram.read_u16(l.avail + 2).unwrap();
                    let limit = if well_formed { u64::from(l.size) + 1 } else { u64::from(l.size) + 3 };
                    let step = (rng.next_u64() % limit) as u16;
                    d.ram.write_u16(l.avail + 2, idx.wrapping_add(step)).unwrap();
                    d.notify(dev, q);
                }
                2 => d.tick(dev),
                _ => {
                    let off = ((r >> 8) % 0x100) & !3;
                    if off != reg::STATUS {
                        let _ = dev.write(off, 4, rng.next_u64() & 0xffff_ffff, &mut d.ctx());
                    }
                    let _ = dev.read(((r >> 20) % 0x200) & !3, 4, &mut d.ctx());
                }
            }
        }
        if d.read(dev, reg::STATUS) & status::DEVICE_NEEDS_RESET != 0 {
            needs_reset += 1;
        }
        for &q in &queues {
            completed += u64::from(d.ram.read_u16(d.queue(q).used + 2).unwrap());
        }
    }
    (needs_reset, completed)
}
