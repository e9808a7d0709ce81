#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcpsynbl: how full each listener's accept backlog is when a handshake completes, as a histogram per
// backlog limit (BCC's tcpsynbl). BCC reads the listener's sk_ack_backlog at kprobe:tcp_v4/v6_syn_recv_sock;
// without kprobes here, sock:inet_sock_set_state LISTEN -> SYN_RECV fires inside that function for the new
// child socket, a copy of the listener (sk_clone_lock) that carries its sk_ack_backlog and
// sk_max_ack_backlog as they were. A completion the full backlog refuses makes no child, so the histogram
// reaches the limit itself where BCC's also counts those refusals one above it.
import { defineTool, opt } from '../../lib/cli/index.js';
import { familyFilter } from '../../lib/host/net.js';

const program = `
#include <bpfkit_net.h>   /* TCP states */

const volatile u16 targ_family = 0;

struct backlog_key {
	u32 backlog;
	u32 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
	u64 slot;
};

BPF_HISTOGRAM(dist, struct backlog_key, 1024);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP || args->oldstate != TCP_LISTEN || args->newstate != TCP_SYN_RECV)
		return 0;
	if (targ_family && args->family != targ_family)
		return 0;
	struct sock *child = (struct sock *)args->skaddr;
	struct backlog_key key = {};
	key.backlog = BPF_CORE_READ(child, sk_max_ack_backlog);
	key.slot = bpf_log2l(BPF_CORE_READ(child, sk_ack_backlog));
	map_increment(dist, key);
	return 0;
}
`;

interface Options {
  ipv4: boolean;
  ipv6: boolean;
}

defineTool<Options>({
  name: 'tcpsynbl',
  subsystem: 'net',
  description: 'Show TCP SYN backlog.',
  ports: { bcc: 'tools/tcpsynbl.py', 'libbpf-tools': 'libbpf-tools/tcpsynbl.bpf.c', bpftrace: 'tools/tcpsynbl.bt', book: 'originals/Ch10_Networking/tcpsynbl.bt' },
  probes: { tracepoint: ['sock/inet_sock_set_state'] },
  output: 'histogram',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ sectionBy: 'backlog_max' }),
  program,
  options: {
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
  },
  examples: [
    ['tcpsynbl', 'trace syn backlog'],
    ['tcpsynbl -4', 'trace IPv4 family only'],
    ['tcpsynbl -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, untilExit }) {
    const bpf = load({ rodata: { targ_family: familyFilter(opts) } });
    bpf.attachAll();
    process.stderr.write('tcpsynbl: no kprobes here: the backlog copied into each new child at sock:inet_sock_set_state LISTEN->SYN_RECV\n');
    banner('Tracing SYN backlog size. Ctrl-C to end.');
    await untilExit();
    const dist = bpf.histogram('dist');
    const data = dist.read();
    if (json) {
      emit.histogram(dist.json('backlog', { sectionHeader: 'backlog_max' }, data));
      return;
    }
    out.line('');
    out.write(dist.format('backlog', { sectionHeader: 'backlog_max' }, data));
  },
});
