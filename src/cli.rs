//! The command line: a thin layer over the library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Overrides, Size};
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
    /// List the registered device kinds.
    Devices,
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
    /// RAM size, e.g. 256MiB.
    #[arg(long, value_parser = |s: &str| Size::parse(s))]
    memory: Option<Size>,
    /// Keep every disk image unchanged: the guest's writes go to a private overlay discarded at exit.
    #[arg(long)]
    snapshot: bool,
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
}

/// Runs the command line; returns the process exit status.
pub fn main_with(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => {
            let v = config::load(&args.machine, &args.ov.overrides())?;
            crate::machine::run_cli(v, &args)
        }
        Command::Validate { files } => {
            let mut bad = 0;
            for f in &files {
                match config::load(f, &Overrides::default()) {
                    Ok(v) => println!("{}: ok ({} harts, {} devices)", f.display(), v.harts, v.devices.len()),
                    Err(e) => {
                        eprintln!("error: {e}");
                        bad += 1;
                    }
                }
            }
            Ok(i32::from(bad > 0))
        }
        Command::Dtb { machine, output, dts, ov } => {
            let v = config::load(&machine, &ov.overrides())?;
            let blob = fdt::build(&v).map_err(|e| anyhow::anyhow!("building the device tree: {e}"))?;
            if let Some(out) = &output {
                std::fs::write(out, &blob).with_context(|| format!("writing {}", out.display()))?;
            }
            if dts {
                let tree = fdt::dts::parse(&blob).map_err(anyhow::Error::msg)?;
                print!("{}", fdt::dts::to_dts(&tree));
            } else if output.is_none() {
                if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                    bail!("the DTB is binary: give -o FILE, --dts, or redirect stdout");
                }
                std::io::stdout().write_all(&blob)?;
            }
            Ok(0)
        }
        Command::Schema => {
            print!("{}", schema::machine_schema_text());
            Ok(0)
        }
        Command::Devices => {
            for k in registry::kinds() {
                println!("{:<12} {}", k.kind, k.summary);
            }
            Ok(0)
        }
    }
}
