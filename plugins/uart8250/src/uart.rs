//! The 16550A register model: plain state, no I/O.
//!
//! Registers are bytes at offsets 0..=7 (`reg-shift` 0, `reg-io-width` 1). Transmission is
//! instantaneous: a byte written to THR is handed back to the caller at once, so THR and the
//! transmitter are always empty (`LSR.THRE` and `LSR.TEMT` always read 1). Received bytes wait in a
//! 16-byte FIFO (1 byte deep while the FIFO is disabled); the caller fills it with
//! [`Uart::push_rx`] while [`Uart::rx_room`] says there is room, so no input is ever overrun.
//!
//! Interrupts, highest priority first (IIR value):
//! - line status (`0x06`): `LSR.OE` after a loopback byte found the FIFO full (only source of errors);
//! - received data (`0x04`, or `0x0C` "character timeout" while the FIFO holds fewer bytes than
//!   its trigger level — there is no timer, data below the trigger level interrupts at once);
//! - THR empty (`0x02`): set when THR empties (after every write to it, as transmission is
//!   instant) and when `IER.ETBEI` goes from 0 to 1 (THR is always empty); cleared by reading
//!   IIR while it reports THRE, by writing THR, and by clearing `IER.ETBEI`. This is what Linux's
//!   8250 driver checks at probe time and on every TX start;
//! - modem status (`0x00`): the delta bits of MSR, which change only in loopback mode.
//!
//! [`Uart::irq_level`] is high while any enabled condition is pending.

use std::collections::VecDeque;

/// RX FIFO depth in FIFO mode.
pub const FIFO_SIZE: usize = 16;

/// Register offsets.
pub mod reg {
    /// RBR (read) / THR (write); DLL while `LCR.DLAB` is set.
    pub const DATA: u8 = 0;
    /// IER; DLM while `LCR.DLAB` is set.
    pub const IER: u8 = 1;
    /// IIR (read) / FCR (write).
    pub const IIR_FCR: u8 = 2;
    /// Line control.
    pub const LCR: u8 = 3;
    /// Modem control.
    pub const MCR: u8 = 4;
    /// Line status (read only).
    pub const LSR: u8 = 5;
    /// Modem status (read only).
    pub const MSR: u8 = 6;
    /// Scratch.
    pub const SCR: u8 = 7;
}

/// IER: received data available.
pub const IER_ERBFI: u8 = 0x01;
/// IER: transmitter holding register empty.
pub const IER_ETBEI: u8 = 0x02;
/// IER: receiver line status.
pub const IER_ELSI: u8 = 0x04;
/// IER: modem status.
pub const IER_EDSSI: u8 = 0x08;

/// IIR: no interrupt pending.
pub const IIR_NONE: u8 = 0x01;
/// IIR: THR empty.
pub const IIR_THRE: u8 = 0x02;
/// IIR: received data available.
pub const IIR_RDA: u8 = 0x04;
/// IIR: receiver line status.
pub const IIR_RLS: u8 = 0x06;
/// IIR: character timeout (data below the trigger level).
pub const IIR_TIMEOUT: u8 = 0x0C;
/// IIR: FIFOs enabled (bits 6 and 7).
pub const IIR_FIFO: u8 = 0xC0;

/// FCR: enable FIFOs.
pub const FCR_ENABLE: u8 = 0x01;
/// FCR: clear the RX FIFO.
pub const FCR_CLEAR_RX: u8 = 0x02;

/// LCR: divisor latch access.
pub const LCR_DLAB: u8 = 0x80;

/// MCR: data terminal ready.
pub const MCR_DTR: u8 = 0x01;
/// MCR: request to send.
pub const MCR_RTS: u8 = 0x02;
/// MCR: OUT1.
pub const MCR_OUT1: u8 = 0x04;
/// MCR: OUT2.
pub const MCR_OUT2: u8 = 0x08;
/// MCR: loopback.
pub const MCR_LOOP: u8 = 0x10;

/// LSR: data ready.
pub const LSR_DR: u8 = 0x01;
/// LSR: overrun error.
pub const LSR_OE: u8 = 0x02;
/// LSR: THR empty.
pub const LSR_THRE: u8 = 0x20;
/// LSR: transmitter empty.
pub const LSR_TEMT: u8 = 0x40;

/// MSR: clear to send.
pub const MSR_CTS: u8 = 0x10;
/// MSR: data set ready.
pub const MSR_DSR: u8 = 0x20;
/// MSR: ring indicator.
pub const MSR_RI: u8 = 0x40;
/// MSR: data carrier detect.
pub const MSR_DCD: u8 = 0x80;
/// MSR: trailing edge of RI (the only delta bit that is not "any change").
const MSR_TERI: u8 = 0x04;

/// Modem lines seen from the host side when not in loopback: carrier, DSR and CTS up.
const MSR_IDLE: u8 = MSR_DCD | MSR_DSR | MSR_CTS;

/// One 16550A UART.
#[derive(Debug, Clone)]
pub struct Uart {
    rx: VecDeque<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    fcr: u8,
    /// Sticky LSR error bits (only OE), cleared by reading LSR.
    lsr_errors: u8,
    /// MSR: lines (high nibble) and delta bits (low nibble).
    msr: u8,
    scr: u8,
    dll: u8,
    dlm: u8,
    thre_pending: bool,
}

impl Default for Uart {
    fn default() -> Self {
        Self::new()
    }
}

impl Uart {
    /// A UART after reset: FIFO disabled, no interrupts enabled, 8N1 line, divisor 0.
    pub fn new() -> Self {
        Self {
            rx: VecDeque::with_capacity(FIFO_SIZE),
            ier: 0,
            lcr: 0x03,
            mcr: 0,
            fcr: 0,
            lsr_errors: 0,
            msr: MSR_IDLE,
            scr: 0,
            dll: 0,
            dlm: 0,
            thre_pending: false,
        }
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    fn fifo_enabled(&self) -> bool {
        self.fcr & FCR_ENABLE != 0
    }

    fn loopback(&self) -> bool {
        self.mcr & MCR_LOOP != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            FIFO_SIZE
        } else {
            1
        }
    }

    fn rx_trigger(&self) -> usize {
        match self.fcr >> 6 {
            0 => 1,
            1 => 4,
            2 => 8,
            _ => 14,
        }
    }

    /// How many received bytes the RX FIFO can take now (0 in loopback mode, where the
    /// receiver is disconnected from the host).
    pub fn rx_room(&self) -> usize {
        if self.loopback() {
            0
        } else {
            self.rx_capacity().saturating_sub(self.rx.len())
        }
    }

    /// Number of bytes in the RX FIFO.
    pub fn rx_len(&self) -> usize {
        self.rx.len()
    }

    /// Receives `byte` from the host. Returns false (and drops nothing: the byte is not taken)
    /// when there is no room; callers check [`rx_room`](Self::rx_room) first.
    pub fn push_rx(&mut self, byte: u8) -> bool {
        if self.rx_room() == 0 {
            return false;
        }
        self.rx.push_back(byte);
        true
    }

    fn lsr(&self) -> u8 {
        let dr = if self.rx.is_empty() { 0 } else { LSR_DR };
        dr | LSR_THRE | LSR_TEMT | self.lsr_errors
    }

    /// The highest-priority pending enabled interrupt, as the low nibble of IIR.
    fn interrupt_id(&self) -> u8 {
        if self.ier & IER_ELSI != 0 && self.lsr_errors != 0 {
            IIR_RLS
        } else if self.ier & IER_ERBFI != 0 && !self.rx.is_empty() {
            if self.fifo_enabled() && self.rx.len() < self.rx_trigger() {
                IIR_TIMEOUT
            } else {
                IIR_RDA
            }
        } else if self.ier & IER_ETBEI != 0 && self.thre_pending {
            IIR_THRE
        } else if self.ier & IER_EDSSI != 0 && self.msr & 0x0F != 0 {
            0x00
        } else {
            IIR_NONE
        }
    }

    /// The interrupt output: high while any enabled condition is pending.
    pub fn irq_level(&self) -> bool {
        self.interrupt_id() != IIR_NONE
    }

    /// Reads the register at `offset` (0..=7). Offsets past 7 read 0.
    pub fn read(&mut self, offset: u8) -> u8 {
        match offset {
            reg::DATA if self.dlab() => self.dll,
            reg::DATA => self.rx.pop_front().unwrap_or(0),
            reg::IER if self.dlab() => self.dlm,
            reg::IER => self.ier,
            reg::IIR_FCR => {
                let id = self.interrupt_id();
                if id == IIR_THRE {
                    self.thre_pending = false;
                }
                let fifo = if self.fifo_enabled() { IIR_FIFO } else { 0 };
                id | fifo
            }
            reg::LCR => self.lcr,
            reg::MCR => self.mcr,
            reg::LSR => {
                let v = self.lsr();
                self.lsr_errors = 0;
                v
            }
            reg::MSR => {
                let v = self.msr;
                self.msr &= 0xF0;
                v
            }
            reg::SCR => self.scr,
            _ => 0,
        }
    }

    /// Writes `value` to the register at `offset` (0..=7; others are ignored). Returns the byte to
    /// transmit to the host, if this was a write to THR outside loopback mode.
    pub fn write(&mut self, offset: u8, value: u8) -> Option<u8> {
        match offset {
            reg::DATA if self.dlab() => self.dll = value,
            reg::DATA => {
                // THR empties at once: the THRE interrupt is pending again right away.
                self.thre_pending = true;
                if !self.loopback() {
                    return Some(value);
                }
                if self.rx.len() < self.rx_capacity() {
                    self.rx.push_back(value);
                } else {
                    self.lsr_errors |= LSR_OE;
                }
            }
            reg::IER if self.dlab() => self.dlm = value,
            reg::IER => {
                let changed = (self.ier ^ value) & IER_ETBEI;
                self.ier = value & 0x0F;
                if changed != 0 {
                    // THR is always empty, so enabling ETBEI raises THRE; disabling drops it.
                    self.thre_pending = self.ier & IER_ETBEI != 0;
                }
            }
            reg::IIR_FCR => {
                if (self.fcr ^ value) & FCR_ENABLE != 0 || value & FCR_CLEAR_RX != 0 {
                    self.rx.clear();
                }
                // Bits 1-2 (clear RX/TX) self-clear; bit 3 (DMA mode) and 6-7 (trigger) stick.
                self.fcr = value & 0xC9;
                if !self.fifo_enabled() {
                    self.fcr = 0;
                }
            }
            reg::LCR => self.lcr = value,
            reg::MCR => {
                self.mcr = value & 0x1F;
                self.update_msr();
            }
            reg::SCR => self.scr = value,
            _ => {} // LSR and MSR are read-only.
        }
        None
    }

    /// Recomputes MSR's lines from MCR (loopback wires DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD)
    /// and records the delta bits.
    fn update_msr(&mut self) {
        let lines = if self.loopback() {
            let m = self.mcr;
            let mut l = 0;
            for (out, inp) in [(MCR_DTR, MSR_DSR), (MCR_RTS, MSR_CTS), (MCR_OUT1, MSR_RI), (MCR_OUT2, MSR_DCD)] {
                if m & out != 0 {
                    l |= inp;
                }
            }
            l
        } else {
            MSR_IDLE
        };
        let old = self.msr & 0xF0;
        let changed = (old ^ lines) >> 4;
        // Delta bits: DCTS, DDSR, TERI (RI went 1→0 only), DDCD.
        let mut delta = changed & !MSR_TERI;
        if old & MSR_RI != 0 && lines & MSR_RI == 0 {
            delta |= MSR_TERI;
        }
        self.msr = lines | (self.msr & 0x0F) | delta;
    }

    /// The divisor latch (DLM:DLL).
    pub fn divisor(&self) -> u16 {
        u16::from_le_bytes([self.dll, self.dlm])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uart_with_fifo() -> Uart {
        let mut u = Uart::new();
        u.write(reg::IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
        u
    }

    #[test]
    fn thr_write_transmits_and_lsr_stays_empty() {
        let mut u = Uart::new();
        assert_eq!(u.write(reg::DATA, b'A'), Some(b'A'));
        assert_eq!(u.read(reg::LSR), LSR_THRE | LSR_TEMT);
        assert_eq!(u.read(reg::IIR_FCR), IIR_NONE, "THRE interrupt not enabled");
        assert!(!u.irq_level());
    }

    #[test]
    fn rx_fifo_dr_and_rx_interrupt() {
        let mut u = uart_with_fifo();
        assert_eq!(u.read(reg::IIR_FCR), IIR_FIFO | IIR_NONE);
        assert!(u.push_rx(b'x') && u.push_rx(b'y'));
        assert_eq!(u.read(reg::LSR) & LSR_DR, LSR_DR);
        assert!(!u.irq_level(), "ERBFI off");
        u.write(reg::IER, IER_ERBFI);
        assert!(u.irq_level());
        assert_eq!(u.read(reg::IIR_FCR), IIR_FIFO | IIR_RDA, "at the trigger level (1)");
    }

    #[test]
    fn rx_interrupt_ids_follow_trigger_level() {
        let mut u = Uart::new();
        u.write(reg::IIR_FCR, FCR_ENABLE | 0x40); // trigger level 4
        u.write(reg::IER, IER_ERBFI);
        u.push_rx(1);
        assert_eq!(u.read(reg::IIR_FCR), IIR_FIFO | IIR_TIMEOUT);
        for b in 2..=4 {
            u.push_rx(b);
        }
        assert_eq!(u.read(reg::IIR_FCR), IIR_FIFO | IIR_RDA);
        for b in 1..=4 {
            assert_eq!(u.read(reg::DATA), b);
        }
        assert_eq!(u.read(reg::LSR) & LSR_DR, 0);
        assert_eq!(u.read(reg::IIR_FCR), IIR_FIFO | IIR_NONE);
        assert!(!u.irq_level());
        assert_eq!(u.read(reg::DATA), 0, "empty FIFO reads 0");
    }

    #[test]
    fn fifo_full_and_disabled_fifo_depth() {
        let mut u = Uart::new();
        assert_eq!(u.rx_room(), 1, "FIFO disabled: one holding register");
        assert!(u.push_rx(1));
        assert!(!u.push_rx(2), "no room, byte not taken");
        let mut u = uart_with_fifo();
        for i in 0..FIFO_SIZE {
            assert!(u.push_rx(i as u8));
        }
        assert_eq!(u.rx_room(), 0);
        assert!(!u.push_rx(99));
        assert_eq!(u.read(reg::LSR), LSR_DR | LSR_THRE | LSR_TEMT, "full FIFO: DR, no overrun");
        assert_eq!(u.read(reg::DATA), 0);
        assert_eq!(u.rx_room(), 1);
    }

    #[test]
    fn thre_interrupt_on_etbei_rising_and_iir_read_clears() {
        let mut u = Uart::new();
        u.write(reg::IER, IER_ETBEI);
        assert!(u.irq_level(), "ETBEI 0→1 with THR empty");
        assert_eq!(u.read(reg::IIR_FCR), IIR_THRE);
        assert!(!u.irq_level(), "IIR read reporting THRE clears it");
        assert_eq!(u.read(reg::IIR_FCR), IIR_NONE);
        // Rewriting the same IER value is not a 0→1 edge.
        u.write(reg::IER, IER_ETBEI);
        assert!(!u.irq_level());
        // Linux's probe: IER=0 then IER=THRI again must raise THRE again.
        u.write(reg::IER, 0);
        u.write(reg::IER, IER_ETBEI);
        assert_eq!(u.read(reg::IIR_FCR), IIR_THRE);
        // Every THR write empties at once: THRE pending again (the driver's TX loop goes on).
        assert_eq!(u.write(reg::DATA, b'z'), Some(b'z'));
        assert!(u.irq_level());
        u.write(reg::IER, 0);
        assert!(!u.irq_level(), "clearing ETBEI drops it");
        u.write(reg::IER, IER_ETBEI | IER_ERBFI);
        u.push_rx(7);
        assert_eq!(u.read(reg::IIR_FCR), IIR_RDA, "RX data outranks THRE");
        assert_eq!(u.read(reg::DATA), 7);
        assert_eq!(u.read(reg::IIR_FCR), IIR_THRE, "THRE still pending after RX was served");
    }

    #[test]
    fn dlab_divisor_latch_does_not_disturb_data() {
        let mut u = uart_with_fifo();
        u.write(reg::IER, IER_ERBFI);
        u.push_rx(b'k');
        u.write(reg::LCR, LCR_DLAB | 0x03);
        assert_eq!(u.write(reg::DATA, 0x0C), None, "DLL, not THR");
        u.write(reg::IER, 0x00);
        assert_eq!(u.divisor(), 12);
        assert_eq!(u.read(reg::DATA), 0x0C, "reads DLL, does not pop RBR");
        assert_eq!(u.read(reg::IER), 0x00);
        u.write(reg::LCR, 0x03);
        assert_eq!(u.read(reg::IER), IER_ERBFI, "IER untouched by the DLM write");
        assert_eq!(u.read(reg::DATA), b'k');
        assert_eq!(u.read(reg::LCR), 0x03);
    }

    #[test]
    fn fcr_clears_and_disables_fifo() {
        let mut u = uart_with_fifo();
        u.push_rx(1);
        u.push_rx(2);
        u.write(reg::IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
        assert_eq!(u.rx_len(), 0);
        u.push_rx(3);
        u.write(reg::IIR_FCR, 0);
        assert_eq!((u.rx_len(), u.read(reg::IIR_FCR)), (0, IIR_NONE), "disabling the FIFO clears it");
    }

    #[test]
    fn loopback_wires_tx_to_rx_and_mcr_to_msr() {
        let mut u = uart_with_fifo();
        assert_eq!(u.read(reg::MSR), MSR_DCD | MSR_DSR | MSR_CTS);
        u.write(reg::MCR, MCR_LOOP);
        assert_eq!(u.rx_room(), 0, "host input is disconnected in loopback");
        assert_eq!(u.read(reg::MSR) & 0xF0, 0);
        u.write(reg::IER, IER_EDSSI);
        u.write(reg::MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
        assert_eq!(u.read(reg::IIR_FCR) & 0x0F, 0x00, "modem status interrupt");
        assert_eq!(u.read(reg::MSR), MSR_CTS | MSR_DCD | 0x01 | 0x08);
        assert!(!u.irq_level(), "reading MSR clears the deltas");
        assert_eq!(u.write(reg::DATA, 0x5A), None, "loopback: nothing transmitted");
        assert_eq!(u.read(reg::DATA), 0x5A);
        for i in 0..=FIFO_SIZE {
            u.write(reg::DATA, i as u8);
        }
        assert_eq!(u.read(reg::LSR) & LSR_OE, LSR_OE);
        assert_eq!(u.read(reg::LSR) & LSR_OE, 0, "OE clears on read");
    }

    #[test]
    fn scratch_and_unknown_offsets() {
        let mut u = Uart::new();
        u.write(reg::SCR, 0xA5);
        assert_eq!(u.read(reg::SCR), 0xA5);
        u.write(reg::LSR, 0);
        assert_eq!(u.read(reg::LSR), LSR_THRE | LSR_TEMT);
        assert_eq!(u.read(200), 0);
        assert_eq!(u.write(200, 1), None);
    }
}
