#!/usr/bin/env bash
# Boot build/guest on QEMU (qemu-system-riscv32 -M virt) as a reference for
# the semu emulator: same kernel, same images, a tiny SBI shim as firmware
# (scripts/guest/qemu/sbi-shim.S; Debian has no rv32 OpenSBI).
#
#   scripts/qemu-guest.sh [initramfs|ext4] [extra kernel args...]
#
# The console is QEMU's stdio: pipe commands in, or pass semu.poweroff to
# power off right after boot. Note that a serial line has no end-of-file:
# with stdin at EOF the guest shell simply waits. Exits with QEMU's status
# (0 after a guest poweroff). Needs qemu-system-misc (installed if missing).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
G="$REPO/build/guest"
QDIR="$REPO/scripts/guest/qemu"
CACHE="${SEMU_CACHE:-$HOME/.cache/semu}"
mode="${1:-initramfs}"
[ $# -gt 0 ] && shift

[ -f "$G/Image" ] || "$REPO/scripts/build-guest.sh"
if ! command -v qemu-system-riscv32 >/dev/null; then
    echo "qemu-guest: installing qemu-system-misc" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=900 \
        install --no-install-recommends qemu-system-misc </dev/null >&2
fi

# Build the shim (cached by the hash of its sources).
h="$(cat "$QDIR/sbi-shim.S" "$QDIR/sbi-shim.ld" | sha256sum | cut -c1-16)"
fw="$CACHE/qemu/sbi-shim-$h.bin"
if [ ! -f "$fw" ]; then
    mkdir -p "$CACHE/qemu"
    riscv64-linux-gnu-gcc -march=rv32ima_zicsr_zifencei -mabi=ilp32 -nostdlib -nostartfiles \
        -static -T "$QDIR/sbi-shim.ld" -Wl,--no-relax -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
        -o "$fw.elf" "$QDIR/sbi-shim.S"
    riscv64-linux-gnu-objcopy -O binary -j .text "$fw.elf" "$fw"
fi

cpu="rv32,c=false,f=false,d=false,h=false,sstc=false"  # RV32IMA, timer via SBI
# shellcheck disable=SC2054  # QEMU options are comma-separated
qemu=(qemu-system-riscv32 -M virt -cpu "$cpu"
      -m 256M -smp 1 -nographic -bios "$fw" -kernel "$G/Image"
      -netdev user,id=n0 -device virtio-net-device,netdev=n0 -device virtio-rng-device)
case "$mode" in
    initramfs)
        exec "${qemu[@]}" -initrd "$G/initramfs.cpio" -append "console=ttyS0 $*"
        ;;
    ext4)
        # Boot a scratch copy: the cached image stays pristine.
        disk="$(mktemp /tmp/semu-rootfs.XXXXXX.ext4)"
        trap 'rm -f "$disk"' EXIT
        cp "$G/rootfs.ext4" "$disk"
        "${qemu[@]}" -drive "file=$disk,if=none,format=raw,id=hd" -device virtio-blk-device,drive=hd \
            -append "console=ttyS0 root=/dev/vda rw $*"
        ;;
    *)
        echo "usage: $0 [initramfs|ext4] [kernel args...]" >&2
        exit 2
        ;;
esac
