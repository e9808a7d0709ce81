#!/usr/bin/env bash
# test/vm/vm-run.sh — run one command as root inside a throw-away QEMU VM that boots one of Debian 12's
# kernels, for the probe kinds the host kernel may lack:
#   6.1   the stock kernel (linux-image-amd64): kprobes, fentry/fexit, BTF; no CONFIG_FPROBE, no IBT
#   6.12  Debian 12's 6.12 (linux-image-6.12-amd64): the same plus CONFIG_FPROBE (kprobe.multi
#         links) and CONFIG_X86_KERNEL_IBT
# The guest's root file system is the host's / (9p, read-only) under a tmpfs overlay, so every host
# file is visible and writes are thrown away with the VM; the kernel's config is at /boot/config-$(uname -r).
#
#   test/vm/vm-run.sh --setup          fetch every kernel, build their initramfs (idempotent), then exit
#   test/vm/vm-run.sh 'command ...'    run it with bash in the guest, in the caller's working directory
#
# The command's stdout and stderr stream back live (virtio-serial ports); the exit code is the
# command's, or 124 when the VM timed out, 125 when the VM itself failed (the console's tail is then
# printed), 130/143 when this script was interrupted (the VM is killed).
#
# Guest: PATH, HOME=/root, LANG=C.UTF-8, stdin /dev/null; proc, sysfs, devtmpfs, devpts, /dev/shm,
# tmpfs /run, tracefs, debugfs, bpffs, cgroup2 mounted; loopback up; no network; clock = host's.
#
# Knobs (environment):
#   VM_KERNEL   which kernel to boot: 6.1 (default) or 6.12; with --setup, only that one is prepared
#   VM_CACHE    kernels, initramfs and run dirs (default /var/cache/bpfkit-vm)
#   VM_TIMEOUT  seconds before the VM is killed (default 900)
#   VM_CPUS     vCPUs (default: host CPUs, at most 4)          VM_MEM  MiB (default 1536)
#   VM_ACCEL    auto | kvm | tcg (auto: kvm when /dev/kvm is usable, else software emulation)
#   VM_RW       host directories (space-separated) shared read-write at the same path
#   VM_PASSENV  names (space-separated) of host variables exported into the guest
#   VM_KEEP=1   keep the run dir (console.log, qemu.log)     VM_CONSOLE=1  console to stderr after
#   VM_TIMING=1 print boot and total times to stderr         VM_APPEND     extra kernel command line
set -euo pipefail

VM_CACHE=${VM_CACHE:-/var/cache/bpfkit-vm}
VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_MEM=${VM_MEM:-1536}
VM_ACCEL=${VM_ACCEL:-auto}
# The kernels, by name: the Debian package whose dependency is the versioned image to boot.
KERNELS="6.1=linux-image-amd64 6.12=linux-image-6.12-amd64"
if [ -z "${VM_CPUS:-}" ]; then VM_CPUS=$(nproc); [ "$VM_CPUS" -le 4 ] || VM_CPUS=4; fi
# What the initramfs must load to reach the 9p root and the output ports (built-ins are skipped).
MODULES="virtio_pci 9pnet_virtio 9p overlay virtio_console"

die() { echo "vm-run: $*" >&2; exit 125; }
note() { echo "vm-run: $*" >&2; }

# ------------------------------------------------------------------------------------------ setup
setup() {
  mkdir -p "$VM_CACHE"
  exec 8>"$VM_CACHE/.lock"
  flock 8
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
  find_busybox
  prepare_kernel "$1"
  flock -u 8
  exec 8>&-
}

# Sets KNAME KDIR KERNEL KVER MODDIR BOOT INITRD for the kernel named $1, fetching and building what is missing.
prepare_kernel() {
  KNAME=$1
  local meta
  meta=$(kernel_meta "$KNAME") || die "VM_KERNEL must be one of: $(kernel_names)"
  # the stock kernel keeps the directory earlier versions of this script (and other checkouts) use
  if [ "$KNAME" = 6.1 ]; then KDIR=$VM_CACHE/kernel; else KDIR=$VM_CACHE/kernel-$KNAME; fi
  find_kernel "$meta"
  # Booting the uncompressed ELF through its PVH entry skips the xz decompression, seconds under TCG.
  BOOT=$KERNEL
  local elf=$VM_CACHE/vmlinux-$KVER
  if [ ! -s "$elf" ]; then extract_vmlinux "$KERNEL" "$elf" || true; fi
  [ -s "$elf" ] && BOOT=$elf
  INITRD=$VM_CACHE/initrd-$KVER.img
  local stamp
  stamp=$( { sha1sum "$0" "$BUSYBOX" | cut -d' ' -f1; echo "$MODULES $KVER"; } | sha1sum | cut -c1-16)
  if [ ! -s "$INITRD" ] || [ "$(cat "$INITRD.stamp" 2>/dev/null)" != "$stamp" ]; then
    build_initrd
    echo "$stamp" > "$INITRD.stamp"
  fi
}

kernel_names() { local k; for k in $KERNELS; do printf '%s ' "${k%%=*}"; done; }
kernel_meta() { local k; for k in $KERNELS; do [ "${k%%=*}" != "$1" ] || { echo "${k#*=}"; return 0; }; done; return 1; }

# A statically linked busybox (it runs before the root file system exists): the host's, or
# busybox-static's, unpacked into the cache.
find_busybox() {
  local b
  for b in /bin/busybox /usr/bin/busybox "$VM_CACHE/busybox/bin/busybox"; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; return; fi
  done
  note "fetching busybox-static (apt-get download)"
  local dl=$VM_CACHE/dl; rm -rf "$dl"; mkdir -p "$dl"; chown _apt "$dl" 2>/dev/null || true
  (cd "$dl" && apt-get download -q busybox-static >/dev/null 2>&1) \
    || { apt-get update -qq >/dev/null 2>&1; (cd "$dl" && apt-get download -q busybox-static >/dev/null); } \
    || die "cannot download busybox-static"
  rm -rf "$VM_CACHE/busybox"; dpkg-deb -x "$dl"/busybox-static_*.deb "$VM_CACHE/busybox"; rm -rf "$dl"
  BUSYBOX=$VM_CACHE/busybox/bin/busybox
}

# A Debian kernel: the versioned package that $1 (a meta package) depends on, unpacked into $KDIR with
# its modules (depmod'ed so the guest's modprobe works). Reused when present.
find_kernel() {
  local meta=$1
  KERNEL=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$KERNEL" ]; then
    local pkg
    pkg=$(kernel_package "$meta")
    if [ -z "$pkg" ]; then apt-get update -qq >/dev/null 2>&1 || true; pkg=$(kernel_package "$meta"); fi
    [ -n "$pkg" ] || die "apt knows no $meta (is this Debian 12, with its sources configured?)"
    note "fetching $pkg (apt-get download, ~100 MB, ~400 MB unpacked into $KDIR)"
    local dl=$VM_CACHE/dl-$KNAME; rm -rf "$dl" "$KDIR.tmp"; mkdir -p "$dl"; chown _apt "$dl" 2>/dev/null || true
    (cd "$dl" && apt-get download -q "$pkg" >/dev/null) || die "cannot download $pkg"
    dpkg-deb -x "$dl"/"$pkg"_*.deb "$KDIR.tmp" || die "cannot unpack $pkg"
    local ver; ver=$(ls "$KDIR.tmp/lib/modules" | head -1)
    "$BUSYBOX" depmod -b "$KDIR.tmp" "$ver" || die "depmod failed for $ver"
    mv "$KDIR.tmp" "$KDIR"; rm -rf "$dl"
    KERNEL=$(ls "$KDIR"/boot/vmlinuz-* | sort -V | tail -1)
  fi
  KVER=${KERNEL##*/vmlinuz-}
  MODDIR=$KDIR/lib/modules/$KVER
  [ -r "$MODDIR/modules.dep" ] || die "no modules.dep in $MODDIR (remove $KDIR and retry)"
}

kernel_package() {
  apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# The bzImage carries a compressed stream (xz for 6.1, zstd for 6.12) whose content is the ELF vmlinux;
# the decompressor complains about the bytes after the stream, so its exit code is ignored and the ELF
# magic is checked instead.
extract_vmlinux() {
  local img=$1 out=$2 magic tool at
  for magic in xz:$'\xfd7zXZ\x00' zstd:$'\x28\xb5\x2f\xfd'; do
    tool=${magic%%:*}
    command -v "$tool" >/dev/null || continue
    at=$(LC_ALL=C grep -obUa "${magic#*:}" "$img" | head -1 | cut -d: -f1)
    [ -n "$at" ] || continue
    tail -c +$((at + 1)) "$img" | "$tool" -dc > "$out.tmp" 2>/dev/null || true
    if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then mv "$out.tmp" "$out"; return 0; fi
    rm -f "$out.tmp"
  done
  return 1
}

build_initrd() {
  local d=$VM_CACHE/initrd.d
  rm -rf "$d"; mkdir -p "$d/bin" "$d/mod"
  cp "$BUSYBOX" "$d/bin/busybox"
  : > "$d/mod/order"
  local -A added=()
  add_module() {   # $1 relative to MODDIR; its dependencies first
    local rel=$1 dep
    [ -z "${added[$rel]:-}" ] || return 0
    added[$rel]=1
    for dep in $(grep -m1 "^$rel:" "$MODDIR/modules.dep" | cut -d: -f2-); do add_module "$dep"; done
    cp "$MODDIR/$rel" "$d/mod/"
    basename "$rel" >> "$d/mod/order"
  }
  local m rel
  for m in $MODULES; do
    rel=$(grep -m1 -E "(^|/)$m\.ko(\.xz|\.gz|\.zst)?:" "$MODDIR/modules.dep" | cut -d: -f1 || true)
    [ -z "$rel" ] || add_module "$rel"
  done
  # Stage 1, PID 1 in the initramfs: modules, the host's root as a read-only 9p lower layer under a
  # tmpfs upper layer, the run dir and VM_RW dirs, pseudo file systems; then switch_root to stage 2.
  cat > "$d/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /lower /upper /root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
halt() { echo "vm-init: $*"; poweroff -f; }
for m in $(cat /mod/order); do
  case $m in
    *.xz) xz -dc /mod/$m > /m.ko;; *.gz) gzip -dc /mod/$m > /m.ko;; *.zst) zstd -dc /mod/$m > /m.ko;;
    *) cp /mod/$m /m.ko;;
  esac
  insmod /m.ko || echo "vm-init: insmod $m failed"
  rm -f /m.ko
done
for arg in $(cat /proc/cmdline); do
  case $arg in vm.run=*) RUN=${arg#vm.run=};; vm.rw=*) RW=${arg#vm.rw=};; vm.mod=*) MOD=${arg#vm.mod=};; esac
done
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $O,ro,cache=loose host /lower || halt "cannot mount the host's root"
mount -t tmpfs -o mode=755 tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /root || halt "cannot mount the overlay"
R=/root
mkdir -p $R$RUN; mount -t 9p -o $O,cache=none run $R$RUN || halt "cannot mount the run dir"
i=0
for p in $(echo "$RW" | tr , ' '); do
  mkdir -p $R$p; mount -t 9p -o $O,cache=none rw$i $R$p || echo "vm-init: cannot mount $p read-write"
  i=$((i + 1))
done
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -p $R/run/vm/bin; cp /bin/busybox $R/run/vm/busybox
for a in modprobe insmod rmmod lsmod modinfo; do ln -s ../busybox $R/run/vm/bin/$a; done   # where the host has no kmod
[ -x $R/sbin/modprobe ] || echo /run/vm/bin/modprobe > /proc/sys/kernel/modprobe
kv=$(uname -r)
if [ -n "$MOD" ] && [ -d $R$MOD ]; then mkdir -p $R/lib/modules/$kv; mount --bind $R$MOD $R/lib/modules/$kv; fi
for p in /sys/class/virtio-ports/*; do [ -r $p/name ] && ln -sf /dev/${p##*/} /dev/vm-$(cat $p/name); done
ip link set lo up 2>/dev/null; hostname vm
mount --move /dev $R/dev; mount --move /proc $R/proc; mount --move /sys $R/sys
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o mode=620,ptmxmode=666 devpts $R/dev/pts; mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
ln -sf /proc/self/fd $R/dev/fd
mount -t tracefs tracefs $R/sys/kernel/tracing; mount -t debugfs debugfs $R/sys/kernel/debug
mount -t bpf bpf $R/sys/fs/bpf; mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
exec switch_root $R /run/vm/busybox sh $RUN/stage2
EOF
  chmod +x "$d/init"
  (cd "$d" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$d"
}

pick_accel() {
  case $VM_ACCEL in
    kvm|tcg) echo "$VM_ACCEL";;
    auto) if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then echo kvm; else echo tcg; fi;;
    *) die "VM_ACCEL must be auto, kvm or tcg";;
  esac
}

# ------------------------------------------------------------------------------------------- main
[ "$(id -u)" = 0 ] || die "must run as root"
case ${1:-} in
  '') sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2;;
  --setup)
    for k in ${VM_KERNEL:-$(kernel_names)}; do
      setup "$k"; echo "vm-run: ready: kernel $KVER ($BOOT), initramfs $INITRD, accel $(pick_accel)" >&2
    done
    exit 0;;
  --) shift;;
esac
setup "${VM_KERNEL:-6.1}"
ACCEL=$(pick_accel)

RUN=$(mktemp -d "$VM_CACHE/run.XXXXXX")
chmod 755 "$RUN"
QPID=""; READERS=""
finish() {
  [ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true
  if [ -n "${VM_CONSOLE:-}" ] && [ -r "$RUN/console.log" ]; then echo "--- console" >&2; cat "$RUN/console.log" >&2; fi
  if [ -n "${VM_KEEP:-}" ]; then note "run dir kept: $RUN"; else rm -rf "$RUN"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Stage 2 runs as PID 1 on the final root: environment, clock, the command, its exit code, power off.
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/vm/bin HOME=/root LANG=C.UTF-8 TERM=dumb"
  for v in ${VM_PASSENV:-}; do [ -z "${!v+x}" ] || printf 'export %s=%q\n' "$v" "${!v}"; done
} > "$RUN/env"
printf 'cd %q || exit 125\n%s\n' "$PWD" "$*" > "$RUN/cmd"
cat > "$RUN/stage2" <<EOF
R=$RUN
. \$R/env
# The RTC only has whole seconds: take the host's clock from the mtime of a file written through 9p.
: > \$R/clock; /run/vm/busybox date -s "@\$(/run/vm/busybox stat -c %Y \$R/clock)" >/dev/null 2>&1
# the booted kernel's config where Debian installs it (the host's /boot has the host kernel's)
/run/vm/busybox mkdir -p /boot; /run/vm/busybox cp $KDIR/boot/config-$KVER /boot/ 2>/dev/null
OUT=/dev/vm-out; ERR=/dev/vm-err; [ -e \$OUT ] || OUT=\$R/stdout; [ -e \$ERR ] || ERR=\$R/stderr
: > \$R/started
/bin/bash \$R/cmd < /dev/null > \$OUT 2> \$ERR
echo \$? > \$R/rc
/run/vm/busybox sync
/run/vm/busybox poweroff -f
EOF

# Output ports: qemu writes each into a fifo that a reader here copies to our stdout/stderr.
mkfifo "$RUN/out" "$RUN/err"
cat "$RUN/out" & READERS="$!"
cat "$RUN/err" >&2 & READERS="$READERS $!"

RWTAGS=""
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -display none -vga none -no-reboot -nic none
  -machine q35 -smp "$VM_CPUS" -m "$VM_MEM"
  -kernel "$BOOT" -initrd "$INITRD"
  -chardev file,id=con,path="$RUN/console.log" -serial chardev:con
  -device virtio-serial-pci,id=ports
  -chardev file,id=out,path="$RUN/out" -device virtserialport,bus=ports.0,chardev=out,name=out
  -chardev file,id=err,path="$RUN/err" -device virtserialport,bus=ports.0,chardev=err,name=err
  -fsdev local,id=host,path=/,readonly=on,security_model=none,multidevs=remap
  -device virtio-9p-pci,fsdev=host,mount_tag=host
  -fsdev local,id=run,path="$RUN",security_model=none -device virtio-9p-pci,fsdev=run,mount_tag=run)
[ -r /usr/share/qemu/qboot.rom ] && QEMU+=(-bios /usr/share/qemu/qboot.rom)   # a faster firmware than SeaBIOS
if [ "$ACCEL" = kvm ]; then QEMU+=(-accel kvm -cpu host); else QEMU+=(-accel tcg,thread=multi -cpu max); fi
i=0
for p in ${VM_RW:-}; do
  p=$(realpath "$p"); [ -d "$p" ] || die "VM_RW: $p is not a directory"
  QEMU+=(-fsdev local,id=rw$i,path="$p",security_model=none -device virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i)
  RWTAGS=${RWTAGS:+$RWTAGS,}$p; i=$((i + 1))
done
APPEND="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off nokaslr vm.run=$RUN vm.mod=$MODDIR"
[ -z "$RWTAGS" ] || APPEND+=" vm.rw=$RWTAGS"
APPEND+=" ${VM_APPEND:-}"

T0=$(date +%s.%N)
timeout -k 5 "$VM_TIMEOUT" "${QEMU[@]}" -append "$APPEND" < /dev/null > "$RUN/qemu.log" 2>&1 &
QPID=$!
set +e
wait "$QPID"
QRC=$?
set -e
QPID=""
# If qemu never opened the fifos, open them here once so the readers see end-of-file.
exec 6<>"$RUN/out" 7<>"$RUN/err"; exec 6>&- 7>&-
wait $READERS 2>/dev/null || true
[ ! -s "$RUN/stdout" ] || cat "$RUN/stdout"
[ ! -s "$RUN/stderr" ] || cat "$RUN/stderr" >&2
if [ -n "${VM_TIMING:-}" ] && [ -e "$RUN/started" ]; then
  awk -v a="$ACCEL" -v t0="$T0" -v ts="$(stat -c %.9Y "$RUN/started")" -v t1="$(date +%s.%N)" \
    'BEGIN { printf "vm-run: accel %s, boot %.2f s, total %.2f s\n", a, ts - t0, t1 - t0 }' >&2
fi
if [ -s "$RUN/rc" ]; then exit "$(cat "$RUN/rc")"; fi
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then note "the VM timed out after ${VM_TIMEOUT} s (accel $ACCEL)"; RC=124
else note "the VM ended without a result (qemu exit $QRC, accel $ACCEL)"; RC=125; fi
echo "--- qemu.log" >&2; tail -n 20 "$RUN/qemu.log" >&2
echo "--- console.log (tail)" >&2; tail -n 40 "$RUN/console.log" >&2
exit "$RC"
