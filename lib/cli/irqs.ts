// What hardirqs and softirqs share: BCC's options (-T -N -C -d -c CPU, interval, count), their checks,
// and the report of each interval — "NAME TOTAL_usecs" rows largest first, or a histogram per IRQ.
import os from 'node:os';
import { nonNegativeInt, opt, type ToolOption } from './options.js';
import type { RecordShape, ToolContext } from './index.js';
import type { Histogram } from '../maps/histogram.js';
import { sprintf, strftimeHMS } from '../output/index.js';

export interface IrqOptions {
  timestamp: boolean;
  nanoseconds: boolean;
  events: boolean;
  dist: boolean;
  cpu?: number;
  interval?: string;
  count?: string;
}

export const IRQ_OPTIONS: Record<string, ToolOption> = {
  timestamp: opt.flag('T', 'include timestamp on output'),
  nanoseconds: opt.flag('N', 'output in nanoseconds'),
  events: opt.flag('C', 'show event counts instead of timing'),
  dist: opt.flag('d', 'show distributions as histograms'),
  cpu: { alias: 'c', type: 'string', describe: 'trace this CPU only', coerce: nonNegativeInt('CPU') },
};

export function irqProblem(o: IrqOptions): string | undefined {
  if (o.events && (o.dist || o.nanoseconds)) return "-C counts events: it can't be used with the time-based options -d and -N";
  return cpuProblem(o.cpu);
}

/** -c CPU names a CPU of this machine. */
export function cpuProblem(cpu: number | undefined): string | undefined {
  const cpus = os.cpus().length;
  if (cpu !== undefined && cpu >= cpus) return `invalid CPU: ${cpu} (this machine has CPUs 0-${cpus - 1})`;
  return undefined;
}

/** The kernel's softirq_to_name[] (kernel/softirq.c), lower case as BCC prints them; the index is the vector. */
export const SOFTIRQ_NAMES = ['hi', 'timer', 'net_tx', 'net_rx', 'block', 'irq_poll', 'tasklet', 'sched', 'hrtimer', 'rcu'];
export const softirqName = (vec: number) => SOFTIRQ_NAMES[vec] ?? String(vec);

/**
 * BPF C both programs start with (after the includes): the globals irqGlobals() sets, the -c CPU check,
 * and the handlers' start times, per CPU and per `slot` (softirqs: the vector; hard IRQs: 0). A slot
 * is cleared when taken, so that a stamp is used once. Per vector: with one slot per CPU, softirqs -d
 * counted up to 6 % fewer block softirqs than /proc/softirqs (three tracers at once, load ~20), as if
 * another exit took the stamp between a block softirq's entry and exit; why is not pinned down.
 */
export const IRQ_COMMON_C = `
const volatile int targ_cpu = -1;
const volatile bool targ_count = false;
const volatile bool targ_dist = false;
const volatile bool targ_ns = false;

BPF_PERCPU_ARRAY(start, u64, 16);

static __always_inline bool on_target_cpu(void)
{
	return targ_cpu < 0 || bpf_get_smp_processor_id() == targ_cpu;
}

/* At a handler's entry. */
static __always_inline void irq_started(u32 slot)
{
	u64 *ts = bpf_map_lookup_elem(&start, &slot);
	if (ts)
		*ts = bpf_ktime_get_ns();
}

/* At its exit: the ns it ran, or 0 when it began before we attached. */
static __always_inline u64 irq_elapsed(u32 slot)
{
	u64 *ts = bpf_map_lookup_elem(&start, &slot);
	if (!ts || !*ts)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	return delta;
}
`;

/** The globals of both BPF programs: targ_cpu (-1: all), targ_count, targ_dist, targ_ns. */
export const irqGlobals = (o: IrqOptions) => ({ targ_cpu: o.cpu ?? -1, targ_count: o.events, targ_dist: o.dist, targ_ns: o.nanoseconds });

/** What BCC prints above the values: count, nsecs or usecs. */
export const irqLabel = (o: IrqOptions) => (o.events ? 'count' : o.nanoseconds ? 'nsecs' : 'usecs');

/** A row's value in --json: events counted (-C), or the time spent, in ns (-N) or us. */
const irqValueField = (opts: IrqOptions) => (opts.events ? 'count' : opts.nanoseconds ? 'total_ns' : 'total_us');

/** What reportIrqs' records hold (ToolSpec.records). */
export function irqRecords(kind: 'hardirq' | 'softirq'): (opts: IrqOptions) => RecordShape {
  return opts => (opts.dist ? { sectionBy: kind } : { fields: [kind, irqValueField(opts)] });
}

/**
 * One interval's report. `totals` are the (name, value) pairs of the interval, times in ns; `hist`
 * the sectioned histogram of -d. `kind` names the IRQs ("hardirq", "softirq"), `nameWidth` is BCC's
 * first column; `sectionName` names a histogram's section key (softirqs: the vector).
 */
export function reportIrqs(
  ctx: Pick<ToolContext<IrqOptions>, 'opts' | 'out' | 'json' | 'emit'>,
  kind: 'hardirq' | 'softirq', nameWidth: number, seconds: number,
  totals: { name: string; value: number }[], hist: Histogram, sectionName?: (key: any) => string,
): void {
  const { opts, out, json, emit } = ctx;
  const label = irqLabel(opts);
  const divisor = opts.events || opts.nanoseconds ? 1 : 1000;
  if (opts.dist) {
    const data = hist.read(true);
    const format = { sectionHeader: kind, sectionFormat: sectionName };
    if (json) emit.histogram(hist.json(label, format, data));
    else {
      out.write('\n');
      if (opts.timestamp) out.write(sprintf('%-8s\n', strftimeHMS()));
      out.write(hist.format(label, format, data));
    }
    return;
  }
  const rows = totals.map(t => ({ name: t.name, value: Math.floor(t.value / divisor) })).sort((a, b) => b.value - a.value);
  if (json) {
    const field = irqValueField(opts);
    emit.counts(seconds, rows.map(r => ({ [kind]: r.name, [field]: r.value })));
    return;
  }
  out.write('\n');
  if (opts.timestamp) out.write(sprintf('%-8s\n', strftimeHMS()));
  out.line(sprintf(`%-${nameWidth}s %11s`, kind.toUpperCase(), `TOTAL_${label}`));
  for (const r of rows) out.line(sprintf(`%-${nameWidth}s %11d`, r.name, r.value));
}
