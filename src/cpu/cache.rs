//! State the harts of one machine share: the decoded-instruction cache (keyed by physical page)
//! and the LR/SC reservations.
//!
//! Both are derived from RAM contents, so both watch the RAM pages they depend on
//! ([`GuestRam::watch`]): a store by any hart to a watched page takes the slow path, which drops
//! the decoded instructions of the page and breaks other harts' reservations on it; device writes
//! (DMA) are logged by [`GuestRam`] and applied by [`Shared::drain_device_writes`].

use std::sync::atomic::{AtomicU64, Ordering};

use semu_api::GuestRam;

use super::decode::decode;
use super::jit::Jit;
use super::mmu::PAGE;
use super::op::{Op, K};

/// The instruction word at RAM offset `off` (0 where it is not in RAM: an illegal instruction).
pub(crate) fn insn_word(ram: &GuestRam, off: usize) -> u32 {
    ram.as_slice().get(off..off + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Watch bit: the page has decoded instructions in the cache.
pub(crate) const WATCH_CODE: u8 = 1;
/// Watch bit: some hart holds a reservation in the page.
pub(crate) const WATCH_RESV: u8 = 2;

const INSNS_PER_PAGE: usize = PAGE / 4;
/// Slots per decoded page: its instructions and a [`Op::PAGE_END`] sentinel.
pub(crate) const BLOCK_SLOTS: usize = INSNS_PER_PAGE + 1;
/// At most this many decoded pages (8 KiB each) are kept; beyond that the cache starts over.
const MAX_BLOCKS: usize = 4096;
const NO_BLOCK: u32 = u32::MAX;

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// State shared by the harts of one machine (see the module docs).
pub struct Shared {
    /// Changes whenever decode-cache block numbers are reassigned; harts then flush their TLBs.
    pub(crate) epoch: u64,
    page_block: Vec<u32>,
    /// Decoded instructions: block `b` is `code[b * BLOCK_SLOTS..][..BLOCK_SLOTS]`, the last slot
    /// a [`Op::PAGE_END`]. Only [`block_for`](Self::block_for) grows or shrinks it (so pointers
    /// from [`block_ptr`](Self::block_ptr) stay valid until the next call of it), and slots are
    /// written through raw pointers only (so such pointers stay valid across the writes).
    code: Vec<Op>,
    block_page: Vec<usize>,
    /// Per hart index: the reserved granule as a RAM offset range, and the LR's offset.
    resv: Vec<Option<(usize, usize, usize)>>,
    max_blocks: usize,
    /// The compiling tier: native code of hot blocks.
    pub(crate) jit: Jit,
}

impl Shared {
    /// Fresh shared state for harts running on `ram` (drops every watch on it).
    pub fn new(ram: &mut GuestRam) -> Self {
        ram.clear_watches();
        let pages = (ram.size() as usize).div_ceil(PAGE);
        Self {
            epoch: NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            page_block: vec![NO_BLOCK; pages],
            code: Vec::new(),
            block_page: Vec::new(),
            resv: Vec::new(),
            max_blocks: MAX_BLOCKS,
            jit: Jit::new(None),
        }
    }

    /// The decode-cache block of the RAM page at offset `page_off`, allocated if needed. May reset
    /// the whole cache (and change [`epoch`](Self::epoch)) to make room.
    pub(crate) fn block_for(&mut self, ram: &mut GuestRam, page_off: usize) -> usize {
        let page = page_off / PAGE;
        if let Some(&b) = self.page_block.get(page) {
            if b != NO_BLOCK {
                return b as usize;
            }
        } else {
            self.page_block.resize(page + 1, NO_BLOCK);
        }
        if self.block_page.len() >= self.max_blocks {
            self.reset_code(ram);
        }
        let b = self.block_page.len();
        self.code.resize((b + 1) * BLOCK_SLOTS, Op::UNDECODED);
        self.code[(b + 1) * BLOCK_SLOTS - 1] = Op::PAGE_END;
        self.block_page.push(page);
        self.page_block[page] = b as u32;
        b
    }

    /// Turns the compiling tier on with this threshold, or off.
    pub fn set_jit(&mut self, threshold: Option<u32>) {
        self.jit = Jit::new(threshold);
    }

    /// Pages compiled to native code so far.
    pub fn compiled_pages(&self) -> u64 {
        self.jit.compiled
    }

    /// Compiles `block` after decoding every slot of it that is not decoded yet (so no later
    /// decode drops the code): the code it ran so far, or, once that is done, the whole page.
    pub(crate) fn compile(&mut self, ram: &mut GuestRam, block: usize, ext_m: bool) {
        let start = block * BLOCK_SLOTS;
        let Some(&page) = self.block_page.get(block) else { return };
        // the slots decoded so far are the code the page ran
        let mut seen = vec![false; INSNS_PER_PAGE];
        for (idx, ran) in seen.iter_mut().enumerate() {
            match self.code.get(start + idx) {
                Some(op) if op.k == K::Undecoded => {
                    let off = page * PAGE + idx * 4;
                    let word = insn_word(ram, off);
                    // (through set_insn: a raw write, and the page is watched already)
                    self.set_insn(ram, block, idx, Op::compile(decode(word), word, idx));
                }
                Some(_) => *ran = true,
                None => {}
            }
        }
        if let Some(ops) = self.code.get(start..start + BLOCK_SLOTS) {
            self.jit.compile(block, ops, &seen, ext_m);
        }
    }

    fn reset_code(&mut self, ram: &mut GuestRam) {
        self.jit.clear();
        for &page in &self.block_page {
            self.page_block[page] = NO_BLOCK;
            ram.unwatch(page * PAGE, WATCH_CODE);
        }
        self.code.clear();
        self.block_page.clear();
        self.epoch = NEXT_EPOCH.fetch_add(1, Ordering::Relaxed);
    }

    /// The [`BLOCK_SLOTS`] slots of `block` (a block number [`block_for`](Self::block_for)
    /// returned since the last reset). The pointer is valid until the next call of `block_for`.
    #[inline(always)]
    pub(crate) fn block_ptr(&self, block: usize) -> *const Op {
        assert!((block + 1) * BLOCK_SLOTS <= self.code.len());
        // SAFETY: in bounds (checked above)
        unsafe { self.code.as_ptr().add(block * BLOCK_SLOTS) }
    }

    /// Caches a decoded instruction, and watches its page for writes.
    pub(crate) fn set_insn(&mut self, ram: &mut GuestRam, block: usize, idx: usize, op: Op) {
        let i = block * BLOCK_SLOTS + idx % INSNS_PER_PAGE;
        if i < self.code.len() {
            // SAFETY: in bounds; a raw write keeps `block_ptr` pointers valid
            unsafe { self.code.as_mut_ptr().add(i).write(op) };
            self.jit.drop_block(block);
            let off = self.block_page[block] * PAGE;
            if ram.watched(off) & WATCH_CODE == 0 {
                ram.watch(off, WATCH_CODE);
            }
        }
    }

    /// Forgets the decoded instructions of the page at RAM offset `page_off`.
    fn invalidate_code(&mut self, page_off: usize) {
        if let Some(&b) = self.page_block.get(page_off / PAGE) {
            let start = (b as usize).saturating_mul(BLOCK_SLOTS);
            if b != NO_BLOCK && start + BLOCK_SLOTS <= self.code.len() {
                self.jit.drop_block(b as usize);
                let p = self.code.as_mut_ptr();
                for i in start..start + INSNS_PER_PAGE {
                    // SAFETY: in bounds; raw writes keep `block_ptr` pointers valid
                    unsafe { p.add(i).write(Op::UNDECODED) };
                }
            }
        }
    }

    /// Limits the decode cache to `n` pages (tests of the reset path).
    #[cfg(test)]
    pub(crate) fn set_max_blocks(&mut self, n: usize) {
        self.max_blocks = n.max(1);
    }

    /// Number of pages with decoded instructions.
    pub fn decoded_pages(&self) -> usize {
        self.block_page.len()
    }

    fn slot(&mut self, hart: usize) -> &mut Option<(usize, usize, usize)> {
        if hart >= self.resv.len() {
            self.resv.resize(hart + 1, None);
        }
        &mut self.resv[hart]
    }

    /// Reserves the `granule`-byte granule (a power of two, at most a page) holding RAM offset `off`
    /// for `hart`.
    pub(crate) fn reserve(&mut self, ram: &mut GuestRam, hart: usize, off: usize, granule: usize) {
        let g = granule.clamp(4, PAGE).next_power_of_two();
        let start = off & !(g - 1);
        *self.slot(hart) = Some((start, start + g, off));
        ram.watch(start, WATCH_RESV);
    }

    /// Takes `hart`'s reservation away, returning whether it was made by an LR of RAM offset
    /// `off` (an SC to another address fails even inside the granule, as on QEMU).
    pub(crate) fn take_reservation(&mut self, hart: usize, off: usize) -> bool {
        self.slot(hart).take().is_some_and(|(_, _, at)| at == off)
    }

    /// Drops `hart`'s reservation (trap entry, `sc`).
    #[inline]
    pub(crate) fn clear_reservation(&mut self, hart: usize) {
        if let Some(r) = self.resv.get_mut(hart) {
            *r = None;
        }
    }

    /// Breaks the reservations of harts other than `writer` (`usize::MAX`: a device) that overlap
    /// `off..off+len`, and unwatches the pages that hold no reservation any more.
    fn break_reservations(&mut self, ram: &mut GuestRam, off: usize, len: usize, writer: usize) {
        for (h, r) in self.resv.iter_mut().enumerate() {
            if r.is_some_and(|(s, e, _)| h != writer && s < off + len && off < e) {
                *r = None;
            }
        }
        for page in [off / PAGE, (off + len - 1) / PAGE] {
            if !self.resv.iter().flatten().any(|&(s, _, _)| s / PAGE == page) {
                ram.unwatch(page * PAGE, WATCH_RESV);
            }
        }
    }

    /// Writes `bytes` at RAM offset `off` for hart `writer`, first dropping what depends on the
    /// old contents. Out-of-range writes are ignored (callers checked the range).
    pub(crate) fn write_ram(&mut self, ram: &mut GuestRam, off: usize, bytes: &[u8], writer: usize) {
        let len = bytes.len();
        if len == 0 {
            return;
        }
        let (first, last) = (ram.watched(off), ram.watched(off + len - 1));
        if first | last != 0 {
            for (page_off, bits) in [(off, first), (off + len - 1, last)] {
                if bits & WATCH_CODE != 0 {
                    self.invalidate_code(page_off);
                    ram.unwatch(page_off, WATCH_CODE);
                }
            }
            if (first | last) & WATCH_RESV != 0 {
                self.break_reservations(ram, off, len, writer);
            }
        }
        if let Some(dst) = ram.untracked_mut().get_mut(off..off + len) {
            dst.copy_from_slice(bytes);
        }
    }

    /// Applies the writes devices (or loaders) made to watched pages since the last call.
    pub(crate) fn drain_device_writes(&mut self, ram: &mut GuestRam) {
        if !ram.has_write_hits() {
            return;
        }
        let mut hits = Vec::new();
        ram.take_write_hits(|off, bits| hits.push((off, bits)));
        for (off, bits) in hits {
            if bits & WATCH_CODE != 0 {
                self.invalidate_code(off);
            }
            if bits & WATCH_RESV != 0 {
                // the page was unwatched by the write: every reservation in it is gone
                for r in &mut self.resv {
                    if r.is_some_and(|(s, _, _)| s / PAGE == off / PAGE) {
                        *r = None;
                    }
                }
            }
        }
    }
}
