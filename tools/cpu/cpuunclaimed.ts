#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// cpuunclaimed: sample the CPUs' run queues at 99 Hz and report the idle CPU that queued threads could
// have claimed, as a system-wide percentage (BCC's cpuunclaimed: its output, -j/-J CSV, -T, interval
// and count). A sample group is, as in BCC, one reading of every CPU's queue; in a group, threads
// that could have run are min(idle CPUs, threads queued behind a running one), summed over groups
// and divided by CPUs x groups.
//
// Where BCC groups the samples of all CPUs by their time stamps (and exits when CPUs drift apart),
// here each CPU's 99 Hz samples only note where its run queue is (the running task's se.cfs_rq->rq:
// `runqueues` is a per-CPU variable kallsyms does not list without CONFIG_KALLSYMS_ALL), and the
// samples of one CPU read every CPU's rq->nr_running at once: a group is a snapshot and cannot skew. The length is the
// CPU's whole queue (every class, every cgroup) where BCC read the sampled task's CFS group queue,
// which misses threads of other task groups (autogroups, containers) waiting on the same CPU.
import { onlineCpus } from '../../lib/bpf.js';
import { defineTool, intervalCount, opt, UsageError } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const MAX_CPUS = 256;

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>                      /* current_task(), struct rq___lean */

#define MAX_CPUS ${MAX_CPUS}

const volatile u32 ncpu = 1;
const volatile u32 reader_cpu = 0;         /* the CPU whose samples read every queue */
const volatile bool raw_samples = false;   /* -j, -J: every group to user space */

/* each CPU's run queue, learnt from its own samples: the running task's se.cfs_rq->rq */
struct rq___lean *rq_of[MAX_CPUS];

struct totals { u64 groups; u64 running; u64 idle; u64 positive; };
BPF_ARRAY(totals, struct totals, 1);

struct group {
	u64 ts;
	u32 len[MAX_CPUS];
	u32 offset_ns[MAX_CPUS];   /* when each queue was read, after the group began */
};
BPF_RINGBUF_OUTPUT(groups, 64);
BPF_PERCPU_ARRAY(group_heap, struct group, 1);

SEC("perf_event")
int sample_queues(struct bpf_perf_event_data *ctx)
{
	u32 zero = 0, running = 0, queued = 0;
	u32 cpu = bpf_get_smp_processor_id();
	if (cpu >= MAX_CPUS)
		return 0;
	if (!rq_of[cpu])
		rq_of[cpu] = BPF_CORE_READ(current_task(), se.cfs_rq, rq);
	if (cpu != reader_cpu)
		return 0;
	struct group *g = raw_samples ? bpf_map_lookup_elem(&group_heap, &zero) : NULL;
	u64 ts = bpf_ktime_get_ns();
	for (u32 c = 0; c < MAX_CPUS && c < ncpu; c++) {
		struct rq___lean *rq = rq_of[c];
		if (!rq)
			return 0;          /* that CPU has not been sampled yet: no whole group */
		u32 len = BPF_CORE_READ(rq, nr_running);
		if (len > 0)
			running++;
		if (len > 1)
			queued += len - 1;
		if (g) {
			g->len[c] = len;
			g->offset_ns[c] = bpf_ktime_get_ns() - ts;
		}
	}
	u32 idle = ncpu - running;
	struct totals *t = bpf_map_lookup_elem(&totals, &zero);
	if (t) {
		__sync_fetch_and_add(&t->groups, 1);
		__sync_fetch_and_add(&t->running, running);
		__sync_fetch_and_add(&t->idle, idle);
		__sync_fetch_and_add(&t->positive, idle < queued ? idle : queued);
	}
	if (g) {
		g->ts = ts;
		ringbuf_output(groups, g, sizeof(*g));
	}
	return 0;
}
`;

interface Options {
  csv: boolean;
  fullcsv: boolean;
  timestamp: boolean;
  interval?: string;
  count?: string;
}

interface Totals { groups: bigint; running: bigint; idle: bigint; positive: bigint }

defineTool<Options>({
  name: 'cpuunclaimed',
  subsystem: 'cpu',
  description: 'Sample CPU run queues and calculate unclaimed idle CPU',
  ports: { bcc: 'tools/cpuunclaimed.py', book: 'chapter 6, CPUs' },
  probes: { perf_event: ['cpu-clock at 99 Hz on every CPU'] },
  output: ['counts', 'event'],
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }, { args: ['-j'], ends: 'ctrl-c' }],
  records: o => (o.csv || o.fullcsv ? { fields: ['ts_ns', 'run_queue_lengths', ...(o.fullcsv ? ['offsets_ns'] : [])] } : { fields: ['cpu_percent', 'unclaimed_idle_percent'] }),
  program,
  options: {
    csv: opt.flag('j', 'print sample summaries (verbose) as comma-separated values'),
    fullcsv: opt.flag('J', 'print sample summaries with extra fields: CPU sample offsets'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['cpuunclaimed', 'sample and calculate unclaimed idle CPUs, output every 1 second (default)'],
    ['cpuunclaimed 5 10', 'print 5 second summaries, 10 times'],
    ['cpuunclaimed -T 1', '1s summaries and timestamps'],
    ['cpuunclaimed -j', 'raw dump of all samples (verbose), CSV'],
  ],
  validate(o) {
    if ((o.csv || o.fullcsv) && o.interval !== undefined) return 'cannot use interval with either -j or -J';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals, untilExit }) {
    const csv = opts.csv || opts.fullcsv;
    const { count } = intervalCount(opts);
    const interval = opts.interval === undefined ? 1 : intervalCount(opts).interval;
    const ncpu = Math.max(...onlineCpus()) + 1;
    if (ncpu > MAX_CPUS) throw new UsageError(`this machine has ${ncpu} CPUs: cpuunclaimed reads at most ${MAX_CPUS}`);
    const bpf = load({ rodata: { ncpu, reader_cpu: onlineCpus()[0], raw_samples: csv } });
    const cpus = Array.from({ length: ncpu }, (_, c) => c);

    if (csv) {
      if (!json) {
        out.line([...(opts.timestamp ? ['TIME'] : []), 'TIMESTAMP_ns', ...cpus.map(c => `CPU${c}`),
          ...(opts.fullcsv ? cpus.map(c => `OFFSET_ns_CPU${c}`) : [])].join(','));
      }
      bpf.events<{ ts: bigint; len: number[]; offset_ns: number[] }>('groups', 'group', g => {
        const len = g.len.slice(0, ncpu);
        const offsets = g.offset_ns.slice(0, ncpu);
        if (json) {
          emit.event({ run_queue_lengths: len, ...(opts.fullcsv ? { offsets_ns: offsets } : {}) }, { tsNs: g.ts });
          return;
        }
        out.line([...(opts.timestamp ? [sprintf('%-8s', strftimeHMS())] : []), String(g.ts), ...len.map(String),
          ...(opts.fullcsv ? offsets.map(String) : [])].join(','));
      });
      bpf.attachPerfEvent('sample_queues', { frequency: 99 });
      await untilExit();
      const lost = bpf.lost('groups');
      if (lost) process.stderr.write(`cpuunclaimed: lost ${lost} samples\n`);
      return;
    }

    bpf.attachPerfEvent('sample_queues', { frequency: 99 });
    const totals = bpf.map<number, Totals>('totals');
    banner(`Sampling run queues... Output every ${opts.interval ?? '1'} seconds. Hit Ctrl-C to end.`);
    // the totals only grow: each interval is the difference (clearing them could lose a group)
    let before: Totals = { groups: 0n, running: 0n, idle: 0n, positive: 0n };
    await intervals(interval, count, (_last, seconds) => {
      const now = totals.get(0) ?? before;
      const [running, idle, positive] = [now.running - before.running, now.idle - before.idle, now.positive - before.positive].map(Number);
      before = now;
      const total = running + idle;
      const util = total ? running / total : 0;
      const unclaimed = total ? positive / total : 0;
      if (json) {
        emit.counts(seconds, [{ cpu_percent: 100 * util, unclaimed_idle_percent: 100 * unclaimed }]);
        return;
      }
      out.line((opts.timestamp ? sprintf('%-8s ', strftimeHMS()) : '') + sprintf('%%CPU %6.2f%%, unclaimed idle %0.2f%%', 100 * util, 100 * unclaimed));
    });
  },
});
