//! Device plugin `uart8250`: a 16550A-compatible UART.
//!
//! Byte registers at offsets 0..=7 of a 0x100-byte region (`reg-shift` 0, `reg-io-width` 1);
//! other access sizes are [`BusFault::BadSize`], offsets past 7 [`BusFault::Unmapped`]. The
//! register model is [`uart::Uart`]; this file connects it to the host:
//!
//! - the console instance (chosen by the core, [`DeviceSpec::console`]) sends its output to the
//!   [`Console`] and takes its input from the console's queue, moving bytes into the RX FIFO in
//!   [`Device::tick`] (and after RBR reads and FCR/MCR writes) only while the FIFO has room, so input is never
//!   dropped; it also turns the console's quit request (`Ctrl-A x`) into [`StopRequest::Quit`];
//! - `log = "path"` writes the output to a file (created or truncated; relative to the machine
//!   file). On the console instance the file gets a copy of the console output. A non-console
//!   instance has no input.
//!
//! Device tree: `compatible = "ns16550a"`, `clock-frequency`, `reg-shift`, `reg-io-width`.

pub mod uart;

use std::fs::File;
use std::io::{LineWriter, Write};
use std::sync::Arc;

use anyhow::Context;
use schemars::JsonSchema;
use semu_api::{
    BuildCtx, BusFault, ConfigError, Console, DevCtx, Device, DeviceKind, DeviceSpec, FdtCtx, IrqLine, Resources,
    StopRequest,
};
use serde::Deserialize;

use crate::uart::Uart;

/// Input clock advertised in the device tree (the classic 1.8432 MHz × 2).
pub const CLOCK_FREQUENCY: u32 = 3_686_400;

/// Number of byte registers.
const REGS: u64 = 8;

/// Options of a `uart8250` instance.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// File that receives everything the guest transmits (created or truncated; relative to the
    /// machine file). On the console UART it gets a copy of the console output.
    pub log: Option<String>,
}

/// A `uart8250` instance on the bus.
pub struct Uart8250 {
    uart: Uart,
    irq: IrqLine,
    console: Option<Arc<Console>>,
    log: Option<LineWriter<File>>,
}

impl Uart8250 {
    /// A UART raising `irq`, connected to `console` (input and output) if given, and copying its
    /// output to `log` if given.
    pub fn new(irq: IrqLine, console: Option<Arc<Console>>, log: Option<File>) -> Self {
        Self { uart: Uart::new(), irq, console, log: log.map(LineWriter::new) }
    }

    /// Moves console input into the RX FIFO while it has room.
    fn fill_rx(&mut self) {
        let Some(console) = &self.console else { return };
        while self.uart.rx_room() > 0 {
            match console.read_byte() {
                Some(b) => {
                    self.uart.push_rx(b);
                }
                None => break,
            }
        }
    }

    fn transmit(&mut self, byte: u8) {
        if let Some(c) = &self.console {
            c.write(&[byte]);
        }
        if let Some(log) = &mut self.log {
            // A full disk must not stop the guest; the log is best effort.
            let _ = log.write_all(&[byte]);
        }
    }

    fn update_irq(&self) {
        self.irq.set(self.uart.irq_level());
    }
}

fn check_access(offset: u64, size: u8) -> Result<u8, BusFault> {
    if offset >= REGS {
        return Err(BusFault::Unmapped);
    }
    if size != 1 {
        return Err(BusFault::BadSize);
    }
    Ok(offset as u8)
}

impl Device for Uart8250 {
    fn read(&mut self, offset: u64, size: u8, _ctx: &mut DevCtx) -> Result<u64, BusFault> {
        let off = check_access(offset, size)?;
        let v = self.uart.read(off);
        if off == uart::reg::DATA {
            self.fill_rx();
        }
        self.update_irq();
        Ok(u64::from(v))
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DevCtx) -> Result<(), BusFault> {
        let off = check_access(offset, size)?;
        if let Some(b) = self.uart.write(off, value as u8) {
            self.transmit(b);
        }
        // Leaving loopback or enabling the FIFO makes room for waiting input.
        if off == uart::reg::IIR_FCR || off == uart::reg::MCR {
            self.fill_rx();
        }
        self.update_irq();
        Ok(())
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        self.fill_rx();
        self.update_irq();
        if self.console.as_ref().is_some_and(|c| c.quit_requested()) && ctx.stop.is_none() {
            *ctx.stop = Some(StopRequest::Quit);
        }
    }

    fn shutdown(&mut self) {
        if let Some(log) = &mut self.log {
            let _ = log.flush();
        }
    }
}

impl Drop for Uart8250 {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    let opts: Options = spec.params.parse()?;
    if let Some(log) = &opts.log {
        let path = spec.params.resolve("log", log);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(spec.params.error("log", format!("directory {} does not exist", dir.display())));
        }
        if path.is_dir() {
            return Err(spec.params.error("log", format!("{} is a directory", path.display())));
        }
    }
    Ok(())
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    let opts: Options = spec.params.parse()?;
    let log = match &opts.log {
        Some(p) => {
            let path = spec.params.resolve("log", p);
            Some(
                File::create(&path)
                    .with_context(|| format!("device \"{}\": creating {}", spec.name, path.display()))?,
            )
        }
        None => None,
    };
    let console = spec.console.then(|| ctx.console.clone());
    let irq = ctx.irq.clone().unwrap_or_else(IrqLine::disconnected);
    Ok(Box::new(Uart8250::new(irq, console, log)))
}

fn fdt(_spec: &DeviceSpec, ctx: &mut FdtCtx) -> Result<(), semu_api::vm_fdt::Error> {
    ctx.fdt.property_string("compatible", "ns16550a")?;
    ctx.fdt.property_u32("clock-frequency", CLOCK_FREQUENCY)?;
    ctx.fdt.property_u32("reg-shift", 0)?;
    ctx.fdt.property_u32("reg-io-width", 1)?;
    Ok(())
}

inventory::submit! {
    DeviceKind {
        kind: "uart8250",
        summary: "16550A-compatible UART: the console, or output logged to a file",
        example: "[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n",
        schema: || schemars::schema_for!(Options),
        resources: Resources { mmio_size: 0x100, irqs: 1 },
        irq_controller: None,
        console_tty: Some("ttyS"),
        block: None,
        shared_dir: None,
        check,
        build,
        fdt,
        fdt_name: "serial",
    }
}

#[cfg(test)]
mod tests;
