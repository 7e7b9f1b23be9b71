//! Run-loop tests: exits, tohost, limits, idle sleeping, and a throughput benchmark (ignored).

use std::time::Instant;

use semu_api::{BusFault, Console, DevCtx, Device, StopRequest};

use super::{run, run_with_stats, BootMode, RunExit, RunOptions, Stats};
use crate::clock::{Clock, ClockSource};
use crate::cpu::tests::asm::*;
use crate::cpu::tests::{boot, CODE};
use crate::cpu::Priv;
use crate::sbi::eid;

const TOHOST: u32 = 0x8008_0000;
const RES: u32 = 0x8008_0100;

fn opts(mode: BootMode) -> RunOptions {
    RunOptions {
        mode,
        tohost: Some(u64::from(TOHOST)),
        max_instructions: Some(10_000_000),
        trace: false,
        jit: Some(crate::cpu::JIT_THRESHOLD),
    }
}

#[test]
fn bare_metal_tohost_pass_and_fail() {
    for v in [1, 7] {
        let p = prog(&[&li(T0, TOHOST), &li(T1, v), &[sw(T1, T0, 0), SPIN]]);
        let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &p);
        assert_eq!(run(&mut harts, &mut sys, &opts(BootMode::BareMetal)), RunExit::ToHost(v));
    }
}

#[test]
fn bare_metal_ecall_traps_to_m_mode() {
    // ecall → handler stores mcause to tohost
    let handler = CODE + 0x100;
    let p = prog(&[&li(T0, handler), &[csrrw(ZERO, 0x305, T0), ECALL]]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &p);
    let h = prog(&[&[csrrs(T1, 0x342, ZERO)], &li(T0, TOHOST), &[sw(T1, T0, 0), SPIN]]);
    for (i, w) in h.iter().enumerate() {
        sys.ram.write_u32(u64::from(handler) + 4 * i as u64, *w).unwrap();
    }
    assert_eq!(run(&mut harts, &mut sys, &opts(BootMode::BareMetal)), RunExit::ToHost(11));
}

#[test]
fn instruction_limit() {
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &[SPIN]);
    let o = RunOptions { max_instructions: Some(20_000), ..opts(BootMode::BareMetal) };
    let mut st = Stats::default();
    assert_eq!(run_with_stats(&mut harts, &mut sys, &o, &mut st), RunExit::InstructionLimit);
    assert_eq!(harts[0].instret(), 20_000);
    assert_eq!(st.instructions, 20_000);
}

#[test]
fn unhandled_m_mode_trap_in_linux_mode_is_fatal() {
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &[ECALL]);
    let RunExit::Fatal(msg) = run(&mut harts, &mut sys, &opts(BootMode::Linux)) else { panic!() };
    assert!(msg.contains("EcallM") && msg.contains("pc 80000000"), "{msg}");
}

#[test]
fn stop_requests_and_quit() {
    struct Finisher;
    impl Device for Finisher {
        fn read(&mut self, _: u64, _: u8, _: &mut DevCtx) -> Result<u64, BusFault> {
            Ok(0)
        }
        fn write(&mut self, _: u64, _: u8, v: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
            *ctx.stop = Some(StopRequest::PowerOff(v as i32));
            Ok(())
        }
    }
    let p = prog(&[&li(T0, 0x1000_0000), &[addi(T1, ZERO, 3), sw(T1, T0, 0), SPIN]]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &p);
    sys.bus.map("finisher", 0x1000_0000, 0x1000, Box::new(Finisher)).unwrap();
    assert_eq!(run(&mut harts, &mut sys, &opts(BootMode::BareMetal)), RunExit::PowerOff(3));

    let console = Console::sink();
    console.request_quit();
    let (mut harts, mut sys) = boot(1, console, Priv::M, &[SPIN]);
    assert_eq!(run(&mut harts, &mut sys, &opts(BootMode::BareMetal)), RunExit::Quit);

    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &[SPIN]);
    harts[0].set_stopped(true);
    assert!(matches!(run(&mut harts, &mut sys, &opts(BootMode::BareMetal)), RunExit::Fatal(_)));
}

/// S-mode: arm the SBI timer `delta` ticks ahead, wait in wfi; the timer interrupt handler
/// saves `time` and shuts down.
fn timer_program(delta: u32) -> (Vec<u32>, Vec<u32>) {
    let handler = CODE + 0x400;
    let main = prog(&[
        &li(T0, handler),
        &[csrrw(ZERO, 0x105, T0)],
        &li(T0, 1 << 5),
        &[csrrs(ZERO, 0x104, T0), csrrsi(ZERO, 0x100, 2), csrrs(A0, 0xc01, ZERO)],
        &li(T1, delta),
        &[add(A0, A0, T1)],
        sbi(eid::TIME, 0, &[]).split_at(4).0, // a7, a6 only: a0 holds the time
        &[addi(A1, ZERO, 0), ECALL, WFI, jal(ZERO, -4)],
    ]);
    let handler_code = prog(&[&[csrrs(A0, 0xc01, ZERO)], &save_a0_a1(RES), &sbi(eid::SRST, 0, &[0, 0])]);
    (main, handler_code)
}

#[test]
fn sbi_timer_wakes_wfi_and_idle_time_is_skipped() {
    let (main, handler) = timer_program(5_000_000);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &main);
    for (i, w) in handler.iter().enumerate() {
        sys.ram.write_u32(u64::from(CODE + 0x400) + 4 * i as u64, *w).unwrap();
    }
    let mut st = Stats::default();
    let exit = run_with_stats(&mut harts, &mut sys, &opts(BootMode::Linux), &mut st);
    assert_eq!(exit, RunExit::PowerOff(0));
    let woke_at = sys.ram.read_u32(u64::from(RES)).unwrap();
    assert!(woke_at >= 5_000_000, "woke at {woke_at}");
    assert!(st.idle_sleeps >= 1 && st.instructions < 1000, "{st:?}");
}

#[test]
fn idle_with_host_clock_sleeps_instead_of_spinning() {
    // 30 ms at 10 MHz
    let (main, handler) = timer_program(300_000);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &main);
    sys.clock = Clock::new(10_000_000, ClockSource::Host);
    for (i, w) in handler.iter().enumerate() {
        sys.ram.write_u32(u64::from(CODE + 0x400) + 4 * i as u64, *w).unwrap();
    }
    let t = Instant::now();
    let mut st = Stats::default();
    assert_eq!(run_with_stats(&mut harts, &mut sys, &opts(BootMode::Linux), &mut st), RunExit::PowerOff(0));
    assert!(t.elapsed().as_millis() >= 25, "{:?}", t.elapsed());
    assert!(st.slices < 200, "the loop spun: {st:?}");
}

/// Throughput of a simple ALU + memory loop: `cargo test --release -p semu --lib bench_mips -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_mips() {
    let n: u32 = 50_000_000;
    // a0 = n; loop: a1 += a0; lw a2, 0(sp); a2 ^= a1; sw a2, 0(sp); a0 -= 1; bne a0, 0, loop
    let p = prog(&[
        &li(A0, n),
        &li(SP, 0x8007_0000),
        &[
            add(A1, A1, A0),
            lw(A2, SP, 0),
            r(0, A1, A2, 4, A2, 0x33),
            sw(A2, SP, 0),
            addi(A0, A0, -1),
            bne(A0, ZERO, -20),
        ],
        &li(T0, TOHOST),
        &[addi(T1, ZERO, 1), sw(T1, T0, 0), SPIN],
    ]);
    for (name, satp) in [("bare", false), ("sv32", true)] {
        let (mut harts, mut sys) = boot(1, Console::sink(), Priv::M, &p);
        if satp {
            // identity superpages for code and data in S-mode
            let root = 0x800f_0000u64;
            sys.ram.write_u32(root + 4 * (0x8000_0000 >> 22), (0x8000_0000u32 >> 12) << 10 | 0xcf).unwrap();
            harts[0].set_csr(0x180, 1 << 31 | (root >> 12) as u32);
            harts[0].set_privilege(Priv::S);
        }
        let o = RunOptions { max_instructions: None, ..opts(BootMode::BareMetal) };
        let t = Instant::now();
        let exit = run(&mut harts, &mut sys, &o);
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(exit, RunExit::ToHost(1));
        let mips = harts[0].instret() as f64 / secs / 1e6;
        println!("{name}: {} instructions in {secs:.3} s: {mips:.0} MIPS", harts[0].instret());
    }
}
