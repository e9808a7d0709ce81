#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// runqslower: each run-queue (scheduler) latency above a threshold, as it happens: the time from a
// task being woken, or preempted while runnable, to it running on a CPU. Port of BCC's runqslower on
// the sched_wakeup, sched_wakeup_new and sched_switch tracepoints (tp_btf, with raw_tp below it).
import { defineTool, nonNegativeInt, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_hist.h>
#include <bpfkit_sched.h>                     /* task_state() */

#define TASK_RUNNING 0

const volatile u32 targ_tgid = 0;
const volatile u32 targ_tid = 0;
const volatile u64 min_us = 10000;

struct event {
	u64 ts;
	u64 delta_us;
	u32 tid;
	u32 prev_tid;
	char task[16];
	char prev_task[16];
};

BPF_HASH(start, u32, u64, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

static __always_inline int enqueue(struct task_struct *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);
	if (!tid || (targ_tgid && tgid != targ_tgid) || (targ_tid && tid != targ_tid))
		return 0;
	stamp_start(start, tid, bpf_ktime_get_ns());
	return 0;
}

static __always_inline int on_switch(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);                /* preempted: back on the run queue */

	u64 now = bpf_ktime_get_ns(), elapsed;
	u32 tid = BPF_CORE_READ(next, pid);
	if (!take_elapsed(start, tid, now, &elapsed))
		return 0;
	u64 delta_us = elapsed / 1000;
	if (min_us && delta_us <= min_us)
		return 0;
	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		return 0;
	e->ts = now;
	e->delta_us = delta_us;
	e->tid = tid;
	e->prev_tid = BPF_CORE_READ(prev, pid);
	BPF_CORE_READ_STR_INTO(&e->task, next, comm);
	BPF_CORE_READ_STR_INTO(&e->prev_task, prev, comm);
	ringbuf_submit(events, e);
	return 0;
}

BTF_TRACEPOINT_PROBE(sched_wakeup, wakeup, enqueue(p), struct task_struct *p)
BTF_TRACEPOINT_PROBE(sched_wakeup_new, wakeup_new, enqueue(p), struct task_struct *p)
BTF_TRACEPOINT_PROBE(sched_switch, switch, on_switch(ctx, prev, next), bool preempt, struct task_struct *prev, struct task_struct *next)
`;

interface Options {
  previous: boolean;
  pid?: number;
  tid?: number;
  min_us?: string;
}

interface Event { ts: bigint; delta_us: bigint; tid: number; prev_tid: number; task: string; prev_task: string }

const minimum = (o: Options) => nonNegativeInt('minimum latency (us)')(o.min_us ?? '10000')!;

defineTool<Options>({
  name: 'runqslower',
  subsystem: 'cpu',
  description: 'Trace high run queue latency',
  ports: { bcc: 'tools/runqslower.py', 'libbpf-tools': 'libbpf-tools/runqslower.bpf.c', book: 'chapter 6, CPUs' },
  probes: { tp_btf: ['sched_wakeup', 'sched_wakeup_new', 'sched_switch'], raw_tp: ['sched_wakeup', 'sched_wakeup_new', 'sched_switch'] },
  output: 'event',
  // a threshold any switch-in passes (0 µs): the catalogue's runs must report on an idle machine as on a busy one
  invocations: [{ args: ['0'], ends: 'ctrl-c' }, { args: ['-P', '0'], ends: 'ctrl-c' }],
  records: o => ({ fields: ['ts_ns', 'comm', 'tid', 'lat_us', ...(o.previous ? ['prev_comm', 'prev_tid'] : [])] }),
  program,
  options: {
    previous: opt.flag('P', 'also show previous task name and TID'),
    pid: opt.pid(),
    tid: opt.tid('trace this TID only (use for threads only)'),
  },
  positional: '[min_us]',
  examples: [
    ['runqslower', 'trace run queue latency higher than 10000 us (default)'],
    ['runqslower 1000', 'trace run queue latency higher than 1000 us'],
    ['runqslower -p 123', 'trace pid 123'],
    ['runqslower -t 123', 'trace tid 123 (use for threads only)'],
    ['runqslower -P', 'also show previous task comm and TID'],
  ],
  validate(o) {
    if (o.pid !== undefined && o.tid !== undefined) return 'use only one of -p and -t';
    minimum(o); // a UsageError for a threshold that is not a number of microseconds
    return undefined;
  },

  async run({ opts, load, out, json, emit, untilExit }) {
    const minUs = minimum(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_tid: opts.tid ?? 0, min_us: BigInt(minUs) } });
    bpf.attachAll();
    const header = opts.previous
      ? sprintf('%-8s %-16s %-6s %14s %-16s %-6s', 'TIME', 'COMM', 'TID', 'LAT(us)', 'PREV COMM', 'PREV TID')
      : sprintf('%-8s %-16s %-6s %14s', 'TIME', 'COMM', 'TID', 'LAT(us)');
    if (json) process.stderr.write(`Tracing run queue latency higher than ${minUs} us\n`);
    else {
      out.line(`Tracing run queue latency higher than ${minUs} us`);
      out.line(header);
      out.flush();
    }
    const stream = bpf.events<Event>('events', 'event', e => {
      if (json) {
        emit.event({ comm: e.task, tid: e.tid, lat_us: Number(e.delta_us), ...(opts.previous ? { prev_comm: e.prev_task, prev_tid: e.prev_tid } : {}) }, { tsNs: e.ts });
        return;
      }
      const line = sprintf('%-8s %-16s %-6d %14d', strftimeHMS(), e.task, e.tid, Number(e.delta_us));
      out.line(opts.previous ? line + sprintf(' %-16s %-6d', e.prev_task, e.prev_tid) : line);
    });
    await untilExit();
    stream.drain(); // the waits that ended just before Ctrl-C, not yet read
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`runqslower: lost ${lost} events\n`);
  },
});
