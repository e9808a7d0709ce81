#!/usr/bin/env bash
# npm run test:vm — the kprobe/fentry lane: test/vm/lane.ts inside Debian's stock 6.1 kernel, booted once
# by test/vm/vm-run.sh (QEMU; the host's / is the guest's root, read-only).
# On the host first: the bundles of the lane and the tools, and every BPF object the lane and its tools load,
# compiled into the compile cache ($BPFKIT_CACHE, passed to the guest): clang under emulation is slow.
# Ends with the lane's "N passed, M failed" line and its exit code.
set -euo pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s.%N)
export BPFKIT_CACHE=${BPFKIT_CACHE:-${HOME:-/root}/.cache/bpfkit}
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

test/vm/vm-run.sh --setup 2>/dev/null || test/vm/vm-run.sh --setup   # quiet unless it fails

# the lane and the tools it runs start from their bundles in the cache (built here when stale)
node=$PWD/node_modules/node/bin/node
lane=$("$node" -e 'const b = await import(process.argv[1]); const out = await b.buildBundles(process.argv.slice(2)); console.log(out[0]);' \
  --input-type=module "$PWD/bin/bundle.mjs" "$PWD/test/vm/lane.ts" "$PWD"/tools/*/*.ts)
"$node" "$lane" --precompile
"$node" bin/bpfkit-node.mjs bin/precompile.ts >/dev/null
echo "test:vm: host preparation $(secs "$T0") s; booting the VM"

# The lane's closing "N passed, M failed" is held back so that it stays the last line printed.
T1=$(date +%s.%N)
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
set +e
VM_PASSENV="BPFKIT_CACHE ${VM_PASSENV:-}" VM_TIMEOUT=${VM_TIMEOUT:-900} test/vm/vm-run.sh "$node $lane" |
  while IFS= read -r line; do
    if [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then echo "$line" > "$summary"; else printf '%s\n' "$line"; fi
  done
rc=${PIPESTATUS[0]}
set -e
echo "test:vm: VM $(secs "$T1") s, total $(secs "$T0") s"
cat "$summary"
exit "$rc"
