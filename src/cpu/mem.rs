//! Loads, stores, AMOs and LR/SC: a TLB-hit fast path on RAM, and a slow path that translates,
//! handles misaligned and page-crossing accesses, watched pages and MMIO.
//!
//! Every access is checked completely (both pages of a page-crossing access are translated, and
//! both must be RAM) before anything is written, so a faulting instruction changes nothing.

use crate::bus::System;

use super::cache::Shared;
use super::decode::AmoOp;
use super::mmu::{index, PAGE};
use super::trap::{Access, Exception};
use super::{Hart, MisalignedAmo};

/// Where a translated access goes.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// RAM at this backing-store offset.
    Ram(usize),
    /// RAM, split over two pages: `n1` bytes at the first offset, the rest at the second.
    Split(usize, usize, usize),
    /// A device at this physical address.
    Mmio(u64),
}

#[inline(always)]
fn mask(n: usize) -> u32 {
    !0xfff | (n as u32 - 1)
}

impl Hart {
    /// Loads `N` (1, 2 or 4) bytes at `va`, zero-extended.
    #[inline(always)]
    pub(crate) fn load<const N: usize>(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        va: u32,
    ) -> Result<u32, Exception> {
        match self.load_fast::<N>(sys, va) {
            Some(v) => Ok(v),
            None => self.load_slow(sys, sh, va, N),
        }
    }

    /// The TLB-hit path of [`load`](Self::load): `None` on a miss (or a misaligned access).
    #[inline(always)]
    pub(crate) fn load_fast<const N: usize>(&self, sys: &System, va: u32) -> Option<u32> {
        let e = self.mmu.sets[self.mmu.data_set].r[index(va)];
        if e.tag != va & mask(N) {
            return None;
        }
        let off = e.off(va);
        debug_assert!(off + N <= sys.ram.as_slice().len());
        // SAFETY: a hit means the entry maps a page wholly in this RAM (the `Entry` invariant,
        // kept by `Mmu::ram_id`), and the tag test checked that the access does not leave it.
        unsafe {
            let p = sys.ram.as_slice().as_ptr().add(off);
            Some(match N {
                1 => u32::from(*p),
                2 => u32::from(u16::from_le_bytes(p.cast::<[u8; 2]>().read())),
                _ => u32::from_le_bytes(p.cast::<[u8; 4]>().read()),
            })
        }
    }

    /// Stores the low `N` (1, 2 or 4) bytes of `v` at `va`.
    #[inline(always)]
    pub(crate) fn store<const N: usize>(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        va: u32,
        v: u32,
    ) -> Result<(), Exception> {
        if self.store_fast::<N>(sys, va, v) {
            return Ok(());
        }
        self.store_slow(sys, sh, va, N, v)
    }

    /// The TLB-hit path of [`store`](Self::store) for unwatched pages: false if it did nothing.
    #[inline(always)]
    pub(crate) fn store_fast<const N: usize>(&self, sys: &mut System, va: u32, v: u32) -> bool {
        let e = self.mmu.sets[self.mmu.data_set].w[index(va)];
        if e.tag != va & mask(N) {
            return false;
        }
        let off = e.off(va);
        debug_assert!(off + N <= sys.ram.as_slice().len());
        // SAFETY: as in `load_fast`: the access lies in RAM.
        unsafe {
            if sys.ram.watched_unchecked(off) != 0 {
                return false;
            }
            let p = sys.ram.untracked_mut().as_mut_ptr().add(off);
            match N {
                1 => *p = v as u8,
                2 => p.cast::<[u8; 2]>().write((v as u16).to_le_bytes()),
                _ => p.cast::<[u8; 4]>().write(v.to_le_bytes()),
            }
        }
        true
    }

    /// Translates an access of `n` bytes at `va` (setting A/D only once all of it translated).
    fn locate(&mut self, sys: &mut System, sh: &mut Shared, va: u32, n: usize, acc: Access) -> Result<Loc, Exception> {
        let in_page = (va as usize & (PAGE - 1)) + n <= PAGE;
        if in_page {
            let pa = self.translate(&mut sys.ram, sh, va, acc)?;
            return Ok(match sys.ram.offset(pa, n as u64) {
                Some(off) => Loc::Ram(off),
                None => Loc::Mmio(pa),
            });
        }
        let va2 = (va | 0xfff).wrapping_add(1);
        let n1 = PAGE - (va as usize & (PAGE - 1));
        self.counters.data_walks += 2;
        let w1 = self.walk(&sys.ram, va, acc)?;
        let w2 = self.walk(&sys.ram, va2, acc)?;
        let off1 = sys.ram.offset(w1.pa, n1 as u64).ok_or(acc.access_fault(va))?;
        let off2 = sys.ram.offset(w2.pa, (n - n1) as u64).ok_or(acc.access_fault(va2))?;
        self.commit_walk(&mut sys.ram, sh, &w1);
        self.commit_walk(&mut sys.ram, sh, &w2);
        Ok(Loc::Split(off1, off2, n1))
    }

    fn read_loc(sys: &System, loc: Loc, n: usize) -> u32 {
        let mem = sys.ram.as_slice();
        let mut buf = [0u8; 4];
        match loc {
            Loc::Ram(off) => {
                if let Some(b) = mem.get(off..off + n) {
                    buf[..n].copy_from_slice(b);
                }
            }
            Loc::Split(o1, o2, n1) => {
                if let (Some(a), Some(b)) = (mem.get(o1..o1 + n1), mem.get(o2..o2 + (n - n1))) {
                    buf[..n1].copy_from_slice(a);
                    buf[n1..n].copy_from_slice(b);
                }
            }
            Loc::Mmio(_) => {}
        }
        u32::from_le_bytes(buf)
    }

    fn write_loc(&self, sys: &mut System, sh: &mut Shared, loc: Loc, n: usize, v: u32) {
        let bytes = v.to_le_bytes();
        match loc {
            Loc::Ram(off) => sh.write_ram(&mut sys.ram, off, &bytes[..n], self.id),
            Loc::Split(o1, o2, n1) => {
                sh.write_ram(&mut sys.ram, o1, &bytes[..n1], self.id);
                sh.write_ram(&mut sys.ram, o2, &bytes[n1..n], self.id);
            }
            Loc::Mmio(_) => {}
        }
    }

    #[cold]
    pub(crate) fn load_slow(&mut self, sys: &mut System, sh: &mut Shared, va: u32, n: usize) -> Result<u32, Exception> {
        match self.locate(sys, sh, va, n, Access::Load)? {
            Loc::Mmio(pa) => {
                if pa % n as u64 != 0 {
                    return Err(Exception::LoadAccess(va));
                }
                self.sync_clock(&sys.clock);
                let r = sys.mmio_read(pa, n as u8);
                sh.drain_device_writes(&mut sys.ram);
                r.map(|v| v as u32).map_err(|_| Exception::LoadAccess(va))
            }
            loc => Ok(Self::read_loc(sys, loc, n)),
        }
    }

    #[cold]
    pub(crate) fn store_slow(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        va: u32,
        n: usize,
        v: u32,
    ) -> Result<(), Exception> {
        match self.locate(sys, sh, va, n, Access::Store)? {
            Loc::Mmio(pa) => {
                if pa % n as u64 != 0 {
                    return Err(Exception::StoreAccess(va));
                }
                self.sync_clock(&sys.clock);
                let r = sys.mmio_write(pa, n as u8, u64::from(v));
                sh.drain_device_writes(&mut sys.ram);
                r.map_err(|_| Exception::StoreAccess(va))
            }
            loc => {
                self.write_loc(sys, sh, loc, n, v);
                Ok(())
            }
        }
    }

    /// An AMO: translates once with store permission, then reads, applies `op` with `src`, writes.
    /// Returns the old value; on a fault nothing is changed.
    pub(crate) fn amo(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        op: AmoOp,
        va: u32,
        src: u32,
    ) -> Result<u32, Exception> {
        if va & 3 != 0 && self.cfg.misaligned_amo == MisalignedAmo::Trap {
            return Err(Exception::StoreMisaligned(va));
        }
        let loc = self.locate(sys, sh, va, 4, Access::Store)?;
        if let Loc::Mmio(_) = loc {
            return Err(Exception::StoreAccess(va));
        }
        let old = Self::read_loc(sys, loc, 4);
        self.write_loc(sys, sh, loc, 4, op.apply(old, src));
        Ok(old)
    }

    /// `lr.w`: loads and reserves the granule.
    pub(crate) fn load_reserved(&mut self, sys: &mut System, sh: &mut Shared, va: u32) -> Result<u32, Exception> {
        if va & 3 != 0 {
            return Err(Exception::LoadMisaligned(va));
        }
        match self.locate(sys, sh, va, 4, Access::Load)? {
            Loc::Ram(off) => {
                let v = Self::read_loc(sys, Loc::Ram(off), 4);
                sh.reserve(&mut sys.ram, self.id, off, self.cfg.reservation_granule as usize);
                Ok(v)
            }
            _ => Err(Exception::LoadAccess(va)),
        }
    }

    /// `sc.w`: translates with store permission (faulting even if it would fail), then stores if
    /// the reservation holds. Returns 0 on success, 1 on failure; the reservation is gone either
    /// way.
    pub(crate) fn store_conditional(
        &mut self,
        sys: &mut System,
        sh: &mut Shared,
        va: u32,
        v: u32,
    ) -> Result<u32, Exception> {
        if va & 3 != 0 {
            return Err(Exception::StoreMisaligned(va));
        }
        match self.locate(sys, sh, va, 4, Access::Store)? {
            Loc::Ram(off) => {
                if sh.take_reservation(self.id, off) {
                    self.write_loc(sys, sh, Loc::Ram(off), 4, v);
                    Ok(0)
                } else {
                    Ok(1)
                }
            }
            _ => Err(Exception::StoreAccess(va)),
        }
    }
}
