#!/usr/bin/env bash
# Installs what building and testing semu needs on a Debian machine that has only Rust, gcc and
# Python: the bare-metal RISC-V compiler for the ISA tests, dtc for cross-checking device trees,
# libslirp for user-mode networking, gdb-multiarch for the debugger tests, the kernel's headers
# (virtio-fs checks its FUSE structures against linux/fuse.h), check-jsonschema, and qemu.qmp
# (QEMU's Python QMP client: the monitor tests drive semu with it).
# Does nothing (and says so) when everything is there.
set -euo pipefail

sudo=""
if [ "$(id -u)" != 0 ]; then
    sudo="sudo -n" # never wait at a password prompt (CI has no standard input)
fi

pkgs=(gcc-riscv64-unknown-elf device-tree-compiler libslirp-dev libglib2.0-dev pkg-config gdb-multiarch e2fsprogs iproute2
    linux-libc-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "deps: system packages present"
fi
# PyPI packages, each checked by importing it
py_missing=()
python3 -c 'import check_jsonschema' >/dev/null 2>&1 || py_missing+=(check-jsonschema)
python3 -c 'from qemu.qmp import QMPClient' >/dev/null 2>&1 || py_missing+=(qemu.qmp)
if ((${#py_missing[@]})); then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        echo "deps: pip missing: installing Debian package python3-pip"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-pip
    fi
    echo "deps: installing ${py_missing[*]} (PyPI)"
    # Debian's own Python refuses pip installs outside a venv (PEP 668); these tools are only ours.
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check "${py_missing[@]}"
fi
if command -v rustup >/dev/null 2>&1; then
    for c in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
            echo "deps: installing the Rust component $c"
            rustup component add "$c"
        fi
    done
fi
