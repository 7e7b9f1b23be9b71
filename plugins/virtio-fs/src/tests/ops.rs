//! Every operation on a scratch directory, each checked against the host with `std::fs`.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use super::*;
use crate::abi::{fattr, oflag, rename};

/// The host's `lstat` of `p`.
fn lstat(p: &Path) -> fs::Metadata {
    fs::symlink_metadata(p).unwrap()
}

/// The attributes the guest got are exactly the host's `lstat`.
fn assert_attr(a: &abi::Attr, m: &fs::Metadata) {
    assert_eq!(a.ino, m.ino(), "ino");
    assert_eq!(a.mode, m.mode(), "mode");
    assert_eq!(u64::from(a.nlink), m.nlink(), "nlink");
    assert_eq!((a.uid, a.gid), (m.uid(), m.gid()), "owner");
    assert_eq!(a.size, m.size(), "size");
    assert_eq!(a.blocks, m.blocks(), "blocks");
    assert_eq!(u64::from(a.blksize), m.blksize(), "blksize");
    assert_eq!(u64::from(a.rdev), m.rdev(), "rdev");
    assert_eq!((a.atime as i64, i64::from(a.atimensec)), (m.atime(), m.atime_nsec()), "atime");
    assert_eq!((a.mtime as i64, i64::from(a.mtimensec)), (m.mtime(), m.mtime_nsec()), "mtime");
    assert_eq!((a.ctime as i64, i64::from(a.ctimensec)), (m.ctime(), m.ctime_nsec()), "ctime");
}

fn setup(what: &str) -> (Scratch, Guest) {
    let dir = Scratch::new(what);
    let g = Guest::new(dir.path(), false);
    (dir, g)
}

const RW_CREATE: u32 = oflag::RDWR | oflag::CREAT;

#[test]
fn lookup_and_getattr_of_files_dirs_and_symlinks_are_the_host_lstat() {
    let (dir, mut g) = setup("lookup");
    fs::write(dir.join("file"), b"twelve bytes").unwrap();
    fs::create_dir(dir.join("dir")).unwrap();
    fs::write(dir.join("dir/inner"), b"x").unwrap();
    std::os::unix::fs::symlink("file", dir.join("link")).unwrap();

    let mut ids = BTreeSet::new();
    for (name, kind) in [("file", libc::S_IFREG), ("dir", libc::S_IFDIR), ("link", libc::S_IFLNK)] {
        let e = g.lookup(1, name).unwrap();
        let m = lstat(&dir.join(name));
        assert_eq!(e.attr.mode & libc::S_IFMT, kind, "{name}");
        assert_attr(&e.attr, &m);
        assert!(e.nodeid > 1 && ids.insert(e.nodeid), "a new node id for {name}");
        assert_eq!((e.entry_valid, e.attr_valid), (1, 1));
        assert_attr(&g.getattr(e.nodeid).unwrap(), &m);
        // Looking the same object up again gives the same node.
        assert_eq!(g.lookup(1, name).unwrap().nodeid, e.nodeid);
    }
    // The symlink's attributes are the link's, not its target's.
    let link = g.lookup(1, "link").unwrap();
    assert_eq!(link.attr.size, 4);
    assert_ne!(link.attr.ino, lstat(&dir.join("file")).ino());

    let d = g.lookup(1, "dir").unwrap().nodeid;
    assert_attr(&g.lookup(d, "inner").unwrap().attr, &lstat(&dir.join("dir/inner")));
    assert_attr(&g.getattr(1).unwrap(), &lstat(dir.path()));
    assert_eq!(g.lookup(1, "missing").unwrap_err(), libc::ENOENT);
    let f = g.lookup(1, "file").unwrap().nodeid;
    assert_eq!(g.lookup(f, "inner").unwrap_err(), libc::ENOTDIR);
    // Every lookup above is one more count on a node: 3 nodes + dir's inner + the root.
    assert_eq!(g.s.open_counts(), (5, 0));
}

#[test]
fn create_write_and_read_back() {
    let (dir, mut g) = setup("create");
    let (e, fh) = g.create(1, "new", RW_CREATE, 0o666).unwrap();
    let p = dir.join("new");
    assert_attr(&e.attr, &lstat(&p));
    // Exactly the guest's mode, whatever the host's umask took away.
    assert_eq!(lstat(&p).mode(), libc::S_IFREG | 0o666);
    assert_eq!(g.write(fh, 0, b"hello world").unwrap(), 11);
    assert_eq!(g.write(fh, 100, b"after a hole").unwrap(), 12);
    let mut want = b"hello world".to_vec();
    want.resize(100, 0);
    want.extend(b"after a hole");
    assert_eq!(fs::read(&p).unwrap(), want);
    assert_eq!(g.read(fh, 0, 4096).unwrap(), want);
    assert_eq!(g.read(fh, 6, 5).unwrap(), b"world");
    assert_eq!(g.read(fh, 1000, 10).unwrap(), b"");
    assert_eq!(g.getattr(e.nodeid).unwrap().size, 112);
    g.release(fh).unwrap();

    // An existing name is opened (same node) unless the guest asked for O_EXCL.
    let (again, fh2) = g.create(1, "new", oflag::RDONLY | oflag::CREAT, 0o600).unwrap();
    assert_eq!(again.nodeid, e.nodeid);
    assert_eq!(g.read(fh2, 0, 5).unwrap(), b"hello");
    assert_eq!(lstat(&p).mode() & 0o7777, 0o666, "an existing file keeps its mode");
    assert_eq!(g.create(1, "new", RW_CREATE | oflag::EXCL, 0o600).unwrap_err(), libc::EEXIST);
    // O_TRUNC on an existing file empties it.
    let (_, fh3) = g.create(1, "new", oflag::WRONLY | oflag::CREAT | oflag::TRUNC, 0o600).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"");
    // A read-only handle does not write.
    assert!(g.write(fh2, 0, b"x").is_err());
    for fh in [fh2, fh3] {
        g.release(fh).unwrap();
    }

    // OPEN with O_TRUNC through an existing node.
    fs::write(&p, b"some content").unwrap();
    let fh = g.open(e.nodeid, oflag::RDWR | oflag::TRUNC).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"");
    g.write(fh, 0, b"abc").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"abc");
    g.release(fh).unwrap();
}

#[test]
fn append_writes_at_the_end_whatever_the_offset() {
    let (dir, mut g) = setup("append");
    fs::write(dir.join("log"), b"abc").unwrap();
    let n = g.lookup(1, "log").unwrap().nodeid;
    let fh = g.open(n, oflag::WRONLY | oflag::APPEND).unwrap();
    assert_eq!(g.write(fh, 0, b"def").unwrap(), 3);
    assert_eq!(g.write(fh, 1, b"ghi").unwrap(), 3);
    assert_eq!(fs::read(dir.join("log")).unwrap(), b"abcdefghi");
    // Without O_APPEND the offset is honoured.
    let fh2 = g.open(n, oflag::WRONLY).unwrap();
    g.write(fh2, 1, b"X").unwrap();
    assert_eq!(fs::read(dir.join("log")).unwrap(), b"aXcdefghi");
}

#[test]
fn rename_rename2_noreplace_and_exchange() {
    let (dir, mut g) = setup("rename");
    fs::write(dir.join("a"), b"A").unwrap();
    fs::write(dir.join("b"), b"B").unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    let sub = g.lookup(1, "sub").unwrap().nodeid;

    // Old-style RENAME (fuse_rename_in).
    let mut args = abi::RenameIn { newdir: 1 }.to_bytes();
    args.extend(cname("a"));
    args.extend(cname("c"));
    g.raw(op::RENAME, 1, &args).unwrap();
    assert!(!dir.join("a").exists());
    assert_eq!(fs::read(dir.join("c")).unwrap(), b"A");

    assert_eq!(g.rename(1, "c", 1, "b", rename::NOREPLACE).unwrap_err(), libc::EEXIST);
    assert_eq!(fs::read(dir.join("b")).unwrap(), b"B");
    assert_eq!(fs::read(dir.join("c")).unwrap(), b"A");

    g.rename(1, "c", 1, "b", rename::EXCHANGE).unwrap();
    assert_eq!(fs::read(dir.join("b")).unwrap(), b"A");
    assert_eq!(fs::read(dir.join("c")).unwrap(), b"B");
    assert_eq!(g.rename(1, "c", 1, "nothing", rename::EXCHANGE).unwrap_err(), libc::ENOENT);
    assert_eq!(g.rename(1, "c", 1, "b", rename::EXCHANGE | rename::NOREPLACE).unwrap_err(), libc::EINVAL);
    assert_eq!(g.rename(1, "c", 1, "b", 1 << 2).unwrap_err(), libc::EINVAL, "RENAME_WHITEOUT is refused");

    // Across directories, replacing (flags 0).
    g.rename(1, "c", sub, "d", 0).unwrap();
    assert_eq!(fs::read(dir.join("sub/d")).unwrap(), b"B");
    fs::write(dir.join("e"), b"E").unwrap();
    g.rename(1, "e", sub, "d", 0).unwrap();
    assert_eq!(fs::read(dir.join("sub/d")).unwrap(), b"E");
    assert_eq!(g.rename(1, "missing", 1, "x", 0).unwrap_err(), libc::ENOENT);
    // A directory into itself.
    assert_eq!(g.rename(1, "sub", sub, "inside", 0).unwrap_err(), libc::EINVAL);
}

#[test]
fn a_node_keeps_naming_its_file_across_host_and_guest_renames() {
    let (dir, mut g) = setup("moved");
    fs::create_dir(dir.join("sub")).unwrap();
    fs::write(dir.join("f"), b"the same file").unwrap();
    fs::write(dir.join("other"), b"another file").unwrap();
    let e = g.lookup(1, "f").unwrap();
    let ino = e.attr.ino;

    // Renamed on the host, and another file takes its old name.
    fs::rename(dir.join("f"), dir.join("g")).unwrap();
    fs::rename(dir.join("other"), dir.join("f")).unwrap();
    assert_eq!(g.getattr(e.nodeid).unwrap().ino, ino);
    let fh = g.open(e.nodeid, oflag::RDONLY).unwrap();
    assert_eq!(g.read(fh, 0, 100).unwrap(), b"the same file");
    g.release(fh).unwrap();
    assert_eq!(g.lookup(1, "g").unwrap().nodeid, e.nodeid);
    assert_ne!(g.lookup(1, "f").unwrap().nodeid, e.nodeid);

    // Renamed by the guest, into a subdirectory.
    let sub = g.lookup(1, "sub").unwrap().nodeid;
    g.rename(1, "g", sub, "h", 0).unwrap();
    assert_eq!(g.getattr(e.nodeid).unwrap().ino, ino);
    let fh = g.open(e.nodeid, oflag::RDWR).unwrap();
    g.write(fh, 0, b"THE").unwrap();
    assert_eq!(fs::read(dir.join("sub/h")).unwrap(), b"THE same file");
    assert_eq!(g.lookup(sub, "h").unwrap().nodeid, e.nodeid);

    // Unlinked on the host: still the same (now nameless) file.
    fs::remove_file(dir.join("sub/h")).unwrap();
    let a = g.getattr(e.nodeid).unwrap();
    assert_eq!((a.ino, a.nlink), (ino, 0));
    assert_eq!(g.read(fh, 0, 100).unwrap(), b"THE same file");
}

#[test]
fn setattr_chmod_chown_utimens_and_truncate() {
    let (dir, mut g) = setup("setattr");
    let p = dir.join("f");
    fs::write(&p, b"0123456789").unwrap();
    let n = g.lookup(1, "f").unwrap().nodeid;

    let a = g.setattr(n, abi::SetattrIn { valid: fattr::MODE, mode: libc::S_IFREG | 0o4751, ..Default::default() });
    assert_attr(&a.unwrap(), &lstat(&p));
    assert_eq!(lstat(&p).mode(), libc::S_IFREG | 0o4751);
    g.setattr(n, abi::SetattrIn { valid: fattr::MODE, mode: 0o600, ..Default::default() }).unwrap();
    assert_eq!(lstat(&p).permissions().mode() & 0o7777, 0o600);

    // chown to the owner it has (allowed to anyone).
    let m = lstat(&p);
    let s = abi::SetattrIn { valid: fattr::UID | fattr::GID, uid: m.uid(), gid: m.gid(), ..Default::default() };
    assert_attr(&g.setattr(n, s).unwrap(), &lstat(&p));

    let s = abi::SetattrIn {
        valid: fattr::ATIME | fattr::MTIME,
        atime: 1_000_000_000,
        atimensec: 123_456_789,
        mtime: 1_500_000_000,
        mtimensec: 987_654_321,
        ..Default::default()
    };
    let a = g.setattr(n, s).unwrap();
    let m = lstat(&p);
    assert_eq!((m.atime(), m.atime_nsec()), (1_000_000_000, 123_456_789));
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_500_000_000, 987_654_321));
    assert_attr(&a, &m);
    // Only the modification time, to now; the access time stays.
    g.setattr(n, abi::SetattrIn { valid: fattr::MTIME_NOW | fattr::MTIME, ..Default::default() }).unwrap();
    let m = lstat(&p);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - m.mtime()).abs() < 60, "mtime {} is now ({now})", m.mtime());
    assert_eq!((m.atime(), m.atime_nsec()), (1_000_000_000, 123_456_789));
    let bad = abi::SetattrIn { valid: fattr::MTIME, mtimensec: 1_000_000_000, ..Default::default() };
    assert_eq!(g.setattr(n, bad).unwrap_err(), libc::EINVAL);

    // Truncation by the node, growing and shrinking.
    g.setattr(n, abi::SetattrIn { valid: fattr::SIZE, size: 4, ..Default::default() }).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"0123");
    let a = g.setattr(n, abi::SetattrIn { valid: fattr::SIZE, size: 6, ..Default::default() }).unwrap();
    assert_eq!((a.size, fs::read(&p).unwrap()), (6, b"0123\0\0".to_vec()));
    // Through an open handle, even on a file the owner may not write (the handle decides).
    let fh = g.open(n, oflag::RDWR).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o400)).unwrap();
    let s = abi::SetattrIn { valid: fattr::SIZE | fattr::FH, fh, size: 2, ..Default::default() };
    assert_eq!(g.setattr(n, s).unwrap().size, 2);
    assert_eq!(fs::read(&p).unwrap(), b"01");
    assert_eq!(
        g.setattr(n, abi::SetattrIn { valid: fattr::SIZE, size: 1 << 63, ..Default::default() }),
        Err(libc::EFBIG)
    );

    // Not on directories or symlinks.
    fs::create_dir(dir.join("d")).unwrap();
    std::os::unix::fs::symlink("f", dir.join("l")).unwrap();
    let d = g.lookup(1, "d").unwrap().nodeid;
    let l = g.lookup(1, "l").unwrap().nodeid;
    assert_eq!(g.setattr(d, abi::SetattrIn { valid: fattr::SIZE, ..Default::default() }), Err(libc::EISDIR));
    assert_eq!(g.setattr(l, abi::SetattrIn { valid: fattr::SIZE, ..Default::default() }), Err(libc::EINVAL));
    assert_eq!(
        g.setattr(l, abi::SetattrIn { valid: fattr::MODE, mode: 0o777, ..Default::default() }),
        Err(libc::EOPNOTSUPP)
    );
    assert_eq!(fs::read(&p).unwrap(), b"01", "the symlink's target is untouched");
    // A directory's mode and times.
    g.setattr(d, abi::SetattrIn { valid: fattr::MODE | fattr::MTIME, mode: 0o711, mtime: 7, ..Default::default() })
        .unwrap();
    let m = lstat(&dir.join("d"));
    assert_eq!((m.mode(), m.mtime()), (libc::S_IFDIR | 0o711, 7));
}

#[test]
fn symlink_and_readlink_keep_the_text_verbatim() {
    let (dir, mut g) = setup("symlink");
    let text = "../weird//path/./with spaces/and\u{e9}/";
    let e = g.symlink(1, "l", text).unwrap();
    assert_eq!(e.attr.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_attr(&e.attr, &lstat(&dir.join("l")));
    assert_eq!(fs::read_link(dir.join("l")).unwrap().to_str().unwrap(), text);
    assert_eq!(g.readlink(e.nodeid).unwrap(), text.as_bytes());
    assert_eq!(g.lookup(1, "l").unwrap().nodeid, e.nodeid);
    assert_eq!(g.symlink(1, "l", "other").unwrap_err(), libc::EEXIST);
    // The longest text there is.
    let long = "x/".repeat(2047);
    let e2 = g.symlink(1, "long", &long).unwrap();
    assert_eq!(g.readlink(e2.nodeid).unwrap(), long.as_bytes());
    // A reply buffer too small for the text is an error, never a cut text.
    assert_eq!(g.call_max(op::READLINK, e2.nodeid, &[], 16 + 100), (-libc::ERANGE, vec![]));
    assert_eq!(g.call_max(op::READLINK, e2.nodeid, &[], 16 + long.len()).1, long.as_bytes());
    // Not on a file.
    fs::write(dir.join("f"), b"").unwrap();
    let f = g.lookup(1, "f").unwrap().nodeid;
    assert_eq!(g.readlink(f).unwrap_err(), libc::EINVAL);
    assert_eq!(g.symlink(1, "empty", "").unwrap_err(), libc::ENOENT);
}

#[test]
fn hard_links_share_the_node_and_count_two() {
    let (dir, mut g) = setup("link");
    fs::write(dir.join("f"), b"x").unwrap();
    fs::create_dir(dir.join("sub")).unwrap();
    let f = g.lookup(1, "f").unwrap();
    let sub = g.lookup(1, "sub").unwrap().nodeid;
    let l = g.link(f.nodeid, sub, "f2").unwrap();
    assert_eq!(l.nodeid, f.nodeid, "the same inode is the same node");
    assert_eq!(l.attr.nlink, 2);
    let m = lstat(&dir.join("sub/f2"));
    assert_eq!((m.ino(), m.nlink()), (f.attr.ino, 2));
    assert_attr(&l.attr, &m);
    assert_eq!(g.getattr(f.nodeid).unwrap().nlink, 2);
    assert_eq!(g.link(f.nodeid, sub, "f2").unwrap_err(), libc::EEXIST);
    assert_eq!(g.link(sub, 1, "dirlink").unwrap_err(), libc::EPERM);
    assert_eq!(g.link(f.nodeid, f.nodeid, "x").unwrap_err(), libc::ENOTDIR);
    // A symlink is linked itself, not its target.
    std::os::unix::fs::symlink("f", dir.join("s")).unwrap();
    let s = g.lookup(1, "s").unwrap();
    let s2 = g.link(s.nodeid, 1, "s2").unwrap();
    assert_eq!((s2.nodeid, s2.attr.mode & libc::S_IFMT), (s.nodeid, libc::S_IFLNK));
    assert_eq!(lstat(&dir.join("s2")).ino(), s.attr.ino);
    assert_eq!(lstat(&dir.join("f")).nlink(), 2);
}

#[test]
fn mkdir_rmdir_and_unlink() {
    let (dir, mut g) = setup("mkdir");
    let e = g.mkdir(1, "d", 0o751).unwrap();
    let m = lstat(&dir.join("d"));
    assert!(m.is_dir());
    assert_eq!(m.mode(), libc::S_IFDIR | 0o751);
    assert_attr(&e.attr, &m);
    assert_eq!(g.mkdir(1, "d", 0o755).unwrap_err(), libc::EEXIST);
    let (_, fh) = g.create(e.nodeid, "f", RW_CREATE, 0o644).unwrap();
    g.release(fh).unwrap();
    assert!(dir.join("d/f").is_file());
    assert_eq!(g.rmdir(1, "d").unwrap_err(), libc::ENOTEMPTY);
    assert_eq!(g.rmdir(e.nodeid, "f").unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.unlink(1, "d").unwrap_err(), libc::EISDIR);
    g.unlink(e.nodeid, "f").unwrap();
    assert!(!dir.join("d/f").exists());
    assert_eq!(g.lookup(e.nodeid, "f").unwrap_err(), libc::ENOENT);
    assert_eq!(g.unlink(e.nodeid, "f").unwrap_err(), libc::ENOENT);
    g.rmdir(1, "d").unwrap();
    assert!(!dir.join("d").exists());
    assert_eq!(g.rmdir(1, "d").unwrap_err(), libc::ENOENT);
    // Nothing can be made inside the removed directory through its old node.
    assert_eq!(g.mkdir(e.nodeid, "again", 0o755).unwrap_err(), libc::ENOENT);
}

#[test]
fn mknod_makes_files_and_fifos_but_no_devices() {
    let (dir, mut g) = setup("mknod");
    let r = g.mknod(1, "reg", libc::S_IFREG | 0o640).unwrap();
    let m = lstat(&dir.join("reg"));
    assert!(m.file_type().is_file());
    assert_eq!(m.mode(), libc::S_IFREG | 0o640);
    assert_attr(&r.attr, &m);
    let f = g.mknod(1, "fifo", libc::S_IFIFO | 0o666).unwrap();
    let m = lstat(&dir.join("fifo"));
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode(), libc::S_IFIFO | 0o666);
    assert_eq!(f.attr.mode, libc::S_IFIFO | 0o666);
    // The server never opens a FIFO (that could block it): the guest's kernel handles them.
    assert_eq!(g.open(f.nodeid, oflag::RDONLY).unwrap_err(), libc::EACCES);
    assert_eq!(g.open(f.nodeid, oflag::WRONLY).unwrap_err(), libc::EACCES);
    assert_eq!(g.create(1, "fifo", oflag::WRONLY | oflag::CREAT, 0o644).unwrap_err(), libc::ENXIO);
    assert_eq!(g.create(1, "fifo", oflag::RDONLY | oflag::CREAT, 0o644).unwrap_err(), libc::EACCES);
    for dev in [libc::S_IFCHR | 0o666, libc::S_IFBLK | 0o666] {
        assert_eq!(g.mknod(1, "dev", dev).unwrap_err(), libc::EPERM);
    }
    assert_eq!(g.mknod(1, "what", 0o666).unwrap_err(), libc::EINVAL);
    assert_eq!(g.mknod(1, "reg", libc::S_IFREG | 0o640).unwrap_err(), libc::EEXIST);
    assert!(!dir.join("dev").exists() && !dir.join("what").exists());
}

#[test]
fn statfs_is_the_host_statvfs() {
    let (dir, mut g) = setup("statfs");
    fs::create_dir(dir.join("d")).unwrap();
    let d = g.lookup(1, "d").unwrap().nodeid;
    let st = g.statfs(d).unwrap();
    let c = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: all-zero is a valid statvfs, written by the call; `c` is NUL-terminated.
    let mut h: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut h) }, 0);
    assert_eq!((st.blocks, st.files), (h.f_blocks, h.f_files));
    assert_eq!(
        (u64::from(st.bsize), u64::from(st.frsize), u64::from(st.namelen)),
        (h.f_bsize, h.f_frsize, h.f_namemax)
    );
    assert!(st.bfree.abs_diff(h.f_bfree) < 1 << 16, "free blocks {} vs {}", st.bfree, h.f_bfree);
    assert!(st.bavail <= st.bfree && st.bfree <= st.blocks);
    assert_eq!(g.statfs(1).unwrap().blocks, h.f_blocks);
}

#[test]
fn access_checks_the_host_permissions() {
    let (dir, mut g) = setup("access");
    fs::write(dir.join("plain"), b"").unwrap();
    fs::write(dir.join("exec"), b"").unwrap();
    fs::set_permissions(dir.join("plain"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(dir.join("exec"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("nowhere", dir.join("l")).unwrap();
    let plain = g.lookup(1, "plain").unwrap().nodeid;
    let exec = g.lookup(1, "exec").unwrap().nodeid;
    let l = g.lookup(1, "l").unwrap().nodeid;
    let (r, w, x) = (libc::R_OK as u32, libc::W_OK as u32, libc::X_OK as u32);
    g.access(plain, 0).unwrap();
    g.access(plain, r | w).unwrap();
    assert_eq!(g.access(plain, x).unwrap_err(), libc::EACCES, "no execute bit at all, even for root");
    g.access(exec, r | x).unwrap();
    g.access(1, r | w | x).unwrap();
    g.access(l, r | w | x).unwrap();
    assert_eq!(g.access(9999, 0).unwrap_err(), libc::ESTALE);
}

#[test]
fn lseek_finds_data_holes_and_the_end() {
    let (dir, mut g) = setup("lseek");
    let p = dir.join("sparse");
    {
        use std::os::unix::fs::FileExt;
        let f = fs::File::create(&p).unwrap();
        f.write_all_at(&[1; 4096], 0).unwrap();
        f.write_all_at(&[2; 4096], 1 << 20).unwrap();
    }
    let size = (1 << 20) + 4096;
    let n = g.lookup(1, "sparse").unwrap().nodeid;
    let fh = g.open(n, oflag::RDONLY).unwrap();
    let (set, cur, end, data, hole) = (0, 1, 2, 3, 4);
    assert_eq!(g.lseek(fh, 0, end).unwrap(), size);
    assert_eq!(g.lseek(fh, -10, end).unwrap(), size - 10);
    assert_eq!(g.lseek(fh, 100, set).unwrap(), 100);
    assert_eq!(g.lseek(fh, 5, cur).unwrap(), 105);
    assert_eq!(g.lseek(fh, 8192, data).unwrap(), 1 << 20);
    assert_eq!(g.lseek(fh, 0, hole).unwrap(), 4096);
    assert_eq!(g.lseek(fh, 0, data).unwrap(), 0);
    assert_eq!(g.lseek(fh, size as i64 + 1, data).unwrap_err(), libc::ENXIO);
    assert_eq!(g.lseek(fh, 0, 5).unwrap_err(), libc::EINVAL);
    assert_eq!(g.lseek(fh, -1, set).unwrap_err(), libc::EINVAL);
    // Seeking never moves where READ reads: it names its own offset.
    assert_eq!(g.read(fh, 0, 2).unwrap(), [1, 1]);
}

#[test]
fn fallocate_reserves_and_punches() {
    let (dir, mut g) = setup("fallocate");
    let p = dir.join("f");
    let (_, fh) = g.create(1, "f", RW_CREATE, 0o644).unwrap();
    g.fallocate(fh, 0, 65536, 0).unwrap();
    assert_eq!(lstat(&p).size(), 65536);
    assert!(lstat(&p).blocks() >= 128);
    g.fallocate(fh, 65536, 65536, libc::FALLOC_FL_KEEP_SIZE as u32).unwrap();
    assert_eq!(lstat(&p).size(), 65536);
    assert!(lstat(&p).blocks() >= 256, "blocks {}", lstat(&p).blocks());
    g.write(fh, 0, &[7; 8192]).unwrap();
    let punch = (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE) as u32;
    g.fallocate(fh, 0, 4096, punch).unwrap();
    let got = fs::read(&p).unwrap();
    assert_eq!((got.len(), &got[..4096], &got[4096..8192]), (65536, &[0; 4096][..], &[7; 4096][..]));
    assert_eq!(g.fallocate(fh, 0, 4096, 0x100).unwrap_err(), libc::EOPNOTSUPP);
    assert_eq!(g.fallocate(fh, 0, 4096, u32::MAX).unwrap_err(), libc::EOPNOTSUPP);
    assert_eq!(g.fallocate(fh, u64::MAX, 1, 0).unwrap_err(), libc::EINVAL);
    let d = g.opendir(1).unwrap();
    assert_eq!(g.fallocate(d, 0, 4096, 0).unwrap_err(), libc::EISDIR);
}

#[test]
fn fsync_flush_and_release() {
    let (dir, mut g) = setup("fsync");
    let (_, fh) = g.create(1, "f", RW_CREATE, 0o644).unwrap();
    let d = g.opendir(1).unwrap();
    assert_eq!(g.s.open_counts(), (2, 2));
    g.write(fh, 0, b"data").unwrap();
    g.fsync(fh, false, false).unwrap();
    g.fsync(fh, true, false).unwrap();
    g.flush(fh).unwrap();
    g.fsync(d, false, true).unwrap();
    assert_eq!(g.fsync(d, false, false).unwrap_err(), libc::EISDIR);
    assert_eq!(g.fsync(fh, false, true).unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.flush(d).unwrap_err(), libc::EISDIR);
    assert_eq!(g.release(d).unwrap_err(), libc::EISDIR);
    assert_eq!(g.releasedir(fh).unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.s.open_counts(), (2, 2), "a refused release closes nothing");
    g.release(fh).unwrap();
    g.releasedir(d).unwrap();
    assert_eq!(g.s.open_counts(), (2, 0));
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"data");
    assert_eq!(g.read(fh, 0, 4).unwrap_err(), libc::EBADF);
    assert_eq!(g.flush(fh).unwrap_err(), libc::EBADF);
    assert_eq!(g.fsync(fh, false, false).unwrap_err(), libc::EBADF);
    assert_eq!(g.release(fh).unwrap_err(), libc::EBADF);
    // Handle numbers are never reused.
    let (_, fh2) = g.create(1, "f", oflag::RDONLY, 0).unwrap();
    assert!(fh2 > d && fh2 > fh);
}

/// A directory of 1,000 files (and one subdirectory), listed with 4 KiB replies.
#[test]
fn readdir_and_readdirplus_list_every_name_once() {
    let (dir, mut g) = setup("readdir");
    let mut want: BTreeSet<String> = [".", "..", "subdir"].iter().map(|s| s.to_string()).collect();
    for i in 0..1000 {
        let name = format!("file-{i:04}-{}", "x".repeat(i % 37));
        fs::write(dir.join(&name), b"").unwrap();
        want.insert(name);
    }
    fs::create_dir(dir.join("subdir")).unwrap();
    let fh = g.opendir(1).unwrap();

    for plus in [false, true] {
        // Count the requests: the listing takes several continuations.
        let before = g.unique;
        let list = g.list(fh, plus, 4096);
        assert!(g.unique - before > 8, "{} requests for {} entries", g.unique - before, list.len());
        let names: BTreeSet<String> = list.iter().map(|(n, _, _)| n.clone()).collect();
        assert_eq!(list.len(), names.len(), "no name twice");
        assert_eq!(names, want);
        for (name, typ, node) in &list {
            let m = lstat(&dir.join(name));
            let dt = if m.is_dir() { libc::DT_DIR } else { libc::DT_REG };
            assert_eq!(*typ, u32::from(dt), "{name}");
            match (plus, name.as_str()) {
                (false, _) | (true, "." | "..") => assert_eq!(*node, 0),
                (true, _) => {
                    assert!(*node > 1);
                    assert_attr(&g.getattr(*node).unwrap(), &m);
                }
            }
        }
        if plus {
            // Every entry but . and .. is a counted lookup: 1,001 nodes and the root.
            assert_eq!(g.s.open_counts(), (1 + 1001, 1));
            for (_, _, node) in &list {
                if *node != 0 {
                    g.forget(*node, 1);
                }
            }
            assert_eq!(g.s.open_counts(), (1, 1));
        }
    }
    // READDIRPLUS entries are looked up once per listing: two listings, two lookups to forget.
    let first = g.list(fh, true, 4096);
    let second = g.list(fh, true, 4096);
    assert_eq!(first, second);
    for (_, _, node) in first.iter().filter(|e| e.2 != 0) {
        g.forget(*node, 1);
    }
    assert_eq!(g.s.open_counts(), (1 + 1001, 1));
    for (_, _, node) in second.iter().filter(|e| e.2 != 0) {
        g.forget(*node, 1);
    }
    g.releasedir(fh).unwrap();
    assert_eq!(g.s.open_counts(), (1, 0));
}

#[test]
fn readdir_of_an_empty_directory_and_a_subdirectory() {
    let (dir, mut g) = setup("readdir-small");
    fs::create_dir_all(dir.join("a/b")).unwrap();
    fs::write(dir.join("a/f"), b"").unwrap();
    let a = g.lookup(1, "a").unwrap().nodeid;
    let b = g.lookup(a, "b").unwrap().nodeid;
    let fh = g.opendir(b).unwrap();
    let names: Vec<String> = g.list(fh, false, 4096).into_iter().map(|e| e.0).collect();
    assert_eq!(names.len(), 2);
    let fh = g.opendir(a).unwrap();
    let mut names: Vec<String> = g.list(fh, true, 4096).into_iter().map(|e| e.0).collect();
    names.sort();
    assert_eq!(names, [".", "..", "b", "f"]);
    let f = g.lookup(a, "f").unwrap().nodeid;
    assert_eq!(g.opendir(f).unwrap_err(), libc::ENOTDIR);
    // A file handle is no directory handle.
    let ffh = g.open(f, oflag::RDONLY).unwrap();
    let args = abi::ReadIn { fh: ffh, size: 4096, ..Default::default() }.to_bytes();
    assert_eq!(g.raw(op::READDIR, 0, &args).unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.read(fh, 0, 10).unwrap_err(), libc::EISDIR);
}

#[test]
fn init_versions() {
    let dir = Scratch::new("init");
    fs::write(dir.join("f"), b"").unwrap();
    let mut g = Guest::uninit(dir.path(), false);
    // Before INIT every request but INIT (and the forgets, which take no reply) fails.
    for opcode in [op::LOOKUP, op::GETATTR, op::STATFS, op::OPENDIR, op::DESTROY, op::GETXATTR, 999] {
        assert_eq!(g.call(opcode, 1, &cname("f")), (-libc::EIO, vec![]), "opcode {opcode}");
    }
    g.forget(1, 1);
    // A newer major: the 8-byte answer with ours, and the kernel sends INIT again.
    let (e, p) = g.init(8, 0);
    assert_eq!((e, p.len()), (0, 8));
    assert_eq!((u32::get(&p), u32::get(&p[4..])), (7, 38));
    assert_eq!(g.lookup(1, "f").unwrap_err(), libc::EIO, "still not initialized");
    assert_eq!(g.init(6, 99).0, -libc::EPROTO);
    assert_eq!(g.call(op::INIT, 0, &[0; 12]).0, -libc::EINVAL);
    // The reply's size follows the kernel's minor version.
    for (minor, size, agreed) in [(4, 8, 4), (22, 24, 22), (23, 64, 23), (38, 64, 38), (99, 64, 38)] {
        let (e, p) = g.init(7, minor);
        assert_eq!((e, p.len()), (0, size), "minor {minor}");
        assert_eq!(u32::get(&p[4..]), agreed);
    }
    let out = abi::InitOut::get(&g.init(7, 38).1);
    assert_eq!(out.max_write, crate::server::MAX_WRITE);
    assert_eq!(out.max_readahead, 1 << 17);
    assert_eq!(
        out.flags
            & !(abi::init::ASYNC_READ
                | abi::init::ATOMIC_O_TRUNC
                | abi::init::BIG_WRITES
                | abi::init::DO_READDIRPLUS
                | abi::init::READDIRPLUS_AUTO),
        0,
        "only the features it implements"
    );
    assert!(g.lookup(1, "f").is_ok());
    // An old kernel's short fuse_init_in (16 bytes).
    let mut old = Guest::uninit(dir.path(), false);
    let (e, p) = old.call(op::INIT, 0, &abi::InitIn { major: 7, minor: 22, ..Default::default() }.to_bytes()[..16]);
    assert_eq!((e, p.len()), (0, 24));
}

#[test]
fn unknown_opcodes_and_xattrs_are_enosys() {
    let dir = Scratch::new("enosys");
    let mut g = Guest::new(dir.path(), false);
    for opcode in [0, 7, 19, 31, 32, 33, 37, 39, 40, 41, 47, 48, 49, 50, 51, 52, 60, 4096, u32::MAX] {
        assert_eq!(g.raw(opcode, 1, &[0; 16]).unwrap_err(), libc::ENOSYS, "opcode {opcode}");
    }
    let xattr = abi::GetxattrIn { size: 100, padding: 0 }.to_bytes();
    let mut named = xattr.clone();
    named.extend(cname("user.x"));
    assert_eq!(g.raw(op::GETXATTR, 1, &named).unwrap_err(), libc::ENOSYS);
    assert_eq!(g.raw(op::LISTXATTR, 1, &xattr).unwrap_err(), libc::ENOSYS);
    assert_eq!(g.raw(op::SETXATTR, 1, &named).unwrap_err(), libc::ENOSYS);
    assert_eq!(g.raw(op::REMOVEXATTR, 1, &cname("user.x")).unwrap_err(), libc::ENOSYS);
}

#[test]
fn destroy_then_init_drops_nodes_and_handles() {
    let (dir, mut g) = setup("destroy");
    fs::write(dir.join("f"), b"content").unwrap();
    let f = g.lookup(1, "f").unwrap().nodeid;
    let fh = g.open(f, oflag::RDONLY).unwrap();
    let dh = g.opendir(1).unwrap();
    assert_eq!(g.s.open_counts(), (2, 2));
    assert_eq!(g.call(op::DESTROY, 0, &[]), (0, vec![]));
    assert_eq!(g.s.open_counts(), (1, 0));
    assert_eq!(g.lookup(1, "f").unwrap_err(), libc::EIO);
    assert_eq!(g.init(7, 38).0, 0);
    assert_eq!(g.getattr(f).unwrap_err(), libc::ESTALE);
    assert_eq!(g.read(fh, 0, 7).unwrap_err(), libc::EBADF);
    assert_eq!(g.releasedir(dh).unwrap_err(), libc::EBADF);
    let again = g.lookup(1, "f").unwrap().nodeid;
    assert!(again > f, "node ids are never reused");
    // INIT alone (a remount without DESTROY) also starts afresh.
    g.open(again, oflag::RDONLY).unwrap();
    assert_eq!(g.init(7, 38).0, 0);
    assert_eq!(g.s.open_counts(), (1, 0));
    assert_attr(&g.getattr(1).unwrap(), &lstat(dir.path()));
}
