//! The machine timebase: the `time` CSR, ACLINT `mtime` and SBI timers all read it.

use std::cell::Cell;
use std::time::Instant;

/// Where time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The host's monotonic clock.
    Host,
    /// Retired instructions: `instructions_per_tick` instructions make one tick. Two runs of the
    /// same machine are identical.
    Instret {
        /// Instructions per timebase tick.
        instructions_per_tick: u64,
    },
}

/// The machine timebase, in ticks of `frequency` Hz.
pub struct Clock {
    frequency: u64,
    source: ClockSource,
    start: Instant,
    retired: Cell<u64>,
    warp: Cell<u64>,
}

impl Clock {
    /// A clock at `frequency` Hz from `source`, starting at 0.
    pub fn new(frequency: u64, source: ClockSource) -> Self {
        Self { frequency: frequency.max(1), source, start: Instant::now(), retired: Cell::new(0), warp: Cell::new(0) }
    }

    /// Ticks per second.
    pub fn frequency(&self) -> u64 {
        self.frequency
    }

    /// Where time comes from.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// Records `n` more retired instructions (all harts together).
    #[inline]
    pub fn retire(&self, n: u64) {
        self.retired.set(self.retired.get().wrapping_add(n));
    }

    /// Total retired instructions recorded.
    pub fn retired(&self) -> u64 {
        self.retired.get()
    }

    /// Current time in ticks.
    #[inline]
    pub fn now(&self) -> u64 {
        match self.source {
            ClockSource::Host => {
                let ns = self.start.elapsed().as_nanos();
                (ns * u128::from(self.frequency) / 1_000_000_000) as u64
            }
            ClockSource::Instret { instructions_per_tick } => {
                (self.retired.get() / instructions_per_tick.max(1)).saturating_add(self.warp.get())
            }
        }
    }

    /// With the instret clock, jumps time forward to tick `deadline` (every hart is idle, so
    /// nothing else would move time). With the host clock, does nothing.
    pub fn warp_to(&self, deadline: u64) {
        if let ClockSource::Instret { .. } = self.source {
            let now = self.now();
            if deadline > now {
                self.warp.set(self.warp.get().saturating_add(deadline - now));
            }
        }
    }

    /// Leaves `paused` of host time out of the host clock: the machine was held stopped that long
    /// (QMP `stop`), and its guest sees no time pass, as on a real machine that was suspended.
    /// With the instret clock, does nothing (no instructions retired meanwhile).
    pub fn exclude(&mut self, paused: std::time::Duration) {
        if let ClockSource::Host = self.source {
            self.start = self.start.checked_add(paused).unwrap_or(self.start);
        }
    }

    /// Host time until tick `deadline` (zero if it has passed; for the instret clock, zero).
    pub fn until(&self, deadline: u64) -> std::time::Duration {
        match self.source {
            ClockSource::Host => {
                let now = self.now();
                let ticks = deadline.saturating_sub(now);
                std::time::Duration::from_nanos((u128::from(ticks) * 1_000_000_000 / u128::from(self.frequency)) as u64)
            }
            ClockSource::Instret { .. } => std::time::Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_does_not_count() {
        // an hour excluded from a clock that ran a moment: it reads 0 until that hour has passed
        let mut c = Clock::new(10_000_000, ClockSource::Host);
        c.exclude(std::time::Duration::from_secs(3600));
        assert_eq!(c.now(), 0);
        let mut i = Clock::new(10_000_000, ClockSource::Instret { instructions_per_tick: 10 });
        i.retire(100);
        i.exclude(std::time::Duration::from_secs(3600));
        assert_eq!(i.now(), 10);
    }

    #[test]
    fn instret_clock_is_deterministic() {
        let c = Clock::new(10_000_000, ClockSource::Instret { instructions_per_tick: 10 });
        assert_eq!(c.now(), 0);
        c.retire(105);
        assert_eq!(c.now(), 10);
        assert_eq!(c.until(1_000), std::time::Duration::ZERO);
        c.warp_to(500);
        assert_eq!(c.now(), 500);
        c.retire(10);
        assert_eq!(c.now(), 501);
        c.warp_to(u64::MAX);
        c.retire(1000);
        assert_eq!(c.now(), u64::MAX, "saturates instead of overflowing");
    }

    #[test]
    fn host_clock_advances() {
        let c = Clock::new(1_000_000_000, ClockSource::Host);
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(c.now() >= a + 1_000_000);
    }
}
