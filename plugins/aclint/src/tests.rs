//! Tests of both kinds against the `Device` trait.

use std::sync::Arc;

use semu_api::vm_fdt::FdtWriter;
use semu_api::{Console, GuestRam, Params, SourceFile, StopRequest, MIP_MSIP, MIP_MTIP, MIP_SSIP};

use super::*;
use crate::aclint::{MSWI_BASE, MTIME, MTIMECMP_BASE, SSWI_BASE};

const COMMON: &[&str] = &["name", "kind", "base", "irq", "irq-parent"];

fn kind(name: &str) -> &'static DeviceKind {
    inventory::iter::<DeviceKind>.into_iter().find(|k| k.kind == name).expect("registered")
}

fn spec(kind: &'static str, toml: &str, harts: usize) -> DeviceSpec {
    DeviceSpec {
        name: "timer".into(),
        kind,
        base: 0x200_0000,
        size: MMIO_SIZE,
        irq: None,
        params: Params::new(SourceFile::new("m.toml", toml), Some(0), COMMON, "timer"),
        harts,
        timebase_frequency: 10_000_000,
        console: false,
    }
}

struct Rig {
    dev: Box<dyn Device>,
    lines: Arc<HartLines>,
    ram: GuestRam,
    stop: Option<StopRequest>,
    now: u64,
}

impl Rig {
    fn new(name: &'static str, harts: usize) -> Self {
        let k = kind(name);
        let lines = HartLines::new(harts);
        let mut ctx = BuildCtx {
            irq: None,
            irq_pins: None,
            hart_lines: lines.clone(),
            console: Console::sink(),
            input: semu_api::InputHub::detached(),
            verbose: false,
        };
        let dev = (k.build)(&spec(k.kind, k.example, harts), &mut ctx).unwrap();
        Self { dev, lines, ram: GuestRam::new(0x8000_0000, 0x1000), stop: None, now: 0 }
    }

    fn rd(&mut self, off: u64, size: u8) -> Result<u64, BusFault> {
        let Rig { dev, ram, stop, now, .. } = self;
        dev.read(off, size, &mut DevCtx { ram, now: *now, stop, verbose: false })
    }

    fn wr(&mut self, off: u64, size: u8, v: u64) -> Result<(), BusFault> {
        let Rig { dev, ram, stop, now, .. } = self;
        dev.write(off, size, v, &mut DevCtx { ram, now: *now, stop, verbose: false })
    }

    fn tick_at(&mut self, t: u64) {
        self.now = t;
        let Rig { dev, ram, stop, now, .. } = self;
        dev.tick(&mut DevCtx { ram, now: *now, stop, verbose: false });
    }
}

#[test]
fn examples_parse_and_build() {
    for name in ["clint", "aclint"] {
        let k = kind(name);
        (k.check)(&spec(k.kind, k.example, 1)).unwrap();
        Rig::new(name, 4);
        assert_eq!(k.resources.mmio_size, 0x10000);
        assert!(serde_json::to_string(&(k.schema)()).is_ok());
        let bad = format!("{}clock = \"host\"\n", k.example);
        let e = (k.check)(&spec(k.kind, &bad, 1)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("clock"), "{e}");
    }
}

#[test]
fn mtip_follows_machine_time_and_wakes_the_machine() {
    let mut r = Rig::new("clint", 2);
    r.tick_at(100);
    assert_eq!(r.dev.next_deadline(), None);
    // RV32 guests write the compare as two halves.
    r.wr(MTIMECMP_BASE + 8 + 4, 4, 0).unwrap();
    r.wr(MTIMECMP_BASE + 8, 4, 1_000).unwrap();
    assert_eq!(r.dev.next_deadline(), Some(1_000));
    r.tick_at(999);
    assert_eq!(r.lines.get(1), 0);
    r.tick_at(1_000);
    assert_eq!((r.lines.get(0), r.lines.get(1)), (0, MIP_MTIP));
    assert_eq!(r.dev.next_deadline(), None, "fired: nothing to wait for");
    assert_eq!(r.rd(MTIME, 8), Ok(1_000));
    assert_eq!(r.rd(MTIME + 4, 4), Ok(0));
}

#[test]
fn msip_and_sswi() {
    let mut r = Rig::new("aclint", 2);
    r.wr(MSWI_BASE, 4, 1).unwrap();
    r.wr(SSWI_BASE + 4, 4, 1).unwrap();
    assert_eq!((r.lines.get(0), r.lines.get(1)), (MIP_MSIP, MIP_SSIP));
    assert_eq!(r.rd(MSWI_BASE, 4), Ok(1));
    r.wr(MSWI_BASE, 4, 0).unwrap();
    assert_eq!(r.lines.get(0), 0);

    let mut c = Rig::new("clint", 2);
    assert_eq!(c.wr(SSWI_BASE + 4, 4, 1), Err(BusFault::Unmapped), "a clint has no SSWI");
    assert_eq!(c.rd(MSWI_BASE + 2, 2), Err(BusFault::BadSize));
}

#[test]
fn fdt_properties() {
    for name in ["clint", "aclint"] {
        let k = kind(name);
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        let node = w.begin_node(&format!("{}@2000000", k.fdt_name)).unwrap();
        (k.fdt)(&spec(k.kind, k.example, 2), &mut FdtCtx { fdt: &mut w, cpu_intc: &[3, 4] }).unwrap();
        w.end_node(node).unwrap();
        w.end_node(root).unwrap();
        let blob = w.finish().unwrap();
        let dt = fdt::Fdt::new(&blob).unwrap();
        let n = dt.find_node("/clint@2000000").unwrap();
        let compat: Vec<&str> = n.compatible().unwrap().all().collect();
        assert_eq!(compat, ["sifive,clint0", "riscv,clint0"]);
        let ext: Vec<u32> = n
            .property("interrupts-extended")
            .unwrap()
            .value
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(ext, [3, 3, 3, 7, 4, 3, 4, 7]);
    }
}
