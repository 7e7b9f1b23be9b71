#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ one after another, each for SECONDS (default 600), and
# prints a table of execs, execs/s, corpus size and findings per target. Crash inputs land in
# fuzz/artifacts/<target>/; copy each into fuzz/regressions/<target>/ with its fix. Not part of
# the test suite (scripts/test.sh replays the regressions and a short run of every target).
#
# Needs cargo-fuzz (installed here from crates.io if missing) and libFuzzer's nightly-only flags,
# which RUSTC_BOOTSTRAP=1 allows on the stable toolchain.
#
# Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [TARGET ...]     (default: all targets)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_EACH=600
JOBS=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_EACH="${2:?}"; shift 2 ;;
        --jobs) JOBS="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
((${#targets[@]})) || targets=(config cpu virtqueue virtio_blk virtio_net virtio_rng virtio_fs)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
export RUSTC_BOOTSTRAP=1
echo "[fuzz] building ${targets[*]} (-O -a, AddressSanitizer)" >&2
cargo fuzz build -O -a >&2

mkdir -p logs
BIN="target/$(rustc -vV | sed -n 's/^host: //p')/release"
declare -A result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    log="logs/$t.log"
    echo "[fuzz] $t: ${SECONDS_EACH}s, $JOBS job(s), log fuzz/$log" >&2
    par=()
    # (-jobs runs separate processes that log to fuzz-N.log files: only when asked for)
    if [ "$JOBS" -gt 1 ]; then par=(-jobs="$JOBS" -workers="$JOBS"); fi
    rc=0
    # the binary cargo fuzz built (running it directly never rebuilds in the middle of a run)
    "$BIN/$t" -artifact_prefix="artifacts/$t/" "corpus/$t" "${seeds[@]}" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${par[@]}" >"$log" 2>&1 || rc=$?
    # (libFuzzer copies each job's fuzz-N.log into its own output when the job ends)
    if [ "$JOBS" -gt 1 ]; then rm -f fuzz-*.log; fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}' || true)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}' || true)
    corpus=$(find "corpus/$t" -type f | wc -l)
    crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
    result[$t]="$execs $rate $corpus $crashes $rc"
done

printf '\n| target | seconds | execs | execs/s | corpus | crash files | exit |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
fail=0
for t in "${targets[@]}"; do
    read -r execs rate corpus crashes rc <<<"${result[$t]}"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$SECONDS_EACH" "$execs" "$rate" "$corpus" "$crashes" "$rc"
    [ "$rc" = 0 ] && [ "$crashes" = 0 ] || fail=1
done
exit $fail
