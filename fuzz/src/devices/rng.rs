//! Target `virtio_rng`: the entropy device, fed from a source that runs dry after a number of
//! bytes chosen by the input (so short reads and errors are exercised too).

use semu_virtio::MmioTransport;
use semu_virtio_rng::Rng;

use super::Bytes;
use super::Driver;

/// The target.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let budget = match b.u8() % 4 {
        0 => u64::from(b.u16()),
        _ => u64::MAX,
    };
    let source = std::io::Read::take(std::io::repeat(0x5a), budget);
    let mut t = MmioTransport::new("rng0", Rng::new(Box::new(source)), None);
    let mut d = Driver::new();
    d.play(&mut t, &mut b, |_, _, _, _| {});
    semu_api::Device::shutdown(&mut t);
}
