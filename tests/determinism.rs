//! `clock = "instret"`: time follows retired instructions, so two runs of the same machine with the
//! same (empty) input are identical — console output, guest timestamps and instruction count —
//! whatever the host does meanwhile, including when the compiler thread installs native code.

mod guest;

use std::process::{Command, Stdio};

use guest::InitramfsMachine;

/// Runs the machine with stdin at end-of-file; returns (console output, retired instructions).
fn run(machine: &std::path::Path, extra: &[&str]) -> (String, u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_semu"))
        .arg("run")
        .arg(machine)
        .args(["--stats", "--max-instructions", "3000000000"]) // a hang guard: exits 124
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run semu");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{extra:?}\n{stdout}\n{stderr}");
    let retired = stderr
        .lines()
        .find_map(|l| l.strip_prefix("semu: ")?.split_once(" instructions retired")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in --stats:\n{stderr}"));
    (stdout, retired)
}

#[test]
fn instret_clock_makes_runs_identical() {
    // Two harts (IPIs, timers, SMP bring-up), no entropy device (host randomness), no input.
    let m = InitramfsMachine::new("determinism", "append = \"semu.poweroff\"", "[cpu]\nharts = 2\nclock = \"instret\"");
    let machine = &m.path;
    // A low threshold makes pages compile on the compiler thread during boot, at moments that
    // depend on the host; interpreted only is the reference.
    let (want, want_n) = run(machine, &["--no-jit"]);
    assert!(want.contains("semu-init: ready") && want.contains("reboot: Power down"), "{want}");
    assert!(want.contains("smp: Brought up 1 node, 2 CPUs"), "{want}");
    for extra in [&["--jit-threshold", "20000"][..], &["--jit-threshold", "20000"][..], &[][..]] {
        let (got, n) = run(machine, extra);
        assert_eq!(n, want_n, "{extra:?}: instructions retired");
        assert!(
            got == want,
            "{extra:?}: console output differs\n--- interpreted ---\n{want}\n--- {extra:?} ---\n{got}"
        );
    }
}
