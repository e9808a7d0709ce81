// What the off-CPU tools (offcputime, offwaketime, offcpuhist) share: BCC's options (-p/-t lists, -u/-k, --state,
// -U/-K, -d, -f, -m/-M, storage size, --flamegraph), the task filter as BPF C, its globals' values.
import { nonNegativeInt, opt, positiveInt } from '../cli/index.js';
import type { Options } from 'yargs';
import type { BPF } from '../bpf.js';
import { StackReader } from './index.js';

/** The options both tools take, with BCC's letters and words. */
export const OFF_CPU_OPTIONS: Record<string, Options> = {
  pid: opt.pids('trace these PIDs only, comma separated list'),
  tid: opt.tids('trace these TIDs only, comma separated list'),
  userThreadsOnly: opt.flag('u', 'user threads only (no kernel threads)'),
  kernelThreadsOnly: opt.flag('k', 'kernel threads only (no user threads)'),
  userStacksOnly: opt.flag('U', 'show stacks from user space only (no kernel space stacks)'),
  kernelStacksOnly: opt.flag('K', 'show stacks from kernel space only (no user space stacks)'),
  delimited: opt.flag('d', 'insert delimiter between kernel/user stacks'),
  folded: opt.flag('f', 'output folded format'),
  stackStorageSize: { type: 'string', default: 16384, describe: 'the number of unique stack traces that can be stored and displayed', coerce: positiveInt('stack storage size') },
  minBlockTime: { alias: 'm', type: 'string', default: 1, describe: 'the amount of time in microseconds over which we store traces', coerce: positiveInt('minimum block time') },
  maxBlockTime: { alias: 'M', type: 'string', describe: 'the amount of time in microseconds under which we store traces (default U64_MAX)', coerce: positiveInt('maximum block time') },
  state: { type: 'string', describe: 'filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h', coerce: nonNegativeInt('state') },
  flamegraph: { type: 'string', describe: 'also write the stacks as an interactive SVG off-CPU flame graph to this file' },
};

export interface OffCpuOptions extends TaskFilterOptions {
  userStacksOnly: boolean;
  kernelStacksOnly: boolean;
  delimited: boolean;
  folded: boolean;
  stackStorageSize: number;
  minBlockTime: number;
  maxBlockTime?: number;
  flamegraph?: string;
  duration?: string;
}

/**
 * BPF C: `wanted(task)` by the filter globals (set with taskFilterGlobals()), reading the task with
 * CO-RE (raw_tp safe); needs a `targets` hash of the PIDs or TIDs of -p/-t.
 */
export const TASK_FILTER_C = `
enum { FILTER_NONE, FILTER_TGID, FILTER_TID, FILTER_USER, FILTER_KERNEL };

const volatile u32 targ_filter = FILTER_NONE;
const volatile s64 targ_state = -1;             /* --state: -1 any, 0 running, else any of these bits */
const volatile u64 min_block_us = 1;
const volatile u64 max_block_us = (u64)-1;
const volatile bool targ_user = true;           /* not -K */
const volatile bool targ_kernel = true;         /* not -U */

BPF_HASH(targets, u32, u8, 64);

#include <bpfkit_sched.h>                     /* task_state(), struct task_struct___lean, PF_KTHREAD */

static __always_inline bool wanted(struct task_struct___lean *t)
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
`;

export interface TaskFilterOptions {
  pid?: number[];
  tid?: number[];
  userThreadsOnly: boolean;
  kernelThreadsOnly: boolean;
  state?: number;
}

/** The rodata for TASK_FILTER_C's globals. */
function taskFilterGlobals(o: TaskFilterOptions): Record<string, unknown> {
  const filter = o.pid ? 1 : o.tid ? 2 : o.userThreadsOnly ? 3 : o.kernelThreadsOnly ? 4 : 0;
  return { targ_filter: filter, targ_state: o.state ?? -1 };
}

/** Fills the `targets` map after load. */
export function setTaskTargets(bpf: { map(name: string): { set(k: number, v: number): void } }, o: TaskFilterOptions): void {
  for (const t of o.pid ?? o.tid ?? []) bpf.map('targets').set(t, 1);
}

/** The header's words for the filter: "PIDs 185,175", "user threads", "all threads". */
export function taskFilterContext(o: TaskFilterOptions): string {
  if (o.pid) return `PIDs ${o.pid.join(',')}`;
  if (o.tid) return `TIDs ${o.tid.join(',')}`;
  return o.userThreadsOnly ? 'user threads' : o.kernelThreadsOnly ? 'kernel threads' : 'all threads';
}

/** BCC's checks of the shared options, or undefined. */
export function offCpuProblem(o: OffCpuOptions): string | undefined {
  if ([o.pid, o.tid, o.userThreadsOnly, o.kernelThreadsOnly].filter(Boolean).length > 1) return 'use only one of -p, -t, -u and -k';
  if (o.userStacksOnly && o.kernelStacksOnly) return 'use only one of -U and -K';
  if (o.kernelThreadsOnly && o.userStacksOnly) return "displaying user stacks for kernel threads doesn't make sense";
  if (o.maxBlockTime !== undefined && o.maxBlockTime < o.minBlockTime) return `-M ${o.maxBlockTime} is below -m ${o.minBlockTime}`;
  return undefined;
}

/** The globals the shared options set (TASK_FILTER_C's, the block-time bounds, which stacks to take). */
export function offCpuGlobals(o: OffCpuOptions): Record<string, unknown> {
  return {
    ...taskFilterGlobals(o), min_block_us: o.minBlockTime, max_block_us: o.maxBlockTime ?? 0xffffffffffffffffn,
    targ_user: !o.kernelStacksOnly, targ_kernel: !o.userStacksOnly,
  };
}

/**
 * BPF C (after TASK_FILTER_C) of offcputime and offcpuhist: on sched_switch the task leaving the CPU
 * has its stacks and the time stamped (struct key_t, in `start`); when it is switched back in, the
 * microseconds it was away (within -m/-M) go to off_cpu_account(key, delta_us), which the tool
 * defines after this text (offcputime adds them up per stack, offcpuhist makes a histogram of them).
 */
export const OFF_CPU_SWITCH_C = `
struct key_t {
	u32 pid;
	u32 tgid;
	int user_stack_id;
	int kernel_stack_id;
	char name[16];
};
struct start_t { u64 ts; struct key_t key; };

BPF_HASH(start, u32, struct start_t, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

/* what the tool does with a task's time off CPU (its sum, its histogram): defined after this text */
static __always_inline void off_cpu_account(struct key_t *key, u64 delta_us);

static __always_inline int on_switch(void *ctx, struct task_struct___lean *prev, struct task_struct___lean *next)
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
			off_cpu_account(&key, delta);
		}
	}
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(ctx, prev, next), bool preempt, struct task_struct___lean *prev, struct task_struct___lean *next)
`;

/**
 * The start the three tools share: their program loaded with the filters' globals and -s's stack
 * storage, the -p/-t targets set, attached, and a reader of the stacks -U/-K keep (the tool tracks its map).
 */
export function startOffCpu(load: (o: { rodata: Record<string, unknown>; maxEntries: Record<string, number> }) => BPF, o: OffCpuOptions): { bpf: BPF; reader: StackReader } {
  const bpf = load({ rodata: offCpuGlobals(o), maxEntries: { stack_traces: o.stackStorageSize } });
  setTaskTargets(bpf, o);
  bpf.attachAll();
  return { bpf, reader: new StackReader(bpf, { user: !o.kernelStacksOnly, kernel: !o.userStacksOnly }) };
}
