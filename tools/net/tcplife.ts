#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" "$0" "$@"'
// tcplife: TCP sessions with their lifespan and bytes (BCC's tcplife) from sock:inet_sock_set_state.
// A socket is born at its first state below FIN_WAIT1, the process is remembered at SYN_SENT (client)
// or LAST_ACK (server closing), and the session is reported at CLOSE with tcp_sock's byte counters.
import { defineTool, opt } from '../../lib/cli/index.js';
import { sprintf, timeColumns } from '../../lib/output/index.js';
import { familyFilter, sessionAddrs, type SetStateSession } from '../../lib/host/net.js';
import { familyOptions, oneFamily, sessionOutputOptions, sessionPortOptions, type SessionOptions } from '../../lib/cli/net-options.js';

const program = `
#include <bpfkit_net.h>   /* TCP states, struct set_state_session */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;

struct who { u32 pid; char comm[16]; };
struct event {
	u64 ts_us;     /* when the session closed, for -t */
	u64 span_us;
	u64 rx_b;
	u64 tx_b;
	u32 pid;
	struct set_state_session session;
	char comm[16];
};

BPF_HASH(birth, u64, u64, 10240);
BPF_HASH(whoami, u64, struct who, 10240);
BPF_RINGBUF_OUTPUT(events, 64);
BPFKIT_EXPORT_TYPE(struct event);

/* the two counters read here, as a type of our own: vmlinux.h's tcp_sock would bring ~1,000 types into
 * every compile's debug info (bpfkit_task.h says more) */
struct tcp_sock___lean { u64 bytes_received; u64 bytes_acked; } __attribute__((preserve_access_index));

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	u64 sk = args->skaddr;
	int state = args->newstate;
	u32 pid = bpfkit_tgid();

	if (state < TCP_FIN_WAIT1) {
		u64 ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&birth, &sk, &ts, BPF_ANY);
	}
	if (state == TCP_SYN_SENT || state == TCP_LAST_ACK) {
		if (targ_tgid && pid != targ_tgid)
			return 0;
		struct who me = { .pid = pid };
		bpf_get_current_comm(&me.comm, sizeof(me.comm));
		bpf_map_update_elem(&whoami, &sk, &me, BPF_ANY);
	}
	if (state != TCP_CLOSE)
		return 0;

	u64 *tsp = bpf_map_lookup_elem(&birth, &sk);
	if (!tsp) {
		bpf_map_delete_elem(&whoami, &sk);
		return 0;
	}
	u64 now = bpf_ktime_get_ns();
	u64 span = (now - *tsp) / 1000;
	bpf_map_delete_elem(&birth, &sk);
	struct who *w = bpf_map_lookup_elem(&whoami, &sk);
	if (w)
		pid = w->pid;
	if ((targ_tgid && pid != targ_tgid) || (targ_family && args->family != targ_family))
		goto cleanup;

	struct event *e = ringbuf_reserve(events, struct event);
	if (!e)
		goto cleanup;
	struct tcp_sock___lean *tp = (struct tcp_sock___lean *)sk;
	e->ts_us = now / 1000;
	e->span_us = span;
	e->rx_b = BPF_CORE_READ(tp, bytes_received);
	e->tx_b = BPF_CORE_READ(tp, bytes_acked);
	e->pid = pid;
	copy_set_state_session(args, &e->session);
	if (w)
		__builtin_memcpy(e->comm, w->comm, sizeof(e->comm));
	else
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
	ringbuf_submit(events, e);
cleanup:
	bpf_map_delete_elem(&whoami, &sk);
	return 0;
}
`;

interface Options extends SessionOptions {
  pid?: number;
}

interface TcpEvent { ts_us: bigint; span_us: bigint; rx_b: bigint; tx_b: bigint; pid: number; session: SetStateSession; comm: string }

defineTool<Options>({
  name: 'tcplife',
  subsystem: 'net',
  description: 'Trace the lifespan of TCP sessions and summarize',
  ports: { bcc: 'tools/tcplife.py', 'libbpf-tools': 'libbpf-tools/tcplife.bpf.c', bpftrace: 'tools/tcplife.bt', book: 'originals/Ch10_Networking/tcplife.bt' },
  probes: { tracepoint: ['sock/inet_sock_set_state'] },
  output: 'event',
  invocations: [{ args: [], ends: 'ctrl-c' }],
  records: () => ({ fields: ['pid', 'comm', 'ip', 'laddr', 'lport', 'raddr', 'rport', 'tx_bytes', 'rx_bytes', 'span_ms'] }),
  program,
  options: { ...sessionOutputOptions, pid: opt.pid(), ...sessionPortOptions, ...familyOptions },
  examples: [
    ['tcplife', 'trace all TCP connect()s'],
    ['tcplife -T', 'include time column (HH:MM:SS)'],
    ['tcplife -w', 'wider columns (fit IPv6)'],
    ['tcplife -stT', 'csv output, with times & timestamps'],
    ['tcplife -p 181', 'only trace PID 181'],
    ['tcplife -L 80', 'only trace local port 80'],
    ['tcplife -L 80,81', 'only trace local ports 80 and 81'],
    ['tcplife -D 80', 'only trace remote port 80'],
    ['tcplife -4', 'only trace IPv4 family'],
    ['tcplife -6', 'only trace IPv6 family'],
  ],
  validate: oneFamily,

  async run({ opts, load, out, json, emit, untilExit }) {
    const [lports, dports] = [opts.localport, opts.remoteport];
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_family: familyFilter(opts) } });
    bpf.attachAll();
    const { wide, csv } = opts;
    const times = timeColumns(opts); // BCC: -t counts from the first session reported
    if (!json) {
      const hdr = csv ? '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s'
        : wide ? '%-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %6s %6s %s' : '%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s';
      out.line(times.header + sprintf(hdr, 'PID', 'COMM', wide || csv ? 'IP' : '', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'TX_KB', 'RX_KB', 'MS'));
    }
    const row = csv ? '%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f'
      : wide ? '%-5d %-16.16s %-2s %-26s %-5d %-26s %-5d %6d %6d %.2f' : '%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f';
    bpf.events<TcpEvent>('events', 'event', e => {
      const { lport, dport } = e.session;
      if (lports && !lports.has(lport)) return;
      if (dports && !dports.has(dport)) return;
      const { ip, saddr: laddr, daddr: raddr } = sessionAddrs(e.session);
      const ms = Number(e.span_us) / 1000;
      if (json) {
        emit.event({ pid: e.pid, comm: e.comm, ip, laddr, lport, raddr, rport: dport, tx_bytes: e.tx_b, rx_bytes: e.rx_b, span_ms: ms });
        return;
      }
      const [txKb, rxKb] = [Math.floor(Number(e.tx_b) / 1024), Math.floor(Number(e.rx_b) / 1024)];
      out.line(times.row(e.ts_us) + sprintf(row, e.pid, e.comm, wide || csv ? ip : '', laddr, lport, raddr, dport, txKb, rxKb, ms));
    });
    await untilExit();
    const lost = bpf.lost('events');
    if (lost) process.stderr.write(`tcplife: lost ${lost} events\n`);
  },
});
