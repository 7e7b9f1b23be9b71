//! virtio-fs in a booted Linux guest: the guest mounts a host directory (`mount -t virtiofs`),
//! reads host files, and every change it makes (create, write, append, rename, chmod, truncate,
//! symlink, hard link, mkdir/rmdir, delete, a 64 MiB file) is on the host right after its `sync`.
//! A read-only share refuses changes and stays as it was; `--share DIR:TAG` adds a share from the
//! command line. These boot the project's kernel and busybox images (scripts/build-guest.sh).

mod guest;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use guest::{Guest, InitramfsMachine};

const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(120);

/// A host directory to share, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("semu-share-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` pseudo-random bytes (xorshift from `seed`).
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

/// The hex digest in a `sha256sum` line the guest printed.
fn digest(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

/// Boots `machine` (with extra command-line `args`) to its shell.
fn boot(machine: &InitramfsMachine, args: &[&str]) -> Guest {
    let mut all = vec![machine.arg()];
    all.extend_from_slice(args);
    let mut g = Guest::start(&all, false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", Duration::from_secs(60));
    g
}

fn fs_device(name: &str, path: &Path, tag: &str, more: &str) -> String {
    format!(
        "[[device]]\nname = \"{name}\"\nkind = \"virtio-fs\"\npath = \"{}\"\ntag = \"{tag}\"\n{more}\n",
        path.display()
    )
}

/// Runs a command that must succeed; its output with the console's line ends made `\n`.
fn sh(g: &mut Guest, cmd: &str) -> String {
    g.ok(cmd, CMD).replace("\r\n", "\n")
}

fn poweroff(mut g: Guest) {
    g.send("poweroff -f\n");
    assert_eq!(g.wait_exit(Duration::from_secs(60)).code(), Some(0), "{}", g.out);
}

#[test]
fn the_guest_reads_and_changes_a_shared_host_directory() {
    let host = HostDir::new("rw");
    std::fs::write(host.join("hello.bin"), noise(300 * 1024, 7)).unwrap();
    std::fs::create_dir(host.join("many")).unwrap();
    for i in 0..1000 {
        std::fs::write(host.join(&format!("many/file-{i:04}")), format!("{i}\n")).unwrap();
    }
    std::fs::write(host.join("big.bin"), noise(64 << 20, 99)).unwrap();
    let m = InitramfsMachine::new("fs-rw", "", &fs_device("share0", &host.0, "share", ""));
    let mut g = boot(&m, &[]);
    sh(&mut g, "mkdir -p /mnt && mount -t virtiofs share /mnt");
    assert!(sh(&mut g, "grep virtiofs /proc/mounts").contains("share /mnt virtiofs"));

    // Reading: a host file's checksum.
    let got = sh(&mut g, "sha256sum /mnt/hello.bin");
    assert_eq!(digest(&got), sha256(&host.join("hello.bin")), "{got}");

    // Create, write, append.
    sh(&mut g, "echo hello > /mnt/new.txt && echo more >> /mnt/new.txt && sync");
    assert_eq!(std::fs::read_to_string(host.join("new.txt")).unwrap(), "hello\nmore\n");
    // Rename, chmod, truncate.
    sh(
        &mut g,
        "mv /mnt/new.txt /mnt/renamed.txt && chmod 640 /mnt/renamed.txt && truncate -s 3 /mnt/renamed.txt && sync",
    );
    assert!(!host.join("new.txt").exists(), "renamed away");
    assert_eq!(std::fs::read(host.join("renamed.txt")).unwrap(), b"hel");
    assert_eq!(std::fs::metadata(host.join("renamed.txt")).unwrap().permissions().mode() & 0o777, 0o640);
    // Symlink and hard link.
    sh(&mut g, "ln -s renamed.txt /mnt/soft && ln /mnt/renamed.txt /mnt/hard && sync");
    assert_eq!(std::fs::read_link(host.join("soft")).unwrap(), Path::new("renamed.txt"));
    assert_eq!(
        std::fs::metadata(host.join("hard")).unwrap().ino(),
        std::fs::metadata(host.join("renamed.txt")).unwrap().ino()
    );
    assert_eq!(sh(&mut g, "cat /mnt/soft; readlink /mnt/soft; stat -c %h /mnt/hard"), "helrenamed.txt\n2");
    // mkdir, rmdir, delete.
    sh(&mut g, "mkdir /mnt/d1 /mnt/d2 && rmdir /mnt/d2 && echo x > /mnt/d1/f && sync");
    assert!(host.join("d1").is_dir() && !host.join("d2").exists());
    assert_eq!(std::fs::read_to_string(host.join("d1/f")).unwrap(), "x\n");
    let (out, status) = g.run("rmdir /mnt/d1", CMD);
    assert_ne!(status, 0, "a non-empty directory was removed: {out}");
    sh(&mut g, "rm /mnt/d1/f /mnt/hard /mnt/soft && rmdir /mnt/d1 && sync");
    for gone in ["d1", "hard", "soft"] {
        assert!(!host.join(gone).exists(), "{gone} is still on the host");
    }
    // A change on the host is seen by the guest (attributes are cached for a second at most).
    std::fs::write(host.join("renamed.txt"), "from the host\n").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(sh(&mut g, "cat /mnt/renamed.txt"), "from the host");

    // A directory of 1,000 files: `ls -la` lists them all (and . and ..).
    let ls = sh(&mut g, "ls -la /mnt/many | grep -c ' file-'; ls -la /mnt/many | grep -c ' \\.\\.*$'");
    assert_eq!(ls, "1000\n2", "{ls}");
    let names = sh(&mut g, "ls /mnt/many | md5sum");
    let mut want: Vec<String> = (0..1000).map(|i| format!("file-{i:04}\n")).collect();
    want.sort();
    let want_path = host.join("names.txt");
    std::fs::write(&want_path, want.concat()).unwrap();
    let want_md5 = std::process::Command::new("md5sum").arg(&want_path).output().unwrap();
    assert_eq!(digest(&names), digest(&String::from_utf8_lossy(&want_md5.stdout)), "the names listed");

    // 64 MiB: read a host file, write a copy, and the host's copy matches.
    let got = sh(&mut g, "sha256sum /mnt/big.bin");
    assert_eq!(digest(&got), sha256(&host.join("big.bin")), "64 MiB read");
    sh(&mut g, "cp /mnt/big.bin /mnt/copy.bin && sync");
    assert_eq!(sha256(&host.join("copy.bin")), sha256(&host.join("big.bin")), "64 MiB written");
    // Mounted afresh, nothing is cached: the bytes come from the host again.
    let got = sh(&mut g, "umount /mnt && mount -t virtiofs share /mnt && sha256sum /mnt/copy.bin");
    assert_eq!(digest(&got), sha256(&host.join("big.bin")), "64 MiB read back");

    sh(&mut g, "umount /mnt");
    poweroff(g);
}

/// Every path under `dir` with its type, mode, size, mtime and contents.
fn tree(dir: &Path) -> Vec<(PathBuf, u32, u64, i64, i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let body = if md.is_file() { std::fs::read(&p).unwrap() } else { Vec::new() };
            if md.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, md.mode(), md.size(), md.mtime(), md.mtime_nsec(), body));
        }
    }
    out.sort();
    out
}

#[test]
fn a_read_only_share_refuses_changes_and_a_command_line_share_mounts_by_its_tag() {
    let ro = HostDir::new("ro");
    std::fs::write(ro.join("keep.txt"), "keep me\n").unwrap();
    std::fs::create_dir(ro.join("sub")).unwrap();
    std::fs::write(ro.join("sub/inner"), "inner\n").unwrap();
    std::os::unix::fs::symlink("keep.txt", ro.join("link")).unwrap();
    let before = tree(&ro.0);
    let rw = HostDir::new("cli");
    std::fs::write(rw.join("from-cli.txt"), "given on the command line\n").unwrap();

    let m = InitramfsMachine::new("fs-ro", "", &fs_device("share0", &ro.0, "ro", "read-only = true"));
    let share = format!("{}:docs", rw.arg());
    let mut g = boot(&m, &["--share", &share]);
    sh(&mut g, "mkdir -p /ro /docs && mount -t virtiofs ro /ro && mount -t virtiofs docs /docs");
    assert_eq!(sh(&mut g, "cat /ro/keep.txt /ro/sub/inner /ro/link"), "keep me\ninner\nkeep me");
    for cmd in [
        "echo x > /ro/new",
        "echo x >> /ro/keep.txt",
        "rm /ro/keep.txt",
        "mv /ro/keep.txt /ro/moved",
        "chmod 600 /ro/keep.txt",
        "touch /ro/keep.txt",
        "mkdir /ro/dir",
        "rmdir /ro/sub",
        "ln -s x /ro/l2",
        "ln /ro/keep.txt /ro/h",
        "truncate -s 0 /ro/keep.txt",
    ] {
        let (out, status) = g.run(cmd, CMD);
        assert_ne!(status, 0, "`{cmd}` succeeded on a read-only share");
        assert!(out.contains("Read-only file system"), "`{cmd}`: {out}");
    }
    sh(&mut g, "sync");
    assert_eq!(tree(&ro.0), before, "the read-only host directory changed");

    // The command-line share is writable.
    assert_eq!(sh(&mut g, "cat /docs/from-cli.txt"), "given on the command line");
    sh(&mut g, "echo back > /docs/reply.txt && sync");
    assert_eq!(std::fs::read_to_string(rw.join("reply.txt")).unwrap(), "back\n");
    poweroff(g);
}
