#!/usr/bin/env bash
# npm run test:vm — the kprobe/fentry lane: test/vm/lane.ts inside each of Debian 12's kernels, 6.1 (the
# stock one: no kprobe.multi links, no IBT, no block_io_start) and 6.12 (all three), each booted once by
# test/vm/vm-run.sh (QEMU; the host's / is the guest's root, read-only), both guests at once.
# On the host first: the bundles of the lane and the tools, and every BPF object the lane and its tools load,
# compiled into the compile cache ($BPFKIT_CACHE, passed to the guest): clang under emulation is slow.
# Every line of a kernel's run is prefixed with its name ("[6.12] ok   ..."); the run ends with one
# "N passed, M failed" line over both kernels (a kernel whose VM gave no result counts as one failure)
# and exits non-zero when anything failed.
#
#   npm run test:vm                      both kernels at once, their lines interleaved
#   VM_KERNEL=6.12 npm run test:vm       one of them alone (VM_KERNEL="6.1 6.12" is the default)
#   VM_PARALLEL=0 npm run test:vm        one kernel after the other
# Measured on 2 cores without KVM (software emulation), with other tests running beside (load 4-18):
# both at once 97-212 s in all, one after the other 148-232 s (6.1 ~80 s, 6.12 ~65-130 s alone): a guest
# spends much of its time in single-threaded phases (boot, 9p reads, JavaScript start-up), so two guests
# share the cores well.
set -euo pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s.%N)
export BPFKIT_CACHE=${BPFKIT_CACHE:-${HOME:-/root}/.cache/bpfkit}
KERNELS=${VM_KERNEL:-6.1 6.12}
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

export VM_KERNEL
for VM_KERNEL in $KERNELS; do   # quiet unless it fails
  test/vm/vm-run.sh --setup 2>/dev/null || test/vm/vm-run.sh --setup
done

# the lane and the tools it runs start from their bundles in the cache (built here when stale)
node=$PWD/node_modules/node/bin/node
lane=$("$node" -e 'const b = await import(process.argv[1]); const out = await b.buildBundles(process.argv.slice(2)); console.log(out[0]);' \
  --input-type=module "$PWD/bin/bundle.mjs" "$PWD/test/vm/lane.ts" "$PWD"/tools/*/*.ts)
"$node" "$lane" --precompile
"$node" bin/bpfkit-node.mjs bin/precompile.ts >/dev/null
echo "test:vm: host preparation $(secs "$T0") s; booting kernels: $KERNELS"

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# One kernel's lane: its lines prefixed with its name; its closing "N passed, M failed" held back in
# $results/<kernel>.summary, its exit code in $results/<kernel>.rc.
run_kernel() {
  local k=$1 t rc
  t=$(date +%s.%N)
  set +e
  VM_KERNEL=$k VM_PASSENV="BPFKIT_CACHE ${VM_PASSENV:-}" VM_TIMEOUT=${VM_TIMEOUT:-900} test/vm/vm-run.sh "$node $lane" \
    2> >(while IFS= read -r line; do printf '[%s] %s\n' "$k" "$line"; done >&2) |
    while IFS= read -r line; do
      if [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then echo "$line" > "$results/$k.summary"; fi
      printf '[%s] %s\n' "$k" "$line"
    done
  rc=${PIPESTATUS[0]}
  set -e
  echo "$rc" > "$results/$k.rc"
  echo "[$k] test:vm: VM $(secs "$t") s, exit $rc"
}

if [ "${VM_PARALLEL:-1}" != 0 ]; then
  for k in $KERNELS; do run_kernel "$k" & done
  wait
else
  for k in $KERNELS; do run_kernel "$k"; done
fi

passed=0; failed=0; status=0
for k in $KERNELS; do
  rc=$(cat "$results/$k.rc" 2>/dev/null || echo 125)
  [ "$rc" = 0 ] || status=1
  if [ -s "$results/$k.summary" ] && read -r p _ f _ < "$results/$k.summary"; then passed=$((passed + p)); failed=$((failed + f))
  else echo "[$k] test:vm: the lane gave no result (exit $rc)"; failed=$((failed + 1)); fi
done
echo "test:vm: total $(secs "$T0") s"
echo "$passed passed, $failed failed"
exit "$status"
