//! The `semu` binary on a terminal: stdin, stdout and stderr on the slave side of a pty, the test
//! typing on the master side. While semu runs the terminal is raw; `Ctrl-A x` quits,
//! `Ctrl-A Ctrl-A` reaches the guest as one `Ctrl-A`; on every way out (quit, guest power-off,
//! a fatal signal) the terminal is left exactly as it was found.
//!
//! Panics and faults cannot be provoked in semu from outside, so the tests of those run this test
//! binary again as a child process ([`child`]) that uses `semu::term` the way semu does, puts
//! the pty in raw mode and then panics in a thread, faults, overflows its stack or aborts.
//!
//! Every wait has a deadline, and a [`Session`] kills semu when it is dropped, so a broken semu
//! fails the test with its terminal output instead of hanging the suite.

mod guest;

use std::fs::File;
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use guest::{chunks, images, machine};

const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);

/// Set in the environment of a process that runs [`child`]: what it is to do.
const CHILD: &str = "SEMU_TERM_TEST_CHILD";
/// [`child`]'s exit status when it outlived what should have ended it.
const STILL_RUNNING: i32 = 42;

/// A pty pair. The test keeps the slave open to read its terminal state; a thread copies what
/// arrives on the master into a channel.
struct Pty {
    slave: OwnedFd,
    /// The master, for typing.
    keys: File,
    rx: Receiver<Vec<u8>>,
    /// Everything the terminal showed so far.
    out: String,
    seen: usize,
}

impl Pty {
    fn open() -> Self {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty fills two descriptors on success (asserted).
        let ok =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(ok, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned here.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        // Ends with EIO once the test closes the slave and semu is gone.
        let rx = chunks(File::from(master.try_clone().unwrap()));
        Self { slave, keys: File::from(master), rx, out: String::new(), seen: 0 }
    }

    fn termios(&self) -> libc::termios {
        let mut t = MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills t on success (asserted).
        assert_eq!(unsafe { libc::tcgetattr(self.slave.as_raw_fd(), t.as_mut_ptr()) }, 0);
        // SAFETY: initialised by the successful call.
        unsafe { t.assume_init() }
    }

    fn set_termios(&self, t: &libc::termios) {
        // SAFETY: plain FFI call with a valid termios.
        assert_eq!(unsafe { libc::tcsetattr(self.slave.as_raw_fd(), libc::TCSANOW, t) }, 0);
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.keys.write_all(bytes).unwrap();
    }

    /// Takes in what arrived within `wait`; false if nothing did.
    fn pump(&mut self, wait: Duration) -> bool {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                self.out.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            Err(_) => false,
        }
    }
}

/// The terminal state that raw mode changes and restoring must bring back.
#[derive(Debug, PartialEq, Eq)]
struct State {
    iflag: libc::tcflag_t,
    oflag: libc::tcflag_t,
    cflag: libc::tcflag_t,
    lflag: libc::tcflag_t,
    cc: Vec<libc::cc_t>,
}

fn state(t: &libc::termios) -> State {
    State { iflag: t.c_iflag, oflag: t.c_oflag, cflag: t.c_cflag, lflag: t.c_lflag, cc: t.c_cc.to_vec() }
}

/// `semu run` of the initramfs machine on a fresh pty, and the pty's state before it started.
struct Session {
    pty: Pty,
    child: Child,
    before: State,
}

impl Session {
    /// Starts `cmd` with stdin, stdout and stderr on a fresh pty (and no core dump).
    fn spawn(mut cmd: Command) -> Self {
        let pty = Pty::open();
        // Not quite a fresh pty's settings, so that restoring them is not the same as restoring
        // the defaults: raw mode clears ISTRIP and sets VMIN 1, VTIME 0. (A pty keeps its
        // c_cflag at CS8 without parity whatever it is told.)
        let mut t = pty.termios();
        t.c_iflag |= libc::ISTRIP;
        t.c_cc[libc::VMIN] = 2;
        t.c_cc[libc::VTIME] = 3;
        pty.set_termios(&t);
        let before = state(&pty.termios());
        assert_eq!(before, state(&t), "the pty took the test's settings");

        cmd.stdin(pty.stdio()).stdout(pty.stdio()).stderr(pty.stdio());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn the child");
        Self { pty, child, before }
    }

    /// `semu run` of the initramfs machine.
    fn start() -> Self {
        let img = images();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_semu"));
        cmd.arg("run").arg(machine("initramfs.toml"));
        cmd.arg("--kernel").arg(img.join("Image")).arg("--initrd").arg(img.join("initramfs.cpio"));
        Self::spawn(cmd)
    }

    /// This test binary's [`child`] test in a new process, doing `mode`.
    fn child(mode: &str) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "child", "--ignored", "--nocapture", "--test-threads=1"]).env(CHILD, mode);
        Self::spawn(cmd)
    }

    /// Waits until the output after the last match contains `pat`; returns the text up to and
    /// including it.
    fn wait_for(&mut self, pat: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            let p = &mut self.pty;
            if let Some(i) = p.out[p.seen..].find(pat) {
                let end = p.seen + i + pat.len();
                let text = p.out[p.seen..end].to_string();
                p.seen = end;
                return text;
            }
            assert!(Instant::now() < until, "timed out after {timeout:?} waiting for {pat:?}; terminal:\n{}", p.out);
            p.pump(Duration::from_millis(100));
        }
    }

    /// Boots to the shell prompt, and checks that the terminal is raw meanwhile.
    fn boot(&mut self) {
        self.wait_for("semu: Ctrl-A x: quit", BOOT);
        self.wait_for("semu-init: ready", BOOT);
        self.wait_for("# ", BOOT);
        let raw = self.pty.termios();
        let cooked = libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN;
        assert_eq!(raw.c_lflag & cooked, 0, "raw while semu runs: {:#o}", raw.c_lflag);
        assert_eq!(raw.c_iflag & (libc::ICRNL | libc::IXON | libc::ISTRIP), 0, "{:#o}", raw.c_iflag);
        assert_ne!(raw.c_oflag & libc::OPOST, 0, "output post-processing kept");
        assert_eq!((raw.c_cc[libc::VMIN], raw.c_cc[libc::VTIME]), (1, 0));
    }

    /// Waits for semu to exit.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let until = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                while self.pty.pump(Duration::from_millis(50)) {}
                return st;
            }
            assert!(Instant::now() < until, "semu did not exit within {timeout:?}; terminal:\n{}", self.pty.out);
            self.pty.pump(Duration::from_millis(20));
        }
    }

    /// The terminal is back in the state it was in before semu started.
    fn assert_restored(&self) {
        assert_eq!(state(&self.pty.termios()), self.before, "terminal restored; terminal:\n{}", self.pty.out);
    }

    fn kill_with(&mut self, sig: libc::c_int) {
        // SAFETY: signalling the child this session started and has not reaped yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, sig) }, 0);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn terminal_is_raw_while_running_and_restored_after_ctrl_a_x() {
    let mut s = Session::start();
    s.boot();
    s.pty.type_bytes(b"\x01x");
    let st = s.wait_exit(CMD);
    assert_eq!(st.code(), Some(0), "Ctrl-A x quits with status 0: {st:?}; terminal:\n{}", s.pty.out);
    s.assert_restored();
}

#[test]
fn ctrl_a_twice_reaches_the_guest_as_one_ctrl_a() {
    let mut s = Session::start();
    s.boot();
    // The quotes keep the shell's echo of the command line from matching. The marker is printed
    // once the shell has left its line editor, so the keys below go to `head`, not to the editor
    // (where Ctrl-A moves to the start of the line).
    s.pty.type_bytes(b"echo RE''ADY; echo GOT$(head -n 1 | od -An -tx1 | tr -d ' \\n')END\r");
    s.wait_for("READY", CMD);
    s.pty.type_bytes(b"\x01\x01\r");
    let text = s.wait_for("END", CMD);
    assert!(text.ends_with("GOT010aEND"), "the guest read one 0x01 and the newline: {text:?}");
    s.wait_for("# ", CMD);
    s.pty.type_bytes(b"poweroff -f\r");
    let st = s.wait_exit(CMD);
    assert_eq!(st.code(), Some(0), "guest power-off: {st:?}; terminal:\n{}", s.pty.out);
    s.assert_restored();
}

/// Sends `sig` to semu while the guest runs: semu dies by that signal (its handler restores the
/// terminal and re-raises it) and the terminal is restored.
fn dies_by_signal_and_restores(sig: libc::c_int) {
    let mut s = Session::start();
    s.boot();
    s.kill_with(sig);
    let st = s.wait_exit(CMD);
    assert_eq!(st.signal(), Some(sig), "semu dies by the signal: {st:?}; terminal:\n{}", s.pty.out);
    s.assert_restored();
}

#[test]
fn sigterm_ends_semu_and_restores_the_terminal() {
    dies_by_signal_and_restores(libc::SIGTERM);
}

#[test]
fn sighup_ends_semu_and_restores_the_terminal() {
    dies_by_signal_and_restores(libc::SIGHUP);
}

// ---- panics and faults, in a child process of this test binary --------------------------------

/// Not a test by itself: the body of the child processes that the tests below start from this
/// test binary, with [`CHILD`] set to what to do. Without it, does nothing.
///
/// Like `semu`: panics end the process, and the terminal (stdin, the pty) is raw; then the
/// child dies in the way `mode` says. Ignored in a plain run (it is not a test of its own); the
/// tests below run it with `--ignored`.
#[test]
#[ignore = "the body of child processes that the tests below start"]
fn child() {
    let Ok(mode) = std::env::var(CHILD) else { return };
    semu::term::enter_raw(libc::STDIN_FILENO).expect("raw mode on the pty");
    semu::term::exit_on_panic();
    eprintln!("child: raw");
    match mode.as_str() {
        "panic" => {
            let t = std::thread::Builder::new().name("semu-device".into());
            let _ = t.spawn(|| panic!("a device model bug")).unwrap().join();
        }
        "fault" => {
            // SAFETY: maps one page that cannot be read, then reads it: a real SIGSEGV.
            unsafe {
                let none = libc::PROT_NONE;
                let p = libc::mmap(std::ptr::null_mut(), 4096, none, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
                assert_ne!(p, libc::MAP_FAILED);
                std::ptr::read_volatile(p as *const u8);
            }
        }
        "overflow" => {
            let t = std::thread::Builder::new().name("semu-deep".into()).stack_size(256 << 10);
            let _ = t.spawn(|| deep(u64::MAX)).unwrap().join();
        }
        "abort" => std::process::abort(),
        "kill-segv" => {
            // SAFETY: signalling this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGSEGV) };
            // A signal to the process may be taken by another thread: give it time.
            std::thread::sleep(Duration::from_secs(2));
        }
        _ => unreachable!("{mode}"),
    }
    std::process::exit(STILL_RUNNING);
}

/// Recursion that runs out of stack: every frame's array stays in use across the call, so it
/// cannot become a loop.
fn deep(n: u64) -> u64 {
    let frame = [n; 32];
    std::hint::black_box(&frame);
    let below = if n == 0 { 0 } else { deep(n - 1) };
    std::hint::black_box(&frame);
    below.wrapping_add(1)
}

/// Runs [`child`] doing `mode`; returns how it ended and what it printed, once the terminal is
/// checked to be as it was.
fn child_ends(mode: &str) -> (ExitStatus, String) {
    let mut s = Session::child(mode);
    let st = s.wait_exit(CMD);
    assert!(s.pty.out.contains("child: raw"), "{st:?}; terminal:\n{}", s.pty.out);
    s.assert_restored();
    (st, std::mem::take(&mut s.pty.out))
}

#[test]
fn a_panic_in_any_thread_ends_the_process_with_the_terminal_restored() {
    let (st, out) = child_ends("panic");
    // libtest also exits with 101 when a test fails: the lines say whose 101 it is.
    assert_eq!(st.code(), Some(101), "{st:?}; terminal:\n{out}");
    assert!(out.contains("thread 'semu-device'") && out.contains("a device model bug"), "message printed: {out}");
    assert!(out.contains("semu: internal error: thread 'semu-device' panicked"), "{out}");
}

#[test]
fn a_segfault_restores_the_terminal_and_still_kills_by_sigsegv() {
    let (st, out) = child_ends("fault");
    assert_eq!(st.signal(), Some(libc::SIGSEGV), "{st:?}; terminal:\n{out}");
}

#[test]
fn a_stack_overflow_is_reported_and_restores_the_terminal() {
    let (st, out) = child_ends("overflow");
    assert!(
        out.contains("thread 'semu-deep'") && out.contains("has overflowed its stack"),
        "Rust's report kept: {out}"
    );
    assert_eq!(st.signal(), Some(libc::SIGABRT), "{st:?}; terminal:\n{out}");
}

#[test]
fn abort_restores_the_terminal() {
    let (st, out) = child_ends("abort");
    assert_eq!(st.signal(), Some(libc::SIGABRT), "{st:?}; terminal:\n{out}");
}

#[test]
fn a_sigsegv_sent_by_kill_restores_the_terminal_and_kills() {
    // Not a fault: nothing runs the faulting instruction again, so the handler must re-raise.
    let (st, out) = child_ends("kill-segv");
    assert_eq!(st.signal(), Some(libc::SIGSEGV), "{st:?}; terminal:\n{out}");
}
