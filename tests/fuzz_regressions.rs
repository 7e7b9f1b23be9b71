//! The fuzz targets on stable Rust, in the normal suite: every input that ever made a target fail
//! (kept in `fuzz/regressions/<target>/`) is replayed, and each target runs on a few hundred
//! pseudo-random inputs and mutations of its seeds. The targets' code is `fuzz/src/` (see
//! `fuzz/README.md` for the long libFuzzer runs), compiled into this test with `#[path]`.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod semu_fuzz;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use semu_fuzz::bytes::Rng;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files in `dir`, sorted; a folder that is missing fails the test.
fn files(dir: &Path) -> Vec<PathBuf> {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut v: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

fn target(name: &str) -> fn(&[u8]) {
    semu_fuzz::TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).expect("a target of that name")
}

/// Runs `name` on `input`; a panic becomes an error naming `what`.
fn one(name: &str, what: &str, input: &[u8]) -> Result<(), String> {
    let run = target(name);
    catch_unwind(AssertUnwindSafe(|| run(input))).map_err(|e| {
        let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
        format!("{name}: {what}: {}", msg.unwrap_or_default())
    })
}

/// Replays every kept input of `name` (there must be at least one); returns how many there were.
fn replay(name: &str) -> usize {
    let dir = root().join("fuzz/regressions").join(name);
    let kept = files(&dir);
    assert!(!kept.is_empty(), "{}: no inputs to replay (every target keeps at least one)", dir.display());
    let failures: Vec<String> =
        kept.iter().filter_map(|p| one(name, &p.display().to_string(), &std::fs::read(p).unwrap()).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    kept.len()
}

/// A mutation of `seed`: a few bytes changed, a piece cut out or doubled.
fn mutate(rng: &mut Rng, seed: &[u8], printable: bool) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.next_u64() % 4 {
        let r = rng.next_u64();
        let at = if v.is_empty() { 0 } else { (r >> 8) as usize % v.len() };
        match r % 4 {
            0 if !v.is_empty() => {
                const TEXT: &[u8] = b" \n=\"[]._-0123456789abcxyz#";
                let b = (r >> 40) as u8;
                v[at] = if printable { TEXT[usize::from(b) % TEXT.len()] } else { b };
            }
            1 => {
                let end = (at + 1 + (r >> 32) as usize % 40).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let end = (at + 1 + (r >> 32) as usize % 40).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => v.extend(rng.bytes(4)),
        }
    }
    v
}

/// Runs `name` on `n` inputs: mutations of `seeds` and random bytes up to `max_len` long.
fn smoke(name: &str, seeds: &[Vec<u8>], n: usize, max_len: usize, printable: bool) {
    let mut rng = Rng(0x5eed ^ (name.len() as u64 * 0x9e37_79b9));
    let mut failures = Vec::new();
    for i in 0..n {
        let input = if !seeds.is_empty() && i % 4 != 3 {
            mutate(&mut rng, &seeds[i % seeds.len()], printable)
        } else {
            let len = (rng.next_u64() as usize) % max_len;
            rng.bytes(len)
        };
        if let Err(e) = one(name, &format!("smoke input {i}"), &input) {
            failures.push(format!("{e}\n  input: {input:?}"));
            if failures.len() > 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn read_all(dirs: &[&str]) -> Vec<Vec<u8>> {
    dirs.iter().flat_map(|d| files(&root().join(d))).map(|p| std::fs::read(p).unwrap()).collect()
}

/// Every target has its folder of kept inputs, with at least one input in it, and a test below.
#[test]
fn every_target_has_regression_inputs() {
    let tests = include_str!("fuzz_regressions.rs");
    for (name, _) in semu_fuzz::TARGETS {
        let dir = root().join("fuzz/regressions").join(name);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        assert!(!files(&dir).is_empty(), "{} holds no input", dir.display());
        assert!(tests.contains(&format!("replay(\"{name}\")")), "no test here replays {name}");
    }
    let folders: Vec<String> = std::fs::read_dir(root().join("fuzz/regressions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for f in folders {
        assert!(semu_fuzz::TARGETS.iter().any(|(n, _)| *n == f), "fuzz/regressions/{f} is no target's folder");
    }
}

#[test]
fn config_target_keeps_its_findings_fixed() {
    replay("config");
    let seeds = read_all(&["fuzz/seeds/config", "fuzz/regressions/config", "machines", "tests/broken"]);
    smoke("config", &seeds, 1500, 600, true);
}

#[test]
fn cpu_target_keeps_its_findings_fixed() {
    replay("cpu");
    smoke("cpu", &read_all(&["fuzz/regressions/cpu"]), 150, 4096, false);
}

#[test]
fn virtqueue_target_keeps_its_findings_fixed() {
    replay("virtqueue");
    smoke("virtqueue", &read_all(&["fuzz/regressions/virtqueue"]), 1500, 2048, false);
}

#[test]
fn virtio_blk_target_keeps_its_findings_fixed() {
    replay("virtio_blk");
    smoke("virtio_blk", &read_all(&["fuzz/regressions/virtio_blk"]), 500, 2048, false);
}

#[test]
fn virtio_net_target_keeps_its_findings_fixed() {
    replay("virtio_net");
    smoke("virtio_net", &read_all(&["fuzz/regressions/virtio_net"]), 500, 2048, false);
}

#[test]
fn virtio_rng_target_keeps_its_findings_fixed() {
    replay("virtio_rng");
    smoke("virtio_rng", &read_all(&["fuzz/regressions/virtio_rng"]), 500, 2048, false);
}

#[test]
fn virtio_fs_target_keeps_its_findings_fixed() {
    replay("virtio_fs");
    smoke("virtio_fs", &read_all(&["fuzz/regressions/virtio_fs"]), 500, 2048, false);
}
