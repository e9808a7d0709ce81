#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// softirqs: time spent in soft IRQ handlers (or, with -C, how many ran), per softirq vector, as totals
// or histograms (-d). Port of BCC's softirqs on the softirq_entry/exit tracepoints (tp_btf, with
// raw_tp below it). The sums are per-CPU slots by vector: no event pays for an atomic operation or a
// hash lookup.
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { IRQ_COMMON_C, IRQ_OPTIONS, irqGlobals, irqProblem, irqRecords, reportIrqs, softirqName, type IrqOptions } from '../../lib/cli/irqs.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_hist.h>

#define NR_SOFTIRQS 10

${IRQ_COMMON_C}

BPF_PERCPU_ARRAY(totals, u64, NR_SOFTIRQS);                 /* ns, or events with -C */
BPF_HISTOGRAM(dist, struct bpfkit_hist_key, 1024);          /* -d: id is the vector */

static __always_inline int on_entry(unsigned int vec)
{
	if (!on_target_cpu())
		return 0;
	if (!targ_count) {
		irq_started(vec);
		return 0;
	}
	u64 *n = bpf_map_lookup_elem(&totals, &vec);
	if (n)
		*n += 1;
	return 0;
}

static __always_inline int on_exit(unsigned int vec)
{
	if (targ_count || !on_target_cpu())
		return 0;
	u64 delta = irq_elapsed(vec);
	if (!delta)
		return 0;
	if (targ_dist) {
		hist_record(dist, dist, true, vec, targ_ns ? delta : delta / 1000);
		return 0;
	}
	u64 *sum = bpf_map_lookup_elem(&totals, &vec);
	if (sum)
		*sum += delta;
	return 0;
}

BTF_TRACEPOINT_PROBE(softirq_entry, entry, on_entry(vec), unsigned int vec)
BTF_TRACEPOINT_PROBE(softirq_exit, exit, on_exit(vec), unsigned int vec)
`;

defineTool<IrqOptions>({
  name: 'softirqs',
  subsystem: 'cpu',
  description: 'Summarize soft irq event time as histograms',
  ports: { bcc: 'tools/softirqs.py', 'libbpf-tools': 'libbpf-tools/softirqs.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['softirq_entry', 'softirq_exit'], raw_tp: ['softirq_entry', 'softirq_exit'] },
  output: ['counts', 'histogram'],
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-d', '1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: irqRecords('softirq'),
  program,
  options: IRQ_OPTIONS,
  positional: '[interval] [count]',
  examples: [
    ['softirqs', 'sum soft irq event time'],
    ['softirqs -C', 'show the number of soft irq events'],
    ['softirqs -d', 'show soft irq event time as histograms'],
    ['softirqs 1 10', 'print 1 second summaries, 10 times'],
    ['softirqs -NT 1', '1s summaries, nanoseconds, and timestamps'],
    ['softirqs -c 1', 'sum soft irq event time on CPU 1 only'],
  ],
  validate: irqProblem,

  async run(ctx) {
    const { opts, load, banner, intervals } = ctx;
    const { interval, count } = intervalCount(opts);
    // -C counts at entry only: the exit programs would cost every softirq for nothing
    const bpf = load({ rodata: irqGlobals(opts), disable: opts.events ? ['exit_btf', 'exit_raw'] : [] });
    bpf.attachAll();
    const totals = bpf.map<number, bigint[]>('totals');
    const hist = bpf.histogram('dist');
    banner(opts.events ? 'Tracing soft irq events... Hit Ctrl-C to end.' : 'Tracing soft irq event time... Hit Ctrl-C to end.');
    await intervals(interval, count, (_last, seconds) => {
      const rows = totals.drain().map(([vec, perCpu]) => ({ name: softirqName(vec), value: perCpu.reduce((a, b) => a + Number(b), 0) }))
        .filter(r => r.value > 0);
      reportIrqs(ctx, 'softirq', 16, seconds, rows, hist, softirqName);
    });
  },
});
