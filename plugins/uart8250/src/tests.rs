//! Tests of the plugin against the `Device` trait.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use semu_api::vm_fdt::FdtWriter;
use semu_api::{GuestRam, HartLines, IrqPins, Params, SourceFile};

use super::*;
use crate::uart::{reg, FCR_ENABLE, IER_ERBFI, IER_ETBEI, IIR_FIFO, IIR_NONE, IIR_RDA, IIR_THRE, LSR_DR};

const COMMON: &[&str] = &["name", "kind", "base", "irq", "irq-parent"];

/// An output buffer the test can look into.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn spec(toml: &str, console: bool) -> DeviceSpec {
    spec_in(SourceFile::new("m.toml", toml), console)
}

fn spec_in(file: Arc<SourceFile>, console: bool) -> DeviceSpec {
    DeviceSpec {
        name: "uart0".into(),
        kind: "uart8250",
        base: 0x1000_0000,
        size: 0x100,
        irq: Some(10),
        params: Params::new(file, Some(0), COMMON, "uart0"),
        harts: 1,
        timebase_frequency: 10_000_000,
        console,
    }
}

struct Rig {
    dev: Box<dyn Device>,
    pins: Arc<IrqPins>,
    console: Arc<Console>,
    out: Buf,
    ram: GuestRam,
    stop: Option<StopRequest>,
}

impl Rig {
    fn new(toml: &str, console: bool) -> Self {
        Self::from_spec(&spec(toml, console))
    }

    fn from_spec(spec: &DeviceSpec) -> Self {
        let out = Buf::default();
        let console = Console::new(Box::new(out.clone()));
        let pins = IrqPins::new(32);
        let mut ctx = BuildCtx {
            irq: Some(IrqLine::new(pins.clone(), 10)),
            irq_pins: None,
            hart_lines: HartLines::new(1),
            console: console.clone(),
            input: semu_api::InputHub::detached(),
            verbose: false,
        };
        let dev = build(spec, &mut ctx).unwrap();
        Self { dev, pins, console, out, ram: GuestRam::new(0x8000_0000, 0x1000), stop: None }
    }

    fn ctx(&mut self) -> DevCtx<'_> {
        DevCtx { ram: &mut self.ram, now: 0, stop: &mut self.stop, verbose: false }
    }

    fn rd(&mut self, off: u8) -> u8 {
        let Rig { dev, ram, stop, .. } = self;
        dev.read(u64::from(off), 1, &mut DevCtx { ram, now: 0, stop, verbose: false }).unwrap() as u8
    }

    fn wr(&mut self, off: u8, v: u8) {
        let Rig { dev, ram, stop, .. } = self;
        dev.write(u64::from(off), 1, u64::from(v), &mut DevCtx { ram, now: 0, stop, verbose: false }).unwrap();
    }

    fn tick(&mut self) {
        let Rig { dev, ram, stop, .. } = self;
        dev.tick(&mut DevCtx { ram, now: 0, stop, verbose: false });
    }

    fn irq(&self) -> bool {
        self.pins.level(10)
    }
}

const EXAMPLE: &str = "[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n";

#[test]
fn example_parses_and_builds() {
    let kind = inventory::iter::<DeviceKind>.into_iter().find(|k| k.kind == "uart8250").expect("registered");
    assert_eq!(kind.example, EXAMPLE);
    let s = spec(kind.example, true);
    (kind.check)(&s).unwrap();
    let _: Options = s.params.parse().unwrap();
    Rig::from_spec(&s);
    let schema = serde_json::to_string(&(kind.schema)()).unwrap();
    assert!(schema.contains("\"log\""), "{schema}");
}

#[test]
fn unknown_option_names_the_field() {
    let e = (check)(&spec("[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\nbaud = 9600\n", false)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("baud"), "{e}");
    let e = (check)(&spec("[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\nlog = \"/no/such/dir/x.log\"\n", false))
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("log"), "{e}");
}

#[test]
fn thr_output_goes_to_the_console() {
    let mut r = Rig::new(EXAMPLE, true);
    for &b in b"hi\n" {
        r.wr(reg::DATA, b);
    }
    assert_eq!(r.out.take(), b"hi\n");
    assert!(!r.irq());
}

#[test]
fn non_console_instance_has_no_input_and_no_output() {
    let mut r = Rig::new(EXAMPLE, false);
    r.console.push_input(b"abc");
    r.wr(reg::DATA, b'x');
    r.tick();
    assert_eq!(r.rd(reg::LSR) & LSR_DR, 0);
    assert!(r.out.take().is_empty());
    assert!(r.console.has_input(), "console input left for its owner");
}

#[test]
fn rx_fifo_dr_and_rx_interrupt() {
    let mut r = Rig::new(EXAMPLE, true);
    r.wr(reg::IIR_FCR, FCR_ENABLE);
    r.wr(reg::IER, IER_ERBFI);
    assert!(!r.irq());
    r.console.push_input(b"ok");
    r.tick();
    assert!(r.irq(), "RX data interrupt");
    assert_eq!(r.rd(reg::LSR) & LSR_DR, LSR_DR);
    assert_eq!(r.rd(reg::IIR_FCR), IIR_FIFO | IIR_RDA);
    assert_eq!(r.rd(reg::DATA), b'o');
    assert_eq!(r.rd(reg::DATA), b'k');
    assert_eq!(r.rd(reg::LSR) & LSR_DR, 0);
    assert!(!r.irq());
}

#[test]
fn thre_interrupt_on_etbei_and_iir_clearing() {
    let mut r = Rig::new(EXAMPLE, true);
    r.wr(reg::IER, IER_ETBEI);
    assert!(r.irq());
    assert_eq!(r.rd(reg::IIR_FCR), IIR_THRE);
    assert!(!r.irq(), "the IIR read cleared the THRE interrupt and the line");
    r.wr(reg::DATA, b'a');
    assert!(r.irq(), "THR emptied again");
    r.wr(reg::IER, 0);
    assert!(!r.irq());
    assert_eq!(r.rd(reg::IIR_FCR), IIR_NONE);
}

#[test]
fn input_is_not_lost_when_the_fifo_is_full() {
    let mut r = Rig::new(EXAMPLE, true);
    r.wr(reg::IIR_FCR, FCR_ENABLE);
    let input: Vec<u8> = (0..40).collect();
    r.console.push_input(&input);
    r.tick();
    r.tick();
    assert!(r.console.has_input(), "what did not fit waits in the console queue");
    let lsr = r.rd(reg::LSR);
    assert_eq!(lsr & (LSR_DR | 0x02), LSR_DR, "FIFO full: DR, no overrun");
    let mut got = Vec::new();
    for _ in 0..200 {
        if r.rd(reg::LSR) & LSR_DR == 0 {
            r.tick();
            if r.rd(reg::LSR) & LSR_DR == 0 {
                break;
            }
        }
        got.push(r.rd(reg::DATA));
    }
    assert_eq!(got, input);
    assert!(!r.console.has_input());
}

#[test]
fn fifo_disabled_holds_one_byte() {
    let mut r = Rig::new(EXAMPLE, true);
    r.console.push_input(b"xy");
    r.tick();
    assert_eq!(r.rd(reg::DATA), b'x');
    assert_eq!(r.rd(reg::LSR) & LSR_DR, LSR_DR, "refilled after the RBR read");
    assert_eq!(r.rd(reg::DATA), b'y');
    r.console.push_input(b"abc");
    r.tick();
    // The guest enables and clears the FIFO (dropping the 'a' it had received, its choice): the
    // rest of the input moves in at once, without waiting for a tick.
    r.wr(reg::IIR_FCR, FCR_ENABLE | 0x02);
    assert_eq!((r.rd(reg::DATA), r.rd(reg::DATA)), (b'b', b'c'));
    assert_eq!(r.rd(reg::LSR) & LSR_DR, 0);
}

#[test]
fn quit_request_stops_the_machine() {
    let mut r = Rig::new(EXAMPLE, true);
    r.tick();
    assert_eq!(r.stop, None);
    r.console.request_quit();
    r.tick();
    assert_eq!(r.stop, Some(StopRequest::Quit));
}

#[test]
fn bad_accesses_fault() {
    let mut r = Rig::new(EXAMPLE, true);
    let mut dev = Uart8250::new(IrqLine::disconnected(), None, None);
    let mut ctx = r.ctx();
    assert_eq!(dev.read(8, 1, &mut ctx), Err(BusFault::Unmapped));
    assert_eq!(dev.read(0xFF, 1, &mut ctx), Err(BusFault::Unmapped));
    assert_eq!(dev.read(0, 4, &mut ctx), Err(BusFault::BadSize));
    assert_eq!(dev.write(4, 2, 0, &mut ctx), Err(BusFault::BadSize));
    assert_eq!(dev.read(u64::MAX, 1, &mut ctx), Err(BusFault::Unmapped));
}

fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    std::env::temp_dir().join(format!("semu-uart-{}-{nanos}-{name}", std::process::id()))
}

#[test]
fn second_uart_logs_to_a_file_relative_to_the_machine_file() {
    let dir = temp_path("dir");
    std::fs::create_dir_all(&dir).unwrap();
    let toml = "[[device]]\nname = \"uart1\"\nkind = \"uart8250\"\nlog = \"out.log\"\n";
    let s = spec_in(SourceFile::new(dir.join("m.toml"), toml), false);
    check(&s).unwrap();
    let mut r = Rig::from_spec(&s);
    for &b in b"log line\npartial" {
        r.wr(reg::DATA, b);
    }
    assert_eq!(std::fs::read(dir.join("out.log")).unwrap(), b"log line\n", "whole lines are written at once");
    r.dev.shutdown();
    assert_eq!(std::fs::read(dir.join("out.log")).unwrap(), b"log line\npartial");
    assert!(r.out.take().is_empty(), "not the console");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fdt_properties() {
    let kind = inventory::iter::<DeviceKind>.into_iter().find(|k| k.kind == "uart8250").unwrap();
    let s = spec(EXAMPLE, true);
    let mut w = FdtWriter::new().unwrap();
    let root = w.begin_node("").unwrap();
    w.property_u32("#address-cells", 2).unwrap();
    w.property_u32("#size-cells", 2).unwrap();
    let node = w.begin_node(&format!("{}@10000000", kind.fdt_name)).unwrap();
    (kind.fdt)(&s, &mut FdtCtx { fdt: &mut w, cpu_intc: &[1] }).unwrap();
    w.end_node(node).unwrap();
    w.end_node(root).unwrap();
    let blob = w.finish().unwrap();
    let dt = fdt::Fdt::new(&blob).unwrap();
    let n = dt.find_node("/serial@10000000").unwrap();
    assert_eq!(n.compatible().unwrap().first(), "ns16550a");
    let u32_prop = |name: &str| n.property(name).and_then(|p| p.as_usize());
    assert_eq!(u32_prop("clock-frequency"), Some(CLOCK_FREQUENCY as usize));
    assert_eq!(u32_prop("reg-shift"), Some(0));
    assert_eq!(u32_prop("reg-io-width"), Some(1));
}
