//! The system bus: guest RAM plus the MMIO regions of the devices, and the state the harts share.

use std::sync::Arc;

use semu_api::{BusFault, Console, DevCtx, Device, GuestRam, HartLines, StopRequest};

use crate::clock::Clock;

/// One mapped MMIO region.
struct Region {
    base: u64,
    size: u64,
    name: String,
    device: Box<dyn Device>,
}

/// Error from [`Bus::map`].
#[derive(Debug, PartialEq, Eq)]
pub enum MapError {
    /// The new region overlaps the named one.
    Overlap(String),
    /// The region is empty or wraps past the end of the address space.
    Invalid,
}

/// The MMIO devices, sorted by base address. Overlaps are rejected when a region is mapped, not
/// when it is accessed.
#[derive(Default)]
pub struct Bus {
    regions: Vec<Region>,
}

impl Bus {
    /// Maps `device` at `base..base+size` under `name`.
    pub fn map(&mut self, name: &str, base: u64, size: u64, device: Box<dyn Device>) -> Result<(), MapError> {
        let end = base.checked_add(size).filter(|_| size > 0).ok_or(MapError::Invalid)?;
        if let Some(r) = self.regions.iter().find(|r| base < r.base + r.size && r.base < end) {
            return Err(MapError::Overlap(r.name.clone()));
        }
        let at = self.regions.partition_point(|r| r.base < base);
        self.regions.insert(at, Region { base, size, name: name.to_string(), device });
        Ok(())
    }

    #[inline]
    fn find(&mut self, addr: u64, size: u8) -> Option<(&mut Region, u64)> {
        let i = self.regions.partition_point(|r| r.base <= addr).checked_sub(1)?;
        let r = &mut self.regions[i];
        let off = addr - r.base;
        (off + u64::from(size) <= r.size).then_some((r, off))
    }

    /// Reads `size` (1, 2, 4 or 8) bytes at physical address `addr` from a device.
    pub fn read(&mut self, addr: u64, size: u8, ctx: &mut DevCtx) -> Result<u64, BusFault> {
        let (r, off) = self.find(addr, size).ok_or(BusFault::Unmapped)?;
        r.device.read(off, size, ctx)
    }

    /// Writes the low `size` bytes of `value` at physical address `addr` to a device.
    pub fn write(&mut self, addr: u64, size: u8, value: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
        let (r, off) = self.find(addr, size).ok_or(BusFault::Unmapped)?;
        r.device.write(off, size, value, ctx)
    }

    /// Ticks every device, in address order.
    pub fn tick(&mut self, ctx: &mut DevCtx) {
        for r in &mut self.regions {
            r.device.tick(ctx);
        }
    }

    /// The earliest deadline any device asked for.
    pub fn next_deadline(&self) -> Option<u64> {
        self.regions.iter().filter_map(|r| r.device.next_deadline()).min()
    }

    /// Shuts every device down (flush files, restore the terminal...).
    pub fn shutdown(&mut self) {
        for r in &mut self.regions {
            r.device.shutdown();
        }
    }

    /// Name, base and size of every region, in address order.
    pub fn regions(&self) -> impl Iterator<Item = (&str, u64, u64)> {
        self.regions.iter().map(|r| (r.name.as_str(), r.base, r.size))
    }
}

/// Everything the harts share: RAM, devices, interrupt pins, time, and the stop request.
pub struct System {
    /// Guest RAM.
    pub ram: GuestRam,
    /// MMIO devices.
    pub bus: Bus,
    /// Interrupt pins driven by devices into each hart's `mip`.
    pub hart_lines: Arc<HartLines>,
    /// The machine's timebase.
    pub clock: Clock,
    /// The host console (SBI console calls use it too; it also wakes a sleeping machine).
    pub console: Arc<Console>,
    /// Set by a device or the SBI to stop the machine.
    pub stop: Option<StopRequest>,
    /// Whether `--verbose` host log lines are on.
    pub verbose: bool,
}

impl System {
    /// Reads from a device (the slow path of a load that missed RAM).
    pub fn mmio_read(&mut self, addr: u64, size: u8) -> Result<u64, BusFault> {
        let mut ctx = DevCtx { ram: &mut self.ram, now: self.clock.now(), stop: &mut self.stop, verbose: self.verbose };
        self.bus.read(addr, size, &mut ctx)
    }

    /// Writes to a device (the slow path of a store that missed RAM).
    pub fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> Result<(), BusFault> {
        let mut ctx = DevCtx { ram: &mut self.ram, now: self.clock.now(), stop: &mut self.stop, verbose: self.verbose };
        self.bus.write(addr, size, value, &mut ctx)
    }

    /// Ticks every device.
    pub fn tick_devices(&mut self) {
        let mut ctx = DevCtx { ram: &mut self.ram, now: self.clock.now(), stop: &mut self.stop, verbose: self.verbose };
        self.bus.tick(&mut ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Reg(u64);
    impl Device for Reg {
        fn read(&mut self, off: u64, _: u8, _: &mut DevCtx) -> Result<u64, BusFault> {
            if off == 0 {
                Ok(self.0)
            } else {
                Err(BusFault::Unmapped)
            }
        }
        fn write(&mut self, off: u64, _: u8, v: u64, _: &mut DevCtx) -> Result<(), BusFault> {
            if off == 0 {
                self.0 = v;
                Ok(())
            } else {
                Err(BusFault::Unmapped)
            }
        }
    }

    #[test]
    fn map_rejects_overlaps_and_dispatches_offsets() {
        let mut bus = Bus::default();
        bus.map("a", 0x1000, 0x100, Box::new(Reg(1))).unwrap();
        bus.map("b", 0x3000, 0x100, Box::new(Reg(2))).unwrap();
        assert_eq!(bus.map("c", 0x10ff, 0x10, Box::new(Reg(3))), Err(MapError::Overlap("a".into())));
        assert_eq!(bus.map("d", 0x2f00, 0x101, Box::new(Reg(3))), Err(MapError::Overlap("b".into())));
        assert_eq!(bus.map("e", u64::MAX, 2, Box::new(Reg(3))), Err(MapError::Invalid));
        bus.map("f", 0x2000, 0x100, Box::new(Reg(4))).unwrap();
        let names: Vec<_> = bus.regions().map(|r| r.0).collect();
        assert_eq!(names, ["a", "f", "b"]);

        let mut ram = GuestRam::new(0, 0x1000);
        let mut stop = None;
        let mut ctx = DevCtx { ram: &mut ram, now: 0, stop: &mut stop, verbose: false };
        assert_eq!(bus.read(0x2000, 4, &mut ctx), Ok(4));
        bus.write(0x3000, 4, 9, &mut ctx).unwrap();
        assert_eq!(bus.read(0x3000, 4, &mut ctx), Ok(9));
        assert_eq!(bus.read(0x3004, 4, &mut ctx), Err(BusFault::Unmapped), "device rejects offset");
        assert_eq!(bus.read(0x2800, 4, &mut ctx), Err(BusFault::Unmapped), "hole");
        assert_eq!(bus.read(0x10fe, 4, &mut ctx), Err(BusFault::Unmapped), "straddles the end");
        assert_eq!(bus.read(0x0, 4, &mut ctx), Err(BusFault::Unmapped), "below every region");
    }
}
