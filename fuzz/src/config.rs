//! Target `config`: the machine-file loader and validator.
//!
//! The input is the text of a machine file in a scratch directory that holds stand-in files for
//! it to name (`Image`, `big-header.Image`, `initrd.cpio`, `disk.img`, `disk2.img`, `odd.img`,
//! `empty.img`, `prog.elf`, a directory `dir`). Parsing and validation must return a value, never
//! panic; an error must name the file (and a line inside it, when it has one); a machine that
//! validates must have a device tree that builds, parses back and fits its reserved space, and a
//! layout that is inside RAM.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use semu::config::validate::{ADDRESS_SPACE, MAX_HARTS};
use semu::config::{self, Overrides, Validated};
use semu::{fdt, loader};
use semu_api::{ConfigError, SourceFile};

/// The scratch directory with the stand-in files (made once per process).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("semu-fuzz-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dir")).expect("scratch directory");
        let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).expect("stand-in file");
        let mut image = vec![0; 64 << 10];
        image[..64].copy_from_slice(&loader::image_header(0));
        w("Image", &image);
        w("big-header.Image", &loader::image_header(u64::MAX - 0xfff));
        w("initrd.cpio", &[0; 4096]);
        w("disk.img", &[0; 64 << 10]);
        w("disk2.img", &[0; 64 << 10]);
        w("odd.img", &[0; 1000]);
        w("empty.img", &[]);
        w("prog.elf", &tiny_elf(0x8000_0000));
        dir
    })
}

/// A minimal RV32 ELF executable: one loadable segment of 8 bytes (`j .` twice) at `at`.
pub fn tiny_elf(at: u32) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend(b"\x7fELF\x01\x01\x01\0"); // 32-bit, little endian, version 1
    e.extend([0; 8]);
    e.extend(2u16.to_le_bytes()); // ET_EXEC
    e.extend(243u16.to_le_bytes()); // EM_RISCV
    e.extend(1u32.to_le_bytes());
    e.extend(at.to_le_bytes()); // entry
    e.extend(52u32.to_le_bytes()); // phoff
    e.extend(0u32.to_le_bytes()); // shoff
    e.extend(0u32.to_le_bytes()); // flags
    e.extend(52u16.to_le_bytes()); // ehsize
    e.extend(32u16.to_le_bytes()); // phentsize
    e.extend(1u16.to_le_bytes()); // phnum
    e.extend(40u16.to_le_bytes()); // shentsize
    e.extend(0u16.to_le_bytes()); // shnum
    e.extend(0u16.to_le_bytes()); // shstrndx
    for v in [1u32, 84, at, at, 8, 8, 5, 4] {
        // PT_LOAD, offset, vaddr, paddr, filesz, memsz, R|X, align
        e.extend(v.to_le_bytes());
    }
    e.extend(0x0000_006fu32.to_le_bytes());
    e.extend(0x0000_006fu32.to_le_bytes());
    e
}

/// Checks the shape of an error about `file`.
fn check_error(e: &ConfigError, file: &SourceFile) {
    assert_eq!(e.file, file.path, "the error names the machine file: {e}");
    let shown = e.to_string();
    assert!(shown.starts_with(&file.path.display().to_string()), "{shown}");
    assert!(!e.message.trim().is_empty(), "an error says what is wrong: {shown}");
    if let Some(line) = e.line {
        let lines = u32::try_from(file.text.lines().count().max(1) + 1).unwrap_or(u32::MAX);
        assert!((1..=lines).contains(&line), "line {line} of a {lines}-line file: {shown}");
    }
}

/// Checks what validation promises about a machine.
fn check_machine(v: &Validated) {
    let ram = (v.ram_base, v.ram_base + v.ram_size);
    assert!(ram.1 <= ADDRESS_SPACE && v.ram_size > 0);
    assert!((1..=MAX_HARTS as usize).contains(&v.harts));
    let mut prev_end = 0;
    for d in &v.devices {
        let (b, e) = (d.spec.base, d.spec.base + d.spec.size);
        assert!(e <= ADDRESS_SPACE, "device {} ends at {e:#x}", d.spec.name);
        assert!(b >= prev_end, "devices sorted and disjoint: {} at {b:#x}", d.spec.name);
        assert!(e <= ram.0 || b >= ram.1, "device {} overlaps RAM", d.spec.name);
        prev_end = e;
    }
    let l = v.boot.layout;
    let inside = |a: u64, n: u64| a >= ram.0 && a.checked_add(n).is_some_and(|end| end <= ram.1);
    assert!(inside(l.dtb, loader::DTB_RESERVE), "DTB at {:#x}", l.dtb);
    assert!(inside(l.kernel.0, l.kernel.1), "kernel {:?}", l.kernel);
    if let Some((a, n)) = l.initrd {
        assert!(inside(a, n) && a >= l.kernel.0 + l.kernel.1 && a + n <= l.dtb, "initrd {:?}", l.initrd);
    }
    let blob = fdt::build(v).unwrap_or_else(|e| panic!("a validated machine has a device tree: {e}"));
    assert!(blob.len() as u64 <= loader::DTB_RESERVE, "DTB of {} bytes", blob.len());
    fdt::dts::parse(&blob).expect("the device tree parses back");
}

/// The target: `data` is the machine file's text.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = SourceFile::new(scratch().join("m.toml"), text);
    let parsed = match config::parse(&file) {
        Ok(m) => m,
        Err(e) => return check_error(&e, &file),
    };
    match config::validate(&file, parsed, &Overrides::default()) {
        Ok(v) => check_machine(&v),
        Err(e) => check_error(&e, &file),
    }
}
