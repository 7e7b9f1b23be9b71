//! The hart: RV32IMA, Zicsr, Zifencei, Zicntr; M, S and U modes; Sv32.
//!
//! Code map: [`decode`] turns words into [`Insn`]s (and [`disasm`] prints them); `exec` runs
//! them, with memory accesses in `mem` (TLB fast path, slow path, AMOs, LR/SC), translation in
//! `mmu` (Sv32 walk and software TLB), CSRs in `csr`, and traps in [`trap`]. [`Shared`] holds
//! what the harts of one machine share: the decoded-instruction cache and the LR/SC reservations.
//! The machine loop that runs harts in slices is [`crate::run`].

mod cache;
mod csr;
mod debug;
pub mod decode;
pub mod disasm;
mod exec;
mod fast;
mod jit;
mod mem;
mod mmu;
mod op;
pub mod trap;

#[cfg(test)]
pub(crate) mod tests;

pub use cache::Shared;
pub use decode::{decode, Insn};
pub use jit::DEFAULT_THRESHOLD as JIT_THRESHOLD;
pub use trap::{Exception, Trap};

use crate::bus::System;
use cache::insn_word;
use exec::Stop;
use mmu::Mmu;

/// What a misaligned AMO does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MisalignedAmo {
    /// Raise a store/AMO address-misaligned exception (cause 6).
    Trap,
    /// Perform it (atomically: all harts run on one thread). LR/SC still trap.
    Emulate,
}

/// Per-hart configuration from the machine file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HartConfig {
    /// LR/SC reservation granule in bytes (a power of two, at least 4; at most a page is used).
    pub reservation_granule: u32,
    /// What a misaligned AMO does.
    pub misaligned_amo: MisalignedAmo,
    /// Whether the M extension is present (otherwise its encodings are illegal).
    pub ext_m: bool,
    /// Whether the A extension is present.
    pub ext_a: bool,
    /// Whether Zifencei is present (otherwise `fence.i` is illegal).
    pub ext_zifencei: bool,
    /// Whether Zicntr is present (otherwise the user counters `cycle`, `time` and `instret` do not
    /// exist: accessing them is illegal).
    pub ext_zicntr: bool,
}

impl Default for HartConfig {
    fn default() -> Self {
        Self {
            reservation_granule: 64,
            misaligned_amo: MisalignedAmo::Trap,
            ext_m: true,
            ext_a: true,
            ext_zifencei: true,
            ext_zicntr: true,
        }
    }
}

/// Privilege level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priv {
    /// User.
    U = 0,
    /// Supervisor.
    S = 1,
    /// Machine.
    M = 3,
}

/// Why [`Hart::run_slice`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SliceExit {
    /// The budget is used up.
    Budget,
    /// The hart executed `wfi` and waits for an interrupt.
    Wfi,
    /// With built-in firmware: a trap would enter M-mode. The hart is unchanged (pc at the
    /// trapping instruction); the firmware handles it (an SBI call for an S-mode `ecall`).
    Firmware(Trap),
}

/// One hart: registers, CSRs, translation state and run state.
pub struct Hart {
    /// x0..x31, and x32 that absorbs writes to x0 (the rest is padding, so any `u8` indexes it
    /// without a check).
    regs: [u32; 256],
    pc: u32,
    privilege: Priv,
    csr: csr::Csrs,
    instret: u64,
    id: usize,
    cfg: HartConfig,
    mmu: Mmu,
    /// The [`Shared::epoch`] the TLB's decode-cache references belong to.
    epoch: u64,
    /// Waiting in `wfi`.
    pub(crate) wfi: bool,
    /// Waiting after an SBI HSM suspend (with `wfi` set; any `wfi` instruction clears it, as a
    /// hart that woke up and waits again is started, not suspended).
    pub(crate) hsm_suspended: bool,
    /// Stopped (HSM): does not run until started.
    pub(crate) stopped: bool,
    /// Traps into M-mode go to the built-in firmware (Linux boot mode).
    pub(crate) firmware: bool,
    /// SBI timer compare value (`u64::MAX`: none).
    pub(crate) timecmp: u64,
    /// `instret` when the machine clock was last told about this hart's instructions.
    clock_synced: u64,
    /// Translation and decode counters (`--stats`).
    pub(crate) counters: Counters,
}

/// A hart's translation and decode counters, for `semu run --stats`. Counted where it is cheap:
/// data accesses in the fast loop (a register increment), everything else on slow paths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Loads and stores the fast loop ran (its TLB lookups).
    pub data_accesses: u64,
    /// Page walks for loads and stores (data TLB misses).
    pub data_walks: u64,
    /// Fetch translations: entries into a page's decoded code.
    pub fetch_lookups: u64,
    /// Page walks for fetches (fetch TLB misses).
    pub fetch_walks: u64,
    /// Instructions decoded into the decode cache (its misses).
    pub decodes: u64,
    /// Instructions run by compiled code.
    pub compiled_instructions: u64,
}

impl Counters {
    /// Adds `o` to these.
    pub fn add(&mut self, o: &Counters) {
        self.data_accesses += o.data_accesses;
        self.data_walks += o.data_walks;
        self.fetch_lookups += o.fetch_lookups;
        self.fetch_walks += o.fetch_walks;
        self.decodes += o.decodes;
        self.compiled_instructions += o.compiled_instructions;
    }
}

impl Hart {
    /// A hart in its reset state: M-mode, pc 0, registers and CSRs zero, started.
    pub fn new(id: usize, cfg: &HartConfig) -> Self {
        let mut h = Self {
            regs: [0; 256],
            pc: 0,
            privilege: Priv::M,
            csr: csr::Csrs::default(),
            instret: 0,
            id,
            cfg: *cfg,
            mmu: Mmu::new(),
            epoch: 0,
            wfi: false,
            hsm_suspended: false,
            stopped: false,
            firmware: false,
            timecmp: u64::MAX,
            clock_synced: 0,
            counters: Counters::default(),
        };
        h.mode_changed();
        h
    }

    /// The hart id (`mhartid`).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Program counter.
    pub fn pc(&self) -> u32 {
        self.pc
    }

    /// Sets the program counter.
    pub fn set_pc(&mut self, pc: u32) {
        self.pc = pc;
        self.mmu.fetch_tag = mmu::NO_TAG;
    }

    /// Register `x<i>` (0 for x0 and out-of-range indices).
    pub fn reg(&self, i: usize) -> u32 {
        if i < 32 {
            self.regs[i]
        } else {
            0
        }
    }

    /// Sets register `x<i>` (ignored for x0 and out-of-range indices).
    pub fn set_reg(&mut self, i: usize, v: u32) {
        if (1..32).contains(&i) {
            self.regs[i] = v;
        }
    }

    /// Current privilege level.
    pub fn privilege(&self) -> Priv {
        self.privilege
    }

    /// Sets the privilege level.
    pub fn set_privilege(&mut self, p: Priv) {
        self.privilege = p;
        self.mode_changed();
    }

    /// Reads a CSR without privilege checks (for debuggers and tests). `time` reads as 0 and
    /// `mip` shows only the software-written bits here.
    pub fn csr(&self, addr: u16) -> Option<u32> {
        self.read_csr(addr, 0, 0)
    }

    /// Writes a CSR without privilege checks (WARL rules still apply). False if it does not
    /// exist or is read-only.
    pub fn set_csr(&mut self, addr: u16, v: u32) -> bool {
        let ok = self.write_csr(addr, v, false).is_some();
        self.flush_all();
        ok
    }

    /// Instructions retired.
    pub fn instret(&self) -> u64 {
        self.instret
    }

    /// The translation and decode counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether the hart is stopped (HSM).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Stops or starts the hart (secondary harts of a Linux machine start stopped).
    pub fn set_stopped(&mut self, stopped: bool) {
        self.stopped = stopped;
        self.wfi = false;
        self.hsm_suspended = false;
    }

    /// A `wfi` instruction retires: the hart waits (started, not suspended, whatever it was).
    fn retire_wfi(&mut self) {
        self.instret = self.instret.wrapping_add(1);
        self.wfi = true;
        self.hsm_suspended = false;
    }

    /// Whether the hart waits in `wfi`.
    pub fn is_waiting(&self) -> bool {
        self.wfi
    }

    /// The configuration the hart was built with.
    pub fn config(&self) -> &HartConfig {
        &self.cfg
    }

    /// Tells the machine clock about the instructions retired since the last call (the instret
    /// clock then reads exactly, whenever the hart looks at time or a device).
    #[inline]
    pub(crate) fn sync_clock(&mut self, clock: &crate::clock::Clock) {
        let n = self.instret.wrapping_sub(self.clock_synced);
        if n != 0 {
            clock.retire(n);
            self.clock_synced = self.instret;
        }
    }

    /// After software rewrote `instret`: the clock has already been told about everything before.
    pub(crate) fn resync_clock(&mut self) {
        self.clock_synced = self.instret;
    }

    /// Takes `trap`, or hands it to the firmware if it would enter M-mode with firmware on.
    fn take(&mut self, trap: Trap, sh: &mut Shared) -> Option<SliceExit> {
        sh.clear_reservation(self.id);
        if self.firmware && self.trap_target(trap) == Priv::M {
            return Some(SliceExit::Firmware(trap));
        }
        self.enter_trap(trap);
        None
    }

    /// Takes a pending, enabled interrupt if there is one.
    pub(crate) fn check_interrupts(&mut self, sys: &System, sh: &mut Shared) -> Option<SliceExit> {
        let lines = sys.hart_lines.get(self.id);
        let irq = self.pending_interrupt(lines)?;
        self.wfi = false;
        self.take(irq, sh)
    }

    /// Runs up to `budget` instructions (trap entries count too). Returns the number of
    /// iterations used and why it stopped.
    pub(crate) fn run_slice(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        budget: u64,
        trace: bool,
    ) -> (u64, SliceExit) {
        if self.epoch != sh.epoch {
            self.flush_all();
            self.epoch = sh.epoch;
        }
        if let Some(exit) = self.check_interrupts(sys, sh) {
            return (0, exit);
        }
        sh.jit.poll();
        let r =
            if trace { self.slice_loop::<true>(sys, sh, budget) } else { self.slice_loop::<false>(sys, sh, budget) };
        self.sync_clock(&sys.clock);
        r
    }

    /// [`run_slice`](Self::run_slice) through the reference loop (for tests comparing the two).
    #[cfg(test)]
    pub(crate) fn run_slice_reference(&mut self, sys: &mut System, sh: &mut Shared, budget: u64) -> (u64, SliceExit) {
        if self.epoch != sh.epoch {
            self.flush_all();
            self.epoch = sh.epoch;
        }
        if let Some(exit) = self.check_interrupts(sys, sh) {
            return (0, exit);
        }
        let r = self.step_loop::<false>(sys, sh, budget);
        self.sync_clock(&sys.clock);
        r
    }

    /// Runs up to `budget` instructions: the fast loop over the decode cache, or with `TRACE`
    /// one instruction at a time, decoded afresh and printed.
    pub(crate) fn slice_loop<const TRACE: bool>(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        budget: u64,
    ) -> (u64, SliceExit) {
        let ram_id = (sys.ram.as_slice().as_ptr() as usize, sys.ram.as_slice().len());
        if self.mmu.ram_id != ram_id {
            // TLB entries point into RAM unchecked: never into another machine's
            self.flush_all();
            self.mmu.ram_id = ram_id;
        }
        if TRACE {
            self.step_loop::<true>(sys, sh, budget)
        } else {
            self.fast_loop(sys, sh, budget)
        }
    }

    /// Fetches and decodes the instruction at pc, without the decode cache.
    fn fetch_decode(&mut self, sys: &mut System, sh: &mut Shared) -> Result<(Insn, u32), Exception> {
        let pc = self.pc;
        if pc & (!0xfff | 3) != self.mmu.fetch_tag {
            self.fetch_miss(&mut sys.ram, sh, pc)?;
        }
        let off = self.mmu.fetch_off + (pc & 0xfff) as usize;
        let word = insn_word(&sys.ram, off);
        Ok((decode(word), word))
    }

    /// The reference loop: one instruction at a time through `exec`.
    fn step_loop<const TRACE: bool>(&mut self, sys: &mut System, sh: &mut Shared, budget: u64) -> (u64, SliceExit) {
        let mut left = budget;
        while left > 0 {
            left -= 1;
            let r = match self.fetch_decode(sys, sh) {
                Ok((insn, word)) => {
                    if TRACE {
                        self.trace(word, insn);
                    }
                    self.exec(insn, sys, sh)
                }
                Err(e) => Err(Stop::Trap(e)),
            };
            match r {
                Ok(()) => self.instret = self.instret.wrapping_add(1),
                Err(Stop::Recheck) => {
                    self.instret = self.instret.wrapping_add(1);
                    if let Some(exit) = self.check_interrupts(sys, sh) {
                        return (budget - left, exit);
                    }
                }
                Err(Stop::Wfi) => {
                    self.retire_wfi();
                    return (budget - left, SliceExit::Wfi);
                }
                Err(Stop::Trap(e)) => {
                    if let Some(exit) = self.take(Trap::Exception(e), sh) {
                        return (budget - left, exit);
                    }
                }
            }
        }
        (budget, SliceExit::Budget)
    }

    #[cold]
    fn trace(&self, word: u32, insn: Insn) {
        eprintln!("{} {:08x}: {word:08x}  {insn}", self.id, self.pc);
    }

    /// Retires an instruction the firmware completed on the hart's behalf (an SBI call): pc += 4.
    pub(crate) fn firmware_return(&mut self) {
        self.pc = self.pc.wrapping_add(4);
        self.instret = self.instret.wrapping_add(1);
    }

    /// Sets or clears software-written `mip` bits (SBI timer and IPIs).
    pub(crate) fn set_mip_bits(&mut self, mask: u32, on: bool) {
        if on {
            self.csr.mip |= mask;
        } else {
            self.csr.mip &= !mask;
        }
    }

    /// What firmware sets up before it enters an S-mode kernel, as OpenSBI does: every exception
    /// but environment calls from S and M, and the supervisor interrupts, go to S-mode; the
    /// counters are open to S-mode. Traps into M-mode then go to the built-in SBI.
    pub(crate) fn firmware_setup(&mut self) {
        self.firmware = true;
        self.csr.medeleg = 0xb1ff;
        self.csr.mideleg = csr::S_INTERRUPTS;
        self.csr.mcounteren = u32::MAX;
    }

    /// Enters S-mode at `pc` as an SBI HSM start or non-retentive resume does: a0 = hart id,
    /// a1 = `opaque`, translation off, supervisor interrupts off.
    pub(crate) fn enter_supervisor(&mut self, pc: u32, opaque: u32) {
        self.regs[10] = self.id as u32;
        self.regs[11] = opaque;
        self.csr.satp = 0;
        self.csr.mstatus &= !csr::MSTATUS_SIE;
        self.privilege = Priv::S;
        self.pc = pc;
        self.flush_all();
        self.mode_changed();
    }

    /// A register dump for fatal errors.
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("hart {} pc {:08x} priv {:?}\n", self.id, self.pc, self.privilege);
        for i in 0..32 {
            let _ = write!(
                s,
                "{:>4} {:08x}{}",
                disasm::reg_name(i as u8),
                self.regs[i],
                if i % 4 == 3 { "\n" } else { "  " }
            );
        }
        let c = &self.csr;
        let _ = writeln!(
            s,
            "mstatus {:08x} mcause {:08x} mepc {:08x} mtval {:08x} scause {:08x} sepc {:08x} stval {:08x} satp {:08x}",
            c.mstatus, c.mcause, c.mepc, c.mtval, c.scause, c.sepc, c.stval, c.satp
        );
        s
    }
}
