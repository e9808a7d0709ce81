#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// smpcalls: cross-CPU function calls (smp_call_function_single/many, IPIs that run a function on
// another CPU) as a histogram of their latency per function. The book's smpcalls.bt times the
// caller's smp_call_function_*() with kprobes; this kernel has none, so the time is taken from the
// call being queued for the target CPU (csd:csd_queue_cpu) to the function returning there
// (csd:csd_function_exit), matched by the call's csd: what a waiting caller waits for.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';
import { KernelSymbols } from '../../lib/syms/kallsyms.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_hist.h>

const volatile u32 targ_tgid = 0;

struct queued {
	u64 ts;
	u64 func;
};

struct func_slot_key {
	u64 func;
	u32 slot;
	u32 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
};

BPF_LRU_HASH(inflight, u64, struct queued, 4096);     /* by csd address */
BPF_HISTOGRAM(dist, struct func_slot_key, 4096);      /* ns from queueing to the function's return */

static __always_inline int on_queue(void *func, void *csd)
{
	if (targ_tgid && bpfkit_tgid() != targ_tgid)
		return 0;
	u64 key = (u64)csd;
	struct queued q = { .ts = bpf_ktime_get_ns(), .func = (u64)func };
	bpf_map_update_elem(&inflight, &key, &q, BPF_ANY);
	return 0;
}

static __always_inline int on_function_exit(void *csd)
{
	u64 key = (u64)csd;
	struct queued *q = bpf_map_lookup_elem(&inflight, &key);
	if (!q)                          /* run on the calling CPU, or queued before we attached */
		return 0;
	u64 now = bpf_ktime_get_ns();
	/* zeroed whole: the padding after slot is part of the map key */
	struct func_slot_key hk = { .func = q->func, .slot = bpfkit_log2_slot(now >= q->ts ? now - q->ts : 0) };
	bpf_map_delete_elem(&inflight, &key);
	map_increment(dist, hk);
	return 0;
}

/* raw_tp only: tp_btf's verifier refuses to read the function-pointer argument (a FUNC_PROTO, not a struct) */
SEC("raw_tp/csd_queue_cpu")
int BPF_PROG(queue, unsigned int cpu, unsigned long callsite, void *func, void *csd) { return on_queue(func, csd); }
SEC("raw_tp/csd_function_exit")
int BPF_PROG(function_exit, void *func, void *csd) { return on_function_exit(csd); }
`;

interface Options { pid?: number; timestamp: boolean; interval?: string; count?: string }

defineTool<Options>({
  name: 'smpcalls',
  subsystem: 'cpu',
  description: 'Time cross-CPU function calls (SMP calls), as histograms per function',
  ports: { book: 'chapter 6, CPUs (smpcalls.bt)' },
  probes: { raw_tp: ['csd_queue_cpu', 'csd_function_exit'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'func' }),
  program,
  options: {
    pid: opt.pid('only calls made by this process'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['smpcalls', 'time SMP calls until Ctrl-C, a histogram per function'],
    ['smpcalls 1 10', 'print 1 second summaries, 10 times'],
    ['smpcalls -p 181', 'only the calls process 181 makes'],
  ],

  async run({ opts, load, out, json, emit, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('smpcalls: no kprobes here: timing each call from csd:csd_queue_cpu to csd:csd_function_exit on the target CPU\n');
    const hist = bpf.histogram('dist');
    const ksyms = KernelSymbols.load();
    const funcName = (func: bigint) => ksyms.resolve(func)?.name ?? `0x${func.toString(16)}`;
    const format = { sectionHeader: 'func', sectionFormat: funcName };
    const banner = 'Tracing SMP calls... Hit Ctrl-C to end.';
    if (json) process.stderr.write(banner + '\n');
    else out.line(banner);
    await intervals(interval, count, () => {
      const data = hist.read(true);
      if (json) {
        emit.histogram(hist.json('nsecs', format, data));
        return;
      }
      out.write('\n');
      if (opts.timestamp) out.write(sprintf('%-8s\n', strftimeHMS()));
      out.write(hist.format('nsecs', format, data));
    });
  },
});
