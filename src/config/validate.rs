//! Cross-field rules: everything that makes a parsed machine file a machine that can be built.
//! Devices are placed (base addresses and interrupt numbers allocated) here, so that the device
//! tree and the built machine derive from one validated description.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use semu_api::{ConfigError, DeviceKind, DeviceSpec, Params, SourceFile};
use toml::Spanned;

use super::{BootModeKind, ClockKind, Isa, MachineFile, MisalignedKind, Share, Size, COMMON_KEYS};
use crate::loader::{self, LinuxLayout};
use crate::registry;

/// Most harts a machine may have.
pub const MAX_HARTS: u32 = 32;
/// The physical address space devices and RAM must fit in.
pub const ADDRESS_SPACE: u64 = 1 << 32;

/// Command-line options that override the machine file. Paths are relative to the working
/// directory, not to the machine file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--kernel`
    pub kernel: Option<PathBuf>,
    /// `--initrd`
    pub initrd: Option<PathBuf>,
    /// `--disk`: the image of the root disk (or of the only disk).
    pub disk: Option<PathBuf>,
    /// `--append`
    pub append: Option<String>,
    /// `--harts`
    pub harts: Option<u32>,
    /// `--memory`
    pub memory: Option<Size>,
    /// `--snapshot`: every disk keeps its image unchanged (writes go to a throwaway overlay).
    pub snapshot: bool,
    /// `--share`: host directories shared with the guest, each a `virtio-fs` device added to the
    /// machine.
    pub shares: Vec<Share>,
}

/// A device instance after validation: placed, with its kind.
#[derive(Debug, Clone)]
pub struct Placed {
    /// What the plugin sees.
    pub spec: DeviceSpec,
    /// Its kind.
    pub kind: &'static DeviceKind,
    /// Index (in [`Validated::devices`]) of its interrupt controller, if it has an interrupt.
    pub parent: Option<usize>,
}

/// How the machine boots.
#[derive(Debug, Clone)]
pub struct BootPlan {
    /// Linux or bare-metal.
    pub mode: BootModeKind,
    /// Kernel or ELF path, resolved.
    pub kernel: Option<PathBuf>,
    /// Initrd path, resolved.
    pub initrd: Option<PathBuf>,
    /// The complete kernel command line.
    pub bootargs: String,
    /// Index of the console device.
    pub console: Option<usize>,
    /// Index of the root disk.
    pub root: Option<usize>,
    /// Bare-metal: the tohost address.
    pub tohost: Option<u64>,
    /// Where kernel, initrd and DTB go (Linux), or where the DTB goes (bare-metal).
    pub layout: LinuxLayout,
}

/// A machine that can be built: every rule checked, every resource placed.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The machine file.
    pub file: Arc<SourceFile>,
    /// Short name (file stem), for the DT `model`.
    pub name: String,
    /// RAM base.
    pub ram_base: u64,
    /// RAM size.
    pub ram_size: u64,
    /// Number of harts.
    pub harts: usize,
    /// ISA.
    pub isa: Isa,
    /// Timebase frequency in Hz.
    pub timebase_frequency: u64,
    /// Time source.
    pub clock: ClockKind,
    /// LR/SC reservation granule in bytes.
    pub reservation_granule: u32,
    /// Misaligned AMO behaviour.
    pub misaligned_amo: MisalignedKind,
    /// Boot plan.
    pub boot: BootPlan,
    /// Devices, sorted by base address.
    pub devices: Vec<Placed>,
    /// What will probably not work as meant, though the machine is valid (`semu: warning:`).
    pub warnings: Vec<ConfigError>,
}

struct Ctx<'a> {
    file: &'a Arc<SourceFile>,
    /// Fields whose value came from the command line, with the option that gave it.
    cli: Vec<(&'static str, &'static str)>,
}

impl Ctx<'_> {
    /// An error about `field`, at its place in the file or naming the command-line option that
    /// set it.
    fn err<T>(&self, v: &Spanned<T>, field: &str, msg: impl Into<String>) -> ConfigError {
        let e = self.file.error(span(v), msg).field(field);
        match self.cli.iter().find(|(f, _)| *f == field) {
            Some((_, option)) => e.option(option),
            None => e,
        }
    }
}

fn span<T>(v: &Spanned<T>) -> Option<Range<usize>> {
    let s = v.span();
    (s.end > 0).then_some(s)
}

/// Checks a parsed machine file and places its devices. `overrides` come from the command line.
pub fn validate(file: &Arc<SourceFile>, mut m: MachineFile, ov: &Overrides) -> Result<Validated, ConfigError> {
    let mut cx = Ctx { file, cli: Vec::new() };
    let cli = |p: &PathBuf| Spanned::new(0..0, p.clone());
    if let Some(k) = &ov.kernel {
        m.boot.kernel = Some(cli(k));
        cx.cli.push(("boot.kernel", "--kernel"));
    }
    if let Some(i) = &ov.initrd {
        m.boot.initrd = Some(cli(i));
        cx.cli.push(("boot.initrd", "--initrd"));
    }
    if let Some(a) = &ov.append {
        m.boot.append = Some(Spanned::new(0..0, a.clone()));
        cx.cli.push(("boot.append", "--append"));
    }
    if let Some(h) = ov.harts {
        m.cpu.harts = Spanned::new(0..0, h);
        cx.cli.push(("cpu.harts", "--harts"));
    }
    if let Some(s) = ov.memory {
        m.memory.size = Spanned::new(0..0, s);
        cx.cli.push(("memory.size", "--memory"));
    }

    // CPU.
    let harts = *m.cpu.harts.get_ref();
    if harts == 0 || harts > MAX_HARTS {
        return Err(cx.err(&m.cpu.harts, "cpu.harts", format!("{harts} harts: semu supports 1 to {MAX_HARTS}")));
    }
    let isa = Isa::parse(m.cpu.isa.get_ref()).map_err(|e| cx.err(&m.cpu.isa, "cpu.isa", e))?;
    let timebase_frequency = *m.cpu.timebase_frequency.get_ref();
    if timebase_frequency == 0 {
        return Err(cx.err(&m.cpu.timebase_frequency, "cpu.timebase-frequency", "must not be 0"));
    }
    if timebase_frequency > u64::from(u32::MAX) {
        return Err(cx.err(
            &m.cpu.timebase_frequency,
            "cpu.timebase-frequency",
            format!("{timebase_frequency} Hz: the device tree holds at most {} Hz (32 bits)", u32::MAX),
        ));
    }
    let granule = *m.cpu.amo.reservation_granule.get_ref();
    if !granule.is_power_of_two() || !(4..=4096).contains(&granule) {
        return Err(cx.err(
            &m.cpu.amo.reservation_granule,
            "cpu.amo.reservation-granule",
            format!("{granule} bytes: must be a power of two from 4 to 4096"),
        ));
    }

    // Memory.
    let ram_base = *m.memory.base.get_ref();
    let ram_size = m.memory.size.get_ref().0;
    if ram_size < (1 << 20) {
        return Err(cx.err(&m.memory.size, "memory.size", format!("{} is too small: at least 1MiB", Size(ram_size))));
    }
    if !ram_base.is_multiple_of(4096) {
        return Err(cx.err(&m.memory.base, "memory.base", format!("{ram_base:#x} is not 4 KiB aligned")));
    }
    if ram_base.checked_add(ram_size).is_none_or(|e| e > ADDRESS_SPACE) {
        return Err(cx.err(
            &m.memory.size,
            "memory.size",
            format!("RAM {ram_base:#x} + {} ends beyond the 32-bit address space", Size(ram_size)),
        ));
    }
    if m.boot.mode == BootModeKind::Linux && !ram_base.is_multiple_of(4 << 20) {
        return Err(cx.err(
            &m.memory.base,
            "memory.base",
            format!("{ram_base:#x}: an RV32 Linux kernel needs RAM aligned to 4 MiB"),
        ));
    }

    let shares = super::share::add_devices(file, &mut m, &ov.shares)?;
    let mut devices = place_devices(&cx, &m, ram_base, ram_size, harts as usize, timebase_frequency)?;
    super::share::set_options(&mut devices, shares);
    let boot = plan_boot(&cx, &m, ov, &mut devices, ram_base, ram_size)?;

    for d in &devices {
        (d.kind.check)(&d.spec)?;
    }
    let mut warnings = Vec::new();
    if m.boot.mode == BootModeKind::Linux {
        warnings.extend(super::warn::unused_ram(file, ram_size, ov.memory.is_some()));
        warnings.extend(boot.root.and_then(|i| super::warn::root_disk(&devices[i])));
    }

    let name = file.path.file_stem().map_or_else(|| "machine".to_string(), |s| s.to_string_lossy().into_owned());
    let v = Validated {
        file: file.clone(),
        name,
        ram_base,
        ram_size,
        harts: harts as usize,
        isa,
        timebase_frequency,
        clock: m.cpu.clock,
        reservation_granule: granule,
        misaligned_amo: m.cpu.amo.misaligned,
        boot,
        devices,
        warnings,
    };
    // The device tree is a function of all of the above; it must build and fit its space.
    match crate::fdt::build(&v) {
        Ok(blob) if blob.len() as u64 <= loader::DTB_RESERVE => Ok(v),
        Ok(blob) => Err(file
            .error(
                None,
                format!(
                "the device tree would be {} bytes, more than the {} KiB reserved for it: use fewer harts or devices",
                blob.len(),
                loader::DTB_RESERVE >> 10
            ),
            )
            .field("device")),
        Err(e) => Err(file.error(None, format!("cannot build the device tree: {e}"))),
    }
}

/// What the kernel command line always holds in Linux mode, before the user's arguments.
pub const PANIC_ARG: &str = "panic=1";

/// Linux 6.1 on RISC-V keeps at most this many bytes of command line (`COMMAND_LINE_SIZE` is
/// 512, with the terminating NUL).
pub const MAX_BOOTARGS: usize = 511;

/// The span of the `[name]` table header, for errors about a table as a whole.
fn table_span(file: &SourceFile, name: &str) -> Option<Range<usize>> {
    let mut at = 0;
    for line in file.text.split_inclusive('\n') {
        let t = line.trim();
        if t.strip_prefix('[').and_then(|r| r.strip_suffix(']')).is_some_and(|n| n.trim() == name) {
            return Some(at..at + line.len());
        }
        at += line.len();
    }
    None
}

/// Default lowest address of automatic placement.
fn default_soc_base(ram_base: u64) -> u64 {
    if ram_base >= 0x4000_0000 {
        0x1000_0000
    } else {
        0xF000_0000
    }
}

fn place_devices(
    cx: &Ctx,
    m: &MachineFile,
    ram_base: u64,
    ram_size: u64,
    harts: usize,
    timebase_frequency: u64,
) -> Result<Vec<Placed>, ConfigError> {
    let ram = ("RAM".to_string(), ram_base, ram_size);
    let mut taken: Vec<(String, u64, u64)> = vec![ram];
    struct Pending {
        index: usize,
        kind: &'static DeviceKind,
        base: Option<u64>,
    }
    let mut pending: Vec<Pending> = Vec::new();
    let mut names: Vec<(&str, Option<Range<usize>>)> = Vec::new();

    // Names and kinds first, then fixed bases, so that automatic placement avoids every fixed region.
    for (index, entry) in m.devices.iter().enumerate() {
        let e = entry.get_ref();
        let name = e.name.get_ref().as_str();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(cx.err(&e.name, "name", format!("\"{name}\": names are letters, digits, '-' and '_'")));
        }
        if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            let at =
                first.as_ref().map_or(String::new(), |s| format!(" (first on line {})", cx.file.line_col(s.start).0));
            return Err(cx.err(&e.name, "name", format!("duplicate device name \"{name}\"{at}")).instance(name));
        }
        names.push((name, span(&e.name)));
        let kind = registry::find(e.kind.get_ref()).ok_or_else(|| {
            cx.err(
                &e.kind,
                "kind",
                format!("unknown device kind \"{}\"; known kinds: {}", e.kind.get_ref(), registry::names().join(", ")),
            )
            .instance(name)
        })?;
        let size = kind.resources.mmio_size;
        let base = match &e.base {
            Some(b) => {
                let base = *b.get_ref();
                let err = |msg: String| cx.err(b, "base", msg).instance(name);
                if base % 4 != 0 {
                    return Err(err(format!("{base:#x} is not 4-byte aligned")));
                }
                if base.checked_add(size).is_none_or(|end| end > ADDRESS_SPACE) {
                    return Err(err(format!(
                        "region {base:#x}+{size:#x} ends beyond the 32-bit physical address space"
                    )));
                }
                if let Some((other, ob, os)) = taken.iter().find(|(_, ob, os)| base < ob + os && *ob < base + size) {
                    return Err(err(format!(
                        "region {base:#x}..{:#x} overlaps {other} at {ob:#x}..{:#x}",
                        base + size,
                        ob + os
                    )));
                }
                taken.push((format!("device \"{name}\""), base, size));
                Some(base)
            }
            None => None,
        };
        pending.push(Pending { index, kind, base });
    }

    let soc_base = m.soc.base.as_ref().map_or(default_soc_base(ram_base), |b| *b.get_ref());
    let mut placed: Vec<(usize, &'static DeviceKind, u64)> = Vec::new();
    for p in &pending {
        let e = m.devices[p.index].get_ref();
        let size = p.kind.resources.mmio_size;
        let base = match p.base {
            Some(b) => b,
            None => {
                let align = size.max(4096).next_power_of_two();
                let mut at = soc_base.next_multiple_of(align);
                loop {
                    if at + size > ADDRESS_SPACE {
                        let ram_end = ram_base + ram_size;
                        if ram_end > soc_base && ram_base < soc_base {
                            return Err(cx.err(
                                &m.memory.size,
                                "memory.size",
                                format!(
                                    "{} of RAM at {ram_base:#x} reaches {ram_end:#x}, into the space from {soc_base:#x} \
                                     where devices go, and leaves no room for device \"{}\": at most {} of RAM \
                                     at this base (or set soc.base)",
                                    Size(ram_size),
                                    e.name.get_ref(),
                                    Size(soc_base - ram_base)
                                ),
                            ));
                        }
                        return Err(cx
                            .err(
                                &e.name,
                                "base",
                                format!(
                                    "no free space for a {size:#x}-byte region at or above {soc_base:#x}; give a base"
                                ),
                            )
                            .instance(e.name.get_ref().as_str()));
                    }
                    match taken.iter().find(|(_, ob, os)| at < ob + os && *ob < at + size) {
                        Some((_, ob, os)) => at = (ob + os).next_multiple_of(align),
                        None => break,
                    }
                }
                taken.push((format!("device \"{}\"", e.name.get_ref()), at, size));
                at
            }
        };
        placed.push((p.index, p.kind, base));
    }
    placed.sort_by_key(|p| p.2);

    // Interrupts.
    let controllers: Vec<usize> = (0..placed.len()).filter(|&i| placed[i].1.irq_controller.is_some()).collect();
    let mut used: Vec<(usize, u32, String)> = Vec::new(); // (controller, source, device)
    let mut out: Vec<Placed> = Vec::new();
    let mut irqs: Vec<(Option<usize>, Option<u32>)> = vec![(None, None); placed.len()];
    // Fixed numbers first, then automatic ones in address order.
    for pass in 0..2 {
        for (i, (index, kind, _)) in placed.iter().enumerate() {
            let e = m.devices[*index].get_ref();
            let name = e.name.get_ref().as_str();
            if kind.resources.irqs == 0 {
                if pass == 0 {
                    if let Some(irq) = &e.irq {
                        return Err(cx.err(irq, "irq", format!("a {} has no interrupt", kind.kind)).instance(name));
                    }
                }
                continue;
            }
            if (pass == 0) != e.irq.is_some() {
                continue;
            }
            let parent = match &e.irq_parent {
                Some(p) => {
                    let pi =
                        placed.iter().position(|(idx, _, _)| m.devices[*idx].get_ref().name.get_ref() == p.get_ref());
                    match pi {
                        Some(pi) if controllers.contains(&pi) => pi,
                        Some(_) => {
                            return Err(cx
                                .err(p, "irq-parent", format!("\"{}\" is not an interrupt controller", p.get_ref()))
                                .instance(name))
                        }
                        None => {
                            return Err(cx
                                .err(p, "irq-parent", format!("no device named \"{}\"", p.get_ref()))
                                .instance(name))
                        }
                    }
                }
                None => match controllers.as_slice() {
                    [only] => *only,
                    [] => {
                        return Err(cx
                            .err(
                                &e.kind,
                                "irq",
                                format!(
                                    "a {} needs an interrupt controller (such as a plic) in the machine",
                                    kind.kind
                                ),
                            )
                            .instance(name))
                    }
                    _ => {
                        return Err(cx
                            .err(
                                &e.kind,
                                "irq-parent",
                                "the machine has several interrupt controllers: name one with irq-parent",
                            )
                            .instance(name))
                    }
                },
            };
            let max = placed[parent].1.irq_controller.map_or(0, |c| c.max_source);
            let pname = m.devices[placed[parent].0].get_ref().name.get_ref().clone();
            let source = match &e.irq {
                Some(irq) => {
                    let n = *irq.get_ref();
                    if n == 0 || n > max {
                        return Err(cx
                            .err(irq, "irq", format!("{n} is out of range: \"{pname}\" has sources 1 to {max}"))
                            .instance(name));
                    }
                    if let Some((_, _, other)) = used.iter().find(|(c, s, _)| *c == parent && *s == n) {
                        return Err(cx
                            .err(irq, "irq", format!("interrupt {n} of \"{pname}\" is already used by \"{other}\""))
                            .instance(name));
                    }
                    n
                }
                None => (1..=max).find(|n| !used.iter().any(|(c, s, _)| *c == parent && s == n)).ok_or_else(|| {
                    cx.err(&e.name, "irq", format!("\"{pname}\" has no free interrupt source left")).instance(name)
                })?,
            };
            used.push((parent, source, name.to_string()));
            irqs[i] = (Some(parent), Some(source));
        }
    }

    for (i, (index, kind, base)) in placed.iter().enumerate() {
        let e = m.devices[*index].get_ref();
        let name = e.name.get_ref().clone();
        let params = Params::new(cx.file.clone(), Some(*index), COMMON_KEYS, &name);
        out.push(Placed {
            spec: DeviceSpec {
                name,
                kind: kind.kind,
                base: *base,
                size: kind.resources.mmio_size,
                irq: irqs[i].1,
                params,
                harts,
                timebase_frequency,
                console: false,
            },
            kind,
            parent: irqs[i].0,
        });
    }
    Ok(out)
}

fn resolve(file: &SourceFile, p: &Spanned<PathBuf>) -> PathBuf {
    let path = p.get_ref();
    if span(p).is_none() || path.is_absolute() {
        path.clone() // from the command line: relative to the working directory
    } else {
        file.dir().join(path)
    }
}

fn file_size(cx: &Ctx, p: &Spanned<PathBuf>, path: &Path, field: &str) -> Result<u64, ConfigError> {
    std::fs::metadata(path).map_err(|e| cx.err(p, field, format!("{}: {e}", path.display()))).and_then(|md| {
        if md.is_file() {
            Ok(md.len())
        } else {
            Err(cx.err(p, field, format!("{} is not a file", path.display())))
        }
    })
}

fn plan_boot(
    cx: &Ctx,
    m: &MachineFile,
    ov: &Overrides,
    devices: &mut [Placed],
    ram_base: u64,
    ram_size: u64,
) -> Result<BootPlan, ConfigError> {
    let b = &m.boot;
    let kernel = b.kernel.as_ref().map(|k| (k, resolve(cx.file, k)));
    let initrd = b.initrd.as_ref().map(|k| (k, resolve(cx.file, k)));

    // Root disk and --disk.
    let root = match &b.root {
        Some(r) => {
            let i = devices.iter().position(|d| d.spec.name == *r.get_ref()).ok_or_else(|| {
                cx.err(r, "boot.root", format!("root device \"{}\" is not in this machine", r.get_ref()))
            })?;
            if devices[i].kind.block.is_none() {
                return Err(cx.err(
                    r,
                    "boot.root",
                    format!("root device \"{}\" is a {}, not a disk", r.get_ref(), devices[i].kind.kind),
                ));
            }
            Some(i)
        }
        None => None,
    };
    if let Some(disk) = &ov.disk {
        let disks: Vec<usize> = (0..devices.len()).filter(|&i| devices[i].kind.block.is_some()).collect();
        let target = root.or(match disks.as_slice() {
            [only] => Some(*only),
            _ => None,
        });
        let Some(t) = target else {
            let msg = if disks.is_empty() {
                "the machine has no disk to put the image in".to_string()
            } else {
                format!("the machine has {} disks and no boot.root: name the root disk in the file", disks.len())
            };
            return Err(cx.file.error(None, msg).option("--disk"));
        };
        let option = devices[t].kind.block.map_or("image", |b| b.image_option);
        devices[t].spec.params.set_override(option, toml::Value::String(disk.display().to_string()), "--disk");
    }
    if ov.snapshot {
        for d in devices.iter_mut() {
            match d.kind.block.map(|b| b.snapshot_option) {
                Some(Some(option)) => d.spec.params.set_override(option, toml::Value::Boolean(true), "--snapshot"),
                Some(None) => {
                    let msg = format!("a {} disk cannot keep its image unchanged", d.kind.kind);
                    return Err(cx.file.error(None, msg).instance(&d.spec.name).option("--snapshot"));
                }
                None => {}
            }
        }
    }

    // Console.
    let console = match &b.console {
        Some(c) => {
            let i = devices.iter().position(|d| d.spec.name == *c.get_ref()).ok_or_else(|| {
                cx.err(c, "boot.console", format!("console device \"{}\" is not in this machine", c.get_ref()))
            })?;
            if devices[i].kind.console_tty.is_none() {
                return Err(cx.err(
                    c,
                    "boot.console",
                    format!("\"{}\" is a {}, which cannot be a console", c.get_ref(), devices[i].kind.kind),
                ));
            }
            Some(i)
        }
        None => devices.iter().position(|d| d.kind.console_tty.is_some()),
    };
    if let Some(i) = console {
        devices[i].spec.console = true;
    }

    // Kernel command line: console, root, then the user's arguments.
    let nth = |i: usize, same: &dyn Fn(&Placed) -> bool| devices[..i].iter().filter(|d| same(d)).count();
    let mut args: Vec<String> = Vec::new();
    match console {
        Some(i) => {
            let tty = devices[i].kind.console_tty.unwrap_or("ttyS");
            args.push(format!("console={tty}{}", nth(i, &|d| d.kind.console_tty == Some(tty))));
        }
        None => args.push("console=hvc0".to_string()),
    }
    if let Some(i) = root {
        let prefix = devices[i].kind.block.map_or("vd", |b| b.prefix);
        let n = nth(i, &|d| d.kind.block.map(|b| b.prefix) == Some(prefix));
        if n >= 26 {
            let msg = "more than 26 disks before the root disk";
            return Err(match &b.root {
                Some(r) => cx.err(r, "boot.root", msg),
                None => cx.file.error(None, msg).field("boot.root"),
            });
        }
        let mode = if devices[i].kind.block.is_some_and(|b| (b.read_only)(&devices[i].spec)) { "ro" } else { "rw" };
        args.push(format!("root=/dev/{prefix}{} {mode} rootwait", (b'a' + n as u8) as char));
    }
    if b.mode == BootModeKind::Linux {
        // A panicking kernel reboots after a second, which ends the run, instead of spinning for
        // ever: the fallback for kernels without a pvpanic driver (a later panic= wins).
        args.push(PANIC_ARG.to_string());
    }
    if let Some(a) = &b.append {
        if a.get_ref().contains('\0') {
            return Err(cx.err(a, "boot.append", "the kernel command line cannot contain a NUL character"));
        }
        if !a.get_ref().trim().is_empty() {
            args.push(a.get_ref().trim().to_string());
        }
    }
    let bootargs = args.join(" ");
    if b.mode == BootModeKind::Linux && bootargs.len() > MAX_BOOTARGS {
        let msg = format!(
            "the kernel command line \"{}...\" is {} bytes; Linux keeps at most {MAX_BOOTARGS}",
            bootargs.chars().take(40).collect::<String>(),
            bootargs.len()
        );
        return Err(match &b.append {
            Some(a) => cx.err(a, "boot.append", msg),
            None => cx.file.error(None, msg).field("boot.append"),
        });
    }

    let kernel_path = kernel.as_ref().map(|(_, p)| p.clone());
    let initrd_path = initrd.as_ref().map(|(_, p)| p.clone());
    let mut tohost = b.tohost.as_ref().map(|t| *t.get_ref());
    let layout = match b.mode {
        BootModeKind::Linux => {
            if root.is_none() && initrd.is_none() && !bootargs.split_whitespace().any(|a| a.starts_with("root=")) {
                return Err(cx
                    .file
                    .error(
                        table_span(cx.file, "boot"),
                        "nothing to boot from: set boot.root to a disk device, or give boot.initrd",
                    )
                    .field("boot.root"));
            }
            let ksize = match &kernel {
                Some((k, p)) => {
                    file_size(cx, k, p, "boot.kernel")?;
                    loader::kernel_size(p).map_err(|e| cx.err(k, "boot.kernel", format!("{e:#}")))?
                }
                None => 0,
            };
            let isize = match &initrd {
                Some((k, p)) => Some(file_size(cx, k, p, "boot.initrd")?),
                None => None,
            };
            loader::linux_layout(ram_base, ram_size, ksize, isize)
                .map_err(|e| cx.err(&m.memory.size, "memory.size", e))?
        }
        BootModeKind::BareMetal => {
            if let Some((k, _)) = &initrd {
                return Err(cx.err(k, "boot.initrd", "a bare-metal boot takes no initrd"));
            }
            let layout = loader::linux_layout(ram_base, ram_size, 0, None)
                .map_err(|e| cx.err(&m.memory.size, "memory.size", e))?;
            if let Some((k, p)) = &kernel {
                file_size(cx, k, p, "boot.kernel")?;
                let elf = loader::read_elf(p).map_err(|e| cx.err(k, "boot.kernel", format!("{e:#}")))?;
                for s in &elf.segments {
                    let inside = s.paddr >= ram_base && s.paddr + s.memsz <= layout.dtb;
                    if !inside {
                        return Err(cx.err(
                            k,
                            "boot.kernel",
                            format!(
                                "segment at {:#x}..{:#x} of {} is outside RAM {ram_base:#x}..{:#x} (the top {} KiB hold the DTB)",
                                s.paddr,
                                s.paddr + s.memsz,
                                p.display(),
                                layout.dtb,
                                loader::DTB_RESERVE >> 10
                            ),
                        ));
                    }
                }
                tohost = tohost.or(elf.tohost);
                if tohost.is_none() {
                    return Err(cx.err(
                        k,
                        "boot.tohost",
                        "bare-metal boot needs tohost: the ELF has no `tohost` symbol; set boot.tohost",
                    ));
                }
            }
            if let Some(t) = tohost {
                if t % 4 != 0 || t < ram_base || t > layout.dtb.saturating_sub(4) {
                    let from = if b.tohost.is_some() { "" } else { " (the ELF's `tohost` symbol)" };
                    let msg = format!(
                        "tohost {t:#x}{from} must be a 4-byte aligned word in RAM {ram_base:#x}..{:#x} (the top {} KiB \
                         hold the DTB): semu reads the program's verdict there",
                        layout.dtb,
                        loader::DTB_RESERVE >> 10
                    );
                    return Err(match (&b.tohost, &kernel) {
                        (Some(st), _) => cx.err(st, "boot.tohost", msg),
                        (None, Some((k, _))) => cx.err(k, "boot.tohost", msg),
                        (None, None) => cx.file.error(table_span(cx.file, "boot"), msg).field("boot.tohost"),
                    });
                }
            }
            layout
        }
    };
    Ok(BootPlan { mode: b.mode, kernel: kernel_path, initrd: initrd_path, bootargs, console, root, tohost, layout })
}
