//! The machine loop: runs the harts round-robin in slices on one host thread, ticks devices,
//! fires SBI timers, and sleeps while every hart waits in `wfi`.

use std::time::Duration;

use semu_api::{StopRequest, MIP_STIP};

use crate::bus::System;
use crate::clock::ClockSource;
use crate::cpu::{Exception, Hart, Shared, SliceExit, Trap};

/// Instructions a hart runs before the loop turns to the next hart and the devices.
const SLICE: u64 = 8192;
/// Deadlines at least this many ticks away are treated as no deadline.
const FAR: u64 = 1 << 56;
/// Longest sleep while idle without a deadline (host events also wake the loop).
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// How the machine boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMode {
    /// An S-mode kernel on the built-in SBI firmware.
    Linux,
    /// An M-mode program and no firmware: `ecall` traps normally.
    BareMetal,
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Boot mode.
    pub mode: BootMode,
    /// Physical address of the HTIF-style `tohost` word (bare metal).
    pub tohost: Option<u64>,
    /// Stop after about this many instructions (all harts together).
    pub max_instructions: Option<u64>,
    /// Print every instruction to stderr.
    pub trace: bool,
    /// Compile a page to native code once it ran this many instructions; `None`: never.
    pub jit: Option<u32>,
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunExit {
    /// SBI or device shutdown with this exit status (0, or 1 for "system failure").
    PowerOff(i32),
    /// The guest asked for a reboot.
    Reboot,
    /// The guest kernel panicked and said so (pvpanic).
    GuestPanic,
    /// The user quit from the console (or the monitor's `quit`).
    Quit,
    /// The monitor reset the machine (QMP `system_reset`): the run ends as for a reboot.
    Reset,
    /// A program wrote this value to `tohost` (1 = pass, `(n << 1) | 1` = fail with code n).
    ToHost(u32),
    /// `max_instructions` were executed.
    InstructionLimit,
    /// The machine cannot go on (e.g. an unhandled trap into M-mode in Linux mode).
    Fatal(String),
}

/// Counters of one run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Instructions retired by all harts.
    pub instructions: u64,
    /// Slices run.
    pub slices: u64,
    /// SBI calls handled.
    pub sbi_calls: u64,
    /// Times the loop slept because every hart waited.
    pub idle_sleeps: u64,
    /// Pages in the decoded-instruction cache at the end.
    pub decoded_pages: usize,
    /// Pages compiled to native code.
    pub compiled_pages: u64,
    /// Host time spent asleep because every hart waited.
    pub idle_time: std::time::Duration,
}

/// Runs the machine until it stops.
pub fn run(harts: &mut [Hart], sys: &mut System, opts: &RunOptions) -> RunExit {
    run_with_stats(harts, sys, opts, &mut Stats::default())
}

/// [`run`], counting into `stats`.
pub fn run_with_stats(harts: &mut [Hart], sys: &mut System, opts: &RunOptions, stats: &mut Stats) -> RunExit {
    run_debug(harts, sys, opts, stats, None)
}

/// A debugger in the machine loop (the GDB stub, [`crate::gdb`]). Without one the loop is
/// unchanged; with one it is asked before every round of slices, and runs the harts' slices
/// itself while it needs to see every instruction (breakpoints, watchpoints, stepping).
pub(crate) trait DebugHook {
    /// Before every round: may hold the machine stopped while the debugger looks at it.
    /// `Some(exit)` ends the run.
    fn poll(&mut self, harts: &mut [Hart], sys: &mut System, sh: &mut Shared) -> Option<RunExit>;
    /// Whether hart slices go through [`run_slice`](Self::run_slice) rather than
    /// [`Hart::run_slice`]. A hook that never steps (the monitor) keeps the default.
    fn stepping(&self) -> bool {
        false
    }
    /// Runs hart `i` as [`Hart::run_slice`] does, one instruction at a time (the default, for
    /// hooks that never step, is the plain slice).
    fn run_slice(
        &mut self,
        harts: &mut [Hart],
        i: usize,
        sys: &mut System,
        sh: &mut Shared,
        budget: u64,
        trace: bool,
    ) -> (u64, SliceExit) {
        harts[i].run_slice(sys, sh, budget, trace)
    }
}

/// Two hooks in the loop: a monitor ([`crate::qmp`]), asked first, and a debugger, which alone
/// runs stepped slices.
pub(crate) struct HookPair<'a> {
    /// Polled first; never steps.
    pub monitor: &'a mut dyn DebugHook,
    /// Polled second; its stepping decides how slices run.
    pub debugger: &'a mut dyn DebugHook,
}

impl DebugHook for HookPair<'_> {
    fn poll(&mut self, harts: &mut [Hart], sys: &mut System, sh: &mut Shared) -> Option<RunExit> {
        self.monitor.poll(harts, sys, sh).or_else(|| self.debugger.poll(harts, sys, sh))
    }

    fn stepping(&self) -> bool {
        self.debugger.stepping()
    }

    fn run_slice(
        &mut self,
        harts: &mut [Hart],
        i: usize,
        sys: &mut System,
        sh: &mut Shared,
        budget: u64,
        trace: bool,
    ) -> (u64, SliceExit) {
        self.debugger.run_slice(harts, i, sys, sh, budget, trace)
    }
}

/// [`run_with_stats`] with a debugger.
pub(crate) fn run_debug(
    harts: &mut [Hart],
    sys: &mut System,
    opts: &RunOptions,
    stats: &mut Stats,
    debug: Option<&mut dyn DebugHook>,
) -> RunExit {
    let mut sh = Shared::new(&mut sys.ram);
    sh.set_jit(opts.jit);
    let linux = opts.mode == BootMode::Linux;
    for h in harts.iter_mut() {
        if linux {
            h.firmware_setup();
        }
    }
    let exit = machine_loop(harts, sys, opts, stats, &mut sh, debug);
    stats.decoded_pages = sh.decoded_pages();
    stats.compiled_pages = sh.compiled_pages();
    exit
}

fn machine_loop(
    harts: &mut [Hart],
    sys: &mut System,
    opts: &RunOptions,
    st: &mut Stats,
    sh: &mut Shared,
    mut debug: Option<&mut dyn DebugHook>,
) -> RunExit {
    let mut executed = 0u64;
    let mut idle_rounds = 0u32;
    loop {
        if let Some(exit) = debug.as_deref_mut().and_then(|d| d.poll(harts, sys, sh)) {
            return exit;
        }
        let mut retired = 0;
        for i in 0..harts.len() {
            let lines = sys.hart_lines.get(harts[i].id());
            let h = &mut harts[i];
            if h.stopped || (h.wfi && !h.wakeup_pending(lines)) {
                continue;
            }
            h.wfi = false;
            let budget = match opts.max_instructions {
                Some(max) if executed >= max => return RunExit::InstructionLimit,
                Some(max) => SLICE.min(max - executed),
                None => SLICE,
            };
            let before = h.instret();
            let (n, exit) = match debug.as_deref_mut() {
                Some(d) if d.stepping() => d.run_slice(harts, i, sys, sh, budget, opts.trace),
                _ => h.run_slice(sys, sh, budget, opts.trace),
            };
            retired += harts[i].instret().wrapping_sub(before);
            executed += n.max(1);
            st.slices += 1;
            if let SliceExit::Firmware(trap) = exit {
                if trap == Trap::Exception(Exception::EcallS) {
                    st.sbi_calls += 1;
                    if let Some(exit) = crate::sbi::handle_ecall(harts, i, sys, sh) {
                        st.instructions += retired;
                        return exit;
                    }
                } else {
                    return RunExit::Fatal(format!("unhandled trap into M-mode: {trap:?}\n{}", harts[i].dump()));
                }
            }
        }
        st.instructions += retired;
        sys.tick_devices();
        sh.drain_device_writes(&mut sys.ram);
        let now = sys.clock.now();
        for h in harts.iter_mut() {
            if h.timecmp <= now {
                h.set_mip_bits(MIP_STIP, true);
            }
        }
        if let Some(addr) = opts.tohost {
            if let Some(v) = sys.ram.read_u32(addr).filter(|&v| v != 0) {
                return RunExit::ToHost(v);
            }
        }
        if let Some(stop) = sys.stop.take() {
            return match stop {
                StopRequest::Quit => RunExit::Quit,
                StopRequest::PowerOff(code) => RunExit::PowerOff(code),
                StopRequest::Reboot => RunExit::Reboot,
                StopRequest::GuestPanic => RunExit::GuestPanic,
                StopRequest::Fatal(msg) => RunExit::Fatal(msg),
            };
        }
        if sys.console.quit_requested() {
            return RunExit::Quit;
        }
        if harts.iter().all(|h| h.stopped) {
            return RunExit::Fatal("every hart is stopped".into());
        }
        let idle = harts.iter().all(|h| h.stopped || (h.wfi && !h.wakeup_pending(sys.hart_lines.get(h.id()))));
        if !idle {
            idle_rounds = 0;
            continue;
        }
        // Sleep only on the second idle round: the first one lets devices that reacted to the
        // previous wake-up pass their interrupt on (e.g. a UART to the PLIC).
        idle_rounds += 1;
        if idle_rounds < 2 {
            continue;
        }
        st.idle_sleeps += 1;
        let timers = harts.iter().filter(|h| !h.stopped).map(|h| h.timecmp);
        // deadlines centuries away (a guest "disabling" its timer) count as none, so the instret
        // clock is never warped towards overflow
        let deadline = timers.chain(sys.bus.next_deadline()).filter(|&d| d > now && d - now < FAR).min();
        let slept = std::time::Instant::now();
        match (sys.clock.source(), deadline) {
            (ClockSource::Instret { .. }, Some(d)) => sys.clock.warp_to(d),
            (ClockSource::Host, Some(d)) => sys.console.wait(sys.clock.until(d).min(MAX_SLEEP)),
            (_, None) => sys.console.wait(MAX_SLEEP),
        }
        st.idle_time += slept.elapsed();
    }
}

#[cfg(test)]
mod tests;
