//! The GDB remote stub (`semu run --gdb ADDR [--wait-gdb]`), driven by scripted
//! `gdb-multiarch -batch` sessions on loopback:
//!
//! * a bare-metal program (`tests/gdb/prog.S`, built with Debian's `riscv64-unknown-elf-gcc`)
//!   debugged from its first instruction: registers, a breakpoint, `stepi`, a register write,
//!   memory reads (and a failing one), a write watchpoint, threads, memory writes, exit;
//! * the same program on two harts, attached while it runs, stopped with Ctrl-C (SIGINT to gdb),
//!   per-thread registers, a hardware breakpoint, exit;
//! * the Linux kernel (`build/guest/vmlinux` symbols) from its first instruction: a breakpoint on
//!   `do_sys_openat2` hit when init opens files, registers, CSRs and `priv`, `stepi`, then on to
//!   power-off.
//!
//! `gdb-multiarch` is not optional: without it the tests fail and say to run `scripts/deps.sh`.
//! The Linux test needs the guest images of `scripts/build-guest.sh`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const GDB: &str = "gdb-multiarch";
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test (with what to do) unless gdb-multiarch runs.
fn check_gdb() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = CHECK.get_or_init(|| match Command::new(GDB).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("`{GDB} --version` failed ({})", out.status)),
        Err(e) => Err(format!(
            "cannot run `{GDB}`: {e}.\nThe GDB stub tests drive Debian's gdb-multiarch: run scripts/deps.sh \
             (or `sudo apt-get install -y gdb-multiarch`)."
        )),
    });
    if let Err(msg) = r {
        panic!("{msg}");
    }
}

/// Builds `tests/gdb/prog.S` once.
fn program() -> PathBuf {
    static ELF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = root().join("tests/gdb");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gdb");
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let elf = out.join("prog.elf");
        let cc = std::env::var("SEMU_ISA_CC").unwrap_or_else(|_| "riscv64-unknown-elf-gcc".into());
        let res = Command::new(&cc)
            .args(["-march=rv32ima_zicsr_zifencei", "-mabi=ilp32", "-static", "-mcmodel=medany"])
            .args(["-nostdlib", "-nostartfiles", "-Wl,--no-warn-rwx-segments"])
            .arg(format!("-T{}", dir.join("link.ld").display()))
            .arg(dir.join("prog.S"))
            .arg("-o")
            .arg(&elf)
            .output()
            .map_err(|e| format!("cannot run {cc}: {e} (install gcc-riscv64-unknown-elf: scripts/deps.sh)"))?;
        if !res.status.success() {
            return Err(format!("building prog.S failed:\n{}", String::from_utf8_lossy(&res.stderr)));
        }
        Ok(elf)
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A child process whose stdout and stderr are collected (together) as they come; killed on drop.
struct Proc {
    name: &'static str,
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for mut pipe in pipes {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Self { name, child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Waits until the output contains `pat`; returns the output.
    fn wait_for(&mut self, pat: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            let out = self.output();
            if out.contains(pat) {
                return out;
            }
            if Instant::now() >= until || self.child.try_wait().unwrap().is_some() {
                let _ = self.child.kill();
                std::thread::sleep(Duration::from_millis(100));
                panic!("{} never printed {pat:?}; its output:\n{}", self.name, self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let until = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // let the readers drain the pipes
                return st;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!("{} did not exit within {timeout:?}; its output:\n{}", self.name, self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `semu run <args> --gdb 127.0.0.1:0` and returns it with the address it listens on.
fn semu(args: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_semu"));
    cmd.arg("run").args(args).args(["--gdb", "127.0.0.1:0"]);
    let mut p = Proc::spawn("semu", &mut cmd);
    let out = p.wait_for("semu: gdb listening on ", Duration::from_secs(30));
    let line = out.lines().find_map(|l| l.strip_prefix("semu: gdb listening on ")).unwrap();
    let addr = line.split_whitespace().next().unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr}");
    (p, addr)
}

/// Starts `gdb-multiarch -batch` on `file` with one `-ex` per command (so one failing command
/// does not end the session).
fn gdb(file: &Path, commands: &[String]) -> Proc {
    check_gdb();
    let mut cmd = Command::new(GDB);
    cmd.args(["-batch", "-nx"]).env("DEBUGINFOD_URLS", "");
    for c in commands {
        cmd.arg("-ex").arg(c);
    }
    cmd.arg(file);
    Proc::spawn("gdb-multiarch", &mut cmd)
}

fn cmds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn expect(out: &str, what: &[&str]) {
    for w in what {
        assert!(out.contains(w), "gdb output lacks {w:?}:\n{out}");
    }
}

#[test]
fn bare_metal_session_from_the_first_instruction() {
    check_gdb();
    let elf = program();
    let machine = root().join("machines/bare-metal.toml");
    let (mut semu, addr) = semu(&[machine.to_str().unwrap(), "--kernel", elf.to_str().unwrap(), "--wait-gdb"]);
    let mut commands = vec![format!("target remote {addr}")];
    commands.extend(cmds(&[
        "info registers",
        "printf \"start pc=%#x priv=%d mhartid=%d misa=%#x\\n\", $pc, $priv, $mhartid, $misa",
        "break *at_break",
        "continue",
        "stepi",
        "p $pc",
        "set $a0 = 5",
        "printf \"a0=%d\\n\", $a0",
        "set $mscratch = 0x12345678",
        "set $priv = 1",
        "printf \"mscratch=%#x priv=%d\\n\", $mscratch, $priv",
        "set $priv = 3",
        "set $mhartid = 7",
        "x/4wx &data",
        "x/x 0x10",
        "watch *(int*)&value",
        "continue",
        "p $pc",
        "info threads",
        "info registers mstatus priv",
        "delete",
        "set *(int*)&flag = 1",
        "printf \"flag=%d\\n\", *(int*)&flag",
        "continue",
    ]));
    let mut g = gdb(&elf, &commands);
    let st = g.wait_exit(TIMEOUT);
    let out = g.output();
    assert!(st.success(), "gdb failed ({st}):\n{out}");
    expect(
        &out,
        &[
            "0x80000000 in _start ()",
            "pc             0x80000000",
            "start pc=0x80000000 priv=3 mhartid=0 misa=0x40141101",
            "Breakpoint 1 at 0x80000020",
            "Breakpoint 1, 0x80000020 in at_break ()",
            "0x80000024 <at_break+4>",
            "a0=5",
            "mscratch=0x12345678 priv=1",
            "Could not write register \"mhartid\"",
            "0x11111111\t0x22222222\t0x33333333\t0x44444444",
            "Cannot access memory at address 0x10",
            "Hardware watchpoint 2: *(int*)&value",
            "Old value = 0",
            "New value = 5",
            "0x80000034 in store ()",
            "Thread 1.1 (hart 0, M-mode)",
            "prv:3 [Machine]",
            "flag=1",
            "exited normally",
        ],
    );
    let st = semu.wait_exit(TIMEOUT);
    assert_eq!(st.code(), Some(0), "semu exit status; its output:\n{}", semu.output());
}

#[test]
fn bare_metal_attach_to_a_running_machine_and_interrupt_it() {
    check_gdb();
    let elf = program();
    let machine = root().join("machines/bare-metal.toml");
    // no --wait-gdb: the program runs (and spins, waiting for `flag`) before gdb attaches
    let (mut semu, addr) = semu(&[machine.to_str().unwrap(), "--kernel", elf.to_str().unwrap(), "--harts", "2"]);
    std::thread::sleep(Duration::from_millis(300));
    let mut commands = vec![format!("target remote {addr}")];
    commands.extend(cmds(&[
        "info threads",
        "echo CONTINUING\\n",
        "continue",
        "p $pc",
        "thread 2",
        "printf \"thread 2 mhartid=%d\\n\", $mhartid",
        "p $pc",
        "thread 1",
        "printf \"thread 1 mhartid=%d\\n\", $mhartid",
        "set *(int*)&value = 5",
        "set *(int*)&flag = 1",
        "hbreak *pass",
        "continue",
        "continue",
    ]));
    let mut g = gdb(&elf, &commands);
    // Ctrl-C: gdb turns SIGINT into an interrupt request to the stub
    g.wait_for("CONTINUING", TIMEOUT);
    std::thread::sleep(Duration::from_secs(1));
    let pid = g.child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().expect("kill(1)");
    assert!(kill.success());
    let st = g.wait_exit(TIMEOUT);
    let out = g.output();
    assert!(st.success(), "gdb failed ({st}):\n{out}");
    expect(
        &out,
        &[
            "Thread 1.1 (hart 0, M-mode)",
            "Thread 1.2 (hart 1, M-mode, wfi)",
            "received signal SIGINT, Interrupt.",
            "<spin",
            "thread 2 mhartid=1",
            "<park",
            "thread 1 mhartid=0",
            "Hardware assisted breakpoint 1 at",
            "hit Breakpoint 1, 0x",
            "in pass ()",
            "exited normally",
        ],
    );
    let st = semu.wait_exit(TIMEOUT);
    assert_eq!(st.code(), Some(0), "semu exit status; its output:\n{}", semu.output());
}

#[test]
fn linux_session_breaks_in_do_sys_openat2_and_runs_to_power_off() {
    check_gdb();
    let dir = root().join("build/guest");
    for f in ["Image", "initramfs.cpio", "vmlinux"] {
        assert!(dir.join(f).exists(), "{} is missing: run scripts/build-guest.sh", dir.join(f).display());
    }
    let machine = root().join("machines/initramfs.toml");
    let (mut semu, addr) = semu(&[machine.to_str().unwrap(), "--wait-gdb", "--append", "semu.poweroff"]);
    let mut commands = vec![format!("target remote {addr}")];
    commands.extend(cmds(&[
        "break do_sys_openat2",
        "continue",
        "info registers",
        "printf \"priv=%d satp=%#x sstatus=%#x\\n\", $priv, $satp, $sstatus",
        // the file name the process opens: a user pointer, read from S-mode without SUM
        "x/s $a1",
        "p/x $stvec",
        "x/2wx $sp",
        "stepi",
        "p $pc",
        "delete",
        "continue",
    ]));
    let mut g = gdb(&dir.join("vmlinux"), &commands);
    let st = g.wait_exit(TIMEOUT);
    let out = g.output();
    assert!(st.success(), "gdb failed ({st}):\n{out}");
    expect(
        &out,
        &[
            "Breakpoint 1 at 0x",
            "in do_sys_openat2 ()",
            "ra             0x",
            "sp             0xc",
            "<do_sys_openat2>",
            "priv=1 satp=0x80",
            "<do_sys_openat2+4>",
            "exited normally",
        ],
    );
    assert!(out.contains("Breakpoint 1, 0x"), "the breakpoint was hit:\n{out}");
    assert!(
        out.lines().any(|l| l.starts_with("0x") && l.contains(":\t\"/")),
        "x/s $a1 shows the user's path name:\n{out}"
    );
    assert!(!out.contains("Cannot access memory"), "kernel memory reads through the page tables:\n{out}");
    let st = semu.wait_exit(TIMEOUT);
    let semu_out = semu.output();
    assert_eq!(st.code(), Some(0), "semu exit status; its output:\n{semu_out}");
    assert!(semu_out.contains("reboot: Power down"), "{semu_out}");
}
