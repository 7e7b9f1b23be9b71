//! The command line: a thin layer over the library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Overrides, Share, Size};
use crate::{fdt, registry, schema};

/// semu: a RISC-V RV32IMA system emulator in which a machine is a TOML file.
#[derive(Parser, Debug)]
#[command(name = "semu", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the machine and boot it.
    Run(RunArgs),
    /// Check machine files: exit 0, or print one clear error per bad file.
    Validate {
        /// Machine files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print or write the device tree the machine gets.
    Dtb {
        /// Machine file.
        machine: PathBuf,
        /// Write the blob to this file.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print it as device tree source.
        #[arg(long)]
        dts: bool,
        #[command(flatten)]
        ov: OverrideArgs,
    },
    /// Print the JSON Schema of machine files.
    Schema,
    /// List the registered device kinds and their options, or describe one kind.
    Devices {
        /// A kind to describe in full (its options and an example).
        kind: Option<String>,
    },
}

/// Options that override the machine file.
#[derive(Args, Debug, Default)]
pub struct OverrideArgs {
    /// Kernel Image (linux) or ELF (bare-metal).
    #[arg(long)]
    kernel: Option<PathBuf>,
    /// Initial ramdisk.
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// Image of the root disk.
    #[arg(long)]
    disk: Option<PathBuf>,
    /// Extra kernel command-line arguments (replace the file's `boot.append`).
    #[arg(long)]
    append: Option<String>,
    /// Number of harts.
    #[arg(long)]
    harts: Option<u32>,
    /// RAM size: bytes, or with a unit: 256MiB, 1GiB (also 256M, 1G; binary units).
    #[arg(long, value_parser = |s: &str| Size::parse(s))]
    memory: Option<Size>,
    /// Keep every disk image unchanged: the guest's writes go to a private overlay discarded at exit.
    #[arg(long)]
    snapshot: bool,
    /// Share a host directory with the guest (a virtio-fs device; in the guest: mount -t virtiofs
    /// TAG /mnt). TAG defaults to share, then share1, ... Repeatable.
    #[arg(long, value_name = "HOSTDIR[:TAG]", value_parser = |s: &str| Share::parse(s))]
    share: Vec<Share>,
}

impl OverrideArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
            disk: self.disk.clone(),
            append: self.append.clone(),
            harts: self.harts,
            memory: self.memory,
            snapshot: self.snapshot,
            shares: self.share.clone(),
        }
    }
}

/// `semu run` options.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Machine file.
    pub machine: PathBuf,
    #[command(flatten)]
    ov: OverrideArgs,
    /// Host-side log lines (guest errors, device events).
    #[arg(short, long)]
    pub verbose: bool,
    /// Print every executed instruction to stderr.
    #[arg(long)]
    pub trace: bool,
    /// Stop after this many instructions (exit status 124).
    #[arg(long)]
    pub max_instructions: Option<u64>,
    /// Print statistics at exit.
    #[arg(long)]
    pub stats: bool,
    /// Interpret only: never compile hot code to native code.
    #[arg(long)]
    pub no_jit: bool,
    /// Compile a page of guest code to native code once it ran this many instructions (on a
    /// compiler thread while the guest goes on; 0: every page at first use, in line).
    #[arg(long, value_name = "N", default_value_t = crate::cpu::JIT_THRESHOLD)]
    pub jit_threshold: u32,
    /// Serve the GDB remote protocol on this address (e.g. 127.0.0.1:1234; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    pub gdb: Option<String>,
    /// With --gdb: hold every hart before its first instruction until a debugger continues.
    #[arg(long, requires = "gdb")]
    pub wait_gdb: bool,
    /// Serve QEMU's machine protocol (QMP) on unix:PATH or tcp:HOST:PORT (port 0 picks one).
    #[arg(long, value_name = "ADDR", value_parser = |s: &str| crate::qmp::QmpAddr::parse(s))]
    pub qmp: Option<crate::qmp::QmpAddr>,
}

/// Prints a machine's warnings to stderr.
fn warn(v: &config::Validated) {
    for w in &v.warnings {
        eprintln!("semu: warning: {w}");
    }
}

/// "1 hart", "2 harts".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Runs the command line; returns the process exit status. Output to a closed pipe
/// (`semu dtb M | head -c0`) ends the command quietly: see [`is_broken_pipe`].
pub fn main_with(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => {
            let v = config::load(&args.machine, &args.ov.overrides())?;
            warn(&v);
            crate::machine::run_cli(v, &args)
        }
        Command::Validate { files } => {
            let mut bad = 0;
            let mut out = std::io::stdout().lock();
            for f in &files {
                match config::load(f, &Overrides::default()) {
                    Ok(v) => {
                        warn(&v);
                        let (h, d) = (count(v.harts, "hart"), count(v.devices.len(), "device"));
                        writeln!(out, "{}: ok ({h}, {d})", f.display())?;
                    }
                    Err(e) => {
                        eprintln!("semu: error: {e}");
                        bad += 1;
                    }
                }
            }
            Ok(i32::from(bad > 0))
        }
        Command::Dtb { machine, output, dts, ov } => {
            let v = config::load(&machine, &ov.overrides())?;
            warn(&v);
            let blob = fdt::build(&v).map_err(|e| anyhow::anyhow!("building the device tree: {e}"))?;
            if let Some(out) = &output {
                std::fs::write(out, &blob).with_context(|| format!("writing {}", out.display()))?;
            }
            let mut stdout = std::io::stdout().lock();
            if dts {
                let tree = fdt::dts::parse(&blob).map_err(anyhow::Error::msg)?;
                stdout.write_all(fdt::dts::to_dts(&tree).as_bytes())?;
            } else if output.is_none() {
                if std::io::IsTerminal::is_terminal(&stdout) {
                    bail!("the DTB is binary: give -o FILE, --dts, or redirect stdout");
                }
                stdout.write_all(&blob)?;
            }
            stdout.flush()?;
            Ok(0)
        }
        Command::Schema => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(schema::machine_schema_text().as_bytes())?;
            stdout.flush()?;
            Ok(0)
        }
        Command::Devices { kind } => {
            let mut out = std::io::stdout().lock();
            match kind {
                Some(name) => {
                    let k = registry::find(&name).with_context(|| {
                        format!("no device kind \"{name}\"; known kinds: {}", registry::names().join(", "))
                    })?;
                    out.write_all(registry::describe(k).as_bytes())?;
                }
                None => {
                    for k in registry::kinds() {
                        let opts: Vec<String> = registry::options(k).into_iter().map(|o| o.name).collect();
                        let opts = if opts.is_empty() { "none".to_string() } else { opts.join(", ") };
                        writeln!(out, "{:<12} {}\n{:<12} options: {opts}", k.kind, k.summary, "")?;
                    }
                    writeln!(out, "\n`semu devices KIND` describes a kind's options and shows an example.")?;
                }
            }
            out.flush()?;
            Ok(0)
        }
    }
}

/// Whether `e` is a write to a closed pipe: the reader went away, which is no error of ours.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
