//! Operations on open files: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE(DIR), FSYNC(DIR), LSEEK,
//! FALLOCATE.
//!
//! Only regular files are opened: a symlink's `O_PATH` descriptor is never reopened (that would
//! fail with `ELOOP` anyway, never reach its target), and FIFOs or device nodes, which the guest
//! kernel handles itself, are refused (opening a FIFO could block the server).

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use crate::abi::{self, oflag, Wire};
use crate::host::{self, Res};
use crate::ops_node::{check_name, io_errno};
use crate::server::{Req, Server, MAX_READ};

/// The host `open` flags for the guest's (access mode, truncation, appending, synchronous I/O;
/// `O_CREAT`/`O_EXCL` are the caller's, the rest does not apply to regular files here).
fn host_flags(guest: u32) -> Res<libc::c_int> {
    let mut f = match guest & oflag::ACCMODE {
        oflag::RDONLY => libc::O_RDONLY,
        oflag::WRONLY => libc::O_WRONLY,
        oflag::RDWR => libc::O_RDWR,
        _ => return Err(libc::EINVAL),
    };
    if guest & oflag::TRUNC != 0 {
        f |= libc::O_TRUNC;
    }
    if guest & oflag::APPEND != 0 {
        f |= libc::O_APPEND;
    }
    if guest & oflag::SYNC == oflag::SYNC {
        f |= libc::O_SYNC;
    } else if guest & oflag::DSYNC != 0 {
        f |= libc::O_DSYNC;
    }
    Ok(f)
}

/// Whether opening with the guest's `flags` may change the file.
fn writes(flags: u32) -> bool {
    flags & oflag::ACCMODE != oflag::RDONLY || flags & oflag::TRUNC != 0
}

/// A file offset from the guest (`EINVAL` past `i64::MAX`).
fn offset(v: u64) -> Res<i64> {
    i64::try_from(v).map_err(|_| libc::EINVAL)
}

impl Server {
    pub(crate) fn open(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let o: abi::OpenIn = req.arg()?;
        req.done()?;
        if self.read_only && writes(o.flags) {
            return Err(libc::EROFS);
        }
        let flags = host_flags(o.flags)?;
        let node = self.nodes.get(req.h.nodeid)?;
        match node.kind {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(libc::EISDIR),
            libc::S_IFLNK => return Err(libc::ELOOP),
            _ => return Err(libc::EACCES),
        }
        let file = File::from(host::reopen(node.fd(), flags)?);
        let fh = self.handles.add(file, false);
        Ok(abi::OpenOut { fh, open_flags: 0, padding: 0 }.to_bytes())
    }

    pub(crate) fn create(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let c: abi::CreateIn = req.arg()?;
        let name = check_name(req.args.cstr().ok_or(libc::EINVAL)?)?;
        req.done()?;
        let flags = host_flags(c.flags)?;
        let mode = c.mode & 0o7777;
        let parent = self.dir_fd(req.h.nodeid)?;
        // Create it exclusively, to know whether it is new; an existing file is opened instead
        // unless the guest asked for O_EXCL. O_NONBLOCK: an existing FIFO must not block us.
        let excl = flags | libc::O_CREAT | libc::O_EXCL | libc::O_NONBLOCK;
        let (fd, new) = match host::open_beneath(parent, &name, excl, mode) {
            Ok(fd) => (fd, true),
            Err(libc::EEXIST) if c.flags & oflag::EXCL == 0 => {
                (host::open_beneath(parent, &name, flags | libc::O_NONBLOCK, 0)?, false)
            }
            Err(e) => return Err(e),
        };
        let st = host::stat(fd.as_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(libc::EACCES);
        }
        if new && st.st_mode & 0o7777 != mode {
            host::chmod(fd.as_fd(), mode)?; // the host's umask took bits the guest wanted
        }
        let path = host::reopen(fd.as_fd(), libc::O_PATH)?;
        let entry = self.entry(path)?;
        let fh = self.handles.add(File::from(fd), false);
        let mut out = entry.to_bytes();
        out.extend(abi::OpenOut { fh, open_flags: 0, padding: 0 }.to_bytes());
        Ok(out)
    }

    pub(crate) fn read(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let r: abi::ReadIn = req.arg()?;
        req.done()?;
        let file = self.handles.file(r.fh)?;
        let size = (r.size as usize).min(req.room).min(MAX_READ);
        let start = offset(r.offset)?;
        let mut buf = vec![0u8; size];
        let mut got = 0;
        while got < size {
            let at = (start as u64).checked_add(got as u64).ok_or(libc::EINVAL)?;
            match file.read_at(&mut buf[got..], at) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if got == 0 => return Err(io_errno(e)),
                Err(_) => break,
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    pub(crate) fn write(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let w: abi::WriteIn = req.arg()?;
        let data = req.args.bytes(w.size as usize).ok_or(libc::EINVAL)?;
        req.done()?;
        let file = self.handles.file(w.fh)?;
        let start = offset(w.offset)?;
        let mut done = 0;
        while done < data.len() {
            let at = (start as u64).checked_add(done as u64).ok_or(libc::EFBIG)?;
            match file.write_at(&data[done..], at) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if done == 0 => return Err(io_errno(e)),
                Err(_) => break,
            }
        }
        Ok(abi::WriteOut { size: done as u32, padding: 0 }.to_bytes())
    }

    pub(crate) fn flush(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let f: abi::FlushIn = req.arg()?;
        req.done()?;
        // Writes go straight to the host file; there is nothing to flush.
        self.handles.file(f.fh)?;
        Ok(Vec::new())
    }

    pub(crate) fn release(&mut self, req: &mut Req<'_>, dir: bool) -> Res<Vec<u8>> {
        let r: abi::ReleaseIn = req.arg()?;
        req.done()?;
        if dir {
            self.handles.dir(r.fh)?;
        } else {
            self.handles.file(r.fh)?;
        }
        self.handles.remove(r.fh)?;
        Ok(Vec::new())
    }

    pub(crate) fn fsync(&mut self, req: &mut Req<'_>, dir: bool) -> Res<Vec<u8>> {
        let f: abi::FsyncIn = req.arg()?;
        req.done()?;
        let file = if dir { self.handles.dir(f.fh)? } else { self.handles.file(f.fh)? };
        let r = if f.fsync_flags & abi::FSYNC_FDATASYNC != 0 { file.sync_data() } else { file.sync_all() };
        r.map_err(io_errno)?;
        Ok(Vec::new())
    }

    pub(crate) fn lseek(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let l: abi::LseekIn = req.arg()?;
        req.done()?;
        let whence = match l.whence {
            0 => libc::SEEK_SET,
            1 => libc::SEEK_CUR,
            2 => libc::SEEK_END,
            3 => libc::SEEK_DATA,
            4 => libc::SEEK_HOLE,
            _ => return Err(libc::EINVAL),
        };
        let file = self.handles.file(l.fh)?;
        // SEEK_CUR and SEEK_END may take a negative offset: the two's complement of the u64.
        let at = host::lseek(file.as_fd(), l.offset as i64, whence)?;
        Ok(abi::LseekOut { offset: at as u64 }.to_bytes())
    }

    pub(crate) fn fallocate(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let f: abi::FallocateIn = req.arg()?;
        req.done()?;
        let known = libc::FALLOC_FL_KEEP_SIZE
            | libc::FALLOC_FL_PUNCH_HOLE
            | libc::FALLOC_FL_ZERO_RANGE
            | libc::FALLOC_FL_COLLAPSE_RANGE
            | libc::FALLOC_FL_INSERT_RANGE
            | libc::FALLOC_FL_UNSHARE_RANGE;
        let mode = i32::try_from(f.mode).map_err(|_| libc::EOPNOTSUPP)?;
        if mode & !known != 0 {
            return Err(libc::EOPNOTSUPP);
        }
        let file = self.handles.file(f.fh)?;
        host::fallocate(file.as_fd(), mode, offset(f.offset)?, offset(f.length)?)?;
        Ok(Vec::new())
    }
}
