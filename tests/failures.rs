//! A guest that fails ends the run: a kernel panic ends semu with its own exit status and the
//! panic text on the console, in seconds (pvpanic, or the `panic=` reboot for kernels without
//! the driver); `poweroff` in the initramfs shell powers off; large RAM boots with its initrd.
//! These boot the project's kernel and busybox images (scripts/build-guest.sh).

mod guest;

use std::time::{Duration, Instant};

use guest::{images, machine, Guest};

/// A panicking guest must be gone well within this (the panic comes 0.1 s into the boot).
const QUICK: Duration = Duration::from_secs(20);
const BOOT: Duration = Duration::from_secs(180);

fn empty_disk(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("semu-{tag}-{}.img", std::process::id()));
    std::fs::write(&p, b"").unwrap();
    p
}

#[test]
fn a_kernel_panic_ends_the_run_with_the_guest_panic_status() {
    let disk = empty_disk("panic");
    let m = machine("minimal.toml");
    let started = Instant::now();
    let mut g = Guest::start(&[m.to_str().unwrap(), "--disk", disk.to_str().unwrap()], true);
    let st = g.wait_exit(QUICK);
    let _ = std::fs::remove_file(&disk);
    assert_eq!(st.code(), Some(semu::machine::EXIT_GUEST_PANIC), "{}", g.out);
    assert!(g.out.contains("Kernel panic - not syncing: VFS: Unable to mount root fs"), "{}", g.out);
    assert!(g.out.contains("pvpanic") || g.out.contains("Call Trace"), "{}", g.out);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn without_a_pvpanic_device_the_panicking_kernel_reboots_and_the_run_ends() {
    // minimal.toml without its pvpanic device: the kernel has no device to report to, and
    // panic=1 on the command line makes it reboot a second later, which ends the run.
    let img = images();
    let text = std::fs::read_to_string(machine("minimal.toml")).unwrap();
    let text = text.replace("\"../build/guest/", &format!("\"{}/", img.display()));
    let text = text.split("\n[[device]]\nname = \"panic0\"").next().unwrap().to_string();
    assert!(!text.contains("pvpanic"), "{text}");
    let dir = std::env::temp_dir().join(format!("semu-nopanic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.join("m.toml");
    std::fs::write(&m, text).unwrap();
    let disk = empty_disk("nopvpanic");
    let mut g = Guest::start(&[m.to_str().unwrap(), "--disk", disk.to_str().unwrap()], true);
    let st = g.wait_exit(QUICK);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&disk);
    assert_eq!(st.code(), Some(semu::machine::EXIT_REBOOT), "{}", g.out);
    assert!(g.out.contains("Kernel panic - not syncing") && g.out.contains("Rebooting in 1 seconds"), "{}", g.out);
}

#[test]
fn the_vmlinux_elf_is_refused_with_a_pointer_to_the_image() {
    // The README names build/guest/vmlinux for gdb; booting it instead is a clear error at once.
    let vmlinux = images().join("vmlinux");
    let m = machine("initramfs.toml");
    let out = guest::semu_output(
        m.parent().unwrap(),
        &["run", m.to_str().unwrap(), "--kernel", vmlinux.to_str().unwrap()],
        QUICK,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a 32-bit RISC-V ELF (a vmlinux?)") && err.contains("boot the `Image`"), "{err}");
}

#[test]
fn poweroff_halt_and_reboot_work_in_the_initramfs_shell() {
    for (cmd, status) in [("poweroff", 0), ("halt", 0), ("reboot", semu::machine::EXIT_REBOOT)] {
        let mut g = Guest::start(&[machine("initramfs.toml").to_str().unwrap()], false);
        g.wait_for("semu-init: ready", BOOT);
        g.wait_for("# ", BOOT);
        g.send(&format!("{cmd}\n"));
        let st = g.wait_exit(QUICK);
        assert_eq!(st.code(), Some(status), "`{cmd}`:\n{}", g.out);
    }
}

#[test]
fn large_ram_boots_with_its_initrd() {
    for mem in ["1GiB", "1536MiB", "2GiB", "3GiB"] {
        // initramfs.toml has its RAM at 0, so 3 GiB fit below the devices at 0xF000_0000
        let m = machine("initramfs.toml");
        let mut g = Guest::start(&[m.to_str().unwrap(), "--memory", mem, "--append", "semu.poweroff"], true);
        let st = g.wait_exit(BOOT);
        assert_eq!(st.code(), Some(0), "{mem}:\n{}", g.out);
        assert!(g.out.contains("semu-init: ready"), "{mem}:\n{}", g.out);
        assert!(!g.out.contains("disabling initrd"), "{mem}:\n{}", g.out);
        // the kernel has (about) the 1 GiB it can map, or all of a smaller RAM
        let line = g.out.lines().find(|l| l.contains("Memory: ")).unwrap_or_default();
        let total: u64 =
            line.split('/').nth(1).and_then(|t| t.split('K').next()).and_then(|k| k.parse().ok()).unwrap_or(0);
        assert_eq!(total, 1 << 20, "{mem}: {line}");
    }
}
