#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| semu_fuzz::virtio_fs::run(data));
