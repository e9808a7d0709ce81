#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// offcputime: total time blocked (off CPU) per stack trace (BCC's offcputime). As libbpf-tools does,
// on sched_switch: the task leaving the CPU has its stacks and the time stamped; when it is switched
// back in, the time it was away is added to those stacks' total.
import { defineTool, durationSeconds, nonNegativeInt, opt, positiveInt, positiveIntList } from '../../lib/cli/index.js';
import { printStacks, StackReader, type StackSample } from '../../lib/stacks/index.js';

const program = `
#include <bpfkit.h>

#define PF_KTHREAD 0x00200000
enum { FILTER_NONE, FILTER_TGID, FILTER_TID, FILTER_USER, FILTER_KERNEL };

const volatile u32 targ_filter = FILTER_NONE;
const volatile s64 targ_state = -1;             /* --state: -1 any, 0 running, else any of these bits */
const volatile u64 min_block_us = 1;
const volatile u64 max_block_us = (u64)-1;
const volatile bool targ_user = true;           /* not -K */
const volatile bool targ_kernel = true;         /* not -U */

struct key_t {
	u32 pid;
	u32 tgid;
	int user_stack_id;
	int kernel_stack_id;
	char name[16];
};
struct start_t { u64 ts; struct key_t key; };

BPF_HASH(targets, u32, u8, 64);
BPF_HASH(start, u32, struct start_t, 10240);
BPF_HASH(counts, struct key_t, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

/* task_struct's state was renamed __state in 5.14 */
struct task_struct___pre514 { long state; } __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline bool wanted(struct task_struct *t)
{
	u32 tgid = BPF_CORE_READ(t, tgid), pid = BPF_CORE_READ(t, pid);
	u32 flags = BPF_CORE_READ(t, flags);
	switch (targ_filter) {
	case FILTER_TGID: if (!bpf_map_lookup_elem(&targets, &tgid)) return false; break;
	case FILTER_TID: if (!bpf_map_lookup_elem(&targets, &pid)) return false; break;
	case FILTER_USER: if (flags & PF_KTHREAD) return false; break;
	case FILTER_KERNEL: if (!(flags & PF_KTHREAD)) return false; break;
	}
	if (targ_state == 0)
		return task_state(t) == 0;
	if (targ_state > 0)
		return (task_state(t) & targ_state) != 0;
	return true;
}

static __always_inline int on_switch(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	u64 now = bpf_ktime_get_ns();
	/* prev is still the current task: its stacks are the ones it blocks in */
	if (wanted(prev)) {
		struct start_t s = { .ts = now };
		u32 pid = BPF_CORE_READ(prev, pid);
		s.key.pid = pid;
		s.key.tgid = BPF_CORE_READ(prev, tgid);
		bool kthread = BPF_CORE_READ(prev, flags) & PF_KTHREAD;
		s.key.user_stack_id = targ_user && !kthread ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -14;
		s.key.kernel_stack_id = targ_kernel ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
		BPF_CORE_READ_STR_INTO(&s.key.name, prev, comm);
		if (pid)
			bpf_map_update_elem(&start, &pid, &s, BPF_ANY);
	}
	u32 pid = BPF_CORE_READ(next, pid);
	struct start_t *s = bpf_map_lookup_elem(&start, &pid);
	if (!s)
		return 0;
	if (now > s->ts) {
		u64 delta = (now - s->ts) / 1000;
		if (delta >= min_block_us && delta <= max_block_us) {
			struct key_t key = s->key;
			map_add(counts, key, delta);
		}
	}
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(ctx, prev, next), bool preempt, struct task_struct *prev, struct task_struct *next)
`;

interface Options {
  pid?: number[];
  tid?: number[];
  userThreadsOnly: boolean;
  kernelThreadsOnly: boolean;
  userStacksOnly: boolean;
  kernelStacksOnly: boolean;
  delimited: boolean;
  folded: boolean;
  offset: boolean;
  stackStorageSize: number;
  minBlockTime: number;
  maxBlockTime?: number;
  state?: number;
  flamegraph?: string;
  duration?: string;
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
    pid: { alias: 'p', type: 'string', describe: 'trace these PIDs only, comma separated list', coerce: positiveIntList('PID') },
    tid: { alias: 't', type: 'string', describe: 'trace these TIDs only, comma separated list', coerce: positiveIntList('TID') },
    userThreadsOnly: opt.flag('u', 'user threads only (no kernel threads)'),
    kernelThreadsOnly: opt.flag('k', 'kernel threads only (no user threads)'),
    userStacksOnly: opt.flag('U', 'show stacks from user space only (no kernel space stacks)'),
    kernelStacksOnly: opt.flag('K', 'show stacks from kernel space only (no user space stacks)'),
    delimited: opt.flag('d', 'insert delimiter between kernel/user stacks'),
    folded: opt.flag('f', 'output folded format'),
    offset: opt.flag('s', 'show address offsets'),
    stackStorageSize: { type: 'string', default: 16384, describe: 'the number of unique stack traces that can be stored and displayed', coerce: positiveInt('stack storage size') },
    minBlockTime: { alias: 'm', type: 'string', default: 1, describe: 'the amount of time in microseconds over which we store traces', coerce: positiveInt('minimum block time') },
    maxBlockTime: { alias: 'M', type: 'string', describe: 'the amount of time in microseconds under which we store traces (default U64_MAX)', coerce: positiveInt('maximum block time') },
    state: { type: 'string', describe: 'filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h', coerce: nonNegativeInt('state') },
    flamegraph: { type: 'string', describe: 'also write the stacks as an interactive SVG off-CPU flame graph to this file' },
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
    if ([o.pid, o.tid, o.userThreadsOnly, o.kernelThreadsOnly].filter(Boolean).length > 1) return 'use only one of -p, -t, -u and -k';
    if (o.userStacksOnly && o.kernelStacksOnly) return 'use only one of -U and -K';
    if (o.folded && o.offset) return 'can only use -f or -s';
    if (o.kernelThreadsOnly && o.userStacksOnly) return "displaying user stacks for kernel threads doesn't make sense";
    if (o.maxBlockTime !== undefined && o.maxBlockTime < o.minBlockTime) return `-M ${o.maxBlockTime} is below -m ${o.minBlockTime}`;
    durationSeconds(o.duration);
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const targets = opts.pid ?? opts.tid ?? [];
    const filter = opts.pid ? 1 : opts.tid ? 2 : opts.userThreadsOnly ? 3 : opts.kernelThreadsOnly ? 4 : 0;
    const bpf = load({
      rodata: {
        targ_filter: filter, targ_state: opts.state ?? -1, min_block_us: opts.minBlockTime, max_block_us: opts.maxBlockTime ?? 0xffffffffffffffffn,
        targ_user: !opts.kernelStacksOnly, targ_kernel: !opts.userStacksOnly,
      },
      maxEntries: { stack_traces: opts.stackStorageSize },
    });
    for (const t of targets) bpf.map('targets').set(t, 1);
    bpf.attachAll();
    const started = Date.now();
    const reader = new StackReader(bpf, { user: !opts.kernelStacksOnly, kernel: !opts.userStacksOnly });
    reader.track('counts', (k: Key) => [k.tgid]);

    if (!opts.folded) {
      const threads = opts.pid ? `PIDs ${targets.join(',')}` : opts.tid ? `TIDs ${targets.join(',')}` :
        opts.userThreadsOnly ? 'user threads' : opts.kernelThreadsOnly ? 'kernel threads' : 'all threads';
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
