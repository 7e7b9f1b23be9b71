//! Split virtqueues (virtio 1.x, 2.7): descriptor table, available ring, used ring.
//!
//! Every guest value is distrusted: indices are checked against the queue size, chains are
//! bounded by it (a loop is an error, not a hang), indirect tables are checked for size, nesting
//! and placement, and every guest address goes through [`GuestRam`]'s bounds checks.

use std::fmt;

use semu_api::GuestRam;

/// `VIRTQ_DESC_F_NEXT`: the chain continues at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// `VIRTQ_DESC_F_WRITE`: the buffer is device-writable.
pub const DESC_F_WRITE: u16 = 2;
/// `VIRTQ_DESC_F_INDIRECT`: the buffer is a table of descriptors.
pub const DESC_F_INDIRECT: u16 = 4;
/// `VIRTQ_AVAIL_F_NO_INTERRUPT`: the driver does not want used-buffer interrupts.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Size in bytes of one descriptor.
const DESC_SIZE: u64 = 16;

/// A broken ring: the device sets `DEVICE_NEEDS_RESET` and stops processing the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueError {
    /// The available index moved ahead by more than the queue size.
    AvailJump {
        /// The driver's new `avail->idx`.
        avail: u16,
        /// The device's last seen index.
        last: u16,
        /// The queue size.
        size: u16,
    },
    /// A head or `next` index is not below the table size.
    IndexOutOfRange(u16),
    /// The chain is longer than its table allows: a loop, most likely.
    ChainTooLong,
    /// An indirect descriptor where the driver did not negotiate them, nested, with `NEXT`, or
    /// with a bad length.
    BadIndirect(&'static str),
    /// A ring or descriptor table is not (entirely) in RAM.
    OutsideRam(&'static str),
    /// The queue cannot be made ready (bad size or alignment).
    BadSetup(&'static str),
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AvailJump { avail, last, size } => {
                write!(f, "available index jumped from {last} to {avail} (queue size {size})")
            }
            Self::IndexOutOfRange(i) => write!(f, "descriptor index {i} out of range"),
            Self::ChainTooLong => write!(f, "descriptor chain longer than its table (a loop?)"),
            Self::BadIndirect(why) => write!(f, "bad indirect descriptor: {why}"),
            Self::OutsideRam(what) => write!(f, "{what} is outside RAM"),
            Self::BadSetup(why) => write!(f, "bad queue setup: {why}"),
        }
    }
}

impl std::error::Error for QueueError {}

/// Buffers of one direction of a chain, in order: guest physical address and length of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segments {
    segs: Vec<(u64, u32)>,
    len: u64,
}

impl Segments {
    fn push(&mut self, addr: u64, len: u32) {
        if len > 0 {
            self.segs.push((addr, len));
            self.len += u64::from(len);
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces `(address, length)` that make up bytes `offset .. offset + len` of the
    /// concatenated buffers (shorter if the buffers end first).
    pub fn chunks(&self, offset: u64, len: u64) -> impl Iterator<Item = (u64, usize)> + '_ {
        let mut skip = offset;
        let mut left = len;
        self.segs.iter().filter_map(move |&(addr, seg_len)| {
            let seg_len = u64::from(seg_len);
            if skip >= seg_len {
                skip -= seg_len;
                return None;
            }
            if left == 0 {
                return None;
            }
            let n = (seg_len - skip).min(left);
            let chunk = (addr.wrapping_add(skip), n as usize);
            skip = 0;
            left -= n;
            Some(chunk)
        })
    }

    /// Whether every byte is in RAM.
    pub fn in_ram(&self, ram: &GuestRam) -> bool {
        self.segs.iter().all(|&(a, l)| ram.contains(a, u64::from(l)))
    }

    /// Copies bytes from offset `offset` into `buf`; `None` if they are not all there and in RAM.
    pub fn read_at(&self, ram: &GuestRam, offset: u64, buf: &mut [u8]) -> Option<()> {
        if offset.checked_add(buf.len() as u64)? > self.len {
            return None;
        }
        let mut done = 0;
        for (addr, n) in self.chunks(offset, buf.len() as u64) {
            ram.read(addr, &mut buf[done..done + n])?;
            done += n;
        }
        Some(())
    }

    /// Copies `data` to offset `offset`; `None` if the buffers are too short or not all in RAM
    /// (nothing is written then).
    pub fn write_at(&self, ram: &mut GuestRam, offset: u64, data: &[u8]) -> Option<()> {
        if offset.checked_add(data.len() as u64)? > self.len {
            return None;
        }
        if !self.chunks(offset, data.len() as u64).all(|(a, n)| ram.contains(a, n as u64)) {
            return None;
        }
        let mut done = 0;
        for (addr, n) in self.chunks(offset, data.len() as u64) {
            ram.write(addr, &data[done..done + n])?;
            done += n;
        }
        Some(())
    }
}

/// One descriptor chain taken from the available ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Head index, to give back with [`Queue::add_used`].
    pub head: u16,
    /// Device-readable buffers.
    pub readable: Segments,
    /// Device-writable buffers.
    pub writable: Segments,
    /// Whether a readable buffer came after a writable one (the spec forbids it; devices fail
    /// such requests).
    pub misordered: bool,
}

/// One split virtqueue, as the driver configured it through the transport.
#[derive(Debug, Clone)]
pub struct Queue {
    /// `QueueNumMax`.
    pub max_size: u16,
    /// `QueueNum`.
    pub size: u16,
    /// `QueueReady`.
    pub ready: bool,
    /// Descriptor table address.
    pub desc: u64,
    /// Available ring ("driver area") address.
    pub avail: u64,
    /// Used ring ("device area") address.
    pub used: u64,
    /// Whether the driver negotiated indirect descriptors.
    pub indirect: bool,
    last_avail: u16,
    next_used: u16,
    broken: bool,
    used_added: bool,
}

impl Queue {
    /// A queue of at most `max_size` entries, not ready.
    pub fn new(max_size: u16) -> Self {
        Self {
            max_size,
            size: max_size,
            ready: false,
            desc: 0,
            avail: 0,
            used: 0,
            indirect: false,
            last_avail: 0,
            next_used: 0,
            broken: false,
            used_added: false,
        }
    }

    /// Back to the state after a device reset.
    pub fn reset(&mut self) {
        *self = Self::new(self.max_size);
    }

    /// Whether an error stopped this queue (until the device is reset).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Stops processing this queue.
    pub fn set_broken(&mut self) {
        self.broken = true;
    }

    /// Checks the driver's setup before the queue goes ready: the size is a power of two no larger
    /// than the maximum, the areas are aligned and lie in RAM.
    pub fn validate(&self, ram: &GuestRam) -> Result<(), QueueError> {
        let n = u64::from(self.size);
        if self.size == 0 || !self.size.is_power_of_two() || self.size > self.max_size {
            return Err(QueueError::BadSetup("size is not a power of two up to QueueNumMax"));
        }
        if !self.desc.is_multiple_of(16) || !self.avail.is_multiple_of(2) || !self.used.is_multiple_of(4) {
            return Err(QueueError::BadSetup("misaligned ring"));
        }
        if !ram.contains(self.desc, n * DESC_SIZE) {
            return Err(QueueError::OutsideRam("descriptor table"));
        }
        if !ram.contains(self.avail, 6 + 2 * n) {
            return Err(QueueError::OutsideRam("available ring"));
        }
        if !ram.contains(self.used, 6 + 8 * n) {
            return Err(QueueError::OutsideRam("used ring"));
        }
        // The device writes the used ring: over the driver's areas its own writes would make
        // buffers available (or rewrite descriptors) behind the driver's back.
        let areas = [(self.desc, n * DESC_SIZE), (self.avail, 6 + 2 * n), (self.used, 6 + 8 * n)];
        for (i, &(a, al)) in areas.iter().enumerate() {
            for &(b, bl) in &areas[i + 1..] {
                if a < b + bl && b < a + al {
                    return Err(QueueError::BadSetup("the rings overlap"));
                }
            }
        }
        Ok(())
    }

    /// Takes up to one queue's worth of available chains, handing each to `f`, which returns
    /// the number of bytes written to it for [`add_used`](Self::add_used). One call never takes
    /// more than [`size`](Self::size) chains: chains that become available while it runs (a
    /// request whose buffer overlaps the available ring) wait for the next notification, so a
    /// guest cannot keep the device busy forever.
    pub fn process(
        &mut self,
        ram: &mut GuestRam,
        mut f: impl FnMut(&mut GuestRam, &Chain) -> u32,
    ) -> Result<(), QueueError> {
        for _ in 0..self.size {
            let Some(c) = self.pop(ram)? else { break };
            let len = f(ram, &c);
            self.add_used(ram, c.head, len)?;
        }
        Ok(())
    }

    fn active(&self) -> bool {
        self.ready && !self.broken
    }

    /// Whether the driver made chains available that the device has not taken yet.
    pub fn has_available(&self, ram: &GuestRam) -> bool {
        self.active() && ram.read_u16(at(self.avail, 2)).is_some_and(|i| i != self.last_avail)
    }

    /// Takes the next available chain, if any. On error the queue is marked broken.
    pub fn pop(&mut self, ram: &GuestRam) -> Result<Option<Chain>, QueueError> {
        if !self.active() {
            return Ok(None);
        }
        let r = self.pop_inner(ram);
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    fn pop_inner(&mut self, ram: &GuestRam) -> Result<Option<Chain>, QueueError> {
        let avail = ram.read_u16(at(self.avail, 2)).ok_or(QueueError::OutsideRam("available ring"))?;
        let pending = avail.wrapping_sub(self.last_avail);
        if pending == 0 {
            return Ok(None);
        }
        if pending > self.size {
            return Err(QueueError::AvailJump { avail, last: self.last_avail, size: self.size });
        }
        let slot = u64::from(self.last_avail % self.size);
        let head = ram.read_u16(at(self.avail, 4 + 2 * slot)).ok_or(QueueError::OutsideRam("available ring"))?;
        let chain = self.walk(ram, head)?;
        self.last_avail = self.last_avail.wrapping_add(1);
        Ok(Some(chain))
    }

    /// Puts the last chain taken by [`pop`](Self::pop) back (the device could not use it now).
    pub fn undo_pop(&mut self) {
        self.last_avail = self.last_avail.wrapping_sub(1);
    }

    fn walk(&self, ram: &GuestRam, head: u16) -> Result<Chain, QueueError> {
        let mut chain = Chain { head, readable: Segments::default(), writable: Segments::default(), misordered: false };
        let (mut table, mut table_len) = (self.desc, self.size);
        let mut in_indirect = false;
        let mut index = head;
        let mut seen: u32 = 0;
        loop {
            if index >= table_len {
                return Err(QueueError::IndexOutOfRange(index));
            }
            seen += 1;
            if seen > u32::from(self.size) * 2 {
                return Err(QueueError::ChainTooLong);
            }
            let at = table + u64::from(index) * DESC_SIZE;
            let what = if in_indirect { "indirect descriptor table" } else { "descriptor table" };
            let d = ram.slice(at, DESC_SIZE as usize).ok_or(QueueError::OutsideRam(what))?;
            let addr = u64::from_le_bytes(d[0..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(d[8..12].try_into().unwrap_or_default());
            let flags = u16::from_le_bytes([d[12], d[13]]);
            let next = u16::from_le_bytes([d[14], d[15]]);
            if flags & DESC_F_INDIRECT != 0 {
                if !self.indirect {
                    return Err(QueueError::BadIndirect("not negotiated"));
                }
                if in_indirect {
                    return Err(QueueError::BadIndirect("nested"));
                }
                if flags & DESC_F_NEXT != 0 {
                    return Err(QueueError::BadIndirect("NEXT set too"));
                }
                let count = u64::from(len) / DESC_SIZE;
                if len == 0 || u64::from(len) % DESC_SIZE != 0 || count > u64::from(self.size) {
                    return Err(QueueError::BadIndirect("length is not a multiple of 16 up to the queue size"));
                }
                if addr % 16 != 0 || !ram.contains(addr, u64::from(len)) {
                    return Err(QueueError::OutsideRam("indirect descriptor table"));
                }
                (table, table_len, in_indirect, index) = (addr, count as u16, true, 0);
                continue;
            }
            if flags & DESC_F_WRITE != 0 {
                chain.writable.push(addr, len);
            } else {
                if !chain.writable.is_empty() {
                    chain.misordered = true;
                }
                chain.readable.push(addr, len);
            }
            if flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            index = next;
        }
    }

    /// Returns chain `head` to the driver, `len` bytes having been written to its writable
    /// buffers.
    pub fn add_used(&mut self, ram: &mut GuestRam, head: u16, len: u32) -> Result<(), QueueError> {
        if !self.ready || self.size == 0 {
            return Ok(());
        }
        let slot = u64::from(self.next_used % self.size);
        let elem = at(self.used, 4 + 8 * slot);
        let outside = QueueError::OutsideRam("used ring");
        ram.write_u32(elem, u32::from(head)).ok_or(outside.clone())?;
        ram.write_u32(elem + 4, len).ok_or(outside.clone())?;
        self.next_used = self.next_used.wrapping_add(1);
        ram.write_u16(at(self.used, 2), self.next_used).ok_or(outside)?;
        self.used_added = true;
        Ok(())
    }

    /// Whether used buffers were added since the last call and the driver wants an interrupt for
    /// them (`VIRTQ_AVAIL_F_NO_INTERRUPT` clear). Clears the "added" flag.
    pub fn take_interrupt(&mut self, ram: &GuestRam) -> bool {
        let added = std::mem::take(&mut self.used_added);
        added && !matches!(ram.read_u16(self.avail), Some(f) if f & AVAIL_F_NO_INTERRUPT != 0)
    }
}

/// `base + off` for a ring field; an address past the end of the address space (a driver may
/// write any 64-bit ring address) becomes `u64::MAX`, which is never in RAM.
fn at(base: u64, off: u64) -> u64 {
    base.saturating_add(off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Driver, BASE};

    fn queue(d: &mut Driver, size: u16) -> Queue {
        let mut q = Queue::new(size);
        q.desc = d.alloc(16 * u64::from(size), 16);
        q.avail = d.alloc(6 + 2 * u64::from(size), 2);
        q.used = d.alloc(6 + 8 * u64::from(size), 4);
        q.ready = true;
        q.validate(&d.ram).unwrap();
        q
    }

    fn desc(d: &mut Driver, q: &Queue, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = q.desc + 16 * u64::from(i);
        d.ram.write_u64(at, addr).unwrap();
        d.ram.write_u32(at + 8, len).unwrap();
        d.ram.write_u16(at + 12, flags).unwrap();
        d.ram.write_u16(at + 14, next).unwrap();
    }

    fn make_available(d: &mut Driver, q: &Queue, heads: &[u16]) {
        let idx = d.ram.read_u16(q.avail + 2).unwrap();
        for (k, &h) in heads.iter().enumerate() {
            let slot = (idx.wrapping_add(k as u16) % q.size) as u64;
            d.ram.write_u16(q.avail + 4 + 2 * slot, h).unwrap();
        }
        d.ram.write_u16(q.avail + 2, idx.wrapping_add(heads.len() as u16)).unwrap();
    }

    #[test]
    fn pops_a_chain_and_returns_it() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 8);
        desc(&mut d, &q, 0, BASE + 0x1000, 16, DESC_F_NEXT, 3);
        desc(&mut d, &q, 3, BASE + 0x2000, 0, DESC_F_NEXT | DESC_F_WRITE, 5);
        desc(&mut d, &q, 5, BASE + 0x3000, 512, DESC_F_WRITE, 0);
        make_available(&mut d, &q, &[0]);
        assert!(q.has_available(&d.ram));
        let c = q.pop(&d.ram).unwrap().unwrap();
        assert_eq!((c.head, c.readable.len(), c.writable.len(), c.misordered), (0, 16, 512, false));
        assert_eq!(q.pop(&d.ram).unwrap(), None);
        q.add_used(&mut d.ram, 0, 512).unwrap();
        assert!(q.take_interrupt(&d.ram));
        assert!(!q.take_interrupt(&d.ram));
        assert_eq!(d.ram.read_u16(q.used + 2), Some(1));
        assert_eq!(d.ram.read_u32(q.used + 4), Some(0));
        assert_eq!(d.ram.read_u32(q.used + 8), Some(512));
    }

    #[test]
    fn a_loop_is_an_error_not_a_hang() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 4);
        desc(&mut d, &q, 0, BASE, 1, DESC_F_NEXT, 1);
        desc(&mut d, &q, 1, BASE, 1, DESC_F_NEXT, 0);
        make_available(&mut d, &q, &[0]);
        assert_eq!(q.pop(&d.ram), Err(QueueError::ChainTooLong));
        assert!(q.is_broken());
        assert_eq!(q.pop(&d.ram), Ok(None), "a broken queue is not processed");
    }

    #[test]
    fn bad_indices_and_avail_jumps_break_the_queue() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 4);
        make_available(&mut d, &q, &[4]);
        assert_eq!(q.pop(&d.ram), Err(QueueError::IndexOutOfRange(4)));

        let mut q = queue(&mut d, 4);
        desc(&mut d, &q, 0, BASE, 1, DESC_F_NEXT, 9);
        make_available(&mut d, &q, &[0]);
        assert_eq!(q.pop(&d.ram), Err(QueueError::IndexOutOfRange(9)));

        let mut q = queue(&mut d, 4);
        d.ram.write_u16(q.avail + 2, 5).unwrap();
        assert!(matches!(q.pop(&d.ram), Err(QueueError::AvailJump { avail: 5, last: 0, size: 4 })));
    }

    #[test]
    fn indirect_tables_are_checked() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 8);
        let table = d.alloc(16 * 3, 16);
        let put = |d: &mut Driver, i: u64, addr: u64, len: u32, flags: u16, next: u16| {
            d.ram.write_u64(table + 16 * i, addr).unwrap();
            d.ram.write_u32(table + 16 * i + 8, len).unwrap();
            d.ram.write_u16(table + 16 * i + 12, flags).unwrap();
            d.ram.write_u16(table + 16 * i + 14, next).unwrap();
        };
        put(&mut d, 0, BASE + 0x100, 16, DESC_F_NEXT, 1);
        put(&mut d, 1, BASE + 0x200, 100, DESC_F_NEXT | DESC_F_WRITE, 2);
        put(&mut d, 2, BASE + 0x300, 1, DESC_F_WRITE, 0);
        desc(&mut d, &q, 2, table, 48, DESC_F_INDIRECT, 0);
        make_available(&mut d, &q, &[2]);
        assert_eq!(q.pop(&d.ram), Err(QueueError::BadIndirect("not negotiated")));

        let mut q2 = queue(&mut d, 8);
        q2.indirect = true;
        desc(&mut d, &q2, 2, table, 48, DESC_F_INDIRECT, 0);
        make_available(&mut d, &q2, &[2]);
        let c = q2.pop(&d.ram).unwrap().unwrap();
        assert_eq!((c.head, c.readable.len(), c.writable.len()), (2, 16, 101));

        // A loop inside the table, a nested table, a table outside RAM.
        put(&mut d, 2, BASE + 0x300, 1, DESC_F_WRITE | DESC_F_NEXT, 0);
        make_available(&mut d, &q2, &[2]);
        assert_eq!(q2.pop(&d.ram), Err(QueueError::ChainTooLong));
        for (flags, addr, len) in [(DESC_F_INDIRECT, table, 48), (0, 0x10, 48), (0, table, 40)] {
            let mut q3 = queue(&mut d, 8);
            q3.indirect = true;
            put(&mut d, 2, table, 48, flags, 0);
            desc(&mut d, &q3, 0, addr, len, DESC_F_INDIRECT, 0);
            make_available(&mut d, &q3, &[0]);
            assert!(q3.pop(&d.ram).is_err());
        }
    }

    #[test]
    fn setup_is_validated() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 8);
        q.size = 6;
        assert!(q.validate(&d.ram).is_err());
        q.size = 16;
        assert!(q.validate(&d.ram).is_err(), "larger than the maximum");
        q.size = 8;
        q.used = 0x1000;
        assert_eq!(q.validate(&d.ram), Err(QueueError::OutsideRam("used ring")));
        q.used = BASE + d.ram.size() - 8;
        assert!(q.validate(&d.ram).is_err());
    }

    #[test]
    fn overlapping_rings_are_refused() {
        let mut d = Driver::new();
        let mut q = queue(&mut d, 8);
        q.used = q.avail - 2 + 4 - (q.avail + 2) % 4; // 4-aligned, over the available ring
        assert!(q.used < q.avail + 22);
        assert_eq!(q.validate(&d.ram), Err(QueueError::BadSetup("the rings overlap")));
        let mut q = queue(&mut d, 8);
        q.avail = q.desc + 16;
        assert_eq!(q.validate(&d.ram), Err(QueueError::BadSetup("the rings overlap")));
    }

    #[test]
    fn process_takes_at_most_one_ring_per_call() {
        // Each completion makes one more chain available, as a request whose buffer overlaps
        // the available ring could: the device still returns after `size` chains.
        let mut d = Driver::new();
        let mut q = queue(&mut d, 4);
        desc(&mut d, &q, 0, BASE + 0x100, 4, 0, 0);
        make_available(&mut d, &q, &[0]);
        let avail = q.avail;
        let mut n = 0;
        q.process(&mut d.ram, |ram, c| {
            n += 1;
            let idx = ram.read_u16(avail + 2).unwrap();
            ram.write_u16(avail + 4 + 2 * u64::from(idx % 4), c.head).unwrap();
            ram.write_u16(avail + 2, idx.wrapping_add(1)).unwrap();
            0
        })
        .unwrap();
        assert_eq!(n, 4);
        assert!(q.has_available(&d.ram), "the rest waits for the next notification");
    }

    #[test]
    fn segments_read_and_write_across_buffers() {
        let mut d = Driver::new();
        let mut s = Segments::default();
        s.push(BASE + 0x10, 4);
        s.push(BASE + 0x100, 0);
        s.push(BASE + 0x20, 4);
        s.write_at(&mut d.ram, 2, &[1, 2, 3, 4]).unwrap();
        assert_eq!(d.ram.slice(BASE + 0x10, 4).unwrap(), &[0, 0, 1, 2]);
        assert_eq!(d.ram.slice(BASE + 0x20, 4).unwrap(), &[3, 4, 0, 0]);
        let mut buf = [0; 4];
        s.read_at(&d.ram, 2, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert!(s.write_at(&mut d.ram, 6, &[0; 3]).is_none(), "past the end");
        assert!(s.read_at(&d.ram, u64::MAX, &mut buf).is_none());
        s.push(0x10, 8);
        assert!(!s.in_ram(&d.ram));
        assert!(s.write_at(&mut d.ram, 6, &[9; 4]).is_none());
        assert_eq!(d.ram.slice(BASE + 0x20, 4).unwrap(), &[3, 4, 0, 0], "nothing written");
    }
}
