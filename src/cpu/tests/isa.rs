//! Instruction semantics, CSR access rules, traps, delegation and interrupts.

use semu_api::{MIP_MEIP, MIP_MTIP, MIP_SEIP, MIP_SSIP, MIP_STIP};

use super::asm::*;
use super::{Machine, CODE, MTVEC, STVEC};
use crate::cpu::{Priv, SliceExit};

type Encoder = fn(u32, u32, u32) -> u32;

#[test]
fn signed_division_edge_cases() {
    let mut m = Machine::new(1);
    let cases: [(Encoder, u32, u32, u32); 12] = [
        (div, 7, 0, u32::MAX),
        (divu, 7, 0, u32::MAX),
        (rem, 7, 0, 7),
        (remu, 7, 0, 7),
        (div, 0x8000_0000, u32::MAX, 0x8000_0000),
        (rem, 0x8000_0000, u32::MAX, 0),
        (div, (-7i32) as u32, 2, (-3i32) as u32),
        (rem, (-7i32) as u32, 2, (-1i32) as u32),
        (divu, 0x8000_0000, u32::MAX, 0),
        (remu, 0x8000_0000, u32::MAX, 0x8000_0000),
        (mul, 0xffff_ffff, 0xffff_ffff, 1),
        (rem, 7, (-3i32) as u32, 1),
    ];
    for (f, a, b, want) in cases {
        m.load(CODE, &[f(A0, A1, A2)]);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, A1, a);
        m.set_reg(0, A2, b);
        m.step(0);
        assert_eq!(m.reg(0, A0), want, "{:?} {a:#x} {b:#x}", crate::cpu::decode(f(A0, A1, A2)));
    }
    // mulh, mulhsu, mulhu
    for (f3, a, b, want) in
        [(1, u32::MAX, u32::MAX, 0), (2, u32::MAX, u32::MAX, u32::MAX), (3, u32::MAX, u32::MAX, 0xffff_fffe)]
    {
        m.load(CODE, &[r(1, A2, A1, f3, A0, 0x33)]);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, A1, a);
        m.set_reg(0, A2, b);
        m.step(0);
        assert_eq!(m.reg(0, A0), want, "funct3 {f3}");
    }
}

#[test]
fn illegal_encodings_trap_with_the_word() {
    let mut m = Machine::new(1);
    for w in [0x0000_0000, 0xffff_ffff, 0x0000_4501, 0x0000_8082, 0x0020_f053, 0x0000_2007, 0x3000_4073] {
        m.load(CODE, &[w]);
        m.harts[0].set_pc(CODE);
        m.step(0);
        assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 2, w), "{w:08x}");
        assert_eq!(m.csr(0, 0x341), CODE);
    }
}

#[test]
fn disabled_extensions_are_illegal() {
    let cfg = crate::cpu::HartConfig {
        ext_m: false,
        ext_a: false,
        ext_zifencei: false,
        ext_zicntr: false,
        ..Default::default()
    };
    let mut m = Machine::with_config(1, cfg);
    m.harts[0].set_csr(0x306, 7); // mcounteren: the counters would be open to S
    let fence_i = 0x0000_100f;
    for w in [mul(A0, A1, A2), lr(A0, A1), amo(0, A0, A1, A2), fence_i, csrrs(A0, 0xc00, ZERO), csrrs(A0, 0xc81, ZERO)]
    {
        m.load(CODE, &[w]);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, A0, 5);
        m.step(0);
        assert_eq!((m.csr(0, 0x342), m.csr(0, 0x343), m.reg(0, A0)), (2, w, 5));
    }
    assert_eq!(m.csr(0, 0x301) & (1 << 12 | 1), 0, "misa shows neither M nor A");
}

#[test]
fn csr_faults_leave_rd_unchanged() {
    let mut m = Machine::new(1);
    let cases: [(Priv, u32); 6] = [
        (Priv::U, csrrw(T0, 0x300, T1)),   // mstatus from U
        (Priv::S, csrrs(T0, 0x340, ZERO)), // mscratch from S
        (Priv::M, csrrw(T0, 0xc00, T1)),   // write to read-only cycle
        (Priv::M, csrrs(T0, 0x7c0, ZERO)), // nonexistent
        (Priv::S, csrrs(T0, 0xc00, ZERO)), // cycle with mcounteren = 0
        (Priv::M, csrrsi(T0, 0xf14, 1)),   // set bits in read-only mhartid
    ];
    for (p, w) in cases {
        m.load(CODE, &[w]);
        m.harts[0].set_privilege(p);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, T0, 0xdead);
        m.set_reg(0, T1, 0x1888);
        m.step(0);
        assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 2, w), "{w:08x} in {p:?}");
        assert_eq!(m.reg(0, T0), 0xdead, "rd unchanged");
        assert_eq!(m.csr(0, 0x300) & 0x1800, (p as u32) << 11, "MPP");
    }
    // allowed: mcounteren opens cycle to S; csrrs with x0 reads read-only registers
    m.harts[0].set_csr(0x306, 1);
    for (p, w) in [(Priv::S, csrrs(T0, 0xc00, ZERO)), (Priv::M, csrrs(T0, 0xf14, ZERO))] {
        m.load(CODE, &[w]);
        m.harts[0].set_privilege(p);
        m.harts[0].set_pc(CODE);
        m.step(0);
        assert_eq!(m.harts[0].pc(), CODE + 4, "{w:08x}");
    }
    // satp with TVM from S
    m.harts[0].set_csr(0x300, 1 << 20);
    m.load(CODE, &[csrrs(T0, 0x180, ZERO)]);
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!(m.csr(0, 0x342), 2);
}

#[test]
fn csr_instructions_with_rd_eq_rs1_fault_precisely_then_retry() {
    // (instruction with rd == rs1 == t0, CSR, its value, t0, privilege that faults, one that may,
    // CSR and t0 after the retry)
    let cases = [
        (csrrw(T0, 0x340, T0), 0x340, 0x1111u32, 0x2222u32, Priv::S, Priv::M, 0x2222u32, 0x1111u32),
        (csrrs(T0, 0x340, T0), 0x340, 0x00f0, 0x0f00, Priv::U, Priv::M, 0x0ff0, 0x00f0),
        (csrrc(T0, 0x140, T0), 0x140, 0x00ff, 0x000f, Priv::U, Priv::S, 0x00f0, 0x00ff),
    ];
    for (w, csr, value, t0, bad, good, want_csr, want_t0) in cases {
        let what = crate::cpu::decode(w).to_string();
        let mut m = Machine::new(1);
        m.load(CODE, &[w]);
        for p in [bad, good] {
            m.harts[0].set_csr(csr, value);
            m.harts[0].set_privilege(p);
            m.harts[0].set_pc(CODE);
            m.set_reg(0, T0, t0);
            m.step(0);
            if p == bad {
                assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 2, w), "{what} in {p:?}");
                assert_eq!((m.reg(0, T0), m.csr(0, csr)), (t0, value), "{what} in {p:?}: rd and CSR unchanged");
            } else {
                assert_eq!(m.harts[0].pc(), CODE + 4, "{what} in {p:?}");
                assert_eq!((m.reg(0, T0), m.csr(0, csr)), (want_t0, want_csr), "{what} in {p:?}: retry");
            }
        }
    }
}

#[test]
fn csr_views_and_warl() {
    let mut m = Machine::new(1);
    let h = &mut m.harts[0];
    h.set_csr(0x300, u32::MAX);
    assert_eq!(h.csr(0x300), Some(0x007e_19aa), "mstatus writable bits (MPP=3)");
    assert_eq!(h.csr(0x100), Some(0x000c_0122), "sstatus view");
    h.set_csr(0x300, 2 << 11);
    assert_eq!(h.csr(0x300).unwrap() >> 11 & 3, 3, "MPP=2 is not kept");
    h.set_csr(0x303, u32::MAX);
    assert_eq!(h.csr(0x303), Some(MIP_SSIP | MIP_STIP | MIP_SEIP));
    h.set_csr(0x304, u32::MAX);
    h.set_csr(0x303, MIP_SSIP);
    assert_eq!(h.csr(0x104), Some(MIP_SSIP), "sie shows delegated bits only");
    h.set_csr(0x104, 0);
    assert_eq!(h.csr(0x304), Some(0xaa8), "sie write cleared only SSIE");
    h.set_csr(0x344, u32::MAX);
    assert_eq!(h.csr(0x344), Some(MIP_SSIP | MIP_STIP | MIP_SEIP), "mip writable bits");
    assert_eq!(h.csr(0x144), Some(MIP_SSIP));
    h.set_csr(0x302, u32::MAX);
    assert_eq!(h.csr(0x302), Some(0xb3ff), "medeleg cannot delegate ecall from M");
    h.set_csr(0x305, 0x8000_0103);
    assert_eq!(h.csr(0x305), Some(0x8000_0101), "mtvec mode 3 is not kept");
    h.set_csr(0x341, 0x8000_0003);
    assert_eq!(h.csr(0x341), Some(0x8000_0000), "mepc is 4-byte aligned");
    h.set_csr(0x180, u32::MAX);
    assert_eq!(h.csr(0x180), Some(0x803f_ffff), "no ASID bits");
    assert_eq!(h.csr(0x301), Some(0x4014_1101), "misa RV32IMASU");
}

#[test]
fn exceptions_delegate_to_s_mode() {
    let mut m = Machine::new(1);
    m.harts[0].set_csr(0x302, 1 << 2 | 1 << 8);
    m.load(CODE, &[0, ECALL]);
    // illegal instruction in S-mode goes to S
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE);
    m.harts[0].set_csr(0x100, 1 << 1); // SIE
    m.step(0);
    let h = &m.harts[0];
    assert_eq!(
        (h.pc(), h.privilege(), m.csr(0, 0x142), m.csr(0, 0x141), m.csr(0, 0x143)),
        (STVEC, Priv::S, 2, CODE, 0)
    );
    let st = m.csr(0, 0x100);
    assert_eq!((st >> 8 & 1, st >> 5 & 1, st >> 1 & 1), (1, 1, 0), "SPP=S, SPIE=old SIE, SIE=0");
    // ecall from U delegated too; ecall from S is not
    m.harts[0].set_privilege(Priv::U);
    m.harts[0].set_pc(CODE + 4);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x142), m.csr(0, 0x100) >> 8 & 1), (STVEC, 8, 0));
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE + 4);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.harts[0].privilege(), m.csr(0, 0x342)), (MTVEC, Priv::M, 9));
    // delegation never applies to traps taken in M-mode
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342)), (MTVEC, 2));
}

#[test]
fn mret_and_sret_restore_state() {
    let mut m = Machine::new(1);
    m.load(CODE, &[MRET]);
    m.load(CODE + 0x100, &[SRET]);
    let h = &mut m.harts[0];
    h.set_csr(0x300, 1 << 11 | 1 << 7 | 1 << 17); // MPP=S, MPIE, MPRV
    h.set_csr(0x341, CODE + 0x100);
    m.step(0);
    let st = m.csr(0, 0x300);
    assert_eq!((m.harts[0].pc(), m.harts[0].privilege()), (CODE + 0x100, Priv::S));
    assert_eq!((st >> 3 & 1, st >> 7 & 1, st >> 11 & 3, st >> 17 & 1), (1, 1, 0, 0), "MIE=1 MPIE=1 MPP=U MPRV=0");
    m.harts[0].set_csr(0x141, CODE + 0x200);
    m.harts[0].set_csr(0x100, 1 << 5); // SPIE, SPP=U
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.harts[0].privilege(), m.csr(0, 0x100) & 0x122), (CODE + 0x200, Priv::U, 0x22));
    // sret from U and mret from S are illegal; sret with TSR from S too
    m.load(CODE + 0x200, &[SRET]);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 2, SRET));
    m.harts[0].set_csr(0x300, 1 << 22);
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE + 0x100);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342)), (MTVEC, 2));
}

#[test]
fn interrupts_priority_enables_and_vectoring() {
    let mut m = Machine::new(1);
    m.load(CODE, &[NOP, NOP, NOP]);
    for v in [MTVEC + 28, MTVEC + 44, STVEC + 4] {
        m.load(v, &[SPIN]);
    }
    let lines = m.sys.hart_lines.clone();
    let h = &mut m.harts[0];
    h.set_csr(0x305, MTVEC | 1); // vectored
    h.set_csr(0x304, MIP_MEIP | MIP_MTIP | MIP_SSIP);
    lines.set(0, MIP_MTIP | MIP_MEIP, true);
    // M-mode with MIE=0: nothing
    m.step(0);
    assert_eq!(m.harts[0].pc(), CODE + 4);
    m.harts[0].set_csr(0x300, 1 << 3);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342)), (MTVEC + 4 * 11, 0x8000_000b), "MEI first");
    assert_eq!(m.csr(0, 0x341), CODE + 4, "mepc: the next instruction");
    lines.set(0, MIP_MEIP, false);
    // in S-mode M interrupts are enabled regardless of MIE
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342)), (MTVEC + 4 * 7, 0x8000_0007));
    lines.set(0, MIP_MTIP, false);
    // a delegated SSIP is not taken in M-mode, taken in S-mode only with SIE, always in U-mode
    m.harts[0].set_csr(0x303, MIP_SSIP);
    m.harts[0].set_csr(0x344, MIP_SSIP);
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!(m.harts[0].pc(), CODE + 4);
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_csr(0x300, 0);
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!(m.harts[0].pc(), CODE + 4, "SIE=0 in S");
    m.harts[0].set_privilege(Priv::U);
    m.harts[0].set_csr(0x105, STVEC | 1);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x142), m.harts[0].privilege()), (STVEC + 4, 0x8000_0001, Priv::S));
}

#[test]
fn csr_write_that_unmasks_takes_the_interrupt_next() {
    let mut m = Machine::new(1);
    m.load(CODE, &[csrrsi(ZERO, 0x300, 8), NOP]);
    m.harts[0].set_csr(0x304, MIP_SSIP);
    m.harts[0].set_csr(0x344, MIP_SSIP);
    m.run(0, 2);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x341)), (MTVEC, CODE + 4), "taken right after the csrrsi");
}

#[test]
fn wfi_waits_and_wakes_on_pending_interrupt() {
    let mut m = Machine::new(1);
    m.load(CODE, &[WFI, NOP]);
    assert_eq!(m.run(0, 10), SliceExit::Wfi);
    assert_eq!(m.harts[0].pc(), CODE + 4);
    assert!(m.harts[0].is_waiting());
    m.harts[0].set_csr(0x304, MIP_MTIP);
    m.sys.hart_lines.set(0, MIP_MTIP, true);
    assert!(m.harts[0].wakeup_pending(m.sys.hart_lines.get(0)), "mip & mie wakes even with MIE=0");
    // with an interrupt pending wfi does not wait
    m.harts[0].set_pc(CODE);
    assert_eq!(m.run(0, 2), SliceExit::Budget);
    // wfi in U-mode is illegal
    m.sys.hart_lines.set(0, MIP_MTIP, false);
    m.harts[0].set_privilege(Priv::U);
    m.harts[0].set_pc(CODE);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342)), (MTVEC, 2));
}

#[test]
fn misaligned_jump_traps_at_the_jump() {
    let mut m = Machine::new(1);
    m.load(CODE, &[jalr(RA, A0, 2)]);
    m.set_reg(0, A0, CODE + 0x100);
    m.set_reg(0, RA, 77);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343), m.reg(0, RA)), (MTVEC, 0, CODE + 0x102, 77));
}

#[test]
fn stores_to_code_invalidate_decoded_instructions() {
    let mut m = Machine::new(1);
    // sw a1, 8(a0); fence.i; <addi a2, zero, 1> becomes addi a2, zero, 2
    m.load(CODE, &[sw(A1, A0, 8), FENCE_I, addi(A2, ZERO, 1), SPIN]);
    m.set_reg(0, A0, CODE);
    m.set_reg(0, A1, addi(A2, ZERO, 1));
    m.run(0, 10); // decode everything once
    assert_eq!(m.reg(0, A2), 1);
    m.harts[0].set_pc(CODE);
    m.set_reg(0, A1, addi(A2, ZERO, 2));
    m.run(0, 3);
    assert_eq!(m.reg(0, A2), 2, "the hart's own store");
    // a device (DMA) write
    m.load(CODE + 8, &[addi(A2, ZERO, 3)]);
    m.harts[0].set_pc(CODE + 8);
    m.step(0);
    assert_eq!(m.reg(0, A2), 3, "a device write");
}

#[test]
fn counters_count() {
    let mut m = Machine::new(1);
    m.load(
        CODE,
        &[NOP, NOP, csrrs(A0, 0xc02, ZERO), csrrs(A1, 0xb00, ZERO), csrrw(ZERO, 0xb02, A2), csrrs(A3, 0xc02, ZERO)],
    );
    m.set_reg(0, A2, 1000);
    m.run(0, 6);
    assert_eq!((m.reg(0, A0), m.reg(0, A1), m.reg(0, A3)), (2, 3, 1000));
    assert_eq!(m.harts[0].instret(), 1001);
}

#[test]
fn decode_cache_reset_keeps_running_correctly() {
    // three pages of code chained by jumps, with room for two decoded pages only
    let mut m = Machine::new(1);
    m.sh.set_max_blocks(2);
    let pages = [CODE, CODE + 0x1000, CODE + 0x2000];
    for (i, &p) in pages.iter().enumerate() {
        let next = pages[(i + 1) % 3];
        m.load(p, &[addi(A0, A0, 1), jal(ZERO, next.wrapping_sub(p + 4) as i32)]);
    }
    let epoch = m.sh.epoch;
    m.run(0, 3000);
    assert_eq!(m.reg(0, A0), 1500);
    assert!(m.sh.decoded_pages() <= 2);
    assert_ne!(m.sh.epoch, epoch, "the cache was reset");
}

#[test]
fn counter_wrap_and_instret_time_within_a_slice() {
    let mut m = Machine::new(1);
    // minstret(h) = all ones, then retire more: wraps, never panics
    m.load(
        CODE,
        &[
            csrrw(ZERO, 0xb02, A2),
            csrrw(ZERO, 0xb82, A2),
            csrrs(A0, 0xc01, ZERO),
            NOP,
            NOP,
            NOP,
            csrrs(A1, 0xc01, ZERO),
            SPIN,
        ],
    );
    m.set_reg(0, A2, u32::MAX);
    m.run(0, 10);
    assert!(m.harts[0].instret() < 10, "wrapped: {}", m.harts[0].instret());
    // the instret clock (1 instruction per tick) moves inside one slice
    assert_eq!(m.reg(0, A1).wrapping_sub(m.reg(0, A0)), 4);
}
