//! The configuration space of virtio-input (virtio 1.x, 5.8.4): the driver writes `select` and
//! `subsel`, then reads `size` and the answer in the union that follows.

/// `select` values.
pub mod select {
    /// Nothing selected.
    pub const UNSET: u8 = 0x00;
    /// The device's name (string).
    pub const ID_NAME: u8 = 0x01;
    /// Its serial number (string).
    pub const ID_SERIAL: u8 = 0x02;
    /// Bus type, vendor, product, version.
    pub const ID_DEVIDS: u8 = 0x03;
    /// Input properties (bitmap).
    pub const PROP_BITS: u8 = 0x10;
    /// The codes of event type `subsel` (bitmap).
    pub const EV_BITS: u8 = 0x11;
    /// The range of absolute axis `subsel`.
    pub const ABS_INFO: u8 = 0x12;
}

/// Size of the whole configuration space: select, subsel, size, 5 reserved bytes, 128 of union.
pub const CONFIG_LEN: usize = 8 + 128;

/// Linux codes used below (`input-event-codes.h`).
pub mod code {
    /// The highest keyboard key offered (`KEY_MICMUTE`).
    pub const KEY_MAX_OFFERED: u16 = 248;
    /// Mouse buttons.
    pub const BTN_LEFT: u16 = 0x110;
    pub const BTN_RIGHT: u16 = 0x111;
    pub const BTN_MIDDLE: u16 = 0x112;
    /// Relative axes.
    pub const REL_X: u16 = 0x00;
    pub const REL_Y: u16 = 0x01;
    pub const REL_WHEEL: u16 = 0x08;
    /// Absolute axes.
    pub const ABS_X: u16 = 0x00;
    pub const ABS_Y: u16 = 0x01;
    /// Keyboard LEDs: num, caps and scroll lock.
    pub const LED_COUNT: u16 = 3;
}

/// The largest absolute position of a tablet axis (its range starts at 0).
pub const ABS_MAX: u32 = 0x7fff;

/// What a device answers: its identity and the codes it can send.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    pub serial: String,
    /// `BUS_VIRTUAL`, vendor, product, version.
    pub devids: [u16; 4],
    /// (event type, codes) for every type sent.
    pub codes: Vec<(u16, Vec<u16>)>,
    /// Absolute axes (their range is 0..=[`ABS_MAX`]).
    pub abs: Vec<u16>,
}

impl Profile {
    /// The answer to `select`/`subsel`: the union's bytes (their count is `size`).
    pub fn answer(&self, sel: u8, subsel: u8) -> Vec<u8> {
        match sel {
            select::ID_NAME if subsel == 0 => self.name.as_bytes().to_vec(),
            select::ID_SERIAL if subsel == 0 => self.serial.as_bytes().iter().copied().take(128).collect(),
            select::ID_DEVIDS if subsel == 0 => self.devids.iter().flat_map(|v| v.to_le_bytes()).collect(),
            select::EV_BITS if subsel == 0 => bitmap(self.codes.iter().map(|(t, _)| *t)),
            select::EV_BITS => self
                .codes
                .iter()
                .find(|(t, _)| *t == u16::from(subsel))
                .map_or(Vec::new(), |(_, c)| bitmap(c.iter().copied())),
            select::ABS_INFO if self.abs.contains(&u16::from(subsel)) => {
                [0, ABS_MAX, 0, 0, 0].iter().flat_map(|v: &u32| v.to_le_bytes()).collect()
            }
            _ => Vec::new(), // PROP_BITS: none; anything else: not supported (size 0)
        }
    }
}

/// A bitmap with bit `c` set for every code `c` (at most 1024 bits), trimmed after its last set byte.
fn bitmap(codes: impl Iterator<Item = u16>) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    for c in codes.filter(|&c| c < 1024) {
        b[usize::from(c / 8)] |= 1 << (c % 8);
    }
    let len = b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
    b.truncate(len);
    b
}
