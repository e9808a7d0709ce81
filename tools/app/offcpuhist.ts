#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// offcpuhist: off-CPU time as a log2 histogram per stack trace and thread: the book's offcpuhist.bt
// (chapter 13), which offcputime sums instead. The book probes finish_task_switch (a kprobe); here the
// sched_switch tracepoint, as offcputime, whose program this is (lib/stacks/tasks.ts OFF_CPU_SWITCH_C)
// and whose options it takes (-p/-t, -u/-k, -U/-K, -d, -m/-M, --state). Microseconds, as offcputime.
import { defineTool, durationSeconds } from '../../lib/cli/index.js';
import { formatStack, type StackSample } from '../../lib/stacks/index.js';
import { OFF_CPU_OPTIONS, OFF_CPU_SWITCH_C, offCpuProblem, startOffCpu, TASK_FILTER_C, taskFilterContext, type OffCpuOptions } from '../../lib/stacks/tasks.js';
import { formatLog2Hist, log2HistJson } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>

${TASK_FILTER_C}
${OFF_CPU_SWITCH_C}

struct hist_key { struct key_t task; u64 slot; };
BPF_HISTOGRAM(dist, struct hist_key, 10240);

static __always_inline void off_cpu_account(struct key_t *key, u64 delta_us)
{
	struct hist_key k = { .task = *key, .slot = bpf_log2l(delta_us) };
	map_increment(dist, k);
}
`;

interface Task { pid: number; tgid: number; user_stack_id: number; kernel_stack_id: number; name: string }

const { folded: _folded, flamegraph: _flamegraph, ...options } = OFF_CPU_OPTIONS;

defineTool<OffCpuOptions>({
  name: 'offcpuhist',
  subsystem: 'app',
  description: 'Summarize off-CPU time as histograms by stack trace',
  ports: { bpftrace: 'tools/offcpuhist.bt', book: 'chapter 13, Applications' },
  probes: { tp_btf: ['sched_switch'], raw_tp: ['sched_switch'] },
  output: 'histogram',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-U'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'stack' }),
  program,
  options,
  positional: '[duration]',
  examples: [
    ['offcpuhist', 'off-CPU time histograms by stack until Ctrl-C'],
    ['offcpuhist 5', 'trace for 5 seconds only'],
    ['offcpuhist -p 185', 'only trace threads of PID 185'],
    ['offcpuhist -U -m 1000', 'user stacks only, blocks of 1 ms and more'],
  ],
  validate: o => offCpuProblem(o),

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const { bpf, reader } = startOffCpu(load, opts);
    const started = Date.now();
    reader.track('dist', (k: { task: Task }) => [k.task.tgid]);
    const stacks = opts.userStacksOnly ? 'user' : opts.kernelStacksOnly ? 'kernel' : 'user + kernel';
    (json ? process.stderr : out).write(`Tracing off-CPU time (us) of ${taskFilterContext(opts)} by ${stacks} stack${duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
    out.flush();
    await untilExit(duration);
    reader.stop();

    const data = bpf.histogram('dist').read();
    const samples: (StackSample & { slots: number[] })[] = data.sections.map(s => {
      const t = s.raw as Task;
      return { pid: t.pid, tgid: t.tgid, comm: t.name, userStackId: t.user_stack_id, kernelStackId: t.kernel_stack_id, value: s.slots.reduce((a, b) => a + b, 0), slots: s.slots };
    });
    // the most frequent stack last, as BCC prints; reader.read's sort by value is stable: named[i] is bySample[i]
    const bySample = [...samples].sort((a, b) => a.value - b.value);
    const named = reader.read(bySample);
    if (json) {
      emit.histogram({
        val_type: 'usecs', scale: 'log2', section_by: 'stack',
        sections: named.map((s, i) => {
          const { total, buckets } = log2HistJson(bySample[i].slots, 'usecs');
          const stack = [...(s.kernel ?? []), ...(s.user ?? [])].join(';');
          return { key: `${s.comm} (${s.pid});${stack}`, total, buckets, pid: s.pid, tgid: s.tgid, comm: s.comm,
            ...(s.user !== undefined ? { user_stack: s.user } : {}), ...(s.kernel !== undefined ? { kernel_stack: s.kernel } : {}) };
        }),
      }, { interval_s: (Date.now() - started) / 1000 });
      return;
    }
    out.write('\n');
    named.forEach((s, i) => {
      out.write(formatStack(s, { delimited: opts.delimited, withoutValue: true }));
      out.write(formatLog2Hist(bySample[i].slots, 'usecs') + '\n');
    });
    const warning = reader.missedWarning();
    if (warning) process.stderr.write(warning + '\n');
  },
});
