#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// threadsnoop: new threads as pthread_create() starts them, with the start routine's symbol (BCC's
// threadsnoop, bpftrace's threadsnoop.bt). A uprobe on libc's pthread_create: glibc 2.34 and later
// have it in libc.so.6 (libpthread is an empty stub there).
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf } from '../../lib/output/index.js';
import { demangle, functionOffset, ProcessSymbols } from '../../lib/syms/index.js';

const program = `
#include <bpfkit.h>

const volatile u32 targ_pid = 0;

struct thread_event {
	u64 ts;
	u32 pid;
	u64 start;
	char comm[16];
};

BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct thread_event);

/* int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start_routine)(void *), void *arg) */
SEC("uprobe")
int BPF_KPROBE(pthread_create_entry, void *thread, void *attr, void *start_routine)
{
	u32 pid = bpfkit_tgid();
	if (targ_pid && pid != targ_pid)
		return 0;
	struct thread_event *e = ringbuf_reserve(events, struct thread_event);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->pid = pid;
	e->start = (u64)start_routine;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
	return 0;
}
`;

interface Options { pid?: number }
interface ThreadEvent { ts: bigint; pid: number; start: bigint; comm: string }

defineTool<Options>({
  name: 'threadsnoop',
  subsystem: 'app',
  description: 'Trace thread creation via pthread_create()',
  ports: { bcc: 'tools/threadsnoop.py', bpftrace: 'tools/threadsnoop.bt', book: 'chapter 13, Applications' },
  probes: { uprobe: ['c:pthread_create'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['ts_ns', 'pid', 'comm', 'func', 'start_addr'] }),
  program,
  options: {
    pid: opt.pid('trace this PID only'),
  },
  examples: [
    ['threadsnoop', 'trace new threads system-wide'],
    ['threadsnoop -p 181', 'only trace threads created by PID 181'],
  ],

  async run({ opts, load, out, json, emit, untilExit }) {
    const bpf = load({ rodata: { targ_pid: opts.pid ?? 0 } });
    bpf.attachUprobe('pthread_create_entry', { ...functionOffset('c', 'pthread_create'), pid: opts.pid });
    if (!json) {
      out.line(sprintf('%-10s %-6s %-16s %s', 'TIME(ms)', 'PID', 'COMM', 'FUNC'));
      out.flush();
    }
    let firstTs: bigint | undefined;
    const stream = bpf.events<ThreadEvent>('events', 'thread_event', e => {
      // resolved now, while the creating process lives
      const name = ProcessSymbols.forPid(e.pid).resolve(e.start)?.name;
      const func = name ? demangle(name) : '[unknown]';
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, func, start_addr: `0x${e.start.toString(16)}` }, { tsNs: e.ts });
        return;
      }
      firstTs ??= e.ts; // BCC's TIME(ms) counts from the first thread seen
      out.line(sprintf('%-10d %-6d %-16s %s', Number((e.ts - firstTs) / 1_000_000n), e.pid, e.comm, func));
    });
    await untilExit();
    stream.drain();
  },
});
