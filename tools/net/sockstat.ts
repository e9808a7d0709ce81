#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// sockstat: socket calls per interval, the book's sockstat.bt (chapter 10): accept, connect, bind and
// socket syscalls from their tracepoints, and the socket layer's sendmsg/recvmsg calls. The book counts
// those at kprobes on sock_sendmsg and sock_recvmsg; this kernel has no kprobes, and the
// sock:sock_send_length and sock:sock_recv_length tracepoints fire in those same functions, once a call
// (whatever it returned), so they count the same calls.
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

/** What is counted, in the order of the counter array: the probe as the text names it, and its field in --json. */
const counters = [
  ['tracepoint:syscalls:sys_enter_accept', 'accept'],
  ['tracepoint:syscalls:sys_enter_accept4', 'accept4'],
  ['tracepoint:syscalls:sys_enter_connect', 'connect'],
  ['tracepoint:syscalls:sys_enter_bind', 'bind'],
  ['tracepoint:syscalls:sys_enter_socket', 'socket'],
  ['tracepoint:syscalls:sys_enter_socketpair', 'socketpair'],
  ['tracepoint:sock:sock_send_length', 'sendmsg'],
  ['tracepoint:sock:sock_recv_length', 'recvmsg'],
] as const;

const program = `
#include <bpfkit_sock.h>   /* sock_traced() */

BPF_PERCPU_ARRAY(stats, u64, ${counters.length});

static __always_inline int count(u32 key)
{
	if (!sock_traced())
		return 0;
	u64 *v = bpf_map_lookup_elem(&stats, &key);
	if (v)
		(*v)++;
	return 0;
}

${counters.slice(0, 6).map(([, name], i) => `TRACEPOINT_PROBE(syscalls, sys_enter_${name}) { return count(${i}); }`).join('\n')}
/* in sock_sendmsg()/sock_recvmsg() (their _nosec parts), once a call */
TRACEPOINT_PROBE(sock, sock_send_length) { return count(6); }
TRACEPOINT_PROBE(sock, sock_recv_length) { return count(7); }
`;

interface Options { pid?: number; interval?: string; count?: string }

defineTool<Options>({
  name: 'sockstat',
  subsystem: 'net',
  description: 'Socket statistics per interval: accept, connect, bind, socket, sendmsg and recvmsg calls',
  ports: { book: 'chapter 10, Networking (sockstat.bt)' },
  probes: { tracepoint: [...counters.slice(0, 6).map(([, n]) => `syscalls/sys_enter_${n}`), 'sock/sock_send_length', 'sock/sock_recv_length'] },
  output: 'counts',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: counters.map(([, field]) => field) }),
  program,
  options: { pid: opt.pid('count only this process') },
  positional: '[interval] [count]',
  examples: [
    ['sockstat', 'socket calls every second'],
    ['sockstat 5 3', 'three 5-second summaries'],
    ['sockstat -p 181', 'only the calls of PID 181'],
  ],

  async run({ opts, load, out, json, emit, intervals }) {
    let { interval, count } = intervalCount(opts);
    if (opts.interval === undefined) interval = 1; // the book's: every second
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('sockstat: sock_sendmsg/sock_recvmsg counted at sock:sock_send_length/sock_recv_length: this kernel has no kprobes\n');
    const stats = bpf.map<number, bigint[]>('stats');
    if (!json) out.line(`Tracing sock statistics. Output every ${interval} second${interval === 1 ? '' : 's'}.`);
    await intervals(interval, count, (_last, seconds) => {
      const values = counters.map((_, i) => (stats.get(i) ?? []).reduce((a, b) => a + Number(b), 0));
      stats.clear();
      if (json) {
        emit.counts(seconds, [Object.fromEntries(counters.map(([, field], i) => [field, values[i]]))]);
        return;
      }
      // bpftrace's time() and print(@): the non-zero counts, smallest first, then a blank line
      out.line(strftimeHMS());
      const rows = values.map((n, i) => [counters[i]![0], n] as const).filter(([, n]) => n > 0).sort((a, b) => a[1] - b[1]);
      for (const [probe, n] of rows) out.line(`@[${probe}]: ${n}`);
      out.line('');
    });
  },
});
