//! The virtio-net device model (virtio 1.x, 5.1): a receive and a transmit queue, no offloads.
//!
//! Every buffer starts with the 12-byte `virtio_net_hdr` (1.x layout, with `num_buffers`), which
//! the device ignores on transmit and writes as zeros (`num_buffers` 1) on receive.
//!
//! Transmitted frames go straight to the [`Backend`]. Received frames come from the backend's
//! host thread through a bounded channel ([`rx_channel`]) and are copied into receive buffers in
//! [`VirtioDevice::tick`] and when the driver adds receive buffers. When the channel is full the
//! backend drops frames, as a real NIC does when the driver has no buffers posted.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use semu_api::GuestRam;
use semu_virtio::{id, Chain, Queue, QueueError, VirtioDevice};

/// Length of `virtio_net_hdr` with `num_buffers` (always used in virtio 1.x).
pub const HDR_LEN: usize = 12;
/// Largest frame taken from or given to the guest (a 64 KiB TAP read).
pub const MAX_FRAME: usize = 65536;
/// Frames a backend may queue for the guest before it drops them.
pub const RX_QUEUE_FRAMES: usize = 256;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 256;
/// Index of the receive queue.
pub const RX: usize = 0;
/// Index of the transmit queue.
pub const TX: usize = 1;

/// Feature bits.
pub mod feature {
    /// The `mac` config field is valid.
    pub const MAC: u64 = 1 << 5;
    /// The `status` config field is valid.
    pub const STATUS: u64 = 1 << 16;
}

/// `status`: the link is up.
pub const LINK_UP: u16 = 1;

/// Where transmitted frames go. Received frames come back through the channel the backend was
/// given (see [`rx_channel`]).
pub trait Backend: Send {
    /// Sends one Ethernet frame (without the virtio header) to the network. Never blocks: a frame
    /// the backend cannot take now is dropped.
    fn send(&mut self, frame: &[u8]);

    /// Stops the backend's thread and releases its host resources.
    fn shutdown(&mut self) {}
}

/// The bounded channel that carries received frames from a backend thread to the device.
pub fn rx_channel() -> (SyncSender<Vec<u8>>, Receiver<Vec<u8>>) {
    sync_channel(RX_QUEUE_FRAMES)
}

/// The virtio-net device.
pub struct Net {
    config: [u8; 8],
    backend: Box<dyn Backend>,
    rx: Receiver<Vec<u8>>,
    pending: Option<Vec<u8>>,
    dropped: u64,
}

impl Net {
    /// A NIC with address `mac` whose frames go to `backend` and come from `rx`.
    pub fn new(mac: [u8; 6], backend: Box<dyn Backend>, rx: Receiver<Vec<u8>>) -> Self {
        let mut config = [0; 8];
        config[..6].copy_from_slice(&mac);
        config[6..8].copy_from_slice(&LINK_UP.to_le_bytes());
        Self { config, backend, rx, pending: None, dropped: 0 }
    }

    /// Frames dropped because they did not fit any receive buffer.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Moves waiting frames into receive buffers while both last, taking at most one ring of
    /// buffers and one channel of frames per call (the backend thread may keep sending, and a
    /// frame written over the available ring could make more buffers available).
    fn receive(&mut self, q: &mut Queue, ram: &mut GuestRam) -> Result<(), QueueError> {
        for _ in 0..usize::from(q.size) + RX_QUEUE_FRAMES {
            let Some(frame) = self.pending.take().or_else(|| self.rx.try_recv().ok()) else { return Ok(()) };
            let Some(c) = q.pop(ram)? else {
                self.pending = Some(frame);
                return Ok(());
            };
            let len = HDR_LEN + frame.len();
            if (c.writable.len() as usize) < len && !c.misordered && c.writable.in_ram(ram) {
                // Too big for this buffer: drop the frame, keep the buffer for the next one.
                q.undo_pop();
                self.dropped += 1;
                continue;
            }
            let mut hdr = [0; HDR_LEN];
            hdr[10] = 1; // num_buffers
            let ok = !c.misordered
                && c.writable.in_ram(ram)
                && c.writable.write_at(ram, 0, &hdr).is_some()
                && c.writable.write_at(ram, HDR_LEN as u64, &frame).is_some();
            q.add_used(ram, c.head, if ok { len as u32 } else { 0 })?;
        }
        Ok(())
    }

    fn transmit(&mut self, c: &Chain, ram: &GuestRam) {
        let len = c.readable.len() as usize;
        if c.readable.len() < HDR_LEN as u64 || len > HDR_LEN + MAX_FRAME {
            return;
        }
        let mut frame = vec![0; len - HDR_LEN];
        if c.readable.read_at(ram, HDR_LEN as u64, &mut frame).is_some() {
            self.backend.send(&frame);
        }
    }
}

impl VirtioDevice for Net {
    fn device_id(&self) -> u32 {
        id::NET
    }

    fn features(&self) -> u64 {
        feature::MAC | feature::STATUS
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn reset(&mut self) {
        self.pending = None;
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        match index {
            RX => self.receive(&mut queues[RX], ram),
            TX => queues[TX].process(ram, |ram, c| {
                self.transmit(c, ram);
                0
            }),
            _ => Ok(()),
        }
    }

    fn tick(&mut self, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        self.receive(&mut queues[RX], ram)
    }

    fn shutdown(&mut self) {
        self.backend.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use semu_api::{IrqLine, IrqPins};
    use semu_virtio::testing::{Buf, Driver, BASE, RAM_SIZE};
    use semu_virtio::{feature as vf, reg, MmioTransport, DESC_F_WRITE};

    /// A backend that records what it is sent.
    struct Capture(Sent);

    impl Backend for Capture {
        fn send(&mut self, frame: &[u8]) {
            self.0.lock().unwrap().push(frame.to_vec());
        }
    }

    type Sent = Arc<Mutex<Vec<Vec<u8>>>>;

    fn nic() -> (MmioTransport<Net>, Driver, SyncSender<Vec<u8>>, Sent, IrqLine) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = rx_channel();
        let net = Net::new([0x52, 0x54, 0, 1, 2, 3], Box::new(Capture(sent.clone())), rx);
        let line = IrqLine::new(IrqPins::new(32), 2);
        let mut t = MmioTransport::new("net0", net, Some(line.clone()));
        let mut d = Driver::new();
        d.init(&mut t, vf::VERSION_1 | feature::MAC | feature::STATUS);
        (t, d, tx, sent, line)
    }

    #[test]
    fn config_has_mac_and_link_up() {
        let (mut t, mut d, ..) = nic();
        assert_eq!(d.read(&mut t, reg::DEVICE_ID), 1);
        assert_eq!(d.config(&mut t, 0, 4), 0x0100_5452);
        assert_eq!(d.config(&mut t, 4, 2), 0x0302);
        assert_eq!(d.config(&mut t, 6, 2), u64::from(LINK_UP));
    }

    #[test]
    fn transmit_strips_the_header() {
        let (mut t, mut d, _tx, sent, line) = nic();
        let mut pkt = vec![0; HDR_LEN];
        pkt.extend(b"frame-one");
        d.submit(&mut t, TX, &[Buf::Read(pkt[..4].to_vec()), Buf::Read(pkt[4..].to_vec())]);
        assert_eq!(d.used(TX).map(|u| u.1), Some(0));
        d.submit(&mut t, TX, &[Buf::Read(vec![0; 5])]); // shorter than the header: dropped
        assert!(d.used(TX).is_some());
        assert_eq!(*sent.lock().unwrap(), vec![b"frame-one".to_vec()]);
        assert!(line.level());
    }

    #[test]
    fn receive_fills_posted_buffers_and_waits_for_more() {
        let (mut t, mut d, tx, _, line) = nic();
        tx.send(b"early".to_vec()).unwrap();
        d.tick(&mut t);
        let a = d.submit(&mut t, RX, &[Buf::Write(1526)]);
        let (id, len) = d.used(RX).expect("frame delivered when a buffer is posted");
        assert_eq!((id, len), (u32::from(a.head), (HDR_LEN + 5) as u32));
        let got = d.ram.slice(a.addrs[0], HDR_LEN + 5).unwrap();
        assert_eq!(&got[..HDR_LEN], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(&got[HDR_LEN..], b"early");
        assert!(line.level());
        d.write(&mut t, reg::INTERRUPT_ACK, 1);
        assert!(!line.level());

        tx.send(b"second".to_vec()).unwrap();
        tx.send(b"third".to_vec()).unwrap();
        d.tick(&mut t);
        assert_eq!(d.used(RX), None, "no buffers: frames wait");
        let b = d.add_chain(RX, &[Buf::Write(4), Buf::Write(100)]);
        let c = d.add_chain(RX, &[Buf::Write(1526)]);
        d.tick(&mut t);
        assert_eq!(d.used(RX), Some((u32::from(b.head), (HDR_LEN + 6) as u32)));
        assert_eq!(d.used(RX), Some((u32::from(c.head), (HDR_LEN + 5) as u32)));
        assert_eq!(d.ram.slice(b.addrs[1] + 8, 6).unwrap(), b"second");
        assert!(line.level());
    }

    #[test]
    fn oversized_frames_are_dropped_and_bad_buffers_returned_empty() {
        let (mut t, mut d, tx, _, _) = nic();
        tx.send(vec![1; 2000]).unwrap();
        tx.send(vec![2; 60]).unwrap();
        let a = d.submit(&mut t, RX, &[Buf::Write(1526)]);
        assert_eq!(d.used(RX), Some((u32::from(a.head), (HDR_LEN + 60) as u32)));
        assert_eq!(t.device().dropped(), 1);
        tx.send(vec![3; 60]).unwrap();
        let s = d.add_chain(RX, &[Buf::Write(1526)]);
        d.put_desc(RX, s.head, BASE + RAM_SIZE - 100, 1526, DESC_F_WRITE, 0);
        d.tick(&mut t);
        assert_eq!(d.used(RX), Some((u32::from(s.head), 0)));
    }

    #[test]
    fn the_channel_is_bounded() {
        let (tx, _rx) = rx_channel();
        let accepted = (0..RX_QUEUE_FRAMES + 10).filter(|_| tx.try_send(vec![0; 60]).is_ok()).count();
        assert_eq!(accepted, RX_QUEUE_FRAMES);
    }

    #[test]
    fn a_hostile_driver_cannot_make_it_panic_or_hang() {
        let (mut t, _, tx, sent, _) = nic();
        for _ in 0..RX_QUEUE_FRAMES {
            let _ = tx.try_send(vec![0x5a; 1400]);
        }
        let (_, done) =
            semu_virtio::testing::hostile_driver(&mut t, vf::VERSION_1 | vf::INDIRECT_DESC | feature::MAC, 200, 14);
        assert!(done > 0);
        assert!(sent.lock().unwrap().iter().all(|f| f.len() <= MAX_FRAME));
    }
}
