//! SBI tests: S-mode programs calling the built-in firmware through a full run.

use semu_api::Console;

use super::{eid, err, hsm_status, IMPL_ID};
use crate::cpu::tests::asm::*;
use crate::cpu::tests::{boot, SharedBuf, CODE};
use crate::cpu::Priv;
use crate::run::{run, BootMode, RunExit, RunOptions};

const RES: u32 = 0x8008_0000;

fn opts() -> RunOptions {
    RunOptions {
        mode: BootMode::Linux,
        tohost: None,
        max_instructions: Some(1_000_000),
        trace: false,
        jit: Some(crate::cpu::JIT_THRESHOLD),
    }
}

fn shutdown() -> Vec<u32> {
    sbi(eid::SRST, 0, &[0, 0])
}

#[test]
fn srst_ends_the_run_with_a_matching_exit() {
    for (ty, reason, want) in [
        (0, 0, RunExit::PowerOff(0)),
        (0, 1, RunExit::PowerOff(1)),
        (1, 0, RunExit::Reboot),
        (2, 0, RunExit::Reboot),
        // implementation- and vendor-specific reasons are allowed, and are not "no reason"
        (0, 0xe000_0001, RunExit::PowerOff(1)),
        (0, 0xf000_0000, RunExit::PowerOff(1)),
        (1, 0xe000_0000, RunExit::Reboot),
    ] {
        let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &sbi(eid::SRST, 0, &[ty, reason]));
        assert_eq!(run(&mut harts, &mut sys, &opts()), want, "type {ty} reason {reason}");
    }
    // an invalid type or a reserved reason returns an error and the kernel goes on
    let p = prog(&[
        &sbi(eid::SRST, 0, &[7, 0]),
        &save_a0_a1(RES),
        &sbi(eid::SRST, 0, &[0, 2]),
        &save_a0_a1(RES + 8),
        &sbi(eid::LEGACY_SHUTDOWN, 0, &[]),
    ]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &p);
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    assert_eq!(sys.ram.read_u32(u64::from(RES)), Some(err::INVALID_PARAM as u32));
    assert_eq!(sys.ram.read_u32(u64::from(RES + 8)), Some(err::INVALID_PARAM as u32));
}

#[test]
fn base_extension() {
    let p = prog(&[
        &sbi(eid::BASE, 0, &[]),
        &save_a0_a1(RES),
        &sbi(eid::BASE, 1, &[]),
        &save_a0_a1(RES + 8),
        &sbi(eid::BASE, 3, &[eid::HSM]),
        &save_a0_a1(RES + 16),
        &sbi(eid::BASE, 3, &[0x0123_4567]),
        &save_a0_a1(RES + 24),
        &sbi(0x0123_4567, 0, &[]),
        &save_a0_a1(RES + 32),
        &sbi(eid::BASE, 99, &[]),
        &save_a0_a1(RES + 40),
        &shutdown(),
    ]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &p);
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let words: Vec<u32> = (0..12).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    let ns = err::NOT_SUPPORTED as u32;
    assert_eq!(words, [0, 0x0200_0000, 0, IMPL_ID, 0, 1, 0, 0, ns, 0, ns, 0]);
}

#[test]
fn hsm_starts_a_stopped_hart() {
    const FLAG: u32 = RES + 0x100;
    const ENTRY: u32 = CODE + 0x400;
    let hart0 = prog(&[
        &sbi(eid::HSM, 2, &[1]),
        &save_a0_a1(RES),
        &sbi(eid::HSM, 0, &[1, ENTRY, 0xcafe]),
        &save_a0_a1(RES + 8),
        &sbi(eid::HSM, 0, &[1, ENTRY, 0]),
        &save_a0_a1(RES + 16),
        &sbi(eid::HSM, 2, &[1]),
        &save_a0_a1(RES + 24),
        &sbi(eid::HSM, 0, &[7, ENTRY, 0]),
        &save_a0_a1(RES + 32),
        &li(T0, FLAG),
        &[addi(T1, ZERO, 1), sw(T1, T0, 0), SPIN],
    ]);
    let hart1 =
        prog(&[&li(T0, FLAG), &[lw(T1, T0, 0), bne(T1, ZERO, 8), jal(ZERO, -8)], &save_a0_a1(RES + 40), &shutdown()]);
    let (mut harts, mut sys) = boot(2, Console::sink(), Priv::S, &hart0);
    for (i, w) in hart1.iter().enumerate() {
        sys.ram.write_u32(u64::from(ENTRY) + 4 * i as u64, *w).unwrap();
    }
    assert!(harts[1].is_stopped());
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let words: Vec<u32> = (0..12).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    let (aa, ip) = (err::ALREADY_AVAILABLE as u32, err::INVALID_PARAM as u32);
    // status: stopped (1) before, started (0) after; a1 of the new hart is the opaque value
    assert_eq!(words, [0, 1, 0, 0, aa, 0, 0, 0, ip, 0, 1, 0xcafe]);
    assert_eq!(harts[1].privilege(), Priv::S);
}

#[test]
fn hsm_stop_and_restart() {
    // hart 1 stops itself; hart 0 waits for the status to say so, then starts it again
    const ENTRY: u32 = CODE + 0x400;
    let hart0 = prog(&[
        &sbi(eid::HSM, 0, &[1, ENTRY, 1]),
        // wait until hart 1 is stopped again
        &sbi(eid::HSM, 2, &[1]),
        &[addi(T1, ZERO, 1), bne(A1, T1, -32)],
        &sbi(eid::HSM, 0, &[1, ENTRY + 0x100, 2]),
        &[SPIN],
    ]);
    let hart1 = sbi(eid::HSM, 1, &[]);
    let hart1_again = prog(&[&save_a0_a1(RES), &shutdown()]);
    let (mut harts, mut sys) = boot(2, Console::sink(), Priv::S, &hart0);
    for (at, p) in [(ENTRY, &hart1), (ENTRY + 0x100, &hart1_again)] {
        for (i, w) in p.iter().enumerate() {
            sys.ram.write_u32(u64::from(at) + 4 * i as u64, *w).unwrap();
        }
    }
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let got = (sys.ram.read_u32(u64::from(RES)), sys.ram.read_u32(u64::from(RES) + 4));
    assert_eq!(got, (Some(1), Some(2)), "a0 = hart id, a1 = opaque of the second start");
}

#[test]
fn dbcn_and_legacy_console() {
    const MSG: u32 = RES + 0x200;
    const BUF: u32 = RES + 0x300;
    let p = prog(&[
        &sbi(eid::DBCN, 0, &[6, MSG, 0]),
        &save_a0_a1(RES),
        &sbi(eid::DBCN, 2, &[u32::from(b'!')]),
        &sbi(eid::LEGACY_PUTCHAR, 0, &[u32::from(b'?')]),
        &sbi(eid::DBCN, 0, &[4, 0x1000, 0]),
        &save_a0_a1(RES + 8),
        &sbi(eid::DBCN, 0, &[4, MSG, 1]),
        &save_a0_a1(RES + 16),
        &sbi(eid::DBCN, 1, &[8, BUF, 0]),
        &save_a0_a1(RES + 24),
        &sbi(eid::LEGACY_GETCHAR, 0, &[]),
        &save_a0_a1(RES + 32),
        &shutdown(),
    ]);
    let out = SharedBuf::default();
    let console = Console::new(Box::new(out.clone()));
    console.push_input(b"xy");
    let (mut harts, mut sys) = boot(1, console, Priv::S, &p);
    sys.ram.write(u64::from(MSG), b"hello\n").unwrap();
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    assert_eq!(out.text(), "hello\n!?");
    let words: Vec<u32> = (0..9).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    let ip = err::INVALID_PARAM as u32;
    assert_eq!(words[..8], [0, 6, ip, 0, ip, 0, 0, 2], "write, bad address, address above 4 GiB, read");
    assert_eq!(words[8], u32::MAX, "getchar without input");
    assert_eq!(sys.ram.slice(u64::from(BUF), 2), Some(&b"xy"[..]));
}

#[test]
fn ipi_and_remote_fence() {
    // hart 0 enables SSIP and sends itself an IPI; the handler shuts down
    const HANDLER: u32 = CODE + 0x800;
    let p = prog(&[
        &li(T0, HANDLER),
        &[csrrw(ZERO, 0x105, T0), addi(T0, ZERO, 2), csrrs(ZERO, 0x104, T0), csrrs(ZERO, 0x100, T0)],
        &sbi(eid::RFENCE, 1, &[1, 0, 0, 0]),
        &save_a0_a1(RES),
        &sbi(eid::RFENCE, 0, &[1, 0]),
        &save_a0_a1(RES + 8),
        &sbi(eid::IPI, 0, &[2, 0]), // hart 1 does not exist
        &save_a0_a1(RES + 16),
        &sbi(eid::IPI, 0, &[1, 0]),
        &[SPIN],
    ]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &p);
    for (i, w) in prog(&[&[csrrs(A0, 0x142, ZERO)], &save_a0_a1(RES + 24), &shutdown()]).iter().enumerate() {
        sys.ram.write_u32(u64::from(HANDLER) + 4 * i as u64, *w).unwrap();
    }
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let words: Vec<u32> = (0..7).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    assert_eq!(words, [0, 0, 0, 0, err::INVALID_PARAM as u32, 0, 0x8000_0001]);
}

#[test]
fn hsm_suspend_reports_suspended_until_an_interrupt_wakes_the_hart() {
    const ENTRY: u32 = CODE + 0x400;
    // hart 0: start hart 1, wait until its status is SUSPENDED, record it, wake it with an IPI
    let status = sbi(eid::HSM, 2, &[1]);
    let back = -4 * (status.len() as i32 + 1);
    let hart0 = prog(&[
        &sbi(eid::HSM, 0, &[1, ENTRY, 0]),
        &status,
        &[addi(T1, ZERO, hsm_status::SUSPENDED as i32), bne(A1, T1, back)],
        &save_a0_a1(RES),
        &sbi(eid::IPI, 0, &[2, 0]),
        &[SPIN],
    ]);
    // hart 1: enable SSIP in sie (sstatus.SIE stays clear: the interrupt wakes, no trap), suspend
    // (retentive), then record the call's result and its own status, and shut down
    let hart1 = prog(&[
        &[addi(T0, ZERO, 2), csrrs(ZERO, 0x104, T0)],
        &sbi(eid::HSM, 3, &[0, 0, 0]),
        &save_a0_a1(RES + 8),
        &sbi(eid::HSM, 2, &[1]),
        &save_a0_a1(RES + 16),
        &shutdown(),
    ]);
    let (mut harts, mut sys) = boot(2, Console::sink(), Priv::S, &hart0);
    for (i, w) in hart1.iter().enumerate() {
        sys.ram.write_u32(u64::from(ENTRY) + 4 * i as u64, *w).unwrap();
    }
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let words: Vec<u32> = (0..6).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    assert_eq!(words, [0, hsm_status::SUSPENDED, 0, 0, 0, hsm_status::STARTED]);
}

#[test]
fn legacy_set_timer_and_clear_ipi() {
    // wait for sip.STIP: csrr a0, sip; andi t1, a0, 32; beq t1, zero, back
    let wait_stip = [csrrs(A0, 0x144, ZERO), i(32, A0, 7, T1, 0x13), b(-8, ZERO, T1, 0)];
    let p = prog(&[
        &sbi(eid::IPI, 0, &[1, 0]),
        &[csrrs(A0, 0x144, ZERO)],
        &save_a0_a1(RES),
        &sbi(eid::LEGACY_CLEAR_IPI, 0, &[]),
        &[csrrs(A0, 0x144, ZERO)],
        &save_a0_a1(RES + 8),
        &sbi(eid::LEGACY_SET_TIMER, 0, &[0, 0]),
        &wait_stip,
        &save_a0_a1(RES + 16),
        &sbi(eid::LEGACY_SET_TIMER, 0, &[u32::MAX, u32::MAX]),
        &[csrrs(A0, 0x144, ZERO)],
        &save_a0_a1(RES + 24),
        &shutdown(),
    ]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &p);
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let sip = |at: u32| sys.ram.read_u32(u64::from(RES + at)).unwrap();
    assert_eq!(sip(0) & 2, 2, "IPI sets SSIP");
    assert_eq!(sip(8) & 2, 0, "legacy clear_ipi clears it");
    assert_eq!(sip(16) & 32, 32, "a timer in the past raises STIP");
    assert_eq!(sip(24) & 32, 0, "setting a new timer clears STIP");
}

#[test]
fn rfence_functions_and_errors() {
    let p = prog(&[
        &sbi(eid::RFENCE, 2, &[1, 0, 0x4000_0000, 0x2000, 7]), // sfence.vma.asid, ASID 7
        &save_a0_a1(RES),
        &sbi(eid::RFENCE, 2, &[0, u32::MAX, 0, 0, 0]), // every hart, everything
        &save_a0_a1(RES + 8),
        &sbi(eid::RFENCE, 1, &[4, 0, 0, 0]), // hart 2 does not exist
        &save_a0_a1(RES + 16),
        &sbi(eid::RFENCE, 3, &[1, 0, 0, 0]), // HFENCE: no hypervisor extension
        &save_a0_a1(RES + 24),
        &shutdown(),
    ]);
    let (mut harts, mut sys) = boot(1, Console::sink(), Priv::S, &p);
    assert_eq!(run(&mut harts, &mut sys, &opts()), RunExit::PowerOff(0));
    let words: Vec<u32> = (0..8).map(|i| sys.ram.read_u32(u64::from(RES) + 4 * i).unwrap()).collect();
    let (ip, ns) = (err::INVALID_PARAM as u32, err::NOT_SUPPORTED as u32);
    assert_eq!(words, [0, 0, 0, 0, ip, 0, ns, 0]);
}
