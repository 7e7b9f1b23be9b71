//! Target `virtio_fs`: the FUSE server of the virtio-fs device, on a small scratch share, fed a
//! session of requests carved from the input.
//!
//! Each input gets a fresh tree `semu-fuzz-fs-<pid>/` (in `$TMPDIR` if set, else in `/dev/shm`
//! when there is one: on a memory file system FSYNC costs nothing, which makes the target several
//! times faster): `share/` (two files, a subdirectory, a hard link, symlinks to a file inside and
//! to the secret and a directory outside) next to a `secret` file and an `outside/` directory. The first byte picks a read-only or read-write
//! server and whether the session starts with a valid INIT (so that the requests after it get
//! past the "not initialized" check). Then each request is either raw bytes or shaped by its
//! opcode (fields from the input; names from a list of the tree's names, `..`, `.`, `""` or raw
//! bytes; node ids and handles the server handed out earlier, or any), under a header that may
//! lie about its length or extensions, with its own size of the reply buffers.
//!
//! Checked: every reply is well framed (`len` is its length, at most the buffers' size, the
//! request's `unique`, an error 0 or a negative errno with no payload), requests that take no
//! reply get none, successful replies have their operation's shape (fixed sizes; READ and
//! READDIR within what was asked and `MAX_READ`; directory records filling the payload exactly),
//! and after the session nothing outside the share changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use semu_virtio_fs::abi::{self, op, Field, Wire};
use semu_virtio_fs::{Server, MAX_READ};

use super::bytes::Bytes;

/// Requests per input.
const MAX_REQUESTS: usize = 64;
/// The reply buffers' size when the input does not choose one (as the device gives them).
const BIG_REPLY: usize = MAX_READ + 4096;
/// What the secret holds.
const SECRET: &[u8] = b"the host's secret: never read or changed by the guest\n";
/// The names requests use (indexed by a byte of the input).
const NAMES: &[&str] =
    &["a.txt", "sub", "b.txt", "link", "out", "abs", "dir", "hard", "new", "x", "..", ".", "", "fifo"];
/// The opcodes shaped requests use (indexed by a byte of the input).
const OPCODES: &[u32] = &[
    op::LOOKUP,
    op::FORGET,
    op::GETATTR,
    op::SETATTR,
    op::READLINK,
    op::SYMLINK,
    op::MKNOD,
    op::MKDIR,
    op::UNLINK,
    op::RMDIR,
    op::RENAME,
    op::LINK,
    op::OPEN,
    op::READ,
    op::WRITE,
    op::STATFS,
    op::RELEASE,
    op::FSYNC,
    op::SETXATTR,
    op::GETXATTR,
    op::LISTXATTR,
    op::REMOVEXATTR,
    op::FLUSH,
    op::INIT,
    op::OPENDIR,
    op::READDIR,
    op::RELEASEDIR,
    op::FSYNCDIR,
    op::ACCESS,
    op::CREATE,
    op::INTERRUPT,
    op::DESTROY,
    op::BATCH_FORGET,
    op::FALLOCATE,
    op::READDIRPLUS,
    op::RENAME2,
    op::LSEEK,
];

/// The scratch tree of one input, removed when dropped.
struct Tree {
    base: PathBuf,
    /// Names in `base` and in `base/outside`, and the secret's modification time.
    outside: (Vec<String>, Vec<String>, std::time::SystemTime),
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("a scratch directory")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

impl Tree {
    fn new() -> Tree {
        let shm = Path::new("/dev/shm");
        let tmp = if std::env::var_os("TMPDIR").is_none() && shm.is_dir() { shm.into() } else { std::env::temp_dir() };
        let base = tmp.join(format!("semu-fuzz-fs-{}", std::process::id()));
        remove(&base);
        let share = base.join("share");
        let w = |p: &str, data: &[u8]| std::fs::write(base.join(p), data).expect("a scratch file");
        std::fs::create_dir_all(share.join("sub")).expect("a scratch directory");
        std::fs::create_dir(base.join("outside")).expect("a scratch directory");
        w("secret", SECRET);
        w("outside/x", b"outside");
        w("share/a.txt", b"a small text file in the share\n");
        w("share/sub/b.txt", &[0x5a; 5000]);
        std::fs::hard_link(share.join("a.txt"), share.join("hard")).expect("a hard link");
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, share.join(name)).expect("a symlink");
        link(Path::new("a.txt"), "link");
        link(Path::new("../secret"), "out");
        link(&base.join("secret"), "abs");
        link(Path::new("../outside"), "dir");
        let mtime = std::fs::metadata(base.join("secret")).and_then(|m| m.modified()).expect("the secret's mtime");
        let outside = (names(&base), names(&base.join("outside")), mtime);
        Tree { base, outside }
    }

    /// Nothing outside the share changed.
    fn check(&self) {
        let secret = self.base.join("secret");
        assert_eq!(std::fs::read(&secret).expect("the secret"), SECRET, "the secret changed");
        let mtime = std::fs::metadata(&secret).and_then(|m| m.modified()).expect("the secret's mtime");
        let now = (names(&self.base), names(&self.base.join("outside")), mtime);
        assert_eq!(now, self.outside, "something outside the share changed");
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        remove(&self.base);
    }
}

/// Removes `p` and everything beneath, whatever modes the guest left (never following links).
fn remove(p: &Path) {
    fn open_up(p: &Path) {
        let Ok(m) = std::fs::symlink_metadata(p) else { return };
        if m.is_dir() {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(p);
    let _ = std::fs::remove_dir_all(p);
}

/// What the session learned from the server's replies.
struct Known {
    nodes: Vec<u64>,
    handles: Vec<u64>,
}

impl Known {
    fn node(&mut self, id: u64) {
        if id != 0 && !self.nodes.contains(&id) && self.nodes.len() < 64 {
            self.nodes.push(id);
        }
    }

    fn handle(&mut self, fh: u64) {
        if !self.handles.contains(&fh) && self.handles.len() < 64 {
            self.handles.push(fh);
        }
    }
}

fn node(b: &mut Bytes, k: &Known) -> u64 {
    let sel = b.u8();
    match sel % 8 {
        0 => b.u64(),
        1 => 0,
        _ => k.nodes[usize::from(sel / 8) % k.nodes.len()],
    }
}

fn handle(b: &mut Bytes, k: &Known) -> u64 {
    let sel = b.u8();
    match (sel % 8, k.handles.len()) {
        (0, _) => b.u64(),
        (_, 0) => u64::from(sel / 8),
        (_, n) => k.handles[usize::from(sel / 8) % n],
    }
}

fn offset(b: &mut Bytes) -> u64 {
    if b.u8().is_multiple_of(4) {
        b.u64()
    } else {
        u64::from(b.u16())
    }
}

/// A NUL-terminated name: one from `NAMES`, or raw bytes (slashes and NULs included).
fn name(b: &mut Bytes, v: &mut Vec<u8>) {
    let sel = b.u8();
    if sel >= 0xf0 {
        v.extend_from_slice(b.take(usize::from(sel & 0xf)));
    } else {
        v.extend_from_slice(NAMES[usize::from(sel) % NAMES.len()].as_bytes());
    }
    v.push(0);
}

/// The arguments of a request shaped like `opcode`'s.
fn args(opcode: u32, b: &mut Bytes, k: &Known) -> Vec<u8> {
    let mut v = Vec::new();
    match opcode {
        op::READLINK | op::STATFS | op::DESTROY => {}
        op::LOOKUP | op::UNLINK | op::RMDIR | op::SETXATTR | op::REMOVEXATTR => name(b, &mut v),
        op::FORGET => v.extend(abi::ForgetIn { nlookup: u64::from(b.u8()) }.to_bytes()),
        op::GETATTR => {
            let getattr_flags = u32::from(b.u8());
            v.extend(abi::GetattrIn { getattr_flags, dummy: 0, fh: handle(b, k) }.to_bytes());
        }
        op::SETATTR => {
            let s = abi::SetattrIn {
                valid: u32::from(b.u16()),
                fh: handle(b, k),
                size: offset(b),
                atime: u64::from(b.u32()),
                mtime: u64::from(b.u32()),
                atimensec: b.u32(),
                mtimensec: b.u32(),
                mode: u32::from(b.u16()),
                uid: b.u32(),
                gid: b.u32(),
                ..Default::default()
            };
            v.extend(s.to_bytes());
        }
        op::SYMLINK => {
            name(b, &mut v);
            name(b, &mut v);
        }
        op::MKNOD => {
            v.extend(abi::MknodIn { mode: u32::from(b.u16()), ..Default::default() }.to_bytes());
            name(b, &mut v);
        }
        op::MKDIR => {
            v.extend(abi::MkdirIn { mode: u32::from(b.u16()), umask: 0 }.to_bytes());
            name(b, &mut v);
        }
        op::RENAME | op::RENAME2 => {
            let newdir = node(b, k);
            if opcode == op::RENAME {
                v.extend(abi::RenameIn { newdir }.to_bytes());
            } else {
                v.extend(abi::Rename2In { newdir, flags: u32::from(b.u8()), padding: 0 }.to_bytes());
            }
            name(b, &mut v);
            name(b, &mut v);
        }
        op::LINK => {
            v.extend(abi::LinkIn { oldnodeid: node(b, k) }.to_bytes());
            name(b, &mut v);
        }
        op::OPEN | op::OPENDIR => v.extend(abi::OpenIn { flags: b.u32(), open_flags: 0 }.to_bytes()),
        op::READ | op::READDIR | op::READDIRPLUS => {
            let fh = handle(b, k);
            let offset = offset(b);
            let size = if b.u8().is_multiple_of(4) { b.u32() } else { u32::from(b.u16()) };
            v.extend(abi::ReadIn { fh, offset, size, ..Default::default() }.to_bytes());
        }
        op::WRITE => {
            let fh = handle(b, k);
            let offset = offset(b);
            let n = usize::from(b.u16() % 8192);
            let data = b.take(n);
            v.extend(abi::WriteIn { fh, offset, size: data.len() as u32, ..Default::default() }.to_bytes());
            v.extend_from_slice(data);
        }
        op::RELEASE | op::RELEASEDIR => v.extend(abi::ReleaseIn { fh: handle(b, k), ..Default::default() }.to_bytes()),
        op::FSYNC | op::FSYNCDIR => {
            let fh = handle(b, k);
            v.extend(abi::FsyncIn { fh, fsync_flags: u32::from(b.u8()), padding: 0 }.to_bytes());
        }
        op::FLUSH => v.extend(abi::FlushIn { fh: handle(b, k), ..Default::default() }.to_bytes()),
        op::INIT => {
            let i = abi::InitIn {
                major: u32::from(b.u8()),
                minor: u32::from(b.u8()),
                max_readahead: b.u32(),
                flags: b.u32(),
                ..Default::default()
            };
            v.extend(i.to_bytes());
        }
        op::ACCESS => v.extend(abi::AccessIn { mask: u32::from(b.u8()), padding: 0 }.to_bytes()),
        op::CREATE => {
            let c = abi::CreateIn { flags: b.u32(), mode: u32::from(b.u16()), umask: 0, open_flags: 0 };
            v.extend(c.to_bytes());
            name(b, &mut v);
        }
        op::INTERRUPT => v.extend(abi::InterruptIn { unique: b.u64() }.to_bytes()),
        op::BATCH_FORGET => {
            let c = b.u8();
            let n = c % 8;
            let count = if c & 0x80 != 0 { b.u32() } else { u32::from(n) };
            v.extend(abi::BatchForgetIn { count, dummy: 0 }.to_bytes());
            for _ in 0..n {
                let nodeid = node(b, k);
                v.extend(abi::ForgetOne { nodeid, nlookup: u64::from(b.u8()) }.to_bytes());
            }
        }
        op::FALLOCATE => {
            let fh = handle(b, k);
            let offset = offset(b);
            let length = u64::from(b.u32());
            v.extend(abi::FallocateIn { fh, offset, length, mode: u32::from(b.u8()), padding: 0 }.to_bytes());
        }
        op::LSEEK => {
            let fh = handle(b, k);
            let offset = offset(b);
            v.extend(abi::LseekIn { fh, offset, whence: u32::from(b.u8() % 6), padding: 0 }.to_bytes());
        }
        op::GETXATTR | op::LISTXATTR => {
            v.extend(abi::GetxattrIn { size: u32::from(b.u16()), padding: 0 }.to_bytes());
            name(b, &mut v);
        }
        _ => {
            let n = usize::from(b.u8());
            v.extend_from_slice(b.take(n));
        }
    }
    v
}

/// Keeps a FALLOCATE (however it is framed) under 1 MiB: the scratch tree is on a real disk.
fn tame(request: &mut [u8]) {
    if request.get(4..8).map(u32::get) == Some(op::FALLOCATE) {
        if let Some(len) = request.get_mut(40 + 16..40 + 24) {
            let n = u64::get(len) % (1 << 20);
            n.put(len);
        }
    }
}

/// The payload size a successful reply to `opcode` has, when it is fixed.
fn fixed(opcode: u32) -> Option<usize> {
    Some(match opcode {
        op::LOOKUP | op::MKNOD | op::MKDIR | op::SYMLINK | op::LINK => abi::EntryOut::SIZE,
        op::CREATE => abi::EntryOut::SIZE + abi::OpenOut::SIZE,
        op::GETATTR | op::SETATTR => abi::AttrOut::SIZE,
        op::OPEN | op::OPENDIR => abi::OpenOut::SIZE,
        op::WRITE => abi::WriteOut::SIZE,
        op::STATFS => abi::StatfsOut::SIZE,
        op::LSEEK => abi::LseekOut::SIZE,
        op::UNLINK | op::RMDIR | op::RENAME | op::RENAME2 | op::RELEASE | op::RELEASEDIR | op::FSYNC => 0,
        op::FSYNCDIR | op::FLUSH | op::ACCESS | op::DESTROY | op::FALLOCATE => 0,
        _ => return None,
    })
}

/// Checks a reply to `request` (given `max` bytes of buffers) and learns from it.
fn check(request: &[u8], max: usize, reply: Option<Vec<u8>>, k: &mut Known) {
    let opcode = request.get(4..8).map(u32::get);
    let silent = matches!(opcode, Some(op::FORGET | op::BATCH_FORGET | op::INTERRUPT));
    let Some(rep) = reply else {
        assert!(request.len() < 16 || max < 16 || silent, "no reply to opcode {opcode:?} with {max} bytes of room");
        return;
    };
    assert!(!silent, "a reply to opcode {opcode:?}, which takes none");
    assert!(request.len() >= 16 && max >= 16, "a reply to an unanswerable request");
    assert!(rep.len() >= abi::OutHeader::SIZE && rep.len() <= max, "a reply of {} bytes for {max}", rep.len());
    let h = abi::OutHeader::get(&rep);
    assert_eq!(h.len as usize, rep.len(), "the header's len");
    assert_eq!(h.unique, u64::get(&request[8..16]), "the unique echoed");
    assert!(h.error <= 0 && h.error > -4096, "error {}", h.error);
    let p = &rep[abi::OutHeader::SIZE..];
    if h.error != 0 {
        assert!(p.is_empty(), "an error with a payload");
        return;
    }
    let Some(opcode) = opcode else { return };
    if let Some(size) = fixed(opcode) {
        assert_eq!(p.len(), size, "the reply to opcode {opcode}");
    }
    // The arguments as sent (for the sizes asked), where the request holds them.
    let read_in = request.get(40..40 + abi::ReadIn::SIZE).map(abi::ReadIn::get);
    match opcode {
        op::LOOKUP | op::MKNOD | op::MKDIR | op::SYMLINK | op::LINK | op::CREATE => {
            let e = abi::EntryOut::get(p);
            assert!(e.nodeid > 1, "a new entry is not the root: {}", e.nodeid);
            k.node(e.nodeid);
            if opcode == op::CREATE {
                k.handle(abi::OpenOut::get(&p[abi::EntryOut::SIZE..]).fh);
            }
        }
        op::OPEN | op::OPENDIR => k.handle(abi::OpenOut::get(p).fh),
        op::INIT => assert!(matches!(p.len(), 8 | 24 | 64), "INIT's reply of {} bytes", p.len()),
        op::READ => {
            let asked = read_in.map_or(0, |r| r.size as usize);
            assert!(p.len() <= asked.min(MAX_READ), "READ gave {} bytes for {asked}", p.len());
        }
        op::READDIR | op::READDIRPLUS => {
            let asked = read_in.map_or(0, |r| r.size as usize);
            assert!(p.len() <= asked.min(MAX_READ), "READDIR gave {} bytes for {asked}", p.len());
            let plus = opcode == op::READDIRPLUS;
            let fixed = if plus { abi::Direntplus::SIZE } else { abi::Dirent::SIZE };
            let mut at = 0;
            while at < p.len() {
                assert!(at + fixed <= p.len(), "a cut directory record");
                let (d, nodeid) = if plus {
                    let dp = abi::Direntplus::get(&p[at..]);
                    (dp.dirent, dp.entry_out.nodeid)
                } else {
                    (abi::Dirent::get(&p[at..]), 0)
                };
                let n = d.namelen as usize;
                assert!((1..=255).contains(&n), "a name of {n} bytes");
                let size = abi::dirent_size(fixed, n);
                assert!(at + size <= p.len(), "a directory record past the payload");
                let name = &p[at + fixed..at + fixed + n];
                assert!(!name.contains(&b'/') && !name.contains(&0), "a name with / or NUL");
                assert!(p[at + fixed + n..at + size].iter().all(|&x| x == 0), "padding that is not zeros");
                k.node(nodeid);
                at += size;
            }
        }
        op::WRITE => {
            let sent = request.len().saturating_sub(40 + abi::WriteIn::SIZE);
            assert!(abi::WriteOut::get(p).size as usize <= sent, "WRITE wrote more than it was given");
        }
        _ => {}
    }
}

/// Whether to print each request and its reply's error and size (`SEMU_FUZZ_TRACE=1`, to see
/// what an input does).
fn trace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SEMU_FUZZ_TRACE").is_some())
}

/// One session on a fresh tree.
fn session(b: &mut Bytes) {
    let tree = Tree::new();
    let setup = b.u8();
    let mut server = Server::new(&tree.base.join("share"), setup & 1 != 0).expect("a server on the scratch share");
    let mut k = Known { nodes: vec![abi::ROOT_ID], handles: Vec::new() };
    let mut unique = 0u64;
    if setup & 2 == 0 {
        let init = abi::InitIn { major: 7, minor: 38, max_readahead: 1 << 17, flags: u32::MAX, ..Default::default() };
        let mut req = abi::InHeader { len: 104, opcode: op::INIT, unique, ..Default::default() }.to_bytes();
        req.extend(init.to_bytes());
        let rep = server.handle(&req, BIG_REPLY);
        assert_eq!(rep.as_ref().map(|r| abi::OutHeader::get(r).error), Some(0), "INIT");
        check(&req, BIG_REPLY, rep, &mut k);
    }
    for _ in 0..MAX_REQUESTS {
        if b.is_empty() {
            break;
        }
        unique = unique.wrapping_add(1);
        let kind = b.u8();
        let max = match b.u8() % 8 {
            0 => usize::from(b.u8()),
            1 => usize::from(b.u16()),
            _ => BIG_REPLY,
        };
        let mut req = if kind % 16 == 15 {
            let n = usize::from(b.u16() % 1024);
            b.take(n).to_vec()
        } else {
            let opcode = if kind & 0x80 != 0 { b.u32() } else { OPCODES[usize::from(b.u8()) % OPCODES.len()] };
            let nodeid = node(b, &k);
            let args = args(opcode, b, &k);
            let mut len = (abi::InHeader::SIZE + args.len()) as u32;
            if kind & 0x40 != 0 {
                len = len.wrapping_add(b.u8() as i8 as u32);
            }
            let total_extlen = if kind & 0x20 != 0 { u16::from(b.u8() % 4) } else { 0 };
            if kind & 0x10 != 0 {
                unique = b.u64();
            }
            let h = abi::InHeader { len, opcode, unique, nodeid, total_extlen, ..Default::default() };
            let mut req = h.to_bytes();
            req.extend(args);
            req
        };
        tame(&mut req);
        let rep = server.handle(&req, max);
        if trace() {
            let h = req.get(..40).map(abi::InHeader::get);
            let r = rep.as_ref().map(|r| (abi::OutHeader::get(r).error, r.len() - abi::OutHeader::SIZE));
            eprintln!("{h:?} ({} bytes, room {max}) -> {r:?}", req.len());
        }
        check(&req, max, rep, &mut k);
    }
    let (nodes, _) = server.open_counts();
    assert!(nodes >= 1, "the root is always known");
    drop(server);
    tree.check();
}

/// The target.
pub fn run(data: &[u8]) {
    // One session at a time (the stable replay runs targets on threads): the tree is per process.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    session(&mut Bytes::new(data));
}
