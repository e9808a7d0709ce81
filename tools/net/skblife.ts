#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// skblife: the lifespan of sk_buffs, from allocation to free, as a power-of-2 histogram of nanoseconds.
// Port of the book's skblife.bt (BPF Performance Tools, chapter 10), in its format; bpfkit adds -p PID
// (sk_buffs allocated by that process) and [interval] [count].
//
// The book uses kprobes on kmem_cache_alloc{,_node} and kmem_cache_free; this kernel has no kprobes, so
// it counts at the kmem:kmem_cache_alloc and kmem:kmem_cache_free tracepoints (as BTF tracepoints, or
// raw tracepoints), given the cache, kept to the sk_buff caches by their names (skbuff_head_cache,
// skbuff_fclone_cache), keyed by the object's address. Not every life shows: sk_buffs the networking core
// returns to its per-CPU (NAPI) caches, as it does with most consumed packets (a UDP datagram read),
// and hands out again are taken and given back in bulk, which these tracepoints do not show one by one;
// a dropped packet's sk_buff, or one freed outside softirq, goes back to the slab and is counted.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { bpftraceLog2Tick } from '../../lib/cli/bpftrace-hist.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

BPF_HASH(birth, u64, u64, 65536);
BPF_HISTOGRAM(nsecs_hist, u32);

/* "skbuff_head_cache" or "skbuff_fclone_cache" */
static __always_inline bool skb_cache(struct kmem_cache *s)
{
	char name[20] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(s, name));
	const char head[] = "skbuff_head_cache", fclone[] = "skbuff_fclone_cache";
	bool is_head = true, is_fclone = true;
	for (int i = 0; i < sizeof(fclone); i++) {
		if (i < sizeof(head) && name[i] != head[i])
			is_head = false;
		if (name[i] != fclone[i])
			is_fclone = false;
	}
	return is_head || is_fclone;
}

static __always_inline int alloc(const void *ptr, struct kmem_cache *s)
{
	if (!ptr || (targ_tgid && bpfkit_tgid() != targ_tgid) || !skb_cache(s))
		return 0;
	u64 addr = (u64)ptr, ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&birth, &addr, &ts, BPF_ANY);
	return 0;
}

static __always_inline int release(const void *ptr)
{
	u64 addr = (u64)ptr;
	u64 *tsp = bpf_map_lookup_elem(&birth, &addr);
	if (!tsp)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&birth, &addr);
	/* bpftrace's hist(): slot 0 holds 0, slot k the values 2^(k-1) .. 2^k - 1 */
	u32 slot = delta ? bpf_log2l(delta) : 0;
	map_increment(nsecs_hist, slot);
	return 0;
}

BTF_TRACEPOINT_PROBE(kmem_cache_alloc, cache_alloc, alloc(ptr, s), unsigned long call_site, const void *ptr, struct kmem_cache *s, gfp_t gfp_flags, int node)
BTF_TRACEPOINT_PROBE(kmem_cache_free, cache_free, release(ptr), unsigned long call_site, const void *ptr, const struct kmem_cache *s)
`;

interface Options {
  pid?: number;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'skblife',
  subsystem: 'net',
  description: 'Summarize sk_buff lifespans (allocation to free) as a histogram',
  ports: { book: 'originals/Ch10_Networking/skblife.bt' },
  probes: { tp_btf: ['kmem_cache_alloc', 'kmem_cache_free'], raw_tp: ['kmem_cache_alloc', 'kmem_cache_free'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({}),
  program,
  options: {
    pid: opt.pid('sk_buffs allocated by this PID only'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['skblife', 'sk_buff lifespans, printed at Ctrl-C'],
    ['skblife -p 181', 'of the sk_buffs PID 181 allocates'],
    ['skblife 1 5', '1 second summaries, 5 times'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    const hist = bpf.histogram('nsecs_hist');
    process.stderr.write('skblife: counted at kmem:kmem_cache_alloc and kmem:kmem_cache_free: this kernel has no kprobes for kmem_cache_alloc()\n');
    banner('Tracing sk_buff lifespans. Hit Ctrl-C to end.');
    await intervals(interval, count, bpftraceLog2Tick(hist, 'skb_residency_nsecs', 'nsecs', { out, json, emit, timestamp: opts.timestamp }));
  },
});
