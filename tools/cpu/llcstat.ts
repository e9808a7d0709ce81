#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// llcstat: last-level cache references and misses per process (or thread, -t) and CPU, and the hit
// rate, from sampling the hardware cache-references and cache-misses events every -c events. Port of
// BCC's llcstat. It needs a hardware PMU: where perf_event_open of those events fails (a VM without
// one, as this machine), it says so in one line.
import { onlineCpus } from '../../lib/bpf.js';
import { defineTool, durationSeconds, positiveInt, ToolError } from '../../lib/cli/index.js';
import { BpfError, errnoName } from '../../lib/libbpf/index.js';
import { sprintf } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

struct llc_key {
	u32 cpu;
	u32 pid;
	u32 tid;
	char name[16];
};

BPF_HASH(refs, struct llc_key, u64, 10240);
BPF_HASH(misses, struct llc_key, u64, 10240);

static __always_inline int sample(struct bpf_perf_event_data *ctx, void *counts)
{
	u64 id = bpf_get_current_pid_tgid();
	struct llc_key key = { .cpu = bpf_get_smp_processor_id(), .pid = id >> 32, .tid = (u32)id };
	bpf_get_current_comm(&key.name, sizeof(key.name));
	/* each sample stands for sample_period events */
	u64 zero = 0, *n = bpf_map_lookup_elem(counts, &key);
	if (!n) {
		bpf_map_update_elem(counts, &key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(counts, &key);
		if (!n)
			return 0;
	}
	__sync_fetch_and_add(n, ctx->sample_period);
	return 0;
}

SEC("perf_event")
int on_cache_miss(struct bpf_perf_event_data *ctx) { return sample(ctx, &misses); }

SEC("perf_event")
int on_cache_ref(struct bpf_perf_event_data *ctx) { return sample(ctx, &refs); }
`;

interface Options { samplePeriod: number; tid: boolean; duration?: string }
interface LlcKey { cpu: number; pid: number; tid: number; name: string }

const PERF_TYPE_HARDWARE = 0;
const PERF_COUNT_HW_CACHE_REFERENCES = 2;
const PERF_COUNT_HW_CACHE_MISSES = 3;

defineTool<Options>({
  name: 'llcstat',
  subsystem: 'cpu',
  description: 'Summarize cache references and misses by PID',
  ports: { bcc: 'tools/llcstat.py', 'libbpf-tools': 'libbpf-tools/llcstat.bpf.c', book: 'chapter 6, CPUs' },
  probes: { perf_event: ['hardware cache-misses and cache-references, every -c events, on every CPU'] },
  output: 'counts',
  invocations: [{ args: ['1'], ends: 'itself', needs: '/sys/bus/event_source/devices/cpu' }], // a hardware PMU
  records: o => ({ fields: ['pid', ...(o.tid ? ['tid'] : []), 'comm', 'cpu', 'references', 'misses', 'hit_percent'] }),
  program,
  options: {
    samplePeriod: { alias: 'c', type: 'string', default: '100', describe: 'Sample one in this many number of cache reference / miss events', coerce: positiveInt('sample period') },
    tid: { alias: 't', type: 'boolean', default: false, describe: 'Summarize cache references and misses by PID/TID' },
  },
  positional: '[duration]',
  examples: [
    ['llcstat', 'summarize cache references and misses by PID for 10 s'],
    ['llcstat 20', 'for 20 seconds'],
    ['llcstat -c 1000', 'sample one in 1000 events'],
    ['llcstat -t', 'summarize by PID and TID'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const seconds = durationSeconds(opts.duration) ?? 10;
    const bpf = load({});
    const attach = (prog: string, config: number, what: string) => {
      try {
        bpf.attachPerfEvent(prog, { type: PERF_TYPE_HARDWARE, config, period: opts.samplePeriod, cpus: onlineCpus() });
      } catch (e) {
        // ENOENT / EOPNOTSUPP / ENODEV: the kernel has no PMU driver that counts this hardware event
        if (e instanceof BpfError && /perf_event_open/.test(e.message))
          throw new ToolError(`this machine has no hardware PMU (perf_event_open of ${what}: ${errnoName(e.errno)})`);
        throw e;
      }
    };
    attach('on_cache_miss', PERF_COUNT_HW_CACHE_MISSES, 'cache misses');
    attach('on_cache_ref', PERF_COUNT_HW_CACHE_REFERENCES, 'cache references');
    process.stderr.write(`Running for ${seconds} seconds or Hit Ctrl-C to end.\n`);
    await untilExit(seconds);

    const keyOf = (k: LlcKey) => `${k.cpu}/${k.pid}/${k.tid}/${k.name}`;
    const missed = new Map(bpf.map<LlcKey, bigint>('misses').entries().map(([k, v]) => [keyOf(k), Number(v)]));
    const rows = bpf.map<LlcKey, bigint>('refs').entries().map(([k, v]) => {
      const refs = Number(v), miss = missed.get(keyOf(k)) ?? 0;
      return { ...k, refs, miss, hit: refs > miss ? ((refs - miss) / refs) * 100 : 0 };
    }).sort((a, b) => b.refs - a.refs);
    const [totalRefs, totalMiss] = rows.reduce(([r, m], x) => [r + x.refs, m + x.miss], [0, 0]);
    const hitRate = totalRefs > totalMiss ? ((totalRefs - totalMiss) / totalRefs) * 100 : 0;
    if (json) {
      emit.counts(seconds, rows.map(r => ({ pid: r.pid, ...(opts.tid ? { tid: r.tid } : {}), comm: r.name, cpu: r.cpu, references: r.refs, misses: r.miss, hit_percent: Number(r.hit.toFixed(2)) })));
      return;
    }
    out.line(opts.tid
      ? sprintf('%-8s %-8s %-16s %-4s %12s %12s %7s', 'PID', 'TID', 'NAME', 'CPU', 'REFERENCE', 'MISS', 'HIT%')
      : sprintf('%-8s %-16s %-4s %12s %12s %7s', 'PID', 'NAME', 'CPU', 'REFERENCE', 'MISS', 'HIT%'));
    for (const r of rows) {
      const who = opts.tid ? sprintf('%-8d %-8d', r.pid, r.tid) : sprintf('%-8d', r.pid);
      out.line(sprintf('%s %-16s %-4d %12d %12d %6.2f%%', who, r.name, r.cpu, r.refs, r.miss, r.hit));
    }
    out.line(sprintf('Total References: %d Total Misses: %d Hit Rate: %.2f%%', totalRefs, totalMiss, hitRate));
  },
});
