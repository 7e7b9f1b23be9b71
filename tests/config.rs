//! Machine files: the registry holds every plugin, and broken machine files give one clear error
//! naming the file, the line, the instance and the field.

mod common_machine;

use common_machine::{Scratch, GOOD};

#[test]
fn registry_holds_every_plugin() {
    // A plugin crate the linker dropped would be missing here.
    assert_eq!(
        semu::registry::names(),
        [
            "aclint",
            "clint",
            "plic",
            "pvpanic",
            "uart8250",
            "virtio-blk",
            "virtio-fs",
            "virtio-input",
            "virtio-net",
            "virtio-rng"
        ]
    );
}

/// Every kind's example (`semu devices`, the docs) is a working `[[device]]` table: put into a
/// machine with what it needs (an interrupt controller for a device with an interrupt, the image a
/// disk names), it loads and validates, and the kind's own check accepts the placed instance.
#[test]
fn every_example_parses_and_checks() {
    let kinds = semu::registry::kinds();
    let controller = kinds.iter().find(|k| k.irq_controller.is_some()).expect("an interrupt controller kind");
    for k in &kinds {
        assert!(!k.summary.is_empty(), "{}", k.kind);
        let doc: toml::Table = toml::from_str(k.example).unwrap_or_else(|e| panic!("{}: example: {e}", k.kind));
        let tables = doc.get("device").and_then(|d| d.as_array()).map_or(0, Vec::len);
        assert_eq!((doc.len(), tables), (1, 1), "{}: the example is one [[device]] table", k.kind);
        let table = doc["device"][0].as_table().unwrap();
        assert_eq!(table.get("kind").and_then(|v| v.as_str()), Some(k.kind), "{}: example names its kind", k.kind);
        let name =
            table.get("name").and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{}: example has a name", k.kind));

        let s = Scratch::new(&format!("example-{}", k.kind));
        let mut text =
            "[memory]\nbase = 0x0\nsize = \"64MiB\"\n\n[boot]\nkernel = \"Image\"\ninitrd = \"initrd.cpio\"\n\n"
                .to_string();
        if k.resources.irqs > 0 {
            text += &format!("[[device]]\nname = \"example-intc\"\nkind = \"{}\"\n\n", controller.kind);
        }
        text += k.example;
        if let Some(block) = k.block {
            let image = table.get(block.image_option).and_then(|v| v.as_str());
            let image = image.unwrap_or_else(|| panic!("{}: example names its image", k.kind));
            let _ = std::fs::remove_file(s.path(image));
            let e = s.validate(&text).expect_err("the image is missing");
            assert_eq!((e.field.as_deref(), e.instance.as_deref()), (Some(block.image_option), Some(name)), "{e}");
            std::fs::write(s.path(image), vec![0; 1 << 20]).unwrap();
        }
        if let Some(dir) = table.get("path").and_then(|v| v.as_str()) {
            // A shared directory (virtio-fs): missing, it is an error about `path`.
            let e = s.validate(&text).expect_err("the directory is missing");
            assert_eq!((e.field.as_deref(), e.instance.as_deref()), (Some("path"), Some(name)), "{e}");
            std::fs::create_dir_all(s.path(dir)).unwrap();
        }
        let v = s.validate(&text).unwrap_or_else(|e| panic!("{}: example in a machine: {e}\n{text}", k.kind));
        let placed: Vec<_> = v.devices.iter().filter(|d| d.spec.kind == k.kind).collect();
        assert_eq!(placed.len(), 1, "{}", k.kind);
        assert_eq!(placed[0].spec.name, name);
        assert_eq!(placed[0].spec.irq.is_some(), k.resources.irqs > 0, "{}: interrupt allocated", k.kind);
        (k.check)(&placed[0].spec).unwrap_or_else(|e| panic!("{}: check of the example: {e}", k.kind));
    }
}

#[test]
fn good_machine_validates_and_places_devices() {
    let s = Scratch::new("good");
    let v = s.validate(GOOD).unwrap();
    let placed: Vec<(&str, u64, Option<u32>)> =
        v.devices.iter().map(|d| (d.spec.name.as_str(), d.spec.base, d.spec.irq)).collect();
    // Sorted by address, all above 0xF000_0000, aligned to their size, irqs numbered from 1.
    let mut sorted = placed.clone();
    sorted.sort_by_key(|p| p.1);
    assert_eq!(placed, sorted);
    for d in &v.devices {
        assert!(d.spec.base >= 0xF000_0000, "{}: {:#x}", d.spec.name, d.spec.base);
        assert_eq!(d.spec.base % d.spec.size.max(4096), 0, "{}", d.spec.name);
    }
    let irq = |n: &str| placed.iter().find(|p| p.0 == n).unwrap().2;
    assert_eq!((irq("plic0"), irq("aclint0")), (None, None));
    let mut irqs: Vec<u32> = ["uart0", "rng0", "disk0"].iter().map(|n| irq(n).unwrap()).collect();
    irqs.sort();
    assert_eq!(irqs, [1, 2, 3]);
    assert_eq!(v.boot.bootargs, "console=ttyS0 root=/dev/vda rw rootwait panic=1");
}

#[test]
fn command_line_overrides_the_file() {
    let s = Scratch::new("override");
    let ov = semu::config::Overrides {
        harts: Some(4),
        memory: Some(semu::config::Size(128 << 20)),
        append: Some("quiet".into()),
        disk: Some(s.path("disk2.img")),
        ..Default::default()
    };
    let v = s.validate_with(GOOD, &ov).unwrap();
    assert_eq!((v.harts, v.ram_size), (4, 128 << 20));
    assert!(v.boot.bootargs.ends_with(" quiet"), "{}", v.boot.bootargs);
    let disk = v.devices.iter().find(|d| d.spec.name == "disk0").unwrap();
    #[derive(serde::Deserialize)]
    struct Img {
        image: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Loose {
        #[serde(flatten)]
        img: Img,
        #[serde(flatten)]
        _rest: std::collections::BTreeMap<String, toml::Value>,
    }
    let got: Loose = disk.spec.params.parse().unwrap();
    assert_eq!(got.img.image, s.path("disk2.img").display().to_string());
}

#[test]
fn snapshot_on_the_command_line_sets_snapshot_on_every_disk() {
    let s = Scratch::new("snapshot");
    let text = GOOD.to_string()
        + "\n[[device]]\nname = \"disk1\"\nkind = \"virtio-blk\"\nimage = \"disk2.img\"\nread-only = true\n";
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Blk {
        #[serde(default)]
        snapshot: bool,
        #[serde(default)]
        read_only: bool,
        #[serde(flatten)]
        _rest: std::collections::BTreeMap<String, toml::Value>,
    }
    let flags = |v: &semu::config::Validated| -> Vec<(String, bool, bool)> {
        v.devices
            .iter()
            .filter(|d| d.spec.kind == "virtio-blk")
            .map(|d| {
                let b: Blk = d.spec.params.parse().unwrap();
                (d.spec.name.clone(), b.snapshot, b.read_only)
            })
            .collect()
    };
    let v = s.validate(&text).unwrap();
    assert_eq!(flags(&v), [("disk0".into(), false, false), ("disk1".into(), false, true)]);
    let ov = semu::config::Overrides { snapshot: true, ..Default::default() };
    let v = s.validate_with(&text, &ov).unwrap();
    assert_eq!(flags(&v), [("disk0".into(), true, false), ("disk1".into(), true, true)]);
    assert_eq!(v.boot.bootargs, "console=ttyS0 root=/dev/vda rw rootwait panic=1", "a snapshot root stays rw");
    // Other devices get nothing (an unknown option would fail their check).
    let rng = v.devices.iter().find(|d| d.spec.name == "rng0").unwrap();
    (rng.kind.check)(&rng.spec).unwrap();
    // `snapshot = false` in the file is overridden too.
    let off = text.replacen("image = \"disk.img\"", "image = \"disk.img\"\nsnapshot = false", 1);
    assert_eq!(flags(&s.validate_with(&off, &ov).unwrap())[0], ("disk0".into(), true, false));
}

/// Replaces the first occurrence of `from` in the good machine.
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} not in GOOD");
    GOOD.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
}

struct Case {
    what: &'static str,
    text: String,
    /// The line the error must name: the line containing this text (None: no line).
    at: Option<&'static str>,
    instance: Option<&'static str>,
    field: Option<&'static str>,
    says: &'static str,
}

fn case(
    what: &'static str,
    text: String,
    at: Option<&'static str>,
    instance: Option<&'static str>,
    field: Option<&'static str>,
    says: &'static str,
) -> Case {
    Case { what, text, at, instance, field, says }
}

fn broken_cases() -> Vec<Case> {
    let dev = |extra: &str| format!("{GOOD}\n{extra}");
    vec![
        case("toml syntax", edit("[memory]", "[memory"), Some("[memory"), None, None, "unclosed table"),
        case(
            "wrong type",
            edit("size = \"64MiB\"", "size = true"),
            Some("size = true"),
            None,
            Some("memory.size"),
            "size",
        ),
        case("unknown top-level table", dev("[cpux]\nharts = 2"), Some("[cpux]"), None, None, "unknown field `cpux`"),
        case(
            "unknown memory field",
            edit("size = \"64MiB\"", "size = \"64MiB\"\nsise = 3"),
            Some("sise"),
            None,
            Some("memory.sise"),
            "unknown field `sise`",
        ),
        case("bad size unit", edit("\"64MiB\"", "\"64 parsecs\""), Some("parsecs"), None, Some("memory.size"), "unit"),
        case(
            "memory too small",
            edit("\"64MiB\"", "\"512KiB\""),
            Some("512KiB"),
            None,
            Some("memory.size"),
            "too small",
        ),
        case(
            "RAM beyond 4 GiB",
            edit("base = 0x0\nsize = \"64MiB\"", "base = 0xF000_0000\nsize = \"1GiB\""),
            Some("1GiB"),
            None,
            Some("memory.size"),
            "32-bit address space",
        ),
        case("zero harts", dev("[cpu]\nharts = 0"), Some("harts = 0"), None, Some("cpu.harts"), "1 to 32"),
        case("too many harts", dev("[cpu]\nharts = 64"), Some("harts = 64"), None, Some("cpu.harts"), "1 to 32"),
        case(
            "compressed ISA",
            dev("[cpu]\nisa = \"rv32imac\""),
            Some("rv32imac"),
            None,
            Some("cpu.isa"),
            "extension \"c\" is not implemented",
        ),
        case("64-bit ISA", dev("[cpu]\nisa = \"rv64ima\""), Some("rv64ima"), None, Some("cpu.isa"), "not an RV32"),
        case(
            "bad granule",
            dev("[cpu.amo]\nreservation-granule = 3"),
            Some("granule = 3"),
            None,
            Some("cpu.amo.reservation-granule"),
            "power of two",
        ),
        case(
            "bad misaligned option",
            dev("[cpu.amo]\nmisaligned = \"sometimes\""),
            Some("sometimes"),
            None,
            Some("cpu.amo.misaligned"),
            "sometimes",
        ),
        case(
            "unknown kind",
            edit("kind = \"plic\"", "kind = \"plic9000\""),
            Some("plic9000"),
            Some("plic0"),
            Some("kind"),
            "unknown device kind \"plic9000\"; known kinds: aclint",
        ),
        case(
            "duplicate name",
            edit("name = \"rng0\"", "name = \"uart0\""),
            None,
            Some("uart0"),
            Some("name"),
            "duplicate device name \"uart0\"",
        ),
        case(
            "overlapping devices",
            edit("name = \"uart0\"\nkind = \"uart8250\"", "name = \"uart0\"\nkind = \"uart8250\"\nbase = 0x1000_0000")
                .replacen(
                    "name = \"rng0\"\nkind = \"virtio-rng\"",
                    "name = \"rng0\"\nkind = \"virtio-rng\"\nbase = 0x1000_0000",
                    1,
                ),
            None,
            Some("rng0"),
            Some("base"),
            "overlaps device \"uart0\"",
        ),
        case(
            "device over RAM",
            edit("kind = \"uart8250\"", "kind = \"uart8250\"\nbase = 0x100_0000"),
            Some("base = 0x100_0000"),
            Some("uart0"),
            Some("base"),
            "overlaps RAM",
        ),
        case(
            "outside the address space",
            edit("kind = \"plic\"", "kind = \"plic\"\nbase = 0xFFFF_0000"),
            Some("0xFFFF_0000"),
            Some("plic0"),
            Some("base"),
            "beyond the 32-bit physical address space",
        ),
        case(
            "misaligned base",
            edit("kind = \"uart8250\"", "kind = \"uart8250\"\nbase = 0x1000_0002"),
            Some("0x1000_0002"),
            Some("uart0"),
            Some("base"),
            "not 4-byte aligned",
        ),
        case(
            "irq clash",
            edit("kind = \"uart8250\"", "kind = \"uart8250\"\nirq = 3").replacen(
                "kind = \"virtio-rng\"",
                "kind = \"virtio-rng\"\nirq = 3",
                1,
            ),
            None,
            None,
            Some("irq"),
            "already used by",
        ),
        case(
            "irq out of range",
            edit("kind = \"uart8250\"", "kind = \"uart8250\"\nirq = 5000"),
            Some("irq = 5000"),
            Some("uart0"),
            Some("irq"),
            "out of range",
        ),
        case(
            "irq on a device without one",
            edit("kind = \"aclint\"", "kind = \"aclint\"\nirq = 4"),
            Some("irq = 4"),
            Some("aclint0"),
            Some("irq"),
            "has no interrupt",
        ),
        case(
            "irq-parent not a controller",
            edit("kind = \"virtio-rng\"", "kind = \"virtio-rng\"\nirq-parent = \"uart0\""),
            Some("irq-parent"),
            Some("rng0"),
            Some("irq-parent"),
            "not an interrupt controller",
        ),
        case(
            "no interrupt controller",
            edit("name = \"plic0\"\nkind = \"plic\"", "name = \"clint1\"\nkind = \"clint\""),
            None,
            Some("uart0"),
            Some("irq"),
            "needs an interrupt controller",
        ),
        case(
            "root on a missing device",
            edit("root = \"disk0\"", "root = \"disk9\""),
            Some("disk9"),
            None,
            Some("boot.root"),
            "root device \"disk9\" is not in this machine",
        ),
        case(
            "root not a disk",
            edit("root = \"disk0\"", "root = \"uart0\""),
            Some("root = \"uart0\""),
            None,
            Some("boot.root"),
            "not a disk",
        ),
        case("nothing to boot", edit("root = \"disk0\"\n", ""), None, None, Some("boot.root"), "nothing to boot from"),
        case(
            "unknown device option",
            edit("kind = \"uart8250\"", "kind = \"uart8250\"\nbaud = 9600"),
            Some("baud"),
            Some("uart0"),
            Some("baud"),
            "unknown field `baud`",
        ),
        case(
            "wrong option type",
            edit("image = \"disk.img\"", "image = \"disk.img\"\nread-only = \"yes\""),
            Some("read-only"),
            Some("disk0"),
            Some("read-only"),
            "invalid type",
        ),
        case(
            "missing disk image",
            edit("image = \"disk.img\"", "image = \"nope.img\""),
            Some("nope.img"),
            Some("disk0"),
            Some("image"),
            "nope.img",
        ),
        case(
            "missing kernel",
            edit("kernel = \"Image\"", "kernel = \"vmlinuz-missing\""),
            Some("vmlinuz-missing"),
            None,
            Some("boot.kernel"),
            "vmlinuz-missing",
        ),
        case(
            "RAM too small for the kernel",
            edit("\"64MiB\"", "\"2MiB\""),
            Some("2MiB"),
            None,
            Some("memory.size"),
            "RAM is too small",
        ),
        case(
            "bad device name",
            edit("name = \"rng0\"", "name = \"rng 0\""),
            Some("rng 0"),
            None,
            Some("name"),
            "letters, digits",
        ),
        case(
            "console not a console",
            edit("root = \"disk0\"", "root = \"disk0\"\nconsole = \"rng0\""),
            Some("console = "),
            None,
            Some("boot.console"),
            "cannot be a console",
        ),
        case(
            "linux RAM misaligned",
            edit("base = 0x0\n", "base = 0x10_0000\n"),
            Some("base = 0x10_0000"),
            None,
            Some("memory.base"),
            "4 MiB",
        ),
    ]
}

#[test]
fn broken_machine_files_give_clear_errors() {
    let s = Scratch::new("broken");
    let cases = broken_cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for c in &cases {
        let err = match s.validate(&c.text) {
            Ok(_) => {
                failures.push(format!("{}: validated, expected an error", c.what));
                continue;
            }
            Err(e) => e,
        };
        let msg = err.to_string();
        let mut problems = Vec::new();
        if !msg.starts_with(&s.path("m.toml").display().to_string()) {
            problems.push("does not start with the file name".to_string());
        }
        if let Some(at) = c.at {
            let want = line_of(&c.text, at);
            if err.line != Some(want) {
                problems.push(format!("line {:?}, want {want}", err.line));
            }
        }
        if let Some(i) = c.instance {
            if err.instance.as_deref() != Some(i) || !msg.contains(&format!("device \"{i}\"")) {
                problems.push(format!("instance {:?}, want {i}", err.instance));
            }
        }
        if let Some(f) = c.field {
            if err.field.as_deref() != Some(f) {
                problems.push(format!("field {:?}, want {f}", err.field));
            }
        }
        if !msg.contains(c.says) {
            problems.push(format!("message lacks {:?}", c.says));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {msg}\n    {}", c.what, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn share_on_the_command_line_adds_virtio_fs_devices() {
    use semu::config::{Overrides, Share};
    assert_eq!(Share::parse("docs").unwrap(), Share { dir: "docs".into(), tag: None });
    assert_eq!(Share::parse("a/b:src").unwrap(), Share { dir: "a/b".into(), tag: Some("src".into()) });
    assert_eq!(Share::parse("/x:y/z").unwrap(), Share { dir: "/x:y/z".into(), tag: None }, "a tag has no '/'");
    assert!(Share::parse(":tag").is_err());

    let s = Scratch::new("share");
    std::fs::create_dir_all(s.path("one")).unwrap();
    std::fs::create_dir_all(s.path("two")).unwrap();
    // The file already has a "share0": the shares take the next free names.
    let text = GOOD.to_string() + "\n[[device]]\nname = \"share0\"\nkind = \"virtio-rng\"\n";
    let ov = Overrides {
        shares: vec![Share::parse(s.path("one").to_str().unwrap()).unwrap(), Share { dir: s.path("two"), tag: None }],
        ..Default::default()
    };
    let v = s.validate_with(&text, &ov).unwrap();
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Fs {
        path: std::path::PathBuf,
        tag: String,
    }
    let fs: Vec<(String, Fs)> = v
        .devices
        .iter()
        .filter(|d| d.spec.kind == "virtio-fs")
        .map(|d| {
            (d.kind.check)(&d.spec).unwrap();
            (d.spec.name.clone(), d.spec.params.parse().unwrap())
        })
        .collect();
    let got: Vec<_> = fs.iter().map(|(n, f)| (n.as_str(), f.path.clone(), f.tag.as_str())).collect();
    assert_eq!(got, [("share1", s.path("one"), "share"), ("share2", s.path("two"), "share1")]);
    assert!(v.devices.iter().filter(|d| d.spec.kind == "virtio-fs").all(|d| d.spec.irq.is_some()));

    // Mistakes name the option.
    let bad = |share: Share| s.validate_with(GOOD, &Overrides { shares: vec![share], ..Default::default() });
    let e = bad(Share { dir: s.path("missing"), tag: None }).unwrap_err();
    assert_eq!((e.option, e.field.as_deref(), e.instance.as_deref()), (Some("--share"), Some("path"), Some("share0")));
    assert!(e.to_string().contains("missing") && e.to_string().contains("--share"), "{e}");
    let e = bad(Share { dir: s.path("disk.img"), tag: None }).unwrap_err();
    assert!(e.to_string().contains("is not a directory"), "{e}");
    let e = bad(Share { dir: s.path("one"), tag: Some("x".repeat(37)) }).unwrap_err();
    assert_eq!((e.option, e.field.as_deref()), (Some("--share"), Some("tag")), "{e}");
    assert!(e.to_string().contains("36"), "{e}");
    let e = bad(Share { dir: s.path("one"), tag: Some("two words".into()) }).unwrap_err();
    assert!(e.to_string().contains("no spaces"), "{e}");
}

#[test]
fn a_virtio_fs_device_in_the_file_is_checked() {
    let s = Scratch::new("fs-file");
    std::fs::create_dir_all(s.path("shared")).unwrap();
    let dev = |more: &str| GOOD.to_string() + "\n[[device]]\nname = \"fs0\"\nkind = \"virtio-fs\"\n" + more;
    s.validate(&dev("path = \"shared\"\ntag = \"share\"\nread-only = true\n")).unwrap();
    let text = dev("path = \"shared\"\n");
    let e = s.validate(&text).unwrap_err();
    assert_eq!((e.field.as_deref(), e.instance.as_deref()), (Some("tag"), Some("fs0")), "{e}");
    let text = dev("path = \"nowhere\"\ntag = \"t\"\n");
    let e = s.validate(&text).unwrap_err();
    assert_eq!((e.field.as_deref(), e.line), (Some("path"), Some(line_of(&text, "nowhere"))), "{e}");
    assert!(e.to_string().contains(&s.path("nowhere").display().to_string()), "relative to the file: {e}");
    let text = dev("path = \"shared\"\ntag = \"\"\n");
    let e = s.validate(&text).unwrap_err();
    assert_eq!((e.field.as_deref(), e.line), (Some("tag"), Some(line_of(&text, "tag = \"\""))), "{e}");
}
