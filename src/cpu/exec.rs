//! Execution of decoded instructions.
//!
//! Each instruction performs every access it needs first and commits `rd`, CSRs and pc only once
//! all of them succeeded; an `Err` leaves the hart as it was (pc still at the instruction).

use super::cache::insn_word;
use crate::bus::System;

use super::cache::Shared;
use super::csr::{CsrEffect, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_SIE, MSTATUS_SPIE};
use super::csr::{MSTATUS_SPP, MSTATUS_TSR, MSTATUS_TVM, MSTATUS_TW};
use super::decode::{Insn, X0_SINK};
use super::trap::Exception;
use super::{Hart, Priv};

/// Why an instruction did not simply continue to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// It raised an exception (nothing was committed).
    Trap(Exception),
    /// It retired and may have unmasked an interrupt: check before the next instruction.
    Recheck,
    /// It retired as a `wfi` that has to wait.
    Wfi,
}

impl From<Exception> for Stop {
    #[inline]
    fn from(e: Exception) -> Self {
        Stop::Trap(e)
    }
}

#[derive(Clone, Copy)]
enum CsrOp {
    Write,
    Set,
    Clear,
}

impl Hart {
    #[inline(always)]
    pub(crate) fn x(&self, r: u8) -> u32 {
        self.regs[r as usize]
    }

    #[inline(always)]
    pub(crate) fn set_x(&mut self, r: u8, v: u32) {
        self.regs[r as usize] = v;
    }

    /// The word of the instruction at pc, for an illegal-instruction `tval` raised at execution
    /// (the fetch cache still describes pc's page).
    #[cold]
    pub(crate) fn illegal(&self, sys: &System) -> Exception {
        let off = self.mmu.fetch_off + (self.pc & 0xfff) as usize;
        let word = insn_word(&sys.ram, off);
        Exception::Illegal(word)
    }

    /// Executes `insn` at pc.
    #[inline(always)]
    pub(crate) fn exec(&mut self, insn: Insn, sys: &mut System, sh: &mut Shared) -> Result<(), Stop> {
        let pc = self.pc;
        let mut next = pc.wrapping_add(4);
        macro_rules! branch {
            ($rs1:expr, $rs2:expr, $imm:expr, $cond:expr) => {{
                let (a, b) = (self.x($rs1), self.x($rs2));
                #[allow(clippy::redundant_closure_call)]
                if $cond(a, b) {
                    let t = pc.wrapping_add($imm as u32);
                    if t & 3 != 0 {
                        return Err(Exception::InstructionMisaligned(t).into());
                    }
                    next = t;
                }
            }};
        }
        macro_rules! op {
            ($rd:expr, $v:expr) => {{
                let v = $v;
                self.set_x($rd, v);
            }};
        }
        match insn {
            Insn::Lui { rd, imm } => op!(rd, imm),
            Insn::Auipc { rd, imm } => op!(rd, pc.wrapping_add(imm)),
            Insn::Jal { rd, imm } => {
                let t = pc.wrapping_add(imm as u32);
                if t & 3 != 0 {
                    return Err(Exception::InstructionMisaligned(t).into());
                }
                self.set_x(rd, next);
                next = t;
            }
            Insn::Jalr { rd, rs1, imm } => {
                let t = self.x(rs1).wrapping_add(imm as u32) & !1;
                if t & 3 != 0 {
                    return Err(Exception::InstructionMisaligned(t).into());
                }
                self.set_x(rd, next);
                next = t;
            }
            Insn::Beq { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a, b| a == b),
            Insn::Bne { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a, b| a != b),
            Insn::Blt { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a: u32, b: u32| (a as i32) < (b as i32)),
            Insn::Bge { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a: u32, b: u32| (a as i32) >= (b as i32)),
            Insn::Bltu { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a, b| a < b),
            Insn::Bgeu { rs1, rs2, imm } => branch!(rs1, rs2, imm, |a, b| a >= b),
            Insn::Lb { rd, rs1, imm } => {
                let v = self.load::<1>(sys, sh, self.x(rs1).wrapping_add(imm as u32))?;
                self.set_x(rd, v as u8 as i8 as u32);
            }
            Insn::Lh { rd, rs1, imm } => {
                let v = self.load::<2>(sys, sh, self.x(rs1).wrapping_add(imm as u32))?;
                self.set_x(rd, v as u16 as i16 as u32);
            }
            Insn::Lw { rd, rs1, imm } => {
                let v = self.load::<4>(sys, sh, self.x(rs1).wrapping_add(imm as u32))?;
                self.set_x(rd, v);
            }
            Insn::Lbu { rd, rs1, imm } => {
                let v = self.load::<1>(sys, sh, self.x(rs1).wrapping_add(imm as u32))?;
                self.set_x(rd, v);
            }
            Insn::Lhu { rd, rs1, imm } => {
                let v = self.load::<2>(sys, sh, self.x(rs1).wrapping_add(imm as u32))?;
                self.set_x(rd, v);
            }
            Insn::Sb { rs1, rs2, imm } => {
                self.store::<1>(sys, sh, self.x(rs1).wrapping_add(imm as u32), self.x(rs2))?
            }
            Insn::Sh { rs1, rs2, imm } => {
                self.store::<2>(sys, sh, self.x(rs1).wrapping_add(imm as u32), self.x(rs2))?
            }
            Insn::Sw { rs1, rs2, imm } => {
                self.store::<4>(sys, sh, self.x(rs1).wrapping_add(imm as u32), self.x(rs2))?
            }
            Insn::Addi { rd, rs1, imm } => op!(rd, self.x(rs1).wrapping_add(imm as u32)),
            Insn::Slti { rd, rs1, imm } => op!(rd, u32::from((self.x(rs1) as i32) < imm)),
            Insn::Sltiu { rd, rs1, imm } => op!(rd, u32::from(self.x(rs1) < imm as u32)),
            Insn::Xori { rd, rs1, imm } => op!(rd, self.x(rs1) ^ imm as u32),
            Insn::Ori { rd, rs1, imm } => op!(rd, self.x(rs1) | imm as u32),
            Insn::Andi { rd, rs1, imm } => op!(rd, self.x(rs1) & imm as u32),
            Insn::Slli { rd, rs1, shamt } => op!(rd, self.x(rs1) << (shamt & 31)),
            Insn::Srli { rd, rs1, shamt } => op!(rd, self.x(rs1) >> (shamt & 31)),
            Insn::Srai { rd, rs1, shamt } => op!(rd, ((self.x(rs1) as i32) >> (shamt & 31)) as u32),
            Insn::Add { rd, rs1, rs2 } => op!(rd, self.x(rs1).wrapping_add(self.x(rs2))),
            Insn::Sub { rd, rs1, rs2 } => op!(rd, self.x(rs1).wrapping_sub(self.x(rs2))),
            Insn::Sll { rd, rs1, rs2 } => op!(rd, self.x(rs1) << (self.x(rs2) & 31)),
            Insn::Slt { rd, rs1, rs2 } => op!(rd, u32::from((self.x(rs1) as i32) < (self.x(rs2) as i32))),
            Insn::Sltu { rd, rs1, rs2 } => op!(rd, u32::from(self.x(rs1) < self.x(rs2))),
            Insn::Xor { rd, rs1, rs2 } => op!(rd, self.x(rs1) ^ self.x(rs2)),
            Insn::Srl { rd, rs1, rs2 } => op!(rd, self.x(rs1) >> (self.x(rs2) & 31)),
            Insn::Sra { rd, rs1, rs2 } => op!(rd, ((self.x(rs1) as i32) >> (self.x(rs2) & 31)) as u32),
            Insn::Or { rd, rs1, rs2 } => op!(rd, self.x(rs1) | self.x(rs2)),
            Insn::And { rd, rs1, rs2 } => op!(rd, self.x(rs1) & self.x(rs2)),
            Insn::Mul { .. }
            | Insn::Mulh { .. }
            | Insn::Mulhsu { .. }
            | Insn::Mulhu { .. }
            | Insn::Div { .. }
            | Insn::Divu { .. }
            | Insn::Rem { .. }
            | Insn::Remu { .. }
                if !self.cfg.ext_m =>
            {
                return Err(self.illegal(sys).into())
            }
            Insn::Mul { rd, rs1, rs2 } => op!(rd, self.x(rs1).wrapping_mul(self.x(rs2))),
            Insn::Mulh { rd, rs1, rs2 } => {
                op!(rd, ((i64::from(self.x(rs1) as i32) * i64::from(self.x(rs2) as i32)) >> 32) as u32)
            }
            Insn::Mulhsu { rd, rs1, rs2 } => {
                op!(rd, ((i64::from(self.x(rs1) as i32) * i64::from(self.x(rs2))) >> 32) as u32)
            }
            Insn::Mulhu { rd, rs1, rs2 } => op!(rd, ((u64::from(self.x(rs1)) * u64::from(self.x(rs2))) >> 32) as u32),
            Insn::Div { rd, rs1, rs2 } => {
                let (a, b) = (self.x(rs1) as i32, self.x(rs2) as i32);
                op!(rd, if b == 0 { u32::MAX } else { a.wrapping_div(b) as u32 })
            }
            Insn::Divu { rd, rs1, rs2 } => {
                let (a, b) = (self.x(rs1), self.x(rs2));
                op!(rd, a.checked_div(b).unwrap_or(u32::MAX))
            }
            Insn::Rem { rd, rs1, rs2 } => {
                let (a, b) = (self.x(rs1) as i32, self.x(rs2) as i32);
                op!(rd, if b == 0 { a as u32 } else { a.wrapping_rem(b) as u32 })
            }
            Insn::Remu { rd, rs1, rs2 } => {
                let (a, b) = (self.x(rs1), self.x(rs2));
                op!(rd, a.checked_rem(b).unwrap_or(a))
            }
            Insn::LrW { .. } | Insn::ScW { .. } | Insn::Amo { .. } if !self.cfg.ext_a => {
                return Err(self.illegal(sys).into())
            }
            Insn::LrW { rd, rs1, .. } => {
                let v = self.load_reserved(sys, sh, self.x(rs1))?;
                self.set_x(rd, v);
            }
            Insn::ScW { rd, rs1, rs2, .. } => {
                let v = self.store_conditional(sys, sh, self.x(rs1), self.x(rs2))?;
                self.set_x(rd, v);
            }
            Insn::Amo { op, rd, rs1, rs2, .. } => {
                let old = self.amo(sys, sh, op, self.x(rs1), self.x(rs2))?;
                self.set_x(rd, old);
            }
            Insn::Fence { .. } => {}
            Insn::FenceI if !self.cfg.ext_zifencei => return Err(self.illegal(sys).into()),
            Insn::FenceI => sh.drain_device_writes(&mut sys.ram),
            Insn::Ecall => {
                return Err(match self.privilege {
                    Priv::U => Exception::EcallU,
                    Priv::S => Exception::EcallS,
                    Priv::M => Exception::EcallM,
                }
                .into())
            }
            Insn::Ebreak => return Err(Exception::Breakpoint(pc).into()),
            Insn::Mret => {
                if self.privilege != Priv::M {
                    return Err(self.illegal(sys).into());
                }
                let st = self.csr.mstatus;
                let mpp = (st >> MSTATUS_MPP_SHIFT) & 3;
                let mut s = (st & !(MSTATUS_MIE | 3 << MSTATUS_MPP_SHIFT)) | MSTATUS_MPIE;
                if st & MSTATUS_MPIE != 0 {
                    s |= MSTATUS_MIE;
                }
                let to = match mpp {
                    0 => Priv::U,
                    1 => Priv::S,
                    _ => Priv::M,
                };
                if to != Priv::M {
                    s &= !MSTATUS_MPRV;
                }
                self.csr.mstatus = s;
                self.privilege = to;
                self.mode_changed();
                self.pc = self.csr.mepc;
                return Err(Stop::Recheck);
            }
            Insn::Sret => {
                let tsr = self.csr.mstatus & MSTATUS_TSR != 0;
                if self.privilege == Priv::U || (self.privilege == Priv::S && tsr) {
                    return Err(self.illegal(sys).into());
                }
                let st = self.csr.mstatus;
                let mut s = (st & !(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | MSTATUS_SPIE;
                if st & MSTATUS_SPIE != 0 {
                    s |= MSTATUS_SIE;
                }
                self.csr.mstatus = s;
                self.privilege = if st & MSTATUS_SPP != 0 { Priv::S } else { Priv::U };
                self.mode_changed();
                self.pc = self.csr.sepc;
                return Err(Stop::Recheck);
            }
            Insn::Wfi => {
                let tw = self.csr.mstatus & MSTATUS_TW != 0;
                if self.privilege == Priv::U || (self.privilege == Priv::S && tw) {
                    return Err(self.illegal(sys).into());
                }
                self.pc = next;
                let lines = sys.hart_lines.get(self.id);
                return Err(if self.wakeup_pending(lines) { Stop::Recheck } else { Stop::Wfi });
            }
            Insn::SfenceVma { rs1, .. } => {
                let tvm = self.csr.mstatus & MSTATUS_TVM != 0;
                if self.privilege == Priv::U || (self.privilege == Priv::S && tvm) {
                    return Err(self.illegal(sys).into());
                }
                if rs1 == 0 {
                    self.flush_translated();
                } else {
                    self.flush_page(self.x(rs1));
                }
            }
            Insn::Csrrw { rd, rs1, csr } => return self.csr_insn(sys, csr, rd, CsrOp::Write, self.x(rs1), true, next),
            Insn::Csrrs { rd, rs1, csr } => {
                return self.csr_insn(sys, csr, rd, CsrOp::Set, self.x(rs1), rs1 != 0, next)
            }
            Insn::Csrrc { rd, rs1, csr } => {
                return self.csr_insn(sys, csr, rd, CsrOp::Clear, self.x(rs1), rs1 != 0, next)
            }
            Insn::Csrrwi { rd, uimm, csr } => {
                return self.csr_insn(sys, csr, rd, CsrOp::Write, uimm.into(), true, next)
            }
            Insn::Csrrsi { rd, uimm, csr } => {
                return self.csr_insn(sys, csr, rd, CsrOp::Set, uimm.into(), uimm != 0, next)
            }
            Insn::Csrrci { rd, uimm, csr } => {
                return self.csr_insn(sys, csr, rd, CsrOp::Clear, uimm.into(), uimm != 0, next)
            }
            Insn::Illegal { word } => return Err(Exception::Illegal(word).into()),
            Insn::Undecoded => return Err(self.illegal(sys).into()),
        }
        self.pc = next;
        Ok(())
    }

    /// A CSR instruction: check access, read, compute, write, and only then write `rd`.
    #[allow(clippy::too_many_arguments)]
    fn csr_insn(
        &mut self,
        sys: &mut System,
        csr: u16,
        rd: u8,
        op: CsrOp,
        src: u32,
        write: bool,
        next: u32,
    ) -> Result<(), Stop> {
        if !self.csr_accessible(csr, write) {
            return Err(self.illegal(sys).into());
        }
        let lines = sys.hart_lines.get(self.id);
        let now = if matches!(csr, 0xc01 | 0xc81) {
            self.sync_clock(&sys.clock);
            sys.clock.now()
        } else {
            0
        };
        let Some(old) = self.read_csr(csr, lines, now) else {
            return Err(self.illegal(sys).into());
        };
        let mut effect = CsrEffect::None;
        if write {
            let base = self.csr_rmw_base(csr, old);
            let new = match op {
                CsrOp::Write => src,
                CsrOp::Set => base | src,
                CsrOp::Clear => base & !src,
            };
            match self.write_csr(csr, new, true) {
                Some(e) => effect = e,
                None => return Err(self.illegal(sys).into()),
            }
        }
        if rd != X0_SINK {
            self.set_x(rd, old);
        }
        self.pc = next;
        match effect {
            CsrEffect::None => Ok(()),
            CsrEffect::Recheck => Err(Stop::Recheck),
        }
    }
}
