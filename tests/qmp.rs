//! The QMP monitor (`--qmp`) against a booted initramfs guest: the protocol on a raw socket
//! (greeting, negotiation, stop/cont with a guest that really stops, errors, bad and oversized
//! input, clients one after another, one that never reads, quit), the guest's own power-off
//! and the monitor's reset told as SHUTDOWN events, and PyPI's `qemu.qmp` client driving semu.
//! These boot the project's kernel and busybox images (scripts/build-guest.sh).

mod guest;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use guest::{machine, Guest};
use serde_json::{json, Value};

const BOOT: Duration = Duration::from_secs(180);
const REPLY: Duration = Duration::from_secs(30);

/// A socket path of this test's own.
fn socket(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("semu-qmp-{tag}-{}.sock", std::process::id()))
}

/// Boots the initramfs machine with `--qmp unix:SOCK` to its shell prompt.
fn boot(sock: &Path) -> Guest {
    let qmp = format!("unix:{}", sock.display());
    let mut g = Guest::start(&[machine("initramfs.toml").to_str().unwrap(), "--qmp", &qmp], false);
    g.wait_for("semu-init: ready", BOOT);
    g.wait_for("# ", BOOT);
    g
}

/// A QMP client on a raw socket.
struct Client {
    r: BufReader<UnixStream>,
    w: UnixStream,
    /// Events seen so far, oldest first.
    events: Vec<Value>,
}

impl Client {
    /// Connects and returns the client with the greeting it got.
    fn connect(sock: &Path) -> (Self, Value) {
        let s = UnixStream::connect(sock).expect("connect to the QMP socket");
        s.set_read_timeout(Some(REPLY)).unwrap();
        let mut c = Self { r: BufReader::new(s.try_clone().unwrap()), w: s, events: Vec::new() };
        let greeting = c.read().expect("a greeting");
        (c, greeting)
    }

    /// Connects and negotiates capabilities.
    fn ready(sock: &Path) -> Self {
        let (mut c, _) = Self::connect(sock);
        assert_eq!(c.cmd(json!({"execute": "qmp_capabilities"})), json!({"return": {}}));
        c
    }

    /// The next message, or `None` at end of file.
    fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = self.r.read_line(&mut line).expect("a reply within the timeout");
        (n > 0).then(|| serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}")))
    }

    fn write(&mut self, text: &[u8]) {
        self.w.write_all(text).unwrap();
    }

    /// Sends a command and returns its reply; events on the way are kept.
    fn cmd(&mut self, msg: Value) -> Value {
        self.write(format!("{msg}\n").as_bytes());
        self.reply()
    }

    fn reply(&mut self) -> Value {
        loop {
            let m = self.read().expect("a reply, not the end of the connection");
            if m.get("event").is_some() {
                self.events.push(m);
            } else {
                return m;
            }
        }
    }

    /// The first event named `name` not taken yet, waiting for it.
    fn event(&mut self, name: &str) -> Value {
        loop {
            if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
                return self.events.remove(i);
            }
            let m = self.read().unwrap_or_else(|| panic!("connection closed before event {name}"));
            assert!(m.get("event").is_some(), "expected an event, got {m}");
            self.events.push(m);
        }
    }
}

/// CPU time (user + system) the process `pid` has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // after the command name: state is field 3, utime 14, stime 15
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    let hz: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    Duration::from_millis(ticks * 1000 / hz)
}

fn assert_status(c: &mut Client, status: &str) {
    let r = c.cmd(json!({"execute": "query-status"}));
    assert_eq!(r, json!({"return": {"status": status, "running": status == "running", "singlestep": false}}));
}

/// The highest `tickN` counter in `text`.
fn last_tick(text: &str) -> u64 {
    text.split("tick").filter_map(|t| t.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()).max().unwrap_or(0)
}

#[test]
fn a_client_negotiates_pauses_resumes_and_quits_the_machine() {
    let sock = socket("raw");
    let mut g = boot(&sock);
    let (mut c, greeting) = Client::connect(&sock);
    let v = &greeting["QMP"]["version"];
    assert!(v["qemu"]["major"].is_u64() && v["qemu"]["minor"].is_u64() && v["qemu"]["micro"].is_u64(), "{greeting}");
    assert!(v["package"].as_str().unwrap().starts_with("semu"), "{greeting}");
    assert_eq!(greeting["QMP"]["capabilities"], json!([]));

    // nothing but qmp_capabilities first
    let r = c.cmd(json!({"execute": "query-status", "id": 1}));
    assert_eq!(r["error"]["class"], "CommandNotFound", "{r}");
    assert!(r["error"]["desc"].as_str().unwrap().contains("qmp_capabilities"), "{r}");
    assert_eq!(r["id"], 1);
    assert_eq!(c.cmd(json!({"execute": "qmp_capabilities", "id": "neg"})), json!({"return": {}, "id": "neg"}));
    let r = c.cmd(json!({"execute": "query-version"}));
    assert_eq!(r["return"], v.clone(), "{r}");
    assert_status(&mut c, "running");

    // a guest that keeps the CPU busy and prints a counter
    g.send("i=0; while :; do i=$((i+1)); [ $((i % 300)) = 0 ] && echo tick$i; done\n");
    g.wait_for("tick900", BOOT);

    assert_eq!(c.cmd(json!({"execute": "stop"})), json!({"return": {}}));
    assert_eq!(c.event("STOP")["data"], json!({}));
    assert_status(&mut c, "paused");
    g.collect(Duration::from_millis(300)); // what was on its way before the stop
    let cpu = cpu_time(g.pid());
    let paused_out = g.collect(Duration::from_secs(2));
    let used = cpu_time(g.pid()) - cpu;
    assert!(!paused_out.contains("tick"), "the paused guest printed: {paused_out:?}");
    assert!(used < Duration::from_secs(1), "semu used {used:?} of CPU in 2 s while paused");
    let before = last_tick(&g.out);
    // stop again: nothing changes, no second STOP
    assert_eq!(c.cmd(json!({"execute": "stop"})), json!({"return": {}}));

    assert_eq!(c.cmd(json!({"execute": "cont"})), json!({"return": {}}));
    assert_eq!(c.event("RESUME")["data"], json!({}));
    assert!(c.events.iter().all(|e| e["event"] != "STOP"), "{:?}", c.events);
    assert_status(&mut c, "running");
    g.wait_for(&format!("tick{}", before + 600), REPLY);

    // unknown commands, including the ones that come with a display and input devices
    for name in ["screendump", "send-key", "no-such-command"] {
        let r = c.cmd(json!({"execute": name, "id": {"n": name}}));
        let desc = format!("The command {name} has not been found");
        assert_eq!(r, json!({"error": {"class": "CommandNotFound", "desc": desc}, "id": {"n": name}}));
    }
    // not JSON: an error, and the connection goes on
    c.write(b"{\"execute\": query-status}\n");
    let r = c.reply();
    assert_eq!(r["error"]["class"], "GenericError", "{r}");
    assert!(r["error"]["desc"].as_str().unwrap().starts_with("JSON parse error, "), "{r}");
    assert_status(&mut c, "running");

    // a message that never ends: an error, then the connection is closed
    c.write(b"{\"execute\": \"");
    c.write(&vec![b'a'; 70 * 1024]);
    let r = c.reply();
    assert_eq!(r["error"]["class"], "GenericError", "{r}");
    assert!(r["error"]["desc"].as_str().unwrap().contains("65536"), "{r}");
    assert_eq!(c.read(), None, "the connection must be closed");

    // the next client is served, and the guest went on meanwhile
    let mut c = Client::ready(&sock);
    assert_status(&mut c, "running");
    let now = last_tick(&g.out);
    g.wait_for(&format!("tick{}", now + 300), REPLY);

    assert_eq!(c.cmd(json!({"execute": "quit", "id": 9})), json!({"return": {}, "id": 9}));
    assert_eq!(c.event("SHUTDOWN")["data"], json!({"guest": false, "reason": "host-qmp-quit"}));
    let st = g.wait_exit(REPLY);
    assert_eq!(st.code(), Some(0), "{}", g.out);
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[test]
fn clients_that_leave_or_never_read_do_not_hold_anything_up_and_the_guests_poweroff_is_told() {
    let sock = socket("poweroff");
    let mut g = boot(&sock);
    // a client that goes away in the middle of a command, another before its greeting
    let mut gone = Client::ready(&sock);
    gone.write(b"{\"execute\": \"sto");
    drop(gone);
    drop(UnixStream::connect(&sock).unwrap());
    // a client that sends many commands and reads none of the replies
    let mut deaf = Client::ready(&sock);
    let flood = "{\"execute\": \"query-version\"}\n".repeat(50_000);
    deaf.write(flood.as_bytes());
    // the guest does not wait for it
    for i in 0..3 {
        assert_eq!(g.ok(&format!("echo alive{i}"), REPLY), format!("alive{i}"));
    }
    // it is dropped once a reply cannot be written for a while; then the next client is served
    let mut c = Client::ready(&sock);
    assert_status(&mut c, "running");
    drop(deaf);

    // system_powerdown: an event, the guest (which has no power button) goes on
    assert_eq!(c.cmd(json!({"execute": "system_powerdown"})), json!({"return": {}}));
    assert_eq!(c.event("POWERDOWN")["data"], json!({}));
    assert_eq!(g.ok("echo still-here", REPLY), "still-here");

    g.send("poweroff -f\n");
    assert_eq!(c.event("SHUTDOWN")["data"], json!({"guest": true, "reason": "guest-shutdown"}));
    let st = g.wait_exit(REPLY);
    assert_eq!(st.code(), Some(0), "{}", g.out);
}

#[test]
fn system_reset_ends_the_run_as_a_reboot_does() {
    let sock = socket("reset");
    let mut g = boot(&sock);
    let mut c = Client::ready(&sock);
    assert_eq!(c.cmd(json!({"execute": "system_reset"})), json!({"return": {}}));
    assert_eq!(c.event("SHUTDOWN")["data"], json!({"guest": false, "reason": "host-qmp-system-reset"}));
    let st = g.wait_exit(REPLY);
    assert_eq!(st.code(), Some(semu::machine::EXIT_REBOOT), "{}", g.out);
}

#[test]
fn bad_qmp_addresses_are_command_line_errors() {
    let m = machine("initramfs.toml");
    let dir = m.parent().unwrap();
    for bad in ["4444", "tcp:4444", "unix:", "udp:127.0.0.1:1"] {
        let out = guest::semu_output(dir, &["run", m.to_str().unwrap(), "--qmp", bad], REPLY);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--qmp") && (err.contains("unix:PATH") || err.contains("HOST:PORT")), "{bad}: {err}");
    }
    // a path that is not a socket is never replaced
    let file = std::env::temp_dir().join(format!("semu-qmp-file-{}", std::process::id()));
    std::fs::write(&file, b"data").unwrap();
    let qmp = format!("unix:{}", file.display());
    let out = guest::semu_output(dir, &["run", m.to_str().unwrap(), "--qmp", &qmp], REPLY);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("semu: error: --qmp: ") && err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
    let _ = std::fs::remove_file(&file);
}

/// A child process killed and reaped when the test ends, however it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_qemu_qmp_python_client_drives_semu() {
    let m = machine("initramfs.toml");
    let mut semu = Reaped(
        Command::new(env!("CARGO_BIN_EXE_semu"))
            .args(["run", m.to_str().unwrap(), "--qmp", "tcp:127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn semu"),
    );
    let semu = &mut semu.0;
    let console = guest::chunks(semu.stdout.take().unwrap());
    let errors = guest::chunks(semu.stderr.take().unwrap());
    let until = Instant::now() + REPLY;
    let mut err = String::new();
    let addr = loop {
        if let Some(line) = err.lines().find(|l| l.starts_with("semu: QMP on tcp:")) {
            break line.trim_start_matches("semu: QMP on tcp:").to_string();
        }
        let left = until.saturating_duration_since(Instant::now());
        match errors.recv_timeout(left) {
            Ok(b) => err.push_str(&String::from_utf8_lossy(&b)),
            Err(_) => {
                let _ = semu.kill();
                panic!("no `semu: QMP on tcp:` line; stderr:\n{err}");
            }
        }
    };
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qmp/client.py");
    let py = guest::output_of(Command::new("python3").arg(&script).arg(&addr), BOOT);
    let out = String::from_utf8_lossy(&py.stdout);
    let pyerr = String::from_utf8_lossy(&py.stderr);
    assert!(py.status.success(), "client failed ({}):\n{out}{pyerr}", py.status);
    assert!(out.contains("qmp-client: all checks passed"), "{out}{pyerr}");
    let until = Instant::now() + REPLY;
    let status = loop {
        if let Some(st) = semu.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            panic!("semu still running after the client's quit; client said:\n{out}{pyerr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "semu's stderr:\n{err}");
    drop(console);
}
