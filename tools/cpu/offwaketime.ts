#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// offwaketime: time blocked per (blocked stack, waker stack) pair (BCC's offwaketime). On sched_wakeup
// the waker (the current task) leaves its stacks for the woken task; on sched_switch the task going
// off CPU has its own stacks and the time stamped; when it runs again, the time away is added to the
// pair. The blocked stack is taken as it blocks (BCC takes it on the switch back, from the wrong task).
import { defineTool, durationSeconds } from '../../lib/cli/index.js';
import { printStacks, type StackSample } from '../../lib/stacks/index.js';
import { OFF_CPU_OPTIONS, offCpuProblem, startOffCpu, TASK_FILTER_C, type OffCpuOptions } from '../../lib/stacks/tasks.js';

const program = `
#include <bpfkit.h>

${TASK_FILTER_C}

struct key_t {
	char waker[16];
	char target[16];
	int w_k_stack_id;
	int w_u_stack_id;
	int t_k_stack_id;
	int t_u_stack_id;
	u32 t_pid;
	u32 t_tgid;
	u32 w_pid;
	u32 w_tgid;
};
struct start_t { u64 ts; char name[16]; int k_stack_id; int u_stack_id; u32 tgid; };
struct wokeby_t { char name[16]; int k_stack_id; int u_stack_id; u32 pid; u32 tgid; };

BPF_HASH(start, u32, struct start_t, 10240);
BPF_HASH(wokeby, u32, struct wokeby_t, 10240);
BPF_HASH(counts, struct key_t, u64, 10240);
BPF_STACK_TRACE(stack_traces, 16384);

/* the current task's stacks: a kernel thread has no user stack (-EFAULT, as bpf_get_stackid says) */
static __always_inline void current_stacks(void *ctx, bool kthread, int *k, int *u)
{
	*k = targ_kernel ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	*u = targ_user && !kthread ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -14;
}

static __always_inline int on_wakeup(void *ctx, struct task_struct___lean *p)
{
	if (!wanted(p))
		return 0;
	u32 pid = BPF_CORE_READ(p, pid);
	struct wokeby_t w = {};
	u64 id = bpf_get_current_pid_tgid();
	w.pid = (u32)id;
	w.tgid = id >> 32;
	bpf_get_current_comm(&w.name, sizeof(w.name));
	struct task_struct___lean *cur = current_task();
	current_stacks(ctx, BPF_CORE_READ(cur, flags) & PF_KTHREAD, &w.k_stack_id, &w.u_stack_id);
	bpf_map_update_elem(&wokeby, &pid, &w, BPF_ANY);
	return 0;
}

static __always_inline int on_switch(void *ctx, struct task_struct___lean *prev, struct task_struct___lean *next)
{
	u64 now = bpf_ktime_get_ns();
	u32 pid = BPF_CORE_READ(prev, pid);
	if (pid && wanted(prev)) {
		struct start_t s = { .ts = now, .tgid = BPF_CORE_READ(prev, tgid) };
		BPF_CORE_READ_STR_INTO(&s.name, prev, comm);
		current_stacks(ctx, BPF_CORE_READ(prev, flags) & PF_KTHREAD, &s.k_stack_id, &s.u_stack_id);
		bpf_map_update_elem(&start, &pid, &s, BPF_ANY);
	}
	pid = BPF_CORE_READ(next, pid);
	struct start_t *s = bpf_map_lookup_elem(&start, &pid);
	if (!s)
		return 0;
	u64 delta = now > s->ts ? (now - s->ts) / 1000 : 0;
	if (now > s->ts && delta >= min_block_us && delta <= max_block_us) {
		struct key_t key = { .t_pid = pid, .t_tgid = s->tgid, .t_k_stack_id = s->k_stack_id, .t_u_stack_id = s->u_stack_id };
		__builtin_memcpy(key.target, s->name, sizeof(key.target));
		struct wokeby_t *w = bpf_map_lookup_elem(&wokeby, &pid);
		if (w) {
			__builtin_memcpy(key.waker, w->name, sizeof(key.waker));
			key.w_k_stack_id = w->k_stack_id;
			key.w_u_stack_id = w->u_stack_id;
			key.w_pid = w->pid;
			key.w_tgid = w->tgid;
		} else {
			/* preempted, or woken before tracing began: no waker */
			key.w_k_stack_id = key.w_u_stack_id = -14;
		}
		map_add(counts, key, delta);
	}
	bpf_map_delete_elem(&start, &pid);
	bpf_map_delete_elem(&wokeby, &pid);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_wakeup, wakeup, on_wakeup(ctx, p), struct task_struct___lean *p)
BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(ctx, prev, next), bool preempt, struct task_struct___lean *prev, struct task_struct___lean *next)
`;

interface Key {
  waker: string; target: string; w_k_stack_id: number; w_u_stack_id: number; t_k_stack_id: number; t_u_stack_id: number;
  t_pid: number; t_tgid: number; w_pid: number; w_tgid: number;
}

defineTool<OffCpuOptions>({
  name: 'offwaketime',
  subsystem: 'cpu',
  description: 'Summarize blocked time by kernel stack trace + waker stack',
  ports: { bcc: 'tools/offwaketime.py', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_wakeup', 'sched_switch'], raw_tp: ['sched_wakeup', 'sched_switch'] },
  output: 'stacks',
  invocations: [{ args: ['1'], ends: 'itself' }, { args: ['-f', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: OFF_CPU_OPTIONS,
  positional: '[duration]',
  examples: [
    ['offwaketime', 'trace off-CPU + waker stack time until Ctrl-C'],
    ['offwaketime 5', 'trace for 5 seconds only'],
    ['offwaketime -f 5', 'trace for 5 seconds, and output in folded format'],
    ['offwaketime -m 1000', 'trace only events that last more than 1000 usec'],
    ['offwaketime -M 9000', 'trace only events that last less than 9000 usec'],
    ['offwaketime -p 185', 'only trace threads for PID 185'],
    ['offwaketime -t 188', 'only trace thread 188'],
    ['offwaketime -u', 'only trace user threads (no kernel)'],
    ['offwaketime -k', 'only trace kernel threads (no user)'],
    ['offwaketime -U', 'only show user space stacks (no kernel)'],
    ['offwaketime -K', 'only show kernel space stacks (no user)'],
  ],
  validate(o) {
    return offCpuProblem(o);
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const duration = durationSeconds(opts.duration);
    const { bpf, reader } = startOffCpu(load, opts);
    const started = Date.now();
    reader.track('counts', (k: Key) => [k.t_tgid, k.w_tgid]);

    if (!opts.folded) {
      const stacks = opts.userStacksOnly ? 'user' : opts.kernelStacksOnly ? 'kernel' : 'user + kernel';
      (json ? process.stderr : out).write(`Tracing blocked time (us) by ${stacks} off-CPU and waker stack${duration ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`);
    }
    await untilExit(duration);
    reader.stop();
    if (!opts.folded && !json) out.write('\n');

    const samples: StackSample[] = bpf.map<Key, bigint>('counts').entries().map(([k, v]) => ({
      pid: k.t_pid, tgid: k.t_tgid, comm: k.target, userStackId: k.t_u_stack_id, kernelStackId: k.t_k_stack_id, value: Number(v),
      waker: { pid: k.w_pid, tgid: k.w_tgid, comm: k.waker, userStackId: k.w_u_stack_id, kernelStackId: k.w_k_stack_id },
    }));
    printStacks(reader, samples, out, {
      delimited: opts.delimited && !opts.userStacksOnly && !opts.kernelStacksOnly,
      json: json ? { emit, seconds: (Date.now() - started) / 1000, valueField: 'total_us', withTgid: true } : undefined,
      folded: opts.folded,
      flamegraph: opts.flamegraph ? { file: opts.flamegraph, title: 'Off-Wake Time Flame Graph', countName: 'us', palette: 'off-cpu' } : undefined,
    });
  },
});
