//! The target GDB sees: RV32 integer registers and pc (`org.gnu.gdb.riscv.cpu`), the CSRs the
//! hart implements (`org.gnu.gdb.riscv.csr`) and the privilege level (`priv`,
//! `org.gnu.gdb.riscv.virtual`). Register numbers follow GDB's RISC-V numbering: x0..x31 are
//! 0..31, pc 32, CSR `n` is `65 + n` and `priv` 4161.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

use gdbstub::arch::Arch;
use gdbstub_arch::riscv::reg::RiscvCoreRegs;

/// GDB's number of the first CSR.
const FIRST_CSR: usize = 65;
/// GDB's number of the virtual `priv` register.
const PRIV: usize = 4161;

/// The CSRs described to GDB: the ones the hart implements, by GDB's names.
pub const CSRS: &[(&str, u16)] = &[
    ("sstatus", 0x100),
    ("sie", 0x104),
    ("stvec", 0x105),
    ("scounteren", 0x106),
    ("sscratch", 0x140),
    ("sepc", 0x141),
    ("scause", 0x142),
    ("stval", 0x143),
    ("sip", 0x144),
    ("satp", 0x180),
    ("mstatus", 0x300),
    ("misa", 0x301),
    ("medeleg", 0x302),
    ("mideleg", 0x303),
    ("mie", 0x304),
    ("mtvec", 0x305),
    ("mcounteren", 0x306),
    ("mscratch", 0x340),
    ("mepc", 0x341),
    ("mcause", 0x342),
    ("mtval", 0x343),
    ("mip", 0x344),
    ("mcycle", 0xb00),
    ("minstret", 0xb02),
    ("mcycleh", 0xb80),
    ("minstreth", 0xb82),
    ("cycle", 0xc00),
    ("time", 0xc01),
    ("instret", 0xc02),
    ("cycleh", 0xc80),
    ("timeh", 0xc81),
    ("instreth", 0xc82),
    ("mvendorid", 0xf11),
    ("marchid", 0xf12),
    ("mimpid", 0xf13),
    ("mhartid", 0xf14),
];

const GPR_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2",
    "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

/// semu's RV32 target for `gdbstub`.
pub enum Rv32 {}

impl Arch for Rv32 {
    type Usize = u32;
    type Registers = RiscvCoreRegs<u32>;
    type BreakpointKind = usize;
    type RegId = RegId;

    fn target_description_xml() -> Option<&'static str> {
        static XML: OnceLock<String> = OnceLock::new();
        Some(XML.get_or_init(target_xml))
    }
}

/// One register GDB may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegId {
    /// `x0`..`x31`.
    Gpr(u8),
    /// The program counter.
    Pc,
    /// A CSR by number.
    Csr(u16),
    /// The privilege level (0 U, 1 S, 3 M).
    Priv,
}

impl gdbstub::arch::RegId for RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let reg = match id {
            0..=31 => RegId::Gpr(id as u8),
            32 => RegId::Pc,
            FIRST_CSR..=4160 => RegId::Csr((id - FIRST_CSR) as u16),
            PRIV => RegId::Priv,
            _ => return None,
        };
        Some((reg, NonZeroUsize::new(4)))
    }

    fn to_raw_id(&self) -> Option<usize> {
        Some(match *self {
            RegId::Gpr(i) => usize::from(i),
            RegId::Pc => 32,
            RegId::Csr(n) => FIRST_CSR + usize::from(n),
            RegId::Priv => PRIV,
        })
    }
}

/// The target description: one document, every feature inline.
fn target_xml() -> String {
    use std::fmt::Write;
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n\
         <architecture>riscv:rv32</architecture>\n<feature name=\"org.gnu.gdb.riscv.cpu\">\n",
    );
    for (i, name) in GPR_NAMES.iter().enumerate() {
        let ty = match i {
            1 => "code_ptr",
            2 | 3 | 4 | 8 => "data_ptr",
            _ => "int",
        };
        let _ = writeln!(s, "  <reg name=\"{name}\" bitsize=\"32\" type=\"{ty}\" regnum=\"{i}\"/>");
    }
    s.push_str("  <reg name=\"pc\" bitsize=\"32\" type=\"code_ptr\" regnum=\"32\"/>\n</feature>\n");
    s.push_str("<feature name=\"org.gnu.gdb.riscv.csr\">\n");
    for (name, n) in CSRS {
        let _ = writeln!(
            s,
            "  <reg name=\"{name}\" bitsize=\"32\" type=\"int\" regnum=\"{}\" group=\"csr\"/>",
            FIRST_CSR + usize::from(*n)
        );
    }
    s.push_str("</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n");
    let _ = writeln!(s, "  <reg name=\"priv\" bitsize=\"32\" type=\"int\" regnum=\"{PRIV}\" group=\"system\"/>");
    s.push_str("</feature>\n</target>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdbstub::arch::RegId as _;

    #[test]
    fn register_numbers_round_trip() {
        for id in [0, 5, 31, 32, FIRST_CSR, FIRST_CSR + 0x180, 4160, PRIV] {
            let (reg, size) = RegId::from_raw_id(id).unwrap();
            assert_eq!(reg.to_raw_id(), Some(id));
            assert_eq!(size.map(NonZeroUsize::get), Some(4));
        }
        assert!(RegId::from_raw_id(33).is_none(), "no floating-point registers");
        assert!(RegId::from_raw_id(PRIV + 1).is_none());
        assert_eq!(RegId::from_raw_id(FIRST_CSR + 0x300).unwrap().0, RegId::Csr(0x300));
    }

    #[test]
    fn target_description_lists_the_csrs_and_priv() {
        let xml = Rv32::target_description_xml().unwrap();
        assert!(xml.contains("<architecture>riscv:rv32</architecture>"));
        assert!(xml.contains("<reg name=\"satp\" bitsize=\"32\" type=\"int\" regnum=\"449\""));
        assert!(xml.contains("<reg name=\"priv\" bitsize=\"32\" type=\"int\" regnum=\"4161\""));
        assert_eq!(xml.matches("<reg ").count(), 33 + CSRS.len() + 1);
    }
}
