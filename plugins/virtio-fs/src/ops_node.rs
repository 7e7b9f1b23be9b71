//! Operations on nodes and names: LOOKUP, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR,
//! UNLINK, RMDIR, RENAME, RENAME2, LINK, STATFS, ACCESS.
//!
//! Confinement: a name from the guest is one path component (`name`), always resolved relative to
//! its parent node's descriptor without following symlinks, so nothing outside the shared
//! directory can be named.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::abi::{self, fattr, Wire};
use crate::host::{self, Res};
use crate::server::{Req, Server};

/// How long the guest may cache names and attributes, in seconds.
const TIMEOUT: u64 = 1;

/// A name the guest sent: one component, not `.` or `..`, no `/` (NUL ends it).
pub(crate) fn check_name(name: &[u8]) -> Res<CString> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return Err(libc::EINVAL);
    }
    if name.len() > 255 {
        return Err(libc::ENAMETOOLONG);
    }
    CString::new(name).map_err(|_| libc::EINVAL)
}

/// The next NUL-terminated name in the request, checked.
fn next_name(req: &mut Req<'_>) -> Res<CString> {
    check_name(req.args.cstr().ok_or(libc::EINVAL)?)
}

/// The attributes the guest sees for a host `lstat`.
pub(crate) fn attr_of(st: &libc::stat) -> abi::Attr {
    abi::Attr {
        ino: st.st_ino,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: st.st_atime as u64,
        mtime: st.st_mtime as u64,
        ctime: st.st_ctime as u64,
        atimensec: st.st_atime_nsec as u32,
        mtimensec: st.st_mtime_nsec as u32,
        ctimensec: st.st_ctime_nsec as u32,
        mode: st.st_mode,
        nlink: u32::try_from(st.st_nlink).unwrap_or(u32::MAX),
        uid: st.st_uid,
        gid: st.st_gid,
        // Linux's `new_encode_dev` layout: the low 32 bits of glibc's for 12-bit majors.
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

impl Server {
    /// The node the request is about.
    fn node_fd(&self, id: u64) -> Res<BorrowedFd<'_>> {
        Ok(self.nodes.get(id)?.fd())
    }

    /// The directory node the request names things in (`ENOTDIR` if it is not one).
    pub(crate) fn dir_fd(&self, id: u64) -> Res<BorrowedFd<'_>> {
        let n = self.nodes.get(id)?;
        if !n.is_dir() {
            return Err(libc::ENOTDIR);
        }
        Ok(n.fd())
    }

    /// A lookup of the object behind `fd` (an `O_PATH` descriptor): counted, and answered.
    pub(crate) fn entry(&mut self, fd: OwnedFd) -> Res<abi::EntryOut> {
        let st = host::stat(fd.as_fd())?;
        let nodeid = self.nodes.add(fd, &st);
        Ok(abi::EntryOut {
            nodeid,
            generation: 0,
            entry_valid: TIMEOUT,
            attr_valid: TIMEOUT,
            entry_valid_nsec: 0,
            attr_valid_nsec: 0,
            attr: attr_of(&st),
        })
    }

    /// Looks `name` up in directory `parent` and counts the lookup.
    pub(crate) fn lookup_name(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> Res<abi::EntryOut> {
        let fd = host::open_beneath(parent, name, libc::O_PATH, 0)?;
        self.entry(fd)
    }

    pub(crate) fn lookup(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let name = next_name(req)?;
        req.done()?;
        let parent = self.dir_fd(req.h.nodeid)?.try_clone_to_owned().map_err(|_| libc::EMFILE)?;
        Ok(self.lookup_name(parent.as_fd(), &name)?.to_bytes())
    }

    fn attr_reply(&self, id: u64) -> Res<Vec<u8>> {
        let st = host::stat(self.node_fd(id)?)?;
        let out = abi::AttrOut { attr_valid: TIMEOUT, attr_valid_nsec: 0, dummy: 0, attr: attr_of(&st) };
        Ok(out.to_bytes())
    }

    pub(crate) fn getattr(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        // Old kernels send no fuse_getattr_in; its fh is never needed.
        let _ = req.args.rest();
        self.attr_reply(req.h.nodeid)
    }

    pub(crate) fn setattr(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let s: abi::SetattrIn = req.arg()?;
        let node = self.nodes.get(req.h.nodeid)?;
        let fd = node.fd();
        let is_link = node.kind == libc::S_IFLNK;
        if s.valid & fattr::MODE != 0 {
            if is_link {
                return Err(libc::EOPNOTSUPP);
            }
            host::chmod(fd, s.mode & 0o7777)?;
        }
        if s.valid & (fattr::UID | fattr::GID) != 0 {
            let uid = if s.valid & fattr::UID != 0 { s.uid } else { u32::MAX };
            let gid = if s.valid & fattr::GID != 0 { s.gid } else { u32::MAX };
            host::chown(fd, uid, gid)?;
        }
        if s.valid & fattr::SIZE != 0 {
            let size = i64::try_from(s.size).map_err(|_| libc::EFBIG)?;
            self.truncate(req.h.nodeid, s, size)?;
        }
        let time = |set: u32, now: u32, sec: u64, nsec: u32| -> Res<Option<libc::timespec>> {
            if s.valid & now != 0 {
                Ok(Some(libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW }))
            } else if s.valid & set != 0 {
                if nsec >= 1_000_000_000 {
                    return Err(libc::EINVAL);
                }
                Ok(Some(libc::timespec { tv_sec: sec as i64, tv_nsec: i64::from(nsec) }))
            } else {
                Ok(None)
            }
        };
        let atime = time(fattr::ATIME, fattr::ATIME_NOW, s.atime, s.atimensec)?;
        let mtime = time(fattr::MTIME, fattr::MTIME_NOW, s.mtime, s.mtimensec)?;
        if atime.is_some() || mtime.is_some() {
            host::utimens(fd, atime, mtime)?;
        }
        self.attr_reply(req.h.nodeid)
    }

    /// Sets node `id`'s size: through the open handle if the guest named one, else by opening
    /// the file for writing (regular files only).
    fn truncate(&self, id: u64, s: abi::SetattrIn, size: i64) -> Res<()> {
        let len = size as u64;
        if s.valid & fattr::FH != 0 {
            if let Ok(f) = self.handles.file(s.fh) {
                return f.set_len(len).map_err(io_errno);
            }
        }
        let node = self.nodes.get(id)?;
        match node.kind {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(libc::EISDIR),
            _ => return Err(libc::EINVAL),
        }
        let f = std::fs::File::from(host::reopen(node.fd(), libc::O_WRONLY)?);
        f.set_len(len).map_err(io_errno)
    }

    pub(crate) fn readlink(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        req.done()?;
        let node = self.nodes.get(req.h.nodeid)?;
        if node.kind != libc::S_IFLNK {
            return Err(libc::EINVAL);
        }
        // The whole text or nothing: a text longer than the room is ERANGE (in `handle`), never
        // a shorter path that names something else.
        host::readlink(node.fd(), libc::PATH_MAX as usize)
    }

    pub(crate) fn symlink(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let name = next_name(req)?;
        // The link's text is the guest's business (its own namespace resolves it); the host
        // never follows it.
        let target = req.args.cstr().ok_or(libc::EINVAL)?;
        req.done()?;
        let target = CString::new(target).map_err(|_| libc::EINVAL)?;
        let parent = self.dir_fd(req.h.nodeid)?.try_clone_to_owned().map_err(|_| libc::EMFILE)?;
        host::symlink(&target, parent.as_fd(), &name)?;
        Ok(self.lookup_name(parent.as_fd(), &name)?.to_bytes())
    }

    pub(crate) fn mknod(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let m: abi::MknodIn = req.arg()?;
        let name = next_name(req)?;
        req.done()?;
        match m.mode & libc::S_IFMT {
            libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK => {}
            libc::S_IFCHR | libc::S_IFBLK => return Err(libc::EPERM),
            _ => return Err(libc::EINVAL),
        }
        let parent = self.dir_fd(req.h.nodeid)?.try_clone_to_owned().map_err(|_| libc::EMFILE)?;
        host::mknod(parent.as_fd(), &name, m.mode & (libc::S_IFMT | 0o7777))?;
        self.created(parent.as_fd(), &name, m.mode)
    }

    pub(crate) fn mkdir(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let m: abi::MkdirIn = req.arg()?;
        let name = next_name(req)?;
        req.done()?;
        let parent = self.dir_fd(req.h.nodeid)?.try_clone_to_owned().map_err(|_| libc::EMFILE)?;
        host::mkdir(parent.as_fd(), &name, m.mode & 0o7777)?;
        self.created(parent.as_fd(), &name, libc::S_IFDIR | (m.mode & 0o7777))
    }

    /// Looks up what MKNOD or MKDIR just made and gives it exactly the guest's permission bits
    /// (the host's umask took some away; the guest applied its own already).
    fn created(&mut self, parent: BorrowedFd<'_>, name: &CStr, mode: u32) -> Res<Vec<u8>> {
        let fd = host::open_beneath(parent, name, libc::O_PATH, 0)?;
        let st = host::stat(fd.as_fd())?;
        if st.st_mode & libc::S_IFMT == mode & libc::S_IFMT && st.st_mode & 0o7777 != mode & 0o7777 {
            host::chmod(fd.as_fd(), mode & 0o7777)?;
        }
        Ok(self.entry(fd)?.to_bytes())
    }

    pub(crate) fn unlink(&mut self, req: &mut Req<'_>, is_dir: bool) -> Res<Vec<u8>> {
        let name = next_name(req)?;
        req.done()?;
        host::unlink(self.dir_fd(req.h.nodeid)?, &name, is_dir)?;
        Ok(Vec::new())
    }

    pub(crate) fn rename(&mut self, req: &mut Req<'_>, two: bool) -> Res<Vec<u8>> {
        let (newdir, flags) = if two {
            let r: abi::Rename2In = req.arg()?;
            (r.newdir, r.flags)
        } else {
            (req.arg::<abi::RenameIn>()?.newdir, 0)
        };
        if flags & !(abi::rename::NOREPLACE | abi::rename::EXCHANGE) != 0 {
            return Err(libc::EINVAL);
        }
        let old = next_name(req)?;
        let new = next_name(req)?;
        req.done()?;
        host::rename(self.dir_fd(req.h.nodeid)?, &old, self.dir_fd(newdir)?, &new, flags)?;
        Ok(Vec::new())
    }

    pub(crate) fn link(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let l: abi::LinkIn = req.arg()?;
        let name = next_name(req)?;
        req.done()?;
        let node = self.nodes.get(l.oldnodeid)?;
        if node.is_dir() {
            return Err(libc::EPERM);
        }
        let parent = self.dir_fd(req.h.nodeid)?.try_clone_to_owned().map_err(|_| libc::EMFILE)?;
        host::link(node.fd(), parent.as_fd(), &name)?;
        Ok(self.lookup_name(parent.as_fd(), &name)?.to_bytes())
    }

    pub(crate) fn statfs(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        req.done()?;
        let s = host::statvfs(self.node_fd(req.h.nodeid)?)?;
        let st = abi::Kstatfs {
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
            bsize: s.f_bsize as u32,
            namelen: s.f_namemax as u32,
            frsize: s.f_frsize as u32,
            padding: 0,
            spare: [0; 6],
        };
        Ok(abi::StatfsOut { st }.to_bytes())
    }

    pub(crate) fn access(&mut self, req: &mut Req<'_>) -> Res<Vec<u8>> {
        let a: abi::AccessIn = req.arg()?;
        req.done()?;
        let mask = (a.mask & 0o7) as i32;
        if self.read_only && mask & libc::W_OK != 0 {
            return Err(libc::EROFS);
        }
        let node = self.nodes.get(req.h.nodeid)?;
        if node.kind == libc::S_IFLNK {
            return Ok(Vec::new()); // a symlink's own permissions are all granted
        }
        host::access(node.fd(), mask)?;
        Ok(Vec::new())
    }
}

/// The errno of an I/O error.
pub(crate) fn io_errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
