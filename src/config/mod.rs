//! The machine file: plain serde data (this module) and the cross-field rules ([`validate`]).
//!
//! ```toml
//! [memory]
//! base = 0x8000_0000
//! size = "512MiB"
//!
//! [cpu]
//! harts = 1
//! isa = "rv32ima_zicsr_zifencei_zicntr"
//!
//! [boot]
//! kernel = "../build/guest/Image"
//! root = "disk0"
//!
//! [[device]]
//! name = "disk0"
//! kind = "virtio-blk"
//! image = "../build/guest/rootfs.ext4"
//! ```

mod isa;
mod share;
mod size;
pub mod validate;
mod warn;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

pub use isa::Isa;
pub use share::Share;
pub use size::Size;
pub use validate::{validate, Overrides, Validated};

/// A whole machine file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "semu machine", description = "A RISC-V machine for the semu emulator")]
pub struct MachineFile {
    /// Free text describing the machine.
    #[serde(default)]
    pub description: Option<String>,
    /// Guest RAM.
    pub memory: Memory,
    /// The harts and their ISA.
    #[serde(default)]
    pub cpu: Cpu,
    /// What to boot and how.
    #[serde(default)]
    pub boot: Boot,
    /// Where devices without a `base` are placed.
    #[serde(default)]
    pub soc: Soc,
    /// Device instances.
    #[serde(default, rename = "device")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub devices: Vec<Spanned<DeviceEntry>>,
}

/// Guest RAM: one region.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Memory {
    /// Guest physical base address (default 0x8000_0000, like QEMU's virt board).
    #[serde(default = "default_ram_base")]
    #[schemars(with = "u64")]
    pub base: Spanned<u64>,
    /// Size: a byte count or a string such as "512MiB".
    #[schemars(with = "Size")]
    pub size: Spanned<Size>,
}

fn default_ram_base() -> Spanned<u64> {
    Spanned::new(0..0, 0x8000_0000)
}

/// The harts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cpu {
    /// Number of harts (1 to 32).
    #[serde(default = "default_harts")]
    #[schemars(with = "u32", range(min = 1, max = 32))]
    pub harts: Spanned<u32>,
    /// ISA string, checked against what semu implements (`rv32ima_zicsr_zifencei_zicntr`).
    #[serde(default = "default_isa")]
    #[schemars(with = "String")]
    pub isa: Spanned<String>,
    /// Ticks per second of `mtime` and the `time` CSR.
    #[serde(default = "default_timebase")]
    #[schemars(with = "u64", range(min = 1, max = 4_294_967_295u64))]
    pub timebase_frequency: Spanned<u64>,
    /// Where time comes from: the host clock, or retired instructions (deterministic runs).
    #[serde(default)]
    pub clock: ClockKind,
    /// Options of the A extension.
    #[serde(default)]
    pub amo: Amo,
}

impl Default for Cpu {
    fn default() -> Self {
        Self {
            harts: default_harts(),
            isa: default_isa(),
            timebase_frequency: default_timebase(),
            clock: ClockKind::default(),
            amo: Amo::default(),
        }
    }
}

fn default_harts() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn default_isa() -> Spanned<String> {
    Spanned::new(0..0, "rv32ima_zicsr_zifencei_zicntr".to_string())
}
fn default_timebase() -> Spanned<u64> {
    Spanned::new(0..0, 10_000_000)
}

/// Time source.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClockKind {
    /// The host's monotonic clock.
    #[default]
    Host,
    /// Retired instructions (100 per tick): two runs with the same console input and no host
    /// entropy or network (virtio-rng, virtio-net) are identical.
    Instret,
}

/// Options of the A extension.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Amo {
    /// LR/SC reservation granule in bytes (a power of two, 4 to 4096).
    #[serde(default = "default_granule")]
    #[schemars(with = "u32", extend("enum" = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]))]
    pub reservation_granule: Spanned<u32>,
    /// What a misaligned AMO does: raise an address-misaligned exception, or complete.
    #[serde(default)]
    pub misaligned: MisalignedKind,
}

impl Default for Amo {
    fn default() -> Self {
        Self { reservation_granule: default_granule(), misaligned: MisalignedKind::default() }
    }
}

fn default_granule() -> Spanned<u32> {
    Spanned::new(0..0, 64)
}

/// Behaviour of misaligned AMOs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MisalignedKind {
    /// Store/AMO address-misaligned exception (cause 6).
    #[default]
    Trap,
    /// Perform the AMO anyway.
    Emulate,
}

/// What to boot.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Boot {
    /// `linux`: an S-mode kernel `Image` on the emulator's built-in SBI; `bare-metal`: an ELF in
    /// M-mode, pass/fail through `tohost`.
    #[serde(default)]
    pub mode: BootModeKind,
    /// Kernel `Image` (linux) or ELF (bare-metal), relative to this file.
    #[serde(default)]
    #[schemars(with = "Option<PathBuf>")]
    pub kernel: Option<Spanned<PathBuf>>,
    /// Initial ramdisk (cpio), relative to this file.
    #[serde(default)]
    #[schemars(with = "Option<PathBuf>")]
    pub initrd: Option<Spanned<PathBuf>>,
    /// Extra kernel arguments, after the ones the machine implies.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub append: Option<Spanned<String>>,
    /// The disk device holding the root file system (`root=/dev/vdX rw rootwait` follows from it).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub root: Option<Spanned<String>>,
    /// The console device (default: the first device that can be one, by address).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub console: Option<Spanned<String>>,
    /// Bare-metal: address of `tohost` (default: the ELF's `tohost` symbol).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub tohost: Option<Spanned<u64>>,
}

/// Boot mode.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BootModeKind {
    /// Linux kernel in S-mode with SBI provided by the emulator.
    #[default]
    Linux,
    /// ELF in M-mode, no SBI, HTIF `tohost`.
    BareMetal,
}

/// The window devices without a fixed `base` are placed in.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Soc {
    /// Lowest address for automatic placement (default 0x1000_0000 when RAM is at or above
    /// 0x4000_0000, else 0xF000_0000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub base: Option<Spanned<u64>>,
}

/// One `[[device]]` table: the keys every device has; the rest are the kind's own options.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DeviceEntry {
    /// Instance name (unique; used in the device tree node name and in messages).
    pub name: Spanned<String>,
    /// Device kind, from the registry.
    pub kind: Spanned<String>,
    /// Base address (allocated when left out).
    #[serde(default)]
    pub base: Option<Spanned<u64>>,
    /// Interrupt source number at its controller (allocated when left out).
    #[serde(default)]
    pub irq: Option<Spanned<u32>>,
    /// The interrupt controller instance (default: the only one).
    #[serde(default)]
    pub irq_parent: Option<Spanned<String>>,
    /// Kind-specific options (parsed by the plugin).
    #[serde(flatten)]
    pub options: toml::Table,
}

/// Keys of a `[[device]]` table that are not the kind's own options.
pub const COMMON_KEYS: &[&str] = &["name", "kind", "base", "irq", "irq-parent"];

/// A machine file's text parsed into [`MachineFile`], with errors naming file, line, field and,
/// inside a `[[device]]` table, the device.
pub fn parse(file: &semu_api::SourceFile) -> Result<MachineFile, semu_api::ConfigError> {
    let doc = toml::de::DeTable::parse(&file.text).map_err(|e| {
        let mut err = file.error(e.span(), e.message().trim());
        err.field = place_of(&file.text, e.span()).field;
        err
    })?;
    MachineFile::deserialize(toml::de::Deserializer::from(doc)).map_err(|e| {
        let message = e.message().trim();
        let mut err = file.error(e.span(), message);
        let place = place_of(&file.text, e.span());
        err.field = match semu_api::missing_field(message) {
            // a key missing from the table the span points at
            Some(key) => Some(match &place.table {
                Some(t) if place.instance.is_none() => format!("{t}.{key}"),
                _ => key,
            }),
            None => place.field,
        };
        err.instance = place.instance;
        err
    })
}

/// Where a parse error's span lies, read from the text around it.
#[derive(Debug, Default, PartialEq)]
struct Place {
    /// The enclosing `[table]` (dotted), if any and not a `[[device]]`.
    table: Option<String>,
    /// The `name` of the enclosing `[[device]]` table, if any.
    instance: Option<String>,
    /// The key on the span's line, prefixed with the enclosing table outside `[[device]]` tables;
    /// on a header line, the table's name.
    field: Option<String>,
}

/// The header name of a `[table]` or `[[array]]` line.
fn header(line: &str) -> Option<&str> {
    let name = line.strip_prefix('[')?.trim_start_matches('[').split(']').next()?.trim();
    (!name.is_empty()).then_some(name)
}

/// The key of a `key = value` line.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

fn place_of(text: &str, span: Option<std::ops::Range<usize>>) -> Place {
    let Some(at) = span.map(|s| s.start) else { return Place::default() };
    // the lines with their byte offsets; the span's line is the last one starting at or before it
    let mut offset = 0;
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .map(|l| {
            offset += l.len();
            (offset - l.len(), l.trim())
        })
        .collect();
    let Some(i) = lines.iter().rposition(|&(o, _)| o <= at) else { return Place::default() };
    let line = lines[i].1;
    // the enclosing header: this line's, or the nearest one above
    let head = lines[..=i].iter().rposition(|&(_, l)| header(l).is_some());
    let head_line = head.map(|h| lines[h].1);
    let is_device = head_line.is_some_and(|h| h.starts_with("[[") && header(h) == Some("device"));
    let table = head_line.filter(|_| !is_device).and_then(header).map(str::to_string);
    // a device's `name = "…"`, between its header and the next one
    let instance = head
        .filter(|_| is_device)
        .and_then(|h| {
            lines[h + 1..].iter().take_while(|&&(_, l)| header(l).is_none()).find_map(|&(_, l)| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            })
        })
        .filter(|n| !n.is_empty());
    let field = match (header(line), key_of(line)) {
        (Some(h), _) => Some(h.to_string()),
        (None, Some(k)) => Some(match &table {
            Some(t) => format!("{t}.{k}"),
            None => k.to_string(),
        }),
        (None, None) => None,
    };
    Place { table, instance, field }
}

/// Reads, parses and validates the machine file at `path`, with command-line overrides.
pub fn load(path: &std::path::Path, ov: &Overrides) -> Result<Validated, semu_api::ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| semu_api::ConfigError {
        file: path.to_path_buf(),
        line: None,
        instance: None,
        field: None,
        option: None,
        message: format!("cannot read machine file: {e}"),
    })?;
    let file = semu_api::SourceFile::new(path, text);
    let parsed = parse(&file)?;
    validate(&file, parsed, ov)
}

#[cfg(test)]
mod tests {
    use super::{place_of, Place};

    fn at(text: &str, needle: &str) -> Place {
        let i = text.find(needle).expect("needle");
        place_of(text, Some(i..i + needle.len()))
    }

    #[test]
    fn places_name_table_field_and_device() {
        let text =
            "description = \"x\"\n[cpu.amo]\nmisaligned = 3\n\n[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n\
                    [[device]]\nkind = \"plic\"\nbase = \"no\"\nname = 'plic0'\n[[device]]\nirq = 1\n";
        let p = |t: Option<&str>, i: Option<&str>, f: Option<&str>| Place {
            table: t.map(Into::into),
            instance: i.map(Into::into),
            field: f.map(Into::into),
        };
        assert_eq!(at(text, "\"x\""), p(None, None, Some("description")));
        assert_eq!(at(text, "3"), p(Some("cpu.amo"), None, Some("cpu.amo.misaligned")));
        assert_eq!(at(text, "[cpu.amo]"), p(Some("cpu.amo"), None, Some("cpu.amo")));
        assert_eq!(at(text, "\"uart8250\""), p(None, Some("uart0"), Some("kind")));
        // the name may come after the key in error, and belongs to its own table only
        assert_eq!(at(text, "\"no\""), p(None, Some("plic0"), Some("base")));
        assert_eq!(at(text, "irq = 1"), p(None, None, Some("irq")));
        assert_eq!(place_of(text, None), Place::default());
        // CRLF line ends read the same
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(at(&crlf, "\"no\""), p(None, Some("plic0"), Some("base")));
        assert_eq!(at(&crlf, "3"), p(Some("cpu.amo"), None, Some("cpu.amo.misaligned")));
        assert_eq!(place_of(&crlf, Some(crlf.len() + 5..crlf.len() + 6)).field.as_deref(), Some("irq"));
    }
}
