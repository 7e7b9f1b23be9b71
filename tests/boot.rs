//! Real Linux boots: the project's kernel and busybox images (scripts/build-guest.sh) on the
//! shipped machine files, driven through the console.

mod guest;

use std::time::Duration;

use guest::{images, machine, DiskCopy, Guest};

const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn minimal_machine_boots_from_disk_to_a_shell_and_keeps_a_synced_file() {
    let img = images();
    let disk = DiskCopy::new("minimal");
    let m = machine("minimal.toml");
    let kernel = img.join("Image");
    let mut g = Guest::start(&[path(&m), "--kernel", path(&kernel), "--disk", path(&disk.0)], false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", BOOT);
    assert!(!g.out.contains("Cannot open root device"), "{}", g.out);

    let uname = g.ok("uname -a", CMD);
    assert!(uname.contains("Linux semu") && uname.contains("riscv32"), "{uname}");
    let cpuinfo = g.ok("cat /proc/cpuinfo", CMD);
    assert!(cpuinfo.contains("hart\t\t: 0") && cpuinfo.contains("rv32ima"), "{cpuinfo}");
    let mounts = g.ok("cat /proc/mounts", CMD);
    assert!(mounts.contains("/dev/root / ext4 rw"), "{mounts}");
    let root_dev = g.ok("cat /sys/block/vda/dev; stat -c %t:%T /dev/root 2>/dev/null || true", CMD);
    assert!(root_dev.starts_with("254:0"), "root is vda: {root_dev}");
    let rng = g.ok("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'", CMD);
    assert_eq!(rng.trim().len(), 64, "32 bytes from the virtio-rng: {rng}");
    assert_ne!(rng.trim(), "0".repeat(64));

    g.ok("echo written-by-the-guest > /persist.txt && sync", CMD);
    g.send("poweroff\n");
    let st = g.wait_exit(BOOT);
    assert_eq!(st.code(), Some(0), "semu exit status; console:\n{}", g.out);

    let out = std::process::Command::new("debugfs")
        .args(["-R", "cat /persist.txt"])
        .arg(&disk.0)
        .output()
        .expect("debugfs (e2fsprogs)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "written-by-the-guest",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn initramfs_machine_boots_and_powers_off() {
    let img = images();
    let m = machine("initramfs.toml");
    let (k, i) = (img.join("Image"), img.join("initramfs.cpio"));
    let mut g = Guest::start(&[path(&m), "--kernel", path(&k), "--initrd", path(&i)], false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", BOOT);
    let cmdline = g.ok("cat /proc/cmdline", CMD);
    assert!(!cmdline.contains("root="), "initramfs boot has no root=: {cmdline}");
    g.send("poweroff -f\n");
    let st = g.wait_exit(BOOT);
    assert_eq!(st.code(), Some(0), "{}", g.out);
    assert!(!g.out.contains("Cannot open root device"), "{}", g.out);
}

#[test]
fn boot_completes_with_stdin_at_end_of_file() {
    let img = images();
    let m = machine("initramfs.toml");
    let (k, i) = (img.join("Image"), img.join("initramfs.cpio"));
    // A serial console has no end-of-file: the guest must boot as usual while the host side of the
    // console is at EOF; `semu.poweroff` makes /init power off once it is ready.
    let mut g =
        Guest::start(&[path(&m), "--kernel", path(&k), "--initrd", path(&i), "--append", "semu.poweroff"], true);
    let st = g.wait_exit(BOOT);
    assert!(g.out.contains("semu-init: ready"), "{}", g.out);
    assert_eq!(st.code(), Some(0), "{}", g.out);
}

#[test]
fn harts_come_online_and_share_a_parallel_job() {
    let img = images();
    let m = machine("initramfs.toml");
    let (k, i) = (img.join("Image"), img.join("initramfs.cpio"));
    for harts in [1, 2, 4] {
        let n = harts.to_string();
        let mut g = Guest::start(&[path(&m), "--kernel", path(&k), "--initrd", path(&i), "--harts", &n], false);
        g.wait_for("semu-init: ready", BOOT);
        g.wait_for("# ", BOOT);
        assert_eq!(g.ok("nproc", CMD).trim(), n, "{}", g.out);
        let cpus = g.ok("grep -c '^hart' /proc/cpuinfo", CMD);
        assert_eq!(cpus.trim(), n);
        // One busy loop per hart, all in the background, then wait for all of them.
        let job = format!(
            "for j in $(seq {harts}); do (k=0; while [ $k -lt 3000 ]; do k=$((k+1)); done; echo job$j) & done; wait; echo all-done"
        );
        let out = g.ok(&job, Duration::from_secs(120));
        assert!(out.contains("all-done"), "{out}");
        for j in 1..=harts {
            assert!(out.contains(&format!("job{j}")), "{out}");
        }
        g.send("poweroff -f\n");
        assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    }
}

#[test]
fn amo_after_fork_on_a_copy_on_write_page_releases_the_lock() {
    let img = images();
    let m = machine("initramfs.toml");
    let (k, i) = (img.join("Image"), img.join("initramfs.cpio"));
    let mut g = Guest::start(&[path(&m), "--kernel", path(&k), "--initrd", path(&i)], false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", BOOT);
    let out = g.ok("/usr/bin/amofork 300", Duration::from_secs(120));
    assert!(out.contains("amofork: PASS n=300"), "{out}");
    g.send("poweroff -f\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
}

#[test]
fn every_shipped_linux_machine_boots_as_described() {
    // (machine file, harts, root on its disk)
    for (file, harts, disk) in
        [("minimal.toml", 1, true), ("initramfs.toml", 1, false), ("smp4.toml", 4, true), ("virt.toml", 2, true)]
    {
        let m = machine(file);
        let copy = DiskCopy::new(&format!("shipped-{file}"));
        let mut args = vec![path(&m), "--append", "semu.poweroff"];
        if disk {
            args.extend(["--disk", path(&copy.0)]);
        }
        let mut g = Guest::start(&args, true);
        let st = g.wait_exit(BOOT);
        assert_eq!(st.code(), Some(0), "{file}:\n{}", g.out);
        assert!(g.out.contains("semu-init: ready"), "{file}:\n{}", g.out);
        let cpus = if harts == 1 { "1 CPU".to_string() } else { format!("{harts} CPUs") };
        assert!(g.out.contains(&format!("smp: Brought up 1 node, {cpus}")), "{file}: {cpus}\n{}", g.out);
        let root = if disk { "root=/dev/vda rw rootwait" } else { "" };
        let cmdline = g.out.lines().find(|l| l.contains("Kernel command line:")).unwrap_or("");
        assert!(cmdline.contains(root) && cmdline.contains("semu.poweroff"), "{file}: {cmdline}");
        assert_eq!(cmdline.contains("root="), disk, "{file}: {cmdline}");
    }
}
