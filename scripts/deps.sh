#!/usr/bin/env bash
# Installs what building and testing semu needs on a Debian machine that has only Rust, gcc and
# Python: the bare-metal RISC-V compiler for the ISA tests, dtc for cross-checking device trees,
# libslirp for user-mode networking, gdb-multiarch for the debugger tests, and check-jsonschema.
# Does nothing (and says so) when everything is there.
set -euo pipefail

pkgs=(gcc-riscv64-unknown-elf device-tree-compiler libslirp-dev libglib2.0-dev pkg-config gdb-multiarch e2fsprogs)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "deps: system packages present"
fi
if ! python3 -m check_jsonschema --version >/dev/null 2>&1; then
    echo "deps: installing check-jsonschema (PyPI)"
    python3 -m pip install -q check-jsonschema
fi
