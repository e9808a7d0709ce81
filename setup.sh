#!/usr/bin/env bash
# Installs everything bpfkit needs (apt + npm), mounts tracefs, builds the JS and pre-compiles every
# tool's BPF object. Idempotent; quiet when there is nothing to do. Run as root.
set -euo pipefail
cd "$(dirname "$0")"
say() { echo "setup: $*"; }
[ "$(id -u)" = 0 ] || { echo "setup: run as root (sudo ./setup.sh)" >&2; exit 1; }

APT_PACKAGES="clang llvm libbpf-dev libbpf1 bpftool libbpf-tools bpftrace gcc make systemtap-sdt-dev \
  qemu-system-x86 busybox-static xz-utils cpio"
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

# tracefs: tracepoint formats and events
if [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || say "warning: cannot mount tracefs"
fi

# The tools' shebang is `#!/usr/bin/env bpfkit-node`; `bpfkit` is the catalogue and launcher.
for link in bpfkit-node:bin/bpfkit-node.mjs bpfkit:bin/bpfkit; do
  target="$PWD/${link#*:}"; dest="/usr/local/bin/${link%%:*}"
  [ "$(readlink "$dest" 2>/dev/null)" = "$target" ] || { ln -sfn "$target" "$dest"; say "linked $dest"; }
done

# JS build + BPF objects of every tool into the compile cache (skipped when current)
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find lib tools bin bpf-c package.json -newer "$stamp" -type f 2>/dev/null | head -1)" ]; then
  say "building"
  npm run -s build
  touch "$stamp"
fi

# The kprobe/fentry VM lane: Debian's stock kernel and an initramfs, cached in /var/cache/bpfkit-vm
# quiet when ready; a failure here only warns: the host's tests do not need the VM
if ! vm_out=$(test/vm/vm-run.sh --setup 2>&1); then
  printf '%s\n' "$vm_out"
  say "warning: the kprobe/fentry VM lane could not be prepared (see above)"
fi
