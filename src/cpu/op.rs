//! The decode cache's form of an instruction: an [`Op`], 8 bytes of fixed fields that the fast
//! interpreter loop (`fast.rs`) reads without unpacking an enum.
//!
//! An [`Insn`] is compiled to an `Op` knowing where in its 4 KiB page it lies, so branches and
//! jumps whose target is in the same page store the target's index in the page instead of an
//! offset (the `*L` kinds). Everything the fast loop does not handle itself (CSRs, system
//! instructions, fences, atomics, illegal encodings) is [`K::Slow`] with the instruction word; the
//! loop then decodes it again and runs it through the general `exec`.

use super::decode::Insn;

/// What an [`Op`] does. Register fields are indices (a destination `x0` is
/// [`X0_SINK`](super::decode::X0_SINK)); `imm` is as noted.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum K {
    /// Not decoded yet.
    Undecoded = 0,
    /// The slot after a page's last instruction: continue on the next page.
    PageEnd,
    /// Anything else; `imm` is the instruction word.
    Slow,
    /// `imm` is the upper immediate.
    Lui,
    Auipc,
    /// `imm`: byte offset (target in another page, or misaligned).
    Jal,
    /// `imm`: index of the target in this page.
    JalL,
    /// `imm`: the I-type immediate.
    Jalr,
    /// `imm`: byte offset.
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    /// `imm`: index of the target in this page.
    BeqL,
    BneL,
    BltL,
    BgeL,
    BltuL,
    BgeuL,
    Lb,
    Lh,
    Lw,
    Lbu,
    Lhu,
    Sb,
    Sh,
    Sw,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
}

/// A decoded instruction as the decode cache holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(8))]
pub(crate) struct Op {
    pub k: K,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: u32,
}

impl Op {
    /// A slot that has not been decoded.
    pub const UNDECODED: Op = Op { k: K::Undecoded, rd: 0, rs1: 0, rs2: 0, imm: 0 };
    /// The slot after the last instruction of a page.
    pub const PAGE_END: Op = Op { k: K::PageEnd, rd: 0, rs1: 0, rs2: 0, imm: 0 };

    /// Compiles `insn`, the word `word` at instruction index `idx` (0..1024) of its page.
    pub fn compile(insn: Insn, word: u32, idx: usize) -> Op {
        let op = |k, rd, rs1, rs2, imm| Op { k, rd, rs1, rs2, imm };
        // in-page target index of a pc-relative control transfer, if it is aligned and local
        let local = |imm: i32| {
            let t = (idx as i64) * 4 + i64::from(imm);
            ((0..4096).contains(&t) && t % 4 == 0).then_some((t / 4) as u32)
        };
        let branch = |k: K, kl: K, rs1, rs2, imm: i32| match local(imm) {
            Some(t) => op(kl, 0, rs1, rs2, t),
            None => op(k, 0, rs1, rs2, imm as u32),
        };
        match insn {
            Insn::Lui { rd, imm } => op(K::Lui, rd, 0, 0, imm),
            Insn::Auipc { rd, imm } => op(K::Auipc, rd, 0, 0, imm),
            Insn::Jal { rd, imm } => match local(imm) {
                Some(t) => op(K::JalL, rd, 0, 0, t),
                None => op(K::Jal, rd, 0, 0, imm as u32),
            },
            Insn::Jalr { rd, rs1, imm } => op(K::Jalr, rd, rs1, 0, imm as u32),
            Insn::Beq { rs1, rs2, imm } => branch(K::Beq, K::BeqL, rs1, rs2, imm),
            Insn::Bne { rs1, rs2, imm } => branch(K::Bne, K::BneL, rs1, rs2, imm),
            Insn::Blt { rs1, rs2, imm } => branch(K::Blt, K::BltL, rs1, rs2, imm),
            Insn::Bge { rs1, rs2, imm } => branch(K::Bge, K::BgeL, rs1, rs2, imm),
            Insn::Bltu { rs1, rs2, imm } => branch(K::Bltu, K::BltuL, rs1, rs2, imm),
            Insn::Bgeu { rs1, rs2, imm } => branch(K::Bgeu, K::BgeuL, rs1, rs2, imm),
            Insn::Lb { rd, rs1, imm } => op(K::Lb, rd, rs1, 0, imm as u32),
            Insn::Lh { rd, rs1, imm } => op(K::Lh, rd, rs1, 0, imm as u32),
            Insn::Lw { rd, rs1, imm } => op(K::Lw, rd, rs1, 0, imm as u32),
            Insn::Lbu { rd, rs1, imm } => op(K::Lbu, rd, rs1, 0, imm as u32),
            Insn::Lhu { rd, rs1, imm } => op(K::Lhu, rd, rs1, 0, imm as u32),
            Insn::Sb { rs1, rs2, imm } => op(K::Sb, 0, rs1, rs2, imm as u32),
            Insn::Sh { rs1, rs2, imm } => op(K::Sh, 0, rs1, rs2, imm as u32),
            Insn::Sw { rs1, rs2, imm } => op(K::Sw, 0, rs1, rs2, imm as u32),
            Insn::Addi { rd, rs1, imm } => op(K::Addi, rd, rs1, 0, imm as u32),
            Insn::Slti { rd, rs1, imm } => op(K::Slti, rd, rs1, 0, imm as u32),
            Insn::Sltiu { rd, rs1, imm } => op(K::Sltiu, rd, rs1, 0, imm as u32),
            Insn::Xori { rd, rs1, imm } => op(K::Xori, rd, rs1, 0, imm as u32),
            Insn::Ori { rd, rs1, imm } => op(K::Ori, rd, rs1, 0, imm as u32),
            Insn::Andi { rd, rs1, imm } => op(K::Andi, rd, rs1, 0, imm as u32),
            Insn::Slli { rd, rs1, shamt } => op(K::Slli, rd, rs1, 0, u32::from(shamt & 31)),
            Insn::Srli { rd, rs1, shamt } => op(K::Srli, rd, rs1, 0, u32::from(shamt & 31)),
            Insn::Srai { rd, rs1, shamt } => op(K::Srai, rd, rs1, 0, u32::from(shamt & 31)),
            Insn::Add { rd, rs1, rs2 } => op(K::Add, rd, rs1, rs2, 0),
            Insn::Sub { rd, rs1, rs2 } => op(K::Sub, rd, rs1, rs2, 0),
            Insn::Sll { rd, rs1, rs2 } => op(K::Sll, rd, rs1, rs2, 0),
            Insn::Slt { rd, rs1, rs2 } => op(K::Slt, rd, rs1, rs2, 0),
            Insn::Sltu { rd, rs1, rs2 } => op(K::Sltu, rd, rs1, rs2, 0),
            Insn::Xor { rd, rs1, rs2 } => op(K::Xor, rd, rs1, rs2, 0),
            Insn::Srl { rd, rs1, rs2 } => op(K::Srl, rd, rs1, rs2, 0),
            Insn::Sra { rd, rs1, rs2 } => op(K::Sra, rd, rs1, rs2, 0),
            Insn::Or { rd, rs1, rs2 } => op(K::Or, rd, rs1, rs2, 0),
            Insn::And { rd, rs1, rs2 } => op(K::And, rd, rs1, rs2, 0),
            Insn::Mul { rd, rs1, rs2 } => op(K::Mul, rd, rs1, rs2, 0),
            Insn::Mulh { rd, rs1, rs2 } => op(K::Mulh, rd, rs1, rs2, 0),
            Insn::Mulhsu { rd, rs1, rs2 } => op(K::Mulhsu, rd, rs1, rs2, 0),
            Insn::Mulhu { rd, rs1, rs2 } => op(K::Mulhu, rd, rs1, rs2, 0),
            Insn::Div { rd, rs1, rs2 } => op(K::Div, rd, rs1, rs2, 0),
            Insn::Divu { rd, rs1, rs2 } => op(K::Divu, rd, rs1, rs2, 0),
            Insn::Rem { rd, rs1, rs2 } => op(K::Rem, rd, rs1, rs2, 0),
            Insn::Remu { rd, rs1, rs2 } => op(K::Remu, rd, rs1, rs2, 0),
            _ => op(K::Slow, 0, 0, 0, word),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::decode::decode;

    #[test]
    fn op_is_small() {
        assert_eq!(std::mem::size_of::<Op>(), 8);
    }

    #[test]
    fn local_targets() {
        // beq x0, x0, -8 at index 2: target index 0
        assert_eq!(Op::compile(decode(0xfe00_0ce3), 0, 2).k, K::BeqL);
        assert_eq!(Op::compile(decode(0xfe00_0ce3), 0, 2).imm, 0);
        // the same at index 1 leaves the page
        assert_eq!(Op::compile(decode(0xfe00_0ce3), 0, 1).k, K::Beq);
        // jal x1, -4 at index 1023: target 1022
        let j = Op::compile(decode(0xffdf_f0ef), 0, 1023);
        assert_eq!((j.k, j.rd, j.imm), (K::JalL, 1, 1022));
        // ecall is slow and keeps its word
        let e = Op::compile(decode(0x0000_0073), 0x73, 5);
        assert_eq!((e.k, e.imm), (K::Slow, 0x73));
    }
}
