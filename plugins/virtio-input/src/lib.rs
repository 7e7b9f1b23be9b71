//! `virtio-input`: a keyboard, mouse or tablet (virtio 1.x device 18, on virtio-mmio) that hands
//! the guest the host's input events, as Linux's `/dev/input/event*`.
//!
//! ```toml
//! [[device]]
//! name = "kbd0"
//! kind = "virtio-input"
//! type = "keyboard"     # or "mouse" (relative motion) or "tablet" (absolute positions)
//! ```
//!
//! Events come from the machine's [`InputHub`](semu_api::InputHub) (the monitor's `send-key` and
//! `input-send-event`, a window): each device registers its class and delivers what was sent to
//! it, one 8-byte `virtio_input_event` per buffer of the event queue, as buffers come. Events
//! wait (the newest 4096) while the guest has no buffer. What the guest
//! sends on the status queue (keyboard LEDs) is taken and dropped.

mod config;

pub use config::{code, select, Profile, ABS_MAX, CONFIG_LEN};

use schemars::JsonSchema;
use semu_api::{ev, BuildCtx, ConfigError, Device, DeviceKind, DeviceSpec, GuestRam, InputClass, InputReceiver};
use semu_virtio::{id, MmioTransport, Queue, QueueError, VirtioDevice};
use serde::Deserialize;

/// Size of each queue.
pub const QUEUE_SIZE: u16 = 64;
/// Size of one `virtio_input_event`: le16 type, le16 code, le32 value.
pub const EVENT_LEN: u32 = 8;

/// What the device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub enum InputType {
    /// Keys (`send-key`).
    Keyboard,
    /// Relative motion, wheel and three buttons.
    Mouse,
    /// Absolute positions (0 to 32767 on each axis) and three buttons.
    Tablet,
}

impl InputType {
    /// The class of host events it receives.
    pub fn class(self) -> InputClass {
        match self {
            InputType::Keyboard => InputClass::Keyboard,
            InputType::Mouse => InputClass::Mouse,
            InputType::Tablet => InputClass::Tablet,
        }
    }

    /// Its identity and the codes it sends.
    pub fn profile(self, serial: &str) -> Profile {
        let buttons = (ev::KEY, vec![code::BTN_LEFT, code::BTN_RIGHT, code::BTN_MIDDLE]);
        let (name, product, codes, abs) = match self {
            InputType::Keyboard => {
                let keys = (ev::KEY, (1..=code::KEY_MAX_OFFERED).collect());
                ("semu keyboard", 1, vec![keys, (ev::LED, (0..code::LED_COUNT).collect())], vec![])
            }
            InputType::Mouse => {
                let rel = (ev::REL, vec![code::REL_X, code::REL_Y, code::REL_WHEEL]);
                ("semu mouse", 2, vec![buttons, rel], vec![])
            }
            InputType::Tablet => {
                let axes = vec![code::ABS_X, code::ABS_Y];
                ("semu tablet", 3, vec![buttons, (ev::ABS, axes.clone())], axes)
            }
        };
        // BUS_VIRTUAL (0x06); the vendor and version are semu's own numbers.
        Profile { name, serial: serial.to_string(), devids: [0x06, 0x5345, product, 1], codes, abs }
    }
}

/// Options of a `virtio-input` instance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// What the device is: `keyboard`, `mouse` or `tablet`.
    #[serde(rename = "type")]
    pub typ: InputType,
}

/// The example of `semu devices`.
pub const EXAMPLE: &str = "[[device]]\nname = \"kbd0\"\nkind = \"virtio-input\"\ntype = \"keyboard\"\n";

/// The virtio-input device.
pub struct Input {
    profile: Profile,
    events: InputReceiver,
    config: [u8; CONFIG_LEN],
}

impl Input {
    /// A device answering as `profile`, delivering what `events` receives.
    pub fn new(profile: Profile, events: InputReceiver) -> Self {
        Self { profile, events, config: [0; CONFIG_LEN] }
    }

    /// Fills the configuration space with the answer to its `select` and `subsel`.
    fn select(&mut self) {
        let answer = self.profile.answer(self.config[0], self.config[1]);
        let n = answer.len().min(128);
        self.config[2] = n as u8;
        self.config[8..].fill(0);
        self.config[8..8 + n].copy_from_slice(&answer[..n]);
    }

    /// Hands waiting events to the event queue's buffers, one per buffer, while both last.
    fn deliver(&mut self, q: &mut Queue, ram: &mut GuestRam) -> Result<(), QueueError> {
        while let Some(e) = self.events.pop() {
            let Some(c) = q.pop(ram)? else {
                self.events.unpop(e);
                return Ok(());
            };
            let mut bytes = [0u8; EVENT_LEN as usize];
            bytes[..2].copy_from_slice(&e.typ.to_le_bytes());
            bytes[2..4].copy_from_slice(&e.code.to_le_bytes());
            bytes[4..].copy_from_slice(&e.value.to_le_bytes());
            let len = match c.writable.write_at(ram, 0, &bytes) {
                Some(()) if !c.misordered => EVENT_LEN,
                _ => 0, // a buffer the event does not fit: the event is lost, as on real hardware
            };
            q.add_used(ram, c.head, len)?;
        }
        Ok(())
    }
}

impl VirtioDevice for Input {
    fn device_id(&self) -> u32 {
        id::INPUT
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn write_config(&mut self, offset: u64, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            match offset.checked_add(i as u64) {
                Some(0) => self.config[0] = b,
                Some(1) => self.config[1] = b,
                _ => {} // the rest is the device's answer, read-only
            }
        }
        self.select();
    }

    fn reset(&mut self) {
        self.config = [0; CONFIG_LEN];
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        match (index, queues) {
            (0, [events, ..]) => self.deliver(events, ram),
            (1, [_, status, ..]) => status.process(ram, |_, _| 0),
            _ => Ok(()),
        }
    }

    fn tick(&mut self, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
        match queues.first_mut() {
            Some(q) if !self.events.is_empty() => self.deliver(q, ram),
            _ => Ok(()),
        }
    }
}

fn check(spec: &DeviceSpec) -> Result<(), ConfigError> {
    spec.params.parse::<Options>().map(drop)
}

fn build(spec: &DeviceSpec, ctx: &mut BuildCtx) -> anyhow::Result<Box<dyn Device>> {
    let o: Options = spec.params.parse()?;
    let dev = Input::new(o.typ.profile(&spec.name), ctx.input.register(o.typ.class()));
    Ok(Box::new(MmioTransport::new(&spec.name, dev, ctx.irq.clone())))
}

inventory::submit! {
    DeviceKind {
        kind: "virtio-input",
        summary: "a keyboard, mouse or tablet (virtio-input on virtio-mmio) fed by host input",
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
