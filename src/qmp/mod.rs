//! QMP machine monitor: `semu run --qmp unix:PATH` or `--qmp tcp:HOST:PORT`.
//!
//! QEMU's machine protocol, so that its clients (`qemu.qmp`, `qmp-shell`) drive semu unchanged:
//! a greeting, `qmp_capabilities`, then commands ([`commands`]) answered with `return` or
//! `error`, and events (`STOP`, `RESUME`, `POWERDOWN`, `SHUTDOWN`, ...) with a timestamp.
//!
//! Threads. The **accept thread** takes one client at a time (the next waits in the listen
//! backlog until the current one is gone, as with QEMU's monitor). A **reader thread** per client
//! splits what it sends into JSON values ([`framing`]). The **server thread** is the only writer:
//! it answers commands, sends events, and reaches the machine through a channel ([`hook`]). The
//! machine thread never waits for any of them: its hook checks one atomic flag per round of
//! slices, and while paused blocks on the channel (no CPU use). A client that stops reading is
//! dropped once a write has blocked for [`WRITE_TIMEOUT`].

mod commands;
mod framing;
mod hook;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use semu_api::Console;
use serde_json::{json, Value};

use crate::run::{DebugHook, RunExit};
use framing::{Frame, Framer};
use hook::{Control, Link};

pub use framing::MAX_MESSAGE;

/// How long a command waits for the machine to act.
const MACHINE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write to a client may block before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the end of a run waits for the last events to go out.
const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the monitor listens (`--qmp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmpAddr {
    /// A Unix socket at this path.
    Unix(PathBuf),
    /// A TCP address, `HOST:PORT` (port 0 picks a free one).
    Tcp(String),
}

impl QmpAddr {
    /// Parses `unix:PATH` or `tcp:HOST:PORT`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path (unix:PATH)".into());
            }
            return Ok(Self::Unix(path.into()));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            return match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(Self::Tcp(addr.into())),
                _ => Err(format!(
                    "tcp: needs HOST:PORT with a port from 0 to 65535 (tcp:127.0.0.1:4444), not \"{addr}\""
                )),
            };
        }
        Err(format!("expected unix:PATH or tcp:HOST:PORT (e.g. tcp:127.0.0.1:4444), not \"{s}\""))
    }
}

/// A client connection.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }

    fn set_write_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(Some(t)),
            Self::Unix(s) => s.set_write_timeout(Some(t)),
        }
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(how),
            Self::Unix(s) => s.shutdown(how),
        };
    }

    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(Some(t)),
            Self::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Unix(s) => s.flush(),
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<Conn> {
        match self {
            Self::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Conn::Tcp(s)
            }),
            Self::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }
}

/// Binds a Unix socket at `path`, replacing a stale socket (one nobody listens on) but nothing
/// else.
fn bind_unix(path: &std::path::Path) -> anyhow::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                bail!("{}: a program is listening on this socket already", path.display());
            }
            std::fs::remove_file(path).with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        Ok(_) => bail!("{} exists and is not a socket: not replacing it", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    }
    UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))
}

/// What the server thread handles, in the order it came.
enum Input {
    /// The accept thread has a client.
    Connected(Conn),
    /// Reader thread `n` (the n-th client) has this.
    Frame(u64, Frame),
    /// Reader thread `n`'s client closed the connection.
    Closed(u64),
    /// The run ended: send these events, then answer.
    Finished(Vec<(&'static str, Value)>, Sender<()>),
}

/// A QMP monitor for one machine: the listening socket, its threads, and the machine-side hook.
pub struct QmpServer {
    hook: hook::Hook,
    tx: Sender<Input>,
    /// The socket file to remove at the end.
    socket: Option<PathBuf>,
    /// Set by the server thread when the client quit (`quit`), read at the end of the run.
    quit_by_client: Arc<AtomicBool>,
}

impl QmpServer {
    /// Listens on `addr` and starts the threads. Prints `semu: QMP on ADDR` (the bound address)
    /// on stderr.
    pub fn start(addr: &QmpAddr, console: Arc<Console>) -> anyhow::Result<Self> {
        let (listener, shown, socket) = match addr {
            QmpAddr::Unix(path) => {
                let l = bind_unix(path)?;
                (Listener::Unix(l), format!("unix:{}", path.display()), Some(path.clone()))
            }
            QmpAddr::Tcp(a) => {
                let l = TcpListener::bind(a.as_str()).with_context(|| format!("cannot listen on {a}"))?;
                let bound = l.local_addr()?;
                (Listener::Tcp(l), format!("tcp:{bound}"), None)
            }
        };
        eprintln!("semu: QMP on {shown}");
        let (hook, link) = hook::Hook::new(console);
        let (tx, rx) = mpsc::channel();
        let (gone_tx, gone_rx) = mpsc::channel();
        let quit_by_client = Arc::new(AtomicBool::new(false));
        let accept_tx = tx.clone();
        std::thread::Builder::new()
            .name("semu-qmp-accept".into())
            .spawn(move || accept(listener, accept_tx, gone_rx))?;
        let server = Server { link, tx: tx.clone(), gone: gone_tx, client: None, clients: 0, finished: false };
        let quit = quit_by_client.clone();
        std::thread::Builder::new().name("semu-qmp".into()).spawn(move || server.serve(rx, &quit))?;
        Ok(Self { hook, tx, socket, quit_by_client })
    }

    /// The hook for the machine loop.
    pub(crate) fn hook(&mut self) -> &mut dyn DebugHook {
        &mut self.hook
    }

    /// The run ended with `exit`: tells a connected client (`SHUTDOWN`, after `GUEST_PANICKED`
    /// for a panic) and waits a little for that to be sent.
    pub fn finish(&mut self, exit: &RunExit) {
        self.hook.drain();
        let quit = self.quit_by_client.load(Ordering::Acquire);
        let (ack, acked) = mpsc::channel();
        if self.tx.send(Input::Finished(end_events(exit, quit), ack)).is_ok() {
            let _ = acked.recv_timeout(FINISH_TIMEOUT);
        }
    }
}

impl Drop for QmpServer {
    fn drop(&mut self) {
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The events that tell a client why the run ended (QEMU's `SHUTDOWN` causes).
fn end_events(exit: &RunExit, quit_by_client: bool) -> Vec<(&'static str, Value)> {
    let (guest, reason) = match exit {
        RunExit::Quit if quit_by_client => (false, "host-qmp-quit"),
        RunExit::Quit => (false, "host-ui"),
        RunExit::Reset => (false, "host-qmp-system-reset"),
        RunExit::PowerOff(_) | RunExit::ToHost(_) => (true, "guest-shutdown"),
        RunExit::Reboot => (true, "guest-reset"),
        RunExit::GuestPanic => (true, "guest-panic"),
        RunExit::InstructionLimit | RunExit::Fatal(_) => (false, "host-error"),
    };
    let mut events = Vec::new();
    if *exit == RunExit::GuestPanic {
        events.push(("GUEST_PANICKED", json!({"action": "poweroff"})));
    }
    events.push(("SHUTDOWN", json!({"guest": guest, "reason": reason})));
    events
}

/// Accepts clients one at a time: the next only once the server says the current one is gone.
fn accept(listener: Listener, tx: Sender<Input>, gone: Receiver<()>) {
    loop {
        match listener.accept() {
            Ok(conn) => {
                if tx.send(Input::Connected(conn)).is_err() || gone.recv().is_err() {
                    return;
                }
            }
            // e.g. out of file descriptors: try again later rather than spin
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Reads client `n`'s connection until it ends, handing frames to the server.
fn read_client(mut conn: Conn, n: u64, tx: Sender<Input>) {
    let mut framer = Framer::default();
    let mut buf = [0u8; 4096];
    let mut frames = Vec::new();
    loop {
        let got = match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        framer.push(&buf[..got], &mut frames);
        for f in frames.drain(..) {
            let too_long = f == Frame::TooLong;
            if tx.send(Input::Frame(n, f)).is_err() {
                return;
            }
            if too_long {
                discard(conn);
                return;
            }
        }
    }
    let _ = tx.send(Input::Closed(n));
}

/// Reads and drops what a client cut off still sends (a bounded amount, for a bounded time):
/// closing a socket with unread input would reset the connection and lose the error reply.
fn discard(mut conn: Conn) {
    const MAX: usize = 1 << 20;
    let _ = conn.set_read_timeout(WRITE_TIMEOUT);
    let mut buf = [0u8; 4096];
    let mut dropped = 0;
    while dropped < MAX {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => dropped += n,
        }
    }
}

/// The connected client.
struct Client {
    conn: Conn,
    /// Its number (frames from readers of earlier clients are ignored).
    n: u64,
    /// Past `qmp_capabilities`: events are sent only then.
    negotiated: bool,
}

/// The server thread's state.
struct Server {
    link: Link,
    /// For the reader threads.
    tx: Sender<Input>,
    /// Tells the accept thread that the client is gone.
    gone: Sender<()>,
    client: Option<Client>,
    clients: u64,
    /// The run has ended.
    finished: bool,
}

impl Server {
    fn serve(mut self, rx: Receiver<Input>, quit: &AtomicBool) {
        while let Ok(input) = rx.recv() {
            match input {
                Input::Connected(conn) => self.open(conn),
                Input::Frame(n, f) if self.current(n) => self.frame(f, quit),
                Input::Closed(n) if self.current(n) => self.close(),
                Input::Frame(..) | Input::Closed(_) => {}
                Input::Finished(events, ack) => {
                    self.finished = true;
                    for (name, data) in events {
                        self.event(name, data);
                    }
                    let _ = ack.send(());
                }
            }
        }
    }

    fn current(&self, n: u64) -> bool {
        self.client.as_ref().is_some_and(|c| c.n == n)
    }

    fn open(&mut self, conn: Conn) {
        self.clients += 1;
        let n = self.clients;
        let reader = conn.set_write_timeout(WRITE_TIMEOUT).and_then(|()| conn.try_clone());
        let tx = self.tx.clone();
        let started = reader.and_then(|r| {
            std::thread::Builder::new().name("semu-qmp-read".into()).spawn(move || read_client(r, n, tx))
        });
        self.client = Some(Client { conn, n, negotiated: false });
        if started.is_err() {
            self.close();
            return;
        }
        self.send(&json!({"QMP": {"version": commands::version(), "capabilities": []}}));
    }

    /// Ends the connection: `how` [`Shutdown::Both`], or [`Shutdown::Write`] when the reader
    /// thread still drains the client's input.
    fn close_with(&mut self, how: Shutdown) {
        if let Some(c) = self.client.take() {
            c.conn.shutdown(how);
            let _ = self.gone.send(());
        }
    }

    fn close(&mut self) {
        self.close_with(Shutdown::Both);
    }

    /// Writes one message; a client that cannot take it is dropped.
    fn send(&mut self, msg: &Value) {
        let Some(c) = &mut self.client else { return };
        let mut line = msg.to_string().into_bytes();
        line.extend_from_slice(b"\r\n");
        if c.conn.write_all(&line).and_then(|()| c.conn.flush()).is_err() {
            self.close();
        }
    }

    fn event(&mut self, name: &str, data: Value) {
        if !self.client.as_ref().is_some_and(|c| c.negotiated) {
            return;
        }
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let ts = json!({"seconds": t.as_secs(), "microseconds": t.subsec_micros()});
        self.send(&json!({"event": name, "data": data, "timestamp": ts}));
    }

    fn frame(&mut self, f: Frame, quit: &AtomicBool) {
        match f {
            Frame::Message(msg) => self.command(&msg, quit),
            Frame::Malformed(e) => self.send(&commands::Error::generic(format!("JSON parse error, {e}")).reply(None)),
            Frame::TooLong => {
                let desc = format!("JSON parse error, message exceeds {MAX_MESSAGE} bytes; closing the connection");
                self.send(&commands::Error::generic(desc).reply(None));
                self.close_with(Shutdown::Write);
            }
        }
    }

    fn command(&mut self, msg: &Value, quit: &AtomicBool) {
        let Some(c) = &mut self.client else { return };
        let mut ctx = commands::Ctx { link: &self.link, finished: self.finished, events: Vec::new(), after: None };
        let reply = commands::dispatch(&mut ctx, &mut c.negotiated, msg);
        let (events, after) = (ctx.events, ctx.after);
        for (name, data) in events {
            self.event(name, data);
        }
        self.send(&reply);
        if let Some(what) = after {
            if what == Control::Quit {
                quit.store(true, Ordering::Release);
            }
            self.link.tell(what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_say_what_is_expected() {
        assert_eq!(QmpAddr::parse("unix:/tmp/q.sock"), Ok(QmpAddr::Unix("/tmp/q.sock".into())));
        assert_eq!(QmpAddr::parse("tcp:127.0.0.1:0"), Ok(QmpAddr::Tcp("127.0.0.1:0".into())));
        assert_eq!(QmpAddr::parse("tcp:[::1]:4444"), Ok(QmpAddr::Tcp("[::1]:4444".into())));
        for bad in ["", "unix:", "tcp:", "tcp:4444", "tcp:host:99999", "tcp::1", "/tmp/q.sock", "127.0.0.1:4444"] {
            let e = QmpAddr::parse(bad).unwrap_err();
            assert!(e.contains("unix:PATH") || e.contains("HOST:PORT"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_end_of_a_run_is_told_with_qemus_shutdown_causes() {
        let reason = |exit: RunExit, quit: bool| {
            let ev = end_events(&exit, quit);
            let (name, data) = ev.last().unwrap().clone();
            assert_eq!(name, "SHUTDOWN");
            (data["guest"].as_bool().unwrap(), data["reason"].as_str().unwrap().to_string(), ev.len())
        };
        assert_eq!(reason(RunExit::PowerOff(0), false), (true, "guest-shutdown".into(), 1));
        assert_eq!(reason(RunExit::Reboot, false), (true, "guest-reset".into(), 1));
        assert_eq!(reason(RunExit::GuestPanic, false), (true, "guest-panic".into(), 2));
        assert_eq!(reason(RunExit::Quit, true), (false, "host-qmp-quit".into(), 1));
        assert_eq!(reason(RunExit::Quit, false), (false, "host-ui".into(), 1));
        assert_eq!(reason(RunExit::Reset, false), (false, "host-qmp-system-reset".into(), 1));
        assert_eq!(reason(RunExit::Fatal("x".into()), false), (false, "host-error".into(), 1));
        assert_eq!(end_events(&RunExit::GuestPanic, false)[0].0, "GUEST_PANICKED");
    }

    #[test]
    fn a_unix_socket_replaces_only_a_stale_socket() {
        let dir = std::env::temp_dir().join(format!("semu-qmp-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("regular");
        std::fs::write(&file, b"keep me").unwrap();
        let e = bind_unix(&file).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
        let sock = dir.join("q.sock");
        let live = bind_unix(&sock).unwrap();
        let e = bind_unix(&sock).unwrap_err().to_string();
        assert!(e.contains("listening"), "{e}");
        drop(live); // the file stays: a stale socket
        assert!(sock.exists());
        let again = bind_unix(&sock);
        assert!(again.is_ok(), "{:?}", again.err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
