//! A read-only server refuses every request that would change the shared tree (`EROFS`) and
//! still answers every read; the host tree is byte for byte and time for time what it was.

use std::fs;
use std::os::unix::fs::symlink;

use super::*;
use crate::abi::{fattr, oflag, rename};

#[test]
fn a_read_only_share_refuses_every_change_and_serves_every_read() {
    let dir = Scratch::new("readonly");
    let d = dir.path();
    fs::create_dir_all(d.join("sub/deeper")).unwrap();
    fs::create_dir(d.join("empty")).unwrap();
    fs::write(d.join("file"), b"the file's bytes").unwrap();
    fs::write(d.join("sub/inner"), vec![0xa5; 70_000]).unwrap();
    fs::write(d.join("sub/deeper/leaf"), b"leaf").unwrap();
    fs::hard_link(d.join("file"), d.join("hard")).unwrap();
    symlink("sub/inner", d.join("link")).unwrap();
    let c = std::ffi::CString::new(d.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: `c` is NUL-terminated.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let before = snapshot(d, &[]);

    let mut g = Guest::new(d, true);
    let file = g.lookup(1, "file").unwrap().nodeid;
    let sub = g.lookup(1, "sub").unwrap().nodeid;
    let empty = g.lookup(1, "empty").unwrap().nodeid;
    let link = g.lookup(1, "link").unwrap().nodeid;
    let fifo = g.lookup(1, "fifo").unwrap().nodeid;
    let fh = g.open(file, oflag::RDONLY).unwrap();
    let rofs = Some(libc::EROFS);

    // SETATTR, whatever it sets (or nothing), by node or by handle.
    for valid in [
        fattr::MODE,
        fattr::UID | fattr::GID,
        fattr::SIZE,
        fattr::SIZE | fattr::FH,
        fattr::ATIME,
        fattr::MTIME,
        fattr::ATIME_NOW | fattr::MTIME_NOW,
        0,
    ] {
        for node in [file, sub, link, 1] {
            let s = abi::SetattrIn { valid, fh, mode: 0o777, uid: 1, gid: 1, mtime: 5, ..Default::default() };
            assert_eq!(g.setattr(node, s).err(), rofs, "SETATTR {valid:#x} of {node}");
        }
    }
    assert_eq!(g.symlink(1, "newlink", "file").err(), rofs);
    assert_eq!(g.symlink(1, "link", "file").err(), rofs);
    assert_eq!(g.mknod(1, "node", libc::S_IFREG | 0o644).err(), rofs);
    assert_eq!(g.mknod(sub, "fifo2", libc::S_IFIFO | 0o644).err(), rofs);
    assert_eq!(g.mkdir(1, "newdir", 0o755).err(), rofs);
    assert_eq!(g.mkdir(1, "sub", 0o755).err(), rofs);
    assert_eq!(g.unlink(1, "file").err(), rofs);
    assert_eq!(g.unlink(1, "link").err(), rofs);
    assert_eq!(g.unlink(1, "missing").err(), rofs);
    assert_eq!(g.rmdir(1, "empty").err(), rofs);
    let mut old = abi::RenameIn { newdir: sub }.to_bytes();
    old.extend(cname("file"));
    old.extend(cname("moved"));
    assert_eq!(g.raw(op::RENAME, 1, &old).err(), rofs);
    for flags in [0, rename::NOREPLACE, rename::EXCHANGE] {
        assert_eq!(g.rename(1, "file", 1, "hard", flags).err(), rofs);
    }
    assert_eq!(g.link(file, sub, "another").err(), rofs);
    assert_eq!(g.write(fh, 0, b"overwritten").err(), rofs);
    assert_eq!(g.write(fh, 0, b"").err(), rofs);
    for (name, flags) in [
        ("created", oflag::RDWR | oflag::CREAT),
        ("file", oflag::WRONLY | oflag::CREAT | oflag::TRUNC),
        ("file", oflag::RDONLY | oflag::CREAT),
        ("created", oflag::RDONLY | oflag::CREAT | oflag::EXCL),
    ] {
        assert_eq!(g.create(1, name, flags, 0o644).err(), rofs, "CREATE {name} {flags:#o}");
    }
    assert_eq!(g.fallocate(fh, 0, 1 << 20, 0).err(), rofs);
    assert_eq!(g.fallocate(fh, 0, 4096, (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE) as u32).err(), rofs);
    for flags in [
        oflag::WRONLY,
        oflag::RDWR,
        oflag::RDONLY | oflag::TRUNC,
        oflag::WRONLY | oflag::APPEND,
        oflag::RDWR | oflag::CREAT | oflag::TRUNC,
    ] {
        assert_eq!(g.open(file, flags).err(), rofs, "OPEN {flags:#o}");
    }
    let (r, w, x) = (libc::R_OK as u32, libc::W_OK as u32, libc::X_OK as u32);
    for node in [file, sub, link, 1] {
        assert_eq!(g.access(node, w).err(), rofs);
        assert_eq!(g.access(node, r | w | x).err(), rofs);
    }
    let mut xattr = abi::GetxattrIn { size: 1, padding: 0 }.to_bytes();
    xattr.extend(cname("user.x"));
    xattr.push(b'v');
    assert_eq!(g.raw(op::SETXATTR, file, &xattr).err(), rofs);
    assert_eq!(g.raw(op::REMOVEXATTR, file, &cname("user.x")).err(), rofs);

    // Every read still works.
    assert_eq!(g.read(fh, 0, 100).unwrap(), b"the file's bytes");
    assert_eq!(g.lseek(fh, 0, 2).unwrap(), 16);
    g.flush(fh).unwrap();
    g.fsync(fh, false, false).unwrap();
    g.release(fh).unwrap();
    let inner = g.lookup(sub, "inner").unwrap().nodeid;
    let fh = g.open(inner, oflag::RDONLY).unwrap();
    assert_eq!(g.read(fh, 0, 1 << 20).unwrap(), vec![0xa5; 70_000]);
    g.release(fh).unwrap();
    assert_eq!(g.readlink(link).unwrap(), b"sub/inner");
    assert_eq!(g.getattr(fifo).unwrap().mode, libc::S_IFIFO | 0o644);
    g.access(file, r).unwrap();
    g.access(1, r | x).unwrap();
    g.access(link, 0).unwrap();
    assert!(g.statfs(1).unwrap().blocks > 0);
    assert_eq!(g.lookup(1, "hard").unwrap().nodeid, file);
    let dh = g.opendir(1).unwrap();
    let mut names: Vec<String> = g.list(dh, false, 4096).into_iter().map(|e| e.0).collect();
    names.sort();
    assert_eq!(names, [".", "..", "empty", "fifo", "file", "hard", "link", "sub"]);
    let plus = g.list(dh, true, 512);
    assert_eq!(plus.len(), 8);
    g.fsync(dh, false, true).unwrap();
    g.releasedir(dh).unwrap();
    let deeper = g.lookup(sub, "deeper").unwrap().nodeid;
    let dh = g.opendir(deeper).unwrap();
    assert_eq!(g.list(dh, true, 4096).len(), 3);
    g.releasedir(dh).unwrap();
    g.forget(file, 1);
    g.forget(empty, 1);

    drop(g);
    assert_eq!(snapshot(d, &[]), before, "the tree changed");
}

/// The same requests on a read-write server do change the tree: the refusals above are the
/// read-only flag's doing, not the requests' failing anyway.
#[test]
fn the_same_requests_change_a_read_write_share() {
    let dir = Scratch::new("readwrite");
    let d = dir.path();
    fs::create_dir(d.join("empty")).unwrap();
    fs::write(d.join("file"), b"the file's bytes").unwrap();
    let before = snapshot(d, &[]);
    let mut g = Guest::new(d, false);
    let file = g.lookup(1, "file").unwrap().nodeid;
    let fh = g.open(file, oflag::RDWR).unwrap();
    g.write(fh, 0, b"T").unwrap();
    g.fallocate(fh, 0, 1 << 16, 0).unwrap();
    g.setattr(file, abi::SetattrIn { valid: fattr::MODE, mode: 0o600, ..Default::default() }).unwrap();
    g.symlink(1, "newlink", "file").unwrap();
    g.mknod(1, "node", libc::S_IFREG | 0o644).unwrap();
    g.mkdir(1, "newdir", 0o755).unwrap();
    g.rmdir(1, "empty").unwrap();
    g.rename(1, "node", 1, "renamed", 0).unwrap();
    g.link(file, 1, "another").unwrap();
    g.create(1, "created", oflag::RDWR | oflag::CREAT, 0o644).unwrap();
    g.access(file, libc::W_OK as u32).unwrap();
    g.unlink(1, "newlink").unwrap();
    let after = snapshot(d, &[]);
    assert_ne!(after, before);
    let names: Vec<String> = after.keys().map(|p| p.strip_prefix(d).unwrap().display().to_string()).collect();
    assert_eq!(names, ["", "another", "created", "file", "newdir", "renamed"]);
}
