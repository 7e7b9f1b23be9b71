//! The guest never reaches outside the shared directory: not by names (`..`, `/`, NULs), not
//! through symlinks (absolute, relative, to files or directories outside), not by racing the
//! host's renames.
//!
//! Each test shares `base/share` of a scratch tree whose `base/secret` file and `base/outside`
//! directory lie next to it, and checks at the end that nothing outside changed, nothing new
//! appeared there, and the secret was not even read (its access time, set in the past, stays:
//! any read would move it, as the first test checks on this file system).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};

use super::*;
use crate::abi::{fattr, oflag};

const SECRET: &[u8] = b"the host's secret, never to be read by the guest\n";

struct Tree {
    base: Scratch,
    share: PathBuf,
    /// Everything outside the share but the secret.
    before: Snapshot,
    /// The secret's metadata: (inode, size, modification and change times).
    secret: (u64, u64, (i64, i64), (i64, i64)),
}

fn secret_meta(p: &Path) -> (u64, u64, (i64, i64), (i64, i64)) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.ino(), m.size(), (m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()))
}

impl Tree {
    fn new(what: &str) -> Tree {
        let base = Scratch::new(what);
        let share = base.join("share");
        fs::create_dir_all(share.join("sub")).unwrap();
        fs::write(share.join("sub/inner"), b"inside").unwrap();
        fs::write(share.join("file"), b"a file in the share").unwrap();
        fs::create_dir(base.join("outside")).unwrap();
        fs::write(base.join("outside/x"), b"outside x").unwrap();
        fs::write(base.join("outside/inner"), b"outside inner").unwrap();
        fs::write(base.join("secret"), SECRET).unwrap();
        // Links out of the share: absolute and relative, to files and to a directory.
        symlink(base.join("secret"), share.join("abs")).unwrap();
        symlink("/etc/passwd", share.join("etc")).unwrap();
        symlink("../secret", share.join("rel")).unwrap();
        symlink("../outside", share.join("dirlink")).unwrap();
        symlink(base.join("outside"), share.join("absdir")).unwrap();
        symlink("sub/../../secret", share.join("sneaky")).unwrap();
        let before = snapshot(base.path(), &[&share, &base.join("secret")]);
        set_old_atime(&base.join("secret"));
        let secret = secret_meta(&base.join("secret"));
        Tree { base, share, before, secret }
    }

    /// Nothing outside the share changed, and the secret was not read (checked before this
    /// reads it).
    fn check(&self) {
        let p = self.base.join("secret");
        assert_eq!(fs::symlink_metadata(&p).unwrap().atime(), 1000, "the secret was read");
        assert_eq!(secret_meta(&p), self.secret, "the secret changed");
        assert_eq!(fs::read(&p).unwrap(), SECRET);
        assert_eq!(snapshot(self.base.path(), &[&self.share, &p]), self.before, "the outside changed");
    }
}

/// Sets `p`'s access time far in the past (before its modification time), so that any read of
/// it moves the access time, under `relatime` too.
fn set_old_atime(p: &Path) {
    let m = fs::metadata(p).unwrap();
    let t = fs::FileTimes::new().set_accessed(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000));
    let f = fs::File::options().write(true).open(p).unwrap();
    f.set_times(t.set_modified(m.modified().unwrap())).unwrap();
}

#[test]
fn reading_moves_the_access_time_here() {
    // The check of the secret's access time means something only if reads update it here.
    let dir = Scratch::new("atime");
    let probe = dir.join("probe");
    fs::write(&probe, b"x").unwrap();
    set_old_atime(&probe);
    assert_eq!(fs::metadata(&probe).unwrap().atime(), 1000);
    fs::read(&probe).unwrap();
    assert_ne!(fs::metadata(&probe).unwrap().atime(), 1000, "mounted noatime? the tests cannot tell");
    // And the server's own reads do too.
    set_old_atime(&probe);
    let mut g = Guest::new(dir.path(), true);
    let n = g.lookup(1, "probe").unwrap().nodeid;
    let fh = g.open(n, oflag::RDONLY).unwrap();
    assert_eq!(fs::metadata(&probe).unwrap().atime(), 1000, "LOOKUP and OPEN read nothing");
    g.read(fh, 0, 1).unwrap();
    assert_ne!(fs::metadata(&probe).unwrap().atime(), 1000);
}

#[test]
fn dot_and_dotdot_are_refused_everywhere() {
    let t = Tree::new("dots");
    let mut g = Guest::new(&t.share, false);
    let sub = g.lookup(1, "sub").unwrap().nodeid;
    let counts = g.s.open_counts();
    for parent in [1, sub] {
        for name in [".", ".."] {
            assert_eq!(g.lookup(parent, name).unwrap_err(), libc::EINVAL, "LOOKUP {name} in {parent}");
            assert_eq!(g.mkdir(parent, name, 0o755).unwrap_err(), libc::EINVAL);
            assert_eq!(g.create(parent, name, oflag::RDWR, 0o644).unwrap_err(), libc::EINVAL);
            assert_eq!(g.unlink(parent, name).unwrap_err(), libc::EINVAL);
            assert_eq!(g.rmdir(parent, name).unwrap_err(), libc::EINVAL);
            assert_eq!(g.symlink(parent, name, "x").unwrap_err(), libc::EINVAL);
        }
    }
    assert_eq!(g.rename(sub, "..", 1, "moved", 0).unwrap_err(), libc::EINVAL);
    assert_eq!(g.rename(1, "file", sub, "..", 0).unwrap_err(), libc::EINVAL);
    assert_eq!(g.s.open_counts(), counts, "no lookup was counted");
    t.check();
}

#[test]
fn names_with_slashes_nuls_or_no_end_are_refused() {
    let t = Tree::new("names");
    let mut g = Guest::new(&t.share, false);
    for name in ["../secret", "../outside/x", "sub/inner", "/etc/passwd", "sub/", "/", "a/b", "dirlink/x"] {
        assert_eq!(g.lookup(1, name).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.create(1, name, oflag::RDWR | oflag::TRUNC, 0o644).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.mkdir(1, name, 0o755).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.mknod(1, name, libc::S_IFREG | 0o644).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.symlink(1, name, "x").unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.unlink(1, name).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.rmdir(1, name).unwrap_err(), libc::EINVAL, "{name}");
        let f = g.lookup(1, "file").unwrap().nodeid;
        assert_eq!(g.link(f, 1, name).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.rename(1, "file", 1, name, 0).unwrap_err(), libc::EINVAL, "{name}");
        assert_eq!(g.rename(1, name, 1, "stolen", 0).unwrap_err(), libc::EINVAL, "{name}");
    }
    // An embedded NUL ends the name; what follows is junk the request may not carry.
    assert_eq!(g.raw(op::LOOKUP, 1, b"sub\0inner\0").unwrap_err(), libc::EINVAL);
    assert_eq!(g.raw(op::LOOKUP, 1, b"..\0secret\0").unwrap_err(), libc::EINVAL);
    assert_eq!(g.raw(op::UNLINK, 1, b"file\0/x\0").unwrap_err(), libc::EINVAL);
    // No terminating NUL, or an empty name.
    assert_eq!(g.raw(op::LOOKUP, 1, b"file").unwrap_err(), libc::EINVAL);
    assert_eq!(g.raw(op::LOOKUP, 1, b"\0").unwrap_err(), libc::EINVAL);
    assert_eq!(g.raw(op::LOOKUP, 1, b"").unwrap_err(), libc::EINVAL);
    assert_eq!(g.raw(op::SYMLINK, 1, b"new\0").unwrap_err(), libc::EINVAL, "a symlink without its text");
    // 255 bytes is a name; 256 is too long.
    let (n255, n256) = ("n".repeat(255), "n".repeat(256));
    assert_eq!(g.lookup(1, &n255).unwrap_err(), libc::ENOENT);
    assert_eq!(g.lookup(1, &n256).unwrap_err(), libc::ENAMETOOLONG);
    assert_eq!(g.mkdir(1, &n256, 0o755).unwrap_err(), libc::ENAMETOOLONG);
    g.create(1, &n255, oflag::RDWR, 0o644).unwrap();
    assert!(t.share.join(&n255).is_file());
    // Nothing new in the share but that file.
    let mut names: Vec<_> = fs::read_dir(&t.share).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 9);
    t.check();
}

#[test]
fn symlinks_out_of_the_share_are_links_never_their_targets() {
    let t = Tree::new("links");
    let mut g = Guest::new(&t.share, false);
    let secret = fs::metadata(t.base.join("secret")).unwrap();
    for (name, text) in [
        ("abs", t.base.join("secret").to_str().unwrap().to_string()),
        ("etc", "/etc/passwd".to_string()),
        ("rel", "../secret".to_string()),
        ("sneaky", "sub/../../secret".to_string()),
        ("dirlink", "../outside".to_string()),
        ("absdir", t.base.join("outside").to_str().unwrap().to_string()),
    ] {
        let e = g.lookup(1, name).unwrap();
        assert_eq!(e.attr.mode & libc::S_IFMT, libc::S_IFLNK, "{name}");
        assert_eq!(e.attr.size, text.len() as u64, "{name}: the link's size, not the target's");
        assert_ne!(e.attr.ino, secret.ino());
        let n = e.nodeid;
        assert_eq!(g.getattr(n).unwrap().mode & libc::S_IFMT, libc::S_IFLNK);
        // The text is the guest's to resolve (in its own namespace).
        assert_eq!(g.readlink(n).unwrap(), text.as_bytes());
        for flags in [oflag::RDONLY, oflag::RDWR, oflag::WRONLY | oflag::TRUNC, oflag::WRONLY | oflag::APPEND] {
            assert_eq!(g.open(n, flags).unwrap_err(), libc::ELOOP, "{name}");
        }
        assert_eq!(g.opendir(n).unwrap_err(), libc::ENOTDIR, "{name}");
        // Used as a directory.
        assert_eq!(g.lookup(n, "x").unwrap_err(), libc::ENOTDIR, "{name}");
        assert_eq!(g.lookup(n, "inner").unwrap_err(), libc::ENOTDIR, "{name}");
        assert_eq!(g.create(n, "new", oflag::RDWR, 0o644).unwrap_err(), libc::ENOTDIR);
        assert_eq!(g.mkdir(n, "new", 0o755).unwrap_err(), libc::ENOTDIR);
        assert_eq!(g.mknod(n, "new", libc::S_IFREG | 0o644).unwrap_err(), libc::ENOTDIR);
        assert_eq!(g.symlink(n, "new", "x").unwrap_err(), libc::ENOTDIR);
        assert_eq!(g.unlink(n, "x").unwrap_err(), libc::ENOTDIR);
        assert_eq!(g.rename(1, "file", n, "x", 0).unwrap_err(), libc::ENOTDIR, "{name}: RENAME into it");
        assert_eq!(g.rename(n, "x", 1, "got", 0).unwrap_err(), libc::ENOTDIR, "{name}: RENAME out of it");
        let f = g.lookup(1, "file").unwrap().nodeid;
        assert_eq!(g.link(f, n, "x").unwrap_err(), libc::ENOTDIR);
        // Its attributes: no truncation or mode change reaches the target.
        let size = abi::SetattrIn { valid: fattr::SIZE, size: 0, ..Default::default() };
        assert_eq!(g.setattr(n, size).unwrap_err(), libc::EINVAL);
        let mode = abi::SetattrIn { valid: fattr::MODE, mode: 0o777, ..Default::default() };
        assert_eq!(g.setattr(n, mode).unwrap_err(), libc::EOPNOTSUPP);
        let fh = g.open(f, oflag::RDWR).unwrap();
        let by_fh = abi::SetattrIn { valid: fattr::SIZE | fattr::FH, fh: fh + 1000, ..Default::default() };
        assert_eq!(g.setattr(n, by_fh).unwrap_err(), libc::EINVAL, "{name}: an unknown fh falls back to the node");
        g.release(fh).unwrap();
        g.access(n, (libc::R_OK | libc::W_OK) as u32).unwrap();
        // CREATE of its name opens neither the link nor its target.
        for flags in [oflag::RDWR, oflag::WRONLY | oflag::TRUNC, oflag::RDONLY] {
            assert_eq!(g.create(1, name, flags | oflag::CREAT, 0o644).unwrap_err(), libc::ELOOP, "{name}");
        }
        assert_eq!(g.create(1, name, oflag::RDWR | oflag::CREAT | oflag::EXCL, 0o644).unwrap_err(), libc::EEXIST);
        assert_eq!(g.mkdir(1, name, 0o755).unwrap_err(), libc::EEXIST);
        // A hard link to it is another link, still a symlink.
        let l = g.link(n, 1, &format!("{name}-hard")).unwrap();
        assert_eq!((l.nodeid, l.attr.mode & libc::S_IFMT), (n, libc::S_IFLNK));
    }
    // A new symlink out of the share is made (its text is the guest's), and is a link too.
    let e = g.symlink(1, "mine", "../secret").unwrap();
    assert_eq!(g.open(e.nodeid, oflag::RDONLY).unwrap_err(), libc::ELOOP);
    // Renaming over a symlink replaces the link, never its target; unlinking removes the link.
    g.rename(1, "file", 1, "rel", 0).unwrap();
    assert!(fs::symlink_metadata(t.share.join("rel")).unwrap().is_file());
    g.unlink(1, "abs").unwrap();
    g.unlink(1, "dirlink").unwrap();
    assert_eq!(g.rmdir(1, "absdir").unwrap_err(), libc::ENOTDIR);
    assert!(t.base.join("outside/x").is_file());
    t.check();
}

/// The host replaces a directory the guest has looked up by a symlink out of the share.
#[test]
fn a_directory_swapped_for_a_symlink_keeps_the_guest_inside() {
    let t = Tree::new("race");
    fs::create_dir(t.share.join("d")).unwrap();
    fs::write(t.share.join("d/inner"), b"d's inner").unwrap();
    let mut g = Guest::new(&t.share, false);
    let d = g.lookup(1, "d").unwrap().nodeid;
    let inner = fs::metadata(t.share.join("d/inner")).unwrap().ino();

    fs::rename(t.share.join("d"), t.share.join("d.old")).unwrap();
    symlink(t.base.join("outside"), t.share.join("d")).unwrap();

    // The node is the old directory, wherever it went: lookups beneath it stay in it.
    let e = g.lookup(d, "inner").unwrap();
    assert_eq!(e.attr.ino, inner);
    let fh = g.open(e.nodeid, oflag::RDONLY).unwrap();
    assert_eq!(g.read(fh, 0, 100).unwrap(), b"d's inner");
    assert_eq!(g.lookup(d, "x").unwrap_err(), libc::ENOENT, "outside/x is not found through d");
    let (_, fh) = g.create(d, "made", oflag::RDWR | oflag::CREAT, 0o644).unwrap();
    g.write(fh, 0, b"new").unwrap();
    assert_eq!(fs::read(t.share.join("d.old/made")).unwrap(), b"new");
    g.mkdir(d, "newdir", 0o755).unwrap();
    assert!(t.share.join("d.old/newdir").is_dir());
    let dh = g.opendir(d).unwrap();
    let mut names: Vec<String> = g.list(dh, true, 4096).into_iter().map(|e| e.0).collect();
    names.sort();
    assert_eq!(names, [".", "..", "inner", "made", "newdir"]);

    // Looking the name up again gives the symlink, and it is no directory to the guest.
    let l = g.lookup(1, "d").unwrap();
    assert_eq!(l.attr.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_ne!(l.nodeid, d);
    assert_eq!(g.lookup(l.nodeid, "x").unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.lookup(l.nodeid, "inner").unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.create(l.nodeid, "made", oflag::RDWR, 0o644).unwrap_err(), libc::ENOTDIR);
    assert_eq!(g.opendir(l.nodeid).unwrap_err(), libc::ENOTDIR);

    // The old directory deleted: its node names nothing reachable any more.
    fs::remove_dir_all(t.share.join("d.old")).unwrap();
    assert_eq!(g.lookup(d, "inner").unwrap_err(), libc::ENOENT);
    assert_eq!(g.create(d, "again", oflag::RDWR, 0o644).unwrap_err(), libc::ENOENT);
    assert_eq!(g.mkdir(d, "again", 0o755).unwrap_err(), libc::ENOENT);
    assert_eq!(g.symlink(d, "again", "x").unwrap_err(), libc::ENOENT);
    t.check();
}

/// The host replaces a file the guest has looked up by a symlink to the secret.
#[test]
fn a_file_swapped_for_a_symlink_opens_the_old_file() {
    let t = Tree::new("race-file");
    let mut g = Guest::new(&t.share, false);
    let f = g.lookup(1, "file").unwrap().nodeid;
    fs::rename(t.share.join("file"), t.share.join("file.old")).unwrap();
    symlink(t.base.join("secret"), t.share.join("file")).unwrap();
    let fh = g.open(f, oflag::RDWR).unwrap();
    assert_eq!(g.read(fh, 0, 100).unwrap(), b"a file in the share");
    g.write(fh, 0, b"A").unwrap();
    let trunc = abi::SetattrIn { valid: fattr::SIZE, size: 1, ..Default::default() };
    g.setattr(f, trunc).unwrap();
    assert_eq!(fs::read(t.share.join("file.old")).unwrap(), b"A");
    let chmod = abi::SetattrIn { valid: fattr::MODE, mode: 0o600, ..Default::default() };
    g.setattr(f, chmod).unwrap();
    // The name now is the link.
    let l = g.lookup(1, "file").unwrap().nodeid;
    assert_eq!(g.open(l, oflag::RDONLY).unwrap_err(), libc::ELOOP);
    t.check();
}

/// The shared directory's own name may be a symlink (the host user chose it); what the guest
/// sees below it is still confined.
#[test]
fn the_share_itself_may_be_reached_through_a_symlink() {
    let t = Tree::new("share-link");
    symlink(&t.share, t.base.join("share-link")).unwrap();
    let before = snapshot(t.base.path(), &[&t.share]);
    let mut g = Guest::new(&t.base.join("share-link"), false);
    assert_eq!(g.getattr(1).unwrap().ino, fs::metadata(&t.share).unwrap().ino());
    assert_eq!(g.lookup(1, "rel").unwrap().attr.mode & libc::S_IFMT, libc::S_IFLNK);
    g.lookup(1, "sub").unwrap();
    assert_eq!(snapshot(t.base.path(), &[&t.share]), before);
}
