#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// vmscan: the VM scanner's time each interval: slab shrinking, direct reclaim, memory cgroup reclaim
// (each summed in ms, a start-to-end time per task), kswapd wakeups and pages written by reclaim: the
// book's vmscan.bt (chapter 7), its columns, at the same vmscan tracepoints (as BTF tracepoints).
// mm_vmscan_writepage is mm_vmscan_write_folio on this kernel.
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

enum { SLAB_NS, DIRECT_NS, MEMCG_NS, KSWAPD_WAKEUPS, WRITEPAGES, SLAB_N, DIRECT_N, MEMCG_N, VMSCAN_NR_STATS };
enum { KIND_SLAB, KIND_DIRECT, KIND_MEMCG };

BPF_ARRAY(stats, u64, VMSCAN_NR_STATS);
BPF_HASH(start, u64, u64, 10240); /* tid << 2 | kind: when it began */

static __always_inline int begin(u32 kind)
{
	u64 key = (u64)bpfkit_tid() << 2 | kind, now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &now, BPF_ANY);
	return 0;
}

static __always_inline void add(u32 stat, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline int end(u32 kind, u32 ns_stat, u32 count_stat)
{
	u64 key = (u64)bpfkit_tid() << 2 | kind;
	u64 *ts = bpf_map_lookup_elem(&start, &key);
	if (!ts)
		return 0; /* began before we attached */
	add(ns_stat, bpf_ktime_get_ns() - *ts);
	add(count_stat, 1);
	bpf_map_delete_elem(&start, &key);
	return 0;
}

BTF_TRACEPOINT_PROBE(mm_shrink_slab_start, slab_begin, begin(KIND_SLAB))
BTF_TRACEPOINT_PROBE(mm_shrink_slab_end, slab_end, end(KIND_SLAB, SLAB_NS, SLAB_N))
BTF_TRACEPOINT_PROBE(mm_vmscan_direct_reclaim_begin, direct_begin, begin(KIND_DIRECT))
BTF_TRACEPOINT_PROBE(mm_vmscan_direct_reclaim_end, direct_end, end(KIND_DIRECT, DIRECT_NS, DIRECT_N))
BTF_TRACEPOINT_PROBE(mm_vmscan_memcg_reclaim_begin, memcg_begin, begin(KIND_MEMCG))
BTF_TRACEPOINT_PROBE(mm_vmscan_memcg_reclaim_end, memcg_end, end(KIND_MEMCG, MEMCG_NS, MEMCG_N))
BTF_TRACEPOINT_PROBE(mm_vmscan_wakeup_kswapd, kswapd_wakeup, (add(KSWAPD_WAKEUPS, 1), 0))
BTF_TRACEPOINT_PROBE(mm_vmscan_write_folio, write_folio, (add(WRITEPAGES, 1), 0))
`;

const EVENTS = ['mm_shrink_slab_start', 'mm_shrink_slab_end', 'mm_vmscan_direct_reclaim_begin', 'mm_vmscan_direct_reclaim_end',
  'mm_vmscan_memcg_reclaim_begin', 'mm_vmscan_memcg_reclaim_end', 'mm_vmscan_wakeup_kswapd', 'mm_vmscan_write_folio'];

interface Options { interval?: string; count?: string }

defineTool<Options>({
  name: 'vmscan',
  subsystem: 'mem',
  description: 'VM scanner time per interval: slab shrinking, direct and memcg reclaim, kswapd wakeups, writepages',
  ports: { book: 'chapter 7, Memory (vmscan.bt)', bpftrace: 'tools/vmscan.bt (the book\'s)' },
  probes: { tp_btf: EVENTS, raw_tp: EVENTS },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['shrink_slab_ms', 'direct_reclaim_ms', 'memcg_reclaim_ms', 'kswapd_wakeups', 'writepages', 'shrink_slabs', 'direct_reclaims', 'memcg_reclaims'] }),
  program,
  options: {},
  positional: '[interval] [count]',
  examples: [
    ['vmscan', 'per-second VM scanner times until Ctrl-C'],
    ['vmscan 5 3', 'three 5-second summaries'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given; // the book's: every second
    const bpf = load();
    bpf.attachAll();
    const stats = bpf.map<number, bigint>('stats');
    banner('Tracing VM scanner... Hit Ctrl-C to end.');
    if (!json) {
      out.line(sprintf('%-10s %10s %12s %12s %6s %9s', 'TIME', 'S-SLABms', 'D-RECLAIMms', 'M-RECLAIMms', 'KSWAPD', 'WRITEPAGE'));
      out.flush();
    }
    await intervals(interval, count, (_last, seconds) => {
      const [slabNs, directNs, memcgNs, kswapd, writepages, slabN, directN, memcgN] = stats.drain().map(([, n]) => Number(n));
      if (json) {
        emit.counts(seconds, [{
          shrink_slab_ms: slabNs / 1e6, direct_reclaim_ms: directNs / 1e6, memcg_reclaim_ms: memcgNs / 1e6, kswapd_wakeups: kswapd, writepages,
          shrink_slabs: slabN, direct_reclaims: directN, memcg_reclaims: memcgN,
        }]);
        return;
      }
      out.line(sprintf('%-10s %10d %12d %12d %6d %9d', strftimeHMS(), Math.floor(slabNs / 1e6), Math.floor(directNs / 1e6), Math.floor(memcgNs / 1e6), kswapd, writepages));
    });
  },
});
