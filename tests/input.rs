//! virtio-input in a booted Linux guest: a keyboard, a mouse and a tablet appear as evdev devices
//! with their names and the event types they send. (Events from the host come with the machine
//! monitor's `send-key`; the device's delivery is tested in its plugin.)

mod guest;

use std::time::Duration;

use guest::{Guest, InitramfsMachine};

#[test]
fn the_guest_sees_a_keyboard_a_mouse_and_a_tablet() {
    let dev =
        |name: &str, typ: &str| format!("[[device]]\nname = \"{name}\"\nkind = \"virtio-input\"\ntype = \"{typ}\"\n\n");
    let more = dev("kbd0", "keyboard") + &dev("mouse0", "mouse") + &dev("tablet0", "tablet");
    let m = InitramfsMachine::new("input", "", &more);
    let mut g = Guest::start(&[m.arg()], false);
    g.wait_for("semu-init: ready", Duration::from_secs(180));
    g.wait_for("# ", Duration::from_secs(60));
    let t = Duration::from_secs(60);
    let devices = g.ok("cat /proc/bus/input/devices", t).replace("\r\n", "\n");
    let block = |name: &str| -> String {
        devices
            .split("\n\n")
            .find(|b| b.contains(&format!("N: Name=\"{name}\"")))
            .unwrap_or_else(|| panic!("no {name} in:\n{devices}"))
            .to_string()
    };
    let (kbd, mouse, tablet) = (block("semu keyboard"), block("semu mouse"), block("semu tablet"));
    // Bus 0006 (virtual), vendor 5345, product 1/2/3; the event types as bitmaps (EV_SYN is added
    // by Linux): keyboard KEY+LED (0x20003), mouse KEY+REL (0x7), tablet KEY+ABS (0xb).
    assert!(kbd.contains("I: Bus=0006 Vendor=5345 Product=0001") && kbd.contains("B: EV=20003"), "{kbd}");
    assert!(mouse.contains("Product=0002") && mouse.contains("B: EV=7") && mouse.contains("B: REL=103"), "{mouse}");
    assert!(tablet.contains("Product=0003") && tablet.contains("B: EV=b") && tablet.contains("B: ABS=3"), "{tablet}");
    let nodes = g.ok("ls /dev/input/", t);
    for n in ["event0", "event1", "event2"] {
        assert!(nodes.contains(n), "{nodes}");
    }
    g.send("poweroff -f\n");
    assert_eq!(g.wait_exit(Duration::from_secs(60)).code(), Some(0), "{}", g.out);
}
