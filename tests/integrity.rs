//! Disk data integrity, end to end with Linux: a write the guest has flushed is on the host file
//! even when semu dies by SIGKILL right after; a read-only disk's image never changes, whatever
//! the guest tries, and a read-only root is mounted read-only (`root=/dev/vda ro`); a snapshot
//! disk (`--snapshot`) takes the guest's writes and forgets them at exit, its image byte-for-byte
//! unchanged; an image in use by a running semu is refused by a second one.

mod guest;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use guest::{images, DiskCopy, Guest};

const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(120);

/// The line the guest writes to the raw data disk, over and over.
const LINE: &str = "semu-integrity-pattern-0123456789abcdef\n";
/// Bytes of pattern written.
const PATTERN_LEN: usize = 1 << 20;
/// Size of the data disk.
const DATA_LEN: usize = 2 << 20;

fn pattern() -> Vec<u8> {
    LINE.bytes().cycle().take(PATTERN_LEN).collect()
}

/// A temporary directory with a machine file `m.toml`: a UART, a PLIC, an ACLINT, the root disk
/// `disk0` (vda), a data disk `disk1` (vdb) on `data.img`, and a second UART (ttyS1) logging to
/// `ttyS1.log`.
struct Setup {
    dir: PathBuf,
    root: DiskCopy,
}

impl Setup {
    fn new(tag: &str, data: &[u8], data_read_only: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("semu-integrity-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = DiskCopy::new(&format!("integrity-{tag}"));
        std::fs::write(dir.join("data.img"), data).unwrap();
        let machine = format!(
            "[memory]\nbase = 0x0\nsize = \"256MiB\"\n\n[boot]\nkernel = \"{}\"\nroot = \"disk0\"\n\n\
             [[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n\n[[device]]\nname = \"plic0\"\nkind = \"plic\"\n\n\
             [[device]]\nname = \"aclint0\"\nkind = \"aclint\"\n\n\
             [[device]]\nname = \"disk0\"\nkind = \"virtio-blk\"\nimage = \"{}\"\n\n\
             [[device]]\nname = \"disk1\"\nkind = \"virtio-blk\"\nimage = \"data.img\"\nread-only = {data_read_only}\n\n\
             [[device]]\nname = \"uart1\"\nkind = \"uart8250\"\nlog = \"ttyS1.log\"\n",
            images().join("Image").display(),
            root.0.display(),
        );
        std::fs::write(dir.join("m.toml"), machine).unwrap();
        Self { dir, root }
    }

    fn machine(&self) -> String {
        self.dir.join("m.toml").display().to_string()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data.img")
    }

    fn boot(&self) -> Guest {
        let mut g = Guest::start(&[&self.machine()], false);
        g.wait_for("semu-init: ready", BOOT);
        g.wait_for("# ", BOOT);
        g
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The contents of `name` in the ext4 image `img`, after replaying its journal as a reboot would
/// (on a copy: the image itself is left as semu left it).
fn ext4_file(img: &Path, name: &str) -> String {
    let copy = img.with_extension("fsck");
    std::fs::copy(img, &copy).unwrap();
    let fsck = Command::new("e2fsck").args(["-f", "-y"]).arg(&copy).output().expect("e2fsck (e2fsprogs)");
    // 0: clean, 1: errors corrected (a replayed journal counts)
    assert!(matches!(fsck.status.code(), Some(0 | 1)), "e2fsck: {}", String::from_utf8_lossy(&fsck.stdout));
    let out = Command::new("debugfs").args(["-R", &format!("cat {name}")]).arg(&copy).output().expect("debugfs");
    let _ = std::fs::remove_file(&copy);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn synced_writes_survive_sigkill() {
    let s = Setup::new("sigkill", &vec![0; DATA_LEN], false);
    let mut g = s.boot();
    // A file on the root file system, and 1 MiB of pattern on the raw data disk, then sync.
    g.ok("echo written-before-sigkill > /integrity.txt", CMD);
    let cmd = format!(
        "yes '{}' | head -c {PATTERN_LEN} | dd of=/dev/vdb bs=65536 conv=fsync 2>/dev/null && sync && echo SYNC''ED",
        LINE.trim_end()
    );
    g.send(&format!("{cmd}\n"));
    g.wait_for("SYNCED", CMD);
    let st = g.sigkill();
    assert_eq!(st.signal(), Some(9), "semu was killed, not exited: {st:?}");

    let data = std::fs::read(s.data()).unwrap();
    assert_eq!(data.len(), DATA_LEN);
    let want = pattern();
    let got = &data[..PATTERN_LEN];
    if got != want.as_slice() {
        let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
        panic!("data disk differs from the pattern at byte {at} of {PATTERN_LEN}");
    }
    assert!(data[PATTERN_LEN..].iter().all(|&b| b == 0), "nothing written past the pattern");
    assert_eq!(ext4_file(&s.root.0, "/integrity.txt").trim(), "written-before-sigkill");
}

#[test]
fn read_only_disk_is_never_modified() {
    // The read-only disk holds an ext4 file system (a copy of the root image), so the guest can
    // try both a mount and raw writes.
    let image = std::fs::read(images().join("rootfs.ext4")).unwrap();
    let s = Setup::new("ro", &image, true);
    let before = std::fs::read(s.data()).unwrap();
    let mut g = s.boot();
    let ro = g.ok("cat /sys/block/vdb/ro", CMD);
    assert_eq!(ro.trim(), "1", "Linux sees the disk read-only");
    let (out, st) = g.run("dd if=/dev/zero of=/dev/vdb bs=4096 count=16 conv=fsync", CMD);
    assert_ne!(st, 0, "a raw write to the read-only disk fails: {out}");
    g.run("blockdev --setrw /dev/vdb; dd if=/dev/zero of=/dev/vdb bs=4096 count=16 conv=fsync", CMD);
    g.ok("mkdir -p /mnt && mount /dev/vdb /mnt 2>&1; grep vdb /proc/mounts", CMD);
    let (out, st) = g.run("touch /mnt/new-file", CMD);
    assert_ne!(st, 0, "a file system on a read-only disk takes no writes: {out}");
    g.ok("umount /mnt; sync", CMD);
    g.send("poweroff\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    assert!(std::fs::read(s.data()).unwrap() == before, "the read-only image changed");
}

#[test]
fn a_snapshot_disk_takes_writes_and_leaves_its_image_unchanged() {
    let root = DiskCopy::new("integrity-snapshot");
    let before = std::fs::read(&root.0).unwrap();
    let m = guest::machine("minimal.toml");
    let kernel = images().join("Image");
    let args =
        [m.to_str().unwrap(), "--kernel", kernel.to_str().unwrap(), "--disk", root.0.to_str().unwrap(), "--snapshot"];
    let boot = || {
        let mut g = Guest::start(&args, false);
        g.wait_for("semu-init: ready", BOOT);
        g.wait_for("# ", BOOT);
        g
    };

    let mut g = boot();
    assert!(g.ok("cat /proc/cmdline", CMD).contains("root=/dev/vda rw"), "a snapshot root is writable");
    assert_eq!(g.ok("cat /sys/block/vda/ro", CMD).trim(), "0", "Linux sees a writable disk");
    // A file and 1 MiB of pattern on the root file system, synced; then read back from the disk
    // itself (the page cache dropped), so the data comes from the overlay.
    g.ok("echo written-in-a-snapshot > /snapshot.txt", CMD);
    g.ok(&format!("yes '{}' | head -c {PATTERN_LEN} > /pattern.bin && sync", LINE.trim_end()), CMD);
    g.ok("echo 3 > /proc/sys/vm/drop_caches", CMD);
    assert_eq!(g.ok("cat /snapshot.txt", CMD), "written-in-a-snapshot");
    let sum = g.ok("md5sum /pattern.bin", CMD);
    let want = Command::new("md5sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&pattern())?;
        c.wait_with_output()
    });
    let want = String::from_utf8_lossy(&want.expect("md5sum").stdout).split_whitespace().next().unwrap().to_string();
    assert!(sum.starts_with(&want), "the guest reads back what it wrote: {sum} (want {want})");
    g.send("poweroff\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    assert!(std::fs::read(&root.0).unwrap() == before, "the snapshot's image changed");

    // The next boot starts from the unchanged image: the files are gone.
    let mut g = boot();
    let (out, st) = g.run("ls /snapshot.txt /pattern.bin", CMD);
    assert_ne!(st, 0, "the files written in the last snapshot are gone: {out}");
    g.send("poweroff\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    assert!(std::fs::read(&root.0).unwrap() == before, "the snapshot's image changed");
}

#[test]
fn a_read_only_root_disk_is_mounted_read_only() {
    let root = DiskCopy::new("integrity-ro-root");
    let before = std::fs::read(&root.0).unwrap();
    let dir = std::env::temp_dir().join(format!("semu-integrity-ro-root-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.join("m.toml");
    let text = std::fs::read_to_string(guest::machine("minimal.toml")).unwrap();
    let disk = "image = \"../build/guest/rootfs.ext4\"";
    let kernel = "kernel = \"../build/guest/Image\"";
    assert!(text.contains(disk) && text.contains(kernel), "{text}");
    let text = text
        .replace(disk, &format!("image = \"{}\"\nread-only = true", root.0.display()))
        .replace(kernel, &format!("kernel = \"{}\"", images().join("Image").display()));
    std::fs::write(&m, text).unwrap();
    let mut g = Guest::start(&[m.to_str().unwrap()], false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", BOOT);
    assert!(g.out.contains("Kernel command line: console=ttyS0 root=/dev/vda ro rootwait"), "{}", g.out);
    let mounts = g.ok("cat /proc/mounts", CMD);
    assert!(mounts.contains("/dev/root / ext4 ro"), "{mounts}");
    let (out, st) = g.run("touch /new-file", CMD);
    assert_ne!(st, 0, "a read-only root takes no writes: {out}");
    g.send("poweroff\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(std::fs::read(&root.0).unwrap() == before, "the read-only root image changed");
}

#[test]
fn a_second_uart_logs_to_its_file() {
    let s = Setup::new("uart1", &vec![0; 4096], false);
    let mut g = s.boot();
    g.ok("stty -F /dev/ttyS1 raw && for i in 1 2 3; do echo to-the-s''econd-uart-$i > /dev/ttyS1; done", CMD);
    g.send("poweroff\n");
    assert_eq!(g.wait_exit(BOOT).code(), Some(0), "{}", g.out);
    let log = std::fs::read_to_string(s.dir.join("ttyS1.log")).unwrap();
    assert_eq!(log, "to-the-second-uart-1\nto-the-second-uart-2\nto-the-second-uart-3\n");
    assert!(!g.out.contains("to-the-second-uart-"), "the console shows none of it:\n{}", g.out);
}

#[test]
fn an_image_in_use_is_refused() {
    let s = Setup::new("lock", &vec![0; DATA_LEN], false);
    let mut first = Guest::start(&[&s.machine(), "--max-instructions", "4000000000"], false);
    // The images are locked once the machine is built, before the guest runs: wait for the
    // kernel's first words.
    first.wait_for("Linux version", BOOT);
    for args in [vec![s.machine()], vec![s.machine(), "--disk".into(), s.root.0.display().to_string()]] {
        let out = Command::new(env!("CARGO_BIN_EXE_semu"))
            .arg("run")
            .args(&args)
            .args(["--max-instructions", "1000"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "the second semu fails: {err}");
        assert!(err.contains("in use by another process"), "{err}");
    }
    drop(first); // SIGKILL: the kernel releases the locks with the process
    let out = Command::new(env!("CARGO_BIN_EXE_semu"))
        .args(["run", &s.machine(), "--max-instructions", "1000"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "the images are free again: {}", String::from_utf8_lossy(&out.stderr));
}
