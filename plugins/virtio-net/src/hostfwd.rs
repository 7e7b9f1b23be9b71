//! Option values: host port forwards in QEMU's syntax, and MAC addresses.

use std::fmt;
use std::net::Ipv4Addr;

use crate::slirp::GUEST;

/// Transport protocol of a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A host port forward: connections to `host_addr:host_port` on the host reach
/// `guest_addr:guest_port` in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFwd {
    /// Protocol.
    pub proto: Proto,
    /// Host address to listen on (QEMU's default: any).
    pub host_addr: Ipv4Addr,
    /// Host port.
    pub host_port: u16,
    /// Guest address (default: the guest's DHCP address, 10.0.2.15).
    pub guest_addr: Ipv4Addr,
    /// Guest port.
    pub guest_port: u16,
}

impl fmt::Display for HostFwd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = if self.proto == Proto::Tcp { "tcp" } else { "udp" };
        write!(f, "{p}:{}:{}-{}:{}", self.host_addr, self.host_port, self.guest_addr, self.guest_port)
    }
}

fn addr_port(s: &str, default: Ipv4Addr, what: &str) -> Result<(Ipv4Addr, u16), String> {
    let (a, p) = s.rsplit_once(':').ok_or_else(|| format!("the {what} part \"{s}\" is not [address]:port"))?;
    let addr = if a.is_empty() { default } else { a.parse().map_err(|_| format!("\"{a}\" is not an IPv4 address"))? };
    let port = p.parse().map_err(|_| format!("\"{p}\" is not a port number"))?;
    Ok((addr, port))
}

impl std::str::FromStr for HostFwd {
    type Err = String;

    /// `[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`, as QEMU's `hostfwd=`.
    fn from_str(s: &str) -> Result<Self, String> {
        let syntax = "expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport";
        let (proto, rest) = s.split_once(':').ok_or_else(|| format!("\"{s}\": {syntax}"))?;
        let proto = match proto {
            "" | "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            p => return Err(format!("\"{s}\": unknown protocol \"{p}\" ({syntax})")),
        };
        let (host, guest) = rest.split_once('-').ok_or_else(|| format!("\"{s}\": {syntax}"))?;
        let (host_addr, host_port) =
            addr_port(host, Ipv4Addr::UNSPECIFIED, "host").map_err(|e| format!("\"{s}\": {e}"))?;
        let (guest_addr, guest_port) = addr_port(guest, GUEST, "guest").map_err(|e| format!("\"{s}\": {e}"))?;
        if guest_port == 0 {
            return Err(format!("\"{s}\": the guest port cannot be 0"));
        }
        Ok(Self { proto, host_addr, host_port, guest_addr, guest_port })
    }
}

/// Parses `52:54:00:12:34:56` (a unicast address).
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut mac = [0; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("\"{s}\" is not a MAC address like 52:54:00:12:34:56"));
    }
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(format!("\"{s}\" is not a MAC address like 52:54:00:12:34:56"));
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("\"{s}\" is not a MAC address like 52:54:00:12:34:56"))?;
    }
    if mac[0] & 1 != 0 {
        return Err(format!("\"{s}\" is a multicast address"));
    }
    Ok(mac)
}

/// A locally administered unicast address derived from the instance name: `52:54:00` (QEMU's
/// prefix) followed by three bytes of a hash of `name`.
pub fn default_mac(name: &str) -> [u8; 6] {
    let h = name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let b = h.to_be_bytes();
    [0x52, 0x54, 0x00, b[1], b[2], b[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostfwd_syntax() {
        let f: HostFwd = "tcp:127.0.0.1:2222-:22".parse().unwrap();
        assert_eq!(f.proto, Proto::Tcp);
        assert_eq!((f.host_addr, f.host_port), (Ipv4Addr::LOCALHOST, 2222));
        assert_eq!((f.guest_addr, f.guest_port), (GUEST, 22));
        assert_eq!(f.to_string(), "tcp:127.0.0.1:2222-10.0.2.15:22");
        let f: HostFwd = "udp::5353-10.0.2.20:53".parse().unwrap();
        assert_eq!(
            (f.proto, f.host_addr, f.guest_addr),
            (Proto::Udp, Ipv4Addr::UNSPECIFIED, "10.0.2.20".parse().unwrap())
        );
        let f: HostFwd = "::8080-:80".parse().unwrap();
        assert_eq!(f.proto, Proto::Tcp);
        for bad in
            ["", "tcp", "tcp:2222:22", "sctp::1-:2", "tcp::99999-:22", "tcp::22-:0", "tcp:localhost:1-:2", "tcp::1-:x"]
        {
            assert!(bad.parse::<HostFwd>().is_err(), "{bad}");
        }
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("52:54:00:ab:CD:0f"), Ok([0x52, 0x54, 0, 0xab, 0xcd, 0x0f]));
        for bad in
            ["52:54:00:ab:cd", "52:54:00:ab:cd:0f:00", "5:54:00:ab:cd:0f", "zz:54:00:ab:cd:0f", "01:00:5e:00:00:01"]
        {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        let (a, b) = (default_mac("net0"), default_mac("net1"));
        assert_ne!(a, b);
        assert_eq!(a, default_mac("net0"));
        assert_eq!(a[0] & 3, 2, "locally administered unicast");
    }
}
