// Shared by the config and device-tree tests: a scratch directory with stand-in kernel, initrd and
// disk files, and a helper that validates machine text written into it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use semu::config::{self, Overrides, Validated};
use semu_api::{ConfigError, SourceFile};

pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// A fresh directory holding `Image` (3 MiB), `initrd.cpio` (1 MiB) and two 1 MiB disks.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("semu-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut image = vec![0u8; 3 << 20];
        image[..64].copy_from_slice(&semu::loader::image_header(0));
        std::fs::write(dir.join("Image"), image).unwrap();
        std::fs::write(dir.join("initrd.cpio"), vec![0u8; 1 << 20]).unwrap();
        std::fs::write(dir.join("disk.img"), vec![0u8; 1 << 20]).unwrap();
        std::fs::write(dir.join("disk2.img"), vec![0u8; 1 << 20]).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Validates `text` as if it were the file `m.toml` in this directory.
    pub fn validate(&self, text: &str) -> Result<Validated, ConfigError> {
        self.validate_with(text, &Overrides::default())
    }

    pub fn validate_with(&self, text: &str, ov: &Overrides) -> Result<Validated, ConfigError> {
        let path = self.dir.join("m.toml");
        std::fs::write(&path, text).unwrap();
        config::load(&path, ov)
    }

    pub fn file(&self) -> std::sync::Arc<SourceFile> {
        SourceFile::new(self.dir.join("m.toml"), "")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A complete, valid machine: RAM at 0, UART, PLIC, ACLINT, rng, root disk.
pub const GOOD: &str = r#"
[memory]
base = 0x0
size = "64MiB"

[boot]
kernel = "Image"
root = "disk0"

[[device]]
name = "uart0"
kind = "uart8250"

[[device]]
name = "plic0"
kind = "plic"

[[device]]
name = "aclint0"
kind = "aclint"

[[device]]
name = "rng0"
kind = "virtio-rng"

[[device]]
name = "disk0"
kind = "virtio-blk"
image = "disk.img"
"#;

pub fn exists(p: &Path) -> bool {
    p.exists()
}
