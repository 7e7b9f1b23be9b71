//! Disassembly of decoded instructions (for `--trace`), in the GNU assembler's syntax with ABI
//! register names.

use std::fmt;

use super::decode::{AmoOp, Insn, X0_SINK};

const ABI: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2",
    "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

/// ABI name of register `r` ([`X0_SINK`] is `zero`).
pub fn reg_name(r: u8) -> &'static str {
    if r == X0_SINK {
        "zero"
    } else {
        ABI[(r & 31) as usize]
    }
}

/// Name of CSR `csr`, if it is one the hart implements by name.
pub fn csr_name(csr: u16) -> Option<&'static str> {
    Some(match csr {
        0x100 => "sstatus",
        0x104 => "sie",
        0x105 => "stvec",
        0x106 => "scounteren",
        0x10a => "senvcfg",
        0x140 => "sscratch",
        0x141 => "sepc",
        0x142 => "scause",
        0x143 => "stval",
        0x144 => "sip",
        0x180 => "satp",
        0x300 => "mstatus",
        0x301 => "misa",
        0x302 => "medeleg",
        0x303 => "mideleg",
        0x304 => "mie",
        0x305 => "mtvec",
        0x306 => "mcounteren",
        0x30a => "menvcfg",
        0x310 => "mstatush",
        0x31a => "menvcfgh",
        0x320 => "mcountinhibit",
        0x340 => "mscratch",
        0x341 => "mepc",
        0x342 => "mcause",
        0x343 => "mtval",
        0x344 => "mip",
        0xb00 => "mcycle",
        0xb02 => "minstret",
        0xb80 => "mcycleh",
        0xb82 => "minstreth",
        0xc00 => "cycle",
        0xc01 => "time",
        0xc02 => "instret",
        0xc80 => "cycleh",
        0xc81 => "timeh",
        0xc82 => "instreth",
        0xf11 => "mvendorid",
        0xf12 => "marchid",
        0xf13 => "mimpid",
        0xf14 => "mhartid",
        0xf15 => "mconfigptr",
        _ => return None,
    })
}

struct Csr(u16);

impl fmt::Display for Csr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match csr_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

fn fence_set(f: &mut fmt::Formatter, bits: u8) -> fmt::Result {
    for (bit, c) in [(8, 'i'), (4, 'o'), (2, 'r'), (1, 'w')] {
        if bits & bit != 0 {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

fn suffix(aqrl: u8) -> &'static str {
    match aqrl & 3 {
        0 => "",
        1 => ".rl",
        2 => ".aq",
        _ => ".aqrl",
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let r = reg_name;
        macro_rules! i {
            ($m:expr, $rd:expr, $rs1:expr, $imm:expr) => {
                write!(f, "{} {}, {}, {}", $m, r($rd), r($rs1), $imm)
            };
        }
        macro_rules! rr {
            ($m:expr, $rd:expr, $rs1:expr, $rs2:expr) => {
                write!(f, "{} {}, {}, {}", $m, r($rd), r($rs1), r($rs2))
            };
        }
        macro_rules! mem {
            ($m:expr, $rd:expr, $rs1:expr, $imm:expr) => {
                write!(f, "{} {}, {}({})", $m, r($rd), $imm, r($rs1))
            };
        }
        match *self {
            Insn::Lui { rd, imm } => write!(f, "lui {}, {:#x}", r(rd), imm >> 12),
            Insn::Auipc { rd, imm } => write!(f, "auipc {}, {:#x}", r(rd), imm >> 12),
            Insn::Jal { rd, imm } => write!(f, "jal {}, {imm:+}", r(rd)),
            Insn::Jalr { rd, rs1, imm } => mem!("jalr", rd, rs1, imm),
            Insn::Beq { rs1, rs2, imm } => i!("beq", rs1, rs2, format_args!("{imm:+}")),
            Insn::Bne { rs1, rs2, imm } => i!("bne", rs1, rs2, format_args!("{imm:+}")),
            Insn::Blt { rs1, rs2, imm } => i!("blt", rs1, rs2, format_args!("{imm:+}")),
            Insn::Bge { rs1, rs2, imm } => i!("bge", rs1, rs2, format_args!("{imm:+}")),
            Insn::Bltu { rs1, rs2, imm } => i!("bltu", rs1, rs2, format_args!("{imm:+}")),
            Insn::Bgeu { rs1, rs2, imm } => i!("bgeu", rs1, rs2, format_args!("{imm:+}")),
            Insn::Lb { rd, rs1, imm } => mem!("lb", rd, rs1, imm),
            Insn::Lh { rd, rs1, imm } => mem!("lh", rd, rs1, imm),
            Insn::Lw { rd, rs1, imm } => mem!("lw", rd, rs1, imm),
            Insn::Lbu { rd, rs1, imm } => mem!("lbu", rd, rs1, imm),
            Insn::Lhu { rd, rs1, imm } => mem!("lhu", rd, rs1, imm),
            Insn::Sb { rs1, rs2, imm } => mem!("sb", rs2, rs1, imm),
            Insn::Sh { rs1, rs2, imm } => mem!("sh", rs2, rs1, imm),
            Insn::Sw { rs1, rs2, imm } => mem!("sw", rs2, rs1, imm),
            Insn::Addi { rd, rs1, imm } => i!("addi", rd, rs1, imm),
            Insn::Slti { rd, rs1, imm } => i!("slti", rd, rs1, imm),
            Insn::Sltiu { rd, rs1, imm } => i!("sltiu", rd, rs1, imm),
            Insn::Xori { rd, rs1, imm } => i!("xori", rd, rs1, imm),
            Insn::Ori { rd, rs1, imm } => i!("ori", rd, rs1, imm),
            Insn::Andi { rd, rs1, imm } => i!("andi", rd, rs1, imm),
            Insn::Slli { rd, rs1, shamt } => i!("slli", rd, rs1, shamt),
            Insn::Srli { rd, rs1, shamt } => i!("srli", rd, rs1, shamt),
            Insn::Srai { rd, rs1, shamt } => i!("srai", rd, rs1, shamt),
            Insn::Add { rd, rs1, rs2 } => rr!("add", rd, rs1, rs2),
            Insn::Sub { rd, rs1, rs2 } => rr!("sub", rd, rs1, rs2),
            Insn::Sll { rd, rs1, rs2 } => rr!("sll", rd, rs1, rs2),
            Insn::Slt { rd, rs1, rs2 } => rr!("slt", rd, rs1, rs2),
            Insn::Sltu { rd, rs1, rs2 } => rr!("sltu", rd, rs1, rs2),
            Insn::Xor { rd, rs1, rs2 } => rr!("xor", rd, rs1, rs2),
            Insn::Srl { rd, rs1, rs2 } => rr!("srl", rd, rs1, rs2),
            Insn::Sra { rd, rs1, rs2 } => rr!("sra", rd, rs1, rs2),
            Insn::Or { rd, rs1, rs2 } => rr!("or", rd, rs1, rs2),
            Insn::And { rd, rs1, rs2 } => rr!("and", rd, rs1, rs2),
            Insn::Mul { rd, rs1, rs2 } => rr!("mul", rd, rs1, rs2),
            Insn::Mulh { rd, rs1, rs2 } => rr!("mulh", rd, rs1, rs2),
            Insn::Mulhsu { rd, rs1, rs2 } => rr!("mulhsu", rd, rs1, rs2),
            Insn::Mulhu { rd, rs1, rs2 } => rr!("mulhu", rd, rs1, rs2),
            Insn::Div { rd, rs1, rs2 } => rr!("div", rd, rs1, rs2),
            Insn::Divu { rd, rs1, rs2 } => rr!("divu", rd, rs1, rs2),
            Insn::Rem { rd, rs1, rs2 } => rr!("rem", rd, rs1, rs2),
            Insn::Remu { rd, rs1, rs2 } => rr!("remu", rd, rs1, rs2),
            Insn::LrW { rd, rs1, aqrl } => write!(f, "lr.w{} {}, ({})", suffix(aqrl), r(rd), r(rs1)),
            Insn::ScW { rd, rs1, rs2, aqrl } => write!(f, "sc.w{} {}, {}, ({})", suffix(aqrl), r(rd), r(rs2), r(rs1)),
            Insn::Amo { op, rd, rs1, rs2, aqrl } => {
                let m = match op {
                    AmoOp::Swap => "amoswap",
                    AmoOp::Add => "amoadd",
                    AmoOp::Xor => "amoxor",
                    AmoOp::And => "amoand",
                    AmoOp::Or => "amoor",
                    AmoOp::Min => "amomin",
                    AmoOp::Max => "amomax",
                    AmoOp::Minu => "amominu",
                    AmoOp::Maxu => "amomaxu",
                };
                write!(f, "{m}.w{} {}, {}, ({})", suffix(aqrl), r(rd), r(rs2), r(rs1))
            }
            Insn::Fence { tso: true, .. } => f.write_str("fence.tso"),
            Insn::Fence { pred, succ, .. } => {
                f.write_str("fence ")?;
                fence_set(f, pred)?;
                f.write_str(", ")?;
                fence_set(f, succ)
            }
            Insn::FenceI => f.write_str("fence.i"),
            Insn::Ecall => f.write_str("ecall"),
            Insn::Ebreak => f.write_str("ebreak"),
            Insn::Mret => f.write_str("mret"),
            Insn::Sret => f.write_str("sret"),
            Insn::Wfi => f.write_str("wfi"),
            Insn::SfenceVma { rs1, rs2 } => write!(f, "sfence.vma {}, {}", r(rs1), r(rs2)),
            Insn::Csrrw { rd, rs1, csr } => write!(f, "csrrw {}, {}, {}", r(rd), Csr(csr), r(rs1)),
            Insn::Csrrs { rd, rs1, csr } => write!(f, "csrrs {}, {}, {}", r(rd), Csr(csr), r(rs1)),
            Insn::Csrrc { rd, rs1, csr } => write!(f, "csrrc {}, {}, {}", r(rd), Csr(csr), r(rs1)),
            Insn::Csrrwi { rd, uimm, csr } => write!(f, "csrrwi {}, {}, {uimm}", r(rd), Csr(csr)),
            Insn::Csrrsi { rd, uimm, csr } => write!(f, "csrrsi {}, {}, {uimm}", r(rd), Csr(csr)),
            Insn::Csrrci { rd, uimm, csr } => write!(f, "csrrci {}, {}, {uimm}", r(rd), Csr(csr)),
            Insn::Illegal { word } => write!(f, ".word {word:#010x}"),
            Insn::Undecoded => f.write_str("<undecoded>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode::decode;

    #[test]
    fn disassembles() {
        let cases: [(u32, &str); 12] = [
            (0xfff1_0093, "addi ra, sp, -1"),
            (0xfe51_2e23, "sw t0, -4(sp)"),
            (0xfe00_0ce3, "beq zero, zero, -8"),
            (0x8000_0537, "lui a0, 0x80000"),
            (0x0eb6_252f, "amoswap.w.aqrl a0, a1, (a2)"),
            (0x1005_a52f, "lr.w a0, (a1)"),
            (0x3402_9073, "csrrw zero, mscratch, t0"),
            (0x3020_0073, "mret"),
            (0x0ff0_000f, "fence iorw, iorw"),
            (0x0000_0000, ".word 0x00000000"),
            (0x0000_8067, "jalr zero, 0(ra)"),
            (0x02c5_8533, "mul a0, a1, a2"),
        ];
        for (w, s) in cases {
            assert_eq!(decode(w).to_string(), s, "{w:08x}");
        }
    }
}
