//! The FUSE server: one request in, one reply out.
//!
//! `Server::handle` takes a request apart (`abi::Reader`: nothing is read past its end), checks
//! that the reply's fixed part fits the guest's buffers before doing anything, dispatches to the
//! operations (`ops_node.rs`, `ops_file.rs`, `ops_dir.rs`) and frames the answer. Every failure
//! is an errno in the reply; nothing the guest sends can panic the host.

use std::path::Path;

use crate::abi::{self, op, Field, InHeader, OutHeader, Reader, Wire};
use crate::host::{self, Res};
use crate::nodes::{Handles, Nodes};

/// The largest WRITE payload the server takes (what INIT announces as `max_write`).
pub const MAX_WRITE: u32 = 128 * 1024;
/// The largest READ, READDIR or READLINK payload the server produces, whatever the guest asks.
pub const MAX_READ: usize = 1024 * 1024;
/// What INIT answers to the guest's flags: the features whose semantics the server implements.
const SUPPORTED_FLAGS: u32 = abi::init::ASYNC_READ
    | abi::init::ATOMIC_O_TRUNC
    | abi::init::BIG_WRITES
    | abi::init::DO_READDIRPLUS
    | abi::init::READDIRPLUS_AUTO;

/// A FUSE server on one host directory.
pub struct Server {
    pub(crate) nodes: Nodes,
    pub(crate) handles: Handles,
    pub(crate) read_only: bool,
    /// The minor version agreed on by INIT, `None` before it (or after DESTROY).
    minor: Option<u32>,
}

/// One request being served: its header, its arguments, and room for the reply's payload.
pub(crate) struct Req<'a> {
    pub h: InHeader,
    pub args: Reader<'a>,
    /// The most payload bytes the reply may carry (the guest's buffers less the header).
    pub room: usize,
}

impl Req<'_> {
    /// The next argument structure (`EINVAL` if the request is too short).
    pub fn arg<T: Wire>(&mut self) -> Res<T> {
        self.args.obj::<T>().ok_or(libc::EINVAL)
    }

    /// Checks that the whole request was read (`EINVAL` if bytes are left over).
    pub fn done(&self) -> Res<()> {
        if self.args.is_empty() {
            Ok(())
        } else {
            Err(libc::EINVAL)
        }
    }
}

impl Server {
    /// A server sharing `root`, read-only or not.
    pub fn new(root: &Path, read_only: bool) -> std::io::Result<Server> {
        let fd = host::open_root(root)?;
        let st = host::stat(std::os::fd::AsFd::as_fd(&fd)).map_err(std::io::Error::from_raw_os_error)?;
        // Every reopening goes through /proc/self/fd: without /proc nothing would work.
        if !Path::new("/proc/self/fd").is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "/proc/self/fd is not mounted"));
        }
        Ok(Server { nodes: Nodes::new(fd, &st), handles: Handles::default(), read_only, minor: None })
    }

    /// Serves one request: `request` is the whole of it (header, arguments, data), `reply_max`
    /// the size of the buffers the reply goes to. Returns the whole reply (at most `reply_max`
    /// bytes), or `None` for requests that take none (FORGET, BATCH_FORGET, INTERRUPT) and for
    /// requests too broken to answer (no `unique` to answer to, or no room for a reply header).
    pub fn handle(&mut self, request: &[u8], reply_max: usize) -> Option<Vec<u8>> {
        let unique = u64::get(request.get(8..16)?);
        // The requests that take no reply come without room for one (virtio-fs sends FORGETs on
        // the high-priority queue, with no buffer for the device to write): they are served
        // whatever `reply_max` is, and never answered, not even when malformed.
        if matches!(u32::get(&request[4..8]), op::FORGET | op::BATCH_FORGET | op::INTERRUPT) {
            if let (Ok(mut req), Some(_)) = (Self::frame(request, reply_max), self.minor) {
                self.forgets(&mut req);
            }
            return None;
        }
        if reply_max < OutHeader::SIZE {
            return None;
        }
        let result = Self::frame(request, reply_max).and_then(|mut req| self.dispatch(&mut req));
        Some(match result {
            Ok(payload) if OutHeader::SIZE + payload.len() <= reply_max => reply(unique, 0, &payload),
            Ok(_) => reply(unique, -libc::ERANGE, &[]),
            Err(e) => reply(unique, -e.abs(), &[]),
        })
    }

    /// How many nodes and open handles the server holds (the root counts as a node).
    pub fn open_counts(&self) -> (usize, usize) {
        (self.nodes.len(), self.handles.len())
    }

    /// The request's header and arguments, checked against its length.
    fn frame(request: &[u8], reply_max: usize) -> Res<Req<'_>> {
        let mut r = Reader::new(request);
        let h: InHeader = r.obj().ok_or(libc::EINVAL)?;
        let len = usize::try_from(h.len).map_err(|_| libc::EINVAL)?;
        if len < InHeader::SIZE || len > request.len() {
            return Err(libc::EINVAL);
        }
        // Extensions (security contexts) are only sent when negotiated, which we never do.
        let ext = usize::from(h.total_extlen) * 8;
        let args_len = (len - InHeader::SIZE).checked_sub(ext).ok_or(libc::EINVAL)?;
        let args = Reader::new(r.bytes(args_len).ok_or(libc::EINVAL)?);
        Ok(Req { h, args, room: reply_max.saturating_sub(OutHeader::SIZE) })
    }

    /// The payload of the reply to a request that takes one.
    fn dispatch(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let opcode = req.h.opcode;
        match opcode {
            op::INIT => return self.init(req),
            _ if self.minor.is_none() => return Err(libc::EIO),
            _ => {}
        }
        if req.room < fixed_reply(opcode) {
            return Err(libc::ERANGE);
        }
        if self.read_only && modifies(opcode) {
            return Err(libc::EROFS);
        }
        match opcode {
            op::DESTROY => self.destroy(),
            op::LOOKUP => self.lookup(req),
            op::GETATTR => self.getattr(req),
            op::SETATTR => self.setattr(req),
            op::READLINK => self.readlink(req),
            op::SYMLINK => self.symlink(req),
            op::MKNOD => self.mknod(req),
            op::MKDIR => self.mkdir(req),
            op::UNLINK => self.unlink(req, false),
            op::RMDIR => self.unlink(req, true),
            op::RENAME => self.rename(req, false),
            op::RENAME2 => self.rename(req, true),
            op::LINK => self.link(req),
            op::STATFS => self.statfs(req),
            op::ACCESS => self.access(req),
            op::OPEN => self.open(req),
            op::CREATE => self.create(req),
            op::READ => self.read(req),
            op::WRITE => self.write(req),
            op::FLUSH => self.flush(req),
            op::RELEASE => self.release(req, false),
            op::FSYNC => self.fsync(req, false),
            op::LSEEK => self.lseek(req),
            op::FALLOCATE => self.fallocate(req),
            op::OPENDIR => self.opendir(req),
            op::READDIR => self.readdir(req, false),
            op::READDIRPLUS => self.readdir(req, true),
            op::RELEASEDIR => self.release(req, true),
            op::FSYNCDIR => self.fsync(req, true),
            _ => Err(libc::ENOSYS),
        }
    }

    /// INIT: agrees on the version and the features.
    fn init(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        // Old kernels send only the first four fields; the rest reads as zeros.
        let mut raw = req.args.rest().to_vec();
        if raw.len() < 16 {
            return Err(libc::EINVAL);
        }
        raw.resize(raw.len().max(abi::InitIn::SIZE), 0);
        let i = abi::InitIn::get(&raw);
        if i.major < abi::KERNEL_VERSION {
            return Err(libc::EPROTO);
        }
        let mut out =
            abi::InitOut { major: abi::KERNEL_VERSION, minor: abi::KERNEL_MINOR_VERSION, ..Default::default() };
        if i.major > abi::KERNEL_VERSION {
            // The kernel sends INIT again with our major version.
            return Ok(out.to_bytes()[..8].to_vec());
        }
        let minor = i.minor.min(abi::KERNEL_MINOR_VERSION);
        let size = match minor {
            0..=4 => 8,
            5..=22 => 24,
            _ => abi::InitOut::SIZE,
        };
        // An INIT the guest cannot read the answer of changes nothing.
        if size > req.room {
            return Err(libc::ERANGE);
        }
        // Whatever state an earlier mount left is gone.
        self.nodes.clear();
        self.handles.clear();
        self.minor = Some(minor);
        out.minor = minor;
        out.max_readahead = i.max_readahead;
        out.flags = i.flags & SUPPORTED_FLAGS;
        out.max_background = 64;
        out.congestion_threshold = 48;
        out.max_write = MAX_WRITE;
        out.time_gran = 1;
        Ok(out.to_bytes()[..size].to_vec())
    }

    /// DESTROY: the guest unmounted; every node but the root and every handle goes.
    fn destroy(&mut self) -> Res<Vec<u8>> {
        self.nodes.clear();
        self.handles.clear();
        self.minor = None;
        Ok(Vec::new())
    }

    /// FORGET and BATCH_FORGET (INTERRUPT is ignored: every request is answered at once).
    fn forgets(&mut self, req: &mut Req<'_>) {
        match req.h.opcode {
            op::FORGET => {
                if let Ok(f) = req.arg::<abi::ForgetIn>() {
                    self.nodes.forget(req.h.nodeid, f.nlookup);
                }
            }
            op::BATCH_FORGET => {
                let Ok(b) = req.arg::<abi::BatchForgetIn>() else { return };
                for _ in 0..b.count {
                    let Ok(one) = req.arg::<abi::ForgetOne>() else { return };
                    self.nodes.forget(one.nodeid, one.nlookup);
                }
            }
            _ => {}
        }
    }
}

/// The whole reply: header and payload.
fn reply(unique: u64, error: i32, payload: &[u8]) -> Vec<u8> {
    let len = (OutHeader::SIZE + payload.len()) as u32;
    let mut v = OutHeader { len, error, unique }.to_bytes();
    v.extend_from_slice(payload);
    v
}

/// The payload size of the reply to `opcode` when it succeeds with a fixed-size answer.
fn fixed_reply(opcode: u32) -> usize {
    match opcode {
        op::LOOKUP | op::MKNOD | op::MKDIR | op::SYMLINK | op::LINK => abi::EntryOut::SIZE,
        op::CREATE => abi::EntryOut::SIZE + abi::OpenOut::SIZE,
        op::GETATTR | op::SETATTR => abi::AttrOut::SIZE,
        op::OPEN | op::OPENDIR => abi::OpenOut::SIZE,
        op::WRITE => abi::WriteOut::SIZE,
        op::STATFS => abi::StatfsOut::SIZE,
        op::LSEEK => abi::LseekOut::SIZE,
        _ => 0,
    }
}

/// Whether `opcode` always changes the shared tree (OPEN and CREATE are checked by their flags).
fn modifies(opcode: u32) -> bool {
    matches!(
        opcode,
        op::SETATTR
            | op::SYMLINK
            | op::MKNOD
            | op::MKDIR
            | op::UNLINK
            | op::RMDIR
            | op::RENAME
            | op::RENAME2
            | op::LINK
            | op::WRITE
            | op::CREATE
            | op::FALLOCATE
            | op::SETXATTR
            | op::REMOVEXATTR
    )
}
