//! Sv32: A/D bits, SUM, MXR, MPRV, superpages, page-crossing accesses, the TLB and sfence.vma.

use super::asm::*;
use super::{Machine, CODE, MTVEC, PTE_A, PTE_D, PTE_R, PTE_U, PTE_W, PTE_X};
use crate::cpu::Priv;

fn with_code(user: bool) -> Machine {
    let mut m = Machine::new(1);
    m.map(CODE, u64::from(CODE), PTE_R | PTE_X | PTE_A | if user { PTE_U } else { 0 });
    m.enable_sv32(0);
    m
}

/// Runs `w` at CODE in privilege `p` with t1 = `va`; returns the cause (None: retired).
fn exec(m: &mut Machine, p: Priv, w: u32, va: u32) -> Option<u32> {
    m.load(CODE, &[w]);
    m.harts[0].set_privilege(p);
    m.harts[0].set_pc(CODE);
    m.set_reg(0, T1, va);
    m.step(0);
    if m.harts[0].pc() == MTVEC {
        assert_eq!(m.csr(0, 0x343), va, "tval");
        Some(m.csr(0, 0x342))
    } else {
        None
    }
}

#[test]
fn accessed_and_dirty_bits() {
    let mut m = with_code(false);
    let va = 0x4000_0000;
    m.map(va, 0x8004_0000, PTE_R | PTE_W);
    let pte = m.pte_addr(va);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), va), None);
    assert_eq!(m.r32(pte) & (PTE_A | PTE_D), PTE_A, "a load sets A only");
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), va), None);
    assert_eq!(m.r32(pte) & (PTE_A | PTE_D), PTE_A | PTE_D, "a store sets D");
    assert_ne!(m.r32(m.pte_addr(CODE)) & PTE_A, 0, "fetch set A on the code page");
    // a fault sets nothing
    let ro = 0x4000_1000;
    m.map(ro, 0x8004_1000, PTE_R);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), ro), Some(15));
    assert_eq!(m.r32(m.pte_addr(ro)) & (PTE_A | PTE_D), 0);
}

#[test]
fn sum_and_mxr() {
    let mut m = with_code(false);
    let (user, xonly) = (0x4000_0000, 0x4000_1000);
    m.map(user, 0x8004_0000, PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
    m.map(xonly, 0x8004_1000, PTE_X | PTE_A);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), user), Some(13), "S reads U page without SUM");
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), user), Some(15));
    m.harts[0].set_csr(0x100, 1 << 18); // SUM
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), user), None, "with SUM");
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), user), None);
    // clearing SUM by an instruction (no debugger flush) takes the access away, though the page
    // was just in the TLB with it; setting it again gives it back
    let csr_op = |m: &mut Machine, w: u32| {
        m.set_reg(0, T2, 1 << 18);
        m.load(CODE, &[w]);
        m.harts[0].set_privilege(Priv::S);
        m.harts[0].set_pc(CODE);
        m.step(0);
        m.csr(0, 0x100) & 1 << 18
    };
    assert_eq!(csr_op(&mut m, csrrc(ZERO, 0x100, T2)), 0);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), user), Some(13), "SUM cleared: load faults");
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), user), Some(15), "SUM cleared: store faults");
    assert_eq!(csr_op(&mut m, csrrs(ZERO, 0x100, T2)), 1 << 18);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), user), None, "SUM set again");
    // S never executes U pages
    m.load(0x8004_0000, &[NOP]);
    m.load(CODE, &[jalr(ZERO, T1, 0)]);
    m.harts[0].set_pc(CODE);
    m.set_reg(0, T1, user);
    m.step(0);
    m.step(0);
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 12, user));
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), xonly), Some(13), "execute-only without MXR");
    m.harts[0].set_csr(0x100, 1 << 19); // MXR
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), xonly), None, "with MXR");
    m.harts[0].set_csr(0x100, 0);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), xonly), Some(13), "MXR cleared again");
}

#[test]
fn user_mode_cannot_use_supervisor_pages() {
    let mut m = with_code(true);
    m.map(0x4000_0000, 0x8004_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    assert_eq!(exec(&mut m, Priv::U, lw(T0, T1, 0), 0x4000_0000), Some(13));
}

#[test]
fn superpages() {
    let mut m = with_code(false);
    m.map_super(0xc000_0000, 0x8000_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    m.w32(0x8004_0010, 0x1234_5678);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0xc004_0010), None);
    assert_eq!(m.reg(0, T0), 0x1234_5678);
    // a superpage whose PPN[0] is not zero is misaligned: page fault
    m.map_super(0xc040_0000, 0x8000_1000, PTE_R | PTE_A);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0xc040_0000), Some(13));
    // a level-0 non-leaf PTE is a page fault; W without R is reserved
    m.map(0x4000_0000, 0x8004_0000, PTE_W | PTE_A);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0x4000_0000), Some(13));
    m.map(0x4000_0000, 0x8004_0000, PTE_A);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0x4000_0000), Some(13));
}

#[test]
fn page_crossing_store_is_all_or_nothing() {
    let mut m = with_code(false);
    m.map(0x4000_0000, 0x8004_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    m.map(0x4000_1000, 0x8004_5000, PTE_R | PTE_A); // read-only second page, not contiguous
    m.w32(0x8004_0ffc, 0x1111_1111);
    m.w32(0x8004_5000, 0x2222_2222);
    m.set_reg(0, T0, 0xaabb_ccdd);
    m.load(CODE, &[sw(T0, T1, 0)]);
    m.harts[0].set_privilege(Priv::S);
    m.harts[0].set_pc(CODE);
    m.set_reg(0, T1, 0x4000_0ffe);
    m.step(0);
    // tval is the address in the faulting page, so the OS fixes the right page
    assert_eq!((m.harts[0].pc(), m.csr(0, 0x342), m.csr(0, 0x343)), (MTVEC, 15, 0x4000_1000));
    assert_eq!((m.r32(0x8004_0ffc), m.r32(0x8004_5000)), (0x1111_1111, 0x2222_2222), "nothing written");
    // loads cross pages fine; after making page 2 writable the store does too
    m.set_reg(0, T0, 0);
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0x4000_0ffe), None);
    assert_eq!(m.reg(0, T0), 0x2222_1111);
    let a = m.pte_addr(0x4000_1000);
    m.w32(a, m.r32(a) | PTE_W);
    m.set_reg(0, T0, 0xaabb_ccdd);
    assert_eq!(exec(&mut m, Priv::S, sfence_vma(0, 0), 0), None);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), 0x4000_0ffe), None);
    assert_eq!((m.r32(0x8004_0ffc), m.r32(0x8004_5000)), (0xccdd_1111, 0x2222_aabb));
}

#[test]
fn tlb_holds_translations_until_sfence_vma() {
    let mut m = with_code(false);
    let va = 0x4000_0000;
    m.map(va, 0x8004_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), va), None);
    let a = m.pte_addr(va);
    m.w32(a, m.r32(a) & !PTE_W);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), va), None, "stale entry still used");
    assert_eq!(exec(&mut m, Priv::S, sfence_vma(T1, 0), va), None);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), va), Some(15), "gone after sfence.vma va");
}

#[test]
fn sfence_vma_of_one_address_drops_its_whole_superpage() {
    let mut m = with_code(false);
    // a 4 KiB-mapped page in another region, cached first
    let small = 0x4000_0000;
    m.map(small, 0x8004_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), small), None);
    m.map_super(0xc000_0000, 0x8000_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    for round in 0..2 {
        m.map_super(0xc000_0000, 0x8000_0000, PTE_R | PTE_W | PTE_A | PTE_D);
        // two pages of the superpage in the TLB
        assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), 0xc004_0000), None);
        assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), 0xc005_3000), None);
        // read-only now; flushing one address of it must drop the other page's entry too
        m.map_super(0xc000_0000, 0x8000_0000, PTE_R | PTE_A);
        assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), 0xc005_3000), None, "round {round}: stale entry still used");
        assert_eq!(exec(&mut m, Priv::S, sfence_vma(T1, 0), 0xc004_0000), None);
        assert_eq!(
            exec(&mut m, Priv::S, sw(T0, T1, 0), 0xc005_3000),
            Some(15),
            "round {round}: whole superpage flushed"
        );
    }
    // a single-page flush elsewhere leaves the 4 KiB page's own entry alone
    let a = m.pte_addr(small);
    m.w32(a, m.r32(a) & !PTE_W);
    assert_eq!(exec(&mut m, Priv::S, sfence_vma(T1, 0), 0xc004_0000), None);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), small), None, "other regions keep their entries");
    assert_eq!(exec(&mut m, Priv::S, sfence_vma(T1, 0), small), None);
    assert_eq!(exec(&mut m, Priv::S, sw(T0, T1, 0), small), Some(15));
}

#[test]
fn sfence_vma_privilege() {
    let mut m = with_code(true);
    let w = sfence_vma(0, 0);
    assert_eq!(exec(&mut m, Priv::U, w, w), Some(2), "illegal in U-mode");
    m.harts[0].set_csr(0x300, 1 << 20); // TVM
    m.harts[0].set_csr(0x100, 1 << 18); // SUM (S may not execute U pages anyway)
    m.map(CODE, u64::from(CODE), PTE_R | PTE_X | PTE_A);
    assert_eq!(exec(&mut m, Priv::S, w, w), Some(2), "illegal in S-mode with TVM");
}

#[test]
fn mprv_translates_m_mode_data_accesses() {
    let mut m = with_code(false);
    m.map(0x4000_0000, 0x8004_0000, PTE_R | PTE_W | PTE_A | PTE_D);
    m.w32(0x8004_0000, 42);
    // MPRV with MPP=S: loads translate, fetches do not
    m.harts[0].set_csr(0x300, 1 << 17 | 1 << 11);
    assert_eq!(exec(&mut m, Priv::M, lw(T0, T1, 0), 0x4000_0000), None);
    assert_eq!(m.reg(0, T0), 42);
    m.harts[0].set_csr(0x300, 0);
    assert_eq!(exec(&mut m, Priv::M, lw(T0, T1, 0), 0x4000_0000), Some(5), "no translation in M: not RAM");
}

#[test]
fn the_debugger_sees_user_pages_from_the_kernel_without_side_effects() {
    let mut m = with_code(false);
    m.map(0x4000_0000, 0x8004_0000, PTE_R | PTE_W | PTE_U); // user page, A clear
    m.map(0x4000_1000, 0x8004_1000, PTE_X | PTE_A); // execute-only kernel page
    m.harts[0].set_privilege(Priv::S); // SUM clear: a load would fault on the user page
    let h = &m.harts[0];
    assert_eq!(h.debug_translate(&m.sys.ram, 0x4000_0010), Some(0x8004_0010));
    assert_eq!(h.debug_translate(&m.sys.ram, 0x4000_1ffc), Some(0x8004_1ffc));
    assert_eq!(h.debug_translate(&m.sys.ram, 0x4000_2000), None, "not mapped");
    assert_eq!(m.r32(m.pte_addr(0x4000_0000)) & PTE_A, 0, "no A bit set by a debugger's look");
    // and the hart itself still faults there
    assert_eq!(exec(&mut m, Priv::S, lw(T0, T1, 0), 0x4000_0010), Some(13));
}
