//! The descriptor a device plugin registers, and what the core hands it to build and describe an
//! instance.

use std::sync::Arc;

use vm_fdt::FdtWriter;

use crate::{ConfigError, Console, Device, HartLines, IrqLine, IrqPins, Params};

/// Resources one instance of a kind needs on the bus.
#[derive(Debug, Clone, Copy)]
pub struct Resources {
    /// Size of the MMIO region in bytes (a power of two; automatic bases are aligned to it,
    /// at least to 4 KiB).
    pub mmio_size: u64,
    /// Number of interrupt lines into an interrupt controller (0 or 1).
    pub irqs: u32,
}

/// Present on kinds that are interrupt controllers for other devices (e.g. a PLIC).
#[derive(Debug, Clone, Copy)]
pub struct IrqController {
    /// Highest source number a device may use (sources are `1..=max_source`).
    pub max_source: u32,
}

/// A device kind, registered by its plugin with `inventory::submit!`.
pub struct DeviceKind {
    /// Name used in machine files (`kind = "uart8250"`).
    pub kind: &'static str,
    /// One line for `semu devices`.
    pub summary: &'static str,
    /// A complete `[[device]]` table of this kind, as TOML (tested to parse and build).
    pub example: &'static str,
    /// JSON Schema of the kind's own options (`schemars::schema_for!(Options)`).
    pub schema: fn() -> schemars::Schema,
    /// Bus resources of one instance.
    pub resources: Resources,
    /// Set if this kind is an interrupt controller other devices' `irq` refers to.
    pub irq_controller: Option<IrqController>,
    /// Set if an instance can be the console: the Linux tty name prefix (`"ttyS"`). The n-th such
    /// device by address is `ttyS<n>`.
    pub console_tty: Option<&'static str>,
    /// Set if an instance is a disk that can hold the root file system.
    pub block: Option<Block>,
    /// Set if an instance shares a host directory with the guest (`--share` adds one).
    pub shared_dir: Option<SharedDir>,
    /// Checks the instance's options (and that the files they name exist) without opening
    /// anything for use. `semu validate` runs this.
    pub check: fn(&DeviceSpec) -> Result<(), ConfigError>,
    /// Builds a working instance.
    pub build: fn(&DeviceSpec, &mut BuildCtx) -> anyhow::Result<Box<dyn Device>>,
    /// Writes the kind's own properties into the instance's device-tree node. The core has already
    /// opened the node `<name>@<base>` and written `reg`, `interrupts`, `interrupt-parent` and
    /// (for controllers) `phandle`; the plugin adds `compatible` and whatever else it needs, and no
    /// child nodes.
    pub fdt: fn(&DeviceSpec, &mut FdtCtx) -> Result<(), vm_fdt::Error>,
    /// Node name in the device tree (`serial`, `virtio_mmio`, `interrupt-controller`, ...).
    pub fdt_name: &'static str,
}

inventory::collect!(DeviceKind);

/// What the core needs to know about a kind of disk.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// The Linux name prefix: the n-th disk of the kind by address is `vda`, `vdb`, ... for `"vd"`.
    pub prefix: &'static str,
    /// The option naming the image file (which `--disk` overrides).
    pub image_option: &'static str,
    /// The boolean option that sends the guest's writes to a throwaway overlay instead of the
    /// image (which `--snapshot` sets), if the kind has one.
    pub snapshot_option: Option<&'static str>,
    /// Whether the instance is a read-only disk (its root gets `ro` on the kernel command line,
    /// not `rw`). Options that do not parse count as writable; the kind's `check` reports them.
    pub read_only: fn(&DeviceSpec) -> bool,
}

/// What the core needs to know about a kind that shares a host directory with the guest.
#[derive(Debug, Clone, Copy)]
pub struct SharedDir {
    /// The option naming the host directory (which `--share HOSTDIR[:TAG]` sets).
    pub path_option: &'static str,
    /// The option naming the tag the guest mounts it by (which `--share` sets).
    pub tag_option: &'static str,
}

/// One validated, placed device instance.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// Instance name from the machine file.
    pub name: String,
    /// Kind name.
    pub kind: &'static str,
    /// Base address of its MMIO region.
    pub base: u64,
    /// Size of its MMIO region.
    pub size: u64,
    /// Its interrupt source number at its controller, if it has one.
    pub irq: Option<u32>,
    /// Kind-specific options.
    pub params: Params,
    /// Number of harts in the machine.
    pub harts: usize,
    /// Ticks per second of the machine timebase (`time` CSR, ACLINT `mtime`).
    pub timebase_frequency: u64,
    /// Whether this instance is the machine's console.
    pub console: bool,
}

/// What the core gives a plugin to build an instance.
pub struct BuildCtx {
    /// The instance's interrupt line, if it has one.
    pub irq: Option<IrqLine>,
    /// For interrupt controllers: the input pins other devices drive.
    pub irq_pins: Option<Arc<IrqPins>>,
    /// Hart interrupt pins, for interrupt controllers and timers.
    pub hart_lines: Arc<HartLines>,
    /// The host console (also wakes the machine from host threads).
    pub console: Arc<Console>,
    /// Host input for input devices (`register` their class).
    pub input: Arc<crate::InputHub>,
    /// Whether the user asked for host-side log lines.
    pub verbose: bool,
}

/// What the core gives a plugin to describe an instance in the device tree.
pub struct FdtCtx<'a> {
    /// The writer, positioned inside the instance's node.
    pub fdt: &'a mut FdtWriter,
    /// Phandle of each hart's local interrupt controller (`/cpus/cpu@N/interrupt-controller`).
    pub cpu_intc: &'a [u32],
}

impl std::fmt::Debug for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKind").field("kind", &self.kind).finish_non_exhaustive()
    }
}
