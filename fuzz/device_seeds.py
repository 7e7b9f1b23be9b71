#!/usr/bin/env python3
# Writes the seed inputs of the virtio fuzz targets into fuzz/regressions/<target>/: for each
# device, a well-formed driver session (queue setup, descriptor chains, notifies) encoded op by op
# as Driver::play (fuzz/src/devices/mod.rs) decodes it, so the replay in tests/fuzz_regressions.rs
# always runs every target on an input that completes real requests.
#   virtio_blk: write sector 5, read it back, flush, GET_ID, on a read-write, a read-only (the
#               write fails) and a snapshot disk; virtio_net: send an ARP request, receive a frame;
#   virtio_rng: two requests, the second split over two buffers.
# And for virtio_fs (the FUSE server, fuzz/src/virtio_fs.rs, whose input is a session of requests
# rather than a driver): a read-write session that looks up, opens, reads, creates, writes,
# lists, makes and removes, links, renames, seeks, allocates, syncs, releases, forgets and
# unmounts; a read-only session whose changes are refused; one that starts without INIT.
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

# virtio_fs: the names and opcodes as fuzz/src/virtio_fs.rs indexes them.
FS_NAMES = ["a.txt", "sub", "b.txt", "link", "out", "abs", "dir", "hard", "new", "x", "..", ".", "", "fifo"]
FS_OPS = ["LOOKUP", "FORGET", "GETATTR", "SETATTR", "READLINK", "SYMLINK", "MKNOD", "MKDIR", "UNLINK",
          "RMDIR", "RENAME", "LINK", "OPEN", "READ", "WRITE", "STATFS", "RELEASE", "FSYNC", "SETXATTR",
          "GETXATTR", "LISTXATTR", "REMOVEXATTR", "FLUSH", "INIT", "OPENDIR", "READDIR", "RELEASEDIR",
          "FSYNCDIR", "ACCESS", "CREATE", "INTERRUPT", "DESTROY", "BATCH_FORGET", "FALLOCATE",
          "READDIRPLUS", "RENAME2", "LSEEK"]
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_APPEND = 0, 1, 2, 0o100, 0o2000

class Fs(S):
    def u64(self, v): self.b += struct.pack('<Q', v); return self
    def name(self, n):
        if n in FS_NAMES: return self.u8(FS_NAMES.index(n))
        raw = n.encode(); assert len(raw) < 16
        self.u8(0xf0 | len(raw)); self.b += raw; return self
    def id(self, v): return self.u8(0).u64(v)                # a node id or handle, given outright
    def off(self, v): return self.u8(1).u16(v) if v < 65536 else self.u8(0).u64(v)
    def size(self, v): return self.u8(1).u16(v) if v < 65536 else self.u8(0).u32(v)
    def req(self, op, node=1):
        # kind 0 (shaped, honest header), reply buffers of the device's size, opcode, node id
        return self.u8(0).u8(2).u8(FS_OPS.index(op)).id(node)
    def raw(self, data): self.u8(15).u8(2).u16(len(data)); self.b += data; return self

def fs_rw():
    s = Fs().u8(0)                                            # read-write, INIT first
    s.req("LOOKUP").name("a.txt")                             # node 2 (and "hard")
    s.req("GETATTR", 2).u8(0).id(0)
    s.req("OPEN", 2).u32(O_RDONLY)                            # fh 1
    s.req("READ", 0).id(1).off(0).size(4096)
    s.req("CREATE").u32(O_RDWR | O_CREAT).u16(0o644).name("new")       # node 3, fh 2
    data = b"written by the virtio_fs fuzz seed\n"
    s.req("WRITE", 0).id(2).off(0).u16(len(data)); s.b += data
    s.req("READ", 0).id(2).off(0).size(100)
    s.req("LOOKUP").name("sub")                               # node 4
    s.req("OPENDIR", 4).u32(O_RDONLY)                         # fh 3
    s.req("READDIRPLUS", 0).id(3).off(0).size(4096)           # b.txt: node 5
    s.req("READDIR", 0).id(3).off(0).size(4096)
    s.req("MKDIR").u16(0o755).name("x")                       # node 6
    s.req("SYMLINK", 4).name("link").name("..")               # node 7
    s.req("READLINK", 7)
    s.req("RENAME2").id(4).u8(0).name("new").name("new")      # new -> sub/new
    s.req("LINK", 6).id(2).name("hard")                       # x/hard: node 2 again
    s.req("SETATTR", 2).u16(1 | 8).id(0).off(40).u32(0).u32(0).u32(0).u32(0).u16(0o600).u32(0).u32(0)
    s.req("LSEEK", 0).id(2).off(0).u8(2)                      # SEEK_END
    s.req("FALLOCATE", 0).id(2).off(0).u32(4096).u8(0)
    s.req("FSYNC", 0).id(2).u8(1)
    s.req("FLUSH", 0).id(2)
    s.req("RELEASE", 0).id(1)
    s.req("RELEASE", 0).id(2)
    s.req("FSYNCDIR", 0).id(3).u8(0)
    s.req("RELEASEDIR", 0).id(3)
    s.req("STATFS")
    s.req("ACCESS", 2).u8(4)                                  # R_OK
    s.req("OPENDIR", 1).u32(O_RDONLY)                         # fh 4
    s.req("READDIRPLUS", 0).id(4).off(0).size(100000)
    s.req("LOOKUP").name("link")
    s.req("LOOKUP").name("out")
    s.req("UNLINK", 4).name("new")
    s.req("FORGET", 2).u8(1)
    s.req("BATCH_FORGET", 0).u8(2).id(3).u8(1).id(5).u8(1)
    s.req("DESTROY", 0)
    return bytes(s.b)

def fs_ro():
    s = Fs().u8(1)                                            # read-only, INIT first
    s.req("LOOKUP").name("a.txt")                             # node 2
    s.req("OPEN", 2).u32(O_RDONLY)                            # fh 1
    s.req("READ", 0).id(1).off(0).size(4096)
    s.req("OPEN", 2).u32(O_RDWR)                              # EROFS
    s.req("WRITE", 0).id(1).off(0).u16(4); s.b += b"nope"    # EROFS
    s.req("CREATE").u32(O_RDWR | O_CREAT).u16(0o644).name("new")       # EROFS
    s.req("LOOKUP").name("dir")
    s.req("READLINK", 3)
    s.req("OPENDIR", 1).u32(O_RDONLY)                         # fh 2
    s.req("READDIRPLUS", 0).id(2).off(0).size(4096)
    s.req("ACCESS", 2).u8(2)                                  # W_OK: EROFS
    s.req("RELEASE", 0).id(1)
    s.req("FORGET", 2).u8(1)
    return bytes(s.b)

def fs_no_init():
    s = Fs().u8(2)                                            # read-write, no INIT
    s.req("LOOKUP").name("a.txt")                             # EIO
    s.req("INIT", 0).u8(7).u8(38).u32(1 << 17).u32(0xffffffff)
    s.req("LOOKUP").name("sub")                               # node 2
    s.req("LOOKUP", 2).name("b.txt")                          # node 3
    s.req("OPEN", 3).u32(O_RDONLY)                            # fh 1
    s.req("READ", 0).id(1).off(4000).size(4096)
    # a raw LOOKUP of "b.txt" in node 2 whose header's len is 4 bytes short
    raw = struct.pack('<IIQQIIIHH', 40 + 6 - 4, 1, 99, 2, 0, 0, 0, 0, 0) + b"b.txt\0"
    s.raw(raw)
    s.req("DESTROY", 0)
    s.req("INIT", 0).u8(7).u8(22).u32(0).u32(0)
    return bytes(s.b)

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
out = {
    "virtio_blk/seed-read-write-disk-write-read-flush-get-id": blk(0),
    "virtio_blk/seed-read-only-disk-write-read-flush-get-id": blk(1),
    "virtio_blk/seed-snapshot-disk-write-read-flush-get-id": blk(2),
    "virtio_net/seed-send-an-arp-request-and-receive-a-frame": net(),
    "virtio_rng/seed-two-requests-one-split-in-two-buffers": rng(),
    "virtio_fs/seed-read-write-session": fs_rw(),
    "virtio_fs/seed-read-only-session-changes-refused": fs_ro(),
    "virtio_fs/seed-requests-before-init-then-init": fs_no_init(),
}
for name, data in out.items():
    p = os.path.join(root, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)
    print(p, len(data))
