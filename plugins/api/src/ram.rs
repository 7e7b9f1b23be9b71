//! Guest RAM: one contiguous region of guest physical memory.

/// Guest RAM. The backing store is a zeroed allocation that the host OS maps lazily, so a large
/// guest that touches little memory costs little host memory.
///
/// Every access is bounds-checked: a guest-provided address outside RAM yields `None`, never a
/// host out-of-bounds access.
pub struct GuestRam {
    base: u64,
    mem: Vec<u8>,
}

impl GuestRam {
    /// RAM of `size` bytes at guest physical address `base`, all zero.
    pub fn new(base: u64, size: u64) -> Self {
        let size = usize::try_from(size).expect("RAM size fits the host address space");
        Self { base, mem: vec![0; size] }
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

    /// The whole backing store, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.mem
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
}
