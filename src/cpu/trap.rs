//! Traps as values: exceptions with their `tval`, interrupts, trap entry with delegation, and the
//! choice of the interrupt to take.

use semu_api::{MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP};

use super::csr::{MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP_SHIFT, MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP};
use super::{Hart, Priv};

/// A synchronous exception, with its `tval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// Cause 0: jump or branch to an address that is not 4-byte aligned (tval: the target).
    InstructionMisaligned(u32),
    /// Cause 1 (tval: the address).
    InstructionAccess(u32),
    /// Cause 2 (tval: the instruction word).
    Illegal(u32),
    /// Cause 3 (tval: pc).
    Breakpoint(u32),
    /// Cause 4 (tval: the address).
    LoadMisaligned(u32),
    /// Cause 5 (tval: the address).
    LoadAccess(u32),
    /// Cause 6 (tval: the address).
    StoreMisaligned(u32),
    /// Cause 7 (tval: the address).
    StoreAccess(u32),
    /// Cause 8.
    EcallU,
    /// Cause 9.
    EcallS,
    /// Cause 11.
    EcallM,
    /// Cause 12 (tval: the address).
    InstructionPage(u32),
    /// Cause 13 (tval: the address).
    LoadPage(u32),
    /// Cause 15 (tval: the address).
    StorePage(u32),
}

impl Exception {
    /// The exception code (`mcause` without the interrupt bit).
    pub fn cause(self) -> u32 {
        match self {
            Exception::InstructionMisaligned(_) => 0,
            Exception::InstructionAccess(_) => 1,
            Exception::Illegal(_) => 2,
            Exception::Breakpoint(_) => 3,
            Exception::LoadMisaligned(_) => 4,
            Exception::LoadAccess(_) => 5,
            Exception::StoreMisaligned(_) => 6,
            Exception::StoreAccess(_) => 7,
            Exception::EcallU => 8,
            Exception::EcallS => 9,
            Exception::EcallM => 11,
            Exception::InstructionPage(_) => 12,
            Exception::LoadPage(_) => 13,
            Exception::StorePage(_) => 15,
        }
    }

    /// The value written to `mtval`/`stval`.
    pub fn tval(self) -> u32 {
        match self {
            Exception::InstructionMisaligned(v)
            | Exception::InstructionAccess(v)
            | Exception::Illegal(v)
            | Exception::Breakpoint(v)
            | Exception::LoadMisaligned(v)
            | Exception::LoadAccess(v)
            | Exception::StoreMisaligned(v)
            | Exception::StoreAccess(v)
            | Exception::InstructionPage(v)
            | Exception::LoadPage(v)
            | Exception::StorePage(v) => v,
            Exception::EcallU | Exception::EcallS | Exception::EcallM => 0,
        }
    }
}

/// A trap: an exception or an interrupt (by its `mip` bit number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// A synchronous exception.
    Exception(Exception),
    /// An interrupt; the value is the interrupt code (1 SSI, 3 MSI, 5 STI, 7 MTI, 9 SEI, 11 MEI).
    Interrupt(u32),
}

impl Trap {
    /// `mcause` value.
    pub fn mcause(self) -> u32 {
        match self {
            Trap::Exception(e) => e.cause(),
            Trap::Interrupt(code) => code | 1 << 31,
        }
    }
}

/// The kind of memory access, which selects the fault causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Instruction fetch.
    Fetch,
    /// Load (and LR).
    Load,
    /// Store, SC and AMO.
    Store,
}

impl Access {
    /// The page fault for an access to `va`.
    #[inline]
    pub fn page_fault(self, va: u32) -> Exception {
        match self {
            Access::Fetch => Exception::InstructionPage(va),
            Access::Load => Exception::LoadPage(va),
            Access::Store => Exception::StorePage(va),
        }
    }

    /// The access fault for an access to `va`.
    #[inline]
    pub fn access_fault(self, va: u32) -> Exception {
        match self {
            Access::Fetch => Exception::InstructionAccess(va),
            Access::Load => Exception::LoadAccess(va),
            Access::Store => Exception::StoreAccess(va),
        }
    }

    /// The address-misaligned exception for an access to `va`.
    #[inline]
    pub fn misaligned(self, va: u32) -> Exception {
        match self {
            Access::Fetch => Exception::InstructionMisaligned(va),
            Access::Load => Exception::LoadMisaligned(va),
            Access::Store => Exception::StoreMisaligned(va),
        }
    }
}

/// Interrupts in the order they are taken when several are pending: MEI, MSI, MTI, SEI, SSI, STI.
const PRIORITY: [u32; 6] = [MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP];

fn highest(bits: u32) -> Option<u32> {
    PRIORITY.iter().find(|&&b| bits & b != 0).map(|b| b.trailing_zeros())
}

impl Hart {
    /// The privilege level a trap would be taken in, without taking it.
    pub(crate) fn trap_target(&self, trap: Trap) -> Priv {
        let deleg = match trap {
            Trap::Exception(e) => self.csr.medeleg >> e.cause() & 1,
            Trap::Interrupt(code) => self.csr.mideleg >> code & 1,
        };
        if deleg != 0 && self.privilege != Priv::M {
            Priv::S
        } else {
            Priv::M
        }
    }

    /// Enters the trap handler: updates the trap CSRs of the target mode, the privilege and pc.
    pub(crate) fn enter_trap(&mut self, trap: Trap) {
        let target = self.trap_target(trap);
        let (cause, tval, vectored_offset) = match trap {
            Trap::Exception(e) => (e.cause(), e.tval(), 0),
            Trap::Interrupt(code) => (code | 1 << 31, 0, 4 * code),
        };
        let from = self.privilege as u32;
        let st = self.csr.mstatus;
        let pc = self.pc;
        if target == Priv::S {
            self.csr.scause = cause;
            self.csr.sepc = pc;
            self.csr.stval = tval;
            let mut s = st & !(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP);
            if st & MSTATUS_SIE != 0 {
                s |= MSTATUS_SPIE;
            }
            if from != 0 {
                s |= MSTATUS_SPP;
            }
            self.csr.mstatus = s;
            let tvec = self.csr.stvec;
            self.pc = (tvec & !3).wrapping_add(if tvec & 1 != 0 { vectored_offset } else { 0 });
        } else {
            self.csr.mcause = cause;
            self.csr.mepc = pc;
            self.csr.mtval = tval;
            let mut s = st & !(MSTATUS_MPIE | MSTATUS_MIE | 3 << MSTATUS_MPP_SHIFT);
            if st & MSTATUS_MIE != 0 {
                s |= MSTATUS_MPIE;
            }
            s |= from << MSTATUS_MPP_SHIFT;
            self.csr.mstatus = s;
            let tvec = self.csr.mtvec;
            self.pc = (tvec & !3).wrapping_add(if tvec & 1 != 0 { vectored_offset } else { 0 });
        }
        self.privilege = target;
        self.mode_changed();
    }

    /// The interrupt to take now, if any: pending (`mip & mie`), enabled for the mode it goes to,
    /// and of the highest priority.
    pub(crate) fn pending_interrupt(&self, lines: u32) -> Option<Trap> {
        let pending = (self.csr.mip | lines) & self.csr.mie;
        if pending == 0 {
            return None;
        }
        let st = self.csr.mstatus;
        let m_enabled = self.privilege != Priv::M || st & MSTATUS_MIE != 0;
        let m = pending & !self.csr.mideleg;
        if m_enabled && m != 0 {
            return highest(m).map(Trap::Interrupt);
        }
        let s_enabled = match self.privilege {
            Priv::U => true,
            Priv::S => st & MSTATUS_SIE != 0,
            Priv::M => false,
        };
        let s = pending & self.csr.mideleg;
        if s_enabled && s != 0 {
            return highest(s).map(Trap::Interrupt);
        }
        None
    }

    /// Whether `wfi` may stop waiting: some interrupt is pending and enabled in `mie`, whatever the
    /// global enables and delegation say.
    pub(crate) fn wakeup_pending(&self, lines: u32) -> bool {
        (self.csr.mip | lines) & self.csr.mie != 0
    }
}
