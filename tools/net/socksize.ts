#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// socksize: socket I/O sizes as power-of-2 histograms per process name, reads and writes apart: the
// book's socksize.bt (chapter 10), which takes the size from kretprobes on sock_recvmsg and
// sock_sendmsg. This kernel has no kprobes: the sock:sock_recv_length and sock:sock_send_length
// tracepoints fire in those functions with what they return (errors, as the book's, are not counted).
import { defineTool, intervalCount, opt } from '../../lib/cli/index.js';
import { strftimeHMS } from '../../lib/output/index.js';

const program = `
#include <bpfkit_sock.h>   /* sock_traced() */

struct size_key {
	char comm[16];
	u64 slot;
};

BPF_HISTOGRAM(read_bytes, struct size_key);
BPF_HISTOGRAM(write_bytes, struct size_key);

#define count_size(dist, ret) ({					\\
	if ((ret) >= 0 && sock_traced()) {				\\
		struct size_key __key = { .slot = bpf_log2l(ret) };	\\
		bpf_get_current_comm(&__key.comm, sizeof(__key.comm));	\\
		map_increment(dist, __key);				\\
	}								\\
	0; })

TRACEPOINT_PROBE(sock, sock_recv_length) { return count_size(read_bytes, args->ret); }
TRACEPOINT_PROBE(sock, sock_send_length) { return count_size(write_bytes, args->ret); }
`;

/** The two histograms, by the direction --json names them by (field `dir`). */
const maps = [['read', 'read_bytes'], ['write', 'write_bytes']] as const;

interface Options { pid?: number; timestamp: boolean; interval?: string; count?: string }

defineTool<Options>({
  name: 'socksize',
  subsystem: 'net',
  description: 'Socket I/O sizes as histograms by process name, reads and writes',
  ports: { book: 'chapter 10, Networking (socksize.bt)' },
  probes: { tracepoint: ['sock/sock_recv_length', 'sock/sock_send_length'] },
  output: 'histogram',
  invocations: [{ args: ['1', '1'], ends: 'itself' }, { args: ['-T'], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'comm' }),
  program,
  options: {
    pid: opt.pid('trace only this process'),
    timestamp: opt.flag('T', 'include timestamp on output'),
  },
  positional: '[interval] [count]',
  examples: [
    ['socksize', 'socket I/O size histograms until Ctrl-C'],
    ['socksize -T 5', 'every 5 seconds, timestamped'],
    ['socksize -p 181', 'only PID 181'],
  ],

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const { interval, count } = intervalCount(opts);
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0 } });
    bpf.attachAll();
    process.stderr.write('socksize: sizes from sock:sock_recv_length/sock_send_length: this kernel has no kprobes for sock_recvmsg/sock_sendmsg\n');
    banner('Tracing socket I/O sizes... Hit Ctrl-C to end.');
    const dists = maps.map(([dir, name]) => [dir, name, bpf.histogram(name)] as const);
    await intervals(interval, count, () => {
      if (!json) {
        out.line('');
        if (opts.timestamp) out.line(strftimeHMS());
      }
      for (const [dir, name, dist] of dists) {
        const data = dist.read(true);
        if (json) {
          emit.histogram(dist.json('bytes', { sectionHeader: 'comm' }, data), { dir });
          continue;
        }
        out.line(`@${name}:`);
        out.write(dist.format('bytes', { sectionHeader: 'comm' }, data));
        out.line('');
      }
    });
  },
});
