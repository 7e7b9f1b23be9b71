//! The user-mode backend: libslirp on a host thread with its own `poll` loop.
//!
//! The network is QEMU's default: the guest is 10.0.2.15 (handed out by DHCP), the gateway and
//! host 10.0.2.2 (connections to it reach the host's 127.0.0.1), DNS 10.0.2.3. IPv4 only.
//!
//! All libslirp calls happen on the backend thread. Frames from the guest reach it through a
//! bounded channel plus a byte on a wake-up pipe; frames for the guest leave through the device's
//! receive channel, followed by [`Console::wake`] so a sleeping machine notices them.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use libslirp_sys as sys;
use semu_api::Console;

use crate::hostfwd::{HostFwd, Proto};
use crate::net::{Backend, RX_QUEUE_FRAMES};

/// The guest's address (the first DHCP lease).
pub const GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The gateway, which is also the host.
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS server.
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
const NETWORK: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 0);
const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// `SlirpCb` with the fields libslirp 4.7 added (the `libslirp-sys` bindings stop before them),
/// so the library never reads past our table.
#[repr(C)]
struct Callbacks {
    base: sys::SlirpCb,
    init_completed: Option<unsafe extern "C" fn(*mut sys::Slirp, *mut c_void)>,
    timer_new_opaque: Option<unsafe extern "C" fn(c_int, *mut c_void, *mut c_void) -> *mut c_void>,
}

struct Timer {
    cb: sys::SlirpTimerCb,
    cb_opaque: *mut c_void,
    expire_ms: Option<i64>,
}

/// What the callbacks reach through their `opaque` pointer. Only the backend thread touches it.
struct State {
    to_guest: SyncSender<Vec<u8>>,
    console: Arc<Console>,
    verbose: bool,
    start: Instant,
    pollfds: Vec<libc::pollfd>,
    timers: Vec<*mut Timer>,
}

impl State {
    fn now_ms(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

unsafe extern "C" fn send_packet(buf: *const c_void, len: usize, opaque: *mut c_void) -> isize {
    let st = &*(opaque as *const State);
    let frame = std::slice::from_raw_parts(buf as *const u8, len).to_vec();
    match st.to_guest.try_send(frame) {
        Ok(()) => st.console.wake(),
        Err(TrySendError::Full(_)) => {} // the guest is not keeping up: drop, TCP retransmits
        Err(TrySendError::Disconnected(_)) => return -1,
    }
    len as isize
}

unsafe extern "C" fn guest_error(msg: *const c_char, opaque: *mut c_void) {
    let st = &*(opaque as *const State);
    if st.verbose {
        eprintln!("semu: slirp: guest error: {}", CStr::from_ptr(msg).to_string_lossy());
    }
}

unsafe extern "C" fn clock_get_ns(opaque: *mut c_void) -> i64 {
    let st = &*(opaque as *const State);
    i64::try_from(st.start.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

unsafe extern "C" fn timer_new(cb: sys::SlirpTimerCb, cb_opaque: *mut c_void, opaque: *mut c_void) -> *mut c_void {
    let st = &mut *(opaque as *mut State);
    let t = Box::into_raw(Box::new(Timer { cb, cb_opaque, expire_ms: None }));
    st.timers.push(t);
    t as *mut c_void
}

unsafe extern "C" fn timer_free(timer: *mut c_void, opaque: *mut c_void) {
    let st = &mut *(opaque as *mut State);
    let t = timer as *mut Timer;
    if let Some(i) = st.timers.iter().position(|&x| x == t) {
        st.timers.swap_remove(i);
        drop(Box::from_raw(t));
    }
}

unsafe extern "C" fn timer_mod(timer: *mut c_void, expire_ms: i64, opaque: *mut c_void) {
    let st = &mut *(opaque as *mut State);
    let t = timer as *mut Timer;
    if st.timers.contains(&t) {
        (*t).expire_ms = Some(expire_ms);
    }
}

unsafe extern "C" fn register_poll_fd(_fd: c_int, _opaque: *mut c_void) {}

unsafe extern "C" fn unregister_poll_fd(_fd: c_int, _opaque: *mut c_void) {}

unsafe extern "C" fn notify(_opaque: *mut c_void) {}

const POLL_MAP: [(c_int, i16); 5] = [
    (sys::SLIRP_POLL_IN, libc::POLLIN),
    (sys::SLIRP_POLL_OUT, libc::POLLOUT),
    (sys::SLIRP_POLL_PRI, libc::POLLPRI),
    (sys::SLIRP_POLL_ERR, libc::POLLERR),
    (sys::SLIRP_POLL_HUP, libc::POLLHUP),
];

unsafe extern "C" fn add_poll(fd: c_int, events: c_int, opaque: *mut c_void) -> c_int {
    let st = &mut *(opaque as *mut State);
    let ev = POLL_MAP.iter().filter(|(s, _)| events & s != 0).fold(0, |a, (_, p)| a | p);
    st.pollfds.push(libc::pollfd { fd, events: ev, revents: 0 });
    (st.pollfds.len() - 1) as c_int
}

unsafe extern "C" fn get_revents(idx: c_int, opaque: *mut c_void) -> c_int {
    let st = &*(opaque as *const State);
    let Some(p) = usize::try_from(idx).ok().and_then(|i| st.pollfds.get(i)) else { return 0 };
    POLL_MAP.iter().filter(|(_, e)| p.revents & e != 0).fold(0, |a, (s, _)| a | s)
}

/// The user-mode backend: owns the libslirp thread.
pub struct Slirp {
    to_net: SyncSender<Vec<u8>>,
    wake: OwnedFd,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        bail!("cannot create a pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes a byte to a wake-up pipe (a full pipe already wakes its reader).
pub(crate) fn kick(fd: RawFd) {
    // SAFETY: writes one byte from a local to a descriptor we own.
    let _ = unsafe { libc::write(fd, [1u8].as_ptr() as *const c_void, 1) };
}

/// Empties a wake-up pipe.
pub(crate) fn drain(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a local buffer of the given size.
    while unsafe { libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()) } > 0 {}
}

impl Slirp {
    /// Starts libslirp on its own thread with the forwards in `hostfwd`; frames for the guest go
    /// to `to_guest`. Fails if a forward cannot listen on its host port.
    pub fn start(
        hostfwd: &[HostFwd],
        to_guest: SyncSender<Vec<u8>>,
        console: Arc<Console>,
        verbose: bool,
    ) -> anyhow::Result<Self> {
        let (to_net, from_guest) = sync_channel(RX_QUEUE_FRAMES);
        let (wake_r, wake_w) = pipe()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = channel();
        let (fwd, stop2) = (hostfwd.to_vec(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("semu-slirp".into())
            .spawn(move || {
                let st = State {
                    to_guest,
                    console,
                    verbose,
                    start: Instant::now(),
                    pollfds: Vec::new(),
                    timers: Vec::new(),
                };
                run(st, &fwd, from_guest, wake_r, &stop2, ready_tx);
            })
            .context("cannot start the slirp thread")?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { to_net, wake: wake_w, stop, thread: Some(thread) }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(anyhow!(e))
            }
            Err(_) => Err(anyhow!("the slirp thread died")),
        }
    }
}

impl Backend for Slirp {
    fn send(&mut self, frame: &[u8]) {
        if self.to_net.try_send(frame.to_vec()).is_ok() {
            kick(self.wake.as_raw_fd());
        }
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        kick(self.wake.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Slirp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn new_slirp(opaque: *mut c_void, callbacks: &Callbacks) -> *mut sys::Slirp {
    let none6 = sys::in6_addr { s6_addr: [0; 16] };
    let cfg = sys::SlirpConfig {
        version: 3,
        restricted: 0,
        in_enabled: true,
        vnetwork: NETWORK.into(),
        vnetmask: NETMASK.into(),
        vhost: HOST.into(),
        in6_enabled: false,
        vprefix_addr6: none6,
        vprefix_len: 0,
        vhost6: none6,
        vhostname: std::ptr::null(),
        tftp_server_name: std::ptr::null(),
        tftp_path: std::ptr::null(),
        bootfile: std::ptr::null(),
        vdhcp_start: GUEST.into(),
        vnameserver: DNS.into(),
        vnameserver6: none6,
        vdnssearch: std::ptr::null_mut(),
        vdomainname: std::ptr::null(),
        if_mtu: 0,
        if_mru: 0,
        disable_host_loopback: false,
        enable_emu: false,
        outbound_addr: std::ptr::null(),
        outbound_addr6: std::ptr::null(),
        disable_dns: false,
        disable_dhcp: false,
    };
    // SAFETY: the config and callback tables are valid for the call (libslirp copies what it
    // keeps of the config, and `callbacks` outlives the Slirp instance); `opaque` points at the
    // thread's State, which outlives it too.
    unsafe { sys::slirp_new(&cfg, &callbacks.base, opaque) }
}

fn run(
    st: State,
    hostfwd: &[HostFwd],
    from_guest: Receiver<Vec<u8>>,
    wake: OwnedFd,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let callbacks = Callbacks {
        base: sys::SlirpCb {
            send_packet: Some(send_packet),
            guest_error: Some(guest_error),
            clock_get_ns: Some(clock_get_ns),
            timer_new: Some(timer_new),
            timer_free: Some(timer_free),
            timer_mod: Some(timer_mod),
            register_poll_fd: Some(register_poll_fd),
            unregister_poll_fd: Some(unregister_poll_fd),
            notify: Some(notify),
        },
        init_completed: None,
        timer_new_opaque: None,
    };
    // The State is only reached through this pointer from here on (callbacks included).
    let st = Box::into_raw(Box::new(st));
    let opaque = st as *mut c_void;
    let slirp = new_slirp(opaque, &callbacks);
    if slirp.is_null() {
        let _ = ready.send(Err("libslirp failed to start".into()));
        // SAFETY: no Slirp instance refers to the State.
        drop(unsafe { Box::from_raw(st) });
        return;
    }
    for f in hostfwd {
        // SAFETY: a valid Slirp instance; plain values.
        let r = unsafe {
            sys::slirp_add_hostfwd(
                slirp,
                c_int::from(f.proto == Proto::Udp),
                f.host_addr.into(),
                c_int::from(f.host_port),
                f.guest_addr.into(),
                c_int::from(f.guest_port),
            )
        };
        if r < 0 {
            // libslirp keeps the errno of the failed socket call (bind, listen) for us.
            let why = std::io::Error::last_os_error();
            let _ =
                ready.send(Err(format!("hostfwd \"{f}\": cannot listen on {}:{}: {why}", f.host_addr, f.host_port)));
            // SAFETY: the instance is ours and not used after this; then the State is freed.
            unsafe {
                sys::slirp_cleanup(slirp);
                free_state(st);
            }
            return;
        }
    }
    let _ = ready.send(Ok(()));
    let wake_fd = wake.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        for frame in from_guest.try_iter() {
            // SAFETY: a valid instance and a frame that lives across the call.
            unsafe { sys::slirp_input(slirp, frame.as_ptr(), frame.len() as c_int) };
        }
        // SAFETY: `st` is valid; no reference to it is held across the libslirp calls below.
        unsafe {
            (*st).pollfds.clear();
            (*st).pollfds.push(libc::pollfd { fd: wake_fd, events: libc::POLLIN, revents: 0 });
            let mut timeout: u32 = 1000;
            sys::slirp_pollfds_fill(slirp, &mut timeout, Some(add_poll), opaque);
            let now = (*st).now_ms();
            for &t in &(*st).timers {
                if let Some(e) = (*t).expire_ms {
                    timeout = timeout.min(e.saturating_sub(now).clamp(0, 1000) as u32);
                }
            }
            let fds = &mut (*st).pollfds;
            let n = libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout as c_int);
            if n > 0 && fds[0].revents != 0 {
                drain(wake_fd);
            }
            sys::slirp_pollfds_poll(slirp, c_int::from(n < 0), Some(get_revents), opaque);
            fire_timers(st);
        }
    }
    // SAFETY: the instance is not used after cleanup; then the State is freed.
    unsafe {
        sys::slirp_cleanup(slirp);
        free_state(st);
    }
}

/// Runs the callbacks of expired timers. A callback may modify or free any timer.
unsafe fn fire_timers(st: *mut State) {
    let now = (*st).now_ms();
    let is_due = |t: *mut Timer| matches!((*t).expire_ms, Some(e) if e <= now);
    let due: Vec<*mut Timer> = (*st).timers.iter().copied().filter(|&t| is_due(t)).collect();
    for t in due {
        if !(*st).timers.contains(&t) || !is_due(t) {
            continue;
        }
        (*t).expire_ms = None;
        if let Some(cb) = (*t).cb {
            cb((*t).cb_opaque);
        }
    }
}

unsafe fn free_state(st: *mut State) {
    let st = Box::from_raw(st);
    for &t in &st.timers {
        drop(Box::from_raw(t));
    }
}
