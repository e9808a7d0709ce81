#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// workq: how long kernel work items run, by work function, as bpftrace log2 histograms in
// microseconds (the book's workq.bt): workqueue_execute_start to workqueue_execute_end on the same
// worker thread. bpfkit adds -f FUNCTION (that work function only) and [interval] [count].
import { defineTool, intervalCount, opt, UsageError } from '../../lib/cli/index.js';
import { bpftraceLog2ToBcc, formatBpftraceLog2, log2HistJson, strftimeHMS } from '../../lib/output/index.js';
import { workFunctionAddress, workFunctionName } from '../../lib/host/workqueue.js';

const program = `
#include <bpfkit.h>

const volatile u64 targ_function = 0;   /* -f */

BPF_HASH(start, u32, u64, 10240);       /* by worker thread */

struct fn_key { u64 function; u64 slot; };
BPF_HISTOGRAM(us, struct fn_key);

TRACEPOINT_PROBE(workqueue, workqueue_execute_start)
{
	if (targ_function && (u64)args->function != targ_function)
		return 0;
	u32 tid = bpfkit_tid();
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

TRACEPOINT_PROBE(workqueue, workqueue_execute_end)
{
	u32 tid = bpfkit_tid();
	u64 *ts = bpf_map_lookup_elem(&start, &tid);
	if (!ts)
		return 0;
	u64 usecs = (bpf_ktime_get_ns() - *ts) / 1000;
	bpf_map_delete_elem(&start, &tid);
	struct fn_key key = { .function = (u64)args->function, .slot = usecs ? bpf_log2l(usecs) : 0 };  /* bpftrace's hist(): [0] apart */
	map_increment(us, key);
	return 0;
}
`;

interface Options {
  function?: string;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'workq',
  subsystem: 'kernel',
  description: 'Show work queue function execution times as histograms',
  ports: { book: 'chapter 14, Kernel (workq.bt)' },
  probes: { tracepoint: ['workqueue/workqueue_execute_start', 'workqueue/workqueue_execute_end'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'function' }),
  program,
  options: {
    function: opt.str('f', 'trace this work function only'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['workq', 'work function execution times until Ctrl-C'],
    ['workq 1 5', 'print 1 second summaries, 5 times'],
    ['workq -f vmstat_update', 'vmstat_update only'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const fn = opts.function === undefined ? 0n : workFunctionAddress(opts.function);
    if (fn === undefined) throw new UsageError(`no kernel function '${opts.function}'`);
    const bpf = load({ rodata: { targ_function: fn } });
    bpf.attachAll();
    const hist = bpf.histogram('us');
    banner('Tracing workqueue request latencies. Ctrl-C to end.');
    await intervals(interval, count, () => {
      const sections = hist.read(true).sections.map(s => ({
        name: workFunctionName(BigInt((s.raw as bigint | number) ?? 0)), slots: s.slots, total: s.slots.reduce((a, b) => a + b, 0),
      }));
      sections.sort((a, b) => a.total - b.total); // bpftrace prints a map's histograms smallest total first
      if (json) {
        emit.histogram({ val_type: 'usecs', scale: 'log2', section_by: 'function', sections: sections.map(s => {
          const { buckets, total } = log2HistJson(bpftraceLog2ToBcc(s.slots), 'usecs');
          return { key: s.name, total, buckets };
        }) });
        return;
      }
      out.line('');
      if (opts.timestamp) out.line(strftimeHMS());
      for (const s of sections) out.write(formatBpftraceLog2(s.slots, 'us', s.name));
    });
  },
});
