//! Device plugins `clint` and `aclint`: per-hart software interrupts and the machine timer.
//!
//! `clint` is the SiFive CLINT (MSWI at 0x0, MTIMECMP at 0x4000, MTIME at 0xBFF8); `aclint` is the
//! same with the ACLINT SSWI device (SETSSIP registers) at 0xC000. Both take 0x10000 bytes. The
//! register model, the layout and the time rules are in [`aclint::Aclint`].
//!
//! Time is `DevCtx::now`: the core's clock, from the host's monotonic clock by default or from
//! retired instructions in the deterministic mode; the device has no clock option of its own, and
//! the core writes `timebase-frequency` on `/cpus` from the same clock.
//!
//! Device tree (both kinds): `compatible = "sifive,clint0", "riscv,clint0"` and
//! `interrupts-extended = <&intc0 3 &intc0 7 &intc1 3 ...>` (M software, M timer per hart), which
//! Linux and OpenSBI understand. The real ACLINT binding describes MSWI, MTIMER and SSWI as three
//! nodes (`riscv,aclint-mswi`, `riscv,aclint-mtimer`, `riscv,aclint-sswi`); as the core writes one
//! node per device, an `aclint` is described as the CLINT it contains and its SSWI region is not
//! in the device tree (guests that want it must know its offset).
//!
//! The SSWI sets `MIP_SSIP` on the hart lines and never clears it: SETSSIP is edge-triggered, so
//! the hart must latch the bit into its software-writable `mip.SSIP` and clear the line.

pub mod aclint;

use schemars::JsonSchema;
use semu_api::{BuildCtx, BusFault, ConfigError, DevCtx, Device, DeviceKind, DeviceSpec, FdtCtx, HartLines, Resources};
use serde::Deserialize;

use crate::aclint::{Aclint, Fault, MMIO_SIZE};

/// Options of a `clint` or `aclint` instance (none: time comes from the machine clock).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {}

/// A `clint` or `aclint` instance on the bus.
pub struct AclintDevice(Aclint);

impl AclintDevice {
    /// A device for every hart of `lines`, with the SSWI region if `sswi`.
    pub fn new(lines: std::sync::Arc<HartLines>, sswi: bool) -> Self {
        Self(Aclint::new(lines, sswi))
    }
}

fn fault(f: Fault) -> BusFault {
    match f {
        Fault::Unmapped => BusFault::Unmapped,
        Fault::BadSize => BusFault::BadSize,
    }
}

impl Device for AclintDevice {
    fn read(&mut self, offset: u64, size: u8, ctx: &mut DevCtx) -> Result<u64, BusFault> {
        self.0.read(offset, size, ctx.now).map_err(fault)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
        self.0.write(offset, size, value, ctx.now).map_err(fault)
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        self.0.update(ctx.now);
    }

    fn next_deadline(&self) -> Option<u64> {
        self.0.next_deadline()
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    let _: Options = spec.params.parse()?;
    Ok(())
}

fn build_clint(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    Ok(Box::new(AclintDevice::new(ctx.hart_lines.clone(), false)))
}

fn build_aclint(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    Ok(Box::new(AclintDevice::new(ctx.hart_lines.clone(), true)))
}

fn fdt(_spec: &DeviceSpec, ctx: &mut FdtCtx) -> Result<(), semu_api::vm_fdt::Error> {
    ctx.fdt.property_string_list("compatible", vec!["sifive,clint0".into(), "riscv,clint0".into()])?;
    let ext: Vec<u32> = ctx.cpu_intc.iter().flat_map(|&intc| [intc, 3, intc, 7]).collect();
    ctx.fdt.property_array_u32("interrupts-extended", &ext)?;
    Ok(())
}

fn schema() -> schemars::Schema {
    schemars::schema_for!(Options)
}

const RESOURCES: Resources = Resources { mmio_size: MMIO_SIZE, irqs: 0 };

inventory::submit! {
    DeviceKind {
        kind: "clint",
        summary: "SiFive CLINT: machine software interrupts and timer (mtime from the machine clock)",
        example: "[[device]]\nname = \"clint0\"\nkind = \"clint\"\n",
        schema,
        resources: RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build: build_clint,
        fdt,
        fdt_name: "clint",
    }
}

inventory::submit! {
    DeviceKind {
        kind: "aclint",
        summary: "RISC-V ACLINT: CLINT layout (MSWI, MTIMER) plus SSWI at 0xC000",
        example: "[[device]]\nname = \"aclint0\"\nkind = \"aclint\"\n",
        schema,
        resources: RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build: build_aclint,
        fdt,
        fdt_name: "clint",
    }
}

#[cfg(test)]
mod tests;
