//! The device tree: a pure function of the validated machine.
//!
//! ```text
//! /            #address-cells = 2, #size-cells = 2, compatible, model
//! ├── chosen   bootargs, stdout-path, linux,initrd-start/end (exactly when an initrd is loaded)
//! ├── cpus     timebase-frequency; cpu@N { riscv,isa*, mmu-type, interrupt-controller }
//! ├── memory@  device_type = "memory", reg
//! └── soc      simple-bus; one node per device, sorted by address
//! ```

pub mod dts;

use semu_api::FdtCtx;
use vm_fdt::{Error, FdtWriter};

use crate::config::{BootModeKind, Validated};

/// Phandle of hart `n`'s local interrupt controller.
pub fn cpu_intc_phandle(n: usize) -> u32 {
    1 + n as u32
}

/// Phandle of device `i` (in address order) when it is an interrupt controller.
fn device_phandle(m: &Validated, i: usize) -> u32 {
    1 + m.harts as u32 + i as u32
}

/// Node name of device `i`: `<fdt_name>@<base in hex>`.
fn node_name(m: &Validated, i: usize) -> String {
    let d = &m.devices[i];
    format!("{}@{:x}", d.kind.fdt_name, d.spec.base)
}

/// Builds the flattened device tree blob of `m`.
pub fn build(m: &Validated) -> Result<Vec<u8>, Error> {
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string_list("compatible", vec!["semu,machine".into()])?;
    fdt.property_string("model", &format!("semu {}", m.name))?;
    chosen(&mut fdt, m)?;
    cpus(&mut fdt, m)?;
    memory(&mut fdt, m)?;
    soc(&mut fdt, m)?;
    fdt.end_node(root)?;
    fdt.finish()
}

fn chosen(fdt: &mut FdtWriter, m: &Validated) -> Result<(), Error> {
    let n = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &m.boot.bootargs)?;
    if let Some(c) = m.boot.console {
        fdt.property_string("stdout-path", &format!("/soc/{}", node_name(m, c)))?;
    }
    if m.boot.mode == BootModeKind::Linux {
        if let Some((start, size)) = m.boot.layout.initrd {
            fdt.property_u64("linux,initrd-start", start)?;
            fdt.property_u64("linux,initrd-end", start + size)?;
        }
    }
    fdt.end_node(n)
}

fn cpus(fdt: &mut FdtWriter, m: &Validated) -> Result<(), Error> {
    let n = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", m.timebase_frequency as u32)?;
    let isa = m.isa.canonical();
    let extensions: Vec<String> = m.isa.extensions.iter().map(|e| e.to_string()).collect();
    for h in 0..m.harts {
        let cpu = fdt.begin_node(&format!("cpu@{h}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_u32("reg", h as u32)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", &isa)?;
        fdt.property_string("riscv,isa-base", "rv32i")?;
        fdt.property_string_list("riscv,isa-extensions", extensions.clone())?;
        fdt.property_string("mmu-type", "riscv,sv32")?;
        let intc = fdt.begin_node("interrupt-controller")?;
        fdt.property_u32("#address-cells", 0)?;
        fdt.property_u32("#interrupt-cells", 1)?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_string("compatible", "riscv,cpu-intc")?;
        fdt.property_phandle(cpu_intc_phandle(h))?;
        fdt.end_node(intc)?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(n)
}

fn memory(fdt: &mut FdtWriter, m: &Validated) -> Result<(), Error> {
    let n = fdt.begin_node(&format!("memory@{:x}", m.ram_base))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[m.ram_base, m.ram_size])?;
    fdt.end_node(n)
}

fn soc(fdt: &mut FdtWriter, m: &Validated) -> Result<(), Error> {
    let n = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;
    let cpu_intc: Vec<u32> = (0..m.harts).map(cpu_intc_phandle).collect();
    // `m.devices` is sorted by address, so nodes are too.
    for (i, d) in m.devices.iter().enumerate() {
        let node = fdt.begin_node(&node_name(m, i))?;
        fdt.property_array_u64("reg", &[d.spec.base, d.spec.size])?;
        if let (Some(parent), Some(irq)) = (d.parent, d.spec.irq) {
            fdt.property_u32("interrupt-parent", device_phandle(m, parent))?;
            fdt.property_u32("interrupts", irq)?;
        }
        if d.kind.irq_controller.is_some() {
            fdt.property_phandle(device_phandle(m, i))?;
        }
        (d.kind.fdt)(&d.spec, &mut FdtCtx { fdt, cpu_intc: &cpu_intc })?;
        fdt.end_node(node)?;
    }
    fdt.end_node(n)
}
