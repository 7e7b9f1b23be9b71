//! The command line as a user meets it: mistakes end in one clear line naming the option or the
//! file, within seconds, and never in a silent spin (issue: "every failure ends in a clear
//! message"). Everything here runs the `semu` binary.

mod common_machine;
mod guest;

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use common_machine::{Scratch, GOOD};

/// Runs `semu ARGS` in `cwd`: status, stdout, stderr.
fn semu_in(cwd: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let out = guest::semu_output(cwd, args, Duration::from_secs(30));
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn semu(args: &[&str]) -> (ExitStatus, String, String) {
    semu_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// The one error line of a failed command (status 2).
fn one_error(r: &(ExitStatus, String, String)) -> String {
    let (status, _, stderr) = r;
    assert_eq!(status.code(), Some(2), "exit status; stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("semu: warning:")).collect();
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    assert!(lines[0].starts_with("semu: error: "), "{stderr}");
    lines[0].to_string()
}

fn broken(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken").join(name).display().to_string()
}

#[test]
fn a_file_that_is_not_a_kernel_image_is_named_before_boot() {
    let s = Scratch::new("cli-kernel");
    std::fs::write(s.path("empty"), b"").unwrap();
    let mut x86 = vec![0u8; 64];
    x86[..5].copy_from_slice(b"\x7fELF\x02");
    x86[0x12] = 0x3e;
    std::fs::write(s.path("x86.elf"), &x86).unwrap();
    std::fs::write(s.path("initrd.gz"), [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    let cases = [
        (s.path("empty").display().to_string(), "is empty (0 bytes), not a RISC-V Linux kernel Image"),
        (s.path("x86.elf").display().to_string(), "is a 64-bit ELF for x86-64, not a RISC-V Linux kernel Image"),
        (broken("prog.elf"), "is a 32-bit RISC-V ELF (a vmlinux?), not a RISC-V Linux kernel Image: boot the `Image`"),
        (s.path("initrd.gz").display().to_string(), "gzip-compressed"),
        (broken("initrd.cpio"), "not a RISC-V Linux kernel Image"),
    ];
    for (kernel, says) in &cases {
        let line = one_error(&semu(&["run", "machines/initramfs.toml", "--kernel", kernel]));
        assert!(line.contains("--kernel (command line") && line.contains(says), "{kernel}: {line}");
    }
    // The machine's own file: the error has the file's line, not the command line.
    let text = GOOD.replace("kernel = \"Image\"", "kernel = \"empty\"");
    std::fs::write(s.path("m.toml"), text).unwrap();
    let line = one_error(&semu(&["validate", s.path("m.toml").to_str().unwrap()]).map_status(2));
    assert!(line.contains("m.toml:7: field \"boot.kernel\"") && line.contains("is empty (0 bytes)"), "{line}");
    // A kernel too big for RAM: its header claims 64 MiB.
    let line =
        one_error(&semu(&["run", "machines/initramfs.toml", "--kernel", &broken("big.Image"), "--memory", "32MiB"]));
    assert!(line.contains("--memory (command line") && line.contains("RAM is too small: kernel (65536 KiB)"), "{line}");
}

trait MapStatus {
    /// `semu validate` exits 1 for a bad file; read it as the 2 of other commands.
    fn map_status(self, to: i32) -> Self;
}

impl MapStatus for (ExitStatus, String, String) {
    fn map_status(self, to: i32) -> Self {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(self.0.code(), Some(1), "validate's status; stderr:\n{}", self.2);
        (ExitStatus::from_raw(to << 8), self.1, self.2)
    }
}

#[test]
fn command_line_paths_are_relative_to_the_working_directory() {
    // The machine's folder and the working directory both hold "d.img", of different sizes:
    // --disk d.img must be the working directory's.
    let s = Scratch::new("cli-disk");
    let cwd = s.path("cwd");
    std::fs::create_dir(&cwd).unwrap();
    std::fs::write(s.path("m.toml"), GOOD).unwrap();
    std::fs::write(cwd.join("d.img"), vec![0u8; 1000]).unwrap(); // not a multiple of 512
    std::fs::write(s.path("d.img"), vec![0u8; 4096]).unwrap();
    let m = s.path("m.toml").display().to_string();
    let line = one_error(&semu_in(&cwd, &["dtb", &m, "--disk", "d.img", "-o", "x.dtb"]));
    assert!(line.starts_with(&format!("semu: error: --disk (command line, machine {m}): device \"disk0\"")), "{line}");
    assert!(line.contains("d.img is 1000 bytes, not a multiple of 512"), "{line}");
    // Only the machine's folder has it: not found, and the message says where it came from.
    std::fs::remove_file(cwd.join("d.img")).unwrap();
    let line = one_error(&semu_in(&cwd, &["dtb", &m, "--disk", "d.img", "-o", "x.dtb"]));
    assert!(line.contains("--disk (command line") && line.contains("No such file"), "{line}");
    assert!(!line.contains(":1:"), "no line of the machine file is blamed: {line}");
    // Only the working directory has a good one: it boots that one.
    std::fs::write(cwd.join("d.img"), vec![0u8; 8192]).unwrap();
    let (st, _, err) = semu_in(&cwd, &["dtb", &m, "--disk", "d.img", "-o", "x.dtb"]);
    assert_eq!(st.code(), Some(0), "{err}");
    // --kernel and --initrd alike
    let line = one_error(&semu_in(&cwd, &["dtb", &m, "--kernel", "Image", "-o", "x.dtb"]));
    assert!(line.contains("--kernel (command line") && line.contains("Image: No such file"), "{line}");
}

#[test]
fn more_ram_than_the_address_space_leaves_for_devices_says_so() {
    let line = one_error(&semu(&["dtb", "machines/bare-metal.toml", "--memory", "4GiB", "-o", "/dev/null"]));
    assert!(line.contains("--memory (command line") && line.contains("beyond the 32-bit address space"), "{line}");
    let s = Scratch::new("cli-ram");
    std::fs::write(s.path("m.toml"), GOOD).unwrap();
    let m = s.path("m.toml").display().to_string();
    let line = one_error(&semu(&["dtb", &m, "--memory", "4GiB", "-o", "/dev/null"]));
    assert!(
        line.contains("--memory (command line") && line.contains("into the space from 0xf0000000 where devices go"),
        "{line}"
    );
    assert!(line.contains("at most 3840MiB of RAM"), "{line}");
    // the units: 1G is accepted and the message says so
    let (st, _, err) = semu(&["dtb", &m, "--memory", "12X", "-o", "/dev/null"]);
    assert_eq!(st.code(), Some(2));
    assert!(err.contains("--memory") && err.contains("GiB (G)"), "{err}");
    let (st, _, err) = semu(&["dtb", &m, "--memory", "1G", "-o", "/dev/null"]);
    assert_eq!(st.code(), Some(0), "{err}");
}

#[test]
fn validate_counts_harts_and_warns_about_disks_without_a_file_system() {
    let s = Scratch::new("cli-validate");
    std::fs::write(s.path("m.toml"), GOOD).unwrap();
    std::fs::write(s.path("empty.img"), b"").unwrap();
    std::fs::write(s.path("e.toml"), GOOD.replace("disk.img", "empty.img")).unwrap();
    let (st, out, err) = semu(&["validate", s.path("m.toml").to_str().unwrap(), s.path("e.toml").to_str().unwrap()]);
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(out.contains("m.toml: ok (1 hart, 5 devices)"), "{out}");
    let warnings: Vec<&str> = err.lines().collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].starts_with("semu: warning: ") && warnings[0].contains("holds no ext2/3/4 file system"),
        "{err}"
    );
    assert!(warnings[1].contains("e.toml:") && warnings[1].contains("empty.img is empty (0 bytes)"), "{err}");
    // an ext4 image: no warning
    let mut ext = vec![0u8; 4096];
    ext[1080..1082].copy_from_slice(&[0x53, 0xef]);
    std::fs::write(s.path("disk.img"), ext).unwrap();
    let (_, out, err) = semu(&["validate", s.path("m.toml").to_str().unwrap()]);
    assert!(err.is_empty() && out.contains("ok"), "{err}");
}

#[test]
fn devices_lists_options_and_describes_a_kind() {
    let (st, out, _) = semu(&["devices"]);
    assert_eq!(st.code(), Some(0));
    for k in semu::registry::kinds() {
        assert!(out.contains(k.kind), "{out}");
    }
    assert!(out.contains("options: image, read-only"), "{out}");
    let (st, out, _) = semu(&["devices", "virtio-blk"]);
    assert_eq!(st.code(), Some(0));
    assert!(out.contains("image (string; required)") && out.contains("read-only (boolean; default false)"), "{out}");
    assert!(out.contains("example:\n[[device]]\nname = \"disk0\""), "{out}");
    let line = one_error(&semu(&["devices", "floppy"]));
    assert!(line.contains("no device kind \"floppy\"; known kinds: aclint"), "{line}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    for args in [&["dtb", "machines/bare-metal.toml", "--dts"][..], &["schema"], &["devices"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_semu"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
