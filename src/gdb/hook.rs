//! The machine side of the stub: the run loop's [`DebugHook`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use gdbstub::common::{Signal, Tid};
use gdbstub::stub::MultiThreadStopReason;
use gdbstub::target::ext::breakpoints::WatchKind;

use super::{Action, Ctx, Event, Request};
use crate::bus::System;
use crate::cpu::{Hart, Shared, SliceExit};
use crate::run::{DebugHook, RunExit};

/// How often a machine held stopped checks whether the user quit.
const QUIT_POLL: Duration = Duration::from_millis(100);

/// The GDB thread id of hart `i`.
pub(super) fn tid(i: usize) -> Tid {
    Tid::new(i + 1).expect("i + 1 is not zero")
}

/// Breakpoints, watchpoints and resume actions: what the machine checks while it runs.
#[derive(Debug, Default)]
pub(super) struct Points {
    /// Software breakpoints (pc values).
    pub sw: Vec<u32>,
    /// Hardware breakpoints (pc values).
    pub hw: Vec<u32>,
    /// Write watchpoints: virtual address and length.
    pub watch: Vec<(u32, u32)>,
    /// What each hart does on resume (missing: continue).
    pub actions: Vec<Action>,
}

impl Points {
    fn clear(&mut self) {
        *self = Self::default();
    }

    fn action(&self, hart: usize) -> Action {
        self.actions.get(hart).copied().unwrap_or(Action::Continue)
    }

    /// Whether every instruction must be looked at.
    fn need_steps(&self) -> bool {
        !self.sw.is_empty()
            || !self.hw.is_empty()
            || !self.watch.is_empty()
            || self.actions.iter().any(|&a| a != Action::Continue)
    }

    /// The watchpoint a store of `len` bytes at `va` hits, as the address to report.
    fn watch_hit(&self, va: u32, len: u32) -> Option<u32> {
        let (s, e) = (u64::from(va), u64::from(va) + u64::from(len));
        self.watch.iter().find_map(|&(a, n)| {
            let (ws, we) = (u64::from(a), u64::from(a) + u64::from(n.max(1)));
            (s < we && ws < e).then_some(s.max(ws) as u32)
        })
    }
}

/// The run loop's hook (see the module docs of [`crate::gdb`]).
pub(super) struct Hook {
    rx: Receiver<Request>,
    events: Sender<Event>,
    attention: Arc<AtomicBool>,
    points: Points,
    /// A debugger is connected.
    attached: bool,
    /// The machine is held stopped: `poll` blocks.
    halted: bool,
    /// A stop found during a slice, reported (and the machine halted) at the next `poll`.
    pending: Option<MultiThreadStopReason<u32>>,
    /// Cached [`Points::need_steps`].
    active: bool,
}

impl Hook {
    pub(super) fn new(rx: Receiver<Request>, events: Sender<Event>, attention: Arc<AtomicBool>, wait: bool) -> Self {
        Self {
            rx,
            events,
            attention,
            points: Points::default(),
            attached: false,
            halted: wait,
            pending: None,
            active: false,
        }
    }

    fn stop(&mut self, reason: MultiThreadStopReason<u32>) {
        self.halted = true;
        let _ = self.events.send(Event::Stopped(reason));
    }

    fn detach(&mut self) {
        self.points.clear();
        self.attached = false;
        self.halted = false;
        self.pending = None;
    }

    /// The run ended: reports it to an attached debugger. Whether one was attached.
    pub(super) fn report_exit(&mut self, code: u8) -> bool {
        // a request that came in after the last poll may have been a detach or a kill
        while let Ok(r) = self.rx.try_recv() {
            if matches!(r, Request::Detach | Request::Kill) {
                self.attached = false;
            }
        }
        if self.attached {
            self.attached = false;
            return self.events.send(Event::Exited(code)).is_ok();
        }
        false
    }
}

impl DebugHook for Hook {
    fn poll(&mut self, harts: &mut [Hart], sys: &mut System, sh: &mut Shared) -> Option<RunExit> {
        if !self.halted && self.pending.is_none() && !self.attention.load(Ordering::Relaxed) {
            return None;
        }
        self.attention.store(false, Ordering::Relaxed);
        if let Some(reason) = self.pending.take() {
            self.stop(reason);
        }
        loop {
            let req = if self.halted {
                match self.rx.recv_timeout(QUIT_POLL) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        // the user may quit from the console (Ctrl-A x) while the debugger holds
                        // the machine; the debugger then just sees the connection close
                        if sys.console.quit_requested() {
                            self.attached = false;
                            return Some(RunExit::Quit);
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        // the protocol thread is gone
                        self.detach();
                        break;
                    }
                }
            } else {
                match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            match req {
                Request::Attach => {
                    self.points.clear();
                    self.attached = true;
                    self.halted = true;
                }
                Request::Interrupt => {
                    if !self.halted {
                        let i = harts.iter().position(|h| !h.is_stopped()).unwrap_or(0);
                        self.stop(MultiThreadStopReason::SignalWithThread { tid: tid(i), signal: Signal::SIGINT });
                    }
                }
                Request::Call(f) => f(&mut Ctx { harts, sys, sh, points: &mut self.points }),
                Request::Resume(actions) => {
                    self.points.actions = actions;
                    self.halted = false;
                }
                Request::Detach => self.detach(),
                Request::Kill => {
                    self.detach();
                    return Some(RunExit::Quit);
                }
            }
        }
        self.active = self.points.need_steps();
        None
    }

    #[inline]
    fn stepping(&self) -> bool {
        self.active
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
        let action = self.points.action(i);
        if self.halted || self.pending.is_some() || action == Action::Stop {
            return (0, SliceExit::Budget);
        }
        let h = &mut harts[i];
        if action == Action::Step {
            // a single step (GDB steps off a breakpoint itself before it continues)
            let r = h.run_slice(sys, sh, 1, trace);
            self.pending = Some(MultiThreadStopReason::SignalWithThread { tid: tid(i), signal: Signal::SIGTRAP });
            return r;
        }
        let mut used = 0;
        while used < budget {
            // take a pending interrupt first, so that a breakpoint on the handler is seen
            if let Some(exit) = h.check_interrupts(sys, sh) {
                return (used, exit);
            }
            let pc = h.pc();
            if self.points.sw.contains(&pc) {
                self.pending = Some(MultiThreadStopReason::SwBreak(tid(i)));
                break;
            }
            if self.points.hw.contains(&pc) {
                self.pending = Some(MultiThreadStopReason::HwBreak(tid(i)));
                break;
            }
            if !self.points.watch.is_empty() {
                let hit = h.debug_pending_store(&sys.ram).and_then(|(va, len)| self.points.watch_hit(va, len));
                if let Some(addr) = hit {
                    self.pending = Some(MultiThreadStopReason::Watch { tid: tid(i), kind: WatchKind::Write, addr });
                    break;
                }
            }
            let (n, exit) = h.run_slice(sys, sh, 1, trace);
            used += n.max(1);
            if exit != SliceExit::Budget {
                return (used, exit);
            }
        }
        (used, SliceExit::Budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_hits_overlapping_stores_only() {
        let p = Points { watch: vec![(0x1000, 4)], ..Default::default() };
        assert_eq!(p.watch_hit(0x1000, 4), Some(0x1000));
        assert_eq!(p.watch_hit(0x0ffe, 4), Some(0x1000));
        assert_eq!(p.watch_hit(0x1003, 1), Some(0x1003));
        assert_eq!(p.watch_hit(0x1004, 4), None);
        assert_eq!(p.watch_hit(0x0ffc, 4), None);
        assert_eq!(p.watch_hit(0xffff_fffe, 4), None, "no wrap-around");
    }

    #[test]
    fn steps_are_needed_only_for_points_and_non_continue_actions() {
        let mut p = Points::default();
        assert!(!p.need_steps());
        p.actions = vec![Action::Continue, Action::Continue];
        assert!(!p.need_steps());
        p.actions[1] = Action::Stop;
        assert!(p.need_steps());
        p.clear();
        p.sw.push(0x8000_0000);
        assert!(p.need_steps());
        assert_eq!(p.action(3), Action::Continue);
    }
}
