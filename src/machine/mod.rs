//! Building a machine from its validated description, and running it.

use std::sync::Arc;

use anyhow::Context;
use semu_api::{BuildCtx, Console, GuestRam, HartLines, InputHub, IrqLine, IrqPins};

use crate::bus::{Bus, MapError, System};
use crate::clock::{Clock, ClockSource};
use crate::config::{BootModeKind, ClockKind, MisalignedKind, Validated};
use crate::cpu::{Hart, HartConfig, MisalignedAmo, Priv};
use crate::run::{BootMode, DebugHook, HookPair, RunExit, RunOptions};
use crate::{fdt, loader};

/// Instructions per timebase tick with the deterministic (`instret`) clock.
pub const INSTRUCTIONS_PER_TICK: u64 = 100;

/// Exit status when the guest asked for a reboot (SBI SRST cold or warm reboot).
pub const EXIT_REBOOT: i32 = 3;
/// Exit status when the guest kernel panicked (reported through a pvpanic device).
pub const EXIT_GUEST_PANIC: i32 = 4;
/// Exit status when `--max-instructions` ran out.
pub const EXIT_INSTRUCTION_LIMIT: i32 = 124;

/// A built machine, ready to run.
pub struct Machine {
    /// What it was built from.
    pub spec: Validated,
    /// The harts.
    pub harts: Vec<Hart>,
    /// RAM, devices, interrupt pins, clock.
    pub sys: System,
    /// The device tree blob placed in RAM.
    pub dtb: Vec<u8>,
    /// Counters of the runs so far.
    pub stats: crate::run::Stats,
    /// The compiling tier's threshold (instructions a page runs before it is compiled); `None`
    /// interprets only.
    pub jit: Option<u32>,
    /// Host input on its way to the input devices (the monitor and a window send to it).
    pub input: Arc<InputHub>,
}

impl Machine {
    /// Builds every device, loads kernel/initrd/DTB (or the ELF) and resets the harts.
    pub fn build(spec: Validated, console: Arc<Console>, verbose: bool) -> anyhow::Result<Self> {
        let hart_lines = HartLines::new(spec.harts);
        let input = InputHub::new(console.clone());
        let pins: Vec<Option<Arc<IrqPins>>> =
            spec.devices.iter().map(|d| d.kind.irq_controller.map(|c| IrqPins::new(c.max_source + 1))).collect();
        let mut bus = Bus::default();
        for (i, d) in spec.devices.iter().enumerate() {
            let irq = match (d.parent, d.spec.irq) {
                (Some(p), Some(n)) => pins[p].clone().map(|pins| IrqLine::new(pins, n)),
                _ => None,
            };
            let mut ctx = BuildCtx {
                irq,
                irq_pins: pins[i].clone(),
                hart_lines: hart_lines.clone(),
                console: console.clone(),
                input: input.clone(),
                verbose,
            };
            let dev = (d.kind.build)(&d.spec, &mut ctx).with_context(|| {
                format!("{}: device \"{}\" ({})", spec.file.path.display(), d.spec.name, d.kind.kind)
            })?;
            bus.map(&d.spec.name, d.spec.base, d.spec.size, dev).map_err(|e| match e {
                MapError::Overlap(other) => anyhow::anyhow!("device \"{}\" overlaps \"{other}\"", d.spec.name),
                MapError::Invalid => anyhow::anyhow!("device \"{}\" has an empty region", d.spec.name),
            })?;
        }

        let dtb = fdt::build(&spec).map_err(|e| anyhow::anyhow!("building the device tree: {e}"))?;
        let mut ram = GuestRam::new(spec.ram_base, spec.ram_size);
        let layout = spec.boot.layout;
        if dtb.len() as u64 > loader::DTB_RESERVE {
            anyhow::bail!("the device tree ({} bytes) exceeds its {} reserved bytes", dtb.len(), loader::DTB_RESERVE);
        }
        put(&mut ram, layout.dtb, &dtb, "device tree")?;

        let cfg = HartConfig {
            reservation_granule: spec.reservation_granule,
            misaligned_amo: match spec.misaligned_amo {
                MisalignedKind::Trap => MisalignedAmo::Trap,
                MisalignedKind::Emulate => MisalignedAmo::Emulate,
            },
            ext_m: spec.isa.has("m"),
            ext_a: spec.isa.has("a"),
            ext_zifencei: spec.isa.has("zifencei"),
            ext_zicntr: spec.isa.has("zicntr"),
        };
        let mut harts: Vec<Hart> = (0..spec.harts).map(|i| Hart::new(i, &cfg)).collect();
        let kernel =
            spec.boot.kernel.clone().context("no kernel: set boot.kernel in the machine file or pass --kernel")?;
        match spec.boot.mode {
            BootModeKind::Linux => {
                let image = std::fs::read(&kernel).with_context(|| format!("reading kernel {}", kernel.display()))?;
                put(&mut ram, layout.kernel.0, &image, "kernel")?;
                if let (Some(path), Some((start, _))) = (&spec.boot.initrd, layout.initrd) {
                    let data = std::fs::read(path).with_context(|| format!("reading initrd {}", path.display()))?;
                    put(&mut ram, start, &data, "initrd")?;
                }
                for h in &mut harts {
                    h.set_privilege(Priv::S);
                    h.set_pc(layout.kernel.0 as u32);
                    h.set_reg(10, h.id() as u32);
                    h.set_reg(11, layout.dtb as u32);
                    h.set_stopped(h.id() != 0);
                }
            }
            BootModeKind::BareMetal => {
                let elf = loader::read_elf(&kernel)?;
                for s in &elf.segments {
                    put(&mut ram, s.paddr, &s.data, "ELF segment")?;
                }
                for h in &mut harts {
                    h.set_privilege(Priv::M);
                    h.set_pc(elf.entry as u32);
                    h.set_reg(10, h.id() as u32);
                    h.set_reg(11, layout.dtb as u32);
                }
            }
        }

        let source = match spec.clock {
            ClockKind::Host => ClockSource::Host,
            ClockKind::Instret => ClockSource::Instret { instructions_per_tick: INSTRUCTIONS_PER_TICK },
        };
        let sys = System {
            ram,
            bus,
            hart_lines,
            clock: Clock::new(spec.timebase_frequency, source),
            console,
            stop: None,
            verbose,
        };
        Ok(Self {
            spec,
            harts,
            sys,
            dtb,
            stats: crate::run::Stats::default(),
            jit: Some(crate::cpu::JIT_THRESHOLD),
            input,
        })
    }

    /// Runs until the guest powers off, the user quits, or a limit is hit; then shuts the devices
    /// down (flushing disks).
    pub fn run(&mut self, max_instructions: Option<u64>, trace: bool) -> RunExit {
        self.run_debug(max_instructions, trace, None)
    }

    /// [`run`](Self::run) with a debugger in the loop.
    pub(crate) fn run_debug(
        &mut self,
        max_instructions: Option<u64>,
        trace: bool,
        debug: Option<&mut dyn DebugHook>,
    ) -> RunExit {
        let opts = RunOptions {
            mode: match self.spec.boot.mode {
                BootModeKind::Linux => BootMode::Linux,
                BootModeKind::BareMetal => BootMode::BareMetal,
            },
            tohost: self.spec.boot.tohost,
            max_instructions,
            trace,
            jit: self.jit,
        };
        let stats = &mut self.stats;
        let exit = crate::run::run_debug(&mut self.harts, &mut self.sys, &opts, stats, debug);
        self.sys.bus.shutdown();
        exit
    }
}

fn put(ram: &mut GuestRam, at: u64, data: &[u8], what: &str) -> anyhow::Result<()> {
    ram.write(at, data).with_context(|| format!("the {what} ({} bytes at {at:#x}) does not fit in RAM", data.len()))
}

/// The process exit status for a run's end.
pub fn exit_status(exit: &RunExit) -> i32 {
    match exit {
        RunExit::PowerOff(code) => *code,
        RunExit::Reboot | RunExit::Reset => EXIT_REBOOT,
        RunExit::GuestPanic => EXIT_GUEST_PANIC,
        RunExit::Quit => 0,
        RunExit::ToHost(1) => 0,
        RunExit::ToHost(v) => match (v >> 1) & 0xff {
            0 => 1,
            n => n as i32,
        },
        RunExit::InstructionLimit => EXIT_INSTRUCTION_LIMIT,
        RunExit::Fatal(_) => 2,
    }
}

/// The `--stats` report: instructions, MIPS, and the TLB and decode-cache hit rates.
pub fn stats_report(
    retired: u64,
    elapsed: std::time::Duration,
    c: &crate::cpu::Counters,
    compiled_pages: u64,
) -> String {
    let secs = elapsed.as_secs_f64();
    let mips = if secs > 0.0 { retired as f64 / secs / 1e6 } else { 0.0 };
    let rate = |misses: u64, lookups: u64| {
        if lookups == 0 {
            "n/a".to_string()
        } else {
            format!("{:.3}%", 100.0 * (1.0 - misses.min(lookups) as f64 / lookups as f64))
        }
    };
    format!(
        "semu: {retired} instructions retired in {secs:.3} s not idle: {mips:.1} MIPS\n\
         semu: data TLB hit rate {} ({} loads/stores, {} page walks)\n\
         semu: fetch TLB hit rate {} ({} page entries, {} page walks)\n\
         semu: decode cache hit rate {} ({} instructions decoded)\n\
         semu: compiled code ran {} of the instructions ({} pages compiled)\n",
        rate(c.data_walks, c.data_accesses),
        c.data_accesses,
        c.data_walks,
        rate(c.fetch_walks, c.fetch_lookups),
        c.fetch_lookups,
        c.fetch_walks,
        rate(c.decodes, retired),
        c.decodes,
        rate(retired.saturating_sub(c.compiled_instructions), retired),
        compiled_pages,
    )
}

/// `semu run`: attach the terminal, build, run, report.
pub fn run_cli(spec: Validated, args: &crate::cli::RunArgs) -> anyhow::Result<i32> {
    let console = crate::term::stdout_console();
    let mut m = Machine::build(spec, console.clone(), args.verbose)?;
    let mut gdb = match &args.gdb {
        Some(addr) => Some(
            crate::gdb::GdbServer::start(addr, args.wait_gdb, console.clone())
                .with_context(|| format!("--gdb {addr}: cannot listen"))?,
        ),
        None => None,
    };
    let mut qmp = match &args.qmp {
        Some(addr) => Some(crate::qmp::QmpServer::start(addr, console.clone()).context("--qmp")?),
        None => None,
    };
    let term = crate::term::attach_stdio(&console);
    if term.is_raw() {
        eprintln!("semu: {}\r", crate::term::ESCAPE_HELP);
    }
    m.jit = if args.no_jit { None } else { Some(args.jit_threshold) };
    let started = std::time::Instant::now();
    let exit = match (qmp.as_mut().map(|q| q.hook()), gdb.as_mut().map(|g| g.hook())) {
        (Some(monitor), Some(debugger)) => {
            m.run_debug(args.max_instructions, args.trace, Some(&mut HookPair { monitor, debugger }))
        }
        (monitor, debugger) => m.run_debug(args.max_instructions, args.trace, monitor.or(debugger)),
    };
    let elapsed = started.elapsed();
    drop(term);
    let status = exit_status(&exit);
    if let Some(g) = &mut gdb {
        g.finish(status);
    }
    if let Some(q) = &mut qmp {
        q.finish(&exit);
    }
    match &exit {
        RunExit::Fatal(msg) => eprintln!("semu: guest stopped: {msg}"),
        RunExit::ToHost(v) if *v != 1 => eprintln!("semu: tohost reports failure: test {} ({v:#x})", v >> 1),
        RunExit::InstructionLimit => eprintln!("semu: instruction limit reached"),
        RunExit::Reboot => eprintln!("semu: guest requested a reboot"),
        RunExit::Reset => eprintln!("semu: reset by the QMP monitor (system_reset): the run ends as for a reboot"),
        RunExit::GuestPanic => eprintln!("semu: the guest kernel panicked (reported by pvpanic); its message is above"),
        _ => {}
    }
    if args.stats {
        let retired: u64 = m.harts.iter().map(Hart::instret).sum();
        let mut c = crate::cpu::Counters::default();
        for h in &m.harts {
            c.add(&h.counters());
        }
        let busy = elapsed.saturating_sub(m.stats.idle_time);
        eprint!("{}", stats_report(retired, busy, &c, m.stats.compiled_pages));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_follow_the_guest() {
        let cases = [
            (RunExit::PowerOff(0), 0),
            (RunExit::PowerOff(1), 1), // SRST shutdown, reason "system failure"
            (RunExit::Reboot, EXIT_REBOOT),
            (RunExit::Reset, EXIT_REBOOT),
            (RunExit::GuestPanic, EXIT_GUEST_PANIC),
            (RunExit::Quit, 0),
            (RunExit::ToHost(1), 0),
            (RunExit::ToHost((7 << 1) | 1), 7),
            // exit statuses have 8 bits: a failure never reads as success
            (RunExit::ToHost((256 << 1) | 1), 1),
            (RunExit::ToHost((0x407 << 1) | 1), 7),
            (RunExit::InstructionLimit, EXIT_INSTRUCTION_LIMIT),
            (RunExit::Fatal("x".into()), 2),
        ];
        for (exit, want) in cases {
            assert_eq!(exit_status(&exit), want, "{exit:?}");
        }
    }
}
