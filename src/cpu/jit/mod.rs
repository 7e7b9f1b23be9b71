//! The compiling tier: a hot page of decoded [`Op`]s becomes one native function (Cranelift).
//!
//! The fast loop (`fast.rs`) counts the instructions it runs per decoded page; a page past the
//! threshold ([`DEFAULT_THRESHOLD`]) is compiled from the ops its slots hold. The function is
//! entered with the pc to start at, and runs ops exactly as the fast loop does, with the same
//! budget: a branch or jump inside the page goes straight to its target, a jump elsewhere
//! returns the target ([`EXIT_JUMP`]). Whatever the function does not do itself (an undecoded or
//! slow op, a TLB miss, a store to a watched page, a misaligned target, a budget that does not
//! cover the next straight stretch) returns [`EXIT_STEP`] with the pc of that instruction,
//! *before* it changed anything: the fast loop then runs that instruction its own way. So a
//! compiled page never traps, never touches MMIO or the decode cache, and the interpreter stays
//! the one definition of every slow path.
//!
//! Guest registers stay in the hart's register array; loads and stores use the same TLB entries
//! and RAM pointer as the fast loop (the TLB invariant makes a hit an in-bounds access).
//!
//! Only the ops the page ran before it got hot are compiled (a page's function costs compile
//! time and memory in proportion to its ops); the others leave with [`EXIT_COLD`], the fast loop
//! interprets from there a little while, and a page that keeps leaving cold ([`Jit::cold`]) is
//! compiled again, whole (every slot is decoded by then), its old code running meanwhile.
//!
//! Compiling a page takes milliseconds, so it happens on a compiler thread while the
//! guest goes on in the interpreter: the request carries a copy of the page's ops and the
//! page's generation, and [`Jit::poll`] installs the result only if the page's slots have not
//! changed since (the generation is bumped on every change). A threshold of 0 compiles every page
//! at once, on the calling thread (tests of the compiled code).
//!
//! The code of a page is dropped when any of its slots changes (a write to the page, a new
//! decode) and when the decode cache starts over; all of it when it exceeds [`MAX_CODE_BYTES`].
//! None of that can happen while compiled code runs: it calls nothing.

mod emit;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;

use super::mmu::Entry;
use super::op::Op;

/// Instructions a page runs in the fast loop before it is compiled.
pub const DEFAULT_THRESHOLD: u32 = 2_000_000;
/// Compiled code kept at most (then it is all dropped and pages compile again when hot).
const MAX_CODE_BYTES: usize = 64 << 20;

/// Exit kind: continue at the returned pc (outside the page, or anywhere).
pub(crate) const EXIT_JUMP: u64 = 0;
/// Exit kind: run the instruction at the returned pc through the interpreter first.
pub(crate) const EXIT_STEP: u64 = 1 << 32;
/// Exit kind: the returned pc is code the page had not run when it was compiled (not in the
/// function): interpret, and see [`Jit::cold`].
pub(crate) const EXIT_COLD: u64 = 2 << 32;

/// What compiled code reads and writes; `#[repr(C)]`, its offsets are in the code.
#[repr(C)]
pub(crate) struct JitCtx {
    /// The hart's register array (`x0` reads 0; `x0` destinations are never written).
    pub regs: *mut u32,
    /// RAM's backing store.
    pub ram: *mut u8,
    /// The data TLB set's read and write entries ([`TLB_ENTRIES`] each).
    pub rtlb: *const Entry,
    pub wtlb: *const Entry,
    /// RAM's per-page watch bytes.
    pub watch: *const u8,
    /// In: the budget; out: what is left of it.
    pub left: u64,
    /// Out: loads and stores done.
    pub accesses: u64,
}

pub(super) const OFF_REGS: i32 = 0;
pub(super) const OFF_RAM: i32 = 8;
pub(super) const OFF_RTLB: i32 = 16;
pub(super) const OFF_WTLB: i32 = 24;
pub(super) const OFF_WATCH: i32 = 32;
pub(super) const OFF_LEFT: i32 = 40;
pub(super) const OFF_ACCESSES: i32 = 48;

/// A compiled page: `fn(ctx, pc) -> kind | pc`.
type JitFn = unsafe extern "C" fn(*mut JitCtx, u32) -> u64;

/// Executable memory holding one compiled page.
struct Code {
    mem: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and is immutable once made executable.
unsafe impl Send for Code {}

impl Code {
    fn new(bytes: &[u8]) -> Option<Code> {
        let len = bytes.len().div_ceil(4096).max(1) * 4096;
        // SAFETY: a fresh private anonymous mapping, written only within its length, then made
        // read+execute; unmapped exactly once (Drop).
        unsafe {
            let mem = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if mem == libc::MAP_FAILED {
                return None;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), mem.cast::<u8>(), bytes.len());
            let code = Code { mem, len };
            if libc::mprotect(mem, len, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                return None;
            }
            Some(code)
        }
    }

    fn entry(&self) -> JitFn {
        // SAFETY: the mapping starts with a function of this signature (see `Jit::compile`)
        unsafe { std::mem::transmute::<*mut libc::c_void, JitFn>(self.mem) }
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        // SAFETY: mapped by `Code::new` with this length
        unsafe { libc::munmap(self.mem, self.len) };
    }
}

/// The compiler proper: Cranelift for the host.
struct Compiler {
    isa: OwnedTargetIsa,
}

impl Compiler {
    fn new(isa: OwnedTargetIsa) -> Compiler {
        Compiler { isa }
    }

    /// The native code of the `live` ops of one page, or `None` if Cranelift refused it.
    fn compile(&mut self, ops: &[Op], live: &[bool], ext_m: bool) -> Option<Code> {
        // fresh contexts each time: a page's function is large (thousands of blocks), and
        // contexts kept from page to page would keep their high-water mark for the whole run
        let (mut ctx, mut fctx) = (Context::new(), FunctionBuilderContext::new());
        emit::build(&mut ctx, &mut fctx, &self.isa, ops, live, ext_m);
        let code = match ctx.compile(&*self.isa, &mut ControlPlane::default()) {
            Ok(c) if c.buffer.relocs().is_empty() => Code::new(c.code_buffer()),
            _ => None,
        };
        drop((ctx, fctx));
        // SAFETY: malloc_trim only returns free heap memory to the system
        unsafe { libc::malloc_trim(0) };
        code
    }
}

/// A page to compile: its block, its generation and epoch when asked, and a copy of its ops.
struct Request {
    block: usize,
    generation: u64,
    epoch: u64,
    ops: Vec<Op>,
    live: Vec<bool>,
    ext_m: bool,
}

/// A compiled page (or `None`: it failed), for the request with these numbers.
struct Done {
    block: usize,
    generation: u64,
    epoch: u64,
    code: Option<Code>,
}

/// The compiler thread and the channels to it. Dropping it ends the thread after the page it is
/// compiling (requests still queued are dropped, not compiled).
struct Worker {
    tx: Sender<Request>,
    rx: Receiver<Done>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn spawn(isa: OwnedTargetIsa) -> Option<Worker> {
        let (tx, requests) = channel::<Request>();
        let (done, rx) = channel::<Done>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("semu-jit".into())
            .spawn(move || {
                let mut c = Compiler::new(isa);
                for r in requests {
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    let code = c.compile(&r.ops, &r.live, r.ext_m);
                    let d = Done { block: r.block, generation: r.generation, epoch: r.epoch, code };
                    if done.send(d).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Worker { tx, rx, stop })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Per-block state of the tier.
#[derive(Default, Clone, Copy)]
struct Page {
    /// Instructions run interpreted since the last change or compile.
    heat: u32,
    /// Instructions run interpreted after leaving compiled code at a cold op.
    cold: u32,
    /// Bumped whenever the block's slots change: a compile result for another generation is stale.
    generation: u64,
    /// A request is out on the compiler thread.
    pending: bool,
    /// Compiling failed (not tried again until the slots change).
    failed: bool,
}

impl Page {
    /// Neither being compiled nor failed.
    fn idle(&self) -> bool {
        !self.pending && !self.failed
    }
}

/// Adds `n` to a counter (saturating); returns the sum.
fn add(c: &mut u32, n: u64) -> u32 {
    *c = c.saturating_add(n.min(u64::from(u32::MAX)) as u32);
    *c
}

/// The compiled pages of one machine's decode cache (per block), and the compiler.
pub(crate) struct Jit {
    isa: Option<OwnedTargetIsa>,
    /// Threshold 0: compile on the calling thread.
    inline: Option<Compiler>,
    worker: Option<Worker>,
    code: Vec<Option<Code>>,
    pages: Vec<Page>,
    /// Bumped by [`clear`](Self::clear): results asked for before are stale.
    epoch: u64,
    /// A request is out: no other is sent meanwhile, so that the next page compiled is one
    /// that is hot when the compiler is free, not one that was hot long ago.
    busy: bool,
    bytes: usize,
    threshold: u32,
    /// Pages compiled so far.
    pub compiled: u64,
}

impl Jit {
    /// A compiler for the host, on when `threshold` is `Some` and the host is supported.
    pub(crate) fn new(threshold: Option<u32>) -> Jit {
        let isa = threshold.and_then(|_| {
            let mut flags = settings::builder();
            flags.set("opt_level", "speed").ok()?;
            flags.set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }).ok()?;
            let b = cranelift_native::builder().ok()?;
            b.finish(settings::Flags::new(flags)).ok()
        });
        let inline = isa.clone().filter(|_| threshold == Some(0)).map(Compiler::new);
        Jit {
            isa,
            inline,
            worker: None,
            code: Vec::new(),
            pages: Vec::new(),
            epoch: 0,
            busy: false,
            bytes: 0,
            threshold: threshold.unwrap_or(u32::MAX),
            compiled: 0,
        }
    }

    /// The compiled function of `block`, if any.
    #[inline(always)]
    pub(crate) fn entry(&self, block: usize) -> Option<unsafe extern "C" fn(*mut JitCtx, u32) -> u64> {
        match self.code.get(block) {
            Some(Some(c)) => Some(c.entry()),
            _ => None,
        }
    }

    fn page(&mut self, block: usize) -> &mut Page {
        if block >= self.pages.len() {
            self.pages.resize(block + 1, Page::default());
        }
        &mut self.pages[block]
    }

    /// Counts `n` instructions run interpreted in `block`; true once the block should be
    /// compiled (and is not being compiled already).
    #[inline(always)]
    pub(crate) fn heat(&mut self, block: usize, n: u64) -> bool {
        if self.isa.is_none() {
            return false;
        }
        let (threshold, busy) = (self.threshold, self.busy);
        let p = self.page(block);
        add(&mut p.heat, n) >= threshold && p.idle() && !busy
    }

    /// Counts `n` instructions run interpreted in `block` after its code left at a cold op; true
    /// once they add up to a quarter of the threshold: the page should be compiled again,
    /// whole, its current code running meanwhile.
    pub(crate) fn cold(&mut self, block: usize, n: u64) -> bool {
        let (threshold, busy) = (self.threshold / 4, self.busy);
        let p = self.page(block);
        add(&mut p.cold, n) >= threshold && p.idle() && !busy
    }

    /// Forgets the compiled code of `block` (its slots changed), and any compile of it under
    /// way; it compiles again once it ran another threshold's worth of instructions.
    #[inline]
    pub(crate) fn drop_block(&mut self, block: usize) {
        let mut had_code = false;
        if let Some(c) = self.code.get_mut(block) {
            if let Some(code) = c.take() {
                self.bytes -= code.len;
                had_code = true;
            }
        }
        if let Some(p) = self.pages.get_mut(block) {
            // (a page that only gained a decoded slot keeps its heat)
            *p = Page { generation: p.generation + 1, heat: if had_code { 0 } else { p.heat }, ..Page::default() };
        }
    }

    /// Forgets everything (the decode cache started over).
    pub(crate) fn clear(&mut self) {
        self.code.clear();
        self.pages.clear();
        self.bytes = 0;
        self.epoch += 1;
    }

    /// Compiles the slots `seen` (those the page ran) of `block`'s slots `ops`
    /// ([`super::cache::BLOCK_SLOTS`] of them): at once with threshold 0 (the first cold exit then
    /// compiles the page again, whole), else on the compiler thread (see [`poll`](Self::poll))
    /// unless it is busy.
    pub(crate) fn compile(&mut self, block: usize, ops: &[Op], seen: &[bool], ext_m: bool) {
        let Some(isa) = self.isa.clone() else { return };
        if self.busy {
            return;
        }
        let epoch = self.epoch;
        let p = self.page(block);
        p.heat = 0;
        p.cold = 0;
        let generation = p.generation;
        // only the ops the page ran: the function stays small (compile time and memory grow
        // with it), and what the page had not run leaves through EXIT_COLD
        let live = seen.to_vec();
        if let Some(c) = &mut self.inline {
            let code = c.compile(ops, &live, ext_m);
            self.install(Done { block, generation, epoch, code });
            return;
        }
        if self.worker.is_none() {
            self.worker = Worker::spawn(isa);
        }
        let req = Request { block, generation, epoch, ops: ops.to_vec(), live, ext_m };
        match self.worker.as_ref().map(|w| w.tx.send(req)) {
            Some(Ok(())) => {
                self.page(block).pending = true;
                self.busy = true;
            }
            // no compiler thread: stay interpreted
            _ => self.page(block).failed = true,
        }
    }

    /// Installs the pages the compiler thread finished (cheap when there are none).
    #[inline]
    pub(crate) fn poll(&mut self) {
        while let Some(d) = self.worker.as_ref().and_then(|w| w.rx.try_recv().ok()) {
            self.busy = false;
            self.install(d);
        }
    }

    fn install(&mut self, d: Done) {
        let Some(p) = self.pages.get_mut(d.block) else { return };
        if d.epoch != self.epoch || d.generation != p.generation {
            return; // the page changed meanwhile: its next compile is asked for afresh
        }
        p.pending = false;
        let Some(code) = d.code else {
            p.failed = true;
            return;
        };
        if self.bytes + code.len > MAX_CODE_BYTES {
            self.clear();
            return;
        }
        if d.block >= self.code.len() {
            self.code.resize_with(d.block + 1, || None);
        }
        self.bytes += code.len;
        if let Some(old) = self.code[d.block].replace(code) {
            self.bytes -= old.len; // (a page compiled again, whole)
        }
        self.compiled += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::cpu::cache::BLOCK_SLOTS;
    use crate::cpu::decode::decode;

    /// A page of `addi x1, x1, k` (k = 1, 2, ...) and a `jal x0, 4096` off the page's end.
    fn page(k0: u32) -> Vec<Op> {
        let mut ops = vec![Op::UNDECODED; BLOCK_SLOTS];
        for (i, op) in ops.iter_mut().enumerate().take(8) {
            let w = (k0 + i as u32) << 20 | 1 << 15 | 1 << 7 | 0x13;
            *op = Op::compile(decode(w), w, i);
        }
        ops[BLOCK_SLOTS - 1] = Op::PAGE_END;
        ops
    }

    /// Polls until `done` holds (the compiler thread answered), at most a minute.
    fn wait(jit: &mut Jit, done: impl Fn(&Jit) -> bool) {
        let t = Instant::now();
        while !done(jit) {
            assert!(t.elapsed() < Duration::from_secs(60), "the compiler thread never answered");
            std::thread::sleep(Duration::from_millis(2));
            jit.poll();
        }
    }

    /// Runs block `b`'s code from `pc` with x1 = 0 and a budget of `left`; returns x1, what the
    /// code returned and the budget left.
    fn run(jit: &Jit, b: usize, pc: u32, left: u64) -> (u32, u64, u64) {
        let mut regs = [0u32; 33];
        let mut cx = JitCtx {
            regs: regs.as_mut_ptr(),
            ram: std::ptr::null_mut(),
            rtlb: std::ptr::null(),
            wtlb: std::ptr::null(),
            watch: std::ptr::null(),
            left,
            accesses: 0,
        };
        let f = jit.entry(b).expect("compiled");
        // SAFETY: the page has no loads or stores: only the register array is touched
        let r = unsafe { f(&mut cx, pc) };
        (regs[1], r, cx.left)
    }

    #[test]
    fn hot_pages_compile_in_the_background_and_stale_results_are_dropped() {
        let Some(mut jit) = Some(Jit::new(Some(10))).filter(|j| j.isa.is_some()) else {
            return; // no Cranelift backend for this host: the tier stays off (tested elsewhere)
        };
        assert!(!jit.heat(0, 9));
        assert!(jit.heat(0, 1), "hot at the threshold");
        jit.compile(0, &page(1), &[true; 1024], true);
        assert!(!jit.heat(0, 100), "not asked for twice while the compiler has it");
        wait(&mut jit, |j| j.entry(0).is_some());
        assert_eq!(jit.compiled, 1);
        // addi 1..=8 from the page start, then the slots past them are undecoded: leave there
        assert_eq!(run(&jit, 0, 0x8000_0000, 100), (36, EXIT_STEP | 0x8000_0020, 92));
        // from the third op: 3 + ... + 8
        assert_eq!(run(&jit, 0, 0x8000_0008, 100).0, 33);
        // a budget short of the straight stretch: leave before it, having done nothing
        assert_eq!(run(&jit, 0, 0x8000_0000, 7), (0, EXIT_STEP | 0x8000_0000, 7));
        assert_eq!(run(&jit, 0, 0x8000_0008, 6), (33, EXIT_STEP | 0x8000_0020, 0));

        // block 1 changes while its compile is under way: the result is dropped, and the page
        // may be asked for again; meanwhile no other page is sent
        jit.compile(1, &page(1), &[true; 1024], true);
        jit.drop_block(1);
        assert!(!jit.heat(2, 100), "one page at a time");
        jit.compile(2, &page(2), &[true; 1024], true);
        wait(&mut jit, |j| !j.busy);
        assert!(jit.entry(1).is_none(), "stale code installed");
        assert!(jit.entry(2).is_none(), "a second page went out while one was under way");
        assert!(jit.heat(1, 10), "a changed page compiles again when hot");
        jit.compile(1, &page(3), &[true; 1024], true);
        wait(&mut jit, |j| j.entry(1).is_some());
        assert_eq!(run(&jit, 1, 0x8000_1000, 100).0, (3..=10).sum::<u32>(), "the code of the new ops");

        // the decode cache starts over while a compile is out: nothing of before comes back
        jit.compile(3, &page(1), &[true; 1024], true);
        jit.clear();
        assert!(jit.entry(0).is_none() && jit.entry(1).is_none());
        wait(&mut jit, |j| !j.busy);
        assert!(jit.entry(3).is_none(), "code from before the reset installed");
        jit.compile(4, &page(1), &[true; 1024], true);
        wait(&mut jit, |j| j.entry(4).is_some());

        // only the code the page ran is compiled: addi 1..=3, the jump at 3 over 4..=6 to 7
        // (addi 8); 4..=6 and the slot after 7 leave as cold
        let mut ops = page(1);
        let w = 8 << 21 | 0x6f; // jal x0, +16
        ops[3] = Op::compile(decode(w), w, 3);
        let mut seen = [false; 1024];
        for i in [0, 1, 2, 3, 7] {
            seen[i] = true;
        }
        jit.compile(5, &ops, &seen, true);
        wait(&mut jit, |j| j.entry(5).is_some());
        assert_eq!(run(&jit, 5, 0x8000_0000, 100), (1 + 2 + 3 + 8, EXIT_COLD | 0x8000_0020, 95));
        assert_eq!(run(&jit, 5, 0x8000_0010, 100), (0, EXIT_COLD | 0x8000_0010, 100));
        assert!(!jit.cold(5, 1), "not yet");
        assert!(jit.cold(5, 1), "a quarter of the threshold (10 / 4): compile again");
        let mut all = [true; 1024];
        all[1023] = false;
        jit.compile(5, &ops, &all, true);
        wait(&mut jit, |j| !j.busy);
        assert_eq!(run(&jit, 5, 0x8000_0010, 100).1, EXIT_STEP | 0x8000_0020, "the whole page now");
        assert_eq!(run(&jit, 5, 0x8000_0010, 100).0, 5 + 6 + 7 + 8);

        // a changed page drops its code at once
        jit.drop_block(4);
        assert!(jit.entry(4).is_none());
        jit.drop_block(5);
        assert!(jit.entry(5).is_none());
    }
}
