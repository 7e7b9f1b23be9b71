#!/usr/bin/env bash
# From a fresh machine to a Linux shell in semu: installs what is missing, builds the guest images
# (cached after the first run), builds semu, and boots machines/minimal.toml (or the machine file
# given as the first argument; further arguments go to `semu run`). Quit with Ctrl-A x.
# The machine runs with --snapshot: the guest writes to its disk, but the cached images never
# change (the tests copy them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build-guest.sh
cargo build --release -q
machine="${1:-machines/minimal.toml}"
shift || true
echo "semu: disk changes are discarded at exit (--snapshot)"
exec target/release/semu run "$machine" --snapshot "$@"
