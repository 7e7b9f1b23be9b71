//! What a debugger needs from a hart (the GDB stub, [`crate::gdb`]): registers, CSRs and the
//! privilege level as the hart sees them, and translation of virtual addresses without side
//! effects (no A/D updates, no TLB fill, no trap).

use semu_api::GuestRam;

use super::decode::{decode, Insn};
use super::trap::Access;
use super::{Hart, Priv};
use crate::bus::System;

impl Hart {
    /// Reads CSR `addr` as the hart would (device interrupt lines in `mip`/`sip`, the machine's
    /// time in `time`/`timeh`), without privilege checks. `None` if it does not exist.
    pub fn debug_csr(&self, addr: u16, sys: &System) -> Option<u32> {
        self.read_csr(addr, sys.hart_lines.get(self.id), sys.clock.now())
    }

    /// Writes CSR `addr` for a debugger (WARL rules apply; translation caches are dropped). False
    /// if it does not exist or is read-only.
    pub fn debug_set_csr(&mut self, addr: u16, v: u32) -> bool {
        let ok = self.set_csr(addr, v);
        self.mode_changed();
        ok
    }

    /// Sets the privilege level from its encoding (0 U, 1 S, 3 M). False for 2 and above 3.
    pub fn debug_set_privilege(&mut self, level: u32) -> bool {
        let p = match level {
            0 => Priv::U,
            1 => Priv::S,
            3 => Priv::M,
            _ => return false,
        };
        self.set_privilege(p);
        true
    }

    /// The physical address a debugger's access to `va` reaches: the translation a load of the
    /// hart's current mode would use (`satp`, privilege, MPRV, SUM, MXR), or, for a page that is
    /// executable but not readable, the translation of an instruction fetch, or else the mapping
    /// the page tables hold whatever its permissions (so a debugger stopped in the kernel sees
    /// user memory without SUM, e.g. a system call's user pointer). Nothing changes: no A/D bits,
    /// no TLB entry, no trap. `None` when the page is not mapped at all.
    pub fn debug_translate(&self, ram: &GuestRam, va: u32) -> Option<u64> {
        match self.walk(ram, va, Access::Load) {
            Ok(w) => Some(w.pa),
            Err(_) => match self.walk(ram, va, Access::Fetch) {
                Ok(w) => Some(w.pa),
                Err(_) => self.walk_ignoring_permissions(ram, va),
            },
        }
    }

    /// If the instruction at pc stores to memory (a store, `sc.w` or an AMO), the virtual
    /// address and size of that store. The instruction is read as a fetch would translate it
    /// (without side effects) and decoded afresh, not taken from the decode cache.
    pub fn debug_pending_store(&self, ram: &GuestRam) -> Option<(u32, u32)> {
        let pa = self.walk(ram, self.pc, Access::Fetch).ok()?.pa;
        let insn = decode(ram.read_u32(pa)?);
        let base = |rs1: u8| self.reg(usize::from(rs1));
        match insn {
            Insn::Sb { rs1, imm, .. } => Some((base(rs1).wrapping_add(imm as u32), 1)),
            Insn::Sh { rs1, imm, .. } => Some((base(rs1).wrapping_add(imm as u32), 2)),
            Insn::Sw { rs1, imm, .. } => Some((base(rs1).wrapping_add(imm as u32), 4)),
            Insn::ScW { rs1, .. } | Insn::Amo { rs1, .. } => Some((base(rs1), 4)),
            _ => None,
        }
    }

    /// After a debugger wrote guest memory: drops cached translations (page tables may have
    /// changed).
    pub fn debug_memory_written(&mut self) {
        self.flush_all();
    }
}
