#!/usr/bin/env bash
# Build the semu guest: an RV32 Linux kernel (Debian's linux-source-6.1), a
# static busybox (Debian's busybox source, zig/musl for riscv32), guest test
# programs, a busybox initramfs and an ext4 root image.
#
# Outputs go to ${SEMU_CACHE:-$HOME/.cache/semu}/guest-<hash>/ where <hash>
# covers every input; <repo>/build/guest is a symlink to it. A run with
# unchanged inputs only re-links (about a second). Each stage (kernel,
# busybox, programs) is also cached on its own inputs, and the kernel and
# busybox trees under ${SEMU_CACHE}/work/ are kept, so a changed config
# rebuilds incrementally.
#
# Needs no stdin. Installs missing Debian packages (apt-get, as root or via
# passwordless sudo) and PyPI ziglang (pip) itself.
#
# Environment:
#   SEMU_CACHE   cache directory (default $HOME/.cache/semu)
#   SEMU_JOBS    parallel jobs (default: nproc)
#   SEMU_BUSYBOX_REFRESH=1   fetch the busybox source again (newest in Debian)
set -euo pipefail

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
SCRIPT_DIR="$(dirname "$SCRIPT_PATH")"
REPO="$(dirname "$SCRIPT_DIR")"
GUEST="$SCRIPT_DIR/guest"
CACHE="${SEMU_CACHE:-$HOME/.cache/semu}"
WORK="$CACHE/work"
JOBS="${SEMU_JOBS:-$(nproc)}"
KARCH=(ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-)
# Fixed timestamps for reproducible images.
EPOCH=1704067200
ZIGLANG_PIN="0.17.1"

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
export SOURCE_DATE_EPOCH="$EPOCH"
export KBUILD_BUILD_TIMESTAMP="@$EPOCH" KBUILD_BUILD_USER=semu KBUILD_BUILD_HOST=semu KBUILD_BUILD_VERSION=1

T_START=$(date +%s)
log() { printf '[build-guest %4ss] %s\n' "$(($(date +%s) - T_START))" "$*"; }
die() { printf '[build-guest] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
APT_PKGS=(make gcc xz-utils file dpkg-dev
          gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu linux-source-6.1
          bc flex bison libssl-dev libelf-dev cpio e2fsprogs)
declare -A PKG_VERSION=() STAGE_DIR=()

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

query_packages() {
    local pkg status version
    PKG_VERSION=()
    while read -r pkg status version; do
        # installed = status "ii"
        if [ "$status" = ii ]; then PKG_VERSION[$pkg]="$version"; fi
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${Version}\n' "${APT_PKGS[@]}" 2>/dev/null || true)
}

ensure_packages() {
    command -v dpkg-query >/dev/null || die "this script needs a Debian-based system (dpkg/apt)"
    query_packages
    local missing=() p
    for p in "${APT_PKGS[@]}"; do
        [ -n "${PKG_VERSION[$p]:-}" ] || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing missing Debian packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
            -o DPkg::Lock::Timeout=900 install --no-install-recommends "${missing[@]}" </dev/null
        query_packages
        for p in "${missing[@]}"; do
            [ -n "${PKG_VERSION[$p]:-}" ] || die "package $p did not install"
        done
    fi
}

zig_path() {
    python3 - <<'EOF' 2>/dev/null
import os, ziglang
print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))
EOF
}

ensure_zig() {
    command -v python3 >/dev/null || die "python3 is required (for PyPI ziglang)"
    local priv="$CACHE/tools/ziglang-$ZIGLANG_PIN"
    ZIG=""
    if ZIG="$(zig_path)" && [ -x "$ZIG" ]; then
        :
    elif [ -x "$priv/ziglang/zig" ]; then
        ZIG="$priv/ziglang/zig"
    else
        log "installing PyPI ziglang==$ZIGLANG_PIN into $priv (pip)"
        if ! python3 -m pip --version >/dev/null 2>&1; then
            log "pip missing: installing Debian package python3-pip"
            as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
                -o DPkg::Lock::Timeout=900 install --no-install-recommends python3-pip </dev/null
        fi
        rm -rf "$priv.tmp"
        PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check \
            --target "$priv.tmp" "ziglang==$ZIGLANG_PIN" </dev/null
        rm -rf "$priv" && mv "$priv.tmp" "$priv"
        ZIG="$priv/ziglang/zig"
    fi
    [ -x "$ZIG" ] || die "zig not found after installing ziglang"
    ZIG_VERSION="$("$ZIG" version)"
    export SEMU_ZIG="$ZIG"
    export ZIG_GLOBAL_CACHE_DIR="$WORK/zig-cache" ZIG_LOCAL_CACHE_DIR="$WORK/zig-cache"
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
# run_logged LOG CMD...: run CMD with output to LOG, print a heartbeat every
# minute, show the log's tail on failure.
run_logged() {
    local logf="$1"; shift
    local t0 pid rc=0 n=0
    t0=$(date +%s)
    "$@" >"$logf" 2>&1 </dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        n=$((n + 1))
        if [ $((n % 60)) = 0 ]; then
            log "  ... still running ($(($(date +%s) - t0))s): $(tail -n 1 "$logf" | cut -c1-100)"
        fi
    done
    wait "$pid" || rc=$?
    if [ "$rc" != 0 ]; then
        printf '%s\n' "---- last lines of $logf ----" >&2
        tail -n 40 "$logf" >&2
        die "command failed (exit $rc): $*"
    fi
}

sha() { sha256sum | cut -c1-16; }

# hash_files FILE...: stable digest of the given files' paths (relative to
# the repo), modes and contents.
hash_files() {
    local f
    for f in "$@"; do
        printf '%s %s %s\n' "${f#"$REPO"/}" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done
}

join_timings() { local t out=""; for t in "${TIMINGS[@]}"; do out="${out:+$out, }$t"; done; echo "$out"; }
stage_t0() { STAGE_T0=$(date +%s); }
stage_done() { # name
    local dt=$(($(date +%s) - STAGE_T0))
    TIMINGS+=("$1: ${dt}s")
    log "$1: done in ${dt}s"
}

# check_fragment FRAGMENT CONFIG: every CONFIG_X=v of FRAGMENT must be in
# CONFIG verbatim; every "# CONFIG_X is not set" must not be set there.
check_fragment() {
    local frag="$1" cfg="$2" line sym lost=()
    while IFS= read -r line; do
        case "$line" in
            CONFIG_*=*)
                grep -qxF -- "$line" "$cfg" || lost+=("$line (have: $(grep -E "^(# )?${line%%=*}[= ]" "$cfg" || echo 'absent'))")
                ;;
            "# CONFIG_"*" is not set")
                sym="${line#\# }"; sym="${sym%% *}"
                if grep -qE "^$sym=" "$cfg"; then lost+=("$line (have: $(grep -E "^$sym=" "$cfg"))"); fi
                ;;
        esac
    done <"$frag"
    if [ "${#lost[@]}" -gt 0 ]; then
        printf '[build-guest] ERROR: options of %s lost in %s (unmet dependencies?):\n' "$frag" "$cfg" >&2
        printf '    %s\n' "${lost[@]}" >&2
        exit 1
    fi
}

# check_rv32_elf FILE: static ELF32 RISC-V, no RVC, soft-float ABI.
check_rv32_elf() {
    local f="$1" hdr flags
    hdr="$(readelf -h "$f")" || die "$f: not an ELF file"
    grep -q 'Class:[[:space:]]*ELF32' <<<"$hdr" || die "$f: not ELF32"
    grep -q 'Machine:[[:space:]]*RISC-V' <<<"$hdr" || die "$f: not RISC-V"
    flags="$(sed -n 's/^ *Flags:[[:space:]]*\(0x[0-9a-fA-F]*\).*/\1/p' <<<"$hdr")"
    # EF_RISCV_RVC = 0x1, EF_RISCV_FLOAT_ABI = 0x6 (0 = soft), RVE = 0x8
    [ $((flags & 0xf)) = 0 ] || die "$f: ELF flags $flags (want no RVC, soft-float, no RVE)"
    if readelf -lW "$f" | grep -q 'INTERP'; then die "$f: not static (has PT_INTERP)"; fi
}

# ---------------------------------------------------------------------------
# Busybox source (Debian source package via a private apt configuration)
# ---------------------------------------------------------------------------
# Print deb-src lines mirroring the machine's Debian (deb) entries.
debian_deb_src_lines() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n -E 's/^[[:space:]]*deb[[:space:]]+(.*(debian)[^[:space:]]*[[:space:]].*)$/deb-src \1/p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas -> one-line entries.
        awk '
            function flush(   n, u, s, i, j, opt, us, ss) {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris ~ /debian/ && enabled != "no") {
                    opt = (signed != "") ? "[signed-by=" signed "] " : ""
                    n = split(uris, us, /[ \t]+/); split(suites, ss, /[ \t]+/)
                    for (i = 1; i <= n; i++) if (us[i] != "")
                        for (j in ss) if (ss[j] != "")
                            print "deb-src " opt us[i] " " ss[j] " " comps
                }
                types = uris = suites = comps = signed = enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            {
                key = tolower($1); sub(/:$/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "components") comps = val
                else if (key == "signed-by") signed = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { flush() }
        ' "$f"
    done
}

fetch_busybox_source() {
    local dst="$CACHE/src/busybox"
    if [ -f "$dst/VERSION" ] && [ "${SEMU_BUSYBOX_REFRESH:-0}" != 1 ]; then
        BUSYBOX_VERSION="$(cat "$dst/VERSION")"
        return
    fi
    stage_t0
    log "busybox-src: fetching Debian source package busybox (private apt state in $WORK/apt)"
    local apt="$WORK/apt" codename=""
    rm -rf "$apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    debian_deb_src_lines | sort -u >"$apt/sources.list"
    if [ ! -s "$apt/sources.list" ]; then
        # shellcheck disable=SC1091
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
        echo "deb-src http://deb.debian.org/debian $codename main" >"$apt/sources.list"
    fi
    sed 's/^/    /' "$apt/sources.list"
    # The machine's update hooks (e.g. Docker's cache cleaning) must not run
    # for this private index.
    printf '#clear APT::Update::Post-Invoke;\n#clear APT::Update::Post-Invoke-Success;\n' >"$apt/apt.conf"
    local opts=(-q -c "$apt/apt.conf"
                -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=-
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
                -o APT::Sandbox::User=root)
    [ "$(id -u)" = 0 ] || opts+=(-o Debug::NoLocking=1)
    run_logged "$WORK/logs/busybox-src-update.log" apt-get "${opts[@]}" update
    rm -rf "$dst.tmp" && mkdir -p "$dst.tmp"
    (cd "$dst.tmp" && run_logged "$WORK/logs/busybox-src.log" apt-get "${opts[@]}" source --download-only busybox)
    local dsc
    dsc="$(ls "$dst.tmp"/busybox_*.dsc)" || die "no busybox .dsc downloaded"
    sed -n 's/^Version: //p' "$dsc" >"$dst.tmp/VERSION"
    rm -rf "$dst" && mv "$dst.tmp" "$dst"
    BUSYBOX_VERSION="$(cat "$dst/VERSION")"
    stage_done "busybox-src ($BUSYBOX_VERSION)"
}

# ---------------------------------------------------------------------------
# Stage: kernel
# ---------------------------------------------------------------------------
build_kernel() { # outdir
    local out="$1" kw="$WORK/linux-$LINUX_VERSION"
    local ksrc="$kw/src" kobj="$kw/obj"
    stage_t0
    if [ ! -f "$ksrc/.semu-unpacked" ]; then
        log "kernel: unpacking /usr/src/linux-source-6.1.tar.xz ($LINUX_VERSION)"
        rm -rf "$kw"
        mkdir -p "$kw"
        tar -xf /usr/src/linux-source-6.1.tar.xz -C "$kw"
        mv "$kw/linux-source-6.1" "$ksrc"
        touch "$ksrc/.semu-unpacked"
    fi
    mkdir -p "$kobj"
    log "kernel: configuring (allnoconfig + scripts/guest/kernel.config, olddefconfig)"
    [ -f "$kobj/.config" ] && cp -p "$kobj/.config" "$kobj/.config.prev"
    local klog="$WORK/logs/kernel.log"
    # shellcheck disable=SC2016
    run_logged "$WORK/logs/kernel-config.log" bash -c '
        set -e
        make -C "$1" O="$2" '"${KARCH[*]}"' allnoconfig
        cd "$2"  # merge_config.sh puts its temporary file in the cwd
        "$1/scripts/kconfig/merge_config.sh" -m -O "$2" "$2/.config" "$3"
        make -C "$1" O="$2" '"${KARCH[*]}"' olddefconfig
    ' _ "$ksrc" "$kobj" "$GUEST/kernel.config"
    if [ -f "$kobj/.config.prev" ] && cmp -s "$kobj/.config" "$kobj/.config.prev"; then
        touch -r "$kobj/.config.prev" "$kobj/.config"
    fi
    rm -f "$kobj/.config.prev"
    check_fragment "$GUEST/kernel.config" "$kobj/.config"
    log "kernel: building Image (make -j$JOBS, log: $klog)"
    run_logged "$klog" make -C "$ksrc" O="$kobj" "${KARCH[@]}" -j"$JOBS" Image
    # gen_init_cpio (host tool) packs the initramfs without root rights.
    gcc -O2 -o "$kw/gen_init_cpio" "$ksrc/usr/gen_init_cpio.c"
    mkdir -p "$out"
    cp "$kobj/arch/riscv/boot/Image" "$kobj/vmlinux" "$kobj/System.map" "$out/"
    cp "$kobj/.config" "$out/kernel.config"
    cp "$kw/gen_init_cpio" "$out/.gen_init_cpio"
    # RISC-V Image header: magic "RISCV" at 0x30 and "RSC\x05" at 0x38
    # (file(1) 5.44 does not know the format yet).
    if [ "$(tail -c +49 "$out/Image" | head -c 5)" != RISCV ] ||
        [ "$(tail -c +57 "$out/Image" | head -c 3)" != RSC ]; then
        die "Image lacks the RISC-V Image header"
    fi
    check_rv32_elf "$out/vmlinux"
    stage_done kernel
}

# ---------------------------------------------------------------------------
# Stage: busybox
# ---------------------------------------------------------------------------
build_busybox() { # outdir
    local out="$1" bw="$WORK/busybox-${BUSYBOX_VERSION//:/_}"  # no ":" in make paths
    local bsrc="$bw/src" bobj="$bw/obj"
    local bmake=(make -C "$bobj" CC="$GUEST/zig-cc" AR="$GUEST/zig-ar" HOSTCC=gcc
                 STRIP=riscv64-linux-gnu-strip CROSS_COMPILE= SKIP_STRIP=n)
    stage_t0
    if [ ! -f "$bsrc/.semu-unpacked" ]; then
        log "busybox: unpacking Debian source $BUSYBOX_VERSION (dpkg-source -x, Debian patches applied)"
        rm -rf "$bw"
        mkdir -p "$bw"
        run_logged "$WORK/logs/busybox-unpack.log" \
            dpkg-source -x "$(ls "$CACHE"/src/busybox/busybox_*.dsc)" "$bsrc"
        touch "$bsrc/.semu-unpacked"
    fi
    # clang (zig cc) assumes a `*const` global never changes, even across the asm barrier that
    # busybox 1.35's ASSIGN_CONST_PTR uses, and keeps using the NULL it read before the
    # assignment: wget segfaulted at 0x60. Declare the "const" globals pointers writable.
    # (Idempotent: on an already patched tree grep finds nothing and exits 1,
    # which must not end the script under pipefail.)
    { grep -rlE '\*const [a-z_]*ptr_to_' "$bsrc" --include='*.[ch]' --exclude-dir=.pc || true; } |
        xargs -r sed -i -E 's/\*const ([a-z_]*ptr_to_)/*\1/g'
    mkdir -p "$bobj"
    log "busybox: configuring (defconfig + scripts/guest/busybox.config)"
    [ -f "$bobj/.config" ] && cp -p "$bobj/.config" "$bobj/.config.prev"
    run_logged "$WORK/logs/busybox-config.log" make -C "$bsrc" O="$bobj" HOSTCC=gcc defconfig
    # Apply the fragment: drop each mentioned symbol, append the fragment.
    local syms
    syms="$(sed -n -E 's/^(# )?(CONFIG_[A-Za-z0-9_]+)[= ].*/\2/p' "$GUEST/busybox.config" | paste -sd'|')"
    grep -vE "^(# )?($syms)[= ]" "$bobj/.config" >"$bobj/.config.new" || true
    grep -E '^(CONFIG_|# CONFIG_)' "$GUEST/busybox.config" >>"$bobj/.config.new"
    mv "$bobj/.config.new" "$bobj/.config"
    # shellcheck disable=SC2016
    run_logged "$WORK/logs/busybox-config.log" bash -c 'yes "" | make -C "$1" HOSTCC=gcc oldconfig' _ "$bobj"
    if [ -f "$bobj/.config.prev" ] && cmp -s "$bobj/.config" "$bobj/.config.prev"; then
        touch -r "$bobj/.config.prev" "$bobj/.config"
    fi
    rm -f "$bobj/.config.prev"
    check_fragment "$GUEST/busybox.config" "$bobj/.config"
    log "busybox: building (zig cc riscv32-linux-musl, make -j$JOBS, log: $WORK/logs/busybox.log)"
    run_logged "$WORK/logs/busybox.log" "${bmake[@]}" -j"$JOBS" busybox busybox.links
    check_rv32_elf "$bobj/busybox"
    mkdir -p "$out"
    cp "$bobj/busybox" "$bobj/busybox.links" "$out/"
    cp "$bobj/.config" "$out/busybox.config"
    cp "$bsrc/examples/udhcp/simple.script" "$out/udhcpc.default.script"
    stage_done busybox
}

# ---------------------------------------------------------------------------
# Stage: guest programs
# ---------------------------------------------------------------------------
build_programs() { # outdir
    local out="$1" p
    stage_t0
    mkdir -p "$out"
    log "programs: building amofork, bench (zig cc riscv32) and bench-host (gcc -O2)"
    for p in amofork bench; do
        run_logged "$WORK/logs/programs.log" "$GUEST/zig-cc" -O2 -static -Wall -Wextra \
            -o "$out/$p" "$GUEST/programs/$p.c"
        riscv64-linux-gnu-strip --strip-debug "$out/$p"
        check_rv32_elf "$out/$p"
    done
    run_logged "$WORK/logs/programs.log" gcc -O2 -Wall -Wextra -o "$out/bench-host" "$GUEST/programs/bench.c"
    stage_done programs
}

# stage NAME HASH FUNC: run FUNC into $CACHE/stages/NAME-HASH unless cached.
stage() {
    local name="$1" h="$2" fn="$3"
    local dir="$CACHE/stages/$name-$h"
    if [ -f "$dir/.done" ]; then
        log "$name: cached ($dir)"
        TIMINGS+=("$name: cached")
    else
        rm -rf "$dir.tmp"
        "$fn" "$dir.tmp"
        touch "$dir.tmp/.done"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    STAGE_DIR[$name]="$dir"
}

# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------
# populate_common ROOT: busybox, links, programs and the common files.
populate_common() {
    local root="$1" link rel d
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/share/udhcpc,dev,proc,sys,tmp,root,etc,mnt,var,run}
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root"
    install -m 0755 "${STAGE_DIR[busybox]}/busybox" "$root/bin/busybox"
    while IFS= read -r link; do
        case "$link" in /bin/busybox|/linuxrc|"") continue ;; esac
        d="${link%/*}"
        rel="$(printf '%s' "${d#/}" | sed -E 's#[^/]+#..#g')"
        mkdir -p "$root$d"
        if [ "$d" = /bin ]; then rel=busybox; else rel="$rel/bin/busybox"; fi
        ln -sfn "$rel" "$root$link"
    done <"${STAGE_DIR[busybox]}/busybox.links"
    install -m 0755 "${STAGE_DIR[programs]}/amofork" "${STAGE_DIR[programs]}/bench" "$root/usr/bin/"
    install -m 0755 "${STAGE_DIR[busybox]}/udhcpc.default.script" "$root/usr/share/udhcpc/default.script"
    cp -R "$GUEST/rootfs/common/." "$root/"
}

fix_times() { find "$1" -exec touch -h -d "@$EPOCH" {} +; }

make_initramfs() { # stagingroot out.cpio
    local root="$1" list="$1.list" p
    {
        (cd "$root" && find . -mindepth 1 | LC_ALL=C sort) | while IFS= read -r p; do
            p="${p#.}"
            if [ -L "$root$p" ]; then
                echo "slink $p $(readlink "$root$p") 0777 0 0"
            elif [ -d "$root$p" ]; then
                echo "dir $p $(stat -c %a "$root$p") 0 0"
            elif [ -f "$root$p" ]; then
                echo "file $p $root$p $(stat -c %a "$root$p") 0 0"
            fi
        done
        # After "dir /dev": the kernel does not create missing parents.
        echo "nod /dev/console 0600 0 0 c 5 1"
        echo "nod /dev/null 0666 0 0 c 1 3"
    } >"$list"
    "${STAGE_DIR[kernel]}/.gen_init_cpio" -t "$EPOCH" "$list" >"$2"
}

make_ext4() { # stagingroot out.img
    local root="$1" img="$2" uuid p f
    uuid="$(printf '%s' "$INPUT_HASH" | sha256sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')"
    rm -f "$img"
    truncate -s 64M "$img"
    E2FSPROGS_FAKE_TIME="$EPOCH" mkfs.ext4 -q -F -L semu-root -U "$uuid" -b 4096 -I 256 \
        -E "root_owner=0:0,hash_seed=$uuid" -d "$root" "$img"
    # Device nodes (mknod needs no root in debugfs) and root ownership for
    # everything (mkfs -d copies the builder's uid/gid).
    {
        echo "cd /dev"
        echo "mknod console c 5 1"
        echo "sif /dev/console mode 020600"
        echo "mknod null c 1 3"
        echo "sif /dev/null mode 020666"
        echo "cd /"
        if [ "$(id -u)" != 0 ]; then
            (cd "$root" && find . -mindepth 1) | while IFS= read -r p; do
                p="${p#.}"
                echo "sif $p uid 0"
                echo "sif $p gid 0"
            done
        fi
        for p in /dev/console /dev/null; do
            echo "sif $p uid 0"; echo "sif $p gid 0"
            for f in atime mtime ctime crtime; do echo "sif $p $f @$EPOCH"; done
        done
    } >"$root.debugfs"
    E2FSPROGS_FAKE_TIME="$EPOCH" debugfs -w -f "$root.debugfs" "$img" >"$WORK/logs/debugfs.log" 2>&1 \
        || { cat "$WORK/logs/debugfs.log" >&2; die "debugfs failed"; }
    if grep -qiE 'error|cannot|not found|invalid' "$WORK/logs/debugfs.log"; then
        cat "$WORK/logs/debugfs.log" >&2; die "debugfs reported errors"
    fi
    e2fsck -fn "$img" >"$WORK/logs/e2fsck.log" 2>&1 || { cat "$WORK/logs/e2fsck.log" >&2; die "e2fsck found problems in $img"; }
}

# changed_outputs DIR: the files of DIR/manifest.txt's table whose size or
# sha256 differ from what the manifest recorded when they were built (or
# that are missing), one per line; nothing when all match.
changed_outputs() {
    local dir="$1" size sum name rest n=0
    while read -r size sum name rest; do
        name="${name%:}"
        n=$((n + 1))
        if [ ! -f "$dir/$name" ]; then
            echo "$name (missing)"
        elif [ "$(stat -c %s "$dir/$name")" != "$size" ] ||
            [ "$(sha256sum <"$dir/$name" | cut -c1-16)" != "$sum" ]; then
            echo "$name"
        fi
    done < <(sed -n '/^# size sha256 file/,$p' "$dir/manifest.txt" | tail -n +2)
    [ "$n" -gt 0 ] || echo "manifest.txt (lists no files)"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
main() {
    mkdir -p "$CACHE" "$WORK/logs"
    exec 9>"$CACHE/.lock"
    flock 9
    TIMINGS=()

    ensure_packages
    ensure_zig
    fetch_busybox_source
    LINUX_VERSION="${PKG_VERSION[linux-source-6.1]}"

    local script_h kernel_h busybox_h programs_h tools
    script_h="$(hash_files "$SCRIPT_PATH")"
    tools="binutils-riscv64-linux-gnu=${PKG_VERSION[binutils-riscv64-linux-gnu]}"
    kernel_h="$({ echo "$script_h"; hash_files "$GUEST/kernel.config"
        echo "linux-source-6.1=$LINUX_VERSION"
        echo "gcc-riscv64-linux-gnu=${PKG_VERSION[gcc-riscv64-linux-gnu]} $tools"; } | sha)"
    busybox_h="$({ echo "$script_h"; hash_files "$GUEST/busybox.config" "$GUEST/zig-cc" "$GUEST/zig-ar"
        echo "busybox=$BUSYBOX_VERSION zig=$ZIG_VERSION $tools"; } | sha)"
    programs_h="$({ echo "$script_h"; hash_files "$GUEST/zig-cc" "$GUEST"/programs/*
        echo "zig=$ZIG_VERSION gcc=$(gcc -dumpfullversion) $tools"; } | sha)"
    local rootfs_files=()
    mapfile -t rootfs_files < <(find "$GUEST/rootfs" -type f | LC_ALL=C sort)
    INPUT_HASH="$({ echo "$kernel_h $busybox_h $programs_h"; echo "$script_h"
        hash_files "${rootfs_files[@]}"
        # file types/targets matter too (e.g. a symlink in rootfs/)
        (cd "$GUEST/rootfs" && find . | LC_ALL=C sort)
        echo "e2fsprogs=${PKG_VERSION[e2fsprogs]} cpio=${PKG_VERSION[cpio]}"; } | sha)"

    local out="$CACHE/guest-$INPUT_HASH" link="$REPO/build/guest"
    mkdir -p "$REPO/build"
    if [ -f "$out/manifest.txt" ]; then
        # A cached output that something wrote to (say, a disk image booted
        # read-write) is never handed out: rebuild instead.
        local changed
        changed="$(changed_outputs "$out")"
        if [ -z "$changed" ]; then
            ln -sfn "$out" "$link.tmp" && mv -T "$link.tmp" "$link"
            log "using cached guest build $INPUT_HASH"
            log "build/guest -> $out"
            return
        fi
        log "cached guest build $INPUT_HASH changed after it was built (not as its manifest.txt" \
            "records: $(paste -sd',' <<<"$changed" | sed 's/,/, /g')); rebuilding it"
    else
        log "cold build of guest $INPUT_HASH (cache: $CACHE, jobs: $JOBS)"
    fi
    log "stage hashes: kernel=$kernel_h busybox=$busybox_h programs=$programs_h"

    stage kernel "$kernel_h" build_kernel
    stage busybox "$busybox_h" build_busybox
    stage programs "$programs_h" build_programs

    stage_t0
    log "images: initramfs.cpio and rootfs.ext4"
    local tmp="$out.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp "${STAGE_DIR[kernel]}"/{Image,vmlinux,System.map,kernel.config} "$tmp/"
    cp "${STAGE_DIR[busybox]}"/{busybox,busybox.config} "$tmp/"
    cp "${STAGE_DIR[programs]}"/{amofork,bench,bench-host} "$tmp/"

    local st="$WORK/staging"
    rm -rf "$st" && mkdir -p "$st"
    populate_common "$st/initramfs"
    cp -R "$GUEST/rootfs/initramfs/." "$st/initramfs/"
    populate_common "$st/ext4"
    cp -R "$GUEST/rootfs/ext4/." "$st/ext4/"
    fix_times "$st/initramfs"
    fix_times "$st/ext4"
    make_initramfs "$st/initramfs" "$tmp/initramfs.cpio"
    make_ext4 "$st/ext4" "$tmp/rootfs.ext4"
    stage_done images

    {
        echo "# semu guest build (scripts/build-guest.sh)"
        echo "input-hash: $INPUT_HASH"
        echo "stage-hashes: kernel=$kernel_h busybox=$busybox_h programs=$programs_h"
        echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "linux-source-6.1: $LINUX_VERSION"
        echo "busybox (Debian source): $BUSYBOX_VERSION"
        echo "gcc-riscv64-linux-gnu: ${PKG_VERSION[gcc-riscv64-linux-gnu]}"
        echo "binutils-riscv64-linux-gnu: ${PKG_VERSION[binutils-riscv64-linux-gnu]}"
        echo "zig (PyPI ziglang): $ZIG_VERSION"
        echo "host gcc (bench-host): $(gcc -dumpfullversion)"
        echo "initramfs.cpio: newc, uncompressed"
        echo "timings: $(join_timings)"
        echo
        echo "# size sha256 file: description"
        local f desc
        for f in Image vmlinux System.map kernel.config busybox busybox.config amofork bench bench-host \
                 initramfs.cpio rootfs.ext4; do
            case "$f" in
                Image) desc="RV32 Linux kernel image (arch/riscv/boot/Image)" ;;
                vmlinux) desc="unstripped kernel ELF with symbols (for gdb)" ;;
                System.map) desc="kernel symbol map" ;;
                kernel.config) desc="full kernel .config" ;;
                busybox) desc="static RV32 busybox (musl, zig cc)" ;;
                busybox.config) desc="full busybox .config" ;;
                amofork) desc="guest test: AMO after fork on a copy-on-write page" ;;
                bench) desc="guest CPU benchmark (riscv32, static)" ;;
                bench-host) desc="same benchmark built for the host (gcc -O2)" ;;
                initramfs.cpio) desc="busybox initramfs, newc, uncompressed" ;;
                rootfs.ext4) desc="ext4 root (64 MiB), busybox init" ;;
            esac
            printf '%10s %s %s: %s\n' "$(stat -c %s "$tmp/$f")" \
                "$(sha256sum <"$tmp/$f" | cut -c1-16)" "$f" "$desc"
        done
    } >"$tmp/manifest.txt"
    rm -rf "$out" && mv "$tmp" "$out"
    ln -sfn "$out" "$link.tmp" && mv -T "$link.tmp" "$link"
    log "done: build/guest -> $out"
    log "timings: $(join_timings)"
}

main "$@"
