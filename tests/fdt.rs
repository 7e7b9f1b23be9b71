//! The device tree is derived from the machine: parse the blob back and check it.

mod common_machine;

use common_machine::{Scratch, GOOD};
use semu::fdt::dts::{self, Node};

fn tree(text: &str, s: &Scratch) -> (semu::config::Validated, Node, Vec<u8>) {
    let v = s.validate(text).unwrap();
    let blob = semu::fdt::build(&v).unwrap();
    assert_eq!(semu::fdt::build(&v).unwrap(), blob, "the DTB is a pure function of the machine");
    let root = dts::parse(&blob).unwrap();
    (v, root, blob)
}

#[test]
fn cpus_memory_and_chosen() {
    let s = Scratch::new("fdt-cpus");
    let text = GOOD.replace("[boot]", "[cpu]\nharts = 3\ntimebase-frequency = 1_000_000\n\n[boot]");
    let (v, root, _) = tree(&text, &s);
    let cpus = root.find("/cpus").unwrap();
    assert_eq!(cpus.u32("timebase-frequency"), Some(1_000_000));
    let names: Vec<&str> = cpus.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cpu@0", "cpu@1", "cpu@2"]);
    for (i, cpu) in cpus.children.iter().enumerate() {
        assert_eq!(cpu.u32("reg"), Some(i as u32));
        assert_eq!(cpu.str("riscv,isa").as_deref(), Some("rv32ima_zicsr_zifencei_zicntr"));
        assert_eq!(cpu.str("riscv,isa-base").as_deref(), Some("rv32i"));
        assert_eq!(cpu.strs("riscv,isa-extensions").unwrap(), ["i", "m", "a", "zicsr", "zifencei", "zicntr"]);
        assert_eq!(cpu.str("mmu-type").as_deref(), Some("riscv,sv32"));
        let intc = cpu.find("interrupt-controller").unwrap();
        assert_eq!(intc.str("compatible").as_deref(), Some("riscv,cpu-intc"));
        assert_eq!(intc.u32("phandle"), Some(semu::fdt::cpu_intc_phandle(i)));
    }
    let mem = root.find("/memory@0").unwrap();
    assert_eq!(mem.u32s("reg").unwrap(), [0, 0, 0, 64 << 20]);
    let chosen = root.find("/chosen").unwrap();
    assert_eq!(chosen.str("bootargs").as_deref(), Some("console=ttyS0 root=/dev/vda rw rootwait panic=1"));
    let uart = v.devices.iter().find(|d| d.spec.name == "uart0").unwrap();
    assert_eq!(chosen.str("stdout-path"), Some(format!("/soc/serial@{:x}", uart.spec.base)));
    assert!(chosen.prop("linux,initrd-start").is_none(), "no initrd, no initrd properties");
}

#[test]
fn the_isa_string_is_what_the_harts_advertise() {
    let s = Scratch::new("fdt-isa");
    let text = GOOD.replace("[boot]", "[cpu]\nisa = \"RV32IA_Zicsr\"\n\n[boot]");
    let (v, root, _) = tree(&text, &s);
    let cpu = root.find("/cpus/cpu@0").unwrap();
    assert_eq!(cpu.str("riscv,isa").as_deref(), Some("rv32ia_zicsr"));
    assert_eq!(cpu.strs("riscv,isa-extensions").unwrap(), ["i", "a", "zicsr"]);
    // and the harts built from it lack what it leaves out (M, Zifencei, Zicntr)
    assert!(!v.isa.has("m") && !v.isa.has("zifencei") && !v.isa.has("zicntr"));
}

#[test]
fn soc_devices_sorted_with_interrupts() {
    let s = Scratch::new("fdt-soc");
    let (v, root, _) = tree(GOOD, &s);
    let soc = root.find("/soc").unwrap();
    assert_eq!(soc.str("compatible").as_deref(), Some("simple-bus"));
    let bases: Vec<u64> = soc
        .children
        .iter()
        .map(|c| {
            let r = c.u32s("reg").unwrap();
            (u64::from(r[0]) << 32) | u64::from(r[1])
        })
        .collect();
    let mut sorted = bases.clone();
    sorted.sort();
    assert_eq!(bases, sorted, "nodes sorted by address");
    assert_eq!(soc.children.len(), v.devices.len());
    let plic = soc
        .children
        .iter()
        .find(|c| c.name.starts_with("interrupt-controller@") || c.name.starts_with("plic@"))
        .unwrap();
    let plic_phandle = plic.u32("phandle").unwrap();
    assert!(plic.prop("interrupt-controller").is_some());
    // PLIC: (intc, 11) and (intc, 9) for the one hart.
    assert_eq!(plic.u32s("interrupts-extended").unwrap(), [1, 11, 1, 9]);
    for d in v.devices.iter().filter(|d| d.spec.irq.is_some()) {
        let node = soc.children.iter().find(|c| c.name.ends_with(&format!("@{:x}", d.spec.base))).unwrap();
        assert_eq!(node.u32("interrupt-parent"), Some(plic_phandle), "{}", d.spec.name);
        assert_eq!(node.u32("interrupts"), d.spec.irq, "{}", d.spec.name);
    }
    let virtio = soc.children.iter().filter(|c| c.str("compatible").as_deref() == Some("virtio,mmio")).count();
    assert_eq!(virtio, 2);
}

#[test]
fn initrd_properties_exactly_when_an_initrd_is_loaded() {
    let s = Scratch::new("fdt-initrd");
    let text = GOOD.replace("root = \"disk0\"", "initrd = \"initrd.cpio\"");
    let (v, root, _) = tree(&text, &s);
    let chosen = root.find("/chosen").unwrap();
    assert_eq!(chosen.str("bootargs").as_deref(), Some("console=ttyS0 panic=1"), "no root= for an initramfs boot");
    let start = chosen.u32s("linux,initrd-start").unwrap();
    let end = chosen.u32s("linux,initrd-end").unwrap();
    let (lstart, lsize) = v.boot.layout.initrd.unwrap();
    assert_eq!(start, [(lstart >> 32) as u32, lstart as u32]);
    assert_eq!(end, [((lstart + lsize) >> 32) as u32, (lstart + lsize) as u32]);
    assert_eq!(lsize, 1 << 20);
}

#[test]
fn root_on_the_second_disk_is_vdb_and_append_follows() {
    let s = Scratch::new("fdt-vdb");
    let text = GOOD.replace("root = \"disk0\"", "root = \"disk1\"\nappend = \"quiet loglevel=3\"")
        + "\n[[device]]\nname = \"disk1\"\nkind = \"virtio-blk\"\nimage = \"disk2.img\"\n";
    let (_, root, _) = tree(&text, &s);
    let chosen = root.find("/chosen").unwrap();
    assert_eq!(
        chosen.str("bootargs").as_deref(),
        Some("console=ttyS0 root=/dev/vdb rw rootwait panic=1 quiet loglevel=3")
    );
}

#[test]
fn a_read_only_root_disk_is_mounted_ro_and_a_snapshot_disk_rw() {
    let s = Scratch::new("fdt-ro");
    let bootargs = |text: &str| {
        let (v, root, _) = tree(text, &s);
        let chosen = root.find("/chosen").unwrap().str("bootargs").unwrap();
        assert_eq!(chosen, v.boot.bootargs, "the DTB carries the planned command line");
        chosen
    };
    let disk = "image = \"disk.img\"";
    assert_eq!(
        bootargs(&GOOD.replace(disk, &format!("{disk}\nread-only = true"))),
        "console=ttyS0 root=/dev/vda ro rootwait panic=1"
    );
    assert_eq!(
        bootargs(&GOOD.replace(disk, &format!("{disk}\nread-only = true\nsnapshot = true"))),
        "console=ttyS0 root=/dev/vda ro rootwait panic=1",
        "snapshot changes nothing on a read-only disk"
    );
    assert_eq!(
        bootargs(&GOOD.replace(disk, &format!("{disk}\nsnapshot = true"))),
        "console=ttyS0 root=/dev/vda rw rootwait panic=1"
    );
    assert_eq!(
        bootargs(&GOOD.replace(disk, &format!("{disk}\nread-only = false"))),
        "console=ttyS0 root=/dev/vda rw rootwait panic=1"
    );
    // Only the root disk's own flag counts: a read-only second disk leaves a writable root rw.
    let two = GOOD.replace("root = \"disk0\"", "root = \"disk1\"")
        + "\n[[device]]\nname = \"disk1\"\nkind = \"virtio-blk\"\nimage = \"disk2.img\"\nread-only = true\n";
    assert_eq!(bootargs(&two), "console=ttyS0 root=/dev/vdb ro rootwait panic=1");
    assert_eq!(bootargs(&two.replace("read-only = true", "")), "console=ttyS0 root=/dev/vdb rw rootwait panic=1");
    let ro_other = two.replace("root = \"disk1\"", "root = \"disk0\"");
    assert_eq!(bootargs(&ro_other), "console=ttyS0 root=/dev/vda rw rootwait panic=1");
}

#[test]
fn dtc_accepts_the_blob() {
    let s = Scratch::new("fdt-dtc");
    let (_, _, blob) = tree(GOOD, &s);
    let path = s.path("m.dtb");
    std::fs::write(&path, &blob).unwrap();
    let out = std::process::Command::new("dtc").args(["-I", "dtb", "-O", "dts"]).arg(&path).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            panic!("dtc is needed for this test (apt-get install device-tree-compiler; scripts/deps.sh does): {e}")
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dtc failed: {stderr}");
    assert!(!stderr.contains("Warning"), "dtc warns: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("riscv,sv32") && text.contains("bootargs"), "{text}");
}
