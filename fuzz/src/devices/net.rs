//! Target `virtio_net`: the network card with a backend that records what it is sent. The input
//! can also queue received frames of any length (up to past the largest frame) for the guest.
//! Every frame the device sends must be at most [`MAX_FRAME`] bytes, and the device must keep
//! only a bounded number of frames.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use semu_virtio::MmioTransport;
use semu_virtio_net::{rx_channel, Backend, Net, MAX_FRAME};

use super::Bytes;
use super::Driver;

struct Capture(Arc<Mutex<u64>>);

impl Backend for Capture {
    fn send(&mut self, frame: &[u8]) {
        assert!(frame.len() <= MAX_FRAME, "sent a frame of {} bytes", frame.len());
        *self.0.lock().unwrap() += 1;
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let sent = Arc::new(Mutex::new(0));
    let (tx, rx): (SyncSender<Vec<u8>>, _) = rx_channel();
    let mut t =
        MmioTransport::new("net0", Net::new([0x52, 0x54, 0, 1, 2, 3], Box::new(Capture(sent.clone())), rx), None);
    let mut d = Driver::new();
    d.play(&mut t, &mut b, |op, _, _, b| {
        let len = match op % 4 {
            0 => MAX_FRAME + usize::from(b.u8()),
            1 => usize::from(b.u16()),
            _ => usize::from(b.u8()) + 14,
        };
        let fill = b.u8();
        // A full channel drops the frame, as the backends do.
        let _ = tx.try_send(vec![fill; len]);
    });
    semu_api::Device::shutdown(&mut t);
}
