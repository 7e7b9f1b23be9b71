//! The device side of the bus.

use crate::GuestRam;

/// A failed MMIO access. The CPU turns it into a load or store access fault for the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusFault {
    /// No register at this offset, or a register that does not take this access.
    Unmapped,
    /// The register exists but not with this access size.
    BadSize,
}

/// Why a device asks the machine to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopRequest {
    /// The user asked to quit (console escape `Ctrl-A x`).
    Quit,
    /// The guest powered off with this exit status (test finishers, syscon).
    PowerOff(i32),
    /// The guest asked for a reboot.
    Reboot,
    /// The guest's kernel reported that it panicked (pvpanic).
    GuestPanic,
    /// The device cannot go on; the message says why.
    Fatal(String),
}

/// What a device may use while it handles an access or a tick.
pub struct DevCtx<'a> {
    /// Guest RAM, for DMA. Every access is bounds-checked.
    pub ram: &'a mut GuestRam,
    /// Current time in ticks of the machine's timebase.
    pub now: u64,
    /// Set to ask the machine to stop.
    pub stop: &'a mut Option<StopRequest>,
    /// Whether the user asked for host-side log lines (`--verbose`).
    pub verbose: bool,
}

/// A memory-mapped device. It sees offsets into its own region, never absolute addresses.
///
/// Accesses are 1, 2, 4 or 8 bytes wide and naturally aligned (the bus splits or rejects others).
/// Nothing a guest writes may make a device panic: bad values are ignored or reported to the guest
/// through the device's own error reporting, and bad accesses return a [`BusFault`].
pub trait Device: Send {
    /// Reads `size` bytes at `offset`.
    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> Result<u64, BusFault>;

    /// Writes the low `size` bytes of `value` at `offset`.
    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) -> Result<(), BusFault>;

    /// Called regularly by the machine loop (between instruction slices, and before a hart sleeps
    /// in `wfi`): poll host-side I/O, update interrupt lines, do deferred work.
    fn tick(&mut self, _ctx: &mut DevCtx) {}

    /// The earliest time (timebase ticks) at which this device needs a [`tick`](Self::tick)
    /// without any host event, e.g. a timer compare value. `None` if it only reacts to accesses
    /// and host events.
    fn next_deadline(&self) -> Option<u64> {
        None
    }

    /// The machine is stopping: flush and release host resources.
    fn shutdown(&mut self) {}
}
