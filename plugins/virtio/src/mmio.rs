//! The virtio-mmio register file (virtio 1.x, 4.2.2), version 2 only.
//!
//! Registers below 0x100 are 32 bits wide and take only 32-bit accesses (anything else is a bus
//! fault). The device configuration space from 0x100 takes 1-, 2-, 4- and 8-byte accesses and is
//! read-only; bytes past its end read as zero. Reads of write-only or unknown registers return 0
//! and writes to read-only or unknown ones are ignored.

use semu_api::{BusFault, DevCtx, Device, GuestRam, IrqLine};

use crate::{feature, irq, status, Queue, QueueError, VirtioDevice, CONFIG_OFFSET, MAGIC, VENDOR_ID, VERSION};

/// Register offsets.
pub mod reg {
    /// `MagicValue` (R).
    pub const MAGIC_VALUE: u64 = 0x000;
    /// `Version` (R).
    pub const VERSION: u64 = 0x004;
    /// `DeviceID` (R).
    pub const DEVICE_ID: u64 = 0x008;
    /// `VendorID` (R).
    pub const VENDOR_ID: u64 = 0x00c;
    /// `DeviceFeatures` (R).
    pub const DEVICE_FEATURES: u64 = 0x010;
    /// `DeviceFeaturesSel` (W).
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    /// `DriverFeatures` (W).
    pub const DRIVER_FEATURES: u64 = 0x020;
    /// `DriverFeaturesSel` (W).
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    /// `QueueSel` (W).
    pub const QUEUE_SEL: u64 = 0x030;
    /// `QueueNumMax` (R).
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    /// `QueueNum` (W).
    pub const QUEUE_NUM: u64 = 0x038;
    /// `QueueReady` (RW).
    pub const QUEUE_READY: u64 = 0x044;
    /// `QueueNotify` (W).
    pub const QUEUE_NOTIFY: u64 = 0x050;
    /// `InterruptStatus` (R).
    pub const INTERRUPT_STATUS: u64 = 0x060;
    /// `InterruptACK` (W).
    pub const INTERRUPT_ACK: u64 = 0x064;
    /// `Status` (RW).
    pub const STATUS: u64 = 0x070;
    /// `QueueDescLow` (W).
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    /// `QueueDescHigh` (W).
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    /// `QueueDriverLow` (W).
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    /// `QueueDriverHigh` (W).
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    /// `QueueDeviceLow` (W).
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    /// `QueueDeviceHigh` (W).
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    /// `SHMSel` (W).
    pub const SHM_SEL: u64 = 0x0ac;
    /// `SHMLenLow` (R).
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    /// `SHMBaseHigh` (R).
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    /// `ConfigGeneration` (R).
    pub const CONFIG_GENERATION: u64 = 0x0fc;
}

/// A virtio device model behind the MMIO transport: implements [`semu_api::Device`].
pub struct MmioTransport<D> {
    name: String,
    dev: D,
    irq: Option<IrqLine>,
    queues: Vec<Queue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
    config_generation: u32,
}

fn set_half(word: &mut u64, high: bool, value: u32) {
    let (mask, v) = if high { (0xffff_ffff, u64::from(value) << 32) } else { (!0xffff_ffff, u64::from(value)) };
    *word = (*word & mask) | v;
}

impl<D: VirtioDevice> MmioTransport<D> {
    /// Instance `name` (for log lines) of device `dev`, interrupting on `irq`.
    pub fn new(name: &str, dev: D, irq: Option<IrqLine>) -> Self {
        let queues = dev.queue_max_sizes().iter().map(|&m| Queue::new(m)).collect();
        Self {
            name: name.to_string(),
            dev,
            irq,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
            config_generation: 0,
        }
    }

    /// The device model.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device model, mutably.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The feature bits offered to the driver.
    pub fn offered_features(&self) -> u64 {
        self.dev.features() | feature::VERSION_1 | feature::INDIRECT_DESC
    }

    /// The `Status` register.
    pub fn status(&self) -> u32 {
        self.status
    }

    fn queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// A queue the driver may still configure (exists and is not ready).
    fn queue_setup(&mut self) -> Option<&mut Queue> {
        self.queue().filter(|q| !q.ready)
    }

    fn update_irq(&self) {
        if let Some(irq) = &self.irq {
            irq.set(self.interrupt_status != 0);
        }
    }

    fn needs_reset(&mut self, err: &QueueError, verbose: bool) {
        if verbose {
            eprintln!("semu: {}: {err}; the device needs a reset", self.name);
        }
        if self.status & status::DEVICE_NEEDS_RESET == 0 {
            self.status |= status::DEVICE_NEEDS_RESET;
            if self.status & status::DRIVER_OK != 0 {
                self.interrupt_status |= irq::CONFIG_CHANGE;
                self.config_generation = self.config_generation.wrapping_add(1);
            }
        }
        self.update_irq();
    }

    fn reset(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.queues.iter_mut().for_each(Queue::reset);
        self.dev.reset();
        self.update_irq();
    }

    fn driver_ok(&self) -> bool {
        self.status & status::DRIVER_OK != 0
    }

    /// Runs `f` on the device and its queues, then raises the interrupt for used buffers, or sets
    /// `DEVICE_NEEDS_RESET` on a ring error.
    fn run(&mut self, ctx: &mut DevCtx, f: impl FnOnce(&mut D, &mut [Queue], &mut GuestRam) -> Result<(), QueueError>) {
        if !self.driver_ok() {
            return;
        }
        let r = f(&mut self.dev, &mut self.queues, ctx.ram);
        let mut used = false;
        for q in &mut self.queues {
            used |= q.take_interrupt(ctx.ram);
        }
        if used {
            self.interrupt_status |= irq::USED_BUFFER;
            self.update_irq();
        }
        if let Err(e) = r {
            self.needs_reset(&e, ctx.verbose);
        }
    }

    fn write_status(&mut self, value: u32, ctx: &mut DevCtx) {
        if value == 0 {
            self.reset();
            return;
        }
        let old = self.status;
        let mut new = (value & 0xff & !status::DEVICE_NEEDS_RESET) | (old & status::DEVICE_NEEDS_RESET);
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let unoffered = self.driver_features & !self.offered_features();
            if unoffered != 0 || self.driver_features & feature::VERSION_1 == 0 {
                if ctx.verbose {
                    eprintln!(
                        "semu: {}: refusing features {:#x} (offered {:#x})",
                        self.name,
                        self.driver_features,
                        self.offered_features()
                    );
                }
                new &= !status::FEATURES_OK;
            }
        }
        if new & status::DRIVER_OK != 0 && new & status::FEATURES_OK == 0 {
            new &= !status::DRIVER_OK;
        }
        self.status = new;
        if new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0 {
            self.dev.activate(self.driver_features);
            for i in 0..self.queues.len() {
                if self.queues[i].has_available(ctx.ram) {
                    self.run(ctx, |dev, queues, ram| dev.notify(i, queues, ram));
                }
            }
        }
    }

    fn write_queue_ready(&mut self, value: u32, ctx: &mut DevCtx) {
        let indirect = self.driver_features & feature::INDIRECT_DESC != 0;
        let Some(q) = self.queue() else { return };
        if value == 0 {
            q.reset();
            return;
        }
        if q.ready {
            return;
        }
        q.indirect = indirect;
        match q.validate(ctx.ram) {
            Ok(()) => q.ready = true,
            Err(e) => self.needs_reset(&e, ctx.verbose),
        }
    }

    fn read_config(&self, offset: u64, size: u8) -> u64 {
        let cfg = self.dev.config();
        let mut v = 0u64;
        for i in (0..u64::from(size)).rev() {
            let b = usize::try_from(offset + i).ok().and_then(|o| cfg.get(o)).copied().unwrap_or(0);
            v = (v << 8) | u64::from(b);
        }
        v
    }
}

impl<D: VirtioDevice> Device for MmioTransport<D> {
    fn read(&mut self, offset: u64, size: u8, _ctx: &mut DevCtx) -> Result<u64, BusFault> {
        if offset >= CONFIG_OFFSET {
            return Ok(self.read_config(offset - CONFIG_OFFSET, size));
        }
        if size != 4 {
            return Err(BusFault::BadSize);
        }
        let v = match offset {
            reg::MAGIC_VALUE => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => self.dev.device_id(),
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => self.offered_features() as u32,
                1 => (self.offered_features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => self.queue().map_or(0, |q| u32::from(q.max_size)),
            reg::QUEUE_READY => self.queue().is_some_and(|q| q.ready).into(),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            reg::SHM_LEN_LOW..=reg::SHM_BASE_HIGH => u32::MAX, // no shared memory regions
            reg::CONFIG_GENERATION => self.config_generation,
            _ => 0,
        };
        Ok(u64::from(v))
    }

    fn write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DevCtx) -> Result<(), BusFault> {
        if offset >= CONFIG_OFFSET {
            let bytes = value.to_le_bytes();
            let n = usize::from(size).min(bytes.len());
            self.dev.write_config(offset - CONFIG_OFFSET, &bytes[..n]);
            return Ok(());
        }
        if size != 4 {
            return Err(BusFault::BadSize);
        }
        let v = value as u32;
        let negotiating = self.status & status::DRIVER != 0 && self.status & status::FEATURES_OK == 0;
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = v,
            reg::DRIVER_FEATURES if negotiating => match self.driver_features_sel {
                0 => set_half(&mut self.driver_features, false, v),
                1 => set_half(&mut self.driver_features, true, v),
                _ => {}
            },
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            reg::QUEUE_SEL => self.queue_sel = v,
            reg::QUEUE_NUM => {
                if let Some(q) = self.queue_setup() {
                    q.size = v.min(u32::from(u16::MAX)) as u16;
                }
            }
            reg::QUEUE_READY => self.write_queue_ready(v, ctx),
            reg::QUEUE_NOTIFY => {
                let i = (v & 0xffff) as usize;
                if i < self.queues.len() {
                    self.run(ctx, |dev, queues, ram| dev.notify(i, queues, ram));
                }
            }
            reg::INTERRUPT_ACK => {
                self.interrupt_status &= !v;
                self.update_irq();
            }
            reg::STATUS => self.write_status(v, ctx),
            reg::QUEUE_DESC_LOW | reg::QUEUE_DESC_HIGH => {
                if let Some(q) = self.queue_setup() {
                    set_half(&mut q.desc, offset == reg::QUEUE_DESC_HIGH, v);
                }
            }
            reg::QUEUE_DRIVER_LOW | reg::QUEUE_DRIVER_HIGH => {
                if let Some(q) = self.queue_setup() {
                    set_half(&mut q.avail, offset == reg::QUEUE_DRIVER_HIGH, v);
                }
            }
            reg::QUEUE_DEVICE_LOW | reg::QUEUE_DEVICE_HIGH => {
                if let Some(q) = self.queue_setup() {
                    set_half(&mut q.used, offset == reg::QUEUE_DEVICE_HIGH, v);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn tick(&mut self, ctx: &mut DevCtx) {
        self.run(ctx, |dev, queues, ram| dev.tick(queues, ram));
    }

    fn shutdown(&mut self) {
        self.dev.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Buf, Driver};

    /// A device with two queues that echoes each chain's readable bytes into its writable ones.
    struct Echo;

    impl VirtioDevice for Echo {
        fn device_id(&self) -> u32 {
            42
        }
        fn features(&self) -> u64 {
            1 << 3
        }
        fn queue_max_sizes(&self) -> &[u16] {
            &[8, 4]
        }
        fn config(&self) -> &[u8] {
            &[1, 2, 3, 4, 5]
        }
        fn notify(&mut self, index: usize, queues: &mut [Queue], ram: &mut GuestRam) -> Result<(), QueueError> {
            let q = &mut queues[index];
            while let Some(c) = q.pop(ram)? {
                let mut data = vec![0; c.readable.len().min(4096) as usize];
                let ok = c.readable.read_at(ram, 0, &mut data).is_some();
                let n = data.len().min(c.writable.len() as usize);
                let written = if ok && c.writable.write_at(ram, 0, &data[..n]).is_some() { n } else { 0 };
                q.add_used(ram, c.head, written as u32)?;
            }
            Ok(())
        }
    }

    fn transport() -> (MmioTransport<Echo>, IrqLine) {
        let pins = semu_api::IrqPins::new(32);
        let line = IrqLine::new(pins, 5);
        (MmioTransport::new("echo0", Echo, Some(line.clone())), line)
    }

    #[test]
    fn identification_registers() {
        let (mut t, _) = transport();
        let mut d = Driver::new();
        assert_eq!(d.read(&mut t, reg::MAGIC_VALUE), 0x7472_6976);
        assert_eq!(d.read(&mut t, reg::VERSION), 2);
        assert_eq!(d.read(&mut t, reg::DEVICE_ID), 42);
        assert_eq!(d.read(&mut t, reg::VENDOR_ID), VENDOR_ID);
        assert_eq!(d.device_features(&mut t), (1 << 3) | feature::VERSION_1 | feature::INDIRECT_DESC);
        let mut ctx = d.ctx();
        assert_eq!(t.read(reg::VERSION, 2, &mut ctx), Err(BusFault::BadSize));
        assert_eq!(t.read(CONFIG_OFFSET + 1, 2, &mut ctx), Ok(0x0302));
        assert_eq!(t.read(CONFIG_OFFSET + 3, 4, &mut ctx), Ok(0x0504), "past the end reads zero");
        assert_eq!(t.read(CONFIG_OFFSET + 0xf0, 1, &mut ctx), Ok(0));
    }

    #[test]
    fn features_ok_is_refused_for_unoffered_bits_and_without_version_1() {
        let (mut t, _) = transport();
        let mut d = Driver::new();
        assert!(!d.negotiate(&mut t, feature::VERSION_1 | (1 << 4)), "bit 4 was not offered");
        assert!(!d.negotiate(&mut t, 1 << 3), "VERSION_1 is required");
        assert!(d.negotiate(&mut t, feature::VERSION_1 | (1 << 3)));
        // Once FEATURES_OK is set, feature writes are ignored.
        d.write(&mut t, reg::DRIVER_FEATURES_SEL, 0);
        d.write(&mut t, reg::DRIVER_FEATURES, 0xffff_ffff);
        assert_eq!(t.driver_features, feature::VERSION_1 | (1 << 3));
        // DRIVER_OK without FEATURES_OK does not stick.
        d.write(&mut t, reg::STATUS, 0);
        d.write(&mut t, reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK);
        assert_eq!(d.read(&mut t, reg::STATUS), status::ACKNOWLEDGE | status::DRIVER);
    }

    #[test]
    fn echo_round_trip_raises_and_acks_the_interrupt() {
        let (mut t, line) = transport();
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        assert_eq!(d.read(&mut t, reg::STATUS) & status::DRIVER_OK, status::DRIVER_OK);
        let s = d.submit(&mut t, 1, &[Buf::Read(b"hello".to_vec()), Buf::Write(3), Buf::Write(8)]);
        assert_eq!(d.used(1), Some((u32::from(s.head), 5)));
        assert_eq!(d.ram.slice(s.addrs[1], 3).unwrap(), b"hel");
        assert_eq!(d.ram.slice(s.addrs[2], 2).unwrap(), b"lo");
        assert!(line.level());
        assert_eq!(d.read(&mut t, reg::INTERRUPT_STATUS), irq::USED_BUFFER);
        d.write(&mut t, reg::INTERRUPT_ACK, irq::USED_BUFFER);
        assert!(!line.level());
        assert_eq!(d.read(&mut t, reg::INTERRUPT_STATUS), 0);
    }

    #[test]
    fn no_interrupt_flag_is_honoured() {
        let (mut t, line) = transport();
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        d.ram.write_u16(d.queue(0).avail, 1).unwrap();
        d.submit(&mut t, 0, &[Buf::Read(vec![1]), Buf::Write(1)]);
        assert!(d.used(0).is_some());
        assert!(!line.level());
    }

    #[test]
    fn buffers_made_available_before_driver_ok_are_processed_at_driver_ok() {
        let (mut t, _) = transport();
        let mut d = Driver::new();
        assert!(d.negotiate(&mut t, feature::VERSION_1));
        d.setup_queue(&mut t, 0, 8);
        let s = d.submit(&mut t, 0, &[Buf::Read(vec![7]), Buf::Write(1)]);
        assert_eq!(d.used(0), None);
        d.driver_ok(&mut t);
        assert_eq!(d.used(0), Some((u32::from(s.head), 1)));
    }

    #[test]
    fn a_bad_ring_sets_needs_reset_and_reset_clears_it() {
        let (mut t, line) = transport();
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        let q = d.queue(0).clone();
        d.put_desc(0, 0, q.desc, 1, crate::queue::DESC_F_NEXT, 0); // a descriptor pointing at itself
        d.make_available(0, 0);
        d.notify(&mut t, 0);
        assert_ne!(d.read(&mut t, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
        assert_eq!(d.read(&mut t, reg::INTERRUPT_STATUS), irq::CONFIG_CHANGE);
        assert!(line.level());
        // The other queue still works.
        let s = d.submit(&mut t, 1, &[Buf::Read(vec![1]), Buf::Write(1)]);
        assert_eq!(d.used(1), Some((u32::from(s.head), 1)));
        d.write(&mut t, reg::STATUS, 0);
        assert_eq!(d.read(&mut t, reg::STATUS), 0);
        assert!(!line.level());
        assert_eq!(d.read(&mut t, reg::QUEUE_READY), 0);
        d.init(&mut t, feature::VERSION_1);
        let s = d.submit(&mut t, 0, &[Buf::Read(vec![1]), Buf::Write(1)]);
        assert_eq!(d.used(0), Some((u32::from(s.head), 1)));
    }

    #[test]
    fn queue_setup_is_checked() {
        let (mut t, _) = transport();
        let mut d = Driver::new();
        assert!(d.negotiate(&mut t, feature::VERSION_1));
        d.write(&mut t, reg::QUEUE_SEL, 7);
        assert_eq!(d.read(&mut t, reg::QUEUE_NUM_MAX), 0, "no such queue");
        d.write(&mut t, reg::QUEUE_READY, 1);
        d.write(&mut t, reg::QUEUE_SEL, 0);
        assert_eq!(d.read(&mut t, reg::QUEUE_NUM_MAX), 8);
        d.write(&mut t, reg::QUEUE_NUM, 3);
        d.write(&mut t, reg::QUEUE_READY, 1);
        assert_eq!(d.read(&mut t, reg::QUEUE_READY), 0, "size 3 is refused");
        assert_ne!(d.read(&mut t, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn descriptors_outside_ram_fail_the_request_only() {
        let (mut t, _) = transport();
        let mut d = Driver::new();
        d.init(&mut t, feature::VERSION_1);
        let q = d.queue(1).clone();
        let out = d.alloc(4, 4);
        d.put_desc(1, 0, 0x1000, 4, crate::queue::DESC_F_NEXT, 1);
        d.put_desc(1, 1, out, 4, crate::queue::DESC_F_WRITE, 0);
        d.make_available(1, 0);
        d.notify(&mut t, 1);
        assert_eq!(d.used(1), Some((0, 0)));
        assert_eq!(d.read(&mut t, reg::STATUS) & status::DEVICE_NEEDS_RESET, 0);
        assert!(q.ready);
    }

    #[test]
    fn a_hostile_driver_cannot_make_it_panic_or_hang() {
        let (mut t, _) = transport();
        let (broken, done) =
            crate::testing::hostile_driver(&mut t, feature::VERSION_1 | feature::INDIRECT_DESC, 300, 7);
        eprintln!("{broken} rounds broke a ring, {done} chains completed");
        assert!(broken > 0 && done > 0);
    }
}
