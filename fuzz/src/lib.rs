//! The fuzz targets' bodies, as plain functions of the input bytes.
//!
//! Each module's `run(data)` is what one cargo-fuzz target calls (`fuzz_targets/*.rs`). They use
//! nothing but semu's own crates, so the main crate's `tests/fuzz_regressions.rs` compiles this
//! same source (`#[path]`) to replay every kept crash input (`fuzz/regressions/<target>/`) and a
//! short pseudo-random run of each target on stable Rust, in `scripts/test.sh`.
//!
//! A target fails by panicking: an `assert!` of an invariant, or a panic inside semu, which is
//! always a bug (guest and user errors must come back as values).

#![allow(clippy::missing_panics_doc)]

pub mod bytes;
pub mod config;
pub mod cpu;
pub mod devices;
pub mod virtio_fs;
pub mod virtqueue;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name, for replaying inputs: `(name, run)`.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config::run),
    ("cpu", cpu::run),
    ("virtqueue", virtqueue::run),
    ("virtio_blk", devices::blk::run),
    ("virtio_net", devices::net::run),
    ("virtio_rng", devices::rng::run),
    ("virtio_fs", virtio_fs::run),
];
