//! User-mode networking: the guest fetches a file from an HTTP server on the host's 127.0.0.1
//! (reached as 10.0.2.2) and its checksum matches; then it serves that file back from its own
//! HTTP server through a host port forward (`hostfwd`) and the host's copy matches too.

mod guest;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use guest::{Guest, InitramfsMachine};

/// Serves `body` to every GET on 127.0.0.1 until the process ends; returns the port.
fn serve(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    port
}

/// A free TCP port on 127.0.0.1 (the listener is closed again; semu binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET /path` from 127.0.0.1:`port` over HTTP/1.0, retried until `timeout`; the body of the
/// first 200 answer.
fn fetch(port: u16, path: &str, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let attempt = (|| -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut resp = Vec::new();
            s.read_to_end(&mut resp)?;
            Ok(resp)
        })();
        match attempt {
            Ok(resp) => {
                let head_end = resp.windows(4).position(|w| w == b"\r\n\r\n");
                match head_end {
                    Some(n) if resp.starts_with(b"HTTP/1.0 200") || resp.starts_with(b"HTTP/1.1 200") => {
                        return resp[n + 4..].to_vec()
                    }
                    _ => last = String::from_utf8_lossy(&resp[..resp.len().min(200)]).into_owned(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("no 200 answer from 127.0.0.1:{port}{path} within {timeout:?}; last: {last}");
}

fn sha256(data: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("semu-net-{}.bin", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let out = std::process::Command::new("sha256sum").arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
fn guest_fetches_from_and_serves_to_the_host_through_user_mode_networking() {
    // 512 KiB of pseudo-random bytes.
    let mut x: u32 = 0x1234_5678;
    let body: Vec<u8> = (0..512 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let want = sha256(&body);
    let port = serve(body);
    let fwd = free_port();

    let m = InitramfsMachine::new(
        "net-test",
        "",
        &format!(
            "[[device]]\nname = \"net0\"\nkind = \"virtio-net\"\nbackend = \"user\"\n\
             hostfwd = [\"tcp:127.0.0.1:{fwd}-:8080\"]"
        ),
    );

    let mut g = Guest::start(&[m.arg()], false);
    g.wait_for("semu-init: ready", Duration::from_secs(180));
    g.wait_for("# ", Duration::from_secs(60));
    let t = Duration::from_secs(120);
    // The guest's init asks for a DHCP lease on eth0 by itself, in the background.
    let addr = g.ok(
        "for i in $(seq 100); do ip -4 addr show eth0 | grep -q inet && break; sleep 0.1; done; ip -4 addr show eth0",
        t,
    );
    assert!(addr.contains("10.0.2.15/24"), "{addr}");
    let got = g.ok(&format!("wget -q -O /tmp/blob http://10.0.2.2:{port}/blob && sha256sum /tmp/blob"), t);
    assert!(got.contains(&want), "guest sha256: {got}\nhost sha256: {want}");

    // The other way: the guest serves the file, the host fetches it through the forward.
    g.ok("mkdir -p /tmp/www && cp /tmp/blob /tmp/www/back && httpd -p 8080 -h /tmp/www", t);
    let back = fetch(fwd, "/back", t);
    assert_eq!(back.len(), 512 * 1024, "served back through hostfwd");
    assert_eq!(sha256(&back), want, "the host's copy of the guest's file differs");
    g.send("poweroff -f\n");
    assert_eq!(g.wait_exit(Duration::from_secs(60)).code(), Some(0), "{}", g.out);
}
