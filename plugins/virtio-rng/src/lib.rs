//! `virtio-rng`: an entropy source (virtio 1.x, 5.4) on virtio-mmio, fed from the host's
//! `/dev/urandom`. It has no options:
//!
//! ```toml
//! [[device]]
//! name = "rng0"
//! kind = "virtio-rng"
//! ```
//!
//! Each chain's device-writable buffers are filled (up to [`MAX_FILL`] bytes per chain) when the
//! driver notifies the queue. A chain with a buffer outside RAM comes back with nothing written.

use std::fs::File;
use std::io::Read;

use anyhow::Context;
use schemars::JsonSchema;
use semu_api::{BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec, GuestRam};
use semu_virtio::{id, MmioTransport, Queue, QueueError, VirtioDevice};
use serde::Deserialize;

/// Most bytes given for one chain.
pub const MAX_FILL: u64 = 64 * 1024;
/// Size of the request queue.
pub const QUEUE_SIZE: u16 = 64;

/// Options of a `virtio-rng` instance: none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"rng0\"\nkind = \"virtio-rng\"\n";

/// The virtio-rng device.
pub struct Rng {
    source: Box<dyn Read + Send>,
}

impl Rng {
    /// A device reading its bytes from `source`.
    pub fn new(source: Box<dyn Read + Send>) -> Self {
        Self { source }
    }

    /// A device reading from the host's `/dev/urandom`.
    pub fn urandom() -> anyhow::Result<Self> {
        let f = File::open("/dev/urandom").context("cannot open /dev/urandom")?;
        Ok(Self::new(Box::new(f)))
    }

    /// Fills the chain's writable buffers; returns how many bytes were written.
    fn fill(&mut self, ram: &mut GuestRam, c: &semu_virtio::Chain) -> u32 {
        if !c.writable.in_ram(ram) {
            return 0;
        }
        let mut done = 0;
        for (addr, n) in c.writable.chunks(0, c.writable.len().min(MAX_FILL)) {
            let Some(buf) = ram.slice_mut(addr, n) else { break };
            if self.source.read_exact(buf).is_err() {
                break;
            }
            done += n as u32;
        }
        done
    }
}

impl VirtioDevice for Rng {
    fn device_id(&self) -> u32 {
        id::RNG
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn config(&self) -> &[u8] {
        &[]
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(index) else { return Ok(()) };
        q.process(ram, |ram, c| self.fill(ram, c))
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    spec.params.parse::<Options>().map(|_| ())
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    check(spec)?;
    Ok(Box::new(MmioTransport::new(&spec.name, Rng::urandom()?, ctx.irq.clone())))
}

inventory::submit! {
    DeviceKind {
        kind: "virtio-rng",
        summary: "virtio entropy source (virtio-mmio) fed from the host's /dev/urandom",
        example: EXAMPLE,
        schema: || schemars::schema_for!(Options),
        resources: semu_virtio::RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build,
        fdt: semu_virtio::fdt,
        fdt_name: "virtio_mmio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semu_virtio::testing::{build_ctx, example_spec, find_kind, Buf, Driver, TempDir, BASE, RAM_SIZE};
    use semu_virtio::{feature, reg, DESC_F_WRITE};

    #[test]
    fn example_builds_and_fills_buffers() {
        let dir = TempDir::new("rng");
        let kind = find_kind("virtio-rng");
        let spec = example_spec(dir.path(), "virtio-rng", kind.example);
        (kind.check)(&spec).unwrap();
        let (mut ctx, line) = build_ctx();
        let mut dev = (kind.build)(&spec, &mut ctx).unwrap();
        let mut d = Driver::new();
        assert_eq!(d.read(dev.as_mut(), reg::DEVICE_ID), 4);
        d.init(dev.as_mut(), feature::VERSION_1);
        let s = d.submit(dev.as_mut(), 0, &[Buf::Write(32), Buf::Write(32)]);
        assert_eq!(d.used(0), Some((u32::from(s.head), 64)));
        let mut bytes = d.ram.slice(s.addrs[0], 32).unwrap().to_vec();
        bytes.extend(d.ram.slice(s.addrs[1], 32).unwrap());
        assert!(bytes.iter().any(|&b| b != 0) && bytes.iter().any(|&b| b != 0xAA), "random bytes");
        assert!(line.level());
        d.write(dev.as_mut(), reg::INTERRUPT_ACK, 1);
        assert!(!line.level());
    }

    #[test]
    fn options_are_refused() {
        let dir = TempDir::new("rng");
        let text = "[[device]]\nname = \"r\"\nkind = \"virtio-rng\"\nsource = \"/dev/random\"\n";
        let e = check(&example_spec(dir.path(), "virtio-rng", text)).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some("source"), Some(4)), "{e}");
    }

    #[test]
    fn bad_buffers_get_nothing_and_fills_are_capped() {
        let mut t = MmioTransport::new("rng0", Rng::new(Box::new(std::io::repeat(7))), None);
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        let s = d.add_chain(0, &[Buf::Write(8)]);
        d.put_desc(0, s.head, BASE + RAM_SIZE - 4, 8, DESC_F_WRITE, 0);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), Some((u32::from(s.head), 0)));
        let s = d.add_chain(0, &[Buf::Read(vec![1; 4]), Buf::Write(MAX_FILL as u32 + 100)]);
        d.notify(&mut t, 0);
        assert_eq!(d.used(0), Some((u32::from(s.head), MAX_FILL as u32)));
        assert_eq!(d.ram.slice(s.addrs[1], 4).unwrap(), &[7; 4]);
        assert_eq!(d.ram.slice(s.addrs[1] + MAX_FILL, 4).unwrap(), &[0xAA; 4]);
    }

    #[test]
    fn a_hostile_driver_cannot_make_it_panic_or_hang() {
        let mut t = MmioTransport::new("rng0", Rng::urandom().unwrap(), None);
        let (_, done) =
            semu_virtio::testing::hostile_driver(&mut t, feature::VERSION_1 | feature::INDIRECT_DESC, 200, 13);
        assert!(done > 0);
    }
}
