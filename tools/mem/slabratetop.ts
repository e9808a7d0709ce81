#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// slabratetop: kernel slab allocations (kmem_cache_alloc) by cache, top-style: BCC's slabratetop and
// libbpf-tools' (its -p and -s). BCC puts a kprobe on kmem_cache_alloc(); here the kmem:kmem_cache_alloc
// tracepoint (as a BTF tracepoint) sees the same calls with the cache itself, whose object size is what
// each allocation takes (BCC's BYTES). Counts are kept by cache; the name is read once per cache.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { loadavgText, loadavgValues, sprintf, topRows, writeTopScreen } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_tgid = 0;

struct kmem_cache___lean { unsigned int size; const char *name; } __attribute__((preserve_access_index));

struct slab_info { u64 count; u64 size; };
struct slab_name { char name[32]; };

BPF_HASH(counts, u64, struct slab_info, 10240);
BPF_HASH(names, u64, struct slab_name, 10240);

static __always_inline int on_alloc(struct kmem_cache___lean *s)
{
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	u64 cache = (u64)s;
	struct slab_info *info = bpf_map_lookup_elem(&counts, &cache);
	if (!info) {
		struct slab_info zero = {};
		struct slab_name n = {};
		bpf_probe_read_kernel_str(n.name, sizeof(n.name), BPF_CORE_READ(s, name));
		bpf_map_update_elem(&names, &cache, &n, BPF_NOEXIST);
		bpf_map_update_elem(&counts, &cache, &zero, BPF_NOEXIST);
		info = bpf_map_lookup_elem(&counts, &cache);
		if (!info)
			return 0;
	}
	__sync_fetch_and_add(&info->count, 1);
	__sync_fetch_and_add(&info->size, BPF_CORE_READ(s, size));
	return 0;
}

BTF_TRACEPOINT_PROBE(kmem_cache_alloc, cache_alloc, on_alloc(s), unsigned long call_site, const void *ptr, struct kmem_cache___lean *s)
`;

interface Options { noclear: boolean; maxrows: number; pid?: number; sort: string; interval?: string; count?: string }
interface SlabInfo { count: bigint; size: bigint }

const SORTS = ['size', 'alloc', 'cache'];

defineTool<Options>({
  name: 'slabratetop',
  subsystem: 'mem',
  description: 'Kernel slab allocation rate by cache (kmem_cache_alloc), top-style',
  ports: { bcc: 'tools/slabratetop.py', 'libbpf-tools': 'libbpf-tools/slabratetop.bpf.c', book: 'chapter 14, Kernel' },
  probes: { tp_btf: ['kmem_cache_alloc'], raw_tp: ['kmem_cache_alloc'] },
  output: 'top',
  invocations: [{ args: ['-C', '1', '1'], ends: 'itself' }, { args: ['-C'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['cache', 'allocs', 'bytes'] }),
  program,
  options: {
    noclear: opt.flag('C', "don't clear the screen"),
    maxrows: opt.int('r', 'maximum rows to print', 'maxrows', 20),
    pid: opt.pid('process ID to trace'),
    sort: { alias: 's', type: 'string', default: 'size', describe: 'sort by size (BCC\'s order), alloc or cache (libbpf-tools\' -s)' },
  },
  positional: '[interval] [count]',
  examples: [
    ['slabratetop', 'kmem_cache_alloc() top, 1 second refresh'],
    ['slabratetop -C', "don't clear the screen"],
    ['slabratetop 5', '5 second summaries'],
    ['slabratetop 5 10', '5 second summaries, 10 times only'],
    ['slabratetop -p 181', 'only allocations in PID 181'],
    ['slabratetop -s alloc', 'sort by the number of allocations'],
  ],
  validate(o) {
    if (Number(o.maxrows) === 0) return "invalid maxrows: '0' (give a number of rows above 0)";
    if (!SORTS.includes(o.sort)) return `invalid sort method: '${o.sort}' (one of ${SORTS.join(', ')})`;
    if (o.sort === 'cache' && (o as { json?: boolean }).json) return '-s cache orders rows by name: not with --json (top records rank a numeric column)';
    return undefined;
  },

  async run({ opts, load, out, json, emit, intervals }) {
    const { interval: given, count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : given; // BCC: a 1 second refresh by default
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    const counts = bpf.map<bigint, SlabInfo>('counts');
    const names = bpf.map<bigint, { name: string }>('names');
    const message = `Tracing... Output every ${interval} secs. Hit Ctrl-C to end`;
    if (json) process.stderr.write(message + '\n');
    else {
      out.line(message);
      out.flush();
    }
    const nameOf = new Map<bigint, string>();
    const sortColumn = { size: 'bytes', alloc: 'allocs' } as const;

    await intervals(interval, count, (last, seconds) => {
      const loadavg = loadavgText();
      const entries = counts.drain();
      for (const [cache] of entries) if (!nameOf.has(cache)) nameOf.set(cache, names.get(cache)?.name ?? `0x${cache.toString(16)}`);
      const all = entries.map(([cache, v]) => ({ cache: nameOf.get(cache)!, allocs: Number(v.count), bytes: Number(v.size) }));
      const rows = opts.sort === 'cache'
        ? [...all].sort((a, b) => (a.cache < b.cache ? -1 : a.cache > b.cache ? 1 : 0)).slice(0, Number(opts.maxrows))
        : topRows(all, r => (opts.sort === 'alloc' ? r.allocs : r.bytes), Number(opts.maxrows));
      if (json) {
        emit.top(seconds, sortColumn[opts.sort as keyof typeof sortColumn], rows, { loadavg: loadavgValues(loadavg) });
        return;
      }
      writeTopScreen(out, { clear: !opts.noclear }, sprintf('%-32s %6s %10s', 'CACHE', 'ALLOCS', 'BYTES'),
        rows.map(r => sprintf('%-32s %6d %10d', r.cache, r.allocs, r.bytes)), loadavg);
      if (last) out.line('Detaching...');
    });
  },
});
