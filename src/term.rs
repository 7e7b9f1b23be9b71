//! The host terminal: stdin feeds the guest console, raw mode while stdin is a terminal.
//!
//! [`attach_stdio`] starts a reader thread that pushes stdin into the [`Console`]:
//!
//! - **stdin is a terminal**: it is put in raw mode (no echo, no line editing, no signals from
//!   `Ctrl-C`/`Ctrl-Z`: those bytes go to the guest; output post-processing stays on so a bare
//!   `\n` from the guest still starts a new line). The escape key is `Ctrl-A`: `Ctrl-A x` quits
//!   ([`Console::request_quit`]), `Ctrl-A Ctrl-A` sends one `Ctrl-A`, `Ctrl-A` followed by
//!   anything else sends both bytes. The saved terminal state is restored on every way out:
//!   - when the [`TermGuard`] drops, and at `exit()` (an `atexit` handler, as
//!     `std::process::exit` runs no destructors);
//!   - when any thread panics (a panic hook that restores, then chains to the previous hook). The
//!     `semu` binary also installs [`exit_on_panic`]: a panic in any thread, the compiler thread
//!     or a device's, prints its message and ends the process with status [`PANIC_EXIT`] instead
//!     of leaving a half-working emulator behind;
//!   - on the signals whose default action ends the process ([`SIGNALS`]: SIGINT, SIGTERM,
//!     SIGHUP, SIGQUIT, SIGABRT, ...): a handler restores the terminal and re-raises the signal
//!     with its default action, so the process still dies by it;
//!   - on a fault ([`FAULTS`]: SIGSEGV, SIGBUS, SIGILL, SIGFPE): the handler restores the
//!     terminal, puts the previous action back (Rust's stack overflow report, or the default)
//!     and returns; the faulting instruction runs again and the previous action handles it as if
//!     the handler had never been there. The handlers run on the alternate signal stack Rust sets
//!     up for its threads, so a stack overflow is handled too.
//!
//!   The handlers only do atomic operations, `tcsetattr`, `sigaction` and `raise`, all
//!   async-signal-safe. Signals the process ignores (e.g. SIGHUP under `nohup`) and handlers
//!   installed by someone else stay as they are. Nothing can restore the terminal after SIGKILL
//!   (`stty sane` or `reset` then does).
//! - **stdin is a pipe, a file or `/dev/null`**: bytes pass through unchanged (`0x01` too) and no
//!   terminal state is touched. At end of file the reader calls [`Console::set_eof`] and ends; the
//!   guest keeps running.
//!
//! The reader pauses while more than [`MAX_QUEUED`] bytes wait for the guest, so a large pipe is
//! not read into memory all at once, and no byte is dropped.

use std::cell::UnsafeCell;
use std::io::{IsTerminal, Read};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use semu_api::Console;

/// The escape key, `Ctrl-A`.
pub const ESCAPE: u8 = 0x01;

/// A line for the user about the escape key.
pub const ESCAPE_HELP: &str = "Ctrl-A x: quit; Ctrl-A Ctrl-A: send Ctrl-A to the guest";

/// Input bytes the reader lets wait in the console before it pauses.
pub const MAX_QUEUED: usize = 64 * 1024;

/// A console whose output goes to the process's stdout.
pub fn stdout_console() -> Arc<Console> {
    Console::new(Box::new(std::io::stdout()))
}

/// What the escape state machine makes of input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Escape {
    /// A `Ctrl-A` was seen and waits for the next byte.
    armed: bool,
}

impl Escape {
    /// Feeds `input`, appends the bytes for the guest to `out`, and returns true when the user
    /// asked to quit (`Ctrl-A x`; the bytes after it are not looked at). An escape at the end of
    /// `input` waits for the next call.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.armed {
                self.armed = false;
                match b {
                    b'x' | b'X' => return true,
                    ESCAPE => out.push(ESCAPE),
                    other => out.extend_from_slice(&[ESCAPE, other]),
                }
            } else if b == ESCAPE {
                self.armed = true;
            } else {
                out.push(b);
            }
        }
        false
    }
}

/// Copies `input` into `console` until end of file (then marks the console input as ended) or,
/// with `escapes`, until the user quits. Read errors other than interruptions count as end of file.
pub fn pump(mut input: impl Read, console: &Console, escapes: bool) {
    let mut buf = [0u8; 4096];
    let mut esc = Escape::default();
    let mut out = Vec::with_capacity(buf.len() + 1);
    loop {
        while console.input_len() > MAX_QUEUED && !console.quit_requested() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if !escapes {
            console.push_input(&buf[..n]);
            continue;
        }
        out.clear();
        let quit = esc.feed(&buf[..n], &mut out);
        if !out.is_empty() {
            console.push_input(&out);
        }
        if quit {
            console.request_quit();
            return;
        }
    }
    console.set_eof();
    console.wake();
}

/// Starts a thread that [`pump`]s `input` into `console`.
pub fn spawn_reader<R: Read + Send + 'static>(input: R, console: Arc<Console>, escapes: bool) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("console-input".into())
        .spawn(move || pump(input, &console, escapes))
        .expect("spawning the console input thread")
}

/// Keeps the terminal in raw mode while it lives (if it was put in raw mode).
///
/// The reader thread is not joined: it may be blocked in a read of stdin, and ends with the
/// process (or at end of file, or after `Ctrl-A x`).
#[must_use = "dropping the guard restores the terminal at once"]
pub struct TermGuard {
    raw: bool,
    reader: JoinHandle<()>,
}

impl TermGuard {
    /// Whether stdin is a terminal that this guard put in raw mode.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Whether the reader thread has ended (end of file or quit).
    pub fn reader_finished(&self) -> bool {
        self.reader.is_finished()
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        if self.raw {
            restore();
        }
    }
}

/// Connects stdin to `console`: raw mode and escape processing if stdin is a terminal, plain
/// bytes otherwise (see the module documentation).
pub fn attach_stdio(console: &Arc<Console>) -> TermGuard {
    let tty = std::io::stdin().is_terminal();
    let raw = tty && enter_raw(libc::STDIN_FILENO).is_ok();
    let reader = spawn_reader(std::io::stdin(), console.clone(), tty);
    TermGuard { raw, reader }
}

// ---- raw mode and its restoration --------------------------------------------------------------

/// The terminal state saved by [`enter_raw`]. Written only while [`RAW_FD`] is -1 (under
/// [`ENTER`]), read only by whoever swaps `RAW_FD` back to -1.
struct Saved(UnsafeCell<MaybeUninit<libc::termios>>);

// SAFETY: access is serialised by `RAW_FD` as described on the type.
unsafe impl Sync for Saved {}

static SAVED: Saved = Saved(UnsafeCell::new(MaybeUninit::uninit()));
/// The descriptor in raw mode, or -1.
static RAW_FD: AtomicI32 = AtomicI32::new(-1);
/// Serialises [`enter_raw`] calls.
static ENTER: Mutex<()> = Mutex::new(());
static HOOKS: Once = Once::new();

/// Puts terminal `fd` in raw mode, saving its state for [`restore`]. Does nothing if a terminal is
/// already in raw mode.
pub fn enter_raw(fd: libc::c_int) -> std::io::Result<()> {
    let _lock = ENTER.lock().unwrap_or_else(|e| e.into_inner());
    if RAW_FD.load(Ordering::SeqCst) != -1 {
        return Ok(());
    }
    let mut t = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the termios on success.
    if unsafe { libc::tcgetattr(fd, t.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: initialised by the successful tcgetattr.
    let saved = unsafe { t.assume_init() };
    // SAFETY: RAW_FD is -1, so no restorer reads SAVED now (see `Saved`).
    unsafe { (*SAVED.0.get()).write(saved) };
    install_hooks();

    let mut raw = saved;
    raw.c_iflag &= !(libc::IGNBRK | libc::BRKINT | libc::PARMRK | libc::ISTRIP | libc::INLCR | libc::IGNCR);
    raw.c_iflag &= !(libc::ICRNL | libc::IXON);
    raw.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
    raw.c_cflag &= !(libc::CSIZE | libc::PARENB);
    raw.c_cflag |= libc::CS8;
    raw.c_cc[libc::VMIN] = 1;
    raw.c_cc[libc::VTIME] = 0;
    // Publish before switching, so a signal arriving right after tcsetattr restores.
    RAW_FD.store(fd, Ordering::SeqCst);
    // SAFETY: plain FFI call with a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw) } != 0 {
        let err = std::io::Error::last_os_error();
        RAW_FD.store(-1, Ordering::SeqCst);
        return Err(err);
    }
    Ok(())
}

/// Restores the terminal state saved by [`enter_raw`], once. Async-signal-safe.
pub fn restore() {
    let fd = RAW_FD.swap(-1, Ordering::SeqCst);
    if fd != -1 {
        // SAFETY: SAVED was written before RAW_FD was set, and this caller won the swap.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, (*SAVED.0.get()).as_ptr()) };
    }
}

/// Exit status after a panic in any thread, with [`exit_on_panic`] (Rust's own for a panic in
/// the main thread).
pub const PANIC_EXIT: i32 = 101;

/// Signals whose default action ends the process: their handler restores the terminal and
/// re-raises them with the default action.
pub const SIGNALS: [libc::c_int; 12] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGABRT,
    libc::SIGALRM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
];

/// Signals a fault raises (a bad memory access, an illegal instruction such as a compiled
/// trap, an arithmetic fault): their handler restores the terminal and hands the fault back to
/// the action that was there before (see the module documentation).
pub const FAULTS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The actions [`FAULTS`] had before [`install_hooks`], in the same order. Set once before the
/// handler is installed, only read afterwards (an atomic load, fine in a signal handler).
static PREV_FAULT_ACTIONS: [OnceLock<libc::sigaction>; FAULTS.len()] = [const { OnceLock::new() }; FAULTS.len()];

/// Set by the first panic that [`exit_on_panic`] turns into the end of the process.
static PANICKED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    restore();
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo (checked for null anyway).
    let from_cpu = !info.is_null() && unsafe { (*info).si_code } > 0;
    let prev = FAULTS.iter().position(|&f| f == sig).and_then(|i| PREV_FAULT_ACTIONS[i].get());
    if let (true, Some(prev)) = (from_cpu, prev) {
        // A fault raised by the CPU (not by kill or raise, whose si_code is <= 0) happens again
        // when this returns, and then goes to the action that was there before.
        // SAFETY: sigaction is async-signal-safe; prev is a complete action saved by
        // install_hooks.
        unsafe { libc::sigaction(sig, prev, std::ptr::null_mut()) };
        return;
    }
    // SAFETY: signal and raise are async-signal-safe. The signal is blocked while its handler
    // runs, so the re-raised one takes its default action (termination) when this returns.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

extern "C" fn at_exit() {
    restore();
}

/// Makes a panic in any thread end the process: the terminal is restored, the previous panic
/// hook prints the message (and a backtrace if asked for), a line names the thread, and the
/// process exits with [`PANIC_EXIT`]. Without it a panic ends only its own thread: the
/// compiler thread or a device's would leave the machine running without it. Meant for the
/// `semu` binary, which catches no panics and calls this once, first thing.
pub fn exit_on_panic() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
        if PANICKED.swap(true, Ordering::SeqCst) {
            // Another thread's panic is already ending the process (two threads must not run
            // the exit handlers at once).
            loop {
                std::thread::park();
            }
        }
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        eprintln!("semu: internal error: thread '{name}' panicked, stopping (a bug in semu)");
        std::process::exit(PANIC_EXIT);
    }));
}

/// Installs the panic hook, the `atexit` handler and the signal handlers, once. Signals the
/// process ignores, and signals of [`SIGNALS`] that someone else handles, are left alone.
fn install_hooks() {
    HOOKS.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            prev(info);
        }));
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_signal;
        // SAFETY: registering plain `extern "C"` functions; the sigaction structs are zeroed and
        // then filled, or filled by sigaction itself. Each fault's previous action is saved
        // before the handler that reads it is installed.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as libc::sighandler_t;
            // SA_ONSTACK: on the alternate stack where the thread has one (Rust's threads do),
            // so that a stack overflow reaches the handler.
            act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut act.sa_mask);
            libc::atexit(at_exit);
            for sig in SIGNALS {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_DFL {
                    libc::sigaction(sig, &act, std::ptr::null_mut());
                }
            }
            for (i, sig) in FAULTS.into_iter().enumerate() {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction != libc::SIG_IGN
                    && PREV_FAULT_ACTIONS[i].set(old).is_ok()
                {
                    libc::sigaction(sig, &act, std::ptr::null_mut());
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    use super::*;

    fn feed(e: &mut Escape, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let quit = e.feed(input, &mut out);
        (out, quit)
    }

    #[test]
    fn escape_state_machine() {
        let mut e = Escape::default();
        assert_eq!(feed(&mut e, b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(feed(&mut e, b"\x01\x01"), (vec![0x01], false), "Ctrl-A twice: one literal Ctrl-A");
        assert_eq!(feed(&mut e, b"\x01c"), (vec![0x01, b'c'], false), "Ctrl-A + other: both bytes");
        assert_eq!(feed(&mut e, b"\x01\x03"), (vec![0x01, 0x03], false));
        assert_eq!(feed(&mut e, b"a\x01"), (b"a".to_vec(), false), "escape waits for the next read");
        assert_eq!(feed(&mut e, b"\x01"), (vec![0x01], false), "…which completes it");
        assert_eq!(feed(&mut e, b"x"), (b"x".to_vec(), false), "x alone is just x");
        assert_eq!(feed(&mut e, b"ab\x01xcd"), (b"ab".to_vec(), true), "Ctrl-A x quits, the rest is dropped");
        let mut e = Escape::default();
        assert_eq!(feed(&mut e, b"\x01"), (vec![], false));
        assert_eq!(feed(&mut e, b"X"), (vec![], true));
    }

    #[test]
    fn pipe_input_passes_through_and_ends_cleanly() {
        let console = Console::sink();
        let (mut w, r) = UnixStream::pair().unwrap();
        let reader = spawn_reader(r, console.clone(), false);
        w.write_all(b"echo \x01x\x01\x01 ok\n").unwrap();
        drop(w); // end of file
        reader.join().unwrap();
        assert!(console.is_eof() && !console.quit_requested());
        let got: Vec<u8> = std::iter::from_fn(|| console.read_byte()).collect();
        assert_eq!(got, b"echo \x01x\x01\x01 ok\n", "a pipe is not escape-processed");
    }

    #[test]
    fn empty_input_is_eof_at_once() {
        let console = Console::sink();
        pump(std::io::empty(), &console, false);
        assert!(console.is_eof() && !console.has_input());
    }

    #[test]
    fn terminal_input_quits_on_escape() {
        let console = Console::sink();
        pump(&b"hi\x01\x01\x01x never seen"[..], &console, true);
        assert!(console.quit_requested());
        assert!(!console.is_eof(), "quit, not end of file");
        let got: Vec<u8> = std::iter::from_fn(|| console.read_byte()).collect();
        assert_eq!(got, b"hi\x01");
    }

    #[test]
    fn large_input_waits_for_the_guest_and_loses_nothing() {
        let console = Console::sink();
        let data: Vec<u8> = (0..3 * MAX_QUEUED).map(|i| (i % 251) as u8).collect();
        let reader = spawn_reader(std::io::Cursor::new(data.clone()), console.clone(), false);
        let mut got = Vec::with_capacity(data.len());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while got.len() < data.len() && std::time::Instant::now() < deadline {
            assert!(console.input_len() <= MAX_QUEUED + 4096, "the reader pauses");
            match console.read_byte() {
                Some(b) => got.push(b),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        reader.join().unwrap();
        assert!(got == data && console.is_eof());
    }

    #[test]
    fn raw_mode_on_a_pty_is_restored() {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty fills two descriptors on success.
        let ok =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(ok, 0, "openpty: {} (the test needs a pty: /dev/ptmx and devpts)", std::io::Error::last_os_error());
        let get = |fd| {
            let mut t = MaybeUninit::<libc::termios>::uninit();
            // SAFETY: fills t on success, asserted.
            assert_eq!(unsafe { libc::tcgetattr(fd, t.as_mut_ptr()) }, 0);
            // SAFETY: initialised above.
            unsafe { t.assume_init() }
        };
        let before = get(slave);
        assert_ne!(before.c_lflag & libc::ICANON, 0, "a new pty is cooked");
        enter_raw(slave).unwrap();
        let raw = get(slave);
        assert_eq!(raw.c_lflag & (libc::ICANON | libc::ECHO | libc::ISIG), 0);
        assert_ne!(raw.c_oflag & libc::OPOST, 0, "output processing kept");
        restore();
        restore(); // idempotent
        let after = get(slave);
        assert_eq!((after.c_lflag, after.c_iflag, after.c_cflag), (before.c_lflag, before.c_iflag, before.c_cflag));
        // SAFETY: closing descriptors this test opened.
        unsafe {
            libc::close(slave);
            libc::close(master);
        }
    }
}
