//! Host input (keys, pointer motion, buttons) on its way to the guest's input devices.
//!
//! Producers on host threads (the machine monitor's `send-key`, a window) [`send`](InputHub::send)
//! evdev events for a class of device; every device of that class that
//! [`register`](InputHub::register)ed gets its own copy in a bounded queue, and the machine loop is
//! woken so that the device delivers them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::Console;

/// Event types (Linux `input-event-codes.h`).
pub mod ev {
    /// End of a group of events that belong together.
    pub const SYN: u16 = 0x00;
    /// A key or button, pressed (1), released (0) or repeated (2).
    pub const KEY: u16 = 0x01;
    /// Relative motion.
    pub const REL: u16 = 0x02;
    /// An absolute position.
    pub const ABS: u16 = 0x03;
    /// Keyboard LEDs (the guest sets them).
    pub const LED: u16 = 0x11;
    /// Key repeat settings.
    pub const REP: u16 = 0x14;
}

/// One evdev event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// Event type ([`ev`]).
    pub typ: u16,
    /// Key, button or axis code.
    pub code: u16,
    /// Value: 1/0 for keys, a distance for relative axes, a position for absolute ones.
    pub value: i32,
}

impl InputEvent {
    /// The `SYN_REPORT` that ends a group of events.
    pub const SYN_REPORT: InputEvent = InputEvent { typ: ev::SYN, code: 0, value: 0 };
}

/// What kind of input device receives an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputClass {
    /// Keys.
    Keyboard,
    /// Relative motion and buttons.
    Mouse,
    /// Absolute positions and buttons.
    Tablet,
}

/// Events a device has not delivered yet are dropped beyond this many (oldest first).
pub const MAX_PENDING: usize = 4096;

type Pending = Arc<Mutex<VecDeque<InputEvent>>>;

/// The routes from producers to devices.
pub struct InputHub {
    devices: Mutex<Vec<(InputClass, Pending)>>,
    console: Arc<Console>,
}

/// A device's end: the events sent to its class since it last looked.
pub struct InputReceiver {
    pending: Pending,
}

impl InputHub {
    /// A hub that wakes the machine through `console`.
    pub fn new(console: Arc<Console>) -> Arc<Self> {
        Arc::new(Self { devices: Mutex::new(Vec::new()), console })
    }

    /// A hub for tests: wakes nothing anyone waits on.
    pub fn detached() -> Arc<Self> {
        Self::new(Console::sink())
    }

    /// A device of `class` joins.
    pub fn register(&self, class: InputClass) -> InputReceiver {
        let pending = Pending::default();
        lock(&self.devices).push((class, pending.clone()));
        InputReceiver { pending }
    }

    /// Whether any device of `class` is there to receive.
    pub fn has(&self, class: InputClass) -> bool {
        lock(&self.devices).iter().any(|(c, _)| *c == class)
    }

    /// Sends `events` to every device of `class` and wakes the machine; returns how many devices
    /// got them.
    pub fn send(&self, class: InputClass, events: &[InputEvent]) -> usize {
        let mut n = 0;
        for (_, pending) in lock(&self.devices).iter().filter(|(c, _)| *c == class) {
            let mut q = lock(pending);
            q.extend(events.iter().copied());
            let excess = q.len().saturating_sub(MAX_PENDING);
            q.drain(..excess);
            n += 1;
        }
        if n > 0 {
            self.console.wake();
        }
        n
    }
}

impl InputReceiver {
    /// Whether events wait.
    pub fn is_empty(&self) -> bool {
        lock(&self.pending).is_empty()
    }

    /// The oldest waiting event, taken.
    pub fn pop(&self) -> Option<InputEvent> {
        lock(&self.pending).pop_front()
    }

    /// Puts `e` back in front (the guest had no buffer for it).
    pub fn unpop(&self, e: InputEvent) {
        lock(&self.pending).push_front(e);
    }
}

/// Locks `m`, whatever a panicking holder left (the queues stay consistent at every step).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_every_device_of_their_class_only_and_are_bounded() {
        let hub = InputHub::detached();
        let (k1, k2, m) =
            (hub.register(InputClass::Keyboard), hub.register(InputClass::Keyboard), hub.register(InputClass::Mouse));
        let key = InputEvent { typ: ev::KEY, code: 30, value: 1 };
        assert_eq!(hub.send(InputClass::Keyboard, &[key, InputEvent::SYN_REPORT]), 2);
        assert_eq!(hub.send(InputClass::Tablet, &[key]), 0);
        for k in [&k1, &k2] {
            assert_eq!((k.pop(), k.pop(), k.pop()), (Some(key), Some(InputEvent::SYN_REPORT), None));
        }
        assert!(m.is_empty());
        let many: Vec<InputEvent> = (0..MAX_PENDING as i32 + 10).map(|v| InputEvent { value: v, ..key }).collect();
        hub.send(InputClass::Keyboard, &many);
        assert_eq!(k1.pop().map(|e| e.value), Some(10), "the oldest are dropped");
        k1.unpop(key);
        assert_eq!(k1.pop(), Some(key));
    }
}
