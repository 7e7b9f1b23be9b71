//! Unit tests: raw FUSE requests, built byte by byte, against scratch directories.

mod abi_c;
mod escape;
mod hostile;
mod limits;
mod ops;
mod readonly;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::abi::{self, op, Field, Wire};
use crate::Server;

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("semu-fs-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Read-only leftovers (chmod tests) must not stop the removal.
        let _ = std::process::Command::new("chmod").arg("-R").arg("u+rwx").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name as requests carry it: NUL-terminated.
pub fn cname(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Room for any reply in these tests.
pub const ROOM: usize = 1 << 20;

/// A server with a guest-side view: builds requests, checks every reply's framing.
pub struct Guest {
    pub s: Server,
    unique: u64,
}

/// A reply: its error (0 or a negative errno) and payload.
pub type Reply = (i32, Vec<u8>);

impl Guest {
    /// A server on `dir`, initialized as Linux 6.1 does.
    pub fn new(dir: &Path, read_only: bool) -> Guest {
        let mut g = Guest { s: Server::new(dir, read_only).unwrap(), unique: 0 };
        let init =
            abi::InitIn { major: 7, minor: 38, max_readahead: 128 * 1024, flags: u32::MAX, ..Default::default() };
        let (e, out) = g.call(op::INIT, 0, &init.to_bytes());
        assert_eq!(e, 0);
        let out = abi::InitOut::get(&out);
        assert_eq!((out.major, out.minor), (7, 38));
        g
    }

    /// A server on `dir` that has not been through INIT.
    pub fn uninit(dir: &Path, read_only: bool) -> Guest {
        Guest { s: Server::new(dir, read_only).unwrap(), unique: 0 }
    }

    /// Sends INIT as a kernel speaking `major.minor` would; the whole reply.
    pub fn init(&mut self, major: u32, minor: u32) -> Reply {
        let init = abi::InitIn { major, minor, max_readahead: 1 << 17, flags: u32::MAX, ..Default::default() };
        self.call(op::INIT, 0, &init.to_bytes())
    }

    /// Sends the bytes `request` as they are; checks the framing of the reply, if any, against
    /// the `unique` in those bytes.
    pub fn send(&mut self, request: &[u8], max: usize) -> Option<Reply> {
        let rep = self.s.handle(request, max)?;
        let unique = u64::get(&request[8..16]);
        check_reply(&rep, unique, max);
        let h = abi::OutHeader::get(&rep);
        Some((h.error, rep[abi::OutHeader::SIZE..].to_vec()))
    }

    /// The bytes of a request.
    pub fn request(&mut self, opcode: u32, nodeid: u64, args: &[u8]) -> Vec<u8> {
        self.unique += 1;
        let len = (abi::InHeader::SIZE + args.len()) as u32;
        let h = abi::InHeader {
            len,
            opcode,
            unique: self.unique,
            nodeid,
            uid: 1000,
            gid: 1000,
            pid: 1,
            ..Default::default()
        };
        let mut v = h.to_bytes();
        v.extend_from_slice(args);
        v
    }

    /// Sends a request, expecting a reply; checks its header.
    pub fn call(&mut self, opcode: u32, nodeid: u64, args: &[u8]) -> Reply {
        self.call_max(opcode, nodeid, args, ROOM)
    }

    pub fn call_max(&mut self, opcode: u32, nodeid: u64, args: &[u8], max: usize) -> Reply {
        let req = self.request(opcode, nodeid, args);
        let rep = self.s.handle(&req, max).expect("a reply");
        check_reply(&rep, self.unique, max);
        let h = abi::OutHeader::get(&rep);
        (h.error, rep[abi::OutHeader::SIZE..].to_vec())
    }

    /// Sends a request that takes no reply.
    pub fn tell(&mut self, opcode: u32, nodeid: u64, args: &[u8]) {
        let req = self.request(opcode, nodeid, args);
        assert!(self.s.handle(&req, ROOM).is_none(), "opcode {opcode} replied");
    }

    fn ok(&mut self, opcode: u32, nodeid: u64, args: &[u8]) -> Result<Vec<u8>, i32> {
        let (e, p) = self.call(opcode, nodeid, args);
        if e == 0 {
            Ok(p)
        } else {
            assert!(p.is_empty(), "an error reply with a payload");
            Err(-e)
        }
    }

    pub fn lookup(&mut self, parent: u64, name: &str) -> Result<abi::EntryOut, i32> {
        self.ok(op::LOOKUP, parent, &cname(name)).map(|p| entry(&p))
    }

    pub fn forget(&mut self, node: u64, n: u64) {
        self.tell(op::FORGET, node, &abi::ForgetIn { nlookup: n }.to_bytes());
    }

    pub fn getattr(&mut self, node: u64) -> Result<abi::Attr, i32> {
        let p = self.ok(op::GETATTR, node, &abi::GetattrIn::default().to_bytes())?;
        assert_eq!(p.len(), abi::AttrOut::SIZE);
        Ok(abi::AttrOut::get(&p).attr)
    }

    pub fn open(&mut self, node: u64, flags: u32) -> Result<u64, i32> {
        let p = self.ok(op::OPEN, node, &abi::OpenIn { flags, open_flags: 0 }.to_bytes())?;
        Ok(abi::OpenOut::get(&p).fh)
    }

    pub fn opendir(&mut self, node: u64) -> Result<u64, i32> {
        let p = self.ok(op::OPENDIR, node, &abi::OpenIn::default().to_bytes())?;
        Ok(abi::OpenOut::get(&p).fh)
    }

    pub fn create(&mut self, parent: u64, name: &str, flags: u32, mode: u32) -> Result<(abi::EntryOut, u64), i32> {
        let mut a = abi::CreateIn { flags, mode, umask: 0, open_flags: 0 }.to_bytes();
        a.extend(cname(name));
        let p = self.ok(op::CREATE, parent, &a)?;
        assert_eq!(p.len(), abi::EntryOut::SIZE + abi::OpenOut::SIZE);
        Ok((entry(&p), abi::OpenOut::get(&p[abi::EntryOut::SIZE..]).fh))
    }

    pub fn read(&mut self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, i32> {
        self.ok(op::READ, 0, &abi::ReadIn { fh, offset, size, ..Default::default() }.to_bytes())
    }

    pub fn write(&mut self, fh: u64, offset: u64, data: &[u8]) -> Result<u32, i32> {
        let mut a = abi::WriteIn { fh, offset, size: data.len() as u32, ..Default::default() }.to_bytes();
        a.extend_from_slice(data);
        let p = self.ok(op::WRITE, 0, &a)?;
        Ok(abi::WriteOut::get(&p).size)
    }

    pub fn release(&mut self, fh: u64) -> Result<(), i32> {
        self.ok(op::RELEASE, 0, &abi::ReleaseIn { fh, ..Default::default() }.to_bytes()).map(drop)
    }

    pub fn mkdir(&mut self, parent: u64, name: &str, mode: u32) -> Result<abi::EntryOut, i32> {
        let mut a = abi::MkdirIn { mode, umask: 0 }.to_bytes();
        a.extend(cname(name));
        self.ok(op::MKDIR, parent, &a).map(|p| entry(&p))
    }

    pub fn readlink(&mut self, node: u64) -> Result<Vec<u8>, i32> {
        self.ok(op::READLINK, node, &[])
    }

    pub fn rename(&mut self, dir: u64, old: &str, newdir: u64, new: &str, flags: u32) -> Result<(), i32> {
        let mut a = abi::Rename2In { newdir, flags, padding: 0 }.to_bytes();
        a.extend(cname(old));
        a.extend(cname(new));
        self.ok(op::RENAME2, dir, &a).map(drop)
    }

    pub fn link(&mut self, node: u64, newdir: u64, name: &str) -> Result<abi::EntryOut, i32> {
        let mut a = abi::LinkIn { oldnodeid: node }.to_bytes();
        a.extend(cname(name));
        self.ok(op::LINK, newdir, &a).map(|p| entry(&p))
    }

    pub fn symlink(&mut self, parent: u64, name: &str, target: &str) -> Result<abi::EntryOut, i32> {
        let mut a = cname(name);
        a.extend(cname(target));
        self.ok(op::SYMLINK, parent, &a).map(|p| entry(&p))
    }

    pub fn unlink(&mut self, parent: u64, name: &str) -> Result<(), i32> {
        self.ok(op::UNLINK, parent, &cname(name)).map(drop)
    }

    pub fn setattr(&mut self, node: u64, s: abi::SetattrIn) -> Result<abi::Attr, i32> {
        let p = self.ok(op::SETATTR, node, &s.to_bytes())?;
        assert_eq!(p.len(), abi::AttrOut::SIZE);
        Ok(abi::AttrOut::get(&p).attr)
    }

    pub fn mknod(&mut self, parent: u64, name: &str, mode: u32) -> Result<abi::EntryOut, i32> {
        let mut a = abi::MknodIn { mode, rdev: 0, umask: 0, padding: 0 }.to_bytes();
        a.extend(cname(name));
        self.ok(op::MKNOD, parent, &a).map(|p| entry(&p))
    }

    pub fn rmdir(&mut self, parent: u64, name: &str) -> Result<(), i32> {
        self.ok(op::RMDIR, parent, &cname(name)).map(drop)
    }

    pub fn access(&mut self, node: u64, mask: u32) -> Result<(), i32> {
        self.ok(op::ACCESS, node, &abi::AccessIn { mask, padding: 0 }.to_bytes()).map(drop)
    }

    pub fn statfs(&mut self, node: u64) -> Result<abi::Kstatfs, i32> {
        let p = self.ok(op::STATFS, node, &[])?;
        assert_eq!(p.len(), abi::StatfsOut::SIZE);
        Ok(abi::StatfsOut::get(&p).st)
    }

    pub fn lseek(&mut self, fh: u64, offset: i64, whence: u32) -> Result<u64, i32> {
        let a = abi::LseekIn { fh, offset: offset as u64, whence, padding: 0 };
        let p = self.ok(op::LSEEK, 0, &a.to_bytes())?;
        Ok(abi::LseekOut::get(&p).offset)
    }

    pub fn fallocate(&mut self, fh: u64, offset: u64, length: u64, mode: u32) -> Result<(), i32> {
        let a = abi::FallocateIn { fh, offset, length, mode, padding: 0 };
        self.ok(op::FALLOCATE, 0, &a.to_bytes()).map(drop)
    }

    /// FSYNC (FSYNCDIR if `dir`), of the data only if `datasync`.
    pub fn fsync(&mut self, fh: u64, datasync: bool, dir: bool) -> Result<(), i32> {
        let fsync_flags = if datasync { abi::FSYNC_FDATASYNC } else { 0 };
        let a = abi::FsyncIn { fh, fsync_flags, padding: 0 };
        self.ok(if dir { op::FSYNCDIR } else { op::FSYNC }, 0, &a.to_bytes()).map(drop)
    }

    pub fn flush(&mut self, fh: u64) -> Result<(), i32> {
        self.ok(op::FLUSH, 0, &abi::FlushIn { fh, ..Default::default() }.to_bytes()).map(drop)
    }

    pub fn releasedir(&mut self, fh: u64) -> Result<(), i32> {
        self.ok(op::RELEASEDIR, 0, &abi::ReleaseIn { fh, ..Default::default() }.to_bytes()).map(drop)
    }

    pub fn raw(&mut self, opcode: u32, nodeid: u64, args: &[u8]) -> Result<Vec<u8>, i32> {
        self.ok(opcode, nodeid, args)
    }

    /// Lists a directory handle whole: (name, type, entry node id (0 for READDIR)) per entry.
    pub fn list(&mut self, fh: u64, plus: bool, size: u32) -> Vec<(String, u32, u64)> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let opcode = if plus { op::READDIRPLUS } else { op::READDIR };
            let args = abi::ReadIn { fh, offset, size, ..Default::default() }.to_bytes();
            let p = self.ok(opcode, 0, &args).unwrap();
            assert!(p.len() <= size as usize);
            if p.is_empty() {
                return out;
            }
            for (name, d, e) in parse_dir(&p, plus) {
                out.push((name, d.typ, e.nodeid));
                offset = d.off;
            }
        }
    }
}

/// The entries of a READDIR(PLUS) payload.
pub fn parse_dir(p: &[u8], plus: bool) -> Vec<(String, abi::Dirent, abi::EntryOut)> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < p.len() {
        let (e, d, fixed) = if plus {
            let dp = abi::Direntplus::get(&p[at..]);
            (dp.entry_out, dp.dirent, abi::Direntplus::SIZE)
        } else {
            (abi::EntryOut::default(), abi::Dirent::get(&p[at..]), abi::Dirent::SIZE)
        };
        let name = &p[at + fixed..at + fixed + d.namelen as usize];
        v.push((String::from_utf8(name.to_vec()).unwrap(), d, e));
        at += abi::dirent_size(fixed, d.namelen as usize);
    }
    assert_eq!(at, p.len(), "records fill the payload exactly");
    v
}

pub fn entry(p: &[u8]) -> abi::EntryOut {
    assert!(p.len() >= abi::EntryOut::SIZE);
    abi::EntryOut::get(p)
}

/// A reply's framing: a header whose `len` is the reply's length, the request's `unique`, an
/// error that is 0 or a negative errno (with no payload), and no more than `max` bytes.
pub fn check_reply(rep: &[u8], unique: u64, max: usize) {
    assert!(rep.len() >= abi::OutHeader::SIZE && rep.len() <= max, "reply of {} bytes, max {max}", rep.len());
    let h = abi::OutHeader::get(rep);
    assert_eq!(h.len as usize, rep.len());
    assert_eq!(h.unique, unique);
    assert!(h.error <= 0 && h.error > -4096, "error {}", h.error);
    if h.error != 0 {
        assert_eq!(rep.len(), abi::OutHeader::SIZE);
    }
}

/// What a host tree looks like, without following symlinks: per path below the root, its type
/// and permission bits, owner, size, modification and change times, and contents (a file's
/// bytes, a symlink's text, a directory's sorted names).
pub type Snapshot = BTreeMap<PathBuf, (u32, u32, u32, u64, (i64, i64), (i64, i64), Vec<u8>)>;

/// The snapshot of everything under `root` but the paths in `skip` (and what is beneath them).
pub fn snapshot(root: &Path, skip: &[&Path]) -> Snapshot {
    fn walk(at: &Path, skip: &[&Path], out: &mut Snapshot) {
        let m = std::fs::symlink_metadata(at).unwrap();
        let contents = if m.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(at).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            for n in &names {
                let p = at.join(n);
                if !skip.contains(&p.as_path()) {
                    walk(&p, skip, out);
                }
            }
            names.join(std::ffi::OsStr::new("/")).into_encoded_bytes()
        } else if m.is_symlink() {
            std::fs::read_link(at).unwrap().into_os_string().into_encoded_bytes()
        } else if m.is_file() {
            std::fs::read(at).unwrap()
        } else {
            Vec::new()
        };
        let times = ((m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()));
        out.insert(at.to_path_buf(), (m.mode(), m.uid(), m.gid(), m.size(), times.0, times.1, contents));
    }
    let mut out = Snapshot::new();
    walk(root, skip, &mut out);
    out
}
