#!/usr/bin/env python3
# Writes the seed inputs of the virtio fuzz targets into fuzz/regressions/<target>/: for each
# device, a well-formed driver session (queue setup, descriptor chains, notifies) encoded op by op
# as Driver::play (fuzz/src/devices/mod.rs) decodes it, so the replay in tests/fuzz_regressions.rs
# always runs every target on an input that completes real requests.
#   virtio_blk: write sector 5, read it back, flush, GET_ID, on a read-write, a read-only (the
#               write fails) and a snapshot disk; virtio_net: send an ARP request, receive a frame;
#   virtio_rng: two requests, the second split over two buffers.
# Usage: fuzz/device_seeds.py   (from anywhere; rewrites the seed-* files)
import struct, sys, os

class S:
    def __init__(self): self.b = bytearray()
    def u8(self, v): self.b += bytes([v & 0xff]); return self
    def u16(self, v): self.b += struct.pack('<H', v); return self
    def u32(self, v): self.b += struct.pack('<I', v); return self
    def addr(self, off): return self.u8(3).u16(off)          # BASE + off (aligned by the caller)
    def setup(self, features, queues):
        self.u8(0).u8(0).u32(features)                        # op 0; bool 0: VERSION_1 | INDIRECT | (u32 & 0xffff)
        for (desc, avail, used) in queues:
            self.u8(2).u8(3)                                  # size 1 << 3 = 8
            self.addr(desc).addr(avail).addr(used)
        return self
    def desc(self, q, i, off, length, flags):
        self.u8(4).u8(q).u8(0).u16(i).addr(off)
        if length == 16: self.u8(3)
        elif length == 1: self.u8(4)
        else: self.u8(5).u16(length)
        # flags: 1 NEXT, 2 WRITE, 3 NEXT|WRITE, 0 -> explicit byte
        code = {1: 1, 2: 2, 3: 3}.get(flags)
        if code is None: self.u8(0).u8(flags)
        else: self.u8(code)
        return self.u8(0)                                     # next = i + 1
    def avail(self, q, head): return self.u8(6).u8(q).u8(0).u16(head)
    def notify(self, q): return self.u8(9).u8(q)
    def tick(self): return self.u8(11)
    def ram(self, off, data):
        for k in range(0, len(data), 31):
            part = data[k:k + 31]
            self.u8(3).u16(off + k).u8(len(part)); self.b += part
        return self

NEXT, WRITE = 1, 2

def blk(first):
    s = S().u8(first)
    s.setup((1 << 9) | (1 << 2) | ((1 << 5) if first & 1 else 0), [(0x0000, 0x0100, 0x0200)])
    def hdr(ty, sector, at):                                  # op 13: type [IN, OUT, FLUSH, GET_ID][u8 % 4]
        s.u8(13).u8(ty).u8(2).u8(sector).u8(3).u16(at)
    # OUT: sector 5 from 0x2000
    s.ram(0x2000, b"semu fuzz seed: virtio-blk sector five, written by the guest" * 8)
    hdr(1, 5, 0x1000)
    s.desc(0, 0, 0x1000, 16, NEXT).desc(0, 1, 0x2000, 512, NEXT).desc(0, 2, 0x3000, 1, WRITE)
    s.avail(0, 0).notify(0)
    # IN: sector 5 into 0x4000
    hdr(0, 5, 0x1010)
    s.desc(0, 3, 0x1010, 16, NEXT).desc(0, 4, 0x4000, 512, NEXT | WRITE).desc(0, 5, 0x3001, 1, WRITE)
    s.avail(0, 3).notify(0)
    # FLUSH
    hdr(2, 0, 0x1020)
    s.desc(0, 6, 0x1020, 16, NEXT).desc(0, 7, 0x3002, 1, WRITE)
    s.avail(0, 6).notify(0)
    # GET_ID into 0x5000
    hdr(3, 0, 0x1030)
    s.desc(0, 0, 0x1030, 16, NEXT).desc(0, 1, 0x5000, 20, NEXT | WRITE).desc(0, 2, 0x3003, 1, WRITE)
    s.avail(0, 0).notify(0).tick()
    return bytes(s.b)

def net():
    s = S()
    s.setup(1 << 5, [(0x0000, 0x0100, 0x0200), (0x0400, 0x0500, 0x0600)])
    # TX on queue 1: a 12-byte virtio_net_hdr (zeros) and a 60-byte ARP request.
    frame = bytes.fromhex("ffffffffffff525400010203" "0806" "0001080006040001" "525400010203" "0a00020f"
                          "000000000000" "0a000202") + bytes(18)
    s.ram(0x2000 + 12, frame)
    s.desc(1, 0, 0x2000, 12 + len(frame), 0).avail(1, 0).notify(1)
    # RX on queue 0: a buffer, then a 74-byte frame from the network, delivered.
    s.desc(0, 0, 0x3000, 1526, WRITE).avail(0, 0).notify(0)
    s.u8(14).u8(60).u8(0xab)                                  # op 14: length 60 + 14, filled with 0xab
    s.tick().notify(0).tick()
    return bytes(s.b)

def rng():
    s = S().u8(1)                                             # an endless entropy source
    s.setup(0, [(0x0000, 0x0100, 0x0200)])
    s.desc(0, 0, 0x2000, 64, WRITE).avail(0, 0).notify(0)
    s.desc(0, 1, 0x2100, 16, NEXT | WRITE).desc(0, 2, 0x2200, 1500, WRITE).avail(0, 1).notify(0).tick()
    return bytes(s.b)

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
out = {
    "virtio_blk/seed-read-write-disk-write-read-flush-get-id": blk(0),
    "virtio_blk/seed-read-only-disk-write-read-flush-get-id": blk(1),
    "virtio_blk/seed-snapshot-disk-write-read-flush-get-id": blk(2),
    "virtio_net/seed-send-an-arp-request-and-receive-a-frame": net(),
    "virtio_rng/seed-two-requests-one-split-in-two-buffers": rng(),
}
for name, data in out.items():
    p = os.path.join(root, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)
    print(p, len(data))
