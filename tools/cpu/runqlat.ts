#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// runqlat: run queue (scheduler) latency as a histogram — the time from a task being woken (or
// preempted while runnable) to it running on a CPU. Port of BCC's runqlat on sched tracepoints.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';

const program = `
#include <bpfkit.h>

#define TASK_RUNNING 0
enum { PER_NONE, PER_PROCESS, PER_THREAD, PER_PIDNS };

const volatile u32 targ_tgid = 0;
const volatile u32 targ_per = PER_NONE;
const volatile bool targ_ms = false;

struct hist_key { u32 id; u32 slot; };

BPF_HASH(start, u32, u64, 10240);
BPF_HISTOGRAM(dist);                          /* all tasks */
BPF_HISTOGRAM(dist_by, struct hist_key);      /* -P / -L / --pidnss sections */

#include <bpfkit_sched.h>                     /* task_state(), struct task_struct___lean */

/* The task's active PID namespace, as task_active_pid_ns(): thread_pid->numbers[level].ns */
static __always_inline u32 pid_namespace(struct task_struct___lean *t)
{
	struct pid___lean *pid = BPF_CORE_READ(t, thread_pid);
	u32 level = BPF_CORE_READ(pid, level);
	struct upid___lean *up = (void *)pid + bpf_core_field_offset(struct pid___lean, numbers) + level * bpf_core_type_size(struct upid___lean);
	return BPF_CORE_READ(up, ns, ns.inum);
}

static __always_inline int enqueue(struct task_struct___lean *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid), pid = BPF_CORE_READ(p, pid);
	if (!pid || (targ_tgid && tgid != targ_tgid))
		return 0;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_switch(struct task_struct___lean *prev, struct task_struct___lean *next)
{
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);                /* preempted: back on the run queue */

	u32 pid = BPF_CORE_READ(next, pid);
	u64 *tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &pid);
	delta /= targ_ms ? 1000000 : 1000;
	u32 slot = bpf_log2l(delta);
	if (slot >= 65)
		slot = 64;
	if (targ_per == PER_NONE) {
		map_increment(dist, slot);
		return 0;
	}
	struct hist_key key = { .slot = slot };
	if (targ_per == PER_PROCESS)
		key.id = BPF_CORE_READ(next, tgid);
	else if (targ_per == PER_THREAD)
		key.id = pid;
	else
		key.id = pid_namespace(next);
	map_increment(dist_by, key);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_wakeup, wakeup, enqueue(p), struct task_struct___lean *p)
BTF_TRACEPOINT_PROBE(sched_wakeup_new, wakeup_new, enqueue(p), struct task_struct___lean *p)
BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(prev, next), bool preempt, struct task_struct___lean *prev, struct task_struct___lean *next)
`;

interface Options {
  timestamp: boolean;
  milliseconds: boolean;
  pids: boolean;
  tids: boolean;
  pidnss: boolean;
  pid?: number;
  interval?: string;
  count?: string;
}

/** -P, -L, --pidnss: a histogram per PID, TID or PID namespace (the program's targ_per: 1, 2, 3). */
const PER = ['', 'pid', 'tid', 'pidns'] as const;
const perOf = (o: Options) => (o.pids ? 1 : o.tids ? 2 : o.pidnss ? 3 : 0);

defineTool<Options>({
  name: 'runqlat',
  subsystem: 'cpu',
  description: 'Summarize run queue (scheduler) latency as a histogram',
  ports: { bcc: 'tools/runqlat.py', 'libbpf-tools': 'libbpf-tools/runqlat.bpf.c', bpftrace: 'tools/runqlat.bt', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_wakeup', 'sched_wakeup_new', 'sched_switch'], raw_tp: ['sched_wakeup', 'sched_wakeup_new', 'sched_switch'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: o => ({ sectionBy: PER[perOf(o)] || undefined }),
  program,
  options: {
    timestamp: opt.flag('T', 'include timestamp on output'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
    pids: opt.flag('P', 'print a histogram per process ID'),
    tids: opt.flag('L', 'print a histogram per thread ID'),
    pidnss: { type: 'boolean', default: false, describe: 'print a histogram per PID namespace' },
    pid: opt.pid(),
  },
  positional: '[interval] [count]',
  examples: [
    ['runqlat', 'summarize run queue latency as a histogram'],
    ['runqlat 1 10', 'print 1 second summaries, 10 times'],
    ['runqlat -mT 1', '1s summaries, milliseconds, and timestamps'],
    ['runqlat -P', 'show each PID separately'],
    ['runqlat -p 185', 'trace PID 185 only'],
    ['runqlat --pidnss', 'show each PID namespace separately'],
  ],
  validate(o) {
    if ([o.pids, o.tids, o.pidnss].filter(Boolean).length > 1) return 'use only one of -P, -L and --pidnss';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const per = perOf(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_per: per, targ_ms: opts.milliseconds } });
    bpf.attachAll();
    const unit = opts.milliseconds ? 'msecs' : 'usecs';
    const hist = bpf.histogram(per ? 'dist_by' : 'dist');
    const sectionHeader = PER[per];
    banner('Tracing run queue latency... Hit Ctrl-C to end.');

    await intervals(interval, count, () => hist.printInterval({ out, emit, json }, unit, { sectionHeader }, { timestamp: opts.timestamp }));
  },
});
