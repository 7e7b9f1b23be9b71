//! A tiny assembler for tests: one function per instruction, returning the word.

#![allow(dead_code)]

pub const ZERO: u32 = 0;
pub const RA: u32 = 1;
pub const SP: u32 = 2;
pub const T0: u32 = 5;
pub const T1: u32 = 6;
pub const T2: u32 = 7;
pub const A0: u32 = 10;
pub const A1: u32 = 11;
pub const A2: u32 = 12;
pub const A3: u32 = 13;
pub const A6: u32 = 16;
pub const A7: u32 = 17;

pub fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
pub fn i(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (imm as u32 & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op
}
pub fn s(imm: i32, rs2: u32, rs1: u32, f3: u32, op: u32) -> u32 {
    let imm = imm as u32;
    (imm >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1f) << 7 | op
}
pub fn b(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (imm >> 12 & 1) << 31
        | (imm >> 5 & 0x3f) << 25
        | rs2 << 20
        | rs1 << 15
        | f3 << 12
        | (imm >> 1 & 0xf) << 8
        | (imm >> 11 & 1) << 7
        | 0x63
}
pub fn jal(rd: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (imm >> 20 & 1) << 31 | (imm >> 1 & 0x3ff) << 21 | (imm >> 11 & 1) << 20 | (imm >> 12 & 0xff) << 12 | rd << 7 | 0x6f
}
pub fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x67)
}
pub fn lui(rd: u32, imm: u32) -> u32 {
    (imm & 0xffff_f000) | rd << 7 | 0x37
}
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 0, rd, 0x13)
}
pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(0, rs2, rs1, 0, rd, 0x33)
}
pub fn mul(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 0, rd, 0x33)
}
pub fn div(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 4, rd, 0x33)
}
pub fn divu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 5, rd, 0x33)
}
pub fn rem(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 6, rd, 0x33)
}
pub fn remu(rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(1, rs2, rs1, 7, rd, 0x33)
}
pub fn bne(rs1: u32, rs2: u32, imm: i32) -> u32 {
    b(imm, rs2, rs1, 1)
}
pub fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 2, rd, 0x03)
}
pub fn lbu(rd: u32, rs1: u32, imm: i32) -> u32 {
    i(imm, rs1, 4, rd, 0x03)
}
pub fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 2, 0x23)
}
pub fn sb(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s(imm, rs2, rs1, 0, 0x23)
}
/// An AMO with funct5 `f5`.
pub fn amo(f5: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    r(f5 << 2, rs2, rs1, 2, rd, 0x2f)
}
pub fn lr(rd: u32, rs1: u32) -> u32 {
    amo(0x02, rd, rs1, 0)
}
pub fn sc(rd: u32, rs1: u32, rs2: u32) -> u32 {
    amo(0x03, rd, rs1, rs2)
}
pub fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | 1 << 12 | rd << 7 | 0x73
}
pub fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x73
}
pub fn csrrc(rd: u32, csr: u32, rs1: u32) -> u32 {
    csr << 20 | rs1 << 15 | 3 << 12 | rd << 7 | 0x73
}
pub fn csrrsi(rd: u32, csr: u32, uimm: u32) -> u32 {
    csr << 20 | uimm << 15 | 6 << 12 | rd << 7 | 0x73
}
pub const ECALL: u32 = 0x0000_0073;
pub const EBREAK: u32 = 0x0010_0073;
pub const MRET: u32 = 0x3020_0073;
pub const SRET: u32 = 0x1020_0073;
pub const WFI: u32 = 0x1050_0073;
pub const FENCE_I: u32 = 0x0000_100f;
pub const NOP: u32 = 0x0000_0013;
pub fn sfence_vma(rs1: u32, rs2: u32) -> u32 {
    0x09 << 25 | rs2 << 20 | rs1 << 15 | 0x73
}
/// `j .` (jump to itself).
pub const SPIN: u32 = 0x0000_006f;

/// `li rd, v` as lui + addi.
pub fn li(rd: u32, v: u32) -> [u32; 2] {
    let lo = ((v & 0xfff) as i32) << 20 >> 20;
    let hi = v.wrapping_sub(lo as u32);
    [lui(rd, hi), addi(rd, rd, lo)]
}

/// Flattens instruction groups into one program.
pub fn prog(parts: &[&[u32]]) -> Vec<u32> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn encodings_round_trip_through_the_decoder() {
    use crate::cpu::decode::{decode, Insn};
    assert_eq!(decode(sw(T0, SP, -4)), Insn::Sw { rs1: 2, rs2: 5, imm: -4 });
    assert_eq!(decode(jal(RA, -4)), Insn::Jal { rd: 1, imm: -4 });
    assert_eq!(decode(b(-8, 0, 0, 0)), Insn::Beq { rs1: 0, rs2: 0, imm: -8 });
    assert_eq!(decode(b(0xffe, 2, 1, 1)), Insn::Bne { rs1: 1, rs2: 2, imm: 0xffe });
    for v in [0, 1, 0x7ff, 0x800, 0xfff, 0x8000_0000, 0xffff_ffff, 0x1234_5678] {
        let [a, b] = li(A0, v);
        let (Insn::Lui { imm: hi, .. }, Insn::Addi { imm: lo, .. }) = (decode(a), decode(b)) else { panic!() };
        assert_eq!(hi.wrapping_add(lo as u32), v);
    }
}

/// An SBI call: a7 = eid, a6 = fid, a0.. = args, ecall.
pub fn sbi(eid: u32, fid: u32, args: &[u32]) -> Vec<u32> {
    let mut v = Vec::new();
    v.extend(li(A7, eid));
    v.extend(li(A6, fid));
    for (i, &a) in args.iter().enumerate() {
        v.extend(li(A0 + i as u32, a));
    }
    v.push(ECALL);
    v
}

/// Stores a0 and a1 at `addr` and `addr + 4` (uses t0).
pub fn save_a0_a1(addr: u32) -> Vec<u32> {
    let mut v = li(T0, addr).to_vec();
    v.push(sw(A0, T0, 0));
    v.push(sw(A1, T0, 4));
    v
}
