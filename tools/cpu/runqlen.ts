#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// runqlen: scheduler run queue length as a histogram, sampled on every CPU at 99 Hz (BCC's runqlen).
// Each sample reads the run queue of the task on the CPU: task->se.cfs_rq, the CFS queue of its task
// group (BCC's semantics; -H reads the whole CPU's rq->nr_running instead, as libbpf-tools' -H).
// Linux 6.14 renamed cfs_rq->nr_running to nr_queued, which is why Debian's libbpf-tools runqlen
// fails to load here ("failed to resolve CO-RE relocation ... struct cfs_rq.nr_running"): this one
// asks CO-RE which of the two the kernel has.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>                      /* current_task(), struct task_struct___lean */

const volatile bool targ_per_cpu = false;
const volatile bool targ_host = false;

struct cpu_key { u32 cpu; u32 slot; };
BPF_HISTOGRAM(dist, u32, 128);               /* linear: queue length -> samples */
BPF_HISTOGRAM(dist_cpu, struct cpu_key, 4096);

struct cfs_rq___pre614 { unsigned int nr_running; } __attribute__((preserve_access_index));

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct___lean *task = current_task();
	struct cfs_rq___lean *q = BPF_CORE_READ(task, se.cfs_rq);
	u32 len;
	if (targ_host && bpf_core_field_exists(q->rq))  /* cfs_rq->rq: CONFIG_FAIR_GROUP_SCHED */
		len = BPF_CORE_READ(q, rq, nr_running);
	else if (bpf_core_field_exists(q->nr_queued))
		len = BPF_CORE_READ(q, nr_queued);
	else
		len = BPF_CORE_READ((struct cfs_rq___pre614 *)q, nr_running);
	/* BCC's convention: don't count the running task (0 = idle or one runnable task) */
	if (len > 0)
		len--;
	if (len > 127)
		len = 127;
	if (targ_per_cpu) {
		struct cpu_key key = { .cpu = bpf_get_smp_processor_id(), .slot = len };
		map_increment(dist_cpu, key);
	} else {
		map_increment(dist, len);
	}
	return 0;
}
`;

interface Options {
  timestamp: boolean;
  runqocc: boolean;
  cpus: boolean;
  host: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'runqlen',
  subsystem: 'cpu',
  description: 'Summarize scheduler run queue length as a histogram',
  ports: { bcc: 'tools/runqlen.py', 'libbpf-tools': 'libbpf-tools/runqlen.bpf.c', bpftrace: 'tools/runqlen.bt', book: 'originals/Ch06_CPUs/runqlen.bt' },
  probes: { perf_event: ['cpu-clock at 99 Hz on every CPU'] },
  output: ['histogram', 'counts'],
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }, { args: ['-O', '1', '1'], ends: 'itself' }],
  records: o => (o.runqocc ? { fields: o.cpus ? ['cpu', 'runqocc_percent'] : ['runqocc_percent'] } : { sectionBy: o.cpus ? 'cpu' : undefined }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    runqocc: opt.flag('O', 'report run queue occupancy'),
    cpus: opt.flag('C', 'print output for each CPU separately'),
    host: opt.flag('H', "report the CPU's whole run queue (rq->nr_running)"),
  },
  positional: '[interval] [count]',
  examples: [
    ['runqlen', 'summarize run queue length as a histogram'],
    ['runqlen 1 10', 'print 1 second summaries, 10 times'],
    ['runqlen -T 1', '1s summaries and timestamps'],
    ['runqlen -O', 'report run queue occupancy'],
    ['runqlen -C', 'show each CPU separately'],
    ['runqlen -H', "count every task queued on the CPU, whatever its cgroup"],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const perCpu = opts.cpus;
    const bpf = load({ rodata: { targ_per_cpu: perCpu, targ_host: opts.host } });
    bpf.attachPerfEvent('do_sample', { frequency: 99 });
    const hist = bpf.histogram(perCpu ? 'dist_cpu' : 'dist');
    banner('Sampling run queue length... Hit Ctrl-C to end.');

    await intervals(interval, count, (_last, seconds) => {
      const data = hist.read(true);
      // -O: per CPU 0..highest CPU sampled (as BCC, CPUs without samples show 0.00%), or system-wide
      const occ = (slots: number[] | undefined) => occupancy(slots ?? []);
      const cpuMax = Math.max(-1, ...data.sections.map(s => Number(s.key)));
      const byCpu = Array.from({ length: cpuMax + 1 }, (_, c) => occ(data.sections.find(s => Number(s.key) === c)?.slots));
      if (json) {
        if (!opts.runqocc) emit.histogram(hist.json('runqlen', { linear: true, sectionHeader: 'cpu' }, data));
        else emit.counts(seconds, perCpu ? byCpu.map((percent, cpu) => ({ cpu, runqocc_percent: percent })) : [{ runqocc_percent: occ(data.slots) }]);
        return;
      }
      out.write('\n');
      if (opts.timestamp) out.write(`${strftimeHMS()}\n`);
      if (!opts.runqocc) out.write(hist.format('runqlen', { linear: true, sectionHeader: 'cpu' }, data));
      else if (perCpu) byCpu.forEach((percent, cpu) => out.line(sprintf('runqocc, CPU %-3d %6.2f%%', cpu, percent)));
      else out.line(sprintf('runqocc: %0.2f%%', occ(data.slots)));
    });
  },
});

/** Percentage of samples that found tasks waiting (queue length > 0), as BCC's -O. */
function occupancy(slots: number[]): number {
  const total = slots.reduce((a, b) => a + b, 0);
  const queued = total - (slots[0] ?? 0);
  return total ? (100 * queued) / total : 0;
}
