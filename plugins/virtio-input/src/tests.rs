use semu_api::{InputEvent, InputHub};
use semu_virtio::testing::{build_ctx, example_spec, find_kind, hostile_driver, Buf, Driver, TempDir};
use semu_virtio::{feature, reg, CONFIG_OFFSET};

use super::*;

/// Selects `sel`/`subsel` and reads back `size` and the answer, as Linux's driver does.
fn query(d: &mut Driver, dev: &mut dyn Device, sel: u8, subsel: u8) -> Vec<u8> {
    // Byte writes: select, then subsel.
    let mut ctx = d.ctx();
    dev.write(CONFIG_OFFSET, 1, u64::from(sel), &mut ctx).unwrap();
    dev.write(CONFIG_OFFSET + 1, 1, u64::from(subsel), &mut ctx).unwrap();
    let size = d.config(dev, 2, 1);
    (0..size).map(|i| d.config(dev, 8 + i, 1) as u8).collect()
}

fn bit(map: &[u8], c: u16) -> bool {
    map.get(usize::from(c / 8)).is_some_and(|b| b & (1 << (c % 8)) != 0)
}

fn device(typ: InputType, hub: &InputHub) -> MmioTransport<Input> {
    MmioTransport::new("in0", Input::new(typ.profile("in0"), hub.register(typ.class())), None)
}

#[test]
fn each_type_answers_its_identity_and_codes() {
    let hub = InputHub::detached();
    let mut d = Driver::new();
    let mut kbd = device(InputType::Keyboard, &hub);
    assert_eq!(d.read(&mut kbd, reg::DEVICE_ID), 18);
    assert_eq!(query(&mut d, &mut kbd, select::ID_NAME, 0), b"semu keyboard");
    assert_eq!(query(&mut d, &mut kbd, select::ID_SERIAL, 0), b"in0");
    assert_eq!(query(&mut d, &mut kbd, select::ID_DEVIDS, 0), [6, 0, 0x45, 0x53, 1, 0, 1, 0]);
    let keys = query(&mut d, &mut kbd, select::EV_BITS, ev::KEY as u8);
    assert!(bit(&keys, 1) && bit(&keys, 30) && bit(&keys, 248) && !bit(&keys, 0) && !bit(&keys, 249));
    assert_eq!(keys.len(), 32, "trimmed after the last set byte");
    assert!(query(&mut d, &mut kbd, select::EV_BITS, ev::REL as u8).is_empty());
    assert!(query(&mut d, &mut kbd, select::PROP_BITS, 0).is_empty());
    assert!(query(&mut d, &mut kbd, 0x77, 0).is_empty(), "an unknown select has size 0");

    let mut mouse = device(InputType::Mouse, &hub);
    let rel = query(&mut d, &mut mouse, select::EV_BITS, ev::REL as u8);
    assert!(bit(&rel, code::REL_X) && bit(&rel, code::REL_Y) && bit(&rel, code::REL_WHEEL));
    let btn = query(&mut d, &mut mouse, select::EV_BITS, ev::KEY as u8);
    assert!(bit(&btn, code::BTN_LEFT) && bit(&btn, code::BTN_MIDDLE) && !bit(&btn, 30));
    assert!(query(&mut d, &mut mouse, select::ABS_INFO, code::ABS_X as u8).is_empty());

    let mut tablet = device(InputType::Tablet, &hub);
    let abs = query(&mut d, &mut tablet, select::EV_BITS, ev::ABS as u8);
    assert!(bit(&abs, code::ABS_X) && bit(&abs, code::ABS_Y));
    let info = query(&mut d, &mut tablet, select::ABS_INFO, code::ABS_Y as u8);
    assert_eq!(info.len(), 20);
    assert_eq!((&info[..4], &info[4..8]), (&0u32.to_le_bytes()[..], &ABS_MAX.to_le_bytes()[..]));
    assert!(query(&mut d, &mut tablet, select::ABS_INFO, 5).is_empty());
}

#[test]
fn events_reach_the_guest_as_buffers_come() {
    let dir = TempDir::new("virtio-input");
    let kind = find_kind("virtio-input");
    let spec = example_spec(dir.path(), "virtio-input", kind.example);
    (kind.check)(&spec).unwrap();
    let (mut ctx, line) = build_ctx();
    let hub = ctx.input.clone();
    let mut dev = (kind.build)(&spec, &mut ctx).unwrap();
    let mut d = Driver::new();
    d.init(dev.as_mut(), feature::VERSION_1);
    let press = [InputEvent { typ: ev::KEY, code: 30, value: 1 }, InputEvent::SYN_REPORT];
    assert_eq!(hub.send(InputClass::Keyboard, &press), 1);
    assert_eq!(hub.send(InputClass::Mouse, &press), 0, "a keyboard is not a mouse");
    // No buffers yet: the events wait.
    d.tick(dev.as_mut());
    assert_eq!(d.used(0), None);
    let s = d.submit(dev.as_mut(), 0, &[Buf::Write(8)]);
    assert_eq!(d.used(0), Some((u32::from(s.head), 8)));
    assert_eq!(d.ram.slice(s.addrs[0], 8).unwrap(), [1, 0, 30, 0, 1, 0, 0, 0]);
    assert!(line.level());
    d.write(dev.as_mut(), reg::INTERRUPT_ACK, 1);
    // The SYN_REPORT waits for the next buffer; a tick delivers it once there is one.
    let s = d.add_chain(0, &[Buf::Write(8)]);
    d.tick(dev.as_mut());
    assert_eq!(d.used(0), Some((u32::from(s.head), 8)));
    assert_eq!(d.ram.slice(s.addrs[0], 8).unwrap(), [0; 8]);
    // A buffer too small loses its event; the next goes on.
    hub.send(InputClass::Keyboard, &press);
    d.add_chain(0, &[Buf::Write(4)]);
    let s = d.submit(dev.as_mut(), 0, &[Buf::Write(8)]);
    assert_eq!(d.used(0).map(|(_, n)| n), Some(0));
    assert_eq!(d.used(0), Some((u32::from(s.head), 8)));
    // LED updates on the status queue are taken.
    let s = d.submit(dev.as_mut(), 1, &[Buf::Read(vec![0x11, 0, 1, 0, 1, 0, 0, 0])]);
    assert_eq!(d.used(1), Some((u32::from(s.head), 0)));
}

#[test]
fn bad_options_are_refused_and_hostile_drivers_do_no_harm() {
    let dir = TempDir::new("virtio-input-bad");
    for (text, field) in [("type = \"joystick\"\n", "type"), ("", "type"), ("type = \"mouse\"\nrate = 3\n", "rate")] {
        let t = format!("[[device]]\nname = \"i\"\nkind = \"virtio-input\"\n{text}");
        let e = check(&example_spec(dir.path(), "virtio-input", &t)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{t}: {e}");
    }
    let hub = InputHub::detached();
    let mut t = device(InputType::Tablet, &hub);
    let moves: Vec<InputEvent> = (0..500).map(|v| InputEvent { typ: ev::ABS, code: 0, value: v }).collect();
    hub.send(InputClass::Tablet, &moves);
    let (_, done) = hostile_driver(&mut t, feature::VERSION_1 | feature::INDIRECT_DESC, 200, 18);
    assert!(done > 0);
}
