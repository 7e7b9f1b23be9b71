//! Guest RAM: one contiguous region of guest physical memory.

/// Size of the pages [`GuestRam`] watches for writes (the CPU's page size).
const WATCH_PAGE_SIZE: usize = 4096;
const WATCH_SHIFT: u32 = 12;

/// Guest RAM. The backing store is a zeroed allocation that the host OS maps lazily, so a large
/// guest that touches little memory costs little host memory.
///
/// Every access is bounds-checked: a guest-provided address outside RAM yields `None`, never a
/// host out-of-bounds access.
///
/// **Write watching.** The CPU keeps state derived from guest memory: decoded instructions and
/// LR/SC reservations. It marks the 4 KiB pages it derived something from with
/// [`watch`](Self::watch) bits. A write through this type's API (device DMA, loaders) to a watched
/// page clears the page's bits and logs the page, so the CPU drops what it derived
/// ([`take_write_hits`](Self::take_write_hits)) before it runs on. The CPU's own stores use
/// [`untracked_mut`](Self::untracked_mut) after checking [`watched`](Self::watched) themselves.
pub struct GuestRam {
    base: u64,
    mem: Vec<u8>,
    watch: Vec<u8>,
    hits: Vec<(u32, u8)>,
}

impl GuestRam {
    /// RAM of `size` bytes at guest physical address `base`, all zero.
    pub fn new(base: u64, size: u64) -> Self {
        let size = usize::try_from(size).expect("RAM size fits the host address space");
        let pages = size.div_ceil(WATCH_PAGE_SIZE);
        Self { base, mem: vec![0; size], watch: vec![0; pages], hits: Vec::new() }
    }

    /// Guest physical address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.mem.len() as u64
    }

    /// Offset into the backing store of `len` bytes at `gpa`, if they all lie in RAM.
    #[inline]
    pub fn offset(&self, gpa: u64, len: u64) -> Option<usize> {
        let off = gpa.checked_sub(self.base)?;
        let end = off.checked_add(len)?;
        if end <= self.mem.len() as u64 {
            Some(off as usize)
        } else {
            None
        }
    }

    /// Whether `len` bytes at `gpa` all lie in RAM.
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        self.offset(gpa, len).is_some()
    }

    /// The bytes at `gpa`, if they all lie in RAM.
    pub fn slice(&self, gpa: u64, len: usize) -> Option<&[u8]> {
        let off = self.offset(gpa, len as u64)?;
        Some(&self.mem[off..off + len])
    }

    /// The bytes at `gpa`, mutably, if they all lie in RAM.
    pub fn slice_mut(&mut self, gpa: u64, len: usize) -> Option<&mut [u8]> {
        let off = self.offset(gpa, len as u64)?;
        self.note_write(off, len);
        Some(&mut self.mem[off..off + len])
    }

    /// Copies guest memory at `gpa` into `buf`.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Option<()> {
        buf.copy_from_slice(self.slice(gpa, buf.len())?);
        Some(())
    }

    /// Copies `buf` into guest memory at `gpa`.
    pub fn write(&mut self, gpa: u64, buf: &[u8]) -> Option<()> {
        self.slice_mut(gpa, buf.len())?.copy_from_slice(buf);
        Some(())
    }

    /// Little-endian u16 at `gpa`.
    pub fn read_u16(&self, gpa: u64) -> Option<u16> {
        let mut b = [0; 2];
        self.read(gpa, &mut b)?;
        Some(u16::from_le_bytes(b))
    }

    /// Little-endian u32 at `gpa`.
    pub fn read_u32(&self, gpa: u64) -> Option<u32> {
        let mut b = [0; 4];
        self.read(gpa, &mut b)?;
        Some(u32::from_le_bytes(b))
    }

    /// Little-endian u64 at `gpa`.
    pub fn read_u64(&self, gpa: u64) -> Option<u64> {
        let mut b = [0; 8];
        self.read(gpa, &mut b)?;
        Some(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u16 at `gpa`.
    pub fn write_u16(&mut self, gpa: u64, v: u16) -> Option<()> {
        self.write(gpa, &v.to_le_bytes())
    }

    /// Writes a little-endian u32 at `gpa`.
    pub fn write_u32(&mut self, gpa: u64, v: u32) -> Option<()> {
        self.write(gpa, &v.to_le_bytes())
    }

    /// Writes a little-endian u64 at `gpa`.
    pub fn write_u64(&mut self, gpa: u64, v: u64) -> Option<()> {
        self.write(gpa, &v.to_le_bytes())
    }

    /// The whole backing store (for the CPU's fast path and for loaders).
    pub fn as_slice(&self) -> &[u8] {
        &self.mem
    }

    /// The whole backing store, mutably. Counts as a write to every page.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.note_write(0, self.mem.len());
        &mut self.mem
    }

    /// The whole backing store, mutably, without write watching: for the CPU, which checks
    /// [`watched`](Self::watched) before it stores.
    #[inline]
    pub fn untracked_mut(&mut self) -> &mut [u8] {
        &mut self.mem
    }

    /// The watch bits of the page holding backing-store offset `off` (0 outside RAM).
    #[inline]
    pub fn watched(&self, off: usize) -> u8 {
        self.watch.get(off >> WATCH_SHIFT).copied().unwrap_or(0)
    }

    /// The watch bits of the page holding backing-store offset `off`, without a bounds check.
    ///
    /// # Safety
    ///
    /// `off` must be below [`size`](Self::size).
    #[inline(always)]
    pub unsafe fn watched_unchecked(&self, off: usize) -> u8 {
        debug_assert!(off < self.mem.len());
        // SAFETY: `watch` has an entry for every page of `mem`, and the caller keeps `off` in it
        unsafe { *self.watch.get_unchecked(off >> WATCH_SHIFT) }
    }

    /// The watch bytes, one per 4 KiB page of the backing store (for generated code, which reads
    /// the byte of page `off >> 12` for an offset `off` inside RAM).
    pub fn watch_ptr(&self) -> *const u8 {
        self.watch.as_ptr()
    }

    /// Sets watch `bits` on the page holding offset `off`.
    pub fn watch(&mut self, off: usize, bits: u8) {
        if let Some(w) = self.watch.get_mut(off >> WATCH_SHIFT) {
            *w |= bits;
        }
    }

    /// Clears watch `bits` on the page holding offset `off`.
    pub fn unwatch(&mut self, off: usize, bits: u8) {
        if let Some(w) = self.watch.get_mut(off >> WATCH_SHIFT) {
            *w &= !bits;
        }
    }

    /// Drops every watch bit and every logged hit.
    pub fn clear_watches(&mut self) {
        self.watch.fill(0);
        self.hits.clear();
    }

    /// Whether a tracked write hit a watched page since the last
    /// [`take_write_hits`](Self::take_write_hits).
    #[inline]
    pub fn has_write_hits(&self) -> bool {
        !self.hits.is_empty()
    }

    /// Calls `f(page_offset, bits)` for every watched page a tracked write hit (the page's
    /// backing-store offset and the watch bits it had), and forgets them.
    pub fn take_write_hits(&mut self, mut f: impl FnMut(usize, u8)) {
        let mut hits = std::mem::take(&mut self.hits);
        for &(page, bits) in &hits {
            f((page as usize) << WATCH_SHIFT, bits);
        }
        hits.clear();
        self.hits = hits;
    }

    fn note_write(&mut self, off: usize, len: usize) {
        if len == 0 {
            return;
        }
        let first = off >> WATCH_SHIFT;
        let last = (off + len - 1) >> WATCH_SHIFT;
        for page in first..=last.min(self.watch.len().saturating_sub(1)) {
            let bits = std::mem::take(&mut self.watch[page]);
            if bits != 0 {
                self.hits.push((page as u32, bits));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut ram = GuestRam::new(0x8000_0000, 0x1000);
        assert!(ram.write_u32(0x8000_0ffc, 0xdead_beef).is_some());
        assert_eq!(ram.read_u32(0x8000_0ffc), Some(0xdead_beef));
        assert_eq!(ram.read_u32(0x8000_0ffd), None, "straddles the end");
        assert_eq!(ram.read_u32(0x7fff_fffe), None, "straddles the start");
        assert_eq!(ram.read_u64(u64::MAX - 2), None, "wraps around");
        assert!(ram.slice(0x8000_0000, 0x1001).is_none());
    }

    #[test]
    fn tracked_writes_to_watched_pages_are_logged() {
        let mut ram = GuestRam::new(0x8000_0000, 0x4000);
        ram.watch(0x1000, 1);
        ram.watch(0x2fff, 2);
        assert_eq!((ram.watched(0x1abc), ram.watched(0x2000), ram.watched(0)), (1, 2, 0));
        ram.write_u32(0x8000_0000, 5).unwrap();
        assert!(!ram.has_write_hits(), "unwatched page");
        ram.untracked_mut()[0x1000] = 1;
        assert!(!ram.has_write_hits(), "untracked write");
        ram.write(0x8000_0ffe, &[0; 0x1004]).unwrap();
        let mut hits = Vec::new();
        ram.take_write_hits(|p, b| hits.push((p, b)));
        assert_eq!(hits, [(0x1000, 1), (0x2000, 2)]);
        assert_eq!((ram.watched(0x1000), ram.watched(0x2000)), (0, 0), "a hit clears the bits");
        assert!(!ram.has_write_hits());
        ram.watch(0x3000, 1);
        let _ = ram.as_mut_slice();
        hits.clear();
        ram.take_write_hits(|p, b| hits.push((p, b)));
        assert_eq!(hits, [(0x3000, 1)]);
        assert_eq!(ram.watched(usize::MAX), 0);
    }
}
