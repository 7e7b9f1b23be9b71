//! Tests of the plugin against the `Device` trait.

use semu_api::vm_fdt::FdtWriter;
use semu_api::{Console, GuestRam, IrqLine, Params, SourceFile, StopRequest};

use super::*;

const COMMON: &[&str] = &["name", "kind", "base", "irq", "irq-parent"];
const EXAMPLE: &str = "[[device]]\nname = \"plic0\"\nkind = \"plic\"\n";

fn kind() -> &'static DeviceKind {
    inventory::iter::<DeviceKind>.into_iter().find(|k| k.kind == "plic").expect("registered")
}

fn spec(toml: &str, harts: usize) -> DeviceSpec {
    DeviceSpec {
        name: "plic0".into(),
        kind: "plic",
        base: 0xC00_0000,
        size: MMIO_SIZE,
        irq: None,
        params: Params::new(SourceFile::new("m.toml", toml), Some(0), COMMON, "plic0"),
        harts,
        timebase_frequency: 10_000_000,
        console: false,
    }
}

struct Rig {
    dev: Box<dyn Device>,
    pins: Arc<IrqPins>,
    harts: Arc<HartLines>,
    ram: GuestRam,
    stop: Option<StopRequest>,
}

impl Rig {
    fn new(harts: usize) -> Self {
        let pins = IrqPins::new(MAX_SOURCE + 1);
        let hart_lines = HartLines::new(harts);
        let mut ctx = BuildCtx {
            irq: None,
            irq_pins: Some(pins.clone()),
            hart_lines: hart_lines.clone(),
            console: Console::sink(),
            input: semu_api::InputHub::detached(),
            verbose: false,
        };
        let dev = (kind().build)(&spec(EXAMPLE, harts), &mut ctx).unwrap();
        Self { dev, pins, harts: hart_lines, ram: GuestRam::new(0x8000_0000, 0x1000), stop: None }
    }

    fn rd(&mut self, off: u64) -> Result<u64, BusFault> {
        self.rd_sized(off, 4)
    }

    fn rd_sized(&mut self, off: u64, size: u8) -> Result<u64, BusFault> {
        let Rig { dev, ram, stop, .. } = self;
        dev.read(off, size, &mut DevCtx { ram, now: 0, stop, verbose: false })
    }

    fn wr(&mut self, off: u64, v: u32) -> Result<(), BusFault> {
        let Rig { dev, ram, stop, .. } = self;
        dev.write(off, 4, u64::from(v), &mut DevCtx { ram, now: 0, stop, verbose: false })
    }

    fn tick(&mut self) {
        let Rig { dev, ram, stop, .. } = self;
        dev.tick(&mut DevCtx { ram, now: 0, stop, verbose: false });
    }

    fn line(&self, src: u32) -> IrqLine {
        IrqLine::new(self.pins.clone(), src)
    }

    /// Priority 1 for `src`, enabled in `ctx`.
    fn route(&mut self, src: u32, ctx: u64) {
        self.wr(4 * u64::from(src), 1).unwrap();
        let off = 0x2000 + 0x80 * ctx + 4 * u64::from(src / 32);
        let v = self.rd(off).unwrap() as u32;
        self.wr(off, v | 1 << (src % 32)).unwrap();
    }
}

fn claim(ctx: u64) -> u64 {
    0x20_0004 + 0x1000 * ctx
}

#[test]
fn example_parses_and_builds() {
    let k = kind();
    assert_eq!(k.example, EXAMPLE);
    (k.check)(&spec(k.example, 2)).unwrap();
    let e = (k.check)(&spec("[[device]]\nname = \"plic0\"\nkind = \"plic\"\nndev = 3\n", 1)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("ndev"), "{e}");
    Rig::new(2);
    assert!(serde_json::to_string(&(k.schema)()).is_ok());
    assert_eq!(k.irq_controller.map(|c| c.max_source), Some(127));
}

#[test]
fn m_and_s_contexts_drive_meip_and_seip_on_the_right_hart() {
    let mut r = Rig::new(2);
    r.route(3, 1); // hart 0, S-mode
    r.route(4, 2); // hart 1, M-mode
    let (l3, l4) = (r.line(3), r.line(4));
    l3.set(true);
    assert_eq!(r.harts.get(0), 0, "not before the PLIC samples its pins");
    r.tick();
    assert_eq!((r.harts.get(0), r.harts.get(1)), (MIP_SEIP, 0));
    l4.set(true);
    r.tick();
    assert_eq!((r.harts.get(0), r.harts.get(1)), (MIP_SEIP, MIP_MEIP));
    assert_eq!(r.rd(claim(2)), Ok(4));
    assert_eq!(r.harts.get(1), 0, "claimed: MEIP drops");
    l4.set(false);
    r.wr(claim(2), 4).unwrap();
    assert_eq!(r.harts.get(1), 0);
    l3.set(false);
    r.tick();
    assert_eq!(r.harts.get(0), 0, "level dropped before the claim: no longer pending");
    assert_eq!(r.rd(claim(1)), Ok(0));
}

#[test]
fn claim_complete_cycle_with_level_high() {
    let mut r = Rig::new(1);
    r.route(10, 0);
    let l = r.line(10);
    l.set(true);
    r.tick();
    assert_eq!(r.harts.get(0), MIP_MEIP);
    assert_eq!(r.rd(claim(0)), Ok(10));
    assert_eq!(r.harts.get(0), 0);
    assert_eq!(r.rd(0x1000), Ok(0), "not pending while in service");
    r.wr(claim(0), 10).unwrap();
    assert_eq!(r.harts.get(0), MIP_MEIP, "line still high: pending again after complete");
    assert_eq!(r.rd(0x1000), Ok(1 << 10));
    assert_eq!(r.rd(claim(0)), Ok(10));
    l.set(false);
    r.wr(claim(0), 10).unwrap();
    assert_eq!(r.harts.get(0), 0);
}

#[test]
fn threshold_masks_and_priority_orders_claims() {
    let mut r = Rig::new(1);
    for s in [2, 33, 100] {
        r.route(s, 1);
        r.line(s).set(true);
    }
    r.wr(4 * 100, 5).unwrap();
    r.wr(4 * 33, 5).unwrap();
    r.wr(0x20_1000, 4).unwrap(); // S context threshold
    r.tick();
    assert_eq!(r.harts.get(0), MIP_SEIP);
    assert_eq!(r.rd(claim(1)), Ok(33));
    assert_eq!(r.rd(claim(1)), Ok(100));
    assert_eq!(r.harts.get(0), 0, "source 2 (priority 1) is below the threshold");
    assert_eq!(r.rd(claim(1)), Ok(0));
    r.wr(0x20_1000, 0).unwrap();
    assert_eq!(r.harts.get(0), MIP_SEIP, "threshold write updates the lines at once");
    assert_eq!(r.rd(claim(1)), Ok(2));
}

#[test]
fn bad_offsets_and_sizes_fault_never_panic() {
    let mut r = Rig::new(1);
    assert_eq!(r.rd(0x20_2004), Err(BusFault::Unmapped), "context 2 of a 1-hart machine");
    assert_eq!(r.rd(0x2100), Err(BusFault::Unmapped), "enables of context 2");
    assert_eq!(r.rd(MMIO_SIZE), Err(BusFault::Unmapped));
    assert_eq!(r.rd(u64::MAX - 3), Err(BusFault::Unmapped));
    assert_eq!(r.rd(0x1F_F000), Err(BusFault::Unmapped));
    assert_eq!(r.rd_sized(0, 1), Err(BusFault::BadSize));
    assert_eq!(r.rd_sized(0, 8), Err(BusFault::BadSize));
    assert_eq!(r.rd(2), Err(BusFault::BadSize));
    assert_eq!(r.rd(4 * 500), Ok(0), "priority of a source that does not exist reads 0");
    // A sweep over the whole region (every 4th KiB and a few words in each) never panics.
    for page in (0..MMIO_SIZE).step_by(0x1000) {
        for off in [0, 4, 8, 0x7C, 0x80, 0xFFC] {
            let _ = r.rd(page + off);
            let _ = r.wr(page + off, 0xFFFF_FFFF);
        }
    }
    r.tick();
}

#[test]
fn fdt_properties() {
    let k = kind();
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    let node = w.begin_node(&format!("{}@c000000", k.fdt_name)).unwrap();
    (k.fdt)(&spec(EXAMPLE, 2), &mut FdtCtx { fdt: &mut w, cpu_intc: &[5, 6] }).unwrap();
    w.end_node(node).unwrap();
    w.end_node(root).unwrap();
    let blob = w.finish().unwrap();
    let dt = fdt::Fdt::new(&blob).unwrap();
    let n = dt.find_node("/interrupt-controller@c000000").unwrap();
    let compat: Vec<&str> = n.compatible().unwrap().all().collect();
    assert_eq!(compat, ["sifive,plic-1.0.0", "riscv,plic0"]);
    let u = |name: &str| n.property(name).and_then(|p| p.as_usize());
    assert_eq!((u("#address-cells"), u("#interrupt-cells"), u("riscv,ndev")), (Some(0), Some(1), Some(127)));
    assert_eq!(n.property("interrupt-controller").map(|p| p.value.len()), Some(0));
    let ext: Vec<u32> = n
        .property("interrupts-extended")
        .unwrap()
        .value
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(ext, [5, 11, 5, 9, 6, 11, 6, 9]);
}
