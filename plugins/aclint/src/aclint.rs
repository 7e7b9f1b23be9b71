//! The ACLINT / CLINT register model: machine software interrupts (MSWI), the machine timer
//! (MTIMER) and, for the `aclint` kind, supervisor software interrupts (SSWI).
//!
//! ```text
//! 0x0000 + 4*h   MSIP[h]       bit 0 is hart h's mip.MSIP (level)          MSWI
//! 0x4000 + 8*h   MTIMECMP[h]   64 bits, also as two 32-bit halves           MTIMER
//! 0xBFF8         MTIME         64 bits, also as two 32-bit halves           MTIMER
//! 0xC000 + 4*h   SETSSIP[h]    write 1: set hart h's mip.SSIP; reads 0      SSWI (aclint only)
//! ```
//! The first three are the classic SiFive CLINT layout; the SSWI region follows at 0xC000, so
//! an `aclint` instance is a CLINT with 16 KiB more (0x10000 bytes in all for both kinds).
//!
//! Time: `mtime` is the machine clock (`DevCtx::now`, which also backs the `time` CSR) plus an
//! offset that a write to `mtime` sets. Whether that clock follows the host's monotonic clock or
//! the retired instructions (deterministic mode) is the core's choice, not this device's.
//! MTIP of hart h is `mtime >= mtimecmp[h]`, recomputed after every access and every tick;
//! [`Aclint::next_deadline`] tells the machine when the next compare will fire.
//!
//! Registers of harts that do not exist, and offsets outside the regions above, are
//! [`Fault::Unmapped`]; MSIP and SETSSIP take 32-bit accesses, MTIMECMP and MTIME 32- or 64-bit
//! ones (naturally aligned), anything else is [`Fault::BadSize`].

use std::sync::Arc;

use semu_api::{HartLines, MIP_MSIP, MIP_MTIP, MIP_SSIP};

/// MSWI region: MSIP registers.
pub const MSWI_BASE: u64 = 0x0000;
/// MTIMER compare registers.
pub const MTIMECMP_BASE: u64 = 0x4000;
/// MTIMER time register.
pub const MTIME: u64 = 0xBFF8;
/// SSWI region: SETSSIP registers (`aclint` only).
pub const SSWI_BASE: u64 = 0xC000;
/// Size of the register region of both kinds.
pub const MMIO_SIZE: u64 = 0x1_0000;

/// A register access the device does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No register here.
    Unmapped,
    /// The register exists but not with this access size.
    BadSize,
}

/// Which register an offset names.
enum Reg {
    Msip(usize),
    /// Compare register of a hart; `true` for the high half of a 32-bit access.
    Mtimecmp(usize, bool),
    Mtime(bool),
    Setssip(usize),
}

/// One ACLINT (or CLINT, without SSWI).
pub struct Aclint {
    msip: Vec<bool>,
    mtimecmp: Vec<u64>,
    /// `mtime - now`, wrapping (set by writes to `mtime`).
    offset: u64,
    sswi: bool,
    /// `now` at the last access or tick.
    last_now: u64,
    lines: Arc<HartLines>,
}

impl Aclint {
    /// A device for every hart of `lines`, with the SSWI region if `sswi`. After reset no
    /// software interrupt is pending, `mtime` equals the machine clock and every `mtimecmp` is
    /// `u64::MAX`.
    pub fn new(lines: Arc<HartLines>, sswi: bool) -> Self {
        let harts = lines.harts();
        Self { msip: vec![false; harts], mtimecmp: vec![u64::MAX; harts], offset: 0, sswi, last_now: 0, lines }
    }

    fn harts(&self) -> usize {
        self.msip.len()
    }

    /// `mtime` at machine time `now`.
    pub fn mtime(&self, now: u64) -> u64 {
        now.wrapping_add(self.offset)
    }

    fn decode(&self, offset: u64, size: u8) -> Result<Reg, Fault> {
        let hart = |base: u64, stride: u64| {
            let h = ((offset - base) / stride) as usize;
            if h < self.harts() {
                Ok(h)
            } else {
                Err(Fault::Unmapped)
            }
        };
        let word = || if size == 4 && offset & 3 == 0 { Ok(()) } else { Err(Fault::BadSize) };
        let dword = || match size {
            4 if offset & 3 == 0 => Ok(offset & 7 == 4),
            8 if offset & 7 == 0 => Ok(false),
            _ => Err(Fault::BadSize),
        };
        match offset {
            MSWI_BASE..MTIMECMP_BASE => {
                let h = hart(MSWI_BASE, 4)?;
                word()?;
                Ok(Reg::Msip(h))
            }
            MTIMECMP_BASE..MTIME => {
                let h = hart(MTIMECMP_BASE, 8)?;
                Ok(Reg::Mtimecmp(h, dword()?))
            }
            MTIME..SSWI_BASE => Ok(Reg::Mtime(dword()?)),
            SSWI_BASE..MMIO_SIZE if self.sswi => {
                let h = hart(SSWI_BASE, 4)?;
                word()?;
                Ok(Reg::Setssip(h))
            }
            _ => Err(Fault::Unmapped),
        }
    }

    /// Reads `size` bytes at `offset` at machine time `now`.
    pub fn read(&mut self, offset: u64, size: u8, now: u64) -> Result<u64, Fault> {
        let v = match self.decode(offset, size)? {
            Reg::Msip(h) => u64::from(self.msip[h]),
            Reg::Mtimecmp(h, high) => half(self.mtimecmp[h], size, high),
            Reg::Mtime(high) => half(self.mtime(now), size, high),
            Reg::Setssip(_) => 0,
        };
        self.update(now);
        Ok(v)
    }

    /// Writes the low `size` bytes of `value` at `offset` at machine time `now`.
    pub fn write(&mut self, offset: u64, size: u8, value: u64, now: u64) -> Result<(), Fault> {
        match self.decode(offset, size)? {
            Reg::Msip(h) => self.msip[h] = value & 1 != 0,
            Reg::Mtimecmp(h, high) => self.mtimecmp[h] = merge(self.mtimecmp[h], size, high, value),
            Reg::Mtime(high) => {
                let mtime = merge(self.mtime(now), size, high, value);
                self.offset = mtime.wrapping_sub(now);
            }
            Reg::Setssip(h) => {
                // Edge-triggered: the hart latches SSIP into its software-writable mip bit.
                if value & 1 != 0 {
                    self.lines.set(h, MIP_SSIP, true);
                }
            }
        }
        self.update(now);
        Ok(())
    }

    /// Recomputes MTIP and MSIP of every hart at machine time `now`.
    pub fn update(&mut self, now: u64) {
        self.last_now = now;
        let mtime = self.mtime(now);
        for h in 0..self.harts() {
            self.lines.set(h, MIP_MTIP, mtime >= self.mtimecmp[h]);
            self.lines.set(h, MIP_MSIP, self.msip[h]);
        }
    }

    /// Machine time at which the next compare that has not fired yet will fire (none for
    /// compares at `u64::MAX`, the reset value that means "never").
    pub fn next_deadline(&self) -> Option<u64> {
        let mtime = self.mtime(self.last_now);
        self.mtimecmp
            .iter()
            .filter(|&&cmp| cmp != u64::MAX && cmp > mtime)
            .map(|&cmp| self.last_now.saturating_add(cmp - mtime))
            .min()
    }
}

/// The part of 64-bit `reg` that an access of `size` bytes (the `high` half if 4) reads.
fn half(reg: u64, size: u8, high: bool) -> u64 {
    match (size, high) {
        (8, _) => reg,
        (_, false) => reg & 0xFFFF_FFFF,
        (_, true) => reg >> 32,
    }
}

/// `reg` after an access of `size` bytes (the `high` half if 4) wrote `value`.
fn merge(reg: u64, size: u8, high: bool, value: u64) -> u64 {
    match (size, high) {
        (8, _) => value,
        (_, false) => (reg & !0xFFFF_FFFF) | (value & 0xFFFF_FFFF),
        (_, true) => (reg & 0xFFFF_FFFF) | (value << 32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(harts: usize, sswi: bool) -> (Aclint, Arc<HartLines>) {
        let lines = HartLines::new(harts);
        (Aclint::new(lines.clone(), sswi), lines)
    }

    #[test]
    fn mtip_when_now_reaches_mtimecmp() {
        let (mut a, l) = dev(2, false);
        a.update(1_000);
        assert_eq!(l.get(0) & MIP_MTIP, 0, "reset mtimecmp is u64::MAX");
        a.write(MTIMECMP_BASE + 8, 8, 1_500, 1_000).unwrap();
        assert_eq!(a.read(MTIMECMP_BASE + 8, 8, 1_000), Ok(1_500));
        a.update(1_499);
        assert_eq!((l.get(0), l.get(1)), (0, 0));
        a.update(1_500);
        assert_eq!((l.get(0), l.get(1)), (0, MIP_MTIP));
        a.write(MTIMECMP_BASE + 8, 8, 5_000, 1_600).unwrap();
        assert_eq!(l.get(1), 0, "a new compare value clears MTIP at once");
    }

    #[test]
    fn split_32_bit_writes_of_mtimecmp() {
        let (mut a, l) = dev(1, false);
        // The usual RV32 sequence: high half to all ones first, then low, then high.
        a.write(MTIMECMP_BASE + 4, 4, 0xFFFF_FFFF, 0).unwrap();
        a.write(MTIMECMP_BASE, 4, 0x2000_0000, 0).unwrap();
        assert_eq!(l.get(0), 0, "no spurious MTIP between the halves");
        a.write(MTIMECMP_BASE + 4, 4, 0x1, 0).unwrap();
        assert_eq!(a.read(MTIMECMP_BASE, 8, 0), Ok(0x1_2000_0000));
        assert_eq!(a.read(MTIMECMP_BASE, 4, 0), Ok(0x2000_0000));
        assert_eq!(a.read(MTIMECMP_BASE + 4, 4, 0), Ok(1));
        a.update(0x1_2000_0000);
        assert_eq!(l.get(0), MIP_MTIP);
    }

    #[test]
    fn mtime_reads_and_writes_set_an_offset() {
        let (mut a, l) = dev(1, false);
        assert_eq!(a.read(MTIME, 8, 77), Ok(77));
        assert_eq!(a.read(MTIME + 4, 4, 0x5_0000_0007), Ok(5));
        a.write(MTIME, 4, 0, 100).unwrap(); // low half to 0 at now = 100: mtime = 0
        assert_eq!(a.read(MTIME, 8, 150), Ok(50));
        a.write(MTIME, 8, 1_000_000, 200).unwrap();
        assert_eq!(a.read(MTIME, 8, 210), Ok(1_000_010));
        a.write(MTIMECMP_BASE, 8, 1_000_100, 210).unwrap();
        assert_eq!(a.next_deadline(), Some(300), "deadline in machine time, not mtime");
        a.update(300);
        assert_eq!(l.get(0), MIP_MTIP);
    }

    #[test]
    fn msip_and_ssip_bits() {
        let (mut a, l) = dev(2, true);
        a.write(MSWI_BASE + 4, 4, 0xFFFF_FFFF, 0).unwrap();
        assert_eq!(a.read(MSWI_BASE + 4, 4, 0), Ok(1), "only bit 0 is implemented");
        assert_eq!((l.get(0), l.get(1)), (0, MIP_MSIP));
        a.write(MSWI_BASE + 4, 4, 0, 0).unwrap();
        assert_eq!(l.get(1), 0, "MSIP is a level");
        a.write(SSWI_BASE, 4, 0, 0).unwrap();
        assert_eq!(l.get(0), 0, "writing 0 to SETSSIP does nothing");
        a.write(SSWI_BASE, 4, 1, 0).unwrap();
        assert_eq!((l.get(0), l.get(1)), (MIP_SSIP, 0));
        assert_eq!(a.read(SSWI_BASE, 4, 0), Ok(0), "SETSSIP reads 0");
        a.update(5);
        assert_eq!(l.get(0), MIP_SSIP, "the device never clears SSIP: the hart consumes the edge");
    }

    #[test]
    fn next_deadline_is_the_earliest_future_compare() {
        let (mut a, _) = dev(3, false);
        a.update(10);
        assert_eq!(a.next_deadline(), None, "u64::MAX means never");
        a.write(MTIMECMP_BASE, 8, 500, 10).unwrap();
        a.write(MTIMECMP_BASE + 8, 8, 200, 10).unwrap();
        a.write(MTIMECMP_BASE + 16, 8, 5, 10).unwrap();
        assert_eq!(a.next_deadline(), Some(200), "hart 2's compare has already fired");
        a.update(250);
        assert_eq!(a.next_deadline(), Some(500));
        a.update(600);
        assert_eq!(a.next_deadline(), None);
    }

    #[test]
    fn clint_has_no_sswi_and_bad_accesses_fault() {
        let (mut c, _) = dev(2, false);
        assert_eq!(c.write(SSWI_BASE, 4, 1, 0), Err(Fault::Unmapped));
        assert_eq!(c.read(MSWI_BASE + 8, 4, 0), Err(Fault::Unmapped), "hart 2 does not exist");
        assert_eq!(c.read(MTIMECMP_BASE + 16, 8, 0), Err(Fault::Unmapped));
        assert_eq!(c.read(MSWI_BASE, 8, 0), Err(Fault::BadSize));
        assert_eq!(c.read(MSWI_BASE + 1, 1, 0), Err(Fault::BadSize));
        assert_eq!(c.read(MTIMECMP_BASE + 4, 8, 0), Err(Fault::BadSize), "misaligned 64-bit");
        assert_eq!(c.read(MTIME, 2, 0), Err(Fault::BadSize));
        assert_eq!(c.read(MMIO_SIZE, 4, 0), Err(Fault::Unmapped));
        assert_eq!(c.read(u64::MAX, 1, 0), Err(Fault::Unmapped));
        let (mut a, _) = dev(1, true);
        assert_eq!(a.read(SSWI_BASE + 4, 4, 0), Err(Fault::Unmapped), "hart 1 does not exist");
        for off in (0..MMIO_SIZE + 16).step_by(4) {
            for size in [1, 2, 4, 8] {
                let _ = a.read(off, size, 0);
                let _ = a.write(off, size, u64::MAX, 0);
            }
        }
    }
}
