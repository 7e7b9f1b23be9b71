//! The PLIC register model (SiFive / RISC-V PLIC 1.0.0 layout), without bus or hart glue.
//!
//! ```text
//! 0x000000 + 4*s            priority of source s (3 bits; source 0 reads 0)
//! 0x001000 + 4*w            pending bits of sources 32w..32w+31 (read only)
//! 0x002000 + 0x80*c + 4*w   enable bits of context c for sources 32w..32w+31
//! 0x200000 + 0x1000*c       priority threshold of context c
//! 0x200004 + 0x1000*c       claim (read) / complete (write) of context c
//! ```
//! Context `2h` is hart h's M-mode external interrupt (MEIP), `2h+1` its S-mode one (SEIP).
//!
//! Gateways are level-triggered: a source is pending while its input line is high and it is not
//! in service (claimed and not yet completed). A claim returns the pending source enabled in
//! that context with the highest priority above the context's threshold (ties: lowest id) and
//! puts it in service; a complete of a source enabled in that context takes it out of service,
//! so a line that is still high is pending again at once. Completes of sources not enabled in the
//! context are ignored, as the specification says.
//!
//! Registers of sources past [`SOURCES`] in the priority, pending and enable windows read 0 and
//! ignore writes (hard-wired to zero, as on a PLIC with fewer sources); offsets outside these
//! windows, or of contexts that do not exist, are [`Fault::Unmapped`]. Only 32-bit accesses are
//! accepted. All loops are bounded by the number of sources and contexts.

/// Number of interrupt sources, including the reserved source 0.
pub const SOURCES: usize = 128;
/// Highest usable source number (`riscv,ndev`).
pub const MAX_SOURCE: u32 = SOURCES as u32 - 1;
/// Words of 32 source bits.
const WORDS: usize = SOURCES / 32;
/// Priorities are 3 bits wide (0 = never interrupt, 7 = highest).
pub const PRIORITY_MASK: u32 = 7;

const PRIORITY_BASE: u64 = 0x0;
const PENDING_BASE: u64 = 0x1000;
const ENABLE_BASE: u64 = 0x2000;
const ENABLE_STRIDE: u64 = 0x80;
const CONTEXT_BASE: u64 = 0x20_0000;
const CONTEXT_STRIDE: u64 = 0x1000;
/// Size of the register region.
pub const MMIO_SIZE: u64 = 0x400_0000;

/// A register access the PLIC does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No register here.
    Unmapped,
}

/// One context's registers.
#[derive(Debug, Clone, Default)]
struct Context {
    enable: [u32; WORDS],
    threshold: u32,
}

/// The PLIC state.
#[derive(Debug, Clone)]
pub struct Plic {
    priority: [u32; SOURCES],
    /// Input levels as last sampled.
    level: [u32; WORDS],
    /// Sources in service (claimed, not yet completed).
    claimed: [u32; WORDS],
    contexts: Vec<Context>,
}

/// Where an offset lands.
enum Reg {
    Priority(usize),
    Pending(usize),
    Enable(usize, usize),
    Threshold(usize),
    Claim(usize),
    /// Hard-wired zero (a source past `SOURCES`).
    Zero,
}

impl Plic {
    /// A PLIC with `contexts` contexts (2 per hart), everything zero.
    pub fn new(contexts: usize) -> Self {
        Self {
            priority: [0; SOURCES],
            level: [0; WORDS],
            claimed: [0; WORDS],
            contexts: vec![Context::default(); contexts],
        }
    }

    /// Number of contexts.
    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Sets the input levels of sources `32*i..32*i+32` (bit 0 of word 0, source 0, is ignored).
    pub fn set_levels(&mut self, levels: impl Fn(usize) -> u32) {
        for (i, w) in self.level.iter_mut().enumerate() {
            *w = levels(i);
        }
        self.level[0] &= !1;
    }

    /// Pending bits of word `w`: line high and not in service.
    fn pending(&self, w: usize) -> u32 {
        self.level[w] & !self.claimed[w]
    }

    /// The source context `ctx` would get from a claim now (0 if none).
    pub fn best(&self, ctx: usize) -> u32 {
        let Some(c) = self.contexts.get(ctx) else { return 0 };
        let mut best = 0;
        let mut best_prio = c.threshold;
        for w in 0..WORDS {
            let mut bits = self.pending(w) & c.enable[w];
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let src = w * 32 + b;
                if self.priority[src] > best_prio {
                    best_prio = self.priority[src];
                    best = src as u32;
                }
            }
        }
        best
    }

    /// Whether context `ctx` has a claimable interrupt (its interrupt output).
    pub fn eip(&self, ctx: usize) -> bool {
        self.best(ctx) != 0
    }

    fn decode(&self, offset: u64) -> Result<Reg, Fault> {
        let n = self.contexts.len() as u64;
        let idx = |off: u64, stride: u64| (off / stride) as usize;
        match offset {
            PRIORITY_BASE..PENDING_BASE => {
                let s = idx(offset, 4);
                Ok(if s < SOURCES { Reg::Priority(s) } else { Reg::Zero })
            }
            PENDING_BASE..0x1080 => {
                let w = idx(offset - PENDING_BASE, 4);
                Ok(if w < WORDS { Reg::Pending(w) } else { Reg::Zero })
            }
            ENABLE_BASE..0x1F_2000 => {
                let rel = offset - ENABLE_BASE;
                let (c, w) = (idx(rel, ENABLE_STRIDE), idx(rel % ENABLE_STRIDE, 4));
                if c as u64 >= n {
                    Err(Fault::Unmapped)
                } else if w < WORDS {
                    Ok(Reg::Enable(c, w))
                } else {
                    Ok(Reg::Zero)
                }
            }
            CONTEXT_BASE..MMIO_SIZE => {
                let rel = offset - CONTEXT_BASE;
                let c = idx(rel, CONTEXT_STRIDE);
                match rel % CONTEXT_STRIDE {
                    _ if c as u64 >= n => Err(Fault::Unmapped),
                    0 => Ok(Reg::Threshold(c)),
                    4 => Ok(Reg::Claim(c)),
                    _ => Err(Fault::Unmapped),
                }
            }
            _ => Err(Fault::Unmapped),
        }
    }

    /// Reads the 32-bit register at `offset` (4-byte aligned; the caller checks).
    pub fn read(&mut self, offset: u64) -> Result<u32, Fault> {
        Ok(match self.decode(offset)? {
            Reg::Priority(s) => self.priority[s],
            Reg::Pending(w) => self.pending(w),
            Reg::Enable(c, w) => self.contexts[c].enable[w],
            Reg::Threshold(c) => self.contexts[c].threshold,
            Reg::Claim(c) => self.claim(c),
            Reg::Zero => 0,
        })
    }

    /// Writes the 32-bit register at `offset` (4-byte aligned; the caller checks).
    pub fn write(&mut self, offset: u64, value: u32) -> Result<(), Fault> {
        match self.decode(offset)? {
            Reg::Priority(s) => {
                if s != 0 {
                    self.priority[s] = value & PRIORITY_MASK;
                }
            }
            Reg::Enable(c, w) => {
                let mask = if w == 0 { !1 } else { !0 };
                self.contexts[c].enable[w] = value & mask;
            }
            Reg::Threshold(c) => self.contexts[c].threshold = value & PRIORITY_MASK,
            Reg::Claim(c) => self.complete(c, value),
            Reg::Pending(_) | Reg::Zero => {}
        }
        Ok(())
    }

    /// Claims the best interrupt of context `ctx`: puts it in service and returns its id (0: none).
    pub fn claim(&mut self, ctx: usize) -> u32 {
        let src = self.best(ctx);
        if src != 0 {
            self.claimed[src as usize / 32] |= 1 << (src % 32);
        }
        src
    }

    /// Completes source `src` for context `ctx`: takes it out of service if it is enabled there.
    pub fn complete(&mut self, ctx: usize, src: u32) {
        let Some(c) = self.contexts.get(ctx) else { return };
        let (w, bit) = (src as usize / 32, 1u32 << (src % 32));
        if w < WORDS && c.enable[w] & bit != 0 {
            self.claimed[w] &= !bit;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enable(p: &mut Plic, ctx: u64, src: u32) {
        let off = ENABLE_BASE + ENABLE_STRIDE * ctx + 4 * u64::from(src / 32);
        let v = p.read(off).unwrap();
        p.write(off, v | 1 << (src % 32)).unwrap();
    }

    fn prio(p: &mut Plic, src: u32, v: u32) {
        p.write(4 * u64::from(src), v).unwrap();
    }

    fn claim_off(ctx: u64) -> u64 {
        CONTEXT_BASE + CONTEXT_STRIDE * ctx + 4
    }

    fn raise(p: &mut Plic, srcs: &[u32]) {
        let mut words = [0u32; WORDS];
        for &s in srcs {
            words[s as usize / 32] |= 1 << (s % 32);
        }
        p.set_levels(|i| words[i]);
    }

    #[test]
    fn priority_and_threshold_masking() {
        let mut p = Plic::new(2);
        raise(&mut p, &[5]);
        enable(&mut p, 0, 5);
        assert!(!p.eip(0), "priority 0 never interrupts");
        prio(&mut p, 5, 3);
        assert!(p.eip(0));
        p.write(CONTEXT_BASE, 3).unwrap();
        assert!(!p.eip(0), "priority must exceed the threshold");
        p.write(CONTEXT_BASE, 2).unwrap();
        assert!(p.eip(0));
        prio(&mut p, 5, 0xFF);
        assert_eq!(p.read(20).unwrap(), 7, "3 priority bits");
        p.write(CONTEXT_BASE, 0xFF).unwrap();
        assert_eq!(p.read(CONTEXT_BASE).unwrap(), 7);
        assert!(!p.eip(0), "threshold 7 masks everything");
    }

    #[test]
    fn claim_order_highest_priority_then_lowest_id() {
        let mut p = Plic::new(2);
        for (s, pr) in [(3, 1), (9, 4), (40, 4), (70, 2)] {
            prio(&mut p, s, pr);
            enable(&mut p, 1, s);
        }
        raise(&mut p, &[3, 9, 40, 70]);
        assert_eq!(p.read(PENDING_BASE).unwrap(), 1 << 3 | 1 << 9);
        assert_eq!(p.read(PENDING_BASE + 4).unwrap(), 1 << 8);
        let order: Vec<u32> = (0..5).map(|_| p.read(claim_off(1)).unwrap()).collect();
        assert_eq!(order, [9, 40, 70, 3, 0]);
        assert_eq!(p.read(PENDING_BASE).unwrap(), 0, "claimed sources are not pending");
        assert!(!p.eip(1));
    }

    #[test]
    fn claim_complete_with_level_still_high_repends() {
        let mut p = Plic::new(2);
        prio(&mut p, 10, 1);
        enable(&mut p, 0, 10);
        raise(&mut p, &[10]);
        assert_eq!(p.read(claim_off(0)).unwrap(), 10);
        assert!(!p.eip(0), "in service");
        raise(&mut p, &[10]);
        assert!(!p.eip(0), "still in service while the line stays high");
        p.write(claim_off(0), 10).unwrap();
        assert!(p.eip(0), "completed with the line high: pending again");
        assert_eq!(p.read(claim_off(0)).unwrap(), 10);
        raise(&mut p, &[]);
        p.write(claim_off(0), 10).unwrap();
        assert!(!p.eip(0), "line low after complete: nothing pending");
        assert_eq!(p.read(claim_off(0)).unwrap(), 0);
    }

    #[test]
    fn complete_of_source_not_enabled_is_ignored() {
        let mut p = Plic::new(4);
        prio(&mut p, 7, 1);
        enable(&mut p, 0, 7);
        raise(&mut p, &[7]);
        assert_eq!(p.read(claim_off(0)).unwrap(), 7);
        p.write(claim_off(2), 7).unwrap();
        p.write(claim_off(0), 99).unwrap();
        p.write(claim_off(0), 1000).unwrap();
        assert!(!p.eip(0), "complete from a context without source 7 enabled is ignored");
        p.write(claim_off(0), 7).unwrap();
        assert!(p.eip(0));
    }

    #[test]
    fn per_context_enables() {
        let mut p = Plic::new(4);
        prio(&mut p, 1, 1);
        prio(&mut p, 2, 1);
        enable(&mut p, 0, 1);
        enable(&mut p, 3, 2);
        raise(&mut p, &[1, 2]);
        assert_eq!([p.best(0), p.best(1), p.best(2), p.best(3)], [1, 0, 0, 2]);
        assert_eq!(p.read(ENABLE_BASE + ENABLE_STRIDE * 3).unwrap(), 1 << 2);
        // Source 0 cannot be enabled or prioritised.
        p.write(ENABLE_BASE, !0).unwrap();
        assert_eq!(p.read(ENABLE_BASE).unwrap(), !1);
        prio(&mut p, 0, 5);
        assert_eq!(p.read(0).unwrap(), 0);
    }

    #[test]
    fn offsets_out_of_range() {
        let mut p = Plic::new(2);
        // Sources past SOURCES: hard-wired zero.
        p.write(4 * SOURCES as u64, 5).unwrap();
        assert_eq!(p.read(4 * SOURCES as u64), Ok(0));
        assert_eq!(p.read(PENDING_BASE + 4 * WORDS as u64), Ok(0));
        assert_eq!(p.read(ENABLE_BASE + 4 * WORDS as u64), Ok(0));
        // Contexts that do not exist, and holes.
        assert_eq!(p.read(ENABLE_BASE + ENABLE_STRIDE * 2), Err(Fault::Unmapped));
        assert_eq!(p.read(CONTEXT_BASE + CONTEXT_STRIDE * 2), Err(Fault::Unmapped));
        assert_eq!(p.write(claim_off(2), 1), Err(Fault::Unmapped));
        assert_eq!(p.read(CONTEXT_BASE + 8), Err(Fault::Unmapped));
        assert_eq!(p.read(0x1080), Err(Fault::Unmapped));
        assert_eq!(p.read(0x1F_2000), Err(Fault::Unmapped));
        assert_eq!(p.read(MMIO_SIZE), Err(Fault::Unmapped));
        assert_eq!(p.read(u64::MAX - 3), Err(Fault::Unmapped));
        // The last context that exists in a full-size PLIC layout is still decodable.
        let mut big = Plic::new(15872);
        assert_eq!(big.read(MMIO_SIZE - CONTEXT_STRIDE + 4), Ok(0));
        assert_eq!(big.read(ENABLE_BASE + ENABLE_STRIDE * 15871), Ok(0));
    }
}
