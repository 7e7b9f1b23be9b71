//! Virtio over MMIO, shared by semu's virtio device plugins (`virtio-blk`, `virtio-rng`,
//! `virtio-net`, `virtio-fs`). This crate registers no device kind.
//!
//! - [`MmioTransport`] is the register file of the virtio 1.x "Virtio Over MMIO" transport
//!   (version 2, non-legacy only). It implements [`semu_api::Device`] and owns the queues, the
//!   status and feature negotiation, and the interrupt line.
//! - [`Queue`] is one split virtqueue. [`Queue::pop`] walks a descriptor chain (direct or
//!   indirect) with every index, length and address checked, and hands back a [`Chain`] of
//!   device-readable and device-writable [`Segments`].
//! - A device model implements [`VirtioDevice`]: its id, features, config space and what to do
//!   when the driver notifies a queue. It never sees registers.
//! - [`testing`] plays the driver in unit tests.
//!
//! Errors in the rings themselves (an avail index that jumps by more than the queue size, a head
//! or `next` index out of range, a loop, an indirect table that is malformed or outside RAM) make
//! the device set `DEVICE_NEEDS_RESET` and stop processing that queue (virtio 1.x, 2.1.2). Errors
//! in a request's buffers (outside RAM, wrong direction) fail just that request, as the device
//! model reports it to the driver (e.g. `VIRTIO_BLK_S_IOERR`).

mod mmio;
mod queue;
pub mod testing;

pub use mmio::{reg, MmioTransport};
pub use queue::{Chain, Queue, QueueError, Segments, AVAIL_F_NO_INTERRUPT, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE};

use semu_api::{FdtCtx, GuestRam, Resources};

/// `MagicValue`: "virt" in little endian.
pub const MAGIC: u32 = 0x7472_6976;
/// `Version` of the non-legacy MMIO transport.
pub const VERSION: u32 = 2;
/// `VendorID`: "SEMU" in little endian.
pub const VENDOR_ID: u32 = 0x554D_4553;

/// Device ids (virtio 1.x, 5).
pub mod id {
    /// Network card.
    pub const NET: u32 = 1;
    /// Block device.
    pub const BLOCK: u32 = 2;
    /// Entropy source.
    pub const RNG: u32 = 4;
    /// Input device (keyboard, mouse, tablet).
    pub const INPUT: u32 = 18;
    /// File system device (virtio-fs).
    pub const FS: u32 = 26;
}

/// Device status bits (virtio 1.x, 2.1).
pub mod status {
    /// The guest noticed the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The guest knows how to drive it.
    pub const DRIVER: u32 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = 8;
    /// The device hit an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: u32 = 0x40;
    /// The driver gave up on the device.
    pub const FAILED: u32 = 0x80;
}

/// Transport feature bits (virtio 1.x, 6).
pub mod feature {
    /// Indirect descriptor tables.
    pub const INDIRECT_DESC: u64 = 1 << 28;
    /// `used_event`/`avail_event` (not offered).
    pub const EVENT_IDX: u64 = 1 << 29;
    /// Non-legacy device.
    pub const VERSION_1: u64 = 1 << 32;
}

/// `InterruptStatus` bits.
pub mod irq {
    /// A used buffer was added to a queue.
    pub const USED_BUFFER: u32 = 1;
    /// The configuration changed (also sent with `DEVICE_NEEDS_RESET`).
    pub const CONFIG_CHANGE: u32 = 2;
}

/// Size of the MMIO register window (registers up to 0x0fc, config space from 0x100).
pub const MMIO_SIZE: u64 = 0x200;

/// Offset of the device-specific configuration space.
pub const CONFIG_OFFSET: u64 = 0x100;

/// Bus resources of every virtio-mmio device: one 0x200-byte window and one interrupt.
pub const RESOURCES: Resources = Resources { mmio_size: MMIO_SIZE, irqs: 1 };

/// The `fdt` hook of every virtio-mmio kind: `compatible = "virtio,mmio"` (the core writes `reg`
/// and the interrupt properties).
pub fn fdt(_spec: &semu_api::DeviceSpec, ctx: &mut FdtCtx) -> Result<(), semu_api::vm_fdt::Error> {
    ctx.fdt.property_string("compatible", "virtio,mmio")
}

/// A virtio device model behind an [`MmioTransport`].
pub trait VirtioDevice: Send {
    /// Device id ([`id`]).
    fn device_id(&self) -> u32;

    /// Device-specific feature bits offered to the driver. The transport adds
    /// [`feature::VERSION_1`] and [`feature::INDIRECT_DESC`].
    fn features(&self) -> u64;

    /// Maximum size (`QueueNumMax`, a power of two) of each queue; its length is the number of
    /// queues.
    fn queue_max_sizes(&self) -> &[u16];

    /// The device-specific configuration space.
    fn config(&self) -> &[u8];

    /// The driver wrote `data` at `offset` of the configuration space (most devices' spaces are
    /// read-only to the driver: the default ignores it).
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}

    /// The driver set `DRIVER_OK` having accepted `features`.
    fn activate(&mut self, _features: u64) {}

    /// The driver reset the device (wrote 0 to `Status`).
    fn reset(&mut self) {}

    /// The driver made buffers available in queue `index` (a `QueueNotify` write, or `DRIVER_OK`).
    /// The device pops chains from `queues[index]` and returns them with [`Queue::add_used`]. An
    /// error breaks the queue: the transport sets `DEVICE_NEEDS_RESET`.
    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError>;

    /// Called regularly by the machine loop while the driver is active: host-side work such as
    /// received packets.
    fn tick(&mut self, _queues: &mut [Queue], _ram: &mut GuestRam) -> Result<(), QueueError> {
        Ok(())
    }

    /// The machine is stopping: flush and release host resources.
    fn shutdown(&mut self) {}
}
