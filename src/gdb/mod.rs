//! GDB remote stub: `semu run --gdb ADDR [--wait-gdb]`.
//!
//! Two threads. The **protocol thread** ([`remote`]) accepts one debugger at a time on the
//! listening socket and speaks the GDB remote protocol with `gdbstub` (target description in
//! [`arch`]: the RV32 registers, the CSRs and `priv`; one thread per hart, tid = hart + 1). It
//! never touches the machine: every register or memory access is a closure sent to the
//! **machine thread**, which runs them while the machine is held stopped.
//!
//! On the machine thread, [`hook::Hook`] is the run loop's [`DebugHook`]: before every round of
//! slices it checks one atomic flag (set with every request, so a debugger attaching, a Ctrl-C, or
//! a resume is seen within one slice), and while the machine is stopped it blocks on the request
//! channel. With breakpoints, watchpoints or a single step pending it runs the harts one
//! instruction at a time, comparing pc with the breakpoints before each instruction and the
//! target of each store with the watchpoints; otherwise the usual slices run. Breakpoints (software
//! and hardware alike) are pc checks: guest memory is never patched. Watchpoints on writes report
//! before the store executes, as RISC-V triggers do (GDB steps over it and compares values).
//!
//! With no `--gdb` the run loop has no hook at all.

mod arch;
mod hook;
mod remote;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use gdbstub::stub::MultiThreadStopReason;
use semu_api::Console;

use crate::bus::System;
use crate::cpu::{Hart, Shared};
use crate::run::DebugHook;

/// What a stopped machine gives the debugger: everything, for the length of one request.
struct Ctx<'a> {
    harts: &'a mut [Hart],
    sys: &'a mut System,
    sh: &'a mut Shared,
    points: &'a mut hook::Points,
}

/// Work for the machine thread, run while the machine is stopped.
type Call = Box<dyn FnOnce(&mut Ctx<'_>) + Send>;

/// What each hart does when the machine resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Stays stopped.
    Stop,
    /// Runs.
    Continue,
    /// Executes one instruction, then the machine stops.
    Step,
}

/// Protocol thread → machine thread.
enum Request {
    /// A debugger connected: stop the machine (no stop is reported; GDB asks with `?`).
    Attach,
    /// Ctrl-C: stop the machine and report it, unless it is stopped already.
    Interrupt,
    /// Run this on the stopped machine.
    Call(Call),
    /// Resume with one action per hart.
    Resume(Vec<Action>),
    /// The debugger left: drop breakpoints and watchpoints, run freely.
    Detach,
    /// The debugger killed the target: end the run.
    Kill,
}

/// Machine thread → protocol thread.
enum Event {
    /// The machine stopped (breakpoint, watchpoint, step, interrupt).
    Stopped(MultiThreadStopReason<u32>),
    /// The run ended with this exit status.
    Exited(u8),
}

/// The sending side of the request channel: every request raises the attention flag and wakes
/// a sleeping machine loop.
#[derive(Clone)]
struct Requests {
    tx: Sender<Request>,
    attention: Arc<AtomicBool>,
    console: Arc<Console>,
}

impl Requests {
    fn send(&self, r: Request) -> bool {
        let ok = self.tx.send(r).is_ok();
        self.attention.store(true, Ordering::Release);
        self.console.wake();
        ok
    }
}

/// A GDB server for one machine: the listening socket, its protocol thread, and the machine-side
/// hook.
pub struct GdbServer {
    hook: hook::Hook,
    addr: SocketAddr,
    /// Signalled by the protocol thread once it told the debugger that the run ended.
    reported: Receiver<()>,
}

impl GdbServer {
    /// Listens on `addr` (e.g. `127.0.0.1:1234`; port 0 picks a free port) and starts the protocol
    /// thread. With `wait`, the machine does not run until a debugger connects and resumes it.
    /// Prints `semu: gdb listening on ADDR` on stderr.
    pub fn start(addr: &str, wait: bool, console: Arc<Console>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        eprintln!("semu: gdb listening on {addr}");
        let (tx, rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let (rep_tx, reported) = mpsc::channel();
        let attention = Arc::new(AtomicBool::new(false));
        let requests = Requests { tx, attention: attention.clone(), console };
        std::thread::Builder::new()
            .name("semu-gdb".into())
            .spawn(move || remote::serve(listener, requests, ev_rx, rep_tx))?;
        Ok(Self { hook: hook::Hook::new(rx, ev_tx, attention, wait), addr, reported })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hook for the machine loop.
    pub(crate) fn hook(&mut self) -> &mut dyn DebugHook {
        &mut self.hook
    }

    /// The run ended with exit status `status`: tells an attached debugger (which then sees the
    /// remote exit) and waits a little for that to be sent.
    pub fn finish(&mut self, status: i32) {
        if self.hook.report_exit(status as u8) {
            let _ = self.reported.recv_timeout(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests;
