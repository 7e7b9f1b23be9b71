//! Device plugin `plic`: the RISC-V Platform-Level Interrupt Controller.
//!
//! Sources `1..=127` (`riscv,ndev = 127`), two contexts per hart: context `2h` drives hart h's
//! MEIP, context `2h+1` its SEIP. The register model and layout are in [`plic::Plic`]; this file
//! samples the input pins (after every register access, and in [`Device::tick`] when a level
//! changed) and drives the hart lines after every access and tick. Only 32-bit accesses are
//! accepted ([`BusFault::BadSize`] otherwise).
//!
//! Device tree: `compatible = "sifive,plic-1.0.0", "riscv,plic0"`, `#address-cells = <0>`,
//! `#interrupt-cells = <1>`, `interrupt-controller`, `riscv,ndev`, and
//! `interrupts-extended = <&intc0 11 &intc0 9 &intc1 11 ...>` (M external, S external per hart,
//! which is what fixes the context numbering for Linux and OpenSBI).

pub mod plic;

use std::sync::Arc;

use anyhow::Context as _;
use schemars::JsonSchema;
use semu_api::{
    BuildCtx, BusFault, ConfigError, DevCtx, Device, DeviceKind, DeviceSpec, FdtCtx, HartLines, IrqController, IrqPins,
    Resources, MIP_MEIP, MIP_SEIP,
};
use serde::Deserialize;

use crate::plic::{Fault, Plic, MAX_SOURCE, MMIO_SIZE};

/// Options of a `plic` instance (none).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {}

/// A `plic` instance on the bus.
pub struct PlicDevice {
    plic: Plic,
    pins: Arc<IrqPins>,
    harts: Arc<HartLines>,
}

impl PlicDevice {
    /// A PLIC with two contexts for each hart of `harts`, sampling `pins`.
    pub fn new(pins: Arc<IrqPins>, harts: Arc<HartLines>) -> Self {
        let mut d = Self { plic: Plic::new(2 * harts.harts()), pins, harts };
        d.sample();
        d.drive();
        d
    }

    /// Samples the input levels.
    fn sample(&mut self) {
        let pins = &self.pins;
        self.plic.set_levels(|i| pins.word(i));
    }

    /// Drives every context's hart line.
    fn drive(&self) {
        for ctx in 0..self.plic.contexts() {
            let mask = if ctx % 2 == 0 { MIP_MEIP } else { MIP_SEIP };
            self.harts.set(ctx / 2, mask, self.plic.eip(ctx));
        }
    }
}

fn fault(f: Fault) -> BusFault {
    match f {
        Fault::Unmapped => BusFault::Unmapped,
    }
}

fn check_access(offset: u64, size: u8) -> Result<(), BusFault> {
    if offset >= MMIO_SIZE {
        Err(BusFault::Unmapped)
    } else if size != 4 || offset & 3 != 0 {
        Err(BusFault::BadSize)
    } else {
        Ok(())
    }
}

impl Device for PlicDevice {
    fn read(&mut self, offset: u64, size: u8, _ctx: &mut DevCtx) -> Result<u64, BusFault> {
        check_access(offset, size)?;
        // Sample first so a claim sees the current levels.
        self.sample();
        let v = self.plic.read(offset).map_err(fault);
        self.drive();
        v.map(u64::from)
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DevCtx) -> Result<(), BusFault> {
        check_access(offset, size)?;
        let r = self.plic.write(offset, value as u32).map_err(fault);
        // Re-sample: a complete of a source whose line is still high pends it again.
        self.sample();
        self.drive();
        r
    }

    fn tick(&mut self, _ctx: &mut DevCtx) {
        if self.pins.take_changed() {
            self.sample();
            self.drive();
        }
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    let _: Options = spec.params.parse()?;
    Ok(())
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    let pins = ctx.irq_pins.clone().with_context(|| format!("device \"{}\": no interrupt pins", spec.name))?;
    Ok(Box::new(PlicDevice::new(pins, ctx.hart_lines.clone())))
}

fn fdt(_spec: &DeviceSpec, ctx: &mut FdtCtx) -> Result<(), semu_api::vm_fdt::Error> {
    let f = &mut *ctx.fdt;
    f.property_string_list("compatible", vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()])?;
    f.property_u32("#address-cells", 0)?;
    f.property_u32("#interrupt-cells", 1)?;
    f.property_null("interrupt-controller")?;
    f.property_u32("riscv,ndev", MAX_SOURCE)?;
    let ext: Vec<u32> = ctx.cpu_intc.iter().flat_map(|&intc| [intc, 11, intc, 9]).collect();
    f.property_array_u32("interrupts-extended", &ext)?;
    Ok(())
}

inventory::submit! {
    DeviceKind {
        kind: "plic",
        summary: "Platform-level interrupt controller: 127 sources, M and S contexts for every hart",
        example: "[[device]]\nname = \"plic0\"\nkind = \"plic\"\n",
        schema: || schemars::schema_for!(Options),
        resources: Resources { mmio_size: MMIO_SIZE, irqs: 0 },
        irq_controller: Some(IrqController { max_source: MAX_SOURCE }),
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build,
        fdt,
        fdt_name: "interrupt-controller",
    }
}

#[cfg(test)]
mod tests;
