//! The fast interpreter loop: runs the decode cache's [`Op`]s of one page at a time.
//!
//! Within a page the loop keeps the position as an index into the page's decoded block and never
//! looks at the fetch translation again: straight-line code runs into the next slot, branches and
//! jumps to the same page set the index (their target index was computed when the instruction was
//! decoded), and the [`K::PageEnd`] slot after a page's last instruction, jumps to other pages,
//! and everything else leave the page loop for the outer loop, which translates pc again.
//! Instructions the loop does not handle itself ([`K::Slow`]) go through the general `exec`.
//!
//! `instret` is kept in a local: at every instruction boundary it is `adj - left`, where `left`
//! is the budget left; it is written back to the hart before anything that may look at it (slow
//! instructions, MMIO accesses, traps) and read again afterwards.

use super::cache::insn_word;
use crate::bus::System;

use super::cache::Shared;
use super::decode::decode;
use super::exec::Stop;
use super::jit::{JitCtx, EXIT_COLD};
use super::mmu::{index, PAGE};
use super::op::{Op, K};
use super::trap::{Exception, Trap};
use super::{Hart, SliceExit};

/// A budget this small left when compiled code leaves is run out in the interpreter.
const TAIL: u64 = 64;
/// Instructions interpreted at a time after compiled code left at a cold op.
const COLD_CHUNK: u64 = 256;

/// Why the page loop stopped.
enum Ev {
    /// Continue at this pc (another page, or the same page through the fetch translation).
    Jump(u32),
    /// The instruction at this pc raised an exception (nothing was committed).
    Trap(u32, Exception),
    /// The instruction at this pc (this word) needs the general `exec`.
    Slow(u32, u32),
    /// The budget is used up; pc.
    Budget(u32),
}

#[inline(always)]
fn mask(n: usize) -> u32 {
    !0xfff | (n as u32 - 1)
}

impl Hart {
    /// Runs up to `budget` instructions (trap entries count too) as `slice_loop` does.
    pub(crate) fn fast_loop(&mut self, sys: &mut System, sh: &mut Shared, budget: u64) -> (u64, SliceExit) {
        let mut left = budget;
        let mut adj = self.instret.wrapping_add(budget);
        let mut pc = self.pc;
        // Takes exception `e` at `pc`, after the iteration was counted in `left`.
        macro_rules! trap {
            ($pc:expr, $e:expr) => {{
                adj = adj.wrapping_sub(1);
                self.instret = adj.wrapping_sub(left);
                self.pc = $pc;
                if let Some(exit) = self.take(Trap::Exception($e), sh) {
                    return (budget - left, exit);
                }
                pc = self.pc;
            }};
        }
        loop {
            if left == 0 {
                self.pc = pc;
                self.instret = adj.wrapping_sub(left);
                return (budget, SliceExit::Budget);
            }
            if pc & (!0xfff | 3) != self.mmu.fetch_tag {
                if let Err(e) = self.fetch_miss(&mut sys.ram, sh, pc) {
                    left -= 1;
                    trap!(pc, e);
                    continue;
                }
            }
            self.counters.fetch_lookups += 1;
            let block = self.mmu.fetch_block;
            let ev = if let Some(f) = sh.jit.entry(block) {
                let set = &self.mmu.sets[self.mmu.data_set];
                let mut cx = JitCtx {
                    regs: self.regs.as_mut_ptr(),
                    ram: sys.ram.untracked_mut().as_mut_ptr(),
                    rtlb: set.r.as_ptr(),
                    wtlb: set.w.as_ptr(),
                    watch: sys.ram.watch_ptr(),
                    left,
                    accesses: 0,
                };
                // SAFETY: `f` is the compiled code of the page the fetch translation holds,
                // compiled from its current slots (any change drops it). It reads and writes
                // only the register array, the TLB set and watch bytes (read), and RAM through
                // TLB hits, which lie in this RAM (the TLB invariant; `slice_loop` flushed
                // entries of other RAM); nothing else holds a reference to those meanwhile.
                let r = unsafe { f(&mut cx, pc) };
                self.counters.compiled_instructions += left - cx.left;
                left = cx.left;
                self.counters.data_accesses += cx.accesses;
                pc = r as u32;
                if r >> 32 == 0 || left == 0 {
                    continue;
                }
                if r & EXIT_COLD != 0 {
                    // code the page had not run when it was compiled: a stretch of it
                    // interpreted; once that adds up, the page is compiled again, whole
                    let (ev, ran) = self.page_loop_at_most(sys, sh, pc, &mut left, adj, COLD_CHUNK);
                    if sh.jit.cold(block, ran) {
                        sh.compile(&mut sys.ram, block, self.cfg.ext_m);
                    }
                    ev
                } else if left < TAIL {
                    // compiled code leaves before a straight stretch the budget does not cover:
                    // the last few instructions of the slice are interpreted
                    self.page_loop(sys, sh, pc, &mut left, adj)
                } else {
                    // the instruction at pc needs the interpreter: run just that one, then go back
                    self.page_loop_at_most(sys, sh, pc, &mut left, adj, 1).0
                }
            } else {
                let before = left;
                let ev = self.page_loop(sys, sh, pc, &mut left, adj);
                if sh.jit.heat(block, before - left) {
                    sh.compile(&mut sys.ram, block, self.cfg.ext_m);
                }
                ev
            };
            match ev {
                Ev::Jump(t) => pc = t,
                Ev::Budget(p) => pc = p,
                Ev::Trap(p, e) => trap!(p, e),
                Ev::Slow(p, word) => {
                    self.pc = p;
                    self.instret = adj.wrapping_sub(left).wrapping_sub(1);
                    match self.exec(decode(word), sys, sh) {
                        Ok(()) => self.instret = self.instret.wrapping_add(1),
                        Err(Stop::Recheck) => {
                            self.instret = self.instret.wrapping_add(1);
                            if let Some(exit) = self.check_interrupts(sys, sh) {
                                return (budget - left, exit);
                            }
                        }
                        Err(Stop::Wfi) => {
                            self.retire_wfi();
                            return (budget - left, SliceExit::Wfi);
                        }
                        Err(Stop::Trap(e)) => {
                            if let Some(exit) = self.take(Trap::Exception(e), sh) {
                                return (budget - left, exit);
                            }
                        }
                    }
                    adj = self.instret.wrapping_add(left);
                    pc = self.pc;
                }
            }
        }
    }

    /// [`page_loop`](Self::page_loop) for at most `n` of the `left` instructions; also returns
    /// how many it ran.
    fn page_loop_at_most(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        pc: u32,
        left: &mut u64,
        adj: u64,
        n: u64,
    ) -> (Ev, u64) {
        let n = n.min(*left);
        let mut sub = n;
        // (instret is `adj - left`: the same count with the smaller budget)
        let ev = self.page_loop(sys, sh, pc, &mut sub, adj.wrapping_sub(*left).wrapping_add(n));
        *left -= n - sub;
        (ev, n - sub)
    }

    /// Runs the decoded instructions of the page the fetch translation holds, from `pc`, until
    /// something leaves the page or needs the outer loop.
    #[inline(always)]
    #[allow(clippy::int_plus_one)] // `off + $n <= len` reads as the bounds it checks
    fn page_loop(&mut self, sys: &mut System, sh: &mut Shared, pc: u32, left: &mut u64, adj: u64) -> Ev {
        let ops: *const Op = sh.block_ptr(self.mmu.fetch_block);
        let base = pc & !0xfff;
        let mut idx = ((pc >> 2) & 1023) as usize;
        let set = self.mmu.data_set;
        let mut n = *left;
        // loads and stores run (written back to the counters when the loop ends)
        let mut accesses = 0u64;
        macro_rules! pc {
            () => {
                // (idx is 1024 when the budget ends after a page's last instruction)
                base.wrapping_add((idx << 2) as u32)
            };
        }
        macro_rules! x {
            ($r:expr) => {
                self.regs[$r as usize]
            };
        }
        // instret before the current instruction (whose iteration `n` already counts)
        macro_rules! sync_instret {
            () => {
                self.instret = adj.wrapping_sub(n).wrapping_sub(1)
            };
        }
        macro_rules! jump {
            ($t:expr) => {{
                let t: u32 = $t;
                if t & 3 != 0 {
                    break Ev::Trap(pc!(), Exception::InstructionMisaligned(t));
                }
                if t & !0xfff == base {
                    idx = ((t & 0xfff) >> 2) as usize;
                } else {
                    break Ev::Jump(t);
                }
            }};
        }
        macro_rules! branch {
            ($op:expr, $cond:expr) => {{
                #[allow(clippy::redundant_closure_call)]
                if $cond(x!($op.rs1), x!($op.rs2)) {
                    jump!(pc!().wrapping_add($op.imm))
                } else {
                    idx += 1;
                }
            }};
        }
        macro_rules! branch_local {
            ($op:expr, $cond:expr) => {{
                #[allow(clippy::redundant_closure_call)]
                if $cond(x!($op.rs1), x!($op.rs2)) {
                    idx = $op.imm as usize;
                } else {
                    idx += 1;
                }
            }};
        }
        macro_rules! alu {
            ($op:expr, $v:expr) => {{
                let v = $v;
                self.regs[$op.rd as usize] = v;
                idx += 1;
            }};
        }
        macro_rules! load {
            ($op:expr, $n:literal, $conv:expr) => {{
                accesses += 1;
                let va = x!($op.rs1).wrapping_add($op.imm);
                let e = self.mmu.sets[set].r[index(va)];
                let v = if e.tag == va & mask($n) {
                    let off = e.off(va);
                    debug_assert!(off + $n <= sys.ram.as_slice().len());
                    // SAFETY: a hit maps a page wholly in this RAM (the TLB entry invariant), and
                    // the tag test checked that the access stays in the page.
                    unsafe {
                        let p = sys.ram.as_slice().as_ptr().add(off);
                        match $n {
                            1 => u32::from(*p),
                            2 => u32::from(u16::from_le_bytes(p.cast::<[u8; 2]>().read())),
                            _ => u32::from_le_bytes(p.cast::<[u8; 4]>().read()),
                        }
                    }
                } else {
                    sync_instret!();
                    match self.load_slow(sys, sh, va, $n) {
                        Ok(v) => v,
                        Err(e) => break Ev::Trap(pc!(), e),
                    }
                };
                #[allow(clippy::redundant_closure_call)]
                let v = $conv(v);
                self.regs[$op.rd as usize] = v;
                idx += 1;
            }};
        }
        macro_rules! store {
            ($op:expr, $n:literal) => {{
                accesses += 1;
                let va = x!($op.rs1).wrapping_add($op.imm);
                let v = x!($op.rs2);
                let e = self.mmu.sets[set].w[index(va)];
                let mut done = false;
                if e.tag == va & mask($n) {
                    let off = e.off(va);
                    debug_assert!(off + $n <= sys.ram.as_slice().len());
                    // SAFETY: as for loads: the access lies in RAM.
                    unsafe {
                        if sys.ram.watched_unchecked(off) == 0 {
                            let p = sys.ram.untracked_mut().as_mut_ptr().add(off);
                            match $n {
                                1 => *p = v as u8,
                                2 => p.cast::<[u8; 2]>().write((v as u16).to_le_bytes()),
                                _ => p.cast::<[u8; 4]>().write(v.to_le_bytes()),
                            }
                            done = true;
                        }
                    }
                }
                if !done {
                    sync_instret!();
                    if let Err(e) = self.store_slow(sys, sh, va, $n, v) {
                        break Ev::Trap(pc!(), e);
                    }
                }
                idx += 1;
            }};
        }
        let ev = loop {
            if n == 0 {
                break Ev::Budget(pc!());
            }
            // SAFETY: idx <= 1024 < BLOCK_SLOTS: every slot but the last is an instruction, and
            // the last (PageEnd) leaves the loop; local targets are below 1024. The block stays
            // allocated: nothing in this loop calls `Shared::block_for`.
            let op = unsafe { *ops.add(idx) };
            n -= 1;
            match op.k {
                K::Undecoded => {
                    n += 1;
                    self.decode_fill(sys, sh, idx);
                }
                K::PageEnd => {
                    n += 1;
                    break Ev::Jump(base.wrapping_add(PAGE as u32));
                }
                K::Slow => break Ev::Slow(pc!(), op.imm),
                K::Lui => alu!(op, op.imm),
                K::Auipc => alu!(op, pc!().wrapping_add(op.imm)),
                K::Jal => {
                    let p = pc!();
                    let t = p.wrapping_add(op.imm);
                    if t & 3 != 0 {
                        break Ev::Trap(p, Exception::InstructionMisaligned(t));
                    }
                    self.regs[op.rd as usize] = p.wrapping_add(4);
                    break Ev::Jump(t);
                }
                K::JalL => {
                    self.regs[op.rd as usize] = pc!().wrapping_add(4);
                    idx = op.imm as usize;
                }
                K::Jalr => {
                    let t = x!(op.rs1).wrapping_add(op.imm) & !1;
                    let link = pc!().wrapping_add(4);
                    if t & 3 != 0 {
                        break Ev::Trap(pc!(), Exception::InstructionMisaligned(t));
                    }
                    self.regs[op.rd as usize] = link;
                    jump!(t);
                }
                K::Beq => branch!(op, |a, b| a == b),
                K::Bne => branch!(op, |a, b| a != b),
                K::Blt => branch!(op, |a: u32, b: u32| (a as i32) < (b as i32)),
                K::Bge => branch!(op, |a: u32, b: u32| (a as i32) >= (b as i32)),
                K::Bltu => branch!(op, |a, b| a < b),
                K::Bgeu => branch!(op, |a, b| a >= b),
                K::BeqL => branch_local!(op, |a, b| a == b),
                K::BneL => branch_local!(op, |a, b| a != b),
                K::BltL => branch_local!(op, |a: u32, b: u32| (a as i32) < (b as i32)),
                K::BgeL => branch_local!(op, |a: u32, b: u32| (a as i32) >= (b as i32)),
                K::BltuL => branch_local!(op, |a, b| a < b),
                K::BgeuL => branch_local!(op, |a, b| a >= b),
                K::Lb => load!(op, 1, |v: u32| v as u8 as i8 as u32),
                K::Lh => load!(op, 2, |v: u32| v as u16 as i16 as u32),
                K::Lw => load!(op, 4, |v: u32| v),
                K::Lbu => load!(op, 1, |v: u32| v),
                K::Lhu => load!(op, 2, |v: u32| v),
                K::Sb => store!(op, 1),
                K::Sh => store!(op, 2),
                K::Sw => store!(op, 4),
                K::Addi => alu!(op, x!(op.rs1).wrapping_add(op.imm)),
                K::Slti => alu!(op, u32::from((x!(op.rs1) as i32) < op.imm as i32)),
                K::Sltiu => alu!(op, u32::from(x!(op.rs1) < op.imm)),
                K::Xori => alu!(op, x!(op.rs1) ^ op.imm),
                K::Ori => alu!(op, x!(op.rs1) | op.imm),
                K::Andi => alu!(op, x!(op.rs1) & op.imm),
                K::Slli => alu!(op, x!(op.rs1) << (op.imm & 31)),
                K::Srli => alu!(op, x!(op.rs1) >> (op.imm & 31)),
                K::Srai => alu!(op, ((x!(op.rs1) as i32) >> (op.imm & 31)) as u32),
                K::Add => alu!(op, x!(op.rs1).wrapping_add(x!(op.rs2))),
                K::Sub => alu!(op, x!(op.rs1).wrapping_sub(x!(op.rs2))),
                K::Sll => alu!(op, x!(op.rs1) << (x!(op.rs2) & 31)),
                K::Slt => alu!(op, u32::from((x!(op.rs1) as i32) < (x!(op.rs2) as i32))),
                K::Sltu => alu!(op, u32::from(x!(op.rs1) < x!(op.rs2))),
                K::Xor => alu!(op, x!(op.rs1) ^ x!(op.rs2)),
                K::Srl => alu!(op, x!(op.rs1) >> (x!(op.rs2) & 31)),
                K::Sra => alu!(op, ((x!(op.rs1) as i32) >> (x!(op.rs2) & 31)) as u32),
                K::Or => alu!(op, x!(op.rs1) | x!(op.rs2)),
                K::And => alu!(op, x!(op.rs1) & x!(op.rs2)),
                K::Mul | K::Mulh | K::Mulhsu | K::Mulhu | K::Div | K::Divu | K::Rem | K::Remu if !self.cfg.ext_m => {
                    break Ev::Slow(pc!(), self.word_at(sys, pc!()));
                }
                K::Mul => alu!(op, x!(op.rs1).wrapping_mul(x!(op.rs2))),
                K::Mulh => alu!(op, ((i64::from(x!(op.rs1) as i32) * i64::from(x!(op.rs2) as i32)) >> 32) as u32),
                K::Mulhsu => alu!(op, ((i64::from(x!(op.rs1) as i32) * i64::from(x!(op.rs2))) >> 32) as u32),
                K::Mulhu => alu!(op, ((u64::from(x!(op.rs1)) * u64::from(x!(op.rs2))) >> 32) as u32),
                K::Div => {
                    let (a, b) = (x!(op.rs1) as i32, x!(op.rs2) as i32);
                    alu!(op, if b == 0 { u32::MAX } else { a.wrapping_div(b) as u32 })
                }
                K::Divu => {
                    let (a, b) = (x!(op.rs1), x!(op.rs2));
                    alu!(op, a.checked_div(b).unwrap_or(u32::MAX))
                }
                K::Rem => {
                    let (a, b) = (x!(op.rs1) as i32, x!(op.rs2) as i32);
                    alu!(op, if b == 0 { a as u32 } else { a.wrapping_rem(b) as u32 })
                }
                K::Remu => {
                    let (a, b) = (x!(op.rs1), x!(op.rs2));
                    alu!(op, a.checked_rem(b).unwrap_or(a))
                }
            }
        };
        *left = n;
        self.counters.data_accesses += accesses;
        ev
    }

    /// Decodes the instruction at index `idx` of the fetch page into the decode cache.
    #[cold]
    #[inline(never)]
    pub(crate) fn decode_fill(&mut self, sys: &mut System, sh: &mut Shared, idx: usize) {
        let off = self.mmu.fetch_off + idx * 4;
        let word = insn_word(&sys.ram, off);
        self.counters.decodes += 1;
        let op = Op::compile(decode(word), word, idx);
        sh.set_insn(&mut sys.ram, self.mmu.fetch_block, idx, op);
    }

    /// The instruction word at `pc` in the fetch page.
    #[cold]
    #[inline(never)]
    fn word_at(&self, sys: &System, pc: u32) -> u32 {
        let off = self.mmu.fetch_off + (pc & 0xfff) as usize;
        insn_word(&sys.ram, off)
    }
}
