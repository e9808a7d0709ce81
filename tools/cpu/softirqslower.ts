#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// softirqslower: each softirq slower than a threshold, as it happens, in either of two stages: from
// being raised (raise_softirq, typically in a hard IRQ) to its handler starting ("irq(hard) to
// softirq"), and the handler's own run ("softirq runtime"). Port of BCC's softirqslower on the
// softirq_raise, softirq_entry and softirq_exit tracepoints (tp_btf, with raw_tp below it).
import { defineTool, nonNegativeInt } from '../../lib/cli/index.js';
import { cpuProblem, IRQ_OPTIONS, softirqName } from '../../lib/cli/irqs.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

#define NR_SOFTIRQS 10

enum stage { STAGE_RAISE_TO_ENTRY, STAGE_RUNTIME };

const volatile int targ_cpu = -1;
const volatile u64 min_ns = 10000000;

struct event {
	u64 ts;
	u64 delta_ns;
	u32 vec;
	u32 stage;
	u32 cpu;
	u32 pid;
	char comm[16];
};

/* per CPU and vector: when it was first raised while not pending, and when its handler began */
BPF_PERCPU_ARRAY(raised, u64, NR_SOFTIRQS);
BPF_PERCPU_ARRAY(entered, u64, NR_SOFTIRQS);
BPF_RINGBUF_OUTPUT(events, 1024);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline bool traced_cpu(void)
{
	return targ_cpu < 0 || bpf_get_smp_processor_id() == targ_cpu;
}

static __always_inline void report(void *ctx, u32 vec, enum stage stage, u64 now, u64 delta)
{
	if (delta < min_ns)
		return;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return;
	e->ts = now;
	e->delta_ns = delta;
	e->vec = vec;
	e->stage = stage;
	e->cpu = bpf_get_smp_processor_id();
	e->pid = bpfkit_tgid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
}

static __always_inline int on_raise(unsigned int vec)
{
	if (!traced_cpu())
		return 0;
	u64 *ts = bpf_map_lookup_elem(&raised, &vec);
	if (ts && !*ts)                       /* raised again while pending: the first raise counts */
		*ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int on_entry(void *ctx, unsigned int vec)
{
	if (!traced_cpu())
		return 0;
	u64 now = bpf_ktime_get_ns();
	u64 *raise_ts = bpf_map_lookup_elem(&raised, &vec);
	if (raise_ts && *raise_ts) {
		report(ctx, vec, STAGE_RAISE_TO_ENTRY, now, now - *raise_ts);
		*raise_ts = 0;
	}
	u64 *entry_ts = bpf_map_lookup_elem(&entered, &vec);
	if (entry_ts)
		*entry_ts = now;
	return 0;
}

static __always_inline int on_exit(void *ctx, unsigned int vec)
{
	if (!traced_cpu())
		return 0;
	u64 *entry_ts = bpf_map_lookup_elem(&entered, &vec);
	if (!entry_ts || !*entry_ts)          /* began before we attached */
		return 0;
	u64 now = bpf_ktime_get_ns();
	report(ctx, vec, STAGE_RUNTIME, now, now - *entry_ts);
	*entry_ts = 0;
	return 0;
}

BTF_TRACEPOINT_PROBE(softirq_raise, raise, on_raise(vec), unsigned int vec)
BTF_TRACEPOINT_PROBE(softirq_entry, entry, on_entry(ctx, vec), unsigned int vec)
BTF_TRACEPOINT_PROBE(softirq_exit, exit, on_exit(ctx, vec), unsigned int vec)
`;

interface Options { cpu?: number; min_us?: string }
interface SlowSoftirq { ts: bigint; delta_ns: bigint; vec: number; stage: number; cpu: number; pid: number; comm: string }

const STAGES = ['irq(hard) to softirq', 'softirq runtime'];
const minimum = (o: Options) => nonNegativeInt('minimum latency (us)')(o.min_us ?? '10000')!;

defineTool<Options>({
  name: 'softirqslower',
  subsystem: 'cpu',
  description: 'Trace softirqs slower than a threshold, from raise to entry and from entry to exit',
  ports: { bcc: 'tools/softirqslower.py' },
  probes: { tp_btf: ['softirq_raise', 'softirq_entry', 'softirq_exit'], raw_tp: ['softirq_raise', 'softirq_entry', 'softirq_exit'] },
  output: 'event',
  // a threshold every softirq passes: the catalogue's runs must report on an idle machine too
  invocations: [{ args: ['0'], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'stage', 'softirq', 'lat_us', 'cpu', 'pid', 'comm'] }),
  program,
  options: { cpu: IRQ_OPTIONS.cpu },
  positional: '[min_us]',
  examples: [
    ['softirqslower', 'trace softirq latency higher than 10000 us (default)'],
    ['softirqslower 100000', 'trace softirq latency higher than 100000 us'],
    ['softirqslower -c 1', 'trace softirq latency on CPU 1 only'],
  ],
  validate(o) {
    minimum(o); // a UsageError for a threshold that is not a number of microseconds
    return cpuProblem(o.cpu);
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const minUs = minimum(opts);
    const bpf = load({ rodata: { targ_cpu: opts.cpu ?? -1, min_ns: BigInt(minUs) * 1000n } });
    bpf.attachAll();
    const banner = `Tracing softirq latency higher than ${minUs} us... Hit Ctrl-C to end.`;
    if (json) process.stderr.write(banner + '\n');
    else {
      out.line(banner);
      out.line(sprintf('%-8s %-20s %-8s %-14s %-6s %s', 'TIME', 'STAGE', 'SOFTIRQ', 'LAT(us)', 'CPU', 'COMM'));
      out.flush();
    }
    const stream = bpf.events<SlowSoftirq>('events', 'event', e => {
      const latUs = Number(e.delta_ns / 1000n);
      if (json) {
        emit.event({ stage: STAGES[e.stage], softirq: softirqName(e.vec), lat_us: latUs, cpu: e.cpu, pid: e.pid, comm: e.comm }, { tsNs: e.ts });
        return;
      }
      out.line(sprintf('%-8s %-20s %-8s %-14d %-6d %s', strftimeHMS(), STAGES[e.stage], softirqName(e.vec), latUs, e.cpu, e.comm));
    });
    await untilExit();
    stream.drain();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`softirqslower: lost ${lost} events\n`);
  },
});
