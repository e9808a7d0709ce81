#!/usr/bin/env bash
# npm run test:vm — the kprobe/fentry lane in Debian's 6.1 kernel under QEMU (test/vm/vm.sh).
# BPF objects are compiled here first into a cache the guest reads (clang is slow under emulation).
set -euo pipefail
cd "$(dirname "$0")/../.."
export BPFKIT_CACHE=${BPFKIT_CACHE:-/var/cache/bpfkit-vm/objects}
node_modules/.bin/tsc -p tsconfig.build.json
node dist/test/vm/lane.js --precompile
node bin/bpfkit-node.mjs bin/precompile.ts >/dev/null   # the tools, into the same cache
test/vm/vm.sh --setup
start=$(date +%s)
VM_ENV=BPFKIT_CACHE VM_TIMEOUT=${VM_TIMEOUT:-900} test/vm/vm.sh 'node dist/test/vm/lane.js'
echo "vm lane: $(( $(date +%s) - start )) s in the VM"
