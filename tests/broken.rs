//! The corpus of broken machine files in `tests/broken/`: each file's first line says the one
//! error it must give,
//!
//! ```text
//! # expect: line 7, device "disk0", field "image", "odd.img is 1000 bytes"
//! ```
//!
//! (`no line` when the error has no place in the file; `device` only for errors about one device
//! instance; the quoted text, in '…' or "…", must appear in the message). Each file is checked
//! through the library (file, line, instance and field of the `ConfigError`) and through
//! `semu validate`, which must print exactly one `semu: error:` line per file, naming file and line, and
//! exit 1. The corpus ships the tiny stand-in files it refers to (`Image`, `big.Image` whose
//! header claims 64 MiB, `disk.img`, `odd.img`, `initrd.cpio`, `prog.elf`, `low.elf`).

use std::path::{Path, PathBuf};
use std::process::Command;

use semu::config::{self, Overrides};
use semu_api::SourceFile;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken")
}

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[derive(Debug, Default)]
struct Expect {
    line: Option<u32>,
    instance: Option<String>,
    field: Option<String>,
    says: Vec<String>,
}

/// Splits `a, "b, c", d` at the commas outside quotes.
fn items(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), String::new(), None);
    for c in s.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (',', None) => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    s.strip_prefix(q)?.strip_suffix(q)
}

fn expectation(path: &Path, text: &str) -> Expect {
    let head = text.lines().next().unwrap_or("");
    let spec = head
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("{}: first line is not `# expect: ...`", path.display()));
    let mut e = Expect::default();
    for item in items(spec) {
        if item == "no line" {
            continue;
        } else if let Some(n) = item.strip_prefix("line ") {
            e.line = Some(n.trim().parse().unwrap_or_else(|_| panic!("{}: bad line in {item:?}", path.display())));
        } else if let Some(d) = item.strip_prefix("device ") {
            e.instance = unquote(d).map(str::to_string);
        } else if let Some(f) = item.strip_prefix("field ") {
            e.field = unquote(f).map(str::to_string);
        } else if let Some(t) = unquote(&item) {
            e.says.push(t.to_string());
        } else {
            panic!("{}: cannot read {item:?} in the expect line", path.display());
        }
    }
    assert!(!e.says.is_empty(), "{}: the expect line names no message text", path.display());
    e
}

#[test]
fn the_corpus_covers_the_issue_list() {
    let names: Vec<String> = corpus().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.len() >= 50, "{} files", names.len());
    for prefix in [
        "syntax-",
        "type-",
        "overlap-",
        "missing-",
        "ram-too-small-for-kernel",
        "isa-",
        "unknown-kind",
        "unknown-device-field",
        "unknown-memory-field",
        "root-missing-device",
        "harts-too-many",
    ] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "no file for {prefix}");
    }
}

#[test]
fn the_stand_ins_make_a_good_machine() {
    // The corpus files are this machine with one thing broken: without the defect it validates.
    let text = "[memory]\nsize = \"64MiB\"\n\n[boot]\nkernel = \"Image\"\nroot = \"disk0\"\n\n[[device]]\nname = \"uart0\"\nkind = \"uart8250\"\n\n[[device]]\nname = \"plic0\"\nkind = \"plic\"\n\n[[device]]\nname = \"disk0\"\nkind = \"virtio-blk\"\nimage = \"disk.img\"\n";
    let file = SourceFile::new(corpus_dir().join("good.toml"), text);
    let v = config::validate(&file, config::parse(&file).unwrap(), &Overrides::default()).unwrap();
    assert_eq!(v.devices.len(), 3);
    let bare = text.replace(
        "kernel = \"Image\"\nroot = \"disk0\"",
        "mode = \"bare-metal\"\nkernel = \"prog.elf\"\ntohost = 0x8000_1000",
    );
    let file = SourceFile::new(corpus_dir().join("good.toml"), bare);
    config::validate(&file, config::parse(&file).unwrap(), &Overrides::default()).unwrap();
}

#[test]
fn each_broken_file_gives_its_one_error() {
    let mut failures = Vec::new();
    let files = corpus();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let want = expectation(path, &text);
        let err = match config::load(path, &Overrides::default()) {
            Ok(_) => {
                failures.push(format!("{}: validated, expected an error", path.display()));
                continue;
            }
            Err(e) => e,
        };
        let shown = err.to_string();
        let mut problems = Vec::new();
        if err.file != *path || !shown.starts_with(&path.display().to_string()) {
            problems.push("does not name the file".to_string());
        }
        if err.line != want.line {
            problems.push(format!("line {:?}, want {:?}", err.line, want.line));
        }
        if err.instance != want.instance {
            problems.push(format!("device {:?}, want {:?}", err.instance, want.instance));
        }
        if err.field != want.field {
            problems.push(format!("field {:?}, want {:?}", err.field, want.field));
        }
        for s in &want.says {
            if !err.message.contains(s.as_str()) {
                problems.push(format!("message lacks {s:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {shown}\n    {}", path.display(), problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} files wrong:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn semu_validate_prints_one_error_per_file() {
    let files = corpus();
    let out = Command::new(env!("CARGO_BIN_EXE_semu")).arg("validate").args(&files).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "exit status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("semu: error: ")).collect();
    assert_eq!(errors.len(), files.len(), "one error line per file:\n{stderr}");
    for (path, line) in files.iter().zip(&errors) {
        let text = std::fs::read_to_string(path).unwrap();
        let want = expectation(path, &text);
        let at = match want.line {
            Some(n) => format!("semu: error: {}:{n}: ", path.display()),
            None => format!("semu: error: {}: ", path.display()),
        };
        assert!(line.starts_with(&at), "{line}\n  should start with {at}");
        if let Some(f) = &want.field {
            assert!(line.contains(&format!("field \"{f}\"")), "{line}");
        }
    }
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty(), "no file is ok");
}
