//! The TAP backend: an existing (or, for root, a new) TAP interface of the host, opened through
//! `/dev/net/tun` with `IFF_TAP | IFF_NO_PI`. Frames are written from the machine thread
//! (non-blocking; dropped when the interface cannot take them) and read by a host thread that
//! feeds the device's receive channel.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{bail, Context};
use semu_api::Console;

use crate::net::{Backend, MAX_FRAME};
use crate::slirp::{drain, kick, pipe};

/// `TUNSETIFF`: `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// Longest interface name (`IFNAMSIZ` - 1).
pub const MAX_NAME: usize = 15;

/// The TAP backend.
pub struct Tap {
    fd: Arc<OwnedFd>,
    wake: OwnedFd,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn open(name: &str) -> anyhow::Result<OwnedFd> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', '\0', ' ']) {
        bail!("\"{name}\" is not an interface name");
    }
    // SAFETY: opens a path from a NUL-terminated literal.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot open /dev/net/tun");
    }
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // struct ifreq: the name (16 bytes) then a union whose first member is `short ifr_flags`.
    let mut ifr = [0u8; 40];
    ifr[..name.len()].copy_from_slice(name.as_bytes());
    let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as i16;
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which `ifr` is large enough to hold.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, ifr.as_mut_ptr()) } < 0 {
        let e = std::io::Error::last_os_error();
        bail!(
            "cannot attach to TAP interface \"{name}\": {e} (create it for your user first: \
             ip tuntap add dev {name} mode tap user $USER)"
        );
    }
    Ok(fd)
}

impl Tap {
    /// Attaches to interface `name`; received frames go to `to_guest`, followed by a wake-up of
    /// the machine.
    pub fn open(name: &str, to_guest: SyncSender<Vec<u8>>, console: Arc<Console>) -> anyhow::Result<Self> {
        let fd = Arc::new(open(name)?);
        let (wake_r, wake_w) = pipe()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (fd2, stop2) = (fd.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("semu-tap".into())
            .spawn(move || reader(&fd2, &wake_r, &stop2, &to_guest, &console))
            .context("cannot start the TAP thread")?;
        Ok(Self { fd, wake: wake_w, stop, thread: Some(thread) })
    }
}

fn reader(fd: &OwnedFd, wake: &OwnedFd, stop: &AtomicBool, to_guest: &SyncSender<Vec<u8>>, console: &Console) {
    let mut buf = vec![0u8; MAX_FRAME];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [
            libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: polls two pollfds in a local array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
        if n <= 0 {
            continue;
        }
        if fds[1].revents != 0 {
            drain(wake.as_raw_fd());
        }
        if fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return;
        }
        loop {
            // SAFETY: reads into a local buffer of the given size.
            let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr() as *mut c_void, buf.len()) };
            let Ok(len) = usize::try_from(r) else { break };
            if len == 0 {
                break;
            }
            match to_guest.try_send(buf[..len].to_vec()) {
                Ok(()) => console.wake(),
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

impl Backend for Tap {
    fn send(&mut self, frame: &[u8]) {
        // SAFETY: writes from a slice of the given length; errors (EAGAIN, EIO while the link is
        // down) drop the frame.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr() as *const c_void, frame.len()) };
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        kick(self.wake.as_raw_fd());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused_before_any_syscall() {
        for bad in ["", "a-name-that-is-too-long", "a/b"] {
            let e = open(bad).unwrap_err().to_string();
            assert!(e.contains("not an interface name"), "{e}");
        }
    }
}
