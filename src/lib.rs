//! semu: a RISC-V RV32IMA system emulator in which a machine is a TOML file.
//!
//! The path from a machine file to a running guest is
//! [`config`] (parse) → [`config::validate`] (check and place) → [`machine`] (build devices from
//! the [`registry`], load the kernel) → [`fdt`] (device tree, a pure function of the validated
//! machine) → [`machine::Machine::run`]. See `ARCHITECTURE.md`.

pub mod bus;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod fdt;
pub mod gdb;
pub mod loader;
pub mod machine;
mod plugins;
pub mod qmp;
pub mod registry;
pub mod run;
pub mod sbi;
pub mod schema;
pub mod term;
