#!/usr/bin/env bash
# Throughput of a shared host directory (virtio-fs, `semu run --share`): the guest of
# machines/initramfs.toml mounts a scratch directory holding a 64 MiB host file of random bytes and
#   read    cat of the host file to /dev/null, freshly mounted (nothing cached in the guest);
#   write   dd of 64 MiB from /dev/zero to a new file, then sync;
#   reread  the file just written, after a fresh mount.
# Each is timed by the guest (/proc/uptime before and after: 10 ms steps); N runs (default 3), medians in MB/s
# (10^6 bytes per second). Builds what it needs (guest images, cached; `cargo build --release`)
# unless --no-build. Not part of the test suite.
#
# Usage: scripts/bench-fs.sh [--runs N] [--no-build] [--semu PATH]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=3
BUILD=1
SEMU=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="${2:?}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --semu) SEMU="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-fs: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
log() { printf '[bench-fs] %s\n' "$*" >&2; }

if [ "$BUILD" = 1 ]; then
    "$REPO/scripts/build-guest.sh" >&2
    (cd "$REPO" && cargo build --release -q)
fi
if [ -z "$SEMU" ]; then
    SEMU="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/semu"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/share"
head -c $((64 << 20)) /dev/urandom >"$WORK/share/big.bin"
MiB64=$((64 << 20))

# The guest prints "FS <what> <uptime before> <uptime after>" for each measurement.
GUEST='mkdir -p /mnt && mount -t virtiofs share /mnt
up() { read -r u _ </proc/uptime; echo "$u"; }
t0=$(up); cat /mnt/big.bin >/dev/null; echo "FS read $t0 $(up)"
t0=$(up); dd if=/dev/zero of=/mnt/out.bin bs=1M count=64 2>/dev/null; sync; echo "FS write $t0 $(up)"
umount /mnt && mount -t virtiofs share /mnt
t0=$(up); cat /mnt/out.bin >/dev/null; echo "FS reread $t0 $(up)"
umount /mnt; poweroff -f'

declare -A R
for i in $(seq "$RUNS"); do
    rm -f "$WORK/share/out.bin" "$WORK/fifo"
    mkfifo "$WORK/fifo"
    "$SEMU" run "$REPO/machines/initramfs.toml" --share "$WORK/share" <"$WORK/fifo" >"$WORK/out" 2>&1 &
    pid=$!
    exec {fd}>"$WORK/fifo"
    deadline=$((SECONDS + 300))
    until grep -q 'semu-init: ready' "$WORK/out" && [ "$(tail -c 2 "$WORK/out")" = "# " ]; do
        kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ] || { cat "$WORK/out" >&2; exit 1; }
        sleep 0.1
    done
    printf '%s\n' "$GUEST" >&"$fd"
    wait "$pid" || { cat "$WORK/out" >&2; exit 1; }
    exec {fd}>&-
    [ "$(stat -c %s "$WORK/share/out.bin")" = "$MiB64" ] || { log "run $i: out.bin has the wrong size"; exit 1; }
    line="run $i:"
    for what in read write reread; do
        mbs="$(tr -d '\r' <"$WORK/out" | awk -v w="$what" -v b="$MiB64" \
            '$1 == "FS" && $2 == w && $4 > $3 { printf "%.1f", b / ($4 - $3) / 1e6 }')"
        [ -n "$mbs" ] || { cat "$WORK/out" >&2; log "run $i: no '$what' figure"; exit 1; }
        R[$what]+="$mbs "
        line+=" $what $mbs MB/s"
    done
    log "$line"
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "virtio-fs, 64 MiB, $RUNS runs, medians (MB/s):"
printf '%-8s %8s\n' read "$(echo "${R[read]}" | median)" write "$(echo "${R[write]}" | median)" \
    reread "$(echo "${R[reread]}" | median)"
