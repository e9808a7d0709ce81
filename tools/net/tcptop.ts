#!/usr/bin/env -S sh -c 'exec "$(dirname "$(readlink -f "$0")")/../../bin/bpfkit-node" --lite-mode "$0" "$@"'
// tcptop: TCP throughput per connection and process, top-style, refreshed every interval (BCC's tcptop).
// BCC counts kprobe:tcp_sendmsg's size and kprobe:tcp_cleanup_rbuf's copied bytes; without kprobes here,
// the sock:sock_send_length and sock:sock_recv_length tracepoints of every sendmsg()/recvmsg() on a TCP
// socket give the bytes each call moved (so a send counts what was sent, not what was asked for), in the
// caller's context; the addresses come from the struct sock.
import { defineTool, opt } from '../../lib/cli/index.js';
import { positionalChecks } from '../../lib/cli/options.js';
import { familyFilter, sessionAddrs } from '../../lib/host/net.js';
import { CLEAR_SCREEN, loadavgText, loadavgValues, sprintf, strftimeHMS, topRows } from '../../lib/output/index.js';

const program = `
#include <bpfkit_net.h>   /* AF_*, IPPROTO_TCP, sock_endpoints() */

const volatile u32 targ_tgid = 0;
const volatile u16 targ_family = 0;

#define MSG_PEEK 2

struct flow {
	u32 pid;
	u16 family;
	u16 lport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
	char comm[16];
	u16 __pad;   /* a hash key has no unnamed padding: its bytes are compared */
};
struct bytes { u64 sent; u64 received; };

BPF_HASH(flows, struct flow, struct bytes, 65536);
BPF_ARRAY(missed, u64, 1);   /* calls not counted: more flows in one interval than the map holds */

static __always_inline int count(struct sock *sk, u16 family, u16 protocol, int ret, bool sent)
{
	if (protocol != IPPROTO_TCP || ret <= 0 || (family != AF_INET && family != AF_INET6))
		return 0;
	if (targ_family && family != targ_family)
		return 0;
	u32 pid = bpfkit_tgid();
	if (targ_tgid && pid != targ_tgid)
		return 0;
	struct flow f = { .pid = pid, .family = family };
	sock_endpoints(sk, f.saddr, f.daddr, &f.lport, &f.dport);
	bpf_get_current_comm(&f.comm, sizeof(f.comm));
	struct bytes zero = {};
	struct bytes *b = map_lookup_or_try_init(flows, &f, &zero);
	if (b) {
		__sync_fetch_and_add(sent ? &b->sent : &b->received, ret);
	} else {
		u32 zero_key = 0;
		u64 *m = bpf_map_lookup_elem(&missed, &zero_key);
		if (m)
			__sync_fetch_and_add(m, 1);
	}
	return 0;
}

TRACEPOINT_PROBE(sock, sock_send_length)
{
	return count((struct sock *)args->sk, args->family, args->protocol, args->ret, true);
}

TRACEPOINT_PROBE(sock, sock_recv_length)
{
	if (args->flags & MSG_PEEK)   /* the data stays queued: the read that takes it counts it */
		return 0;
	return count((struct sock *)args->sk, args->family, args->protocol, args->ret, false);
}
`;

interface Options {
  noclear: boolean;
  nosummary: boolean;
  pid?: number;
  ipv4: boolean;
  ipv6: boolean;
  interval?: string;
  count?: string;
}

interface Flow { pid: number; family: number; lport: number; dport: number; saddr: number[]; daddr: number[]; comm: string }

defineTool<Options>({
  name: 'tcptop',
  subsystem: 'net',
  description: 'Summarize TCP send/recv throughput by host',
  ports: { bcc: 'tools/tcptop.py', 'libbpf-tools': 'libbpf-tools/tcptop.bpf.c' },
  probes: { tracepoint: ['sock/sock_send_length', 'sock/sock_recv_length'] },
  output: 'top',
  invocations: [{ args: ['-C', '1', '1'], ends: 'itself' }, { args: ['-S', '-C', '0.5', '2'], ends: 'itself' }],
  records: () => ({ fields: ['pid', 'comm', 'ip', 'laddr', 'lport', 'raddr', 'rport', 'rx_bytes', 'tx_bytes', 'total_bytes'] }),
  program,
  options: {
    noclear: opt.flag('C', "don't clear the screen"),
    nosummary: opt.flag('S', 'skip system summary line'),
    pid: opt.pid(),
    ipv4: opt.flag('4', 'trace IPv4 family only'),
    ipv6: opt.flag('6', 'trace IPv6 family only'),
  },
  positional: '[interval] [count]',
  examples: [
    ['tcptop', 'trace TCP send/recv by host'],
    ['tcptop -C', "don't clear the screen"],
    ['tcptop -p 181', 'only trace PID 181'],
    ['tcptop -4', 'trace IPv4 family only'],
    ['tcptop -6', 'trace IPv6 family only'],
  ],
  validate(o) {
    if (o.ipv4 && o.ipv6) return 'use only one of -4 and -6';
    return undefined;
  },

  async run({ opts, load, out, json, emit, banner, intervals }) {
    const interval = positionalChecks.interval(opts.interval) ?? 1; // BCC: every second by default
    const count = positionalChecks.count(opts.count) ?? 99999999;
    const bpf = load({ rodata: { targ_tgid: opts.pid ?? 0, targ_family: familyFilter(opts) } });
    bpf.attachAll();
    process.stderr.write('tcptop: no kprobes here: counting at sock:sock_send_length and sock:sock_recv_length\n');
    banner('Tracing... Output every ' + interval + ' secs. Hit Ctrl-C to end');
    const flows = bpf.map<Flow, { sent: bigint; received: bigint }>('flows');
    const missed = bpf.map<number, bigint>('missed');
    await intervals(interval, count, (_last, seconds) => {
      const notCounted = Number(missed.get(0) ?? 0n);
      if (notCounted) {
        process.stderr.write(`tcptop: ${notCounted} sends/receives not counted: more flows in the interval than its map holds\n`);
        missed.set(0, 0n);
      }
      const rows = topRows(flows.drain().map(([f, b]) => ({ ...f, ...sessionAddrs(f), sent: Number(b.sent), received: Number(b.received) })),
        r => r.sent + r.received, Infinity);
      const loadavg = loadavgText();
      if (json) {
        emit.top(seconds, 'total_bytes', rows.map(r => ({ pid: r.pid, comm: r.comm, ip: r.ip, laddr: r.saddr, lport: r.lport, raddr: r.daddr,
          rport: r.dport, rx_bytes: r.received, tx_bytes: r.sent, total_bytes: r.sent + r.received })), { loadavg: loadavgValues(loadavg) });
        return;
      }
      if (opts.noclear) out.line('');
      else out.write(CLEAR_SCREEN);
      if (!opts.nosummary) {
        out.line(sprintf('%-8s loadavg: %s', strftimeHMS(), loadavg));
        out.line('');
      }
      // BCC: the IPv4 table, then the IPv6 one after a blank line, each with its header only when it has rows
      const [v4, v6] = [rows.filter(r => r.ip === 4), rows.filter(r => r.ip === 6)];
      const kb = (n: number) => Math.floor(n / 1024);
      if (v4.length) out.line(sprintf('%-7s %-12s %-21s %-21s %6s %6s', 'PID', 'COMM', 'LADDR', 'RADDR', 'RX_KB', 'TX_KB'));
      for (const r of v4) out.line(sprintf('%-7d %-12.12s %-21s %-21s %6d %6d', r.pid, r.comm, `${r.saddr}:${r.lport}`, `${r.daddr}:${r.dport}`, kb(r.received), kb(r.sent)));
      if (v6.length) {
        out.line('');
        out.line(sprintf('%-7s %-12s %-32s %-32s %6s %6s', 'PID', 'COMM', 'LADDR6', 'RADDR6', 'RX_KB', 'TX_KB'));
      }
      for (const r of v6) out.line(sprintf('%-7d %-12.12s %-32s %-32s %6d %6d', r.pid, r.comm, `${r.saddr}:${r.lport}`, `${r.daddr}:${r.dport}`, kb(r.received), kb(r.sent)));
    });
  },
});
