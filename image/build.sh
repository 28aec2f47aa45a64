#!/usr/bin/env bash
# Builds the box's OS image: Debian bookworm, the relais binary and its
# systemd unit, a read-only root in two RAUC slots (A/B) and a writable
# data partition for the store. See image/README.md.
#
#   image/build.sh [amd64|arm64]         build image/out/ARCH/disk.img
#   image/build.sh amd64 --boot          ... then boot it in QEMU and wait
#                                          for the daemon on the serial console
#   RELAIS_BIN=path image/build.sh ...   use that relais binary, build none
#
# Idempotent: the Debian base is cached in image/out/ARCH/base.tar, keyed by
# the package list, suite and architecture; everything after it is rebuilt
# from scratch on each run. Needs root (file ownership inside the image),
# mmdebstrap, e2fsprogs, fdisk; --boot needs qemu-system-x86. No loop
# device and no mount: file systems are filled with `mkfs.ext4 -d`.
set -euo pipefail

ARCH="${1:-amd64}"
BOOT="${2:-}"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
OUT="$HERE/out/$ARCH"
SUITE=bookworm
ROOT_MB=1024          # each root slot
DATA_MB=512           # the store's partition (grown on a real box)
BOOT_TIMEOUT="${BOOT_TIMEOUT:-300}"

case "$ARCH" in
    amd64) KERNEL=linux-image-amd64; RUST_TARGET=x86_64-unknown-linux-gnu ;;
    arm64) KERNEL=linux-image-arm64; RUST_TARGET=aarch64-unknown-linux-gnu ;;
    *) echo "build.sh: unknown architecture $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac

# Reproducible: every time stamp written into the image is the last commit's.
SOURCE_DATE_EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 1733270400)"
export SOURCE_DATE_EPOCH
export E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH"
# Fixed ids so two builds of the same inputs give the same bytes.
DISK_GUID=5b0a3c52-7e11-4d7c-9f62-52454c414953
UUID_A=5b0a3c52-0000-4000-8000-00000000000a
UUID_B=5b0a3c52-0000-4000-8000-00000000000b
UUID_DATA=5b0a3c52-0000-4000-8000-0000000000da
HASH_SEED=5b0a3c52-0000-4000-8000-000000000ff0

PACKAGES="systemd,systemd-sysv,udev,dbus,kmod,initramfs-tools,$KERNEL,rauc,ca-certificates,e2fsprogs,iproute2,procps,less"

step() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
START=$(date +%s)
mkdir -p "$OUT"

# 1. The Debian base, from the machine's configured Debian mirror.
key="$(printf '%s|%s|%s' "$SUITE" "$ARCH" "$PACKAGES" | sha256sum | cut -c1-16)"
if [ ! -f "$OUT/base.tar" ] || [ "$(cat "$OUT/base.key" 2>/dev/null)" != "$key" ]; then
    step "debootstrapping $SUITE/$ARCH (mmdebstrap)"
    rm -f "$OUT/base.tar" "$OUT/base.key"
    # A foreign architecture runs its maintainer scripts under qemu-user
    # (binfmt_misc); mmdebstrap says so and stops when that is missing.
    mmdebstrap --variant=minbase --format=tar --architectures="$ARCH" \
        --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/{doc,man,locale}/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" > "$1/packages.txt"' \
        "$SUITE" "$OUT/base.tar.part"
    mv "$OUT/base.tar.part" "$OUT/base.tar"
    echo "$key" > "$OUT/base.key"
else
    step "base cached ($OUT/base.tar)"
fi

# 2. The relais binary: the box build, without the demo.
# RELAIS_BIN=path takes a binary built elsewhere as it is. Otherwise amd64
# is this machine's own: the shared target/release, as packaging/ uses.
if [ -n "${RELAIS_BIN:-}" ]; then
    BIN="$RELAIS_BIN"
elif [ "$ARCH" = amd64 ]; then
    BIN="$REPO/target/release/relais"
    step "building relais (release, no demo)"
    (cd "$REPO" && cargo build --release --locked -p relais --no-default-features -q)
else
    BIN="$REPO/target/$RUST_TARGET/release/relais"
fi
if [ ! -x "$BIN" ]; then
    echo "build.sh: no $BIN; cross-build it first (see image/README.md)" >&2
    exit 1
fi

# 3. The root file system: base + relais + configuration.
# TODO: install the relais .deb from packaging/ (cargo deb) instead of the
# loose binary and unit once that package is finished; until then the
# image does by hand what the package's scripts do (user, unit, config).
step "assembling the root file system"
ROOTFS="$OUT/rootfs"
rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
tar -C "$ROOTFS" -xf "$OUT/base.tar"
mv "$ROOTFS/packages.txt" "$OUT/packages.txt"
install -m 0755 "$BIN" "$ROOTFS/usr/bin/relais"
install -D -m 0644 "$REPO/systemd/relais.service" "$ROOTFS/usr/lib/systemd/system/relais.service"
install -D -m 0644 "$REPO/systemd/relais.sysusers" "$ROOTFS/usr/lib/sysusers.d/relais.conf"
install -D -m 0644 "$HERE/files/relais.toml" "$ROOTFS/etc/relais/relais.toml"
install -D -m 0644 "$HERE/rauc/system.conf" "$ROOTFS/etc/rauc/system.conf"
install -D -m 0644 "$HERE/rauc/rauc-mark-good.service" \
    "$ROOTFS/usr/lib/systemd/system/rauc-mark-good.service"
install -D -m 0644 "$HERE/files/fstab" "$ROOTFS/etc/fstab"
install -D -m 0644 "$HERE/files/journald-volatile.conf" \
    "$ROOTFS/etc/systemd/journald.conf.d/volatile.conf"
# The fleet's update key (public half only), as `relais update` reads it.
# Without image/keys/update.pub, a throw-away development key made here:
# an image built with it must never leave the lab.
KEY="$HERE/keys/update.pub"
if [ ! -f "$KEY" ]; then
    KEY="$OUT/dev-update.pub"
    if [ ! -f "$KEY" ]; then
        step "no image/keys/update.pub: making a development update key in $OUT"
        "$BIN" update keygen --private "$OUT/dev-update.key" --public "$KEY"
    fi
fi
install -D -m 0644 "$KEY" "$ROOTFS/etc/relais/update.pub"
echo relais-box > "$ROOTFS/etc/hostname"
# Read-only root: systemd puts a fresh machine id on a tmpfs at each boot.
: > "$ROOTFS/etc/machine-id"
# Users from sysusers.d now: the root cannot be written at boot.
systemd-sysusers --root="$ROOTFS"
systemctl --root="$ROOTFS" enable relais.service rauc-mark-good.service >/dev/null 2>&1
systemctl --root="$ROOTFS" mask systemd-firstboot.service systemd-random-seed.service >/dev/null 2>&1
# Serial console login prompt for QEMU and for a box's debug header.
systemctl --root="$ROOTFS" enable serial-getty@ttyS0.service >/dev/null 2>&1 || true
mkdir -p "$ROOTFS/data" "$ROOTFS/var/lib/relais" "$ROOTFS/srv/erp"
install -d "$OUT/boot"
cp -L "$ROOTFS/vmlinuz" "$OUT/boot/vmlinuz"
cp -L "$ROOTFS/initrd.img" "$OUT/boot/initrd.img"

# The data partition: the store's folder and the ERP share's stand-in,
# owned by the service user.
DATA="$OUT/data"
rm -rf "$DATA" && mkdir -p "$DATA/relais" "$DATA/erp/import" "$DATA/erp/export"
owner="$(grep '^relais:' "$ROOTFS/etc/passwd" | cut -d: -f3,4)"
chown -R "$owner" "$DATA/relais" "$DATA/erp"
chmod 0750 "$DATA/relais"
: > "$DATA/erp/clients.csv"
chown "$owner" "$DATA/erp/clients.csv"
find "$ROOTFS" "$DATA" -newermt "@$SOURCE_DATE_EPOCH" -print0 \
    | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

# 4. File systems and the disk, without loop devices or mounts.
step "making file systems"
rm -f "$OUT"/*.ext4 "$OUT/disk.img" "$OUT/boot-test.img" "$OUT/qemu-monitor.sock"
mkfs.ext4 -q -L rootfs.0 -U "$UUID_A" -E "hash_seed=$HASH_SEED" -d "$ROOTFS" \
    "$OUT/rootfs.ext4" "${ROOT_MB}M"
mkfs.ext4 -q -L relais-data -U "$UUID_DATA" -E "hash_seed=$HASH_SEED" -d "$DATA" \
    "$OUT/data.ext4" "${DATA_MB}M"
# mke2fs 1.47.0 copies each file's ctime and atime (the build reads every
# file, and no tool sets a ctime on the source folder): set both inside the
# image to the same time stamp.
clamp_ctime() {
    { echo /; echo /lost+found; (cd "$2" && find . -mindepth 1) | sed -e 's|^\.||'; } \
        | sed -e "s|.*|sif \"&\" ctime @$SOURCE_DATE_EPOCH\nsif \"&\" atime @$SOURCE_DATE_EPOCH|" \
        > "$OUT/ctime.cmds"
    debugfs -w -f "$OUT/ctime.cmds" "$1" >/dev/null 2>"$OUT/ctime.err" || {
        cat "$OUT/ctime.err" >&2; return 1; }
}
clamp_ctime "$OUT/rootfs.ext4" "$ROOTFS"
clamp_ctime "$OUT/data.ext4" "$DATA"
step "partitioning disk.img"
total=$((1 + ROOT_MB * 2 + DATA_MB + 1))
truncate -s "${total}M" "$OUT/disk.img"
sfdisk -q "$OUT/disk.img" <<PART
label: gpt
label-id: $DISK_GUID
first-lba: 2048
start=1MiB, size=${ROOT_MB}MiB, type=linux, name=rootfs.0, uuid=$UUID_A
size=${ROOT_MB}MiB, type=linux, name=rootfs.1, uuid=$UUID_B
size=${DATA_MB}MiB, type=linux, name=relais-data, uuid=$UUID_DATA
PART
# Slot B starts empty: the first update writes it.
dd if="$OUT/rootfs.ext4" of="$OUT/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$OUT/data.ext4" of="$OUT/disk.img" bs=1M seek=$((1 + ROOT_MB * 2)) \
    conv=notrunc,sparse status=none
(cd "$OUT" && sha256sum disk.img boot/vmlinuz boot/initrd.img > SHA256SUMS)
step "built $OUT/disk.img in $(( $(date +%s) - START )) s"

[ "$BOOT" = --boot ] || exit 0

# 5. Boot it and wait for the daemon's start on the serial console.
[ "$ARCH" = amd64 ] || { echo "build.sh: --boot is for amd64" >&2; exit 2; }
step "booting in QEMU (timeout ${BOOT_TIMEOUT} s)"
# Software emulation by default: on this workplace's machines (themselves
# virtual) /dev/kvm exists but a KVM guest hangs right after the kernel's
# "Probing EDD"; QEMU_ACCEL=kvm uses it where it works.
accel="${QEMU_ACCEL:-tcg}"
cpu=max
[ "$accel" = kvm ] && cpu=host
LOG="$OUT/serial.log"
: > "$LOG"
# A copy, so the booted disk does not change the built image.
cp --sparse=always "$OUT/disk.img" "$OUT/boot-test.img"
qemu-system-x86_64 -machine q35,accel="$accel" -cpu "$cpu" -m 1024 -smp 2 -nographic \
    -no-reboot -kernel "$OUT/boot/vmlinuz" -initrd "$OUT/boot/initrd.img" \
    -append "root=PARTLABEL=rootfs.0 ro rauc.slot=A console=ttyS0 panic=-1" \
    -drive file="$OUT/boot-test.img",format=raw,if=virtio \
    -serial "file:$LOG" -monitor "unix:$OUT/qemu-monitor.sock,server,nowait" \
    -display none -nic none &
QEMU=$!
trap 'kill "$QEMU" 2>/dev/null || true' EXIT
deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
result=1
# systemd colours its status lines: compare without the escape codes.
plain() { sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "$LOG"; }
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$QEMU" 2>/dev/null; do
    if plain | grep -q 'Started relais\.service'; then result=0; break; fi
    if plain | grep -q 'Failed to start relais\.service'; then break; fi
    sleep 1
done
# Power off as a box's button would: systemd stops relais (SIGTERM: it
# drains) before the data partition is unmounted.
if [ "$result" = 0 ]; then
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"system_powerdown\n")' \
        "$OUT/qemu-monitor.sock" 2>/dev/null || true
    stop_deadline=$(( $(date +%s) + 120 ))
    while kill -0 "$QEMU" 2>/dev/null && [ "$(date +%s)" -lt "$stop_deadline" ]; do sleep 1; done
fi
kill "$QEMU" 2>/dev/null || true
wait "$QEMU" 2>/dev/null || true
plain | grep -E 'relais|rauc|/data|/srv/erp|Power down|Kernel panic' | tail -n 24 || true
# What the daemon left on the data partition, read without mounting it.
dd if="$OUT/boot-test.img" of="$OUT/booted-data.ext4" bs=1M skip=$((1 + ROOT_MB * 2)) \
    count="$DATA_MB" status=none
echo "data partition after the boot, /relais:"
debugfs -R "ls -l /relais" "$OUT/booted-data.ext4" 2>/dev/null || true
rm -f "$OUT/booted-data.ext4"
if [ "$result" = 0 ]; then
    step "booted: relais.service started ($accel, $(( $(date +%s) - START )) s in all)"
else
    step "the daemon did not start within ${BOOT_TIMEOUT} s: see $LOG"
fi
exit "$result"
