//! The virtio-fs device (virtio 1.x, 5.11): a tag in its configuration space, a high-priority
//! queue (FORGET and INTERRUPT, which take no reply) and one request queue. Each chain carries
//! one FUSE request in its device-readable buffers and room for the reply in its device-writable
//! buffers; [`Server`] answers it there and then.

use semu_api::GuestRam;
use semu_virtio::{id, Chain, Queue, QueueError, VirtioDevice};

use crate::server::{Server, MAX_READ, MAX_WRITE};

/// Length of the tag field of the configuration space.
pub const TAG_LEN: usize = 36;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 128;
/// The longest request read from a chain: a WRITE of [`MAX_WRITE`] bytes with its headers (and
/// room for two names of 255 bytes, as RENAME carries). Longer ones are answered `EINVAL`.
pub const MAX_REQUEST: u64 = MAX_WRITE as u64 + 4096;
/// The largest reply written to a chain: a READ of [`MAX_READ`] bytes with its header.
pub const MAX_REPLY: u64 = MAX_READ as u64 + 4096;

/// A virtio-fs device serving one host directory.
pub struct VirtioFs {
    server: Server,
    /// `struct virtio_fs_config`: `tag[36]` (NUL-padded), `num_request_queues` (le32).
    config: [u8; TAG_LEN + 4],
}

impl VirtioFs {
    /// A device with `tag` (at most [`TAG_LEN`] bytes, checked by the caller) serving `server`.
    pub fn new(server: Server, tag: &str) -> Self {
        let mut config = [0u8; TAG_LEN + 4];
        let n = tag.len().min(TAG_LEN);
        config[..n].copy_from_slice(&tag.as_bytes()[..n]);
        config[TAG_LEN..].copy_from_slice(&1u32.to_le_bytes());
        Self { server, config }
    }

    /// The server, for tests.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Serves the request in chain `c`; returns the bytes written to its writable buffers.
    fn serve(&mut self, ram: &mut GuestRam, c: &Chain) -> u32 {
        if c.misordered {
            return 0;
        }
        let len = c.readable.len().min(MAX_REQUEST);
        let mut request = vec![0u8; len as usize];
        if c.readable.read_at(ram, 0, &mut request).is_none() {
            return 0;
        }
        let reply_max = c.writable.len().min(MAX_REPLY) as usize;
        let Some(reply) = self.server.handle(&request, reply_max) else { return 0 };
        match c.writable.write_at(ram, 0, &reply) {
            Some(()) => reply.len() as u32,
            None => 0,
        }
    }
}

impl VirtioDevice for VirtioFs {
    fn device_id(&self) -> u32 {
        id::FS
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        let Some(q) = queues.get_mut(index) else { return Ok(()) };
        q.process(ram, |ram, c| self.serve(ram, c))
    }
}

#[cfg(test)]
mod tests {
    use semu_virtio::testing::{build_ctx, example_spec, find_kind, hostile_driver, Buf, Driver, TempDir};
    use semu_virtio::{feature, reg};

    use super::*;
    use crate::abi::{self, op, Field, Wire};

    fn request(opcode: u32, unique: u64, nodeid: u64, args: &[u8]) -> Vec<u8> {
        let len = (abi::InHeader::SIZE + args.len()) as u32;
        let mut v = abi::InHeader { len, opcode, unique, nodeid, ..Default::default() }.to_bytes();
        v.extend_from_slice(args);
        v
    }

    #[test]
    fn the_example_serves_its_directory_through_the_request_queue() {
        let dir = TempDir::new("virtio-fs");
        std::fs::create_dir(dir.path().join("shared")).unwrap();
        std::fs::write(dir.path().join("shared/hello"), b"hi").unwrap();
        let kind = find_kind("virtio-fs");
        let spec = example_spec(dir.path(), "virtio-fs", kind.example);
        (kind.check)(&spec).unwrap();
        let (mut ctx, line) = build_ctx();
        let mut dev = (kind.build)(&spec, &mut ctx).unwrap();
        let mut d = Driver::new();
        assert_eq!(d.read(dev.as_mut(), reg::DEVICE_ID), 26);
        d.init(dev.as_mut(), feature::VERSION_1);
        // struct virtio_fs_config: the tag, NUL-padded, then one request queue.
        let config: Vec<u8> = (0..TAG_LEN as u64 + 4).map(|i| d.config(dev.as_mut(), i, 1) as u8).collect();
        assert_eq!(&config[..6], b"share\0");
        assert_eq!(config[TAG_LEN..], 1u32.to_le_bytes());

        let init = abi::InitIn { major: 7, minor: 38, ..Default::default() }.to_bytes();
        let s = d.submit(dev.as_mut(), 1, &[Buf::Read(request(op::INIT, 5, 0, &init)), Buf::Write(4096)]);
        let (head, len) = d.used(1).expect("INIT answered");
        assert_eq!(head, u32::from(s.head));
        let reply = d.ram.slice(s.addrs[1], len as usize).unwrap().to_vec();
        let h = abi::OutHeader::get(&reply);
        assert_eq!((h.len, h.error, h.unique), (len, 0, 5));
        assert!(line.level(), "the used buffer is signalled");

        // LOOKUP split over two readable buffers, the reply over two writable ones.
        let req = request(op::LOOKUP, 6, abi::ROOT_ID, b"hello\0");
        let (a, b) = req.split_at(20);
        let s =
            d.submit(dev.as_mut(), 1, &[Buf::Read(a.to_vec()), Buf::Read(b.to_vec()), Buf::Write(16), Buf::Write(200)]);
        let (_, len) = d.used(1).unwrap();
        assert_eq!(len as usize, abi::OutHeader::SIZE + abi::EntryOut::SIZE);
        let mut reply = d.ram.slice(s.addrs[2], 16).unwrap().to_vec();
        reply.extend(d.ram.slice(s.addrs[3], len as usize - 16).unwrap());
        assert_eq!(abi::OutHeader::get(&reply).error, 0);
        assert_eq!(abi::EntryOut::get(&reply[16..]).attr.size, 2);
        // FORGET on the high-priority queue takes no reply.
        let forget = request(op::FORGET, 7, 2, &abi::ForgetIn { nlookup: 1 }.to_bytes());
        d.submit(dev.as_mut(), 0, &[Buf::Read(forget)]);
        assert_eq!(d.used(0).map(|(_, len)| len), Some(0));
    }

    #[test]
    fn broken_chains_get_nothing_and_hostile_drivers_no_panic() {
        let dir = TempDir::new("virtio-fs-hostile");
        let server = Server::new(dir.path(), false).unwrap();
        let mut t = semu_virtio::MmioTransport::new("fs0", VirtioFs::new(server, "t"), None);
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        let init = abi::InitIn { major: 7, minor: 38, ..Default::default() }.to_bytes();
        // No room for a reply header: nothing written.
        d.submit(&mut t, 1, &[Buf::Read(request(op::INIT, 1, 0, &init)), Buf::Write(8)]);
        assert_eq!(d.used(1).map(|(_, len)| len), Some(0));
        // A writable buffer before the request: refused.
        d.submit(&mut t, 1, &[Buf::Write(4096), Buf::Read(request(op::INIT, 2, 0, &init))]);
        assert_eq!(d.used(1).map(|(_, len)| len), Some(0));
        // A request longer than any the server takes: answered EINVAL.
        d.submit(&mut t, 1, &[Buf::Read(request(op::INIT, 4, 0, &init)), Buf::Write(4096)]);
        assert!(d.used(1).is_some_and(|(_, len)| len > 0));
        let long = request(op::WRITE, 3, 1, &vec![0; MAX_REQUEST as usize + 100]);
        assert_eq!(long.len() as u32, abi::InHeader::get(&long).len);
        let s = d.submit(&mut t, 1, &[Buf::Read(long), Buf::Write(64)]);
        let (_, len) = d.used(1).unwrap();
        let h = abi::OutHeader::get(d.ram.slice(s.addrs[1], len as usize).unwrap());
        assert_eq!((h.error, h.unique), (-libc::EINVAL, 3));
        let (_, done) = hostile_driver(&mut t, feature::VERSION_1 | feature::INDIRECT_DESC, 200, 26);
        assert!(done > 0);
    }
}
