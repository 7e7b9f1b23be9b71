//! Instruction decoding: a 32-bit word to an [`Insn`] with its fields extracted.
//!
//! Decoding is a pure function of the word. Every encoding that is not an RV32IMA, Zicsr,
//! Zifencei or privileged instruction decodes to [`Insn::Illegal`]. A destination register `x0` is
//! stored as [`X0_SINK`], so execution can write `rd` without testing for `x0`.

/// Register index that stands for `rd == x0` in a decoded instruction: writes to it are lost.
pub const X0_SINK: u8 = 32;

/// The operation of an AMO instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmoOp {
    /// `amoswap.w`
    Swap,
    /// `amoadd.w`
    Add,
    /// `amoxor.w`
    Xor,
    /// `amoand.w`
    And,
    /// `amoor.w`
    Or,
    /// `amomin.w`
    Min,
    /// `amomax.w`
    Max,
    /// `amominu.w`
    Minu,
    /// `amomaxu.w`
    Maxu,
}

impl AmoOp {
    /// The value an AMO stores, from the old memory value and `rs2`.
    #[inline]
    pub fn apply(self, old: u32, src: u32) -> u32 {
        match self {
            AmoOp::Swap => src,
            AmoOp::Add => old.wrapping_add(src),
            AmoOp::Xor => old ^ src,
            AmoOp::And => old & src,
            AmoOp::Or => old | src,
            AmoOp::Min => (old as i32).min(src as i32) as u32,
            AmoOp::Max => (old as i32).max(src as i32) as u32,
            AmoOp::Minu => old.min(src),
            AmoOp::Maxu => old.max(src),
        }
    }
}

/// A decoded instruction. Register fields are indices (`rd` of `x0` is [`X0_SINK`]); immediates
/// are sign-extended and, for branches and jumps, byte offsets.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    Lui {
        rd: u8,
        imm: u32,
    },
    Auipc {
        rd: u8,
        imm: u32,
    },
    Jal {
        rd: u8,
        imm: i32,
    },
    Jalr {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Beq {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Bne {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Blt {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Bge {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Bltu {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Bgeu {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Lb {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Lh {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Lw {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Lbu {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Lhu {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Sb {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Sh {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Sw {
        rs1: u8,
        rs2: u8,
        imm: i32,
    },
    Addi {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Slti {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Sltiu {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Xori {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Ori {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Andi {
        rd: u8,
        rs1: u8,
        imm: i32,
    },
    Slli {
        rd: u8,
        rs1: u8,
        shamt: u8,
    },
    Srli {
        rd: u8,
        rs1: u8,
        shamt: u8,
    },
    Srai {
        rd: u8,
        rs1: u8,
        shamt: u8,
    },
    Add {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Sub {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Sll {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Slt {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Sltu {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Xor {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Srl {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Sra {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Or {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    And {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Mul {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Mulh {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Mulhsu {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Mulhu {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Div {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Divu {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Rem {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    Remu {
        rd: u8,
        rs1: u8,
        rs2: u8,
    },
    /// `lr.w`; `aqrl` holds the aq (bit 1) and rl (bit 0) bits.
    LrW {
        rd: u8,
        rs1: u8,
        aqrl: u8,
    },
    ScW {
        rd: u8,
        rs1: u8,
        rs2: u8,
        aqrl: u8,
    },
    Amo {
        op: AmoOp,
        rd: u8,
        rs1: u8,
        rs2: u8,
        aqrl: u8,
    },
    /// `fence pred, succ` (and `fence.tso` when `tso`).
    Fence {
        pred: u8,
        succ: u8,
        tso: bool,
    },
    FenceI,
    Ecall,
    Ebreak,
    Mret,
    Sret,
    Wfi,
    SfenceVma {
        rs1: u8,
        rs2: u8,
    },
    Csrrw {
        rd: u8,
        rs1: u8,
        csr: u16,
    },
    Csrrs {
        rd: u8,
        rs1: u8,
        csr: u16,
    },
    Csrrc {
        rd: u8,
        rs1: u8,
        csr: u16,
    },
    Csrrwi {
        rd: u8,
        uimm: u8,
        csr: u16,
    },
    Csrrsi {
        rd: u8,
        uimm: u8,
        csr: u16,
    },
    Csrrci {
        rd: u8,
        uimm: u8,
        csr: u16,
    },
    /// An encoding that is not a supported instruction.
    Illegal {
        word: u32,
    },
    /// Decode-cache placeholder: not decoded yet. [`decode`] never returns it.
    Undecoded,
}

#[inline]
fn rd(w: u32) -> u8 {
    match ((w >> 7) & 31) as u8 {
        0 => X0_SINK,
        r => r,
    }
}
#[inline]
fn rs1(w: u32) -> u8 {
    ((w >> 15) & 31) as u8
}
#[inline]
fn rs2(w: u32) -> u8 {
    ((w >> 20) & 31) as u8
}
#[inline]
fn funct3(w: u32) -> u32 {
    (w >> 12) & 7
}
#[inline]
fn funct7(w: u32) -> u32 {
    w >> 25
}
/// I-type immediate, sign-extended.
#[inline]
pub(crate) fn imm_i(w: u32) -> i32 {
    (w as i32) >> 20
}
/// S-type immediate, sign-extended.
#[inline]
pub(crate) fn imm_s(w: u32) -> i32 {
    ((w as i32) >> 25 << 5) | ((w >> 7) & 0x1f) as i32
}
/// B-type immediate (byte offset), sign-extended.
#[inline]
pub(crate) fn imm_b(w: u32) -> i32 {
    ((w as i32) >> 31 << 12)
        | (((w >> 7) & 1) << 11) as i32
        | (((w >> 25) & 0x3f) << 5) as i32
        | (((w >> 8) & 0xf) << 1) as i32
}
/// J-type immediate (byte offset), sign-extended.
#[inline]
pub(crate) fn imm_j(w: u32) -> i32 {
    ((w as i32) >> 31 << 20) | (w & 0xff000) as i32 | (((w >> 20) & 1) << 11) as i32 | (((w >> 21) & 0x3ff) << 1) as i32
}

/// Decodes one instruction word.
pub fn decode(w: u32) -> Insn {
    let illegal = Insn::Illegal { word: w };
    if w & 3 != 3 {
        return illegal; // compressed encodings (the C extension is not implemented)
    }
    let (rd, rs1, rs2, f3, f7) = (rd(w), rs1(w), rs2(w), funct3(w), funct7(w));
    match (w >> 2) & 0x1f {
        0x0d => Insn::Lui { rd, imm: w & 0xffff_f000 },
        0x05 => Insn::Auipc { rd, imm: w & 0xffff_f000 },
        0x1b => Insn::Jal { rd, imm: imm_j(w) },
        0x19 if f3 == 0 => Insn::Jalr { rd, rs1, imm: imm_i(w) },
        0x18 => {
            let imm = imm_b(w);
            match f3 {
                0 => Insn::Beq { rs1, rs2, imm },
                1 => Insn::Bne { rs1, rs2, imm },
                4 => Insn::Blt { rs1, rs2, imm },
                5 => Insn::Bge { rs1, rs2, imm },
                6 => Insn::Bltu { rs1, rs2, imm },
                7 => Insn::Bgeu { rs1, rs2, imm },
                _ => illegal,
            }
        }
        0x00 => {
            let imm = imm_i(w);
            match f3 {
                0 => Insn::Lb { rd, rs1, imm },
                1 => Insn::Lh { rd, rs1, imm },
                2 => Insn::Lw { rd, rs1, imm },
                4 => Insn::Lbu { rd, rs1, imm },
                5 => Insn::Lhu { rd, rs1, imm },
                _ => illegal,
            }
        }
        0x08 => {
            let imm = imm_s(w);
            match f3 {
                0 => Insn::Sb { rs1, rs2, imm },
                1 => Insn::Sh { rs1, rs2, imm },
                2 => Insn::Sw { rs1, rs2, imm },
                _ => illegal,
            }
        }
        0x04 => {
            let imm = imm_i(w);
            let shamt = rs2;
            match (f3, f7) {
                (0, _) => Insn::Addi { rd, rs1, imm },
                (2, _) => Insn::Slti { rd, rs1, imm },
                (3, _) => Insn::Sltiu { rd, rs1, imm },
                (4, _) => Insn::Xori { rd, rs1, imm },
                (6, _) => Insn::Ori { rd, rs1, imm },
                (7, _) => Insn::Andi { rd, rs1, imm },
                (1, 0x00) => Insn::Slli { rd, rs1, shamt },
                (5, 0x00) => Insn::Srli { rd, rs1, shamt },
                (5, 0x20) => Insn::Srai { rd, rs1, shamt },
                _ => illegal,
            }
        }
        0x0c => match (f7, f3) {
            (0x00, 0) => Insn::Add { rd, rs1, rs2 },
            (0x20, 0) => Insn::Sub { rd, rs1, rs2 },
            (0x00, 1) => Insn::Sll { rd, rs1, rs2 },
            (0x00, 2) => Insn::Slt { rd, rs1, rs2 },
            (0x00, 3) => Insn::Sltu { rd, rs1, rs2 },
            (0x00, 4) => Insn::Xor { rd, rs1, rs2 },
            (0x00, 5) => Insn::Srl { rd, rs1, rs2 },
            (0x20, 5) => Insn::Sra { rd, rs1, rs2 },
            (0x00, 6) => Insn::Or { rd, rs1, rs2 },
            (0x00, 7) => Insn::And { rd, rs1, rs2 },
            (0x01, 0) => Insn::Mul { rd, rs1, rs2 },
            (0x01, 1) => Insn::Mulh { rd, rs1, rs2 },
            (0x01, 2) => Insn::Mulhsu { rd, rs1, rs2 },
            (0x01, 3) => Insn::Mulhu { rd, rs1, rs2 },
            (0x01, 4) => Insn::Div { rd, rs1, rs2 },
            (0x01, 5) => Insn::Divu { rd, rs1, rs2 },
            (0x01, 6) => Insn::Rem { rd, rs1, rs2 },
            (0x01, 7) => Insn::Remu { rd, rs1, rs2 },
            _ => illegal,
        },
        0x0b if f3 == 2 => {
            let aqrl = (f7 & 3) as u8;
            let op = match f7 >> 2 {
                0x02 if rs2 == 0 => return Insn::LrW { rd, rs1, aqrl },
                0x03 => return Insn::ScW { rd, rs1, rs2, aqrl },
                0x01 => AmoOp::Swap,
                0x00 => AmoOp::Add,
                0x04 => AmoOp::Xor,
                0x0c => AmoOp::And,
                0x08 => AmoOp::Or,
                0x10 => AmoOp::Min,
                0x14 => AmoOp::Max,
                0x18 => AmoOp::Minu,
                0x1c => AmoOp::Maxu,
                _ => return illegal,
            };
            Insn::Amo { op, rd, rs1, rs2, aqrl }
        }
        0x03 => match f3 {
            // rd, rs1 and the unused bits of fence are reserved for hints: ignore them.
            0 => Insn::Fence { pred: ((w >> 24) & 15) as u8, succ: ((w >> 20) & 15) as u8, tso: w >> 28 == 8 },
            1 => Insn::FenceI,
            _ => illegal,
        },
        0x1c => decode_system(w, rd, rs1, rs2, f3, f7),
        _ => illegal,
    }
}

fn decode_system(w: u32, rd: u8, rs1: u8, rs2: u8, f3: u32, f7: u32) -> Insn {
    let csr = (w >> 20) as u16;
    match f3 {
        0 => {
            if rd != X0_SINK {
                return Insn::Illegal { word: w };
            }
            match (f7, rs2, rs1) {
                (0x00, 0, 0) => Insn::Ecall,
                (0x00, 1, 0) => Insn::Ebreak,
                (0x18, 2, 0) => Insn::Mret,
                (0x08, 2, 0) => Insn::Sret,
                (0x08, 5, 0) => Insn::Wfi,
                (0x09, _, _) => Insn::SfenceVma { rs1, rs2 },
                _ => Insn::Illegal { word: w },
            }
        }
        1 => Insn::Csrrw { rd, rs1, csr },
        2 => Insn::Csrrs { rd, rs1, csr },
        3 => Insn::Csrrc { rd, rs1, csr },
        5 => Insn::Csrrwi { rd, uimm: rs1, csr },
        6 => Insn::Csrrsi { rd, uimm: rs1, csr },
        7 => Insn::Csrrci { rd, uimm: rs1, csr },
        _ => Insn::Illegal { word: w },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_sign_extend() {
        // addi x1, x2, -1
        assert_eq!(decode(0xfff1_0093), Insn::Addi { rd: 1, rs1: 2, imm: -1 });
        // sw x5, -4(x2)
        assert_eq!(decode(0xfe51_2e23), Insn::Sw { rs1: 2, rs2: 5, imm: -4 });
        // beq x0, x0, -8
        assert_eq!(decode(0xfe00_0ce3), Insn::Beq { rs1: 0, rs2: 0, imm: -8 });
        // bne x1, x2, +0xffe (largest positive)
        assert_eq!(decode(0x7e20_9fe3), Insn::Bne { rs1: 1, rs2: 2, imm: 0xffe });
        // jal x1, -4
        assert_eq!(decode(0xffdf_f0ef), Insn::Jal { rd: 1, imm: -4 });
        // jal x0, +0xffffe (largest positive)
        assert_eq!(decode(0x7fff_f06f), Insn::Jal { rd: X0_SINK, imm: 0xf_fffe });
        // lui x10, 0x80000
        assert_eq!(decode(0x8000_0537), Insn::Lui { rd: 10, imm: 0x8000_0000 });
        // srai x3, x3, 31
        assert_eq!(decode(0x41f1_d193), Insn::Srai { rd: 3, rs1: 3, shamt: 31 });
    }

    #[test]
    fn atomics_and_system() {
        // amoswap.w.aqrl a0, a1, (a2)
        assert_eq!(decode(0x0eb6_252f), Insn::Amo { op: AmoOp::Swap, rd: 10, rs1: 12, rs2: 11, aqrl: 3 });
        // lr.w a0, (a1)
        assert_eq!(decode(0x1005_a52f), Insn::LrW { rd: 10, rs1: 11, aqrl: 0 });
        // lr.w with rs2 != 0 is reserved
        assert!(matches!(decode(0x1015_a52f), Insn::Illegal { .. }));
        assert_eq!(decode(0x3020_0073), Insn::Mret);
        assert_eq!(decode(0x1020_0073), Insn::Sret);
        assert_eq!(decode(0x1050_0073), Insn::Wfi);
        assert_eq!(decode(0x1200_0073), Insn::SfenceVma { rs1: 0, rs2: 0 });
        assert_eq!(decode(0x0000_0073), Insn::Ecall);
        assert_eq!(decode(0x0010_0073), Insn::Ebreak);
        // csrrw x0, mscratch, x5
        assert_eq!(decode(0x3402_9073), Insn::Csrrw { rd: X0_SINK, rs1: 5, csr: 0x340 });
        assert_eq!(decode(0x0000_100f), Insn::FenceI);
        assert_eq!(decode(0x8330_000f), Insn::Fence { pred: 3, succ: 3, tso: true });
    }

    #[test]
    fn illegal_encodings() {
        for w in [
            0x0000_0000,
            0xffff_ffff,
            0x0000_4501,
            0x0000_8082,
            0x0020_f053, /* fadd.s */
            0x0000_2007, /* flw */
        ] {
            assert_eq!(decode(w), Insn::Illegal { word: w }, "{w:08x}");
        }
        // slli with funct7 != 0, add with funct7 = 0x40, csr funct3 = 4, ecall with rd != 0
        for w in [0x0201_1093, 0x8000_00b3, 0x3000_4073, 0x0000_00f3, 0x0000_300f] {
            assert!(matches!(decode(w), Insn::Illegal { .. }), "{w:08x}");
        }
    }

    #[test]
    fn insn_is_small() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
