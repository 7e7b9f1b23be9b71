//! Property test: random instruction words in random machine states never panic the host.

use semu_api::{BusFault, DevCtx, Device};

use super::{asm, Machine, RAM_BASE, ROOT};
use crate::cpu::Priv;

/// xorshift64*: a small deterministic PRNG.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
    pub fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// A device that accepts 4-byte accesses at offset 0 only.
struct Reg(u64);

impl Device for Reg {
    fn read(&mut self, off: u64, size: u8, _: &mut DevCtx) -> Result<u64, BusFault> {
        if off == 0 && size == 4 {
            Ok(self.0)
        } else {
            Err(BusFault::Unmapped)
        }
    }
    fn write(&mut self, off: u64, size: u8, v: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
        if off == 0 && size == 4 {
            self.0 = v;
            // DMA into RAM, to exercise device-write tracking
            let _ = ctx.ram.write_u32(RAM_BASE + (v & 0xfffc), v as u32);
            Ok(())
        } else {
            Err(BusFault::BadSize)
        }
    }
}

/// Major opcodes of RV32 base instructions (and a few that are not), to make most random words
/// decode to something.
const OPCODES: [u32; 14] = [0x03, 0x0f, 0x13, 0x17, 0x23, 0x2f, 0x33, 0x37, 0x63, 0x67, 0x6f, 0x73, 0x07, 0x53];

fn random_word(rng: &mut Rng) -> u32 {
    let w = rng.next();
    match rng.below(8) {
        0 => w,
        // SYSTEM: favour real CSR numbers and privileged instructions
        1 => {
            const CSRS: [u32; 19] = [
                0x100, 0x104, 0x105, 0x141, 0x144, 0x180, 0x300, 0x302, 0x303, 0x304, 0x305, 0x341, 0x344, 0xc00,
                0xc01, 0xb00, 0xb02, 0xb80, 0xb82,
            ];
            let csr = CSRS[rng.below(CSRS.len() as u32) as usize];
            match rng.below(4) {
                0 => [0x3020_0073, 0x1020_0073, 0x1050_0073, 0x1200_0073, 0x0000_0073, 0x0010_0073]
                    [rng.below(6) as usize],
                _ => csr << 20 | (w & 0x000f_ffff & !0x7f) | 0x73,
            }
        }
        _ => (w & !0x7f) | OPCODES[rng.below(OPCODES.len() as u32) as usize],
    }
}

#[test]
fn random_words_never_panic() {
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let mut m = Machine::new(2);
    m.sys.bus.map("reg", 0x1000_0000, 0x1000, Box::new(Reg(0))).unwrap();
    // a page table with random entries, some pointing into RAM
    for i in 0..2048u64 {
        let e = if rng.below(2) == 0 { rng.next() } else { (0x80000 + rng.below(0x100)) << 10 | rng.below(256) };
        m.sys.ram.write_u32(ROOT + 4 * i, e).unwrap();
    }
    let region = 0x2_0000u32; // the first 128 KiB of RAM hold code and data
    let mut executed = 0u64;
    for round in 0..5000u32 {
        if round % 50 == 0 {
            for i in 0..region / 4 {
                if rng.below(4) == 0 {
                    let w = random_word(&mut rng);
                    m.sys.ram.write_u32(RAM_BASE + u64::from(i) * 4, w).unwrap();
                }
            }
        }
        let h = rng.below(2) as usize;
        let hart = &mut m.harts[h];
        hart.set_privilege([Priv::U, Priv::S, Priv::M][rng.below(3) as usize]);
        let in_ram = |r: &mut Rng| 0x8000_0000 + r.below(region);
        if rng.below(4) == 0 {
            hart.set_csr(0x180, rng.next() & 1 << 31 | (ROOT >> 12) as u32);
        }
        if rng.below(4) == 0 {
            hart.set_csr(0x300, rng.next());
        }
        for c in [0x302, 0x303, 0x304, 0x306, 0x106] {
            if rng.below(8) == 0 {
                hart.set_csr(c, rng.next());
            }
        }
        let tv = in_ram(&mut rng) & !3;
        hart.set_csr(0x305, tv | rng.below(2));
        let tv = in_ram(&mut rng) & !3;
        hart.set_csr(0x105, tv | rng.below(2));
        hart.firmware = rng.below(4) == 0;
        for r in 1..32 {
            let v = match rng.below(4) {
                0 => rng.next(),
                1 => 0x1000_0000 + rng.below(8),
                _ => in_ram(&mut rng),
            };
            hart.set_reg(r, v);
        }
        hart.set_pc(in_ram(&mut rng) & !3);
        if rng.below(16) == 0 {
            m.sys.hart_lines.set(h, rng.next() & 0xaaa, true);
        }
        let (n, _) = m.harts[h].run_slice(&mut m.sys, &mut m.sh, 100, false);
        executed += n;
        assert_eq!(m.harts[h].reg(0), 0);
        m.sys.hart_lines.set(h, 0xaaa, false);
    }
    assert!(executed > 200_000, "executed {executed}");
}

/// A random instruction that is mostly an ordinary one: ALU, M, loads and stores near the
/// registers (which mostly point into RAM), short branches and jumps (in the page or across it),
/// and sometimes anything [`random_word`] makes.
fn plausible_word(rng: &mut Rng) -> u32 {
    let w = rng.next();
    let (rd, rs1, rs2) = (w >> 7 & 31, w >> 15 & 31, w >> 20 & 31);
    let small = |r: &mut Rng| (r.below(256) as i32 - 128) & !3;
    match rng.below(16) {
        0..=2 => (w & !0x7f & !(0x7f << 25)) | [0, 0x20, 1][rng.below(3) as usize] << 25 | 0x33,
        3..=4 => (w & !0x7f) | 0x13,
        5 => (w & !0x7f) | [0x37, 0x17][rng.below(2) as usize],
        6..=7 => asm::i(small(rng) | rng.below(4) as i32, rs1, [0, 1, 2, 4, 5][rng.below(5) as usize], rd, 0x03),
        8..=9 => asm::s(small(rng) | rng.below(4) as i32, rs2, rs1, rng.below(3), 0x23),
        10..=11 => {
            let off = if rng.below(8) == 0 { (rng.next() as i32) >> 19 } else { small(rng) };
            asm::b(off & !1, rs2, rs1, [0, 1, 4, 5, 6, 7][rng.below(6) as usize])
        }
        12 => asm::jal(rd, if rng.below(4) == 0 { (rng.next() as i32 >> 11) & !1 } else { small(rng) }),
        13 => asm::jalr(rd, rs1, small(rng)),
        _ => random_word(rng),
    }
}

/// Compares everything a program can see of two machines.
fn assert_same(a: &Machine, b: &Machine, h: usize, region: u32, what: &str) {
    let (x, y) = (&a.harts[h], &b.harts[h]);
    assert_eq!((x.pc(), x.privilege(), x.instret()), (y.pc(), y.privilege(), y.instret()), "{what}: pc, mode, instret");
    for r in 0..32 {
        assert_eq!(x.reg(r), y.reg(r), "{what}: x{r}");
    }
    for c in [0x100, 0x104, 0x141, 0x142, 0x143, 0x180, 0x300, 0x304, 0x341, 0x342, 0x343, 0x344, 0xb00] {
        assert_eq!(x.csr(c), y.csr(c), "{what}: csr {c:#x}");
    }
    let (ra, rb) = (a.sys.ram.slice(RAM_BASE, region as usize), b.sys.ram.slice(RAM_BASE, region as usize));
    assert!(ra == rb, "{what}: RAM differs");
}

#[test]
fn fast_loop_matches_the_reference_loop() {
    fast_matches_reference(0xd1ff_5eed_0000_0001, None, 4000);
}

/// The same with the compiling tier compiling every page as soon as it ran once (and again
/// after every change), so compiled code runs everything it can.
#[test]
fn compiled_code_matches_the_reference_loop() {
    fast_matches_reference(0xd1ff_5eed_0000_0002, Some(0), 400);
}

fn fast_matches_reference(seed: u64, jit: Option<u32>, rounds: u32) {
    let mut rng = Rng::new(seed);
    let mut ms = [Machine::new(2), Machine::new(2)];
    ms[0].sh.set_jit(jit);
    for m in &mut ms {
        m.sys.bus.map("reg", 0x1000_0000, 0x1000, Box::new(Reg(0))).unwrap();
    }
    let region = 0x2_0000u32;
    let mut executed = 0u64;
    for round in 0..rounds {
        // the same random state on both machines: draw once, apply twice
        let mut writes = Vec::new();
        if round % 40 == 0 {
            for i in 0..2048u64 {
                let e = if rng.below(2) == 0 { rng.next() } else { (0x80000 + rng.below(0x20)) << 10 | rng.below(256) };
                writes.push((ROOT + 4 * i, e));
            }
            for i in 0..region / 4 {
                if rng.below(3) == 0 {
                    writes.push((RAM_BASE + u64::from(i) * 4, plausible_word(&mut rng)));
                }
            }
        }
        let h = rng.below(2) as usize;
        let mode = [Priv::U, Priv::S, Priv::M][rng.below(3) as usize];
        let in_ram = |r: &mut Rng| 0x8000_0000 + r.below(region);
        let mut csrs = Vec::new();
        if rng.below(4) == 0 {
            csrs.push((0x180, rng.next() & 1 << 31 | (ROOT >> 12) as u32));
        }
        if rng.below(4) == 0 {
            csrs.push((0x300, rng.next()));
        }
        for c in [0x302, 0x303, 0x304, 0x306, 0x106] {
            if rng.below(8) == 0 {
                csrs.push((c, rng.next()));
            }
        }
        csrs.push((0x305, in_ram(&mut rng) & !3 | rng.below(2)));
        csrs.push((0x105, in_ram(&mut rng) & !3 | rng.below(2)));
        let firmware = rng.below(4) == 0;
        let regs: Vec<u32> = (1..32)
            .map(|_| match rng.below(4) {
                0 => rng.next(),
                1 => 0x1000_0000 + rng.below(8),
                _ => in_ram(&mut rng),
            })
            .collect();
        // often a few instructions before a page end, with a budget that may end right there
        let pc = match rng.below(2) {
            0 => (in_ram(&mut rng) | 0xfff).wrapping_sub(3 + 4 * rng.below(8)),
            _ => in_ram(&mut rng) & !3,
        };
        let lines = (rng.below(16) == 0).then(|| rng.next() & 0xaaa);
        let budget = u64::from(1 + if rng.below(2) == 0 { rng.below(10) } else { rng.below(300) });
        let mut results = Vec::new();
        for (k, m) in ms.iter_mut().enumerate() {
            for &(a, v) in &writes {
                m.sys.ram.write_u32(a, v).unwrap();
            }
            m.sh.drain_device_writes(&mut m.sys.ram);
            let hart = &mut m.harts[h];
            hart.set_privilege(mode);
            for &(c, v) in &csrs {
                hart.set_csr(c, v);
            }
            hart.firmware = firmware;
            for (r, &v) in regs.iter().enumerate() {
                hart.set_reg(r + 1, v);
            }
            hart.set_pc(pc);
            if let Some(l) = lines {
                m.sys.hart_lines.set(h, l, true);
            }
            let r = if k == 0 {
                m.harts[h].run_slice(&mut m.sys, &mut m.sh, budget, false)
            } else {
                m.harts[h].run_slice_reference(&mut m.sys, &mut m.sh, budget)
            };
            m.sys.hart_lines.set(h, 0xaaa, false);
            results.push(r);
        }
        assert_eq!(results[0], results[1], "round {round}: slice result");
        let [a, b] = &ms;
        assert_same(a, b, h, region, &format!("round {round}"));
        executed += results[0].0;
    }
    assert!(executed > u64::from(rounds) * 25, "executed {executed}");
    if jit.is_some() {
        let native = ms[0].harts.iter().map(|h| h.counters().compiled_instructions).sum::<u64>();
        assert!(ms[0].sh.compiled_pages() > 20, "compiled {} pages", ms[0].sh.compiled_pages());
        assert!(native > executed / 10, "compiled code ran {native} of {executed} instructions");
    }
}
