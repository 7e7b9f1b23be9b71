//! Descriptors under a low `RLIMIT_NOFILE`: every node the guest knows is an open descriptor, so
//! FORGET must close them, and running out must be an error reply (`EMFILE`), not a panic.
//!
//! The limit is the process's, and the test harness runs tests as threads of one process: the
//! test runs itself again as a child process (the test executable, this one test, an
//! environment variable saying so) and lowers the limit there.

use std::collections::BTreeSet;
use std::fs;

use super::*;
use crate::abi::oflag;

const CHILD: &str = "SEMU_VIRTIO_FS_TEST_LOW_NOFILE";
const LIMIT: u64 = 256;
const FILES: usize = 10_000;

/// Runs the test `name` (in this module) in a child process; true in that child.
fn in_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let module = module_path!().split_once("::").unwrap().1;
    let test = format!("{module}::{name}");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{test} failed in the child:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{test} did not run in the child:\n{stdout}");
    false
}

/// Lowers this process's soft limit on descriptors to `LIMIT`.
fn lower_nofile() {
    let lim = libc::rlimit { rlim_cur: LIMIT, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: reads and writes a `struct rlimit` owned here.
    unsafe {
        let mut old: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let lim = libc::rlimit { rlim_max: old.rlim_max, ..lim };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[test]
fn forgets_keep_descriptors_bounded_under_a_low_rlimit() {
    if !in_child("forgets_keep_descriptors_bounded_under_a_low_rlimit") {
        return;
    }
    let dir = Scratch::new("nofile");
    fs::create_dir(dir.join("many")).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..FILES {
        let name = format!("f{i:05}");
        fs::write(dir.join("many").join(&name), b"").unwrap();
        want.insert(name);
    }
    lower_nofile();
    let mut g = Guest::new(dir.path(), false);
    let many = g.lookup(1, "many").unwrap().nodeid;

    // A guest `find`: list the directory, then LOOKUP, GETATTR and (the dentry evicted) FORGET
    // each entry.
    let dh = g.opendir(many).unwrap();
    let names: Vec<String> = g.list(dh, false, 4096).into_iter().map(|e| e.0).filter(|n| !n.starts_with('.')).collect();
    assert_eq!(names.len(), FILES);
    for name in &names {
        let e = g.lookup(many, name).unwrap();
        assert_eq!(g.getattr(e.nodeid).unwrap().ino, e.attr.ino);
        g.forget(e.nodeid, 1);
        assert_eq!(g.s.open_counts(), (2, 1));
    }

    // READDIRPLUS, forgetting each reply's entries before asking for the next.
    let mut seen = BTreeSet::new();
    let mut offset = 0;
    loop {
        let args = abi::ReadIn { fh: dh, offset, size: 4096, ..Default::default() }.to_bytes();
        let p = g.raw(op::READDIRPLUS, 0, &args).unwrap();
        if p.is_empty() {
            break;
        }
        let entries = parse_dir(&p, true);
        assert!(g.s.open_counts().0 <= 2 + entries.len());
        for (name, d, e) in entries {
            offset = d.off;
            if e.nodeid != 0 {
                assert!(seen.insert(name), "a name twice");
                g.forget(e.nodeid, 1);
            }
        }
        assert_eq!(g.s.open_counts(), (2, 1));
    }
    assert_eq!(seen, want);

    // Without FORGET the limit is reached: an error reply, and the server goes on.
    let mut held = Vec::new();
    let err = loop {
        match g.lookup(many, &names[held.len()]) {
            Ok(e) => held.push(e.nodeid),
            Err(e) => break e,
        }
    };
    assert!(err == libc::EMFILE || err == libc::ENFILE, "errno {err}");
    assert!(held.len() < LIMIT as usize, "{} nodes under a limit of {LIMIT} descriptors", held.len());
    g.getattr(1).unwrap();
    // (A LOOKUP needs a second descriptor for a moment: one may be left; OPEN takes it.)
    let f = held[0];
    let mut spare = Vec::new();
    let err = loop {
        match g.open(f, oflag::RDONLY) {
            Ok(fh) => spare.push(fh),
            Err(e) => break e,
        }
        assert!(spare.len() < 3);
    };
    assert_eq!(err, libc::EMFILE);
    assert_eq!(g.opendir(1).unwrap_err(), libc::EMFILE);
    let args = abi::ReadIn { fh: dh, offset: 0, size: 1 << 20, ..Default::default() }.to_bytes();
    assert_eq!(g.raw(op::READDIRPLUS, 0, &args).unwrap_err(), libc::EMFILE);
    let mut create = abi::CreateIn { flags: oflag::RDWR | oflag::CREAT, mode: 0o644, ..Default::default() }.to_bytes();
    create.extend(cname("new"));
    assert_eq!(g.raw(op::CREATE, many, &create).unwrap_err(), libc::EMFILE);
    assert_eq!(g.s.open_counts(), (2 + held.len(), 1 + spare.len()));
    // Forgetting (and releasing) gives the descriptors back.
    for n in held {
        g.forget(n, 1);
    }
    for fh in spare {
        g.release(fh).unwrap();
    }
    assert_eq!(g.s.open_counts(), (2, 1));
    let n = g.lookup(many, "f00042").unwrap().nodeid;
    let fh = g.open(n, oflag::RDONLY).unwrap();
    g.release(fh).unwrap();
    g.raw(op::CREATE, many, &create).unwrap();
}
