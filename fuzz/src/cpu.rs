//! Target `cpu`: the instruction decoder and executor.
//!
//! A small machine (1 MiB of RAM at 0x8000_0000, a UART, a PLIC, an ACLINT and a virtio-rng at
//! fixed addresses, one or two harts) runs arbitrary instruction words from the input, starting
//! in M, S or U mode, in bare-metal or Linux (built-in SBI) boot mode, with CSRs (`satp`,
//! `mstatus`, delegation, trap vectors...) and registers set from the input. The words are also
//! the page table when `satp` points at them. Whatever the words, the run must end within its
//! instruction budget with traps, never a panic: `x0` stays 0 and `pc` stays 4-byte aligned.
//!
//! A watchdog device gives the idle loop a deadline, so a guest that waits in `wfi` with every
//! interrupt off ends the run instead of sleeping forever.

use std::sync::{Arc, OnceLock};

use semu::bus::{Bus, System};
use semu::clock::{Clock, ClockSource};
use semu::config::{self, Overrides, Validated};
use semu::cpu::{Hart, HartConfig, MisalignedAmo, Priv};
use semu::run::{run as run_machine, BootMode, RunOptions};
use semu_api::{BuildCtx, BusFault, Console, DevCtx, Device, GuestRam, HartLines, IrqLine, IrqPins, StopRequest};

use super::bytes::Bytes;

/// RAM base.
pub const RAM_BASE: u64 = 0x8000_0000;
/// RAM size.
pub const RAM_SIZE: u64 = 1 << 20;
/// Instructions per run (all harts).
pub const BUDGET: u64 = 4_000;
/// Default M-mode trap handler: `csrr t0, mepc; addi t0, t0, 4; csrw mepc, t0; mret`, so a
/// trapping word is skipped and the run goes on through the input's words.
const M_HANDLER: [u32; 4] = [0x3410_22f3, 0x0042_8293, 0x3412_9073, 0x3020_0073];
/// The same for S-mode (`sepc`, `sret`).
const S_HANDLER: [u32; 4] = [0x1410_22f3, 0x0042_8293, 0x1412_9073, 0x1020_0073];
/// Where the default handlers are (past the input's words).
const M_VECTOR: u64 = RAM_BASE + 0xF_F000;
const S_VECTOR: u64 = RAM_BASE + 0xF_F100;
/// Time (instret ticks) at which the watchdog stops an idle machine.
const WATCHDOG: u64 = 1 << 24;
/// Where the watchdog is mapped.
const WATCHDOG_BASE: u64 = 0x4000_0000;

const MACHINE: &str = r#"
[memory]
base = 0x8000_0000
size = "1MiB"
[cpu]
harts = HARTS
clock = "instret"
[boot]
mode = "bare-metal"
[[device]]
name = "uart0"
kind = "uart8250"
base = 0x1000_0000
[[device]]
name = "plic0"
kind = "plic"
base = 0x0c00_0000
[[device]]
name = "aclint0"
kind = "aclint"
base = 0x0200_0000
[[device]]
name = "rng0"
kind = "virtio-rng"
base = 0x1000_1000
"#;

/// Addresses registers are likely to hold: device registers and interesting RAM spots.
const DEVICE_ADDRS: [u32; 8] =
    [0x1000_0000, 0x1000_0005, 0x0c20_0004, 0x0c00_2000, 0x0200_4000, 0x0200_bff8, 0x1000_1050, 0x1000_1070];

/// CSRs worth setting before the run.
const CSRS: [u16; 16] =
    [0x300, 0x302, 0x303, 0x304, 0x305, 0x306, 0x340, 0x341, 0x100, 0x104, 0x105, 0x106, 0x140, 0x141, 0x180, 0x344];

fn machine(harts: usize) -> &'static Validated {
    static M: [OnceLock<Validated>; 2] = [OnceLock::new(), OnceLock::new()];
    M[harts - 1].get_or_init(|| {
        let text = MACHINE.replace("HARTS", &harts.to_string());
        let file = semu_api::SourceFile::new("cpu-fuzz.toml", text);
        let parsed = config::parse(&file).expect("the fuzz machine parses");
        config::validate(&file, parsed, &Overrides::default()).expect("the fuzz machine validates")
    })
}

/// Ends an idle run: asks for a tick at [`WATCHDOG`] and stops the machine then.
struct Watchdog;

impl Device for Watchdog {
    fn read(&mut self, _: u64, _: u8, _: &mut DevCtx) -> Result<u64, BusFault> {
        Err(BusFault::Unmapped)
    }
    fn write(&mut self, _: u64, _: u8, _: u64, _: &mut DevCtx) -> Result<(), BusFault> {
        Err(BusFault::Unmapped)
    }
    fn tick(&mut self, ctx: &mut DevCtx) {
        if ctx.now >= WATCHDOG && ctx.stop.is_none() {
            *ctx.stop = Some(StopRequest::Quit);
        }
    }
    fn next_deadline(&self) -> Option<u64> {
        Some(WATCHDOG)
    }
}

/// The system of `spec`'s devices around 1 MiB of RAM.
fn system(spec: &Validated, console: Arc<Console>) -> System {
    let hart_lines = HartLines::new(spec.harts);
    let pins: Vec<Option<Arc<IrqPins>>> =
        spec.devices.iter().map(|d| d.kind.irq_controller.map(|c| IrqPins::new(c.max_source + 1))).collect();
    let mut bus = Bus::default();
    for (i, d) in spec.devices.iter().enumerate() {
        let irq = match (d.parent, d.spec.irq) {
            (Some(p), Some(n)) => pins[p].clone().map(|pins| IrqLine::new(pins, n)),
            _ => None,
        };
        let mut ctx = BuildCtx {
            irq,
            irq_pins: pins[i].clone(),
            hart_lines: hart_lines.clone(),
            console: console.clone(),
            input: semu_api::InputHub::detached(),
            verbose: false,
        };
        let dev = (d.kind.build)(&d.spec, &mut ctx).expect("device builds");
        bus.map(&d.spec.name, d.spec.base, d.spec.size, dev).expect("device maps");
    }
    bus.map("watchdog", WATCHDOG_BASE, 0x1000, Box::new(Watchdog)).expect("watchdog maps");
    System {
        ram: GuestRam::new(RAM_BASE, RAM_SIZE),
        bus,
        hart_lines,
        clock: Clock::new(10_000_000, ClockSource::Instret { instructions_per_tick: 1 }),
        console,
        stop: None,
        verbose: false,
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let flags = b.u8();
    let privilege = [Priv::U, Priv::S, Priv::M, Priv::M][usize::from(flags & 3)];
    let mode = if flags & 4 != 0 { BootMode::Linux } else { BootMode::BareMetal };
    let harts = if flags & 8 != 0 { 2 } else { 1 };
    let cfg = HartConfig {
        reservation_granule: 4 << (flags >> 4 & 7),
        misaligned_amo: if flags & 0x80 != 0 { MisalignedAmo::Emulate } else { MisalignedAmo::Trap },
        ..HartConfig::default()
    };
    let spec = machine(harts);
    let console = Console::sink();
    console.push_input(b"fuzz\n");
    let mut sys = system(spec, console);

    let mut hs: Vec<Hart> = (0..harts).map(|i| Hart::new(i, &cfg)).collect();
    let csr_count = b.u8() % 8;
    let reg_seed = b.u8();
    for h in &mut hs {
        h.set_privilege(privilege);
        h.set_pc(RAM_BASE as u32);
        // trap vectors at handlers that skip the trapping word (the input may move them)
        h.set_csr(0x305, M_VECTOR as u32);
        h.set_csr(0x105, S_VECTOR as u32);
    }
    for _ in 0..csr_count {
        let sel = b.u8();
        let csr = if sel & 0x80 != 0 { b.u16() & 0xfff } else { CSRS[usize::from(sel) % CSRS.len()] };
        let value = match b.u8() % 4 {
            // satp: Sv32 with the root table in RAM
            0 => 0x8000_0000 | ((RAM_BASE >> 12) as u32 + u32::from(b.u8())),
            1 => RAM_BASE as u32 + u32::from(b.u16()),
            _ => b.u32(),
        };
        let h = usize::from(sel >> 6 & 1) % harts;
        hs[h].set_csr(csr, value);
    }
    for h in &mut hs {
        for r in 1..32u8 {
            let v = match (reg_seed ^ r.wrapping_mul(37)) % 4 {
                0 => DEVICE_ADDRS[usize::from(r) % DEVICE_ADDRS.len()],
                1 => RAM_BASE as u32 + u32::from(r) * 0x1000 + 0x10,
                2 => u32::from(r).wrapping_mul(0x0101_0101),
                _ => RAM_BASE as u32 + RAM_SIZE as u32 - 4 * u32::from(r),
            };
            h.set_reg(usize::from(r), v);
        }
    }
    if harts == 2 && flags & 0x40 != 0 {
        hs[1].set_stopped(true);
    }
    // The words: at the start of RAM (code, trap vectors and page tables all come from them).
    let code = b.take(64 << 10);
    sys.ram.write(RAM_BASE, code).expect("code fits in RAM");
    for (at, handler) in [(M_VECTOR, M_HANDLER), (S_VECTOR, S_HANDLER)] {
        for (i, w) in handler.iter().enumerate() {
            sys.ram.write_u32(at + 4 * i as u64, *w).expect("handler fits in RAM");
        }
    }

    // interpreted: under the fuzzer's instrumentation Cranelift takes about a second per page
    // (10 s timeouts, tens of execs/s), so the compiled tier is checked instead by the
    // differential tests in src/cpu/tests/fuzz.rs (random programs, compiled vs reference loop)
    let jit = None;
    let opts =
        RunOptions { mode, tohost: Some(RAM_BASE + RAM_SIZE - 8), max_instructions: Some(BUDGET), trace: false, jit };
    let _exit = run_machine(&mut hs, &mut sys, &opts);
    for h in &hs {
        assert_eq!(h.reg(0), 0, "x0 is zero");
        assert_eq!(h.pc() % 4, 0, "pc {:#x} is aligned", h.pc());
    }
}
