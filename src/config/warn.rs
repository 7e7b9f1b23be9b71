//! Warnings: things in a valid machine that will probably not do what the user wants, found
//! before boot. They are printed (`semu: warning: ...`) and the machine still runs.

use std::io::Read;

use semu_api::ConfigError;

use super::validate::Placed;
use crate::loader::LINUX_LOWMEM;

/// Offset and value of the ext2/3/4 superblock magic (superblock at 1024, `s_magic` at 56).
const EXT_MAGIC_AT: usize = 1024 + 56;
const EXT_MAGIC: [u8; 2] = [0x53, 0xef];

/// RAM an RV32 Linux kernel cannot use.
pub fn unused_ram(file: &semu_api::SourceFile, ram_size: u64, from_cli: bool) -> Option<ConfigError> {
    if ram_size <= LINUX_LOWMEM {
        return None;
    }
    let e = file
        .error(
            None,
            format!(
                "an RV32 Linux kernel uses only the first {} MiB of RAM; the other {} MiB stay unused",
                LINUX_LOWMEM >> 20,
                (ram_size - LINUX_LOWMEM) >> 20
            ),
        )
        .field("memory.size");
    Some(if from_cli { e.option("--memory") } else { e })
}

/// The root disk's image, when the kernel will not find a file system on it: empty, or without
/// the ext2/3/4 magic (the only file systems the guest kernel of `scripts/guest` has).
pub fn root_disk(d: &Placed) -> Option<ConfigError> {
    let option = d.kind.block?.image_option;
    let params = &d.spec.params;
    let table: toml::Table = params.parse().ok()?;
    let path = params.resolve(option, table.get(option)?.as_str()?);
    let mut head = Vec::new();
    std::fs::File::open(&path).ok()?.take(EXT_MAGIC_AT as u64 + 2).read_to_end(&mut head).ok()?;
    let what = if head.is_empty() {
        "is empty (0 bytes)".to_string()
    } else if head.get(EXT_MAGIC_AT..) != Some(&EXT_MAGIC[..]) {
        "holds no ext2/3/4 file system (no superblock magic at byte 1080)".to_string()
    } else {
        return None;
    };
    let msg = format!("the root disk's image {} {what}: the kernel will not find its root file system", path.display());
    Some(params.error(option, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_beyond_the_kernel_map_is_named() {
        let f = semu_api::SourceFile::new("m.toml", "");
        assert!(unused_ram(&f, 1 << 30, false).is_none());
        let w = unused_ram(&f, 3 << 30, true).unwrap();
        assert_eq!(w.option, Some("--memory"));
        assert!(w.message.contains("other 2048 MiB stay unused"), "{w}");
    }
}
