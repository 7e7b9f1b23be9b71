//! Code generation for the compiling tier: one page of decoded ops becomes one Cranelift
//! function `(ctx, pc) -> kind | pc` (see the parent module for what it does and does not do).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    AbiParam, AliasRegionData, Block, BlockArg, InstBuilder, JumpTableData, MemFlagsData, Value,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

use super::{
    EXIT_COLD, EXIT_JUMP, EXIT_STEP, OFF_ACCESSES, OFF_LEFT, OFF_RAM, OFF_REGS, OFF_RTLB, OFF_WATCH, OFF_WTLB,
};
use crate::cpu::mmu::TLB_ENTRIES;
use crate::cpu::op::{Op, K};

/// Whether the compiled code runs `op` itself.
fn handled(op: Op, ext_m: bool) -> bool {
    match op.k {
        K::Undecoded | K::PageEnd | K::Slow => false,
        K::Mul | K::Mulh | K::Mulhsu | K::Mulhu | K::Div | K::Divu | K::Rem | K::Remu => ext_m,
        _ => true,
    }
}

/// For each of the first `n` ops: 0 if compiled code does not run it, else the number of ops
/// from it to the end of its straight stretch (the next control transfer, included, or the
/// last op before one it does not run or the page's end). An entry checks the budget for all
/// of them at once.
fn stretches(ops: &[Op], live: &[bool], n: usize, ext_m: bool) -> [u32; 1024] {
    let mut seg = [0u32; 1024];
    for i in (0..n).rev() {
        if !live[i] || !handled(ops[i], ext_m) {
            continue;
        }
        let transfer = matches!(
            ops[i].k,
            K::Jal
                | K::JalL
                | K::Jalr
                | K::Beq
                | K::Bne
                | K::Blt
                | K::Bge
                | K::Bltu
                | K::Bgeu
                | K::BeqL
                | K::BneL
                | K::BltL
                | K::BgeL
                | K::BltuL
                | K::BgeuL
        );
        seg[i] = if transfer || i + 1 >= n { 1 } else { 1 + seg[i + 1] };
    }
    seg
}

/// Emits the function of one page (see the module docs): the ops marked `live` (the rest leave
/// with [`EXIT_COLD`]).
pub(super) fn build(
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    isa: &OwnedTargetIsa,
    ops: &[Op],
    live: &[bool],
    ext_m: bool,
) {
    ctx.func.signature = {
        let mut s = cranelift_codegen::ir::Signature::new(isa.default_call_conv());
        s.params.push(AbiParam::new(I64));
        s.params.push(AbiParam::new(I32));
        s.returns.push(AbiParam::new(I64));
        s
    };
    let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
    let left = b.declare_var(I64);
    let acc = b.declare_var(I64);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let cx = b.block_params(entry)[0];
    let pc0 = b.block_params(entry)[1];
    // three disjoint kinds of memory, so register values survive RAM stores in alias analysis
    let mut region = |id: u32, what: &'static str| {
        let r = b.func.dfg.alias_regions.insert(AliasRegionData { user_id: id, description: what.into() });
        MemFlagsData::trusted().with_alias_region(Some(r))
    };
    let fctx_flags = region(1, "semu context and registers");
    let heap_flags = region(2, "guest RAM");
    let table_flags = region(3, "TLB and watch bytes");
    let load_ptr = |b: &mut FunctionBuilder, off| b.ins().load(I64, fctx_flags, cx, off);
    let regs = load_ptr(&mut b, OFF_REGS);
    let ram = load_ptr(&mut b, OFF_RAM);
    let rtlb = load_ptr(&mut b, OFF_RTLB);
    let wtlb = load_ptr(&mut b, OFF_WTLB);
    let watch = load_ptr(&mut b, OFF_WATCH);
    let l0 = b.ins().load(I64, fctx_flags, cx, OFF_LEFT);
    b.def_var(left, l0);
    let zero64 = b.ins().iconst(I64, 0);
    b.def_var(acc, zero64);
    let page_mask = b.ins().iconst(I32, 0xffff_f000);
    let base = b.ins().band(pc0, page_mask);

    let exit = b.create_block();
    b.append_block_param(exit, I64);
    let dispatch = b.create_block();
    b.append_block_param(dispatch, I32);
    b.ins().jump(dispatch, &[BlockArg::Value(pc0)]);

    let n = ops.len().min(1024);
    // Each handled op has an entry block (checks that the budget covers the straight stretch
    // from it to the next control transfer or unhandled op, else leaves to the interpreter) and
    // a body block; only the op before it in the same stretch falls into a body unchecked.
    let live: Vec<bool> = (0..n).map(|i| live.get(i).copied().unwrap_or(false)).collect();
    let seg = stretches(ops, &live, n, ext_m);
    let op_blocks: Vec<Option<Block>> = (0..1024).map(|i| (seg[i] > 0).then(|| b.create_block())).collect();
    let body_blocks: Vec<Option<Block>> = (0..1024).map(|i| (seg[i] > 0).then(|| b.create_block())).collect();
    let mut step_blocks: Vec<Option<Block>> = vec![None; 1024];
    let mut page_end: Option<Block> = None;

    let e = Emit {
        regs,
        ram,
        rtlb,
        wtlb,
        watch,
        base,
        exit,
        left,
        acc,
        reg: fctx_flags,
        heap: heap_flags,
        table: table_flags,
    };

    // dispatch: pc in this page -> its op, else leave
    b.switch_to_block(dispatch);
    let p = b.block_params(dispatch)[0];
    let pb = b.ins().band(p, page_mask);
    let inpage = b.ins().icmp(IntCC::Equal, pb, base);
    let table = b.create_block();
    let out = b.create_block();
    b.ins().brif(inpage, table, &[], out, &[]);
    b.switch_to_block(out);
    e.exit_with(&mut b, p, EXIT_JUMP);
    b.switch_to_block(table);
    let unhandled = b.create_block();
    let cold = b.create_block();
    let k = b.ins().iconst(I32, 0xfff);
    let off = b.ins().band(p, k);
    let idx = b.ins().ushr_imm_u(off, 2);
    let calls: Vec<_> = (0..1024)
        .map(|i| {
            let to = op_blocks[i].unwrap_or(if i < n && live[i] { unhandled } else { cold });
            b.func.dfg.block_call(to, &[])
        })
        .collect();
    let def = b.func.dfg.block_call(unhandled, &[]);
    let jt = b.create_jump_table(JumpTableData::new(def, &calls));
    b.ins().br_table(idx, jt);
    b.switch_to_block(unhandled);
    e.exit_with(&mut b, p, EXIT_STEP);
    b.switch_to_block(cold);
    e.exit_with(&mut b, p, EXIT_COLD);

    for i in 0..n {
        let (Some(blk), Some(body)) = (op_blocks[i], body_blocks[i]) else { continue };
        b.switch_to_block(blk);
        let op = ops[i];
        let stop = step_block(&mut b, &mut step_blocks, i);
        let l = b.use_var(left);
        let short = b.ins().icmp_imm_u(IntCC::UnsignedLessThan, l, i64::from(seg[i]));
        b.ins().brif(short, stop, &[], body, &[]);
        b.switch_to_block(body);
        let pc = e.pc(&mut b, i);
        // the op after a control transfer (its checked entry) and the next op of the stretch (its
        // body)
        let next = |b: &mut FunctionBuilder, sb: &mut Vec<Option<Block>>, pe: &mut Option<Block>, j: usize| {
            target_block(b, &op_blocks, sb, pe, j)
        };
        let fall = |b: &mut FunctionBuilder, sb: &mut Vec<Option<Block>>, pe: &mut Option<Block>, j: usize| {
            target_block(b, &body_blocks, sb, pe, j)
        };
        match op.k {
            K::Lui => {
                let v = k32(&mut b, op.imm);
                e.finish_alu(&mut b, op.rd, v);
                let nb = fall(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
            K::Auipc => {
                let v = add32(&mut b, pc, op.imm);
                e.finish_alu(&mut b, op.rd, v);
                let nb = fall(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
            K::JalL => {
                let link = add32(&mut b, pc, 4);
                e.finish_alu(&mut b, op.rd, link);
                let nb = next(&mut b, &mut step_blocks, &mut page_end, op.imm as usize);
                b.ins().jump(nb, &[]);
            }
            K::Jal => {
                let off = (4 * i as u32).wrapping_add(op.imm);
                if off & 3 != 0 {
                    b.ins().jump(stop, &[]);
                } else {
                    let link = add32(&mut b, pc, 4);
                    e.finish_alu(&mut b, op.rd, link);
                    let t = add32(&mut b, base, off);
                    e.exit_with(&mut b, t, EXIT_JUMP);
                }
            }
            K::Jalr => {
                let a = e.reg(&mut b, op.rs1);
                let t = add32(&mut b, a, op.imm);
                let t = b.ins().band_imm_s(t, -2);
                let mis = b.ins().band_imm_s(t, 3);
                let ok = b.create_block();
                b.ins().brif(mis, stop, &[], ok, &[]);
                b.switch_to_block(ok);
                let link = add32(&mut b, pc, 4);
                e.finish_alu(&mut b, op.rd, link);
                b.ins().jump(dispatch, &[BlockArg::Value(t)]);
            }
            K::Beq | K::Bne | K::Blt | K::Bge | K::Bltu | K::Bgeu => {
                let c = e.cond(&mut b, op);
                let taken = b.create_block();
                let not = b.create_block();
                b.ins().brif(c, taken, &[], not, &[]);
                b.switch_to_block(taken);
                let off = (4 * i as u32).wrapping_add(op.imm);
                if off & 3 != 0 {
                    b.ins().jump(stop, &[]);
                } else {
                    e.dec(&mut b);
                    let t = add32(&mut b, base, off);
                    e.exit_with(&mut b, t, EXIT_JUMP);
                }
                b.switch_to_block(not);
                e.dec(&mut b);
                let nb = next(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
            K::BeqL | K::BneL | K::BltL | K::BgeL | K::BltuL | K::BgeuL => {
                let c = e.cond(&mut b, op);
                e.dec(&mut b);
                let tb = next(&mut b, &mut step_blocks, &mut page_end, op.imm as usize);
                let nb = next(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().brif(c, tb, &[], nb, &[]);
            }
            K::Lb | K::Lh | K::Lw | K::Lbu | K::Lhu => {
                let size = match op.k {
                    K::Lb | K::Lbu => 1,
                    K::Lh | K::Lhu => 2,
                    _ => 4,
                };
                let host = e.translate(&mut b, op, size, false, stop);
                let f = e.heap;
                let v = match op.k {
                    K::Lb => b.ins().sload8(I32, f, host, 0),
                    K::Lbu => b.ins().uload8(I32, f, host, 0),
                    K::Lh => b.ins().sload16(I32, f, host, 0),
                    K::Lhu => b.ins().uload16(I32, f, host, 0),
                    _ => b.ins().load(I32, f, host, 0),
                };
                e.count_access(&mut b);
                e.finish_alu(&mut b, op.rd, v);
                let nb = fall(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
            K::Sb | K::Sh | K::Sw => {
                let size = match op.k {
                    K::Sb => 1,
                    K::Sh => 2,
                    _ => 4,
                };
                let host = e.translate(&mut b, op, size, true, stop);
                let v = e.reg(&mut b, op.rs2);
                let f = e.heap;
                match size {
                    1 => b.ins().istore8(f, v, host, 0),
                    2 => b.ins().istore16(f, v, host, 0),
                    _ => b.ins().store(f, v, host, 0),
                };
                e.count_access(&mut b);
                e.dec(&mut b);
                let nb = fall(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
            _ => {
                let v = e.alu(&mut b, op);
                e.finish_alu(&mut b, op.rd, v);
                let nb = fall(&mut b, &mut step_blocks, &mut page_end, i + 1);
                b.ins().jump(nb, &[]);
            }
        }
    }

    fill_exits(&mut b, &e, &step_blocks, &live, page_end);

    // the shared exit: write back the budget and the access count, return kind | pc
    b.switch_to_block(exit);
    let code = b.block_params(exit)[0];
    let l = b.use_var(left);
    b.ins().store(fctx_flags, l, cx, OFF_LEFT);
    let a = b.use_var(acc);
    b.ins().store(fctx_flags, a, cx, OFF_ACCESSES);
    b.ins().return_(&[code]);
    b.seal_all_blocks();
    b.finalize(isa.frontend_config());
}

/// The block that runs op `j` (or leaves at it, or past the page's end); created empty, filled
/// by [`fill_exits`].
fn target_block(
    b: &mut FunctionBuilder,
    op_blocks: &[Option<Block>],
    step_blocks: &mut [Option<Block>],
    page_end: &mut Option<Block>,
    j: usize,
) -> Block {
    if j >= 1024 {
        return *page_end.get_or_insert_with(|| b.create_block());
    }
    match op_blocks[j] {
        Some(blk) => blk,
        None => step_block(b, step_blocks, j),
    }
}

/// The block that leaves with [`EXIT_STEP`] at op `j` (filled by [`fill_exits`]).
fn step_block(b: &mut FunctionBuilder, step_blocks: &mut [Option<Block>], j: usize) -> Block {
    *step_blocks[j].get_or_insert_with(|| b.create_block())
}

/// Fills the exit blocks that [`target_block`] and [`step_block`] created (cold for an op that
/// is not `live`).
fn fill_exits(
    b: &mut FunctionBuilder,
    e: &Emit,
    step_blocks: &[Option<Block>],
    live: &[bool],
    page_end: Option<Block>,
) {
    for (j, s) in step_blocks.iter().enumerate() {
        if let Some(s) = *s {
            b.switch_to_block(s);
            let pc = e.pc(b, j);
            let kind = if live.get(j).copied().unwrap_or(false) { EXIT_STEP } else { EXIT_COLD };
            e.exit_with(b, pc, kind);
        }
    }
    if let Some(pe) = page_end {
        b.switch_to_block(pe);
        let t = add32(b, e.base, 4096);
        e.exit_with(b, t, EXIT_JUMP);
    }
}

fn k32(b: &mut FunctionBuilder, v: u32) -> Value {
    b.ins().iconst(I32, i64::from(v))
}

fn add32(b: &mut FunctionBuilder, x: Value, v: u32) -> Value {
    let k = k32(b, v);
    b.ins().iadd(x, k)
}

/// Values every op uses.
struct Emit {
    regs: Value,
    ram: Value,
    rtlb: Value,
    wtlb: Value,
    watch: Value,
    base: Value,
    exit: Block,
    left: Variable,
    acc: Variable,
    reg: MemFlagsData,
    heap: MemFlagsData,
    table: MemFlagsData,
}

impl Emit {
    fn reg(&self, b: &mut FunctionBuilder, r: u8) -> Value {
        if r == 0 {
            k32(b, 0)
        } else {
            b.ins().load(I32, self.reg, self.regs, 4 * i32::from(r))
        }
    }

    fn pc(&self, b: &mut FunctionBuilder, i: usize) -> Value {
        add32(b, self.base, 4 * i as u32)
    }

    fn dec(&self, b: &mut FunctionBuilder) {
        let l = b.use_var(self.left);
        let l = b.ins().iadd_imm_s(l, -1);
        b.def_var(self.left, l);
    }

    fn count_access(&self, b: &mut FunctionBuilder) {
        let a = b.use_var(self.acc);
        let a = b.ins().iadd_imm_s(a, 1);
        b.def_var(self.acc, a);
    }

    /// Writes `rd` (not `x0` or its sink) and counts the instruction.
    fn finish_alu(&self, b: &mut FunctionBuilder, rd: u8, v: Value) {
        if rd != 0 && usize::from(rd) < 32 {
            b.ins().store(self.reg, v, self.regs, 4 * i32::from(rd));
        }
        self.dec(b);
    }

    fn exit_with(&self, b: &mut FunctionBuilder, pc: Value, kind: u64) {
        let pc = b.ins().uextend(I64, pc);
        let code = if kind == 0 { pc } else { b.ins().bor_imm_u(pc, kind as i64) };
        b.ins().jump(self.exit, &[BlockArg::Value(code)]);
    }

    fn cond(&self, b: &mut FunctionBuilder, op: Op) -> Value {
        let x = self.reg(b, op.rs1);
        let y = self.reg(b, op.rs2);
        let cc = match op.k {
            K::Beq | K::BeqL => IntCC::Equal,
            K::Bne | K::BneL => IntCC::NotEqual,
            K::Blt | K::BltL => IntCC::SignedLessThan,
            K::Bge | K::BgeL => IntCC::SignedGreaterThanOrEqual,
            K::Bltu | K::BltuL => IntCC::UnsignedLessThan,
            _ => IntCC::UnsignedGreaterThanOrEqual,
        };
        b.ins().icmp(cc, x, y)
    }

    /// The host address of a `size`-byte access by `op`, on a TLB hit (and, for stores, an
    /// unwatched page); anything else leaves through `stop`.
    fn translate(&self, b: &mut FunctionBuilder, op: Op, size: u32, store: bool, stop: Block) -> Value {
        let t = self.table;
        let a = self.reg(b, op.rs1);
        let va = add32(b, a, op.imm);
        let ix = b.ins().ushr_imm_u(va, 12);
        let ix = b.ins().band_imm_s(ix, (TLB_ENTRIES - 1) as i64);
        let ix = b.ins().uextend(I64, ix);
        let eoff = b.ins().ishl_imm_u(ix, 3);
        let tlb = if store { self.wtlb } else { self.rtlb };
        let ep = b.ins().iadd(tlb, eoff);
        let tag = b.ins().load(I32, t, ep, 0);
        let addend = b.ins().load(I32, t, ep, 4);
        let m = k32(b, !0xfff | (size - 1));
        let want = b.ins().band(va, m);
        let hit = b.ins().icmp(IntCC::Equal, tag, want);
        let ok = b.create_block();
        b.ins().brif(hit, ok, &[], stop, &[]);
        b.switch_to_block(ok);
        let off = b.ins().iadd(va, addend);
        let off = b.ins().uextend(I64, off);
        if store {
            let page = b.ins().ushr_imm_u(off, 12);
            let wp = b.ins().iadd(self.watch, page);
            let w = b.ins().uload8(I32, t, wp, 0);
            let clean = b.create_block();
            b.ins().brif(w, stop, &[], clean, &[]);
            b.switch_to_block(clean);
        }
        b.ins().iadd(self.ram, off)
    }

    fn alu(&self, b: &mut FunctionBuilder, op: Op) -> Value {
        let x = self.reg(b, op.rs1);
        let imm = op.imm;
        let ins_cmp = |b: &mut FunctionBuilder, cc, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(I32, c)
        };
        match op.k {
            K::Addi => add32(b, x, imm),
            K::Slti => {
                let k = k32(b, imm);
                ins_cmp(b, IntCC::SignedLessThan, x, k)
            }
            K::Sltiu => {
                let k = k32(b, imm);
                ins_cmp(b, IntCC::UnsignedLessThan, x, k)
            }
            K::Xori => {
                let k = k32(b, imm);
                b.ins().bxor(x, k)
            }
            K::Ori => {
                let k = k32(b, imm);
                b.ins().bor(x, k)
            }
            K::Andi => {
                let k = k32(b, imm);
                b.ins().band(x, k)
            }
            K::Slli => b.ins().ishl_imm_u(x, i64::from(imm & 31)),
            K::Srli => b.ins().ushr_imm_u(x, i64::from(imm & 31)),
            K::Srai => b.ins().sshr_imm_u(x, i64::from(imm & 31)),
            _ => {
                let y = self.reg(b, op.rs2);
                self.alu_rr(b, op.k, x, y)
            }
        }
    }

    fn alu_rr(&self, b: &mut FunctionBuilder, k: K, x: Value, y: Value) -> Value {
        let cmp = |b: &mut FunctionBuilder, cc, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(I32, c)
        };
        match k {
            K::Add => b.ins().iadd(x, y),
            K::Sub => b.ins().isub(x, y),
            K::Sll => b.ins().ishl(x, y),
            K::Slt => cmp(b, IntCC::SignedLessThan, x, y),
            K::Sltu => cmp(b, IntCC::UnsignedLessThan, x, y),
            K::Xor => b.ins().bxor(x, y),
            K::Srl => b.ins().ushr(x, y),
            K::Sra => b.ins().sshr(x, y),
            K::Or => b.ins().bor(x, y),
            K::And => b.ins().band(x, y),
            K::Mul => b.ins().imul(x, y),
            K::Mulh => b.ins().smulhi(x, y),
            K::Mulhu => b.ins().umulhi(x, y),
            K::Mulhsu => {
                let a = b.ins().sextend(I64, x);
                let c = b.ins().uextend(I64, y);
                let p = b.ins().imul(a, c);
                let h = b.ins().ushr_imm_u(p, 32);
                b.ins().ireduce(I32, h)
            }
            _ => self.divide(b, k, x, y),
        }
    }

    /// RISC-V division: no traps; by zero gives all ones (quotient) or the dividend
    /// (remainder); `MIN / -1` gives `MIN` and remainder 0.
    fn divide(&self, b: &mut FunctionBuilder, k: K, x: Value, y: Value) -> Value {
        let zero = k32(b, 0);
        let one = k32(b, 1);
        let by_zero = b.ins().icmp(IntCC::Equal, y, zero);
        let signed = matches!(k, K::Div | K::Rem);
        let unsafe_divisor = if signed {
            let min = k32(b, 0x8000_0000);
            let m1 = k32(b, u32::MAX);
            let xm = b.ins().icmp(IntCC::Equal, x, min);
            let ym = b.ins().icmp(IntCC::Equal, y, m1);
            let ovf = b.ins().band(xm, ym);
            b.ins().bor(by_zero, ovf)
        } else {
            by_zero
        };
        let d = b.ins().select(unsafe_divisor, one, y);
        let r = match k {
            K::Div => b.ins().sdiv(x, d),
            K::Divu => b.ins().udiv(x, d),
            K::Rem => b.ins().srem(x, d),
            _ => b.ins().urem(x, d),
        };
        let on_zero = match k {
            K::Div | K::Divu => k32(b, u32::MAX),
            _ => x,
        };
        b.ins().select(by_zero, on_zero, r)
    }
}
