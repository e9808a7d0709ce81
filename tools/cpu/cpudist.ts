#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// cpudist: on-CPU time (or, with -O, off-CPU time) per task as a histogram. Port of BCC's cpudist on
// the sched_switch tracepoint (BCC uses a kprobe on finish_task_switch: the same moment). As BCC, and
// unlike libbpf-tools (which counts only tasks that were preempted), every stretch on the CPU counts,
// however it ends; the idle tasks (PID 0) are left out unless -I.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_hist.h>

const volatile u32 targ_tgid = 0;
const volatile u32 targ_per = BPFKIT_PER_NONE;
const volatile bool targ_ms = false;
const volatile bool targ_offcpu = false;
const volatile bool targ_idle = false;
const volatile bool targ_extension = false;

struct comm_t { char comm[16]; };
struct ext_val { u64 total; u64 count; };
struct on_cpu { u64 ts; u32 pid; };

/* On-CPU, the task switched out is the one this CPU last switched in: its start is one per-CPU slot.
 * Off-CPU, a task comes back on any CPU: its start is kept by task (the idle tasks, all PID 0, by
 * CPU too, as BCC keys them). */
BPF_PERCPU_ARRAY(running_since, struct on_cpu, 1);
BPF_HASH(start, u64, u64, 10240);
BPF_HISTOGRAM(dist);
BPF_HISTOGRAM(dist_by, struct bpfkit_hist_key);
BPF_HASH(comms, u32, struct comm_t, 10240);   /* -P / -L: the section's name, as the task had it */
BPF_ARRAY(extension, struct ext_val, 1);      /* -e: total and count */

static __always_inline u64 start_key(u32 pid)
{
	return pid ? pid : (u64)(bpf_get_smp_processor_id() + 1) << 32;
}

static __always_inline bool traced(u32 tgid, u32 pid)
{
	return (!targ_tgid || tgid == targ_tgid) && (pid || targ_idle);
}

static __always_inline void record(struct task_struct *t, u32 tgid, u32 pid, u64 delta)
{
	delta /= targ_ms ? 1000000 : 1000;
	u32 id = targ_per == BPFKIT_PER_PROCESS ? tgid : pid;
	hist_record(dist, dist_by, targ_per != BPFKIT_PER_NONE, id, delta);
	if (targ_per != BPFKIT_PER_NONE && !bpf_map_lookup_elem(&comms, &id)) {
		struct comm_t c = {};
		BPF_CORE_READ_STR_INTO(&c.comm, t, comm);
		bpf_map_update_elem(&comms, &id, &c, BPF_NOEXIST);
	}
	if (targ_extension) {
		u32 zero = 0;
		struct ext_val *e = bpf_map_lookup_elem(&extension, &zero);
		if (e) {
			__sync_fetch_and_add(&e->total, delta);
			__sync_fetch_and_add(&e->count, 1);
		}
	}
}

static __always_inline int on_cpu_switch(struct task_struct *prev, struct task_struct *next, u64 now)
{
	u32 zero = 0;
	struct on_cpu *slot = bpf_map_lookup_elem(&running_since, &zero);
	if (!slot)
		return 0;
	u32 pid = BPF_CORE_READ(prev, pid);
	if (slot->ts && slot->pid == pid && now >= slot->ts)
		record(prev, BPF_CORE_READ(prev, tgid), pid, now - slot->ts);
	pid = BPF_CORE_READ(next, pid);
	slot->ts = traced(BPF_CORE_READ(next, tgid), pid) ? now : 0;
	slot->pid = pid;
	return 0;
}

static __always_inline int off_cpu_switch(struct task_struct *prev, struct task_struct *next, u64 now)
{
	u32 tgid = BPF_CORE_READ(prev, tgid), pid = BPF_CORE_READ(prev, pid);
	if (traced(tgid, pid))
		stamp_start(start, start_key(pid), now);
	tgid = BPF_CORE_READ(next, tgid);
	pid = BPF_CORE_READ(next, pid);
	u64 delta;
	if (traced(tgid, pid) && take_elapsed(start, start_key(pid), now, &delta))
		record(next, tgid, pid, delta);
	return 0;
}

static __always_inline int on_switch(struct task_struct *prev, struct task_struct *next)
{
	u64 now = bpf_ktime_get_ns();
	return targ_offcpu ? off_cpu_switch(prev, next, now) : on_cpu_switch(prev, next, now);
}

BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(prev, next), bool preempt, struct task_struct *prev, struct task_struct *next)
`;

interface Options {
  offcpu: boolean;
  timestamp: boolean;
  milliseconds: boolean;
  pids: boolean;
  tids: boolean;
  pid?: number;
  includeIdle: boolean;
  extension: boolean;
  interval?: string;
  count?: string;
}

defineTool<Options>({
  name: 'cpudist',
  subsystem: 'cpu',
  description: 'Summarize on- and off-CPU time per task as a histogram',
  ports: { bcc: 'tools/cpudist.py', 'libbpf-tools': 'libbpf-tools/cpudist.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_switch'], raw_tp: ['sched_switch'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-O', '-P', '1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  program,
  options: {
    offcpu: opt.flag('O', 'measure off-CPU time'),
    timestamp: opt.flag('T', 'include timestamp on output'),
    milliseconds: opt.flag('m', 'millisecond histogram'),
    pids: opt.flag('P', 'print a histogram per process ID'),
    tids: opt.flag('L', 'print a histogram per thread ID'),
    pid: opt.pid(),
    includeIdle: opt.flag('I', 'include CPU idle time'),
    extension: opt.flag('e', 'show extension summary (average/total/count)'),
  },
  positional: '[interval] [count]',
  examples: [
    ['cpudist', 'summarize on-CPU time as a histogram'],
    ['cpudist -O', 'summarize off-CPU time as a histogram'],
    ['cpudist 1 10', 'print 1 second summaries, 10 times'],
    ['cpudist -mT 1', '1s summaries, milliseconds, and timestamps'],
    ['cpudist -P', 'show each PID separately'],
    ['cpudist -p 185', 'trace PID 185 only'],
    ['cpudist -I', 'include CPU idle time'],
    ['cpudist -e', 'show extension summary (average/total/count)'],
  ],
  validate(o) {
    if (o.pids && o.tids) return 'use only one of -P and -L';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const per = opts.pids ? 1 : opts.tids ? 2 : 0;
    const bpf = load({
      rodata: {
        targ_tgid: opts.pid ?? 0, targ_per: per, targ_ms: opts.milliseconds, targ_offcpu: opts.offcpu,
        targ_idle: opts.includeIdle, targ_extension: opts.extension,
      },
    });
    bpf.attachAll();
    const unit = opts.milliseconds ? 'msecs' : 'usecs';
    const hist = bpf.histogram(per ? 'dist_by' : 'dist');
    const comms = bpf.map<number, { comm: string }>('comms');
    const extension = bpf.map<number, { total: bigint; count: bigint }>('extension');
    const sectionHeader = ['', 'pid', 'tid'][per];
    banner(`Tracing ${opts.offcpu ? 'off' : 'on'}-CPU time... Hit Ctrl-C to end.`);

    await intervals(interval, count, () => {
      const data = hist.read(true);
      // sections are named as libbpf-tools names them, "pid = 185 bash", from the comm the task had
      const names = per ? new Map(comms.drain().map(([id, c]) => [id, c.comm])) : new Map<number, string>();
      const ext = opts.extension ? extension.get(0) : undefined;
      if (opts.extension) extension.set(0, { total: 0n, count: 0n });
      const summary = ext && ext.count > 0n
        ? { average: Number(ext.total / ext.count), total: Number(ext.total), count: Number(ext.count) }
        : undefined;
      if (json) {
        const body = hist.json(unit, { sectionHeader }, data);
        if ('sections' in body) for (const s of body.sections) Object.assign(s, { comm: names.get(s.key as number) ?? null });
        emit.histogram(body, opts.extension ? { summary: summary ?? { average: 0, total: 0, count: 0 } } : {});
        return;
      }
      out.write('\n');
      if (opts.timestamp) out.write(sprintf('%-8s\n', strftimeHMS()));
      out.write(hist.format(unit, {
        sectionHeader,
        sectionFormat: (id: number) => (names.has(id) ? `${id} ${names.get(id)}` : String(id)),
        sectionSort: (a, b) => parseInt(String(a), 10) - parseInt(String(b), 10),
      }, data));
      if (summary) out.write(`\navg = ${summary.average} ${unit}, total: ${summary.total} ${unit}, count: ${summary.count}\n\n`);
    });
  },
});
