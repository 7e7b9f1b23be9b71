//! The interface between semu's core and its device plugins.
//!
//! A device plugin is a crate under `plugins/` that registers one [`DeviceKind`] with
//! [`inventory::submit!`]. The core never names a device kind: it reads the registry, asks each
//! kind for its resources, builds instances with [`DeviceKind::build`] and lets each one describe
//! itself in the device tree with [`DeviceKind::fdt`].
//!
//! Devices see offsets into their own MMIO region ([`Device`]), raise interrupts through an
//! [`IrqLine`] (or drive hart interrupt pins through [`HartLines`] if they are interrupt
//! controllers), and reach guest memory for DMA through [`GuestRam`].

mod config;
mod console;
mod device;
mod input;
mod irq;
mod ram;
mod registry;

pub use config::{missing_field, ConfigError, Params, SourceFile};
pub use console::{Console, ConsoleInput};
pub use device::{BusFault, DevCtx, Device, StopRequest};
pub use input::{ev, InputClass, InputEvent, InputHub, InputReceiver};
pub use irq::{HartLines, IrqLine, IrqPins, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP};
pub use ram::GuestRam;
pub use registry::{Block, BuildCtx, DeviceKind, DeviceSpec, FdtCtx, IrqController, Resources, SharedDir};

pub use inventory;
pub use schemars;
pub use serde;
pub use toml;
pub use vm_fdt;
