//! The protocol thread: accepts debuggers one at a time and serves each with `gdbstub`; the
//! target it serves forwards every access to the machine thread.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use gdbstub::common::{Signal, Tid};
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::{run_blocking, DisconnectReason, GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{SingleRegisterAccess, SingleRegisterAccessOps};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint,
    SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::riscv::reg::RiscvCoreRegs;

use super::arch::{RegId, Rv32};
use super::hook::tid;
use super::{Action, Ctx, Event, Request, Requests};
use crate::cpu::Priv;

/// How often a running machine's connection is checked for a Ctrl-C.
const POLL: Duration = Duration::from_millis(5);

/// Accepts debuggers until the run ends (or the listener fails).
pub(super) fn serve(listener: TcpListener, requests: Requests, events: Receiver<Event>, reported: Sender<()>) {
    let mut remote = Remote { requests: requests.clone(), events, harts: 0, actions: Vec::new(), running: false };
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
        eprintln!("semu: gdb connected from {peer}\r");
        let _ = stream.set_nodelay(true);
        // stops left over from an earlier session
        while remote.events.try_recv().is_ok() {}
        if !requests.send(Request::Attach) {
            return;
        }
        remote.harts = match call(&requests, |ctx| ctx.harts.len()) {
            Ok(n) => n,
            Err(_) => return,
        };
        remote.actions.clear();
        remote.running = false;
        let end = GdbStub::new(stream).run_blocking::<EventLoop>(&mut remote);
        match end {
            Ok(DisconnectReason::TargetExited(_)) | Ok(DisconnectReason::TargetTerminated(_)) => {
                let _ = reported.send(());
                return;
            }
            Ok(DisconnectReason::Kill) => {
                eprintln!("semu: killed by the debugger\r");
                requests.send(Request::Kill);
                return;
            }
            Ok(DisconnectReason::Disconnect) => {
                eprintln!("semu: gdb detached\r");
                requests.send(Request::Detach);
            }
            Err(e) => {
                eprintln!("semu: gdb connection ended: {e}\r");
                requests.send(Request::Detach);
            }
        }
    }
}

/// Runs `f` on the stopped machine and returns its result.
pub(super) fn call<R: Send + 'static>(
    requests: &Requests,
    f: impl FnOnce(&mut Ctx<'_>) -> R + Send + 'static,
) -> Result<R, &'static str> {
    let (tx, rx) = mpsc::sync_channel(1);
    let sent = requests.send(Request::Call(Box::new(move |ctx| {
        let _ = tx.send(f(ctx));
    })));
    if !sent {
        return Err("the machine has stopped running");
    }
    rx.recv().map_err(|_| "the machine has stopped running")
}

/// The target `gdbstub` serves: a proxy for the machine thread.
struct Remote {
    requests: Requests,
    events: Receiver<Event>,
    harts: usize,
    /// Resume actions GDB gave so far (index: hart), before `resume`.
    actions: Vec<Option<Action>>,
    /// The machine was resumed and has not reported a stop yet.
    running: bool,
}

impl Remote {
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ctx<'_>) -> R + Send + 'static,
    ) -> Result<R, TargetError<&'static str>> {
        call(&self.requests, f).map_err(TargetError::Fatal)
    }

    fn hart(&self, tid: Tid) -> Result<usize, TargetError<&'static str>> {
        let i = tid.get() - 1;
        if i < self.harts {
            Ok(i)
        } else {
            Err(TargetError::NonFatal)
        }
    }

    fn set_action(&mut self, tid: Tid, action: Action) -> Result<(), &'static str> {
        let i = self.hart(tid).map_err(|_| "no such thread")?;
        self.actions.resize(self.harts, None);
        self.actions[i] = Some(action);
        Ok(())
    }

    /// The stop the machine reports next, as `gdbstub` wants it.
    fn next_stop(&mut self, timeout: Option<Duration>) -> Result<Option<MultiThreadStopReason<u32>>, &'static str> {
        let ev = match timeout {
            None => self.events.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => self.events.recv_timeout(t),
        };
        match ev {
            Ok(Event::Stopped(r)) => {
                self.running = false;
                Ok(Some(r))
            }
            Ok(Event::Exited(code)) => {
                self.running = false;
                Ok(Some(MultiThreadStopReason::Exited(code)))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err("the machine has stopped running"),
        }
    }
}

/// Copies up to `buf.len()` bytes of hart `i`'s virtual memory at `va`; returns how many could be
/// read (translation as the hart would do it; only RAM, never a device).
fn read_virtual(ctx: &Ctx<'_>, i: usize, va: u32, buf: &mut [u8]) -> usize {
    let h = &ctx.harts[i];
    let mut done = 0;
    while done < buf.len() {
        let a = va.wrapping_add(done as u32);
        let n = (0x1000 - (a & 0xfff) as usize).min(buf.len() - done);
        let Some(src) = h.debug_translate(&ctx.sys.ram, a).and_then(|pa| ctx.sys.ram.slice(pa, n)) else {
            break;
        };
        buf[done..done + n].copy_from_slice(src);
        done += n;
    }
    done
}

/// Writes `data` to hart `i`'s virtual memory at `va`, all or nothing (RAM only). Keeps the
/// decoded-instruction cache and every hart's translations coherent.
pub(super) fn write_virtual(ctx: &mut Ctx<'_>, i: usize, va: u32, data: &[u8]) -> bool {
    let mut pieces = Vec::new();
    let mut done = 0;
    while done < data.len() {
        let a = va.wrapping_add(done as u32);
        let n = (0x1000 - (a & 0xfff) as usize).min(data.len() - done);
        match ctx.harts[i].debug_translate(&ctx.sys.ram, a) {
            Some(pa) if ctx.sys.ram.contains(pa, n as u64) => pieces.push((pa, done, n)),
            _ => return false,
        }
        done += n;
    }
    for (pa, at, n) in pieces {
        let _ = ctx.sys.ram.write(pa, &data[at..at + n]);
    }
    // tracked writes: drop decoded instructions and reservations of the pages written
    ctx.sh.drain_device_writes(&mut ctx.sys.ram);
    for h in ctx.harts.iter_mut() {
        h.debug_memory_written();
    }
    true
}

impl Target for Remote {
    type Arch = Rv32;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Remote {
    fn read_registers(&mut self, regs: &mut RiscvCoreRegs<u32>, tid: Tid) -> TargetResult<(), Self> {
        let i = self.hart(tid)?;
        let (x, pc) = self.call(move |ctx| {
            let h = &ctx.harts[i];
            (std::array::from_fn(|r| h.reg(r)), h.pc())
        })?;
        regs.x = x;
        regs.pc = pc;
        Ok(())
    }

    fn write_registers(&mut self, regs: &RiscvCoreRegs<u32>, tid: Tid) -> TargetResult<(), Self> {
        let i = self.hart(tid)?;
        let (x, pc) = (regs.x, regs.pc);
        self.call(move |ctx| {
            let h = &mut ctx.harts[i];
            for (r, v) in x.iter().enumerate() {
                h.set_reg(r, *v);
            }
            h.set_pc(pc);
        })?;
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        let i = self.hart(tid)?;
        let len = data.len();
        let bytes = self.call(move |ctx| {
            let mut buf = vec![0; len];
            let n = read_virtual(ctx, i, start, &mut buf);
            buf.truncate(n);
            buf
        })?;
        if bytes.is_empty() && len > 0 {
            return Err(TargetError::Errno(14)); // EFAULT: "Cannot access memory"
        }
        data[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    fn write_addrs(&mut self, start: u32, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let i = self.hart(tid)?;
        let data = data.to_vec();
        if self.call(move |ctx| write_virtual(ctx, i, start, &data))? {
            Ok(())
        } else {
            Err(TargetError::Errno(14))
        }
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        for i in 0..self.harts {
            thread_is_active(tid(i));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<Tid> for Remote {
    fn read_register(&mut self, tid: Tid, reg: RegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let i = self.hart(tid)?;
        let v = self.call(move |ctx| {
            let h = &ctx.harts[i];
            match reg {
                RegId::Gpr(r) => Some(h.reg(usize::from(r))),
                RegId::Pc => Some(h.pc()),
                RegId::Csr(n) => h.debug_csr(n, ctx.sys),
                RegId::Priv => Some(h.privilege() as u32),
            }
        })?;
        match v {
            Some(v) if buf.len() >= 4 => {
                buf[..4].copy_from_slice(&v.to_le_bytes());
                Ok(4)
            }
            // a CSR the hart does not have: "unavailable"
            _ => Ok(0),
        }
    }

    fn write_register(&mut self, tid: Tid, reg: RegId, val: &[u8]) -> TargetResult<(), Self> {
        let i = self.hart(tid)?;
        let mut b = [0u8; 4];
        let n = val.len().min(4);
        b[..n].copy_from_slice(&val[..n]);
        let v = u32::from_le_bytes(b);
        let ok = self.call(move |ctx| {
            let h = &mut ctx.harts[i];
            match reg {
                RegId::Gpr(r) => {
                    h.set_reg(usize::from(r), v);
                    true
                }
                RegId::Pc => {
                    h.set_pc(v);
                    true
                }
                RegId::Csr(n) => h.debug_set_csr(n, v),
                RegId::Priv => h.debug_set_privilege(v),
            }
        })?;
        if ok {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }
}

impl MultiThreadResume for Remote {
    fn resume(&mut self) -> Result<(), Self::Error> {
        // threads GDB did not name: continue, or stay stopped under scheduler locking (then
        // `set_resume_action_scheduler_lock` has filled them in)
        let actions = (0..self.harts).map(|i| self.actions.get(i).copied().flatten().unwrap_or(Action::Continue));
        self.running = true;
        if self.requests.send(Request::Resume(actions.collect())) {
            Ok(())
        } else {
            Err("the machine has stopped running")
        }
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.actions.clear();
        Ok(())
    }

    fn set_resume_action_continue(&mut self, tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.set_action(tid, Action::Continue)
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for Remote {
    fn set_resume_action_step(&mut self, tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.set_action(tid, Action::Step)
    }
}

impl MultiThreadSchedulerLocking for Remote {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        self.actions.resize(self.harts, None);
        for a in &mut self.actions {
            a.get_or_insert(Action::Stop);
        }
        Ok(())
    }
}

impl ThreadExtraInfo for Remote {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let i = tid.get() - 1;
        let info = call(&self.requests, move |ctx| {
            let Some(h) = ctx.harts.get(i) else { return String::new() };
            let mode = match h.privilege() {
                Priv::U => "U",
                Priv::S => "S",
                Priv::M => "M",
            };
            let state = if h.is_stopped() {
                ", stopped"
            } else if h.is_waiting() {
                ", wfi"
            } else {
                ""
            };
            format!("hart {i}, {mode}-mode{state}")
        })?;
        let n = info.len().min(buf.len());
        buf[..n].copy_from_slice(&info.as_bytes()[..n]);
        Ok(n)
    }
}

impl Breakpoints for Remote {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

/// Adds `addr` to a breakpoint list (or removes one occurrence): GDB may insert a location twice.
fn edit(list: &mut Vec<u32>, addr: u32, add: bool) -> bool {
    if add {
        list.push(addr);
        true
    } else if let Some(p) = list.iter().position(|&a| a == addr) {
        list.swap_remove(p);
        true
    } else {
        false
    }
}

impl SwBreakpoint for Remote {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.call(move |ctx| edit(&mut ctx.points.sw, addr, true))
    }

    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.call(move |ctx| edit(&mut ctx.points.sw, addr, false))
    }
}

impl HwBreakpoint for Remote {
    fn add_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.call(move |ctx| edit(&mut ctx.points.hw, addr, true))
    }

    fn remove_hw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.call(move |ctx| edit(&mut ctx.points.hw, addr, false))
    }
}

impl HwWatchpoint for Remote {
    fn add_hw_watchpoint(&mut self, addr: u32, len: u32, kind: WatchKind) -> TargetResult<bool, Self> {
        if kind != WatchKind::Write {
            // only writes are watched: GDB then says it cannot set a read/access watchpoint
            return Ok(false);
        }
        self.call(move |ctx| {
            ctx.points.watch.push((addr, len));
            true
        })
    }

    fn remove_hw_watchpoint(&mut self, addr: u32, len: u32, kind: WatchKind) -> TargetResult<bool, Self> {
        if kind != WatchKind::Write {
            return Ok(false);
        }
        self.call(move |ctx| match ctx.points.watch.iter().position(|&w| w == (addr, len)) {
            Some(p) => {
                ctx.points.watch.swap_remove(p);
                true
            }
            None => false,
        })
    }
}

/// `gdbstub`'s blocking loop: while the machine runs, waits for its stop while checking the
/// connection for a Ctrl-C.
enum EventLoop {}

impl run_blocking::BlockingEventLoop for EventLoop {
    type Target = Remote;
    type Connection = TcpStream;
    type StopReason = MultiThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut Remote,
        conn: &mut TcpStream,
    ) -> Result<run_blocking::Event<Self::StopReason>, run_blocking::WaitForStopReasonError<&'static str, io::Error>>
    {
        use run_blocking::{Event as E, WaitForStopReasonError as W};
        loop {
            if let Some(stop) = target.next_stop(Some(POLL)).map_err(W::Target)? {
                return Ok(E::TargetStopped(stop));
            }
            if ConnectionExt::peek(conn).map_err(W::Connection)?.is_some() {
                return Ok(E::IncomingData(ConnectionExt::read(conn).map_err(W::Connection)?));
            }
        }
    }

    fn on_interrupt(target: &mut Remote) -> Result<Option<MultiThreadStopReason<u32>>, &'static str> {
        if !target.running {
            return Ok(None);
        }
        target.requests.send(Request::Interrupt);
        target.next_stop(None)
    }
}
