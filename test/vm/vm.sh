#!/usr/bin/env bash
# test/vm/vm.sh — runs a command as root in a throw-away QEMU VM booting Debian's stock kernel
# (linux-image-amd64: 6.1 with kprobes, fentry/fexit and BTF), for the probe kinds this host lacks.
# The host's / is the guest's root (9p, read-only, with a tmpfs overlay for writes); the command's
# stdout, stderr and exit code come back through a shared run directory.
#
#   test/vm/vm.sh --setup        fetch the kernel and build the initramfs (idempotent), then exit
#   test/vm/vm.sh 'command'      run `bash -c command` in the guest (cwd = caller's cwd)
#
# Exit: the command's code; 124 when the VM timed out; 125 when the VM failed to produce a result.
# Knobs: VM_CACHE (default /var/cache/bpfkit-vm), VM_TIMEOUT (s, default 600), VM_MEM (MiB, 1536),
#        VM_CPUS (default 2), VM_ENV (names of variables to pass into the guest), VM_DEBUG=1 (console).
set -euo pipefail

VM_CACHE=${VM_CACHE:-/var/cache/bpfkit-vm}
VM_TIMEOUT=${VM_TIMEOUT:-600}
VM_MEM=${VM_MEM:-1536}
VM_CPUS=${VM_CPUS:-2}
# What the initramfs needs to reach the 9p root (absent from modules.dep = built in).
MODULES="virtio_pci 9pnet_virtio 9p overlay"

die() { echo "vm: $*" >&2; exit 125; }
[ "$(id -u)" = 0 ] || die "must run as root"

setup() {
  mkdir -p "$VM_CACHE"
  exec 8>"$VM_CACHE/.lock"; flock 8
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86 is not installed (run ./setup.sh)"
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || die "a static /bin/busybox is needed (busybox-static)"
  KERNEL=$(ls "$VM_CACHE"/kernel/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$KERNEL" ]; then
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || { apt-get update -qq >/dev/null; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); }
    [ -n "$pkg" ] || die "cannot find Debian's linux-image-amd64"
    echo "vm: fetching $pkg (apt-get download)" >&2
    rm -rf "$VM_CACHE/dl" "$VM_CACHE/kernel.tmp"; mkdir -p "$VM_CACHE/dl"
    (cd "$VM_CACHE/dl" && apt-get download -q "$pkg" >/dev/null) || die "cannot download $pkg"
    dpkg-deb -x "$VM_CACHE"/dl/*.deb "$VM_CACHE/kernel.tmp"
    local ver; ver=$(ls "$VM_CACHE/kernel.tmp/lib/modules")
    /bin/busybox depmod -b "$VM_CACHE/kernel.tmp" "$ver"
    mv "$VM_CACHE/kernel.tmp" "$VM_CACHE/kernel"; rm -rf "$VM_CACHE/dl"
    KERNEL=$(ls "$VM_CACHE"/kernel/boot/vmlinuz-* | sort -V | tail -1)
  fi
  MODDIR=$VM_CACHE/kernel/lib/modules/${KERNEL##*/vmlinuz-}
  INITRD=$VM_CACHE/initrd.img
  local stamp; stamp=$(cat "$0" "$MODDIR/modules.dep" | sha1sum | cut -c1-16)
  if [ "$(cat "$INITRD.stamp" 2>/dev/null)" != "$stamp" ]; then build_initrd; echo "$stamp" > "$INITRD.stamp"; fi
  flock -u 8
}

build_initrd() {
  local d=$VM_CACHE/initrd.d
  rm -rf "$d"; mkdir -p "$d/bin" "$d/mod"
  cp /bin/busybox "$d/bin/busybox"
  : > "$d/mod/order"
  add() {   # a module after its dependencies
    local rel=$1 dep
    grep -qxF "$(basename "$rel")" "$d/mod/order" && return
    for dep in $(grep -m1 "^$rel:" "$MODDIR/modules.dep" | cut -d: -f2-); do add "$dep"; done
    cp "$MODDIR/$rel" "$d/mod/"; basename "$rel" >> "$d/mod/order"
  }
  local m rel
  for m in $MODULES; do
    rel=$(grep -m1 -E "(^|/)$m\.ko(\.xz|\.gz|\.zst)?:" "$MODDIR/modules.dep" | cut -d: -f1 || true)
    [ -n "$rel" ] && add "$rel"
  done
  cat > "$d/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /lower /upper /root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do
  case $m in *.xz) xz -dc /mod/$m > /m.ko;; *.gz) gzip -dc /mod/$m > /m.ko;; *) cp /mod/$m /m.ko;; esac
  insmod /m.ko || echo "vm-init: insmod $m failed"; rm -f /m.ko
done
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $O,ro,cache=loose host /lower || { echo "vm-init: cannot mount the host root"; poweroff -f; }
mount -t tmpfs tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /root
mkdir -p /root/run/vm; mount -t 9p -o $O,cache=none run /root/run/vm
mount --move /dev /root/dev; mount --move /proc /root/proc; mount --move /sys /root/sys
mount -t tracefs tracefs /root/sys/kernel/tracing; mount -t debugfs debugfs /root/sys/kernel/debug
mount -t bpf bpf /root/sys/fs/bpf;
mkdir -p /root/dev/pts /root/dev/shm; mount -t devpts devpts /root/dev/pts; mount -t tmpfs tmpfs /root/dev/shm
cp /bin/busybox /root/run/busybox
exec switch_root /root /run/busybox sh /run/vm/stage2
EOF
  chmod +x "$d/init"
  (cd "$d" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"; rm -rf "$d"
}

setup
[ "${1:-}" = --setup ] && { echo "vm: ready (kernel ${KERNEL##*/})" >&2; exit 0; }
[ $# -ge 1 ] || die "usage: $0 --setup | 'command'"

RUN=$(mktemp -d "$VM_CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
printf 'cd %q || exit 125\n%s\n' "$PWD" "$*" > "$RUN/cmd"
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
  for v in ${VM_ENV:-}; do [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"; done
} > "$RUN/env"
cat > "$RUN/stage2" <<'EOF'
. /run/vm/env
/run/busybox date -s "@$(/run/busybox stat -c %Y /run/vm/cmd)" >/dev/null 2>&1
/bin/bash /run/vm/cmd > /run/vm/out 2> /run/vm/err < /dev/null
echo $? > /run/vm/rc
/run/busybox sync
/run/busybox poweroff -f
EOF

set +e
timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -nic none \
  -machine q35 -accel tcg,thread=multi -cpu max -smp "$VM_CPUS" -m "$VM_MEM" \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off nokaslr" \
  -chardev file,id=con,path="$RUN/console" -serial chardev:con \
  -fsdev local,id=host,path=/,readonly=on,security_model=none,multidevs=remap -device virtio-9p-pci,fsdev=host,mount_tag=host \
  -fsdev local,id=run,path="$RUN",security_model=none -device virtio-9p-pci,fsdev=run,mount_tag=run \
  </dev/null >"$RUN/qemu.log" 2>&1
qrc=$?
set -e
cat "$RUN/out" 2>/dev/null || true
cat "$RUN/err" >&2 2>/dev/null || true
[ -n "${VM_DEBUG:-}" ] && { echo "--- console" >&2; cat "$RUN/console" >&2; }
if [ -s "$RUN/rc" ]; then exit "$(cat "$RUN/rc")"; fi
[ $qrc = 124 ] && { echo "vm: timed out after ${VM_TIMEOUT}s" >&2; exit 124; }
echo "vm: the VM ended without a result (qemu exit $qrc)" >&2; tail -n 30 "$RUN/console" "$RUN/qemu.log" >&2
exit 125
