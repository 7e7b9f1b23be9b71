//! The machine side of the stub without GDB: a test thread plays the protocol thread and drives
//! a one-hart bare-metal machine through the run loop's hook.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use gdbstub::common::Signal;
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::breakpoints::WatchKind;
use semu_api::{Console, GuestRam, HartLines};

use super::hook::{tid, Hook};
use super::remote::call;
use super::{Action, Event, Request, Requests};
use crate::bus::{Bus, System};
use crate::clock::{Clock, ClockSource};
use crate::cpu::{decode, Hart, HartConfig, Insn};
use crate::run::{run_debug, BootMode, RunExit, RunOptions, Stats};

const BASE: u32 = 0x8000_0000;
const DATA: u32 = 0x8000_1000;
const PROGRAM: [u32; 4] = [
    0x0015_0513, // addi a0, a0, 1
    0x0015_0513, // addi a0, a0, 1
    0x00a5_a023, // sw a0, 0(a1)
    0x0000_006f, // j .
];

fn machine() -> (Vec<Hart>, System) {
    let mut ram = GuestRam::new(u64::from(BASE), 0x1_0000);
    for (i, w) in PROGRAM.iter().enumerate() {
        ram.write_u32(u64::from(BASE) + 4 * i as u64, *w).unwrap();
    }
    let mut h = Hart::new(0, &HartConfig::default());
    h.set_pc(BASE);
    h.set_reg(11, DATA);
    let sys = System {
        ram,
        bus: Bus::default(),
        hart_lines: HartLines::new(1),
        clock: Clock::new(10_000_000, ClockSource::Instret { instructions_per_tick: 100 }),
        console: Console::sink(),
        stop: None,
        verbose: false,
    };
    (vec![h], sys)
}

fn stopped(events: &Receiver<Event>) -> MultiThreadStopReason<u32> {
    match events.recv_timeout(Duration::from_secs(10)) {
        Ok(Event::Stopped(r)) => r,
        Ok(Event::Exited(c)) => panic!("exited with {c}"),
        Err(e) => panic!("no stop: {e}"),
    }
}

/// pc, a0 and the word at DATA, read on the stopped machine.
fn state(rq: &Requests) -> (u32, u32, u32) {
    call(rq, |ctx| (ctx.harts[0].pc(), ctx.harts[0].reg(10), ctx.sys.ram.read_u32(u64::from(DATA)).unwrap())).unwrap()
}

#[test]
fn the_program_is_what_it_says() {
    assert_eq!(decode(PROGRAM[0]), Insn::Addi { rd: 10, rs1: 10, imm: 1 });
    assert_eq!(decode(PROGRAM[2]), Insn::Sw { rs1: 11, rs2: 10, imm: 0 });
    assert_eq!(decode(PROGRAM[3]), Insn::Jal { rd: crate::cpu::decode::X0_SINK, imm: 0 });
}

#[test]
fn breakpoints_steps_watchpoints_and_kill_on_the_machine_thread() {
    let (mut harts, mut sys) = machine();
    let (tx, rx) = mpsc::channel();
    let (ev_tx, events) = mpsc::channel();
    let attention = Arc::new(AtomicBool::new(false));
    let rq = Requests { tx, attention: attention.clone(), console: sys.console.clone() };
    let mut hook = Hook::new(rx, ev_tx, attention, true);

    let driver = std::thread::spawn(move || {
        rq.send(Request::Attach);
        assert_eq!(state(&rq), (BASE, 0, 0), "held before the first instruction");

        // a breakpoint stops before its instruction
        call(&rq, |ctx| ctx.points.sw.push(BASE + 8)).unwrap();
        rq.send(Request::Resume(vec![Action::Continue]));
        assert_eq!(stopped(&events), MultiThreadStopReason::SwBreak(tid(0)));
        assert_eq!(state(&rq), (BASE + 8, 2, 0));

        // a single step executes exactly one instruction, breakpoint or not
        rq.send(Request::Resume(vec![Action::Step]));
        assert_eq!(stopped(&events), MultiThreadStopReason::SignalWithThread { tid: tid(0), signal: Signal::SIGTRAP });
        assert_eq!(state(&rq), (BASE + 12, 2, 2));

        // a write watchpoint stops before the store; a write by the debugger keeps the decode
        // cache coherent (the patched instruction runs)
        call(&rq, |ctx| {
            ctx.points.sw.clear();
            ctx.points.watch.push((DATA, 4));
            ctx.harts[0].set_pc(BASE);
            // addi a0, a0, 1 -> addi a0, a0, 5
            assert!(super::remote::write_virtual(ctx, 0, BASE, &0x0055_0513u32.to_le_bytes()));
        })
        .unwrap();
        rq.send(Request::Resume(vec![Action::Continue]));
        assert_eq!(stopped(&events), MultiThreadStopReason::Watch { tid: tid(0), kind: WatchKind::Write, addr: DATA });
        assert_eq!(state(&rq), (BASE + 8, 8, 2));

        // a hart held stopped does not run; an interrupt stops the machine once
        call(&rq, |ctx| ctx.points.watch.clear()).unwrap();
        rq.send(Request::Resume(vec![Action::Stop]));
        std::thread::sleep(Duration::from_millis(20));
        rq.send(Request::Interrupt);
        assert_eq!(stopped(&events), MultiThreadStopReason::SignalWithThread { tid: tid(0), signal: Signal::SIGINT });
        assert_eq!(state(&rq).0, BASE + 8, "held");
        rq.send(Request::Interrupt);
        assert_eq!(state(&rq).0, BASE + 8);
        assert!(events.try_recv().is_err(), "an interrupt of a stopped machine reports nothing");

        rq.send(Request::Kill);
    });
    let exit = run_debug(
        &mut harts,
        &mut sys,
        &RunOptions {
            mode: BootMode::BareMetal,
            tohost: None,
            max_instructions: None,
            trace: false,
            jit: Some(crate::cpu::JIT_THRESHOLD),
        },
        &mut Stats::default(),
        Some(&mut hook),
    );
    driver.join().unwrap();
    assert_eq!(exit, RunExit::Quit);
}
