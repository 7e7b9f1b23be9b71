//! ISA test programs run on semu's bare-metal machine.
//!
//! Each `#[test]` below builds one assembly program with Debian's
//! `riscv64-unknown-elf-gcc` (`-march=rv32ima_zicsr_zifencei -mabi=ilp32`,
//! linked at 0x8000_0000) and runs it with
//! `semu run machines/bare-metal.toml --kernel <elf>`. The program reports
//! through its HTIF `tohost` word: semu exits 0 when the guest writes 1 and
//! non-zero when it writes `(n << 1) | 1` (check `n` failed).
//!
//! Two sets of programs:
//! * `own_*`: the project's own tests, `tests/isa/*.S` (see
//!   `tests/isa/README.md`);
//! * `rv32ui_*`, `rv32um_*`, `rv32ua_*`, `rv32si_*`, `rv32mi_*`: upstream
//!   riscv-tests vendored under `tests/riscv-tests/` (physical-memory `p`
//!   environment; see `tests/riscv-tests/README.md`).
//!
//! The compiler is not optional: if it is missing the tests fail and say how
//! to install it (`apt-get install gcc-riscv64-unknown-elf`). Set
//! `SEMU_ISA_CC` to use another compiler binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Upper bound on guest instructions per program (the longest vendored
/// test, rv32ua-lrsc, needs well under a million).
const MAX_INSTRUCTIONS: u64 = 50_000_000;
/// Wall-clock limit per program, in case the instruction limit is not
/// honoured (or the guest waits in `wfi` forever).
const TIMEOUT: Duration = Duration::from_secs(120);

const MARCH: &str = "-march=rv32ima_zicsr_zifencei";
const MABI: &str = "-mabi=ilp32";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compiler() -> String {
    std::env::var("SEMU_ISA_CC").unwrap_or_else(|_| "riscv64-unknown-elf-gcc".to_string())
}

/// Checks once that the cross compiler runs; every test fails with the same
/// instructions otherwise (nothing is skipped silently).
fn check_compiler() -> Result<(), String> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let cc = compiler();
            match Command::new(&cc).arg("--version").output() {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => {
                    Err(format!("`{cc} --version` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)))
                }
                Err(e) => Err(format!(
                    "cannot run the RISC-V cross compiler `{cc}`: {e}.\n\
                     The ISA tests build their programs with Debian's bare-metal GCC; install it with\n\
                     \n    sudo apt-get install -y gcc-riscv64-unknown-elf\n\n\
                     (or point SEMU_ISA_CC at another riscv64-unknown-elf-gcc)."
                )),
            }
        })
        .clone()
}

/// Where built programs go: `<target>/tmp/isa/`.
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("isa");
    std::fs::create_dir_all(&dir).expect("create the ISA build directory");
    dir
}

/// The source file and the compiler arguments (include paths, linker
/// script) for one program.
fn source(suite: &str, prog: &str) -> (PathBuf, Vec<String>) {
    let root = manifest_dir();
    if suite == "own" {
        let dir = root.join("tests/isa");
        let src = dir.join(format!("{prog}.S"));
        let args = vec![format!("-I{}", dir.display()), format!("-T{}", dir.join("link.ld").display())];
        (src, args)
    } else {
        let rt = root.join("tests/riscv-tests");
        let src = rt.join("isa").join(suite).join(format!("{prog}.S"));
        let args = vec![
            format!("-I{}", rt.join("env/p").display()),
            format!("-I{}", rt.join("env").display()),
            format!("-I{}", rt.join("isa/macros/scalar").display()),
            format!("-T{}", rt.join("env/p/link.ld").display()),
        ];
        (src, args)
    }
}

fn build(suite: &str, prog: &str) -> PathBuf {
    if let Err(msg) = check_compiler() {
        panic!("{msg}");
    }
    let (src, extra) = source(suite, prog);
    assert!(src.exists(), "missing test source {}", src.display());
    let elf = out_dir().join(format!("{suite}-{prog}.elf"));
    let out = Command::new(compiler())
        .args([MARCH, MABI, "-static", "-mcmodel=medany", "-fvisibility=hidden"])
        .args(["-nostdlib", "-nostartfiles", "-Wl,--no-warn-rwx-segments"])
        .args(&extra)
        .arg(&src)
        .arg("-o")
        .arg(&elf)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", compiler()));
    assert!(
        out.status.success(),
        "building {} failed ({}):\n{}",
        src.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    elf
}

struct Outcome {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn run_semu(elf: &Path, extra: &[&str]) -> Outcome {
    let machine = manifest_dir().join("machines/bare-metal.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_semu"))
        .arg("run")
        .arg(&machine)
        .arg("--kernel")
        .arg(elf)
        .arg("--max-instructions")
        .arg(MAX_INSTRUCTIONS.to_string())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start semu");
    // Drain the pipes on threads so a chatty guest cannot block semu.
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let (status, timed_out) = loop {
        match child.try_wait().expect("wait for semu") {
            Some(status) => break (Some(status), false),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, true);
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    Outcome { status, stdout, stderr, timed_out }
}

/// Runs a program twice: as semu runs by default, and with every page compiled to native code
/// as soon as it ran once (`--jit-threshold 0`).
fn run_program(suite: &str, prog: &str) {
    let elf = build(suite, prog);
    for extra in [&[][..], &["--jit-threshold", "0"][..]] {
        run_mode(suite, prog, &elf, extra);
    }
}

fn run_mode(suite: &str, prog: &str, elf: &Path, extra: &[&str]) {
    let outcome = run_semu(elf, extra);
    if outcome.status.is_some_and(|s| s.success()) {
        return;
    }
    let verdict = if outcome.timed_out {
        format!("semu did not finish within {TIMEOUT:?} (killed)")
    } else {
        match outcome.status.and_then(|s| s.code()) {
            Some(code) => format!(
                "semu exited with status {code}; the guest's tohost failure code n (tohost = (n << 1) | 1) \
                 names the failing check (TEST(n) / test_n; for tests/isa programs n = 1024 + k means an \
                 unexpected trap during check k; exit statuses are truncated to 8 bits, see semu's stderr \
                 for the full value)"
            ),
            None => format!("semu was terminated by a signal ({:?})", outcome.status),
        }
    };
    panic!(
        "ISA test {suite}/{prog} failed (options {extra:?}): {verdict}\n  program: {}\n  elf:     {}\n--- semu stderr ---\n{}\n--- semu stdout ---\n{}",
        source(suite, prog).0.display(),
        elf.display(),
        outcome.stderr.trim_end(),
        outcome.stdout.trim_end()
    );
}

/// The number before `what` on the `--stats` line that contains `line`.
fn stat(stderr: &str, line: &str, what: &str) -> f64 {
    let l = stderr.lines().find(|l| l.contains(line)).unwrap_or_else(|| panic!("no '{line}' line in:\n{stderr}"));
    let words: Vec<&str> = l.split_whitespace().map(|w| w.trim_matches(|c| c == '(' || c == ',' || c == '%')).collect();
    let at = words.iter().position(|w| *w == what).unwrap_or_else(|| panic!("no '{what}' in '{l}'"));
    words[at - 1].parse().unwrap_or_else(|_| panic!("no number before '{what}' in '{l}'"))
}

/// `--stats` on a program that turns on Sv32 and touches pages: instructions, MIPS, and hit rates
/// that agree with their own counts.
#[test]
fn stats_report_instructions_mips_and_hit_rates() {
    let elf = build("own", "sv32");
    let out = run_semu(&elf, &["--stats"]);
    assert!(out.status.is_some_and(|s| s.success()), "sv32 failed:\n{}", out.stderr);
    let retired = stat(&out.stderr, "retired", "instructions");
    assert!(retired > 100.0, "{}", out.stderr);
    assert!(stat(&out.stderr, "retired", "MIPS") > 0.0, "{}", out.stderr);
    for line in ["data TLB", "fetch TLB", "decode cache"] {
        let l = out.stderr.lines().find(|l| l.contains(line)).expect(line);
        let rate: f64 =
            l.split("rate ").nth(1).and_then(|r| r.split('%').next()).and_then(|r| r.parse().ok()).expect(l);
        assert!((0.0..=100.0).contains(&rate), "{l}");
    }
    let walks = stat(&out.stderr, "data TLB", "page");
    let accesses = stat(&out.stderr, "data TLB", "loads/stores");
    assert!(walks >= 1.0, "the program maps pages, so loads/stores walk the page table:\n{}", out.stderr);
    assert!(accesses >= walks, "{}", out.stderr);
    let decoded = stat(&out.stderr, "decode cache", "instructions");
    assert!(decoded >= 10.0 && decoded <= retired, "{}", out.stderr);
}

/// A check that fails ends `semu run` with the check's number as exit status (tohost = (7 << 1) | 1),
/// in both tiers.
#[test]
fn a_failing_check_ends_semu_with_its_number() {
    let elf = build("own", "must_fail");
    for extra in [&[][..], &["--jit-threshold", "0"][..]] {
        let out = run_semu(&elf, extra);
        assert!(!out.timed_out, "must_fail timed out ({extra:?})");
        assert_eq!(out.status.and_then(|s| s.code()), Some(7), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains("tohost reports failure: test 7"), "{extra:?}: {}", out.stderr);
    }
}

/// One `#[test]` per program: `name => (suite, program)`.
macro_rules! isa_tests {
    ($($name:ident => ($suite:literal, $prog:literal),)*) => {
        $(
            #[test]
            fn $name() {
                run_program($suite, $prog);
            }
        )*
    };
}

// The project's own tests: tests/isa/*.S
isa_tests! {
    own_alu => ("own", "alu"),
    own_muldiv => ("own", "muldiv"),
    own_loadstore => ("own", "loadstore"),
    own_control => ("own", "control"),
    own_csr => ("own", "csr"),
    own_warl => ("own", "warl"),
    own_counters => ("own", "counters"),
    own_traps => ("own", "traps"),
    own_vectored => ("own", "vectored"),
    own_msip => ("own", "msip"),
    own_timer => ("own", "timer"),
    own_stip => ("own", "stip"),
    own_sv32 => ("own", "sv32"),
    own_amo => ("own", "amo"),
    own_amo_misaligned => ("own", "amo_misaligned"),
    own_amo_fault => ("own", "amo_fault"),
}

// Vendored riscv-tests, env `p`: tests/riscv-tests/isa/<suite>/<name>.S
isa_tests! {
    rv32ui_add => ("rv32ui", "add"),
    rv32ui_addi => ("rv32ui", "addi"),
    rv32ui_and => ("rv32ui", "and"),
    rv32ui_andi => ("rv32ui", "andi"),
    rv32ui_auipc => ("rv32ui", "auipc"),
    rv32ui_beq => ("rv32ui", "beq"),
    rv32ui_bge => ("rv32ui", "bge"),
    rv32ui_bgeu => ("rv32ui", "bgeu"),
    rv32ui_blt => ("rv32ui", "blt"),
    rv32ui_bltu => ("rv32ui", "bltu"),
    rv32ui_bne => ("rv32ui", "bne"),
    rv32ui_fence_i => ("rv32ui", "fence_i"),
    rv32ui_jal => ("rv32ui", "jal"),
    rv32ui_jalr => ("rv32ui", "jalr"),
    rv32ui_lb => ("rv32ui", "lb"),
    rv32ui_lbu => ("rv32ui", "lbu"),
    rv32ui_lh => ("rv32ui", "lh"),
    rv32ui_lhu => ("rv32ui", "lhu"),
    rv32ui_lui => ("rv32ui", "lui"),
    rv32ui_lw => ("rv32ui", "lw"),
    rv32ui_or => ("rv32ui", "or"),
    rv32ui_ori => ("rv32ui", "ori"),
    rv32ui_sb => ("rv32ui", "sb"),
    rv32ui_sh => ("rv32ui", "sh"),
    rv32ui_simple => ("rv32ui", "simple"),
    rv32ui_sll => ("rv32ui", "sll"),
    rv32ui_slli => ("rv32ui", "slli"),
    rv32ui_slt => ("rv32ui", "slt"),
    rv32ui_slti => ("rv32ui", "slti"),
    rv32ui_sltiu => ("rv32ui", "sltiu"),
    rv32ui_sltu => ("rv32ui", "sltu"),
    rv32ui_sra => ("rv32ui", "sra"),
    rv32ui_srai => ("rv32ui", "srai"),
    rv32ui_srl => ("rv32ui", "srl"),
    rv32ui_srli => ("rv32ui", "srli"),
    rv32ui_sub => ("rv32ui", "sub"),
    rv32ui_sw => ("rv32ui", "sw"),
    rv32ui_xor => ("rv32ui", "xor"),
    rv32ui_xori => ("rv32ui", "xori"),

    rv32um_div => ("rv32um", "div"),
    rv32um_divu => ("rv32um", "divu"),
    rv32um_mul => ("rv32um", "mul"),
    rv32um_mulh => ("rv32um", "mulh"),
    rv32um_mulhsu => ("rv32um", "mulhsu"),
    rv32um_mulhu => ("rv32um", "mulhu"),
    rv32um_rem => ("rv32um", "rem"),
    rv32um_remu => ("rv32um", "remu"),

    rv32ua_amoadd_w => ("rv32ua", "amoadd_w"),
    rv32ua_amoand_w => ("rv32ua", "amoand_w"),
    rv32ua_amomax_w => ("rv32ua", "amomax_w"),
    rv32ua_amomaxu_w => ("rv32ua", "amomaxu_w"),
    rv32ua_amomin_w => ("rv32ua", "amomin_w"),
    rv32ua_amominu_w => ("rv32ua", "amominu_w"),
    rv32ua_amoor_w => ("rv32ua", "amoor_w"),
    rv32ua_amoswap_w => ("rv32ua", "amoswap_w"),
    rv32ua_amoxor_w => ("rv32ua", "amoxor_w"),
    rv32ua_lrsc => ("rv32ua", "lrsc"),

    rv32si_csr => ("rv32si", "csr"),
    rv32si_ma_fetch => ("rv32si", "ma_fetch"),
    rv32si_sbreak => ("rv32si", "sbreak"),
    rv32si_scall => ("rv32si", "scall"),

    rv32mi_csr => ("rv32mi", "csr"),
    rv32mi_illegal => ("rv32mi", "illegal"),
    rv32mi_ma_fetch => ("rv32mi", "ma_fetch"),
    rv32mi_mcsr => ("rv32mi", "mcsr"),
    rv32mi_sbreak => ("rv32mi", "sbreak"),
    rv32mi_scall => ("rv32mi", "scall"),
    rv32mi_shamt => ("rv32mi", "shamt"),
}
