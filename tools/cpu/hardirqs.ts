#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// hardirqs: time spent in hard IRQ handlers (or, with -C, how many ran), per handler name, as totals
// or histograms (-d). Port of BCC's hardirqs on the irq_handler_entry/exit tracepoints (tp_btf, with
// raw_tp below it). As BCC, a handler that returned IRQ_NONE (not its device's interrupt, on a shared
// line) is not counted.
import { defineTool, intervalCount } from '../../lib/cli/index.js';
import { IRQ_COMMON_C, IRQ_OPTIONS, irqGlobals, irqProblem, irqRecords, reportIrqs, type IrqOptions } from '../../lib/cli/irqs.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_hist.h>

#define IRQ_NONE 0

${IRQ_COMMON_C}

struct irq_key { char name[32]; };
struct irq_slot_key { char name[32]; u32 slot; };

BPF_HASH(totals, struct irq_key, u64, 256);          /* ns, or events with -C */
BPF_HISTOGRAM(dist, struct irq_slot_key, 4096);      /* -d */

static __always_inline int on_entry(void)
{
	if (on_target_cpu())
		irq_started(0);
	return 0;
}

static __always_inline int on_exit(struct irqaction *action, int ret)
{
	if (ret == IRQ_NONE || !on_target_cpu())
		return 0;
	struct irq_key key = {};
	bpf_probe_read_kernel_str(&key.name, sizeof(key.name), BPF_CORE_READ(action, name));
	if (targ_count) {
		map_increment(totals, key);
		return 0;
	}
	u64 delta = irq_elapsed(0);
	if (!delta)
		return 0;
	if (!targ_dist) {
		map_add(totals, key, delta);
		return 0;
	}
	struct irq_slot_key hkey = { .slot = bpfkit_log2_slot(targ_ns ? delta : delta / 1000) };
	__builtin_memcpy(hkey.name, key.name, sizeof(hkey.name));
	map_increment(dist, hkey);
	return 0;
}

BTF_TRACEPOINT_PROBE(irq_handler_entry, entry, on_entry(), int irq, struct irqaction *action)
BTF_TRACEPOINT_PROBE(irq_handler_exit, exit, on_exit(action, ret), int irq, struct irqaction *action, int ret)
`;

defineTool<IrqOptions>({
  name: 'hardirqs',
  subsystem: 'cpu',
  description: 'Summarize hard irq event time as histograms',
  ports: { bcc: 'tools/hardirqs.py', 'libbpf-tools': 'libbpf-tools/hardirqs.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['irq_handler_entry', 'irq_handler_exit'], raw_tp: ['irq_handler_entry', 'irq_handler_exit'] },
  output: ['counts', 'histogram'],
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-d', '1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: irqRecords('hardirq'),
  program,
  options: IRQ_OPTIONS,
  positional: '[interval] [count]',
  examples: [
    ['hardirqs', 'sum hard irq event time'],
    ['hardirqs -d', 'show hard irq event time as histograms'],
    ['hardirqs -C', 'show the number of hard irq events'],
    ['hardirqs 1 10', 'print 1 second summaries, 10 times'],
    ['hardirqs -NT 1', '1s summaries, nanoseconds, and timestamps'],
    ['hardirqs -c 1', 'sum hard irq event time on CPU 1 only'],
  ],
  validate: irqProblem,

  async run(ctx) {
    const { opts, load, banner, intervals } = ctx;
    const { interval, count } = intervalCount(opts);
    // -C counts at the handlers' exit only: the entry programs would cost every IRQ for nothing
    const bpf = load({ rodata: irqGlobals(opts), disable: opts.events ? ['entry_btf', 'entry_raw'] : [] });
    bpf.attachAll();
    const totals = bpf.map<{ name: string }, bigint>('totals');
    const hist = bpf.histogram('dist');
    banner(opts.events ? 'Tracing hard irq events... Hit Ctrl-C to end.' : 'Tracing hard irq event time... Hit Ctrl-C to end.');
    await intervals(interval, count, (_last, seconds) => {
      const rows = totals.drain().map(([k, v]) => ({ name: k.name, value: Number(v) }));
      reportIrqs(ctx, 'hardirq', 26, seconds, rows, hist);
    });
  },
});
