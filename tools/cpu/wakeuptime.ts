#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// wakeuptime: time from a task going to sleep to its wakeup, per waker kernel stack (BCC's
// wakeuptime). sched_switch stamps the task leaving the CPU; sched_wakeup, run by the waker, adds the
// time since to (waker's kernel stack, waker, target).
import { defineTool, durationSeconds, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { printStacks, StackReader, type StackSample } from '../../lib/stacks/index.js';
import { OFF_CPU_OPTIONS } from '../../lib/stacks/tasks.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>                      /* struct task_struct___lean, PF_KTHREAD */

const volatile u32 targ_tgid = 0;               /* -p: targets of this process only */
const volatile bool targ_user_only = false;     /* -u: no kernel threads */
const volatile u64 min_block_us = 1;
const volatile u64 max_block_us = (u64)-1;

struct key_t {
	int w_k_stack_id;
	u32 t_tgid;
	char waker[16];
	char target[16];
};

BPF_HASH(start, u32, u64, 10240);
BPF_HASH(counts, struct key_t, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

static __always_inline bool wanted(struct task_struct___lean *t)
{
	if (targ_tgid && BPF_CORE_READ(t, tgid) != targ_tgid)
		return false;
	return !(targ_user_only && (BPF_CORE_READ(t, flags) & PF_KTHREAD));
}

static __always_inline int on_switch(struct task_struct___lean *prev)
{
	if (!wanted(prev))
		return 0;
	u32 tid = BPF_CORE_READ(prev, pid);
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_wakeup(void *ctx, struct task_struct___lean *p)
{
	u32 tid = BPF_CORE_READ(p, pid);
	u64 *tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	u64 delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &tid);
	if (delta < min_block_us || delta > max_block_us)
		return 0;
	struct key_t key = { .t_tgid = BPF_CORE_READ(p, tgid) };
	key.w_k_stack_id = bpf_get_stackid(ctx, &stack_traces, 0);
	BPF_CORE_READ_STR_INTO(&key.target, p, comm);
	bpf_get_current_comm(&key.waker, sizeof(key.waker));
	map_add(counts, key, delta);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(prev), bool preempt, struct task_struct___lean *prev, struct task_struct___lean *next)
BTF_TRACEPOINT_PROBE(sched_wakeup, wakeup, on_wakeup(ctx, p), struct task_struct___lean *p)
`;

interface Options {
  useronly: boolean;
  pid?: number;
  verbose: boolean;
  folded: boolean;
  stackStorageSize: number;
  minBlockTime: number;
  maxBlockTime?: number;
  flamegraph?: string;
  duration?: string;
}

interface Key { w_k_stack_id: number; t_tgid: number; waker: string; target: string }

defineTool<Options>({
  name: 'wakeuptime',
  subsystem: 'cpu',
  description: 'Summarize sleep to wakeup time by waker kernel stack',
  ports: { bcc: 'tools/wakeuptime.py', 'libbpf-tools': 'libbpf-tools/wakeuptime.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_switch', 'sched_wakeup'], raw_tp: ['sched_switch', 'sched_wakeup'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    useronly: opt.flag('u', 'user threads only (no kernel threads)'),
    pid: opt.pid('trace this PID only'),
    verbose: opt.flag('v', 'show raw addresses'),
    folded: opt.flag('f', 'output folded format'),
    stackStorageSize: OFF_CPU_OPTIONS.stackStorageSize,
    minBlockTime: OFF_CPU_OPTIONS.minBlockTime,
    maxBlockTime: OFF_CPU_OPTIONS.maxBlockTime,
    flamegraph: { type: 'string', describe: 'also write the stacks as an interactive SVG flame graph to this file' },
  },
  positional: '[duration]',
  examples: [
    ['wakeuptime', 'trace blocked time with waker stacks'],
    ['wakeuptime 5', 'trace for 5 seconds only'],
    ['wakeuptime -f 5', 'trace for 5 seconds, and output in folded format'],
    ['wakeuptime -u', "don't include kernel threads (user only)"],
    ['wakeuptime -p 185', 'trace for PID 185 only'],
  ],
  validate(o) {
    if (o.pid && o.useronly) return 'use either -p or -u';
    if (o.maxBlockTime !== undefined && o.maxBlockTime < o.minBlockTime) return `-M ${o.maxBlockTime} is below -m ${o.minBlockTime}`;
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const bpf = load({
      rodata: { targ_tgid: opts.pid ?? 0, targ_user_only: opts.useronly, min_block_us: opts.minBlockTime, max_block_us: opts.maxBlockTime ?? 0xffffffffffffffffn },
      maxEntries: { stack_traces: opts.stackStorageSize },
    });
    bpf.attachAll();
    const started = Date.now();
    const reader = new StackReader(bpf, { user: false });
    if (!opts.folded) (json ? process.stderr : out).write(`Tracing blocked time (us) by kernel stack${duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
    await untilExit(duration);
    if (!opts.folded && !json) out.write('\n');

    // the waker's kernel stack as the blocked task's "waker" side: folded lines read waker;stack;target
    const entries = bpf.map<Key, bigint>('counts').entries();
    const samples: StackSample[] = entries.map(([k, v]) => ({
      pid: k.t_tgid, tgid: k.t_tgid, comm: k.target, value: Number(v),
      waker: { tgid: 0, comm: k.waker, kernelStackId: k.w_k_stack_id },
    }));
    if (json || opts.flamegraph) {
      printStacks(reader, samples, { write: () => {} }, {
        json: json ? { emit, seconds: (Date.now() - started) / 1000, valueField: 'total_us' } : undefined,
        folded: true,
        flamegraph: opts.flamegraph ? { file: opts.flamegraph, title: 'Wakeup Time Flame Graph', countName: 'us', palette: 'off-cpu' } : undefined,
      });
      if (json) return;
    }
    // BCC's layouts: "waker;root...;leaf;target value", or target, "address name+offset" lines, waker
    const stacks = reader.read(samples, opts.folded ? {} : { showOffset: true, showAddress: true });
    for (const s of stacks) {
      const frames = s.waker!.kernel;
      if (opts.folded) {
        out.line(`${[s.waker!.comm, ...(frames === null ? ['[Missed Kernel Stack]'] : [...(frames ?? [])].reverse()), s.comm].join(';')} ${s.value}`);
        continue;
      }
      out.line(sprintf('    %-16s %s', 'target:', s.comm));
      if (frames === null) out.line('    [Missed Kernel Stack]');
      for (const f of frames ?? []) out.line(`    ${f.slice(2)}`); // "0x<16 digits> name": BCC's "%-16x %s"
      out.line(sprintf('    %-16s %s', 'waker:', s.waker!.comm));
      out.line(`        ${s.value}\n`);
    }
    const warning = reader.missedWarning();
    if (warning) process.stderr.write(warning + '\n');
    if (!opts.folded) out.line('Detaching...');
  },
});
