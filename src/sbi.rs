//! The firmware built into the emulator: the SBI (v2.0) an S-mode kernel calls with `ecall`.
//!
//! Extensions: base, TIME, IPI, RFENCE, HSM, SRST, DBCN, and the legacy set_timer, console
//! putchar/getchar, clear_ipi and shutdown. Arguments are in a0..a5, the extension id in a7 and
//! the function id in a6; the error goes to a0 and the value to a1 (legacy calls: a0 only).
//! Addresses passed to DBCN are guest physical and are checked against RAM.

use semu_api::MIP_SSIP;
use semu_api::MIP_STIP;

use crate::bus::System;
use crate::cpu::{Hart, Shared};
use crate::run::RunExit;

/// SBI error codes.
pub mod err {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Failed.
    pub const FAILED: i32 = -1;
    /// Not supported.
    pub const NOT_SUPPORTED: i32 = -2;
    /// Invalid parameter.
    pub const INVALID_PARAM: i32 = -3;
    /// Invalid address.
    pub const INVALID_ADDRESS: i32 = -5;
    /// Already available (HSM: the hart is already started).
    pub const ALREADY_AVAILABLE: i32 = -6;
}

/// HSM hart states (`hart_get_status`).
pub mod hsm_status {
    /// Running.
    pub const STARTED: u32 = 0;
    /// Stopped.
    pub const STOPPED: u32 = 1;
    /// Suspended (`hart_suspend`), until an interrupt wakes it.
    pub const SUSPENDED: u32 = 4;
}

/// Extension ids.
pub mod eid {
    /// Base.
    pub const BASE: u32 = 0x10;
    /// Timer.
    pub const TIME: u32 = 0x5449_4d45;
    /// IPI.
    pub const IPI: u32 = 0x0073_5049;
    /// Remote fences.
    pub const RFENCE: u32 = 0x5246_4e43;
    /// Hart state management.
    pub const HSM: u32 = 0x0048_534d;
    /// System reset.
    pub const SRST: u32 = 0x5352_5354;
    /// Debug console.
    pub const DBCN: u32 = 0x4442_434e;
    /// Legacy set_timer.
    pub const LEGACY_SET_TIMER: u32 = 0;
    /// Legacy console putchar.
    pub const LEGACY_PUTCHAR: u32 = 1;
    /// Legacy console getchar.
    pub const LEGACY_GETCHAR: u32 = 2;
    /// Legacy clear_ipi.
    pub const LEGACY_CLEAR_IPI: u32 = 3;
    /// Legacy shutdown.
    pub const LEGACY_SHUTDOWN: u32 = 8;
}

/// SBI specification version: 2.0.
const SPEC_VERSION: u32 = 2 << 24;
/// Implementation id ("SEMU"; not a registered id).
pub const IMPL_ID: u32 = 0x5345_4d55;
/// Implementation version: 0.1.0.
const IMPL_VERSION: u32 = 0x0000_0100;

const SUPPORTED: [u32; 12] = [
    eid::BASE,
    eid::TIME,
    eid::IPI,
    eid::RFENCE,
    eid::HSM,
    eid::SRST,
    eid::DBCN,
    eid::LEGACY_SET_TIMER,
    eid::LEGACY_PUTCHAR,
    eid::LEGACY_GETCHAR,
    eid::LEGACY_CLEAR_IPI,
    eid::LEGACY_SHUTDOWN,
];

/// What the call returns to the caller.
enum Ret {
    /// a0 = error, a1 = value.
    Full(i32, u32),
    /// Legacy: a0 only.
    Legacy(u32),
    /// The caller does not return (HSM stop).
    NoReturn,
}

/// Handles an `ecall` from S-mode on hart index `me` (pc at the `ecall`). Returns an exit if
/// the call ends the run.
pub(crate) fn handle_ecall(harts: &mut [Hart], me: usize, sys: &mut System, sh: &mut Shared) -> Option<RunExit> {
    let h = &harts[me];
    let (eid, fid) = (h.reg(17), h.reg(16));
    let a: [u32; 6] = std::array::from_fn(|i| h.reg(10 + i));
    let ret = match eid {
        eid::BASE => base(fid, a[0]),
        eid::TIME if fid == 0 => {
            set_timer(&mut harts[me], u64::from(a[0]) | u64::from(a[1]) << 32);
            Ret::Full(err::SUCCESS, 0)
        }
        eid::LEGACY_SET_TIMER => {
            set_timer(&mut harts[me], u64::from(a[0]) | u64::from(a[1]) << 32);
            Ret::Legacy(0)
        }
        eid::IPI if fid == 0 => match targets(harts, a[0], a[1]) {
            Ok(t) => {
                for i in t {
                    harts[i].set_mip_bits(MIP_SSIP, true);
                }
                Ret::Full(err::SUCCESS, 0)
            }
            Err(e) => Ret::Full(e, 0),
        },
        eid::LEGACY_CLEAR_IPI => {
            harts[me].set_mip_bits(MIP_SSIP, false);
            Ret::Legacy(0)
        }
        eid::RFENCE => rfence(harts, sys, sh, fid, a),
        eid::HSM => hsm(harts, me, sys, fid, a),
        // reasons: 0 none, 1 system failure, 0xe000_0000.. implementation and vendor specific
        // (taken as failures); the rest are reserved
        eid::SRST if fid == 0 => match (a[0], a[1]) {
            (0, 0) => return Some(RunExit::PowerOff(0)),
            (0, 1 | 0xe000_0000..) => return Some(RunExit::PowerOff(1)),
            (1 | 2, 0 | 1 | 0xe000_0000..) => return Some(RunExit::Reboot),
            _ => Ret::Full(err::INVALID_PARAM, 0),
        },
        eid::LEGACY_SHUTDOWN => return Some(RunExit::PowerOff(0)),
        eid::DBCN => dbcn(sys, sh, fid, a),
        eid::LEGACY_PUTCHAR => {
            sys.console.write(&[a[0] as u8]);
            Ret::Legacy(0)
        }
        eid::LEGACY_GETCHAR => Ret::Legacy(sys.console.read_byte().map_or(u32::MAX, u32::from)),
        _ => Ret::Full(err::NOT_SUPPORTED, 0),
    };
    let h = &mut harts[me];
    match ret {
        Ret::Full(e, v) => {
            h.set_reg(10, e as u32);
            h.set_reg(11, v);
            h.firmware_return();
        }
        Ret::Legacy(v) => {
            h.set_reg(10, v);
            h.firmware_return();
        }
        Ret::NoReturn => {}
    }
    None
}

fn base(fid: u32, arg: u32) -> Ret {
    match fid {
        0 => Ret::Full(err::SUCCESS, SPEC_VERSION),
        1 => Ret::Full(err::SUCCESS, IMPL_ID),
        2 => Ret::Full(err::SUCCESS, IMPL_VERSION),
        3 => Ret::Full(err::SUCCESS, u32::from(SUPPORTED.contains(&arg))),
        4..=6 => Ret::Full(err::SUCCESS, 0), // mvendorid, marchid, mimpid
        _ => Ret::Full(err::NOT_SUPPORTED, 0),
    }
}

fn set_timer(h: &mut Hart, when: u64) {
    h.timecmp = when;
    h.set_mip_bits(MIP_STIP, false);
}

/// Hart indices selected by an SBI hart mask (`base == -1`: all harts).
fn targets(harts: &[Hart], mask: u32, base: u32) -> Result<Vec<usize>, i32> {
    if base == u32::MAX {
        return Ok((0..harts.len()).collect());
    }
    let mut out = Vec::new();
    for bit in 0..32 {
        if mask >> bit & 1 != 0 {
            let id = base as usize + bit;
            match harts.iter().position(|h| h.id() == id) {
                Some(i) => out.push(i),
                None => return Err(err::INVALID_PARAM),
            }
        }
    }
    Ok(out)
}

fn rfence(harts: &mut [Hart], sys: &mut System, sh: &mut Shared, fid: u32, a: [u32; 6]) -> Ret {
    let t = match targets(harts, a[0], a[1]) {
        Ok(t) => t,
        Err(e) => return Ret::Full(e, 0),
    };
    match fid {
        // the decode cache follows every write, so fence.i only needs pending device writes
        0 => sh.drain_device_writes(&mut sys.ram),
        1 | 2 => {
            let (start, size) = (a[2], a[3]);
            for i in t {
                let h = &mut harts[i];
                if (start == 0 && size == 0) || size == u32::MAX || size > 64 * 4096 {
                    h.flush_translated();
                } else {
                    let first = u64::from(start) >> 12;
                    let last = (u64::from(start) + u64::from(size.max(1)) - 1) >> 12;
                    for page in first..=last {
                        h.flush_page((page << 12) as u32);
                    }
                }
            }
        }
        _ => return Ret::Full(err::NOT_SUPPORTED, 0),
    }
    Ret::Full(err::SUCCESS, 0)
}

fn hsm(harts: &mut [Hart], me: usize, sys: &System, fid: u32, a: [u32; 6]) -> Ret {
    let find = |id: u32| harts.iter().position(|h| h.id() == id as usize);
    match fid {
        0 => {
            let Some(t) = find(a[0]) else { return Ret::Full(err::INVALID_PARAM, 0) };
            if !harts[t].is_stopped() {
                return Ret::Full(err::ALREADY_AVAILABLE, 0);
            }
            if !sys.ram.contains(u64::from(a[1]), 4) {
                return Ret::Full(err::INVALID_ADDRESS, 0);
            }
            let h = &mut harts[t];
            h.set_stopped(false);
            h.enter_supervisor(a[1], a[2]);
            Ret::Full(err::SUCCESS, 0)
        }
        1 => {
            harts[me].set_stopped(true);
            Ret::NoReturn
        }
        2 => match find(a[0]) {
            Some(t) => {
                let h = &harts[t];
                let status = if h.is_stopped() {
                    hsm_status::STOPPED
                } else if h.hsm_suspended && h.wfi {
                    hsm_status::SUSPENDED
                } else {
                    hsm_status::STARTED
                };
                Ret::Full(err::SUCCESS, status)
            }
            None => Ret::Full(err::INVALID_PARAM, 0),
        },
        3 => match a[0] {
            0 => {
                // default retentive suspend: a wfi that returns success
                let h = &mut harts[me];
                h.set_reg(10, 0);
                h.set_reg(11, 0);
                h.firmware_return();
                h.wfi = true;
                h.hsm_suspended = true;
                Ret::NoReturn
            }
            0x8000_0000 => {
                if !sys.ram.contains(u64::from(a[1]), 4) {
                    return Ret::Full(err::INVALID_ADDRESS, 0);
                }
                let h = &mut harts[me];
                h.enter_supervisor(a[1], a[2]);
                h.wfi = true;
                h.hsm_suspended = true;
                Ret::NoReturn
            }
            _ => Ret::Full(err::INVALID_PARAM, 0),
        },
        _ => Ret::Full(err::NOT_SUPPORTED, 0),
    }
}

fn dbcn(sys: &mut System, sh: &mut Shared, fid: u32, a: [u32; 6]) -> Ret {
    let (n, addr) = (a[0] as usize, u64::from(a[1]) | u64::from(a[2]) << 32);
    match fid {
        0 => match sys.ram.slice(addr, n) {
            Some(bytes) => {
                sys.console.write(bytes);
                Ret::Full(err::SUCCESS, n as u32)
            }
            None => Ret::Full(err::INVALID_PARAM, 0),
        },
        1 => {
            if !sys.ram.contains(addr, n as u64) {
                return Ret::Full(err::INVALID_PARAM, 0);
            }
            let mut got = Vec::new();
            while got.len() < n {
                match sys.console.read_byte() {
                    Some(b) => got.push(b),
                    None => break,
                }
            }
            let _ = sys.ram.write(addr, &got);
            sh.drain_device_writes(&mut sys.ram);
            Ret::Full(err::SUCCESS, got.len() as u32)
        }
        2 => {
            sys.console.write(&[a[0] as u8]);
            Ret::Full(err::SUCCESS, 0)
        }
        _ => Ret::Full(err::NOT_SUPPORTED, 0),
    }
}

#[cfg(test)]
mod tests;
