//! The host console shared by the console UART and the SBI console calls.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Where console input comes from.
pub enum ConsoleInput {
    /// Nothing: reads see no input.
    None,
    /// Bytes are pushed with [`Console::push_input`] (tests, the terminal reader thread).
    Pushed,
}

/// The console: a byte queue of input, an output sink, and the machine's wake-up signal.
///
/// Host threads (the terminal reader, network backends) push events and call
/// [`wake`](Self::wake); the machine loop sleeps in [`wait`](Self::wait) while every hart is in
/// `wfi`.
pub struct Console {
    input: Mutex<VecDeque<u8>>,
    output: Mutex<Box<dyn Write + Send>>,
    eof: AtomicBool,
    quit: AtomicBool,
    wake: (Mutex<bool>, Condvar),
}

impl Console {
    /// A console that writes to `output`.
    pub fn new(output: Box<dyn Write + Send>) -> Arc<Self> {
        Arc::new(Self {
            input: Mutex::new(VecDeque::new()),
            output: Mutex::new(output),
            eof: AtomicBool::new(false),
            quit: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
        })
    }

    /// A console that discards output.
    pub fn sink() -> Arc<Self> {
        Self::new(Box::new(std::io::sink()))
    }

    /// Writes guest output (never blocks the guest on a full pipe for long: errors are dropped).
    pub fn write(&self, bytes: &[u8]) {
        if let Ok(mut out) = self.output.lock() {
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }

    /// Takes one byte of input, if any.
    pub fn read_byte(&self) -> Option<u8> {
        self.input.lock().ok()?.pop_front()
    }

    /// Whether input is waiting.
    pub fn has_input(&self) -> bool {
        self.input.lock().is_ok_and(|q| !q.is_empty())
    }

    /// Number of input bytes waiting (the terminal reader pauses while the guest lags far behind).
    pub fn input_len(&self) -> usize {
        self.input.lock().map_or(0, |q| q.len())
    }

    /// Queues input bytes for the guest and wakes the machine.
    pub fn push_input(&self, bytes: &[u8]) {
        if let Ok(mut q) = self.input.lock() {
            q.extend(bytes);
        }
        self.wake();
    }

    /// Marks the input as ended (stdin at end-of-file). The guest keeps running.
    pub fn set_eof(&self) {
        self.eof.store(true, Ordering::Relaxed);
    }

    /// Whether the input has ended.
    pub fn is_eof(&self) -> bool {
        self.eof.load(Ordering::Relaxed)
    }

    /// Asks the machine to quit (the console escape).
    pub fn request_quit(&self) {
        self.quit.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Whether the user asked to quit.
    pub fn quit_requested(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }

    /// Wakes the machine loop if it sleeps in [`wait`](Self::wait).
    pub fn wake(&self) {
        let (m, cv) = &self.wake;
        if let Ok(mut w) = m.lock() {
            *w = true;
            cv.notify_all();
        }
    }

    /// Sleeps until [`wake`](Self::wake) is called or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        let (m, cv) = &self.wake;
        let Ok(mut w) = m.lock() else { return };
        if !*w {
            w = match cv.wait_timeout(w, timeout) {
                Ok((w, _)) => w,
                Err(_) => return,
            };
        }
        *w = false;
    }
}
