//! Interrupt wiring: device lines into an interrupt controller, and controllers into harts.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// `mip` bit of the supervisor software interrupt.
pub const MIP_SSIP: u32 = 1 << 1;
/// `mip` bit of the machine software interrupt.
pub const MIP_MSIP: u32 = 1 << 3;
/// `mip` bit of the supervisor timer interrupt.
pub const MIP_STIP: u32 = 1 << 5;
/// `mip` bit of the machine timer interrupt.
pub const MIP_MTIP: u32 = 1 << 7;
/// `mip` bit of the supervisor external interrupt.
pub const MIP_SEIP: u32 = 1 << 9;
/// `mip` bit of the machine external interrupt.
pub const MIP_MEIP: u32 = 1 << 11;

/// The input pins of one interrupt controller: one level per source line.
///
/// Devices set levels through [`IrqLine`]; the controller samples them in its
/// [`Device::tick`](crate::Device::tick) and after its own register accesses.
pub struct IrqPins {
    words: Vec<AtomicU32>,
    changed: AtomicBool,
}

impl IrqPins {
    /// Pins for sources `0..lines` (source 0 exists but is never raised by a device).
    pub fn new(lines: u32) -> Arc<Self> {
        let n = lines.div_ceil(32) as usize;
        Arc::new(Self { words: (0..n).map(|_| AtomicU32::new(0)).collect(), changed: AtomicBool::new(false) })
    }

    /// Number of lines.
    pub fn lines(&self) -> u32 {
        self.words.len() as u32 * 32
    }

    /// The level of `line` (false for a line out of range).
    pub fn level(&self, line: u32) -> bool {
        self.words.get((line / 32) as usize).is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (line % 32)) != 0)
    }

    /// The levels of lines `32*i .. 32*i+32`.
    pub fn word(&self, i: usize) -> u32 {
        self.words.get(i).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Returns whether any level changed since the last call, and clears that flag.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::Relaxed)
    }

    fn set(&self, line: u32, level: bool) {
        let Some(w) = self.words.get((line / 32) as usize) else { return };
        let bit = 1 << (line % 32);
        let old = if level { w.fetch_or(bit, Ordering::Relaxed) } else { w.fetch_and(!bit, Ordering::Relaxed) };
        if (old & bit != 0) != level {
            self.changed.store(true, Ordering::Relaxed);
        }
    }
}

/// One device's interrupt line into its interrupt controller (level-triggered).
#[derive(Clone)]
pub struct IrqLine {
    pins: Arc<IrqPins>,
    line: u32,
}

impl IrqLine {
    /// The line `line` of `pins`.
    pub fn new(pins: Arc<IrqPins>, line: u32) -> Self {
        Self { pins, line }
    }

    /// A line connected to nothing (for tests and for devices without an interrupt).
    pub fn disconnected() -> Self {
        Self { pins: IrqPins::new(0), line: 0 }
    }

    /// Drives the line to `level`.
    pub fn set(&self, level: bool) {
        self.pins.set(self.line, level);
    }

    /// The source number at the controller.
    pub fn number(&self) -> u32 {
        self.line
    }

    /// Current level.
    pub fn level(&self) -> bool {
        self.pins.level(self.line)
    }
}

/// The interrupt pins of every hart that hardware drives: the `mip` bits set by interrupt
/// controllers (MEIP/SEIP from a PLIC, MTIP/MSIP/SSIP from an ACLINT). A hart's visible `mip` is
/// its software-written bits ORed with these.
pub struct HartLines {
    harts: Vec<AtomicU32>,
}

impl HartLines {
    /// Lines for `harts` harts, all low.
    pub fn new(harts: usize) -> Arc<Self> {
        Arc::new(Self { harts: (0..harts).map(|_| AtomicU32::new(0)).collect() })
    }

    /// Number of harts.
    pub fn harts(&self) -> usize {
        self.harts.len()
    }

    /// The `mip` bits hardware currently drives high on `hart`.
    #[inline]
    pub fn get(&self, hart: usize) -> u32 {
        self.harts.get(hart).map_or(0, |h| h.load(Ordering::Relaxed))
    }

    /// Drives the `mip` bits in `mask` on `hart` to `level`.
    pub fn set(&self, hart: usize, mask: u32, level: bool) {
        if let Some(h) = self.harts.get(hart) {
            if level {
                h.fetch_or(mask, Ordering::Relaxed);
            } else {
                h.fetch_and(!mask, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_set_levels_and_flag_changes() {
        let pins = IrqPins::new(64);
        let l = IrqLine::new(pins.clone(), 33);
        assert!(!pins.take_changed());
        l.set(true);
        assert!(pins.level(33) && pins.take_changed());
        l.set(true);
        assert!(!pins.take_changed(), "no change, no flag");
        l.set(false);
        assert!(!pins.level(33) && pins.take_changed());
        IrqLine::new(pins.clone(), 1000).set(true); // out of range: ignored, no panic
        assert_eq!(pins.word(0) | pins.word(1), 0);
    }

    #[test]
    fn hart_lines() {
        let h = HartLines::new(2);
        h.set(1, MIP_SEIP | MIP_MEIP, true);
        h.set(1, MIP_MEIP, false);
        assert_eq!((h.get(0), h.get(1), h.get(7)), (0, MIP_SEIP, 0));
    }
}
