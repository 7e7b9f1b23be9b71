//! Tests of the registered kind: options, and the user-mode backend over loopback only (ARP and
//! DHCP are answered inside libslirp; the port forward listens on 127.0.0.1).

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use semu_virtio::testing::{build_ctx, example_spec, find_kind, Buf, Driver, TempDir};
use semu_virtio::{feature as vf, reg};

use super::*;

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

fn spec(dir: &TempDir, extra: &str) -> DeviceSpec {
    let text = format!("[[device]]\nname = \"net0\"\nkind = \"virtio-net\"\nmac = \"52:54:00:12:34:56\"\n{extra}");
    example_spec(dir.path(), "virtio-net", &text)
}

/// Builds the device, brings the driver up and posts `rx_buffers` receive buffers.
fn up(spec: &DeviceSpec, rx_buffers: usize) -> (Box<dyn Device>, Driver, semu_api::IrqLine) {
    let (mut ctx, line) = build_ctx();
    let mut dev = (find_kind("virtio-net").build)(spec, &mut ctx).unwrap();
    let mut d = Driver::new();
    d.init(dev.as_mut(), vf::VERSION_1 | feature::MAC | feature::STATUS);
    for _ in 0..rx_buffers {
        d.add_chain(RX, &[Buf::Write((HDR_LEN + 1514) as u32)]);
    }
    d.notify(dev.as_mut(), RX);
    (dev, d, line)
}

fn send(dev: &mut dyn Device, d: &mut Driver, frame: &[u8]) {
    let mut pkt = vec![0; HDR_LEN];
    pkt.extend(frame);
    d.submit(dev, TX, &[Buf::Read(pkt)]);
    assert!(d.used(TX).is_some());
}

/// Waits (ticking the device) for a received frame that `want` accepts; returns it.
fn receive(dev: &mut dyn Device, d: &mut Driver, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut addrs = std::collections::HashMap::new();
    while Instant::now() < deadline {
        d.tick(dev);
        while let Some((id, len)) = d.used(RX) {
            let desc = d.queue(RX).desc + 16 * u64::from(id);
            let addr = *addrs.entry(id).or_insert_with(|| d.ram.read_u64(desc).unwrap());
            let frame = d.ram.slice(addr + HDR_LEN as u64, len as usize - HDR_LEN).unwrap().to_vec();
            d.add_chain(RX, &[Buf::Write((HDR_LEN + 1514) as u32)]);
            d.notify(dev, RX);
            if want(&frame) {
                return frame;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no matching frame arrived");
}

fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    arp_request_from(GUEST, target)
}

fn arp_request_from(sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(MAC);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(MAC);
    f.extend(sender.octets());
    f.extend([0; 6]);
    f.extend(target.octets());
    f
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn dhcp_discover() -> Vec<u8> {
    let mut bootp = vec![0u8; 548];
    bootp[..4].copy_from_slice(&[1, 1, 6, 0]);
    bootp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    bootp[28..34].copy_from_slice(&MAC);
    bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
    bootp[240..244].copy_from_slice(&[53, 1, 1, 255]);
    let mut udp = vec![0, 68, 0, 67];
    udp.extend(((8 + bootp.len()) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(bootp);
    let mut ip = vec![0x45, 0];
    ip.extend(((20 + udp.len()) as u16).to_be_bytes());
    ip.extend([0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![0xff; 6];
    f.extend(MAC);
    f.extend([0x08, 0x00]);
    f.extend(ip);
    f.extend(udp);
    f
}

fn is_arp_reply_from(f: &[u8], ip: Ipv4Addr) -> bool {
    f.len() >= 42 && f[12..14] == [8, 6] && f[20..22] == [0, 2] && f[28..32] == ip.octets() && f[0..6] == MAC
}

#[test]
fn example_builds() {
    let dir = TempDir::new("net-example");
    let kind = find_kind("virtio-net");
    let spec = example_spec(dir.path(), "virtio-net", kind.example);
    (kind.check)(&spec).unwrap();
    let (mut dev, mut d, _) = up(&spec, 0);
    assert_eq!(d.read(dev.as_mut(), reg::DEVICE_ID), 1);
    let mac = default_mac("net0");
    assert_eq!(d.config(dev.as_mut(), 0, 1), u64::from(mac[0]));
    assert_eq!(d.config(dev.as_mut(), 5, 1), u64::from(mac[5]));
    dev.shutdown();
}

#[test]
fn user_backend_answers_arp_for_the_gateway_and_dns() {
    let dir = TempDir::new("net-arp");
    let (mut dev, mut d, line) = up(&spec(&dir, ""), 4);
    send(dev.as_mut(), &mut d, &arp_request(HOST));
    let f = receive(dev.as_mut(), &mut d, |f| is_arp_reply_from(f, HOST));
    assert_eq!(f[32..38], MAC, "the reply is addressed to the guest");
    assert!(line.level(), "the receive interrupt is raised");
    d.write(dev.as_mut(), reg::INTERRUPT_ACK, 3);
    assert!(!line.level());
    send(dev.as_mut(), &mut d, &arp_request(DNS));
    receive(dev.as_mut(), &mut d, |f| is_arp_reply_from(f, DNS));
    dev.shutdown();
}

#[test]
fn user_backend_offers_a_dhcp_lease() {
    let dir = TempDir::new("net-dhcp");
    let (mut dev, mut d, _) = up(&spec(&dir, ""), 4);
    send(dev.as_mut(), &mut d, &dhcp_discover());
    // UDP from port 67 to 68 whose BOOTP yiaddr is 10.0.2.15.
    let f = receive(dev.as_mut(), &mut d, |f| f.len() > 42 + 20 && f[12..14] == [8, 0] && f[23] == 17);
    assert_eq!(f[34..38], [0, 67, 0, 68]);
    assert_eq!(f[42 + 16..42 + 20], GUEST.octets(), "yiaddr");
    dev.shutdown();
}

#[test]
fn hostfwd_reaches_the_guest_and_a_busy_port_is_refused() {
    let dir = TempDir::new("net-fwd");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = spec(&dir, &format!("hostfwd = [\"tcp:127.0.0.1:{port}-:22\"]\n"));
    let (mut dev, mut d, _) = up(&s, 8);
    // Let slirp learn the guest's MAC, then connect from the host.
    send(dev.as_mut(), &mut d, &arp_request(HOST));
    receive(dev.as_mut(), &mut d, |f| is_arp_reply_from(f, HOST));
    let _conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let syn = receive(dev.as_mut(), &mut d, |f| f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6);
    assert_eq!(syn[30..34], GUEST.octets(), "to the guest");
    assert_eq!(syn[36..38], 22u16.to_be_bytes(), "port 22");
    assert_eq!(syn[47] & 0x02, 0x02, "SYN");
    let e = (find_kind("virtio-net").build)(&s, &mut build_ctx().0).err().expect("port in use").to_string();
    assert!(e.contains(&format!("cannot listen on 127.0.0.1:{port}: Address already in use")), "{e}");
    dev.shutdown();
}

#[test]
fn options_are_checked() {
    let dir = TempDir::new("net-opts");
    for (extra, field) in [
        ("backend = \"tap\"\n", "backend"),
        ("backend = \"vde\"\n", "backend"),
        ("tap = \"tap0\"\n", "tap"),
        ("backend = \"tap\"\ntap = \"a-name-longer-than-15\"\n", "tap"),
        ("backend = \"tap\"\ntap = \"tap0\"\nhostfwd = [\"tcp::1-:2\"]\n", "hostfwd"),
        ("hostfwd = [\"tcp::1-:2\", \"bad\"]\n", "hostfwd"),
        ("speed = 10\n", "speed"),
    ] {
        let e = check(&spec(&dir, extra)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{extra}: {e}");
    }
    let bad_mac = "[[device]]\nname = \"n\"\nkind = \"virtio-net\"\nmac = \"01:00:00:00:00:01\"\n";
    let e = check(&example_spec(dir.path(), "virtio-net", bad_mac)).unwrap_err();
    assert_eq!((e.field.as_deref(), e.line), (Some("mac"), Some(4)), "{e}");
    check(&spec(&dir, "backend = \"tap\"\ntap = \"tap0\"\n")).unwrap();
}

/// Runs `cmd` (in the calling thread's network namespace); panics if it fails or is not installed.
fn run(cmd: &[&str]) {
    match std::process::Command::new(cmd[0]).args(&cmd[1..]).status() {
        Ok(st) => assert!(st.success(), "{cmd:?}: {st}"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{cmd:?}: `{}` is not installed (iproute2; scripts/deps.sh installs it)", cmd[0])
        }
        Err(e) => panic!("{cmd:?}: {e}"),
    }
}

/// Needs root (a TAP interface), network namespaces and `ip` (iproute2), which `scripts/test.sh`
/// has (CI runs it as root on Debian): without them the test fails, saying what is missing.
#[test]
fn tap_backend_in_a_private_network_namespace() {
    // SAFETY: plain system calls without pointers.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "creating a TAP interface needs root: run the test as root (scripts/test.sh in CI is)");
    // A thread of its own, moved into a new network namespace: nothing leaves it, and the
    // interface vanishes with it.
    std::thread::spawn(|| {
        // SAFETY: affects only this thread.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare(CLONE_NEWNET): {} (network namespaces needed)", std::io::Error::last_os_error());
        let (to_guest, rx) = rx_channel();
        let tap = Tap::open("semutap0", to_guest, semu_api::Console::sink()).unwrap();
        run(&["ip", "addr", "add", "10.9.0.1/24", "dev", "semutap0"]);
        run(&["ip", "link", "set", "semutap0", "up"]);
        let mut t = MmioTransport::new("net0", Net::new(MAC, Box::new(tap), rx), None);
        let mut d = Driver::new();
        d.init(&mut t, vf::VERSION_1 | feature::MAC | feature::STATUS);
        for _ in 0..8 {
            d.add_chain(RX, &[Buf::Write((HDR_LEN + 1514) as u32)]);
        }
        d.notify(&mut t, RX);
        let host = Ipv4Addr::new(10, 9, 0, 1);
        send(&mut t, &mut d, &arp_request_from(Ipv4Addr::new(10, 9, 0, 2), host));
        receive(&mut t, &mut d, |f| is_arp_reply_from(f, host));
        t.shutdown();
    })
    .join()
    .unwrap();
}

#[test]
fn schema_is_self_contained() {
    let s = schemars::schema_for!(Options);
    let v = s.as_value();
    assert_eq!(v["additionalProperties"], false);
    assert!(v.get("$defs").is_none(), "no references for the core to resolve: {v}");
    let backends = v["properties"]["backend"]["oneOf"].as_array().unwrap();
    assert_eq!(backends.iter().map(|b| b["const"].as_str().unwrap()).collect::<Vec<_>>(), ["user", "tap"]);
}
