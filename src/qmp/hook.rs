//! The machine side of the monitor: the run loop's hook, and the link the protocol thread
//! reaches it through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use semu_api::Console;

use crate::bus::System;
use crate::cpu::{Hart, Shared};
use crate::run::{DebugHook, RunExit};

/// How often a paused machine checks whether the user quit from the console.
const QUIT_POLL: Duration = Duration::from_millis(100);

/// What the monitor asks of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    /// Nothing: just report whether it is paused.
    Query,
    /// Hold every hart (QMP `stop`).
    Pause,
    /// Run again (QMP `cont`).
    Resume,
    /// End the run (QMP `quit`).
    Quit,
    /// End the run as a reset does (QMP `system_reset`).
    Reset,
}

/// One request; the machine answers on `reply` whether it was paused before it acted.
pub(super) struct Request {
    what: Control,
    reply: Option<mpsc::SyncSender<bool>>,
}

/// The protocol thread's end: every request raises the attention flag and wakes a sleeping
/// machine loop, so it is seen within one round of slices.
#[derive(Clone)]
pub(super) struct Link {
    tx: Sender<Request>,
    attention: Arc<AtomicBool>,
    console: Arc<Console>,
}

impl Link {
    fn send(&self, r: Request) -> bool {
        let ok = self.tx.send(r).is_ok();
        self.attention.store(true, Ordering::Release);
        self.console.wake();
        ok
    }

    /// Asks the machine to do `what` and waits (at most `timeout`) until it did: whether it was
    /// paused before.
    pub(super) fn ask(&self, what: Control, timeout: Duration) -> Result<bool, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        if !self.send(Request { what, reply: Some(tx) }) {
            return Err("the machine has stopped running".into());
        }
        rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => format!("the machine did not answer within {timeout:?}"),
            RecvTimeoutError::Disconnected => "the machine has stopped running".into(),
        })
    }

    /// Tells the machine to do `what`, without waiting.
    pub(super) fn tell(&self, what: Control) {
        self.send(Request { what, reply: None });
    }
}

/// The run loop's hook: one atomic load per round while the machine runs; while it is paused,
/// `poll` blocks on the request channel, so a paused machine uses no CPU.
pub(crate) struct Hook {
    rx: Receiver<Request>,
    attention: Arc<AtomicBool>,
    /// Since when the machine is paused, if it is.
    paused: Option<Instant>,
}

impl Hook {
    /// A hook and the link to it.
    pub(super) fn new(console: Arc<Console>) -> (Self, Link) {
        let (tx, rx) = mpsc::channel();
        let attention = Arc::new(AtomicBool::new(false));
        (Self { rx, attention: attention.clone(), paused: None }, Link { tx, attention, console })
    }

    /// The run ended: drops the requests that came in since the last poll, so that a command
    /// waiting for the machine fails at once instead of waiting for its timeout.
    pub(super) fn drain(&mut self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// Acts on one request; `Some(exit)` ends the run.
    fn handle(&mut self, r: Request, sys: &mut System) -> Option<RunExit> {
        let was_paused = self.paused.is_some();
        let exit = match r.what {
            Control::Query => None,
            Control::Pause => {
                self.paused.get_or_insert_with(Instant::now);
                None
            }
            Control::Resume => {
                if let Some(since) = self.paused.take() {
                    sys.clock.exclude(since.elapsed());
                }
                None
            }
            Control::Quit => Some(RunExit::Quit),
            Control::Reset => Some(RunExit::Reset),
        };
        if let Some(reply) = r.reply {
            let _ = reply.send(was_paused);
        }
        exit
    }
}

impl DebugHook for Hook {
    fn poll(&mut self, _harts: &mut [Hart], sys: &mut System, _sh: &mut Shared) -> Option<RunExit> {
        if self.paused.is_none() && !self.attention.swap(false, Ordering::Acquire) {
            return None;
        }
        loop {
            let r = if self.paused.is_some() {
                match self.rx.recv_timeout(QUIT_POLL) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) if sys.console.quit_requested() => return Some(RunExit::Quit),
                    Err(RecvTimeoutError::Timeout) => continue,
                    // the protocol thread is gone: nobody can resume the machine but this
                    Err(RecvTimeoutError::Disconnected) => {
                        self.paused = None;
                        return None;
                    }
                }
            } else {
                match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => return None,
                }
            };
            if let Some(exit) = self.handle(r, sys) {
                return Some(exit);
            }
        }
    }
}
