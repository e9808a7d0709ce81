#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// naptime: voluntary sleeps, as nanosleep(2) and clock_nanosleep(2) request them, with the sleeper's
// parent (the book's naptime.bt, chapter 13). glibc's nanosleep() and sleep(1) use clock_nanosleep, so
// both syscalls are traced; an absolute clock_nanosleep (TIMER_ABSTIME) requests a wake-up time, not a
// duration, and is left out.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit.h>
#include <bpfkit_task.h>

#define TIMER_ABSTIME 1

const volatile u32 targ_pid = 0;

struct nap_event {
	u64 ts;
	u32 ppid;
	u32 pid;
	s64 sec;
	s64 nsec;
	char pcomm[16];
	char comm[16];
};

BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct nap_event);

static __always_inline int nap(void *ctx, u64 rqtp)
{
	u32 pid = bpfkit_tgid();
	if (targ_pid && pid != targ_pid)
		return 0;
	struct __kernel_timespec ts = {};
	if (bpf_probe_read_user(&ts, sizeof(ts), (void *)rqtp))
		return 0;
	struct nap_event *e = ringbuf_reserve(events, struct nap_event);
	if (!e)
		return 0;
	struct task_struct___lean *task = current_task();
	e->ts = bpf_ktime_get_ns();
	e->pid = pid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->sec = ts.tv_sec;
	e->nsec = ts.tv_nsec;
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_nanosleep)
{
	return nap(args, args->rqtp);
}

TRACEPOINT_PROBE(syscalls, sys_enter_clock_nanosleep)
{
	if (args->flags & TIMER_ABSTIME)
		return 0;
	return nap(args, args->rqtp);
}
`;

interface Options { pid?: number }
interface NapEvent { ts: bigint; ppid: number; pid: number; sec: bigint; nsec: bigint; pcomm: string; comm: string }

defineTool<Options>({
  name: 'naptime',
  subsystem: 'app',
  description: 'Trace voluntary sleep calls (nanosleep, clock_nanosleep) with their durations',
  ports: { bpftrace: 'tools/naptime.bt', book: 'chapter 13, Applications' },
  probes: { tracepoint: ['syscalls/sys_enter_nanosleep', 'syscalls/sys_enter_clock_nanosleep'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'ppid', 'pcomm', 'pid', 'comm', 'seconds'] }),
  program,
  options: {
    pid: opt.pid('trace this PID only'),
  },
  examples: [
    ['naptime', 'trace sleeps system-wide'],
    ['naptime -p 1216', 'only trace PID 1216'],
  ],

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0 } });
    bpf.attachAll();
    banner('Tracing sleeps. Hit Ctrl-C to end.');
    if (!json) {
      out.line(sprintf('%-8s %-6s %-16s %-6s %-16s %s', 'TIME', 'PPID', 'PCOMM', 'PID', 'COMM', 'SECONDS'));
      out.flush();
    }
    const stream = bpf.events<NapEvent>('events', 'nap_event', e => {
      // the requested duration to the ms, as the book prints it (%d.%03d)
      const seconds = sprintf('%d.%03d', Number(e.sec), Math.floor(Number(e.nsec) / 1e6));
      if (json) {
        emit.event({ ppid: e.ppid, pcomm: e.pcomm, pid: e.pid, comm: e.comm, seconds: Number(e.sec) + Number(e.nsec) / 1e9 }, { tsNs: e.ts });
        return;
      }
      out.line(sprintf('%-8s %-6d %-16s %-6d %-16s %s', strftimeHMS(), e.ppid, e.pcomm, e.pid, e.comm, seconds));
    });
    await untilExit();
    stream.drain();
  },
});
