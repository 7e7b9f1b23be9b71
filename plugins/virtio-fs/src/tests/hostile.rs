//! Requests a hostile or broken guest could send: cut short, lying about their length, with any
//! opcode and any argument bytes, asking for more than the reply can hold, naming handles and
//! nodes that do not exist. Every one gets a well-framed reply (or, where none is due, none),
//! never a panic, and nothing outside the share changes.

use std::fs;

use super::*;
use crate::abi::{fattr, oflag};
use crate::server::MAX_READ;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A request's bytes with every header field chosen.
fn request(len: u32, opcode: u32, unique: u64, nodeid: u64, extlen: u16, args: &[u8]) -> Vec<u8> {
    let h = abi::InHeader { len, opcode, unique, nodeid, total_extlen: extlen, ..Default::default() };
    let mut v = h.to_bytes();
    v.extend_from_slice(args);
    v
}

fn framed(opcode: u32, nodeid: u64, args: &[u8]) -> Vec<u8> {
    request((abi::InHeader::SIZE + args.len()) as u32, opcode, 77, nodeid, 0, args)
}

/// The error of a reply (0 for success).
fn error(r: Option<Reply>) -> i32 {
    r.expect("a reply").0
}

/// A share `base/share` with a few things in it, and a secret next to it.
fn tree(what: &str) -> (Scratch, PathBuf) {
    let base = Scratch::new(what);
    let share = base.join("share");
    fs::create_dir_all(share.join("sub")).unwrap();
    fs::write(share.join("file"), b"file contents").unwrap();
    fs::write(share.join("sub/inner"), b"inner").unwrap();
    std::os::unix::fs::symlink("../secret", share.join("link")).unwrap();
    fs::write(base.join("secret"), b"secret").unwrap();
    (base, share)
}

#[test]
fn truncated_headers() {
    let (_base, share) = tree("truncated");
    let mut g = Guest::new(&share, false);
    let whole = framed(op::LOOKUP, 1, &cname("file"));
    for cut in 0..whole.len() {
        let r = g.send(&whole[..cut], ROOM);
        if cut < 16 {
            assert!(r.is_none(), "{cut} bytes: no unique to answer to");
        } else {
            // `len` says more than there is.
            assert_eq!(error(r), -libc::EINVAL, "{cut} bytes");
        }
    }
    assert_eq!(error(g.send(&whole, ROOM)), 0);
    assert_eq!(g.s.open_counts(), (2, 0));
}

#[test]
fn lengths_that_lie() {
    let (_base, share) = tree("lengths");
    let mut g = Guest::new(&share, false);
    let args = cname("file");
    let n = (40 + args.len()) as u32;
    for len in [0, 1, 16, 39, n + 1, n + 100, u32::MAX] {
        assert_eq!(error(g.send(&request(len, op::LOOKUP, 9, 1, 0, &args), ROOM)), -libc::EINVAL, "len {len}");
    }
    // Bytes past `len` are not the request's.
    let mut junk = request(n, op::LOOKUP, 9, 1, 0, &args);
    junk.extend([0xff; 13]);
    assert_eq!(error(g.send(&junk, ROOM)), 0);
    // A `len` taking them in makes a request with bytes left over.
    junk[..4].copy_from_slice(&(n + 13).to_le_bytes());
    assert_eq!(error(g.send(&junk, ROOM)), -libc::EINVAL);
    // A header alone for a request that needs arguments.
    for opcode in [op::LOOKUP, op::SETATTR, op::OPEN, op::READ, op::WRITE, op::CREATE, op::INIT, op::RENAME2] {
        assert_eq!(error(g.send(&framed(opcode, 1, &[]), ROOM)), -libc::EINVAL, "opcode {opcode}");
    }
}

#[test]
fn extension_lengths_that_lie() {
    let (_base, share) = tree("extlen");
    let mut g = Guest::new(&share, false);
    let mut exact = cname("file");
    exact.extend([0xee; 16]);
    let len = (40 + exact.len()) as u32;
    assert_eq!(error(g.send(&request(len, op::LOOKUP, 1, 1, 2, &exact), ROOM)), 0);
    // Too few extension bytes leave some in the arguments; too many eat into them or past them.
    assert_eq!(error(g.send(&request(len, op::LOOKUP, 1, 1, 0, &exact), ROOM)), -libc::EINVAL);
    for extlen in [1, 3, 4, 100, u16::MAX] {
        let r = g.send(&request(len, op::LOOKUP, 1, 1, extlen, &exact), ROOM);
        assert_eq!(error(r), -libc::EINVAL, "extlen {extlen}");
    }
}

/// Argument bytes for `opcode`: random, or shaped like its arguments (words that are mostly
/// small, so handles and nodes exist, then maybe a name or two).
fn args_for(rng: &mut Rng, opcode: u32) -> Vec<u8> {
    if rng.below(3) == 0 {
        let n = rng.pick(&[0, 1, 7, 8, 15, 16, 24, 40, 64, 88, 100]);
        return rng.bytes(n);
    }
    let words = rng.pick(&[0, 1, 2, 3, 5, 8, 11]);
    let mut v = Vec::new();
    for _ in 0..words {
        let w = match rng.below(4) {
            0 => rng.next(),
            1 => u64::from(rng.next() as u32),
            _ => rng.below(5),
        };
        v.extend(w.to_le_bytes());
    }
    if opcode == op::FALLOCATE && v.len() >= 24 {
        // Keep the reservation small: the scratch directory is on a real disk.
        let n = u64::get(&v[16..]) % (1 << 20);
        v[16..24].copy_from_slice(&n.to_le_bytes());
    }
    for _ in 0..rng.below(3) {
        let name = rng.pick(&["file", "sub", "link", "new", "inner", "..", ".", "", "a/b", "x"]);
        v.extend(cname(name));
    }
    if rng.below(4) == 0 {
        let n = rng.below(20) as usize;
        v.extend(rng.bytes(n));
    }
    v
}

#[test]
fn every_opcode_with_any_arguments() {
    let (base, share) = tree("opcodes");
    let outside = snapshot(base.path(), &[&share]);
    let mut rng = Rng(0x5eed_f00d);
    let opcodes: Vec<u32> = (0..=60).chain([u32::MAX, 4096]).collect();
    for read_only in [false, true] {
        for &opcode in &opcodes {
            let mut g = Guest::new(&share, read_only);
            // Nodes 2..4 and handles 1..2 exist (when the requests before left them there).
            let _ = g.lookup(1, "file");
            let _ = g.lookup(1, "sub");
            let _ = g.lookup(1, "link");
            if let Ok(f) = g.lookup(1, "file") {
                let _ = g.open(f.nodeid, oflag::RDONLY);
            }
            let _ = g.opendir(1);
            for i in 0..300 {
                let nodeid = match rng.below(8) {
                    0 => rng.next(),
                    1 => 0,
                    _ => rng.below(6),
                };
                let args = args_for(&mut rng, opcode);
                let max = match rng.below(10) {
                    0 => rng.below(16) as usize,
                    1 => 16,
                    2 => 16 + rng.below(200) as usize,
                    3 => rng.below(70_000) as usize,
                    _ => ROOM,
                };
                // Sometimes a header that lies about the length or extensions.
                let mut len = (40 + args.len()) as u32;
                let mut extlen = 0;
                match rng.below(12) {
                    0 => len = rng.next() as u32,
                    1 => len = len.saturating_sub(rng.below(8) as u32),
                    2 => extlen = rng.below(4) as u16,
                    _ => {}
                }
                let req = request(len, opcode, i, nodeid, extlen, &args);
                match g.send(&req, max) {
                    Some(_) => {}
                    None => assert!(
                        matches!(opcode, op::FORGET | op::BATCH_FORGET | op::INTERRUPT) || max < 16,
                        "opcode {opcode}: no reply with room for one"
                    ),
                }
            }
            // The server still works.
            if g.init(7, 38).0 == 0 {
                g.getattr(1).unwrap();
            }
        }
    }
    assert_eq!(snapshot(base.path(), &[&share]), outside);
}

#[test]
fn replies_that_do_not_fit() {
    let (_base, share) = tree("reply-max");
    let mut g = Guest::new(&share, false);
    let file = g.lookup(1, "file").unwrap().nodeid;
    let fh = g.open(file, oflag::RDWR).unwrap();
    let counts = g.s.open_counts();
    let mut mkdir = abi::MkdirIn { mode: 0o755, umask: 0 }.to_bytes();
    mkdir.extend(cname("made"));
    // No room for a header: no reply, and nothing done.
    for max in 0..16 {
        assert!(g.send(&framed(op::MKDIR, 1, &mkdir), max).is_none());
        assert!(g.send(&framed(op::LOOKUP, 1, &cname("sub")), max).is_none());
    }
    assert!(!share.join("made").exists());
    assert_eq!(g.s.open_counts(), counts);

    // Room for the header but not the fixed answer: ERANGE, and nothing done either (no
    // directory made, no lookup counted, no file opened or written).
    let entry = abi::EntryOut::SIZE;
    assert_eq!(error(g.send(&framed(op::MKDIR, 1, &mkdir), 16 + entry - 1)), -libc::ERANGE);
    assert!(!share.join("made").exists());
    assert_eq!(error(g.send(&framed(op::LOOKUP, 1, &cname("sub")), 16 + entry - 1)), -libc::ERANGE);
    let mut create = abi::CreateIn { flags: oflag::RDWR | oflag::CREAT, mode: 0o644, ..Default::default() }.to_bytes();
    create.extend(cname("created"));
    assert_eq!(error(g.send(&framed(op::CREATE, 1, &create), 16 + entry)), -libc::ERANGE);
    assert!(!share.join("created").exists());
    let open = abi::OpenIn { flags: oflag::RDWR | oflag::TRUNC, open_flags: 0 }.to_bytes();
    assert_eq!(error(g.send(&framed(op::OPEN, file, &open), 16 + 15)), -libc::ERANGE);
    assert_eq!(error(g.send(&framed(op::OPENDIR, 1, &open), 16)), -libc::ERANGE);
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents", "not truncated");
    let mut write = abi::WriteIn { fh, size: 3, ..Default::default() }.to_bytes();
    write.extend(b"XYZ");
    assert_eq!(error(g.send(&framed(op::WRITE, 0, &write), 16 + 7)), -libc::ERANGE);
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents", "not written");
    let setattr = abi::SetattrIn { valid: fattr::SIZE, size: 0, ..Default::default() }.to_bytes();
    assert_eq!(error(g.send(&framed(op::SETATTR, file, &setattr), 16 + abi::AttrOut::SIZE - 1)), -libc::ERANGE);
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents", "not truncated");
    assert_eq!(error(g.send(&framed(op::GETATTR, file, &[0; 16]), 16 + abi::AttrOut::SIZE - 1)), -libc::ERANGE);
    assert_eq!(error(g.send(&framed(op::STATFS, 1, &[]), 16 + abi::StatfsOut::SIZE - 1)), -libc::ERANGE);
    let lseek = abi::LseekIn { fh, offset: 0, whence: 2, padding: 0 }.to_bytes();
    assert_eq!(error(g.send(&framed(op::LSEEK, 0, &lseek), 16 + 7)), -libc::ERANGE);
    assert_eq!(g.s.open_counts(), counts);
    // Exactly enough room is enough.
    assert_eq!(error(g.send(&framed(op::MKDIR, 1, &mkdir), 16 + entry)), 0);
    assert!(share.join("made").is_dir());
    // A READ gets what fits (an empty reply with no room at all).
    let read = abi::ReadIn { fh, size: 100, ..Default::default() }.to_bytes();
    let r = g.send(&framed(op::READ, 0, &read), 16 + 4).unwrap();
    assert_eq!(r, (0, b"file".to_vec()));
    assert_eq!(g.send(&framed(op::READ, 0, &read), 16).unwrap(), (0, vec![]));
}

#[test]
fn an_init_whose_answer_does_not_fit_changes_nothing() {
    let (_base, share) = tree("init-room");
    let mut g = Guest::uninit(&share, false);
    let init = abi::InitIn { major: 7, minor: 38, ..Default::default() }.to_bytes();
    assert_eq!(error(g.send(&framed(op::INIT, 0, &init), 16 + 24)), -libc::ERANGE);
    assert_eq!(g.lookup(1, "file").unwrap_err(), libc::EIO, "still not initialized");
    assert_eq!(error(g.send(&framed(op::INIT, 0, &init), 16 + 64)), 0);
    let f = g.lookup(1, "file").unwrap().nodeid;
    // Nor does it drop the state of the mount that is going on.
    assert_eq!(error(g.send(&framed(op::INIT, 0, &init), 16 + 63)), -libc::ERANGE);
    g.getattr(f).unwrap();
    // The 8-byte answer to a newer major needs its 8 bytes.
    let newer = abi::InitIn { major: 8, ..Default::default() }.to_bytes();
    assert_eq!(error(g.send(&framed(op::INIT, 0, &newer), 16 + 7)), -libc::ERANGE);
    assert_eq!(g.send(&framed(op::INIT, 0, &newer), 16 + 8).unwrap().1.len(), 8);
}

#[test]
fn forgets_need_no_room_for_a_reply() {
    let (_base, share) = tree("forget-room");
    let mut g = Guest::new(&share, false);
    let f = g.lookup(1, "file").unwrap().nodeid;
    let s = g.lookup(1, "sub").unwrap().nodeid;
    assert_eq!(g.s.open_counts(), (3, 0));
    // virtio-fs queues FORGETs with no buffer for a reply.
    assert!(g.s.handle(&framed(op::FORGET, f, &abi::ForgetIn { nlookup: 1 }.to_bytes()), 0).is_none());
    assert_eq!(g.s.open_counts(), (2, 0));
    let mut batch = abi::BatchForgetIn { count: 1, dummy: 0 }.to_bytes();
    batch.extend(abi::ForgetOne { nodeid: s, nlookup: 1 }.to_bytes());
    assert!(g.s.handle(&framed(op::BATCH_FORGET, 0, &batch), 0).is_none());
    assert_eq!(g.s.open_counts(), (1, 0));
    // Malformed ones are not answered either (the guest waits for no reply).
    let f = g.lookup(1, "file").unwrap().nodeid;
    for (len, args) in [(0, vec![]), (41, vec![]), (48, vec![1, 2, 3]), (u32::MAX, vec![0; 8])] {
        let req = request(len, op::FORGET, 5, f, 0, &args);
        assert!(g.s.handle(&req, ROOM).is_none(), "len {len}");
        let req = request(len, op::BATCH_FORGET, 5, f, 0, &args);
        assert!(g.s.handle(&req, ROOM).is_none(), "len {len}");
    }
    assert_eq!(g.s.open_counts(), (2, 0));
    assert!(g.s.handle(&framed(op::INTERRUPT, 0, &abi::InterruptIn { unique: 1 }.to_bytes()), ROOM).is_none());
    assert!(g.s.handle(&framed(op::INTERRUPT, 0, &[]), 0).is_none());
}

#[test]
fn huge_reads_and_listings_are_capped() {
    let (_base, share) = tree("huge");
    let big: Vec<u8> = (0..MAX_READ + 12_345).map(|i| (i % 251) as u8).collect();
    fs::write(share.join("big"), &big).unwrap();
    fs::create_dir(share.join("many")).unwrap();
    for i in 0..7000 {
        fs::write(share.join(format!("many/entry-{i:05}")), b"").unwrap();
    }
    let mut g = Guest::new(&share, false);
    let n = g.lookup(1, "big").unwrap().nodeid;
    let fh = g.open(n, oflag::RDONLY).unwrap();
    let read = |fh, offset, size| abi::ReadIn { fh, offset, size, ..Default::default() }.to_bytes();
    let (e, p) = g.send(&framed(op::READ, 0, &read(fh, 0, u32::MAX)), 4 << 20).unwrap();
    assert_eq!((e, p.len()), (0, MAX_READ));
    assert!(p == big[..MAX_READ]);
    let (_, p) = g.send(&framed(op::READ, 0, &read(fh, 10, u32::MAX)), 16 + 1000).unwrap();
    assert_eq!(p, big[10..1010]);
    let (_, p) = g.send(&framed(op::READ, 0, &read(fh, MAX_READ as u64, u32::MAX)), usize::MAX).unwrap();
    assert_eq!(p, big[MAX_READ..]);
    assert_eq!(g.read(fh, u64::MAX, 10).unwrap_err(), libc::EINVAL);
    assert_eq!(g.read(fh, 1 << 62, 10).unwrap(), b"");

    let many = g.lookup(1, "many").unwrap().nodeid;
    let dh = g.opendir(many).unwrap();
    let (e, p) = g.send(&framed(op::READDIRPLUS, 0, &read(dh, 0, u32::MAX)), 4 << 20).unwrap();
    assert_eq!(e, 0);
    assert!(p.len() <= MAX_READ && p.len() > MAX_READ - 500, "{} bytes", p.len());
    let entries = parse_dir(&p, true);
    assert!(entries.len() < 7002);
    // Only what the reply carries was looked up.
    let looked_up: Vec<u64> = entries.iter().map(|e| e.2.nodeid).filter(|&n| n != 0).collect();
    assert_eq!(g.s.open_counts().0, 3 + looked_up.len());
    for n in looked_up {
        g.forget(n, 1);
    }
    for (size, max) in [(u32::MAX, 16 + 1000), (u32::MAX, 16 + 24), (100, ROOM), (0, ROOM)] {
        for opcode in [op::READDIR, op::READDIRPLUS] {
            let (e, p) = g.send(&framed(opcode, 0, &read(dh, 0, size)), max).unwrap();
            assert_eq!(e, 0);
            assert!(p.len() <= (max - 16).min(size as usize), "{} bytes of {size} in {max}", p.len());
            for (_, _, e) in parse_dir(&p, opcode == op::READDIRPLUS) {
                if e.nodeid != 0 {
                    g.forget(e.nodeid, 1);
                }
            }
        }
    }
    assert_eq!(g.s.open_counts(), (3, 2));
}

#[test]
fn writes_whose_size_is_not_their_data() {
    let (_base, share) = tree("write-size");
    let mut g = Guest::new(&share, false);
    let n = g.lookup(1, "file").unwrap().nodeid;
    let fh = g.open(n, oflag::RDWR).unwrap();
    for (size, data) in [(100, &b"ten bytes!"[..]), (5, b"ten bytes!"), (u32::MAX, b""), (1, b"")] {
        let mut a = abi::WriteIn { fh, size, ..Default::default() }.to_bytes();
        a.extend_from_slice(data);
        assert_eq!(g.raw(op::WRITE, 0, &a).unwrap_err(), libc::EINVAL, "size {size}, {} bytes", data.len());
    }
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents");
    assert_eq!(g.write(fh, 0, b"").unwrap(), 0);
    assert_eq!(g.write(fh, u64::MAX - 1, b"xx").unwrap_err(), libc::EINVAL);
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents");
}

#[test]
fn unknown_handles_are_ebadf() {
    let (_base, share) = tree("ebadf");
    let mut g = Guest::new(&share, false);
    let n = g.lookup(1, "file").unwrap().nodeid;
    g.open(n, oflag::RDWR).unwrap();
    for fh in [0, 2, 12345, u64::MAX] {
        let read = abi::ReadIn { fh, size: 10, ..Default::default() }.to_bytes();
        let mut write = abi::WriteIn { fh, size: 1, ..Default::default() }.to_bytes();
        write.push(b'x');
        for (opcode, args) in [
            (op::READ, read.clone()),
            (op::READDIR, read.clone()),
            (op::READDIRPLUS, read),
            (op::WRITE, write),
            (op::FLUSH, abi::FlushIn { fh, ..Default::default() }.to_bytes()),
            (op::RELEASE, abi::ReleaseIn { fh, ..Default::default() }.to_bytes()),
            (op::RELEASEDIR, abi::ReleaseIn { fh, ..Default::default() }.to_bytes()),
            (op::FSYNC, abi::FsyncIn { fh, ..Default::default() }.to_bytes()),
            (op::FSYNCDIR, abi::FsyncIn { fh, ..Default::default() }.to_bytes()),
            (op::LSEEK, abi::LseekIn { fh, ..Default::default() }.to_bytes()),
            (op::FALLOCATE, abi::FallocateIn { fh, length: 1, ..Default::default() }.to_bytes()),
        ] {
            assert_eq!(g.raw(opcode, n, &args).unwrap_err(), libc::EBADF, "opcode {opcode}, fh {fh}");
        }
    }
    assert_eq!(g.s.open_counts(), (2, 1));
    assert_eq!(fs::read(share.join("file")).unwrap(), b"file contents");
}

#[test]
fn unknown_nodes_are_estale() {
    let (_base, share) = tree("estale");
    let mut g = Guest::new(&share, false);
    let f = g.lookup(1, "file").unwrap().nodeid;
    g.forget(f, 1);
    for node in [0, f, 99, u64::MAX] {
        let mut mkdir = abi::MkdirIn { mode: 0o755, umask: 0 }.to_bytes();
        mkdir.extend(cname("d"));
        let mut create = abi::CreateIn { flags: oflag::RDWR, mode: 0o644, ..Default::default() }.to_bytes();
        create.extend(cname("c"));
        let mut mknod = abi::MknodIn { mode: libc::S_IFREG | 0o644, ..Default::default() }.to_bytes();
        mknod.extend(cname("m"));
        let mut symlink = cname("s");
        symlink.extend(cname("t"));
        for (opcode, args) in [
            (op::LOOKUP, cname("file")),
            (op::GETATTR, vec![0; 16]),
            (op::SETATTR, abi::SetattrIn { valid: fattr::MODE, mode: 0o777, ..Default::default() }.to_bytes()),
            (op::READLINK, vec![]),
            (op::OPEN, abi::OpenIn::default().to_bytes()),
            (op::OPENDIR, abi::OpenIn::default().to_bytes()),
            (op::MKDIR, mkdir),
            (op::MKNOD, mknod),
            (op::CREATE, create),
            (op::SYMLINK, symlink),
            (op::UNLINK, cname("file")),
            (op::RMDIR, cname("sub")),
            (op::STATFS, vec![]),
            (op::ACCESS, abi::AccessIn::default().to_bytes()),
        ] {
            assert_eq!(g.raw(opcode, node, &args).unwrap_err(), libc::ESTALE, "opcode {opcode}, node {node}");
        }
        assert_eq!(g.link(node, 1, "l").unwrap_err(), libc::ESTALE);
        assert_eq!(g.rename(1, "file", node, "moved", 0).unwrap_err(), libc::ESTALE);
        assert_eq!(g.rename(node, "file", 1, "moved", 0).unwrap_err(), libc::ESTALE);
    }
    let mut names: Vec<_> = fs::read_dir(&share).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["file", "link", "sub"]);
}

#[test]
fn forgets_of_unknown_nodes_and_the_root_are_ignored() {
    let (_base, share) = tree("forget");
    let mut g = Guest::new(&share, false);
    let f = g.lookup(1, "file").unwrap().nodeid;
    g.lookup(1, "file").unwrap();
    g.lookup(1, "file").unwrap();
    let s = g.lookup(1, "sub").unwrap().nodeid;
    g.forget(1, u64::MAX);
    g.forget(1, 1);
    g.forget(0, 1);
    g.forget(999, 1);
    g.forget(u64::MAX, u64::MAX);
    assert_eq!(g.s.open_counts(), (3, 0));
    g.getattr(1).unwrap();
    // Lookups are counted: three of `file`.
    g.forget(f, 2);
    g.getattr(f).unwrap();
    g.forget(f, 0);
    g.getattr(f).unwrap();
    g.forget(f, 1);
    assert_eq!(g.getattr(f).unwrap_err(), libc::ESTALE);
    g.forget(f, 1);
    // BATCH_FORGET claiming more entries than it carries: those it carries count.
    let f = g.lookup(1, "file").unwrap().nodeid;
    let l = g.lookup(1, "link").unwrap().nodeid;
    assert_eq!(g.s.open_counts(), (4, 0));
    for count in [1000, u32::MAX] {
        let mut batch = abi::BatchForgetIn { count, dummy: 0 }.to_bytes();
        batch.extend(abi::ForgetOne { nodeid: 1, nlookup: u64::MAX }.to_bytes());
        batch.extend(abi::ForgetOne { nodeid: 777, nlookup: 1 }.to_bytes());
        batch.extend(abi::ForgetOne { nodeid: f, nlookup: 1 }.to_bytes());
        batch.extend([1, 2, 3]); // half an entry
        g.tell(op::BATCH_FORGET, 0, &batch);
    }
    assert_eq!(g.s.open_counts(), (3, 0));
    let mut batch = abi::BatchForgetIn { count: 2, dummy: 0 }.to_bytes();
    batch.extend(abi::ForgetOne { nodeid: s, nlookup: u64::MAX }.to_bytes());
    batch.extend(abi::ForgetOne { nodeid: l, nlookup: 5 }.to_bytes());
    g.tell(op::BATCH_FORGET, 0, &batch);
    assert_eq!(g.s.open_counts(), (1, 0));
    g.lookup(1, "sub").unwrap();
}
