#!/usr/bin/env bash
# Installs everything bpfkit needs (apt + npm), mounts tracefs, builds the JS and pre-compiles every
# tool's BPF object. Idempotent; quiet when there is nothing to do. Run as root.
set -euo pipefail
cd "$(dirname "$0")"
say() { echo "setup: $*"; }
[ "$(id -u)" = 0 ] || { echo "setup: run as root (sudo ./setup.sh)" >&2; exit 1; }

APT_PACKAGES="clang llvm rustc libbpf-dev libbpf1 bpftool libbpf-tools bpftrace gcc make systemtap-sdt-dev \
  qemu-system-x86 busybox-static xz-utils cpio chromium prometheus libfuse3-dev nftables e2fsprogs"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm dependencies (package-lock.json is the source of truth)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
# the runtime is the registry's node package (pinned in package.json), installed by npm ci above
node_version=$(node_modules/node/bin/node --version 2>/dev/null || true)
case "$node_version" in
  v26.*) ;;
  *) echo "setup: node_modules/node/bin/node is not Node 26 (got '${node_version:-nothing}'): run npm ci" >&2; exit 1 ;;
esac

# tracefs: tracepoint formats and events
if [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || say "warning: cannot mount tracefs"
fi

# Node: the pinned node@26 in node_modules runs everything (tools, bpfkit, tests); the machine's node
# only runs npm. `bpfkit` on PATH is a small script that runs the most recently set-up checkout that
# still exists, so setting up (or deleting) another checkout never breaks this one.
registry=/usr/local/lib/bpfkit/checkouts
mkdir -p "${registry%/*}"
{ echo "$PWD"; grep -vxF "$PWD" "$registry" 2>/dev/null || true; } | while IFS= read -r dir; do
  if [ -x "$dir/bin/bpfkit" ]; then echo "$dir"; fi   # checkouts deleted since are dropped
done > "$registry.tmp"
mv "$registry.tmp" "$registry"
wrapper=$(cat <<'EOS'
#!/bin/sh
# bpfkit on PATH, written by a checkout's setup.sh: runs the newest set-up checkout still present.
while IFS= read -r dir; do
  [ -x "$dir/bin/bpfkit" ] && exec "$dir/bin/bpfkit" "$@"
done < /usr/local/lib/bpfkit/checkouts
echo "bpfkit: no bpfkit checkout is left (run setup.sh in one)" >&2
exit 127
EOS
)
if [ "$(cat /usr/local/bin/bpfkit 2>/dev/null)" != "$wrapper" ]; then
  rm -f /usr/local/bin/bpfkit; printf '%s\n' "$wrapper" > /usr/local/bin/bpfkit; chmod 755 /usr/local/bin/bpfkit
  say "installed /usr/local/bin/bpfkit"
fi
# an older setup linked the launcher onto PATH: tools now find theirs through their own path
[ -L /usr/local/bin/bpfkit-node ] && rm -f /usr/local/bin/bpfkit-node

# JS build + BPF objects of every tool into the compile cache (skipped when current)
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find lib tools bin bpf-c test/vm package.json -newer "$stamp" -type f 2>/dev/null | head -1)" ]; then
  say "building"
  npm run -s build
  touch "$stamp"
fi

# The kprobe/fentry VM lane: Debian 12's 6.1 and 6.12 kernels and their initramfs, cached in /var/cache/bpfkit-vm
# quiet when ready; a failure here only warns: the host's tests do not need the VM
if ! vm_out=$(test/vm/vm-run.sh --setup 2>&1); then
  printf '%s\n' "$vm_out"
  say "warning: the kprobe/fentry VM lane could not be prepared (see above)"
fi
