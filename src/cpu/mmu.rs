//! Sv32 address translation and the software TLB.
//!
//! The TLB holds, per effective privilege (U, S, M, and S with SUM set) and access kind (read,
//! write, execute), direct-mapped entries from a virtual page to the RAM offset of its physical
//! page. Permission is checked when an entry is filled, so a hit needs no checks: entries are
//! flushed whenever what they depend on changes (`satp`, `sfence.vma`, MXR). SUM selects a set
//! instead of flushing one, since Linux sets and clears it around every copy from or to user
//! memory. A write entry is filled only after the translation set the D bit. Pages outside RAM
//! (MMIO) never enter the TLB.

use semu_api::GuestRam;

use super::cache::Shared;
use super::csr::{MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SUM};
use super::trap::{Access, Exception};
use super::{Hart, Priv};

/// Entries per table (a power of two).
pub(crate) const TLB_ENTRIES: usize = 1024;
/// A tag that matches no masked address: masked addresses have bits 2..=11 clear.
pub(crate) const NO_TAG: u32 = u32::MAX;
pub(crate) const PAGE: usize = 4096;

const PTE_V: u32 = 1 << 0;
const PTE_R: u32 = 1 << 1;
const PTE_W: u32 = 1 << 2;
const PTE_X: u32 = 1 << 3;
const PTE_U: u32 = 1 << 4;
const PTE_A: u32 = 1 << 6;
const PTE_D: u32 = 1 << 7;

/// A read or write TLB entry.
///
/// Invariant (the fast paths access RAM unchecked on a hit): an entry whose tag is not
/// [`NO_TAG`] maps a page that lies wholly in the RAM the hart runs on
/// ([`Mmu::ram_id`]).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Entry {
    /// Virtual page address, or [`NO_TAG`].
    pub tag: u32,
    /// RAM offset of the physical page minus the virtual page address (wrapping): the RAM offset
    /// of `va` is `va + addend` (RAM offsets are below 2^32).
    pub addend: u32,
}

impl Entry {
    /// The RAM offset of `va` (in the entry's page).
    #[inline(always)]
    pub fn off(self, va: u32) -> usize {
        va.wrapping_add(self.addend) as usize
    }
}

/// An execute TLB entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XEntry {
    pub tag: u32,
    pub off: usize,
    /// Decode-cache block of the physical page.
    pub block: usize,
}

const EMPTY: Entry = Entry { tag: NO_TAG, addend: 0 };
const XEMPTY: XEntry = XEntry { tag: NO_TAG, off: 0, block: 0 };

/// The TLB of one effective privilege level.
pub(crate) struct Tlb {
    pub r: [Entry; TLB_ENTRIES],
    pub w: [Entry; TLB_ENTRIES],
    pub x: [XEntry; TLB_ENTRIES],
    /// One bit per 4 MiB region of the address space: set when an entry in that region was filled
    /// from a superpage, whose other pages an address-specific flush of the region must drop too.
    /// (Linux flushes single pages often, in regions it maps with 4 KiB pages, e.g. the fixmap;
    /// scanning every table on each such flush took most of the boot's time.)
    superpage_regions: [u64; 16],
}

impl Tlb {
    fn flush(&mut self) {
        self.r.fill(EMPTY);
        self.w.fill(EMPTY);
        self.x.fill(XEMPTY);
        self.superpage_regions = [0; 16];
    }

    /// Records that an entry for `va` came from a superpage (when `superpage`).
    #[inline(always)]
    fn note_superpage(&mut self, va: u32, superpage: bool) {
        let region = (va >> 22) as usize;
        self.superpage_regions[region / 64] |= u64::from(superpage) << (region % 64);
    }

    fn flush_page(&mut self, va: u32) {
        let i = index(va);
        let tag = va & !0xfff;
        let region = va >> 22;
        let (word, bit) = (region as usize / 64, 1u64 << (region % 64));
        if self.superpage_regions[word] & bit != 0 {
            self.superpage_regions[word] &= !bit;
            for e in self.r.iter_mut().chain(self.w.iter_mut()) {
                if e.tag != NO_TAG && e.tag >> 22 == region {
                    *e = EMPTY;
                }
            }
            for e in &mut self.x {
                if e.tag != NO_TAG && e.tag >> 22 == region {
                    *e = XEMPTY;
                }
            }
        }
        if self.r[i].tag == tag {
            self.r[i] = EMPTY;
        }
        if self.w[i].tag == tag {
            self.w[i] = EMPTY;
        }
        if self.x[i].tag == tag {
            self.x[i] = XEMPTY;
        }
    }
}

/// The TLB index of `va`.
#[inline(always)]
pub(crate) fn index(va: u32) -> usize {
    (va >> 12) as usize % TLB_ENTRIES
}

/// Translation state of a hart: the TLBs and the one-entry fetch cache in front of them.
pub(crate) struct Mmu {
    /// TLBs for effective privilege U, S, M, and S with `mstatus.SUM` (data only).
    pub sets: [Box<Tlb>; 4],
    /// The RAM (backing-store address and length) the entries point into: running on other RAM
    /// flushes them.
    pub ram_id: (usize, usize),
    /// Set used by loads and stores (MPRV applied).
    pub data_set: usize,
    /// Set used by fetches.
    pub fetch_set: usize,
    /// Virtual page of pc whose decoded block is `fetch_block`, or [`NO_TAG`].
    pub fetch_tag: u32,
    pub fetch_off: usize,
    pub fetch_block: usize,
}

impl Mmu {
    pub(crate) fn new() -> Self {
        let tlb = || {
            Box::new(Tlb {
                r: [EMPTY; TLB_ENTRIES],
                w: [EMPTY; TLB_ENTRIES],
                x: [XEMPTY; TLB_ENTRIES],
                superpage_regions: [0; 16],
            })
        };
        Self {
            sets: [tlb(), tlb(), tlb(), tlb()],
            ram_id: (0, 0),
            data_set: 2,
            fetch_set: 2,
            fetch_tag: NO_TAG,
            fetch_off: 0,
            fetch_block: 0,
        }
    }
}

/// The TLB set of privilege `p`, with `sum` for data accesses (a fetch never uses SUM).
fn set_of(p: Priv, sum: bool) -> usize {
    match p {
        Priv::U => 0,
        Priv::S if sum => 3,
        Priv::S => 1,
        Priv::M => 2,
    }
}

/// The sets that depend on translation (all but M).
const TRANSLATED: [usize; 3] = [0, 1, 3];

/// A successful page-table walk whose A/D update is not yet written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    /// The physical address.
    pub pa: u64,
    /// Physical address of the leaf PTE, and the new PTE value if A/D must be set.
    update: Option<(u64, u32)>,
    superpage: bool,
}

impl Hart {
    /// Recomputes which TLB sets apply after a change of privilege or `mstatus`, and drops the
    /// fetch cache.
    pub(crate) fn mode_changed(&mut self) {
        self.mmu.fetch_set = set_of(self.privilege, false);
        self.mmu.data_set = set_of(self.data_privilege(), self.csr.mstatus & MSTATUS_SUM != 0);
        self.mmu.fetch_tag = NO_TAG;
    }

    /// Privilege of loads and stores: MPP if in M-mode with MPRV set.
    pub(crate) fn data_privilege(&self) -> Priv {
        let st = self.csr.mstatus;
        if self.privilege == Priv::M && st & MSTATUS_MPRV != 0 {
            match (st >> MSTATUS_MPP_SHIFT) & 3 {
                0 => Priv::U,
                1 => Priv::S,
                _ => Priv::M,
            }
        } else {
            self.privilege
        }
    }

    /// Flushes every TLB entry that depends on translation (U and S sets) and the fetch cache.
    pub(crate) fn flush_translated(&mut self) {
        for i in TRANSLATED {
            self.mmu.sets[i].flush();
        }
        self.mmu.fetch_tag = NO_TAG;
    }

    /// Flushes the entries for `va` in the U and S sets.
    pub(crate) fn flush_page(&mut self, va: u32) {
        for i in TRANSLATED {
            self.mmu.sets[i].flush_page(va);
        }
        self.mmu.fetch_tag = NO_TAG;
    }

    /// Flushes everything, identity (M) entries included.
    pub(crate) fn flush_all(&mut self) {
        for s in self.mmu.sets.iter_mut() {
            s.flush();
        }
        self.mmu.fetch_tag = NO_TAG;
    }

    /// Walks the page table for `va` (no A/D update yet).
    pub(crate) fn walk(&self, ram: &GuestRam, va: u32, acc: Access) -> Result<Walk, Exception> {
        self.walk_as::<true>(ram, va, acc)
    }

    /// The physical address the page tables map `va` to for the hart's current mode, whatever
    /// the leaf's permissions say (a debugger's view; no A/D update). `None` if not mapped.
    pub(crate) fn walk_ignoring_permissions(&self, ram: &GuestRam, va: u32) -> Option<u64> {
        self.walk_as::<false>(ram, va, Access::Load).ok().map(|w| w.pa)
    }

    /// The page walk; `CHECK`: whether the leaf's permissions (R/W/X, U with SUM and MXR) apply.
    #[inline(always)]
    fn walk_as<const CHECK: bool>(&self, ram: &GuestRam, va: u32, acc: Access) -> Result<Walk, Exception> {
        let p = if acc == Access::Fetch { self.privilege } else { self.data_privilege() };
        let satp = self.csr.satp;
        if p == Priv::M || satp >> 31 == 0 {
            return Ok(Walk { pa: u64::from(va), update: None, superpage: false });
        }
        let pf = acc.page_fault(va);
        let mut table = u64::from(satp & 0x3f_ffff) << 12;
        let mut level = 1;
        let (pte, pte_addr) = loop {
            let vpn = (va >> (12 + 10 * level)) & 0x3ff;
            let pte_addr = table + u64::from(vpn) * 4;
            let pte = ram.read_u32(pte_addr).ok_or(acc.access_fault(va))?;
            if pte & PTE_V == 0 || (pte & PTE_R == 0 && pte & PTE_W != 0) {
                return Err(pf);
            }
            if pte & (PTE_R | PTE_X) != 0 {
                break (pte, pte_addr);
            }
            if level == 0 {
                return Err(pf);
            }
            level -= 1;
            table = u64::from(pte >> 10) << 12;
        };
        let st = self.csr.mstatus;
        let allowed = match acc {
            Access::Fetch => pte & PTE_X != 0,
            Access::Load => pte & PTE_R != 0 || (st & MSTATUS_MXR != 0 && pte & PTE_X != 0),
            Access::Store => pte & PTE_W != 0,
        };
        let user_ok = if pte & PTE_U != 0 {
            p == Priv::U || (acc != Access::Fetch && st & MSTATUS_SUM != 0)
        } else {
            p != Priv::U
        };
        if CHECK && (!allowed || !user_ok) {
            return Err(pf);
        }
        let ppn = pte >> 10;
        let pa = if level == 1 {
            if ppn & 0x3ff != 0 {
                return Err(pf); // misaligned superpage
            }
            u64::from(ppn >> 10) << 22 | u64::from(va & 0x3f_ffff)
        } else {
            u64::from(ppn) << 12 | u64::from(va & 0xfff)
        };
        let need = PTE_A | if acc == Access::Store { PTE_D } else { 0 };
        let update = (pte & need != need).then_some((pte_addr, pte | need));
        Ok(Walk { pa, update, superpage: level == 1 })
    }

    /// Writes the A/D bits a walk needs (the access it belongs to has succeeded translation).
    pub(crate) fn commit_walk(&self, ram: &mut GuestRam, sh: &mut Shared, w: &Walk) {
        if let Some((addr, pte)) = w.update {
            if let Some(off) = ram.offset(addr, 4) {
                sh.write_ram(ram, off, &pte.to_le_bytes(), self.id);
            }
        }
    }

    /// Translates `va` for one access that does not cross a page, sets A/D, and fills the TLB if
    /// the page is RAM. Returns the physical address.
    pub(crate) fn translate(
        &mut self,
        ram: &mut GuestRam,
        sh: &mut Shared,
        va: u32,
        acc: Access,
    ) -> Result<u64, Exception> {
        if acc == Access::Fetch {
            self.counters.fetch_walks += 1;
        } else {
            self.counters.data_walks += 1;
        }
        let w = self.walk(ram, va, acc)?;
        self.commit_walk(ram, sh, &w);
        if acc != Access::Fetch {
            // (RAM offsets below 2^32 are what entries can hold; larger RAM is not reachable)
            if let Some(off) = ram.offset(w.pa & !0xfff, PAGE as u64).filter(|&o| o as u64 + PAGE as u64 <= 1 << 32) {
                let set = &mut self.mmu.sets[self.mmu.data_set];
                set.note_superpage(va, w.superpage);
                let e = Entry { tag: va & !0xfff, addend: (off as u32).wrapping_sub(va & !0xfff) };
                match acc {
                    Access::Load => set.r[index(va)] = e,
                    _ => set.w[index(va)] = e,
                }
            }
        }
        Ok(w.pa)
    }

    /// Fills the fetch cache for `pc` (TLB, then page walk). The page must be RAM.
    #[cold]
    pub(crate) fn fetch_miss(&mut self, ram: &mut GuestRam, sh: &mut Shared, pc: u32) -> Result<(), Exception> {
        if pc & 3 != 0 {
            return Err(Exception::InstructionMisaligned(pc));
        }
        let tag = pc & !0xfff;
        let i = index(pc);
        let e = self.mmu.sets[self.mmu.fetch_set].x[i];
        let e = if e.tag == tag {
            e
        } else {
            self.counters.fetch_walks += 1;
            let w = self.walk(ram, pc, Access::Fetch)?;
            let off = ram.offset(w.pa & !0xfff, PAGE as u64).ok_or(Exception::InstructionAccess(pc))?;
            self.commit_walk(ram, sh, &w);
            let block = sh.block_for(ram, off);
            if sh.epoch != self.epoch {
                // the decode cache was reset to make room: every execute entry is stale
                self.flush_all();
                self.epoch = sh.epoch;
            }
            let e = XEntry { tag, off, block };
            let set = &mut self.mmu.sets[self.mmu.fetch_set];
            set.note_superpage(pc, w.superpage);
            set.x[i] = e;
            e
        };
        self.mmu.fetch_tag = tag;
        self.mmu.fetch_off = e.off;
        self.mmu.fetch_block = e.block;
        Ok(())
    }
}
