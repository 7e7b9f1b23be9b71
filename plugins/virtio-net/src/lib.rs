//! `virtio-net`: an Ethernet card on virtio-mmio, with a user-mode network (libslirp, QEMU's
//! default 10.0.2.0/24 with DHCP and DNS) or a host TAP interface behind it.
//!
//! ```toml
//! [[device]]
//! name = "net0"
//! kind = "virtio-net"
//! backend = "user"                        # default; or "tap" with tap = "tap0"
//! hostfwd = ["tcp:127.0.0.1:2222-:22"]    # user backend only, QEMU syntax
//! mac = "52:54:00:12:34:56"               # default: 52:54:00 + a hash of the name
//! ```

mod hostfwd;
mod net;
mod slirp;
mod tap;

pub use hostfwd::{default_mac, parse_mac, HostFwd, Proto};
pub use net::{feature, rx_channel, Backend, Net, HDR_LEN, LINK_UP, MAX_FRAME, QUEUE_SIZE, RX, RX_QUEUE_FRAMES, TX};
pub use slirp::{Slirp, DNS, GUEST, HOST};
pub use tap::Tap;

use schemars::JsonSchema;
use semu_api::{BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec};
use semu_virtio::MmioTransport;
use serde::Deserialize;

/// Which host network the card is attached to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum BackendKind {
    /// User-mode networking (libslirp): no privileges needed; the guest is 10.0.2.15 behind a
    /// NAT, the host is reachable as 10.0.2.2.
    #[default]
    User,
    /// A host TAP interface (option `tap`).
    Tap,
}

/// Options of a `virtio-net` instance.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// `"user"` (default) or `"tap"`.
    #[serde(default)]
    pub backend: BackendKind,
    /// Name of the host TAP interface (backend "tap" only).
    pub tap: Option<String>,
    /// MAC address, e.g. "52:54:00:12:34:56" (default: 52:54:00 followed by a hash of the
    /// instance name).
    pub mac: Option<String>,
    /// Host port forwards of the user backend, in QEMU's syntax
    /// `[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`.
    #[serde(default)]
    pub hostfwd: Vec<String>,
}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"net0\"\nkind = \"virtio-net\"\nbackend = \"user\"\n\
                           # hostfwd = [\"tcp:127.0.0.1:2222-:22\"]\n";

/// Options, checked.
struct Config {
    backend: BackendKind,
    tap: String,
    mac: [u8; 6],
    hostfwd: Vec<HostFwd>,
}

fn parse(spec: &DeviceSpec) -> Result<Config, ConfigError> {
    let o: Options = spec.params.parse()?;
    let p = &spec.params;
    let mac = match &o.mac {
        Some(m) => parse_mac(m).map_err(|e| p.error("mac", e))?,
        None => default_mac(&spec.name),
    };
    let hostfwd =
        o.hostfwd.iter().map(|h| h.parse()).collect::<Result<Vec<HostFwd>, _>>().map_err(|e| p.error("hostfwd", e))?;
    let tap = match (o.backend, o.tap) {
        (BackendKind::Tap, Some(t)) if t.is_empty() || t.len() > tap::MAX_NAME => {
            return Err(p.error("tap", format!("\"{t}\" is not an interface name (1 to 15 characters)")))
        }
        (BackendKind::Tap, Some(t)) => t,
        (BackendKind::Tap, None) => return Err(p.error("backend", "backend \"tap\" needs tap = \"<interface>\"")),
        (BackendKind::User, Some(_)) => return Err(p.error("tap", "only for backend = \"tap\"")),
        (BackendKind::User, None) => String::new(),
    };
    if o.backend == BackendKind::Tap && !hostfwd.is_empty() {
        return Err(p.error("hostfwd", "only for backend = \"user\""));
    }
    Ok(Config { backend: o.backend, tap, mac, hostfwd })
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    parse(spec).map(|_| ())
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    let c = parse(spec)?;
    let (to_guest, rx) = rx_channel();
    let backend: Box<dyn Backend> = match c.backend {
        BackendKind::User => Box::new(Slirp::start(&c.hostfwd, to_guest, ctx.console.clone(), ctx.verbose)?),
        BackendKind::Tap => Box::new(Tap::open(&c.tap, to_guest, ctx.console.clone())?),
    };
    Ok(Box::new(MmioTransport::new(&spec.name, Net::new(c.mac, backend, rx), ctx.irq.clone())))
}

inventory::submit! {
    DeviceKind {
        kind: "virtio-net",
        summary: "virtio network card (virtio-mmio): user-mode networking (libslirp) or a host TAP interface",
        example: EXAMPLE,
        schema: || schemars::schema_for!(Options),
        resources: semu_virtio::RESOURCES,
        irq_controller: None,
        console_tty: None,
        block: None,
        shared_dir: None,
        check,
        build,
        fdt: semu_virtio::fdt,
        fdt_name: "virtio_mmio",
    }
}

#[cfg(test)]
mod tests;
