#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// offcputime: total time blocked (off CPU) per stack trace (BCC's offcputime). As libbpf-tools does,
// on sched_switch: the task leaving the CPU has its stacks and the time stamped; when it is switched
// back in, the time it was away is added to those stacks' total.
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { printStacks, type StackSample } from '../../lib/stacks/index.js';
import { OFF_CPU_OPTIONS, OFF_CPU_SWITCH_C, offCpuProblem, startOffCpu, TASK_FILTER_C, taskFilterContext, type OffCpuOptions } from '../../lib/stacks/tasks.js';

const program = `
#include <bpfkit.h>

${TASK_FILTER_C}

${OFF_CPU_SWITCH_C}

BPF_HASH(counts, struct key_t, u64, 10240);

static __always_inline void off_cpu_account(struct key_t *key, u64 delta_us)
{
	map_add(counts, *key, delta_us);
}
`;

interface Options extends OffCpuOptions {
  offset: boolean;
}

interface Key { pid: number; tgid: number; user_stack_id: number; kernel_stack_id: number; name: string }

defineTool<Options>({
  name: 'offcputime',
  subsystem: 'cpu',
  description: 'Summarize off-CPU time by stack trace',
  ports: { bcc: 'tools/offcputime.py', 'libbpf-tools': 'libbpf-tools/offcputime.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_switch'], raw_tp: ['sched_switch'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    ...OFF_CPU_OPTIONS,
    offset: opt.flag('s', 'show address offsets'),
  },
  positional: '[duration]',
  examples: [
    ['offcputime', 'trace off-CPU stack time until Ctrl-C'],
    ['offcputime 5', 'trace for 5 seconds only'],
    ['offcputime -f 5', '5 seconds, and output in folded format'],
    ['offcputime -s 5', '5 seconds, and show symbol offsets'],
    ['offcputime -m 1000', 'trace only events that last more than 1000 usec'],
    ['offcputime -M 10000', 'trace only events that last less than 10000 usec'],
    ['offcputime -p 185,175,165', 'only trace threads for PID 185,175,165'],
    ['offcputime -t 188,120,134', 'only trace threads 188,120,134'],
    ['offcputime -u', 'only trace user threads (no kernel)'],
    ['offcputime -k', 'only trace kernel threads (no user)'],
    ['offcputime -U', 'only show user space stacks (no kernel)'],
    ['offcputime -K', 'only show kernel space stacks (no user)'],
    ['offcputime --flamegraph off.svg 10', 'ten seconds of blocking as an off-CPU flame graph'],
  ],
  validate(o) {
    if (o.folded && o.offset) return 'can only use -f or -s';
    return offCpuProblem(o);
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const { bpf, reader } = startOffCpu(load, opts);
    const started = Date.now();
    reader.track('counts', (k: Key) => [k.tgid]);

    if (!opts.folded) {
      const threads = taskFilterContext(opts);
      const stacks = opts.userStacksOnly ? 'user' : opts.kernelStacksOnly ? 'kernel' : 'user + kernel';
      (json ? process.stderr : out).write(`Tracing off-CPU time (us) of ${threads} by ${stacks} stack${duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
    }
    await untilExit(duration);
    reader.stop();
    if (!opts.folded && !json) out.write('\n');

    const samples: StackSample[] = bpf.map<Key, bigint>('counts').entries().map(([k, v]) => ({
      pid: k.pid, tgid: k.tgid, comm: k.name, userStackId: k.user_stack_id, kernelStackId: k.kernel_stack_id, value: Number(v),
    }));
    printStacks(reader, samples, out, {
      delimited: opts.delimited && !opts.userStacksOnly && !opts.kernelStacksOnly,
      json: json ? { emit, seconds: (Date.now() - started) / 1000, valueField: 'total_us', withTgid: true } : undefined,
      folded: opts.folded,
      text: { showOffset: opts.offset },
      flamegraph: opts.flamegraph ? { file: opts.flamegraph, title: 'Off-CPU Time Flame Graph', countName: 'us', palette: 'off-cpu' } : undefined,
    });
  },
});
