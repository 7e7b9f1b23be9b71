//! `pvpanic`: QEMU's pvpanic-mmio device. The guest kernel (Linux `CONFIG_PVPANIC_MMIO`, found
//! through the device-tree node `compatible = "qemu,pvpanic-mmio"`) writes "panicked" to it
//! from its panic notifier, and the run ends with the guest-panic exit status instead of
//! spinning in the kernel's panic loop. It has no options:
//!
//! ```toml
//! [[device]]
//! name = "panic0"
//! kind = "pvpanic"
//! ```
//!
//! One byte register at offset 0. Reading it gives the events the device understands
//! ([`PANICKED`]); writing an event with [`PANICKED`] set asks the machine to stop. Linux reads
//! the register once at probe and writes only events the device offered. Any other access is a
//! bus fault, which the guest sees as an access fault.

use schemars::JsonSchema;
use semu_api::{BuildCtx, BusFault, ConfigError, DevCtx, Device, DeviceKind, DeviceSpec, FdtCtx, StopRequest};
use serde::Deserialize;

/// Event bit: the guest panicked (Linux `PVPANIC_PANICKED`).
pub const PANICKED: u64 = 1 << 0;
/// Event bit: the guest loaded a crash kernel and is about to start it (`PVPANIC_CRASH_LOADED`).
/// Not offered: semu boots no crash kernels.
pub const CRASH_LOADED: u64 = 1 << 1;

/// Options of a `pvpanic` instance: none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"panic0\"\nkind = \"pvpanic\"\n";

/// The device.
#[derive(Debug, Default)]
pub struct PvPanic {
    name: String,
}

impl Device for PvPanic {
    fn read(&mut self, offset: u64, _size: u8, _ctx: &mut DevCtx) -> Result<u64, BusFault> {
        match offset {
            0 => Ok(PANICKED),
            _ => Err(BusFault::Unmapped),
        }
    }

    fn write(&mut self, offset: u64, _size: u8, value: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
        if offset != 0 {
            return Err(BusFault::Unmapped);
        }
        if value & PANICKED != 0 {
            if ctx.verbose {
                eprintln!("semu: {}: the guest reports a panic (event {value:#x})\r", self.name);
            }
            *ctx.stop = Some(StopRequest::GuestPanic);
        }
        Ok(())
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    spec.params.parse::<Options>().map(|_| ())
}

fn build(spec: &DeviceSpec, _ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    Ok(Box::new(PvPanic { name: spec.name.clone() }))
}

fn fdt(_spec: &DeviceSpec, ctx: &mut FdtCtx) -> Result<(), semu_api::vm_fdt::Error> {
    ctx.fdt.property_string("compatible", "qemu,pvpanic-mmio")
}

inventory::submit! {
    DeviceKind {
        kind: "pvpanic",
        summary: "pvpanic-mmio (as QEMU's): a guest kernel panic ends the run with exit status 4",
        example: EXAMPLE,
        schema: || schemars::schema_for!(Options),
        resources: semu_api::Resources { mmio_size: 0x1000, irqs: 0 },
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build,
        fdt,
        fdt_name: "pvpanic-mmio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semu_api::GuestRam;
    use semu_virtio::testing::{build_ctx, example_spec, find_kind, TempDir};

    fn access(
        dev: &mut dyn Device,
        write: Option<(u64, u64)>,
        read: Option<u64>,
    ) -> (Result<u64, BusFault>, Option<StopRequest>) {
        let mut ram = GuestRam::new(0x8000_0000, 4096);
        let mut stop = None;
        let mut ctx = DevCtx { ram: &mut ram, now: 0, stop: &mut stop, verbose: false };
        let r = match (write, read) {
            (Some((off, v)), _) => dev.write(off, 1, v, &mut ctx).map(|()| 0),
            (None, Some(off)) => dev.read(off, 1, &mut ctx),
            (None, None) => Ok(0),
        };
        (r, stop)
    }

    #[test]
    fn example_builds_and_a_panic_stops_the_machine() {
        let dir = TempDir::new("pvpanic");
        let kind = find_kind("pvpanic");
        let spec = example_spec(dir.path(), "pvpanic", kind.example);
        (kind.check)(&spec).unwrap();
        let mut dev = (kind.build)(&spec, &mut build_ctx().0).unwrap();
        // the capability register offers "panicked" only
        assert_eq!(access(dev.as_mut(), None, Some(0)), (Ok(PANICKED), None));
        // a write without the panicked bit changes nothing; with it the machine stops
        assert_eq!(access(dev.as_mut(), Some((0, CRASH_LOADED)), None), (Ok(0), None));
        assert_eq!(access(dev.as_mut(), Some((0, PANICKED)), None), (Ok(0), Some(StopRequest::GuestPanic)));
        // anything else is a bus fault for the guest, and no stop
        assert_eq!(access(dev.as_mut(), Some((8, PANICKED)), None), (Err(BusFault::Unmapped), None));
        assert_eq!(access(dev.as_mut(), None, Some(4)), (Err(BusFault::Unmapped), None));
    }

    #[test]
    fn options_are_refused() {
        let dir = TempDir::new("pvpanic-opts");
        let text = "[[device]]\nname = \"p\"\nkind = \"pvpanic\"\nevents = 3\n";
        let e = check(&example_spec(dir.path(), "pvpanic", text)).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some("events"), Some(4)), "{e}");
    }
}
