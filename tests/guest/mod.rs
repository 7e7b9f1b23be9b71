// Drives a Linux guest in semu through its console: spawns `semu run` with piped stdin/stdout,
// waits for output, sends commands and reads their results. Every wait has a deadline, so a hung
// guest fails the test with its console output instead of hanging the suite.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Directory of the guest images built by `scripts/build-guest.sh`.
pub fn images() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("build/guest");
    for f in ["Image", "initramfs.cpio", "rootfs.ext4"] {
        assert!(
            dir.join(f).exists(),
            "{} is missing: run scripts/build-guest.sh (scripts/test.sh does)",
            dir.join(f).display()
        );
    }
    dir
}

pub fn machine(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("machines").join(name)
}

/// A machine file for the built kernel and initramfs in a temporary directory of its own (removed
/// on drop): 256 MiB at the default base, a UART, a PLIC and an ACLINT; `boot` adds lines to the
/// `[boot]` table and `more` adds tables (devices, `[cpu]`).
pub struct InitramfsMachine {
    dir: PathBuf,
    /// The machine file.
    pub path: PathBuf,
}

impl InitramfsMachine {
    pub fn new(tag: &str, boot: &str, more: &str) -> Self {
        let img = images();
        let dir = std::env::temp_dir().join(format!("semu-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{tag}.toml"));
        let text = format!(
            "[memory]\nsize = \"256MiB\"\n\n[boot]\nkernel = \"{}\"\ninitrd = \"{}\"\n{boot}\n\n\
             [[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n\n[[device]]\nname = \"plic0\"\nkind = \"plic\"\n\n\
             [[device]]\nname = \"aclint0\"\nkind = \"aclint\"\n\n{more}\n",
            img.join("Image").display(),
            img.join("initramfs.cpio").display()
        );
        std::fs::write(&path, text).unwrap();
        Self { dir, path }
    }

    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for InitramfsMachine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `semu ARGS` in `cwd` with stdin at end of file and returns what it printed; kills it and
/// fails the test if it is still running after `timeout` (a spin must not hang the suite).
pub fn semu_output(cwd: &Path, args: &[&str], timeout: Duration) -> std::process::Output {
    output_of(Command::new(env!("CARGO_BIN_EXE_semu")).args(args).current_dir(cwd), timeout)
}

/// Runs `cmd` with stdin at end of file and returns what it printed; kills it and fails the test
/// if it is still running after `timeout`.
pub fn output_of(cmd: &mut Command, timeout: Duration) -> std::process::Output {
    let args: Vec<_> = std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_owned()).collect();
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn the command");
    let (out, err) = (chunks(child.stdout.take().unwrap()), chunks(child.stderr.take().unwrap()));
    let until = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let all = |rx: Receiver<Vec<u8>>| rx.iter().flatten().collect::<Vec<u8>>();
    std::process::Output { status, stdout: all(out), stderr: all(err) }
}

/// A private copy of the root file system image, removed on drop.
pub struct DiskCopy(pub PathBuf);

impl DiskCopy {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("semu-{tag}-{}.ext4", std::process::id()));
        std::fs::copy(images().join("rootfs.ext4"), &p).unwrap();
        Self(p)
    }
}

impl Drop for DiskCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What `input` yields, in chunks as they come, read on a thread of its own until end of file or
/// an error (a pty's master reads EIO once the other side is gone).
pub fn chunks(mut input: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

pub struct Guest {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    /// Everything the console printed so far.
    pub out: String,
    seen: usize,
    seq: u32,
}

impl Guest {
    /// Starts `semu run <args>` with stdin as a pipe (or /dev/null when `stdin_null`).
    pub fn start(args: &[&str], stdin_null: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_semu"));
        cmd.arg("run").args(args).stdout(Stdio::piped()).stderr(Stdio::inherit());
        cmd.stdin(if stdin_null { Stdio::null() } else { Stdio::piped() });
        let mut child = cmd.spawn().expect("spawn semu");
        let stdin = child.stdin.take();
        let rx = chunks(child.stdout.take().unwrap());
        Self { child, stdin, rx, out: String::new(), seen: 0, seq: 0 }
    }

    fn pump(&mut self, until: Instant) -> bool {
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(bytes) => {
                self.out.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            Err(_) => false,
        }
    }

    /// Waits until the output after the last match contains `pat`; returns the text up to and
    /// including it.
    pub fn wait_for(&mut self, pat: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            if let Some(i) = self.out[self.seen..].find(pat) {
                let end = self.seen + i + pat.len();
                let text = self.out[self.seen..end].to_string();
                self.seen = end;
                return text;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!("timed out after {timeout:?} waiting for {pat:?}; console output:\n{}", self.out);
            }
            self.pump(until);
        }
    }

    /// Waits `d`, collecting output; returns what came after the last match (and moves the
    /// match point past it).
    pub fn collect(&mut self, d: Duration) -> String {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.pump(until);
        }
        let text = self.out[self.seen..].to_string();
        self.seen = self.out.len();
        text
    }

    /// semu's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends raw text to the console.
    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is /dev/null");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Runs a shell command and returns its output and exit status.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> (String, i32) {
        self.seq += 1;
        let n = self.seq;
        // The markers are split in the command line so that the tty's echo doesn't match them.
        self.send(&format!("echo '<<'BEGIN{n}; {cmd}; echo END{n}'>>'$?'<<'\n"));
        self.wait_for(&format!("<<BEGIN{n}"), timeout);
        let text = self.wait_for(&format!("END{n}>>"), timeout);
        let status_text = self.wait_for("<<", timeout);
        let status: i32 = status_text.trim_end_matches("<<").trim().parse().unwrap_or(-1);
        let body = text.trim_end_matches(&format!("END{n}>>")).trim().to_string();
        (body, status)
    }

    /// Runs a command that must succeed, returning its output.
    pub fn ok(&mut self, cmd: &str, timeout: Duration) -> String {
        let (out, status) = self.run(cmd, timeout);
        assert_eq!(status, 0, "`{cmd}` failed with {status}: {out}\nconsole:\n{}", self.out);
        out
    }

    /// Waits for semu to exit and returns its status; everything printed is in `out`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let until = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                while self.pump(Instant::now() + Duration::from_millis(100)) {}
                return st;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!("semu did not exit within {timeout:?}; console output:\n{}", self.out);
            }
            self.pump(until);
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Guest {
    /// Kills semu with SIGKILL (no chance to flush anything) and reaps it.
    pub fn sigkill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL semu");
        self.child.wait().expect("reap semu")
    }
}
