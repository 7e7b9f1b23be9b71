#!/usr/bin/env bash
# Benchmark semu (and, optionally, another emulator) on the guest built by scripts/build-guest.sh.
#
# Workloads, each run N times (default 5); the table shows medians:
#   boot     wall seconds from starting the emulator until it exits after the initramfs /init
#            saw `semu.poweroff` on the kernel command line and powered off at once;
#   compute  the guest program /usr/bin/bench (sieve, CRC-32, matmul, qsort; zig cc -O2, rv32ima)
#            run from the guest shell, milliseconds as the guest itself reports them, next to
#            build/guest/bench-host (the same source, gcc -O2, run natively right before each
#            guest run); the ratio is median(compute) / median(native runs next to that
#            emulator's compute runs);
#   rss      a guest with 512 MiB of RAM that writes 50 MiB to its tmpfs and powers off: peak RSS
#            of the emulator process (GNU time's "maximum resident set size").
# MIPS is what `semu run --stats` prints (n/a when it prints none, and for other emulators).
#
# Another emulator: --other 'CMD ...' runs the same workloads on CMD with
#   -kernel build/guest/Image -initrd build/guest/initramfs.cpio -append 'console=ttyS0 [semu.poweroff]'
# appended; its console must be the process's stdin/stdout (qemu: -nographic). --qemu is a
# shortcut for qemu-system-riscv32 -M virt (RV32IMA, 512 MiB, 1 hart) with an RV32 OpenSBI if one
# is installed, else with the SBI shim of scripts/qemu-guest.sh (scripts/guest/qemu/sbi-shim.S:
# Debian 12 ships no RV32 OpenSBI; see docs/performance.md).
#
# Builds what it needs (scripts/build-guest.sh, cached; `cargo build --release`, honouring
# CARGO_TARGET_DIR) unless --no-build. Progress goes to stderr, the tables to stdout. Not part of
# the test suite. Exits 1 if a semu run failed (the report is printed first).
#
# Usage: scripts/bench.sh [--runs N] [--only boot,compute,rss] [--other 'CMD' [--other-name NAME]]
#                         [--qemu] [--semu PATH] [--semu-args 'ARGS'] [--no-build] [--timeout SECONDS]
#
# --semu-args adds options to every semu run (e.g. '--gdb 127.0.0.1:0' to measure the cost of a
# debugger stub nobody attaches to, or '--no-jit'); the report's header shows them.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$SCRIPT_DIR")"
GUEST_DIR="$REPO/build/guest"
MACHINE="$REPO/machines/initramfs.toml"
MEMORY_MIB=512
TOUCH_MIB=50

RUNS=5
ONLY="boot,compute,rss"
OTHER=""
OTHER_NAME=""
USE_QEMU=0
BUILD=1
SEMU_BIN=""
SEMU_ARGS=()
TMO=900

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="${2:?}"; shift 2 ;;
        --runs=*) RUNS="${1#*=}"; shift ;;
        --only) ONLY="${2:?}"; shift 2 ;;
        --only=*) ONLY="${1#*=}"; shift ;;
        --other) OTHER="${2:?}"; shift 2 ;;
        --other=*) OTHER="${1#*=}"; shift ;;
        --other-name) OTHER_NAME="${2:?}"; shift 2 ;;
        --other-name=*) OTHER_NAME="${1#*=}"; shift ;;
        --qemu) USE_QEMU=1; shift ;;
        --semu) SEMU_BIN="${2:?}"; shift 2 ;;
        --semu=*) SEMU_BIN="${1#*=}"; shift ;;
        --semu-args) read -r -a SEMU_ARGS <<<"${2:?}"; shift 2 ;;
        --semu-args=*) read -r -a SEMU_ARGS <<<"${1#*=}"; shift ;;
        --no-build) BUILD=0; shift ;;
        --timeout) TMO="${2:?}"; shift 2 ;;
        --timeout=*) TMO="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
[[ "$TMO" =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a positive integer"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
for w in ${ONLY//,/ }; do
    case "$w" in boot|compute|rss) ;; *) die "unknown workload in --only: $w" ;; esac
done
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    log "guest images: scripts/build-guest.sh"
    "$REPO/scripts/build-guest.sh" >&2
    if [ -z "$SEMU_BIN" ]; then
        log "semu: cargo build --release"
        (cd "$REPO" && cargo build --release -q) >&2
    fi
fi
SEMU_GIVEN=0
[ -z "$SEMU_BIN" ] || SEMU_GIVEN=1
if [ -z "$SEMU_BIN" ]; then
    target_dir="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')" ||
        target_dir="$REPO/target"
    SEMU_BIN="$target_dir/release/semu"
fi
[ -x "$SEMU_BIN" ] || die "no semu binary at $SEMU_BIN (build it, or give --semu PATH)"
IMAGE="$GUEST_DIR/Image"
INITRD="$GUEST_DIR/initramfs.cpio"
BENCH_HOST="$GUEST_DIR/bench-host"
for f in "$IMAGE" "$INITRD" "$BENCH_HOST"; do
    [ -e "$f" ] || die "missing $f (run scripts/build-guest.sh)"
done

if [ "$USE_QEMU" = 1 ]; then
    [ -z "$OTHER" ] || die "give either --other or --qemu"
    command -v qemu-system-riscv32 >/dev/null ||
        die "qemu-system-riscv32 is missing: apt-get install qemu-system-misc"
    # RV32IMA like the guest and semu; the shim does not enable Sstc, so the timer goes through SBI.
    qcpu="rv32,c=false,f=false,d=false,h=false"
    fw=""
    for f in /usr/share/qemu/opensbi-riscv32-generic-fw_dynamic.bin \
             /usr/lib/riscv32-linux-gnu/opensbi/generic/fw_dynamic.bin; do
        if [ -e "$f" ]; then fw="$f"; OTHER_NAME="${OTHER_NAME:-qemu+opensbi}"; break; fi
    done
    if [ -z "$fw" ]; then
        # Debian 12 ships no RV32 OpenSBI: the SBI shim of scripts/qemu-guest.sh, built the same
        # way into the same cache.
        qdir="$REPO/scripts/guest/qemu"
        [ -f "$qdir/sbi-shim.S" ] || die "no RV32 OpenSBI and no $qdir/sbi-shim.S"
        h="$(cat "$qdir/sbi-shim.S" "$qdir/sbi-shim.ld" | sha256sum | cut -c1-16)"
        fw="${SEMU_CACHE:-$HOME/.cache/semu}/qemu/sbi-shim-$h.bin"
        if [ ! -f "$fw" ]; then
            log "building the RV32 SBI shim (scripts/guest/qemu/sbi-shim.S)"
            mkdir -p "$(dirname "$fw")"
            riscv64-linux-gnu-gcc -march=rv32ima_zicsr_zifencei -mabi=ilp32 -nostdlib -nostartfiles \
                -static -T "$qdir/sbi-shim.ld" -Wl,--no-relax -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
                -o "$fw.elf" "$qdir/sbi-shim.S"
            riscv64-linux-gnu-objcopy -O binary -j .text "$fw.elf" "$fw"
        fi
        qcpu+=",sstc=false"
        OTHER_NAME="${OTHER_NAME:-qemu+sbi-shim}"
    fi
    printf -v fw_q '%q' "$fw"
    OTHER="qemu-system-riscv32 -M virt -cpu $qcpu -bios $fw_q -nographic -m ${MEMORY_MIB}M -smp 1"
fi
OTHER_ARGV=()
if [ -n "$OTHER" ]; then
    eval "OTHER_ARGV=($OTHER)"
    [ "${#OTHER_ARGV[@]}" -gt 0 ] || die "--other is empty"
    command -v "${OTHER_ARGV[0]}" >/dev/null || die "--other: ${OTHER_ARGV[0]} not found"
    OTHER_NAME="${OTHER_NAME:-$(basename "${OTHER_ARGV[0]}")}"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/semu-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# Running one emulator once
# ---------------------------------------------------------------------------------------------
# emu_cmd EMU WORKLOAD: sets CMD (an array) to the command line.
emu_cmd() {
    local emu="$1" workload="$2"
    if [ "$emu" = semu ]; then
        CMD=("$SEMU_BIN" run "$MACHINE" --kernel "$IMAGE" --initrd "$INITRD"
             --memory "${MEMORY_MIB}MiB" --stats ${SEMU_ARGS[@]+"${SEMU_ARGS[@]}"})
        # semu puts console=ttyS0 on the command line itself.
        [ "$workload" != boot ] || CMD+=(--append "semu.poweroff")
    else
        local append="console=ttyS0"
        [ "$workload" != boot ] || append+=" semu.poweroff"
        CMD=("${OTHER_ARGV[@]}" -kernel "$IMAGE" -initrd "$INITRD" -append "$append")
    fi
}

# run_once OUT INPUT CMD...: runs CMD under timeout and GNU time, stdout+stderr to OUT.out/OUT.err,
# "maxrss_kib user_s sys_s" to OUT.time. INPUT empty: stdin is /dev/null. Otherwise INPUT is
# typed into the guest shell once its prompt shows. Sets WALL (seconds) and returns the status.
run_once() {
    local out="$1" input="$2"
    shift 2
    local t0 t1 rc=0 pid fd
    : >"$out.out"
    if [ -z "$input" ]; then
        t0=$EPOCHREALTIME
        timeout "$TMO" /usr/bin/time -f '%M %U %S' -o "$out.time" "$@" </dev/null >"$out.out" 2>"$out.err" || rc=$?
        t1=$EPOCHREALTIME
    else
        rm -f "$WORK/fifo"
        mkfifo "$WORK/fifo"
        t0=$EPOCHREALTIME
        timeout "$TMO" /usr/bin/time -f '%M %U %S' -o "$out.time" "$@" <"$WORK/fifo" >"$out.out" 2>"$out.err" &
        pid=$!
        exec {fd}>"$WORK/fifo"
        if wait_prompt "$out.out" "$pid"; then
            printf '%s\n' "$input" >&"$fd"
        else
            log "no shell prompt from the guest; stopping it"
            kill -TERM "$pid" 2>/dev/null || true
        fi
        wait "$pid" || rc=$?
        t1=$EPOCHREALTIME
        exec {fd}>&-
    fi
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    [ "$rc" != 124 ] || log "timed out after ${TMO}s: $*"
    return "$rc"
}

# wait_prompt FILE PID: waits until the guest printed "semu-init: ready" and then a prompt ending
# in "# ", while PID lives (and at most TMO seconds).
wait_prompt() {
    local file="$1" pid="$2" deadline=$((SECONDS + TMO))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        if [ "$(tail -c 2 "$file")" = "# " ] && grep -q 'semu-init: ready' "$file"; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# parse_bench FILE PREFIX: from `bench:` lines, sets B[PREFIX:total], B[PREFIX:sieve]... (ms) and
# B[PREFIX:checksum]. Returns 1 if there is no total line.
declare -A B=()
parse_bench() {
    local file="$1" p="$2" name ms sum
    while read -r name ms sum; do
        B[$p:$name]="$ms"
        [ "$name" != total ] || B[$p:checksum]="$sum"
    done < <(tr -d '\r' <"$file" | awk '$1 == "bench:" && $4 == "ms" && $5 == "checksum" { print $2, $3, $6 }')
    [ -n "${B[$p:total]:-}" ]
}

# stats_mips FILE: MIPS printed by `semu --stats` (a number next to "MIPS"), else nothing.
stats_mips() {
    { tr -d '\r' <"$1" | grep -i 'mips' | tail -n 1 |
        sed -nE 's/(^|.*[^0-9.])([0-9]+(\.[0-9]+)?) *MIPS.*/\2/ip; t; s/.*MIPS[^0-9]*([0-9]+(\.[0-9]+)?).*/\1/ip' |
        head -n 1; } || true
}
# stats_retired FILE: instructions retired as `semu --stats` prints them, else nothing.
stats_retired() {
    { tr -d '\r' <"$1" | grep -i 'retired' | tail -n 1 | grep -oE '[0-9][0-9,_]*' | head -n 1 | tr -d ',_'; } || true
}

# ---------------------------------------------------------------------------------------------
# Results: R[EMU:METRIC] is a space-separated list of the runs' values.
# ---------------------------------------------------------------------------------------------
declare -A R=()
add() { R[$1]="${R[$1]:-}${R[$1]:+ }$2"; }
median() { # values...
    [ $# -gt 0 ] || { echo ""; return; }
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}
med() { local vals; read -ra vals <<<"${R[$1]:-}"; median "${vals[@]+"${vals[@]}"}"; }
fmt() { # printf-format value: "n/a" for an empty value
    # shellcheck disable=SC2059 # the format is the argument
    if [ -z "$2" ]; then echo "n/a"; else LC_ALL=C printf "$1" "$2"; fi
}
div() { # a / b, or nothing if either is missing
    if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.6g", a / b }'; fi
}

HOST_CHECKSUM=""
run_native() { # EMU: the emulator whose compute run comes next
    local tag="$WORK/native" ms emu="$1"
    if ! "$BENCH_HOST" >"$tag.out" 2>&1 || ! parse_bench "$tag.out" native; then
        die "bench-host failed: $(cat "$tag.out")"
    fi
    HOST_CHECKSUM="${B[native:checksum]}"
    add native:total "${B[native:total]}"
    add "$emu:native" "${B[native:total]}"
    for k in sieve crc32 matmul qsort; do add "native:$k" "${B[native:$k]:-}"; done
    ms="${B[native:total]}"
    unset 'B[native:total]'
    log "  native bench-host: $ms ms"
}

# bench_workload EMU WORKLOAD RUN
bench_workload() {
    local emu="$1" w="$2" i="$3" tag="$WORK/$1-$2-$3" rc=0 rss cpu mips retired input="" name
    name="$(emu_label "$emu")"
    emu_cmd "$emu" "$w"
    case "$w" in
        compute) input="bench; poweroff -f" ;;
        rss) input="dd if=/dev/zero of=/tmp/touch bs=1M count=$TOUCH_MIB 2>/dev/null && sync && echo bench-rss: \$((\$(du -k /tmp/touch | cut -f1) / 1024)) MiB; poweroff -f" ;;
    esac
    run_once "$tag" "$input" "${CMD[@]}" || rc=$?
    rss=$(awk '{ printf "%.1f", $1 / 1024 }' "$tag.time" 2>/dev/null || true)
    cpu=$(awk '{ printf "%.2f", $2 + $3 }' "$tag.time" 2>/dev/null || true)
    if [ "$rc" != 0 ]; then
        log "  $name $w run $i: FAILED (exit status $rc); last output:"
        tail -n 5 "$tag.out" "$tag.err" | sed 's/^/    /' >&2
        add "$emu:$w:failed" 1
        return 0
    fi
    if [ "$emu" = semu ]; then
        mips=$(stats_mips "$tag.err")
        retired=$(stats_retired "$tag.err")
        cp "$tag.err" "$WORK/semu-stats-$w"
    fi
    case "$w" in
        boot)
            if ! tr -d '\r' <"$tag.out" | grep -q 'semu-init: ready'; then
                log "  $name boot run $i: FAILED (no 'semu-init: ready' from the guest)"
                add "$emu:boot:failed" 1
                return 0
            fi
            add "$emu:boot" "$WALL"
            add "$emu:boot:rss" "$rss"
            [ -z "${retired:-}" ] || add "$emu:boot:retired" "$retired"
            log "  $name boot run $i: $WALL s, peak RSS $rss MiB${retired:+, $retired instructions}"
            ;;
        compute)
            if ! parse_bench "$tag.out" "$emu"; then
                log "  $name compute run $i: FAILED (no 'bench: total' line)"
                add "$emu:compute:failed" 1
                return 0
            fi
            if [ "${B[$emu:checksum]}" != "$HOST_CHECKSUM" ]; then
                log "  $name compute run $i: WRONG checksum ${B[$emu:checksum]} (host: $HOST_CHECKSUM)"
                add "$emu:compute:failed" 1
                unset "B[$emu:total]"
                return 0
            fi
            add "$emu:compute" "${B[$emu:total]}"
            for k in sieve crc32 matmul qsort; do add "$emu:$k" "${B[$emu:$k]:-}"; done
            add "$emu:compute:rss" "$rss"
            add "$emu:compute:wall" "$WALL"
            add "$emu:compute:cpu" "$cpu"
            [ -z "${mips:-}" ] || add "$emu:mips" "$mips"
            [ -z "${retired:-}" ] || add "$emu:compute:retired" "$retired"
            log "  $name compute run $i: ${B[$emu:total]} ms (wall $WALL s, CPU $cpu s), peak RSS $rss MiB${mips:+, $mips MIPS}"
            unset "B[$emu:total]"
            ;;
        rss)
            if ! tr -d '\r' <"$tag.out" | grep -q "^bench-rss: $TOUCH_MIB MiB"; then
                log "  $name rss run $i: FAILED (the guest did not report writing $TOUCH_MIB MiB)"
                add "$emu:rss:failed" 1
                return 0
            fi
            add "$emu:rss" "$rss"
            log "  $name rss run $i: peak RSS $rss MiB (wall $WALL s)"
            ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------
load_now() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START="$(load_now)"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
CPU_MODEL="$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//' || true)"
CPU_MODEL="${CPU_MODEL:-$(uname -m)}"
CORES="$(nproc)"
if [ "$SEMU_GIVEN" = 1 ]; then
    REV="binary $SEMU_BIN"
else
    REV="$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
fi

EMUS=(semu)
[ -z "$OTHER" ] || EMUS+=(other)
emu_label() { case "$1" in other) echo "$OTHER_NAME" ;; *) echo "$1" ;; esac; }

log "semu: $SEMU_BIN ($REV)${SEMU_ARGS[*]+ with ${SEMU_ARGS[*]}}; guest: $GUEST_DIR; $RUNS runs; load $LOAD_START"
[ -z "$OTHER" ] && log "other emulator: skipped (none given: --other 'CMD' or --qemu)"
[ -z "$OTHER" ] || log "other emulator ($OTHER_NAME): $OTHER"

for emu in "${EMUS[@]}"; do
    if want boot; then
        log "$(emu_label "$emu"): boot x $RUNS"
        for i in $(seq "$RUNS"); do bench_workload "$emu" boot "$i"; done
    fi
    if want compute; then
        log "$(emu_label "$emu"): compute x $RUNS (native bench-host before each)"
        for i in $(seq "$RUNS"); do
            run_native "$emu"
            bench_workload "$emu" compute "$i"
        done
    fi
    if want rss; then
        log "$(emu_label "$emu"): ${MEMORY_MIB} MiB guest touching ${TOUCH_MIB} MiB x $RUNS"
        for i in $(seq "$RUNS"); do bench_workload "$emu" rss "$i"; done
    fi
done
LOAD_END="$(load_now)"

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
failures() { local vals; read -ra vals <<<"${R[$1:failed]:-}"; echo "${#vals[@]}"; }
NATIVE_MS="$(med native:total)"

echo "semu benchmark: $DATE; $CPU_MODEL, $CORES cores; load average $LOAD_START at start, $LOAD_END at end"
echo "semu $REV${SEMU_ARGS[*]+ with ${SEMU_ARGS[*]}}; guest $(basename "$(readlink -f "$GUEST_DIR")"); ${MEMORY_MIB} MiB guest RAM; medians of $RUNS runs"
echo
printf '| %-14s | %7s | %10s | %9s | %7s | %6s | %12s |\n' \
    emulator "boot s" "compute ms" "native ms" ratio MIPS "peak RSS MiB"
printf '| %-14s | %7s | %10s | %9s | %7s | %6s | %12s |\n' \
    "--------------" "------:" "---------:" "--------:" "------:" "-----:" "-----------:"
for emu in "${EMUS[@]}"; do
    comp="$(med "$emu:compute")"
    nat="$(med "$emu:native")"
    printf '| %-14s | %7s | %10s | %9s | %7s | %6s | %12s |\n' "$(emu_label "$emu")" \
        "$(fmt '%.2f' "$(med "$emu:boot")")" "$(fmt '%.1f' "$comp")" "$(fmt '%.1f' "${comp:+$nat}")" \
        "$(fmt '%.1fx' "$(div "$comp" "$nat")")" "$(fmt '%.0f' "$(med "$emu:mips")")" \
        "$(fmt '%.1f' "$(med "$emu:rss")")"
done
echo
echo "boot: wall time to power-off; compute: guest-timed /usr/bin/bench total; native: bench-host on"
echo "the host, run before each of that emulator's compute runs; ratio = compute / native; peak RSS:"
echo "${MEMORY_MIB} MiB guest that wrote ${TOUCH_MIB} MiB to tmpfs."

if want compute && [ -n "$NATIVE_MS" ]; then
    echo
    echo "Per kernel (median ms, ratio to the median of all native runs):"
    echo
    printf '| %-14s |' kernel
    for emu in native "${EMUS[@]}"; do printf ' %16s |' "$(emu_label "$emu")"; done
    echo
    printf '| %-14s |' "--------------"
    for emu in native "${EMUS[@]}"; do printf ' %16s |' "---------------:"; done
    echo
    for k in sieve crc32 matmul qsort; do
        n="$(med "native:$k")"
        printf '| %-14s | %16s |' "$k" "$(fmt '%.1f' "$n")"
        for emu in "${EMUS[@]}"; do
            val="$(med "$emu:$k")"
            if [ -n "$val" ]; then
                printf ' %16s |' "$(printf '%.1f (%.1fx)' "$val" "$(div "$val" "$n")")"
            else
                printf ' %16s |' n/a
            fi
        done
        echo
    done
fi

if [ -n "$OTHER" ]; then
    echo
    b_s="$(med semu:boot)"; b_o="$(med other:boot)"
    c_s="$(med semu:compute)"; c_o="$(med other:compute)"
    r_s="$(med semu:rss)"; r_o="$(med other:rss)"
    x_s="$(div "$c_s" "$(med semu:native)")"; x_o="$(div "$c_o" "$(med other:native)")"
    echo "semu / $OTHER_NAME (below 1: semu is faster or smaller): boot $(fmt '%.2fx' "$(div "$b_s" "$b_o")"),"
    echo "compute time $(fmt '%.2fx' "$(div "$c_s" "$c_o")"), compute/native ratio $(fmt '%.2fx' "$(div "$x_s" "$x_o")"), peak RSS $(fmt '%.2fx' "$(div "$r_s" "$r_o")")"
    echo "$OTHER_NAME command: $OTHER"
else
    echo
    echo "other emulator: skipped (none given; use --other 'CMD' or --qemu)"
fi

echo
echo "Targets (semu):"
t_boot="$(med semu:boot)"; t_ratio="$(div "$(med semu:compute)" "$(med semu:native)")"; t_rss="$(med semu:rss)"
verdict() { # value op limit
    if [ -z "$1" ]; then echo "not measured"; elif awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then echo "met"; else echo "NOT met"; fi
}
want boot && echo "  boot < 2 s: $(fmt '%.2f s' "$t_boot") -> $(verdict "$t_boot" '<' 2)"
want compute && echo "  compute <= 12x native: $(fmt '%.1fx' "$t_ratio") -> $(verdict "$t_ratio" '<=' 12)"
want rss && echo "  RSS < 100 MiB (512 MiB guest, 50 MiB touched): $(fmt '%.1f MiB' "$t_rss") -> $(verdict "$t_rss" '<' 100)"
if want compute; then
    if [ -n "$(med semu:mips)" ]; then
        echo "  --stats reports MIPS: yes"
    else
        echo "  --stats reports MIPS: no (n/a above)"
    fi
fi

echo
echo "All runs (compute:wall and compute:cpu: the emulator process's wall and user+sys seconds):"
for key in semu:boot semu:native semu:compute semu:compute:wall semu:compute:cpu semu:mips semu:rss \
           semu:boot:rss semu:compute:rss semu:boot:retired semu:compute:retired \
           other:boot other:native other:compute other:compute:wall other:compute:cpu other:rss other:boot:rss other:compute:rss; do
    [ -n "${R[$key]:-}" ] || continue
    label="${key/#other/$OTHER_NAME}"
    echo "  $label: ${R[$key]}"
done
if [ -z "$(med semu:mips)" ] && [ -n "$(med semu:compute:retired)" ] && [ -n "$(med semu:boot:retired)" ]; then
    est="$(awk -v c="$(med semu:compute:retired)" -v b="$(med semu:boot:retired)" -v ms="$(med semu:compute)" \
        'BEGIN { printf "%.0f", (c - b) / (ms * 1000) }')"
    echo "  semu estimated MIPS (compute-run minus boot-run instructions, over the guest-timed total): $est"
fi
for emu in "${EMUS[@]}"; do
    for w in boot compute rss; do
        n="$(failures "$emu:$w")"
        [ "$n" = 0 ] || echo "  $(emu_label "$emu") $w: $n failed run(s)"
    done
done
for w in compute boot rss; do
    if [ -e "$WORK/semu-stats-$w" ]; then
        echo
        echo "semu --stats (last $w run):"
        tr -d '\r' <"$WORK/semu-stats-$w" | grep '^semu:' | sed 's/^/  /' || true
        break
    fi
done

# A failed semu run fails the script (after the report); another emulator's failures do not.
semu_failed=0
for w in boot compute rss; do semu_failed=$((semu_failed + $(failures "semu:$w"))); done
[ "$semu_failed" = 0 ] || { log "$semu_failed semu run(s) failed"; exit 1; }
