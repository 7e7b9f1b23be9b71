//! The Rust structures against the kernel's header: a C program compiled with the host's `gcc`
//! against `/usr/include/linux/fuse.h` prints every structure's size and every field's offset
//! and size, which must equal Rust's. A missing `gcc` or header fails the test (`scripts/deps.sh`
//! installs `linux-libc-dev`).

use std::fmt::Write as _;

use super::Scratch;
use crate::abi::*;

type Layout = (&'static str, usize, &'static [(&'static str, usize, usize)]);

fn layout<T: Wire>() -> Layout {
    (T::C_NAME, T::SIZE, T::FIELDS)
}

/// Every structure the server reads or writes.
fn all() -> Vec<Layout> {
    vec![
        layout::<Attr>(),
        layout::<Kstatfs>(),
        layout::<InHeader>(),
        layout::<OutHeader>(),
        layout::<InitIn>(),
        layout::<InitOut>(),
        layout::<EntryOut>(),
        layout::<AttrOut>(),
        layout::<ForgetIn>(),
        layout::<ForgetOne>(),
        layout::<BatchForgetIn>(),
        layout::<GetattrIn>(),
        layout::<SetattrIn>(),
        layout::<MknodIn>(),
        layout::<MkdirIn>(),
        layout::<RenameIn>(),
        layout::<Rename2In>(),
        layout::<LinkIn>(),
        layout::<OpenIn>(),
        layout::<CreateIn>(),
        layout::<OpenOut>(),
        layout::<ReleaseIn>(),
        layout::<FlushIn>(),
        layout::<ReadIn>(),
        layout::<WriteIn>(),
        layout::<WriteOut>(),
        layout::<StatfsOut>(),
        layout::<FsyncIn>(),
        layout::<AccessIn>(),
        layout::<InterruptIn>(),
        layout::<FallocateIn>(),
        layout::<LseekIn>(),
        layout::<LseekOut>(),
        layout::<GetxattrIn>(),
        layout::<Dirent>(),
        layout::<Direntplus>(),
    ]
}

/// The C name of a Rust field (`type` is a Rust keyword).
fn c_field(f: &str) -> &str {
    if f == "typ" {
        "type"
    } else {
        f
    }
}

#[test]
fn structures_match_the_kernel_header() {
    let header = std::path::Path::new("/usr/include/linux/fuse.h");
    assert!(header.is_file(), "{} is missing: install linux-libc-dev (scripts/deps.sh)", header.display());
    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n#include <linux/fuse.h>\nint main(void) {\n");
    let mut want = String::new();
    for (name, size, fields) in all() {
        writeln!(c, "printf(\"{name} %zu\\n\", sizeof(struct {name}));").unwrap();
        writeln!(want, "{name} {size}").unwrap();
        for (f, off, fsize) in fields {
            let f = c_field(f);
            writeln!(
                c,
                "printf(\"{name}.{f} %zu %zu\\n\", offsetof(struct {name}, {f}), sizeof(((struct {name} *)0)->{f}));"
            )
            .unwrap();
            writeln!(want, "{name}.{f} {off} {fsize}").unwrap();
        }
    }
    c.push_str("printf(\"minor %d\\n\", FUSE_KERNEL_MINOR_VERSION);\nreturn 0;\n}\n");
    writeln!(want, "minor {KERNEL_MINOR_VERSION}").unwrap();

    let dir = Scratch::new("abi");
    std::fs::write(dir.join("abi.c"), c).unwrap();
    let out = std::process::Command::new("gcc")
        .arg("-o")
        .arg(dir.join("abi"))
        .arg(dir.join("abi.c"))
        .output()
        .expect("running gcc (it must be installed for this test)");
    assert!(out.status.success(), "gcc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let run = std::process::Command::new(dir.join("abi")).output().unwrap();
    assert!(run.status.success());
    let got = String::from_utf8(run.stdout).unwrap();
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w, "C (left) and Rust (right) disagree");
    }
    assert_eq!(got.lines().count(), want.lines().count());
    assert!(got.lines().count() > 170, "every field was compared");
}

/// Reading and writing go through the same offsets, at any alignment.
#[test]
fn structures_round_trip_unaligned() {
    let a = SetattrIn { valid: 1, fh: 2, size: 3, atime: 4, mtime: 5, mode: 6, uid: 7, gid: 8, ..Default::default() };
    let mut b = vec![0xAA];
    b.extend(a.to_bytes());
    assert_eq!(SetattrIn::get(&b[1..]), a);
    let mut r = Reader::new(&b[1..]);
    assert_eq!(r.obj::<SetattrIn>(), Some(a));
    assert!(r.is_empty());
    assert_eq!(r.obj::<ForgetIn>(), None);
}
