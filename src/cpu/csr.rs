//! The CSR file: storage, access rules (privilege, read-only, counter enables, TVM), WARL masks,
//! and the `sstatus`/`sie`/`sip` views of the machine registers.

use semu_api::{MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP};

use super::{Hart, Priv};

pub(crate) const MSTATUS_SIE: u32 = 1 << 1;
pub(crate) const MSTATUS_MIE: u32 = 1 << 3;
pub(crate) const MSTATUS_SPIE: u32 = 1 << 5;
pub(crate) const MSTATUS_MPIE: u32 = 1 << 7;
pub(crate) const MSTATUS_SPP: u32 = 1 << 8;
pub(crate) const MSTATUS_MPP_SHIFT: u32 = 11;
pub(crate) const MSTATUS_MPRV: u32 = 1 << 17;
pub(crate) const MSTATUS_SUM: u32 = 1 << 18;
pub(crate) const MSTATUS_MXR: u32 = 1 << 19;
pub(crate) const MSTATUS_TVM: u32 = 1 << 20;
pub(crate) const MSTATUS_TW: u32 = 1 << 21;
pub(crate) const MSTATUS_TSR: u32 = 1 << 22;

const MSTATUS_WRITABLE: u32 = MSTATUS_SIE
    | MSTATUS_MIE
    | MSTATUS_SPIE
    | MSTATUS_MPIE
    | MSTATUS_SPP
    | 3 << MSTATUS_MPP_SHIFT
    | MSTATUS_MPRV
    | MSTATUS_SUM
    | MSTATUS_MXR
    | MSTATUS_TVM
    | MSTATUS_TW
    | MSTATUS_TSR;
const SSTATUS_WRITABLE: u32 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR;
/// Exceptions `medeleg` can delegate: all but ecall from M (11) and the reserved codes.
const MEDELEG_WRITABLE: u32 = 0xb3ff;
/// Interrupts `mideleg` can delegate: the supervisor ones.
pub(crate) const S_INTERRUPTS: u32 = MIP_SSIP | MIP_STIP | MIP_SEIP;
const MIE_WRITABLE: u32 = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;
/// `satp`: MODE and PPN; ASID is hardwired to zero (no ASIDs).
const SATP_WRITABLE: u32 = 0x803f_ffff;

// CSR numbers the rest of the CPU names.
pub(crate) const SIP: u16 = 0x144;
pub(crate) const SATP: u16 = 0x180;
pub(crate) const MIP: u16 = 0x344;
pub(crate) const MINSTRET: u16 = 0xb02;
pub(crate) const MINSTRETH: u16 = 0xb82;

/// The CSR state of one hart (counters and `mhartid` live in [`Hart`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Csrs {
    pub mstatus: u32,
    pub medeleg: u32,
    pub mideleg: u32,
    pub mie: u32,
    /// The software-written `mip` bits (SSIP, STIP, SEIP); devices' lines are ORed in on reads.
    pub mip: u32,
    pub mtvec: u32,
    pub mscratch: u32,
    pub mepc: u32,
    pub mcause: u32,
    pub mtval: u32,
    pub mcounteren: u32,
    pub stvec: u32,
    pub sscratch: u32,
    pub sepc: u32,
    pub scause: u32,
    pub stval: u32,
    pub scounteren: u32,
    pub satp: u32,
    /// `mcycle` minus retired instructions (cycles count instructions, plus what software wrote).
    pub cycle_delta: u64,
}

/// What a CSR write changed, beyond the register itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CsrEffect {
    /// Nothing else.
    None,
    /// Interrupt enables, pending bits or translation may have changed: check interrupts now.
    Recheck,
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}
fn set_lo(old: u64, v: u32) -> u64 {
    (old & !0xffff_ffff) | u64::from(v)
}
fn set_hi(old: u64, v: u32) -> u64 {
    (old & 0xffff_ffff) | u64::from(v) << 32
}

impl Hart {
    /// `misa`: RV32 with I, S, U and the configured M and A.
    fn misa(&self) -> u32 {
        let mut v = 1 << 30 | 1 << 8 | 1 << 18 | 1 << 20;
        if self.cfg.ext_m {
            v |= 1 << 12;
        }
        if self.cfg.ext_a {
            v |= 1;
        }
        v
    }

    fn mcycle(&self) -> u64 {
        self.instret.wrapping_add(self.csr.cycle_delta)
    }

    /// Whether the current privilege may read user counter `addr` (0xc00..0xc1f, 0xc80..0xc9f).
    fn counter_allowed(&self, addr: u16) -> bool {
        let bit = 1u32 << (addr & 31);
        match self.privilege {
            Priv::M => true,
            Priv::S => self.csr.mcounteren & bit != 0,
            Priv::U => self.csr.mcounteren & self.csr.scounteren & bit != 0,
        }
    }

    /// Reads CSR `addr` without privilege checks. `None` if it does not exist. `lines` are the
    /// `mip` bits devices drive, `now` the timebase.
    pub(crate) fn read_csr(&self, addr: u16, lines: u32, now: u64) -> Option<u32> {
        let c = &self.csr;
        let sstatus_mask = SSTATUS_WRITABLE;
        if !self.cfg.ext_zicntr && matches!(addr, 0xc00..=0xc02 | 0xc80..=0xc82) {
            return None;
        }
        Some(match addr {
            0x100 => c.mstatus & sstatus_mask,
            0x104 => c.mie & c.mideleg,
            0x105 => c.stvec,
            0x106 => c.scounteren,
            0x10a => 0, // senvcfg
            0x140 => c.sscratch,
            0x141 => c.sepc,
            0x142 => c.scause,
            0x143 => c.stval,
            0x144 => (c.mip | lines) & c.mideleg,
            0x180 => c.satp,
            0x300 => c.mstatus,
            0x301 => self.misa(),
            0x302 => c.medeleg,
            0x303 => c.mideleg,
            0x304 => c.mie,
            0x305 => c.mtvec,
            0x306 => c.mcounteren,
            0x30a | 0x31a | 0x310 | 0x320 => 0, // menvcfg(h), mstatush, mcountinhibit
            0x323..=0x33f => 0,                 // mhpmevent3..31
            0x340 => c.mscratch,
            0x341 => c.mepc,
            0x342 => c.mcause,
            0x343 => c.mtval,
            0x344 => c.mip | lines,
            0x3a0..=0x3ef => 0, // pmpcfg, pmpaddr: no PMP entries
            0xb00 | 0xc00 => self.mcycle() as u32,
            0xb80 | 0xc80 => hi(self.mcycle()),
            0xb02 | 0xc02 => self.instret as u32,
            0xb82 | 0xc82 => hi(self.instret),
            0xc01 => now as u32,
            0xc81 => hi(now),
            0xb03..=0xb1f | 0xb83..=0xb9f | 0xc03..=0xc1f | 0xc83..=0xc9f => 0,
            0xf11..=0xf13 | 0xf15 => 0, // mvendorid, marchid, mimpid, mconfigptr
            0xf14 => self.id as u32,
            _ => return None,
        })
    }

    /// Whether the current privilege may access CSR `addr` at all (for a write if `write`).
    pub(crate) fn csr_accessible(&self, addr: u16, write: bool) -> bool {
        let min_priv = (addr >> 8) & 3;
        if (self.privilege as u16) < min_priv || (write && addr >> 10 == 3) {
            return false;
        }
        match addr {
            0xc00..=0xc1f | 0xc80..=0xc9f => self.counter_allowed(addr),
            SATP => !(self.privilege == Priv::S && self.csr.mstatus & MSTATUS_TVM != 0),
            _ => true,
        }
    }

    /// The value a set/clear CSR instruction modifies: as read, except that `mip`/`sip` use
    /// the software-written bits only, so a set or clear never latches a device's line.
    pub(crate) fn csr_rmw_base(&self, addr: u16, read: u32) -> u32 {
        match addr {
            MIP => self.csr.mip,
            SIP => self.csr.mip & self.csr.mideleg,
            _ => read,
        }
    }

    /// Writes CSR `addr` without privilege checks, applying its WARL rules. `None` if it does not
    /// exist or is read-only. `by_insn`: written by a CSR instruction (which then retires).
    pub(crate) fn write_csr(&mut self, addr: u16, v: u32, by_insn: bool) -> Option<CsrEffect> {
        let c = &mut self.csr;
        match addr {
            0x100 => return Some(self.write_mstatus((self.csr.mstatus & !SSTATUS_WRITABLE) | (v & SSTATUS_WRITABLE))),
            0x104 => {
                c.mie = (c.mie & !c.mideleg) | (v & c.mideleg & MIE_WRITABLE);
                return Some(CsrEffect::Recheck);
            }
            0x105 => c.stvec = v & !2,
            0x106 => c.scounteren = v,
            0x10a => {}
            0x140 => c.sscratch = v,
            0x141 => c.sepc = v & !3,
            0x142 => c.scause = v,
            0x143 => c.stval = v,
            0x144 => {
                let m = c.mideleg & MIP_SSIP;
                c.mip = (c.mip & !m) | (v & m);
                return Some(CsrEffect::Recheck);
            }
            0x180 => {
                c.satp = v & SATP_WRITABLE;
                self.flush_translated();
                return Some(CsrEffect::Recheck);
            }
            0x300 => return Some(self.write_mstatus(v)),
            0x301 => {} // misa: read-only in effect
            0x302 => c.medeleg = v & MEDELEG_WRITABLE,
            0x303 => {
                c.mideleg = v & S_INTERRUPTS;
                return Some(CsrEffect::Recheck);
            }
            0x304 => {
                c.mie = v & MIE_WRITABLE;
                return Some(CsrEffect::Recheck);
            }
            0x305 => c.mtvec = v & !2,
            0x306 => c.mcounteren = v,
            0x30a | 0x31a | 0x310 | 0x320 | 0x323..=0x33f | 0x3a0..=0x3ef => {}
            0x340 => c.mscratch = v,
            0x341 => c.mepc = v & !3,
            0x342 => c.mcause = v,
            0x343 => c.mtval = v,
            0x344 => {
                c.mip = (c.mip & !S_INTERRUPTS) | (v & S_INTERRUPTS);
                return Some(CsrEffect::Recheck);
            }
            0xb00 | 0xb80 => {
                let cyc = self.mcycle();
                let cyc = if addr == 0xb00 { set_lo(cyc, v) } else { set_hi(cyc, v) };
                // the writing instruction's own retirement must not show in the new value
                let retire = u64::from(by_insn);
                self.csr.cycle_delta = cyc.wrapping_sub(self.instret.wrapping_add(retire));
            }
            MINSTRET | MINSTRETH => {
                let cyc = self.mcycle();
                let n = if addr == MINSTRET { set_lo(self.instret, v) } else { set_hi(self.instret, v) };
                self.instret = n.wrapping_sub(u64::from(by_insn));
                self.csr.cycle_delta = cyc.wrapping_sub(self.instret);
                self.resync_clock();
            }
            0xb03..=0xb1f | 0xb83..=0xb9f => {}
            _ => return None,
        }
        Some(CsrEffect::None)
    }

    fn write_mstatus(&mut self, v: u32) -> CsrEffect {
        let old = self.csr.mstatus;
        let mut new = v & MSTATUS_WRITABLE;
        if (new >> MSTATUS_MPP_SHIFT) & 3 == 2 {
            // MPP is WARL: 2 (the hypervisor level) does not exist; keep the old value
            new = (new & !(3 << MSTATUS_MPP_SHIFT)) | (old & 3 << MSTATUS_MPP_SHIFT);
        }
        self.csr.mstatus = new;
        if (old ^ new) & MSTATUS_MXR != 0 {
            self.flush_translated();
        }
        // a change of SUM (or of MPRV/MPP) selects another TLB set
        self.mode_changed();
        CsrEffect::Recheck
    }
}
