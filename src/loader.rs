//! What goes into guest RAM before the first instruction: kernel `Image` or ELF, initrd, DTB.
//!
//! Linux layout (all inside RAM, computed by [`linux_layout`], a pure function):
//! ```text
//!   ram.base                                                      low end            RAM end
//!   | kernel Image (image_size from its header, incl. BSS) ... | initrd | pad | DTB | ... |
//! ```
//! The low end is the end of RAM, or with more than [`LINUX_LOWMEM`] of RAM the end of the part
//! an RV32 kernel maps (its linear map is 1 GiB; Linux drops the RAM above it at boot): as QEMU's
//! loader does, initrd and DTB go where the kernel can reach them.

use std::path::Path;

use anyhow::{bail, Context};
use object::{Object, ObjectSymbol};

/// Room reserved for the DTB at the top of RAM.
pub const DTB_RESERVE: u64 = 0x1_0000;

/// RAM an RV32 Linux kernel uses: its linear map covers 1 GiB from the start of RAM
/// (`PAGE_OFFSET` 0xC000_0000 to the top of the address space), and it drops the rest at boot
/// (`memory_limit` in arch/riscv/mm/init.c), its last page reserved.
pub const LINUX_LOWMEM: u64 = 1 << 30;

/// Where the pieces of a Linux boot go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxLayout {
    /// Kernel load address (= RAM base) and the memory it needs (including BSS).
    pub kernel: (u64, u64),
    /// Initrd start and size, if any.
    pub initrd: Option<(u64, u64)>,
    /// DTB address.
    pub dtb: u64,
}

/// Places kernel, initrd and DTB in RAM, or says how much RAM is missing.
pub fn linux_layout(
    ram_base: u64,
    ram_size: u64,
    kernel_size: u64,
    initrd_size: Option<u64>,
) -> Result<LinuxLayout, String> {
    // The DTB's 64 KiB stay clear of the page Linux reserves at the end of its linear map.
    let low_end = ram_base + ram_size.min(LINUX_LOWMEM - DTB_RESERVE);
    let ram_size = low_end - ram_base;
    // Saturating: the sizes come from files (a kernel header can claim any image size).
    let initrd_room = initrd_size.map_or(0, |s| s.checked_next_multiple_of(4096).unwrap_or(u64::MAX));
    let need = kernel_size.saturating_add(initrd_room).saturating_add(DTB_RESERVE);
    if need > ram_size {
        return Err(format!(
            "RAM is too small: kernel ({} KiB) + initrd ({} KiB) + DTB ({} KiB) need {} KiB, RAM has {} KiB \
             (of which an RV32 kernel reaches the first 1 GiB)",
            kernel_size >> 10,
            initrd_size.unwrap_or(0) >> 10,
            DTB_RESERVE >> 10,
            need.div_ceil(1024),
            ram_size >> 10
        ));
    }
    let dtb = low_end - DTB_RESERVE;
    let initrd = initrd_size.map(|s| ((dtb - s) & !0xfff, s));
    Ok(LinuxLayout { kernel: (ram_base, kernel_size), initrd, dtb })
}

/// Bytes of a kernel file [`linux_image`] looks at.
pub const HEAD_LEN: usize = 0x440;

/// Load offset of an RV32 S-mode kernel `Image` (its header's `text_offset`).
const RV32_TEXT_OFFSET: u64 = 0x40_0000;

/// The 64-byte header of an RV32 `Image` claiming `image_size` bytes of memory: what a stand-in
/// kernel (tests, fuzzing) needs to pass [`linux_image`].
pub fn image_header(image_size: u64) -> [u8; 64] {
    let mut h = [0u8; 64];
    h[8..16].copy_from_slice(&RV32_TEXT_OFFSET.to_le_bytes());
    h[16..24].copy_from_slice(&image_size.to_le_bytes());
    h[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
    h[0x38..0x3c].copy_from_slice(b"RSC\x05");
    h
}

/// Checks that a file is an RV32 Linux `Image` from its first bytes (`head`, up to
/// [`HEAD_LEN`]) and its length, and returns the memory it needs: `image_size` from its header
/// (which counts BSS) or the file size, whichever is larger. When it is not one, says what the
/// file is instead.
///
/// The header (Linux `Documentation/riscv/boot-image-header.rst`): code0, code1,
/// `text_offset` (u64 at 8), `image_size` (u64 at 16), flags (u64 at 24, bit 0: big-endian),
/// version (u32 at 32), res1, res2, the old magic "RISCV\0\0\0" at 0x30 and "RSC\x05" at 0x38.
pub fn linux_image(head: &[u8], file_size: u64) -> Result<u64, String> {
    let h = head;
    let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().unwrap_or_default());
    if h.len() >= 0x40 && (&h[0x38..0x3c] == b"RSC\x05" || &h[0x30..0x38] == b"RISCV\0\0\0") {
        if u64_at(24) & 1 != 0 {
            return Err("is a big-endian RISC-V kernel Image; the harts are little-endian".into());
        }
        return match u64_at(8) {
            RV32_TEXT_OFFSET => Ok(u64_at(16).max(file_size)),
            0x20_0000 => Err("is an RV64 kernel Image (text offset 2 MiB); this machine's harts are RV32".into()),
            0 => Err("is an M-mode kernel Image (text offset 0); semu boots S-mode kernels on its SBI".into()),
            other => Err(format!("is a RISC-V kernel Image with text offset {other:#x}, not an RV32 one (4 MiB)")),
        };
    }
    Err(what_else(h, file_size))
}

/// What a file that is not a kernel `Image` looks like, as the end of "FILE ...".
fn what_else(h: &[u8], file_size: u64) -> String {
    const NOT: &str = "not a RISC-V Linux kernel Image";
    if file_size == 0 {
        return format!("is empty (0 bytes), {NOT}");
    }
    if h.starts_with(b"\x7fELF") && h.len() >= 0x14 {
        let class = match h[4] {
            1 => "32-bit ",
            2 => "64-bit ",
            _ => "",
        };
        let machine = match u16::from_le_bytes([h[0x12], h[0x13]]) {
            0xf3 => "RISC-V",
            0x3e => "x86-64",
            0x03 => "x86",
            0xb7 => "AArch64",
            0x28 => "ARM",
            _ => "another architecture",
        };
        if machine == "RISC-V" {
            return format!(
                "is a {class}RISC-V ELF (a vmlinux?), {NOT}: boot the `Image` (arch/riscv/boot/Image, \
                 build/guest/Image); the ELF is for gdb"
            );
        }
        return format!("is a {class}ELF for {machine}, {NOT}");
    }
    let (what, hint) = if h.starts_with(b"MZ") {
        ("a PE/COFF (Windows or EFI) executable", "")
    } else if h.starts_with(&[0x1f, 0x8b]) {
        ("gzip-compressed (an Image.gz?)", ": semu boots an uncompressed Image, gunzip it first")
    } else if h.starts_with(b"070701") || h.starts_with(b"070707") {
        ("a cpio archive (an initramfs?)", ": give it with --initrd")
    } else if h.len() >= 0x43a && h[0x438..0x43a] == [0x53, 0xef] {
        ("an ext2/3/4 file system image", ": give it with --disk")
    } else if h.starts_with(b"#!") {
        ("a script", "")
    } else if h.starts_with(b"\xd0\x0d\xfe\xed") {
        ("a device tree blob", ": semu makes the DTB itself")
    } else {
        return format!("is {NOT}: no \"RSC\\x05\" magic at offset 0x38");
    };
    format!("is {what}, {NOT}{hint}")
}

/// Reads the first bytes of a kernel file, checks it is an RV32 `Image` and returns the memory it
/// needs.
pub fn kernel_size(path: &Path) -> anyhow::Result<u64> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open kernel {}", path.display()))?;
    let len = f.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_LEN);
    f.take(HEAD_LEN as u64).read_to_end(&mut head)?;
    linux_image(&head, len).map_err(|what| anyhow::anyhow!("{} {what}", path.display()))
}

/// A loadable segment of an ELF file.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Physical load address.
    pub paddr: u64,
    /// Bytes from the file (the rest up to `memsz` is zero).
    pub data: Vec<u8>,
    /// Size in memory.
    pub memsz: u64,
}

/// A bare-metal ELF: entry point, segments and the `tohost` symbol.
#[derive(Debug, Clone)]
pub struct Elf {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments.
    pub segments: Vec<Segment>,
    /// Address of the `tohost` symbol, if present.
    pub tohost: Option<u64>,
}

/// Parses an RV32 ELF executable.
pub fn read_elf(path: &Path) -> anyhow::Result<Elf> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_elf(&data).with_context(|| format!("{} is not a usable RV32 ELF", path.display()))
}

/// Parses an RV32 ELF executable from bytes.
pub fn parse_elf(data: &[u8]) -> anyhow::Result<Elf> {
    let file = object::File::parse(data)?;
    if file.architecture() != object::Architecture::Riscv32 {
        bail!("architecture is {:?}, not RISC-V 32-bit", file.architecture());
    }
    let mut segments = Vec::new();
    let elf = match &file {
        object::File::Elf32(e) => e,
        _ => bail!("not a 32-bit ELF"),
    };
    use object::read::elf::ProgramHeader;
    let endian = elf.endian();
    for ph in elf.elf_program_headers() {
        if ph.p_type(endian) != object::elf::PT_LOAD {
            continue;
        }
        let memsz = u64::from(ph.p_memsz(endian));
        if memsz == 0 {
            continue;
        }
        let bytes = ph.data(endian, data).map_err(|()| anyhow::anyhow!("segment data out of file"))?;
        if bytes.len() as u64 > memsz {
            bail!("segment file size exceeds its memory size");
        }
        segments.push(Segment { paddr: u64::from(ph.p_paddr(endian)), data: bytes.to_vec(), memsz });
    }
    if segments.is_empty() {
        bail!("no loadable segments");
    }
    let tohost = file.symbols().find(|s| s.name() == Ok("tohost")).map(|s| s.address());
    Ok(Elf { entry: file.entry(), segments, tohost })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_places_initrd_below_dtb_and_checks_size() {
        let l = linux_layout(0x8000_0000, 64 << 20, 8 << 20, Some(1_000_000)).unwrap();
        assert_eq!(l.dtb, 0x8000_0000 + (64 << 20) - DTB_RESERVE);
        let (start, size) = l.initrd.unwrap();
        assert_eq!(start % 4096, 0);
        assert!(start + size <= l.dtb && start >= 0x8000_0000 + (8 << 20));
        let e = linux_layout(0, 8 << 20, 7 << 20, Some(2 << 20)).unwrap_err();
        assert!(e.contains("RAM is too small"), "{e}");
        // A kernel header claiming nearly 2^64 bytes (found by the `config` fuzz target).
        let e = linux_layout(0x8000_0000, 16 << 20, u64::MAX - 0xfff, Some(4096)).unwrap_err();
        assert!(e.contains("RAM is too small"), "{e}");
        assert!(linux_layout(0, 16 << 20, 0, Some(u64::MAX)).is_err());
    }

    #[test]
    fn initrd_and_dtb_stay_in_the_ram_an_rv32_kernel_maps() {
        for (base, size) in
            [(0, 1 << 30), (0, 1100 << 20), (0, 1536 << 20), (0, 2 << 30), (0, 3 << 30), (0x8000_0000, 2 << 30)]
        {
            let l = linux_layout(base, size, 8 << 20, Some(30 << 20)).unwrap();
            let (start, len) = l.initrd.unwrap();
            assert!(l.dtb + DTB_RESERVE <= base + LINUX_LOWMEM - 4096, "{size:#x}: dtb {:#x}", l.dtb);
            assert!(start >= base + (8 << 20) && start + len <= l.dtb, "{size:#x}: initrd {start:#x}");
        }
        // below 1 GiB nothing changes: the DTB is at the very top
        assert_eq!(linux_layout(0, 512 << 20, 8 << 20, None).unwrap().dtb, (512 << 20) - DTB_RESERVE);
    }

    fn header(text_offset: u64, image_size: u64) -> Vec<u8> {
        let mut h = image_header(image_size).to_vec();
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h
    }

    #[test]
    fn image_header_size_counts_bss() {
        let h = header(RV32_TEXT_OFFSET, 9 << 20);
        assert_eq!(linux_image(&h, 6 << 20), Ok(9 << 20));
        assert_eq!(linux_image(&header(RV32_TEXT_OFFSET, 0), 6 << 20), Ok(6 << 20));
    }

    #[test]
    fn names_what_a_file_is_when_it_is_not_an_rv32_image() {
        let is = |h: &[u8], len: u64, want: &str| {
            let e = linux_image(h, len).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        is(&[], 0, "is empty (0 bytes), not a RISC-V Linux kernel Image");
        let mut elf = vec![0u8; 0x40];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 1;
        elf[0x12] = 0xf3;
        is(&elf, 1 << 20, "is a 32-bit RISC-V ELF (a vmlinux?), not a RISC-V Linux kernel Image: boot the `Image`");
        elf[4] = 2;
        elf[0x12] = 0x3e;
        is(&elf, 1 << 20, "is a 64-bit ELF for x86-64, not a RISC-V Linux kernel Image");
        is(&header(0x20_0000, 0), 1 << 20, "RV64 kernel Image");
        is(&header(0, 0), 1 << 20, "M-mode kernel");
        let mut be = header(RV32_TEXT_OFFSET, 0);
        be[24] = 1;
        is(&be, 1 << 20, "big-endian");
        is(b"\x1f\x8b\x08\0", 100, "gzip");
        is(b"070701000", 100, "cpio archive");
        is(b"MZ\x90\0", 100, "PE/COFF");
        let mut ext = vec![0u8; HEAD_LEN];
        ext[0x438..0x43a].copy_from_slice(&[0x53, 0xef]);
        is(&ext, 1 << 20, "ext2/3/4");
        is(b"hello, world", 12, "is not a RISC-V Linux kernel Image: no \"RSC\\x05\" magic at offset 0x38");
        // the newer magic alone is enough
        let mut h = header(RV32_TEXT_OFFSET, 1 << 20);
        h[0x30..0x38].fill(0);
        assert_eq!(linux_image(&h, 4096), Ok(1 << 20));
    }

    #[test]
    fn rejects_non_elf() {
        assert!(parse_elf(b"not an elf at all").is_err());
    }
}
