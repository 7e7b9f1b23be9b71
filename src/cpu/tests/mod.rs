//! CPU tests: a small machine (1 MiB of RAM, no devices), programs assembled with [`asm`], run
//! one instruction at a time.

pub(crate) mod asm;
mod atomics;
mod fuzz;
mod isa;
mod vm;

use std::io::Write;
use std::sync::{Arc, Mutex};

use semu_api::{Console, GuestRam, HartLines};

use super::{Hart, HartConfig, Shared, SliceExit};
use crate::bus::{Bus, System};
use crate::clock::{Clock, ClockSource};

pub(crate) const RAM_BASE: u64 = 0x8000_0000;
pub(crate) const RAM_SIZE: u64 = 0x10_0000;
/// Where test programs go.
pub(crate) const CODE: u32 = 0x8000_0000;
/// M-mode trap vector (a `j .`).
pub(crate) const MTVEC: u32 = 0x8000_f000;
/// S-mode trap vector (a `j .`).
pub(crate) const STVEC: u32 = 0x8000_e000;
/// Root page table.
pub(crate) const ROOT: u64 = 0x8008_0000;

pub(crate) const PTE_V: u32 = 1;
pub(crate) const PTE_R: u32 = 2;
pub(crate) const PTE_W: u32 = 4;
pub(crate) const PTE_X: u32 = 8;
pub(crate) const PTE_U: u32 = 16;
pub(crate) const PTE_A: u32 = 64;
pub(crate) const PTE_D: u32 = 128;

/// A console output buffer tests can read.
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A system with 1 MiB of RAM at [`RAM_BASE`], no devices, and an instret clock.
pub(crate) fn system(harts: usize, console: Arc<Console>) -> System {
    System {
        ram: GuestRam::new(RAM_BASE, RAM_SIZE),
        bus: Bus::default(),
        hart_lines: HartLines::new(harts),
        clock: Clock::new(10_000_000, ClockSource::Instret { instructions_per_tick: 1 }),
        console,
        stop: None,
        verbose: false,
    }
}

/// Harts and a system for [`crate::run::run`]: hart 0 at [`CODE`] in `p`, the others stopped;
/// `program` loaded at [`CODE`].
pub(crate) fn boot(n: usize, console: Arc<Console>, p: super::Priv, program: &[u32]) -> (Vec<Hart>, System) {
    let mut sys = system(n, console);
    for (i, w) in program.iter().enumerate() {
        sys.ram.write_u32(u64::from(CODE) + 4 * i as u64, *w).unwrap();
    }
    let harts = (0..n)
        .map(|i| {
            let mut h = Hart::new(i, &HartConfig::default());
            h.set_pc(CODE);
            h.set_privilege(p);
            h.set_stopped(i != 0);
            h
        })
        .collect();
    (harts, sys)
}

pub(crate) struct Machine {
    pub sys: System,
    pub harts: Vec<Hart>,
    pub sh: Shared,
    next_table: u64,
}

impl Machine {
    pub fn new(n: usize) -> Self {
        Self::with_config(n, HartConfig::default())
    }

    pub fn with_config(n: usize, cfg: HartConfig) -> Self {
        let mut sys = system(n, Console::sink());
        let sh = Shared::new(&mut sys.ram);
        let harts = (0..n)
            .map(|i| {
                let mut h = Hart::new(i, &cfg);
                h.set_csr(0x305, MTVEC);
                h.set_csr(0x105, STVEC);
                h.set_pc(CODE);
                h
            })
            .collect();
        let mut m = Self { sys, harts, sh, next_table: ROOT + 0x1000 };
        m.load(MTVEC, &[asm::SPIN]);
        m.load(STVEC, &[asm::SPIN]);
        m
    }

    /// Writes words at `addr` (as a device would: the decode cache notices).
    pub fn load(&mut self, addr: u32, words: &[u32]) {
        for (i, w) in words.iter().enumerate() {
            self.sys.ram.write_u32(u64::from(addr) + 4 * i as u64, *w).unwrap();
        }
        self.sh.drain_device_writes(&mut self.sys.ram);
    }

    pub fn r32(&self, pa: u64) -> u32 {
        self.sys.ram.read_u32(pa).unwrap()
    }

    pub fn w32(&mut self, pa: u64, v: u32) {
        self.sys.ram.write_u32(pa, v).unwrap();
        self.sh.drain_device_writes(&mut self.sys.ram);
    }

    /// Runs one instruction (or takes one trap) on hart `h`.
    pub fn step(&mut self, h: usize) -> SliceExit {
        self.harts[h].run_slice(&mut self.sys, &mut self.sh, 1, false).1
    }

    pub fn steps(&mut self, h: usize, n: usize) {
        for _ in 0..n {
            self.step(h);
        }
    }

    /// Runs `n` instructions on hart `h` in one slice.
    pub fn run(&mut self, h: usize, n: u64) -> SliceExit {
        self.harts[h].run_slice(&mut self.sys, &mut self.sh, n, false).1
    }

    pub fn reg(&self, h: usize, r: u32) -> u32 {
        self.harts[h].reg(r as usize)
    }

    pub fn set_reg(&mut self, h: usize, r: u32, v: u32) {
        self.harts[h].set_reg(r as usize, v);
    }

    pub fn csr(&self, h: usize, c: u16) -> u32 {
        self.harts[h].csr(c).unwrap()
    }

    /// Turns on Sv32 with the root table at [`ROOT`] on hart `h`.
    pub fn enable_sv32(&mut self, h: usize) {
        self.harts[h].set_csr(0x180, 1 << 31 | (ROOT >> 12) as u32);
    }

    /// Maps the 4 KiB page at `va` to `pa` with `flags` (V is added).
    pub fn map(&mut self, va: u32, pa: u64, flags: u32) {
        let l1 = ROOT + u64::from(va >> 22) * 4;
        let mut e = self.r32(l1);
        if e & PTE_V == 0 {
            let t = self.next_table;
            self.next_table += 0x1000;
            e = ((t >> 12) as u32) << 10 | PTE_V;
            self.w32(l1, e);
        }
        let l2 = (u64::from(e >> 10) << 12) | (u64::from((va >> 12) & 0x3ff) * 4);
        self.w32(l2, ((pa >> 12) as u32) << 10 | flags | PTE_V);
    }

    /// Maps the 4 MiB superpage at `va` to `pa` with `flags`.
    pub fn map_super(&mut self, va: u32, pa: u64, flags: u32) {
        self.w32(ROOT + u64::from(va >> 22) * 4, ((pa >> 12) as u32) << 10 | flags | PTE_V);
    }

    /// Physical address of the leaf PTE of 4 KiB page `va`.
    pub fn pte_addr(&self, va: u32) -> u64 {
        let e = self.r32(ROOT + u64::from(va >> 22) * 4);
        (u64::from(e >> 10) << 12) | (u64::from((va >> 12) & 0x3ff) * 4)
    }
}
