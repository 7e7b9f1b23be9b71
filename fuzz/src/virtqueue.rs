//! Target `virtqueue`: the split-virtqueue parser ([`semu_virtio::Queue`]) on arbitrary rings.
//!
//! The input lays out a queue (size, ring addresses inside or outside RAM, indirect descriptors
//! on or off) over 64 KiB of guest RAM filled from the input, then plays driver operations: bump
//! the available index, rewrite RAM, pop chains, return them, read and write their buffers.
//! Descriptor chains may loop, point outside RAM, exceed the queue size, have zero or huge
//! lengths and wrong directions. Every call must return; an error must break the queue, a broken
//! queue must hand out nothing, and a chain's buffers must add up.

use semu_api::GuestRam;
use semu_virtio::{Chain, Queue};

use super::bytes::Bytes;

/// Guest physical address of the RAM.
pub const BASE: u64 = 0x8000_0000;
/// Its size.
pub const RAM: u64 = 64 << 10;
/// Operations per input.
const MAX_OPS: usize = 256;

/// An address: mostly inside RAM (an offset from the input), sometimes raw.
fn addr(b: &mut Bytes, align: u64) -> u64 {
    let sel = b.u8();
    match sel % 8 {
        0 => b.u64(),
        1 => BASE + RAM - u64::from(b.u8()), // at the very end of RAM
        2 => u64::from(b.u32()),
        _ => (BASE + u64::from(b.u16()) % RAM) & !(align - 1),
    }
}

fn check_chain(c: &Chain, q: &Queue, ram: &GuestRam) {
    assert!(c.head < q.size, "head {} of a {}-entry queue", c.head, q.size);
    for s in [&c.readable, &c.writable] {
        let pieces: u64 = s.chunks(0, u64::MAX).map(|(_, n)| n as u64).sum();
        assert_eq!(pieces, s.len(), "segments add up");
        // Reading past the end fails.
        let mut buf = [0u8; 16];
        assert!(s.read_at(ram, s.len(), &mut buf).is_none());
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let max_size = match b.u8() % 4 {
        0 => 256,
        1 => 8,
        2 => 1 << (b.u8() % 16),
        _ => b.u16(),
    };
    let mut q = Queue::new(max_size);
    q.size = if b.bool() { max_size } else { b.u16() };
    q.desc = addr(&mut b, 16);
    q.avail = addr(&mut b, 2);
    q.used = addr(&mut b, 4);
    q.indirect = b.bool();
    let force = b.u8() == 0xA5; // make it ready even if the transport would have refused it
    let n_ops = b.u8() as usize * 4;
    let ops = b.take(n_ops).to_vec();

    let mut ram = GuestRam::new(BASE, RAM);
    let fill = b.rest();
    // The RAM holds the rest of the input, repeated: descriptor tables and rings come from it.
    if !fill.is_empty() {
        let m = ram.as_mut_slice();
        for (i, byte) in m.iter_mut().enumerate() {
            *byte = fill[i % fill.len()];
        }
    }
    let valid = q.validate(&ram).is_ok();
    if !(valid || force && q.size != 0) {
        return;
    }
    q.ready = true;

    let mut ops = Bytes::new(&ops);
    let mut last: Option<Chain> = None;
    let mut just_popped = false;
    for _ in 0..MAX_OPS {
        if ops.is_empty() {
            break;
        }
        let op = ops.u8();
        let popped = std::mem::take(&mut just_popped);
        match op % 8 {
            0..=2 => {
                let was_broken = q.is_broken();
                match q.pop(&ram) {
                    Ok(Some(c)) => {
                        assert!(!was_broken, "a broken queue hands out a chain");
                        check_chain(&c, &q, &ram);
                        last = Some(c);
                        just_popped = true;
                    }
                    Ok(None) => {}
                    Err(_) => assert!(q.is_broken(), "an error breaks the queue"),
                }
            }
            3 => {
                let avail = q.avail.wrapping_add(2);
                let _ = ram.write_u16(avail, ops.u16());
            }
            4 => {
                let at = BASE + u64::from(ops.u16()) % RAM;
                let _ = ram.write(at, ops.take(8));
            }
            5 => {
                if let Some(c) = &last {
                    let len = ops.u32();
                    let _ = q.add_used(&mut ram, c.head, len);
                    let _ = q.take_interrupt(&ram);
                }
            }
            6 => {
                if let Some(c) = &last {
                    let (off, n) = (u64::from(ops.u32()), usize::from(ops.u8()));
                    let mut buf = vec![0u8; n];
                    if c.readable.read_at(&ram, off, &mut buf).is_some() {
                        assert!(off + n as u64 <= c.readable.len());
                    }
                    let before = ram.as_slice().to_vec();
                    let wrote = c.writable.write_at(&mut ram, off, &buf).is_some();
                    if !wrote {
                        assert!(before == ram.as_slice(), "a failed write changes nothing");
                    }
                }
            }
            _ => {
                if popped {
                    // what a device does with a chain it cannot use yet
                    q.undo_pop();
                } else {
                    let _ = q.has_available(&ram);
                }
            }
        }
    }
}
