//! AMOs and LR/SC: precise faults, retries, reservations across harts, misalignment.

use super::asm::*;
use super::{Machine, CODE, MTVEC, PTE_A, PTE_D, PTE_R, PTE_U, PTE_W, PTE_X};
use crate::cpu::decode::AmoOp;
use crate::cpu::{HartConfig, MisalignedAmo, Priv};

const DATA_VA: u32 = 0x4000_0000;
const DATA_PA: u64 = 0x8004_0000;

const OPS: [(u32, AmoOp); 9] = [
    (0x01, AmoOp::Swap),
    (0x00, AmoOp::Add),
    (0x04, AmoOp::Xor),
    (0x0c, AmoOp::And),
    (0x08, AmoOp::Or),
    (0x10, AmoOp::Min),
    (0x14, AmoOp::Max),
    (0x18, AmoOp::Minu),
    (0x1c, AmoOp::Maxu),
];

/// Code identity-mapped, DATA_VA read-only (and accessed, not dirty); hart 0 on Sv32.
fn paged(user: bool) -> Machine {
    let mut m = Machine::new(1);
    let u = if user { PTE_U } else { 0 };
    m.map(CODE, u64::from(CODE), PTE_R | PTE_X | PTE_A | u);
    m.map(DATA_VA, DATA_PA, PTE_R | PTE_A | u);
    m.enable_sv32(0);
    m
}

fn make_writable(m: &mut Machine) {
    let a = m.pte_addr(DATA_VA);
    m.w32(a, m.r32(a) | PTE_W);
}

#[test]
fn amo_and_sc_on_read_only_page_fault_precisely_then_retry() {
    let (old, src) = (0x8000_0005u32, 0x13u32);
    for p in [Priv::S, Priv::U] {
        // (program, steps, expected rd, expected memory) per case; rd == rs2 == t0. sfence.vma
        // is for S-mode only (U-mode relies on the TLB never caching a failed translation).
        let fence = if p == Priv::S { sfence_vma(0, 0) } else { NOP };
        let mut cases: Vec<(Vec<u32>, usize, u32, u32)> =
            OPS.iter().map(|&(f5, op)| (vec![fence, amo(f5, T0, T1, T0)], 2, old, op.apply(old, src))).collect();
        cases.push((vec![fence, lr(T2, T1), sc(T0, T1, T0)], 3, 0, src));
        for (prog, steps, want_rd, want_mem) in cases {
            let what = format!("{} in {p:?}", crate::cpu::decode(prog[steps - 1]));
            let mut m = paged(p == Priv::U);
            let (va, pa) = (DATA_VA + 0x10, DATA_PA + 0x10);
            m.w32(pa, old);
            m.load(CODE, &prog);
            let attempt = |m: &mut Machine| {
                m.harts[0].set_privilege(p);
                m.harts[0].set_pc(CODE);
                m.set_reg(0, T0, src);
                m.set_reg(0, T1, va);
                m.steps(0, steps);
            };
            attempt(&mut m);
            let fault_pc = CODE + 4 * (steps as u32 - 1);
            assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 15, va), "{what}");
            assert_eq!(m.csr(0, 0x341), fault_pc, "{what}");
            assert_eq!((m.reg(0, T0), m.r32(pa)), (src, old), "{what}: rd and memory unchanged");
            assert_eq!(m.r32(m.pte_addr(DATA_VA)) & PTE_D, 0, "{what}: no D bit on a fault");
            make_writable(&mut m);
            attempt(&mut m);
            assert_eq!(m.harts[0].pc(), fault_pc + 4, "{what}: retired");
            assert_eq!((m.reg(0, T0), m.r32(pa)), (want_rd, want_mem), "{what}: retry");
            assert_ne!(m.r32(m.pte_addr(DATA_VA)) & PTE_D, 0, "{what}: D set");
        }
    }
}

#[test]
fn faulting_loads_leave_rd_unchanged() {
    let mut m = paged(false);
    m.map(0x5000_0000, 0x8005_0000, PTE_R | PTE_A | PTE_U);
    m.map(0x6000_0000, 0x1000_0000, PTE_R | PTE_A); // no device there
                                                    // unmapped, user page from S without SUM, and an access fault
    for (va, cause) in [(0x4100_0000u32, 13), (0x5000_0000, 13), (0x6000_0000, 5)] {
        m.load(CODE, &[lw(T0, T1, 0)]);
        m.harts[0].set_privilege(Priv::S);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, T0, 0x5555);
        m.set_reg(0, T1, va);
        m.step(0);
        assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343), m.reg(0, T0)), (MTVEC, cause, va, 0x5555));
    }
}

#[test]
fn every_load_with_rd_eq_rs1_faults_precisely_then_retries() {
    // (funct3, value loaded from the word 0x8081_82f3 at offset 0x20)
    let loads = [(0, 0xffff_fff3u32), (1, 0xffff_82f3), (2, 0x8081_82f3), (4, 0xf3), (5, 0x82f3)];
    for (f3, want) in loads {
        let load = i(0x20, T1, f3, T1, 0x03); // rd == rs1 == t1
        let what = crate::cpu::decode(load).to_string();
        let mut m = Machine::new(1);
        m.map(CODE, u64::from(CODE), PTE_R | PTE_X | PTE_A);
        m.map(DATA_VA, DATA_PA, PTE_X | PTE_A); // execute-only: loads fault (no MXR)
        m.enable_sv32(0);
        m.w32(DATA_PA + 0x20, 0x8081_82f3);
        m.load(CODE, &[sfence_vma(0, 0), load]);
        let attempt = |m: &mut Machine| {
            m.harts[0].set_privilege(Priv::S);
            m.harts[0].set_pc(CODE);
            m.set_reg(0, T1, DATA_VA);
            m.steps(0, 2);
        };
        attempt(&mut m);
        assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 13, DATA_VA + 0x20), "{what}");
        assert_eq!((m.csr(0, 0x341), m.reg(0, T1)), (CODE + 4, DATA_VA), "{what}: rd (= rs1) unchanged");
        let a = m.pte_addr(DATA_VA);
        m.w32(a, m.r32(a) | PTE_R);
        attempt(&mut m);
        assert_eq!((m.harts[0].pc(), m.reg(0, T1)), (CODE + 8, want), "{what}: retry");
    }
}

#[test]
fn lr_sc_reservations_across_harts() {
    let mut m = Machine::new(2);
    let addr = 0x8004_0000u32;
    // hart 0: lr t2; sc t0 (rd == rs2). hart 1: sw t2 to t1.
    m.load(CODE, &[lr(T2, T1), sc(T0, T1, T0)]);
    m.load(CODE + 0x800, &[sw(T2, T1, 0)]);
    let sc_only = |m: &mut Machine| {
        m.harts[0].set_pc(CODE + 4);
        m.set_reg(0, T0, 0xaaaa);
        m.set_reg(0, T1, addr);
        m.step(0);
        m.reg(0, T0)
    };
    let lr_ = |m: &mut Machine| {
        m.harts[0].set_pc(CODE);
        m.set_reg(0, T1, addr);
        m.step(0);
    };
    let other_store = |m: &mut Machine, at: u32| {
        m.harts[1].set_pc(CODE + 0x800);
        m.set_reg(1, T1, at);
        m.set_reg(1, T2, 0xbbbb);
        m.step(1);
        assert_eq!(m.harts[1].pc(), CODE + 0x804);
    };
    m.w32(u64::from(addr), 1);
    assert_eq!(sc_only(&mut m), 1, "no reservation");
    assert_eq!(m.r32(u64::from(addr)), 1);
    lr_(&mut m);
    assert_eq!(m.reg(0, T2), 1);
    assert_eq!(sc_only(&mut m), 0, "after lr");
    assert_eq!(m.r32(u64::from(addr)), 0xaaaa);
    assert_eq!(sc_only(&mut m), 1, "sc consumed the reservation");
    lr_(&mut m);
    m.harts[0].set_pc(CODE + 4);
    m.set_reg(0, T1, addr + 4);
    m.step(0);
    assert_eq!(m.reg(0, T0), 1, "sc to another address than the lr, same granule");
    lr_(&mut m);
    other_store(&mut m, addr + 4);
    assert_eq!(sc_only(&mut m), 1, "another hart stored to the granule");
    assert_eq!(m.r32(u64::from(addr)), 0xaaaa);
    lr_(&mut m);
    other_store(&mut m, addr + 0x100);
    assert_eq!(sc_only(&mut m), 0, "another hart stored elsewhere in the page");
    lr_(&mut m);
    other_store(&mut m, addr + 0x2000);
    assert_eq!(sc_only(&mut m), 0, "another hart stored in another page");
    lr_(&mut m);
    m.w32(u64::from(addr) + 8, 7); // a device
    assert_eq!(sc_only(&mut m), 1, "a device wrote to the page");
    // a trap between lr and sc drops the reservation
    lr_(&mut m);
    m.harts[0].set_pc(0x1000); // fetch access fault
    m.step(0);
    assert_eq!(m.csr(0, 0x342), 1);
    assert_eq!(sc_only(&mut m), 1, "trap dropped the reservation");
}

#[test]
fn misaligned_atomics() {
    let mut m = Machine::new(1);
    let addr = 0x8004_0002u32;
    for (w, cause) in [(amo(0, T0, T1, T2), 6), (lr(T0, T1), 4), (sc(T0, T1, T2), 6)] {
        m.load(CODE, &[w]);
        m.harts[0].set_pc(CODE);
        m.set_reg(0, T0, 9);
        m.set_reg(0, T1, addr);
        m.step(0);
        assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343), m.reg(0, T0)), (MTVEC, cause, addr, 9));
    }
    // emulated: AMOs work, even across a page boundary; LR/SC still trap
    let cfg = HartConfig { misaligned_amo: MisalignedAmo::Emulate, ..Default::default() };
    let mut m = Machine::with_config(1, cfg);
    let addr = 0x8004_0ffeu32;
    m.load(CODE, &[amo(0, T0, T1, T2), lr(T0, T1)]);
    m.w32(0x8004_0ffc, 0x2222_1111);
    m.w32(0x8004_1000, 0x4444_3333);
    m.set_reg(0, T1, addr);
    m.set_reg(0, T2, 1);
    m.step(0);
    assert_eq!((m.reg(0, T0), m.r32(0x8004_0ffc), m.r32(0x8004_1000)), (0x3333_2222, 0x2223_1111, 0x4444_3333));
    m.step(0);
    assert_eq!(m.csr(0, 0x342), 4);
}

#[test]
fn amo_outside_ram_is_an_access_fault() {
    let mut m = Machine::new(1);
    m.load(CODE, &[amo(0, T0, T1, T2)]);
    m.set_reg(0, T1, 0x1000_0000);
    m.step(0);
    assert_eq!((m.csr(0, 0x342), m.csr(0, 0x343)), (7, 0x1000_0000));
}
