//! What goes into guest RAM before the first instruction: kernel `Image` or ELF, initrd, DTB.
//!
//! Linux layout (all inside RAM, computed by [`linux_layout`], a pure function):
//! ```text
//!   ram.base                                                         ram.base + ram.size
//!   | kernel Image (image_size from its header, incl. BSS) ... | initrd | pad | DTB (64 KiB) |
//! ```

use std::path::Path;

use anyhow::{bail, Context};
use object::{Object, ObjectSymbol};

/// Room reserved for the DTB at the top of RAM.
pub const DTB_RESERVE: u64 = 0x1_0000;

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
    let ram_end = ram_base + ram_size;
    // Saturating: the sizes come from files (a kernel header can claim any image size).
    let initrd_room = initrd_size.map_or(0, |s| s.checked_next_multiple_of(4096).unwrap_or(u64::MAX));
    let need = kernel_size.saturating_add(initrd_room).saturating_add(DTB_RESERVE);
    if need > ram_size {
        return Err(format!(
            "RAM is too small: kernel ({} KiB) + initrd ({} KiB) + DTB ({} KiB) need {} KiB, RAM has {} KiB",
            kernel_size >> 10,
            initrd_size.unwrap_or(0) >> 10,
            DTB_RESERVE >> 10,
            need.div_ceil(1024),
            ram_size >> 10
        ));
    }
    let dtb = ram_end - DTB_RESERVE;
    let initrd = initrd_size.map(|s| ((dtb - s) & !0xfff, s));
    Ok(LinuxLayout { kernel: (ram_base, kernel_size), initrd, dtb })
}

/// Memory a RISC-V Linux `Image` needs: `image_size` from its header (which counts BSS), or the
/// file size for a file without that header.
pub fn kernel_image_size(bytes_or_header: &[u8], file_size: u64) -> u64 {
    // riscv Image header: code0 code1 text_offset(u64) image_size(u64) flags(u64) version(u32)
    // res1(u32) res2(u64) magic "RISCV\0\0\0" at 0x30, magic2 "RSC\x05" at 0x38.
    let h = bytes_or_header;
    if h.len() >= 0x3c && &h[0x30..0x38] == b"RISCV\0\0\0" && &h[0x38..0x3c] == b"RSC\x05" {
        let size = u64::from_le_bytes(h[16..24].try_into().unwrap_or_default());
        if size >= file_size {
            return size;
        }
    }
    file_size
}

/// Reads the first bytes of a kernel file and returns the memory it needs.
pub fn kernel_size(path: &Path) -> anyhow::Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open kernel {}", path.display()))?;
    let len = f.metadata()?.len();
    let mut head = vec![0; 0x40.min(len as usize)];
    f.read_exact(&mut head)?;
    Ok(kernel_image_size(&head, len))
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
    fn image_header_size_counts_bss() {
        let mut h = vec![0u8; 0x40];
        h[16..24].copy_from_slice(&(9u64 << 20).to_le_bytes());
        h[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
        h[0x38..0x3c].copy_from_slice(b"RSC\x05");
        assert_eq!(kernel_image_size(&h, 6 << 20), 9 << 20);
        assert_eq!(kernel_image_size(&h[..0x20], 6 << 20), 6 << 20);
    }

    #[test]
    fn rejects_non_elf() {
        assert!(parse_elf(b"not an elf at all").is_err());
    }
}
